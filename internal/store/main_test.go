package store_test

import (
	"os"
	"testing"

	"github.com/berth-dev/berth/internal/store/pgtest"
)

// TestMain stops the throwaway PostgreSQL server that the PostgreSQL tests start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

package store_test

import (
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "berth.db") })
}

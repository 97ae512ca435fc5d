package store_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/store/pgtest"
	"github.com/berth-dev/berth/internal/store/storetest"
)

// TestPostgres runs the conformance suite on a real PostgreSQL that pgtest starts from the
// machine's installed binaries, one fresh database per test.
func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return pgtest.NewDatabase(t) })
}

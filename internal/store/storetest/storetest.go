// Package storetest is the conformance suite of internal/store: every database the store
// supports must pass it. Run it from a test with a function that hands out DSNs of fresh,
// empty databases:
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "berth.db") })
//	}
//
// The suite takes DSNs rather than opened stores because it opens the same database more
// than once: to check that data survives Close and reopen, and that processes opening one
// database at the same time migrate it once.
package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// Run runs the conformance suite; newDSN returns the DSN of a new, empty database.
func Run(t *testing.T, newDSN func(t *testing.T) string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Migrations", testMigrations},
		{"ConcurrentOpen", testConcurrentOpen},
		{"Reopen", testReopen},
		{"Teams", testTeams},
		{"TeamNames", testTeamNames},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"TokenByHash", testTokenByHash},
		{"TouchToken", testTouchToken},
		{"Sessions", testSessions},
		{"TouchSession", testTouchSession},
		{"Memberships", testMemberships},
		{"Roles", testRoles},
		{"Apps", testApps},
		{"Revisions", testRevisions},
		{"ConcurrentRevisions", testConcurrentRevisions},
		{"Environments", testEnvironments},
		{"EnvironmentValidation", testEnvironmentValidation},
		{"EnvironmentScheduling", testEnvironmentScheduling},
		{"PreviewEnvironments", testPreviewEnvironments},
		{"Previews", testPreviews},
		{"Chat", testChat},
		{"FreezeWindows", testFreezeWindows},
		{"Trains", testTrains},
		{"Leases", testLeases},
		{"ProvisionerFiles", testProvisionerFiles},
		{"TxRollback", testTxRollback},
		{"TxPanic", testTxPanic},
		{"TxIsolation", testTxIsolation},
		{"Audit", testAudit},
		{"ListAudit", testListAudit},
		{"AuditValidation", testAuditValidation},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"AuditTampering", testAuditTampering},
		{"ConcurrentWriters", testConcurrentWriters},
		{"DeployLifecycle", testDeployLifecycle},
		{"DeployOrdering", testDeployOrdering},
		{"DeployLeaseExpiry", testDeployLeaseExpiry},
		{"DeployBatchConcurrency", testDeployBatchConcurrency},
		{"ConcurrentClaims", testConcurrentClaims},
		{"LatestDeploys", testLatestDeploys},
		{"Settings", testSettings},
		{"SettingsPrecedence", testSettingsPrecedence},
		{"SecretsEncryptedAtRest", testSecretsEncryptedAtRest},
		{"RotateSecretsKey", testRotateSecretsKey},
		{"Resources", testResources},
		{"ClusterEvents", testClusterEvents},
		{"RepoConnections", testRepoConnections},
		{"GitOpsSecrets", testGitOpsSecrets},
		{"HookDeliveries", testHookDeliveries},
		{"GitJobs", testGitJobs},
		{"Approvals", testApprovals},
		{"BackupStores", testBackupStores},
		{"BackupJobs", testBackupJobs},
		{"BackupSchedules", testBackupSchedules},
		{"ProbeSettings", testProbeSettings},
		{"ProbeRuns", testProbeRuns},
		{"ProbeHistory", testProbeHistory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, &harness{newDSN: newDSN})
		})
	}
}

// harness opens stores for one test, with a fake clock shared by all of them.
type harness struct {
	newDSN func(t *testing.T) string
	clock  clock
	dsn    string
	st     *store.Store
	// key, when set before the store is opened, is its secrets key.
	key *seal.Key
}

// store returns the test's store, opening it on a fresh database on first use.
func (h *harness) store(t *testing.T) *store.Store {
	t.Helper()
	if h.st == nil {
		h.dsn = h.newDSN(t)
		h.st = h.open(t, h.dsn)
	}
	return h.st
}

// open opens dsn with the harness's clock and closes it when t ends.
func (h *harness) open(t *testing.T, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), dsn, store.WithClock(h.clock.Now), store.WithSecretsKey(h.key))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is a fake clock; its zero value starts at a fixed time with microseconds, the
// precision the store keeps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

var epoch = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = epoch
	}
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now.Add(d)
}

// tx runs fn in a transaction that must succeed.
func tx(t *testing.T, st *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := st.Tx(t.Context(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

// txErr runs fn in a transaction and returns its error.
func txErr(t *testing.T, st *store.Store, fn func(tx *store.Tx) error) error {
	t.Helper()
	return st.Tx(t.Context(), fn)
}

// wantErr fails unless err matches want with errors.Is (want nil: err must be nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
}

// must fails the test at once on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// seed creates teams, users and memberships in one transaction.
func seed(t *testing.T, st *store.Store, teams []string, users []string) {
	t.Helper()
	tx(t, st, func(tx *store.Tx) error {
		for _, name := range teams {
			if _, err := tx.CreateTeam(t.Context(), name); err != nil {
				return err
			}
		}
		for _, name := range users {
			if _, err := tx.CreateUser(t.Context(), berth.User{Name: name}); err != nil {
				return err
			}
		}
		return nil
	})
}

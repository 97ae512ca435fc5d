package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

func probeEnv(t *testing.T, st *store.Store, names ...string) {
	t.Helper()
	tx(t, st, func(tx *store.Tx) error {
		for _, n := range names {
			if _, err := tx.CreateEnvironment(t.Context(), berth.Environment{Name: n, InCluster: true}); err != nil {
				return err
			}
		}
		return nil
	})
}

func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// testProbeSettings: settings are validated and replaced whole; their secrets are sealed,
// come back opened, are re-sealed by a key rotation, and go with the environment.
func testProbeSettings(t *testing.T, h *harness) {
	key, err := seal.NewKey([]byte(strings.Repeat("k", seal.KeySize)))
	must(t, "NewKey", err)
	h.key = key
	st, ctx := h.store(t), t.Context()
	probeEnv(t, st, "dev", "prod")
	got, sec, err := st.ProbeSettings(ctx, "dev")
	must(t, "ProbeSettings of a new environment", err)
	equal(t, "unset settings", [2]any{got.Env, sec}, [2]any{"dev", store.ProbeSecrets{}})
	_, _, err = st.ProbeSettings(ctx, "nope")
	wantErr(t, "settings of a missing environment", err, berth.ErrNotFound)

	ps := berth.ProbeSettings{Env: "dev", S3Endpoint: "10.89.0.1:7070", S3Bucket: "probe", S3AccessKey: "AKIA", QueueURL: "nats://10.89.0.1:4222",
		Interval: 10 * time.Minute, Thresholds: map[string]time.Duration{berth.ProbeStepQueue: 500 * time.Millisecond}, UpdatedBy: "ann"}
	secrets := store.ProbeSecrets{S3SecretKey: "very-secret-key", QueueToken: "queue-token-secret"}
	tx(t, st, func(tx *store.Tx) error { return tx.SetProbeSettings(ctx, ps, secrets) })
	got, sec, err = st.ProbeSettings(ctx, "dev")
	must(t, "ProbeSettings", err)
	equal(t, "secrets", sec, secrets)
	equal(t, "settings", [6]any{got.S3Endpoint, got.S3Bucket, got.QueueURL, got.Interval, got.Threshold(berth.ProbeStepQueue), got.Threshold(berth.ProbeStepDNS)},
		[6]any{"10.89.0.1:7070", "probe", "nats://10.89.0.1:4222", 10 * time.Minute, 500 * time.Millisecond, time.Second})
	var n int
	must(t, "count", st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM probe_settings WHERE config LIKE '%secret%' OR ciphertext LIKE '%secret%'").Scan(&n))
	if n != 0 {
		t.Error("a probe secret is stored as text")
	}
	sched, err := st.ScheduledProbes(ctx)
	must(t, "ScheduledProbes", err)
	if len(sched) != 1 || sched[0].Env != "dev" {
		t.Fatalf("scheduled: %+v", sched)
	}

	for what, bad := range map[string]berth.ProbeSettings{
		"an endpoint with a path":    {Env: "dev", S3Endpoint: "h:1/x", S3Bucket: "b", S3AccessKey: "a"},
		"an endpoint without bucket": {Env: "dev", S3Endpoint: "h:1", S3AccessKey: "a"},
		"a bucket without endpoint":  {Env: "dev", S3Bucket: "b"},
		"an amqp queue":              {Env: "dev", QueueURL: "amqp://h:5672"},
		"a queue URL with a user":    {Env: "dev", QueueURL: "nats://u:p@h:4222"},
		"a 10s interval":             {Env: "dev", Interval: 10 * time.Second},
		"a fractional interval":      {Env: "dev", Interval: 90*time.Second + time.Millisecond},
		"an unknown step":            {Env: "dev", Thresholds: map[string]time.Duration{"smtp": time.Second}},
		"a zero threshold":           {Env: "dev", Thresholds: map[string]time.Duration{"dns": 0}},
	} {
		wantErr(t, what, txErr(t, st, func(tx *store.Tx) error { return tx.SetProbeSettings(ctx, bad, store.ProbeSecrets{}) }), berth.ErrInvalid)
	}
	noSecret := ps
	wantErr(t, "an endpoint without a secret key", txErr(t, st, func(tx *store.Tx) error { return tx.SetProbeSettings(ctx, noSecret, store.ProbeSecrets{}) }), berth.ErrInvalid)
	wantErr(t, "a missing environment", txErr(t, st, func(tx *store.Tx) error {
		return tx.SetProbeSettings(ctx, berth.ProbeSettings{Env: "nope"}, store.ProbeSecrets{})
	}), berth.ErrNotFound)
	if msg := txErr(t, st, func(tx *store.Tx) error {
		return tx.SetProbeSettings(ctx, berth.ProbeSettings{Env: "dev", QueueURL: "nats://u:hunter2@h:4222"}, store.ProbeSecrets{})
	}).Error(); strings.Contains(msg, "hunter2") {
		t.Errorf("the error shows the URL's password: %s", msg)
	}

	// Rotation re-seals them; the key they need is one the server must have.
	next, err := seal.NewKey([]byte(strings.Repeat("n", seal.KeySize)))
	must(t, "NewKey", err)
	ids, err := st.SecretKeyIDs(ctx)
	must(t, "SecretKeyIDs", err)
	equal(t, "key ids", ids, []string{key.ID()})
	tx(t, st, func(tx *store.Tx) error { _, err := tx.RotateSecretsKey(ctx, next); return err })
	st.UseSecretsKey(next)
	if _, sec, err := st.ProbeSettings(ctx, "dev"); err != nil || sec != secrets {
		t.Fatalf("after rotation: %+v %v", sec, err)
	}

	// Replaced whole: the queue alone, no secrets.
	tx(t, st, func(tx *store.Tx) error {
		return tx.SetProbeSettings(ctx, berth.ProbeSettings{Env: "dev", QueueURL: "nats://q:4222", UpdatedBy: "bob"}, store.ProbeSecrets{})
	})
	got, sec, err = st.ProbeSettings(ctx, "dev")
	must(t, "ProbeSettings", err)
	equal(t, "replaced", [4]any{got.S3Endpoint, got.QueueURL, sec, got.UpdatedBy}, [4]any{"", "nats://q:4222", store.ProbeSecrets{}, "bob"})

	tx(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "dev") })
	must(t, "count", st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM probe_settings").Scan(&n))
	equal(t, "settings left after the environment's delete", n, 0)
}

// testProbeRuns: a run is queued once while in flight and once per slot, claimed under a
// lease, reported into only with its token, once, and finished once; the alarm changes
// only when it flips.
func testProbeRuns(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	probeEnv(t, st, "dev", "prod")
	enqueue := func(n store.NewProbeRun) (berth.ProbeRun, bool) {
		t.Helper()
		var r berth.ProbeRun
		var queued bool
		tx(t, st, func(tx *store.Tx) (err error) { r, queued, err = tx.EnqueueProbeRun(ctx, n); return err })
		return r, queued
	}
	r1, queued := enqueue(store.NewProbeRun{Env: "dev", Trigger: berth.TriggerManual, CreatedBy: "ann"})
	equal(t, "first run", [3]any{queued, r1.State, r1.Trigger}, [3]any{true, berth.JobQueued, berth.TriggerManual})
	again, queued := enqueue(store.NewProbeRun{Env: "dev", Trigger: berth.TriggerManual, CreatedBy: "bob"})
	equal(t, "a second run while one is queued", [2]any{queued, again.ID}, [2]any{false, r1.ID})
	other, queued := enqueue(store.NewProbeRun{Env: "prod", Trigger: berth.TriggerManual, CreatedBy: "bob"})
	if !queued || other.ID == r1.ID {
		t.Fatalf("another environment's run: %+v %v", other, queued)
	}
	wantErr(t, "a missing environment", txErr(t, st, func(tx *store.Tx) error {
		_, _, err := tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: "nope", Trigger: berth.TriggerManual, CreatedBy: "ann"})
		return err
	}), berth.ErrNotFound)
	// What keeps two servers' runs to one: a second run in flight is refused by the store
	// itself, as an insert that raced past EnqueueProbeRun's look would be.
	_, err := st.DB().ExecContext(ctx, `INSERT INTO probe_runs (env, trigger_kind, state, created_by, created_at) VALUES ('dev', 'manual', 'queued', 'eve', 1)`)
	if err == nil {
		t.Fatal("a second run in flight in dev was stored")
	}

	claimed, ok, err := st.ClaimProbeRun(ctx, "w1", time.Minute)
	must(t, "ClaimProbeRun", err)
	equal(t, "claimed", [4]any{ok, claimed.ID, claimed.State, claimed.Attempts}, [4]any{true, r1.ID, berth.JobRunning, 1})
	steps := []berth.ProbeStep{{Name: berth.ProbeStepDNS, Started: h.clock.Now(), Duration: 1500 * time.Microsecond, OK: true, Detail: "10.0.0.1"},
		{Name: berth.ProbeStepQueue, Started: h.clock.Now(), Duration: 2 * time.Second, Error: "connect: refused"}}
	report := func(id int64, token string) error {
		return txErr(t, st, func(tx *store.Tx) error { return tx.SaveProbeReport(ctx, id, hashOf(token), steps) })
	}
	if err := report(r1.ID, "tok"); !errors.Is(err, store.ErrProbeReportRefused) {
		t.Fatalf("a report before the run has a token: %v", err)
	}
	wantErr(t, "a short token hash", txErr(t, st, func(tx *store.Tx) error { return tx.SetProbeToken(ctx, r1.ID, "w1", "abc") }), berth.ErrInvalid)
	wantErr(t, "another worker's token", txErr(t, st, func(tx *store.Tx) error { return tx.SetProbeToken(ctx, r1.ID, "w2", hashOf("x")) }), berth.ErrLeaseLost)
	tx(t, st, func(tx *store.Tx) error { return tx.SetProbeToken(ctx, r1.ID, "w1", hashOf("tok")) })
	if _, ok, _ := st.ProbeReport(ctx, r1.ID); ok {
		t.Fatal("a report before any came")
	}
	if err := report(r1.ID, "wrong"); !errors.Is(err, store.ErrProbeReportRefused) {
		t.Fatalf("a report with the wrong token: %v", err)
	}
	if err := report(other.ID, "tok"); !errors.Is(err, store.ErrProbeReportRefused) {
		t.Fatalf("a report into another run: %v", err)
	}
	must(t, "report", report(r1.ID, "tok"))
	if err := report(r1.ID, "tok"); !errors.Is(err, store.ErrProbeReportRefused) {
		t.Fatalf("a second report: %v", err)
	}
	got, ok, err := st.ProbeReport(ctx, r1.ID)
	must(t, "ProbeReport", err)
	if !ok || len(got) != 2 || got[0].Duration != 1500*time.Microsecond || got[1].Error != "connect: refused" || !got[0].Started.Equal(steps[0].Started) {
		t.Fatalf("report read back: %+v %v", got, ok)
	}

	// A lost lease: another worker claims the run, whose earlier token and report are void.
	h.clock.Advance(2 * time.Minute)
	wantErr(t, "an expired worker renews", st.RenewProbeLease(ctx, r1.ID, "w1", time.Minute), berth.ErrLeaseLost)
	claimed, ok, err = st.ClaimProbeRun(ctx, "w2", time.Minute)
	must(t, "ClaimProbeRun", err)
	equal(t, "reclaimed", [3]any{ok, claimed.ID, claimed.Attempts}, [3]any{true, r1.ID, 2})
	if _, ok, _ := st.ProbeReport(ctx, r1.ID); ok {
		t.Fatal("the earlier attempt's report survived the claim")
	}
	if err := report(r1.ID, "tok"); !errors.Is(err, store.ErrProbeReportRefused) {
		t.Fatalf("the earlier attempt's token: %v", err)
	}
	_, err = finishProbe(t, st, r1.ID, "w1", berth.JobSucceeded, "", nil)
	wantErr(t, "the expired worker finishes", err, berth.ErrLeaseLost)
	done, err := finishProbe(t, st, r1.ID, "w2", berth.JobFailed, "queue failed: connect: refused", steps)
	must(t, "finish", err)
	equal(t, "finished", [3]any{done.State, done.Reason, len(done.Steps)}, [3]any{berth.JobFailed, "queue failed: connect: refused", 2})
	_, err = finishProbe(t, st, r1.ID, "w2", berth.JobSucceeded, "", nil)
	wantErr(t, "a second finish", err, berth.ErrLeaseLost)

	// Slots: one run per slot, even after the slot's run ended.
	slot := h.clock.Now().Truncate(time.Hour)
	s1, queued := enqueue(store.NewProbeRun{Env: "dev", Trigger: berth.TriggerSchedule, Slot: slot, CreatedBy: "schedule"})
	if !queued || !s1.Slot.Equal(slot) {
		t.Fatalf("scheduled run: %+v %v", s1, queued)
	}
	claimed, _, err = st.ClaimProbeRun(ctx, "w3", time.Minute) // prod's, the oldest
	must(t, "ClaimProbeRun", err)
	equal(t, "claim order", claimed.ID, other.ID)
	claimed, _, err = st.ClaimProbeRun(ctx, "w3", time.Minute)
	must(t, "ClaimProbeRun", err)
	equal(t, "claim the slot's run", claimed.ID, s1.ID)
	passed := []berth.ProbeStep{{Name: berth.ProbeStepDNS, Started: h.clock.Now(), Duration: time.Millisecond, OK: true}}
	_, err = finishProbe(t, st, s1.ID, "w3", berth.JobSucceeded, "", passed)
	must(t, "finish", err)
	same, queued := enqueue(store.NewProbeRun{Env: "dev", Trigger: berth.TriggerSchedule, Slot: slot, CreatedBy: "schedule"})
	equal(t, "the slot again", [2]any{queued, same.ID}, [2]any{false, s1.ID})

	statuses, err := st.ProbeStatuses(ctx)
	must(t, "ProbeStatuses", err)
	equal(t, "statuses", len(statuses), 2)
	dev := statuses[0]
	equal(t, "dev's status", [4]any{dev.Env, dev.Latest.ID, dev.Running.ID, dev.LastSuccess}, [4]any{"dev", s1.ID, int64(0), h.clock.Now()})
	equal(t, "prod's status", [3]any{statuses[1].Env, statuses[1].Running.ID, statuses[1].Latest.ID}, [3]any{"prod", other.ID, int64(0)})

	// The alarm flips once each way.
	alarm := func(failing bool, run int64) bool {
		var changed bool
		tx(t, st, func(tx *store.Tx) (err error) { changed, err = tx.SetProbeAlarm(ctx, "dev", failing, run); return err })
		return changed
	}
	equal(t, "a first passing run", alarm(false, 1), false)
	equal(t, "the first failure", alarm(true, 2), true)
	equal(t, "the failure again", alarm(true, 3), false)
	if st, _ := st.ProbeStatus(ctx, "dev"); !st.Failing {
		t.Error("status is not failing")
	}
	equal(t, "the recovery", alarm(false, 4), true)
	equal(t, "passing again", alarm(false, 5), false)
}

func finishProbe(t *testing.T, st *store.Store, id int64, owner string, state berth.JobState, reason string, steps []berth.ProbeStep) (berth.ProbeRun, error) {
	var r berth.ProbeRun
	err := st.Tx(t.Context(), func(tx *store.Tx) (err error) {
		r, err = tx.FinishProbeRun(t.Context(), id, owner, state, reason, steps)
		return err
	})
	return r, err
}

// testProbeHistory: an environment keeps its latest MaxProbeRunsKept finished runs.
func testProbeHistory(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	probeEnv(t, st, "dev")
	var first, last int64
	for i := range berth.MaxProbeRunsKept + 5 {
		var r berth.ProbeRun
		tx(t, st, func(tx *store.Tx) (err error) {
			r, _, err = tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: "dev", Trigger: berth.TriggerManual, CreatedBy: "ann"})
			return err
		})
		if _, ok, err := st.ClaimProbeRun(ctx, "w", time.Minute); err != nil || !ok {
			t.Fatalf("claim %d: %v %v", i, ok, err)
		}
		if _, err := finishProbe(t, st, r.ID, "w", berth.JobSucceeded, "", nil); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r.ID
		}
		last = r.ID
	}
	var n int
	must(t, "count", st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM probe_runs WHERE env = 'dev'").Scan(&n))
	equal(t, "runs kept", n, berth.MaxProbeRunsKept)
	_, err := st.ProbeRun(ctx, first)
	wantErr(t, "the oldest run", err, berth.ErrNotFound)
	runs, err := st.ProbeRuns(ctx, store.ProbeRunFilter{Env: "dev", Limit: 3})
	must(t, "ProbeRuns", err)
	equal(t, "newest first", [2]any{len(runs), runs[0].ID}, [2]any{3, last})
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// Synthetic probes (docs/probes.md): each environment's probe settings, with their secrets
// sealed; probe runs, durable jobs claimed under a lease like backups, with the report their
// agent sends in; and what was last announced of each environment's probe.

// probeSettingsConfig is the stored form of ProbeSettings' fields besides the environment.
type probeSettingsConfig struct {
	S3Endpoint  string            `json:"s3Endpoint,omitempty"`
	S3Secure    bool              `json:"s3Secure,omitempty"`
	S3Bucket    string            `json:"s3Bucket,omitempty"`
	S3Region    string            `json:"s3Region,omitempty"`
	S3AccessKey string            `json:"s3AccessKey,omitempty"`
	QueueURL    string            `json:"queueURL,omitempty"`
	Interval    int64             `json:"intervalSeconds,omitempty"`
	Thresholds  map[string]string `json:"thresholds,omitempty"`
}

// ProbeSecrets are an environment's probe secrets, sealed together.
type ProbeSecrets struct {
	S3SecretKey string `json:"s3SecretKey,omitempty"`
	QueueToken  string `json:"queueToken,omitempty"`
}

func probeSettingsAAD(env string) []byte { return []byte("probe-settings\x00" + env) }

// SetProbeSettings creates or replaces env's probe settings and secrets.
func (tx *Tx) SetProbeSettings(ctx context.Context, p berth.ProbeSettings, sec ProbeSecrets) error {
	what := fmt.Sprintf("set the probe of environment %q", p.Env)
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if p.S3Endpoint != "" && sec.S3SecretKey == "" {
		return fmt.Errorf("%s: %w", what, invalid("s3SecretKey", "must not be empty with an S3 endpoint"))
	}
	if _, err := tx.Environment(ctx, p.Env); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	c := probeSettingsConfig{S3Endpoint: p.S3Endpoint, S3Secure: p.S3Secure, S3Bucket: p.S3Bucket, S3Region: p.S3Region,
		S3AccessKey: p.S3AccessKey, QueueURL: p.QueueURL, Interval: int64(p.Interval / time.Second)}
	for step, d := range p.Thresholds {
		if c.Thresholds == nil {
			c.Thresholds = map[string]string{}
		}
		c.Thresholds[step] = d.String()
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var plain []byte
	if sec != (ProbeSecrets{}) {
		if plain, err = json.Marshal(sec); err != nil {
			return err
		}
	}
	nonce, ciphertext, keyID, err := sealColumns(tx.keys.get(), plain, probeSettingsAAD(p.Env))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err = tx.exec(ctx, `INSERT INTO probe_settings (env, config, nonce, ciphertext, key_id, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (env) DO UPDATE SET config = excluded.config, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
			key_id = excluded.key_id, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		p.Env, string(cfg), nonce, ciphertext, keyID, p.UpdatedBy, micros(tx.stamp()))
	if err != nil {
		return fmt.Errorf("%s: %w", what, dbErr(err))
	}
	return nil
}

const probeSettingsColumns = "env, config, updated_by, updated_at"

func scanProbeSettings(sc scanner) (berth.ProbeSettings, error) {
	var p berth.ProbeSettings
	var cfg string
	var at int64
	if err := sc.Scan(&p.Env, &cfg, &p.UpdatedBy, &at); err != nil {
		return p, err
	}
	var c probeSettingsConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		return p, fmt.Errorf("probe settings of %s: %w", p.Env, err)
	}
	p.S3Endpoint, p.S3Secure, p.S3Bucket, p.S3Region, p.S3AccessKey = c.S3Endpoint, c.S3Secure, c.S3Bucket, c.S3Region, c.S3AccessKey
	p.QueueURL, p.Interval, p.UpdatedAt = c.QueueURL, time.Duration(c.Interval)*time.Second, fromMicros(at)
	for step, s := range c.Thresholds {
		d, err := time.ParseDuration(s)
		if err != nil {
			return p, fmt.Errorf("probe settings of %s: threshold of %s: %w", p.Env, step, err)
		}
		if p.Thresholds == nil {
			p.Thresholds = map[string]time.Duration{}
		}
		p.Thresholds[step] = d
	}
	return p, nil
}

// ProbeSettings returns env's probe settings and its secrets (opened). An environment
// never set up has zero settings for its name, and no error.
func (q queries) ProbeSettings(ctx context.Context, env string) (berth.ProbeSettings, ProbeSecrets, error) {
	var nonce, ciphertext, keyID string
	row := q.queryRow(ctx, "SELECT "+probeSettingsColumns+", nonce, ciphertext, key_id FROM probe_settings WHERE env = ?", env)
	p, err := scanProbeSettings(scanFunc(func(dest ...any) error {
		return row.Scan(append(dest, &nonce, &ciphertext, &keyID)...)
	}))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := q.Environment(ctx, env); err != nil {
			return berth.ProbeSettings{}, ProbeSecrets{}, err
		}
		return berth.ProbeSettings{Env: env}, ProbeSecrets{}, nil
	}
	if err != nil {
		return p, ProbeSecrets{}, fmt.Errorf("read the probe settings of %q: %w", env, dbErr(err))
	}
	var sec ProbeSecrets
	if keyID == "" {
		return p, sec, nil
	}
	plain, err := openColumns(q.keys.get(), nonce, ciphertext, keyID, probeSettingsAAD(env))
	if err != nil {
		return p, sec, fmt.Errorf("the probe secrets of environment %q: %w", env, err)
	}
	if err := json.Unmarshal(plain, &sec); err != nil {
		return p, sec, fmt.Errorf("the probe secrets of environment %q: %w", env, err)
	}
	return p, sec, nil
}

// ScheduledProbes lists the probe settings with an interval, by environment.
func (q queries) ScheduledProbes(ctx context.Context) ([]berth.ProbeSettings, error) {
	all, err := list(ctx, q, scanProbeSettings, "SELECT "+probeSettingsColumns+" FROM probe_settings ORDER BY env")
	if err != nil {
		return nil, fmt.Errorf("list probe settings: %w", dbErr(err))
	}
	out := all[:0]
	for _, p := range all {
		if p.Interval > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// NewProbeRun is a probe run to queue.
type NewProbeRun struct {
	Env       string
	Trigger   string
	Slot      time.Time
	CreatedBy string
}

const probeRunColumns = `id, env, trigger_kind, state, reason, steps, slot, created_by, created_at, started_at, finished_at,
	lease_owner, lease_expires, attempts`

func scanProbeRun(sc scanner) (berth.ProbeRun, error) {
	var r berth.ProbeRun
	var state, steps string
	var slot, created, started, finished, lease int64
	err := sc.Scan(&r.ID, &r.Env, &r.Trigger, &state, &r.Reason, &steps, &slot, &r.CreatedBy, &created, &started, &finished,
		&r.LeaseOwner, &lease, &r.Attempts)
	if err != nil {
		return r, err
	}
	if r.Steps, err = decodeProbeSteps(steps); err != nil {
		return r, fmt.Errorf("probe run %d: steps: %w", r.ID, err)
	}
	r.State, r.CreatedAt = berth.JobState(state), fromMicros(created)
	r.Slot, r.StartedAt, r.FinishedAt, r.LeaseExpires = optMicros(slot), optMicros(started), optMicros(finished), optMicros(lease)
	return r, nil
}

// probeStepJSON is the stored form of a step; durations in nanoseconds.
type probeStepJSON struct {
	Name     string    `json:"name"`
	Started  time.Time `json:"started"`
	Duration int64     `json:"durationNs"`
	OK       bool      `json:"ok"`
	Slow     bool      `json:"slow,omitempty"`
	Error    string    `json:"error,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

func encodeProbeSteps(steps []berth.ProbeStep) (string, error) {
	out := make([]probeStepJSON, len(steps))
	for i, s := range steps {
		out[i] = probeStepJSON{Name: s.Name, Started: s.Started, Duration: int64(s.Duration), OK: s.OK, Slow: s.Slow,
			Error: truncate(s.Error, 1024), Detail: truncate(s.Detail, 1024)}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeProbeSteps(s string) ([]berth.ProbeStep, error) {
	if s == "" {
		return nil, nil
	}
	var in []probeStepJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]berth.ProbeStep, len(in))
	for i, p := range in {
		out[i] = berth.ProbeStep{Name: p.Name, Started: p.Started, Duration: time.Duration(p.Duration), OK: p.OK, Slow: p.Slow,
			Error: p.Error, Detail: p.Detail}
	}
	return out, nil
}

// EnqueueProbeRun queues a run of env's probe. While one is queued or running it is
// returned instead, with false; so is the run of a slot already queued. Two servers
// queuing at once are kept to one run by the store's unique indexes: the second gets
// ErrConflict, and its caller reads the run in flight again (ProbeStatus).
func (tx *Tx) EnqueueProbeRun(ctx context.Context, n NewProbeRun) (berth.ProbeRun, bool, error) {
	what := fmt.Sprintf("queue a probe run in %s", n.Env)
	if n.CreatedBy == "" || n.Trigger == "" {
		return berth.ProbeRun{}, false, fmt.Errorf("%s: %w: no trigger or actor", what, berth.ErrInvalid)
	}
	if _, err := tx.Environment(ctx, n.Env); err != nil {
		return berth.ProbeRun{}, false, fmt.Errorf("%s: %w", what, err)
	}
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM probe_runs WHERE env = ? AND (state IN ('queued', 'running') OR (slot <> 0 AND slot = ?))
		ORDER BY id DESC LIMIT 1`, n.Env, optToMicros(n.Slot)).Scan(&id)
	if err == nil {
		r, err := tx.ProbeRun(ctx, id)
		return r, false, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return berth.ProbeRun{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	err = tx.queryRow(ctx, `INSERT INTO probe_runs (env, trigger_kind, state, slot, created_by, created_at)
		VALUES (?, ?, 'queued', ?, ?, ?) RETURNING id`, n.Env, n.Trigger, optToMicros(n.Slot), n.CreatedBy, micros(tx.stamp())).Scan(&id)
	if err != nil {
		return berth.ProbeRun{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	r, err := tx.ProbeRun(ctx, id)
	return r, true, err
}

// ProbeRun returns one run.
func (q queries) ProbeRun(ctx context.Context, id int64) (berth.ProbeRun, error) {
	r, err := scanProbeRun(q.queryRow(ctx, "SELECT "+probeRunColumns+" FROM probe_runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("probe run", fmt.Sprint(id))
	}
	if err != nil {
		return r, fmt.Errorf("read probe run %d: %w", id, dbErr(err))
	}
	return r, nil
}

// ProbeRunFilter selects runs; empty fields match all. Limit bounds the answer (0: 50).
type ProbeRunFilter struct {
	Env   string
	State berth.JobState
	Limit int
}

// ProbeRuns lists runs newest first.
func (q queries) ProbeRuns(ctx context.Context, f ProbeRunFilter) ([]berth.ProbeRun, error) {
	where, args := "1 = 1", []any{}
	for _, c := range []struct{ col, v string }{{"env", f.Env}, {"state", string(f.State)}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > berth.MaxProbeRunsKept {
		limit = 50
	}
	rs, err := list(ctx, q, scanProbeRun, "SELECT "+probeRunColumns+" FROM probe_runs WHERE "+where+" ORDER BY id DESC LIMIT ?",
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list probe runs: %w", dbErr(err))
	}
	return rs, nil
}

// ClaimProbeRun gives owner the lease on the oldest run with work to do: queued, or running
// with an expired lease. Each claim counts an attempt.
func (s *Store) ClaimProbeRun(ctx context.Context, owner string, lease time.Duration) (berth.ProbeRun, bool, error) {
	var claimed berth.ProbeRun
	var ok bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		var id int64
		err := tx.queryRow(ctx, `SELECT id FROM probe_runs WHERE state IN ('queued', 'running') AND lease_expires < ?
			ORDER BY id LIMIT 1`+s.d.forUpdateSkipLocked, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim probe run: %w", err)
		}
		// A new attempt starts over: its earlier token and report are void.
		if _, err := tx.exec(ctx, `UPDATE probe_runs SET state = 'running', lease_owner = ?, lease_expires = ?, attempts = attempts + 1,
				token_hash = '', report = '', started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END WHERE id = ?`,
			owner, now+lease.Microseconds(), now, id); err != nil {
			return fmt.Errorf("claim probe run %d: %w", id, dbErr(err))
		}
		claimed, err = tx.ProbeRun(ctx, id)
		ok = err == nil
		return err
	})
	return claimed, ok, err
}

// RenewProbeLease extends owner's lease on a running probe run, or returns ErrLeaseLost.
func (s *Store) RenewProbeLease(ctx context.Context, id int64, owner string, lease time.Duration) error {
	return s.renewJobLease(ctx, "probe_runs", id, owner, lease)
}

// SetProbeToken records, under owner's lease, the SHA-256 (hex) of the token the run's
// agent reports with.
func (tx *Tx) SetProbeToken(ctx context.Context, id int64, owner, tokenHash string) error {
	if len(tokenHash) != 64 {
		return invalid("token", "want a SHA-256 in hex")
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE probe_runs SET token_hash = ?, report = ''
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, tokenHash, id, owner, now)
	if err != nil {
		return fmt.Errorf("probe run %d: record its token: %w", id, dbErr(err))
	}
	return jobLeaseHeld(res, "probe_runs", id)
}

// ErrProbeReportRefused says a report came for no running run, with the wrong token, or
// after the run's report.
var ErrProbeReportRefused = errors.New("no running probe run takes this report")

// ProbeReportToken returns the SHA-256 (hex) of the token that may report into run id,
// and false when none may (the run is not running, has no token yet, or has its report):
// a read, so that a refused report costs no write.
func (q queries) ProbeReportToken(ctx context.Context, id int64) (string, bool, error) {
	var hash string
	err := q.queryRow(ctx, "SELECT token_hash FROM probe_runs WHERE id = ? AND state = 'running' AND report = ''", id).Scan(&hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read the token of probe run %d: %w", id, dbErr(err))
	}
	return hash, hash != "", nil
}

// SaveProbeReport records the agent's steps for run id if it is running, its token's
// SHA-256 is tokenHash and it has no report yet; otherwise ErrProbeReportRefused (one
// error for all three: the agent's token is all a caller knows).
func (tx *Tx) SaveProbeReport(ctx context.Context, id int64, tokenHash string, steps []berth.ProbeStep) error {
	report, err := encodeProbeSteps(steps)
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, `UPDATE probe_runs SET report = ?
		WHERE id = ? AND state = 'running' AND token_hash <> '' AND token_hash = ? AND report = ''`, report, id, tokenHash)
	if err != nil {
		return fmt.Errorf("probe run %d: record its report: %w", id, dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("probe run %d: %w", id, ErrProbeReportRefused)
	}
	return nil
}

// ProbeReport returns the steps the agent of run id reported, and whether it has.
func (q queries) ProbeReport(ctx context.Context, id int64) ([]berth.ProbeStep, bool, error) {
	var report string
	err := q.queryRow(ctx, "SELECT report FROM probe_runs WHERE id = ?", id).Scan(&report)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, notFound("probe run", fmt.Sprint(id))
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the report of probe run %d: %w", id, dbErr(err))
	}
	if report == "" {
		return nil, false, nil
	}
	steps, err := decodeProbeSteps(report)
	if err != nil {
		return nil, false, fmt.Errorf("probe run %d: report: %w", id, err)
	}
	return steps, true, nil
}

// FinishProbeRun ends owner's run in state with its steps and reason, once, and prunes the
// environment's runs beyond berth.MaxProbeRunsKept; it returns the run.
func (tx *Tx) FinishProbeRun(ctx context.Context, id int64, owner string, state berth.JobState, reason string, steps []berth.ProbeStep) (berth.ProbeRun, error) {
	if !state.Final() {
		return berth.ProbeRun{}, invalid("state", "%q is not a final state", state)
	}
	encoded, err := encodeProbeSteps(steps)
	if err != nil {
		return berth.ProbeRun{}, err
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE probe_runs SET state = ?, reason = ?, steps = ?, report = '', token_hash = '', finished_at = ?,
			lease_owner = '', lease_expires = 0
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`,
		string(state), truncate(reason, 4096), encoded, now, id, owner, now)
	if err != nil {
		return berth.ProbeRun{}, fmt.Errorf("finish probe run %d: %w", id, dbErr(err))
	}
	if err := jobLeaseHeld(res, "probe_runs", id); err != nil {
		return berth.ProbeRun{}, err
	}
	r, err := tx.ProbeRun(ctx, id)
	if err != nil {
		return r, err
	}
	// The oldest finished runs beyond the history go; the id of the last one kept bounds them.
	var edge int64
	err = tx.queryRow(ctx, `SELECT id FROM probe_runs WHERE env = ? AND state IN ('succeeded', 'failed')
		ORDER BY id DESC LIMIT 1 OFFSET ?`, r.Env, berth.MaxProbeRunsKept-1).Scan(&edge)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return r, fmt.Errorf("prune probe runs of %s: %w", r.Env, dbErr(err))
	default:
		if _, err := tx.exec(ctx, `DELETE FROM probe_runs WHERE env = ? AND state IN ('succeeded', 'failed') AND id < ?`, r.Env, edge); err != nil {
			return r, fmt.Errorf("prune probe runs of %s: %w", r.Env, dbErr(err))
		}
	}
	return r, nil
}

// SetProbeAlarm records that env's probe is (failing) or is no longer failing, as of run,
// and reports whether that changed what was last recorded: the caller announces only a
// change. An environment never recorded counts as not failing.
func (tx *Tx) SetProbeAlarm(ctx context.Context, env string, failing bool, run int64) (bool, error) {
	var was bool
	err := tx.queryRow(ctx, "SELECT failing FROM probe_alarms WHERE env = ?", env).Scan(&was)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		was = false
	case err != nil:
		return false, fmt.Errorf("read the probe alarm of %s: %w", env, dbErr(err))
	}
	if was == failing {
		return false, nil
	}
	_, err = tx.exec(ctx, `INSERT INTO probe_alarms (env, failing, run_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (env) DO UPDATE SET failing = excluded.failing, run_id = excluded.run_id, updated_at = excluded.updated_at`,
		env, failing, run, micros(tx.stamp()))
	if err != nil {
		return false, fmt.Errorf("record the probe alarm of %s: %w", env, dbErr(err))
	}
	return true, nil
}

// ProbeStatuses returns, for every environment with a probe run or probe settings, its
// latest finished run, its run in flight, when it last passed, and whether it is announced
// as failing; by environment name.
func (q queries) ProbeStatuses(ctx context.Context) ([]berth.ProbeStatus, error) {
	envs, err := list(ctx, q, func(sc scanner) (string, error) {
		var e string
		return e, sc.Scan(&e)
	}, `SELECT env FROM probe_settings UNION SELECT DISTINCT env FROM probe_runs ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list probed environments: %w", dbErr(err))
	}
	out := make([]berth.ProbeStatus, 0, len(envs))
	for _, env := range envs {
		st, err := q.ProbeStatus(ctx, env)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ProbeStatus returns env's probe status (see ProbeStatuses).
func (q queries) ProbeStatus(ctx context.Context, env string) (berth.ProbeStatus, error) {
	st := berth.ProbeStatus{Env: env}
	what := "read the probe status of " + env
	latest, err := scanProbeRun(q.queryRow(ctx, "SELECT "+probeRunColumns+` FROM probe_runs
		WHERE env = ? AND state IN ('succeeded', 'failed') ORDER BY id DESC LIMIT 1`, env))
	switch {
	case err == nil:
		st.Latest = latest
	case !errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	running, err := scanProbeRun(q.queryRow(ctx, "SELECT "+probeRunColumns+` FROM probe_runs
		WHERE env = ? AND state IN ('queued', 'running') ORDER BY id DESC LIMIT 1`, env))
	switch {
	case err == nil:
		st.Running = running
	case !errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	var last int64
	err = q.queryRow(ctx, "SELECT COALESCE(MAX(finished_at), 0) FROM probe_runs WHERE env = ? AND state = 'succeeded'", env).Scan(&last)
	if err != nil {
		return st, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	st.LastSuccess = optMicros(last)
	err = q.queryRow(ctx, "SELECT failing FROM probe_alarms WHERE env = ?", env).Scan(&st.Failing)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	return st, nil
}

// deleteProbeData removes env's probe settings, runs and alarm, with the environment.
func (tx *Tx) deleteProbeData(ctx context.Context, env string) error {
	for _, table := range []string{"probe_settings", "probe_runs", "probe_alarms"} {
		if _, err := tx.exec(ctx, "DELETE FROM "+table+" WHERE env = ?", env); err != nil {
			return fmt.Errorf("delete the probe data of %s: %w", env, dbErr(err))
		}
	}
	return nil
}

package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// StepProvisioning: a restore whose target has no database yet deploys the backed-up
// revision there first, which provisions it.
const StepProvisioning = "provisioning"

// claimRestore claims the next restore or drill and runs it.
func (e *Engine) claimRestore(ctx context.Context, owner string) (bool, error) {
	r, ok, err := e.st.ClaimRestore(ctx, owner, e.o.Lease)
	if err != nil || !ok {
		return false, err
	}
	log := e.log.With(r.Kind(), r.ID, "backup", r.BackupID, "team", r.Team, "app", r.App, "env", r.Env, "attempt", r.Attempts)
	if r.Attempts > berth.MaxJobAttempts {
		e.giveUp(ctx, r, owner, log)
		return true, nil
	}
	e.leased(ctx, func(ctx context.Context) error { return e.st.RenewRestoreLease(ctx, r.ID, owner, e.o.Lease) },
		func(ctx context.Context) {
			log.Info(r.Kind() + " started")
			var took time.Duration
			var note string
			var err error
			var replaced []string
			if r.Drill {
				took, err = e.runDrill(ctx, r)
			} else {
				took, note, replaced, err = e.runRestore(ctx, r, owner)
			}
			if interrupted(ctx, err) {
				log.Info(r.Kind()+" interrupted", "cause", context.Cause(ctx), "err", err)
				return
			}
			if err != nil {
				e.finishRestore(ctx, r, owner, berth.JobFailed, err.Error(), took, log)
				return
			}
			// The databases the swap replaced go once the restore has recorded that it is
			// done (a job resumed at its swap needs them); one a crash leaves behind goes
			// with the next restore into the target.
			if e.finishRestore(ctx, r, owner, berth.JobSucceeded, note, took, log) {
				e.dropReplaced(ctx, r, replaced)
			}
		})
	return true, nil
}

// giveUp fails a restore or drill its servers kept stopping on (or whose swap kept
// failing), saying the last error it noted, after dropping its scratch databases and
// opening its targets to connections again: a target is left as it was, or, for a part
// already swapped, restored.
func (e *Engine) giveUp(ctx context.Context, r berth.Restore, owner string, log *slog.Logger) {
	ctx = context.WithoutCancel(ctx)
	reason := tooMany(r.Attempts)
	if r.Reason != "" {
		reason += "; the last try: " + r.Reason
	}
	if s, err := e.source(ctx, r.BackupID, r.Env); err != nil {
		log.Error("give up "+r.Kind(), "err", err)
	} else if r.Drill {
		e.abandon(ctx, s.dsn, drillTargets(r, s.b))
	} else if targets, _, err := e.targets(ctx, r, s.b); err != nil {
		log.Error("give up "+r.Kind(), "err", err)
	} else {
		e.abandon(ctx, s.dsn, targets)
	}
	err := e.st.Tx(ctx, func(tx *store.Tx) error {
		failed, err := tx.FailRestore(ctx, r.ID, reason)
		if err != nil || !failed {
			return err
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: r.CreatedBy, Action: r.Kind() + ".finish", Outcome: berth.OutcomeFailure,
			Target: berth.AppTarget(r.Team, r.App, r.Env), Team: r.Team, App: r.App,
			Details: map[string]any{r.Kind(): r.ID, "backup": r.BackupID, "state": string(berth.JobFailed), "reason": reason}})
		return err
	})
	if err != nil {
		log.Error("give up "+r.Kind(), "err", err)
		return
	}
	log.Info(r.Kind()+" given up", "reason", reason)
	if done, err := e.st.Restore(ctx, r.ID); err == nil && e.o.Observer != nil {
		e.o.Observer.RestoreDone(ctx, done)
	}
}

// finishRestore ends r once, audited, and tells the observer; false when it could not
// record the end (another server holds the job now).
func (e *Engine) finishRestore(ctx context.Context, r berth.Restore, owner string, state berth.JobState, reason string, took time.Duration, log *slog.Logger) bool {
	ctx = context.WithoutCancel(ctx)
	var done berth.Restore
	err := e.st.Tx(ctx, func(tx *store.Tx) (err error) {
		done, err = tx.FinishRestore(ctx, r.ID, owner, state, reason, took)
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: r.CreatedBy, Action: r.Kind() + ".finish", Outcome: outcome(state),
			Target: berth.AppTarget(r.Team, r.App, r.Env), Team: r.Team, App: r.App,
			Details: map[string]any{r.Kind(): r.ID, "backup": r.BackupID, "state": string(state), "seconds": took.Seconds(), "reason": reason}})
		return err
	})
	if err != nil {
		if !errors.Is(err, berth.ErrLeaseLost) {
			log.Error("finish "+r.Kind(), "err", err)
		}
		return false
	}
	log.Info(r.Kind()+" ended", "state", state, "took", took, "reason", reason)
	if e.o.Observer != nil {
		e.o.Observer.RestoreDone(ctx, done)
	}
	return true
}

// target is one part of a backup and the database it is restored into.
type target struct {
	part     berth.BackupPart
	database string // the target database
	owner    string // its role; "" for a drill's, the admin's
	scratch  string // where it is restored and checked first
	previous string // the old target, between the swap and its drop
}

// source is what every restore and drill starts from: the backup, its store, and the
// admin DSN of the server the restore goes to.
type source struct {
	b       berth.Backup
	objects Objects
	dsn     string
}

func (e *Engine) source(ctx context.Context, backupID int64, env string) (source, error) {
	var s source
	if e.o.Key == nil {
		return s, errors.New("no backup key is configured: start berth server with --backup-key-file FILE holding the key the backup was sealed with")
	}
	b, err := e.st.Backup(ctx, backupID)
	if err != nil {
		return s, err
	}
	if b.KeyID != e.o.Key.ID() {
		return s, fmt.Errorf("backup %d is sealed with backup key id %s, but the configured backup key has id %s: start berth server with --backup-key-file holding the key with id %s",
			b.ID, b.KeyID, e.o.Key.ID(), b.KeyID)
	}
	en, err := e.st.Environment(ctx, env)
	if err != nil {
		return s, err
	}
	dsn, err := e.st.EnvironmentPostgres(ctx, en.Section())
	if err != nil {
		return s, err
	}
	if dsn == "" {
		return s, fmt.Errorf("environment %s has no PostgreSQL server registered (berth envs set-postgres %s --dsn DSN)", en.Section(), en.Section())
	}
	objects, err := e.o.Stores.Open(ctx, b.Store)
	if err != nil {
		return s, fmt.Errorf("backup store %s: %w", b.Store, err)
	}
	return source{b: b, objects: objects, dsn: dsn}, nil
}

// restoreInto restores every target's part into its scratch database and checks it
// against the backup's sums; on failure it abandons them all, leaving the targets as they
// were.
func (e *Engine) restoreInto(ctx context.Context, s source, targets []target) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			e.abandon(ctx, s.dsn, targets)
		}
	}()
	for _, t := range targets {
		// A scratch database an earlier attempt left behind goes first.
		if err := e.drop(ctx, s.dsn, t); err != nil {
			return err
		}
		rc, err := readPart(ctx, s.objects, e.o.Key, s.b, t.part)
		if err != nil {
			return err
		}
		src := &firstError{r: rc}
		got, err := e.o.Databases.RestoreScratch(ctx, s.dsn, t.scratch, t.owner, src)
		rc.Close()
		if src.err != nil {
			// pg_restore saw only its input end early: the reason is the part's.
			return src.err
		}
		if err != nil {
			return fmt.Errorf("backup %d, part %s: restore: %w", s.b.ID, t.part.Resource, err)
		}
		if err := berth.CompareSums(t.part.Tables, got); err != nil {
			return fmt.Errorf("backup %d, part %s: the restored data differs from the backup: %w", s.b.ID, t.part.Resource, err)
		}
	}
	return nil
}

// abandon drops the targets' scratch databases, best effort: a failed restore must not
// leave a target closed to its app.
func (e *Engine) abandon(ctx context.Context, dsn string, targets []target) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, t := range targets {
		if err := e.drop(ctx, dsn, t); err != nil {
			e.log.Error("drop scratch database", "database", t.scratch, "err", err)
		}
	}
}

// drop drops t's scratch database: a drill's throwaway one, or a restore's, letting
// connections into the target again.
func (e *Engine) drop(ctx context.Context, dsn string, t target) error {
	if t.database == t.scratch {
		return e.o.Databases.DropDatabase(ctx, dsn, t.scratch)
	}
	return e.o.Databases.Abandon(ctx, dsn, t.database, t.scratch)
}

// firstError keeps the first error its reader returned other than EOF.
type firstError struct {
	r   io.Reader
	err error
}

func (f *firstError) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// runDrill restores the backup into throwaway databases, checks them and drops them; it
// returns the measured restore time.
func (e *Engine) runDrill(ctx context.Context, r berth.Restore) (time.Duration, error) {
	s, err := e.source(ctx, r.BackupID, r.Env)
	if err != nil {
		return 0, err
	}
	targets := drillTargets(r, s.b)
	start := e.o.Now()
	err = e.restoreInto(ctx, s, targets)
	took := e.o.Now().Sub(start)
	if err == nil {
		// Dropped on success too: a drill leaves nothing behind.
		e.abandon(ctx, s.dsn, targets)
	}
	return took, err
}

// drillTargets are the throwaway databases drill r restores b's parts into.
func drillTargets(r berth.Restore, b berth.Backup) []target {
	var targets []target
	for i, p := range b.Parts {
		name := fmt.Sprintf("berth_drill_%d_%d", r.ID, i)
		targets = append(targets, target{part: p, database: name, scratch: name})
	}
	return targets
}

// runRestore restores the backup into r's environment (see the package doc); replaced
// names the databases the swap replaced, to drop.
func (e *Engine) runRestore(ctx context.Context, r berth.Restore, owner string) (took time.Duration, note string, replaced []string, err error) {
	s, err := e.source(ctx, r.BackupID, r.Env)
	if err != nil {
		return 0, "", nil, err
	}
	if len(s.b.Parts) == 0 {
		return 0, "", nil, fmt.Errorf("backup %d holds no data", s.b.ID)
	}
	for i := range s.b.Parts {
		replaced = append(replaced, replacedName(r.ID, i))
	}
	took, note, err = e.restore(ctx, r, owner, s)
	return took, note, replaced, err
}

// replacedName names the database a restore's swap replaced, for part i.
func replacedName(restore int64, i int) string {
	return fmt.Sprintf("berth_replaced_%d_%d", restore, i)
}

// dropReplaced drops the databases r's swap replaced, and those an earlier restore into
// the same target left behind when its server stopped before dropping them. Failures are
// logged: the restore is done.
func (e *Engine) dropReplaced(ctx context.Context, r berth.Restore, replaced []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	s, err := e.source(ctx, r.BackupID, r.Env)
	if err != nil {
		e.log.Error("drop replaced databases", "restore", r.ID, "err", err)
		return
	}
	earlier, err := e.st.Restores(ctx, store.RestoreFilter{Team: r.Team, App: r.App, Env: r.Env, Limit: 20})
	if err != nil {
		e.log.Error("drop replaced databases", "restore", r.ID, "err", err)
		return
	}
	for _, o := range earlier {
		if o.ID != r.ID && o.State.Final() {
			for i := range len(s.b.Parts) {
				replaced = append(replaced, replacedName(o.ID, i))
			}
		}
	}
	for _, name := range replaced {
		if err := e.o.Databases.DropDatabase(ctx, s.dsn, name); err != nil {
			e.log.Error("drop replaced database", "restore", r.ID, "database", name, "err", err)
		}
	}
}

func (e *Engine) restore(ctx context.Context, r berth.Restore, owner string, s source) (time.Duration, string, error) {
	setStep := func(step string, deploy int64) error {
		return e.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetRestoreStep(ctx, r.ID, owner, step, deploy) })
	}
	// A deploy recorded before the swap is the one that provisioned the target (the
	// redeploy of --to-revision comes after): a resumed restore knows it so.
	provisioned := r.Deploy != 0 && (r.Step == StepProvisioning || r.Step == berth.StepRestoring || r.Step == berth.StepSwapping)
	targets, missing, err := e.targets(ctx, r, s.b)
	if err != nil {
		return 0, "", err
	}
	if r.Step == StepProvisioning || len(missing) > 0 && (r.Step == "" || r.Step == berth.StepRestoring) {
		// The target has no database for some part: the backed-up revision, deployed
		// there, provisions it (and runs against it, empty, until the swap).
		d := r.Deploy
		if r.Step != StepProvisioning || d == 0 {
			if d, err = e.queueDeploy(ctx, r, owner, s.b, StepProvisioning, "to provision "+missing[0]); err != nil {
				return 0, "", err
			}
		}
		if err := e.waitDeploy(ctx, d, "deploy %d, which provisions the restore's resources"); err != nil {
			return 0, "", err
		}
		provisioned = true
		if targets, missing, err = e.targets(ctx, r, s.b); err != nil {
			return 0, "", err
		}
		if len(missing) > 0 {
			return 0, "", fmt.Errorf("deploy %d did not provision %s in %s", d, missing[0], r.Env)
		}
	}
	var took time.Duration
	if r.Step != berth.StepSwapping && r.Step != berth.StepRedeploying {
		// A database the restore's own deploy just made holds only what the app wrote
		// on its start (its migrations): no --force is asked for replacing it.
		if !r.Force && !provisioned {
			for _, t := range targets {
				full, err := e.o.Databases.HasData(ctx, s.dsn, t.database)
				if err != nil {
					return 0, "", err
				}
				if full {
					return 0, "", fmt.Errorf("%s's database for %s in %s holds data: restoring over it replaces it, which needs --force", r.App, t.part.Resource, r.Env)
				}
			}
		}
		if err := setStep(berth.StepRestoring, 0); err != nil {
			return 0, "", err
		}
		start := e.o.Now()
		if err := e.restoreInto(ctx, s, targets); err != nil {
			return e.o.Now().Sub(start), "", err
		}
		// From here the restore goes forward only: a crash resumes the swap.
		if err := setStep(berth.StepSwapping, 0); err != nil {
			// With the lease lost, the scratch databases are the next server's.
			if !interrupted(ctx, err) {
				e.abandon(ctx, s.dsn, targets)
			}
			return 0, "", err
		}
		took = e.o.Now().Sub(start)
		r.Step = berth.StepSwapping
	}
	if r.Step == berth.StepSwapping {
		start := e.o.Now()
		for _, t := range targets {
			if err := e.o.Databases.Swap(ctx, s.dsn, t.database, t.scratch, t.previous); err != nil {
				// Each part swaps in one transaction; the job is resumed (not failed) so
				// that every part ends swapped, and given up, with this reason, only
				// after berth.MaxJobAttempts.
				err = fmt.Errorf("swap %s: %w", t.part.Resource, err)
				if nerr := e.st.Tx(ctx, func(tx *store.Tx) error { return tx.NoteRestore(ctx, r.ID, owner, err.Error()) }); nerr != nil {
					return 0, "", nerr
				}
				return 0, "", fmt.Errorf("%w: %v", errRetry, err)
			}
		}
		took += e.o.Now().Sub(start)
	}
	if r.ToRevision && !provisioned {
		d := r.Deploy
		if r.Step != berth.StepRedeploying || d == 0 {
			if d, err = e.queueDeploy(ctx, r, owner, s.b, berth.StepRedeploying, "--to-revision"); err != nil {
				return took, "", fmt.Errorf("the data was restored and checked, but the redeploy failed: %w", err)
			}
		}
		if err := e.waitDeploy(ctx, d, "the data was restored and checked, but deploy %d of the backed-up revision"); err != nil {
			return took, "", err
		}
		return took, fmt.Sprintf("redeployed revision %d (deploy %d)", s.b.Contents.Revision, d), nil
	}
	return took, "", nil
}

// targets maps each part of b to its database in r's environment; missing names the
// parts whose resource has no database there yet.
func (e *Engine) targets(ctx context.Context, r berth.Restore, b berth.Backup) ([]target, []string, error) {
	uids := map[string]string{}
	for _, res := range b.Contents.Resources {
		uids[res.Name] = res.UID
	}
	var out []target
	var missing []string
	for i, p := range b.Parts {
		uid := uids[p.Resource]
		if uid == "" {
			return nil, nil, fmt.Errorf("backup %d: part %s names no resource", b.ID, p.Resource)
		}
		sec, err := e.st.ResourceSecrets(ctx, r.Env, uid)
		if err != nil && !errors.Is(err, berth.ErrNotFound) {
			return nil, nil, err
		}
		database, _ := sec.State["database"].(string)
		role, _ := sec.State["username"].(string)
		if database == "" || role == "" {
			missing = append(missing, p.Type+" "+p.Resource)
			continue
		}
		out = append(out, target{part: p, database: database, owner: role,
			scratch: fmt.Sprintf("berth_restore_%d_%d", r.ID, i), previous: replacedName(r.ID, i)})
	}
	return out, missing, nil
}

// queueDeploy deploys the backed-up revision with its args to r's environment, as the
// user who asked for the restore, and records it with the step, in one transaction: a
// crash never queues it twice.
func (e *Engine) queueDeploy(ctx context.Context, r berth.Restore, owner string, b berth.Backup, step, why string) (int64, error) {
	if b.Contents.Revision == 0 {
		return 0, fmt.Errorf("backup %d names no deployed revision of %s/%s (%s): deploy the app to %s first", b.ID, r.Team, r.App, why, r.Env)
	}
	var d berth.Deploy
	err := e.st.Tx(ctx, func(tx *store.Tx) (err error) {
		d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: r.Team, App: r.App, Env: r.Env, Revision: b.Contents.Revision,
			Kind: berth.KindDeploy, Args: b.Contents.Args, CreatedBy: r.CreatedBy})
		if err != nil {
			return err
		}
		return tx.SetRestoreStep(ctx, r.ID, owner, step, d.ID)
	})
	if err != nil {
		return 0, fmt.Errorf("deploy revision %d to %s (%s): %w", b.Contents.Revision, r.Env, why, err)
	}
	return d.ID, nil
}

// waitDeploy waits for deploy id to end; failing is an error saying what (what has %d).
func (e *Engine) waitDeploy(ctx context.Context, id int64, what string) error {
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	for {
		d, err := e.st.Deploy(ctx, id)
		if err != nil {
			return err
		}
		switch d.State {
		case berth.DeploySucceeded:
			return nil
		case berth.DeployFailed:
			return fmt.Errorf(what+" failed: %s", id, d.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

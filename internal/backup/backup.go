package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// Backed is what a backup copies: the resource types whose data it dumps.
var Backed = []string{"postgres"}

// claimBackup claims the next backup and runs it.
func (e *Engine) claimBackup(ctx context.Context, owner string) (bool, error) {
	b, ok, err := e.st.ClaimBackup(ctx, owner, e.o.Lease)
	if err != nil || !ok {
		return false, err
	}
	log := e.log.With("backup", b.ID, "team", b.Team, "app", b.App, "env", b.Env, "attempt", b.Attempts)
	if b.Attempts > berth.MaxJobAttempts {
		if e.finishBackup(ctx, b, owner, berth.JobFailed, tooMany(b.Attempts), log) {
			e.deleteParts(ctx, b.ID, log)
		}
		return true, nil
	}
	e.leased(ctx, func(ctx context.Context) error { return e.st.RenewBackupLease(ctx, b.ID, owner, e.o.Lease) },
		func(ctx context.Context) {
			log.Info("backup started")
			note, err := e.runBackup(ctx, b, owner)
			if interrupted(ctx, err) {
				log.Info("backup interrupted", "cause", context.Cause(ctx), "err", err)
				return
			}
			if err != nil {
				if e.finishBackup(ctx, b, owner, berth.JobFailed, err.Error(), log) {
					e.deleteParts(ctx, b.ID, log)
				}
				return
			}
			e.finishBackup(ctx, b, owner, berth.JobSucceeded, note, log)
		})
	return true, nil
}

// deleteParts deletes from its store the parts a failed backup had written, best effort.
func (e *Engine) deleteParts(ctx context.Context, id int64, log *slog.Logger) {
	ctx = context.WithoutCancel(ctx)
	b, err := e.st.Backup(ctx, id)
	if err != nil || len(b.Parts) == 0 {
		return
	}
	objects, err := e.o.Stores.Open(ctx, b.Store)
	if err != nil {
		log.Error("delete the parts of a failed backup", "err", err)
		return
	}
	for _, p := range b.Parts {
		if err := objects.Delete(ctx, p.Object); err != nil {
			log.Error("delete the parts of a failed backup", "object", p.Object, "err", err)
		}
	}
}

// finishBackup ends b once, audited, and tells the observer; false when it could not
// record the end.
func (e *Engine) finishBackup(ctx context.Context, b berth.Backup, owner string, state berth.JobState, reason string, log *slog.Logger) bool {
	ctx = context.WithoutCancel(ctx)
	var done berth.Backup
	err := e.st.Tx(ctx, func(tx *store.Tx) (err error) {
		done, err = tx.FinishBackup(ctx, b.ID, owner, state, reason)
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: b.CreatedBy, Action: "backup.finish", Outcome: outcome(state),
			Target: berth.AppTarget(b.Team, b.App, b.Env), Team: b.Team, App: b.App,
			Details: map[string]any{"backup": b.ID, "state": string(state), "size": done.Size, "parts": len(done.Parts), "reason": reason}})
		return err
	})
	if err != nil {
		if !errors.Is(err, berth.ErrLeaseLost) {
			log.Error("finish backup", "err", err)
		}
		return false
	}
	log.Info("backup ended", "state", state, "size", done.Size, "reason", reason)
	if e.o.Observer != nil {
		e.o.Observer.BackupDone(ctx, done)
	}
	return true
}

// runBackup writes every part of b; it returns a note for a backup that succeeded
// without some of the app's resources (those whose data Berth does not back up).
func (e *Engine) runBackup(ctx context.Context, b berth.Backup, owner string) (string, error) {
	if e.o.Key == nil {
		return "", errors.New("no backup key is configured: start berth server with --backup-key-file FILE (made when missing)")
	}
	env, err := e.st.Environment(ctx, b.Env)
	if err != nil {
		return "", err
	}
	contents, data, skipped, err := e.contents(ctx, b, env)
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", fmt.Errorf("%s/%s has no %s resource in %s: there is no data to back up", b.Team, b.App, strings.Join(Backed, " or "), b.Env)
	}
	dsn, err := e.st.EnvironmentPostgres(ctx, env.Section())
	if err != nil {
		return "", err
	}
	if dsn == "" {
		return "", fmt.Errorf("environment %s has no PostgreSQL server registered (berth envs set-postgres %s --dsn DSN)", env.Section(), env.Section())
	}
	objects, err := e.o.Stores.Open(ctx, b.Store)
	if err != nil {
		return "", fmt.Errorf("backup store %s: %w", b.Store, err)
	}
	if err := e.st.Tx(ctx, func(tx *store.Tx) error { return tx.StartBackup(ctx, b.ID, owner, e.o.Key.ID(), contents) }); err != nil {
		return "", err
	}
	for _, r := range data {
		database, err := e.database(ctx, b.Env, r)
		if err != nil {
			return "", err
		}
		part, err := writePart(ctx, objects, e.o.Key, b, r.Name, r.Type, func(w io.Writer) ([]berth.TableSum, error) {
			return e.o.Databases.Dump(ctx, dsn, database, w)
		})
		if err != nil {
			return "", err
		}
		if err := e.st.Tx(ctx, func(tx *store.Tx) error { return tx.AddBackupPart(ctx, b.ID, owner, part) }); err != nil {
			return "", err
		}
	}
	if len(skipped) > 0 {
		return "not backed up (Berth backs up " + strings.Join(Backed, " and ") + " data only): " + strings.Join(skipped, ", "), nil
	}
	return "", nil
}

// contents is what b holds besides data, and the resources whose data it dumps (and the
// others, by name: volumes and the like, whose data Berth does not back up).
func (e *Engine) contents(ctx context.Context, b berth.Backup, env berth.Environment) (berth.BackupContents, []berth.Resource, []string, error) {
	var c berth.BackupContents
	if app, err := e.st.App(ctx, b.Team, b.App); err == nil {
		if d, err := e.st.LastSucceeded(ctx, app.ID, b.Env, 0); err == nil {
			c.Deploy, c.Revision, c.Args = d.ID, d.Revision, d.Args
		} else if !errors.Is(err, berth.ErrNotFound) {
			return c, nil, nil, err
		}
	} else if !errors.Is(err, berth.ErrNotFound) {
		return c, nil, nil, err
	}
	settings, err := e.st.SettingsFor(ctx, b.Team, b.App, env.Section())
	if err != nil {
		return c, nil, nil, err
	}
	resolved := berth.Resolve(settings)
	for _, k := range []berth.SettingKind{berth.SettingConfig, berth.SettingSecret} {
		for _, name := range slices.Sorted(maps.Keys(resolved[k])) {
			ref := berth.VersionRef{Name: name, Version: resolved[k][name].Version}
			if k == berth.SettingConfig {
				c.Config = append(c.Config, ref)
			} else {
				c.Secrets = append(c.Secrets, ref)
			}
		}
	}
	rs, err := e.st.Resources(ctx, berth.ResourceFilter{Team: b.Team, App: b.App, Env: b.Env})
	if err != nil {
		return c, nil, nil, err
	}
	var data []berth.Resource
	var skipped []string
	for _, r := range rs {
		if r.Status != berth.ResourceActive {
			continue
		}
		c.Resources = append(c.Resources, berth.BackupResource{Name: r.Name, Type: r.Type, Class: r.Class, ID: r.ResID, UID: r.UID, Provisioner: r.Provisioner})
		switch {
		case slices.Contains(Backed, r.Type) && r.Provisioner == "builtin/"+r.Type:
			data = append(data, r)
		case r.Type == "volume" || slices.Contains(Backed, r.Type):
			skipped = append(skipped, r.Type+" "+r.Name)
		}
	}
	return c, data, skipped, nil
}

// database names r's database on its server, from the state its provisioner kept.
func (e *Engine) database(ctx context.Context, env string, r berth.Resource) (string, error) {
	sec, err := e.st.ResourceSecrets(ctx, env, r.UID)
	if err != nil {
		return "", fmt.Errorf("resource %s: %w", r.Name, err)
	}
	name, _ := sec.State["database"].(string)
	if name == "" {
		return "", fmt.Errorf("resource %s in %s has no database yet: deploy the app first", r.Name, env)
	}
	return name, nil
}

package apiclient

import (
	"context"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// StartBackup queues a backup of team's app's data in env.
func (c *Client) StartBackup(ctx context.Context, team, app, env string) (apiv1.Backup, error) {
	var out apiv1.Backup
	return out, c.do(ctx, "POST", backupAppPath(team, app)+"/backups", nil, apiv1.StartBackup{Environment: env}, &out)
}

// StartTeamBackup queues a backup of every app of team with data in env.
func (c *Client) StartTeamBackup(ctx context.Context, team, env string) ([]apiv1.Backup, error) {
	var out apiv1.List[apiv1.Backup]
	return out.Items, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/backups", nil, apiv1.StartBackup{Environment: env}, &out)
}

// JobQuery selects backups, restores or drills of a team: of one app, in one environment,
// in one state (backups only); empty fields match all. Limit 0 is the server's 100.
type JobQuery struct {
	App, Env, State string
	Limit           int
}

func (q JobQuery) values() url.Values {
	v := url.Values{}
	for _, p := range [][2]string{{"app", q.App}, {"environment", q.Env}, {"state", q.State}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Backups lists team's backups that q selects, newest first.
func (c *Client) Backups(ctx context.Context, team string, q JobQuery) ([]apiv1.Backup, error) {
	var out apiv1.List[apiv1.Backup]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/backups", q.values(), nil, &out)
}

// Backup returns backup id with the restores and drills made of it.
func (c *Client) Backup(ctx context.Context, id int64) (apiv1.BackupDetail, error) {
	var out apiv1.BackupDetail
	return out, c.do(ctx, "GET", "/api/v1/backups/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// StartRestore queues a restore of backup id as in says.
func (c *Client) StartRestore(ctx context.Context, id int64, in apiv1.StartRestore) (apiv1.Restore, error) {
	var out apiv1.Restore
	return out, c.do(ctx, "POST", "/api/v1/backups/"+strconv.FormatInt(id, 10)+"/restore", nil, in, &out)
}

// StartDrill queues a drill of a backup of team's app (in.BackupID, or the latest kept).
func (c *Client) StartDrill(ctx context.Context, team, app string, in apiv1.StartDrill) (apiv1.Restore, error) {
	var out apiv1.Restore
	return out, c.do(ctx, "POST", backupAppPath(team, app)+"/drills", nil, in, &out)
}

// Restores lists team's restores, or its drills, that q selects (q.State aside), newest
// first.
func (c *Client) Restores(ctx context.Context, team string, drills bool, q JobQuery) ([]apiv1.Restore, error) {
	kind := "/restores"
	if drills {
		kind = "/drills"
	}
	q.State = ""
	var out apiv1.List[apiv1.Restore]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+kind, q.values(), nil, &out)
}

// Restore returns restore (or drill) id.
func (c *Client) Restore(ctx context.Context, id int64) (apiv1.Restore, error) {
	var out apiv1.Restore
	return out, c.do(ctx, "GET", "/api/v1/restores/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// SetBackupSchedule sets when team's app's data in env is backed up and drilled.
func (c *Client) SetBackupSchedule(ctx context.Context, team, app, env string, in apiv1.SetBackupSchedule) (apiv1.BackupSchedule, error) {
	var out apiv1.BackupSchedule
	return out, c.do(ctx, "PUT", backupAppPath(team, app)+"/backup-schedules/"+esc(env), nil, in, &out)
}

// BackupSchedules lists team's backup schedules.
func (c *Client) BackupSchedules(ctx context.Context, team string) ([]apiv1.BackupSchedule, error) {
	var out apiv1.List[apiv1.BackupSchedule]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/backup-schedules", nil, nil, &out)
}

// DeleteBackupSchedule stops the scheduled backups and drills of team's app in env.
func (c *Client) DeleteBackupSchedule(ctx context.Context, team, app, env string) error {
	return c.do(ctx, "DELETE", backupAppPath(team, app)+"/backup-schedules/"+esc(env), nil, nil, nil)
}

// SetBackupStore creates or replaces the backup store name.
func (c *Client) SetBackupStore(ctx context.Context, name string, in apiv1.SetBackupStore) (apiv1.BackupStore, error) {
	var out apiv1.BackupStore
	return out, c.do(ctx, "PUT", "/api/v1/backup-stores/"+esc(name), nil, in, &out)
}

// BackupStores lists the backup stores.
func (c *Client) BackupStores(ctx context.Context) ([]apiv1.BackupStore, error) {
	var out apiv1.List[apiv1.BackupStore]
	return out.Items, c.do(ctx, "GET", "/api/v1/backup-stores", nil, nil, &out)
}

// DeleteBackupStore deletes the backup store name.
func (c *Client) DeleteBackupStore(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/backup-stores/"+esc(name), nil, nil, nil)
}

// SetEnvBackupStore makes env's backups go to the store name ("default": the server's own
// directory).
func (c *Client) SetEnvBackupStore(ctx context.Context, env, name string) error {
	return c.do(ctx, "PUT", "/api/v1/envs/"+esc(env)+"/backup-store", nil, apiv1.SetEnvBackupStore{Store: name}, nil)
}

func backupAppPath(team, app string) string {
	return "/api/v1/teams/" + esc(team) + "/apps/" + esc(app)
}

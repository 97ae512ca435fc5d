package apiv1

import (
	"maps"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// Backup is one backup set of an app's data in an environment: for each data resource its
// part (the dump as stored, encrypted), and what is needed to bring the app back: the
// deployed revision, its args, and its config, secrets (by name and version, never their
// values) and resource definitions. State is queued, running, succeeded or failed.
type Backup struct {
	ID          int64  `json:"id"`
	Team        string `json:"team"`
	App         string `json:"app"`
	Environment string `json:"environment"`
	// Trigger is manual, schedule, or team (part of a backup of every app of a team).
	Trigger string `json:"trigger"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	// Store is the backup store it was written to; KeyID names the key it is sealed with.
	Store string `json:"store"`
	KeyID string `json:"keyId,omitempty"`
	// Revision and Deploy are the app's last successful deploy in the environment when the
	// backup was taken (absent when it had none), Args its args.
	Revision  int64             `json:"revision,omitempty"`
	Deploy    int64             `json:"deploy,omitempty"`
	Args      map[string]string `json:"args"`
	Config    []VersionRef      `json:"config"`
	Secrets   []VersionRef      `json:"secrets"`
	Resources []BackupResource  `json:"resources"`
	Parts     []BackupPart      `json:"parts"`
	// Size is the sum of the parts' stored sizes, in bytes.
	Size int64 `json:"size"`
	// Attempts is how many times a server took the backup up: more than 1 when a server
	// stopped while running it and another resumed it.
	Attempts   int        `json:"attempts"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// PrunedAt is when retention deleted its parts from the store; absent while kept.
	PrunedAt *time.Time `json:"prunedAt,omitempty"`
}

// VersionRef names a version of a config value or secret, never its value.
type VersionRef struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// BackupResource is a resource's definition as it was backed up.
type BackupResource struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Class       string `json:"class,omitempty"`
	ID          string `json:"id,omitempty"`
	UID         string `json:"uid"`
	Provisioner string `json:"provisioner"`
}

// BackupPart is one resource's data in a backup: the object it is stored as, its size and
// SHA-256 as stored (encrypted), its rows, and each table's rows and checksum at backup
// time.
type BackupPart struct {
	Resource string     `json:"resource"`
	Type     string     `json:"type"`
	Object   string     `json:"object"`
	Size     int64      `json:"size"`
	SHA256   string     `json:"sha256"`
	Rows     int64      `json:"rows"`
	Tables   []TableSum `json:"tables"`
}

// TableSum is one table's row count and order-independent checksum.
type TableSum struct {
	Schema   string `json:"schema"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// BackupDetail is a backup with the restores and the drills made of it, newest first.
type BackupDetail struct {
	Backup   Backup    `json:"backup"`
	Restores []Restore `json:"restores"`
	Drills   []Restore `json:"drills"`
}

// StartBackup is the body of POST /teams/{team}/apps/{app}/backups and POST
// /teams/{team}/backups.
type StartBackup struct {
	Environment string `json:"environment"`
}

// StartRestore is the body of POST /backups/{id}/restore: the backup's app's data is
// restored into Environment. Team and App, when given, must be the backup's.
type StartRestore struct {
	Environment string `json:"environment"`
	Team        string `json:"team,omitempty"`
	App         string `json:"app,omitempty"`
	// Force restores over data the target holds; ToRevision also redeploys the backed-up
	// revision.
	Force      bool `json:"force,omitempty"`
	ToRevision bool `json:"toRevision,omitempty"`
}

// StartDrill is the body of POST /teams/{team}/apps/{app}/drills: a backup of the app in
// Environment (BackupID, or the latest kept when absent) is restored into a throwaway
// database, checked against the backup and dropped.
type StartDrill struct {
	Environment string `json:"environment"`
	BackupID    int64  `json:"backupId,omitempty"`
}

// Restore is a backup restored into an environment, or (Drill) into a throwaway database
// checked against the backup. Step is how far it got: restoring, swapping, redeploying.
type Restore struct {
	ID          int64  `json:"id"`
	BackupID    int64  `json:"backupId"`
	Team        string `json:"team"`
	App         string `json:"app"`
	Environment string `json:"environment"`
	Drill       bool   `json:"drill"`
	Force       bool   `json:"force"`
	ToRevision  bool   `json:"toRevision"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	Step        string `json:"step,omitempty"`
	// Deploy is the deploy a restore with toRevision queued.
	Deploy int64 `json:"deploy,omitempty"`
	// DurationSeconds is the measured restore time: from the first byte read to the last
	// checksum compared (drills), or to the swap (restores).
	DurationSeconds float64 `json:"durationSeconds"`
	// Attempts is how many times a server took it up (more than 1: resumed).
	Attempts   int        `json:"attempts"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// BackupSchedule is when an app's data in an environment is backed up (Cron) and drilled
// (Drill; empty: never), both read in TimeZone, and which backups are kept: the newest
// KeepLast, plus the newest of each of the last KeepDaily days and KeepWeekly weeks.
// StaleAfter is how old the latest successful backup may get before it is announced
// (a Go duration; absent: twice the schedule's interval).
type BackupSchedule struct {
	Team        string    `json:"team"`
	App         string    `json:"app"`
	Environment string    `json:"environment"`
	Cron        string    `json:"cron"`
	Drill       string    `json:"drill,omitempty"`
	TimeZone    string    `json:"timeZone"`
	KeepLast    int       `json:"keepLast"`
	KeepDaily   int       `json:"keepDaily"`
	KeepWeekly  int       `json:"keepWeekly"`
	StaleAfter  string    `json:"staleAfter,omitempty"`
	CreatedBy   string    `json:"createdBy"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// SetBackupSchedule is the body of PUT /teams/{team}/apps/{app}/backup-schedules/{environment}.
// Cron and Drill are five cron fields each (minute hour day-of-month month day-of-week,
// such as "0 3 * * *"), read in TimeZone (an IANA name; UTC when empty). No keep* at all
// keeps the last 7, 7 daily and 4 weekly.
type SetBackupSchedule struct {
	Cron       string `json:"cron"`
	Drill      string `json:"drill,omitempty"`
	TimeZone   string `json:"timeZone,omitempty"`
	KeepLast   int    `json:"keepLast,omitempty"`
	KeepDaily  int    `json:"keepDaily,omitempty"`
	KeepWeekly int    `json:"keepWeekly,omitempty"`
	StaleAfter string `json:"staleAfter,omitempty"`
}

// BackupStore is where backups go: a directory on the server's machine (kind dir) or an
// S3-compatible bucket (kind s3). Its secret key is never shown.
type BackupStore struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Dir  string `json:"dir,omitempty"`
	// Endpoint is the S3 server's host:port; Secure: over TLS.
	Endpoint  string    `json:"endpoint,omitempty"`
	Secure    bool      `json:"secure,omitempty"`
	Bucket    string    `json:"bucket,omitempty"`
	Prefix    string    `json:"prefix,omitempty"`
	Region    string    `json:"region,omitempty"`
	AccessKey string    `json:"accessKey,omitempty"`
	CreatedBy string    `json:"createdBy"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// SetBackupStore is the body of PUT /backup-stores/{name}. SecretKey, an S3 store's
// secret, travels only here; it is sealed and never shown again.
type SetBackupStore struct {
	Kind      string `json:"kind"`
	Dir       string `json:"dir,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Secure    bool   `json:"secure,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"accessKey,omitempty"`
	SecretKey string `json:"secretKey,omitempty"`
}

// SetEnvBackupStore is the body of PUT /envs/{env}/backup-store: the store the
// environment's backups go to ("default": the server's own directory).
type SetEnvBackupStore struct {
	Store string `json:"store"`
}

// FromBackup is the wire form of a backup; lists are empty rather than absent.
func FromBackup(b berth.Backup) Backup {
	c := b.Contents
	out := Backup{ID: b.ID, Team: b.Team, App: b.App, Environment: b.Env, Trigger: b.Trigger, State: string(b.State), Reason: b.Reason,
		Store: b.Store, KeyID: b.KeyID, Revision: c.Revision, Deploy: c.Deploy, Args: map[string]string{},
		Config: versionRefs(c.Config), Secrets: versionRefs(c.Secrets), Resources: make([]BackupResource, 0, len(c.Resources)),
		Parts: make([]BackupPart, 0, len(b.Parts)), Size: b.Size, Attempts: b.Attempts, CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt,
		StartedAt: timePtr(b.StartedAt), FinishedAt: timePtr(b.FinishedAt), PrunedAt: timePtr(b.PrunedAt)}
	maps.Copy(out.Args, c.Args)
	for _, r := range c.Resources {
		out.Resources = append(out.Resources, BackupResource{Name: r.Name, Type: r.Type, Class: r.Class, ID: r.ID, UID: r.UID, Provisioner: r.Provisioner})
	}
	for _, p := range b.Parts {
		part := BackupPart{Resource: p.Resource, Type: p.Type, Object: p.Object, Size: p.Size, SHA256: p.SHA256, Rows: p.Rows(),
			Tables: make([]TableSum, 0, len(p.Tables))}
		for _, t := range p.Tables {
			part.Tables = append(part.Tables, TableSum{Schema: t.Schema, Table: t.Table, Rows: t.Rows, Checksum: t.Checksum})
		}
		out.Parts = append(out.Parts, part)
	}
	return out
}

func versionRefs(in []berth.VersionRef) []VersionRef {
	out := make([]VersionRef, 0, len(in))
	for _, v := range in {
		out = append(out, VersionRef{Name: v.Name, Version: v.Version})
	}
	return out
}

// FromRestore is the wire form of a restore or drill.
func FromRestore(r berth.Restore) Restore {
	return Restore{ID: r.ID, BackupID: r.BackupID, Team: r.Team, App: r.App, Environment: r.Env, Drill: r.Drill, Force: r.Force,
		ToRevision: r.ToRevision, State: string(r.State), Reason: r.Reason, Step: r.Step, Deploy: r.Deploy,
		DurationSeconds: r.Duration.Seconds(), Attempts: r.Attempts, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		StartedAt: timePtr(r.StartedAt), FinishedAt: timePtr(r.FinishedAt)}
}

// FromBackupSchedule is the wire form of a backup schedule.
func FromBackupSchedule(s berth.BackupSchedule) BackupSchedule {
	out := BackupSchedule{Team: s.Team, App: s.App, Environment: s.Env, Cron: s.Cron, Drill: s.Drill, TimeZone: s.TimeZone,
		KeepLast: s.Keep.Last, KeepDaily: s.Keep.Daily, KeepWeekly: s.Keep.Weekly, CreatedBy: s.CreatedBy, UpdatedAt: s.UpdatedAt}
	if s.StaleAfter > 0 {
		out.StaleAfter = FormatDuration(s.StaleAfter)
	}
	return out
}

// FromBackupStore is the wire form of a backup store; the domain holds no secret to leak.
func FromBackupStore(s berth.BackupStore) BackupStore {
	return BackupStore{Name: s.Name, Kind: string(s.Kind), Dir: s.Dir, Endpoint: s.Endpoint, Secure: s.Secure, Bucket: s.Bucket,
		Prefix: s.Prefix, Region: s.Region, AccessKey: s.AccessKey, CreatedBy: s.CreatedBy, UpdatedAt: s.UpdatedAt}
}

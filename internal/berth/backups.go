package berth

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BackupStore is where backups go: a local directory or an S3-compatible bucket, named so
// that environments can share one and backups keep finding theirs when an environment
// moves to another. Its secret (an S3 secret key) is sealed in the store, never held here.
type BackupStore struct {
	Name string
	Kind BackupStoreKind
	// Dir is a directory store's path on the server's machine.
	Dir string
	// S3 endpoint (host:port), TLS, bucket, prefix inside it, region and access key.
	Endpoint  string
	Secure    bool
	Bucket    string
	Prefix    string
	Region    string
	AccessKey string
	CreatedBy string
	UpdatedAt time.Time
}

// BackupStoreKind says what a backup store is.
type BackupStoreKind string

// The kinds of backup store.
const (
	BackupStoreDir BackupStoreKind = "dir"
	BackupStoreS3  BackupStoreKind = "s3"
)

// DefaultBackupStore is the store of environments that name none: the server's own
// directory (berth server --backup-dir).
const DefaultBackupStore = "default"

// Validate checks a store's fields for its kind.
func (s BackupStore) Validate() error {
	if err := ValidateName("name", s.Name); err != nil {
		return err
	}
	switch s.Kind {
	case BackupStoreDir:
		if s.Dir == "" || !strings.HasPrefix(s.Dir, "/") {
			return Invalid("dir", "%q is not an absolute path", s.Dir)
		}
		if s.Endpoint != "" || s.Bucket != "" || s.AccessKey != "" {
			return Invalid("dir", "a directory store takes no endpoint, bucket or access key")
		}
	case BackupStoreS3:
		switch {
		case s.Endpoint == "" || strings.ContainsAny(s.Endpoint, "/ "):
			return Invalid("endpoint", "%q is not host:port (e.g. s3.eu-west-1.amazonaws.com or 127.0.0.1:9000)", s.Endpoint)
		case s.Bucket == "":
			return Invalid("bucket", "must not be empty")
		case s.AccessKey == "":
			return Invalid("accessKey", "must not be empty")
		case s.Dir != "":
			return Invalid("dir", "an S3 store takes no directory")
		case strings.HasPrefix(s.Prefix, "/") || strings.Contains(s.Prefix, ".."):
			return Invalid("prefix", "%q must be a relative path without '..'", s.Prefix)
		}
	default:
		return Invalid("kind", "%q is not a backup store kind (dir or s3)", s.Kind)
	}
	return nil
}

// String says where the store keeps backups, without secrets.
func (s BackupStore) String() string {
	if s.Kind == BackupStoreDir {
		return "directory " + s.Dir
	}
	scheme := "http"
	if s.Secure {
		scheme = "https"
	}
	where := "s3://" + s.Bucket
	if s.Prefix != "" {
		where += "/" + strings.Trim(s.Prefix, "/")
	}
	return where + " at " + scheme + "://" + s.Endpoint
}

// JobState is where a backup, restore or drill is: queued, running, then succeeded or
// failed, exactly once.
type JobState string

// The states of backups, restores and drills.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
)

// Final reports whether s is an end state.
func (s JobState) Final() bool { return s == JobSucceeded || s == JobFailed }

// MaxJobAttempts is how many times a backup, restore or drill is claimed before one more
// interrupted attempt fails it: a job whose every worker dies with it must end.
const MaxJobAttempts = 3

// Backup is one backup set: for each data resource of an app in an environment, its dump
// (a part), and what is needed to bring the app back.
type Backup struct {
	ID             int64
	Team, App, Env string
	// Trigger says who asked: manual, schedule, or team (part of `berth backup team`).
	Trigger string
	State   JobState
	Reason  string
	// Store is the backup store it was written to, KeyID the backup key it is sealed with.
	Store string
	KeyID string
	// Contents is what brings the app back: its deployed revision, args, config and
	// secrets by name and version, and its resource definitions.
	Contents BackupContents
	Parts    []BackupPart
	// Size is the sum of its parts' stored sizes.
	Size int64
	// Slot is the schedule's time a scheduled backup is for; zero for others.
	Slot       time.Time
	CreatedBy  string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// PrunedAt is when retention deleted its parts from the store; zero while kept.
	PrunedAt     time.Time
	LeaseOwner   string
	LeaseExpires time.Time
	Attempts     int
}

// The triggers of backups.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerTeam     = "team"
)

// BackupContents is what a backup holds besides the data: enough to redeploy what ran.
type BackupContents struct {
	// Deploy, Revision and Args are the app's last successful deploy in the environment
	// when the backup was taken; zero when it had none.
	Deploy    int64             `json:"deploy,omitempty"`
	Revision  int64             `json:"revision,omitempty"`
	Args      map[string]string `json:"args,omitempty"`
	Config    []VersionRef      `json:"config,omitempty"`
	Secrets   []VersionRef      `json:"secrets,omitempty"`
	Resources []BackupResource  `json:"resources,omitempty"`
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
// SHA-256 as stored (encrypted), and each table's row count and checksum at backup time.
type BackupPart struct {
	Resource string     `json:"resource"`
	Type     string     `json:"type"`
	Object   string     `json:"object"`
	Size     int64      `json:"size"`
	SHA256   string     `json:"sha256"`
	Tables   []TableSum `json:"tables"`
}

// TableSum is one table's row count and order-independent checksum.
type TableSum struct {
	Schema   string `json:"schema"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// String names the table, schema first.
func (s TableSum) String() string { return s.Schema + "." + s.Table }

// CompareTables orders sums by schema, then table.
func CompareTables(a, b TableSum) int {
	return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Table, b.Table))
}

// CompareSums returns nil when got (a restored database's sums) holds the same tables
// with the same sums as want (a backup's), else an error naming the first table, by
// schema and name, that is missing, extra, or differs in rows or checksum.
func CompareSums(want, got []TableSum) error {
	want = slices.SortedFunc(slices.Values(want), CompareTables)
	got = slices.SortedFunc(slices.Values(got), CompareTables)
	for len(want) > 0 || len(got) > 0 {
		var c int
		switch {
		case len(want) == 0:
			c = 1
		case len(got) == 0:
			c = -1
		default:
			c = CompareTables(want[0], got[0])
		}
		switch {
		case c < 0:
			return fmt.Errorf("table %s is missing", want[0])
		case c > 0:
			return fmt.Errorf("table %s is extra", got[0])
		case want[0].Rows != got[0].Rows:
			return fmt.Errorf("table %s has %d rows, want %d", want[0], got[0].Rows, want[0].Rows)
		case want[0].Checksum != got[0].Checksum:
			return fmt.Errorf("table %s has other rows: checksum %s, want %s", want[0], got[0].Checksum, want[0].Checksum)
		}
		want, got = want[1:], got[1:]
	}
	return nil
}

// Rows is the number of rows in a part's tables.
func (p BackupPart) Rows() int64 {
	var n int64
	for _, t := range p.Tables {
		n += t.Rows
	}
	return n
}

// Restore is a backup restored into an environment's resources, or, as a drill, into a
// throwaway database that is checked against the backup and dropped.
type Restore struct {
	ID       int64
	BackupID int64
	// Team, App and Env are where it restores to: the backup's app, in Env.
	Team, App, Env string
	Drill          bool
	// Force restores over data; ToRevision also redeploys the backed-up revision.
	Force      bool
	ToRevision bool
	State      JobState
	Reason     string
	// Step is how far it got: restoring (into scratch databases), swapping (the checked
	// scratch databases become the targets), redeploying, or "" before.
	Step string
	// Deploy is the deploy ToRevision queued.
	Deploy int64
	// Duration is the measured restore time: from the first byte read to the last
	// checksum compared (drills), or to the swap (restores).
	Duration time.Duration
	// Slot is the schedule's time a scheduled drill is for.
	Slot         time.Time
	CreatedBy    string
	CreatedAt    time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
	LeaseOwner   string
	LeaseExpires time.Time
	Attempts     int
}

// The steps of a restore.
const (
	StepRestoring   = "restoring"
	StepSwapping    = "swapping"
	StepRedeploying = "redeploying"
)

// Kind is "drill" or "restore", for messages.
func (r Restore) Kind() string {
	if r.Drill {
		return "drill"
	}
	return "restore"
}

// BackupStatus is where the backups of an app in an environment stand: its latest
// successful backup, its latest finished drill and its latest passed one (nil: none).
type BackupStatus struct {
	Team, App, Env  string
	LastBackup      *Backup
	LastDrill       *Restore
	LastPassedDrill *Restore
}

// BackupSchedule is when an app's data in an environment is backed up and drilled, and
// how many backups are kept.
type BackupSchedule struct {
	Team, App, Env string
	// Cron is when backups run; Drill when the latest is restored into a throwaway
	// database and checked ("" never). Both are read in TimeZone (UTC when "").
	Cron     string
	Drill    string
	TimeZone string
	Keep     Retention
	// StaleAfter is how old the latest successful backup may get before it is announced
	// as stale; zero: twice the schedule's interval.
	StaleAfter time.Duration
	CreatedBy  string
	UpdatedAt  time.Time
}

// Retention is which successful backups are kept: the newest Last, plus the newest of
// each of the last Daily days and Weekly weeks (in the schedule's time zone).
type Retention struct {
	Last   int `json:"last"`
	Daily  int `json:"daily"`
	Weekly int `json:"weekly"`
}

// DefaultRetention keeps a week of dailies and a month of weeklies, and the last 7.
var DefaultRetention = Retention{Last: 7, Daily: 7, Weekly: 4}

// Validate checks the counts.
func (r Retention) Validate() error {
	for _, n := range []struct {
		f string
		v int
	}{{"keep.last", r.Last}, {"keep.daily", r.Daily}, {"keep.weekly", r.Weekly}} {
		if n.v < 0 || n.v > 1000 {
			return Invalid(n.f, "%d is not between 0 and 1000", n.v)
		}
	}
	if r.Last == 0 && r.Daily == 0 && r.Weekly == 0 {
		return Invalid("keep", "keeps no backup: keep at least the last one")
	}
	return nil
}

// Keep returns the ids of the backups that r keeps among done (successful, not pruned),
// reading days and weeks in loc. The newest is always kept.
func (r Retention) Keep(done []Backup, loc *time.Location) map[int64]bool {
	keep := map[int64]bool{}
	byNewest := make([]Backup, len(done))
	copy(byNewest, done)
	sortBackupsNewest(byNewest)
	if len(byNewest) > 0 {
		keep[byNewest[0].ID] = true
	}
	for i, b := range byNewest {
		if i < r.Last {
			keep[b.ID] = true
		}
	}
	pick := func(n int, period func(time.Time) string) {
		seen := map[string]bool{}
		for _, b := range byNewest {
			p := period(b.CreatedAt.In(loc))
			if seen[p] {
				continue
			}
			if len(seen) == n {
				return
			}
			seen[p] = true
			keep[b.ID] = true
		}
	}
	pick(r.Daily, func(t time.Time) string { return t.Format(time.DateOnly) })
	pick(r.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) })
	return keep
}

// sortBackupsNewest sorts by creation, newest first (ids break ties).
func sortBackupsNewest(bs []Backup) {
	slices.SortFunc(bs, func(a, b Backup) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

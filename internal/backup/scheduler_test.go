package backup_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-dev/berth/internal/backup"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// fakeClock is the time of the scheduler and the store in a test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// chatLog records what was posted.
type chatLog struct {
	mu    sync.Mutex
	posts []string
}

func (c *chatLog) Post(_ context.Context, channel, text string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts = append(c.posts, channel+": "+text)
	return "1", nil
}

func (c *chatLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.posts
	c.posts = nil
	return out
}

// TestScheduledBackupsAndDrills: on a fake clock, a schedule's backups and drills run at
// their slots, once each however often the scheduler ticks; retention prunes the backups it
// does not keep, deleting their parts; a drill of a damaged backup fails and is announced
// once, and its recovery too; backups that stop coming are announced stale once; the
// metrics say all of it.
func TestScheduledBackupsAndDrills(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)}
	w := newWorld(t, store.WithClock(clock.Now))
	ctx := t.Context()
	w.exec("production", "INSERT INTO notes (body) VALUES ('one'), ('two')")
	w.tx(func(tx *store.Tx) error { return tx.SetTeamChatChannel(ctx, "shop", "C-SHOP") })
	w.tx(func(tx *store.Tx) error {
		return tx.SetBackupSchedule(ctx, berth.BackupSchedule{Team: "shop", App: "notes", Env: "production", Cron: "0 3 * * *", Drill: "0 5 * * *",
			TimeZone: "UTC", Keep: berth.Retention{Last: 2}, CreatedBy: "ann"})
	})
	e, _ := w.engine(nil, 5*time.Second)
	chat := &chatLog{}
	sched := backup.NewScheduler(w.st, w.stores, e, backup.SchedulerOptions{Now: clock.Now, Chat: chat})
	reg := prometheus.NewRegistry()
	reg.MustRegister(backup.NewMetrics(w.st, clock.Now, slog.New(slog.DiscardHandler)))

	tick := func() {
		t.Helper()
		for range 2 { // a second tick must change nothing
			if leader, err := sched.Tick(ctx); err != nil || !leader {
				t.Fatalf("tick at %s: leader %v, %v", clock.Now(), leader, err)
			}
		}
	}
	backups := func() []berth.Backup {
		t.Helper()
		bs, err := w.st.Backups(ctx, store.BackupFilter{Team: "shop", App: "notes", Env: "production"})
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	drills := func() []berth.Restore {
		t.Helper()
		ds, err := w.st.Restores(ctx, store.RestoreFilter{Team: "shop", App: "notes", Env: "production", Drill: true})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}

	tick()
	if n := len(backups()); n != 0 {
		t.Fatalf("%d backups before the first slot", n)
	}
	var first berth.Backup
	for day := 1; day <= 3; day++ {
		clock.Set(time.Date(2026, 12, day, 3, 0, 30, 0, time.UTC))
		tick()
		bs := backups()
		if len(bs) != day {
			t.Fatalf("day %d: %d backups", day, len(bs))
		}
		b := w.waitBackup(bs[0].ID)
		if b.State != berth.JobSucceeded || b.Trigger != berth.TriggerSchedule || !b.Slot.Equal(time.Date(2026, 12, day, 3, 0, 0, 0, time.UTC)) {
			t.Fatalf("day %d: %+v", day, b)
		}
		if day == 1 {
			first = b
		}
		clock.Set(time.Date(2026, 12, day, 5, 1, 0, 0, time.UTC))
		tick()
		ds := drills()
		if len(ds) != day {
			t.Fatalf("day %d: %d drills", day, len(ds))
		}
		if d := w.waitRestore(ds[0].ID); d.State != berth.JobSucceeded || d.BackupID != b.ID || d.Duration <= 0 {
			t.Fatalf("day %d: drill %+v", day, d)
		}
	}
	// Keep the last 2: the first is pruned, its part gone from the store.
	tick()
	pruned, err := w.st.Backup(ctx, first.ID)
	if err != nil || pruned.PrunedAt.IsZero() {
		t.Fatalf("the first backup is kept: %+v %v", pruned, err)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "backups", first.Parts[0].Object)); !os.IsNotExist(err) {
		t.Fatalf("the pruned part is still stored: %v", err)
	}
	if posts := chat.take(); len(posts) != 0 {
		t.Fatalf("announced with nothing wrong: %q", posts)
	}

	// Day 4: the backup is damaged once stored; the drill fails, announced once.
	clock.Set(time.Date(2026, 12, 4, 3, 0, 30, 0, time.UTC))
	tick()
	b := w.waitBackup(backups()[0].ID)
	file := filepath.Join(w.dir, "backups", b.Parts[0].Object)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-5] ^= 0x40
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 12, 4, 5, 1, 0, 0, time.UTC))
	tick()
	if d := w.waitRestore(drills()[0].ID); d.State != berth.JobFailed || !strings.Contains(d.Reason, "part db") {
		t.Fatalf("drill of a damaged backup: %+v", d)
	}
	tick()
	tick()
	posts := chat.take()
	if len(posts) != 1 || !strings.HasPrefix(posts[0], "C-SHOP: :rotating_light: Restore drill") || !strings.Contains(posts[0], "failed") ||
		!strings.Contains(posts[0], "part db") {
		t.Fatalf("announcements of the failed drill: %q", posts)
	}
	if v := testutil.ToFloat64(gaugeVec(t, reg, "berth_drill_last_failed")); v != 1 {
		t.Errorf("berth_drill_last_failed = %v", v)
	}

	// Day 5: a good backup, a good drill: the recovery is announced once.
	clock.Set(time.Date(2026, 12, 5, 3, 0, 30, 0, time.UTC))
	tick()
	good := w.waitBackup(backups()[0].ID)
	clock.Set(time.Date(2026, 12, 5, 5, 1, 0, 0, time.UTC))
	tick()
	if d := w.waitRestore(drills()[0].ID); d.State != berth.JobSucceeded {
		t.Fatalf("day 5 drill %+v", d)
	}
	tick()
	if posts := chat.take(); len(posts) != 1 || !strings.Contains(posts[0], "passed") {
		t.Fatalf("announcements of the recovery: %q", posts)
	}

	// Then no backup for three days (every server was down at 03:00): stale, said once.
	clock.Set(time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC))
	tick()
	tick()
	posts = chat.take()
	if len(posts) != 1 || !strings.Contains(posts[0], "stale") || !strings.Contains(posts[0], "backup "+strconv.FormatInt(good.ID, 10)) {
		t.Fatalf("announcements of stale backups: %q", posts)
	}
	if n := len(backups()); n != 5 {
		t.Errorf("a slot missed by hours was made up: %d backups", n)
	}
	for name, want := range map[string]float64{
		"berth_backup_stale":                          1,
		"berth_drill_last_failed":                     0,
		"berth_backup_last_success_timestamp_seconds": float64(good.FinishedAt.UnixMilli()) / 1000,
		"berth_backup_last_size_bytes":                float64(good.Size),
	} {
		if got := testutil.ToFloat64(gaugeVec(t, reg, name)); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// gaugeVec collects the one series of metric name from reg.
func gaugeVec(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			if len(mf.Metric) != 1 {
				t.Fatalf("%s: %d series", name, len(mf.Metric))
			}
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
			g.Set(mf.Metric[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

package service_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// TestBackupStaleAfter: twice the longest gap between a schedule's backups, so that a
// weekday schedule is not stale over its weekend; a schedule's own limit wins.
func TestBackupStaleAfter(t *testing.T) {
	saturday := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		sc   berth.BackupSchedule
		want time.Duration
	}{
		{berth.BackupSchedule{Cron: "0 3 * * *"}, 48 * time.Hour},
		{berth.BackupSchedule{Cron: "0 3 * * 1-5"}, 6 * 24 * time.Hour},
		{berth.BackupSchedule{Cron: "0 * * * *"}, 2 * time.Hour},
		{berth.BackupSchedule{Cron: "0 3 * * 1-5", StaleAfter: 30 * time.Hour}, 30 * time.Hour},
	} {
		got, err := service.BackupStaleAfter(tc.sc, saturday)
		if err != nil || got != tc.want {
			t.Errorf("%q (stale after %v): %v, %v; want %v", tc.sc.Cron, tc.sc.StaleAfter, got, err, tc.want)
		}
	}
	// Friday's backup is not stale on Sunday.
	sc := berth.BackupSchedule{Cron: "0 3 * * 1-5"}
	friday := time.Date(2026, 12, 4, 3, 5, 0, 0, time.UTC)
	if service.BackupStale(sc, friday, friday.Add(47*time.Hour)) {
		t.Error("a weekday schedule's Friday backup is stale on Sunday")
	}
	if _, _, err := service.BackupScheduleNext(berth.BackupSchedule{Cron: "@every 1s"}); err == nil {
		t.Error("@every accepted")
	}
}

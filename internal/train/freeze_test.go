package train_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

const webManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: registry.example.com/web:1}
`

// TestFreezeWindowsHoldTrainsAndDeploys: inside a freeze window of its target the train
// stays in the station and says so, and a deploy there is refused, but one made as an
// emergency (audited with its reason); a train frozen by its team stays too, and cannot be
// sent off early until unfrozen.
func TestFreezeWindowsHoldTrainsAndDeploys(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ann := f.user(t, "ann", "ann@example.com", "deployer")
	f.clock.set(lisbon(t, 9, 50))
	must(t)(f.svc.CreateTrain(ctx, f.root, berth.Train{Team: "shop", Name: "daily", Schedule: "0 10 * * *", TimeZone: "Europe/Lisbon",
		From: "staging", To: "production", Channel: "C-TRAINS"}))
	must(t)(f.svc.FreezeEnvironment(ctx, f.root, berth.FreezeWindow{Env: "production", Start: f.clock.now(),
		End: f.clock.now().Add(2 * time.Hour), Reason: "launch week"}))

	s := f.scheduler()
	tick(t, s)
	f.clock.set(lisbon(t, 10, 0))
	tick(t, s)
	run := f.run(t, "shop", "daily")
	if run.State != berth.TrainHeld || !strings.Contains(run.Reason, "production is frozen") || !strings.Contains(run.Reason, "launch week") {
		t.Fatalf("run at departure inside a freeze window: %s %q", run.State, run.Reason)
	}
	posts := f.chat.posts("C-TRAINS")
	if len(posts) != 1 {
		t.Fatalf("posts %q, want one saying the train stays", posts)
	}
	contains(t, "the post", posts[0], "shop/daily train stays in the station", "production is frozen", "launch week", "Nothing was promoted")

	// A deploy there is refused; an emergency passes, audited with its reason.
	_, err := f.svc.CreateDeploy(ctx, ann, service.DeployRequest{Team: "shop", App: "web", Env: "production", Manifest: webManifest})
	var frozen *berth.FrozenError
	if !errors.As(err, &frozen) || !errors.Is(err, berth.ErrConflict) {
		t.Fatalf("deploy inside the window: %v, want a FrozenError", err)
	}
	d, err := f.svc.CreateDeploy(ctx, ann, service.DeployRequest{Team: "shop", App: "web", Env: "production", Manifest: webManifest,
		Options: berth.DeployOptions{Emergency: "checkout is down"}})
	if err != nil || d.State != berth.DeployQueued {
		t.Fatalf("emergency deploy: %+v %v", d, err)
	}
	evs, err := f.st.ListAudit(ctx, berth.AuditFilter{Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	var emergencies []berth.AuditEvent
	for _, ev := range evs {
		if ev.Action == "deploy.emergency" {
			emergencies = append(emergencies, ev)
		}
	}
	if len(emergencies) != 1 || !strings.Contains(fmt.Sprint(emergencies[0].Details), "checkout is down") {
		t.Fatalf("emergency audit events %+v", emergencies)
	}

	// The team freezes its train: the next departure stays, and none leaves early.
	f.clock.set(lisbon(t, 12, 30)) // the window is over
	must(t)(f.svc.FreezeTrain(ctx, ann, "shop", "daily", f.clock.now().Add(48*time.Hour), "migration weekend"))
	if _, err := f.svc.DepartTrain(ctx, ann, "shop", "daily"); !errors.Is(err, berth.ErrConflict) || !strings.Contains(err.Error(), "frozen until") {
		t.Fatalf("sending a frozen train off: %v", err)
	}
	tick(t, s) // schedules tomorrow's
	f.clock.set(lisbon(t, 10, 0).Add(24 * time.Hour))
	tick(t, s)
	run = f.run(t, "shop", "daily")
	if run.State != berth.TrainHeld || !strings.Contains(run.Reason, "migration weekend") || !run.Slot.Equal(lisbon(t, 10, 0).Add(24*time.Hour)) {
		t.Fatalf("the frozen train's run: %+v", run)
	}
	must(t)(f.svc.FreezeTrain(ctx, ann, "shop", "daily", time.Time{}, ""))
	if _, err := f.svc.DepartTrain(ctx, ann, "shop", "daily"); err != nil {
		t.Fatalf("sending the unfrozen train off: %v", err)
	}
	// Dave, a viewer, may delay it but not send it off or freeze it.
	if _, err := f.svc.DepartTrain(ctx, f.dave, "shop", "daily"); err == nil {
		t.Error("a viewer sent the train off")
	}
	if _, err := f.svc.FreezeTrain(ctx, f.dave, "shop", "daily", f.clock.now().Add(time.Hour), "no"); err == nil {
		t.Error("a viewer froze the train")
	}
}

// TestOneSchedulerLeads: of two servers' schedulers sharing a store, one leads; the other
// takes over once the leader stopped (its lease released) or died (its lease expired).
func TestOneSchedulerLeads(t *testing.T) {
	f := newFixture(t)
	a, b := f.scheduler(), f.scheduler()
	tick(t, a)
	if leader, err := b.Tick(t.Context()); leader || err != nil {
		t.Fatalf("a second scheduler led while the first held the lease: %t %v", leader, err)
	}
	// a dies: its lease runs out (2 s in these tests) and b takes over.
	f.clock.set(f.clock.now().Add(3 * time.Second))
	tick(t, b)
	if leader, _ := a.Tick(t.Context()); leader {
		t.Fatal("the dead scheduler's lease came back")
	}
	// b stops (Run gives the lease up as it ends): a takes over at once.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	cancel()
	<-done
	tick(t, a)
}

// TestMissedDepartures: a departure no server ran at its time (all were down) does not
// leave hours late and unannounced when one comes back: it ends missed, and says so.
func TestMissedDepartures(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.clock.set(lisbon(t, 9, 30))
	must(t)(f.svc.CreateTrain(ctx, f.root, berth.Train{Team: "shop", Name: "daily", Schedule: "0 10 * * *", TimeZone: "Europe/Lisbon",
		From: "staging", To: "production", Channel: "C-TRAINS"}))
	s := f.scheduler()
	tick(t, s)
	f.clock.set(lisbon(t, 12, 0)) // the servers were down from 09:30 to 12:00
	tick(t, f.scheduler())
	run := f.run(t, "shop", "daily")
	if run.State != berth.TrainHeld || !strings.Contains(run.Reason, "missed: it was due at 10:00 WET and no server ran it until 12:00 WET") {
		t.Fatalf("a departure 2 hours late: %s %q", run.State, run.Reason)
	}
	if posts := f.chat.posts("C-TRAINS"); len(posts) != 1 || !strings.Contains(posts[0], "The next one leaves on schedule") {
		t.Fatalf("posts %q", posts)
	}
}

package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// TestProbesPage: the probes page, in the navigation for every user, shows each probed
// environment's latest run step by step (times to the microsecond, the failing step named
// and its error escaped), when it last passed, and a run in flight; "Run now" queues a run
// (or joins the one in flight) for any signed-in user and says which.
func TestProbesPage(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	ctx := t.Context()
	admin, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"staging", "production"} {
		if _, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: env, InCluster: true}); err != nil {
			t.Fatal(err)
		}
	}
	const hostile = `<script>alert(1)</script>`
	finish := func(env string, state berth.JobState, reason string, steps []berth.ProbeStep) berth.ProbeRun {
		t.Helper()
		var r berth.ProbeRun
		err := st.Tx(ctx, func(tx *store.Tx) (err error) {
			_, _, err = tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: env, Trigger: berth.TriggerManual, CreatedBy: "admin"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		claimed, ok, err := st.ClaimProbeRun(ctx, "w", time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		err = st.Tx(ctx, func(tx *store.Tx) (err error) {
			r, err = tx.FinishProbeRun(ctx, claimed.ID, "w", state, reason, steps)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	now := time.Now().UTC()
	passed := finish("staging", berth.JobSucceeded, "", []berth.ProbeStep{{Name: "scheduled", Started: now, Duration: time.Second, OK: true}})
	failed := finish("staging", berth.JobFailed, "queue failed: nats: no servers available "+hostile, []berth.ProbeStep{
		{Name: "scheduled", Started: now, Duration: 1200 * time.Millisecond, OK: true},
		{Name: "dns", Started: now, Duration: 412 * time.Microsecond, OK: true, Detail: "probe.berth-probes.svc -> 10.96.0.7"},
		{Name: "queue", Started: now, Duration: 10 * time.Second, Error: "nats: no servers available " + hostile}})

	c := client(t)
	_, csrf := webtest.SignInForm(t, c, srv.URL, adminToken)
	resp, body := get(t, c, srv.URL+"/probes")
	if resp.StatusCode != 200 {
		t.Fatalf("probes page: %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{`href="/probes" aria-current="page"`, `data-env="staging"`, `data-health="failing"`,
		"queue failed: nats: no servers available &lt;script&gt;", `data-step="queue" data-ok="false"`, "412µs", "1.2s",
		fmt.Sprintf("#%d · manual", failed.ID), `class="last-success"><time datetime="` + passed.FinishedAt.Format(time.RFC3339),
		"probe.berth-probes.svc -&gt; 10.96.0.7", `action="/probes/staging/runs"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the probes page lacks %q", want)
		}
	}
	if strings.Contains(body, hostile) {
		t.Error("the probes page holds an error's markup unescaped")
	}
	if strings.Contains(body, `data-env="production"`) {
		t.Error("the page shows production, which has no probe settings and no runs")
	}

	// Run now, as a user of no team: queued, then joined.
	if _, err := svc.CreateUser(ctx, admin, berth.User{Name: "vera"}); err != nil {
		t.Fatal(err)
	}
	_, veraToken, err := svc.CreateToken(ctx, admin, "vera", "browser", 0)
	if err != nil {
		t.Fatal(err)
	}
	vc := client(t)
	_, vcsrf := webtest.SignInForm(t, vc, srv.URL, veraToken)
	var runs []string
	for range 2 {
		resp, _ := postForm(t, vc, srv.URL+"/probes/staging/runs", url.Values{"csrf": {vcsrf}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/probes?run=") {
			t.Fatalf("Run now: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		runs = append(runs, resp.Header.Get("Location"))
	}
	if runs[0] != runs[1] {
		t.Errorf("a second Run now queued another run: %v", runs)
	}
	_, body = get(t, vc, srv.URL+runs[0])
	if !strings.Contains(body, "is on its way") || !strings.Contains(body, `class="badge busy" title="run #`) {
		t.Errorf("the page after Run now does not say the run is on its way and queued:\n%s", body)
	}
	if resp, _ := postForm(t, c, srv.URL+"/probes/nowhere/runs", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("Run now in an unknown environment: %d", resp.StatusCode)
	}
}

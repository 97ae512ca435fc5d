package web

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// TestTrainPages: a team's trains page, linked from the front page, lists its trains
// with their next departures (a frozen one says until when); a train's page shows its
// settings, its next departure in its time zone with the delays left and the cars on it
// with their commits (messages escaped, authors by name and login, never their email,
// a commit URL that is no web page's not linked), and its history with links to the
// cars' deploys. Another team's viewer is refused; an unknown train is not found.
func TestTrainPages(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	ctx := t.Context()
	d := queuedDeploy(t, svc) // team shop, app web, environment staging
	admin, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	staging, err := st.Environment(ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "production", Kubeconfig: staging.Kubeconfig}); err != nil {
		t.Fatal(err)
	}
	release, err := svc.CreateTrain(ctx, admin, berth.Train{Team: "shop", Name: "release", Apps: []string{"web"}, Schedule: "0 10 * * 1-5",
		TimeZone: "Europe/Lisbon", From: "staging", To: "production", Channel: "C0TRAINS"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTrain(ctx, admin, berth.Train{Team: "shop", Name: "nightly", Schedule: "@daily", From: "staging", To: "production"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FreezeTrain(ctx, admin, "shop", "nightly", time.Now().Add(24*time.Hour), "incident 42"); err != nil {
		t.Fatal(err)
	}

	const hostile = `<script>alert(1)</script>`
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	// Tomorrow at 10:00 in Lisbon: announced, web on it with two commits of three.
	slot := time.Now().In(lisbon).AddDate(0, 0, 1)
	slot = time.Date(slot.Year(), slot.Month(), slot.Day(), 10, 0, 0, 0, lisbon)
	car := berth.TrainCar{App: "web", Source: d.ID, Revision: d.Revision, Total: 3, State: berth.CarWaiting, Commits: []berth.Commit{
		{SHA: "0123456789abcdef0123456789abcdef01234567", Message: "Add the cart " + hostile, AuthorName: "Alice Liddell",
			AuthorEmail: "alice@example.com", AuthorLogin: "alice", URL: "http://127.0.0.1:3000/shop/web/commit/0123456789abcdef"},
		{SHA: "fedcba9876543210fedcba9876543210fedcba98", Message: "Fix the totals", AuthorName: "Bob", AuthorEmail: "bob@example.com",
			URL: "javascript:alert(2)"},
	}}
	var next, stopped berth.TrainRun
	err = st.Tx(ctx, func(tx *store.Tx) error {
		old, err := tx.ScheduleTrainRun(ctx, release.ID, slot.AddDate(0, 0, -3))
		if err != nil {
			return err
		}
		failed := car
		failed.Commits, failed.Deploy, failed.State, failed.Reason = nil, d.ID, berth.CarFailed, "rollout timed out"
		if stopped, err = tx.UpdateTrainRun(ctx, old.ID, store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainStopped,
			Reason: "web failed: the line stopped there", Cars: []berth.TrainCar{failed}}); err != nil {
			return err
		}
		if next, err = tx.ScheduleTrainRun(ctx, release.ID, slot); err != nil {
			return err
		}
		next, err = tx.UpdateTrainRun(ctx, next.ID, store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainAnnounced,
			Cars: []berth.TrainCar{car}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	page := func(session, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b)
	}
	session := signIn(t, svc, adminToken)
	if _, body := page(session, "/"); !strings.Contains(body, `href="/teams/shop/trains"`) {
		t.Errorf("the front page does not link to shop's trains")
	}

	departs := slot.Format("Mon 2006-01-02 15:04 MST")
	status, body := page(session, "/teams/shop/trains")
	if status != 200 {
		t.Fatalf("trains page: %d\n%s", status, body)
	}
	for _, want := range []string{`href="/teams/shop/trains/release"`, `href="/teams/shop/trains/nightly"`, "<code>0 10 * * 1-5</code>",
		"Europe/Lisbon", "staging → production", departs, "2 of 2 delays left today", "frozen until", `title="incident 42"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the trains page lacks %q", want)
		}
	}
	if strings.Count(body, "data-train=") != 2 {
		t.Errorf("the trains page lists other than shop's two trains")
	}

	status, body = page(session, "/teams/shop/trains/release")
	if status != 200 {
		t.Fatalf("release's page: %d\n%s", status, body)
	}
	for _, want := range []string{
		"<code>0 10 * * 1-5</code> in Europe/Lisbon", "15m before it leaves", "C0TRAINS", "30m each, at most 2 a day",
		"<strong>" + departs + "</strong>", "2 of 2 delays left today",
		"Add the cart &lt;script&gt;alert(1)&lt;/script&gt;", "Alice Liddell (alice)", "Bob",
		`<a href="http://127.0.0.1:3000/shop/web/commit/0123456789abcdef">0123456789ab</a>`, `title="fedcba9876543210fedcba9876543210fedcba98">fedcba987654</span>`,
		"and 1 more", `data-run="` + fmt.Sprint(next.ID) + `"`, `data-run="` + fmt.Sprint(stopped.ID) + `"`,
		"web failed: the line stopped there", `<a href="/deploys/` + fmt.Sprint(d.ID) + `">#` + fmt.Sprint(d.ID) + `</a>`, "rollout timed out",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("release's page lacks %q", want)
		}
	}
	if strings.Contains(body, hostile) || strings.Contains(body, "@example.com") || strings.Contains(body, `href="javascript:`) ||
		strings.Contains(body, "ZgotmplZ") {
		t.Errorf("release's page holds markup unescaped, an author's email or a link that is no web page's:\n%s", body)
	}

	status, body = page(session, "/teams/shop/trains/nightly")
	if status != 200 || !strings.Contains(body, "incident 42") || !strings.Contains(body, "berth train unfreeze nightly --team shop") ||
		!strings.Contains(body, "every app of the team, by name") || !strings.Contains(body, "No runs yet") {
		t.Errorf("nightly's page: %d\n%s", status, body)
	}

	for _, step := range []func() error{
		func() error { _, err := svc.CreateTeam(ctx, admin, "other"); return err },
		func() error { _, err := svc.CreateUser(ctx, admin, berth.User{Name: "bob"}); return err },
		func() error { _, err := svc.SetMember(ctx, admin, "other", "bob", "viewer"); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	_, bobToken, err := svc.CreateToken(ctx, admin, "bob", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	bob := signIn(t, svc, bobToken)
	for _, c := range []struct {
		session, path string
		status        int
	}{
		{bob, "/teams/shop/trains", http.StatusForbidden},
		{bob, "/teams/shop/trains/release", http.StatusForbidden},
		{session, "/teams/shop/trains/nope", http.StatusNotFound},
		{session, "/teams/nope/trains", http.StatusNotFound},
	} {
		if status, body := page(c.session, c.path); status != c.status {
			t.Errorf("%s: %d, want %d\n%s", c.path, status, c.status, body)
		}
	}
}

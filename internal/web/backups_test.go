package web

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// Values the backups page must never show.
const (
	pgPasswordOnPage = "web-db-password-3f9a"
	s3SecretOnPage   = "s3-secret-key-never-shown-71c2"
)

// backupFixture is the dashboard over a store whose clock can be set back, so that
// backups and drills can end days ago; the service and the handler keep the real time.
type backupFixture struct {
	t   *testing.T
	srv *httptest.Server
	svc *service.Service
	st  *store.Store
	ago atomic.Int64 // how far back the store's clock is set
}

func newBackupFixture(t *testing.T) *backupFixture {
	t.Helper()
	f := &backupFixture{t: t}
	key, err := seal.NewKey(make([]byte, 32)) // resource and backup store secrets are sealed
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key),
		store.WithClock(func() time.Time { return time.Now().Add(-time.Duration(f.ago.Load())) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	f.st, f.svc = st, service.New(st, log, time.Now)
	if _, err := f.svc.Bootstrap(t.Context(), adminToken); err != nil {
		t.Fatal(err)
	}
	h, err := New(f.svc, log)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// at runs fn with the store's clock set back by ago.
func (f *backupFixture) at(ago time.Duration, fn func()) {
	f.ago.Store(int64(ago))
	defer f.ago.Store(0)
	fn()
}

var webPart = berth.BackupPart{Resource: "db", Type: "postgres", Object: "shop/web/db.dump.sealed", Size: 4096,
	SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Tables: []berth.TableSum{
		{Schema: "public", Table: "notes", Rows: 1200, Checksum: "c0ffee01"},
		{Schema: "public", Table: "tags", Rows: 4, Checksum: "c0ffee02"},
	}}

// backup makes a backup of shop/web in env that ended ago in state, as the engine would:
// a successful one holds webPart (1204 rows, 4 KiB) and revision 1, a failed one reason.
func (f *backupFixture) backup(env string, ago time.Duration, state berth.JobState, reason string) berth.Backup {
	f.t.Helper()
	ctx := f.t.Context()
	var b berth.Backup
	f.at(ago, func() {
		err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
			storeName, err := tx.EnvironmentBackupStore(ctx, env)
			if err != nil {
				return err
			}
			b, _, err = tx.EnqueueBackup(ctx, store.NewBackup{Team: "shop", App: "web", Env: env, Trigger: berth.TriggerSchedule,
				Store: storeName, CreatedBy: "schedule"})
			return err
		})
		if err != nil {
			f.t.Fatal(err)
		}
		if got, ok, err := f.st.ClaimBackup(ctx, "test-worker", time.Minute); err != nil || !ok || got.ID != b.ID {
			f.t.Fatalf("claimed backup %d %v %v, want %d", got.ID, ok, err, b.ID)
		}
		err = f.st.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.StartBackup(ctx, b.ID, "test-worker", "k1", berth.BackupContents{Deploy: 1, Revision: 1}); err != nil {
				return err
			}
			if state == berth.JobSucceeded {
				if err := tx.AddBackupPart(ctx, b.ID, "test-worker", webPart); err != nil {
					return err
				}
			}
			b, err = tx.FinishBackup(ctx, b.ID, "test-worker", state, reason)
			return err
		})
		if err != nil {
			f.t.Fatal(err)
		}
	})
	return b
}

// restore makes a restore of backup into env (or, drill, a drill of it) that ended ago in
// state, having taken took.
func (f *backupFixture) restore(backup int64, env string, drill bool, ago time.Duration, state berth.JobState, reason string, took time.Duration) berth.Restore {
	f.t.Helper()
	ctx := f.t.Context()
	var r berth.Restore
	f.at(ago, func() {
		err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
			r, _, err = tx.EnqueueRestore(ctx, store.NewRestore{BackupID: backup, Team: "shop", App: "web", Env: env, Drill: drill,
				Force: !drill, CreatedBy: "admin"})
			return err
		})
		if err != nil {
			f.t.Fatal(err)
		}
		if got, ok, err := f.st.ClaimRestore(ctx, "test-worker", time.Minute); err != nil || !ok || got.ID != r.ID {
			f.t.Fatalf("claimed restore %d %v %v, want %d", got.ID, ok, err, r.ID)
		}
		err = f.st.Tx(ctx, func(tx *store.Tx) (err error) {
			r, err = tx.FinishRestore(ctx, r.ID, "test-worker", state, reason, took)
			return err
		})
		if err != nil {
			f.t.Fatal(err)
		}
	})
	return r
}

// user makes a user with role in team (made when missing) and returns a session of theirs.
func (f *backupFixture) user(name, team, role string) string {
	f.t.Helper()
	ctx := f.t.Context()
	admin, err := f.svc.Authenticate(ctx, adminToken)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.Team(ctx, team); errors.Is(err, berth.ErrNotFound) {
		if _, err := f.svc.CreateTeam(ctx, admin, team); err != nil {
			f.t.Fatal(err)
		}
	}
	if _, err := f.svc.CreateUser(ctx, admin, berth.User{Name: name}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.SetMember(ctx, admin, team, name, role); err != nil {
		f.t.Fatal(err)
	}
	_, token, err := f.svc.CreateToken(ctx, admin, name, "browser", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return signIn(f.t, f.svc, token)
}

func (f *backupFixture) get(session, path string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(f.t.Context(), "GET", f.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// post sends a form from session's pages: with the session's CSRF token, as its browser
// would.
func (f *backupFixture) post(session, path string, form url.Values) (*http.Response, string) {
	f.t.Helper()
	_, body := f.get(session, "/")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("no CSRF token on the front page:\n%s", body)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", m[1])
	return postRaw(f.t, f.srv.URL+path, []*http.Cookie{{Name: "berth_session", Value: session}}, form, nil)
}

// restores returns every restore and drill of shop, newest first.
func (f *backupFixture) restores() []berth.Restore {
	f.t.Helper()
	var out []berth.Restore
	for _, drill := range []bool{false, true} {
		rs, err := f.st.Restores(f.t.Context(), store.RestoreFilter{Team: "shop", Drill: drill, Limit: 1000})
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, rs...)
	}
	slices.SortFunc(out, func(a, b berth.Restore) int { return cmp.Compare(b.ID, a.ID) })
	return out
}

// envSection is the part of the backups page about env.
func envSection(t *testing.T, body, env string) string {
	t.Helper()
	i := strings.Index(body, `id="backups-`+env+`"`)
	if i < 0 {
		t.Fatalf("the backups page has no section for %s", env)
	}
	end := strings.Index(body[i:], "</section>")
	return body[i : i+end]
}

var restoreForm = regexp.MustCompile(`action="/apps/shop/web/backups/(\d+)/restore"`)

// TestBackupsPage: an app's backups page, linked from the app's page, shows per
// environment its schedule (or that it has none), its last successful backup with size
// and rows, its last drill with the measured restore time, a STALE badge where the latest
// successful backup is older than the schedule allows and a FAILED badge where the
// latest drill failed (and neither elsewhere), its backups (pruned and failed ones
// marked, with why, escaped) and the restores into it and drills of it. Team admins get
// a restore form per kept backup, with every environment to restore into (the backup's
// own chosen), force and redeploy checkboxes and a confirmation; deployers and viewers do
// not, and deployers get Back up now and Run a drill. Nothing secret is on the page.
func TestBackupsPage(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	queuedDeploy(t, f.svc) // team shop, app web, environment staging
	admin, err := f.svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	staging, err := f.st.Environment(ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"production", "sandbox"} {
		if _, err := f.svc.CreateEnvironment(ctx, admin, berth.Environment{Name: env, Kubeconfig: staging.Kubeconfig}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.SetBackupStore(ctx, admin, berth.BackupStore{Name: "offsite", Kind: berth.BackupStoreS3, Endpoint: "127.0.0.1:9000",
		Bucket: "berth", AccessKey: "berth-access"}, s3SecretOnPage); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetEnvBackupStore(ctx, admin, "production", "offsite"); err != nil {
		t.Fatal(err)
	}
	err = f.st.Tx(ctx, func(tx *store.Tx) error {
		for _, env := range []string{"staging", "production"} {
			db := berth.Resource{Env: env, Team: "shop", App: "web", Name: "db", Type: "postgres", Provisioner: "builtin/postgres",
				UID: berth.ResourceUID("postgres", "", "", "shop", "web", "db"), Outputs: map[string]string{"host": "db.example"}}
			if _, _, err := tx.SaveResource(ctx, db, berth.ResourceSecrets{Outputs: map[string]string{"password": pgPasswordOnPage,
				"url": "postgres://web:" + pgPasswordOnPage + "@db.example/web"}}, "deploy 1"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.at(100*time.Hour, func() {
		for _, sc := range []berth.BackupSchedule{
			{Team: "shop", App: "web", Env: "staging", Cron: "0 3 * * *", Drill: "0 4 * * 0", TimeZone: "Europe/Lisbon",
				Keep: berth.Retention{Last: 3, Daily: 7, Weekly: 4}, StaleAfter: 36 * time.Hour},
			{Team: "shop", App: "web", Env: "production", Cron: "0 * * * *"}, // stale after twice an hour
		} {
			if _, err := f.svc.SetBackupSchedule(ctx, admin, sc); err != nil {
				t.Fatal(err)
			}
		}
	})

	// staging: its last successful backup is 50 hours old, past its 36h: stale; its
	// drill passed. production: backed up half an hour ago, but its latest drill failed.
	const hostile = `<script>alert(1)</script>`
	pruned := f.backup("staging", 72*time.Hour, berth.JobSucceeded, "")
	f.at(24*time.Hour, func() {
		if err := f.st.Tx(ctx, func(tx *store.Tx) error { return tx.MarkBackupPruned(ctx, pruned.ID) }); err != nil {
			t.Fatal(err)
		}
	})
	kept := f.backup("staging", 50*time.Hour, berth.JobSucceeded, "")
	stagingDrill := f.restore(kept.ID, "staging", true, 49*time.Hour, berth.JobSucceeded, "", 1500*time.Millisecond)
	failed := f.backup("staging", time.Hour, berth.JobFailed, "part db: pg_dump exited 1 "+hostile)
	p1 := f.backup("production", 3*time.Hour, berth.JobSucceeded, "")
	passedDrill := f.restore(p1.ID, "production", true, 2*time.Hour, berth.JobSucceeded, "", 2*time.Second)
	intoSandbox := f.restore(p1.ID, "sandbox", false, 90*time.Minute, berth.JobSucceeded, "", 2500*time.Millisecond)
	p2 := f.backup("production", 30*time.Minute, berth.JobSucceeded, "")
	failedDrill := f.restore(p2.ID, "production", true, 20*time.Minute, berth.JobFailed,
		"part db: table public.notes has 1199 rows, want 1200", 1200*time.Millisecond)

	session := signIn(t, f.svc, adminToken)
	if status, body := f.get(session, "/apps/shop/web"); status != 200 || !strings.Contains(body, `href="/apps/shop/web/backups"`) {
		t.Errorf("the app's page (%d) does not link to its backups", status)
	}
	status, body := f.get(session, "/apps/shop/web/backups")
	if status != 200 {
		t.Fatalf("backups page: %d\n%s", status, body)
	}
	if strings.Count(body, `class="card backups-env"`) != 3 {
		t.Errorf("the page has other than a section for each of staging, production and sandbox")
	}
	id := func(n int64) string { return fmt.Sprint(n) }
	stg, prod, sbx := envSection(t, body, "staging"), envSection(t, body, "production"), envSection(t, body, "sandbox")
	for _, c := range []struct {
		name, section string
		want, not     []string
	}{
		{"staging", stg, []string{
			`data-alarm="stale"`, ">STALE<", "The last successful backup, #" + id(kept.ID) + ", finished 2 days ago; backups are stale after 36h.",
			"<code>0 3 * * *</code> in Europe/Lisbon", "<code>0 4 * * 0</code>", "the last 3, 7 daily, 4 weekly", "<dd>36h</dd>",
			"#" + id(kept.ID) + " ", "4.0 KiB · 1204 rows",
			`<span class="badge ok">passed</span> #` + id(stagingDrill.ID) + " of backup #" + id(kept.ID) + " · restored in 1.5s",
			`data-backup="` + id(pruned.ID) + `"`, `class="badge pruned"`, `data-backup="` + id(failed.ID) + `"`,
			"pg_dump exited 1 &lt;script&gt;alert(1)&lt;/script&gt;", `data-restore="` + id(stagingDrill.ID) + `"`,
			`action="/apps/shop/web/envs/staging/backups"`, `action="/apps/shop/web/envs/staging/drills"`,
		}, []string{`data-alarm="drill-failed"`, ">FAILED<", hostile}},
		{"production", prod, []string{
			`data-alarm="drill-failed"`, ">FAILED<", "The latest restore drill, #" + id(failedDrill.ID) + ", failed",
			"table public.notes has 1199 rows, want 1200", "<code>0 * * * *</code> in UTC", "2h (twice the schedule&#39;s interval)",
			`<span class="badge bad">failed</span> #` + id(failedDrill.ID) + " of backup #" + id(p2.ID) + " · restored in 1.2s",
			"last passed: #" + id(passedDrill.ID) + " of backup #" + id(p1.ID) + ", restored in 2s", "to offsite",
		}, []string{`data-alarm="stale"`, ">STALE<"}},
		{"sandbox", sbx, []string{
			"<dd>not scheduled</dd>", `data-restore="` + id(intoSandbox.ID) + `"`, "#" + id(p1.ID) + ` <span class="sub">of production</span>`,
			"forced", "2.5s", "No backups here yet.",
		}, []string{`data-alarm=`, `envs/sandbox/backups"`, `envs/sandbox/drills"`}},
	} {
		for _, want := range c.want {
			if !strings.Contains(c.section, want) {
				t.Errorf("%s's section lacks %q", c.name, want)
			}
		}
		for _, not := range c.not {
			if strings.Contains(c.section, not) {
				t.Errorf("%s's section holds %q", c.name, not)
			}
		}
	}

	// A restore form for each kept backup, neither the pruned nor the failed one.
	var forms []string
	for _, m := range restoreForm.FindAllStringSubmatch(body, -1) {
		forms = append(forms, m[1])
	}
	if want := []string{id(p2.ID), id(p1.ID), id(kept.ID)}; fmt.Sprint(forms) != fmt.Sprint(want) {
		t.Errorf("restore forms for backups %v, want %v", forms, want)
	}
	for _, want := range []string{
		`<option value="production">production</option><option value="sandbox">sandbox</option><option value="staging" selected>staging</option>`,
		`name="force" value="true"> force (replace the data the target holds)`,
		`name="toRevision" value="true"> also redeploy the backed-up revision (1)`,
		`Type <strong>web</strong> to confirm`, `id="restore-` + id(kept.ID) + `-confirm" name="confirm"`,
	} {
		if !strings.Contains(stg, want) {
			t.Errorf("staging's restore form lacks %q", want)
		}
	}
	if !strings.Contains(prod, `<option value="production" selected>`) {
		t.Errorf("production's backups are not restored into production by default")
	}
	for _, secret := range []string{pgPasswordOnPage, s3SecretOnPage, adminToken, session, "postgres://", "ZgotmplZ", hostile} {
		if strings.Contains(body, secret) {
			t.Errorf("the backups page holds %q", secret)
		}
	}

	// A deployer may back up and drill, not restore; a viewer may do none of it.
	dan, vic := f.user("dan", "shop", "deployer"), f.user("vic", "shop", "viewer")
	for _, c := range []struct {
		who, session string
		want, not    []string
	}{
		{"deployer", dan, []string{"Back up now", "Run a drill", "Restores are not offered to you", "needs role admin"},
			[]string{"/restore\"", "Backing up and drilling are not offered"}},
		{"viewer", vic, []string{"Restores are not offered to you", "Backing up and drilling are not offered to you", "needs role deployer"},
			[]string{"/restore\"", "Back up now", "Run a drill", `name="confirm"`}},
	} {
		status, body := f.get(c.session, "/apps/shop/web/backups")
		if status != 200 {
			t.Fatalf("the %s's page: %d", c.who, status)
		}
		for _, want := range c.want {
			if !strings.Contains(body, want) {
				t.Errorf("the %s's page lacks %q", c.who, want)
			}
		}
		for _, not := range c.not {
			if strings.Contains(body, not) {
				t.Errorf("the %s's page holds %q", c.who, not)
			}
		}
	}

	// Another team's member is refused, as on every page of a team; unknown apps are not found.
	bob := f.user("bob", "other", "viewer")
	for _, c := range []struct {
		session, path string
		status        int
	}{
		{bob, "/apps/shop/web/backups", http.StatusForbidden},
		{session, "/apps/shop/nope/backups", http.StatusNotFound},
		{session, "/apps/nope/web/backups", http.StatusNotFound},
	} {
		if status, body := f.get(c.session, c.path); status != c.status {
			t.Errorf("%s: %d, want %d\n%s", c.path, status, c.status, body)
		}
	}
}

// TestBackupsPageForms: restoring from the page needs the app's name typed: then the
// restore is queued as posted (target, force, redeploy) and the page says so; a wrong or
// missing name queues nothing and the page says why. A deployer's restore, another team's
// member's and a form without the session's CSRF token queue nothing either. Deployers
// back up now and drill the latest kept backup.
func TestBackupsPageForms(t *testing.T) {
	f := newBackupFixture(t)
	ctx := t.Context()
	queuedDeploy(t, f.svc)
	admin, err := f.svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	staging, err := f.st.Environment(ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "sandbox", Kubeconfig: staging.Kubeconfig}); err != nil {
		t.Fatal(err)
	}
	err = f.st.Tx(ctx, func(tx *store.Tx) error {
		_, _, err := tx.SaveResource(ctx, berth.Resource{Env: "staging", Team: "shop", App: "web", Name: "db", Type: "postgres",
			Provisioner: "builtin/postgres", UID: berth.ResourceUID("postgres", "", "", "shop", "web", "db")},
			berth.ResourceSecrets{Outputs: map[string]string{"password": pgPasswordOnPage}}, "deploy 1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	older := f.backup("staging", 3*time.Hour, berth.JobSucceeded, "")
	b := f.backup("staging", time.Hour, berth.JobSucceeded, "")
	session := signIn(t, f.svc, adminToken)
	dan, bob := f.user("dan", "shop", "deployer"), f.user("bob", "other", "viewer")
	restorePath := fmt.Sprintf("/apps/shop/web/backups/%d/restore", older.ID)

	for _, c := range []struct {
		name, session string
		form          url.Values
		status        int
		says          string
	}{
		{"a wrong name", session, url.Values{"env": {"sandbox"}, "confirm": {"shop"}}, http.StatusBadRequest, "type the app&#39;s name, web, in the confirmation box"},
		{"no name", session, url.Values{"env": {"sandbox"}}, http.StatusBadRequest, "Nothing was queued."},
		{"a deployer", dan, url.Values{"env": {"sandbox"}, "confirm": {"web"}}, http.StatusForbidden, "needs role admin"},
		{"another team's member", bob, url.Values{"env": {"sandbox"}, "confirm": {"web"}}, http.StatusNotFound, "Not found"},
	} {
		resp, body := f.post(c.session, restorePath, c.form)
		if resp.StatusCode != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d, want %d saying %q\n%s", c.name, resp.StatusCode, c.status, c.says, body)
		}
	}
	resp, body := postRaw(t, f.srv.URL+restorePath, []*http.Cookie{{Name: "berth_session", Value: session}},
		url.Values{"env": {"sandbox"}, "confirm": {"web"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Form refused") {
		t.Errorf("without a CSRF token: %d\n%s", resp.StatusCode, body)
	}
	if rs := f.restores(); len(rs) != 0 {
		t.Fatalf("refused forms queued %+v", rs)
	}
	// The refused confirmation shows the page again, with its forms.
	if _, body := f.post(session, restorePath, url.Values{"env": {"sandbox"}, "confirm": {"Web"}}); !strings.Contains(body, `role="alert"`) ||
		!restoreForm.MatchString(body) {
		t.Errorf("the refused confirmation does not show the page with the error:\n%s", body)
	}

	resp, _ = f.post(session, restorePath, url.Values{"env": {"sandbox"}, "force": {"true"}, "toRevision": {"true"}, "confirm": {" web "}})
	rs := f.restores()
	if resp.StatusCode != http.StatusSeeOther || len(rs) != 1 {
		t.Fatalf("restore: %d, %d queued", resp.StatusCode, len(rs))
	}
	r := rs[0]
	if r.BackupID != older.ID || r.Env != "sandbox" || !r.Force || !r.ToRevision || r.Drill || r.State != berth.JobQueued || r.CreatedBy != "admin" {
		t.Errorf("queued %+v, want a forced restore of backup %d into sandbox with its revision", r, older.ID)
	}
	loc := resp.Header.Get("Location")
	if want := fmt.Sprintf("/apps/shop/web/backups?restore=%d", r.ID); loc != want {
		t.Errorf("restore redirects to %q, want %q", loc, want)
	}
	if _, body := f.get(session, loc); !strings.Contains(body, fmt.Sprintf("Restore %d queued: backup %d is restored into sandbox", r.ID, older.ID)) {
		t.Errorf("the page after restoring does not say it was queued:\n%s", body)
	}
	resp, _ = f.post(session, fmt.Sprintf("/apps/shop/web/backups/%d/restore", b.ID), url.Values{"env": {"staging"}, "confirm": {"web"}})
	if rs := f.restores(); resp.StatusCode != http.StatusSeeOther || len(rs) != 2 || rs[0].Env != "staging" || rs[0].Force || rs[0].ToRevision {
		t.Errorf("a restore without force or redeploy: %d %+v", resp.StatusCode, rs)
	}
	// A link naming another job says nothing.
	if _, body := f.get(session, "/apps/shop/web/backups?restore=999&drill=x"); strings.Contains(body, "queued:") {
		t.Errorf("a made-up link makes the page say something was queued")
	}

	// A deployer backs up now and drills the latest kept backup.
	resp, _ = f.post(dan, "/apps/shop/web/envs/staging/backups", nil)
	queued, err := f.st.Backups(ctx, store.BackupFilter{Team: "shop", State: berth.JobQueued})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSeeOther || len(queued) != 1 || queued[0].Env != "staging" || queued[0].Trigger != berth.TriggerManual || queued[0].CreatedBy != "dan" {
		t.Fatalf("back up now: %d %+v", resp.StatusCode, queued)
	}
	if _, body := f.get(dan, resp.Header.Get("Location")); !strings.Contains(body, fmt.Sprintf("Backup %d of staging queued.", queued[0].ID)) {
		t.Errorf("the page after backing up does not say it was queued")
	}
	resp, _ = f.post(dan, "/apps/shop/web/envs/staging/drills", nil)
	drill := f.restores()[0]
	if resp.StatusCode != http.StatusSeeOther || !drill.Drill || drill.BackupID != b.ID || drill.Env != "staging" || drill.CreatedBy != "dan" {
		t.Fatalf("run a drill: %d %+v", resp.StatusCode, drill)
	}
	if _, body := f.get(dan, resp.Header.Get("Location")); !strings.Contains(body, fmt.Sprintf("Drill %d queued", drill.ID)) {
		t.Errorf("the page after drilling does not say it was queued")
	}
	if resp, _ := f.post(bob, "/apps/shop/web/envs/staging/backups", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another team's member backs up: %d", resp.StatusCode)
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// noSecrets fails the test when any of the fixture's passwords, or extra, is in data.
func noSecrets(t *testing.T, what string, data []byte, extra ...string) {
	t.Helper()
	for _, s := range append([]string{fixturePGPassword, fixtureDBPassword}, extra...) {
		if strings.Contains(string(data), s) {
			t.Errorf("%s holds the secret %q:\n%s", what, s, data)
		}
	}
}

// TestEnvironmentPostgres: a global admin registers a PostgreSQL server, as a URL or a
// keyword/value string; the server is checked first, and what comes back, what lists show
// and what the audit records is the DSN without its password. A server that fails the
// check, or a DSN that cannot be read, is refused without quoting the password.
func TestEnvironmentPostgres(t *testing.T) {
	f := newFixture(t)
	const pw = `n3w'pw"@:/?#&` // every character that has a meaning in a DSN
	url := "postgres://berth:" + strings.NewReplacer("'", "%27", `"`, "%22", "@", "%40", ":", "%3A", "/", "%2F", "?", "%3F", "#", "%23", "&", "%26").Replace(pw) +
		"@db.example:5432/postgres?sslmode=require&application_name=berth"
	keywords := `host=db.example port=5432 user=berth password='n3w\'pw"@:/?#&' dbname=postgres`
	for _, c := range []struct{ dsn, display string }{
		{url, "postgres://berth@db.example:5432/postgres?sslmode=require&application_name=berth"},
		{keywords, "host=db.example port=5432 user=berth dbname=postgres"},
	} {
		code, data := f.do(globalAdmin, "PUT", "/api/v1/envs/staging/postgres", apiv1.SetEnvironmentPostgres{DSN: c.dsn})
		var e apiv1.Environment
		if code != 200 || json.Unmarshal(data, &e) != nil {
			t.Fatalf("set %s: %d %s", c.display, code, data)
		}
		if e.Postgres != c.display {
			t.Errorf("postgres %q, want %q", e.Postgres, c.display)
		}
		noSecrets(t, "the response", data, pw, "n3w")
		ev := lastAudit(t, f)
		want := map[string]any{"host": "db.example", "port": float64(5432), "dsn": c.display}
		if ev.Action != "env.set-postgres" || ev.Target != "env/staging" || !cmp.Equal(want, ev.Details) {
			t.Errorf("audit event %+v, want details %v", ev, want)
		}
		code, data = f.do(ownViewer, "GET", "/api/v1/envs/staging", nil)
		if code != 200 || !strings.Contains(string(data), `"postgres": "`+c.display+`"`) {
			t.Errorf("get: %d %s", code, data)
		}
		noSecrets(t, "get", data, pw, "n3w")
	}

	before := f.auditCount()
	for _, c := range []struct {
		env, dsn string
		status   int
		message  string
	}{
		{"staging", "", 400, "dsn is required"},
		{"staging", "password=" + fixturePGPassword + " host=db port", 400, "not a PostgreSQL URL"},
		{"staging", "postgres://berth:" + fixturePGPassword + "@down:5432/postgres", 400, "cannot connect with postgres://berth:[redacted]@down"},
		{"staging", "host=down password='" + fixturePGPassword + "'", 400, "cannot connect with host=down password='[redacted]'"},
		{"nope", "postgres://berth:" + fixturePGPassword + "@db.example/postgres", 404, `environment \"nope\": not found`},
	} {
		code, data := f.do(globalAdmin, "PUT", "/api/v1/envs/"+c.env+"/postgres", apiv1.SetEnvironmentPostgres{DSN: c.dsn})
		if code != c.status || !strings.Contains(string(data), c.message) {
			t.Errorf("set %s: %d %s, want %d saying %q", c.dsn, code, data, c.status, c.message)
		}
		noSecrets(t, "the refusal", data)
	}
	if code, data := f.do(teamAdmin, "PUT", "/api/v1/envs/staging/postgres", apiv1.SetEnvironmentPostgres{DSN: fixturePGDSN}); code != 403 {
		t.Errorf("team admin: %d %s", code, data)
	}
	if n := f.auditCount() - before; n != 1 {
		t.Errorf("refused calls wrote %d audit events, want 1 (the denial)", n)
	}

	code, data := f.do(globalAdmin, "DELETE", "/api/v1/envs/staging/postgres", nil)
	var e apiv1.Environment
	if code != 200 || json.Unmarshal(data, &e) != nil || e.Postgres != "" {
		t.Errorf("clear: %d %s", code, data)
	}
	if ev := lastAudit(t, f); ev.Action != "env.set-postgres" || !cmp.Equal(map[string]any{"cleared": true}, ev.Details) {
		t.Errorf("clear audit event %+v", ev)
	}

	_, data = f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	noSecrets(t, "the audit log", data, pw, "n3w")
	noSecrets(t, "the server's log", f.logs.Bytes(), pw, "n3w")

	// A server started without a PostgreSQL admin refuses to register one it cannot check.
	ctx := context.Background()
	bare := service.New(f.st, slog.New(slog.DiscardHandler), time.Now)
	root, err := bare.Authenticate(ctx, bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.SetEnvironmentPostgres(ctx, root, "staging", fixturePGDSN); !errors.Is(err, berth.ErrUnavailable) ||
		!strings.Contains(err.Error(), "without a PostgreSQL admin") {
		t.Errorf("without an admin: %v", err)
	}
}

// TestEnvironmentDomains: PATCH sets the base domain and the storage class each on its
// own, keeping the other; an empty value clears one; each change is audited.
func TestEnvironmentDomains(t *testing.T) {
	f := newFixture(t)
	str := func(s string) *string { return &s }
	for _, step := range []struct {
		body          apiv1.UpdateEnvironment
		domain, class string
		details       map[string]any
	}{
		{apiv1.UpdateEnvironment{BaseDomain: str("staging.example.com")}, "staging.example.com", "", map[string]any{"baseDomain": "staging.example.com"}},
		{apiv1.UpdateEnvironment{StorageClass: str("local-path")}, "staging.example.com", "local-path", map[string]any{"storageClass": "local-path"}},
		{apiv1.UpdateEnvironment{BaseDomain: str(""), NodeSelector: &map[string]string{"zone": "a"}}, "", "local-path",
			map[string]any{"baseDomain": "", "nodeSelector": map[string]any{"zone": "a"}}},
		{apiv1.UpdateEnvironment{BaseDomain: str("dev.localhost"), StorageClass: str("")}, "dev.localhost", "",
			map[string]any{"baseDomain": "dev.localhost", "storageClass": ""}},
	} {
		code, data := f.do(globalAdmin, "PATCH", "/api/v1/envs/staging", step.body)
		var e apiv1.Environment
		if code != 200 || json.Unmarshal(data, &e) != nil {
			t.Fatalf("patch: %d %s", code, data)
		}
		if e.BaseDomain != step.domain || e.StorageClass != step.class {
			t.Errorf("after %s: base domain %q, storage class %q; want %q, %q", data, e.BaseDomain, e.StorageClass, step.domain, step.class)
		}
		if ev := lastAudit(t, f); ev.Action != "env.update" || !cmp.Equal(step.details, ev.Details) {
			t.Errorf("audit details %v, want %v", ev.Details, step.details)
		}
	}
	before := f.auditCount()
	for _, body := range []apiv1.UpdateEnvironment{{BaseDomain: str("Not_A.Domain")}, {StorageClass: str("bad class")}, {}} {
		if code, data := f.do(globalAdmin, "PATCH", "/api/v1/envs/staging", body); code != 400 {
			t.Errorf("patch %+v: %d %s", body, code, data)
		}
	}
	if n := f.auditCount() - before; n != 0 {
		t.Errorf("invalid patches wrote %d audit events", n)
	}
}

// TestResources: team viewers list an app's resources with their secret outputs named,
// never valued. Deleting one takes a team admin and confirmation: without it the answer
// says what would be dropped and nothing changes; a resource the app still declares takes
// force; a postgres database is dropped on the environment's server before the record
// goes, other resources are only forgotten.
func TestResources(t *testing.T) {
	f := newFixture(t)
	list := func(caller, query string) (int, []apiv1.Resource, []byte) {
		t.Helper()
		code, data := f.do(caller, "GET", "/api/v1/teams/alpha/apps/reports/resources"+query, nil)
		var l apiv1.List[apiv1.Resource]
		if code == 200 {
			if err := json.Unmarshal(data, &l); err != nil {
				t.Fatal(err)
			}
		}
		noSecrets(t, "the list", data)
		return code, l.Items, data
	}
	code, rs, data := list(ownViewer, "?env=staging")
	if code != 200 || len(rs) != 3 {
		t.Fatalf("list: %d %s", code, data)
	}
	cache, db := rs[0], rs[1]
	if rs[2].Name != "events" || rs[2].Status != "active" {
		t.Errorf("events: %+v", rs[2])
	}
	if db.Name != "db" || db.Type != "postgres" || db.Status != "orphaned" || db.Provisioner != "builtin/postgres" ||
		!cmp.Equal([]string{"password", "url"}, db.SecretOutputs) || db.Outputs["database"] != "alpha_reports_staging_db" {
		t.Errorf("db: %+v", db)
	}
	if cache.Name != "cache" || cache.Status != "active" || !cmp.Equal([]string{"password"}, cache.SecretOutputs) {
		t.Errorf("cache: %+v", cache)
	}
	if code, rs, data := list(ownViewer, "?env=old"); code != 200 || len(rs) != 0 || !strings.Contains(string(data), `"items": []`) {
		t.Errorf("list in old: %d %s", code, data)
	}
	if code, _, data := list(otherViewer, ""); code != 403 {
		t.Errorf("other team's viewer: %d %s", code, data)
	}
	if code, data := f.do(ownViewer, "GET", "/api/v1/teams/alpha/apps/nope/resources", nil); code != 404 {
		t.Errorf("unknown app: %d %s", code, data)
	}

	del := func(caller, name, query string) (int, []byte) {
		t.Helper()
		code, data := f.do(caller, "DELETE", "/api/v1/teams/alpha/apps/reports/envs/staging/resources/"+name+query, nil)
		noSecrets(t, "the delete", data)
		return code, data
	}
	before := f.auditCount()
	code, data = del(teamAdmin, "db", "")
	var e apiv1.Error
	if code != 400 || json.Unmarshal(data, &e) != nil || e.Code != "confirmation_required" ||
		e.Message != "postgres db of alpha/reports in staging: would drop postgres database alpha_reports_staging_db and its role; its data is lost; add --confirm" {
		t.Errorf("without confirm: %d %s", code, data)
	}
	code, data = del(teamAdmin, "cache", "?confirm=true")
	if code != 409 || !strings.Contains(string(data), "remove it from berth.yaml and deploy first (or add --force)") {
		t.Errorf("active without force: %d %s", code, data)
	}
	if code, data := del(teamAdmin, "nope", "?confirm=true"); code != 404 {
		t.Errorf("unknown resource: %d %s", code, data)
	}
	if code, data := del(teamAdmin, "db", "?confirm=yes"); code != 400 {
		t.Errorf("confirm=yes: %d %s", code, data)
	}
	if n := f.auditCount() - before; n != 0 || len(f.pg.dropped()) != 0 {
		t.Fatalf("refused deletes wrote %d audit events and dropped %v", n, f.pg.dropped())
	}
	if code, data := del(deployer, "db", "?confirm=true"); code != 403 {
		t.Errorf("deployer: %d %s", code, data)
	}
	if _, rs, _ := list(ownViewer, "?env=staging"); len(rs) != 3 {
		t.Fatalf("refused deletes changed the resources: %+v", rs)
	}

	code, data = del(teamAdmin, "cache", "?confirm=true&force=true")
	var d apiv1.ResourceDeletion
	if code != 200 || json.Unmarshal(data, &d) != nil || d.Dropped != "" || d.Resource.Name != "cache" {
		t.Errorf("forced delete of cache: %d %s", code, data)
	}
	if len(f.pg.dropped()) != 0 {
		t.Errorf("deleting a redis dropped %v", f.pg.dropped())
	}
	code, data = del(teamAdmin, "db", "?confirm=true")
	if code != 200 || json.Unmarshal(data, &d) != nil || d.Dropped != "postgres database alpha_reports_staging_db and its role" {
		t.Errorf("delete of db: %d %s", code, data)
	}
	if want := []string{fixturePGDSN + " alpha_reports_staging_db alpha_reports_staging_db"}; !cmp.Equal(want, f.pg.dropped()) {
		t.Errorf("dropped %v, want %v", f.pg.dropped(), want)
	}
	ev := lastAudit(t, f)
	want := map[string]any{"resource": "db", "type": "postgres", "uid": "postgres.default#alpha.reports.db", "version": float64(1),
		"dropped": map[string]any{"database": "alpha_reports_staging_db", "role": "alpha_reports_staging_db"}}
	if ev.Action != "resource.delete" || ev.Target != "app/alpha/reports/env/staging/resources/db" || ev.Team != "alpha" || !cmp.Equal(want, ev.Details) {
		t.Errorf("audit event %+v, want details %v", ev, want)
	}
	if code, rs, data := list(ownViewer, "?env=staging"); code != 200 || len(rs) != 1 || rs[0].Name != "events" {
		t.Errorf("after the deletes: %d %s", code, data)
	}
	if code, data := del(teamAdmin, "db", "?confirm=true"); code != 404 {
		t.Errorf("second delete: %d %s", code, data)
	}
	_, data = f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	noSecrets(t, "the audit log", data)
	noSecrets(t, "the server's log", f.logs.Bytes())
}

// TestRotateResource: a deployer rotates a postgres resource's password: one audit event,
// naming the refresh deploy it queued; the kept password is gone (the deploy sets a new
// one). Other types, and callers who may not deploy, are refused with nothing changed.
func TestRotateResource(t *testing.T) {
	f := newFixture(t)
	rotate := func(caller, name string) (int, []byte) {
		t.Helper()
		code, data := f.do(caller, "POST", "/api/v1/teams/alpha/apps/reports/envs/staging/resources/"+name+"/rotate", nil)
		noSecrets(t, "the rotation", data)
		return code, data
	}
	before := f.auditCount()
	if code, data := rotate(deployer, "cache"); code != 409 || !strings.Contains(string(data), "rotates the passwords of postgres resources") {
		t.Errorf("rotate a redis: %d %s", code, data)
	}
	if code, data := rotate(ownViewer, "events"); code != 403 {
		t.Errorf("viewer: %d %s", code, data)
	}
	if n := f.auditCount() - before; n != 1 { // the denied one
		t.Errorf("refused rotations wrote %d audit events, want 1 (the denial)", n)
	}
	code, data := rotate(deployer, "events")
	var rot apiv1.ResourceRotation
	if code != 202 || json.Unmarshal(data, &rot) != nil || rot.Deploy.ID == 0 || rot.Deploy.Kind != "redeploy" || rot.Resource.Version != 2 {
		t.Fatalf("rotate: %d %s", code, data)
	}
	ev := lastAudit(t, f)
	if ev.Action != "resource.rotate" || ev.Details["deploy"] != float64(rot.Deploy.ID) || ev.Details["version"] != float64(2) {
		t.Errorf("audit event %+v", ev)
	}
	sec, err := f.st.ResourceSecrets(t.Context(), "staging", "postgres.default#alpha.reports.events")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sec.State["password"]; ok || sec.State["database"] != "alpha_reports_staging_events" {
		t.Errorf("state after rotation: password kept %v, database %v", ok, sec.State["database"])
	}
	// Its deploy is still queued (no worker here): another rotation waits for it.
	if code, data := rotate(deployer, "events"); code != 409 || !strings.Contains(string(data), "is queued") {
		t.Errorf("rotate while its deploy is queued: %d %s", code, data)
	}
}

// TestDeleteEnvironmentWithResources: an environment whose resources Berth still records
// (their data is what the records find) is not deleted.
func TestDeleteEnvironmentWithResources(t *testing.T) {
	f := newFixture(t)
	if code, data := f.do(globalAdmin, "POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "qa", InCluster: true}); code != 201 {
		t.Fatalf("create qa: %d %s", code, data)
	}
	err := f.st.Tx(t.Context(), func(tx *store.Tx) error {
		_, _, err := tx.SaveResource(t.Context(), berth.Resource{Env: "qa", Team: "alpha", App: "gone", Name: "files", Type: "volume",
			UID: berth.ResourceUID("volume", "", "", "alpha", "gone", "files"), Provisioner: "builtin/volume"}, berth.ResourceSecrets{}, "deploy 9")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, data := f.do(globalAdmin, "DELETE", "/api/v1/envs/qa", nil)
	if code != 409 || !strings.Contains(string(data), "still has provisioned resources: alpha/gone files (volume, active)") {
		t.Errorf("delete qa: %d %s", code, data)
	}
}

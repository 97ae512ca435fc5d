package cli_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

var resourcesTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// notesResources are what provisioners made for demo/notes in dev.
func notesResources() apiv1.List[apiv1.Resource] {
	return apiv1.List[apiv1.Resource]{Items: []apiv1.Resource{
		{Env: "dev", Team: "demo", App: "notes", Name: "cache", Type: "redis", Class: "small", UID: "redis.small#demo.notes.cache",
			Provisioner: "file://redis (provisioner file v2)", Outputs: map[string]string{"host": "redis.platform", "port": "6379"},
			SecretOutputs: []string{"password"}, Version: 1, Status: "active", UpdatedBy: "deploy 7", UpdatedAt: resourcesTime},
		{Env: "dev", Team: "demo", App: "notes", Name: "db", Type: "postgres", UID: "postgres.default#demo.notes.db",
			Provisioner: "builtin/postgres", Outputs: map[string]string{"host": "pg", "database": "demo_notes_dev_db"},
			SecretOutputs: []string{"password", "url"}, Version: 3, Status: "orphaned", UpdatedBy: "deploy 9", UpdatedAt: resourcesTime},
	}}
}

// TestResourcesList: a table with the outputs, secret ones named only; -o json is the
// resources as the API sends them.
func TestResourcesList(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "demo"))
	h.api.Expect("GET", "/api/v1/teams/demo/apps/notes/resources?env=dev").Reply(200, notesResources())
	if err := h.run("resources", "list", "--app", "notes", "--env", "dev"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"NAME   ENV  TYPE         PROVISIONER                         STATUS    VERSION  OUTPUTS                                                            UPDATED\n"+
		"cache  dev  redis/small  file://redis (provisioner file v2)  active    1        host=redis.platform,password=(secret),port=6379                    2026-03-04T05:06:07Z\n"+
		"db     dev  postgres     builtin/postgres                    orphaned  3        database=demo_notes_dev_db,host=pg,password=(secret),url=(secret)  2026-03-04T05:06:07Z\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/demo/apps/notes/resources").Reply(200, notesResources())
	if err := h.run("resources", "list", "--app", "notes", "--team", "demo", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Resource
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff(notesResources().Items, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	h = newHarness(t, false)
	wantExit(t, h.run("resources", "list"), `required flag(s) "app" not set`, true)
}

// TestResourcesDelete: without --confirm the server's account of what would be dropped is
// printed and the command exits 2; with it, what was dropped, or that the record only was
// forgotten; the server's refusals pass through.
func TestResourcesDelete(t *testing.T) {
	const would = "postgres db of demo/notes in dev: would drop postgres database demo_notes_dev_db and its role; its data is lost; add --confirm"
	db := notesResources().Items[1]
	cache := notesResources().Items[0]

	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "demo"))
	h.api.Expect("DELETE", "/api/v1/teams/demo/apps/notes/envs/dev/resources/db").
		ReplyError(400, apiv1.Error{Code: "confirmation_required", Message: would})
	wantExitCode(t, h.run("resources", "delete", "db", "--app", "notes", "--env", "dev"), 2)
	h.wantOutput(t, "", "berth: "+would+"\n")

	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/teams/demo/apps/notes/envs/dev/resources/db?confirm=true").
		Reply(200, apiv1.ResourceDeletion{Resource: db, Dropped: "postgres database demo_notes_dev_db and its role"})
	if err := h.run("resources", "delete", "db", "--app", "notes", "--team", "demo", "--env", "dev", "--confirm"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "dropped postgres database demo_notes_dev_db and its role, and deleted postgres db of demo/notes in dev\n", "")

	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/teams/demo/apps/notes/envs/dev/resources/cache?confirm=true&force=true").
		Reply(200, apiv1.ResourceDeletion{Resource: cache})
	if err := h.run("resources", "delete", "cache", "--app", "notes", "--team", "demo", "--env", "dev", "--confirm", "--force"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "deleted redis cache of demo/notes in dev: Berth drops data only for postgres databases and volume claims; "+
		"objects its provisioner applied go with the app's next deploy (prune)\n", "")

	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/teams/demo/apps/notes/envs/dev/resources/cache?confirm=true").
		ReplyError(409, apiv1.Error{Code: "conflict", Message: "redis cache of demo/notes in dev is still declared by the app's latest deploy"})
	wantExit(t, h.run("resources", "delete", "cache", "--app", "notes", "--team", "demo", "--env", "dev", "--confirm"),
		"redis cache of demo/notes in dev is still declared by the app's latest deploy", false)
	h.wantOutput(t, "", "")

	h = newHarness(t, false)
	wantExit(t, h.run("resources", "delete", "db", "--app", "notes", "--confirm"), `required flag(s) "env" not set`, true)
}

// TestResourcesRotate: the rotation names the deploy that brings the new password.
func TestResourcesRotate(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "demo"))
	db := notesResources().Items[1]
	db.Status, db.Version = "active", 4
	h.api.Expect("POST", "/api/v1/teams/demo/apps/notes/envs/dev/resources/db/rotate").
		Reply(202, apiv1.ResourceRotation{Resource: db, Deploy: apiv1.Deploy{ID: 42, Kind: "redeploy", State: "queued"}})
	if err := h.run("resources", "rotate", "db", "--app", "notes", "--env", "dev"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "postgres db of demo/notes in dev: a new password comes with deploy 42\n", "")

	h = newHarness(t, false)
	wantExit(t, h.run("resources", "rotate", "db", "--app", "notes"), `required flag(s) "env" not set`, true)
}

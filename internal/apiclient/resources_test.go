package apiclient_test

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
)

// TestResourcesAndPostgres: the DSN travels in the body only; resource names, uids with
// their '#' included, reach the path whole; confirm and force are sent only when set; the
// server's confirmation_required is recognisable by its code.
func TestResourcesAndPostgres(t *testing.T) {
	ctx := context.Background()
	s := apiclienttest.New(t)
	c := client(t, s)
	const dsn = "postgres://berth:pw@db:5432/postgres"
	s.Expect("PUT", "/api/v1/envs/dev/postgres").WithBody(apiv1.SetEnvironmentPostgres{DSN: dsn}).
		Reply(200, apiv1.Environment{Name: "dev", Postgres: "postgres://berth@db:5432/postgres"})
	if e, err := c.SetEnvironmentPostgres(ctx, "dev", dsn); err != nil || e.Postgres != "postgres://berth@db:5432/postgres" {
		t.Errorf("SetEnvironmentPostgres: %+v %v", e, err)
	}
	s.Expect("DELETE", "/api/v1/envs/dev/postgres").Reply(200, apiv1.Environment{Name: "dev"})
	if _, err := c.ClearEnvironmentPostgres(ctx, "dev"); err != nil {
		t.Errorf("ClearEnvironmentPostgres: %v", err)
	}

	s.Expect("GET", "/api/v1/teams/demo/apps/notes/resources").Reply(200, apiv1.List[apiv1.Resource]{Items: []apiv1.Resource{{Name: "db"}}})
	s.Expect("GET", "/api/v1/teams/demo/apps/notes/resources?env=dev").Reply(200, apiv1.List[apiv1.Resource]{Items: []apiv1.Resource{}})
	if rs, err := c.Resources(ctx, "demo", "notes", ""); err != nil || len(rs) != 1 {
		t.Errorf("Resources: %v %v", rs, err)
	}
	if rs, err := c.Resources(ctx, "demo", "notes", "dev"); err != nil || len(rs) != 0 {
		t.Errorf("Resources in dev: %v %v", rs, err)
	}

	s.Expect("DELETE", "/api/v1/teams/demo/apps/notes/envs/dev/resources/db").
		ReplyError(400, apiv1.Error{Code: "confirmation_required", Message: "would drop"})
	_, err := c.DeleteResource(ctx, apiclient.ResourceDelete{Team: "demo", App: "notes", Env: "dev", Name: "db"})
	if !apiclient.IsCode(err, "confirmation_required") || apiclient.IsCode(err, "invalid") {
		t.Errorf("unconfirmed DeleteResource: %v", err)
	}
	s.Expect("DELETE", "/api/v1/teams/demo/apps/notes/envs/dev/resources/redis.default#demo.notes.db?confirm=true&force=true").
		Reply(200, apiv1.ResourceDeletion{Resource: apiv1.Resource{Name: "db"}})
	if d, err := c.DeleteResource(ctx, apiclient.ResourceDelete{Team: "demo", App: "notes", Env: "dev",
		Name: "redis.default#demo.notes.db", Confirm: true, Force: true}); err != nil || d.Resource.Name != "db" {
		t.Errorf("DeleteResource by uid: %+v %v", d, err)
	}
}

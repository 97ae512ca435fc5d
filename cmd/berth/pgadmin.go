package main

import (
	"context"
	"log/slog"

	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/provision"
	"github.com/berth-dev/berth/internal/service"
)

// postgres gives internal/pgadmin to those that need a registered PostgreSQL server: the
// deploy engine's postgres provisioner (Ensure: a database and a role per resource of an
// app in an environment, or per shared id of a team, named by pgadmin.Names, with the
// password the engine keeps) and the service (Check a server before it is registered, Drop
// the database of a deleted resource).
type postgres struct{ admin *pgadmin.Admin }

func newPostgres(log *slog.Logger) postgres { return postgres{admin: pgadmin.New(log)} }

func (p postgres) Ensure(ctx context.Context, dsn string, req deploy.PostgresRequest) (provision.PostgresDatabase, error) {
	host, port, err := pgadmin.ParseDSN(dsn)
	if err != nil {
		return provision.PostgresDatabase{}, err
	}
	name, role := pgadmin.Names(req.Team, req.App, req.Env, req.Resource)
	if req.ID != "" {
		// "_shared" is no app's name (app names have no '_'): no app's database is called so.
		name, role = pgadmin.Names(req.Team, "_shared", req.Env, req.ID)
	}
	if _, err := p.admin.Ensure(ctx, dsn, pgadmin.Database{Name: name, Role: role, Password: req.Password}); err != nil {
		return provision.PostgresDatabase{}, err
	}
	return provision.PostgresDatabase{Host: host, Port: port, Name: name, User: role, Password: req.Password,
		URL: pgadmin.URL(host, port, name, role, req.Password, nil)}, nil
}

func (postgres) NewPassword() (string, error) { return pgadmin.NewPassword() }

func (p postgres) Check(ctx context.Context, dsn string) (service.PostgresServer, error) {
	info, err := p.admin.Check(ctx, dsn)
	if err != nil {
		return service.PostgresServer{}, err
	}
	return service.PostgresServer{Version: info.Version, Host: info.Host, Port: info.Port}, nil
}

func (p postgres) Drop(ctx context.Context, dsn, database, role string) error {
	return p.admin.Drop(ctx, dsn, pgadmin.Database{Name: database, Role: role})
}

// ProbeDatabase makes env's probe database on the server dsn names (internal/probes): one
// per environment, owned by a role of its own, named as no app's database can be ("_berth"
// is no team's name: team names have no '_').
func (p postgres) ProbeDatabase(ctx context.Context, dsn, env, password string) (string, error) {
	host, port, err := pgadmin.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	name, role := pgadmin.Names("_berth", "probe", env, "probe")
	if _, err := p.admin.Ensure(ctx, dsn, pgadmin.Database{Name: name, Role: role, Password: password}); err != nil {
		return "", err
	}
	return pgadmin.URL(host, port, name, role, password, nil), nil
}

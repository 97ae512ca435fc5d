package main

import (
	"context"
	"log/slog"

	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/provision"
)

// databases gives the deploy engine's postgres provisioner internal/pgadmin: a database and
// a role per resource of an app in an environment, named by pgadmin.Names, with the password
// the resource keeps (a new one the first time).
type databases struct{ admin *pgadmin.Admin }

func newDatabases(log *slog.Logger) databases { return databases{admin: pgadmin.New(log)} }

func (d databases) Ensure(ctx context.Context, dsn string, req deploy.PostgresRequest) (provision.PostgresDatabase, error) {
	host, port, err := pgadmin.ParseDSN(dsn)
	if err != nil {
		return provision.PostgresDatabase{}, err
	}
	name, role := pgadmin.Names(req.Team, req.App, req.Env, req.Resource)
	password := req.Password
	if password == "" {
		if password, err = pgadmin.NewPassword(); err != nil {
			return provision.PostgresDatabase{}, err
		}
	}
	if _, err := d.admin.Ensure(ctx, dsn, pgadmin.Database{Name: name, Role: role, Password: password}); err != nil {
		return provision.PostgresDatabase{}, err
	}
	return provision.PostgresDatabase{Host: host, Port: port, Name: name, User: role, Password: password,
		URL: pgadmin.URL(host, port, name, role, password, nil)}, nil
}

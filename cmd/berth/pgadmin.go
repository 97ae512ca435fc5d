package main

import (
	"context"
	"log/slog"

	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/service"
)

// postgresAdmin gives the service internal/pgadmin: it checks the PostgreSQL servers
// platform admins register for environments, and drops the databases of deleted postgres
// resources.
type postgresAdmin struct{ admin *pgadmin.Admin }

func newPostgresAdmin(log *slog.Logger) postgresAdmin { return postgresAdmin{admin: pgadmin.New(log)} }

func (p postgresAdmin) Check(ctx context.Context, dsn string) (service.PostgresServer, error) {
	info, err := p.admin.Check(ctx, dsn)
	if err != nil {
		return service.PostgresServer{}, err
	}
	return service.PostgresServer{Version: info.Version, Host: info.Host, Port: info.Port}, nil
}

func (p postgresAdmin) Drop(ctx context.Context, dsn, database, role string) error {
	return p.admin.Drop(ctx, dsn, pgadmin.Database{Name: database, Role: role})
}

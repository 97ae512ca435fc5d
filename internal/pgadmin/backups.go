package pgadmin

import (
	"context"
	"io"
	"sync"
)

// Backups is an Admin whose Dump and RestoreScratch find PostgreSQL's client programs on
// first use (FindTools), so that a server that never backs anything up needs none
// installed. It is what the backup engine is given.
type Backups struct {
	*Admin
	once  sync.Once
	tools Tools
	err   error
}

// NewBackups returns Backups on a.
func NewBackups(a *Admin) *Backups { return &Backups{Admin: a} }

func (b *Backups) programs(ctx context.Context) (Tools, error) {
	b.once.Do(func() { b.tools, b.err = FindTools(ctx) })
	return b.tools, b.err
}

// Dump is Admin.Dump with the programs found.
func (b *Backups) Dump(ctx context.Context, dsn, database string, w io.Writer) ([]TableSum, error) {
	tools, err := b.programs(ctx)
	if err != nil {
		return nil, err
	}
	return b.Admin.Dump(ctx, tools, dsn, database, w)
}

// RestoreScratch is Admin.RestoreScratch with the programs found.
func (b *Backups) RestoreScratch(ctx context.Context, dsn, scratch, owner string, r io.Reader) ([]TableSum, error) {
	tools, err := b.programs(ctx)
	if err != nil {
		return nil, err
	}
	return b.Admin.RestoreScratch(ctx, tools, dsn, scratch, owner, r)
}

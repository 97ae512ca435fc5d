package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

// SetProvisionerFile stores content as the next version of env's provisioner file. The
// caller has checked the file (internal/provision.Parse); the store bounds its size.
func (tx *Tx) SetProvisionerFile(ctx context.Context, env, content, by string) (berth.ProvisionerFile, error) {
	what := fmt.Sprintf("set the provisioner file of environment %q", env)
	if len(content) > berth.MaxProvisionerFileSize {
		return berth.ProvisionerFile{}, fmt.Errorf("%s: %w: it is %d bytes; the limit is %d", what, berth.ErrInvalid, len(content), berth.MaxProvisionerFileSize)
	}
	if by == "" {
		return berth.ProvisionerFile{}, fmt.Errorf("%s: %w: no actor", what, berth.ErrInvalid)
	}
	var envID, next int64
	err := tx.queryRow(ctx, `SELECT e.id, COALESCE((SELECT MAX(version) FROM provisioner_files WHERE env_id = e.id), 0) + 1
		FROM environments e WHERE e.name = ?`, env).Scan(&envID, &next)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return berth.ProvisionerFile{}, notFound("environment", env)
		}
		return berth.ProvisionerFile{}, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	at := tx.stamp()
	if _, err := tx.exec(ctx, `INSERT INTO provisioner_files (env_id, version, content, created_by, created_at)
		VALUES (?, ?, ?, ?, ?)`, envID, next, content, by, micros(at)); err != nil {
		return berth.ProvisionerFile{}, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	return berth.ProvisionerFile{Env: env, Version: next, Content: content, CreatedBy: by, CreatedAt: fromMicros(micros(at))}, nil
}

// ProvisionerFile returns a version of env's provisioner file, the newest when version is
// 0. An environment without one, or without that version, is ErrNotFound.
func (q queries) ProvisionerFile(ctx context.Context, env string, version int64) (berth.ProvisionerFile, error) {
	f := berth.ProvisionerFile{Env: env}
	var at int64
	err := q.queryRow(ctx, `SELECT p.version, p.content, p.created_by, p.created_at
		FROM provisioner_files p JOIN environments e ON e.id = p.env_id
		WHERE e.name = ? AND (? = 0 OR p.version = ?)
		ORDER BY p.version DESC LIMIT 1`, env, version, version).Scan(&f.Version, &f.Content, &f.CreatedBy, &at)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			what := "provisioner file of environment"
			if version != 0 {
				what = fmt.Sprintf("version %d of the provisioner file of environment", version)
			}
			return berth.ProvisionerFile{}, notFound(what, env)
		}
		return berth.ProvisionerFile{}, fmt.Errorf("read the provisioner file of environment %q: %w", env, dbErr(err))
	}
	f.CreatedAt = fromMicros(at)
	return f, nil
}

// ProvisionerFileHistory lists the versions of env's provisioner file, newest first,
// without their content.
func (q queries) ProvisionerFileHistory(ctx context.Context, env string) ([]berth.ProvisionerFile, error) {
	rows, err := q.query(ctx, `SELECT p.version, p.created_by, p.created_at
		FROM provisioner_files p JOIN environments e ON e.id = p.env_id
		WHERE e.name = ? ORDER BY p.version DESC`, env)
	if err != nil {
		return nil, fmt.Errorf("list the provisioner files of environment %q: %w", env, dbErr(err))
	}
	defer rows.Close()
	var out []berth.ProvisionerFile
	for rows.Next() {
		f := berth.ProvisionerFile{Env: env}
		var at int64
		if err := rows.Scan(&f.Version, &f.CreatedBy, &at); err != nil {
			return nil, err
		}
		f.CreatedAt = fromMicros(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

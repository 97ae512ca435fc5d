package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/berth-dev/berth/internal/berth"
)

const environmentColumns = "id, name, kubeconfig, context, in_cluster, namespace_template, protected, created_at"

func scanEnvironment(sc scanner) (berth.Environment, error) {
	var e berth.Environment
	var created int64
	err := sc.Scan(&e.ID, &e.Name, &e.Kubeconfig, &e.Context, &e.InCluster, &e.NamespaceTemplate, &e.Protected, &created)
	e.CreatedAt = fromMicros(created)
	return e, err
}

// Environment returns the environment called name.
func (q queries) Environment(ctx context.Context, name string) (berth.Environment, error) {
	e, err := scanEnvironment(q.queryRow(ctx, "SELECT "+environmentColumns+" FROM environments WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Environment{}, notFound("environment", name)
	}
	if err != nil {
		return berth.Environment{}, fmt.Errorf("get environment %q: %w", name, err)
	}
	deployers, err := q.allowedDeployers(ctx, "WHERE e.name = ?", name)
	if err != nil {
		return berth.Environment{}, fmt.Errorf("get environment %q: %w", name, err)
	}
	e.AllowedDeployers = deployers[e.Name]
	return e, nil
}

// Environments returns every environment, by name.
func (q queries) Environments(ctx context.Context) ([]berth.Environment, error) {
	es, err := list(ctx, q, scanEnvironment, "SELECT "+environmentColumns+" FROM environments ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	deployers, err := q.allowedDeployers(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	for i := range es {
		es[i].AllowedDeployers = deployers[es[i].Name]
	}
	return es, nil
}

// allowedDeployers returns the sorted user names allowed per environment name.
func (q queries) allowedDeployers(ctx context.Context, where string, args ...any) (map[string][]string, error) {
	rows, err := q.query(ctx, `SELECT e.name, u.name FROM environment_deployers d
		JOIN environments e ON e.id = d.environment_id JOIN users u ON u.id = d.user_id `+where+`
		ORDER BY e.name, u.name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var env, user string
		if err := rows.Scan(&env, &user); err != nil {
			return nil, err
		}
		out[env] = append(out[env], user)
	}
	// PostgreSQL may collate names differently from SQLite; Go's order is the same everywhere.
	for _, users := range out {
		slices.Sort(users)
	}
	return out, rows.Err()
}

// validateEnvironment checks e and fills in the default namespace template.
func validateEnvironment(e *berth.Environment) error {
	if err := berth.ValidateName("name", e.Name); err != nil {
		return err
	}
	if e.NamespaceTemplate == "" {
		e.NamespaceTemplate = berth.DefaultNamespaceTemplate
	}
	if err := validateNamespaceTemplate(e.NamespaceTemplate); err != nil {
		return err
	}
	switch {
	case e.InCluster && e.Kubeconfig != "":
		return invalid("kubeconfig", "must be empty for an in-cluster environment")
	case !e.InCluster && e.Kubeconfig == "":
		return invalid("kubeconfig", "is required unless the environment is in-cluster")
	}
	return nil
}

// CreateEnvironment creates an environment from e's Name, Kubeconfig, Context, InCluster,
// NamespaceTemplate (default DefaultNamespaceTemplate) and Protected. Allowed deployers
// are added with AllowDeployer.
func (tx *Tx) CreateEnvironment(ctx context.Context, e berth.Environment) (berth.Environment, error) {
	if err := validateEnvironment(&e); err != nil {
		return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name, err)
	}
	out, err := scanEnvironment(tx.queryRow(ctx, `INSERT INTO environments
		(name, kubeconfig, context, in_cluster, namespace_template, protected, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+environmentColumns,
		e.Name, e.Kubeconfig, e.Context, e.InCluster, e.NamespaceTemplate, e.Protected, micros(tx.stamp())))
	if err != nil {
		return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name, dbErr(err))
	}
	return out, nil
}

// UpdateEnvironment replaces the cluster, namespace template and protection of the
// environment called e.Name; its allowed deployers stay.
func (tx *Tx) UpdateEnvironment(ctx context.Context, e berth.Environment) (berth.Environment, error) {
	if err := validateEnvironment(&e); err != nil {
		return berth.Environment{}, fmt.Errorf("update environment %q: %w", e.Name, err)
	}
	res, err := tx.exec(ctx, `UPDATE environments
		SET kubeconfig = ?, context = ?, in_cluster = ?, namespace_template = ?, protected = ?
		WHERE name = ?`,
		e.Kubeconfig, e.Context, e.InCluster, e.NamespaceTemplate, e.Protected, e.Name)
	if err != nil {
		return berth.Environment{}, fmt.Errorf("update environment %q: %w", e.Name, dbErr(err))
	}
	if err := mustAffect(res, notFound("environment", e.Name)); err != nil {
		return berth.Environment{}, err
	}
	return tx.Environment(ctx, e.Name)
}

// DeleteEnvironment deletes an environment.
func (tx *Tx) DeleteEnvironment(ctx context.Context, name string) error {
	res, err := tx.exec(ctx, "DELETE FROM environments WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("delete environment %q: %w", name, dbErr(err))
	}
	return mustAffect(res, notFound("environment", name))
}

// AllowDeployer lets user deploy to the protected environment env. Allowing an allowed
// user changes nothing.
func (tx *Tx) AllowDeployer(ctx context.Context, env, user string) error {
	res, err := tx.exec(ctx, `INSERT INTO environment_deployers (environment_id, user_id, created_at)
		SELECT e.id, u.id, CAST(? AS BIGINT) FROM environments e, users u WHERE e.name = ? AND u.name = ?
		ON CONFLICT (environment_id, user_id) DO NOTHING`,
		micros(tx.stamp()), env, user)
	if err != nil {
		return fmt.Errorf("allow user %q on environment %q: %w", user, env, dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	return tx.missingEnvOrUser(ctx, env, user, "allow deployer")
}

// DisallowDeployer withdraws what AllowDeployer granted.
func (tx *Tx) DisallowDeployer(ctx context.Context, env, user string) error {
	res, err := tx.exec(ctx, `DELETE FROM environment_deployers
		WHERE environment_id = (SELECT id FROM environments WHERE name = ?) AND user_id = (SELECT id FROM users WHERE name = ?)`,
		env, user)
	if err != nil {
		return fmt.Errorf("disallow user %q on environment %q: %w", user, env, dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	if err := tx.missingEnvOrUser(ctx, env, user, "disallow deployer"); err != nil {
		return err
	}
	return fmt.Errorf("user %q is not an allowed deployer of environment %q: %w", user, env, berth.ErrNotFound)
}

// missingEnvOrUser returns an error naming whichever of env and user does not exist, or
// nil when both do.
func (q queries) missingEnvOrUser(ctx context.Context, env, user, op string) error {
	if _, err := q.Environment(ctx, env); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if _, err := q.User(ctx, user); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

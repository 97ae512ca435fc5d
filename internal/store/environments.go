package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/berth"
)

const environmentColumns = "id, name, kubeconfig, context, in_cluster, namespace_template, protected, node_selector, tolerations, created_at, base_domain, storage_class, postgres_display, preview_of, preview_base"

// storedToleration is the stored form of a toleration (an element of the column
// tolerations, JSON).
type storedToleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect"`
}

func scanEnvironment(sc scanner) (berth.Environment, error) {
	var e berth.Environment
	var created int64
	var selector, tolerations string
	err := sc.Scan(&e.ID, &e.Name, &e.Kubeconfig, &e.Context, &e.InCluster, &e.NamespaceTemplate, &e.Protected,
		&selector, &tolerations, &created, &e.BaseDomain, &e.StorageClass, &e.Postgres, &e.PreviewOf, &e.PreviewBase)
	if err != nil {
		return e, err
	}
	e.CreatedAt = fromMicros(created)
	if err := json.Unmarshal([]byte(selector), &e.Scheduling.NodeSelector); err != nil {
		return e, fmt.Errorf("environment %q: node_selector: %w", e.Name, err)
	}
	if len(e.Scheduling.NodeSelector) == 0 {
		e.Scheduling.NodeSelector = nil
	}
	var ts []storedToleration
	if err := json.Unmarshal([]byte(tolerations), &ts); err != nil {
		return e, fmt.Errorf("environment %q: tolerations: %w", e.Name, err)
	}
	for _, t := range ts {
		e.Scheduling.Tolerations = append(e.Scheduling.Tolerations, berth.Toleration{Key: t.Key,
			Operator: berth.TolerationOperator(t.Operator), Value: t.Value, Effect: berth.TaintEffect(t.Effect)})
	}
	return e, nil
}

// nodeSelectorColumn is the stored form of a node selector: a JSON object, {} for none.
func nodeSelectorColumn(sel map[string]string) (string, error) {
	if sel == nil {
		sel = map[string]string{}
	}
	// encoding/json sorts map keys: equal selectors are stored as equal text.
	data, err := json.Marshal(sel)
	return string(data), err
}

// tolerationsColumn is the stored form of tolerations: a JSON array, [] for none.
func tolerationsColumn(ts []berth.Toleration) (string, error) {
	out := make([]storedToleration, 0, len(ts))
	for _, t := range ts {
		out = append(out, storedToleration{Key: t.Key, Operator: string(t.Operator), Value: t.Value, Effect: string(t.Effect)})
	}
	data, err := json.Marshal(out)
	return string(data), err
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
	return e.Scheduling.Validate()
}

// CreateEnvironment creates an environment from e's Name, Kubeconfig, Context, InCluster,
// NamespaceTemplate (default DefaultNamespaceTemplate), Protected and Scheduling. Allowed
// deployers are added with AllowDeployer.
func (tx *Tx) CreateEnvironment(ctx context.Context, e berth.Environment) (berth.Environment, error) {
	if err := validateEnvironment(&e); err != nil {
		return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name, err)
	}
	selector, tolerations, err := schedulingColumns(e.Scheduling)
	if err != nil {
		return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name, err)
	}
	if e.PreviewOf != "" {
		if e.PreviewOf == e.Name {
			return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name, invalid("preview_of", "a preview environment falls back to another environment, not itself"))
		}
		fallback, err := tx.Environment(ctx, e.PreviewOf)
		if err != nil {
			return berth.Environment{}, fmt.Errorf("create environment %q: preview of: %w", e.Name, err)
		}
		if fallback.PreviewOf != "" {
			return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name,
				invalid("preview_of", "%s is itself a preview environment: name the environment previews fall back to (%s)", fallback.Name, fallback.PreviewOf))
		}
	}
	out, err := scanEnvironment(tx.queryRow(ctx, `INSERT INTO environments
		(name, kubeconfig, context, in_cluster, namespace_template, protected, node_selector, tolerations, created_at, preview_of)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+environmentColumns,
		e.Name, e.Kubeconfig, e.Context, e.InCluster, e.NamespaceTemplate, e.Protected, selector, tolerations, micros(tx.stamp()), e.PreviewOf))
	if err != nil {
		return berth.Environment{}, fmt.Errorf("create environment %q: %w", e.Name, dbErr(err))
	}
	return out, nil
}

// UpdateEnvironment replaces the cluster, namespace template, protection and scheduling
// defaults of the environment called e.Name; its allowed deployers stay.
func (tx *Tx) UpdateEnvironment(ctx context.Context, e berth.Environment) (berth.Environment, error) {
	if err := validateEnvironment(&e); err != nil {
		return berth.Environment{}, fmt.Errorf("update environment %q: %w", e.Name, err)
	}
	selector, tolerations, err := schedulingColumns(e.Scheduling)
	if err != nil {
		return berth.Environment{}, fmt.Errorf("update environment %q: %w", e.Name, err)
	}
	res, err := tx.exec(ctx, `UPDATE environments
		SET kubeconfig = ?, context = ?, in_cluster = ?, namespace_template = ?, protected = ?,
			node_selector = ?, tolerations = ?
		WHERE name = ?`,
		e.Kubeconfig, e.Context, e.InCluster, e.NamespaceTemplate, e.Protected, selector, tolerations, e.Name)
	if err != nil {
		return berth.Environment{}, fmt.Errorf("update environment %q: %w", e.Name, dbErr(err))
	}
	if err := mustAffect(res, notFound("environment", e.Name)); err != nil {
		return berth.Environment{}, err
	}
	return tx.Environment(ctx, e.Name)
}

// SetNodeSelector replaces the node selector of the environment called env (nil or empty:
// none), leaving its tolerations as they are.
func (tx *Tx) SetNodeSelector(ctx context.Context, env string, sel map[string]string) error {
	if err := berth.ValidateNodeSelector(sel); err != nil {
		return fmt.Errorf("set node selector of environment %q: %w", env, err)
	}
	col, err := nodeSelectorColumn(sel)
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, "UPDATE environments SET node_selector = ? WHERE name = ?", col, env)
	if err != nil {
		return fmt.Errorf("set node selector of environment %q: %w", env, dbErr(err))
	}
	return mustAffect(res, notFound("environment", env))
}

// SetTolerations replaces the tolerations of the environment called env (nil or empty:
// none), leaving its node selector as it is.
func (tx *Tx) SetTolerations(ctx context.Context, env string, ts []berth.Toleration) error {
	if err := berth.ValidateTolerations(ts); err != nil {
		return fmt.Errorf("set tolerations of environment %q: %w", env, err)
	}
	col, err := tolerationsColumn(ts)
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, "UPDATE environments SET tolerations = ? WHERE name = ?", col, env)
	if err != nil {
		return fmt.Errorf("set tolerations of environment %q: %w", env, dbErr(err))
	}
	return mustAffect(res, notFound("environment", env))
}

func schedulingColumns(s berth.Scheduling) (selector, tolerations string, err error) {
	if selector, err = nodeSelectorColumn(s.NodeSelector); err != nil {
		return "", "", err
	}
	tolerations, err = tolerationsColumn(s.Tolerations)
	return selector, tolerations, err
}

// DeleteEnvironment deletes an environment.
func (tx *Tx) DeleteEnvironment(ctx context.Context, name string) error {
	previews, err := list(ctx, tx.queries, func(sc scanner) (string, error) {
		var p string
		return p, sc.Scan(&p)
	}, "SELECT name FROM environments WHERE preview_of = ? ORDER BY name", name)
	if err != nil {
		return fmt.Errorf("delete environment %q: %w", name, dbErr(err))
	}
	if len(previews) > 0 {
		return fmt.Errorf("delete environment %q: the previews of %s fall back to it: delete them first: %w",
			name, strings.Join(previews, ", "), berth.ErrConflict)
	}
	var made int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM previews WHERE (base = ? OR env = ?) AND state <> 'closed'", name, name).Scan(&made); err != nil {
		return fmt.Errorf("delete environment %q: %w", name, dbErr(err))
	}
	if made > 0 {
		return fmt.Errorf("delete environment %q: %d pull requests' previews in it or made from it are active: close the pull requests first (`berth previews list`): %w",
			name, made, berth.ErrConflict)
	}
	if err := tx.deleteProbeData(ctx, name); err != nil {
		return err
	}
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

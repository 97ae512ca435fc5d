package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
	"github.com/berth-dev/berth/internal/store"
)

// How declared resources become real
//
// The provision stage runs before render. For each resource the revision declares in the
// environment, in manifest.ResourceOrder (a route after the dns resource whose host it
// takes), it finds a provisioner — an entry of the environment's provisioner file, else a
// built-in (internal/provision) — runs it with the state the previous run left, and
// records the resource (store: outputs, state and secret outputs sealed, a version per
// change, an audit event per change). A resource nothing provisions fails the deploy
// before anything is applied. Resources the app no longer declares are marked orphaned,
// never dropped. Render then resolves ${resources.NAME.OUTPUT} from what was provisioned:
// plain outputs as text, secret ones as references to the Secret <app>-resources, stored
// without values and filled in at apply (resourceSecrets). Rollbacks and redeploys re-apply
// stored objects and provision nothing: the resources they name are still there, and their
// secret outputs are read when applied, so a rotated password reaches a rollback too.

// Databases makes the databases of postgres resources; cmd/berth wires internal/pgadmin.
type Databases interface {
	// Ensure makes (or finds) the database and role of req on the server dsn names, sets
	// the role's password (a new one when req.Password is "") and says how to reach it.
	// Errors never hold the DSN's or the role's password.
	Ensure(ctx context.Context, dsn string, req PostgresRequest) (provision.PostgresDatabase, error)
}

// PostgresRequest is one postgres resource: whose it is, and its password so far.
type PostgresRequest struct {
	Team, App, Env, Resource string
	Password                 string
}

// provision provisions the resources the deploy's revision declares (see above).
func (r *run) provision(ctx context.Context) error {
	if err := r.loadEnv(ctx); err != nil {
		return err
	}
	if r.d.SourceDeploy != 0 {
		return nil
	}
	m, err := r.manifest(ctx)
	if err != nil {
		return err
	}
	d := r.d
	var file *provision.File
	var fileVersion int64
	if len(m.ForEnv(d.Env).Resources) > 0 {
		if file, fileVersion, err = r.provisionerFile(ctx); err != nil {
			return err
		}
	}
	var keep []string
	res, err := provision.Walk(m, manifest.RenderOptions{Env: d.Env, Namespace: r.namespace, Set: d.Args},
		func(name string, decl *manifest.Resource) (*provision.Outcome, string, error) {
			uid := berth.ResourceUID(decl.Type, decl.Class, decl.ID, d.Team, d.App, name)
			prev, err := r.e.st.ResourceSecrets(ctx, d.Env, uid)
			if err != nil && !errors.Is(err, berth.ErrNotFound) {
				return nil, "", failf("resource %s: %v", name, err)
			}
			out, err := r.provisionOne(ctx, m, file, fileVersion, name, uid, decl, prev)
			if err != nil {
				var none *provision.NoProvisionerError
				if errors.As(err, &none) {
					return nil, "", failf("resource %s: %v", name, err)
				}
				return nil, "", failf("resource %s (%s): %v", name, decl.Type, err)
			}
			saved, err := r.record(ctx, name, uid, decl, out)
			if err != nil {
				return nil, "", err
			}
			if out.Warning != "" {
				r.event(ctx, "warning", out.Warning)
			}
			keep = append(keep, uid)
			r.secrets = append(r.secrets, secretOutputs(out)...)
			return out, saved.UID + "@" + strconv.FormatInt(saved.Version, 10), nil
		})
	if err != nil {
		var f *failure
		if errors.As(err, &f) || errors.Is(err, berth.ErrLeaseLost) {
			return err
		}
		return failf("revision %d: %v", d.Revision, err)
	}
	if err := r.orphan(ctx, keep); err != nil {
		return err
	}
	r.resources = res
	if len(keep) > 0 {
		r.event(ctx, "provisioned", fmt.Sprintf("%d resources: %s", len(keep), strings.Join(slices.Sorted(maps.Keys(res.Resources)), ", ")))
	}
	return nil
}

// provisionOne runs the provisioner of one resource.
func (r *run) provisionOne(ctx context.Context, m *manifest.Manifest, file *provision.File, fileVersion int64, name, uid string,
	decl *manifest.Resource, prev berth.ResourceSecrets) (*provision.Outcome, error) {
	d := r.d
	if file != nil {
		p, err := file.Match(decl.Type, decl.Class, decl.ID)
		if err == nil {
			result, err := p.Provision(provision.NewInput(d.Env, d.Team, d.App, name, decl, r.namespace, prev.State))
			if err != nil {
				return nil, err
			}
			return provision.FromResult(fmt.Sprintf("%s (provisioner file v%d)", p.URI, fileVersion), result)
		}
	}
	env := provision.Env{Name: d.Env, Team: d.Team, App: d.App, BaseDomain: r.env.BaseDomain, StorageClass: r.env.StorageClass,
		Namespace: r.env.Namespace, Service: m.ForEnv(d.Env).Service,
		ServicePort: func(team, app string) (int32, bool) { return r.servicePort(ctx, team, app) }}
	if out, ok, err := provision.Builtin(env, name, decl, r.namespace); ok {
		return out, err
	}
	if decl.Type == "postgres" {
		return r.postgres(ctx, name, prev)
	}
	known := provision.Builtins()
	if file != nil {
		known = append(known, file.Types()...)
	}
	slices.Sort(known)
	return nil, &provision.NoProvisionerError{Type: decl.Type, Class: decl.Class, Env: d.Env, Known: slices.Compact(known)}
}

// postgres makes a postgres resource's database on the environment's server.
func (r *run) postgres(ctx context.Context, name string, prev berth.ResourceSecrets) (*provision.Outcome, error) {
	d := r.d
	dsn, err := r.e.st.EnvironmentPostgres(ctx, d.Env)
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		return nil, &provision.NoProvisionerError{Type: "postgres", Env: d.Env,
			Reason: "no PostgreSQL server is registered for it: a platform admin registers one with `berth envs set-postgres " + d.Env + " --dsn DSN`"}
	}
	if r.e.o.Databases == nil {
		return nil, errors.New("this Berth server was started without a PostgreSQL provisioner")
	}
	password, _ := prev.State["password"].(string)
	db, err := r.e.o.Databases.Ensure(ctx, dsn, PostgresRequest{Team: d.Team, App: d.App, Env: d.Env, Resource: name, Password: password})
	if err != nil {
		return nil, err
	}
	return provision.Postgres(db), nil
}

// record stores what was provisioned, with an audit event when it changed.
func (r *run) record(ctx context.Context, name, uid string, decl *manifest.Resource, out *provision.Outcome) (berth.Resource, error) {
	d := r.d
	rec := berth.Resource{Env: d.Env, Team: d.Team, App: d.App, Name: name, Type: decl.Type, Class: decl.Class, ResID: decl.ID,
		UID: uid, Provisioner: out.Provisioner, Outputs: map[string]string{}}
	sec := berth.ResourceSecrets{State: out.State}
	for k, v := range out.Outputs {
		if out.Secret[k] {
			if sec.Outputs == nil {
				sec.Outputs = map[string]string{}
			}
			sec.Outputs[k] = v
		} else {
			rec.Outputs[k] = v
		}
	}
	var saved berth.Resource
	err := r.e.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CheckLease(ctx, d.ID, r.owner); err != nil {
			return err
		}
		var changed bool
		var err error
		if saved, changed, err = tx.SaveResource(ctx, rec, sec, fmt.Sprintf("deploy %d", d.ID)); err != nil || !changed {
			return err
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: "system", Action: "resource.provision",
			Target: berth.AppTarget(d.Team, d.App, d.Env) + "/resources/" + name, Team: d.Team, App: d.App, Outcome: berth.OutcomeSuccess,
			Details: map[string]any{"deploy": d.ID, "resource": name, "type": decl.Type, "uid": uid, "version": saved.Version,
				"provisioner": out.Provisioner, "secretOutputs": saved.SecretOutputs}})
		return err
	})
	if err != nil {
		if errors.Is(err, berth.ErrLeaseLost) {
			return saved, err
		}
		return saved, failf("record resource %s: %v", name, err)
	}
	return saved, nil
}

// orphan marks the app's resources in the environment that the revision no longer
// declares as orphaned.
func (r *run) orphan(ctx context.Context, keep []string) error {
	d := r.d
	return r.e.st.Tx(ctx, func(tx *store.Tx) error {
		gone, err := tx.OrphanResources(ctx, d.Env, d.Team, d.App, keep, fmt.Sprintf("deploy %d", d.ID))
		if err != nil {
			return err
		}
		for _, g := range gone {
			if _, err := tx.AppendAudit(ctx, berth.AuditEvent{Actor: "system", Action: "resource.orphan",
				Target: berth.AppTarget(d.Team, d.App, d.Env) + "/resources/" + g.Name, Team: d.Team, App: d.App, Outcome: berth.OutcomeSuccess,
				Details: map[string]any{"deploy": d.ID, "resource": g.Name, "type": g.Type, "uid": g.UID, "version": g.Version}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// provisionerFile returns the environment's newest provisioner file, nil without one.
func (r *run) provisionerFile(ctx context.Context) (*provision.File, int64, error) {
	f, err := r.e.st.ProvisionerFile(ctx, r.d.Env, 0)
	if errors.Is(err, berth.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	parsed, err := provision.Parse(fmt.Sprintf("provisioner file v%d of %s", f.Version, r.d.Env), []byte(f.Content))
	if err != nil {
		return nil, 0, failf("%v", err)
	}
	return parsed, f.Version, nil
}

// servicePort returns the service port other apps reach team's app on in the deploy's
// environment: of its last succeeded deploy's revision, the port named http, else the
// first by name.
func (r *run) servicePort(ctx context.Context, team, app string) (int32, bool) {
	a, err := r.e.st.App(ctx, team, app)
	if err != nil {
		return 0, false
	}
	last, err := r.e.st.LastSucceeded(ctx, a.ID, r.d.Env, 0)
	if err != nil {
		return 0, false
	}
	rev, err := r.e.st.Revision(ctx, team, app, last.Revision)
	if err != nil {
		return 0, false
	}
	m, err := manifest.Parse("berth.yaml", []byte(rev.Manifest))
	if err != nil {
		return 0, false
	}
	svc := m.ForEnv(r.d.Env).Service
	if svc == nil || len(svc.Ports) == 0 {
		return 0, false
	}
	if p, ok := svc.Ports["http"]; ok {
		return p.Port, true
	}
	return svc.Ports[slices.Sorted(maps.Keys(svc.Ports))[0]].Port, true
}

// secretOutputs returns the values of out's secret outputs, for scrubbing messages.
func secretOutputs(out *provision.Outcome) [][]byte {
	var vals [][]byte
	for k, v := range out.Outputs {
		if out.Secret[k] {
			vals = append(vals, []byte(v))
		}
	}
	return vals
}

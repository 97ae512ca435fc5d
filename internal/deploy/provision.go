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
	// NewPassword returns a new random password for a role.
	NewPassword() (string, error)
	// Ensure makes (or finds) the database and role of req on the server dsn names, sets
	// the role's password to req.Password and says how to reach it. Errors never hold the
	// DSN's or the role's password.
	Ensure(ctx context.Context, dsn string, req PostgresRequest) (provision.PostgresDatabase, error)
}

// PostgresRequest is one postgres resource: whose it is, and its password.
type PostgresRequest struct {
	Team, App, Env, Resource string
	// ID is the Score id of a resource the team's apps share: then the database is the
	// team's, named by the id, not the app's.
	ID       string
	Password string
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
	if len(m.ForEnv(r.env.Section()).Resources) > 0 {
		if file, fileVersion, err = r.provisionerFile(ctx); err != nil {
			return err
		}
	}
	provisioned := 0
	res, err := provision.Walk(m, r.renderOptions(),
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
			provisioned++
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
	r.resources = res
	if provisioned > 0 {
		r.event(ctx, "provisioned", fmt.Sprintf("%d resources: %s", provisioned, strings.Join(slices.Sorted(maps.Keys(res.Resources)), ", ")))
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
		Service:    m.ForEnv(r.env.Section()).Service,
		HostsUnder: previewDomain(r.env),
		Locate: func(team, app string) provision.Location {
			loc := r.locate(ctx, team, app)
			if r.env.PreviewBase != "" && app != d.App {
				r.event(ctx, "resolved", fmt.Sprintf("service %s: %s", app, loc.Why))
			}
			return loc
		}}
	if out, ok, err := provision.Builtin(env, name, decl, r.namespace); ok {
		return out, err
	}
	if decl.Type == "postgres" {
		if err := provision.CheckBuiltin(decl); err != nil {
			return nil, err
		}
		return r.postgres(ctx, name, uid, decl, prev)
	}
	known := provision.Builtins()
	if file != nil {
		known = append(known, file.Types()...)
	}
	slices.Sort(known)
	return nil, &provision.NoProvisionerError{Type: decl.Type, Class: decl.Class, Env: d.Env, Known: slices.Compact(known)}
}

// postgres makes a postgres resource's database on the environment's server. A new
// password is kept (sealed) before the server gets it: a crash or a lost lease after the
// server took it must not leave it with a password the store does not know.
func (r *run) postgres(ctx context.Context, name, uid string, decl *manifest.Resource, prev berth.ResourceSecrets) (*provision.Outcome, error) {
	d := r.d
	dsn, err := r.e.st.EnvironmentPostgres(ctx, r.env.Section())
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		return nil, &provision.NoProvisionerError{Type: "postgres", Env: d.Env,
			Reason: "no PostgreSQL server is registered for it: a platform admin registers one with `berth envs set-postgres " + r.env.Section() + " --dsn DSN`"}
	}
	if r.e.o.Databases == nil {
		return nil, errors.New("this Berth server was started without a PostgreSQL provisioner")
	}
	password, _ := prev.State["password"].(string)
	if password == "" {
		if password, err = r.e.o.Databases.NewPassword(); err != nil {
			return nil, err
		}
		if err := r.keepPassword(ctx, name, uid, decl, prev, password); err != nil {
			return nil, err
		}
	}
	r.secrets = append(r.secrets, []byte(password))
	db, err := r.e.o.Databases.Ensure(ctx, dsn, PostgresRequest{Team: d.Team, App: d.App, Env: d.Env, Resource: name, ID: decl.ID, Password: password})
	if err != nil {
		return nil, err
	}
	return provision.Postgres(db), nil
}

// keepPassword stores password in the state of the postgres resource uid, under the lease.
func (r *run) keepPassword(ctx context.Context, name, uid string, decl *manifest.Resource, prev berth.ResourceSecrets, password string) error {
	d := r.d
	return r.e.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CheckLease(ctx, d.ID, r.owner); err != nil {
			return err
		}
		rec, err := tx.Resource(ctx, d.Env, uid)
		if errors.Is(err, berth.ErrNotFound) {
			rec = berth.Resource{Env: d.Env, Team: d.Team, App: d.App, Name: name, Type: decl.Type, Class: decl.Class, ResID: decl.ID,
				UID: uid, Provisioner: provision.BuiltinURI("postgres")}
		} else if err != nil {
			return err
		}
		state := maps.Clone(prev.State)
		if state == nil {
			state = map[string]any{}
		}
		state["password"] = password
		_, _, err = tx.SaveResource(ctx, rec, berth.ResourceSecrets{State: state, Outputs: prev.Outputs}, fmt.Sprintf("deploy %d", d.ID))
		return err
	})
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

// settleResources runs in the transaction that records a succeeded deploy: the resources
// of the app in the environment that the deploy's revision does not declare are orphaned,
// and those it declares again (a rollback's revision) are active. Only a deploy that
// succeeded changes them: a failed one is rolled back to what declared them.
func (r *run) settleResources(ctx context.Context, tx *store.Tx) error {
	d := r.d
	m, err := r.manifest(ctx)
	if err != nil {
		// Only a revision this Berth no longer reads: leave its resources as they are.
		r.log.Warn("read the resources of the revision", "revision", d.Revision, "err", err)
		return nil
	}
	var declared []string
	for name, res := range m.ForEnv(r.env.Section()).Resources {
		declared = append(declared, berth.ResourceUID(res.Type, res.Class, res.ID, d.Team, d.App, name))
	}
	by := fmt.Sprintf("deploy %d", d.ID)
	gone, err := tx.OrphanResources(ctx, d.Env, d.Team, d.App, declared, by)
	if err != nil {
		return err
	}
	back, err := tx.ReactivateResources(ctx, d.Env, d.Team, d.App, declared, by)
	if err != nil {
		return err
	}
	for _, list := range []struct {
		action string
		rs     []berth.Resource
	}{{"resource.orphan", gone}, {"resource.reactivate", back}} {
		for _, g := range list.rs {
			if _, err := tx.AppendAudit(ctx, berth.AuditEvent{Actor: "system", Action: list.action,
				Target: berth.AppTarget(d.Team, d.App, d.Env) + "/resources/" + g.Name, Team: d.Team, App: d.App, Outcome: berth.OutcomeSuccess,
				Details: map[string]any{"deploy": d.ID, "resource": g.Name, "type": g.Type, "uid": g.UID, "version": g.Version}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// provisionerFile returns the environment's newest provisioner file, nil without one.
func (r *run) provisionerFile(ctx context.Context) (*provision.File, int64, error) {
	f, err := r.e.st.ProvisionerFile(ctx, r.env.Section(), 0)
	if errors.Is(err, berth.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	parsed, err := provision.Parse(fmt.Sprintf("provisioner file v%d of %s", f.Version, r.env.Section()), []byte(f.Content))
	if err != nil {
		return nil, 0, failf("%v", err)
	}
	return parsed, f.Version, nil
}

// locate says where the deploy's service resource finds team's app: in the deploy's
// environment; for a pull request's preview, in the active preview of the same branch of
// that app from the same preview environment when there is one, else in the environment
// previews fall back to.
func (r *run) locate(ctx context.Context, team, app string) provision.Location {
	here := r.env
	if here.PreviewBase == "" || app == r.d.App {
		return r.locateIn(ctx, here, team, app, "")
	}
	if branch := r.d.Args["git.branch"]; branch != "" {
		p, err := r.e.st.BranchPreview(ctx, team, app, here.PreviewBase, branch)
		if err == nil {
			// Only a preview that runs: one whose deploy has not succeeded yet answers nothing.
			if env, err := r.e.st.Environment(ctx, p.Env); err == nil {
				if loc := r.locateIn(ctx, env, team, app, fmt.Sprintf("the preview of pull request #%d (branch %s) in %s", p.PR, branch, env.Name)); loc.Port > 0 {
					return loc
				}
			}
		}
	}
	base, err := r.e.st.Environment(ctx, here.PreviewBase)
	if err == nil && base.PreviewOf != "" {
		if fallback, err := r.e.st.Environment(ctx, base.PreviewOf); err == nil {
			return r.locateIn(ctx, fallback, team, app, fmt.Sprintf("%s, where previews fall back to (no preview of %s for this branch)", fallback.Name, app))
		}
	}
	return r.locateIn(ctx, here, team, app, "this preview's own environment (its preview environment names no fallback)")
}

// locateIn locates team's app in env: its namespace, and the service port of its last
// succeeded deploy there (the port named http, else the first by name) when there is one.
func (r *run) locateIn(ctx context.Context, env berth.Environment, team, app, why string) provision.Location {
	loc := provision.Location{Env: env.Name, Namespace: env.Namespace(team, app), Why: why}
	if why == "" {
		loc.Why = env.Name
	}
	a, err := r.e.st.App(ctx, team, app)
	if err != nil {
		return loc
	}
	last, err := r.e.st.LastSucceeded(ctx, a.ID, env.Name, 0)
	if err != nil {
		return loc
	}
	rev, err := r.e.st.Revision(ctx, team, app, last.Revision)
	if err != nil {
		return loc
	}
	m, err := manifest.Parse("berth.yaml", []byte(rev.Manifest))
	if err != nil {
		return loc
	}
	svc := m.ForEnv(env.Section()).Service
	if svc == nil || len(svc.Ports) == 0 {
		return loc
	}
	if p, ok := svc.Ports["http"]; ok {
		loc.Port = p.Port
	} else {
		loc.Port = svc.Ports[slices.Sorted(maps.Keys(svc.Ports))[0]].Port
	}
	return loc
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

// previewDomain is the domain a pull request's preview's routes must be under: its base
// domain ("pr-7.preview.example.com"); one without a base domain routes no host at all
// ("." matches none). "" for an environment that is no preview.
func previewDomain(env berth.Environment) string {
	switch {
	case env.PreviewBase == "":
		return ""
	case env.BaseDomain == "":
		return "."
	}
	return env.BaseDomain
}

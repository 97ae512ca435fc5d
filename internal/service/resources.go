package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// builtinPostgres and builtinVolume are the Provisioners of the resources whose data Berth
// made, and drops: a database, a PersistentVolumeClaim.
const (
	builtinPostgres = "builtin/postgres"
	builtinVolume   = "builtin/volume"
)

// ListResources returns the resources provisioned for team's app, in env or (env "") in
// every environment, orphaned ones too: team viewers and up. Secret outputs are named,
// never read. An app deleted from Berth still lists the resources it left.
func (s *Service) ListResources(ctx context.Context, p *authz.Principal, team, app, env string) ([]berth.Resource, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	rs, err := s.st.Resources(ctx, berth.ResourceFilter{Team: team, App: app, Env: env})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(rs) == 0 {
		// No resources of an app that does not exist is a misspelt name, not an empty list.
		if _, err := s.st.App(ctx, team, app); err != nil {
			return nil, storeErr(err)
		}
	}
	return rs, nil
}

// ResourceDeleteRequest names a resource to delete and how far the caller agreed to go.
type ResourceDeleteRequest struct {
	Team, App, Env string
	// Name is the resource's name in the app's manifest, or its uid when two records of
	// the app share the name (a resource whose type changed).
	Name string
	// Confirm agrees to lose the resource's data. Without it nothing changes, and the error
	// (a *ConfirmationRequired) says what would be dropped.
	Confirm bool
	// Force deletes a resource the app's latest deploy still declares.
	Force bool
}

// ResourceDeletion is what DeleteResource did.
type ResourceDeletion struct {
	Resource berth.Resource
	// Dropped says what data was dropped with the record ("postgres database X and its
	// role"); "" when only the record was forgotten.
	Dropped string
}

// ConfirmationRequired refuses a delete that would lose data until the caller confirms it;
// its message says what would be lost.
type ConfirmationRequired struct {
	Resource  berth.Resource
	WouldDrop string // "" when only the record would be forgotten
}

func (e *ConfirmationRequired) Error() string {
	if e.WouldDrop != "" {
		return fmt.Sprintf("%s: would drop %s; its data is lost; add --confirm", e.Resource.Where(), e.WouldDrop)
	}
	return fmt.Sprintf("%s: would forget its record; Berth drops data only for postgres resources and volume claims: objects its "+
		"provisioner applied go with the app's next deploy (prune), anything else it made stays; add --confirm", e.Resource.Where())
}

// DeleteResource deletes a provisioned resource of team's app in an environment: team
// admins, and only with req.Confirm. For a postgres resource Berth made, it first drops the
// database and its role on the environment's server; other resources are only forgotten
// (what a provisioner file's manifests made went with the deploy that stopped declaring
// them). A resource the app's latest deploy still declares is refused without req.Force:
// the next deploy would make it again.
func (s *Service) DeleteResource(ctx context.Context, p *authz.Principal, req ResourceDeleteRequest) (ResourceDeletion, error) {
	c := change{action: "resource.delete", target: berth.AppTarget(req.Team, req.App, req.Env) + "/resources/" + req.Name,
		team: req.Team, app: req.App, details: map[string]any{"resource": req.Name}}
	if err := authz.Check(p, authz.ResourceDelete, authz.Resource{Team: req.Team}); err != nil {
		return ResourceDeletion{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	r, err := s.findResource(ctx, req)
	if err != nil {
		return ResourceDeletion{}, err
	}
	if r.Status == berth.ResourceActive && !req.Force {
		return ResourceDeletion{}, refused("%s is still declared by the app's latest deploy, which would make it again: "+
			"remove it from berth.yaml and deploy first (or add --force)", r.Where())
	}
	var db, role, dsn, claim string
	var dropped string
	var env berth.Environment
	if r.Provisioner == builtinVolume {
		if claim, err = s.claimOf(ctx, r); err != nil {
			return ResourceDeletion{}, err
		}
		if claim != "" {
			if env, err = s.st.Environment(ctx, r.Env); err != nil {
				return ResourceDeletion{}, storeErr(err)
			}
			dropped = fmt.Sprintf("PersistentVolumeClaim %s/%s and, by its storage class's reclaim policy, the volume's data",
				env.Namespace(r.Team, r.App), claim)
			if s.claims == nil {
				return ResourceDeletion{}, &unavailable{fmt.Errorf("this Berth server has no cluster access to delete %s", dropped)}
			}
		}
	}
	if r.Provisioner == builtinPostgres {
		if db, role, err = s.postgresOf(ctx, r); err != nil {
			return ResourceDeletion{}, err
		}
		dropped = fmt.Sprintf("postgres database %s and its role %s", db, role)
		if role == db {
			dropped = fmt.Sprintf("postgres database %s and its role", db)
		}
		if dsn, err = s.postgresDSN(ctx, r.Env); err != nil {
			return ResourceDeletion{}, storeErr(err)
		}
		switch {
		case dsn == "":
			return ResourceDeletion{}, refused("environment %s has no PostgreSQL server registered, so Berth cannot drop %s: "+
				"register the server it is on with `berth envs set-postgres %s` first", r.Env, dropped, r.Env)
		case s.pg == nil:
			return ResourceDeletion{}, &unavailable{fmt.Errorf("this Berth server was started without a PostgreSQL admin: it cannot drop %s", dropped)}
		}
	}
	if !req.Confirm {
		return ResourceDeletion{}, &ConfirmationRequired{Resource: r, WouldDrop: dropped}
	}
	if err := s.notDeploying(ctx, r, "delete"); err != nil {
		return ResourceDeletion{}, err
	}
	if claim != "" {
		// Outside the transaction, like the database's drop below.
		if err := s.claims.DeleteClaim(ctx, env, env.Namespace(r.Team, r.App), claim); err != nil {
			return ResourceDeletion{}, fmt.Errorf("delete %s: %w", r.Where(), err)
		}
		c.details["dropped"] = map[string]any{"claim": claim}
	}
	if db != "" {
		// Outside the transaction: a network call. Should the record's delete then fail,
		// the record stays and a second delete drops nothing more (missing is no error).
		if err := s.pg.Drop(ctx, dsn, db, role); err != nil {
			return ResourceDeletion{}, fmt.Errorf("delete %s: %w", r.Where(), err)
		}
		s.log.InfoContext(ctx, "dropped postgres database of deleted resource", "env", r.Env, "team", r.Team, "app", r.App,
			"resource", r.Name, "database", db, "role", role)
		c.details["dropped"] = map[string]any{"database": db, "role": role}
	}
	c.target = berth.AppTarget(r.Team, r.App, r.Env) + "/resources/" + r.Name
	c.details["resource"], c.details["type"], c.details["uid"], c.details["version"] = r.Name, r.Type, r.UID, r.Version
	if req.Force {
		c.details["force"] = true
	}
	err = s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		return tx.DeleteResource(ctx, r.Env, r.UID)
	})
	if err != nil {
		return ResourceDeletion{}, err
	}
	return ResourceDeletion{Resource: r, Dropped: dropped}, nil
}

// notDeploying refuses to act on r while a deploy of its app in its environment is queued
// or running: that deploy provisions r with what it read before.
func (s *Service) notDeploying(ctx context.Context, r berth.Resource, what string) error {
	busy, err := s.st.Deploys(ctx, store.DeployFilter{Team: r.Team, App: r.App, Env: r.Env,
		States: []berth.DeployState{berth.DeployQueued, berth.DeployRunning}, Limit: 1})
	if err != nil {
		return storeErr(err)
	}
	if len(busy) > 0 {
		return refused("deploy %d of %s/%s to %s is %s and may provision %s again: %s it when the deploy has finished",
			busy[0].ID, r.Team, r.App, r.Env, busy[0].State, r.Name, what)
	}
	return nil
}

// findResource returns the resource req names: by name among the app's resources in the
// environment, or by uid.
func (s *Service) findResource(ctx context.Context, req ResourceDeleteRequest) (berth.Resource, error) {
	if req.Env == "" {
		return berth.Resource{}, invalid("env", "name the environment of the resource")
	}
	rs, err := s.st.Resources(ctx, berth.ResourceFilter{Team: req.Team, App: req.App, Env: req.Env})
	if err != nil {
		return berth.Resource{}, storeErr(err)
	}
	var named []berth.Resource
	for _, r := range rs {
		if r.UID == req.Name {
			return r, nil
		}
		if r.Name == req.Name {
			named = append(named, r)
		}
	}
	switch len(named) {
	case 0:
		return berth.Resource{}, fmt.Errorf("resource %q of %s/%s in %s: %w", req.Name, req.Team, req.App, req.Env, berth.ErrNotFound)
	case 1:
		return named[0], nil
	}
	var which []string
	for _, r := range named {
		which = append(which, fmt.Sprintf("%s (%s)", r.UID, r.Status))
	}
	return berth.Resource{}, refused("%s/%s has %d resources named %s in %s: %s; name the one to delete by its uid",
		req.Team, req.App, len(named), req.Name, req.Env, strings.Join(which, ", "))
}

// claimOf returns the PersistentVolumeClaim of a volume resource, from its state; "" for
// one that got an emptyDir (its environment named no storage class).
func (s *Service) claimOf(ctx context.Context, r berth.Resource) (string, error) {
	sec, err := s.st.ResourceSecrets(ctx, r.Env, r.UID)
	if err != nil {
		return "", storeErr(err)
	}
	claim, _ := sec.State["claim"].(string)
	return claim, nil
}

// postgresOf returns the database and role of a postgres resource Berth made, from its
// sealed state.
func (s *Service) postgresOf(ctx context.Context, r berth.Resource) (db, role string, err error) {
	sec, err := s.st.ResourceSecrets(ctx, r.Env, r.UID)
	if err != nil {
		return "", "", storeErr(err)
	}
	db, _ = sec.State["database"].(string)
	role, _ = sec.State["username"].(string)
	if db == "" || role == "" {
		return "", "", errors.New(r.Where() + ": its state names no database and role to drop")
	}
	return db, role, nil
}

// ResourceRotation is what RotateResource did: the resource, and the deploy that gives it
// its new password and rolls the pods onto it.
type ResourceRotation struct {
	Resource berth.Resource
	Deploy   berth.Deploy
}

// RotateResource gives a postgres resource Berth made a new password (whoever may deploy
// the app to the environment): in one transaction with its audit event (resource.rotate,
// naming the deploy) it forgets the kept password and queues a refresh deploy of what
// runs, whose provision stage sets a new one on the server and whose pods read it from the Secret APP-resources. Until they roll, connections
// the old pods open are refused; open ones stay.
func (s *Service) RotateResource(ctx context.Context, p *authz.Principal, req ResourceDeleteRequest) (ResourceRotation, error) {
	c := change{action: "resource.rotate", target: berth.AppTarget(req.Team, req.App, req.Env) + "/resources/" + req.Name,
		team: req.Team, app: req.App, details: map[string]any{"resource": req.Name}}
	env, err := s.st.Environment(ctx, req.Env)
	if err != nil {
		return ResourceRotation{}, storeErr(err)
	}
	if err := checkDeploy(p, req.Team, env); err != nil {
		return ResourceRotation{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	r, err := s.findResource(ctx, req)
	if err != nil {
		return ResourceRotation{}, err
	}
	switch {
	case r.Provisioner != builtinPostgres:
		return ResourceRotation{}, refused("%s was made by %s: Berth rotates the passwords of postgres resources it made; "+
			"a provisioner file's resource keeps what its state template keeps", r.Where(), r.Provisioner)
	case r.Status != berth.ResourceActive:
		return ResourceRotation{}, refused("%s is orphaned: no deploy would set its new password", r.Where())
	}
	if err := s.notDeploying(ctx, r, "rotate"); err != nil {
		return ResourceRotation{}, err
	}
	c.target = berth.AppTarget(r.Team, r.App, r.Env) + "/resources/" + r.Name
	c.details["type"], c.details["uid"], c.details["version"] = r.Type, r.UID, r.Version
	var d berth.Deploy
	err = s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		sec, err := tx.ResourceSecrets(ctx, r.Env, r.UID)
		if err != nil {
			return err
		}
		// Already gone when a rotation's deploy has not run yet: then only deploy again.
		if _, ok := sec.State["password"]; ok {
			delete(sec.State, "password")
			if r, _, err = tx.SaveResource(ctx, r, sec, p.Name); err != nil {
				return err
			}
			c.details["version"] = r.Version
		}
		app, err := tx.App(ctx, r.Team, r.App)
		if err != nil {
			return err
		}
		nd, err := refreshDeploy(ctx, tx, app, r.Env, p.Name, berth.DeployOptions{})
		if err != nil {
			return err
		}
		rev, err := tx.Revision(ctx, r.Team, r.App, nd.Revision)
		if err != nil {
			return err
		}
		if err := checkRender(ctx, tx, r.Team, r.App, r.Env, "berth.yaml", rev.Manifest, nd.Args); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, nd)
		c.details["deploy"] = d.ID
		return err
	})
	if err != nil {
		return ResourceRotation{}, err
	}
	s.notifyWorkers()
	return ResourceRotation{Resource: r, Deploy: d}, nil
}

// postgresDSN returns the DSN of the PostgreSQL server the postgres resources of env are
// made on: its own, or for a pull request's preview, its preview environment's.
func (s *Service) postgresDSN(ctx context.Context, env string) (string, error) {
	e, err := s.st.Environment(ctx, env)
	if err != nil && !errors.Is(err, berth.ErrNotFound) {
		return "", err
	}
	if err == nil {
		env = e.Section()
	}
	return s.st.EnvironmentPostgres(ctx, env)
}

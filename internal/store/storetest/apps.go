package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

func testApps(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web", "data"}, []string{"ann"})
	var app berth.App
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if app, err = tx.CreateApp(ctx, "web", "frontend", "ann"); err != nil {
			return err
		}
		if _, err := tx.CreateApp(ctx, "web", "api", "ann"); err != nil {
			return err
		}
		// Names are unique per team only.
		_, err = tx.CreateApp(ctx, "data", "api", "ann")
		return err
	})
	want := berth.App{ID: app.ID, TeamID: app.TeamID, Team: "web", Name: "frontend", CreatedBy: "ann", CreatedAt: epoch}
	equal(t, "CreateApp", app, want)
	got, err := st.App(ctx, "web", "frontend")
	must(t, "App", err)
	equal(t, "App", got, want)

	list := func(team string) []string {
		t.Helper()
		apps, err := st.Apps(ctx, team)
		must(t, "Apps", err)
		var out []string
		for _, a := range apps {
			out = append(out, a.Team+"/"+a.Name)
		}
		return out
	}
	equal(t, "Apps web", list("web"), []string{"web/api", "web/frontend"})
	equal(t, "Apps all", list(""), []string{"data/api", "web/api", "web/frontend"})
	_, err = st.Apps(ctx, "nope")
	wantErr(t, "Apps missing team", err, berth.ErrNotFound)

	for _, tc := range []struct {
		team, name, by string
		want           error
	}{
		{"web", "frontend", "ann", berth.ErrConflict},
		{"nope", "x", "ann", berth.ErrNotFound},
		{"web", "Bad_Name", "ann", berth.ErrInvalid},
		{"web", "x", "", berth.ErrInvalid},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateApp(ctx, tc.team, tc.name, tc.by); return err })
		wantErr(t, "CreateApp "+tc.team+"/"+tc.name, err, tc.want)
	}
	_, err = st.App(ctx, "web", "nope")
	wantErr(t, "App missing", err, berth.ErrNotFound)
	if err != nil && !strings.Contains(err.Error(), `"web/nope"`) {
		t.Errorf("App missing: error %q does not name the app", err)
	}
	_, err = st.App(ctx, "nope", "api")
	wantErr(t, "App of missing team", err, berth.ErrNotFound)
	if err != nil && !strings.Contains(err.Error(), `team "nope"`) {
		t.Errorf("App of missing team: error %q does not name the team", err)
	}

	tx(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "web", "api") })
	equal(t, "Apps after delete", list(""), []string{"data/api", "web/frontend"})
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "web", "api") })
	wantErr(t, "DeleteApp missing", err, berth.ErrNotFound)
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "nope", "api") })
	wantErr(t, "DeleteApp missing team", err, berth.ErrNotFound)
}

func testRevisions(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web"}, []string{"ann"})
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateApp(ctx, "web", "frontend", "ann"); err != nil {
			return err
		}
		_, err := tx.CreateApp(ctx, "web", "other", "ann")
		return err
	})
	_, err := st.LatestRevision(ctx, "web", "frontend")
	wantErr(t, "LatestRevision before the first", err, berth.ErrNotFound)

	manifests := []string{"apiVersion: berth.dev/v1\nreplicas: 1\n", "replicas: 2\n", "replicas: 3\n"}
	var revs []berth.Revision
	for i, m := range manifests {
		h.clock.Advance(time.Minute)
		tx(t, st, func(tx *store.Tx) error {
			r, err := tx.AddRevision(ctx, "web", "frontend", m, "ann")
			revs = append(revs, r)
			return err
		})
		sum := sha256.Sum256([]byte(m))
		if r := revs[i]; r.Number != int64(i+1) || r.Manifest != m || r.Digest != hex.EncodeToString(sum[:]) ||
			r.Team != "web" || r.App != "frontend" || r.CreatedBy != "ann" || !r.CreatedAt.Equal(epoch.Add(time.Duration(i+1)*time.Minute)) {
			t.Errorf("AddRevision %d = %+v", i+1, r)
		}
	}
	// Numbering is per app.
	tx(t, st, func(tx *store.Tx) error {
		r, err := tx.AddRevision(ctx, "web", "other", "x: 1\n", "ann")
		if err == nil && r.Number != 1 {
			t.Errorf("first revision of another app is %d, want 1", r.Number)
		}
		return err
	})

	got, err := st.Revision(ctx, "web", "frontend", 2)
	must(t, "Revision", err)
	equal(t, "Revision 2", got, revs[1])
	latest, err := st.LatestRevision(ctx, "web", "frontend")
	must(t, "LatestRevision", err)
	equal(t, "LatestRevision", latest, revs[2])
	all, err := st.Revisions(ctx, "web", "frontend")
	must(t, "Revisions", err)
	equal(t, "Revisions", all, []berth.Revision{revs[2], revs[1], revs[0]})
	app, err := st.App(ctx, "web", "frontend")
	must(t, "App", err)
	if app.LatestRevision != 3 {
		t.Errorf("App.LatestRevision = %d, want 3", app.LatestRevision)
	}

	_, err = st.Revision(ctx, "web", "frontend", 4)
	wantErr(t, "Revision missing", err, berth.ErrNotFound)
	_, err = st.Revision(ctx, "web", "nope", 1)
	wantErr(t, "Revision of a missing app", err, berth.ErrNotFound)
	for _, tc := range []struct {
		app, manifest, by string
		want              error
	}{
		{"nope", "x", "ann", berth.ErrNotFound},
		{"frontend", "", "ann", berth.ErrInvalid},
		{"frontend", "x", "", berth.ErrInvalid},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.AddRevision(ctx, "web", tc.app, tc.manifest, tc.by); return err })
		wantErr(t, "AddRevision "+tc.app, err, tc.want)
	}
	// A failed AddRevision does not use up a number.
	tx(t, st, func(tx *store.Tx) error {
		r, err := tx.AddRevision(ctx, "web", "frontend", "replicas: 4\n", "ann")
		if err == nil && r.Number != 4 {
			t.Errorf("revision after failures is %d, want 4", r.Number)
		}
		return err
	})

	// Deleting the app deletes its revisions; a new app of that name starts again at 1.
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "web", "frontend") })
	_, err = st.Revisions(ctx, "web", "frontend")
	wantErr(t, "Revisions of a deleted app", err, berth.ErrNotFound)
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateApp(ctx, "web", "frontend", "ann"); err != nil {
			return err
		}
		r, err := tx.AddRevision(ctx, "web", "frontend", "y: 1\n", "ann")
		if err == nil && r.Number != 1 {
			t.Errorf("first revision of a re-created app is %d, want 1", r.Number)
		}
		return err
	})
}

// testConcurrentRevisions adds revisions to one app from many goroutines: every revision
// gets its own number, without gaps.
func testConcurrentRevisions(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web"}, []string{"ann"})
	tx(t, st, func(tx *store.Tx) error { _, err := tx.CreateApp(ctx, "web", "frontend", "ann"); return err })
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- st.Tx(ctx, func(tx *store.Tx) error {
				_, err := tx.AddRevision(ctx, "web", "frontend", fmt.Sprintf("n: %d\n", i), "ann")
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, "AddRevision", err)
	}
	revs, err := st.Revisions(ctx, "web", "frontend")
	must(t, "Revisions", err)
	if len(revs) != n {
		t.Fatalf("%d revisions, want %d", len(revs), n)
	}
	for i, r := range revs {
		if r.Number != int64(n-i) {
			t.Errorf("revision %d has number %d, want %d", i, r.Number, n-i)
		}
	}
}

func testEnvironments(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, nil, []string{"ann", "bob"})
	var staging, prod berth.Environment
	tx(t, st, func(tx *store.Tx) error {
		var err error
		staging, err = tx.CreateEnvironment(ctx, berth.Environment{Name: "staging", Kubeconfig: "/etc/berth/staging.kubeconfig", Context: "kind-staging"})
		if err != nil {
			return err
		}
		prod, err = tx.CreateEnvironment(ctx, berth.Environment{Name: "prod", InCluster: true, NamespaceTemplate: "{team}-{app}-prod", Protected: true})
		if err != nil {
			return err
		}
		if err := tx.AllowDeployer(ctx, "prod", "bob"); err != nil {
			return err
		}
		if err := tx.AllowDeployer(ctx, "prod", "ann"); err != nil {
			return err
		}
		return tx.AllowDeployer(ctx, "prod", "bob") // again: no change
	})
	wantStaging := berth.Environment{ID: staging.ID, Name: "staging", Kubeconfig: "/etc/berth/staging.kubeconfig", Context: "kind-staging",
		NamespaceTemplate: berth.DefaultNamespaceTemplate, CreatedAt: epoch}
	equal(t, "CreateEnvironment staging", staging, wantStaging)
	if got := staging.Namespace("web", "frontend"); got != "web-staging" {
		t.Errorf("Namespace = %q, want web-staging", got)
	}

	got, err := st.Environment(ctx, "prod")
	must(t, "Environment", err)
	wantProd := berth.Environment{ID: prod.ID, Name: "prod", InCluster: true, NamespaceTemplate: "{team}-{app}-prod", Protected: true,
		AllowedDeployers: []string{"ann", "bob"}, CreatedAt: epoch}
	equal(t, "Environment prod", got, wantProd)
	if got.Namespace("web", "frontend") != "web-frontend-prod" || !got.AllowsDeployer("bob") || got.AllowsDeployer("cy") {
		t.Errorf("Namespace/AllowsDeployer of %+v", got)
	}
	envs, err := st.Environments(ctx)
	must(t, "Environments", err)
	equal(t, "Environments", envs, []berth.Environment{wantProd, wantStaging})

	err = txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "prod", InCluster: true})
		return err
	})
	wantErr(t, "CreateEnvironment duplicate", err, berth.ErrConflict)

	tx(t, st, func(tx *store.Tx) error { return tx.DisallowDeployer(ctx, "prod", "bob") })
	got, _ = st.Environment(ctx, "prod")
	equal(t, "AllowedDeployers after DisallowDeployer", got.AllowedDeployers, []string{"ann"})
	for _, tc := range []struct {
		what string
		fn   func(tx *store.Tx) error
	}{
		{"DisallowDeployer not allowed", func(tx *store.Tx) error { return tx.DisallowDeployer(ctx, "prod", "bob") }},
		{"DisallowDeployer missing env", func(tx *store.Tx) error { return tx.DisallowDeployer(ctx, "nope", "bob") }},
		{"AllowDeployer missing env", func(tx *store.Tx) error { return tx.AllowDeployer(ctx, "nope", "bob") }},
		{"AllowDeployer missing user", func(tx *store.Tx) error { return tx.AllowDeployer(ctx, "prod", "nope") }},
		{"DeleteEnvironment missing", func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "nope") }},
		{"UpdateEnvironment missing", func(tx *store.Tx) error {
			_, err := tx.UpdateEnvironment(ctx, berth.Environment{Name: "nope", InCluster: true})
			return err
		}},
	} {
		wantErr(t, tc.what, txErr(t, st, tc.fn), berth.ErrNotFound)
	}
	_, err = st.Environment(ctx, "nope")
	wantErr(t, "Environment missing", err, berth.ErrNotFound)

	// Update replaces the settings and keeps the allowances.
	tx(t, st, func(tx *store.Tx) error {
		e, err := tx.UpdateEnvironment(ctx, berth.Environment{Name: "prod", Kubeconfig: "/k", Context: "c", Protected: false})
		if err == nil {
			want := berth.Environment{ID: prod.ID, Name: "prod", Kubeconfig: "/k", Context: "c", NamespaceTemplate: berth.DefaultNamespaceTemplate,
				AllowedDeployers: []string{"ann"}, CreatedAt: epoch}
			equal(t, "UpdateEnvironment", e, want)
		}
		return err
	})

	tx(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "prod") })
	_, err = st.Environment(ctx, "prod")
	wantErr(t, "Environment after delete", err, berth.ErrNotFound)
	// Its allowances went with it: a new prod starts with none.
	tx(t, st, func(tx *store.Tx) error {
		e, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "prod", InCluster: true})
		if err == nil && len(e.AllowedDeployers) != 0 {
			t.Errorf("re-created environment has allowances %v", e.AllowedDeployers)
		}
		return err
	})
	got, _ = st.Environment(ctx, "prod")
	if len(got.AllowedDeployers) != 0 {
		t.Errorf("re-created environment has allowances %v", got.AllowedDeployers)
	}
}

// testEnvironmentScheduling round-trips an environment's scheduling defaults through
// create, read, list, update and the two setters, each of which leaves the other half.
func testEnvironmentScheduling(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	realNode := berth.Toleration{Key: "berth.dev/real-node", Operator: berth.TolerationEqual, Value: "true", Effect: berth.EffectNoSchedule}
	dedicated := berth.Toleration{Key: "dedicated", Operator: berth.TolerationExists, Effect: berth.EffectNoExecute}
	sched := berth.Scheduling{
		NodeSelector: map[string]string{"berth.dev/real-node": "true", "kubernetes.io/os": "linux", "empty": ""},
		Tolerations:  []berth.Toleration{realNode, dedicated},
	}
	var dev berth.Environment
	tx(t, st, func(tx *store.Tx) error {
		var err error
		dev, err = tx.CreateEnvironment(ctx, berth.Environment{Name: "dev", Kubeconfig: "/k", Scheduling: sched})
		return err
	})
	want := berth.Environment{ID: dev.ID, Name: "dev", Kubeconfig: "/k", NamespaceTemplate: berth.DefaultNamespaceTemplate,
		Scheduling: sched, CreatedAt: epoch}
	equal(t, "CreateEnvironment", dev, want)
	got, err := st.Environment(ctx, "dev")
	must(t, "Environment", err)
	equal(t, "Environment", got, want)

	// An environment without defaults reads as the zero Scheduling, as does one written
	// before the columns existed (their defaults).
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "plain", InCluster: true})
		return err
	})
	raw(t, st, "INSERT INTO environments (name, kubeconfig, namespace_template, created_at) VALUES ('older', '/k', '{team}-{env}', 0)")
	envs, err := st.Environments(ctx)
	must(t, "Environments", err)
	if len(envs) != 3 {
		t.Fatalf("Environments = %+v, want dev, older and plain", envs)
	}
	equal(t, "Environments dev", envs[0], want)
	for _, e := range envs[1:] {
		equal(t, "Scheduling of "+e.Name, e.Scheduling, berth.Scheduling{})
	}

	// The setters replace one half each.
	tx(t, st, func(tx *store.Tx) error { return tx.SetNodeSelector(ctx, "dev", map[string]string{"zone": "eu-1"}) })
	got, _ = st.Environment(ctx, "dev")
	equal(t, "after SetNodeSelector", got.Scheduling, berth.Scheduling{NodeSelector: map[string]string{"zone": "eu-1"}, Tolerations: sched.Tolerations})
	tx(t, st, func(tx *store.Tx) error { return tx.SetTolerations(ctx, "dev", []berth.Toleration{dedicated}) })
	got, _ = st.Environment(ctx, "dev")
	equal(t, "after SetTolerations", got.Scheduling, berth.Scheduling{NodeSelector: map[string]string{"zone": "eu-1"}, Tolerations: []berth.Toleration{dedicated}})
	tx(t, st, func(tx *store.Tx) error {
		if err := tx.SetNodeSelector(ctx, "dev", map[string]string{}); err != nil {
			return err
		}
		return tx.SetTolerations(ctx, "dev", nil)
	})
	got, _ = st.Environment(ctx, "dev")
	equal(t, "after clearing", got.Scheduling, berth.Scheduling{})

	// UpdateEnvironment replaces them with the rest.
	tx(t, st, func(tx *store.Tx) error {
		e, err := tx.UpdateEnvironment(ctx, berth.Environment{Name: "dev", Kubeconfig: "/k", Scheduling: sched})
		if err == nil {
			equal(t, "UpdateEnvironment", e.Scheduling, sched)
		}
		return err
	})

	for _, tc := range []struct {
		what string
		fn   func(tx *store.Tx) error
		want error
	}{
		{"SetNodeSelector missing", func(tx *store.Tx) error { return tx.SetNodeSelector(ctx, "nope", nil) }, berth.ErrNotFound},
		{"SetTolerations missing", func(tx *store.Tx) error { return tx.SetTolerations(ctx, "nope", nil) }, berth.ErrNotFound},
		{"SetNodeSelector invalid", func(tx *store.Tx) error {
			return tx.SetNodeSelector(ctx, "dev", map[string]string{"no spaces": "x"})
		}, berth.ErrInvalid},
		{"SetTolerations invalid", func(tx *store.Tx) error {
			return tx.SetTolerations(ctx, "dev", []berth.Toleration{{Key: "k", Operator: berth.TolerationEqual, Value: "v"}})
		}, berth.ErrInvalid},
	} {
		wantErr(t, tc.what, txErr(t, st, tc.fn), tc.want)
	}
	got, _ = st.Environment(ctx, "dev")
	equal(t, "after refused changes", got.Scheduling, sched)
}

func testEnvironmentValidation(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	for _, tc := range []struct {
		what  string
		env   berth.Environment
		field string // "" = valid
	}{
		{"kubeconfig", berth.Environment{Name: "a", Kubeconfig: "/k"}, ""},
		{"in-cluster", berth.Environment{Name: "b", InCluster: true}, ""},
		{"namespace per app", berth.Environment{Name: "c", InCluster: true, NamespaceTemplate: "{app}"}, ""},
		{"fixed namespace", berth.Environment{Name: "d", InCluster: true, NamespaceTemplate: "apps"}, ""},
		{"no cluster", berth.Environment{Name: "e"}, "kubeconfig"},
		{"both clusters", berth.Environment{Name: "f", Kubeconfig: "/k", InCluster: true}, "kubeconfig"},
		{"bad name", berth.Environment{Name: "Prod", InCluster: true}, "name"},
		{"unknown placeholder", berth.Environment{Name: "g", InCluster: true, NamespaceTemplate: "{team}-{region}"}, "namespace_template"},
		{"unclosed placeholder", berth.Environment{Name: "h", InCluster: true, NamespaceTemplate: "{team"}, "namespace_template"},
		{"not a label", berth.Environment{Name: "i", InCluster: true, NamespaceTemplate: "{team}_{env}"}, "namespace_template"},
		{"node selector", berth.Environment{Name: "j", InCluster: true, Scheduling: berth.Scheduling{
			NodeSelector: map[string]string{"zone": "eu west"}}}, "nodeSelector"},
		{"toleration effect", berth.Environment{Name: "k", InCluster: true, Scheduling: berth.Scheduling{
			Tolerations: []berth.Toleration{{Key: "k", Operator: berth.TolerationExists, Effect: "Sometimes"}}}}, "tolerations[0].effect"},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateEnvironment(ctx, tc.env); return err })
		if tc.field == "" {
			wantErr(t, "CreateEnvironment "+tc.what, err, nil)
			continue
		}
		var inv *berth.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("CreateEnvironment %s: error %v, want an InvalidError about %s", tc.what, err, tc.field)
		}
	}
}

// testPreviewEnvironments: a preview environment names its fallback, which exists and is
// no preview environment itself; the fallback is not deleted while previews fall back to it.
func testPreviewEnvironments(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	create := func(e berth.Environment) (berth.Environment, error) {
		var out berth.Environment
		err := txErr(t, st, func(tx *store.Tx) (err error) {
			out, err = tx.CreateEnvironment(ctx, e)
			return err
		})
		return out, err
	}
	_, err := create(berth.Environment{Name: "staging", InCluster: true})
	must(t, "staging", err)
	p, err := create(berth.Environment{Name: "preview", InCluster: true, PreviewOf: "staging"})
	must(t, "preview", err)
	equal(t, "preview of", p.PreviewOf, "staging")
	got, err := st.Environment(ctx, "preview")
	must(t, "Environment", err)
	equal(t, "stored", got.PreviewOf, "staging")
	_, err = create(berth.Environment{Name: "self", InCluster: true, PreviewOf: "self"})
	wantErr(t, "a preview of itself", err, berth.ErrInvalid)
	_, err = create(berth.Environment{Name: "chain", InCluster: true, PreviewOf: "preview"})
	wantErr(t, "a preview of a preview environment", err, berth.ErrInvalid)
	_, err = create(berth.Environment{Name: "lost", InCluster: true, PreviewOf: "nowhere"})
	wantErr(t, "a preview of nothing", err, berth.ErrNotFound)
	wantErr(t, "deleting the fallback", txErr(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "staging") }), berth.ErrConflict)
	must(t, "deleting the preview environment", txErr(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "preview") }))
	must(t, "then the fallback", txErr(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "staging") }))
}

// testPreviews: a pull request's preview makes its environment from the preview
// environment (cluster and storage class copied, namespace its own name, base domain
// pr-N.), is found by its branch while active, keeps its comment id across pushes, and
// closes once; the preview environment is not deleted while previews made from it are
// active; a name that would not fit, or a base that is no preview environment, is refused.
func testPreviews(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web"}, []string{"ann"})
	var base, plain berth.Environment
	tx(t, st, func(tx *store.Tx) (err error) {
		for _, app := range []string{"shop", "api", strings.Repeat("a", 55)} {
			if _, err := tx.CreateApp(ctx, "web", app, "ann"); err != nil {
				return err
			}
		}
		if plain, err = tx.CreateEnvironment(ctx, berth.Environment{Name: "staging", Kubeconfig: "/k", Context: "dev"}); err != nil {
			return err
		}
		if _, err = tx.CreateEnvironment(ctx, berth.Environment{Name: "preview", Kubeconfig: "/k", Context: "dev", PreviewOf: "staging"}); err != nil {
			return err
		}
		if err := tx.SetEnvironmentDomains(ctx, "preview", "preview.localhost", "local-path"); err != nil {
			return err
		}
		base, err = tx.Environment(ctx, "preview")
		return err
	})
	open := func(p berth.Preview, base berth.Environment) (berth.Preview, berth.Environment, error) {
		var pv berth.Preview
		var env berth.Environment
		err := txErr(t, st, func(tx *store.Tx) (err error) {
			pv, env, err = tx.OpenPreview(ctx, p, base)
			return err
		})
		return pv, env, err
	}
	pv, env, err := open(berth.Preview{Team: "web", App: "shop", PR: 7, Branch: "feature", SHA: "aaa", URL: "http://forge/o/r/pulls/7"}, base)
	must(t, "OpenPreview", err)
	equal(t, "env", env.Name, "preview-web-shop-pr7")
	equal(t, "namespace", env.Namespace("web", "shop"), "preview-web-shop-pr7")
	equal(t, "base domain", env.BaseDomain, "pr-7.preview.localhost")
	equal(t, "storage class", env.StorageClass, "local-path")
	equal(t, "cluster", env.Kubeconfig+" "+env.Context, "/k dev")
	equal(t, "preview base", env.PreviewBase, "preview")
	equal(t, "section", env.Section(), "preview")
	equal(t, "state", pv.State, berth.PreviewActive)
	tx(t, st, func(tx *store.Tx) error { return tx.SetPreviewComment(ctx, pv.ID, 42) })
	pv2, _, err := open(berth.Preview{Team: "web", App: "shop", PR: 7, Branch: "feature", SHA: "bbb"}, base)
	must(t, "OpenPreview again", err)
	equal(t, "same preview", pv2.ID, pv.ID)
	equal(t, "comment kept", pv2.CommentID, int64(42))
	equal(t, "sha moved on", pv2.SHA, "bbb")
	got, err := st.BranchPreview(ctx, "web", "shop", "preview", "feature")
	must(t, "BranchPreview", err)
	equal(t, "by branch", got.ID, pv.ID)
	_, err = st.BranchPreview(ctx, "web", "api", "preview", "feature")
	wantErr(t, "another app's branch", err, berth.ErrNotFound)
	_, _, err = open(berth.Preview{Team: "web", App: "api", PR: 3, Branch: "feature", SHA: "ddd", Fork: true}, base)
	must(t, "a fork's preview", err)
	_, err = st.BranchPreview(ctx, "web", "api", "preview", "feature")
	wantErr(t, "a fork's preview by branch", err, berth.ErrNotFound)
	byEnv, err := st.PreviewOfEnv(ctx, "preview-web-shop-pr7")
	must(t, "PreviewOfEnv", err)
	equal(t, "by env", byEnv.ID, pv.ID)
	_, _, err = open(berth.Preview{Team: "web", App: "shop", PR: 8, Branch: "b", SHA: "c"}, plain)
	wantErr(t, "a base that is no preview environment", err, berth.ErrInvalid)
	_, _, err = open(berth.Preview{Team: "web", App: strings.Repeat("a", 55), PR: 8, Branch: "b", SHA: "c"}, base)
	wantErr(t, "a name too long", err, berth.ErrInvalid)
	wantErr(t, "deleting the preview environment", txErr(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "preview") }), berth.ErrConflict)

	list, err := st.Previews(ctx, store.PreviewFilter{Team: "web", States: []berth.PreviewState{berth.PreviewActive}})
	must(t, "Previews", err)
	equal(t, "active", len(list), 2)
	stale, err := st.Previews(ctx, store.PreviewFilter{States: []berth.PreviewState{berth.PreviewActive}, UpdatedBefore: time.Now().Add(time.Hour)})
	must(t, "stale Previews", err)
	equal(t, "stale", len(stale), 2)
	// Not while a deploy is queued in it, nor for an expiry when it was pushed to since.
	var d berth.Deploy
	tx(t, st, func(tx *store.Tx) (err error) {
		if _, err := tx.AddRevision(ctx, "web", "shop", "apiVersion: berth.dev/v1\nmetadata: {name: shop}\n", "ann"); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "web", App: "shop", Env: env.Name, Revision: 1, Kind: berth.KindDeploy, CreatedBy: "ann"})
		return err
	})
	begin := func(notAfter time.Time) bool {
		var ok bool
		tx(t, st, func(tx *store.Tx) (err error) { ok, err = tx.BeginClosePreview(ctx, pv.ID, notAfter); return err })
		return ok
	}
	equal(t, "closing while a deploy is queued", begin(time.Time{}), false)
	wantErr(t, "closed without closing first", txErr(t, st, func(tx *store.Tx) error { _, err := tx.ClosePreview(ctx, pv.ID, "x"); return err }),
		berth.ErrConflict)
	claimed, ok, err := st.ClaimDeploy(ctx, "w", time.Minute)
	if err != nil || !ok || claimed.ID != d.ID {
		t.Fatalf("ClaimDeploy: %+v %v %v", claimed, ok, err)
	}
	equal(t, "closing while a deploy runs", begin(time.Time{}), false)
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, d.ID, "w", berth.DeploySucceeded, "")
		return err
	})
	equal(t, "expiring what was pushed to since", begin(pv2.UpdatedAt.Add(-time.Second)), false)
	equal(t, "closing", begin(time.Time{}), true)
	_, _, err = open(berth.Preview{Team: "web", App: "shop", PR: 7, Branch: "feature", SHA: "ccc"}, base)
	wantErr(t, "reopening while it is closing", err, berth.ErrConflict)
	equal(t, "closing again resumes", begin(time.Time{}), true)
	var closed berth.Preview
	tx(t, st, func(tx *store.Tx) (err error) { closed, err = tx.ClosePreview(ctx, pv.ID, "merged"); return err })
	equal(t, "closed", closed.State, berth.PreviewClosed)
	equal(t, "reason", closed.Reason, "merged")
	_, err = st.BranchPreview(ctx, "web", "shop", "preview", "feature")
	wantErr(t, "a closed preview by branch", err, berth.ErrNotFound)
	wantErr(t, "deleting a preview's own environment while it is active", txErr(t, st, func(tx *store.Tx) error {
		return tx.DeleteEnvironment(ctx, "preview-web-api-pr3")
	}), berth.ErrConflict)
}

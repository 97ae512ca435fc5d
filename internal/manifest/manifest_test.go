package manifest_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

const base = `apiVersion: berth.dev/v1
metadata: {name: app, team: core}
args: {version: "1", region: eu}
containers:
  web:
    image: example.com/app:${args.version}
    variables:
      REGION: ${args.region}
      DEBUG: "true"
      DB: ${resources.db.url}
    resources: {requests: {cpu: 100m, memory: 64Mi}}
resources:
  db: {type: postgres}
replicas: 2
autoscale: {min: 2, max: 5}
`

func mustParse(t *testing.T, src string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("berth.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func deployment(t *testing.T, objs []manifest.Object) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

func envMap(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
		if e.ValueFrom != nil {
			out[e.Name] = fmt.Sprintf("ref:%v%v", e.ValueFrom.SecretKeyRef, e.ValueFrom.ConfigMapKeyRef)
		}
	}
	return out
}

func TestOverlayMerge(t *testing.T) {
	tests := []struct {
		name, overlay string
		check         func(t *testing.T, m *manifest.Manifest)
	}{{
		name:    "scalars replace",
		overlay: "replicas: 4\ncontainers: {web: {image: other:1}}",
		check: func(t *testing.T, m *manifest.Manifest) {
			if *m.Replicas != 4 || m.Containers["web"].Image != "other:1" {
				t.Errorf("replicas %d, image %q", *m.Replicas, m.Containers["web"].Image)
			}
		},
	}, {
		name:    "mappings merge and null removes",
		overlay: "containers: {web: {variables: {DEBUG: null, EXTRA: x}, resources: {requests: {cpu: 200m}}}}\nautoscale: {max: 9}",
		check: func(t *testing.T, m *manifest.Manifest) {
			c := m.Containers["web"]
			want := map[string]string{"REGION": "${args.region}", "EXTRA": "x", "DB": "${resources.db.url}"}
			if diff := cmp.Diff(want, c.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			if c.Resources.Requests != (manifest.ResourceList{CPU: "200m", Memory: "64Mi"}) {
				t.Errorf("requests = %+v", c.Resources.Requests)
			}
			if *m.Autoscale != (manifest.Autoscale{Min: 2, Max: 9, CPU: 80}) {
				t.Errorf("autoscale = %+v", *m.Autoscale)
			}
		},
	}, {
		name:    "null turns autoscale off",
		overlay: "autoscale: null",
		check: func(t *testing.T, m *manifest.Manifest) {
			if m.Autoscale != nil {
				t.Errorf("autoscale = %+v, want nil", m.Autoscale)
			}
		},
	}, {
		name:    "args override defaults",
		overlay: "args: {region: us}",
		check: func(t *testing.T, m *manifest.Manifest) {
			if diff := cmp.Diff(map[string]string{"version": "1", "region": "us"}, m.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			overlay := "  prod:\n    " + strings.ReplaceAll(tt.overlay, "\n", "\n    ") + "\n"
			m := mustParse(t, base+"environments:\n"+overlay)
			if got := m.Environments(); !cmp.Equal(got, []string{"prod"}) {
				t.Fatalf("Environments() = %v", got)
			}
			tt.check(t, m.ForEnv("prod"))
			if *m.Replicas != 2 || m.Containers["web"].Variables["DEBUG"] != "true" {
				t.Error("merging changed the base manifest")
			}
		})
	}
}

// TestDeployPolicy checks deploy.autoRollback: on by default, turned off in
// the base or an overlay, and overlays merging into the base's deploy.
func TestDeployPolicy(t *testing.T) {
	tests := []struct {
		name, base, overlay string
		wantBase, wantProd  bool // NoAutoRollback
	}{
		{name: "default on"},
		{name: "off", base: "deploy: {autoRollback: false}", wantBase: true, wantProd: true},
		{name: "explicitly on", base: "deploy:\n  autoRollback: true"},
		{name: "empty block keeps the default", base: "deploy:"},
		{name: "null keeps the default", base: "deploy: {autoRollback: null}"},
		{name: "off in one environment", overlay: "deploy: {autoRollback: false}", wantProd: true},
		{name: "back on in one environment", base: "deploy: {autoRollback: false}", overlay: "deploy: {autoRollback: true}", wantBase: true},
		{name: "overlay null drops the base's", base: "deploy: {autoRollback: false}", overlay: "deploy: null", wantBase: true},
		{name: "overlay without deploy keeps the base's", base: "deploy: {autoRollback: false}", overlay: "replicas: 1", wantBase: true, wantProd: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base + tt.base + "\n"
			if tt.overlay != "" {
				src += "environments:\n  prod:\n    " + tt.overlay + "\n"
			}
			m := mustParse(t, src)
			if got := m.Deploy.NoAutoRollback; got != tt.wantBase {
				t.Errorf("base NoAutoRollback = %v, want %v", got, tt.wantBase)
			}
			if got := m.ForEnv("other").Deploy.NoAutoRollback; got != tt.wantBase {
				t.Errorf("environment without overlay: NoAutoRollback = %v, want %v", got, tt.wantBase)
			}
			if got := m.ForEnv("prod").Deploy.NoAutoRollback; got != tt.wantProd {
				t.Errorf("prod NoAutoRollback = %v, want %v", got, tt.wantProd)
			}
		})
	}

	t.Run("wrong type", func(t *testing.T) {
		_, err := manifest.Parse("berth.yaml", []byte(base+"deploy:\n  autoRollback: \"no\"\n"))
		want := "berth.yaml:17:17: deploy.autoRollback: must be true or false"
		if err == nil || err.Error() != want {
			t.Errorf("Parse() error = %v, want %s", err, want)
		}
	})
	t.Run("not in Score files", func(t *testing.T) {
		_, err := manifest.Parse("score.yaml", []byte("apiVersion: score.dev/v1b1\nmetadata: {name: app}\ncontainers: {web: {image: nginx}}\ndeploy: {autoRollback: false}\n"))
		if err == nil || !strings.Contains(err.Error(), "score.yaml:4:1: deploy: unknown field") {
			t.Errorf("Parse() error = %v, want deploy to be unknown in a Score file", err)
		}
	})
}

func TestRenderArgs(t *testing.T) {
	m := mustParse(t, base+"environments:\n  staging: {args: {version: main}}\n")
	tests := []struct {
		env       string
		set       map[string]string
		wantImage string
	}{
		{env: "production", wantImage: "example.com/app:1"},
		{env: "staging", wantImage: "example.com/app:main"},
		{env: "staging", set: map[string]string{"version": "1.4.2"}, wantImage: "example.com/app:1.4.2"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.env, tt.set), func(t *testing.T) {
			objs, err := manifest.Render(m, manifest.RenderOptions{Env: tt.env, Set: tt.set})
			if err != nil {
				t.Fatal(err)
			}
			if got := deployment(t, objs).Spec.Template.Spec.Containers[0].Image; got != tt.wantImage {
				t.Errorf("image = %q, want %q", got, tt.wantImage)
			}
		})
	}
}

func TestRenderOptionErrors(t *testing.T) {
	m := mustParse(t, base)
	tests := []struct {
		name string
		opts manifest.RenderOptions
		want string
	}{
		{"no env", manifest.RenderOptions{}, "environment"},
		{"bad env", manifest.RenderOptions{Env: "Prod"}, "environment"},
		{"bad namespace", manifest.RenderOptions{Env: "prod", Namespace: "a_b"}, "namespace"},
		{"bad revision", manifest.RenderOptions{Env: "prod", Revision: "a b"}, "revision"},
		{"unknown set", manifest.RenderOptions{Env: "prod", Set: map[string]string{"verison": "2"}}, `did you mean "version"?`},
		{"bad node selector", manifest.RenderOptions{Env: "prod", Scheduling: berth.Scheduling{NodeSelector: map[string]string{"zone": "eu west"}}},
			`environment "prod": scheduling defaults: nodeSelector: value "eu west" of zone is not a label value`},
		{"bad toleration", manifest.RenderOptions{Env: "prod", Scheduling: berth.Scheduling{Tolerations: []berth.Toleration{{Key: "k", Operator: "Maybe", Effect: berth.EffectNoSchedule}}}},
			`tolerations[0].operator: "Maybe": want Equal or Exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Render(m, tt.opts)
			if !errors.Is(err, manifest.ErrInvalidOption) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Render() error = %v, want ErrInvalidOption mentioning %q", err, tt.want)
			}
		})
	}
}

// TestRenderScheduling: an environment's scheduling defaults reach the pod template and
// nothing else; without them the pod has no node selector or tolerations at all.
func TestRenderScheduling(t *testing.T) {
	realNode := berth.Toleration{Key: "berth.dev/real-node", Operator: berth.TolerationEqual, Value: "true", Effect: berth.EffectNoSchedule}
	dedicated := berth.Toleration{Key: "dedicated", Operator: berth.TolerationExists, Effect: berth.EffectNoExecute}
	tests := []struct {
		name      string
		s         berth.Scheduling
		selector  map[string]string
		tolerates []corev1.Toleration
	}{
		{name: "none"},
		{name: "empty", s: berth.Scheduling{NodeSelector: map[string]string{}, Tolerations: []berth.Toleration{}}},
		{name: "the real node", s: berth.Scheduling{NodeSelector: map[string]string{"berth.dev/real-node": "true"}, Tolerations: []berth.Toleration{realNode}},
			selector:  map[string]string{"berth.dev/real-node": "true"},
			tolerates: []corev1.Toleration{{Key: "berth.dev/real-node", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
		{name: "in order", s: berth.Scheduling{Tolerations: []berth.Toleration{dedicated, realNode}},
			tolerates: []corev1.Toleration{
				{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				{Key: "berth.dev/real-node", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	m := mustParse(t, base)
	plain, err := manifest.Render(m, manifest.RenderOptions{Env: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := manifest.RenderOptions{Env: "prod", Scheduling: tt.s}
			objs, err := manifest.Render(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			pod := deployment(t, objs).Spec.Template.Spec
			if diff := cmp.Diff(tt.selector, pod.NodeSelector); diff != "" {
				t.Errorf("nodeSelector (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.tolerates, pod.Tolerations); diff != "" {
				t.Errorf("tolerations (-want +got):\n%s", diff)
			}
			// Everything else is as without defaults.
			want := deployment(t, plain).DeepCopy()
			want.Spec.Template.Spec.NodeSelector, want.Spec.Template.Spec.Tolerations = pod.NodeSelector, pod.Tolerations
			if diff := cmp.Diff(want, deployment(t, objs)); diff != "" {
				t.Errorf("Deployment differs beyond scheduling (-want +got):\n%s", diff)
			}
			if len(objs) != len(plain) {
				t.Errorf("%d objects, want %d", len(objs), len(plain))
			}
			// The caller's options are not changed by rendering.
			if diff := cmp.Diff(tt.s, opts.Scheduling); diff != "" {
				t.Errorf("options changed (-before +after):\n%s", diff)
			}
		})
	}
}

// fakeResolver resolves resources to secret references, as the server
// does for credentials, and versions every secret.
type fakeResolver struct {
	version string
	missing string
}

func (f fakeResolver) Resolve(ref manifest.Ref) (manifest.Value, error) {
	if ref.Name == f.missing {
		return manifest.Value{}, errors.New("not provisioned")
	}
	return manifest.Value{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.App + "-" + ref.Name}, Key: ref.Output},
		Checksum:     f.version,
	}, nil
}

func TestRenderResolver(t *testing.T) {
	m := mustParse(t, base)
	render := func(r manifest.Resolver) (*appsv1.Deployment, error) {
		objs, err := manifest.Render(m, manifest.RenderOptions{Env: "prod", Resolver: r})
		if err != nil {
			return nil, err
		}
		return deployment(t, objs), nil
	}
	v1, err := render(fakeResolver{version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := envMap(v1.Spec.Template.Spec.Containers[0])["DB"]; !strings.HasPrefix(got, "ref:") {
		t.Errorf("DB = %q, want a secret reference", got)
	}
	v2, err := render(fakeResolver{version: "2"})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(d *appsv1.Deployment) string { return d.Spec.Template.Annotations[manifest.AnnotationChecksum] }
	if sum(v1) == sum(v2) {
		t.Error("checksum did not change when the referenced secret did")
	}

	_, err = render(fakeResolver{missing: "db"})
	var errs *manifest.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Render() error = %v, want *manifest.Errors", err)
	}
	if want := "berth.yaml:10:11: containers.web.variables.DB: can't resolve ${resources.db.url}: not provisioned"; err.Error() != want {
		t.Errorf("Render() error =\n%s\nwant\n%s", err, want)
	}
}

func TestRenderReplicas(t *testing.T) {
	tests := []struct {
		name, extra        string
		wantDeployReplicas *int32
		wantHPA, wantPDB   bool
	}{
		{name: "single replica has no budget", wantDeployReplicas: new(int32(1))},
		{name: "replicas", extra: "replicas: 3\n", wantDeployReplicas: new(int32(3)), wantPDB: true},
		{name: "autoscale owns the count", extra: "replicas: 1\nautoscale: {min: 2, max: 4}\n", wantHPA: true, wantPDB: true},
		{name: "autoscale from one", extra: "autoscale: {max: 4}\n", wantHPA: true},
		{name: "scaled to zero", extra: "replicas: 0\n", wantDeployReplicas: new(int32(0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "apiVersion: berth.dev/v1\nmetadata: {name: app}\ncontainers: {web: {image: nginx, resources: {requests: {cpu: 1}}}}\n" + tt.extra
			objs, err := manifest.Render(mustParse(t, src), manifest.RenderOptions{Env: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.GetObjectKind().GroupVersionKind().Kind] = true
			}
			if diff := cmp.Diff(tt.wantDeployReplicas, deployment(t, objs).Spec.Replicas); diff != "" {
				t.Errorf("replicas (-want +got):\n%s", diff)
			}
			if kinds["HorizontalPodAutoscaler"] != tt.wantHPA || kinds["PodDisruptionBudget"] != tt.wantPDB {
				t.Errorf("kinds = %v, want HPA %v, PDB %v", kinds, tt.wantHPA, tt.wantPDB)
			}
		})
	}
}

// TestScoreHelloWorldUnchanged renders Score's own hello-world example and
// checks the container is exactly what the Score file says.
func TestScoreHelloWorldUnchanged(t *testing.T) {
	m, err := manifest.LoadFile(t.Context(), filepath.Join("testdata", "render", "score-hello", "score.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: "development"})
	if err != nil {
		t.Fatal(err)
	}
	got := deployment(t, objs).Spec.Template.Spec.Containers
	want := []corev1.Container{{
		Name:    "hello",
		Image:   "busybox",
		Command: []string{"/bin/sh"},
		Args:    []string{"-c", "while true; do echo Hello World!; sleep 5; done"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("containers (-want +got):\n%s", diff)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  manifest.Error
		want string
	}{
		{manifest.Error{File: "berth.yaml", Line: 12, Col: 5, Path: "containers.web.image", Msg: "required", Hint: "e.g. nginx"}, "berth.yaml:12:5: containers.web.image: required (e.g. nginx)"},
		{manifest.Error{File: "berth.yaml", Line: 3, Msg: "invalid YAML"}, "berth.yaml:3: invalid YAML"},
		{manifest.Error{File: "berth.yaml", Msg: "empty manifest"}, "berth.yaml: empty manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEscapedPlaceholder(t *testing.T) {
	m := mustParse(t, "apiVersion: berth.dev/v1\nmetadata: {name: app}\ncontainers:\n  web:\n    image: nginx\n    variables: {A: 'cost $${args.x} and $$5'}\n")
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if got := envMap(deployment(t, objs).Spec.Template.Spec.Containers[0])["A"]; got != "cost ${args.x} and $$5" {
		t.Errorf("A = %q", got)
	}
}

func TestStarterIsValid(t *testing.T) {
	data, err := manifest.Starter(manifest.StarterOptions{Name: "reports", Team: "insights", Image: "registry.example.com/reports", Port: 3000})
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, string(data))
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	c := deployment(t, objs).Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example.com/reports:latest" || c.ReadinessProbe.HTTPGet.Port.IntValue() != 3000 {
		t.Errorf("image %q, probe port %v", c.Image, c.ReadinessProbe.HTTPGet.Port)
	}
}

// TestServiceResourceNamesItsApp holds the Score community service provisioner's rule: a
// service resource calls the app params.app names, else the app named like the resource,
// and offers the output name besides host, port and url.
func TestServiceResourceNamesItsApp(t *testing.T) {
	m := mustParse(t, `apiVersion: berth.dev/v1
metadata: {name: shop}
containers:
  web:
    image: example.com/shop:1
    variables:
      CART: http://${resources.cart.name}
      USERS: ${resources.users.url}
resources:
  cart: {type: service}
  users: {type: service, params: {app: users-api}}
`)
	for name, want := range map[string]string{"cart": "cart", "users": "users-api"} {
		if got := m.Resources[name].ServiceApp(name); got != want {
			t.Errorf("resources.%s calls %q, want %q", name, got, want)
		}
	}
	if outs, _ := manifest.ResourceOutputs("service"); !slices.Equal(outs, []string{"name", "host", "port", "url", "env"}) {
		t.Errorf("service outputs = %q", outs)
	}
}

func TestSmokeChecks(t *testing.T) {
	m := mustParse(t, `apiVersion: berth.dev/v1
metadata: {name: app}
containers:
  web: {image: example.com/app:1}
service:
  ports: {http: {port: 80, targetPort: 8080}}
smoke:
  - path: /health
  - {name: info, path: /info, port: 80, method: POST, expect: 201, contains: version, matches: "^\\{", timeout: 2s, retries: 0}
  - {command: [/app, check, /info], timeout: 30s, retries: 1}
deploy: {smokeTimeout: 90s}
environments:
  production:
    smoke: [{path: /ready}]
`)
	got := m.Smoke
	if len(got) != 3 {
		t.Fatalf("%d checks", len(got))
	}
	h, info, cmd := got[0], got[1], got[2]
	if h.Label() != "GET /health" || h.WantStatus() != 200 || h.AttemptTimeout() != manifest.SmokeHTTPTimeout || h.Attempts() != manifest.SmokeHTTPRetries+1 || h.IsCommand() {
		t.Errorf("defaults of an HTTP check: %+v label %q timeout %s attempts %d", h, h.Label(), h.AttemptTimeout(), h.Attempts())
	}
	if info.Label() != "info" || info.HTTPMethod() != "POST" || info.Expect != 201 || info.Contains != "version" || info.Matches != `^\{` ||
		info.AttemptTimeout() != 2*time.Second || info.Attempts() != 1 || info.Port != "80" {
		t.Errorf("info check: %+v", info)
	}
	if !cmd.IsCommand() || cmd.Label() != "command /app check /info" || cmd.AttemptTimeout() != 30*time.Second || cmd.Attempts() != 2 {
		t.Errorf("command check: %+v label %q", cmd, cmd.Label())
	}
	if m.Deploy.SmokeBudget() != 90*time.Second {
		t.Errorf("budget %s", m.Deploy.SmokeBudget())
	}
	if p := m.ForEnv("production"); len(p.Smoke) != 1 || p.Smoke[0].Path != "/ready" || p.Deploy.SmokeBudget() != 90*time.Second {
		t.Errorf("production overlay: %+v %s", p.Smoke, p.Deploy.SmokeBudget())
	}
	if (manifest.DeployPolicy{}).SmokeBudget() != manifest.SmokeBudget {
		t.Error("default budget")
	}
	c := manifest.SmokeCheck{Command: []string{strings.Repeat("x", 100)}, Retries: -1}
	if l := c.Label(); len(l) != 80 || !strings.HasSuffix(l, "...") || c.Attempts() != 1 || c.AttemptTimeout() != manifest.SmokeCommandTimeout {
		t.Errorf("long command label %q, attempts %d", l, c.Attempts())
	}
}

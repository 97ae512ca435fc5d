package cli_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
)

// The Score examples and the platform provisioner file they render with, from this
// package's directory.
const (
	scoreExamples      = "../../examples/score"
	platformProvFile   = "../../docs/provisioners/platform.provisioners.yaml"
	scoreTestDomain    = "staging.example.com"
	scoreTestEnv       = "staging"
	offlinePlaceholder = "<offline:"
)

// scoreExampleFiles are the Score files under examples/score.
func scoreExampleFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(scoreExamples, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".score.yaml") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d Score examples: %v", len(files), files)
	}
	return files
}

func parsePlatformFile(t *testing.T) *provision.File {
	t.Helper()
	data, err := os.ReadFile(platformProvFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := provision.Parse(filepath.Base(platformProvFile), data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// secretSuffixes end the names of variables that must never hold a value in a rendered
// object: they read passwords, keys and connection strings that carry them.
var secretSuffixes = []string{"PASSWORD", "SECRET_KEY", "SECRET_ACCESS_KEY", "CONNECTION"}

// wholeOutput matches a variable that is exactly one resource output.
var wholeOutput = regexp.MustCompile(`^\$\{resources\.([a-z0-9-]+)\.([A-Za-z0-9_-]+)\}$`)

// TestScoreExamplesRender: each Score example under examples/score renders with the
// example platform provisioner file as a score-k8s user wrote it. Only postgres (whose
// database only the server makes) is left as offline placeholders; every variable reading
// a secret output is a reference to the Secret APP-resources and no secret-named variable
// carries a value.
func TestScoreExamplesRender(t *testing.T) {
	file := parsePlatformFile(t)
	for _, path := range scoreExampleFiles(t) {
		rel, _ := filepath.Rel(scoreExamples, path)
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Parse(path, data)
			if err != nil {
				t.Fatal(err)
			}
			if m.APIVersion != manifest.APIVersionScore {
				t.Errorf("apiVersion %s, want %s", m.APIVersion, manifest.APIVersionScore)
			}
			app := m.Metadata.Name

			h := newHarness(t, false)
			if err := h.run("render", "-f", path, "--env", scoreTestEnv, "--provisioners", platformProvFile,
				"--base-domain", scoreTestDomain, "--team", "shop"); err != nil {
				t.Fatalf("render: %v\n%s", err, h.errOut)
			}
			out := h.out.String()
			objs := decodeObjects(t, out)
			dep := findDeployment(t, objs, app)

			// Which variables read a secret output, and which read postgres.
			secretVars := map[string]string{}   // variable -> NAME.OUTPUT
			postgresVars := map[string]string{} // variable -> placeholder
			for cname, c := range m.Containers {
				for v, val := range c.Variables {
					g := wholeOutput.FindStringSubmatch(val)
					if g == nil {
						continue
					}
					res := m.Resources[g[1]]
					if res == nil {
						t.Fatalf("containers.%s.variables.%s reads undeclared resource %s", cname, v, g[1])
					}
					if res.Type == "postgres" {
						postgresVars[v] = "<offline:resources." + g[1] + "." + g[2] + ">"
						continue
					}
					p, err := file.Match(res.Type, res.Class, res.ID)
					if err != nil {
						continue // a built-in type (service, dns ...): nothing secret
					}
					if slices.Contains(p.Secrets, g[2]) {
						secretVars[v] = provision.SecretKey(g[1], g[2])
					}
				}
			}

			for _, c := range dep.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					switch {
					case secretVars[e.Name] != "":
						var ref *corev1.SecretKeySelector
						if e.ValueFrom != nil {
							ref = e.ValueFrom.SecretKeyRef
						}
						if ref == nil || ref.Name != provision.ResourceSecretName(app) || ref.Key != secretVars[e.Name] {
							t.Errorf("%s reads a secret output: want a secretKeyRef to %s key %s, got %+v",
								e.Name, provision.ResourceSecretName(app), secretVars[e.Name], e)
						}
					case postgresVars[e.Name] != "":
						if e.Value != postgresVars[e.Name] {
							t.Errorf("%s = %q, want the offline placeholder %s", e.Name, e.Value, postgresVars[e.Name])
						}
					case strings.Contains(e.Value, offlinePlaceholder):
						t.Errorf("%s = %q: only postgres outputs may be offline placeholders", e.Name, e.Value)
					}
					for _, s := range secretSuffixes {
						if strings.HasSuffix(e.Name, s) && e.Value != "" && e.Value != postgresVars[e.Name] {
							t.Errorf("%s has the value %q: a secret must reach the pod as a reference", e.Name, e.Value)
						}
					}
				}
			}
			if n := strings.Count(out, offlinePlaceholder); n != len(postgresVars) {
				t.Errorf("the render has %d offline placeholders, want %d (the postgres outputs only):\n%s", n, len(postgresVars), out)
			}
			if bad := secretValueLines(out); len(bad) > 0 {
				t.Errorf("secret-named variables with values in the render: %v", bad)
			}

			// The Secret APP-resources names the outputs behind its keys and holds no values.
			if len(secretVars) > 0 {
				sec := findObject(t, objs, "Secret", provision.ResourceSecretName(app))
				if _, ok := sec.Object["data"]; ok {
					t.Errorf("%s has data: %v", sec.GetName(), sec.Object["data"])
				}
				if _, ok := sec.Object["stringData"]; ok {
					t.Errorf("%s has stringData", sec.GetName())
				}
				for _, key := range secretVars {
					if !strings.Contains(sec.GetAnnotations()[provision.AnnotationResourceOutputs], `"`+key+`"`) {
						t.Errorf("%s does not name %s in %s", sec.GetName(), key, provision.AnnotationResourceOutputs)
					}
				}
			}

			switch app {
			case "frontend":
				checkFrontend(t, objs, dep)
			case "all-types":
				checkAllTypes(t, objs, dep)
			}
		})
	}
}

// checkFrontend: the frontend finds the backend by the service resource's name output,
// its route serves the dns resource's host, and its volume is mounted (an emptyDir: no
// storage class).
func checkFrontend(t *testing.T, objs []*unstructured.Unstructured, dep *appsv1.Deployment) {
	t.Helper()
	env := envValues(dep)
	if got, want := env["BACKEND_URL"], "http://backend:8080"; got != want {
		t.Errorf("BACKEND_URL = %q, want %q (score-k8s's service output name is the workload's name)", got, want)
	}
	host := env["PUBLIC_HOST"]
	if !strings.HasSuffix(host, "."+scoreTestDomain) || !validHost.MatchString(host) {
		t.Errorf("the dns resource's host is %q: want a valid host name under %s (a Score file names no team)", host, scoreTestDomain)
	}
	u := findObject(t, objs, "Ingress", "frontend-route-route")
	var ing networkingv1.Ingress
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ing); err != nil {
		t.Fatal(err)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != host || ing.Spec.Rules[0].HTTP == nil ||
		len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("the route's Ingress rules are %+v, want one for the dns host %q", ing.Spec.Rules, host)
	}
	p := ing.Spec.Rules[0].HTTP.Paths[0]
	if p.Path != "/" || p.Backend.Service == nil || p.Backend.Service.Name != "frontend" || p.Backend.Service.Port.Name != "web" {
		t.Errorf("the route's Ingress path is %+v, want / to the service frontend, port web", p)
	}
	spec := dep.Spec.Template.Spec
	var mounted bool
	for _, vm := range spec.Containers[0].VolumeMounts {
		if vm.MountPath != "/var/cache/frontend" {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.EmptyDir != nil {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("the volume is not mounted at /var/cache/frontend as an emptyDir: mounts %+v, volumes %+v",
			spec.Containers[0].VolumeMounts, spec.Volumes)
	}
}

var validHost = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// checkAllTypes: the outputs that are no secret read as the file says, and the s3 entry's
// manifest comes along, labelled as the app's.
func checkAllTypes(t *testing.T, objs []*unstructured.Unstructured, dep *appsv1.Deployment) {
	t.Helper()
	env := envValues(dep)
	for name, want := range map[string]string{
		"PG_HOST":          "postgres.platform.svc.cluster.local",
		"PG_PORT":          "5432",
		"MYSQL_HOST":       "mysql.platform.svc.cluster.local",
		"MYSQL_PORT":       "3306",
		"MONGO_PORT":       "27017",
		"AMQP_PORT":        "5672",
		"MSSQL_SERVER":     "mssql.platform.svc.cluster.local",
		"MSSQL_PORT":       "1433",
		"S3_ENDPOINT":      "http://s3.platform.svc.cluster.local:9000",
		"S3_REGION":        "us-east-1",
		"KAFKA_HOST":       "kafka.platform.svc.cluster.local",
		"KAFKA_PORT":       "9092",
		"BACKEND_HOSTNAME": "backend",
		"BACKEND_PORT":     "8080",
		"PAYMENTS_URL":     "https://api.sandbox.payments.example.com/v2",
		// 3 partitions unless params.partitions says otherwise.
		"KAFKA_TOPIC_PARTITIONS": "3",
	} {
		if env[name] != want {
			t.Errorf("%s = %q, want %q", name, env[name], want)
		}
	}
	if env["MYSQL_NAME"] == "" || env["MYSQL_NAME"] != env["MYSQL_DATABASE"] {
		t.Errorf("mysql's name %q and database %q differ", env["MYSQL_NAME"], env["MYSQL_DATABASE"])
	}
	if env["S3_ACCESS_KEY_ID"] == "" || env["S3_ACCESS_KEY_ID"] != env["AWS_ACCESS_KEY_ID"] {
		t.Errorf("s3's access_key_id %q and aws_access_key_id %q differ", env["S3_ACCESS_KEY_ID"], env["AWS_ACCESS_KEY_ID"])
	}
	bucket := env["S3_BUCKET"]
	cm := findObject(t, objs, "ConfigMap", "bucket-"+bucket)
	if got := cm.GetLabels()[manifest.LabelName]; got != "all-types" {
		t.Errorf("the s3 entry's ConfigMap has %s=%q, want the app's labels", manifest.LabelName, got)
	}
}

// TestScoreExamplesCoverScoreK8sTypes: between them, the examples declare every resource
// type of score-k8s's default provisioners and the community service type, and the
// provisioner file provides every one Berth does not provision itself.
func TestScoreExamplesCoverScoreK8sTypes(t *testing.T) {
	declared := map[string]bool{}
	for _, path := range scoreExampleFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Parse(path, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Resources {
			declared[r.Type] = true
		}
	}
	file := parsePlatformFile(t)
	for _, typ := range manifest.ResourceTypes() {
		if !declared[typ] {
			t.Errorf("no Score example declares a resource of type %s", typ)
		}
		if provision.IsBuiltin(typ) {
			continue
		}
		if _, err := file.Match(typ, "", ""); err != nil {
			t.Errorf("%s: %v", platformProvFile, err)
		}
	}
	for _, p := range file.Provisioners {
		if provision.IsBuiltin(p.Type) {
			t.Errorf("%s has an entry for %s, which Berth provisions itself: it would replace the built-in", platformProvFile, p.Type)
		}
	}
}

// TestScoreProvisionerFileMatchesBerth: the example file's entries promise the outputs
// Berth knows for their types (score-k8s's names), keep what is secret secret, and are
// repeatable: a second run with the first one's state gives the same outputs, for any app
// name.
func TestScoreProvisionerFileMatchesBerth(t *testing.T) {
	file := parsePlatformFile(t)
	alwaysSecret := []string{"password", "secret_key", "aws_secret_key", "connection"}
	for _, p := range file.Provisioners {
		where := p.Where(platformProvFile)
		if p.Description == "" {
			t.Errorf("%s: %s has no description", where, p.Type)
		}
		for _, s := range p.Secrets {
			if !slices.Contains(p.ExpectedOutputs, s) {
				t.Errorf("%s: %s's secret output %s is not among its expected_outputs %v", where, p.Type, s, p.ExpectedOutputs)
			}
		}
		for _, o := range p.ExpectedOutputs {
			if slices.Contains(alwaysSecret, o) && !slices.Contains(p.Secrets, o) {
				t.Errorf("%s: %s's output %s holds a credential but is not under secrets", where, p.Type, o)
			}
		}
		if want, ok := manifest.ResourceOutputs(p.Type); ok {
			got := slices.Sorted(slices.Values(p.ExpectedOutputs))
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: %s's expected_outputs differ from the outputs Berth knows for the type (-Berth +file):\n%s", where, p.Type, diff)
			}
			// A url of these types carries the password.
			if slices.Contains(p.ExpectedOutputs, "url") && !slices.Contains(p.Secrets, "url") {
				t.Errorf("%s: %s's url holds the password but is not under secrets", where, p.Type)
			}
		}
	}

	params := map[string]map[string]any{
		"service-port": {"workload": "backend", "port": "8080"},
		"kafka-topic":  {"partitions": "6"},
	}
	for _, workload := range []string{"a", strings.Repeat("long-name-", 6) + "abc"} {
		for _, p := range file.Provisioners {
			if p.ExpectedOutputs == nil {
				continue // the endpoint entry that refuses other classes
			}
			in := provision.Input{Guid: berth.ResourceUID(p.Type, p.Class, "", "team", workload, "res"), Type: p.Type, Class: p.Class,
				Params: params[p.Type], SourceWorkload: workload, Namespace: "team-staging"}
			first, err := p.Provision(in)
			if err != nil {
				t.Errorf("%s for app %s: %v", p.Where(platformProvFile), workload, err)
				continue
			}
			in.State = first.State
			second, err := p.Provision(in)
			if err != nil {
				t.Errorf("%s for app %s, run again: %v", p.Where(platformProvFile), workload, err)
				continue
			}
			if diff := cmp.Diff(first.Outputs, second.Outputs); diff != "" {
				t.Errorf("%s for app %s: a second run with the first's state changed the outputs (-first +second):\n%s",
					p.Where(platformProvFile), workload, diff)
			}
			for _, o := range p.Secrets {
				if s, _ := first.Outputs[o].(string); len(s) < 16 {
					t.Errorf("%s: secret output %s is %q: want a generated credential", p.Where(platformProvFile), o, s)
				}
			}
		}
	}

	// Other endpoints are refused with the classes there are; a service-port needs a number.
	p, err := file.Match("endpoint", "weather", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Provision(provision.Input{Type: "endpoint", Class: "weather", SourceWorkload: "a"}); err == nil ||
		!strings.Contains(err.Error(), "payments and geo") {
		t.Errorf("an endpoint of an unknown class: %v", err)
	}
	p, err = file.Match("service-port", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Provision(provision.Input{Type: "service-port", SourceWorkload: "a",
		Params: map[string]any{"workload": "backend", "port": "web"}}); err == nil || !strings.Contains(err.Error(), "port's number") {
		t.Errorf("a service-port by port name: %v", err)
	}
}

// secretValueLines finds, in rendered YAML, env entries whose name ends in a secret
// suffix followed by a value: line, other than a postgres placeholder.
func secretValueLines(out string) []string {
	var bad []string
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		name, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "- name: ")
		if !ok {
			continue
		}
		next := strings.TrimSpace(lines[i+1])
		if !strings.HasPrefix(next, "value:") || strings.Contains(next, offlinePlaceholder) {
			continue
		}
		for _, s := range secretSuffixes {
			if strings.HasSuffix(name, s) {
				bad = append(bad, name+" "+next)
			}
		}
	}
	return bad
}

func decodeObjects(t *testing.T, out string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(out)), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the render is not YAML: %v\n%s", err, out)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

func findObject(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var have []string
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
		have = append(have, u.GetKind()+"/"+u.GetName())
	}
	t.Fatalf("no %s %s in the render; it has %v", kind, name, have)
	return nil
}

func findDeployment(t *testing.T, objs []*unstructured.Unstructured, name string) *appsv1.Deployment {
	t.Helper()
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(findObject(t, objs, "Deployment", name).Object, &dep); err != nil {
		t.Fatal(err)
	}
	return &dep
}

// envValues are the Deployment's first container's variables that have a value.
func envValues(dep *appsv1.Deployment) map[string]string {
	out := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

package provision_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
)

func testEnv() provision.Env {
	return provision.Env{Name: "staging", Team: "shop", App: "web", BaseDomain: "staging.example.com",
		Locate: func(team, app string) provision.Location {
			if app == "users" {
				return provision.Location{Env: "staging", Namespace: team + "-staging", Port: 8080}
			}
			return provision.Location{Env: "staging", Namespace: team + "-staging"}
		},
		Service: &manifest.Service{Ports: map[string]manifest.ServicePort{"http": {Port: 80, TargetPort: 8080}, "admin": {Port: 9090}}},
	}
}

func TestService(t *testing.T) {
	env := testEnv()
	for _, tc := range []struct {
		name string
		res  manifest.Resource
		want map[string]string
	}{
		{"params.app, known port", manifest.Resource{Type: "service", Params: map[string]any{"app": "users"}},
			map[string]string{"name": "users", "host": "users.shop-staging.svc.cluster.local", "port": "8080", "url": "http://users.shop-staging.svc.cluster.local:8080", "env": "staging"}},
		{"the resource's name, not deployed yet", manifest.Resource{Type: "service"},
			map[string]string{"name": "billing", "host": "billing.shop-staging.svc.cluster.local", "port": "80", "url": "http://billing.shop-staging.svc.cluster.local", "env": "staging"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "billing"
			if _, ok := tc.res.Params["app"]; ok {
				name = "users-api"
			}
			got, err := provision.Service(env, name, &tc.res)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Outputs); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDNS(t *testing.T) {
	env := testEnv()
	got, err := provision.DNS(env, "dns")
	if err != nil || got.Outputs["host"] != "web.shop.staging.example.com" || got.Outputs["url"] != "http://web.shop.staging.example.com" {
		t.Errorf("dns: %v %v", got, err)
	}
	if got, _ := provision.DNS(env, "admin"); got.Outputs["host"] != "admin.web.shop.staging.example.com" {
		t.Errorf("dns named admin: %v", got.Outputs)
	}
	env.BaseDomain = ""
	if _, err := provision.DNS(env, "dns"); err == nil || !strings.Contains(err.Error(), "berth envs update staging --base-domain") {
		t.Errorf("without a base domain: %v", err)
	}
}

func TestRoute(t *testing.T) {
	env := testEnv()
	for _, tc := range []struct{ port, want string }{{"http", "http"}, {"80", "http"}, {"8080", "http"}, {"9090", "admin"}} {
		res := manifest.Resource{Type: "route", Params: map[string]any{"host": "shop.example.com", "port": tc.port}}
		got, err := provision.Route(env, "web", &res, "shop-staging")
		if err != nil {
			t.Fatalf("port %s: %v", tc.port, err)
		}
		spec := got.Objects[0]["spec"].(map[string]any)
		rule := spec["rules"].([]any)[0].(map[string]any)
		path := rule["http"].(map[string]any)["paths"].([]any)[0].(map[string]any)
		port := path["backend"].(map[string]any)["service"].(map[string]any)["port"].(map[string]any)["name"]
		if rule["host"] != "shop.example.com" || path["path"] != "/" || port != tc.want {
			t.Errorf("port %s: host %v path %v port %v", tc.port, rule["host"], path["path"], port)
		}
		if got.Objects[0]["metadata"].(map[string]any)["name"] != "web-route-web" {
			t.Errorf("name: %v", got.Objects[0]["metadata"])
		}
	}
	res := manifest.Resource{Type: "route", Params: map[string]any{"host": "a.example.com", "port": "7"}}
	if _, err := provision.Route(env, "web", &res, "ns"); err == nil || !strings.Contains(err.Error(), "admin, http") {
		t.Errorf("unknown port: %v", err)
	}
	env.Service = nil
	if _, err := provision.Route(env, "web", &res, "ns"); err == nil {
		t.Error("a route without service ports was accepted")
	}
}

func TestVolume(t *testing.T) {
	env := testEnv()
	got := provision.Volume(env, "data", &manifest.Resource{Type: "volume"}, "ns")
	if got.Volume == nil || got.Volume.ClaimName != "" || len(got.Objects) != 0 || !strings.Contains(got.Warning, "emptyDir") {
		t.Errorf("without a storage class: %+v", got)
	}
	env.StorageClass = "local-path"
	got = provision.Volume(env, "data", &manifest.Resource{Type: "volume", Params: map[string]any{"size": "5Gi"}}, "ns")
	if got.Volume.ClaimName != "web-data" || len(got.Objects) != 1 || got.Objects[0]["kind"] != "PersistentVolumeClaim" {
		t.Fatalf("with a storage class: %+v", got)
	}
	spec := got.Objects[0]["spec"].(map[string]any)
	if spec["storageClassName"] != "local-path" || spec["resources"].(map[string]any)["requests"].(map[string]any)["storage"] != "5Gi" {
		t.Errorf("claim spec: %v", spec)
	}
}

// TestResolver: plain outputs resolve to text, secret ones to references to
// <app>-resources (recorded in Used), volumes to their source; a missing output says what
// the provisioner gives.
func TestResolver(t *testing.T) {
	pg := provision.Postgres(provision.PostgresDatabase{Host: "db.internal", Port: 5432, Name: "shop_web", User: "shop_web", Password: "pw", URL: "postgres://shop_web:pw@db.internal:5432/shop_web"})
	r := &provision.Resolver{App: "web", Resources: map[string]*provision.Outcome{
		"db": pg, "data": {Volume: &provision.VolumeSource{ClaimName: "web-data"}, Outputs: map[string]string{}},
	}, Versions: map[string]string{"db": "postgres.default#shop.web.db@3"}}
	v, err := r.Resolve(manifest.Ref{Kind: manifest.RefResource, Name: "db", Output: "host"})
	if err != nil || v.Text != "db.internal" || v.Checksum != "postgres.default#shop.web.db@3" {
		t.Errorf("host: %+v %v", v, err)
	}
	v, err = r.Resolve(manifest.Ref{Kind: manifest.RefResource, Name: "db", Output: "url"})
	if err != nil || v.SecretKeyRef == nil || v.SecretKeyRef.Name != "web-resources" || v.SecretKeyRef.Key != "db.url" || v.Text != "" {
		t.Errorf("url: %+v %v", v, err)
	}
	if diff := cmp.Diff([]string{"db.url"}, r.Used); diff != "" {
		t.Errorf("used: %s", diff)
	}
	r.Plain = true
	if v, _ := r.Resolve(manifest.Ref{Kind: manifest.RefResource, Name: "db", Output: "host"}); v.Text != "db.internal" {
		t.Errorf("a param's host: %+v", v)
	}
	if _, err := r.Resolve(manifest.Ref{Kind: manifest.RefResource, Name: "db", Output: "password"}); err == nil || !strings.Contains(err.Error(), "is secret") {
		t.Errorf("a secret output in a param: %v", err)
	}
	if _, err := r.Resolve(manifest.Ref{Kind: manifest.RefResource, Name: "db", Output: "nope"}); err == nil || !strings.Contains(err.Error(), "database, host, name, password, port, url, username") {
		t.Errorf("missing output: %v", err)
	}
	v, err = r.Resolve(manifest.Ref{Kind: manifest.RefVolume, Name: "data"})
	if err != nil || v.Volume == nil || v.Volume.PersistentVolumeClaim == nil || v.Volume.PersistentVolumeClaim.ClaimName != "web-data" {
		t.Errorf("volume: %+v %v", v, err)
	}
	v, err = r.Resolve(manifest.Ref{Kind: manifest.RefConfig, App: "web", Name: "KEY"})
	if err != nil || v.ConfigMapKeyRef == nil {
		t.Errorf("config falls through: %+v %v", v, err)
	}
}

func TestNoProvisionerError(t *testing.T) {
	err := &provision.NoProvisionerError{Type: "amqq", Env: "staging", Known: []string{"amqp", "dns", "postgres"}}
	want := "no provisioner for resource type amqq in environment staging; known: amqp, dns, postgres (did you mean amqp?); a platform admin adds one with `berth provisioners set --env staging -f FILE`"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got  %s\nwant %s...", err, want)
	}
}

// TestNewInput: .Guid is a UUID, the same for a resource on every deploy, another in
// another environment; .Uid is score-k8s's TYPE.CLASS#WORKLOAD.NAME, or TYPE.CLASS#ID.
func TestNewInput(t *testing.T) {
	decl := &manifest.Resource{Type: "redis"}
	a := provision.NewInput("staging", "shop", "web", "cache", decl, "shop-staging", nil)
	b := provision.NewInput("staging", "shop", "web", "cache", decl, "shop-staging", nil)
	c := provision.NewInput("production", "shop", "web", "cache", decl, "shop-production", nil)
	if a.Guid != b.Guid || a.Guid == c.Guid || len(a.Guid) != 36 || strings.Count(a.Guid, "-") != 4 {
		t.Errorf("guids %s %s %s", a.Guid, b.Guid, c.Guid)
	}
	if a.Uid != "redis.default#web.cache" {
		t.Errorf("uid %s", a.Uid)
	}
	shared := provision.NewInput("staging", "shop", "web", "cache", &manifest.Resource{Type: "redis", Class: "large", ID: "sessions"}, "", nil)
	if shared.Uid != "redis.large#sessions" {
		t.Errorf("shared uid %s", shared.Uid)
	}
}

// TestSupportedParams: an entry that lists supported_params refuses any other param; one
// that lists none takes any.
func TestSupportedParams(t *testing.T) {
	f, err := provision.Parse("p.yaml", []byte("- uri: template://t/kafka\n  type: kafka-topic\n  supported_params: [partitions]\n  outputs: |\n    name: t\n- type: redis\n  outputs: |\n    host: r\n"))
	if err != nil {
		t.Fatal(err)
	}
	kafka, redis := f.Provisioners[0], f.Provisioners[1]
	if _, err := kafka.Provision(provision.Input{Type: "kafka-topic", Params: map[string]any{"partitions": "3"}}); err != nil {
		t.Errorf("a supported param: %v", err)
	}
	_, err = kafka.Provision(provision.Input{Type: "kafka-topic", Params: map[string]any{"partitons": "3"}})
	if err == nil || err.Error() != `template://t/kafka takes no param "partitons" (supported_params: partitions)` {
		t.Errorf("an unsupported param: %v", err)
	}
	if _, err := redis.Provision(provision.Input{Type: "redis", Params: map[string]any{"anything": "x"}}); err != nil {
		t.Errorf("an entry without supported_params: %v", err)
	}
}

// TestCheckBuiltin: a class or a param a built-in would ignore is refused.
func TestCheckBuiltin(t *testing.T) {
	for _, tc := range []struct {
		res  manifest.Resource
		want string
	}{
		{manifest.Resource{Type: "postgres"}, ""},
		{manifest.Resource{Type: "postgres", Class: "default"}, ""},
		{manifest.Resource{Type: "volume", Params: map[string]any{"size": "2Gi"}}, ""},
		{manifest.Resource{Type: "postgres", Class: "large"}, `Berth's built-in postgres provisioner has no class "large"`},
		{manifest.Resource{Type: "postgres", Params: map[string]any{"version": "16"}}, "takes no params (params.version)"},
		{manifest.Resource{Type: "volume", Params: map[string]any{"sise": "2Gi"}}, `takes no param "sise" (it takes size)`},
	} {
		err := provision.CheckBuiltin(&tc.res)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.res, err, tc.want)
		}
	}
}

// TestRoutePreviewHosts: a pull request's preview routes only hosts under its own base
// domain, never those of the environments behind it.
func TestRoutePreviewHosts(t *testing.T) {
	env := testEnv()
	env.HostsUnder = "pr-7.preview.example.com"
	for host, ok := range map[string]bool{
		"web.shop.pr-7.preview.example.com": true,
		"pr-7.preview.example.com":          true,
		"shop.example.com":                  false,
		"web.shop.pr-8.preview.example.com": false,
		"evilpr-7.preview.example.com":      false,
	} {
		res := manifest.Resource{Type: "route", Params: map[string]any{"host": host, "port": "http"}}
		_, err := provision.Route(env, "web", &res, "ns")
		if (err == nil) != ok {
			t.Errorf("host %s: error %v, want accepted %v", host, err, ok)
		}
	}
}

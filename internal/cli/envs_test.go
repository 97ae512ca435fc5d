package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

var (
	realNode  = apiv1.Toleration{Key: "berth.dev/real-node", Operator: "Equal", Value: "true", Effect: "NoSchedule"}
	dedicated = apiv1.Toleration{Key: "dedicated", Operator: "Exists", Effect: "NoExecute"}
	envsTime  = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
)

// devEnv is the environment `make run` creates, with the real node's defaults.
func devEnv() apiv1.Environment {
	return apiv1.Environment{Name: "dev", Kubeconfig: "/state/kubeconfig", NamespaceTemplate: "{team}-{env}",
		NodeSelector: map[string]string{"berth.dev/real-node": "true"}, Tolerations: []apiv1.Toleration{realNode}, CreatedAt: envsTime}
}

// TestEnvsCreateSendsSchedulingDefaults: --node-selector and --toleration become the
// request's nodeSelector and tolerations, in kubectl's notation.
func TestEnvsCreateSendsSchedulingDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		body apiv1.CreateEnvironment
		out  string
	}{{
		name: "none",
		args: []string{"envs", "create", "staging", "--kubeconfig", "/k"},
		body: apiv1.CreateEnvironment{Name: "staging", Kubeconfig: "/k"},
		out:  "created environment staging (namespaces {team}-{env})\n",
	}, {
		name: "the real node's",
		args: []string{"envs", "create", "dev", "--kubeconfig", "/state/kubeconfig",
			"--node-selector", "berth.dev/real-node=true", "--toleration", "berth.dev/real-node=true:NoSchedule"},
		body: apiv1.CreateEnvironment{Name: "dev", Kubeconfig: "/state/kubeconfig",
			NodeSelector: map[string]string{"berth.dev/real-node": "true"}, Tolerations: []apiv1.Toleration{realNode}},
		out: "created environment dev (namespaces {team}-{env}; node selector berth.dev/real-node=true; tolerations berth.dev/real-node=true:NoSchedule)\n",
	}, {
		name: "several",
		args: []string{"envs", "create", "gpu", "--in-cluster", "--node-selector", "zone=eu-1", "--node-selector", "kubernetes.io/os=linux",
			"--toleration", "dedicated:NoExecute", "--toleration", "berth.dev/real-node=true:NoSchedule"},
		body: apiv1.CreateEnvironment{Name: "gpu", InCluster: true,
			NodeSelector: map[string]string{"zone": "eu-1", "kubernetes.io/os": "linux"}, Tolerations: []apiv1.Toleration{dedicated, realNode}},
		out: "created environment gpu (namespaces {team}-{env}; node selector kubernetes.io/os=linux,zone=eu-1; tolerations dedicated:NoExecute,berth.dev/real-node=true:NoSchedule)\n",
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			reply := apiv1.Environment{Name: c.body.Name, Kubeconfig: c.body.Kubeconfig, InCluster: c.body.InCluster,
				NamespaceTemplate: "{team}-{env}", NodeSelector: c.body.NodeSelector, Tolerations: c.body.Tolerations}
			h.api.Expect("POST", "/api/v1/envs").WithBody(c.body).Reply(201, reply)
			if err := h.run(c.args...); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, c.out, "")
		})
	}
}

// TestEnvsUpdate: each flag replaces its half, --clear-scheduling empties both first.
func TestEnvsUpdate(t *testing.T) {
	sel := func(kv ...string) *map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return &m
	}
	tols := func(ts ...apiv1.Toleration) *[]apiv1.Toleration {
		if ts == nil {
			ts = []apiv1.Toleration{}
		}
		return &ts
	}
	for _, c := range []struct {
		name  string
		args  []string
		body  apiv1.UpdateEnvironment
		reply apiv1.Environment
		out   string
	}{{
		name:  "both",
		args:  []string{"--node-selector", "berth.dev/real-node=true", "--toleration", "berth.dev/real-node=true:NoSchedule"},
		body:  apiv1.UpdateEnvironment{NodeSelector: sel("berth.dev/real-node", "true"), Tolerations: tols(realNode)},
		reply: devEnv(),
		out:   "updated environment dev (node selector berth.dev/real-node=true; tolerations berth.dev/real-node=true:NoSchedule)\n",
	}, {
		name:  "tolerations only",
		args:  []string{"--toleration", "dedicated:NoExecute"},
		body:  apiv1.UpdateEnvironment{Tolerations: tols(dedicated)},
		reply: apiv1.Environment{Name: "dev", NodeSelector: map[string]string{"berth.dev/real-node": "true"}, Tolerations: []apiv1.Toleration{dedicated}},
		out:   "updated environment dev (node selector berth.dev/real-node=true; tolerations dedicated:NoExecute)\n",
	}, {
		name:  "clear",
		args:  []string{"--clear-scheduling"},
		body:  apiv1.UpdateEnvironment{NodeSelector: sel(), Tolerations: tols()},
		reply: apiv1.Environment{Name: "dev"},
		out:   "updated environment dev (no scheduling defaults)\n",
	}, {
		name:  "clear and set",
		args:  []string{"--clear-scheduling", "--node-selector", "kubernetes.io/os=linux"},
		body:  apiv1.UpdateEnvironment{NodeSelector: sel("kubernetes.io/os", "linux"), Tolerations: tols()},
		reply: apiv1.Environment{Name: "dev", NodeSelector: map[string]string{"kubernetes.io/os": "linux"}},
		out:   "updated environment dev (node selector kubernetes.io/os=linux)\n",
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.api.Expect("PATCH", "/api/v1/envs/dev").WithBody(c.body).Reply(200, c.reply)
			if err := h.run(append([]string{"envs", "update", "dev"}, c.args...)...); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, c.out, "")
		})
	}
}

// TestEnvsSchedulingFlagErrors: a malformed flag is a usage error naming the flag and its
// value, before any request (the harness fails on any).
func TestEnvsSchedulingFlagErrors(t *testing.T) {
	const syntax = "want KEY=VALUE:EFFECT or KEY:EFFECT (EFFECT one of NoSchedule, PreferNoSchedule, NoExecute)"
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--toleration", "x"}, `--toleration "x": ` + syntax},
		{[]string{"--toleration", "k=v"}, `--toleration "k=v": ` + syntax},
		{[]string{"--toleration", ":NoSchedule"}, `--toleration ":NoSchedule": ` + syntax},
		{[]string{"--toleration", "k=v:noschedule"}, `--toleration "k=v:noschedule": effect "noschedule": want NoSchedule, PreferNoSchedule or NoExecute`},
		{[]string{"--toleration", "bad key:NoSchedule"}, `--toleration "bad key:NoSchedule": key "bad key" is not a label key: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, optionally after a DNS subdomain and '/'`},
		{[]string{"--toleration", "k:NoSchedule", "--toleration", "k:NoSchedule"}, `--toleration "k:NoSchedule" is given twice`},
		{[]string{"--node-selector", "zone"}, `--node-selector "zone": want KEY=VALUE`},
		{[]string{"--node-selector", "=eu"}, `--node-selector "=eu": want KEY=VALUE`},
		{[]string{"--node-selector", "zone=eu west"}, `--node-selector "zone=eu west": value "eu west" of zone is not a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, or empty`},
		{[]string{"--node-selector", "zone=a", "--node-selector", "zone=b"}, `--node-selector "zone=b": zone is given twice`},
		{nil, "nothing to change: give --node-selector, --toleration, --clear-scheduling, --base-domain or --storage-class"},
	} {
		for _, cmd := range [][]string{{"envs", "update", "dev"}, {"envs", "create", "dev", "--kubeconfig", "/k"}} {
			if c.args == nil && cmd[1] == "create" {
				continue // a create without defaults is a plain create
			}
			args := append(append([]string{}, cmd...), c.args...)
			t.Run(cmd[1]+" "+c.msg, func(t *testing.T) {
				h := newHarness(t, false)
				wantExit(t, h.run(args...), c.msg, true)
				h.wantOutput(t, "", "")
			})
		}
	}
}

// TestEnvsUpdateErrors: the server's refusals reach the user as it worded them, exit 1.
func TestEnvsUpdateErrors(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("PATCH", "/api/v1/envs/dev").WithBody(apiv1.UpdateEnvironment{NodeSelector: &map[string]string{"zone": "eu"}}).
		ReplyError(403, apiv1.Error{Code: "forbidden", Message: "managing environments needs a global admin"})
	wantExit(t, h.run("envs", "update", "dev", "--node-selector", "zone=eu"), "managing environments needs a global admin", false)

	h = newHarness(t, false)
	h.api.Expect("PATCH", "/api/v1/envs/nope").WithBody(apiv1.UpdateEnvironment{NodeSelector: &map[string]string{}, Tolerations: &[]apiv1.Toleration{}}).
		ReplyError(404, apiv1.Error{Code: "not_found", Message: `environment "nope": not found`})
	wantExit(t, h.run("envs", "update", "nope", "--clear-scheduling"), `environment "nope": not found`, false)
	h.wantOutput(t, "", "")
}

// TestEnvsListAndGet show the scheduling defaults in tables and in -o json, and which
// environments are preview environments or a pull request's preview's.
func TestEnvsListAndGet(t *testing.T) {
	staging := apiv1.Environment{Name: "staging", InCluster: true, NamespaceTemplate: "{team}-{app}", Protected: true,
		AllowedDeployers: []string{"bot"}, CreatedAt: envsTime}
	gpu := apiv1.Environment{Name: "gpu", Kubeconfig: "/k", Context: "gpu", NamespaceTemplate: "{team}-gpu",
		NodeSelector: map[string]string{"zone": "eu-1", "accelerator": "a100"}, Tolerations: []apiv1.Toleration{dedicated, realNode},
		BaseDomain: "gpu.example.com", StorageClass: "fast-ssd", Postgres: "postgres://berth@db.internal:5432/postgres", CreatedAt: envsTime}
	preview := apiv1.Environment{Name: "preview", InCluster: true, NamespaceTemplate: "{team}-{env}", PreviewOf: "staging", CreatedAt: envsTime}
	pr7 := apiv1.Environment{Name: "preview-shop-web-pr7", InCluster: true, NamespaceTemplate: "{env}", PreviewBase: "preview", CreatedAt: envsTime}
	envs := apiv1.List[apiv1.Environment]{Items: []apiv1.Environment{devEnv(), gpu, preview, pr7, staging}}

	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs").Reply(200, envs)
	if err := h.run("envs", "list"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"NAME                  CLUSTER            NAMESPACE     PROTECTED  NODE-SELECTOR               TOLERATIONS                                              BASE-DOMAIN      STORAGE-CLASS  POSTGRES                                    PREVIEW\n"+
		"dev                   /state/kubeconfig  {team}-{env}  false      berth.dev/real-node=true    berth.dev/real-node=true:NoSchedule                      -                -              -                                           -\n"+
		"gpu                   /k (gpu)           {team}-gpu    false      accelerator=a100,zone=eu-1  dedicated:NoExecute,berth.dev/real-node=true:NoSchedule  gpu.example.com  fast-ssd       postgres://berth@db.internal:5432/postgres  -\n"+
		"preview               in-cluster         {team}-{env}  false      -                           -                                                        -                -              -                                           of staging\n"+
		"preview-shop-web-pr7  in-cluster         {env}         false      -                           -                                                        -                -              -                                           PR of preview\n"+
		"staging               in-cluster         {team}-{app}  true       -                           -                                                        -                -              -                                           -\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs").Reply(200, envs)
	if err := h.run("envs", "list", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Environment
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff(envs.Items, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs/gpu").Reply(200, gpu)
	if err := h.run("envs", "get", "gpu"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"name:              gpu\n"+
		"cluster:           /k (gpu)\n"+
		"namespaces:        {team}-gpu\n"+
		"protected:         false\n"+
		"allowed deployers: -\n"+
		"node selector:     accelerator=a100, zone=eu-1\n"+
		"tolerations:       dedicated:NoExecute, berth.dev/real-node=true:NoSchedule\n"+
		"base domain:       gpu.example.com\n"+
		"storage class:     fast-ssd\n"+
		"postgres:          postgres://berth@db.internal:5432/postgres\n"+
		"created:           2026-03-04T05:06:07Z\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs/preview-shop-web-pr7").Reply(200, pr7)
	if err := h.run("envs", "get", "preview-shop-web-pr7"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"name:              preview-shop-web-pr7\n"+
		"cluster:           in-cluster\n"+
		"namespaces:        {env}\n"+
		"protected:         false\n"+
		"allowed deployers: -\n"+
		"node selector:     -\n"+
		"tolerations:       -\n"+
		"base domain:       -\n"+
		"storage class:     -\n"+
		"postgres:          -\n"+
		"created:           2026-03-04T05:06:07Z\n"+
		"preview:           a pull request's, made from the preview environment preview\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs/dev").Reply(200, devEnv())
	if err := h.run("envs", "get", "dev", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var one apiv1.Environment
	if err := json.Unmarshal(h.out.Bytes(), &one); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff(devEnv(), one); diff != "" {
		t.Errorf("get -o json (-want +got):\n%s", diff)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs/nope").ReplyError(404, apiv1.Error{Code: "not_found", Message: `environment "nope": not found`})
	wantExit(t, h.run("envs", "get", "nope"), `environment "nope": not found`, false)
}

// TestEnvsUpdateDomains: --base-domain and --storage-class are sent only when given, an
// empty one as "" (removing it); the reply's values are shown.
func TestEnvsUpdateDomains(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		name  string
		args  []string
		body  apiv1.UpdateEnvironment
		reply apiv1.Environment
		out   string
	}{{
		name:  "both",
		args:  []string{"--base-domain", "dev.localhost", "--storage-class", "local-path"},
		body:  apiv1.UpdateEnvironment{BaseDomain: str("dev.localhost"), StorageClass: str("local-path")},
		reply: apiv1.Environment{Name: "dev", BaseDomain: "dev.localhost", StorageClass: "local-path"},
		out:   "updated environment dev (base domain dev.localhost; storage class local-path)\n",
	}, {
		name:  "clear one",
		args:  []string{"--storage-class", ""},
		body:  apiv1.UpdateEnvironment{StorageClass: str("")},
		reply: apiv1.Environment{Name: "dev", BaseDomain: "dev.localhost"},
		out:   "updated environment dev (base domain dev.localhost)\n",
	}, {
		name:  "with scheduling",
		args:  []string{"--base-domain", "dev.localhost", "--toleration", "dedicated:NoExecute"},
		body:  apiv1.UpdateEnvironment{BaseDomain: str("dev.localhost"), Tolerations: &[]apiv1.Toleration{dedicated}},
		reply: apiv1.Environment{Name: "dev", BaseDomain: "dev.localhost", Tolerations: []apiv1.Toleration{dedicated}},
		out:   "updated environment dev (tolerations dedicated:NoExecute; base domain dev.localhost)\n",
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.api.Expect("PATCH", "/api/v1/envs/dev").WithBody(c.body).Reply(200, c.reply)
			if err := h.run(append([]string{"envs", "update", "dev"}, c.args...)...); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, c.out, "")
		})
	}
}

// TestEnvsSetPostgres: the DSN comes from a file, standard input or the flag, trimmed, and
// goes in the request's body; what is printed is the server's password-less form.
func TestEnvsSetPostgres(t *testing.T) {
	const dsn = "postgres://berth:Pa55'w0rd@db.internal:5432/postgres?sslmode=require"
	reply := apiv1.Environment{Name: "staging", Postgres: "postgres://berth@db.internal:5432/postgres?sslmode=require"}
	const out = "environment staging: PostgreSQL server postgres://berth@db.internal:5432/postgres?sslmode=require registered (checked: its role may create databases and roles)\n"
	file := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, stdin string
		args        []string
	}{
		{"file", "", []string{"--dsn-file", file}},
		{"stdin", "\n  " + dsn + "\n", []string{"--dsn", "-"}},
		{"flag", "", []string{"--dsn", dsn}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.in.WriteString(c.stdin)
			h.api.Expect("PUT", "/api/v1/envs/staging/postgres").WithBody(apiv1.SetEnvironmentPostgres{DSN: dsn}).Reply(200, reply)
			if err := h.run(append([]string{"envs", "set-postgres", "staging"}, c.args...)...); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, out, "")
		})
	}

	h := newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/envs/staging/postgres").Reply(200, apiv1.Environment{Name: "staging"})
	if err := h.run("envs", "set-postgres", "staging", "--clear"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "environment staging: PostgreSQL server unregistered; the databases on it stay\n", "")

	h = newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/envs/staging/postgres").WithBody(apiv1.SetEnvironmentPostgres{DSN: dsn}).Reply(200, reply)
	if err := h.run("envs", "set-postgres", "staging", "--dsn-file", file, "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.Environment
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(reply, got) {
		t.Errorf("-o json: %v\n%s", err, h.out)
	}

	// The server's refusal reaches the user as it worded it.
	h = newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/envs/staging/postgres").WithBody(apiv1.SetEnvironmentPostgres{DSN: dsn}).
		ReplyError(400, apiv1.Error{Code: "invalid", Field: "dsn", Message: "check postgres on db.internal:5432: role berth may not create databases"})
	wantExit(t, h.run("envs", "set-postgres", "staging", "--dsn-file", file), "dsn: check postgres on db.internal:5432: role berth may not create databases", false)

	for _, c := range []struct {
		stdin string
		args  []string
		msg   string
	}{
		{"", nil, "give one of --dsn-file FILE, --dsn - (standard input), --dsn DSN or --clear"},
		{"", []string{"--dsn", dsn, "--clear"}, "give one of --dsn-file FILE, --dsn - (standard input), --dsn DSN or --clear"},
		{"", []string{"--dsn", dsn, "--dsn-file", file}, "give one of --dsn-file FILE, --dsn - (standard input), --dsn DSN or --clear"},
		{" \n", []string{"--dsn", "-"}, "the DSN from standard input is empty"},
		{"", []string{"--dsn", ""}, "the DSN from --dsn is empty"},
	} {
		t.Run(c.msg, func(t *testing.T) {
			h := newHarness(t, false)
			h.in.WriteString(c.stdin)
			wantExit(t, h.run(append([]string{"envs", "set-postgres", "staging"}, c.args...)...), c.msg, true)
			h.wantOutput(t, "", "")
		})
	}
}

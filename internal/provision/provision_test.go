package provision_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/provision"
)

// redisFile is a platform's redis offer: a password made once and kept in state, outputs
// pointing at a Redis the platform runs, the password secret.
const redisFile = `- type: redis
  class: large
  outputs: "host: big-redis"
- uri: template://platform/redis
  type: redis
  description: A database on the shared Redis.
  supported_params: [size]
  expected_outputs: [host, port, username, password]
  secrets: [password]
  init: |
    randomPassword: {{ randAlphaNum 16 | quote }}
  state: |
    password: {{ dig "password" .Init.randomPassword .State | quote }}
    db: {{ dig "db" (printf "%d" (len .Shared)) .State | quote }}
  shared: |
    {{ .Id }}: taken
  outputs: |
    host: redis.platform.svc.cluster.local
    port: 6379
    username: {{ .SourceWorkload }}
    password: {{ .State.password | quote }}
    size: {{ .Params.size | default "small" }}
  manifests: |
    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: {{ printf "redis-%s" (substr 0 8 .Guid) }}}
      data: {owner: {{ .SourceWorkload }}}
`

func TestProvisionRendersOutputsSecretsAndState(t *testing.T) {
	f, err := provision.Parse("provisioners.yaml", []byte(redisFile))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Match("redis", "", "shop.cache")
	if err != nil {
		t.Fatal(err)
	}
	in := provision.Input{Guid: "0123456789abcdef", Type: "redis", ID: "shop.cache", SourceWorkload: "shop",
		Params: map[string]any{"size": "medium"}}
	first, err := p.Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := first.Outputs["password"].(string)
	if len(pw) != 16 || !first.Secret["password"] || first.Secret["host"] {
		t.Errorf("password %q secret %v: want 16 random characters, only password secret", pw, first.Secret)
	}
	if first.Outputs["host"] != "redis.platform.svc.cluster.local" || first.Outputs["port"] != 6379 ||
		first.Outputs["username"] != "shop" || first.Outputs["size"] != "medium" {
		t.Errorf("outputs = %v", first.Outputs)
	}
	if len(first.Manifests) != 1 || first.Manifests[0]["kind"] != "ConfigMap" ||
		first.Manifests[0]["metadata"].(map[string]any)["name"] != "redis-01234567" {
		t.Errorf("manifests = %v", first.Manifests)
	}
	if first.Shared["shop.cache"] != "taken" {
		t.Errorf("shared = %v", first.Shared)
	}

	// A second run with the stored state keeps the password: state is what makes a
	// provisioner idempotent.
	in.State, in.Shared = first.State, first.Shared
	second, err := p.Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	if second.Outputs["password"] != pw {
		t.Errorf("the password changed between runs: %q then %q", pw, second.Outputs["password"])
	}

	// The first entry that matches wins: class large picks the first, any other class the
	// second. An unknown type lists what is known.
	if p, err := f.Match("redis", "large", ""); err != nil || p.Class != "large" {
		t.Errorf("Match(redis, large) = %+v, %v", p, err)
	}
	_, err = f.Match("amqp", "", "")
	var none *provision.NoProvisionerError
	if !errors.As(err, &none) || err.Error() != "no provisioner for resource type amqp; known: redis" {
		t.Errorf("Match(amqp) error = %v", err)
	}
}

func TestParseRefusesBadFilesWithPositions(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"bad template in a block", "- type: redis\n  outputs: |\n    host: x\n    port: {{ .Params.port \n", "p.yaml:4:5: [0].outputs: template: unclosed action"},
		{"unknown function", "- type: redis\n  outputs: |\n    host: {{ env \"HOME\" }}\n", `p.yaml:3:5: [0].outputs: template: function "env" not defined`},
		{"unknown field", "- type: redis\n  output: x\n", "p.yaml:2:3: [0].output: unknown field"},
		{"no type", "- outputs: x\n", "p.yaml:1:3: [0].type: required"},
		{"bad type", "- type: red_is\n", "p.yaml:1:9: [0].type: must be"},
		{"not a list", "type: redis\n", "p.yaml:1:1: file: must be a list"},
		{"secrets not keys", "- type: redis\n  secrets: [\"a b\"]\n", "p.yaml:2:13: [0].secrets[0]: must be a key"},
		{"not yaml", "- type: [\n", "p.yaml:"},
		{"range over a number", "- type: redis\n  outputs: |\n    a: b\n    {{ range 1000000000 }}{{ end }}\n", "p.yaml:4:5: [0].outputs: template: range over a number is not allowed"},
		{"range over len", "- type: redis\n  outputs: \"{{ if true }}{{ range len .Params }}{{ end }}{{ end }}\"\n", "p.yaml:2:12: [0].outputs: template: range over a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provision.Parse("p.yaml", []byte(tc.file))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want it to start with %q", err, tc.want)
			}
		})
	}
	// The line of a template error inside a block scalar is the file's line.
	_, err := provision.Parse("p.yaml", []byte("- type: redis\n  outputs: |\n    host: x\n    port: {{ .Params.port \n"))
	if err == nil || !strings.HasPrefix(err.Error(), "p.yaml:4:") {
		t.Errorf("template error = %v, want it on line 4", err)
	}
}

func TestProvisionFailsClearly(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"fail", "- type: route\n  init: |\n    {{ if not .Params.host }}{{ fail \"params.host is required\" }}{{ end }}\n",
			"provisioner for route (line 2): init: template: executing \"init\" at <fail \"params.host is required\">: error calling fail: params.host is required"},
		{"expected output", "- type: redis\n  expected_outputs: [host]\n  outputs: \"port: 1\"\n", "expected output host is missing (outputs: port)"},
		{"secret output", "- type: redis\n  secrets: [password]\n  outputs: \"host: h\"\n", "secret output password is missing"},
		{"result too large", "- type: redis\n  outputs: |\n    {{ range $i := (splitList \",\" (printf \"%0300000d\" 0)) }}x{{ end }}{{ printf \"%0300000d\" 0 }}\n", "over 256 KiB"},
		{"not a map", "- type: redis\n  outputs: \"- a\"\n", "the result is not a YAML map"},
		{"object without kind", "- type: redis\n  manifests: \"- apiVersion: v1\"\n", "object 0 has no apiVersion or kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := provision.Parse("p.yaml", []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Provisioners[0].Provision(provision.Input{Type: f.Provisioners[0].Type})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Provision error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

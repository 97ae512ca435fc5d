package manifest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/berth-dev/berth/internal/manifest"
)

// gitApp is a manifest without git rules, five lines long: git: goes on line 6.
const gitApp = `apiVersion: berth.dev/v1
metadata: {name: hello}
containers:
  web:
    image: nginx
`

func TestGitRules(t *testing.T) {
	tests := []struct {
		name, git string
		want      *manifest.GitRules
	}{
		{name: "none", want: nil},
		{name: "null", git: "git:", want: nil},
		{name: "empty", git: "git: {}", want: &manifest.GitRules{}},
		{name: "every rule", git: `git:
  branches: {main: staging, release/2.x: production}
  tags: {pattern: "v*", env: staging, promote: production}
  previews: {env: preview}`, want: &manifest.GitRules{
			Branches: map[string]string{"main": "staging", "release/2.x": "production"},
			Tags:     &manifest.GitTags{Pattern: "v*", Env: "staging", Promote: "production"},
			Previews: &manifest.GitPreviews{Env: "preview"},
		}},
		{name: "tags without promote", git: "git:\n  tags:\n    pattern: v[0-9]*\n    env: production", want: &manifest.GitRules{
			Tags: &manifest.GitTags{Pattern: "v[0-9]*", Env: "production"},
		}},
		{name: "null rules", git: "git: {branches: null, tags: null, previews: null}", want: &manifest.GitRules{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := gitApp + tt.git + "\nenvironments:\n  production: {replicas: 2}\n  preview: {}\n"
			m := mustParse(t, src)
			if diff := cmp.Diff(tt.want, m.Git); diff != "" {
				t.Errorf("Git (-want +got):\n%s", diff)
			}
			for _, env := range []string{"production", "preview", "other"} {
				if diff := cmp.Diff(tt.want, m.ForEnv(env).Git); diff != "" {
					t.Errorf("ForEnv(%s).Git is not the base's (-want +got):\n%s", env, diff)
				}
			}
		})
	}
}

// TestGitRulesErrors checks the message of each problem in git:, and where it points.
func TestGitRulesErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad pattern", "git:\n  tags:\n    pattern: \"v[\"\n    env: staging",
			`berth.yaml:8:14: git.tags.pattern: "v[" is not a valid pattern (* matches any characters but /, ? one character, [0-9] one of a class, \ escapes the next; e.g. "v*" or "v[0-9]*")`},
		{"pattern of a full ref", "git:\n  tags: {pattern: refs/tags/v*, env: staging}",
			`berth.yaml:7:19: git.tags.pattern: "refs/tags/v*" would match a full ref (a pattern matches the tag's name: "v*" matches refs/tags/v1.2.0)`},
		{"pattern too long", "git:\n  tags: {pattern: " + strings.Repeat("v", 101) + ", env: staging}",
			`berth.yaml:7:19: git.tags.pattern: must be at most 100 characters`},
		{"pattern missing", "git:\n  tags: {env: staging}",
			`berth.yaml:7:3: git.tags.pattern: required (the tags to deploy, e.g. pattern: "v*")`},
		{"tag env missing", "git:\n  tags: {pattern: v*}",
			`berth.yaml:7:3: git.tags.env: required (the environment a tag deploys to, e.g. env: staging)`},
		{"promote is env", "git:\n  tags: {pattern: v*, env: production, promote: production}",
			`berth.yaml:7:49: git.tags.promote: must differ from env (promote is where a tag goes after env; leave it out to deploy to env only)`},
		{"promote not a label", "git:\n  tags: {pattern: v*, env: staging, promote: Prod}",
			`berth.yaml:7:46: git.tags.promote: environment name must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (did you mean "prod"?)`},
		{"tags unknown field", "git:\n  tags: {pattern: v*, env: staging, promot: prod}",
			`berth.yaml:7:37: git.tags.promot: unknown field (did you mean "promote"?)`},
		{"previews env missing", "git:\n  previews: {}",
			`berth.yaml:7:3: git.previews.env: required (the environment pull requests get previews in, e.g. env: preview)`},
		{"previews not a mapping", "git:\n  previews: preview",
			`berth.yaml:7:13: git.previews: must be a mapping, not a string`},
		{"branch env not a label", "git:\n  branches:\n    main: Staging_1",
			`berth.yaml:8:11: git.branches.main: environment name must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (did you mean "staging-1"?)`},
		{"branch env missing", "git:\n  branches:\n    main:",
			`berth.yaml:8:10: git.branches.main: required (the environment a push to main deploys to, e.g. {main: staging})`},
		{"branch with a space", "git:\n  branches:\n    \"my branch\": staging",
			`berth.yaml:8:5: git.branches.my branch: "my branch" is not a git branch name: it has a space or a control character`},
		{"branch with a tab", "git:\n  branches:\n    \"a\\tb\": staging",
			`berth.yaml:8:5: git.branches.a` + "\t" + `b: "a\tb" is not a git branch name: it has a space or a control character`},
		{"branch pattern", "git:\n  branches: {release-*: staging}",
			`berth.yaml:7:14: git.branches.release-*: "release-*" is not a git branch name: it has one of ~^:?*[\ (branches are named exactly; only tags take a pattern)`},
		{"branch ref", "git:\n  branches: {refs/heads/main: staging}",
			`berth.yaml:7:14: git.branches.refs/heads/main: "refs/heads/main" is a full ref (write the branch's name: main)`},
		{"branch with ..", "git:\n  branches: {a..b: staging}",
			`berth.yaml:7:14: git.branches.a..b: "a..b" is not a git branch name: it has ".."`},
		{"branch starting with /", "git:\n  branches: {/main: staging}",
			`berth.yaml:7:14: git.branches./main: "/main" is not a git branch name: it starts with /`},
		{"branch ending in .lock", "git:\n  branches: {main.lock: staging}",
			`berth.yaml:7:14: git.branches.main.lock: "main.lock" is not a git branch name: it ends with .lock`},
		{"branch too long", "git:\n  branches: {" + strings.Repeat("b", 251) + ": staging}",
			`berth.yaml:7:14: git.branches.` + strings.Repeat("b", 251) + `: "` + strings.Repeat("b", 60) + `..." is not a git branch name: longer than 250 characters`},
		{"empty branch", "git:\n  branches: {\"\": staging}",
			`berth.yaml:7:14: git.branches.: a branch name can't be empty`},
		{"branches a list", "git:\n  branches: [main]",
			`berth.yaml:7:3: git.branches: must be a mapping, not a list`},
		{"unknown field", "git:\n  branch: {main: staging}",
			`berth.yaml:7:3: git.branch: unknown field (did you mean "branches"?)`},
		{"not a mapping", "git: true",
			`berth.yaml:6:6: git: must be a mapping, not a boolean`},
		{"placeholder", "git:\n  previews: {env: \"${args.env}\"}",
			`berth.yaml:7:19: git.previews.env: placeholders are not allowed here (only container fields, exposes[].host and resource params take placeholders)`},
		{"in an environment", "environments:\n  production:\n    git: {branches: {main: production}}",
			`berth.yaml:8:5: environments.production.git: can't be set per environment (git rules say which environment each push deploys to: write them once, under git: at the top level)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Parse("berth.yaml", []byte(gitApp+tt.src+"\n"))
			var errs *manifest.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse() error = %v, want *manifest.Errors", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse() error =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	t.Run("not in Score files", func(t *testing.T) {
		_, err := manifest.Parse("score.yaml", []byte("apiVersion: score.dev/v1b1\nmetadata: {name: app}\ncontainers: {web: {image: nginx}}\ngit: {}\n"))
		want := "score.yaml:4:1: git: unknown field (a berth.dev/v1 field; a Score file takes metadata, containers, service and resources)"
		if err == nil || err.Error() != want {
			t.Errorf("Parse() error = %v, want %s", err, want)
		}
	})
}

func TestGitRuleMethods(t *testing.T) {
	g := mustParse(t, gitApp+`git:
  branches: {main: staging, release/2.x: production}
  tags: {pattern: "v[0-9]*", env: staging, promote: production}
  previews: {env: preview}
`).Git
	type result struct {
		Env, Promote string
		OK           bool
	}
	branches := []struct {
		branch string
		want   result
	}{
		{"main", result{Env: "staging", OK: true}},
		{"release/2.x", result{Env: "production", OK: true}},
		{"refs/heads/main", result{}},
		{"develop", result{}},
		{"", result{}},
	}
	for _, tt := range branches {
		env, ok := g.BranchEnv(tt.branch)
		if got := (result{Env: env, OK: ok}); got != tt.want {
			t.Errorf("BranchEnv(%q) = %+v, want %+v", tt.branch, got, tt.want)
		}
	}
	tags := []struct {
		tag  string
		want result
	}{
		{"v1.2.0", result{Env: "staging", Promote: "production", OK: true}},
		{"v2", result{Env: "staging", Promote: "production", OK: true}},
		{"vnext", result{}},
		{"release-1", result{}},
		{"v1/rc", result{}}, // * does not match /
		{"refs/tags/v1.2.0", result{}},
		{"", result{}},
	}
	for _, tt := range tags {
		env, promote, ok := g.TagRule(tt.tag)
		if got := (result{Env: env, Promote: promote, OK: ok}); got != tt.want {
			t.Errorf("TagRule(%q) = %+v, want %+v", tt.tag, got, tt.want)
		}
	}
	if env, ok := g.PreviewEnv(); env != "preview" || !ok {
		t.Errorf("PreviewEnv() = %q, %v, want preview, true", env, ok)
	}

	for _, none := range []*manifest.GitRules{nil, {}} {
		if env, ok := none.BranchEnv("main"); ok || env != "" {
			t.Errorf("%v.BranchEnv(main) = %q, %v, want no rule", none, env, ok)
		}
		if env, promote, ok := none.TagRule("v1"); ok || env != "" || promote != "" {
			t.Errorf("%v.TagRule(v1) = %q, %q, %v, want no rule", none, env, promote, ok)
		}
		if env, ok := none.PreviewEnv(); ok || env != "" {
			t.Errorf("%v.PreviewEnv() = %q, %v, want no rule", none, env, ok)
		}
	}
}

func TestGitArgs(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name    string
		sha     string
		ref     string
		pr      int
		want    map[string]string
		wantTag bool
	}{
		{name: "branch push", sha: sha, ref: "refs/heads/feature/x", want: map[string]string{
			"git.sha": sha, "git.short": "0123456789ab", "git.ref": "refs/heads/feature/x", "git.branch": "feature/x",
		}},
		{name: "tag push", sha: sha, ref: "refs/tags/v1.2.0", want: map[string]string{
			"git.sha": sha, "git.short": "0123456789ab", "git.ref": "refs/tags/v1.2.0", "git.tag": "v1.2.0",
		}},
		{name: "pull request", sha: sha, ref: "refs/pull/7/head", pr: 7, want: map[string]string{
			"git.sha": sha, "git.short": "0123456789ab", "git.ref": "refs/pull/7/head", "git.pr": "7",
		}},
		{name: "short sha, no ref", sha: "abcdef1", want: map[string]string{"git.sha": "abcdef1", "git.short": "abcdef1"}},
		{name: "nothing", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := manifest.GitArgs(tt.sha, tt.ref, tt.pr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GitArgs(%q, %q, %d) (-want +got):\n%s", tt.sha, tt.ref, tt.pr, diff)
			}
		})
	}
}

// gitPlaces is a manifest taking git values in every kind of field that takes args.
const gitPlaces = `apiVersion: berth.dev/v1
metadata: {name: hello}
containers:
  web:
    image: registry.berth.localhost/hello:${git.sha}
    command: [/hello, "--commit=${git.short}"]
    variables:
      REF: ${git.ref}
      BRANCH: ${git.branch}
    files:
      /etc/hello/version: {content: "built from ${git.sha}\n"}
service: {ports: {http: {port: 80}}}
exposes:
  - {host: "${git.short}.hello.example.com"}
resources:
  route: {type: route, params: {host: "${git.branch}.hello.example.com", port: http}}
`

func TestRenderGitValues(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	m := mustParse(t, gitPlaces)
	opts := manifest.RenderOptions{Env: "staging", Set: manifest.GitArgs(sha, "refs/heads/main", 0)}
	objs, err := manifest.Render(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := deployment(t, objs).Spec.Template.Spec.Containers[0]
	if want := "registry.berth.localhost/hello:" + sha; c.Image != want {
		t.Errorf("image = %q, want %q", c.Image, want)
	}
	if diff := cmp.Diff([]string{"/hello", "--commit=0123456789ab"}, c.Command); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"REF": "refs/heads/main", "BRANCH": "main"}, envMap(c)); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	var host, file string
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.ConfigMap:
			file = x.Data["web-0"]
		case *networkingv1.Ingress:
			host = x.Spec.Rules[0].Host
		}
	}
	if want := "built from " + sha + "\n"; file != want {
		t.Errorf("file = %q, want %q", file, want)
	}
	if want := "0123456789ab.hello.example.com"; host != want {
		t.Errorf("ingress host = %q, want %q", host, want)
	}
	res, err := manifest.ExpandResource(m, opts, "route")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Params["host"]; got != "main.hello.example.com" {
		t.Errorf("route host = %v, want main.hello.example.com", got)
	}
	if diff := cmp.Diff([]string{"branch", "ref", "sha", "short"}, m.UsesGit()); diff != "" {
		t.Errorf("UsesGit() (-want +got):\n%s", diff)
	}
}

// TestRenderGitValueMissing checks the error a placeholder without a value gives: a deploy
// not from git has none, a deploy of a branch has no tag.
func TestRenderGitValueMissing(t *testing.T) {
	src := gitApp + "    variables: {TAG: \"${git.tag}\"}\n"
	src = strings.Replace(src, "image: nginx", "image: registry.berth.localhost/hello:${git.sha}", 1)
	m := mustParse(t, src)
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"not from git", nil, `berth.yaml:5:12: containers.web.image: ${git.sha} has no value: this deploy is not from git (deploy a commit of a connected repository, or give --set git.sha=...)
berth.yaml:6:22: containers.web.variables.TAG: ${git.tag} has no value: this deploy is not from git (deploy a commit of a connected repository, or give --set git.tag=...)`},
		{"a branch", manifest.GitArgs("abcdef0123456", "refs/heads/main", 0),
			`berth.yaml:6:22: containers.web.variables.TAG: ${git.tag} has no value: this deploy is not from a tag (${git.sha} and ${git.short} have a value in every deploy from git)`},
		{"a tag but no sha", map[string]string{"git.tag": "v1"},
			`berth.yaml:5:12: containers.web.image: ${git.sha} has no value (give --set git.sha=..., or deploy a commit of a connected repository)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Render(m, manifest.RenderOptions{Env: "staging", Set: tt.set})
			if !errors.As(err, new(*manifest.Errors)) {
				t.Fatalf("Render() error = %v, want *manifest.Errors", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Render() error =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if _, err := manifest.Render(m, manifest.RenderOptions{Env: "staging", Set: manifest.GitArgs("abcdef0123456", "refs/tags/v1", 0)}); err != nil {
		t.Errorf("Render() of a tag: %v", err)
	}
}

// TestRenderGitSetErrors checks the git values RenderOptions.Set may give, in Render and
// ExpandResource alike.
func TestRenderGitSetErrors(t *testing.T) {
	m := mustParse(t, gitPlaces)
	tests := []struct {
		name string
		set  map[string]string
		want string // "" for no error
	}{
		{"every key", map[string]string{"git.sha": "abcdef1", "git.short": "abcdef1", "git.ref": "refs/heads/main", "git.branch": "main", "git.tag": "v1", "git.pr": "12"}, ""},
		{"sha-256", map[string]string{"git.sha": strings.Repeat("ab", 32)}, ""},
		{"unknown key", map[string]string{"git.shaa": "abcdef1"},
			`invalid render option: --set git.shaa: unknown git value (did you mean "git.sha"? git values are git.sha, git.short, git.ref, git.branch, git.tag and git.pr)`},
		{"unknown key far off", map[string]string{"git.commit": "abcdef1"},
			`invalid render option: --set git.commit: unknown git value (git values are git.sha, git.short, git.ref, git.branch, git.tag and git.pr)`},
		{"sha too short", map[string]string{"git.sha": "abc123"},
			`invalid render option: --set git.sha="abc123": not a commit: want 7 to 64 lowercase hexadecimal digits`},
		{"sha in capitals", map[string]string{"git.sha": "ABCDEF1"},
			`invalid render option: --set git.sha="ABCDEF1": not a commit: want 7 to 64 lowercase hexadecimal digits`},
		{"sha too long", map[string]string{"git.sha": strings.Repeat("a", 65)},
			`invalid render option: --set git.sha="` + strings.Repeat("a", 40) + `...": not a commit: want 7 to 64 lowercase hexadecimal digits`},
		{"pr not a number", map[string]string{"git.pr": "#12"},
			`invalid render option: --set git.pr="#12": not a pull request number: want decimal digits`},
		{"control character", map[string]string{"git.branch": "main\n"},
			`invalid render option: --set git.branch="main\n": not printable text: it has a control character or a byte that is not UTF-8`},
		{"not UTF-8", map[string]string{"git.ref": "refs/heads/\xff"},
			`invalid render option: --set git.ref="refs/heads/\xff": not printable text: it has a control character or a byte that is not UTF-8`},
		{"too long", map[string]string{"git.ref": strings.Repeat("r", 251)},
			`invalid render option: --set git.ref="` + strings.Repeat("r", 40) + `...": longer than 250 bytes`},
		{"empty", map[string]string{"git.tag": ""},
			`invalid render option: --set git.tag="": empty: leave out a git value that does not apply`},
		{"unknown arg still refused", map[string]string{"version": "1"},
			`invalid render option: --set version: unknown arg (no args are declared; declare it with a default under args)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := manifest.RenderOptions{Env: "staging", Set: tt.set}
			_, rerr := manifest.Render(m, opts)
			_, xerr := manifest.ExpandResource(m, opts, "route")
			for _, err := range []error{rerr, xerr} {
				if tt.want == "" {
					// Values that pass may still leave a placeholder without one.
					if errors.Is(err, manifest.ErrInvalidOption) {
						t.Errorf("error = %v, want none from the options", err)
					}
					continue
				}
				if !errors.Is(err, manifest.ErrInvalidOption) || err.Error() != tt.want {
					t.Errorf("error = %v\nwant ErrInvalidOption: %s", err, tt.want)
				}
			}
		})
	}
}

func TestUsesGit(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"none", base, nil},
		{"escaped", gitApp + "    variables: {A: \"$${git.sha}\"}\n", nil},
		{"no-expand file", gitApp + "    files: {/etc/a: {content: \"${git.sha}\", noExpand: true}}\n", nil},
		{"in an environment only", gitApp + "environments:\n  preview:\n    containers: {web: {variables: {PR: \"${git.pr}\", B: \"${git.branch}\"}}}\n", []string{"branch", "pr"}},
		{"in params", gitApp + "resources:\n  api: {type: service, params: {app: \"api\", tags: [\"${git.tag}\"]}}\n", []string{"tag"}},
		{"everywhere", gitPlaces, []string{"branch", "ref", "sha", "short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, mustParse(t, tt.src).UsesGit()); diff != "" {
				t.Errorf("UsesGit() (-want +got):\n%s", diff)
			}
		})
	}
	if got := (*manifest.Manifest)(nil).UsesGit(); got != nil {
		t.Errorf("nil.UsesGit() = %v", got)
	}
}

// TestHostPrefix: a preview's hosts are its base's with a prefix; a prefix that is no DNS
// label and dot is refused as an option.
func TestHostPrefix(t *testing.T) {
	m, err := manifest.Parse("berth.yaml", []byte(`apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: "registry.example.com/web:1"}
service:
  ports: {http: {port: 80, targetPort: 8080}}
exposes: [{host: web.shop.example.com, path: /, port: http}, {host: "api.${metadata.team}.example.com", path: /api, port: http}]
`))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: "preview-web-7", HostPrefix: "pr-7."})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, o := range objs {
		if ing, ok := o.(*networkingv1.Ingress); ok {
			for _, r := range ing.Spec.Rules {
				hosts = append(hosts, r.Host)
			}
		}
	}
	if strings.Join(hosts, " ") != "pr-7.web.shop.example.com pr-7.api.shop.example.com" {
		t.Errorf("hosts %v", hosts)
	}
	for _, bad := range []string{"pr-7", "pr_7.", "a.b.", ".", "PR-7."} {
		if _, err := manifest.Render(m, manifest.RenderOptions{Env: "preview", HostPrefix: bad}); !errors.Is(err, manifest.ErrInvalidOption) {
			t.Errorf("host prefix %q: %v, want ErrInvalidOption", bad, err)
		}
	}
}

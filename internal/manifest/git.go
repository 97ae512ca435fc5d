package manifest

import (
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// GitRules say which pushes to the app's repository deploy it, and where (git: in the
// base manifest; an environment can't have its own). They are read from the commit being
// pushed, so the commit says how it is deployed.
type GitRules struct {
	// Branches maps a branch's name to the environment a push to it deploys to.
	Branches map[string]string
	// Tags, when set, deploys a pushed tag matching a pattern.
	Tags *GitTags
	// Previews, when set, gives each pull request a preview.
	Previews *GitPreviews
}

// GitTags deploys a pushed tag whose name matches Pattern to Env, then promotes it to
// Promote when that is set.
type GitTags struct {
	Pattern string // path.Match syntax, against the tag's name: v* matches v1.2.0
	Env     string
	Promote string // "" when the deploy to Env is all
}

// GitPreviews gives each pull request a preview in environment Env.
type GitPreviews struct {
	Env string
}

// BranchEnv returns the environment a push to branch (its name, main, not
// refs/heads/main) deploys to, if a rule says one.
func (g *GitRules) BranchEnv(branch string) (env string, ok bool) {
	if g == nil || branch == "" {
		return "", false
	}
	env, ok = g.Branches[branch]
	return env, ok && env != ""
}

// TagRule returns where a pushed tag (its name, v1.2.0, not refs/tags/v1.2.0) deploys,
// and the environment it is then promoted to ("" for none), if its name matches the tag
// pattern.
func (g *GitRules) TagRule(tag string) (env, promote string, ok bool) {
	if g == nil || g.Tags == nil || g.Tags.Pattern == "" || g.Tags.Env == "" || tag == "" {
		return "", "", false
	}
	if match, err := path.Match(g.Tags.Pattern, tag); err != nil || !match {
		return "", "", false
	}
	return g.Tags.Env, g.Tags.Promote, true
}

// PreviewEnv returns the environment pull requests get previews in, if the rules give
// them previews.
func (g *GitRules) PreviewEnv() (string, bool) {
	if g == nil || g.Previews == nil || g.Previews.Env == "" {
		return "", false
	}
	return g.Previews.Env, true
}

// Bounds of git rules: git refuses longer ref names on some file systems, and a tag
// pattern is a few characters.
const (
	maxBranchName = 250
	maxTagPattern = 100
)

// gitRules reads git: and checks it; every rule is local to it, so it is checked here.
func (d *decoder) gitRules(n *yaml.Node, at string) *GitRules {
	if r := d.resolve(n); r == nil || isNull(r) {
		return nil
	}
	g := &GitRules{}
	for _, p := range d.object(n, at, gitFields) {
		switch p.name {
		case "branches":
			for _, b := range d.entries(p.val, p.path) {
				if msg, hint := branchProblem(b.name); msg != "" {
					d.failNode(b.key, b.path, msg, hint)
				}
				env := d.gitEnv(b.val, b.path, "the environment a push to "+b.name+" deploys to, e.g. {"+b.name+": staging}")
				if g.Branches == nil {
					g.Branches = map[string]string{}
				}
				g.Branches[b.name] = env
			}
		case "tags":
			g.Tags = d.gitTags(p.val, p.path)
		case "previews":
			g.Previews = d.gitPreviews(p.val, p.path)
		}
	}
	return g
}

func (d *decoder) gitTags(n *yaml.Node, at string) *GitTags {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	t := &GitTags{}
	ps := d.object(n, at, gitTagsFields)
	if r.Kind != yaml.MappingNode {
		return t // object said so; the fields' checks would only repeat it
	}
	for _, p := range ps {
		switch p.name {
		case "pattern":
			t.Pattern = d.str(p.val, p.path)
		case "env":
			t.Env = d.gitEnv(p.val, p.path, "")
		case "promote":
			t.Promote = d.gitEnv(p.val, p.path, "")
		}
	}
	pp := join(at, "pattern")
	switch {
	case t.Pattern == "":
		d.required(pp, `the tags to deploy, e.g. pattern: "v*"`)
	case len(t.Pattern) > maxTagPattern:
		d.fail(pp, fmt.Sprintf("must be at most %d characters", maxTagPattern), "")
	case strings.HasPrefix(t.Pattern, "refs/"):
		d.fail(pp, quote(t.Pattern)+" would match a full ref", `a pattern matches the tag's name: "v*" matches refs/tags/v1.2.0`)
	default:
		if _, err := path.Match(t.Pattern, ""); err != nil {
			d.fail(pp, quote(t.Pattern)+" is not a valid pattern", `* matches any characters but /, ? one character, [0-9] one of a class, \ escapes the next; e.g. "v*" or "v[0-9]*"`)
		}
	}
	if t.Env == "" {
		d.required(join(at, "env"), "the environment a tag deploys to, e.g. env: staging")
	}
	if t.Promote != "" && t.Promote == t.Env {
		d.fail(join(at, "promote"), "must differ from env", "promote is where a tag goes after env; leave it out to deploy to env only")
	}
	return t
}

func (d *decoder) gitPreviews(n *yaml.Node, at string) *GitPreviews {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	pv := &GitPreviews{}
	ps := d.object(n, at, gitPreviewsFields)
	if r.Kind != yaml.MappingNode {
		return pv
	}
	for _, p := range ps {
		pv.Env = d.gitEnv(p.val, p.path, "")
	}
	if pv.Env == "" {
		d.required(join(at, "env"), "the environment pull requests get previews in, e.g. env: preview")
	}
	return pv
}

// gitEnv reads the name of an environment a git rule deploys to: a DNS label, as every
// environment's name is. With a hint, it is required.
func (d *decoder) gitEnv(n *yaml.Node, at, hint string) string {
	problems := d.problems
	env := d.str(n, at)
	switch {
	case d.problems != problems:
		// str said what is wrong with it.
	case env == "" && hint != "":
		d.required(at, hint)
	case env != "":
		d.checkName(at, "environment name", env)
	}
	return env
}

// branchProblem says why name is not a branch name git would take (git
// check-ref-format's rules, as berth.CheckBranch holds them), or "".
func branchProblem(name string) (msg, hint string) {
	bad := func(why string) string { return quote(clip(name, 60)) + " is not a git branch name: " + why }
	switch {
	case name == "":
		return "a branch name can't be empty", ""
	case len(name) > maxBranchName:
		return bad(fmt.Sprintf("longer than %d characters", maxBranchName)), ""
	case strings.HasPrefix(name, "refs/heads/"):
		return quote(name) + " is a full ref", "write the branch's name: " + strings.TrimPrefix(name, "refs/heads/")
	case strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return bad("it has a space or a control character"), ""
	case strings.ContainsAny(name, "*?["):
		return bad("it has one of ~^:?*[\\"), "branches are named exactly; only tags take a pattern"
	case strings.ContainsAny(name, "~^:\\"):
		return bad("it has one of ~^:?*[\\"), ""
	case strings.Contains(name, ".."):
		return bad(`it has ".."`), ""
	case strings.HasPrefix(name, "-"), strings.HasPrefix(name, "/"):
		return bad("it starts with " + name[:1]), ""
	case strings.HasSuffix(name, "/"):
		return bad("it ends with /"), ""
	case strings.HasSuffix(name, ".lock"):
		return bad("it ends with .lock"), ""
	}
	return "", ""
}

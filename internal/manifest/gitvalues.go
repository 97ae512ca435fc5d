package manifest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GitKeys are the names a ${git.NAME} placeholder may take: the commit (sha, and short,
// its first 12 characters), the full ref pushed, the branch or tag it names, and the
// pull request's number. RenderOptions.Set gives their values under git.NAME.
var GitKeys = []string{"sha", "short", "ref", "branch", "tag", "pr"}

// gitSetPrefix starts the RenderOptions.Set keys that give ${git.NAME} values.
const gitSetPrefix = "git."

// Bounds of git values: a ref name git takes, and a commit sha (SHA-1 or SHA-256, or an
// abbreviation of one git would print).
const (
	maxGitValue = 250
	minSHA      = 7
	maxSHA      = 64
	shortSHA    = 12
)

// GitArgs returns the RenderOptions.Set entries that give a deploy of commit sha, pushed
// as ref (the full ref: refs/heads/main, refs/tags/v1.2.0, refs/pull/7/head), for pull
// request pr (0 for none), its ${git.NAME} values: git.sha, git.short (its first 12
// characters), git.ref, git.branch for a ref under refs/heads/, git.tag for one under
// refs/tags/, and git.pr. A value that does not apply (or is "") is left out, so a
// placeholder that takes it fails to render and says why; a deploy's Set is kept with it,
// so a rollback renders the same values again.
func GitArgs(sha, ref string, pr int) map[string]string {
	set := map[string]string{}
	if sha != "" {
		set["git.sha"] = sha
		set["git.short"] = sha[:min(shortSHA, len(sha))]
	}
	if ref != "" {
		set["git.ref"] = ref
	}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && b != "" {
		set["git.branch"] = b
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok && t != "" {
		set["git.tag"] = t
	}
	if pr > 0 {
		set["git.pr"] = strconv.Itoa(pr)
	}
	return set
}

// checkSet checks RenderOptions.Set: each key an arg m declares, or a git value.
func checkSet(m *Manifest, set map[string]string) error {
	for _, k := range sortedKeys(set) {
		name, isGit := strings.CutPrefix(k, gitSetPrefix)
		if !isGit {
			if _, ok := m.Args[k]; !ok {
				return fmt.Errorf("%w: --set %s: unknown arg (%s)", ErrInvalidOption, k, argsHint(k, sortedKeys(m.Args)))
			}
			continue
		}
		if !slices.Contains(GitKeys, name) {
			return fmt.Errorf("%w: --set %s: unknown git value (%s)", ErrInvalidOption, k, gitSetHint(name))
		}
		if msg := gitValueProblem(name, set[k]); msg != "" {
			return fmt.Errorf("%w: --set %s=%s: %s", ErrInvalidOption, k, quote(clip(set[k], 40)), msg)
		}
	}
	return nil
}

// gitValueProblem says what is wrong with v as the value of ${git.NAME}, or "".
func gitValueProblem(name, v string) string {
	switch {
	case v == "":
		return "empty: leave out a git value that does not apply"
	case len(v) > maxGitValue:
		return fmt.Sprintf("longer than %d bytes", maxGitValue)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }):
		return "not printable text: it has a control character or a byte that is not UTF-8"
	case name == "sha" && !isSHA(v):
		return fmt.Sprintf("not a commit: want %d to %d lowercase hexadecimal digits", minSHA, maxSHA)
	case name == "pr" && !isDigits(v):
		return "not a pull request number: want decimal digits"
	}
	return ""
}

func isSHA(s string) bool {
	if len(s) < minSHA || len(s) > maxSHA {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// gitHint lists the git placeholders, naming the closest to name first.
func gitHint(name string) string {
	list := make([]string, len(GitKeys))
	for i, k := range GitKeys {
		list[i] = "${git." + k + "}"
	}
	hint := "git placeholders are " + strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
	if s := suggest(name, GitKeys); s != "" {
		return `did you mean "${git.` + s + `}"? ` + hint
	}
	return hint
}

// gitSetHint lists the git values Set takes, naming the closest to name first.
func gitSetHint(name string) string {
	list := make([]string, len(GitKeys))
	for i, k := range GitKeys {
		list[i] = gitSetPrefix + k
	}
	hint := "git values are " + strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
	if s := suggest(name, GitKeys); s != "" {
		return `did you mean "` + gitSetPrefix + s + `"? ` + hint
	}
	return hint
}

// gitSources says which deploys have a git value only some deploys from git have.
var gitSources = map[string]string{"branch": "a branch", "tag": "a tag", "pr": "a pull request"}

// gitValue resolves ${git.NAME} from the values RenderOptions.Set gives.
func (r *renderer) gitValue(path string, seg segment) string {
	name := seg.parts[1]
	if !slices.Contains(GitKeys, name) {
		// File content read by LoadFile was never validated.
		r.fail(path, "unknown placeholder "+quote(seg.raw), gitHint(name))
		return ""
	}
	if v, ok := r.git[name]; ok {
		return v
	}
	from, some := gitSources[name]
	switch {
	case len(r.git) == 0:
		r.fail(path, seg.raw+" has no value: this deploy is not from git", "deploy a commit of a connected repository, or give --set git."+name+"=...")
	case some:
		r.fail(path, seg.raw+" has no value: this deploy is not from "+from, "${git.sha} and ${git.short} have a value in every deploy from git")
	default:
		r.fail(path, seg.raw+" has no value", "give --set git."+name+"=..., or deploy a commit of a connected repository")
	}
	return ""
}

// UsesGit returns the names of the git values (GitKeys) the placeholders of m and its
// environments take, sorted: what a render needs in RenderOptions.Set.
func (m *Manifest) UsesGit() []string {
	if m == nil {
		return nil
	}
	var names []string
	add := func(s string) {
		if !hasPlaceholder(s) {
			return
		}
		segs, err := parseTemplate(s)
		if err != nil {
			return
		}
		for _, seg := range segs {
			if len(seg.parts) == 2 && seg.parts[0] == "git" && slices.Contains(GitKeys, seg.parts[1]) && !slices.Contains(names, seg.parts[1]) {
				names = append(names, seg.parts[1])
			}
		}
	}
	for _, mm := range append([]*Manifest{m}, envManifests(m)...) {
		mm.eachText(add)
	}
	slices.Sort(names)
	return names
}

// eachText calls fn with every string of m that may hold placeholders.
func (m *Manifest) eachText(fn func(string)) {
	for _, c := range m.Containers {
		fn(c.Image)
		for _, s := range c.Command {
			fn(s)
		}
		for _, s := range c.Args {
			fn(s)
		}
		for _, s := range c.Variables {
			fn(s)
		}
		for _, f := range c.Files {
			if !f.NoExpand {
				fn(f.Content)
			}
		}
	}
	for _, e := range m.Exposes {
		fn(e.Host)
	}
	for _, r := range m.Resources {
		eachParamText(r.Params, fn)
	}
}

func eachParamText(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, item := range x {
			eachParamText(item, fn)
		}
	case []any:
		for _, item := range x {
			eachParamText(item, fn)
		}
	}
}

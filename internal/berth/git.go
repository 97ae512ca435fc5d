package berth

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Forge is a git hosting service Berth takes webhooks from and writes to.
type Forge string

// The forges Berth knows.
const (
	ForgeGitea  Forge = "gitea"
	ForgeGitHub Forge = "github"
)

// Forges lists the forges, for help and errors.
var Forges = []Forge{ForgeGitea, ForgeGitHub}

// Valid reports whether f is one of Forges.
func (f Forge) Valid() bool { return f == ForgeGitea || f == ForgeGitHub }

// AppRepo connects an app to the repository its manifest and code live in.
type AppRepo struct {
	Team, App string
	Forge     Forge
	// URL is the repository's web or clone URL as given; Repo is its OWNER/NAME.
	URL, Repo string
	// Path is the manifest's path in the repository; Branch its default branch.
	Path, Branch string
	CreatedBy    string
	CreatedAt    time.Time
}

// RepoSecrets are a connection's secrets: the forge token Berth calls the forge's API with,
// and the secret the forge signs its webhooks with.
type RepoSecrets struct {
	Token      string `json:"token"`
	HookSecret string `json:"hookSecret"`
}

// repoPart is what an owner or repository name may hold on the forges Berth knows.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// RepoOf returns the OWNER/NAME of a repository URL (http(s), with or without .git), or
// an *InvalidError saying what is wrong with it.
func RepoOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// Not quoted: what does not parse may still hold a password.
		return "", Invalid("repo", "not a URL: want http(s)://HOST/OWNER/NAME")
	case u.User != nil:
		return "", Invalid("repo", "the repository URL must not hold credentials: give the token with --token-file")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", Invalid("repo", "%q is not a repository URL: want http(s)://HOST/OWNER/NAME", raw)
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(u.Path, ".git"), "/"), "/")
	if len(parts) != 2 || !repoPart.MatchString(parts[0]) || !repoPart.MatchString(parts[1]) || parts[1] == "." || parts[1] == ".." {
		return "", Invalid("repo", "%q: want http(s)://HOST/OWNER/NAME", raw)
	}
	return parts[0] + "/" + parts[1], nil
}

// CheckRepoPath checks a manifest's path in a repository: relative, clean, no "..".
func CheckRepoPath(p string) error {
	switch {
	case p == "":
		return Invalid("path", "required: the manifest's path in the repository, e.g. berth.yaml")
	case len(p) > 500:
		return Invalid("path", "at most 500 characters")
	case strings.HasPrefix(p, "/"), strings.Contains(p, "\\"), strings.ContainsRune(p, 0):
		return Invalid("path", "%q: want a path relative to the repository's root, with /", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return Invalid("path", "%q: want a clean relative path (no empty, . or .. parts)", p)
		}
	}
	return nil
}

// CheckBranch checks a branch name as git does, in the ways that matter to Berth.
func CheckBranch(b string) error {
	if b == "" || len(b) > 250 || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.ContainsAny(b, " ~^:?*[\\\x00\x7f") {
		return Invalid("branch", "%q is not a branch name", b)
	}
	return nil
}

// String is the connection in a few words.
func (r AppRepo) String() string {
	return fmt.Sprintf("%s/%s <- %s %s (%s@%s)", r.Team, r.App, r.Forge, r.Repo, r.Path, r.Branch)
}

package gitops

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/berth-dev/berth/internal/berth"
)

// Bounds of the inputs, far above what Berth renders.
const (
	maxPath    = 500
	maxName    = 255
	maxMessage = 64 << 10
	maxIdent   = 200
)

// validate checks a Change whose empty Branch is already Base.
func (c Change) validate() error {
	if err := checkURL(c.URL); err != nil {
		return err
	}
	if c.Token == "" {
		return berth.Invalid("token", "required: a token that may push to the repository")
	}
	if err := checkBranch("base", c.Base); err != nil {
		return err
	}
	if err := checkBranch("branch", c.Branch); err != nil {
		return err
	}
	if err := checkDir(c.Dir); err != nil {
		return err
	}
	for name := range c.Files {
		if err := checkFileName(name); err != nil {
			return err
		}
	}
	switch {
	case firstLine(c.Message) == "":
		return berth.Invalid("message", "required: its first line identifies the deploy")
	case len(c.Message) > maxMessage || strings.ContainsRune(c.Message, 0):
		return berth.Invalid("message", "at most %d bytes, without NUL", maxMessage)
	case strings.TrimSpace(c.Author) == "":
		return berth.Invalid("author", "required")
	case len(c.Author) > maxIdent || strings.ContainsAny(c.Author, "<>\n\r\x00"):
		return berth.Invalid("author", "at most %d characters, without <, > or line breaks", maxIdent)
	case len(c.Email) > maxIdent || strings.ContainsAny(c.Email, "<> \n\r\x00"):
		return berth.Invalid("email", "at most %d characters, without <, >, spaces or line breaks", maxIdent)
	}
	return nil
}

// checkURL checks a repository's clone URL: http(s), with a host, and nothing a token
// could hide in.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// Not quoted: what does not parse may still hold a password.
		return berth.Invalid("url", "not a URL: want http(s)://HOST/PATH")
	case u.User != nil:
		return berth.Invalid("url", "the repository URL must not hold credentials: the token is given apart")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return berth.Invalid("url", "%q: want an http(s)://HOST/PATH clone URL", raw)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#"):
		return berth.Invalid("url", "the repository URL must not have a query or a fragment")
	}
	return nil
}

// checkBranch checks a branch name as git does (go-git's rules for a ref name).
func checkBranch(field, b string) error {
	if b == "" {
		return berth.Invalid(field, "required: a branch name")
	}
	if len(b) > maxName || b == "HEAD" || strings.HasPrefix(b, "-") || plumbing.NewBranchReferenceName(b).Validate() != nil {
		return berth.Invalid(field, "%q is not a branch name", b)
	}
	return nil
}

// checkDir checks an app's directory: a clean relative path, without "..".
func checkDir(d string) error {
	if d == "" {
		return berth.Invalid("dir", "required: the app's directory in the repository, e.g. shop/web")
	}
	if len(d) > maxPath {
		return berth.Invalid("dir", "at most %d bytes", maxPath)
	}
	for _, seg := range strings.Split(d, "/") {
		if !goodName(seg) {
			return berth.Invalid("dir", "%q: want a clean relative path with / (no empty, ., .., .git or backslash parts)", d)
		}
	}
	return nil
}

// checkFileName checks the name of a file of an app's directory.
func checkFileName(n string) error {
	if len(n) > maxName || strings.Contains(n, "/") || !goodName(n) {
		return berth.Invalid("files", "%q is not a file name: want a name without slashes, at most %d bytes", n, maxName)
	}
	return nil
}

// goodName reports whether s may name a file or directory of a tree: not empty, not "."
// or "..", not .git (which git refuses to check out), without backslashes or control
// characters.
func goodName(s string) bool {
	if s == "" || s == "." || s == ".." || strings.EqualFold(s, ".git") || strings.Contains(s, `\`) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

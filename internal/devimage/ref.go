package devimage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// TagError says a NAME:TAG given to name an image is not one.
type TagError struct {
	Tag     string
	Problem string
}

func (e *TagError) Error() string {
	return fmt.Sprintf("image tag %q %s", e.Tag, e.Problem)
}

// ParseTag splits NAME:TAG into the repository (one or more path components, no registry
// host: images always go to the dev cluster's registry) and the tag, which is required so
// that a deploy names exactly what it pulls.
func ParseTag(s string) (repository, tag string, err error) {
	if s == "" {
		return "", "", &TagError{Tag: s, Problem: "is empty: give NAME:TAG, e.g. hello:1.0.0"}
	}
	// The same rule as Docker's: a first component with a dot or a colon, or localhost, is a
	// registry host.
	if first, _, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return "", "", &TagError{Tag: s, Problem: fmt.Sprintf(
			"names the registry host %s: give only NAME:TAG (e.g. %s); images go to the dev cluster's registry", first, s[len(first)+1:])}
	}
	ref, err := reference.Parse(s)
	if err != nil {
		switch {
		case errors.Is(err, reference.ErrNameContainsUppercase):
			return "", "", &TagError{Tag: s, Problem: "has upper-case letters in its name: image names are lower case"}
		case errors.Is(err, reference.ErrNameTooLong):
			return "", "", &TagError{Tag: s, Problem: fmt.Sprintf("has a name longer than %d characters", reference.NameTotalLengthMax)}
		}
		return "", "", &TagError{Tag: s, Problem: "is not NAME:TAG: a name is lower-case letters, digits and separators (. _ -) in components split by /, a tag up to 128 letters, digits, . _ -"}
	}
	if _, ok := ref.(reference.Digested); ok {
		return "", "", &TagError{Tag: s, Problem: "has a digest: give NAME:TAG; the build makes the digest"}
	}
	named, isNamed := ref.(reference.Named)
	tagged, isTagged := ref.(reference.Tagged)
	if !isNamed || !isTagged {
		return "", "", &TagError{Tag: s, Problem: "has no tag: give NAME:TAG, e.g. " + s + ":1.0.0"}
	}
	return named.Name(), tagged.Tag(), nil
}

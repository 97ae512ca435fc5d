// Package registry is Berth's adapter to image registries: it asks whether an image a
// deploy names exists, and its digest, through the registry's API (go-containerregistry),
// without pulling it.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-dev/berth/internal/berth"
)

// Checker looks images up in their registries.
type Checker struct {
	// Mirrors maps a registry host images are named by to the host:port Berth reaches it at
	// over plain HTTP, as the dev cluster's registry.berth.localhost is served on loopback
	// (the kubelet's containerd is told the same by its hosts.toml). Other registries are
	// reached at their own names over HTTPS, anonymously or with the credentials of
	// Keychain.
	Mirrors map[string]string
	// Keychain gives credentials per registry (cmd/berth: the server's Docker config); nil
	// is anonymous.
	Keychain authn.Keychain
	// Transport is the HTTP transport; nil is http.DefaultTransport.
	Transport http.RoundTripper
}

// MissingError says an image is not in its registry (yet).
type MissingError struct{ Image string }

func (e *MissingError) Error() string { return fmt.Sprintf("image %s is not in its registry", e.Image) }

// Is reports whether target is berth.ErrNotFound.
func (e *MissingError) Is(target error) bool { return target == berth.ErrNotFound }

// DeniedError says the registry refused Berth (401 or 403): it needs credentials (the
// server's Docker config) to read the image.
type DeniedError struct {
	Image  string
	Status int
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("the registry of image %s refused to say whether it has it (HTTP %d): give the Berth server credentials for it (docker login as the user it runs as)", e.Image, e.Status)
}

// Is reports whether target is berth.ErrUnauthenticated.
func (e *DeniedError) Is(target error) bool { return target == berth.ErrUnauthenticated }

// Digest returns the digest of image's manifest (an index for a multi-platform image): a
// *MissingError when the registry has no such tag or repository, another error when it
// could not be asked (unreachable, refused credentials, a name that does not parse).
func (c *Checker) Digest(ctx context.Context, image string) (string, error) {
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return "", berth.Invalid("image", "%q is not an image reference: %v", image, err)
	}
	host := ref.Context().RegistryStr()
	if addr, ok := c.Mirrors[host]; ok {
		// The same repository and tag or digest, at the mirror, over plain HTTP.
		ref, err = name.ParseReference(addr+"/"+strings.TrimPrefix(ref.String(), host+"/"), name.Insecure, name.WeakValidation)
		if err != nil {
			return "", fmt.Errorf("image %q at mirror %s: %w", image, addr, err)
		}
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if c.Keychain != nil {
		opts = append(opts, remote.WithAuthFromKeychain(c.Keychain))
	} else {
		opts = append(opts, remote.WithAuth(authn.Anonymous))
	}
	if c.Transport != nil {
		opts = append(opts, remote.WithTransport(c.Transport))
	}
	desc, err := remote.Head(ref, opts...)
	if err == nil {
		return desc.Digest.String(), nil
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return "", fmt.Errorf("look up image %s: %w", image, err)
	}
	if terr.StatusCode == http.StatusNotFound {
		return "", &MissingError{Image: image}
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return "", &MissingError{Image: image}
		}
	}
	// The registry's own words stay out: they reach deploy events and reasons, and a
	// registry is whatever host a manifest names.
	if terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden {
		return "", &DeniedError{Image: image, Status: terr.StatusCode}
	}
	return "", fmt.Errorf("look up image %s: the registry answered HTTP %d", image, terr.StatusCode)
}

package devimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry is the dev cluster's image registry (devcluster.Registry): plain HTTP on loopback.
type Registry struct {
	// Addr is where it listens, host:port: images are pushed and listed there.
	Addr string
	// Name is the host manifests name images by; "" is Addr.
	Name string
}

func (r Registry) name() string {
	if r.Name == "" {
		return r.Addr
	}
	return r.Name
}

// UnreachableError says the registry did not answer.
type UnreachableError struct {
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the image registry at http://%s/ does not answer: %v", e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// pingTimeout bounds the check that the registry answers: it is on loopback.
const pingTimeout = 5 * time.Second

// Ping checks that a registry answers its API's base, /v2/, at addr.
func Ping(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return &UnreachableError{Addr: addr, Err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &UnreachableError{Addr: addr, Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return &UnreachableError{Addr: addr, Err: fmt.Errorf("GET /v2/ answered %s, not 200 OK: is it an image registry without authentication?", resp.Status)}
	}
	return nil
}

// options are those of every registry call: no credentials (the registry has none, and the
// user's Docker config is none of its business), plain HTTP.
func options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(authn.Anonymous)}
}

// push writes img to ref (host:port/repository:tag) and returns its digest.
func push(ctx context.Context, img v1.Image, ref string) (string, error) {
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, options(ctx)...); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// Tagged is one tag in the registry.
type Tagged struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Reference is how manifests name it: Registry.Name/repository:tag.
	Reference string `json:"reference"`
	// Digest is its manifest's digest.
	Digest string `json:"digest"`
}

// List returns every tag of every repository in the registry, sorted by repository and tag.
func List(ctx context.Context, r Registry) ([]Tagged, error) {
	if err := Ping(ctx, r.Addr); err != nil {
		return nil, err
	}
	reg, err := name.NewRegistry(r.Addr, name.Insecure)
	if err != nil {
		return nil, err
	}
	repos, err := remote.Catalog(ctx, reg, options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("list the repositories of %s: %w", r.Addr, err)
	}
	slices.Sort(repos)
	var out []Tagged
	for _, repo := range repos {
		rp, err := name.NewRepository(r.Addr+"/"+repo, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("repository %q: %w", repo, err)
		}
		tags, err := remote.List(rp, options(ctx)...)
		if err != nil {
			return nil, fmt.Errorf("list the tags of %s: %w", repo, err)
		}
		slices.Sort(tags)
		for _, t := range tags {
			// A HEAD of the manifest: the digest without a body.
			d, err := remote.Head(rp.Tag(t), options(ctx)...)
			var terr *transport.Error
			if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
				continue // deleted since the tags were listed
			}
			if err != nil {
				return nil, fmt.Errorf("digest of %s:%s: %w", repo, t, err)
			}
			out = append(out, Tagged{Repository: repo, Tag: t, Reference: r.name() + "/" + repo + ":" + t, Digest: d.Digest.String()})
		}
	}
	return out, nil
}

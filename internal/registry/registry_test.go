package registry_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/devimage/registrytest"
	"github.com/berth-dev/berth/internal/registry"
)

// TestDigestAgainstARealRegistry asks the dev cluster's registry program (CNCF
// Distribution) about an image pushed to it, a tag and a repository it does not have, and
// a registry that does not answer.
func TestDigestAgainstARealRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(reg.Addr+"/shop/web:abc123", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithAuth(authn.Anonymous)); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	c := &registry.Checker{Mirrors: map[string]string{"registry.berth.localhost": reg.Addr}}

	got, err := c.Digest(ctx, "registry.berth.localhost/shop/web:abc123")
	if err != nil || got != want.String() {
		t.Fatalf("Digest(present) = %q, %v; want %s", got, err, want)
	}
	for _, pinned := range []string{"registry.berth.localhost/shop/web@" + want.String(), "registry.berth.localhost/shop/web:abc123@" + want.String()} {
		if got, err := c.Digest(ctx, pinned); err != nil || got != want.String() {
			t.Errorf("Digest(%s) = %q, %v; want %s", pinned, got, err, want)
		}
	}
	for _, image := range []string{"registry.berth.localhost/shop/web:nope", "registry.berth.localhost/shop/other:abc123"} {
		_, err := c.Digest(ctx, image)
		var missing *registry.MissingError
		if !errors.As(err, &missing) || !errors.Is(err, berth.ErrNotFound) || missing.Image != image {
			t.Errorf("Digest(%s) error = %v; want a *MissingError naming it", image, err)
		}
	}

	// A mirror nobody listens on: an error, but not "missing" (the image may well be there).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	down := &registry.Checker{Mirrors: map[string]string{"registry.berth.localhost": dead}}
	if _, err := down.Digest(ctx, "registry.berth.localhost/shop/web:abc123"); err == nil || errors.Is(err, berth.ErrNotFound) {
		t.Errorf("Digest(unreachable) error = %v; want an error that is not ErrNotFound", err)
	}
	if _, err := c.Digest(ctx, "Not An Image"); err == nil || errors.Is(err, berth.ErrNotFound) {
		t.Errorf("Digest(bad reference) error = %v; want a parse error", err)
	}
}

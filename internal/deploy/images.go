package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// Images looks images up in their registries; cmd/berth wires internal/registry.
type Images interface {
	// Digest returns image's digest; an error wrapping berth.ErrNotFound when the
	// registry does not have it (yet), berth.ErrInvalid for a name that is no image
	// reference, berth.ErrUnauthenticated when the registry refuses Berth.
	Digest(ctx context.Context, image string) (string, error)
}

// imagePoll is how often the image stage asks again for an image not there yet: a CI
// pushes it seconds to minutes after the commit that names it.
var imagePoll = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second}

// images waits, before anything is applied, until every image the objects name exists in
// its registry: a deploy from git is queued the moment the commit is pushed, usually before
// its CI has pushed the image the commit's manifest names. It waits up to Options.ImageWait,
// saying what it waits for, and fails naming the images that never appeared. Deploys of a
// manifest a user sent, and re-applies, do not wait (their images were there, or the user
// knows better).
//
// It records the digest of each image on the deploy: a promotion of it pins them (its
// objects name image@digest, pinned by render), so the target runs what the source ran.
func (r *run) images(ctx context.Context) error {
	if r.e.o.Images == nil || r.d.SourceDeploy != 0 {
		return nil
	}
	switch r.d.Kind {
	case berth.KindPromotion:
	case berth.KindDeploy:
		rev, err := r.e.st.Revision(ctx, r.d.Team, r.d.App, r.d.Revision)
		if err != nil {
			return err
		}
		if rev.Source == nil {
			return nil
		}
	default:
		return nil
	}
	wait := r.e.o.ImageWait
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	deadline := time.Now().Add(wait)
	found := map[string]string{}
	for _, image := range podImages(r.objs) {
		var said bool
		for attempt := 0; ; attempt++ {
			cctx, cancel := context.WithDeadline(ctx, deadline.Add(5*time.Second))
			digest, err := r.e.o.Images.Digest(cctx, image)
			cancel()
			if err == nil {
				r.event(ctx, "image", fmt.Sprintf("image %s is in its registry (%s)", image, digest))
				found[recordedAs(image, r.d.Images)] = digest
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, berth.ErrInvalid) || errors.Is(err, berth.ErrUnauthenticated) {
				return failf("%v", err) // waiting will not change it
			}
			why := "not in its registry yet"
			if !errors.Is(err, berth.ErrNotFound) {
				why = err.Error()
			}
			if time.Now().After(deadline) {
				return failf("image %s did not appear in its registry within %s (%s): push it, then deploy again", image, wait, why)
			}
			if !said {
				r.event(ctx, "image", fmt.Sprintf("waiting for image %s (up to %s): %s", image, wait.Round(time.Second), why))
				said = true
			}
			pause := imagePoll[min(attempt, len(imagePoll)-1)]
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(pause, time.Until(deadline)+time.Millisecond)):
			}
		}
	}
	return r.e.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetDeployImages(ctx, r.d.ID, r.owner, found) })
}

// recordedAs is the name an image's digest is recorded under: as the manifest names it —
// without the @digest pinImages added from pinned, when it added one.
func recordedAs(image string, pinned map[string]string) string {
	if u := unpinned(image); u != image && pinned[u] != "" {
		return u
	}
	return image
}

// unpinned is image without the @digest a promotion pins it to.
func unpinned(image string) string {
	if i := strings.LastIndexByte(image, '@'); i > 0 {
		return image[:i]
	}
	return image
}

// pinImages makes each container of objs whose image has a digest in digests name it by
// that digest too (registry/app:tag@sha256:...): what a promotion's pods run is then
// exactly what its source's ran, whatever the tag points at now.
func pinImages(objs []manifest.Object, digests map[string]string) {
	pin := func(cs []corev1.Container) {
		for i := range cs {
			if strings.Contains(cs[i].Image, "@") {
				continue // pinned by the manifest itself
			}
			if d, ok := digests[cs[i].Image]; ok {
				cs[i].Image += "@" + d
			}
		}
	}
	for _, o := range objs {
		if dep, ok := o.(*appsv1.Deployment); ok {
			pin(dep.Spec.Template.Spec.InitContainers)
			pin(dep.Spec.Template.Spec.Containers)
		}
	}
}

// podImages returns the images of the pod templates among objs (containers and init
// containers), each once, in the order they appear.
func podImages(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		path := []string{"spec", "template", "spec"}
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
		case "CronJob":
			path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
		case "Pod":
			path = []string{"spec"}
		default:
			continue
		}
		for _, field := range []string{"initContainers", "containers"} {
			list, _, _ := unstructured.NestedSlice(o.Object, append(slices.Clone(path), field)...)
			for _, c := range list {
				m, _ := c.(map[string]any)
				if img, _ := m["image"].(string); img != "" && !slices.Contains(out, img) {
					out = append(out, img)
				}
			}
		}
	}
	return out
}

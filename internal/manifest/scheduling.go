package manifest

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/berth"
)

// Schedule adds an environment's scheduling defaults to spec the way every pod Berth
// renders gets them, for the pods Berth makes outside a render (a synthetic probe's), so
// that an environment's placement holds for those too and is decided in one place.
func Schedule(spec *corev1.PodSpec, s berth.Scheduling) { schedule(spec, s) }

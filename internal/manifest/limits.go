package manifest

import "k8s.io/apimachinery/pkg/api/resource"

// Limits returns the container's CPU limit in cores and its memory limit in bytes, each 0
// when the container sets none (or, never after validation, one that does not parse): what
// its saturation is measured against, by its alert rules and by the golden signals.
func (c *Container) Limits() (cpu float64, memory int64) {
	if c == nil || c.Resources == nil {
		return 0, 0
	}
	if q, err := resource.ParseQuantity(c.Resources.Limits.CPU); err == nil && c.Resources.Limits.CPU != "" && q.Sign() > 0 {
		cpu = float64(q.MilliValue()) / 1000
	}
	if q, err := resource.ParseQuantity(c.Resources.Limits.Memory); err == nil && c.Resources.Limits.Memory != "" && q.Sign() > 0 {
		memory = q.Value()
	}
	return cpu, memory
}

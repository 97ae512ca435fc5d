package manifest

import "testing"

func TestContainerLimits(t *testing.T) {
	for _, tc := range []struct {
		res     *ComputeResources
		cpu     float64
		memory  int64
		comment string
	}{
		{nil, 0, 0, "no resources"},
		{&ComputeResources{Limits: ResourceList{CPU: "250m", Memory: "64Mi"}}, 0.25, 64 << 20, "both"},
		{&ComputeResources{Limits: ResourceList{CPU: "2"}}, 2, 0, "CPU only"},
		{&ComputeResources{Requests: ResourceList{Memory: "1Gi"}}, 0, 0, "requests are no limits"},
		{&ComputeResources{Limits: ResourceList{CPU: "${args.cpu}", Memory: "0"}}, 0, 0, "a placeholder and a zero"},
	} {
		cpu, memory := (&Container{Resources: tc.res}).Limits()
		if cpu != tc.cpu || memory != tc.memory {
			t.Errorf("%s: %g cores, %d bytes; want %g, %d", tc.comment, cpu, memory, tc.cpu, tc.memory)
		}
	}
	if cpu, memory := (*Container)(nil).Limits(); cpu != 0 || memory != 0 {
		t.Errorf("a nil container: %g, %d", cpu, memory)
	}
}

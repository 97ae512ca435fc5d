//go:build tools

// Package crictl pins crictl, which the dev cluster uses to remove what a killed node left
// in containerd (pod sandboxes and their containers).
package crictl

import _ "sigs.k8s.io/cri-tools/cmd/crictl"

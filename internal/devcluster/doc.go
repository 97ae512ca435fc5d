// Package devcluster runs a real, local Kubernetes control plane — etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, and kwok for simulated nodes and pods — as plain
// processes on loopback ports, for `berth dev cluster`, `make run` and the tests.
//
// Everything a cluster needs (certificates, data, logs, kubeconfig, the pids it started) lives
// in one state directory; `Down` stops exactly those pids and removes the directory.
package devcluster

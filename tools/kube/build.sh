#!/usr/bin/env bash
# Builds the local Kubernetes that `berth dev cluster` runs — kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, etcd and kwok, and the real node's kubelet,
# kube-proxy, image registry (registry/main.go) and CoreDNS (coredns/main.go) — from the Go
# module proxy, in one module and one go build, so the libraries they share compile once,
# at the versions pinned in this module's go.mod, into
#   ${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/berth}/kube/<versions>/{bin,stages}
# and prints that directory on stdout. A complete build is reused; a new one happens only
# when the pinned versions change. Progress goes to stderr.
# usage: tools/kube/build.sh [--download]   (--download: only fetch the Go modules)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
. "$here/../progress.sh"
export GOFLAGS=-mod=mod
# The build links ~500 MB of programs; one go build shares the compiled libraries.

version() { go list -m -f '{{.Version}}' "$1"; }
k8s=$(version k8s.io/kubernetes)
etcd=$(version go.etcd.io/etcd/server/v3)
kwok=$(version sigs.k8s.io/kwok)
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
sum=$(cat go.sum registry/main.go coredns/main.go | sha256sum | cut -c1-8)
dir="$cache/kube/kubernetes-${k8s}_etcd-${etcd}_kwok-${kwok}_${sum}"

pkgs=(
  k8s.io/kubernetes/cmd/kube-apiserver
  k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler
  k8s.io/kubernetes/cmd/kubectl
  k8s.io/kubernetes/cmd/kubelet
  k8s.io/kubernetes/cmd/kube-proxy
  sigs.k8s.io/kwok/cmd/kwok
  go.etcd.io/etcd/server/v3
  ./registry ./coredns
)
mkdir -p "$cache/kube"
# Several test binaries may ask at once: one builds, the others wait for it.
exec 9>"$cache/kube/.lock"
flock 9

# kwok's Stages (how simulated nodes and pods change state) are data, not part of the build:
# they are copied on every run so editing this list never costs a rebuild. The "fast" pod
# stages carry no artificial delays; the chaos stage fails pods that ask for it by label.
install_stages() {
  local src
  src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
  rm -rf "$1/stages.new"
  mkdir -p "$1/stages.new"
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete \
    pod/chaos/pod-container-running-failed; do
    install -m 0644 "$src/$f.yaml" "$1/stages.new/$(basename "$f").yaml"
  done
  rm -rf "$1/stages"
  mv "$1/stages.new" "$1/stages"
}

if [[ -f "$dir/COMPLETE" ]]; then
  install_stages "$dir"
  echo "$dir"
  exit 0
fi
if [[ ${1:-} == --download ]]; then
  # Only fetch the modules (what go build would do first), so that `make run` can do it
  # while apt installs packages.
  echo "downloading the modules of kubernetes $k8s, etcd $etcd and kwok $kwok ..." >&2
  go list -deps "${pkgs[@]}" >/dev/null
  exit 0
fi

echo "building kubernetes $k8s, etcd $etcd and kwok $kwok into $dir" >&2
echo "(a cold build takes about 15 minutes and 3 GB of memory on 2 cores; progress every 30 s; later runs reuse it)" >&2
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$tmp/bin"

minor=${k8s#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done
start=$SECONDS
# No -trimpath and the default cgo setting, as `make build` and `go test` use: with the
# versions berth's go.mod shares with this one kept equal, the libraries both link (client-go,
# the API types, Prometheus, gRPC...) compile once for both.
if ! go build -v -ldflags "$ldflags" -o "$tmp/bin/" "${pkgs[@]}" 2>&1 | go_progress kube; then
  echo "tools/kube: go build failed (see the compiler output above); nothing was cached" >&2
  rm -rf "$tmp"
  exit 1
fi
# go names the etcd main package after its module path without the /v3 suffix.
mv "$tmp/bin/server" "$tmp/bin/etcd"

# The manifest lets `berth dev cluster up` spot a truncated or missing binary cheaply.
(cd "$tmp/bin" && for b in *; do printf '%s %s\n' "$(stat -c %s "$b")" "$b"; done) > "$tmp/SIZES"
install_stages "$tmp"
echo "kubernetes=$k8s etcd=$etcd kwok=$kwok" > "$tmp/COMPLETE"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "built in $((SECONDS - start)) s" >&2
echo "$dir"

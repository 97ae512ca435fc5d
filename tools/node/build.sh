#!/usr/bin/env bash
# Builds the programs the dev cluster's real node runs beside the Kubernetes binaries of
# tools/kube, each from the Go module proxy at the version pinned in its own module here:
#
#   registry  CNCF Distribution, the image registry on loopback     (registry/go.mod)
#   coredns   CoreDNS with the plugins cluster DNS needs            (coredns/main.go)
#   traefik   Traefik, the ingress controller                       (traefik/go.mod)
#   crictl    crictl, to clear what a killed node left in containerd (crictl/go.mod)
#   pause     the pod sandbox process                               (pause/main.go)
#
# usage: tools/node/build.sh [PROGRAM...]      (default: all of them)
#
# Each program goes into ${BERTH_CACHE_DIR:-~/.cache/berth}/node/<program>-<version>_<sum>/
# and is rebuilt only when its module's go.sum (its pins) changes. Several build at once:
# they share the machine's cores and the Go build cache. Prints one line per program on
# stdout, "<program> <path of the binary>"; progress goes to stderr.
# (containerd, runc and the CNI plugins come from Debian: scripts/deps.sh.)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../progress.sh"
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}/node
mkdir -p "$cache"
export GOFLAGS=-mod=mod CGO_ENABLED=0

all=(registry coredns traefik crictl pause)
(($# > 0)) || set -- "${all[@]}"

# package and version of each program's main package
declare -A pkg=(
  [registry]=github.com/distribution/distribution/v3/cmd/registry
  [coredns]=.
  [traefik]=github.com/traefik/traefik/v3/cmd/traefik
  [crictl]=sigs.k8s.io/cri-tools/cmd/crictl
  [pause]=.
)
declare -A mod=(
  [registry]=github.com/distribution/distribution/v3
  [coredns]=github.com/coredns/coredns
  [traefik]=github.com/traefik/traefik/v3
  [crictl]=sigs.k8s.io/cri-tools
  [pause]=""
)

# dir_of PROGRAM prints the cache directory of the program's current pins.
dir_of() {
  local p=$1 v=local sum
  [[ -z ${mod[$p]} ]] || v=$(cd "$here/$p" && go list -m -f '{{.Version}}' "${mod[$p]}")
  sum=$(cat "$here/$p/go.mod" "$here/$p"/*.go "$here/$p/go.sum" 2>/dev/null | sha256sum | cut -c1-8)
  echo "$cache/$p-${v}_$sum"
}

build_one() {
  local p=$1 dir=$2 start=$SECONDS
  exec 9>"$cache/.$p.lock"
  # Several test binaries or a `make run` may ask at once: one builds, the others wait.
  if ! flock -n 9; then
    echo "node: waiting for another build of $p ..." >&2
    flock 9
  fi
  [[ -f $dir/COMPLETE ]] && return 0
  echo "node: building $p into $dir ..." >&2
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial/bin"
  local ldflags="-s -w"
  [[ $p != traefik ]] || ldflags+=" -X github.com/traefik/traefik/v3/pkg/version.Version=$(basename "$dir" | cut -d_ -f1 | sed 's/^traefik-//')"
  if ! (cd "$here/$p" && go build -v -trimpath -ldflags "$ldflags" -o "$dir.partial/bin/$p" "${pkg[$p]}" 2>&1 | go_progress "$p"); then
    echo "node: go build of $p failed (see the compiler output above); nothing was cached" >&2
    rm -rf "$dir.partial"
    return 1
  fi
  stat -c '%s' "$dir.partial/bin/$p" >"$dir.partial/COMPLETE"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  echo "node: built $p in $((SECONDS - start)) s" >&2
}

declare -A dirs pids
for p in "$@"; do
  [[ -n ${pkg[$p]+x} ]] || {
    echo "node: unknown program $p (known: ${all[*]})" >&2
    exit 2
  }
  dirs[$p]=$(dir_of "$p")
  if [[ ! -f ${dirs[$p]}/COMPLETE ]]; then
    build_one "$p" "${dirs[$p]}" &
    pids[$p]=$!
  fi
done
failed=()
for p in "${!pids[@]}"; do
  wait "${pids[$p]}" || failed+=("$p")
done
if ((${#failed[@]} > 0)); then
  echo "node: failed to build ${failed[*]}" >&2
  exit 1
fi
for p in "$@"; do
  echo "$p ${dirs[$p]}/bin/$p"
done

#!/usr/bin/env bash
# Builds the programs the dev cluster's real node runs beside the binaries of tools/kube
# (which also builds the node's kubelet, kube-proxy, image registry and CoreDNS):
#
#   pause     the pod sandbox process                  (pause/main.go, a module of its own)
#   ingress   the dev cluster's ingress controller     (cmd/berth-dev-ingress of this checkout)
#
# usage: tools/node/build.sh [PROGRAM...]      (default: all of them)
#
# Each program goes into ${BERTH_CACHE_DIR:-~/.cache/berth}/node/<program>-<version>_<sum>/
# and is rebuilt only when its sources or pins change. Several build at once:
# they share the machine's cores and the Go build cache. Prints one line per program on
# stdout, "<program> <path of the binary>"; progress goes to stderr.
# (containerd, runc and the CNI plugins come from Debian: scripts/deps.sh.)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../progress.sh"
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}/node
mkdir -p "$cache"
export GOFLAGS=-mod=mod

all=(pause ingress)
root=$(cd "$here/../.." && pwd)
(($# > 0)) || set -- "${all[@]}"

# package and version of each program's main package
declare -A pkg=(
  [pause]=.
  [ingress]=./cmd/berth-dev-ingress
)
# the directory each builds in, and the files its build depends on beyond the Go modules
# it pins (internal/layering holds that internal/devingress imports nothing else of Berth's)
declare -A src=(
  [pause]=$here/pause
  [ingress]=$root
)
declare -A files=(
  [pause]="go.mod main.go"
  [ingress]="go.mod go.sum cmd/berth-dev-ingress/*.go internal/devingress/*.go"
)

# dir_of PROGRAM prints the cache directory of the program's current pins.
dir_of() {
  local p=$1 sum
  # shellcheck disable=SC2086 # the globs of files[] expand here
  sum=$(cd "${src[$p]}" && cat ${files[$p]} | sha256sum | cut -c1-8)
  echo "$cache/$p-$sum"
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
  # pause is static (no cgo, it runs in an empty image); the ingress controller builds as
  # `make build` builds berth, so the libraries they share compile once.
  local cgo=1
  [[ $p != pause ]] || cgo=0
  if ! (cd "${src[$p]}" && CGO_ENABLED=$cgo go build -v -ldflags "-s -w" -o "$dir.partial/bin/$p" "${pkg[$p]}" 2>&1 | go_progress "$p"); then
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

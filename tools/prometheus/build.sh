#!/usr/bin/env bash
# Builds Prometheus and promtool, the real metrics server of the golden-signals and alerts
# tests (internal/promtest) and of `make run`'s dev environment, from the Go module proxy at
# the version pinned in this module's go.mod into
#   ${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/berth}/prometheus/<version>_<sum>/{prometheus,promtool}
# and prints that directory on stdout. A complete build is reused. Progress goes to stderr.
# Built without the web UI's assets (its API, which Berth uses, is all there), and with
# only the Kubernetes, file and HTTP service discovery (Prometheus's build tags
# remove_all_sd,enable_kubernetes_sd): the cloud providers' SDKs were most of a cold build.
# usage: tools/prometheus/build.sh [--download]   (--download: only fetch the Go modules)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
. "$here/../progress.sh"
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

pkgs=(github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool)
version=$(go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
tags=remove_all_sd,enable_kubernetes_sd
dir="$cache/prometheus/${version}_$( (cat go.sum; echo "$tags") | sha256sum | cut -c1-8)"
mkdir -p "$cache/prometheus"
# Several test binaries may ask at once: one builds, the others wait for it.
exec 9>"$cache/prometheus/.lock"
flock 9

if [[ -f "$dir/COMPLETE" ]]; then
  echo "$dir"
  exit 0
fi
if [[ ${1:-} == --download ]]; then
  echo "downloading the modules of Prometheus $version ..." >&2
  go list -tags "$tags" -deps "${pkgs[@]}" >/dev/null
  exit 0
fi

echo "building Prometheus $version (prometheus, promtool) into $dir" >&2
echo "(a cold build takes several minutes on 2 cores; progress every 30 s; later runs reuse it)" >&2
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
start=$SECONDS
# One go build of both: the packages they share compile once.
if ! go build -v -trimpath -tags "$tags" -ldflags "-s -w" -o "$tmp/" "${pkgs[@]}" 2>&1 | go_progress prometheus; then
  echo "tools/prometheus: go build failed (see the compiler output above); nothing was cached" >&2
  rm -rf "$tmp"
  exit 1
fi
echo "prometheus=$version" > "$tmp/COMPLETE"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "built in $((SECONDS - start)) s" >&2
echo "$dir"

#!/usr/bin/env bash
# Builds nats-server, the real queue server of the probe tests (internal/natstest) and of
# `make run`'s dev environment, from the Go module proxy at the version pinned in this
# module's go.mod into
#   ${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/berth}/nats/<version>_<sum>/nats-server
# and prints that directory on stdout. A complete build is reused. Progress goes to stderr.
# usage: tools/nats/build.sh [--download]   (--download: only fetch the Go modules)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
. "$here/../progress.sh"
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

pkg=github.com/nats-io/nats-server/v2
version=$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
dir="$cache/nats/${version}_$(sha256sum go.sum | cut -c1-8)"
mkdir -p "$cache/nats"
# Several test binaries may ask at once: one builds, the others wait for it.
exec 9>"$cache/nats/.lock"
flock 9

if [[ -f "$dir/COMPLETE" ]]; then
  echo "$dir"
  exit 0
fi
if [[ ${1:-} == --download ]]; then
  echo "downloading the modules of nats-server $version ..." >&2
  go list -deps "$pkg" >/dev/null
  exit 0
fi

echo "building nats-server $version into $dir" >&2
echo "(a cold build takes about a minute on 2 cores; progress every 30 s; later runs reuse it)" >&2
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
start=$SECONDS
if ! go build -v -trimpath -ldflags "-s -w" -o "$tmp/nats-server" "$pkg" 2>&1 | go_progress nats-server; then
  echo "tools/nats: go build failed (see the compiler output above); nothing was cached" >&2
  rm -rf "$tmp"
  exit 1
fi
echo "nats-server=$version" > "$tmp/COMPLETE"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "built in $((SECONDS - start)) s" >&2
echo "$dir"

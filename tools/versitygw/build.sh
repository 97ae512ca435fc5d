#!/usr/bin/env bash
# Builds versitygw, the real S3 server the backup tests run (internal/s3test), from the Go
# module proxy at the version pinned in this module's go.mod into
#   ${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/berth}/versitygw/<version>_<sum>/versitygw
# and prints that directory on stdout. A complete build is reused. Progress goes to stderr.
# usage: tools/versitygw/build.sh [--download]   (--download: only fetch the Go modules)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
. "$here/../progress.sh"
export GOFLAGS=-mod=mod
# Only versitygw's RDMA and GPU gateways (other commands) use cgo; without it the S3 gateway
# is one static binary.
export CGO_ENABLED=0

pkg=github.com/versity/versitygw/cmd/versitygw
version=$(go list -m -f '{{.Version}}' github.com/versity/versitygw)
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
dir="$cache/versitygw/${version}_$(sha256sum go.sum | cut -c1-8)"
mkdir -p "$cache/versitygw"
# Several test binaries may ask at once: one builds, the others wait for it.
exec 9>"$cache/versitygw/.lock"
flock 9

if [[ -f "$dir/COMPLETE" ]]; then
  echo "$dir"
  exit 0
fi
if [[ ${1:-} == --download ]]; then
  echo "downloading the modules of versitygw $version ..." >&2
  go list -deps "$pkg" >/dev/null
  exit 0
fi

echo "building versitygw $version into $dir" >&2
echo "(a cold build takes about 2 minutes on 2 cores; progress every 30 s; later runs reuse it)" >&2
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
start=$SECONDS
# main.Version is what `versitygw --version` prints (its Makefile sets it the same way).
if ! go build -v -trimpath -ldflags "-s -w -X main.Version=$version" -o "$tmp/versitygw" "$pkg" 2>&1 | go_progress versitygw; then
  echo "tools/versitygw: go build failed (see the compiler output above); nothing was cached" >&2
  rm -rf "$tmp"
  exit 1
fi
echo "versitygw=$version" > "$tmp/COMPLETE"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "built in $((SECONDS - start)) s" >&2
echo "$dir"

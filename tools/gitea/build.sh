#!/usr/bin/env bash
# Builds Gitea, the real forge the git-flow tests run (internal/giteatest), from the Go module
# proxy at the version pinned in this module's go.mod, with SQLite compiled in, into
#   ${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/berth}/gitea/<version>_<sum>/
# (bin/gitea, and Gitea's options, templates and public files, which a build without the
# bindata tag reads from STATIC_ROOT_PATH) and prints that directory on stdout. A complete
# build is reused. Progress goes to stderr.
# usage: tools/gitea/build.sh [--download]   (--download: only fetch the Go modules)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
. "$here/../progress.sh"
export GOFLAGS=-mod=mod
# SQLite is cgo (mattn/go-sqlite3).
export CGO_ENABLED=1

version=$(go list -m -f '{{.Version}}' code.gitea.io/gitea)
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
dir="$cache/gitea/${version}_$(sha256sum go.sum | cut -c1-8)"
mkdir -p "$cache/gitea"
# Several test binaries may ask at once: one builds, the others wait for it.
exec 9>"$cache/gitea/.lock"
flock 9

if [[ -f "$dir/COMPLETE" ]]; then
  echo "$dir"
  exit 0
fi
if [[ ${1:-} == --download ]]; then
  echo "downloading the modules of gitea $version ..." >&2
  go list -deps -tags 'sqlite sqlite_unlock_notify' code.gitea.io/gitea >/dev/null
  exit 0
fi

echo "building gitea $version into $dir" >&2
echo "(a cold build takes about 5 minutes on 2 cores; progress every 30 s; later runs reuse it)" >&2
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$tmp/bin"
start=$SECONDS
if ! go build -v -trimpath -tags 'sqlite sqlite_unlock_notify' -ldflags "-s -w" -o "$tmp/bin/gitea" code.gitea.io/gitea 2>&1 | go_progress gitea; then
  echo "tools/gitea: go build failed (see the compiler output above); nothing was cached" >&2
  rm -rf "$tmp"
  exit 1
fi
src=$(go list -m -f '{{.Dir}}' code.gitea.io/gitea)
cp -r "$src/options" "$src/templates" "$src/public" "$tmp/"
chmod -R u+w "$tmp"
echo "gitea=$version" > "$tmp/COMPLETE"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "built in $((SECONDS - start)) s" >&2
echo "$dir"

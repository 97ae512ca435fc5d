#!/usr/bin/env bash
# Builds the helm CLI pinned in this module's go.mod into
#   ${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/berth}/helm/<version>/helm
# and prints the binary's path. `make bench` times `helm template` against berth's renderer.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
export GOFLAGS=-mod=mod
version=$(go list -m -f '{{.Version}}' helm.sh/helm/v3)
cache=${BERTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth}
dir="$cache/helm/${version}_$(sha256sum go.sum | cut -c1-8)"
mkdir -p "$cache/helm"
exec 9>"$cache/helm/.lock"
flock 9
if [[ ! -x "$dir/helm" ]]; then
  echo "building helm $version into $dir (about 2 minutes, once)" >&2
  mkdir -p "$dir"
  go build -trimpath -ldflags "-s -w" -o "$dir/helm.partial" helm.sh/helm/v3/cmd/helm >&2
  mv "$dir/helm.partial" "$dir/helm"
fi
echo "$dir/helm"

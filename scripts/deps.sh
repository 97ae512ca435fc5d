#!/usr/bin/env bash
# Installs what a fresh machine of the kind berth is developed on lacks, from Debian's
# packages. Idempotent, and silent when everything is already there.
set -euo pipefail

need_go=1.26
if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go $need_go or newer is required and not on PATH (https://go.dev/dl/)" >&2
  exit 1
fi
have=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$need_go" "$have" | sort -V | head -1)" != "$need_go" ]]; then
  echo "deps: Go $need_go or newer is required, found $have" >&2
  exit 1
fi

# command -> Debian package that provides it
declare -A pkgs=(
  [flock]=util-linux
  [sha256sum]=coreutils
  [git]=git
  # scripts/run.sh (make run) talks to the server's API
  [curl]=curl
  [jq]=jq
  # the dev cluster's real node (internal/devcluster/node.go): the container runtime
  # (containerd 1.6 and its ctr, with runc), kube-proxy's nftables mode and its conntrack
  # cleanup, and `ip` for the pod bridge. The CNI plugins are files, checked below.
  [containerd]=containerd
  [runc]=runc
  [nft]=nftables
  [conntrack]=conntrack
  [ip]=iproute2
)
# only `make test` needs these: `scripts/deps.sh run` (make run) skips them
if [[ ${1:-} != run ]]; then
  # the dashboard's browser tests drive headless Chromium (chromedp)
  pkgs[chromium]=chromium
  # tools/gitea/build.sh compiles Gitea's SQLite driver (cgo)
  pkgs[gcc]=gcc
fi
missing=()
for cmd in "${!pkgs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkgs[$cmd]}")
done
# The store's tests start throwaway PostgreSQL servers from the installed binaries, and
# `make run` starts one for dev's postgres resources; Debian keeps them off PATH, under
# /usr/lib/postgresql/<version>/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=(containernetworking-plugins)
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo=sudo
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

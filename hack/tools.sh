#!/usr/bin/env bash
# Builds the test tools (kube-apiserver, etcd, kubectl; Pebble) from pinned module
# versions through the Go module proxy, cached by the hash of their module files.
# Prints the folder that holds the binaries. Progress goes to stderr.
#
#   hack/tools.sh k8s      -> dir with kube-apiserver, kube-controller-manager, etcd, kubectl
#   hack/tools.sh pebble   -> dir with pebble, pebble-challtestsrv
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-k8s}
mod="$root/test/tools/$what"
[ -f "$mod/go.mod" ] || { echo "hack/tools.sh: unknown tool set '$what'" >&2; exit 2; }

hash=$(cat "$mod/go.mod" "$mod/go.sum" "$0" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/portico/$what/$hash"
if [ -f "$cache/.done" ]; then
  echo "$cache"
  exit 0
fi

mkdir -p "$cache"
start=$(date +%s)
case "$what" in
k8s)
  v=v1.37.2
  echo "portico: building kube-apiserver, kube-controller-manager, etcd and kubectl $v from the Go module proxy into $cache" >&2
  echo "portico: first time only: about 10-12 minutes and 2.5 GB of RAM on 2 cores; later runs reuse the cache" >&2
  ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=37 -X $p.gitTreeState=clean"
  done
  (cd "$mod" && go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$cache/" \
    go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl)
  mv "$cache/v3" "$cache/etcd" 2>/dev/null || mv "$cache/server" "$cache/etcd"
  ;;
pebble)
  echo "portico: building Pebble (ACME test server) into $cache" >&2
  (cd "$mod" && go build -mod=readonly -trimpath -o "$cache/" \
    github.com/letsencrypt/pebble/v2/cmd/pebble github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv)
  ;;
esac
touch "$cache/.done"
echo "portico: built $what in $(( $(date +%s) - start ))s" >&2
echo "$cache"

#!/usr/bin/env bash
# Installs what the tests need on a fresh machine: iproute2 (network
# namespaces) from Debian, and the control plane binaries built from the Go
# module proxy (cached; the first build takes about 16 minutes), and Pebble
# (the ACME test server, a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "portico: the tests need root (they create network namespaces for test backends)" >&2
  exit 1
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  echo "portico: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
hack/tools.sh k8s >/dev/null
hack/tools.sh pebble >/dev/null

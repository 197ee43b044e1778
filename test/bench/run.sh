#!/usr/bin/env bash
# Side-by-side benchmark of Portico, nginx and HAProxy (see docs/benchmarks.md).
# Installs nginx, HAProxy and wrk from Debian if missing, then runs the
# harness; extra arguments go to it, e.g. -rounds 5 -duration 20s.
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
hack/provision.sh
go build -o /tmp/portico-bench ./test/bench
exec /tmp/portico-bench "$@"

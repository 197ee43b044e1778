#!/usr/bin/env bash
# Runs the official Gateway API conformance suite against Portico on the test
# cluster (test/gateway-conformance, its own Go module) and prints its result:
# tests passed, failed and skipped, the report's summary and where the full log
# and the report are. hack/test.sh runs it after the end-to-end tests; it also
# runs alone. Needs root, like every test cluster.
#
#   GATEWAY_CONFORMANCE=required  (default) a failing conformance test fails
#                                 this script, and CI
#   GATEWAY_CONFORMANCE=report    failing conformance tests are reported and do
#                                 not fail it (while developing a feature)
#
# In both modes a suite that does not run at all (build failure, cluster that
# cannot start, runner error before the suite starts) fails the script.
# Arguments are passed to the suite after -args, for development:
#   hack/gateway-conformance.sh -run-test=HTTPRouteSimpleSameNamespace
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${GATEWAY_CONFORMANCE:-required}
case "$mode" in
required | report) ;;
*) echo "hack/gateway-conformance.sh: GATEWAY_CONFORMANCE is '$mode'; use required or report" >&2; exit 2 ;;
esac

hack/provision.sh

log="${TMPDIR:-/tmp}/portico-gateway-conformance-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "gateway-conformance: mode $mode; full log: $log"
args=()
[ $# -gt 0 ] && args=(-args "$@")
start=$(date +%s)
set +e
# -v streams the suite's progress into the log; the terminal gets the setup
# steps, one line per test and the summary.
(cd test/gateway-conformance && go test -count=1 -timeout 30m -v ./... "${args[@]}") 2>&1 |
  tee "$log" |
  grep --line-buffered -E '^ *--- (PASS|FAIL|SKIP)|^(ok|FAIL|PASS)\b|^gateway-conformance: |setup: |Test Setup: |WARNING|Messages: |[[:space:]]Error:[[:space:]]|\[build failed\]|^FAIL: harness'
rc=${PIPESTATUS[0]}
set -e
took=$(($(date +%s) - start))

count() { grep -cE "^ +--- $1: TestGatewayConformance/" "$log" || true; }
passed=$(count PASS) failed=$(count FAIL) skipped=$(count SKIP)
echo
echo "gateway-conformance: PASS $passed, FAIL $failed, SKIP $skipped tests in $((took / 60))m$((took % 60))s (go test exit $rc); full log: $log"

if ! grep -q 'Running conformance tests with:' "$log"; then
  echo "gateway-conformance: FAILED: the suite did not start (see the log); this fails in every mode" >&2
  exit 1
fi
if [ "$rc" -eq 0 ]; then
  echo "gateway-conformance: PASSED"
  exit 0
fi
if [ "$mode" = required ]; then
  echo "gateway-conformance: FAILED" >&2
  exit "$rc"
fi
echo "gateway-conformance: FAILED (GATEWAY_CONFORMANCE=report: not counted)"

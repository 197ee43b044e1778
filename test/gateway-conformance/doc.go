// Package gatewayconformance runs the official Gateway API conformance suite,
// sigs.k8s.io/gateway-api/conformance at the version in go.mod, unmodified,
// against Portico on the test cluster (test/harness: kube-apiserver, etcd,
// kube-controller-manager; test/nodeagent runs the suite's echo Pods as
// processes with real Pod IPs). TestGatewayConformance installs the Gateway
// API CRDs of the same version, starts Portico with a Gateway address pool
// in 127.0.0.0/8 (so the suite dials Gateway addresses from this machine),
// creates the GatewayClass and runs the GATEWAY-HTTP profile with the
// features claimed in features.go, writing the suite's report to reports/.
//
// It is its own module so that the suite's dependencies (controller-runtime,
// apiextensions) stay out of Portico's go.mod; Portico's test harness comes
// from the main module through a replace directive.
//
//	sudo hack/gateway-conformance.sh          # what hack/test.sh runs
//	cd test/gateway-conformance && go test -count=1 -timeout 30m -v ./... -args -run-test=HTTPRouteSimpleSameNamespace
//
// See docs/testing.md, "Gateway API conformance".
package gatewayconformance

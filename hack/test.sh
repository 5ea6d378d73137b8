#!/usr/bin/env bash
# test.sh runs every test, as `make test` does: the unit, envtest and
# PostgreSQL packages (go test -race ./...) and, side by side with them, the
# end-to-end tests on a local cluster (test/e2e). Both spend most of their
# time waiting on apiservers, kwok and databases, so on 2 cores the two
# together take about as long as the end-to-end tests alone. Flux's
# controllers, which only the end-to-end tests need, are built while the
# packages' tests start.
#
# GO_TEST_FLAGS are the flags of the packages' go test (make sets -race
# -count=1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

assets=$(hack/tools.sh cluster)
echo "using Kubernetes binaries from $assets"
helm=$(hack/tools.sh helm)
promtool=$(hack/tools.sh promtool)
export KUBEBUILDER_ASSETS=$assets HELM=$helm PROMTOOL=$promtool

echo "packages: unit, envtest and PostgreSQL tests (about 7 min), with the end-to-end tests beside them"
# One package at a time (-p 1): beside the end-to-end tests, which take
# longer, that costs no time and leaves the local cluster the CPU it needs.
# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
go test -p 1 ${GO_TEST_FLAGS:--count=1} ./... &
packages=$!

e2e=0
if flux=$(hack/tools.sh flux); then
	echo "end-to-end: the operator on a local cluster, as its ServiceAccount, and with Flux (about 10 min)"
	FLUX=$flux go test -tags e2e -count=1 -timeout 25m ./test/e2e/... || e2e=$?
else
	e2e=1
fi
rc=0
wait "$packages" || rc=$?

if ((rc != 0 || e2e != 0)); then
	((rc == 0)) || echo "error: the packages' tests failed (above); run one with: go test ./<package> -run <Test> -v" >&2
	((e2e == 0)) || echo "error: the end-to-end tests failed (above); run them alone with: make test-e2e" >&2
	exit 1
fi

#!/usr/bin/env bash
# verify.sh fails when a generated file is stale, a go.mod is untidy or Go code
# is unformatted. It regenerates into the working tree, so after a failure the
# fresh files are there to review and commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

generated=(api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml config/webhook/manifests.yaml config/policies/tenant.yaml charts/buurt/crds charts/buurt/files)
# The chart's values table, written by `make manifests` (hack/genchartdocs).
generated+=(charts/buurt/README.md)
failed=0

before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
for path in "${generated[@]}"; do
	mkdir -p "$before/$(dirname "$path")"
	cp -r "$path" "$before/$path"
done
if ! make --no-print-directory generate manifests >"$before/generate.log" 2>&1; then
	cat "$before/generate.log" >&2
	echo "error: 'make generate manifests' failed" >&2
	exit 1
fi
for path in "${generated[@]}"; do
	if ! diff -r -u "$before/$path" "$path" >"$before/diff" 2>&1; then
		echo "error: $path is stale: the API changed without regenerating." >&2
		head -n 40 "$before/diff" >&2
		failed=1
	fi
done
if [[ $failed == 1 ]]; then
	echo "Run 'make generate manifests' (done for you just now) and commit the result." >&2
fi

# A tool module only builds its tools: -e lets its tidiness be checked when
# a test dependency of a tool is not served by the module proxy (one of
# Flux's source-controller's is not).
for mod in . hack/tools/*/; do
	tidy="go mod tidy"
	[[ $mod == . ]] || tidy="go mod tidy -e"
	if ! (cd "$mod" && $tidy -diff >/dev/null 2>&1); then
		echo "error: $mod/go.mod is not tidy; run '$tidy' in $mod and commit the result." >&2
		failed=1
	fi
done

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n "$unformatted" ]]; then
	echo "error: these files are not gofmt'ed; run 'make fmt':" >&2
	echo "$unformatted" >&2
	failed=1
fi

if [[ $failed == 1 ]]; then
	exit 1
fi
echo "verify: generated files, go.mod files and formatting are up to date"

#!/usr/bin/env bash
# tools.sh builds the pinned tools buurt needs from their Go modules and caches
# them outside the repository, so a fresh clone on a machine that reaches only
# the Go module proxy can run the real Kubernetes control plane in its tests.
#
#   hack/tools.sh envtest        kube-apiserver, etcd and kubectl; prints their directory
#   hack/tools.sh cluster        envtest's binaries plus kube-controller-manager,
#                                kube-scheduler, kwok and kwokctl; prints the directory
#   hack/tools.sh flux           Flux's source-, kustomize- and helm-controller and their CRDs
#                                (in crds/); prints their directory
#   hack/tools.sh NAME           one of controller-gen, openapi-gen, golangci-lint, helm, promtool; prints its path
#
# The Kubernetes binaries live in setup-envtest's store layout
# (${XDG_DATA_HOME:-~/.local/share}/kubebuilder-envtest/k8s/<version>-<os>-<arch>),
# so setup-envtest users and this script share one cache. KUBEBUILDER_ASSETS, when
# set, is used as that directory instead. Each tool is rebuilt only when its
# module under hack/tools changes (a stamp file holds the hash of its go.sum).
set -euo pipefail
shopt -s nullglob

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/hack/tools"
data=${XDG_DATA_HOME:-$HOME/.local/share}
k8s_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { v = $3 } $1 == "k8s.io/kubernetes" && $2 ~ /^v/ { v = $2 } END { sub(/^v/, "", v); print v }' "$tools/kubernetes/go.mod")
platform="$(go env GOOS)-$(go env GOARCH)"
k8s_dir=${KUBEBUILDER_ASSETS:-$data/kubebuilder-envtest/k8s/$k8s_version-$platform}
bin_dir="$data/buurt/tools"

say() { printf '%s\n' "$*" >&2; }

# retry runs a download step with a time limit, up to three times: the module
# proxy sometimes stalls a transfer for minutes.
retry() {
	local attempt
	for attempt in 1 2 3; do
		if timeout 600 "$@"; then
			return 0
		fi
		say "  attempt $attempt of 3 failed or timed out: $*"
		sleep $((attempt * 5))
	done
	say "error: '$*' failed three times; check that the Go module proxy ($(go env GOPROXY)) is reachable and run the command again"
	return 1
}

# stamp is the hash of a tool module's definition; a change rebuilds the tool.
stamp() {
	local files=("$tools/$1"/go.mod "$tools/$1"/go.sum)
	files+=("$tools/$1"/*.go)
	cat "${files[@]}" 2>/dev/null | sha256sum | cut -c1-16
}

# build MODULE OUT_DIR STEP TOTAL "what" PACKAGE [NAME]: builds PACKAGE of the
# tool module into OUT_DIR/NAME unless the binary there is from the same module
# definition.
build() {
	local module=$1 out=$2 step=$3 total=$4 what=$5 pkg=$6 name=${7:-$(basename "$6")}
	local want have=""
	want=$(stamp "$module")
	[[ -f "$out/.$name.stamp" ]] && have=$(cat "$out/.$name.stamp")
	if [[ -x "$out/$name" && "$have" == "$want" ]]; then
		return 0
	fi
	mkdir -p "$out"
	say "building $name ($step/$total, $what)"
	(cd "$tools/$module" && retry go mod download)
	(cd "$tools/$module" && go build -trimpath -ldflags=-s -o "$out/$name.tmp" "$pkg")
	mv "$out/$name.tmp" "$out/$name"
	echo "$want" >"$out/.$name.stamp"
}

envtest() {
	local total=${1:-3}
	build kubernetes "$k8s_dir" 1 "$total" "~9 min the first time on 2 cores, seconds when Go's build cache is warm" k8s.io/kubernetes/cmd/kube-apiserver
	build etcd "$k8s_dir" 2 "$total" "~1 min the first time" github.com/buurt-dev/buurt/hack/tools/etcd etcd
	build kubernetes "$k8s_dir" 3 "$total" "~1 min the first time" k8s.io/kubernetes/cmd/kubectl
}

cluster() {
	envtest 7
	build kubernetes "$k8s_dir" 4 7 "~3 min the first time" k8s.io/kubernetes/cmd/kube-controller-manager
	build kubernetes "$k8s_dir" 5 7 "~1 min the first time" k8s.io/kubernetes/cmd/kube-scheduler
	build kwok "$k8s_dir" 6 7 "~2 min the first time" sigs.k8s.io/kwok/cmd/kwok
	build kwok "$k8s_dir" 7 7 "~1 min the first time" sigs.k8s.io/kwok/cmd/kwokctl
}

# flux builds Flux's controllers and copies their CRDs, from the same
# modules, next to them.
flux() {
	local out="$bin_dir/flux" controller dir
	build flux "$out" 1 3 "~4 min the first time" github.com/fluxcd/source-controller
	build flux "$out" 2 3 "~2 min the first time" github.com/fluxcd/kustomize-controller
	build flux "$out" 3 3 "~2 min the first time" github.com/fluxcd/helm-controller
	if [[ "$(cat "$out/crds/.stamp" 2>/dev/null)" != "$(stamp flux)" ]]; then
		rm -rf "$out/crds"
		mkdir -p "$out/crds"
		for controller in source-controller kustomize-controller helm-controller; do
			dir=$(cd "$tools/flux" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$controller")
			cp "$dir"/config/crd/bases/*.yaml "$out/crds/"
		done
		chmod u+w "$out"/crds/*.yaml
		stamp flux >"$out/crds/.stamp"
	fi
}

case "${1:-}" in
flux)
	flux
	echo "$bin_dir/flux"
	;;
envtest)
	envtest
	echo "$k8s_dir"
	;;
cluster)
	cluster
	echo "$k8s_dir"
	;;
controller-gen)
	build controller-gen "$bin_dir" 1 1 "~1 min the first time" sigs.k8s.io/controller-tools/cmd/controller-gen
	echo "$bin_dir/controller-gen"
	;;
openapi-gen)
	build openapi-gen "$bin_dir" 1 1 "~1 min the first time" k8s.io/kube-openapi/cmd/openapi-gen
	echo "$bin_dir/openapi-gen"
	;;
golangci-lint)
	build golangci-lint "$bin_dir" 1 1 "with kube-api-linter, ~3 min the first time" sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter golangci-lint
	echo "$bin_dir/golangci-lint"
	;;
helm)
	build helm "$bin_dir" 1 1 "~3 min the first time" helm.sh/helm/v4/cmd/helm
	echo "$bin_dir/helm"
	;;
promtool)
	build promtool "$bin_dir" 1 1 "~3 min the first time" github.com/prometheus/prometheus/cmd/promtool
	echo "$bin_dir/promtool"
	;;
*)
	say "usage: $0 envtest|cluster|flux|controller-gen|openapi-gen|golangci-lint|helm|promtool"
	exit 2
	;;
esac

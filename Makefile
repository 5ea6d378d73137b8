# buurt — run `make help` for the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

# Tools are built from pinned Go modules under hack/tools and cached outside the
# repository by hack/tools.sh, which prints each tool's path; recipes call it in
# an assignment so that a failed build stops the recipe.
# Generated files that `make verify` checks.


GO_TEST_FLAGS ?= -race -count=1

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: chart-docs ## Generate CRDs, RBAC, the webhook configuration, the tenant policies and the PrometheusRule (and copy them into the Helm chart).
	@cg=$$(hack/tools.sh controller-gen) && set -x && \
	$$cg rbac:roleName=buurt-manager crd webhook paths=./... output:crd:artifacts:config=config/crd/bases \
		output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook
	rm -f charts/buurt/crds/*.yaml
	cp config/crd/bases/*.yaml charts/buurt/crds/
	cp config/rbac/role.yaml config/rbac/team_roles.yaml config/rbac/operator_team_role.yaml config/rbac/team_splits.yaml charts/buurt/files/
	cp config/webhook/manifests.yaml charts/buurt/files/webhook.yaml
	go run ./hack/genpolicies config/policies/tenant.yaml
	rm -rf charts/buurt/files/policies && mkdir charts/buurt/files/policies
	cp config/policies/operator.yaml config/policies/team-quota.yaml config/policies/tenant.yaml charts/buurt/files/policies/
	go run ./hack/genalerts config/prometheus/alerts.yaml config/prometheus/prometheusrule.yaml
	cp config/prometheus/alerts.yaml charts/buurt/files/alerts.yaml
	cp config/grafana/dashboard.json charts/buurt/files/dashboard.json

.PHONY: chart-docs
chart-docs: ## Write the values table of charts/buurt/README.md from values.yaml's "# --" comments and values.schema.json.
	go run ./hack/genchartdocs charts/buurt

.PHONY: generate
generate: ## Generate deepcopy code for the API types, and the OpenAPI of the aggregated API (api/my).
	@cg=$$(hack/tools.sh controller-gen) && og=$$(hack/tools.sh openapi-gen) && set -x && \
	$$cg object paths=./api/... && \
	$$og --output-dir internal/myapi/openapi --output-pkg github.com/buurt-dev/buurt/internal/myapi/openapi \
		--output-file zz_generated.openapi.go --go-header-file /dev/null --report-filename internal/myapi/openapi/api-rule-violations.list \
		k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version \
		github.com/buurt-dev/buurt/api/my/v1alpha1

.PHONY: fmt
fmt: ## Format the Go code (gofmt and goimports, as lint checks it).
	@lint=$$(hack/tools.sh golangci-lint) && set -x && \
	$$lint fmt ./...

.PHONY: vet
vet: ## Vet the Go code.
	go vet ./...

.PHONY: lint
lint: ## Lint with golangci-lint (and kube-api-linter on api/).
	@lint=$$(hack/tools.sh golangci-lint) && set -x && \
	$$lint run ./...

.PHONY: verify
verify: ## Fail when a generated file is stale or go.mod is untidy.
	@hack/verify.sh

##@ Local cluster

DEV_DIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/buurt/dev

.PHONY: dev
dev: ## Run buurt on a local kwok cluster with a PostgreSQL server, the samples applied and waited on. Ctrl-C stops the operator.
	@assets=$$(hack/tools.sh cluster) && \
	go run ./cmd/devcluster up --bin-dir "$$assets" --work-dir "$(DEV_DIR)"

.PHONY: dev-down
dev-down: ## Remove the local cluster and the PostgreSQL server of `make dev`.
	@go run ./cmd/devcluster down --bin-dir "$$(hack/tools.sh cluster)" --work-dir "$(DEV_DIR)"

##@ Test

.PHONY: test
test: ## Run every test: unit, envtest, real PostgreSQL, and, side by side with them, end-to-end on a local cluster (test-e2e).
	@GO_TEST_FLAGS="$(GO_TEST_FLAGS)" hack/test.sh

.PHONY: test-e2e
test-e2e: ## Run the end-to-end tests (test/e2e, build tag e2e): buurt's binary on a local cluster, and with Flux.
	@assets=$$(hack/tools.sh cluster) && \
	helm=$$(hack/tools.sh helm) && \
	flux=$$(hack/tools.sh flux) && \
	echo "end-to-end: the operator on a local cluster, as its ServiceAccount, and with Flux (about 10 min)" && \
	KUBEBUILDER_ASSETS=$$assets HELM=$$helm FLUX=$$flux go test -tags e2e -count=1 -timeout 25m ./test/e2e/...

# The benchmark's settings (docs/performance.md; test/bench has the same
# defaults). BENCH_APPS=0 gives teams no app, for a machine that cannot hold
# a Deployment per team; BENCH_OUT is where the results table is written too.
BENCH_TEAMS ?= 1000
BENCH_DATABASE ?= Shared
BENCH_CONCURRENCY ?= 16
BENCH_APPS ?= 1
BENCH_FLOOR ?= create
BENCH_STEADY_SECONDS ?= 60
BENCH_IDLE_SECONDS ?= 120
BENCH_TIMEOUT ?= 90m
BENCH_OUT ?= bin/bench-results.md

.PHONY: bench
bench: ## Measure buurt at scale against a plain client on a local cluster (test/bench, build tag bench); about 25 min for 1,000 teams.
	@assets=$$(hack/tools.sh cluster) && \
	echo "benchmark: buurt and the floor on a local cluster; the table goes to stdout and $(BENCH_OUT)" && \
	KUBEBUILDER_ASSETS=$$assets BENCH_TEAMS=$(BENCH_TEAMS) BENCH_DATABASE=$(BENCH_DATABASE) \
	BENCH_CONCURRENCY=$(BENCH_CONCURRENCY) BENCH_APPS=$(BENCH_APPS) BENCH_FLOOR=$(BENCH_FLOOR) BENCH_STEADY_SECONDS=$(BENCH_STEADY_SECONDS) \
	BENCH_IDLE_SECONDS=$(BENCH_IDLE_SECONDS) BENCH_OUT=$(abspath $(BENCH_OUT)) \
	go test -tags bench -count=1 -v -run '^TestBench$$' -timeout $(BENCH_TIMEOUT) ./test/bench/

##@ Build

.PHONY: build
build: ## Build the operator (manager), the aggregated API server (buurt-api) and the kubectl plugin (kubectl-buurt) into bin/.
	go build -o bin/manager ./cmd/manager
	go build -o bin/buurt-api ./cmd/buurt-api
	go build -o bin/kubectl-buurt ./cmd/kubectl-buurt

IMG ?= ghcr.io/buurt-dev/buurt:0.1.0
CONTAINER_TOOL ?= docker

.PHONY: docker-build
docker-build: ## Build the operator image, tagged IMG=registry/name:tag (needs docker, or CONTAINER_TOOL=podman).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: run
run: ## Run the manager against the cluster of the current kubeconfig (without admission webhooks, which need an installation).
	go run ./cmd/manager --enable-webhooks=false

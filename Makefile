# Fledge: progressive delivery. `make help` lists the targets.
GO ?= go
PKGS := ./...

.PHONY: help demo test unit vet fmt fmt-check lint build fuzz bench-proxy

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

demo: ## run the demo on the embedded proxy (README's first command)
	$(GO) run ./cmd/fledge demo

build: ## build the fledge binary into ./bin
	$(GO) build -o bin/fledge ./cmd/fledge

# The cluster tests (test/cluster) run against the local control plane, built
# once and cached (cold: about 20 minutes on 2 cores), started before the Go
# tests so that its build is not counted in their timeout, and stopped after.
test: fmt-check vet ## the whole test suite (README's second command; CI runs it)
	hack/cluster/up.sh
	hack/tools/helm.sh version --short # built once (cached), outside the tests' timeout
	FLEDGE_KUBECONFIG=$(CURDIR)/.cluster/kubeconfig $(GO) test -count=1 -timeout 30m $(PKGS); \
		rc=$$?; hack/cluster/down.sh >/dev/null; exit $$rc

unit: ## fast tests of the pure packages only
	$(GO) test -count=1 ./api/... ./internal/rollout/... ./internal/analysis/... ./internal/metrics/...

vet: ## go vet
	$(GO) vet $(PKGS)

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

fmt-check: ## fail when a file is not gofmt-clean
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: ## golangci-lint (installed on demand)
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@latest run

fuzz: ## run each fuzz test for 30s
	$(GO) test ./api/v1alpha1/ -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./internal/rollout/ -run '^$$' -fuzz FuzzDecide -fuzztime 30s
	$(GO) test ./internal/router/proxy/ -run '^$$' -fuzz FuzzHeaderMatch -fuzztime 30s

bench-proxy: ## the embedded proxy against nginx, HAProxy and Caddy (installs them)
	bench/proxy/run.sh

# --- Kubernetes mode: code generation and the local control plane ---

CONTROLLER_GEN ?= $(GO) tool -modfile=hack/tools/go.mod controller-gen

.PHONY: manifests generate cluster-up cluster-down

manifests: ## regenerate the CRDs (config/crd/bases, and their copies in charts/fledge/crds) from api/v1alpha1's markers
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:dir=config/crd/bases
	rm -f charts/fledge/crds/*.yaml
	cp config/crd/bases/*.yaml charts/fledge/crds/

generate: ## regenerate api/v1alpha1/zz_generated.deepcopy.go
	$(CONTROLLER_GEN) object paths=./api/...

cluster-up: ## start etcd, kube-apiserver, controller-manager, scheduler, kwok nodes (.cluster/kubeconfig)
	hack/cluster/up.sh

cluster-down: ## stop the local control plane
	hack/cluster/down.sh

# --- Web dashboard ---

.PHONY: web

web: ## rebuild the dashboard's embedded assets from web/ (npm ci, copy; commit the result)
	web/build.sh

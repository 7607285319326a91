#!/usr/bin/env bash
# Fetches the Prometheus Operator's CRDs for ServiceMonitor, PodMonitor and PrometheusRule, so the
# tests can server-side dry-run the chart's optional monitoring objects against the real schema.
# Source: the prometheus-operator Go module from the Go module proxy (the same route the control
# plane's binaries take, no other download), pinned below; the three files are copied to a cache
# outside the repository and their paths printed, one per line.
#   cache: ${DWO_CACHE:-$HOME/.cache/dropwatch-operator}/monitoring-crds/<version>/
# Called by test/integration/helm.test.ts; usable by hand:
#   kubectl apply --server-side -f "$(bash hack/monitoring-crds.sh | head -1)" ...
set -euo pipefail

PROMETHEUS_OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}
ROOT=${DWO_CACHE:-$HOME/.cache/dropwatch-operator}
OUT=$ROOT/monitoring-crds/$PROMETHEUS_OPERATOR_VERSION
KINDS=(servicemonitors podmonitors prometheusrules)

die() { printf '[monitoring-crds] ERROR: %s\n' "$*" >&2; exit 1; }

have_all() {
  local k
  for k in "${KINDS[@]}"; do [ -s "$OUT/monitoring.coreos.com_$k.yaml" ] || return 1; done
}

if ! have_all; then
  command -v go >/dev/null || die "Go is needed to fetch github.com/prometheus-operator/prometheus-operator from the module proxy"
  module=github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION
  # A module download needs no go.mod; GOFLAGS from the caller (e.g. -mod=vendor) must not apply.
  dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download $module gave no module directory"
  src=$dir/example/prometheus-operator-crd
  mkdir -p "$OUT"
  for k in "${KINDS[@]}"; do
    f=$src/monitoring.coreos.com_$k.yaml
    [ -f "$f" ] || die "$f not found in $module (did the layout change?)"
    # The module cache is read-only; the copy is ours. Write-then-rename keeps a half copy out.
    cp "$f" "$OUT/.tmp.$k" && chmod 0644 "$OUT/.tmp.$k" && mv "$OUT/.tmp.$k" "$OUT/monitoring.coreos.com_$k.yaml"
  done
fi

for k in "${KINDS[@]}"; do echo "$OUT/monitoring.coreos.com_$k.yaml"; done

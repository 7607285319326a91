#!/usr/bin/env bash
# Builds promtool and the prometheus server from the Go module proxy, for the monitoring tests
# (`promtool check metrics|rules`, `promtool test rules`) and scripts/render-dashboard.mjs.
#
#   bash hack/prometheus.sh build     # build both binaries, or reuse them (a cache hit takes no time)
#   bash hack/prometheus.sh bin-dir   # print the directory holding promtool and prometheus (build first)
#
# Cache, keyed by version: ${DWO_CACHE:-$HOME/.cache/dropwatch-operator}/prometheus-<ver>/bin
#
# The module github.com/prometheus/prometheus is versioned v0.3XX.Y for Prometheus v3.XX.Y.
# Built with the `remove_all_sd` tag: only the static, file and http service discoveries are
# compiled in: all a local scrape needs, without the cloud SDKs the other discoveries pull in.
# The web UI assets are not embedded (no `builtinassets`); the HTTP API works without them.
set -euo pipefail

PROM_MODULE_VERSION=${PROM_MODULE_VERSION:-v0.316.0}

ROOT=${DWO_CACHE:-$HOME/.cache/dropwatch-operator}
BIN=$ROOT/prometheus-$PROM_MODULE_VERSION/bin

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[prometheus %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# v0.316.0 -> 3.16.0: the release the module version stands for, stamped into `--version`.
release_version() {
  local v=${PROM_MODULE_VERSION#v0.}
  local minor=${v%%.*} patch=${v#*.}
  echo "3.$((10#$minor - 300)).$patch"
}

cmd_build() {
  if [ -x "$BIN/promtool" ] && [ -x "$BIN/prometheus" ]; then
    log "cache hit: $BIN"
    return 0
  fi
  command -v go >/dev/null || die "Go is not installed; install Go >= 1.26 (Debian: golang-go, or go.dev)"
  local work=$ROOT/prometheus-$PROM_MODULE_VERSION/work
  mkdir -p "$work" "$BIN"
  # A throwaway module that requires the pinned release, so `go build` resolves exactly the
  # dependency versions that release's go.mod lists.
  local gover
  gover=$(go mod download -json "github.com/prometheus/prometheus@$PROM_MODULE_VERSION" \
    | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs sed -n 's/^go \([0-9.]*\)$/\1/p')
  [ -n "$gover" ] || die "could not download github.com/prometheus/prometheus@$PROM_MODULE_VERSION from the Go module proxy"
  cat > "$work/go.mod" <<MOD
module dropwatch.dev/prometheus-build

go $gover

require github.com/prometheus/prometheus $PROM_MODULE_VERSION
MOD
  local rel pkg=github.com/prometheus/common/version
  rel=$(release_version)
  local ldflags="-s -w -X $pkg.Version=$rel -X $pkg.Revision=$PROM_MODULE_VERSION -X $pkg.Branch=release -X $pkg.BuildUser=dropwatch-operator"
  local start=$SECONDS
  log "building promtool and prometheus $rel ($PROM_MODULE_VERSION); a cold build takes minutes, progress every 30 s"
  ( while sleep 30; do log "  ... still building, $((SECONDS - start)) s"; done ) &
  local ticker=$! rc=0
  # Build into a temp dir and move into place, so an interrupted build never leaves a
  # half-written binary that the cache check above would take for a finished one.
  local out
  out=$(mktemp -d "$ROOT/prometheus-$PROM_MODULE_VERSION/out.XXXXXX")
  (cd "$work" && go build -trimpath -tags remove_all_sd -ldflags "$ldflags" -o "$out/" \
     github.com/prometheus/prometheus/cmd/promtool github.com/prometheus/prometheus/cmd/prometheus) || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    rm -rf "$out"
    die "building prometheus $PROM_MODULE_VERSION failed (exit $rc)"
  fi
  mv "$out/promtool" "$out/prometheus" "$BIN/"
  rm -rf "$out"
  log "built $("$BIN/prometheus" --version 2>&1 | head -1) in $((SECONDS - start)) s -> $BIN"
}

case ${1:-} in
  build) cmd_build ;;
  bin-dir) echo "$BIN" ;;
  *) echo "usage: $0 build|bin-dir" >&2; exit 2 ;;
esac

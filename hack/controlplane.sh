#!/usr/bin/env bash
# Builds and runs a real local Kubernetes control plane for the demo and the tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (fake kubelets),
# plus kubectl and helm, all compiled from source modules through the Go module proxy.
# Called by `make cluster-build|cluster-up|cluster-down` and by the test harness.
#
# Binaries are cached outside the repo, keyed by version, so only the first build is slow.
#   cache: ${DWO_CACHE:-$HOME/.cache/dropwatch-operator}/controlplane/<versions>/bin
#   state: ${DWO_CLUSTER_DIR:-$HOME/.cache/dropwatch-operator/cluster}   (kubeconfig, certs, logs, etcd data)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.7.0}
HELM_VERSION=${HELM_VERSION:-v3.19.0}

ROOT=${DWO_CACHE:-$HOME/.cache/dropwatch-operator}
BIN=$ROOT/controlplane/k8s-$K8S_VERSION.etcd-$ETCD_VERSION.kwok-$KWOK_VERSION.helm-$HELM_VERSION/bin
STATE=${DWO_CLUSTER_DIR:-$ROOT/cluster}
# Loopback only: nothing here listens on another address.
APISERVER_PORT=${DWO_APISERVER_PORT:-16443}
ETCD_CLIENT_PORT=${DWO_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_CLIENT_PORT + 1))

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- build -----------------------------------------------------------------------------------

# go_build_with_progress LABEL -- go build args...: runs a build and prints a heartbeat every
# 30 s with the elapsed time, because a cold Kubernetes build takes many minutes on 2 cores.
go_build_with_progress() {
  local label=$1; shift; shift
  local start=$SECONDS
  log "building $label (cold builds take minutes; progress every 30 s)"
  ( while sleep 30; do log "  ... $label still building, $((SECONDS - start)) s"; done ) &
  local ticker=$!
  local rc=0
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  [ "$rc" = 0 ] || die "building $label failed (exit $rc); the command was: $*"
  log "built $label in $((SECONDS - start)) s"
}

build_kubernetes() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=0
  for b in "${want[@]}"; do [ -x "$BIN/$b" ] || missing=1; done
  [ "$missing" = 1 ] || return 0
  local work=$ROOT/controlplane/work/k8s-$K8S_VERSION
  mkdir -p "$work" "$BIN"
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging=v0.${K8S_VERSION#v1.}
  # k8s.io/kubernetes replaces every staging module with ./staging/...; a wrapper module that
  # requires it and points each staging module at its published v0.X.Y makes it buildable.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  {
    echo "module dropwatch.dev/controlplane-build"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
    echo ")"
  } > "$work/go.mod"
  log "wrapper module: $work/go.mod ($(grep -c ' => ' "$work/go.mod") staging replacements)"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  (cd "$work" && go_build_with_progress "kubernetes $K8S_VERSION (apiserver, controller-manager, scheduler, kubectl)" -- \
    go build -trimpath -ldflags "$ldflags" -o "$BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  [ -x "$BIN/etcd" ] && return 0
  local work=$ROOT/controlplane/work/etcd-$ETCD_VERSION
  mkdir -p "$work" "$BIN"
  # etcd's server module also has replace directives (to ../api etc.): the same wrapper trick.
  cat > "$work/go.mod" <<MOD
module dropwatch.dev/etcd-build

go 1.24.0

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
MOD
  (cd "$work" && go_build_with_progress "etcd $ETCD_VERSION" -- \
    go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
}

build_go_install() { # name module@version
  local name=$1 mod=$2
  [ -x "$BIN/$name" ] && return 0
  mkdir -p "$BIN"
  GOFLAGS= GOBIN=$BIN go_build_with_progress "$name ($mod)" -- go install -trimpath -ldflags "-s -w" "$mod"
}

cmd_build() {
  command -v go >/dev/null || die "Go is not installed; install Go >= 1.24 (Debian: golang-go, or go.dev)"
  local start=$SECONDS
  build_etcd
  build_go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  build_go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  build_kubernetes
  log "all binaries ready in $BIN ($((SECONDS - start)) s)"
}

# --- run -------------------------------------------------------------------------------------

pidfile() { echo "$STATE/run/$1.pid"; }
running() { local p; p=$(cat "$(pidfile "$1")" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }

start_bg() { # name cmd...
  local name=$1; shift
  mkdir -p "$STATE/run" "$STATE/logs"
  setsid "$@" >"$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
}

wait_for() { # description timeout-seconds command...
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not ready after ${timeout}s; see $STATE/logs/"
    sleep 0.5
  done
}

gen_pki() {
  local pki=$STATE/pki
  [ -f "$pki/sa.key" ] && return 0
  mkdir -p "$pki"
  command -v openssl >/dev/null || die "openssl is needed to make the test PKI (apt-get install openssl)"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=dropwatch-local-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile san.ext 2>/dev/null
    # Client certificate for the cluster admin (system:masters) used by kubectl, the tests and components.
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=dropwatch-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

write_kubeconfig() {
  local kc=$STATE/kubeconfig pki=$STATE/pki
  cat > "$kc" <<KC
apiVersion: v1
kind: Config
clusters:
- name: dropwatch-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: dropwatch-local
  context: {cluster: dropwatch-local, user: admin}
current-context: dropwatch-local
KC
}

cmd_up() {
  cmd_build
  local start=$SECONDS
  gen_pki; write_kubeconfig
  local pki=$STATE/pki kc=$STATE/kubeconfig
  # Each component starts only if it is not already running, so `up` also repairs a partial cluster.
  if ! running etcd; then
    rm -rf "$STATE/etcd"
    start_bg etcd "$BIN/etcd" --data-dir "$STATE/etcd" --name dropwatch \
      --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "dropwatch=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --quota-backend-bytes 4294967296
  fi
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
  running kube-apiserver || start_bg kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$APISERVER_PORT" --cert-dir "$pki" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC --allow-privileged=true \
    --service-cluster-ip-range 10.0.0.0/24 --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --api-audiences https://kubernetes.default.svc --enable-priority-and-fairness=false \
    --profiling=false --v=1
  wait_for kube-apiserver 90 "$BIN/kubectl" --kubeconfig "$kc" get --raw /readyz
  # nodelifecycle stays on: it removes the not-ready taint once kwok reports a node Ready, which
  # DaemonSet pods do not tolerate.
  running kube-controller-manager || start_bg kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$kc" \
    --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" --bind-address 127.0.0.1 --secure-port 0 \
    --leader-elect=false --use-service-account-credentials=false \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --controllers '*,-nodeipam,-persistentvolume-binder,-attachdetach,-ttl,-bootstrapsigner,-tokencleaner,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --concurrent-daemonset-syncs 4 --v=1
  running kube-scheduler || start_bg kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$kc" \
    --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" --bind-address 127.0.0.1 --secure-port 0 \
    --leader-elect=false --v=1
  # kwok fakes kubelets only for nodes annotated kwok.x-k8s.io/node=fake; a real agent on this
  # host can use a plain Node object without the annotation.
  running kwok || start_bg kwok "$BIN/kwok" --kubeconfig "$kc" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --cidr 10.0.0.1/24 \
    --node-ip 127.0.0.1 --server-address 127.0.0.1:0
  wait_for "default service account" 60 "$BIN/kubectl" --kubeconfig "$kc" -n default get serviceaccount default
  log "control plane up in $((SECONDS - start)) s; export KUBECONFIG=$kc"
}

cmd_down() {
  local n p
  for n in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    p=$(cat "$(pidfile "$n")" 2>/dev/null) || continue
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    rm -f "$(pidfile "$n")"
  done
  rm -rf "$STATE/etcd"
  log "control plane stopped"
}

case ${1:-} in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) running kube-apiserver && running etcd ;;
  env) echo "export KUBECONFIG=$STATE/kubeconfig PATH=$BIN:\$PATH" ;;
  bin-dir) echo "$BIN" ;;
  kubeconfig) echo "$STATE/kubeconfig" ;;
  *) echo "usage: $0 build|up|down|status|env|bin-dir|kubeconfig" >&2; exit 2 ;;
esac

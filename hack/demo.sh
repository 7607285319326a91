#!/usr/bin/env bash
# `make demo`: the main job, unattended. Brings up the local control plane (built from source on
# first use), installs the CRDs and shows the example policies the way a user sees them, takes a
# 5 s drop snapshot of this host, then runs the whole story: the operator, the agent RBAC, a demo
# policy selecting this host's Node plus two kwok sensor nodes, the real agent for this host, replay
# agents for the kwok nodes, a burst of real kernel drops, and what `kubectl get dwp`,
# `kubectl describe dwp` and `kubectl describe node` then show; the drops stop and the node
# recovers; the policy is deleted (the operator cleans up). Background processes are stopped on
# exit; the control plane stays up. Needs root for the kernel part. Honours DWO_CLUSTER_DIR,
# DWO_APISERVER_PORT and DWO_ETCD_PORT like hack/controlplane.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/node_modules/.bin:$PATH

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
bash hack/controlplane.sh up
eval "$(bash hack/controlplane.sh env)"

step "CRDs: DropWatchPolicy and DropWatchNodeReport"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established --timeout=60s crd/dropwatchpolicies.dropwatch.dev crd/dropwatchnodereports.dropwatch.dev

step "Fake sensor nodes (kwok)"
for n in sensor-a sensor-b; do
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: demo-$n
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {dropwatch.dev/sensor: "true", sensor.example.com/role: span, kubernetes.io/hostname: demo-$n}
YAML
done
kubectl get nodes -L sensor.example.com/role

step "Example policies (examples/)"
kubectl apply --server-side -f examples/
kubectl get dwp
echo
# The API server publishes a new CRD's OpenAPI schema a few seconds after it is Established.
for _ in $(seq 1 30); do kubectl explain dropwatchpolicy.spec.thresholds >/dev/null 2>&1 && break; sleep 1; done
kubectl explain dropwatchpolicy.spec.thresholds | sed -n '1,25p'

step "This host: 5 s of kernel drops while a generator sends UDP to a closed port"
port=$(node -e "const s=require('node:dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
( sleep 1.5; node test/integration/helpers/udp-send.mjs 127.0.0.1 "$port" 2000 >/dev/null ) &
node dist/cli/main.js snapshot --seconds 5
wait

# ---------------------------------------------------------------------------------------------
# The operator story. Everything started below runs in the background with its log and pid in the
# control plane's state directory, and is stopped when this script exits (also on failure).
STATE=$(dirname "$(bash hack/controlplane.sh kubeconfig)")
mkdir -p "$STATE/logs" "$STATE/run"
NS=dropwatch-system
POLICY=demo-sensors
# This host's Node object: a plain Node (no kwok annotation, so no fake kubelet) named after the host.
HOST_NODE=${DWO_DEMO_NODE:-$(hostname | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9.\n-' '-')}
BG=()
start_bg() { # name cmd...: start in the background, log and pid in the state directory
  local name=$1; shift
  "$@" >"$STATE/logs/$name.log" 2>&1 < /dev/null &
  BG+=("$!"); echo $! > "$STATE/run/$name.pid"
}
stop_bg() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
  BG=()
}
trap stop_bg EXIT
wait_until() { # description timeout-seconds command...: polls every 0.2 s
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "demo: $what did not happen within ${timeout}s; logs in $STATE/logs/" >&2; exit 1; fi
    sleep 0.2
  done
}
packet_loss() { kubectl get node "$HOST_NODE" -o jsonpath='{.status.conditions[?(@.type=="PacketLoss")].status}'; }
packet_loss_is() { [ "$(packet_loss)" = "$1" ]; }
reporting_is() { [ "$(kubectl get dwp "$POLICY" -o jsonpath='{.status.nodes.reporting}')" = "$1" ]; }
# The parts of `kubectl describe node` a person reads: the PacketLoss condition and our Events.
describe_node() {
  kubectl describe node "$HOST_NODE" | awk '/^[A-Z]/{p=0} /^(Conditions|Events):/{p=1} p'
}

step "The examples were for reading; the demo policy below is the one the operator runs"
kubectl delete -f examples/ --ignore-not-found --wait=true

step "Operator: agent RBAC (deploy/) and the operator, in the background"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -f deploy/
start_bg operator node dist/cli/main.js operator --kubeconfig "$KUBECONFIG" --namespace "$NS" \
  --agent-image ghcr.io/example/dropwatch-operator:0.1.0
wait_until "the operator to take the leader Lease" 30 \
  bash -c "[ -n \"\$(kubectl -n $NS get lease dropwatch-operator -o jsonpath='{.spec.holderIdentity}')\" ]"
echo "operator running (log: $STATE/logs/operator.log); leader: $(kubectl -n "$NS" get lease dropwatch-operator -o jsonpath='{.spec.holderIdentity}')"

step "This host as a Node ($HOST_NODE) next to the two kwok sensors"
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $HOST_NODE
  labels: {dropwatch.dev/sensor: "true", sensor.example.com/role: span, kubernetes.io/hostname: $HOST_NODE}
YAML
# A capacity, so the scheduler places this host's agent pod on it (no kubelet will run the pod).
kubectl patch node "$HOST_NODE" --subresource=status --type=merge \
  -p '{"status":{"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"}}}' >/dev/null
kubectl label node "$HOST_NODE" demo-sensor-a demo-sensor-b dropwatch.dev/demo=true --overwrite >/dev/null
kubectl get nodes -L dropwatch.dev/demo

step "A policy for the three demo nodes: warn above 1500 drops/s, clear at 300/s"
kubectl apply --server-side -f - <<YAML
apiVersion: dropwatch.dev/v1alpha1
kind: DropWatchPolicy
metadata:
  name: $POLICY
spec:
  nodeSelector:
    matchLabels: {dropwatch.dev/demo: "true"}
  tolerations: [{operator: Exists}]
  samplingInterval: 1s
  reportInterval: 1s
  heartbeatInterval: 10s
  thresholds:
    - name: kernel-drops
      metric: dropsPerSecond
      warning: 1500
      critical: 50000
      clear: 300
      for: 0s
YAML
wait_until "the agent DaemonSet" 30 kubectl -n "$NS" get daemonset "dropwatch-$POLICY"
host_pod() { kubectl -n "$NS" get pods -l "dropwatch.dev/policy=$POLICY" --field-selector "spec.nodeName=$HOST_NODE" -o jsonpath='{.items[0].metadata.name}'; }
wait_until "the agent pod for $HOST_NODE" 30 bash -c "[ -n \"\$(kubectl -n $NS get pods -l dropwatch.dev/policy=$POLICY --field-selector spec.nodeName=$HOST_NODE -o name)\" ]"
sleep 2
# kwok runs the agent pods of the fake sensors; this host's Node has no kubelet, so its pod stays
# Pending and the real agent runs as a plain process instead (next step), with the pod's identity.
kubectl -n "$NS" get pods -o wide -l "dropwatch.dev/policy=$POLICY"

# The agent's credentials as its pod would have them: a dropwatch-agent token bound to that pod
# (and so to this host's Node), so deploy/'s RBAC and admission policy apply to it.
AGENT_KUBECONFIG=$STATE/agent-kubeconfig
token=$(kubectl -n "$NS" create token dropwatch-agent --bound-object-kind Pod --bound-object-name "$(host_pod)" --duration 1h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
( umask 077; cat > "$AGENT_KUBECONFIG" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority: "$ca"}}]
users: [{name: dropwatch-agent, user: {token: "$token"}}]
contexts: [{name: agent, context: {cluster: local, user: dropwatch-agent}}]
current-context: agent
KC
)
echo "agent identity: $(kubectl --kubeconfig "$AGENT_KUBECONFIG" auth whoami -o jsonpath='{.status.userInfo.username} (node {.status.userInfo.extra.authentication\.kubernetes\.io/node-name[0]})')"

step "Agents: the real one for $HOST_NODE (kernel drops), replays of a recorded snapshot for the kwok sensors"
start_bg agent node dist/cli/main.js agent --policy "$POLICY" --node-name "$HOST_NODE" --kubeconfig "$AGENT_KUBECONFIG" \
  --sampling-interval 100ms --report-interval 1s --heartbeat-interval 5s --metrics-bind-address 127.0.0.1:0
start_bg replay-agents node test/integration/helpers/replay-agent.mjs --kubeconfig "$KUBECONFIG" --policy "$POLICY" \
  --fixture test/fixtures/snapshots/udp-no-socket.json --heartbeat-seconds 5 demo-sensor-a demo-sensor-b
wait_until "three nodes reporting" 40 reporting_is 3
wait_until "PacketLoss=False on $HOST_NODE" 20 packet_loss_is False
kubectl get dwnr
kubectl get dwp "$POLICY"
echo "(READY is False with reason RollingOut: this host's agent pod stays Pending, 2 of 3 agents are available.)"

step "A burst of drops on this host: UDP to a closed port at 8000 datagrams/s"
port=$(node -e "const s=require('node:dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
t0=$(date +%s%N)
start_bg flood node test/integration/helpers/udp-flood.mjs 127.0.0.1 "$port" 8000 0
flood_pid=${BG[-1]}
wait_until "PacketLoss=True on $HOST_NODE" 15 packet_loss_is True
echo "PacketLoss=True on $HOST_NODE $(( ($(date +%s%N) - t0) / 1000000 )) ms after the drops started"
sleep 2   # a couple more windows, so the status shows the sustained rate

step "kubectl get dwp"
kubectl get dwp "$POLICY"
step "kubectl describe dwp $POLICY (status)"
kubectl describe dwp "$POLICY" | sed -n '/^Status:/,$p'
step "kubectl describe node $HOST_NODE (conditions and events)"
describe_node

step "The kubectl plugin: kubectl dropwatch nodes, node $HOST_NODE, top"
# kubectl finds plugins on PATH by name; a wrapper runs it with the project's pinned Node.
mkdir -p "$STATE/bin"
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$(command -v node)" "$PWD/dist/cli/kubectl-dropwatch.js" > "$STATE/bin/kubectl-dropwatch"
chmod +x "$STATE/bin/kubectl-dropwatch"
export PATH=$STATE/bin:$PATH
kubectl dropwatch nodes
echo
kubectl dropwatch node "$HOST_NODE" | sed -n '1,30p'
echo
kubectl dropwatch top -n 5

step "The drops stop: the node recovers"
kill "$flood_pid" 2>/dev/null || true
t0=$(date +%s%N)
wait_until "PacketLoss=False on $HOST_NODE" 20 packet_loss_is False
echo "PacketLoss=False on $HOST_NODE $(( ($(date +%s%N) - t0) / 1000000 )) ms after the drops stopped"
sleep 1
describe_node
kubectl get dwp "$POLICY"

step "Deleting the policy: the operator removes its DaemonSet, reports and the Node condition"
kubectl delete dwp "$POLICY" --wait=true --timeout=30s
# No kubelet finishes the deletion of the pod on this host's Node: do it for it.
kubectl -n "$NS" delete pods -l "dropwatch.dev/policy=$POLICY" --force --grace-period=0 --ignore-not-found 2>/dev/null
wait_until "PacketLoss removed from $HOST_NODE" 20 bash -c "[ -z \"\$(kubectl get node $HOST_NODE -o jsonpath='{.status.conditions[?(@.type==\"PacketLoss\")].status}')\" ]"
kubectl -n "$NS" get daemonsets
kubectl get dwnr

step "Done"
stop_bg
echo "Stopped the operator, the agents and the drop generator (their logs: $STATE/logs/)."
echo "The control plane is still up: export KUBECONFIG=$(bash hack/controlplane.sh kubeconfig)"
echo "Stop it with: make cluster-down   (or: bash hack/controlplane.sh down, with the same DWO_* variables)"

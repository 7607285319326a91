#!/usr/bin/env bash
# `make demo`: the main job on an embedded default. Brings up the local control plane (built
# from source on first use), installs the CRDs and the example policies, shows them the way a
# user sees them, then runs the drop monitor on this host for a few seconds while a generator
# makes real drops, and prints what it found. Needs root for the kernel part.
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

step "Done"
echo "KUBECONFIG=$(bash hack/controlplane.sh kubeconfig)  (make cluster-down stops the control plane)"

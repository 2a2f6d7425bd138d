#!/usr/bin/env bash
# scripts/node.sh N — one cluster node (the Procfile's nodeN line): LiteFS mounts
# $CLUSTER_DIR/nodeN/mnt and, once the node is ready, execs dist/services/node/main.js
# (auth + enroll) with this environment. SIGINT/SIGTERM: LiteFS stops the services, then
# unmounts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"

n="${1:-}"
case "$n" in
  1 | 2 | 3) ;;
  *) echo "usage: scripts/node.sh 1|2|3" >&2; exit 2 ;;
esac

ensure_secrets

export NODE_NAME="node$n"
export LITEFS_MOUNT="$CLUSTER_DIR/node$n/mnt"
lp="LITEFS_PORT_$n" ag="AUTH_GRPC_PORT_$n" aj="AUTH_JWKS_PORT_$n" eg="ENROLL_GRPC_PORT_$n"
am="AUTH_METRICS_PORT_$n" em="ENROLL_METRICS_PORT_$n"
export LITEFS_API="http://127.0.0.1:${!lp}"
# Where this node's LiteFS reaches the primary's (a replica streams from it): node 1's
# API unless LITEFS_PRIMARY_URL_N is set (test/e2e/replica-lag.e2e.test.ts cuts node 2 off
# through a proxy there).
pu="LITEFS_PRIMARY_URL_$n"
export LITEFS_PRIMARY_URL="${!pu:-http://127.0.0.1:$LITEFS_PORT_1}"
# How long LiteFS keeps LTX files for replicas to replay, and how often it looks for old
# ones (LiteFS's own defaults; test/e2e/replica-lag.e2e.test.ts shortens both to make a
# replica catch up from a snapshot).
export LITEFS_RETENTION="${LITEFS_RETENTION:-10m}"
export LITEFS_RETENTION_MONITOR_INTERVAL="${LITEFS_RETENTION_MONITOR_INTERVAL:-1m}"
export AUTH_GRPC_ADDR="127.0.0.1:${!ag}"
export AUTH_JWKS_ADDR="127.0.0.1:${!aj}"
export ENROLL_GRPC_ADDR="127.0.0.1:${!eg}"
# Each service's Prometheus metrics (GET /metrics; docs/DESIGN.md, "Metrics").
export AUTH_METRICS_ADDR="127.0.0.1:${!am}"
export ENROLL_METRICS_ADDR="127.0.0.1:${!em}"
# The auth service's node-local socket: the user directory, for this node's enrollment
# service only (docs/DESIGN.md, "The enrollment service's copy of the users").
directory_socket="$CLUSTER_DIR/node$n/auth.sock"
if [ "${#directory_socket}" -gt 107 ]; then
  echo "node.sh: $directory_socket is longer than a Unix socket path may be (107 bytes): use a shorter CLUSTER_DIR" >&2
  exit 1
fi
export AUTH_DIRECTORY_ADDR="unix:$directory_socket"

if port_in_use "${!lp}"; then
  echo "node.sh: $NODE_NAME: port ${!lp} (LiteFS API) is in use: is this node already running?" >&2
  exit 1
fi

# A mount left behind by a killed LiteFS ("Transport endpoint is not connected"); it must
# go before anything touches the directory.
if grep -qs " $LITEFS_MOUNT fuse" /proc/self/mounts; then
  echo "node.sh: $NODE_NAME: unmounting a stale mount at $LITEFS_MOUNT"
  fusermount3 -uz "$LITEFS_MOUNT" || true
fi
mkdir -p "$LITEFS_MOUNT" "$CLUSTER_DIR/node$n/data"

command -v litefs >/dev/null || { echo "node.sh: litefs not found: run scripts/setup.sh" >&2; exit 1; }
cd "$REPO_DIR"
exec litefs mount -config "deploy/litefs/node$n.yml"

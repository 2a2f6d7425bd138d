#!/usr/bin/env bash
# scripts/envoy.sh — the front proxy (the Procfile's envoy line): 127.0.0.1:8080 for
# HTTP/JSON and gRPC (h2c), admin on 127.0.0.1:9901. Runs $CLUSTER_DIR/envoy.yaml: the
# committed deploy/envoy/envoy.yaml with JWKS_CACHE_S written in.
# --base-id keeps its hot-restart shared memory apart from any other Envoy on the machine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"
cd "$REPO_DIR"

command -v envoy >/dev/null || { echo "envoy.sh: envoy not found: run scripts/setup.sh" >&2; exit 1; }
[ -f deploy/envoy/envoy.yaml ] || { echo "envoy.sh: deploy/envoy/envoy.yaml is missing" >&2; exit 1; }
[ -f gen/api.pb ] || { echo "envoy.sh: gen/api.pb is missing: run scripts/setup.sh (or npm run gen)" >&2; exit 1; }
[ -f gen/request-fields.lua ] || { echo "envoy.sh: gen/request-fields.lua is missing: run scripts/setup.sh (or npm run build)" >&2; exit 1; }
# Worker threads: half the cores (at least one) unless ENVOY_CONCURRENCY says otherwise.
# Envoy shares the machine with six services and three LiteFS processes; on 2 cores one
# worker gave ~10 % more HTTP/JSON writes than Envoy's default of one per core (npm run
# bench -- --only 01,03, two A/B pairs), and the rush no less.
cores=$(nproc 2>/dev/null || echo 2)
concurrency=${ENVOY_CONCURRENCY:-$(( cores / 2 > 0 ? cores / 2 : 1 ))}
# The JWKS cache lifetime is JWKS_CACHE_S (cluster-env.sh), the same value the auth
# service plans its key rotation by: write it into a copy of the config in the cluster
# dir, in place of the committed file's 300s, and refuse to start if that line moved.
[[ "$JWKS_CACHE_S" =~ ^[1-9][0-9]*$ ]] || { echo "envoy.sh: JWKS_CACHE_S must be a whole number of seconds, got $JWKS_CACHE_S" >&2; exit 1; }
mkdir -p "$CLUSTER_DIR"
config="$CLUSTER_DIR/envoy.yaml"
sed "s/^\( *cache_duration: \)300s\$/\1${JWKS_CACHE_S}s/" deploy/envoy/envoy.yaml >"$config.tmp"
[ "$(grep -c "^ *cache_duration: ${JWKS_CACHE_S}s\$" "$config.tmp")" = 1 ] \
  || { echo "envoy.sh: deploy/envoy/envoy.yaml must have exactly one 'cache_duration: 300s' line (the JWKS cache)" >&2; exit 1; }
mv "$config.tmp" "$config"
exec envoy -c "$config" --base-id 17 --log-level warn --concurrency "$concurrency"

#!/usr/bin/env bash
# npm run status [-- --json]: how the running local cluster is, node by node (LiteFS
# role, each service's health, roles, TXID and lag) and as Envoy routes it; exit 0 when
# whole, 1 with each problem listed. See scripts/status.ts and lib/cluster-status.ts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"

[ -f "$REPO_DIR/dist/scripts/status.js" ] || { echo "status: not built: run npm run build (or npm start) first" >&2; exit 2; }
exec node "$REPO_DIR/dist/scripts/status.js" "$@"

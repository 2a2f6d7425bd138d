#!/usr/bin/env bash
# npm start: install/build (scripts/setup.sh), create the secrets once, then run the
# Procfile under foreman: three LiteFS nodes (each running auth + enroll) and Envoy.
# Ctrl-C stops everything: foreman signals each process group, LiteFS stops the services
# and unmounts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"

bash "$REPO_DIR/scripts/setup.sh"

for port in "$ENVOY_PORT" "$ENVOY_ADMIN_PORT" "$LITEFS_PORT_1" "$LITEFS_PORT_2" "$LITEFS_PORT_3"; do
  if port_in_use "$port"; then
    echo "start: port $port is already in use: a cluster is already running (stop it first: Ctrl-C in its terminal)" >&2
    exit 1
  fi
done

ensure_secrets
echo "start: cluster dir $CLUSTER_DIR"
if [ -n "${REGISTRAR_USERNAME:-}" ] && [ -n "${REGISTRAR_PASSWORD:-}" ]; then
  echo "start: registrar credentials: from REGISTRAR_USERNAME/REGISTRAR_PASSWORD in your environment"
else
  echo "start: registrar credentials: $SECRETS_DIR/registrar.env"
fi
echo "start: Envoy on http://127.0.0.1:$ENVOY_PORT (admin http://127.0.0.1:$ENVOY_ADMIN_PORT); Ctrl-C stops the cluster"

# -t: seconds foreman waits after SIGTERM before SIGKILL; LiteFS needs time to stop the
# services (they get up to 10 s) and unmount.
exec foreman start -f "$REPO_DIR/Procfile" -d "$REPO_DIR" -t 20

#!/usr/bin/env bash
# npm run backup [-- DIR] / npm run restore -- DIR: back up the running cluster's
# databases from the primary (node1) into DIR (default var/backups/<time>), or restore
# the backup in DIR into it. See scripts/backup.ts and lib/backup.ts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"

export LITEFS_API="http://127.0.0.1:$LITEFS_PORT_1"
export LITEFS_MOUNT="$CLUSTER_DIR/node1/mnt"
export BACKUP_ROOT="${BACKUP_ROOT:-$REPO_DIR/var/backups}"
[ -f "$REPO_DIR/dist/scripts/backup.js" ] || { echo "backup: not built: run npm run build (or npm start) first" >&2; exit 1; }
exec node "$REPO_DIR/dist/scripts/backup.js" "$@"

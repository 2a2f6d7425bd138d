#!/usr/bin/env bash
# npm run reset: delete the local cluster's state ($CLUSTER_DIR: databases, LiteFS data,
# secrets). Refuses while a LiteFS process of that cluster runs. Unmounts stale mounts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"

# LiteFS processes started by scripts/node.sh for this CLUSTER_DIR (found by environment).
running=()
for pid in $(pgrep -x litefs || true); do
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "CLUSTER_DIR=$CLUSTER_DIR"; then
    running+=("$pid")
  fi
done
if [ ${#running[@]} -gt 0 ]; then
  echo "reset: LiteFS is still running for $CLUSTER_DIR (pid ${running[*]})." >&2
  echo "reset: stop the cluster first: Ctrl-C in the terminal running npm start (or kill -TERM ${running[*]})." >&2
  exit 1
fi

for n in 1 2 3; do
  mnt="$CLUSTER_DIR/node$n/mnt"
  if grep -qs " $mnt fuse" /proc/self/mounts; then
    echo "reset: unmounting $mnt"
    fusermount3 -uz "$mnt"
  fi
done

if [ -e "$CLUSTER_DIR" ]; then
  rm -rf "$CLUSTER_DIR"
  echo "reset: removed $CLUSTER_DIR (databases, LiteFS data, secrets)"
else
  echo "reset: nothing to remove at $CLUSTER_DIR"
fi

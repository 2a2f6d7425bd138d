#!/usr/bin/env bash
# npm run bench: the benchmarks (bench/), never part of npm test.
#
#   bash scripts/bench.sh [--quick] [--only NN[,NN…]] [--mode batch|single] [--out DIR]
#
# 1. scripts/setup.sh (tools, npm ci when needed, build into dist/);
# 2. a Python venv with a pinned matplotlib, created once and reused:
#    $TOOLS_DIR/bench-venv-<matplotlib version>;
# 3. node dist/bench/run.js "$@" under an exclusive lock on the cluster ports
#    (flock $COURSE_CLUSTER_LOCK, default /tmp/course-cluster.lock: one cluster at a time
#    on this machine); set BENCH_LOCK_HELD=1 when the caller already holds it;
# 4. bench/chart.py on that run's JSON (bench/results/*.png for a full run).
# A full run rewrites bench/results/latest.{json,md,png} and the summary in bench/README.md;
# --quick/--only/--mode runs write under bench/results/raw/ (git-ignored).
set -euo pipefail

MATPLOTLIB_VERSION=3.11.2

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/course-registration/tools}"
LOCK="${COURSE_CLUSTER_LOCK:-/tmp/course-cluster.lock}"
cd "$REPO_DIR"

say() { echo "bench: $*"; }

bash scripts/setup.sh

venv="$TOOLS_DIR/bench-venv-$MATPLOTLIB_VERSION"
if "$venv/bin/python" -c "import matplotlib, sys; sys.exit(matplotlib.__version__ != '$MATPLOTLIB_VERSION')" 2>/dev/null; then
  say "matplotlib $MATPLOTLIB_VERSION already in $venv, reusing"
else
  command -v python3 >/dev/null || { echo "bench: python3 (>= 3.10, with venv) is needed for the charts" >&2; exit 1; }
  say "creating $venv with matplotlib $MATPLOTLIB_VERSION"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "matplotlib==$MATPLOTLIB_VERSION"
fi

# The tools setup.sh linked (envoy/litefs versions are recorded with the results).
export PATH="$REPO_DIR/.tools/bin:$PATH"
export ENVOY_BIN="${ENVOY_BIN:-$REPO_DIR/.tools/bin/envoy}"
export LITEFS_BIN="${LITEFS_BIN:-$REPO_DIR/.tools/bin/litefs}"

rc=0
if [ "${BENCH_LOCK_HELD:-}" = 1 ]; then
  node dist/bench/run.js "$@" || rc=$?
else
  say "waiting for the cluster lock $LOCK"
  flock "$LOCK" node dist/bench/run.js "$@" || rc=$?
fi

last="bench/results/raw/last-run"
if [ -f "$last" ]; then
  json="$(sed -n 1p "$last")"
  out="$(sed -n 2p "$last")"
  "$venv/bin/python" bench/chart.py "$json" "$out" || { say "chart failed"; rc=${rc:-1}; [ "$rc" -ne 0 ] || rc=1; }
fi
exit "$rc"

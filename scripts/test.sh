#!/usr/bin/env bash
# npm test (and CI): install/build, then run every compiled test file with node's test
# runner, one file at a time (the end-to-end tests share one set of ports).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

# node 20's --test takes files, not directory globs: collect them. A compiled test whose
# .ts source is gone (renamed, deleted) is left out: tsc never removes old output.
files=()
while IFS= read -r js; do
  src="${js#dist/}"
  [ -f "${src%.js}.ts" ] && files+=("$js")
done < <(find dist/services dist/lib dist/bench dist/test -name '*.test.js' -type f 2>/dev/null | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "test: no compiled test files under dist/{services,lib,bench,test}" >&2
  exit 1
fi
echo "test: ${#files[@]} test files"

# The tools setup.sh linked, for tests that run them directly (e.g. `envoy --mode validate`).
export PATH="$PWD/.tools/bin:$PATH"
export ENVOY_BIN="${ENVOY_BIN:-$PWD/.tools/bin/envoy}"
export LITEFS_BIN="${LITEFS_BIN:-$PWD/.tools/bin/litefs}"

rc=0
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" || rc=$?
exit "$rc"

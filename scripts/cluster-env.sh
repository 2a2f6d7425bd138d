# Sourced (not run) by scripts/node.sh, envoy.sh, start.sh, reset.sh: the names, ports and
# variables of the local cluster, as docs/DESIGN.md fixes them. Every value can be
# overridden from the environment; the LiteFS configs read CLUSTER_DIR, REPO_DIR,
# LITEFS_PORT_N and, on the replicas, LITEFS_PRIMARY_URL (node.sh sets it from
# LITEFS_PRIMARY_URL_N, else node 1's API), but deploy/envoy/envoy.yaml has the service
# ports written in, so change those only together with it.
#
# Functions: ensure_secrets (create the secrets once, never overwrite).

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_DIR
export CLUSTER_DIR="${CLUSTER_DIR:-$REPO_DIR/var/cluster}"
export PATH="$REPO_DIR/.tools/bin:$REPO_DIR/node_modules/.bin:$PATH"

# Ports (all on 127.0.0.1). Node N: LiteFS API 2020N, auth gRPC 710N, auth JWKS 711N,
# auth metrics 712N, enroll gRPC 720N, enroll metrics 722N.
for _n in 1 2 3; do
  export "LITEFS_PORT_$_n=$(eval "echo \${LITEFS_PORT_$_n:-$((20200 + _n))}")"
  export "AUTH_GRPC_PORT_$_n=$(eval "echo \${AUTH_GRPC_PORT_$_n:-$((7100 + _n))}")"
  export "AUTH_JWKS_PORT_$_n=$(eval "echo \${AUTH_JWKS_PORT_$_n:-$((7110 + _n))}")"
  export "ENROLL_GRPC_PORT_$_n=$(eval "echo \${ENROLL_GRPC_PORT_$_n:-$((7200 + _n))}")"
  export "AUTH_METRICS_PORT_$_n=$(eval "echo \${AUTH_METRICS_PORT_$_n:-$((7120 + _n))}")"
  export "ENROLL_METRICS_PORT_$_n=$(eval "echo \${ENROLL_METRICS_PORT_$_n:-$((7220 + _n))}")"
done
unset _n
export ENVOY_PORT="${ENVOY_PORT:-8080}"
export ENVOY_ADMIN_PORT="${ENVOY_ADMIN_PORT:-9901}"

# Where a replica forwards writes: looked up by the primary's hostname (nodeN).
export AUTH_PEERS="${AUTH_PEERS:-node1=127.0.0.1:$AUTH_GRPC_PORT_1,node2=127.0.0.1:$AUTH_GRPC_PORT_2,node3=127.0.0.1:$AUTH_GRPC_PORT_3}"
export ENROLL_PEERS="${ENROLL_PEERS:-node1=127.0.0.1:$ENROLL_GRPC_PORT_1,node2=127.0.0.1:$ENROLL_GRPC_PORT_2,node3=127.0.0.1:$ENROLL_GRPC_PORT_3}"

export JWT_ISSUER="${JWT_ISSUER:-course-registration-auth}"
export JWT_AUDIENCE="${JWT_AUDIENCE:-course-registration}"
# How long Envoy (envoy.sh writes it into the config) and the enrollment service keep the
# JWKS; the auth service publishes every signing key at least this long before it signs.
export JWKS_CACHE_S="${JWKS_CACHE_S:-300}"

# Secrets live outside the repo's tracked files, in the cluster dir (mode 700).
export SECRETS_DIR="$CLUSTER_DIR/secrets"
if [ -z "${AUTH_KEY_ENCRYPTION_KEY:-}" ]; then
  export AUTH_KEY_ENCRYPTION_KEY_FILE="${AUTH_KEY_ENCRYPTION_KEY_FILE:-$SECRETS_DIR/kek.hex}"
fi

# _random_hex BYTES: hex from a CSPRNG (openssl, else node's crypto).
_random_hex() {
  if command -v openssl >/dev/null; then
    openssl rand -hex "$1"
  else
    node -e "process.stdout.write(require('crypto').randomBytes($1).toString('hex') + '\n')"
  fi
}

# _create_once FILE: write stdin to FILE (mode 600) unless FILE exists. Atomic and
# race-free (a hard link never replaces a file), so three nodes starting at once agree.
_create_once() {
  local file="$1" tmp
  [ -e "$file" ] && { cat >/dev/null; return 0; }
  tmp="$(mktemp "$file.XXXXXX")"
  chmod 600 "$tmp"
  cat >"$tmp"
  ln "$tmp" "$file" 2>/dev/null || true
  rm -f "$tmp"
}

# ensure_secrets: create $SECRETS_DIR with kek.hex (key-encryption key, 32 random bytes as
# hex) and registrar.env (the first registrar's credentials, random password) if absent.
# Never overwrites. When the user gives REGISTRAR_USERNAME and REGISTRAR_PASSWORD in the
# environment, those are used and no registrar.env is written.
ensure_secrets() {
  (umask 077 && mkdir -p "$SECRETS_DIR")
  chmod 700 "$SECRETS_DIR"
  if [ -z "${AUTH_KEY_ENCRYPTION_KEY:-}" ] && [ ! -e "$AUTH_KEY_ENCRYPTION_KEY_FILE" ]; then
    _random_hex 32 | _create_once "$AUTH_KEY_ENCRYPTION_KEY_FILE"
  fi
  if [ -z "${REGISTRAR_USERNAME:-}" ] || [ -z "${REGISTRAR_PASSWORD:-}" ]; then
    printf 'REGISTRAR_USERNAME=%s\nREGISTRAR_PASSWORD=%s\n' \
      "${REGISTRAR_USERNAME:-registrar}" "$(_random_hex 18)" | _create_once "$SECRETS_DIR/registrar.env"
  fi
}

# The first registrar's credentials, for the auth service to read (services/auth/secrets.ts):
# REGISTRAR_USERNAME and REGISTRAR_PASSWORD from the environment win; whatever is not set
# there comes from this file, so by default no process's environment holds the password.
export REGISTRAR_FILE="${REGISTRAR_FILE:-$SECRETS_DIR/registrar.env}"

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

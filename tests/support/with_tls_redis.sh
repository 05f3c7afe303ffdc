#!/usr/bin/env bash
# Runs a Redis GoogleTest suite once more with both of its servers over TLS: a single node and a
# 3-master cluster started by `scripts/servers/start --tls` (their TLS ports only, certificates
# from a throwaway CA), reached as rediss:// and rediss-cluster:// with that CA. The suite reads
# REDIS_URL and REDIS_CLUSTER_NODES (tests/support/server_env.hpp), so every test it has runs
# over the OpenSSL stream of src/adapters/redis/redis_connection.cpp instead of hiredis's socket.
#
# Usage: tests/support/with_tls_redis.sh SUITE_BINARY [gtest arguments...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
suite=${1:?usage: with_tls_redis.sh SUITE_BINARY [gtest arguments...]}
shift
dir=$(mktemp -d /tmp/scrutin-redis-tls.XXXXXX)
cleanup() {
  "$root/scripts/servers/stop" "$dir" >/dev/null 2>&1 || true
  [[ "${SCRUTIN_KEEP_TMP:-}" == 1 ]] || rm -rf "$dir"
}
trap cleanup EXIT
"$root/scripts/servers/start" --tls redis "$dir" >/dev/null
"$root/scripts/servers/start" --tls redis-cluster "$dir" >/dev/null
REDIS_URL=$(sed -n 's/^REDIS_URL=//p' "$dir/redis/env")
REDIS_CLUSTER_NODES=$(sed -n 's/^REDIS_CLUSTER_URL=//p' "$dir/redis-cluster/env")
[[ $REDIS_URL == rediss://* && $REDIS_CLUSTER_NODES == rediss-cluster://* ]] || {
  echo "with_tls_redis: the servers did not come up over TLS" >&2
  exit 1
}
echo "with_tls_redis: $REDIS_URL and $REDIS_CLUSTER_NODES"
export REDIS_URL REDIS_CLUSTER_NODES
"$suite" "$@"

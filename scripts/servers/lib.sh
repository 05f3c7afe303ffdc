# Shared helpers of scripts/servers/start, stop and smoke (sourced, not run).
#
# Layout of a server directory DIR (one subdirectory per kind started in it):
#   DIR/<kind>/env    the KEY=VALUE lines `start` printed (what tests read)
#   DIR/<kind>/pids   one "<role> <pid>" line per process to stop, written as each one starts
#   DIR/<kind>/...    the server's own data, configuration and log files
# Everything is stopped by PID; nothing is ever stopped by name.

SERVERS_KINDS="pg redis redis-cluster rmq nginx"

log() { echo "servers: $*" >&2; }
die() {
  echo "servers: error: $*" >&2
  exit 1
}

# Canonical kind name for the accepted aliases.
canonical_kind() {
  case "$1" in
    pg | postgres | postgresql) echo pg ;;
    redis) echo redis ;;
    redis-cluster | cluster) echo redis-cluster ;;
    rmq | rabbitmq | rabbit) echo rmq ;;
    nginx) echo nginx ;;
    *) return 1 ;;
  esac
}

# True while PID names a live process. A zombie counts as gone: PID 1 here does not reap orphans.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

# wait_gone PID SECONDS: true once PID is gone, false when the time runs out.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# True when something listens on 127.0.0.1:PORT (or on any address at that port).
port_in_use() {
  [[ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]]
}

# pick_port LOW HIGH [OFFSET...]: prints a port P in [LOW, HIGH) such that P and every P+OFFSET are
# free. Ports below 32768 stay clear of Linux's default ephemeral range. A race with another
# process is still possible: callers retry when the server fails to bind.
pick_port() {
  local low=$1 high=$2
  shift 2
  local p offset ok tries
  for ((tries = 0; tries < 200; tries++)); do
    p=$((low + (RANDOM * 32768 + RANDOM) % (high - low)))
    ok=1
    for offset in 0 "$@"; do
      if port_in_use $((p + offset)); then
        ok=0
        break
      fi
    done
    if ((ok)); then
      echo "$p"
      return 0
    fi
  done
  die "no free port found in [$low, $high)"
}

# Records a process to stop later.
record_pid() {  # DIR ROLE PID
  echo "$2 $3" >>"$1/pids"
}

# Prints the last lines of a log file to stderr, for failure messages.
log_tail() {
  local f=$1
  if [[ -f "$f" ]]; then
    echo "---- last lines of $f ----" >&2
    tail -n "${2:-25}" "$f" >&2
    echo "----" >&2
  else
    echo "(no log file at $f)" >&2
  fi
}

# Pid of the process listening on 127.0.0.1:PORT, from ss (empty when unknown).
listener_pid() {
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}

random_hex() {  # BYTES
  od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# ---- TLS: a throwaway certificate authority for the servers of one DIR ------------------------

# tls_ca TOP: creates TOP/tls/ca.pem and ca.key (P-256, valid 30 days) unless they exist, so every
# server started in TOP with --tls, and every client, trusts the same CA. Prints the CA file.
tls_ca() {
  local d="$1/tls"
  mkdir -p "$d"
  chmod 755 "$d"
  # Servers of one DIR may start in parallel (scripts/cluster): one creates the CA, under a lock.
  (
    flock 9
    if [[ ! -s "$d/ca.pem" ]]; then
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
        -out "$d/ca.tmp" -days 30 -subj "/CN=scrutin throwaway CA $(random_hex 4)" \
        >"$d/ca.log" 2>&1 || { log_tail "$d/ca.log"; exit 1; }
      chmod 600 "$d/ca.key"
      chmod 644 "$d/ca.tmp"
      mv "$d/ca.tmp" "$d/ca.pem"
    fi
  ) 9>"$d/ca.lock" || die "openssl could not create the test CA in $d"
  echo "$d/ca.pem"
}

# tls_issue TOP NAME: a server certificate for 127.0.0.1 and localhost signed by TOP's CA:
# TOP/tls/NAME.pem (the certificate followed by the CA: a chain), TOP/tls/NAME.crt (alone) and
# TOP/tls/NAME.key (mode 600). Issued once per TOP and NAME.
tls_issue() {
  local top=$1 name=$2 d="$1/tls"
  [[ ! -s "$d/$name.pem" ]] || return 0  # issued already (the nodes of one cluster share it)
  tls_ca "$top" >/dev/null
  # The CA's serial file is shared: one issue at a time.
  exec 8>"$d/issue.lock"
  flock 8
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
    >"$d/$name.ext"
  { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$name.key" \
      -out "$d/$name.csr" -subj "/CN=$name" &&
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -days 30 -extfile "$d/$name.ext" -out "$d/$name.crt"; } >"$d/$name.log" 2>&1 ||
    { log_tail "$d/$name.log"; die "openssl could not issue the certificate $name"; }
  cat "$d/$name.crt" "$d/ca.pem" >"$d/$name.pem"
  chmod 600 "$d/$name.key"
  flock -u 8
  exec 8>&-
}

# ---- Redis helpers (start, restart) --------------------------------------------------------------

# redis_node_port NODE_DIR: the port clients use (the TLS port of a --tls node).
redis_node_port() {
  if [[ -s "$1/port" ]]; then cat "$1/port"; else sed -n 's/.*--port \([0-9]*\).*/\1/p' "$1/redis.args"; fi
}

# redis_node_cli NODE_DIR ARGS...: redis-cli on that node (over TLS for a --tls node).
redis_node_cli() {
  local nd=$1 flags=()
  shift
  [[ ! -s "$nd/cli.flags" ]] || read -r -a flags <"$nd/cli.flags"
  redis-cli "${flags[@]}" -h 127.0.0.1 -p "$(redis_node_port "$nd")" "$@"
}

# ---- PostgreSQL 15 helpers (start, restart, pg-backup) ----------------------------------------

pg_bin=/usr/lib/postgresql/15/bin

# Runs a command as the postgres user when we are root (PostgreSQL refuses to run as root).
as_pg() {
  if (($(id -u) == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The durable settings (`start --durable`, kept by `restart`).
# Redis: an append-only file fsynced once a second, plus RDB snapshots (the AOF's preamble and a
# dump.rdb), both in the node's --dir. `-- --appendfsync always` on start's command line overrides
# the fsync policy (later arguments win in redis-server).
REDIS_DURABLE_ARGS=(--appendonly yes --appendfsync everysec --appenddirname appendonlydir
  --save "3600 1 300 100 60 10000")
# PostgreSQL: WAL segments archived to TOP/pg-archive (outside TOP/pg, so that losing the data
# directory keeps them), copied under a temporary name, fsynced, then renamed: a crash mid-copy
# never leaves a truncated segment under its final name, which `test ! -f` would then refuse to
# replace. archive_timeout bounds how long a committed vote stays only in the current segment.
pg_archive_command() {  # ARCHIVE_DIR
  local a=$1
  printf "test ! -f '%s/%%f' && cp %%p '%s/%%f.tmp' && sync '%s/%%f.tmp' && mv '%s/%%f.tmp' '%s/%%f' && sync '%s'" \
    "$a" "$a" "$a" "$a" "$a" "$a"
}

# pg_clear_stale_locks DATA SOCKET_DIR PORT: a postmaster killed -9 leaves DATA/postmaster.pid and
# SOCKET_DIR/.s.PGSQL.PORT.lock behind naming its PID, which lingers here as a zombie (PID 1 does
# not reap) that PostgreSQL takes for a live server. Removes them when that PID is gone; fails when
# it still runs.
pg_clear_stale_locks() {
  local f pid
  for f in "$1/postmaster.pid" "$2/.s.PGSQL.$3.lock"; do
    [[ -f "$f" ]] || continue
    pid=$(head -n 1 "$f")
    if [[ -n "$pid" ]] && alive "$pid"; then
      log "a postmaster (pid $pid) still runs ($f)"
      return 1
    fi
    rm -f "$f"
  done
}

# pg_ensure_socket_dir DIR: the Unix socket directory exists and belongs to postgres (a short one
# under /tmp, used when DIR/pg is deep, is removed by stop).
pg_ensure_socket_dir() {
  [[ -d "$1" ]] && return 0
  mkdir -p "$1"
  (($(id -u) != 0)) || chown postgres:postgres "$1"
}

# ---- RabbitMQ 3.10 helpers (start, restart) -----------------------------------------------------

# rmq_boot DIR NODE EPMD_PORT: boots the node described by DIR/ctl.env (its mnesia directory keeps
# the durable queues and their messages across a restart) and waits until it has finished booting.
# Sets rmq_pid (the Erlang VM) and rmq_epmd_pid (epmd, which outlives the node; empty when unknown)
# and records both in DIR/pids as soon as they are known, so that a failed boot is still stopped.
rmq_boot() {
  local dir=$1 node=$2 epmd=$3
  rm -f "$dir/rabbitmq.pid"
  # shellcheck disable=SC1091
  (
    source "$dir/ctl.env"
    cd "$dir"
    rabbitmq-server -detached >"$dir/detached.log" 2>&1
  ) || {
    log_tail "$dir/detached.log"
    die "rabbitmq-server -detached failed"
  }
  # -detached returns before the node exists and await_startup fails at once until it does:
  # poll ping first (each call boots an Erlang VM, so not too often), then await_startup.
  local deadline=$((SECONDS + 60))
  rmq_pid="" rmq_epmd_pid=""
  while :; do
    if [[ -z "$rmq_pid" && -s "$dir/rabbitmq.pid" ]]; then
      rmq_pid=$(<"$dir/rabbitmq.pid")
      record_pid "$dir" rabbitmq "$rmq_pid"
    fi
    if [[ -z "$rmq_epmd_pid" ]]; then
      rmq_epmd_pid=$(listener_pid "$epmd")
      [[ -z "$rmq_epmd_pid" ]] || record_pid "$dir" epmd "$rmq_epmd_pid"
    fi
    if (source "$dir/ctl.env" && rabbitmqctl -n "$node" -q ping) >/dev/null 2>&1; then break; fi
    if ((SECONDS >= deadline)); then
      log_tail "$dir/log/$node.log"
      die "RabbitMQ node $node did not answer ping within 60 s"
    fi
    if [[ -n "$rmq_pid" ]] && ! alive "$rmq_pid"; then
      log_tail "$dir/log/$node.log"
      die "RabbitMQ node $node exited during start-up"
    fi
    sleep 0.5
  done
  if ! (source "$dir/ctl.env" && rabbitmqctl -n "$node" -q await_startup --timeout 60) \
    >"$dir/await.log" 2>&1; then
    log_tail "$dir/await.log"
    log_tail "$dir/log/$node.log"
    die "RabbitMQ node $node did not finish booting"
  fi
  if [[ -z "$rmq_pid" ]]; then
    rmq_pid=$(<"$dir/rabbitmq.pid")
    record_pid "$dir" rabbitmq "$rmq_pid"
  fi
  if [[ -z "$rmq_epmd_pid" ]]; then
    rmq_epmd_pid=$(listener_pid "$epmd")
    [[ -z "$rmq_epmd_pid" ]] || record_pid "$dir" epmd "$rmq_epmd_pid"
  fi
}

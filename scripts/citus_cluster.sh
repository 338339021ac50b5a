#!/usr/bin/env bash
# A Citus cluster on loopback for development and tests: a coordinator and N workers (default
# 2), each an ordinary PostgreSQL 15 cluster made with initdb and run by the `postgres` OS user,
# with shared_preload_libraries = 'citus'. Data and logs under $CITUS_DIR (default var/citus).
#
#   scripts/citus_cluster.sh start      # initdb (first time), start, CREATE EXTENSION citus, join the workers
#   scripts/citus_cluster.sh status     # which nodes run, on which ports; the coordinator's node list
#   scripts/citus_cluster.sh stop       # stops exactly the servers this script started (their pid files)
#   scripts/citus_cluster.sh add-worker # one more worker on the next port (the rebalance drill)
#   scripts/citus_cluster.sh url        # the coordinator's DATABASE_URL
#
# Ports: CITUS_PORT (default 9700) is the coordinator, workers take the next ones. Database:
# CITUS_DB (default central_logger), created on every node; the connecting role is `root`
# (trust on loopback only: a development cluster, never a production one).
# Needs the Citus extension installed (/work/shared/citus/build.sh or your package).
set -euo pipefail
cd "$(dirname "$0")/.."

CITUS_DIR=${CITUS_DIR:-$PWD/var/citus}
CITUS_PORT=${CITUS_PORT:-9700}
CITUS_WORKERS=${CITUS_WORKERS:-2}
CITUS_DB=${CITUS_DB:-central_logger}
CITUS_USER=${CITUS_USER:-root}
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")}

as_pg() {
  # The servers run as `postgres` (PostgreSQL refuses to run as root); the script may be run by
  # root (CI) or by postgres itself.
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

nodes() {  # every node directory that exists: coordinator first, then workers by number
  [ -d "$CITUS_DIR/coordinator" ] && echo coordinator
  local n
  for n in $(ls "$CITUS_DIR" 2>/dev/null | sed -n 's/^worker\([0-9][0-9]*\)$/\1/p' | sort -n); do echo "worker$n"; done
}

port_of() { cat "$CITUS_DIR/$1/port"; }

running() { as_pg "$BIN/pg_ctl" status -D "$CITUS_DIR/$1/data" >/dev/null 2>&1; }

sql() {  # sql PORT DB STATEMENT
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$CITUS_USER" -d "$2" -c "$3"
}

init_node() {  # init_node NAME PORT
  local dir="$CITUS_DIR/$1"
  [ -f "$dir/data/PG_VERSION" ] && return 0
  mkdir -p "$dir"
  chown postgres: "$dir" 2>/dev/null || true
  as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  cat >>"$dir/data/postgresql.conf" <<EOF
# scripts/citus_cluster.sh
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
shared_buffers = 128MB
fsync = ${CITUS_FSYNC:-on}
wal_level = logical                # shard moves use logical replication
max_replication_slots = 20
max_wal_senders = 20
citus.enable_unsafe_triggers = on  # the log table's statement triggers run on its shards (logs/tenant_sql/citus.py)
EOF
  echo "$2" >"$dir/port"
}

start_node() {  # start_node NAME
  local dir="$CITUS_DIR/$1" port
  port=$(port_of "$1")
  if running "$1"; then allow_citus_decoding "$port"; return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken by another server: set CITUS_PORT" >&2; exit 1
  fi
  as_pg "$BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" >/dev/null
  as_pg psql -X -q -h "$dir" -p "$port" -d postgres -c \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$CITUS_USER') THEN CREATE ROLE $CITUS_USER SUPERUSER LOGIN; END IF; END \$\$" >/dev/null
  if [ -z "$(sql "$port" postgres "SELECT 1 FROM pg_database WHERE datname = '$CITUS_DB'")" ]; then
    sql "$port" postgres "CREATE DATABASE $CITUS_DB" >/dev/null
  fi
  sql "$port" "$CITUS_DB" "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
  allow_citus_decoding "$port"
}

allow_citus_decoding() {  # allow_citus_decoding PORT
  # PostgreSQL 15.20 and later allow only the logical decoding plugins listed in
  # output_plugin_libraries (default pgoutput, test_decoding); Citus's shard moves and splits
  # (rebalance, isolate_tenant_to_new_shard) decode through its own plugin, `citus`.
  local plugins
  plugins=$(sql "$1" postgres "SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'")
  if [ -n "$plugins" ] && ! grep -qw citus <<<"$plugins"; then
    sql "$1" postgres "ALTER SYSTEM SET output_plugin_libraries = $plugins, citus" >/dev/null
    sql "$1" postgres "SELECT pg_reload_conf()" >/dev/null
  fi
}

join_workers() {
  local coord node
  coord=$(port_of coordinator)
  sql "$coord" "$CITUS_DB" "SELECT citus_set_coordinator_host('127.0.0.1', $coord)" >/dev/null
  for node in $(nodes | grep worker); do
    sql "$coord" "$CITUS_DB" "SELECT citus_add_node('127.0.0.1', $(port_of "$node"))
      WHERE NOT EXISTS (SELECT FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = $(port_of "$node"))" >/dev/null
  done
}

cmd_start() {
  mkdir -p "$CITUS_DIR"
  init_node coordinator "$CITUS_PORT"
  local i
  for i in $(seq 1 "$CITUS_WORKERS"); do init_node "worker$i" $((CITUS_PORT + i)); done
  for node in $(nodes); do start_node "$node"; done
  join_workers
  cmd_status
}

cmd_add_worker() {
  local last next
  last=$(nodes | sed -n 's/^worker//p' | sort -n | tail -1)
  next=$((last + 1))
  init_node "worker$next" $((CITUS_PORT + next))
  start_node "worker$next"
  echo "worker$next 127.0.0.1:$((CITUS_PORT + next))"
}

cmd_stop() {
  local node
  # The coordinator first: it stops sending work (and its maintenance daemon's connections) to
  # the workers, which then shut down at once.
  for node in $(nodes); do
    if running "$node"; then
      # A backend busy in a long Citus call can hold a fast shutdown up: then immediate (the
      # next start recovers from the WAL), so that stop never leaves a server running.
      as_pg "$BIN/pg_ctl" stop -w -t 60 -m fast -D "$CITUS_DIR/$node/data" >/dev/null 2>&1 ||
        as_pg "$BIN/pg_ctl" stop -w -t 60 -m immediate -D "$CITUS_DIR/$node/data" >/dev/null
    fi
  done
  echo "stopped"
}

cmd_status() {
  local node state=0
  for node in $(nodes); do
    if running "$node"; then echo "$node 127.0.0.1:$(port_of "$node") running"
    else echo "$node 127.0.0.1:$(port_of "$node") stopped"; state=3; fi
  done
  [ -z "$(nodes)" ] && { echo "no cluster under $CITUS_DIR"; return 3; }
  if running coordinator; then
    sql "$(port_of coordinator)" "$CITUS_DB" \
      "SELECT 'node ' || nodename || ':' || nodeport || CASE WHEN groupid = 0 THEN ' (coordinator)' ELSE '' END FROM pg_dist_node ORDER BY groupid"
  fi
  return $state
}

cmd_url() { echo "postgres://$CITUS_USER@127.0.0.1:$(port_of coordinator)/$CITUS_DB"; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  add-worker) cmd_add_worker ;;
  url) cmd_url ;;
  *) echo "usage: $0 start|stop|status|add-worker|url" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, the end-to-end script and benchmarks.
#   scripts/pg-cluster.sh start DIR   creates and starts a cluster in DIR on a free loopback port (another, 3 in all,
#                                     when a port is taken before the server binds it); prints its URL
#                                     (postgres://postgres:<random password>@127.0.0.1:<port>/postgres) and writes it to DIR/url
#   scripts/pg-cluster.sh stop DIR    stops it (DIR is left for the caller to remove)
#   scripts/pg-cluster.sh resume DIR  starts a stopped cluster again on the same port
# A server that does not start leaves nothing running, and the end of its log is printed.
# Uses PostgreSQL 15 from Debian's packages (PG_BIN overrides the binaries' folder). For scripts/citus-cluster.sh:
# PG_PASSWORD fixes the password (default: random) and PG_SERVER_OPTIONS adds server options (kept for resume).
# PG_CLUSTER_OWNER_PID: the cluster stops, and DIR is deleted, once that process has ended (the tests set it).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command=${1:?usage: pg-cluster.sh start|stop|resume DIR}
dir=${2:?usage: pg-cluster.sh start|stop|resume DIR}

# initdb refuses to run as root: run the server as the 'postgres' user when we are root.
as_owner() {
  # From / : the caller's folder may not be readable by 'postgres'.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Starts the server on port $1 (60 s at most: it starts in under a second even on a busy machine). On failure it leaves
# no server running, and returns 2 when the port was taken (another process bound it after free_port), else 1.
start_server() {
  local logged
  logged=$(stat -c %s "$dir/server.log" 2>/dev/null || echo 0)
  if as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $1 -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 -c fsync=on $(cat "$dir/server-options" 2>/dev/null)" start >/dev/null; then
    return 0
  fi
  # pg_ctl gives up waiting but leaves a slow server starting: stop it.
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  if tail -c "+$((logged + 1))" "$dir/server.log" 2>/dev/null | grep -q 'could not create any TCP/IP sockets'; then
    return 2
  fi
  return 1
}

# Says why the server did not start: the test command deletes DIR, and with it the log.
did_not_start() {
  echo "pg-cluster.sh: the server in $dir did not start on port $1; the end of its log:" >&2
  tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
  exit 1
}

case "$command" in
  start)
    [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL binaries not found in $PG_BIN (apt-get install postgresql)" >&2; exit 1; }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    password=${PG_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}
    printf '%s\n' "${PG_SERVER_OPTIONS:-}" > "$dir/server-options"
    printf '%s\n' "$password" > "$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pwfile"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" -A scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log"
    rm -f "$dir/pwfile"
    # A few ports at most: on a shared machine another process may bind the free port before the server does.
    for attempt in 1 2 3; do
      port=$(free_port)
      status=0
      start_server "$port" || status=$?
      [ "$status" -eq 0 ] && break
      if [ "$status" -ne 2 ] || [ "$attempt" -eq 3 ]; then did_not_start "$port"; fi
      echo "pg-cluster.sh: port $port was taken; trying another" >&2
    done
    url="postgres://postgres:$password@127.0.0.1:$port/postgres"
    printf '%s\n' "$url" > "$dir/url"
    # A test host can be ended before its exit handlers stop its clusters (they were left running by the dozen): with
    # PG_CLUSTER_OWNER_PID set, a detached watcher stops the server and deletes DIR once that process is gone.
    if [ -n "${PG_CLUSTER_OWNER_PID:-}" ]; then
      self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
      # shellcheck disable=SC2016 # expanded by the watcher's own shell
      setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; bash "$2" stop "$3"; rm -rf "$3"' \
        watcher "$PG_CLUSTER_OWNER_PID" "$self" "$dir" </dev/null >/dev/null 2>&1 &
    fi
    echo "$url"
    ;;
  resume)
    port=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
    start_server "$port" || did_not_start "$port"
    cat "$dir/url"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: pg-cluster.sh start|stop|resume DIR" >&2; exit 2
    ;;
esac

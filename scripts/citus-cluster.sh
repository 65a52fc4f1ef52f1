#!/usr/bin/env bash
# A throwaway Citus cluster on this machine for tests, the end-to-end script and benchmarks: a coordinator and two
# workers, each a scripts/pg-cluster.sh cluster in DIR/coordinator, DIR/worker1, DIR/worker2.
#   scripts/citus-cluster.sh start DIR    creates and starts the three nodes on free loopback ports; prints the
#                                         coordinator's URL (postgres://postgres:<random password>@127.0.0.1:<port>/postgres),
#                                         usable as DATABASE_URL, and writes it to DIR/url; a cluster that does
#                                         not come up whole is stopped, and the reason printed
#   scripts/citus-cluster.sh stop DIR     stops the three nodes (DIR is left for the caller to remove)
#   scripts/citus-cluster.sh resume DIR   starts them again on the same ports
# One node alone: scripts/pg-cluster.sh stop|resume DIR/worker1.
# Needs the Citus extension in PostgreSQL 15: ../shared/citus/install.sh (beside this repository) builds and installs it.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

command=${1:?usage: citus-cluster.sh start|stop|resume DIR}
dir=${2:?usage: citus-cluster.sh start|stop|resume DIR}
workers=(worker1 worker2)

sql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$1" -c "$2"; }
port_of() { sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/$1/url"; }

case "$command" in
  start)
    if [ ! -f "$PG_BIN/../lib/citus.so" ]; then
      echo "Citus is not installed in $PG_BIN/..: run ../shared/citus/install.sh (as root; about 2 minutes, once)" >&2
      exit 1
    fi
    mkdir -p "$dir"
    # The servers run as 'postgres' when we are root (see pg-cluster.sh): they need to reach their folders.
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    # One password for every node: the coordinator reaches the workers with it (pg_dist_authinfo below).
    password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    # A cluster that did not come up whole is stopped, so that no caller leaves its nodes running; what went wrong
    # (pg-cluster.sh prints a node's log, psql the error) is above this line.
    started=()
    failed() {
      echo "citus-cluster.sh: no cluster in $dir: $1" >&2
      for node in "${started[@]}"; do "$here/pg-cluster.sh" stop "$dir/$node" >/dev/null 2>&1 || true; done
      exit 1
    }
    for node in coordinator "${workers[@]}"; do
      # Citus commits across nodes with two-phase commit, hence prepared transactions; it runs a maintenance worker
      # process per database (the tests create many).
      PG_PASSWORD=$password PG_SERVER_OPTIONS="-c shared_preload_libraries=citus -c max_prepared_transactions=200 -c max_worker_processes=32" \
        "$here/pg-cluster.sh" start "$dir/$node" >/dev/null || failed "the $node did not start"
      started+=("$node")
      sql "$(cat "$dir/$node/url")" "CREATE EXTENSION citus;
        INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, 'postgres', 'password=$password');" ||
        failed "Citus could not be set up on the $node"
    done
    url=$(cat "$dir/coordinator/url")
    sql "$url" "SELECT citus_set_coordinator_host('127.0.0.1', $(port_of coordinator));" >/dev/null ||
      failed "the coordinator could not be registered"
    for node in "${workers[@]}"; do
      sql "$url" "SELECT citus_add_node('127.0.0.1', $(port_of "$node"));" >/dev/null || failed "the $node could not be added"
    done
    printf '%s\n' "$url" > "$dir/url"
    echo "$url"
    ;;
  resume)
    for node in coordinator "${workers[@]}"; do "$here/pg-cluster.sh" resume "$dir/$node" >/dev/null; done
    cat "$dir/url"
    ;;
  stop)
    for node in "${workers[@]}" coordinator; do "$here/pg-cluster.sh" stop "$dir/$node"; done
    ;;
  *)
    echo "usage: citus-cluster.sh start|stop|resume DIR" >&2; exit 2
    ;;
esac

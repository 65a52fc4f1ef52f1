#!/usr/bin/env bash
# The read benchmark of issue 12: the user API under load once a data set is loaded.
#   bench/reads.sh S|M|L
# For each backend (BENCH_READ_TARGETS, default "postgres sqlite default") it starts the published service, loads the
# size's data set (GET /csv), then runs wrk (-t2 -c32, BENCH_READ_SECONDS each, default 10, after BENCH_READ_WARMUP
# seconds unmeasured, default 15) on
#   pages        GET /api/users?limit=100&after=N          N random over the whole id range
#   pages+q      GET /api/users?limit=100&after=N&q=NAME   NAME one of the generator's last names
#   user         GET /api/users/N                          N random
# and prints requests/s, p50 and p99 for each. The data comes from bench/run.sh's cache folder (generated if missing).
# Needs wrk (apt-get install wrk), curl, dotnet and, without BENCH_DATABASE_URL, PostgreSQL 15's server binaries.
set -euo pipefail
export LC_ALL=C
{

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
size=${1:-}
case "$size" in
  S | M | L) ;;
  *) echo "usage: bench/reads.sh S|M|L" >&2; exit 2 ;;
esac
seconds=${BENCH_READ_SECONDS:-10}
# A fresh process answers a page at about half its steady rate for its first ~10 s of load (tiered JIT: the read
# path is still tier-0 and instrumented code), so each read is first run unmeasured.
warmup=${BENCH_READ_WARMUP:-15}
targets=${BENCH_READ_TARGETS:-postgres sqlite default}
data_dir="${BENCH_DATA_DIR:-${TMPDIR:-/tmp}/experiment-etl-bench}/$size-seed${BENCH_SEED:-42}"
for tool in wrk curl dotnet awk; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
log() { echo "reads: $*" >&2; }

work=$(mktemp -d -t experiment-etl-reads.XXXXXX)
pg_dir=""
server_pid=""
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local status=$?
  set +e
  [ -n "$server_pid" ] && stop_process "$server_pid"
  [ -n "$pg_dir" ] && { "$repo/scripts/pg-cluster.sh" stop "$pg_dir"; rm -rf "$pg_dir"; }
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

if [ ! -f "$data_dir/user_experiments.csv" ]; then
  log "generating the $size data into $data_dir ..."
  timeout 900 dotnet run --project "$repo/bench/DataGenerator" -c Release -- --size "$size" --out "$data_dir" >&2
fi
users=$(($(wc -l <"$data_dir/users.csv") - 1))
log "publishing src/ExperimentEtl (Release) ..."
timeout 900 dotnet publish "$repo/src/ExperimentEtl" -c Release -o "$work/app" -p:UseAppHost=false -nologo -v quiet >"$work/publish.log" 2>&1 ||
  { tail -n 40 "$work/publish.log" >&2; exit 1; }

# Random ids over the whole range; the names are last names the generator uses.
cat >"$work/users.lua" <<'LUA'
local users = tonumber(os.getenv("READ_USERS"))
local mode = os.getenv("READ_MODE")
local names = { "green", "smith", "garcia", "walker", "young", "baker", "jones", "hall" }
math.randomseed(os.time())
request = function()
  local n = math.random(0, users)
  if mode == "user" then return wrk.format("GET", "/api/users/" .. math.max(n, 1)) end
  local path = "/api/users?limit=100&after=" .. n
  if mode == "q" then path = path .. "&q=" .. names[math.random(#names)] end
  return wrk.format("GET", path)
end
LUA

printf '%-9s %-8s %10s %9s %9s\n' backend read "req/s" p50 p99
for target in $targets; do
  case "$target" in
    postgres)
      if [ -n "${BENCH_DATABASE_URL:-}" ]; then database=$BENCH_DATABASE_URL; else
        pg_dir=$(mktemp -d -t experiment-etl-reads-pg.XXXXXX)
        database=$("$repo/scripts/pg-cluster.sh" start "$pg_dir")
      fi ;;
    sqlite) database="$work/reads.db" ;;
    default) database="" ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
  port=$(free_port)
  DATABASE_URL=$database ETL_DATA_DIR=$data_dir Logging__LogLevel__Default=Warning \
    dotnet "$work/app/ExperimentEtl.dll" --urls "http://127.0.0.1:$port" >"$work/server-$target.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  log "$target: loading $size ..."
  curl -sf -m 3600 "http://127.0.0.1:$port/csv" >/dev/null || { tail -n 20 "$work/server-$target.log" >&2; exit 1; }
  for mode in pages q user; do
    READ_USERS=$users READ_MODE=$mode wrk -t2 -c32 -d"${warmup}s" -s "$work/users.lua" "http://127.0.0.1:$port" >/dev/null
    out=$(READ_USERS=$users READ_MODE=$mode wrk -t2 -c32 -d"${seconds}s" --latency -s "$work/users.lua" "http://127.0.0.1:$port")
    rate=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    printf '%-9s %-8s %10s %9s %9s %s\n' "$target" "$mode" "$rate" "$p50" "$p99" "$errors"
  done
  stop_process "$server_pid"
  server_pid=""
  if [ -n "$pg_dir" ]; then "$repo/scripts/pg-cluster.sh" stop "$pg_dir"; rm -rf "$pg_dir"; pg_dir=""; fi
done
exit 0
}

#!/usr/bin/env bash
# The report's downloads at scale (issue 21): GET /report.csv against GET /report.parquet.
#   bench/report-formats.sh [S|M|L]     (default L: 1M users)
#   1. takes the data from bench/run.sh's cache folder (generating it the same way if missing) and publishes the
#      service (Release);
#   2. loads it once into a SQLite file (or into BENCH_DATABASE_URL, whose ETL tables are replaced);
#   3. BENCH_REPS times (default 3), both formats, their order alternating from one repetition to the next, each in a
#      fresh server process on the loaded database: curl downloads the report to a file; the download's seconds and
#      bytes, and the process's peak RSS (VmHWM) once ready and after the download;
#   4. checks the last Parquet against GET /report with DuckDB (tests/oracle/read-parquet.mjs compare: every row of
#      each is in the other, as many times);
#   5. prints the medians with the lowest and highest of the repetitions, and the load average before each download.
# Holds bench/run.sh's lock: it never runs at the same time as another benchmark of this project on the machine.
# Environment: BENCH_REPS (3), BENCH_SEED (42), BENCH_DATA_DIR, BENCH_DATABASE_URL, BENCH_LOCK_TIMEOUT (7200),
#   BENCH_SERVER_ENV (extra VAR=value settings for the server, e.g. "ETL_MEMORY_LIMIT_MB=256").
# Needs curl, dotnet, node and npm (tests/oracle is installed with npm ci when missing), flock, awk.
set -euo pipefail
export LC_ALL=C
{

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
size=${1:-L}
case "$size" in
  S | M | L) ;;
  *) echo "usage: bench/report-formats.sh [S|M|L]" >&2; exit 2 ;;
esac
reps=${BENCH_REPS:-3}
seed=${BENCH_SEED:-42}
[[ "$reps" =~ ^[1-9][0-9]?$ ]] || { echo "BENCH_REPS must be 1..99" >&2; exit 2; }
read -r -a server_env <<<"${BENCH_SERVER_ENV:-}"
data_root=${BENCH_DATA_DIR:-${TMPDIR:-/tmp}/experiment-etl-bench}
data_dir="$data_root/$size-seed$seed"
for tool in curl dotnet node npm flock awk; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
log() { echo "report-formats: $*" >&2; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
peak_rss_mb() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

work=$(mktemp -d -t experiment-etl-formats.XXXXXX)
server_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local status=$?
  set +e
  [ -z "$server_pid" ] || stop_process "$server_pid"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

mkdir -p "$data_root"
exec 9>"$data_root/.run.lock"
if ! flock -n 9; then
  log "another benchmark holds $data_root/.run.lock; waiting for it ..."
  flock -w "${BENCH_LOCK_TIMEOUT:-7200}" 9 || { log "still held; giving up"; exit 1; }
fi

# The same cache and fingerprint as bench/run.sh (skewed shape).
fingerprint="size=$size shape=skewed seed=$seed generator=$(cat "$repo"/bench/DataGenerator/*.cs "$repo"/bench/DataGenerator/*.csproj | sha256sum | cut -c1-16)"
if [ ! -f "$data_dir/.complete" ] || [ "$(cat "$data_dir/.complete")" != "$fingerprint" ]; then
  log "generating the $size data into $data_dir ..."
  rm -rf "$data_dir"
  timeout 1800 dotnet run --project "$repo/bench/DataGenerator" -c Release -- --size "$size" --shape skewed --seed "$seed" --out "$data_dir" >&2
  printf '%s\n' "$fingerprint" >"$data_dir/.complete"
fi
[ -d "$repo/tests/oracle/node_modules/@duckdb/node-api" ] || npm ci --prefix "$repo/tests/oracle" --no-audit --no-fund --loglevel=error >&2
log "publishing src/ExperimentEtl (Release) ..."
timeout 900 dotnet publish "$repo/src/ExperimentEtl" -c Release -o "$work/app" -p:UseAppHost=false -nologo -v quiet >"$work/publish.log" 2>&1 ||
  { tail -n 40 "$work/publish.log" >&2; exit 1; }
database=${BENCH_DATABASE_URL:-$work/report.db}

port=""
start_server() {
  port=$(free_port)
  env DATABASE_URL="$database" ETL_DATA_DIR="$data_dir" Logging__LogLevel__Default=Warning "${server_env[@]}" \
    dotnet "$work/app/ExperimentEtl.dll" --urls "http://127.0.0.1:$port" >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.2; done
  tail -n 20 "$work/server.log" >&2
  exit 1
}
stop_server() { stop_process "$server_pid"; server_pid=""; }

log "loading $size into ${BENCH_DATABASE_URL:+BENCH_DATABASE_URL}${BENCH_DATABASE_URL:-a SQLite file} ..."
start_server
curl -sf -m 3600 "http://127.0.0.1:$port/csv" >/dev/null || { tail -n 20 "$work/server.log" >&2; exit 1; }
stop_server

declare -A seconds bytes ready_rss rss load
for rep in $(seq 1 "$reps"); do
  order="csv parquet"
  [ $((rep % 2)) -eq 0 ] && order="parquet csv"
  for format in $order; do
    start_server
    ready_rss[$format,$rep]=$(peak_rss_mb "$server_pid")
    load[$format,$rep]=$(cut -d' ' -f1 /proc/loadavg)
    timing=$(curl -sf -m 3600 -o "$work/report.$format" -w '%{time_total} %{size_download}' "http://127.0.0.1:$port/report.$format")
    seconds[$format,$rep]=$(awk -v x="${timing% *}" 'BEGIN { printf "%.2f", x }')
    bytes[$format,$rep]=${timing#* }
    rss[$format,$rep]=$(peak_rss_mb "$server_pid")
    stop_server
    log "$(printf 'rep %s %-7s %8s s %11s bytes, peak RSS %s MB (%s MB once ready) [load %s]' "$rep" "$format" \
      "${seconds[$format,$rep]}" "${bytes[$format,$rep]}" "${rss[$format,$rep]}" "${ready_rss[$format,$rep]}" "${load[$format,$rep]}")"
  done
done

log "checking the last Parquet against GET /report with DuckDB ..."
start_server
curl -sf -m 3600 -o "$work/report.json" "http://127.0.0.1:$port/report"
stop_server
check=$(node "$repo/tests/oracle/read-parquet.mjs" compare "$work/report.parquet" "$work/report.json")

echo "size $size, $reps repetitions; median (lowest-highest)"
printf '%-8s %18s %22s %24s %20s\n' format "download s" "MB" "peak RSS MB" "RSS once ready MB"
for format in csv parquet; do
  s=() b=() r=() q=()
  for rep in $(seq 1 "$reps"); do
    s+=("${seconds[$format,$rep]}") r+=("${rss[$format,$rep]}") q+=("${ready_rss[$format,$rep]}")
    b+=("$(awk -v x="${bytes[$format,$rep]}" 'BEGIN { printf "%.2f", x / 1e6 }')")
  done
  printf '%-8s %18s %22s %24s %20s\n' "$format" "$(median "${s[@]}") ($(spread "${s[@]}"))" "$(median "${b[@]}") ($(spread "${b[@]}"))" \
    "$(median "${r[@]}") ($(spread "${r[@]}"))" "$(median "${q[@]}") ($(spread "${q[@]}"))"
done
printf 'load average before each download:'
for rep in $(seq 1 "$reps"); do printf ' %s/%s' "${load[csv,$rep]}" "${load[parquet,$rep]}"; done
echo " (csv/parquet)"
echo "Parquet against GET /report (DuckDB): $check"
exit 0
}

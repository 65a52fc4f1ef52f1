#!/usr/bin/env bash
# The load benchmark of issue 4: the service's ETL beside PostgreSQL's own \copy of the same files.
#   bench/run.sh S|K|M|L|XL [--shape skewed|uniform]     (K: 100k experiments, a tenth of M, for the service's memory against M)
# For the size (and shape: skewed by default, uniform spreads experiments over every user and compound) it
#   1. generates the three files (bench/DataGenerator, seed 42) into a cache folder, or reuses them;
#   2. starts a throwaway PostgreSQL 15 (scripts/pg-cluster.sh; fsync on) unless BENCH_DATABASE_URL is set;
#   3. publishes the service (Release) once;
#   4. repeats BENCH_REPS times (default 3) each of
#        floor      psql's \copy of the three raw files, each line into a one-column text table (FORMAT text with a
#                   delimiter that never occurs, so PostgreSQL only splits lines): durable tables, one transaction;
#        typed      the second floor (bench/typed-floor.sh): PostgreSQL alone storing the service's typed rows, from
#                   server-side binary COPY files dumped once from the service's tables, then adding the primary
#                   keys, one transaction; needs the throwaway cluster and runs after postgres;
#        postgres   a fresh server process on PostgreSQL: time of GET /csv (the whole run, answered at commit) plus
#                   GET /report (the full report, downloaded and thrown away); peak RSS of the process (VmHWM);
#        sqlite     the same on a SQLite file (deleted before each repetition);
#        ephemeral  the same on the default database (no DATABASE_URL: an ephemeral SQLite file), not run by default;
#        citus      the same on a local Citus cluster (scripts/citus-cluster.sh: a coordinator and two workers, all on
#                   this machine) unless BENCH_CITUS_URL names a coordinator; only when BENCH_TARGETS includes it;
#      peak RSS is read after /csv (the run) and after /report;
#   5. prints the medians: seconds, rows/s, MB/s (of the input files), peak RSS and the ratios to both floors (raw
#      \copy and typed, when measured) and the load average at each repetition, and writes them to bench/out/.
# Environment:
#   BENCH_REPS (3)  BENCH_SEED (42)  BENCH_DATA_DIR (${TMPDIR:-/tmp}/experiment-etl-bench: generated files, kept)
#   BENCH_DATABASE_URL  an existing PostgreSQL to use instead of a throwaway one: its ETL tables are REPLACED and
#                       bench_raw_* tables are created and dropped in it
#   BENCH_RUN_TIMEOUT (3600)  seconds one /csv may take    BENCH_READY_TIMEOUT (120)  seconds to wait for /readyz
#   BENCH_TARGETS ("floor postgres typed sqlite")  which to run, in this order each repetition; also citus (above), postgres-otel and
#                       sqlite-otel: the same with telemetry exported (OTLP/HTTP to bench/otlp-sink.py, a stand-in
#                       collector, metrics every second) and /metrics scraped every second during the run
#   BENCH_CITUS_URL  an existing Citus coordinator (with workers) to use for the citus target: its ETL tables are REPLACED
#   BENCH_LOCK_TIMEOUT (7200)  seconds to wait for another bench/run.sh on this machine to finish (runs never overlap)
#   BENCH_SERVER_ENV  extra VAR=value settings for the server process, e.g. "DOTNET_TieredPGO=0" or "ETL_MEMORY_LIMIT_MB=256"
# Needs bash, curl, jq, psql, dotnet, (without BENCH_DATABASE_URL) PostgreSQL 15's server binaries, and python3
# for the -otel targets.
set -euo pipefail
export LC_ALL=C
# The whole script is one block, read before it runs: editing the file during a long run cannot change that run.
{

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
size=${1:-}
shape=skewed
case "${2:-}" in
  "") ;;
  --shape) shape=${3:-} ;;
  *) shape="" ;;
esac
case "$size/$shape" in
  S/skewed | K/skewed | M/skewed | L/skewed | XL/skewed | S/uniform | K/uniform | M/uniform | L/uniform | XL/uniform) ;;
  *) echo "usage: bench/run.sh S|K|M|L|XL [--shape skewed|uniform]" >&2; exit 2 ;;
esac
reps=${BENCH_REPS:-3}
seed=${BENCH_SEED:-42}
run_timeout=${BENCH_RUN_TIMEOUT:-3600}
ready_timeout=${BENCH_READY_TIMEOUT:-120}
lock_timeout=${BENCH_LOCK_TIMEOUT:-7200}
# The typed floor reads files on the database server's disk: only on the throwaway cluster.
targets=${BENCH_TARGETS:-floor postgres $([ -z "${BENCH_DATABASE_URL:-}" ] && echo typed) sqlite}
read -r -a server_env <<<"${BENCH_SERVER_ENV:-}"
data_root=${BENCH_DATA_DIR:-${TMPDIR:-/tmp}/experiment-etl-bench}
data_dir="$data_root/$size-seed$seed"
[ "$shape" = skewed ] || data_dir="$data_root/$size-$shape-seed$seed"
out_dir="$repo/bench/out"
[[ "$reps" =~ ^[1-9][0-9]?$ ]] || { echo "BENCH_REPS must be 1..99" >&2; exit 2; }

# shellcheck source=bench/typed-floor.sh
. "$repo/bench/typed-floor.sh"
# shellcheck source=bench/copy-floor.sh
. "$repo/bench/copy-floor.sh"
# shellcheck source=bench/cpu.sh
. "$repo/bench/cpu.sh"
for tool in curl jq psql dotnet awk flock; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d -t experiment-etl-bench.XXXXXX)
pg_dir=""
citus_dir=""
server_pid=""
sink_pid=""
scrape_pid=""

stop_server() {
  if [ -n "$scrape_pid" ]; then stop_process "$scrape_pid"; scrape_pid=""; fi
  [ -n "$server_pid" ] || return 0
  stop_process "$server_pid"
  server_pid=""
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local status=$?
  set +e
  stop_server
  [ -z "$sink_pid" ] || stop_process "$sink_pid"
  if [ -n "${database_url:-}" ] && [ -z "$pg_dir" ]; then
    # Our raw tables in the caller's database.
    timeout 30 psql -X -q "$database_url" -c 'DROP TABLE IF EXISTS bench_raw_users, bench_raw_compounds, bench_raw_experiments' >/dev/null 2>&1
  fi
  if [ -n "$pg_dir" ]; then
    "$repo/scripts/pg-cluster.sh" stop "$pg_dir"
    rm -rf "$pg_dir"
  fi
  if [ -n "$citus_dir" ]; then
    "$repo/scripts/citus-cluster.sh" stop "$citus_dir"
    rm -rf "$citus_dir"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- one benchmark at a time on this machine -----------------------------------------------------------------
# Two runs at once on 2 cores measure each other. The lock is held until this script exits.
mkdir -p "$data_root"
exec 9>"$data_root/.run.lock"
if ! flock -n 9; then
  log "another bench/run.sh is running on this machine; waiting for it (at most ${lock_timeout}s) ..."
  flock -w "$lock_timeout" 9 || die "another bench/run.sh still holds $data_root/.run.lock"
fi

# ---- disk -------------------------------------------------------------------------------------------------
# Input, a SQLite file, PostgreSQL's tables and WAL: roughly 12x the input at most.
case "$size" in S | K) need_mb=500 ;; M) need_mb=1500 ;; L) need_mb=8000 ;; XL) need_mb=24000 ;; esac
# Citus keeps the loaded tables once more on its workers, and two data sets while a load publishes.
[[ " $targets " == *" citus "* ]] && need_mb=$((need_mb * 2))
mkdir -p "$data_root" "$out_dir"
for dir in "$data_root" "$work"; do
  avail_mb=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
  [ "$avail_mb" -ge "$need_mb" ] || die "$dir has ${avail_mb} MB free; size $size needs about ${need_mb} MB"
done

# ---- data -------------------------------------------------------------------------------------------------
fingerprint="size=$size shape=$shape seed=$seed generator=$(cat "$repo"/bench/DataGenerator/*.cs "$repo"/bench/DataGenerator/*.csproj | sha256sum | cut -c1-16)"
if [ -f "$data_dir/.complete" ] && [ "$(cat "$data_dir/.complete")" = "$fingerprint" ]; then
  log "reusing the $size data in $data_dir"
else
  log "generating the $size $shape data into $data_dir ..."
  rm -rf "$data_dir"
  generator_size=(--size "$size")
  [ "$size" = K ] && generator_size=(--size M --users 10000 --experiments 100000)
  timeout 1800 dotnet run --project "$repo/bench/DataGenerator" -c Release -- "${generator_size[@]}" --shape "$shape" --seed "$seed" --out "$data_dir" >&2 ||
    die "the data generator failed"
  printf '%s\n' "$fingerprint" >"$data_dir/.complete"
fi
files=(users.csv compounds.csv user_experiments.csv)
total_bytes=0
total_rows=0
for f in "${files[@]}"; do
  bytes=$(stat -c %s "$data_dir/$f")
  # Data rows. With no final newline, wc -l counts the line breaks: one per data row after the header,
  # plus users.csv's leading blank line.
  rows=$(wc -l <"$data_dir/$f")
  [ "$f" = users.csv ] && rows=$((rows - 1))
  total_bytes=$((total_bytes + bytes))
  total_rows=$((total_rows + rows))
  eval "rows_${f%%.*}=$rows"
done
# shellcheck disable=SC2154 # set by the eval above
log "$size: $total_rows rows ($rows_users users, $rows_compounds compounds, $rows_user_experiments experiments), $total_bytes bytes"

# ---- database ---------------------------------------------------------------------------------------------
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  database_url=$BENCH_DATABASE_URL
  log "using BENCH_DATABASE_URL (its ETL tables will be replaced)"
else
  pg_dir=$(mktemp -d -t experiment-etl-bench-pg.XXXXXX)
  # 9>&-: the cluster's server must not inherit (and keep) the benchmark lock.
  database_url=$("$repo/scripts/pg-cluster.sh" start "$pg_dir" 9>&-) || die "could not start a PostgreSQL cluster"
  # Statements over 100 ms go to the server log: the per-statement breakdown printed at the end.
  psql -X -q "$database_url" -c "ALTER SYSTEM SET log_min_duration_statement = '100ms'" -c 'SELECT pg_reload_conf()' >/dev/null
  log "throwaway PostgreSQL on ${database_url##*@}"
fi
if [[ " $targets " == *" citus "* ]]; then
  if [ -n "${BENCH_CITUS_URL:-}" ]; then
    citus_url=$BENCH_CITUS_URL
    log "using BENCH_CITUS_URL (its ETL tables will be replaced)"
  else
    citus_dir=$(mktemp -d -t experiment-etl-bench-citus.XXXXXX)
    citus_url=$("$repo/scripts/citus-cluster.sh" start "$citus_dir" 9>&-) || die "could not start a Citus cluster (../shared/citus/install.sh installs Citus)"
    psql -X -q "$citus_url" -c "ALTER SYSTEM SET log_min_duration_statement = '100ms'" -c 'SELECT pg_reload_conf()' >/dev/null
    log "throwaway Citus cluster: coordinator on ${citus_url##*@}, two workers"
  fi
fi
export PGCONNECT_TIMEOUT=10
pg() { PGOPTIONS="-c client_min_messages=warning" timeout "$run_timeout" psql -X -q -v ON_ERROR_STOP=1 "$database_url" "$@"; }
pg_version=$(pg -Atc 'SHOW server_version')
pg_settings=$(pg -Atc "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'wal_level', 'shared_buffers', 'max_wal_size', 'maintenance_work_mem')")

# ---- build ------------------------------------------------------------------------------------------------
log "publishing src/ExperimentEtl (Release) ..."
timeout 900 dotnet publish "$repo/src/ExperimentEtl" -c Release -o "$work/app" -p:UseAppHost=false -nologo -v quiet \
  >"$work/publish.log" 2>&1 || { tail -n 40 "$work/publish.log" >&2; die "dotnet publish failed"; }
# What was measured: the commit, and whether the working tree differed from it when it was published.
code_state="$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown), published $(date -u '+%H:%M UTC')"

# ---- the three measurements -------------------------------------------------------------------------------
# floor: a fresh set of one-column tables, created and filled in one transaction like the service's load.
copy_floor_sql "$data_dir" >"$work/floor.sql"

declare -A seconds rss csv_rss csv_seconds report_seconds load_avg cpu service_cpu

# run_psql_floor floor|typed REP FILE: a floor's statements in one psql transaction after a checkpoint, timed (wall
# and CPU seconds into seconds[] and cpu[]).
run_psql_floor() {
  local target=$1 rep=$2 file=$3 t0 t1 c0
  pg -c 'CHECKPOINT'
  c0=$(cpu_ticks_settled)
  t0=$EPOCHREALTIME
  pg -1 -f "$file"
  t1=$EPOCHREALTIME
  cpu[$target,$rep]=$(cpu_seconds "$c0" "$(cpu_ticks_settled)")
  seconds[$target,$rep]=$(seconds_between "$t0" "$t1")
  rss[$target,$rep]=""
}

run_floor() {
  local rep=$1 lines
  pg -c 'DROP TABLE IF EXISTS bench_raw_users, bench_raw_compounds, bench_raw_experiments'
  run_psql_floor floor "$rep" "$work/floor.sql"
  lines=$(pg -Atc 'SELECT (SELECT count(*) FROM bench_raw_users) + (SELECT count(*) FROM bench_raw_compounds)
                          + (SELECT count(*) FROM bench_raw_experiments)')
  # Every physical line: the rows, three headers and users.csv's blank line.
  [ "$lines" -eq $((total_rows + 4)) ] || die "floor: \\copy took $lines lines, expected $((total_rows + 4))"
  log "floor    rep $rep: ${seconds[floor,$rep]} s"
}

# run_service postgres|sqlite[-otel]|ephemeral|citus REP: one fresh server process, /csv then /report.
run_service() {
  local target=$1 rep=$2 url port code t0 t1 t2 answer c0 s0 telemetry_env=()
  if [[ "$target" == *-otel ]]; then
    telemetry_env=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
      OTEL_METRIC_EXPORT_INTERVAL=1000 OTEL_SERVICE_NAME=experiment-etl-bench)
  fi
  if [ "${target%-otel}" = postgres ]; then
    url=$database_url
    pg -c 'CHECKPOINT'
  elif [ "$target" = citus ]; then
    url=$citus_url
    timeout 600 psql -X -q "$url" -c 'CHECKPOINT' -c "SELECT run_command_on_workers('CHECKPOINT')" >/dev/null
  elif [ "${target%-otel}" = sqlite ]; then
    url="$work/bench.db"
    rm -f "$url" "$url-wal" "$url-shm" "$url-journal"
  else
    url=""
  fi
  port=$(free_port)
  # From the publish folder, as in the container: it is the content root, where appsettings.json is read.
  (cd "$work/app" && exec env -u ASPNETCORE_URLS -u ASPNETCORE_HTTP_PORTS -u ASPNETCORE_HTTPS_PORTS -u API_DB_PATH \
    ${url:+DATABASE_URL="$url"} ETL_DATA_DIR="$data_dir" ASPNETCORE_ENVIRONMENT=Production "${server_env[@]}" "${telemetry_env[@]}" \
    dotnet ExperimentEtl.dll --urls "http://127.0.0.1:$port") >"$work/server-$target-$rep.log" 2>&1 9>&- &
  server_pid=$!
  local base="http://127.0.0.1:$port"
  wait_ready "$server_pid" "$base" "$work/server-$target-$rep.log" "$ready_timeout" || die "$target: the server did not become ready"

  answer="$work/csv-$target-$rep.json"
  if [ ${#telemetry_env[@]} -gt 0 ]; then
    # As a Prometheus server would, every second while the run lasts.
    (while :; do curl -sS --max-time 5 -o /dev/null "$base/metrics" || true; sleep 1; done) 9>&- &
    scrape_pid=$!
  fi
  c0=$(cpu_ticks "$server_pid")
  s0=$(proc_ticks "$server_pid")
  t0=$EPOCHREALTIME
  code=$(curl -sS --max-time "$run_timeout" -o "$answer" -w '%{http_code}' "$base/csv") || code=000
  t1=$EPOCHREALTIME
  # The service and the throwaway cluster (a Citus cluster's nodes are not counted).
  cpu[$target,$rep]=$(cpu_seconds "$c0" "$(cpu_ticks "$server_pid")")
  service_cpu[$target,$rep]=$(cpu_seconds "$s0" "$(proc_ticks "$server_pid")")
  [ "$code" = 200 ] || { head -c 2000 "$answer" >&2; tail -n 20 "$work/server-$target-$rep.log" >&2; die "$target: /csv answered HTTP $code"; }
  csv_rss[$target,$rep]=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")
  code=$(curl -sS --max-time "$run_timeout" -o /dev/null -w '%{http_code}' "$base/report") || code=000
  t2=$EPOCHREALTIME
  [ "$code" = 200 ] || die "$target: /report answered HTTP $code"
  jq -e --argjson rows "$total_rows" '.status == "succeeded" and ([.files[].rows_loaded] | add) == $rows' "$answer" >/dev/null ||
    { head -c 2000 "$answer" >&2; die "$target: the run did not load every row"; }

  rss[$target,$rep]=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")
  stop_server
  seconds[$target,$rep]=$(seconds_between "$t0" "$t2")
  csv_seconds[$target,$rep]=$(seconds_between "$t0" "$t1")
  report_seconds[$target,$rep]=$(seconds_between "$t1" "$t2")
  log "$(printf '%-8s rep %s: %s s (/csv %s s, /report %s s), peak RSS %s MB after /csv, %s MB after /report' "$target" "$rep" \
    "${seconds[$target,$rep]}" "${csv_seconds[$target,$rep]}" "${report_seconds[$target,$rep]}" "${csv_rss[$target,$rep]}" "${rss[$target,$rep]}")"
}

if [[ " $targets " == *-otel* ]]; then
  command -v python3 >/dev/null || die "python3 is needed for the -otel targets (the stand-in collector)"
  sink_port=$(free_port)
  python3 "$repo/bench/otlp-sink.py" "$sink_port" "$work/otlp-sink.log" 9>&- &
  sink_pid=$!
fi

pg_log_offset=0
[ -n "$pg_dir" ] && pg_log_offset=$(stat -c %s "$pg_dir/server.log")
for rep in $(seq 1 "$reps"); do
  for target in $targets; do
    # The machine is shared: the load average when each figure was taken (1-minute figure, before it).
    load_avg[$target,$rep]=$(cut -d' ' -f1 /proc/loadavg)
    case "$target" in
      floor) run_floor "$rep" ;;
      typed)
        [[ " $targets " == *" postgres "*"typed "* ]] || die "the typed target needs postgres before it in BENCH_TARGETS"
        run_typed "$rep"
        ;;
      postgres | postgres-otel)
        [ -n "$pg_dir" ] && pg_log_offset=$(stat -c %s "$pg_dir/server.log")
        run_service "$target" "$rep"
        [ -n "$pg_dir" ] && tail -c +$((pg_log_offset + 1)) "$pg_dir/server.log" >"$work/pg-statements-$rep.log"
        ;;
      sqlite | sqlite-otel | ephemeral) run_service "$target" "$rep" ;;
      citus)
        [ -n "$citus_dir" ] && citus_log_offset=$(stat -c %s "$citus_dir/coordinator/server.log")
        run_service citus "$rep"
        [ -n "$citus_dir" ] && tail -c +$((citus_log_offset + 1)) "$citus_dir/coordinator/server.log" >"$work/citus-statements-$rep.log"
        ;;
      *) die "unknown target '$target' in BENCH_TARGETS" ;;
    esac
  done
done
pg -c 'DROP TABLE IF EXISTS bench_raw_users, bench_raw_compounds, bench_raw_experiments'
[ -z "$typed_dir" ] || typed_drop

# ---- report -----------------------------------------------------------------------------------------------
result="$out_dir/$size-$shape-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# bench/run.sh $size --shape $shape  ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); PostgreSQL $pg_version; .NET $(dotnet --version)"
  echo "postgres settings: $pg_settings"
  echo "code: $code_state"
  [ ${#server_env[@]} -eq 0 ] || echo "server environment: ${server_env[*]}"
  if [ -f "$work/otlp-sink.log" ]; then
    echo "-otel targets: OTLP/HTTP to a stand-in collector, metrics exported every 1 s, /metrics scraped every 1 s; it received:" \
      "$(awk '{ n[$1]++; b[$1] += $2 } END { for (p in n) printf "%s %d posts %.0f kB; ", p, n[p], b[p] / 1000 }' "$work/otlp-sink.log")"
  fi
  echo "input: $data_dir ($rows_users users, $rows_compounds compounds, $rows_user_experiments experiments;" \
    "$total_rows rows, $(awk -v b="$total_bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB)"
  echo "each figure: the median of $reps repetitions"
  echo
  declare -A medians csv_medians
  for target in $targets; do
    values=()
    csv_values=()
    for rep in $(seq 1 "$reps"); do
      values+=("${seconds[$target,$rep]}")
      [ -n "${csv_seconds[$target,$rep]:-}" ] && csv_values+=("${csv_seconds[$target,$rep]}")
    done
    medians[$target]=$(median "${values[@]}")
    # The floors have no /csv: their whole time stands for it.
    csv_medians[$target]=${medians[$target]}
    [ ${#csv_values[@]} -gt 0 ] && csv_medians[$target]=$(median "${csv_values[@]}")
  done
  # ratio SECONDS FLOOR: SECONDS over that floor's median, or n/a when the floor was not measured.
  ratio() { [ -n "${medians[$2]:-}" ] && awk -v a="$1" -v b="${medians[$2]}" 'BEGIN { printf "%.2f", a / b }' || echo n/a; }
  echo "seconds: /csv + /report for the service; x floor, x typed: over the raw \\copy floor and the typed floor; /csv x: the run alone;"
  echo "CPU s: CPU seconds of /csv (the service and the throwaway cluster) or of a floor (psql and the cluster); cores: CPU s / /csv s"
  printf '| %-10s | %9s | %12s | %8s | %10s | %7s | %7s | %8s | %12s | %12s | %6s | %5s |\n' \
    target seconds rows/s MB/s "run RSS MB" "x floor" "x typed" "/csv s" "/csv x floor" "/csv x typed" "CPU s" cores
  printf '| %-10s | %9s | %12s | %8s | %10s | %7s | %7s | %8s | %12s | %12s | %6s | %5s |\n' --- ---: ---: ---: ---: ---: ---: ---: ---: ---: ---: ---:
  for target in $targets; do
    rss_values=()
    for rep in $(seq 1 "$reps"); do
      [ -n "${csv_rss[$target,$rep]:-}" ] && rss_values+=("${csv_rss[$target,$rep]}")
    done
    m=${medians[$target]}
    c=${csv_medians[$target]}
    peak="n/a"
    [ ${#rss_values[@]} -gt 0 ] && peak=$(median "${rss_values[@]}")
    cpu_values=()
    for rep in $(seq 1 "$reps"); do [ -n "${cpu[$target,$rep]:-}" ] && cpu_values+=("${cpu[$target,$rep]}"); done
    cpu_median=n/a
    cores=n/a
    if [ ${#cpu_values[@]} -gt 0 ]; then
      cpu_median=$(median "${cpu_values[@]}")
      cores=$(awk -v a="$cpu_median" -v b="$c" 'BEGIN { printf "%.2f", a / b }')
    fi
    awk -v t="$target" -v s="$m" -v r="$total_rows" -v b="$total_bytes" -v p="$peak" -v x="$(ratio "$m" floor)" -v y="$(ratio "$m" typed)" \
      -v c="$c" -v cx="$(ratio "$c" floor)" -v cy="$(ratio "$c" typed)" -v u="$cpu_median" -v k="$cores" \
      'BEGIN { printf "| %-10s | %9.3f | %12.0f | %8.1f | %10s | %7s | %7s | %8.3f | %12s | %12s | %6s | %5s |\n", t, s, r / s, b / 1e6 / s, p, x, y, c, cx, cy, u, k }'
  done
  echo
  echo "repetitions (seconds; for the service: /csv + /report, peak RSS MB after /csv / after /report; {CPU s of /csv: all / the service's own}; [load average before]):"
  for target in $targets; do
    line="  $(printf '%-9s' "$target")"
    for rep in $(seq 1 "$reps"); do
      if [ "$target" = floor ] || [ "$target" = typed ]; then
        line+=" ${seconds[$target,$rep]} {${cpu[$target,$rep]}} [${load_avg[$target,$rep]}]"
      else
        line+=" ${seconds[$target,$rep]} (${csv_seconds[$target,$rep]} + ${report_seconds[$target,$rep]}, ${csv_rss[$target,$rep]}/${rss[$target,$rep]} MB) {${cpu[$target,$rep]} / ${service_cpu[$target,$rep]}} [${load_avg[$target,$rep]}]"
      fi
    done
    echo "$line"
  done
  if [ -n "$pg_dir" ] && [ -f "$work/pg-statements-$reps.log" ]; then
    echo
    echo "postgres: statements over 100 ms in the last repetition (server log):"
    grep -o 'duration: [0-9.]* ms .*' "$work/pg-statements-$reps.log" | cut -c1-150 | sed 's/^/  /' || echo "  (none)"
  fi
  if [ -f "$work/citus-statements-$reps.log" ]; then
    echo
    echo "citus: statements over 100 ms in the last repetition (the coordinator's log):"
    grep -o 'duration: [0-9.]* ms .*' "$work/citus-statements-$reps.log" | cut -c1-150 | sed 's/^/  /' || echo "  (none)"
  fi
  [ -n "${citus_url:-}" ] && echo "citus: $(timeout 30 psql -X -Atc "SELECT (SELECT count(*) FROM pg_dist_node WHERE groupid <> 0) || ' workers, ' || (SELECT count(*) FROM pg_dist_shard s, data_generation g WHERE s.logicalrelid::text = 'etl_gen_' || g.generation || '.users') || ' shards a distributed table, Citus ' || extversion FROM pg_extension WHERE extname = 'citus'" "$citus_url"), every node on this machine"
  for target in postgres sqlite ephemeral citus; do
    [ -f "$work/server-$target-$reps.log" ] || continue
    echo
    echo "$target: the server's run log (last repetition):"
    grep -E 'Run .* (started|succeeded|failed)' "$work/server-$target-$reps.log" | sed 's/^/  /' || true
  done
} | tee "$result"
echo "bench: written to ${result#"$repo"/}" >&2
exit
}

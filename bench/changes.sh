#!/usr/bin/env bash
# What a load's change costs (issue 19): the service's loads into PostgreSQL with and without change tracking.
#   bench/changes.sh S|M|L|XL [BEFORE]     (BEFORE: a commit, or a checkout's folder to publish as it is)
# For the size (seed 42, skewed: bench/run.sh's data) it
#   1. reuses or generates the data and its 1 %-edited copy (bench/DataGenerator --edit-from ... --edit 0.01) in the
#      same cache folder as bench/run.sh (SIZE-seed42 and SIZE-seed42-edit1);
#   2. publishes this checkout (Release) as "after" and, given BEFORE, that commit (checked out into a temporary
#      detached worktree) or that folder as "before";
#   3. starts one throwaway PostgreSQL 15 per build (scripts/pg-cluster.sh, fsync on, every statement's duration in
#      its log), so that each build always reloads over a data set it loaded itself;
#   4. loads, each time from a fresh server process (GET /csv, as bench/run.sh), the builds alternating:
#        first       the data into the empty database (every row added);
#      then BENCH_REPS times (default 3)
#        repeat      the same files again over that data set (the usual repeat load);
#        edit        the edited copy over it (a 1 % change);
#        back        the original files over the edited copy (the same change reversed), ready for the next repeat;
#   5. prints per load: the run record's duration_seconds, the /csv wall time, the process's peak RSS (VmHWM), the
#      server time of the change's own statements (those on etl_chg_*, change_* and load_history, from the server
#      log: zero for the before build) and the load average before it; the medians per build and kind; and the change
#      of the last edit load (GET /api/etl/runs/{id}/changes). Results also in bench/out/.
#      /csv also holds the server's start-up wait and the commit; duration_seconds (since 95b14d5) holds the change.
# Environment: BENCH_REPS (3)  BENCH_DATA_DIR (as bench/run.sh)  BENCH_RUN_TIMEOUT (3600)  BENCH_READY_TIMEOUT (120)
#   BENCH_EDIT (0.01)  BENCH_STEPS ("repeat edit back": the loads of each repetition, e.g. "repeat" alone)  BENCH_SERVER_ENV (extra VAR=value settings for the server, e.g. ETL_MEMORY_LIMIT_MB=256)
#   BENCH_SQLITE=1  also one first, repeat and edit load per build into a SQLite file (no statement times there), and
#                   into the embedded default (one process: the first load, then the edit; its data folder is a link)
# After every edit load, the raw floor of the edited files on the after build's cluster (psql's \copy, as bench/run.sh
# measures it: bench/copy-floor.sh), so that the change-only reload (issue 20) stands beside it in the same run.
# Takes bench/run.sh's lock: the two never overlap. Needs bash, curl, jq, psql, dotnet, git, flock and PostgreSQL 15.
set -euo pipefail
export LC_ALL=C
{

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=bench/copy-floor.sh
. "$repo/bench/copy-floor.sh"
size=${1:-}
before_commit=${2:-}
case "$size" in S | M | L | XL) ;; *) echo "usage: bench/changes.sh S|M|L|XL [BEFORE]" >&2; exit 2 ;; esac
reps=${BENCH_REPS:-3}
[[ "$reps" =~ ^[1-9][0-9]?$ ]] || { echo "BENCH_REPS must be 1..99" >&2; exit 2; }
edit=${BENCH_EDIT:-0.01}
read -r -a steps <<<"${BENCH_STEPS:-repeat edit back}"
for step in "${steps[@]}"; do
  case "$step" in repeat | edit | back) ;; *) echo "BENCH_STEPS: repeat, edit or back, not $step" >&2; exit 2 ;; esac
done
run_timeout=${BENCH_RUN_TIMEOUT:-3600}
ready_timeout=${BENCH_READY_TIMEOUT:-120}
read -r -a server_env <<<"${BENCH_SERVER_ENV:-}"
data_root=${BENCH_DATA_DIR:-${TMPDIR:-/tmp}/experiment-etl-bench}
data_dir="$data_root/$size-seed42"
edit_dir="$data_root/$size-seed42-edit${edit#0.0}"
out_dir="$repo/bench/out"
for tool in curl jq psql dotnet git awk flock; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d -t experiment-etl-changes.XXXXXX)
server_pid=""
before_tree=""
declare -A pg_dir url

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local status=$?
  set +e
  [ -z "$server_pid" ] || stop_process "$server_pid"
  for build in "${!pg_dir[@]}"; do
    "$repo/scripts/pg-cluster.sh" stop "${pg_dir[$build]}"
    rm -rf "${pg_dir[$build]}"
  done
  [ -z "$before_tree" ] || git -C "$repo" worktree remove --force "$before_tree"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "error: $*" >&2; exit 1; }
log() { echo "changes: $*" >&2; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mkdir -p "$data_root" "$out_dir"
exec 9>"$data_root/.run.lock"
if ! flock -n 9; then
  log "another benchmark holds $data_root/.run.lock; waiting for it (at most 2 h) ..."
  flock -w 7200 9 || die "another benchmark still holds the lock"
fi

# ---- data -------------------------------------------------------------------------------------------------
generator() { timeout 3600 dotnet run --project "$repo/bench/DataGenerator" -c Release -- "$@" >&2 9>&- || die "the data generator failed"; }
fingerprint="size=$size shape=skewed seed=42 generator=$(cat "$repo"/bench/DataGenerator/*.cs "$repo"/bench/DataGenerator/*.csproj | sha256sum | cut -c1-16)"
if ! [ -f "$data_dir/.complete" ] || [ "$(cat "$data_dir/.complete")" != "$fingerprint" ]; then
  log "generating $data_dir ..."
  rm -rf "$data_dir" "$edit_dir"
  generator --size "$size" --seed 42 --out "$data_dir"
  printf '%s\n' "$fingerprint" >"$data_dir/.complete"
fi
if ! [ -f "$edit_dir/.complete" ] || [ "$(cat "$edit_dir/.complete")" != "$fingerprint edit=$edit" ]; then
  log "editing $edit of $data_dir into $edit_dir ..."
  rm -rf "$edit_dir"
  generator --edit-from "$data_dir" --edit "$edit" --out "$edit_dir"
  printf '%s\n' "$fingerprint edit=$edit" >"$edit_dir/.complete"
fi

# ---- builds and databases ---------------------------------------------------------------------------------
builds=(after)
publish() { # BUILD SOURCE_TREE
  log "publishing $1 ($(git -C "$2" describe --always --dirty)) ..."
  timeout 900 dotnet publish "$2/src/ExperimentEtl" -c Release -o "$work/app-$1" -p:UseAppHost=false -nologo -v quiet \
    >"$work/publish-$1.log" 2>&1 9>&- || { tail -n 40 "$work/publish-$1.log" >&2; die "dotnet publish of $1 failed"; }
}
if [ -d "$before_commit" ]; then
  publish before "$before_commit"
  builds=(before after)
elif [ -n "$before_commit" ]; then
  before_tree="$work/before-src"
  git -C "$repo" worktree add --detach "$before_tree" "$before_commit" >/dev/null 2>&1 || die "cannot check out $before_commit"
  publish before "$before_tree"
  builds=(before after)
fi
publish after "$repo"
for build in "${builds[@]}"; do
  pg_dir[$build]=$(mktemp -d -t "experiment-etl-changes-pg-$build.XXXXXX")
  url[$build]=$("$repo/scripts/pg-cluster.sh" start "${pg_dir[$build]}" 9>&-) || die "could not start a PostgreSQL cluster"
  psql -X -q "${url[$build]}" -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c 'SELECT pg_reload_conf()' >/dev/null
done

# ---- one load ---------------------------------------------------------------------------------------------
results="$work/results"
: >"$results"
# load BUILD DATABASE_URL|SQLITE_FILE KIND DATA_DIR: one fresh server process, GET /csv; appends a line to $results.
load() {
  local build=$1 database=$2 kind=$3 dir=$4 port code t0 t1 answer="$work/csv-$1-$3.json" loadavg offset=0 pgdir="" chg=""
  port=$(free_port)
  loadavg=$(cut -d' ' -f1 /proc/loadavg)
  if [[ "$database" == postgres* ]]; then
    psql -X -q "$database" -c CHECKPOINT >/dev/null
    pgdir=${pg_dir[$build]}
    offset=$(stat -c %s "$pgdir/server.log")
  fi
  (cd "$work/app-$build" && exec env -u ASPNETCORE_URLS -u ASPNETCORE_HTTP_PORTS -u ASPNETCORE_HTTPS_PORTS -u API_DB_PATH \
    DATABASE_URL="$database" ETL_DATA_DIR="$dir" ASPNETCORE_ENVIRONMENT=Production "${server_env[@]}" \
    dotnet ExperimentEtl.dll --urls "http://127.0.0.1:$port") >"$work/server-$build-$kind.log" 2>&1 9>&- &
  server_pid=$!
  local base="http://127.0.0.1:$port"
  wait_ready "$server_pid" "$base" "$work/server-$build-$kind.log" "$ready_timeout" || die "$build $kind: the server did not become ready"
  t0=$EPOCHREALTIME
  code=$(curl -sS --max-time "$run_timeout" -o "$answer" -w '%{http_code}' "$base/csv") || code=000
  t1=$EPOCHREALTIME
  if [ "$code" != 200 ] || ! jq -e '.status == "succeeded"' "$answer" >/dev/null; then
    head -c 2000 "$answer" >&2; tail -n 20 "$work/server-$build-$kind.log" >&2; die "$build $kind: /csv answered HTTP $code"
  fi
  local rss duration run_id
  rss=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")
  duration=$(jq -r '.duration_seconds' "$answer")
  run_id=$(jq -r '.run_id' "$answer")
  if [ "$build" = after ]; then
    curl -sS --max-time 60 "$base/api/etl/runs/$run_id/changes" >"$work/changes-$kind-$(basename "$database").json" || true
  fi
  stop_process "$server_pid"
  server_pid=""
  if [ -n "$pgdir" ]; then
    # The change's statements in the load: each execution's duration (extended protocol: the execute line; simple:
    # statement); not the start-up's CREATE TABLE IF NOT EXISTS of the change tables.
    chg=$(tail -c +$((offset + 1)) "$pgdir/server.log" |
      { grep -E 'duration: [0-9.]+ ms  (execute [^:]*|statement):' || true; } |
      { grep -E 'etl_chg_|change_(users|compounds|experiments)|load_history' || true; } | { grep -v 'IF NOT EXISTS' || true; } |
      awk '{ for (i = 1; i < NF; i++) if ($i == "duration:") s += $(i + 1) } END { printf "%.3f", s / 1000 }')
    tail -c +$((offset + 1)) "$pgdir/server.log" >"$work/pg-$build-$kind.log"
  fi
  printf '%s %s %s %s %s %s %s %s %s\n' "$build" "$(basename "$database")" "$kind" "$duration" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$rss" "${chg:-n/a}" "$loadavg" "$(jq -r '.apply // "n/a"' "$answer")" | tee -a "$results" >&2
  [ "$kind" != edit ] || [ "$build" != after ] || jq '{apply, apply_reason, rows_written}' "$answer" >"$work/applied-$kind-$(basename "$database").json"
}

# floor DATA_DIR: psql's \copy of the files on the after build's cluster, timed as bench/run.sh times its floor.
floor() {
  local database=${url[after]} t0 t1 loadavg
  copy_floor_sql "$1" >"$work/floor.sql"
  psql -X -q "$database" -c 'DROP TABLE IF EXISTS bench_raw_users, bench_raw_compounds, bench_raw_experiments' -c CHECKPOINT >/dev/null
  loadavg=$(cut -d' ' -f1 /proc/loadavg)
  t0=$EPOCHREALTIME
  psql -X -q -1 -v ON_ERROR_STOP=1 "$database" -f "$work/floor.sql" >/dev/null 9>&- || die "floor: psql failed"
  t1=$EPOCHREALTIME
  psql -X -q "$database" -c 'DROP TABLE bench_raw_users, bench_raw_compounds, bench_raw_experiments' >/dev/null
  printf 'floor postgres floor n/a %s n/a n/a %s n/a\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$loadavg" | tee -a "$results" >&2
}

# ephemeral BUILD: the embedded default in one server process: the data loaded, then the edited copy over it (the
# data folder is a link, moved between the two). Appends a line per load, as load does.
ephemeral() {
  local build=$1 port link="$work/ephemeral-data" base kind t0 t1 code answer="$work/csv-$1-ephemeral.json" rss loadavg
  ln -sfn "$data_dir" "$link"
  port=$(free_port)
  (cd "$work/app-$build" && exec env -u ASPNETCORE_URLS -u ASPNETCORE_HTTP_PORTS -u ASPNETCORE_HTTPS_PORTS -u API_DB_PATH -u DATABASE_URL \
    ETL_DATA_DIR="$link" ASPNETCORE_ENVIRONMENT=Production "${server_env[@]}" \
    dotnet ExperimentEtl.dll --urls "http://127.0.0.1:$port") >"$work/server-$build-ephemeral.log" 2>&1 9>&- &
  server_pid=$!
  base="http://127.0.0.1:$port"
  wait_ready "$server_pid" "$base" "$work/server-$build-ephemeral.log" "$ready_timeout" || die "$build ephemeral: the server did not become ready"
  for kind in first edit; do
    [ "$kind" = edit ] && ln -sfn "$edit_dir" "$link"
    loadavg=$(cut -d' ' -f1 /proc/loadavg)
    t0=$EPOCHREALTIME
    code=$(curl -sS --max-time "$run_timeout" -o "$answer" -w '%{http_code}' "$base/csv") || code=000
    t1=$EPOCHREALTIME
    if [ "$code" != 200 ] || ! jq -e '.status == "succeeded"' "$answer" >/dev/null; then
      die "$build ephemeral $kind: /csv answered HTTP $code"
    fi
    rss=$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")
    printf '%s ephemeral %s %s %s %s n/a %s %s\n' "$build" "$kind" "$(jq -r '.duration_seconds' "$answer")" \
      "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$rss" "$loadavg" "$(jq -r '.apply // "n/a"' "$answer")" | tee -a "$results" >&2
  done
  stop_process "$server_pid"
  server_pid=""
}

# data_set_size BUILD: the current generation's tables with their indexes (bytes), and the experiments' dead rows
# and autovacuum runs so far: what repeated change-only reloads leave behind (bloat).
data_set_size() {
  psql -X -Atc "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) || ' (' || sum(pg_total_relation_size(c.oid)) || ' bytes); experiments: '
      || (SELECT n_dead_tup || ' dead rows, ' || autovacuum_count || ' autovacuums' FROM pg_stat_user_tables s
          WHERE s.schemaname = n.nspname AND s.relname = 'experiments')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = (SELECT 'etl_gen_' || generation FROM data_generation) AND c.relkind = 'r' GROUP BY n.nspname" "${url[$1]}"
}

# ---- the sequence -----------------------------------------------------------------------------------------
pg_version=$(psql -X -Atc 'SHOW server_version' "${url[after]}")
declare -A size_first size_last
for build in "${builds[@]}"; do
  load "$build" "${url[$build]}" first "$data_dir"
  size_first[$build]=$(data_set_size "$build")
done
for rep in $(seq 1 "$reps"); do
  for step in "${steps[@]}"; do
    [ "$step" = edit ] && files=$edit_dir || files=$data_dir
    for build in "${builds[@]}"; do load "$build" "${url[$build]}" "$step" "$files"; done
    [ "$step" != edit ] || floor "$edit_dir"
  done
  log "repetition $rep done"
done
for build in "${builds[@]}"; do size_last[$build]=$(data_set_size "$build"); done
if [ "${BENCH_SQLITE:-}" = 1 ]; then
  for build in "${builds[@]}"; do
    db="$work/$build.db"
    load "$build" "$db" first "$data_dir"
    load "$build" "$db" repeat "$data_dir"
    load "$build" "$db" edit "$edit_dir"
    rm -f "$db" "$db-wal" "$db-shm" "$db.etl-state"
    ephemeral "$build"
  done
fi

# ---- report -----------------------------------------------------------------------------------------------
result="$out_dir/changes-$size-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# bench/changes.sh $size ${before_commit:+(before: $before_commit)} ($(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); PostgreSQL $pg_version; .NET $(dotnet --version)"
  echo "after: $(git -C "$repo" describe --always --dirty)${before_commit:+; before: $(git -C "${before_tree:-$before_commit}" describe --always --dirty)}"
  echo "data: $data_dir; edited copy: $edit_dir ($edit)"
  [ ${#server_env[@]} -eq 0 ] || echo "server environment: ${server_env[*]}"
  echo
  echo "every load: build database kind duration_seconds /csv_s peak_RSS_MB change_statements_s load_average apply"
  sed 's/^/  /' "$results"
  echo
  echo "medians (PostgreSQL): build kind /csv_s duration_seconds peak_RSS_MB change_statements_s"
  for build in "${builds[@]}" floor; do
    for kind in first repeat edit back floor; do
      mapfile -t rows < <(awk -v b="$build" -v k="$kind" '$1 == b && $3 == k && $2 == "postgres"' "$results")
      [ ${#rows[@]} -gt 0 ] || continue
      printf '  %-6s %-6s %8s %8s %6s %8s\n' "$build" "$kind" \
        "$(median "$(printf '%s\n' "${rows[@]}" | awk '{ print $5 }')")" \
        "$(median "$(printf '%s\n' "${rows[@]}" | awk '{ print $4 }')")" \
        "$(median "$(printf '%s\n' "${rows[@]}" | awk '{ print $6 }')")" \
        "$(printf '%s\n' "${rows[@]}" | awk '{ print $7 }' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
    done
  done
  echo
  echo "the data set's tables in PostgreSQL (bloat): after the first (full) load, and after the last load"
  for build in "${builds[@]}"; do
    echo "  $build: ${size_first[$build]}"
    echo "  $build: ${size_last[$build]}"
  done
  mapfile -t floors < <(awk '$1 == "floor" { print $5 }' "$results")
  if [ ${#floors[@]} -gt 0 ]; then
    floor_median=$(median "${floors[@]}")
    for build in "${builds[@]}"; do
      mapfile -t edits < <(awk -v b="$build" '$1 == b && $2 == "postgres" && $3 == "edit" { print $5 }' "$results")
      [ ${#edits[@]} -gt 0 ] || continue
      echo "  $build: the edit reload's /csv over the raw floor of the edited files: $(awk -v e="$(median "${edits[@]}")" -v f="$floor_median" 'BEGIN { printf "%.2f", e / f }')x"
    done
  fi
  # How the last edit load of the after build was applied (applied-*), and its change (changes-*).
  for file in "$work"/applied-edit-*.json "$work"/changes-edit-*.json; do
    [ -f "$file" ] || continue
    echo
    echo "the last edit load ($(basename "$file" .json)):"
    jq . "$file"
  done
} | tee "$result"
log "written to ${result#"$repo"/}"
exit
}

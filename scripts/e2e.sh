#!/usr/bin/env bash
# End-to-end check of the real server against PostgreSQL: the seed's test_run.sh without Docker.
#   scripts/e2e.sh
# Without DATABASE_URL it starts a throwaway PostgreSQL 15 cluster (scripts/pg-cluster.sh) and removes it at the end.
# With DATABASE_URL set it uses that database instead: its ETL tables are REPLACED by the bundled sample.
# E2E_EXPECT_DATABASE (postgresql or citus, default postgresql) is what the server must say it runs on (/readyz).
# Phase 1: publish, start the server on a free loopback port, then /setup_test_db, /csv (twice) and /report.
# Phase 2: a second server on the same database reads a copy of the data with one bad row: /csv must answer 422
#          pointing at the bad field, and the first server's /report must be unchanged.
# Phase 3: the README's samples, as written, against the first server (see phase 3 below).
# Needs bash, curl, jq, dotnet and (without DATABASE_URL) PostgreSQL 15's binaries. Prints PASS/FAIL lines;
# exits non-zero on any failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
READY_TIMEOUT=60   # seconds a server may take to answer /readyz
CURL_TIMEOUT=60    # seconds one request may take

for tool in curl jq dotnet; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d -t experiment-etl-e2e.XXXXXX)
pg_dir=""        # the throwaway cluster's folder (its own mktemp: the postgres user must be able to enter it)
server_pids=()
failures=0

cleanup() {
  local status=$?
  set +e
  for pid in "${server_pids[@]}"; do
    stop_process "$pid"
  done
  if [ -n "$pg_dir" ]; then
    "$repo/scripts/pg-cluster.sh" stop "$pg_dir"
    rm -rf "$pg_dir"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# A failure that leaves nothing further worth checking.
die() {
  echo "FAIL: $*"
  for log in "$work"/server-*.log; do
    [ -f "$log" ] || continue
    echo "--- last lines of $(basename "$log") ---"
    tail -n 30 "$log"
  done
  exit 1
}

# Is the file's JSON matched by the jq expression? Prints the JSON on a mismatch.
check_json() {
  local description=$1 file=$2 expression=$3
  if jq -e "$expression" "$file" >/dev/null 2>&1; then
    pass "$description"
  else
    fail "$description (jq: $expression)"
    head -c 2000 "$file"; echo
  fi
}

# GET url; the body goes to the file, the status code to stdout (000 when there was no answer).
get() {
  local url=$1 out=$2
  local code
  code=$(curl -sS --max-time "$CURL_TIMEOUT" -o "$out" -w '%{http_code}' "$url" 2>"$out.err") || true
  echo "${code:-000}"
}

# GET that must answer the expected status.
expect_status() {
  local description=$1 expected=$2 url=$3 out=$4 code
  code=$(get "$url" "$out")
  if [ "$code" = "$expected" ]; then
    pass "$description: HTTP $code"
    return 0
  fi
  fail "$description: expected HTTP $expected, got $code"
  cat "$out.err" 2>/dev/null
  head -c 2000 "$out" 2>/dev/null; echo
  return 1
}

# start_server NAME DATA_DIR: starts the published server on a free loopback port; sets $base_url.
start_server() {
  local name=$1 data_dir=$2 port pid attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    # From the publish folder, as in the container: it is the content root, where appsettings.json is read.
    (cd "$work/app" && exec env -u ASPNETCORE_URLS -u ASPNETCORE_HTTP_PORTS -u ASPNETCORE_HTTPS_PORTS -u API_DB_PATH \
      DATABASE_URL="$database_url" ETL_DATA_DIR="$data_dir" ASPNETCORE_ENVIRONMENT=Production \
      dotnet ExperimentEtl.dll --urls "http://127.0.0.1:$port") >"$work/server-$name.log" 2>&1 &
    pid=$!
    server_pids+=("$pid")
    base_url="http://127.0.0.1:$port"

    local deadline=$((SECONDS + READY_TIMEOUT)) code
    while :; do
      if ! kill -0 "$pid" 2>/dev/null; then
        # On a shared machine another process may take the free port before the server binds it: try another.
        if [ "$attempt" -lt 3 ] && grep -q 'address already in use' "$work/server-$name.log"; then continue 2; fi
        die "server $name exited before it was ready"
      fi
      code=$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "$base_url/readyz" 2>/dev/null) || code=000
      [ "$code" = 200 ] && break
      [ "$SECONDS" -lt "$deadline" ] || die "server $name not ready within ${READY_TIMEOUT}s (last /readyz: HTTP $code)"
      sleep 0.5
    done
    pass "server $name ready on $base_url (pid $pid)"
    return 0
  done
}

# ---- database ----------------------------------------------------------------------------------------
if [ -n "${DATABASE_URL:-}" ]; then
  database_url=$DATABASE_URL
  echo "using DATABASE_URL from the environment (its ETL tables will be replaced)"
else
  pg_dir=$(mktemp -d -t experiment-etl-e2e-pg.XXXXXX)
  database_url=$("$repo/scripts/pg-cluster.sh" start "$pg_dir") || die "could not start a PostgreSQL cluster"
  pass "throwaway PostgreSQL started (${database_url##*@})"
fi

# ---- build -------------------------------------------------------------------------------------------
echo "publishing src/ExperimentEtl (Release)..."
if dotnet publish "$repo/src/ExperimentEtl" -c Release -o "$work/app" -p:UseAppHost=false -nologo -v quiet \
    >"$work/publish.log" 2>&1; then
  pass "dotnet publish"
else
  tail -n 40 "$work/publish.log"
  die "dotnet publish"
fi

# ---- phase 1: the seed's walk-through ----------------------------------------------------------------
start_server main "$repo/data"
main_url=$base_url

expect_status "GET /healthz" 200 "$main_url/healthz" "$work/healthz.json" &&
  check_json "/healthz says ok" "$work/healthz.json" '.status == "ok"'
expect_status "GET /readyz" 200 "$main_url/readyz" "$work/readyz.json" &&
  check_json "/readyz: the server runs on ${E2E_EXPECT_DATABASE:-postgresql}" "$work/readyz.json" \
    ".database == \"${E2E_EXPECT_DATABASE:-postgresql}\""

expect_status "GET /setup_test_db" 200 "$main_url/setup_test_db" "$work/setup.json" &&
  check_json "/setup_test_db answers a message" "$work/setup.json" '.message | type == "string" and length > 0'

for attempt in 1 2; do
  if expect_status "GET /csv (run $attempt)" 200 "$main_url/csv" "$work/csv-$attempt.json"; then
    check_json "/csv run $attempt succeeded" "$work/csv-$attempt.json" '.status == "succeeded"'
    check_json "/csv run $attempt loaded the three files" "$work/csv-$attempt.json" \
      '[.files[].file] | sort == ["compounds.csv", "user_experiments.csv", "users.csv"]'
    check_json "/csv run $attempt loaded every row read" "$work/csv-$attempt.json" \
      'all(.files[]; .rows_loaded == .rows_read and .rows_read > 0)'
  fi
done
if [ -s "$work/csv-1.json" ] && [ -s "$work/csv-2.json" ]; then
  if [ "$(jq -r .run_id "$work/csv-1.json")" != "$(jq -r .run_id "$work/csv-2.json")" ]; then
    pass "the two runs have distinct run ids"
  else
    fail "the two runs have the same run id"
  fi
fi

check_report() {
  local file=$1 label=$2
  check_json "$label: average_experiment_count == 1.1" "$file" '.average_experiment_count == 1.1'
  check_json "$label: 10 user_reports" "$file" '.user_reports | length == 10'
  check_json "$label: user 1 is Alice, count 2, fav Compound B" "$file" \
    '.user_reports[] | select(.user_id == 1) | .name == "Alice" and .count == 2 and .fav_compound == "Compound B" and .fav_compound_id == 2'
  check_json "$label: user 2 is Bob, count 1, fav Compound A" "$file" \
    '.user_reports[] | select(.user_id == 2) | .name == "Bob" and .count == 1 and .fav_compound == "Compound A" and .fav_compound_id == 1'
}

expect_status "GET /report" 200 "$main_url/report" "$work/report-before.json" &&
  check_report "$work/report-before.json" "/report"

# ---- phase 2: invalid input leaves the data untouched -------------------------------------------------
bad_data="$work/bad-data"
mkdir -p "$bad_data"
cp "$repo"/data/*.csv "$bad_data/"
# Line 3 of user_experiments.csv (the header is line 1): the run time becomes "ten".
awk 'BEGIN { FS = OFS = "," } NR == 3 { $NF = "\tten" } { print }' "$repo/data/user_experiments.csv" \
  >"$bad_data/user_experiments.csv"
sed -n 3p "$bad_data/user_experiments.csv" | grep -q 'ten$' || die "could not prepare the bad data set"

start_server bad "$bad_data"
bad_url=$base_url

if expect_status "GET /csv on a bad row" 422 "$bad_url/csv" "$work/csv-bad.json"; then
  check_json "the 422 lists errors" "$work/csv-bad.json" '.errors | type == "array" and length >= 1'
  check_json "errors[0] names user_experiments.csv, line 3, column experiment_run_time" "$work/csv-bad.json" \
    '.errors[0] | .file == "user_experiments.csv" and .line == 3 and .column == "experiment_run_time"'
fi

if expect_status "GET /report after the failed run" 200 "$main_url/report" "$work/report-after.json"; then
  check_report "$work/report-after.json" "/report after the failed run"
  if [ "$(jq -S . "$work/report-before.json")" = "$(jq -S . "$work/report-after.json")" ]; then
    pass "/report is unchanged by the failed run"
  else
    fail "/report changed after the failed run"
    diff <(jq -S . "$work/report-before.json") <(jq -S . "$work/report-after.json") || true
  fi
fi

# ---- phase 3: the README's samples -------------------------------------------------------------------
# Each ```bash block of README.md that follows a line `<!-- e2e: runs in scripts/e2e.sh -->` runs here as written,
# from the repository's root, against the first server: `curl` is a function that sends localhost:8000 to that server
# and fails on an HTTP error status, so a sample that stops working fails this check. Every `curl` line of the
# README's code blocks must be in such a block, so a new sample cannot be left out.
readme=$repo/README.md
marker='<!-- e2e: runs in scripts/e2e.sh -->'
mkdir -p "$work/readme"
if awk -v marker="$marker" -v out="$work/readme/sample-" '
     $0 == marker { armed = 1; next }
     /^```/ && !inside { inside = 1; marked = armed; armed = 0; if (marked) n++; next }
     /^```/ && inside { inside = 0; marked = 0; next }
     inside && marked { print > (out n ".sh"); next }
     inside && /^[[:space:]]*curl / { print "unmarked: README.md:" FNR ": " $0; bad = 1 }
     END { exit bad }
   ' "$readme" >"$work/readme/unmarked.txt"; then
  pass "every curl sample in README.md is marked to run here"
else
  fail "README.md has curl samples e2e does not run"
  cat "$work/readme/unmarked.txt"
fi
samples=("$work"/readme/sample-*.sh)
[ -f "${samples[0]}" ] || fail "README.md has no sample marked '$marker'"
for sample in "${samples[@]}"; do
  [ -f "$sample" ] || continue
  number=${sample##*-}
  name="README sample ${number%.sh}: $(grep -m 1 -v '^[[:space:]]*#' "$sample" || true)"
  # shellcheck disable=SC2016 # the function is expanded by the inner bash
  if (cd "$repo" && E2E_HOST=${main_url#http://} CURL_TIMEOUT=$CURL_TIMEOUT bash -euo pipefail -c '
        curl() { command curl --fail-with-body -sS --max-time "$CURL_TIMEOUT" "${@//localhost:8000/$E2E_HOST}"; }
        . "$1"' readme-sample "$sample") >"$sample.out" 2>&1; then
    pass "$name"
  else
    fail "$name"
    cat "$sample"
    echo "--- its output ---"
    head -c 2000 "$sample.out"; echo
  fi
done

# ---- result ------------------------------------------------------------------------------------------
if [ "$failures" -eq 0 ]; then
  echo "e2e: all checks passed"
else
  echo "e2e: $failures check(s) FAILED"
  for log in "$work"/server-*.log; do
    echo "--- last lines of $(basename "$log") ---"
    tail -n 30 "$log"
  done
  exit 1
fi

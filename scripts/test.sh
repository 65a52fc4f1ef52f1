#!/usr/bin/env bash
# The whole test suite in one command, on a fresh Debian/Ubuntu machine that has only the .NET SDK:
#   scripts/test.sh [dotnet test arguments...]
#   1. installs what is missing (PostgreSQL 15, Chromium and fonts for the dashboard test, curl, jq, shellcheck, Node.js
#      and npm for redocly and the DuckDB reader the Parquet tests check with) with apt-get, Citus with
#      ../shared/citus/install.sh (beside the project), and that reader with npm ci in tests/oracle;
#   2. checks the sources: shellcheck on every script, `dotnet format --verify-no-changes` (one check each);
#   3. starts a throwaway PostgreSQL 15 cluster (scripts/pg-cluster.sh) and a Citus cluster (scripts/citus-cluster.sh:
#      a coordinator and two workers) and exports ETL_TEST_DATABASE_URL and ETL_TEST_CITUS_URL (each unless already set);
#   4. runs `dotnet test` (every backend: the default ephemeral SQLite, a SQLite file, PostgreSQL, Citus; the browser test);
#   5. runs scripts/api-clients.sh: redocly lints the OpenAPI document, and a client Kiota generates from it walks the API;
#   6. runs scripts/e2e.sh against a database of the PostgreSQL cluster, then against the Citus cluster it started;
#   7. stops the clusters and ends with one plain line: 'N passed, N failed' (the source checks, the tests, the client
#      checks and the e2e checks together).
# Exits non-zero when anything failed. Installing needs root (CI is root); without root it says what to install.
# Environment (where to look, e.g. to check the install path without moving system folders):
#   PG_BIN    PostgreSQL 15's server binaries       (default /usr/lib/postgresql/15/bin)
#   CHROMIUM  the browser the dashboard test drives (default /usr/bin/chromium)
# When one is not there, the package that provides it is (re)installed and the default location is used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

default_pg_bin=/usr/lib/postgresql/15/bin
default_chromium=/usr/bin/chromium
PG_BIN=${PG_BIN:-$default_pg_bin}
CHROMIUM=${CHROMIUM:-$default_chromium}

step() { echo "test.sh: $*"; }

# ---- 1. what a fresh machine lacks ----------------------------------------------------------------------------
command -v dotnet >/dev/null || { echo "test.sh: the .NET SDK is not installed (see global.json for the version)" >&2; exit 1; }
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
command -v mkfifo >/dev/null || missing+=(coreutils)
command -v runuser >/dev/null || missing+=(util-linux)
[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || missing+=(postgresql-15)
# /usr/bin/psql is Debian's wrapper: it is there even when the client it runs (in /usr/lib/postgresql) is not.
psql --version >/dev/null 2>&1 || missing+=(postgresql-client-15)
[ -x "$CHROMIUM" ] || missing+=(chromium)
command -v fc-list >/dev/null || missing+=(fontconfig fonts-dejavu-core)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  step "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  # --reinstall: a package dpkg believes installed whose files are gone (a moved or deleted folder) comes back too.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall --no-install-recommends "${missing[@]}" >/dev/null
  [ -x "$PG_BIN/initdb" ] || PG_BIN=$default_pg_bin
  [ -x "$CHROMIUM" ] || CHROMIUM=$default_chromium
  for needed in "$PG_BIN/initdb" "$CHROMIUM"; do
    [ -x "$needed" ] || { echo "test.sh: $needed is still missing after apt-get install" >&2; exit 1; }
  done
else
  step "nothing to install (PostgreSQL in $PG_BIN, Chromium at $CHROMIUM)"
fi
export PG_BIN CHROMIUM

# DuckDB's Node.js client (tests/oracle/package-lock.json): the independent reader of the Parquet report.
step "installing the tests' DuckDB reader (npm ci in tests/oracle)"
npm ci --prefix tests/oracle --no-audit --no-fund --loglevel=error

# Citus (distributed PostgreSQL) has no Debian package: the tarball and script beside the project build it, once
# (about 2 minutes; a no-op after), before any server starts, as it may upgrade the server package.
citus_install=../shared/citus/install.sh
if [ -n "${ETL_TEST_CITUS_URL:-}" ]; then
  step "using the Citus coordinator in ETL_TEST_CITUS_URL"
elif [ -f "$citus_install" ] && [ "$(id -u)" -eq 0 ]; then
  step "installing Citus if missing ($citus_install)"
  bash "$citus_install"
else
  step "cannot install Citus ($citus_install absent, or not root): the Citus tests will fail and say how to install it"
fi

passed=0
failed=0

# ---- 2. the sources: one check each, counted in the closing line; a failure does not stop the tests ---------------
check() {
  local name=$1
  shift
  step "checking: $name"
  if "$@"; then
    passed=$((passed + 1))
    step "$name: passed"
  else
    failed=$((failed + 1))
    step "$name: FAILED (see above)"
  fi
}
# .shellcheckrc makes shellcheck follow the files the scripts source.
check "shellcheck on every script" shellcheck scripts/*.sh bench/*.sh .ci/run
check "dotnet format --verify-no-changes" dotnet format ExperimentEtl.slnx --verify-no-changes

# ---- 3. a throwaway PostgreSQL ---------------------------------------------------------------------------------
pg_dir=$(mktemp -d)
citus_dir=""
log=$(mktemp)
cleanup() {
  step "stopping PostgreSQL"
  scripts/pg-cluster.sh stop "$pg_dir" || true
  if [ -n "$citus_dir" ]; then
    scripts/citus-cluster.sh stop "$citus_dir" || true
    rm -rf "$citus_dir"
  fi
  rm -rf "$pg_dir" "$log"
}
trap cleanup EXIT
step "starting a throwaway PostgreSQL 15 (scripts/pg-cluster.sh)"
ETL_TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$pg_dir")
export ETL_TEST_DATABASE_URL
step "PostgreSQL is on ${ETL_TEST_DATABASE_URL##*@}"
if [ -z "${ETL_TEST_CITUS_URL:-}" ]; then
  citus_dir=$(mktemp -d)
  step "starting a throwaway Citus cluster: a coordinator and two workers (scripts/citus-cluster.sh)"
  if ETL_TEST_CITUS_URL=$(scripts/citus-cluster.sh start "$citus_dir"); then
    export ETL_TEST_CITUS_URL
    step "the Citus coordinator is on ${ETL_TEST_CITUS_URL##*@}"
  else
    step "no Citus cluster (scripts/citus-cluster.sh says why above): the Citus tests will fail and say why"
  fi
fi

# ---- 4. dotnet test -------------------------------------------------------------------------------------------
step "running dotnet test $*"
set +e
dotnet test "$@" 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
set -e
summary=$(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" | tail -n 1 || true)
if [ -n "$summary" ]; then
  # shellcheck disable=SC2046 # three numbers: failed, passed, skipped
  set -- $(echo "$summary" | grep -Eo '[0-9]+')
  passed=$((passed + $2))
  failed=$((failed + $1))
  step "dotnet test: $2 passed, $1 failed, $3 skipped"
fi
if [ -z "$summary" ]; then
  # Seen once with exit status 0: the build stopped after the service, and no test ran. That is not a pass.
  step "dotnet test ran no tests (exit status $test_status; see above)"
  failed=$((failed + 1))
  [ "$test_status" -ne 0 ] || test_status=1
fi

# ---- 5. the OpenAPI document, as client developers use it -------------------------------------------------------
step "running scripts/api-clients.sh"
: >"$log"
set +e
scripts/api-clients.sh 2>&1 | tee "$log"
clients_status=${PIPESTATUS[0]}
set -e
clients_ok=$(grep -c '^PASS: ' "$log" || true)
clients_bad=$(grep -c '^FAIL: ' "$log" || true)
clients_summary=$(grep -Eo 'Failed: +[0-9]+, Passed: +[0-9]+' "$log" | tail -n 1 || true)
if [ -n "$clients_summary" ]; then
  # shellcheck disable=SC2046 # two numbers: failed, passed
  set -- $(echo "$clients_summary" | grep -Eo '[0-9]+')
  clients_ok=$((clients_ok + $2))
  clients_bad=$((clients_bad + $1))
fi
if [ "$clients_status" -ne 0 ] && [ "$clients_bad" -eq 0 ]; then
  clients_bad=1 # it stopped before checking anything
fi
passed=$((passed + clients_ok))
failed=$((failed + clients_bad))
step "api-clients: $clients_ok passed, $clients_bad failed"

# ---- 6. the end-to-end script ----------------------------------------------------------------------------------
# The seed's test_run.sh, without Docker, on its own database of the PostgreSQL server, then on the Citus cluster.
e2e_status=0
run_e2e() {
  local name=$1 database=$2 expect=$3 status
  step "running scripts/e2e.sh on $name"
  : >"$log"
  set +e
  DATABASE_URL=$database E2E_EXPECT_DATABASE=$expect scripts/e2e.sh 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  local ok bad
  ok=$(grep -c '^PASS: ' "$log" || true)
  bad=$(grep -c '^FAIL: ' "$log" || true)
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
    bad=1 # it stopped before checking anything
  fi
  [ "$status" -eq 0 ] || e2e_status=$status
  passed=$((passed + ok))
  failed=$((failed + bad))
  step "e2e on $name: $ok passed, $bad failed"
}
if psql "$ETL_TEST_DATABASE_URL" -qc "CREATE DATABASE e2e" >/dev/null; then
  run_e2e PostgreSQL "${ETL_TEST_DATABASE_URL%/*}/e2e" postgresql
else
  step "could not create the e2e database on PostgreSQL"
  failed=$((failed + 1)) e2e_status=1
fi
# On the cluster started above, its coordinator's own database (the Citus tests make their own). A cluster given in
# ETL_TEST_CITUS_URL is someone else's: its database is left alone.
if [ -n "$citus_dir" ] && [ -n "${ETL_TEST_CITUS_URL:-}" ]; then
  run_e2e Citus "$ETL_TEST_CITUS_URL" citus
elif [ -n "${ETL_TEST_CITUS_URL:-}" ]; then
  step "e2e on Citus not run: ETL_TEST_CITUS_URL names a cluster this script did not start"
else
  step "no Citus cluster: e2e on Citus not run"
  failed=$((failed + 1)) e2e_status=1
fi

# ---- 7. one closing line for tools that read it ----------------------------------------------------------------
cleanup
trap - EXIT
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$test_status" -eq 0 ] && [ "$clients_status" -eq 0 ] && [ "$e2e_status" -eq 0 ]

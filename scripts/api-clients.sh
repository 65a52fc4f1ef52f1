#!/usr/bin/env bash
# What a client developer gets from the OpenAPI document, checked end to end:
#   scripts/api-clients.sh
#   1. builds the service, starts it on a free loopback port (its default ephemeral SQLite database) and saves
#      /openapi/v1.json;
#   2. lints the document with redocly (tests/openapi: @redocly/cli pinned by its package-lock.json, the recommended
#      rules): no error allowed;
#   3. generates a C# client from it with Kiota (.config/dotnet-tools.json) and runs tests/ExperimentEtl.ClientTests,
#      which walk the API with that client.
# Needs dotnet, curl, node and npm. Prints PASS/FAIL lines and the client tests' dotnet test summary (scripts/test.sh
# counts both); exits non-zero on any failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
READY_TIMEOUT=60 # seconds the server may take to answer /readyz

for tool in curl dotnet node npm; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d -t experiment-etl-clients.XXXXXX)
server_pid=""
failures=0
cleanup() {
  local status=$?
  [ -z "$server_pid" ] || stop_process "$server_pid"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---- 1. the document, from the running service --------------------------------------------------------------
echo "building src/ExperimentEtl..."
dotnet build "$repo/src/ExperimentEtl" -nologo -v quiet -o "$work/app" >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log"; fail "dotnet build"; exit 1; }
port=$(free_port)
(cd "$work/app" && exec env -u DATABASE_URL -u API_DB_PATH -u API_KEY -u ASPNETCORE_URLS -u ASPNETCORE_HTTP_PORTS \
  -u ASPNETCORE_HTTPS_PORTS ASPNETCORE_ENVIRONMENT=Production dotnet ExperimentEtl.dll --urls "http://127.0.0.1:$port") \
  >"$work/server.log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
  kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$work/server.log"; fail "the server exited before it was ready"; exit 1; }
  [ "$SECONDS" -lt "$deadline" ] || { tail -n 30 "$work/server.log"; fail "the server was not ready within ${READY_TIMEOUT}s"; exit 1; }
  sleep 0.5
done
document="$work/openapi.json"
if curl -fsS --max-time 30 -o "$document" "http://127.0.0.1:$port/openapi/v1.json"; then
  pass "GET /openapi/v1.json"
else
  fail "GET /openapi/v1.json"
  exit 1
fi
stop_process "$server_pid"
server_pid=""

# ---- 2. redocly lint ----------------------------------------------------------------------------------------
lint_dir="$repo/tests/openapi"
if [ ! -x "$lint_dir/node_modules/.bin/redocly" ]; then
  echo "installing @redocly/cli (npm ci in tests/openapi)..."
  (cd "$lint_dir" && npm ci --no-audit --no-fund >"$work/npm.log" 2>&1) || { tail -n 30 "$work/npm.log"; fail "npm ci in tests/openapi"; }
fi
if (cd "$lint_dir" && ./node_modules/.bin/redocly lint --config redocly.yaml --format stylish "$document"); then
  pass "redocly lint (recommended rules): no errors"
else
  fail "redocly lint (recommended rules) reported errors"
fi

# ---- 3. the generated client --------------------------------------------------------------------------------
(cd "$repo" && dotnet tool restore >"$work/tools.log" 2>&1) || { cat "$work/tools.log"; fail "dotnet tool restore"; exit 1; }
set +e
dotnet test "$repo/tests/ExperimentEtl.ClientTests" -nologo "-p:OpenApiDocument=$document" 2>&1 | tee "$work/client-tests.log"
status=${PIPESTATUS[0]}
set -e
if ! grep -Eq 'Failed: +[0-9]+, Passed: +[0-9]+' "$work/client-tests.log"; then
  fail "the generated client's tests did not run (see above)"
elif [ "$status" -ne 0 ]; then
  failures=$((failures + 1)) # counted from the summary above
fi

if [ "$failures" -eq 0 ]; then
  echo "api-clients: all checks passed"
else
  echo "api-clients: $failures check(s) FAILED"
  exit 1
fi

#!/usr/bin/env bash
# Fault drill of issue 9: one large load while 32 clients read, on one backend.
#   bench/readers-drill.sh DATA_DIR [DATABASE_URL]
# DATA_DIR holds the large data set (bench/DataGenerator --users 300000 --experiments 3000000 --compounds 3000 --out DIR).
# Without DATABASE_URL the service runs on its default (ephemeral SQLite) database.
# The service first loads the bundled sample, then loads DATA_DIR while 32 readers loop over /report,
# /api/users pages and /api/summary until a few seconds after the load (at most 20,000 requests or 15 minutes each).
# It prints the run's answer and a count of every (endpoint, status) and every data set /api/summary showed:
# every answer must be 200 and every summary the old (10/11) or the new data set, never anything else.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
data=${1:?usage: bench/readers-drill.sh DATA_DIR [DATABASE_URL]}
database=${2:-}
for tool in curl jq dotnet; do command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }; done

work=$(mktemp -d -t experiment-etl-drill.XXXXXX)
server_pid=""
readers=()
cleanup() {
  touch "$work/stop"
  [ ${#readers[@]} -eq 0 ] || wait "${readers[@]}" 2>/dev/null || true
  [ -z "$server_pid" ] || stop_process "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

dotnet publish "$repo/src/ExperimentEtl" -c Release -o "$work/app" -p:UseAppHost=false -nologo -v quiet >"$work/publish.log" 2>&1 ||
  { tail -n 40 "$work/publish.log" >&2; exit 1; }
mkdir "$work/data"
cp "$repo"/data/*.csv "$work/data/"
port=$(free_port)
base="http://127.0.0.1:$port"
DATABASE_URL=$database ETL_DATA_DIR="$work/data" Logging__LogLevel__Default=Warning \
  dotnet "$work/app/ExperimentEtl.dll" --urls "$base" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/csv" >/dev/null || { echo "the first load failed" >&2; cat "$work/server.log" >&2; exit 1; }
cp "$data"/*.csv "$work/data/" # The next run reads the large data set.
users=$(($(wc -l <"$data/users.csv") - 1))

reader() {
  local i=0 deadline=$((SECONDS + 900))
  while [ ! -e "$work/stop" ] && [ $SECONDS -lt $deadline ] && [ $i -lt 20000 ]; do
    i=$((i + 1))
    case $((i % 3)) in
      0) echo "report $(curl -s -m 60 -o /dev/null -w '%{http_code}' "$base/report")" ;;
      1) echo "users $(curl -s -m 60 -o /dev/null -w '%{http_code}' "$base/api/users?limit=100&after=$((RANDOM * 32768 % users))")" ;;
      2) echo "summary $(curl -s -m 60 "$base/api/summary" | jq -rc '"\(.users)/\(.experiments)"' 2>/dev/null || echo unreadable)" ;;
    esac
  done >"$work/reader-$1.log"
}
for n in $(seq 1 32); do reader "$n" & readers+=($!); done

start=$SECONDS
answer=$(curl -s -m 3600 -w '\n%{http_code}' -X POST "$base/api/etl/runs?wait=true")
echo "run: HTTP $(tail -n 1 <<<"$answer") $(head -n 1 <<<"$answer" | jq -c '{status, duration_seconds, message}') after $((SECONDS - start)) s"
sleep 3
touch "$work/stop"
wait "${readers[@]}"
readers=()
echo "answers (count, endpoint, status or users/experiments):"
cat "$work"/reader-*.log | sort | uniq -c | sort -rn

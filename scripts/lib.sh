# shellcheck shell=bash
# Shell helpers shared by scripts/pg-cluster.sh, scripts/e2e.sh and the bench/ scripts (source it; it runs nothing).

# Prints a TCP port on 127.0.0.1 that nothing listens on; fails after 50 tries. It is taken below the kernel's ephemeral
# range: there a port may be the local end of one of a busy machine's outgoing connections, which the connect test
# below cannot see and a server then cannot bind.
free_port() {
  local port low=32768 _
  read -r low _ 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range || true
  [ "$low" -ge 21000 ] || low=40000 # an unusual range: the old choice
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % (low - 20000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  echo "no free port found" >&2
  return 1
}

# Stops a child process of this shell: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_process() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Waits until the service started as process $1 answers $2/readyz with 200, at most $4 seconds. Fails, printing the end
# of its log $3, when the process exits first; fails when the time runs out.
wait_ready() {
  local pid=$1 base=$2 log=$3 deadline=$((SECONDS + $4)) code
  while :; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; echo "the server exited" >&2; return 1; }
    code=$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "$base/readyz" 2>/dev/null) || code=000
    [ "$code" = 200 ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || { echo "not ready within $4 s (last /readyz: HTTP $code)" >&2; return 1; }
    sleep 0.2
  done
}

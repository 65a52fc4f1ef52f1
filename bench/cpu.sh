# Sourced by bench/run.sh: CPU seconds spent during a measurement, so that "both cores busy" can be read as
# (CPU seconds) / (wall seconds), and so that runs on a shared machine can be compared by the work they did.
# Counts the throwaway cluster's processes (the postmaster, its live children, and what its exited children used),
# the benchmark's own exited children (psql) and, for the service, its process. Linux /proc only.
# shellcheck shell=bash

clock_ticks=$(getconf CLK_TCK)

# proc_ticks PID [all]: utime+stime of PID, with "all" also what its exited, reaped children used; 0 once gone.
proc_ticks() {
  # After "pid (comm) " the fields shift by two: utime is $12, stime $13, cutime $14, cstime $15.
  awk -v all="${2:-}" '{ sub(/^.*\) /, ""); print $12 + $13 + (all ? $14 + $15 : 0) }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# cpu_ticks [SERVER_PID]: the cluster's ticks + this script's reaped children + the server's, now.
cpu_ticks() {
  local total pm pid
  total=$(proc_ticks $$ all)
  [ -z "${1:-}" ] || total=$((total + $(proc_ticks "$1")))
  if [ -n "$pg_dir" ] && pm=$(head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null); then
    total=$((total + $(proc_ticks "$pm" all)))
    for pid in $(pgrep -P "$pm"); do total=$((total + $(proc_ticks "$pid"))); done
  fi
  echo "$total"
}

# cpu_ticks_settled: cpu_ticks (the cluster and this script, no server) once the last psql session's backend is gone (waits 5 s at most, then says so). It exits after psql does, and what it
# used reaches the postmaster's count only when the postmaster has reaped it: read at once, the typed floor's key
# build was missing from 2 of 3 repetitions (1.9 and 2.7 CPU s for 10–12 s of work).
cpu_ticks_settled() {
  local pm wait
  if [ -n "$pg_dir" ] && pm=$(head -n 1 "$pg_dir/data/postmaster.pid" 2>/dev/null); then
    for wait in $(seq 1 50); do
      # No client backend left, alive or exited and not yet reaped; the postmaster's own helpers (checkpointer, …) stay.
      # shellcheck disable=SC2009 # one pass over state and command line: zombies (Z) and live client backends alike
      [ "$(ps -o stat=,cmd= --ppid "$pm" | grep -c -e '^Z' -e 'postgres: postgres ')" -eq 0 ] && break
      [ "$wait" -lt 50 ] || log "cpu: a client backend was still there after 5 s; this CPU figure may miss some of its work"
      sleep 0.1
    done
  fi
  cpu_ticks "" # no server process: the cluster and this script only
}

# cpu_seconds TICKS_BEFORE TICKS_AFTER
cpu_seconds() { awk -v a="$1" -v b="$2" -v hz="$clock_ticks" 'BEGIN { printf "%.1f", (b - a) / hz }'; }

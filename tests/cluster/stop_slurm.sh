#!/usr/bin/env bash
# Stop the daemons tests/cluster/start_slurm.sh started (by pid file, never by name).
# Usage: tests/cluster/stop_slurm.sh [STATE_DIR] [--munge]   (--munge also stops munged)
set -uo pipefail
STATE="${TMPDIR:-/tmp}/cnnlab_slurm"; STOP_MUNGE=0
for a in "$@"; do case "$a" in --munge) STOP_MUNGE=1;; *) STATE="$a";; esac; done

stop_pidfile() {  # $1 pidfile
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $(basename "$1" .pid) ($pid)"
  fi
  rm -f "$1"
}
# cancel remaining jobs first so no orphaned job steps keep running
command -v scancel >/dev/null && scancel --user=root --full 2>/dev/null || true
sleep 1
for f in "$STATE"/run/slurmd-*.pid; do stop_pidfile "$f"; done
stop_pidfile "$STATE/run/slurmctld.pid"
if [ $STOP_MUNGE = 1 ]; then stop_pidfile /run/munge/munged.pid; fi
exit 0

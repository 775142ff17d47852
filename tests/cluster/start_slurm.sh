#!/usr/bin/env bash
# A real single-node SLURM on localhost for `make test-cluster` (Debian's slurm-wlm, no systemd,
# no accounting database). Installs slurm-wlm and munge when missing; needs root.
# Usage: tests/cluster/start_slurm.sh [STATE_DIR]   (default ${TMPDIR:-/tmp}/cnnlab_slurm)
# Idempotent: run again while the daemons are up, it only checks that the node is idle.
# The node has one fake GPU (a generic resource backed by /dev/null): enough for SLURM to run
# GPU jobs one at a time, which is what the cluster test checks.
set -euo pipefail
STATE="${1:-${TMPDIR:-/tmp}/cnnlab_slurm}"
CONF_DIR=/etc/slurm                      # default location read by sbatch/squeue/sinfo (no SLURM_CONF needed)
NODE=localhost

[ "$(id -u)" = 0 ] || { echo "start_slurm.sh: run as root (it writes /etc/slurm and starts daemons)" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi

# topology as slurmd sees it (else slurmd logs "Node reconfigured socket/core boundaries")
HW=$(slurmd -C | head -1)
hw() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$HW"; }
CPUS=$(hw CPUs); SOCKETS=$(hw SocketsPerBoard); CORES=$(hw CoresPerSocket); THREADS=$(hw ThreadsPerCore)
# RealMemory must be <= what slurmd detects, else node goes INVAL/DRAIN; keep ~5% headroom.
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2/1024*0.95}' /proc/meminfo)

mkdir -p "$STATE"/{ctld,log,run} "$STATE/spool/slurmd-$NODE" "$CONF_DIR"

# ---- slurm.conf / gres.conf (rewritten only if changed) ------------------------------
tmp=$(mktemp)
cat > "$tmp" <<EOF
ClusterName=cnnlab
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool/slurmd-%n
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd-%n.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
# frequent backfill; note backfill alone does NOT let a time-limited CPU job pass a queued GPU job
# on this single node (the node is reserved for the blocked job) -> see PriorityTier below
SchedulerParameters=bf_interval=2,bf_continue
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, every job is given ALL node memory and jobs serialize on memory, not on GPU
DefMemPerCPU=1024
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=2
# Same node, separate lower-tier partition for GPU jobs. With ONE partition (or two equal tiers) a GPU job
# waiting for the GPU reserves the node and every later CPU job waits ("Priority" / "reserved for jobs in
# higher priority partitions"). CPU jobs in the higher tier "debug" are always considered first.
PartitionName=gpu Nodes=$NODE Default=NO MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=1
EOF
changed=0
if ! cmp -s "$tmp" "$CONF_DIR/slurm.conf"; then cp "$tmp" "$CONF_DIR/slurm.conf"; changed=1; fi
# Fake GPU. Slurm 22.05 drops a gpu GRES that has no File= ("Removing file-less GPU ... from
# final GRES list" -> node INVAL "gres/gpu count reported lower than configured (0 < 1)"),
# so point File= at a real device node: /dev/nvidia0 if present, else /dev/null.
# With task/none (no cgroup device constraint) nothing is actually fenced; Slurm still sets
# CUDA_VISIBLE_DEVICES=0 for jobs that request --gres=gpu:1. Used as a scheduling token.
GPU_FILE=/dev/null; [ -e /dev/nvidia0 ] && GPU_FILE=/dev/nvidia0
printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s Count=1\n' "$NODE" "$GPU_FILE" > "$tmp"
if ! cmp -s "$tmp" "$CONF_DIR/gres.conf"; then cp "$tmp" "$CONF_DIR/gres.conf"; changed=1; fi
rm -f "$tmp"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---- munge --------------------------------------------------------------------------
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  (command -v mungekey >/dev/null && mungekey -c -f) || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
fi
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 20); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi
munge -n </dev/null | unmunge >/dev/null || { echo "munged not working" >&2; exit 1; }

# ---- slurmctld / slurmd ---------------------------------------------------------------
if alive "$STATE/run/slurmctld.pid"; then
  [ $changed = 1 ] && scontrol reconfigure || true
else
  /usr/sbin/slurmctld        # daemonizes; -c would discard saved state (we keep it)
fi
if ! alive "$STATE/run/slurmd-$NODE.pid"; then
  /usr/sbin/slurmd -N "$NODE"   # hostname is not 'localhost', so force the node name
fi

# ---- wait for the node to be idle ------------------------------------------------------
for i in $(seq 60); do
  st=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null || true)
  case "$st" in
    idle|mixed|allocated) echo "slurm up: node $NODE $st ($(sinfo -h -o '%P: %c cpus, %m MB, %G' | paste -sd ';' -))"; exit 0;;
    *drain*|*down*|*inval*)
      # e.g. after a previous unclean stop; clear it once
      [ $i -gt 3 ] && scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true;;
  esac
  sleep 1
done
echo "node $NODE not idle after 60s (state: ${st:-?}); see $STATE/log/" >&2
sinfo -R >&2 || true
exit 1

#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on this machine, FOR TESTING ONLY (it is
# how scripts/slurm/test-local.sh runs the sweep scripts under a real Slurm).
# It runs munged, slurmctld and slurmd as root with no accounting, no cgroups
# (proctrack/linuxproc, task/none) and one partition holding this machine.
#
#   scripts/slurm/local-cluster.sh install   apt-get install slurm-wlm munge if missing (root)
#   scripts/slurm/local-cluster.sh start     write the config, start the daemons, wait for the node
#   scripts/slurm/local-cluster.sh status    sinfo and the daemons' pids
#   scripts/slurm/local-cluster.sh stop      stop the daemons it started (the config stays)
#   scripts/slurm/local-cluster.sh env       print the export line for sbatch/squeue/scontrol
#
# Everything lives in $SLURM_LOCAL_DIR (default /tmp/painters-slurm-cluster):
# slurm.conf, state, spool, logs, pid files. The system's /etc/slurm is not
# touched: the Slurm commands find the config through SLURM_CONF, so run
#   eval "$(scripts/slurm/local-cluster.sh env)"
# in the shell that submits. start and stop are idempotent: each says what it
# did or found. munged is stopped by stop only if start started it.
set -euo pipefail
DIR=${SLURM_LOCAL_DIR:-/tmp/painters-slurm-cluster}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF
say() { echo "local-cluster: $*"; }
die() { echo "local-cluster: $*" >&2; exit 1; }
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    say "slurm and munge already installed ($(slurmd -V))"
    return
  fi
  [[ $(id -u) == 0 ]] || die "installing needs root (apt-get install slurm-wlm munge)"
  command -v apt-get >/dev/null || die "no apt-get: install Slurm (slurmctld, slurmd, sbatch) and munge by hand"
  say "apt-get install slurm-wlm munge"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  say "installed $(slurmd -V)"
}

start_munge() {
  if munge_ok; then say "munged already running"; return; fi
  if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then mungekey --create --force; else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 755 /run/munge
  if id munge >/dev/null 2>&1; then runuser -u munge -- munged; else munged --force; fi
  for _ in $(seq 50); do munge_ok && break; sleep 0.2; done
  munge_ok || die "munged did not start (see /var/log/munge/munged.log)"
  touch "$DIR/munged.started-here"
  say "started munged"
}

write_conf() {
  local host node
  host=$(hostname -s)
  # slurmd -C: NodeName=host CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=..
  node=$(slurmd -C | head -n 1)
  [[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  mkdir -p "$DIR"/{state,spool,log}
  cat >"$CONF.new" <<EOF
# Written by scripts/slurm/local-cluster.sh: a throwaway single-node cluster for testing.
ClusterName=painters-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=3600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  if [[ -f $CONF ]] && cmp -s "$CONF" "$CONF.new"; then rm "$CONF.new"; say "config unchanged: $CONF"
  else mv "$CONF.new" "$CONF"; say "wrote $CONF ($node)"; fi
}

start() {
  command -v slurmctld >/dev/null || die "Slurm is not installed: run '$0 install' (root)"
  [[ $(id -u) == 0 ]] || die "start needs root (the daemons run as root)"
  mkdir -p "$DIR"
  write_conf
  start_munge
  if alive "$DIR/slurmctld.pid"; then say "slurmctld already running (pid $(cat "$DIR/slurmctld.pid"))"
  else slurmctld -f "$CONF"; say "started slurmctld"; fi
  for _ in $(seq 50); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
  scontrol ping >/dev/null 2>&1 || die "slurmctld does not answer (see $DIR/log/slurmctld.log)"
  if alive "$DIR/slurmd.pid"; then say "slurmd already running (pid $(cat "$DIR/slurmd.pid"))"
  else slurmd -f "$CONF"; say "started slurmd"; fi
  local host state
  host=$(hostname -s)
  for _ in $(seq 100); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case $state in
      idle*|mixed*|allocated*|completing*) break ;;
      down*|drain*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.3
  done
  case $state in
    idle*|mixed*|allocated*|completing*) say "node $host is $state; $(slurmd -V)" ;;
    *) die "node $host is '${state:-unknown}' (see $DIR/log/slurmd.log, $DIR/log/slurmctld.log)" ;;
  esac
  say "to use it: export SLURM_CONF=$CONF"
}

stop() {
  local d jobs
  # Jobs of this throwaway cluster would outlive slurmd (slurmstepd): cancel them.
  if scontrol ping >/dev/null 2>&1; then
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// } ]]; then
      scancel $jobs || true
      for _ in $(seq 50); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.2; done
      say "cancelled jobs $jobs"
    fi
  fi
  for d in slurmd slurmctld; do
    if alive "$DIR/$d.pid"; then
      local pid; pid=$(cat "$DIR/$d.pid")
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; say "killed $d (pid $pid)"; else say "stopped $d (pid $pid)"; fi
    else say "$d not running"; fi
  done
  if ! munge_ok; then say "munged not running"
  elif [[ -f $DIR/munged.started-here ]] && [[ -f /run/munge/munged.pid ]] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    kill "$(cat /run/munge/munged.pid)"; say "stopped munged"
  else say "munged left alone (not started by this script)"; fi
  rm -f "$DIR/munged.started-here"
}

status() {
  local d
  for d in slurmctld slurmd; do
    if alive "$DIR/$d.pid"; then say "$d running (pid $(cat "$DIR/$d.pid"))"; else say "$d not running"; fi
  done
  if munge_ok; then say "munged running"; else say "munged not running"; fi
  if scontrol ping >/dev/null 2>&1; then sinfo; fi
}

case ${1:-} in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) die "usage: $0 install|start|status|stop|env" ;;
esac

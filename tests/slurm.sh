#!/bin/bash
# slurm.sh - a real Slurm cluster on this machine: munged with its own key,
# one slurmctld and two slurmd (nodes n1 and n2, own ports and spool
# folders), a slurm.conf generated in a temporary folder. docs/slurm-batch.sh
# is submitted as a job array over a generated study; when every task has
# left the queue (polled, bounded), the shards are merged and the merged CSV
# must equal one local `rollmat batch` row for row. Every daemon started
# here is stopped on exit (trap), by its pid. Skips (77) only when Slurm's
# programs are missing or the daemons cannot start at all (the reason and
# the logs are printed).
set -u
: "${ROLLMAT:?}"
: "${RM_SOURCE_DIR:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_slurm.XXXXXX")
chmod 755 "$dir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -n "${RM_SLURM_QUIET:-}" ] && exit 1; for l in "$dir"/log/*; do echo "== $l"; tail -20 "$l"; done >&2; exit 1; }
skip() { echo "SKIP: $*"; for l in "$dir"/log/*; do echo "== $l"; tail -20 "$l"; done; exit 77; }
for p in munged slurmctld slurmd sbatch squeue scontrol; do
    command -v $p >/dev/null || PATH=$PATH:/usr/sbin command -v $p >/dev/null \
        || skip "$p not installed (slurm-wlm, munge: scripts/install-deps.sh)"
done
export PATH=$PATH:/usr/sbin
cd "$dir" || exit 1
mkdir -p log state spool-n1 spool-n2 munge out study
chmod 700 munge

# munge with a key of its own: nothing of the system's is used or changed
head -c 1024 /dev/urandom > munge/key
chmod 400 munge/key
munged -F -f --key-file="$dir/munge/key" --socket="$dir/munge/sock" \
    --pid-file="$dir/munge/pid" --seed-file="$dir/munge/seed" \
    --log-file="$dir/log/munged.log" &
pids+=($!)

# ports: from the pid, so two runs at once do not collide
base=$((20000 + ($$ % 2000) * 4))
host=$(hostname -s)
user=$(id -un)
cat > slurm.conf <<EOF
ClusterName=rmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
SchedulerParameters=defer_batch
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 1)) CPUs=1 RealMemory=1000 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 2)) CPUs=1 RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf

# munged is up when its socket answers
for _ in $(seq 100); do [ -S munge/sock ] && break; sleep 0.1; done
[ -S munge/sock ] || skip "munged did not start"

slurmctld -D -i -f "$SLURM_CONF" > log/slurmctld.out 2>&1 &
pids+=($!)
slurmd -D -N n1 -f "$SLURM_CONF" > log/slurmd-n1.out 2>&1 &
pids+=($!)
slurmd -D -N n2 -f "$SLURM_CONF" > log/slurmd-n2.out 2>&1 &
pids+=($!)

# up when both nodes are idle (bounded: 60 s)
ok=0
for _ in $(seq 120); do
    states=$(sinfo -h -N -o '%N %t' 2>/dev/null | sort | tr '\n' ' ')
    if [ "$states" = "n1 idle n2 idle " ]; then ok=1; break; fi
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || skip "a Slurm daemon died at start"; done
    sleep 0.5
done
[ $ok = 1 ] || skip "the nodes never became idle (sinfo: ${states:-nothing})"

# a study: five short recordings in two folders
mkdir -p study/s1 study/s2
i=0
for sc in guide rushed behm2020 guide rushed; do
    i=$((i + 1))
    d=study/s$((i % 2 + 1))
    "$ROLLMAT" simulate -s $sc --seed $i --time-scale 0.3 --rate 50 -q -o "$d/rec$i.h5" \
        || fail "simulate $sc"
done

# the job array, one CPU a task (the nodes have one each)
export ROLLMAT
job=$(sbatch --parsable --array=0-2 --cpus-per-task=1 --mem-per-cpu=100 \
    --output="$dir/log/task-%A_%a.log" "$RM_SOURCE_DIR/docs/slurm-batch.sh" \
    "$dir/study" "$dir/out") || fail "sbatch refused the job"
job=${job%%;*}
# done when no task of the array is in the queue any more (bounded: 10 min)
for _ in $(seq 1200); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$job")" ] || fail "the array is still queued after 10 minutes"
# every task ran to exit 0, on both nodes between them
n_ok=$(grep "JobState=COMPLETED" log/jobcomp.txt | grep "ArrayJobId=$job " | grep -c " ExitCode=0:0")
[ "$n_ok" -eq 3 ] || fail "$n_ok of 3 tasks completed: $(cat log/jobcomp.txt)"
grep -q "NodeList=n1" log/jobcomp.txt && grep -q "NodeList=n2" log/jobcomp.txt \
    || echo "note: every task ran on one node: $(grep -o 'NodeList=[^ ]*' log/jobcomp.txt | tr '\n' ' ')"

ls out/shard-000[0-2].csv > /dev/null || fail "shard CSVs missing: $(ls out)"
"$ROLLMAT" batch --merge out/shard-*.csv -o merged.csv -q || fail "merge"
"$ROLLMAT" batch "$dir/study" -o local.csv -q --results-dir local.results || fail "local batch"
[ "$(wc -l < local.csv)" -gt 5 ] || fail "the local CSV is nearly empty"
cmp merged.csv local.csv || fail "merged CSV differs from one local batch: $(diff merged.csv local.csv | head)"
echo "ok: $(($(wc -l < merged.csv) - 1)) rows from 3 array tasks"

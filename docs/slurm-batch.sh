#!/bin/bash
# slurm-batch.sh - analyse a study on a Slurm cluster as a job array: each
# array task runs `rollmat batch --shard I/N` on every N-th recording of
# the sorted list; a merge afterwards gives the same CSV as one run.
#
#   sbatch --array=0-7 docs/slurm-batch.sh STUDY_DIR OUT_DIR [PROFILE]
#   # when every task has finished (or: sbatch --dependency=afterok:JOBID ...):
#   rollmat batch --merge OUT_DIR/shard-*.csv -o OUT_DIR/summary.csv
#
# The number of shards is the size of the array (SLURM_ARRAY_TASK_COUNT);
# the array must start at 0 (--array=0-(N-1)). All tasks share one results
# folder (OUT_DIR/results), so a re-submission analyses only recordings
# that are new or changed. A task's exit status is 1 if any of its
# recordings failed (see its log for which and why); the other shards'
# rows are still in their CSVs.
#SBATCH --job-name=rollmat-batch
#SBATCH --cpus-per-task=3
#SBATCH --mem-per-cpu=1G
#SBATCH --time=02:00:00
#SBATCH --output=rollmat-batch-%A_%a.log
set -u
study=${1:?usage: sbatch --array=0-N docs/slurm-batch.sh STUDY_DIR OUT_DIR [PROFILE]}
out=${2:?usage: sbatch --array=0-N docs/slurm-batch.sh STUDY_DIR OUT_DIR [PROFILE]}
profile=${3:-guide}
rollmat=${ROLLMAT:-rollmat}
i=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=0-N}
n=${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=0-N}
# a worker keeps ~1.4 cores busy (analysis + inflation on a second
# thread): as many workers as fit in the task's CPUs, at least one
cpus=${SLURM_CPUS_PER_TASK:-1}
jobs=$((cpus * 10 / 14))
[ "$jobs" -ge 1 ] || jobs=1
mkdir -p "$out/results"
exec "$rollmat" batch "$study" --profile "$profile" --shard "$i/$n" \
    -j "$jobs" --results-dir "$out/results" \
    -o "$out/shard-$(printf %04d "$i").csv"

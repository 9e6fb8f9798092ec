#!/bin/bash
# bench_batch.sh - `rollmat batch` over N ten-minute recordings with -j 1,
# -j 2 and the default -j: wall time, CPU time, and throughput in
# recordings per wall second and per CPU second (the machine may be
# shared: CPU seconds are the steadier number; the load average is shown).
#
#   bench/bench_batch.sh [ROLLMAT] [N] [DISTINCT]
#
# ROLLMAT: a Release build's rollmat (default build/release/cli/rollmat);
# N recordings (default 50). DISTINCT recordings (default 5) are simulated
# (the guide routine stretched to 10 minutes, 64x48 at 100 Hz, different
# seeds, ~150 MB each); the others are byte copies of them. Copies, not
# hard links: batch visits a file once by device and inode, so N links to 5
# files are 5 recordings (an earlier version of this script linked them and
# divided by N, overstating throughput N/DISTINCT times). The throughput is
# computed from the count batch says it analysed, and the script stops if
# that is not N. Each -j runs on a fresh results folder (--force would do
# too) so that every recording is analysed.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
R=${1:-$here/build/release/cli/rollmat}
N=${2:-50}
DISTINCT=${3:-5}
[ -x "$R" ] || { echo "no rollmat at $R (cmake -B build/release -DCMAKE_BUILD_TYPE=Release)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_bench_batch.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/in"

echo "generating $DISTINCT ten-minute recordings..."
t0=$(date +%s.%N)
for i in $(seq 1 "$DISTINCT"); do
    "$R" simulate -s guide --seed "$i" --time-scale 1.41 -q -o "$dir/in/rec$(printf %03d "$i").h5" &
    if (( i % 2 == 0 )); then wait; fi
done
wait
for i in $(seq $((DISTINCT + 1)) "$N"); do
    src=$(( (i - 1) % DISTINCT + 1 ))
    cp "$dir/in/rec$(printf %03d $src).h5" "$dir/in/rec$(printf %03d "$i").h5"
done
t1=$(date +%s.%N)
dur=$(h5dump -a /duration_s "$dir/in/rec001.h5" 2>/dev/null | awk '/\(0\)/ {print $2}')
size=$(du -m "$dir/in/rec001.h5" | cut -f1)
echo "$N recordings ready ($DISTINCT distinct, ${dur:-?} s and ${size} MB each) in $(echo "$t1 - $t0" | bc) s"
# warm the page cache so both runs read from memory
cat "$dir"/in/*.h5 > /dev/null

load=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A wall
for j in 1 2 default; do
    rm -rf "$dir/out$j"
    jopt=(-j "$j")
    [ "$j" = default ] && jopt=()
    s=$(date +%s.%N)
    /usr/bin/time -f "%U %S %P" -o "$dir/time$j" "$R" batch "$dir/in" -o "$dir/out$j/summary.csv" \
        "${jopt[@]}" > "$dir/log$j" 2>&1
    e=$(date +%s.%N)
    done_n=$(sed -n 's/^[0-9]* recordings*: \([0-9]*\) analysed.*/\1/p' "$dir/log$j" | tail -1)
    [ "${done_n:-0}" = "$N" ] || { echo "batch -j $j analysed ${done_n:-?} of $N recordings:"; tail -3 "$dir/log$j"; exit 1; }
    wall[$j]=$(echo "$e - $s" | bc)
    rows=$(($(wc -l < "$dir/out$j/summary.csv") - 1)) # one per set
    read -r usr sys cpu < "$dir/time$j"
    printf -- "-j %s: %6.1f s wall, CPU %s user + %s sys (%s of one core), %d recordings (%d set rows); %.3f recordings/wall s, %.3f recordings/CPU s (load %s)\n" \
        $j "${wall[$j]}" "$usr" "$sys" "$cpu" "$done_n" "$rows" "$(echo "$N / ${wall[$j]}" | bc -l)" \
        "$(echo "$N / ($usr + $sys)" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
cmp -s "$dir/out1/summary.csv" "$dir/out2/summary.csv" && echo "CSV identical for -j 1 and -j 2"
printf "speed-up -j 2 over -j 1: %.2fx (cores: %s, load average before: %s)\n" \
    "$(echo "${wall[1]} / ${wall[2]}" | bc -l)" "$(nproc)" "$load"

#!/bin/bash
# Analysis benchmark: `rollmat analyze` against the same analysis written
# with numpy/scipy/h5py (bench/peer_numpy.py) and against h5py merely
# reading and inflating /frames/raw, on a 10-minute and a 60-minute 100 Hz
# recording of the virtual mat (64 x 48), each measured in one run on the
# same file: wall time, CPU time (user + sys) and peak RSS (/usr/bin/time -v).
#   bench/bench_analyze.sh [BUILD_DIR] [MINUTES...]
# BUILD_DIR (default build/bench) is configured as a Release tree and built
# if it has no rollmat yet; MINUTES default to "10 60". The recordings are
# made by `rollmat simulate` in $RM_BENCH_DIR (default: a temporary folder,
# removed at the end). Numbers depend on the machine and its load: compare
# within one run. The per-frame cost of rm_analysis_push alone (frames in
# memory, no HDF5): bench_analysis RECORDING.h5, or under
# `valgrind --tool=callgrind bench_analysis REC.h5 --runs 1 --frames N` for
# instruction counts that repeat on a busy machine.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build/bench}
shift || true
MINUTES=${*:-10 60}
PY=/usr/bin/python3
if [ ! -x /usr/bin/time ]; then
    echo "bench_analyze: /usr/bin/time is missing (scripts/install-deps.sh installs package time)" >&2
    exit 1
fi
if [ ! -x "$BUILD/cli/rollmat" ]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRM_TESTS=OFF -DRM_WERROR=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target rollmat >/dev/null
fi
ROLLMAT=$BUILD/cli/rollmat
if [ -n "${RM_BENCH_DIR:-}" ]; then
    T=$RM_BENCH_DIR
    mkdir -p "$T"
else
    T=$(mktemp -d)
    trap 'rm -rf "$T"' EXIT
fi

# One run of a command: "wall_s cpu_s peak_mb"
measure() {
    local log=$T/time.log
    /usr/bin/time -v -o "$log" "$@" > "$T/out.txt" 2> "$T/err.txt" || {
        echo "bench_analyze: failed: $* ($(tail -1 "$T/err.txt"))" >&2
        exit 1
    }
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
        /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { m = $2 }
        END { printf "%.2f %.2f %.0f\n", w, u + s, m / 1024 }' "$log"
}

cat > "$T/read_h5py.py" <<'PYEOF'
import sys
import h5py, numpy as np
# what any h5py analysis has to do first: read and inflate every frame
with h5py.File(sys.argv[1], "r") as f:
    d = f["/frames/raw"]
    step = d.chunks[0] * 16
    s = 0
    for i in range(0, d.shape[0], step):
        s += int(d[i:i + step].sum(dtype=np.uint64))
print(s)
PYEOF

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $($PY -c 'import h5py, numpy, scipy; print("h5py", h5py.version.version, "numpy", numpy.__version__, "scipy", scipy.__version__)')"
for min in $MINUTES; do
    scen=$T/bench$min.json
    $PY - "$SRC/scenarios/guide.json" "$min" "$scen" <<'PYEOF'
import json, sys
g = json.load(open(sys.argv[1]))
minutes = float(sys.argv[2])
segs, total, k = [], 3.0, 0
# the guide's sets, repeated until the routine lasts `minutes`
while total < minutes * 60 - 60:
    s = g["segments"][k % len(g["segments"])]
    segs.append(s)
    dur = 0
    for ph in s["phases"]:
        if "roll" in ph:
            r = ph["roll"]; dur += abs(r["to_cm"] - r["from_cm"]) * r["passes"] / r["speed_cm_s"]
        else:
            dur += list(ph.values())[0].get("duration_s", 0)
    total += dur + 8
    k += 1
g["segments"] = segs
g["title"] = "bench: the guide routine repeated to %g minutes" % minutes
json.dump(g, open(sys.argv[3], "w"), indent=1)
PYEOF
    rec=$T/rec$min.h5
    [ -s "$rec" ] || "$ROLLMAT" simulate -s "$scen" --fault none -o "$rec" -q
    frames=$(h5ls "$rec/frames/raw" | sed 's/.*{\([0-9]*\).*/\1/')
    size=$(du -m "$rec" | cut -f1)
    cat "$rec" > /dev/null  # page cache warm for every contender alike
    echo
    echo "== $min-minute recording: $frames frames of 64 x 48 at 100 Hz, $size MB"
    read -r rw rc rm < <(measure "$ROLLMAT" analyze "$rec" -o "$T/res$min.h5")
    summary=$(grep -E "sets?,|passes" "$T/out.txt" | head -1)
    read -r hw hc hm < <(measure $PY "$T/read_h5py.py" "$rec")
    read -r pw pc pm < <(measure $PY "$SRC/bench/peer_numpy.py" "$rec" "$T/peer$min.h5")
    peer=$(cat "$T/out.txt")
    printf "| %-28s | %8s | %8s | %9s |\n" "contender" "wall s" "CPU s" "peak MB"
    printf "|------------------------------|----------|----------|-----------|\n"
    printf "| %-28s | %8s | %8s | %9s |\n" "rollmat analyze" "$rw" "$rc" "$rm"
    printf "| %-28s | %8s | %8s | %9s |\n" "h5py reading /frames/raw" "$hw" "$hc" "$hm"
    printf "| %-28s | %8s | %8s | %9s |\n" "numpy/scipy peer analysis" "$pw" "$pc" "$pm"
    awk -v rw="$rw" -v rc="$rc" -v hw="$hw" -v pw="$pw" -v pc="$pc" 'BEGIN {
        printf "rollmat vs numpy peer: %.1fx faster (wall), %.1fx less CPU; vs h5py reading: %.2fx its wall time\n",
               pw / rw, pc / rc, rw / hw }'
    echo "rollmat: $summary"
    echo "$peer"
done

#!/bin/bash
# Session file benchmark: rollmat's writer and reader, and Debian's h5py
# reading the same file in the same run.
#   bench/bench_session.sh [BUILD_DIR] [FRAMES]
# BUILD_DIR (default build/bench) is configured as a Release tree and built
# if it has no bench_session yet. FRAMES defaults to 60000 (ten minutes of a
# 64x48 mat at 100 Hz). Numbers depend on the machine and on its load: run
# it on a quiet machine and compare within one run.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build/bench}
FRAMES=${2:-60000}
if [ ! -x "$BUILD/bench/bench_session" ]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRM_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j2 --target bench_session >/dev/null
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/bench_session" --frames "$FRAMES" --keep "$T/bench.h5"
echo "== h5py $(/usr/bin/python3 -c 'import h5py; print(h5py.version.version, "HDF5", h5py.version.hdf5_version)') on the same file"
/usr/bin/python3 - "$T/bench.h5" <<'PYEOF'
import sys, time
import h5py, numpy as np
path = sys.argv[1]
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    with h5py.File(path, "r") as f:
        raw = f["/frames/raw"][...]
        s = int(raw.sum(dtype=np.uint64))
    best = min(best, time.perf_counter() - t)
n = raw.shape[0]
print("read h5py [...]       %.3f s = %.0f frames/s (%.0f MB/s raw), best of 3, checksum %d"
      % (best, n / best, raw.nbytes / best / 1e6, s))
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    with h5py.File(path, "r") as f:
        d = f["/frames/raw"]
        c = d.chunks[0]
        s2 = 0
        for i in range(0, n, c):
            s2 += int(d[i:i + c].sum(dtype=np.uint64))
    best = min(best, time.perf_counter() - t)
print("read h5py by chunk    %.3f s = %.0f frames/s (%.0f MB/s raw), best of 3, checksum %d"
      % (best, n / best, raw.nbytes / best / 1e6, s2))
PYEOF
echo "== virtual mat scenarios (frames from hw_spec's device model)"
for sc in guide rushed; do
    "$BUILD/bench/bench_session" --vmat "$sc" --frames "$FRAMES" | grep -E '^(frames|write|size)'
done

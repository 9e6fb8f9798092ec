#!/bin/bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang and runs
# each for FUZZ_SECONDS (default 15) from its seed corpus
# tests/fuzz/corpus/<target>/. Fails if any target crashes, leaks or trips a
# sanitizer; exit 77 (skip) when clang is missing.
# Env: RM_SOURCE_DIR, RM_BUILD_DIR (the fuzz build goes to $RM_BUILD_DIR/../fuzz,
# else a temp dir), FUZZ_SECONDS, FUZZ_JOBS.
set -u
src=${RM_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
secs=${FUZZ_SECONDS:-15}
if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz.sh: clang not found: skipping the fuzz targets"
    exit 77
fi
if [ -n "${RM_BUILD_DIR:-}" ]; then
    out="$RM_BUILD_DIR/../fuzz"
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/rollmat-fuzz-XXXXXX")
fi
mkdir -p "$out"
# Several build trees share ../fuzz: one run at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
fi
log="$out/build.log"
# Warnings do not fail this build: it is about crashes, and clang warns
# about things gcc does not.
if ! CC=clang cmake -S "$src" -B "$out" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DRM_FUZZ=ON -DRM_TESTS=OFF -DRM_WERROR=OFF >"$log" 2>&1; then
    tail -20 "$log"
    echo "fuzz.sh: configuring the clang fuzz build in $out failed (log: $log)"
    exit 1
fi
if ! cmake --build "$out" -j"${FUZZ_JOBS:-2}" --target rm_fuzz_all >>"$log" 2>&1; then
    grep -E "error|Error" "$log" | head -20
    echo "fuzz.sh: building the fuzz targets failed (log: $log)"
    exit 1
fi

status=0
ran=0
for c in "$src"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$c" .c)
    bin="$out/tests/fuzz/$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz.sh: $name was not built"
        status=1
        continue
    fi
    work="$out/work/$name"
    rm -rf "$work"
    mkdir -p "$work" "$out/artifacts"
    seeds="$src/tests/fuzz/corpus/$name"
    [ -d "$seeds" ] || seeds=""
    # New inputs go to the work dir; the checked-in seeds are only read.
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/artifacts/$name-" "$work" $seeds >"$out/$name.log" 2>&1; then
        echo "fuzz.sh: $name: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" | grep -o '[0-9]*$') runs in ${secs}s)"
    else
        echo "fuzz.sh: $name: FAILED (log: $out/$name.log, crash input in $out/artifacts/)"
        grep -E "ERROR|SUMMARY|deadly|Test unit written" "$out/$name.log" | head -10
        status=1
    fi
    ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
    echo "fuzz.sh: no fuzz targets found in $src/tests/fuzz"
    exit 1
fi
exit $status

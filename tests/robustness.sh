#!/bin/bash
# robustness.sh - issue 14, the formats/analyze/cli items:
# 1. a file claiming far more frames than it stores is refused at once;
# 2. one version rule: every command reads rollmat-session-1.9 (and a
#    rollmat-results-1.9 results file) and refuses 2.0 naming the version;
# 3. an interrupted export (SIGINT, SIGTERM) leaves no NAME.tmp-XXXXXX and
#    no output, and ends by the signal;
# 4. a mistyped profile name lists the profiles available, in one line.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
$PY -c 'import h5py' 2>/dev/null || { echo "skip: no h5py"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/robust.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$ROLLMAT" simulate --scenario guide --seed 2 --time-scale 0.05 -o a.h5 -q || { echo "FAIL: simulate"; exit 1; }
"$ROLLMAT" analyze a.h5 -o a.results.h5 >/dev/null || { echo "FAIL: analyze"; exit 1; }

setconv() { # FILE VALUE
    $PY -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f: f.attrs["conventions"] = np.bytes_(sys.argv[2].encode())' "$1" "$2" \
        || fail "cannot set conventions of $1"
}

# 1. 10^8 frames claimed, a few thousand stored: refused with one line
#    (timeout: before the check this ran for a minute and gigabytes)
cp a.h5 forged.h5
$PY -c 'import h5py
with h5py.File("forged.h5", "r+") as f:
    for n in ("raw", "time", "seq", "t_device_us", "flags"):
        f["frames/" + n].resize(10**8, axis=0)' || fail "cannot forge"
for cmd in info analyze export report; do
    extra=""
    [ $cmd = export ] && extra="--frames -o forged.csv"
    [ $cmd = analyze ] && extra="--no-write"
    timeout 60 "$ROLLMAT" $cmd forged.h5 $extra >/dev/null 2>err.txt
    rc=$?
    [ $rc -eq 1 ] || fail "$cmd forged.h5: exit $rc, want 1"
    [ "$(wc -l <err.txt)" -eq 1 ] && grep -q "forged.h5: /frames/raw claims 100000000 frames" err.txt \
        || fail "$cmd forged.h5: want one line naming the claim, got: $(head -3 err.txt)"
done
[ -e forged.csv ] && fail "export of a forged file left forged.csv"

# 2. the version rule, the same for every command
cp a.h5 v19.h5 && setconv v19.h5 rollmat-session-1.9
cp a.h5 v20.h5 && setconv v20.h5 rollmat-session-2.0
cp a.results.h5 r19.results.h5 && setconv r19.results.h5 rollmat-results-1.9
cp a.results.h5 r20.results.h5 && setconv r20.results.h5 rollmat-results-2.0
mkdir b19 b20 && cp v19.h5 b19/ && cp v20.h5 b20/
run() { # NAME: the command for version file V (v19/v20) and results file RR
    case $1 in
    info) "$ROLLMAT" info "$V.h5" ;;
    analyze) "$ROLLMAT" analyze "$V.h5" --no-write ;;
    export) "$ROLLMAT" export "$V.h5" --events -o "$V.events.csv" ;;
    report) "$ROLLMAT" report "$V.h5" -o "$V.pdf" -q ;;
    report-results) "$ROLLMAT" report "$RR.results.h5" -o "$RR.pdf" -q ;;
    export-series) "$ROLLMAT" export "$RR.results.h5" --series -o "$RR.series.csv" ;;
    batch) "$ROLLMAT" batch "b${V#v}" -o "$V.batch.csv" -j 1 -q ;;
    esac
}
for c in info analyze export report report-results export-series batch; do
    V=v19 RR=r19
    run $c >/dev/null 2>err.txt || fail "$c on a 1.9 file: $(cat err.txt)"
    V=v20 RR=r20
    run $c >/dev/null 2>err.txt && fail "$c on a 2.0 file succeeded"
    grep -q -- "-2.0 is .* format version 2; this rollmat reads version 1" err.txt \
        || fail "$c on a 2.0 file: want the version named, got: $(head -3 err.txt)"
done

# 3. interrupted export: no temporary, no output, ended by the signal.
#    A script's background job ignores SIGINT; env restores the default.
for sig in INT TERM; do
    env --default-signal=INT "$ROLLMAT" export a.h5 --frames -o "big_$sig.csv" 2>err.txt &
    pid=$!
    tmp=""
    for _ in $(seq 1 2000); do # bounded wait for the temporary to exist
        tmp=$(ls big_$sig.csv.tmp-* 2>/dev/null | head -1)
        [ -n "$tmp" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.01
    done
    if [ -z "$tmp" ]; then
        fail "export never made a temporary before ending (SIG$sig case)"
        wait $pid
        continue
    fi
    kill -$sig $pid
    wait $pid
    rc=$?
    want=$((128 + $(kill -l $sig)))
    [ $rc -eq $want ] || fail "export after SIG$sig: exit $rc, want $want"
    ls big_$sig.csv.tmp-* >/dev/null 2>&1 && fail "SIG$sig left $(ls big_$sig.csv.tmp-*)"
    [ -e big_$sig.csv ] && fail "SIG$sig left a partial big_$sig.csv"
done

# 4. a mistyped profile: one line listing the profiles
for cmd in analyze report; do
    o="-o x.pdf"; [ $cmd = analyze ] && o="--no-write"
    "$ROLLMAT" $cmd a.h5 --profile gide $o >/dev/null 2>err.txt && fail "$cmd --profile gide succeeded"
    [ "$(wc -l <err.txt)" -eq 1 ] && grep -q 'gide.*available: behm2020, guide' err.txt \
        || fail "$cmd --profile gide: want the profiles listed in one line, got: $(cat err.txt)"
done

[ $fails -eq 0 ] && echo "ok: forged lengths refused, one version rule, no temporaries left, profiles listed"
exit $((fails > 0))

#!/bin/bash
# rollmat info / export end to end, on recordings written by Debian's h5py
# from the layout in DESIGN.md (an independent writer), plus bad files and
# bad options. Needs /usr/bin/python3 with h5py (skips otherwise).
set -u
PY=/usr/bin/python3
HELPER="$RM_SOURCE_DIR/tests/session_h5py.py"
$PY -c 'import h5py, numpy' 2>/dev/null || { echo "no h5py: skip"; exit 77; }
[ -x "$ROLLMAT" ] || { echo "no rollmat binary at $ROLLMAT"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# exit status and exactly one line on stderr
expect() { # expect STATUS DESCRIPTION -- command...
    local want=$1 what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    [ $rc -eq "$want" ] || fail "$what: exit $rc, expected $want ($(cat "$T/err"))"
    if [ "$want" -ne 0 ]; then
        [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$T/err")"
    fi
}

sums=$($PY "$HELPER" make "$T/p.h5" 100) || fail "h5py writer"
$PY "$HELPER" make "$T/pv.h5" 100 --vlen >/dev/null || fail "h5py writer (vlen)"
want_sum=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["sum"])' "$sums")

# info, text and JSON
expect 0 "info" -- "$ROLLMAT" info "$T/p.h5"
grep -q '^frames: *100$' "$T/out" || fail "info frames: $(cat "$T/out")"
grep -q '^gaps: *1 event, 4 frames missing$' "$T/out" || fail "info gaps: $(cat "$T/out")"
grep -q '^corrupt: *1 event, 2 frames$' "$T/out" || fail "info corrupt: $(cat "$T/out")"
grep -q '^status: *closed$' "$T/out" || fail "info status: $(cat "$T/out")"
grep -q 'of raw' "$T/out" || fail "info size: $(cat "$T/out")"
expect 0 "info --json" -- "$ROLLMAT" info --json "$T/pv.h5"
$PY - "$T/out" <<'PYEOF' || fail "info --json content: $(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["frames"] == 100, j["frames"]
assert j["live"] is False
assert j["gap_events"] == 1 and j["frames_missing"] == 4
assert j["corrupt_events"] == 1 and j["frames_corrupt"] == 2
assert j["events"] == {"gap": 1, "corrupt": 1, "label": 1}, j["events"]
assert j["device"]["rows"] == 8 and j["device"]["cols"] == 6
assert abs(j["measured_rate_hz"] - 50.0) < 1e-6
assert 0 < j["stored_share_of_raw"] < 1
PYEOF

# export: long frames, wide frames, events
expect 0 "export --frames" -- "$ROLLMAT" export "$T/p.h5" --frames -o "$T/long.csv"
$PY - "$T/long.csv" "$want_sum" <<'PYEOF' || fail "long CSV content"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 100 * 8 * 6, len(rows)
assert list(rows[0].keys()) == ["frame", "time_s", "row", "col", "raw", "kpa"]
assert sum(int(r["raw"]) for r in rows) == int(sys.argv[2])
# kPa = gain * curve(max(raw - zero, 0)); curve 0..1000 -> 0..50, 1000..4095 -> 50..400
def curve(x):
    return x * 0.05 if x <= 1000 else 50 + (x - 1000) * 350 / 3095
for r in rows[:500]:
    want = curve(max(int(r["raw"]) - 5, 0))
    assert abs(float(r["kpa"]) - want) <= 1e-3 * max(1, want), (r, want)
assert rows[-1]["frame"] == "99" and rows[-1]["row"] == "7" and rows[-1]["col"] == "5"
PYEOF
expect 0 "export --wide" -- "$ROLLMAT" export "$T/p.h5" --frames --wide -o "$T/wide.csv"
$PY - "$T/wide.csv" "$want_sum" <<'PYEOF' || fail "wide CSV content"
import csv, sys
r = list(csv.reader(open(sys.argv[1])))
assert len(r) == 101 and len(r[0]) == 4 + 48, (len(r), len(r[0]))
assert r[0][:5] == ["frame", "time_s", "seq", "flags", "r0c0"]
assert sum(int(v) for row in r[1:] for v in row[4:]) == int(sys.argv[2])
PYEOF
expect 0 "export --events" -- "$ROLLMAT" export "$T/pv.h5" --events -o "$T/ev.csv"
$PY - "$T/ev.csv" <<'PYEOF' || fail "events CSV content"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
assert [e["kind"] for e in r] == ["gap", "corrupt", "label"], r
assert r[2]["text"] == "calf, left" and r[0]["value"] == "4"
PYEOF
ls "$T" | grep -q tmp && fail "temporary files left: $(ls "$T")"

# bad files: one line naming the file, exit 1
echo "not a recording" >"$T/text.h5"
expect 1 "info on text" -- "$ROLLMAT" info "$T/text.h5"
grep -q 'text.h5' "$T/err" || fail "message does not name the file: $(cat "$T/err")"
size=$(stat -c %s "$T/p.h5")
for cut in 64 1000 $((size / 2)) $((size - 10)); do
    head -c $cut "$T/p.h5" >"$T/cut$cut.h5"
    expect 1 "info on file cut at $cut" -- "$ROLLMAT" info "$T/cut$cut.h5"
    grep -q "cut$cut.h5" "$T/err" || fail "cut $cut: $(cat "$T/err")"
done
$PY -c 'import h5py,sys; f=h5py.File(sys.argv[1],"w"); f["x"]=[1,2,3]' "$T/foreign.h5"
expect 1 "info on foreign HDF5" -- "$ROLLMAT" info "$T/foreign.h5"
grep -q 'conventions' "$T/err" || fail "foreign: $(cat "$T/err")"
expect 1 "export on foreign HDF5" -- "$ROLLMAT" export "$T/foreign.h5" --events -o "$T/x.csv"
[ -e "$T/x.csv" ] && fail "export left an output after failing"
expect 1 "info on missing file" -- "$ROLLMAT" info "$T/absent.h5"

# bad options: exit 2
expect 2 "info without file" -- "$ROLLMAT" info
expect 2 "info unknown option" -- "$ROLLMAT" info --nope "$T/p.h5"
expect 2 "info two files" -- "$ROLLMAT" info "$T/p.h5" "$T/pv.h5"
expect 2 "export without mode" -- "$ROLLMAT" export "$T/p.h5"
expect 2 "export two modes" -- "$ROLLMAT" export "$T/p.h5" --frames --events
expect 2 "export onto its input" -- "$ROLLMAT" export "$T/p.h5" --frames -o "$T/p.h5"
expect 2 "export --kpa without --wide" -- "$ROLLMAT" export "$T/p.h5" --frames --kpa
expect 2 "export -o without value" -- "$ROLLMAT" export "$T/p.h5" --frames -o
expect 0 "info --help" -- "$ROLLMAT" info --help
expect 0 "export --help" -- "$ROLLMAT" export --help
echo "ok"

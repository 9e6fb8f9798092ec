#!/bin/bash
# demo.sh - `rollmat demo` leaves a recording, a results file, a summary and
# a report: once on the real recorder over emulated USB at real pace (a
# scenario shortened x0.03 so it takes seconds), once accelerated into the
# same folder (a previous demo's files are replaced); a folder holding
# anything else is refused. --no-usb only when umockdev is absent.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1

usb=()
if ! command -v umockdev-wrapper > /dev/null || "$ROLLMAT" vmat --help | grep -q "not implemented"; then
    echo "umockdev or rollmat vmat missing: demo without USB"
    usb=(--no-usb)
fi

check_files() { # DIR SETS-WANTED(0 = any)
    local d=$1
    for f in recording.h5 results.h5 summary.json report.pdf; do
        [ -s "$d/$f" ] || fail "$d/$f missing"
    done
    h5dump -a /conventions "$d/recording.h5" | grep -q '"rollmat-session-1"' || fail "recording conventions"
    h5dump -a /conventions "$d/results.h5" | grep -q '"rollmat-results-1"' || fail "results conventions"
    pages=$(pdfinfo "$d/report.pdf" | awk '/^Pages:/ {print $2}')
    [ "${pages:-0}" -ge 3 ] || fail "report has ${pages:-no} pages"
    ls "$d" | grep -q tmp && fail "temporary files left: $(ls "$d")"
    $PY - "$d/summary.json" "$2" <<'EOF' || fail "summary.json"
import json, sys
s = json.load(open(sys.argv[1]))
segs = s["segments"]
want = int(sys.argv[2])
assert len(segs) >= 1
if want:
    assert len(segs) == want, f"{len(segs)} sets, want {want}"
    labels = [x["label"] for x in segs]
    assert labels == ["calves", "hamstrings", "quads", "it_band", "glutes"], labels
EOF
}

# 1: the real recorder on emulated USB, real pace
"$ROLLMAT" demo -o out --realtime --time-scale 0.03 "${usb[@]}" > run1.out 2> run1.err \
    || fail "demo exit $?: $(cat run1.err)"
if [ ${#usb[@]} -eq 0 ]; then
    grep -q "recorded with the real recorder" run1.out || fail "USB path not used: $(cat run1.out run1.err)"
fi
grep -q "report.pdf" run1.out || fail "file list not printed"
check_files out 0

# 2: accelerated (default) into the same folder: replaced, the guide's five sets
"$ROLLMAT" demo -o out --time-scale 0.5 "${usb[@]}" > run2.out 2> run2.err || fail "second demo: $(cat run2.err)"
grep -q "previous demo" run2.out || fail "no word about replacing the previous demo"
if [ ${#usb[@]} -eq 0 ]; then
    grep -q "emulated USB path failed" run2.out && fail "accelerated USB path failed: $(cat run2.out)"
    grep -q "recorded with the real recorder" run2.out || fail "accelerated demo did not record over USB: $(cat run2.out)"
fi
check_files out 5
grep -q "calves" run2.out || fail "coach summary not printed"

# the lab guide's Python examples run as written on the demo's files
if [ -n "${RM_SOURCE_DIR:-}" ] && $PY -c 'import h5py' 2> /dev/null; then
    ln -s out rollmat-demo
    "$ROLLMAT" batch rollmat-demo -o summary.csv -q 2> /dev/null || fail "batch over the demo folder"
    "$ROLLMAT" batch rollmat-demo -o sessions.csv --per session --results-dir summary.results -q \
        2> /dev/null || fail "batch --per session over the demo folder"
    for t in strokes holds; do
        "$ROLLMAT" export rollmat-demo/results.h5 --$t -o $t.csv || fail "export --$t of the demo"
    done
    awk '/^```python/{p=1; next} /^```/{p=0} p' "$RM_SOURCE_DIR/docs/guide-lab.md" > lab.py
    [ "$(grep -c . lab.py)" -gt 10 ] || fail "no Python examples found in docs/guide-lab.md"
    $PY lab.py > lab.out 2>&1 || fail "docs/guide-lab.md Python examples: $(tail -5 lab.out)"
    grep -q "calves" lab.out || fail "lab guide example printed no set: $(head lab.out)"
fi

# a folder with other files is refused and left alone
mkdir other && echo keep > other/notes.txt
"$ROLLMAT" demo -o other "${usb[@]}" > /dev/null 2> run3.err && fail "non-empty folder accepted"
grep -q "notes.txt" run3.err || fail "refusal does not say why: $(cat run3.err)"
[ "$(ls other)" = "notes.txt" ] || fail "refused folder changed: $(ls other)"

# a user's own folder holding files with the demo's names (no marker: not
# made by a demo) is refused, and not one byte of it is deleted
mkdir mine && echo "my own recording" > mine/recording.h5 && echo "my report" > mine/report.pdf \
    && echo "{}" > mine/summary.json
"$ROLLMAT" demo -o mine "${usb[@]}" > /dev/null 2> run4.err && fail "a user's folder with recording.h5 accepted"
grep -q "mine" run4.err && grep -q "rollmat-demo" run4.err || fail "refusal does not say why: $(cat run4.err)"
[ "$(cat mine/recording.h5)" = "my own recording" ] && [ "$(cat mine/report.pdf)" = "my report" ] \
    && [ -f mine/summary.json ] || fail "the user's own files were changed or deleted: $(ls -la mine)"
[ -f out/.rollmat-demo ] || fail "the demo did not mark its own folder"

# a bad scenario: an error, no folder made
"$ROLLMAT" demo -o never --scenario no-such-scenario "${usb[@]}" > /dev/null 2>&1 && fail "bad scenario accepted"
[ ! -e never ] || fail "folder made for a bad scenario"
"$ROLLMAT" demo --bogus > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad option: want exit 2"
echo "demo: ok"

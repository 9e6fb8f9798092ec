#!/bin/bash
# daemon_catalogue.sh - rollmatd --catalogue registers each finished
# recording in the study catalogue (the recording row: identity, subject,
# start, quality), and `rollmat study` then adds its analysis; a catalogue
# that is not SQLite stops the daemon at start, the file unchanged.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_dcat.XXXXXX")
dpid=
cleanup() { [ -n "$dpid" ] && kill "$dpid" 2> /dev/null && wait "$dpid"; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
"$ROLLMAT" simulate -s guide --time-scale 0.1 --rate 20 --stream s.bin -q || fail "simulate"
mkdir rec

# a catalogue that is not SQLite: refused at start, unchanged
echo "not a database" > bad.sqlite
cp bad.sqlite bad.orig
"$ROLLMATD" --replay s.bin --rate 0 --socket "$dir/d0.sock" --recordings rec \
    --catalogue bad.sqlite > /dev/null 2> d0.err && fail "rollmatd started with a bad catalogue"
cmp -s bad.sqlite bad.orig || fail "rollmatd changed a file that is not a catalogue"
grep -q "not an SQLite database" d0.err || fail "bad catalogue: message: $(cat d0.err)"

mkfifo ready
"$ROLLMATD" --replay s.bin --rate 0 --socket "$dir/d.sock" --recordings rec \
    --catalogue cat.sqlite > ready 2> d.err & dpid=$!
read -r line < ready
[ "$line" = ready ] || fail "rollmatd did not say ready: $(cat d.err)"
python3 - "$dir/d.sock" <<'PY' || fail "control session"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def ask(o):
    f.write(json.dumps(o) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "type" not in r:
            return r
r = ask({"cmd": "start", "subject": "D1", "name": "d1"})
assert r.get("ok"), r
r = ask({"cmd": "stop"})
assert r.get("ok"), r
PY
kill "$dpid"; wait "$dpid"; dpid=
ls rec/*.h5 > /dev/null 2>&1 || fail "no recording: $(cat d.err)"
python3 - cat.sqlite rec <<'PY' || fail "catalogue after the daemon: $(cat "$dir/d.err")"
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("select path, subject, content_id, started_utc from recording").fetchall()
files = [os.path.realpath(os.path.join(sys.argv[2], f)) for f in os.listdir(sys.argv[2]) if f.endswith(".h5")]
assert len(rows) == 1 and rows[0][0] == files[0], (rows, files)
assert rows[0][1] == "D1" and rows[0][2].startswith("xxh64:") and rows[0][3], rows
assert c.execute("select count(*) from analysis").fetchone()[0] == 0
PY
"$ROLLMAT" study rec --db cat.sqlite > st.out || fail "study after the daemon"
grep -q "1 updated" st.out || fail "study did not add the analysis: $(cat st.out)"
[ "$(python3 -c "import sqlite3; print(sqlite3.connect('cat.sqlite').execute('select count(*) from analysis').fetchone()[0])")" = 1 ] ||
    fail "no analysis row after study"
echo "daemon_catalogue: ok"

#!/bin/bash
# live_sse.sh - rollmatd's live page stream (docs/daemon.md, "The live
# page"): a small SSE client (live_sse_client.py) follows a recording of
# the live_short scenario on the virtual mat (emulated USB, real time,
# about 80 s) (a too-fast set, then a hold) and
# checks the event format, the bands from the profile, the "slower" cue,
# the hold timer passing the band's start, a label and a stop sent through
# the POST API. The recording it started must then exist.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}" "${RM_SOURCE_DIR:?}"
[ -x "$ROLLMATD" ] || { echo "SKIP: no rollmatd at $ROLLMATD"; exit 77; }
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
"$ROLLMAT" vmat --help | grep -q "COMMAND" || { echo "SKIP: rollmat built without umockdev"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/live_sse.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir "$T/rec"
mkfifo "$T/out"
"$ROLLMAT" vmat --realtime --quiet --scenario "$RM_SOURCE_DIR/scenarios/live_short.json" -- \
    "$ROLLMATD" --socket "$T/d.sock" --recordings "$T/rec" --http=127.0.0.1:0 >"$T/out" 2>"$T/err" &
pid=$!
exec 3<"$T/out"
port=""
while read -r -t 60 line <&3; do
    case "$line" in
    "live page: http://127.0.0.1:"*) port=${line#live page: http://127.0.0.1:}; port=${port%%/*} ;;
    ready) break ;;
    esac
done
[ -n "$port" ] || fail "rollmatd printed no live page address: $(cat "$T/err")"
echo "ok: live page on port $port"
# Keep reading rollmatd's stdout so it never blocks on the pipe.
cat <&3 >/dev/null &

python3 "$RM_SOURCE_DIR/tests/live_sse_client.py" "$port" "$RM_SOURCE_DIR/profiles/guide.profile" \
    || fail "SSE client (rollmatd log: $(tail -3 "$T/err"))"
[ -s "$T/rec/sse1.h5" ] || fail "no recording sse1.h5 after start/stop through the page"
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    /usr/bin/python3 -c '
import h5py, sys
ev = h5py.File(sys.argv[1], "r")["events"][:]
labels = [e["text"].decode() for e in ev if e["kind"].decode() == "label"]
sys.exit(0 if labels == ["calves", "hamstrings"] else "labels %r" % labels)' "$T/rec/sse1.h5" \
        || fail "the recording does not hold the page's labels"
    echo "ok: the recording holds the labels calves, hamstrings"
fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ] || fail "rollmatd exit $rc after SIGTERM"
echo "ok: rollmatd exits 0"

#!/bin/bash
# live_sse_pass.sh - the live stream for a profile judged by pass duration
# (behm2020: 2-4 s per one-way pass, no speed band; docs/daemon.md, "The
# live page"): rollmatd replays a capture of the live_pass scenario (1 s,
# 3 s and 6 s passes) with --profile behm2020; the SSE client
# (live_sse_client.py --pass) checks the hello's pass band against the
# profile file, the metric fields pass_s, last_pass_s and cue_by, and the
# cue by pass duration: slower, good, faster, each matching the durations.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}" "${RM_SOURCE_DIR:?}"
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
"$ROLLMAT" vmat --help | grep -q "COMMAND" || { echo "SKIP: rollmat built without umockdev"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/live_sse_pass.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A capture with the mat's calibration (the sidecar), as `rollmat record
# --capture` makes it.
"$ROLLMAT" vmat --fast --quiet --scenario "$RM_SOURCE_DIR/scenarios/live_pass.json" --end-signal TERM -- \
    "$ROLLMAT" record -o "$T/cap.h5" -q --capture "$T/cap.bin" --clock device --no-drop 2>"$T/cap.err" \
    || fail "capture: $(tail -2 "$T/cap.err")"

mkdir "$T/rec"
mkfifo "$T/out"
"$ROLLMATD" --socket "$T/d.sock" --recordings "$T/rec" --replay "$T/cap.bin" --rate 300 \
    --profile behm2020 --http=127.0.0.1:0 >"$T/out" 2>"$T/err" &
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
cat <&3 >/dev/null &

python3 "$RM_SOURCE_DIR/tests/live_sse_client.py" "$port" "$RM_SOURCE_DIR/profiles/behm2020.profile" --pass \
    || fail "SSE client (rollmatd log: $(tail -3 "$T/err"))"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ] || fail "rollmatd exit $rc after SIGTERM"
echo "ok: rollmatd exits 0"

#!/bin/bash
# live_command_tmux.sh - `rollmat live -- COMMAND` (docs/live.md): the view
# runs rollmatd as its child on a private socket, waits for it to answer,
# follows it and stops it when the view ends.
#  - under tmux: `rollmat live --start --label calves -- rollmat vmat
#    --realtime ... -- rollmatd --recordings DIR` (the socket through
#    ROLLMAT_SOCKET): the screen shows the speed, the "slower" cue of
#    live_short's fast set and the timers; q ends the view with 0, rollmatd
#    is stopped by SIGTERM (no process left) and the recording it made is
#    closed with its frames;
#  - {socket} in the arguments: the same with `rollmatd --socket {socket}`
#    on a replayed stream, piped (plain lines), ended by SIGINT with 0;
#  - `live --` without a command exits 2; a command that exits at once
#    gives one line with its status and its last words, and that status;
#    a rollmatd that refuses to start gives its own error and status; a
#    command that never answers on the socket fails after --wait.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}" "${RM_SOURCE_DIR:?}"
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (scripts/install-deps.sh)"; exit 1; }
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
"$ROLLMAT" vmat --help | grep -q "COMMAND" || { echo "SKIP: rollmat built without umockdev"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/live_cmd.XXXXXX")
TM="tmux -L rmcmd$$ -f /dev/null"
bg=""
cleanup() { $TM kill-server 2>/dev/null; [ -n "$bg" ] && kill "$bg" 2>/dev/null && wait "$bg"; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir "$T/tmp" "$T/rec" "$T/rec2"
export TMPDIR="$T/tmp"

# Bad uses first (quick).
"$ROLLMAT" live -- >/dev/null 2>"$T/e"; rc=$?
[ $rc -eq 2 ] || fail "live -- without a command: exit $rc, want 2"
grep -q "needs a COMMAND" "$T/e" || fail "live --: $(cat "$T/e")"
echo "ok: live -- without a command: exit 2: $(cat "$T/e")"
"$ROLLMAT" live -- sh -c 'echo "no mat here" >&2; exit 3' >/dev/null 2>"$T/e"; rc=$?
[ $rc -eq 3 ] || fail "a command exiting 3 at once: exit $rc, want 3"
[ "$(wc -l <"$T/e")" -eq 1 ] || fail "not one line: $(cat "$T/e")"
grep -q "sh exited with status 3 before its socket was ready: no mat here" "$T/e" || fail "message: $(cat "$T/e")"
echo "ok: a command that exits at once: exit 3: $(cat "$T/e")"
"$ROLLMAT" live -- "$ROLLMATD" --recordings "$T/nowhere" --replay "$RM_SOURCE_DIR/docs/live.md" \
    >/dev/null 2>"$T/e"; rc=$?
[ $rc -ne 0 ] || fail "rollmatd with a missing recordings folder: exit 0"
grep -q "rollmatd exited with status $rc before its socket was ready: .*nowhere" "$T/e" \
    || fail "rollmatd's failure: $(cat "$T/e")"
echo "ok: rollmatd that cannot start: exit $rc: $(cat "$T/e")"
"$ROLLMAT" live --wait 1 -- sleep 30 >/dev/null 2>"$T/e"; rc=$?
[ $rc -eq 1 ] || fail "a command with no socket: exit $rc"
grep -q "did not answer on .* within 1 s" "$T/e" || fail "no-socket message: $(cat "$T/e")"
echo "ok: a command that never answers: exit 1 after --wait: $(cat "$T/e")"

# {socket}, piped: a replayed stream (no calibration: the lines flow, the
# cues need none of it), ended by SIGINT.
"$ROLLMAT" simulate --scenario "$RM_SOURCE_DIR/scenarios/live_short.json" --stream "$T/s.bin" -q \
    || fail "simulate"
"$ROLLMAT" live --start --label quads -- "$ROLLMATD" --socket "{socket}" --replay "$T/s.bin" \
    --recordings "$T/rec2" >"$T/plain" 2>"$T/plain.err" &
bg=$!
for _ in $(seq 300); do [ "$(grep -c "^time " "$T/plain")" -ge 5 ] && break; sleep 0.1; done
kill -INT "$bg"; wait "$bg"; rc=$?; bg=""
[ $rc -eq 0 ] || fail "SIGINT: exit $rc: $(cat "$T/plain.err")"
grep -q "^time [0-9.]* s  group quads  state" "$T/plain" || fail "plain lines: $(head -2 "$T/plain")"
ls "$T/rec2"/*.h5 >/dev/null 2>&1 || fail "no recording from --start"
"$ROLLMAT" info "$T/rec2"/*.h5 | grep -q "^status: *closed" || fail "the recording is not closed"
echo "ok: {socket}: $(grep -c "^time " "$T/plain") plain lines, SIGINT stops rollmatd, recording closed"

# Under tmux, rollmatd on the virtual mat (real time), the socket from
# ROLLMAT_SOCKET.
$TM new-session -d -x 100 -y 40 -s live
$TM send-keys -t live "TERM=xterm-256color '$ROLLMAT' live --start --label calves -- '$ROLLMAT' vmat --realtime --quiet --scenario '$RM_SOURCE_DIR/scenarios/live_short.json' -- '$ROLLMATD' --recordings '$T/rec'; echo \"rc=\$?\" >'$T/rc'" Enter
screen=""
for _ in $(seq 600); do  # bounded (60 s); waits for the screen's content
    screen=$($TM capture-pane -p -t live)
    grep -q "slower" <<<"$screen" && break
    sleep 0.1
done
echo "$screen" | tail -8
grep -q "slower" <<<"$screen" || fail "no 'slower' cue on the screen"
grep -Eq "speed +[0-9]+\.[0-9] cm/s" <<<"$screen" || fail "no speed on the screen"
grep -Eq "hold .* set [0-9]+:[0-9]{2} +session [0-9]+:[0-9]{2}" <<<"$screen" || fail "no timers on the screen"
grep -q "calves" <<<"$screen" || fail "no muscle group on the screen"
echo "ok: live -- vmat -- rollmatd shows the group, speed, 'slower' and the timers"
$TM send-keys -t live q
for _ in $(seq 200); do [ -s "$T/rc" ] && break; sleep 0.1; done
[ "$(cat "$T/rc" 2>/dev/null)" = "rc=0" ] || fail "q: $(cat "$T/rc" 2>/dev/null)"
f=$(ls "$T/rec"/*.h5 2>/dev/null | head -1)
[ -n "$f" ] || fail "no recording"
"$ROLLMAT" info "$f" >"$T/info" || fail "rollmat info $f"
grep -q "^status: *closed" "$T/info" || fail "the recording was not closed: $(head -3 "$T/info")"
frames=$(sed -n 's/^frames: *//p' "$T/info")
[ "${frames:-0}" -gt 100 ] || fail "recording holds ${frames:-0} frames"
pgrep -f -- "--recordings $T/rec\$" >/dev/null && fail "rollmatd still runs after q"
echo "ok: q: exit 0, rollmatd stopped, its recording closed with $frames frames"
left=$(ls -A "$T/tmp")
[ -z "$left" ] || fail "left in TMPDIR: $left"
echo "ok: nothing left in TMPDIR (private socket and log removed)"

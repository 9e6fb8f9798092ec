#!/bin/bash
# live_replay_tmux.sh - `rollmat live --replay RAW.bin` (docs/live.md): the
# terminal view fed by a replayed raw capture through rollmatd's own live
# analysis in-process, no daemon running. Under tmux (send-keys,
# capture-pane):
#  - a capture of live_short (guide profile): the screen shows the speed,
#    the "slower" cue of the too-fast set, the hold timer past 20 s, the set
#    and session timers; q ends the view with exit 0;
#  - a capture of live_pass with --profile behm2020 (no speed band, a pass
#    band of 2-4 s): the cue "slower" by pass duration during the 1 s
#    passes, the pass band and the last pass's duration on the screen;
#  - piped, a replay prints plain lines and ends with the capture (exit 0);
#  - bad input: a missing file and a file that is not a capture give one
#    line on stderr and exit 1; nothing is left in TMPDIR.
# The captures are recorded from the virtual mat over emulated USB
# (`rollmat record --capture`, which writes the calibration sidecar).
set -u
: "${ROLLMAT:?}" "${RM_SOURCE_DIR:?}"
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (scripts/install-deps.sh)"; exit 1; }
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
"$ROLLMAT" vmat --help | grep -q "COMMAND" || { echo "SKIP: rollmat built without umockdev"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/live_replay.XXXXXX")
TM="tmux -L rmreplay$$ -f /dev/null"
cleanup() { $TM kill-server 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir "$T/tmp"
export TMPDIR="$T/tmp"

capture() { # SCENARIO OUT.bin
    "$ROLLMAT" vmat --fast --quiet --scenario "$RM_SOURCE_DIR/scenarios/$1.json" --end-signal TERM -- \
        "$ROLLMAT" record -o "$T/$1.h5" -q --capture "$2" --clock device --no-drop 2>"$T/$1.err" \
        || fail "capture of $1: $(tail -2 "$T/$1.err")"
    [ -s "$2.dev" ] || fail "no sidecar $2.dev"
}
capture live_short "$T/short.bin"
capture live_pass "$T/pass.bin"
echo "ok: captures of live_short and live_pass"

# Polls the pane (bounded: 600 x 0.1 s) until PATTERN is on it; the
# condition waited for is the screen's content, nothing is timed.
screen=""
wait_screen() {
    for _ in $(seq 600); do
        screen=$($TM capture-pane -p -t live)
        grep -Eq "$1" <<<"$screen" && return 0
        sleep 0.1
    done
    echo "$screen" | head -40
    fail "never on the screen: $1"
}

$TM new-session -d -x 100 -y 40 -s live
$TM send-keys -t live "TERM=xterm-256color '$ROLLMAT' live --replay '$T/short.bin' --rate 300 --label calves; echo \"rc=\$?\" >'$T/rc1'" Enter
wait_screen "slower"
grep -Eq "speed +[0-9]+\.[0-9] cm/s" <<<"$screen" || fail "no speed on the screen"
grep -Eq "band [0-9.]+-[0-9.]+ cm/s" <<<"$screen" || fail "no speed band on the screen"
grep -Eq "set [0-9]+:[0-9]{2} +session [0-9]+:[0-9]{2}" <<<"$screen" || fail "no set/session timers"
grep -q "calves" <<<"$screen" || fail "no muscle group on the screen"
grep -q "roller" <<<"$screen" || fail "no heat map legend on the screen"
echo "$screen" | tail -6
echo "ok: live --replay shows the speed, its band, 'slower', the group and the timers"
wait_screen "hold (2[0-9]|3[0-9]) s"
echo "ok: the hold timer passed 20 s: $(grep -Eo "hold [0-9]+ s" <<<"$screen")"
$TM send-keys -t live q
for _ in $(seq 100); do [ -s "$T/rc1" ] && break; sleep 0.1; done
[ "$(cat "$T/rc1" 2>/dev/null)" = "rc=0" ] || fail "q did not end the view with 0: $(cat "$T/rc1" 2>/dev/null)"
# The replay's own end prints "replay of ... ended"; q must have come first.
$TM capture-pane -p -t live | grep -q "ended:" && fail "the view ran to the end of the capture: q did nothing"
echo "ok: q ends the view, exit 0"

$TM send-keys -t live "clear; TERM=xterm-256color '$ROLLMAT' live --replay '$T/pass.bin' --rate 300 --profile behm2020; echo \"rc=\$?\" >'$T/rc2'" Enter
wait_screen "last pass (0\.[89]|1\.[0-2]) s"
grep -Eq "slower.*by pass duration" <<<"$screen" || fail "no 'slower' by pass duration after a 1 s pass"
grep -Eq "band 2\.0-4\.0 s per pass" <<<"$screen" || fail "no pass band on the screen"
echo "$screen" | tail -6
echo "ok: behm2020: 'slower' by pass duration, band 2-4 s, last pass about 1 s"
wait_screen "good.*by pass duration"
echo "ok: behm2020: 'good' during the 3 s passes"
$TM send-keys -t live C-c
for _ in $(seq 100); do [ -s "$T/rc2" ] && break; sleep 0.1; done
[ "$(cat "$T/rc2" 2>/dev/null)" = "rc=0" ] || fail "Ctrl-C did not end the view with 0: $(cat "$T/rc2" 2>/dev/null)"
$TM capture-pane -p -t live | grep -q "ended:" && fail "the view ran to the end of the capture: Ctrl-C did nothing"
echo "ok: Ctrl-C ends the view, exit 0"

# Piped: plain lines, the end of the capture ends the view.
"$ROLLMAT" live --replay "$T/pass.bin" --rate 1000 --profile behm2020 >"$T/plain" 2>"$T/plain.err"
rc=$?
[ $rc -eq 0 ] || fail "piped replay exit $rc: $(cat "$T/plain.err")"
grep -q "cue slower" "$T/plain" || fail "no 'cue slower' in the plain lines"
grep -Eq "pass [0-9.]+ s  last pass [0-9.]+ s" "$T/plain" || fail "no pass durations in the plain lines"
grep -q "^replay of .*pass.bin ended: 5800 frames" "$T/plain" || fail "no end line: $(tail -1 "$T/plain")"
grep -q $'\033' "$T/plain" && fail "piped output has escape sequences"
echo "ok: piped, $(wc -l <"$T/plain") plain lines, ends with the capture (5800 frames)"

# Bad input: one line, exit 1.
bad() { # WHAT FILE PATTERN
    "$ROLLMAT" live --replay "$2" >"$T/bad.out" 2>"$T/bad.err"
    local rc=$?
    [ $rc -eq 1 ] || fail "$1: exit $rc, want 1"
    [ "$(wc -l <"$T/bad.err")" -eq 1 ] || fail "$1: not one line: $(cat "$T/bad.err")"
    grep -q "$3" "$T/bad.err" || fail "$1: message $(cat "$T/bad.err")"
    echo "ok: $1: $(cat "$T/bad.err")"
}
bad "missing capture" "$T/missing.bin" "missing.bin: No such file"
head -c 200000 "$RM_SOURCE_DIR/docs/live.md" >"$T/notes.bin"
bad "not a capture" "$T/notes.bin" "notes.bin: no frame in the stream"
bad "a folder" "$T" "not a regular file"
"$ROLLMAT" live --replay "$T/short.bin" --rate 0 2>/dev/null; [ $? -eq 2 ] || fail "--rate 0 is not a usage error"
left=$(ls -A "$T/tmp")
[ -z "$left" ] || fail "left in TMPDIR: $left"
echo "ok: nothing left in TMPDIR"

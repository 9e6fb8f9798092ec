#!/bin/bash
# live_tmux.sh - `rollmat live` in a terminal (tmux: send-keys,
# capture-pane) following rollmatd on the virtual mat playing live_short:
# the screen shows the speed, the "slower" cue of the too-fast set and the
# hold, set and session timers; piped, it prints plain lines.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}" "${RM_SOURCE_DIR:?}"
command -v tmux >/dev/null || { echo "FAIL: tmux is not installed (scripts/install-deps.sh)"; exit 1; }
command -v umockdev-wrapper >/dev/null || { echo "SKIP: umockdev not installed"; exit 77; }
"$ROLLMAT" vmat --help | grep -q "COMMAND" || { echo "SKIP: rollmat built without umockdev"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/live_tmux.XXXXXX")
TM="tmux -L rmlive$$ -f /dev/null"
pid=""
cleanup() { $TM kill-server 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir "$T/rec"
mkfifo "$T/out"
"$ROLLMAT" vmat --realtime --quiet --scenario "$RM_SOURCE_DIR/scenarios/live_short.json" -- \
    "$ROLLMATD" --socket "$T/d.sock" --recordings "$T/rec" >"$T/out" 2>"$T/err" &
pid=$!
exec 3<"$T/out"
read -r -t 60 line <&3 && [ "$line" = ready ] || fail "rollmatd not ready: $(cat "$T/err")"
cat <&3 >/dev/null &

# Plain lines when stdout is not a terminal (before the recording: the
# subscriber sees its first lines once it starts).
"$ROLLMAT" live --socket "$T/d.sock" >"$T/plain" 2>&1 &
plain=$!
$TM new-session -d -x 100 -y 40 -s live
$TM send-keys -t live "TERM=xterm-256color '$ROLLMAT' live --socket '$T/d.sock'" Enter
python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
s.sendall(b"{\"cmd\":\"start\",\"label\":\"calves\",\"name\":\"tmux\"}\n"); print(s.makefile().readline().strip())' \
    "$T/d.sock" | grep -q '"ok": *true' || fail "start"

# Poll the screen (bounded, 60 s) until the fast set's cue is on it: the
# condition waited for is the screen's content, nothing is timed.
screen=""
for _ in $(seq 600); do
    screen=$($TM capture-pane -p -t live)
    grep -q "slower" <<<"$screen" && break
    sleep 0.1
done
echo "$screen" | head -30
grep -q "slower" <<<"$screen" || fail "no 'slower' cue on the screen"
grep -Eq "speed +[0-9]+\.[0-9] cm/s" <<<"$screen" || fail "no speed on the screen"
grep -Eq "hold .* set [0-9]+:[0-9]{2} +session [0-9]+:[0-9]{2}" <<<"$screen" || fail "no timers on the screen"
grep -q "calves" <<<"$screen" || fail "no muscle group on the screen"
grep -q "roller" <<<"$screen" || fail "no heat map legend on the screen"
echo "ok: rollmat live shows the group, heat map, speed, cue and timers"
$TM send-keys -t live C-c
kill "$plain" 2>/dev/null; wait "$plain"
grep -Eq "^time [0-9.]+ s  group calves  state [a-z_]+  speed [0-9.na-]+ cm/s  cue [a-z-]+  hold .*  set [0-9]+:[0-9]{2}  session" "$T/plain" \
    || fail "piped output is not plain lines: $(head -2 "$T/plain")"
grep -q $'\033' "$T/plain" && fail "piped output has escape sequences"
echo "ok: piped, plain lines ($(wc -l <"$T/plain") of them)"

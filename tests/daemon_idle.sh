#!/bin/bash
# daemon_idle.sh - rollmatd --idle-timeout (and idle_timeout in the config
# file): a control client that neither subscribes nor sends a command for that
# long is closed, a subscriber is kept, and a bad value is a usage error.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_didle.XXXXXX")
dpid=
cleanup() { [ -n "$dpid" ] && kill "$dpid" 2> /dev/null && wait "$dpid"; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
"$ROLLMAT" simulate -s guide --time-scale 0.1 --rate 20 --stream s.bin -q || fail "simulate"
mkdir rec

for bad in 0 -1 abc 1e9; do
    "$ROLLMATD" --replay s.bin --socket "$dir/b.sock" --recordings rec --idle-timeout "$bad" \
        > /dev/null 2> b.err
    [ $? = 2 ] || fail "--idle-timeout $bad: exit status not 2"
    grep -q "idle timeout '$bad'" b.err || fail "--idle-timeout $bad: message: $(cat b.err)"
    [ -e b.sock ] && fail "--idle-timeout $bad left a socket"
done

# The value comes from the config file; the option would override it.
printf 'idle_timeout = 0.5\n' > d.conf
mkfifo ready
"$ROLLMATD" --config d.conf --replay s.bin --rate 20 --socket "$dir/d.sock" --recordings rec \
    > ready 2> d.err & dpid=$!
read -r line < ready
[ "$line" = ready ] || fail "rollmatd did not say ready: $(cat d.err)"
# The silent client must see the daemon close its connection well before the
# default 60 s; the subscriber, silent too, must still be served after that.
python3 - "$dir/d.sock" <<'PY' || fail "idle clients: $(cat d.err)"
import json, socket, sys, time
silent = socket.socket(socket.AF_UNIX); silent.connect(sys.argv[1])
sub = socket.socket(socket.AF_UNIX); sub.connect(sys.argv[1])
sub.sendall(b'{"cmd":"subscribe"}\n')
silent.settimeout(20)
t0 = time.monotonic()
data = silent.recv(4096)
waited = time.monotonic() - t0
assert data == b"", ("the daemon sent something to a silent client", data)
assert waited < 15, ("closed only after %.1f s" % waited)
# The subscriber has been silent as long as the closed client: it must
# still be served (it is reading, not idle).
sub.settimeout(10)
sub.sendall(b'{"cmd":"status"}\n')
f = sub.makefile("rb")
for _ in range(50):
    line = f.readline()
    assert line, "the daemon closed a subscriber"
    if b'"state"' in line:
        break
else:
    raise AssertionError("no status reply on the subscriber")
PY
echo "daemon_idle: ok"

#!/bin/bash
# live_abuse.sh - the live page under abuse (docs/daemon.md, "The live
# page"): a non-loopback bind without a token refuses to start; with a
# token, none gets 401 and a wrong one 403; path-like URLs get 404; a
# 1 MB request line, an oversized body and 200 idle connections are
# refused or dropped while the recording goes on losing no frame.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}" "${RM_SOURCE_DIR:?}"
[ -x "$ROLLMATD" ] || { echo "SKIP: no rollmatd at $ROLLMATD"; exit 77; }
command -v curl >/dev/null || { echo "FAIL: curl is not installed"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/live_abuse.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$T"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$ROLLMAT" simulate --scenario "$RM_SOURCE_DIR/scenarios/live_short.json" --stream "$T/s.bin" \
    >/dev/null 2>"$T/sim.err" || { echo "FAIL: simulate: $(cat "$T/sim.err")"; exit 1; }
mkdir "$T/rec"

# 1. Off loopback without a token: no start, a one-line error naming why.
"$ROLLMATD" --replay "$T/s.bin" --socket "$T/n.sock" --recordings "$T/rec" \
    --http=0.0.0.0:0 >"$T/n.out" 2>"$T/n.err"
rc=$?
[ $rc -eq 1 ] || fail "non-loopback bind without a token: exit $rc, expected 1"
grep -q "token" "$T/n.err" || fail "non-loopback bind without a token: $(cat "$T/n.err")"
[ -e "$T/n.sock" ] && fail "a socket was left behind"
echo "ok: non-loopback without a token refuses to start: $(head -1 "$T/n.err")"

# 2. With a token, on all addresses.
TOK=abuse-test-token-1
mkfifo "$T/out"
"$ROLLMATD" --replay "$T/s.bin" --socket "$T/d.sock" --recordings "$T/rec" \
    --http=0.0.0.0:0 --http-token "$TOK" >"$T/out" 2>"$T/err" &
pid=$!
exec 3<"$T/out"
port=""
while read -r -t 60 line <&3; do
    case "$line" in
    "live page: http://0.0.0.0:"*) port=${line#live page: http://0.0.0.0:}; port=${port%%/*} ;;
    ready) break ;;
    esac
done
[ -n "$port" ] || { echo "FAIL: no live page address: $(cat "$T/err")"; exit 1; }
cat <&3 >/dev/null &
U=http://127.0.0.1:$port
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "$@"; }
for path in / /events /api/status; do
    c=$(code "$U$path"); [ "$c" = 401 ] || fail "$path without a token: $c, expected 401"
    c=$(code "$U$path?token=wrong-token-xx"); [ "$c" = 403 ] || fail "$path, wrong token: $c, expected 403"
    c=$(code -H "Authorization: Bearer nope-nope-nope" "$U$path")
    [ "$c" = 403 ] || fail "$path, wrong bearer token: $c, expected 403"
done
c=$(code -X POST -H 'Content-Type: application/json' -d '{}' "$U/api/stop")
[ "$c" = 401 ] || fail "POST /api/stop without a token: $c, expected 401"
c=$(code "$U/?token=$TOK"); [ "$c" = 200 ] || fail "/ with the token: $c"
c=$(code -H "Authorization: Bearer $TOK" "$U/api/status"); [ "$c" = 200 ] || fail "bearer token: $c"
echo "ok: no token 401, wrong token 403, the token 200"

for path in "/../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/etc/passwd" "/events/../../etc/passwd" \
    "//etc/passwd" "/api/../../../etc/shadow"; do
    c=$(code --path-as-is "$U$path?token=$TOK")
    [ "$c" = 404 ] || fail "$path: $c, expected 404"
done
echo "ok: path-like URLs get 404"

# 3. Recording while under abuse: start, then 1 MB request lines, a 1 MB
#    body and 200 idle connections; the recording must go on, losing nothing.
sock() { python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode()+b"\n"); print(s.makefile().readline().strip())' "$T/d.sock" "$1"; }
sock '{"cmd":"start","name":"abuse"}' | grep -q '"ok": *true' || fail "start on the socket"
f0=$(sock '{"cmd":"status"}' | sed -n 's/.*"frames": *\([0-9]*\).*/\1/p')
python3 - "$port" "$TOK" <<'PY' || fail "abuse client"
import socket, sys
port, tok = int(sys.argv[1]), sys.argv[2]
def talk(data, read=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(data)
    except OSError:
        pass  # refused mid-way: fine, the server closed
    out = b""
    try:
        while read:
            b = s.recv(4096)
            if not b: break
            out += b
    except OSError:
        pass
    s.close()
    return out.split(b"\r\n", 1)[0]
line = talk(b"GET /" + b"A" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
assert not line.startswith(b"HTTP/1.1 200"), line
print("ok: 1 MB request line: %r" % (line or b"connection closed"))
hdr = talk(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"B" * (1 << 20) + b"\r\n\r\n")
assert not hdr.startswith(b"HTTP/1.1 200"), hdr
body = b"{" + b" " * (1 << 20) + b"}"
r = talk(b"POST /api/label?token=" + tok.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
assert r.startswith(b"HTTP/1.1 413"), r
print("ok: 1 MB header refused, 1 MB body: %r" % r)
idle = []
for i in range(200):
    try:
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        pass
print("ok: %d idle connections open" % len(idle))
PY
# While they are open (the client above exited: run it again, holding).
python3 - "$port" "$T/d.sock" <<'PY' || fail "idle connections stopped the daemon"
import json, socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(200)]
def status():
    s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(path)
    s.sendall(b'{"cmd":"status"}\n'); r = json.loads(s.makefile().readline()); s.close(); return r
a = status()
# The control socket answers and frames keep coming while 200 sockets idle.
b = a
while b["frames"] <= a["frames"] + 200:
    b = status()
print("ok: with 200 idle connections open, frames %d -> %d, lost %d" % (a["frames"], b["frames"], b["lost"]))
for s in idle: s.close()
PY
r=$(sock '{"cmd":"stop"}')
f1=$(echo "$r" | sed -n 's/.*"frames": *\([0-9]*\).*/\1/p')
[ -n "$f1" ] && [ -n "$f0" ] && [ "$f1" -gt "$f0" ] || fail "recording did not go on: $f0 -> $f1 ($r)"
grep -q '"lost"' <<<"$(sock '{"cmd":"status"}')" && fail "status still recording"
[ -s "$T/rec/abuse.h5" ] || fail "no recording abuse.h5"
lost=$(grep -o 'abuse.h5 closed: [0-9]* frames, [0-9]* lost' "$T/err" | sed 's/.*, \([0-9]*\) lost/\1/')
[ "$lost" = 0 ] || fail "the recording lost frames: '$lost' ($(grep closed "$T/err"))"
echo "ok: the recording went on: $f0 -> $f1 frames, $lost lost"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
[ $rc -eq 0 ] || fail "rollmatd exit $rc after SIGTERM"
[ $fails -eq 0 ] || exit 1
echo "ok: all abuse checks"

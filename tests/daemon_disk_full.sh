#!/usr/bin/env bash
# rollmatd on a full disk: `start` is answered with a one-line error naming
# the full recordings folder, and nothing is created (docs/daemon.md); once
# there is room again the same start records. The full disk is a small
# tmpfs filled up (needs root for the mount: skipped otherwise).
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}"
d=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    mountpoint -q "$d/rec" && umount "$d/rec"
    rm -rf "$d"
}
trap cleanup EXIT
mkdir "$d/rec"
mount -t tmpfs -o size=8m tmpfs "$d/rec" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs (not root)"; exit 77; }
"$ROLLMAT" simulate --scenario guide --time-scale 0.05 -q --stream "$d/s.bin" || { echo "FAIL: simulate"; exit 1; }
dd if=/dev/zero of="$d/rec/filler" bs=64k 2>/dev/null   # until the disk is full
mkfifo "$d/ready"
"$ROLLMATD" --replay "$d/s.bin" --rate 0 --recordings "$d/rec" --socket "$d/ctl.sock" \
    > "$d/ready" 2> "$d/log" &
pid=$!
read -r line < "$d/ready" || true   # blocks until rollmatd printed "ready" (or died)
[ "$line" = ready ] || { echo "FAIL: rollmatd did not start: $(cat "$d/log")"; exit 1; }
ask() {   # one command, its one reply line
    python3 - "$d/ctl.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while b"\n" not in buf:
    chunk = s.recv(65536)
    if not chunk: break
    buf += chunk
print(buf.split(b"\n")[0].decode())
PY
}
r=$(ask '{"cmd":"start","name":"t1"}')
echo "$r" | grep -q '"ok": *false' || { echo "FAIL: start on a full disk answered: $r"; exit 1; }
echo "$r" | grep -q "disk full" || { echo "FAIL: the error does not say the disk is full: $r"; exit 1; }
[ "$(ls -A "$d/rec")" = filler ] || { echo "FAIL: a full disk still left: $(ls -A "$d/rec")"; exit 1; }
r=$(ask '{"cmd":"status"}')
echo "$r" | grep -q '"state": *"idle"' || { echo "FAIL: not idle after a refused start: $r"; exit 1; }
rm "$d/rec/filler"   # room again: the same start works
r=$(ask '{"cmd":"start","name":"t1"}')
echo "$r" | grep -q '"ok": *true' || { echo "FAIL: start with room answered: $r"; exit 1; }
[ -s "$d/rec/t1.h5" ] || { echo "FAIL: start answered ok but t1.h5 is not there yet"; exit 1; }
r=$(ask '{"cmd":"stop"}')
echo "$r" | grep -q '"ok": *true' || { echo "FAIL: stop: $r"; exit 1; }
"$ROLLMAT" info "$d/rec/t1.h5" > /dev/null || { echo "FAIL: the recording does not open"; exit 1; }
echo "daemon on a full disk: start refused with 'disk full', nothing created; with room it records"

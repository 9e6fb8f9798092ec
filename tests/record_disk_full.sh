#!/usr/bin/env bash
# The disk fills during a recording: rollmat record stops with a one-line
# error and a non-zero status, never a crash, and what was flushed before
# stays readable. A file-size limit stands in for a full disk.
set -u
: "${ROLLMAT:?}"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$ROLLMAT" simulate --scenario guide --time-scale 0.5 -q --stream "$d/s.bin" || { echo "FAIL: simulate"; exit 1; }
( ulimit -f 16000; trap '' XFSZ; exec "$ROLLMAT" record --replay "$d/s.bin" -o "$d/full.h5" -q ) \
  > "$d/out" 2> "$d/err"
rc=$?
[ $rc = 1 ] || { echo "FAIL: exit status $rc, expected 1"; cat "$d/err"; exit 1; }
grep -q "rollmat record: .*full.h5.*disk full" "$d/err" || { echo "FAIL: no disk-full message"; cat "$d/err"; exit 1; }
[ "$(grep -c . "$d/err")" = 1 ] || { echo "FAIL: error is not one line"; cat "$d/err"; exit 1; }
"$ROLLMAT" info "$d/full.h5" > "$d/info" || { echo "FAIL: the partial recording does not open"; exit 1; }
frames=$(awk '$1=="frames:"{print $2}' "$d/info")
grep -q "status: *live" "$d/info" || { echo "FAIL: not reported as an interrupted recording"; cat "$d/info"; exit 1; }
echo "disk full: exit 1, one-line error, partial recording opens with $frames flushed frames"

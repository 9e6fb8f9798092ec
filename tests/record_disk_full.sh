#!/usr/bin/env bash
# The disk fills during a recording: rollmat record stops with a one-line
# error and a non-zero status, never a crash; what was flushed before stays
# readable (a replay flushes every chunk, so nearly everything), and the
# summary says how many frames really are in the file. A file-size limit
# stands in for a full disk.
set -u
: "${ROLLMAT:?}"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$ROLLMAT" simulate --scenario guide --time-scale 0.5 -q --stream "$d/s.bin" || { echo "FAIL: simulate"; exit 1; }
( ulimit -f 16000; trap '' XFSZ; exec "$ROLLMAT" record --replay "$d/s.bin" -o "$d/full.h5" -q ) \
  > "$d/out" 2> "$d/err"
rc=$?
[ $rc = 1 ] || { echo "FAIL: exit status $rc, expected 1"; cat "$d/err"; exit 1; }
# the stream has no sidecar: a warning about the measured rate may precede the error
grep -v "^rollmat: warning: " "$d/err" > "$d/errors"
grep -q "rollmat record: .*full.h5.*disk full" "$d/errors" || { echo "FAIL: no disk-full message"; cat "$d/err"; exit 1; }
[ "$(grep -c . "$d/errors")" = 1 ] || { echo "FAIL: error is not one line"; cat "$d/err"; exit 1; }
"$ROLLMAT" info "$d/full.h5" > "$d/info" || { echo "FAIL: the partial recording does not open"; exit 1; }
frames=$(awk '$1=="frames:"{print $2}' "$d/info")
grep -q "status: *live" "$d/info" || { echo "FAIL: not reported as an interrupted recording"; cat "$d/info"; exit 1; }
# 16000 KiB hold thousands of frames of this stream: a replay that flushed
# only now and then (host time) left none of them readable
[ "${frames:-0}" -gt 1000 ] || { echo "FAIL: only ${frames:-0} frames readable after the disk filled"; exit 1; }
# the summary counts what a reader finds in the file, not what was received
grep -q "full.h5: $frames frames readable ([0-9]* received, [0-9]* not in the file)" "$d/out" \
  || { echo "FAIL: summary does not say the $frames frames in the file: $(cat "$d/out")"; exit 1; }
echo "disk full: exit 1, one-line error, partial recording opens with $frames flushed frames, summary says so"

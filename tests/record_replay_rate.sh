#!/usr/bin/env bash
# A raw stream replayed without its capture sidecar (rollmat simulate
# --stream writes none) does not say its frame rate: rollmat record takes it
# from the mat's timestamps, says so on stderr and in the file's notes, and
# the recording can be analysed.
set -u
: "${ROLLMAT:?}"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$ROLLMAT" simulate --scenario guide --time-scale 0.1 --rate 250 -q --stream "$d/s.bin" \
  || { echo "FAIL: simulate"; exit 1; }
[ ! -e "$d/s.bin.dev" ] || { echo "FAIL: simulate wrote a sidecar; the test needs a stream without"; exit 1; }
"$ROLLMAT" record --replay "$d/s.bin" -o "$d/r.h5" -q > "$d/out" 2> "$d/err" \
  || { echo "FAIL: record --replay: $(cat "$d/err")"; exit 1; }
# the simulated mat's clock is off by a few ppm, as a real one: 250 Hz within 0.1 Hz
hz='(249\.9[0-9]|250\.0[0-9])'
grep -Eq "warning: .*s.bin: no sidecar.* $hz Hz measured from the device timestamps" "$d/err" \
  || { echo "FAIL: no log line about the measured rate: $(cat "$d/err")"; exit 1; }
"$ROLLMAT" info "$d/r.h5" > "$d/info" || { echo "FAIL: info"; exit 1; }
grep -Eq "^rate: *(250|$hz) Hz nominal" "$d/info" || { echo "FAIL: nominal rate not 250 Hz: $(grep rate "$d/info")"; exit 1; }
grep -Eq "rate $hz Hz measured from the device timestamps \(no sidecar\)" "$d/info" \
  || { echo "FAIL: the file does not say the rate was measured"; cat "$d/info"; exit 1; }
"$ROLLMAT" analyze "$d/r.h5" -o "$d/r.res.h5" > "$d/aout" 2> "$d/aerr" \
  || { echo "FAIL: analyze of the replay: $(cat "$d/aerr")"; exit 1; }
[ -s "$d/r.res.h5" ] || { echo "FAIL: no results"; exit 1; }
echo "replay without sidecar: 250 Hz measured, noted in the file, analysis runs"

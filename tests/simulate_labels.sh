#!/usr/bin/env bash
# rollmat simulate -o labels each set as an operator would: one label event
# per scenario segment, in order, before the set's frames.
set -u
: "${ROLLMAT:?}"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$ROLLMAT" simulate --scenario guide --time-scale 0.2 -q -o "$d/s.h5" || { echo "FAIL: simulate"; exit 1; }
"$ROLLMAT" export "$d/s.h5" --events -o "$d/ev.csv" || { echo "FAIL: export"; exit 1; }
got=$(awk -F, '$2=="label"{printf "%s ", $4}' "$d/ev.csv")
want="calves hamstrings quads it_band glutes "
[ "$got" = "$want" ] || { echo "FAIL: labels '$got', expected '$want'"; exit 1; }
# times strictly increasing
awk -F, '$2=="label"{ if (n++ && $1 <= last) bad=1; last=$1 } END{exit bad}' "$d/ev.csv" \
  || { echo "FAIL: label times not increasing"; cat "$d/ev.csv"; exit 1; }
echo "simulate labels: ok"

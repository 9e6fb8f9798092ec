#!/usr/bin/env bash
# analyze_labels.sh - `rollmat analyze --labels` with a list that names
# more or fewer sets than were found warns with both counts (the names are
# probably shifted); a list of the right length does not.
set -u
: "${ROLLMAT:?}"
d=$(mktemp -d "${TMPDIR:-/tmp}/rm_analyze_labels.XXXXXX"); trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
"$ROLLMAT" simulate -s rushed --seed 3 -o "$d/rec.h5" -q || fail "simulate"
n=$("$ROLLMAT" analyze "$d/rec.h5" --json --no-write | python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)["segments"]))') || fail "analyze --json"
[ "$n" -ge 3 ] || fail "only $n sets found"
names=$(seq -s, 1 "$n" | sed 's/[0-9]\+/g&/g')
"$ROLLMAT" analyze "$d/rec.h5" --no-write --labels "$names" > /dev/null 2> "$d/ok.err" \
  || fail "analyze with $n names: $(cat "$d/ok.err")"
grep -q "warning" "$d/ok.err" && fail "warning with the right count: $(cat "$d/ok.err")"
short=$(seq -s, 1 $((n - 1)) | sed 's/[0-9]\+/g&/g')
"$ROLLMAT" analyze "$d/rec.h5" --no-write --labels "$short" > "$d/out.txt" 2> "$d/short.err" \
  || fail "a short list is a warning, not an error: $(cat "$d/short.err")"
grep -q "warning: --labels names $((n - 1)) sets but $n were found" "$d/short.err" \
  || fail "no warning naming both counts: $(cat "$d/short.err")"
[ "$(wc -l < "$d/short.err")" -eq 1 ] || fail "more than one line: $(cat "$d/short.err")"
"$ROLLMAT" analyze "$d/rec.h5" --no-write --labels "$names,extra" > /dev/null 2> "$d/long.err"
grep -q "names $((n + 1)) sets but $n were found" "$d/long.err" \
  || fail "no warning for a long list: $(cat "$d/long.err")"
echo "analyze --labels count warning: ok"

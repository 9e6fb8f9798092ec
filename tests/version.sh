#!/bin/bash
# version.sh - one version everywhere: the `software` attribute of a new
# recording, of its results file and of the JSON summary equals what
# `rollmat --version` and `rollmatd --version` print (all come from the one
# generated rm_version.h; a literal fallback in a library would show here
# after the first version bump). `rollmat batch` then finds the results file
# current: it does not analyse the recording again.
set -u
: "${ROLLMAT:?}" "${ROLLMATD:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/version.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

want=$("$ROLLMAT" --version) || fail "rollmat --version failed"
[[ "$want" =~ ^rollmat\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "rollmat --version printed '$want'"
d=$("$ROLLMATD" --version) || fail "rollmatd --version failed"
[ "$d" = "rollmatd ${want#rollmat }" ] || fail "rollmatd --version '$d' differs from '$want'"

attr() { # FILE -> the root's software attribute, as h5dump prints its value
    h5dump -a /software "$1" 2>/dev/null | sed -n 's/^ *(0): "\(.*\)"$/\1/p'
}
"$ROLLMAT" simulate --scenario guide --seed 4 --time-scale 0.1 -o "$T/s.h5" -q \
    || fail "simulate failed"
got=$(attr "$T/s.h5")
[ "$got" = "$want" ] || fail "recording says software '$got', rollmat --version says '$want'"

"$ROLLMAT" analyze "$T/s.h5" -o "$T/s.results.h5" >/dev/null 2>"$T/a.err" \
    || fail "analyze failed: $(head -2 "$T/a.err")"
got=$(attr "$T/s.results.h5")
[ "$got" = "$want" ] || fail "results file says software '$got', rollmat --version says '$want'"
grep -q "\"software\": *\"$want\"" "$T/s.results.json" || fail "JSON summary does not say software \"$want\""

# batch finds that results file current (same software): nothing re-analysed
mkdir -p "$T/b" && cp "$T/s.h5" "$T/b/" || fail "copy failed"
"$ROLLMAT" batch "$T/b" -o "$T/b.csv" -q 2>"$T/b1.err" || fail "first batch failed: $(head -2 "$T/b1.err")"
"$ROLLMAT" batch "$T/b" -o "$T/b.csv" >"$T/b2.out" 2>&1 || fail "second batch failed: $(head -2 "$T/b2.out")"
grep -q "1 recording: 0 analysed, 1 up to date" "$T/b2.out" \
    || fail "second batch did not reuse the current results file: $(cat "$T/b2.out")"

[ $fails -eq 0 ] && echo "ok: software '$want' in the recording, the results file, the JSON and batch"
exit $((fails > 0))

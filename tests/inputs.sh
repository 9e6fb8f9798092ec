#!/bin/bash
# inputs.sh - hostile but realistic inputs get one clear line and a
# non-zero exit, never a hang or a terminal taken over:
# - a FIFO (or device, or folder) named *.h5 given to info, analyze, report;
# - a title with escape sequences printed by `info` as \xNN, not executed;
# - simulate's --stream and --truth never replace an existing file;
# - `analyse` is accepted as well as `analyze`.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/inputs.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$ROLLMAT" simulate --scenario guide --seed 2 --time-scale 0.05 -o a.h5 -q || { echo "FAIL: simulate"; exit 1; }

# 1. non-regular inputs: refused at once (timeout: a hang is a failure)
mkfifo fifo.h5
mkdir dir.h5
for cmd in info analyze report; do
    for in in fifo.h5 dir.h5 /dev/null; do
        timeout 20 "$ROLLMAT" $cmd "$in" >/dev/null 2>err.txt
        rc=$?
        [ $rc -eq 124 ] && fail "$cmd $in hangs"
        [ $rc -ne 0 ] || fail "$cmd $in succeeded"
        [ "$(wc -l <err.txt)" -eq 1 ] && grep -q "$in" err.txt \
            || fail "$cmd $in: want one line naming it, got: $(head -3 err.txt)"
    done
done
grep -q "FIFO" <(timeout 20 "$ROLLMAT" info fifo.h5 2>&1) || fail "info fifo.h5 does not say it is a FIFO"

# 2. control characters from a file do not reach the terminal
if $PY -c 'import h5py' 2>/dev/null; then
    cp a.h5 evil.h5
    $PY - <<'PYEOF' || fail "could not set the title"
import h5py
with h5py.File("evil.h5", "r+") as f:
    f.attrs["title"] = "evil\x1b[31mRED\x07\rX"
PYEOF
    "$ROLLMAT" info evil.h5 >info.txt 2>&1 || fail "info evil.h5 failed: $(cat info.txt)"
    LC_ALL=C grep -q $'\x1b' info.txt && fail "info printed an escape character"
    LC_ALL=C grep -q $'\x07' info.txt && fail "info printed a bell"
    grep -q 'title: *evil\\x1b\[31mRED\\x07\\x0dX' info.txt || fail "title not shown escaped: $(grep title info.txt)"
else
    echo "note: no h5py, escape check skipped"
fi

# 3. simulate never replaces an existing stream or truth file
echo precious >keep.bin
echo precious >keep.json
"$ROLLMAT" simulate --scenario guide --time-scale 0.05 --stream keep.bin -q 2>err.txt && fail "simulate replaced --stream keep.bin"
grep -q "keep.bin already exists" err.txt || fail "simulate --stream: message: $(cat err.txt)"
"$ROLLMAT" simulate --scenario guide --time-scale 0.05 --truth keep.json -q 2>err.txt && fail "simulate replaced --truth keep.json"
[ "$(cat keep.bin)" = precious ] && [ "$(cat keep.json)" = precious ] || fail "existing files were changed"

# 4. a mistyped scenario name lists the shipped ones
"$ROLLMAT" simulate --scenario gude -q 2>err.txt && fail "simulate --scenario gude succeeded"
grep -q "guide" err.txt && grep -q "behm2020" err.txt || fail "mistyped scenario: names not listed: $(cat err.txt)"

# 5. text fields are not cut silently: too long is an error naming the limit
long=$(printf 'x%.0s' $(seq 1 300))
for opt in --title --subject --label; do
    "$ROLLMAT" record -o long.h5 "$opt" "$long" >/dev/null 2>err.txt && fail "record $opt (300 characters) accepted"
    grep -q "at most" err.txt || fail "record $opt: no limit named: $(cat err.txt)"
done
[ -e long.h5 ] && fail "record made a file despite the error"

# 6. the British spelling
"$ROLLMAT" analyse a.h5 --no-write >/dev/null 2>err.txt || fail "rollmat analyse: $(cat err.txt)"

[ $fails -eq 0 ] && echo "ok: non-regular inputs refused, escapes neutralised, no silent overwrite, analyse"
exit $((fails > 0))

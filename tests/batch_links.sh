#!/bin/bash
# batch_links.sh - `rollmat batch` over links, replaced recordings and bad
# inputs (defects found by a hostile test round):
# - a link back up (sub/up -> ..), a link to a sibling folder, a link to a
#   file and a hard link: each recording is one row and one results file;
#   folder links are not followed by default, --follow-links follows them
#   (a folder outside the tree is then found) without looping;
# - a recording replaced by another one with an OLDER time (cp -p) is
#   analysed again, and its rows equal a fresh analysis of the new one;
#   touching a recording without changing it analyses nothing;
# - a missing input folder or a folder without recordings: exit 1, one
#   line naming it, no CSV and no results folder.
set -u
: "${ROLLMAT:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_batch_links.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
rows() { tail -n +2 "$1" | cut -d, -f1 | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '; }

mkdir -p src in/s01 ext
"$ROLLMAT" simulate -s guide --seed 1 --time-scale 0.1 --rate 20 -q -o src/a.h5 || fail "simulate a"
"$ROLLMAT" simulate -s rushed --seed 7 --time-scale 0.1 --rate 20 -q -o src/b.h5 || fail "simulate b"
cp src/a.h5 in/s01/a.h5
cp src/b.h5 ext/b.h5
ln -s .. in/s01/up          # a loop
ln -s s01 in/alias          # a second way to the same folder
ln -s s01/a.h5 in/link.h5   # a link to a file
ln in/s01/a.h5 in/hard.h5   # a hard link: the same file
ln -s ../ext in/ext         # a folder outside the tree

# ---- links: each file once, folder links not followed by default
"$ROLLMAT" batch in -o out/sum.csv -j 2 > l1.out 2> l1.err
rc=$?
[ $rc -eq 0 ] || fail "links: exit $rc: $(cat l1.err)"
[ "$(tail -n +2 out/sum.csv | cut -d, -f1 | sort -u)" = "in/hard.h5" ] ||
    fail "links: one recording reached by 4 paths should be 1 file (not through a link, first in byte order): $(rows out/sum.csv)"
"$ROLLMAT" batch src/a.h5 -o ref/a.csv -q 2> /dev/null || fail "reference run"
n_a=$(( $(wc -l < ref/a.csv) - 1 ))
[ "$(( $(wc -l < out/sum.csv) - 1 ))" -eq "$n_a" ] || fail "links: $(( $(wc -l < out/sum.csv) - 1 )) rows, want $n_a: $(rows out/sum.csv)"
[ "$(ls out/sum.results | wc -l)" -eq 1 ] || fail "links: results files $(ls out/sum.results | tr '\n' ' ')"
grep -q "1 recording: 1 analysed" l1.out || fail "links: summary $(cat l1.out)"
grep -q "not followed" l1.err || fail "links: no note about the folder links not followed: $(cat l1.err)"

# ---- --follow-links: the outside folder is found, the loop is cut
"$ROLLMAT" batch in -o fl/sum.csv --follow-links -j 2 > l2.out 2> l2.err
rc=$?
[ $rc -eq 0 ] || fail "--follow-links: exit $rc: $(cat l2.err)"
[ "$(tail -n +2 fl/sum.csv | cut -d, -f1 | sort -u | tr '\n' ' ')" = "in/ext/b.h5 in/hard.h5 " ] ||
    fail "--follow-links: files $(rows fl/sum.csv)"
[ "$(ls fl/sum.results | wc -l)" -eq 2 ] || fail "--follow-links: results files $(ls fl/sum.results | tr '\n' ' ')"

# ---- content, not time: a recording replaced by another with an older time
mkdir st
cp src/a.h5 st/rec.h5
"$ROLLMAT" batch st -o st.csv -q 2> /dev/null || fail "stale: first run"
touch st/rec.h5             # newer time, same bytes: up to date
"$ROLLMAT" batch st -o st.csv > s1.out 2>&1 || fail "stale: touched run"
grep -q "0 analysed, 1 up to date" s1.out || fail "stale: a touched recording was analysed again: $(cat s1.out)"
touch -d '2001-01-01 00:00' src/b.h5
cp -p src/b.h5 st/rec.h5    # other bytes, time in the past (cp -p, rsync -a, tar x)
"$ROLLMAT" batch st -o st.csv > s2.out 2>&1 || fail "stale: replaced run: $(cat s2.out)"
grep -q "1 analysed, 0 up to date" s2.out || fail "stale: replaced recording not analysed again: $(cat s2.out)"
mkdir fresh && cp -p src/b.h5 fresh/rec.h5
"$ROLLMAT" batch fresh -o fresh.csv -q 2> /dev/null || fail "stale: fresh run"
sed 's#^fresh/#st/#' fresh.csv > fresh-as-st.csv
cmp -s st.csv fresh-as-st.csv || fail "stale: rows differ from a fresh analysis: $(diff st.csv fresh-as-st.csv | head -5)"

# ---- a missing folder: one line naming it, exit 1, nothing written
"$ROLLMAT" batch no-such-dir -o miss.csv > m.out 2> m.err
rc=$?
[ $rc -eq 1 ] || fail "missing folder: exit $rc"
[ ! -e miss.csv ] || fail "missing folder: a CSV was written"
[ ! -e miss.results ] || fail "missing folder: a results folder was made"
[ "$(wc -l < m.err)" -eq 1 ] && grep -q "no-such-dir" m.err || fail "missing folder: message $(cat m.err)"
# a missing folder among good ones: still nothing (the CSV would lack it)
"$ROLLMAT" batch st no-such-dir -o miss2.csv > /dev/null 2> m2.err
[ $? -eq 1 ] && [ ! -e miss2.csv ] || fail "missing folder among others: exit/CSV"
grep -q "no-such-dir" m2.err || fail "missing folder among others: message $(cat m2.err)"

# ---- a folder without recordings: said, exit 1, no CSV
mkdir empty && echo notes > empty/readme.txt
"$ROLLMAT" batch empty -o empty.csv > e.out 2> e.err
rc=$?
[ $rc -eq 1 ] || fail "empty folder: exit $rc"
[ ! -e empty.csv ] || fail "empty folder: a CSV was written"
grep -q "empty: no recordings" e.err || fail "empty folder: message $(cat e.err)"
echo "batch links: ok"

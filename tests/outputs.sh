#!/bin/bash
# outputs.sh - no command replaces a file the user did not name as its
# output, and an output that is a device, FIFO or link is written through,
# never renamed over:
# - an output that is an input under another spelling (./a.h5, $PWD/a.h5,
#   sub/../a.h5, a symbolic or hard link) is refused and the input is intact;
# - `-o -` and `-o /dev/stdout` write text to standard output, /dev/stdout
#   stays the system's link;
# - a FIFO gets the bytes and stays a FIFO; HDF5 outputs refuse one;
# - a link to a regular file stays a link and the file it points to gets
#   the output; a link to nothing is refused;
# - recordings (import, simulate, record --replay) never replace anything,
#   batch's CSV and report's PDF go through FIFOs and links.
set -u
: "${ROLLMAT:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/outputs.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$ROLLMAT" simulate --scenario guide --seed 3 --time-scale 0.05 -o a.h5 -q || { echo "FAIL: simulate"; exit 1; }
sum0=$(md5sum <a.h5)
mkdir sub
ln a.h5 hard.h5
ln -s a.h5 soft.h5

# 1. the same file under other names
for o in ./a.h5 "$PWD/a.h5" sub/../a.h5 hard.h5 soft.h5; do
    "$ROLLMAT" analyze a.h5 -o "$o" >/dev/null 2>err.txt
    rc=$?
    [ $rc -ne 0 ] || fail "analyze a.h5 -o $o succeeded"
    grep -q "refusing to overwrite" err.txt || fail "analyze -o $o: no clear message: $(cat err.txt)"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "analyze -o $o: more than one line of error"
    "$ROLLMAT" report a.h5 -o "$o" >/dev/null 2>err.txt && fail "report a.h5 -o $o succeeded"
    "$ROLLMAT" export a.h5 --events -o "$o" >/dev/null 2>err.txt && fail "export a.h5 -o $o succeeded"
done
"$ROLLMAT" simulate --scenario guide --time-scale 0.05 --truth t.json --stream ./t.json -q 2>err.txt \
    && fail "simulate with --truth and --stream on one file succeeded"
[ "$(md5sum <a.h5)" = "$sum0" ] || fail "the recording a.h5 changed"
[ -L soft.h5 ] || fail "soft.h5 is no longer a link"

# 2. standard output, by '-' and by /dev/stdout
"$ROLLMAT" export a.h5 --events -o - >dash.csv 2>err.txt || fail "export -o - failed: $(cat err.txt)"
head -1 dash.csv | grep -q "^time_s,kind" || fail "export -o - did not write the CSV to stdout"
[ -e ./- ] && fail "export -o - created a file named '-'"
"$ROLLMAT" export a.h5 --events -o /dev/stdout >devout.csv 2>err.txt || fail "export -o /dev/stdout failed: $(cat err.txt)"
cmp -s dash.csv devout.csv || fail "-o - and -o /dev/stdout differ"
[ -L /dev/stdout ] || [ -c /dev/stdout ] || fail "/dev/stdout was replaced"

# 3. a FIFO: written in place and still a FIFO; HDF5 outputs refuse it
mkfifo events.fifo
cat events.fifo >from_fifo.csv &
reader=$!
"$ROLLMAT" export a.h5 --events -o events.fifo 2>err.txt || fail "export to a FIFO failed: $(cat err.txt)"
wait $reader
cmp -s from_fifo.csv dash.csv || fail "the FIFO's reader did not get the CSV"
[ -p events.fifo ] || fail "events.fifo is no longer a FIFO"
mkfifo res.fifo
"$ROLLMAT" analyze a.h5 -o res.fifo >/dev/null 2>err.txt && fail "analyze -o FIFO succeeded"
grep -q "res.fifo" err.txt && grep -q "regular file" err.txt || fail "analyze -o FIFO: message: $(cat err.txt)"
[ -p res.fifo ] || fail "res.fifo is no longer a FIFO"
ls ./*.tmp-* >/dev/null 2>&1 && fail "temporaries left behind: $(ls ./*.tmp-*)"

# 4. links: written through to the file; a link to nothing refused
echo old >target.csv
ln -s target.csv link.csv
"$ROLLMAT" export a.h5 --events -o link.csv 2>err.txt || fail "export to a link failed: $(cat err.txt)"
[ -L link.csv ] || fail "link.csv was replaced by a file"
cmp -s target.csv dash.csv || fail "the link's target did not get the CSV"
"$ROLLMAT" analyze a.h5 -o r.h5 >/dev/null 2>err.txt || fail "analyze failed: $(cat err.txt)"
ln -s r.h5 rlink.h5
"$ROLLMAT" analyze a.h5 -o rlink.h5 >/dev/null 2>err.txt || fail "analyze to a link failed: $(cat err.txt)"
[ -L rlink.h5 ] || fail "rlink.h5 was replaced by a file"
h5dump -H r.h5 >/dev/null 2>&1 || fail "r.h5 (through the link) is not an HDF5 file"
ln -s nowhere/x.csv dangling.csv
"$ROLLMAT" export a.h5 --events -o dangling.csv 2>err.txt && fail "export to a dangling link succeeded"
grep -q "dangling.csv" err.txt || fail "dangling link: message does not name it: $(cat err.txt)"
[ -L dangling.csv ] || fail "the dangling link was replaced"

# 5. the other writers (issue 14): recordings (import, simulate, record
#    --replay) are never written over, whatever the spelling, /dev/null or a
#    link; batch's CSV and report's PDF go through a FIFO and a link
"$ROLLMAT" export a.h5 --events -o ev.csv 2>err.txt || fail "export ev.csv: $(cat err.txt)"
"$ROLLMAT" simulate --scenario guide --seed 3 --time-scale 0.02 --stream s.bin -o s.h5 -q \
    || fail "simulate --stream"
echo old >old.h5
ln -s old.h5 oldlink.h5
sums=$(md5sum ev.csv s.bin old.h5)
for c in "import ev.csv" "simulate --scenario guide --time-scale 0.02" "record --replay s.bin"; do
    set -- $c
    case $1 in import) own=ev.csv ;; *) own=s.bin ;; esac
    for o in "./$own" "$PWD/$own" "sub/../$own" /dev/null oldlink.h5; do
        "$ROLLMAT" $c -o "$o" -q >/dev/null 2>err.txt && fail "$c -o $o succeeded"
        [ "$(wc -l <err.txt)" -eq 1 ] && grep -q -- "$o" err.txt \
            || fail "$c -o $o: want one line naming it: $(cat err.txt)"
    done
done
[ "$(md5sum ev.csv s.bin old.h5)" = "$sums" ] || fail "an input or a linked file changed"
[ -L oldlink.h5 ] || fail "oldlink.h5 is no longer a link"
[ -c /dev/null ] || fail "/dev/null was replaced"
mkdir -p b && cp a.h5 b/
mkfifo sum.csv rep.pdf
cat sum.csv >from_sum.csv &
reader=$!
"$ROLLMAT" batch b -o sum.csv -j 1 -q --results-dir bres 2>err.txt || { fail "batch -o FIFO: $(cat err.txt)"; : >sum.csv; } # release the reader
wait $reader
head -1 from_sum.csv | grep -q '^file,' || fail "the FIFO's reader did not get the batch CSV"
[ -p sum.csv ] || fail "sum.csv is no longer a FIFO"
cat rep.pdf >from_rep.pdf &
reader=$!
"$ROLLMAT" report a.h5 -o rep.pdf -q 2>err.txt || { fail "report -o FIFO: $(cat err.txt)"; : >rep.pdf; }
wait $reader
head -c 5 from_rep.pdf | grep -q '%PDF-' || fail "the FIFO's reader did not get the PDF"
[ -p rep.pdf ] || fail "rep.pdf is no longer a FIFO"
echo old >t.csv && ln -s t.csv tl.csv
echo old >t.pdf && ln -s t.pdf tl.pdf
"$ROLLMAT" batch b -o tl.csv -j 1 -q --results-dir bres 2>err.txt || fail "batch -o link: $(cat err.txt)"
"$ROLLMAT" report a.h5 -o tl.pdf -q 2>err.txt || fail "report -o link: $(cat err.txt)"
[ -L tl.csv ] && [ -L tl.pdf ] || fail "a link was replaced by a file"
head -1 t.csv | grep -q '^file,' || fail "the link's target did not get the batch CSV"
head -c 5 t.pdf | grep -q '%PDF-' || fail "the link's target did not get the PDF"
ls ./*.tmp-* >/dev/null 2>&1 && fail "temporaries left behind: $(ls ./*.tmp-*)"

[ $fails -eq 0 ] && echo "ok: outputs by identity; stdout, FIFO, device and links written through"
exit $((fails > 0))

#!/bin/bash
# batch_cli.sh - `rollmat batch` end to end: a folder of good recordings
# plus a truncated file and a foreign HDF5 file; the CSV holds exactly the
# good recordings' segments (checked against their results files through
# h5py), the bad files are reported, the exit status is 1; a second run
# analyses nothing, nor after a touch (same bytes); a results file without
# the recording's identity is analysed again; two shards
# merged equal the unsharded CSV; -j 1 and -j 2 give the same CSV.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_batch_cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
$PY -c 'import h5py' 2>/dev/null || { echo "h5py missing"; exit 77; }

mkdir -p in/s01 in/s02
# small recordings: every phase x0.3 at 50 Hz (seconds under ASan)
"$ROLLMAT" simulate -s guide --seed 1 --time-scale 0.5 --rate 50 -q -o in/s01/guide.h5 || fail "simulate guide"
"$ROLLMAT" simulate -s rushed --seed 2 --time-scale 0.3 --rate 50 -q -o in/s01/rushed.h5 || fail "simulate rushed"
"$ROLLMAT" simulate -s behm2020 --seed 3 --time-scale 0.3 --rate 50 -q -o in/s02/behm.h5 || fail "simulate behm2020"
# same file name in two folders: both kept apart
cp in/s01/rushed.h5 in/s02/rushed.h5
head -c 200000 in/s01/guide.h5 > in/truncated.h5
$PY -c "import h5py, numpy; f = h5py.File('in/foreign.h5', 'w'); f['data'] = numpy.arange(12.0); f.attrs['title'] = 'not ours'" \
    || fail "h5py foreign file"
good="in/s01/guide.h5 in/s01/rushed.h5 in/s02/behm.h5 in/s02/rushed.h5"

"$ROLLMAT" batch in -o out/summary.csv -j 2 > run1.out 2> run1.err
rc=$?
[ $rc -eq 1 ] || fail "exit status $rc with two bad files (want 1): $(cat run1.err)"
grep -q "in/truncated.h5: " run1.err || fail "truncated file not reported: $(cat run1.err)"
grep -q "in/foreign.h5: " run1.err || fail "foreign file not reported: $(cat run1.err)"
grep -q "4 analysed, 0 up to date, 2 failed" run1.out || fail "summary line: $(cat run1.out)"
[ -s out/summary.csv ] || fail "no CSV"
ls out | grep -q tmp && fail "temporary file left: $(ls out)"

# exactly the good recordings' segments, as their results files hold them
$PY - out/summary.csv out/summary.results $good <<'EOF' || fail "CSV does not match the results files"
import csv, glob, os, sys
import h5py
path, rdir, good = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = list(csv.DictReader(open(path, newline="")))
files = sorted(set(r["file"] for r in rows))
assert files == sorted(good), f"files in CSV {files} != good {sorted(good)}"
assert rows == sorted(rows, key=lambda r: (r["file"], int(r["segment"]))), "rows not sorted"
results = glob.glob(os.path.join(rdir, "*.results.h5"))
assert len(results) == len(good), results
by_source = {}
for p in results:
    with h5py.File(p, "r") as f:
        assert f.attrs["conventions"] in (b"rollmat-results-1", "rollmat-results-1")
        seg = f["segments"][:]
        by_source.setdefault(len(seg), []).append(p)
    # which recording: the results file's name starts with its stem
total = 0
for g in good:
    stem = os.path.basename(g)[:-3]
    mine = [p for p in results if os.path.basename(p).startswith(stem)]
    n_csv = sum(1 for r in rows if r["file"] == g)
    counts = set()
    for p in mine:
        with h5py.File(p, "r") as f:
            counts.add(len(f["segments"]))
    assert n_csv in counts, f"{g}: {n_csv} rows, results hold {counts}"
    assert n_csv >= 1
    total += n_csv
assert total == len(rows)
g = [r for r in rows if r["file"] == "in/s01/guide.h5"]
assert len(g) == 5, f"guide routine: {len(g)} sets"
for r in rows:
    for k in ("start_s", "duration_s", "strokes", "mean_speed_cm_s", "mean_force_n"):
        float(r[k])
    assert r["verdict"] in ("pass", "miss", "NA")
    assert r["profile"] == "guide"
    assert r["subject"] != ""
EOF

# second run: nothing analysed again, results files untouched
stamp() { stat -c '%n %Y %y' out/summary.results/*.results.h5; }
stamp > mt1
"$ROLLMAT" batch in -o out/summary.csv -j 2 > run2.out 2> run2.err
[ $? -eq 1 ] || fail "second run: exit status"
grep -q "0 analysed, 4 up to date, 2 failed" run2.out || fail "second run analysed again: $(cat run2.out)"
stamp > mt2
cmp -s mt1 mt2 || fail "results files rewritten: $(diff mt1 mt2)"
cp out/summary.csv first.csv

# a touched recording (same bytes) is still up to date: content, not time
touch in/s02/behm.h5
"$ROLLMAT" batch in -o out/summary.csv -j 2 > run3.out 2> run3.err
grep -q "0 analysed, 4 up to date, 2 failed" run3.out || fail "touched recording: $(cat run3.out)"
# a results file without its recording's identity is analysed again
# (rollmat analyze's, or an older batch's), and only that one
$PY -c "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); assert f.attrs['recording_id']; del f.attrs['recording_id']" \
    out/summary.results/behm.results.h5 || fail "recording_id attribute"
"$ROLLMAT" batch in -o out/summary.csv -j 2 > run3.out 2> run3.err
grep -q "1 analysed, 3 up to date, 2 failed" run3.out || fail "results without identity: $(cat run3.out)"
cmp -s first.csv out/summary.csv || fail "re-analysis changed the CSV"
# another profile is not up to date
"$ROLLMAT" batch in/s01 -o other.csv -p behm2020 --results-dir out/summary.results -q 2> /dev/null
$PY -c "import csv, sys; r = list(csv.DictReader(open('other.csv'))); sys.exit(not r or any(x['profile'] != 'behm2020' for x in r))" \
    || fail "profile column"

# shards: every 2nd recording each, merged in any order = unsharded
"$ROLLMAT" batch in -o sh0.csv --results-dir out/summary.results --shard 0/2 -q 2> /dev/null
"$ROLLMAT" batch in -o sh1.csv --results-dir out/summary.results --shard 1/2 -q 2> /dev/null
"$ROLLMAT" batch --merge sh1.csv sh0.csv -o merged.csv -q || fail "merge"
cmp -s merged.csv first.csv || fail "merged shards differ from the unsharded CSV: $(diff merged.csv first.csv | head)"
[ "$(wc -l < sh0.csv)" -gt 1 ] && [ "$(wc -l < sh1.csv)" -gt 1 ] || fail "a shard is empty"
"$ROLLMAT" batch --merge sh0.csv sh0.csv -o dup.csv 2> dup.err && fail "merging a shard twice accepted"
grep -q "sh0.csv" dup.err || fail "duplicate merge error: $(cat dup.err)"
"$ROLLMAT" batch --merge sh0.csv in/foreign.h5 -o bad.csv 2> /dev/null && fail "merging a non-CSV accepted"

# the documented Slurm array script, run as two array tasks, then the merge
if [ -n "${RM_SOURCE_DIR:-}" ] && [ -f "$RM_SOURCE_DIR/docs/slurm-batch.sh" ]; then
    for i in 0 1; do
        SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 SLURM_CPUS_PER_TASK=1 ROLLMAT="$ROLLMAT" \
            bash "$RM_SOURCE_DIR/docs/slurm-batch.sh" in slurm > /dev/null 2>&1
        [ -s slurm/shard-000$i.csv ] || fail "slurm task $i wrote no CSV"
    done
    "$ROLLMAT" batch --merge slurm/shard-*.csv -o slurm/summary.csv -q || fail "merge of slurm shards"
    cmp -s slurm/summary.csv first.csv || fail "slurm shards merged differ from the unsharded CSV"
fi

# -j 1 gives the same CSV as -j 2 (fresh results folder: everything analysed)
"$ROLLMAT" batch in -o j1/summary.csv -j 1 -q 2> /dev/null
cmp -s j1/summary.csv first.csv || fail "-j 1 and -j 2 differ"

# a results file among the recordings is said and skipped, not a failure
mkdir in2 && cp in/s02/behm.h5 in2/ && cp out/summary.results/behm.results.h5 in2/analysis.h5
"$ROLLMAT" batch in2 -o in2.csv > in2.out 2> in2.err || fail "results file among inputs: exit $?: $(cat in2.err)"
grep -q "in2/analysis.h5: skipped" in2.err || fail "skipped results file not reported: $(cat in2.err)"
[ "$(grep -c '^in2/behm.h5,' in2.csv)" -ge 1 ] || fail "recording beside a results file not in the CSV"

# options
"$ROLLMAT" batch in 2> /dev/null; [ $? -eq 2 ] || fail "no -o: want exit 2"
"$ROLLMAT" batch in -o x.csv --shard 2/2 2> /dev/null; [ $? -eq 2 ] || fail "--shard 2/2: want exit 2"
"$ROLLMAT" batch in -o x.csv -j 0 2> /dev/null; [ $? -eq 2 ] || fail "-j 0: want exit 2"
"$ROLLMAT" batch missing-dir -o x.csv 2> /dev/null; [ $? -eq 1 ] || fail "missing input: want exit 1"
[ ! -e x.csv ] || fail "missing input: a CSV was written"
echo "batch: ok"

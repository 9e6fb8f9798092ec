#!/bin/bash
# export_tables.sh - `rollmat export RESULTS.h5 --strokes|--holds|--spots|
# --sets`: for a massage-ball session, a rushed one (no hold), the same
# without label events, and a replayed stream (no label, subject or
# calibration: no roller found), each table is read back with
# python's csv module and holds exactly the results file's rows (h5py):
# counts, times, set index and label of each stroke/hold/spot, NA where a
# value is missing; the tables of several files stack (same header). A
# recording given instead of a results file is refused with the way to
# one (rollmat analyze); two tables at once is a usage error.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_export_tables.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
$PY -c 'import h5py' 2>/dev/null || { echo "h5py missing"; exit 77; }

sim() { "$ROLLMAT" simulate -s "$1" --seed "$2" --time-scale 0.3 --rate 50 -q -o "$1.h5" || fail "simulate $1"; }
sim ball 3 & sim rushed 2 & wait
"$ROLLMAT" simulate -s guide --seed 4 --time-scale 0.3 --rate 50 -q --stream g.bin || fail "stream"
"$ROLLMAT" record --replay g.bin -o replay.h5 -q > /dev/null 2>&1 || fail "record --replay"
cp rushed.h5 nolabel.h5 # the same sets without their label events
$PY -c "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); assert len(f['events']); f['events'].resize((0,))" \
    nolabel.h5 || fail "removing the labels"
recs="ball rushed replay nolabel"
for r in $recs; do
    "$ROLLMAT" analyze $r.h5 > /dev/null || fail "analyze $r"
    [ -s $r.results.h5 ] || fail "no $r.results.h5"
    for t in strokes holds spots sets; do
        "$ROLLMAT" export $r.results.h5 --$t -o $r.$t.csv || fail "export $r --$t"
    done
done
# stdout when no -o: the same bytes
"$ROLLMAT" export ball.results.h5 --strokes > ball.strokes.stdout.csv || fail "export to stdout"
cmp -s ball.strokes.csv ball.strokes.stdout.csv || fail "stdout and -o differ"

$PY - $recs <<'EOF' || fail "tables do not match the results files"
import csv, math, sys
import h5py

def txt(v):
    return v.decode() if isinstance(v, bytes) else str(v)

def num(v):
    return float("nan") if v == "NA" else float(v)

def same(a, b, tol):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol * max(1.0, abs(b))

headers = {}
counts = {}
for rec in sys.argv[1:]:
    with h5py.File(rec + ".results.h5", "r") as f:
        seg = f["segments"][:]
        labels = [txt(x) for x in seg["label"]]
        subject = txt(f.attrs["subject_id"]) or "NA"
        source = txt(f.attrs["source"])
        for table, key in (("strokes", "stroke"), ("holds", "hold"), ("spots", "spot"), ("sets", "set")):
            path = f"{rec}.{table}.csv"
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                hdr = reader.fieldnames
            assert hdr[:3] == ["recording", "subject", "recorded"], f"{path}: {hdr[:3]}"
            assert headers.setdefault(table, hdr) == hdr, f"{path}: header differs between files"
            for must in ("start_s", "end_s", "duration_s", "set", "set_label"):
                assert must in hdr, f"{path}: no {must} column"
            data = f["segments" if table == "sets" else table][:]
            assert len(rows) == len(data), f"{path}: {len(rows)} rows, results hold {len(data)}"
            counts[(rec, table)] = len(rows)
            for i, (row, d) in enumerate(zip(rows, data)):
                assert row["recording"] == source and row["subject"] == subject, (path, row["subject"])
                assert int(row[key]) == i, f"{path}: row {i} is {key} {row[key]}"
                s = int(d["index"] if table == "sets" else d["segment"])
                if s < 0:
                    assert row["set"] == "NA" and row["set_label"] == "NA", f"{path}: set of row {i}"
                else:
                    assert int(row["set"]) == s and row["set_label"] == labels[s], f"{path}: row {i} set"
                # times: 3 decimals (1 ms)
                assert abs(num(row["start_s"]) - float(d["start_s"])) <= 5.01e-4, f"{path}: start_s row {i}"
                assert abs(num(row["end_s"]) - float(d["end_s"])) <= 5.01e-4, f"{path}: end_s row {i}"
                assert abs(num(row["duration_s"]) - (float(d["end_s"]) - float(d["start_s"]))) < 2e-3
                for col in hdr:
                    if col in d.dtype.names and d.dtype[col].kind == "f" and not col.endswith("_s"):
                        assert same(num(row[col]), float(d[col]), 1e-5), f"{path}: {col} row {i}"
                    assert row[col] is not None and row[col] != "nan", f"{path}: {col} row {i}: {row[col]!r}"
        # the set table's durations add up to the sum of the sets in the results
        sets = list(csv.DictReader(open(f"{rec}.sets.csv", newline="")))
        total = sum(float(x["duration_s"]) for x in sets)
        want = float(sum(seg["end_s"] - seg["start_s"]))
        assert abs(total - want) < 1e-3 * max(1, len(sets)), f"{rec}: sets sum {total} != {want}"
        # strokes per set agree with the set table's strokes column
        strokes = list(csv.DictReader(open(f"{rec}.strokes.csv", newline="")))
        for x in sets:
            n = sum(1 for s in strokes if s["set"] == x["set"])
            assert n == int(x["strokes"]), f"{rec}: set {x['set']}: {n} stroke rows, strokes {x['strokes']}"

assert counts[("rushed", "holds")] == 0, "the rushed session has no hold"
assert counts[("ball", "spots")] > 0 and counts[("rushed", "spots")] == 0
assert counts[("nolabel", "strokes")] == counts[("rushed", "strokes")] > 0, "labels changed strokes"
nl = list(csv.DictReader(open("nolabel.strokes.csv", newline="")))
assert all(x["set_label"] not in ("", "NA") for x in nl if x["set"] != "NA"), "unlabelled set without a name"
# a roller set has no spot time: NA, not 0 or empty
ball_sets = list(csv.DictReader(open("ball.sets.csv", newline="")))
rollers = [x for x in ball_sets if x["tool"] == "roller"]
assert rollers and all(x["mean_spot_s"] == "NA" for x in rollers), "roller sets' mean_spot_s"
assert all(x["subject"] == "NA" for x in csv.DictReader(open("replay.strokes.csv", newline="")))
EOF

# the header of an empty table is the same as a full one's (stacking)
[ "$(head -1 rushed.holds.csv)" = "$(head -1 replay.holds.csv)" ] || fail "holds headers differ"
[ "$(wc -l < rushed.holds.csv)" -eq 1 ] || fail "rushed holds: want only the header"

# a recording is refused with the way to a results file; no output left
"$ROLLMAT" export ball.h5 --holds -o wrong.csv 2> wrong.err; rc=$?
[ $rc -eq 1 ] || fail "recording given to --holds: exit $rc, want 1"
grep -q "ball.h5 is a recording, not a results file.*rollmat analyze ball.h5" wrong.err \
    || fail "recording error: $(cat wrong.err)"
[ ! -e wrong.csv ] || fail "a refused export left wrong.csv"
[ "$(wc -l < wrong.err)" -eq 1 ] || fail "error is not one line: $(cat wrong.err)"
"$ROLLMAT" export ball.results.h5 --strokes --holds 2> /dev/null; [ $? -eq 2 ] || fail "two tables: want exit 2"
"$ROLLMAT" export missing.results.h5 --sets 2> miss.err; [ $? -eq 1 ] || fail "missing file: want exit 1"
grep -q "missing.results.h5" miss.err || fail "missing file error: $(cat miss.err)"
echo "export tables: ok"

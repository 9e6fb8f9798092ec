#!/bin/bash
# batch_session.sh - `rollmat batch --per session`: one row per recording
# (guide, rushed, massage ball, faulty, one without label events, and a
# replayed stream with no label, subject, body mass or calibration). The
# rows agree with the per-set rows of the same
# results (sets, strokes, holds, spots, sum of set durations, data quality,
# labels), with the results files (totals, daily verdict) and with the
# summary page of the report (the "N of M targets met" it prints); NA where
# a value is missing (no subject, no hold target in behm2020); the results
# are shared with the per-set run (up to date); -j 1 = -j 2; two shards
# merged = the unsharded table; --per set = the default; bad combinations
# are usage errors.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_batch_session.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
$PY -c 'import h5py' 2>/dev/null || { echo "h5py missing"; exit 77; }

mkdir -p in
sim() { "$ROLLMAT" simulate -s "$1" --seed "$2" --time-scale 0.3 --rate 50 -q -o "in/$1.h5" || fail "simulate $1"; }
sim guide 1 & sim rushed 2 & sim ball 3 & sim faulty 5 & wait
for s in guide rushed ball faulty; do [ -s in/$s.h5 ] || fail "simulate $s"; done
# the mat's byte stream replayed: no label, subject, body mass or calibration
"$ROLLMAT" simulate -s guide --seed 4 --time-scale 0.3 --rate 50 -q --stream g.bin || fail "stream"
"$ROLLMAT" record --replay g.bin -o in/replay.h5 -q > /dev/null 2>&1 || fail "record --replay"
# no label events (the sets named from the body's position, or numbered)
cp in/guide.h5 in/nolabel.h5
$PY -c "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); assert len(f['events']); f['events'].resize((0,))" \
    in/nolabel.h5 || fail "removing the labels"
n_rec=6

"$ROLLMAT" batch in -o sets.csv -j 2 -q || fail "per-set batch"
"$ROLLMAT" batch in -o sets2.csv --per set -j 2 -q --results-dir sets.results || fail "--per set"
cmp -s sets.csv sets2.csv || fail "--per set differs from the default"
"$ROLLMAT" batch in -o sess.csv --per session -j 2 --results-dir sets.results > sess.out 2> sess.err \
    || fail "--per session: $(cat sess.err)"
# the results of the per-set run serve the session table: nothing analysed again
grep -q "0 analysed, $n_rec up to date, 0 failed; $n_rec sessions -> sess.csv" sess.out \
    || fail "summary line: $(cat sess.out)"

# the report's summary page, for the "N of M targets met" it prints
for r in sets.results/*.results.h5; do
    "$ROLLMAT" report "$r" -o "${r%.results.h5}.pdf" -q 2> /dev/null || fail "report $r"
    pdftotext -l 1 "${r%.results.h5}.pdf" "${r%.results.h5}.txt" 2> /dev/null \
        || echo "pdftotext missing: page check left out" > "${r%.results.h5}.txt"
done

$PY - sess.csv sets.csv sets.results $n_rec <<'EOF' || fail "session table"
import csv, glob, math, os, re, sys
import h5py
sess_path, sets_path, rdir, n_rec = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sess = list(csv.DictReader(open(sess_path, newline="")))
sets = list(csv.DictReader(open(sets_path, newline="")))
assert len(sess) == n_rec, f"{len(sess)} session rows for {n_rec} recordings"
assert [r["file"] for r in sess] == sorted(set(r["file"] for r in sets)), "files differ"

def num(v):
    return float("nan") if v == "NA" else float(v)

def close(a, b, rel=1e-4, what=""):
    assert abs(a - b) <= rel * max(1.0, abs(a), abs(b)), f"{what}: {a} != {b}"

results = {}
for p in glob.glob(os.path.join(rdir, "*.results.h5")):
    with h5py.File(p, "r") as f:
        src = f.attrs["source"]
        src = src.decode() if isinstance(src, bytes) else src
        results[src] = (p, dict(f["segments"].attrs), len(f["strokes"]), len(f["holds"]),
                        len(f["spots"]), len(f["segments"]))
seen_na_subject = False
for s in sess:
    mine = [r for r in sets if r["file"] == s["file"]]
    base = os.path.basename(s["file"])
    p, tot, n_str, n_hold, n_spot, n_seg = results[base]
    f = s["file"]
    # counts: the per-set rows, and the results' tables
    assert int(s["sets"]) == len(mine) == n_seg, f"{f}: sets {s['sets']} / {len(mine)} / {n_seg}"
    assert int(s["strokes"]) == sum(int(r["strokes"]) for r in mine) == n_str, f"{f}: strokes"
    assert int(s["holds"]) == sum(int(r["holds"]) for r in mine) == n_hold, f"{f}: holds"
    assert int(s["spots"]) == sum(int(r["spots"]) for r in mine) == n_spot, f"{f}: spots"
    close(num(s["sets_s"]), sum(float(r["duration_s"]) for r in mine), what=f"{f}: sets_s")
    close(num(s["rolling_s"]), tot["rolling_s"], what=f"{f}: rolling_s")
    close(num(s["holding_s"]), tot["holding_s"], what=f"{f}: holding_s")
    close(num(s["duration_s"]), tot["duration_s"], what=f"{f}: duration_s")
    close(num(s["on_roller_min"]), (tot["rolling_s"] + tot["holding_s"]) / 60, what=f"{f}: on_roller_min")
    # the daily verdict is the results' total_verdict
    words = {-1: "below", 0: "inside", 1: "above", -2: "NA"}
    assert s["daily_verdict"] == words[int(tot["total_verdict"])], f"{f}: daily {s['daily_verdict']}"
    # who, when and data quality: the same as on every per-set row
    for k in ("recorded", "frames_lost", "gaps", "disconnects", "sensels_excluded", "body_mass_kg"):
        assert s[k] == mine[0][k], f"{f}: {k} {s[k]} != {mine[0][k]}"
    if mine[0]["subject"] == "":
        assert s["subject"] == "NA", f"{f}: unknown subject written {s['subject']!r}"
        seen_na_subject = True
    else:
        assert s["subject"] == mine[0]["subject"]
    assert s["labels"] == ";".join(r["label"] for r in mine), f"{f}: labels {s['labels']}"
    # the tally: per target, and in all with the daily total
    met = sum(int(s[t + "_met"]) for t in ("time", "pace", "hold") if s[t + "_met"] != "NA")
    judged = sum(int(s[t + "_judged"]) for t in ("time", "pace", "hold") if s[t + "_judged"] != "NA")
    daily = s["daily_light"]
    assert int(s["targets_met"]) == met + (daily == "green"), f"{f}: targets_met"
    assert int(s["targets_judged"]) == judged + (daily != "NA"), f"{f}: targets_judged"
    tm, tj = int(s["targets_met"]), int(s["targets_judged"])
    assert tj > 0, f"{f}: nothing judged with the guide profile"
    close(num(s["score"]), tm / tj, what=f"{f}: score")
    assert s["verdict"] == ("pass" if tm == tj else "miss")
    assert s["session_light"] == ("green" if tm == tj else "amber" if 2 * tm >= tj else "red")
    assert s["pace_target"] == "speed_cm_s" and s["profile"] == "guide"
    # the summary page prints the same tally
    txt = open(p[: -len(".results.h5")] + ".txt").read()
    if "pdftotext missing" not in txt:
        m = re.search(r"Session: (\d+) of (\d+) targets met", txt)
        assert m, f"{f}: no tally on the summary page"
        assert (int(m.group(1)), int(m.group(2))) == (tm, tj), f"{f}: page {m.groups()} != {tm}/{tj}"
assert seen_na_subject, "the replayed stream should have no subject"
by = {os.path.basename(s["file"]): s for s in sess}
assert by["replay.h5"]["body_mass_kg"] == "NA" and by["replay.h5"]["title"] != ""
assert by["nolabel.h5"]["labels"] != "NA" and int(by["nolabel.h5"]["sets"]) >= 1
assert int(by["faulty.h5"]["frames_lost"]) > 0, "faulty scenario lost no frames"
assert int(by["rushed.h5"]["holds"]) == 0 and by["rushed.h5"]["hold_judged"] != "NA"
assert int(by["rushed.h5"]["hold_met"]) == 0, "rushed: a missing hold is a miss"
assert int(by["ball.h5"]["spots"]) > 0
assert by["rushed.h5"]["verdict"] == "miss"
EOF

# another profile: behm2020 judges the pass, asks no hold and no daily total
"$ROLLMAT" batch in -o behm.csv --per session -p behm2020 -q 2> /dev/null
$PY - behm.csv <<'EOF' || fail "behm2020 session table"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 6
for r in rows:
    assert r["profile"] == "behm2020" and r["pace_target"] == "pass_s", r
    assert r["hold_met"] == "NA" and r["hold_judged"] == "NA", f"hold not asked: {r['hold_judged']}"
    assert r["daily_verdict"] == "NA" and r["daily_light"] == "NA", r["daily_light"]
EOF

# -j 1 = -j 2; shards merged = the unsharded table
"$ROLLMAT" batch in -o j1.csv --per session -j 1 -q --results-dir sets.results || fail "-j 1"
cmp -s j1.csv sess.csv || fail "-j 1 and -j 2 differ"
"$ROLLMAT" batch in -o sh0.csv --per session --shard 0/2 -q --results-dir sets.results || fail "shard 0"
"$ROLLMAT" batch in -o sh1.csv --per session --shard 1/2 -q --results-dir sets.results || fail "shard 1"
"$ROLLMAT" batch --merge sh1.csv sh0.csv -o merged.csv -q || fail "merge of session shards"
cmp -s merged.csv sess.csv || fail "merged shards differ: $(diff merged.csv sess.csv | head)"
"$ROLLMAT" batch --merge sh0.csv sh0.csv -o dup.csv 2> dup.err && fail "a session shard merged twice"
grep -q "sh0.csv" dup.err || fail "duplicate merge error: $(cat dup.err)"
"$ROLLMAT" batch --merge sh0.csv sets.csv -o mixed.csv 2> mixed.err && fail "per-set and per-session merged"
grep -q "sets.csv: .*per-session" mixed.err || fail "mixed merge error: $(cat mixed.err)"
[ ! -e mixed.csv ] || fail "a mixed merge wrote a CSV"

# options
"$ROLLMAT" batch in -o x.csv --per day 2> bad.err; [ $? -eq 2 ] || fail "--per day: want exit 2"
grep -q "per day" bad.err || fail "--per day error: $(cat bad.err)"
"$ROLLMAT" batch in -o x.csv --per session --long 2> bad.err; [ $? -eq 2 ] || fail "--long --per session: want 2"
grep -q -- "--long" bad.err || fail "--long error: $(cat bad.err)"
[ ! -e x.csv ] || fail "a refused batch wrote a CSV"
echo "batch --per session: ok"

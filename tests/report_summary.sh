#!/bin/bash
# report_summary.sh - who and when, and the summary page, end to end: three
# athletes recorded on one day (subject id and body mass as rollmat record
# --subject/--body-mass write them) get distinct report titles; page 1 of the PDF names the
# subject and the date and has a row per set; the phone PNG is 1080 x 1920;
# labels given afterwards (analyze --labels) survive a later rollmat batch,
# whose CSV carries subject, date and body mass on every row.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
command -v pdftotext > /dev/null || exit 77
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_report_summary.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1

"$ROLLMAT" simulate -s guide --time-scale 0.5 --rate 50 -o day.h5 -q || fail "simulate"
mkdir study
# three athletes on one day: the same routine under three subjects (the
# subject group as rollmat record --subject --body-mass writes it)
mass=(0 71 64 88)
for i in 1 2 3; do
    cp day.h5 "study/s0$i.h5"
    $PY -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    f["subject"].attrs["id"] = sys.argv[2]
    f["subject"].attrs["body_mass_kg"] = float(sys.argv[3])' "study/s0$i.h5" "s0$i" "${mass[$i]}" ||
        fail "subject of s0$i"
done

labels="calf-L,hams-L,quad-L,itb-L,glute-L"
"$ROLLMAT" analyze study/s01.h5 --labels "$labels" > /dev/null || fail "analyze --labels"
"$ROLLMAT" report study/s01.results.h5 -o s01.pdf -q || fail "report s01"
date=$($PY -c 'import json; print(json.load(open("study/s01.results.json"))["recording"]["created"][:10])')
[ -n "$date" ] || fail "no recording date in the JSON summary"
pdftotext -layout -f 1 -l 1 s01.pdf p1.txt || fail "pdftotext"
grep -q "s01" p1.txt || fail "page 1 does not name the subject: $(head -5 p1.txt)"
grep -q "$date" p1.txt || fail "page 1 does not give the date $date"
grep -q "71 kg" p1.txt || fail "page 1 does not give the body mass"
for l in ${labels//,/ }; do
    [ "$(grep -c -- "^ *$l " p1.txt)" = 1 ] || fail "page 1 has no single row for set $l: $(cat p1.txt)"
done
grep -q "targets met" p1.txt || fail "no session verdict on page 1"
pdftoppm -png -r 30 -f 1 -l 1 s01.pdf pg || fail "pdftoppm"
[ -s pg-1.png ] || ls pg*.png > /dev/null || fail "page 1 not rendered"

# three athletes of one day: three titles
for i in 2 3; do
    "$ROLLMAT" report "study/s0$i.h5" -o "s0$i.pdf" -q || fail "report s0$i"
done
titles=$(for i in 1 2 3; do pdfinfo "s0$i.pdf" | sed -n 's/^Title: *//p'; done | sort -u | wc -l)
[ "$titles" = 3 ] || fail "titles not distinct: $(for i in 1 2 3; do pdfinfo s0$i.pdf | grep Title; done)"

# the phone picture
"$ROLLMAT" report study/s01.results.h5 --summary --format png -o phone.png -q || fail "--summary"
$PY - <<'PYEOF' || fail "phone PNG size"
import struct
d = open("phone.png", "rb").read(24)
assert d[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", d[16:24])
assert (w, h) == (1080, 1920), (w, h)
PYEOF

# a later batch keeps the labels given afterwards, and says who and when
"$ROLLMAT" batch study -o all.csv -q -j 2 || fail "batch"
$PY - "$labels" "$date" <<'PYEOF' || fail "batch CSV: $(cut -c1-200 all.csv)"
import csv, sys
labels, date = sys.argv[1].split(","), sys.argv[2]
rows = list(csv.DictReader(open("all.csv")))
s01 = [r for r in rows if r["file"].endswith("s01.h5")]
assert [r["label"] for r in s01] == labels, [r["label"] for r in s01]
for r in rows:
    assert r["subject"] == r["file"].split("/")[-1][:3], r
    assert r["recorded"].startswith(date), r["recorded"]
    assert r["body_mass_kg"] in ("71", "64", "88"), r["body_mass_kg"]
    assert r["frames_lost"] == "0", r["frames_lost"]
PYEOF
ls study | grep -q tmp && fail "temporary files left: $(ls study)"

# the other pages: time axes in m:ss; a massage-ball session without a
# roller has no roller plots (no empty speed plot) and its overview shares
# a page with the table; every page renders at A4 size; the daily total
# counts the ball's time
cat > ball_only.json <<'JSON'
{"title": "ball only", "rate_hz": 50,
 "subject": {"id": "ball-only", "body_mass_kg": 70},
 "ball": {"radius_cm": 4, "modulus_kpa": 300, "force_share": 0.3},
 "segments": [
  {"label": "calves", "tool": "ball", "phases": [
   {"press": {"x_cm": 42, "y_cm": 15, "duration_s": 60, "circle_cm": 1.0, "period_s": 5}}]},
  {"label": "glutes", "tool": "ball", "phases": [
   {"press": {"x_cm": 40, "y_cm": 30, "duration_s": 70, "circle_cm": 0.8, "period_s": 4}}]}]}
JSON
"$ROLLMAT" simulate -s ball_only.json -o ball.h5 -q || fail "simulate ball_only"
"$ROLLMAT" report ball.h5 -o ball.pdf -q || fail "report ball"
pages=$(pdfinfo ball.pdf | awk '/^Pages:/ {print $2}')
[ "$pages" = 3 ] || fail "ball-only report: $pages pages, want 3 (summary, overview+table, 2 ball sets)"
pdftotext -layout ball.pdf ball.txt || fail "pdftotext ball"
grep -q "Rolling speed\|Roller position\|Pass duration" ball.txt && fail "a roller plot in a ball-only report"
grep -q "time (m:ss)" ball.txt || fail "no m:ss time axis"
grep -q "Numbers per set" ball.txt || fail "no table"
grep -q "Peak pressure" ball.txt || fail "no peak map"
grep -q "ball on each spot" ball.txt || fail "the verdicts do not judge the ball's spots"
# the ball pressed 60 + 70 s: the day's total is over 2 min, not 0
daily=$(sed -n 's/.*daily total *\([0-9.]*\) min.*/\1/p' ball.txt | head -1)
$PY -c 'import sys; assert float(sys.argv[1]) >= 2.0' "${daily:-0}" ||
    fail "daily total of a ball-only session: '${daily}' min"
pdftoppm -png -r 36 ball.pdf bp || fail "pdftoppm ball"
$PY - <<'PYEOF' || fail "ball pages"
import glob, struct
pngs = sorted(glob.glob("bp-*.png"))
assert len(pngs) == 3, pngs
for p in pngs:
    b = open(p, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", p
    assert struct.unpack(">II", b[16:24]) == (298, 421), (p, struct.unpack(">II", b[16:24]))
    assert len(b) > 3000, (p, len(b))
PYEOF
# behm2020 judges passes, not speed: a pass-duration plot, no speed plot
"$ROLLMAT" simulate -s behm2020 --time-scale 0.3 --rate 50 -o behm.h5 -q || fail "simulate behm2020"
"$ROLLMAT" report behm.h5 -p behm2020 -o behm.pdf -q || fail "report behm2020"
pdftotext -layout -f 2 -l 2 behm.pdf behm.txt || fail "pdftotext behm"
grep -q "Pass duration" behm.txt || fail "behm2020: no pass-duration plot"
grep -q "Rolling speed" behm.txt && fail "behm2020: a speed plot with no band"
exit 0

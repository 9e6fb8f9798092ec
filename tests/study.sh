#!/bin/bash
# study.sh - the study catalogue and an athlete's history, end to end:
# - `rollmat simulate --weeks` writes the planned sessions with their start
#   times and subject in the files;
# - two `rollmat study` at once on one catalogue both succeed and leave each
#   recording indexed once; a third run finds everything up to date;
# - a recording replaced by another with an OLDER time (cp -p) is indexed
#   again (content, not time);
# - `rollmat history --csv`: every week's numbers and 0/1 columns equal what
#   this test computes itself from the files' names (the schedule), the
#   sessions' analysed minutes and sets, and the profile's bands;
# - bad input: a catalogue that is not SQLite, or of a newer schema, is
#   refused with its bytes unchanged; an unknown subject names the known.
set -u
: "${ROLLMAT:?}" "${RM_SOURCE_DIR:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_study.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1

# ---- simulated weeks
"$ROLLMAT" simulate --weeks 3 --subject A1 --rate 10 -o w -q || fail "simulate --weeks"
[ -f w/A1-2025-03-03T0730.h5 ] || fail "simulate --weeks: no w/A1-2025-03-03T0730.h5: $(ls w)"
n_files=$(ls w/*.h5 | wc -l)
[ "$n_files" -ge 10 ] || fail "simulate --weeks 3: only $n_files recordings"

# ---- two writers at once (synchronised by a FIFO: both start together).
# The FIFO is held open read-write here before either starts, so neither
# open blocks and no line is lost to a reader that opened late (each
# reader takes bytes up to one newline; there are two).
mkfifo go
exec 3<> go
( read -r _ <&3; exec 3<&-; "$ROLLMAT" study w -q ) 2> s1.err & p1=$!
( read -r _ <&3; exec 3<&-; "$ROLLMAT" study w -q ) 2> s2.err & p2=$!
printf 'go\ngo\n' >&3
wait $p1; r1=$?
wait $p2; r2=$?
exec 3<&-
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || fail "two writers: exit $r1/$r2: $(cat s1.err s2.err)"
db=w/rollmat-study.sqlite
python3 - "$db" "$n_files" <<'PY' || fail "catalogue after two writers"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
assert c.execute("pragma user_version").fetchone()[0] == 1
assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
rows = c.execute("select count(*), count(distinct path) from recording").fetchone()
assert rows == (n, n), rows
assert c.execute("select count(*) from analysis").fetchone()[0] == n
bad = c.execute("select count(*) from recording r where (select count(*) from sets s where s.recording = r.id) != (select sets from analysis a where a.recording = r.id)").fetchone()[0]
assert bad == 0, bad
assert c.execute("select count(distinct subject) from recording").fetchone()[0] == 1
PY
"$ROLLMAT" study w > s3.out || fail "third run"
grep -q "0 added, 0 updated, $n_files up to date" s3.out || fail "third run is not incremental: $(cat s3.out)"

# ---- history against the schedule
"$ROLLMAT" history w --subject A1 --csv weeks.csv || fail "history"
python3 - "$db" weeks.csv "$RM_SOURCE_DIR/profiles/guide.profile" w <<'PY' || fail "history CSV"
import csv, datetime, os, re, sqlite3, sys
db, path, prof, folder = sys.argv[1:]
band = {}
groups = []
for line in open(prof):
    m = re.match(r"\s*(\w+)\s*=\s*([^|]*)\|", line)
    if not m: continue
    k, v = m.group(1), m.group(2).split()
    if k == "groups": groups = v
    elif k in ("week_sessions", "daily_s", "group_s"): band[k] = (float(v[0]), float(v[1]))
inside = lambda b, x: band[b][0] <= round(x) <= band[b][1]
c = sqlite3.connect(db)
sessions = []  # (start from the file NAME, minutes, {group: seconds})
for name in sorted(os.listdir(folder)):
    m = re.match(r"A1-(\d{4}-\d\d-\d\dT\d{4})\.h5$", name)
    if not m: continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H%M")
    rid, mins = c.execute("select r.id, (a.rolling_s + a.holding_s) / 60 from recording r join analysis a on a.recording = r.id where r.path like ?", ("%/" + name,)).fetchone()
    g = {}
    for label, secs in c.execute("select label, end_s - start_s from sets where recording = ?", (rid,)):
        g[label] = g.get(label, 0) + secs
    sessions.append((t, mins, g))
weeks = {}
for t, mins, g in sessions:
    y, w, d = t.date().isocalendar()
    weeks.setdefault("%d-W%02d" % (y, w), []).append((t, mins, g))
rows = list(csv.DictReader(open(path)))
assert [r["week"] for r in rows] == sorted(weeks), ([r["week"] for r in rows], sorted(weeks))
flags = {"sessions_ok": set(), "daily_ok": set(), "groups_ok": set()}
for r in rows:
    ss = weeks[r["week"]]
    assert int(r["sessions"]) == len(ss), (r["week"], r["sessions"], len(ss))
    days = {}
    for t, mins, g in ss: days[t.date()] = days.get(t.date(), 0) + mins
    assert abs(float(r["minutes"]) - sum(days.values())) < 0.01, r
    for i, name in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]):
        want = sum(v for d, v in days.items() if d.weekday() == i)
        assert abs(float(r["minutes_" + name]) - want) < 0.01, (r["week"], name, r["minutes_" + name], want)
    for grp in groups:
        want = sum(g.get(grp, 0) for _, _, g in ss) / 60
        assert abs(float(r["minutes_" + grp]) - want) < 0.01, (r["week"], grp)
    s_ok = int(band["week_sessions"][0] <= len(ss) <= band["week_sessions"][1])
    d_ok = int(all(inside("daily_s", v * 60) for v in days.values()))
    g_ok = int(all(inside("group_s", g.get(grp, 0)) for _, _, g in ss for grp in groups))
    assert (int(r["sessions_ok"]), int(r["daily_ok"]), int(r["groups_ok"])) == (s_ok, d_ok, g_ok), (r, s_ok, d_ok, g_ok)
    for d, v in days.items():
        assert (str(d) in r["days_missed"]) == (not inside("daily_s", v * 60)), (r["week"], d)
    flags["sessions_ok"].add(s_ok); flags["daily_ok"].add(d_ok); flags["groups_ok"].add(g_ok)
# the schedule must exercise both outcomes of every target
assert all(v == {0, 1} for v in flags.values()), flags
PY

# ---- the history page: PDF and PNG drawn, one page, not blank, the
# calendar's colours there (green days inside the daily band, a red one
# above it, an amber short one: the schedule has all three)
"$ROLLMAT" history w --subject A1 -o hist.pdf --csv weeks2.csv || fail "history -o pdf"
cmp -s weeks.csv weeks2.csv || fail "history: the CSV differs with -o"
"$ROLLMAT" history w --subject A1 -o hist.png > /dev/null || fail "history -o png"
[ "$(pdfinfo hist.pdf | awk '/^Pages:/ {print $2}')" = 1 ] || fail "history page: not one page"
pdftoppm -r 40 hist.pdf page || fail "pdftoppm"
python3 - page-1.ppm hist.png <<'PY' || fail "history page is blank or lacks the calendar colours"
import struct, sys
data = open(sys.argv[1], "rb").read()
parts = data.split(maxsplit=4)
assert parts[0] == b"P6", parts[0]
w, h = int(parts[1]), int(parts[2])
px = parts[4][: w * h * 3]
ink = sum(1 for i in range(0, len(px), 3) if px[i] < 200 or px[i + 1] < 200 or px[i + 2] < 200)
assert ink > 0.02 * w * h, ("blank", ink, w * h)
def count(rgb, tol=30):
    return sum(1 for i in range(0, len(px), 3) if all(abs(px[i + k] - rgb[k]) <= tol for k in range(3)))
green, red, amber = count((115, 199, 115)), count((230, 100, 90), 40), count((250, 205, 120), 30)
assert green > 20 and red > 5 and amber > 5, (green, red, amber)
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n"
pw, ph = struct.unpack(">II", png[16:24])
assert pw > 800 and ph > 1200 and len(png) > 20000, (pw, ph, len(png))
PY

# ---- bad catalogues are refused and left as they were
printf 'subject,week\nA1,2025-W10\n' > notdb.sqlite
cp notdb.sqlite notdb.orig
"$ROLLMAT" study w --db notdb.sqlite -q 2> e1.err; rc=$?
[ $rc -eq 1 ] || fail "not SQLite: exit $rc"
cmp -s notdb.sqlite notdb.orig || fail "not SQLite: the file was changed"
grep -q "not an SQLite database" e1.err || fail "not SQLite: message: $(cat e1.err)"
[ "$(wc -l < e1.err)" -eq 1 ] || fail "not SQLite: not one line: $(cat e1.err)"
python3 -c "
import sqlite3; c = sqlite3.connect('$db'); c.execute('pragma wal_checkpoint(truncate)'); c.close()"
cp "$db" newer.sqlite
python3 -c "
import sqlite3; c = sqlite3.connect('newer.sqlite'); c.execute('pragma journal_mode=delete'); c.execute('pragma user_version=99'); c.commit(); c.close()"
cp newer.sqlite newer.orig
"$ROLLMAT" study w --db newer.sqlite -q 2> e2.err; rc=$?
[ $rc -eq 1 ] || fail "newer schema: exit $rc"
cmp -s newer.sqlite newer.orig || fail "newer schema: the file was changed"
grep -q "schema 99 is newer" e2.err || fail "newer schema: message: $(cat e2.err)"
"$ROLLMAT" history w --subject A1 --db newer.sqlite > /dev/null 2> e3.err && fail "history read a newer schema"
cmp -s newer.sqlite newer.orig || fail "history changed a newer catalogue"

# ---- a recording replaced by another with an older time
short=w/A1-2025-03-21T0730.h5 # the short session of the plan
victim=w/A1-2025-03-03T0730.h5
touch -d 2001-01-01 "$short"
cp -p "$short" "$victim"
"$ROLLMAT" study w > r2.out || fail "study after cp -p"
grep -q "1 updated" r2.out || fail "cp -p over a recording: not indexed again: $(cat r2.out)"
want=$(python3 -c "import sqlite3,sys; c=sqlite3.connect('w/rollmat-study.sqlite'); print(*c.execute(\"select content_id from recording where path like '%/$(basename "$short")'\").fetchone())")
got=$(python3 -c "import sqlite3,sys; c=sqlite3.connect('w/rollmat-study.sqlite'); print(*c.execute(\"select content_id from recording where path like '%/$(basename "$victim")'\").fetchone())")
[ "$want" = "$got" ] || fail "cp -p: catalogue has $got for the replaced file, want $want"
rm "$short"
"$ROLLMAT" study w > r3.out || fail "study after rm"
grep -q "1 removed" r3.out || fail "a deleted recording stays in the catalogue: $(cat r3.out)"

# ---- unknown subject, missing folder
"$ROLLMAT" history w --subject B7 > h.out 2> e4.err; rc=$?
[ $rc -eq 1 ] || fail "unknown subject: exit $rc"
grep -q "known subjects: A1" e4.err || fail "unknown subject: message: $(cat e4.err)"
[ -s h.out ] && fail "unknown subject: output written"
"$ROLLMAT" study nowhere -q 2> e5.err; rc=$?
[ $rc -eq 1 ] || fail "missing folder: exit $rc"
[ -e nowhere ] && fail "missing folder: created"
echo "study: ok ($n_files recordings)"

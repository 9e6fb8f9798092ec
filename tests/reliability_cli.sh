#!/bin/bash
# reliability_cli.sh - `rollmat reliability` end to end: on a generated long
# table (30 subjects x 3 sessions x 2 metrics, one subject missing a session
# of one metric) every ICC form and both bounds equal R's psych::ICC (an
# independent implementation, run here with Rscript on the same table after
# na.omit, the listwise rule rollmat applies) to 1e-6; the missing session
# is counted in the output and said on stderr. Bad tables (a missing column,
# a value that is not a number, one subject only) give one line, exit 1 and
# no output file. `rollmat batch --long` writes subject, session, metric,
# value with the wide CSV's numbers.
set -u
: "${ROLLMAT:?}"
PY=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_reliability_cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$dir" || exit 1
command -v Rscript >/dev/null || { echo "Rscript missing (r-base-core)"; exit 77; }
Rscript -e 'library(psych)' >/dev/null 2>&1 || { echo "R package psych missing (r-cran-psych)"; exit 77; }

# a table with real subject and session effects (ICC(2,1) != ICC(3,1))
$PY - <<'EOF' || fail "generating the table"
import numpy as np
rng = np.random.default_rng(13)
with open("long.csv", "w") as f:
    f.write("subject,session,metric,value\n")
    for m, (mu, sb, ss, se) in {"speed": (4.0, 1.0, 0.4, 0.5), "force": (300.0, 40.0, 5.0, 25.0)}.items():
        sess = rng.normal(0, ss, 3)
        for i in range(30):
            b = rng.normal(0, sb)
            for j in range(3):
                if m == "speed" and i == 7 and j == 1:
                    continue  # S08 missed session 2 of speed
                f.write(f"S{i+1:02d},{j+1},{m},{mu + b + sess[j] + rng.normal(0, se):.6f}\n")
EOF

"$ROLLMAT" reliability long.csv -o out.csv 2> run.err || fail "reliability: $(cat run.err)"
grep -q "speed: 1 of 30 subjects left out (fewer than 3 sessions, e.g. 'S08')" run.err \
    || fail "missing session not reported on stderr: $(cat run.err)"

Rscript --vanilla - <<'EOF' || fail "rollmat and psych::ICC differ"
suppressMessages(library(psych))
long <- read.csv("long.csv", stringsAsFactors = FALSE)
ours <- read.csv("out.csv", stringsAsFactors = FALSE)
stopifnot(nrow(ours) == 2)
forms <- c(ICC1 = "icc1_1", ICC2 = "icc2_1", ICC3 = "icc3_1",
           ICC1k = "icc1_k", ICC2k = "icc2_k", ICC3k = "icc3_k")
bad <- 0
for (m in unique(long$metric)) {
    d <- long[long$metric == m, ]
    w <- reshape(d[, c("subject", "session", "value")], idvar = "subject",
                 timevar = "session", direction = "wide")
    w <- na.omit(w[, -1])
    ref <- ICC(w, lmer = FALSE)$results
    o <- ours[ours$metric == m, ]
    if (o$n != nrow(w) || o$k != ncol(w)) { cat(m, ": n/k differ\n"); bad <- bad + 1 }
    if (o$dropped != (m == "speed")) { cat(m, ": dropped", o$dropped, "\n"); bad <- bad + 1 }
    for (t in names(forms)) {
        r <- ref[ref$type == t, ]
        got <- c(o[[forms[t]]], o[[paste0(forms[t], "_lo")]], o[[paste0(forms[t], "_hi")]])
        want <- c(r$ICC, r[["lower bound"]], r[["upper bound"]])
        if (any(abs(got - want) > 1e-6)) {
            cat(m, t, "rollmat", got, "psych", want, "\n"); bad <- bad + 1
        }
    }
}
quit(status = if (bad) 1 else 0)
EOF

# bad tables: one line, exit 1, no output
bad_case() { # name, table text, expected words
    printf '%b' "$2" > "$1.csv"
    "$ROLLMAT" reliability "$1.csv" -o "$1.out.csv" 2> "$1.err"
    rc=$?
    [ $rc -eq 1 ] || fail "$1: exit $rc (want 1)"
    [ "$(wc -l < "$1.err")" -eq 1 ] || fail "$1: not one line: $(cat "$1.err")"
    grep -q "$3" "$1.err" || fail "$1: message lacks '$3': $(cat "$1.err")"
    [ ! -e "$1.out.csv" ] || fail "$1: an output file was written"
    ls | grep -q "tmp-" && fail "$1: temporary left: $(ls)"
    return 0
}
bad_case nocolumn 'subject,session,value\nA,1,2\nB,1,3\n' "no column 'metric'"
bad_case text 'subject,session,metric,value\nA,1,m,2\nB,1,m,two\n' "line 3: value 'two' is not a number"
bad_case onesubject 'subject,session,metric,value\nA,1,m,2\nA,2,m,3\n' "only one subject"
sum=$(sha256sum < long.csv)
"$ROLLMAT" reliability long.csv -o long.csv 2>/dev/null && fail "the output may not be the input"
[ "$(sha256sum < long.csv)" = "$sum" ] || fail "the input table was changed"

# batch --long: the wide CSV's numbers, one row per set x metric
"$ROLLMAT" simulate -s guide --seed 1 --time-scale 0.3 --rate 50 -q -o rec.h5 || fail "simulate"
"$ROLLMAT" batch rec.h5 -o wide.csv -q || fail "batch"
"$ROLLMAT" batch rec.h5 --long -o longb.csv -q || fail "batch --long"
$PY - <<'EOF' || fail "batch --long does not match the wide CSV"
import csv, h5py
wide = list(csv.DictReader(open("wide.csv")))
rows = list(csv.reader(open("longb.csv")))
assert rows[0] == ["subject", "session", "metric", "value"], rows[0]
created = h5py.File("rec.h5", "r").attrs["created"]
created = created.decode() if isinstance(created, bytes) else created
skip = {"file", "subject", "segment", "label", "start_s", "set_verdict", "speed_verdict",
        "pass_verdict", "hold_verdict", "verdict", "profile",
        # who and when: the recording's, not a set's metric
        "title", "recorded", "body_mass_kg", "frames_lost", "disconnects", "sensels_excluded", "gaps",
        # words, not numbers: the tool, where the label came from, the posture
        "tool", "label_source", "posture", "spot_verdict"}
want = {}
for k, w in enumerate(wide):
    for col, v in w.items():
        if col not in skip:
            want[f"{w['label'] or 'set%d' % (k + 1)}/{col}"] = (w["subject"], v)
got = {m: (s, v) for s, sess, m, v in rows[1:]}
assert all(r[1] == created for r in rows[1:]), "session is not the recording's start"
assert len(got) == len(rows) - 1 == len(want), (len(got), len(want))
for m, (s, v) in want.items():
    assert got[m][0] == s, m
    assert (v == "NA") == (got[m][1] == "NA"), (m, v, got[m][1])
    if v != "NA":
        assert abs(float(v) - float(got[m][1])) <= 1e-5 * max(1, abs(float(v))), (m, v, got[m][1])
print(len(want), "metrics")
EOF
echo "ok"

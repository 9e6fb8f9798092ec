#!/bin/bash
# doc_images.sh - scripts/doc-images.sh draws the pictures of docs/ from the
# demo (shortened here): each is produced, a PNG of the expected size, and
# the guide's summary names the scenario's athlete (the demo passes the
# subject to the recorder: the JSON summary says who and the body mass).
set -u
: "${ROLLMAT:?}"
command -v pdftoppm > /dev/null || exit 77 # the maps are cut from the PDF
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/rm_doc_images.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
bash "$src/scripts/doc-images.sh" "$ROLLMAT" "$dir" --no-usb --time-scale 0.3 ||
    fail "doc-images.sh exited with $?"
/usr/bin/python3 - "$dir" <<'PYEOF' || fail "pictures"
import os, struct, sys
d = sys.argv[1]
want = {"report-example-overview.png": (596, 842), "report-example-set.png": (596, 842),
        "report-example-summary-guide.png": (540, 960),
        "report-example-summary-rushed.png": (540, 960),
        "report-example-maps.png": (1088, 470), "report-example-ball.png": (596, 842)}
assert sorted(os.listdir(d)) == sorted(want), os.listdir(d)
for name, size in want.items():
    b = open(os.path.join(d, name), "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", name
    assert struct.unpack(">II", b[16:24]) == size, (name, struct.unpack(">II", b[16:24]))
    assert len(b) > 20000, (name, len(b))  # a drawn page, not a blank one
PYEOF
# the demo gives the recorder the athlete (USB path) or simulates it: either way
# the analysis knows who rolled and the mass
"$ROLLMAT" demo -q -s guide --no-usb --time-scale 0.3 -o "$dir/demo" > /dev/null || fail "demo"
/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["recording"]
assert r["subject_id"] == "vmat-guide" and r["body_mass_kg"] == 72, r' "$dir/demo/summary.json" ||
    fail "demo summary lacks the athlete"
exit 0

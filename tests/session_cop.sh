#!/usr/bin/env bash
# session_cop.sh - the coordinate contract (docs/format.md): a lab computing
# the centre of pressure from the recording with h5py alone (the /row and
# /col scales, the calibration) gets the analysis' /series/cop_x_cm and
# cop_y_cm. x runs along the rows, y along the columns, sensel centres at
# (index + 0.5) * pitch.
set -u
: "${ROLLMAT:?}"
d=$(mktemp -d "${TMPDIR:-/tmp}/rm_session_cop.XXXXXX"); trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# noise-free sensor, so the lab's plain threshold and the analysis' agree
cat > "$d/sc.json" <<'JSON'
{"sensor": {"noise_counts": 0},
 "timing": {"lead_in_s": 1, "transition_s": 2, "lead_out_s": 1},
 "segments": [{"label": "calves", "y_offset_cm": 5,
   "phases": [{"roll": {"from_cm": 20, "to_cm": 50, "speed_cm_s": 6, "passes": 2}}]}]}
JSON
"$ROLLMAT" simulate --scenario "$d/sc.json" -q -o "$d/rec.h5" || fail "simulate"
"$ROLLMAT" analyze "$d/rec.h5" -o "$d/res.h5" > /dev/null || fail "analyze"
/usr/bin/python3 - "$d/rec.h5" "$d/res.h5" <<'PY' || fail "COP from h5py disagrees with the analysis"
import sys
import h5py
import numpy as np
rec, res = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
x_of_row, y_of_col = rec["row"][...], rec["col"][...]
assert rec["row"].attrs["axis"] in (b"X", "X") and rec["col"].attrs["axis"] in (b"Y", "Y")
rp = float(rec["device"].attrs["row_pitch_mm"]) / 10
cp = float(rec["device"].attrs["col_pitch_mm"]) / 10
assert np.allclose(x_of_row, (np.arange(len(x_of_row)) + 0.5) * rp)
assert np.allclose(y_of_col, (np.arange(len(y_of_col)) + 0.5) * cp)
zero = rec["calibration/zero"][...].astype(float)
gain = rec["calibration/gain"][...].astype(float)
kr, kk = rec["calibration/knot_raw"][...], rec["calibration/knot_kpa"][...]
raw = rec["frames/raw"][...].astype(float)
p = gain * np.interp(np.maximum(raw - zero, 0), kr, kk, left=0, right=kk[-1])
p[p <= 0.2] = 0  # the analysis' noise_kpa default
tot = p.sum(axis=(1, 2))
ok = tot > 0
cx = (p.sum(axis=2) @ x_of_row)[ok] / tot[ok]
cy = (p.sum(axis=1) @ y_of_col)[ok] / tot[ok]
ax, ay = res["series/cop_x_cm"][...][ok], res["series/cop_y_cm"][...][ok]
ex, ey = np.nanmax(np.abs(cx - ax)), np.nanmax(np.abs(cy - ay))
print(f"loaded frames {ok.sum()}, COP x max diff {ex:.4f} cm, y {ey:.4f} cm")
assert ok.sum() > 100 and ex < 0.02 and ey < 0.02
PY
echo "COP from h5py matches the analysis: ok"

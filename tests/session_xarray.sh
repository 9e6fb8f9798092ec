#!/usr/bin/env bash
# A closed recording opens in xarray's netCDF4 engine (netCDF-C underneath,
# a reader nobody here wrote) with named dimensions, CF time decoding and
# the same raw values h5py reads.
set -u
: "${ROLLMAT:?}"
py=/usr/bin/python3
$py -c "import xarray, netCDF4, h5py" 2>/dev/null || { echo "xarray/netCDF4/h5py missing: skipped"; exit 77; }
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$ROLLMAT" simulate --scenario rushed --time-scale 0.1 -q -o "$d/x.h5" || { echo "FAIL: simulate"; exit 1; }
$py - "$d/x.h5" <<'PY'
import sys
import numpy as np
import h5py
import xarray as xr
path = sys.argv[1]
ds = xr.open_dataset(path, engine="netcdf4", group="frames")
raw = ds["raw"]
assert raw.dims == ("time", "row", "col"), raw.dims
with h5py.File(path, "r") as f:
    ref = f["/frames/raw"][...]
    created = f.attrs["created"]
    created = created.decode() if isinstance(created, bytes) else str(created)
    t = f["/frames/time"][...]
assert raw.shape == ref.shape, (raw.shape, ref.shape)
assert np.array_equal(raw.values, ref), "raw values differ between xarray and h5py"
# CF time decoding: time = created + seconds
t0 = np.datetime64(created.rstrip("Z"))
dt = (ds["time"].values - t0) / np.timedelta64(1, "s")
assert np.allclose(dt, t, atol=1e-6), "time axis decoded wrongly"
assert ds["raw"].attrs.get("units"), "raw has no units"
print("xarray: %d frames of %dx%d, time decoded from %s" % (raw.shape + (created,)))
PY

#!/usr/bin/python3
"""Helpers for the session tests, using Debian's h5py (not rollmat's code).

  session_h5py.py make OUT.h5 FRAMES [--vlen]
      writes a recording from the layout in DESIGN.md alone (an independent
      writer: rollmat must read it); --vlen uses variable-length strings for
      attributes, as h5py does by default.
  session_h5py.py check FILE.h5
      reads /frames/raw and the attributes, prints one JSON line with the
      shape, the sum and a CRC-32 of the raw bytes (little-endian uint16).
"""
import json
import sys
import zlib

import h5py
import numpy as np


def fixed(s):
    return np.bytes_(s.encode())


def make(path, frames, vlen):
    rows, cols = 8, 6
    rng = np.random.default_rng(7)
    created = "2026-11-25T08:00:00Z"
    txt = (lambda s: s) if vlen else fixed
    with h5py.File(path, "w", libver="latest", track_order=True) as f:
        f.attrs["conventions"] = txt("rollmat-session-1")
        f.attrs["created"] = txt(created)
        f.attrs["software"] = txt("session_h5py.py")
        f.attrs["title"] = txt("independent writer")
        d = f.create_group("device")
        for k, v in dict(vid=0x1209, pid=1, protocol_version=1, rows=rows, cols=cols).items():
            d.attrs[k] = np.uint16(v)
        d.attrs["adc_bits"] = np.uint8(12)
        d.attrs["row_pitch_mm"] = 10.0
        d.attrs["col_pitch_mm"] = 10.0
        d.attrs["rate_hz"] = 50.0
        d.attrs["serial"] = txt("PY-1")
        d.attrs["model"] = txt("RM-1")
        d.attrs["firmware"] = txt("0.9")
        s = f.create_group("subject")
        s.attrs["id"] = txt("P7")
        s.attrs["body_mass_kg"] = 60.0
        s.attrs["notes"] = txt("")
        c = f.create_group("calibration")
        c["knot_raw"] = np.array([0, 1000, 4095], np.float32)
        c["knot_kpa"] = np.array([0, 50, 400], np.float32)
        c["zero"] = np.full((rows, cols), 5, np.uint16)
        c["gain"] = np.ones((rows, cols), np.float32)
        fr = f.create_group("frames")
        raw = (rng.normal(200, 3, (frames, rows, cols))).clip(0, 4095).astype(np.uint16)
        fr.create_dataset("raw", data=raw, maxshape=(None, rows, cols),
                          chunks=(16, rows, cols), shuffle=True, compression="gzip",
                          compression_opts=1)
        fr.create_dataset("time", data=np.arange(frames) / 50.0, maxshape=(None,))
        fr.create_dataset("seq", data=np.arange(frames, dtype=np.uint32), maxshape=(None,))
        fr.create_dataset("t_device_us", data=np.arange(frames, dtype=np.uint64) * 20000,
                          maxshape=(None,))
        fr.create_dataset("flags", data=np.zeros(frames, np.uint16), maxshape=(None,))
        ev = np.zeros(3, dtype=[("time", "<f8"), ("kind", "S16"), ("value", "<i8"),
                                ("text", "S128")])
        ev[0] = (0.1, b"gap", 4, b"seq jumped")
        ev[1] = (0.2, b"corrupt", 2, b"crc")
        ev[2] = (0.3, b"label", 0, b"calf, left")
        f.create_dataset("events", data=ev, maxshape=(None,), chunks=(64,))
    print(json.dumps({"sum": int(raw.astype(np.uint64).sum()),
                      "crc32": zlib.crc32(raw.astype("<u2").tobytes())}))


def check(path):
    with h5py.File(path, "r") as f:
        raw = f["/frames/raw"][...]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v)
                 for k, v in f.attrs.items() if k in ("conventions", "created", "title")}
        dev = {k: int(f["/device"].attrs[k]) for k in ("rows", "cols")}
        out = {"shape": list(raw.shape), "dtype": str(raw.dtype),
               "sum": int(raw.astype(np.uint64).sum()),
               "crc32": zlib.crc32(raw.astype("<u2").tobytes()),
               "attrs": attrs, "device": dev,
               "time_units": f["/frames/time"].attrs["units"].decode()
               if isinstance(f["/frames/time"].attrs["units"], bytes)
               else f["/frames/time"].attrs["units"],
               "scale": f["/frames/raw"].dims[0][0].name}
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), "--vlen" in sys.argv[4:])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        sys.exit(__doc__)

#!/usr/bin/python3
"""peer_numpy.py - the rollmat analysis written the way a competent lab
scientist would write it with numpy, scipy and h5py: the same definitions,
defaults and outputs as `rollmat analyze` (docs/metrics.md), for the
benchmark (bench/bench_analyze.sh).

usage: peer_numpy.py RECORDING.h5 RESULTS.h5
Writes RESULTS.h5 (/series, /strokes, /holds, /segments, /maps, /spectra)
and RESULTS.json, and prints one line of totals.
"""
import json
import sys

import h5py
import numpy as np
from scipy import ndimage, signal

CFG = dict(noise_kpa=0.2, min_contact_sensels=3, roller_min_length_cm=12.0,
           roller_min_aspect=2.5, roller_max_width_cm=12.0, roller_row_share=0.25,
           roller_max_jump_cm=5.0, hot_after_s=1.0, dead_after_s=0.5, lowpass_hz=1.5,
           fill_gap_s=0.5, rolling_speed_cm_s=0.5, hold_min_s=3.0, hold_edge_cm=0.2,
           min_excursion_cm=2.0, segment_gap_s=4.0, min_segment_s=5.0,
           welch_window_s=40.0, shake_lo_hz=3.0, shake_hi_hz=12.0, coverage_bin_cm=1.0)
EIGHT = np.ones((3, 3), dtype=bool)


def roller_band(sub):
    """Rows of a component that form the roller band (docs/metrics.md)."""
    rc = sub.sum(axis=1)
    best = int(np.argmax(rc))
    core, edge = rc[best] * min(2 * CFG["roller_row_share"], 1), rc[best] * CFG["roller_row_share"]
    lo = hi = best
    while lo > 0 and rc[lo - 1] >= core:
        lo -= 1
    while hi < len(rc) - 1 and rc[hi + 1] >= core:
        hi += 1
    while lo > 0 and rc[lo - 1] >= edge and rc[lo - 1] <= rc[lo]:
        lo -= 1
    while hi < len(rc) - 1 and rc[hi + 1] >= edge and rc[hi + 1] <= rc[hi]:
        hi += 1
    return lo, hi


def analyse_frames(f):
    dev = f["device"].attrs
    rows, cols = int(dev["rows"]), int(dev["cols"])
    rp, cp = float(dev["row_pitch_mm"]) / 10, float(dev["col_pitch_mm"]) / 10
    rate = float(dev["rate_hz"])
    area = rp * cp
    cal = f["calibration"]
    kr, kp = cal["knot_raw"][:], cal["knot_kpa"][:]
    zero = cal["zero"][:].astype(np.float32)
    gain = cal["gain"][:].astype(np.float32)
    mask = cal["mask"][:].astype(bool) if "mask" in cal else np.ones((rows, cols), bool)
    raw = f["frames/raw"]
    t_abs = f["frames/time"][:]
    n = raw.shape[0]
    rr, cc = np.mgrid[0:rows, 0:cols]

    ser = {k: np.full(n, np.nan, np.float32) for k in (
        "force_n", "area_cm2", "peak_kpa", "cop_x_cm", "cop_y_cm", "roller_x_cm", "roller_y_cm",
        "roller_force_n", "roller_area_cm2", "roller_peak_kpa")}
    hot = np.zeros((rows, cols), bool)
    lone_run = np.zeros((rows, cols), np.int32)
    dead = np.zeros((rows, cols), bool)
    dead_run = np.zeros((rows, cols), np.int32)
    hot_frames = max(2, int(np.ceil(CFG["hot_after_s"] * rate)))
    dead_frames = max(2, int(np.ceil(CFG["dead_after_s"] * rate)))
    all_sum = np.zeros((rows, cols)); all_peak = np.zeros((rows, cols), np.float32)
    all_cnt = np.zeros((rows, cols), np.int64)
    cur = [np.zeros((rows, cols)), np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.int64), 0]
    pend = [np.zeros((rows, cols)), np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.int64), 0]
    spans = []
    in_seg = False
    seg_start = last_t = 0.0
    first_i = last_i = 0
    prev_x, prev_t = None, -1e9
    step = raw.chunks[0] * 8 if raw.chunks else 512
    for s0 in range(0, n, step):
        block = raw[s0:s0 + step].astype(np.float32)
        p = np.interp(np.maximum(block - zero, 0), kr, kp).astype(np.float32) * gain
        p[:, ~mask] = 0
        for k in range(block.shape[0]):
            i = s0 + k
            t = t_abs[i]
            pk = p[k]
            loaded = (pk > CFG["noise_kpa"]) & ~hot
            pl = np.where(loaded, pk, 0.0)
            lab, nlab = ndimage.label(loaded, EIGHT)
            fsum = float(pl.sum())
            best = None
            if nlab:
                sizes = np.bincount(lab.ravel())
                lone = np.zeros((rows, cols), bool)
                ones = np.nonzero(sizes == 1)[0]
                if len(ones):
                    lone = np.isin(lab, ones) & loaded
                lone_run = np.where(lone, lone_run + 1, 0)
                newhot = lone_run >= hot_frames
                if newhot.any():
                    hot |= newhot
                for li, sl in enumerate(ndimage.find_objects(lab), start=1):
                    if sl is None or sizes[li] < CFG["min_contact_sensels"]:
                        continue
                    if (sl[1].stop - sl[1].start) * cp < CFG["roller_min_length_cm"]:
                        continue
                    sub = lab[sl] == li
                    lo, hi = roller_band(sub)
                    band = np.zeros_like(sub)
                    band[lo:hi + 1] = sub[lo:hi + 1]
                    w = pl[sl] * band
                    wsum = w.sum()
                    if wsum <= 0 or band.sum() < CFG["min_contact_sensels"]:
                        continue
                    r_idx, c_idx = np.nonzero(band)
                    ext_x = (r_idx.max() - r_idx.min() + 1) * rp
                    ext_y = (c_idx.max() - c_idx.min() + 1) * cp
                    rg = rr[sl][band]; cg = cc[sl][band]; wv = w[band]
                    mx, my = (wv * rg).sum() / wsum, (wv * cg).sum() / wsum
                    vx = max((wv * rg * rg).sum() / wsum - mx * mx, 1 / 12)
                    vy = max((wv * cg * cg).sum() / wsum - my * my, 0)
                    if (ext_y < CFG["roller_min_length_cm"] or ext_x > CFG["roller_max_width_cm"] + 1e-9
                            or np.sqrt(vy) * cp / (np.sqrt(vx) * rp) < CFG["roller_min_aspect"]):
                        continue
                    x = (mx + 0.5) * rp
                    score = ext_y
                    if prev_x is not None and t - prev_t < 1.0 and abs(x - prev_x) <= CFG["roller_max_jump_cm"]:
                        score += 1000 - abs(x - prev_x)
                    if best is None or score > best[0]:
                        best = (score, li, sl, band, w)
            if best is not None:
                _, li, sl, band, w = best
                # dead sensels inside the roller band's bounding box
                r_idx, c_idx = np.nonzero(band)
                r0, r1 = sl[0].start + r_idx.min(), sl[0].start + r_idx.max()
                c0, c1 = sl[1].start + c_idx.min(), sl[1].start + c_idx.max()
                inr = lab == li
                pad = np.pad(inr, 1)
                up, dn = pad[:-2, 1:-1], pad[2:, 1:-1]
                lf, rt = pad[1:-1, :-2], pad[1:-1, 2:]
                between = ((up & dn) | (lf & rt)) & ~loaded & mask
                box = np.zeros_like(between)
                box[r0:r1 + 1, c0:c1 + 1] = True
                between &= box
                dead_run = np.where(between & ~dead, dead_run + 1, np.where(dead, dead_run, 0))
                dead |= dead_run >= dead_frames
                fill = between & dead
                wfull = np.zeros((rows, cols)); wfull[sl] = w
                cnt = band.sum()
                if fill.any():
                    pp = np.pad(np.where(inr, pl, 0), 1)
                    num = up * pp[:-2, 1:-1] + dn * pp[2:, 1:-1] + lf * pp[1:-1, :-2] + rt * pp[1:-1, 2:]
                    den = up.astype(int) + dn + lf + rt
                    wfull[fill] = num[fill] / den[fill]
                    cnt += int(fill.sum())
                    fsum += float(wfull[fill].sum())
                wsum = wfull.sum()
                x = ((wfull * rr).sum() / wsum + 0.5) * rp
                ser["roller_x_cm"][i] = x
                ser["roller_y_cm"][i] = ((wfull * cc).sum() / wsum + 0.5) * cp
                ser["roller_force_n"][i] = wsum * area * 0.1
                ser["roller_area_cm2"][i] = cnt * area
                ser["roller_peak_kpa"][i] = w.max()
                prev_x, prev_t = x, t
            ser["force_n"][i] = fsum * area * 0.1
            ser["area_cm2"][i] = loaded.sum() * area
            ser["peak_kpa"][i] = pl.max()
            if fsum > 0:
                tot = pl.sum()
                ser["cop_x_cm"][i] = ((pl * rr).sum() / tot + 0.5) * rp
                ser["cop_y_cm"][i] = ((pl * cc).sum() / tot + 0.5) * cp
            all_sum += pl
            np.maximum(all_peak, pl, out=all_peak)
            all_cnt += loaded
            present = best is not None
            if present:
                if not in_seg:
                    in_seg, seg_start, first_i = True, t, i
                elif pend[3]:
                    cur[0] += pend[0]; np.maximum(cur[1], pend[1], out=cur[1]); cur[2] += pend[2]
                    cur[3] += pend[3]
                    pend = [np.zeros((rows, cols)), np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.int64), 0]
                cur[0] += pl; np.maximum(cur[1], pl, out=cur[1]); cur[2] += loaded; cur[3] += 1
                last_t, last_i = t, i
            elif in_seg:
                if t - last_t >= CFG["segment_gap_s"]:
                    if last_t - seg_start >= CFG["min_segment_s"]:
                        spans.append((first_i, last_i, cur))
                    cur = [np.zeros((rows, cols)), np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.int64), 0]
                    pend = [np.zeros((rows, cols)), np.zeros((rows, cols), np.float32), np.zeros((rows, cols), np.int64), 0]
                    in_seg = False
                else:
                    pend[0] += pl; np.maximum(pend[1], pl, out=pend[1]); pend[2] += loaded; pend[3] += 1
    if in_seg and last_t - seg_start >= CFG["min_segment_s"]:
        spans.append((first_i, last_i, cur))
    geo = dict(rows=rows, cols=cols, rp=rp, cp=cp, rate=rate)
    maps = dict(all_sum=all_sum, all_peak=all_peak, all_cnt=all_cnt)
    return t_abs - t_abs[0] if n else t_abs, ser, spans, maps, geo, int(hot.sum()), int(dead.sum())


def welch_psd(y, fs, nperseg_max, nfft):
    L = min(len(y), nperseg_max)
    return signal.welch(y, fs, window="hann", nperseg=L, noverlap=L // 2, nfft=nfft,
                        detrend="constant", scaling="density")


def psd_peak(f, p, flo, fhi):
    k = np.nonzero((f >= flo) & (f <= fhi))[0]
    k = k[(k >= 1) & (k <= len(p) - 2)]
    if len(k) == 0:
        return np.nan
    b = k[np.argmax(p[k])]
    l, c, r = np.log(np.maximum(p[b - 1:b + 2], 1e-300))
    den = l - 2 * c + r
    off = np.clip(0.5 * (l - r) / den, -0.5, 0.5) if den < 0 else 0
    return (b + off) * (f[1] - f[0])


def pacing(t, ser, spans, maps, geo, labels):
    rate = geo["rate"]; dt = 1 / rate
    n = len(t)
    x = ser["roller_x_cm"].astype(np.float64)
    fr = ser["roller_force_n"]
    xf = x.copy()
    isn = np.isnan(xf)
    # bridge short gaps
    i = 0
    while i < n:
        if not isn[i]:
            i += 1
            continue
        j = i
        while j < n and isn[j]:
            j += 1
        if i > 0 and j < n and t[j] - t[i - 1] <= CFG["fill_gap_s"] + 1e-6:
            xf[i:j] = np.interp(t[i:j], [t[i - 1], t[j]], [xf[i - 1], xf[j]])
        i = j
    b, a = signal.butter(2, min(CFG["lowpass_hz"], 0.45 * rate) / (rate / 2))
    pad = int(np.ceil(rate / CFG["lowpass_hz"]))
    xs = np.full(n, np.nan); v = np.full(n, np.nan)
    state = np.zeros(n, np.uint8)
    strokes, holds = [], []
    ok = ~np.isnan(xf)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    for s, e in zip(edges[::2], edges[1::2]):
        seg = xf[s:e]
        if len(seg) > 1:
            xs[s:e] = signal.filtfilt(b, a, seg, padtype="odd", padlen=min(pad, len(seg) - 1))
            v[s:e] = np.gradient(xs[s:e], t[s:e])
        else:
            xs[s:e] = seg; v[s:e] = 0
        state[s:e] = 1
        slow = np.abs(v[s:e]) < CFG["rolling_speed_cm_s"]
        se = np.flatnonzero(np.diff(np.concatenate(([0], slow.astype(np.int8), [0]))))
        for h0, h1 in zip(se[::2] + s, se[1::2] + s):
            if t[h1 - 1] - t[h0] < CFG["hold_min_s"] - dt - 1e-6:
                continue
            q0, q1 = h0 + (h1 - h0) // 4, h1 - (h1 - h0) // 4
            hx = xf[q0:q1].mean()
            while h0 > s and state[h0 - 1] != 2 and abs(xf[h0 - 1] - hx) <= CFG["hold_edge_cm"]:
                h0 -= 1
            while h1 < e and abs(xf[h1] - hx) <= CFG["hold_edge_cm"]:
                h1 += 1
            state[h0:h1] = 2
            holds.append((t[h0], t[h1 - 1], xs[h0:h1].mean(), np.nanmean(fr[h0:h1]), -1))
        # strokes between holds, cut at turning points
        ps = s
        while ps < e:
            if state[ps] == 2:
                ps += 1
                continue
            pe = ps
            while pe < e and state[pe] != 2:
                pe += 1
            bd = [ps]
            d, ext = 0, ps
            h = CFG["min_excursion_cm"]
            for q in range(ps + 1, pe):
                if d == 0:
                    if xs[q] - xs[ps] >= h: d, ext = 1, q
                    elif xs[ps] - xs[q] >= h: d, ext = -1, q
                elif d > 0:
                    if xs[q] > xs[ext]: ext = q
                    elif xs[ext] - xs[q] >= h: bd.append(ext); d, ext = -1, q
                else:
                    if xs[q] < xs[ext]: ext = q
                    elif xs[q] - xs[ext] >= h: bd.append(ext); d, ext = 1, q
            if bd[-1] != pe - 1:
                bd.append(pe - 1)
            for kk in range(len(bd) - 1):
                a0, a1 = bd[kk], bd[kk + 1]
                if kk == 0:
                    while a0 < a1 and abs(v[a0]) < CFG["rolling_speed_cm_s"]: a0 += 1
                if kk + 2 == len(bd):
                    while a1 > a0 and abs(v[a1]) < CFG["rolling_speed_cm_s"]: a1 -= 1
                if a1 <= a0:
                    continue
                ln = abs(xs[a1] - xs[a0])
                if ln < h:
                    continue
                dur = t[a1] - t[a0]
                strokes.append((t[a0], t[a1], xs[a0], xs[a1], ln, ln / dur if dur > 0 else np.nan,
                                np.abs(v[a0:a1 + 1]).max(), np.nanmean(fr[a0:a1 + 1]), -1))
            ps = pe
    # frame durations
    d = np.append(np.diff(t), dt)
    maxgap = max(CFG["fill_gap_s"], 1.5 * dt)
    d = np.where((d > 0) & (d <= maxgap), d, dt)
    whole = not spans and np.all(np.isnan(x)) and n > 0
    if whole:
        spans = [(0, n - 1, None)]
    L = int(np.ceil(CFG["welch_window_s"] * rate))
    nfft = 256
    while nfft < 4 * L:
        nfft *= 2
    segs, pos_acc, frc_acc = [], [], []
    seg_maps = []
    prev_end = -1e300
    for k, (i0, i1, acc) in enumerate(spans):
        sl = slice(i0, i1 + 1)
        st = state[sl]
        roll = st == 1
        ld = ~np.isnan(fr[sl])
        label = labels[k] if labels and k < len(labels) else "set %d" % (k + 1)
        if whole:
            label = "whole recording"
        g = dict(index=k, label=label, start_s=t[i0], end_s=t[i1],
                 rolling_s=d[sl][roll].sum(), holding_s=d[sl][st == 2].sum())
        g["mean_speed_cm_s"] = np.abs(v[sl][roll]).mean() if roll.any() else np.nan
        g["mean_force_n"] = fr[sl][ld].mean() if ld.any() else np.nan
        ar = ser["roller_area_cm2"][sl][ld]
        g["roller_area_cm2"] = ar.mean() if ld.any() else np.nan
        g["mean_roller_kpa"] = (10 * fr[sl][ld] / ar).mean() if ld.any() else np.nan
        g["peak_roller_kpa"] = ser["roller_peak_kpa"][sl][ld].max() if ld.any() else np.nan
        ft = ser["force_n"][sl][ld].sum()
        g["load_share"] = fr[sl][ld].sum() / ft if ft > 0 else np.nan
        xr = xs[sl][roll]
        g["cadence_cpm"] = np.nan
        if len(xr) >= 16:
            fq, pp = welch_psd(xr, rate, L, nfft)
            pos_acc.append(pp)
            g["cadence_cpm"] = 60 * psd_peak(fq, pp, 1 / 600, 3.0)
        g["coverage"] = g["range_cm"] = np.nan
        if len(xr) >= 10:
            lo, hi = np.percentile(xr, [5, 95], method="lower")
            g["range_cm"] = hi - lo
            nb = int(np.ceil((hi - lo) / CFG["coverage_bin_cm"]))
            if nb >= 2:
                hst, _ = np.histogram(xr[(xr >= lo) & (xr <= hi)], bins=nb, range=(lo, hi))
                pq = hst[hst > 0] / hst.sum()
                g["coverage"] = -(pq * np.log(pq)).sum() / np.log(nb)
        g["steadiness"] = np.nan
        fl = fr[sl][ld].astype(np.float64)
        if len(fl) >= 16:
            fq, pp = welch_psd(fl, rate, L, nfft)
            frc_acc.append(pp)
            band = (fq >= CFG["shake_lo_hz"]) & (fq <= CFG["shake_hi_hz"])
            tot = pp[1:].sum()
            g["steadiness"] = 1 - pp[band].sum() / tot if tot > 0 else np.nan
        segs.append(g)
        if acc is None:
            seg_maps.append((maps["all_sum"] / n, maps["all_peak"], maps["all_cnt"] * dt))
        else:
            seg_maps.append((acc[0] / max(acc[3], 1), acc[1], acc[2] * dt))
        prev_end = g["end_s"]
    for lst, col in ((strokes, 0), (holds, 0)):
        for q, row in enumerate(lst):
            mid = 0.5 * (row[0] + row[1])
            for g in segs:
                if g["start_s"] <= mid <= g["end_s"]:
                    lst[q] = row[:-1] + (g["index"],)
                    break
    for g in segs:
        mine = [s for s in strokes if s[-1] == g["index"]]
        g["strokes"] = len(mine)
        g["holds"] = sum(1 for h in holds if h[-1] == g["index"])
        g["mean_pass_s"] = np.mean([s[1] - s[0] for s in mine]) if mine else np.nan
        g["stroke_cadence_cpm"] = (len(mine) / 2 / g["rolling_s"] * 60) if mine and g["rolling_s"] > 0 else np.nan
    fq = np.arange(nfft // 2 + 1) * rate / nfft
    pos = np.mean(pos_acc, axis=0) if pos_acc else np.zeros_like(fq)
    frc = np.mean(frc_acc, axis=0) if frc_acc else np.zeros_like(fq)
    return xs, v, state, strokes, holds, segs, seg_maps, (fq, pos, frc)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: peer_numpy.py RECORDING.h5 RESULTS.h5")
    src, out = sys.argv[1], sys.argv[2]
    with h5py.File(src, "r") as f:
        t, ser, spans, maps, geo, nhot, ndead = analyse_frames(f)
        labels = []
        if "events" in f:
            ev = f["events"][:]
            labels = [e["text"].decode() for e in ev if e["kind"].startswith(b"label")]
    xs, v, state, strokes, holds, segs, seg_maps, spec = pacing(t, ser, spans, maps, geo, labels)
    ser["speed_cm_s"] = v.astype(np.float32)
    with h5py.File(out, "w") as o:
        o.attrs["conventions"] = "rollmat-results-1"
        o.attrs["source"] = src.split("/")[-1]
        o.attrs["profile"] = "guide"
        o.attrs["software"] = "peer_numpy.py"
        o["recording"] = h5py.ExternalLink(src, "/")
        g = o.create_group("series")
        g["time"] = t.astype(np.float32)
        for k, a in ser.items():
            g.create_dataset(k, data=a, compression="gzip", compression_opts=1, shuffle=True)
        g["state"] = state
        o["strokes"] = np.array(strokes, dtype=[(n, "f8" if n.endswith("_s") else ("i4" if n == "segment" else "f4")) for n in (
            "start_s", "end_s", "from_x_cm", "to_x_cm", "length_cm", "mean_speed_cm_s",
            "peak_speed_cm_s", "mean_force_n", "segment")])
        o["holds"] = np.array(holds, dtype=[("start_s", "f8"), ("end_s", "f8"), ("x_cm", "f4"),
                                            ("mean_force_n", "f4"), ("segment", "i4")])
        keys = ["index", "label", "start_s", "end_s", "rolling_s", "holding_s", "strokes", "holds",
                "cadence_cpm", "stroke_cadence_cpm", "mean_speed_cm_s", "mean_pass_s", "mean_force_n",
                "mean_roller_kpa", "roller_area_cm2", "peak_roller_kpa", "load_share", "steadiness",
                "coverage", "range_cm"]
        dt = [(k, "S64" if k == "label" else ("i4" if k in ("index", "strokes", "holds") else "f8")) for k in keys]
        o["segments"] = np.array([tuple(g[k] for k in keys) for g in segs], dtype=dt)
        m = o.create_group("maps")
        m["mean_kpa"] = (maps["all_sum"] / max(len(t), 1)).astype(np.float32)
        m["peak_kpa"] = maps["all_peak"]
        m["contact_s"] = (maps["all_cnt"] / geo["rate"]).astype(np.float32)
        if seg_maps:
            m["segment_mean_kpa"] = np.array([s[0] for s in seg_maps], np.float32)
            m["segment_peak_kpa"] = np.array([s[1] for s in seg_maps], np.float32)
            m["segment_contact_s"] = np.array([s[2] for s in seg_maps], np.float32)
        sp = o.create_group("spectra")
        sp["freq_hz"], sp["position_psd"], sp["force_psd"] = (a.astype(np.float32) for a in spec)
    summary = dict(conventions="rollmat-results-1", source=src.split("/")[-1],
                   session=dict(strokes=len(strokes), holds=len(holds), segments=len(segs),
                                hot_sensels=nhot, dead_sensels=ndead, frames=len(t)),
                   segments=[{k: (None if isinstance(g[k], float) and np.isnan(g[k]) else
                                  (g[k].item() if hasattr(g[k], "item") else g[k])) for k in keys}
                             for g in segs])
    with open(out.rsplit(".h5", 1)[0] + ".json", "w") as jf:
        json.dump(summary, jf, indent=2)
    print("peer: %d frames, %d segments, %d strokes, %d holds" % (len(t), len(segs), len(strokes), len(holds)))


if __name__ == "__main__":
    main()

/* test_vmat.c - the virtual mat: its stream decodes to exactly the frames
 * it simulates, it is deterministic, it reproduces the published force
 * figures and its scenarios' timing, its injected faults are counted
 * exactly, its calibration inverts its sensor, and bad scenarios fail with
 * named errors. Short scenarios or --time-scale keep it fast under ASan. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_proto.h"
#include "rm_vmat.h"
#include "test_util.h"

#define NS (64 * 48)

static rm_vmat *open_vm(const char *scenario, uint64_t seed, double ts, const rm_vmat_faults *f)
{
    rm_vmat_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.scenario = scenario;
    cfg.seed = seed;
    cfg.time_scale = ts;
    if (f) {
        cfg.fault_override = 1;
        cfg.faults = *f;
    }
    rm_vmat *vm = NULL;
    rm_err e = {0};
    rm_status st = rm_vmat_new(&cfg, &vm, &e);
    cr_assert_eq(st, RM_OK, "%s: %s", scenario, e.msg);
    return vm;
}

static uint8_t *read_all(rm_vmat *vm, size_t *len)
{
    size_t cap = 1 << 20, used = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (cap - used < 4096)
            b = realloc(b, cap *= 2);
        /* odd read sizes: frame boundaries never align with reads */
        size_t n = rm_vmat_read_stream(vm, b + used, 1 + (used * 7919) % 4000);
        if (n == 0)
            break;
        used += n;
    }
    *len = used;
    return b;
}

static long find_magic(const uint8_t *b, size_t from, size_t to)
{
    for (size_t i = from; i + 4 <= to; i++)
        if (!memcmp(b + i, "RMF1", 4))
            return (long)i;
    return -1;
}

typedef struct ref_counts {
    uint64_t ok, corrupt, truncated, garbage_bytes, garbage_runs, missing, flagged;
} ref_counts;

/* The reference host decoder of PROTOCOL.md "Virtual mat faults": every
 * frame that decodes is compared byte for byte with what a second model of
 * the same seed simulates for that seq. */
static void decode_and_compare(const uint8_t *b, size_t len, rm_vmat *twin, ref_counts *rc)
{
    memset(rc, 0, sizeof *rc);
    size_t pos = 0;
    int in_garbage = 0, have_seq = 0;
    uint32_t last_seq = 0;
    uint16_t *raw = malloc(NS * sizeof *raw), *want = malloc(NS * sizeof *want);
    uint8_t *enc = malloc(rm_frame_wire_len(64, 48));
    while (pos < len) {
        if (len - pos < 4 || memcmp(b + pos, "RMF1", 4) != 0) {
            rc->garbage_bytes++;
            if (!in_garbage)
                rc->garbage_runs++;
            in_garbage = 1;
            pos++;
            continue;
        }
        in_garbage = 0;
        rm_frame_header h;
        size_t flen = 0, need = 0;
        rm_err e = {0};
        rm_status st = rm_frame_decode(b + pos, len - pos, &h, raw, NS, &flen, &need, &e);
        if (st == RM_OK) {
            rc->ok++;
            if (h.flags & RM_FLAG_DROPPED_BEFORE)
                rc->flagged++;
            if (have_seq)
                rc->missing += h.seq - last_seq - 1;
            else
                rc->missing += h.seq;
            have_seq = 1;
            last_seq = h.seq;
            rm_frame_header th;
            do
                cr_assert_eq(rm_vmat_next_frame(twin, &th, want, NULL), RM_OK, "twin ended");
            while (th.seq < h.seq);
            cr_assert_eq(th.seq, h.seq);
            size_t elen;
            cr_assert_eq(rm_frame_encode(&th, want, enc, rm_frame_wire_len(64, 48), &elen), RM_OK);
            cr_assert_eq(elen, flen);
            cr_assert(memcmp(enc, b + pos, flen) == 0, "frame seq %u differs from the model",
                      h.seq);
            pos += flen;
            continue;
        }
        size_t announced = need;
        if (st == RM_ERR_CRC || (st == RM_ERR_TRUNCATED && need > 0)) {
            if (st == RM_ERR_CRC) {
                /* rm_frame_decode leaves hdr unset on a CRC error */
                announced = 32 + (size_t)rm_get_u32(b + pos + 12) + 4;
            }
            size_t end = pos + announced < len ? pos + announced : len;
            long m = find_magic(b, pos + 1, end);
            if (m >= 0) {
                rc->truncated++;
                pos = (size_t)m;
            } else if (st == RM_ERR_TRUNCATED) {
                rc->truncated++; /* partial frame at the very end */
                pos = len;
            } else {
                rc->corrupt++;
                pos += announced;
            }
            continue;
        }
        if (st == RM_ERR_TRUNCATED) { /* not even a header before the end */
            rc->truncated++;
            break;
        }
        cr_assert_fail("unexpected %s at byte %zu: %s", rm_status_name(st), pos, e.msg);
    }
    free(raw);
    free(want);
    free(enc);
}

Test(vmat, stream_decodes_to_the_simulated_frames_and_counts_match)
{
    rm_vmat_faults f = {
        .corrupt_rate = 0.03, .truncate_rate = 0.03, .garbage_rate = 0.05, .drop_rate = 0.03};
    rm_vmat *vm = open_vm("guide", 11, 0.04, &f);
    rm_vmat *twin = open_vm("guide", 11, 0.04, &f);
    size_t len;
    uint8_t *b = read_all(vm, &len);
    rm_vmat_counts k;
    rm_vmat_get_counts(vm, &k);
    cr_assert_eq(k.frames_produced, rm_vmat_total_frames(vm));
    cr_assert_gt(k.frames_corrupt, 5);
    cr_assert_gt(k.frames_truncated, 5);
    cr_assert_gt(k.frames_dropped, 5);
    cr_assert_gt(k.garbage_insertions, 5);
    ref_counts rc;
    decode_and_compare(b, len, twin, &rc);
    cr_expect_eq(rc.ok, k.frames_sent);
    cr_expect_eq(rc.corrupt, k.frames_corrupt);
    cr_expect_eq(rc.truncated, k.frames_truncated);
    cr_expect_eq(rc.garbage_bytes, k.garbage_bytes);
    cr_expect_eq(rc.garbage_runs, k.garbage_insertions);
    cr_expect_eq(rc.missing, k.frames_dropped + k.frames_corrupt + k.frames_truncated);
    cr_expect_eq(k.frames_sent + k.frames_corrupt + k.frames_truncated + k.frames_dropped,
                 k.frames_produced);
    cr_expect_gt(rc.flagged, 0);
    rm_dev_status ds;
    rm_vmat_dev_status(vm, &ds);
    cr_expect_eq(ds.frames_sent, k.frames_sent + k.frames_corrupt + k.frames_truncated);
    cr_expect_eq(ds.frames_dropped, k.frames_dropped);
    cr_expect_geq(ds.uptime_s, 7);
    uint8_t sb[RM_STATUS_LEN];
    rm_dev_status_encode(&ds, sb);
    rm_dev_status back;
    cr_expect_eq(rm_dev_status_decode(sb, sizeof sb, &back, NULL), RM_OK);
    cr_expect_eq(back.frames_sent, ds.frames_sent);
    /* the last frame is never faulted: the stream ends with it, intact */
    rm_frame_header h;
    size_t fl = rm_frame_wire_len(64, 48);
    cr_assert_eq(rm_frame_decode(b + len - fl, fl, &h, NULL, 0, NULL, NULL, NULL), RM_OK);
    cr_expect_eq(h.seq, k.frames_produced - 1);
    free(b);
    rm_vmat_free(vm);
    rm_vmat_free(twin);
}

Test(vmat, clean_stream_is_every_frame)
{
    rm_vmat *vm = open_vm("rushed", 2, 0.05, NULL);
    rm_vmat *twin = open_vm("rushed", 2, 0.05, NULL);
    size_t len;
    uint8_t *b = read_all(vm, &len);
    uint64_t n = rm_vmat_total_frames(vm);
    cr_assert_eq(len, n * rm_frame_wire_len(64, 48));
    ref_counts rc;
    decode_and_compare(b, len, twin, &rc);
    cr_expect_eq(rc.ok, n);
    cr_expect_eq(rc.missing + rc.corrupt + rc.truncated + rc.garbage_bytes, 0);
    free(b);
    rm_vmat_free(vm);
    rm_vmat_free(twin);
}

Test(vmat, dropped_before_flag_follows_drops)
{
    rm_vmat_faults f = {.drop_rate = 0.2};
    rm_vmat *vm = open_vm("rushed", 5, 0.03, &f);
    rm_frame_header h;
    uint16_t *raw = malloc(NS * sizeof *raw);
    int prev_drop = 0, drops = 0;
    while (rm_vmat_next_frame(vm, &h, raw, NULL) == RM_OK) {
        cr_expect_eq(!!(h.flags & RM_FLAG_DROPPED_BEFORE), prev_drop, "seq %u", h.seq);
        prev_drop = rm_vmat_last_fault(vm) == RM_VMAT_FAULT_DROP;
        drops += prev_drop;
    }
    cr_expect_eq(prev_drop, 0, "the last frame is never dropped");
    cr_expect_gt(drops, 5);
    free(raw);
    rm_vmat_free(vm);
}

Test(vmat, same_seed_same_bytes_other_seed_other_bytes)
{
    rm_vmat_faults f = {.corrupt_rate = 0.02, .garbage_rate = 0.02, .drop_rate = 0.02};
    rm_vmat *a = open_vm("behm2020", 7, 0.02, &f), *b = open_vm("behm2020", 7, 0.02, &f),
            *c = open_vm("behm2020", 8, 0.02, &f);
    size_t la, lb, lc;
    uint8_t *ba = read_all(a, &la), *bb = read_all(b, &lb), *bc = read_all(c, &lc);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(ba, bb, la) == 0, "same seed gave different bytes");
    cr_assert(la != lc || memcmp(ba, bc, la) != 0, "different seeds gave the same bytes");
    cr_expect_str_neq(rm_vmat_serial(a), rm_vmat_serial(c));
    free(ba);
    free(bb);
    free(bc);
    rm_vmat_free(a);
    rm_vmat_free(b);
    rm_vmat_free(c);
}

Test(vmat, roller_force_share_matches_baumgart_2019)
{
    /* Definitions (PROTOCOL.md): mean = roller force / body weight over all
     * loaded frames (rolling or holding); peak = the largest share in each
     * segment (one set on one muscle group). */
    rm_vmat *vm = open_vm("guide", 1, 1.0, NULL);
    rm_header hdr;
    rm_vmat_header(vm, &hdr);
    double w = hdr.body_mass_kg * 9.81, sum = 0, peak[64] = {0};
    uint64_t loaded = 0, n = rm_vmat_total_frames(vm);
    int nseg = rm_vmat_segment_count(vm);
    cr_assert_eq(nseg, 5);
    for (uint64_t i = 0; i < n; i++) {
        rm_vmat_truth t;
        cr_assert_eq(rm_vmat_truth_frame(vm, i, &t), RM_OK);
        if (t.state == RM_VMAT_UNLOADED)
            continue;
        cr_assert(t.segment >= 0 && t.segment < nseg);
        double s = t.roller_force_n / w;
        sum += s;
        loaded++;
        if (s > peak[t.segment])
            peak[t.segment] = s;
    }
    double mean = sum / (double)loaded;
    cr_expect(mean >= 0.32 && mean <= 0.34, "mean share %.4f outside 32-34 %%", mean);
    for (int s = 0; s < nseg; s++)
        cr_expect(peak[s] >= 0.51 && peak[s] <= 0.55, "segment %d peak share %.4f outside 51-55 %%",
                  s, peak[s]);
    double total_s = rm_vmat_duration(vm);
    cr_expect(total_s >= 300 && total_s <= 600, "guide lasts %.0f s, expected 5-10 min", total_s);
    for (int s = 0; s < nseg; s++) {
        double a, b;
        const char *group;
        cr_assert_not_null(rm_vmat_segment(vm, s, &group, &a, &b));
        cr_expect(b - a >= 60 && b - a <= 120, "segment %d (%s) lasts %.1f s", s, group, b - a);
    }
    rm_vmat_free(vm);
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *p = rm_test_path(dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

Test(vmat, pass_and_hold_timing)
{
    char *dir = rm_test_tmpdir("vmat-timing");
    char *path =
        write_file(dir, "timing.json",
                   "{\"rate_hz\": 100, \"segments\": [{\"label\": \"calves\", \"phases\": ["
                   "{\"roll\": {\"from_cm\": 20, \"to_cm\": 40, \"speed_cm_s\": 2.54}},"
                   "{\"hold\": {\"duration_s\": 25}},"
                   "{\"roll\": {\"from_cm\": 40, \"to_cm\": 20, \"speed_cm_s\": 2.54}}]}]}");
    rm_vmat *vm = open_vm(path, 3, 1.0, NULL);
    const double dt = 0.01;
    uint64_t n = rm_vmat_total_frames(vm), rolling = 0, holding = 0;
    double first_roll = -1;
    for (uint64_t i = 0; i < n; i++) {
        rm_vmat_truth t;
        rm_vmat_truth_frame(vm, i, &t);
        if (t.state == RM_VMAT_ROLLING) {
            rolling++;
            if (first_roll < 0)
                first_roll = t.time_s;
            cr_expect(fabs(fabs(t.speed_cm_s) - 2.54) < 1e-9);
        }
        holding += t.state == RM_VMAT_HOLDING;
    }
    cr_expect(fabs(holding * dt - 25.0) <= dt + 1e-9, "hold lasts %.2f s", holding * dt);
    cr_expect(fabs(rolling * dt - 2 * 20 / 2.54) <= 2 * dt + 1e-9, "two passes last %.2f s",
              rolling * dt);
    /* the truth file says the same in its own words */
    char *tp = rm_test_path(dir, "truth.json");
    rm_err e = {0};
    cr_assert_eq(rm_vmat_write_truth(vm, tp, &e), RM_OK, "%s", e.msg);
    json_error_t je;
    json_t *root = json_load_file(tp, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    json_t *strokes = json_object_get(root, "strokes"), *holds = json_object_get(root, "holds");
    cr_assert_eq(json_array_size(strokes), 2);
    cr_assert_eq(json_array_size(holds), 1);
    json_t *s0 = json_array_get(strokes, 0), *h0 = json_array_get(holds, 0);
    double pass = json_number_value(json_object_get(s0, "end_s")) -
                  json_number_value(json_object_get(s0, "start_s"));
    cr_expect(fabs(pass - 7.874) <= dt, "pass takes %.3f s", pass);
    cr_expect(fabs(json_number_value(json_object_get(s0, "from_x_cm")) - 20) < 1e-6);
    cr_expect(fabs(json_number_value(json_object_get(s0, "to_x_cm")) - 40) < 1e-6);
    double hold = json_number_value(json_object_get(h0, "end_s")) -
                  json_number_value(json_object_get(h0, "start_s"));
    cr_expect(fabs(hold - 25) <= dt, "hold takes %.3f s", hold);
    cr_expect(fabs(json_number_value(json_object_get(h0, "x_cm")) - 40) < 1e-6);
    json_t *series = json_object_get(root, "series");
    cr_assert_eq(json_array_size(json_object_get(series, "roller_x_cm")), n);
    cr_assert_eq(json_array_size(json_object_get(series, "state")), n);
    cr_assert_eq(json_integer_value(json_object_get(root, "frames")), (json_int_t)n);
    cr_assert_eq(json_array_size(json_object_get(root, "segments")), 1);
    json_decref(root);
    rm_vmat_free(vm);
    rm_test_rmtree(dir);
    free(tp);
    free(path);
    free(dir);
}

Test(vmat, calibration_inverts_the_sensor)
{
    rm_vmat *vm = open_vm("guide", 4, 0.05, NULL);
    const rm_calib *cal = rm_vmat_calib(vm);
    const rm_info *info = rm_vmat_info(vm);
    size_t blen;
    const uint8_t *blob = rm_vmat_calib_blob(vm, &blen);
    cr_assert_eq(blen, info->calib_len);
    rm_calib *dec = NULL;
    rm_err e = {0};
    uint32_t crc = info->calib_crc32;
    cr_assert_eq(rm_calib_decode(blob, blen, 64, 48, &crc, &dec, &e), RM_OK, "%s", e.msg);
    uint8_t ib[RM_INFO_LEN];
    rm_info back;
    rm_info_encode(info, ib);
    cr_assert_eq(rm_info_decode(ib, sizeof ib, &back, &e), RM_OK, "%s", e.msg);
    int checked = 0;
    for (unsigned r = 0; r < 64; r += 7)
        for (unsigned c = 0; c < 48; c += 5) {
            size_t i = r * 48 + c;
            cr_assert_eq(dec->zero[i], cal->zero[i]);
            for (double p = 0.5; p < 400; p *= 1.15) {
                uint16_t raw = rm_vmat_sensor_counts(vm, r, c, p);
                if (raw >= 4095)
                    break; /* saturated: outside the calibrated range */
                float kpa;
                int d = (int)raw - (int)dec->zero[i];
                kpa = dec->gain[i] * rm_calib_curve(dec, d > 0 ? (float)d : 0.0f);
                cr_expect(fabs(kpa - p) <= 0.03 * p + 0.02, "sensel (%u,%u) %.2f kPa -> %u -> %.2f",
                          r, c, p, raw, (double)kpa);
                checked++;
            }
        }
    cr_expect_gt(checked, 1000);
    rm_calib_free(dec);
    rm_vmat_free(vm);
}

Test(vmat, frames_are_realistic)
{
    /* noise about 3 counts RMS on an empty mat; the calibrated force of a
     * loaded frame is the simulated force */
    rm_vmat *vm = open_vm("guide", 9, 0.2, NULL);
    const rm_calib *cal = rm_vmat_calib(vm);
    uint16_t *raw = malloc(NS * sizeof *raw);
    float *kpa = malloc(NS * sizeof *kpa);
    rm_frame_header h;
    rm_vmat_truth t;
    cr_assert_eq(rm_vmat_next_frame(vm, &h, raw, &t), RM_OK);
    cr_assert_eq(t.state, RM_VMAT_UNLOADED);
    double s2 = 0;
    for (int i = 0; i < NS; i++)
        s2 += ((double)raw[i] - cal->zero[i]) * ((double)raw[i] - cal->zero[i]);
    double rms = sqrt(s2 / NS);
    cr_expect(rms > 2.5 && rms < 3.5, "noise %.2f counts RMS", rms);
    cr_expect_eq(h.seq, 0);
    cr_expect_eq(h.rows, 64);
    cr_expect_eq(h.cols, 48);
    uint64_t prev_t = h.t_device_us;
    int compared = 0;
    while (rm_vmat_next_frame(vm, &h, raw, &t) == RM_OK) {
        cr_assert_gt(h.t_device_us, prev_t);
        prev_t = h.t_device_us;
        if (t.state == RM_VMAT_UNLOADED || h.seq % 50)
            continue;
        rm_calib_pressure(cal, raw, kpa);
        double f = 0;
        for (int i = 0; i < NS; i++)
            if (kpa[i] > 0.5f) /* above the noise floor */
                f += kpa[i] * 1000.0 * 0.0127 * 0.0127;
        double want = t.roller_force_n + t.support_force_n;
        cr_expect(fabs(f - want) < 0.06 * want, "frame %u: %.1f N measured, %.1f N simulated",
                  h.seq, f, want);
        compared++;
    }
    cr_expect_gt(compared, 20);
    free(raw);
    free(kpa);
    rm_vmat_free(vm);
}

Test(vmat, device_clock_drifts)
{
    rm_vmat *vm = open_vm("rushed", 1, 0.1, NULL);
    uint64_t n = rm_vmat_total_frames(vm);
    rm_frame_header h;
    uint64_t t0 = 0, t1 = 0, last = 0;
    uint16_t *raw = malloc(NS * sizeof *raw);
    for (uint64_t i = 0; rm_vmat_next_frame(vm, &h, raw, NULL) == RM_OK; i++) {
        if (i == 0)
            t0 = h.t_device_us;
        last = i;
        t1 = h.t_device_us;
    }
    cr_assert_eq(last + 1, n);
    double host = (double)last / 100.0 * 1e6;
    double ppm = ((double)(t1 - t0) - host) / host * 1e6;
    cr_expect(ppm > 30 && ppm < 50, "drift %.1f ppm, expected about +40", ppm);
    free(raw);
    rm_vmat_free(vm);
}

Test(vmat, saturation_dead_and_hot_sensels)
{
    rm_vmat *vm = open_vm("faulty", 1, 0.02, &(rm_vmat_faults){0});
    uint16_t *raw = malloc(NS * sizeof *raw);
    rm_frame_header h;
    int frames = 0;
    while (rm_vmat_next_frame(vm, &h, raw, NULL) == RM_OK) {
        cr_expect(h.flags & RM_FLAG_SATURATED, "a hot sensel reads full scale");
        cr_expect_eq(raw[20 * 48 + 10], 0, "dead sensel");
        cr_expect_eq(raw[5 * 48 + 40], 4095, "hot sensel");
        frames++;
    }
    cr_expect_gt(frames, 0);
    cr_expect_eq(rm_vmat_sensor_counts(vm, 20, 10, 100.0), 0);
    cr_expect_eq(rm_vmat_sensor_counts(vm, 5, 40, 0.0), 4095);
    free(raw);
    rm_vmat_free(vm);
}

Test(vmat, rate_changes)
{
    rm_vmat *vm = open_vm("rushed", 1, 0.1, NULL);
    uint64_t n100 = rm_vmat_total_frames(vm);
    cr_expect_eq(rm_vmat_set_rate(vm, 9), RM_ERR_RANGE);
    cr_expect_eq(rm_vmat_set_rate(vm, 1001), RM_ERR_RANGE);
    cr_assert_eq(rm_vmat_set_rate(vm, 1000), RM_OK);
    uint64_t n1000 = rm_vmat_total_frames(vm);
    cr_expect(n1000 >= 10 * n100 - 10 && n1000 <= 10 * n100 + 10, "%llu vs %llu",
              (unsigned long long)n1000, (unsigned long long)n100);
    cr_expect_eq(rm_vmat_info(vm)->rate_hz, 1000);
    rm_device dev;
    rm_vmat_device(vm, &dev);
    cr_expect_eq(dev.rate_hz, 1000.0);
    cr_expect_eq(dev.vid, RM_USB_VID);
    rm_frame_header h;
    uint16_t *raw = malloc(NS * sizeof *raw);
    cr_assert_eq(rm_vmat_next_frame(vm, &h, raw, NULL), RM_OK);
    cr_expect_eq(rm_vmat_set_rate(vm, 100), RM_ERR_STATE);
    free(raw);
    rm_vmat_free(vm);
}

static void expect_bad(const char *dir, const char *name, const char *text, rm_status want,
                       const char *needle)
{
    char *p = write_file(dir, name, text);
    rm_vmat_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.scenario = p;
    rm_vmat *vm = NULL;
    rm_err e = {0};
    rm_status st = rm_vmat_new(&cfg, &vm, &e);
    cr_expect_eq(st, want, "%s: got %s (%s)", name, rm_status_name(st), e.msg);
    cr_expect_null(vm);
    cr_expect(strstr(e.msg, name) != NULL, "%s: message does not name the file: %s", name, e.msg);
    cr_expect(strstr(e.msg, needle) != NULL, "%s: message lacks '%s': %s", name, needle, e.msg);
    free(p);
}

#define SEG_OK                                                                                     \
    "\"segments\": [{\"label\": \"quads\", \"phases\": [{\"hold\": {\"at_cm\": 30, \"duration_s\": 2}}]}]"

Test(vmat, bad_scenarios_give_named_errors)
{
    char *dir = rm_test_tmpdir("vmat-bad");
    expect_bad(dir, "syntax.json", "{\"segments\": [", RM_ERR_FORMAT, "line");
    expect_bad(dir, "array.json", "[]", RM_ERR_FORMAT, "root");
    expect_bad(dir, "noseg.json", "{\"title\": \"x\"}", RM_ERR_FORMAT, "segments");
    expect_bad(dir, "emptyseg.json", "{\"segments\": []}", RM_ERR_FORMAT, "segments");
    expect_bad(dir, "rate.json", "{\"rate_hz\": 5, " SEG_OK "}", RM_ERR_RANGE, "rate_hz");
    expect_bad(dir, "ratetype.json", "{\"rate_hz\": \"fast\", " SEG_OK "}", RM_ERR_FORMAT,
               "rate_hz");
    expect_bad(dir, "typo.json", "{\"rate_hz\": 100, \"subjekt\": {}, " SEG_OK "}", RM_ERR_FORMAT,
               "subjekt");
    expect_bad(dir, "mass.json", "{\"subject\": {\"body_mass_kg\": -3}, " SEG_OK "}", RM_ERR_RANGE,
               "subject.body_mass_kg");
    expect_bad(dir, "speed.json",
               "{\"segments\": [{\"label\": \"calves\", \"phases\": [{\"roll\": {\"from_cm\": 20, "
               "\"to_cm\": 40, \"speed_cm_s\": -1}}]}]}",
               RM_ERR_RANGE, "segments[0].phases[0].roll.speed_cm_s");
    expect_bad(dir, "nospeed.json",
               "{\"segments\": [{\"label\": \"calves\", \"phases\": [{\"roll\": {\"from_cm\": 20, "
               "\"to_cm\": 40}}]}]}",
               RM_ERR_FORMAT, "segments[0].phases[0].roll.speed_cm_s");
    expect_bad(dir, "offmat.json",
               "{\"segments\": [{\"label\": \"calves\", \"phases\": [{\"roll\": {\"from_cm\": 20, "
               "\"to_cm\": 120, \"speed_cm_s\": 2}}]}]}",
               RM_ERR_RANGE, "segments[0].phases[0].roll.to_cm");
    expect_bad(
        dir, "group.json",
        "{\"segments\": ["
        "{\"label\": \"quads\", \"phases\": [{\"lift\": {\"duration_s\": 1}}, "
        "{\"hold\": {\"at_cm\": 30, \"duration_s\": 2}}]}, "
        "{\"label\": \"biceps\", \"phases\": [{\"hold\": {\"at_cm\": 30, \"duration_s\": 2}}]}]}",
        RM_ERR_VALUE, "segments[1].label");
    expect_bad(dir, "phase.json",
               "{\"segments\": [{\"label\": \"glutes\", \"phases\": [{\"jump\": {}}]}]}",
               RM_ERR_FORMAT, "segments[0].phases[0]");
    expect_bad(
        dir, "liftonly.json",
        "{\"segments\": [{\"label\": \"glutes\", \"phases\": [{\"lift\": {\"duration_s\": 3}}]}]}",
        RM_ERR_VALUE, "segments[0].phases");
    expect_bad(
        dir, "hold.json",
        "{\"segments\": [{\"label\": \"glutes\", \"phases\": [{\"hold\": {\"duration_s\": 3}}]}]}",
        RM_ERR_FORMAT, "segments[0].phases[0].hold.at_cm");
    expect_bad(dir, "dead.json", "{\"sensor\": {\"dead\": [[64, 0]]}, " SEG_OK "}", RM_ERR_RANGE,
               "sensor.dead[0]");
    expect_bad(dir, "faults.json", "{\"faults\": {\"drop_rate\": 0.9}, " SEG_OK "}", RM_ERR_RANGE,
               "faults.drop_rate");
    /* a missing file, by path and by name */
    rm_vmat_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *missing = rm_test_path(dir, "missing.json");
    cfg.scenario = missing;
    rm_vmat *vm = NULL;
    rm_err e = {0};
    cr_expect_eq(rm_vmat_new(&cfg, &vm, &e), RM_ERR_NOT_FOUND);
    cr_expect(strstr(e.msg, "missing.json") != NULL, "%s", e.msg);
    cfg.scenario = "no-such-scenario";
    cr_expect_eq(rm_vmat_new(&cfg, &vm, &e), RM_ERR_NOT_FOUND);
    cr_expect(strstr(e.msg, "no-such-scenario.json") != NULL, "%s", e.msg);
    /* bad configuration */
    cfg.scenario = "guide";
    cfg.rate_hz = 5;
    cr_expect_eq(rm_vmat_new(&cfg, &vm, &e), RM_ERR_RANGE);
    cfg.rate_hz = 0;
    cfg.time_scale = -1;
    cr_expect_eq(rm_vmat_new(&cfg, &vm, &e), RM_ERR_RANGE);
    cr_expect_null(vm);
    free(missing);
    rm_test_rmtree(dir);
    free(dir);
}

Test(vmat, scenario_names_resolve)
{
    char buf[512];
    const char *p = rm_vmat_scenario_path("guide", buf, sizeof buf);
    cr_expect(strstr(p, "guide.json") != NULL, "%s", p);
    FILE *f = fopen(p, "r");
    cr_expect_not_null(f, "%s not found", p);
    if (f)
        fclose(f);
    cr_expect_str_eq(rm_vmat_scenario_path("dir/x.json", buf, sizeof buf), "dir/x.json");
    cr_expect_str_eq(rm_vmat_scenario_path("x.json", buf, sizeof buf), "x.json");
    const char *names[] = {"guide", "rushed", "behm2020", "faulty"};
    for (int i = 0; i < 4; i++) {
        rm_vmat *vm = open_vm(names[i], 1, 0.01, NULL);
        cr_expect_gt(rm_vmat_total_frames(vm), 0);
        rm_vmat_free(vm);
    }
}

Test(vmat, roller_contact_is_where_the_truth_says)
{
    /* The calibrated pressure near the truth's roller line has its centre
     * at roller_x_cm / roller_y_cm: the truth describes the map. */
    rm_vmat *vm = open_vm("guide", 21, 0.1, NULL);
    const rm_calib *cal = rm_vmat_calib(vm);
    uint16_t *raw = malloc(NS * sizeof *raw);
    float *kpa = malloc(NS * sizeof *kpa);
    rm_frame_header h;
    rm_vmat_truth t;
    int checked = 0;
    const double pitch = 1.27;
    while (rm_vmat_next_frame(vm, &h, raw, &t) == RM_OK) {
        if (t.state == RM_VMAT_UNLOADED || t.roller_force_n < 100 || h.seq % 25)
            continue;
        rm_calib_pressure(cal, raw, kpa);
        double w = 0, wx = 0, wy = 0;
        for (int r = 0; r < 64; r++) {
            double x = (r + 0.5) * pitch;
            if (fabs(x - t.roller_x_cm) > 5.0)
                continue;
            for (int c = 0; c < 48; c++)
                if (kpa[r * 48 + c] > 0.5f) {
                    w += kpa[r * 48 + c];
                    wx += kpa[r * 48 + c] * x;
                    wy += kpa[r * 48 + c] * (c + 0.5) * pitch;
                }
        }
        cr_assert_gt(w, 0);
        cr_expect(fabs(wx / w - t.roller_x_cm) < 0.5, "frame %u: x %.2f vs truth %.2f", h.seq,
                  wx / w, t.roller_x_cm);
        cr_expect(fabs(wy / w - t.roller_y_cm) < 0.8, "frame %u: y %.2f vs truth %.2f", h.seq,
                  wy / w, t.roller_y_cm);
        checked++;
    }
    cr_expect_gt(checked, 50);
    free(raw);
    free(kpa);
    rm_vmat_free(vm);
}

Test(vmat, scenario_dir_from_environment)
{
    char *dir = rm_test_tmpdir("vmat-env");
    char *p = write_file(dir, "mine.json",
                         "{\"title\": \"mine\", \"segments\": [{\"label\": \"glutes\", \"phases\": "
                         "[{\"hold\": {\"at_cm\": 40, \"duration_s\": 1}}]}]}");
    setenv("ROLLMAT_SCENARIO_DIR", dir, 1);
    char buf[512];
    cr_expect_str_eq(rm_vmat_scenario_path("mine", buf, sizeof buf), p);
    rm_vmat *vm = open_vm("mine", 1, 1.0, NULL);
    rm_header hdr;
    rm_vmat_header(vm, &hdr);
    cr_expect_str_eq(hdr.title, "mine");
    cr_expect_str_eq(hdr.source, "vmat");
    /* lead-in 3 s + 1 s hold + lead-out 3 s at 100 Hz */
    cr_expect_eq(rm_vmat_total_frames(vm), 700);
    rm_vmat_free(vm);
    unsetenv("ROLLMAT_SCENARIO_DIR");
    rm_test_rmtree(dir);
    free(p);
    free(dir);
}

/* START of a new acquisition (rm_vmat_restart_seq): only the numbering, the
 * overrun flag and GET_STATUS start over; the frames (content, device
 * clock, faults) are those of a mat that never restarted. */
Test(vmat, restart_seq_restarts_numbering_only)
{
    rm_vmat_faults f = {.drop_rate = 0.2};
    rm_vmat *vm = open_vm("rushed", 5, 0.03, &f);
    rm_vmat *twin = open_vm("rushed", 5, 0.03, &f);
    rm_frame_header h, t;
    uint16_t *raw = malloc(NS * sizeof *raw), *traw = malloc(NS * sizeof *traw);
    cr_assert(raw && traw);
    uint64_t base = 0, n = 0;
    int restarted = 0, after_drop = 0, first = 1;
    while (rm_vmat_next_frame(twin, &t, traw, NULL) == RM_OK) {
        cr_assert_eq(rm_vmat_next_frame(vm, &h, raw, NULL), RM_OK);
        cr_expect_eq(h.seq, (uint32_t)(n - base), "frame %llu", (unsigned long long)n);
        cr_expect_eq(h.t_device_us, t.t_device_us, "the device clock goes on");
        cr_expect_arr_eq(raw, traw, NS * sizeof *raw);
        cr_expect_eq(h.flags & ~RM_FLAG_DROPPED_BEFORE, t.flags & ~RM_FLAG_DROPPED_BEFORE);
        if (first)
            cr_expect_eq(h.flags & RM_FLAG_DROPPED_BEFORE, 0, "a new acquisition starts clean");
        else
            cr_expect_eq(h.flags & RM_FLAG_DROPPED_BEFORE, t.flags & RM_FLAG_DROPPED_BEFORE);
        cr_expect_eq(rm_vmat_last_fault(vm), rm_vmat_last_fault(twin), "fault draws go on");
        n++;
        first = 0;
        /* restart every 50 frames, and right after the first few drops
         * (whose DROPPED_BEFORE the next frame must not carry) */
        int drop = rm_vmat_last_fault(vm) == RM_VMAT_FAULT_DROP && after_drop < 3;
        if (n % 50 == 0 || drop) {
            after_drop += drop;
            rm_vmat_restart_seq(vm);
            base = n;
            first = 1;
            restarted++;
        }
    }
    cr_expect_eq(after_drop, 3, "restarts after drops were exercised");
    cr_expect_gt(restarted, 5);
    cr_expect_eq(rm_vmat_next_frame(vm, &h, raw, NULL), RM_ERR_NOT_FOUND, "same length");
    rm_vmat_counts a, b;
    rm_vmat_get_counts(vm, &a);
    rm_vmat_get_counts(twin, &b);
    cr_expect_eq(a.frames_produced, n, "frames_produced counts over all acquisitions");
    cr_expect_eq(a.frames_produced, b.frames_produced);
    free(raw);
    free(traw);
    rm_vmat_free(vm);
    rm_vmat_free(twin);
}

/* The byte stream over restarts: fault counts stay exact (equal to a mat
 * that never restarted), GET_STATUS counts from the last START. */
Test(vmat, restart_seq_keeps_stream_counts_exact)
{
    rm_vmat_faults f = {
        .corrupt_rate = 0.02, .truncate_rate = 0.02, .garbage_rate = 0.05, .drop_rate = 0.02};
    rm_vmat *vm = open_vm("faulty", 3, 0.05, &f);
    rm_vmat *twin = open_vm("faulty", 3, 0.05, &f);
    size_t tlen = 0;
    uint8_t *tb = read_all(twin, &tlen);
    uint8_t *buf = malloc(5000);
    cr_assert_not_null(buf);
    size_t len = 0, got;
    int chunks = 0;
    rm_vmat_counts at = {0}, k;
    while ((got = rm_vmat_read_stream(vm, buf, 5000)) > 0) {
        len += got;
        if (++chunks % 40 == 0) {
            rm_vmat_restart_seq(vm);
            rm_vmat_get_counts(vm, &at);
        }
        rm_dev_status ds;
        rm_vmat_dev_status(vm, &ds);
        rm_vmat_get_counts(vm, &k);
        cr_assert_eq(ds.frames_sent,
                     (k.frames_sent + k.frames_corrupt + k.frames_truncated) -
                         (at.frames_sent + at.frames_corrupt + at.frames_truncated));
        cr_assert_eq(ds.frames_dropped, k.frames_dropped - at.frames_dropped);
    }
    cr_assert_gt(chunks, 80);
    cr_expect_eq(len, tlen, "same bytes sent, only seq and CRC differ");
    rm_vmat_counts b;
    rm_vmat_get_counts(twin, &b);
    cr_expect_eq(k.frames_produced, b.frames_produced);
    cr_expect_eq(k.frames_sent, b.frames_sent);
    cr_expect_eq(k.frames_corrupt, b.frames_corrupt);
    cr_expect_eq(k.frames_truncated, b.frames_truncated);
    cr_expect_eq(k.frames_dropped, b.frames_dropped);
    cr_expect_eq(k.garbage_insertions, b.garbage_insertions);
    cr_expect_eq(k.garbage_bytes, b.garbage_bytes);
    cr_expect_gt(k.frames_dropped, 0);
    cr_expect_eq(k.frames_sent + k.frames_corrupt + k.frames_truncated + k.frames_dropped,
                 k.frames_produced);
    free(buf);
    free(tb);
    rm_vmat_free(vm);
    rm_vmat_free(twin);
}

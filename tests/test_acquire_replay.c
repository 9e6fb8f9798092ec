/* test_acquire_replay.c - the virtual mat's byte stream (faults injected)
 * recorded with `rollmat record --replay`: the recording's events and
 * totals equal what the model injected, and its frames are exactly the
 * frames the model sent intact. Also the ring, clock fit and the recorder
 * pipeline in-process. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_capture.h"
#include "rm_clock.h"
#include "rm_decoder.h"
#include "rm_proto.h"
#include "rm_recorder.h"
#include "rm_session.h"
#include "rm_source.h"
#include "rm_vmat.h"
#include "test_util.h"

static const char *rollmat(void)
{
    const char *p = getenv("ROLLMAT");
    return p ? p : RM_BUILD_DIR "/cli/rollmat";
}

static rm_vmat *make_vmat(const rm_vmat_faults *faults, uint64_t seed)
{
    rm_vmat_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.scenario = "guide";
    cfg.seed = seed;
    cfg.time_scale = 0.05;
    cfg.fault_override = 1;
    if (faults)
        cfg.faults = *faults;
    rm_vmat *vm = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_vmat_new(&cfg, &vm, &e), RM_OK, "%s", e.msg);
    return vm;
}

/* Writes the whole stream of `vm` to `path` in odd-sized pieces. */
static void write_stream(rm_vmat *vm, const char *path)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint8_t buf[7777];
    size_t n;
    while ((n = rm_vmat_read_stream(vm, buf, sizeof buf)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* Collects the frames a clean decode of `path` yields (the reference). */
typedef struct ref_frames {
    size_t n, cap, sensels;
    uint32_t *seq;
    uint16_t *raw;
} ref_frames;

static rm_status ref_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    (void)err;
    ref_frames *r = ctx;
    if (pkt->type != RM_PKT_FRAME)
        return RM_OK;
    const rm_frame *f = pkt->u.frame;
    r->sensels = (size_t)f->rows * f->cols;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->seq = realloc(r->seq, r->cap * sizeof *r->seq);
        r->raw = realloc(r->raw, r->cap * r->sensels * sizeof *r->raw);
        cr_assert(r->seq && r->raw);
    }
    r->seq[r->n] = f->seq;
    memcpy(r->raw + r->n * r->sensels, f->raw, r->sensels * sizeof *r->raw);
    r->n++;
    return RM_OK;
}

Test(acquire_replay, fault_counts_exact_and_frames_equal, .timeout = 300)
{
    rm_vmat_faults faults = {
        .corrupt_rate = 0.01, .truncate_rate = 0.01, .garbage_rate = 0.02, .drop_rate = 0.005};
    rm_vmat *vm = make_vmat(&faults, 7);
    char *dir = rm_test_tmpdir("replay");
    char *stream = rm_test_path(dir, "s.bin");
    char *h5 = rm_test_path(dir, "r.h5");
    char *cap = rm_test_path(dir, "cap.bin");
    write_stream(vm, stream);
    rm_vmat_counts cnt;
    rm_vmat_get_counts(vm, &cnt);
    cr_assert_gt(cnt.frames_corrupt, 0);
    cr_assert_gt(cnt.frames_truncated, 0);
    cr_assert_gt(cnt.frames_dropped, 0);
    cr_assert_gt(cnt.garbage_bytes, 0);

    int rc = rm_test_system("'%s' record --replay '%s' --capture '%s' -o '%s' --label calves -q "
                            "> '%s/out.txt' 2>&1",
                            rollmat(), stream, cap, h5, dir);
    cr_assert_eq(rc, 0, "rollmat record --replay failed (see %s/out.txt)", dir);

    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    size_t nev = rm_session_event_count(s);
    uint64_t corrupt = 0, truncated = 0, gap_frames = 0, garbage = 0, labels = 0, garbage_runs = 0;
    for (size_t i = 0; i < nev; i++) {
        rm_event ev;
        cr_assert_eq(rm_session_event(s, i, &ev), RM_OK);
        if (!strcmp(ev.kind, RM_EVENT_CORRUPT))
            corrupt += (uint64_t)ev.value;
        else if (!strcmp(ev.kind, RM_EVENT_TRUNCATED))
            truncated++;
        else if (!strcmp(ev.kind, RM_EVENT_GAP))
            gap_frames += (uint64_t)ev.value;
        else if (!strcmp(ev.kind, RM_EVENT_NOTE) && !strncmp(ev.text, "garbage", 7)) {
            garbage += (uint64_t)ev.value;
            garbage_runs++;
        } else if (!strcmp(ev.kind, RM_EVENT_LABEL) && !strcmp(ev.text, "calves"))
            labels++;
    }
    cr_assert_eq(corrupt, cnt.frames_corrupt, "corrupt %llu, injected %llu",
                 (unsigned long long)corrupt, (unsigned long long)cnt.frames_corrupt);
    cr_assert_eq(truncated, cnt.frames_truncated, "truncated %llu, injected %llu",
                 (unsigned long long)truncated, (unsigned long long)cnt.frames_truncated);
    cr_assert_eq(garbage, cnt.garbage_bytes, "garbage %llu, injected %llu",
                 (unsigned long long)garbage, (unsigned long long)cnt.garbage_bytes);
    /* Every frame the model produced and did not send intact is missing. */
    cr_assert_eq(gap_frames, cnt.frames_dropped + cnt.frames_corrupt + cnt.frames_truncated,
                 "gap frames %llu, dropped %llu + corrupt %llu + truncated %llu",
                 (unsigned long long)gap_frames, (unsigned long long)cnt.frames_dropped,
                 (unsigned long long)cnt.frames_corrupt, (unsigned long long)cnt.frames_truncated);
    cr_assert_eq(garbage_runs, cnt.garbage_insertions);
    cr_assert_eq(labels, 1);
    cr_assert_eq(rm_session_frames(s), cnt.frames_sent);

    /* The frames are the intact ones, bit for bit: compare with an
     * independent decode of the same bytes. */
    ref_frames ref = {0};
    rm_sink rs = {.ctx = &ref, .receive = ref_receive};
    rm_decoder_config dc = {.sink = &rs};
    rm_decoder *dec = NULL;
    cr_assert_eq(rm_decoder_new(&dc, &dec, NULL), RM_OK);
    uint8_t *bytes = NULL;
    size_t len = 0;
    cr_assert_eq(rm_test_read_file(stream, &bytes, &len), 0);
    cr_assert_eq(rm_decoder_feed(dec, bytes, len, NULL), RM_OK);
    cr_assert_eq(rm_decoder_finish(dec, NULL), RM_OK);
    rm_decoder_free(dec);
    cr_assert_eq(ref.n, cnt.frames_sent);
    const rm_device *dev = rm_session_device(s);
    size_t ns = (size_t)dev->rows * dev->cols;
    cr_assert_eq(ns, ref.sensels);
    uint16_t *raw = malloc(ref.n * ns * sizeof *raw);
    uint32_t *seq = malloc(ref.n * sizeof *seq);
    cr_assert_eq(rm_session_read(s, 0, ref.n, raw, NULL, seq, NULL, NULL, &e), RM_OK, "%s", e.msg);
    cr_assert_arr_eq(seq, ref.seq, ref.n * sizeof *seq);
    cr_assert_arr_eq(raw, ref.raw, ref.n * ns * sizeof *raw);
    rm_session_close(s);

    /* The capture tee holds the exact bytes that were read. */
    uint8_t *capb = NULL;
    size_t caplen = 0;
    cr_assert_eq(rm_test_read_file(cap, &capb, &caplen), 0);
    cr_assert_eq(caplen, len);
    cr_assert_arr_eq(capb, bytes, len);

    /* Refuses to overwrite the recording. */
    rc = rm_test_system("'%s' record --replay '%s' -o '%s' -q > /dev/null 2>&1", rollmat(), stream,
                        h5);
    cr_assert_eq(rc, 1);

    free(capb);
    free(bytes);
    free(raw);
    free(seq);
    free(ref.seq);
    free(ref.raw);
    rm_vmat_free(vm);
    rm_test_rmtree(dir);
    free(stream);
    free(h5);
    free(cap);
    free(dir);
}

Test(acquire_replay, duration_limits_the_recording, .timeout = 120)
{
    rm_vmat *vm = make_vmat(NULL, 3);
    char *dir = rm_test_tmpdir("replay-dur");
    char *stream = rm_test_path(dir, "s.bin");
    char *h5 = rm_test_path(dir, "r.h5");
    write_stream(vm, stream);
    rm_vmat_counts cnt;
    rm_vmat_get_counts(vm, &cnt);
    int rc = rm_test_system("'%s' record --replay '%s' -o '%s' --duration 1 -q > /dev/null",
                            rollmat(), stream, h5);
    cr_assert_eq(rc, 0);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    uint64_t n = rm_session_frames(s);
    cr_assert_lt(n, cnt.frames_sent);
    double t = 0;
    cr_assert_eq(rm_session_read(s, n - 1, 1, NULL, &t, NULL, NULL, NULL, &e), RM_OK);
    cr_assert_geq(t, 1.0);
    rm_session_close(s);
    rm_vmat_free(vm);
    rm_test_rmtree(dir);
    free(stream);
    free(h5);
    free(dir);
}

Test(acquire_replay, bad_inputs_give_one_line_errors)
{
    char *dir = rm_test_tmpdir("replay-bad");
    char *junk = rm_test_path(dir, "junk.bin");
    FILE *f = fopen(junk, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 5000; i++)
        fputc(i * 7 % 251, f);
    fclose(f);
    int rc = rm_test_system("'%s' record --replay '%s' -o '%s/x.h5' -q 2> '%s/err.txt'", rollmat(),
                            junk, dir, dir);
    cr_assert_eq(rc, 1);
    char *errp = rm_test_path(dir, "err.txt");
    uint8_t *msg = NULL;
    size_t len = 0;
    cr_assert_eq(rm_test_read_file(errp, &msg, &len), 0);
    cr_assert(len > 0 && memmem(msg, len, "no valid RM-1 frame", 19), "%.*s", (int)len, msg);
    rc = rm_test_system("'%s' record --replay '%s/missing.bin' -o '%s/y.h5' -q 2>/dev/null",
                        rollmat(), dir, dir);
    cr_assert_eq(rc, 1);
    rc = rm_test_system("'%s' record --replay '%s' -o '%s/no/such/dir.h5' -q > '%s/out.txt' "
                        "2> '%s/err.txt'",
                        rollmat(), junk, dir, dir, dir);
    cr_assert_eq(rc, 1);
    free(msg);
    cr_assert_eq(rm_test_read_file(errp, &msg, &len), 0);
    cr_assert(len > 0 && memmem(msg, len, "cannot create it in", 19), "%.*s", (int)len, msg);
    rc = rm_test_system("'%s' record --rate abc -o '%s/z.h5' 2>/dev/null", rollmat(), dir);
    cr_assert_eq(rc, 2);
    rc = rm_test_system("'%s' record 2>/dev/null", rollmat());
    cr_assert_eq(rc, 2);
    free(msg);
    free(errp);
    rm_test_rmtree(dir);
    free(junk);
    free(dir);
}

/* ---- ring and recorder ---- */

typedef struct slow_sink {
    pthread_mutex_t *gate; /* held by the test to stall the writer thread */
    uint64_t frames, events, overrun_frames;
    int header, device, end, finished;
    uint32_t last_seq;
    int order_ok;
} slow_sink;

static rm_status slow_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    (void)err;
    slow_sink *s = ctx;
    switch (pkt->type) {
    case RM_PKT_HEADER: s->header++; break;
    case RM_PKT_DEVICE: s->device++; break;
    case RM_PKT_FRAME:
        if (s->gate) {
            pthread_mutex_lock(s->gate);
            pthread_mutex_unlock(s->gate);
        }
        if (s->frames && pkt->u.frame->seq <= s->last_seq)
            s->order_ok = 0;
        s->last_seq = pkt->u.frame->seq;
        s->frames++;
        break;
    case RM_PKT_EVENT:
        s->events++;
        if (!strcmp(pkt->u.event->kind, RM_EVENT_OVERRUN))
            s->overrun_frames += (uint64_t)pkt->u.event->value;
        break;
    case RM_PKT_END: s->end++; break;
    default: break;
    }
    return RM_OK;
}

static rm_status slow_finish(void *ctx, rm_err *err)
{
    (void)err;
    ((slow_sink *)ctx)->finished++;
    return RM_OK;
}

Test(acquire_ring, full_ring_drops_and_records_overrun_never_blocks)
{
    /* The writer thread is held back by a sink that only runs after the
     * producer is done: a mutex the test holds. */
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&gate);
    slow_sink s = {.order_ok = 1, .gate = &gate};
    rm_sink sink = {.ctx = &s, .receive = slow_receive, .finish = slow_finish};
    rm_recorder_config cfg = {.ring_slots = 16, .rows = 2, .cols = 2};
    rm_recorder *rec = NULL;
    cr_assert_eq(rm_recorder_new(&cfg, &sink, 1, &rec, NULL), RM_OK);
    rm_header hdr = {0};
    rm_device dev = {.rows = 2, .cols = 2};
    cr_assert_eq(rm_recorder_begin(rec, &hdr, &dev, NULL, NULL), RM_OK);
    uint16_t raw[4] = {1, 2, 3, 4};
    const rm_sink *in = rm_recorder_sink(rec);
    uint64_t offered = 200000;
    for (uint32_t i = 0; i < offered; i++) {
        rm_frame f = {.seq = i, .rows = 2, .cols = 2, .raw = raw, .time_s = i * 1e-3};
        rm_packet p = {.type = RM_PKT_FRAME, .u.frame = &f};
        cr_assert_eq(in->receive(in->ctx, &p, NULL), RM_OK);
    }
    pthread_mutex_unlock(&gate);
    rm_end end = {0};
    cr_assert_eq(rm_recorder_end(rec, &end, NULL), RM_OK);
    rm_recorder_stats st;
    rm_recorder_get_stats(rec, &st);
    rm_recorder_free(rec);
    cr_assert_eq(s.header, 1);
    cr_assert_eq(s.device, 1);
    cr_assert_eq(s.end, 1);
    cr_assert_eq(s.finished, 1);
    cr_assert(s.order_ok);
    cr_assert_eq(st.frames_in, offered);
    /* Nothing is unaccounted for: written + dropped = offered, and every
     * dropped frame is in an overrun event. */
    cr_assert_eq(s.frames + st.overruns, offered);
    cr_assert_eq(s.overrun_frames, st.overruns);
    cr_assert_eq(st.frames_out, s.frames);
    cr_assert_leq(st.ring_high_water, 16 + 256);
    cr_assert_geq(st.overruns, offered - 16 - 256 - 1);
}

Test(acquire_ring, wait_mode_loses_nothing)
{
    slow_sink s = {.order_ok = 1};
    rm_sink sink = {.ctx = &s, .receive = slow_receive, .finish = slow_finish};
    rm_recorder_config cfg = {.ring_slots = 16, .rows = 2, .cols = 2, .wait_when_full = 1};
    rm_recorder *rec = NULL;
    cr_assert_eq(rm_recorder_new(&cfg, &sink, 1, &rec, NULL), RM_OK);
    rm_header hdr = {0};
    rm_device dev = {.rows = 2, .cols = 2};
    cr_assert_eq(rm_recorder_begin(rec, &hdr, &dev, NULL, NULL), RM_OK);
    uint16_t raw[4] = {1, 2, 3, 4};
    for (uint32_t i = 0; i < 100000; i++) {
        rm_frame f = {.seq = i, .rows = 2, .cols = 2, .raw = raw};
        rm_packet p = {.type = RM_PKT_FRAME, .u.frame = &f};
        cr_assert_eq(rm_recorder_sink(rec)->receive(rec, &p, NULL), RM_OK);
    }
    rm_end end = {0};
    cr_assert_eq(rm_recorder_end(rec, &end, NULL), RM_OK);
    rm_recorder_free(rec);
    cr_assert_eq(s.frames, 100000);
    cr_assert_eq(s.overrun_frames, 0);
    cr_assert(s.order_ok);
}

static rm_status failing_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    int *n = ctx;
    if (pkt->type == RM_PKT_FRAME && ++*n == 10)
        return rm_err_set(err, RM_ERR_NO_SPACE, "r.h5: disk full");
    return RM_OK;
}

Test(acquire_ring, sink_failure_reaches_the_producer)
{
    int n = 0;
    rm_sink sink = {.ctx = &n, .receive = failing_receive};
    rm_recorder_config cfg = {.ring_slots = 64, .rows = 1, .cols = 1, .wait_when_full = 1};
    rm_recorder *rec = NULL;
    cr_assert_eq(rm_recorder_new(&cfg, &sink, 1, &rec, NULL), RM_OK);
    rm_header hdr = {0};
    rm_device dev = {.rows = 1, .cols = 1};
    cr_assert_eq(rm_recorder_begin(rec, &hdr, &dev, NULL, NULL), RM_OK);
    uint16_t raw[1] = {5};
    rm_status st = RM_OK;
    rm_err e = {0};
    for (uint32_t i = 0; i < 1000000 && st == RM_OK; i++) {
        rm_frame f = {.seq = i, .rows = 1, .cols = 1, .raw = raw};
        rm_packet p = {.type = RM_PKT_FRAME, .u.frame = &f};
        st = rm_recorder_sink(rec)->receive(rec, &p, &e);
    }
    cr_assert_eq(st, RM_ERR_NO_SPACE);
    cr_assert_str_eq(e.msg, "r.h5: disk full");
    rm_end end = {0};
    cr_assert_eq(rm_recorder_end(rec, &end, &e), RM_ERR_NO_SPACE);
    rm_recorder_free(rec);
}

/* ---- clock fit ---- */

Test(acquire_clock, fit_recovers_offset_and_drift_under_jitter)
{
    rm_clock c;
    rm_clock_init(&c, 1.0, 60);
    const double drift = 80e-6; /* device runs 80 ppm fast */
    const double offset = 0.25; /* host seconds at device time dev0 */
    uint32_t x = 99;
    double worst = 0;
    for (int i = 0; i < 100 * 120; i++) { /* 120 s at 100 Hz */
        uint64_t dev_us = 5000000ull + (uint64_t)i * 10000ull;
        double true_host = offset + (double)(dev_us - 5000000ull) * 1e-6 / (1 + drift);
        x = x * 1664525u + 1013904223u;
        double jitter = 0.0005 + (x >> 8) / 16777216.0 * 0.008; /* 0.5..8.5 ms late */
        rm_clock_set_arrival(&c, true_host + jitter);
        double t = rm_clock_observe(&c, dev_us);
        if (i > 100 * 10) { /* after 10 s of fit */
            double errv = fabs(t - true_host);
            if (errv > worst)
                worst = errv;
        }
    }
    /* The envelope is within the smallest latency (0.5 ms) plus a little. */
    cr_assert_lt(worst, 0.0015, "worst error %.6f s", worst);
    cr_assert(fabs(c.b + drift) < 20e-6, "drift %.1f ppm, true %.1f", c.b * 1e6, -drift * 1e6);
}

Test(acquire_clock, never_goes_backwards_across_device_reset)
{
    rm_clock c;
    rm_clock_init(&c, 0, 0);
    double last = -1;
    for (int i = 0; i < 500; i++) {
        rm_clock_set_arrival(&c, i * 0.01 + 0.002);
        double t = rm_clock_observe(&c, 1000000ull + (uint64_t)i * 10000ull);
        cr_assert_geq(t, last);
        last = t;
    }
    rm_clock_device_reset(&c);
    for (int i = 0; i < 100; i++) {
        rm_clock_set_arrival(&c, 7.0 + i * 0.01 + 0.002);
        double t = rm_clock_observe(&c, 3000ull + (uint64_t)i * 10000ull);
        cr_assert_geq(t, last);
        last = t;
    }
    cr_assert(fabs(last - (7.0 + 99 * 0.01)) < 0.01, "last %.4f", last);
}

/* ---- capture sidecar ---- */

Test(acquire_capture, sidecar_round_trip_and_damage)
{
    char *dir = rm_test_tmpdir("sidecar");
    char *raw = rm_test_path(dir, "cap.bin");
    rm_device dev = {.vid = 0x1209,
                     .pid = 0x0042,
                     .serial = "LAB-7",
                     .model = "RM-1",
                     .firmware = "fw 2.1",
                     .protocol_version = 1,
                     .rows = 3,
                     .cols = 2,
                     .adc_bits = 12,
                     .row_pitch_mm = 12.7,
                     .col_pitch_mm = 10.0,
                     .rate_hz = 250};
    rm_calib *cal = NULL;
    cr_assert_eq(rm_calib_new(3, 2, &cal), RM_OK);
    cal->n_knots = 2;
    cal->knot_raw[0] = 10, cal->knot_raw[1] = 4000;
    cal->knot_kpa[0] = 0, cal->knot_kpa[1] = 200;
    for (int i = 0; i < 6; i++) {
        cal->zero[i] = (uint16_t)(i * 3);
        cal->gain[i] = 1.0f + i / 8.0f;
    }
    rm_err e = {0};
    rm_device back;
    rm_calib *cb = NULL;
    cr_assert_eq(rm_capture_read_device(raw, &back, &cb, &e), RM_ERR_NOT_FOUND);
    cr_assert_eq(rm_capture_write_device(raw, &dev, cal, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_capture_write_device(raw, &dev, cal, &e), RM_ERR_IO);
    cr_assert(strstr(e.msg, "refusing to overwrite"), "%s", e.msg);
    cr_assert_eq(rm_capture_read_device(raw, &back, &cb, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(back.vid, dev.vid);
    cr_assert_eq(back.pid, dev.pid);
    cr_assert_str_eq(back.serial, dev.serial);
    cr_assert_str_eq(back.firmware, dev.firmware);
    cr_assert_eq(back.rows, 3);
    cr_assert_eq(back.col_pitch_mm, 10.0);
    cr_assert_eq(back.rate_hz, 250);
    cr_assert_not_null(cb);
    cr_assert_eq(cb->n_knots, 2);
    cr_assert_arr_eq(cb->zero, cal->zero, 6 * sizeof *cal->zero);
    cr_assert_arr_eq(cb->gain, cal->gain, 6 * sizeof *cal->gain);
    rm_calib_free(cb);
    cb = NULL;

    /* One flipped byte: a named CRC error. */
    char *side = rm_test_path(dir, "cap.bin.dev");
    FILE *f = fopen(side, "r+b");
    cr_assert_not_null(f);
    fseek(f, 20, SEEK_SET);
    fputc('X', f);
    fclose(f);
    cr_assert_eq(rm_capture_read_device(raw, &back, &cb, &e), RM_ERR_CRC);
    cr_assert(strstr(e.msg, "cap.bin.dev") && strstr(e.msg, "CRC"), "%s", e.msg);
    cr_assert_null(cb);
    /* Not a sidecar at all. */
    f = fopen(side, "wb");
    fputs("hello", f);
    fclose(f);
    cr_assert_eq(rm_capture_read_device(raw, &back, &cb, &e), RM_ERR_MAGIC);

    rm_calib_free(cal);
    rm_test_rmtree(dir);
    free(side);
    free(raw);
    free(dir);
}

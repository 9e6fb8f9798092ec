/* test_session.c - the session file: round trips across chunk boundaries,
 * extras, events, the sink and replay, writer state rules. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_session.h"
#include "test_session_fixture.h"
#include "test_util.h"

#define R  7
#define C  5
#define PX (R * C)

static char *tmp_file(const char *tag, const char *name, char **dir)
{
    *dir = rm_test_tmpdir(tag);
    return rm_test_path(*dir, name);
}

static rm_session_writer *make_writer(const char *path, unsigned chunk, double flush_s)
{
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    rm_session_writer_options o = {
        .chunk_frames = chunk, .deflate_level = -1, .flush_interval_s = flush_s, .swmr = 1};
    rm_session_writer *w = NULL;
    rm_err e = {0};
    rm_status st = rm_session_writer_create(path, &h, &d, NULL, &o, &w, &e);
    cr_assert_eq(st, RM_OK, "create: %s", e.msg);
    return w;
}

/* Checks frames [first, first+n) of s against the fixture. */
static void check_window(rm_session *s, uint64_t first, size_t n)
{
    uint16_t *raw = malloc(n * PX * 2), *want = malloc(PX * 2);
    double *t = malloc(n * sizeof *t);
    uint32_t *seq = malloc(n * sizeof *seq);
    uint64_t *td = malloc(n * sizeof *td);
    uint16_t *fl = malloc(n * sizeof *fl);
    rm_err e = {0};
    rm_status st = rm_session_read(s, first, n, raw, t, seq, td, fl, &e);
    cr_assert_eq(st, RM_OK, "read %llu+%zu: %s", (unsigned long long)first, n, e.msg);
    for (size_t k = 0; k < n; k++) {
        uint64_t i = first + k;
        fx_frame(i, R, C, want);
        cr_assert(memcmp(raw + k * PX, want, PX * 2) == 0, "frame %llu differs",
                  (unsigned long long)i);
        cr_assert_eq(t[k], fx_time(i));
        cr_assert_eq(seq[k], fx_seq(i));
        cr_assert_eq(td[k], fx_tdev(i));
        cr_assert_eq(fl[k], fx_flags(i));
    }
    free(raw);
    free(want);
    free(t);
    free(seq);
    free(td);
    free(fl);
}

static void check_all_windows(const char *path, uint64_t total)
{
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "open: %s", e.msg);
    cr_assert_eq(rm_session_frames(s), total);
    cr_assert_eq(rm_session_is_live(s), 0);
    const size_t windows[] = {1, 3, 7, 16, 17, 33};
    for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
        for (uint64_t f = 0; f < total; f += windows[w])
            check_window(s, f, (size_t)(f + windows[w] <= total ? windows[w] : total - f));
    /* out of range is refused */
    uint16_t one[PX];
    cr_assert_eq(rm_session_read(s, total, 1, one, NULL, NULL, NULL, NULL, &e), RM_ERR_RANGE);
    rm_session_close(s);
}

Test(session, round_trip_single_appends)
{
    char *dir, *path = tmp_file("sess_single", "a.h5", &dir);
    rm_session_writer *w = make_writer(path, 16, 1000.0);
    uint16_t buf[PX];
    rm_err e = {0};
    for (uint64_t i = 0; i < 101; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
    }
    cr_assert_eq(rm_session_writer_frames(w), 101);
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    check_all_windows(path, 101);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(session, round_trip_batches)
{
    char *dir, *path = tmp_file("sess_batch", "b.h5", &dir);
    rm_session_writer *w = make_writer(path, 16, 1000.0);
    const size_t sizes[] = {1, 5, 40, 17, 16, 3, 50};
    uint64_t i = 0;
    rm_err e = {0};
    for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b++) {
        size_t n = sizes[b];
        uint16_t *raw = malloc(n * PX * 2);
        double *t = malloc(n * sizeof *t);
        uint32_t *seq = malloc(n * sizeof *seq);
        uint64_t *td = malloc(n * sizeof *td);
        uint16_t *fl = malloc(n * sizeof *fl);
        for (size_t k = 0; k < n; k++) {
            fx_frame(i + k, R, C, raw + k * PX);
            t[k] = fx_time(i + k);
            seq[k] = fx_seq(i + k);
            td[k] = fx_tdev(i + k);
            fl[k] = fx_flags(i + k);
        }
        cr_assert_eq(rm_session_writer_append_batch(w, n, seq, fl, td, t, raw, &e), RM_OK, "%s",
                     e.msg);
        i += n;
        free(raw);
        free(t);
        free(seq);
        free(td);
        free(fl);
    }
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    check_all_windows(path, i);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

/* Every append flushes (a tiny interval): partial chunks are rewritten
 * many times and must still read back equal. */
Test(session, round_trip_flush_every_frame)
{
    char *dir, *path = tmp_file("sess_flush", "c.h5", &dir);
    rm_session_writer *w = make_writer(path, 16, 1e-9);
    uint16_t buf[PX];
    rm_err e = {0};
    for (uint64_t i = 0; i < 45; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
        if (i % 10 == 3)
            cr_assert_eq(rm_session_writer_flush(w, &e), RM_OK, "%s", e.msg);
    }
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    check_all_windows(path, 45);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

static void iterate_and_check(const char *path, uint64_t first, unsigned threads, uint64_t total)
{
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
    rm_session_iter *it = NULL;
    cr_assert_eq(rm_session_iter_new(s, first, threads, &it, &e), RM_OK, "%s", e.msg);
    uint64_t next = first;
    uint16_t want[PX];
    for (;;) {
        rm_session_batch b;
        cr_assert_eq(rm_session_iter_next(it, &b, &e), RM_OK, "%s", e.msg);
        if (b.n == 0)
            break;
        cr_assert_eq(b.first, next);
        cr_assert_leq(b.n, rm_session_chunk_frames(s));
        for (size_t k = 0; k < b.n; k++) {
            fx_frame(b.first + k, R, C, want);
            cr_assert(memcmp(b.raw + k * PX, want, sizeof want) == 0, "frame %llu (threads %u)",
                      (unsigned long long)(b.first + k), threads);
            cr_assert_eq(b.time_s[k], fx_time(b.first + k));
            cr_assert_eq(b.seq[k], fx_seq(b.first + k));
        }
        next += b.n;
    }
    cr_assert_eq(next, total);
    rm_session_iter_free(it);
    rm_session_close(s);
}

Test(session, iterator_threads)
{
    char *dir, *path = tmp_file("sess_iter", "d.h5", &dir);
    rm_session_writer *w = make_writer(path, 16, 1000.0);
    uint16_t buf[PX];
    rm_err e = {0};
    for (uint64_t i = 0; i < 250; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
    }
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    for (unsigned th = 1; th <= 3; th++) {
        iterate_and_check(path, 0, th, 250);
        iterate_and_check(path, 37, th, 250);
    }
    iterate_and_check(path, 250, 2, 250);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(session, metadata_events_extras)
{
    char *dir, *path = tmp_file("sess_meta", "e.h5", &dir);
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    rm_calib *cal = NULL;
    cr_assert_eq(rm_calib_new(R, C, &cal), RM_OK);
    cal->n_knots = 3;
    cal->knot_raw[0] = 0;
    cal->knot_raw[1] = 100;
    cal->knot_raw[2] = 4000;
    cal->knot_kpa[0] = 0;
    cal->knot_kpa[1] = 5;
    cal->knot_kpa[2] = 300;
    for (int i = 0; i < PX; i++) {
        cal->zero[i] = (uint16_t)(10 + i);
        cal->gain[i] = 1.0f + 0.01f * (float)i;
    }
    rm_session_writer *w = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_writer_create(path, &h, &d, cal, NULL, &w, &e), RM_OK, "%s", e.msg);
    uint8_t mask[PX];
    for (int i = 0; i < PX; i++)
        mask[i] = (uint8_t)(i % 4 != 0);
    cr_assert_eq(rm_session_writer_set_mask(w, mask, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_writer_set_calib_note(w, "identity: imported kPa", &e), RM_OK);
    double ref[20];
    for (int i = 0; i < 20; i++)
        ref[i] = i * 1.5;
    cr_assert_eq(rm_session_writer_add_reference(w, "est_load", "N", "vendor load", 20, ref, &e),
                 RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_writer_add_reference(w, "bad name!", "N", "x", 20, ref, &e),
                 RM_ERR_ARG);
    uint16_t buf[PX];
    for (uint64_t i = 0; i < 20; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
        if (i == 4) {
            rm_event ev = {.time_s = fx_time(i), .kind = RM_EVENT_GAP, .value = 3};
            snprintf(ev.text, sizeof ev.text, "seq jumped");
            cr_assert_eq(rm_session_writer_add_event(w, &ev, &e), RM_OK, "%s", e.msg);
        }
    }
    rm_event lab = {.time_s = 0.2, .kind = RM_EVENT_LABEL, .value = 0, .text = "calf left"};
    cr_assert_eq(rm_session_writer_add_event(w, &lab, &e), RM_OK);
    /* no new objects once SWMR writing has started */
    cr_assert_eq(rm_session_writer_set_mask(w, mask, &e), RM_ERR_STATE);
    cr_assert(strstr(e.msg, "e.h5"), "%s", e.msg);
    cr_assert_eq(rm_session_writer_add_reference(w, "late", "N", "x", 20, ref, &e), RM_ERR_STATE);
    /* geometry must match */
    rm_frame bad = {.rows = R + 1, .cols = C, .raw = buf};
    cr_assert_eq(rm_session_writer_append(w, &bad, &e), RM_ERR_ARG);
    rm_end end = {.frames_ok = 20, .frames_corrupt = 2, .frames_missing = 3};
    cr_assert_eq(rm_session_writer_set_end(w, &end), RM_OK);
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);

    rm_session *s = NULL;
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
    const rm_header *rh = rm_session_header(s);
    cr_assert_str_eq(rh->title, h.title);
    cr_assert_str_eq(rh->created, h.created);
    cr_assert_eq(rh->created_unix, h.created_unix);
    cr_assert_str_eq(rh->subject_id, "S01");
    cr_assert_eq(rh->body_mass_kg, 72.5);
    cr_assert_str_eq(rh->subject_notes, "right calf");
    const rm_device *rd = rm_session_device(s);
    cr_assert_eq(rd->rows, R);
    cr_assert_eq(rd->cols, C);
    cr_assert_str_eq(rd->serial, d.serial);
    cr_assert_str_eq(rd->model, d.model);
    cr_assert_str_eq(rd->firmware, d.firmware);
    cr_assert_eq(rd->vid, d.vid);
    cr_assert_eq(rd->adc_bits, 12);
    cr_assert_eq(rd->col_pitch_mm, 12.5);
    cr_assert_eq(rd->rate_hz, 100.0);
    const rm_calib *rc = rm_session_calib(s);
    cr_assert_eq(rc->n_knots, 3);
    cr_assert_eq(rc->knot_kpa[2], 300.0f);
    cr_assert(memcmp(rc->zero, cal->zero, PX * 2) == 0);
    cr_assert(memcmp(rc->gain, cal->gain, PX * 4) == 0);
    cr_assert_not_null(rm_session_mask(s));
    cr_assert(memcmp(rm_session_mask(s), mask, PX) == 0);
    cr_assert_eq(rm_session_reference_count(s), 1);
    const char *name, *units;
    const double *vals;
    cr_assert_eq(rm_session_reference(s, 0, &name, &units, &vals), RM_OK);
    cr_assert_str_eq(name, "est_load");
    cr_assert_str_eq(units, "N");
    cr_assert_eq(vals[19], 19 * 1.5);
    cr_assert_eq(rm_session_event_count(s), 2);
    rm_event ev;
    cr_assert_eq(rm_session_event(s, 0, &ev), RM_OK);
    cr_assert_str_eq(ev.kind, "gap");
    cr_assert_eq(ev.value, 3);
    cr_assert_str_eq(ev.text, "seq jumped");
    cr_assert_eq(rm_session_event(s, 1, &ev), RM_OK);
    cr_assert_str_eq(ev.text, "calf left");
    cr_assert_eq(rm_session_event(s, 2, &ev), RM_ERR_RANGE);
    rm_end got;
    cr_assert_eq(rm_session_end_totals(s, &got), RM_OK);
    cr_assert_eq(got.frames_corrupt, 2);
    cr_assert_eq(got.frames_missing, 3);
    /* pressure uses the stored calibration */
    uint16_t raw[PX];
    float kpa[PX], want[PX];
    fx_frame(3, R, C, raw);
    rm_session_pressure(s, raw, kpa);
    rm_calib_pressure(cal, raw, want);
    cr_assert(memcmp(kpa, want, sizeof kpa) == 0);
    uint64_t stored, rawsz;
    rm_session_sizes(s, &stored, &rawsz);
    cr_assert_eq(rawsz, 20u * PX * 2);
    cr_assert_gt(stored, 0);
    rm_session_close(s);
    rm_calib_free(cal);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(session, refuses_to_overwrite_and_checks_reference_length)
{
    char *dir, *path = tmp_file("sess_rules", "f.h5", &dir);
    rm_session_writer *w = make_writer(path, 8, 1000.0);
    rm_err e = {0};
    double ref[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(rm_session_writer_add_reference(w, "load", "N", "load", 5, ref, &e), RM_OK);
    uint16_t buf[PX];
    for (uint64_t i = 0; i < 4; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
    }
    rm_status st = rm_session_writer_close(w, &e);
    cr_assert_eq(st, RM_ERR_LENGTH);
    cr_assert(strstr(e.msg, "/reference/load"), "%s", e.msg);
    /* an existing file is never overwritten */
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    struct stat sb0, sb1;
    cr_assert_eq(stat(path, &sb0), 0);
    cr_assert_eq(rm_session_writer_create(path, &h, &d, NULL, NULL, &w, &e), RM_ERR_IO);
    cr_assert(strstr(e.msg, "f.h5"), "%s", e.msg);
    cr_assert_eq(stat(path, &sb1), 0);
    cr_assert_eq(sb0.st_size, sb1.st_size);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(session, without_swmr_and_empty)
{
    char *dir = rm_test_tmpdir("sess_noswmr");
    char *p1 = rm_test_path(dir, "g.h5"), *p2 = rm_test_path(dir, "empty.h5");
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    rm_session_writer_options o = {.chunk_frames = 10, .deflate_level = 6, .swmr = 0};
    rm_session_writer *w = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_writer_create(p1, &h, &d, NULL, &o, &w, &e), RM_OK, "%s", e.msg);
    uint16_t buf[PX];
    for (uint64_t i = 0; i < 23; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
    }
    /* without SWMR, extras may come after frames */
    double ref[23] = {0};
    cr_assert_eq(rm_session_writer_add_reference(w, "late", "1", "late series", 23, ref, &e), RM_OK,
                 "%s", e.msg);
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    check_all_windows(p1, 23);
    cr_assert_eq(rm_session_writer_create(p2, &h, &d, NULL, NULL, &w, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    rm_session *s = NULL;
    cr_assert_eq(rm_session_open(p2, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_frames(s), 0);
    /* identity calibration when none was given */
    cr_assert_eq(rm_session_calib(s)->n_knots, 2);
    cr_assert_eq(rm_session_calib(s)->knot_kpa[1], 4095.0f);
    rm_session_close(s);
    rm_test_rmtree(dir);
    free(p1);
    free(p2);
    free(dir);
}

/* A sink that checks the replayed stream against the fixture. */
typedef struct collect {
    int header, device, calib, end, finished;
    uint64_t frames;
    size_t events;
    int order_ok;
    double last_time;
} collect;

static rm_status collect_receive(void *ctx, const rm_packet *p, rm_err *err)
{
    collect *c = ctx;
    uint16_t want[PX];
    switch (p->type) {
    case RM_PKT_HEADER: c->header++; break;
    case RM_PKT_DEVICE: c->device++; break;
    case RM_PKT_CALIB: c->calib++; break;
    case RM_PKT_FRAME:
        fx_frame(c->frames, R, C, want);
        if (memcmp(p->u.frame->raw, want, sizeof want) != 0 || p->u.frame->seq != fx_seq(c->frames))
            c->order_ok = 0;
        if (p->u.frame->time_s < c->last_time)
            c->order_ok = 0;
        c->last_time = p->u.frame->time_s;
        c->frames++;
        break;
    case RM_PKT_EVENT:
        if (p->u.event->time_s < c->last_time)
            c->order_ok = 0;
        c->events++;
        break;
    case RM_PKT_END: c->end++; break;
    }
    return RM_OK;
}

static rm_status collect_finish(void *ctx, rm_err *err)
{
    ((collect *)ctx)->finished++;
    return RM_OK;
}

Test(session, sink_and_replay)
{
    char *dir = rm_test_tmpdir("sess_sink");
    char *p1 = rm_test_path(dir, "sink.h5"), *p2 = rm_test_path(dir, "copy.h5");
    rm_sink sink;
    rm_err e = {0};
    rm_session_writer_options o = {.chunk_frames = 16};
    cr_assert_eq(rm_session_sink_new(p1, &o, &sink, &e), RM_OK);
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    cr_assert_eq(rm_sink_send(&sink, RM_PKT_HEADER, &h, &e), RM_OK);
    cr_assert_eq(rm_sink_send(&sink, RM_PKT_DEVICE, &d, &e), RM_OK);
    uint16_t buf[PX];
    for (uint64_t i = 0; i < 70; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_sink_send(&sink, RM_PKT_FRAME, &f, &e), RM_OK, "%s", e.msg);
        if (i == 30) {
            rm_event ev = {.time_s = fx_time(i), .kind = RM_EVENT_NOTE, .text = "half"};
            cr_assert_eq(rm_sink_send(&sink, RM_PKT_EVENT, &ev, &e), RM_OK, "%s", e.msg);
        }
    }
    rm_end end = {.frames_ok = 70, .frames_corrupt = 1};
    cr_assert_eq(rm_sink_send(&sink, RM_PKT_END, &end, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(sink.finish(sink.ctx, &e), RM_OK, "%s", e.msg);
    check_all_windows(p1, 70);

    /* replay into a collector, then into a second recording */
    rm_session *s = NULL;
    cr_assert_eq(rm_session_open(p1, &s, &e), RM_OK, "%s", e.msg);
    collect c = {.order_ok = 1};
    rm_sink cs = {&c, collect_receive, collect_finish};
    cr_assert_eq(rm_session_replay(s, &cs, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(c.header, 1);
    cr_assert_eq(c.device, 1);
    cr_assert_eq(c.calib, 1);
    cr_assert_eq(c.frames, 70);
    cr_assert_eq(c.events, 1);
    cr_assert_eq(c.end, 1);
    cr_assert_eq(c.finished, 1);
    cr_assert(c.order_ok);
    cr_assert_eq(rm_session_sink_new(p2, NULL, &sink, &e), RM_OK);
    cr_assert_eq(rm_session_replay(s, &sink, &e), RM_OK, "%s", e.msg);
    rm_session_close(s);
    check_all_windows(p2, 70);
    rm_test_rmtree(dir);
    free(p1);
    free(p2);
    free(dir);
}

/* A 64x48 recording with the default chunking: the path the recorder uses. */
Test(session, default_chunking_64x48)
{
    char *dir = rm_test_tmpdir("sess_big");
    char *path = rm_test_path(dir, "big.h5");
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, 64, 48);
    rm_session_writer *w = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_writer_create(path, &h, &d, NULL, NULL, &w, &e), RM_OK, "%s", e.msg);
    uint16_t *buf = malloc(64 * 48 * 2), *got = malloc(64 * 48 * 2 * 100);
    for (uint64_t i = 0; i < 300; i++) {
        rm_frame f;
        fx_rm_frame(i, 64, 48, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
    }
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    rm_session *s = NULL;
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
    size_t cf = rm_session_chunk_frames(s);
    cr_assert(cf * 64 * 48 * 2 <= 256 * 1024 && cf * 64 * 48 * 2 > 128 * 1024, "chunk %zu", cf);
    for (uint64_t f0 = 0; f0 < 300; f0 += 97) {
        size_t n = f0 + 97 <= 300 ? 97 : 300 - f0;
        cr_assert_eq(rm_session_read(s, f0, n, got, NULL, NULL, NULL, NULL, &e), RM_OK, "%s",
                     e.msg);
        for (size_t k = 0; k < n; k++) {
            fx_frame(f0 + k, 64, 48, buf);
            cr_assert(memcmp(got + k * 64 * 48, buf, 64 * 48 * 2) == 0);
        }
    }
    uint64_t stored, raw;
    rm_session_sizes(s, &stored, &raw);
    /* noisy frames still compress (well under raw size) */
    cr_assert_lt(stored, raw * 6 / 10, "stored %llu of %llu", (unsigned long long)stored,
                 (unsigned long long)raw);
    rm_session_close(s);
    free(buf);
    free(got);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

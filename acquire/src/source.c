/* source.c - the USB source and the byte-stream loop of the replay and
 * virtual sources, run end to end (rm_source.h, source_int.h). */
#include "rm_source.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_clock.h"
#include "rm_usb.h"
#include "source_int.h"

/* State shared by both sources. */
typedef struct run {
    const rm_source_config *cfg;
    rm_recorder *rec;
    rm_decoder *dec;
    rm_clock clock;
    double mono0;
    rm_status feed_st; /* first error from feeding (a sink failed) */
    rm_err feed_err;
    int connected;
    /* status */
    double next_status;
    double last_status_t;
    uint64_t last_status_frames;
    double rate;
    /* replay/virtual only (src_stream_run) */
    double pace_hz; /* > 0: frames go through `pace` to the ring */
    double pace_t0;
    uint64_t paced; /* frames released so far */
    rm_sink pace;
    int skip_finish; /* the decoder was finished already, or stopped mid-feed */
} run;

static int stop_requested(const run *r) { return r->cfg->stop && *r->cfg->stop; }

static int duration_reached(const run *r)
{
    if (r->cfg->duration_s <= 0 || !r->dec)
        return 0;
    rm_decoder_stats ds;
    rm_decoder_get_stats(r->dec, &ds);
    return ds.frames_ok > 0 && rm_decoder_last_time(r->dec) >= r->cfg->duration_s;
}

static void report_status(run *r, int force)
{
    if (!r->cfg->status || !r->dec || !r->rec)
        return;
    double now = rm_clock_monotonic() - r->mono0;
    if (!force && now < r->next_status)
        return;
    double iv = r->cfg->status_interval_s > 0 ? r->cfg->status_interval_s : 0.5;
    r->next_status = now + iv;
    rm_source_status s;
    memset(&s, 0, sizeof s);
    rm_decoder_stats ds;
    rm_decoder_get_stats(r->dec, &ds);
    rm_recorder_stats rs;
    rm_recorder_get_stats(r->rec, &rs);
    if (now > r->last_status_t) {
        r->rate = (double)(ds.frames_ok - r->last_status_frames) / (now - r->last_status_t);
        r->last_status_t = now;
        r->last_status_frames = ds.frames_ok;
    }
    s.elapsed_s = now;
    s.time_s = rm_decoder_last_time(r->dec);
    s.frames_ok = ds.frames_ok;
    s.frames_written = rs.frames_out;
    s.frames_missing = ds.frames_missing;
    s.frames_corrupt = ds.frames_corrupt;
    s.frames_truncated = ds.frames_truncated;
    s.garbage_bytes = ds.garbage_bytes;
    s.overruns = rs.overruns;
    s.rate_hz = r->rate;
    s.connected = r->connected;
    r->cfg->status(r->cfg->status_user, &s);
}

static void fill_header(const rm_source_config *cfg, const char *source, rm_header *hdr,
                        double *mono0)
{
    *hdr = cfg->header;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *mono0 = rm_clock_monotonic();
    hdr->created_unix = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    rm_format_iso8601(hdr->created_unix, hdr->created, sizeof hdr->created);
    snprintf(hdr->source, sizeof hdr->source, "%s", source);
}

static rm_status start_run(run *r, const rm_header *hdr, const rm_device *dev,
                           const rm_calib *calib, const rm_sink *sinks, size_t nsinks,
                           int file_source, rm_err *err)
{
    rm_recorder_config rc = {
        .ring_slots = r->cfg->ring_slots,
        .rows = dev->rows,
        .cols = dev->cols,
        .capture = r->cfg->capture,
        .wait_when_full = file_source || r->cfg->no_drop,
        .log = r->cfg->log,
    };
    rm_status st = rm_recorder_new(&rc, sinks, nsinks, &r->rec, err);
    if (st != RM_OK)
        return st;
    rm_decoder_config dc = {
        .sink = r->pace_hz > 0 ? &r->pace : rm_recorder_sink(r->rec),
        .rows = dev->rows,
        .cols = dev->cols,
        .clock = file_source || r->cfg->device_time ? NULL : rm_clock_decoder_fn,
        .clock_user = file_source || r->cfg->device_time ? NULL : &r->clock,
    };
    st = rm_decoder_new(&dc, &r->dec, err);
    if (st != RM_OK)
        return st;
    st = rm_recorder_begin(r->rec, hdr, dev, calib, err);
    if (st != RM_OK)
        return st;
    if (r->cfg->label && r->cfg->label[0])
        st = rm_recorder_event(r->rec, 0.0, RM_EVENT_LABEL, 0, r->cfg->label, err);
    return st;
}

/* Ends the recording: decoder leftovers, END with the totals, sinks
 * finished. Returns the first error of the run or of the sinks. */
static rm_status end_run(run *r, rm_status why, rm_source_result *res, rm_err *err)
{
    rm_status st = why;
    if (r->dec && !r->skip_finish) {
        rm_err e = {0};
        rm_status fs = rm_decoder_finish(r->dec, &e);
        if (fs != RM_OK && st == RM_OK) {
            st = fs;
            if (err)
                *err = e;
        }
    }
    rm_end end;
    memset(&end, 0, sizeof end);
    rm_decoder_stats ds;
    memset(&ds, 0, sizeof ds);
    if (r->dec) {
        rm_decoder_get_stats(r->dec, &ds);
        rm_decoder_stats_to_end(&ds, &end);
    }
    end.status = why;
    rm_status es = RM_OK;
    if (r->rec) {
        rm_err e = {0};
        es = rm_recorder_end(r->rec, &end, &e);
        if (es != RM_OK && st == RM_OK) {
            st = es;
            if (err)
                *err = e;
        }
    }
    if (res) {
        res->decoder = ds;
        if (r->rec)
            rm_recorder_get_stats(r->rec, &res->recorder);
        res->end_status = why;
    }
    rm_recorder_free(r->rec);
    r->rec = NULL;
    rm_decoder_free(r->dec);
    r->dec = NULL;
    return st;
}

/* ---- USB ---------------------------------------------------------------- */

static void on_usb_data(void *user, const uint8_t *buf, size_t len, double arrival)
{
    run *r = user;
    if (r->feed_st != RM_OK)
        return;
    rm_recorder_capture(r->rec, buf, len);
    rm_clock_set_arrival(&r->clock, arrival - r->mono0);
    r->feed_st = rm_decoder_feed(r->dec, buf, len, &r->feed_err);
}

static rm_status open_mat(const rm_source_config *cfg, const char *serial, rm_usb **out,
                          rm_err *err)
{
    rm_usb_options uo = {.vid = cfg->vid, .pid = cfg->pid, .serial = serial, .log = cfg->log};
    rm_status st = rm_usb_open(&uo, out, err);
    if (st != RM_OK)
        return st;
    if (cfg->rate_hz) {
        st = rm_usb_set_rate(*out, cfg->rate_hz, err);
        if (st != RM_OK) {
            rm_usb_close(*out);
            *out = NULL;
        }
    }
    return st;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        return; /* a signal: let the caller look at its stop flag */
}

/* Waits for the same mat to come back and streams it again. The rm_usb
 * (and its one libusb context) lives through the whole run: see
 * rm_usb_reopen for the libusb leak a context per attempt would risk. */
static rm_status reconnect(run *r, const char *serial, const rm_device *dev, rm_usb *u, rm_err *err)
{
    const rm_source_config *cfg = r->cfg;
    double t0 = rm_clock_monotonic();
    rm_err last = {0};
    for (;;) {
        if (stop_requested(r))
            return rm_err_set(err, RM_ERR_INTERRUPTED, "stopped while waiting for mat %s", serial);
        if (cfg->reconnect_timeout_s > 0 && rm_clock_monotonic() - t0 > cfg->reconnect_timeout_s)
            return rm_err_set(err, RM_ERR_NO_DEVICE,
                              "mat %s did not come back within %.0f s (last: %s)", serial,
                              cfg->reconnect_timeout_s, last.msg[0] ? last.msg : "not found");
        report_status(r, 0);
        rm_status st = rm_usb_reopen(u, &last);
        if (st == RM_OK && cfg->rate_hz)
            st = rm_usb_set_rate(u, cfg->rate_hz, &last);
        if (st == RM_OK) {
            const rm_info *in = rm_usb_info(u);
            if (in->rows != dev->rows || in->cols != dev->cols)
                return rm_err_set(err, RM_ERR_TYPE,
                                  "mat %s came back as %ux%u, the recording is %ux%u", serial,
                                  in->rows, in->cols, dev->rows, dev->cols);
            rm_clock_device_reset(&r->clock);
            st = rm_usb_start(u, cfg->transfer_size, cfg->transfers, on_usb_data, r, &last);
            if (st == RM_OK)
                return RM_OK;
        } else if (st == RM_ERR_STALL) {
            return rm_err_set(err, st, "%s", last.msg);
        }
        sleep_s(0.2);
    }
}

rm_status rm_source_usb_run(const rm_source_config *cfg, const rm_sink *sinks, size_t nsinks,
                            rm_source_result *res, rm_err *err)
{
    rm_err local = {0};
    if (!err)
        err = &local;
    if (res)
        memset(res, 0, sizeof *res);
    if (!cfg)
        return rm_err_set(err, RM_ERR_ARG, "source: NULL config");
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    rm_clock_init(&r.clock, 0, 0);
    rm_usb *u = NULL;
    rm_status st = open_mat(cfg, cfg->serial, &u, err);
    if (st != RM_OK) {
        /* No packet was sent: sinks are only finished. */
        for (size_t i = 0; i < nsinks; i++)
            if (sinks[i].finish)
                sinks[i].finish(sinks[i].ctx, NULL);
        return st;
    }
    char serial[64];
    snprintf(serial, sizeof serial, "%s", rm_usb_serial(u));
    rm_device dev;
    rm_usb_device(u, &dev);
    rm_header hdr;
    fill_header(cfg, "usb", &hdr, &r.mono0);
    r.last_status_t = 0;
    st = start_run(&r, &hdr, &dev, rm_usb_calib(u), sinks, nsinks, 0, err);
    if (st == RM_OK)
        st = rm_usb_start(u, cfg->transfer_size, cfg->transfers, on_usb_data, &r, err);
    r.connected = 1;
    rm_status why = st;
    unsigned disconnects = 0, reconnects = 0;
    while (why == RM_OK) {
        if (stop_requested(&r) || duration_reached(&r))
            break;
        rm_err e = {0};
        rm_status hs = rm_usb_handle_events(u, 100, &e);
        if (r.feed_st != RM_OK) {
            why = r.feed_st;
            *err = r.feed_err;
            break;
        }
        if (rm_recorder_failed(r.rec, err)) {
            why = err->status;
            break;
        }
        report_status(&r, 0);
        if (hs == RM_OK)
            continue;
        if (hs != RM_ERR_NO_DEVICE) {
            why = hs;
            *err = e;
            break;
        }
        /* Unplugged: the recording stays open. */
        disconnects++;
        r.connected = 0;
        double now = rm_clock_monotonic() - r.mono0;
        rm_log(&cfg->log, RM_LOG_WARN, "mat %s disconnected; waiting for it", serial);
        rm_status es = rm_decoder_restart(r.dec, err);
        if (es == RM_OK)
            es = rm_recorder_event(r.rec, now, RM_EVENT_DISCONNECT, 0, serial, err);
        if (es != RM_OK) {
            why = es;
            break;
        }
        rm_status rs = reconnect(&r, serial, &dev, u, err);
        if (rs != RM_OK) {
            why = rs == RM_ERR_INTERRUPTED ? RM_OK : rs;
            break;
        }
        reconnects++;
        r.connected = 1;
        now = rm_clock_monotonic() - r.mono0;
        rm_log(&cfg->log, RM_LOG_INFO, "mat %s reconnected", serial);
        why = rm_recorder_event(r.rec, now, RM_EVENT_RECONNECT, 0, serial, err);
    }
    if (u) {
        rm_err e = {0};
        rm_status ss = rm_usb_stop(u, &e);
        if (ss != RM_OK)
            rm_log(&cfg->log, RM_LOG_WARN, "%s", e.msg);
        /* Data that arrived during the cancel was fed. */
        if (r.feed_st != RM_OK && why == RM_OK) {
            why = r.feed_st;
            *err = r.feed_err;
        }
    }
    report_status(&r, 1);
    rm_err e2 = {0};
    st = end_run(&r, why, res, why == RM_OK ? err : &e2);
    if (res) {
        res->disconnects = disconnects;
        res->reconnects = reconnects;
    }
    rm_usb_close(u);
    return st;
}

/* ---- replay and virtual: one loop on a byte stream (source_int.h) ------ */

#define PROBE_BYTES  (8u << 20)
#define STREAM_CHUNK (64u * 1024u)
#define PACE_SLICE_S 0.02 /* how late a stop is seen while pacing or holding */

/* Sleeps until `due` (monotonic seconds) in slices, so that a stop asked
 * meanwhile is seen within PACE_SLICE_S; 1 if stopped. */
static int wait_until_due(const run *r, double due)
{
    for (;;) {
        if (stop_requested(r))
            return 1;
        double left = due - rm_clock_monotonic();
        if (left <= 0)
            return 0;
        sleep_s(left < PACE_SLICE_S ? left : PACE_SLICE_S);
    }
}

/* Between the decoder and the ring when pace_hz > 0: frame k leaves at
 * t0 + k / pace_hz, t0 being the first frame's release, as from a mat. */
static rm_status pace_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    run *r = ctx;
    if (pkt->type == RM_PKT_FRAME) {
        if (r->paced == 0)
            r->pace_t0 = rm_clock_monotonic();
        if (wait_until_due(r, r->pace_t0 + (double)r->paced / r->pace_hz))
            return rm_err_set(err, RM_ERR_INTERRUPTED, "replay stopped");
        r->paced++;
    } else if (stop_requested(r)) {
        return rm_err_set(err, RM_ERR_INTERRUPTED, "replay stopped");
    }
    const rm_sink *ring = rm_recorder_sink(r->rec);
    return ring->receive(ring->ctx, pkt, err);
}

/* Reads up to PROBE_BYTES of the stream (the first chunks to decode). */
static rm_status read_prefix(const src_stream *s, uint8_t **out, size_t *len, rm_err *err)
{
    *len = 0;
    *out = malloc(PROBE_BYTES);
    if (!*out)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", s->what);
    while (*len < PROBE_BYTES) {
        size_t got = 0;
        rm_status st = s->read(s->user, *out + *len, PROBE_BYTES - *len, &got, err);
        if (st != RM_OK)
            return st;
        if (got == 0)
            break;
        *len += got;
    }
    return RM_OK;
}

/* Geometry of the first valid frame in buf. */
static rm_status probe_geometry(const uint8_t *buf, size_t n, const char *what, uint16_t *rows,
                                uint16_t *cols, rm_err *err)
{
    for (size_t i = 0; i + 4 <= n; i++) {
        if (memcmp(buf + i, RM_FRAME_MAGIC, 4) != 0)
            continue;
        rm_frame_header h;
        if (rm_frame_decode(buf + i, n - i, &h, NULL, 0, NULL, NULL, NULL) == RM_OK) {
            *rows = h.rows;
            *cols = h.cols;
            return RM_OK;
        }
    }
    /* The daemon's clients look for "no frame"; record's for "no valid RM-1 frame". */
    return rm_err_set(err, RM_ERR_FORMAT,
                      "%s: no frame in the stream (no valid RM-1 frame in its first %zu bytes)",
                      what, n);
}

/* Frames per second of the mat's own clock over the first acquisition in
 * buf: (last seq - first seq) over (last t_device - first t_device), so
 * dropped frames in between do not bias it. 0 if it cannot be told (fewer
 * than two frames, no time elapsed). */
static double measure_rate(const uint8_t *buf, size_t n)
{
    int have = 0;
    uint32_t seq0 = 0, seq1 = 0;
    uint64_t t0 = 0, t1 = 0;
    for (size_t i = 0; i + 4 <= n;) {
        rm_frame_header h;
        size_t flen = 0;
        if (memcmp(buf + i, RM_FRAME_MAGIC, 4) != 0 ||
            rm_frame_decode(buf + i, n - i, &h, NULL, 0, &flen, NULL, NULL) != RM_OK || !flen) {
            i++;
            continue;
        }
        if (!have) {
            seq0 = seq1 = h.seq;
            t0 = t1 = h.t_device_us;
            have = 1;
        } else if (h.seq > seq1 && h.t_device_us > t1) {
            seq1 = h.seq;
            t1 = h.t_device_us;
        } else {
            break; /* seq or the clock restarted: another acquisition */
        }
        i += flen;
    }
    if (!have || seq1 == seq0 || t1 <= t0)
        return 0;
    double hz = (double)(seq1 - seq0) * 1e6 / (double)(t1 - t0);
    return round(hz * 100.0) / 100.0; /* a mat's clock is good to far better than 0.01 Hz */
}

/* A stream without its sidecar does not say its rate, and the analysis
 * cannot work without one: take it from the device timestamps, and say so
 * on the log and in the recording's notes. */
static rm_status stream_rate(const src_stream *s, const rm_source_config *cfg,
                             const uint8_t *prefix, size_t len, rm_device *dev, rm_header *hdr,
                             rm_err *err)
{
    if (dev->rate_hz > 0)
        return RM_OK;
    double hz = measure_rate(prefix, len);
    if (!(hz >= 1 && hz <= 100000))
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: no frame rate known (no sidecar %s.dev) and none measurable from "
                          "the device timestamps of its first frames",
                          s->what, s->what);
    dev->rate_hz = hz;
    rm_log(&cfg->log, RM_LOG_WARN,
           "%s: no sidecar with the mat's rate; using %.2f Hz measured from the device timestamps",
           s->what, hz);
    char note[96];
    snprintf(note, sizeof note, "rate %.2f Hz measured from the device timestamps (no sidecar)",
             hz);
    size_t used = strlen(hdr->subject_notes);
    if (used + 2 + strlen(note) < sizeof hdr->subject_notes)
        snprintf(hdr->subject_notes + used, sizeof hdr->subject_notes - used, "%s%s",
                 used ? "; " : "", note);
    return RM_OK;
}

/* The device to announce: the caller's, or the RM-1's defaults (a raw
 * stream carries frames only: hw/RM-1-datasheet.md, 12.7 mm pitch, 12-bit
 * ADC), with the stream's geometry when none is given. */
static rm_status stream_device(const src_stream *s, const uint8_t *prefix, size_t len,
                               rm_device *dev, rm_err *err)
{
    memset(dev, 0, sizeof *dev);
    if (s->device) {
        *dev = *s->device;
    } else {
        dev->vid = RM_USB_VID;
        dev->pid = RM_USB_PID;
        snprintf(dev->model, sizeof dev->model, "unknown");
        snprintf(dev->firmware, sizeof dev->firmware, "unknown");
        dev->protocol_version = RM_PROTOCOL_VERSION;
        dev->adc_bits = 12;
        dev->row_pitch_mm = dev->col_pitch_mm = 12.7;
    }
    if (dev->rows && dev->cols)
        return RM_OK;
    return probe_geometry(prefix, len, s->what, &dev->rows, &dev->cols, err);
}

/* Feeds the stream (the prefix first) until its end, a stop, the duration,
 * or an error; then holds the recording open if asked. */
static rm_status stream_loop(run *r, const src_stream *s, const uint8_t *prefix, size_t plen,
                             uint8_t *buf, rm_err *err)
{
    size_t poff = 0;
    rm_status why = RM_OK;
    while (why == RM_OK) {
        if (stop_requested(r) || duration_reached(r))
            return RM_OK;
        const uint8_t *p = buf;
        size_t n = 0;
        if (poff < plen) {
            p = prefix + poff;
            n = plen - poff < STREAM_CHUNK ? plen - poff : STREAM_CHUNK;
            poff += n;
        } else {
            why = s->read(s->user, buf, STREAM_CHUNK, &n, err);
            if (why != RM_OK || n == 0)
                break;
        }
        rm_recorder_capture(r->rec, p, n);
        why = rm_decoder_feed(r->dec, p, n, err);
        if (why == RM_OK && rm_recorder_failed(r->rec, err))
            why = err->status;
        report_status(r, 0);
    }
    if (why == RM_ERR_INTERRUPTED && stop_requested(r)) {
        r->skip_finish = 1; /* stopped inside the pacing sink: no leftovers */
        return RM_OK;
    }
    if (why != RM_OK || !s->hold_at_end)
        return why;
    /* Out of bytes: like a mat that stopped sending, the recording stays
     * open (its leftovers already decoded) until stopped. */
    r->skip_finish = 1;
    why = rm_decoder_finish(r->dec, err);
    while (why == RM_OK && !stop_requested(r)) {
        if (rm_recorder_failed(r->rec, err))
            return err->status;
        report_status(r, 0);
        sleep_s(PACE_SLICE_S);
    }
    return why == RM_ERR_INTERRUPTED ? RM_OK : why;
}

rm_status src_stream_run(const src_stream *s, const rm_source_config *cfg, const rm_sink *sinks,
                         size_t nsinks, rm_source_result *res, rm_err *err)
{
    rm_err local = {0};
    if (!err)
        err = &local;
    if (res)
        memset(res, 0, sizeof *res);
    if (!s || !cfg)
        return rm_err_set(err, RM_ERR_ARG, "replay: NULL argument");
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    uint8_t *prefix = NULL;
    size_t plen = 0;
    rm_device dev;
    rm_status st = read_prefix(s, &prefix, &plen, err);
    if (st == RM_OK)
        st = stream_device(s, prefix, plen, &dev, err);
    if (st != RM_OK) {
        free(prefix);
        /* No packet was sent: sinks are only finished. */
        for (size_t i = 0; i < nsinks; i++)
            if (sinks[i].finish)
                sinks[i].finish(sinks[i].ctx, NULL);
        return st;
    }
    const rm_calib *calib =
        s->calib && s->calib->rows == dev.rows && s->calib->cols == dev.cols ? s->calib : NULL;
    r.pace_hz = s->pace_hz;
    r.pace = (rm_sink){.ctx = &r, .receive = pace_receive};
    rm_header hdr;
    fill_header(cfg, s->name, &hdr, &r.mono0);
    st = stream_rate(s, cfg, prefix, plen, &dev, &hdr, err);
    if (st != RM_OK) {
        free(prefix);
        for (size_t i = 0; i < nsinks; i++)
            if (sinks[i].finish)
                sinks[i].finish(sinks[i].ctx, NULL);
        return st;
    }
    st = start_run(&r, &hdr, &dev, calib, sinks, nsinks, 1, err);
    r.connected = 1;
    rm_status why = st;
    uint8_t *buf = malloc(STREAM_CHUNK);
    if (!buf && why == RM_OK)
        why = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", s->what);
    if (why == RM_OK)
        why = stream_loop(&r, s, prefix, plen, buf, err);
    free(buf);
    free(prefix);
    if (r.dec)
        report_status(&r, 1);
    rm_err e2 = {0};
    return end_run(&r, why, res, why == RM_OK ? err : &e2);
}

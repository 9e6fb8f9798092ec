/* daemon_replay.c - a saved raw byte stream as the daemon's source: what a
 * mat sends, played back (paced or as fast as possible) through the stream
 * decoder, from a thread of its own. */
#include "rm_daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_tee.h"
#include "rm_capture.h"
#include "rm_decoder.h"
#include "rm_recorder.h"

typedef struct rmd_replay {
    char *path;
    double rate_hz;
    rm_calib *calib;
    rm_device dev;          /* from the capture's sidecar (RAW.bin.dev) */
    int have_dev;

    pthread_t thread;
    int running;            /* thread started and not joined */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* CLOCK_MONOTONIC */
    int stop_req;
    rm_status run_status;   /* the thread's outcome, read after join */
    rm_err run_err;

    /* Thread state. */
    rm_sink sink;
    rm_recorder *rec;       /* from the first frame on: ring + writer thread */
    int started_stream;     /* HEADER/DEVICE sent */
    uint64_t emitted;
    struct timespec t0;
} rmd_replay;

/* Waits until `deadline` or a stop request; 1 if stop was asked. */
static int wait_until(rmd_replay *r, const struct timespec *deadline)
{
    pthread_mutex_lock(&r->mu);
    while (!r->stop_req) {
        int e = deadline ? pthread_cond_timedwait(&r->cv, &r->mu, deadline)
                         : pthread_cond_wait(&r->cv, &r->mu);
        if (e == ETIMEDOUT)
            break;
    }
    int stop = r->stop_req;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

static rm_status start_stream(rmd_replay *r, const rm_frame *f, rm_err *err)
{
    rm_header h;
    memset(&h, 0, sizeof h);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h.created_unix = (double)now.tv_sec + now.tv_nsec * 1e-9;
    rm_format_iso8601(h.created_unix, h.created, sizeof h.created);
    snprintf(h.source, sizeof h.source, "replay");
    snprintf(h.subject_notes, sizeof h.subject_notes, "replayed from %.200s", r->path);
    /* A raw stream carries frames only: the rest is the reference mat's
     * (hw/RM-1-datasheet.md: 12.7 mm pitch, 12-bit ADC). */
    rm_device dev;
    memset(&dev, 0, sizeof dev);
    dev.vid = RM_USB_VID;
    dev.pid = RM_USB_PID;
    snprintf(dev.serial, sizeof dev.serial, "replay");
    snprintf(dev.model, sizeof dev.model, "RM-1");
    snprintf(dev.firmware, sizeof dev.firmware, "replay");
    dev.protocol_version = RM_PROTOCOL_VERSION;
    dev.rows = f->rows;
    dev.cols = f->cols;
    dev.adc_bits = 12;
    dev.row_pitch_mm = dev.col_pitch_mm = 12.7;
    dev.rate_hz = r->rate_hz > 0 ? r->rate_hz : 100.0;
    if (r->have_dev)
        dev = r->dev;
    /* Frames reach the daemon's sink the way a mat's do: through the
     * recorder's ring, on its writer thread. */
    rm_recorder_config rc;
    memset(&rc, 0, sizeof rc);
    rc.ring_slots = 1024;
    rc.wait_when_full = 1; /* a file can wait: replaying loses nothing */
    rc.rows = f->rows;
    rc.cols = f->cols;
    rm_status st = rm_recorder_new(&rc, &r->sink, 1, &r->rec, err);
    if (st != RM_OK)
        return st;
    r->started_stream = 1;
    const rm_calib *calib =
        r->calib && r->calib->rows == f->rows && r->calib->cols == f->cols ? r->calib : NULL;
    st = rm_recorder_begin(r->rec, &h, &dev, calib, err);
    if (st != RM_OK)
        return st;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    return RM_OK;
}

/* The decoder's sink: paces frames and forwards them. */
static rm_status pace_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    rmd_replay *r = ctx;
    if (!r->started_stream) {
        if (pkt->type != RM_PKT_FRAME)
            return RM_OK; /* garbage before the first frame: nothing to attach it to */
        rm_status st = start_stream(r, pkt->u.frame, err);
        if (st != RM_OK)
            return st;
    }
    if (pkt->type == RM_PKT_FRAME && r->rate_hz > 0) {
        double due = (double)r->emitted / r->rate_hz;
        struct timespec dl = r->t0;
        long long ns = (long long)(due * 1e9) + dl.tv_nsec;
        dl.tv_sec += (time_t)(ns / 1000000000LL);
        dl.tv_nsec = (long)(ns % 1000000000LL);
        if (wait_until(r, &dl))
            return rm_err_set(err, RM_ERR_INTERRUPTED, "replay stopped");
    } else {
        pthread_mutex_lock(&r->mu);
        int stop = r->stop_req;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return rm_err_set(err, RM_ERR_INTERRUPTED, "replay stopped");
    }
    if (pkt->type == RM_PKT_FRAME)
        r->emitted++;
    const rm_sink *ring = rm_recorder_sink(r->rec);
    return ring->receive(ring->ctx, pkt, err);
}

static void *replay_thread(void *arg)
{
    rmd_replay *r = arg;
    rm_err e = {0};
    rm_end end;
    memset(&end, 0, sizeof end);
    rm_sink pace = {r, pace_receive, NULL};
    rm_decoder_config dc;
    memset(&dc, 0, sizeof dc);
    dc.sink = &pace;
    if (r->have_dev) {
        dc.rows = r->dev.rows;
        dc.cols = r->dev.cols;
    }
    rm_decoder *dec = NULL;
    rm_status st = rm_decoder_new(&dc, &dec, &e);
    FILE *f = NULL;
    if (st == RM_OK) {
        f = fopen(r->path, "rb");
        if (!f)
            st = rm_err_set(&e, RM_ERR_IO, "%s: %s", r->path, strerror(errno));
    }
    unsigned char buf[65536];
    while (st == RM_OK) {
        size_t n = fread(buf, 1, sizeof buf, f);
        if (n == 0) {
            if (ferror(f))
                st = rm_err_set(&e, RM_ERR_IO, "%s: read error", r->path);
            else
                st = rm_decoder_finish(dec, &e);
            break;
        }
        st = rm_decoder_feed(dec, buf, n, &e);
    }
    if (f)
        fclose(f);
    /* Out of bytes: like a mat that stopped sending, the recording stays
     * open until the daemon stops it. */
    if (st == RM_OK && r->started_stream)
        wait_until(r, NULL);
    if (st == RM_ERR_INTERRUPTED)
        st = RM_OK;
    if (dec) {
        rm_decoder_stats ds;
        rm_decoder_get_stats(dec, &ds);
        rm_decoder_stats_to_end(&ds, &end);
        rm_decoder_free(dec);
    }
    end.status = st;
    if (!r->started_stream && st == RM_OK) {
        st = end.status = RM_ERR_FORMAT;
        rm_err_set(&e, st, "%s: no frame in the stream", r->path);
    }
    r->run_status = st;
    r->run_err = e;
    /* END carries the outcome, also when no frame ever came. */
    if (r->rec) {
        rm_recorder_end(r->rec, &end, NULL); /* END, then the sink's finish */
        rm_recorder_free(r->rec);
        r->rec = NULL;
    } else {
        r->sink.receive(r->sink.ctx, &(rm_packet){.type = RM_PKT_END, .u.end = &end}, NULL);
        r->sink.finish(r->sink.ctx, NULL);
    }
    return NULL;
}

static rm_status replay_start(void *ctx, const rm_sink *sink, rm_err *err)
{
    rmd_replay *r = ctx;
    if (r->running)
        return rm_err_set(err, RM_ERR_STATE, "the replay source is already running");
    r->sink = *sink;
    r->stop_req = 0;
    r->run_status = RM_OK;
    r->started_stream = 0;
    r->emitted = 0;
    int e = pthread_create(&r->thread, NULL, replay_thread, r);
    if (e != 0)
        return rm_err_set(err, RM_ERR_NOMEM, "cannot start the replay thread: %s", strerror(e));
    r->running = 1;
    return RM_OK;
}

static rm_status replay_stop(void *ctx, rm_err *err)
{
    rmd_replay *r = ctx;
    if (!r->running)
        return RM_OK;
    pthread_mutex_lock(&r->mu);
    r->stop_req = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->running = 0;
    if (r->run_status != RM_OK) {
        if (err)
            *err = r->run_err;
        return r->run_status;
    }
    return RM_OK;
}

static void replay_free(void *ctx)
{
    rmd_replay *r = ctx;
    if (!r)
        return;
    replay_stop(r, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    rm_calib_free(r->calib);
    free(r->path);
    free(r);
}

rm_status rm_daemon_replay_source_new(const char *path, double rate_hz, const rm_calib *calib,
                                      rm_daemon_source *out, rm_err *err)
{
    if (!path || !(rate_hz >= 0 && rate_hz <= 100000))
        return rm_err_set(err, RM_ERR_ARG, "replay: a path and a rate of 0..100000 Hz are needed");
    FILE *f = fopen(path, "rb");
    if (!f)
        return rm_err_set(err, RM_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
    fclose(f);
    rmd_replay *r = calloc(1, sizeof *r);
    if (!r)
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    r->path = strdup(path);
    r->rate_hz = rate_hz;
    if (!r->path || (calib && rm_calib_copy(calib, &r->calib) != RM_OK)) {
        free(r->path);
        free(r);
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    }
    /* A capture's sidecar gives the mat's identity and calibration. */
    rm_calib *side_calib = NULL;
    rm_err se = {0};
    rm_status st = rm_capture_read_device(path, &r->dev, &side_calib, &se);
    if (st == RM_OK) {
        r->have_dev = 1;
        if (!r->calib)
            r->calib = side_calib;
        else
            rm_calib_free(side_calib);
    } else if (st != RM_ERR_NOT_FOUND) {
        rm_calib_free(r->calib);
        free(r->path);
        free(r);
        if (err)
            *err = se;
        return st;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    out->ctx = r;
    out->start = replay_start;
    out->stop = replay_stop;
    out->free = replay_free;
    return RM_OK;
}

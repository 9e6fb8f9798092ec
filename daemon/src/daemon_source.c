/* daemon_source.c - any acquire source (rm_source.h) as the daemon's
 * source: one run per recording on a thread of its own. The USB and replay
 * constructors only choose the source and its settings; decoding, pacing
 * and the recorder ring are acquire's. */
#include "rm_daemon.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "rm_source.h"

typedef struct rmd_src {
    rm_source *src;       /* owned */
    rm_source_config cfg; /* cfg.stop points at `stop`, cfg.serial at `serial` */
    char *serial;         /* owned copy, or NULL */
    pthread_t thread;
    int running; /* thread started and not joined */
    /* The run polls this (USB between event rounds, every 100 ms; a replay
     * every 20 ms while pacing or holding): no lock, no condition needed. */
    volatile sig_atomic_t stop;
    rm_sink sink;
    rm_status run_status; /* the thread's outcome, read after join */
    rm_err run_err;
} rmd_src;

static void *src_thread(void *arg)
{
    rmd_src *s = arg;
    rm_source_result res;
    rm_err e = {0};
    rm_status st = rm_source_run(s->src, &s->cfg, &s->sink, 1, &res, &e);
    if (st == RM_ERR_INTERRUPTED)
        st = RM_OK;
    s->run_status = st;
    s->run_err = e;
    return NULL;
}

static rm_status src_start(void *ctx, const rm_sink *sink, rm_err *err)
{
    rmd_src *s = ctx;
    if (s->running)
        return rm_err_set(err, RM_ERR_STATE, "the %s source is already running",
                          rm_source_name(s->src));
    s->sink = *sink;
    s->stop = 0;
    s->run_status = RM_OK;
    memset(&s->run_err, 0, sizeof s->run_err);
    int e = pthread_create(&s->thread, NULL, src_thread, s);
    if (e != 0)
        return rm_err_set(err, RM_ERR_NOMEM, "cannot start the %s thread: %s",
                          rm_source_name(s->src), strerror(e));
    s->running = 1;
    return RM_OK;
}

static rm_status src_stop(void *ctx, rm_err *err)
{
    rmd_src *s = ctx;
    if (!s->running)
        return RM_OK;
    s->stop = 1;
    pthread_join(s->thread, NULL);
    s->running = 0;
    if (s->run_status != RM_OK) {
        if (err)
            *err = s->run_err;
        return s->run_status;
    }
    return RM_OK;
}

static void src_free(void *ctx)
{
    rmd_src *s = ctx;
    if (!s)
        return;
    src_stop(s, NULL);
    rm_source_free(s->src);
    free(s->serial);
    free(s);
}

rm_status rm_daemon_source_new(rm_source *src, const rm_source_config *cfg, rm_daemon_source *out,
                               rm_err *err)
{
    rmd_src *s = src && cfg ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        rm_source_free(src);
        return src && cfg ? rm_err_set(err, RM_ERR_NOMEM, "out of memory")
                          : rm_err_set(err, RM_ERR_ARG, "daemon source: NULL argument");
    }
    s->src = src;
    s->cfg = *cfg;
    if (cfg->serial && *cfg->serial) {
        s->serial = strdup(cfg->serial);
        if (!s->serial) {
            src_free(s);
            return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        }
    }
    s->cfg.serial = s->serial;
    s->cfg.stop = &s->stop;
    out->ctx = s;
    out->start = src_start;
    out->stop = src_stop;
    out->free = src_free;
    return RM_OK;
}

rm_status rm_daemon_usb_source_new(const rm_daemon_usb_options *opt, rm_daemon_source *out,
                                   rm_err *err)
{
    rm_source *src = NULL;
    rm_status st = rm_source_usb_new(&src, err);
    if (st != RM_OK)
        return st;
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ring_slots = opt->ring_slots;
    cfg.log = opt->log;
    cfg.vid = opt->vid;
    cfg.pid = opt->pid;
    cfg.serial = opt->serial;
    cfg.rate_hz = opt->rate_hz;
    return rm_daemon_source_new(src, &cfg, out, err);
}

static rm_status replay_source(const char *path, double rate_hz, const rm_calib *calib,
                               int hold_at_end, rm_daemon_source *out, rm_err *err)
{
    if (!path || !(rate_hz >= 0 && rate_hz <= 100000))
        return rm_err_set(err, RM_ERR_ARG, "replay: a path and a rate of 0..100000 Hz are needed");
    /* Without a sidecar the daemon announces the reference mat (what
     * rollmatd recorded before sources were shared): a raw stream carries
     * frames only, its geometry comes from the first frame. */
    rm_device dev;
    memset(&dev, 0, sizeof dev);
    dev.vid = RM_USB_VID;
    dev.pid = RM_USB_PID;
    snprintf(dev.serial, sizeof dev.serial, "replay");
    snprintf(dev.model, sizeof dev.model, "RM-1");
    snprintf(dev.firmware, sizeof dev.firmware, "replay");
    dev.protocol_version = RM_PROTOCOL_VERSION;
    dev.adc_bits = 12;
    dev.row_pitch_mm = dev.col_pitch_mm = 12.7;
    dev.rate_hz = rate_hz > 0 ? rate_hz : 100.0;
    rm_source_replay_options ro = {
        .path = path,
        .device = &dev,
        .calib = calib,
        .pace_hz = rate_hz,
        .hold_at_end = hold_at_end, /* rollmatd: open until the daemon stops it */
    };
    rm_source *src = NULL;
    rm_status st = rm_source_replay_new(&ro, &src, err);
    if (st != RM_OK)
        return st;
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ring_slots = 1024;
    snprintf(cfg.header.subject_notes, sizeof cfg.header.subject_notes, "replayed from %.200s",
             path);
    return rm_daemon_source_new(src, &cfg, out, err);
}

rm_status rm_daemon_replay_source_new(const char *path, double rate_hz, const rm_calib *calib,
                                      rm_daemon_source *out, rm_err *err)
{
    return replay_source(path, rate_hz, calib, 1, out, err);
}

rm_status rm_daemon_replay_once_source_new(const char *path, double rate_hz, const rm_calib *calib,
                                           rm_daemon_source *out, rm_err *err)
{
    return replay_source(path, rate_hz, calib, 0, out, err);
}

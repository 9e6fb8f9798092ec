/* daemon_usb.c - a USB mat as the daemon's source: rm_source_usb_run on a
 * thread of its own for each recording. */
#include "rm_daemon.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "rm_source.h"

typedef struct rmd_usb {
    rm_daemon_usb_options opt;
    char *serial;
    pthread_t thread;
    int running;
    /* rm_source_usb_run polls this between event rounds (every 100 ms). */
    volatile sig_atomic_t stop;
    rm_sink sink;
    rm_status run_status;
    rm_err run_err;
} rmd_usb;

static void *usb_thread(void *arg)
{
    rmd_usb *u = arg;
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.stop = &u->stop;
    cfg.ring_slots = u->opt.ring_slots;
    cfg.log = u->opt.log;
    cfg.vid = u->opt.vid;
    cfg.pid = u->opt.pid;
    cfg.serial = u->serial;
    cfg.rate_hz = u->opt.rate_hz;
    rm_source_result res;
    rm_err e = {0};
    rm_status st = rm_source_usb_run(&cfg, &u->sink, 1, &res, &e);
    if (st == RM_ERR_INTERRUPTED)
        st = RM_OK;
    u->run_status = st;
    u->run_err = e;
    return NULL;
}

static rm_status usb_start(void *ctx, const rm_sink *sink, rm_err *err)
{
    rmd_usb *u = ctx;
    if (u->running)
        return rm_err_set(err, RM_ERR_STATE, "the USB source is already running");
    u->sink = *sink;
    u->stop = 0;
    u->run_status = RM_OK;
    int e = pthread_create(&u->thread, NULL, usb_thread, u);
    if (e != 0)
        return rm_err_set(err, RM_ERR_NOMEM, "cannot start the USB thread: %s", strerror(e));
    u->running = 1;
    return RM_OK;
}

static rm_status usb_stop(void *ctx, rm_err *err)
{
    rmd_usb *u = ctx;
    if (!u->running)
        return RM_OK;
    u->stop = 1;
    pthread_join(u->thread, NULL);
    u->running = 0;
    if (u->run_status != RM_OK) {
        if (err)
            *err = u->run_err;
        return u->run_status;
    }
    return RM_OK;
}

static void usb_free(void *ctx)
{
    rmd_usb *u = ctx;
    if (!u)
        return;
    usb_stop(u, NULL);
    free(u->serial);
    free(u);
}

rm_status rm_daemon_usb_source_new(const rm_daemon_usb_options *opt, rm_daemon_source *out,
                                   rm_err *err)
{
    rmd_usb *u = calloc(1, sizeof *u);
    if (!u)
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    u->opt = *opt;
    if (opt->serial && *opt->serial) {
        u->serial = strdup(opt->serial);
        if (!u->serial) {
            free(u);
            return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        }
    }
    u->opt.serial = u->serial;
    out->ctx = u;
    out->start = usb_start;
    out->stop = usb_stop;
    out->free = usb_free;
    return RM_OK;
}

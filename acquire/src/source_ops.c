/* source_ops.c - the one source interface (rm_source.h): the rm_source
 * object and the usb, replay and virtual kinds behind it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_capture.h"
#include "rm_source.h"
#include "source_int.h"

struct rm_source {
    const rm_source_ops *ops; /* borrowed: a static table */
    void *ctx;                /* owned: ops->free */
};

rm_status rm_source_new(const rm_source_ops *ops, void *ctx, rm_source **out, rm_err *err)
{
    *out = NULL;
    if (!ops || !ops->run || !ops->name) {
        if (ops && ops->free)
            ops->free(ctx);
        return rm_err_set(err, RM_ERR_ARG, "source: an ops table with a name and a run is needed");
    }
    rm_source *s = calloc(1, sizeof *s);
    if (!s) {
        if (ops->free)
            ops->free(ctx);
        return rm_err_set(err, RM_ERR_NOMEM, "source: out of memory");
    }
    s->ops = ops;
    s->ctx = ctx;
    *out = s;
    return RM_OK;
}

rm_status rm_source_run(rm_source *src, const rm_source_config *cfg, const rm_sink *sinks,
                        size_t nsinks, rm_source_result *res, rm_err *err)
{
    if (!src)
        return rm_err_set(err, RM_ERR_ARG, "source: NULL source");
    return src->ops->run(src->ctx, cfg, sinks, nsinks, res, err);
}

const char *rm_source_name(const rm_source *src) { return src ? src->ops->name : ""; }

void rm_source_free(rm_source *src)
{
    if (!src)
        return;
    if (src->ops->free)
        src->ops->free(src->ctx);
    free(src);
}

/* ---- usb ---------------------------------------------------------------- */

static rm_status usb_run(void *ctx, const rm_source_config *cfg, const rm_sink *sinks,
                         size_t nsinks, rm_source_result *res, rm_err *err)
{
    (void)ctx;
    return rm_source_usb_run(cfg, sinks, nsinks, res, err);
}

static const rm_source_ops usb_ops = {.name = "usb", .run = usb_run, .free = NULL};

rm_status rm_source_usb_new(rm_source **out, rm_err *err)
{
    return rm_source_new(&usb_ops, NULL, out, err);
}

/* ---- replay and virtual: a byte stream ---------------------------------- */

/* What a replay or virtual source keeps between runs (copies). */
typedef struct stream_src {
    char *path;     /* replay: the file; virtual: NULL */
    char what[256]; /* in messages */
    rm_device dev;
    int have_dev;
    rm_calib *calib; /* owned, NULL = none */
    double pace_hz;
    int hold_at_end;
    rm_source_read_fn read; /* virtual only */
    void *user;
} stream_src;

static void stream_free(void *ctx)
{
    stream_src *s = ctx;
    if (!s)
        return;
    rm_calib_free(s->calib);
    free(s->path);
    free(s);
}

/* A replay run's open file (the reader's user). */
typedef struct file_in {
    FILE *f;
    const char *path;
} file_in;

static rm_status file_read(void *user, uint8_t *buf, size_t cap, size_t *got, rm_err *err)
{
    file_in *in = user;
    *got = fread(buf, 1, cap, in->f);
    if (*got == 0 && ferror(in->f))
        return rm_err_set(err, RM_ERR_IO, "%s: read failed: %s", in->path, strerror(errno));
    return RM_OK;
}

static src_stream stream_input(const stream_src *s, const char *name)
{
    src_stream in = {
        .name = name,
        .what = s->what,
        .read = s->read,
        .user = s->user,
        .device = s->have_dev ? &s->dev : NULL,
        .calib = s->calib,
        .pace_hz = s->pace_hz,
        .hold_at_end = s->hold_at_end,
    };
    return in;
}

static rm_status replay_run(void *ctx, const rm_source_config *cfg, const rm_sink *sinks,
                            size_t nsinks, rm_source_result *res, rm_err *err)
{
    stream_src *s = ctx;
    rm_err local = {0};
    if (!err)
        err = &local;
    if (res)
        memset(res, 0, sizeof *res);
    FILE *f = fopen(s->path, "rb");
    if (!f) {
        rm_status st = rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s",
                                  s->path, strerror(errno));
        for (size_t i = 0; i < nsinks; i++)
            if (sinks[i].finish)
                sinks[i].finish(sinks[i].ctx, NULL);
        return st;
    }
    file_in fin = {f, s->path};
    src_stream in = stream_input(s, "replay");
    in.read = file_read;
    in.user = &fin;
    rm_status st = src_stream_run(&in, cfg, sinks, nsinks, res, err);
    fclose(f);
    return st;
}

static rm_status virtual_run(void *ctx, const rm_source_config *cfg, const rm_sink *sinks,
                             size_t nsinks, rm_source_result *res, rm_err *err)
{
    src_stream in = stream_input(ctx, "virtual");
    return src_stream_run(&in, cfg, sinks, nsinks, res, err);
}

static const rm_source_ops replay_ops = {.name = "replay", .run = replay_run, .free = stream_free};
static const rm_source_ops virtual_ops = {
    .name = "virtual", .run = virtual_run, .free = stream_free};

/* Copies the options' device and calibration. */
static rm_status stream_new(const rm_source_replay_options *opt, stream_src **out, rm_err *err)
{
    stream_src *s = calloc(1, sizeof *s);
    if (!s)
        return rm_err_set(err, RM_ERR_NOMEM, "source: out of memory");
    if (opt->device) {
        s->dev = *opt->device;
        s->have_dev = 1;
    }
    s->pace_hz = opt->pace_hz;
    s->hold_at_end = opt->hold_at_end;
    if (opt->calib && rm_calib_copy(opt->calib, &s->calib) != RM_OK) {
        stream_free(s);
        return rm_err_set(err, RM_ERR_NOMEM, "source: out of memory");
    }
    *out = s;
    return RM_OK;
}

static rm_status check_pace(const rm_source_replay_options *opt, rm_err *err)
{
    if (!(opt->pace_hz >= 0 && opt->pace_hz <= 100000))
        return rm_err_set(err, RM_ERR_ARG, "replay: a pace of 0..100000 Hz is needed, not %g",
                          opt->pace_hz);
    return RM_OK;
}

/* The capture's sidecar gives the mat's identity and calibration; the
 * caller's calibration takes precedence. */
static rm_status read_sidecar(stream_src *s, rm_err *err)
{
    rm_calib *side_calib = NULL;
    rm_device dev;
    rm_status st = rm_capture_read_device(s->path, &dev, &side_calib, err);
    if (st == RM_ERR_NOT_FOUND)
        return RM_OK;
    if (st != RM_OK)
        return st;
    s->dev = dev;
    s->have_dev = 1;
    if (!s->calib)
        s->calib = side_calib;
    else
        rm_calib_free(side_calib);
    return RM_OK;
}

rm_status rm_source_replay_new(const rm_source_replay_options *opt, rm_source **out, rm_err *err)
{
    *out = NULL;
    if (!opt || !opt->path)
        return rm_err_set(err, RM_ERR_ARG, "replay: a path is needed");
    rm_status st = check_pace(opt, err);
    if (st != RM_OK)
        return st;
    FILE *f = fopen(opt->path, "rb");
    if (!f)
        return rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s", opt->path,
                          strerror(errno));
    fclose(f);
    stream_src *s = NULL;
    st = stream_new(opt, &s, err);
    if (st != RM_OK)
        return st;
    s->path = strdup(opt->path);
    if (!s->path) {
        stream_free(s);
        return rm_err_set(err, RM_ERR_NOMEM, "source: out of memory");
    }
    snprintf(s->what, sizeof s->what, "%s", opt->path);
    st = read_sidecar(s, err);
    if (st != RM_OK) {
        stream_free(s);
        return st;
    }
    return rm_source_new(&replay_ops, s, out, err);
}

rm_status rm_source_virtual_new(rm_source_read_fn read, void *user,
                                const rm_source_replay_options *opt, rm_source **out, rm_err *err)
{
    *out = NULL;
    rm_source_replay_options none;
    memset(&none, 0, sizeof none);
    if (!opt)
        opt = &none;
    if (!read)
        return rm_err_set(err, RM_ERR_ARG, "virtual source: a read function is needed");
    rm_status st = check_pace(opt, err);
    if (st != RM_OK)
        return st;
    stream_src *s = NULL;
    st = stream_new(opt, &s, err);
    if (st != RM_OK)
        return st;
    s->read = read;
    s->user = user;
    snprintf(s->what, sizeof s->what, "%s", opt->path ? opt->path : "virtual mat");
    return rm_source_new(&virtual_ops, s, out, err);
}

rm_status rm_source_replay_run(const char *path, const rm_source_config *cfg, const rm_sink *sinks,
                               size_t nsinks, rm_source_result *res, rm_err *err)
{
    if (res)
        memset(res, 0, sizeof *res);
    rm_source_replay_options ro = {.path = path};
    rm_source *src = NULL;
    rm_status st = rm_source_replay_new(&ro, &src, err);
    if (st != RM_OK) {
        for (size_t i = 0; i < nsinks; i++)
            if (sinks[i].finish)
                sinks[i].finish(sinks[i].ctx, NULL);
        return st;
    }
    st = rm_source_run(src, cfg, sinks, nsinks, res, err);
    rm_source_free(src);
    return st;
}

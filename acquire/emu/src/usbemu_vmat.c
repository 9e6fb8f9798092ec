/* usbemu_vmat.c - the virtual mat (rm_vmat) as the source of the emulated
 * USB device (see rm_usbemu.h). */
#include "rm_usbemu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rm_usbemu_vmat_source {
    rm_vmat_config cfg;
    char *scenario;   /* owned copy of cfg.scenario */
    unsigned rate_hz; /* last SET_RATE, applied to later streams too */
    char serial[64];
};

typedef struct vmat_stream {
    rm_usbemu_vmat_source *src;
    rm_vmat *vm;
    rm_vmat_counts base; /* counts of the skipped frames, not reported */
} vmat_stream;

rm_status rm_usbemu_vmat_source_new(const rm_vmat_config *cfg, rm_usbemu_vmat_source **out,
                                    rm_err *err)
{
    rm_usbemu_vmat_source *src = calloc(1, sizeof *src);
    if (!src)
        return rm_err_set(err, RM_ERR_NOMEM, "vmat source: out of memory");
    src->cfg = *cfg;
    if (cfg->scenario) {
        src->scenario = strdup(cfg->scenario);
        if (!src->scenario) {
            free(src);
            return rm_err_set(err, RM_ERR_NOMEM, "vmat source: out of memory");
        }
        src->cfg.scenario = src->scenario;
    }
    /* Build one mat now: a bad scenario is reported here, and the serial
     * is known before the device is plugged in. */
    rm_vmat *vm = NULL;
    rm_status st = rm_vmat_new(&src->cfg, &vm, err);
    if (st != RM_OK) {
        rm_usbemu_vmat_source_free(src);
        return st;
    }
    snprintf(src->serial, sizeof src->serial, "%s", rm_vmat_serial(vm));
    rm_vmat_free(vm);
    *out = src;
    return RM_OK;
}

void rm_usbemu_vmat_source_free(rm_usbemu_vmat_source *src)
{
    if (!src)
        return;
    free(src->scenario);
    free(src);
}

const char *rm_usbemu_vmat_serial(const rm_usbemu_vmat_source *src) { return src->serial; }

static rm_status v_open(void *user, uint64_t skip, void **out, rm_err *err)
{
    rm_usbemu_vmat_source *src = user;
    vmat_stream *s = calloc(1, sizeof *s);
    if (!s)
        return rm_err_set(err, RM_ERR_NOMEM, "vmat source: out of memory");
    s->src = src;
    rm_status st = rm_vmat_new(&src->cfg, &s->vm, err);
    if (st != RM_OK) {
        free(s);
        return st;
    }
    if (src->rate_hz)
        (void)rm_vmat_set_rate(s->vm, src->rate_hz);
    /* Continue the scenario: the frames (and fault draws) of the skipped
     * part are simulated, not sent. */
    rm_frame_header h;
    for (uint64_t i = 0; i < skip; i++)
        if (rm_vmat_next_frame(s->vm, &h, NULL, NULL) != RM_OK)
            break;
    rm_vmat_get_counts(s->vm, &s->base);
    /* Every START uses a newly opened stream (power-up, replug, or START
     * after STOP), so this is the START of the datasheet: seq restarts at
     * 0, the device clock goes on. */
    rm_vmat_restart_seq(s->vm);
    *out = s;
    return RM_OK;
}

static void v_close(void *user, void *stream)
{
    (void)user;
    vmat_stream *s = stream;
    rm_vmat_free(s->vm);
    free(s);
}

static size_t v_read(void *stream, uint8_t *buf, size_t cap)
{
    return rm_vmat_read_stream(((vmat_stream *)stream)->vm, buf, cap);
}

static rm_status v_set_rate(void *stream, unsigned rate_hz)
{
    vmat_stream *s = stream;
    rm_status st = rm_vmat_set_rate(s->vm, rate_hz);
    if (st == RM_OK)
        s->src->rate_hz = rate_hz;
    return st;
}

static const rm_info *v_info(void *stream) { return rm_vmat_info(((vmat_stream *)stream)->vm); }

static const uint8_t *v_calib(void *stream, size_t *len)
{
    return rm_vmat_calib_blob(((vmat_stream *)stream)->vm, len);
}

static void v_counts(void *stream, rm_vmat_counts *c)
{
    vmat_stream *s = stream;
    rm_vmat_get_counts(s->vm, c);
    c->frames_produced -= s->base.frames_produced;
    c->frames_sent -= s->base.frames_sent;
    c->frames_corrupt -= s->base.frames_corrupt;
    c->frames_truncated -= s->base.frames_truncated;
    c->frames_dropped -= s->base.frames_dropped;
    c->garbage_insertions -= s->base.garbage_insertions;
    c->garbage_bytes -= s->base.garbage_bytes;
}

void rm_usbemu_vmat_source_bind(rm_usbemu_vmat_source *src, rm_usbemu_source *source)
{
    source->user = src;
    source->open = v_open;
    source->close = v_close;
    source->read = v_read;
    source->set_rate = v_set_rate;
    source->info = v_info;
    source->calib_blob = v_calib;
    source->counts = v_counts;
}

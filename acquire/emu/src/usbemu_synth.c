/* usbemu_synth.c - a synthetic, fault-free RM-1 stream (see rm_usbemu.h). */
#include "rm_usbemu.h"

#include <stdlib.h>
#include <string.h>

struct rm_usbemu_synth {
    uint16_t rows, cols;
    unsigned rate_hz;
    uint64_t n_frames;
    uint8_t *calib;
    size_t calib_len;
    uint32_t calib_crc;
};

typedef struct synth_stream {
    const rm_usbemu_synth *syn;
    rm_info info;
    uint64_t next;  /* index of the next frame to encode */
    uint64_t first; /* index of the stream's first frame */
    uint16_t *raw;
    uint8_t *frame;
    size_t frame_len, pos, len;
    rm_vmat_counts counts;
} synth_stream;

rm_status rm_usbemu_synth_new(uint16_t rows, uint16_t cols, unsigned rate_hz, uint64_t n_frames,
                              rm_usbemu_synth **out, rm_err *err)
{
    if (rows < 1 || rows > RM_MAX_DIM || cols < 1 || cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_RANGE, "synth: geometry %ux%u outside 1..256", rows, cols);
    if (rate_hz < 10 || rate_hz > 1000)
        return rm_err_set(err, RM_ERR_RANGE, "synth: rate %u Hz outside 10..1000", rate_hz);
    rm_usbemu_synth *syn = calloc(1, sizeof *syn);
    rm_calib *cal = NULL;
    if (!syn || rm_calib_new(rows, cols, &cal) != RM_OK) {
        free(syn);
        return rm_err_set(err, RM_ERR_NOMEM, "synth: out of memory");
    }
    cal->n_knots = 3;
    cal->knot_raw[0] = 50, cal->knot_raw[1] = 1000, cal->knot_raw[2] = 4000;
    cal->knot_kpa[0] = 0, cal->knot_kpa[1] = 20, cal->knot_kpa[2] = 150;
    for (size_t i = 0; i < (size_t)rows * cols; i++) {
        cal->zero[i] = (uint16_t)(i % 17);
        cal->gain[i] = 0.9f + (float)(i % 5) * 0.05f;
    }
    syn->calib_len = rm_calib_blob_len(cal->n_knots, rows, cols);
    syn->calib = malloc(syn->calib_len);
    size_t written = 0;
    rm_status st =
        syn->calib ? rm_calib_encode(cal, syn->calib, syn->calib_len, &written) : RM_ERR_NOMEM;
    rm_calib_free(cal);
    if (st != RM_OK) {
        rm_usbemu_synth_free(syn);
        return rm_err_set(err, st, "synth: cannot encode the calibration");
    }
    syn->calib_crc = rm_crc32(syn->calib, syn->calib_len);
    syn->rows = rows;
    syn->cols = cols;
    syn->rate_hz = rate_hz;
    syn->n_frames = n_frames;
    *out = syn;
    return RM_OK;
}

void rm_usbemu_synth_free(rm_usbemu_synth *syn)
{
    if (!syn)
        return;
    free(syn->calib);
    free(syn);
}

static rm_status s_open(void *user, uint64_t skip, void **out, rm_err *err)
{
    const rm_usbemu_synth *syn = user;
    synth_stream *s = calloc(1, sizeof *s);
    size_t n = (size_t)syn->rows * syn->cols;
    if (s) {
        s->frame_len = rm_frame_wire_len(syn->rows, syn->cols);
        s->raw = malloc(n * sizeof *s->raw);
        s->frame = malloc(s->frame_len);
    }
    if (!s || !s->raw || !s->frame) {
        if (s) {
            free(s->raw);
            free(s->frame);
        }
        free(s);
        return rm_err_set(err, RM_ERR_NOMEM, "synth: out of memory");
    }
    s->syn = syn;
    s->next = s->first = skip;
    rm_info *in = &s->info;
    in->protocol_version = RM_PROTOCOL_VERSION;
    in->rows = syn->rows;
    in->cols = syn->cols;
    in->adc_bits = 12;
    in->flags = RM_INFO_FLAG_CALIB;
    in->row_pitch_um = in->col_pitch_um = 12700;
    in->rate_hz = (uint16_t)syn->rate_hz;
    in->max_rate_hz = 1000;
    in->min_rate_hz = 10;
    in->calib_len = (uint32_t)syn->calib_len;
    in->calib_crc32 = syn->calib_crc;
    strcpy(in->firmware, "synth-1");
    strcpy(in->model, "RM-1");
    *out = s;
    return RM_OK;
}

static void s_close(void *user, void *stream)
{
    (void)user;
    synth_stream *s = stream;
    free(s->raw);
    free(s->frame);
    free(s);
}

static size_t s_read(void *stream, uint8_t *buf, size_t cap)
{
    synth_stream *s = stream;
    size_t n = 0;
    while (n < cap) {
        if (s->pos == s->len) {
            if (s->next >= s->syn->n_frames)
                break;
            uint64_t i = s->next++;
            size_t ns = (size_t)s->syn->rows * s->syn->cols;
            for (size_t k = 0; k < ns; k++)
                s->raw[k] = (uint16_t)((7 * i + k) % 4096);
            rm_frame_header h = {
                .header_len = RM_FRAME_HEADER_LEN,
                .seq = (uint32_t)(i - s->first),
                .t_device_us = i * 1000000u / s->info.rate_hz,
                .rows = s->syn->rows,
                .cols = s->syn->cols,
            };
            if (rm_frame_encode(&h, s->raw, s->frame, s->frame_len, &s->len) != RM_OK)
                break;
            s->pos = 0;
            s->counts.frames_produced++;
            s->counts.frames_sent++;
        }
        size_t m = s->len - s->pos;
        if (m > cap - n)
            m = cap - n;
        memcpy(buf + n, s->frame + s->pos, m);
        s->pos += m;
        n += m;
    }
    return n;
}

static rm_status s_set_rate(void *stream, unsigned rate)
{
    synth_stream *s = stream;
    if (rate < s->info.min_rate_hz || rate > s->info.max_rate_hz)
        return RM_ERR_RANGE;
    if (s->next != s->first)
        return RM_ERR_STATE;
    s->info.rate_hz = (uint16_t)rate;
    return RM_OK;
}

static const rm_info *s_info(void *stream) { return &((synth_stream *)stream)->info; }

static const uint8_t *s_calib(void *stream, size_t *len)
{
    synth_stream *s = stream;
    *len = s->syn->calib_len;
    return s->syn->calib;
}

static void s_counts(void *stream, rm_vmat_counts *c) { *c = ((synth_stream *)stream)->counts; }

void rm_usbemu_synth_bind(rm_usbemu_synth *syn, rm_usbemu_source *source)
{
    source->user = syn;
    source->open = s_open;
    source->close = s_close;
    source->read = s_read;
    source->set_rate = s_set_rate;
    source->info = s_info;
    source->calib_blob = s_calib;
    source->counts = s_counts;
}

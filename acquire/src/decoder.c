/* decoder.c - the RM-1 frame stream decoder (see rm_decoder.h for the
 * counting rules). */
#define _GNU_SOURCE /* memmem */
#include "rm_decoder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest frame the protocol allows: the biggest header a host accepts,
 * a 256x256 payload and the CRC. */
#define MAX_FRAME_LEN                                                                              \
    ((size_t)RM_FRAME_MAX_HEADER_LEN + 2u * RM_MAX_DIM * RM_MAX_DIM + RM_FRAME_CRC_LEN)
#define BUF_CAP     (2 * MAX_FRAME_LEN)
#define MAX_SENSELS ((size_t)RM_MAX_DIM * RM_MAX_DIM)

struct rm_decoder {
    rm_decoder_config cfg;
    rm_decoder_stats st;
    uint8_t *buf; /* bytes kept between feeds: a partial frame */
    size_t len;
    uint16_t *raw; /* sensels of the frame being emitted */
    int have_seq;  /* last_seq is meaningful */
    int have_t0;
    uint64_t t0_us; /* first device time, for the default clock */
    double last_time;
    int in_bad;               /* skipping the rest of a frame with a bad header */
    uint64_t pending_garbage; /* current garbage run, reported at its end */
};

rm_status rm_decoder_new(const rm_decoder_config *cfg, rm_decoder **out, rm_err *err)
{
    if (!out)
        return rm_err_set(err, RM_ERR_ARG, "decoder: NULL output");
    *out = NULL;
    if (cfg && (cfg->rows > RM_MAX_DIM || cfg->cols > RM_MAX_DIM || !cfg->rows != !cfg->cols))
        return rm_err_set(err, RM_ERR_ARG, "decoder: geometry %ux%u outside 1..256", cfg->rows,
                          cfg->cols);
    rm_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return rm_err_set(err, RM_ERR_NOMEM, "decoder: out of memory");
    if (cfg)
        d->cfg = *cfg;
    d->buf = malloc(BUF_CAP);
    d->raw = malloc(MAX_SENSELS * sizeof *d->raw);
    if (!d->buf || !d->raw) {
        rm_decoder_free(d);
        return rm_err_set(err, RM_ERR_NOMEM, "decoder: out of memory for %zu bytes", BUF_CAP);
    }
    *out = d;
    return RM_OK;
}

void rm_decoder_free(rm_decoder *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d->raw);
    free(d);
}

static rm_status send_event(rm_decoder *d, const char *kind, int64_t value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static rm_status send_event(rm_decoder *d, const char *kind, int64_t value, const char *fmt, ...)
{
    if (!d->cfg.sink || !d->cfg.sink->receive)
        return RM_OK;
    rm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.time_s = d->last_time;
    snprintf(ev.kind, sizeof ev.kind, "%s", kind);
    ev.value = value;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev.text, sizeof ev.text, fmt, ap);
    va_end(ap);
    rm_err e = {0};
    rm_packet pkt = {.type = RM_PKT_EVENT, .u.event = &ev};
    return d->cfg.sink->receive(d->cfg.sink->ctx, &pkt, &e);
}

/* Sink errors are passed up with their message. */
static rm_status sink_send(rm_decoder *d, const rm_packet *pkt, rm_err *err)
{
    if (!d->cfg.sink || !d->cfg.sink->receive)
        return RM_OK;
    return d->cfg.sink->receive(d->cfg.sink->ctx, pkt, err);
}

static rm_status flush_garbage(rm_decoder *d)
{
    if (!d->pending_garbage)
        return RM_OK;
    uint64_t n = d->pending_garbage;
    d->pending_garbage = 0;
    d->st.garbage_runs++;
    if (d->have_seq)
        return send_event(d, RM_EVENT_NOTE, (int64_t)n, "garbage: %llu bytes skipped after seq %u",
                          (unsigned long long)n, d->st.last_seq);
    return send_event(d, RM_EVENT_NOTE, (int64_t)n, "garbage: %llu bytes skipped",
                      (unsigned long long)n);
}

static void skip_bytes(rm_decoder *d, size_t n)
{
    if (d->in_bad)
        return; /* the tail of a frame already counted as corrupt */
    d->st.garbage_bytes += n;
    d->pending_garbage += n;
}

static rm_status truncated(rm_decoder *d, size_t used, const char *why)
{
    d->st.frames_truncated++;
    return send_event(d, RM_EVENT_TRUNCATED, (int64_t)used, "truncated frame: %zu bytes, %s", used,
                      why);
}

static rm_status corrupt(rm_decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static rm_status corrupt(rm_decoder *d, const char *fmt, ...)
{
    char why[RM_EVENT_TEXT_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    d->st.frames_corrupt++;
    return send_event(d, RM_EVENT_CORRUPT, 1, "%s", why);
}

static double frame_time(rm_decoder *d, uint64_t t_us)
{
    if (d->cfg.clock)
        return d->cfg.clock(d->cfg.clock_user, t_us);
    if (!d->have_t0) {
        d->have_t0 = 1;
        d->t0_us = t_us;
    }
    return (double)(int64_t)(t_us - d->t0_us) * 1e-6;
}

static rm_status emit_frame(rm_decoder *d, const rm_frame_header *h, rm_err *err)
{
    if (d->cfg.rows && (h->rows != d->cfg.rows || h->cols != d->cfg.cols))
        return corrupt(d, "frame seq %u is %ux%u, the mat is %ux%u", h->seq, h->rows, h->cols,
                       d->cfg.rows, d->cfg.cols);
    d->last_time = frame_time(d, h->t_device_us);
    rm_status st = RM_OK;
    if (d->have_seq) {
        uint32_t expect = d->st.last_seq + 1u;
        uint32_t diff = h->seq - expect; /* modulo 2^32: wrapping is not a gap */
        if (diff != 0 && diff < 0x80000000u) {
            d->st.gaps++;
            d->st.frames_missing += diff;
            st = send_event(d, RM_EVENT_GAP, (int64_t)diff, "seq %u..%u missing%s", expect,
                            h->seq - 1u,
                            (h->flags & RM_FLAG_DROPPED_BEFORE) ? " (device dropped)" : "");
        } else if (diff != 0) {
            d->st.seq_resets++;
            st = send_event(d, RM_EVENT_NOTE, (int64_t)h->seq, "seq went back from %u to %u",
                            d->st.last_seq, h->seq);
        }
        if (st != RM_OK)
            return st;
    }
    if (h->flags & RM_FLAG_DROPPED_BEFORE)
        d->st.device_drops++;
    d->have_seq = 1;
    d->st.last_seq = h->seq;
    d->st.frames_ok++;
    rm_frame f = {
        .seq = h->seq,
        .flags = h->flags,
        .t_device_us = h->t_device_us,
        .time_s = d->last_time,
        .rows = h->rows,
        .cols = h->cols,
        .raw = d->raw,
    };
    rm_packet pkt = {.type = RM_PKT_FRAME, .u.frame = &f};
    return sink_send(d, &pkt, err);
}

/* Position of the first magic in [from, end) of b, or `end` if none. */
static size_t find_magic(const uint8_t *b, size_t from, size_t end)
{
    if (end <= from || end - from < 4)
        return end;
    const uint8_t *q = memmem(b + from, end - from, RM_FRAME_MAGIC, 4);
    return q ? (size_t)(q - b) : end;
}

/* Length of the longest suffix of b[0,n) that is a proper prefix of the
 * magic: it may become a magic with the next bytes. */
static size_t magic_prefix_suffix(const uint8_t *b, size_t n)
{
    for (size_t k = 3; k > 0; k--)
        if (n >= k && !memcmp(b + n - k, RM_FRAME_MAGIC, k))
            return k;
    return 0;
}

/* Decodes what it can from b[0,n); *used = bytes consumed. With `final`,
 * everything is consumed. */
static rm_status process(rm_decoder *d, const uint8_t *b, size_t n, int final, size_t *used,
                         rm_err *err)
{
    size_t pos = 0;
    rm_status st = RM_OK;
    while (pos < n && st == RM_OK) {
        const uint8_t *p = b + pos;
        size_t avail = n - pos;
        if (avail < 4 || memcmp(p, RM_FRAME_MAGIC, 4) != 0) {
            size_t q = find_magic(b, pos, n);
            size_t skip = q - pos;
            if (q == n && !final)
                skip -= magic_prefix_suffix(p, avail);
            skip_bytes(d, skip);
            pos += skip;
            if (q == n)
                break;
            continue;
        }
        /* At a magic: whatever came before has ended. */
        d->in_bad = 0;
        st = flush_garbage(d);
        if (st != RM_OK)
            break;
        /* The codec reads the header (its offsets are its business); the
         * frame's extent then decides what the damage is. */
        rm_frame_header h;
        size_t flen = 0;
        rm_status r = rm_frame_peek(p, avail, &h, &flen, NULL);
        if (r == RM_OK && avail < flen)
            r = RM_ERR_TRUNCATED;
        else if (r == RM_OK)
            r = rm_frame_decode(p, avail, &h, d->raw, MAX_SENSELS, NULL, NULL, NULL);
        if (r == RM_OK) {
            pos += flen;
            st = emit_frame(d, &h, err);
            continue;
        }
        if (r == RM_ERR_TRUNCATED) {
            if (!final)
                break; /* wait for the rest of the frame */
            size_t q = find_magic(b, pos + 1, n);
            st = truncated(d, q - pos, "stream ends inside it");
            pos = q;
            continue;
        }
        if (r == RM_ERR_CRC) {
            /* A magic starting in the last 3 bytes needs 3 more to be seen:
             * decide only then, so slicing never changes the verdict. */
            if (!final && avail < flen + 3)
                break;
            size_t end = pos + flen + 3 < n ? pos + flen + 3 : n;
            size_t q = find_magic(b, pos + 1, end);
            if (q < pos + flen) {
                st = truncated(d, q - pos, "a new frame starts inside it");
                pos = q;
            } else {
                st = corrupt(d, "frame seq %u: CRC-32 mismatch", h.seq);
                pos += flen;
            }
            continue;
        }
        /* Invalid header (RM_ERR_LENGTH): its length is unknown. */
        if (!final && avail < RM_FRAME_HEADER_LEN + 3)
            break;
        size_t hend = pos + RM_FRAME_HEADER_LEN + 3 < n ? pos + RM_FRAME_HEADER_LEN + 3 : n;
        size_t q = find_magic(b, pos + 1, hend);
        if (q < pos + RM_FRAME_HEADER_LEN) {
            st = truncated(d, q - pos, "a new frame starts inside its header");
            pos = q;
        } else {
            st = corrupt(d, "frame header invalid (header_len %u, payload_len %u, %ux%u)",
                         h.header_len, h.payload_len, h.rows, h.cols);
            d->in_bad = 1;
            pos += 4;
        }
    }
    *used = pos;
    if (st == RM_OK && final) {
        *used = n;
        st = flush_garbage(d);
    }
    return st;
}

rm_status rm_decoder_feed(rm_decoder *d, const void *data, size_t len, rm_err *err)
{
    if (!d || (!data && len))
        return rm_err_set(err, RM_ERR_ARG, "decoder: NULL argument");
    const uint8_t *in = data;
    d->st.bytes += len;
    while (len > 0) {
        size_t used = 0;
        rm_status st;
        if (d->len == 0) {
            /* Nothing kept: decode straight from the caller's bytes and keep
             * only the partial frame at the end (always < MAX_FRAME_LEN). */
            st = process(d, in, len, 0, &used, err);
            if (st != RM_OK)
                return st;
            memcpy(d->buf, in + used, len - used);
            d->len = len - used;
            return RM_OK;
        }
        size_t take = BUF_CAP - d->len < len ? BUF_CAP - d->len : len;
        memcpy(d->buf + d->len, in, take);
        d->len += take;
        in += take;
        len -= take;
        st = process(d, d->buf, d->len, 0, &used, err);
        memmove(d->buf, d->buf + used, d->len - used);
        d->len -= used;
        if (st != RM_OK) {
            d->len = 0;
            return st;
        }
    }
    return RM_OK;
}

rm_status rm_decoder_finish(rm_decoder *d, rm_err *err)
{
    if (!d)
        return rm_err_set(err, RM_ERR_ARG, "decoder: NULL argument");
    size_t used = 0;
    rm_status st = process(d, d->buf, d->len, 1, &used, err);
    d->len = 0;
    d->in_bad = 0;
    return st;
}

rm_status rm_decoder_restart(rm_decoder *d, rm_err *err)
{
    rm_status st = rm_decoder_finish(d, err);
    if (d)
        d->have_seq = 0;
    return st;
}

void rm_decoder_set_clock(rm_decoder *d, rm_decoder_clock_fn clock, void *user)
{
    d->cfg.clock = clock;
    d->cfg.clock_user = user;
}

double rm_decoder_last_time(const rm_decoder *d) { return d->last_time; }

void rm_decoder_get_stats(const rm_decoder *d, rm_decoder_stats *out) { *out = d->st; }

void rm_decoder_stats_to_end(const rm_decoder_stats *st, rm_end *end)
{
    end->frames_ok = st->frames_ok;
    end->frames_corrupt = st->frames_corrupt;
    end->frames_truncated = st->frames_truncated;
    end->frames_missing = st->frames_missing;
    end->garbage_bytes = st->garbage_bytes;
}

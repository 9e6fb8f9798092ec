/* test_decoder.c - the stream decoder on hand-built byte vectors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rm_decoder.h"
#include "rm_proto.h"

#define ROWS 4
#define COLS 3
#define NS   (ROWS * COLS)

typedef struct collect {
    size_t nframes;
    uint32_t seq[256];
    uint16_t flags[256];
    uint16_t raw[256][NS];
    size_t nevents;
    rm_event ev[256];
} collect;

static rm_status collect_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    (void)err;
    collect *c = ctx;
    if (pkt->type == RM_PKT_FRAME) {
        cr_assert_lt(c->nframes, 256);
        cr_assert_eq(pkt->u.frame->rows * pkt->u.frame->cols, NS);
        c->seq[c->nframes] = pkt->u.frame->seq;
        c->flags[c->nframes] = pkt->u.frame->flags;
        memcpy(c->raw[c->nframes], pkt->u.frame->raw, sizeof c->raw[0]);
        c->nframes++;
    } else if (pkt->type == RM_PKT_EVENT) {
        cr_assert_lt(c->nevents, 256);
        c->ev[c->nevents++] = *pkt->u.event;
    }
    return RM_OK;
}

/* A growable byte vector. */
typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void fill_raw(uint16_t *raw, uint32_t seq)
{
    for (int i = 0; i < NS; i++)
        raw[i] = (uint16_t)((seq * 31u + (unsigned)i * 7u) & 0x0FFF);
}

/* Appends one frame with `hlen` header bytes (extra header bytes are 0xEE);
 * returns its offset. */
static size_t put_frame_h(bytes *b, uint32_t seq, uint16_t flags, uint16_t hlen)
{
    uint16_t raw[NS];
    fill_raw(raw, seq);
    rm_frame_header h = {.header_len = RM_FRAME_HEADER_LEN,
                         .flags = flags,
                         .seq = seq,
                         .payload_len = NS * 2,
                         .t_device_us = 1000000ull + seq * 10000ull,
                         .rows = ROWS,
                         .cols = COLS};
    uint8_t tmp[1024];
    size_t w = 0;
    cr_assert_eq(rm_frame_encode(&h, raw, tmp, sizeof tmp, &w), RM_OK);
    size_t at = b->n;
    if (hlen == RM_FRAME_HEADER_LEN) {
        put(b, tmp, w);
        return at;
    }
    uint8_t f[1024];
    memcpy(f, tmp, RM_FRAME_HEADER_LEN);
    rm_put_u16(f + 4, hlen);
    memset(f + RM_FRAME_HEADER_LEN, 0xEE, hlen - RM_FRAME_HEADER_LEN);
    memcpy(f + hlen, tmp + RM_FRAME_HEADER_LEN, NS * 2);
    rm_put_u32(f + hlen + NS * 2, rm_crc32(f, hlen + NS * 2));
    put(b, f, hlen + NS * 2 + 4);
    return at;
}

static size_t put_frame(bytes *b, uint32_t seq) { return put_frame_h(b, seq, 0, 32); }

static size_t frame_len(void) { return rm_frame_wire_len(ROWS, COLS); }

static rm_decoder *make(collect *c, rm_sink *sink)
{
    memset(c, 0, sizeof *c);
    sink->ctx = c;
    sink->receive = collect_receive;
    sink->finish = NULL;
    rm_decoder_config cfg = {.sink = sink, .rows = ROWS, .cols = COLS};
    rm_decoder *d = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_decoder_new(&cfg, &d, &e), RM_OK, "%s", e.msg);
    return d;
}

/* Decodes `b` fed in slices of `step` bytes (0 = whole), then finishes. */
static void run(const bytes *b, size_t step, collect *c, rm_decoder_stats *st)
{
    rm_sink sink;
    rm_decoder *d = make(c, &sink);
    rm_err e = {0};
    if (step == 0)
        step = b->n ? b->n : 1;
    for (size_t off = 0; off < b->n; off += step) {
        size_t n = b->n - off < step ? b->n - off : step;
        cr_assert_eq(rm_decoder_feed(d, b->p + off, n, &e), RM_OK, "%s", e.msg);
    }
    cr_assert_eq(rm_decoder_finish(d, &e), RM_OK, "%s", e.msg);
    rm_decoder_get_stats(d, st);
    rm_decoder_free(d);
}

static size_t count_events(const collect *c, const char *kind, int64_t *sum)
{
    size_t n = 0;
    int64_t s = 0;
    for (size_t i = 0; i < c->nevents; i++)
        if (!strcmp(c->ev[i].kind, kind)) {
            n++;
            s += c->ev[i].value;
        }
    if (sum)
        *sum = s;
    return n;
}

static void check_frames(const collect *c, const uint32_t *seqs, size_t n)
{
    cr_assert_eq(c->nframes, n, "frames %zu, expected %zu", c->nframes, n);
    for (size_t i = 0; i < n; i++) {
        uint16_t raw[NS];
        fill_raw(raw, seqs[i]);
        cr_assert_eq(c->seq[i], seqs[i], "frame %zu seq %u, expected %u", i, c->seq[i], seqs[i]);
        cr_assert_arr_eq(c->raw[i], raw, sizeof raw);
    }
}

Test(decoder, clean_stream_split_at_every_byte)
{
    bytes b = {0};
    uint32_t seqs[5];
    for (uint32_t s = 0; s < 5; s++) {
        seqs[s] = s;
        put_frame(&b, s);
    }
    /* Two slices split at every boundary, then byte by byte. */
    for (size_t cut = 0; cut <= b.n; cut++) {
        collect *c = calloc(1, sizeof *c);
        rm_sink sink;
        rm_decoder *d = make(c, &sink);
        cr_assert_eq(rm_decoder_feed(d, b.p, cut, NULL), RM_OK);
        cr_assert_eq(rm_decoder_feed(d, b.p + cut, b.n - cut, NULL), RM_OK);
        cr_assert_eq(rm_decoder_finish(d, NULL), RM_OK);
        rm_decoder_stats st;
        rm_decoder_get_stats(d, &st);
        check_frames(c, seqs, 5);
        cr_assert_eq(st.frames_ok, 5);
        cr_assert_eq(st.frames_corrupt + st.frames_truncated + st.garbage_bytes + st.gaps, 0,
                     "cut at %zu", cut);
        cr_assert_eq(c->nevents, 0);
        rm_decoder_free(d);
        free(c);
    }
    collect *c = calloc(1, sizeof *c);
    rm_decoder_stats st;
    run(&b, 1, c, &st);
    check_frames(c, seqs, 5);
    cr_assert_eq(st.bytes, b.n);
    free(c);
    free(b.p);
}

Test(decoder, garbage_between_frames)
{
    bytes b = {0};
    const uint8_t junk1[] = {0x00, 'R', 'M', 'F', 0x11, 0xFF, 'R'}; /* near-magics */
    const uint8_t junk2[] = {1, 2, 3};
    put(&b, junk1, sizeof junk1);
    put_frame(&b, 0);
    put(&b, junk2, sizeof junk2);
    put_frame(&b, 1);
    put(&b, "RM", 2); /* trailing partial magic is garbage at the end */
    for (size_t step = 0; step <= 7; step++) {
        collect *c = calloc(1, sizeof *c);
        rm_decoder_stats st;
        run(&b, step, c, &st);
        check_frames(c, (uint32_t[]){0, 1}, 2);
        cr_assert_eq(st.garbage_bytes, sizeof junk1 + sizeof junk2 + 2, "step %zu: %llu", step,
                     (unsigned long long)st.garbage_bytes);
        cr_assert_eq(st.garbage_runs, 3);
        int64_t sum = 0;
        cr_assert_eq(count_events(c, RM_EVENT_NOTE, &sum), 3);
        cr_assert_eq(sum, (int64_t)st.garbage_bytes);
        cr_assert_eq(st.frames_corrupt + st.frames_truncated + st.gaps, 0);
        free(c);
    }
    free(b.p);
}

Test(decoder, corrupt_frame_is_counted_and_skipped)
{
    bytes b = {0};
    put_frame(&b, 0);
    size_t at = put_frame(&b, 1);
    put_frame(&b, 2);
    /* Every byte after the magic flipped in turn: payload and CRC flips give
     * "corrupt"; header flips give corrupt (CRC or invalid header), except
     * one that makes header_len larger but still valid (byte 4): the frame
     * then announces an end beyond the next magic, so by the rules it is
     * truncated (checked below). */
    for (size_t k = 5; k < frame_len(); k++) {
        bytes m = {0};
        put(&m, b.p, b.n);
        m.p[at + k] ^= 0x5A;
        collect *c = calloc(1, sizeof *c);
        rm_decoder_stats st;
        run(&m, 5, c, &st);
        check_frames(c, (uint32_t[]){0, 2}, 2);
        cr_assert_eq(st.frames_corrupt, 1, "flip at %zu", k);
        cr_assert_eq(st.frames_truncated, 0, "flip at %zu", k);
        cr_assert_eq(st.garbage_bytes, 0, "flip at %zu", k);
        cr_assert_eq(st.gaps, 1);
        cr_assert_eq(st.frames_missing, 1);
        int64_t sum;
        cr_assert_eq(count_events(c, RM_EVENT_CORRUPT, NULL), 1);
        cr_assert_eq(count_events(c, RM_EVENT_GAP, &sum), 1);
        cr_assert_eq(sum, 1);
        free(c);
        free(m.p);
    }
    bytes m = {0};
    put(&m, b.p, b.n);
    m.p[at + 4] ^= 0x5A; /* header_len 32 -> 122 */
    collect *c = calloc(1, sizeof *c);
    rm_decoder_stats st;
    run(&m, 0, c, &st);
    check_frames(c, (uint32_t[]){0, 2}, 2);
    cr_assert_eq(st.frames_truncated, 1);
    cr_assert_eq(st.frames_corrupt + st.garbage_bytes, 0);
    free(c);
    free(m.p);
    free(b.p);
}

Test(decoder, truncated_frame_resumes_at_next_magic)
{
    /* Frame 1 cut after k bytes (k = 4 .. len-1), then frame 2 follows. */
    for (size_t k = 4; k < frame_len(); k++) {
        bytes b = {0};
        put_frame(&b, 0);
        size_t at = put_frame(&b, 1);
        b.n = at + k;
        put_frame(&b, 2);
        put_frame(&b, 3);
        /* Whole, in odd slices and byte by byte: the verdict never depends
         * on where the slices end (a magic at the end of a slice). */
        static const size_t steps[] = {0, 1, 7};
        for (size_t si = 0; si < 3; si++) {
            size_t step = steps[si];
            collect *c = calloc(1, sizeof *c);
            rm_decoder_stats st;
            run(&b, step, c, &st);
            check_frames(c, (uint32_t[]){0, 2, 3}, 3);
            cr_assert_eq(st.frames_truncated, 1, "cut at %zu, step %zu", k, step);
            cr_assert_eq(st.frames_corrupt, 0, "cut at %zu", k);
            cr_assert_eq(st.garbage_bytes, 0, "cut at %zu", k);
            int64_t bytes_sum;
            cr_assert_eq(count_events(c, RM_EVENT_TRUNCATED, &bytes_sum), 1);
            cr_assert_eq(bytes_sum, (int64_t)k);
            cr_assert_eq(st.frames_missing, 1);
            free(c);
        }
        free(b.p);
    }
}

Test(decoder, partial_frame_at_end_is_truncated)
{
    for (size_t k = 4; k < frame_len(); k += 3) {
        bytes b = {0};
        put_frame(&b, 0);
        size_t at = put_frame(&b, 1);
        b.n = at + k;
        collect *c = calloc(1, sizeof *c);
        rm_decoder_stats st;
        run(&b, 0, c, &st);
        check_frames(c, (uint32_t[]){0}, 1);
        cr_assert_eq(st.frames_truncated, 1, "cut at %zu", k);
        cr_assert_eq(st.garbage_bytes + st.frames_corrupt, 0);
        free(c);
        free(b.p);
    }
}

Test(decoder, longer_header_is_skipped)
{
    bytes b = {0};
    put_frame_h(&b, 0, 0, 40);
    put_frame_h(&b, 1, 0, 32);
    put_frame_h(&b, 2, 0, 100);
    for (size_t step = 0; step < 4; step++) {
        collect *c = calloc(1, sizeof *c);
        rm_decoder_stats st;
        run(&b, step * 13, c, &st);
        check_frames(c, (uint32_t[]){0, 1, 2}, 3);
        cr_assert_eq(st.frames_corrupt + st.frames_truncated + st.garbage_bytes, 0);
        free(c);
    }
    free(b.p);
}

Test(decoder, seq_wrap_is_not_a_gap)
{
    bytes b = {0};
    uint32_t seqs[] = {0xFFFFFFFEu, 0xFFFFFFFFu, 0, 1};
    for (int i = 0; i < 4; i++)
        put_frame(&b, seqs[i]);
    collect *c = calloc(1, sizeof *c);
    rm_decoder_stats st;
    run(&b, 0, c, &st);
    check_frames(c, seqs, 4);
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.seq_resets, 0);
    cr_assert_eq(c->nevents, 0);
    free(c);
    free(b.p);
}

Test(decoder, gaps_and_device_drops)
{
    bytes b = {0};
    put_frame(&b, 0);
    put_frame(&b, 1);
    put_frame_h(&b, 5, RM_FLAG_DROPPED_BEFORE, 32); /* 2,3,4 dropped */
    put_frame(&b, 6);
    put_frame_h(&b, 8, RM_FLAG_DROPPED_BEFORE, 32); /* 7 dropped */
    collect *c = calloc(1, sizeof *c);
    rm_decoder_stats st;
    run(&b, 11, c, &st);
    check_frames(c, (uint32_t[]){0, 1, 5, 6, 8}, 5);
    cr_assert_eq(st.gaps, 2);
    cr_assert_eq(st.frames_missing, 4);
    cr_assert_eq(st.device_drops, 2);
    int64_t sum;
    cr_assert_eq(count_events(c, RM_EVENT_GAP, &sum), 2);
    cr_assert_eq(sum, 4);
    cr_assert_eq(c->flags[2], RM_FLAG_DROPPED_BEFORE);
    free(c);
    free(b.p);
}

Test(decoder, restart_after_reconnect_is_not_a_gap)
{
    bytes a = {0}, b = {0};
    for (uint32_t s = 0; s < 3; s++)
        put_frame(&a, s);
    size_t at = put_frame(&a, 3);
    a.n = at + 10; /* the unplug cut frame 3 */
    for (uint32_t s = 0; s < 2; s++)
        put_frame(&b, s);
    collect *c = calloc(1, sizeof *c);
    rm_sink sink;
    rm_decoder *d = make(c, &sink);
    cr_assert_eq(rm_decoder_feed(d, a.p, a.n, NULL), RM_OK);
    cr_assert_eq(rm_decoder_restart(d, NULL), RM_OK);
    cr_assert_eq(rm_decoder_feed(d, b.p, b.n, NULL), RM_OK);
    cr_assert_eq(rm_decoder_finish(d, NULL), RM_OK);
    rm_decoder_stats st;
    rm_decoder_get_stats(d, &st);
    check_frames(c, (uint32_t[]){0, 1, 2, 0, 1}, 5);
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.seq_resets, 0);
    cr_assert_eq(st.frames_truncated, 1);
    rm_decoder_free(d);
    free(c);
    free(a.p);
    free(b.p);
}

Test(decoder, seq_backwards_without_restart_is_a_note)
{
    bytes b = {0};
    put_frame(&b, 10);
    put_frame(&b, 11);
    put_frame(&b, 3);
    collect *c = calloc(1, sizeof *c);
    rm_decoder_stats st;
    run(&b, 0, c, &st);
    check_frames(c, (uint32_t[]){10, 11, 3}, 3);
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.seq_resets, 1);
    cr_assert_eq(count_events(c, RM_EVENT_NOTE, NULL), 1);
    free(c);
    free(b.p);
}

Test(decoder, wrong_geometry_is_corrupt)
{
    bytes b = {0};
    put_frame(&b, 0);
    uint16_t raw[6] = {1, 2, 3, 4, 5, 6};
    rm_frame_header h = {.header_len = 32, .seq = 1, .payload_len = 12, .rows = 2, .cols = 3};
    uint8_t tmp[64];
    size_t w;
    cr_assert_eq(rm_frame_encode(&h, raw, tmp, sizeof tmp, &w), RM_OK);
    put(&b, tmp, w);
    put_frame(&b, 2);
    collect *c = calloc(1, sizeof *c);
    rm_decoder_stats st;
    run(&b, 0, c, &st);
    check_frames(c, (uint32_t[]){0, 2}, 2);
    cr_assert_eq(st.frames_corrupt, 1);
    cr_assert_eq(st.frames_missing, 1);
    free(c);
    free(b.p);
}

Test(decoder, random_bytes_bounded_and_counted)
{
    size_t n = 3u << 20;
    uint8_t *junk = malloc(n);
    cr_assert_not_null(junk);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (uint8_t)(x >> 24);
        if (junk[i] == 'R')
            junk[i] = 'r'; /* no accidental magic */
    }
    collect *c = calloc(1, sizeof *c);
    rm_sink sink;
    rm_decoder *d = make(c, &sink);
    for (size_t off = 0; off < n; off += 65536)
        cr_assert_eq(rm_decoder_feed(d, junk + off, 65536, NULL), RM_OK);
    cr_assert_eq(rm_decoder_finish(d, NULL), RM_OK);
    rm_decoder_stats st;
    rm_decoder_get_stats(d, &st);
    cr_assert_eq(st.garbage_bytes, n);
    cr_assert_eq(st.garbage_runs, 1);
    cr_assert_eq(c->nframes, 0);
    rm_decoder_free(d);
    free(c);
    free(junk);
}

Test(decoder, huge_announced_frame_is_bounded)
{
    /* A header announcing a 256x256 frame with a 4096-byte header, then the
     * stream ends: one truncated frame, no overflow. */
    uint8_t h[32] = {'R', 'M', 'F', '1'};
    rm_put_u16(h + 4, RM_FRAME_MAX_HEADER_LEN);
    rm_put_u32(h + 12, 256u * 256u * 2u);
    rm_put_u16(h + 24, 256);
    rm_put_u16(h + 26, 256);
    rm_decoder *d = NULL;
    rm_decoder_config cfg = {0};
    cr_assert_eq(rm_decoder_new(&cfg, &d, NULL), RM_OK);
    cr_assert_eq(rm_decoder_feed(d, h, sizeof h, NULL), RM_OK);
    uint8_t zeros[1000] = {0};
    for (int i = 0; i < 200; i++)
        cr_assert_eq(rm_decoder_feed(d, zeros, sizeof zeros, NULL), RM_OK);
    cr_assert_eq(rm_decoder_finish(d, NULL), RM_OK);
    rm_decoder_stats st;
    rm_decoder_get_stats(d, &st);
    cr_assert_eq(st.frames_corrupt, 1); /* complete but its CRC fails */
    cr_assert_eq(st.garbage_bytes, 200000 + 32 - (RM_FRAME_MAX_HEADER_LEN + 131072 + 4));
    rm_decoder_free(d);
}

static rm_status failing_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    int *n = ctx;
    if (pkt->type == RM_PKT_FRAME && ++*n == 2)
        return rm_err_set(err, RM_ERR_IO, "disk full");
    return RM_OK;
}

Test(decoder, sink_error_stops_decoding)
{
    bytes b = {0};
    for (uint32_t s = 0; s < 4; s++)
        put_frame(&b, s);
    int n = 0;
    rm_sink failing = {.ctx = &n, .receive = failing_receive};
    rm_decoder_config cfg = {.sink = &failing};
    rm_decoder *d = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_decoder_new(&cfg, &d, NULL), RM_OK);
    cr_assert_eq(rm_decoder_feed(d, b.p, b.n, &e), RM_ERR_IO);
    cr_assert_str_eq(e.msg, "disk full");
    cr_assert_eq(n, 2);
    rm_decoder_free(d);
    rm_decoder_config bad = {.rows = 300, .cols = 2};
    cr_assert_eq(rm_decoder_new(&bad, &d, &e), RM_ERR_ARG);
    cr_assert(strstr(e.msg, "300x2") != NULL, "%s", e.msg);
    /* No sink at all: frames are only counted. */
    rm_decoder_config none = {0};
    cr_assert_eq(rm_decoder_new(&none, &d, NULL), RM_OK);
    cr_assert_eq(rm_decoder_feed(d, b.p, b.n, NULL), RM_OK);
    rm_decoder_stats st;
    rm_decoder_get_stats(d, &st);
    cr_assert_eq(st.frames_ok, 4);
    rm_decoder_free(d);
    free(b.p);
}

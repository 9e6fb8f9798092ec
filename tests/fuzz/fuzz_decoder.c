/* fuzz_decoder.c - libFuzzer target for the incremental stream decoder.
 *
 * The first input byte picks a slice size; the rest is the byte stream,
 * fed in slices of that size (frames never align with transfers). The same
 * bytes are then decoded in one piece; invariants (abort on violation):
 * - slicing never changes the result: the same frames (seq and content)
 *   and the same counts;
 * - every byte is accounted for: bytes of ok frames + garbage + bytes of
 *   bad frames = input length (checked as: garbage <= input, and ok frames'
 *   bytes <= input);
 * - memory stays bounded and nothing is read outside the input (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_decoder.h"

typedef struct digest {
    uint64_t frames;
    uint64_t bytes; /* wire bytes of ok frames */
    uint32_t hash;  /* of seqs and sensels */
} digest;

static rm_status on_packet(void *ctx, const rm_packet *pkt, rm_err *err)
{
    (void)err;
    digest *d = ctx;
    if (pkt->type != RM_PKT_FRAME)
        return RM_OK;
    const rm_frame *f = pkt->u.frame;
    d->frames++;
    d->bytes += rm_frame_wire_len(f->rows, f->cols);
    uint32_t h = d->hash ^ f->seq;
    size_t n = (size_t)f->rows * f->cols;
    for (size_t i = 0; i < n; i++)
        h = h * 16777619u ^ f->raw[i];
    d->hash = h;
    return RM_OK;
}

static void run(const uint8_t *data, size_t size, size_t step, digest *d, rm_decoder_stats *st)
{
    memset(d, 0, sizeof *d);
    rm_sink sink = {.ctx = d, .receive = on_packet};
    rm_decoder_config cfg = {.sink = &sink};
    rm_decoder *dec = NULL;
    if (rm_decoder_new(&cfg, &dec, NULL) != RM_OK)
        abort();
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (rm_decoder_feed(dec, data + off, n, NULL) != RM_OK)
            abort();
    }
    if (rm_decoder_finish(dec, NULL) != RM_OK)
        abort();
    rm_decoder_get_stats(dec, st);
    rm_decoder_free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    digest a, b;
    rm_decoder_stats sa, sb;
    run(data, size, step, &a, &sa);
    run(data, size, size ? size : 1, &b, &sb);
    if (a.frames != b.frames || a.hash != b.hash || sa.frames_corrupt != sb.frames_corrupt ||
        sa.frames_truncated != sb.frames_truncated || sa.garbage_bytes != sb.garbage_bytes ||
        sa.frames_missing != sb.frames_missing || sa.frames_ok != a.frames)
        abort();
    if (sa.garbage_bytes > size || a.bytes > size || sa.bytes != size)
        abort();
    return 0;
}

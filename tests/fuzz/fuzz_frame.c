/* fuzz_frame.c - libFuzzer target for rm_frame_decode.
 *
 * The input is a byte stream: it is decoded as a host would (frame, or
 * resynchronise on the next "RMF1"), so one input exercises many frames.
 * Invariants checked (abort on violation): a decoded frame fits in the
 * input, announces consistent lengths, and re-encodes to the same bytes
 * when its header is version 1 (32 bytes); TRUNCATED's `need` exceeds the
 * input; decoding never reads outside the input (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_proto.h"

static uint16_t raw[RM_MAX_DIM * RM_MAX_DIM];
static uint8_t enc[RM_FRAME_HEADER_LEN + RM_MAX_DIM * RM_MAX_DIM * 2 + RM_FRAME_CRC_LEN];

static void check_one(const uint8_t *data, size_t size, size_t *advance)
{
    rm_frame_header h;
    size_t flen = 0, need = 0;
    rm_err e = {0};
    rm_status st =
        rm_frame_decode(data, size, &h, raw, sizeof raw / sizeof raw[0], &flen, &need, &e);
    *advance = 1;
    if (st == RM_OK) {
        size_t n = (size_t)h.rows * h.cols;
        if (flen > size || flen != (size_t)h.header_len + n * 2 + RM_FRAME_CRC_LEN ||
            h.payload_len != n * 2 || h.rows < 1 || h.cols < 1 || h.rows > RM_MAX_DIM ||
            h.cols > RM_MAX_DIM)
            abort();
        if (h.header_len == RM_FRAME_HEADER_LEN && rm_get_u32(data + 28) == 0) {
            size_t w = 0;
            if (rm_frame_encode(&h, raw, enc, sizeof enc, &w) != RM_OK || w != flen ||
                memcmp(enc, data, w) != 0)
                abort();
        }
        /* a too-small sensel buffer is refused, never overrun */
        if (n > 1 && rm_frame_decode(data, size, &h, raw, n - 1, NULL, NULL, NULL) != RM_ERR_RANGE)
            abort();
        *advance = flen;
        return;
    }
    if (st == RM_ERR_TRUNCATED && need != 0 && need <= size)
        abort();
    if (e.msg[0] == '\0' || e.status != st)
        abort(); /* every error carries its message */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *m = NULL;
        for (size_t i = pos; i + 4 <= size; i++)
            if (!memcmp(data + i, RM_FRAME_MAGIC, 4)) {
                m = data + i;
                break;
            }
        if (!m) {
            size_t adv;
            check_one(data + pos, size - pos, &adv); /* bad magic or short */
            break;
        }
        pos = (size_t)(m - data);
        size_t adv;
        check_one(data + pos, size - pos, &adv);
        pos += adv;
    }
    return 0;
}

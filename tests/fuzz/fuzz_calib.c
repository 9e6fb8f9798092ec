/* fuzz_calib.c - libFuzzer target for rm_calib_decode and rm_info_decode.
 *
 * Input layout: byte 0 = rows - 1, byte 1 = cols - 1 (so 1..256 each),
 * byte 2 bit 0 = check a CRC (the CRC of the blob itself, so it matches),
 * bytes 3.. = the calibration blob; the same bytes are also decoded as an
 * info block. Invariants (abort on violation): a decoded calibration
 * validates and re-encodes to exactly the input blob; a decoded info block
 * re-encodes to bytes that decode to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint16_t rows = (uint16_t)(data[0] + 1), cols = (uint16_t)(data[1] + 1);
    const uint8_t *blob = data + 3;
    size_t len = size - 3;
    uint32_t crc = rm_crc32(blob, len);
    rm_calib *c = NULL;
    rm_err e = {0};
    rm_status st = rm_calib_decode(blob, len, rows, cols, (data[2] & 1) ? &crc : NULL, &c, &e);
    if (st == RM_OK) {
        if (!c || rm_calib_validate(c, NULL) != RM_OK || c->rows != rows || c->cols != cols)
            abort();
        uint8_t *out = malloc(len);
        size_t w = 0;
        if (!out || rm_calib_encode(c, out, len, &w) != RM_OK || w != len ||
            memcmp(out, blob, len) != 0)
            abort();
        size_t n = (size_t)rows * cols;
        uint16_t *raw = malloc(n * sizeof *raw);
        float *kpa = malloc(n * sizeof *kpa);
        if (raw && kpa) {
            for (size_t i = 0; i < n; i++)
                raw[i] = (uint16_t)(i * 977);
            rm_calib_pressure(c, raw, kpa);
        }
        free(raw);
        free(kpa);
        free(out);
        rm_calib_free(c);
    } else if (c || e.msg[0] == '\0') {
        abort();
    }

    rm_info info, again;
    if (rm_info_decode(blob, len, &info, NULL) == RM_OK) {
        uint8_t buf[RM_INFO_LEN];
        rm_info_encode(&info, buf);
        if (rm_info_decode(buf, sizeof buf, &again, NULL) != RM_OK || again.rows != info.rows ||
            again.cols != info.cols || again.rate_hz != info.rate_hz ||
            again.calib_crc32 != info.calib_crc32 || strcmp(again.model, info.model) != 0 ||
            strcmp(again.firmware, info.firmware) != 0)
            abort();
    }
    rm_dev_status ds;
    rm_dev_status_decode(blob, len, &ds, NULL);
    return 0;
}

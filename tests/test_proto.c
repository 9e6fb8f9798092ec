/* test_proto.c - the RM-1 wire structures: round trips, CRC, and a named
 * error for every kind of malformed input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rm_proto.h"
#include "rm_status.h"

static uint16_t pattern(size_t i) { return (uint16_t)((i * 2654435761u) >> 20) & 0x0FFF; }

static size_t make_frame(uint16_t rows, uint16_t cols, uint32_t seq, uint8_t **out)
{
    size_t n = (size_t)rows * cols;
    uint16_t *raw = malloc(n * sizeof *raw);
    for (size_t i = 0; i < n; i++)
        raw[i] = pattern(i + seq);
    rm_frame_header h = {.flags = RM_FLAG_SATURATED,
                         .seq = seq,
                         .t_device_us = 123456789012ull,
                         .rows = rows,
                         .cols = cols};
    size_t len = rm_frame_wire_len(rows, cols);
    *out = malloc(len);
    size_t written = 0;
    cr_assert_eq(rm_frame_encode(&h, raw, *out, len, &written), RM_OK);
    cr_assert_eq(written, len);
    free(raw);
    return len;
}

static void reseal(uint8_t *buf, size_t len) { rm_put_u32(buf + len - 4, rm_crc32(buf, len - 4)); }

Test(crc, known_vector)
{
    cr_assert_eq(rm_crc32("123456789", 9), 0xCBF43926u);
    cr_assert_eq(rm_crc32("", 0), 0u);
}

Test(info, round_trip)
{
    rm_info in = {.protocol_version = 1,
                  .rows = 64,
                  .cols = 48,
                  .adc_bits = 12,
                  .flags = RM_INFO_FLAG_CALIB,
                  .row_pitch_um = 12700,
                  .col_pitch_um = 12000,
                  .rate_hz = 100,
                  .max_rate_hz = 1000,
                  .min_rate_hz = 10,
                  .calib_len = (uint32_t)rm_calib_blob_len(8, 64, 48),
                  .calib_crc32 = 0xDEADBEEF};
    strcpy(in.firmware, "fw-1.2.3");
    strcpy(in.model, "0123456789abcdef"); /* exactly 16: no NUL on the wire */
    uint8_t buf[RM_INFO_LEN];
    rm_info_encode(&in, buf);
    cr_assert_eq(rm_get_u16(buf + 22), 0, "reserved field must be 0");
    rm_info out;
    rm_err e = {0};
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(out.rows, 64);
    cr_assert_eq(out.cols, 48);
    cr_assert_eq(out.adc_bits, 12);
    cr_assert_eq(out.col_pitch_um, 12000);
    cr_assert_eq(out.rate_hz, 100);
    cr_assert_eq(out.min_rate_hz, 10);
    cr_assert_eq(out.max_rate_hz, 1000);
    cr_assert_eq(out.calib_len, in.calib_len);
    cr_assert_eq(out.calib_crc32, 0xDEADBEEF);
    cr_assert_str_eq(out.firmware, "fw-1.2.3");
    cr_assert_str_eq(out.model, "0123456789abcdef");
}

Test(info, malformed)
{
    rm_info in = {.protocol_version = 1,
                  .rows = 64,
                  .cols = 48,
                  .adc_bits = 12,
                  .row_pitch_um = 12700,
                  .col_pitch_um = 12700,
                  .rate_hz = 100,
                  .max_rate_hz = 1000,
                  .min_rate_hz = 10};
    uint8_t good[RM_INFO_LEN], buf[RM_INFO_LEN];
    rm_info_encode(&in, good);
    rm_info out;
    rm_err e = {0};
    cr_assert_eq(rm_info_decode(good, RM_INFO_LEN - 1, &out, &e), RM_ERR_TRUNCATED);
    memcpy(buf, good, sizeof buf);
    rm_put_u16(buf, 2);
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_ERR_VERSION);
    memcpy(buf, good, sizeof buf);
    rm_put_u16(buf + 2, 0);
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_ERR_RANGE);
    memcpy(buf, good, sizeof buf);
    rm_put_u16(buf + 4, 257);
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_ERR_RANGE);
    memcpy(buf, good, sizeof buf);
    buf[6] = 17;
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_ERR_RANGE);
    memcpy(buf, good, sizeof buf);
    rm_put_u16(buf + 16, 5000); /* rate above max */
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_ERR_RANGE);
    cr_assert(strstr(e.msg, "rate") != NULL, "message names the field: %s", e.msg);
    memcpy(buf, good, sizeof buf);
    rm_put_u32(buf + 8, 0);
    cr_assert_eq(rm_info_decode(buf, sizeof buf, &out, &e), RM_ERR_RANGE);
}

Test(status_block, round_trip)
{
    rm_dev_status st = {.frames_sent = 4000000000u,
                        .frames_dropped = 7,
                        .uptime_s = 86400,
                        .temperature_centi_c = -1234};
    uint8_t buf[RM_STATUS_LEN];
    rm_dev_status_encode(&st, buf);
    rm_dev_status out;
    cr_assert_eq(rm_dev_status_decode(buf, sizeof buf, &out, NULL), RM_OK);
    cr_assert_eq(out.frames_sent, 4000000000u);
    cr_assert_eq(out.frames_dropped, 7);
    cr_assert_eq(out.uptime_s, 86400);
    cr_assert_eq(out.temperature_centi_c, -1234);
    st.temperature_centi_c = RM_TEMPERATURE_UNKNOWN;
    rm_dev_status_encode(&st, buf);
    cr_assert_eq(rm_get_u16(buf + 12), 0x8000);
    cr_assert_eq(rm_dev_status_decode(buf, RM_STATUS_LEN - 1, &out, NULL), RM_ERR_TRUNCATED);
}

static rm_calib *make_calib(uint16_t rows, uint16_t cols, uint16_t knots)
{
    rm_calib *c;
    cr_assert_eq(rm_calib_new(rows, cols, &c), RM_OK);
    c->n_knots = knots;
    for (unsigned k = 0; k < knots; k++) {
        c->knot_raw[k] = (float)(k * 100);
        c->knot_kpa[k] = (float)(k * k * 0.5);
    }
    for (size_t i = 0; i < (size_t)rows * cols; i++) {
        c->zero[i] = (uint16_t)(30 + i % 17);
        c->gain[i] = (float)(0.9 + (i % 7) * 0.03);
    }
    return c;
}

static uint8_t *encode_calib(const rm_calib *c, size_t *len)
{
    size_t need = rm_calib_blob_len(c->n_knots, c->rows, c->cols);
    uint8_t *b = malloc(need + 16);
    cr_assert_eq(rm_calib_encode(c, b, need + 16, len), RM_OK);
    cr_assert_eq(*len, need);
    return b;
}

Test(calib, round_trip)
{
    rm_calib *c = make_calib(5, 7, 9);
    size_t len;
    uint8_t *b = encode_calib(c, &len);
    uint32_t crc = rm_crc32(b, len);
    rm_calib *d = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_calib_decode(b, len, 5, 7, &crc, &d, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(d->n_knots, 9);
    for (unsigned k = 0; k < 9; k++) {
        cr_assert_eq(d->knot_raw[k], c->knot_raw[k]);
        cr_assert_eq(d->knot_kpa[k], c->knot_kpa[k]);
    }
    for (size_t i = 0; i < 35; i++) {
        cr_assert_eq(d->zero[i], c->zero[i]);
        cr_assert(fabsf(d->gain[i] - c->gain[i]) <= 0.5f / 4096, "gain %zu", i);
    }
    rm_calib *cp;
    cr_assert_eq(rm_calib_copy(d, &cp), RM_OK);
    cr_assert_eq(cp->zero[34], d->zero[34]);
    rm_calib_free(cp);
    rm_calib_free(d);
    free(b);
    rm_calib_free(c);
}

/* Decodes `b` and expects `want`; the blob stays owned by the caller. */
static void expect_calib(const uint8_t *b, size_t len, const uint32_t *crc, rm_status want,
                         const char *what)
{
    rm_calib *d = NULL;
    rm_err e = {0};
    rm_status st = rm_calib_decode(b, len, 5, 7, crc, &d, &e);
    cr_expect_eq(st, want, "%s: got %s (%s), want %s", what, rm_status_name(st), e.msg,
                 rm_status_name(want));
    if (st != RM_OK)
        cr_expect(e.msg[0] != '\0', "%s: no message", what);
    rm_calib_free(d);
}

static void set_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    rm_put_u32(p, u);
}

Test(calib, malformed)
{
    rm_calib *c = make_calib(5, 7, 4);
    size_t len;
    uint8_t *good = encode_calib(c, &len);
    uint8_t *b = malloc(len + 8);
    const size_t raw0 = 8, kpa0 = 8 + 4 * 4;

    memcpy(b, good, len);
    b[3] = '2';
    expect_calib(b, len, NULL, RM_ERR_MAGIC, "magic");
    memcpy(b, good, len);
    rm_put_u16(b + 4, 2);
    expect_calib(b, len, NULL, RM_ERR_VERSION, "version");
    memcpy(b, good, len);
    rm_put_u16(b + 6, 1);
    expect_calib(b, len, NULL, RM_ERR_RANGE, "one knot");
    rm_put_u16(b + 6, 65);
    expect_calib(b, len, NULL, RM_ERR_RANGE, "65 knots");
    memcpy(b, good, len);
    set_f32(b + raw0 + 8, 100.0f); /* knot 2 == knot 1 */
    expect_calib(b, len, NULL, RM_ERR_VALUE, "non-increasing knot_raw");
    memcpy(b, good, len);
    set_f32(b + kpa0 + 12, 0.1f); /* kPa decreasing */
    expect_calib(b, len, NULL, RM_ERR_VALUE, "decreasing knot_kpa");
    memcpy(b, good, len);
    set_f32(b + kpa0, 0.25f);
    expect_calib(b, len, NULL, RM_ERR_VALUE, "knot_kpa[0] != 0");
    memcpy(b, good, len);
    set_f32(b + raw0 + 4, NAN);
    expect_calib(b, len, NULL, RM_ERR_VALUE, "NaN knot_raw");
    memcpy(b, good, len);
    set_f32(b + kpa0 + 8, INFINITY);
    expect_calib(b, len, NULL, RM_ERR_VALUE, "infinite knot_kpa");
    expect_calib(good, len - 1, NULL, RM_ERR_TRUNCATED, "short blob");
    expect_calib(good, 7, NULL, RM_ERR_TRUNCATED, "shorter than the header");
    memcpy(b, good, len);
    b[len] = 0;
    expect_calib(b, len + 1, NULL, RM_ERR_LENGTH, "long blob");
    uint32_t crc = rm_crc32(good, len) ^ 1u;
    expect_calib(good, len, &crc, RM_ERR_CRC, "CRC mismatch");
    crc ^= 1u;
    expect_calib(good, len, &crc, RM_OK, "CRC match");
    rm_calib *d = NULL;
    /* The blob of a 5x7 mat does not fit a 5x8 one. */
    cr_expect_eq(rm_calib_decode(good, len, 5, 8, NULL, &d, NULL), RM_ERR_TRUNCATED);
    cr_expect_eq(rm_calib_decode(good, len, 5, 6, NULL, &d, NULL), RM_ERR_LENGTH);
    cr_expect_eq(rm_calib_decode(good, len, 0, 6, NULL, &d, NULL), RM_ERR_ARG);
    rm_calib_free(d);
    free(b);
    free(good);
    rm_calib_free(c);
}

Test(calib, validate_gain)
{
    rm_calib *c = make_calib(2, 2, 3);
    cr_assert_eq(rm_calib_validate(c, NULL), RM_OK);
    c->gain[3] = -1.0f;
    rm_err e = {0};
    cr_assert_eq(rm_calib_validate(c, &e), RM_ERR_VALUE);
    cr_assert(strstr(e.msg, "(1, 1)") != NULL, "names the sensel: %s", e.msg);
    c->gain[3] = NAN;
    cr_assert_eq(rm_calib_validate(c, NULL), RM_ERR_VALUE);
    rm_calib_free(c);
}

Test(calib, pressure_formula)
{
    /* knots (0,0) (100,10) (300,50): hand-computed expectations. */
    rm_calib *c;
    cr_assert_eq(rm_calib_new(1, 6, &c), RM_OK);
    c->n_knots = 3;
    c->knot_raw[0] = 0, c->knot_kpa[0] = 0;
    c->knot_raw[1] = 100, c->knot_kpa[1] = 10;
    c->knot_raw[2] = 300, c->knot_kpa[2] = 50;
    for (int i = 0; i < 6; i++)
        c->zero[i] = 20;
    c->gain[1] = 2.0f;
    c->gain[4] = 0.5f;
    uint16_t raw[6] = {70, 120, 220, 1000, 10, 20};
    float kpa[6];
    rm_calib_pressure(c, raw, kpa);
    cr_expect_float_eq(kpa[0], 5.0f, 1e-5);  /* 50 counts: half way to knot 1 */
    cr_expect_float_eq(kpa[1], 20.0f, 1e-5); /* 100 counts, gain 2 */
    cr_expect_float_eq(kpa[2], 30.0f, 1e-5); /* 200: 10 + 100/200 * 40 */
    cr_expect_float_eq(kpa[3], 50.0f, 1e-5); /* past the last knot: clamped */
    cr_expect_float_eq(kpa[4], 0.0f, 1e-6);  /* raw below zero -> curve(0) */
    cr_expect_float_eq(kpa[5], 0.0f, 1e-6);  /* raw == zero */
    cr_expect_float_eq(rm_calib_curve(c, -5.0f), 0.0f, 1e-6);
    /* A curve whose first knot is above 0 raw still returns knot_kpa[0]. */
    c->knot_raw[0] = 10;
    cr_expect_float_eq(rm_calib_curve(c, 0.0f), 0.0f, 1e-6);
    rm_calib_free(c);
}

Test(frame, round_trip)
{
    uint16_t dims[][2] = {{1, 1}, {2, 3}, {64, 48}, {256, 256}, {1, 256}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        uint8_t *buf;
        size_t len = make_frame(dims[k][0], dims[k][1], 41 + (uint32_t)k, &buf);
        cr_assert_eq(len, 32 + (size_t)dims[k][0] * dims[k][1] * 2 + 4);
        cr_assert_eq(memcmp(buf, "RMF1", 4), 0);
        size_t n = (size_t)dims[k][0] * dims[k][1];
        uint16_t *raw = malloc(n * sizeof *raw);
        rm_frame_header h;
        size_t flen = 0, need = 99;
        rm_err e = {0};
        cr_assert_eq(rm_frame_decode(buf, len, &h, raw, n, &flen, &need, &e), RM_OK, "%s", e.msg);
        cr_assert_eq(flen, len);
        cr_assert_eq(need, 0);
        cr_assert_eq(h.seq, 41 + k);
        cr_assert_eq(h.flags, RM_FLAG_SATURATED);
        cr_assert_eq(h.t_device_us, 123456789012ull);
        cr_assert_eq(h.rows, dims[k][0]);
        cr_assert_eq(h.cols, dims[k][1]);
        cr_assert_eq(h.header_len, 32);
        cr_assert_eq(h.payload_len, n * 2);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(raw[i], pattern(i + 41 + k));
        free(raw);
        free(buf);
    }
}

Test(frame, extra_bytes_after_frame_are_not_consumed)
{
    uint8_t *a;
    size_t len = make_frame(2, 3, 1, &a);
    uint8_t *two = malloc(2 * len);
    memcpy(two, a, len);
    memcpy(two + len, a, len);
    rm_frame_header h;
    size_t flen;
    cr_assert_eq(rm_frame_decode(two, 2 * len, &h, NULL, 0, &flen, NULL, NULL), RM_OK);
    cr_assert_eq(flen, len);
    free(two);
    free(a);
}

Test(frame, longer_header_is_skipped)
{
    /* A future version with a 40-byte header: the payload starts at 40. */
    uint8_t *a;
    size_t len = make_frame(2, 3, 5, &a);
    size_t len2 = len + 8;
    uint8_t *b = calloc(1, len2);
    memcpy(b, a, 32);
    memcpy(b + 40, a + 32, 12);
    rm_put_u16(b + 4, 40);
    reseal(b, len2);
    rm_frame_header h;
    uint16_t raw[6];
    size_t flen;
    rm_err e = {0};
    cr_assert_eq(rm_frame_decode(b, len2, &h, raw, 6, &flen, NULL, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(flen, len2);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(raw[i], pattern((size_t)i + 5));
    free(b);
    free(a);
}

static void expect_frame(const uint8_t *b, size_t len, rm_status want, const char *what)
{
    rm_frame_header h;
    uint16_t raw[6];
    size_t flen = 0, need = 0;
    rm_err e = {0};
    rm_status st = rm_frame_decode(b, len, &h, raw, 6, &flen, &need, &e);
    cr_expect_eq(st, want, "%s: got %s (%s), want %s", what, rm_status_name(st), e.msg,
                 rm_status_name(want));
    if (st != RM_OK)
        cr_expect(e.msg[0] != '\0', "%s: no message", what);
}

Test(frame, malformed_header)
{
    uint8_t *good;
    size_t len = make_frame(2, 3, 9, &good);
    uint8_t *b = malloc(len);

    memcpy(b, good, len);
    b[0] = 'X';
    expect_frame(b, len, RM_ERR_MAGIC, "bad magic");
    memcpy(b, good, len);
    b[3] = '2';
    expect_frame(b, len, RM_ERR_MAGIC, "magic RMF2");
    for (uint16_t hl = 0; hl < 32; hl += 7) {
        memcpy(b, good, len);
        rm_put_u16(b + 4, hl);
        reseal(b, len);
        expect_frame(b, len, RM_ERR_LENGTH, "header_len < 32");
    }
    memcpy(b, good, len);
    rm_put_u16(b + 4, RM_FRAME_MAX_HEADER_LEN + 1);
    expect_frame(b, len, RM_ERR_LENGTH, "header_len too large");
    memcpy(b, good, len);
    rm_put_u32(b + 12, 14);
    reseal(b, len);
    expect_frame(b, len, RM_ERR_LENGTH, "payload_len != rows*cols*2");
    memcpy(b, good, len);
    rm_put_u32(b + 12, 0xFFFFFFFFu);
    expect_frame(b, len, RM_ERR_LENGTH, "huge payload_len");
    const size_t geo[][2] = {{0, 3}, {2, 0}, {257, 3}, {2, 257}, {0, 0}};
    for (size_t k = 0; k < 5; k++) {
        memcpy(b, good, len);
        rm_put_u16(b + 24, (uint16_t)geo[k][0]);
        rm_put_u16(b + 26, (uint16_t)geo[k][1]);
        rm_put_u32(b + 12, (uint32_t)(geo[k][0] * geo[k][1] * 2));
        expect_frame(b, len, RM_ERR_LENGTH, "rows/cols 0 or > 256");
    }
    free(b);
    free(good);
}

Test(frame, peek_reads_the_header_only)
{
    uint8_t *good;
    size_t len = make_frame(2, 3, 9, &good);
    rm_frame_header h;
    size_t flen = 0;
    rm_err e = {0};
    /* The header alone is enough; payload and CRC are not looked at. */
    cr_assert_eq(rm_frame_peek(good, RM_FRAME_HEADER_LEN, &h, &flen, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(flen, len);
    cr_expect_eq(h.header_len, RM_FRAME_HEADER_LEN);
    cr_expect_eq(h.flags, RM_FLAG_SATURATED);
    cr_expect_eq(h.seq, 9);
    cr_expect_eq(h.payload_len, 12);
    cr_expect_eq(h.t_device_us, 123456789012ull);
    cr_expect_eq(h.rows, 2);
    cr_expect_eq(h.cols, 3);
    rm_frame_header d;
    cr_assert_eq(rm_frame_decode(good, len, &d, NULL, 0, NULL, NULL, NULL), RM_OK);
    cr_expect(d.header_len == h.header_len && d.flags == h.flags && d.seq == h.seq &&
                  d.payload_len == h.payload_len && d.t_device_us == h.t_device_us &&
                  d.rows == h.rows && d.cols == h.cols,
              "peek and decode read different headers");
    good[len - 1] ^= 0xFF; /* a bad CRC is decode's verdict, not peek's */
    cr_expect_eq(rm_frame_peek(good, len, &h, &flen, NULL), RM_OK);
    cr_expect_eq(rm_frame_decode(good, len, &d, NULL, 0, NULL, NULL, NULL), RM_ERR_CRC);
    good[len - 1] ^= 0xFF;

    /* Too few bytes for a header: TRUNCATED while they match the magic,
     * outputs untouched. */
    for (size_t l = 0; l < RM_FRAME_HEADER_LEN; l++) {
        rm_frame_header u = {.seq = 77};
        size_t ul = 55;
        e.msg[0] = 0;
        rm_status st = rm_frame_peek(good, l, &u, &ul, &e);
        cr_expect_eq(st, RM_ERR_TRUNCATED, "length %zu: %s", l, rm_status_name(st));
        cr_expect(e.msg[0] != 0, "length %zu: no message", l);
        cr_expect(u.seq == 77 && ul == 55, "length %zu: outputs written", l);
    }
    const uint8_t not_magic[3] = {'R', 'M', 'X'};
    cr_expect_eq(rm_frame_peek(not_magic, 3, &h, &flen, NULL), RM_ERR_MAGIC);
    cr_expect_eq(rm_frame_peek(not_magic, 2, &h, &flen, NULL), RM_ERR_TRUNCATED);

    uint8_t *b = malloc(len);
    memcpy(b, good, len);
    b[2] = 'G';
    cr_expect_eq(rm_frame_peek(b, len, &h, &flen, NULL), RM_ERR_MAGIC);
    /* Invalid fields: LENGTH, extent unknown, the fields as read kept for
     * the caller's message. */
    memcpy(b, good, len);
    rm_put_u32(b + 12, 14);
    flen = 99;
    cr_expect_eq(rm_frame_peek(b, len, &h, &flen, &e), RM_ERR_LENGTH);
    cr_expect_eq(flen, 0);
    cr_expect_eq(h.payload_len, 14);
    cr_expect(strstr(e.msg, "payload_len 14") != NULL, "%s", e.msg);
    memcpy(b, good, len);
    rm_put_u16(b + 4, 31);
    cr_expect_eq(rm_frame_peek(b, len, &h, &flen, NULL), RM_ERR_LENGTH);
    cr_expect_eq(h.header_len, 31);
    memcpy(b, good, len);
    rm_put_u16(b + 24, 257);
    cr_expect_eq(rm_frame_peek(b, len, &h, &flen, NULL), RM_ERR_LENGTH);
    cr_expect_eq(h.rows, 257);
    /* A longer (future) header counts in the extent. */
    memcpy(b, good, len);
    rm_put_u16(b + 4, 40);
    cr_expect_eq(rm_frame_peek(b, RM_FRAME_HEADER_LEN, &h, &flen, NULL), RM_OK);
    cr_expect_eq(flen, len + 8);
    cr_expect_eq(rm_frame_peek(NULL, len, &h, &flen, NULL), RM_ERR_ARG);
    cr_expect_eq(rm_frame_peek(good, len, NULL, &flen, NULL), RM_ERR_ARG);
    cr_expect_eq(rm_frame_peek(good, len, &h, NULL, NULL), RM_ERR_ARG);
    free(b);
    free(good);
}

Test(frame, truncated_at_every_length)
{
    uint8_t *good;
    size_t len = make_frame(2, 3, 9, &good);
    for (size_t l = 0; l < len; l++) {
        rm_frame_header h;
        size_t need = 12345;
        rm_status st = rm_frame_decode(good, l, &h, NULL, 0, NULL, &need, NULL);
        cr_expect_eq(st, RM_ERR_TRUNCATED, "length %zu: %s", l, rm_status_name(st));
        cr_expect_eq(need, l < 32 ? 0 : len, "length %zu: need %zu", l, need);
    }
    free(good);
}

Test(frame, crc_flip_in_every_byte)
{
    uint8_t *good;
    size_t len = make_frame(2, 3, 9, &good);
    uint8_t *b = malloc(len);
    /* Any flipped bit of the payload or the CRC itself fails the CRC; in
     * the header it fails the CRC or a field check. */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(b, good, len);
            b[i] ^= (uint8_t)(1u << bit);
            rm_frame_header h;
            rm_status st = rm_frame_decode(b, len, &h, NULL, 0, NULL, NULL, NULL);
            if (i >= 32)
                cr_expect_eq(st, RM_ERR_CRC, "byte %zu bit %d: %s", i, bit, rm_status_name(st));
            else
                cr_expect_neq(st, RM_OK, "byte %zu bit %d decoded", i, bit);
        }
    }
    free(b);
    free(good);
}

Test(frame, small_output_buffer)
{
    uint8_t *good;
    size_t len = make_frame(2, 3, 9, &good);
    rm_frame_header h;
    uint16_t raw[5];
    cr_expect_eq(rm_frame_decode(good, len, &h, raw, 5, NULL, NULL, NULL), RM_ERR_RANGE);
    cr_assert_eq(rm_frame_decode(good, len, &h, NULL, 0, NULL, NULL, NULL), RM_OK);
    cr_expect_eq(rm_frame_encode(&h, raw, good, len - 1, NULL), RM_ERR_RANGE);
    rm_frame_header bad = {.rows = 0, .cols = 3};
    cr_expect_eq(rm_frame_encode(&bad, raw, good, len, NULL), RM_ERR_ARG);
    free(good);
}

Test(status, names_and_messages_distinct)
{
    int count = 0;
    for (int a = RM_STATUS_FIRST; a <= 0; a++) {
        const char *na = rm_status_name((rm_status)a), *ma = rm_strerror((rm_status)a);
        cr_assert(na && ma && *na && *ma);
        cr_expect_neq(strcmp(na, "RM_ERR_UNKNOWN"), 0, "code %d has no name", a);
        cr_expect_neq(strcmp(ma, "unknown error"), 0, "code %d has no message", a);
        for (int b = a + 1; b <= 0; b++) {
            cr_expect_neq(strcmp(na, rm_status_name((rm_status)b)), 0, "codes %d, %d", a, b);
            cr_expect_neq(strcmp(ma, rm_strerror((rm_status)b)), 0, "codes %d, %d", a, b);
        }
        count++;
    }
    cr_expect_eq(count, 25);
    cr_expect_str_eq(rm_status_name(RM_ERR_CRC), "RM_ERR_CRC");
    cr_expect_str_eq(rm_status_name((rm_status)-999), "RM_ERR_UNKNOWN");
}

Test(status, err_set_and_prefix)
{
    rm_err e = {0};
    cr_assert_eq(rm_err_set(&e, RM_ERR_CRC, "frame %d", 3), RM_ERR_CRC);
    cr_assert_str_eq(e.msg, "frame 3");
    cr_assert_eq(rm_err_prefix(&e, RM_ERR_CRC, "x.bin"), RM_ERR_CRC);
    cr_assert_str_eq(e.msg, "x.bin: frame 3");
    cr_assert_str_eq(rm_err_message(&e, RM_ERR_CRC), "x.bin: frame 3");
    rm_err z = {0};
    cr_assert_str_eq(rm_err_message(&z, RM_ERR_IO), rm_strerror(RM_ERR_IO));
    cr_assert_eq(rm_err_set(NULL, RM_ERR_IO, "ignored"), RM_ERR_IO);
}

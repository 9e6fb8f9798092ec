/* proto.c - encoders and validating decoders of the RM-1 wire structures. */
#include "rm_proto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

uint32_t rm_crc32(const void *data, size_t len)
{
    /* zlib takes uInt lengths: feed large buffers in pieces. */
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *p = data;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)crc;
}

static void copy_fixed_string(char *dst, const uint8_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < n && src[i]; i++)
        dst[i] = (char)src[i];
    dst[i] = '\0';
}

void rm_info_encode(const rm_info *info, uint8_t out[RM_INFO_LEN])
{
    memset(out, 0, RM_INFO_LEN);
    rm_put_u16(out + 0, info->protocol_version);
    rm_put_u16(out + 2, info->rows);
    rm_put_u16(out + 4, info->cols);
    out[6] = info->adc_bits;
    out[7] = info->flags;
    rm_put_u32(out + 8, info->row_pitch_um);
    rm_put_u32(out + 12, info->col_pitch_um);
    rm_put_u16(out + 16, info->rate_hz);
    rm_put_u16(out + 18, info->max_rate_hz);
    rm_put_u16(out + 20, info->min_rate_hz);
    rm_put_u32(out + 24, info->calib_len);
    rm_put_u32(out + 28, info->calib_crc32);
    memcpy(out + 32, info->firmware, strnlen(info->firmware, 16));
    memcpy(out + 48, info->model, strnlen(info->model, 16));
}

rm_status rm_info_decode(const uint8_t *buf, size_t len, rm_info *out, rm_err *err)
{
    if (!buf || !out)
        return rm_err_set(err, RM_ERR_ARG, "info block: NULL argument");
    if (len < RM_INFO_LEN)
        return rm_err_set(err, RM_ERR_TRUNCATED, "info block: %zu bytes, expected %d", len,
                          RM_INFO_LEN);
    rm_info i;
    memset(&i, 0, sizeof i);
    i.protocol_version = rm_get_u16(buf);
    i.rows = rm_get_u16(buf + 2);
    i.cols = rm_get_u16(buf + 4);
    i.adc_bits = buf[6];
    i.flags = buf[7];
    i.row_pitch_um = rm_get_u32(buf + 8);
    i.col_pitch_um = rm_get_u32(buf + 12);
    i.rate_hz = rm_get_u16(buf + 16);
    i.max_rate_hz = rm_get_u16(buf + 18);
    i.min_rate_hz = rm_get_u16(buf + 20);
    i.calib_len = rm_get_u32(buf + 24);
    i.calib_crc32 = rm_get_u32(buf + 28);
    copy_fixed_string(i.firmware, buf + 32, 16);
    copy_fixed_string(i.model, buf + 48, 16);
    if (i.protocol_version != RM_PROTOCOL_VERSION)
        return rm_err_set(err, RM_ERR_VERSION, "info block: protocol version %u, expected %d",
                          i.protocol_version, RM_PROTOCOL_VERSION);
    if (i.rows < 1 || i.rows > RM_MAX_DIM || i.cols < 1 || i.cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_RANGE, "info block: geometry %ux%u outside 1..256", i.rows,
                          i.cols);
    if (i.adc_bits < 8 || i.adc_bits > 16)
        return rm_err_set(err, RM_ERR_RANGE, "info block: adc_bits %u outside 8..16",
                          i.adc_bits);
    if (i.row_pitch_um == 0 || i.col_pitch_um == 0)
        return rm_err_set(err, RM_ERR_RANGE, "info block: sensel pitch is zero");
    if (i.min_rate_hz == 0 || i.min_rate_hz > i.max_rate_hz || i.rate_hz < i.min_rate_hz ||
        i.rate_hz > i.max_rate_hz)
        return rm_err_set(err, RM_ERR_RANGE,
                          "info block: rate %u Hz outside its bounds %u..%u Hz", i.rate_hz,
                          i.min_rate_hz, i.max_rate_hz);
    if ((i.flags & RM_INFO_FLAG_CALIB) &&
        i.calib_len != rm_calib_blob_len(0, i.rows, i.cols) && /* checked fully later */
        i.calib_len < rm_calib_blob_len(RM_CALIB_MIN_KNOTS, i.rows, i.cols))
        return rm_err_set(err, RM_ERR_LENGTH, "info block: calib_len %u too small for %ux%u",
                          i.calib_len, i.rows, i.cols);
    *out = i;
    return RM_OK;
}

void rm_dev_status_encode(const rm_dev_status *st, uint8_t out[RM_STATUS_LEN])
{
    memset(out, 0, RM_STATUS_LEN);
    rm_put_u32(out, st->frames_sent);
    rm_put_u32(out + 4, st->frames_dropped);
    rm_put_u32(out + 8, st->uptime_s);
    rm_put_u16(out + 12, (uint16_t)st->temperature_centi_c);
}

rm_status rm_dev_status_decode(const uint8_t *buf, size_t len, rm_dev_status *out, rm_err *err)
{
    if (!buf || !out)
        return rm_err_set(err, RM_ERR_ARG, "status block: NULL argument");
    if (len < RM_STATUS_LEN)
        return rm_err_set(err, RM_ERR_TRUNCATED, "status block: %zu bytes, expected %d", len,
                          RM_STATUS_LEN);
    out->frames_sent = rm_get_u32(buf);
    out->frames_dropped = rm_get_u32(buf + 4);
    out->uptime_s = rm_get_u32(buf + 8);
    out->temperature_centi_c = (int16_t)rm_get_u16(buf + 12);
    return RM_OK;
}

size_t rm_calib_blob_len(uint16_t n_knots, uint16_t rows, uint16_t cols)
{
    return 8 + (size_t)n_knots * 8 + (size_t)rows * cols * 4;
}

rm_status rm_calib_new(uint16_t rows, uint16_t cols, rm_calib **out)
{
    if (!out || rows < 1 || cols < 1 || rows > RM_MAX_DIM || cols > RM_MAX_DIM)
        return RM_ERR_ARG;
    rm_calib *c = calloc(1, sizeof *c);
    if (!c)
        return RM_ERR_NOMEM;
    size_t n = (size_t)rows * cols;
    c->rows = rows;
    c->cols = cols;
    c->zero = calloc(n, sizeof *c->zero);
    c->gain = malloc(n * sizeof *c->gain);
    if (!c->zero || !c->gain) {
        rm_calib_free(c);
        return RM_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        c->gain[i] = 1.0f;
    *out = c;
    return RM_OK;
}

void rm_calib_free(rm_calib *calib)
{
    if (!calib)
        return;
    free(calib->zero);
    free(calib->gain);
    free(calib);
}

rm_status rm_calib_copy(const rm_calib *src, rm_calib **out)
{
    rm_calib *c;
    rm_status st = rm_calib_new(src->rows, src->cols, &c);
    if (st)
        return st;
    size_t n = (size_t)src->rows * src->cols;
    c->n_knots = src->n_knots;
    memcpy(c->knot_raw, src->knot_raw, sizeof c->knot_raw);
    memcpy(c->knot_kpa, src->knot_kpa, sizeof c->knot_kpa);
    memcpy(c->zero, src->zero, n * sizeof *c->zero);
    memcpy(c->gain, src->gain, n * sizeof *c->gain);
    *out = c;
    return RM_OK;
}

rm_status rm_calib_validate(const rm_calib *c, rm_err *err)
{
    if (!c)
        return rm_err_set(err, RM_ERR_ARG, "calibration: NULL");
    if (c->n_knots < RM_CALIB_MIN_KNOTS || c->n_knots > RM_CALIB_MAX_KNOTS)
        return rm_err_set(err, RM_ERR_RANGE, "calibration: %u knots, expected 2..64",
                          c->n_knots);
    for (unsigned k = 0; k < c->n_knots; k++) {
        if (!isfinite(c->knot_raw[k]) || !isfinite(c->knot_kpa[k]))
            return rm_err_set(err, RM_ERR_VALUE, "calibration: knot %u is not finite", k);
        if (k > 0 && !(c->knot_raw[k] > c->knot_raw[k - 1]))
            return rm_err_set(err, RM_ERR_VALUE,
                              "calibration: knot_raw not strictly increasing at knot %u", k);
        if (k > 0 && c->knot_kpa[k] < c->knot_kpa[k - 1])
            return rm_err_set(err, RM_ERR_VALUE,
                              "calibration: knot_kpa decreasing at knot %u", k);
    }
    if (c->knot_kpa[0] != 0.0f)
        return rm_err_set(err, RM_ERR_VALUE, "calibration: knot_kpa[0] is %g, expected 0",
                          (double)c->knot_kpa[0]);
    size_t n = (size_t)c->rows * c->cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(c->gain[i]) || c->gain[i] < 0)
            return rm_err_set(err, RM_ERR_VALUE, "calibration: gain of sensel (%zu, %zu) is %g",
                              i / c->cols, i % c->cols, (double)c->gain[i]);
    return RM_OK;
}

static void put_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    rm_put_u32(p, u);
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = rm_get_u32(p);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

rm_status rm_calib_encode(const rm_calib *c, uint8_t *out, size_t cap, size_t *written)
{
    size_t need = rm_calib_blob_len(c->n_knots, c->rows, c->cols);
    if (cap < need)
        return RM_ERR_RANGE;
    memcpy(out, RM_CALIB_MAGIC, 4);
    rm_put_u16(out + 4, 1);
    rm_put_u16(out + 6, c->n_knots);
    uint8_t *p = out + 8;
    for (unsigned k = 0; k < c->n_knots; k++, p += 4)
        put_f32(p, c->knot_raw[k]);
    for (unsigned k = 0; k < c->n_knots; k++, p += 4)
        put_f32(p, c->knot_kpa[k]);
    size_t n = (size_t)c->rows * c->cols;
    for (size_t i = 0; i < n; i++, p += 2)
        rm_put_u16(p, c->zero[i]);
    for (size_t i = 0; i < n; i++, p += 2) {
        double q = floor((double)c->gain[i] * 4096.0 + 0.5);
        rm_put_u16(p, (uint16_t)(q < 0 ? 0 : q > 65535 ? 65535 : q));
    }
    if (written)
        *written = need;
    return RM_OK;
}

rm_status rm_calib_decode(const uint8_t *buf, size_t len, uint16_t rows, uint16_t cols,
                          const uint32_t *expected_crc, rm_calib **out, rm_err *err)
{
    if (!buf || !out)
        return rm_err_set(err, RM_ERR_ARG, "calibration blob: NULL argument");
    if (rows < 1 || cols < 1 || rows > RM_MAX_DIM || cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_ARG, "calibration blob: geometry %ux%u", rows, cols);
    if (len < 8)
        return rm_err_set(err, RM_ERR_TRUNCATED, "calibration blob: %zu bytes, header needs 8",
                          len);
    if (memcmp(buf, RM_CALIB_MAGIC, 4) != 0)
        return rm_err_set(err, RM_ERR_MAGIC, "calibration blob: bad magic (expected RMC1)");
    uint16_t version = rm_get_u16(buf + 4);
    if (version != 1)
        return rm_err_set(err, RM_ERR_VERSION, "calibration blob: version %u, expected 1",
                          version);
    uint16_t n_knots = rm_get_u16(buf + 6);
    if (n_knots < RM_CALIB_MIN_KNOTS || n_knots > RM_CALIB_MAX_KNOTS)
        return rm_err_set(err, RM_ERR_RANGE, "calibration blob: %u knots, expected 2..64",
                          n_knots);
    size_t need = rm_calib_blob_len(n_knots, rows, cols);
    if (len < need)
        return rm_err_set(err, RM_ERR_TRUNCATED,
                          "calibration blob: %zu bytes, %u knots on %ux%u need %zu", len,
                          n_knots, rows, cols, need);
    if (len > need)
        return rm_err_set(err, RM_ERR_LENGTH,
                          "calibration blob: %zu bytes, %u knots on %ux%u need exactly %zu", len,
                          n_knots, rows, cols, need);
    if (expected_crc) {
        uint32_t crc = rm_crc32(buf, len);
        if (crc != *expected_crc)
            return rm_err_set(err, RM_ERR_CRC,
                              "calibration blob: CRC-32 %08x, device announced %08x", crc,
                              *expected_crc);
    }
    rm_calib *c;
    if (rm_calib_new(rows, cols, &c))
        return rm_err_set(err, RM_ERR_NOMEM, "calibration blob: out of memory");
    c->n_knots = n_knots;
    const uint8_t *p = buf + 8;
    for (unsigned k = 0; k < n_knots; k++, p += 4)
        c->knot_raw[k] = get_f32(p);
    for (unsigned k = 0; k < n_knots; k++, p += 4)
        c->knot_kpa[k] = get_f32(p);
    size_t n = (size_t)rows * cols;
    for (size_t i = 0; i < n; i++, p += 2)
        c->zero[i] = rm_get_u16(p);
    for (size_t i = 0; i < n; i++, p += 2)
        c->gain[i] = (float)rm_get_u16(p) / 4096.0f;
    rm_status st = rm_calib_validate(c, err);
    if (st) {
        rm_calib_free(c);
        return st;
    }
    *out = c;
    return RM_OK;
}

float rm_calib_curve(const rm_calib *c, float x)
{
    const float *kr = c->knot_raw, *kp = c->knot_kpa;
    unsigned n = c->n_knots;
    if (n == 0 || !(x > kr[0]))
        return n ? kp[0] : 0.0f;
    if (x >= kr[n - 1])
        return kp[n - 1];
    /* Few knots: a linear scan beats a binary search in practice. */
    unsigned k = 1;
    while (x > kr[k])
        k++;
    float t = (x - kr[k - 1]) / (kr[k] - kr[k - 1]);
    return kp[k - 1] + t * (kp[k] - kp[k - 1]);
}

void rm_calib_pressure(const rm_calib *c, const uint16_t *raw, float *kpa)
{
    size_t n = (size_t)c->rows * c->cols;
    for (size_t i = 0; i < n; i++) {
        int d = (int)raw[i] - (int)c->zero[i];
        kpa[i] = c->gain[i] * rm_calib_curve(c, d > 0 ? (float)d : 0.0f);
    }
}

size_t rm_frame_wire_len(uint16_t rows, uint16_t cols)
{
    return RM_FRAME_HEADER_LEN + (size_t)rows * cols * 2 + RM_FRAME_CRC_LEN;
}

rm_status rm_frame_encode(const rm_frame_header *hdr, const uint16_t *raw, uint8_t *out,
                          size_t cap, size_t *written)
{
    if (hdr->rows < 1 || hdr->cols < 1 || hdr->rows > RM_MAX_DIM || hdr->cols > RM_MAX_DIM)
        return RM_ERR_ARG;
    size_t payload = (size_t)hdr->rows * hdr->cols * 2;
    size_t need = RM_FRAME_HEADER_LEN + payload + RM_FRAME_CRC_LEN;
    if (cap < need)
        return RM_ERR_RANGE;
    memcpy(out, RM_FRAME_MAGIC, 4);
    rm_put_u16(out + 4, RM_FRAME_HEADER_LEN);
    rm_put_u16(out + 6, hdr->flags);
    rm_put_u32(out + 8, hdr->seq);
    rm_put_u32(out + 12, (uint32_t)payload);
    rm_put_u64(out + 16, hdr->t_device_us);
    rm_put_u16(out + 24, hdr->rows);
    rm_put_u16(out + 26, hdr->cols);
    rm_put_u32(out + 28, 0);
    uint8_t *p = out + RM_FRAME_HEADER_LEN;
    for (size_t i = 0; i < payload / 2; i++)
        rm_put_u16(p + 2 * i, raw[i]);
    rm_put_u32(out + RM_FRAME_HEADER_LEN + payload, rm_crc32(out, RM_FRAME_HEADER_LEN + payload));
    if (written)
        *written = need;
    return RM_OK;
}

rm_status rm_frame_decode(const uint8_t *buf, size_t len, rm_frame_header *hdr,
                          uint16_t *raw_out, size_t raw_cap, size_t *frame_len, size_t *need,
                          rm_err *err)
{
    if (need)
        *need = 0;
    if (!buf || !hdr)
        return rm_err_set(err, RM_ERR_ARG, "frame: NULL argument");
    if (len >= 4 && memcmp(buf, RM_FRAME_MAGIC, 4) != 0)
        return rm_err_set(err, RM_ERR_MAGIC, "frame: bad magic");
    if (len < RM_FRAME_HEADER_LEN)
        return rm_err_set(err, RM_ERR_TRUNCATED, "frame: %zu bytes, header needs %d", len,
                          RM_FRAME_HEADER_LEN);
    rm_frame_header h;
    h.header_len = rm_get_u16(buf + 4);
    h.flags = rm_get_u16(buf + 6);
    h.seq = rm_get_u32(buf + 8);
    h.payload_len = rm_get_u32(buf + 12);
    h.t_device_us = rm_get_u64(buf + 16);
    h.rows = rm_get_u16(buf + 24);
    h.cols = rm_get_u16(buf + 26);
    if (h.header_len < RM_FRAME_HEADER_LEN || h.header_len > RM_FRAME_MAX_HEADER_LEN)
        return rm_err_set(err, RM_ERR_LENGTH, "frame: header_len %u outside %d..%d",
                          h.header_len, RM_FRAME_HEADER_LEN, RM_FRAME_MAX_HEADER_LEN);
    if (h.rows < 1 || h.rows > RM_MAX_DIM || h.cols < 1 || h.cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_LENGTH, "frame: geometry %ux%u outside 1..256", h.rows,
                          h.cols);
    if ((size_t)h.payload_len != (size_t)h.rows * h.cols * 2)
        return rm_err_set(err, RM_ERR_LENGTH, "frame: payload_len %u, %ux%u needs %zu",
                          h.payload_len, h.rows, h.cols, (size_t)h.rows * h.cols * 2);
    size_t total = (size_t)h.header_len + h.payload_len + RM_FRAME_CRC_LEN;
    if (len < total) {
        if (need)
            *need = total;
        return rm_err_set(err, RM_ERR_TRUNCATED, "frame: %zu bytes, frame needs %zu", len,
                          total);
    }
    size_t crc_at = (size_t)h.header_len + h.payload_len;
    uint32_t want = rm_get_u32(buf + crc_at);
    uint32_t got = rm_crc32(buf, crc_at);
    if (want != got)
        return rm_err_set(err, RM_ERR_CRC, "frame seq %u: CRC-32 %08x, frame says %08x", h.seq,
                          got, want);
    size_t n = (size_t)h.rows * h.cols;
    if (raw_out) {
        if (raw_cap < n)
            return rm_err_set(err, RM_ERR_RANGE, "frame: %zu sensels, buffer holds %zu", n,
                              raw_cap);
        const uint8_t *p = buf + h.header_len;
        for (size_t i = 0; i < n; i++)
            raw_out[i] = rm_get_u16(p + 2 * i);
    }
    *hdr = h;
    if (frame_len)
        *frame_len = total;
    return RM_OK;
}

/* proto.c - encoders and validating decoders of the RM-1 wire structures. */
#include "rm_proto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* CRC-32/IEEE (reflected polynomial 0xEDB88320), the table of every byte
 * value. Written out rather than taken from zlib so the codec has no
 * dependency a firmware build would lack. */
static const uint32_t crc32_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t rm_crc32(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    while (len--)
        crc = crc32_table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
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
        return rm_err_set(err, RM_ERR_RANGE, "info block: adc_bits %u outside 8..16", i.adc_bits);
    if (i.row_pitch_um == 0 || i.col_pitch_um == 0)
        return rm_err_set(err, RM_ERR_RANGE, "info block: sensel pitch is zero");
    if (i.min_rate_hz == 0 || i.min_rate_hz > i.max_rate_hz || i.rate_hz < i.min_rate_hz ||
        i.rate_hz > i.max_rate_hz)
        return rm_err_set(err, RM_ERR_RANGE, "info block: rate %u Hz outside its bounds %u..%u Hz",
                          i.rate_hz, i.min_rate_hz, i.max_rate_hz);
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
        return rm_err_set(err, RM_ERR_VERSION, "calibration blob: version %u, expected 1", version);
    uint16_t n_knots = rm_get_u16(buf + 6);
    if (n_knots < RM_CALIB_MIN_KNOTS || n_knots > RM_CALIB_MAX_KNOTS)
        return rm_err_set(err, RM_ERR_RANGE, "calibration blob: %u knots, expected 2..64", n_knots);
    size_t need = rm_calib_blob_len(n_knots, rows, cols);
    if (len < need)
        return rm_err_set(err, RM_ERR_TRUNCATED,
                          "calibration blob: %zu bytes, %u knots on %ux%u need %zu", len, n_knots,
                          rows, cols, need);
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

size_t rm_frame_wire_len(uint16_t rows, uint16_t cols)
{
    return RM_FRAME_HEADER_LEN + (size_t)rows * cols * 2 + RM_FRAME_CRC_LEN;
}

rm_status rm_frame_encode(const rm_frame_header *hdr, const uint16_t *raw, uint8_t *out, size_t cap,
                          size_t *written)
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

rm_status rm_frame_peek(const uint8_t *buf, size_t len, rm_frame_header *hdr, size_t *frame_len,
                        rm_err *err)
{
    if (!buf || !hdr || !frame_len)
        return rm_err_set(err, RM_ERR_ARG, "frame: NULL argument");
    if (memcmp(buf, RM_FRAME_MAGIC, len < 4 ? len : 4) != 0)
        return rm_err_set(err, RM_ERR_MAGIC, "frame: bad magic");
    if (len < RM_FRAME_HEADER_LEN)
        return rm_err_set(err, RM_ERR_TRUNCATED, "frame: %zu bytes, header needs %d", len,
                          RM_FRAME_HEADER_LEN);
    hdr->header_len = rm_get_u16(buf + 4);
    hdr->flags = rm_get_u16(buf + 6);
    hdr->seq = rm_get_u32(buf + 8);
    hdr->payload_len = rm_get_u32(buf + 12);
    hdr->t_device_us = rm_get_u64(buf + 16);
    hdr->rows = rm_get_u16(buf + 24);
    hdr->cols = rm_get_u16(buf + 26);
    *frame_len = 0;
    if (hdr->header_len < RM_FRAME_HEADER_LEN || hdr->header_len > RM_FRAME_MAX_HEADER_LEN)
        return rm_err_set(err, RM_ERR_LENGTH, "frame: header_len %u outside %d..%d",
                          hdr->header_len, RM_FRAME_HEADER_LEN, RM_FRAME_MAX_HEADER_LEN);
    if (hdr->rows < 1 || hdr->rows > RM_MAX_DIM || hdr->cols < 1 || hdr->cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_LENGTH, "frame: geometry %ux%u outside 1..256", hdr->rows,
                          hdr->cols);
    if ((size_t)hdr->payload_len != (size_t)hdr->rows * hdr->cols * 2)
        return rm_err_set(err, RM_ERR_LENGTH, "frame: payload_len %u, %ux%u needs %zu",
                          hdr->payload_len, hdr->rows, hdr->cols,
                          (size_t)hdr->rows * hdr->cols * 2);
    *frame_len = (size_t)hdr->header_len + hdr->payload_len + RM_FRAME_CRC_LEN;
    return RM_OK;
}

rm_status rm_frame_decode(const uint8_t *buf, size_t len, rm_frame_header *hdr, uint16_t *raw_out,
                          size_t raw_cap, size_t *frame_len, size_t *need, rm_err *err)
{
    if (need)
        *need = 0;
    if (!buf || !hdr)
        return rm_err_set(err, RM_ERR_ARG, "frame: NULL argument");
    /* Fewer than 4 bytes are a truncated frame here whatever they hold
     * (this function's contract since version 1). */
    if (len < 4)
        return rm_err_set(err, RM_ERR_TRUNCATED, "frame: %zu bytes, header needs %d", len,
                          RM_FRAME_HEADER_LEN);
    rm_frame_header h;
    size_t total = 0;
    rm_status st = rm_frame_peek(buf, len, &h, &total, err);
    if (st != RM_OK)
        return st;
    if (len < total) {
        if (need)
            *need = total;
        return rm_err_set(err, RM_ERR_TRUNCATED, "frame: %zu bytes, frame needs %zu", len, total);
    }
    size_t crc_at = (size_t)h.header_len + h.payload_len;
    uint32_t want = rm_get_u32(buf + crc_at);
    uint32_t got = rm_crc32(buf, crc_at);
    if (want != got)
        return rm_err_set(err, RM_ERR_CRC, "frame seq %u: CRC-32 %08x, frame says %08x", h.seq, got,
                          want);
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

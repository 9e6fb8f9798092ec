/* rm_proto.h - the RM-1 USB protocol, version 1 (see hw_spec/PROTOCOL.md).
 *
 * Pure functions on byte buffers: encoders write little-endian wire bytes,
 * decoders validate every length and field before trusting it and return a
 * named rm_status for each kind of bad input. Nothing here allocates except
 * rm_calib_decode/rm_calib_new, whose result the caller frees with
 * rm_calib_free. */
#ifndef RM_PROTO_H
#define RM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "rm_calib.h"
#include "rm_status.h"

/* USB identity */
#define RM_USB_VID       0x1209
#define RM_USB_PID       0x0001
#define RM_USB_INTERFACE 0
#define RM_USB_EP_IN     0x81

/* Control requests (endpoint 0) */
#define RM_REQTYPE_IN  0xC0
#define RM_REQTYPE_OUT 0x40
enum rm_request {
    RM_REQ_GET_INFO = 0x01,
    RM_REQ_SET_RATE = 0x02,
    RM_REQ_START = 0x03,
    RM_REQ_STOP = 0x04,
    RM_REQ_GET_CALIB = 0x05,
    RM_REQ_GET_STATUS = 0x06,
};

#define RM_PROTOCOL_VERSION 1
#define RM_INFO_LEN         64
#define RM_STATUS_LEN       16
#define RM_CALIB_BLOCK_LEN  512
#define RM_INFO_FLAG_CALIB  0x01

/* Frame stream */
#define RM_FRAME_MAGIC          "RMF1"
#define RM_CALIB_MAGIC          "RMC1"
#define RM_FRAME_HEADER_LEN     32 /* version 1; longer headers are skipped */
#define RM_FRAME_CRC_LEN        4
#define RM_FRAME_MAX_HEADER_LEN 4096 /* sanity bound for future versions */

/* GET_INFO block, decoded. */
typedef struct rm_info {
    uint16_t protocol_version;
    uint16_t rows, cols; /* 1..256 */
    uint8_t adc_bits;    /* 8..16 */
    uint8_t flags;       /* RM_INFO_FLAG_* */
    uint32_t row_pitch_um, col_pitch_um;
    uint16_t rate_hz, max_rate_hz, min_rate_hz;
    uint32_t calib_len, calib_crc32;
    char firmware[17]; /* NUL-terminated copy of the 16 bytes */
    char model[17];
} rm_info;

/* GET_STATUS block, decoded. */
typedef struct rm_dev_status {
    uint32_t frames_sent;
    uint32_t frames_dropped;
    uint32_t uptime_s;
    int16_t temperature_centi_c; /* RM_TEMPERATURE_UNKNOWN if unknown */
} rm_dev_status;
#define RM_TEMPERATURE_UNKNOWN ((int16_t)-32768)

/* Frame header, decoded. */
typedef struct rm_frame_header {
    uint16_t header_len;
    uint16_t flags;
    uint32_t seq;
    uint32_t payload_len;
    uint64_t t_device_us;
    uint16_t rows, cols;
} rm_frame_header;

/* CRC-32/IEEE as zlib's crc32(), over `len` bytes. */
uint32_t rm_crc32(const void *data, size_t len);

/* Info block: encode into exactly RM_INFO_LEN bytes; decode validates the
 * version, geometry (1..256), adc_bits (8..16) and rate bounds. */
void rm_info_encode(const rm_info *info, uint8_t out[RM_INFO_LEN]);
rm_status rm_info_decode(const uint8_t *buf, size_t len, rm_info *out, rm_err *err);

void rm_dev_status_encode(const rm_dev_status *st, uint8_t out[RM_STATUS_LEN]);
rm_status rm_dev_status_decode(const uint8_t *buf, size_t len, rm_dev_status *out, rm_err *err);

/* Size of the calibration blob for a geometry and knot count. */
size_t rm_calib_blob_len(uint16_t n_knots, uint16_t rows, uint16_t cols);

/* Writes the blob into `out` (capacity `cap`, at least rm_calib_blob_len);
 * gains are rounded to Q12. Returns the length in *written. */
rm_status rm_calib_encode(const rm_calib *calib, uint8_t *out, size_t cap, size_t *written);

/* Parses and validates a blob for a mat of rows x cols. If expected_crc is
 * non-NULL, the CRC-32 of the whole blob must equal *expected_crc (GET_INFO's
 * calib_crc32). On success *out is a new calibration the caller frees. */
rm_status rm_calib_decode(const uint8_t *buf, size_t len, uint16_t rows, uint16_t cols,
                          const uint32_t *expected_crc, rm_calib **out, rm_err *err);

/* Total length on the wire of a version-1 frame of rows x cols. */
size_t rm_frame_wire_len(uint16_t rows, uint16_t cols);

/* Encodes one version-1 frame (header, payload, CRC) into `out` (capacity
 * `cap`). payload_len is computed from rows/cols. */
rm_status rm_frame_encode(const rm_frame_header *hdr, const uint16_t *raw, uint8_t *out, size_t cap,
                          size_t *written);

/* Reads the header of a frame that starts at buf[0], leaving payload and
 * CRC alone: with rm_frame_decode, built on it, the only code that knows
 * the header's byte offsets (a stream decoder resynchronising after
 * damage asks this, never the bytes).
 * Validates the magic, header_len (32..RM_FRAME_MAX_HEADER_LEN), rows and
 * cols (1..256) and payload_len == rows*cols*2; not the CRC, and not
 * whether the frame's bytes are all in buf.
 * - RM_OK: *hdr is the header, *frame_len the length of the whole frame on
 *   the wire (header_len + payload_len + CRC), which may exceed `len`.
 * - RM_ERR_TRUNCATED: `len` is below RM_FRAME_HEADER_LEN (the first `len`
 *   bytes, up to 4, do match the magic); *hdr and *frame_len untouched.
 * - RM_ERR_MAGIC: the first 4 bytes (or as many as there are) are not the
 *   magic; untouched.
 * - RM_ERR_LENGTH: a field above is invalid; *hdr holds the fields as read
 *   (for messages), *frame_len is 0 (the frame's extent is unknown).
 * - RM_ERR_ARG: buf, hdr or frame_len NULL.
 * err (optional) gets the message. O(1): fit for every candidate magic. */
rm_status rm_frame_peek(const uint8_t *buf, size_t len, rm_frame_header *hdr, size_t *frame_len,
                        rm_err *err);

/* Decodes one frame that starts at buf[0].
 * - RM_ERR_TRUNCATED: `len` is too short to hold the frame its header
 *   announces (more bytes may complete it); *need, if given, is the total
 *   length needed (0 if even the header is incomplete).
 * - RM_ERR_MAGIC, RM_ERR_LENGTH (header_len < 32 or > bound, payload_len
 *   != rows*cols*2, rows/cols 0 or > 256), RM_ERR_CRC: corrupt.
 * On success the header is in *hdr, the payload is copied into raw_out
 * (capacity raw_cap sensels; RM_ERR_RANGE if too small) and *frame_len is
 * the number of bytes the frame occupies. */
rm_status rm_frame_decode(const uint8_t *buf, size_t len, rm_frame_header *hdr, uint16_t *raw_out,
                          size_t raw_cap, size_t *frame_len, size_t *need, rm_err *err);

/* Little-endian helpers for code that builds or parses wire bytes. */
static inline uint16_t rm_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rm_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rm_get_u64(const uint8_t *p)
{
    return (uint64_t)rm_get_u32(p) | ((uint64_t)rm_get_u32(p + 4) << 32);
}
static inline void rm_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void rm_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void rm_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif

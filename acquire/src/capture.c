/* capture.c - the device sidecar of a raw capture (rm_capture.h). */
#include "rm_capture.h"
#include "rm_safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC     "RMCAPDV1"
#define FIXED_LEN (8 + 2 + 2 + 64 + 17 + 17 + 2 + 2 + 2 + 1 + 8 + 8 + 8 + 4)

static void put_f64(uint8_t *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    rm_put_u64(p, u);
}

static double get_f64(const uint8_t *p)
{
    uint64_t u = rm_get_u64(p);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static char *side_path(const char *raw_path)
{
    size_t n = strlen(raw_path) + 5;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s.dev", raw_path);
    return p;
}

rm_status rm_capture_write_device(const char *raw_path, const rm_device *dev, const rm_calib *calib,
                                  rm_err *err)
{
    if (!raw_path || !dev)
        return rm_err_set(err, RM_ERR_ARG, "capture: NULL argument");
    size_t clen = calib ? rm_calib_blob_len(calib->n_knots, calib->rows, calib->cols) : 0;
    size_t total = FIXED_LEN + clen + 4;
    uint8_t *b = calloc(1, total);
    char *path = side_path(raw_path);
    if (!b || !path) {
        free(b);
        free(path);
        return rm_err_set(err, RM_ERR_NOMEM, "capture: out of memory");
    }
    uint8_t *p = b;
    memcpy(p, MAGIC, 8), p += 8;
    rm_put_u16(p, dev->vid), p += 2;
    rm_put_u16(p, dev->pid), p += 2;
    /* Fixed-size NUL-padded fields (the buffer is zeroed). */
    memcpy(p, dev->serial, strnlen(dev->serial, 63)), p += 64;
    memcpy(p, dev->model, strnlen(dev->model, 16)), p += 17;
    memcpy(p, dev->firmware, strnlen(dev->firmware, 16)), p += 17;
    rm_put_u16(p, dev->protocol_version), p += 2;
    rm_put_u16(p, dev->rows), p += 2;
    rm_put_u16(p, dev->cols), p += 2;
    *p++ = dev->adc_bits;
    put_f64(p, dev->row_pitch_mm), p += 8;
    put_f64(p, dev->col_pitch_mm), p += 8;
    put_f64(p, dev->rate_hz), p += 8;
    rm_put_u32(p, (uint32_t)clen), p += 4;
    rm_status st = RM_OK;
    size_t w = 0;
    if (calib && (st = rm_calib_encode(calib, p, clen, &w)) != RM_OK)
        rm_err_set(err, st, "%s: cannot encode the calibration", path);
    p += clen;
    rm_put_u32(p, rm_crc32(b, total - 4));
    /* A sidecar is never replaced: it belongs to the .raw it was made with.
     * Checked early for the plain case, and again atomically at the rename. */
    if (st == RM_OK && access(path, F_OK) == 0)
        st = rm_err_set(err, RM_ERR_IO, "%s already exists; refusing to overwrite it", path);
    rm_safefile sf;
    if (st == RM_OK && (st = rm_safefile_open(path, &sf, err)) == RM_OK) {
        fwrite(b, 1, total, sf.f); /* a short write fails the commit */
        st = rm_safefile_commit_new(&sf, err);
    }
    free(b);
    free(path);
    return st;
}

rm_status rm_capture_read_device(const char *raw_path, rm_device *dev, rm_calib **calib,
                                 rm_err *err)
{
    if (!raw_path || !dev || !calib)
        return rm_err_set(err, RM_ERR_ARG, "capture: NULL argument");
    *calib = NULL;
    char *path = side_path(raw_path);
    if (!path)
        return rm_err_set(err, RM_ERR_NOMEM, "capture: out of memory");
    FILE *f = fopen(path, "rb");
    if (!f) {
        rm_status st = rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s",
                                  path, strerror(errno));
        free(path);
        return st;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    size_t got;
    /* A sidecar is at most the fixed part + a 256x256 calibration. */
    size_t limit = FIXED_LEN + rm_calib_blob_len(RM_CALIB_MAX_KNOTS, 256, 256) + 4;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap > limit) {
                break;
            }
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    rm_status st = RM_OK;
    if (!b)
        st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    else if (n > limit)
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: larger than any device sidecar", path);
    else if (n < FIXED_LEN + 4 || memcmp(b, MAGIC, 8) != 0)
        st = rm_err_set(err, RM_ERR_MAGIC, "%s: not a rollmat capture sidecar", path);
    else if (rm_crc32(b, n - 4) != rm_get_u32(b + n - 4))
        st = rm_err_set(err, RM_ERR_CRC, "%s: CRC-32 mismatch (damaged file)", path);
    if (st == RM_OK) {
        const uint8_t *p = b + 8;
        memset(dev, 0, sizeof *dev);
        dev->vid = rm_get_u16(p), p += 2;
        dev->pid = rm_get_u16(p), p += 2;
        memcpy(dev->serial, p, 63), p += 64;
        memcpy(dev->model, p, 16), p += 17;
        memcpy(dev->firmware, p, 16), p += 17;
        dev->protocol_version = rm_get_u16(p), p += 2;
        dev->rows = rm_get_u16(p), p += 2;
        dev->cols = rm_get_u16(p), p += 2;
        dev->adc_bits = *p++;
        dev->row_pitch_mm = get_f64(p), p += 8;
        dev->col_pitch_mm = get_f64(p), p += 8;
        dev->rate_hz = get_f64(p), p += 8;
        uint32_t clen = rm_get_u32(p);
        p += 4;
        if (dev->rows < 1 || dev->rows > RM_MAX_DIM || dev->cols < 1 || dev->cols > RM_MAX_DIM)
            st = rm_err_set(err, RM_ERR_RANGE, "%s: geometry %ux%u outside 1..256", path, dev->rows,
                            dev->cols);
        else if ((size_t)clen != n - 4 - FIXED_LEN)
            st = rm_err_set(err, RM_ERR_LENGTH, "%s: calib_len %u, file holds %zu", path, clen,
                            n - 4 - FIXED_LEN);
        else if (clen &&
                 (st = rm_calib_decode(p, clen, dev->rows, dev->cols, NULL, calib, err)) != RM_OK)
            rm_err_prefix(err, st, "%s", path);
    }
    free(b);
    free(path);
    return st;
}

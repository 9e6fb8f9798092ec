/* fileid.c - a recording's content identity (rm_batch.h): XXH64 of its
 * bytes. XXH64 (Yann Collet's xxHash, 64-bit, seed 0) is written out here
 * rather than linked: it is 40 lines, study must not grow a dependency for
 * it, and the published test vectors (tests/test_batch.c) pin it down.
 * Why XXH64 and not FNV-1a: four independent lanes of 8 bytes run at
 * several GB/s, where FNV-1a's byte-serial multiply chain manages ~1 GB/s,
 * and every batch run hashes every recording of the study. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_batch.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

typedef struct xxh {
    uint64_t v[4];
    uint64_t total;
} xxh;

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

static uint64_t xround(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    return rotl(acc, 31) * P1;
}

static void xxh_init(xxh *s)
{
    s->v[0] = P1 + P2;
    s->v[1] = P2;
    s->v[2] = 0;
    s->v[3] = -P1;
    s->total = 0;
}

/* Consumes the whole 32-byte stripes of p[0..n); returns how many bytes. */
static size_t xxh_stripes(xxh *s, const unsigned char *p, size_t n)
{
    size_t done = 0;
    for (; n - done >= 32; done += 32)
        for (int k = 0; k < 4; k++)
            s->v[k] = xround(s->v[k], rd64(p + done + 8 * k));
    s->total += done;
    return done;
}

/* The tail (< 32 bytes) after the last stripe, then the avalanche. */
static uint64_t xxh_final(const xxh *s, const unsigned char *p, size_t n)
{
    uint64_t h;
    if (s->total >= 32) {
        h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
        for (int k = 0; k < 4; k++)
            h = (h ^ xround(0, s->v[k])) * P1 + P4;
    } else {
        h = P5;
    }
    h += s->total + n;
    for (; n >= 8; p += 8, n -= 8)
        h = rotl(h ^ xround(0, rd64(p)), 27) * P1 + P4;
    if (n >= 4) {
        h = rotl(h ^ (uint64_t)rd32(p) * P1, 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    for (; n; p++, n--)
        h = rotl(h ^ *p * P5, 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}

uint64_t rm_batch_xxh64(const void *data, size_t len)
{
    xxh s;
    xxh_init(&s);
    size_t done = xxh_stripes(&s, data, len);
    return xxh_final(&s, (const unsigned char *)data + done, len - done);
}

/* Fills buf (cap bytes) as far as the file goes; returns the count, or -1. */
static ssize_t fill(int fd, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got == 0)
            break;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        n += (size_t)got;
    }
    return (ssize_t)n;
}

rm_status rm_batch_recording_id(const char *path, char *id, size_t cap, rm_err *err)
{
    enum { BUF = 1 << 20 }; /* a multiple of 32: only the last read leaves a tail */
    if (cap)
        id[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s", path,
                          strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    unsigned char *buf = malloc(BUF);
    if (!buf) {
        close(fd);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory for hashing", path);
    }
    xxh s;
    xxh_init(&s);
    ssize_t n;
    uint64_t h = 0, size = 0;
    while ((n = fill(fd, buf, BUF)) == BUF)
        xxh_stripes(&s, buf, BUF);
    if (n >= 0) {
        size_t done = xxh_stripes(&s, buf, (size_t)n);
        h = xxh_final(&s, buf + done, (size_t)n - done);
        size = s.total + (uint64_t)((size_t)n - done);
    }
    int e = errno;
    free(buf);
    close(fd);
    if (n < 0)
        return rm_err_set(err, RM_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    /* the size too: a human comparing two ids sees at once a truncation */
    if ((size_t)snprintf(id, cap, "xxh64:%016" PRIx64 ":%" PRIu64, h, size) >= cap)
        return rm_err_set(err, RM_ERR_ARG, "%s: identity buffer too small", path);
    return RM_OK;
}

/* test_session_bad.c - bad files: each a named status and a message naming
 * the file and the object, never a crash. Files are damaged with the HDF5
 * API (or cut with truncate) starting from a good recording. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_session.h"
#include "test_session_fixture.h"
#include "test_util.h"

#define R  6
#define C  4
#define PX (R * C)

static char *g_dir;

static void setup(void)
{
    g_dir = rm_test_tmpdir("sess_bad");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void teardown(void)
{
    rm_test_rmtree(g_dir);
    free(g_dir);
}

static char *good_file(const char *name, uint64_t frames)
{
    char *path = rm_test_path(g_dir, name);
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    rm_session_writer_options o = {.chunk_frames = 8, .deflate_level = 1, .swmr = 1};
    rm_session_writer *w = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_writer_create(path, &h, &d, NULL, &o, &w, &e), RM_OK, "%s", e.msg);
    uint16_t buf[PX];
    for (uint64_t i = 0; i < frames; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
    }
    rm_event ev = {.time_s = 0.1, .kind = RM_EVENT_NOTE, .text = "n"};
    cr_assert_eq(rm_session_writer_add_event(w, &ev, &e), RM_OK);
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    return path;
}

/* Opens `path`, expects `want` and a message naming the file and `object`. */
static void expect_bad(const char *path, rm_status want, const char *object)
{
    rm_session *s = NULL;
    rm_err e = {0};
    rm_status st = rm_session_open(path, &s, &e);
    cr_assert_null(s);
    cr_assert_eq(st, want, "got %s (%s), expected %s", rm_status_name(st), e.msg,
                 rm_status_name(want));
    const char *base = strrchr(path, '/') + 1;
    cr_assert(strstr(e.msg, base), "message does not name the file: %s", e.msg);
    if (object)
        cr_assert(strstr(e.msg, object), "message does not name %s: %s", object, e.msg);
    cr_assert(!strchr(e.msg, '\n'), "message is not one line: %s", e.msg);
}

static hid_t open_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot reopen %s", path);
    return f;
}

TestSuite(session_bad, .init = setup, .fini = teardown);

Test(session_bad, not_hdf5_and_missing)
{
    char *p = rm_test_path(g_dir, "text.h5");
    FILE *f = fopen(p, "w");
    fputs("frame,time\n1,0.0\n", f);
    fclose(f);
    expect_bad(p, RM_ERR_FORMAT, "not an HDF5 file");
    char *q = rm_test_path(g_dir, "absent.h5");
    expect_bad(q, RM_ERR_NOT_FOUND, NULL);
    char *z = rm_test_path(g_dir, "empty.h5");
    f = fopen(z, "w");
    fclose(f);
    expect_bad(z, RM_ERR_FORMAT, NULL);
    free(p);
    free(q);
    free(z);
}

Test(session_bad, truncated_at_several_offsets)
{
    char *good = good_file("good.h5", 100);
    uint8_t *data;
    size_t len;
    cr_assert_eq(rm_test_read_file(good, &data, &len), 0);
    const size_t cuts[] = {8, 100, 512, 2048, len / 3, len / 2, len - 200, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut%zu.h5", cuts[i]);
        char *p = rm_test_path(g_dir, name);
        FILE *f = fopen(p, "wb");
        fwrite(data, 1, cuts[i], f);
        fclose(f);
        rm_session *s = NULL;
        rm_err e = {0};
        rm_status st = rm_session_open(p, &s, &e);
        cr_assert_neq(st, RM_OK, "cut at %zu opened", cuts[i]);
        cr_assert_null(s);
        cr_assert(strstr(e.msg, name), "cut %zu: %s", cuts[i], e.msg);
        cr_assert(st == RM_ERR_TRUNCATED || st == RM_ERR_FORMAT, "cut %zu: %s: %s", cuts[i],
                  rm_status_name(st), e.msg);
        free(p);
    }
    free(data);
    free(good);
}

Test(session_bad, foreign_hdf5)
{
    char *p = rm_test_path(g_dir, "foreign.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 10;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    expect_bad(p, RM_ERR_FORMAT, "conventions");
    free(p);
}

static void set_conventions(const char *path, const char *value)
{
    hid_t f = open_rw(path);
    H5Adelete(f, "conventions");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "conventions", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}

Test(session_bad, unknown_major_version_and_other_conventions)
{
    char *p = good_file("v2.h5", 10);
    set_conventions(p, "rollmat-session-2");
    expect_bad(p, RM_ERR_VERSION, "version 2");
    char *q = good_file("cf.h5", 10);
    set_conventions(q, "CF-1.8");
    expect_bad(q, RM_ERR_FORMAT, "CF-1.8");
    /* a minor revision of version 1 is accepted */
    char *m = good_file("v1_3.h5", 10);
    set_conventions(m, "rollmat-session-1.3");
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(m, &s, &e), RM_OK, "%s", e.msg);
    rm_session_close(s);
    free(p);
    free(q);
    free(m);
}

/* Replaces a dataset by one of another type or shape. */
static void replace_dataset(const char *path, const char *name, hid_t type, int rank,
                            const hsize_t *dims)
{
    hid_t f = open_rw(path);
    cr_assert_geq(H5Ldelete(f, name, H5P_DEFAULT), 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(d, 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

Test(session_bad, wrong_dtype)
{
    char *p = good_file("dtype.h5", 10);
    hsize_t dims[3] = {10, R, C};
    replace_dataset(p, "/frames/raw", H5T_IEEE_F32LE, 3, dims);
    expect_bad(p, RM_ERR_TYPE, "/frames/raw is float32, expected uint16");
    char *q = good_file("dtype_time.h5", 10);
    replace_dataset(q, "/frames/time", H5T_STD_I32LE, 1, dims);
    expect_bad(q, RM_ERR_TYPE, "/frames/time is int32");
    free(p);
    free(q);
}

Test(session_bad, wrong_shape)
{
    char *p = good_file("rank.h5", 10);
    hsize_t dims[3] = {10, R * C, 1};
    replace_dataset(p, "/frames/raw", H5T_STD_U16LE, 2, dims);
    expect_bad(p, RM_ERR_TYPE, "/frames/raw has 2 dimensions, expected 3");
    char *q = good_file("geom.h5", 10);
    hsize_t d2[3] = {10, R + 1, C};
    replace_dataset(q, "/frames/raw", H5T_STD_U16LE, 3, d2);
    expect_bad(q, RM_ERR_TYPE, "/frames/raw");
    char *z = good_file("zero.h5", 10);
    hsize_t d3[2] = {R, C + 2};
    replace_dataset(z, "/calibration/zero", H5T_STD_U16LE, 2, d3);
    expect_bad(z, RM_ERR_TYPE, "/calibration/zero");
    free(p);
    free(q);
    free(z);
}

Test(session_bad, inconsistent_lengths)
{
    char *p = good_file("len.h5", 10);
    hsize_t dims[1] = {11};
    replace_dataset(p, "/frames/seq", H5T_STD_U32LE, 1, dims);
    expect_bad(p, RM_ERR_LENGTH, "/frames/seq has 11 entries");
    free(p);
}

/* A file's extent costs nothing to forge: 10 stored frames claiming 10^8
 * (fill value everywhere else) are refused at open, before anything is
 * sized by the claim, naming the dataset, the claim and what is stored. */
Test(session_bad, forged_frame_count, .timeout = 30)
{
    char *p = good_file("forged.h5", 10);
    hid_t f = open_rw(p);
    const char *names[] = {"/frames/raw", "/frames/time", "/frames/seq", "/frames/t_device_us",
                           "/frames/flags"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
        cr_assert_geq(d, 0, "%s", names[i]);
        hsize_t dims[3] = {100000000, R, C};
        cr_assert_geq(H5Dset_extent(d, dims), 0, "%s", names[i]);
        H5Dclose(d);
    }
    H5Fclose(f);
    expect_bad(p, RM_ERR_LENGTH, "/frames/raw claims 100000000 frames");
    /* one frame more than stored is as wrong as 10^8: chunks of 8 frames,
     * 10 frames written = 2 chunks = room for 16 */
    char *q = good_file("forged17.h5", 10);
    f = open_rw(q);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
        hsize_t dims[3] = {17, R, C};
        cr_assert_geq(H5Dset_extent(d, dims), 0, "%s", names[i]);
        H5Dclose(d);
    }
    H5Fclose(f);
    expect_bad(q, RM_ERR_LENGTH, "stores at most 16");
    free(p);
    free(q);
}

Test(session_bad, missing_dataset)
{
    const char *names[] = {"/frames/raw", "/frames/seq", "/calibration/gain", "/events"};
    for (int i = 0; i < 4; i++) {
        char fname[32];
        snprintf(fname, sizeof fname, "missing%d.h5", i);
        char *p = good_file(fname, 10);
        hid_t f = open_rw(p);
        cr_assert_geq(H5Ldelete(f, names[i], H5P_DEFAULT), 0);
        H5Fclose(f);
        char want[64];
        snprintf(want, sizeof want, "%s is missing", names[i]);
        expect_bad(p, RM_ERR_NOT_FOUND, want);
        free(p);
    }
    char *p = good_file("nodevice.h5", 10);
    hid_t f = open_rw(p);
    hid_t g = H5Gopen2(f, "/device", H5P_DEFAULT);
    H5Adelete(g, "rows");
    H5Gclose(g);
    H5Fclose(f);
    expect_bad(p, RM_ERR_FORMAT, "/device attribute rows is missing");
    free(p);
}

Test(session_bad, nan_in_calibration)
{
    char *p = good_file("nan.h5", 10);
    hid_t f = open_rw(p);
    hid_t d = H5Dopen2(f, "/calibration/gain", H5P_DEFAULT);
    float g[PX];
    for (int i = 0; i < PX; i++)
        g[i] = 1.0f;
    g[5] = NAN;
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, g);
    H5Dclose(d);
    H5Fclose(f);
    rm_session *s = NULL;
    rm_err e = {0};
    rm_status st = rm_session_open(p, &s, &e);
    cr_assert_null(s);
    cr_assert(st == RM_ERR_VALUE || st == RM_ERR_RANGE, "%s: %s", rm_status_name(st), e.msg);
    cr_assert(strstr(e.msg, "nan.h5") && strstr(e.msg, "/calibration"), "%s", e.msg);

    char *q = good_file("knots.h5", 10);
    f = open_rw(q);
    d = H5Dopen2(f, "/calibration/knot_raw", H5P_DEFAULT);
    float k[2] = {100.0f, 50.0f}; /* not increasing */
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, k);
    H5Dclose(d);
    H5Fclose(f);
    st = rm_session_open(q, &s, &e);
    cr_assert_neq(st, RM_OK);
    cr_assert(strstr(e.msg, "knots.h5") && strstr(e.msg, "/calibration"), "%s", e.msg);
    free(p);
    free(q);
}

/* A recording whose chunk is damaged inside: reading reports it. */
Test(session_bad, corrupt_chunk_is_an_error_on_read)
{
    char *p = good_file("chunk.h5", 40);
    /* overwrite the middle of the file's data area with garbage; metadata
     * checksums or inflate must catch it, whichever it hits */
    uint8_t *data;
    size_t len;
    cr_assert_eq(rm_test_read_file(p, &data, &len), 0);
    free(data);
    FILE *f = fopen(p, "r+b");
    for (long off = (long)len / 4; off < (long)len * 3 / 4; off += 97) {
        fseek(f, off, SEEK_SET);
        fputc(0xA5, f);
    }
    fclose(f);
    rm_session *s = NULL;
    rm_err e = {0};
    rm_status st = rm_session_open(p, &s, &e);
    if (st != RM_OK) {
        cr_assert(strstr(e.msg, "chunk.h5"), "%s", e.msg);
    } else {
        uint16_t *raw = malloc(40 * PX * 2);
        st = rm_session_read(s, 0, 40, raw, NULL, NULL, NULL, NULL, &e);
        int same = 1;
        uint16_t want[PX];
        for (int i = 0; st == RM_OK && i < 40; i++) {
            fx_frame((uint64_t)i, R, C, want);
            same &= memcmp(raw + i * PX, want, sizeof want) == 0;
        }
        /* either a named error, or (if the damage hit only unused bytes) equal data */
        cr_assert(st != RM_OK ? strstr(e.msg, "chunk.h5") != NULL : same, "%s", e.msg);
        free(raw);
        rm_session_close(s);
    }
    free(p);
}

/* Random damage: 150 copies of a good recording, each with a few bytes
 * overwritten at random places. Opening and reading every frame must give
 * RM_OK with the original data or a named error naming the file; never a
 * crash (this runs under AddressSanitizer). */
Test(session_bad, random_corruption_never_crashes, .timeout = 300)
{
    char *good = good_file("orig.h5", 40);
    uint8_t *data;
    size_t len;
    cr_assert_eq(rm_test_read_file(good, &data, &len), 0);
    uint8_t *copy = malloc(len);
    uint64_t x = 0x2545F4914F6CDD1DULL;
    uint16_t *raw = malloc(40 * PX * 2), want[PX];
    int errors = 0;
    for (int k = 0; k < 150; k++) {
        memcpy(copy, data, len);
        int nbytes = 1 + k % 8;
        for (int j = 0; j < nbytes; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            copy[x % len] ^= (uint8_t)(1u + (x >> 32) % 255u);
        }
        char name[32];
        snprintf(name, sizeof name, "fz%d.h5", k);
        char *p = rm_test_path(g_dir, name);
        FILE *f = fopen(p, "wb");
        fwrite(copy, 1, len, f);
        fclose(f);
        rm_session *s = NULL;
        rm_err e = {0};
        rm_status st = rm_session_open(p, &s, &e);
        if (st == RM_OK) {
            uint64_t n = rm_session_frames(s);
            st = n == 40 ? rm_session_read(s, 0, 40, raw, NULL, NULL, NULL, NULL, &e)
                         : rm_err_set(&e, RM_ERR_LENGTH, "%s: frame count changed", name);
            rm_session_close(s);
            /* raw chunks carry zlib's Adler-32: damage there is caught */
            for (uint64_t i = 0; st == RM_OK && i < 40; i++) {
                fx_frame(i, R, C, want);
                cr_assert(memcmp(raw + i * PX, want, sizeof want) == 0,
                          "%s opened but frame %llu differs", name, (unsigned long long)i);
            }
        }
        if (st != RM_OK) {
            errors++;
            cr_assert(strstr(e.msg, name), "%s: %s", rm_status_name(st), e.msg);
            cr_assert(st < 0 && st >= RM_STATUS_FIRST, "%d", st);
        }
        unlink(p);
        free(p);
    }
    /* the damage was real: at least some copies were refused */
    cr_assert_gt(errors, 0);
    free(raw);
    free(copy);
    free(data);
    free(good);
}

/* test_session_interop.c - tools nobody here wrote read rollmat's
 * recordings: h5dump reads every dataset, ncdump -h opens a closed
 * recording, Debian's h5py reads /frames/raw and the attributes and agrees
 * with the C side on a checksum. Tools that are missing skip (with a
 * message) rather than pass silently. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_proto.h"
#include "rm_session.h"
#include "test_session_fixture.h"
#include "test_util.h"

#define R  64
#define C  48
#define PX (R * C)
#define N  150

static char *g_dir, *g_path;
static uint32_t g_crc;
static uint64_t g_sum;

static void make_recording(void)
{
    g_dir = rm_test_tmpdir("sess_interop");
    g_path = rm_test_path(g_dir, "interop.h5");
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    rm_session_writer *w = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_writer_create(g_path, &h, &d, NULL, NULL, &w, &e), RM_OK, "%s", e.msg);
    uint8_t mask[PX];
    for (int i = 0; i < PX; i++)
        mask[i] = (uint8_t)(i % 9 != 0);
    cr_assert_eq(rm_session_writer_set_mask(w, mask, &e), RM_OK, "%s", e.msg);
    double ref[N];
    for (int i = 0; i < N; i++)
        ref[i] = i * 0.5;
    cr_assert_eq(rm_session_writer_add_reference(w, "est_load", "N", "vendor load", N, ref, &e),
                 RM_OK, "%s", e.msg);
    uint16_t *all = malloc((size_t)N * PX * 2);
    for (uint64_t i = 0; i < N; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, all + i * PX, &f);
        cr_assert_eq(rm_session_writer_append(w, &f, &e), RM_OK, "%s", e.msg);
        if (i == 20) {
            rm_event ev = {.time_s = f.time_s, .kind = RM_EVENT_LABEL, .text = "calf"};
            cr_assert_eq(rm_session_writer_add_event(w, &ev, &e), RM_OK);
        }
    }
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    /* little-endian bytes: this host is (the fast path checks it too) */
    g_crc = rm_crc32(all, (size_t)N * PX * 2);
    g_sum = 0;
    for (size_t i = 0; i < (size_t)N * PX; i++)
        g_sum += all[i];
    free(all);
}

static void cleanup(void)
{
    rm_test_rmtree(g_dir);
    free(g_dir);
    free(g_path);
}

TestSuite(session_interop, .init = make_recording, .fini = cleanup);

static int have(const char *tool)
{
    return rm_test_system("command -v %s >/dev/null 2>&1", tool) == 0;
}

Test(session_interop, h5dump_reads_every_dataset)
{
    if (!have("h5dump"))
        cr_skip_test("h5dump (hdf5-tools) is not installed");
    static const char *const ds[] = {"/row",
                                     "/col",
                                     "/calibration/knot",
                                     "/calibration/knot_raw",
                                     "/calibration/knot_kpa",
                                     "/calibration/zero",
                                     "/calibration/gain",
                                     "/calibration/mask",
                                     "/frames/time",
                                     "/frames/seq",
                                     "/frames/t_device_us",
                                     "/frames/flags",
                                     "/frames/raw",
                                     "/events",
                                     "/reference/est_load"};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) {
        int rc = rm_test_system("h5dump -d %s '%s' >/dev/null 2>&1", ds[i], g_path);
        cr_assert_eq(rc, 0, "h5dump failed on %s", ds[i]);
    }
    /* and the attributes of the groups */
    cr_assert_eq(rm_test_system("h5dump -A '%s' | grep -q 'rollmat-session-1'", g_path), 0);
    /* a value h5dump prints equals ours: frame 149, row 0, col 0 */
    uint16_t f149[PX];
    fx_frame(149, R, C, f149);
    cr_assert_eq(rm_test_system("h5dump -d /frames/raw -s 149,0,0 -c 1,1,1 '%s' | "
                                "grep -q '(149,0,0): %u$'",
                                g_path, f149[0]),
                 0, "h5dump shows another value at (149,0,0), want %u", f149[0]);
}

Test(session_interop, ncdump_opens_closed_recording)
{
    if (!have("ncdump"))
        cr_skip_test("ncdump (netcdf-bin) is not installed");
    char *out = rm_test_path(g_dir, "ncdump.txt");
    int rc = rm_test_system("ncdump -h '%s' >'%s' 2>&1", g_path, out);
    uint8_t *text = NULL;
    size_t len = 0;
    rm_test_read_file(out, &text, &len);
    char *t = calloc(1, len + 1);
    memcpy(t, text, len);
    cr_assert_eq(rc, 0, "ncdump -h failed: %s", t);
    cr_assert(strstr(t, "ushort raw(time, row, col)"), "%s", t);
    cr_assert(strstr(t, "time = UNLIMITED ; // (150 currently)"), "%s", t);
    cr_assert(strstr(t, "raw:units = \"counts\""), "%s", t);
    cr_assert(strstr(t, "time:units = \"seconds since 2026-11-25T08:00:00Z\""), "%s", t);
    cr_assert(strstr(t, "ushort zero(row, col)"), "%s", t);
    cr_assert(strstr(t, ":conventions = \"rollmat-session-1\""), "%s", t);
    free(t);
    free(text);
    free(out);
}

Test(session_interop, h5py_reads_raw_and_attributes)
{
    if (rm_test_system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0)
        cr_skip_test("Debian's python3-h5py is not installed");
    char *out = rm_test_path(g_dir, "h5py.json");
    int rc = rm_test_system("/usr/bin/python3 '%s/tests/session_h5py.py' check '%s' >'%s'",
                            RM_SOURCE_DIR, g_path, out);
    cr_assert_eq(rc, 0, "h5py could not read the recording");
    uint8_t *text = NULL;
    size_t len = 0;
    cr_assert_eq(rm_test_read_file(out, &text, &len), 0);
    char *t = calloc(1, len + 1);
    memcpy(t, text, len);
    char want[128];
    snprintf(want, sizeof want, "\"shape\": [%d, %d, %d]", N, R, C);
    cr_assert(strstr(t, want), "%s", t);
    cr_assert(strstr(t, "\"dtype\": \"uint16\""), "%s", t);
    snprintf(want, sizeof want, "\"sum\": %llu", (unsigned long long)g_sum);
    cr_assert(strstr(t, want), "h5py sum differs: %s (want %s)", t, want);
    snprintf(want, sizeof want, "\"crc32\": %u", g_crc);
    cr_assert(strstr(t, want), "h5py checksum differs: %s (want %s)", t, want);
    cr_assert(strstr(t, "\"conventions\": \"rollmat-session-1\""), "%s", t);
    cr_assert(strstr(t, "\"created\": \"2026-11-25T08:00:00Z\""), "%s", t);
    cr_assert(strstr(t, "\"rows\": 64, \"cols\": 48"), "%s", t);
    cr_assert(strstr(t, "\"scale\": \"/frames/time\""), "%s", t);
    free(t);
    free(text);
    free(out);
}

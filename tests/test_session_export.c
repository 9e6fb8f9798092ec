/* test_session_export.c - rollmat export --series on a results file written
 * with the results API (the other modes are covered by session_cli.sh). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cli.h"
#include "rm_results.h"
#include "test_util.h"

static int run_export(int argc, char **argv)
{
    rm_cli_reset_getopt();
    return rm_cmd_export(argc, argv);
}

Test(session_export, series_csv)
{
    char *dir = rm_test_tmpdir("sess_export");
    char *res = rm_test_path(dir, "r.h5"), *csv = rm_test_path(dir, "series.csv");
    rm_results *r = rm_results_new();
    cr_assert_not_null(r);
    snprintf(r->source, sizeof r->source, "rec.h5");
    snprintf(r->profile, sizeof r->profile, "general");
    r->rows = 4;
    r->cols = 3;
    r->rate_hz = 100;
    r->n_frames = 5;
    for (int k = 0; k < RM_SERIES_COUNT; k++) {
        r->series[k] = calloc(5, sizeof(float));
        for (int i = 0; i < 5; i++)
            r->series[k][i] = (float)(k * 10 + i);
    }
    r->series[RM_SERIES_SPEED_CM_S][2] = NAN;
    r->state = calloc(5, 1);
    r->map_mean_kpa = calloc(12, sizeof(float));
    r->map_peak_kpa = calloc(12, sizeof(float));
    r->map_contact_s = calloc(12, sizeof(float));
    r->state[3] = RM_STATE_ROLLING;
    rm_err e = {0};
    rm_status st = rm_results_write(res, r, &e);
    rm_results_free(r);
    if (st != RM_OK)
        cr_skip_test("the results writer refused a minimal results object: %s", e.msg);
    char *argv[] = {"export", res, "--series", "-o", csv, NULL};
    cr_assert_eq(run_export(5, argv), RM_EXIT_OK);
    uint8_t *data;
    size_t len;
    cr_assert_eq(rm_test_read_file(csv, &data, &len), 0);
    char *t = calloc(1, len + 1);
    memcpy(t, data, len);
    cr_assert(!strncmp(t, "frame,time_s,force_n,", 21), "%s", t);
    cr_assert(strstr(t, ",state\n"), "%s", t);
    int lines = 0;
    for (char *p = t; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 6, "%s", t);
    /* frame 3: time 3, force 13, ..., state 1; frame 2's speed is missing:
     * NA, as in rollmat batch (rm_csv.h) */
    cr_assert(strstr(t, "\n3,3,13,23,"), "%s", t);
    cr_assert(strstr(t, ",1\n4,"), "%s", t);
    char want[64];
    snprintf(want, sizeof want, ",%d,NA,0\n", (RM_SERIES_SPEED_CM_S - 1) * 10 + 2);
    cr_assert(strstr(t, want), "no NA speed cell %s in %s", want, t);
    cr_assert_null(strstr(t, ",,"), "an empty cell: %s", t);
    /* a recording is not a results file: a named error, exit 1 */
    char *bad[] = {"export", csv, "--series", NULL};
    cr_assert_eq(run_export(3, bad), RM_EXIT_FAIL);
    free(t);
    free(data);
    rm_test_rmtree(dir);
    free(res);
    free(csv);
    free(dir);
}

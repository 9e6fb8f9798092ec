/* test_reliability.c - the ICC forms against Shrout & Fleiss (1979),
 * Table 4 (their 6 targets x 4 judges of Table 2), and the long table
 * reader's handling of bad and missing input. The comparison with R's
 * psych::ICC on a larger table is tests/reliability_cli.sh. */
#include <criterion/criterion.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_reliability.h"
#include "test_util.h"

/* Shrout & Fleiss (1979), Table 2: 6 targets (rows) rated by 4 judges. */
static const double sf_data[6 * 4] = {
    9, 2, 5, 8, 6, 1, 3, 2, 8, 4, 6, 8, 7, 1, 2, 6, 10, 5, 6, 9, 6, 2, 4, 7,
};

static void setup(void) { gsl_set_error_handler_off(); }

TestSuite(reliability, .init = setup);

/* Table 4 as printed, to their two decimals. */
Test(reliability, shrout_fleiss_table4)
{
    rm_reliability r = {0};
    rm_err err = {0};
    cr_assert_eq(rm_icc_compute(sf_data, 6, 4, &r, &err), RM_OK, "%s", err.msg);
    static const double printed[RM_ICC_FORMS] = {0.17, 0.29, 0.71, 0.44, 0.62, 0.91};
    for (int f = 0; f < RM_ICC_FORMS; f++)
        cr_expect(fabs(r.icc[f].icc - printed[f]) < 0.005, "%s = %.4f, the paper prints %.2f",
                  rm_icc_form_name(f), r.icc[f].icc, printed[f]);
    /* their Table 3 (ANOVA): BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02 */
    cr_expect(fabs(r.msr - 11.24) < 0.005, "MSR %.4f", r.msr);
    cr_expect(fabs(r.msw - 6.26) < 0.005, "MSW %.4f", r.msw);
    cr_expect(fabs(r.msc - 32.49) < 0.005, "MSC %.4f", r.msc);
    cr_expect(fabs(r.mse - 1.02) < 0.005, "MSE %.4f", r.mse);
    cr_expect_eq(r.n, 6);
    cr_expect_eq(r.k, 4);
    /* the bounds bracket the estimate */
    for (int f = 0; f < RM_ICC_FORMS; f++)
        cr_expect(r.icc[f].lo < r.icc[f].icc && r.icc[f].icc < r.icc[f].hi, "%s: %g < %g < %g",
                  rm_icc_form_name(f), r.icc[f].lo, r.icc[f].icc, r.icc[f].hi);
    cr_expect_str_eq(r.band, "poor"); /* ICC(2,1) = 0.29 */
    cr_expect(fabs(r.te - sqrt(r.mse)) < 1e-12);
    cr_expect(fabs(r.mdc95 - 1.96 * sqrt(2.0) * r.sem) < 1e-12);
}

Test(reliability, bands)
{
    cr_expect_str_eq(rm_icc_band(0.49), "poor");
    cr_expect_str_eq(rm_icc_band(0.5), "moderate");
    cr_expect_str_eq(rm_icc_band(0.75), "good");
    cr_expect_str_eq(rm_icc_band(0.9), "good");
    cr_expect_str_eq(rm_icc_band(0.91), "excellent");
    cr_expect_null(rm_icc_band(NAN));
}

Test(reliability, too_small)
{
    rm_reliability r = {0};
    rm_err err = {0};
    cr_expect_eq(rm_icc_compute(sf_data, 1, 4, &r, &err), RM_ERR_RANGE);
    cr_expect_eq(rm_icc_compute(sf_data, 6, 1, &r, &err), RM_ERR_RANGE);
}

static char *write_table(const char *dir, const char *name, const char *text)
{
    char *p = rm_test_path(dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* The S&F data as a long table whose sessions are dates (in time order
 * only when sorted), with a fifth subject missing a session and a sixth
 * with an extra one, and quoted fields, CRLF and an NA. */
Test(reliability, long_table_from_file)
{
    char *dir = rm_test_tmpdir("reliability");
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    fprintf(m, "value,metric,session,subject,file\r\n");
    static const char *const dates[] = {"2026-01-05", "2026-01-12", "2026-01-19", "2026-02-02"};
    for (int i = 5; i >= 0; i--) /* rows out of order on purpose */
        for (int j = 3; j >= 0; j--)
            fprintf(m, "%g,\"sf\",%s,T%d,\"a, b\"\r\n", sf_data[i * 4 + j], dates[j], i + 1);
    fprintf(m, "3,sf,2026-01-05,T7,x\r\n4,sf,2026-01-12,T7,x\r\nNA,sf,2026-01-19,T7,x\r\n");
    fprintf(m, "7,sf,2026-03-01,T1,x\r\n"); /* a 5th session of T1: ignored */
    fprintf(m, "1,sf,,T8,x\r\n");           /* no session: left out */
    fclose(m);
    char *p = write_table(dir, "t.csv", text);
    rm_long_table *t = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_long_table_read(p, &t, &err), RM_OK, "%s", err.msg);
    cr_expect_eq(t->n_unnamed, 1);
    rm_reliability *r = NULL;
    size_t n = 0;
    cr_assert_eq(rm_reliability_run(t, 0, &r, &n, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(r[0].metric, "sf");
    cr_expect_eq(r[0].n, 6);
    cr_expect_eq(r[0].k, 4);
    cr_expect_eq(r[0].subjects, 7);
    cr_expect_eq(r[0].dropped, 1);
    cr_expect_str_eq(r[0].first_dropped, "T7");
    cr_expect_eq(r[0].extra, 1);
    rm_reliability ref = {0};
    cr_assert_eq(rm_icc_compute(sf_data, 6, 4, &ref, &err), RM_OK);
    for (int f = 0; f < RM_ICC_FORMS; f++) {
        cr_expect(fabs(r[0].icc[f].icc - ref.icc[f].icc) < 1e-12, "%s", rm_icc_form_name(f));
        cr_expect(fabs(r[0].icc[f].lo - ref.icc[f].lo) < 1e-12, "%s", rm_icc_form_name(f));
    }
    free(r);
    rm_long_table_free(t);
    free(p);
    free(text);
    rm_test_rmtree(dir);
    free(dir);
}

/* Bad tables: one clear line naming the file and what is wrong. */
static void expect_bad(const char *text, rm_status want_st, const char *want_msg, int at_read)
{
    char *dir = rm_test_tmpdir("reliability_bad");
    char *p = write_table(dir, "bad.csv", text);
    rm_long_table *t = NULL;
    rm_err err = {0};
    rm_status st = rm_long_table_read(p, &t, &err);
    if (at_read) {
        cr_expect_eq(st, want_st, "status %d for %s", st, want_msg);
        cr_expect_null(t);
    } else {
        cr_assert_eq(st, RM_OK, "%s", err.msg);
        rm_reliability *r = NULL;
        size_t n = 0;
        cr_expect_eq(rm_reliability_run(t, 0, &r, &n, &err), want_st);
        cr_expect_null(r);
        rm_long_table_free(t);
    }
    cr_expect(strstr(err.msg, want_msg), "message '%s' lacks '%s'", err.msg, want_msg);
    cr_expect(strstr(err.msg, "bad.csv"), "message '%s' does not name the file", err.msg);
    cr_expect_null(strchr(err.msg, '\n'), "message on one line");
    free(p);
    rm_test_rmtree(dir);
    free(dir);
}

Test(reliability, bad_tables)
{
    expect_bad("subject,session,value\nA,1,2\n", RM_ERR_FORMAT, "no column 'metric'", 1);
    expect_bad("subject,session,metric,value\nA,1,m,2\nB,1,m,x2\n", RM_ERR_VALUE,
               "line 3: value 'x2' is not a number", 1);
    expect_bad("subject,session,metric,value\nA,1,m,inf\n", RM_ERR_VALUE, "not a number", 1);
    expect_bad("subject,session,metric,value\nA,1,m,2\nA,1,m,3\n", RM_ERR_VALUE, "lines 2 and 3",
               1);
    expect_bad("subject,session,metric,value\nA,\"1,m,2\n", RM_ERR_FORMAT, "quote", 1);
    expect_bad("", RM_ERR_FORMAT, "empty file", 1);
    expect_bad("subject,session,metric,value\nA,1,m,2\nA,2,m,3\nA,3,m,4\n", RM_ERR_RANGE,
               "only one subject", 0);
    expect_bad("subject,session,metric,value\n", RM_ERR_FORMAT, "no rows", 0);
}

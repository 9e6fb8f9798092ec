/* rm_reliability.h - test-retest reliability of metrics over repeated
 * sessions: the long table (subject, session, metric, value) that
 * `rollmat batch --long` writes and `rollmat reliability` reads, and the
 * intraclass correlations of Shrout & Fleiss (1979) / McGraw & Wong (1996)
 * with their 95 % confidence intervals, SEM, MDC95, typical error, CV %
 * and the smallest worthwhile change. docs/metrics.md ("Reliability") has every formula.
 *
 * Sessions: each subject's sessions of a metric are put in order (as
 * numbers when both are numbers, else byte order, so ISO 8601 dates run
 * in time order) and the j-th one is occasion j. The ICC needs every
 * subject at every occasion: a subject with fewer than k sessions is left
 * out of that metric (listwise, as psych::ICC after na.omit), sessions
 * after the k-th are ignored; both are counted in the result.
 *
 * The F quantiles come from GSL (gsl_cdf_fdist_Pinv). GSL's default error
 * handler aborts: the quantiles are only asked for with finite positive
 * degrees of freedom, but a program should still call
 * gsl_set_error_handler_off() once at start-up (the CLI does). */
#ifndef RM_RELIABILITY_H
#define RM_RELIABILITY_H

#include <stddef.h>
#include <stdio.h>

#include "rm_results.h"
#include "rm_status.h"

/* ---- the long table ---- */

/* Writes the header line "subject,session,metric,value". Returns 0 or -1
 * (stdio error). */
int rm_long_csv_header(FILE *f);

/* Writes one row per set x numeric column of r (rm_batch_column's numeric
 * columns but segment and start_s): metric "LABEL/COLUMN", where LABEL is
 * the set's label ("set<N>", N from 1, if it has none; a label seen before
 * in the recording gets "#2", "#3"...). `subject` and `session` (may be "",
 * written as is) are borrowed. Returns 0 or -1. */
int rm_long_csv_rows(FILE *f, const char *subject, const char *session, const rm_results *r);

/* A long table read from a CSV file. Owned by the caller: free with
 * rm_long_table_free. */
typedef struct rm_long_row {
    const char *subject, *session, *metric; /* point into the table's text */
    double value;                           /* NAN: missing (NA or empty) */
    size_t line;                            /* 1-based line in the file */
} rm_long_row;

typedef struct rm_long_table {
    rm_long_row *rows;
    size_t n_rows;
    size_t n_unnamed; /* rows left out: no subject or no session */
    char *text;       /* owned storage of the fields */
    char *path;       /* owned copy, for messages */
} rm_long_table;

/* Reads a CSV (RFC 4180, header line first) with at least the columns
 * subject, session, metric and value, in any order (others ignored).
 * `value` must be a finite number, NA or empty. Errors are one line naming
 * the file and line: a missing column (RM_ERR_FORMAT, "T.csv: no column
 * 'value' (the header has: a, b)"), a value that is not a number
 * (RM_ERR_VALUE), a subject seen twice in one session for one metric
 * (RM_ERR_VALUE, both lines), an unreadable file (RM_ERR_IO/NOT_FOUND).
 * Rows with an empty subject or session are left out and counted. On
 * success *out is the caller's; on failure it is NULL. */
rm_status rm_long_table_read(const char *path, rm_long_table **out, rm_err *err);

/* Frees t and everything it owns; NULL is a no-op. */
void rm_long_table_free(rm_long_table *t);

/* ---- the statistics ---- */

typedef enum rm_icc_form {
    RM_ICC_1_1, /* one-way random, single measure (absolute agreement) */
    RM_ICC_2_1, /* two-way random, single, absolute agreement */
    RM_ICC_3_1, /* two-way mixed, single, consistency */
    RM_ICC_1_K, /* the same three, for the mean of k sessions */
    RM_ICC_2_K,
    RM_ICC_3_K,
    RM_ICC_FORMS
} rm_icc_form;

/* Column-name stem of a form ("icc1_1", "icc2_k"...). */
const char *rm_icc_form_name(rm_icc_form f);

typedef struct rm_icc {
    double icc, lo, hi; /* estimate and 95 % bounds (NAN when undefined) */
    double f, df1, df2; /* the F test of the form */
} rm_icc;

typedef struct rm_reliability {
    char metric[128];          /* the metric (cut to fit) */
    size_t n, k;               /* complete subjects used, sessions per subject */
    size_t subjects;           /* subjects with at least one value of the metric */
    size_t dropped;            /* subjects left out: fewer than k sessions */
    size_t extra;              /* sessions after the k-th, ignored */
    char first_dropped[64];    /* one subject left out, for messages ("" if none) */
    double msr, msc, mse, msw; /* ANOVA mean squares: rows, columns, error, within */
    double mean;               /* grand mean */
    double sd;                 /* SD of all n x k values */
    double sd_between;         /* SD of the subjects' means */
    rm_icc icc[RM_ICC_FORMS];
    double sem, mdc95, te, cv_pct, swc;
    const char *band; /* Koo & Li band of ICC(2,1): static text, NULL if NA */
} rm_reliability;

/* ICCs and agreement statistics of the complete n x k matrix x (row-major:
 * subject i, session j at x[i*k+j]; borrowed). Needs n >= 2 and k >= 2
 * (RM_ERR_RANGE otherwise) and finite values (RM_ERR_VALUE). Fills every
 * numeric field of *out but metric, subjects, dropped, extra and
 * first_dropped; a form whose bounds are undefined (no error variance:
 * every subject measured the same at every session) has NAN bounds. */
rm_status rm_icc_compute(const double *x, size_t n, size_t k, rm_reliability *out, rm_err *err);

/* The Koo & Li (2016) band of an ICC: "poor" (< 0.5), "moderate"
 * (0.5 to < 0.75), "good" (0.75 to 0.9), "excellent" (> 0.9); NULL if
 * not finite. Static text. */
const char *rm_icc_band(double icc);

/* One result per metric of t, in byte order of the metric names, into
 * *out (caller frees with free()) and *n_out. `k` is the number of
 * sessions to use (0: the most common number of sessions among the
 * metric's subjects, ties to the larger). A metric with fewer than 2
 * complete subjects or fewer than 2 sessions gets n or k below 2 and NAN
 * statistics (the caller says so). Errors: a table with fewer than 2
 * subjects in all (RM_ERR_RANGE, "T.csv: only one subject (S); ..."), no
 * rows (RM_ERR_FORMAT). */
rm_status rm_reliability_run(const rm_long_table *t, size_t k, rm_reliability **out, size_t *n_out,
                             rm_err *err);

/* Writes the results as CSV (rm_csv.h: RFC 4180, NA for missing): a header
 * line, then one row per metric. Columns: docs/metrics.md ("Reliability"). Returns 0 or -1. */
int rm_reliability_csv(FILE *f, const rm_reliability *r, size_t n);

#endif

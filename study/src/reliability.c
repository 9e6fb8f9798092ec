/* reliability.c - intraclass correlations and agreement statistics per
 * metric of a long table (rm_reliability.h; formulas in docs/metrics.md ("Reliability")). */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_csv.h"
#include "rm_reliability.h"

static const char *const form_names[RM_ICC_FORMS] = {"icc1_1", "icc2_1", "icc3_1",
                                                     "icc1_k", "icc2_k", "icc3_k"};

const char *rm_icc_form_name(rm_icc_form f)
{
    return (unsigned)f < RM_ICC_FORMS ? form_names[f] : NULL;
}

const char *rm_icc_band(double icc)
{
    if (!isfinite(icc))
        return NULL;
    if (icc < 0.5)
        return "poor";
    if (icc < 0.75)
        return "moderate";
    if (icc <= 0.9)
        return "good";
    return "excellent";
}

/* The upper 2.5 % point of F(d1, d2); NAN where GSL would be asked
 * something undefined (its error handler must never run). */
static double f_upper(double d1, double d2)
{
    if (!(d1 > 0 && d2 > 0 && isfinite(d1) && isfinite(d2)))
        return NAN;
    return gsl_cdf_fdist_Pinv(0.975, d1, d2);
}

/* The mean squares of the two-way ANOVA without replication. */
static void mean_squares(const double *x, size_t n, size_t k, rm_reliability *o)
{
    double gm = 0;
    for (size_t i = 0; i < n * k; i++)
        gm += x[i];
    gm /= (double)(n * k);
    double ssr = 0, ssc = 0, sst = 0, ssm = 0;
    for (size_t i = 0; i < n; i++) {
        double m = 0;
        for (size_t j = 0; j < k; j++)
            m += x[i * k + j];
        m /= (double)k;
        ssr += (m - gm) * (m - gm);
    }
    ssm = ssr; /* sum of squares of the subjects' means about the grand mean */
    ssr *= (double)k;
    for (size_t j = 0; j < k; j++) {
        double m = 0;
        for (size_t i = 0; i < n; i++)
            m += x[i * k + j];
        m /= (double)n;
        ssc += (m - gm) * (m - gm);
    }
    ssc *= (double)n;
    for (size_t i = 0; i < n * k; i++)
        sst += (x[i] - gm) * (x[i] - gm);
    double dn = (double)n, dk = (double)k;
    double sse = sst - ssr - ssc, ssw = sst - ssr;
    /* rounding can leave a hair below zero when there is no error at all */
    sse = sse < 0 ? 0 : sse;
    ssw = ssw < 0 ? 0 : ssw;
    o->mean = gm;
    o->msr = ssr / (dn - 1);
    o->msc = ssc / (dk - 1);
    o->mse = sse / ((dn - 1) * (dk - 1));
    o->msw = ssw / (dn * (dk - 1));
    o->sd = sqrt(sst / (dn * dk - 1));
    o->sd_between = sqrt(ssm / (dn - 1));
}

static void set_form(rm_icc *c, double icc, double f, double d1, double d2, double lo, double hi)
{
    *c = (rm_icc){icc, isfinite(lo) ? lo : NAN, isfinite(hi) ? hi : NAN, f, d1, d2};
}

/* ICC(1,1) and ICC(1,k): one-way model, F = MSR/MSW. */
static void forms_one_way(rm_reliability *o)
{
    double n = (double)o->n, k = (double)o->k;
    double d1 = n - 1, d2 = n * (k - 1), f = o->msr / o->msw;
    double fl = f / f_upper(d1, d2), fu = f * f_upper(d2, d1);
    set_form(&o->icc[RM_ICC_1_1], (o->msr - o->msw) / (o->msr + (k - 1) * o->msw), f, d1, d2,
             (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1));
    set_form(&o->icc[RM_ICC_1_K], (o->msr - o->msw) / o->msr, f, d1, d2, 1 - 1 / fl, 1 - 1 / fu);
}

/* ICC(3,1) and ICC(3,k): two-way mixed, consistency, F = MSR/MSE. */
static void forms_mixed(rm_reliability *o)
{
    double n = (double)o->n, k = (double)o->k;
    double d1 = n - 1, d2 = (n - 1) * (k - 1), f = o->msr / o->mse;
    double fl = f / f_upper(d1, d2), fu = f * f_upper(d2, d1);
    set_form(&o->icc[RM_ICC_3_1], (o->msr - o->mse) / (o->msr + (k - 1) * o->mse), f, d1, d2,
             (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1));
    set_form(&o->icc[RM_ICC_3_K], (o->msr - o->mse) / o->msr, f, d1, d2, 1 - 1 / fl, 1 - 1 / fu);
}

/* ICC(2,1) and ICC(2,k): two-way random, absolute agreement. Bounds by
 * Satterthwaite's approximate degrees of freedom v (McGraw & Wong 1996,
 * case 2A), as psych::ICC computes them. */
static void forms_random(rm_reliability *o)
{
    double n = (double)o->n, k = (double)o->k;
    double msr = o->msr, msc = o->msc, mse = o->mse;
    double icc = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n);
    double icck = (msr - mse) / (msr + (msc - mse) / n);
    double fj = msc / mse;
    double a = n * (1 + (k - 1) * icc) - k * icc;
    double vn = (k - 1) * (n - 1) * pow(k * icc * fj + a, 2);
    double vd = (n - 1) * k * k * icc * icc * fj * fj + a * a;
    double v = vn / vd;
    double fu = f_upper(n - 1, v), fl = f_upper(v, n - 1);
    double den = k * msc + (k * n - k - n) * mse;
    double lo = n * (msr - fu * mse) / (fu * den + n * msr);
    double hi = n * (fl * msr - mse) / (den + n * fl * msr);
    set_form(&o->icc[RM_ICC_2_1], icc, msr / mse, n - 1, (n - 1) * (k - 1), lo, hi);
    set_form(&o->icc[RM_ICC_2_K], icck, msr / mse, n - 1, (n - 1) * (k - 1),
             lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1)));
}

rm_status rm_icc_compute(const double *x, size_t n, size_t k, rm_reliability *o, rm_err *err)
{
    if (n < 2 || k < 2)
        return rm_err_set(err, RM_ERR_RANGE,
                          "ICC: %zu subjects x %zu sessions; needs at least 2 x 2", n, k);
    for (size_t i = 0; i < n * k; i++)
        if (!isfinite(x[i]))
            return rm_err_set(err, RM_ERR_VALUE, "ICC: subject %zu, session %zu: not a number",
                              i / k + 1, i % k + 1);
    o->n = n;
    o->k = k;
    mean_squares(x, n, k, o);
    forms_one_way(o);
    forms_mixed(o);
    forms_random(o);
    /* SEM from the agreement form (the one Koo & Li advise for test-retest),
     * typical error from the residual (Hopkins 2000) */
    o->sem = o->sd * sqrt(1 - o->icc[RM_ICC_2_1].icc);
    o->mdc95 = 1.96 * sqrt(2.0) * o->sem;
    o->te = sqrt(o->mse);
    o->cv_pct = o->mean != 0 ? 100 * o->te / fabs(o->mean) : NAN;
    o->swc = 0.2 * o->sd_between;
    o->band = rm_icc_band(o->icc[RM_ICC_2_1].icc);
    return RM_OK;
}

/* ---- per metric over a long table ---- */

static int is_number(const char *s, double *v)
{
    char *e;
    *v = strtod(s, &e);
    return e != s && !*e;
}

/* Session order within a subject: numbers as numbers, else byte order. */
static int cmp_session(const void *a, const void *b)
{
    const rm_long_row *x = *(const rm_long_row *const *)a, *y = *(const rm_long_row *const *)b;
    double u, v;
    if (is_number(x->session, &u) && is_number(y->session, &v) && u != v)
        return u < v ? -1 : 1;
    return strcmp(x->session, y->session);
}

typedef struct subject_run {
    const rm_long_row **v; /* the subject's rows with a value, in session order */
    size_t n;
} subject_run;

/* k when not given: the most common session count, ties to the larger. */
static size_t modal_k(const subject_run *s, size_t ns)
{
    size_t best = 0, best_count = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t count = 0;
        for (size_t j = 0; j < ns; j++)
            count += s[j].n == s[i].n;
        if (count > best_count || (count == best_count && s[i].n > best))
            best = s[i].n, best_count = count;
    }
    return best;
}

/* One metric: rows [a, b) of the sorted table (sorted by subject). */
static rm_status one_metric(const rm_long_row *rows, size_t a, size_t b, size_t k_want,
                            rm_reliability *o, rm_err *err)
{
    memset(o, 0, sizeof *o);
    snprintf(o->metric, sizeof o->metric, "%s", rows[a].metric);
    subject_run *s = calloc(b - a, sizeof *s);
    const rm_long_row **ptr = calloc(b - a, sizeof *ptr);
    double *x = NULL;
    rm_status st = RM_OK;
    if (!s || !ptr) {
        st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t ns = 0, np = 0;
    for (size_t i = a; i < b; i++) {
        if (i == a || strcmp(rows[i].subject, rows[i - 1].subject)) {
            s[ns].v = ptr + np;
            s[ns++].n = 0;
        }
        if (isfinite(rows[i].value)) {
            ptr[np++] = &rows[i];
            s[ns - 1].n++;
        }
    }
    size_t k = k_want ? k_want : modal_k(s, ns);
    x = calloc((ns ? ns : 1) * (k ? k : 1), sizeof *x);
    if (!x) {
        st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < ns; i++) {
        if (!s[i].n)
            continue;
        o->subjects++;
        if (s[i].n < k) {
            if (!o->dropped++)
                snprintf(o->first_dropped, sizeof o->first_dropped, "%s", s[i].v[0]->subject);
            continue;
        }
        qsort(s[i].v, s[i].n, sizeof *s[i].v, cmp_session);
        o->extra += s[i].n - k;
        for (size_t j = 0; j < k; j++)
            x[n * k + j] = s[i].v[j]->value;
        n++;
    }
    o->n = n;
    o->k = k;
    rm_err ignored = {0};
    if (rm_icc_compute(x, n, k, o, &ignored) != RM_OK) {
        /* too few to say anything: every statistic NA, counts kept */
        double *fields[] = {&o->msr,        &o->msc, &o->mse,   &o->msw, &o->mean,   &o->sd,
                            &o->sd_between, &o->sem, &o->mdc95, &o->te,  &o->cv_pct, &o->swc};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            *fields[i] = NAN;
        for (int f = 0; f < RM_ICC_FORMS; f++)
            o->icc[f] = (rm_icc){NAN, NAN, NAN, NAN, NAN, NAN};
        o->band = NULL;
    }
out:
    free(s);
    free(ptr);
    free(x);
    return st;
}

rm_status rm_reliability_run(const rm_long_table *t, size_t k, rm_reliability **out, size_t *n_out,
                             rm_err *err)
{
    *out = NULL;
    *n_out = 0;
    if (!t->n_rows)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: no rows with a subject and a session", t->path);
    /* rows come sorted by metric, subject, session (rm_long_table_read) */
    const char *other = NULL;
    for (size_t i = 1; i < t->n_rows && !other; i++)
        if (strcmp(t->rows[i].subject, t->rows[0].subject))
            other = t->rows[i].subject;
    if (!other)
        return rm_err_set(err, RM_ERR_RANGE,
                          "%s: only one subject ('%.60s'); reliability needs at least 2", t->path,
                          t->rows[0].subject);
    size_t nm = 1;
    for (size_t i = 1; i < t->n_rows; i++)
        nm += strcmp(t->rows[i].metric, t->rows[i - 1].metric) != 0;
    rm_reliability *r = calloc(nm, sizeof *r);
    if (!r)
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    size_t m = 0, a = 0;
    rm_status st = RM_OK;
    for (size_t i = 1; i <= t->n_rows && !st; i++)
        if (i == t->n_rows || strcmp(t->rows[i].metric, t->rows[a].metric)) {
            st = one_metric(t->rows, a, i, k, &r[m++], err);
            a = i;
        }
    if (st) {
        free(r);
        return st;
    }
    *out = r;
    *n_out = nm;
    return RM_OK;
}

/* ---- CSV ---- */

static const char *const head_cols[] = {"metric", "n", "k", "subjects", "dropped", "extra"};
static const char *const tail_cols[] = {"msr",    "msc",        "mse", "msw",   "mean",
                                        "sd",     "sd_between", "sem", "mdc95", "te",
                                        "cv_pct", "swc",        "band"};

int rm_reliability_csv(FILE *f, const rm_reliability *r, size_t n)
{
    rm_csv c;
    rm_csv_open(&c, f);
    for (size_t i = 0; i < sizeof head_cols / sizeof head_cols[0]; i++)
        rm_csv_text(&c, head_cols[i]);
    for (int fm = 0; fm < RM_ICC_FORMS; fm++) {
        static const char *const suffix[] = {"", "_lo", "_hi", "_f", "_df1", "_df2"};
        for (size_t s = 0; s < 6; s++) {
            char name[32];
            snprintf(name, sizeof name, "%s%s", form_names[fm], suffix[s]);
            rm_csv_text(&c, name);
        }
    }
    for (size_t i = 0; i < sizeof tail_cols / sizeof tail_cols[0]; i++)
        rm_csv_text(&c, tail_cols[i]);
    rm_csv_end_row(&c);
    for (size_t i = 0; i < n; i++) {
        const rm_reliability *o = &r[i];
        rm_csv_text(&c, o->metric);
        rm_csv_int(&c, (long long)o->n);
        rm_csv_int(&c, (long long)o->k);
        rm_csv_int(&c, (long long)o->subjects);
        rm_csv_int(&c, (long long)o->dropped);
        rm_csv_int(&c, (long long)o->extra);
        for (int fm = 0; fm < RM_ICC_FORMS; fm++) {
            const rm_icc *q = &o->icc[fm];
            const double v[] = {q->icc, q->lo, q->hi, q->f, q->df1, q->df2};
            for (size_t s = 0; s < 6; s++)
                rm_csv_number(&c, v[s], 10);
        }
        const double tail[] = {o->msr,        o->msc, o->mse,   o->msw, o->mean,   o->sd,
                               o->sd_between, o->sem, o->mdc95, o->te,  o->cv_pct, o->swc};
        for (size_t s = 0; s < sizeof tail / sizeof tail[0]; s++)
            rm_csv_number(&c, tail[s], 10);
        rm_csv_text(&c, o->band);
        if (rm_csv_end_row(&c))
            return -1;
    }
    return rm_csv_failed(&c) ? -1 : 0;
}

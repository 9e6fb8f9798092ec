/* long_table.c - the long table of metrics (subject, session, metric,
 * value): written by `rollmat batch --long`, read by `rollmat reliability`
 * (rm_reliability.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_batch.h"
#include "rm_csv.h"
#include "rm_reliability.h"

/* ---- writing ---- */

int rm_long_csv_header(FILE *f)
{
    static const char *const names[] = {"subject", "session", "metric", "value"};
    rm_csv c;
    rm_csv_open(&c, f);
    return rm_csv_header(&c, names, 4);
}

/* A batch column that is a number of the set worth comparing across
 * sessions: not the row's context (file, segment, start time), not a
 * verdict word. duration_s is derived (end - start). Returns 1 and *v. */
static int long_value(const char *name, const rm_segment_result *s, double *v)
{
    if (!strcmp(name, "duration_s")) {
        *v = s->end_s - s->start_s;
        return 1;
    }
    if (!strcmp(name, "start_s") || !strcmp(name, "segment"))
        return 0;
    const rm_segment_column *col = rm_segment_column_find(name);
    if (!col || col->kind == RM_SEGCOL_TEXT || col->kind == RM_SEGCOL_VERDICT)
        return 0;
    *v = rm_segment_value(s, col);
    return 1;
}

/* The set's name in metric names: its label, "set<N>" without one, and
 * "#2", "#3"... for a label already used by an earlier set. */
static void set_name(const rm_results *r, size_t k, char *buf, size_t cap)
{
    const char *label = r->segments[k].label;
    char own[RM_RESULTS_LABEL_LEN + 16];
    if (label[0])
        snprintf(own, sizeof own, "%.*s", RM_RESULTS_LABEL_LEN, label);
    else
        snprintf(own, sizeof own, "set%zu", k + 1);
    size_t seen = 0;
    for (size_t i = 0; i < k; i++) {
        const char *l = r->segments[i].label;
        char other[RM_RESULTS_LABEL_LEN + 16];
        if (l[0])
            snprintf(other, sizeof other, "%.*s", RM_RESULTS_LABEL_LEN, l);
        else
            snprintf(other, sizeof other, "set%zu", i + 1);
        seen += !strcmp(other, own);
    }
    if (seen)
        snprintf(buf, cap, "%s#%zu", own, seen + 1);
    else
        snprintf(buf, cap, "%s", own);
}

int rm_long_csv_rows(FILE *f, const char *subject, const char *session, const rm_results *r)
{
    rm_csv c;
    rm_csv_open(&c, f);
    for (size_t k = 0; k < r->n_segments; k++) {
        char set[RM_RESULTS_LABEL_LEN + 40];
        set_name(r, k, set, sizeof set);
        for (size_t i = 0; i < rm_batch_columns(); i++) {
            const char *name = rm_batch_column(i);
            double v;
            if (!long_value(name, &r->segments[k], &v))
                continue;
            char metric[sizeof set + 64];
            snprintf(metric, sizeof metric, "%s/%s", set, name);
            rm_csv_text(&c, subject);
            rm_csv_text(&c, session);
            rm_csv_text(&c, metric);
            rm_csv_number(&c, v, 10);
            if (rm_csv_end_row(&c))
                return -1;
        }
    }
    return 0;
}

/* ---- reading ---- */

/* The parser keeps fields in place: each field is unquoted into the text
 * buffer itself (an unquoted field never grows) and NUL-terminated. */
typedef struct lt_parser {
    char *p, *end;
    size_t line;
} lt_parser;

/* Reads one field at ps->p, unquotes it in place and returns its start;
 * *last is set when the record ends after it. NULL: an open quote. */
static char *lt_field(lt_parser *ps, int *last)
{
    char *start = ps->p, *w = ps->p, *p = ps->p;
    int quoted = p < ps->end && *p == '"';
    for (p += quoted; p < ps->end; p++) {
        char c = *p;
        if (quoted && c == '"') {
            if (p + 1 >= ps->end || p[1] != '"') {
                quoted = 0;
                continue;
            }
            p++;
        } else if (!quoted && (c == ',' || c == '\n' || c == '\r')) {
            break;
        }
        if (c == '\n')
            ps->line++;
        *w++ = c;
    }
    if (quoted)
        return NULL;
    *last = p >= ps->end || *p != ',';
    if (p < ps->end && *p == '\r')
        p++;
    if (p < ps->end && (*p == ',' || *p == '\n'))
        p++;
    *w = 0; /* the separator's byte (or one before it) is free by now */
    ps->p = p;
    return start;
}

/* Splits one record into at most cap fields; returns the count (more are
 * counted but not kept), or -1 on an open quote. */
static long lt_record(lt_parser *ps, char **fields, size_t cap)
{
    size_t n = 0;
    int last = 0;
    while (!last) {
        char *f = lt_field(ps, &last);
        if (!f)
            return -1;
        if (n < cap)
            fields[n] = f;
        n++;
    }
    return (long)n;
}

static rm_status lt_load(const char *path, char **text, size_t *len, rm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rm_err_set(err, RM_ERR_IO, "%s: not a regular file", path);
    }
    /* +1: room for the last field's terminator when the file has no
     * final newline */
    char *buf = malloc((size_t)st.st_size + 2);
    if (!buf) {
        fclose(f);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return rm_err_set(err, RM_ERR_IO, "%s: read error", path);
    }
    buf[got] = buf[got + 1] = 0;
    *text = buf;
    *len = got;
    return RM_OK;
}

enum { LT_SUBJECT, LT_SESSION, LT_METRIC, LT_VALUE, LT_NCOL };
static const char *const lt_names[LT_NCOL] = {"subject", "session", "metric", "value"};

/* Finds the four columns in the header; a missing one is an error that
 * lists the header's names. */
static rm_status lt_header(lt_parser *ps, const char *path, long *pos, rm_err *err)
{
    char *h[64];
    long n = lt_record(ps, h, 64);
    if (n < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line 1: a quote is never closed", path);
    if (n == 1 && !h[0][0])
        return rm_err_set(err, RM_ERR_FORMAT, "%s: empty file (expected a header line: %s)", path,
                          "subject,session,metric,value");
    for (int c = 0; c < LT_NCOL; c++) {
        pos[c] = -1;
        for (long i = 0; i < n && i < 64; i++)
            if (!strcmp(h[i], lt_names[c]))
                pos[c] = i;
    }
    for (int c = 0; c < LT_NCOL; c++) {
        if (pos[c] >= 0)
            continue;
        char have[256] = "";
        for (long i = 0; i < n && i < 64; i++) {
            size_t l = strlen(have);
            snprintf(have + l, sizeof have - l, "%s%.40s", i ? ", " : "", h[i]);
        }
        return rm_err_set(err, RM_ERR_FORMAT, "%s: no column '%s' (the header has: %s)", path,
                          lt_names[c], have);
    }
    return RM_OK;
}

/* A value field: a finite number, or NA / empty for missing. */
static rm_status lt_value(const char *s, const char *path, size_t line, double *v, rm_err *err)
{
    if (!s[0] || !strcmp(s, RM_CSV_NA)) {
        *v = NAN;
        return RM_OK;
    }
    char *e;
    errno = 0;
    double d = strtod(s, &e);
    if (e == s || *e || !isfinite(d) || errno == ERANGE)
        return rm_err_set(err, RM_ERR_VALUE, "%s: line %zu: value '%.40s' is not a number", path,
                          line, s);
    *v = d;
    return RM_OK;
}

static rm_status lt_rows(lt_parser *ps, rm_long_table *t, const long *pos, rm_err *err)
{
    size_t cap = 0;
    long need = 0;
    for (int c = 0; c < LT_NCOL; c++)
        need = pos[c] + 1 > need ? pos[c] + 1 : need;
    while (ps->p < ps->end) {
        size_t line = ps->line + 1;
        char *f[64];
        long n = lt_record(ps, f, 64);
        ps->line++;
        if (n < 0)
            return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: a quote is never closed", t->path,
                              line);
        if (n == 1 && !f[0][0])
            continue; /* a blank line */
        if (n < need)
            return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %ld fields, the header has %ld",
                              t->path, line, n, need);
        if (t->n_rows == cap) {
            cap = cap ? cap * 2 : 256;
            rm_long_row *nr = realloc(t->rows, cap * sizeof *nr);
            if (!nr)
                return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", t->path);
            t->rows = nr;
        }
        rm_long_row *r = &t->rows[t->n_rows];
        r->subject = f[pos[LT_SUBJECT]];
        r->session = f[pos[LT_SESSION]];
        r->metric = f[pos[LT_METRIC]];
        r->line = line;
        rm_status st = lt_value(f[pos[LT_VALUE]], t->path, line, &r->value, err);
        if (st)
            return st;
        if (!r->subject[0] || !r->session[0] || !strcmp(r->subject, RM_CSV_NA) ||
            !strcmp(r->session, RM_CSV_NA))
            t->n_unnamed++;
        else
            t->n_rows++;
    }
    return RM_OK;
}

static int cmp_row_key(const void *a, const void *b)
{
    const rm_long_row *x = a, *y = b;
    int c = strcmp(x->metric, y->metric);
    if (!c)
        c = strcmp(x->subject, y->subject);
    if (!c)
        c = strcmp(x->session, y->session);
    if (!c)
        c = x->line < y->line ? -1 : x->line > y->line;
    return c;
}

rm_status rm_long_table_read(const char *path, rm_long_table **out, rm_err *err)
{
    *out = NULL;
    rm_long_table *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t len = 0;
    rm_status st = lt_load(path, &t->text, &len, err);
    long pos[LT_NCOL];
    lt_parser ps = {t->text, t->text + len, 0};
    if (!st)
        st = lt_header(&ps, path, pos, err);
    ps.line = 1;
    if (!st)
        st = lt_rows(&ps, t, pos, err);
    /* one value per subject, session and metric: a second is a mistake
     * (two recordings given the same session), not a choice to make */
    if (!st && t->n_rows > 1)
        qsort(t->rows, t->n_rows, sizeof *t->rows, cmp_row_key);
    for (size_t i = 1; !st && i < t->n_rows; i++) {
        const rm_long_row *a = &t->rows[i - 1], *b = &t->rows[i];
        if (!strcmp(a->metric, b->metric) && !strcmp(a->subject, b->subject) &&
            !strcmp(a->session, b->session))
            st = rm_err_set(err, RM_ERR_VALUE,
                            "%s: lines %zu and %zu: subject '%.40s', session '%.40s', metric "
                            "'%.60s' twice",
                            path, a->line, b->line, a->subject, a->session, a->metric);
    }
    if (st) {
        rm_long_table_free(t);
        return st;
    }
    *out = t;
    return RM_OK;
}

void rm_long_table_free(rm_long_table *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t->text);
    free(t->path);
    free(t);
}

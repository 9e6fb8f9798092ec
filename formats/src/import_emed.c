/* import_emed.c - novel emed .lst ASCII export.
 *
 * One "page" per picture: a header ("File: ... Matrix: 64x95", "Sensor
 * area: 0.25 cm²", "Time/picture:10.0 ms", "Sensor size: 0.500x0.500 cm",
 * "Pict-No.: 1  Force[N]=sum*sensor_area in row/column"), a line of column
 * labels ending in "Force", then rows "label v v ... v force" and a last
 * "Force ..." row of column sums. Only the window of the plate that holds
 * the foot is printed; the rest of the Matrix (columns x rows) is zero.
 * Labels are 1-based sensel numbers. Values are kPa: the export's own
 * Force[N] = sum * sensor_area holds with kPa and cm² (N = kPa * cm² / 10),
 * and the test checks it. The Force row's total becomes the reference
 * series "force_n". Tabs separate fields; the file is Latin-1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import_impl.h"

#define EMED_MAX_LABELS RM_IMPORT_MAX_DIM

typedef struct emed_state {
    long mcols, mrows; /* Matrix: cols x rows */
    double col_mm, row_mm;
    double period_s;
    int in_pict; /* between "Pict-No." and the Force row */
    long pict;
    size_t pict_line;
    long labels[EMED_MAX_LABELS];
    size_t n_labels;
    int has_force_col;
    int have_labels;
    long rows_seen;
    float *values;
    long force_ref;
    /* the parse: the input, the result and the current line's fields */
    imp_lines *l;
    const char *name;
    rm_import_result *r;
    rm_err *err;
    imp_fields fl;
} emed_state;

static int parse_pair(const char *p, double *a, double *b, char *unit, size_t ucap)
{
    /* "64x95" or "0.500x0.500 cm" */
    char *end;
    *a = strtod(p, &end);
    if (end == p || (*end != 'x' && *end != 'X'))
        return -1;
    const char *q = end + 1;
    *b = strtod(q, &end);
    if (end == q || !isfinite(*a) || !isfinite(*b))
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (unit) {
        size_t n = 0;
        while (end[n] && end[n] != ' ' && end[n] != '\t' && n + 1 < ucap) {
            unit[n] = end[n];
            n++;
        }
        unit[n] = '\0';
    }
    return 0;
}

static rm_status end_pict(emed_state *s, rm_import_result *r, const char *name, size_t lineno,
                          rm_err *err)
{
    if (!s->in_pict)
        return RM_OK;
    if (!s->have_labels || s->rows_seen == 0)
        return rm_err_set(err, RM_ERR_TRUNCATED, "%s: line %zu: picture %ld has no data rows", name,
                          lineno, s->pict);
    s->in_pict = 0;
    return RM_OK;
}

/* "File: C:\novel\...\name.lst<TAB>...": the recorded file's name is the
 * title (the first one; every page repeats it). */
static void emed_file(emed_state *s, const char *p)
{
    rm_import_result *r = s->r;
    if (r->header.title[0])
        return;
    char path[256];
    const char *a = p + 5;
    while (*a == ' ')
        a++;
    size_t n = strcspn(a, "\t");
    if (n >= sizeof path)
        n = sizeof path - 1;
    memcpy(path, a, n);
    path[n] = '\0';
    imp_copy_name(r->header.title, sizeof r->header.title, imp_trim(path), 1, 0);
}

/* "Matrix: 64x95" (columns x rows): the first page fixes the geometry, the
 * others must repeat it. */
static rm_status emed_matrix(emed_state *s, const char *p)
{
    double a, b;
    if (parse_pair(p + 7 + strspn(p + 7, " \t"), &a, &b, NULL, 0) != 0 || a != floor(a) ||
        b != floor(b) || a < 1 || b < 1 || a > RM_IMPORT_MAX_DIM || b > RM_IMPORT_MAX_DIM)
        return rm_err_set(s->err, RM_ERR_FORMAT,
                          "%s: line %zu: Matrix must be COLSxROWS within 1..%d", s->name,
                          s->l->lineno, RM_IMPORT_MAX_DIM);
    if (!s->r->mask) {
        s->mcols = (long)a;
        s->mrows = (long)b;
        return imp_result_geometry(s->r, s->name, s->l->lineno, s->mrows, s->mcols, s->err);
    }
    if ((long)a != s->mcols || (long)b != s->mrows)
        return rm_err_set(s->err, RM_ERR_FORMAT,
                          "%s: line %zu: Matrix %ldx%ld changed from %ldx%ld", s->name,
                          s->l->lineno, (long)a, (long)b, s->mcols, s->mrows);
    return RM_OK;
}

/* "Time/picture:10.0 ms" (or s): the frame period. */
static rm_status emed_period(emed_state *s, const char *p)
{
    const char *a = p + 13;
    char *end;
    double v = strtod(a, &end);
    while (*end == ' ')
        end++;
    double per = 0;
    if (!strncmp(end, "ms", 2))
        per = 1e-3;
    else if (*end == 's')
        per = 1.0;
    if (!(v > 0) || !isfinite(v) || per == 0)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: bad Time/picture '%.32s'", s->name,
                          s->l->lineno, a);
    s->period_s = v * per;
    return RM_OK;
}

/* "Sensor size: 0.500x0.500 cm": column x row pitch. */
static rm_status emed_sensor_size(emed_state *s, const char *p)
{
    double a, b, mm;
    char unit[16];
    if (parse_pair(p + 12 + strspn(p + 12, " \t"), &a, &b, unit, sizeof unit) != 0 || !(a > 0) ||
        !(b > 0) || imp_length_unit(unit[0] ? unit : "cm", &mm) != 0)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: bad Sensor size", s->name,
                          s->l->lineno);
    s->col_mm = a * mm;
    s->row_mm = b * mm;
    return RM_OK;
}

/* The page header keys, anywhere in the line (one line may hold several).
 * *header is set when the line held one. */
static rm_status emed_header_keys(emed_state *s, const char *t, int *header)
{
    const char *p;
    rm_status st = RM_OK;
    *header = 0;
    if ((p = strstr(t, "File:")) != NULL) {
        *header = 1;
        emed_file(s, p);
    }
    if ((p = strstr(t, "Matrix:")) != NULL) {
        *header = 1;
        if ((st = emed_matrix(s, p)) != RM_OK)
            return st;
    }
    if ((p = strstr(t, "Time/picture:")) != NULL) {
        *header = 1;
        if ((st = emed_period(s, p)) != RM_OK)
            return st;
    }
    if ((p = strstr(t, "Sensor size:")) != NULL) {
        *header = 1;
        st = emed_sensor_size(s, p);
    }
    return st;
}

/* "Pict-No.: 12 ...": closes the previous picture and starts a frame. */
static rm_status emed_picture(emed_state *s, const char *p)
{
    rm_status st = end_pict(s, s->r, s->name, s->l->lineno, s->err);
    if (st != RM_OK)
        return st;
    const char *a = p + 9;
    char *end;
    double num = strtod(a, &end);
    if (end == a || !(num >= 0 && num <= 4e9) || num != floor(num))
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: bad picture number", s->name,
                          s->l->lineno);
    if (!s->r->mask)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: picture before 'Matrix:'", s->name,
                          s->l->lineno);
    st = imp_result_add_frame(s->r, s->name, s->l->lineno, (uint32_t)num, 0, &s->values, s->err);
    if (st != RM_OK)
        return st;
    s->pict = (long)num;
    s->pict_line = s->l->lineno;
    s->in_pict = 1;
    s->have_labels = 0;
    s->rows_seen = 0;
    return RM_OK;
}

/* The picture's first data line: 1-based column labels, then "Force". */
static rm_status emed_labels(emed_state *s)
{
    const imp_fields *fl = &s->fl;
    size_t n = fl->n;
    s->has_force_col = !strcmp(fl->v[n - 1], "Force");
    if (s->has_force_col)
        n--;
    if (n == 0 || n > EMED_MAX_LABELS)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: expected column labels", s->name,
                          s->l->lineno);
    for (size_t i = 0; i < n; i++) {
        double num;
        if (imp_parse_number(fl->v[i], &num, NULL) != 0 || num != floor(num) || num < 1 ||
            num > s->mcols)
            return rm_err_set(s->err, RM_ERR_FORMAT,
                              "%s: line %zu: column label '%.16s' is not a column 1..%ld", s->name,
                              s->l->lineno, fl->v[i], s->mcols);
        s->labels[i] = (long)num - 1;
    }
    s->n_labels = n;
    s->have_labels = 1;
    return RM_OK;
}

/* The "Force" row: column sums, the last one is the picture's total force
 * (the reference series force_n when the first picture has it). Ends the
 * picture. */
static rm_status emed_force_row(emed_state *s)
{
    const imp_fields *fl = &s->fl;
    rm_import_result *r = s->r;
    double num;
    if (s->has_force_col && fl->n == s->n_labels + 2 &&
        imp_parse_number(fl->v[fl->n - 1], &num, NULL) == 0) {
        if (s->force_ref == -1 && r->n_frames == 1)
            s->force_ref = imp_result_ref(r, "force_n", "N",
                                          "novel emed total force, Force[N]=sum*sensor_area");
        if (s->force_ref >= 0)
            r->refs[s->force_ref].values[r->n_frames - 1] = num;
    }
    return end_pict(s, r, s->name, s->l->lineno, s->err);
}

/* "row v v ... v [force]": one row of the printed window. */
static rm_status emed_data_row(emed_state *s)
{
    const imp_fields *fl = &s->fl;
    double num;
    if (imp_parse_number(fl->v[0], &num, NULL) != 0)
        return rm_err_set(s->err, RM_ERR_FORMAT,
                          "%s: line %zu: unexpected text '%.24s' in picture %ld", s->name,
                          s->l->lineno, fl->v[0], s->pict);
    if (num != floor(num) || num < 1 || num > s->mrows)
        return rm_err_set(s->err, RM_ERR_RANGE,
                          "%s: line %zu: row label '%.16s' is not a row 1..%ld", s->name,
                          s->l->lineno, fl->v[0], s->mrows);
    size_t want = s->n_labels + (s->has_force_col ? 1 : 0);
    if (fl->n - 1 != want)
        return rm_err_set(s->err, RM_ERR_LENGTH, "%s: line %zu: expected %zu values, found %zu",
                          s->name, s->l->lineno, want, fl->n - 1);
    size_t base = (size_t)((long)num - 1) * (size_t)s->mcols;
    for (size_t i = 0; i < s->n_labels; i++) {
        rm_status st = imp_store_field(s->r, s->values, base + (size_t)s->labels[i], fl->v[i + 1],
                                       s->name, s->l->lineno, i + 1, s->err);
        if (st != RM_OK)
            return st;
    }
    s->rows_seen++;
    return RM_OK;
}

/* One trimmed line: page header keys, a picture start, or (inside a
 * picture) its labels, a data row or the Force row. */
static rm_status emed_line(emed_state *s, char *t)
{
    if (!*t)
        return RM_OK;
    int header;
    rm_status st = emed_header_keys(s, t, &header);
    if (st != RM_OK)
        return st;
    const char *p = strstr(t, "Pict-No.:");
    if (p)
        return emed_picture(s, p);
    if (header || !s->in_pict)
        return RM_OK;
    if ((st = imp_split_ws(&s->fl, t)) != RM_OK)
        return rm_err_set(s->err, st, "%s: out of memory", s->name);
    if (s->fl.n == 0)
        return RM_OK;
    if (!s->have_labels)
        return emed_labels(s);
    if (!strcmp(s->fl.v[0], "Force"))
        return emed_force_row(s);
    return emed_data_row(s);
}

/* After the last line: every picture closed, the pitch, rate and model. */
static rm_status emed_finish(emed_state *s, const rm_import_options *opt)
{
    rm_import_result *r = s->r;
    if (s->in_pict)
        return rm_err_set(s->err, RM_ERR_TRUNCATED,
                          "%s: line %zu: input ends inside picture %ld (no Force row)", s->name,
                          s->l->lineno, s->pict);
    if (!r->n_frames)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: no 'Pict-No.' pictures found",
                          s->name, s->l->lineno);
    r->device.row_pitch_mm = s->row_mm;
    r->device.col_pitch_mm = s->col_mm;
    if (s->period_s > 0)
        r->device.rate_hz = 1.0 / s->period_s;
    snprintf(r->device.model, sizeof r->device.model, "novel emed");
    return imp_result_finish(r, s->name, opt, 0, s->err);
}

rm_status imp_parse_emed(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                         rm_err *err)
{
    emed_state s;
    memset(&s, 0, sizeof s);
    s.force_ref = -1;
    s.l = l;
    s.name = l->name;
    s.r = r;
    s.err = err;
    snprintf(r->units, sizeof r->units, "kPa");
    r->unit_kpa = 1.0;
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc = 0;
    while (st == RM_OK && (rc = imp_lines_next(l, &line, &len, err)) > 0)
        st = emed_line(&s, imp_trim(line));
    if (st == RM_OK)
        st = rc < 0 ? (rm_status)rc : emed_finish(&s, opt);
    imp_fields_free(&s.fl);
    return st;
}

int imp_detect_emed(const char *buf, size_t len, const char *name)
{
    (void)name;
    int pict = 0, matrix = 0, size = 0;
    imp_walk w;
    const char *ln;
    size_t n;
    imp_walk_init(&w, buf, len, RM_IMPORT_DETECT_BYTES);
    while (imp_walk_next(&w, &ln, &n)) {
        pict |= imp_line_has(ln, n, "Pict-No.:");
        matrix |= imp_line_has(ln, n, "Matrix:");
        size |= imp_line_has(ln, n, "Sensor size:");
        if (pict && matrix && size)
            return 1;
    }
    return 0;
}

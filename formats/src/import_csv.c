/* import_csv.c - the rollmat plain CSV frame format for lab-built mats
 * (docs/import.md, "Plain CSV frames").
 *
 *   # rollmat-csv 1
 *   rows=2
 *   cols=3
 *   row_pitch_mm=10
 *   col_pitch_mm=10
 *   rate_hz=50
 *   units=kPa
 *   0,1.5,2, 3,4,5          <- one frame per line (rows*cols values), or
 *   0,1.5,2                 <- a block of `rows` lines of `cols` values
 *   3,4,5
 *
 * Values are separated by commas, semicolons, tabs or spaces; `B` marks a
 * position that is not a sensel. Lines starting with '#' are comments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import_impl.h"

typedef struct csv_state {
    long rows, cols;
    double row_mm, col_mm, rate, scale, raw_kpa;
    int time_first;
    int have_units;
    /* resolved when units= is read: a copy of the name could be cut
     * short and no longer name the unit it was checked as */
    double unit_kpa;
    int unit_raw;
    char unit_canon[sizeof ((rm_import_result *)0)->units];
    /* the parse: the input, the result, where the data walk is */
    imp_lines *l;
    const char *name;
    rm_import_result *r;
    rm_err *err;
    imp_fields fl;
    int in_data;
    long row;          /* rows read of a block frame; 0 = between frames */
    size_t block_line; /* where the current block frame started */
    float *values;     /* the current frame */
    uint8_t *seen;     /* 1 where a number (not B) appeared in any frame */
    size_t per;
} csv_state;

static rm_status key_number(const char *key, const char *v, double min, double max, double *out,
                            const char *name, size_t lineno, rm_err *err)
{
    double d;
    if (imp_parse_number(v, &d, NULL) != 0 || !(d >= min && d <= max))
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %s '%.32s' is not a number in %g..%g",
                          name, lineno, key, v, min, max);
    *out = d;
    return RM_OK;
}

static rm_status header_kv(csv_state *s, rm_import_result *r, char *key, char *v, const char *name,
                           size_t lineno, rm_err *err)
{
    double d = 0;
    rm_status st;
    if (!strcmp(key, "rows") || !strcmp(key, "cols")) {
        if ((st = key_number(key, v, 1, RM_IMPORT_MAX_DIM, &d, name, lineno, err)) != RM_OK)
            return st;
        if (d != floor(d))
            return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %s '%.32s' is not a whole number",
                              name, lineno, key, v);
        if (key[0] == 'r')
            s->rows = (long)d;
        else
            s->cols = (long)d;
        return RM_OK;
    }
    if (!strcmp(key, "row_pitch_mm"))
        return key_number(key, v, 1e-6, 1e4, &s->row_mm, name, lineno, err);
    if (!strcmp(key, "col_pitch_mm"))
        return key_number(key, v, 1e-6, 1e4, &s->col_mm, name, lineno, err);
    if (!strcmp(key, "pitch_mm")) {
        if ((st = key_number(key, v, 1e-6, 1e4, &s->row_mm, name, lineno, err)) != RM_OK)
            return st;
        s->col_mm = s->row_mm;
        return RM_OK;
    }
    if (!strcmp(key, "rate_hz"))
        return key_number(key, v, 1e-6, 1e6, &s->rate, name, lineno, err);
    if (!strcmp(key, "scale"))
        return key_number(key, v, 1e-12, 1e12, &s->scale, name, lineno, err);
    if (!strcmp(key, "raw_kpa"))
        return key_number(key, v, 1e-12, 1e12, &s->raw_kpa, name, lineno, err);
    if (!strcmp(key, "threshold"))
        return key_number(key, v, 0, 1e12, &r->threshold, name, lineno, err);
    if (!strcmp(key, "units")) {
        if (imp_pressure_unit(v, &s->unit_kpa, &s->unit_raw, s->unit_canon,
                              sizeof s->unit_canon) != 0)
            return rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown units '%.32s'", name,
                              lineno, v);
        s->have_units = 1;
        return RM_OK;
    }
    if (!strcmp(key, "time")) {
        if (!strcmp(v, "first"))
            s->time_first = 1;
        else if (!strcmp(v, "none"))
            s->time_first = 0;
        else
            return rm_err_set(err, RM_ERR_FORMAT,
                              "%s: line %zu: time '%.32s' must be 'first' or 'none'", name, lineno,
                              v);
        return RM_OK;
    }
    if (!strcmp(key, "title")) {
        snprintf(r->header.title, sizeof r->header.title, "%s", v);
        return RM_OK;
    }
    if (!strcmp(key, "model")) {
        snprintf(r->device.model, sizeof r->device.model, "%s", v);
        return RM_OK;
    }
    if (!strcmp(key, "serial")) {
        snprintf(r->device.serial, sizeof r->device.serial, "%s", v);
        return RM_OK;
    }
    if (!strcmp(key, "subject")) {
        snprintf(r->header.subject_id, sizeof r->header.subject_id, "%s", v);
        return RM_OK;
    }
    if (!strcmp(key, "created")) {
        double t;
        if (imp_parse_datetime(v, &t) != 0)
            return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: created '%.40s' is not a date",
                              name, lineno, v);
        r->header.created_unix = t;
        rm_format_iso8601(t, r->header.created, sizeof r->header.created);
        return RM_OK;
    }
    return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: unknown key '%.32s'", name, lineno, key);
}

static rm_status start_data(csv_state *s, rm_import_result *r, const char *name, size_t lineno,
                            rm_err *err)
{
    if (s->rows < 1 || s->cols < 1)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: data before rows= and cols=", name,
                          lineno);
    rm_status st = imp_result_geometry(r, name, lineno, s->rows, s->cols, err);
    if (st != RM_OK)
        return st;
    if (!s->have_units)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: data before units=", name, lineno);
    int raw = s->unit_raw;
    double k = s->unit_kpa;
    snprintf(r->units, sizeof r->units, "%s", s->unit_canon);
    if (raw && s->raw_kpa > 0) {
        k = s->raw_kpa;
        raw = 0;
    }
    r->unit_kpa = k;
    r->calibrated = !raw;
    return RM_OK;
}

/* Value `f` (in `units` x scale) at index i of the current frame; `col`
 * (1-based) names it in messages. "B" is not a sensel. */
static rm_status csv_store(csv_state *s, size_t i, const char *f, size_t col)
{
    if (f[0] == 'B' && !f[1])
        return RM_OK;
    double v;
    int dec;
    if (imp_parse_number(f, &v, &dec) != 0)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: value %zu '%.24s' is not a number",
                          s->name, s->l->lineno, col, f);
    imp_note_decimals(s->r, dec);
    rm_status st = imp_store_value(s->r, s->values, i, v * s->scale, s->name, s->l->lineno, s->err);
    if (st == RM_OK)
        s->seen[i] = 1;
    return st;
}

/* A header line "key=value", or the first data line (then *data is set). */
static rm_status csv_header_line(csv_state *s, char *t, int *data)
{
    *data = 0;
    char *eq = strchr(t, '=');
    if (eq) {
        *eq = '\0';
        return header_kv(s, s->r, imp_trim(t), imp_trim(eq + 1), s->name, s->l->lineno, s->err);
    }
    rm_status st = start_data(s, s->r, s->name, s->l->lineno, s->err);
    if (st != RM_OK)
        return st;
    s->per = (size_t)s->rows * (size_t)s->cols;
    s->seen = calloc(s->per, 1);
    if (!s->seen)
        return rm_err_set(s->err, RM_ERR_NOMEM, "%s: out of memory", s->name);
    s->in_data = 1;
    *data = 1;
    return RM_OK;
}

/* A whole frame on one line (its time first with time=first). */
static rm_status csv_frame_line(csv_state *s, size_t tcol)
{
    double tsec = 0;
    if (tcol && imp_parse_number(s->fl.v[0], &tsec, NULL) != 0)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: time '%.24s' is not a number",
                          s->name, s->l->lineno, s->fl.v[0]);
    rm_status st = imp_result_add_frame(s->r, s->name, s->l->lineno, (uint32_t)s->r->n_frames, tsec,
                                        &s->values, s->err);
    for (size_t i = 0; st == RM_OK && i < s->per; i++)
        st = csv_store(s, i, s->fl.v[i + tcol], i + 1 + tcol);
    return st;
}

/* One row of a block frame (`rows` lines of `cols` values). */
static rm_status csv_block_row(csv_state *s)
{
    rm_status st;
    if (s->fl.n != (size_t)s->cols && s->row == 0)
        return rm_err_set(s->err, RM_ERR_LENGTH,
                          "%s: line %zu: expected %zu values (a frame) or %ld (a row), found %zu",
                          s->name, s->l->lineno, s->per, s->cols, s->fl.n);
    if (s->fl.n != (size_t)s->cols)
        return rm_err_set(s->err, RM_ERR_LENGTH, "%s: line %zu: expected %ld values, found %zu",
                          s->name, s->l->lineno, s->cols, s->fl.n);
    if (s->row == 0) {
        st = imp_result_add_frame(s->r, s->name, s->l->lineno, (uint32_t)s->r->n_frames, 0,
                                  &s->values, s->err);
        if (st != RM_OK)
            return st;
        s->block_line = s->l->lineno;
    }
    size_t start = (size_t)s->row * (size_t)s->cols;
    for (size_t c = 0; c < (size_t)s->cols; c++)
        if ((st = csv_store(s, start + c, s->fl.v[c], c + 1)) != RM_OK)
            return st;
    s->row++;
    if (s->row == s->rows)
        s->row = 0;
    return RM_OK;
}

/* One trimmed line: comments and blank lines skipped, the header, then
 * data in either layout. */
static rm_status csv_line(csv_state *s, char *t)
{
    if (!*t || t[0] == '#')
        return RM_OK;
    rm_status st;
    if (!s->in_data) {
        int data;
        if ((st = csv_header_line(s, t, &data)) != RM_OK || !data)
            return st;
        if (!strcmp(t, "data"))
            return RM_OK;
    }
    for (char *p = t; *p; p++)
        if (*p == ',' || *p == ';')
            *p = ' ';
    if ((st = imp_split_ws(&s->fl, t)) != RM_OK)
        return rm_err_set(s->err, st, "%s: out of memory", s->name);
    size_t tcol = s->time_first ? 1 : 0;
    if (s->row == 0 && s->fl.n == s->per + tcol)
        return csv_frame_line(s, tcol);
    if (tcol && s->row == 0)
        return rm_err_set(s->err, RM_ERR_LENGTH,
                          "%s: line %zu: expected %zu values (time and a frame), found %zu",
                          s->name, s->l->lineno, s->per + 1, s->fl.n);
    return csv_block_row(s);
}

/* After the last line: no frame cut short, the mask and the device. */
static rm_status csv_finish(csv_state *s, const rm_import_options *opt)
{
    rm_import_result *r = s->r;
    if (s->row != 0)
        return rm_err_set(s->err, RM_ERR_TRUNCATED,
                          "%s: line %zu: input ends inside the frame that starts on line %zu (%ld "
                          "of %ld rows)",
                          s->name, s->l->lineno, s->block_line, s->row, s->rows);
    if (!r->n_frames)
        return rm_err_set(s->err, RM_ERR_FORMAT, "%s: line %zu: no frames found", s->name,
                          s->l->lineno);
    for (size_t i = 0; i < s->per; i++)
        r->mask[i] = s->seen[i];
    r->device.row_pitch_mm = s->row_mm;
    r->device.col_pitch_mm = s->col_mm;
    r->device.rate_hz = s->rate;
    if (!r->device.model[0])
        snprintf(r->device.model, sizeof r->device.model, "lab mat");
    return imp_result_finish(r, s->name, opt, s->time_first && !(s->rate > 0), s->err);
}

rm_status imp_parse_csv(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                        rm_err *err)
{
    csv_state s;
    memset(&s, 0, sizeof s);
    s.scale = 1.0;
    s.l = l;
    s.name = l->name;
    s.r = r;
    s.err = err;
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc = 0;
    while (st == RM_OK && (rc = imp_lines_next(l, &line, &len, err)) > 0)
        st = csv_line(&s, imp_trim(line));
    if (st == RM_OK)
        st = rc < 0 ? (rm_status)rc : csv_finish(&s, opt);
    free(s.seen);
    imp_fields_free(&s.fl);
    return st;
}

int imp_detect_csv(const char *buf, size_t len, const char *name)
{
    (void)name;
    int rows = 0, cols = 0;
    imp_walk w;
    const char *ln;
    size_t n;
    imp_walk_init(&w, buf, len, RM_IMPORT_DETECT_BYTES);
    while (imp_walk_next(&w, &ln, &n)) {
        while (n > 0 && (*ln == ' ' || *ln == '\t')) {
            ln++;
            n--;
        }
        if (imp_line_starts(ln, n, "# rollmat-csv"))
            return 1;
        if (!n || ln[0] == '#')
            continue;
        if (!memchr(ln, '=', n))
            break; /* data starts */
        rows |= imp_line_starts(ln, n, "rows=");
        cols |= imp_line_starts(ln, n, "cols=");
    }
    return rows && cols;
}

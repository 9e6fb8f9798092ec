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
    char units[32];
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

static rm_status header_kv(csv_state *s, rm_import_result *r, char *key, char *v,
                           const char *name, size_t lineno, rm_err *err)
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
        snprintf(s->units, sizeof s->units, "%s", v);
        s->have_units = 1;
        int raw;
        double k;
        if (imp_pressure_unit(v, &k, &raw, NULL, 0) != 0)
            return rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown units '%.32s'",
                              name, lineno, v);
        return RM_OK;
    }
    if (!strcmp(key, "time")) {
        if (!strcmp(v, "first"))
            s->time_first = 1;
        else if (!strcmp(v, "none"))
            s->time_first = 0;
        else
            return rm_err_set(err, RM_ERR_FORMAT,
                              "%s: line %zu: time '%.32s' must be 'first' or 'none'", name,
                              lineno, v);
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
    int raw;
    double k;
    imp_pressure_unit(s->units, &k, &raw, r->units, sizeof r->units);
    if (raw && s->raw_kpa > 0) {
        k = s->raw_kpa;
        raw = 0;
    }
    r->unit_kpa = k;
    r->calibrated = !raw;
    return RM_OK;
}

rm_status imp_parse_csv(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                        rm_err *err)
{
    const char *name = l->name;
    csv_state s;
    memset(&s, 0, sizeof s);
    s.scale = 1.0;
    imp_fields fl = {0};
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc;
    int in_data = 0;
    long row = 0;            /* rows read of a block frame; 0 = between frames */
    size_t block_line = 0;
    float *values = NULL;
    uint8_t *seen = NULL;
    size_t per = 0;

    while ((rc = imp_lines_next(l, &line, &len, err)) > 0) {
        char *t = imp_trim(line);
        if (!*t || t[0] == '#')
            continue;
        if (!in_data) {
            char *eq = strchr(t, '=');
            if (eq) {
                *eq = '\0';
                if ((st = header_kv(&s, r, imp_trim(t), imp_trim(eq + 1), name, l->lineno,
                                    err)) != RM_OK)
                    goto out;
                continue;
            }
            if ((st = start_data(&s, r, name, l->lineno, err)) != RM_OK)
                goto out;
            per = (size_t)s.rows * (size_t)s.cols;
            seen = calloc(per, 1);
            if (!seen) {
                st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
                goto out;
            }
            in_data = 1;
            if (!strcmp(t, "data"))
                continue;
        }
        for (char *p = t; *p; p++)
            if (*p == ',' || *p == ';')
                *p = ' ';
        if ((st = imp_split_ws(&fl, t)) != RM_OK) {
            rm_err_set(err, st, "%s: out of memory", name);
            goto out;
        }
        size_t tcol = s.time_first ? 1 : 0;
        if (row == 0 && fl.n == per + tcol) {
            double tsec = 0;
            if (tcol && imp_parse_number(fl.v[0], &tsec, NULL) != 0) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: time '%.24s' is not a number",
                                name, l->lineno, fl.v[0]);
                goto out;
            }
            if ((st = imp_result_add_frame(r, name, l->lineno, (uint32_t)r->n_frames, tsec,
                                           &values, err)) != RM_OK)
                goto out;
            for (size_t i = 0; i < per; i++) {
                const char *f = fl.v[i + tcol];
                if (f[0] == 'B' && !f[1])
                    continue;
                double v;
                int dec;
                if (imp_parse_number(f, &v, &dec) != 0) {
                    st = rm_err_set(err, RM_ERR_FORMAT,
                                    "%s: line %zu: value %zu '%.24s' is not a number", name,
                                    l->lineno, i + 1 + tcol, f);
                    goto out;
                }
                imp_note_decimals(r, dec);
                if ((st = imp_store_value(r, values, i, v * s.scale, name, l->lineno, err)) !=
                    RM_OK)
                    goto out;
                seen[i] = 1;
            }
            continue;
        }
        if (tcol && row == 0) {
            st = rm_err_set(err, RM_ERR_LENGTH,
                            "%s: line %zu: expected %zu values (time and a frame), found %zu", name,
                            l->lineno, per + 1, fl.n);
            goto out;
        }
        if (fl.n != (size_t)s.cols) {
            if (row == 0)
                st = rm_err_set(err, RM_ERR_LENGTH,
                                "%s: line %zu: expected %zu values (a frame) or %ld (a row), found %zu",
                                name, l->lineno, per, s.cols, fl.n);
            else
                st = rm_err_set(err, RM_ERR_LENGTH, "%s: line %zu: expected %ld values, found %zu",
                                name, l->lineno, s.cols, fl.n);
            goto out;
        }
        if (row == 0) {
            if ((st = imp_result_add_frame(r, name, l->lineno, (uint32_t)r->n_frames, 0, &values,
                                           err)) != RM_OK)
                goto out;
            block_line = l->lineno;
        }
        size_t start = (size_t)row * (size_t)s.cols;
        for (size_t c = 0; c < (size_t)s.cols; c++) {
            const char *f = fl.v[c];
            if (f[0] == 'B' && !f[1])
                continue;
            double v;
            int dec;
            if (imp_parse_number(f, &v, &dec) != 0) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: value %zu '%.24s' is not a number",
                                name, l->lineno, c + 1, f);
                goto out;
            }
            imp_note_decimals(r, dec);
            if ((st = imp_store_value(r, values, start + c, v * s.scale, name, l->lineno, err)) !=
                RM_OK)
                goto out;
            seen[start + c] = 1;
        }
        row++;
        if (row == s.rows)
            row = 0;
    }
    if (rc < 0) {
        st = (rm_status)rc;
        goto out;
    }
    if (row != 0) {
        st = rm_err_set(err, RM_ERR_TRUNCATED,
                        "%s: line %zu: input ends inside the frame that starts on line %zu (%ld of "
                        "%ld rows)",
                        name, l->lineno, block_line, row, s.rows);
        goto out;
    }
    if (!r->n_frames) {
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: no frames found", name, l->lineno);
        goto out;
    }
    for (size_t i = 0; i < per; i++)
        r->mask[i] = seen[i];
    r->device.row_pitch_mm = s.row_mm;
    r->device.col_pitch_mm = s.col_mm;
    r->device.rate_hz = s.rate;
    if (!r->device.model[0])
        snprintf(r->device.model, sizeof r->device.model, "lab mat");
    st = imp_result_finish(r, name, opt, s.time_first && !(s.rate > 0), err);
out:
    free(seen);
    imp_fields_free(&fl);
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

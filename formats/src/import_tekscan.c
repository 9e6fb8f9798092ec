/* import_tekscan.c - Tekscan ASCII movie (.asf) and its CSV variant.
 *
 * Header: "KEY value" lines (ROWS, COLS, ROW_SPACING 5.08 mm, COL_SPACING,
 * SECONDS_PER_FRAME, UNITS, NOISE_THRESHOLD, TIME, SENSOR_TYPE, VERSION,
 * FILENAME, COMMENTS:, START_FRAME, END_FRAME, ...), "ASCII_DATA @@", then
 * "Frame N" blocks of ROWS lines of COLS comma-separated values, `B` for a
 * position that is not a sensel; "@@" ends the data. The CSV variant writes
 * "Frame N, time_s,, date,,,Raw Sum=,,sum" frame lines. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import_impl.h"

typedef struct tk_state {
    long rows, cols;
    double row_mm, col_mm, spf;
    long start_frame, end_frame;
    int have_units;
    char sensor[32], version[32], hardware[64], filename[128], comments[128];
    int in_comments;
} tk_state;

/* "KEY rest": the key is the first run of non-blanks. */
static char *split_key(char *line, char **rest)
{
    char *p = line;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p) {
        *p++ = '\0';
        *rest = imp_trim(p);
    } else {
        *rest = p;
    }
    return line;
}

static int is_key_token(const char *k)
{
    if (strlen(k) < 3)
        return 0;
    for (const char *p = k; *p; p++)
        if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == ':'))
            return 0;
    return 1;
}

static rm_status parse_long(const char *v, long min, long max, long *out, const char *name,
                            size_t lineno, const char *key, rm_err *err)
{
    double d;
    if (imp_parse_number(v, &d, NULL) != 0 || d != floor(d) || d < (double)min ||
        d > (double)max)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %s '%.32s' is not a whole number in %ld..%ld",
                          name, lineno, key, v, min, max);
    *out = (long)d;
    return RM_OK;
}

static rm_status parse_length(char *v, double *mm, const char *name, size_t lineno,
                              const char *key, rm_err *err)
{
    char *unit = NULL;
    char *num = split_key(v, &unit);
    double d, per = 1.0;
    if (imp_parse_number(num, &d, NULL) != 0 || !(d > 0))
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %s '%.32s' is not a positive number",
                          name, lineno, key, num);
    if (unit && *unit && imp_length_unit(unit, &per) != 0)
        return rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: %s has unknown unit '%.32s'",
                          name, lineno, key, unit);
    *mm = d * per;
    return RM_OK;
}

static rm_status header_line(tk_state *s, rm_import_result *r, char *line, const char *name,
                             size_t lineno, rm_err *err)
{
    char *rest = NULL;
    char copy[160];
    snprintf(copy, sizeof copy, "%s", line);
    char *key = split_key(line, &rest);
    if (s->in_comments) {
        if (!is_key_token(key)) {
            size_t n = strlen(s->comments);
            if (n + 2 < sizeof s->comments)
                snprintf(s->comments + n, sizeof s->comments - n, "%s%s", n ? " " : "",
                         imp_trim(copy));
            return RM_OK;
        }
        s->in_comments = 0;
    }
    if (!strcmp(key, "ROWS"))
        return parse_long(rest, 1, RM_IMPORT_MAX_DIM, &s->rows, name, lineno, key, err);
    if (!strcmp(key, "COLS"))
        return parse_long(rest, 1, RM_IMPORT_MAX_DIM, &s->cols, name, lineno, key, err);
    if (!strcmp(key, "ROW_SPACING"))
        return parse_length(rest, &s->row_mm, name, lineno, key, err);
    if (!strcmp(key, "COL_SPACING"))
        return parse_length(rest, &s->col_mm, name, lineno, key, err);
    if (!strcmp(key, "START_FRAME"))
        return parse_long(rest, 0, 2000000000L, &s->start_frame, name, lineno, key, err);
    if (!strcmp(key, "END_FRAME"))
        return parse_long(rest, 0, 2000000000L, &s->end_frame, name, lineno, key, err);
    if (!strcmp(key, "SECONDS_PER_FRAME")) {
        double d;
        if (imp_parse_number(rest, &d, NULL) != 0 || !(d > 0))
            return rm_err_set(err, RM_ERR_FORMAT,
                              "%s: line %zu: SECONDS_PER_FRAME '%.32s' is not a positive number",
                              name, lineno, rest);
        s->spf = d;
        return RM_OK;
    }
    if (!strcmp(key, "UNITS")) {
        int raw;
        if (imp_pressure_unit(rest, &r->unit_kpa, &raw, r->units, sizeof r->units) != 0)
            return rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown UNITS '%.32s'",
                              name, lineno, rest);
        r->calibrated = !raw;
        s->have_units = 1;
        return RM_OK;
    }
    if (!strcmp(key, "NOISE_THRESHOLD")) {
        double d;
        if (imp_parse_number(rest, &d, NULL) == 0 && d >= 0)
            r->threshold = d;
        return RM_OK;
    }
    if (!strcmp(key, "TIME")) {
        double t;
        if (imp_parse_datetime(rest, &t) == 0) {
            r->header.created_unix = t;
            rm_format_iso8601(t, r->header.created, sizeof r->header.created);
        }
        return RM_OK;
    }
    if (!strcmp(key, "SENSOR_TYPE"))
        snprintf(s->sensor, sizeof s->sensor, "%s", rest);
    else if (!strcmp(key, "VERSION")) {
        /* "Tekscan Pressure Measurement System 6.33": keep the number. */
        char *last = strrchr(rest, ' ');
        snprintf(s->version, sizeof s->version, "%s", last ? last + 1 : rest);
    } else if (!strcmp(key, "HARDWARE"))
        snprintf(s->hardware, sizeof s->hardware, "%s", rest);
    else if (!strcmp(key, "FILENAME"))
        imp_copy_name(s->filename, sizeof s->filename, rest, 1, 1);
    else if (!strcmp(key, "COMMENTS:") || !strcmp(key, "COMMENTS")) {
        s->in_comments = 1;
        if (*rest)
            snprintf(s->comments, sizeof s->comments, "%s", rest);
    }
    return RM_OK;
}

/* "Frame 12" or "Frame 12, 1.1,, 12/2/2019 6:21:53.44PM,,,Raw Sum=,,310". */
static int is_frame_line(const char *line)
{
    return !strncmp(line, "Frame", 5) && (line[5] == ' ' || line[5] == '\t');
}

rm_status imp_parse_tekscan(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                            rm_err *err)
{
    const char *name = l->name;
    tk_state s;
    memset(&s, 0, sizeof s);
    s.start_frame = s.end_frame = -1;
    imp_fields fl = {0};
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc;
    int in_data = 0, ended = 0, saw_header = 0;
    long row = 0;           /* rows read of the current frame */
    long frame_no = 0;
    size_t frame_line = 0;
    float *values = NULL;
    uint8_t *seen = NULL;   /* 1 where a number (not B) appeared in any frame */
    int all_times = 1;
    long raw_sum_ref = -2;  /* -2: not decided; -1: none */
    size_t per = 0;

    while ((rc = imp_lines_next(l, &line, &len, err)) > 0) {
        char *t = imp_trim(line);
        if (ended)
            continue;
        if (!in_data) {
            if (!*t)
                continue;
            if (!is_frame_line(t)) {
                saw_header = 1;
                if (!strcmp(t, "@@")) {
                    ended = 1;
                    continue;
                }
                if ((st = header_line(&s, r, t, name, l->lineno, err)) != RM_OK)
                    goto out;
                continue;
            }
            /* first frame line: the header is complete */
            if (s.rows < 1 || s.cols < 1) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: frame data before ROWS and COLS",
                                name, l->lineno);
                goto out;
            }
            if ((st = imp_result_geometry(r, name, l->lineno, s.rows, s.cols, err)) != RM_OK)
                goto out;
            per = (size_t)s.rows * (size_t)s.cols;
            seen = calloc(per, 1);
            if (!seen) {
                st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
                goto out;
            }
            if (!s.have_units) { /* no UNITS: never claim kPa */
                snprintf(r->units, sizeof r->units, "raw");
                r->calibrated = 0;
                r->unit_kpa = 1.0;
            }
            in_data = 1;
        }
        if (row > 0 && row < s.rows) {
            /* inside a frame: the next row */
            if (!*t)
                continue;
            if (is_frame_line(t) || !strcmp(t, "@@")) {
                st = rm_err_set(err, RM_ERR_TRUNCATED,
                                "%s: line %zu: frame %ld has %ld rows, expected %ld", name,
                                l->lineno, frame_no, row, s.rows);
                goto out;
            }
        } else {
            if (!*t)
                continue;
            if (!strcmp(t, "@@")) {
                if (row == 0 && frame_line) {
                    st = rm_err_set(err, RM_ERR_TRUNCATED, "%s: line %zu: frame %ld has no rows",
                                    name, l->lineno, frame_no);
                    goto out;
                }
                ended = 1;
                continue;
            }
            if (is_frame_line(t)) {
                if (row == 0 && frame_line) {
                    st = rm_err_set(err, RM_ERR_TRUNCATED, "%s: line %zu: frame %ld has no rows",
                                    name, l->lineno, frame_no);
                    goto out;
                }
                if ((st = imp_split_char(&fl, t, ',')) != RM_OK) {
                    rm_err_set(err, st, "%s: out of memory", name);
                    goto out;
                }
                double num;
                const char *p = fl.v[0] + 5;
                if (imp_parse_number(imp_trim((char *)p), &num, NULL) != 0 || num < 0 ||
                    num > 4e9 || num != floor(num)) {
                    st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: bad frame number in '%.40s'",
                                    name, l->lineno, fl.v[0]);
                    goto out;
                }
                frame_no = (long)num;
                double tsec = NAN;
                if (fl.n > 1 && imp_parse_number(fl.v[1], &tsec, NULL) != 0)
                    tsec = NAN;
                if (isnan(tsec))
                    all_times = 0;
                double raw_sum = NAN;
                for (size_t k = 0; k + 1 < fl.n; k++) {
                    if (!strcmp(fl.v[k], "Raw Sum=")) {
                        for (size_t j = k + 1; j < fl.n; j++) {
                            if (fl.v[j][0]) {
                                if (imp_parse_number(fl.v[j], &raw_sum, NULL) != 0)
                                    raw_sum = NAN;
                                break;
                            }
                        }
                    }
                }
                if (raw_sum_ref == -2)
                    raw_sum_ref = isnan(raw_sum) ? -1
                                                 : imp_result_ref(r, "raw_sum", "raw",
                                                                  "Tekscan Raw Sum (vendor)");
                if ((st = imp_result_add_frame(r, name, l->lineno, (uint32_t)frame_no,
                                               isnan(tsec) ? 0 : tsec, &values, err)) != RM_OK)
                    goto out;
                if (raw_sum_ref >= 0 && !isnan(raw_sum))
                    r->refs[raw_sum_ref].values[r->n_frames - 1] = raw_sum;
                frame_line = l->lineno;
                row = 0;
                continue;
            }
            if (row == s.rows || !frame_line) {
                st = rm_err_set(err, RM_ERR_FORMAT,
                                "%s: line %zu: expected 'Frame N' or '@@', found '%.32s'", name,
                                l->lineno, t);
                goto out;
            }
        }
        /* a row of values */
        if ((st = imp_split_char(&fl, t, ',')) != RM_OK) {
            rm_err_set(err, st, "%s: out of memory", name);
            goto out;
        }
        imp_fields_rstrip(&fl);
        if ((long)fl.n != s.cols) {
            st = rm_err_set(err, RM_ERR_LENGTH, "%s: line %zu: expected %ld values, found %zu",
                            name, l->lineno, s.cols, fl.n);
            goto out;
        }
        for (long c = 0; c < s.cols; c++) {
            const char *f = fl.v[c];
            size_t i = (size_t)row * (size_t)s.cols + (size_t)c;
            if (f[0] == 'B' && f[1] == '\0')
                continue;
            if ((st = imp_store_field(r, values, i, f, name, l->lineno, (size_t)c + 1, err)) !=
                RM_OK)
                goto out;
            seen[i] = 1;
        }
        row++;
    }
    if (rc < 0) {
        st = (rm_status)rc;
        goto out;
    }
    if (in_data && row < s.rows) {
        st = rm_err_set(err, RM_ERR_TRUNCATED,
                        "%s: line %zu: input ends inside frame %ld after %ld of %ld rows", name,
                        l->lineno, frame_no, row, s.rows);
        goto out;
    }
    if (!r->n_frames) {
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: no 'Frame N' blocks found%s", name,
                        l->lineno, saw_header ? "" : " (empty input)");
        goto out;
    }
    if (s.start_frame >= 0 && s.end_frame >= s.start_frame &&
        (size_t)(s.end_frame - s.start_frame + 1) != r->n_frames) {
        st = rm_err_set(err, RM_ERR_TRUNCATED,
                        "%s: header says frames %ld..%ld (%ld), found %zu frames", name,
                        s.start_frame, s.end_frame, s.end_frame - s.start_frame + 1, r->n_frames);
        goto out;
    }
    for (size_t i = 0; i < per; i++)
        r->mask[i] = seen[i];
    r->device.row_pitch_mm = s.row_mm;
    r->device.col_pitch_mm = s.col_mm;
    if (s.spf > 0)
        r->device.rate_hz = 1.0 / s.spf;
    snprintf(r->device.model, sizeof r->device.model, "Tekscan %.8s", s.sensor);
    snprintf(r->device.firmware, sizeof r->device.firmware, "%.16s", s.version);
    snprintf(r->device.serial, sizeof r->device.serial, "%s", s.hardware);
    if (s.comments[0])
        snprintf(r->header.title, sizeof r->header.title, "%s", s.comments);
    else if (s.filename[0])
        snprintf(r->header.title, sizeof r->header.title, "%s", s.filename);
    st = imp_result_finish(r, name, opt, all_times && s.spf <= 0, err);
out:
    free(seen);
    imp_fields_free(&fl);
    return st;
}

/* 0: not Tekscan; else the variant the first bytes show: RM_IMPORT_TEKSCAN
 * or RM_IMPORT_TEKSCAN_CSV (a frame line with commas), the file name's
 * extension breaking the tie when no frame line is within the bytes. */
static rm_import_format tekscan_variant(const char *buf, size_t len, const char *name)
{
    /* The header's first keys, then (if within the bytes) a frame line. */
    static const char *const keys1[] = {"ROWS ", "COLS ", "ROW_SPACING ", "SECONDS_PER_FRAME ",
                                        "ASCII_DATA "};
    int csv_frames = -1;
    int keys = 0;
    imp_walk w;
    const char *ln;
    size_t n;
    imp_walk_init(&w, buf, len, RM_IMPORT_DETECT_BYTES);
    while (csv_frames < 0 && imp_walk_next(&w, &ln, &n)) {
        int key = 0;
        for (size_t k = 0; k < sizeof keys1 / sizeof keys1[0]; k++)
            key |= imp_line_starts(ln, n, keys1[k]);
        if (imp_line_starts(ln, n, "DATA_TYPE"))
            keys += 2;
        else if (key)
            keys++;
        else if (n > 6 && imp_line_starts(ln, n, "Frame ") && keys >= 2)
            csv_frames = memchr(ln, ',', n) != NULL;
    }
    if (keys < 3)
        return RM_IMPORT_UNKNOWN;
    if (csv_frames >= 0)
        return csv_frames ? RM_IMPORT_TEKSCAN_CSV : RM_IMPORT_TEKSCAN;
    const char *dot = name ? strrchr(name, '.') : NULL;
    return dot && imp_unit_eq(dot, ".csv") ? RM_IMPORT_TEKSCAN_CSV : RM_IMPORT_TEKSCAN;
}

int imp_detect_tekscan(const char *buf, size_t len, const char *name)
{
    return tekscan_variant(buf, len, name) == RM_IMPORT_TEKSCAN;
}

int imp_detect_tekscan_csv(const char *buf, size_t len, const char *name)
{
    return tekscan_variant(buf, len, name) == RM_IMPORT_TEKSCAN_CSV;
}

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
    if (imp_parse_number(v, &d, NULL) != 0 || d != floor(d) || d < (double)min || d > (double)max)
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: line %zu: %s '%.32s' is not a whole number in %ld..%ld", name,
                          lineno, key, v, min, max);
    *out = (long)d;
    return RM_OK;
}

static rm_status parse_length(char *v, double *mm, const char *name, size_t lineno, const char *key,
                              rm_err *err)
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
            return rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown UNITS '%.32s'", name,
                              lineno, rest);
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

/* The parse of one file: the header's facts, where the line walk is, and
 * what the frames gathered so far. */
typedef struct tk_parse {
    tk_state s;
    imp_lines *l;
    const char *name;
    rm_import_result *r;
    rm_err *err;
    imp_fields fl;
    int in_data, ended, saw_header;
    long row; /* rows read of the current frame */
    long frame_no;
    size_t frame_line; /* line of the current "Frame N", 0 before the first */
    float *values;     /* the current frame */
    uint8_t *seen;     /* 1 where a number (not B) appeared in any frame */
    int all_times;
    long raw_sum_ref; /* -2: not decided; -1: none */
    size_t per;
} tk_parse;

/* A header line, or "@@" before any frame (an export without frames). */
static rm_status tk_header(tk_parse *p, char *t)
{
    p->saw_header = 1;
    if (!strcmp(t, "@@")) {
        p->ended = 1;
        return RM_OK;
    }
    return header_line(&p->s, p->r, t, p->name, p->l->lineno, p->err);
}

/* The first frame line: the header is complete, the geometry known. */
static rm_status tk_start_data(tk_parse *p)
{
    if (p->s.rows < 1 || p->s.cols < 1)
        return rm_err_set(p->err, RM_ERR_FORMAT, "%s: line %zu: frame data before ROWS and COLS",
                          p->name, p->l->lineno);
    rm_status st = imp_result_geometry(p->r, p->name, p->l->lineno, p->s.rows, p->s.cols, p->err);
    if (st != RM_OK)
        return st;
    p->per = (size_t)p->s.rows * (size_t)p->s.cols;
    p->seen = calloc(p->per, 1);
    if (!p->seen)
        return rm_err_set(p->err, RM_ERR_NOMEM, "%s: out of memory", p->name);
    if (!p->s.have_units) { /* no UNITS: never claim kPa */
        snprintf(p->r->units, sizeof p->r->units, "raw");
        p->r->calibrated = 0;
        p->r->unit_kpa = 1.0;
    }
    p->in_data = 1;
    return RM_OK;
}

/* The number in the first non-empty field after field k; `prev` when there
 * is none, NaN when it is not a number. */
static double number_after(const imp_fields *fl, size_t k, double prev)
{
    for (size_t j = k + 1; j < fl->n; j++) {
        double v;
        if (fl->v[j][0])
            return imp_parse_number(fl->v[j], &v, NULL) == 0 ? v : NAN;
    }
    return prev;
}

/* The CSV variant's "Raw Sum=,,310" (the last such label wins); NaN if none. */
static double raw_sum_of(const imp_fields *fl)
{
    double raw_sum = NAN;
    for (size_t k = 0; k + 1 < fl->n; k++)
        if (!strcmp(fl->v[k], "Raw Sum="))
            raw_sum = number_after(fl, k, raw_sum);
    return raw_sum;
}

/* A frame with no row before the next "Frame N" or "@@" is cut short. */
static rm_status tk_check_rows(const tk_parse *p)
{
    if (p->row == 0 && p->frame_line)
        return rm_err_set(p->err, RM_ERR_TRUNCATED, "%s: line %zu: frame %ld has no rows", p->name,
                          p->l->lineno, p->frame_no);
    return RM_OK;
}

/* "Frame N[, time,, date,,,Raw Sum=,,S]": starts the next frame. */
static rm_status tk_frame_line(tk_parse *p, char *t)
{
    rm_status st = tk_check_rows(p);
    if (st != RM_OK)
        return st;
    if ((st = imp_split_char(&p->fl, t, ',')) != RM_OK)
        return rm_err_set(p->err, st, "%s: out of memory", p->name);
    double num;
    char *f0 = p->fl.v[0];
    if (imp_parse_number(imp_trim(f0 + 5), &num, NULL) != 0 || num < 0 || num > 4e9 ||
        num != floor(num))
        return rm_err_set(p->err, RM_ERR_FORMAT, "%s: line %zu: bad frame number in '%.40s'",
                          p->name, p->l->lineno, f0);
    p->frame_no = (long)num;
    double tsec = NAN;
    if (p->fl.n > 1 && imp_parse_number(p->fl.v[1], &tsec, NULL) != 0)
        tsec = NAN;
    if (isnan(tsec))
        p->all_times = 0;
    double raw_sum = raw_sum_of(&p->fl);
    if (p->raw_sum_ref == -2)
        p->raw_sum_ref = isnan(raw_sum)
                             ? -1
                             : imp_result_ref(p->r, "raw_sum", "raw", "Tekscan Raw Sum (vendor)");
    st = imp_result_add_frame(p->r, p->name, p->l->lineno, (uint32_t)p->frame_no,
                              isnan(tsec) ? 0 : tsec, &p->values, p->err);
    if (st != RM_OK)
        return st;
    if (p->raw_sum_ref >= 0 && !isnan(raw_sum))
        p->r->refs[p->raw_sum_ref].values[p->r->n_frames - 1] = raw_sum;
    p->frame_line = p->l->lineno;
    p->row = 0;
    return RM_OK;
}

/* One row of COLS values of the current frame ("B": not a sensel). */
static rm_status tk_row(tk_parse *p, char *t)
{
    rm_status st = imp_split_char(&p->fl, t, ',');
    if (st != RM_OK)
        return rm_err_set(p->err, st, "%s: out of memory", p->name);
    imp_fields_rstrip(&p->fl);
    if ((long)p->fl.n != p->s.cols)
        return rm_err_set(p->err, RM_ERR_LENGTH, "%s: line %zu: expected %ld values, found %zu",
                          p->name, p->l->lineno, p->s.cols, p->fl.n);
    for (long c = 0; c < p->s.cols; c++) {
        const char *f = p->fl.v[c];
        size_t i = (size_t)p->row * (size_t)p->s.cols + (size_t)c;
        if (f[0] == 'B' && f[1] == '\0')
            continue;
        st = imp_store_field(p->r, p->values, i, f, p->name, p->l->lineno, (size_t)c + 1, p->err);
        if (st != RM_OK)
            return st;
        p->seen[i] = 1;
    }
    p->row++;
    return RM_OK;
}

/* A line between frames (or right after a frame line): "Frame N", "@@",
 * or the first row of the frame. */
static rm_status tk_between_frames(tk_parse *p, char *t)
{
    if (!strcmp(t, "@@")) {
        p->ended = 1;
        return tk_check_rows(p);
    }
    if (is_frame_line(t))
        return tk_frame_line(p, t);
    if (p->row == p->s.rows || !p->frame_line)
        return rm_err_set(p->err, RM_ERR_FORMAT,
                          "%s: line %zu: expected 'Frame N' or '@@', found '%.32s'", p->name,
                          p->l->lineno, t);
    return tk_row(p, t);
}

/* One trimmed line. Blank lines are skipped everywhere; nothing after the
 * closing "@@" is read. */
static rm_status tk_line(tk_parse *p, char *t)
{
    if (p->ended || !*t)
        return RM_OK;
    if (!p->in_data) {
        if (!is_frame_line(t))
            return tk_header(p, t);
        rm_status st = tk_start_data(p);
        if (st != RM_OK)
            return st;
    }
    if (p->row == 0 || p->row >= p->s.rows)
        return tk_between_frames(p, t);
    /* inside a frame: the next row */
    if (is_frame_line(t) || !strcmp(t, "@@"))
        return rm_err_set(p->err, RM_ERR_TRUNCATED,
                          "%s: line %zu: frame %ld has %ld rows, expected %ld", p->name,
                          p->l->lineno, p->frame_no, p->row, p->s.rows);
    return tk_row(p, t);
}

/* After the last line: the cross-checks, the mask and the device. */
static rm_status tk_finish(tk_parse *p, const rm_import_options *opt)
{
    rm_import_result *r = p->r;
    const tk_state *s = &p->s;
    if (p->in_data && p->row < s->rows)
        return rm_err_set(p->err, RM_ERR_TRUNCATED,
                          "%s: line %zu: input ends inside frame %ld after %ld of %ld rows",
                          p->name, p->l->lineno, p->frame_no, p->row, s->rows);
    if (!r->n_frames)
        return rm_err_set(p->err, RM_ERR_FORMAT, "%s: line %zu: no 'Frame N' blocks found%s",
                          p->name, p->l->lineno, p->saw_header ? "" : " (empty input)");
    if (s->start_frame >= 0 && s->end_frame >= s->start_frame &&
        (size_t)(s->end_frame - s->start_frame + 1) != r->n_frames)
        return rm_err_set(
            p->err, RM_ERR_TRUNCATED, "%s: header says frames %ld..%ld (%ld), found %zu frames",
            p->name, s->start_frame, s->end_frame, s->end_frame - s->start_frame + 1, r->n_frames);
    for (size_t i = 0; i < p->per; i++)
        r->mask[i] = p->seen[i];
    r->device.row_pitch_mm = s->row_mm;
    r->device.col_pitch_mm = s->col_mm;
    if (s->spf > 0)
        r->device.rate_hz = 1.0 / s->spf;
    snprintf(r->device.model, sizeof r->device.model, "Tekscan %.8s", s->sensor);
    snprintf(r->device.firmware, sizeof r->device.firmware, "%.16s", s->version);
    snprintf(r->device.serial, sizeof r->device.serial, "%s", s->hardware);
    if (s->comments[0])
        snprintf(r->header.title, sizeof r->header.title, "%s", s->comments);
    else if (s->filename[0])
        snprintf(r->header.title, sizeof r->header.title, "%s", s->filename);
    return imp_result_finish(r, p->name, opt, p->all_times && s->spf <= 0, p->err);
}

rm_status imp_parse_tekscan(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                            rm_err *err)
{
    tk_parse p;
    memset(&p, 0, sizeof p);
    p.s.start_frame = p.s.end_frame = -1;
    p.l = l;
    p.name = l->name;
    p.r = r;
    p.err = err;
    p.all_times = 1;
    p.raw_sum_ref = -2;
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc = 0;
    while (st == RM_OK && (rc = imp_lines_next(l, &line, &len, err)) > 0)
        st = tk_line(&p, imp_trim(line));
    if (st == RM_OK)
        st = rc < 0 ? (rm_status)rc : tk_finish(&p, opt);
    free(p.seen);
    imp_fields_free(&p.fl);
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

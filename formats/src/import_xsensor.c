/* import_xsensor.c - XSENSOR per-frame CSV export (X3 / Foresite software).
 *
 * Layout (every line padded with commas): a file header ("File:", "Units:",
 * "Threshold:"), then per frame "FRAME,n", "Date, 2022 Aug 16",
 * "Time, 08:21:17.982", and one block per sensor: "SENSOR,name", "Rows",
 * "Columns", "Sensel Width (cm)", "Sensel Height (cm)", the software's
 * statistics ("Est. Load (N)", "Contact Area (cm²)", "Peak Pressure
 * (mmHg)", ...), "SENSELS" and Rows lines of Columns values. "GROUP"
 * blocks (regions of a sensor, their cells as flat lists) follow; they are
 * subsets of the sensor grids and only their cell areas are used (to
 * recover the sensel area the header rounds).
 *
 * Several sensors (left and right insole) are placed side by side in one
 * grid, left to right in file order, separated by one column that is not a
 * sensel (mask 0) so their contacts never touch. Each sensor's statistics
 * become reference series "sensor<k>_<name>". */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import_impl.h"

#define XS_MAX_SENSORS 16

typedef struct xs_sensor {
    char name[64];
    long rows, cols;
    double width_mm, height_mm;
    long col0;      /* first column in the combined grid */
    float *grid;    /* rows*cols, this frame */
    long grid_rows; /* rows read this frame */
    int present;    /* seen in this frame */
} xs_sensor;

typedef struct xs_pending {
    long ref;
    double value;
} xs_pending;

typedef struct xs_state {
    xs_sensor s[XS_MAX_SENSORS];
    int n_sensors;     /* registered in the first frame */
    int cur;           /* current sensor in this frame, -1 none */
    int frame_sensors; /* sensors seen in this frame */
    int in_frame;
    int first_frame; /* parsing the first frame */
    long frame_no;
    size_t frame_line;
    enum { XS_NONE, XS_STATS, XS_GRID, XS_GROUP, XS_GROUP_CELLS } ctx;
    double date_unix;
    int have_date;
    double clock;
    int have_clock;
    int all_times;
    double group_cells, group_area_cm2;
    xs_pending *pend;
    size_t n_pend, cap_pend;
    int geometry_set;
    /* the parse: the input, the result and the current line's fields */
    imp_lines *l;
    const char *name;
    rm_import_result *r;
    rm_err *err;
    imp_fields fl;
} xs_state;

static void slug(const char *label, char *out, size_t cap, char *units, size_t ucap)
{
    size_t n = 0;
    int us = 0;
    units[0] = '\0';
    const unsigned char *p = (const unsigned char *)label;
    for (; *p && n + 4 < cap; p++) {
        if (p[0] == 0xC2 && p[1] == 0xB2) {
            out[n++] = '2';
            p++;
            us = 0;
        } else if (isalnum(*p)) {
            out[n++] = (char)tolower(*p);
            us = 0;
        } else if (*p == '%') {
            if (n && !us)
                out[n++] = '_';
            memcpy(out + n, "pct", 3);
            n += 3;
            us = 0;
        } else if (!us && n) {
            out[n++] = '_';
            us = 1;
        }
    }
    while (n && out[n - 1] == '_')
        n--;
    out[n] = '\0';
    /* units: the last parenthesis, or % */
    const char *o = strrchr(label, '(');
    const char *c = o ? strchr(o, ')') : NULL;
    if (o && c) {
        size_t k = 0;
        for (const unsigned char *q = (const unsigned char *)o + 1;
             q < (const unsigned char *)c && k + 1 < ucap; q++) {
            if (q[0] == 0xC2 && q[1] == 0xB2) {
                units[k++] = '2';
                q++;
            } else if (*q != ' ') {
                units[k++] = (char)*q;
            }
        }
        units[k] = '\0';
    } else if (strchr(label, '%')) {
        snprintf(units, ucap, "%%");
    }
}

static rm_status pend_add(xs_state *x, long ref, double v)
{
    if (x->n_pend == x->cap_pend) {
        size_t cap = x->cap_pend ? x->cap_pend * 2 : 64;
        if (cap > 1u << 16)
            return RM_ERR_RANGE;
        xs_pending *np = realloc(x->pend, cap * sizeof *np);
        if (!np)
            return RM_ERR_NOMEM;
        x->pend = np;
        x->cap_pend = cap;
    }
    x->pend[x->n_pend].ref = ref;
    x->pend[x->n_pend].value = v;
    x->n_pend++;
    return RM_OK;
}

/* Places the first frame's sensors side by side and fixes the geometry. */
static rm_status layout(xs_state *x, rm_import_result *r, const char *name, size_t lineno,
                        rm_err *err)
{
    long rows = 0, cols = 0;
    for (int k = 0; k < x->n_sensors; k++) {
        xs_sensor *s = &x->s[k];
        if (s->rows > rows)
            rows = s->rows;
        s->col0 = cols + (k ? 1 : 0);
        cols = s->col0 + s->cols;
    }
    rm_status st = imp_result_geometry(r, name, lineno, rows, cols, err);
    if (st != RM_OK)
        return st;
    memset(r->mask, 0, (size_t)rows * (size_t)cols);
    for (int k = 0; k < x->n_sensors; k++) {
        xs_sensor *s = &x->s[k];
        for (long i = 0; i < s->rows; i++)
            memset(r->mask + (size_t)i * (size_t)cols + (size_t)s->col0, 1, (size_t)s->cols);
    }
    x->geometry_set = 1;
    return RM_OK;
}

static rm_status end_frame(xs_state *x, rm_import_result *r, const char *name, size_t lineno,
                           rm_err *err)
{
    if (!x->in_frame)
        return RM_OK;
    if (x->frame_sensors == 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: frame %ld has no SENSOR block", name,
                          x->frame_line, x->frame_no);
    if (x->first_frame) {
        x->n_sensors = x->frame_sensors;
        rm_status st = layout(x, r, name, lineno, err);
        if (st != RM_OK)
            return st;
    } else if (x->frame_sensors != x->n_sensors) {
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: frame %ld has %d sensors, expected %d",
                          name, x->frame_line, x->frame_no, x->frame_sensors, x->n_sensors);
    }
    for (int k = 0; k < x->n_sensors; k++) {
        if (x->s[k].rows < 1 || x->s[k].cols < 1)
            return rm_err_set(err, RM_ERR_FORMAT,
                              "%s: line %zu: frame %ld sensor %d has no Rows/Columns", name, lineno,
                              x->frame_no, k + 1);
        if (x->s[k].grid_rows != x->s[k].rows)
            return rm_err_set(err, RM_ERR_TRUNCATED,
                              "%s: line %zu: frame %ld sensor %d has %ld of %ld rows of SENSELS",
                              name, lineno, x->frame_no, k + 1, x->s[k].grid_rows, x->s[k].rows);
    }
    double t = 0;
    if (x->have_clock)
        t = (x->have_date ? x->date_unix : 0) + x->clock;
    else
        x->all_times = 0;
    if (x->first_frame && x->have_date) {
        r->header.created_unix = t;
        rm_format_iso8601(t, r->header.created, sizeof r->header.created);
    }
    float *values;
    rm_status st = imp_result_add_frame(r, name, lineno, (uint32_t)x->frame_no, t, &values, err);
    if (st != RM_OK)
        return st;
    size_t cols = r->device.cols;
    for (int k = 0; k < x->n_sensors; k++) {
        xs_sensor *s = &x->s[k];
        for (long i = 0; i < s->rows; i++)
            memcpy(values + (size_t)i * cols + (size_t)s->col0,
                   s->grid + (size_t)i * (size_t)s->cols, (size_t)s->cols * sizeof(float));
    }
    for (size_t i = 0; i < x->n_pend; i++)
        r->refs[x->pend[i].ref].values[r->n_frames - 1] = x->pend[i].value;
    x->n_pend = 0;
    x->in_frame = 0;
    x->first_frame = 0;
    return RM_OK;
}

static rm_status sensor_number(const char *key, const char *v, double min, double max, double *out,
                               const char *name, size_t lineno, rm_err *err)
{
    double d;
    if (imp_parse_number(v, &d, NULL) != 0 || !(d >= min && d <= max))
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %s '%.32s' is not a number in %g..%g",
                          name, lineno, key, v, min, max);
    *out = d;
    return RM_OK;
}

/* "File:,"C:\...\name.xsn",...": the recorded file's name is the title (the
 * path is quoted and may hold commas). */
static void xs_file_line(rm_import_result *r, char *lt)
{
    char *p = lt + 6;
    char *q = NULL;
    if (*p == '"') {
        p++;
        q = strchr(p, '"');
    } else {
        q = strchr(p, ',');
    }
    if (q)
        *q = '\0';
    imp_copy_name(r->header.title, sizeof r->header.title, p, 1, 1);
}

/* A line of numbers: the next grid row of the current sensor, a group's
 * cell list (skipped), or an error anywhere else. */
static rm_status xs_numbers(xs_state *x)
{
    if (x->ctx == XS_GROUP_CELLS)
        return RM_OK;
    if (x->ctx != XS_GRID)
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: numbers outside a SENSELS block",
                          x->name, x->l->lineno);
    xs_sensor *s = &x->s[x->cur];
    if ((long)x->fl.n != s->cols)
        return rm_err_set(x->err, RM_ERR_LENGTH, "%s: line %zu: expected %ld values, found %zu",
                          x->name, x->l->lineno, s->cols, x->fl.n);
    float *row = s->grid + (size_t)s->grid_rows * (size_t)s->cols;
    for (long c = 0; c < s->cols; c++) {
        rm_status st = imp_store_field(x->r, row, (size_t)c, x->fl.v[c], x->name, x->l->lineno,
                                       (size_t)c + 1, x->err);
        if (st != RM_OK)
            return st;
    }
    if (++s->grid_rows == s->rows)
        x->ctx = XS_NONE;
    return RM_OK;
}

/* "FRAME,n": closes the previous frame and starts the next. */
static rm_status xs_frame(xs_state *x, const char *v)
{
    rm_status st = end_frame(x, x->r, x->name, x->l->lineno, x->err);
    if (st != RM_OK)
        return st;
    double num;
    if (imp_parse_number(v, &num, NULL) != 0 || num < 0 || num > 4e9 || num != floor(num))
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: bad frame number '%.24s'", x->name,
                          x->l->lineno, v);
    x->in_frame = 1;
    x->frame_no = (long)num;
    x->frame_line = x->l->lineno;
    x->frame_sensors = 0;
    x->cur = -1;
    x->ctx = XS_NONE;
    x->have_clock = 0; /* the date carries over: a frame may give only its time */
    for (int i = 0; i < XS_MAX_SENSORS; i++) {
        x->s[i].grid_rows = 0;
        x->s[i].present = 0;
    }
    return RM_OK;
}

/* "SENSOR,name": the next sensor of this frame (the first frame fixes the
 * list, later frames must repeat it). */
static rm_status xs_sensor_line(xs_state *x, const char *v)
{
    if (!x->in_frame)
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: SENSOR before FRAME", x->name,
                          x->l->lineno);
    int idx = x->frame_sensors;
    if (idx >= XS_MAX_SENSORS || (!x->first_frame && idx >= x->n_sensors))
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: frame %ld has more than %d sensors",
                          x->name, x->l->lineno, x->frame_no,
                          x->first_frame ? XS_MAX_SENSORS : x->n_sensors);
    xs_sensor *s = &x->s[idx];
    if (x->first_frame)
        snprintf(s->name, sizeof s->name, "%s", v);
    else if (strcmp(s->name, v) != 0)
        return rm_err_set(x->err, RM_ERR_FORMAT,
                          "%s: line %zu: sensor %d is '%.40s', was '%.40s' in the first frame",
                          x->name, x->l->lineno, idx + 1, v, s->name);
    s->present = 1;
    x->cur = idx;
    x->frame_sensors++;
    x->ctx = XS_STATS;
    return RM_OK;
}

/* "SENSELS": the grid follows (in a SENSOR block) or a group's cells (in
 * a GROUP block). */
static rm_status xs_sensels(xs_state *x)
{
    if (x->ctx == XS_GROUP) {
        x->ctx = XS_GROUP_CELLS;
        return RM_OK;
    }
    if (x->ctx != XS_STATS)
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: SENSELS outside a SENSOR block",
                          x->name, x->l->lineno);
    xs_sensor *s = &x->s[x->cur];
    if (s->rows < 1 || s->cols < 1)
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: SENSELS before Rows and Columns",
                          x->name, x->l->lineno);
    if (!s->grid) {
        s->grid = calloc((size_t)s->rows * (size_t)s->cols, sizeof(float));
        if (!s->grid)
            return rm_err_set(x->err, RM_ERR_NOMEM, "%s: out of memory", x->name);
    }
    s->grid_rows = 0;
    x->ctx = XS_GRID;
    return RM_OK;
}

/* "Rows,31" / "Columns,11": set by the first frame, repeated by the others. */
static rm_status xs_dimension(xs_state *x, xs_sensor *s, const char *k, const char *v)
{
    double d = 0;
    rm_status st = sensor_number(k, v, 1, RM_IMPORT_MAX_DIM, &d, x->name, x->l->lineno, x->err);
    if (st != RM_OK)
        return st;
    long *dst = k[0] == 'R' ? &s->rows : &s->cols;
    if (x->first_frame && *dst == 0 && d == floor(d))
        *dst = (long)d;
    else if (*dst != (long)d || d != floor(d))
        return rm_err_set(x->err, RM_ERR_FORMAT,
                          "%s: line %zu: sensor %d %s %.32s differs from the first frame's %ld",
                          x->name, x->l->lineno, x->cur + 1, k, v, *dst);
    return RM_OK;
}

/* "Sensel Width (cm),0.86": the first frame's value is the pitch. */
static rm_status xs_sensel_size(xs_state *x, xs_sensor *s, const char *k, const char *v)
{
    double d = 0, per = 10.0; /* cm unless the label says otherwise */
    char sl[64], unit[16];
    slug(k, sl, sizeof sl, unit, sizeof unit);
    if (unit[0] && imp_length_unit(unit, &per) != 0)
        return rm_err_set(x->err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown unit in '%.40s'",
                          x->name, x->l->lineno, k);
    rm_status st = sensor_number(k, v, 1e-6, 1e4, &d, x->name, x->l->lineno, x->err);
    if (st != RM_OK)
        return st;
    if (x->first_frame && k[7] == 'W')
        s->width_mm = d * per;
    else if (x->first_frame)
        s->height_mm = d * per;
    return RM_OK;
}

/* "Est. Load (N),123.4": one of the software's statistics, kept as the
 * reference series sensor<k>_<slug> (stored when the frame ends). */
static rm_status xs_statistic(xs_state *x, xs_sensor *s, const char *k, double num)
{
    char sl[64], unit[16], ref_name[80], long_name[128];
    slug(k, sl, sizeof sl, unit, sizeof unit);
    if (!unit[0] && strstr(sl, "pressure"))
        snprintf(unit, sizeof unit, "%s", x->r->units);
    snprintf(ref_name, sizeof ref_name, "sensor%d_%.60s", x->cur + 1, sl);
    snprintf(long_name, sizeof long_name, "XSENSOR %.40s, sensor %.60s", k, s->name);
    long ref = imp_result_ref(x->r, ref_name, unit, long_name);
    if (ref < 0 || pend_add(x, ref, num) != RM_OK)
        return rm_err_set(x->err, RM_ERR_NOMEM, "%s: line %zu: too many statistics", x->name,
                          x->l->lineno);
    return RM_OK;
}

/* A "key,value" line of a SENSOR block, before its SENSELS. */
static rm_status xs_stats_line(xs_state *x, const char *k, const char *v)
{
    xs_sensor *s = &x->s[x->cur];
    double num;
    if (!strcmp(k, "Rows") || !strcmp(k, "Columns"))
        return xs_dimension(x, s, k, v);
    if (imp_starts_with(k, "Sensel Width") || imp_starts_with(k, "Sensel Height"))
        return xs_sensel_size(x, s, k, v);
    if (x->fl.n >= 2 && imp_parse_number(v, &num, NULL) == 0)
        return xs_statistic(x, s, k, num);
    return RM_OK;
}

/* A GROUP block's "Cells" and "Total Area": summed over the first frame's
 * groups, their ratio is the exact sensel area. */
static void xs_group_line(xs_state *x, const char *k, const char *v)
{
    double num;
    if (!strcmp(k, "Cells") && imp_parse_number(v, &num, NULL) == 0 && num > 0)
        x->group_cells += num;
    else if (imp_starts_with(k, "Total Area") && imp_parse_number(v, &num, NULL) == 0 && num > 0)
        x->group_area_cm2 += num;
}

/* A "key,value..." line (k is not a number). */
static rm_status xs_key_line(xs_state *x, const char *k, const char *v)
{
    rm_import_result *r = x->r;
    double num;
    if (!strcmp(k, "Units:")) {
        int raw;
        if (imp_pressure_unit(v, &r->unit_kpa, &raw, r->units, sizeof r->units) != 0)
            return rm_err_set(x->err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown units '%.32s'",
                              x->name, x->l->lineno, v);
        r->calibrated = !raw;
    } else if (!strcmp(k, "Threshold:")) {
        if (imp_parse_number(v, &num, NULL) == 0 && num >= 0)
            r->threshold = num;
    } else if (!strcmp(k, "FRAME")) {
        return xs_frame(x, v);
    } else if (!strcmp(k, "Date") && x->in_frame) {
        x->have_date = imp_parse_datetime(v, &x->date_unix) == 0;
    } else if (!strcmp(k, "Time") && x->in_frame) {
        x->have_clock = imp_parse_clock(v, &x->clock) == 0;
    } else if (!strcmp(k, "SENSOR")) {
        return xs_sensor_line(x, v);
    } else if (!strcmp(k, "GROUP")) {
        x->ctx = XS_GROUP;
        x->cur = -1;
    } else if (!strcmp(k, "SENSELS")) {
        return xs_sensels(x);
    } else if (x->ctx == XS_STATS) {
        return xs_stats_line(x, k, v);
    } else if (x->ctx == XS_GROUP && x->first_frame) {
        xs_group_line(x, k, v);
    }
    return RM_OK;
}

/* One trimmed line. */
static rm_status xs_line(xs_state *x, char *lt)
{
    if (!strncmp(lt, "File:,", 6)) {
        xs_file_line(x->r, lt);
        return RM_OK;
    }
    rm_status st = imp_split_char(&x->fl, lt, ',');
    if (st != RM_OK)
        return rm_err_set(x->err, st, "%s: out of memory", x->name);
    imp_fields_rstrip(&x->fl);
    if (x->fl.n == 0)
        return RM_OK;
    const char *k = x->fl.v[0];
    const char *v = x->fl.n > 1 ? x->fl.v[1] : "";
    double num;
    if (imp_parse_number(k, &num, NULL) == 0)
        return xs_numbers(x);
    if (x->ctx == XS_GRID) {
        xs_sensor *s = &x->s[x->cur];
        return rm_err_set(x->err, RM_ERR_TRUNCATED,
                          "%s: line %zu: sensor %d of frame %ld has %ld of %ld rows of SENSELS",
                          x->name, x->l->lineno, x->cur + 1, x->frame_no, s->grid_rows, s->rows);
    }
    return xs_key_line(x, k, v);
}

/* After the last line: the last frame, the pitch and the device. */
static rm_status xs_finish(xs_state *x, const rm_import_options *opt)
{
    rm_import_result *r = x->r;
    if (x->ctx == XS_GRID) {
        xs_sensor *s = &x->s[x->cur];
        return rm_err_set(
            x->err, RM_ERR_TRUNCATED,
            "%s: line %zu: input ends in sensor %d of frame %ld after %ld of %ld rows", x->name,
            x->l->lineno, x->cur + 1, x->frame_no, s->grid_rows, s->rows);
    }
    rm_status st = end_frame(x, r, x->name, x->l->lineno, x->err);
    if (st != RM_OK)
        return st;
    if (!r->n_frames)
        return rm_err_set(x->err, RM_ERR_FORMAT, "%s: line %zu: no FRAME blocks found", x->name,
                          x->l->lineno);
    /* Pitch: the header's sensel size (rounded to 0.01 cm). When the group
     * blocks give cell counts and areas, their ratio is the exact sensel
     * area the software uses; take it if it agrees with the rounded size. */
    double w = x->s[0].width_mm, h = x->s[0].height_mm;
    for (int k = 1; k < x->n_sensors; k++)
        if (x->s[k].width_mm != w || x->s[k].height_mm != h)
            return rm_err_set(x->err, RM_ERR_UNSUPPORTED,
                              "%s: sensors have different sensel sizes (%g x %g mm and %g x %g mm)",
                              x->name, w, h, x->s[k].width_mm, x->s[k].height_mm);
    if (w > 0 && w == h && x->group_cells > 0 && x->group_area_cm2 > 0) {
        double side = sqrt(x->group_area_cm2 / x->group_cells) * 10.0;
        if (fabs(side - w) <= 0.05 + 1e-9)
            w = h = side;
    }
    r->device.col_pitch_mm = w;
    r->device.row_pitch_mm = h;
    /* "HX210.11.31.M11-DFM-LF S0073": model up to the first '.', serial after the blank */
    const char *sn = x->s[0].name;
    size_t m = strcspn(sn, ". ");
    snprintf(r->device.model, sizeof r->device.model, "XSENSOR %.*s", (int)(m > 8 ? 8 : m), sn);
    const char *sp = strrchr(sn, ' ');
    if (sp)
        snprintf(r->device.serial, sizeof r->device.serial, "%s", sp + 1);
    return imp_result_finish(r, x->name, opt, x->all_times, x->err);
}

rm_status imp_parse_xsensor(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                            rm_err *err)
{
    xs_state *x = calloc(1, sizeof *x);
    if (!x)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", l->name);
    x->cur = -1;
    x->first_frame = 1;
    x->all_times = 1;
    x->l = l;
    x->name = l->name;
    x->r = r;
    x->err = err;
    snprintf(r->units, sizeof r->units, "mmHg");
    r->unit_kpa = 0.133322;
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc = 0;
    while (st == RM_OK && (rc = imp_lines_next(l, &line, &len, err)) > 0)
        st = xs_line(x, imp_trim(line));
    if (st == RM_OK)
        st = rc < 0 ? (rm_status)rc : xs_finish(x, opt);
    for (int i = 0; i < XS_MAX_SENSORS; i++)
        free(x->s[i].grid);
    free(x->pend);
    imp_fields_free(&x->fl);
    free(x);
    return st;
}

int imp_detect_xsensor(const char *buf, size_t len, const char *name)
{
    (void)name;
    int sensor = 0, sensels = 0, frame = 0;
    imp_walk w;
    const char *ln;
    size_t n;
    imp_walk_init(&w, buf, len, RM_IMPORT_DETECT_BYTES);
    while (imp_walk_next(&w, &ln, &n)) {
        sensor |= imp_line_starts(ln, n, "SENSOR,");
        sensels |= imp_line_starts(ln, n, "SENSELS,");
        frame |= imp_line_starts(ln, n, "FRAME,");
        if (sensor && sensels && frame)
            return 1;
    }
    return 0;
}

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
    long col0;         /* first column in the combined grid */
    float *grid;       /* rows*cols, this frame */
    long grid_rows;    /* rows read this frame */
    int present;       /* seen in this frame */
} xs_sensor;

typedef struct xs_pending {
    long ref;
    double value;
} xs_pending;

typedef struct xs_state {
    xs_sensor s[XS_MAX_SENSORS];
    int n_sensors;      /* registered in the first frame */
    int cur;            /* current sensor in this frame, -1 none */
    int frame_sensors;  /* sensors seen in this frame */
    int in_frame;
    int first_frame;    /* parsing the first frame */
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
        for (const unsigned char *q = (const unsigned char *)o + 1; q < (const unsigned char *)c &&
                                                                    k + 1 < ucap;
             q++) {
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
                              "%s: line %zu: frame %ld sensor %d has no Rows/Columns", name,
                              lineno, x->frame_no, k + 1);
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
            memcpy(values + (size_t)i * cols + (size_t)s->col0, s->grid + (size_t)i * (size_t)s->cols,
                   (size_t)s->cols * sizeof(float));
    }
    for (size_t i = 0; i < x->n_pend; i++)
        r->refs[x->pend[i].ref].values[r->n_frames - 1] = x->pend[i].value;
    x->n_pend = 0;
    x->in_frame = 0;
    x->first_frame = 0;
    return RM_OK;
}

static rm_status sensor_number(const char *key, const char *v, double min, double max,
                               double *out, const char *name, size_t lineno, rm_err *err)
{
    double d;
    if (imp_parse_number(v, &d, NULL) != 0 || !(d >= min && d <= max))
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: %s '%.32s' is not a number in %g..%g",
                          name, lineno, key, v, min, max);
    *out = d;
    return RM_OK;
}

rm_status imp_parse_xsensor(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                            rm_err *err)
{
    const char *name = l->name;
    xs_state *x = calloc(1, sizeof *x);
    if (!x)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
    x->cur = -1;
    x->first_frame = 1;
    x->all_times = 1;
    imp_fields fl = {0};
    rm_status st = RM_OK;
    char *line;
    size_t len;
    int rc;
    int have_units = 0;
    snprintf(r->units, sizeof r->units, "mmHg");
    r->unit_kpa = 0.133322;

    while ((rc = imp_lines_next(l, &line, &len, err)) > 0) {
        char *lt = imp_trim(line);
        if (!strncmp(lt, "File:,", 6)) {
            /* the path is quoted and may hold commas */
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
            continue;
        }
        if ((st = imp_split_char(&fl, lt, ',')) != RM_OK) {
            rm_err_set(err, st, "%s: out of memory", name);
            goto out;
        }
        imp_fields_rstrip(&fl);
        if (fl.n == 0)
            continue;
        const char *k = fl.v[0];
        const char *v = fl.n > 1 ? fl.v[1] : "";
        double num;
        if (imp_parse_number(k, &num, NULL) == 0) {
            if (x->ctx == XS_GRID) {
                xs_sensor *s = &x->s[x->cur];
                if ((long)fl.n != s->cols) {
                    st = rm_err_set(err, RM_ERR_LENGTH, "%s: line %zu: expected %ld values, found %zu",
                                    name, l->lineno, s->cols, fl.n);
                    goto out;
                }
                float *row = s->grid + (size_t)s->grid_rows * (size_t)s->cols;
                for (long c = 0; c < s->cols; c++)
                    if ((st = imp_store_field(r, row, (size_t)c, fl.v[c], name, l->lineno,
                                              (size_t)c + 1, err)) != RM_OK)
                        goto out;
                if (++s->grid_rows == s->rows)
                    x->ctx = XS_NONE;
                continue;
            }
            if (x->ctx == XS_GROUP_CELLS)
                continue;
            st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: numbers outside a SENSELS block",
                            name, l->lineno);
            goto out;
        }
        if (x->ctx == XS_GRID) {
            xs_sensor *s = &x->s[x->cur];
            st = rm_err_set(err, RM_ERR_TRUNCATED,
                            "%s: line %zu: sensor %d of frame %ld has %ld of %ld rows of SENSELS",
                            name, l->lineno, x->cur + 1, x->frame_no, s->grid_rows, s->rows);
            goto out;
        }
        if (!strcmp(k, "Units:")) {
            int raw;
            if (imp_pressure_unit(v, &r->unit_kpa, &raw, r->units, sizeof r->units) != 0) {
                st = rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown units '%.32s'",
                                name, l->lineno, v);
                goto out;
            }
            r->calibrated = !raw;
            have_units = 1;
        } else if (!strcmp(k, "Threshold:")) {
            if (imp_parse_number(v, &num, NULL) == 0 && num >= 0)
                r->threshold = num;
        } else if (!strcmp(k, "FRAME")) {
            if ((st = end_frame(x, r, name, l->lineno, err)) != RM_OK)
                goto out;
            if (imp_parse_number(v, &num, NULL) != 0 || num < 0 || num > 4e9 ||
                num != floor(num)) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: bad frame number '%.24s'", name,
                                l->lineno, v);
                goto out;
            }
            x->in_frame = 1;
            x->frame_no = (long)num;
            x->frame_line = l->lineno;
            x->frame_sensors = 0;
            x->cur = -1;
            x->ctx = XS_NONE;
            x->have_clock = 0; /* the date carries over: a frame may give only its time */
            for (int i = 0; i < XS_MAX_SENSORS; i++) {
                x->s[i].grid_rows = 0;
                x->s[i].present = 0;
            }
        } else if (!strcmp(k, "Date") && x->in_frame) {
            x->have_date = imp_parse_datetime(v, &x->date_unix) == 0;
        } else if (!strcmp(k, "Time") && x->in_frame) {
            x->have_clock = imp_parse_clock(v, &x->clock) == 0;
        } else if (!strcmp(k, "SENSOR")) {
            if (!x->in_frame) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: SENSOR before FRAME", name,
                                l->lineno);
                goto out;
            }
            int idx = x->frame_sensors;
            if (idx >= XS_MAX_SENSORS || (!x->first_frame && idx >= x->n_sensors)) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: frame %ld has more than %d sensors",
                                name, l->lineno, x->frame_no,
                                x->first_frame ? XS_MAX_SENSORS : x->n_sensors);
                goto out;
            }
            xs_sensor *s = &x->s[idx];
            if (x->first_frame) {
                snprintf(s->name, sizeof s->name, "%s", v);
            } else if (strcmp(s->name, v) != 0) {
                st = rm_err_set(err, RM_ERR_FORMAT,
                                "%s: line %zu: sensor %d is '%.40s', was '%.40s' in the first frame",
                                name, l->lineno, idx + 1, v, s->name);
                goto out;
            }
            s->present = 1;
            x->cur = idx;
            x->frame_sensors++;
            x->ctx = XS_STATS;
        } else if (!strcmp(k, "GROUP")) {
            x->ctx = XS_GROUP;
            x->cur = -1;
        } else if (!strcmp(k, "SENSELS")) {
            if (x->ctx == XS_STATS) {
                xs_sensor *s = &x->s[x->cur];
                if (s->rows < 1 || s->cols < 1) {
                    st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: SENSELS before Rows and Columns",
                                    name, l->lineno);
                    goto out;
                }
                if (!s->grid) {
                    s->grid = calloc((size_t)s->rows * (size_t)s->cols, sizeof(float));
                    if (!s->grid) {
                        st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
                        goto out;
                    }
                }
                s->grid_rows = 0;
                x->ctx = XS_GRID;
            } else if (x->ctx == XS_GROUP) {
                x->ctx = XS_GROUP_CELLS;
            } else {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: SENSELS outside a SENSOR block",
                                name, l->lineno);
                goto out;
            }
        } else if (x->ctx == XS_STATS) {
            xs_sensor *s = &x->s[x->cur];
            if (!strcmp(k, "Rows") || !strcmp(k, "Columns")) {
                double d = 0;
                if ((st = sensor_number(k, v, 1, RM_IMPORT_MAX_DIM, &d, name, l->lineno, err)) !=
                    RM_OK)
                    goto out;
                long *dst = k[0] == 'R' ? &s->rows : &s->cols;
                if (x->first_frame && *dst == 0 && d == floor(d)) {
                    *dst = (long)d;
                } else if (*dst != (long)d || d != floor(d)) {
                    st = rm_err_set(err, RM_ERR_FORMAT,
                                    "%s: line %zu: sensor %d %s %.32s differs from the first frame's %ld",
                                    name, l->lineno, x->cur + 1, k, v, *dst);
                    goto out;
                }
            } else if (imp_starts_with(k, "Sensel Width") || imp_starts_with(k, "Sensel Height")) {
                double d = 0, per = 10.0; /* cm unless the label says otherwise */
                char sl[64], unit[16];
                slug(k, sl, sizeof sl, unit, sizeof unit);
                if (unit[0] && imp_length_unit(unit, &per) != 0) {
                    st = rm_err_set(err, RM_ERR_UNSUPPORTED, "%s: line %zu: unknown unit in '%.40s'",
                                    name, l->lineno, k);
                    goto out;
                }
                if ((st = sensor_number(k, v, 1e-6, 1e4, &d, name, l->lineno, err)) != RM_OK)
                    goto out;
                if (x->first_frame) {
                    if (k[7] == 'W')
                        s->width_mm = d * per;
                    else
                        s->height_mm = d * per;
                }
            } else if (fl.n >= 2 && imp_parse_number(v, &num, NULL) == 0) {
                char sl[64], unit[16], ref_name[80], long_name[128];
                slug(k, sl, sizeof sl, unit, sizeof unit);
                if (!unit[0] && strstr(sl, "pressure"))
                    snprintf(unit, sizeof unit, "%s", r->units);
                snprintf(ref_name, sizeof ref_name, "sensor%d_%.60s", x->cur + 1, sl);
                snprintf(long_name, sizeof long_name, "XSENSOR %.40s, sensor %.60s", k, s->name);
                long ref = imp_result_ref(r, ref_name, unit, long_name);
                if (ref < 0 || pend_add(x, ref, num) != RM_OK) {
                    st = rm_err_set(err, RM_ERR_NOMEM, "%s: line %zu: too many statistics", name,
                                    l->lineno);
                    goto out;
                }
            }
        } else if (x->ctx == XS_GROUP && x->first_frame) {
            if (!strcmp(k, "Cells") && imp_parse_number(v, &num, NULL) == 0 && num > 0)
                x->group_cells += num;
            else if (imp_starts_with(k, "Total Area") && imp_parse_number(v, &num, NULL) == 0 &&
                     num > 0)
                x->group_area_cm2 += num;
        }
    }
    if (rc < 0) {
        st = (rm_status)rc;
        goto out;
    }
    if (x->ctx == XS_GRID) {
        xs_sensor *s = &x->s[x->cur];
        st = rm_err_set(err, RM_ERR_TRUNCATED,
                        "%s: line %zu: input ends in sensor %d of frame %ld after %ld of %ld rows",
                        name, l->lineno, x->cur + 1, x->frame_no, s->grid_rows, s->rows);
        goto out;
    }
    if ((st = end_frame(x, r, name, l->lineno, err)) != RM_OK)
        goto out;
    if (!r->n_frames) {
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: no FRAME blocks found", name, l->lineno);
        goto out;
    }
    (void)have_units;
    /* Pitch: the header's sensel size (rounded to 0.01 cm). When the group
     * blocks give cell counts and areas, their ratio is the exact sensel
     * area the software uses; take it if it agrees with the rounded size. */
    double w = x->s[0].width_mm, h = x->s[0].height_mm;
    for (int k = 1; k < x->n_sensors; k++)
        if (x->s[k].width_mm != w || x->s[k].height_mm != h) {
            st = rm_err_set(err, RM_ERR_UNSUPPORTED,
                            "%s: sensors have different sensel sizes (%g x %g mm and %g x %g mm)",
                            name, w, h, x->s[k].width_mm, x->s[k].height_mm);
            goto out;
        }
    if (w > 0 && w == h && x->group_cells > 0 && x->group_area_cm2 > 0) {
        double side = sqrt(x->group_area_cm2 / x->group_cells) * 10.0;
        if (fabs(side - w) <= 0.05 + 1e-9)
            w = h = side;
    }
    r->device.col_pitch_mm = w;
    r->device.row_pitch_mm = h;
    {
        /* "HX210.11.31.M11-DFM-LF S0073": model up to the first '.', serial after the blank */
        const char *sn = x->s[0].name;
        size_t m = strcspn(sn, ". ");
        snprintf(r->device.model, sizeof r->device.model, "XSENSOR %.*s", (int)(m > 8 ? 8 : m), sn);
        const char *sp = strrchr(sn, ' ');
        if (sp)
            snprintf(r->device.serial, sizeof r->device.serial, "%s", sp + 1);
    }
    st = imp_result_finish(r, name, opt, x->all_times, err);
out:
    for (int i = 0; i < XS_MAX_SENSORS; i++)
        free(x->s[i].grid);
    free(x->pend);
    free(x);
    imp_fields_free(&fl);
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

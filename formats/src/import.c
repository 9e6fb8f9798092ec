/* import.c - the importers' common parts: fields, numbers, units,
 * dates, result building, the entry points (the formats themselves come from
 * the importer table, import_registry.c), quantisation and the packet source. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "import_impl.h"

/* ---- fields ---- */

void imp_fields_free(imp_fields *fl)
{
    free(fl->v);
    memset(fl, 0, sizeof *fl);
}

static rm_status fields_push(imp_fields *fl, char *s)
{
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 64;
        char **nv = realloc(fl->v, cap * sizeof *nv);
        if (!nv)
            return RM_ERR_NOMEM;
        fl->v = nv;
        fl->cap = cap;
    }
    fl->v[fl->n++] = s;
    return RM_OK;
}

int imp_is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\f' && *s != '\v' && *s != '\r')
            return 0;
    return 1;
}

char *imp_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\f' || *s == '\v' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\f' || s[n - 1] == '\v' ||
                     s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

rm_status imp_split_char(imp_fields *fl, char *line, char sep)
{
    /* One pass: no strchr/strlen per field (exports have millions). */
    fl->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\f' || *p == '\v' || *p == '\r')
            p++;
        char *start = p, *last = p;
        while (*p && *p != sep) {
            if (*p != ' ' && *p != '\t' && *p != '\f' && *p != '\v' && *p != '\r')
                last = p + 1;
            p++;
        }
        int end = !*p;
        *last = '\0';
        if (fields_push(fl, start) != RM_OK)
            return RM_ERR_NOMEM;
        if (end)
            break;
        p++;
    }
    return RM_OK;
}

rm_status imp_split_ws(imp_fields *fl, char *line)
{
    fl->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\f' || *p == '\v' || *p == '\r')
            p++;
        if (!*p)
            break;
        char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\f' && *p != '\v' && *p != '\r')
            p++;
        int end = !*p;
        *p = '\0';
        if (fields_push(fl, start) != RM_OK)
            return RM_ERR_NOMEM;
        if (end)
            break;
        p++;
    }
    return RM_OK;
}

void imp_fields_rstrip(imp_fields *fl)
{
    while (fl->n > 0 && fl->v[fl->n - 1][0] == '\0')
        fl->n--;
}

int imp_starts_with(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != tolower((unsigned char)*prefix))
            return 0;
    return 1;
}

int imp_parse_number(const char *s, double *out, int *decimals)
{
    /* Fast path for the common "123" and "12.34": an exact integer divided
     * by an exact power of ten is the correctly rounded value, as strtod
     * would give. */
    {
        static const double p10[] = {1,   1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        const char *q = s;
        int neg = 0;
        if (*q == '-' || *q == '+')
            neg = *q++ == '-';
        uint64_t m = 0;
        int nd = 0, dec = -1;
        for (; *q; q++) {
            if (*q >= '0' && *q <= '9') {
                m = m * 10 + (uint64_t)(*q - '0');
                nd++;
                if (dec >= 0)
                    dec++;
            } else if (*q == '.' && dec < 0) {
                dec = 0;
            } else {
                break;
            }
        }
        if (!*q && nd > 0 && nd <= 15) {
            int d = dec < 0 ? 0 : dec;
            double v = (double)m / p10[d];
            *out = neg ? -v : v;
            if (decimals)
                *decimals = d;
            return 0;
        }
    }
    /* strtod alone would accept "inf", "nan" and hex floats. */
    const char *p = s;
    int digits = 0, dec = 0, in_frac = 0, expo = 0;
    if (*p == '+' || *p == '-')
        p++;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (!expo) {
                digits++;
                if (in_frac)
                    dec++;
            }
        } else if (*p == '.' && !in_frac && !expo) {
            in_frac = 1;
        } else if ((*p == 'e' || *p == 'E') && digits && !expo) {
            expo = 1;
            if (p[1] == '+' || p[1] == '-')
                p++;
            if (!isdigit((unsigned char)p[1]))
                return -1;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    if (decimals)
        *decimals = expo ? 6 : dec;
    return 0;
}

/* ---- units ---- */

int imp_unit_eq(const char *a, const char *b)
{
    /* Compares ignoring case, blanks, '^' and a trailing '.', and reads the
     * UTF-8 superscript two (the exports write cm² in several ways). */
    char x[32], y[32];
    const char *src[2] = {a, b};
    char *dst[2] = {x, y};
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)src[k]; *p && n < 31; p++) {
            if (*p == ' ' || *p == '^' || *p == '\t')
                continue;
            if (p[0] == 0xC2 && p[1] == 0xB2) {
                dst[k][n++] = '2';
                p++;
                continue;
            }
            if (*p == 0xB2) { /* latin-1 superscript two */
                dst[k][n++] = '2';
                continue;
            }
            dst[k][n++] = (char)tolower(*p);
        }
        while (n > 0 && dst[k][n - 1] == '.')
            n--;
        dst[k][n] = '\0';
    }
    return !strcmp(x, y);
}

int imp_pressure_unit(const char *name, double *kpa_per_unit, int *raw, char *canon, size_t cap)
{
    static const struct {
        const char *name;
        const char *canon;
        double kpa;
    } units[] = {
        {"kpa", "kPa", 1.0},
        {"mmhg", "mmHg", 0.133322},
        {"psi", "psi", 6.894757},
        {"n/cm2", "N/cm2", 10.0},
        {"g/cm2", "g/cm2", 0.0980665},
        {"kg/cm2", "kg/cm2", 98.0665},
        {"kgf/cm2", "kg/cm2", 98.0665},
        {"bar", "bar", 100.0},
        {"mbar", "mbar", 0.1},
        {"mpa", "MPa", 1000.0},
        {"pa", "Pa", 0.001},
        {"n/m2", "Pa", 0.001},
        {"inh2o", "inH2O", 0.249089},
        {"cmh2o", "cmH2O", 0.0980665},
    };
    *raw = 0;
    if (imp_unit_eq(name, "raw") || imp_unit_eq(name, "raw sum") || imp_unit_eq(name, "counts")) {
        *raw = 1;
        *kpa_per_unit = 1.0;
        if (canon)
            snprintf(canon, cap, "raw");
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (imp_unit_eq(name, units[i].name)) {
            *kpa_per_unit = units[i].kpa;
            if (canon)
                snprintf(canon, cap, "%s", units[i].canon);
            return 0;
        }
    }
    return -1;
}

int imp_length_unit(const char *name, double *mm_per_unit)
{
    static const struct {
        const char *name;
        double mm;
    } units[] = {
        {"mm", 1.0},           {"millimeters", 1.0},  {"millimetres", 1.0}, {"cm", 10.0},
        {"centimeters", 10.0}, {"centimetres", 10.0}, {"in", 25.4},         {"inch", 25.4},
        {"inches", 25.4},      {"m", 1000.0},         {"meters", 1000.0},   {"metres", 1000.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (imp_unit_eq(name, units[i].name)) {
            *mm_per_unit = units[i].mm;
            return 0;
        }
    }
    return -1;
}

/* ---- dates ---- */

int imp_parse_clock(const char *s, double *sec)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end;
    errno = 0;
    long h = strtol(s, &end, 10);
    if (end == s || *end != ':' || h < 0 || h > 23)
        return -1;
    const char *p = end + 1;
    long m = strtol(p, &end, 10);
    if (end == p || m < 0 || m > 59)
        return -1;
    double sc = 0;
    if (*end == ':') {
        p = end + 1;
        if (!isdigit((unsigned char)*p))
            return -1;
        sc = strtod(p, &end);
        if (!(sc >= 0 && sc < 61))
            return -1;
    }
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return -1;
    *sec = (double)h * 3600.0 + (double)m * 60.0 + sc;
    return 0;
}

/* What a date/time string gave so far (-1: not seen). */
typedef struct dt_parts {
    long y, mo, d;
    double clock; /* seconds into the day */
    int pm;       /* 1 pm, 0 am */
} dt_parts;

/* A token of digits and ":./-": a clock, a d/m/y or m/d/y date, an ISO
 * y-m-d date, a year or a day. */
static void dt_number(const char *tok, dt_parts *dt)
{
    long a, b, c;
    if (strchr(tok, ':')) {
        double clk;
        if (imp_parse_clock(tok, &clk) == 0)
            dt->clock = clk;
    } else if (strchr(tok, '/')) {
        if (sscanf(tok, "%ld/%ld/%ld", &a, &b, &c) != 3)
            return;
        int day_first = a > 12;
        dt->d = day_first ? a : b;
        dt->mo = day_first ? b : a;
        dt->y = c < 100 ? c + 2000 : c;
    } else if (strchr(tok, '-')) {
        if (sscanf(tok, "%ld-%ld-%ld", &a, &b, &c) == 3 && a >= 1000) {
            dt->y = a;
            dt->mo = b;
            dt->d = c;
        }
    } else {
        long v = strtol(tok, NULL, 10);
        if (v >= 1000)
            dt->y = v;
        else if (dt->d < 0)
            dt->d = v;
    }
}

/* A word: "am"/"pm" (dots ignored: "a.m.") or a month name (3 letters on). */
static void dt_word(const char *w, size_t n, dt_parts *dt)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    if (!strcmp(w, "am"))
        dt->pm = 0;
    else if (!strcmp(w, "pm"))
        dt->pm = 1;
    else if (n >= 3 && dt->mo < 0) {
        for (int i = 0; i < 12; i++)
            if (!strncmp(w, months[i], 3))
                dt->mo = i + 1;
    }
}

/* Reads the token at *pp (a number-like or a word; anything else is
 * skipped) into dt and moves past it. */
static void dt_token(const char **pp, dt_parts *dt)
{
    const char *p = *pp;
    char tok[48];
    size_t n = 0;
    if (isdigit((unsigned char)*p)) {
        for (; *p && (isdigit((unsigned char)*p) || strchr(":./-", *p)); p++)
            if (n < sizeof tok - 1)
                tok[n++] = *p;
        tok[n] = '\0';
        while (n > 0 && (tok[n - 1] == '.' || tok[n - 1] == '-'))
            tok[--n] = '\0';
        dt_number(tok, dt);
    } else if (isalpha((unsigned char)*p)) {
        for (; *p && (isalpha((unsigned char)*p) || *p == '.'); p++)
            if (*p != '.' && n < 31)
                tok[n++] = (char)tolower((unsigned char)*p);
        tok[n] = '\0';
        dt_word(tok, n, dt);
    } else {
        p++;
    }
    *pp = p;
}

int imp_parse_datetime(const char *s, double *unix_s)
{
    dt_parts dt = {-1, -1, -1, -1, -1};
    for (const char *p = s; *p;)
        dt_token(&p, &dt);
    long y = dt.y, mo = dt.mo, d = dt.d;
    double clock = dt.clock;
    int pm = dt.pm;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    double sec = clock < 0 ? 0 : clock;
    if (pm >= 0 && clock >= 0) {
        double h = floor(sec / 3600.0);
        if (h > 12)
            return -1;
        if (pm == 1 && h < 12)
            sec += 12 * 3600.0;
        if (pm == 0 && h == 12)
            sec -= 12 * 3600.0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)mo - 1;
    tm.tm_mday = (int)d;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *unix_s = (double)t + sec;
    return 0;
}

/* ---- names ---- */

void imp_copy_name(char *dst, size_t cap, const char *src, int basename, int strip_ext)
{
    if (!cap)
        return;
    const char *b = src;
    if (basename) {
        for (const char *p = src; *p; p++)
            if (*p == '/' || *p == '\\')
                b = p + 1;
    }
    size_t n = strlen(b);
    if (strip_ext) {
        const char *dot = strrchr(b, '.');
        if (dot && dot != b)
            n = (size_t)(dot - b);
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, b, n);
    dst[n] = '\0';
}

/* ---- results ---- */

typedef struct imp_private {
    rm_import_result pub;
    size_t cap_frames;
    int decimals; /* most fractional digits seen in a pressure value */
} imp_private;

rm_import_result *imp_result_new(rm_import_format fmt)
{
    imp_private *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pub.format = fmt;
    p->pub.unit_kpa = 1.0;
    p->pub.calibrated = 1;
    snprintf(p->pub.units, sizeof p->pub.units, "kPa");
    return &p->pub;
}

void rm_import_result_free(rm_import_result *r)
{
    if (!r)
        return;
    free(r->kpa);
    free(r->time_s);
    free(r->seq);
    free(r->mask);
    for (size_t i = 0; i < r->n_refs; i++)
        free(r->refs[i].values);
    free(r->refs);
    free((imp_private *)r);
}

rm_status imp_result_geometry(rm_import_result *r, const char *name, size_t lineno, long rows,
                              long cols, rm_err *err)
{
    if (rows < 1 || rows > RM_IMPORT_MAX_DIM || cols < 1 || cols > RM_IMPORT_MAX_DIM)
        return rm_err_set(err, RM_ERR_RANGE,
                          "%s: line %zu: geometry %ld x %ld outside 1..%d rows and columns", name,
                          lineno, rows, cols, RM_IMPORT_MAX_DIM);
    if (r->mask)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: geometry given twice", name, lineno);
    r->device.rows = (uint16_t)rows;
    r->device.cols = (uint16_t)cols;
    r->mask = malloc((size_t)rows * (size_t)cols);
    if (!r->mask)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
    memset(r->mask, 1, (size_t)rows * (size_t)cols);
    return RM_OK;
}

rm_status imp_result_add_frame(rm_import_result *r, const char *name, size_t lineno, uint32_t seq,
                               double time_s, float **values, rm_err *err)
{
    imp_private *p = (imp_private *)r;
    size_t per = (size_t)r->device.rows * r->device.cols;
    if (!per)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: frame before the geometry is known",
                          name, lineno);
    if ((uint64_t)(r->n_frames + 1) * per > RM_IMPORT_MAX_VALUES)
        return rm_err_set(err, RM_ERR_RANGE, "%s: line %zu: more than %llu values in total", name,
                          lineno, (unsigned long long)RM_IMPORT_MAX_VALUES);
    if (r->n_frames == p->cap_frames) {
        size_t cap = p->cap_frames ? p->cap_frames * 2 : 64;
        float *k = realloc(r->kpa, cap * per * sizeof *k);
        if (!k)
            goto nomem;
        r->kpa = k;
        double *t = realloc(r->time_s, cap * sizeof *t);
        if (!t)
            goto nomem;
        r->time_s = t;
        uint32_t *s = realloc(r->seq, cap * sizeof *s);
        if (!s)
            goto nomem;
        r->seq = s;
        for (size_t i = 0; i < r->n_refs; i++) {
            double *v = realloc(r->refs[i].values, cap * sizeof *v);
            if (!v)
                goto nomem;
            r->refs[i].values = v;
        }
        p->cap_frames = cap;
    }
    size_t i = r->n_frames++;
    memset(r->kpa + i * per, 0, per * sizeof(float));
    r->time_s[i] = time_s;
    r->seq[i] = seq;
    for (size_t k = 0; k < r->n_refs; k++)
        r->refs[k].values[i] = NAN;
    *values = r->kpa + i * per;
    return RM_OK;
nomem:
    return rm_err_set(err, RM_ERR_NOMEM, "%s: line %zu: out of memory after %zu frames", name,
                      lineno, r->n_frames);
}

long imp_result_ref(rm_import_result *r, const char *name, const char *units, const char *long_name)
{
    imp_private *p = (imp_private *)r;
    for (size_t i = 0; i < r->n_refs; i++)
        if (!strcmp(r->refs[i].name, name))
            return (long)i;
    if (r->n_refs >= 256)
        return -1;
    rm_import_reference *nr = realloc(r->refs, (r->n_refs + 1) * sizeof *nr);
    if (!nr)
        return -1;
    r->refs = nr;
    rm_import_reference *ref = &r->refs[r->n_refs];
    memset(ref, 0, sizeof *ref);
    size_t cap = p->cap_frames ? p->cap_frames : 1;
    ref->values = malloc(cap * sizeof(double));
    if (!ref->values)
        return -1;
    for (size_t i = 0; i < cap; i++)
        ref->values[i] = NAN;
    snprintf(ref->name, sizeof ref->name, "%s", name);
    snprintf(ref->units, sizeof ref->units, "%s", units ? units : "");
    snprintf(ref->long_name, sizeof ref->long_name, "%s", long_name ? long_name : name);
    return (long)r->n_refs++;
}

rm_status imp_store_value(rm_import_result *r, float *values, size_t i, double v_units,
                          const char *name, size_t lineno, rm_err *err)
{
    if (!(v_units >= 0))
        return rm_err_set(err, RM_ERR_VALUE, "%s: line %zu: negative pressure %g", name, lineno,
                          v_units);
    double kpa = v_units * r->unit_kpa;
    if (!(kpa < 1e7))
        return rm_err_set(err, RM_ERR_RANGE, "%s: line %zu: pressure %g %s out of range", name,
                          lineno, v_units, r->units);
    values[i] = (float)kpa;
    if ((double)values[i] > r->max_kpa) /* the stored float, which may round up */
        r->max_kpa = (double)values[i];
    return RM_OK;
}

rm_status imp_store_field(rm_import_result *r, float *values, size_t i, const char *field,
                          const char *name, size_t lineno, size_t col, rm_err *err)
{
    double v;
    int dec;
    if (imp_parse_number(field, &v, &dec) != 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: value %zu '%.24s' is not a number",
                          name, lineno, col, field);
    imp_note_decimals(r, dec);
    return imp_store_value(r, values, i, v, name, lineno, err);
}

void imp_note_decimals(rm_import_result *r, int dec)
{
    imp_private *p = (imp_private *)r;
    if (dec > p->decimals)
        p->decimals = dec;
}

static void choose_scale(rm_import_result *r)
{
    imp_private *p = (imp_private *)r;
    int dec = p->decimals > 4 ? 4 : p->decimals;
    double q = pow(10.0, -dec);
    double max_units = r->max_kpa / r->unit_kpa;
    static const double steps[] = {1, 2, 5};
    double s = q;
    for (int k = 0; k < 40; k++) {
        s = q * steps[k % 3] * pow(10.0, k / 3);
        /* half a count of headroom for rounding */
        if (max_units / s <= 65535.0 - 0.5)
            break;
    }
    r->scale_units = s;
    r->scale_kpa = s * r->unit_kpa;
}

rm_status imp_result_finish(rm_import_result *r, const char *name, const rm_import_options *opt,
                            int have_times, rm_err *err)
{
    if (r->n_frames == 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: no frames found", name);
    if (opt && opt->rate_hz > 0)
        r->device.rate_hz = opt->rate_hz;
    if (opt && opt->row_pitch_mm > 0)
        r->device.row_pitch_mm = opt->row_pitch_mm;
    if (opt && opt->col_pitch_mm > 0)
        r->device.col_pitch_mm = opt->col_pitch_mm;
    if (!(r->device.row_pitch_mm > 0 && r->device.col_pitch_mm > 0 &&
          r->device.row_pitch_mm < 1e4 && r->device.col_pitch_mm < 1e4))
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: sensel pitch unknown or invalid (%g x %g mm); give it as an option",
                          name, r->device.row_pitch_mm, r->device.col_pitch_mm);
    if (have_times && !(opt && opt->rate_hz > 0)) {
        if (!(r->device.rate_hz > 0) && r->n_frames > 1) {
            double span = r->time_s[r->n_frames - 1] - r->time_s[0];
            if (span > 0)
                r->device.rate_hz = (double)(r->n_frames - 1) / span;
        }
        for (size_t i = 1; i < r->n_frames; i++)
            if (!(r->time_s[i] >= r->time_s[i - 1]))
                return rm_err_set(err, RM_ERR_FORMAT,
                                  "%s: frame %u: time %.6f s goes back from %.6f s", name,
                                  (unsigned)r->seq[i], r->time_s[i], r->time_s[i - 1]);
        double t0 = r->time_s[0];
        for (size_t i = 0; i < r->n_frames; i++)
            r->time_s[i] -= t0;
    }
    if (!(r->device.rate_hz > 0 && r->device.rate_hz <= 1e6))
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: frame rate unknown or invalid (%g Hz); give it as an option", name,
                          r->device.rate_hz);
    if (!have_times || (opt && opt->rate_hz > 0)) {
        for (size_t i = 0; i < r->n_frames; i++)
            r->time_s[i] = (double)i / r->device.rate_hz;
    }
    /* Drop vendor series that some frame lacks: a partial series would not
     * line up with the frames. */
    size_t keep = 0;
    for (size_t i = 0; i < r->n_refs; i++) {
        int full = 1;
        for (size_t k = 0; k < r->n_frames; k++)
            if (isnan(r->refs[i].values[k]))
                full = 0;
        if (full)
            r->refs[keep++] = r->refs[i];
        else
            free(r->refs[i].values);
    }
    r->n_refs = keep;

    snprintf(r->header.source, sizeof r->header.source, "import:%s",
             rm_import_format_name(r->format));
    if (!r->header.title[0])
        imp_copy_name(r->header.title, sizeof r->header.title, name, 1, 0);
    if (!r->header.created[0]) {
        if (!(r->header.created_unix > 0))
            r->header.created_unix = (double)time(NULL);
        rm_format_iso8601(r->header.created_unix, r->header.created, sizeof r->header.created);
    }
    r->device.adc_bits = 16;
    choose_scale(r);
    if (r->calibrated && r->unit_kpa == 1.0)
        snprintf(r->calib_note, sizeof r->calib_note,
                 "identity: imported %s %s, %.9g kPa per count", rm_import_format_name(r->format),
                 r->units, r->scale_kpa);
    else if (r->calibrated)
        snprintf(r->calib_note, sizeof r->calib_note,
                 "identity: imported %s %s, %.9g kPa per count (%.9g %s per count)",
                 rm_import_format_name(r->format), r->units, r->scale_kpa, r->scale_units,
                 r->units);
    else
        snprintf(r->calib_note, sizeof r->calib_note,
                 "identity: imported %s raw (uncalibrated vendor units, not kPa), %.9g raw "
                 "units per count",
                 rm_import_format_name(r->format), r->scale_units);
    return RM_OK;
}

/* ---- entry points ---- */

rm_status rm_import_parse_file(FILE *f, const char *name, rm_import_format fmt,
                               const rm_import_options *opt, rm_import_result **out, rm_err *err)
{
    if (!name)
        name = "input";
    *out = NULL;
    if (!f)
        return rm_err_set(err, RM_ERR_ARG, "%s: no stream", name);
    rm_import_result *r = imp_result_new(fmt);
    if (!r)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
    imp_lines l;
    imp_lines_init(&l, f, name);
    const imp_importer *im = imp_importer_find(fmt);
    rm_status st = im ? im->parse(&l, r, opt, err)
                      : rm_err_set(err, RM_ERR_ARG, "%s: unknown import format %d", name, (int)fmt);
    imp_lines_free(&l);
    if (st != RM_OK) {
        rm_import_result_free(r);
        return st;
    }
    *out = r;
    return RM_OK;
}

rm_status rm_import_parse_buffer(const void *buf, size_t len, const char *name,
                                 rm_import_format fmt, const rm_import_options *opt,
                                 rm_import_result **out, rm_err *err)
{
    if (!name)
        name = "buffer";
    *out = NULL;
    if (len == 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: empty input", name);
    if (fmt == RM_IMPORT_UNKNOWN) {
        fmt = rm_import_detect_bytes(buf, len, name);
        if (fmt == RM_IMPORT_UNKNOWN)
            return rm_err_set(err, RM_ERR_FORMAT, "%s: not a known export format", name);
    }
    if (len == 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: empty input", name);
    /* fmemopen wants a writable buffer in older glibc: give it a copy. */
    char *copy = malloc(len);
    if (!copy)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", name);
    memcpy(copy, buf, len);
    FILE *f = fmemopen(copy, len, "r");
    if (!f) {
        free(copy);
        return rm_err_set(err, RM_ERR_IO, "%s: fmemopen failed: %s", name, strerror(errno));
    }
    rm_status st = rm_import_parse_file(f, name, fmt, opt, out, err);
    fclose(f);
    free(copy);
    return st;
}

rm_status rm_import_read(const char *path, rm_import_format fmt, const rm_import_options *opt,
                         rm_import_result **out, rm_err *err)
{
    *out = NULL;
    if (fmt == RM_IMPORT_UNKNOWN) {
        rm_status st = rm_import_detect(path, &fmt, err);
        if (st != RM_OK)
            return st;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return rm_err_set(err, RM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    rm_status st = rm_import_parse_file(f, path, fmt, opt, out, err);
    fclose(f);
    return st;
}

/* ---- detection ---- */

rm_import_format rm_import_detect_bytes(const void *buf, size_t len, const char *name)
{
    const char *b = buf;
    if (!b || len == 0)
        return RM_IMPORT_UNKNOWN;
    if (len > RM_IMPORT_DETECT_BYTES)
        len = RM_IMPORT_DETECT_BYTES;
    if (memchr(b, '\0', len))
        return RM_IMPORT_UNKNOWN;
    return imp_detect_table(b, len, name);
}

rm_status rm_import_detect(const char *path, rm_import_format *out, rm_err *err)
{
    *out = RM_IMPORT_UNKNOWN;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rm_err_set(err, RM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(RM_IMPORT_DETECT_BYTES);
    if (!buf) {
        fclose(f);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, RM_IMPORT_DETECT_BYTES, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return rm_err_set(err, RM_ERR_IO, "%s: read error", path);
    }
    if (n == 0) {
        free(buf);
        return rm_err_set(err, RM_ERR_FORMAT, "%s: empty file", path);
    }
    *out = rm_import_detect_bytes(buf, n, path);
    int binary = memchr(buf, '\0', n) != NULL;
    free(buf);
    if (*out == RM_IMPORT_UNKNOWN && binary)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: binary data, not a text export", path);
    if (*out == RM_IMPORT_UNKNOWN) {
        char names[256];
        rm_import_format_list(names, sizeof names);
        return rm_err_set(err, RM_ERR_FORMAT, "%s: not a known export format (%s)", path, names);
    }
    return RM_OK;
}

/* ---- output ---- */

rm_status rm_import_result_calib(const rm_import_result *r, rm_calib **out)
{
    rm_calib *c;
    rm_status st = rm_calib_new(r->device.rows, r->device.cols, &c);
    if (st != RM_OK)
        return st;
    c->n_knots = 2;
    c->knot_raw[0] = 0.0f;
    c->knot_kpa[0] = 0.0f;
    c->knot_raw[1] = 65535.0f;
    c->knot_kpa[1] = (float)(65535.0 * r->scale_kpa);
    *out = c;
    return RM_OK;
}

void rm_import_result_frame_raw(const rm_import_result *r, size_t i, uint16_t *raw)
{
    size_t per = (size_t)r->device.rows * r->device.cols;
    const float *k = r->kpa + i * per;
    double inv = 1.0 / r->scale_kpa;
    for (size_t j = 0; j < per; j++) {
        double c = (double)k[j] * inv + 0.5;
        raw[j] = c >= 65535.0 ? 65535 : (uint16_t)c;
    }
}

rm_status rm_import_emit(const rm_import_result *r, const rm_sink *sink, rm_err *err)
{
    size_t per = (size_t)r->device.rows * r->device.cols;
    rm_status st = RM_OK;
    rm_calib *calib = NULL;
    uint16_t *raw = malloc(per * sizeof *raw);
    rm_end end;
    memset(&end, 0, sizeof end);
    if (!raw) {
        st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        goto finish;
    }
    st = rm_import_result_calib(r, &calib);
    if (st != RM_OK) {
        rm_err_set(err, st, "cannot build the identity calibration");
        goto finish;
    }
    st = rm_sink_send(sink, RM_PKT_HEADER, &r->header, err);
    if (st == RM_OK)
        st = rm_sink_send(sink, RM_PKT_DEVICE, &r->device, err);
    if (st == RM_OK)
        st = rm_sink_send(sink, RM_PKT_CALIB, calib, err);
    for (size_t i = 0; st == RM_OK && i < r->n_frames; i++) {
        rm_frame fr;
        memset(&fr, 0, sizeof fr);
        fr.seq = r->seq[i];
        fr.time_s = r->time_s[i];
        fr.t_device_us = (uint64_t)llround(r->time_s[i] * 1e6);
        fr.rows = r->device.rows;
        fr.cols = r->device.cols;
        rm_import_result_frame_raw(r, i, raw);
        fr.raw = raw;
        st = rm_sink_send(sink, RM_PKT_FRAME, &fr, err);
        if (st == RM_OK)
            end.frames_ok++;
    }
    end.status = st;
    {
        rm_err e2 = {0};
        rm_status st2 = rm_sink_send(sink, RM_PKT_END, &end, st == RM_OK ? err : &e2);
        if (st == RM_OK)
            st = st2;
    }
finish:
    free(raw);
    rm_calib_free(calib);
    if (sink->finish) {
        rm_err e3 = {0};
        rm_status st3 = sink->finish(sink->ctx, st == RM_OK ? err : &e3);
        if (st == RM_OK)
            st = st3;
    }
    return st;
}

rm_status rm_import_source(const char *path, rm_import_format fmt, const rm_import_options *opt,
                           const rm_sink *sink, rm_err *err)
{
    rm_import_result *r = NULL;
    rm_status st = rm_import_read(path, fmt, opt, &r, err);
    if (st != RM_OK) {
        if (sink->finish) {
            rm_err e2 = {0};
            sink->finish(sink->ctx, &e2);
        }
        return st;
    }
    st = rm_import_emit(r, sink, err);
    rm_import_result_free(r);
    return st;
}

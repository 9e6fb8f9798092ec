/* analysis.c - the streaming part of the analysis: calibration, frame
 * metrics, contacts, roller tracking, sensel faults, online sets and maps.
 * Definitions: docs/metrics.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_internal.h"

#define THR_NEVER 0x10000u

void rm_analysis_config_default(rm_analysis_config *c)
{
    memset(c, 0, sizeof *c);
    c->noise_kpa = 0.2;
    c->noise_sigmas = 5.0;
    c->min_contact_sensels = 3;
    c->roller_min_length_cm = 12.0;
    c->roller_min_aspect = 2.5;
    c->roller_max_width_cm = 12.0;
    c->roller_max_jump_cm = 5.0;
    c->roller_row_share = 0.25;
    c->hot_after_s = 1.0;
    c->dead_after_s = 0.5;
    c->lowpass_hz = 1.5;
    c->fill_gap_s = 0.5;
    c->rolling_speed_cm_s = 0.5;
    c->hold_min_s = 3.0;
    c->hold_edge_cm = 0.2;
    c->min_excursion_cm = 2.0;
    c->segment_gap_s = 4.0;
    c->min_segment_s = 5.0;
    c->welch_window_s = 40.0;
    c->shake_lo_hz = 3.0;
    c->shake_hi_hz = 12.0;
    c->coverage_bin_cm = 1.0;
    c->live_speed_tau_s = 0.3;
    c->body_mass_kg = 0.0;
    c->max_series_frames = RM_MAX_SERIES_FRAMES;
    c->labels = NULL;
    c->ball_min_kpa = 40.0;
    c->ball_max_sigma_cm = 1.8;
    c->ball_max_aspect = 1.6;
    c->spot_min_s = 5.0;
    c->spot_move_cm = 4.0;
}

#include <errno.h>
#include <stddef.h>

typedef struct opt_def {
    const char *name;
    size_t off;
    int is_int;
} opt_def;

#define OPT(f)                                                                                     \
    {                                                                                              \
#f, offsetof(rm_analysis_config, f), 0                                                     \
    }
static const opt_def opt_defs[] = {
    OPT(noise_kpa),
    OPT(noise_sigmas),
    {"min_contact_sensels", offsetof(rm_analysis_config, min_contact_sensels), 1},
    OPT(roller_min_length_cm),
    OPT(roller_min_aspect),
    OPT(roller_max_width_cm),
    OPT(roller_max_jump_cm),
    OPT(roller_row_share),
    OPT(hot_after_s),
    OPT(dead_after_s),
    OPT(lowpass_hz),
    OPT(fill_gap_s),
    OPT(rolling_speed_cm_s),
    OPT(hold_min_s),
    OPT(hold_edge_cm),
    OPT(min_excursion_cm),
    OPT(segment_gap_s),
    OPT(min_segment_s),
    OPT(welch_window_s),
    OPT(shake_lo_hz),
    OPT(shake_hi_hz),
    OPT(coverage_bin_cm),
    OPT(live_speed_tau_s),
    OPT(body_mass_kg),
    {"max_series_frames", offsetof(rm_analysis_config, max_series_frames), 1},
    OPT(ball_min_kpa),
    OPT(ball_max_sigma_cm),
    OPT(ball_max_aspect),
    OPT(spot_min_s),
    OPT(spot_move_cm),
};
#undef OPT

const char *rm_analysis_config_name(size_t i)
{
    return i < sizeof opt_defs / sizeof opt_defs[0] ? opt_defs[i].name : NULL;
}

rm_status rm_analysis_config_set(rm_analysis_config *cfg, const char *name, const char *value,
                                 rm_err *err)
{
    for (size_t i = 0; i < sizeof opt_defs / sizeof opt_defs[0]; i++) {
        if (strcmp(name, opt_defs[i].name))
            continue;
        char *end;
        errno = 0;
        double v = value ? strtod(value, &end) : 0;
        if (!value || !*value || end == value || *end || errno || !isfinite(v))
            return rm_err_set(err, RM_ERR_VALUE, "analysis option %s: \"%s\" is not a number", name,
                              value ? value : "");
        if (opt_defs[i].is_int) {
            if (v != floor(v) || v < 1 || v > 1e6)
                return rm_err_set(err, RM_ERR_RANGE,
                                  "analysis option %s: %s is not a whole number >= 1", name, value);
            *(int *)(void *)((char *)cfg + opt_defs[i].off) = (int)v;
        } else {
            *(double *)(void *)((char *)cfg + opt_defs[i].off) = v;
        }
        return RM_OK;
    }
    return rm_err_set(err, RM_ERR_ARG, "unknown analysis option \"%s\"", name);
}

int rm_fvec_push(rm_fvec *f, float x)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 4096;
        float *nv = realloc(f->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        f->v = nv;
        f->cap = nc;
    }
    f->v[f->n++] = x;
    return 0;
}

static int span_alloc(rm_seg_span *s, size_t n)
{
    s->sum_kpa = calloc(n, sizeof *s->sum_kpa);
    s->peak_kpa = calloc(n, sizeof *s->peak_kpa);
    s->contact = calloc(n, sizeof *s->contact);
    s->frames = 0;
    return (s->sum_kpa && s->peak_kpa && s->contact) ? 0 : -1;
}

static void span_free(rm_seg_span *s)
{
    free(s->sum_kpa);
    free(s->peak_kpa);
    free(s->contact);
    s->sum_kpa = s->peak_kpa = NULL;
    s->contact = NULL;
}

static void span_clear(rm_seg_span *s, size_t n)
{
    memset(s->sum_kpa, 0, n * sizeof *s->sum_kpa);
    memset(s->peak_kpa, 0, n * sizeof *s->peak_kpa);
    memset(s->contact, 0, n * sizeof *s->contact);
    s->frames = 0;
}

static rm_status check_config(const rm_analysis_config *c, rm_err *err)
{
#define POS(f)                                                                                     \
    if (!(c->f > 0) || !isfinite(c->f))                                                            \
        return rm_err_set(err, RM_ERR_RANGE, "analysis option " #f " = %g: must be > 0",           \
                          (double)c->f);
#define NONNEG(f)                                                                                  \
    if (!(c->f >= 0) || !isfinite(c->f))                                                           \
        return rm_err_set(err, RM_ERR_RANGE, "analysis option " #f " = %g: must be >= 0",          \
                          (double)c->f);
    POS(noise_kpa);
    NONNEG(noise_sigmas);
    POS(roller_min_length_cm);
    POS(roller_min_aspect);
    POS(roller_max_width_cm);
    POS(roller_max_jump_cm);
    POS(roller_row_share);
    POS(hot_after_s);
    POS(dead_after_s);
    POS(lowpass_hz);
    NONNEG(fill_gap_s);
    POS(rolling_speed_cm_s);
    POS(hold_min_s);
    POS(hold_edge_cm);
    POS(min_excursion_cm);
    POS(segment_gap_s);
    NONNEG(min_segment_s);
    POS(welch_window_s);
    POS(shake_lo_hz);
    POS(shake_hi_hz);
    POS(coverage_bin_cm);
    POS(live_speed_tau_s);
    NONNEG(body_mass_kg);
    NONNEG(ball_min_kpa);
    POS(ball_max_sigma_cm);
    POS(ball_max_aspect);
    NONNEG(spot_min_s);
    POS(spot_move_cm);
#undef POS
#undef NONNEG
    if (c->min_contact_sensels < 1)
        return rm_err_set(err, RM_ERR_RANGE,
                          "analysis option min_contact_sensels = %d: must be >= 1",
                          c->min_contact_sensels);
    if (c->shake_hi_hz <= c->shake_lo_hz)
        return rm_err_set(err, RM_ERR_RANGE,
                          "analysis options shake_lo_hz %g .. shake_hi_hz %g: empty band",
                          c->shake_lo_hz, c->shake_hi_hz);
    return RM_OK;
}

/* The hot loop's copy of the thresholds: loaded if raw > tm1 (uint16, so
 * the compare vectorises); "never" is 65535. */
static void sync_tm1(rm_analysis *a)
{
    for (int i = 0; i < a->n; i++)
        a->tm1[i] = (uint16_t)(a->thr[i] >= THR_NEVER ? 65535 : a->thr[i] - 1);
}

/* A mat the analysis can work with, and a calibration that fits it. */
static rm_status check_device(const rm_device *dev, const rm_calib *calib, rm_err *err)
{
    if (!dev)
        return rm_err_set(err, RM_ERR_ARG, "analysis: no device description");
    if (dev->rows < 1 || dev->cols < 1 || dev->rows > RM_MAX_DIM || dev->cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_RANGE, "analysis: mat geometry %ux%u outside 1..%d",
                          dev->rows, dev->cols, RM_MAX_DIM);
    if (!(dev->row_pitch_mm > 0) || !(dev->col_pitch_mm > 0) || !isfinite(dev->row_pitch_mm) ||
        !isfinite(dev->col_pitch_mm))
        return rm_err_set(err, RM_ERR_RANGE, "analysis: sensel pitch %g x %g mm is not positive",
                          dev->row_pitch_mm, dev->col_pitch_mm);
    if (!(dev->rate_hz > 0) || !isfinite(dev->rate_hz))
        return rm_err_set(err, RM_ERR_RANGE, "analysis: frame rate %g Hz is not positive",
                          dev->rate_hz);
    if (calib && (calib->rows != dev->rows || calib->cols != dev->cols))
        return rm_err_set(err, RM_ERR_LENGTH, "analysis: calibration is %ux%u but the mat is %ux%u",
                          calib->rows, calib->cols, dev->rows, dev->cols);
    return calib ? rm_calib_validate(calib, err) : RM_OK;
}

/* Every per-mat array at once (accumulators zeroed), so a frame never
 * allocates; -1 if one is missing. */
static int alloc_state(rm_analysis *a)
{
    size_t n = (size_t)a->n;
    a->lut_n = 65536;
    a->lut = malloc(a->lut_n * sizeof *a->lut);
    a->gain = malloc(n * sizeof *a->gain);
    a->zero = malloc(n * sizeof *a->zero);
    a->thr = malloc(n * sizeof *a->thr);
    a->thr_base = malloc(n * sizeof *a->thr_base);
    a->mask = malloc(n);
    a->lone_run = calloc(n, sizeof *a->lone_run);
    a->dead_run = calloc(n, sizeof *a->dead_run);
    a->lone_last = calloc(n, sizeof *a->lone_last);
    a->dead_last = calloc(n, sizeof *a->dead_last);
    a->hot = calloc(n, 1);
    a->dead = calloc(n, 1);
    a->p = calloc(n, sizeof *a->p);
    /* labels live in a frame padded by one never-loaded sensel all
     * round, so neighbour lookups need no bounds checks */
    size_t npad = (size_t)(a->rows + 2) * (size_t)(a->cols + 2);
    a->lab = malloc(npad * sizeof *a->lab);
    a->porig = malloc(npad * sizeof *a->porig);
    a->loaded = malloc((n + 8) * sizeof *a->loaded);
    a->tm1 = malloc(n * sizeof *a->tm1);
    a->flag = calloc((n + 7) / 8 * 8, 1);
    a->queue = malloc(n * sizeof *a->queue);
    a->rowcount = calloc((size_t)a->rows, sizeof *a->rowcount);
    a->rowof = malloc(n * sizeof *a->rowof);
    a->colof = malloc(n * sizeof *a->colof);
    a->all_sum = calloc(n, sizeof *a->all_sum);
    a->all_peak = calloc(n, sizeof *a->all_peak);
    a->all_contact = calloc(n, sizeof *a->all_contact);
    if (!a->lut || !a->gain || !a->zero || !a->thr || !a->thr_base || !a->mask || !a->lone_run ||
        !a->dead_run || !a->lone_last || !a->dead_last || !a->hot || !a->dead || !a->p || !a->lab ||
        !a->porig || !a->loaded || !a->tm1 || !a->flag || !a->queue || !a->rowcount || !a->rowof ||
        !a->colof || !a->all_sum || !a->all_peak || !a->all_contact || span_alloc(&a->cur, n) ||
        span_alloc(&a->pend, n))
        return -1;
    for (size_t i = 0; i < npad; i++) {
        a->lab[i] = -1;
        a->porig[i] = -1;
    }
    for (size_t i = 0; i < n; i++)
        a->porig[i + 2 * (i / (size_t)a->cols) + (size_t)a->cols + 3] = (int32_t)i;
    return 0;
}

/* Smallest raw count of sensel i whose pressure exceeds noise_kpa, so the
 * hot loop compares integers and skips unloaded sensels; THR_NEVER if none
 * (masked out, no gain, or the curve never gets there). */
static uint32_t base_threshold(const rm_analysis *a, size_t i)
{
    if (!a->mask[i] || !(a->gain[i] > 0))
        return THR_NEVER;
    double need = a->cfg.noise_kpa / a->gain[i];
    if (!(a->lut[a->lut_n - 1] > need))
        return THR_NEVER;
    uint32_t lo = 0, hi = a->lut_n - 1; /* lut[hi] > need; the curve rises */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (a->lut[mid] > need)
            hi = mid;
        else
            lo = mid + 1;
    }
    uint32_t thr = (uint32_t)a->zero[i] + lo;
    return thr > 65535 ? THR_NEVER : thr;
}

/* Calibration tables, sensel coordinates and thresholds, once per mat. */
static void precompute(rm_analysis *a, const rm_calib *calib, const uint8_t *mask)
{
    size_t n = (size_t)a->n;
    /* The curve once per count value, so a sensel costs one lookup. */
    for (uint32_t d = 0; d < a->lut_n; d++)
        a->lut[d] = calib ? rm_calib_curve(calib, (float)d) : (float)d;
    for (size_t i = 0; i < n; i++) {
        a->gain[i] = calib ? calib->gain[i] : 1.0f;
        a->zero[i] = calib ? calib->zero[i] : 0;
        a->mask[i] = mask ? (mask[i] != 0) : 1;
        /* row and column of a sensel index: no divisions in the hot loops */
        a->rowof[i] = (uint16_t)(i / (size_t)a->cols);
        a->colof[i] = (uint16_t)(i % (size_t)a->cols);
        a->thr[i] = a->thr_base[i] = base_threshold(a, i);
    }
    sync_tm1(a);
    a->hot_frames = (uint32_t)ceil(a->cfg.hot_after_s * a->rate_hz);
    a->dead_frames = (uint32_t)ceil(a->cfg.dead_after_s * a->rate_hz);
    if (a->hot_frames < 2)
        a->hot_frames = 2;
    if (a->dead_frames < 2)
        a->dead_frames = 2;
}

rm_status rm_analysis_new(const rm_analysis_config *cfg, const rm_device *dev,
                          const rm_calib *calib, const uint8_t *mask, rm_analysis **out,
                          rm_err *err)
{
    *out = NULL;
    rm_status st = check_device(dev, calib, err);
    if (st != RM_OK)
        return st;
    rm_analysis_config c;
    if (cfg)
        c = *cfg;
    else
        rm_analysis_config_default(&c);
    st = check_config(&c, err);
    if (st != RM_OK)
        return st;

    rm_analysis *a = calloc(1, sizeof *a);
    if (!a)
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory");
    a->cfg = c;
    a->stride = 1;
    if (c.labels) {
        a->labels = strdup(c.labels);
        if (!a->labels)
            goto nomem;
        a->cfg.labels = a->labels;
    }
    a->rows = dev->rows;
    a->cols = dev->cols;
    a->n = a->rows * a->cols;
    a->rp_cm = dev->row_pitch_mm / RM_MM_PER_CM;
    a->cp_cm = dev->col_pitch_mm / RM_MM_PER_CM;
    a->sensel_cm2 = a->rp_cm * a->cp_cm;
    a->rate_hz = dev->rate_hz;
    if (alloc_state(a) || ball_new(a))
        goto nomem;
    precompute(a, calib, mask);
    *out = a;
    return RM_OK;
nomem:
    rm_analysis_free(a);
    return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory for a %ux%u mat", dev->rows,
                      dev->cols);
}

void rm_analysis_free(rm_analysis *a)
{
    if (!a)
        return;
    free(a->labels);
    free(a->lut);
    free(a->gain);
    free(a->zero);
    free(a->thr);
    free(a->thr_base);
    free(a->tm1);
    free(a->flag);
    free(a->mask);
    free(a->lone_run);
    free(a->dead_run);
    free(a->lone_last);
    free(a->dead_last);
    free(a->hot);
    free(a->dead);
    free(a->p);
    free(a->lab);
    free(a->porig);
    free(a->loaded);
    free(a->queue);
    free(a->rowcount);
    free(a->rowof);
    free(a->colof);
    free(a->all_sum);
    free(a->all_peak);
    free(a->all_contact);
    span_free(&a->cur);
    span_free(&a->pend);
    for (size_t i = 0; i < a->n_spans; i++)
        span_free(&a->spans[i]);
    free(a->spans);
    for (int s = 0; s < RM_SERIES_COUNT; s++)
        free(a->ser[s].v);
    free(a->lab_ev);
    ball_free(a);
    free(a);
}

rm_status rm_analysis_label(rm_analysis *a, double time_s, const char *label, rm_err *err)
{
    if (!a || !label)
        return rm_err_set(err, RM_ERR_ARG, "analysis label: no label");
    if (!isfinite(time_s))
        return rm_err_set(err, RM_ERR_VALUE, "analysis label \"%s\": time is not finite", label);
    if (a->n_lab == a->cap_lab) {
        size_t nc = a->cap_lab ? a->cap_lab * 2 : 16;
        rm_label_ev *nv = realloc(a->lab_ev, nc * sizeof *nv);
        if (!nv)
            return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory");
        a->lab_ev = nv;
        a->cap_lab = nc;
    }
    rm_label_ev *e = &a->lab_ev[a->n_lab++];
    e->time_s = time_s;
    snprintf(e->text, sizeof e->text, "%s", label);
    return RM_OK;
}

rm_status rm_analysis_event(rm_analysis *a, double time_s, const char *kind, rm_err *err)
{
    if (!a || !kind)
        return rm_err_set(err, RM_ERR_ARG, "analysis event: no kind");
    (void)time_s;
    if (!strcmp(kind, RM_EVENT_DISCONNECT))
        a->disconnects++;
    return RM_OK;
}

/* Statistics of one roller candidate. */
typedef struct roller_fit {
    double sum_p, sum_px, sum_py, sum_pxx, sum_pyy, peak;
    int count, rmin, rmax, cmin, cmax;
} roller_fit;

/* Measures a component as a roller. The roller's rows are long across the
 * mat: the band is the rows around the busiest one holding at least
 * 2*roller_row_share of its sensel count, widened while the count keeps
 * falling outward but stays above roller_row_share (the roller's edges). A
 * foot, hand or knee touching the roller gives rows that are short, or
 * whose count rises again going outward, and is left out there. */
static void fit_roller(rm_analysis *a, int q0, int q1, roller_fit *f)
{
    int rmin = a->rows, rmax = -1;
    for (int q = q0; q < q1; q++) {
        int r = a->rowof[a->queue[q]];
        a->rowcount[r]++;
        if (r < rmin)
            rmin = r;
        if (r > rmax)
            rmax = r;
    }
    int best = rmin;
    for (int r = rmin; r <= rmax; r++)
        if (a->rowcount[r] > a->rowcount[best])
            best = r;
    const int32_t *rc = a->rowcount;
    int lo = best, hi = best;
    const double share = a->cfg.roller_row_share;
    const double core = rc[best] * (2 * share < 1 ? 2 * share : 1), edge = rc[best] * share;
    while (lo > rmin && rc[lo - 1] >= core)
        lo--;
    while (hi < rmax && rc[hi + 1] >= core)
        hi++;
    while (lo > rmin && rc[lo - 1] >= edge && rc[lo - 1] <= rc[lo])
        lo--;
    while (hi < rmax && rc[hi + 1] >= edge && rc[hi + 1] <= rc[hi])
        hi++;
    for (int r = rmin; r <= rmax; r++)
        a->rowcount[r] = 0;
    memset(f, 0, sizeof *f);
    f->rmin = a->rows;
    f->cmin = a->cols;
    f->rmax = f->cmax = -1;
    for (int q = q0; q < q1; q++) {
        int i = a->queue[q];
        int r = a->rowof[i], c = a->colof[i];
        if (r < lo || r > hi)
            continue;
        double p = a->p[i];
        f->sum_p += p;
        f->sum_px += p * r;
        f->sum_py += p * c;
        f->sum_pxx += p * r * r;
        f->sum_pyy += p * c * c;
        if (p > f->peak)
            f->peak = p;
        f->count++;
        if (r < f->rmin)
            f->rmin = r;
        if (r > f->rmax)
            f->rmax = r;
        if (c < f->cmin)
            f->cmin = c;
        if (c > f->cmax)
            f->cmax = c;
    }
}

/* Dead sensels: unloaded between two loaded roller sensels (along x or y)
 * for dead_after_s. Once known, such a sensel inside the roller gets the
 * mean of its loaded neighbours. Adds the filled pressure to f. */
static double dead_sensels(rm_analysis *a, roller_fit *f, int root, uint64_t frame)
{
    double added = 0;
    const int C = a->cols, PW = C + 2;
    for (int r = f->rmin; r <= f->rmax; r++) {
        for (int c = f->cmin; c <= f->cmax; c++) {
            int i = r * C + c;
            int ip = i + 2 * r + PW + 1;
            if (a->lab[ip] >= 0 || !a->mask[i])
                continue;
            int up = a->lab[ip - PW] == root;
            int dn = a->lab[ip + PW] == root;
            int lf = a->lab[ip - 1] == root;
            int rt = a->lab[ip + 1] == root;
            if (!((up && dn) || (lf && rt)))
                continue;
            if (!a->dead[i]) {
                a->dead_run[i] = (a->dead_last[i] + 1 == frame) ? a->dead_run[i] + 1 : 1;
                a->dead_last[i] = frame;
                if (a->dead_run[i] >= a->dead_frames) {
                    a->dead[i] = 1;
                    a->n_dead++;
                }
                continue;
            }
            double s = 0;
            int k = 0;
            if (up) {
                s += a->p[i - C];
                k++;
            }
            if (dn) {
                s += a->p[i + C];
                k++;
            }
            if (lf) {
                s += a->p[i - 1];
                k++;
            }
            if (rt) {
                s += a->p[i + 1];
                k++;
            }
            double p = s / k;
            f->sum_p += p;
            f->sum_px += p * r;
            f->sum_py += p * c;
            f->count++;
            added += p;
        }
    }
    return added;
}

static void span_add(rm_seg_span *s, const int32_t *loaded, int nl, const float *p)
{
    for (int k = 0; k < nl; k++) {
        int i = loaded[k];
        float v = p[i];
        s->sum_kpa[i] += v;
        if (v > s->peak_kpa[i])
            s->peak_kpa[i] = v;
        s->contact[i]++;
    }
    s->frames++;
}

static void span_merge(rm_seg_span *dst, const rm_seg_span *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst->sum_kpa[i] += src->sum_kpa[i];
        if (src->peak_kpa[i] > dst->peak_kpa[i])
            dst->peak_kpa[i] = src->peak_kpa[i];
        dst->contact[i] += src->contact[i];
    }
    dst->frames += src->frames;
}

/* Ends the current set: kept if long enough, its maps moved to spans. */
static rm_status close_set(rm_analysis *a)
{
    size_t n = (size_t)a->n;
    if (a->last_present_t - a->seg_start_t >= a->cfg.min_segment_s) {
        if (a->n_spans == a->cap_spans) {
            size_t nc = a->cap_spans ? a->cap_spans * 2 : 8;
            rm_seg_span *nv = realloc(a->spans, nc * sizeof *nv);
            if (!nv)
                return RM_ERR_NOMEM;
            a->spans = nv;
            a->cap_spans = nc;
        }
        rm_seg_span *s = &a->spans[a->n_spans];
        *s = a->cur;
        s->last = a->last_present_i;
        if (span_alloc(&a->cur, n))
            return RM_ERR_NOMEM;
        a->n_spans++;
    } else {
        span_clear(&a->cur, n);
    }
    if (a->pend_dirty)
        span_clear(&a->pend, n);
    a->pend_dirty = 0;
    a->in_seg = 0;
    return RM_OK;
}

/* The series index of the current frame (just pushed, or not kept):
 * with `next`, the first kept frame at or after it (a set's first frame),
 * else the last kept at or before it (a set's last). */
static size_t series_index(const rm_analysis *a, int next)
{
    if (a->cfg.live_only)
        return a->nf;
    size_t n = a->ser[RM_SERIES_TIME].n;
    int kept = a->nf % a->stride == 0;
    return kept || !next ? (n ? n - 1 : 0) : n;
}

/* The series are full (docs/metrics.md, "Long recordings"): keep every
 * other kept frame (those whose frame number is a multiple of the doubled
 * stride) and move the set boundaries found so far with them. Memory stays
 * bounded whatever the length; pacing then works at rate / stride. */
static void decimate_series(rm_analysis *a)
{
    for (int s = 0; s < RM_SERIES_COUNT; s++) {
        rm_fvec *f = &a->ser[s];
        for (size_t i = 0; 2 * i < f->n; i++)
            f->v[i] = f->v[2 * i];
        f->n = (f->n + 1) / 2;
    }
    for (size_t k = 0; k < a->n_spans; k++) {
        a->spans[k].first = (a->spans[k].first + 1) / 2;
        a->spans[k].last /= 2;
        if (a->spans[k].first > a->spans[k].last)
            a->spans[k].first = a->spans[k].last;
    }
    a->cur.first = (a->cur.first + 1) / 2;
    a->last_present_i /= 2;
    if (a->in_seg && a->cur.first > a->last_present_i)
        a->cur.first = a->last_present_i;
    a->stride *= 2;
}

static int push_series(rm_analysis *a, const float *v)
{
    size_t max = a->cfg.max_series_frames > 0 ? (size_t)a->cfg.max_series_frames
                                              : (size_t)RM_MAX_SERIES_FRAMES;
    if (a->ser[RM_SERIES_TIME].n >= max && max >= 2)
        decimate_series(a);
    if (a->nf % a->stride != 0)
        return 0;
    for (int s = 0; s < RM_SERIES_COUNT; s++)
        if (rm_fvec_push(&a->ser[s], v[s]))
            return -1;
    return 0;
}

/* Sensor noise from the sensels reading below their zero: only unloaded
 * sensels do, and their deficit is half of the noise distribution. The
 * median deficit / 0.6745 estimates sigma (dead sensels, far below zero,
 * do not move a median). The loaded threshold is then raised to
 * zero + noise_sigmas * sigma where that exceeds noise_kpa. */
static void track_noise(rm_analysis *a, const uint16_t *raw)
{
    uint32_t hist[256];
    memset(hist, 0, sizeof hist);
    uint32_t nneg = 0;
    for (int i = 0; i < a->n; i++) {
        int d = (int)a->zero[i] - (int)raw[i];
        if (d > 0 && a->mask[i]) {
            hist[d > 255 ? 255 : d]++;
            nneg++;
        }
    }
    if (nneg < 32)
        return;
    uint32_t half = nneg / 2, acc = 0;
    int med = 0;
    while (med < 255 && acc + hist[med] <= half)
        acc += hist[med++];
    double est = med / 0.6745;
    a->noise_sigma = a->noise_sigma > 0 ? 0.8 * a->noise_sigma + 0.2 * est : est;
    uint32_t extra = (uint32_t)ceil(a->cfg.noise_sigmas * a->noise_sigma);
    if (extra == a->thr_extra)
        return;
    a->thr_extra = extra;
    for (int i = 0; i < a->n; i++) {
        uint32_t t = a->thr_base[i];
        if (t < THR_NEVER && !a->hot[i]) {
            uint32_t tn = (uint32_t)a->zero[i] + extra;
            a->thr[i] = tn > t ? (tn > 65535 ? THR_NEVER : tn) : t;
        }
    }
    sync_tm1(a);
}

/* Index of sensel i in the padded label frame; needs locals rowof and PW
 * (a macro, not a function, so the hot loops keep them in registers). */
#define PIDX(i) ((i) + 2 * rowof[i] + PW + 1)

/* The frame's sums over its loaded sensels (force, centre of pressure). */
typedef struct frame_sums {
    double fsum, fx, fy, peak;
} frame_sums;

/* Argument and time checks, so the stages can trust the frame. */
static rm_status push_check(rm_analysis *a, double time_s, const uint16_t *raw, rm_err *err)
{
    if (!a || !raw)
        return rm_err_set(err, RM_ERR_ARG, "analysis push: no frame");
    if (a->finished)
        return rm_err_set(err, RM_ERR_STATE, "analysis push: analysis already finished");
    if (!isfinite(time_s))
        return rm_err_set(err, RM_ERR_VALUE,
                          "analysis push: frame %zu has a time that is not finite", a->nf);
    if (a->nf > 0 && time_s < a->last_t - 1e-6)
        return rm_err_set(err, RM_ERR_VALUE, "analysis push: frame %zu time %.6f s goes back",
                          a->nf, time_s);
    return RM_OK;
}

/* Threshold: most sensels are below it, so one compare each, without a
 * branch (the index is written always, kept if loaded); eight unloaded
 * sensels are skipped at once. Loaded indices go to a->loaded; returns
 * their count. */
static inline int threshold_sensels(rm_analysis *a, const uint16_t *raw)
{
    const int n = a->n;
    const uint16_t *tm1 = a->tm1;
    uint8_t *flag = a->flag;
    int32_t *loaded = a->loaded;
    int nl = 0;
    for (int i = 0; i < n; i++)
        flag[i] = raw[i] > tm1[i];
    for (int w = 0; w < n; w += 8) {
        uint64_t word;
        memcpy(&word, flag + w, 8);
        if (!word)
            continue;
        for (int i = w; i < w + 8; i++) {
            loaded[nl] = i;
            nl += flag[i];
        }
    }
    return nl;
}

/* Calibrate the loaded sensels only (one lookup each), sum the frame, and
 * mark each "loaded, not yet labelled" for the contact search. */
static inline frame_sums calibrate_loaded(rm_analysis *a, const uint16_t *raw, int nl)
{
    const float *lut = a->lut, *gain = a->gain;
    const uint16_t *zero = a->zero, *rowof = a->rowof, *colof = a->colof;
    const int32_t *loaded = a->loaded;
    float *p = a->p;
    int32_t *lab = a->lab;
    const int PW = a->cols + 2;
    frame_sums s = {0, 0, 0, 0};
    for (int k = 0; k < nl; k++) {
        int i = loaded[k];
        float v = gain[i] * lut[raw[i] - zero[i]];
        p[i] = v;
        lab[PIDX(i)] = -2;
        s.fsum += v;
        s.fx += v * rowof[i];
        s.fy += v * colof[i];
        if (v > s.peak)
            s.peak = v;
    }
    return s;
}

/* Grows the component of seed by breadth-first search (8 neighbours), its
 * sensels appended to queue[] from q0; returns the queue's new end, and
 * the component's column extent in *cmin, *cmax. */
static inline int grow_component(rm_analysis *a, int seed, int q0, int *cmin, int *cmax)
{
    int32_t *lab = a->lab, *queue = a->queue;
    const int32_t *porig = a->porig;
    const uint16_t *rowof = a->rowof, *colof = a->colof;
    const int PW = a->cols + 2;
    const int nb[8] = {-PW - 1, -PW, -PW + 1, -1, 1, PW - 1, PW, PW + 1};
    int qn = q0;
    lab[PIDX(seed)] = seed;
    queue[qn++] = seed;
    int lo = colof[seed], hi = lo;
    for (int q = q0; q < qn; q++) {
        int i = queue[q];
        int c = colof[i];
        if (c < lo)
            lo = c;
        if (c > hi)
            hi = c;
        int ip = PIDX(i);
        for (int d = 0; d < 8; d++) {
            int jp = ip + nb[d];
            if (lab[jp] == -2) {
                lab[jp] = seed;
                queue[qn++] = porig[jp];
            }
        }
    }
    *cmin = lo;
    *cmax = hi;
    return qn;
}

/* A lone loaded sensel, frame after frame, is hot: never loaded again. */
static inline void lone_sensel(rm_analysis *a, int seed, uint64_t frame)
{
    a->lone_run[seed] = (a->lone_last[seed] + 1 == frame) ? a->lone_run[seed] + 1 : 1;
    a->lone_last[seed] = frame;
    if (a->lone_run[seed] >= a->hot_frames && !a->hot[seed]) {
        a->hot[seed] = 1;
        a->thr[seed] = THR_NEVER;
        a->tm1[seed] = 65535;
        a->n_hot++;
    }
}

/* Scores the component queue[q0, q1) (columns cmin..cmax) as the roller,
 * measured into *f: the higher the likelier; -1 if it is not a roller. */
static inline double roller_score(rm_analysis *a, int q0, int q1, int cmin, int cmax, double time_s,
                                  roller_fit *f)
{
    const rm_analysis_config *cfg = &a->cfg;
    const double min_len = cfg->roller_min_length_cm;
    if ((cmax - cmin + 1) * a->cp_cm < min_len)
        return -1;
    fit_roller(a, q0, q1, f);
    if (f->count < cfg->min_contact_sensels || !(f->sum_p > 0))
        return -1;
    double ext_y = (f->cmax - f->cmin + 1) * a->cp_cm;
    double ext_x = (f->rmax - f->rmin + 1) * a->rp_cm;
    /* Shape by pressure-weighted spread: a strip across the mat, not
     * a blob (a loaded hand's footprint can be long above the noise). */
    double mx = f->sum_px / f->sum_p, my = f->sum_py / f->sum_p;
    double vx = f->sum_pxx / f->sum_p - mx * mx, vy = f->sum_pyy / f->sum_p - my * my;
    double sx = sqrt(vx > 1.0 / 12 ? vx : 1.0 / 12) * a->rp_cm;
    double sy = sqrt(vy > 0 ? vy : 0) * a->cp_cm;
    if (ext_y < min_len || sy / sx < cfg->roller_min_aspect ||
        ext_x > cfg->roller_max_width_cm + 1e-9)
        return -1;
    double x = (f->sum_px / f->sum_p + 0.5) * a->rp_cm;
    /* Continuity first (nearest to the last roller position within a
     * plausible jump), then length across the mat. */
    double score = ext_y;
    if (a->have_prev && time_s - a->prev_t < 1.0) {
        double d = fabs(x - a->prev_x);
        if (d <= cfg->roller_max_jump_cm)
            score += 1000.0 - d;
    }
    return score;
}

/* Contacts (connected components of the loaded sensels, each contiguous in
 * queue[]), hot sensels among them, and the roller: the best candidate
 * into *best, its root sensel returned (-1: no roller). *ncomp: contacts. */
static inline int find_contacts(rm_analysis *a, int nl, double time_s, uint64_t frame,
                                roller_fit *best, int *ncomp)
{
    const int32_t *loaded = a->loaded, *lab = a->lab;
    const uint16_t *rowof = a->rowof;
    const int PW = a->cols + 2;
    const int min_cnt = a->cfg.min_contact_sensels;
    int qn = 0, nc = 0, best_root = -1;
    double best_score = -1e300;
    for (int k = 0; k < nl; k++) {
        int seed = loaded[k];
        if (lab[PIDX(seed)] != -2)
            continue;
        int q0 = qn, cmin, cmax;
        qn = grow_component(a, seed, q0, &cmin, &cmax);
        int cnt = qn - q0;
        nc += cnt >= min_cnt;
        if (cnt == 1) {
            lone_sensel(a, seed, frame);
            continue;
        }
        if (cnt < min_cnt)
            continue;
        roller_fit f;
        double score = roller_score(a, q0, qn, cmin, cmax, time_s, &f);
        if (score >= 0 && score > best_score) {
            best_score = score;
            *best = f;
            best_root = seed;
        }
    }
    *ncomp = nc;
    return best_root;
}

/* The frame's series values, NaN where there is nothing to measure. Dead
 * sensels inside the roller are filled first: they belong to the frame's
 * totals too. Remembers the roller's x for the next frame's continuity. */
static inline void frame_values(rm_analysis *a, double time_s, uint64_t frame, int nl, frame_sums s,
                                roller_fit *best, int best_root, float *v)
{
    for (int k = 0; k < RM_SERIES_COUNT; k++)
        v[k] = NAN;
    v[RM_SERIES_TIME] = (float)(time_s - a->t0);
    if (best_root >= 0) {
        s.fsum += dead_sensels(a, best, best_root, frame);
        double rx = (best->sum_px / best->sum_p + 0.5) * a->rp_cm;
        double ry = (best->sum_py / best->sum_p + 0.5) * a->cp_cm;
        v[RM_SERIES_ROLLER_X_CM] = (float)rx;
        v[RM_SERIES_ROLLER_Y_CM] = (float)ry;
        v[RM_SERIES_ROLLER_FORCE_N] = (float)(best->sum_p * a->sensel_cm2 * RM_N_CM2_PER_KPA);
        v[RM_SERIES_ROLLER_AREA_CM2] = (float)(best->count * a->sensel_cm2);
        v[RM_SERIES_ROLLER_PEAK_KPA] = (float)best->peak;
        a->have_prev = 1;
        a->prev_x = rx;
        a->prev_t = time_s;
        a->any_roller = 1;
    }
    v[RM_SERIES_FORCE_N] = (float)(s.fsum * a->sensel_cm2 * RM_N_CM2_PER_KPA);
    v[RM_SERIES_AREA_CM2] = (float)(nl * a->sensel_cm2);
    v[RM_SERIES_PEAK_KPA] = (float)s.peak;
    if (s.fsum > 0) {
        v[RM_SERIES_COP_X_CM] = (float)((s.fx / s.fsum + 0.5) * a->rp_cm);
        v[RM_SERIES_COP_Y_CM] = (float)((s.fy / s.fsum + 0.5) * a->cp_cm);
    }
    /* speed is filled at the end (zero phase); NaN for now */
}

/* Maps: the session's, and the online set's (docs/metrics.md, Segments):
 * frames without the roller go to a pending map, merged into the set if
 * the roller comes back within segment_gap_s, dropped with it otherwise. */
static inline rm_status update_maps(rm_analysis *a, int nl, int present, double time_s)
{
    const size_t N = (size_t)a->n;
    const int32_t *loaded = a->loaded;
    const float *p = a->p;
    for (int k = 0; k < nl; k++) {
        int i = loaded[k];
        float pv = p[i];
        a->all_sum[i] += pv;
        if (pv > a->all_peak[i])
            a->all_peak[i] = pv;
        a->all_contact[i]++;
    }
    if (present) {
        if (!a->in_seg) {
            a->in_seg = 1;
            a->seg_start_t = time_s;
            a->cur.first = series_index(a, 1);
        } else if (a->pend_dirty) {
            span_merge(&a->cur, &a->pend, N);
            span_clear(&a->pend, N);
            a->pend_dirty = 0;
        }
        span_add(&a->cur, loaded, nl, p);
        a->last_present_t = time_s;
        a->last_present_i = series_index(a, 0);
    } else if (a->in_seg) {
        if (time_s - a->last_present_t >= a->cfg.segment_gap_s)
            return close_set(a);
        span_add(&a->pend, loaded, nl, p);
        a->pend_dirty = 1;
    }
    return RM_OK;
}

/* Live (causal) speed of roller position x: exponential smoothing of x,
 * then of its slope; *state from how long it has been slow. */
static inline float live_speed(rm_analysis *a, double time_s, double x, int *state)
{
    const rm_analysis_config *cfg = &a->cfg;
    if (!a->live_have || time_s - a->live_t > cfg->fill_gap_s + 1e-9) {
        a->live_xs = x;
        a->live_v = 0;
        a->live_have = 1;
        a->live_slow_since = time_s;
    } else {
        double dt = time_s - a->live_t;
        double al = dt / (cfg->live_speed_tau_s + dt);
        double xs = a->live_xs + al * (x - a->live_xs);
        double inst = dt > 0 ? (xs - a->live_xs) / dt : 0;
        a->live_v += al * (inst - a->live_v);
        a->live_xs = xs;
    }
    a->live_t = time_s;
    if (fabs(a->live_v) >= cfg->rolling_speed_cm_s)
        a->live_slow_since = time_s;
    *state = (time_s - a->live_slow_since >= cfg->hold_min_s) ? RM_STATE_HOLDING : RM_STATE_ROLLING;
    return (float)a->live_v;
}

/* The caller's live metrics, from the frame's values. */
static inline void fill_live(rm_live_metrics *live, double time_s, const float *v, int present,
                             float live_v, int live_state, int ncomp)
{
    live->time_s = time_s;
    live->force_n = v[RM_SERIES_FORCE_N];
    live->area_cm2 = v[RM_SERIES_AREA_CM2];
    live->peak_kpa = v[RM_SERIES_PEAK_KPA];
    live->cop_x_cm = v[RM_SERIES_COP_X_CM];
    live->cop_y_cm = v[RM_SERIES_COP_Y_CM];
    live->roller = present;
    live->roller_x_cm = v[RM_SERIES_ROLLER_X_CM];
    live->roller_y_cm = v[RM_SERIES_ROLLER_Y_CM];
    live->roller_force_n = v[RM_SERIES_ROLLER_FORCE_N];
    live->roller_area_cm2 = v[RM_SERIES_ROLLER_AREA_CM2];
    live->roller_peak_kpa = v[RM_SERIES_ROLLER_PEAK_KPA];
    live->roller_mean_kpa = present && v[RM_SERIES_ROLLER_AREA_CM2] > 0
                                ? 10.0f * v[RM_SERIES_ROLLER_FORCE_N] / v[RM_SERIES_ROLLER_AREA_CM2]
                                : NAN;
    live->load_share = present && v[RM_SERIES_FORCE_N] > 0
                           ? v[RM_SERIES_ROLLER_FORCE_N] / v[RM_SERIES_FORCE_N]
                           : 0.0f;
    live->speed_cm_s = live_v;
    live->state = live_state;
    live->contacts = ncomp;
}

/* Resets the labels of this frame's sensels to unloaded for the next frame
 * (cheaper than clearing the whole padded frame). */
static inline void clear_labels(rm_analysis *a, int nl)
{
    const int32_t *loaded = a->loaded;
    const uint16_t *rowof = a->rowof;
    int32_t *lab = a->lab;
    const int PW = a->cols + 2;
    for (int k = 0; k < nl; k++)
        lab[PIDX(loaded[k])] = -1;
}

rm_status rm_analysis_push(rm_analysis *a, double time_s, const uint16_t *raw,
                           rm_live_metrics *live, rm_err *err)
{
    rm_status st = push_check(a, time_s, raw, err);
    if (st != RM_OK)
        return st;
    if (a->nf == 0)
        a->t0 = time_s;
    const uint64_t frame = a->nf + 1; /* 0 in *_last means never */
    if (a->cfg.noise_sigmas > 0 && a->nf % 25 == 0)
        track_noise(a, raw);

    int nl = threshold_sensels(a, raw);
    frame_sums sums = calibrate_loaded(a, raw, nl);
    a->nloaded = nl;
    roller_fit best = {0};
    int ncomp;
    int best_root = find_contacts(a, nl, time_s, frame, &best, &ncomp);
    int present = best_root >= 0;

    float v[RM_SERIES_COUNT];
    frame_values(a, time_s, frame, nl, sums, &best, best_root, v);
    if (!a->cfg.live_only && push_series(a, v))
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory at frame %zu", a->nf);
    if (a->have_last && (time_s - a->last_t) * a->rate_hz > 1.5) {
        /* frames lost on the way (dropped, corrupt): counted for the
         * data-quality totals; the pacing bridges or splits around them */
        double lost = floor((time_s - a->last_t) * a->rate_hz + 0.5) - 1.0;
        a->frames_lost += lost > 1e9 ? 1000000000 : (int32_t)lost;
        a->gaps++;
    }
    a->have_last = 1;
    a->last_t = time_s;
    if (update_maps(a, nl, present, time_s) != RM_OK)
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory at frame %zu", a->nf);

    if (ball_push(a, present, time_s))
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory at frame %zu", a->nf);

    float live_v = NAN;
    int live_state = RM_STATE_UNLOADED;
    if (present)
        live_v = live_speed(a, time_s, v[RM_SERIES_ROLLER_X_CM], &live_state);
    if (live)
        fill_live(live, time_s, v, present, live_v, live_state, ncomp);
    clear_labels(a, nl);
    a->nf++;
    return RM_OK;
}
#undef PIDX

rm_status rm_analysis_finish(rm_analysis *a, const rm_profile *profile, rm_results **out,
                             rm_err *err)
{
    *out = NULL;
    if (!a)
        return rm_err_set(err, RM_ERR_ARG, "analysis finish: no analysis");
    if (a->finished)
        return rm_err_set(err, RM_ERR_STATE, "analysis finish: already finished");
    if (a->cfg.live_only)
        return rm_err_set(err, RM_ERR_STATE,
                          "analysis finish: a live-only analysis keeps no series");
    a->finished = 1;
    if (a->in_seg && close_set(a) != RM_OK)
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory");
    rm_results *r = rm_results_new();
    if (!r)
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory");
    rm_status st = rm_analysis_pacing(a, profile, r, err);
    if (st == RM_OK && (st = ball_finish(a, r, err)) == RM_OK) {
        posture_recognise(a, r);
        rm_score_results(r, profile);
    }
    if (st != RM_OK) {
        rm_results_free(r);
        return st;
    }
    *out = r;
    return RM_OK;
}

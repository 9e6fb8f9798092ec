/* report.c - the drawing model of a report (layout) and the series traces
 * shared by layout and drawing (report_draw.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpt_internal.h"

static const char *const kind_names[RM_PANEL_KIND_COUNT] = {
    "header", "position", "speed", "force", "map", "table", "verdicts", "summary", "peak_map",
    "pass",
};

const char *rm_report_panel_kind_name(rm_report_panel_kind k)
{
    return (unsigned)k < RM_PANEL_KIND_COUNT ? kind_names[k] : NULL;
}

void rm_report_rescore(rm_results *r, const rm_profile *profile) { rm_score_results(r, profile); }

/* ---- traces ---- */

static int poly_push(rpt_poly *p, double t, double v)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        double *nt = realloc(p->t, cap * sizeof *nt);
        if (!nt)
            return -1;
        p->t = nt;
        double *nv = realloc(p->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = cap;
    }
    p->t[p->n] = t;
    p->v[p->n] = v;
    p->n++;
    return 0;
}

void rpt_poly_free(rpt_poly *p)
{
    free(p->t);
    free(p->v);
    memset(p, 0, sizeof *p);
}

size_t rpt_poly_vertices(const rpt_poly *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += !isnan(p->v[i]);
    return n;
}

/* First frame at or after t (series time is ascending). */
static size_t lower_bound(const float *t, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double rpt_trace_value(const rm_results *r, rpt_trace what, size_t i)
{
    switch (what) {
    case RPT_TRACE_POSITION: return r->series[RM_SERIES_ROLLER_X_CM][i];
    case RPT_TRACE_SPEED:
        if (r->state && r->state[i] == RM_STATE_UNLOADED)
            return NAN;
        return fabs(r->series[RM_SERIES_SPEED_CM_S][i]);
    case RPT_TRACE_ROLLER_FORCE: return r->series[RM_SERIES_ROLLER_FORCE_N][i];
    case RPT_TRACE_TOTAL_FORCE: return r->series[RM_SERIES_FORCE_N][i];
    }
    return NAN;
}

/* Min/max decimation: per time bin the lowest and highest value in the
 * order they occur, so a 10-minute series draws as ~2 vertices a bin and
 * still shows every excursion. A bin without a finite value breaks the
 * line (NaN vertex). */
int rpt_trace_series(const rm_results *r, rpt_trace what, double t0, double t1, size_t nbins,
                     rpt_poly *out)
{
    memset(out, 0, sizeof *out);
    if (!r->n_frames || !r->series[RM_SERIES_TIME] || !(t1 > t0) || nbins == 0)
        return 0;
    const float *t = r->series[RM_SERIES_TIME];
    size_t i = lower_bound(t, r->n_frames, t0);
    const double bw = (t1 - t0) / (double)nbins;
    int broken = 1;
    while (i < r->n_frames && t[i] <= t1) {
        size_t bin = (size_t)((t[i] - t0) / bw);
        if (bin >= nbins)
            bin = nbins - 1;
        double bend = t0 + (double)(bin + 1) * bw;
        double vmin = INFINITY, vmax = -INFINITY, tmin = 0, tmax = 0;
        for (; i < r->n_frames && t[i] <= t1 && (t[i] < bend || bin == nbins - 1); i++) {
            double v = rpt_trace_value(r, what, i);
            if (!isfinite(v))
                continue;
            if (v < vmin) {
                vmin = v;
                tmin = t[i];
            }
            if (v > vmax) {
                vmax = v;
                tmax = t[i];
            }
        }
        if (vmin > vmax) { /* nothing finite: a gap */
            if (!broken && poly_push(out, t0 + (double)bin * bw, NAN))
                return -1;
            broken = 1;
            continue;
        }
        int rc = 0;
        if (tmin <= tmax) {
            rc |= poly_push(out, tmin, vmin);
            if (tmax != tmin)
                rc |= poly_push(out, tmax, vmax);
        } else {
            rc |= poly_push(out, tmax, vmax);
            rc |= poly_push(out, tmin, vmin);
        }
        if (rc)
            return -1;
        broken = 0;
    }
    return 0;
}

/* The roller's track on the mat (x, y) during [t0, t1], thinned to at most
 * max_points vertices; gaps break the line. */
int rpt_trace_track(const rm_results *r, double t0, double t1, size_t max_points, rpt_poly *out)
{
    memset(out, 0, sizeof *out);
    if (!r->n_frames || !r->series[RM_SERIES_TIME] || max_points == 0)
        return 0;
    const float *t = r->series[RM_SERIES_TIME];
    const float *x = r->series[RM_SERIES_ROLLER_X_CM];
    const float *y = r->series[RM_SERIES_ROLLER_Y_CM];
    size_t a = lower_bound(t, r->n_frames, t0);
    size_t b = lower_bound(t, r->n_frames, t1);
    if (b <= a)
        return 0;
    size_t step = (b - a + max_points - 1) / max_points;
    if (step == 0)
        step = 1;
    int broken = 1;
    for (size_t i = a; i < b; i += step) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            if (!broken && poly_push(out, NAN, NAN))
                return -1;
            broken = 1;
            continue;
        }
        if (poly_push(out, x[i], y[i]))
            return -1;
        broken = 0;
    }
    return 0;
}

/* ---- numbers for axes ---- */

double rpt_nice_step(double range, int target_ticks)
{
    if (!(range > 0) || !isfinite(range))
        return 1;
    double raw = range / (target_ticks > 0 ? target_ticks : 5);
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nice * mag;
}

void rm_report_clock(char *o, size_t cap, double s, int tenths)
{
    if (!cap)
        return;
    if (!isfinite(s)) {
        snprintf(o, cap, "-");
        return;
    }
    const char *sign = s < 0 ? "-" : "";
    /* round once, in the unit shown, so 59.96 s reads 1:00.0, not 0:60.0 */
    long long u = llround(fabs(s) * (tenths ? 10.0 : 1.0));
    long long whole = tenths ? u / 10 : u;
    int tenth = tenths ? (int)(u % 10) : 0;
    long long h = whole / 3600, m = whole / 60 % 60, sec = whole % 60;
    char frac[8] = "";
    if (tenths)
        snprintf(frac, sizeof frac, ".%d", tenth);
    if (h > 0)
        snprintf(o, cap, "%s%lld:%02lld:%02lld%s", sign, h, m, sec, frac);
    else
        snprintf(o, cap, "%s%lld:%02lld%s", sign, m, sec, frac);
}

double rpt_clock_step(double range, int target_ticks)
{
    /* steps a clock reads well: whole seconds, then 15 s, 30 s, minutes */
    static const double steps[] = {0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600,
                                   7200};
    const size_t n = sizeof steps / sizeof steps[0];
    if (!(range > 0) || !isfinite(range))
        return 1;
    double raw = range / (target_ticks > 0 ? target_ticks : 5);
    for (size_t i = 0; i < n; i++)
        if (steps[i] >= raw)
            return steps[i];
    return ceil(raw / 3600) * 3600;
}

static double nice_ceil(double v)
{
    if (!(v > 0) || !isfinite(v))
        return 1;
    double step = rpt_nice_step(v, 5);
    return ceil(v / step - 1e-9) * step;
}

/* ---- layout ---- */

static void frame_panel(rm_report_panel *p, rm_report_panel_kind kind, int seg, double x, double y,
                        double w, double h)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->segment = seg;
    p->x = x;
    p->y = y;
    p->w = w;
    p->h = h;
    /* room for the title above, tick labels left and below, right axis */
    p->px = x + 52;
    p->py = y + 18;
    p->pw = w - 52 - 48;
    p->ph = h - 18 - 30;
    p->y2_min = p->y2_max = NAN;
    p->c_min = p->c_max = NAN;
    p->band_lo = p->band_hi = NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The top of a series' axis: the 99.5th percentile of what is drawn, so one
 * spike (a step onto the mat, an import's first frame) does not flatten
 * the rest; the spike is clipped at the frame. */
static double series_max(const rpt_poly *p)
{
    size_t n = 0;
    double mx = 0;
    double *v = malloc((p->n ? p->n : 1) * sizeof *v);
    for (size_t i = 0; i < p->n; i++)
        if (isfinite(p->v[i])) {
            if (v)
                v[n++] = p->v[i];
            if (p->v[i] > mx)
                mx = p->v[i];
        }
    if (!v || n < 20) {
        free(v);
        return mx;
    }
    qsort(v, n, sizeof *v, cmp_double);
    double q = v[(size_t)(0.995 * (double)(n - 1))];
    free(v);
    return fmin(q * 1.15, mx);
}

static size_t marks_in(const rm_results *r, double t0, double t1)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_strokes; i++)
        n += r->strokes[i].end_s >= t0 && r->strokes[i].end_s <= t1;
    for (size_t i = 0; i < r->n_holds; i++)
        n += r->holds[i].end_s >= t0 && r->holds[i].start_s <= t1;
    return n;
}

/* The pass-duration panel: one point per pass (its end time, its
 * duration) against the profile's pass band. */
static void layout_pass(const rm_report *rep, rm_report_panel *p, double t0, double t1)
{
    const rm_results *r = rep->results;
    snprintf(p->title, sizeof p->title, "%s",
             p->segment < 0 ? "Pass duration, each pass" : "Pass duration");
    snprintf(p->y_label, sizeof p->y_label, "pass (s)");
    double top = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->n_strokes; i++) {
        const rm_stroke *s = &r->strokes[i];
        if (s->end_s < t0 || s->end_s > t1 || !(s->end_s > s->start_s))
            continue;
        n++;
        top = fmax(top, s->end_s - s->start_s);
    }
    if (rep->has_profile && rep->profile.pass_s.set) {
        p->band_lo = rep->profile.pass_s.lo;
        p->band_hi = rep->profile.pass_s.hi;
        top = fmax(top, p->band_hi * 1.5);
    }
    p->y_min = 0;
    p->y_max = nice_ceil(top * 1.05);
    p->n_points = p->n_marks = n;
}

/* Time-series panels over [t0, t1]. Returns 0 or -1 (memory). */
static int layout_series(const rm_report *rep, rm_report_panel *p, rm_report_panel_kind kind,
                         int seg, double t0, double t1, double x, double y, double w, double h)
{
    const rm_results *r = rep->results;
    frame_panel(p, kind, seg, x, y, w, h);
    p->x_min = t0;
    p->x_max = t1;
    snprintf(p->x_label, sizeof p->x_label, "time (m:ss)");
    p->x_clock = 1;
    p->n_gaps = rpt_gaps(r, t0, t1, NULL, NULL, 0);
    if (kind == RM_PANEL_PASS) {
        layout_pass(rep, p, t0, t1);
        return 0;
    }
    rpt_poly poly;
    rpt_trace what = kind == RM_PANEL_POSITION ? RPT_TRACE_POSITION
                     : kind == RM_PANEL_SPEED  ? RPT_TRACE_SPEED
                                               : RPT_TRACE_ROLLER_FORCE;
    if (kind == RM_PANEL_FORCE && !rpt_has_roller(r, seg))
        what = RPT_TRACE_TOTAL_FORCE; /* no roller: the mat's force is the line */
    if (rpt_trace_series(r, what, t0, t1, rpt_bins(p), &poly)) {
        rpt_poly_free(&poly);
        return -1;
    }
    p->n_points = rpt_poly_vertices(&poly);
    double vmax = series_max(&poly);
    rpt_poly_free(&poly);
    switch (kind) {
    case RM_PANEL_POSITION:
        snprintf(p->title, sizeof p->title, "%s",
                 seg < 0 ? "Roller position along the mat" : "Roller position");
        snprintf(p->y_label, sizeof p->y_label, "roller x (cm)");
        p->y_min = 0;
        p->y_max = r->rows * r->row_pitch_cm;
        p->n_marks = marks_in(r, t0, t1);
        break;
    case RM_PANEL_SPEED: {
        snprintf(p->title, sizeof p->title, "%s",
                 seg < 0 ? "Rolling speed against the target" : "Rolling speed");
        snprintf(p->y_label, sizeof p->y_label, "speed (cm/s)");
        double top = vmax;
        if (rep->has_profile && rep->profile.speed_cm_s.set) {
            p->band_lo = rep->profile.speed_cm_s.lo;
            p->band_hi = rep->profile.speed_cm_s.hi;
            if (top < p->band_hi * 1.5)
                top = p->band_hi * 1.5;
        }
        p->y_min = 0;
        p->y_max = nice_ceil(top);
        break;
    }
    default: {
        if (!rpt_has_roller(r, seg))
            snprintf(p->title, sizeof p->title, "%s",
                     seg >= 0 ? "Force on the mat (ball and supports)" : "Force on the mat");
        else
            snprintf(p->title, sizeof p->title, "%s",
                     seg < 0 ? "Force on the roller" : "Roller force");
        snprintf(p->y_label, sizeof p->y_label, "force (N)");
        rpt_poly tot;
        if (rpt_trace_series(r, RPT_TRACE_TOTAL_FORCE, t0, t1, rpt_bins(p), &tot)) {
            rpt_poly_free(&tot);
            return -1;
        }
        double tmax = series_max(&tot);
        p->n_points += rpt_poly_vertices(&tot);
        rpt_poly_free(&tot);
        p->y_min = 0;
        p->y_max = nice_ceil(fmax(vmax, tmax) * 1.05);
        if (r->body_mass_kg > 0) {
            double bw = r->body_mass_kg * RPT_G;
            p->y2_min = 0;
            p->y2_max = 100.0 * p->y_max / bw;
            snprintf(p->y2_label, sizeof p->y2_label, "%% of body weight");
        }
        break;
    }
    }
    return 0;
}

/* Room under a pair of maps: the key and the caption lines. */
#define MAP_FOOT 40.0

/* The mean-pressure map and the peak-pressure map of a segment (seg < 0:
 * the session) side by side in [x, x+w] x [y, y+h], on one scale of cm
 * (the mat keeps its aspect); the colour bar takes the right-hand strip.
 * The colour scale is set for the whole report later (one_colour_scale). */
static double layout_maps(rm_report *rep, rm_report_page *pg, int seg, double x, double y,
                          double w, double h)
{
    const rm_results *r = rep->results;
    const double xr = r->rows * r->row_pitch_cm, yr = r->cols * r->col_pitch_cm;
    /* the peak map shares the mean map's y axis: tick labels only */
    const double left = 46, left2 = 26, gap = 8, bar = 54, top = 18;
    /* a ball set lists its spots under the caption */
    size_t spots = 0;
    for (size_t i = 0; seg >= 0 && i < r->n_spots; i++)
        spots += r->spots[i].segment == seg;
    const double below = 30 + MAP_FOOT + 10.5 * (double)spots;
    double s = fmin((w - left - left2 - gap - bar) / (2 * xr), (h - top - below) / yr);
    double fx = x;
    for (int k = 0; k < 2; k++) {
        rm_report_panel *p = &pg->panels[pg->n_panels++];
        double fw = (k ? left2 : left) + xr * s + (k ? bar : gap);
        frame_panel(p, k ? RM_PANEL_PEAK_MAP : RM_PANEL_MAP, seg, fx, y, k ? x + w - fx : fw,
                    k ? top + yr * s + 30 : top + yr * s + below);
        fx += fw;
        p->x_min = p->y_min = 0;
        p->x_max = xr;
        p->y_max = yr;
        p->pw = xr * s;
        p->ph = yr * s;
        p->px = p->x + (k ? left2 : left);
        p->py = y + top;
        snprintf(p->x_label, sizeof p->x_label, "x along the mat (cm)");
        snprintf(p->y_label, sizeof p->y_label, "%s", k ? "" : "y across (cm)");
        if (k == 0 && seg >= 0) /* named: two ball sets can share a page */
            rpt_fitf(p->title, sizeof p->title, "Set %d, %s: mean pressure", seg + 1,
                     r->segments[seg].label[0] ? r->segments[seg].label : "(no label)");
        else
            snprintf(p->title, sizeof p->title, "%s", k ? "Peak pressure" : "Mean pressure");
        const float *m = rpt_map_of(r, seg, k);
        p->n_points = m ? (size_t)r->rows * r->cols : 0;
        if (k == 0) {
            double t0 = seg >= 0 ? r->segments[seg].start_s : 0;
            double t1 = seg >= 0 ? r->segments[seg].end_s : INFINITY;
            size_t nh = 0;
            for (size_t i = 0; i < r->n_holds; i++)
                nh += r->holds[i].end_s >= t0 && r->holds[i].start_s <= t1;
            p->n_marks = nh;
            rpt_support sup[8];
            p->n_supports = seg >= 0 ? rpt_supports(&r->segments[seg], sup, 8) : 0;
        }
    }
    return y + top + yr * s + below;
}

/* Every map of the report on one colour scale, 0 to the highest pressure
 * any of them shows (rounded up to a nice number), so colours compare
 * across sets and between the mean and the peak maps. */
static void one_colour_scale(rm_report *rep)
{
    const rm_results *r = rep->results;
    const size_t n = (size_t)r->rows * r->cols;
    double mx = 0;
    for (size_t i = 0; i < rep->n_pages; i++)
        for (size_t j = 0; j < rep->pages[i].n_panels; j++) {
            const rm_report_panel *p = &rep->pages[i].panels[j];
            if (p->kind != RM_PANEL_MAP && p->kind != RM_PANEL_PEAK_MAP)
                continue;
            const float *m = rpt_map_of(r, p->segment, p->kind == RM_PANEL_PEAK_MAP);
            for (size_t c = 0; m && c < n; c++)
                if (isfinite(m[c]) && m[c] > mx)
                    mx = m[c];
        }
    double top = nice_ceil(mx);
    for (size_t i = 0; i < rep->n_pages; i++)
        for (size_t j = 0; j < rep->pages[i].n_panels; j++) {
            rm_report_panel *p = &rep->pages[i].panels[j];
            if (p->kind == RM_PANEL_MAP || p->kind == RM_PANEL_PEAK_MAP) {
                p->c_min = 0;
                p->c_max = top;
            }
        }
}

const float *rm_report_map(const rm_results *r, int seg)
{
    if (seg < 0)
        return r->map_mean_kpa;
    if (!r->seg_mean_kpa || (size_t)seg >= r->n_segments)
        return NULL;
    return r->seg_mean_kpa + (size_t)seg * r->rows * r->cols;
}

const float *rpt_map_of(const rm_results *r, int seg, int peak)
{
    if (!peak)
        return rm_report_map(r, seg);
    if (seg < 0)
        return r->map_peak_kpa;
    if (!r->seg_peak_kpa || (size_t)seg >= r->n_segments)
        return NULL;
    return r->seg_peak_kpa + (size_t)seg * r->rows * r->cols;
}

int rpt_has_roller(const rm_results *r, int seg)
{
    if (!r->totals.roller_found)
        return 0;
    if (seg >= 0 && (size_t)seg < r->n_segments)
        return strcmp(r->segments[seg].tool, "ball") != 0;
    /* the session: some set worked with the roller (or no sets at all) */
    for (size_t k = 0; k < r->n_segments; k++)
        if (strcmp(r->segments[k].tool, "ball"))
            return 1;
    return r->n_segments == 0;
}

size_t rpt_gaps(const rm_results *r, double t0, double t1, double *start, double *end, size_t cap)
{
    if (!r->n_frames || !r->series[RM_SERIES_TIME] || !(r->rate_hz > 0))
        return 0;
    const float *t = r->series[RM_SERIES_TIME];
    /* the analysis' rule (docs/metrics.md): a step over 1.5 frame periods */
    const double step = 1.5 / r->rate_hz;
    size_t n = 0;
    for (size_t i = lower_bound(t, r->n_frames, t0); i + 1 < r->n_frames && t[i] <= t1; i++) {
        if (!((double)t[i + 1] - t[i] > step))
            continue;
        if (n < cap && start && end) {
            start[n] = t[i];
            end[n] = t[i + 1];
        }
        n++;
    }
    return n;
}

size_t rpt_supports(const rm_segment_result *s, rpt_support *out, size_t cap)
{
    /* the analysis' evidence text (analyze/src/posture.c):
     * "hand behind at (8.0, 49.5) cm, 119 N; foot ahead at ..." */
    size_t n = 0;
    const char *p = s->supports;
    while (p && *p && n < cap) {
        rpt_support v;
        char kind[16], side[16];
        memset(&v, 0, sizeof v);
        if (sscanf(p, "%15s %15s at (%lf, %lf) cm, %lf N", kind, side, &v.x_cm, &v.y_cm,
                   &v.force_n) == 5 &&
            (!strcmp(kind, "hand") || !strcmp(kind, "forearm") || !strcmp(kind, "foot")) &&
            isfinite(v.x_cm) && isfinite(v.y_cm)) {
            snprintf(v.kind, sizeof v.kind, "%s", kind);
            out[n++] = v;
        }
        p = strchr(p, ';');
        if (p)
            p++;
        while (p && *p == ' ')
            p++;
    }
    return n;
}

size_t rpt_bins(const rm_report_panel *p)
{
    /* two bins a point of plot width: finer than a 300 dpi print needs */
    size_t n = (size_t)(p->pw * 2);
    return n ? n : 1;
}

/* The pace plot: speed against its band, or the pass duration for a
 * profile that judges passes but sets no speed band (behm2020). */
static rm_report_panel_kind pace_kind(const rm_report *rep)
{
    if (rep->has_profile && !rep->profile.speed_cm_s.set && rep->profile.pass_s.set)
        return RM_PANEL_PASS;
    return RM_PANEL_SPEED;
}

#define BALL_FORCE_H 120.0 /* a ball set's force plot when two share a page */
#define SET_L        36.0
#define SET_W        (RM_REPORT_PAGE_W - 2 * 36.0)

/* A ball set's maps and force plot from y down; returns the bottom. */
static double layout_ball_set(rm_report *rep, rm_report_page *pg, size_t k, double y, int *rc)
{
    const rm_segment_result *s = &rep->results->segments[k];
    double y0 = layout_maps(rep, pg, (int)k, SET_L, y, SET_W, 320) + 4;
    double pad = fmax(2.0, 0.04 * (s->end_s - s->start_s));
    *rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_FORCE, (int)k,
                         fmax(0, s->start_s - pad), s->end_s + pad, SET_L, y0, SET_W, BALL_FORCE_H);
    return y0 + BALL_FORCE_H;
}

/* Whether ball sets k and k+1 fit one page (their spot lists make the
 * maps' blocks taller): laid out on a scratch page to measure. */
static int ball_pair_fits(rm_report *rep, size_t k)
{
    rm_report_page scratch;
    memset(&scratch, 0, sizeof scratch);
    double y = layout_maps(rep, &scratch, (int)k, SET_L, 30, SET_W, 320) + 4 + BALL_FORCE_H + 14;
    scratch.n_panels = 0;
    y = layout_maps(rep, &scratch, (int)k + 1, SET_L, y, SET_W, 320) + 4 + BALL_FORCE_H;
    return y <= RM_REPORT_PAGE_H - 24;
}

/* Heights on the summary pages, in points (report_draw.c draws to them). */
#define TABLE_HEAD    50.0
#define TABLE_ROW     15.0
#define VERDICT_HEAD  40.0
#define VERDICT_SET   (16.0 + 12.5 * RPT_TARGETS)
#define VERDICT_TOTAL 40.0

static void plain_panel(rm_report_panel *p, rm_report_panel_kind kind, double x, double y, double w,
                        double h)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->segment = -1;
    p->x = p->px = x;
    p->y = p->py = y;
    p->w = p->pw = w;
    p->h = p->ph = h;
    p->y2_min = p->y2_max = p->c_min = p->c_max = p->band_lo = p->band_hi = NAN;
}

void rpt_fitf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= cap && cap >= 4)
        memcpy(dst + cap - 4, "...", 4);
}

static rm_report_page *new_page(rm_report *rep, const char *fmt, const char *arg)
{
    rm_report_page *pg = &rep->pages[rep->n_pages++];
    memset(pg, 0, sizeof *pg);
    char text[512];
    /* fmt is one of this file's literals with one %s */
    snprintf(text, sizeof text, fmt, arg);
    rpt_fitf(pg->title, sizeof pg->title, "%s", text);
    return pg;
}

/* The header (who, when, data quality, session comment) and the summary
 * panel below it, in the frame [x, x+w] x [y, bottom]. */
static void summary_panels(rm_report *rep, rm_report_page *pg, double x, double y, double w,
                           double bottom)
{
    const double head = w < 400 ? 124 : 100;
    rm_report_panel *p = &pg->panels[pg->n_panels++];
    plain_panel(p, RM_PANEL_HEADER, x, y, w, head);
    rpt_fitf(p->title, sizeof p->title, "%s", rep->title);
    p = &pg->panels[pg->n_panels++];
    plain_panel(p, RM_PANEL_SUMMARY, x, y + head + 6, w, bottom - (y + head + 6));
    p->first = 0;
    p->count = rep->results->n_segments;
    p->n_marks = p->count + rep->n_actions;
    snprintf(p->title, sizeof p->title, "%s", "Each set against the profile");
}

rm_status rm_report_build(const rm_results *r, const rm_profile *profile, rm_report **out,
                          rm_err *err)
{
    *out = NULL;
    if (!r)
        return rm_err_set(err, RM_ERR_ARG, "report: no results");
    if (!r->rows || !r->cols || !(r->row_pitch_cm > 0) || !(r->col_pitch_cm > 0))
        return rm_err_set(err, RM_ERR_VALUE, "%s: results have no mat geometry (%ux%u sensels)",
                          r->source[0] ? r->source : "report", r->rows, r->cols);
    if (r->n_frames && !r->series[RM_SERIES_TIME])
        return rm_err_set(err, RM_ERR_VALUE, "%s: results have no time series",
                          r->source[0] ? r->source : "report");
    rm_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return rm_err_set(err, RM_ERR_NOMEM, "report: out of memory");
    rep->page_w = RM_REPORT_PAGE_W;
    rep->page_h = RM_REPORT_PAGE_H;
    rep->results = r;
    if (profile) {
        rep->profile = *profile;
        rep->has_profile = 1;
    }
    size_t nseg = r->n_segments;
    /* summary, overview, table pages (a page holds ~10 sets' verdicts), a page per set */
    rep->pages = calloc(7 + nseg + nseg / 8, sizeof *rep->pages);
    if (!rep->pages || rpt_summary(rep)) {
        rm_report_free(rep);
        return rm_err_set(err, RM_ERR_NOMEM, "report: out of memory");
    }
    const double L = 36, W = RM_REPORT_PAGE_W - 2 * 36;
    double tend = r->totals.duration_s;
    if (r->n_frames && r->series[RM_SERIES_TIME][r->n_frames - 1] > tend)
        tend = r->series[RM_SERIES_TIME][r->n_frames - 1];
    if (!(tend > 0))
        tend = 1;
    int rc = 0;

    /* 1: the summary: who and when, lights, verdict, actions */
    rm_report_page *pg = new_page(rep, "%s", "Summary");
    rm_report_panel *p = NULL;
    summary_panels(rep, pg, L, 30, W, RM_REPORT_PAGE_H - 30);

    /* 2: overview: the roller's panels only when a roller was found */
    pg = new_page(rep, "%s", "Session overview");
    const int roller = rpt_has_roller(r, -1);
    const rm_report_panel_kind pace = pace_kind(rep);
    const double top = 30, ph = (RM_REPORT_PAGE_H - 30 - top) / 3;
    if (roller) {
        rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_POSITION, -1, 0, tend, L,
                            top, W, ph);
        rc |= layout_series(rep, &pg->panels[pg->n_panels++], pace, -1, 0, tend, L, top + ph, W,
                            ph);
    }
    rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_FORCE, -1, 0, tend, L,
                        roller ? top + 2 * ph : top, W, ph);

    /* 2: summary table and verdicts, continued on more pages as needed */
    {
        const double bottom_y = RM_REPORT_PAGE_H - 30;
        size_t t_next = 0, v_next = 0;
        int total_done = 0, first_page = 1;
        /* without a roller the overview holds one plot: the table starts
         * under it rather than on a page of its own */
        double y_first = roller ? -1 : top + ph + 12;
        while (t_next < nseg || v_next < nseg || !total_done) {
            double y = 30;
            if (first_page && y_first > 0)
                y = y_first;
            else
                pg = new_page(rep, "%s",
                              first_page ? "Summary per set" : "Summary per set (continued)");
            if (first_page || t_next < nseg) {
                size_t fit = (size_t)((bottom_y - y - TABLE_HEAD) / TABLE_ROW);
                size_t n = nseg - t_next < fit ? nseg - t_next : fit;
                p = &pg->panels[pg->n_panels++];
                plain_panel(p, RM_PANEL_TABLE, L, y, W, TABLE_HEAD + TABLE_ROW * (double)n);
                p->first = t_next;
                p->count = p->n_marks = n;
                rpt_fitf(p->title, sizeof p->title, "Numbers per set (profile %s)%s", r->profile,
                         first_page ? "" : ", continued");
                t_next += n;
                y += p->h + 12;
            }
            first_page = 0;
            if (t_next < nseg)
                continue; /* the table fills this page */
            double room = bottom_y - y - VERDICT_HEAD;
            size_t fit = room > 0 ? (size_t)(room / VERDICT_SET) : 0;
            size_t n = nseg - v_next < fit ? nseg - v_next : fit;
            int total = v_next + n == nseg && room - (double)n * VERDICT_SET >= VERDICT_TOTAL;
            if (n == 0 && !total)
                continue; /* no room left here: the verdicts start on the next page */
            p = &pg->panels[pg->n_panels++];
            plain_panel(p, RM_PANEL_VERDICTS, L, y, W, bottom_y - y);
            p->first = v_next;
            p->count = n;
            p->n_marks = n * (1 + RPT_TARGETS) + (size_t)total;
            snprintf(p->title, sizeof p->title, "Each target in a coach's words%s",
                     v_next ? ", continued" : "");
            v_next += n;
            total_done = total;
        }
    }

    /* 3+: a page per set: its two maps, then its time plots. A ball set
     * has no roller to plot, its force on the mat only: that fills half a
     * page, so two ball sets in a row share one. */
    for (size_t k = 0; k < nseg; k++) {
        const rm_segment_result *s = &r->segments[k];
        char t[160];
        int pair = !rpt_has_roller(r, (int)k) && k + 1 < nseg && !rpt_has_roller(r, (int)k + 1) &&
                   ball_pair_fits(rep, k);
        if (pair)
            rpt_fitf(t, sizeof t, "Sets %zu and %zu: %s, %s", k + 1, k + 2,
                     s->label[0] ? s->label : "(no label)",
                     r->segments[k + 1].label[0] ? r->segments[k + 1].label : "(no label)");
        else
            snprintf(t, sizeof t, "Set %zu: %s", k + 1, s->label[0] ? s->label : "(no label)");
        pg = new_page(rep, "%s", t);
        if (pair) {
            double y = layout_ball_set(rep, pg, k, 30, &rc);
            layout_ball_set(rep, pg, k + 1, y + 14, &rc);
            k++;
            continue;
        }
        double y0 = layout_maps(rep, pg, (int)k, L, 30, W, 320) + 4;
        double pad = fmax(2.0, 0.04 * (s->end_s - s->start_s));
        double t0 = fmax(0, s->start_s - pad), t1 = s->end_s + pad;
        double sh = (RM_REPORT_PAGE_H - 24 - y0) / 3;
        if (rpt_has_roller(r, (int)k)) {
            rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_POSITION, (int)k, t0, t1,
                                L, y0, W, sh);
            rc |= layout_series(rep, &pg->panels[pg->n_panels++], pace, (int)k, t0, t1, L, y0 + sh,
                                W, sh);
            y0 += 2 * sh;
        }
        rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_FORCE, (int)k, t0, t1, L, y0,
                            W, sh);
    }
    if (nseg == 0) {
        pg = new_page(rep, "%s", "Pressure over the session");
        layout_maps(rep, pg, -1, L, 30, W, 360);
    }
    one_colour_scale(rep);
    if (rc) {
        rm_report_free(rep);
        return rm_err_set(err, RM_ERR_NOMEM, "report: out of memory");
    }
    *out = rep;
    return RM_OK;
}

rm_status rm_report_build_summary(const rm_results *r, const rm_profile *profile, rm_report **out,
                                  rm_err *err)
{
    *out = NULL;
    if (!r)
        return rm_err_set(err, RM_ERR_ARG, "report: no results");
    rm_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return rm_err_set(err, RM_ERR_NOMEM, "report: out of memory");
    rep->page_w = RM_REPORT_PHONE_W;
    rep->page_h = RM_REPORT_PHONE_H;
    rep->results = r;
    if (profile) {
        rep->profile = *profile;
        rep->has_profile = 1;
    }
    rep->pages = calloc(1, sizeof *rep->pages);
    if (!rep->pages || rpt_summary(rep)) {
        rm_report_free(rep);
        return rm_err_set(err, RM_ERR_NOMEM, "report: out of memory");
    }
    rm_report_page *pg = new_page(rep, "%s", "Summary");
    summary_panels(rep, pg, 12, 24, RM_REPORT_PHONE_W - 24, RM_REPORT_PHONE_H - 20);
    *out = rep;
    return RM_OK;
}

void rm_report_free(rm_report *rep)
{
    if (!rep)
        return;
    free(rep->pages);
    free(rep->lights);
    free(rep);
}

size_t rm_report_count_panels(const rm_report *rep, rm_report_panel_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n_pages; i++)
        for (size_t j = 0; j < rep->pages[i].n_panels; j++)
            n += rep->pages[i].panels[j].kind == kind;
    return n;
}

const char *rm_report_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

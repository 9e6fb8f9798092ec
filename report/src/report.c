/* report.c - the drawing model of a report (layout) and the series traces
 * shared by layout and drawing (report_draw.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpt_internal.h"

static const char *const kind_names[RM_PANEL_KIND_COUNT] = {
    "header", "position", "speed", "force", "map", "table", "verdicts", "summary",
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

/* Time-series panels over [t0, t1]. Returns 0 or -1 (memory). */
static int layout_series(const rm_report *rep, rm_report_panel *p, rm_report_panel_kind kind,
                         int seg, double t0, double t1, double x, double y, double w, double h)
{
    const rm_results *r = rep->results;
    frame_panel(p, kind, seg, x, y, w, h);
    p->x_min = t0;
    p->x_max = t1;
    snprintf(p->x_label, sizeof p->x_label, "time (s)");
    rpt_poly poly;
    rpt_trace what = kind == RM_PANEL_POSITION ? RPT_TRACE_POSITION
                     : kind == RM_PANEL_SPEED  ? RPT_TRACE_SPEED
                                               : RPT_TRACE_ROLLER_FORCE;
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
        snprintf(p->title, sizeof p->title, "%s", seg < 0 ? "Force on the roller" : "Roller force");
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

static void layout_map(const rm_report *rep, rm_report_panel *p, int seg, double x, double y,
                       double w, double h)
{
    const rm_results *r = rep->results;
    frame_panel(p, RM_PANEL_MAP, seg, x, y, w, h);
    const double xr = r->rows * r->row_pitch_cm, yr = r->cols * r->col_pitch_cm;
    p->x_min = 0;
    p->x_max = xr;
    p->y_min = 0;
    p->y_max = yr;
    snprintf(p->x_label, sizeof p->x_label, "x along the mat (cm)");
    snprintf(p->y_label, sizeof p->y_label, "y across (cm)");
    if (seg >= 0)
        snprintf(p->title, sizeof p->title,
                 "Mean pressure during the set, roller track and supports");
    else
        snprintf(p->title, sizeof p->title, "Mean pressure over the session");
    /* keep the mat's aspect: 1 cm is the same length on both axes; the
     * colour bar takes the right-hand strip */
    double avail_w = w - 52 - 90, avail_h = h - 18 - 30 - 14;
    double s = fmin(avail_w / xr, avail_h / yr);
    p->pw = xr * s;
    p->ph = yr * s;
    p->px = x + 52 + (avail_w - p->pw) / 2;
    p->py = y + 18;
    const float *m = rm_report_map(r, seg);
    size_t n = (size_t)r->rows * r->cols;
    double mx = 0;
    for (size_t i = 0; m && i < n; i++)
        if (isfinite(m[i]) && m[i] > mx)
            mx = m[i];
    p->c_min = 0;
    p->c_max = nice_ceil(mx);
    p->n_points = m ? n : 0;
    double t0 = seg >= 0 ? r->segments[seg].start_s : 0;
    double t1 = seg >= 0 ? r->segments[seg].end_s : INFINITY;
    size_t nh = 0;
    for (size_t i = 0; i < r->n_holds; i++)
        nh += r->holds[i].end_s >= t0 && r->holds[i].start_s <= t1;
    p->n_marks = nh;
}

const float *rm_report_map(const rm_results *r, int seg)
{
    if (seg < 0)
        return r->map_mean_kpa;
    if (!r->seg_mean_kpa || (size_t)seg >= r->n_segments)
        return NULL;
    return r->seg_mean_kpa + (size_t)seg * r->rows * r->cols;
}

size_t rpt_bins(const rm_report_panel *p)
{
    /* two bins a point of plot width: finer than a 300 dpi print needs */
    size_t n = (size_t)(p->pw * 2);
    return n ? n : 1;
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

    /* 2: overview */
    pg = new_page(rep, "%s", "Session overview");
    const double top = 30, ph = (RM_REPORT_PAGE_H - 30 - top) / 3;
    rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_POSITION, -1, 0, tend, L, top, W,
                        ph);
    rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_SPEED, -1, 0, tend, L, top + ph,
                        W, ph);
    rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_FORCE, -1, 0, tend, L,
                        top + 2 * ph, W, ph);

    /* 2: summary table and verdicts, continued on more pages as needed */
    {
        const double bottom_y = RM_REPORT_PAGE_H - 30;
        size_t t_next = 0, v_next = 0;
        int total_done = 0, first_page = 1;
        while (t_next < nseg || v_next < nseg || !total_done) {
            pg =
                new_page(rep, "%s", first_page ? "Summary per set" : "Summary per set (continued)");
            double y = 30;
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

    /* 3+: a page per set */
    for (size_t k = 0; k < nseg; k++) {
        const rm_segment_result *s = &r->segments[k];
        char t[160];
        snprintf(t, sizeof t, "Set %zu: %s", k + 1, s->label[0] ? s->label : "(no label)");
        pg = new_page(rep, "%s", t);
        layout_map(rep, &pg->panels[pg->n_panels++], (int)k, L, 30, W, 360);
        double pad = fmax(2.0, 0.04 * (s->end_s - s->start_s));
        double t0 = fmax(0, s->start_s - pad), t1 = s->end_s + pad;
        double y0 = 396, sh = (RM_REPORT_PAGE_H - 24 - y0) / 3;
        rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_POSITION, (int)k, t0, t1, L,
                            y0, W, sh);
        rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_SPEED, (int)k, t0, t1, L,
                            y0 + sh, W, sh);
        rc |= layout_series(rep, &pg->panels[pg->n_panels++], RM_PANEL_FORCE, (int)k, t0, t1, L,
                            y0 + 2 * sh, W, sh);
    }
    if (nseg == 0) {
        pg = new_page(rep, "%s", "Pressure over the session");
        layout_map(rep, &pg->panels[pg->n_panels++], -1, L, 30, W, 420);
    }
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

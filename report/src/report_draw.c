/* report_draw.c - draws the report model with cairo (PDF, PNG, SVG) and
 * writes it safely (temporary file in the same folder, fsync, rename). */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpt_internal.h"
#include "rm_safefile.h"

#define FONT "DejaVu Sans"

/* viridis at nine stops: perceptually even, readable in grey print */
static const double viridis[9][3] = {
    {0.267, 0.005, 0.329}, {0.278, 0.175, 0.483}, {0.231, 0.322, 0.546},
    {0.173, 0.449, 0.558}, {0.128, 0.567, 0.551}, {0.154, 0.680, 0.504},
    {0.361, 0.786, 0.388}, {0.667, 0.862, 0.196}, {0.993, 0.906, 0.144},
};

static void colormap(double f, double rgb[3])
{
    if (!(f > 0))
        f = 0;
    if (f > 1)
        f = 1;
    double s = f * 8;
    int i = (int)s;
    if (i >= 8)
        i = 7;
    double u = s - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = viridis[i][c] * (1 - u) + viridis[i + 1][c] * u;
}

typedef struct colour {
    double r, g, b;
} colour;

static const colour C_TEXT = {0.1, 0.1, 0.1}, C_GRID = {0.85, 0.85, 0.85},
                    C_LINE = {0.12, 0.33, 0.62}, C_STROKE = {0.85, 0.33, 0.10},
                    C_HOLD = {0.93, 0.60, 0.10}, C_BAND = {0.55, 0.80, 0.55},
                    C_TOTAL = {0.65, 0.65, 0.65}, C_PASS = {0.13, 0.55, 0.13},
                    C_MISS = {0.80, 0.12, 0.12}, C_NA = {0.55, 0.55, 0.55};

static void set_colour(cairo_t *cr, colour c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* align: 0 left, 1 centre, 2 right of x; y is the baseline. */
static void text(cairo_t *cr, double x, double y, int align, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    double dx = align == 1 ? -e.x_advance / 2 : align == 2 ? -e.x_advance : 0;
    cairo_move_to(cr, x + dx, y);
    cairo_show_text(cr, s);
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Word-wraps s into width starting at baseline y; returns the next baseline. */
static double wrap(cairo_t *cr, double x, double y, double width, double lead, const char *s)
{
    char line[1024] = "";
    const char *p = s;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n')
            e++;
        char cand[sizeof line + 402]; /* line, a space, a word of at most 400 */
        size_t wl = (size_t)(e - p);
        if (wl > 400)
            wl = 400;
        snprintf(cand, sizeof cand, "%s%s%.*s", line, line[0] ? " " : "", (int)wl, p);
        size_t cl = strlen(cand);
        if (line[0] && (cl >= sizeof line || text_width(cr, cand) > width)) {
            text(cr, x, y, 0, line);
            y += lead;
            snprintf(line, sizeof line, "%.*s", (int)wl, p);
        } else {
            memcpy(line, cand, cl + 1); /* fits: line was empty, or checked above */
        }
        p = e;
        if (*p == '\n') {
            text(cr, x, y, 0, line);
            y += lead;
            line[0] = 0;
            p++;
        }
    }
    if (line[0]) {
        text(cr, x, y, 0, line);
        y += lead;
    }
    return y;
}

static double X(const rm_report_panel *p, double v)
{
    return p->px + (v - p->x_min) / (p->x_max - p->x_min) * p->pw;
}

static double Y(const rm_report_panel *p, double v)
{
    return p->py + p->ph - (v - p->y_min) / (p->y_max - p->y_min) * p->ph;
}

static void fmt_tick(char *o, size_t cap, double v, double step)
{
    if (fabs(v) < step * 1e-6)
        v = 0;
    /* as many decimals as the step needs: 2.5 keeps one, 0.25 two */
    int dec = 0;
    while (dec < 4 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6 * pow(10, dec))
        dec++;
    snprintf(o, cap, "%.*f", dec, v);
}

static void panel_title(cairo_t *cr, const rm_report_panel *p)
{
    set_colour(cr, C_TEXT);
    font(cr, 10, 1);
    text(cr, p->px, p->py - 6, 0, p->title);
}

/* Grid, box, ticks and axis labels of a plot panel. */
static void axes(cairo_t *cr, const rm_report_panel *p, int grid)
{
    char buf[48];
    cairo_set_line_width(cr, 0.4);
    font(cr, 8, 0);
    double xs = p->x_clock ? rpt_clock_step(p->x_max - p->x_min, (int)(p->pw / 60))
                           : rpt_nice_step(p->x_max - p->x_min, (int)(p->pw / 60));
    double ys = rpt_nice_step(p->y_max - p->y_min, (int)(p->ph / 28) > 2 ? (int)(p->ph / 28) : 2);
    for (double v = ceil(p->x_min / xs - 1e-9) * xs; v <= p->x_max + xs * 1e-6; v += xs) {
        double x = X(p, v);
        if (grid) {
            set_colour(cr, C_GRID);
            cairo_move_to(cr, x, p->py);
            cairo_line_to(cr, x, p->py + p->ph);
            cairo_stroke(cr);
        }
        set_colour(cr, C_TEXT);
        cairo_move_to(cr, x, p->py + p->ph);
        cairo_line_to(cr, x, p->py + p->ph + 3);
        cairo_stroke(cr);
        if (p->x_clock)
            rm_report_clock(buf, sizeof buf, v, xs < 1);
        else
            fmt_tick(buf, sizeof buf, v, xs);
        text(cr, x, p->py + p->ph + 12, 1, buf);
    }
    for (double v = ceil(p->y_min / ys - 1e-9) * ys; v <= p->y_max + ys * 1e-6; v += ys) {
        double y = Y(p, v);
        if (grid) {
            set_colour(cr, C_GRID);
            cairo_move_to(cr, p->px, y);
            cairo_line_to(cr, p->px + p->pw, y);
            cairo_stroke(cr);
        }
        set_colour(cr, C_TEXT);
        cairo_move_to(cr, p->px - 3, y);
        cairo_line_to(cr, p->px, y);
        cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, v, ys);
        text(cr, p->px - 5, y + 3, 2, buf);
    }
    if (!isnan(p->y2_max) && p->y2_max > p->y2_min) {
        double s2 = rpt_nice_step(p->y2_max - p->y2_min, 4);
        for (double v = ceil(p->y2_min / s2 - 1e-9) * s2; v <= p->y2_max + s2 * 1e-6; v += s2) {
            double y = p->py + p->ph - (v - p->y2_min) / (p->y2_max - p->y2_min) * p->ph;
            cairo_move_to(cr, p->px + p->pw, y);
            cairo_line_to(cr, p->px + p->pw + 3, y);
            cairo_stroke(cr);
            fmt_tick(buf, sizeof buf, v, s2);
            text(cr, p->px + p->pw + 5, y + 3, 0, buf);
        }
        cairo_save(cr);
        cairo_move_to(cr, p->px + p->pw + 34, p->py + p->ph / 2);
        cairo_rotate(cr, M_PI / 2);
        cairo_text_extents_t e;
        cairo_text_extents(cr, p->y2_label, &e);
        cairo_rel_move_to(cr, -e.x_advance / 2, 0);
        cairo_show_text(cr, p->y2_label);
        cairo_restore(cr);
    }
    cairo_set_line_width(cr, 0.8);
    cairo_rectangle(cr, p->px, p->py, p->pw, p->ph);
    cairo_stroke(cr);
    font(cr, 8.5, 0);
    text(cr, p->px + p->pw / 2, p->py + p->ph + 24, 1, p->x_label);
    cairo_save(cr);
    cairo_move_to(cr, p->px - 36, p->py + p->ph / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_text_extents_t e;
    cairo_text_extents(cr, p->y_label, &e);
    cairo_rel_move_to(cr, -e.x_advance / 2, 0);
    cairo_show_text(cr, p->y_label);
    cairo_restore(cr);
}

static void clip_plot(cairo_t *cr, const rm_report_panel *p)
{
    cairo_save(cr);
    cairo_rectangle(cr, p->px, p->py, p->pw, p->ph);
    cairo_clip(cr);
}

static void draw_poly(cairo_t *cr, const rm_report_panel *p, const rpt_poly *poly, colour c,
                      double width)
{
    set_colour(cr, c);
    cairo_set_line_width(cr, width);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    int pen = 0;
    for (size_t i = 0; i < poly->n; i++) {
        if (isnan(poly->v[i])) {
            pen = 0;
            continue;
        }
        double x = X(p, poly->t[i]), y = Y(p, poly->v[i]);
        if (!pen) {
            cairo_move_to(cr, x, y);
            /* a lone vertex still shows as a short tick */
            if (i + 1 >= poly->n || isnan(poly->v[i + 1]))
                cairo_line_to(cr, x + 0.5, y);
        } else {
            cairo_line_to(cr, x, y);
        }
        pen = 1;
    }
    cairo_stroke(cr);
}

/* Segment spans behind a time plot, labelled along the top. */
static void segment_bands(cairo_t *cr, const rm_report_panel *p, const rm_results *r, int label)
{
    for (size_t k = 0; k < r->n_segments; k++) {
        const rm_segment_result *s = &r->segments[k];
        if (s->end_s < p->x_min || s->start_s > p->x_max)
            continue;
        double x0 = X(p, fmax(s->start_s, p->x_min)), x1 = X(p, fmin(s->end_s, p->x_max));
        int current = p->segment < 0 || p->segment == (int)k;
        if (current)
            cairo_set_source_rgb(cr, 0.93, 0.95, 0.99);
        else
            cairo_set_source_rgb(cr, 0.96, 0.96, 0.96);
        cairo_rectangle(cr, x0, p->py, x1 - x0, p->ph);
        cairo_fill(cr);
        if (label) {
            char buf[96];
            snprintf(buf, sizeof buf, "%zu %s", k + 1, s->label);
            set_colour(cr, C_TEXT);
            font(cr, 7.5, 1);
            cairo_save(cr);
            cairo_rectangle(cr, x0, p->py, x1 - x0, p->ph);
            cairo_clip(cr);
            text(cr, x0 + 2, p->py + 9, 0, buf);
            cairo_restore(cr);
        }
    }
}

static double legend_width(cairo_t *cr, const char *label)
{
    font(cr, 7.5, 0);
    return 17 + text_width(cr, label) + 12;
}

static void legend_item(cairo_t *cr, double *x, double y, colour c, int kind, const char *label)
{
    set_colour(cr, c);
    if (kind == 0) { /* line */
        cairo_set_line_width(cr, 1.5);
        cairo_move_to(cr, *x, y - 3);
        cairo_line_to(cr, *x + 14, y - 3);
        cairo_stroke(cr);
    } else if (kind == 1) { /* dot */
        cairo_arc(cr, *x + 7, y - 3, 2.2, 0, 2 * M_PI);
        cairo_fill(cr);
    } else if (kind == 3) { /* tick across a line */
        cairo_set_line_width(cr, 1.4);
        cairo_move_to(cr, *x + 7, y - 7);
        cairo_line_to(cr, *x + 7, y + 1);
        cairo_move_to(cr, *x + 1, y - 3);
        cairo_line_to(cr, *x + 13, y - 3);
        cairo_stroke(cr);
    } else { /* box */
        cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.5);
        cairo_rectangle(cr, *x, y - 7, 14, 8);
        cairo_fill(cr);
    }
    set_colour(cr, C_TEXT);
    font(cr, 7.5, 0);
    text(cr, *x + 17, y, 0, label);
    *x += legend_width(cr, label);
}

/* A key of up to three items, right-aligned on the panel's title line. */
static void legend(cairo_t *cr, const rm_report_panel *p, int n, const colour *c, const int *kind,
                   const char *const *label)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        w += legend_width(cr, label[i]);
    double x = p->px + p->pw - w + 12, y = p->py - 6;
    for (int i = 0; i < n; i++)
        legend_item(cr, &x, y, c[i], kind[i], label[i]);
}

/* Gaps in the data (frames lost, unplugs) as red strips over a time plot,
 * counted under its axis, so a flat or broken line is not read as the
 * athlete's doing. Inside the plot's clip. */
static void draw_gaps(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    if (!p->n_gaps)
        return;
    double *st = malloc(p->n_gaps * sizeof *st), *en = malloc(p->n_gaps * sizeof *en);
    if (st && en) {
        size_t n = rpt_gaps(rep->results, p->x_min, p->x_max, st, en, p->n_gaps);
        if (n > p->n_gaps)
            n = p->n_gaps;
        /* a gap wide enough to see spans the plot; a frame or two lost is
         * a tick on the time axis (a rug), so hundreds of them stay legible */
        cairo_set_source_rgba(cr, C_MISS.r, C_MISS.g, C_MISS.b, 0.3);
        for (size_t i = 0; i < n; i++) {
            double x0 = X(p, st[i]), x1 = X(p, en[i]);
            if (x1 - x0 >= 2)
                cairo_rectangle(cr, x0, p->py, x1 - x0, p->ph);
        }
        cairo_fill(cr);
        set_colour(cr, C_MISS);
        for (size_t i = 0; i < n; i++) {
            double x0 = X(p, st[i]), x1 = X(p, en[i]);
            cairo_rectangle(cr, x0, p->py + p->ph - 6, fmax(x1 - x0, 0.8), 6);
        }
        cairo_fill(cr);
    }
    free(st);
    free(en);
}

/* The count of the gaps, left under the axis. Outside the clip. */
static void gap_note(cairo_t *cr, const rm_report_panel *p)
{
    if (!p->n_gaps)
        return;
    char buf[80];
    snprintf(buf, sizeof buf, "red on the time axis: %zu gap%s in the data", p->n_gaps,
             p->n_gaps == 1 ? "" : "s");
    set_colour(cr, C_MISS);
    font(cr, 7.5, 0);
    text(cr, p->px, p->py + p->ph + 24, 0, buf);
}

static int draw_position(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    clip_plot(cr, p);
    segment_bands(cr, p, r, 1);
    cairo_restore(cr);
    axes(cr, p, 1);
    clip_plot(cr, p);
    for (size_t i = 0; i < r->n_holds; i++) {
        const rm_hold *h = &r->holds[i];
        if (h->end_s < p->x_min || h->start_s > p->x_max || !isfinite(h->x_cm))
            continue;
        cairo_set_source_rgba(cr, C_HOLD.r, C_HOLD.g, C_HOLD.b, 0.45);
        double x0 = X(p, h->start_s), x1 = X(p, h->end_s);
        cairo_rectangle(cr, x0, Y(p, h->x_cm + 2.5), x1 - x0,
                        Y(p, h->x_cm - 2.5) - Y(p, h->x_cm + 2.5));
        cairo_fill(cr);
    }
    rpt_poly poly;
    if (rpt_trace_series(r, RPT_TRACE_POSITION, p->x_min, p->x_max, rpt_bins(p), &poly)) {
        rpt_poly_free(&poly);
        cairo_restore(cr);
        return -1;
    }
    draw_poly(cr, p, &poly, C_LINE, 0.9);
    rpt_poly_free(&poly);
    set_colour(cr, C_STROKE);
    for (size_t i = 0; i < r->n_strokes; i++) {
        const rm_stroke *s = &r->strokes[i];
        if (s->end_s < p->x_min || s->end_s > p->x_max || !isfinite(s->to_x_cm))
            continue;
        cairo_arc(cr, X(p, s->end_s), Y(p, s->to_x_cm), p->segment < 0 ? 1.6 : 2.2, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    draw_gaps(cr, rep, p);
    cairo_restore(cr);
    gap_note(cr, p);
    legend(cr, p, 3, (colour[]){C_LINE, C_STROKE, C_HOLD}, (int[]){0, 1, 2},
           (const char *const[]){"roller x", "end of a pass", "hold"});
    return 0;
}

static int draw_speed(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    clip_plot(cr, p);
    segment_bands(cr, p, r, p->segment < 0);
    if (!isnan(p->band_lo)) {
        cairo_set_source_rgba(cr, C_BAND.r, C_BAND.g, C_BAND.b, 0.45);
        cairo_rectangle(cr, p->px, Y(p, p->band_hi), p->pw, Y(p, p->band_lo) - Y(p, p->band_hi));
        cairo_fill(cr);
    }
    cairo_restore(cr);
    axes(cr, p, 1);
    clip_plot(cr, p);
    if (rep->has_profile && rep->profile.speed_cm_s.set &&
        isfinite(rep->profile.speed_cm_s.target)) {
        double dash[] = {4, 3};
        cairo_set_dash(cr, dash, 2, 0);
        set_colour(cr, C_PASS);
        cairo_set_line_width(cr, 0.9);
        double y = Y(p, rep->profile.speed_cm_s.target);
        cairo_move_to(cr, p->px, y);
        cairo_line_to(cr, p->px + p->pw, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    rpt_poly poly;
    if (rpt_trace_series(r, RPT_TRACE_SPEED, p->x_min, p->x_max, rpt_bins(p), &poly)) {
        rpt_poly_free(&poly);
        cairo_restore(cr);
        return -1;
    }
    draw_poly(cr, p, &poly, C_LINE, 0.8);
    rpt_poly_free(&poly);
    draw_gaps(cr, rep, p);
    cairo_restore(cr);
    gap_note(cr, p);
    char buf[96];
    rpt_fitf(buf, sizeof buf, "target %g-%g cm/s (%s)", p->band_lo, p->band_hi, rep->profile.name);
    legend(cr, p, isnan(p->band_lo) ? 1 : 2, (colour[]){C_LINE, C_BAND}, (int[]){0, 2},
           (const char *const[]){"|speed|", buf});
    return 0;
}

static int draw_force(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    clip_plot(cr, p);
    segment_bands(cr, p, r, p->segment < 0);
    cairo_restore(cr);
    axes(cr, p, 1);
    clip_plot(cr, p);
    /* a ball set: when the ball stayed on each spot, numbered as on the map */
    if (p->segment >= 0 && !strcmp(r->segments[p->segment].tool, "ball")) {
        int n = 0;
        font(cr, 7.5, 1);
        for (size_t i = 0; i < r->n_spots; i++) {
            const rm_spot *sp = &r->spots[i];
            if (sp->segment != p->segment)
                continue;
            n++;
            double x0 = X(p, sp->start_s), x1 = X(p, sp->end_s);
            cairo_set_source_rgba(cr, 0.85, 0.10, 0.10, 0.10);
            cairo_rectangle(cr, x0, p->py, x1 - x0, p->ph);
            cairo_fill(cr);
            char buf[24];
            snprintf(buf, sizeof buf, "spot %d", n);
            cairo_set_source_rgb(cr, 0.85, 0.10, 0.10);
            text(cr, x0 + 3, p->py + 10, 0, buf);
        }
    }
    rpt_poly tot, rol;
    const int roller = rpt_has_roller(r, p->segment);
    memset(&rol, 0, sizeof rol);
    int rc = rpt_trace_series(r, RPT_TRACE_TOTAL_FORCE, p->x_min, p->x_max, rpt_bins(p), &tot);
    if (roller)
        rc |= rpt_trace_series(r, RPT_TRACE_ROLLER_FORCE, p->x_min, p->x_max, rpt_bins(p), &rol);
    if (!rc) {
        /* without a roller the mat's force is the one line, drawn as such */
        draw_poly(cr, p, &tot, roller ? C_TOTAL : C_LINE, roller ? 0.7 : 0.8);
        draw_poly(cr, p, &rol, C_LINE, 0.8);
    }
    rpt_poly_free(&tot);
    rpt_poly_free(&rol);
    draw_gaps(cr, rep, p);
    cairo_restore(cr);
    gap_note(cr, p);
    if (roller)
        legend(cr, p, 2, (colour[]){C_LINE, C_TOTAL}, (int[]){0, 0},
               (const char *const[]){"on the roller", "whole mat"});
    else
        legend(cr, p, 1, (colour[]){C_LINE}, (int[]){0}, (const char *const[]){"whole mat"});
    return rc ? -1 : 0;
}

/* Each pass's duration (a dot at its end time) against the profile's
 * pass band: the pace plot of a profile that judges passes, not speed. */
static void draw_pass(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    clip_plot(cr, p);
    segment_bands(cr, p, r, p->segment < 0);
    if (!isnan(p->band_lo)) {
        cairo_set_source_rgba(cr, C_BAND.r, C_BAND.g, C_BAND.b, 0.45);
        cairo_rectangle(cr, p->px, Y(p, p->band_hi), p->pw, Y(p, p->band_lo) - Y(p, p->band_hi));
        cairo_fill(cr);
    }
    cairo_restore(cr);
    axes(cr, p, 1);
    clip_plot(cr, p);
    for (size_t i = 0; i < r->n_strokes; i++) {
        const rm_stroke *s = &r->strokes[i];
        double d = s->end_s - s->start_s;
        if (s->end_s < p->x_min || s->end_s > p->x_max || !(d > 0))
            continue;
        int in = isnan(p->band_lo) || (d >= p->band_lo && d <= p->band_hi);
        set_colour(cr, in ? C_LINE : C_MISS);
        /* the pass as a bar over its time span, its length as height */
        cairo_set_line_width(cr, 1.2);
        cairo_move_to(cr, X(p, s->start_s), Y(p, d));
        cairo_line_to(cr, X(p, s->end_s), Y(p, d));
        cairo_stroke(cr);
        cairo_new_path(cr);
        cairo_arc(cr, X(p, s->end_s), Y(p, d), p->segment < 0 ? 1.8 : 2.4, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    draw_gaps(cr, rep, p);
    cairo_restore(cr);
    gap_note(cr, p);
    char buf[96];
    rpt_fitf(buf, sizeof buf, "target %g-%g s (%s)", p->band_lo, p->band_hi, rep->profile.name);
    legend(cr, p, isnan(p->band_lo) ? 1 : 3, (colour[]){C_LINE, C_MISS, C_BAND}, (int[]){1, 1, 2},
           (const char *const[]){"a pass", "outside", buf});
}

/* The line under a map: what its patches are. */
static const char *map_caption(const rm_results *r, const rm_report_panel *p)
{
    if (p->segment >= 0 && !strcmp(r->segments[p->segment].tool, "ball"))
        return "Massage ball: a numbered ring is a spot (ring: its circling); named patches are "
               "the supports the analysis found. Left: mean pressure over the set; right: the "
               "highest pressure each sensel saw. White: unloaded.";
    if (!r->totals.roller_found)
        return "No roller was found in this recording: the maps show everything that pressed on "
               "the mat. Left: mean pressure; right: the highest each sensel saw. White: unloaded.";
    return "The long patch is the roller's contact; named patches are the supports the analysis "
           "found (hands, forearms, feet). Left: mean pressure over the set; right: the highest "
           "pressure each sensel saw. White: unloaded.";
}

/* A massage-ball set's spots over its map: the circling (ring of the
 * spot's circling radius), a numbered marker, and the list of spots in a
 * box in the map's corner. Nothing for a roller set. */
static void draw_spots(cairo_t *cr, const rm_report *rep, const rm_report_panel *p, int list)
{
    const rm_results *r = rep->results;
    if (p->segment < 0 || strcmp(r->segments[p->segment].tool, "ball"))
        return;
    char buf[160];
    int n = 0;
    /* the list goes under the maps' key (layout left room for it) */
    double bx = p->px, by = p->py + p->ph + 44, lead = 10.5;
    font(cr, 7.5, 0);
    for (size_t i = 0; i < r->n_spots; i++) {
        const rm_spot *sp = &r->spots[i];
        if (sp->segment != p->segment)
            continue;
        n++;
        if (list) {
            char a[24], b[24];
            rm_report_clock(a, sizeof a, sp->start_s, 0);
            rm_report_clock(b, sizeof b, sp->end_s, 0);
            rpt_fitf(buf, sizeof buf,
                     "spot %d: at (%.0f, %.0f) cm, %s-%s (%.0f s), %.0f N, force CV %.0f %%, "
                     "circling %.1f cm",
                     n, sp->x_cm, sp->y_cm, a, b, sp->end_s - sp->start_s, sp->mean_force_n,
                     100.0 * sp->force_cv, sp->circle_cm);
            set_colour(cr, C_TEXT);
            text(cr, bx, by + n * lead - 3, 0, buf);
            continue;
        }
        double x = X(p, sp->x_cm), y = Y(p, sp->y_cm);
        double rad = fmax(3.0, fabs(X(p, sp->circle_cm) - X(p, 0)));
        cairo_new_path(cr); /* no line from the text before */
        cairo_arc(cr, x, y, rad, 0, 2 * M_PI);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 3);
        cairo_stroke_preserve(cr);
        cairo_set_source_rgb(cr, 0.85, 0.10, 0.10);
        cairo_set_line_width(cr, 1.4);
        cairo_stroke(cr);
        cairo_arc(cr, x, y, 2, 0, 2 * M_PI);
        cairo_fill(cr);
        /* the spot's number, white-backed to read on any colour */
        snprintf(buf, sizeof buf, "%d", n);
        font(cr, 8.5, 1);
        double w = text_width(cr, buf);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
        cairo_rectangle(cr, x + rad + 2, y - 11, w + 3, 10);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.85, 0.10, 0.10);
        text(cr, x + rad + 3.5, y - 3, 0, buf);
    }
    if (!n && list) {
        set_colour(cr, C_TEXT);
        text(cr, bx, by + lead - 3, 0, "massage ball: no spot held long enough to count");
    }
}

/* The colour of v on the report's scale [0, cmax]: the square root of
 * the share, so the mean maps (tens of kPa) and the peak maps (the
 * roller's line, over a hundred) both keep their detail on one scale; the
 * colour bar's ticks sit where their kPa are. */
static double colour_share(double v, double cmax) { return v > 0 ? sqrt(v / cmax) : 0; }

/* The map's sensels, one pixel each, x (rows) to the right and y (cols)
 * upwards, scaled up without smoothing so sensels stay sharp squares. */
static int draw_map_image(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    const float *m = rpt_map_of(r, p->segment, p->kind == RM_PANEL_PEAK_MAP);
    const int rows = r->rows, cols = r->cols;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, rows, cols);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return -1;
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    double cmax = p->c_max > 0 ? p->c_max : 1;
    for (int c = 0; c < cols; c++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)(cols - 1 - c) * (size_t)stride);
        for (int i = 0; i < rows; i++) {
            double v = m ? m[(size_t)i * cols + c] : 0;
            uint32_t px = 0xffffff;
            if (isfinite(v) && v > 0.05) {
                double rgb[3];
                colormap(colour_share(v, cmax), rgb);
                px = (uint32_t)(rgb[0] * 255 + 0.5) << 16 | (uint32_t)(rgb[1] * 255 + 0.5) << 8 |
                     (uint32_t)(rgb[2] * 255 + 0.5);
            }
            row[i] = px;
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_save(cr);
    cairo_translate(cr, p->px, p->py);
    cairo_scale(cr, p->pw / rows, p->ph / cols);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, rows, cols);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    return 0;
}

/* Mean y of the roller's track over [t0, t1] (NaN if none). */
static double track_y(const rm_results *r, double t0, double t1)
{
    const float *ty = r->series[RM_SERIES_ROLLER_Y_CM], *tt = r->series[RM_SERIES_TIME];
    double sy = 0;
    size_t n = 0;
    for (size_t j = 0; ty && tt && j < r->n_frames; j++)
        if (tt[j] >= t0 && tt[j] <= t1 && isfinite(ty[j])) {
            sy += ty[j];
            n++;
        }
    return n ? sy / (double)n : NAN;
}

/* The roller's track over a set's map: one line along the mat where the
 * roller ran (its passes, at the track's mean y: the centre wobbles
 * across the roller's width, which is no information for a coach), a
 * tick at each pass end, and a ring at each hold. */
static void draw_track(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    double t0 = p->segment >= 0 ? r->segments[p->segment].start_s : 0;
    double t1 = p->segment >= 0 ? r->segments[p->segment].end_s : INFINITY;
    if (!rpt_has_roller(r, p->segment))
        return;
    double ym = track_y(r, t0, t1);
    if (!isfinite(ym))
        return;
    const double y = Y(p, ym), tick = 7;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < r->n_strokes; i++) {
        const rm_stroke *s = &r->strokes[i];
        if (s->end_s < t0 || s->start_s > t1 || !isfinite(s->from_x_cm) || !isfinite(s->to_x_cm))
            continue;
        lo = fmin(lo, fmin(s->from_x_cm, s->to_x_cm));
        hi = fmax(hi, fmax(s->from_x_cm, s->to_x_cm));
    }
    for (int pass = 0; pass < 2 && lo <= hi; pass++) {
        /* white under red: readable on any colour of the map */
        if (pass == 0)
            cairo_set_source_rgb(cr, 1, 1, 1);
        else
            cairo_set_source_rgb(cr, 0.85, 0.10, 0.10);
        cairo_set_line_width(cr, pass ? 1.4 : 3.4);
        cairo_move_to(cr, X(p, lo), y);
        cairo_line_to(cr, X(p, hi), y);
        cairo_stroke(cr);
        for (size_t i = 0; i < r->n_strokes; i++) {
            const rm_stroke *s = &r->strokes[i];
            if (s->end_s < t0 || s->start_s > t1 || !isfinite(s->to_x_cm))
                continue;
            cairo_move_to(cr, X(p, s->to_x_cm), y - tick);
            cairo_line_to(cr, X(p, s->to_x_cm), y + tick);
            cairo_stroke(cr);
        }
    }
    for (size_t i = 0; i < r->n_holds; i++) {
        const rm_hold *h = &r->holds[i];
        if (h->end_s < t0 || h->start_s > t1 || !isfinite(h->x_cm))
            continue;
        double hy = track_y(r, h->start_s, h->end_s);
        cairo_new_path(cr);
        cairo_arc(cr, X(p, h->x_cm), Y(p, isfinite(hy) ? hy : ym), 5, 0, 2 * M_PI);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 3);
        cairo_stroke_preserve(cr);
        set_colour(cr, C_HOLD);
        cairo_set_line_width(cr, 1.6);
        cairo_stroke(cr);
    }
}

/* The supports the analysis found (hands, forearms, feet) named where
 * they lie, so the brightest patch on the map is not taken for the tool. */
static void draw_supports(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    if (p->segment < 0)
        return;
    rpt_support sup[8];
    size_t n = rpt_supports(&rep->results->segments[p->segment], sup, 8);
    font(cr, 7.5, 1);
    for (size_t i = 0; i < n; i++) {
        double x = X(p, sup[i].x_cm), y = Y(p, sup[i].y_cm);
        char buf[40];
        rpt_fitf(buf, sizeof buf, "%s %.0f N", sup[i].kind, sup[i].force_n);
        double w = text_width(cr, buf);
        /* a dot on the patch's centre, the label under the patch (a hand
         * is about 10 cm across) so the patch stays visible; inside the map */
        cairo_new_path(cr);
        cairo_arc(cr, x, y, 2.2, 0, 2 * M_PI);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill_preserve(cr);
        set_colour(cr, C_TEXT);
        cairo_set_line_width(cr, 0.8);
        cairo_stroke(cr);
        double lx = fmin(fmax(x - w / 2, p->px + 1), p->px + p->pw - w - 1);
        double ly = fmin(y + fabs(Y(p, 0) - Y(p, 6)) + 8, p->py + p->ph - 3);
        if (ly - 8 < y + 3) /* no room under it: above */
            ly = fmax(y - fabs(Y(p, 0) - Y(p, 6)) - 2, p->py + 10);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
        cairo_rectangle(cr, lx - 2, ly - 8, w + 4, 10.5);
        cairo_fill(cr);
        set_colour(cr, C_TEXT);
        text(cr, lx, ly, 0, buf);
    }
}

/* The report's one colour bar, beside the peak map: kPa ticks placed on
 * the square-root scale the maps use. */
static void colour_bar(cairo_t *cr, const rm_report_panel *p)
{
    double cmax = p->c_max > 0 ? p->c_max : 1;
    double bx = p->px + p->pw + 14, bw = 10, by = p->py, bh = p->ph;
    cairo_pattern_t *grad = cairo_pattern_create_linear(0, by + bh, 0, by);
    for (int i = 0; i < 9; i++)
        cairo_pattern_add_color_stop_rgb(grad, i / 8.0, viridis[i][0], viridis[i][1],
                                         viridis[i][2]);
    cairo_set_source(cr, grad);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill(cr);
    cairo_pattern_destroy(grad);
    set_colour(cr, C_TEXT);
    cairo_set_line_width(cr, 0.6);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_stroke(cr);
    font(cr, 7.5, 0);
    /* ticks at 1-2-5 kPa values, kept where they do not crowd each
     * other: on a root scale the low end spreads, the high end packs */
    double last_y = INFINITY;
    for (double dec = 1e-3; dec <= cmax; dec *= 10)
        for (int m = 0; m < 3; m++) {
            double v = dec * (m == 0 ? 1 : m == 1 ? 2 : 5);
            double y = by + bh - colour_share(v, cmax) * bh;
            if (v > cmax || y > by + bh - 10 || last_y - y < 10 || y < by + 10)
                continue;
            last_y = y;
            char buf[32];
            snprintf(buf, sizeof buf, "%g", v);
            cairo_move_to(cr, bx + bw, y);
            cairo_line_to(cr, bx + bw + 3, y);
            cairo_stroke(cr);
            text(cr, bx + bw + 5, y + 3, 0, buf);
        }
    /* the ends: 0 and the top of the scale */
    for (int e = 0; e < 2; e++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%g", e ? cmax : 0.0);
        double y = e ? by : by + bh;
        cairo_move_to(cr, bx + bw, y);
        cairo_line_to(cr, bx + bw + 3, y);
        cairo_stroke(cr);
        text(cr, bx + bw + 5, y + 3, 0, buf);
    }
    cairo_save(cr);
    cairo_move_to(cr, bx + bw + 30, by + bh / 2);
    cairo_rotate(cr, M_PI / 2);
    font(cr, 8, 0);
    const char *cl = "pressure (kPa), every map";
    cairo_rel_move_to(cr, -text_width(cr, cl) / 2, 0);
    cairo_show_text(cr, cl);
    cairo_restore(cr);
}

static int draw_map(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    if (draw_map_image(cr, rep, p))
        return -1;
    int peak = p->kind == RM_PANEL_PEAK_MAP;
    clip_plot(cr, p);
    if (!peak) {
        draw_supports(cr, rep, p);
        draw_track(cr, rep, p);
    }
    draw_spots(cr, rep, p, 0);
    cairo_restore(cr);
    axes(cr, p, 0);
    if (peak) {
        colour_bar(cr, p);
        return 0;
    }
    /* key and caption under both maps */
    double lx = p->px, ly = p->py + p->ph + 38;
    if (rpt_has_roller(r, p->segment)) {
        legend_item(cr, &lx, ly, (colour){0.85, 0.10, 0.10}, 0, "roller track");
        legend_item(cr, &lx, ly, (colour){0.85, 0.10, 0.10}, 3, "end of a pass");
        legend_item(cr, &lx, ly, C_HOLD, 1, "hold");
    }
    set_colour(cr, C_TEXT);
    font(cr, 7.5, 0);
    double cy = wrap(cr, p->px, ly + 11, RM_REPORT_PAGE_W - 36 - p->px, 10, map_caption(r, p));
    p = &(rm_report_panel){.kind = p->kind, .segment = p->segment, .px = p->px, .py = cy - 44,
                           .ph = 0};
    draw_spots(cr, rep, p, 1); /* the ball's spots listed under the caption */
    return 0;
}

static void fmt_num(char *o, size_t cap, double v, int dec)
{
    if (!isfinite(v))
        snprintf(o, cap, "-");
    else
        snprintf(o, cap, "%.*f", dec, v);
}

static void draw_header(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    const rm_session_totals *T = &r->totals;
    const int narrow = p->w < 400; /* the phone page */
    set_colour(cr, C_TEXT);
    font(cr, narrow ? 14 : 16, 1);
    double y = wrap(cr, p->x, p->y + 14, p->w, narrow ? 17 : 19, p->title) + 2;
    font(cr, 9, 0);
    y = wrap(cr, p->x, y, p->w, 12, rep->subtitle);
    if (rep->quality[0]) {
        /* lost frames or unplugs are worth the coach's eye */
        set_colour(cr, r->frames_lost > 0 || r->disconnects > 0 ? C_MISS : C_NA);
        y = wrap(cr, p->x, y, p->w, 12, rep->quality);
        set_colour(cr, C_TEXT);
    }
    char buf[1024];
    snprintf(buf, sizeof buf,
             "%.1f min recorded, %.1f min rolling and %.1f min holding in %d set%s: %d passes, %d "
             "hold%s",
             T->duration_s / 60.0, T->rolling_s / 60.0, T->holding_s / 60.0, T->segments,
             T->segments == 1 ? "" : "s", T->strokes, T->holds, T->holds == 1 ? "" : "s");
    y = wrap(cr, p->x, y, p->w, 12, buf);
    double ball = 0;
    rpt_daily_s(r, &ball);
    if (ball > 0) {
        snprintf(buf, sizeof buf, "%.1f min with the massage ball on its spots", ball / 60.0);
        y = wrap(cr, p->x, y, p->w, 12, buf);
    }
    if (!narrow && rep->has_profile && rep->profile.title[0]) {
        snprintf(buf, sizeof buf, "Profile: %s  |  %s", rep->profile.title, r->software);
        y = wrap(cr, p->x, y, p->w, 12, buf);
    }
    if (!T->roller_found && T->comment[0]) {
        char c[sizeof T->comment + 8];
        snprintf(c, sizeof c, "%s", T->comment);
        if (c[0] >= 'a' && c[0] <= 'z')
            c[0] = (char)(c[0] - 'a' + 'A');
        font(cr, 9, 1);
        wrap(cr, p->x, y + 2, p->w, 12, c);
    }
}

/* ---- the summary: traffic lights and actions ---- */

static const colour C_GREEN = {0.15, 0.62, 0.20}, C_AMBER = {0.96, 0.65, 0.05},
                    C_RED = {0.84, 0.15, 0.12};

static colour light_colour(rm_light l)
{
    return l == RM_LIGHT_GREEN   ? C_GREEN
           : l == RM_LIGHT_AMBER ? C_AMBER
           : l == RM_LIGHT_RED   ? C_RED
                                 : C_GRID;
}

/* A light (a filled disc) and the number beside it. */
static void light_cell(cairo_t *cr, double x, double y, const rm_report_light *L)
{
    set_colour(cr, light_colour(L->light));
    cairo_new_path(cr); /* no line from the text before */
    cairo_arc(cr, x + 5, y - 3.5, 5, 0, 2 * M_PI);
    cairo_fill(cr);
    set_colour(cr, L->light == RM_LIGHT_NONE ? C_NA : C_TEXT);
    text(cr, x + 14, y, 0, L->text);
}

static void draw_summary(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    const double row = 21, x0 = p->x, w = p->w;
    /* columns: the set's name, then time, pace and holds */
    const double cx[4] = {x0, x0 + 0.31 * w, x0 + 0.54 * w, x0 + 0.77 * w};
    double y = p->y + 12;
    set_colour(cr, C_TEXT);
    font(cr, 12, 1);
    text(cr, x0, y, 0, p->title);
    y += 18;
    font(cr, 9, 1);
    set_colour(cr, C_NA);
    const char *head[4] = {"set", "time", rep->pace_by_pass ? "pass" : "speed", "holds"};
    for (int c = 0; c < 4; c++)
        text(cr, cx[c], y, 0, head[c]);
    y += 6;
    set_colour(cr, C_GRID);
    cairo_set_line_width(cr, 0.6);
    cairo_move_to(cr, x0, y);
    cairo_line_to(cr, x0 + w, y);
    cairo_stroke(cr);
    y += row - 4;
    /* the verdict and the actions need about 170 pt below the rows */
    double bottom = p->y + p->h - 170;
    size_t nseg = r->n_segments, shown = 0;
    font(cr, 10, 0);
    for (size_t k = 0; k < nseg; k++) {
        if (y > bottom && k + 1 < nseg)
            break;
        char name[64];
        rpt_fitf(name, sizeof name, "%s", r->segments[k].label);
        while (text_width(cr, name) > cx[1] - cx[0] - 6 && strlen(name) > 4)
            rpt_fitf(name, sizeof name, "%.*s...", (int)strlen(name) - 4, name);
        set_colour(cr, C_TEXT);
        text(cr, x0, y, 0, name);
        for (int t = 0; t < RM_TARGET_COUNT; t++)
            light_cell(cr, cx[1 + t], y, rm_report_light_at(rep, k, (rm_report_target)t));
        y += row;
        shown++;
    }
    if (shown < nseg) {
        char more[96];
        snprintf(more, sizeof more, "... and %zu more set%s (the full report has them all)",
                 nseg - shown, nseg - shown == 1 ? "" : "s");
        set_colour(cr, C_NA);
        text(cr, x0, y, 0, more);
        y += row;
    }
    if (nseg == 0) {
        set_colour(cr, C_NA);
        text(cr, x0, y, 0, "no sets found");
        y += row;
    }
    /* the daily total: one more target */
    set_colour(cr, C_TEXT);
    font(cr, 10, 1);
    text(cr, x0, y, 0, "daily total");
    font(cr, 10, 0);
    light_cell(cr, cx[1], y, &rep->daily);
    if (rep->has_profile && rep->profile.daily_s.set) {
        char b[64];
        snprintf(b, sizeof b, "target %g-%g min", rep->profile.daily_s.lo / 60.0,
                 rep->profile.daily_s.hi / 60.0);
        set_colour(cr, C_NA);
        text(cr, cx[2], y, 0, b);
    }
    y += row + 6;
    /* the verdict */
    char v[160];
    if (rep->targets_judged)
        snprintf(v, sizeof v, "Session: %d of %d targets met", rep->targets_met,
                 rep->targets_judged);
    else
        snprintf(v, sizeof v, "Session: nothing judged%s",
                 rep->has_profile ? "" : " (no profile given)");
    font(cr, 13, 1);
    /* the colour rule is the analysis' (batch's session_light column says the same) */
    const rm_judgement tally = {.targets_met = rep->targets_met,
                                .targets_judged = rep->targets_judged};
    rm_light sl = rm_judgement_session_light(&tally);
    set_colour(cr, sl == RM_LIGHT_GREEN   ? C_GREEN
                   : sl == RM_LIGHT_AMBER ? C_AMBER
                   : sl == RM_LIGHT_RED   ? C_RED
                                          : C_NA);
    text(cr, x0, y, 0, v);
    y += 20;
    set_colour(cr, C_TEXT);
    font(cr, 10.5, 1);
    text(cr, x0, y, 0, rep->n_actions ? "Next time:" : "Next time: keep this routine");
    y += 15;
    font(cr, 10, 0);
    for (size_t i = 0; i < rep->n_actions; i++) {
        char a[RM_REPORT_ACTION_LEN + 24];
        snprintf(a, sizeof a, "%zu. %s", i + 1, rep->actions[i]);
        y = wrap(cr, x0, y, w, 13, a) + 3;
    }
    font(cr, 7.5, 0);
    set_colour(cr, C_NA);
    wrap(cr, x0, fmax(y + 4, p->y + p->h - 20), w, 9,
         "green: inside the profile's band; amber: off by up to 25 %; red: further off, or no hold "
         "where the profile asks for one; grey: not judged.");
}

/* ---- table and verdicts ---- */

static void mark(cairo_t *cr, double x, double y, int verdict)
{
    /* a drawn tick, cross or dash: no dependence on a font's glyphs */
    cairo_save(cr);
    cairo_set_line_width(cr, 1.6);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    if (verdict == RM_VERDICT_INSIDE) {
        set_colour(cr, C_PASS);
        cairo_move_to(cr, x, y - 3.5);
        cairo_line_to(cr, x + 2.8, y - 0.5);
        cairo_line_to(cr, x + 8, y - 8);
    } else if (verdict == RM_VERDICT_BELOW || verdict == RM_VERDICT_ABOVE) {
        set_colour(cr, C_MISS);
        cairo_move_to(cr, x + 0.5, y - 7.5);
        cairo_line_to(cr, x + 7.5, y - 0.5);
        cairo_move_to(cr, x + 7.5, y - 7.5);
        cairo_line_to(cr, x + 0.5, y - 0.5);
    } else {
        set_colour(cr, C_NA);
        cairo_move_to(cr, x + 1, y - 4);
        cairo_line_to(cr, x + 7, y - 4);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

static void draw_table(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    set_colour(cr, C_TEXT);
    font(cr, 12, 1);
    text(cr, p->x, p->y + 12, 0, p->title);
    static const char *const head[] = {"set",   "start",  "time",  "passes", "cycles",
                                       "speed", "pass",   "holds", "held",   "force",
                                       "body",  "roller", "score"};
    static const char *const unit[] = {"", "m:ss", "s", "",     "/min", "cm/s", "s",
                                       "", "s",    "N", "wt %", "kPa",  "%"};
    enum { NC = 13 };
    /* columns 3.. show segment columns (the table in rm_results.h), scaled
     * (shares as %) and rounded for reading */
    static const struct {
        const char *column;
        double scale;
        int decimals;
    } shown[NC - 3] = {
        {"strokes", 1, 0},         {"stroke_cadence_cpm", 1, 1},
        {"mean_speed_cm_s", 1, 1}, {"mean_pass_s", 1, 1},
        {"holds", 1, 0},           {"holding_s", 1, 0},
        {"mean_force_n", 1, 0},    {"body_weight_share", 100, 0},
        {"mean_roller_kpa", 1, 1}, {"score", 100, 0},
    };
    double w[NC] = {84, 34, 30, 40, 36, 34, 30, 32, 30, 34, 32, 36, 0};
    double used = 0;
    for (int i = 0; i < NC - 1; i++)
        used += w[i];
    w[NC - 1] = p->w - used;
    double y = p->y + 30;
    font(cr, 8, 1);
    double x = p->x;
    for (int i = 0; i < NC; i++) {
        text(cr, i == 0 ? x : x + w[i] - 4, y, i == 0 ? 0 : 2, head[i]);
        x += w[i];
    }
    font(cr, 7, 0);
    x = p->x;
    for (int i = 0; i < NC; i++) {
        text(cr, i == 0 ? x : x + w[i] - 4, y + 9, i == 0 ? 0 : 2, unit[i]);
        x += w[i];
    }
    y += 12;
    cairo_set_line_width(cr, 0.6);
    cairo_move_to(cr, p->x, y);
    cairo_line_to(cr, p->x + p->w, y);
    cairo_stroke(cr);
    font(cr, 8.5, 0);
    for (size_t k = p->first; k < p->first + p->count && k < r->n_segments; k++) {
        const rm_segment_result *s = &r->segments[k];
        y += 15;
        if (k % 2 == 0) {
            cairo_set_source_rgb(cr, 0.95, 0.96, 0.98);
            cairo_rectangle(cr, p->x, y - 11, p->w, 15);
            cairo_fill(cr);
            set_colour(cr, C_TEXT);
        }
        char c[NC][64];
        rpt_fitf(c[0], sizeof c[0], "%zu %s", k + 1, s->label);
        snprintf(c[1], sizeof c[1], "%d:%02d", (int)(s->start_s / 60), (int)fmod(s->start_s, 60));
        fmt_num(c[2], sizeof c[2], s->end_s - s->start_s, 0);
        for (int i = 3; i < NC; i++) {
            const rm_segment_column *sc = rm_segment_column_find(shown[i - 3].column);
            double v = sc ? rm_segment_value(s, sc) : NAN;
            fmt_num(c[i], sizeof c[i], shown[i - 3].scale * v, shown[i - 3].decimals);
        }
        x = p->x;
        for (int i = 0; i < NC; i++) {
            if (i == 0) {
                cairo_save(cr);
                cairo_rectangle(cr, x, y - 11, w[0] - 2, 15);
                cairo_clip(cr);
                text(cr, x + 2, y, 0, c[0]);
                cairo_restore(cr);
            } else {
                text(cr, x + w[i] - 4, y, 2, c[i]);
            }
            x += w[i];
        }
    }
    y += 6;
    cairo_move_to(cr, p->x, y);
    cairo_line_to(cr, p->x + p->w, y);
    cairo_stroke(cr);
}

typedef struct verdict_row {
    const char *what;
    char value[64], target[64], words[96];
    int verdict;
} verdict_row;

static const char *words_for(int target, int v)
{
    static const char *const w[RPT_TARGETS][3] = {
        {"too short for this muscle group", "good length", "longer than needed"},
        {"too slow", "good pace", "too fast: slow down"},
        {"passes too quick", "good pass length", "passes too slow"},
        {"hold a tender spot longer", "good holds", "holds too long"},
    };
    if (v < RM_VERDICT_BELOW || v > RM_VERDICT_ABOVE)
        return "not judged";
    return w[target][v + 1];
}

static void band_str(char *o, size_t cap, const rm_band *b, const char *unit)
{
    if (!b->set)
        snprintf(o, cap, "-");
    else if (isfinite(b->target))
        snprintf(o, cap, "%g-%g %s (about %g)", b->lo, b->hi, unit, b->target);
    else
        snprintf(o, cap, "%g-%g %s", b->lo, b->hi, unit);
}

static size_t segment_rows(const rm_report *rep, size_t k, verdict_row *rows)
{
    const rm_results *r = rep->results;
    const rm_segment_result *s = &r->segments[k];
    const rm_profile *P = rep->has_profile ? &rep->profile : NULL;
    size_t n = 0;
    const int ball = !strcmp(s->tool, "ball");
    const int verdicts[RPT_TARGETS] = {s->set_verdict, s->speed_verdict, s->pass_verdict,
                                       ball ? s->spot_verdict : s->hold_verdict};
    static const char *const what[RPT_TARGETS] = {"time on this muscle group", "rolling speed",
                                                  "one-way pass", "holds on tender spots"};
    for (int t = 0; t < RPT_TARGETS; t++) {
        const rm_band *b = !P       ? NULL
                           : t == 0 ? &P->set_s
                           : t == 1 ? &P->speed_cm_s
                           : t == 2 ? &P->pass_s
                           : ball   ? &P->spot_s
                                    : &P->hold_s;
        /* a ball set has no roller pace: its own target is the time on
         * each spot (spot_s), in the hold row */
        if (ball && (t == 1 || t == 2))
            continue;
        if (ball && t == 3) {
            if (b ? !b->set : verdicts[t] == RM_VERDICT_NA)
                continue;
            verdict_row *v = &rows[n++];
            memset(v, 0, sizeof *v);
            v->what = "ball on each spot";
            v->verdict = verdicts[t];
            if (b)
                band_str(v->target, sizeof v->target, b, "s");
            else
                rpt_fitf(v->target, sizeof v->target, "profile %s", r->profile);
            if (s->spots > 0 && isfinite(s->mean_spot_s))
                snprintf(v->value, sizeof v->value, "%d spot%s, %.0f s each", (int)s->spots,
                         s->spots == 1 ? "" : "s", s->mean_spot_s);
            else
                snprintf(v->value, sizeof v->value, "no spot");
            static const char *const sw[3] = {"stay longer on each spot", "good time on each spot",
                                              "move on sooner"};
            snprintf(v->words, sizeof v->words, "%s",
                     v->verdict >= -1 && v->verdict <= 1 ? sw[v->verdict + 1] : "not judged");
            continue;
        }
        /* a target the profile does not set is left out, unless the
         * stored results judged it (profile unknown here) */
        if (b ? !b->set : verdicts[t] == RM_VERDICT_NA)
            continue;
        verdict_row *v = &rows[n++];
        memset(v, 0, sizeof *v);
        v->what = what[t];
        v->verdict = verdicts[t];
        const char *unit = t == 1 ? "cm/s" : "s";
        if (b)
            band_str(v->target, sizeof v->target, b, unit);
        else
            rpt_fitf(v->target, sizeof v->target, "profile %s", r->profile);
        switch (t) {
        case 0: {
            /* one decimal when the rounded number would sit inside a band
             * the set missed (29.7 s is short of 30) */
            double d = s->end_s - s->start_s;
            int dec = 0;
            for (; dec < 3 && b && v->verdict != RM_VERDICT_INSIDE; dec++) {
                double shown = round(d * pow(10, dec)) / pow(10, dec);
                if (shown < b->lo || shown > b->hi)
                    break;
            }
            snprintf(v->value, sizeof v->value, "%.*f s", dec, d);
            break;
        }
        case 1:
            fmt_num(v->value, sizeof v->value, s->mean_speed_cm_s, 1);
            if (isfinite(s->mean_speed_cm_s))
                strcat(v->value, " cm/s");
            break;
        case 2:
            if (isfinite(s->mean_pass_s))
                snprintf(v->value, sizeof v->value, "%.1f s (%d passes)", s->mean_pass_s,
                         s->strokes);
            else
                snprintf(v->value, sizeof v->value, "no passes");
            break;
        default: {
            double lo = INFINITY, hi = 0;
            int nh = 0;
            for (size_t i = 0; i < r->n_holds; i++)
                if (r->holds[i].segment == (int32_t)k) {
                    double d = r->holds[i].end_s - r->holds[i].start_s;
                    lo = fmin(lo, d);
                    hi = fmax(hi, d);
                    nh++;
                }
            /* one decimal when rounding would hide a miss (19.6 s is not 20) */
            int dl = fabs(lo - round(lo)) >= 0.05, dh = fabs(hi - round(hi)) >= 0.05;
            if (!nh)
                snprintf(v->value, sizeof v->value, "no hold");
            else if (nh == 1)
                snprintf(v->value, sizeof v->value, "one of %.*f s", dl, lo);
            else
                snprintf(v->value, sizeof v->value, "%d of %.*f-%.*f s", nh, dl, lo, dh, hi);
            break;
        }
        }
        snprintf(v->words, sizeof v->words, "%s", words_for(t, v->verdict));
        if (t == 3 && v->verdict == RM_VERDICT_NA && !strcmp(v->value, "no hold"))
            snprintf(v->words, sizeof v->words, "no pause on a tender spot");
        if (t == 2 && v->verdict == RM_VERDICT_NA && s->strokes == 0)
            snprintf(v->words, sizeof v->words, "no passes to judge");
    }
    return n;
}

static void draw_verdicts(cairo_t *cr, const rm_report *rep, const rm_report_panel *p)
{
    const rm_results *r = rep->results;
    set_colour(cr, C_TEXT);
    font(cr, 12, 1);
    text(cr, p->x, p->y + 12, 0, p->title);
    double y = p->y + 32;
    const double cx[4] = {p->x + 14, p->x + 150, p->x + 250, p->x + 380};
    font(cr, 7.5, 1);
    text(cr, cx[0], y, 0, "target");
    text(cr, cx[1], y, 0, "measured");
    text(cr, cx[2], y, 0, "profile band");
    text(cr, cx[3], y, 0, "verdict");
    y += 4;
    for (size_t k = p->first; k < p->first + p->count && k < r->n_segments; k++) {
        const rm_segment_result *s = &r->segments[k];
        verdict_row rows[RPT_TARGETS];
        size_t n = segment_rows(rep, k, rows);
        y += 16;
        set_colour(cr, C_TEXT);
        font(cr, 9.5, 1);
        char buf[160];
        int met = 0, judged = 0;
        for (size_t i = 0; i < n; i++) {
            judged += rows[i].verdict != RM_VERDICT_NA;
            met += rows[i].verdict == RM_VERDICT_INSIDE;
        }
        snprintf(buf, sizeof buf, "%zu. %s  (%d:%02d-%d:%02d)", k + 1, s->label,
                 (int)(s->start_s / 60), (int)fmod(s->start_s, 60), (int)(s->end_s / 60),
                 (int)fmod(s->end_s, 60));
        text(cr, p->x, y, 0, buf);
        snprintf(buf, sizeof buf, "%d of %d targets met", met, judged);
        font(cr, 8.5, 0);
        text(cr, p->x + p->w, y, 2, buf);
        for (size_t i = 0; i < n; i++) {
            y += 12.5;
            mark(cr, p->x + 2, y, rows[i].verdict);
            set_colour(cr, C_TEXT);
            font(cr, 8.5, 0);
            text(cr, cx[0], y, 0, rows[i].what);
            text(cr, cx[1], y, 0, rows[i].value);
            text(cr, cx[2], y, 0, rows[i].target);
            font(cr, 8.5, 1);
            colour c = rows[i].verdict == RM_VERDICT_INSIDE ? C_PASS
                       : rows[i].verdict == RM_VERDICT_NA   ? C_NA
                                                            : C_MISS;
            set_colour(cr, c);
            text(cr, cx[3], y, 0, rows[i].words);
        }
    }
    /* the day's total */
    const rm_session_totals *T = &r->totals;
    /* the day's total closes the last verdicts panel (layout made room) */
    if (p->n_marks > p->count * (1 + RPT_TARGETS)) {
        y += 22;
        set_colour(cr, C_TEXT);
        font(cr, 9.5, 1);
        text(cr, p->x, y, 0, "Session");
        y += 12.5;
        /* the summary's daily total (ball time counted), judged against
         * the report's profile; without one, the stored verdict */
        int v = rep->has_profile ? rep->daily.direction : T->total_verdict;
        mark(cr, p->x + 2, y, v);
        set_colour(cr, C_TEXT);
        font(cr, 8.5, 0);
        text(cr, cx[0], y, 0, "time on the muscles today");
        char buf[96];
        snprintf(buf, sizeof buf, "%.1f min", rpt_daily_s(r, NULL) / 60.0);
        text(cr, cx[1], y, 0, buf);
        if (rep->has_profile && rep->profile.daily_s.set) {
            snprintf(buf, sizeof buf, "%g-%g min", rep->profile.daily_s.lo / 60,
                     rep->profile.daily_s.hi / 60);
            text(cr, cx[2], y, 0, buf);
        }
        static const char *const w[3] = {"roll a little longer", "good daily amount",
                                         "more than needed"};
        set_colour(cr, v == RM_VERDICT_INSIDE ? C_PASS : v == RM_VERDICT_NA ? C_NA : C_MISS);
        font(cr, 8.5, 1);
        text(cr, cx[3], y, 0, v >= -1 && v <= 1 ? w[v + 1] : "not judged");
    }
}

static int draw_page(cairo_t *cr, const rm_report *rep, size_t page)
{
    const rm_report_page *pg = &rep->pages[page];
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    int rc = 0;
    for (size_t i = 0; i < pg->n_panels; i++) {
        const rm_report_panel *p = &pg->panels[i];
        if (p->kind != RM_PANEL_HEADER && p->kind != RM_PANEL_TABLE &&
            p->kind != RM_PANEL_VERDICTS && p->kind != RM_PANEL_SUMMARY)
            panel_title(cr, p);
        switch (p->kind) {
        case RM_PANEL_HEADER: draw_header(cr, rep, p); break;
        case RM_PANEL_POSITION: rc |= draw_position(cr, rep, p); break;
        case RM_PANEL_SPEED: rc |= draw_speed(cr, rep, p); break;
        case RM_PANEL_FORCE: rc |= draw_force(cr, rep, p); break;
        case RM_PANEL_MAP:
        case RM_PANEL_PEAK_MAP: rc |= draw_map(cr, rep, p); break;
        case RM_PANEL_PASS: draw_pass(cr, rep, p); break;
        case RM_PANEL_TABLE: draw_table(cr, rep, p); break;
        case RM_PANEL_VERDICTS: draw_verdicts(cr, rep, p); break;
        case RM_PANEL_SUMMARY: draw_summary(cr, rep, p); break;
        default: break;
        }
    }
    /* page header line and footer */
    set_colour(cr, C_NA);
    font(cr, 7.5, 0);
    char buf[320];
    rpt_fitf(buf, sizeof buf, "%s  -  %s", rep->title, pg->title);
    const double m = rep->page_w < 400 ? 12 : 36; /* the phone page has narrow margins */
    text(cr, m, 18, 0, page == 0 ? pg->title : buf);
    /* lost data, said on every page that plots over time */
    int timed = 0;
    for (size_t i = 0; i < pg->n_panels; i++)
        timed |= pg->panels[i].x_clock;
    const rm_results *r = rep->results;
    if (page > 0 && timed && rep->quality[0] && (r->frames_lost > 0 || r->disconnects > 0)) {
        set_colour(cr, C_MISS);
        rpt_fitf(buf, sizeof buf, "%s (red on the time plots: no data)", rep->quality);
        text(cr, m, rep->page_h - 12, 0, buf);
        set_colour(cr, C_NA);
    }
    if (rep->n_pages > 1) {
        snprintf(buf, sizeof buf, "page %zu of %zu", page + 1, rep->n_pages);
        text(cr, rep->page_w - m, rep->page_h - 12, 2, buf);
    }
    return rc;
}

/* ---- output ---- */

rm_status rm_report_format_of(const char *path, rm_report_format *fmt, rm_err *err)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (dot && !strcasecmp(dot, ".pdf"))
        *fmt = RM_REPORT_PDF;
    else if (dot && !strcasecmp(dot, ".png"))
        *fmt = RM_REPORT_PNG;
    else if (dot && !strcasecmp(dot, ".svg"))
        *fmt = RM_REPORT_SVG;
    else
        return rm_err_set(err, RM_ERR_ARG, "%s: unknown report format (use .pdf, .png or .svg)",
                          path ? path : "(null)");
    return RM_OK;
}

/* cairo's stream callback; the first failure is reported by the commit */
static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

rm_status rm_report_render(const rm_report *rep, size_t page, double dpi, uint32_t **pixels,
                           int *width, int *height, int *stride, rm_err *err)
{
    *pixels = NULL;
    if (page >= rep->n_pages)
        return rm_err_set(err, RM_ERR_RANGE, "report: page %zu of %zu", page + 1, rep->n_pages);
    if (!(dpi > 0) || dpi > 1200)
        return rm_err_set(err, RM_ERR_RANGE, "report: %g dpi (1..1200)", dpi);
    int w = (int)ceil(rep->page_w * dpi / 72), h = (int)ceil(rep->page_h * dpi / 72);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surf);
        return rm_err_set(err, RM_ERR_NOMEM, "report: no %dx%d image", w, h);
    }
    cairo_t *cr = cairo_create(surf);
    cairo_scale(cr, dpi / 72, dpi / 72);
    int rc = draw_page(cr, rep, page);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    rm_status st = RM_OK;
    int s = cairo_image_surface_get_stride(surf);
    uint32_t *buf = rc ? NULL : malloc((size_t)s * (size_t)h);
    if (!buf)
        st = rm_err_set(err, RM_ERR_NOMEM, "report: out of memory drawing page %zu", page + 1);
    else {
        memcpy(buf, cairo_image_surface_get_data(surf), (size_t)s * (size_t)h);
        *pixels = buf;
        *width = w;
        *height = h;
        *stride = s;
    }
    cairo_surface_destroy(surf);
    return st;
}

rm_status rm_report_write(const rm_report *rep, const char *path, rm_report_format fmt, int page,
                          double dpi, rm_err *err)
{
    if (page >= (int)rep->n_pages)
        return rm_err_set(err, RM_ERR_RANGE, "%s: no page %d, the report has %zu", path, page + 1,
                          rep->n_pages);
    if (fmt != RM_REPORT_PDF && page < 0)
        page = 0;
    if (!(dpi > 0))
        dpi = 110;
    rm_safefile out;
    rm_status st = rm_safefile_open(path, &out, err);
    if (st)
        return st;
    int draw_rc = 0;
    cairo_status_t cs = CAIRO_STATUS_SUCCESS;
    size_t first = page < 0 ? 0 : (size_t)page, last = page < 0 ? rep->n_pages : (size_t)page + 1;
    if (fmt == RM_REPORT_PNG) {
        int w = (int)ceil(rep->page_w * dpi / 72), h = (int)ceil(rep->page_h * dpi / 72);
        cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
        cairo_t *cr = cairo_create(surf);
        cairo_scale(cr, dpi / 72, dpi / 72);
        draw_rc = draw_page(cr, rep, first);
        cairo_destroy(cr);
        cs = cairo_surface_status(surf);
        if (cs == CAIRO_STATUS_SUCCESS)
            cs = cairo_surface_write_to_png_stream(surf, write_stream, out.f);
        cairo_surface_destroy(surf);
    } else {
        cairo_surface_t *surf =
            fmt == RM_REPORT_PDF
                ? cairo_pdf_surface_create_for_stream(write_stream, out.f, rep->page_w, rep->page_h)
                : cairo_svg_surface_create_for_stream(write_stream, out.f, rep->page_w,
                                                      rep->page_h);
        if (fmt == RM_REPORT_PDF) {
            cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, rep->title);
            cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR,
                                           rep->results->software);
        }
        cairo_t *cr = cairo_create(surf);
        for (size_t i = first; i < last && !draw_rc; i++) {
            draw_rc |= draw_page(cr, rep, i);
            cairo_show_page(cr);
        }
        cs = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(surf);
        if (cs == CAIRO_STATUS_SUCCESS)
            cs = cairo_surface_status(surf);
        cairo_surface_destroy(surf);
    }
    if (ferror(out.f))
        return rm_safefile_commit(&out, err); /* fails: names the write's errno, removes the temp */
    if (draw_rc)
        st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory while drawing", path);
    else if (cs != CAIRO_STATUS_SUCCESS)
        st = rm_err_set(err, RM_ERR_IO, "%s: cairo: %s", path, cairo_status_to_string(cs));
    if (st) {
        rm_safefile_abort(&out);
        return st;
    }
    return rm_safefile_commit(&out, err);
}

void rm_report_shutdown(void)
{
    cairo_debug_reset_static_data();
    /* fontconfig comes in through cairo, not linked by us: look it up */
    void (*fc_fini)(void) = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "FcFini");
    memcpy(&fc_fini, &sym, sizeof fc_fini);
    if (fc_fini)
        fc_fini();
}

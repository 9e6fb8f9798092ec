/* history_page.c - the history page (rm_report_history.h). */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rm_report_history.h"
#include "rm_safefile.h"
#include "rpt_internal.h"

#define FONT   "DejaVu Sans"
#define PAGE_W 595.0
#define PAGE_H 842.0
#define MARGIN 40.0

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align * e.x_advance, y);
    cairo_show_text(cr, s);
}

/* A day's colour: grey for none; inside the daily band green, below it
 * amber shading to green, above it green shading to red, so a coach sees
 * at a glance short, good and long days. */
static void day_colour(cairo_t *cr, const rm_report_history *h, double min)
{
    if (!(min > 0)) {
        cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
        return;
    }
    double lo = h->daily_lo_min, hi = h->daily_hi_min;
    if (!(lo > 0) || !(hi > lo)) { /* no band: a plain scale to 15 min */
        double f = fmin(min / 15.0, 1.0);
        cairo_set_source_rgb(cr, 0.85 - 0.6 * f, 0.9 - 0.4 * f, 1.0 - 0.2 * f);
        return;
    }
    if (min < lo) {
        double f = min / lo;
        cairo_set_source_rgb(cr, 0.98, 0.75 + 0.1 * f, 0.35 + 0.2 * f);
    } else if (min <= hi) {
        cairo_set_source_rgb(cr, 0.45, 0.78, 0.45);
    } else {
        double f = fmin((min - hi) / hi, 1.0);
        cairo_set_source_rgb(cr, 0.9, 0.45 - 0.2 * f, 0.4 - 0.2 * f);
    }
}

static const char *mark(int v) { return v < 0 ? "-" : v ? "ok" : "miss"; }

/* The calendar from y; returns the y below it. */
static double draw_calendar(cairo_t *cr, const rm_report_history *h, double y)
{
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const flags[] = {"sessions", "daily", "groups"};
    double label_w = 110, cell_w = 42, flag_w = 50;
    double avail = 330;
    double cell_h = fmin(24, avail / (double)(h->n_weeks ? h->n_weeks : 1));
    font(cr, 8, 1);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int d = 0; d < 7; d++)
        text_at(cr, MARGIN + label_w + cell_w * (d + 0.5), y, days[d], 0.5);
    for (int k = 0; k < 3; k++)
        text_at(cr, MARGIN + label_w + 7 * cell_w + flag_w * (k + 0.5), y, flags[k], 0.5);
    y += 4;
    for (size_t i = 0; i < h->n_weeks; i++) {
        const rm_report_history_week *w = &h->weeks[i];
        double top = y + cell_h * (double)i;
        font(cr, fmin(8, cell_h * 0.6), 0);
        cairo_set_source_rgb(cr, 0, 0, 0);
        char lab[40];
        rpt_fitf(lab, sizeof lab, "%s (%s)", w->week, w->monday);
        text_at(cr, MARGIN, top + cell_h * 0.65, lab, 0);
        for (int d = 0; d < 7; d++) {
            double x = MARGIN + label_w + cell_w * d;
            day_colour(cr, h, w->day_min[d]);
            cairo_rectangle(cr, x + 1, top + 1, cell_w - 2, cell_h - 2);
            cairo_fill(cr);
            if (w->day_min[d] > 0 && cell_h >= 8) {
                char m[16];
                snprintf(m, sizeof m, "%.1f", w->day_min[d]);
                cairo_set_source_rgb(cr, 0, 0, 0);
                text_at(cr, x + cell_w / 2, top + cell_h * 0.65, m, 0.5);
            }
        }
        int f[3] = {w->sessions_ok, w->daily_ok, w->groups_ok};
        for (int k = 0; k < 3; k++) {
            if (f[k] == 0)
                cairo_set_source_rgb(cr, 0.75, 0.1, 0.1);
            else
                cairo_set_source_rgb(cr, 0.1, 0.45, 0.1);
            text_at(cr, MARGIN + label_w + 7 * cell_w + flag_w * (k + 0.5), top + cell_h * 0.65,
                    mark(f[k]), 0.5);
        }
    }
    y += cell_h * (double)h->n_weeks + 14;
    font(cr, 7.5, 0);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    char legend[160];
    if (h->daily_lo_min > 0)
        rpt_fitf(legend, sizeof legend,
                 "minutes a day: amber below %.0f, green %.0f-%.0f, red above; grey: no session",
                 h->daily_lo_min, h->daily_lo_min, h->daily_hi_min);
    else
        rpt_fitf(legend, sizeof legend, "minutes a day (darker: more); grey: no session");
    text_at(cr, MARGIN, y, legend, 0);
    return y + 16;
}

static void group_colour(cairo_t *cr, size_t g)
{
    static const double pal[][3] = {{0.12, 0.47, 0.71}, {1.0, 0.5, 0.05},  {0.17, 0.63, 0.17},
                                    {0.84, 0.15, 0.16}, {0.58, 0.4, 0.74}, {0.55, 0.34, 0.29},
                                    {0.89, 0.47, 0.76}, {0.5, 0.5, 0.5}};
    const double *c = pal[g % 8];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

typedef enum { TR_SPEED, TR_HOLD, TR_FORCE } trend_kind;

static double trend_value(const rm_report_history_week *w, trend_kind k, size_t g)
{
    return k == TR_SPEED ? w->speed_cm_s[g] : k == TR_HOLD ? w->hold_ok[g] : w->force_n[g];
}

/* One trend panel in the box (x, y, pw, ph). */
static void draw_trend(cairo_t *cr, const rm_report_history *h, trend_kind k, const char *title,
                       double x, double y, double pw, double ph)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < h->n_weeks; i++)
        for (size_t g = 0; g < h->n_groups; g++) {
            double v = trend_value(&h->weeks[i], k, g);
            if (isfinite(v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
    if (k == TR_HOLD)
        lo = 0, hi = 1;
    if (k == TR_SPEED && h->speed_hi > 0)
        lo = fmin(lo, h->speed_lo), hi = fmax(hi, h->speed_hi);
    if (!isfinite(lo))
        lo = 0, hi = 1;
    if (k != TR_HOLD)
        lo = fmin(lo, 0), hi = hi > lo ? hi * 1.1 : lo + 1;
    font(cr, 9, 1);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, x, y - 4, title, 0);
    cairo_set_source_rgb(cr, 0.97, 0.97, 0.97);
    cairo_rectangle(cr, x, y, pw, ph);
    cairo_fill(cr);
    double X0 = x, W = pw, n = (double)(h->n_weeks > 1 ? h->n_weeks - 1 : 1);
#define PX(i) (X0 + W * ((h->n_weeks > 1 ? (double)(i) / n : 0.5)))
#define PY(v) (y + ph - ph * ((v)-lo) / (hi - lo))
    if (k == TR_SPEED && h->speed_hi > 0) { /* the target band */
        cairo_set_source_rgba(cr, 0.3, 0.7, 0.3, 0.18);
        cairo_rectangle(cr, x, PY(h->speed_hi), pw, PY(h->speed_lo) - PY(h->speed_hi));
        cairo_fill(cr);
    }
    font(cr, 7, 0);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    char tick[32];
    snprintf(tick, sizeof tick, k == TR_HOLD ? "%.0f %%" : "%.3g", k == TR_HOLD ? hi * 100 : hi);
    text_at(cr, x - 3, y + 7, tick, 1);
    snprintf(tick, sizeof tick, k == TR_HOLD ? "%.0f %%" : "%.3g", k == TR_HOLD ? lo * 100 : lo);
    text_at(cr, x - 3, y + ph, tick, 1);
    for (size_t i = 0; i < h->n_weeks; i += 1 + h->n_weeks / 8)
        text_at(cr, PX(i), y + ph + 9, h->weeks[i].week, 0.5);
    cairo_set_line_width(cr, 1.4);
    for (size_t g = 0; g < h->n_groups; g++) {
        group_colour(cr, g);
        int down = 0;
        for (size_t i = 0; i < h->n_weeks; i++) {
            double v = trend_value(&h->weeks[i], k, g);
            if (!isfinite(v)) {
                down = 0;
                continue;
            }
            if (down)
                cairo_line_to(cr, PX(i), PY(v));
            else
                cairo_move_to(cr, PX(i), PY(v));
            down = 1;
        }
        cairo_stroke(cr);
        for (size_t i = 0; i < h->n_weeks; i++) {
            double v = trend_value(&h->weeks[i], k, g);
            if (isfinite(v)) {
                cairo_arc(cr, PX(i), PY(v), 1.8, 0, 2 * M_PI);
                cairo_fill(cr);
            }
        }
    }
#undef PX
#undef PY
}

static void draw_page(cairo_t *cr, const rm_report_history *h)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    font(cr, 15, 1);
    char t[160];
    rpt_fitf(t, sizeof t, "History of %s", h->subject);
    text_at(cr, MARGIN, MARGIN + 8, t, 0);
    font(cr, 9, 0);
    rpt_fitf(t, sizeof t, "%zu week%s, %s to %s; weekly plan of profile %s", h->n_weeks,
             h->n_weeks == 1 ? "" : "s", h->n_weeks ? h->weeks[0].week : "-",
             h->n_weeks ? h->weeks[h->n_weeks - 1].week : "-", h->profile);
    text_at(cr, MARGIN, MARGIN + 24, t, 0);
    double y = draw_calendar(cr, h, MARGIN + 50);
    double pw = PAGE_W - 2 * MARGIN - 20, ph = (PAGE_H - y - MARGIN - 3 * 36 - 20) / 3;
    if (ph > 110)
        ph = 110;
    draw_trend(cr, h, TR_SPEED, "Speed of each group's sets (cm/s; green: target band)",
               MARGIN + 20, y + 12, pw, ph);
    draw_trend(cr, h, TR_HOLD, "Hold discipline (sets whose holds were inside the band)",
               MARGIN + 20, y + 12 + (ph + 36), pw, ph);
    draw_trend(cr, h, TR_FORCE, "Mean roller force (N)", MARGIN + 20, y + 12 + 2 * (ph + 36), pw,
               ph);
    double ly = y + 12 + 3 * (ph + 36) + 2, lx = MARGIN + 20;
    font(cr, 8, 0);
    for (size_t g = 0; g < h->n_groups; g++) {
        group_colour(cr, g);
        cairo_rectangle(cr, lx, ly - 6, 10, 6);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, lx + 13, ly, h->groups[g], 0);
        cairo_text_extents_t e;
        cairo_text_extents(cr, h->groups[g], &e);
        lx += 13 + e.x_advance + 14;
    }
}

static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

rm_status rm_report_history_write(const rm_report_history *h, const char *path,
                                  rm_report_format fmt, double dpi, rm_err *err)
{
    if (h->n_groups > RM_REPORT_HISTORY_GROUPS)
        return rm_err_set(err, RM_ERR_RANGE, "%s: more than %d groups", path,
                          RM_REPORT_HISTORY_GROUPS);
    if (!(dpi > 0))
        dpi = 110;
    rm_safefile out;
    rm_status st = rm_safefile_open(path, &out, err);
    if (st)
        return st;
    cairo_status_t cs;
    if (fmt == RM_REPORT_PNG) {
        int w = (int)ceil(PAGE_W * dpi / 72), hh = (int)ceil(PAGE_H * dpi / 72);
        cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, hh);
        cairo_t *cr = cairo_create(surf);
        cairo_scale(cr, dpi / 72, dpi / 72);
        draw_page(cr, h);
        cs = cairo_status(cr);
        cairo_destroy(cr);
        if (cs == CAIRO_STATUS_SUCCESS)
            cs = cairo_surface_write_to_png_stream(surf, write_stream, out.f);
        cairo_surface_destroy(surf);
    } else {
        cairo_surface_t *surf =
            fmt == RM_REPORT_PDF
                ? cairo_pdf_surface_create_for_stream(write_stream, out.f, PAGE_W, PAGE_H)
                : cairo_svg_surface_create_for_stream(write_stream, out.f, PAGE_W, PAGE_H);
        if (fmt == RM_REPORT_PDF && h->software)
            cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, h->software);
        cairo_t *cr = cairo_create(surf);
        draw_page(cr, h);
        cairo_show_page(cr);
        cs = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(surf);
        if (cs == CAIRO_STATUS_SUCCESS)
            cs = cairo_surface_status(surf);
        cairo_surface_destroy(surf);
    }
    if (ferror(out.f))
        return rm_safefile_commit(&out, err); /* fails: names the write's errno */
    if (cs != CAIRO_STATUS_SUCCESS) {
        rm_safefile_abort(&out);
        return rm_err_set(err, RM_ERR_IO, "%s: cairo: %s", path, cairo_status_to_string(cs));
    }
    return rm_safefile_commit(&out, err);
}

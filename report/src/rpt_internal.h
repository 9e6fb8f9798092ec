/* rpt_internal.h - shared by report.c (layout) and report_draw.c
 * (cairo); not part of the public API. */
#ifndef RPT_INTERNAL_H
#define RPT_INTERNAL_H

#include "rm_constants.h"
#include "rm_report.h"

#define RPT_G       RM_GRAVITY /* body weight = mass * g */
#define RPT_TARGETS 4          /* set, speed, pass, hold rows per set */

typedef enum rpt_trace {
    RPT_TRACE_POSITION,     /* roller x, cm */
    RPT_TRACE_SPEED,        /* |speed| while loaded, cm/s */
    RPT_TRACE_ROLLER_FORCE, /* N */
    RPT_TRACE_TOTAL_FORCE,  /* N, everything on the mat */
} rpt_trace;

/* A polyline; a NaN vertex breaks it. Owned arrays. */
typedef struct rpt_poly {
    size_t n, cap;
    double *t, *v;
} rpt_poly;

void rpt_poly_free(rpt_poly *p);
/* Finite vertices (what the drawing plots). */
size_t rpt_poly_vertices(const rpt_poly *p);
double rpt_trace_value(const rm_results *r, rpt_trace what, size_t i);
/* Min/max decimated trace over [t0, t1] in nbins bins; 0 or -1 (memory). */
int rpt_trace_series(const rm_results *r, rpt_trace what, double t0, double t1, size_t nbins,
                     rpt_poly *out);
/* Roller track (t = x cm, v = y cm) over [t0, t1], at most max_points. */
int rpt_trace_track(const rm_results *r, double t0, double t1, size_t max_points, rpt_poly *out);
/* Bins of a series panel (from its plot width). */
size_t rpt_bins(const rm_report_panel *p);
/* The mean-pressure map of a segment (seg < 0: the session), or NULL. */
const float *rm_report_map(const rm_results *r, int seg);
/* The mean (peak = 0) or peak-pressure map of a segment (seg < 0: the
 * session), or NULL. */
const float *rpt_map_of(const rm_results *r, int seg, int peak);
/* Whether segment seg (seg < 0: the session) was worked with a roller:
 * a roller was found and the set is not a massage-ball set. */
int rpt_has_roller(const rm_results *r, int seg);
/* Gaps in the frame times over [t0, t1] (a step over 1.5 frame periods:
 * lost frames, unplugs): their count; the first cap spans go to
 * start/end (may be NULL). */
size_t rpt_gaps(const rm_results *r, double t0, double t1, double *start, double *end, size_t cap);

/* A support the analysis found beside the tool (a hand, forearm, foot). */
typedef struct rpt_support {
    char kind[16];
    double x_cm, y_cm, force_n;
} rpt_support;
/* Parses the segment's supports evidence; returns how many (<= cap). */
size_t rpt_supports(const rm_segment_result *s, rpt_support *out, size_t cap);

double rpt_nice_step(double range, int target_ticks);
/* A tick step for a time axis read as m:ss (0.5, 1, 2, 5, 10, 15, 20,
 * 30 s, 1, 2, 5, 10, 15, 30 min, 1 h ...). */
double rpt_clock_step(double range, int target_ticks);

/* snprintf for text drawn in a fixed box (titles, table cells, captions):
 * a text too long for `cap` ends in "..." so the cut is visible on the
 * page, never silent. */
void rpt_fitf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *rm_report_basename(const char *path);

/* Fills the report's who-and-when texts (title, subtitle, quality), the
 * lights per set, the daily total, the tally and the actions (summary.c).
 * 0, or -1 when out of memory. */
int rpt_summary(rm_report *rep);

/* The day's time on the muscles, s: rolling and holding with the roller
 * plus the massage ball's time on its spots (*ball_s, if not NULL). */
double rpt_daily_s(const rm_results *r, double *ball_s);

#endif

/* report_internal.h - shared by report.c (layout) and report_draw.c
 * (cairo); not part of the public API. */
#ifndef RM_REPORT_INTERNAL_H
#define RM_REPORT_INTERNAL_H

#include "rm_constants.h"
#include "rm_report.h"

#define RM_REPORT_G RM_GRAVITY   /* body weight = mass * g */
#define RM_REPORT_TARGETS 4      /* set, speed, pass, hold rows per set */

typedef enum rm_trace {
    RM_TRACE_POSITION,       /* roller x, cm */
    RM_TRACE_SPEED,          /* |speed| while loaded, cm/s */
    RM_TRACE_ROLLER_FORCE,   /* N */
    RM_TRACE_TOTAL_FORCE,    /* N, everything on the mat */
} rm_trace;

/* A polyline; a NaN vertex breaks it. Owned arrays. */
typedef struct rm_poly {
    size_t n, cap;
    double *t, *v;
} rm_poly;

void rm_poly_free(rm_poly *p);
/* Finite vertices (what the drawing plots). */
size_t rm_poly_vertices(const rm_poly *p);
double rm_trace_value(const rm_results *r, rm_trace what, size_t i);
/* Min/max decimated trace over [t0, t1] in nbins bins; 0 or -1 (memory). */
int rm_trace_series(const rm_results *r, rm_trace what, double t0, double t1, size_t nbins,
                    rm_poly *out);
/* Roller track (t = x cm, v = y cm) over [t0, t1], at most max_points. */
int rm_trace_track(const rm_results *r, double t0, double t1, size_t max_points, rm_poly *out);
/* Bins of a series panel (from its plot width). */
size_t rm_report_bins(const rm_report_panel *p);
/* The mean-pressure map of a segment (seg < 0: the session), or NULL. */
const float *rm_report_map(const rm_results *r, int seg);
double rm_nice_step(double range, int target_ticks);
const char *rm_report_basename(const char *path);

#endif

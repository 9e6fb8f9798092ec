/* rm_report.h - the report of an analysis, drawn with cairo (PDF, PNG, SVG).
 *
 * Two steps, so tests can check the drawing without reading pixels:
 *   rm_report_build   lays out the pages: a drawing model (pages, panels,
 *                     their frames on the page, axis ranges, the number of
 *                     points and marks each panel plots);
 *   rm_report_write   draws the model with cairo into a file (temporary
 *                     name in the same folder, fsync, rename);
 *   rm_report_render  draws one page into an ARGB pixel buffer.
 *
 * Pages (A4 portrait, 595 x 842 pt):
 *   1  summary: who and when (subject, body mass, date and time, profile,
 *      data quality); one traffic-light row per set (time, pace, holds
 *      against the profile, with the measured numbers), the daily total,
 *      the session verdict, and two or three actions in numbers;
 *   2  overview: roller position over time with strokes, holds
 *      and segment labels; speed against the profile's target band; roller
 *      force (and share of body weight when known);
 *   3  segment summary: a table of the numbers per segment, then each
 *      target judged in a coach's words with a pass/miss mark (more pages
 *      when a routine has more sets than one page holds);
 *   4+ one page per segment: the mean-pressure map (kPa colour scale with a
 *      legend, mat axes in cm, roller track and holds drawn on it, the
 *      supports visible as the compact contacts) and the segment's position,
 *      speed and force.
 * A recording without segments gets a session page with the session map.
 *
 * Ownership: the report borrows `results` (it must outlive the report) and
 * copies the profile; rm_report_free releases the model. */
#ifndef RM_REPORT_H
#define RM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rm_analysis.h"
#include "rm_judge.h" /* rm_light, rm_target, rm_judged: the lights of the summary */
#include "rm_results.h"
#include "rm_status.h"

#define RM_REPORT_MAX_PANELS 8
#define RM_REPORT_PAGE_W     595.276 /* A4 in points (1/72 inch) */
#define RM_REPORT_PAGE_H     841.890

typedef enum rm_report_panel_kind {
    RM_PANEL_HEADER = 0, /* title block and session comment */
    RM_PANEL_POSITION,   /* roller x over time: strokes, holds, segments */
    RM_PANEL_SPEED,      /* |speed| over time against the target band */
    RM_PANEL_FORCE,      /* roller force over time (+ body-weight share) */
    RM_PANEL_MAP,        /* mean-pressure map with roller track */
    RM_PANEL_TABLE,      /* numbers per segment */
    RM_PANEL_VERDICTS,   /* each target in words with a pass/miss mark */
    RM_PANEL_SUMMARY,    /* traffic lights per set, the session verdict, actions */
    RM_PANEL_PEAK_MAP,   /* peak-pressure map beside the mean map, same colour scale */
    RM_PANEL_PASS,       /* duration of each pass against the profile's pass band
                            (a profile without a speed band, e.g. behm2020) */
    RM_PANEL_KIND_COUNT
} rm_report_panel_kind;

/* Name of a panel kind ("map"), NULL outside the range. */
const char *rm_report_panel_kind_name(rm_report_panel_kind k);

typedef struct rm_report_panel {
    rm_report_panel_kind kind;
    int segment;           /* segment index; -1: the whole session */
    double x, y, w, h;     /* frame on the page, pt from the top left */
    double px, py, pw, ph; /* plot area inside the frame (axes box) */
    double x_min, x_max;   /* axis ranges in data units (s, cm) */
    double y_min, y_max;
    double y2_min, y2_max;   /* right axis (force: % body weight); NaN if none */
    double c_min, c_max;     /* map colour scale, kPa; NaN elsewhere */
    double band_lo, band_hi; /* speed (or pass-duration) target band; NaN if none */
    int x_clock;             /* the x axis is time, ticks as m:ss */
    size_t n_gaps;           /* data gaps (frames lost, unplugs) marked on a time plot */
    size_t n_supports;       /* supports (hand, forearm, foot) named on a mean map */
    size_t n_points;         /* vertices of the plotted lines, or map cells */
    size_t n_marks;          /* strokes + holds marked, table rows, verdict rows */
    size_t first, count;     /* table and verdicts: the sets [first, first+count)
                                   they hold (long routines continue on more pages) */
    char title[128];
    char x_label[48], y_label[48], y2_label[48];
} rm_report_panel;

typedef struct rm_report_page {
    char title[128];
    size_t n_panels;
    rm_report_panel panels[RM_REPORT_MAX_PANELS];
} rm_report_page;

/* ---- the summary (page 1, and the phone picture) ----
 * Each set gets a light per target of the profile (time on the muscle
 * group, pace, holds), the daily total is one more target: the rules and
 * the types are the analysis' (rm_judge.h), so `rollmat batch --per
 * session` writes the same verdicts the page shows. The report's names
 * for them: */
typedef rm_target rm_report_target;
typedef rm_judged rm_report_light;

#define RM_REPORT_MAX_ACTIONS 3
#define RM_REPORT_ACTION_LEN  200

typedef struct rm_report {
    double page_w, page_h; /* pt */
    size_t n_pages;
    rm_report_page *pages;     /* owned */
    const rm_results *results; /* borrowed */
    rm_profile profile;        /* copy (speed band, hold band ...) */
    int has_profile;
    char title[256];
    char subtitle[256]; /* who and when: subject, body mass, date and time, profile */
    char quality[256];  /* the recording's data quality in words ("" if nothing lost) */
    /* the summary: lights per set (n_segments x RM_TARGET_COUNT, owned),
     * the daily total, the verdict and the actions sized to the shortfall */
    int pace_by_pass; /* the pace column judges s per pass, not cm/s */
    rm_report_light *lights;
    rm_report_light daily;
    int targets_met, targets_judged;
    size_t n_actions;
    char actions[RM_REPORT_MAX_ACTIONS][RM_REPORT_ACTION_LEN];
} rm_report;

/* Lays out the report of `r`. profile may be NULL (no target band drawn;
 * the verdicts stored in r are shown as they are). *out is new; free it
 * with rm_report_free. */
rm_status rm_report_build(const rm_results *r, const rm_profile *profile, rm_report **out,
                          rm_err *err);
void rm_report_free(rm_report *rep);

/* The summary alone on one phone-sized page (360 x 640 pt: 1080 x 1920
 * pixels at 216 dpi) to share; the same model as rm_report_build, one page
 * with the header and the summary panel. Free with rm_report_free. */
#define RM_REPORT_PHONE_W   360.0
#define RM_REPORT_PHONE_H   640.0
#define RM_REPORT_PHONE_DPI 216.0
rm_status rm_report_build_summary(const rm_results *r, const rm_profile *profile, rm_report **out,
                                  rm_err *err);

/* Set k's light for target t (k < n_segments of the report's results). */
const rm_report_light *rm_report_light_at(const rm_report *rep, size_t k, rm_report_target t);

/* Judges r's segments and totals again against another profile (the
 * scores, verdicts and comments are replaced; the measurements stay). */
void rm_report_rescore(rm_results *r, const rm_profile *profile);

/* A time in s as a clock, the way the report's time axes show it:
 * "m:ss" ("0:05", "12:30"), "h:mm:ss" from an hour, with tenths
 * ("0:02.5") when `tenths` is set; negative times get a leading "-".
 * Writes at most cap bytes (NUL included); "-" for a non-finite time. */
void rm_report_clock(char *o, size_t cap, double s, int tenths);

/* Number of panels of a kind over all pages. */
size_t rm_report_count_panels(const rm_report *rep, rm_report_panel_kind kind);

typedef enum rm_report_format { RM_REPORT_PDF = 0, RM_REPORT_PNG, RM_REPORT_SVG } rm_report_format;

/* The format from a file name's extension (.pdf .png .svg, any case);
 * RM_ERR_ARG naming the path otherwise. */
rm_status rm_report_format_of(const char *path, rm_report_format *fmt, rm_err *err);

/* Draws pages into `path` (replaced atomically). page < 0: every page
 * (PDF only; PNG and SVG hold one page, so page < 0 means the first);
 * else the 0-based page. dpi applies to PNG (<= 0: 110). */
rm_status rm_report_write(const rm_report *rep, const char *path, rm_report_format fmt, int page,
                          double dpi, rm_err *err);

/* Draws page `page` (0-based) at `dpi` into a new buffer of ARGB32 pixels
 * (premultiplied, native endian, `*stride` bytes a row) the caller frees
 * with free(). A page point (x, y) maps to pixel (x*dpi/72, y*dpi/72). */
rm_status rm_report_render(const rm_report *rep, size_t page, double dpi, uint32_t **pixels,
                           int *width, int *height, int *stride, rm_err *err);

/* Releases cairo's and fontconfig's process-wide caches. Call once, after
 * the last report, before the process exits (leak checkers otherwise see
 * fontconfig's caches as leaks); no report may be drawn afterwards. */
void rm_report_shutdown(void);

#endif

/* rm_results.h - the results file, version 1 (the analysis of a recording).
 * Layout: DESIGN.md "Results file, version 1" and docs/metrics.md.
 *
 *   /  attrs conventions = "rollmat-results-1", source, profile, software
 *   /recording            external link to the recording's root
 *   /series/NAME          float32 [time] (state: uint8)
 *   /strokes /holds /segments   compound tables
 *   /maps/mean_kpa, peak_kpa, contact_s           float32 [row, col], session
 *   /maps/segment_mean_kpa, ... (same names)     float32 [segment, row, col]
 *   /spectra/freq_hz, position_psd, force_psd    float32 [freq]
 *
 * plus a JSON summary (segment table and session totals under the same
 * names). Both files are written to a temporary name, fsynced and renamed.
 *
 * The in-memory model (rm_results) is filled by the analysis (analyze/) and
 * by rm_results_open; report and batch read it. Ownership: an rm_results
 * owns every array it points to; rm_results_free releases it all. */
#ifndef RM_RESULTS_H
#define RM_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "rm_status.h"

#define RM_RESULTS_CONVENTIONS "rollmat-results-1"
#define RM_RESULTS_LABEL_LEN 64
#define RM_RESULTS_COMMENT_LEN 512
#define RM_RESULTS_NAME_LEN 256

/* The float32 per-frame series, in file order (/series/NAME). */
typedef enum rm_series_id {
    RM_SERIES_TIME = 0,
    RM_SERIES_FORCE_N,
    RM_SERIES_AREA_CM2,
    RM_SERIES_PEAK_KPA,
    RM_SERIES_COP_X_CM,
    RM_SERIES_COP_Y_CM,
    RM_SERIES_ROLLER_X_CM,
    RM_SERIES_ROLLER_Y_CM,
    RM_SERIES_ROLLER_FORCE_N,
    RM_SERIES_ROLLER_AREA_CM2,
    RM_SERIES_ROLLER_PEAK_KPA,
    RM_SERIES_SPEED_CM_S,
    RM_SERIES_COUNT
} rm_series_id;

/* Name of a series ("force_n"), NULL outside the range. */
const char *rm_series_name(rm_series_id id);
/* Units of a series ("N"). */
const char *rm_series_units(rm_series_id id);

/* Per-frame state (/series/state). */
enum { RM_STATE_UNLOADED = 0, RM_STATE_ROLLING = 1, RM_STATE_HOLDING = 2 };

/* A verdict against a profile band. */
typedef enum rm_verdict {
    RM_VERDICT_NA = -2,     /* no target in the profile, or nothing to judge */
    RM_VERDICT_BELOW = -1,
    RM_VERDICT_INSIDE = 0,
    RM_VERDICT_ABOVE = 1,
} rm_verdict;

typedef struct rm_stroke {
    double start_s, end_s;
    float from_x_cm, to_x_cm, length_cm;
    float mean_speed_cm_s, peak_speed_cm_s, mean_force_n;
    int32_t segment;         /* index into segments, -1 if none */
} rm_stroke;

typedef struct rm_hold {
    double start_s, end_s;
    float x_cm, mean_force_n;
    int32_t segment;
} rm_hold;

typedef struct rm_segment_result {
    int32_t index;
    char label[RM_RESULTS_LABEL_LEN];
    double start_s, end_s;
    float rolling_s, holding_s;
    int32_t strokes, holds;
    float cadence_cpm;          /* Welch spectrum of roller x while rolling */
    float stroke_cadence_cpm;   /* strokes / 2 per rolling minute */
    float mean_speed_cm_s;      /* mean |speed| while rolling */
    float mean_pass_s;          /* mean stroke duration */
    float mean_force_n;         /* mean roller force while loaded */
    float mean_roller_kpa;      /* roller force / roller area, mean */
    float roller_area_cm2;      /* mean roller contact area */
    float peak_roller_kpa;      /* max roller peak pressure */
    float load_share;           /* mean roller force / total force */
    float body_weight_share;    /* mean roller force / body weight; NaN if unknown */
    float steadiness;           /* 1 - shaking-band share of force power */
    float coverage;             /* evenness of time along the stroke range, 0..1 */
    float range_cm;             /* stroke range (5th..95th percentile of x) */
    int8_t set_verdict, speed_verdict, pass_verdict, hold_verdict;
    float score;                /* share of judged targets met, 0..1; NaN if none */
    char comment[RM_RESULTS_COMMENT_LEN]; /* in a coach's words */
} rm_segment_result;

/* Session totals (JSON "session", and root attributes of /segments). */
typedef struct rm_session_totals {
    double duration_s;          /* recording length */
    double rolling_s, holding_s, loaded_s;
    int32_t strokes, holds, segments;
    float mean_speed_cm_s, cadence_cpm, mean_force_n, peak_kpa;
    float score;
    int8_t total_verdict;       /* rolling + holding time against the daily total */
    int roller_found;           /* 0: no roller anywhere (e.g. an import) */
    int hot_sensels, dead_sensels;
    char comment[RM_RESULTS_COMMENT_LEN * 2];
} rm_session_totals;

typedef struct rm_results {
    char source[RM_RESULTS_NAME_LEN];     /* recording file name */
    char recording_path[4096];            /* path for the external link ("" = none) */
    char profile[RM_RESULTS_NAME_LEN];
    char software[64];
    uint16_t rows, cols;
    double row_pitch_cm, col_pitch_cm, rate_hz, body_mass_kg;

    size_t n_frames;
    float *series[RM_SERIES_COUNT];       /* n_frames each */
    uint8_t *state;                       /* n_frames */

    size_t n_strokes, n_holds, n_segments;
    rm_stroke *strokes;
    rm_hold *holds;
    rm_segment_result *segments;

    /* rows*cols each; segment maps n_segments*rows*cols */
    float *map_mean_kpa, *map_peak_kpa, *map_contact_s;
    float *seg_mean_kpa, *seg_peak_kpa, *seg_contact_s;

    size_t n_freq;
    float *freq_hz, *position_psd, *force_psd;

    rm_session_totals totals;
} rm_results;

/* Allocates an empty results object (all arrays NULL). */
rm_results *rm_results_new(void);
/* Frees r and every array it owns; NULL is allowed. */
void rm_results_free(rm_results *r);

/* Writes the HDF5 results file at `path` (replaced if it exists) via a
 * temporary file in the same folder, fsync and rename. */
rm_status rm_results_write(const char *path, const rm_results *r, rm_err *err);

/* The JSON summary (segments, strokes/holds counts, session totals) as a
 * newly allocated string the caller frees with free(). */
rm_status rm_results_json(const rm_results *r, char **out, rm_err *err);
/* Writes the JSON summary to `path` (temp, fsync, rename). */
rm_status rm_results_write_json(const char *path, const rm_results *r, rm_err *err);

/* Reads a results file back (validates conventions, shapes, types).
 * On success *out is a new object the caller frees with rm_results_free. */
rm_status rm_results_open(const char *path, rm_results **out, rm_err *err);

/* Index of a series by name, -1 if unknown. */
int rm_series_lookup(const char *name);

#endif

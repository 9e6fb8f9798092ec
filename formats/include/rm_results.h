/* rm_results.h - the results file, version 1 (the analysis of a recording).
 * Layout: DESIGN.md "Results file, version 1" and docs/metrics.md.
 *
 *   /  attrs conventions = "rollmat-results-1", source, profile, software,
 *        title, subject_id, created, labels, frames_lost, disconnects
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
#include <stdio.h>

#include "rm_status.h"

#define RM_RESULTS_CONVENTIONS "rollmat-results-1"
#define RM_RESULTS_LABEL_LEN   64
#define RM_RESULTS_COMMENT_LEN 512
#define RM_RESULTS_NAME_LEN    256

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
    RM_VERDICT_NA = -2, /* no target in the profile, or nothing to judge */
    RM_VERDICT_BELOW = -1,
    RM_VERDICT_INSIDE = 0,
    RM_VERDICT_ABOVE = 1,
} rm_verdict;

typedef struct rm_stroke {
    double start_s, end_s;
    float from_x_cm, to_x_cm, length_cm;
    float mean_speed_cm_s, peak_speed_cm_s, mean_force_n;
    int32_t segment; /* index into segments, -1 if none */
} rm_stroke;

typedef struct rm_hold {
    double start_s, end_s;
    float x_cm, mean_force_n;
    int32_t segment;
} rm_hold;

/* A spot of a massage-ball set: the ball pressed on one place (docs/metrics.md,
 * "Massage ball"). /spots table and JSON segments[i].spots. */
typedef struct rm_spot {
    double start_s, end_s;
    float x_cm, y_cm;    /* mean ball position (pressure-weighted centre) */
    float mean_force_n;  /* mean ball force */
    float force_cv;      /* standard deviation / mean of the ball force */
    float circle_cm;     /* RMS distance of the ball from its mean position */
    int32_t segment;     /* index into segments */
} rm_spot;

#define RM_RESULTS_TOOL_LEN     8
#define RM_RESULTS_POSTURE_LEN  32
#define RM_RESULTS_SUPPORTS_LEN 256

typedef struct rm_segment_result {
    int32_t index;
    char label[RM_RESULTS_LABEL_LEN];
    double start_s, end_s;
    float rolling_s, holding_s;
    int32_t strokes, holds;
    float cadence_cpm;        /* Welch spectrum of roller x while rolling */
    float stroke_cadence_cpm; /* strokes / 2 per rolling minute */
    float mean_speed_cm_s;    /* mean |speed| while rolling */
    float mean_pass_s;        /* mean stroke duration */
    float mean_force_n;       /* mean roller force while loaded */
    float mean_roller_kpa;    /* roller force / roller area, mean */
    float roller_area_cm2;    /* mean roller contact area */
    float peak_roller_kpa;    /* max roller peak pressure */
    float load_share;         /* mean roller force / total force */
    float body_weight_share;  /* mean roller force / body weight; NaN if unknown */
    float steadiness;         /* 1 - shaking-band share of force power */
    float coverage;           /* evenness of time along the stroke range, 0..1 */
    float range_cm;           /* stroke range (5th..95th percentile of x) */
    int8_t set_verdict, speed_verdict, pass_verdict, hold_verdict;
    float score;                          /* share of judged targets met, 0..1; NaN if none */
    char comment[RM_RESULTS_COMMENT_LEN]; /* in a coach's words */
    char tool[RM_RESULTS_TOOL_LEN];       /* "roller" or "ball" ("" in older files: roller) */
    int32_t spots;                        /* ball: number of spots; 0 for a roller set */
    float mean_spot_s;                    /* ball: mean time on a spot; NaN for a roller set */
    float spot_force_cv;                  /* ball: mean force CV over the spots; NaN otherwise */
    int8_t spot_verdict;                  /* ball: spot durations against spot_s of the profile */
    char label_source[12];                /* "operator", "recognised" or "none" */
    char posture[RM_RESULTS_POSTURE_LEN]; /* body position seen: "calves", "calves or
                                             hamstrings", "unknown", ... */
    float posture_confidence;             /* 0..1 (margin of the best match); NaN if none */
    char supports[RM_RESULTS_SUPPORTS_LEN]; /* evidence: supports, their places and loads */
} rm_segment_result;

/* The segment columns, described once: each row drives the member of the
 * /segments compound (in this order), the key in the JSON "segments"
 * objects (same order), the batch CSV column of that name
 * (study/src/batch.c) and the report's table (report/src/report_draw.c).
 * A new segment column is a field of rm_segment_result plus one row here,
 * in the struct's order. Row: X(field, unit, kind); the name is the field's.
 * Kinds: how the field is stored, and so how each output writes it:
 *   INT32    int32_t    HDF5 int32,   JSON integer,            CSV %.6g
 *   FLOAT    float      HDF5 float32, JSON number (NaN: null), CSV %.6g (NaN: NA)
 *   DOUBLE   double     HDF5 float64, JSON number (NaN: null), CSV %.6g (NaN: NA)
 *   VERDICT  int8_t     HDF5 int8,    JSON "below"/"inside"/"above" or null,
 *                                     CSV the same word or NA (rm_verdict)
 *   TEXT     char[N]    HDF5 fixed string of N (NUL-terminated), JSON and CSV text */
#define RM_SEGMENT_COLUMNS(X)                                                                      \
    X(index, "", INT32)                                                                            \
    X(label, "", TEXT)                                                                             \
    X(start_s, "s", DOUBLE)                                                                        \
    X(end_s, "s", DOUBLE)                                                                          \
    X(rolling_s, "s", FLOAT)                                                                       \
    X(holding_s, "s", FLOAT)                                                                       \
    X(strokes, "1", INT32)                                                                         \
    X(holds, "1", INT32)                                                                           \
    X(cadence_cpm, "1/min", FLOAT)                                                                 \
    X(stroke_cadence_cpm, "1/min", FLOAT)                                                          \
    X(mean_speed_cm_s, "cm/s", FLOAT)                                                              \
    X(mean_pass_s, "s", FLOAT)                                                                     \
    X(mean_force_n, "N", FLOAT)                                                                    \
    X(mean_roller_kpa, "kPa", FLOAT)                                                               \
    X(roller_area_cm2, "cm2", FLOAT)                                                               \
    X(peak_roller_kpa, "kPa", FLOAT)                                                               \
    X(load_share, "1", FLOAT)                                                                      \
    X(body_weight_share, "1", FLOAT)                                                               \
    X(steadiness, "1", FLOAT)                                                                      \
    X(coverage, "1", FLOAT)                                                                        \
    X(range_cm, "cm", FLOAT)                                                                       \
    X(set_verdict, "", VERDICT)                                                                    \
    X(speed_verdict, "", VERDICT)                                                                  \
    X(pass_verdict, "", VERDICT)                                                                   \
    X(hold_verdict, "", VERDICT)                                                                   \
    X(score, "1", FLOAT)                                                                           \
    X(comment, "", TEXT)                                                                           \
    X(tool, "", TEXT)                                                                              \
    X(spots, "1", INT32)                                                                           \
    X(mean_spot_s, "s", FLOAT)                                                                     \
    X(spot_force_cv, "1", FLOAT)                                                                   \
    X(spot_verdict, "", VERDICT)                                                                   \
    X(label_source, "", TEXT)                                                                      \
    X(posture, "", TEXT)                                                                           \
    X(posture_confidence, "1", FLOAT)                                                              \
    X(supports, "", TEXT)

typedef enum rm_segcol_kind {
    RM_SEGCOL_INT32,
    RM_SEGCOL_FLOAT,
    RM_SEGCOL_DOUBLE,
    RM_SEGCOL_VERDICT,
    RM_SEGCOL_TEXT,
} rm_segcol_kind;

typedef struct rm_segment_column {
    const char *name; /* the field's name: HDF5 member, JSON key, CSV column */
    const char *unit; /* UDUNITS-style: "s", "1/min", "1" (a count or ratio), "" (none) */
    size_t offset;    /* offsetof(rm_segment_result, field) */
    size_t size;      /* sizeof the field (TEXT: its buffer, NUL included) */
    rm_segcol_kind kind;
} rm_segment_column;

/* The table above, in order; *n (if not NULL) gets the number of rows.
 * Static, constant storage: never freed. */
const rm_segment_column *rm_segment_columns(size_t *n);
/* The row named `name`, NULL if there is none. */
const rm_segment_column *rm_segment_column_find(const char *name);
/* A numeric column's value in s as a double (INT32, FLOAT, DOUBLE, and
 * VERDICT as its rm_verdict number); NaN for a TEXT column. */
double rm_segment_value(const rm_segment_result *s, const rm_segment_column *c);
/* A TEXT column's value in s (NUL-terminated within its buffer by
 * rm_results_open and the analysis); NULL for a numeric column. */
const char *rm_segment_text(const rm_segment_result *s, const rm_segment_column *c);
/* The word of a verdict ("below", "inside", "above"); NULL for
 * RM_VERDICT_NA or anything else (nothing judged). */
const char *rm_verdict_name(int v);

/* Session totals (JSON "session", and root attributes of /segments). */
typedef struct rm_session_totals {
    double duration_s; /* recording length */
    double rolling_s, holding_s, loaded_s;
    int32_t strokes, holds, segments;
    float mean_speed_cm_s, cadence_cpm, mean_force_n, peak_kpa;
    float score;
    int8_t total_verdict; /* rolling + holding time against the daily total */
    int roller_found;     /* 0: no roller anywhere (e.g. an import) */
    int hot_sensels, dead_sensels;
    /* data quality: frames missing from the recording (from the frame
     * times: a step over 1.5 frame periods), the stretches they were lost
     * in, and the mat's disconnects (events) */
    int32_t frames_lost, gaps, disconnects;
    char comment[RM_RESULTS_COMMENT_LEN * 2];
} rm_session_totals;

typedef struct rm_results {
    char source[RM_RESULTS_NAME_LEN]; /* recording file name */
    char recording_path[4096];        /* path for the external link ("" = none) */
    char profile[RM_RESULTS_NAME_LEN];
    char software[64];
    uint16_t rows, cols;
    double row_pitch_cm, col_pitch_cm, rate_hz, body_mass_kg;

    /* Who and when, copied from the recording by the analysis (root
     * attributes of the results file, "recording" in the JSON, columns of
     * every CSV): "" when the recording does not say. */
    char title[128];                     /* the recording's title */
    char subject_id[64];                 /* the recording's /subject id */
    char created[32];                    /* start of the recording, ISO 8601 UTC */
    char labels[RM_RESULTS_COMMENT_LEN]; /* set names given to the analysis
                                            afterwards (analyze --labels), "" if none:
                                            kept so a later analysis (batch) uses them too */
    /* Data quality of the recording: frames the stream lost (sequence gaps,
     * corrupt and truncated frames) and unplugs; -1 when unknown (an import). */
    int64_t frames_lost;
    int32_t disconnects;

    size_t n_frames;
    float *series[RM_SERIES_COUNT]; /* n_frames each */
    uint8_t *state;                 /* n_frames */

    size_t n_strokes, n_holds, n_segments;
    rm_stroke *strokes;
    rm_hold *holds;
    rm_segment_result *segments;
    size_t n_spots; /* massage-ball spots, every ball set's, in time order */
    rm_spot *spots;

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

/* The segment tables as tidy CSV (`rollmat export --strokes|--holds|
 * --spots|--sets`): a header, then one row per stroke, hold, massage-ball
 * spot or set of r, each starting with recording (r->source), subject and
 * recorded so the tables of many recordings stack; stroke, hold and spot
 * rows carry their set's index and label. rm_csv.h's rules (NA for
 * anything unknown); columns in docs/guide-lab.md. */
typedef enum rm_results_table {
    RM_RESULTS_STROKES = 0,
    RM_RESULTS_HOLDS,
    RM_RESULTS_SPOTS,
    RM_RESULTS_SETS,
} rm_results_table;
/* "strokes", "holds", "spots", "sets"; NULL outside the range. */
const char *rm_results_table_name(rm_results_table t);
/* Writes table t of r on f (the caller's, left open). Returns 0, or -1 once
 * a write failed (errno is stdio's) or t is not a table. */
int rm_results_table_csv(FILE *f, const rm_results *r, rm_results_table t);

/* Reads a results file back (validates conventions, shapes, types).
 * On success *out is a new object the caller closes with rm_results_close.
 * The file is read whole and closed before returning: the object holds no
 * HDF5 handle, so it may be read from several threads at once; changing it
 * (rm_report_rescore, a writer) needs the caller's own exclusion. */
rm_status rm_results_open(const char *path, rm_results **out, rm_err *err);

/* Releases what rm_results_open returned (as rm_session_open pairs with
 * rm_session_close); NULL is allowed. Objects from rm_results_new are
 * released with rm_results_free (the two are the same today, but each
 * constructor names its own destructor). */
void rm_results_close(rm_results *r);

/* Index of a series by name, -1 if unknown. */
int rm_series_lookup(const char *name);

#endif

/* rm_analysis.h - the analysis of a foam-rolling recording: frame metrics,
 * roller tracking, pacing, spectra, segments and coaching scores.
 * Definitions, formulas and defaults: docs/metrics.md.
 *
 * Streaming: rm_analysis_push takes one frame at a time (live use by the
 * daemon, or offline from a recording's chunks) and returns the frame's live
 * metrics at once; it keeps only per-frame series (a few floats a frame)
 * and per-sensel accumulators, never frames. rm_analysis_finish runs the
 * zero-phase filtering, strokes, holds, segments, spectra and scores.
 * Memory: fixed per-mat state plus about 60 bytes a frame of series (22 MB
 * an hour at 100 Hz: 48 for the roller and frame series, 12 for the massage
 * ball's), and three rows*cols maps per ball set; with cfg.live_only no
 * series are kept.
 *
 * Ownership: rm_analysis_new copies the config, device and calibration;
 * the caller frees the analysis with rm_analysis_free. A profile is a plain
 * struct that rm_profile_load fills in: nothing to free.
 *
 * Threads: an rm_analysis has no lock of its own and must never be used
 * from two threads at the same time: push, label, finish and free all
 * change it (push rewrites per-frame scratch and the trackers' state even
 * with live_only), so two concurrent calls on one analysis, even a push
 * and a label, are a data race. What is allowed:
 * - one thread at a time: the analysis may move between threads (created
 *   on one, pushed on another, freed on a third, as the daemon's live sink
 *   does) provided each hand-over synchronises (a mutex, a queue, a thread
 *   join); it keeps no thread-local state;
 * - another thread wanting the live metrics gets them from the pushing
 *   thread (copy the rm_live_metrics out under the caller's own lock), not
 *   from the analysis;
 * - separate analyses in separate threads at once, as the batch does: they
 *   share no mutable state. The one shared thing is FFTW's planner, which
 *   is not thread-safe; rm_analysis_finish takes a lock of this library
 *   around its own planning, but a program that also plans FFTs elsewhere
 *   at the same time must serialise those itself (or call
 *   fftw_make_planner_thread_safe once before starting threads);
 * - the results of finish are the caller's own object, independent of the
 *   analysis (series move out of it); rm_analysis_config_*,
 *   rm_profile_parse/load, rm_score_results and rm_results_coach_text only
 *   touch their arguments, so they may run in any thread on distinct
 *   objects (rm_profile_load reads the environment: do not setenv
 *   meanwhile);
 * - rm_analyze_session is self-contained (its own session and analysis);
 *   the inflate threads it starts (cfg.threads) only read the file, the
 *   analysis runs on the caller's thread. */
#ifndef RM_ANALYSIS_H
#define RM_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "rm_packet.h"
#include "rm_calib.h"
#include "rm_results.h"
#include "rm_status.h"

/* A coaching profile: target bands with the source of each. A band whose
 * `set` is 0 is not part of the profile (no verdict). */
typedef struct rm_band {
    int set;
    double lo, hi;
    double target; /* NaN if the source gives a band only */
    char source[256];
} rm_band;

typedef struct rm_profile {
    char name[64];
    char title[128];
    rm_band speed_cm_s; /* mean rolling speed */
    rm_band pass_s;     /* duration of one one-way pass */
    rm_band hold_s;     /* duration of a hold on a tender spot */
    rm_band set_s;      /* time on one muscle group (a segment) */
    rm_band daily_s;    /* total rolling time of the session */
    /* The weekly plan (rollmat history; docs/study.md): */
    rm_band week_sessions; /* sessions in an ISO week */
    rm_band group_s;       /* time on each planned group in each session */
    char groups[256];      /* the planned groups, space-separated ("" = none) */
    char groups_source[256];
    rm_band spot_s;     /* massage ball: time on one spot */
    rm_band spot_force_cv; /* massage ball: steadiness of the pressure on a spot */
} rm_profile;

/* Loads a profile by name ("guide", "behm2020": the shipped files) or from
 * a file path (a name with '/' or ending in ".profile"). Errors name the
 * file and line. */
rm_status rm_profile_load(const char *name_or_path, rm_profile *out, rm_err *err);

/* Judges results against a profile again (comments, verdicts, scores of
 * every segment and of the totals), in place: what a report does when it is
 * asked for a different profile than the one the results were made with. */
void rm_score_results(rm_results *r, const rm_profile *profile);
/* Parses profile text (the file format of docs/metrics.md). `what` names
 * the text in error messages. */
rm_status rm_profile_parse(const char *text, const char *what, rm_profile *out, rm_err *err);

/* Every threshold and filter setting, with the defaults of
 * rm_analysis_config_default (documented in docs/metrics.md). */
typedef struct rm_analysis_config {
    double noise_kpa;                /* a sensel is loaded above this (0.2) */
    double noise_sigmas;             /* and above zero + this many noise sigmas,
                                    sigma estimated from the frames (5; 0 = off) */
    int min_contact_sensels;         /* smaller components are noise (3) */
    double roller_min_length_cm;     /* roller extent across the mat (y) (12) */
    double roller_min_aspect;        /* weighted spread across / along (2.5) */
    double roller_max_width_cm;      /* x extent of the roller contact (12) */
    double roller_row_share;         /* roller rows: sensel count share of the busiest (0.25) */
    double roller_max_jump_cm;       /* continuity: x change frame to frame (5) */
    double hot_after_s;              /* a lone sensel loaded this long is hot (2) */
    double dead_after_s;             /* unloaded inside a loaded patch this long (0.5) */
    double lowpass_hz;               /* cut-off of the zero-phase 2nd-order
                                    Butterworth (forward-backward) on x (1.5) */
    double fill_gap_s;               /* roller gaps up to this are bridged for pacing (0.5) */
    double rolling_speed_cm_s;       /* |speed| above: rolling (0.5) */
    double hold_min_s;               /* a stay below the speed this long: hold (3) */
    double hold_edge_cm;             /* hold edges: x within this of the spot (0.2) */
    double min_excursion_cm;         /* stroke hysteresis (2) */
    double segment_gap_s;            /* roller unloaded this long ends a set (4) */
    double min_segment_s;            /* shorter loaded stretches are no set (5) */
    double welch_window_s;           /* Welch segment length (40) */
    double shake_lo_hz, shake_hi_hz; /* steadiness band (3..12) */
    double coverage_bin_cm;          /* bins along the stroke range (1) */
    double live_speed_tau_s;         /* live (causal) speed smoothing (0.3) */
    double body_mass_kg;             /* 0: from the recording, or unknown */
    int max_series_frames;           /* per-frame series kept at most this long; a longer
                                    recording keeps every 2nd, 4th ... frame in them, so
                                    memory stays bounded (1000000; 0 = default) */
    const char *labels;              /* "calves,quads": overrides label events */
    int live_only;                   /* 1: push only (daemon), no series kept, memory
                                    constant; finish is then refused */
    unsigned threads;                /* offline reading: inflate threads (0 = 2) */
    double ball_min_kpa;             /* massage ball: peak pressure at least (40) */
    double ball_max_sigma_cm;        /* ball: pressure-weighted spread at most (1.8) */
    double ball_max_aspect;          /* ball: spread along / across within (1.6) */
    double spot_min_s;               /* a ball spot lasts at least (5) */
    double spot_move_cm;             /* the ball moving this far starts a new spot (4) */
} rm_analysis_config;

void rm_analysis_config_default(rm_analysis_config *cfg);
/* Sets one numeric option by its field name ("noise_kpa", "0.5"); errors
 * name the option. rm_analysis_config_name(i) lists the names (NULL after
 * the last) for help texts. */
rm_status rm_analysis_config_set(rm_analysis_config *cfg, const char *name, const char *value,
                                 rm_err *err);
const char *rm_analysis_config_name(size_t i);

/* What push returns for each frame (for the live view). NaN where there is
 * no value (no roller: roller fields NaN, load_share 0). */
typedef struct rm_live_metrics {
    double time_s;
    float force_n, area_cm2, peak_kpa, cop_x_cm, cop_y_cm;
    int roller; /* 1 if a roller contact was found */
    float roller_x_cm, roller_y_cm, roller_force_n, roller_area_cm2;
    float roller_peak_kpa, roller_mean_kpa, load_share;
    float speed_cm_s; /* causal estimate (the final series is zero-phase) */
    int state;        /* RM_STATE_* from the causal estimate */
    int contacts;     /* connected components above the noise */
} rm_live_metrics;

typedef struct rm_analysis rm_analysis;

/* Creates an analysis for a mat. calib may be NULL (identity: 1 kPa per
 * count); mask may be NULL (every sensel real, else rows*cols bytes, 0 =
 * not a sensel). cfg may be NULL (defaults). */
rm_status rm_analysis_new(const rm_analysis_config *cfg, const rm_device *dev,
                          const rm_calib *calib, const uint8_t *mask, rm_analysis **out,
                          rm_err *err);
void rm_analysis_free(rm_analysis *a);

/* Analyses one frame (rows*cols raw counts). time_s must not decrease.
 * live may be NULL. Not concurrently with any other call on the same
 * analysis (see Threads above); raw is only read during the call. */
rm_status rm_analysis_push(rm_analysis *a, double time_s, const uint16_t *raw,
                           rm_live_metrics *live, rm_err *err);
/* A label for the muscle group being rolled from time_s on (operator). */
rm_status rm_analysis_label(rm_analysis *a, double time_s, const char *label, rm_err *err);
/* A recording event (rm_packet.h kinds) at time_s: "disconnect" is counted
 * for the results' data quality (totals.disconnects); other kinds are
 * ignored (labels go through rm_analysis_label; frames lost are counted
 * from the frame times themselves). */
rm_status rm_analysis_event(rm_analysis *a, double time_s, const char *kind, rm_err *err);

/* Ends the analysis: pacing, segments, spectra and scores against `profile`
 * (NULL: the guide's). *out is a new results object the caller frees with
 * rm_results_free; the analysis can only be freed afterwards. */
rm_status rm_analysis_finish(rm_analysis *a, const rm_profile *profile, rm_results **out,
                             rm_err *err);

/* Offline: reads the recording at `path` chunk by chunk, applies its mask,
 * body mass and label events, and returns the results (source and
 * recording_path filled in). */
rm_status rm_analyze_session(const char *path, const rm_analysis_config *cfg,
                             const rm_profile *profile, rm_results **out, rm_err *err);

/* The coach-readable summary of results (several lines, newly allocated,
 * caller frees). */
char *rm_results_coach_text(const rm_results *r);

#endif

/* analysis_internal.h - shared between the files of analyze/ only (no rm_
 * prefix: not part of any contract, see docs/HACKING.md). */
#ifndef ANALYSIS_INTERNAL_H
#define ANALYSIS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rm_analysis.h"
#include "rm_constants.h"
#include "rm_version.h"

/* Default of rm_analysis_config.max_series_frames: 2.8 hours at 100 Hz,
 * 56 MB of series. */
#define RM_MAX_SERIES_FRAMES 1000000

/* A growable array of floats (per-frame series). */
typedef struct rm_fvec {
    float *v;
    size_t n, cap;
} rm_fvec;

/* A set found online: frames [first, last] (last = last roller frame). */
typedef struct rm_seg_span {
    size_t first, last;
    float *sum_kpa, *peak_kpa; /* rows*cols, owned */
    uint32_t *contact;         /* frames loaded, rows*cols */
    size_t frames;             /* frames accumulated */
} rm_seg_span;

typedef struct rm_label_ev {
    double time_s;
    char text[RM_RESULTS_LABEL_LEN];
} rm_label_ev;

struct rm_analysis {
    rm_analysis_config cfg;
    char *labels; /* copy of cfg.labels */
    int rows, cols, n;
    double rp_cm, cp_cm, sensel_cm2, rate_hz;

    /* calibration, precomputed: kPa = gain[i] * lut[raw - zero[i]] */
    float *lut;
    uint32_t lut_n;
    float *gain;
    uint16_t *zero;
    uint32_t *thr;      /* loaded if raw >= thr[i]; > 65535 = never */
    uint32_t *thr_base; /* from noise_kpa alone */
    uint16_t *tm1;      /* thr - 1 for the hot loop, 65535 = never */
    uint8_t *flag;      /* per-frame loaded flags, padded to 8 */
    double noise_sigma; /* estimated sensor noise, counts */
    uint32_t thr_extra; /* noise_sigmas * noise_sigma, counts */
    uint8_t *mask;

    /* sensel faults */
    uint32_t *lone_run, *dead_run;
    uint64_t *lone_last, *dead_last;
    uint8_t *hot, *dead;
    uint32_t hot_frames, dead_frames;
    int n_hot, n_dead;

    /* per-frame scratch */
    float *p;
    int32_t *lab;   /* (rows+2)*(cols+2), padded */
    int32_t *porig; /* padded index -> sensel index */
    int32_t *loaded;
    int32_t *queue;
    int32_t *rowcount;
    uint16_t *rowof, *colof;
    int nloaded;

    /* roller tracking */
    int have_prev;
    double prev_x, prev_t;
    double live_xs, live_v, live_t;
    int live_have;
    double live_slow_since;

    /* series */
    size_t nf;     /* frames pushed */
    size_t stride; /* the series keep frames nf % stride == 0 (1, 2, 4 ...) */
    rm_fvec ser[RM_SERIES_COUNT];
    double t0, last_t;
    int any_roller;

    /* maps */
    double *all_sum;
    float *all_peak;
    uint32_t *all_contact;
    rm_seg_span cur, pend;
    int in_seg, pend_dirty;
    double seg_start_t, last_present_t;
    size_t last_present_i;
    rm_seg_span *spans;
    size_t n_spans, cap_spans;

    /* data quality */
    int have_last;
    int32_t frames_lost, gaps, disconnects;

    rm_label_ev *lab_ev;
    size_t n_lab, cap_lab;
    int finished;
    struct ball_state *ball; /* ball.c: the massage ball's series and sets */
};

int rm_fvec_push(rm_fvec *f, float x);

/* pacing.c: everything rm_analysis_finish does after the frames. */
rm_status rm_analysis_pacing(rm_analysis *a, const rm_profile *profile, rm_results *r, rm_err *err);

/* ball.c: the massage ball (docs/metrics.md, "Massage ball"). ball_push
 * runs for every frame after the contacts are labelled; ball_finish (after
 * pacing) adds the ball sets and their spots to the results. */
typedef struct ball_state ball_state;
int ball_new(rm_analysis *a);
void ball_free(rm_analysis *a);
int ball_push(rm_analysis *a, int roller_present, double time_s);
rm_status ball_finish(rm_analysis *a, rm_results *r, rm_err *err);

/* posture.c: the body position of every set from its supports and the load
 * on the roller; names the sets no operator label names. */
void posture_recognise(const rm_analysis *a, rm_results *r);

#endif

/* daemon_tee.h - internal to rollmatd's core (acquire/daemon*.c): the sink
 * between the acquisition source and the recording sink.
 *
 * It runs on the source's thread. The poll thread talks to it only through
 * the calls below, which take its mutex; the tee wakes the poll thread by
 * writing to `notify_fd` (an eventfd) when a live metric is due or when
 * the recording has finished. */
#ifndef RM_DAEMON_TEE_H
#define RM_DAEMON_TEE_H

#include <stdint.h>

#include "rm_daemon.h"

typedef struct rmd_tee rmd_tee;

typedef struct rmd_tee_params {
    rm_sink out;            /* the recording sink; owned by the tee from now on */
    const char *title;      /* copied into the HEADER */
    const char *subject_id; /* "" = keep the source's */
    double body_mass_kg;    /* 0 = keep the source's */
    rm_daemon_live live;    /* all NULL: built-in frame count + total force */
    double publish_hz;
    int notify_fd; /* borrowed */
    rm_logger log;
} rmd_tee_params;

/* Snapshot for status replies and metric lines. */
typedef struct rmd_tee_state {
    uint64_t frames;
    uint64_t lost;    /* frames missing (gap events) + host overruns */
    int finished;     /* finish has run */
    rm_status status; /* first error of the recording, or RM_OK */
    char error[512];
    double created_unix; /* 0 until the HEADER arrived */
    int replay;          /* the source replays a file: no arrival times */
    double last_frame_age_s; /* since the last frame arrived (or the start) */
} rmd_tee_state;

/* Creates a tee owning params->out (on failure out.finish is called). */
rm_status rmd_tee_new(const rmd_tee_params *p, rmd_tee **out, rm_err *err);
/* The sink to hand to the source (ctx is the tee; the tee is not freed by
 * finish: rmd_tee_free does that after the source was joined). */
rm_sink rmd_tee_sink(rmd_tee *t);
/* For a source that never started: runs the recording sink's finish. */
void rmd_tee_abort(rmd_tee *t);
void rmd_tee_free(rmd_tee *t);

/* Queues a label event, stamped with the host time now. RM_ERR_BUSY if
 * too many labels wait for the source's next packet. */
rm_status rmd_tee_label(rmd_tee *t, const char *label, double *time_s, rm_err *err);
/* Waits until the recording has started (its first frame or event reached
 * the recording sink, which creates the file with it: 1), failed or
 * finished before that (0), or timeout_s passed (-1). */
int rmd_tee_wait_started(rmd_tee *t, double timeout_s);
void rmd_tee_set_subscribers(rmd_tee *t, int n);
void rmd_tee_state_get(rmd_tee *t, rmd_tee_state *st);
/* The live view's picture of the mat: kPa, block maxima of the latest
 * frame, at most RMD_HEAT_MAX cells. */
#define RMD_HEAT_SIDE 32
#define RMD_HEAT_MAX  (RMD_HEAT_SIDE * RMD_HEAT_SIDE)

/* One live sample with the coaching timers (docs/daemon.md, "Live
 * lines"), filled on the source's thread, taken by the poll thread. */
typedef struct rmd_live {
    rm_daemon_metrics m;
    uint64_t frames, lost;
    double arrival_mono;
    double hold_s;    /* the roller's current stay on one spot; NaN if rolling/off */
    double set_s;     /* roller-on-mat time since the last label (or the start) */
    double session_s; /* roller-on-mat time in the recording */
    double pace_cm_s; /* |speed| smoothed over rolling frames (tau RMD_PACE_TAU_S) */
    double pass_s;      /* the current one-way pass so far; NaN unless rolling */
    double last_pass_s; /* the last complete pass; NaN before one, after a hold */
    int disconnected; /* a disconnect event without its reconnect yet */
    uint16_t rows, cols;             /* the mat */
    double row_pitch_mm, col_pitch_mm;
    uint16_t heat_rows, heat_cols, heat_block; /* heat_block sensels a cell side */
    uint16_t heat[RMD_HEAT_MAX];               /* kPa, rounded */
} rmd_live;

/* If a live sample is due, copies it into *out and returns 1. */
int rmd_tee_take_live(rmd_tee *t, rmd_live *out);

double rmd_mono_now(void);
double rmd_unix_now(void);

#endif

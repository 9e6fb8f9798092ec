/* daemon_tee.c - the daemon's own sink between a source and the recording:
 * header patching, label events, live metrics, lost-frame counts. */
#include "daemon_tee.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RMD_MAX_PENDING     64
/* The cue judges |speed| smoothed over this long of rolling: the speed
 * passes through zero at every turn, the pace should not. */
#define RMD_PACE_TAU_S      1.5
/* Below this |speed| the roller stays (the analysis' rolling threshold's
 * default); holding once it stayed this long. */
#define RMD_STILL_CM_S      0.5
#define RMD_HOLDING_AFTER_S 1.0
/* Frames further apart than this (a gap, a disconnect) add no time. */
#define RMD_MAX_DT_S        0.5

typedef struct rmd_label {
    char text[RM_EVENT_TEXT_LEN];
    double unix_s;
} rmd_label;

struct rmd_tee {
    /* Fixed at creation. */
    rm_sink out;
    char title[128];
    char subject_id[64];
    double body_mass_kg;
    rm_daemon_live live;
    double publish_period_s;
    int notify_fd;
    rm_logger log;

    /* Source thread only. */
    int out_failed;
    rm_status out_status;
    int header_seen;
    int started_local; /* the first FRAME or EVENT reached the recording */
    int end_seen;
    int finish_called;
    rm_device dev;
    int have_dev;
    rm_calib *calib;
    int live_begun;
    void *live_state;
    int live_on;
    float *kpa; /* built-in force: rows*cols pressures */
    double sensel_area_mm2;
    double last_event_time;
    /* Coaching timers (source thread; copied into `live` under mu). */
    double prev_time;
    double still_since; /* NaN while rolling or off the mat */
    double set_s, session_s, pace;
    int pass_dir;      /* +1/-1: the roller's direction in this pass; 0 none */
    double pass_start; /* frame time the current pass began; NaN none */
    double last_pass;  /* duration of the last complete pass; NaN none */
    int disconnected;
    float *heat_kpa; /* rows*cols scratch for the heat map */

    /* Shared, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* started (first frame or event recorded) or finished */
    int started;
    rmd_label pending[RMD_MAX_PENDING];
    int n_pending;
    double created_unix;
    double created_mono;
    int replay; /* frame times are not host arrival times */
    uint64_t frames;
    uint64_t lost;
    rmd_live live_out; /* latest sample, heat map filled when one is due */
    int metric_pending;
    double last_publish;
    int subscribers;
    int finished;
    rm_status status;
    char error[512];
};

double rmd_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double rmd_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void tee_notify(rmd_tee *t)
{
    uint64_t one = 1;
    /* An eventfd write only fails when the counter would overflow, and
     * then the poll thread is awake anyway. */
    if (write(t->notify_fd, &one, sizeof one) < 0) {
    }
}

/* Records the recording's first error (source thread or finish). */
static void tee_fail(rmd_tee *t, rm_status st, const rm_err *err)
{
    pthread_mutex_lock(&t->mu);
    if (t->status == RM_OK) {
        t->status = st;
        snprintf(t->error, sizeof t->error, "%s", rm_err_message(err, st));
    }
    pthread_mutex_unlock(&t->mu);
}

rm_status rmd_tee_new(const rmd_tee_params *p, rmd_tee **out, rm_err *err)
{
    rmd_tee *t = calloc(1, sizeof *t);
    if (!t) {
        if (p->out.finish)
            p->out.finish(p->out.ctx, NULL);
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory for the recording");
    }
    t->out = p->out;
    snprintf(t->title, sizeof t->title, "%s", p->title ? p->title : "");
    snprintf(t->subject_id, sizeof t->subject_id, "%s", p->subject_id ? p->subject_id : "");
    t->body_mass_kg = p->body_mass_kg;
    t->live = p->live;
    t->publish_period_s = 1.0 / (p->publish_hz > 0 ? p->publish_hz : 15.0);
    t->notify_fd = p->notify_fd;
    t->log = p->log;
    t->last_publish = -1e9;
    t->created_mono = rmd_mono_now();
    t->live_out.m.time_s = NAN;
    t->prev_time = NAN;
    t->still_since = NAN;
    t->pass_start = t->last_pass = NAN;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = t;
    return RM_OK;
}

void rmd_tee_abort(rmd_tee *t)
{
    if (t && !t->finish_called && t->out.finish) {
        t->finish_called = 1;
        t->out.finish(t->out.ctx, NULL);
    }
}

void rmd_tee_free(rmd_tee *t)
{
    if (!t)
        return;
    rmd_tee_abort(t);
    if (t->live_state && t->live.end)
        t->live.end(t->live_state);
    rm_calib_free(t->calib);
    free(t->kpa);
    free(t->heat_kpa);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static rm_status forward(rmd_tee *t, rm_packet_type type, const void *payload, rm_err *err)
{
    if (t->out_failed)
        return t->out_status;
    rm_err e = {0};
    rm_status st = rm_sink_send(&t->out, type, payload, &e);
    if (st == RM_OK && !t->started_local && (type == RM_PKT_FRAME || type == RM_PKT_EVENT)) {
        /* The recording sink has created its file with this packet: the
         * start can be answered ok (rmd_tee_wait_started). */
        t->started_local = 1;
        pthread_mutex_lock(&t->mu);
        t->started = 1;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
    if (st != RM_OK) {
        t->out_failed = 1;
        t->out_status = st;
        tee_fail(t, st, &e);
        rm_log(&t->log, RM_LOG_ERROR, "recording: %s", rm_err_message(&e, st));
        if (err)
            *err = e;
    }
    return st;
}

/* Labels go out once the recording's HEADER and DEVICE have, in the time
 * order of the source's packets: a label is stamped with the host time it
 * was asked for, never earlier than the last event. */
static rm_status drain_labels(rmd_tee *t, rm_err *err)
{
    rmd_label local[RMD_MAX_PENDING];
    pthread_mutex_lock(&t->mu);
    int n = t->n_pending;
    memcpy(local, t->pending, (size_t)n * sizeof local[0]);
    t->n_pending = 0;
    double created = t->created_unix;
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < n; i++) {
        rm_event ev;
        memset(&ev, 0, sizeof ev);
        ev.time_s = created > 0 ? local[i].unix_s - created : 0.0;
        if (ev.time_s < t->last_event_time)
            ev.time_s = t->last_event_time;
        t->last_event_time = ev.time_s;
        snprintf(ev.kind, sizeof ev.kind, "%s", RM_EVENT_LABEL);
        /* Labels are longer in the queue than in the file: cut, don't fail. */
        memcpy(ev.text, local[i].text, strnlen(local[i].text, sizeof ev.text - 1));
        t->set_s = 0; /* a new muscle group starts its set */
        rm_status st = forward(t, RM_PKT_EVENT, &ev, err);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}

static void live_begin(rmd_tee *t)
{
    t->live_begun = 1;
    if (t->live.push) {
        rm_err e = {0};
        rm_status st = t->live.begin
                           ? t->live.begin(t->live.user, &t->dev, t->calib, &t->live_state, &e)
                           : RM_OK;
        if (st != RM_OK) {
            rm_log(&t->log, RM_LOG_WARN, "live analysis off: %s", rm_err_message(&e, st));
            t->live_state = NULL;
            return;
        }
        t->live_on = 1;
        return;
    }
    size_t n = (size_t)t->dev.rows * t->dev.cols;
    t->kpa = n ? malloc(n * sizeof *t->kpa) : NULL;
    t->sensel_area_mm2 = t->dev.row_pitch_mm * t->dev.col_pitch_mm;
    t->live_on = t->kpa != NULL;
}

/* Built-in live metric: total force from the calibration (identity, 1 kPa
 * per count, without one). F = sum p * A; kPa * mm^2 = 1e-3 N. */
static void builtin_metrics(rmd_tee *t, const rm_frame *f, rm_daemon_metrics *m)
{
    size_t n = (size_t)f->rows * f->cols;
    double sum = 0;
    if (t->calib && t->calib->rows == f->rows && t->calib->cols == f->cols) {
        rm_calib_pressure(t->calib, f->raw, t->kpa);
        for (size_t i = 0; i < n; i++)
            sum += t->kpa[i];
    } else {
        for (size_t i = 0; i < n; i++)
            sum += f->raw[i];
    }
    m->total_force_n = t->sensel_area_mm2 > 0 ? sum * t->sensel_area_mm2 * 1e-3 : NAN;
}

/* No pass under way (the roller holds or left the mat): the next one
 * starts afresh, and a pass cut by a hold is not judged. */
static void pass_reset(rmd_tee *t)
{
    t->pass_dir = 0;
    t->pass_start = t->last_pass = NAN;
}

/* One pass is one one-way movement of the roller (the analysis' stroke):
 * it ends where the direction of travel turns. The direction is the sign
 * of the speed while |speed| >= RMD_STILL_CM_S, so the slow frames around
 * a turn, where the speed crosses zero, belong to neither direction and
 * the turn is placed at the first frame moving the other way. Called for
 * rolling frames only. */
static void pass_update(rmd_tee *t, const rm_daemon_metrics *m)
{
    int dir = m->speed_cm_s > 0 ? 1 : -1;
    if (t->pass_dir == 0) {
        t->pass_dir = dir;
        t->pass_start = m->time_s;
    } else if (dir != t->pass_dir) {
        t->last_pass = m->time_s - t->pass_start;
        t->pass_dir = dir;
        t->pass_start = m->time_s;
    }
}

/* The coach's timers from the frame's state: time with the roller on the
 * mat (set, session), the current stay on one spot (hold), the pace. The
 * analyzer confirms a hold only after seconds of stillness; the live view
 * counts it from the moment the roller slowed below RMD_STILL_CM_S and
 * calls it holding once that lasted RMD_HOLDING_AFTER_S. */
static void coach_update(rmd_tee *t, rm_daemon_metrics *m)
{
    double dt = isfinite(t->prev_time) ? m->time_s - t->prev_time : 0;
    if (!(dt > 0 && dt <= RMD_MAX_DT_S))
        dt = 0;
    t->prev_time = m->time_s;
    int on = m->state == RM_DAEMON_STATE_ROLLING || m->state == RM_DAEMON_STATE_HOLDING;
    if (!on) { /* the next set's pace starts afresh */
        t->still_since = NAN;
        t->pace = 0;
        pass_reset(t);
        return;
    }
    t->set_s += dt;
    t->session_s += dt;
    double v = isfinite(m->speed_cm_s) ? fabs(m->speed_cm_s) : 0;
    if (v < RMD_STILL_CM_S) {
        if (!isfinite(t->still_since))
            t->still_since = m->time_s;
        m->state = m->time_s - t->still_since >= RMD_HOLDING_AFTER_S ? RM_DAEMON_STATE_HOLDING
                                                                     : RM_DAEMON_STATE_ROLLING;
        if (m->state == RM_DAEMON_STATE_HOLDING) {
            t->pace = 0;
            pass_reset(t);
        }
        return;
    }
    t->still_since = NAN;
    m->state = RM_DAEMON_STATE_ROLLING;
    t->pace = t->pace > 0 ? t->pace + (v - t->pace) * (dt / RMD_PACE_TAU_S) : v;
    pass_update(t, m);
}

/* Block maxima of the frame's pressure: a 64x48 mat becomes 32x24 cells,
 * small enough for 15 lines a second to every viewer. */
static void heat_fill(rmd_tee *t, const rm_frame *f, rmd_live *l)
{
    size_t n = (size_t)f->rows * f->cols;
    l->rows = f->rows;
    l->cols = f->cols;
    l->row_pitch_mm = t->dev.row_pitch_mm;
    l->col_pitch_mm = t->dev.col_pitch_mm;
    l->heat_rows = l->heat_cols = 0;
    if (!n)
        return;
    if (!t->heat_kpa && !(t->heat_kpa = malloc(n * sizeof *t->heat_kpa)))
        return;
    int calib = t->calib && t->calib->rows == f->rows && t->calib->cols == f->cols;
    if (calib)
        rm_calib_pressure(t->calib, f->raw, t->heat_kpa);
    else
        for (size_t i = 0; i < n; i++)
            t->heat_kpa[i] = f->raw[i];
    unsigned side = f->rows > f->cols ? f->rows : f->cols;
    unsigned b = (side + RMD_HEAT_SIDE - 1) / RMD_HEAT_SIDE;
    unsigned hr = (f->rows + b - 1) / b, hc = (f->cols + b - 1) / b;
    for (unsigned i = 0; i < hr * hc; i++)
        l->heat[i] = 0;
    for (unsigned r = 0; r < f->rows; r++)
        for (unsigned c = 0; c < f->cols; c++) {
            float p = t->heat_kpa[(size_t)r * f->cols + c];
            unsigned k = (r / b) * hc + c / b;
            uint16_t q = p > 65535.f ? 65535 : p > 0 ? (uint16_t)(p + 0.5f) : 0;
            if (q > l->heat[k])
                l->heat[k] = q;
        }
    l->heat_rows = (uint16_t)hr;
    l->heat_cols = (uint16_t)hc;
    l->heat_block = (uint16_t)b;
}

static void on_frame(rmd_tee *t, const rm_frame *f)
{
    double arrival = rmd_mono_now();
    if (!t->live_begun)
        live_begin(t);
    rm_daemon_metrics m = {f->time_s, NAN, NAN, NAN, NAN, NAN, RM_DAEMON_STATE_UNKNOWN};
    if (t->live_on) {
        if (t->live.push) {
            if (t->live.push(t->live_state, f, &m) != RM_OK) {
                rm_log(&t->log, RM_LOG_WARN, "live analysis off: the analyzer refused frame %u",
                       (unsigned)f->seq);
                t->live_on = 0;
            }
        } else if (f->rows == t->dev.rows && f->cols == t->dev.cols) {
            builtin_metrics(t, f, &m);
        }
    }
    coach_update(t, &m);
    int wake = 0;
    pthread_mutex_lock(&t->mu);
    t->frames++;
    rmd_live *l = &t->live_out;
    l->m = m;
    l->arrival_mono = arrival;
    l->hold_s = m.state == RM_DAEMON_STATE_HOLDING ? m.time_s - t->still_since : NAN;
    l->set_s = t->set_s;
    l->session_s = t->session_s;
    l->pace_cm_s = t->pace > 0 ? t->pace : NAN;
    l->pass_s = m.state == RM_DAEMON_STATE_ROLLING && isfinite(t->pass_start)
                    ? m.time_s - t->pass_start
                    : NAN;
    l->last_pass_s = t->last_pass;
    l->disconnected = t->disconnected;
    if (t->subscribers > 0 && !t->metric_pending &&
        arrival - t->last_publish >= t->publish_period_s) {
        t->metric_pending = 1;
        t->last_publish = arrival;
        /* Only the published frames pay for the picture (15 of 100 a second). */
        heat_fill(t, f, l);
        wake = 1;
    }
    pthread_mutex_unlock(&t->mu);
    if (wake)
        tee_notify(t);
}

static rm_status tee_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    rmd_tee *t = ctx;
    switch (pkt->type) {
    case RM_PKT_HEADER: {
        rm_header h = *pkt->u.header;
        if (t->title[0])
            snprintf(h.title, sizeof h.title, "%s", t->title);
        if (t->subject_id[0])
            snprintf(h.subject_id, sizeof h.subject_id, "%s", t->subject_id);
        if (t->body_mass_kg > 0)
            h.body_mass_kg = t->body_mass_kg;
        t->header_seen = 1;
        rm_status st = forward(t, RM_PKT_HEADER, &h, err);
        pthread_mutex_lock(&t->mu);
        t->created_unix = h.created_unix;
        t->replay = !strncmp(h.source, "replay", 6);
        pthread_mutex_unlock(&t->mu);
        return st;
    }
    case RM_PKT_DEVICE:
        t->dev = *pkt->u.device;
        t->have_dev = 1;
        return forward(t, RM_PKT_DEVICE, pkt->u.device, err);
    case RM_PKT_CALIB: {
        rm_calib_free(t->calib);
        t->calib = NULL;
        if (rm_calib_copy(pkt->u.calib, &t->calib) != RM_OK)
            t->calib = NULL; /* only the built-in live force needs it */
        return forward(t, RM_PKT_CALIB, pkt->u.calib, err);
    }
    case RM_PKT_FRAME: {
        rm_status st = drain_labels(t, err);
        if (st != RM_OK)
            return st;
        st = forward(t, RM_PKT_FRAME, pkt->u.frame, err);
        on_frame(t, pkt->u.frame);
        return st;
    }
    case RM_PKT_EVENT: {
        rm_status st = drain_labels(t, err);
        if (st != RM_OK)
            return st;
        const rm_event *ev = pkt->u.event;
        if (ev->time_s > t->last_event_time)
            t->last_event_time = ev->time_s;
        if ((!strcmp(ev->kind, RM_EVENT_GAP) || !strcmp(ev->kind, RM_EVENT_OVERRUN)) &&
            ev->value > 0) {
            pthread_mutex_lock(&t->mu);
            t->lost += (uint64_t)ev->value;
            pthread_mutex_unlock(&t->mu);
        }
        if (!strcmp(ev->kind, RM_EVENT_DISCONNECT))
            t->disconnected = 1;
        else if (!strcmp(ev->kind, RM_EVENT_RECONNECT))
            t->disconnected = 0;
        return forward(t, RM_PKT_EVENT, ev, err);
    }
    case RM_PKT_END: {
        if (t->header_seen)
            drain_labels(t, NULL);
        t->end_seen = 1;
        const rm_end *end = pkt->u.end;
        if (end->status != RM_OK) {
            rm_err e = {0};
            rm_err_set(&e, end->status, "the source stopped: %s", rm_strerror(end->status));
            tee_fail(t, end->status, &e);
        }
        /* END always reaches a started recording: it is what closes the
         * file, also after an earlier failure. Without a HEADER there is
         * no recording to close. */
        if (!t->header_seen)
            return end->status;
        rm_err e = {0};
        rm_status st = rm_sink_send(&t->out, RM_PKT_END, end, &e);
        if (st != RM_OK && !t->out_failed) {
            tee_fail(t, st, &e);
            if (err)
                *err = e;
        }
        return st;
    }
    }
    return rm_err_set(err, RM_ERR_ARG, "unknown packet type %d", (int)pkt->type);
}

static rm_status tee_finish(void *ctx, rm_err *err)
{
    rmd_tee *t = ctx;
    rm_status st = RM_OK;
    if (!t->finish_called) {
        t->finish_called = 1;
        rm_err e = {0};
        st = t->out.finish ? t->out.finish(t->out.ctx, &e) : RM_OK;
        if (st != RM_OK) {
            tee_fail(t, st, &e);
            if (err)
                *err = e;
        }
    }
    if (t->live_state && t->live.end)
        t->live.end(t->live_state);
    t->live_state = NULL;
    t->live_on = 0;
    pthread_mutex_lock(&t->mu);
    t->finished = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    tee_notify(t);
    return st;
}

rm_sink rmd_tee_sink(rmd_tee *t)
{
    rm_sink s = {t, tee_receive, tee_finish};
    return s;
}

rm_status rmd_tee_label(rmd_tee *t, const char *label, double *time_s, rm_err *err)
{
    double now = rmd_unix_now();
    pthread_mutex_lock(&t->mu);
    if (t->n_pending >= RMD_MAX_PENDING) {
        pthread_mutex_unlock(&t->mu);
        return rm_err_set(err, RM_ERR_BUSY, "%d labels wait for the mat's next frame",
                          RMD_MAX_PENDING);
    }
    rmd_label *l = &t->pending[t->n_pending++];
    snprintf(l->text, sizeof l->text, "%s", label);
    l->unix_s = now;
    if (time_s)
        *time_s = t->created_unix > 0 ? now - t->created_unix : 0.0;
    pthread_mutex_unlock(&t->mu);
    return RM_OK;
}

void rmd_tee_set_subscribers(rmd_tee *t, int n)
{
    pthread_mutex_lock(&t->mu);
    t->subscribers = n;
    pthread_mutex_unlock(&t->mu);
}

void rmd_tee_state_get(rmd_tee *t, rmd_tee_state *st)
{
    pthread_mutex_lock(&t->mu);
    st->frames = t->frames;
    st->lost = t->lost;
    st->finished = t->finished;
    st->status = t->status;
    snprintf(st->error, sizeof st->error, "%s", t->error);
    st->created_unix = t->created_unix;
    st->replay = t->replay;
    double last = t->frames ? t->live_out.arrival_mono : t->created_mono;
    st->last_frame_age_s = rmd_mono_now() - last;
    pthread_mutex_unlock(&t->mu);
}

int rmd_tee_take_live(rmd_tee *t, rmd_live *out)
{
    pthread_mutex_lock(&t->mu);
    int due = t->metric_pending;
    if (due) {
        t->metric_pending = 0;
        *out = t->live_out;
        out->frames = t->frames;
        out->lost = t->lost;
    }
    pthread_mutex_unlock(&t->mu);
    return due;
}

int rmd_tee_wait_started(rmd_tee *t, double timeout_s)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    long long ns = dl.tv_nsec + (long long)(timeout_s * 1e9);
    dl.tv_sec += (time_t)(ns / 1000000000LL);
    dl.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&t->mu);
    int r = -1;
    for (;;) {
        if (t->started && t->status == RM_OK) {
            r = 1;
            break;
        }
        if (t->finished || t->status != RM_OK) {
            r = 0;
            break;
        }
        if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&t->mu);
    return r;
}

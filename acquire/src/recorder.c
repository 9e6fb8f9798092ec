/* recorder.c - bounded ring of packets and the writer thread (rm_recorder.h).
 *
 * Single producer, single consumer. Slots are preallocated (a frame's
 * sensels each); the producer fills the slot at `head` without the lock (the
 * consumer never touches slots outside [tail, head)) and publishes it by
 * advancing `head` under the lock; the consumer takes a whole batch
 * [tail, head) at once and releases it by advancing `tail`. */
#include "rm_recorder.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_RESERVE 256

typedef struct slot {
    rm_packet_type type; /* FRAME, EVENT or END */
    rm_frame frame;
    rm_event event;
    rm_end end;
    uint16_t *raw;
} slot;

struct rm_recorder {
    rm_recorder_config cfg;
    rm_sink sinks[RM_RECORDER_MAX_SINKS];
    int dead[RM_RECORDER_MAX_SINKS];
    size_t nsinks;
    rm_sink self;

    slot *slots;
    size_t nslots;
    uint16_t *raw_pool;
    size_t sensels;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t cv_space; /* the producer waits here in wait_when_full mode */
    pthread_t thread;
    int started, joined, finished, consumer_waiting;
    uint64_t head, tail; /* slot counters, never wrap in practice */

    uint8_t *cap; /* capture byte ring */
    size_t cap_size;
    uint64_t cap_head, cap_tail;

    uint64_t overrun_pending;
    int failed;
    rm_err fail_err;
    rm_recorder_stats st;
};

static rm_status producer_receive(void *ctx, const rm_packet *pkt, rm_err *err);

rm_status rm_recorder_new(const rm_recorder_config *cfg, const rm_sink *sinks, size_t n,
                          rm_recorder **out, rm_err *err)
{
    if (!cfg || !out || (n && !sinks) || n > RM_RECORDER_MAX_SINKS)
        return rm_err_set(err, RM_ERR_ARG, "recorder: bad arguments (%zu sinks, at most %d)", n,
                          RM_RECORDER_MAX_SINKS);
    if (cfg->rows < 1 || cfg->rows > 256 || cfg->cols < 1 || cfg->cols > 256)
        return rm_err_set(err, RM_ERR_ARG, "recorder: geometry %ux%u outside 1..256", cfg->rows,
                          cfg->cols);
    *out = NULL;
    rm_recorder *r = calloc(1, sizeof *r);
    if (!r)
        return rm_err_set(err, RM_ERR_NOMEM, "recorder: out of memory");
    r->cfg = *cfg;
    for (size_t i = 0; i < n; i++)
        r->sinks[i] = sinks[i];
    r->nsinks = n;
    size_t frames = cfg->ring_slots ? cfg->ring_slots : 4096;
    r->nslots = frames + EVENT_RESERVE;
    r->sensels = (size_t)cfg->rows * cfg->cols;
    r->slots = calloc(r->nslots, sizeof *r->slots);
    r->raw_pool = malloc(r->nslots * r->sensels * sizeof *r->raw_pool);
    if (cfg->capture) {
        r->cap_size = cfg->capture_bytes ? cfg->capture_bytes : (64u << 20);
        r->cap = malloc(r->cap_size);
    }
    if (!r->slots || !r->raw_pool || (cfg->capture && !r->cap)) {
        free(r->slots);
        free(r->raw_pool);
        free(r->cap);
        free(r);
        return rm_err_set(err, RM_ERR_NOMEM, "recorder: out of memory for a ring of %zu frames",
                          frames);
    }
    for (size_t i = 0; i < r->nslots; i++)
        r->slots[i].raw = r->raw_pool + i * r->sensels;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_cond_init(&r->cv_space, NULL);
    r->self.ctx = r;
    r->self.receive = producer_receive;
    r->self.finish = NULL;
    *out = r;
    return RM_OK;
}

const rm_sink *rm_recorder_sink(rm_recorder *r) { return &r->self; }

static void fail(rm_recorder *r, const rm_err *e, rm_status st)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = 1;
        r->fail_err.status = st;
        snprintf(r->fail_err.msg, sizeof r->fail_err.msg, "%s", rm_err_message(e, st));
    }
    pthread_cond_broadcast(&r->cv_space);
    pthread_mutex_unlock(&r->mu);
}

/* Hands one packet to every live sink (writer thread, or the caller's
 * thread before the writer starts). */
static void deliver(rm_recorder *r, const rm_packet *pkt)
{
    for (size_t i = 0; i < r->nsinks; i++) {
        if (r->dead[i] || !r->sinks[i].receive)
            continue;
        rm_err e = {0};
        rm_status st = r->sinks[i].receive(r->sinks[i].ctx, pkt, &e);
        if (st != RM_OK) {
            r->dead[i] = 1;
            fail(r, &e, st);
        }
    }
}

static void finish_sinks(rm_recorder *r)
{
    if (r->finished)
        return;
    r->finished = 1;
    for (size_t i = 0; i < r->nsinks; i++) {
        if (!r->sinks[i].finish)
            continue;
        rm_err e = {0};
        rm_status st = r->sinks[i].finish(r->sinks[i].ctx, &e);
        if (st != RM_OK)
            fail(r, &e, st);
    }
}

static void write_capture(rm_recorder *r, uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t at = (size_t)(from % r->cap_size);
        size_t n = r->cap_size - at;
        if ((uint64_t)n > to - from)
            n = (size_t)(to - from);
        if (fwrite(r->cap + at, 1, n, r->cfg.capture) != n) {
            rm_err e = {0};
            rm_err_set(&e, RM_ERR_IO, "capture: write failed: %s", strerror(errno));
            fail(r, &e, RM_ERR_IO);
            return;
        }
        from += n;
    }
}

static void *writer_main(void *arg)
{
    rm_recorder *r = arg;
    int done = 0;
    while (!done) {
        pthread_mutex_lock(&r->mu);
        while (r->tail == r->head && r->cap_tail == r->cap_head) {
            r->consumer_waiting = 1;
            pthread_cond_wait(&r->cv, &r->mu);
        }
        r->consumer_waiting = 0;
        uint64_t head = r->head, tail = r->tail;
        uint64_t cap_head = r->cap_head, cap_tail = r->cap_tail;
        pthread_mutex_unlock(&r->mu);

        /* Capture first: its bytes precede the frames decoded from them. */
        if (cap_head != cap_tail && r->cfg.capture)
            write_capture(r, cap_tail, cap_head);
        uint64_t frames = 0;
        double last_t = 0;
        int have_t = 0;
        for (uint64_t i = tail; i < head; i++) {
            slot *s = &r->slots[i % r->nslots];
            rm_packet pkt = {.type = s->type};
            if (s->type == RM_PKT_FRAME) {
                pkt.u.frame = &s->frame;
                frames++;
                last_t = s->frame.time_s;
                have_t = 1;
            } else if (s->type == RM_PKT_EVENT) {
                pkt.u.event = &s->event;
            } else {
                pkt.u.end = &s->end;
                done = 1;
            }
            deliver(r, &pkt);
        }
        pthread_mutex_lock(&r->mu);
        r->tail = head;
        r->cap_tail = cap_head;
        r->st.frames_out += frames;
        r->st.capture_bytes += cap_head - cap_tail;
        if (have_t)
            r->st.last_time_s = last_t;
        pthread_cond_signal(&r->cv_space);
        pthread_mutex_unlock(&r->mu);
    }
    if (r->cfg.capture && fflush(r->cfg.capture) != 0) {
        rm_err e = {0};
        rm_err_set(&e, RM_ERR_IO, "capture: write failed: %s", strerror(errno));
        fail(r, &e, RM_ERR_IO);
    }
    finish_sinks(r);
    return NULL;
}

rm_status rm_recorder_begin(rm_recorder *r, const rm_header *hdr, const rm_device *dev,
                            const rm_calib *calib, rm_err *err)
{
    if (!r || !hdr || !dev)
        return rm_err_set(err, RM_ERR_ARG, "recorder: NULL argument");
    if (r->started)
        return rm_err_set(err, RM_ERR_STATE, "recorder: already started");
    rm_packet pkt = {.type = RM_PKT_HEADER, .u.header = hdr};
    deliver(r, &pkt);
    pkt.type = RM_PKT_DEVICE;
    pkt.u.device = dev;
    deliver(r, &pkt);
    if (calib) {
        pkt.type = RM_PKT_CALIB;
        pkt.u.calib = calib;
        deliver(r, &pkt);
    }
    if (r->failed)
        return rm_err_set(err, r->fail_err.status, "%s", r->fail_err.msg);
    int rc = pthread_create(&r->thread, NULL, writer_main, r);
    if (rc != 0)
        return rm_err_set(err, RM_ERR_NOMEM, "recorder: cannot start the writer thread: %s",
                          strerror(rc));
    r->started = 1;
    return RM_OK;
}

/* Claims the slot at head if fewer than `limit` are in use (lock held). */
static slot *claim(rm_recorder *r, size_t limit)
{
    uint64_t used = r->head - r->tail;
    if (used >= limit)
        return NULL;
    if (used + 1 > r->st.ring_high_water)
        r->st.ring_high_water = (size_t)(used + 1);
    return &r->slots[r->head % r->nslots];
}

static void publish(rm_recorder *r)
{
    r->head++;
    if (r->consumer_waiting)
        pthread_cond_signal(&r->cv);
}

static int push_event(rm_recorder *r, const rm_event *ev)
{
    slot *s = claim(r, r->nslots);
    if (!s) {
        r->st.events_lost++;
        return 0;
    }
    s->type = RM_PKT_EVENT;
    s->event = *ev;
    publish(r);
    return 1;
}

static rm_status producer_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    rm_recorder *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->failed) {
        rm_status st = r->fail_err.status;
        rm_err_set(err, st, "%s", r->fail_err.msg);
        pthread_mutex_unlock(&r->mu);
        return st;
    }
    if (!r->started || r->joined) {
        pthread_mutex_unlock(&r->mu);
        return rm_err_set(err, RM_ERR_STATE, "recorder: not recording");
    }
    if (pkt->type == RM_PKT_EVENT) {
        push_event(r, pkt->u.event);
    } else if (pkt->type == RM_PKT_FRAME) {
        const rm_frame *f = pkt->u.frame;
        r->st.frames_in++;
        if ((size_t)f->rows * f->cols != r->sensels) {
            pthread_mutex_unlock(&r->mu);
            return rm_err_set(err, RM_ERR_TYPE, "recorder: frame seq %u is %ux%u, expected %ux%u",
                              f->seq, f->rows, f->cols, r->cfg.rows, r->cfg.cols);
        }
        size_t limit = r->nslots - EVENT_RESERVE;
        if (r->overrun_pending && r->head - r->tail + 2 <= limit) {
            rm_event ev = {.time_s = f->time_s,
                           .kind = RM_EVENT_OVERRUN,
                           .value = (int64_t)r->overrun_pending};
            snprintf(ev.text, sizeof ev.text, "host ring full: %llu frames dropped",
                     (unsigned long long)r->overrun_pending);
            if (push_event(r, &ev))
                r->overrun_pending = 0;
        }
        slot *s = claim(r, limit);
        while (!s && r->cfg.wait_when_full && !r->failed) {
            pthread_cond_wait(&r->cv_space, &r->mu);
            s = claim(r, limit);
        }
        if (!s) {
            r->st.overruns++;
            r->overrun_pending++;
            pthread_mutex_unlock(&r->mu);
            return RM_OK;
        }
        pthread_mutex_unlock(&r->mu);
        /* The slot is ours until published: copy outside the lock. */
        s->type = RM_PKT_FRAME;
        s->frame = *f;
        memcpy(s->raw, f->raw, r->sensels * sizeof *s->raw);
        s->frame.raw = s->raw;
        pthread_mutex_lock(&r->mu);
        publish(r);
    }
    pthread_mutex_unlock(&r->mu);
    return RM_OK;
}

rm_status rm_recorder_event(rm_recorder *r, double time_s, const char *kind, int64_t value,
                            const char *text, rm_err *err)
{
    rm_event ev;
    memset(&ev, 0, sizeof ev);
    ev.time_s = time_s;
    snprintf(ev.kind, sizeof ev.kind, "%s", kind ? kind : RM_EVENT_NOTE);
    ev.value = value;
    snprintf(ev.text, sizeof ev.text, "%s", text ? text : "");
    rm_packet pkt = {.type = RM_PKT_EVENT, .u.event = &ev};
    return producer_receive(r, &pkt, err);
}

void rm_recorder_capture(rm_recorder *r, const void *buf, size_t len)
{
    if (!r->cap || !len)
        return;
    pthread_mutex_lock(&r->mu);
    uint64_t used = r->cap_head - r->cap_tail;
    if (used + len > r->cap_size || !r->started || r->joined) {
        r->st.capture_lost += len;
        pthread_mutex_unlock(&r->mu);
        return;
    }
    uint64_t at = r->cap_head;
    pthread_mutex_unlock(&r->mu);
    /* [cap_head, cap_head+len) is free and only the producer writes it. */
    const uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t off = (size_t)((at + done) % r->cap_size);
        size_t n = r->cap_size - off < len - done ? r->cap_size - off : len - done;
        memcpy(r->cap + off, p + done, n);
        done += n;
    }
    pthread_mutex_lock(&r->mu);
    r->cap_head += len;
    if (r->consumer_waiting)
        pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int rm_recorder_failed(rm_recorder *r, rm_err *err)
{
    pthread_mutex_lock(&r->mu);
    int f = r->failed;
    if (f && err)
        *err = r->fail_err;
    pthread_mutex_unlock(&r->mu);
    return f;
}

void rm_recorder_get_stats(rm_recorder *r, rm_recorder_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}

/* Queues END, waiting for a slot if needed (the end may block), and joins. */
static void stop_thread(rm_recorder *r, const rm_end *end)
{
    if (!r->started || r->joined)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->overrun_pending) {
        rm_event ev = {.time_s = r->st.last_time_s,
                       .kind = RM_EVENT_OVERRUN,
                       .value = (int64_t)r->overrun_pending};
        snprintf(ev.text, sizeof ev.text, "host ring full: %llu frames dropped",
                 (unsigned long long)r->overrun_pending);
        if (push_event(r, &ev))
            r->overrun_pending = 0;
    }
    pthread_mutex_unlock(&r->mu);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        slot *s = claim(r, r->nslots);
        if (s) {
            s->type = RM_PKT_END;
            s->end = *end;
            publish(r);
            r->joined = 1; /* no more producer packets */
            pthread_mutex_unlock(&r->mu);
            break;
        }
        pthread_mutex_unlock(&r->mu);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(r->thread, NULL);
}

rm_status rm_recorder_end(rm_recorder *r, const rm_end *end, rm_err *err)
{
    if (!r || !end)
        return rm_err_set(err, RM_ERR_ARG, "recorder: NULL argument");
    if (!r->started) {
        /* Never started: sinks still get END and finish. */
        rm_packet pkt = {.type = RM_PKT_END, .u.end = end};
        deliver(r, &pkt);
        finish_sinks(r);
    } else {
        stop_thread(r, end);
    }
    if (r->failed)
        return rm_err_set(err, r->fail_err.status, "%s", r->fail_err.msg);
    return RM_OK;
}

void rm_recorder_free(rm_recorder *r)
{
    if (!r)
        return;
    if (r->started && !r->joined) {
        rm_end end = {.status = RM_ERR_INTERRUPTED};
        stop_thread(r, &end);
    }
    finish_sinks(r);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    pthread_cond_destroy(&r->cv_space);
    free(r->slots);
    free(r->raw_pool);
    free(r->cap);
    free(r);
}

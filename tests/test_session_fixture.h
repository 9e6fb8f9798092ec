/* test_session_fixture.h - synthetic recordings for the session tests:
 * frames with a moving pressure blob plus about 3 counts of noise, all
 * derived from the frame index so any process can recompute them. */
#ifndef RM_TEST_SESSION_FIXTURE_H
#define RM_TEST_SESSION_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rm_packet.h"
#include "rm_session.h"

static inline uint32_t fx_hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* Frame i: a blob travelling along the columns on a noisy floor. */
static inline void fx_frame(uint64_t i, unsigned rows, unsigned cols, uint16_t *out)
{
    double cx = fmod((double)i * 0.37, (double)cols), cy = rows / 2.0;
    for (unsigned r = 0; r < rows; r++)
        for (unsigned c = 0; c < cols; c++) {
            double d2 = (c - cx) * (c - cx) + (r - cy) * (r - cy);
            double v = 20.0 + 3000.0 * exp(-d2 / 18.0);
            uint32_t h = fx_hash(i * 1000003u + r * 257u + c);
            /* sum of three uniforms: roughly Gaussian, sd about 3 counts */
            double noise = ((h & 1023) + ((h >> 10) & 1023) + ((h >> 20) & 1023)) / 1023.0 - 1.5;
            v += noise * 6.0;
            out[(size_t)r * cols + c] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
        }
}

static inline double fx_time(uint64_t i) { return 0.01 * (double)i + 0.5; }
static inline uint32_t fx_seq(uint64_t i) { return (uint32_t)(i + 100); }
static inline uint64_t fx_tdev(uint64_t i) { return 1000000u + i * 10000u; }
static inline uint16_t fx_flags(uint64_t i) { return (uint16_t)(i % 7 == 0 ? 1 : 0); }

static inline void fx_header(rm_header *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->title, sizeof h->title, "test recording");
    h->created_unix = 1795593600.0; /* 2026-11-25T08:00:00Z */
    rm_format_iso8601(h->created_unix, h->created, sizeof h->created);
    snprintf(h->subject_id, sizeof h->subject_id, "S01");
    h->body_mass_kg = 72.5;
    snprintf(h->subject_notes, sizeof h->subject_notes, "right calf");
    snprintf(h->source, sizeof h->source, "test");
}

static inline void fx_device(rm_device *d, unsigned rows, unsigned cols)
{
    memset(d, 0, sizeof *d);
    d->vid = 0x1209;
    d->pid = 0x0001;
    snprintf(d->serial, sizeof d->serial, "RM1-TEST-0001");
    snprintf(d->model, sizeof d->model, "RM-1");
    snprintf(d->firmware, sizeof d->firmware, "1.2.3");
    d->protocol_version = 1;
    d->rows = (uint16_t)rows;
    d->cols = (uint16_t)cols;
    d->adc_bits = 12;
    d->row_pitch_mm = 10.0;
    d->col_pitch_mm = 12.5;
    d->rate_hz = 100.0;
}

static inline void fx_rm_frame(uint64_t i, unsigned rows, unsigned cols, uint16_t *buf, rm_frame *f)
{
    fx_frame(i, rows, cols, buf);
    f->seq = fx_seq(i);
    f->flags = fx_flags(i);
    f->t_device_us = fx_tdev(i);
    f->time_s = fx_time(i);
    f->rows = (uint16_t)rows;
    f->cols = (uint16_t)cols;
    f->raw = buf;
}

#endif

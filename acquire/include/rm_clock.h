/* rm_clock.h - maps a mat's device clock onto the host clock.
 *
 * The device stamps every frame with t_device_us (its own oscillator, up to
 * +/-100 ppm off); the host only knows when a USB transfer holding the frame
 * completed, which is later than the frame by a latency that jitters (bus
 * scheduling, transfer batching, the event thread's wake-up). Latency is
 * never negative, so the host-minus-device offset seen by each frame is
 * the true offset plus a non-negative delay: the *lower envelope* of the
 * offsets is the clean signal.
 *
 * The fit: offsets r = (host - host0) - (dev - dev0) are grouped in blocks of
 * `block_s` seconds of device time; each block keeps its minimum (the frame
 * that waited least). A least-squares line through the minima of the last
 * `max_blocks` blocks gives offset(dev) = a + b * dev, where b is the drift
 * (ppm scale). Until two blocks are complete the running minimum alone is
 * used (b = 0). time(dev) = host0 + (dev - dev0) + a + b * (dev - dev0),
 * clamped so it never goes backwards. Jitter above the envelope does not
 * enter the fit; a constant latency floor (USB frame + one transfer) stays
 * as a fixed offset of at most a few ms.
 *
 * Host times are seconds on CLOCK_MONOTONIC relative to the recording's
 * start (the caller's choice); device times are the raw microseconds.
 * Threads: no locks; one thread at a time updates and reads a clock (the
 * thread that decodes the frames).
 * The object is plain data: rm_clock_init, no free needed. */
#ifndef RM_CLOCK_H
#define RM_CLOCK_H

#include <stdint.h>

#define RM_CLOCK_MAX_BLOCKS 64

typedef struct rm_clock {
    double block_s; /* block length in device seconds (default 1) */
    int max_blocks; /* blocks kept for the fit (default 60) */
    int anchored;
    uint64_t dev0_us; /* device time at the anchor */
    double host0;     /* host time at the anchor */
    double arrival;   /* host time of the bytes being decoded now */
    /* current block */
    double blk_start, blk_min, blk_x;
    int blk_open;
    /* completed blocks (ring) */
    double bx[RM_CLOCK_MAX_BLOCKS], by[RM_CLOCK_MAX_BLOCKS];
    int nblocks, next;
    double a, b; /* fitted offset and slope */
    double last; /* last time returned */
} rm_clock;

/* Resets the fit. block_s <= 0 and max_blocks <= 1 pick the defaults. */
void rm_clock_init(rm_clock *c, double block_s, int max_blocks);

/* Sets the host arrival time (seconds) of the bytes decoded next. */
static inline void rm_clock_set_arrival(rm_clock *c, double host_s) { c->arrival = host_s; }

/* Records that a frame stamped t_device_us arrived at the current arrival
 * time, and returns its host time. */
double rm_clock_observe(rm_clock *c, uint64_t t_device_us);

/* Host time of a device time with the current fit (no observation). */
double rm_clock_map(const rm_clock *c, uint64_t t_device_us);

/* The device clock restarted (mat power-cycled): re-anchor at the next
 * frame, keeping the drift estimate and the no-going-back guarantee. */
void rm_clock_device_reset(rm_clock *c);

/* Adapter for rm_decoder_config.clock: user is an rm_clock. */
double rm_clock_decoder_fn(void *user, uint64_t t_device_us);

/* Seconds on CLOCK_MONOTONIC. */
double rm_clock_monotonic(void);

#endif

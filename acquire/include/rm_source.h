/* rm_source.h - acquisition sources run end to end: the USB mat and a saved
 * raw stream, each decoded by rm_decoder and handed through an rm_recorder
 * (ring + writer thread) to the caller's sinks.
 *
 * Packets the sinks see: HEADER (the caller's, with `created`,
 * `created_unix` and `source` filled in), DEVICE, CALIB (if the mat has
 * one), then FRAME and EVENT packets (decoder events: gap, corrupt,
 * truncated, garbage notes; recorder: overrun; source: label at the start,
 * disconnect, reconnect), then END with the decoder's totals and why the
 * stream ended. Every sink's finish is called exactly once.
 *
 * Stopping: the run ends when *stop becomes non-zero (a signal handler sets
 * it; it is only read here), when `duration_s` of frame time has been
 * recorded, when a replay file ends, when a sink fails (e.g. disk full), or
 * on a USB failure other than a disconnect. A disconnect keeps the
 * recording open and waits (up to reconnect_timeout_s, 0 = until stopped)
 * for a mat with the same serial; the open sequence is redone (GET_INFO,
 * calibration, SET_RATE, START) and the recording goes on: seq restarting at
 * 0 is not a gap, and a "reconnect" event marks the join. */
#ifndef RM_SOURCE_H
#define RM_SOURCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_decoder.h"
#include "rm_packet.h"
#include "rm_recorder.h"
#include "rm_status.h"

typedef struct rm_source_status {
    double elapsed_s;        /* host seconds since the start */
    double time_s;           /* time of the last frame recorded */
    uint64_t frames_ok;      /* frames decoded */
    uint64_t frames_written; /* frames handed to the sinks */
    uint64_t frames_missing; /* seq gaps */
    uint64_t frames_corrupt, frames_truncated, garbage_bytes, overruns;
    double rate_hz;          /* frames per second over the last interval */
    int connected;           /* 0 while waiting for a replug */
} rm_source_status;

/* Called on the source's thread about every status_interval_s. */
typedef void (*rm_source_status_fn)(void *user, const rm_source_status *st);

typedef struct rm_source_config {
    rm_header header;         /* title, subject...; created/source set by the run */
    const char *label;        /* if set, a "label" event at time 0 */
    double duration_s;        /* 0 = until stopped */
    const volatile sig_atomic_t *stop; /* may be NULL */
    size_t ring_slots;        /* 0 = default */
    FILE *capture;            /* raw bytes tee, or NULL (borrowed) */
    rm_source_status_fn status;
    void *status_user;
    double status_interval_s; /* 0 = 0.5 */
    rm_logger log;
    /* USB only */
    uint16_t vid, pid;        /* 0 = defaults */
    const char *serial;       /* NULL = the only mat */
    unsigned rate_hz;         /* 0 = keep the mat's rate */
    size_t transfer_size;     /* 0 = RM_USB_DEFAULT_TRANSFER_SIZE */
    unsigned transfers;       /* 0 = RM_USB_DEFAULT_TRANSFERS */
    double reconnect_timeout_s; /* 0 = wait until stopped */
    /* Emulated mats in accelerated time: the device clock runs faster than
     * the host's, so time_s must come from the device clock (device_time),
     * and the host may apply back-pressure instead of dropping frames when
     * its ring is full (no_drop). A real mat wants neither: it never waits,
     * and the host clock is the reference. */
    int device_time;
    int no_drop;
    /* replay only: the device to announce (the raw stream does not carry
     * it); NULL = one built from the first frame's geometry */
    const rm_device *replay_device;
    const rm_calib *replay_calib;
} rm_source_config;

typedef struct rm_source_result {
    rm_decoder_stats decoder;
    rm_recorder_stats recorder;
    unsigned disconnects, reconnects;
    rm_status end_status;     /* why the stream ended (END's status) */
} rm_source_result;

/* Records from a USB mat until stopped. Errors before the first packet
 * (no mat, STALL on SET_RATE...) return without calling any sink except
 * finish; later errors still close the recording with END. */
rm_status rm_source_usb_run(const rm_source_config *cfg, const rm_sink *sinks, size_t nsinks,
                            rm_source_result *res, rm_err *err);

/* Records from a saved raw byte stream (a --capture file, or
 * rm_vmat_read_stream output) through the same decoder. time_s is the
 * device clock relative to the first frame (no host arrival times exist). */
rm_status rm_source_replay_run(const char *path, const rm_source_config *cfg,
                               const rm_sink *sinks, size_t nsinks, rm_source_result *res,
                               rm_err *err);

#endif

/* rm_source.h - acquisition sources run end to end: the USB mat, a saved
 * raw stream and the virtual mat's stream, each decoded by rm_decoder and
 * handed through an rm_recorder (ring + writer thread) to the caller's
 * sinks; one interface (rm_source, below) for all of them.
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
 * recorded, when a replay's bytes end (unless hold_at_end), when a sink fails (e.g. disk full), or
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
    double rate_hz; /* frames per second over the last interval */
    int connected;  /* 0 while waiting for a replug */
} rm_source_status;

/* Called on the source's thread about every status_interval_s. */
typedef void (*rm_source_status_fn)(void *user, const rm_source_status *st);

typedef struct rm_source_config {
    rm_header header;                  /* title, subject...; created/source set by the run */
    const char *label;                 /* if set, a "label" event at time 0 */
    double duration_s;                 /* 0 = until stopped */
    const volatile sig_atomic_t *stop; /* may be NULL */
    size_t ring_slots;                 /* 0 = default */
    FILE *capture;                     /* raw bytes tee, or NULL (borrowed) */
    rm_source_status_fn status;
    void *status_user;
    double status_interval_s; /* 0 = 0.5 */
    rm_logger log;
    /* USB only */
    uint16_t vid, pid;          /* 0 = defaults */
    const char *serial;         /* NULL = the only mat */
    unsigned rate_hz;           /* 0 = keep the mat's rate */
    size_t transfer_size;       /* 0 = RM_USB_DEFAULT_TRANSFER_SIZE */
    unsigned transfers;         /* 0 = RM_USB_DEFAULT_TRANSFERS */
    double reconnect_timeout_s; /* 0 = wait until stopped */
    /* Emulated mats in accelerated time: the device clock runs faster than
     * the host's, so time_s must come from the device clock (device_time),
     * and the host may apply back-pressure instead of dropping frames when
     * its ring is full (no_drop). A real mat wants neither: it never waits,
     * and the host clock is the reference. */
    int device_time;
    int no_drop;
} rm_source_config;

typedef struct rm_source_result {
    rm_decoder_stats decoder;
    rm_recorder_stats recorder;
    unsigned disconnects, reconnects;
    rm_status end_status; /* why the stream ended (END's status) */
} rm_source_result;

/* Records from a USB mat until stopped. Errors before the first packet
 * (no mat, STALL on SET_RATE...) return without calling any sink except
 * finish; later errors still close the recording with END. */
rm_status rm_source_usb_run(const rm_source_config *cfg, const rm_sink *sinks, size_t nsinks,
                            rm_source_result *res, rm_err *err);

/* ---- one interface for every source --------------------------------------
 * A source is an object with a run: `rollmat record` and the daemon hold an
 * rm_source and never ask which kind it is. Three kinds are built here:
 *   usb      a mat over libusb (rm_source_usb_run above, with reconnect);
 *   replay   a saved raw byte stream (a --capture file, `rollmat simulate
 *            --stream` output) read from a file;
 *   virtual  the same byte stream produced on the fly by a reader callback
 *            (the virtual mat's rm_vmat_read_stream: acquire cannot link the
 *            model, so the caller wires it in).
 * Replay and virtual share one loop: the stream decoder on bytes, time_s the
 * device clock relative to the first frame (no host arrival times exist),
 * the recorder's ring waiting instead of dropping (a file can wait: a replay
 * loses nothing). A new kind of device adds an rm_source_ops of its own.
 *
 * Threads: an rm_source may not be used from two threads at once: its run
 * is a blocking call on the caller's thread (the daemon gives it a thread
 * of its own); a second run may follow on another thread once the first
 * returned. The only thing another thread (or a signal handler) touches is
 * *cfg->stop, which it sets and the run only reads. During a run, HEADER,
 * DEVICE and CALIB reach the sinks on the run's thread and everything after
 * on the recorder's writer thread (never two at once); the status callback
 * and a virtual source's read run on the run's thread. Different rm_source
 * objects are independent (the usb kind holds no state between runs). */

/* The vtable. `name` is the HEADER's source ("usb", "replay", "virtual").
 * `run` has the contract of rm_source_usb_run (every sink finished exactly
 * once; errors before the first packet finish the sinks without END).
 * `free` releases ctx (may be NULL for none). */
typedef struct rm_source_ops {
    const char *name;
    rm_status (*run)(void *ctx, const rm_source_config *cfg, const rm_sink *sinks, size_t nsinks,
                     rm_source_result *res, rm_err *err);
    void (*free)(void *ctx);
} rm_source_ops;

typedef struct rm_source rm_source;

/* Wraps ops + ctx into a source; ops is borrowed (a static table), ctx is
 * owned from here on (ops->free on rm_source_free, also when this fails). */
rm_status rm_source_new(const rm_source_ops *ops, void *ctx, rm_source **out, rm_err *err);

/* Runs one recording from the source (see the stopping rules at the top).
 * May be called again once it returned (the daemon runs one per start). */
rm_status rm_source_run(rm_source *src, const rm_source_config *cfg, const rm_sink *sinks,
                        size_t nsinks, rm_source_result *res, rm_err *err);

const char *rm_source_name(const rm_source *src);

/* NULL allowed. */
void rm_source_free(rm_source *src);

/* The USB mat: the USB fields of rm_source_config choose and set it up. */
rm_status rm_source_usb_new(rm_source **out, rm_err *err);

/* Reads up to `cap` bytes of the stream into buf; *got = 0 at its end.
 * Called on the run's thread only. */
typedef rm_status (*rm_source_read_fn)(void *user, uint8_t *buf, size_t cap, size_t *got,
                                       rm_err *err);

typedef struct rm_source_replay_options {
    /* replay: the raw stream's file (must exist). virtual: a name for
     * messages (NULL = "virtual mat"). */
    const char *path;
    /* The device to announce (a raw stream carries frames only). NULL: one
     * with the RM-1's defaults, model and firmware "unknown". rows/cols 0:
     * the geometry of the stream's first valid frame. For replay, a capture's
     * sidecar PATH.dev (rm_capture.h), if there is one, replaces it. Copied. */
    const rm_device *device;
    /* Sent as CALIB when its geometry is the stream's; takes precedence over
     * the sidecar's. NULL = the sidecar's or none. Copied. */
    const rm_calib *calib;
    /* Release frames at this many per second in real time, as a mat would
     * (the daemon); 0 = as fast as the sinks take them (record). */
    double pace_hz;
    /* At the end of the bytes keep the recording open, like a mat that
     * stopped sending, until cfg->stop (the daemon); 0 = end it (record). */
    int hold_at_end;
} rm_source_replay_options;

/* A saved raw stream. The file must exist (checked here, so a wrong path
 * fails before anything is created); a damaged sidecar is an error here.
 * The run fails with "no frame in the stream" when the first 8 MiB hold no
 * valid frame. opt is copied. */
rm_status rm_source_replay_new(const rm_source_replay_options *opt, rm_source **out, rm_err *err);

/* Shortcut for a one-off replay as fast as possible (bench, scripts):
 * rm_source_replay_new({.path = path}), rm_source_run, rm_source_free. A
 * failure of the first step finishes the sinks, as a run would. */
rm_status rm_source_replay_run(const char *path, const rm_source_config *cfg, const rm_sink *sinks,
                               size_t nsinks, rm_source_result *res, rm_err *err);

/* A byte stream from `read` (user is borrowed and must outlive the source;
 * the run reads it once, so a second run continues where it stopped). The
 * sidecar is not looked for. */
rm_status rm_source_virtual_new(rm_source_read_fn read, void *user,
                                const rm_source_replay_options *opt, rm_source **out, rm_err *err);

#endif

/* rm_recorder.h - ties a packet source to its sinks through a bounded ring
 * and a writer thread.
 *
 * The source side (the USB event thread, or a replay loop) must never wait
 * for a disk: it hands packets to rm_recorder_sink(), whose receive copies
 * a FRAME or EVENT into a preallocated ring slot and returns at once. A
 * writer thread takes slots in order and hands them to every sink (the
 * session writer, live metrics, ...). When the ring is full a frame is
 * dropped and counted; as soon as there is room again an "overrun" event
 * (value = frames dropped) is queued, so the loss is in the recording.
 * Events use a reserve of slots that frames cannot take, so an event is
 * only lost if the reserve is full too (counted as events_lost).
 *
 * Raw capture (--capture): rm_recorder_capture() copies bytes into a
 * bounded byte ring that the writer thread writes to the capture file; on
 * overflow the bytes are dropped and counted (capture_lost).
 *
 * Order of use: rm_recorder_new, rm_recorder_begin (sends HEADER, DEVICE,
 * CALIB to every sink on the caller's thread, then starts the writer
 * thread), packets through rm_recorder_sink(), rm_recorder_end (queues END,
 * joins the thread, calls every sink's finish), rm_recorder_free.
 *
 * Threads: begin, end and free from one controlling thread; the sink
 * (rm_recorder_sink) and rm_recorder_capture from one producer thread at a
 * time; rm_recorder_stats from any thread. A sink runs on one thread at a
 * time (the caller's in begin and end, the writer thread in between), so it
 * needs no lock of its own.
 *
 * Ownership: sinks are copied into the recorder; their contexts are owned by
 * the sinks and released by their finish (called exactly once, by
 * rm_recorder_end, or by rm_recorder_free if end was never reached). */
#ifndef RM_RECORDER_H
#define RM_RECORDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_packet.h"
#include "rm_status.h"

#define RM_RECORDER_MAX_SINKS 8

typedef struct rm_recorder rm_recorder;

typedef struct rm_recorder_config {
    size_t ring_slots;    /* frames the ring holds; 0 = 4096 */
    uint16_t rows, cols;  /* frame geometry (slot size); 1..256 */
    size_t capture_bytes; /* byte ring for the capture; 0 = 64 MiB */
    FILE *capture;        /* raw byte capture, or NULL; borrowed, the
                                 caller closes it after rm_recorder_end */
    int wait_when_full;   /* 1: a full ring makes the producer wait
                                 instead of dropping (file sources, where
                                 nothing is lost by waiting) */
    rm_logger log;
} rm_recorder_config;

typedef struct rm_recorder_stats {
    uint64_t frames_in;     /* frames offered by the source */
    uint64_t frames_out;    /* frames handed to the sinks */
    uint64_t overruns;      /* frames dropped because the ring was full */
    uint64_t events_lost;   /* events dropped (ring and reserve full) */
    uint64_t capture_bytes; /* bytes written to the capture */
    uint64_t capture_lost;  /* capture bytes dropped (byte ring full) */
    size_t ring_high_water; /* most slots ever in use */
    double last_time_s;     /* time of the last frame handed to sinks */
} rm_recorder_stats;

/* `sinks` (n <= RM_RECORDER_MAX_SINKS) are copied. */
rm_status rm_recorder_new(const rm_recorder_config *cfg, const rm_sink *sinks, size_t n,
                          rm_recorder **out, rm_err *err);

/* Sends HEADER, DEVICE and CALIB (calib may be NULL) to every sink on the
 * calling thread, then starts the writer thread. A sink error is returned
 * and the recorder is not started (rm_recorder_free still finishes sinks). */
rm_status rm_recorder_begin(rm_recorder *rec, const rm_header *hdr, const rm_device *dev,
                            const rm_calib *calib, rm_err *err);

/* The producer side as a sink (only `receive` is set; FRAME and EVENT
 * packets). Never blocks on the writer. Its receive fails only when a sink
 * already failed (that error is returned so the source stops). Valid until
 * rm_recorder_free. Single producer: call from one thread at a time. */
const rm_sink *rm_recorder_sink(rm_recorder *rec);

/* Queues one event from the producer side (convenience over the sink). */
rm_status rm_recorder_event(rm_recorder *rec, double time_s, const char *kind, int64_t value,
                            const char *text, rm_err *err);

/* Copies raw bytes for the capture file (no-op without one). Never blocks. */
void rm_recorder_capture(rm_recorder *rec, const void *buf, size_t len);

/* 1 once a sink failed (the source should stop); its error in *err. */
int rm_recorder_failed(rm_recorder *rec, rm_err *err);

/* Snapshot of the counters (thread-safe). */
void rm_recorder_get_stats(rm_recorder *rec, rm_recorder_stats *out);

/* Queues END (with `end`'s totals), waits until every queued packet reached
 * the sinks, calls every sink's finish and flushes the capture. Returns the
 * first sink error (receive or finish), or RM_OK. */
rm_status rm_recorder_end(rm_recorder *rec, const rm_end *end, rm_err *err);

/* Frees the recorder; if rm_recorder_end was not called, stops the thread
 * and finishes the sinks first. NULL is allowed. */
void rm_recorder_free(rm_recorder *rec);

#endif

/* rm_session.h - the HDF5 session file, version 1 (the recording).
 * Layout: DESIGN.md "Session file, version 1" and docs/format.md.
 *
 * Writer: created with everything known up front (header, device,
 * calibration), then SWMR starts; frames and events are appended and
 * flushed on chunk boundaries and at least once a second, so a killed
 * writer leaves a file holding every flushed frame. rm_session_writer_close
 * finishes the file; a closed recording is never opened for writing again.
 *
 * Reader: validates the layout (conventions, every dataset's type and shape,
 * consistent lengths), reads a live (SWMR) recording too, and iterates
 * frames in chunks without loading the recording whole.
 *
 * Ownership: _create/_open return objects the caller ends with _close; all
 * inputs are borrowed and copied. */
#ifndef RM_SESSION_H
#define RM_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "rm_packet.h"
#include "rm_calib.h"
#include "rm_status.h"

#define RM_SESSION_CONVENTIONS "rollmat-session-1"

/* Threads: an rm_session_writer belongs to one thread at a time (the
 * recorder hands it to its writer thread and never touches it again); no
 * call may run concurrently with another on the same writer. Writers of
 * different files may run in different threads: Debian's HDF5 is built
 * thread-safe (H5_HAVE_THREADSAFE), which serialises every HDF5 call. */
typedef struct rm_session_writer rm_session_writer;

typedef struct rm_session_writer_options {
    unsigned chunk_frames;   /* frames per chunk along time; 0 = default */
    int deflate_level;       /* 0..9; -1 = default (1) */
    double flush_interval_s; /* max seconds between flushes, of host time and of
                                recorded (frame) time alike; 0 = 1.0 */
    int swmr;                /* 1 (default when options NULL) */
    /* 1: flush after every whole chunk. A source faster than real time (a
     * replay) would otherwise go many chunks between flushes of host time,
     * and a disk that fills meanwhile leaves none of them readable. */
    int flush_every_chunk;
} rm_session_writer_options;

/* Creates `path` (fails if it exists: RM_ERR_IO naming it) with header,
 * device and calibration (calib may be NULL: identity calibration with a
 * linear curve of 1 kPa per count is recorded as such). */
rm_status rm_session_writer_create(const char *path, const rm_header *hdr, const rm_device *dev,
                                   const rm_calib *calib, const rm_session_writer_options *opt,
                                   rm_session_writer **out, rm_err *err);
/* Appends one frame (copied). Geometry must match the device. */
rm_status rm_session_writer_append(rm_session_writer *w, const rm_frame *frame, rm_err *err);
/* Appends `n` frames whose raw data are contiguous (n * rows * cols). */
rm_status rm_session_writer_append_batch(rm_session_writer *w, size_t n, const uint32_t *seq,
                                         const uint16_t *flags, const uint64_t *t_device_us,
                                         const double *time_s, const uint16_t *raw, rm_err *err);
/* Optional extras, for imported recordings. Allowed only before the first
 * append/event/flush (SWMR starts then: HDF5 1.10 cannot create objects
 * afterwards). mask: rows*cols bytes, 1 = real sensel, 0 = not a sensel
 * (stored as /calibration/mask). A reference series is a per-frame value a
 * vendor's software computed (stored as /reference/NAME, float64 [time],
 * with units and long_name); n must equal the number of frames appended. */
rm_status rm_session_writer_set_mask(rm_session_writer *w, const uint8_t *mask, rm_err *err);
rm_status rm_session_writer_add_reference(rm_session_writer *w, const char *name, const char *units,
                                          const char *long_name, size_t n, const double *values,
                                          rm_err *err);
/* Free-form attribute on /calibration recording how it was obtained,
 * e.g. "identity: imported kPa, 0.01 kPa per count" (before first append). */
rm_status rm_session_writer_set_calib_note(rm_session_writer *w, const char *note, rm_err *err);

rm_status rm_session_writer_add_event(rm_session_writer *w, const rm_event *ev, rm_err *err);
/* Makes everything appended so far durable and visible to SWMR readers. */
rm_status rm_session_writer_flush(rm_session_writer *w, rm_err *err);
uint64_t rm_session_writer_frames(const rm_session_writer *w);
/* Records the source's end totals (the sink does this on END); they are
 * written as root attributes by rm_session_writer_close. */
rm_status rm_session_writer_set_end(rm_session_writer *w, const rm_end *end);
/* Flushes, writes the totals and closes. Frees w even on error. */
rm_status rm_session_writer_close(rm_session_writer *w, rm_err *err);

/* The writer as a packet sink: HEADER/DEVICE/CALIB packets are gathered,
 * the file is created at the first FRAME/EVENT/END; END closes it.
 * `path` is copied. The sink's ctx is freed by finish. */
rm_status rm_session_sink_new(const char *path, const rm_session_writer_options *opt, rm_sink *sink,
                              rm_err *err);

/* Threads: an rm_session is used by one thread at a time; it may move
 * between threads (open in one, read in another) but two concurrent calls
 * on the same session are not allowed. To read one file from several
 * threads, open it once per thread. The iterator below runs its own inflate
 * workers internally and still calls HDF5 only from the caller's thread.
 * Pointers a session returns (header, device, calibration, events) stay
 * valid until rm_session_close and must not be written to. */
typedef struct rm_session rm_session;

/* Opens and validates a recording (read-only, SWMR-read if it is live).
 * Errors name the file and the object: "x.h5: /frames/raw has 2
 * dimensions, expected 3". */
rm_status rm_session_open(const char *path, rm_session **out, rm_err *err);
void rm_session_close(rm_session *s);

const rm_header *rm_session_header(const rm_session *s);
const rm_device *rm_session_device(const rm_session *s);
const rm_calib *rm_session_calib(const rm_session *s);
/* 1 if the recording is still being written (or its writer died). */
int rm_session_is_live(const rm_session *s);
/* Frames available now; for a live file, rm_session_refresh updates it. */
uint64_t rm_session_frames(const rm_session *s);
rm_status rm_session_refresh(rm_session *s, rm_err *err);

/* Reads frames [first, first+n) into caller buffers (any may be NULL;
 * raw holds n*rows*cols). */
rm_status rm_session_read(rm_session *s, uint64_t first, size_t n, uint16_t *raw, double *time_s,
                          uint32_t *seq, uint64_t *t_device_us, uint16_t *flags, rm_err *err);
/* Frames per chunk along time in the file (a good batch size for reads). */
size_t rm_session_chunk_frames(const rm_session *s);

/* Iterating in chunk-sized batches: the reader inflates upcoming chunks on
 * nthreads-1 worker threads (1 = all work in the caller's thread) while the
 * caller uses the current batch. Memory: a few chunks, whatever the length.
 * HDF5 is called only from the caller's thread. The iterator covers frames
 * [first, rm_session_frames()) as known when it is created; s must outlive
 * it and must not be read or refreshed while it exists. */
typedef struct rm_session_iter rm_session_iter;
typedef struct rm_session_batch {
    uint64_t first;      /* index of the batch's first frame */
    size_t n;            /* frames in the batch; 0 at the end */
    const uint16_t *raw; /* n*rows*cols, valid until the next call */
    const double *time_s;
    const uint32_t *seq;
    const uint64_t *t_device_us;
    const uint16_t *flags;
} rm_session_batch;
rm_status rm_session_iter_new(rm_session *s, uint64_t first, unsigned nthreads,
                              rm_session_iter **out, rm_err *err);
/* Fills *b with the next batch (b->n == 0 after the last). */
rm_status rm_session_iter_next(rm_session_iter *it, rm_session_batch *b, rm_err *err);
void rm_session_iter_free(rm_session_iter *it);

/* The path the session was opened with (owned by s). */
const char *rm_session_path(const rm_session *s);
/* Totals the writer stored at close (root attributes frames_corrupt ...);
 * RM_ERR_NOT_FOUND if the file has none (live, crashed, or no END). */
rm_status rm_session_end_totals(const rm_session *s, rm_end *end);

/* Events: count and one by index. */
size_t rm_session_event_count(const rm_session *s);
rm_status rm_session_event(const rm_session *s, size_t i, rm_event *ev);

/* Optional extras: mask (NULL if the file has none, rows*cols bytes),
 * reference series (vendor-computed per-frame values). */
const uint8_t *rm_session_mask(const rm_session *s);
size_t rm_session_reference_count(const rm_session *s);
/* Name, units and values (rm_session_frames() doubles, owned by s) of
 * reference series i. */
rm_status rm_session_reference(const rm_session *s, size_t i, const char **name, const char **units,
                               const double **values);

/* Sizes: bytes of /frames/raw on disk, and uncompressed. */
void rm_session_sizes(const rm_session *s, uint64_t *stored, uint64_t *raw);

/* Pressure of frame data in kPa with the recording's calibration. */
void rm_session_pressure(const rm_session *s, const uint16_t *raw, float *kpa);

/* Replays the recording as a packet source into `sink` (HEADER, DEVICE,
 * CALIB, FRAME and EVENT in time order, END); calls sink->finish. */
rm_status rm_session_replay(rm_session *s, const rm_sink *sink, rm_err *err);

#endif

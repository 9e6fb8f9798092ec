/* rm_decoder.h - the RM-1 frame stream decoder.
 *
 * A pure, incremental decoder: it is fed the bulk IN byte stream in slices of
 * any size (frames never align with USB transfers), finds frames, checks
 * magic, lengths and CRC (rm_frame_decode), resynchronises after bad bytes
 * by scanning for the next magic "RMF1", skips extra header bytes
 * (header_len > 32), tracks sequence numbers, and hands FRAME and EVENT
 * packets to a sink's `receive` (the decoder never calls `finish`).
 *
 * Counting rules (exact; docs/recording.md):
 * - ok: a frame whose magic, header, lengths and CRC check out.
 * - corrupt: a frame with a valid header whose CRC fails and that holds no
 *   new magic before its announced end (its announced length is skipped);
 *   also a frame whose header is invalid (bad header_len, geometry or
 *   payload_len) with no new magic inside its 32 header bytes (the bytes up
 *   to the next magic belong to it, not to garbage); also a valid frame whose
 *   geometry differs from the expected one. One "corrupt" event each.
 * - truncated: a frame in which a new magic starts before its announced end
 *   (decoding resumes at that magic), or a partial frame at the end of the
 *   stream (rm_decoder_finish / rm_decoder_restart). One "truncated" event
 *   each, value = the bytes it occupied.
 * - garbage: bytes outside any frame (before a magic). One "note" event per
 *   contiguous run, value = bytes, text "garbage: ...".
 * - gaps: seq jumps forward by k > 1: one "gap" event, value = k - 1 frames
 *   missing (frames lost to corruption or truncation are missing too).
 *   Comparison is modulo 2^32, so seq wrapping from 0xFFFFFFFF to 0 is not a
 *   gap; a jump backwards is recorded as a "note" and is not a gap.
 * - device_drops: frames carrying RM_FLAG_DROPPED_BEFORE.
 * Threads: a decoder has no locks and no threads of its own; one thread at a
 * time feeds it (the USB event thread, or the replay loop). Two decoders
 * share nothing and can run side by side.
 * Memory is bounded whatever the input: one buffer of twice the largest
 * frame (4096-byte header + 256x256 payload + CRC) and one frame of sensels.
 *
 * Ownership: rm_decoder_new returns an object freed with rm_decoder_free;
 * the config's sink is borrowed and must outlive the decoder. Packets handed
 * to the sink are borrowed for the duration of `receive`. */
#ifndef RM_DECODER_H
#define RM_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "rm_packet.h"
#include "rm_proto.h"
#include "rm_status.h"

typedef struct rm_decoder rm_decoder;

/* Maps a frame's device clock to seconds on the host clock since the
 * recording's start (rm_frame.time_s). */
typedef double (*rm_decoder_clock_fn)(void *user, uint64_t t_device_us);

typedef struct rm_decoder_config {
    const rm_sink *sink;       /* receives FRAME and EVENT packets; may be NULL */
    uint16_t rows, cols;       /* expected geometry; 0 = accept any */
    rm_decoder_clock_fn clock; /* NULL: (t_device - first t_device) / 1e6 */
    void *clock_user;
} rm_decoder_config;

typedef struct rm_decoder_stats {
    uint64_t bytes; /* bytes fed */
    uint64_t frames_ok;
    uint64_t frames_corrupt;
    uint64_t frames_truncated;
    uint64_t garbage_bytes;
    uint64_t garbage_runs;
    uint64_t gaps;           /* gap events */
    uint64_t frames_missing; /* sum of gap sizes */
    uint64_t device_drops;   /* frames flagged DROPPED_BEFORE */
    uint64_t seq_resets;     /* seq went backwards (not a gap) */
    uint32_t last_seq;       /* valid once frames_ok > 0 */
} rm_decoder_stats;

/* Creates a decoder. `cfg` is copied (the sink it points to is borrowed). */
rm_status rm_decoder_new(const rm_decoder_config *cfg, rm_decoder **out, rm_err *err);
void rm_decoder_free(rm_decoder *dec);

/* Feeds `len` bytes (borrowed). Frames and events complete within them are
 * sent to the sink before it returns; a partial frame is kept for the next
 * call. A sink error stops decoding and is returned (the decoder stays
 * usable; the bytes not yet processed are dropped). */
rm_status rm_decoder_feed(rm_decoder *dec, const void *buf, size_t len, rm_err *err);

/* End of stream: a partial frame left over is truncated, leftover bytes that
 * do not start a frame are garbage. The decoder can be fed again afterwards. */
rm_status rm_decoder_finish(rm_decoder *dec, rm_err *err);

/* The device restarted its stream (reconnect + START: seq restarts at 0):
 * finishes what is buffered like rm_decoder_finish, then forgets the last
 * seq so the next frame is not compared with it. */
rm_status rm_decoder_restart(rm_decoder *dec, rm_err *err);

/* Changes the clock mapping (e.g. after the device clock was reset). */
void rm_decoder_set_clock(rm_decoder *dec, rm_decoder_clock_fn clock, void *user);

/* Time (rm_frame.time_s) of the last frame decoded, 0 before any. */
double rm_decoder_last_time(const rm_decoder *dec);

void rm_decoder_get_stats(const rm_decoder *dec, rm_decoder_stats *out);

/* Fills an rm_end's counters from decoder stats (status left untouched). */
void rm_decoder_stats_to_end(const rm_decoder_stats *st, rm_end *end);

#endif

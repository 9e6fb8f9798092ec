/* rm_vmat.h - the virtual mat: the reference device model of an RM-1 mat
 * under a person foam rolling, and the byte stream such a mat would send.
 *
 * A scenario (JSON, see scenarios/README.md) describes a routine as
 * segments (one muscle group each) of phases: roll passes, holds, lifts.
 * The model simulates the body (roller strip + supports), the sensor
 * (response curve, per-sensel zero/gain spread, noise, saturation, dead and
 * hot sensels) and the firmware (frames, seq, device clock, faults). It is
 * deterministic: the same scenario, seed and rate give the same bytes.
 *
 * Ownership: rm_vmat_new returns an object the caller frees with
 * rm_vmat_free; every pointer returned by an accessor is owned by the
 * rm_vmat and valid until rm_vmat_free. */
#ifndef RM_VMAT_H
#define RM_VMAT_H

#include <stddef.h>
#include <stdint.h>

#include "rm_packet.h"
#include "rm_proto.h"
#include "rm_status.h"

typedef struct rm_vmat rm_vmat;

/* Faults the device model injects into its byte stream. Each rate is a
 * per-frame probability; counts of what was injected are reported exactly. */
typedef struct rm_vmat_faults {
    double corrupt_rate;  /* flip bytes in a frame: its CRC fails */
    double truncate_rate; /* cut a frame short: the next magic follows */
    double garbage_rate;  /* insert 1..64 bytes of noise between frames */
    double drop_rate;     /* device-side drop: frame not sent, seq jumps,
                              next frame has RM_FLAG_DROPPED_BEFORE */
} rm_vmat_faults;

typedef struct rm_vmat_config {
    const char *scenario; /* a file path, or a shipped name ("guide") */
    uint64_t seed;        /* noise and faults; 0 is a valid seed */
    double rate_hz;       /* 0 = the scenario's rate, else 10..1000 */
    int fault_override;   /* 1: use `faults` instead of the scenario's */
    rm_vmat_faults faults;
    double time_scale; /* 1 = the scenario as written; <1 shortens every
                              phase (tests); 0 means 1 */
} rm_vmat_config;

/* Counts of what the model injected into the stream so far. */
typedef struct rm_vmat_counts {
    uint64_t frames_produced; /* every frame simulated since rm_vmat_new, over
                                  all acquisitions (= the scenario index of the
                                  next frame; = last seq + 1 only until the
                                  first rm_vmat_restart_seq). For the stream:
                                  sent + corrupt + truncated + dropped */
    uint64_t frames_sent;     /* sent intact */
    uint64_t frames_corrupt;
    uint64_t frames_truncated;
    uint64_t frames_dropped; /* device-side drops (seq gaps; a drop right
                                  before a restart leaves no gap) */
    uint64_t garbage_insertions;
    uint64_t garbage_bytes;
} rm_vmat_counts;

/* Ground truth of one frame (what the model simulated). */
typedef enum rm_vmat_state {
    RM_VMAT_UNLOADED = 0,
    RM_VMAT_ROLLING = 1,
    RM_VMAT_HOLDING = 2,
} rm_vmat_state;

typedef struct rm_vmat_truth {
    double time_s;          /* scenario (true) time = n / rate, seconds since the
                               first START (rm_vmat_restart_seq does not reset it);
                               t_device_us maps to it with drift (PROTOCOL.md) */
    double roller_x_cm;     /* contact line position along the mat */
    double roller_y_cm;     /* load centre across the mat */
    double roller_force_n;  /* 0 when unloaded */
    double support_force_n; /* hands, feet, forearms */
    double speed_cm_s;      /* signed */
    rm_vmat_state state;
    int segment;                 /* index into the scenario's segments, -1 between */
    int tool;                    /* 0 roller, 1 massage ball (the segment's tool) */
    double ball_x_cm, ball_y_cm; /* ball contact centre (circling), NaN-free: 0 if none */
    double ball_force_n;         /* 0 when the ball is not pressed */
} rm_vmat_truth;

/* Loads the scenario and builds the model. `err` gets the file and what is
 * wrong for a bad scenario. */
rm_status rm_vmat_new(const rm_vmat_config *cfg, rm_vmat **out, rm_err *err);
void rm_vmat_free(rm_vmat *vm);

/* Resolves a scenario name ("guide", "rushed", "behm2020", "faulty") to the
 * shipped file path; a name containing '/' or ending in .json is returned as
 * is. Returns a pointer to static or `buf` storage. */
const char *rm_vmat_scenario_path(const char *name, char *buf, size_t cap);

/* The GET_INFO block, calibration and USB identity of this mat. */
const rm_info *rm_vmat_info(const rm_vmat *vm);
const rm_calib *rm_vmat_calib(const rm_vmat *vm);
/* The calibration blob as GET_CALIB serves it (len = info.calib_len). */
const uint8_t *rm_vmat_calib_blob(const rm_vmat *vm, size_t *len);
const char *rm_vmat_serial(const rm_vmat *vm);
/* Device description for the packet stream (vid, pid, serial, geometry). */
void rm_vmat_device(const rm_vmat *vm, rm_device *dev);
/* Scenario metadata: title, subject id, body mass. */
void rm_vmat_header(const rm_vmat *vm, rm_header *hdr);

/* Total number of frames the scenario produces at the current rate. */
uint64_t rm_vmat_total_frames(const rm_vmat *vm);
/* Changes the rate before the first frame (SET_RATE); RM_ERR_RANGE outside
 * min..max; once started, the current rate again is accepted (a host
 * re-sends it after a replug) and another one is RM_ERR_STATE. */
rm_status rm_vmat_set_rate(rm_vmat *vm, unsigned rate_hz);

/* Simulates the next frame (every frame the device produces, including
 * those the fault model will drop from the stream). Fills the header
 * (seq, t_device_us, flags, geometry), `raw` (rows*cols) and `truth` (may be
 * NULL). Returns RM_OK, or RM_ERR_NOT_FOUND when the scenario is over. */
rm_status rm_vmat_next_frame(rm_vmat *vm, rm_frame_header *hdr, uint16_t *raw,
                             rm_vmat_truth *truth);

/* The device's byte stream: fills up to `cap` bytes with the next bytes the
 * mat would send on its bulk IN endpoint (frames, faults injected), and
 * returns how many; 0 when the scenario is over. Frame boundaries do not
 * align with calls. Uses rm_vmat_next_frame internally: do not mix. */
size_t rm_vmat_read_stream(rm_vmat *vm, uint8_t *buf, size_t cap);

/* Ground truth of frame n (0-based) of the scenario at the current rate,
 * a pure function of the scenario, seed and rate (any order, any time).
 * RM_ERR_RANGE if n >= rm_vmat_total_frames. */
rm_status rm_vmat_truth_frame(const rm_vmat *vm, uint64_t n, rm_vmat_truth *truth);

/* Noise-free raw counts sensel (r, c) reads at a pressure of `kpa` (its
 * zero offset, sensitivity and the response curve; dead/hot sensels
 * included). For tests of the calibration; not used by the stream. */
uint16_t rm_vmat_sensor_counts(const rm_vmat *vm, unsigned r, unsigned c, double kpa);

/* Fault the model decided for the frame the last rm_vmat_next_frame
 * produced (the stream may still send it intact if the fault would make
 * the byte pattern ambiguous; rm_vmat_get_counts has what was sent). */
typedef enum rm_vmat_fault {
    RM_VMAT_FAULT_NONE = 0,
    RM_VMAT_FAULT_DROP = 1,
    RM_VMAT_FAULT_CORRUPT = 2,
    RM_VMAT_FAULT_TRUNCATE = 3,
} rm_vmat_fault;
rm_vmat_fault rm_vmat_last_fault(const rm_vmat *vm);

/* Segments of the scenario (one muscle group each): count, and the label,
 * muscle group ("calves", "hamstrings", "quads", "it_band", "glutes") and
 * the first/last loaded instant (seconds) of segment i; NULL if i is out
 * of range. Strings are owned by vm. */
int rm_vmat_segment_count(const rm_vmat *vm);
const char *rm_vmat_segment(const rm_vmat *vm, int i, const char **group, double *start_s,
                            double *end_s);
/* Duration of the scenario in seconds (total frames = ceil(duration * rate)). */
double rm_vmat_duration(const rm_vmat *vm);

/* The GET_STATUS block the mat would answer now: frames_sent = frames put
 * on the wire since START (rm_vmat_new or the last rm_vmat_restart_seq) (corrupt and truncated ones included: the damage
 * is on the link), frames_dropped = device-side drops, uptime from
 * power-up (device clock), temperature 23.5 degC. */
void rm_vmat_dev_status(const rm_vmat *vm, rm_dev_status *st);

/* What was injected so far (since rm_vmat_new: a restart does not reset
 * the counts, so they stay exact over several acquisitions). */
void rm_vmat_get_counts(const rm_vmat *vm, rm_vmat_counts *counts);

/* START of a new acquisition (datasheet: "sequence number restarts at 0"):
 * the next frame produced gets seq 0 and no RM_FLAG_DROPPED_BEFORE (a drop
 * just before the restart stays counted in frames_dropped but is not
 * flagged: the new acquisition starts clean), and rm_vmat_dev_status counts
 * from here. The scenario (frame n of rm_vmat_truth_frame), the device clock
 * (t_device_us), the noise and the fault draws go on as if nothing happened,
 * and rm_vmat_get_counts keeps counting. Bytes of a frame already produced
 * and not yet read from rm_vmat_read_stream still come first: call it
 * between frames (after STOP let the frame in progress finish). */
void rm_vmat_restart_seq(rm_vmat *vm);

/* Ground truth of the whole scenario as JSON (per-frame series at the
 * frame rate, strokes, holds, segments with labels), written safely
 * (temp file, rename). Valid after the scenario ran or before: it is
 * computed from the scenario, not from what was streamed. */
rm_status rm_vmat_write_truth(const rm_vmat *vm, const char *path, rm_err *err);

#endif

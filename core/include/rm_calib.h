/* rm_calib.h - the mat's calibration model and the frame flags: what a
 * recording, an importer and the analysis share with the hardware.
 *
 * The wire form of a calibration (GET_CALIB blob) is the protocol's business
 * (rm_proto.h: rm_calib_encode/rm_calib_decode); this header is only the
 * model, so files and analysis need not see the USB protocol. */
#ifndef RM_CALIB_H
#define RM_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "rm_status.h"

#define RM_MAX_DIM         256 /* rows and cols of a mat: 1..256 */
#define RM_CALIB_MIN_KNOTS 2
#define RM_CALIB_MAX_KNOTS 64

/* Per-frame flags (rm_frame.flags, /frames/flags). */
enum rm_frame_flag {
    RM_FLAG_DROPPED_BEFORE = 0x0001,
    RM_FLAG_SATURATED = 0x0002,
    RM_FLAG_CALIB_CHANGED = 0x0004,
};

/* Calibration: response curve plus per-sensel zero and gain.
 * Owns `zero` and `gain` (rows*cols each, row-major). */
typedef struct rm_calib {
    uint16_t n_knots;
    float knot_raw[RM_CALIB_MAX_KNOTS]; /* strictly increasing */
    float knot_kpa[RM_CALIB_MAX_KNOTS]; /* non-decreasing, [0] == 0 */
    uint16_t rows, cols;
    uint16_t *zero; /* raw counts */
    float *gain;    /* 1.0 nominal (wire: gain_q12 / 4096) */
} rm_calib;

/* Allocates a calibration of the given geometry with zero = 0, gain = 1 and
 * no knots. Caller frees with rm_calib_free. */
rm_status rm_calib_new(uint16_t rows, uint16_t cols, rm_calib **out);
/* Frees `calib` and what it owns; NULL is allowed. */
void rm_calib_free(rm_calib *calib);
/* Deep copy; caller frees the result. */
rm_status rm_calib_copy(const rm_calib *src, rm_calib **out);

/* Checks knots (count, strictly increasing raw, non-decreasing kPa,
 * knot_kpa[0] == 0, all finite) and gains (finite, >= 0). */
rm_status rm_calib_validate(const rm_calib *calib, rm_err *err);

/* The response curve: kPa for a zero-corrected raw value, linear between
 * knots, clamped at the last knot (and 0 below the first). */
float rm_calib_curve(const rm_calib *calib, float raw_minus_zero);

/* Pressure of every sensel of one frame in kPa:
 * kpa[i] = gain[i] * curve(max(raw[i] - zero[i], 0)). */
void rm_calib_pressure(const rm_calib *calib, const uint16_t *raw, float *kpa);

#endif

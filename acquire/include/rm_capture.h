/* rm_capture.h - the device sidecar of a raw stream capture.
 *
 * A capture (`rollmat record --capture RAW.bin`) holds the bulk IN bytes
 * exactly as the mat sent them. The bytes carry no USB identity, GET_INFO
 * or calibration, so the recorder writes them next to it in RAW.bin.dev;
 * `--replay RAW.bin` reads it back, so a replay gives the same recording
 * (device, calibration, frames, events) as the live run.
 *
 * Format (little-endian): "RMCAPDV1", u16 vid, u16 pid, char serial[64],
 * char model[17], char firmware[17], u16 protocol_version, u16 rows,
 * u16 cols, u8 adc_bits, f64 row_pitch_mm, f64 col_pitch_mm, f64 rate_hz,
 * u32 calib_len (0 = none), the calibration blob (datasheet layout),
 * u32 CRC-32 of everything before it. Written to a temporary name and
 * renamed.
 *
 * Threads: the functions keep no state; any thread may call them. */
#ifndef RM_CAPTURE_H
#define RM_CAPTURE_H

#include "rm_packet.h"
#include "rm_proto.h"
#include "rm_status.h"

/* Writes `raw_path`.dev (refuses to overwrite it). calib may be NULL. */
rm_status rm_capture_write_device(const char *raw_path, const rm_device *dev, const rm_calib *calib,
                                  rm_err *err);

/* Reads `raw_path`.dev: RM_ERR_NOT_FOUND if there is none; a damaged one is
 * an error naming the file. *calib (may be set to NULL) is the caller's to
 * free with rm_calib_free. */
rm_status rm_capture_read_device(const char *raw_path, rm_device *dev, rm_calib **calib,
                                 rm_err *err);

#endif

/* rm_import.h - importers of other pressure systems' exports.
 *
 * Formats (docs/import.md has the details and every assumption):
 *   tekscan      Tekscan ASCII movie (.asf; F-Scan, I-Scan, MatScan)
 *   tekscan-csv  the Tekscan CSV movie variant (same header, "Frame N, t,..." lines)
 *   xsensor      XSENSOR per-frame CSV with per-frame header statistics
 *   emed         novel emed .lst ASCII export
 *   pmat         PhysioNet "pmat" text (one 64 x 32 frame of raw 0..1000 per line)
 *   csv          the rollmat plain CSV frame format for lab-built mats
 *
 * A parser reads the export line by line (memory grows with the frames only,
 * never with a count read from the file) into an rm_import_result: pressure
 * per sensel in kPa (float), a mask of real sensels, per-frame times and the
 * vendor's own per-frame statistics (reference series). The result is then
 * emitted as a packet source (rm_import_emit) or written to a session file
 * (rm_import_to_session). The session stores uint16 counts, so kPa is
 * quantised with a per-file scale through a linear "identity" calibration
 * recorded as such (rm_import_result.scale_kpa, calib_note).
 *
 * Errors name the input and the line: "fscan.asf: line 57: expected 21
 * values, found 20". Parsers never crash on any input (they are fuzzed).
 *
 * Ownership: rm_import_result objects come from rm_import_parse_* /
 * rm_import_read and are freed with rm_import_result_free; all inputs are
 * borrowed. */
#ifndef RM_IMPORT_H
#define RM_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_packet.h"
#include "rm_calib.h"
#include "rm_status.h"

typedef enum rm_import_format {
    RM_IMPORT_UNKNOWN = 0,
    RM_IMPORT_TEKSCAN,
    RM_IMPORT_TEKSCAN_CSV,
    RM_IMPORT_XSENSOR,
    RM_IMPORT_EMED,
    RM_IMPORT_PMAT,
    RM_IMPORT_CSV,
} rm_import_format;

/* Bounds the parsers enforce (documented in docs/import.md). */
#define RM_IMPORT_MAX_DIM      256            /* rows, cols: 1..256 */
#define RM_IMPORT_MAX_LINE     (8u << 20)     /* bytes in one line */
#define RM_IMPORT_MAX_VALUES   (256ull << 20) /* frames * rows * cols */
#define RM_IMPORT_DETECT_BYTES 65536          /* what detection looks at */

/* The known formats come from one importer table, in detection order
 * (formats/src/import_registry.c): i = 0 .. rm_import_format_count()-1
 * gives rm_import_format_at(i); anything that lists formats (help texts,
 * messages) walks it instead of naming them. */
size_t rm_import_format_count(void);
/* The i-th format in table order; RM_IMPORT_UNKNOWN past the end. */
rm_import_format rm_import_format_at(size_t i);
/* "tekscan", "tekscan-csv", "xsensor", "emed", "pmat", "csv"; "unknown". */
const char *rm_import_format_name(rm_import_format fmt);
/* One line for a help text ("novel emed .lst ASCII export"); "" if unknown.
 * Static storage. */
const char *rm_import_format_description(rm_import_format fmt);
/* Parses a format name as above; RM_ERR_ARG if it is none of them. */
rm_status rm_import_format_parse(const char *name, rm_import_format *out);
/* Writes "tekscan, tekscan-csv, ..." (table order) into buf (may be NULL
 * when cap is 0; truncated, always NUL-terminated when cap > 0). Returns
 * the full length, as snprintf does. */
size_t rm_import_format_list(char *buf, size_t cap);

/* Detects the format from the first bytes of a file (content first; the
 * file name, may be NULL, only breaks the tie between tekscan and
 * tekscan-csv when the bytes do not show a frame line). Returns
 * RM_IMPORT_UNKNOWN when nothing matches. */
rm_import_format rm_import_detect_bytes(const void *buf, size_t len, const char *name);
/* Reads the first RM_IMPORT_DETECT_BYTES of `path` and detects. RM_ERR_IO if
 * it cannot be read, RM_ERR_FORMAT ("x.bin: not a known export format") if
 * nothing matches. */
rm_status rm_import_detect(const char *path, rm_import_format *out, rm_err *err);

/* Overrides for facts an export does not carry (0 = take the file's value
 * or the format's documented default). */
typedef struct rm_import_options {
    double rate_hz;
    double row_pitch_mm;
    double col_pitch_mm;
} rm_import_options;

/* A vendor-computed per-frame value (n_frames doubles, in the vendor's
 * units, e.g. XSENSOR "Est. Load (N)"). */
typedef struct rm_import_reference {
    char name[64];       /* "sensor1_est_load_n" */
    char units[16];      /* "N", "cm2", "mmHg", "%", "" */
    char long_name[128]; /* "XSENSOR Est. Load (N), sensor HX210... LF" */
    double *values;
} rm_import_reference;

typedef struct rm_import_result {
    rm_import_format format;
    rm_header header; /* title, created (export's date, else import time), source */
    rm_device device; /* model, rows, cols, pitch (mm), rate_hz */
    size_t n_frames;
    float *kpa;     /* n_frames * rows * cols, row-major; non-sensels 0 */
    double *time_s; /* n_frames, seconds since the first frame */
    uint32_t *seq;  /* n_frames, the export's frame numbers */
    uint8_t *mask;  /* rows * cols: 1 sensel, 0 not a sensel */
    size_t n_refs;
    rm_import_reference *refs;
    char units[16];       /* the export's pressure units: "kPa", "mmHg", "raw" ... */
    double unit_kpa;      /* kPa per export unit (1 for uncalibrated raw) */
    int calibrated;       /* 0: values are uncalibrated raw units, not kPa */
    double threshold;     /* the vendor's noise threshold in export units, 0 if none */
    double max_kpa;       /* largest value */
    double scale_kpa;     /* kPa per stored count (rm_import_result_finish) */
    double scale_units;   /* the same in export units */
    char calib_note[160]; /* "identity: imported xsensor mmHg, ..." */
} rm_import_result;

/* Parses an export from a stream. `name` (borrowed) prefixes error
 * messages; fmt must be a known format (not UNKNOWN). opt may be NULL.
 * On success *out is a new result. */
rm_status rm_import_parse_file(FILE *f, const char *name, rm_import_format fmt,
                               const rm_import_options *opt, rm_import_result **out, rm_err *err);
/* The same from memory (the fuzz targets' entry point); fmt UNKNOWN
 * detects from the bytes. */
rm_status rm_import_parse_buffer(const void *buf, size_t len, const char *name,
                                 rm_import_format fmt, const rm_import_options *opt,
                                 rm_import_result **out, rm_err *err);
/* Opens `path`, detects the format when fmt is UNKNOWN, parses. */
rm_status rm_import_read(const char *path, rm_import_format fmt, const rm_import_options *opt,
                         rm_import_result **out, rm_err *err);
void rm_import_result_free(rm_import_result *r);

/* The identity calibration for the result's geometry: a linear curve
 * raw [0, 65535] -> kPa [0, 65535 * scale_kpa], zero 0, gain 1. Caller
 * frees with rm_calib_free. */
rm_status rm_import_result_calib(const rm_import_result *r, rm_calib **out);
/* Quantises frame i to counts (rows*cols): round(kpa / scale_kpa). */
void rm_import_result_frame_raw(const rm_import_result *r, size_t i, uint16_t *raw);

/* Packet source: HEADER, DEVICE, CALIB, one FRAME per frame, END, then
 * sink->finish. The mask and reference series do not travel as packets
 * (rm_import_to_session writes them). */
rm_status rm_import_emit(const rm_import_result *r, const rm_sink *sink, rm_err *err);

/* Packet source from a file: rm_import_read then rm_import_emit. If the
 * export cannot be parsed no packet is sent, sink->finish is still called
 * and the parse error is returned. */
rm_status rm_import_source(const char *path, rm_import_format fmt, const rm_import_options *opt,
                           const rm_sink *sink, rm_err *err);

/* Convenience: read `in_path` (fmt UNKNOWN = detect) and write a session
 * file `out_path` (must not exist) with the mask, the reference series and
 * the calibration note. If info is not NULL it receives the parsed result
 * (caller frees); otherwise the result is freed here. */
rm_status rm_import_to_session_ex(const char *in_path, const char *out_path, rm_import_format fmt,
                                  const rm_import_options *opt, rm_import_result **info,
                                  rm_err *err);
rm_status rm_import_to_session(const char *in_path, const char *out_path, rm_import_format fmt,
                               rm_err *err);

#endif

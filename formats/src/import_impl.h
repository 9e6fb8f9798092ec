/* import_impl.h - internals shared by the importers (formats/import*.c).
 * Not a public header: the contract is rm_import.h. */
#ifndef RM_IMPORT_IMPL_H
#define RM_IMPORT_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_import.h"

/* Line walker over a buffer, for the detectors (and any code that holds the
 * bytes). Lines end at LF, CRLF (any CRs right before an LF included) or a
 * lone CR; the terminator is not part of
 * the line; a UTF-8 byte-order mark at the start is skipped. Borrowed: the
 * buffer must outlive the walker. Rules shared with imp_lines. */
typedef struct imp_walk {
    const char *p, *end; /* what is left to walk */
    size_t lineno;       /* number of the line last returned (1-based) */
    int unterminated;    /* the last line ran to the end of the bytes (it may
                          * go on past a byte limit) */
} imp_walk;

/* Walks buf[0 .. min(len, limit)) (limit 0: no limit; buf may be NULL when
 * len is 0). */
void imp_walk_init(imp_walk *w, const void *buf, size_t len, size_t limit);
/* 1: *line (not NUL-terminated, no terminator) and *n set; 0: no more lines. */
int imp_walk_next(imp_walk *w, const char **line, size_t *n);

/* Tests on a walked line (line, n): begins with `prefix` / holds `needle`
 * (exact bytes, case-sensitive). */
int imp_line_starts(const char *line, size_t n, const char *prefix);
int imp_line_has(const char *line, size_t n, const char *needle);

/* Line reader over a stream, for the parsers: bounded lines
 * (RM_IMPORT_MAX_LINE), ending at LF, CRLF or a lone CR like imp_walk's,
 * a UTF-8 byte-order mark dropped from line 1, NUL bytes refused (binary).
 * No returned line holds a CR or LF. */
typedef struct imp_lines {
    FILE *f;
    const char *name; /* for messages */
    size_t lineno;    /* number of the line last returned (1-based) */
    char *buf;
    size_t cap;
    size_t empty_owed; /* empty lines still to return (a run of lone CRs) */
} imp_lines;

void imp_lines_init(imp_lines *l, FILE *f, const char *name);
void imp_lines_free(imp_lines *l);
/* 1: *line (NUL-terminated, writable until the next call) and *len set;
 * 0: end of input; negative: an error recorded in err. */
int imp_lines_next(imp_lines *l, char **line, size_t *len, rm_err *err);

/* Growable list of fields split in place from a line. */
typedef struct imp_fields {
    char **v;
    size_t n, cap;
} imp_fields;

void imp_fields_free(imp_fields *fl);
/* Splits at every `sep` (empty fields kept), each field trimmed of blanks. */
rm_status imp_split_char(imp_fields *fl, char *line, char sep);
/* Splits at runs of spaces/tabs (no empty fields). */
rm_status imp_split_ws(imp_fields *fl, char *line);
/* Drops trailing empty fields (CSV exports pad lines with commas). */
void imp_fields_rstrip(imp_fields *fl);

char *imp_trim(char *s);
int imp_is_blank(const char *s);
/* Case-insensitive prefix test. */
int imp_starts_with(const char *s, const char *prefix);

/* Strict number: the whole field is a finite number. Returns 0 on success.
 * *decimals (may be NULL) gets the digits after the decimal point. */
int imp_parse_number(const char *s, double *out, int *decimals);

/* kPa per unit for a pressure unit name ("kPa", "mmHg", "psi", "N/cm2",
 * "g/cm2", "kg/cm2", "bar", "MPa", "Pa"); "raw" gives 1 with *raw = 1.
 * Returns 0 if known. */
int imp_pressure_unit(const char *name, double *kpa_per_unit, int *raw, char *canon, size_t cap);
/* Unit names equal ignoring case, blanks, '^' and a trailing '.', with the
 * superscript two (UTF-8 or Latin-1) read as '2'. */
int imp_unit_eq(const char *a, const char *b);
/* Millimetres per unit of length ("mm", "cm", "centimeters", "in", "inches", "m"). */
int imp_length_unit(const char *name, double *mm_per_unit);

/* Tolerant date/time parser for the vendors' formats ("Thursday, 16
 * February 2017 11:26:22 a.m.", "12/2/2019 6:21:52.34PM", "2022 Aug 16
 * 08:21:17.982", ISO 8601). The export's local time is taken as UTC.
 * Returns 0 and seconds since 1970 on success. */
int imp_parse_datetime(const char *s, double *unix_s);
/* Time of day "hh:mm:ss[.fff]" in seconds. Returns 0 on success. */
int imp_parse_clock(const char *s, double *sec);

/* Result building. */
rm_import_result *imp_result_new(rm_import_format fmt);
/* Sets the geometry (1..RM_IMPORT_MAX_DIM each) and allocates the mask
 * (all sensels real). */
rm_status imp_result_geometry(rm_import_result *r, const char *name, size_t lineno, long rows,
                              long cols, rm_err *err);
/* Appends a zeroed frame and returns its values; grows reference series. */
rm_status imp_result_add_frame(rm_import_result *r, const char *name, size_t lineno, uint32_t seq,
                               double time_s, float **values, rm_err *err);
/* Finds or adds a reference series (values NaN until set). Returns its
 * index or -1 on allocation failure. */
long imp_result_ref(rm_import_result *r, const char *name, const char *units,
                    const char *long_name);
/* Stores value v of the pressure (in export units, checked finite and
 * >= 0) at index i of frame `values`; tracks decimals. */
rm_status imp_store_value(rm_import_result *r, float *values, size_t i, double v_units,
                          const char *name, size_t lineno, rm_err *err);

/* Parses `field` as a number in export units and stores it like
 * imp_store_value; `col` (1-based) names the value in messages. */
rm_status imp_store_field(rm_import_result *r, float *values, size_t i, const char *field,
                          const char *name, size_t lineno, size_t col, rm_err *err);

/* Records how many decimals a pressure value had, so the stored scale can
 * keep them when the range allows. */
void imp_note_decimals(rm_import_result *r, int dec);

/* Common finishing: checks frames, fills header/device defaults, options,
 * rate, scale and the calibration note. `have_times`: time_s came from
 * the file; otherwise times are index / rate. */
rm_status imp_result_finish(rm_import_result *r, const char *name, const rm_import_options *opt,
                            int have_times, rm_err *err);

/* Copies at most cap-1 bytes of src (the last path component when
 * `basename` is set, without its extension when `strip_ext`). */
void imp_copy_name(char *dst, size_t cap, const char *src, int basename, int strip_ext);

/* The parsers. Each reads to the end of `l` and fills r (then the caller
 * runs imp_result_finish unless the parser did). */
typedef rm_status (*imp_parse_fn)(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                                  rm_err *err);
/* The detectors: 1 if the first bytes of a file (buf, len <=
 * RM_IMPORT_DETECT_BYTES, no NUL byte) look like the format. `name` (may be
 * NULL) is the file name; only the Tekscan pair looks at it. */
typedef int (*imp_detect_fn)(const char *buf, size_t len, const char *name);

/* One row of the importer table (import_registry.c). */
typedef struct imp_importer {
    const char *name;        /* "tekscan": --format NAME, rm_import_format_name */
    rm_import_format format; /* the public identity of the format */
    const char *description; /* one line for the command's help */
    imp_detect_fn detect;
    imp_parse_fn parse;
} imp_importer;

/* The row of `fmt`, or NULL when the table has none. */
const imp_importer *imp_importer_find(rm_import_format fmt);
/* Runs the detectors in table order; the first that matches wins. */
rm_import_format imp_detect_table(const char *buf, size_t len, const char *name);

rm_status imp_parse_tekscan(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                            rm_err *err);
rm_status imp_parse_xsensor(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                            rm_err *err);
rm_status imp_parse_emed(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                         rm_err *err);
rm_status imp_parse_pmat(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                         rm_err *err);
rm_status imp_parse_csv(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                        rm_err *err);

int imp_detect_tekscan(const char *buf, size_t len, const char *name);
int imp_detect_tekscan_csv(const char *buf, size_t len, const char *name);
int imp_detect_xsensor(const char *buf, size_t len, const char *name);
int imp_detect_emed(const char *buf, size_t len, const char *name);
int imp_detect_pmat(const char *buf, size_t len, const char *name);
int imp_detect_csv(const char *buf, size_t len, const char *name);

#endif

/* session_h5.h - rm_formats' internal HDF5 layer (h5x_), shared by the
 * session writer and reader, the results file and file-kind detection:
 * one error translator, one set of attribute readers and writers. Not
 * installed, not a contract for other rooms (they use rm_filekind.h). */
#ifndef H5X_SESSION_H5_H
#define H5X_SESSION_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_status.h"

/* Silences HDF5's own printing of error stacks for the calling thread:
 * the library reports through rm_err instead. */
void h5x_quiet(void);

/* The one translator of HDF5 failures into rm_status, for every file
 * rm_formats writes or reads. Fills err with "<prefix>: <deepest HDF5
 * message>" (the prefix names the file and the object) and returns
 * `fallback`, or RM_ERR_NO_SPACE when the system said the disk is full
 * (ENOSPC, EFBIG, quota), RM_ERR_TRUNCATED for a truncated file,
 * RM_ERR_BUSY for a file still open for writing. Call right after the
 * failing HDF5 call; clears HDF5's error stack. */
rm_status h5x_fail(rm_err *err, rm_status fallback, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The deepest message of the current HDF5 error stack ("" if none). */
void h5x_deepest(char *buf, size_t cap);

/* Attributes. Strings are written fixed-length (netCDF reads them as text);
 * the readers accept fixed and variable-length strings. */
int h5x_attr_str(hid_t obj, const char *name, const char *value);
int h5x_attr_num(hid_t obj, const char *name, hid_t type, const void *value);
int h5x_attr_double(hid_t obj, const char *name, double value);
int h5x_attr_u64(hid_t obj, const char *name, uint64_t value);
int h5x_attr_int(hid_t obj, const char *name, int value);
/* Reads a scalar string attribute into buf. Returns 0, or -1 if missing,
 * -2 if not a string. */
int h5x_read_attr_str(hid_t obj, const char *name, char *buf, size_t cap);
/* Reads a scalar numeric attribute (any integer or float type) as double.
 * Returns 0, -1 if missing, -2 if not numeric or not a single value. */
int h5x_read_attr_double(hid_t obj, const char *name, double *out);

/* Opens an HDF5 file read-only, also one still being written with SWMR
 * (then with SWMR-read). Returns the file id or a negative value; the
 * caller closes it (H5Fclose). Quiet: no error stack is printed. */
hid_t h5x_open_ro(const char *path);

/* Path names used in the file. */
#define H5X_RAW    "/frames/raw"
#define H5X_TIME   "/frames/time"
#define H5X_SEQ    "/frames/seq"
#define H5X_TDEV   "/frames/t_device_us"
#define H5X_FLAGS  "/frames/flags"
#define H5X_EVENTS "/events"

/* Memory compound type of one /events row laid out as rm_event (members
 * time, kind, value, text); caller closes it. */
hid_t h5x_event_type(void);

#endif

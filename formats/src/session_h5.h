/* session_h5.h - internal helpers shared by the session writer and reader
 * (not installed, not a contract for other modules). */
#ifndef RM_SESSION_H5_H
#define RM_SESSION_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_status.h"

/* Silences HDF5's own printing of error stacks for the calling thread:
 * the library reports through rm_err instead. */
void rm_h5_quiet(void);

/* Fills err with "<prefix>: <deepest HDF5 message>" and returns a status:
 * `fallback`, or RM_ERR_NO_SPACE when the system said the disk is full,
 * RM_ERR_TRUNCATED for a truncated file, RM_ERR_BUSY for a file still open
 * for writing. Call right after the failing HDF5 call. */
rm_status rm_h5_fail(rm_err *err, rm_status fallback, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The deepest message of the current HDF5 error stack ("" if none). */
void rm_h5_deepest(char *buf, size_t cap);

/* Attributes. Strings are written fixed-length (netCDF reads them as text);
 * the readers accept fixed and variable-length strings. */
int rm_h5_attr_str(hid_t obj, const char *name, const char *value);
int rm_h5_attr_num(hid_t obj, const char *name, hid_t type, const void *value);
int rm_h5_attr_double(hid_t obj, const char *name, double value);
int rm_h5_attr_u64(hid_t obj, const char *name, uint64_t value);
/* Reads a scalar string attribute into buf. Returns 0, or -1 if missing,
 * -2 if not a string. */
int rm_h5_read_attr_str(hid_t obj, const char *name, char *buf, size_t cap);
/* Reads a scalar numeric attribute (any integer or float type) as double.
 * Returns 0, -1 if missing, -2 if not numeric or not a single value. */
int rm_h5_read_attr_double(hid_t obj, const char *name, double *out);

/* Path names used in the file. */
#define RM_H5_RAW "/frames/raw"
#define RM_H5_TIME "/frames/time"
#define RM_H5_SEQ "/frames/seq"
#define RM_H5_TDEV "/frames/t_device_us"
#define RM_H5_FLAGS "/frames/flags"
#define RM_H5_EVENTS "/events"

/* Memory compound type of one /events row laid out as rm_event (members
 * time, kind, value, text); caller closes it. */
hid_t rm_h5_event_type(void);

#endif

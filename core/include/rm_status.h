/* rm_status.h - error codes, error detail and the logging hook shared by
 * every rollmat library.
 *
 * Every fallible call returns an rm_status: RM_OK (0) or a negative named
 * error. Calls that can say more take an optional `rm_err *` (may be NULL)
 * and fill it with a one-line message naming what is wrong, e.g.
 * "session.h5: /frames/raw has 2 dimensions, expected 3".
 * Libraries never print and never exit; they report through these. */
#ifndef RM_STATUS_H
#define RM_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum rm_status {
    RM_OK = 0,
    RM_ERR_NOMEM = -1,        /* out of memory */
    RM_ERR_ARG = -2,          /* invalid argument from the caller */
    RM_ERR_IO = -3,           /* read/write/open of a file failed */
    RM_ERR_TRUNCATED = -4,    /* input ends before the structure does */
    RM_ERR_MAGIC = -5,        /* magic bytes do not match */
    RM_ERR_VERSION = -6,      /* unsupported version */
    RM_ERR_LENGTH = -7,       /* a length field is inconsistent */
    RM_ERR_CRC = -8,          /* CRC-32 mismatch */
    RM_ERR_RANGE = -9,        /* a value is outside its allowed range */
    RM_ERR_FORMAT = -10,      /* malformed file or text */
    RM_ERR_NOT_FOUND = -11,   /* device, file or object not found */
    RM_ERR_USB = -12,         /* USB transfer or libusb failure */
    RM_ERR_STALL = -13,       /* the device refused a request (STALL) */
    RM_ERR_NO_DEVICE = -14,   /* the device is gone (unplugged) */
    RM_ERR_TIMEOUT = -15,     /* an operation timed out */
    RM_ERR_HDF5 = -16,        /* the HDF5 library reported an error */
    RM_ERR_UNSUPPORTED = -17, /* valid but not supported by this build */
    RM_ERR_BUSY = -18,        /* in use: a file still open for writing */
    RM_ERR_STATE = -19,       /* call not valid in the object's state */
    RM_ERR_NO_SPACE = -20,    /* the disk is full */
    RM_ERR_INTERRUPTED = -21, /* stopped by a signal or a cancel */
    RM_ERR_PERMISSION = -22,  /* access denied */
    RM_ERR_TYPE = -23,        /* wrong data type or shape */
    RM_ERR_VALUE = -24,       /* a value is invalid (NaN, negative ...) */
} rm_status;

#define RM_STATUS_FIRST RM_ERR_VALUE /* lowest code, for iteration in tests */

/* Human-readable description of a status code; never NULL, static storage. */
const char *rm_strerror(rm_status status);
/* Symbolic name of a status code ("RM_ERR_CRC"); never NULL, static. */
const char *rm_status_name(rm_status status);

/* Error detail: a caller-owned buffer filled by the callee on failure. */
typedef struct rm_err {
    rm_status status;
    char msg[512];
} rm_err;

/* Records `status` and a printf-style message into `err` (if not NULL) and
 * returns `status`, so a callee can write `return rm_err_set(err, ...)`. */
rm_status rm_err_set(rm_err *err, rm_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like rm_err_set, but keeps an existing message and prefixes it:
 * "prefix: old message". Use it to add the file name on the way up. */
rm_status rm_err_prefix(rm_err *err, rm_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The message in `err`, or rm_strerror(status) when none was recorded. */
const char *rm_err_message(const rm_err *err, rm_status status);

/* Logging hook. Long-lived objects (recorders, daemons) accept one in their
 * configuration; NULL means silent. Levels follow syslog's order. */
typedef enum rm_log_level {
    RM_LOG_ERROR = 3,
    RM_LOG_WARN = 4,
    RM_LOG_INFO = 6,
    RM_LOG_DEBUG = 7,
} rm_log_level;

typedef void (*rm_log_fn)(void *user, rm_log_level level, const char *msg);

typedef struct rm_logger {
    rm_log_fn fn; /* may be NULL: messages are dropped */
    void *user;   /* passed back to fn, not owned */
} rm_logger;

/* Formats and hands one message to the logger, if it has a function. */
void rm_log(const rm_logger *log, rm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

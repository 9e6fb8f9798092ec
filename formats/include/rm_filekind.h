/* rm_filekind.h - what a file on disk is, without opening it as a
 * recording or a results file: its kind and its root attributes. For rooms
 * above formats (study, cli) that must not see the HDF5 layer. */
#ifndef RM_FILEKIND_H
#define RM_FILEKIND_H

#include <stddef.h>

#include "rm_status.h"

typedef enum rm_file_kind {
    RM_FILE_RECORDING = 1, /* conventions "rollmat-session-1[.MINOR]" (RM_SESSION_CONVENTIONS) */
    RM_FILE_RESULTS = 2,   /* conventions "rollmat-results-1[.MINOR]" (RM_RESULTS_CONVENTIONS) */
} rm_file_kind;

/* The one version rule of every rollmat file (docs/format.md), used by
 * every reader (recordings, results, file kinds, batch): `conv` is a root
 * "conventions" value "rollmat-KIND-MAJOR[.MINOR]". Any minor revision of
 * a major version this software reads is accepted (minor revisions only
 * add) and sets *kind; another major version is RM_ERR_VERSION naming the
 * version found and the one read ("x.h5: rollmat-session-2.0 is session
 * format version 2; this rollmat reads version 1 (1.x)"); anything else is
 * RM_ERR_FORMAT. `path` (borrowed) only names the file in the message. */
rm_status rm_conventions_check(const char *path, const char *conv, rm_file_kind *kind, rm_err *err);

/* Looks at a file's root "conventions" attribute (a recording still being
 * written counts too) and sets *kind. Errors name the file and what is
 * wrong: missing (RM_ERR_NOT_FOUND), not a regular file (RM_ERR_ARG),
 * unreadable (RM_ERR_PERMISSION / RM_ERR_IO), not HDF5 or damaged
 * (RM_ERR_FORMAT), an HDF5 file of another kind (RM_ERR_FORMAT), a rollmat
 * file of a version this software does not read (RM_ERR_VERSION). */
rm_status rm_file_kind_of(const char *path, rm_file_kind *kind, rm_err *err);

/* Reads the scalar string attributes names[0..n) of the root group of the
 * HDF5 file at `path` (also a recording still being written) into
 * values[i], each a caller-owned buffer of `cap` (>= 1) bytes, truncated to
 * fit.
 * An attribute that is missing or not a string leaves values[i] "".
 * Returns RM_OK when the file opened and every attribute was read;
 * RM_ERR_NOT_FOUND naming the first missing one (the others are still
 * read); RM_ERR_FORMAT when the file cannot be opened as HDF5. */
rm_status rm_file_root_strings(const char *path, const char *const *names, char *const *values,
                               size_t n, size_t cap, rm_err *err);

/* Sets the scalar string attribute `name` of the root group of the HDF5
 * file at `path` to `value`, replacing one of that name. The file is
 * modified in place: callers use it on a file of their own not yet
 * published (e.g. batch stamps a results file's temporary with the
 * recording's identity before renaming it into place). Returns RM_OK;
 * RM_ERR_FORMAT when the file cannot be opened for writing as HDF5;
 * RM_ERR_IO when the attribute cannot be written; errors name the file. */
rm_status rm_file_set_root_string(const char *path, const char *name, const char *value,
                                  rm_err *err);

#endif

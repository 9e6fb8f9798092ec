/* rm_filekind.h - what a file on disk is, without opening it as a
 * recording or a results file: its root attributes. For rooms above
 * formats (study, cli) that must not see the HDF5 layer. */
#ifndef RM_FILEKIND_H
#define RM_FILEKIND_H

#include <stddef.h>

#include "rm_status.h"

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

#endif

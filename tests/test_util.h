/* test_util.h - small helpers shared by the Criterion tests. */
#ifndef RM_TEST_UTIL_H
#define RM_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Creates a fresh empty directory under $TMPDIR (or /tmp) and returns its
 * path in a static-per-call malloc'd string the caller frees. */
char *rm_test_tmpdir(const char *tag);
/* Joins dir and name into a new malloc'd path. */
char *rm_test_path(const char *dir, const char *name);
/* Reads a whole file; caller frees *data. Returns 0 or -1. */
int rm_test_read_file(const char *path, uint8_t **data, size_t *len);
/* Runs a shell command, returns its exit status (or -1). */
int rm_test_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Removes a directory tree (best effort). */
void rm_test_rmtree(const char *dir);

#endif

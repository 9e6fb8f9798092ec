/* rm_batch.h - helpers of batch analysis: the tidy CSV (a row per segment),
 * whether stored results are up to date, and the merge of shards' CSVs.
 * What kind of file a path is: rm_filekind.h (formats). The process pool
 * and the progress display live in the command (cli/cmd_batch.c).
 *
 * The CSV (rm_csv.h's rules: RFC 4180, "NA" for a missing value; a header
 * line; numbers with %.6g) has the columns of rm_batch_column(0..);
 * docs/guide-lab.md describes them. Rows are sorted by file (byte order) then segment index,
 * so a merge of shards equals the unsharded CSV byte for byte. */
#ifndef RM_BATCH_H
#define RM_BATCH_H

#include <stddef.h>
#include <stdio.h>

#include "rm_filekind.h" /* rm_file_kind_of: batch callers tell recordings from results */
#include "rm_results.h"
#include "rm_status.h"

/* Number of CSV columns and the name of column i (NULL outside). */
size_t rm_batch_columns(void);
const char *rm_batch_column(size_t i);

/* Writes the header line. Returns 0 or -1 (stdio error). */
int rm_batch_csv_header(FILE *f);
/* Writes one row per segment of r; `file` and `subject` (may be "") go in
 * the first columns. Returns 0 or -1. */
int rm_batch_csv_rows(FILE *f, const char *file, const char *subject, const rm_results *r);

/* Whether the results at `results_path` are up to date for `recording`:
 * they exist, are newer than the recording, and were made with `profile`
 * (name) by `software` (e.g. "rollmat 0.2.0", RM_SOFTWARE). *current is 1 or 0; a
 * results file that cannot be read counts as not current (no error). */
rm_status rm_batch_results_current(const char *results_path, const char *recording,
                                   const char *profile, const char *software, int *current,
                                   rm_err *err);

/* Merges shards' CSVs (each with the same header as this version writes)
 * into `output` (temp, fsync, rename), rows sorted as the batch sorts
 * them. A recording's rows found in two inputs are an error naming both. */
rm_status rm_batch_merge(const char *const *inputs, size_t n, const char *output, rm_err *err);

/* Writes `len` bytes to `path` safely (temp in the same folder, fsync,
 * rename, fsync of the folder). */
rm_status rm_write_file_atomic(const char *path, const void *data, size_t len, rm_err *err);

#endif

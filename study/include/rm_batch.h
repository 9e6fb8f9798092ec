/* rm_batch.h - helpers of batch analysis: the tidy CSV (a row per segment),
 * recordings' content identities and whether stored results are up to
 * date, and the merge of shards' CSVs.
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
#include <stdint.h>
#include <stdio.h>

#include "rm_filekind.h" /* rm_file_kind_of: batch callers tell recordings from results */
#include "rm_analysis.h" /* rm_profile: the session table judges against it */
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

/* The session table (`rollmat batch --per session`): one row per recording
 * beside the set table above: who and when, totals, the summary page's
 * verdicts (rm_judge.h: lights per target, the daily total, the tally and
 * its score), and the data quality. Same CSV rules; NA for anything
 * unknown. Columns: rm_batch_session_column(0..), described in
 * docs/guide-lab.md. */
size_t rm_batch_session_columns(void);
const char *rm_batch_session_column(size_t i);
/* Writes the session table's header line. Returns 0 or -1 (stdio error). */
int rm_batch_csv_session_header(FILE *f);
/* Writes r's row: `file` and `subject` as for rm_batch_csv_rows; the
 * verdicts judge r against `profile` (borrowed; NULL: none, so nothing is
 * judged: the batch passes the profile it analysed with). Returns 0, or -1
 * on a stdio error or out of memory. */
int rm_batch_csv_session_row(FILE *f, const char *file, const char *subject, const rm_results *r,
                             const rm_profile *profile);

/* A recording's content identity, "xxh64:<16 hex digits>:<size in bytes>":
 * XXH64 (seed 0) of the file's bytes. Batch stores it in each results file
 * it writes (root attribute RM_BATCH_ID_ATTR) and compares it on the next
 * run, so a recording replaced by another one is analysed again whatever
 * its modification time says (cp -p, rsync -a and tar x keep old times).
 * Reads the whole file (~3 GB/s from the page cache). */
#define RM_BATCH_ID_ATTR "recording_id"
#define RM_BATCH_ID_LEN  64 /* buffer size that always fits an identity */

/* Writes the identity of the file at `path` into id (cap bytes, at least
 * RM_BATCH_ID_LEN). Errors name the file (missing: RM_ERR_NOT_FOUND,
 * unreadable: RM_ERR_IO). */
rm_status rm_batch_recording_id(const char *path, char *id, size_t cap, rm_err *err);

/* XXH64 with seed 0 of len bytes (the hash of rm_batch_recording_id). */
uint64_t rm_batch_xxh64(const void *data, size_t len);

/* Whether the results at `results_path` are up to date for the recording
 * whose identity is `recording_id` (rm_batch_recording_id): they exist,
 * carry that identity, and were made with `profile` (name) by `software`
 * (e.g. "rollmat 0.2.0", RM_SOFTWARE). Modification times play no part.
 * *current is 1 or 0; a missing or unreadable results file, or one without
 * an identity (written by rollmat analyze or an older batch) counts as not
 * current (no error). Returns RM_OK. */
rm_status rm_batch_results_current(const char *results_path, const char *recording_id,
                                   const char *profile, const char *software, int *current,
                                   rm_err *err);

/* Writes r as a results file at `results_path` stamped with `recording_id`
 * (root attribute RM_BATCH_ID_ATTR). Atomic: the file appears whole with
 * its identity, or the old one stays (temp beside it, rm_safefile_publish). */
rm_status rm_batch_results_write(const char *results_path, const rm_results *r,
                                 const char *recording_id, rm_err *err);

/* Merges shards' CSVs into `output` (temp, fsync, rename), rows sorted as
 * the batch sorts them. The inputs are all set tables or all session
 * tables (`--per session`), each with the header this version writes; the
 * output has theirs. A recording's rows found in two inputs are an error
 * naming both. */
rm_status rm_batch_merge(const char *const *inputs, size_t n, const char *output, rm_err *err);

/* Writes `len` bytes to `path` safely (temp in the same folder, fsync,
 * rename, fsync of the folder). */
rm_status rm_write_file_atomic(const char *path, const void *data, size_t len, rm_err *err);

#endif

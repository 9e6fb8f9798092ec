/* rm_catalogue.h - the study catalogue: an SQLite database of recordings,
 * their analyses and their sets (schema: docs/study.md), kept by
 * `rollmat study`, added to by rollmatd and read by `rollmat history`.
 *
 * A recording is known by its path (as found) and its content identity
 * (rm_batch_recording_id: XXH64 of the bytes), never by its modification
 * time: a file replaced by another with an older time (cp -p, rsync -a)
 * is indexed again. Each recording is written in one transaction, so an
 * interrupted run leaves every recording either indexed whole or not at
 * all; the database is in WAL mode with a busy timeout so two writers (two
 * `rollmat study`, or the daemon and a study) wait for each other instead
 * of failing. The schema version is PRAGMA user_version
 * (RM_CATALOGUE_SCHEMA) and the file is marked with PRAGMA application_id
 * (RM_CATALOGUE_APP_ID); a file that is not SQLite, not a catalogue, or of
 * a newer schema is refused without being changed.
 *
 * Threads: one rm_catalogue is used by one thread at a time; separate
 * rm_catalogue objects (in threads or processes) on one file are safe. */
#ifndef RM_CATALOGUE_H
#define RM_CATALOGUE_H

#include <stddef.h>

#include "rm_analysis.h"
#include "rm_results.h"
#include "rm_session.h"
#include "rm_status.h"
#include "rm_walk.h"

#define RM_CATALOGUE_SCHEMA   1
#define RM_CATALOGUE_APP_ID   0x524d4154 /* "RMAT" */
#define RM_CATALOGUE_FILENAME "rollmat-study.sqlite"

typedef struct rm_catalogue rm_catalogue;

/* Opens the catalogue at `path`, creating it (schema RM_CATALOGUE_SCHEMA)
 * when it does not exist or is empty. Refused, with the file left byte for
 * byte as it was: not an SQLite file (RM_ERR_FORMAT), an SQLite file that
 * is not a rollmat catalogue (RM_ERR_FORMAT), a newer schema
 * (RM_ERR_VERSION). *out is owned by the caller (rm_catalogue_close). */
rm_status rm_catalogue_open(const char *path, rm_catalogue **out, rm_err *err);
/* Opens an existing catalogue for reading only (history); never creates
 * or upgrades it. Same refusals; a missing file is RM_ERR_NOT_FOUND. */
rm_status rm_catalogue_open_readonly(const char *path, rm_catalogue **out, rm_err *err);
/* Closes c (NULL is fine). */
void rm_catalogue_close(rm_catalogue *c);

/* The database handle (sqlite3 *) for queries of rm_history; borrowed. */
void *rm_catalogue_db(rm_catalogue *c);

/* What rm_catalogue_index did with one recording. */
typedef enum rm_catalogue_outcome {
    RM_CATALOGUE_CURRENT,       /* same content and analysis already indexed: nothing done */
    RM_CATALOGUE_ADDED,         /* new path */
    RM_CATALOGUE_UPDATED,       /* known path, different content (or profile, software) */
    RM_CATALOGUE_NOT_RECORDING, /* a results file among the recordings: skipped */
} rm_catalogue_outcome;

/* Indexes the recording at `path`: its identity, then (unless current
 * for `profile`'s name and this software) its header, device, data quality
 * and analysis. The analysis is taken from NAME.results.h5 beside the
 * recording when that file carries the same identity and profile
 * (rm_batch_results_current), else computed here (nothing is written
 * beside the recording). `force` re-indexes even when current. Errors name
 * the file; the catalogue is then unchanged for it. */
rm_status rm_catalogue_index(rm_catalogue *c, const char *path, const rm_profile *profile,
                             int force, rm_catalogue_outcome *outcome, rm_err *err);

/* Writes (replaces) the rows of the recording at `path` with identity
 * `content_id`, read from the open session s, in one transaction. r (may
 * be NULL: no analysis yet, as the daemon registers a recording) gives the
 * analysis and its sets; results_path (may be NULL) where r came from. */
rm_status rm_catalogue_put(rm_catalogue *c, const char *path, const char *content_id, rm_session *s,
                           const rm_results *r, const char *results_path, rm_err *err);

/* Removes the recordings whose path lies below folder `dir` and is not in
 * `found` (sorted by path, as rm_walk gives it): files deleted or moved
 * away since the last run. *removed (may be NULL) gets how many. */
rm_status rm_catalogue_prune(rm_catalogue *c, const char *dir, const rm_walk_list *found,
                             size_t *removed, rm_err *err);

#endif

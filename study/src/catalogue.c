/* catalogue.c - the study catalogue in SQLite (rm_catalogue.h; the schema
 * and its meaning: docs/study.md). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_batch.h"
#include "rm_catalogue.h"
#include "rm_filekind.h"
#include "rm_version.h"

/* How long a writer waits for another one's transaction: analyses happen
 * outside transactions, so a wait is one recording's insert, but a daemon
 * and a study on a slow disk may take a while. */
#define BUSY_MS 60000

struct rm_catalogue {
    sqlite3 *db;
    char path[PATH_MAX];
};

/* Schema 1. Segment columns follow rm_segment_columns() (the same names as
 * the batch CSV), so they are added in code, see create_sets(). */
static const char schema_v1[] =
    "CREATE TABLE recording ("
    " id INTEGER PRIMARY KEY,"
    " path TEXT NOT NULL UNIQUE,"
    " content_id TEXT NOT NULL,"
    " size_bytes INTEGER NOT NULL,"
    " subject TEXT NOT NULL DEFAULT '',"
    " title TEXT,"
    " started_utc TEXT,"
    " started_unix REAL,"
    " duration_s REAL,"
    " frames INTEGER,"
    " rate_hz REAL,"
    " rows INTEGER,"
    " cols INTEGER,"
    " serial TEXT,"
    " source TEXT,"
    " frames_corrupt INTEGER,"
    " frames_missing INTEGER,"
    " gap_events INTEGER,"
    " corrupt_events INTEGER,"
    " indexed_utc TEXT NOT NULL);"
    "CREATE INDEX recording_subject ON recording(subject, started_utc);"
    "CREATE INDEX recording_content ON recording(content_id);"
    "CREATE TABLE analysis ("
    " recording INTEGER PRIMARY KEY REFERENCES recording(id) ON DELETE CASCADE,"
    " profile TEXT NOT NULL,"
    " software TEXT NOT NULL,"
    " results_path TEXT,"
    " duration_s REAL,"
    " rolling_s REAL,"
    " holding_s REAL,"
    " loaded_s REAL,"
    " strokes INTEGER,"
    " holds INTEGER,"
    " sets INTEGER,"
    " mean_speed_cm_s REAL,"
    " cadence_cpm REAL,"
    " mean_force_n REAL,"
    " peak_kpa REAL,"
    " score REAL,"
    " total_verdict TEXT,"
    " roller_found INTEGER,"
    " hot_sensels INTEGER,"
    " dead_sensels INTEGER,"
    " comment TEXT);";

static const char *col_name(const rm_segment_column *c)
{
    /* "index" is an SQL keyword: a lab's queries should not need quotes */
    return strcmp(c->name, "index") ? c->name : "set_index";
}

/* The sets table: one row per segment of an analysis. */
static int create_sets(sqlite3 *db, char **msg)
{
    size_t n;
    const rm_segment_column *cols = rm_segment_columns(&n);
    char sql[8192];
    size_t k = (size_t)snprintf(sql, sizeof sql,
                                "CREATE TABLE sets (recording INTEGER NOT NULL"
                                " REFERENCES recording(id) ON DELETE CASCADE");
    for (size_t i = 0; i < n && k < sizeof sql; i++) {
        const char *type = cols[i].kind == RM_SEGCOL_INT32     ? "INTEGER"
                           : cols[i].kind == RM_SEGCOL_VERDICT ? "TEXT"
                           : cols[i].kind == RM_SEGCOL_TEXT    ? "TEXT"
                                                               : "REAL";
        k += (size_t)snprintf(sql + k, sizeof sql - k, ", %s %s", col_name(&cols[i]), type);
    }
    if (k < sizeof sql)
        k += (size_t)snprintf(sql + k, sizeof sql - k, ", PRIMARY KEY (recording, set_index));");
    if (k >= sizeof sql)
        return SQLITE_TOOBIG;
    return sqlite3_exec(db, sql, NULL, NULL, msg);
}

static rm_status db_fail(rm_catalogue *c, rm_err *err, const char *what)
{
    return rm_err_set(err, sqlite3_errcode(c->db) == SQLITE_BUSY ? RM_ERR_BUSY : RM_ERR_IO,
                      "%s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

static rm_status exec(rm_catalogue *c, const char *sql, rm_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return RM_OK;
    rm_status st = rm_err_set(err, rc == SQLITE_BUSY ? RM_ERR_BUSY : RM_ERR_IO, "%s: %s", c->path,
                              msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return st;
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        *out = sqlite3_column_int(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

/* Before SQLite touches the file: an existing non-empty file must start
 * with SQLite's magic, or it is someone else's file named by mistake. */
static rm_status check_magic(const char *path, int *exists, rm_err *err)
{
    *exists = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return RM_OK;
        return rm_err_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    char magic[16] = {0};
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, magic, sizeof magic) : -2;
    close(fd);
    if (n == -2)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: not a regular file; not a catalogue", path);
    if (n == 0)
        return RM_OK; /* empty: made new */
    *exists = 1;
    if (n != 16 || memcmp(magic, "SQLite format 3", 16))
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: not an SQLite database (not a rollmat catalogue); left untouched",
                          path);
    return RM_OK;
}

/* Reads the version and the mark of an existing file; refuses what this
 * build cannot read. Nothing is written before this passes. */
static rm_status check_schema(rm_catalogue *c, int *version, rm_err *err)
{
    int app = 0, tables = 0;
    /* One read transaction: read one by one, the three could straddle
     * another writer's create_schema commit (application_id still 0, the
     * version already set) and a catalogue being made would look foreign. */
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot read the schema");
    int rc = pragma_int(c->db, "PRAGMA application_id", &app);
    if (rc == SQLITE_OK)
        rc = pragma_int(c->db, "PRAGMA user_version", version);
    if (rc == SQLITE_OK)
        rc = pragma_int(c->db, "SELECT count(*) FROM sqlite_schema", &tables);
    if (rc != SQLITE_OK) {
        rm_status st = db_fail(c, err, "cannot read the schema");
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(c, err, "cannot read the schema");
    if (app == 0 && *version == 0 && tables == 0)
        return RM_OK; /* an empty database: made a catalogue */
    if (app != RM_CATALOGUE_APP_ID)
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: an SQLite database but not a rollmat catalogue (application_id "
                          "%d); left untouched",
                          c->path, app);
    if (*version > RM_CATALOGUE_SCHEMA)
        return rm_err_set(err, RM_ERR_VERSION,
                          "%s: catalogue schema %d is newer than this rollmat reads (%d); left "
                          "untouched: use a newer rollmat",
                          c->path, *version, RM_CATALOGUE_SCHEMA);
    return RM_OK;
}

static rm_status create_schema(rm_catalogue *c, rm_err *err)
{
    rm_status st = exec(c, "BEGIN IMMEDIATE", err);
    if (st)
        return st;
    int version = 0;
    /* another writer may have created it while we waited for the lock */
    if (pragma_int(c->db, "PRAGMA user_version", &version) != SQLITE_OK) {
        st = db_fail(c, err, "cannot read the schema");
    } else if (version == 0) {
        char *msg = NULL, sql[128];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
                 RM_CATALOGUE_APP_ID, RM_CATALOGUE_SCHEMA);
        st = exec(c, schema_v1, err);
        if (!st && create_sets(c->db, &msg) != SQLITE_OK) {
            st = rm_err_set(err, RM_ERR_IO, "%s: %s", c->path, msg ? msg : "cannot create sets");
            sqlite3_free(msg);
        }
        if (!st)
            st = exec(c, sql, err);
    }
    if (st) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return exec(c, "COMMIT", err);
}

/* Switches the file to WAL (once: the mode is kept in the file). SQLite does
 * not call the busy handler for this switch, so while a second writer is
 * making the same new catalogue it answers "database is locked" at once;
 * retry for as long as the busy timeout would have waited. */
static rm_status use_wal(rm_catalogue *c, rm_err *err)
{
    for (int waited_ms = 0;; waited_ms += 5) {
        sqlite3_stmt *q = NULL;
        int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        int wal = rc == SQLITE_ROW && !sqlite3_stricmp((const char *)sqlite3_column_text(q, 0), "wal");
        sqlite3_finalize(q);
        if (wal)
            return RM_OK;
        if ((rc != SQLITE_BUSY && rc != SQLITE_ROW) || waited_ms >= BUSY_MS)
            return db_fail(c, err, "cannot switch to WAL");
        sqlite3_sleep(5);
    }
}

static rm_status open_db(const char *path, int readonly, rm_catalogue **out, rm_err *err)
{
    *out = NULL;
    int exists = 0;
    rm_status st = check_magic(path, &exists, err);
    if (st)
        return st;
    if (readonly && !exists)
        return rm_err_set(err, RM_ERR_NOT_FOUND,
                          "%s: no catalogue (run 'rollmat study' on the folder first)", path);
    rm_catalogue *c = calloc(1, sizeof *c);
    if (!c)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    snprintf(c->path, sizeof c->path, "%s", path);
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        st = db_fail(c, err, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, BUSY_MS);
    int version = 0;
    if ((st = check_schema(c, &version, err)))
        goto fail;
    if (readonly && version == 0) {
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: an empty catalogue", path);
        goto fail;
    }
    if (!readonly) {
        /* WAL: readers never block the writer, and a killed writer's
         * transaction is rolled back on the next open */
        if ((st = use_wal(c, err)) || (st = exec(c, "PRAGMA foreign_keys=ON;", err)))
            goto fail;
        if (version == 0 && (st = create_schema(c, err)))
            goto fail;
    }
    *out = c;
    return RM_OK;
fail:
    rm_catalogue_close(c);
    return st;
}

rm_status rm_catalogue_open(const char *path, rm_catalogue **out, rm_err *err)
{
    return open_db(path, 0, out, err);
}

rm_status rm_catalogue_open_readonly(const char *path, rm_catalogue **out, rm_err *err)
{
    return open_db(path, 1, out, err);
}

void rm_catalogue_close(rm_catalogue *c)
{
    if (!c)
        return;
    sqlite3_close(c->db);
    free(c);
}

void *rm_catalogue_db(rm_catalogue *c) { return c->db; }

/* ---- writing one recording ---- */

static void bind_real(sqlite3_stmt *q, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(q, i, v);
    else
        sqlite3_bind_null(q, i);
}

static void bind_text(sqlite3_stmt *q, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

static int step_done(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void count_events(rm_session *s, long *gaps, long *corrupt)
{
    *gaps = *corrupt = 0;
    size_t n = rm_session_event_count(s);
    for (size_t i = 0; i < n; i++) {
        rm_event ev;
        if (rm_session_event(s, i, &ev) != RM_OK)
            continue;
        *gaps += !strcmp(ev.kind, RM_EVENT_GAP);
        *corrupt += !strcmp(ev.kind, RM_EVENT_CORRUPT) || !strcmp(ev.kind, RM_EVENT_TRUNCATED);
    }
}

static int insert_recording(rm_catalogue *c, const char *path, const char *content_id,
                            rm_session *s, const rm_results *r)
{
    const rm_header *h = rm_session_header(s);
    const rm_device *d = rm_session_device(s);
    rm_end end = {0};
    rm_session_end_totals(s, &end);
    long gaps, corrupt;
    count_events(s, &gaps, &corrupt);
    struct stat st;
    long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    double frames = (double)rm_session_frames(s);
    double duration = r ? r->totals.duration_s : (d->rate_hz > 0 ? frames / d->rate_hz : NAN);
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(
        c->db,
        "INSERT INTO recording (path, content_id, size_bytes, subject, title, started_utc,"
        " started_unix, duration_s, frames, rate_hz, rows, cols, serial, source, frames_corrupt,"
        " frames_missing, gap_events, corrupt_events, indexed_utc)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        -1, &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    bind_text(q, 1, path);
    bind_text(q, 2, content_id);
    sqlite3_bind_int64(q, 3, size);
    bind_text(q, 4, h->subject_id);
    bind_text(q, 5, h->title);
    bind_text(q, 6, h->created[0] ? h->created : NULL);
    bind_real(q, 7, h->created[0] ? h->created_unix : NAN);
    bind_real(q, 8, duration);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)frames);
    bind_real(q, 10, d->rate_hz);
    sqlite3_bind_int(q, 11, d->rows);
    sqlite3_bind_int(q, 12, d->cols);
    bind_text(q, 13, d->serial);
    bind_text(q, 14, h->source);
    sqlite3_bind_int64(q, 15, (sqlite3_int64)(end.frames_corrupt + end.frames_truncated));
    sqlite3_bind_int64(q, 16, (sqlite3_int64)end.frames_missing);
    sqlite3_bind_int64(q, 17, gaps);
    sqlite3_bind_int64(q, 18, corrupt);
    bind_text(q, 19, now);
    return step_done(q);
}

static int insert_analysis(rm_catalogue *c, sqlite3_int64 rec, const rm_results *r,
                           const char *results_path)
{
    const rm_session_totals *t = &r->totals;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(
        c->db,
        "INSERT INTO analysis (recording, profile, software, results_path, duration_s, rolling_s,"
        " holding_s, loaded_s, strokes, holds, sets, mean_speed_cm_s, cadence_cpm, mean_force_n,"
        " peak_kpa, score, total_verdict, roller_found, hot_sensels, dead_sensels, comment)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        -1, &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(q, 1, rec);
    bind_text(q, 2, r->profile);
    bind_text(q, 3, r->software);
    bind_text(q, 4, results_path);
    bind_real(q, 5, t->duration_s);
    bind_real(q, 6, t->rolling_s);
    bind_real(q, 7, t->holding_s);
    bind_real(q, 8, t->loaded_s);
    sqlite3_bind_int(q, 9, t->strokes);
    sqlite3_bind_int(q, 10, t->holds);
    sqlite3_bind_int64(q, 11, (sqlite3_int64)r->n_segments);
    bind_real(q, 12, t->mean_speed_cm_s);
    bind_real(q, 13, t->cadence_cpm);
    bind_real(q, 14, t->mean_force_n);
    bind_real(q, 15, t->peak_kpa);
    bind_real(q, 16, t->score);
    bind_text(q, 17, rm_verdict_name(t->total_verdict));
    sqlite3_bind_int(q, 18, t->roller_found);
    sqlite3_bind_int(q, 19, t->hot_sensels);
    sqlite3_bind_int(q, 20, t->dead_sensels);
    bind_text(q, 21, t->comment);
    return step_done(q);
}

static int insert_sets(rm_catalogue *c, sqlite3_int64 rec, const rm_results *r)
{
    size_t n;
    const rm_segment_column *cols = rm_segment_columns(&n);
    char sql[8192];
    size_t k = (size_t)snprintf(sql, sizeof sql, "INSERT INTO sets (recording");
    for (size_t i = 0; i < n && k < sizeof sql; i++)
        k += (size_t)snprintf(sql + k, sizeof sql - k, ", %s", col_name(&cols[i]));
    if (k < sizeof sql)
        k += (size_t)snprintf(sql + k, sizeof sql - k, ") VALUES (?");
    for (size_t i = 0; i < n && k < sizeof sql; i++)
        k += (size_t)snprintf(sql + k, sizeof sql - k, ", ?");
    if (k < sizeof sql)
        k += (size_t)snprintf(sql + k, sizeof sql - k, ")");
    if (k >= sizeof sql)
        return SQLITE_TOOBIG;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &q, NULL);
    for (size_t s = 0; rc == SQLITE_OK && s < r->n_segments; s++) {
        const rm_segment_result *seg = &r->segments[s];
        sqlite3_bind_int64(q, 1, rec);
        for (size_t i = 0; i < n; i++) {
            int at = (int)i + 2;
            if (cols[i].kind == RM_SEGCOL_TEXT)
                bind_text(q, at, rm_segment_text(seg, &cols[i]));
            else if (cols[i].kind == RM_SEGCOL_VERDICT)
                bind_text(q, at, rm_verdict_name((int)rm_segment_value(seg, &cols[i])));
            else if (cols[i].kind == RM_SEGCOL_INT32)
                sqlite3_bind_int64(q, at, (sqlite3_int64)rm_segment_value(seg, &cols[i]));
            else
                bind_real(q, at, rm_segment_value(seg, &cols[i]));
        }
        rc = sqlite3_step(q);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return rc;
}

rm_status rm_catalogue_put(rm_catalogue *c, const char *path, const char *content_id, rm_session *s,
                           const rm_results *r, const char *results_path, rm_err *err)
{
    /* IMMEDIATE: take the write lock now (waiting on the busy timeout), so
     * two writers never deadlock upgrading read locks */
    rm_status st = exec(c, "BEGIN IMMEDIATE", err);
    if (st)
        return st;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(c->db, "DELETE FROM recording WHERE path = ?", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        bind_text(q, 1, path);
        rc = step_done(q);
    }
    if (rc == SQLITE_OK)
        rc = insert_recording(c, path, content_id, s, r);
    sqlite3_int64 rec = sqlite3_last_insert_rowid(c->db);
    if (rc == SQLITE_OK && r)
        rc = insert_analysis(c, rec, r, results_path);
    if (rc == SQLITE_OK && r)
        rc = insert_sets(c, rec, r);
    if (rc != SQLITE_OK) {
        st = db_fail(c, err, path);
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return exec(c, "COMMIT", err);
}

/* ---- indexing ---- */

/* 0: unknown path; 1: known with another content or analysis; 2: current. */
static int known(rm_catalogue *c, const char *path, const char *id, const char *profile)
{
    sqlite3_stmt *q = NULL;
    int state = 0;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT r.content_id, a.profile, a.software FROM recording r"
                           " LEFT JOIN analysis a ON a.recording = r.id WHERE r.path = ?",
                           -1, &q, NULL) != SQLITE_OK)
        return 0;
    bind_text(q, 1, path);
    if (sqlite3_step(q) == SQLITE_ROW) {
        const char *cid = (const char *)sqlite3_column_text(q, 0);
        const char *prof = (const char *)sqlite3_column_text(q, 1);
        const char *sw = (const char *)sqlite3_column_text(q, 2);
        state = cid && !strcmp(cid, id) && prof && !strcmp(prof, profile) && sw &&
                        !strcmp(sw, RM_SOFTWARE)
                    ? 2
                    : 1;
    }
    sqlite3_finalize(q);
    return state;
}

/* NAME.results.h5 beside NAME.h5 (what rollmat analyze writes). */
static void beside(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".hdf5"))
        n -= 5;
    else if (n > 3 && !strcmp(path + n - 3, ".h5"))
        n -= 3;
    snprintf(out, cap, "%.*s.results.h5", (int)n, path);
}

/* The analysis: the results file beside the recording if it is the same
 * content's with this profile, else computed. */
static rm_status analyse(const char *path, const char *id, const rm_profile *profile,
                         rm_results **r, char *results_path, size_t cap, rm_err *err)
{
    int current = 0;
    beside(path, results_path, cap);
    rm_err e2 = {0};
    if (rm_batch_results_current(results_path, id, profile->name, RM_SOFTWARE, &current, &e2) ==
            RM_OK &&
        current && rm_results_open(results_path, r, &e2) == RM_OK)
        return RM_OK;
    results_path[0] = 0;
    return rm_analyze_session(path, NULL, profile, r, err);
}

rm_status rm_catalogue_index(rm_catalogue *c, const char *path, const rm_profile *profile,
                             int force, rm_catalogue_outcome *outcome, rm_err *err)
{
    char abs[PATH_MAX], id[RM_BATCH_ID_LEN], rpath[PATH_MAX + 16];
    if (!realpath(path, abs))
        return rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s", path,
                          strerror(errno));
    rm_file_kind kind;
    rm_err e2 = {0};
    if (rm_file_kind_of(abs, &kind, &e2) == RM_OK && kind == RM_FILE_RESULTS) {
        *outcome = RM_CATALOGUE_NOT_RECORDING;
        return RM_OK;
    }
    rm_status st = rm_batch_recording_id(abs, id, sizeof id, err);
    if (st)
        return st;
    int state = known(c, abs, id, profile->name);
    if (state == 2 && !force) {
        *outcome = RM_CATALOGUE_CURRENT;
        return RM_OK;
    }
    rm_session *s = NULL;
    rm_results *r = NULL;
    st = rm_session_open(abs, &s, err);
    if (!st)
        st = analyse(abs, id, profile, &r, rpath, sizeof rpath, err);
    if (!st)
        st = rm_catalogue_put(c, abs, id, s, r, rpath[0] ? rpath : NULL, err);
    rm_results_free(r);
    rm_session_close(s);
    if (!st)
        *outcome = state ? RM_CATALOGUE_UPDATED : RM_CATALOGUE_ADDED;
    return st;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const rm_walk_file *)a)->path, ((const rm_walk_file *)b)->path);
}

static int in_list(const rm_walk_list *found, const char *path)
{
    size_t lo = 0, hi = found->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(found->v[mid].path, path);
        if (!d)
            return 1;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

rm_status rm_catalogue_prune(rm_catalogue *c, const char *dir, const rm_walk_list *found,
                             size_t *removed, rm_err *err)
{
    char abs[PATH_MAX];
    if (removed)
        *removed = 0;
    if (!realpath(dir, abs))
        return rm_err_set(err, RM_ERR_IO, "%s: %s", dir, strerror(errno));
    /* found paths are as walked; the catalogue's are real paths */
    rm_walk_list real = {0};
    rm_status st = RM_OK;
    for (size_t i = 0; i < found->n && !st; i++) {
        char p[PATH_MAX];
        if (!realpath(found->v[i].path, p))
            continue;
        if (real.n == real.cap) {
            size_t cap = real.cap ? real.cap * 2 : 64;
            rm_walk_file *v = realloc(real.v, cap * sizeof *v);
            if (!v) {
                st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
                break;
            }
            real.v = v;
            real.cap = cap;
        }
        if (!(real.v[real.n].path = strdup(p))) {
            st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
            break;
        }
        real.n++;
    }
    if (!st && real.n > 1)
        qsort(real.v, real.n, sizeof *real.v, cmp_path);
    if (!st)
        st = exec(c, "BEGIN IMMEDIATE", err);
    sqlite3_stmt *q = NULL, *del = NULL;
    if (!st &&
        (sqlite3_prepare_v2(c->db, "SELECT id, path FROM recording WHERE substr(path, 1, ?) = ?",
                            -1, &q, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(c->db, "DELETE FROM recording WHERE id = ?", -1, &del, NULL) !=
             SQLITE_OK))
        st = db_fail(c, err, "prune");
    if (!st) {
        char prefix[PATH_MAX + 2];
        snprintf(prefix, sizeof prefix, "%s%s", abs, strcmp(abs, "/") ? "/" : "");
        sqlite3_bind_int(q, 1, (int)strlen(prefix));
        bind_text(q, 2, prefix);
        int rc;
        while (!st && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (in_list(&real, (const char *)sqlite3_column_text(q, 1)))
                continue;
            sqlite3_bind_int64(del, 1, sqlite3_column_int64(q, 0));
            if (sqlite3_step(del) != SQLITE_DONE)
                st = db_fail(c, err, "prune");
            sqlite3_reset(del);
            if (removed)
                ++*removed;
        }
    }
    sqlite3_finalize(q);
    sqlite3_finalize(del);
    rm_walk_list_free(&real);
    if (st) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return exec(c, "COMMIT", err);
}

/* test_catalogue.c - the study catalogue's refusals and rm_history's
 * weeks on a catalogue filled by SQL (no recordings needed): ISO weeks
 * across a year's end, several recordings on one day adding up, copies of
 * one file counted once, empty weeks, the targets' 0/1 and what missed,
 * and an unknown subject naming the known ones. Every expected number is
 * computed here from the rows the test inserts. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_catalogue.h"
#include "rm_history.h"
#include "test_util.h"

static char *dir;

static void setup(void) { dir = rm_test_tmpdir("catalogue"); }
static void teardown(void)
{
    rm_test_rmtree(dir);
    free(dir);
}

TestSuite(catalogue, .init = setup, .fini = teardown);

static void write_bytes(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(s, 1, n, f), n);
    fclose(f);
}

static void assert_unchanged(const char *path, const uint8_t *want, size_t n)
{
    uint8_t *got = NULL;
    size_t len = 0;
    cr_assert_eq(rm_test_read_file(path, &got, &len), 0);
    cr_assert_eq(len, n, "%s: size changed", path);
    cr_assert_eq(memcmp(got, want, n), 0, "%s: bytes changed", path);
    free(got);
}

Test(catalogue, creates_versioned_schema)
{
    char *p = rm_test_path(dir, "new.sqlite");
    rm_catalogue *c = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_catalogue_open(p, &c, &err), RM_OK, "%s", err.msg);
    sqlite3_stmt *q = NULL;
    sqlite3 *db = rm_catalogue_db(c);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(q, 0), RM_CATALOGUE_SCHEMA);
    sqlite3_finalize(q);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    rm_catalogue_close(c);
    /* opened again: the same catalogue, not an error */
    cr_assert_eq(rm_catalogue_open(p, &c, &err), RM_OK, "%s", err.msg);
    rm_catalogue_close(c);
    free(p);
}

typedef struct {
    const char *path;
    pthread_barrier_t *go;
    rm_status st;
    char msg[sizeof(((rm_err *)0)->msg)];
} opener;

static void *open_together(void *arg)
{
    opener *o = arg;
    rm_catalogue *c = NULL;
    rm_err err = {0};
    pthread_barrier_wait(o->go);
    o->st = rm_catalogue_open(o->path, &c, &err);
    snprintf(o->msg, sizeof o->msg, "%s", err.msg);
    rm_catalogue_close(c);
    return NULL;
}

/* Two writers making one new catalogue at the same moment (two `rollmat
 * study` on one folder): the one that does not create the schema must read
 * it whole, never half-made (the version set, the mark not yet: "not a
 * rollmat catalogue"). Many rounds, because the window is short. */
Test(catalogue, two_writers_making_one_catalogue_both_succeed)
{
    enum { ROUNDS = 150 };
    int failed = 0;
    char first[sizeof(((rm_err *)0)->msg)] = "";
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "two%d.sqlite", round);
        char *p = rm_test_path(dir, name);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        opener a = {p, &go, RM_OK, ""}, b = {p, &go, RM_OK, ""};
        pthread_t ta, tb;
        cr_assert_eq(pthread_create(&ta, NULL, open_together, &a), 0);
        cr_assert_eq(pthread_create(&tb, NULL, open_together, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        if (a.st != RM_OK || b.st != RM_OK) {
            if (!failed)
                snprintf(first, sizeof first, "%s", a.st != RM_OK ? a.msg : b.msg);
            failed++;
        }
        free(p);
    }
    cr_expect_eq(failed, 0, "%d of %d rounds failed; first: %s", failed, ROUNDS, first);
}

Test(catalogue, refuses_foreign_and_newer_files_untouched)
{
    rm_err err = {0};
    rm_catalogue *c = NULL;
    char *text = rm_test_path(dir, "notes.sqlite");
    const char notes[] = "subject,week\nA1,2025-W10\n";
    write_bytes(text, notes, sizeof notes - 1);
    cr_expect_eq(rm_catalogue_open(text, &c, &err), RM_ERR_FORMAT);
    cr_expect(strstr(err.msg, "not an SQLite database"), "%s", err.msg);
    cr_expect(strstr(err.msg, text), "message names the file: %s", err.msg);
    assert_unchanged(text, (const uint8_t *)notes, sizeof notes - 1);

    /* another program's SQLite, and a catalogue of a newer schema */
    char *other = rm_test_path(dir, "other.sqlite"), *newer = rm_test_path(dir, "newer.sqlite");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(other, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", 0, 0, 0),
                 SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(rm_catalogue_open(newer, &c, &err), RM_OK, "%s", err.msg);
    rm_catalogue_close(c);
    cr_assert_eq(sqlite3_open(newer, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA user_version=42", 0, 0, 0),
                 SQLITE_OK);
    sqlite3_close(db);
    const char *paths[] = {other, newer};
    rm_status want[] = {RM_ERR_FORMAT, RM_ERR_VERSION};
    for (int i = 0; i < 2; i++) {
        uint8_t *before = NULL;
        size_t n = 0;
        cr_assert_eq(rm_test_read_file(paths[i], &before, &n), 0);
        memset(&err, 0, sizeof err);
        cr_expect_eq(rm_catalogue_open(paths[i], &c, &err), want[i], "%s", paths[i]);
        cr_expect_eq(rm_catalogue_open_readonly(paths[i], &c, &err), want[i], "%s", paths[i]);
        cr_expect(strstr(err.msg, "left untouched"), "%s", err.msg);
        assert_unchanged(paths[i], before, n);
        free(before);
    }
    cr_expect(strstr(err.msg, "schema 42"), "%s", err.msg);
    char *missing = rm_test_path(dir, "none.sqlite");
    cr_expect_eq(rm_catalogue_open_readonly(missing, &c, &err), RM_ERR_NOT_FOUND);
    free(text);
    free(other);
    free(newer);
    free(missing);
}

/* ---- history on rows inserted by SQL ---- */

typedef struct sess {
    const char *when; /* UTC "YYYY-MM-DD HH:MM" */
    const char *content;
    double rolling_s, holding_s;
    double calves_s, quads_s; /* set lengths */
} sess;

static double unix_of(const char *when)
{
    struct tm tm = {0};
    cr_assert_eq(sscanf(when, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                        &tm.tm_min),
                 5);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

static void insert(sqlite3 *db, int id, const char *subject, const sess *s)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO recording (id, path, content_id, size_bytes, subject, started_utc,"
             " started_unix, indexed_utc) VALUES (%d, '/s/%d.h5', '%s', 1, '%s', '%s', %.0f, 'x');"
             "INSERT INTO analysis (recording, profile, software, rolling_s, holding_s)"
             " VALUES (%d, 'p', 'rollmat', %g, %g);"
             "INSERT INTO sets (recording, set_index, label, start_s, end_s, mean_speed_cm_s,"
             " mean_force_n, hold_verdict) VALUES (%d, 0, 'calves', 10, %g, 2.5, 200, 'inside'),"
             " (%d, 1, 'quads', 200, %g, 3.5, 300, 'below');",
             id, id, s->content, subject, s->when, unix_of(s->when), id, s->rolling_s, s->holding_s,
             id, 10 + s->calves_s, id, 200 + s->quads_s);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, 0, 0, &msg), SQLITE_OK, "%s", msg ? msg : "");
}

static rm_profile plan(void)
{
    rm_profile p = {0};
    snprintf(p.name, sizeof p.name, "test");
    p.week_sessions = (rm_band){1, 3, 5, NAN, ""};
    p.daily_s = (rm_band){1, 300, 600, NAN, ""};
    p.group_s = (rm_band){1, 60, 120, NAN, ""};
    snprintf(p.groups, sizeof p.groups, "calves quads");
    return p;
}

Test(catalogue, history_weeks_from_rows)
{
    /* Mon 2024-12-30 is in 2025-W01; Sun 2025-01-05 too; Mon 2025-01-06 is
     * W02; nothing in W03; W04 has one session. */
    const sess S[] = {
        {"2024-12-30 07:00", "c1", 240, 60, 90, 90},  /* 5.0 min */
        {"2024-12-30 18:00", "c2", 200, 40, 70, 70},  /* +4.0 = 9.0 min that day */
        {"2025-01-01 07:00", "c3", 420, 60, 90, 130}, /* 8.0, quads too long */
        {"2025-01-05 07:00", "c4", 300, 60, 100, 100},
        {"2025-01-06 07:00", "c5", 120, 0, 50, 60}, /* 2.0 min: short, calves short */
        {"2025-01-06 07:00", "c5", 120, 0, 50, 60}, /* a copy of c5: not a session */
        {"2025-01-07 07:00", "c6", 360, 0, 80, 80},
        {"2025-01-08 07:00", "c7", 700, 0, 80, 80}, /* 11.7 min: too long */
        {"2025-01-22 07:00", "c8", 330, 0, 80, 80},
    };
    size_t n = sizeof S / sizeof S[0];
    char *p = rm_test_path(dir, "h.sqlite");
    rm_catalogue *c = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_catalogue_open(p, &c, &err), RM_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        insert(rm_catalogue_db(c), (int)i + 1, "A1", &S[i]);
    sess other = {"2025-01-01 07:00", "z", 1, 1, 1, 1};
    insert(rm_catalogue_db(c), 99, "B2", &other);
    rm_profile prof = plan();
    rm_history *h = NULL;
    cr_assert_eq(rm_history_load(c, "A1", &prof, &h, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(h->n_weeks, 4);
    cr_expect_str_eq(h->weeks[0].week, "2025-W01");
    cr_expect_str_eq(h->weeks[0].monday, "2024-12-30");
    cr_expect_str_eq(h->weeks[1].week, "2025-W02");
    cr_expect_str_eq(h->weeks[2].week, "2025-W03");
    cr_expect_str_eq(h->weeks[3].week, "2025-W04");
    /* week 1: sessions 0..3 */
    const rm_history_week *w = &h->weeks[0];
    cr_expect_eq(w->sessions, 4);
    cr_expect_eq(w->days, 3);
    cr_expect_float_eq(w->day_min[0],
                       (S[0].rolling_s + S[0].holding_s + S[1].rolling_s + S[1].holding_s) / 60,
                       1e-9);
    cr_expect_float_eq(w->day_min[2], (S[2].rolling_s + S[2].holding_s) / 60, 1e-9);
    cr_expect_float_eq(w->day_min[6], (S[3].rolling_s + S[3].holding_s) / 60, 1e-9);
    double calves = 0;
    for (int i = 0; i < 4; i++)
        calves += S[i].calves_s / 60;
    cr_expect_float_eq(w->group_min[0], calves, 1e-9);
    cr_expect_eq(w->sessions_ok, 1);
    cr_expect_eq(w->daily_ok, 1);  /* 9.0, 8.0, 6.0 min: each day inside 5-10 */
    cr_expect_eq(w->groups_ok, 0); /* quads 130 s on 2025-01-01 */
    cr_expect(strstr(w->groups_missed, "quads 2025-01-01"), "%s", w->groups_missed);
    cr_expect(!strstr(w->groups_missed, "calves"), "%s", w->groups_missed);
    /* week 2: the copy of c5 does not count */
    w = &h->weeks[1];
    cr_expect_eq(w->sessions, 3);
    cr_expect_eq(w->sessions_ok, 1);
    cr_expect_eq(w->daily_ok, 0);
    cr_expect(strstr(w->days_missed, "2025-01-06 2.0 min"), "%s", w->days_missed);
    cr_expect(strstr(w->days_missed, "2025-01-08"), "%s", w->days_missed);
    cr_expect(!strstr(w->days_missed, "2025-01-07"), "%s", w->days_missed);
    cr_expect_eq(w->groups_ok, 0);
    cr_expect(strstr(w->groups_missed, "calves 2025-01-06"), "%s", w->groups_missed);
    /* week 3: empty */
    w = &h->weeks[2];
    cr_expect_eq(w->sessions, 0);
    cr_expect_eq(w->sessions_ok, 0);
    cr_expect_eq(w->daily_ok, -1);
    cr_expect_eq(w->groups_ok, -1);
    cr_expect(isnan(w->speed_cm_s[0]));
    /* week 4: one session, too few; trends from its sets */
    w = &h->weeks[3];
    cr_expect_eq(w->sessions, 1);
    cr_expect_eq(w->sessions_ok, 0);
    cr_expect_eq(w->daily_ok, 1);
    cr_expect_eq(w->groups_ok, 1);
    cr_expect_float_eq(w->speed_cm_s[1], 3.5, 1e-9);
    cr_expect_float_eq(w->hold_ok[0], 1.0, 1e-9);
    cr_expect_float_eq(w->hold_ok[1], 0.0, 1e-9);

    /* the CSV carries the columns and NA for what was not judged */
    char *csv = rm_test_path(dir, "w.csv");
    FILE *f = fopen(csv, "w");
    cr_assert(f);
    cr_assert_eq(rm_history_csv(f, h), 0);
    fclose(f);
    uint8_t *text = NULL;
    size_t len = 0;
    cr_assert_eq(rm_test_read_file(csv, &text, &len), 0);
    text = realloc(text, len + 1);
    text[len] = 0;
    cr_expect(strstr((char *)text, "minutes_calves,minutes_quads,sessions_ok,daily_ok,groups_ok"),
              "%s", text);
    cr_expect(strstr((char *)text, "A1,2025-W03,2025-01-13,0,0,0.00"), "%s", text);
    cr_expect(strstr((char *)text, ",0,NA,NA,,"), "%s", text);
    free(text);
    free(csv);
    rm_history_free(h);

    /* an unknown subject names the known ones */
    cr_expect_eq(rm_history_load(c, "Z9", &prof, &h, &err), RM_ERR_NOT_FOUND);
    cr_expect(strstr(err.msg, "known subjects: A1, B2"), "%s", err.msg);
    rm_catalogue_close(c);
    free(p);
}

/* history.c - one athlete over weeks from the catalogue (rm_history.h). */
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_csv.h"
#include "rm_history.h"

/* The recordings of a subject that count: analysed, with a start time,
 * and one per content identity (a copy of a file is not a second session). */
#define SUBJECT_SESSIONS                                                                           \
    "SELECT r.id, r.started_unix, a.rolling_s + a.holding_s FROM recording r"                      \
    " JOIN analysis a ON a.recording = r.id WHERE r.subject = ?1 AND r.started_unix IS NOT NULL"   \
    " AND r.id IN (SELECT min(id) FROM recording WHERE subject = ?1 GROUP BY content_id)"          \
    " ORDER BY r.started_unix, r.path"

static rm_status sql_fail(sqlite3 *db, rm_err *err, const char *what)
{
    return rm_err_set(err, RM_ERR_IO, "catalogue: %s: %s", what, sqlite3_errmsg(db));
}

static void cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* "not in the catalogue; known: A1, B2" */
static rm_status unknown_subject(sqlite3 *db, const char *subject, rm_err *err)
{
    char known[400] = "";
    sqlite3_stmt *q = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT subject FROM recording ORDER BY subject", -1, &q,
                           NULL) == SQLITE_OK)
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *s = (const char *)sqlite3_column_text(q, 0);
            cat(known, sizeof known, "%s%s", n++ ? ", " : "", s && *s ? s : "(none)");
        }
    sqlite3_finalize(q);
    return rm_err_set(err, RM_ERR_NOT_FOUND, "subject '%s' has no analysed recordings; %s%s",
                      subject, n ? "known subjects: " : "the catalogue has no recordings", known);
}

/* The planned groups: the profile's, else the labels of the subject's sets. */
static rm_status load_groups(sqlite3 *db, const char *subject, const rm_profile *p, rm_history *h,
                             rm_err *err)
{
    if (p->groups[0]) {
        char copy[256], *save = NULL;
        snprintf(copy, sizeof copy, "%s", p->groups);
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (h->n_groups == RM_HISTORY_MAX_GROUPS)
                return rm_err_set(err, RM_ERR_RANGE, "profile %s: more than %d groups", p->name,
                                  RM_HISTORY_MAX_GROUPS);
            snprintf(h->groups[h->n_groups++], sizeof h->groups[0], "%s", t);
        }
        return RM_OK;
    }
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT s.label FROM sets s JOIN recording r ON r.id ="
                           " s.recording WHERE r.subject = ? ORDER BY s.label",
                           -1, &q, NULL) != SQLITE_OK)
        return sql_fail(db, err, "sets");
    sqlite3_bind_text(q, 1, subject, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(q) == SQLITE_ROW && h->n_groups < RM_HISTORY_MAX_GROUPS) {
        const char *l = (const char *)sqlite3_column_text(q, 0);
        if (l && *l)
            snprintf(h->groups[h->n_groups++], sizeof h->groups[0], "%s", l);
    }
    sqlite3_finalize(q);
    return RM_OK;
}

static int group_of(const rm_history *h, const char *label)
{
    for (size_t g = 0; label && g < h->n_groups; g++)
        if (!strcmp(h->groups[g], label))
            return (int)g;
    return -1;
}

/* Whole seconds inside [lo, hi], as the coach's verdicts judge. */
static int inside(const rm_band *b, double seconds)
{
    double v = round(seconds);
    return v >= b->lo && v <= b->hi;
}

static long day_of(double t) { return (long)floor(t / 86400.0); }

static void day_text(long day, const char *fmt, char *out, size_t cap)
{
    time_t t = (time_t)day * 86400;
    struct tm u;
    gmtime_r(&t, &u);
    strftime(out, cap, fmt, &u);
}

/* Trend sums of one week, turned into means at the end. */
typedef struct trend_sum {
    double speed[RM_HISTORY_MAX_GROUPS], force[RM_HISTORY_MAX_GROUPS];
    int n_speed[RM_HISTORY_MAX_GROUPS], n_force[RM_HISTORY_MAX_GROUPS];
    int hold_in[RM_HISTORY_MAX_GROUPS], hold_judged[RM_HISTORY_MAX_GROUPS];
} trend_sum;

/* One session's sets: group minutes into the week, trends into *ts, and
 * the group check of this session. */
static rm_status add_sets(sqlite3 *db, sqlite3_int64 rec, long day, rm_history *h,
                          rm_history_week *w, trend_sum *ts, rm_err *err)
{
    double sec[RM_HISTORY_MAX_GROUPS] = {0};
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT label, end_s - start_s, mean_speed_cm_s, mean_force_n,"
                           " hold_verdict FROM sets WHERE recording = ? ORDER BY set_index",
                           -1, &q, NULL) != SQLITE_OK)
        return sql_fail(db, err, "sets");
    sqlite3_bind_int64(q, 1, rec);
    while (sqlite3_step(q) == SQLITE_ROW) {
        int g = group_of(h, (const char *)sqlite3_column_text(q, 0));
        if (g < 0)
            continue;
        sec[g] += sqlite3_column_double(q, 1);
        if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
            ts->speed[g] += sqlite3_column_double(q, 2);
            ts->n_speed[g]++;
        }
        if (sqlite3_column_type(q, 3) != SQLITE_NULL) {
            ts->force[g] += sqlite3_column_double(q, 3);
            ts->n_force[g]++;
        }
        const char *hv = (const char *)sqlite3_column_text(q, 4);
        if (hv) {
            ts->hold_judged[g]++;
            ts->hold_in[g] += !strcmp(hv, "inside");
        }
    }
    sqlite3_finalize(q);
    char date[16];
    day_text(day, "%Y-%m-%d", date, sizeof date);
    for (size_t g = 0; g < h->n_groups; g++) {
        w->group_min[g] += sec[g] / 60.0;
        if (!h->group_s.set || inside(&h->group_s, sec[g]))
            continue;
        w->groups_ok = 0;
        cat(w->groups_missed, sizeof w->groups_missed, "%s%s %s %.1f min",
            w->groups_missed[0] ? "; " : "", h->groups[g], date, sec[g] / 60.0);
    }
    return RM_OK;
}

/* The week's verdicts once all its sessions are in. */
static void close_week(rm_history *h, rm_history_week *w, long monday, const trend_sum *ts)
{
    w->sessions_ok = !h->week_sessions.set
                         ? -1
                         : w->sessions >= h->week_sessions.lo && w->sessions <= h->week_sessions.hi;
    w->daily_ok = !h->daily_s.set || !w->sessions ? -1 : 1;
    for (int d = 0; d < 7 && w->daily_ok >= 0; d++) {
        w->days += w->day_min[d] > 0;
        if (w->day_min[d] <= 0 || inside(&h->daily_s, w->day_min[d] * 60))
            continue;
        char date[16];
        day_text(monday + d, "%Y-%m-%d", date, sizeof date);
        w->daily_ok = 0;
        cat(w->days_missed, sizeof w->days_missed, "%s%s %.1f min", w->days_missed[0] ? "; " : "",
            date, w->day_min[d]);
    }
    if (w->daily_ok < 0)
        for (int d = 0; d < 7; d++)
            w->days += w->day_min[d] > 0;
    if (!w->sessions || !h->group_s.set || !h->n_groups)
        w->groups_ok = -1;
    for (size_t g = 0; g < h->n_groups; g++) {
        w->speed_cm_s[g] = ts->n_speed[g] ? ts->speed[g] / ts->n_speed[g] : NAN;
        w->force_n[g] = ts->n_force[g] ? ts->force[g] / ts->n_force[g] : NAN;
        w->hold_ok[g] = ts->hold_judged[g] ? (double)ts->hold_in[g] / ts->hold_judged[g] : NAN;
    }
}

typedef struct session_row {
    sqlite3_int64 id;
    double t, minutes;
} session_row;

static rm_status read_sessions(sqlite3 *db, const char *subject, session_row **out, size_t *n,
                               rm_err *err)
{
    sqlite3_stmt *q = NULL;
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    if (sqlite3_prepare_v2(db, SUBJECT_SESSIONS, -1, &q, NULL) != SQLITE_OK)
        return sql_fail(db, err, "recordings");
    sqlite3_bind_text(q, 1, subject, -1, SQLITE_TRANSIENT);
    rm_status st = RM_OK;
    while (!st && sqlite3_step(q) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            session_row *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                st = rm_err_set(err, RM_ERR_NOMEM, "history: out of memory");
                break;
            }
            *out = v;
        }
        (*out)[(*n)++] = (session_row){sqlite3_column_int64(q, 0), sqlite3_column_double(q, 1),
                                       sqlite3_column_double(q, 2) / 60.0};
    }
    sqlite3_finalize(q);
    return st;
}

static long monday_of(long day) { return day - ((day % 7 + 7 + 3) % 7); }

static rm_status build_weeks(sqlite3 *db, rm_history *h, const session_row *s, size_t n,
                             rm_err *err)
{
    long first = monday_of(day_of(s[0].t)), last = monday_of(day_of(s[n - 1].t));
    h->n_weeks = (size_t)((last - first) / 7 + 1);
    if (!(h->weeks = calloc(h->n_weeks, sizeof *h->weeks)))
        return rm_err_set(err, RM_ERR_NOMEM, "history: out of memory");
    trend_sum *ts = calloc(h->n_weeks, sizeof *ts);
    if (!ts)
        return rm_err_set(err, RM_ERR_NOMEM, "history: out of memory");
    rm_status st = RM_OK;
    for (size_t i = 0; i < h->n_weeks; i++) {
        day_text(first + 7 * (long)i, "%G-W%V", h->weeks[i].week, sizeof h->weeks[i].week);
        day_text(first + 7 * (long)i, "%Y-%m-%d", h->weeks[i].monday, sizeof h->weeks[i].monday);
        h->weeks[i].groups_ok = 1;
    }
    for (size_t i = 0; i < n && !st; i++) {
        long day = day_of(s[i].t), monday = monday_of(day);
        size_t k = (size_t)((monday - first) / 7);
        rm_history_week *w = &h->weeks[k];
        w->sessions++;
        w->minutes += s[i].minutes;
        w->day_min[day - monday] += s[i].minutes;
        st = add_sets(db, s[i].id, day, h, w, &ts[k], err);
    }
    for (size_t i = 0; i < h->n_weeks; i++)
        close_week(h, &h->weeks[i], first + 7 * (long)i, &ts[i]);
    free(ts);
    return st;
}

rm_status rm_history_load(rm_catalogue *c, const char *subject, const rm_profile *profile,
                          rm_history **out, rm_err *err)
{
    *out = NULL;
    sqlite3 *db = rm_catalogue_db(c);
    rm_history *h = calloc(1, sizeof *h);
    if (!h)
        return rm_err_set(err, RM_ERR_NOMEM, "history: out of memory");
    snprintf(h->subject, sizeof h->subject, "%s", subject);
    h->week_sessions = profile->week_sessions;
    h->daily_s = profile->daily_s;
    h->group_s = profile->group_s;
    session_row *s = NULL;
    size_t n = 0;
    rm_status st = read_sessions(db, subject, &s, &n, err);
    if (!st && n == 0)
        st = unknown_subject(db, subject, err);
    if (!st)
        st = load_groups(db, subject, profile, h, err);
    if (!st)
        st = build_weeks(db, h, s, n, err);
    h->n_sessions = n;
    free(s);
    if (st) {
        rm_history_free(h);
        return st;
    }
    *out = h;
    return RM_OK;
}

void rm_history_free(rm_history *h)
{
    if (!h)
        return;
    free(h->weeks);
    free(h);
}

static int put_flag(rm_csv *c, int v) { return v < 0 ? rm_csv_na(c) : rm_csv_int(c, v); }

int rm_history_csv(FILE *f, const rm_history *h)
{
    static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    rm_csv c;
    rm_csv_open(&c, f);
    const char *head[] = {"subject", "week", "monday", "sessions", "days", "minutes"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        rm_csv_text(&c, head[i]);
    for (int d = 0; d < 7; d++) {
        char name[32];
        snprintf(name, sizeof name, "minutes_%s", days[d]);
        rm_csv_text(&c, name);
    }
    for (size_t g = 0; g < h->n_groups; g++) {
        char name[48];
        snprintf(name, sizeof name, "minutes_%s", h->groups[g]);
        rm_csv_text(&c, name);
    }
    const char *tail[] = {"sessions_ok", "daily_ok", "groups_ok", "days_missed", "groups_missed"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        rm_csv_text(&c, tail[i]);
    rm_csv_end_row(&c);
    for (size_t i = 0; i < h->n_weeks; i++) {
        const rm_history_week *w = &h->weeks[i];
        rm_csv_text(&c, h->subject);
        rm_csv_text(&c, w->week);
        rm_csv_text(&c, w->monday);
        rm_csv_int(&c, w->sessions);
        rm_csv_int(&c, w->days);
        rm_csv_fixed(&c, w->minutes, 2);
        for (int d = 0; d < 7; d++)
            rm_csv_fixed(&c, w->day_min[d], 2);
        for (size_t g = 0; g < h->n_groups; g++)
            rm_csv_fixed(&c, w->group_min[g], 2);
        put_flag(&c, w->sessions_ok);
        put_flag(&c, w->daily_ok);
        put_flag(&c, w->groups_ok);
        rm_csv_text(&c, w->days_missed);
        rm_csv_text(&c, w->groups_missed);
        rm_csv_end_row(&c);
    }
    return rm_csv_failed(&c) ? -1 : 0;
}

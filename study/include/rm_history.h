/* rm_history.h - one athlete over weeks, from the study catalogue
 * (rm_catalogue.h): per ISO week the sessions, the minutes per day and per
 * muscle group, and whether the weekly plan of the coaching profile was
 * kept (docs/study.md gives every formula).
 *
 * Days and ISO weeks are those of the recordings' start times in UTC (the
 * files' `created`). A session's minutes are its rolling plus holding time
 * (what the daily total of a single analysis judges); a group's time in a
 * session is the summed length (end - start) of its sets, as set_s judges
 * a set. A recording copied twice into the study (same content identity)
 * counts once; recordings without an analysis are left out. */
#ifndef RM_HISTORY_H
#define RM_HISTORY_H

#include <stdio.h>

#include "rm_analysis.h"
#include "rm_catalogue.h"
#include "rm_status.h"

#define RM_HISTORY_MAX_GROUPS 16

typedef struct rm_history_week {
    char week[12];     /* ISO week, "2025-W10" */
    char monday[11];   /* its Monday, "2025-03-03" */
    int sessions;      /* recordings started in the week */
    int days;          /* days with at least one session */
    double minutes;    /* all sessions */
    double day_min[7]; /* Monday .. Sunday */
    double group_min[RM_HISTORY_MAX_GROUPS];
    /* 1 kept, 0 missed, -1 not judged (no band in the profile, or no
     * session that week for daily_ok and groups_ok) */
    int sessions_ok, daily_ok, groups_ok;
    char days_missed[256];   /* "2025-03-08 13.0 min; ..." */
    char groups_missed[256]; /* "hamstrings 2025-03-21 0.0 min; ..." */
    /* trends of each planned group's sets (NaN when no set that week) */
    double speed_cm_s[RM_HISTORY_MAX_GROUPS]; /* mean of the sets' mean speeds */
    double force_n[RM_HISTORY_MAX_GROUPS];    /* mean of the sets' mean roller forces */
    double hold_ok[RM_HISTORY_MAX_GROUPS];    /* share of judged sets whose holds were inside */
} rm_history_week;

typedef struct rm_history {
    char subject[64];
    size_t n_groups;
    char groups[RM_HISTORY_MAX_GROUPS][32];
    rm_band week_sessions, daily_s, group_s; /* copied from the profile */
    size_t n_weeks;                          /* first to last week, empty weeks included */
    rm_history_week *weeks;
    size_t n_sessions;
} rm_history;

/* Reads the subject's analysed recordings from the catalogue and builds
 * the weeks against `profile`'s weekly plan (week_sessions, daily_s,
 * group_s, groups). A subject without recordings is RM_ERR_NOT_FOUND with
 * a message naming the subjects the catalogue knows. *out is the caller's
 * (rm_history_free). */
rm_status rm_history_load(rm_catalogue *c, const char *subject, const rm_profile *profile,
                          rm_history **out, rm_err *err);
void rm_history_free(rm_history *h);

/* Writes the weekly CSV (rm_csv.h's rules; columns in docs/study.md).
 * Returns 0 or -1 (stdio error). */
int rm_history_csv(FILE *f, const rm_history *h);

#endif

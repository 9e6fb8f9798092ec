/* rm_report_history.h - the history page: one athlete over weeks (drawn
 * for `rollmat history -o`). The caller fills the plain model below (the
 * command builds it from study's rm_history; report cannot see study).
 *
 * One A4 portrait page: a calendar of the weeks (a row a week, a column a
 * day, each day coloured by its minutes of rolling on a scale whose band
 * is the profile's daily target, the minutes written in it, and the three
 * weekly targets marked at the end of the row), then the trend across the
 * weeks of each group's sets: mean speed, hold discipline (share of sets
 * whose holds were inside the band) and mean roller force. */
#ifndef RM_REPORT_HISTORY_H
#define RM_REPORT_HISTORY_H

#include <stddef.h>

#include "rm_report.h"
#include "rm_status.h"

#define RM_REPORT_HISTORY_GROUPS 16

typedef struct rm_report_history_week {
    char week[12];   /* "2025-W10" */
    char monday[11]; /* "2025-03-03" */
    double day_min[7];
    int sessions_ok, daily_ok, groups_ok;        /* 1, 0, -1 not judged */
    double speed_cm_s[RM_REPORT_HISTORY_GROUPS]; /* NaN: no set of the group */
    double hold_ok[RM_REPORT_HISTORY_GROUPS];    /* 0..1, NaN */
    double force_n[RM_REPORT_HISTORY_GROUPS];    /* NaN */
} rm_report_history_week;

/* Everything borrowed: it must outlive the call. */
typedef struct rm_report_history {
    const char *subject, *profile;
    double daily_lo_min, daily_hi_min; /* the daily band (<= 0: none) */
    double speed_lo, speed_hi;         /* the speed band (<= 0: none) */
    size_t n_groups;                   /* at most RM_REPORT_HISTORY_GROUPS */
    const char *const *groups;
    size_t n_weeks;
    const rm_report_history_week *weeks;
    const char *software;
} rm_report_history;

/* Draws the page into `path` (PDF, PNG or SVG by fmt; PNG at dpi, <= 0:
 * 110) through rm_safefile: the file appears whole or not at all. */
rm_status rm_report_history_write(const rm_report_history *h, const char *path,
                                  rm_report_format fmt, double dpi, rm_err *err);

#endif

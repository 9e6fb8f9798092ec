/* cmd_history.c - `rollmat history DIR --subject ID`: one athlete's weeks
 * from the study catalogue (rm_history.h) as a CSV. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_catalogue.h"
#include "rm_cli.h"
#include "rm_history.h"
#include "rm_report_history.h"
#include "rm_safefile.h"
#include "rm_version.h"

#define CMD "history"

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat history DIR --subject ID [-o REPORT.pdf|.png] [--csv WEEKS.csv]\n"
               "One athlete over ISO weeks, from the catalogue 'rollmat study DIR' keeps:\n"
               "sessions, minutes per day and per muscle group, and whether the profile's\n"
               "weekly plan was kept (sessions_ok, daily_ok, groups_ok; docs/study.md).\n"
               "  -s, --subject ID   the athlete (an unknown one lists the known ones)\n"
               "  -o, --output FILE  the history page (PDF, PNG or SVG by its name): a calendar\n"
               "                     of the weeks and the trends of each group's sets\n"
               "      --csv FILE     the weekly table (default: standard output unless -o)\n"
               "      --db FILE      the catalogue (default DIR/" RM_CATALOGUE_FILENAME ")\n"
               "  -p, --profile P    profile with the weekly plan (default guide)\n"
               "Exit status: 0 ok, 1 failure (no catalogue, unknown subject), 2 usage.\n");
}

typedef struct hist_opts {
    const char *dir, *db, *subject, *csv, *profile, *output;
} hist_opts;

static int parse(int argc, char **argv, hist_opts *o)
{
    enum { O_DB = 256, O_CSV };
    static const struct option opts[] = {
        {"subject", required_argument, NULL, 's'},
        {"csv", required_argument, NULL, O_CSV},
        {"db", required_argument, NULL, O_DB},
        {"profile", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (hist_opts){.profile = "guide"};
    int c;
    while ((c = getopt_long(argc, argv, "s:p:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->subject = optarg; break;
        case O_CSV: o->csv = optarg; break;
        case O_DB: o->db = optarg; break;
        case 'p': o->profile = optarg; break;
        case 'o': o->output = optarg; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no folder given (rollmat history DIR --subject ID)");
    if (argc - optind > 1)
        return rm_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    if (!o->subject)
        return rm_cli_usage_error(CMD, "--subject ID is required");
    o->dir = argv[optind];
    rm_report_format fmt;
    rm_err err = {0};
    if (o->output && rm_report_format_of(o->output, &fmt, &err))
        return rm_cli_usage_error(CMD, "%s", err.msg);
    return -1;
}

/* The page's model from the history (report cannot see study). */
static rm_status write_page(const rm_history *h, const rm_profile *p, const char *path, rm_err *err)
{
    rm_report_format fmt;
    rm_status st = rm_report_format_of(path, &fmt, err);
    if (st)
        return st;
    rm_report_history_week *w = calloc(h->n_weeks ? h->n_weeks : 1, sizeof *w);
    if (!w)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    const char *groups[RM_HISTORY_MAX_GROUPS];
    for (size_t g = 0; g < h->n_groups; g++)
        groups[g] = h->groups[g];
    for (size_t i = 0; i < h->n_weeks; i++) {
        const rm_history_week *s = &h->weeks[i];
        snprintf(w[i].week, sizeof w[i].week, "%s", s->week);
        snprintf(w[i].monday, sizeof w[i].monday, "%s", s->monday);
        memcpy(w[i].day_min, s->day_min, sizeof w[i].day_min);
        w[i].sessions_ok = s->sessions_ok;
        w[i].daily_ok = s->daily_ok;
        w[i].groups_ok = s->groups_ok;
        for (size_t g = 0; g < h->n_groups; g++) {
            w[i].speed_cm_s[g] = s->speed_cm_s[g];
            w[i].hold_ok[g] = s->hold_ok[g];
            w[i].force_n[g] = s->force_n[g];
        }
    }
    rm_report_history m = {
        .subject = h->subject,
        .profile = p->name,
        .daily_lo_min = p->daily_s.set ? p->daily_s.lo / 60 : 0,
        .daily_hi_min = p->daily_s.set ? p->daily_s.hi / 60 : 0,
        .speed_lo = p->speed_cm_s.set ? p->speed_cm_s.lo : 0,
        .speed_hi = p->speed_cm_s.set ? p->speed_cm_s.hi : 0,
        .n_groups = h->n_groups,
        .groups = groups,
        .n_weeks = h->n_weeks,
        .weeks = w,
        .software = RM_SOFTWARE,
    };
    st = rm_report_history_write(&m, path, fmt, 0, err);
    free(w);
    return st;
}

int rm_cmd_history(int argc, char **argv)
{
    hist_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rm_err err = {0};
    rm_profile prof;
    rm_status st = rm_profile_load(o.profile, &prof, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    char dbpath[PATH_MAX];
    if ((size_t)snprintf(dbpath, sizeof dbpath, "%s/%s", o.dir, RM_CATALOGUE_FILENAME) >=
        sizeof dbpath)
        return rm_cli_usage_error(CMD, "%s: path too long", o.dir);
    if (o.db)
        snprintf(dbpath, sizeof dbpath, "%s", o.db);
    rm_catalogue *cat = NULL;
    rm_history *h = NULL;
    if ((st = rm_catalogue_open_readonly(dbpath, &cat, &err)) ||
        (st = rm_history_load(cat, o.subject, &prof, &h, &err))) {
        rm_catalogue_close(cat);
        return rm_cli_fail(CMD, &err, st);
    }
    rm_catalogue_close(cat);
    if (o.output) {
        st = write_page(h, &prof, o.output, &err);
        rm_report_shutdown();
    }
    rm_safefile sf = {0};
    if (!st && (o.csv || !o.output))
        st = rm_safefile_open(o.csv ? o.csv : "-", &sf, &err);
    if (!st && sf.f && rm_history_csv(sf.f, h) != 0)
        st = rm_err_set(&err, RM_ERR_IO, "%s: write failed", o.csv ? o.csv : "stdout");
    if (!st && sf.f)
        st = rm_safefile_commit(&sf, &err);
    rm_safefile_abort(&sf);
    rm_history_free(h);
    return st ? rm_cli_fail(CMD, &err, st) : RM_EXIT_OK;
}

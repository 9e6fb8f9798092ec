/* cmd_history.c - `rollmat history DIR --subject ID`: one athlete's weeks
 * from the study catalogue (rm_history.h) as a CSV. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "rm_catalogue.h"
#include "rm_cli.h"
#include "rm_history.h"
#include "rm_safefile.h"

#define CMD "history"

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat history DIR --subject ID [--csv WEEKS.csv] [options]\n"
               "One athlete over ISO weeks, from the catalogue 'rollmat study DIR' keeps:\n"
               "sessions, minutes per day and per muscle group, and whether the profile's\n"
               "weekly plan was kept (sessions_ok, daily_ok, groups_ok; docs/study.md).\n"
               "  -s, --subject ID   the athlete (an unknown one lists the known ones)\n"
               "      --csv FILE     the weekly table (default: standard output)\n"
               "      --db FILE      the catalogue (default DIR/" RM_CATALOGUE_FILENAME ")\n"
               "  -p, --profile P    profile with the weekly plan (default guide)\n"
               "Exit status: 0 ok, 1 failure (no catalogue, unknown subject), 2 usage.\n");
}

typedef struct hist_opts {
    const char *dir, *db, *subject, *csv, *profile;
} hist_opts;

static int parse(int argc, char **argv, hist_opts *o)
{
    enum { O_DB = 256, O_CSV };
    static const struct option opts[] = {
        {"subject", required_argument, NULL, 's'}, {"csv", required_argument, NULL, O_CSV},
        {"db", required_argument, NULL, O_DB},     {"profile", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    *o = (hist_opts){.profile = "guide"};
    int c;
    while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->subject = optarg; break;
        case O_CSV: o->csv = optarg; break;
        case O_DB: o->db = optarg; break;
        case 'p': o->profile = optarg; break;
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
    return -1;
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
    rm_safefile sf = {0};
    st = rm_safefile_open(o.csv ? o.csv : "-", &sf, &err);
    if (!st && rm_history_csv(sf.f, h) != 0)
        st = rm_err_set(&err, RM_ERR_IO, "%s: write failed", o.csv ? o.csv : "stdout");
    if (!st)
        st = rm_safefile_commit(&sf, &err);
    rm_safefile_abort(&sf);
    rm_history_free(h);
    return st ? rm_cli_fail(CMD, &err, st) : RM_EXIT_OK;
}

/* cmd_reliability.c - `rollmat reliability`: test-retest reliability of
 * each metric of a long table (rm_reliability.h, docs/metrics.md ("Reliability")). */
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cli.h"
#include "rm_reliability.h"
#include "rm_safefile.h"

#define CMD "reliability"

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat reliability TABLE.csv [-o OUT.csv] [--sessions K]\n"
               "Test-retest reliability of every metric of a long table (columns subject,\n"
               "session, metric, value; `rollmat batch --long` writes one): ICC(1,1),\n"
               "ICC(2,1), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k) with 95 %% confidence\n"
               "intervals, SEM, MDC95, typical error, CV %%, smallest worthwhile change and\n"
               "the Koo & Li band of ICC(2,1); one row per metric.\n"
               "  -o, --output CSV     where to write (default: standard output)\n"
               "  -k, --sessions K     sessions per subject to use (default: the most common\n"
               "                       number); each subject's first K sessions in order\n"
               "  -q, --quiet          no notes on standard error, only errors\n"
               "  -h, --help           this help\n"
               "Subjects with fewer than K sessions of a metric are left out of it (listwise)\n"
               "and counted (columns dropped, extra; a note on standard error).\n");
}

/* The notes: what was left out, per metric. Returns how many metrics have
 * statistics. */
static size_t notes(const rm_long_table *t, const rm_reliability *r, size_t n, int quiet)
{
    size_t good = 0;
    if (t->n_unnamed && !quiet)
        fprintf(stderr, "rollmat reliability: %zu row%s without a subject or session left out\n",
                t->n_unnamed, t->n_unnamed == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const rm_reliability *o = &r[i];
        int ok = o->n >= 2 && o->k >= 2;
        good += ok;
        if (quiet)
            continue;
        if (o->dropped)
            fprintf(stderr,
                    "rollmat reliability: %s: %zu of %zu subjects left out (fewer than %zu "
                    "sessions, e.g. '%s')\n",
                    o->metric, o->dropped, o->subjects, o->k, o->first_dropped);
        if (o->extra)
            fprintf(stderr, "rollmat reliability: %s: %zu session%s after the %zu-th ignored\n",
                    o->metric, o->extra, o->extra == 1 ? "" : "s", o->k);
        if (!ok)
            fprintf(stderr,
                    "rollmat reliability: %s: %zu complete subject%s x %zu session%s; needs 2 x "
                    "2, statistics NA\n",
                    o->metric, o->n, o->n == 1 ? "" : "s", o->k, o->k == 1 ? "" : "s");
    }
    return good;
}

static int write_out(const char *output, const rm_reliability *r, size_t n)
{
    rm_err err = {0};
    rm_safefile sf = {0};
    rm_status st = rm_safefile_open(output, &sf, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    if (rm_reliability_csv(sf.f, r, n) != 0) {
        rm_safefile_abort(&sf);
        rm_cli_error(CMD, "%s: write error", output);
        return RM_EXIT_FAIL;
    }
    st = rm_safefile_commit(&sf, &err);
    return st ? rm_cli_fail(CMD, &err, st) : RM_EXIT_OK;
}

int rm_cmd_reliability(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"sessions", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = "-";
    long k = 0;
    int quiet = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:k:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'k':
            if (rm_cli_parse_long(optarg, 2, 100000, &k))
                return rm_cli_usage_error(CMD, "--sessions %s: expected 2..100000", optarg);
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no table given (TABLE.csv)");
    if (argc - optind > 1)
        return rm_cli_usage_error(CMD, "one table at a time (got %d)", argc - optind);
    const char *input = argv[optind];
    if (strcmp(output, "-") && rm_safefile_same(input, output)) {
        rm_cli_error(CMD, "%s: the output is the input table; refusing to overwrite it", output);
        return RM_EXIT_FAIL;
    }
    if (rm_cli_check_input(CMD, input))
        return RM_EXIT_FAIL;
    /* GSL's default handler aborts; the library never asks it anything
     * undefined, and this keeps it so */
    gsl_set_error_handler_off();
    rm_err err = {0};
    rm_long_table *t = NULL;
    rm_status st = rm_long_table_read(input, &t, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    rm_reliability *r = NULL;
    size_t n = 0;
    int rc = RM_EXIT_OK;
    st = rm_reliability_run(t, (size_t)k, &r, &n, &err);
    if (st) {
        rc = rm_cli_fail(CMD, &err, st);
    } else if (!notes(t, r, n, quiet)) {
        rm_cli_error(CMD, "%s: no metric has 2 subjects with %s sessions each; nothing written",
                     input, k ? "K" : "the same number of");
        rc = RM_EXIT_FAIL;
    } else {
        rc = write_out(output, r, n);
    }
    if (!rc && !quiet && strcmp(output, "-"))
        fprintf(stderr, "rollmat reliability: %zu metric%s -> %s\n", n, n == 1 ? "" : "s", output);
    free(r);
    rm_long_table_free(t);
    return rc;
}

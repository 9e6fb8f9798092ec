/* cmd_analyze.c - `rollmat analyze`: a recording in, the results file, the
 * JSON summary and a coach-readable summary out. The recording is only read. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_cli.h"
#include "rm_safefile.h"
#include "rm_results.h"

static const char *const CMD = "analyze";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rollmat analyze RECORDING.h5 [-o RESULTS.h5] [--profile NAME|FILE]\n"
            "                       [--labels a,b,...] [--body-mass KG] [--set OPTION=VALUE]...\n"
            "                       [--json] [--no-write]\n"
            "\n"
            "Analyses a recording (pressure distribution, roller tracking, pacing, spectra)\n"
            "and scores each set against a coaching profile. Writes RESULTS.h5 (default:\n"
            "RECORDING.results.h5 next to the recording) and its JSON summary (RESULTS.json),\n"
            "then prints a summary a coach can read, or with --json the JSON summary.\n"
            "\n"
            "  -o, --output FILE     results file to write (replaced if it exists)\n"
            "  -p, --profile P       coaching profile: guide (default), behm2020, or a file\n"
            "  -l, --labels LIST     names of the sets in order (overrides label events)\n"
            "  -m, --body-mass KG    subject's body mass (default: from the recording)\n"
            "  -s, --set OPT=VALUE   analysis option (docs/metrics.md), one of:\n"
            "                        ");
    for (size_t i = 0; rm_analysis_config_name(i); i++)
        fprintf(f, "%s%s", rm_analysis_config_name(i),
                (i % 4 == 3 && rm_analysis_config_name(i + 1)) ? "\n                        "
                                                               : " ");
    fprintf(f, "\n  -j, --json            print the JSON summary instead of the text\n"
               "  -n, --no-write        write no files, only print\n"
               "  -h, --help            this text\n");
}

/* RECORDING.h5 -> RECORDING.results.h5; RESULTS.h5 -> RESULTS.json */
static char *with_suffix(const char *path, const char *strip, const char *add)
{
    size_t n = strlen(path), sl = strlen(strip);
    if (n > sl && !strcmp(path + n - sl, strip))
        n -= sl;
    char *o = malloc(n + strlen(add) + 1);
    if (!o)
        return NULL;
    memcpy(o, path, n);
    strcpy(o + n, add);
    return o;
}

int rm_cmd_analyze(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"profile", required_argument, NULL, 'p'},
        {"labels", required_argument, NULL, 'l'},
        {"body-mass", required_argument, NULL, 'm'},
        {"set", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"no-write", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *profile_name = "guide", *labels = NULL;
    int json = 0, nowrite = 0;
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    rm_err e = {0};
    int c;
    while ((c = getopt_long(argc, argv, "o:p:l:m:s:jnh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'p': profile_name = optarg; break;
        case 'l':
            if (!*optarg)
                return rm_cli_usage_error(CMD, "--labels: empty list");
            labels = optarg;
            break;
        case 'm':
            if (rm_cli_parse_double(optarg, 1, 500, &cfg.body_mass_kg))
                return rm_cli_usage_error(CMD, "--body-mass \"%s\": expected kilograms, 1..500",
                                          optarg);
            break;
        case 's': {
            char name[64];
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof name)
                return rm_cli_usage_error(CMD, "--set \"%s\": expected OPTION=VALUE", optarg);
            memcpy(name, optarg, (size_t)(eq - optarg));
            name[eq - optarg] = 0;
            if (rm_analysis_config_set(&cfg, name, eq + 1, &e) != RM_OK)
                return rm_cli_usage_error(CMD, "--set: %s", e.msg);
            break;
        }
        case 'j': json = 1; break;
        case 'n': nowrite = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no recording given");
    if (optind + 1 < argc)
        return rm_cli_usage_error(CMD, "one recording at a time (got \"%s\" too)",
                                  argv[optind + 1]);
    const char *rec = argv[optind];
    if (rm_cli_check_input(CMD, rec))
        return RM_EXIT_FAIL;
    cfg.labels = labels;

    rm_profile prof;
    rm_status st = rm_profile_load(profile_name, &prof, &e);
    if (st != RM_OK)
        return rm_cli_fail(CMD, &e, st);

    char *out_path = NULL, *json_path = NULL;
    if (!nowrite) {
        out_path = output ? strdup(output) : with_suffix(rec, ".h5", ".results.h5");
        json_path = out_path ? with_suffix(out_path, ".h5", ".json") : NULL;
        if (!out_path || !json_path) {
            free(out_path);
            free(json_path);
            rm_cli_error(CMD, "out of memory");
            return RM_EXIT_FAIL;
        }
        /* by identity, not spelling: ./a.h5, $PWD/a.h5, sub/../a.h5, links */
        const char *clash = rm_safefile_same(out_path, rec)    ? out_path
                            : rm_safefile_same(json_path, rec) ? json_path
                                                               : NULL;
        if (clash) {
            rm_cli_usage_error(CMD, "%s is the recording %s itself; refusing to overwrite it",
                               clash, rec);
            free(out_path);
            free(json_path);
            return RM_EXIT_USAGE;
        }
    }

    rm_results *r = NULL;
    st = rm_analyze_session(rec, &cfg, &prof, &r, &e);
    int rc = RM_EXIT_OK;
    if (st != RM_OK) {
        rc = rm_cli_fail(CMD, &e, st);
        goto done;
    }
    if (labels) {
        /* positional names that do not match the sets found are likely
         * shifted: say so rather than label quietly */
        size_t names = 1;
        for (const char *q = labels; *q; q++)
            names += *q == ',';
        if (names != r->n_segments)
            fprintf(stderr, "rollmat %s: warning: --labels names %zu sets but %zu were found\n",
                    CMD, names, r->n_segments);
    }
    if (!nowrite) {
        st = rm_results_write(out_path, r, &e);
        if (st == RM_OK)
            st = rm_results_write_json(json_path, r, &e);
        if (st != RM_OK) {
            rc = rm_cli_fail(CMD, &e, st);
            goto done;
        }
    }
    if (json) {
        char *s = NULL;
        st = rm_results_json(r, &s, &e);
        if (st != RM_OK) {
            rc = rm_cli_fail(CMD, &e, st);
            goto done;
        }
        printf("%s\n", s);
        free(s);
    } else {
        char *txt = rm_results_coach_text(r);
        if (!txt) {
            rm_cli_error(CMD, "out of memory");
            rc = RM_EXIT_FAIL;
            goto done;
        }
        fputs(txt, stdout);
        if (!nowrite)
            printf("results: %s (summary %s)\n", out_path, json_path);
        free(txt);
    }
    if (fflush(stdout) != 0) {
        rm_cli_error(CMD, "cannot write to standard output");
        rc = RM_EXIT_FAIL;
    }
done:
    rm_results_free(r);
    free(out_path);
    free(json_path);
    return rc;
}

/* cmd_report.c - `rollmat report`: draws the report of an analysis (a
 * results file, or a recording analysed in memory first). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_batch.h"
#include "rm_cli.h"
#include "rm_report.h"
#include "rm_safefile.h"

#define CMD "report"

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat report RESULTS.h5|RECORDING.h5 [options]\n"
               "Draws the report of an analysis: an overview (roller position with passes,\n"
               "holds and sets; speed against the target band; force), a summary table\n"
               "with each target in a coach's words, and a page per set with its\n"
               "mean-pressure map. A recording is analysed first (in memory).\n"
               "  -o, --output FILE   report.pdf (every page), .png or .svg (one page);\n"
               "                      default: beside the input, NAME.pdf\n"
               "  -p, --profile P     coaching profile (name or file): analyse a recording\n"
               "                      with it, or judge a results file again against it\n"
               "                      (default: the recording's analysis profile, or guide)\n"
               "      --page N        only page N (1-based); PNG/SVG default to page 1\n"
               "      --dpi D         PNG resolution (default 110; 216 with --summary)\n"
               "      --format F      pdf, png or svg (default: from the output's name)\n"
               "      --summary       the summary alone (who, lights per set, verdict,\n"
               "                      actions) on a phone-sized page: 1080 x 1920 pixels\n"
               "                      as PNG; default output NAME-summary.png\n"
               "  -q, --quiet         print nothing on success\n"
               "  -h, --help          this help\n");
}

static char *default_output(const char *in, const char *suffix)
{
    size_t n = strlen(in);
    char *o = malloc(n + strlen(suffix) + 1);
    if (!o)
        return NULL;
    memcpy(o, in, n + 1);
    static const char *const ext[] = {".results.h5", ".h5", ".hdf5", ".nc"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t el = strlen(ext[i]);
        if (n > el && !strcmp(o + n - el, ext[i])) {
            o[n - el] = 0;
            break;
        }
    }
    strcat(o, suffix);
    return o;
}

int rm_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"profile", required_argument, NULL, 'p'},
        {"page", required_argument, NULL, 'P'},
        {"dpi", required_argument, NULL, 'D'},
        {"format", required_argument, NULL, 'F'},
        {"summary", no_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *profile_name = NULL;
    long page = 0;
    double dpi = 0;
    int quiet = 0, summary = 0, c;
    const char *format = NULL;
    while ((c = getopt_long(argc, argv, "o:p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'p': profile_name = optarg; break;
        case 'P':
            if (rm_cli_parse_long(optarg, 1, 100000, &page))
                return rm_cli_usage_error(CMD, "--page %s: expected a page number from 1", optarg);
            break;
        case 'D':
            if (rm_cli_parse_double(optarg, 10, 1200, &dpi))
                return rm_cli_usage_error(CMD, "--dpi %s: expected 10..1200", optarg);
            break;
        case 'F':
            if (strcmp(optarg, "pdf") && strcmp(optarg, "png") && strcmp(optarg, "svg"))
                return rm_cli_usage_error(CMD, "--format %s: expected pdf, png or svg", optarg);
            format = optarg;
            break;
        case 'S': summary = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no results file or recording given");
    if (optind + 1 < argc)
        return rm_cli_usage_error(CMD, "one input only (got '%s' too)", argv[optind + 1]);
    const char *input = argv[optind];
    if (rm_cli_check_input(CMD, input))
        return RM_EXIT_FAIL;
    char *out_alloc = NULL;
    if (summary && page > 1)
        return rm_cli_usage_error(CMD, "--summary is one page: --page %ld", page);
    if (!output) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "%s.%s", summary ? "-summary" : "",
                 format    ? format
                 : summary ? "png"
                           : "pdf");
        out_alloc = default_output(input, suffix);
        if (!out_alloc) {
            rm_cli_error(CMD, "out of memory");
            return RM_EXIT_FAIL;
        }
        output = out_alloc;
    }
    if (rm_safefile_same(output, input)) {
        rm_cli_usage_error(CMD, "%s is the input %s itself; refusing to overwrite it", output,
                           input);
        free(out_alloc);
        return RM_EXIT_USAGE;
    }
    rm_err err = {0};
    rm_report_format fmt;
    rm_status st = RM_OK;
    if (format) /* the option wins over the name (a FIFO, "-", a name without one) */
        fmt = !strcmp(format, "pdf")   ? RM_REPORT_PDF
              : !strcmp(format, "png") ? RM_REPORT_PNG
                                       : RM_REPORT_SVG;
    else
        st = rm_report_format_of(output, &fmt, &err);
    if (st) {
        free(out_alloc);
        return rm_cli_usage_error(CMD, "%s", err.msg);
    }
    if (!(dpi > 0))
        dpi = summary ? RM_REPORT_PHONE_DPI : 110;
    rm_profile prof;
    int have_prof = 0;
    if (profile_name) {
        st = rm_profile_load(profile_name, &prof, &err);
        if (st) {
            free(out_alloc);
            return rm_cli_fail(CMD, &err, st);
        }
        have_prof = 1;
    }
    rm_file_kind kind;
    st = rm_file_kind_of(input, &kind, &err);
    rm_results *r = NULL;
    if (!st && kind == RM_FILE_RESULTS) {
        st = rm_results_open(input, &r, &err);
        if (!st && have_prof && strcmp(prof.name, r->profile) != 0) {
            rm_report_rescore(r, &prof);
            snprintf(r->profile, sizeof r->profile, "%s", prof.name);
        }
        if (!st && !have_prof) {
            /* the band drawn is the one the analysis judged against */
            rm_err e2 = {0};
            have_prof = rm_profile_load(r->profile, &prof, &e2) == RM_OK;
        }
    } else if (!st) {
        if (!have_prof) {
            st = rm_profile_load("guide", &prof, &err);
            have_prof = st == RM_OK;
        }
        if (!st)
            st = rm_analyze_session(input, NULL, &prof, &r, &err);
    }
    rm_report *rep = NULL;
    if (!st)
        st = summary ? rm_report_build_summary(r, have_prof ? &prof : NULL, &rep, &err)
                     : rm_report_build(r, have_prof ? &prof : NULL, &rep, &err);
    if (!st && page > (long)rep->n_pages) {
        rm_cli_error(CMD, "--page %ld: the report has %zu pages", page, rep->n_pages);
        rm_report_free(rep);
        rm_results_free(r);
        free(out_alloc);
        return RM_EXIT_USAGE;
    }
    if (!st)
        st = rm_report_write(rep, output, fmt, (int)page - 1, dpi, &err);
    if (!st && !quiet) {
        size_t pages = fmt == RM_REPORT_PDF && page == 0 ? rep->n_pages : 1;
        printf("report: %s (%zu page%s, %zu set%s)\n", output, pages, pages == 1 ? "" : "s",
               r->n_segments, r->n_segments == 1 ? "" : "s");
    }
    rm_report_free(rep);
    rm_results_free(r);
    free(out_alloc);
    rm_report_shutdown();
    if (st)
        return rm_cli_fail(CMD, &err, st);
    return RM_EXIT_OK;
}

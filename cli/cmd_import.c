/* rollmat import: another system's export -> a session file. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rm_cli.h"
#include "rm_import.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat import FILE -o OUT.h5 [--format F] [--rate HZ] [--pitch MM]\n"
                 "                      [--row-pitch MM] [--col-pitch MM] [--quiet]\n"
                 "Converts a pressure export to a recording (pressure stored in kPa through an\n"
                 "identity calibration recorded as such). The format is detected from the\n"
                 "content; --format overrides it:\n");
    /* the importer table is the one list of formats */
    for (size_t i = 0; i < rm_import_format_count(); i++) {
        rm_import_format f = rm_import_format_at(i);
        fprintf(out, "  %-12s %s\n", rm_import_format_name(f), rm_import_format_description(f));
    }
    fprintf(out, "options:\n"
                 "  -o, --output OUT.h5  the recording to create (never overwritten)\n"
                 "  -f, --format F       the export's format (default: detect)\n"
                 "  --rate HZ            frame rate when the export has none or it is wrong\n"
                 "  --pitch MM           sensel pitch in both directions (mm)\n"
                 "  --row-pitch MM, --col-pitch MM  the pitch per direction\n"
                 "  -q, --quiet          print nothing on success\n"
                 "  -h, --help           this help\n");
}

int rm_cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"rate", required_argument, NULL, 'r'},
        {"pitch", required_argument, NULL, 'p'},
        {"row-pitch", required_argument, NULL, 'R'},
        {"col-pitch", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    rm_import_format fmt = RM_IMPORT_UNKNOWN;
    rm_import_options io;
    memset(&io, 0, sizeof io);
    int quiet = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f':
            if (rm_import_format_parse(optarg, &fmt) != RM_OK) {
                char names[256];
                rm_import_format_list(names, sizeof names);
                return rm_cli_usage_error("import", "unknown format '%s' (%s)", optarg, names);
            }
            break;
        case 'r':
            if (rm_cli_parse_double(optarg, 1e-6, 1e6, &io.rate_hz) != 0)
                return rm_cli_usage_error("import", "--rate '%s' must be a rate in Hz (0..1e6]",
                                          optarg);
            break;
        case 'p':
        case 'R':
        case 'C': {
            double mm;
            if (rm_cli_parse_double(optarg, 1e-6, 1e4, &mm) != 0)
                return rm_cli_usage_error("import", "--%s '%s' must be a pitch in mm (0..1e4]",
                                          c == 'p'   ? "pitch"
                                          : c == 'R' ? "row-pitch"
                                                     : "col-pitch",
                                          optarg);
            if (c != 'C')
                io.row_pitch_mm = mm;
            if (c != 'R')
                io.col_pitch_mm = mm;
            break;
        }
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        case ':':
            return rm_cli_usage_error("import", "option '%s' needs a value", argv[optind - 1]);
        default: return rm_cli_usage_error("import", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error("import", "no input file");
    if (optind + 1 < argc)
        return rm_cli_usage_error("import", "one input file at a time (got '%s' too)",
                                  argv[optind + 1]);
    if (!out)
        return rm_cli_usage_error("import", "no output: give -o OUT.h5");
    const char *in = argv[optind];
    if (rm_cli_check_input("import", in))
        return RM_EXIT_FAIL;
    if (access(out, F_OK) == 0) {
        rm_cli_error("import", "%s: already exists (not overwritten)", out);
        return RM_EXIT_FAIL;
    }
    rm_err err = {0};
    rm_import_result *r = NULL;
    rm_status st = rm_import_to_session_ex(in, out, fmt, &io, &r, &err);
    if (st != RM_OK)
        return rm_cli_fail("import", &err, st);
    if (!quiet) {
        size_t per = (size_t)r->device.rows * r->device.cols, real = 0;
        for (size_t i = 0; i < per; i++)
            real += r->mask[i];
        double dur = r->n_frames ? r->time_s[r->n_frames - 1] : 0;
        printf("imported %s as %s: %zu frames, %u x %u sensels (%zu real), pitch %g x %g mm, "
               "%g Hz, %.3f s\n",
               in, rm_import_format_name(r->format), r->n_frames, r->device.rows, r->device.cols,
               real, r->device.row_pitch_mm, r->device.col_pitch_mm, r->device.rate_hz, dur);
        if (r->calibrated)
            printf("units %s, peak %.6g kPa, stored at %.6g kPa per count; %zu reference series\n",
                   r->units, r->max_kpa, r->scale_kpa, r->n_refs);
        else
            printf("units raw (uncalibrated, stored as if kPa), peak %.6g raw, %.6g raw per count; "
                   "%zu reference series\n",
                   r->max_kpa, r->scale_units, r->n_refs);
        printf("wrote %s\n", out);
    }
    rm_import_result_free(r);
    return RM_EXIT_OK;
}

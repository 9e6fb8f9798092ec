/* cmd_simulate.c - `rollmat simulate`: runs the virtual mat over a scenario
 * and writes its byte stream, ground truth and (through the stream decoder
 * and the session writer, the same path as a recording) an HDF5 session. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_cli.h"
#include "rm_safefile.h"
#include "rm_decoder.h"
#include "rm_session.h"
#include "rm_vmat.h"

#define CMD "simulate"

/* One planned session of --weeks: day of the week (0 = the start day),
 * minute of the day (UTC) and its length as a share of the scenario. */
typedef struct sim_week_session {
    int day, minute;
    double scale;
} sim_week_session;

/* The plan of week w (docs/study.md, "Simulated weeks"): four sessions
 * (days 0, 2, 4, 5 at 07:30) in a 4-week cycle where the first week adds
 * an evening session on day 5 (two recordings that day), the second
 * misses days 2 and 5, the third has a short session (0.4 of the
 * scenario) on day 4. Returns the number written into out (cap). */
static size_t sim_week_plan(int w, sim_week_session *out, size_t cap)
{
    static const int days[] = {0, 2, 4, 5};
    size_t n = 0;
    for (size_t i = 0; i < 4 && n < cap; i++) {
        int d = days[i];
        if (w % 4 == 1 && (d == 2 || d == 5))
            continue;
        out[n++] = (sim_week_session){d, 7 * 60 + 30, w % 4 == 2 && d == 4 ? 0.4 : 1.0};
        if (w % 4 == 0 && d == 5 && n < cap)
            out[n++] = (sim_week_session){d, 18 * 60, 1.0};
    }
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat simulate --scenario FILE|NAME [options]\n"
               "Runs the virtual RM-1 mat (reference device model) over a scenario.\n"
               "  -s, --scenario FILE|NAME  scenario file, or a shipped name: guide, rushed,\n"
               "                            behm2020, faulty (dir: $ROLLMAT_SCENARIO_DIR)\n"
               "      --seed N              noise, body and fault seed (default 1)\n"
               "  -r, --rate HZ             frame rate 10..1000 (default: the scenario's)\n"
               "      --stream OUT.bin      write the device's byte stream (RM-1 frames)\n"
               "      --truth OUT.json      write the ground truth (series, strokes, holds)\n"
               "  -o, --output OUT.h5       write an HDF5 session (decoded from the stream)\n"
               "      --fault LIST          replace the scenario's faults, e.g.\n"
               "                            corrupt=0.01,truncate=0.005,garbage=0.01,drop=0.002\n"
               "                            (kinds not named are 0; 'none' for no faults)\n"
               "      --time-scale F        shorten (F < 1) or stretch every phase (default 1)\n"
               "      --subject ID          the recording's subject id (default: the scenario's)\n"
               "      --weeks N             write N weeks of sessions for one athlete into the\n"
               "                            folder -o DIR (DIR/ID-2025-03-03T0730.h5 ...;\n"
               "                            plan: docs/study.md); --start YYYY-MM-DD (default\n"
               "                            2025-03-03) is the first day\n"
               "  -q, --quiet               no summary\n"
               "  -h, --help                this help\n"
               "The same scenario, seed and rate always give the same bytes.\n");
}

static int parse_faults(const char *s, rm_vmat_faults *f)
{
    memset(f, 0, sizeof *f);
    if (!strcmp(s, "none"))
        return 0;
    char *copy = strdup(s);
    if (!copy)
        return -1;
    int bad = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && !bad; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        double v;
        if (!eq || rm_cli_parse_double(eq + 1, 0, 0.5, &v)) {
            bad = 1;
            break;
        }
        *eq = '\0';
        if (!strcmp(tok, "corrupt"))
            f->corrupt_rate = v;
        else if (!strcmp(tok, "truncate"))
            f->truncate_rate = v;
        else if (!strcmp(tok, "garbage"))
            f->garbage_rate = v;
        else if (!strcmp(tok, "drop"))
            f->drop_rate = v;
        else
            bad = 1;
    }
    free(copy);
    return bad ? -1 : 0;
}

typedef struct outputs {
    rm_safefile stream; /* --stream: closed ({0}) when not asked for */
    rm_decoder *dec;
    rm_sink sink;
    int sink_open;
} outputs;

/* `keep`: the run succeeded, so the stream replaces the file at its path;
 * otherwise it is dropped and an existing file stays as it was. */
static rm_status close_stream(outputs *o, int keep, rm_err *err)
{
    if (!o->stream.f)
        return RM_OK;
    if (keep)
        return rm_safefile_commit(&o->stream, err);
    rm_safefile_abort(&o->stream);
    return RM_OK;
}

/* created_unix: the recording's start (0: now); subject: NULL for the
 * scenario's. */
static rm_status open_session(const char *path, rm_vmat *vm, double created_unix,
                              const char *subject, outputs *o, rm_err *err)
{
    rm_status st = rm_session_sink_new(path, NULL, &o->sink, err);
    if (st)
        return st;
    o->sink_open = 1;
    rm_header hdr;
    rm_device dev;
    rm_vmat_header(vm, &hdr);
    rm_vmat_device(vm, &dev);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    hdr.created_unix = created_unix > 0 ? created_unix : (double)now.tv_sec;
    if (subject)
        snprintf(hdr.subject_id, sizeof hdr.subject_id, "%s", subject);
    rm_format_iso8601(hdr.created_unix, hdr.created, sizeof hdr.created);
    if ((st = rm_sink_send(&o->sink, RM_PKT_HEADER, &hdr, err)) ||
        (st = rm_sink_send(&o->sink, RM_PKT_DEVICE, &dev, err)) ||
        (st = rm_sink_send(&o->sink, RM_PKT_CALIB, rm_vmat_calib(vm), err)))
        return st;
    rm_decoder_config dc = {.sink = &o->sink, .rows = dev.rows, .cols = dev.cols};
    return rm_decoder_new(&dc, &o->dec, err);
}

static rm_status close_session(outputs *o, rm_status why, rm_err *err)
{
    rm_status st = why;
    rm_err e2 = {0};
    if (o->dec) {
        if (!st)
            st = rm_decoder_finish(o->dec, err);
        rm_decoder_stats ds;
        rm_decoder_get_stats(o->dec, &ds);
        rm_end end = {0};
        rm_decoder_stats_to_end(&ds, &end);
        end.status = st;
        rm_status s2 = rm_sink_send(&o->sink, RM_PKT_END, &end, st ? &e2 : err);
        if (!st)
            st = s2;
        rm_decoder_free(o->dec);
        o->dec = NULL;
    }
    if (o->sink_open) {
        rm_status s3 = o->sink.finish(o->sink.ctx, st ? &e2 : err);
        if (!st)
            st = s3;
        o->sink_open = 0;
    }
    return st;
}

/* What the command line asked for. The strings are borrowed from argv. */
typedef struct sim_options {
    rm_vmat_config cfg;
    const char *stream_path, *truth_path, *out_path;
    const char *subject, *start; /* --subject, --start */
    long weeks;                  /* --weeks: 0 = one recording */
    int quiet;
} sim_options;

/* Parses the command line into *o. Returns -1 to go on, else the exit
 * status (help printed, or a usage error reported). */
static int parse_options(int argc, char **argv, sim_options *o)
{
    static const struct option opts[] = {{"scenario", required_argument, NULL, 's'},
                                         {"seed", required_argument, NULL, 'S'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"stream", required_argument, NULL, 'b'},
                                         {"truth", required_argument, NULL, 't'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"fault", required_argument, NULL, 'f'},
                                         {"time-scale", required_argument, NULL, 'T'},
                                         {"subject", required_argument, NULL, 'U'},
                                         {"weeks", required_argument, NULL, 'W'},
                                         {"start", required_argument, NULL, 'D'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->cfg.seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "s:r:o:qh", opts, NULL)) != -1) {
        long l;
        double d;
        switch (c) {
        case 's': o->cfg.scenario = optarg; break;
        case 'S':
            if (rm_cli_parse_long(optarg, 0, 0x7FFFFFFFFFFFFFFFL, &l))
                return rm_cli_usage_error(CMD, "--seed '%s': expected a whole number >= 0", optarg);
            o->cfg.seed = (uint64_t)l;
            break;
        case 'r':
            if (rm_cli_parse_double(optarg, 10, 1000, &d) || d != (double)(long)d)
                return rm_cli_usage_error(
                    CMD, "--rate '%s': expected a whole number of Hz in 10..1000", optarg);
            o->cfg.rate_hz = d;
            break;
        case 'b': o->stream_path = optarg; break;
        case 't': o->truth_path = optarg; break;
        case 'o': o->out_path = optarg; break;
        case 'f':
            if (parse_faults(optarg, &o->cfg.faults))
                return rm_cli_usage_error(CMD,
                                          "--fault '%s': expected KIND=RATE[,...] with KIND "
                                          "corrupt, truncate, garbage or drop and RATE in 0..0.5",
                                          optarg);
            o->cfg.fault_override = 1;
            break;
        case 'T':
            if (rm_cli_parse_double(optarg, 0.001, 100, &d))
                return rm_cli_usage_error(CMD, "--time-scale '%s': expected a number in 0.001..100",
                                          optarg);
            o->cfg.time_scale = d;
            break;
        case 'U':
            if (!*optarg || strlen(optarg) >= sizeof ((rm_header *)0)->subject_id ||
                strpbrk(optarg, "/\\ \t\n"))
                return rm_cli_usage_error(CMD,
                                          "--subject '%s': expected 1-63 characters without "
                                          "spaces or slashes",
                                          optarg);
            o->subject = optarg;
            break;
        case 'W':
            if (rm_cli_parse_long(optarg, 1, 520, &o->weeks))
                return rm_cli_usage_error(CMD, "--weeks '%s': expected 1..520", optarg);
            break;
        case 'D': o->start = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (o->weeks && !o->cfg.scenario)
        o->cfg.scenario = "guide";
    if (o->weeks && (!o->out_path || !o->subject || o->stream_path || o->truth_path))
        return rm_cli_usage_error(CMD, "--weeks needs --subject ID and -o DIR (and no --stream "
                                       "or --truth)");
    if (o->start && !o->weeks)
        return rm_cli_usage_error(CMD, "--start goes with --weeks");
    if (optind < argc)
        return rm_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->cfg.scenario)
        return rm_cli_usage_error(CMD, "--scenario is required");
    /* three outputs: no two may be one file (by identity, not spelling) */
    const char *outs[3] = {o->stream_path, o->truth_path, o->out_path};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (outs[i] && outs[j] && rm_safefile_same(outs[i], outs[j]))
                return rm_cli_usage_error(CMD, "%s and %s are the same file", outs[i], outs[j]);
    return -1;
}

/* An operator labels each set during the lift before it, as with
 * rollmatd: one label event per segment, in time order, sent once the
 * decoded stream has reached the middle of that lift. */
static rm_status send_due_labels(rm_vmat *vm, outputs *o, int *next_label, rm_err *err)
{
    rm_status st = RM_OK;
    while (!st && o->dec && *next_label < rm_vmat_segment_count(vm)) {
        int k = *next_label;
        double start_s, end_s, prev_end = 0;
        const char *group, *label = rm_vmat_segment(vm, k, &group, &start_s, &end_s);
        if (k > 0)
            rm_vmat_segment(vm, k - 1, NULL, NULL, &prev_end);
        double at = k > 0 ? (prev_end + start_s) / 2 : 0.0;
        if (k > 0 && rm_decoder_last_time(o->dec) < at)
            break;
        rm_event ev;
        memset(&ev, 0, sizeof ev);
        ev.time_s = at;
        snprintf(ev.kind, sizeof ev.kind, "%s", RM_EVENT_LABEL);
        snprintf(ev.text, sizeof ev.text, "%s", label ? label : group);
        st = rm_sink_send(&o->sink, RM_PKT_EVENT, &ev, err);
        (*next_label)++;
    }
    return st;
}

/* Runs the mat to its end: every byte to the stream file and the decoder
 * (which feeds the session writer). *bytes counts what the mat sent. */
static rm_status run_mat(rm_vmat *vm, const sim_options *opt, outputs *o, uint64_t *bytes,
                         rm_err *err)
{
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    rm_status st = RM_OK;
    int next_label = 0;
    while (!st) {
        st = send_due_labels(vm, o, &next_label, err);
        size_t n = st ? 0 : rm_vmat_read_stream(vm, buf, cap);
        if (n == 0)
            break;
        *bytes += n;
        if (o->stream.f && fwrite(buf, 1, n, o->stream.f) != n)
            st = rm_err_set(err, errno == ENOSPC ? RM_ERR_NO_SPACE : RM_ERR_IO,
                            "%s: write failed: %s", opt->stream_path, strerror(errno));
        if (!st && o->dec)
            st = rm_decoder_feed(o->dec, buf, n, err);
    }
    free(buf);
    return st;
}

static void print_summary(rm_vmat *vm, const sim_options *opt, uint64_t bytes)
{
    rm_vmat_counts k;
    rm_vmat_get_counts(vm, &k);
    rm_header hdr;
    rm_vmat_header(vm, &hdr);
    const rm_info *info = rm_vmat_info(vm);
    printf("scenario: %s (seed %llu)\n", hdr.title, (unsigned long long)opt->cfg.seed);
    printf("frames: %llu at %u Hz, %.1f s, %ux%u sensels, %llu bytes\n",
           (unsigned long long)k.frames_produced, info->rate_hz, rm_vmat_duration(vm), info->rows,
           info->cols, (unsigned long long)bytes);
    printf("segments: %d\n", rm_vmat_segment_count(vm));
    for (int i = 0; i < rm_vmat_segment_count(vm); i++) {
        const char *group;
        double a, b;
        const char *label = rm_vmat_segment(vm, i, &group, &a, &b);
        printf("  %d %-12s %7.1f .. %7.1f s (%.0f s)\n", i, label, a, b, b - a);
    }
    printf("faults injected: corrupt %llu, truncated %llu, dropped %llu, garbage %llu "
           "insertions (%llu bytes); sent intact %llu\n",
           (unsigned long long)k.frames_corrupt, (unsigned long long)k.frames_truncated,
           (unsigned long long)k.frames_dropped, (unsigned long long)k.garbage_insertions,
           (unsigned long long)k.garbage_bytes, (unsigned long long)k.frames_sent);
    if (opt->stream_path)
        printf("stream: %s\n", opt->stream_path);
    if (opt->truth_path)
        printf("truth: %s\n", opt->truth_path);
    if (opt->out_path)
        printf("session: %s\n", opt->out_path);
}

/* One recording of --weeks: the mat run into `path`, started at `start`. */
static rm_status simulate_one(const sim_options *opt, const char *path, double start,
                              double scale, uint64_t seed, rm_err *err)
{
    rm_vmat_config cfg = opt->cfg;
    cfg.time_scale = scale * (opt->cfg.time_scale > 0 ? opt->cfg.time_scale : 1);
    cfg.seed = seed;
    rm_vmat *vm = NULL;
    rm_status st = rm_vmat_new(&cfg, &vm, err);
    if (st)
        return st;
    outputs o;
    memset(&o, 0, sizeof o);
    st = open_session(path, vm, start, opt->subject, &o, err);
    uint64_t bytes = 0;
    if (!st)
        st = run_mat(vm, opt, &o, &bytes, err);
    rm_status st2 = close_session(&o, st, err);
    rm_vmat_free(vm);
    return st ? st : st2;
}

/* --weeks: the plan of docs/study.md ("Simulated weeks"), session by
 * session; each recording is a new file in the folder -o. */
static int simulate_weeks(const sim_options *opt)
{
    int y, m, d;
    char extra;
    const char *start = opt->start ? opt->start : "2025-03-03";
    if (sscanf(start, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || y < 1970 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return rm_cli_usage_error(CMD, "--start '%s': expected YYYY-MM-DD", start);
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t day0 = timegm(&tm);
    if (mkdir(opt->out_path, 0777) != 0 && errno != EEXIST) {
        rm_cli_error(CMD, "%s: cannot create the folder: %s", opt->out_path, strerror(errno));
        return RM_EXIT_FAIL;
    }
    /* every name first: an existing file stops the run before any is written */
    for (int pass = 0; pass < 2; pass++) {
        size_t n_files = 0;
        for (long w = 0; w < opt->weeks; w++) {
            sim_week_session plan[8];
            size_t n = sim_week_plan((int)w, plan, 8);
            for (size_t i = 0; i < n; i++) {
                time_t t = day0 + (time_t)(w * 7 + plan[i].day) * 86400 + plan[i].minute * 60;
                struct tm u;
                gmtime_r(&t, &u);
                char path[4096], stamp[32];
                strftime(stamp, sizeof stamp, "%Y-%m-%dT%H%M", &u);
                snprintf(path, sizeof path, "%s/%s-%s.h5", opt->out_path, opt->subject, stamp);
                if (pass == 0 && rm_cli_refuse_existing(CMD, path))
                    return RM_EXIT_FAIL;
                if (pass == 0)
                    continue;
                rm_err err = {0};
                rm_status st = simulate_one(opt, path, (double)t, plan[i].scale,
                                            opt->cfg.seed + (uint64_t)(w * 8 + (long)i), &err);
                if (st)
                    return rm_cli_fail(CMD, &err, st);
                n_files++;
                if (!opt->quiet)
                    printf("%s %s%s\n", path, plan[i].scale < 1 ? "short" : "full",
                           plan[i].minute >= 12 * 60 ? " (second of the day)" : "");
            }
        }
        if (pass == 1 && !opt->quiet)
            printf("%zu sessions over %ld week%s for %s in %s\n", n_files, opt->weeks,
                   opt->weeks == 1 ? "" : "s", opt->subject, opt->out_path);
    }
    return RM_EXIT_OK;
}

int rm_cmd_simulate(int argc, char **argv)
{
    sim_options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc >= 0)
        return rc;
    if (opt.weeks)
        return simulate_weeks(&opt);
    /* like -o (a recording is never replaced), the stream and the truth
     * are new files: refuse before the mat runs, not after */
    if ((opt.stream_path && rm_cli_refuse_existing(CMD, opt.stream_path)) ||
        (opt.truth_path && rm_cli_refuse_existing(CMD, opt.truth_path)) ||
        (opt.out_path && rm_cli_refuse_existing(CMD, opt.out_path)))
        return RM_EXIT_FAIL;
    rm_err err = {0};
    rm_vmat *vm = NULL;
    rm_status st = rm_vmat_new(&opt.cfg, &vm, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    if (opt.truth_path && (st = rm_vmat_write_truth(vm, opt.truth_path, &err))) {
        rm_vmat_free(vm);
        return rm_cli_fail(CMD, &err, st);
    }
    outputs o;
    memset(&o, 0, sizeof o);
    if (opt.stream_path && (st = rm_safefile_open(opt.stream_path, &o.stream, &err))) {
        rm_vmat_free(vm);
        return rm_cli_fail(CMD, &err, st);
    }
    if (opt.out_path)
        st = open_session(opt.out_path, vm, 0, opt.subject, &o, &err);
    uint64_t bytes = 0;
    if (!st)
        st = run_mat(vm, &opt, &o, &bytes, &err);
    rm_status st2 = close_session(&o, st, &err);
    if (!st)
        st = st2;
    st2 = close_stream(&o, st == RM_OK, &err);
    if (!st)
        st = st2;
    if (st) {
        rm_vmat_free(vm);
        return rm_cli_fail(CMD, &err, st);
    }
    if (!opt.quiet)
        print_summary(vm, &opt, bytes);
    rm_vmat_free(vm);
    return RM_EXIT_OK;
}

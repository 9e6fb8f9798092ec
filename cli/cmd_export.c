/* rollmat export FILE --frames|--events|--series|--strokes|--holds|--spots|
 * --sets [-o OUT.csv]: tidy CSV for R and pandas (the last five from a
 * results file). A file is written to a temporary name in the same folder,
 * fsynced and renamed, so a reader never sees half a CSV. Text and missing
 * values follow rm_csv.h (NA); --frames formats its integers by hand for
 * speed (only numbers, never missing: the same rules trivially). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_cli.h"
#include "rm_csv.h"
#include "rm_filekind.h"
#include "rm_safefile.h"
#include "rm_session.h"
#if __has_include("rm_results.h")
#include "rm_results.h"
#define HAVE_RESULTS 1
#endif

#define CMD "export"

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat export FILE (--frames [--wide] [--raw-only] | --events"
#ifdef HAVE_RESULTS
                 " | --series | --strokes | --holds | --spots | --sets"
#endif
                 ") [-o OUT.csv]\n"
                 "  --frames    one row per sensel and frame: frame,time_s,row,col,raw,kpa\n"
                 "  --wide      with --frames: one row per frame: frame,time_s,seq,flags,r0c0,...\n"
                 "              (raw counts; add --kpa for pressure in kPa instead)\n"
                 "  --kpa       with --wide: sensel columns in kPa\n"
                 "  --raw-only  with --frames (long): leave out the kpa column\n"
                 "  --events    one row per event: time_s,kind,value,text\n"
#ifdef HAVE_RESULTS
                 "  --series    FILE is a results file: one row per frame, its per-frame series\n"
                 "  --strokes   FILE is a results file: one row per stroke (one-way pass)\n"
                 "  --holds     FILE is a results file: one row per hold\n"
                 "  --spots     FILE is a results file: one row per massage-ball spot\n"
                 "  --sets      FILE is a results file: one row per set (segment)\n"
                 "              (every row starts with recording, subject, recorded; stroke,\n"
                 "              hold and spot rows name their set; NA: missing)\n"
#endif
                 "  -o OUT.csv  write there (temporary name, fsync, rename); default stdout\n");
}

/* Output: a buffered stream to a temp file (rm_safefile) or stdout. */
typedef struct out_file {
    FILE *f;
    rm_safefile sf; /* closed ({0}) for stdout */
} out_file;

static rm_status out_open(out_file *o, const char *path, rm_err *err)
{
    memset(o, 0, sizeof *o);
    if (!path) {
        o->f = stdout;
        return RM_OK;
    }
    rm_status st = rm_safefile_open(path, &o->sf, err);
    if (st != RM_OK)
        return st;
    o->f = o->sf.f;
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return RM_OK;
}

static void out_abort(out_file *o)
{
    rm_safefile_abort(&o->sf);
    o->f = NULL;
}

/* Flushes, fsyncs and renames into place (and fsyncs the folder). */
static rm_status out_commit(out_file *o, rm_err *err)
{
    if (o->f == stdout) {
        o->f = NULL;
        if (fflush(stdout) != 0)
            return rm_err_set(err, RM_ERR_IO, "stdout: cannot write (%s)", strerror(errno));
        return RM_OK;
    }
    o->f = NULL;
    return rm_safefile_commit(&o->sf, err);
}

/* Integers by hand: printf per value is the bottleneck of a long export. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_kpa(char *p, float v)
{
    if (v == 0.0f) {
        *p++ = '0';
        return p;
    }
    return p + snprintf(p, 32, "%.4g", (double)v);
}

/* What every row of one frame starts with: "frame,time_s,". */
typedef struct frame_head {
    char text[64];
    size_t len;
} frame_head;

static void frame_head_make(frame_head *h, uint64_t frame, double time_s)
{
    char *q = put_u64(h->text, frame);
    *q++ = ',';
    int n = snprintf(q, 40, "%.6f", time_s);
    q += n < 40 ? n : 39; /* a time of absurd size is cut, not overflowed */
    *q++ = ',';
    h->len = (size_t)(q - h->text);
}

/* --wide: one line for the frame, its sensels as raw counts or kPa. */
static void put_frame_wide(FILE *f, char *line, const frame_head *h, uint64_t seq, uint64_t flags,
                           const uint16_t *raw, const float *kpa, size_t px)
{
    char *p = line;
    memcpy(p, h->text, h->len);
    p += h->len;
    p = put_u64(p, seq);
    *p++ = ',';
    p = put_u64(p, flags);
    for (size_t i = 0; i < px; i++) {
        *p++ = ',';
        p = kpa ? put_kpa(p, kpa[i]) : put_u64(p, raw[i]);
    }
    *p++ = '\n';
    fwrite(line, 1, (size_t)(p - line), f);
}

/* The long format: a line per sensel, written a sensor row at a time. */
static void put_frame_long(FILE *f, char *line, const frame_head *h, const rm_device *d,
                           const uint16_t *raw, const float *kpa)
{
    size_t i = 0;
    for (unsigned r = 0; r < d->rows; r++) {
        char *p = line;
        for (unsigned c = 0; c < d->cols; c++, i++) {
            memcpy(p, h->text, h->len);
            p += h->len;
            p = put_u64(p, r);
            *p++ = ',';
            p = put_u64(p, c);
            *p++ = ',';
            p = put_u64(p, raw[i]);
            if (kpa) {
                *p++ = ',';
                p = put_kpa(p, kpa[i]);
            }
            *p++ = '\n';
        }
        fwrite(line, 1, (size_t)(p - line), f);
    }
}

static void put_frames_header(FILE *f, const rm_device *d, int wide, int with_kpa)
{
    if (!wide) {
        fputs(with_kpa ? "frame,time_s,row,col,raw,kpa\n" : "frame,time_s,row,col,raw\n", f);
        return;
    }
    fputs("frame,time_s,seq,flags", f);
    for (unsigned r = 0; r < d->rows; r++)
        for (unsigned c = 0; c < d->cols; c++)
            fprintf(f, ",r%uc%u", r, c);
    fputc('\n', f);
}

static int export_frames(rm_session *s, FILE *f, int wide, int kpa_wide, int with_kpa, rm_err *err,
                         rm_status *st)
{
    const rm_device *d = rm_session_device(s);
    size_t px = (size_t)d->rows * d->cols;
    float *kpa = malloc(px * sizeof *kpa);
    char *line = malloc(64 + px * 40);
    if (!kpa || !line) {
        free(kpa);
        free(line);
        *st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        return -1;
    }
    put_frames_header(f, d, wide, with_kpa);
    /* kPa for the frame when a column wants it; NULL: raw counts only */
    const float *kpa_out = (wide ? kpa_wide : with_kpa) ? kpa : NULL;
    rm_session_iter *it = NULL;
    *st = rm_session_iter_new(s, 0, 2, &it, err);
    while (*st == RM_OK) {
        rm_session_batch b;
        if ((*st = rm_session_iter_next(it, &b, err)) != RM_OK || b.n == 0)
            break;
        for (size_t k = 0; k < b.n; k++) {
            const uint16_t *raw = b.raw + k * px;
            frame_head h;
            frame_head_make(&h, b.first + k, b.time_s[k]);
            if (kpa_out)
                rm_session_pressure(s, raw, kpa);
            if (wide)
                put_frame_wide(f, line, &h, b.seq[k], b.flags[k], raw, kpa_out, px);
            else
                put_frame_long(f, line, &h, d, raw, kpa_out);
        }
        if (ferror(f))
            *st = rm_err_set(err, RM_ERR_IO, "cannot write the CSV: %s", strerror(errno));
    }
    rm_session_iter_free(it);
    free(kpa);
    free(line);
    return *st != RM_OK ? -1 : 0;
}

static int export_events(rm_session *s, FILE *f)
{
    static const char *const head[] = {"time_s", "kind", "value", "text"};
    rm_csv c;
    rm_csv_open(&c, f);
    rm_csv_header(&c, head, 4);
    for (size_t i = 0; i < rm_session_event_count(s); i++) {
        rm_event ev;
        rm_session_event(s, i, &ev);
        rm_csv_fixed(&c, ev.time_s, 6);
        rm_csv_text(&c, ev.kind);
        rm_csv_int(&c, (long long)ev.value);
        rm_csv_text(&c, ev.text);
        rm_csv_end_row(&c);
    }
    return rm_csv_failed(&c) ? -1 : 0;
}

#ifdef HAVE_RESULTS
/* The results-file exports want a results file: a recording given instead
 * gets the way to one, not a format error. */
static rm_status want_results(const char *path, const char *what, rm_err *err)
{
    rm_file_kind kind;
    rm_status st = rm_file_kind_of(path, &kind, err);
    if (st == RM_OK && kind == RM_FILE_RECORDING)
        return rm_err_set(err, RM_ERR_ARG,
                          "%s is a recording, not a results file: --%s reads an analysis; run "
                          "`rollmat analyze %s` first, then export its .results.h5",
                          path, what, path);
    return st;
}

/* A segment table (rm_results_table_csv). */
static int export_table(const char *path, rm_results_table t, FILE *f, rm_err *err, rm_status *st)
{
    rm_results *r = NULL;
    *st = want_results(path, rm_results_table_name(t), err);
    if (*st == RM_OK)
        *st = rm_results_open(path, &r, err);
    if (*st != RM_OK)
        return -1;
    int rc = rm_results_table_csv(f, r, t);
    rm_results_close(r);
    return rc;
}

static int export_series(const char *path, FILE *f, rm_err *err, rm_status *st)
{
    rm_results *r = NULL;
    *st = want_results(path, "series", err);
    if (*st == RM_OK)
        *st = rm_results_open(path, &r, err);
    if (*st != RM_OK)
        return -1;
    rm_csv c;
    rm_csv_open(&c, f);
    rm_csv_text(&c, "frame");
    for (int k = 0; k < RM_SERIES_COUNT; k++)
        rm_csv_text(&c, k == RM_SERIES_TIME ? "time_s" : rm_series_name((rm_series_id)k));
    if (r->state)
        rm_csv_text(&c, "state");
    rm_csv_end_row(&c);
    for (size_t i = 0; i < r->n_frames && !rm_csv_failed(&c); i++) {
        rm_csv_int(&c, (long long)i);
        for (int k = 0; k < RM_SERIES_COUNT; k++) /* NaN: NA, as in rollmat batch */
            rm_csv_number(&c, r->series[k] ? r->series[k][i] : NAN, 7);
        if (r->state)
            rm_csv_int(&c, r->state[i]);
        rm_csv_end_row(&c);
    }
    rm_results_close(r);
    return rm_csv_failed(&c) ? -1 : 0;
}
#endif

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int rm_cmd_export(int argc, char **argv)
{
    enum {
        O_FRAMES = 1,
        O_EVENTS,
        O_SERIES,
        O_STROKES,
        O_HOLDS,
        O_SPOTS,
        O_SETS,
        O_WIDE,
        O_KPA,
        O_RAWONLY
    };
    static const struct option opts[] = {
        {"frames", no_argument, NULL, O_FRAMES},
        {"events", no_argument, NULL, O_EVENTS},
        {"series", no_argument, NULL, O_SERIES},
        {"strokes", no_argument, NULL, O_STROKES},
        {"holds", no_argument, NULL, O_HOLDS},
        {"spots", no_argument, NULL, O_SPOTS},
        {"sets", no_argument, NULL, O_SETS},
        {"wide", no_argument, NULL, O_WIDE},
        {"kpa", no_argument, NULL, O_KPA},
        {"raw-only", no_argument, NULL, O_RAWONLY},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int what = 0, wide = 0, kpa = 0, raw_only = 0, c;
    const char *out = NULL;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_FRAMES:
        case O_EVENTS:
        case O_SERIES:
        case O_STROKES:
        case O_HOLDS:
        case O_SPOTS:
        case O_SETS:
            if (what && what != c)
                return rm_cli_usage_error(CMD, "choose one of --frames, --events, --series, "
                                               "--strokes, --holds, --spots, --sets");
            what = c;
            break;
        case O_WIDE: wide = 1; break;
        case O_KPA: kpa = 1; break;
        case O_RAWONLY: raw_only = 1; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        case ':': return rm_cli_usage_error(CMD, "option '%s' needs a value", argv[optind - 1]);
        default: return rm_cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!what)
        return rm_cli_usage_error(CMD, "say what to export: --frames, --events, --series, "
                                       "--strokes, --holds, --spots or --sets");
    /* from a results file, not a recording */
    const int from_results = what >= O_SERIES && what <= O_SETS;
#ifndef HAVE_RESULTS
    if (from_results)
        return rm_cli_usage_error(CMD, "this build reads no results files (--series, --strokes, "
                                       "--holds, --spots, --sets)");
#endif
    if ((wide || kpa || raw_only) && what != O_FRAMES)
        return rm_cli_usage_error(CMD, "--wide, --kpa and --raw-only go with --frames");
    if (kpa && !wide)
        return rm_cli_usage_error(CMD, "--kpa goes with --wide (the long format has both)");
    if (raw_only && wide)
        return rm_cli_usage_error(CMD, "--raw-only goes with the long format, not --wide");
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no input file given");
    if (optind + 1 < argc)
        return rm_cli_usage_error(CMD, "one file at a time ('%s' is extra)", argv[optind + 1]);
    if (out && !*out)
        return rm_cli_usage_error(CMD, "-o needs a file name");
    const char *in = argv[optind];
    if (out && same_file(in, out))
        return rm_cli_usage_error(CMD, "the output would overwrite the input %s", in);

    rm_err err = {0};
    rm_status st = RM_OK;
    rm_session *s = NULL;
    if (!from_results) {
        st = rm_session_open(in, &s, &err);
        if (st != RM_OK)
            return rm_cli_fail(CMD, &err, st);
    }
    out_file of;
    if ((st = out_open(&of, out, &err)) != RM_OK) {
        rm_session_close(s);
        return rm_cli_fail(CMD, &err, st);
    }
    int rc = 0;
    if (what == O_FRAMES)
        rc = export_frames(s, of.f, wide, kpa, !raw_only && !wide, &err, &st);
    else if (what == O_EVENTS)
        rc = export_events(s, of.f);
#ifdef HAVE_RESULTS
    else if (what == O_SERIES)
        rc = export_series(in, of.f, &err, &st);
    else
        rc = export_table(in,
                          what == O_STROKES ? RM_RESULTS_STROKES
                          : what == O_HOLDS ? RM_RESULTS_HOLDS
                          : what == O_SPOTS ? RM_RESULTS_SPOTS
                                            : RM_RESULTS_SETS,
                          of.f, &err, &st);
#endif
    rm_session_close(s);
    if (rc < 0) {
        int e = errno;
        out_abort(&of);
        if (st != RM_OK)
            return rm_cli_fail(CMD, &err, st);
        rm_cli_error(CMD, "%s: write failed (%s)", out ? out : "stdout", strerror(e));
        return RM_EXIT_FAIL;
    }
    if ((st = out_commit(&of, &err)) != RM_OK)
        return rm_cli_fail(CMD, &err, st);
    return RM_EXIT_OK;
}

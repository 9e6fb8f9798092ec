/* cmd_demo.c - `rollmat demo`: the whole pipeline on the built-in virtual
 * mat. Records a routine with the real recorder over emulated USB
 * (`rollmat vmat -- rollmat record`), analyses it, writes the results, the
 * JSON summary and the report, and prints the coach's summary. When the
 * emulated USB path is not available it says so and records with
 * `rollmat simulate` (the same device model, decoded the same way). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_analysis.h"
#include "rm_batch.h"
#include "rm_cli.h"
#include "rm_report.h"
#include "rm_safefile.h"
#include "rm_session.h"
#include "rm_vmat.h"

#define CMD "demo"

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat demo [-o DIR] [--scenario NAME|FILE] [--realtime] [--no-usb]\n"
               "Records a foam-rolling routine from the virtual mat with the real recorder\n"
               "over emulated USB, analyses it and draws the report:\n"
               "  DIR/recording.h5  the recording      DIR/results.h5   the analysis\n"
               "  DIR/summary.json  the summary        DIR/report.pdf   the report\n"
               "  -o, --output DIR     output folder (default rollmat-demo); an existing\n"
               "                       folder is reused only if it holds a previous demo\n"
               "  -s, --scenario S     guide (default: the coaching guide's routine, five\n"
               "                       muscle groups), rushed, behm2020, faulty, or a file\n"
               "  -p, --profile P      coaching profile (default: behm2020 for that\n"
               "                       scenario, else guide)\n"
               "      --realtime       at the mat's real pace (the guide takes ~8 minutes);\n"
               "                       default: accelerated, frames as fast as they are read\n"
               "      --no-usb         record with `rollmat simulate` (no emulated USB)\n"
               "      --seed N         the virtual mat's seed (default 1)\n"
               "      --time-scale F   shorten (<1) every phase of the scenario (tests)\n"
               "  -q, --quiet          only the file list\n"
               "  -h, --help           this help\n");
}

static const char *const demo_files[] = {"recording.h5", "results.h5", "summary.json",
                                         "report.pdf"};
#define N_DEMO_FILES (sizeof demo_files / sizeof demo_files[0])

/* The demo marks the folders it makes: only a folder with this marker is
 * "a previous demo's folder" whose files may be replaced. File names alone
 * prove nothing: a user's own recording.h5 must never be deleted. */
#define DEMO_MARKER ".rollmat-demo"

static int is_demo_file(const char *name)
{
    for (size_t i = 0; i < N_DEMO_FILES; i++)
        if (!strcmp(name, demo_files[i]))
            return 1;
    /* a temporary left by an interrupted write of one of them (rm_safefile) */
    for (size_t i = 0; i < N_DEMO_FILES; i++) {
        size_t n = strlen(demo_files[i]);
        if (!strncmp(name, demo_files[i], n) && !strncmp(name + n, ".tmp-", 5))
            return 1;
    }
    return 0;
}

static int write_marker(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/" DEMO_MARKER, dir);
    rm_err e = {0};
    static const char text[] = "This folder was made by `rollmat demo`; a later demo with -o this "
                               "folder replaces recording.h5, results.h5, summary.json and "
                               "report.pdf here.\n";
    if (rm_safefile_write(p, text, sizeof text - 1, &e) != RM_OK) {
        rm_cli_error(CMD, "%s", e.msg);
        return -1;
    }
    return 0;
}

/* Counts the folder's entries: the demo's own files, the marker, and the
 * first other name (in *first). Returns -1 if it cannot be read. */
static int survey_dir(const char *dir, int *previous, int *marked, int *foreign, char *first,
                      size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) {
        rm_cli_error(CMD, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    *previous = *marked = *foreign = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!strcmp(e->d_name, DEMO_MARKER))
            *marked = 1;
        else if (is_demo_file(e->d_name))
            (*previous)++;
        else if (!(*foreign)++)
            snprintf(first, cap, "%s", e->d_name);
    }
    closedir(d);
    return 0;
}

static int remove_previous_demo(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!is_demo_file(e->d_name))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0 && errno != ENOENT) {
            rm_cli_error(CMD, "%s: cannot remove: %s", p, strerror(errno));
            closedir(d);
            return -1;
        }
    }
    if (d)
        closedir(d);
    return 0;
}

/* 0: ready (created, empty, or a previous demo's files removed);
 * -1: refused or failed (message printed). */
static int prepare_dir(const char *dir, int quiet)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0755) != 0) {
            rm_cli_error(CMD, "%s: cannot create the folder: %s", dir, strerror(errno));
            return -1;
        }
        return write_marker(dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        rm_cli_error(CMD, "%s exists and is not a folder", dir);
        return -1;
    }
    int previous, marked, foreign;
    char first[256] = "";
    if (survey_dir(dir, &previous, &marked, &foreign, first, sizeof first) != 0)
        return -1;
    if (!marked && previous && !foreign)
        snprintf(first, sizeof first, "%s", "a recording.h5, report.pdf ... of its own");
    if (foreign || (previous && !marked)) {
        rm_cli_error(CMD,
                     "%s is not empty (it holds %s%s) and not a folder an earlier demo made "
                     "(no " DEMO_MARKER " in it): choose another with -o DIR",
                     dir, first, foreign > 1 ? " and more" : "");
        return -1;
    }
    if (previous) {
        if (!quiet)
            printf("%s holds a previous demo's files: replacing them\n", dir);
        if (remove_previous_demo(dir) != 0)
            return -1;
    }
    return marked ? 0 : write_marker(dir);
}

/* Runs argv, stdout/stderr inherited (stdout optionally silenced).
 * Returns the exit status, or -1 if it could not run / was killed. */
static int run(char *const *argv, int silence_stdout)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (silence_stdout) {
            FILE *n = freopen("/dev/null", "w", stdout);
            (void)n;
        }
        execv(argv[0], argv);
        fprintf(stderr, "rollmat demo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* The muscle groups of the scenario, as the operator would label them, and
 * the number of frames the virtual mat will send. */
static char *scenario_facts(const char *scenario, unsigned long seed, double time_scale,
                            uint64_t *frames, rm_header *who)
{
    rm_vmat_config vc = {0};
    vc.scenario = scenario;
    vc.seed = seed;
    vc.time_scale = time_scale;
    rm_vmat *vm = NULL;
    rm_err e = {0};
    *frames = 0;
    if (rm_vmat_new(&vc, &vm, &e) != RM_OK)
        return NULL;
    rm_device dev;
    rm_vmat_device(vm, &dev);
    *frames = (uint64_t)ceil(rm_vmat_duration(vm) * dev.rate_hz);
    rm_vmat_header(vm, who); /* the athlete, for the recorder */
    size_t cap = 1024, n = 0;
    char *o = calloc(1, cap);
    for (int i = 0; o && i < rm_vmat_segment_count(vm); i++) {
        const char *group = NULL;
        double a, b;
        const char *label = rm_vmat_segment(vm, i, &group, &a, &b);
        const char *l = label && label[0] ? label : group ? group : "";
        if (strchr(l, ',') || n + strlen(l) + 2 >= cap)
            break;
        n += (size_t)snprintf(o + n, cap - n, "%s%s", i ? "," : "", l);
    }
    rm_vmat_free(vm);
    if (o && !o[0]) {
        free(o);
        o = NULL;
    }
    return o;
}

static int usable_recording(const char *path)
{
    rm_file_kind k;
    rm_err e = {0};
    return rm_file_kind_of(path, &k, &e) == RM_OK && k == RM_FILE_RECORDING;
}

/* Whether the USB recording holds what the mat sent: nearly every frame
 * of the scenario, and a time axis that spans what its frames and rate say
 * (within 10 %). Accelerated pacing delivers minutes of frames in seconds:
 * a recorder whose writer falls behind drops frames (ring overruns), and
 * one that stamps frames with the host clock squeezes the session; either
 * way the analysis would be meaningless. On failure `why` says which. */
static int recording_complete(const char *path, uint64_t expect_frames, char *why, size_t cap)
{
    rm_session *s = NULL;
    rm_err e = {0};
    if (rm_session_open(path, &s, &e) != RM_OK) {
        snprintf(why, cap, "%s", e.msg);
        return 0;
    }
    uint64_t n = rm_session_frames(s);
    double rate = rm_session_device(s)->rate_hz, t0 = 0, t1 = 0;
    int ok = n > 1 && rate > 0 &&
             rm_session_read(s, 0, 1, NULL, &t0, NULL, NULL, NULL, &e) == RM_OK &&
             rm_session_read(s, n - 1, 1, NULL, &t1, NULL, NULL, NULL, &e) == RM_OK;
    rm_session_close(s);
    if (!ok) {
        snprintf(why, cap, "the recording holds %llu frames", (unsigned long long)n);
        return 0;
    }
    if (expect_frames && (double)n < 0.95 * (double)expect_frames) {
        snprintf(why, cap, "the recorder kept %llu of the %llu frames the mat sent",
                 (unsigned long long)n, (unsigned long long)expect_frames);
        return 0;
    }
    double span = t1 - t0, want = (double)(n - 1) / rate;
    if (!(span > 0.9 * want && span < 1.1 * want)) {
        snprintf(why, cap,
                 "the recording's time axis spans %.1f s for %.1f s of frames (host clock)", span,
                 want);
        return 0;
    }
    return 1;
}

/* What the command line asked for. Strings are borrowed from argv. */
typedef struct demo_options {
    const char *dir, *scenario, *profile_name, *time_scale;
    int realtime, no_usb, quiet;
    long seed;
} demo_options;

/* Parses the command line into *o. Returns -1 to go on, else the exit
 * status (help printed, or a usage error reported). */
static int parse_options(int argc, char **argv, demo_options *o)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"scenario", required_argument, NULL, 's'},
        {"profile", required_argument, NULL, 'p'},
        {"realtime", no_argument, NULL, 'R'},
        {"no-usb", no_argument, NULL, 'N'},
        {"seed", required_argument, NULL, 'S'},
        {"time-scale", required_argument, NULL, 'T'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (demo_options){.dir = "rollmat-demo", .scenario = "guide", .time_scale = "1", .seed = 1};
    int c;
    double ts;
    while ((c = getopt_long(argc, argv, "o:s:p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->dir = optarg; break;
        case 's': o->scenario = optarg; break;
        case 'p': o->profile_name = optarg; break;
        case 'R': o->realtime = 1; break;
        case 'N': o->no_usb = 1; break;
        case 'S':
            if (rm_cli_parse_long(optarg, 0, 2000000000L, &o->seed))
                return rm_cli_usage_error(CMD, "--seed %s: expected a number", optarg);
            break;
        case 'T':
            if (rm_cli_parse_double(optarg, 0.01, 100, &ts))
                return rm_cli_usage_error(CMD, "--time-scale %s: expected 0.01..100", optarg);
            o->time_scale = optarg;
            break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind < argc)
        return rm_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->profile_name)
        o->profile_name = !strcmp(o->scenario, "behm2020") ? "behm2020" : "guide";
    return -1;
}

/* Records with the real recorder on emulated USB. Returns how it was
 * recorded, or NULL (the caller falls back to rollmat simulate). */
static const char *record_over_usb(const demo_options *o, char *self, const char *rec, char *title,
                                   char *seed_s, uint64_t expect_frames, const rm_header *who)
{
    if (!o->quiet)
        printf("recording scenario '%s' from the virtual mat on emulated USB (%s)...\n",
               o->scenario, o->realtime ? "real time" : "accelerated");
    char *av[] = {self, "vmat", "--scenario", (char *)o->scenario, "--seed", seed_s, "--time-scale",
                  (char *)o->time_scale, o->realtime ? "--realtime" : "--fast", "--end-signal",
                  "TERM", "--quiet", "--", self, "record", "-o", (char *)rec, "-t", title, "-q",
                  /* accelerated: the mat's clock is the time axis, and
                   * the emulated mat waits for the disk */
                  o->realtime ? NULL : "--clock", "device", "--no-drop", NULL, NULL, NULL,
                  NULL, NULL};
    /* the scenario's athlete goes to the recorder as an operator would give
     * it (the report shows who rolled and the body-weight share) */
    char mass[32];
    size_t n = 0;
    while (av[n])
        n++;
    if (who->subject_id[0]) {
        av[n++] = "--subject";
        av[n++] = (char *)who->subject_id;
    }
    if (who->body_mass_kg > 0) {
        snprintf(mass, sizeof mass, "%g", who->body_mass_kg);
        av[n++] = "--body-mass";
        av[n++] = mass;
    }
    int rc = run(av, 1);
    char why[sizeof((rm_err *)0)->msg];
    if (rc == 0 && usable_recording(rec) &&
        !recording_complete(rec, expect_frames, why, sizeof why)) {
        printf("the USB recording is not usable (%s): recording with rollmat simulate instead\n",
               why);
        unlink(rec);
        return NULL;
    }
    if (rc == 0 && usable_recording(rec))
        return "the real recorder (rollmat record) on emulated USB";
    printf("emulated USB path failed (rollmat vmat -- rollmat record exited with %d): "
           "recording with rollmat simulate instead\n",
           rc);
    unlink(rec);
    return NULL;
}

/* Records with rollmat simulate. Returns how, or NULL after an error. */
static const char *record_simulated(const demo_options *o, char *self, const char *rec,
                                    char *seed_s)
{
    if (o->realtime && !o->quiet)
        printf("(rollmat simulate writes the recording at once; --realtime applies to USB only)\n");
    else if (!o->quiet && o->no_usb)
        printf("recording scenario '%s' with rollmat simulate (no USB)...\n", o->scenario);
    char *av[] = {self,     "simulate", "--scenario",   (char *)o->scenario,
                  "--seed", seed_s,     "--time-scale", (char *)o->time_scale,
                  "-q",     "-o",       (char *)rec,    NULL};
    int rc = run(av, 1);
    if (rc != 0 || !usable_recording(rec)) {
        rm_cli_error(CMD, "recording failed (rollmat simulate exited with %d)", rc);
        return NULL;
    }
    return "rollmat simulate (the virtual mat's stream through the decoder and writer)";
}

/* Analyses the recording and writes results, summary and report. */
static rm_status analyse_and_report(const demo_options *o, const rm_profile *prof, char *labels,
                                    const char *how, const char *rec, rm_err *err)
{
    char res[PATH_MAX], js[PATH_MAX], pdf[PATH_MAX];
    snprintf(res, sizeof res, "%s/results.h5", o->dir);
    snprintf(js, sizeof js, "%s/summary.json", o->dir);
    snprintf(pdf, sizeof pdf, "%s/report.pdf", o->dir);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.labels = labels;
    rm_results *r = NULL;
    rm_report *rep = NULL;
    rm_status st = rm_analyze_session(rec, &cfg, prof, &r, err);
    if (!st)
        st = rm_results_write(res, r, err);
    if (!st)
        st = rm_results_write_json(js, r, err);
    if (!st)
        st = rm_report_build(r, prof, &rep, err);
    if (!st)
        st = rm_report_write(rep, pdf, RM_REPORT_PDF, -1, 0, err);
    if (!st) {
        if (!o->quiet) {
            char *text = rm_results_coach_text(r);
            printf("\n%s\n", text ? text : "");
            free(text);
            printf("recorded with %s\n", how);
        }
        printf("files in %s/:\n  recording.h5  the recording (HDF5; rollmat info %s)\n"
               "  results.h5    the analysis\n  summary.json  the summary\n"
               "  report.pdf    the report (%zu pages)\n",
               o->dir, rec, rep->n_pages);
    }
    rm_report_free(rep);
    rm_results_free(r);
    rm_report_shutdown();
    return st;
}

int rm_cmd_demo(int argc, char **argv)
{
    demo_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rm_err err = {0};
    rm_profile prof;
    rm_status st = rm_profile_load(o.profile_name, &prof, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    uint64_t expect_frames = 0;
    rm_header who;
    memset(&who, 0, sizeof who);
    char *labels = scenario_facts(o.scenario, (unsigned long)o.seed, atof(o.time_scale),
                                  &expect_frames, &who);
    if (!labels) {
        /* the scenario itself is bad: say why before touching any folder */
        rm_vmat_config vc = {0};
        vc.scenario = o.scenario;
        rm_vmat *vm = NULL;
        st = rm_vmat_new(&vc, &vm, &err);
        rm_vmat_free(vm);
        if (st)
            return rm_cli_fail(CMD, &err, st);
    }
    if (prepare_dir(o.dir, o.quiet) != 0) {
        free(labels);
        return RM_EXIT_FAIL;
    }
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        rm_cli_error(CMD, "cannot find the rollmat program (/proc/self/exe): %s", strerror(errno));
        free(labels);
        return RM_EXIT_FAIL;
    }
    self[sl] = 0;
    char rec[PATH_MAX], title[160], seed_s[32];
    snprintf(rec, sizeof rec, "%s/recording.h5", o.dir);
    snprintf(title, sizeof title, "rollmat demo: scenario %s", o.scenario);
    snprintf(seed_s, sizeof seed_s, "%ld", o.seed);

    const char *how = NULL;
#ifndef RM_HAVE_UMOCKDEV
    if (!o.no_usb && !o.quiet)
        printf("emulated USB is not available in this build (umockdev missing): "
               "recording with rollmat simulate instead\n");
    o.no_usb = 1;
#endif
    if (!o.no_usb)
        how = record_over_usb(&o, self, rec, title, seed_s, expect_frames, &who);
    if (!how && !(how = record_simulated(&o, self, rec, seed_s))) {
        free(labels);
        return RM_EXIT_FAIL;
    }
    st = analyse_and_report(&o, &prof, labels, how, rec, &err);
    free(labels);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    return RM_EXIT_OK;
}

/* cmd_batch.c - `rollmat batch`: analyses many recordings in worker
 * processes into one tidy CSV (a row per segment).
 *
 * Each recording is handled by a forked worker: it checks whether the
 * stored results are up to date, analyses and writes them if not, and
 * sends back through a pipe one status line and its CSV rows. The parent
 * never opens HDF5; a worker that crashes costs one recording, not the
 * batch. Rows are emitted in the sorted order of the recordings, so the
 * output does not depend on -j or on which worker finished first. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT: the CPU set we may use */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_analysis.h"
#include "rm_batch.h"
#include "rm_cli.h"
#include "rm_filekind.h"
#include "rm_proto.h"
#include "rm_reliability.h"
#include "rm_session.h"
#include "rm_version.h"
#include "rm_walk.h"

#define CMD      "batch"
#define SOFTWARE RM_SOFTWARE

static void usage(FILE *f)
{
    fprintf(f, "usage: rollmat batch DIR|FILE... -o summary.csv [options]\n"
               "       rollmat batch --merge A.csv B.csv... -o all.csv\n"
               "Analyses many recordings in parallel into one tidy CSV, a row per set\n"
               "(segment). Folders are searched recursively for *.h5 and *.hdf5 files\n"
               "(results files *.results.h5 and the results folder are left out).\n"
               "  -o, --output CSV      the summary to write (required)\n"
               "  -j, --jobs N          worker processes (default: the usable cores / 1.4,\n"
               "                        at least 1: a worker keeps ~1.4 cores busy)\n"
               "  -p, --profile P       coaching profile, name or file (default guide)\n"
               "      --shard I/N       only every N-th recording of the sorted list,\n"
               "                        starting with the I-th (0 <= I < N)\n"
               "      --results-dir D   where results files are kept (default: the folder\n"
               "                        CSV_STEM.results beside the CSV)\n"
               "      --force           analyse again even when results are up to date\n"
               "      --per set|session a row per set (the default), or a row per recording:\n"
               "                        subject, date, totals, the summary page's verdicts\n"
               "                        and score, data quality (not with --long)\n"
               "      --follow-links    follow symbolic links to folders (each folder and\n"
               "                        each file is still visited once; loops are cut)\n"
               "      --merge           merge shards' CSVs (the inputs) into -o\n"
               "      --long            a long table instead: subject, session (the\n"
               "                        recording's start, ISO 8601 UTC), metric (SET/COLUMN),\n"
               "                        value; the input of rollmat reliability\n"
               "  -q, --quiet           no progress, only errors\n"
               "  -h, --help            this help\n"
               "A recording whose results file was made from the same bytes (its content\n"
               "hash, not its time), with the same profile and software version is not\n"
               "analysed again. A file reached by several paths (links) is analysed once.\n"
               "A bad file is reported with its reason and the rest go on; the exit status\n"
               "is 1 if any failed. No recordings found (or an input missing): exit 1 and\n"
               "no CSV.\n");
}

typedef struct job {
    char *path;    /* as found (the CSV's file column) */
    char *results; /* results file path */
    pid_t pid;
    int fd;    /* read end of the worker's pipe */
    char *out; /* what the worker sent */
    size_t len, cap;
    int done, failed, analysed, skipped;
    char *msg; /* failure reason */
    size_t n_rows;
    int long_rows;   /* --long: subject, session, metric, value */
    int per_session; /* --per session: one row per recording */
} job;

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Results file name: the recording's stem, plus a hash of its path when
 * two recordings of the study share a name. */
static char *results_name(const char *dir, const char *path, int clash)
{
    const char *b = base(path);
    size_t bl = strlen(b);
    if (ends_with(b, ".hdf5"))
        bl -= 5;
    else if (ends_with(b, ".h5"))
        bl -= 3;
    size_t n = strlen(dir) + bl + 40;
    char *o = malloc(n);
    if (!o)
        return NULL;
    if (clash)
        snprintf(o, n, "%s/%.*s-%08lx.results.h5", dir, (int)bl, b,
                 (unsigned long)rm_crc32(path, strlen(path)));
    else
        snprintf(o, n, "%s/%.*s.results.h5", dir, (int)bl, b);
    return o;
}

/* ---- the worker ---- */

/* The set names given afterwards to a recording: `rollmat analyze --labels`
 * keeps them in the results file it writes beside the recording
 * (NAME.results.h5, root attribute labels, source = the recording's name);
 * without one, batch's own earlier results keep them. A batch analysis
 * uses them too, so its CSV names the sets as the report does. "" if none. */
static void given_labels(const job *j, char *out, size_t cap)
{
    out[0] = 0;
    const char *b = base(j->path);
    size_t n = strlen(j->path);
    if (ends_with(j->path, ".h5"))
        n -= 3;
    char *beside = malloc(n + 16);
    if (!beside)
        return;
    snprintf(beside, n + 16, "%.*s.results.h5", (int)n, j->path);
    static const char *const names[] = {"conventions", "source", "labels"};
    /* one size for all three: rm_file_root_strings takes one capacity */
    char conv[RM_RESULTS_COMMENT_LEN], src[RM_RESULTS_COMMENT_LEN], lab[RM_RESULTS_COMMENT_LEN];
    char *const vals[] = {conv, src, lab};
    rm_err ignored = {0};
    if (rm_file_root_strings(beside, names, vals, 3, sizeof lab, &ignored) == RM_OK &&
        !strcmp(conv, RM_RESULTS_CONVENTIONS) && !strcmp(src, b) && lab[0])
        snprintf(out, cap, "%s", lab);
    else if (rm_file_root_strings(j->results, names, vals, 3, sizeof lab, &ignored) == RM_OK &&
             !strcmp(conv, RM_RESULTS_CONVENTIONS) && lab[0])
        snprintf(out, cap, "%s", lab);
    free(beside);
}

static void worker(const job *j, const rm_profile *prof, int force, int fd)
{
    FILE *o = fdopen(fd, "w");
    if (!o)
        _exit(3);
    rm_err err = {0};
    int current = 0;
    rm_status st = RM_OK;
    rm_file_kind kind;
    if (rm_file_kind_of(j->path, &kind, &err) == RM_OK && kind == RM_FILE_RESULTS) {
        /* an analysis among the recordings (rollmat analyze's NAME.results.h5
         * or the demo's results.h5): not a recording, said and skipped */
        fprintf(o, "skip a results file, not a recording\n");
        _exit(fclose(o) != 0 ? 3 : 0);
    }
    memset(&err, 0, sizeof err);
    /* what the recording is, by its bytes: its time says nothing (cp -p) */
    char id[RM_BATCH_ID_LEN];
    st = rm_batch_recording_id(j->path, id, sizeof id, &err);
    if (!st && !force)
        st = rm_batch_results_current(j->results, id, prof->name, SOFTWARE, &current, &err);
    rm_results *r = NULL;
    char labels[RM_RESULTS_COMMENT_LEN];
    given_labels(j, labels, sizeof labels);
    if (!st && current) {
        st = rm_results_open(j->results, &r, &err);
        if (st) { /* unreadable after all: analyse again */
            current = 0;
            st = RM_OK;
            memset(&err, 0, sizeof err);
        } else if (strcmp(r->labels, labels)) { /* named again since: analyse again */
            current = 0;
            rm_results_free(r);
            r = NULL;
        }
    }
    if (!st && !current) {
        rm_analysis_config cfg;
        rm_analysis_config_default(&cfg);
        cfg.labels = labels[0] ? labels : NULL;
        st = rm_analyze_session(j->path, &cfg, prof, &r, &err);
        if (!st)
            st = rm_batch_results_write(j->results, r, id, &err);
    }
    char subject[80] = "", created[40] = "";
    if (!st) {
        rm_session *s = NULL;
        rm_err e2 = {0};
        if (rm_session_open(j->path, &s, &e2) == RM_OK) {
            snprintf(subject, sizeof subject, "%s", rm_session_header(s)->subject_id);
            snprintf(created, sizeof created, "%s", rm_session_header(s)->created);
            rm_session_close(s);
        }
    }
    if (st) {
        /* one line: newlines in a message would break the protocol */
        for (char *p = err.msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        fprintf(o, "fail %s\n", err.msg[0] ? err.msg : rm_strerror(st));
    } else {
        /* the status line counts the rows: one per recording, or per set */
        fprintf(o, "ok %s %zu\n", current ? "current" : "analysed",
                j->per_session ? (size_t)1 : r->n_segments);
        if (j->per_session)
            rm_batch_csv_session_row(o, j->path, subject, r, prof);
        else if (j->long_rows)
            rm_long_csv_rows(o, subject, created, r);
        else
            rm_batch_csv_rows(o, j->path, subject, r);
    }
    rm_results_free(r);
    int bad = fclose(o) != 0;
    _exit(bad ? 3 : 0);
}

/* ---- progress ---- */

typedef struct progress {
    int tty, quiet;
    size_t total, done, failed, analysed, skipped;
} progress;

static void progress_show(progress *pg, const job *j)
{
    if (pg->quiet)
        return;
    if (pg->tty) {
        const int W = 30;
        int fill = pg->total ? (int)(W * pg->done / pg->total) : W;
        fprintf(stderr, "\r[%.*s%*s] %zu/%zu  %zu failed  %-30.30s", fill,
                "==============================", W - fill, "", pg->done, pg->total, pg->failed,
                j ? base(j->path) : "");
        if (pg->done == pg->total)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (j) {
        fprintf(stderr, "rollmat batch: [%zu/%zu] %s: %s\n", pg->done, pg->total, j->path,
                j->failed     ? "FAILED"
                : j->skipped  ? "skipped (a results file, not a recording)"
                : j->analysed ? "analysed"
                              : "up to date");
    }
}

/* Reads what is there; returns 1 at EOF. */
static int drain(job *j)
{
    for (;;) {
        if (j->cap - j->len < 4096) {
            size_t cap = j->cap ? j->cap * 2 : 8192;
            char *n = realloc(j->out, cap);
            if (!n)
                return -1;
            j->out = n;
            j->cap = cap;
        }
        ssize_t got = read(j->fd, j->out + j->len, j->cap - j->len - 1);
        if (got > 0) {
            j->len += (size_t)got;
            continue;
        }
        if (got == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : 1;
    }
}

static void finish_job(job *j, int wstatus)
{
    j->done = 1;
    close(j->fd);
    j->fd = -1;
    if (j->out)
        j->out[j->len] = 0;
    char *nl = j->out ? strchr(j->out, '\n') : NULL;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || !nl) {
        j->failed = 1;
        char buf[160];
        if (WIFSIGNALED(wstatus))
            snprintf(buf, sizeof buf, "the analysis crashed (signal %d)", WTERMSIG(wstatus));
        else if (nl && !strncmp(j->out, "fail ", 5))
            snprintf(buf, sizeof buf, "%.*s", (int)(nl - j->out - 5), j->out + 5);
        else
            snprintf(buf, sizeof buf, "the worker ended with status %d", WEXITSTATUS(wstatus));
        j->msg = strdup(buf);
        return;
    }
    if (!strncmp(j->out, "skip ", 5)) {
        j->skipped = 1;
        return;
    }
    if (!strncmp(j->out, "fail ", 5)) {
        j->failed = 1;
        *nl = 0;
        j->msg = strdup(j->out + 5);
        *nl = '\n';
        return;
    }
    j->analysed = !strncmp(j->out, "ok analysed", 11);
    /* the row count ends the status line (not the last blank of the whole
     * output: the rows have blanks in their titles and comments) */
    *nl = 0;
    const char *cnt = strrchr(j->out, ' ');
    if (!cnt || sscanf(cnt, "%zu", &j->n_rows) != 1)
        j->n_rows = 0;
    *nl = '\n';
}

static int run_jobs(job *jobs, size_t n, int nproc, const rm_profile *prof, int force, progress *pg)
{
    size_t next = 0, running = 0;
    job **active = calloc((size_t)nproc, sizeof *active);
    struct pollfd *pfd = calloc((size_t)nproc, sizeof *pfd);
    if (!active || !pfd) {
        free(active);
        free(pfd);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    while (next < n || running) {
        while (next < n && running < (size_t)nproc) {
            job *j = &jobs[next++];
            int p[2];
            if (pipe(p) != 0)
                goto fail;
            pid_t pid = fork();
            if (pid < 0) {
                close(p[0]);
                close(p[1]);
                goto fail;
            }
            if (pid == 0) {
                close(p[0]);
                for (size_t k = 0; k < (size_t)nproc; k++)
                    if (active[k])
                        close(active[k]->fd);
                worker(j, prof, force, p[1]);
            }
            close(p[1]);
            j->pid = pid;
            j->fd = p[0];
            for (size_t k = 0; k < (size_t)nproc; k++)
                if (!active[k]) {
                    active[k] = j;
                    break;
                }
            running++;
        }
        size_t np = 0;
        for (size_t k = 0; k < (size_t)nproc; k++)
            if (active[k]) {
                pfd[np].fd = active[k]->fd;
                pfd[np].events = POLLIN;
                pfd[np].revents = 0;
                np++;
            }
        if (poll(pfd, np, -1) < 0 && errno != EINTR)
            goto fail;
        for (size_t k = 0; k < (size_t)nproc; k++) {
            job *j = active[k];
            if (!j)
                continue;
            size_t q;
            for (q = 0; q < np && pfd[q].fd != j->fd; q++)
                ;
            if (q == np || !pfd[q].revents)
                continue;
            int eof = drain(j);
            if (eof < 0)
                goto fail;
            if (!eof)
                continue;
            int ws = 0;
            while (waitpid(j->pid, &ws, 0) < 0 && errno == EINTR)
                ;
            finish_job(j, ws);
            active[k] = NULL;
            running--;
            pg->done++;
            pg->failed += j->failed;
            pg->analysed += j->analysed;
            pg->skipped += j->skipped;
            if (j->failed) {
                if (pg->tty && !pg->quiet)
                    fputs("\r\033[K", stderr); /* the bar's line gives way to the error */
                const char *why = j->msg ? j->msg : "failed";
                if (strstr(why, j->path))
                    rm_cli_error(CMD, "%s", why);
                else
                    rm_cli_error(CMD, "%s: %s", j->path, why);
            }
            progress_show(pg, j);
        }
    }
    free(active);
    free(pfd);
    return 0;
fail:
    rm_cli_error(CMD, "cannot run workers: %s", strerror(errno));
    for (size_t k = 0; k < (size_t)nproc; k++)
        if (active[k]) {
            kill(active[k]->pid, SIGTERM);
            waitpid(active[k]->pid, NULL, 0);
        }
    free(active);
    free(pfd);
    return -1;
}

static int mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* ---- the command: options, then the run ---- */

typedef struct batch_opts {
    const char *output, *profile_name, *results_dir;
    long jobs, shard_i, shard_n;
    int merge, quiet, force, follow_links, long_rows, per_session;
    char **inputs; /* argv's, borrowed */
    size_t n_inputs;
} batch_opts;

static int parse_shard(const char *arg, batch_opts *o)
{
    char a[32], b[32], extra;
    if (strlen(arg) > 60 || sscanf(arg, "%31[^/]/%31s%c", a, b, &extra) != 2 ||
        rm_cli_parse_long(b, 1, 1000000, &o->shard_n) ||
        rm_cli_parse_long(a, 0, o->shard_n - 1, &o->shard_i))
        return rm_cli_usage_error(CMD, "--shard %s: expected I/N with 0 <= I < N", arg);
    return -1;
}

/* One worker keeps about 1.4 cores busy (the analysis, and the inflation of
 * the chunks on a second thread: bench/bench_batch.sh), so a worker per
 * core oversubscribes the machine; the cores are the ones this process may
 * run on (a Slurm or cgroup CPU set), not all the machine has. */
static long default_jobs(void)
{
    long ncpu = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        ncpu = CPU_COUNT(&set);
    if (ncpu < 1)
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long j = ncpu * 10 / 14;
    return j < 1 ? 1 : j;
}

/* Fills *o from the command line. Returns -1 to go on, or the exit status
 * (help, usage errors). */
static int parse_options(int argc, char **argv, batch_opts *o)
{
    enum { O_SHARD = 256, O_RDIR, O_FORCE, O_MERGE, O_FOLLOW, O_LONG, O_PER };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'j'},
        {"profile", required_argument, NULL, 'p'},
        {"shard", required_argument, NULL, O_SHARD},
        {"results-dir", required_argument, NULL, O_RDIR},
        {"force", no_argument, NULL, O_FORCE},
        {"merge", no_argument, NULL, O_MERGE},
        {"quiet", no_argument, NULL, 'q'},
        {"follow-links", no_argument, NULL, O_FOLLOW},
        {"long", no_argument, NULL, O_LONG},
        {"per", required_argument, NULL, O_PER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (batch_opts){.profile_name = "guide", .jobs = default_jobs(), .shard_n = 1};
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long(argc, argv, "o:j:p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'j':
            if (rm_cli_parse_long(optarg, 1, 1024, &o->jobs))
                rc = rm_cli_usage_error(CMD, "--jobs %s: expected 1..1024", optarg);
            break;
        case 'p': o->profile_name = optarg; break;
        case O_SHARD: rc = parse_shard(optarg, o); break;
        case O_RDIR: o->results_dir = optarg; break;
        case O_FORCE: o->force = 1; break;
        case O_MERGE: o->merge = 1; break;
        case O_FOLLOW: o->follow_links = 1; break;
        case O_LONG: o->long_rows = 1; break;
        case O_PER:
            if (strcmp(optarg, "set") && strcmp(optarg, "session"))
                rc = rm_cli_usage_error(CMD, "--per %s: expected set or session", optarg);
            o->per_session = !strcmp(optarg, "session");
            break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (rc >= 0)
        return rc;
    if (!o->output)
        return rm_cli_usage_error(CMD, "no output given (-o summary.csv)");
    if (o->per_session && o->long_rows)
        return rm_cli_usage_error(CMD, "--long and --per session do not go together: the long "
                                       "table has a row per set and metric (its session column "
                                       "names the recording)");
    if (o->per_session && o->merge)
        return rm_cli_usage_error(CMD, "--merge takes the table kind from its inputs: leave "
                                       "--per out");
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no recordings given (folders or files)");
    if (!o->merge && !ends_with(o->output, ".csv"))
        return rm_cli_usage_error(CMD, "%s: the output should be a .csv file", o->output);
    if (o->jobs < 1)
        o->jobs = 1;
    o->inputs = argv + optind;
    o->n_inputs = (size_t)(argc - optind);
    return -1;
}

static int run_merge(const batch_opts *o)
{
    rm_err err = {0};
    rm_status st = rm_batch_merge((const char *const *)o->inputs, o->n_inputs, o->output, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    if (!o->quiet)
        printf("merged %zu CSV file%s into %s\n", o->n_inputs, o->n_inputs == 1 ? "" : "s",
               o->output);
    return RM_EXIT_OK;
}

/* The recordings named or found below the inputs, each file once, sorted.
 * A missing or unreadable input is fatal (-1: a mistyped folder must not
 * give a CSV that silently lacks it); an unreadable folder deeper down is
 * reported and sets *failed. */
static void warn_scan(void *user, const char *msg)
{
    (void)user;
    rm_cli_error(CMD, "%s", msg);
}

static int collect(const batch_opts *o, const struct stat *skip, rm_walk_list *files, int *failed)
{
    rm_walk_opts wo = {.skip = skip, .follow_links = o->follow_links, .warn = warn_scan};
    rm_walk_note note;
    rm_err err = {0};
    rm_status st = rm_walk((const char *const *)o->inputs, o->n_inputs, &wo, files, &note, &err);
    if (st == RM_ERR_NOMEM)
        rm_cli_error(CMD, "out of memory");
    else if (st)
        rm_cli_error(CMD, "%s; nothing analysed, no CSV written", err.msg);
    if (!st && note.links_skipped && !o->quiet)
        fprintf(stderr,
                "rollmat batch: note: %zu link%s to folders not followed (%s%s); "
                "--follow-links follows them\n",
                note.links_skipped, note.links_skipped == 1 ? "" : "s", note.first_link,
                note.links_skipped > 1 ? ", ..." : "");
    free(note.first_link);
    *failed = note.failed;
    return st ? -1 : 0;
}

/* One job per recording of this shard; names are decided over the whole
 * list, so shards agree. Returns the count, or (size_t)-1. */
static size_t make_jobs(const batch_opts *o, const rm_walk_list *files, const char *rdir, job *jobs)
{
    size_t nj = 0;
    for (size_t i = 0; i < files->n; i++) {
        if ((long)(i % (size_t)o->shard_n) != o->shard_i)
            continue;
        const char *p = files->v[i].path;
        int clash = 0;
        for (size_t k = 0; k < files->n && !clash; k++)
            clash = k != i && !strcmp(base(files->v[k].path), base(p));
        jobs[nj].path = (char *)p;
        jobs[nj].results = results_name(rdir, p, clash);
        jobs[nj].fd = -1;
        jobs[nj].long_rows = o->long_rows;
        jobs[nj].per_session = o->per_session;
        if (!jobs[nj++].results)
            return (size_t)-1;
    }
    return nj;
}

/* The CSV: rows of the good recordings in sorted order. Returns 0 or -1. */
static int write_csv(const char *output, const job *jobs, size_t nj, size_t *n_rows, int long_rows,
                     int per_session)
{
    char *csv = NULL;
    size_t csv_len = 0;
    *n_rows = 0;
    FILE *m = open_memstream(&csv, &csv_len);
    int werr = !m || (long_rows     ? rm_long_csv_header(m)
                      : per_session ? rm_batch_csv_session_header(m)
                                    : rm_batch_csv_header(m)) != 0;
    for (size_t i = 0; i < nj && !werr; i++) {
        const job *j = &jobs[i];
        if (!j->done || j->failed || j->skipped)
            continue;
        werr |= fputs(strchr(j->out, '\n') + 1, m) < 0;
        *n_rows += j->n_rows;
    }
    if (m && fclose(m) != 0)
        werr = 1;
    int rc = 0;
    rm_err err = {0};
    rm_status st;
    if (werr) {
        rm_cli_error(CMD, "out of memory building the CSV");
        rc = -1;
    } else if ((st = rm_write_file_atomic(output, csv, csv_len, &err)) != RM_OK) {
        rm_cli_fail(CMD, &err, st);
        rc = -1;
    }
    free(csv);
    return rc;
}

/* "no recordings": said with the inputs, exit 1, no CSV (docs/guide-lab.md) */
static int no_recordings(const batch_opts *o, size_t results_skipped)
{
    if (o->n_inputs == 1)
        rm_cli_error(CMD, "%s: no recordings (*.h5, *.hdf5) found%s; no CSV written", o->inputs[0],
                     results_skipped ? ", only results files" : "");
    else
        rm_cli_error(CMD, "no recordings (*.h5, *.hdf5) found in the %zu inputs%s; no CSV written",
                     o->n_inputs, results_skipped ? ", only results files" : "");
    return RM_EXIT_FAIL;
}

static char *results_dir_of(const batch_opts *o)
{
    if (o->results_dir)
        return strdup(o->results_dir);
    size_t n = strlen(o->output); /* CSV_STEM.results beside the CSV */
    char *rdir = malloc(n + 16);
    if (rdir)
        snprintf(rdir, n + 16, "%.*s.results", (int)(n - 4), o->output);
    return rdir;
}

/* Runs the jobs and writes the CSV and the summary line; returns the exit
 * status. */
static int run_and_report(const batch_opts *o, const rm_profile *prof, job *jobs, size_t nj,
                          const char *rdir, int rc)
{
    progress pg = {isatty(2) && !o->quiet, o->quiet, nj, 0, 0, 0, 0};
    long nproc = o->jobs > (long)nj && nj > 0 ? (long)nj : o->jobs;
    if (nj)
        progress_show(&pg, NULL);
    if (nj && run_jobs(jobs, nj, (int)nproc, prof, o->force, &pg) != 0)
        rc = RM_EXIT_FAIL;
    if (o->shard_n == 1 && nj && pg.skipped == nj)
        return no_recordings(o, pg.skipped);
    size_t n_rows = 0;
    if (write_csv(o->output, jobs, nj, &n_rows, o->long_rows, o->per_session) != 0 || pg.failed)
        rc = RM_EXIT_FAIL;
    if (!o->quiet || pg.failed)
        fprintf(
            o->quiet ? stderr : stdout,
            "%zu recording%s: %zu analysed, %zu up to date, %zu failed%s; %zu %s%s -> %s (results in %s)\n",
            nj - pg.skipped, nj - pg.skipped == 1 ? "" : "s", pg.analysed,
            pg.done - pg.analysed - pg.failed - pg.skipped, pg.failed,
            pg.skipped ? " (results files among the inputs skipped)" : "", n_rows,
            o->per_session ? "session" : "set", n_rows == 1 ? "" : "s", o->output, rdir);
    return rc;
}

static int run_batch(const batch_opts *o)
{
    rm_err err = {0};
    rm_profile prof;
    rm_status st = rm_profile_load(o->profile_name, &prof, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    char *rdir = results_dir_of(o);
    if (!rdir) {
        rm_cli_error(CMD, "out of memory");
        return RM_EXIT_FAIL;
    }
    /* the results folder is only created once there is something to put
     * in it; if it exists already, the search leaves it out */
    struct stat rst;
    int have_rst = stat(rdir, &rst) == 0, scan_failed = 0;
    rm_walk_list files = {0};
    job *jobs = NULL;
    int rc = RM_EXIT_FAIL;
    if (collect(o, have_rst ? &rst : NULL, &files, &scan_failed) != 0)
        goto out;
    if (files.n == 0) {
        rc = no_recordings(o, 0);
        goto out;
    }
    if (mkdirs(rdir) != 0) {
        rm_cli_error(CMD, "%s: cannot create the results folder: %s", rdir, strerror(errno));
        goto out;
    }
    size_t nj =
        (jobs = calloc(files.n, sizeof *jobs)) ? make_jobs(o, &files, rdir, jobs) : (size_t)-1;
    if (nj == (size_t)-1) {
        rm_cli_error(CMD, "out of memory");
        goto out;
    }
    rc = run_and_report(o, &prof, jobs, nj, rdir, scan_failed ? RM_EXIT_FAIL : RM_EXIT_OK);
out:
    for (size_t i = 0; jobs && i < files.n; i++) {
        free(jobs[i].results);
        free(jobs[i].out);
        free(jobs[i].msg);
    }
    free(jobs);
    rm_walk_list_free(&files);
    free(rdir);
    return rc;
}

int rm_cmd_batch(int argc, char **argv)
{
    batch_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    return o.merge ? run_merge(&o) : run_batch(&o);
}

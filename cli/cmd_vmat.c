/* cmd_vmat.c - `rollmat vmat [options] -- COMMAND ...`: the virtual mat on
 * emulated USB. Builds a umockdev testbed holding an RM-1 device whose bulk
 * stream is the virtual mat's, runs COMMAND with the testbed in its
 * environment (UMOCKDEV_DIR, LD_PRELOAD=libumockdev-preload.so.0, as
 * umockdev-run does), serves the device until COMMAND exits and returns its
 * exit status. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rm_cli.h"
#include "rm_safefile.h"

#ifdef RM_HAVE_UMOCKDEV
#include <jansson.h>

#include "rm_usbemu.h"
#include "rm_vmat.h"

static const char *CMD = "vmat";

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat vmat [options] -- COMMAND [ARG...]\n"
                 "Runs COMMAND against an emulated RM-1 mat on USB (umockdev) whose frames come\n"
                 "from the virtual mat; returns COMMAND's exit status.\n"
                 "  --scenario S       scenario name or JSON file (default guide)\n"
                 "  --seed N           noise and fault seed (default 1)\n"
                 "  --rate HZ          frame rate, 10..1000 (default: the scenario's)\n"
                 "  --time-scale F     shorten (<1) or stretch every phase (default 1)\n"
                 "  --fault LIST       comma-separated: corrupt=R,truncate=R,garbage=R,drop=R\n"
                 "                     (per-frame rates; any of them replaces the scenario's\n"
                 "                     faults, unnamed ones are 0), unplug-at=SECONDS (of mat\n"
                 "                     time), replug-after=SECONDS (wall clock)\n"
                 "  --realtime         release frames at the mat's rate (default)\n"
                 "  --fast             send as fast as the host reads\n"
                 "  --serial SN        USB serial number (default: the virtual mat's)\n"
                 "  --vid-pid V:P      USB ids in hex (default 1209:0001)\n"
                 "  --end-signal SIG   send SIG (TERM, INT, HUP or a number) to COMMAND once the\n"
                 "                     whole scenario was delivered (or the mat was unplugged\n"
                 "                     for good)\n"
                 "  --counts FILE      write the injected fault and USB counts as JSON\n"
                 "  -q, --quiet        no summary on stderr\n"
                 "Example: rollmat vmat -- lsusb -v -d 1209:0001\n");
}

/* Parses "corrupt=0.01,drop=0.005,unplug-at=3" into the configs. */
static int parse_faults(const char *list, rm_vmat_config *vc, rm_usbemu_config *ec)
{
    char *copy = strdup(list);
    if (!copy)
        return rm_cli_usage_error(CMD, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = rm_cli_usage_error(CMD, "--fault: \"%s\" is not NAME=VALUE", tok);
            break;
        }
        *eq = 0;
        const char *name = tok, *val = eq + 1;
        double v = 0;
        double *rate = NULL;
        if (!strcmp(name, "corrupt"))
            rate = &vc->faults.corrupt_rate;
        else if (!strcmp(name, "truncate"))
            rate = &vc->faults.truncate_rate;
        else if (!strcmp(name, "garbage"))
            rate = &vc->faults.garbage_rate;
        else if (!strcmp(name, "drop"))
            rate = &vc->faults.drop_rate;
        if (rate) {
            if (rm_cli_parse_double(val, 0, 1, &v) < 0) {
                rc = rm_cli_usage_error(CMD, "--fault: %s=%s is not a rate in 0..1", name, val);
                break;
            }
            *rate = v;
            vc->fault_override = 1;
        } else if (!strcmp(name, "unplug-at")) {
            if (rm_cli_parse_double(val, 0, 1e7, &v) < 0) {
                rc = rm_cli_usage_error(CMD, "--fault: unplug-at=%s is not seconds >= 0", val);
                break;
            }
            ec->unplug_at_s = v;
        } else if (!strcmp(name, "replug-after")) {
            if (rm_cli_parse_double(val, 0, 1e7, &v) < 0) {
                rc = rm_cli_usage_error(CMD, "--fault: replug-after=%s is not seconds >= 0", val);
                break;
            }
            ec->replug_after_s = v;
        } else {
            rc = rm_cli_usage_error(CMD,
                                    "--fault: unknown fault \"%s\" (corrupt, truncate, "
                                    "garbage, drop, unplug-at, replug-after)",
                                    name);
        }
    }
    free(copy);
    if (!rc && ec->replug_after_s >= 0 && ec->unplug_at_s < 0)
        rc = rm_cli_usage_error(CMD, "--fault: replug-after needs unplug-at");
    return rc;
}

static int parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
                 {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
    if (!strncmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name))
            return names[i].sig;
    long v;
    if (rm_cli_parse_long(s, 1, 64, &v) == 0)
        return (int)v;
    return -1;
}

static void emu_log(void *user, rm_log_level level, const char *msg)
{
    (void)user;
    if (level <= RM_LOG_WARN)
        fprintf(stderr, "rollmat vmat: %s\n", msg);
}

static json_t *stats_json(const rm_usbemu_stats *st, const char *serial, int exit_status)
{
    const rm_vmat_counts *c = &st->injected;
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, "
        "s:b, s:i}",
        "serial", serial, "frames_produced", (json_int_t)c->frames_produced, "frames_sent",
        (json_int_t)c->frames_sent, "frames_corrupt", (json_int_t)c->frames_corrupt,
        "frames_truncated", (json_int_t)c->frames_truncated, "frames_dropped",
        (json_int_t)c->frames_dropped, "garbage_insertions", (json_int_t)c->garbage_insertions,
        "garbage_bytes", (json_int_t)c->garbage_bytes, "bulk_bytes", (json_int_t)st->bulk_bytes,
        "urbs_reaped", (json_int_t)st->urbs_reaped, "control_requests",
        (json_int_t)st->control_requests, "stalls", (json_int_t)st->stalls, "plugs", (int)st->plugs,
        "unplugs", (int)st->unplugs, "stream_done", st->stream_done, "exit_status", exit_status);
}

/* Written to a temp name, then renamed, so a reader never sees half. */
static rm_status write_counts(const char *path, json_t *j, rm_err *err)
{
    rm_safefile sf;
    rm_status st = rm_safefile_open(path, &sf, err);
    if (st != RM_OK)
        return st;
    if (json_dumpf(j, sf.f, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 && !ferror(sf.f)) {
        rm_safefile_abort(&sf);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: cannot format the counts", path);
    }
    return rm_safefile_commit(&sf, err); /* a write error fails here, naming errno */
}

/* LD_PRELOAD gets libumockdev-preload.so.0 (once). */
static int preload_env(void)
{
    const char *pre = getenv("LD_PRELOAD");
    char buf[4096];
    if (pre && *pre && !strstr(pre, "libumockdev-preload"))
        snprintf(buf, sizeof buf, "%s:libumockdev-preload.so.0", pre);
    else if (pre && *pre)
        snprintf(buf, sizeof buf, "%s", pre);
    else
        snprintf(buf, sizeof buf, "libumockdev-preload.so.0");
    if (setenv("LD_PRELOAD", buf, 1) != 0)
        return -1;
    /* An ASan-built COMMAND wants its runtime first in the preload list;
     * umockdev's must come first for the interposition, so relax the check. */
    const char *ao = getenv("ASAN_OPTIONS");
    if (!ao || !strstr(ao, "verify_asan_link_order")) {
        char a[2048];
        snprintf(a, sizeof a, "%s%sverify_asan_link_order=0", ao ? ao : "", ao && *ao ? ":" : "");
        setenv("ASAN_OPTIONS", a, 1);
    }
    return 0;
}

static int child_env(const char *root)
{
    unsetenv("RM_VMAT_REEXEC");
    if (setenv("UMOCKDEV_DIR", root, 1) != 0)
        return -1;
    return preload_env();
}

/* ---- options ---------------------------------------------------------------- */

/* What the command line asks for. Strings point into argv. */
typedef struct vmat_opts {
    rm_vmat_config vc;   /* scenario, seed, rate, time scale, faults */
    rm_usbemu_config ec; /* pacing, USB ids, unplug/replug */
    const char *serial, *counts_path;
    int end_sig, quiet;
    char **child_argv; /* COMMAND and its arguments */
} vmat_opts;

enum {
    O_SCEN = 256,
    O_SEED,
    O_RATE,
    O_TS,
    O_FAULT,
    O_RT,
    O_FAST,
    O_SERIAL,
    O_VIDPID,
    O_ENDSIG,
    O_COUNTS
};

/* One option other than --help: 0 = set, else the exit code. */
static int parse_vmat_opt(int c, const char *arg, vmat_opts *o)
{
    long lv;
    double dv;
    switch (c) {
    case O_SCEN: o->vc.scenario = arg; break;
    case O_SEED:
        if (rm_cli_parse_long(arg, 0, 0x7fffffffffffffffL, &lv) < 0)
            return rm_cli_usage_error(CMD, "--seed %s is not a number >= 0", arg);
        o->vc.seed = (uint64_t)lv;
        break;
    case O_RATE:
        if (rm_cli_parse_double(arg, 10, 1000, &dv) < 0)
            return rm_cli_usage_error(CMD, "--rate %s is not in 10..1000 Hz", arg);
        o->vc.rate_hz = dv;
        break;
    case O_TS:
        if (rm_cli_parse_double(arg, 1e-4, 1e4, &dv) < 0)
            return rm_cli_usage_error(CMD, "--time-scale %s is not in 0.0001..10000", arg);
        o->vc.time_scale = dv;
        break;
    case O_FAULT: return parse_faults(arg, &o->vc, &o->ec);
    case O_RT: o->ec.pacing = RM_USBEMU_REALTIME; break;
    case O_FAST: o->ec.pacing = RM_USBEMU_FAST; break;
    case O_SERIAL: o->serial = arg; break;
    case O_VIDPID: {
        unsigned v, p;
        char tail;
        if (sscanf(arg, "%4x:%4x%c", &v, &p, &tail) != 2 || v == 0)
            return rm_cli_usage_error(CMD, "--vid-pid %s is not VVVV:PPPP in hex", arg);
        o->ec.vid = (uint16_t)v;
        o->ec.pid = (uint16_t)p;
        break;
    }
    case O_ENDSIG:
        o->end_sig = parse_signal(arg);
        if (o->end_sig < 0)
            return rm_cli_usage_error(CMD, "--end-signal %s is not a signal", arg);
        break;
    case O_COUNTS: o->counts_path = arg; break;
    case 'q': o->quiet = 1; break;
    default: return -1;
    }
    return 0;
}

/* Fills `o` from argv. Returns -1 to go on and run, else the exit code
 * (0 after --help, a usage error's code). */
static int vmat_parse(int argc, char **argv, vmat_opts *o)
{
    static const struct option opts[] = {
        {"scenario", required_argument, NULL, O_SCEN},
        {"seed", required_argument, NULL, O_SEED},
        {"rate", required_argument, NULL, O_RATE},
        {"time-scale", required_argument, NULL, O_TS},
        {"fault", required_argument, NULL, O_FAULT},
        {"realtime", no_argument, NULL, O_RT},
        {"fast", no_argument, NULL, O_FAST},
        {"serial", required_argument, NULL, O_SERIAL},
        {"vid-pid", required_argument, NULL, O_VIDPID},
        {"end-signal", required_argument, NULL, O_ENDSIG},
        {"counts", required_argument, NULL, O_COUNTS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->vc.scenario = "guide";
    o->vc.seed = 1;
    rm_usbemu_config_init(&o->ec);
    o->ec.pacing = RM_USBEMU_REALTIME;
    int c;
    while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return RM_EXIT_OK;
        }
        int rc = parse_vmat_opt(c, optarg, o);
        if (rc < 0)
            return rm_cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]);
        if (rc)
            return rc;
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no COMMAND given (rollmat vmat [options] -- COMMAND)");
    o->child_argv = argv + optind;
    return -1;
}

/* ---- running ---------------------------------------------------------------- */

/* The device's uevents (hotplug add/remove) can only be built inside the
 * preload, so this process runs under it too, like its COMMAND: re-executes
 * itself unless already there. Returns only if it need not (-1) or could
 * not (the exit code). */
static int reexec_under_preload(int argc, char **argv)
{
    const char *pre = getenv("LD_PRELOAD");
    if (getenv("RM_VMAT_REEXEC") || (pre && strstr(pre, "libumockdev-preload")))
        return -1;
    char **nargv = calloc((size_t)argc + 2, sizeof *nargv);
    if (!nargv) {
        rm_cli_error(CMD, "out of memory");
        return RM_EXIT_FAIL;
    }
    nargv[0] = "rollmat";
    for (int i = 0; i < argc; i++)
        nargv[i + 1] = argv[i];
    if (preload_env() == 0 && setenv("RM_VMAT_REEXEC", "1", 1) == 0)
        execv("/proc/self/exe", nargv);
    rm_cli_error(CMD, "cannot re-run itself under libumockdev-preload: %s", strerror(errno));
    free(nargv);
    return RM_EXIT_FAIL;
}

/* Whether the end signal is due: the whole scenario was delivered (or the
 * mat unplugged for good) and the host came back to its event loop once
 * more (it resubmits the last transfer, so the final bytes were processed),
 * or 2 s passed. */
typedef struct end_watch {
    int seen;
    uint64_t submits_at_end;
    struct timespec at;
} end_watch;

static int end_due(end_watch *w, rm_usbemu *emu, const rm_usbemu_config *ec)
{
    rm_usbemu_stats s;
    rm_usbemu_get_stats(emu, &s);
    int over = s.stream_done || (s.unplugs > 0 && !s.plugged && ec->replug_after_s < 0);
    if (!over) {
        w->seen = 0;
        return 0;
    }
    if (!w->seen) {
        w->seen = 1;
        w->submits_at_end = s.urbs_submitted;
        clock_gettime(CLOCK_MONOTONIC, &w->at);
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double waited =
        (double)(now.tv_sec - w->at.tv_sec) + (double)(now.tv_nsec - w->at.tv_nsec) * 1e-9;
    return s.urbs_submitted != w->submits_at_end || waited > 2.0;
}

/* Serves the device until COMMAND exits, passing INT/TERM/HUP on and
 * sending the end signal when due; returns its wait status. The signals in
 * `set` are blocked by the caller. */
static int wait_child(pid_t pid, const sigset_t *set, rm_usbemu *emu, const vmat_opts *o)
{
    int status = 0, end_sent = 0;
    end_watch w = {0};
    for (;;) {
        struct timespec tmo = {0, 100 * 1000 * 1000};
        siginfo_t si;
        int sig = sigtimedwait(set, &si, &tmo);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
            kill(pid, sig);
        pid_t got;
        while ((got = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
        }
        if (got == pid)
            return status;
        if (o->end_sig && !end_sent && end_due(&w, emu, &o->ec)) {
            kill(pid, o->end_sig);
            end_sent = 1;
        }
    }
}

static void print_summary(const rm_usbemu_stats *s, const char *serial)
{
    const rm_vmat_counts *k = &s->injected;
    fprintf(stderr,
            "rollmat vmat: mat %s: frames produced %llu, sent intact %llu, corrupt %llu, "
            "truncated %llu, dropped %llu, garbage insertions %llu (%llu bytes); "
            "%llu bytes over USB in %llu transfers; plugged in %u time(s)\n",
            serial, (unsigned long long)k->frames_produced, (unsigned long long)k->frames_sent,
            (unsigned long long)k->frames_corrupt, (unsigned long long)k->frames_truncated,
            (unsigned long long)k->frames_dropped, (unsigned long long)k->garbage_insertions,
            (unsigned long long)k->garbage_bytes, (unsigned long long)s->bulk_bytes,
            (unsigned long long)s->urbs_reaped, s->plugs);
}

/* The exit code: COMMAND's, or a failure if the counts cannot be written. */
static int report(rm_usbemu *emu, const vmat_opts *o, int code)
{
    rm_usbemu_stats s;
    rm_usbemu_get_stats(emu, &s);
    if (!o->quiet)
        print_summary(&s, o->ec.serial);
    if (!o->counts_path)
        return code;
    int rc = code;
    json_t *j = stats_json(&s, o->ec.serial, code);
    rm_err cerr = {0};
    rm_status cst = j ? write_counts(o->counts_path, j, &cerr)
                      : rm_err_set(&cerr, RM_ERR_NOMEM, "%s: out of memory", o->counts_path);
    if (cst != RM_OK) {
        rm_cli_error(CMD, "cannot write the counts: %s", rm_err_message(&cerr, cst));
        if (rc == 0)
            rc = RM_EXIT_FAIL;
    }
    json_decref(j);
    return rc;
}

/* Starts the emulated mat, runs COMMAND against it and waits for it. */
static int vmat_serve(vmat_opts *o, rm_usbemu_vmat_source *src)
{
    /* Signals are taken synchronously below; every thread (umockdev's
     * worker, the pacing timer) inherits the blocked mask. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    rm_err e = {0};
    rm_usbemu *emu = NULL;
    rm_status st = rm_usbemu_new(&o->ec, &emu, &e);
    if (st != RM_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rm_cli_fail(CMD, &e, st);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        rm_cli_error(CMD, "fork: %s", strerror(errno));
        rm_usbemu_free(emu);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return RM_EXIT_FAIL;
    }
    if (pid == 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (child_env(rm_usbemu_root_dir(emu)) != 0)
            _exit(127);
        execvp(o->child_argv[0], o->child_argv);
        fprintf(stderr, "rollmat vmat: cannot run %s: %s\n", o->child_argv[0], strerror(errno));
        _exit(127);
    }
    int status = wait_child(pid, &set, emu, o);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int code = WIFEXITED(status) ? WEXITSTATUS(status)
                                 : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1);
    int rc = report(emu, o, code);
    rm_usbemu_free(emu);
    return rc;
}

static int vmat_run(int argc, char **argv, vmat_opts *o)
{
    int rc = reexec_under_preload(argc, argv);
    if (rc >= 0)
        return rc;
    char pathbuf[4096];
    o->vc.scenario = rm_vmat_scenario_path(o->vc.scenario, pathbuf, sizeof pathbuf);
    rm_err e = {0};
    rm_usbemu_vmat_source *src = NULL;
    rm_status st = rm_usbemu_vmat_source_new(&o->vc, &src, &e);
    if (st != RM_OK)
        return rm_cli_fail(CMD, &e, st);
    rm_usbemu_vmat_source_bind(src, &o->ec.source);
    o->ec.serial = o->serial ? o->serial : rm_usbemu_vmat_serial(src);
    o->ec.log.fn = emu_log;
    rc = vmat_serve(o, src);
    rm_usbemu_vmat_source_free(src); /* after the emulator: it reads the source */
    return rc;
}

int rm_cmd_vmat(int argc, char **argv)
{
    vmat_opts o;
    int rc = vmat_parse(argc, argv, &o);
    return rc >= 0 ? rc : vmat_run(argc, argv, &o);
}

#else /* !RM_HAVE_UMOCKDEV */

int rm_cmd_vmat(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: rollmat vmat [options] -- COMMAND (needs umockdev at build time)\n");
        return RM_EXIT_OK;
    }
    rm_cli_error("vmat", "this rollmat was built without umockdev (libumockdev-dev)");
    return RM_EXIT_FAIL;
}

#endif

/* rollmatd - the acquisition daemon: a thin main that wires a source (a
 * USB mat or a replayed raw stream), the HDF5 session writer and the live
 * analysis into the daemon core (acquire/rm_daemon.h). It runs in the
 * foreground (systemd supervises it); docs/daemon.md describes it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_analysis.h"
#include "rm_batch.h"
#include "rm_catalogue.h"
#include "rm_cli.h"
#include "rm_daemon.h"
#include "live_wiring.h"
#include "rm_session.h"
#include "rm_version.h"

#define DEFAULT_SOCKET     "/run/rollmat/rollmatd.sock"
#define DEFAULT_RECORDINGS "/var/lib/rollmat/recordings"
#define DEFAULT_HTTP       "127.0.0.1:8080"

/* ---- log file, reopened on SIGHUP (logrotate) --------------------------- */

typedef struct dlog {
    pthread_mutex_t mu; /* the source's thread logs too */
    const char *path;   /* NULL: stderr */
    int fd;
    rm_log_level max;
} dlog;

static int dlog_open(dlog *l)
{
    if (!l->path) {
        l->fd = STDERR_FILENO;
        return 0;
    }
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&l->mu);
    int old = l->fd;
    l->fd = fd;
    pthread_mutex_unlock(&l->mu);
    if (old > STDERR_FILENO)
        close(old);
    return 0;
}

static void dlog_write(void *user, rm_log_level level, const char *msg)
{
    dlog *l = user;
    if (level > l->max)
        return;
    static const char *const names[] = {[RM_LOG_ERROR] = "error",
                                        [RM_LOG_WARN] = "warning",
                                        [RM_LOG_INFO] = "info",
                                        [RM_LOG_DEBUG] = "debug"};
    const char *name =
        ((int)level >= 0 && (int)level <= RM_LOG_DEBUG && names[level]) ? names[level] : "log";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[32];
    rm_format_iso8601((double)ts.tv_sec, when, sizeof when);
    char line[1024];
    int n = snprintf(line, sizeof line, "%s rollmatd: %s: %s\n", when, name, msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    /* One write per line: lines from two threads never interleave. */
    pthread_mutex_lock(&l->mu);
    if (write(l->fd, line, (size_t)n) < 0) {
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---- wiring: recording sink and live analysis --------------------------- */

/* With a catalogue configured, the recording sink is wrapped: once the
 * file is closed it is registered (its recording row: identity, subject,
 * start, quality) in the catalogue. This lives here, on top of the house,
 * because the catalogue is study's and daemon/ must not depend on it; the
 * analysis is left to the next `rollmat study`, so the daemon spends no
 * time analysing. A failed registration is logged; the recording stands. */
typedef struct catalogued {
    rm_sink inner;
    char *path;
    const char *catalogue; /* borrowed from the configuration */
    rm_logger log;
} catalogued;

static rm_status cat_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    catalogued *c = ctx;
    return c->inner.receive(c->inner.ctx, pkt, err);
}

static rm_status cat_register(const catalogued *c, rm_err *err)
{
    char id[RM_BATCH_ID_LEN];
    rm_status st = rm_batch_recording_id(c->path, id, sizeof id, err);
    rm_session *s = NULL;
    rm_catalogue *cat = NULL;
    if (!st)
        st = rm_session_open(c->path, &s, err);
    if (!st)
        st = rm_catalogue_open(c->catalogue, &cat, err);
    char abs[4096];
    if (!st && !realpath(c->path, abs))
        st = rm_err_set(err, RM_ERR_IO, "%s: %s", c->path, strerror(errno));
    if (!st)
        st = rm_catalogue_put(cat, abs, id, s, NULL, NULL, err);
    rm_catalogue_close(cat);
    rm_session_close(s);
    return st;
}

static rm_status cat_finish(void *ctx, rm_err *err)
{
    catalogued *c = ctx;
    rm_status st = c->inner.finish(c->inner.ctx, err);
    rm_err e2 = {0};
    rm_status s2 = st ? st : cat_register(c, &e2);
    if (!st && s2)
        rm_log(&c->log, RM_LOG_ERROR, "catalogue %s: %s", c->catalogue, rm_err_message(&e2, s2));
    else if (!st)
        rm_log(&c->log, RM_LOG_INFO, "%s registered in %s", c->path, c->catalogue);
    free(c->path);
    free(c);
    return st;
}

typedef struct open_ctx {
    const char *catalogue; /* NULL: none */
    rm_logger log;
} open_ctx;

static rm_status open_session(void *user, const char *path, rm_sink *out, rm_err *err)
{
    const open_ctx *o = user;
    if (!o || !o->catalogue)
        return rm_session_sink_new(path, NULL, out, err);
    catalogued *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    rm_status st = rm_session_sink_new(path, NULL, &c->inner, err);
    if (st) {
        free(c->path);
        free(c);
        return st;
    }
    c->catalogue = o->catalogue;
    c->log = o->log;
    *out = (rm_sink){c, cat_receive, cat_finish};
    return RM_OK;
}

/* ---- the live page ------------------------------------------------------ */

static int derr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The profile's bands for the cues, and a random token when asked for
 * one ("--http-token random"). 0 ok, else the error was printed. */
static int live_page_setup(const rm_daemon_conf *conf, rm_daemon_bands *b, char *token, size_t cap)
{
    token[0] = '\0';
    rm_err e = {0};
    /* The same bands `rollmat live --replay` uses (live_wiring.c). */
    if (rm_cli_live_bands(conf->profile, b, &e) != RM_OK) {
        derr(RM_EXIT_USAGE, "%s", e.msg);
        return -1;
    }
    if (conf->http_token && !strcmp(conf->http_token, "random")) {
        unsigned char raw[16];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
            derr(RM_EXIT_FAIL, "getrandom: %s", strerror(errno));
            return -1;
        }
        for (size_t i = 0; i < sizeof raw && 2 * i + 2 < cap; i++)
            snprintf(token + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

/* The host part of ADDR:PORT, for the address printed at start. */
static const char *http_host(const char *addr, char *host, size_t cap)
{
    const char *c = strrchr(addr, ':');
    size_t n = c ? (size_t)(c - addr) : strlen(addr);
    if (n >= cap)
        n = cap - 1;
    memcpy(host, addr, n);
    host[n] = '\0';
    return host;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rollmatd [OPTIONS]\n"
            "The rollmat acquisition daemon (runs in the foreground).\n"
            "  --config FILE      key = value settings (options override them)\n"
            "  --recordings DIR   folder for recordings (default " DEFAULT_RECORDINGS ")\n"
            "  --socket PATH      control socket (default $ROLLMAT_SOCKET, else\n"
            "                     " DEFAULT_SOCKET ")\n"
            "  --serial SN        the mat to use, by serial number\n"
            "  --vid-pid VID:PID  USB identity in hex (default 1209:0001)\n"
            "  --rate HZ          frame rate (mat: 10..1000; --replay: 0 = as fast as possible)\n"
            "  --log FILE         log file (default stderr); SIGHUP reopens it\n"
            "  --replay RAW.bin   record from a saved raw stream instead of a mat\n"
            "  --publish-hz HZ    live metric lines per second (default 15)\n"
            "  --idle-timeout S   close a control client silent this long (default 60;\n"
            "                     subscribers are never closed: they are reading)\n"
            "  --catalogue FILE   register each finished recording in this study catalogue\n"
            "                     (rollmat study's SQLite database; docs/study.md)\n"
            "  --no-analysis      live lines carry frame count and total force only\n"
            "  --http[=ADDR:PORT] serve the live page (default " DEFAULT_HTTP ")\n"
            "  --http-token TOK   access token for the page (required off loopback;\n"
            "                     'random' makes one and prints the page's address)\n"
            "  --profile P        coaching profile for the live cues (default guide)\n"
            "  --foreground       accepted for clarity: rollmatd never forks\n"
            "  -v, --verbose      log debug messages\n"
            "  -h, --help, --version\n"
            "Prints \"ready\" on stdout once the socket accepts clients.\n");
}

static int derr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int derr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rollmatd: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* A catalogue is refused at start (not SQLite, a newer schema), not at
 * the end of the first recording. Returns 0 or -1 (said on stderr). */
static int check_catalogue(const char *path)
{
    rm_catalogue *cat = NULL;
    rm_err e = {0};
    if (rm_catalogue_open(path, &cat, &e) != RM_OK)
        return derr(-1, "%s", e.msg);
    rm_catalogue_close(cat);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"recordings", required_argument, NULL, 'd'},
        {"socket", required_argument, NULL, 's'},
        {"serial", required_argument, NULL, 'S'},
        {"vid-pid", required_argument, NULL, 'V'},
        {"rate", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {"replay", required_argument, NULL, 'R'},
        {"publish-hz", required_argument, NULL, 'p'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"catalogue", required_argument, NULL, 'C'},
        {"no-analysis", no_argument, NULL, 'N'},
        {"http", optional_argument, NULL, 'H'},
        {"http-token", required_argument, NULL, 'T'},
        {"profile", required_argument, NULL, 'P'},
        {"foreground", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'X'},
        {NULL, 0, NULL, 0},
    };
    rm_daemon_conf cmdline = {0}, conf = {0};
    const char *config_path = NULL;
    int no_analysis = 0, verbose = 0, c;
    rm_err e = {0};
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hvc:", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'd': key = "recordings"; break;
        case 's': key = "socket"; break;
        case 'S': key = "serial"; break;
        case 'V': key = "vid_pid"; break;
        case 'r': key = "rate"; break;
        case 'l': key = "log"; break;
        case 'R': key = "replay"; break;
        case 'p': key = "publish_hz"; break;
        case 'I': key = "idle_timeout"; break;
        case 'C': key = "catalogue"; break;
        case 'N': no_analysis = 1; break;
        case 'H':
            key = "http";
            if (!optarg)
                optarg = DEFAULT_HTTP;
            break;
        case 'T': key = "http_token"; break;
        case 'P': key = "profile"; break;
        case 'f': break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        case 'X': printf("rollmatd %s\n", RM_VERSION); return RM_EXIT_OK;
        case ':':
            return derr(RM_EXIT_USAGE, "option %s needs a value (try --help)", argv[optind - 1]);
        default: return derr(RM_EXIT_USAGE, "unknown option '%s' (try --help)", argv[optind - 1]);
        }
        if (key && rm_daemon_conf_set(&cmdline, key, optarg, &e) != RM_OK)
            return derr(RM_EXIT_FAIL, "%s", e.msg);
    }
    if (optind < argc)
        return derr(RM_EXIT_USAGE, "unexpected argument '%s' (try --help)", argv[optind]);
    if (config_path && rm_daemon_conf_load(config_path, &conf, &e) != RM_OK) {
        rm_daemon_conf_clear(&cmdline);
        return derr(RM_EXIT_USAGE, "%s", e.msg);
    }
    /* Options override the file. */
    char **from = (char **)&cmdline, **to = (char **)&conf;
    for (size_t i = 0; i < sizeof conf / sizeof(char *); i++)
        if (from[i]) {
            free(to[i]);
            to[i] = from[i];
            from[i] = NULL;
        }

    int status = RM_EXIT_USAGE;
    dlog lg = {PTHREAD_MUTEX_INITIALIZER, conf.log, STDERR_FILENO,
               verbose ? RM_LOG_DEBUG : RM_LOG_INFO};
    rm_daemon *d = NULL;
    int sfd = -1;
    double rate = conf.replay ? 100 : 0, publish_hz = 0, idle_timeout = 0;
    if (conf.rate && rm_cli_parse_double(conf.rate, conf.replay ? 0 : 10, 1000, &rate) != 0) {
        derr(RM_EXIT_USAGE, "rate '%s' is not a number in %s..1000 Hz", conf.rate,
             conf.replay ? "0" : "10");
        goto out;
    }
    if (conf.publish_hz && rm_cli_parse_double(conf.publish_hz, 1, 100, &publish_hz) != 0) {
        derr(RM_EXIT_USAGE, "publish rate '%s' is not a number in 1..100 Hz", conf.publish_hz);
        goto out;
    }
    if (conf.idle_timeout &&
        rm_cli_parse_double(conf.idle_timeout, 0.1, 86400, &idle_timeout) != 0) {
        derr(RM_EXIT_USAGE, "idle timeout '%s' is not a number of seconds in 0.1..86400",
             conf.idle_timeout);
        goto out;
    }
    unsigned vid = RM_USB_VID, pid = RM_USB_PID;
    if (conf.vid_pid) {
        char tail;
        if (sscanf(conf.vid_pid, "%4x:%4x%c", &vid, &pid, &tail) != 2) {
            derr(RM_EXIT_USAGE, "vid-pid '%s' is not VVVV:PPPP in hex", conf.vid_pid);
            goto out;
        }
    }
    status = RM_EXIT_FAIL;
    if (conf.catalogue && check_catalogue(conf.catalogue) != 0)
        goto out;
    /* Recordings and the log are for the owner and the group only. */
    umask(0027);
    if (dlog_open(&lg) != 0) {
        derr(RM_EXIT_FAIL, "log file %s: %s", conf.log, strerror(errno));
        goto out;
    }

    /* Signals arrive through a signalfd: blocked here, before any thread
     * exists, so every thread inherits the mask and none runs a handler. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        derr(RM_EXIT_FAIL, "signalfd: %s", strerror(errno));
        goto out;
    }

    rm_daemon_source src = {0};
    if (conf.replay) {
        if (rm_daemon_replay_source_new(conf.replay, rate, NULL, &src, &e) != RM_OK) {
            derr(RM_EXIT_FAIL, "%s", e.msg);
            goto out;
        }
    } else {
        rm_daemon_usb_options uo = {0};
        uo.vid = (uint16_t)vid;
        uo.pid = (uint16_t)pid;
        uo.serial = conf.serial;
        uo.rate_hz = (unsigned)rate;
        uo.ring_slots = 2048; /* 20 s at 100 Hz; the writer thread keeps up */
        uo.log = (rm_logger){dlog_write, &lg};
        if (rm_daemon_usb_source_new(&uo, &src, &e) != RM_OK) {
            derr(RM_EXIT_FAIL, "%s", e.msg);
            goto out;
        }
    }
    rm_daemon_config cfg = {0};
    /* Neither --socket nor the file: ROLLMAT_SOCKET, which `rollmat live --
     * rollmatd ...` sets to the private socket it will view (docs/live.md). */
    const char *env_socket = getenv("ROLLMAT_SOCKET");
    cfg.socket_path = conf.socket                  ? conf.socket
                      : env_socket && *env_socket ? env_socket
                                                   : DEFAULT_SOCKET;
    cfg.recordings_dir = conf.recordings ? conf.recordings : DEFAULT_RECORDINGS;
    cfg.source = src;
    cfg.open_recording = open_session;
    open_ctx octx = {conf.catalogue, {dlog_write, &lg}};
    cfg.open_user = &octx;
    if (!no_analysis) {
        cfg.live = rm_cli_live_analyzer();
    }
    cfg.publish_hz = publish_hz;
    cfg.idle_timeout_s = idle_timeout;
    cfg.log = (rm_logger){dlog_write, &lg};
    rm_daemon_bands bands;
    char token[40];
    if (live_page_setup(&conf, &bands, token, sizeof token) != 0)
        goto out;
    cfg.http_addr = conf.http;
    cfg.http_token = conf.http_token && *conf.http_token ? conf.http_token : NULL;
    if (token[0])
        cfg.http_token = token;
    cfg.bands = &bands;
    if (rm_daemon_new(&cfg, &d, &e) != RM_OK) {
        derr(RM_EXIT_FAIL, "%s", e.msg);
        goto out;
    }
    if (conf.http) {
        /* The address to open on a tablet; the token is the key to it. */
        char host[80];
        printf("live page: http://%s:%d/%s%s\n", http_host(conf.http, host, sizeof host),
               rm_daemon_http_port(d), cfg.http_token ? "?token=" : "",
               cfg.http_token ? cfg.http_token : "");
    }
    printf("ready\n");
    fflush(stdout);

    for (;;) {
        rm_status st = rm_daemon_run(d, sfd, &e);
        if (st != RM_OK) {
            rm_log(&cfg.log, RM_LOG_ERROR, "%s", rm_err_message(&e, st));
            break;
        }
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
            continue;
        if (si.ssi_signo == SIGHUP) {
            if (dlog_open(&lg) != 0)
                rm_log(&cfg.log, RM_LOG_ERROR, "reopen %s: %s", conf.log, strerror(errno));
            else
                rm_log(&cfg.log, RM_LOG_INFO, "log reopened");
            continue;
        }
        rm_log(&cfg.log, RM_LOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
        status = RM_EXIT_OK;
        break;
    }
    if (rm_daemon_stop_recording(d, &e) != RM_OK)
        status = RM_EXIT_FAIL;

out:
    rm_daemon_free(d);
    if (sfd >= 0)
        close(sfd);
    if (lg.fd > STDERR_FILENO)
        close(lg.fd);
    rm_daemon_conf_clear(&conf);
    rm_daemon_conf_clear(&cmdline);
    return status;
}

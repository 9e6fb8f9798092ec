/* cmd_live.c - `rollmat live`: the live page's information in a terminal
 * (docs/live.md). It follows a rollmatd's control socket (metric lines with
 * the heat map, docs/daemon.md) and redraws one screen per line: an ANSI
 * heat map, the speed (or the pass duration) against the profile's band,
 * the cue word, hold, set and session timers. When stdout is not a
 * terminal it prints one plain line per sample instead.
 *
 * Three ways to get that stream:
 *   --socket PATH   a running rollmatd;
 *   --replay RAW    the daemon core itself (rm_daemon) run in this process
 *                   on a private socket, with a replay source and the live
 *                   analyzer rollmatd uses (live_wiring.c), so the cues are
 *                   rollmatd's by construction; nothing is recorded;
 *   -- COMMAND      COMMAND (rollmatd, or a wrapper running it) as a child
 *                   told a private socket ({socket} in its arguments, and
 *                   ROLLMAT_SOCKET), followed once that socket answers,
 *                   stopped with SIGTERM when the view ends. */
#define _GNU_SOURCE /* pipe2, strsignal */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "live_wiring.h"
#include "rm_capture.h"
#include "rm_cli.h"
#include "rm_daemon.h"

static const char *CMD = "live";
#define DEFAULT_SOCKET "/run/rollmat/rollmatd.sock"
#define LIVE_KPA_MAX   40.0 /* the page's fixed colour scale */
#define LIVE_BAR       40   /* characters of the speed bar */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rollmat live [--socket PATH] [--start] [--label GROUP]\n"
            "       rollmat live --replay RAW.bin [--rate HZ] [--profile P] [--label GROUP]\n"
            "       rollmat live [--start] [--label GROUP] [--wait S] -- COMMAND [ARG...]\n"
            "Shows rollmatd's live coaching view in the terminal: heat map, speed (or pass\n"
            "duration) against the profile's band, the cue (slower/good/faster), hold, set\n"
            "and session timers. Plain lines when stdout is not a terminal. q or Ctrl-C\n"
            "ends it.\n"
            "  --socket PATH   rollmatd's control socket (default " DEFAULT_SOCKET ")\n"
            "  --start         start a recording once subscribed (--label: its group)\n"
            "  --label GROUP   the muscle group of the recording --start (or --replay) begins\n"
            "  --replay RAW    view a saved raw capture (rollmat record --capture) through\n"
            "                  rollmatd's own live analysis, in this process; records nothing\n"
            "  --rate HZ       replay pace, frames per second (default: the capture's rate,\n"
            "                  from its .dev sidecar, else 100)\n"
            "  --profile P     the bands for --replay's cues (default guide; a running\n"
            "                  rollmatd uses its own --profile)\n"
            "  -- COMMAND      run COMMAND (rollmatd, or rollmat vmat ... -- rollmatd ...)\n"
            "                  on a private socket: {socket} in its arguments becomes the\n"
            "                  path, and ROLLMAT_SOCKET holds it (rollmatd uses it when\n"
            "                  given no --socket); stopped with SIGTERM when the view ends\n"
            "  --wait S        how long COMMAND may take to answer on its socket (default 30)\n");
}

typedef struct live_view {
    int tty;      /* stdout is a terminal: redraw screens */
    int keys;     /* stdin is a terminal: q ends the view */
    int replay;   /* the "stopped" line ends the view */
    const char *name; /* what is followed, for messages */
    double speed_lo, speed_hi, speed_max;
    double pass_lo, pass_hi;
} live_view;

/* Set by SIGINT/SIGTERM/SIGHUP while a view runs: the view ends cleanly
 * (a child is stopped, the terminal restored). */
static volatile sig_atomic_t g_stop;
static void on_stop_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *o, const char *key, const char *none)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : none;
}

static void mmss(double s, char *buf, size_t cap)
{
    if (!isfinite(s))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%d:%02d", (int)s / 60, (int)s % 60);
}

/* 256-colour ramp from dark blue to yellow for 0..LIVE_KPA_MAX. */
static int heat_colour(double kpa)
{
    static const int ramp[] = {17, 18, 19, 25, 31, 37, 43, 78, 114, 150, 186, 226};
    if (kpa <= 0.5)
        return 16;
    int n = (int)(sizeof ramp / sizeof ramp[0]);
    int i = (int)(kpa / LIVE_KPA_MAX * (n - 1) + 0.5);
    return ramp[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* The heat map, two cells per character row (x across, y down), halved
 * again so a 32x24 picture fits an 80x24 terminal. */
static void draw_heat(json_t *heat, double roller_x, FILE *out)
{
    int rows = (int)num(heat, "rows"), cols = (int)num(heat, "cols");
    json_t *kpa = json_object_get(heat, "kpa");
    double len = num(heat, "length_cm");
    if (rows <= 0 || cols <= 0 || (int)json_array_size(kpa) != rows * cols)
        return;
    int mark = isfinite(roller_x) && len > 0 ? (int)(roller_x / len * rows) : -1;
    for (int c = 0; c + 1 < cols; c += 2) {
        for (int r = 0; r < rows; r++) {
            double top = json_number_value(json_array_get(kpa, (size_t)(r * cols + c)));
            double bot = json_number_value(json_array_get(kpa, (size_t)(r * cols + c + 1)));
            if (r == mark)
                fprintf(out, "\033[48;5;%dm\033[38;5;15m|", heat_colour(bot));
            else
                fprintf(out, "\033[48;5;%dm\033[38;5;%dm\xe2\x96\x80", heat_colour(bot),
                        heat_colour(top));
        }
        fprintf(out, "\033[0m\n");
    }
    fprintf(out, "0 kPa \033[48;5;17m \033[48;5;31m \033[48;5;78m \033[48;5;150m \033[48;5;226m "
                 "\033[0m %.0f kPa   | = roller\n",
            LIVE_KPA_MAX);
}


/* A bar of LIVE_BAR characters from 0 to max: '=' inside [lo, hi], '#'
 * at the value. */
static void band_bar(double lo, double hi, double max, double value, FILE *out)
{
    char bar[LIVE_BAR + 1];
    for (int i = 0; i < LIVE_BAR; i++) {
        double x = (i + 0.5) * max / LIVE_BAR;
        bar[i] = isfinite(lo) && x >= lo && x <= hi ? '=' : '-';
    }
    bar[LIVE_BAR] = '\0';
    if (isfinite(value)) {
        int i = (int)(value / max * LIVE_BAR);
        bar[i < 0 ? 0 : i >= LIVE_BAR ? LIVE_BAR - 1 : i] = '#';
    }
    fprintf(out, "[%s]", bar);
}

/* Judged by pass duration: the profile has no speed band but a pass band. */
static int by_pass(const live_view *v) { return !isfinite(v->speed_lo) && isfinite(v->pass_lo); }

/* The pass the daemon's cue judged (docs/daemon.md): the last complete
 * one, or the current one once it outlasts the band. */
static double judged_pass(const live_view *v, json_t *m)
{
    double now = num(m, "pass_s");
    return isfinite(now) && now > v->pass_hi ? now : num(m, "last_pass_s");
}

static void secs(double s, char *buf, size_t cap)
{
    if (isfinite(s))
        snprintf(buf, cap, "%.1f s", s);
    else
        snprintf(buf, cap, "-");
}

static void show(live_view *v, json_t *m, FILE *out)
{
    const char *state = str(m, "state", "-"), *cue = str(m, "cue", "-");
    double pace = num(m, "pace_cm_s"), speed = num(m, "speed_cm_s");
    double shown = !strcmp(state, "rolling") && isfinite(pace) ? pace : fabs(speed);
    char hold[16], set[16], sess[16], pnow[16], plast[16];
    double hs = num(m, "hold_s");
    if (isfinite(hs))
        snprintf(hold, sizeof hold, "%.0f s", hs);
    else
        snprintf(hold, sizeof hold, "-");
    mmss(num(m, "set_s"), set, sizeof set);
    mmss(num(m, "session_s"), sess, sizeof sess);
    secs(num(m, "pass_s"), pnow, sizeof pnow);
    secs(num(m, "last_pass_s"), plast, sizeof plast);
    if (!v->tty) {
        fprintf(out, "time %.1f s  group %s  state %s  speed %.1f cm/s  cue %s  hold %s  set %s  "
                     "session %s  lost %.0f",
                num(m, "time"), str(m, "label", "-"), state, shown, cue, hold, set, sess,
                num(m, "lost"));
        if (isfinite(v->pass_lo))
            fprintf(out, "  pass %s  last pass %s", pnow, plast);
        fputc('\n', out);
        fflush(out);
        return;
    }
    int cue_col = !strcmp(cue, "good") ? 32 : !strcmp(cue, "slower") ? 31 : 34;
    fprintf(out, "\033[H\033[2J");
    fprintf(out, "\033[1m%s\033[0m   state: %s   lost: %.0f%s\n\n", str(m, "label", "-"), state,
            num(m, "lost"),
            json_is_true(json_object_get(m, "disconnected")) ? "   MAT DISCONNECTED" : "");
    json_t *heat = json_object_get(m, "heat");
    if (heat)
        draw_heat(heat, num(m, "roller_x_cm"), out);
    fprintf(out, "\nspeed %5.1f cm/s   \033[1;%dm%s\033[0m%s\n", shown, cue_col, cue,
            by_pass(v) && strcmp(cue, "-") ? " (by pass duration)" : "");
    if (by_pass(v)) {
        double p = judged_pass(v, m);
        band_bar(v->pass_lo, v->pass_hi, fmax(2 * v->pass_hi, 8), p, out);
        fprintf(out, " band %.1f-%.1f s per pass (=)\n", v->pass_lo, v->pass_hi);
        fprintf(out, "pass %s   last pass %s\n", pnow, plast);
    } else {
        band_bar(v->speed_lo, v->speed_hi, v->speed_max, shown, out);
        fprintf(out, " band %.1f-%.1f cm/s (=)\n", v->speed_lo, v->speed_hi);
    }
    fprintf(out, "hold %s   set %s   session %s   (q quits)\n", hold, set, sess);
    fflush(out);
}

static int connect_socket(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void take_bands(live_view *v, json_t *bands)
{
    json_t *sb = json_object_get(bands, "speed_cm_s");
    if (json_array_size(sb) == 2) {
        v->speed_lo = json_number_value(json_array_get(sb, 0));
        v->speed_hi = json_number_value(json_array_get(sb, 1));
        v->speed_max = fmax(3 * v->speed_hi, 10);
    }
    json_t *pb = json_object_get(bands, "pass_s");
    if (json_array_size(pb) == 2) {
        v->pass_lo = json_number_value(json_array_get(pb, 0));
        v->pass_hi = json_number_value(json_array_get(pb, 1));
    }
}

/* One line from the daemon. 0: go on; 1: the view is over (a replay's
 * recording stopped), rc set; -1: refused (said on stderr). */
static int take_line(live_view *v, const char *line, int *rc)
{
    json_t *o = json_loads(line, 0, NULL);
    if (!o)
        return 0;
    int r = 0;
    if (json_object_get(o, "ok") && !json_is_true(json_object_get(o, "ok"))) {
        if (v->tty)
            fprintf(stdout, "\n");
        fprintf(stderr, "rollmat live: %s: %s\n", v->name, str(o, "error", "refused"));
        json_decref(o);
        return -1;
    }
    json_t *bands = json_object_get(o, "bands");
    if (bands)
        take_bands(v, bands);
    const char *type = str(o, "type", "");
    if (!strcmp(type, "metrics")) {
        show(v, o, stdout);
    } else if (!strcmp(type, "stopped")) {
        const char *e = str(o, "error", NULL);
        if (v->replay) {
            size_t nl = strlen(v->name);
            if (e && !strncmp(e, v->name, nl) && !strncmp(e + nl, ": ", 2))
                e += nl + 2; /* the source names the file already */
            if (e)
                fprintf(stderr, "rollmat live: %s: %s\n", v->name, e);
            else
                printf("replay of %s ended: %.0f frames\n", v->name, num(o, "frames"));
            *rc = e ? RM_EXIT_FAIL : RM_EXIT_OK;
            r = 1;
        } else {
            printf("recording %s stopped: %.0f frames\n", str(o, "file", "?"), num(o, "frames"));
        }
        fflush(stdout);
    }
    json_decref(o);
    return r;
}

#define LIVE_LINE_MAX (1u << 20) /* a metric line with its heat map is ~5 KB */

/* Sends the subscription (and start), then shows every line until the
 * daemon closes the socket (RM_EXIT_OK), refuses something (RM_EXIT_FAIL),
 * the user presses q or interrupts (RM_EXIT_OK), or a replay ends. Takes
 * fd. */
static int view_run(live_view *v, int fd, const char *start_label, int start)
{
    char req[512];
    int n = snprintf(req, sizeof req, "{\"cmd\":\"subscribe\",\"heat\":true}\n");
    if (start) {
        json_t *s = json_pack("{s:s}", "cmd", "start");
        if (s && start_label)
            json_object_set_new(s, "label", json_string(start_label));
        char *js = s ? json_dumps(s, JSON_COMPACT) : NULL;
        json_decref(s);
        if (js)
            n += snprintf(req + n, sizeof req - (size_t)n, "%s\n", js);
        free(js);
    }
    if (n >= (int)sizeof req || write(fd, req, (size_t)n) != (ssize_t)n) {
        fprintf(stderr, "rollmat live: %s: %s\n", v->name, strerror(errno ? errno : EIO));
        close(fd);
        return RM_EXIT_FAIL;
    }
    struct termios saved;
    int raw = v->keys && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (raw) { /* keys one at a time, not echoed; Ctrl-C still interrupts */
        struct termios t = saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = RM_EXIT_OK;
    for (;;) {
        if (g_stop)
            break;
        struct pollfd p[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        int r = poll(p, v->keys ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = RM_EXIT_FAIL;
            break;
        }
        if (v->keys && (p[1].revents & POLLIN)) {
            char k;
            if (read(STDIN_FILENO, &k, 1) == 1 && (k == 'q' || k == 'Q'))
                break;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (cap - len < 65536) {
            size_t nc = cap ? cap * 2 : 131072;
            char *nb = nc <= 2 * LIVE_LINE_MAX ? realloc(buf, nc) : NULL;
            if (!nb) {
                fprintf(stderr, "rollmat live: %s: a line longer than %u bytes\n", v->name,
                        LIVE_LINE_MAX);
                rc = RM_EXIT_FAIL;
                break;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) { /* the daemon closed the stream */
            if (got < 0) {
                fprintf(stderr, "rollmat live: %s: %s\n", v->name, strerror(errno));
                rc = RM_EXIT_FAIL;
            }
            break;
        }
        len += (size_t)got;
        buf[len] = '\0';
        char *line = buf, *nl;
        int end = 0;
        while (!end && (nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
            *nl = '\0';
            int t = take_line(v, line, &rc);
            if (t < 0) {
                rc = RM_EXIT_FAIL;
                end = 1;
            } else if (t > 0) {
                end = 1;
            }
            line = nl + 1;
        }
        if (end)
            break;
        len -= (size_t)(line - buf);
        memmove(buf, line, len);
        if (len > LIVE_LINE_MAX) {
            fprintf(stderr, "rollmat live: %s: a line longer than %u bytes\n", v->name,
                    LIVE_LINE_MAX);
            rc = RM_EXIT_FAIL;
            break;
        }
    }
    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    free(buf);
    close(fd);
    return rc;
}

/* Catches the stop signals for the view's life (no SA_RESTART: poll
 * returns); `old` restores them. */
static void catch_stop(struct sigaction old[3])
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    g_stop = 0;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
}

static void restore_stop(const struct sigaction old[3])
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
}

static void view_init(live_view *v, const char *name)
{
    memset(v, 0, sizeof *v);
    v->tty = isatty(STDOUT_FILENO);
    v->keys = v->tty && isatty(STDIN_FILENO);
    v->name = name;
    v->speed_lo = v->speed_hi = v->pass_lo = v->pass_hi = NAN;
    v->speed_max = 12;
}

/* ---- --socket ----------------------------------------------------------- */

static int live_socket(const char *path, int start, const char *label)
{
    int fd = connect_socket(path);
    if (fd < 0) {
        fprintf(stderr, "rollmat live: cannot connect to rollmatd at %s: %s\n", path,
                strerror(errno));
        return RM_EXIT_FAIL;
    }
    live_view v;
    view_init(&v, path);
    struct sigaction old[3];
    catch_stop(old);
    int rc = view_run(&v, fd, label, start);
    restore_stop(old);
    return rc;
}

/* ---- a private folder for a socket -------------------------------------- */

typedef struct private_dir {
    char dir[256];
    char sock[300];
} private_dir;

static int private_dir_make(private_dir *p)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    /* A Unix socket path is at most 107 bytes: keep the folder short. */
    if (snprintf(p->dir, sizeof p->dir, "%s/rollmat-live.XXXXXX", tmp) >= 90)
        snprintf(p->dir, sizeof p->dir, "/tmp/rollmat-live.XXXXXX");
    if (!mkdtemp(p->dir)) {
        fprintf(stderr, "rollmat live: cannot make a private folder %s: %s\n", p->dir,
                strerror(errno));
        return -1;
    }
    snprintf(p->sock, sizeof p->sock, "%s/live.sock", p->dir);
    return 0;
}

/* ---- --replay ----------------------------------------------------------- */

/* The recording sink of an in-process replay: the frames are only
 * viewed, nothing is written. */
static rm_status discard_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    (void)ctx;
    (void)pkt;
    (void)err;
    return RM_OK;
}

static rm_status discard_finish(void *ctx, rm_err *err)
{
    (void)ctx;
    (void)err;
    return RM_OK;
}

static rm_status open_discard(void *user, const char *path, rm_sink *out, rm_err *err)
{
    (void)user;
    (void)path;
    (void)err;
    *out = (rm_sink){NULL, discard_receive, discard_finish};
    return RM_OK;
}

/* The daemon's messages would tear the screen; its errors reach the view
 * as replies and "stopped" lines. */
static void quiet_log(void *user, rm_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    (void)msg;
}

typedef struct replay_daemon {
    rm_daemon *d;
    int wake[2];
    rm_status st;
    rm_err err;
} replay_daemon;

static void *replay_daemon_main(void *arg)
{
    replay_daemon *r = arg;
    r->st = rm_daemon_run(r->d, r->wake[0], &r->err);
    return NULL;
}

static int live_replay(const char *path, double rate, int rate_given, const char *profile,
                       const char *label)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "rollmat live: %s: %s\n", path, strerror(errno));
        return RM_EXIT_FAIL;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "rollmat live: %s: not a regular file (a raw capture is one)\n", path);
        return RM_EXIT_FAIL;
    }
    rm_err e = {0};
    rm_daemon_bands bands;
    if (rm_cli_live_bands(profile, &bands, &e) != RM_OK) {
        fprintf(stderr, "rollmat live: %s\n", e.msg);
        return RM_EXIT_USAGE;
    }
    if (!rate_given) { /* the capture's own pace */
        rm_device dev;
        rm_calib *cal = NULL;
        rm_status st = rm_capture_read_device(path, &dev, &cal, &e);
        rm_calib_free(cal);
        if (st == RM_OK && dev.rate_hz > 0)
            rate = dev.rate_hz;
        else if (st != RM_OK && st != RM_ERR_NOT_FOUND) {
            fprintf(stderr, "rollmat live: %s\n", e.msg);
            return RM_EXIT_FAIL;
        }
    }
    private_dir pd;
    if (private_dir_make(&pd) != 0)
        return RM_EXIT_FAIL;
    int rc = RM_EXIT_FAIL;
    replay_daemon r = {NULL, {-1, -1}, RM_OK, {0}};
    rm_daemon_source src = {0};
    if (rm_daemon_replay_once_source_new(path, rate, NULL, &src, &e) != RM_OK) {
        fprintf(stderr, "rollmat live: %s\n", e.msg);
        goto out;
    }
    rm_daemon_config cfg = {0};
    cfg.socket_path = pd.sock;
    cfg.recordings_dir = pd.dir;
    cfg.source = src;
    cfg.open_recording = open_discard;
    cfg.live = rm_cli_live_analyzer();
    cfg.log = (rm_logger){quiet_log, NULL};
    cfg.bands = &bands;
    /* rm_daemon_new sets the umask for its bind only; it is restored. */
    if (rm_daemon_new(&cfg, &r.d, &e) != RM_OK) {
        fprintf(stderr, "rollmat live: %s\n", e.msg);
        goto out;
    }
    if (pipe2(r.wake, O_CLOEXEC) != 0) {
        fprintf(stderr, "rollmat live: pipe: %s\n", strerror(errno));
        goto out;
    }
    /* The daemon's thread (and the source's, which it starts) never takes
     * the stop signals: they end the view, which then stops the daemon. */
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);
    pthread_t th;
    int started = pthread_create(&th, NULL, replay_daemon_main, &r) == 0;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (!started) {
        fprintf(stderr, "rollmat live: cannot start the replay thread\n");
        goto out;
    }
    int fd = connect_socket(pd.sock);
    if (fd < 0) {
        fprintf(stderr, "rollmat live: %s: %s\n", pd.sock, strerror(errno));
    } else {
        live_view v;
        view_init(&v, path);
        v.replay = 1;
        struct sigaction old[3];
        catch_stop(old);
        rc = view_run(&v, fd, label, 1);
        restore_stop(old);
    }
    if (write(r.wake[1], "x", 1) != 1) {
    }
    pthread_join(th, NULL);
    if (r.st != RM_OK) {
        fprintf(stderr, "rollmat live: %s\n", rm_err_message(&r.err, r.st));
        rc = RM_EXIT_FAIL;
    }
    rm_daemon_stop_recording(r.d, NULL);
out:
    rm_daemon_free(r.d); /* removes its socket */
    if (r.wake[0] >= 0)
        close(r.wake[0]);
    if (r.wake[1] >= 0)
        close(r.wake[1]);
    rmdir(pd.dir);
    return rc;
}

/* ---- -- COMMAND --------------------------------------------------------- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* `arg` with every "{socket}" replaced by `sock` (malloc'd; NULL: no
 * memory). */
static char *substitute(const char *arg, const char *sock)
{
    static const char key[] = "{socket}";
    size_t n = 0, kl = sizeof key - 1, sl = strlen(sock);
    for (const char *p = arg; (p = strstr(p, key)); p += kl)
        n++;
    char *out = malloc(strlen(arg) + n * sl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = arg, *q; *p; p = q + kl) {
        q = strstr(p, key);
        if (!q) {
            strcpy(o, p);
            return out;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, sock, sl);
        o += sl;
    }
    *o = '\0';
    return out;
}

/* The last non-empty line of the command's output, for messages. */
static void last_line(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        if (n)
            rm_cli_printable(line, buf, cap);
    }
    fclose(f);
}

/* "exited with status N" / "was killed by SIGNAME"; the exit status this
 * command returns for it (0 when it exited 0). */
static int describe_status(int ws, char *buf, size_t cap)
{
    if (WIFEXITED(ws)) {
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(ws));
        return WEXITSTATUS(ws);
    }
    if (WIFSIGNALED(ws)) {
        snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
        return 128 + WTERMSIG(ws);
    }
    snprintf(buf, cap, "ended");
    return RM_EXIT_FAIL;
}

/* Waits up to `secs` for `pid` to end; 1 and *ws if it did. */
static int wait_child(pid_t pid, double secs, int *ws)
{
    double until = mono_now() + secs;
    for (;;) {
        pid_t got = waitpid(pid, ws, WNOHANG);
        if (got == pid)
            return 1;
        if (got < 0 && errno != EINTR)
            return 1; /* not our child any more: nothing to wait for */
        if (mono_now() >= until)
            return 0;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int live_command(char **cmd, int ncmd, double wait_s, int start, const char *label)
{
    private_dir pd;
    if (private_dir_make(&pd) != 0)
        return RM_EXIT_FAIL;
    char logpath[320];
    snprintf(logpath, sizeof logpath, "%s/command.log", pd.dir);
    int rc = RM_EXIT_FAIL;
    char **args = calloc((size_t)ncmd + 1, sizeof *args);
    for (int i = 0; args && i < ncmd; i++)
        if (!(args[i] = substitute(cmd[i], pd.sock))) {
            fprintf(stderr, "rollmat live: out of memory\n");
            goto out;
        }
    if (!args) {
        fprintf(stderr, "rollmat live: out of memory\n");
        goto out;
    }
    /* The command's output goes to a log in the private folder: on the
     * terminal it would tear the screen. Its last line explains a failure. */
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (logfd < 0) {
        fprintf(stderr, "rollmat live: %s: %s\n", logpath, strerror(errno));
        goto out;
    }
    struct sigaction old[3];
    catch_stop(old);
    pid_t pid = fork();
    if (pid == 0) {
        /* Its own process group: Ctrl-C on the terminal reaches the view,
         * which then stops the command with one SIGTERM. */
        setpgid(0, 0);
        restore_stop(old);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        setenv("ROLLMAT_SOCKET", pd.sock, 1);
        execvp(args[0], args);
        fprintf(stderr, "rollmat live: cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    if (pid < 0) {
        fprintf(stderr, "rollmat live: fork: %s\n", strerror(errno));
        restore_stop(old);
        goto out;
    }
    /* The handshake: the socket accepts a connection (rollmatd listens
     * before it says "ready"), the command has died, or the deadline. */
    double until = mono_now() + wait_s;
    int fd = -1, ws = 0, reaped = 0;
    while (fd < 0 && !g_stop) {
        fd = connect_socket(pd.sock);
        if (fd >= 0)
            break;
        pid_t got = waitpid(pid, &ws, WNOHANG);
        if (got == pid) {
            reaped = 1;
            break;
        }
        if (mono_now() >= until)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char why[128], tail[256];
    if (reaped) {
        int st = describe_status(ws, why, sizeof why);
        last_line(logpath, tail, sizeof tail);
        fprintf(stderr, "rollmat live: %s %s before its socket was ready%s%s\n", args[0], why,
                tail[0] ? ": " : "", tail);
        restore_stop(old);
        rc = st ? st : RM_EXIT_FAIL;
        goto out;
    }
    if (fd < 0 && !g_stop) {
        last_line(logpath, tail, sizeof tail);
        fprintf(stderr,
                "rollmat live: %s did not answer on %s within %.0f s (does it use {socket} or "
                "ROLLMAT_SOCKET?)%s%s\n",
                args[0], pd.sock, wait_s, tail[0] ? ": " : "", tail);
    }
    int view_rc = RM_EXIT_FAIL;
    if (fd >= 0) {
        live_view v;
        view_init(&v, args[0]);
        view_rc = view_run(&v, fd, label, start);
    }
    /* The view is over: stop the command cleanly, give it 10 s. */
    kill(pid, SIGTERM);
    if (!wait_child(pid, 10, &ws)) {
        fprintf(stderr, "rollmat live: %s did not stop within 10 s of SIGTERM; killing it\n",
                args[0]);
        kill(pid, SIGKILL);
        waitpid(pid, &ws, 0);
    }
    restore_stop(old);
    int st = describe_status(ws, why, sizeof why);
    if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM)
        st = 0; /* it did not catch our SIGTERM: stopped as asked */
    if (st != 0) {
        last_line(logpath, tail, sizeof tail);
        fprintf(stderr, "rollmat live: %s %s%s%s\n", args[0], why, tail[0] ? ": " : "", tail);
        rc = st;
    } else {
        rc = fd >= 0 ? view_rc : RM_EXIT_FAIL;
    }
out:
    if (args)
        for (int i = 0; i < ncmd; i++)
            free(args[i]);
    free(args);
    unlink(logpath);
    unlink(pd.sock); /* our private path, if the command left it */
    rmdir(pd.dir);
    return rc;
}

int rm_cmd_live(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"replay", required_argument, NULL, 'R'},
        {"rate", required_argument, NULL, 'r'},
        {"profile", required_argument, NULL, 'P'},
        {"start", no_argument, NULL, 'S'},
        {"label", required_argument, NULL, 'l'},
        {"wait", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *replay = NULL, *rate_s = NULL, *profile = NULL, *label = NULL;
    const char *wait_arg = NULL;
    int start = 0, c;
    opterr = 0;
    /* '+': stop at the first non-option, so COMMAND's own options after
     * "--" are never taken for ours. */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'R': replay = optarg; break;
        case 'r': rate_s = optarg; break;
        case 'P': profile = optarg; break;
        case 'S': start = 1; break;
        case 'l': label = optarg; break;
        case 'w': wait_arg = optarg; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    int command = optind > 1 && !strcmp(argv[optind - 1], "--");
    if (command && optind >= argc)
        return rm_cli_usage_error(CMD, "'--' needs a COMMAND to run (e.g. -- rollmatd --socket {socket})");
    if (!command && optind < argc)
        return rm_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if ((path != NULL) + (replay != NULL) + command > 1)
        return rm_cli_usage_error(CMD, "--socket, --replay and -- COMMAND exclude each other");
    if (!replay && (rate_s || profile))
        return rm_cli_usage_error(CMD, "%s applies to --replay only", rate_s ? "--rate" : "--profile");
    if (!command && wait_arg)
        return rm_cli_usage_error(CMD, "--wait applies to -- COMMAND only");
    if (replay && start)
        return rm_cli_usage_error(CMD, "--start is implied by --replay");
    if (label && !start && !replay)
        return rm_cli_usage_error(CMD, "--label names the group of --start or --replay");
    double rate = 100, wait_s = 30;
    if (rate_s && rm_cli_parse_double(rate_s, 1, 10000, &rate) != 0)
        return rm_cli_usage_error(CMD, "--rate '%s' is not a number in 1..10000 Hz", rate_s);
    if (wait_arg && rm_cli_parse_double(wait_arg, 0.1, 3600, &wait_s) != 0)
        return rm_cli_usage_error(CMD, "--wait '%s' is not a number of seconds in 0.1..3600",
                                  wait_arg);
    if (replay)
        return live_replay(replay, rate, rate_s != NULL, profile, label);
    if (command)
        return live_command(argv + optind, argc - optind, wait_s, start, label);
    return live_socket(path ? path : DEFAULT_SOCKET, start, label);
}

/* cmd_live.c - `rollmat live [--socket PATH]`: the live page's information
 * in a terminal (docs/live.md). Subscribes to rollmatd's control socket
 * (metric lines with the heat map, docs/daemon.md) and redraws one screen
 * per line: an ANSI heat map, the speed against the profile's band, the cue
 * word, hold, set and session timers. When stdout is not a terminal it
 * prints one plain line per sample instead. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rm_cli.h"

static const char *CMD = "live";
#define DEFAULT_SOCKET "/run/rollmat/rollmatd.sock"
#define LIVE_KPA_MAX   40.0 /* the page's fixed colour scale */
#define LIVE_BAR       40   /* characters of the speed bar */

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat live [--socket PATH]\n"
                 "Shows rollmatd's live coaching view in the terminal: heat map, speed against\n"
                 "the profile's band, the cue (slower/good/faster), hold, set and session\n"
                 "timers. Plain lines when stdout is not a terminal. Ctrl-C ends it.\n"
                 "  --socket PATH   rollmatd's control socket (default " DEFAULT_SOCKET ")\n");
}

typedef struct live_view {
    int tty;
    double speed_lo, speed_hi, speed_max;
} live_view;

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

static void speed_bar(const live_view *v, double speed, FILE *out)
{
    char bar[LIVE_BAR + 1];
    for (int i = 0; i < LIVE_BAR; i++) {
        double x = (i + 0.5) * v->speed_max / LIVE_BAR;
        bar[i] = isfinite(v->speed_lo) && x >= v->speed_lo && x <= v->speed_hi ? '=' : '-';
    }
    bar[LIVE_BAR] = '\0';
    if (isfinite(speed)) {
        int i = (int)(speed / v->speed_max * LIVE_BAR);
        bar[i < 0 ? 0 : i >= LIVE_BAR ? LIVE_BAR - 1 : i] = '#';
    }
    fprintf(out, "[%s] band %.1f-%.1f cm/s (=)\n", bar, v->speed_lo, v->speed_hi);
}

static void show(live_view *v, json_t *m, FILE *out)
{
    const char *state = str(m, "state", "-"), *cue = str(m, "cue", "-");
    double pace = num(m, "pace_cm_s"), speed = num(m, "speed_cm_s");
    double shown = !strcmp(state, "rolling") && isfinite(pace) ? pace : fabs(speed);
    char hold[16], set[16], sess[16];
    double hs = num(m, "hold_s");
    if (isfinite(hs))
        snprintf(hold, sizeof hold, "%.0f s", hs);
    else
        snprintf(hold, sizeof hold, "-");
    mmss(num(m, "set_s"), set, sizeof set);
    mmss(num(m, "session_s"), sess, sizeof sess);
    if (!v->tty) {
        fprintf(out, "time %.1f s  group %s  state %s  speed %.1f cm/s  cue %s  hold %s  set %s  "
                     "session %s  lost %.0f\n",
                num(m, "time"), str(m, "label", "-"), state, shown, cue, hold, set, sess,
                num(m, "lost"));
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
    fprintf(out, "\nspeed %5.1f cm/s   \033[1;%dm%s\033[0m\n", shown, cue_col, cue);
    speed_bar(v, shown, out);
    fprintf(out, "hold %s   set %s   session %s\n", hold, set, sess);
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

/* Reads lines from the daemon until it closes the socket. */
static int follow(live_view *v, FILE *in, const char *path)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = RM_EXIT_FAIL;
    while (getline(&line, &cap, in) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        if (json_object_get(o, "ok") && !json_is_true(json_object_get(o, "ok"))) {
            fprintf(stderr, "rollmat live: %s: %s\n", path, str(o, "error", "refused"));
            json_decref(o);
            break;
        }
        json_t *bands = json_object_get(o, "bands");
        if (bands) {
            json_t *sb = json_object_get(bands, "speed_cm_s");
            if (json_array_size(sb) == 2) {
                v->speed_lo = json_number_value(json_array_get(sb, 0));
                v->speed_hi = json_number_value(json_array_get(sb, 1));
                v->speed_max = fmax(3 * v->speed_hi, 10);
            }
        }
        const char *type = str(o, "type", "");
        if (!strcmp(type, "metrics"))
            show(v, o, stdout);
        else if (!strcmp(type, "stopped"))
            printf("recording %s stopped: %.0f frames\n", str(o, "file", "?"), num(o, "frames"));
        json_decref(o);
    }
    if (feof(in))
        rc = RM_EXIT_OK;
    free(line);
    return rc;
}

int rm_cmd_live(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_SOCKET;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind < argc)
        return rm_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    int fd = connect_socket(path);
    if (fd < 0) {
        fprintf(stderr, "rollmat live: cannot connect to rollmatd at %s: %s\n", path,
                strerror(errno));
        return RM_EXIT_FAIL;
    }
    static const char sub[] = "{\"cmd\":\"subscribe\",\"heat\":true}\n";
    if (write(fd, sub, sizeof sub - 1) != (ssize_t)(sizeof sub - 1)) {
        fprintf(stderr, "rollmat live: %s: %s\n", path, strerror(errno));
        close(fd);
        return RM_EXIT_FAIL;
    }
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return RM_EXIT_FAIL;
    }
    live_view v = {isatty(STDOUT_FILENO), NAN, NAN, 12};
    int rc = follow(&v, in, path);
    fclose(in);
    return rc;
}

/* daemon.c - rollmatd's control socket: clients, commands, recordings. */
#define _GNU_SOURCE /* accept4 */
#include "rm_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_http.h"
#include "daemon_tee.h"

/* How long a start waits for the source to deliver its first packets. */
#define RMD_START_WAIT_S   10.0
/* A start needs this much free space in the recordings folder: the file's
 * header and first chunks, so that a full disk is refused up front rather
 * than answered ok and failed a moment later. */
#define RMD_MIN_FREE_BYTES (4ull << 20)

typedef struct rmd_client {
    int fd;
    int subscribed;
    int heat;       /* subscribed with "heat":true: metric lines carry the heat map */
    int discarding; /* inside an over-long line: skip to its newline */
    int dead;       /* to be closed at the end of this step */
    int eof;        /* the client shut down its side: close once flushed */
    int reserve;    /* holds one of the reserve slots: control commands only */
    double active;  /* monotonic time of its last command (or connect) */
    size_t in_len;
    size_t out_len;
    char in[RM_DAEMON_LINE_MAX];
    char out[RM_DAEMON_OUTBUF];
} rmd_client;

struct rm_daemon {
    char *socket_path;
    char *recordings_dir;
    ino_t socket_ino;
    dev_t socket_dev;
    int listen_fd;
    int notify_fd;
    rm_daemon_source source;
    rm_daemon_open_fn open_recording;
    void *open_user;
    rm_daemon_live live;
    double publish_hz;
    rm_logger log;
    rm_daemon_bands bands;
    rmd_http *http;   /* the live page, NULL when off */
    double last_beat; /* monotonic time of the last status event to viewers */

    rmd_client *clients[RM_DAEMON_MAX_CLIENTS + RM_DAEMON_RESERVE_CLIENTS];
    int n_clients;
    double idle_timeout_s;

    /* The recording, if one runs. */
    rmd_tee *tee;
    char rec_file[RM_DAEMON_NAME_MAX];
    char rec_subject[64];
    char rec_label[RM_EVENT_TEXT_LEN];
    double rec_body_mass;
    double rec_started_unix;
    char cue[8]; /* the last cue, held through the turns */
    /* The last recording's outcome, for status. */
    char last_file[RM_DAEMON_NAME_MAX];
    char last_error[512];
    uint64_t last_frames;
};

static json_t *http_command(void *user, const char *cmd, json_t *req);
static void send_hello(rm_daemon *d);
static void send_status(rm_daemon *d);
static json_t *cmd_status(rm_daemon *d);
static json_t *bands_json(const rm_daemon_bands *b);

/* ---- socket set-up ------------------------------------------------------ */

static rm_status make_socket(rm_daemon *d, rm_err *err)
{
    const char *path = d->socket_path;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path)
        return rm_err_set(err, RM_ERR_ARG, "socket path %s is longer than %zu bytes", path,
                          sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, path, strlen(path) + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return rm_err_set(err, RM_ERR_BUSY, "%s exists and is not a socket; not replacing it",
                              path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return rm_err_set(err, RM_ERR_IO, "socket: %s", strerror(errno));
        int r = connect(probe, (struct sockaddr *)&addr, sizeof addr);
        int e = errno;
        close(probe);
        if (r == 0)
            return rm_err_set(err, RM_ERR_BUSY, "%s: another daemon is listening on it", path);
        if (e != ECONNREFUSED)
            return rm_err_set(err, RM_ERR_IO, "%s: cannot tell whether it is stale: %s", path,
                              strerror(e));
        if (unlink(path) != 0)
            return rm_err_set(err, RM_ERR_IO, "%s: cannot remove the stale socket: %s", path,
                              strerror(errno));
        rm_log(&d->log, RM_LOG_INFO, "removed stale socket %s", path);
    } else if (errno != ENOENT) {
        return rm_err_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return rm_err_set(err, RM_ERR_IO, "socket: %s", strerror(errno));
    /* The mode comes from the umask at bind time: set it so the socket is
     * born 0660 (owner and group), never world-writable, with no window. */
    mode_t old = umask(0117);
    int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    umask(old);
    if (r != 0) {
        close(fd);
        return rm_err_set(err, e == EACCES ? RM_ERR_PERMISSION : RM_ERR_IO, "bind %s: %s", path,
                          strerror(e));
    }
    if (listen(fd, 16) != 0 || lstat(path, &st) != 0) {
        e = errno;
        close(fd);
        unlink(path);
        return rm_err_set(err, RM_ERR_IO, "listen %s: %s", path, strerror(e));
    }
    d->socket_ino = st.st_ino;
    d->socket_dev = st.st_dev;
    d->listen_fd = fd;
    return RM_OK;
}

rm_status rm_daemon_new(const rm_daemon_config *cfg, rm_daemon **out, rm_err *err)
{
    *out = NULL;
    rm_daemon_source src = cfg->source;
    rm_status st;
    if (!cfg->socket_path || !*cfg->socket_path || !cfg->recordings_dir || !*cfg->recordings_dir ||
        !cfg->open_recording || !src.start || !src.stop) {
        st = rm_err_set(err, RM_ERR_ARG,
                        "the daemon needs a socket path, a recordings folder, a source and a "
                        "recording opener");
        goto fail_src;
    }
    if (cfg->publish_hz != 0 && !(cfg->publish_hz >= 1 && cfg->publish_hz <= 100)) {
        st = rm_err_set(err, RM_ERR_RANGE, "publish rate %g Hz is outside 1..100", cfg->publish_hz);
        goto fail_src;
    }
    struct stat sb;
    if (stat(cfg->recordings_dir, &sb) != 0) {
        st = rm_err_set(err, RM_ERR_NOT_FOUND, "recordings folder %s: %s", cfg->recordings_dir,
                        strerror(errno));
        goto fail_src;
    }
    if (!S_ISDIR(sb.st_mode)) {
        st = rm_err_set(err, RM_ERR_ARG, "recordings folder %s is not a directory",
                        cfg->recordings_dir);
        goto fail_src;
    }
    if (access(cfg->recordings_dir, W_OK | X_OK) != 0) {
        st = rm_err_set(err, RM_ERR_PERMISSION, "recordings folder %s is not writable: %s",
                        cfg->recordings_dir, strerror(errno));
        goto fail_src;
    }

    rm_daemon *d = calloc(1, sizeof *d);
    if (!d) {
        st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
        goto fail_src;
    }
    d->listen_fd = -1;
    d->notify_fd = -1;
    d->source = src;
    d->open_recording = cfg->open_recording;
    d->open_user = cfg->open_user;
    d->live = cfg->live;
    d->publish_hz = cfg->publish_hz > 0 ? cfg->publish_hz : 15.0;
    d->idle_timeout_s = cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : RM_DAEMON_IDLE_TIMEOUT_S;
    d->log = cfg->log;
    d->socket_path = strdup(cfg->socket_path);
    d->recordings_dir = strdup(cfg->recordings_dir);
    if (!d->socket_path || !d->recordings_dir) {
        rm_daemon_free(d);
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    }
    d->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->notify_fd < 0) {
        st = rm_err_set(err, RM_ERR_IO, "eventfd: %s", strerror(errno));
        rm_daemon_free(d);
        return st;
    }
    if (cfg->bands)
        d->bands = *cfg->bands;
    else
        rm_daemon_bands_none(&d->bands);
    st = make_socket(d, err);
    if (st != RM_OK) {
        rm_daemon_free(d);
        return st;
    }
    if (cfg->http_addr) {
        rmd_http_params hp = {cfg->http_addr, cfg->http_token, http_command, d, d->log};
        st = rmd_http_new(&hp, &d->http, err);
        if (st != RM_OK) {
            rm_daemon_free(d);
            return st;
        }
        send_hello(d);
        rm_log(&d->log, RM_LOG_INFO, "live page on %s (port %d)", cfg->http_addr,
               rmd_http_port(d->http));
    }
    rm_log(&d->log, RM_LOG_INFO, "listening on %s, recordings in %s", d->socket_path,
           d->recordings_dir);
    *out = d;
    return RM_OK;

fail_src:
    if (src.free)
        src.free(src.ctx);
    return st;
}

/* ---- client output ------------------------------------------------------ */

static void client_drop(rm_daemon *d, rmd_client *c, const char *why)
{
    if (!c->dead)
        rm_log(&d->log, RM_LOG_INFO, "client %d: %s", c->fd, why);
    c->dead = 1;
}

/* Queues one line; a client that cannot take it is dropped: a slow reader
 * never holds up the daemon. */
static void client_queue(rm_daemon *d, rmd_client *c, const char *line, size_t len)
{
    if (c->dead)
        return;
    if (c->out_len + len + 1 > sizeof c->out) {
        client_drop(d, c, "output buffer full (client not reading): dropped");
        return;
    }
    memcpy(c->out + c->out_len, line, len);
    c->out_len += len;
    c->out[c->out_len++] = '\n';
}

static void client_send_json(rm_daemon *d, rmd_client *c, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(obj);
    if (!s) {
        client_drop(d, c, "out of memory for a reply");
        return;
    }
    client_queue(d, c, s, strlen(s));
    free(s);
}

static json_t *err_reply(const char *msg) { return json_pack("{s:b, s:s}", "ok", 0, "error", msg); }

/* Queues a command's reply (NULL: out of memory). */
static void client_reply(rm_daemon *d, rmd_client *c, json_t *o)
{
    if (!o) {
        client_drop(d, c, "out of memory for a reply");
        return;
    }
    client_send_json(d, c, o);
}

static void reply_error(rm_daemon *d, rmd_client *c, const char *msg)
{
    client_reply(d, c, err_reply(msg));
}

static void client_flush(rm_daemon *d, rmd_client *c)
{
    while (!c->dead && c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_drop(d, c, strerror(errno));
            return;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
}

static int count_subscribers(const rm_daemon *d)
{
    int n = 0;
    for (int i = 0; i < d->n_clients; i++)
        n += d->clients[i]->subscribed && !d->clients[i]->dead;
    return n + rmd_http_viewers(d->http);
}

static void update_subscribers(rm_daemon *d)
{
    if (d->tee)
        rmd_tee_set_subscribers(d->tee, count_subscribers(d));
}

static void broadcast(rm_daemon *d, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(obj);
    if (!s)
        return;
    size_t n = strlen(s);
    for (int i = 0; i < d->n_clients; i++)
        if (d->clients[i]->subscribed)
            client_queue(d, d->clients[i], s, n);
    rmd_http_publish(d->http, "stopped", s);
    free(s);
}

/* ---- recordings --------------------------------------------------------- */

static void publish_metric(rm_daemon *d);

/* Joins the source and records the outcome. */
static rm_status end_recording(rm_daemon *d, rm_err *err)
{
    if (!d->tee)
        return RM_OK;
    rm_err e = {0};
    rm_status st = d->source.stop(d->source.ctx, &e);
    publish_metric(d); /* subscribers see the last frames too */
    rmd_tee_state ts;
    rmd_tee_state_get(d->tee, &ts);
    /* The source's own message says more than the END status the sink saw. */
    if (st == RM_OK && ts.status != RM_OK) {
        st = ts.status;
        rm_err_set(&e, st, "%s", ts.error);
    }
    snprintf(d->last_file, sizeof d->last_file, "%s", d->rec_file);
    d->last_frames = ts.frames;
    if (st != RM_OK) {
        snprintf(d->last_error, sizeof d->last_error, "%s", rm_err_message(&e, st));
        rm_log(&d->log, RM_LOG_ERROR, "recording %s ended: %s", d->rec_file, d->last_error);
        if (err)
            *err = e;
    } else {
        d->last_error[0] = '\0';
        rm_log(&d->log, RM_LOG_INFO, "recording %s closed: %llu frames, %llu lost", d->rec_file,
               (unsigned long long)ts.frames, (unsigned long long)ts.lost);
    }
    rmd_tee_free(d->tee);
    d->tee = NULL;
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "type", "stopped", "file", d->rec_file, "frames",
                          (json_int_t)ts.frames, "lost", (json_int_t)ts.lost);
    if (o && st != RM_OK)
        json_object_set_new(o, "error", json_string(d->last_error));
    if (o)
        broadcast(d, o);
    d->rec_file[0] = '\0';
    return st;
}

rm_status rm_daemon_stop_recording(rm_daemon *d, rm_err *err) { return end_recording(d, err); }

int rm_daemon_recording(const rm_daemon *d) { return d->tee != NULL; }

/* The file name for a start command: the client's name (validated) or the
 * UTC time, plus ".h5"; never an existing path. */
static rm_status pick_file(rm_daemon *d, const char *name, char *file, size_t cap, rm_err *err)
{
    char path[PATH_MAX];
    struct stat st;
    if (name) {
        if (!rm_daemon_name_valid(name))
            return rm_err_set(err, RM_ERR_ARG,
                              "name '%.80s' is not allowed: use 1-%d of A-Z a-z 0-9 . _ -, not "
                              "starting with '.', without '..'",
                              name, RM_DAEMON_NAME_MAX - 4);
        size_t n = strlen(name);
        int has_ext = n > 3 && !strcmp(name + n - 3, ".h5");
        snprintf(file, cap, "%s%s", name, has_ext ? "" : ".h5");
        snprintf(path, sizeof path, "%s/%s", d->recordings_dir, file);
        if (lstat(path, &st) == 0)
            return rm_err_set(err, RM_ERR_BUSY, "recording %s exists; not overwriting it", file);
        return RM_OK;
    }
    char base[32];
    rm_daemon_default_name(rmd_unix_now(), base, sizeof base);
    for (int i = 1; i < 1000; i++) {
        if (i == 1)
            snprintf(file, cap, "%s.h5", base);
        else
            snprintf(file, cap, "%s-%d.h5", base, i);
        snprintf(path, sizeof path, "%s/%s", d->recordings_dir, file);
        if (lstat(path, &st) != 0 && errno == ENOENT)
            return RM_OK;
    }
    return rm_err_set(err, RM_ERR_BUSY, "no free recording name for %s", base);
}

/* Text fields from clients end up in HDF5 attributes and logs: printable
 * only, bounded. */
static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Refuses a start when the recordings folder's file system is (nearly)
 * full: the space an unprivileged daemon may use (f_bavail). */
static rm_status check_space(const rm_daemon *d, rm_err *err)
{
    struct statvfs vfs;
    if (statvfs(d->recordings_dir, &vfs) != 0)
        return rm_err_set(err, RM_ERR_IO, "recordings folder %s: %s", d->recordings_dir,
                          strerror(errno));
    unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    if (avail < RMD_MIN_FREE_BYTES)
        return rm_err_set(err, RM_ERR_IO,
                          "recordings folder %s: disk full (%llu KiB free, a recording needs at "
                          "least %llu KiB)",
                          d->recordings_dir, avail >> 10, RMD_MIN_FREE_BYTES >> 10);
    return RM_OK;
}

static json_t *cmd_start(rm_daemon *d, json_t *req)
{
    if (d->tee) {
        char msg[160];
        snprintf(msg, sizeof msg, "already recording to %s", d->rec_file);
        return err_reply(msg);
    }
    const char *key;
    json_t *v;
    const char *name = NULL, *subject = "", *label = NULL;
    double mass = 0;
    json_object_foreach(req, key, v)
    {
        if (!strcmp(key, "cmd"))
            continue;
        if (!strcmp(key, "name")) {
            name = json_string_value(v);
            if (!name) {
                return err_reply("name must be a string");
            }
        } else if (!strcmp(key, "subject")) {
            subject = json_string_value(v);
            if (!subject || !text_ok(subject, 63)) {
                return err_reply("subject must be 1-63 printable characters");
            }
        } else if (!strcmp(key, "label")) {
            label = json_string_value(v);
            if (!label || !text_ok(label, RM_EVENT_TEXT_LEN - 1)) {
                return err_reply("label must be 1-127 printable characters");
            }
        } else if (!strcmp(key, "body_mass_kg")) {
            mass = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(mass > 0 && mass <= 500)) {
                return err_reply("body_mass_kg must be a number in (0, 500]");
            }
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "start: unknown field '%.60s'", key);
            return err_reply(msg);
        }
    }
    rm_err e = {0};
    char file[RM_DAEMON_NAME_MAX];
    rm_status st = check_space(d, &e);
    if (st == RM_OK)
        st = pick_file(d, name, file, sizeof file, &e);
    if (st != RM_OK) {
        rm_log(&d->log, RM_LOG_WARN, "start refused: %s", e.msg);
        return err_reply(rm_err_message(&e, st));
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->recordings_dir, file);
    rm_sink out = {0};
    st = d->open_recording(d->open_user, path, &out, &e);
    if (st != RM_OK) {
        return err_reply(rm_err_message(&e, st));
    }
    char title[128];
    snprintf(title, sizeof title, "%.*s", (int)(strlen(file) - 3), file);
    rmd_tee_params p = {out, title, subject, mass, d->live, d->publish_hz, d->notify_fd, d->log};
    rmd_tee *tee;
    st = rmd_tee_new(&p, &tee, &e);
    if (st != RM_OK) {
        return err_reply(rm_err_message(&e, st));
    }
    rmd_tee_set_subscribers(tee, count_subscribers(d));
    if (label)
        rmd_tee_label(tee, label, NULL, NULL);
    rm_sink ts = rmd_tee_sink(tee);
    st = d->source.start(d->source.ctx, &ts, &e);
    if (st != RM_OK) {
        rmd_tee_free(tee);
        rm_log(&d->log, RM_LOG_ERROR, "start %s: %s", file, rm_err_message(&e, st));
        return err_reply(rm_err_message(&e, st));
    }
    d->tee = tee;
    snprintf(d->rec_file, sizeof d->rec_file, "%s", file);
    /* A source that cannot start (no mat, a STALL, an unreadable stream)
     * or a file that cannot be created (the recording sink creates it with
     * the first frame) fails within moments: answer this start with its
     * error rather than with an ok followed by a "stopped" line. */
    if (rmd_tee_wait_started(tee, RMD_START_WAIT_S) == 0) {
        end_recording(d, &e);
        char msg[600];
        snprintf(msg, sizeof msg, "start %s: %s", file,
                 d->last_error[0] ? d->last_error : "the source ended");
        return err_reply(msg);
    }
    snprintf(d->rec_subject, sizeof d->rec_subject, "%s", subject);
    snprintf(d->rec_label, sizeof d->rec_label, "%s", label ? label : "");
    d->rec_body_mass = mass;
    d->rec_started_unix = rmd_unix_now();
    update_subscribers(d);
    rm_log(&d->log, RM_LOG_INFO, "recording %s started", file);
    json_t *o = json_pack("{s:b, s:s}", "ok", 1, "file", file);
    return o;
}

static json_t *cmd_label(rm_daemon *d, json_t *req)
{
    const char *label = json_string_value(json_object_get(req, "label"));
    if (!label || !text_ok(label, RM_EVENT_TEXT_LEN - 1)) {
        return err_reply("label must be 1-127 printable characters");
    }
    if (!d->tee) {
        return err_reply("not recording");
    }
    rm_err e = {0};
    double t = 0;
    rm_status st = rmd_tee_label(d->tee, label, &t, &e);
    if (st != RM_OK) {
        return err_reply(rm_err_message(&e, st));
    }
    snprintf(d->rec_label, sizeof d->rec_label, "%s", label);
    rm_log(&d->log, RM_LOG_INFO, "label '%s' at %.3f s", label, t);
    json_t *o = json_pack("{s:b, s:s, s:f}", "ok", 1, "label", label, "time_s", t);
    return o;
}

static json_t *cmd_stop(rm_daemon *d)
{
    if (!d->tee) {
        return err_reply("not recording");
    }
    rm_err e = {0};
    rm_status st = end_recording(d, &e);
    if (st != RM_OK) {
        return err_reply(rm_err_message(&e, st));
    }
    json_t *o = json_pack("{s:b, s:s, s:I}", "ok", 1, "file", d->last_file, "frames",
                          (json_int_t)d->last_frames);
    return o;
}

static json_t *cmd_status(rm_daemon *d)
{
    json_t *o = json_pack("{s:b, s:s, s:i}", "ok", 1, "state", d->tee ? "recording" : "idle",
                          "clients", d->n_clients);
    if (!o)
        return NULL;
    if (d->tee) {
        rmd_tee_state ts;
        rmd_tee_state_get(d->tee, &ts);
        json_object_set_new(o, "file", json_string(d->rec_file));
        json_object_set_new(o, "subject", json_string(d->rec_subject));
        json_object_set_new(o, "label", json_string(d->rec_label));
        if (d->rec_body_mass > 0)
            json_object_set_new(o, "body_mass_kg", json_real(d->rec_body_mass));
        json_object_set_new(o, "elapsed_s", json_real(rmd_unix_now() - d->rec_started_unix));
        json_object_set_new(o, "frames", json_integer((json_int_t)ts.frames));
        json_object_set_new(o, "lost", json_integer((json_int_t)ts.lost));
        if (ts.status != RM_OK)
            json_object_set_new(o, "error", json_string(ts.error));
    }
    if (d->last_file[0])
        json_object_set_new(o, "last_file", json_string(d->last_file));
    if (d->last_error[0])
        json_object_set_new(o, "last_error", json_string(d->last_error));
    if (d->http) {
        json_object_set_new(o, "viewers", json_integer(rmd_http_viewers(d->http)));
        json_object_set_new(o, "viewer_events_dropped",
                            json_integer((json_int_t)rmd_http_dropped(d->http)));
    }
    return o;
}

static void handle_line(rm_daemon *d, rmd_client *c, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        char msg[256];
        snprintf(msg, sizeof msg, "bad JSON at column %d: %s", jerr.column, jerr.text);
        reply_error(d, c, msg);
        return;
    }
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (!json_is_object(req) || !cmd) {
        reply_error(d, c, "expected an object with a string \"cmd\"");
    } else if (!strcmp(cmd, "status")) {
        client_reply(d, c, cmd_status(d));
    } else if (!strcmp(cmd, "start")) {
        client_reply(d, c, cmd_start(d, req));
    } else if (!strcmp(cmd, "label")) {
        client_reply(d, c, cmd_label(d, req));
    } else if (!strcmp(cmd, "stop")) {
        client_reply(d, c, cmd_stop(d));
    } else if (!strcmp(cmd, "subscribe") && c->reserve) {
        reply_error(d, c,
                    "subscribe: all regular connections are taken; this one is kept for "
                    "control commands (status, start, label, stop)");
    } else if (!strcmp(cmd, "subscribe") || !strcmp(cmd, "unsubscribe")) {
        c->subscribed = !strcmp(cmd, "subscribe");
        c->heat = c->subscribed && json_is_true(json_object_get(req, "heat"));
        update_subscribers(d);
        json_t *o =
            json_pack("{s:b, s:b, s:f}", "ok", 1, "subscribed", c->subscribed, "hz", d->publish_hz);
        json_t *b = bands_json(&d->bands);
        if (o && b)
            json_object_set_new(o, "bands", b);
        if (o)
            client_send_json(d, c, o);
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown command '%.40s'", cmd);
        reply_error(d, c, msg);
    }
    json_decref(req);
}

/* ---- the poll loop ------------------------------------------------------ */

/* A command is taken only when the longest reply fits in the client's
 * output buffer: a burst of commands waits in the input (and then in the
 * socket) until the client has read earlier replies, instead of
 * overflowing the output and getting the client dropped. */
#define RMD_REPLY_ROOM 2048

static int reply_fits(const rmd_client *c) { return sizeof c->out - c->out_len >= RMD_REPLY_ROOM; }

/* 1 if a whole command line waits in the input. */
static int has_line(const rmd_client *c) { return memchr(c->in, '\n', c->in_len) != NULL; }

/* Answers the complete lines in the input while their replies fit. */
static void process_lines(rm_daemon *d, rmd_client *c)
{
    size_t start = 0;
    for (size_t i = 0; i < c->in_len && !c->dead; i++) {
        if (c->in[i] != '\n')
            continue;
        if (!c->discarding) {
            if (!reply_fits(c))
                break;
            c->active = rmd_mono_now();
            handle_line(d, c, c->in + start, i - start);
        }
        c->discarding = 0;
        start = i + 1;
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len == sizeof c->in && has_line(c) && !reply_fits(c)) {
        /* 64 KiB of replies unread and 4 KiB more commands: not a burst,
         * a client that does not read. */
        client_drop(d, c, "not reading its replies: dropped");
        return;
    }
    if (c->in_len == sizeof c->in && !has_line(c)) {
        if (!c->discarding) {
            char msg[96];
            snprintf(msg, sizeof msg, "line longer than %d bytes", RM_DAEMON_LINE_MAX - 1);
            reply_error(d, c, msg);
        }
        c->discarding = 1;
        c->in_len = 0;
    }
}

static void client_read(rm_daemon *d, rmd_client *c)
{
    for (;;) {
        size_t room = sizeof c->in - c->in_len;
        if (room == 0)
            return; /* full of commands waiting for output room */
        ssize_t n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_drop(d, c, strerror(errno));
            return;
        }
        if (n == 0) {
            c->eof = 1;
            return;
        }
        c->in_len += (size_t)n;
        process_lines(d, c);
        if (c->dead || (size_t)n < room)
            return;
    }
}

static void accept_clients(rm_daemon *d)
{
    for (;;) {
        int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                rm_log(&d->log, RM_LOG_WARN, "accept: %s", strerror(errno));
            return;
        }
        int regular = 0;
        for (int i = 0; i < d->n_clients; i++)
            regular += !d->clients[i]->reserve;
        if (d->n_clients >= RM_DAEMON_MAX_CLIENTS + RM_DAEMON_RESERVE_CLIENTS) {
            static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";
            if (send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            }
            close(fd);
            rm_log(&d->log, RM_LOG_WARN, "refused a client: %d connected", d->n_clients);
            continue;
        }
        rmd_client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->reserve = regular >= RM_DAEMON_MAX_CLIENTS;
        c->active = rmd_mono_now();
        d->clients[d->n_clients++] = c;
        if (c->reserve)
            rm_log(&d->log, RM_LOG_WARN, "client %d: %d connections; this one on a reserve slot",
                   fd, d->n_clients);
        rm_log(&d->log, RM_LOG_DEBUG, "client %d connected", fd);
    }
}

static const char *state_name(int state)
{
    switch (state) {
    case RM_DAEMON_STATE_LIFTED: return "lifted";
    case RM_DAEMON_STATE_NO_ROLLER: return "no_roller";
    case RM_DAEMON_STATE_ROLLING: return "rolling";
    case RM_DAEMON_STATE_HOLDING: return "holding";
    default: return NULL;
    }
}

/* The cue while rolling. With a speed band: the pace (|speed| smoothed
 * over rolling) against it. Without one but with a pass band (behm2020
 * judges 2-4 s per one-way pass): the last complete pass's duration
 * against it, too short = "slower", too long = "faster"; a pass still under
 * way that already outlasts the band says "faster" at once. The cue is
 * held through the short stops of the turns (still "rolling" in the tee's
 * terms) and gone once the roller holds or leaves. *by says which band
 * judged ("speed", "pass"), NULL when there is no cue. */
static const char *live_cue(rm_daemon *d, const rmd_live *l, const char **by)
{
    const rm_daemon_bands *b = &d->bands;
    *by = NULL;
    if (l->m.state != RM_DAEMON_STATE_ROLLING) {
        d->cue[0] = '\0';
        return NULL;
    }
    double x = NAN, lo = NAN, hi = NAN;
    if (isfinite(b->speed_lo)) {
        x = l->pace_cm_s;
        lo = b->speed_lo;
        hi = b->speed_hi;
        *by = "speed";
    } else if (isfinite(b->pass_lo)) {
        x = isfinite(l->pass_s) && l->pass_s > b->pass_hi ? l->pass_s : l->last_pass_s;
        /* A short pass is a fast one: the words are swapped. */
        lo = -b->pass_hi;
        hi = -b->pass_lo;
        x = -x;
        *by = "pass";
    }
    if (isfinite(x))
        snprintf(d->cue, sizeof d->cue, "%s", x > hi ? "slower" : x < lo ? "faster" : "good");
    if (!d->cue[0])
        *by = NULL;
    return d->cue[0] ? d->cue : NULL;
}

/* One live sample as the JSON of docs/daemon.md ("Live lines"). */
static json_t *live_json(rm_daemon *d, const rmd_live *l, double now_mono)
{
    const rm_daemon_metrics *m = &l->m;
    json_t *o = json_object();
    if (!o)
        return NULL;
        /* NaN is not JSON: unknown values are null. */
#define RMD_NUM(key, val) json_object_set_new(o, key, isfinite(val) ? json_real(val) : json_null())
    json_object_set_new(o, "type", json_string("metrics"));
    RMD_NUM("time", m->time_s);
    json_object_set_new(o, "frames", json_integer((json_int_t)l->frames));
    json_object_set_new(o, "lost", json_integer((json_int_t)l->lost));
    RMD_NUM("roller_x_cm", m->roller_x_cm);
    RMD_NUM("speed_cm_s", m->speed_cm_s);
    RMD_NUM("roller_force_n", m->roller_force_n);
    RMD_NUM("load_share", m->load_share);
    RMD_NUM("total_force_n", m->total_force_n);
    /* From the frame's arrival at the daemon's sink to this line leaving
     * it; and the frame's age on the host clock (a USB source stamps
     * time_s at arrival, so this includes the ring and the writer). */
    double delay_ms = (now_mono - l->arrival_mono) * 1e3;
    RMD_NUM("delay_ms", delay_ms);
    rmd_tee_state ts;
    rmd_tee_state_get(d->tee, &ts);
    double now_unix = rmd_unix_now();
    double age_ms = ts.created_unix > 0 && !ts.replay && isfinite(m->time_s)
                        ? (now_unix - ts.created_unix - m->time_s) * 1e3
                        : NAN;
    RMD_NUM("age_ms", age_ms);
    /* The coach's view (docs/daemon.md): state, cue, timers, group. */
    const char *state = state_name(m->state);
    json_object_set_new(o, "state", state ? json_string(state) : json_null());
    const char *by = NULL;
    const char *cue = live_cue(d, l, &by);
    json_object_set_new(o, "cue", cue ? json_string(cue) : json_null());
    json_object_set_new(o, "cue_by", by ? json_string(by) : json_null());
    RMD_NUM("pace_cm_s", l->pace_cm_s);
    RMD_NUM("pass_s", l->pass_s);
    RMD_NUM("last_pass_s", l->last_pass_s);
    RMD_NUM("hold_s", l->hold_s);
    RMD_NUM("set_s", l->set_s);
    RMD_NUM("session_s", l->session_s);
    json_object_set_new(o, "label", json_string(d->rec_label));
    json_object_set_new(o, "disconnected", json_boolean(l->disconnected));
    /* Unix time the frame reached the daemon: a viewer on the same clock
     * measures its own latency from it. */
    double arrival_unix = now_unix - (now_mono - l->arrival_mono);
    json_object_set_new(o, "arrival_unix_us", json_integer((json_int_t)(arrival_unix * 1e6)));
#undef RMD_NUM
    return o;
}

static void add_heat(json_t *o, const rmd_live *l)
{
    json_t *a = json_array();
    if (!a)
        return;
    for (unsigned i = 0; i < (unsigned)l->heat_rows * l->heat_cols; i++)
        json_array_append_new(a, json_integer(l->heat[i]));
    json_t *h =
        json_pack("{s:i, s:i, s:i, s:f, s:f, s:o}", "rows", l->heat_rows, "cols", l->heat_cols,
                  "block", l->heat_block, "length_cm", l->rows * l->row_pitch_mm / 10, "width_cm",
                  l->cols * l->col_pitch_mm / 10, "kpa", a);
    if (h)
        json_object_set_new(o, "heat", h);
}

static char *dump(json_t *o)
{
    return o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6)) : NULL;
}

static void publish_metric(rm_daemon *d)
{
    rmd_live *l = d->tee ? malloc(sizeof *l) : NULL;
    if (!l)
        return;
    if (!rmd_tee_take_live(d->tee, l)) {
        free(l);
        return;
    }
    json_t *o = live_json(d, l, rmd_mono_now());
    char *plain = dump(o);
    add_heat(o, l);
    char *heat = dump(o);
    json_decref(o);
    free(l);
    for (int i = 0; i < d->n_clients; i++) {
        rmd_client *c = d->clients[i];
        const char *s = c->heat ? heat : plain;
        if (c->subscribed && s)
            client_queue(d, c, s, strlen(s));
    }
    if (heat)
        rmd_http_publish(d->http, "metrics", heat);
    free(plain);
    free(heat);
}

/* ---- the live page ------------------------------------------------------ */

void rm_daemon_bands_none(rm_daemon_bands *b)
{
    b->profile[0] = '\0';
    b->speed_lo = b->speed_hi = b->speed_target = NAN;
    b->pass_lo = b->pass_hi = NAN;
    b->hold_lo = b->hold_hi = b->set_lo = b->set_hi = b->daily_lo = b->daily_hi = NAN;
}

int rm_daemon_http_port(const rm_daemon *d) { return d->http ? rmd_http_port(d->http) : 0; }

static json_t *band_json(double lo, double hi)
{
    return isfinite(lo) && isfinite(hi) ? json_pack("[f, f]", lo, hi) : json_null();
}

/* The profile's bands as JSON (NULL: out of memory). */
static json_t *bands_json(const rm_daemon_bands *b)
{
    json_t *bands = json_object();
    if (!bands)
        return NULL;
    json_object_set_new(bands, "speed_cm_s", band_json(b->speed_lo, b->speed_hi));
    json_object_set_new(bands, "speed_target_cm_s",
                        isfinite(b->speed_target) ? json_real(b->speed_target) : json_null());
    json_object_set_new(bands, "pass_s", band_json(b->pass_lo, b->pass_hi));
    json_object_set_new(bands, "hold_s", band_json(b->hold_lo, b->hold_hi));
    json_object_set_new(bands, "set_s", band_json(b->set_lo, b->set_hi));
    json_object_set_new(bands, "daily_s", band_json(b->daily_lo, b->daily_hi));
    return bands;
}

/* What every new viewer gets first: the bands it judges against. */
static void send_hello(rm_daemon *d)
{
    json_t *o = json_pack("{s:s, s:s, s:f}", "type", "hello", "profile", d->bands.profile, "hz",
                          d->publish_hz);
    if (!o)
        return;
    json_t *bands = bands_json(&d->bands);
    if (bands)
        json_object_set_new(o, "bands", bands);
    char *s = dump(o);
    json_decref(o);
    if (s)
        rmd_http_set_hello(d->http, s);
    free(s);
}

/* The recording's state to viewers: at once after a command, and once a
 * second (a heartbeat that also shows a mat that stopped sending). */
static void send_status(rm_daemon *d)
{
    if (!d->http)
        return;
    d->last_beat = rmd_mono_now();
    if (!rmd_http_viewers(d->http))
        return;
    json_t *o = cmd_status(d);
    if (!o)
        return;
    json_object_del(o, "ok");
    json_object_set_new(o, "type", json_string("status"));
    if (d->tee) {
        rmd_tee_state ts;
        rmd_tee_state_get(d->tee, &ts);
        json_object_set_new(o, "last_frame_s", json_real(ts.last_frame_age_s));
    }
    char *s = dump(o);
    json_decref(o);
    if (s)
        rmd_http_publish(d->http, "status", s);
    free(s);
}

static json_t *http_command(void *user, const char *cmd, json_t *req)
{
    rm_daemon *d = user;
    json_t *r;
    if (!strcmp(cmd, "start"))
        r = cmd_start(d, req);
    else if (!strcmp(cmd, "stop"))
        r = cmd_stop(d);
    else if (!strcmp(cmd, "label"))
        r = cmd_label(d, req);
    else
        return cmd_status(d);
    rm_log(&d->log, RM_LOG_INFO, "live page: %s: %s", cmd,
           json_is_true(json_object_get(r, "ok")) ? "ok" : "refused");
    send_status(d);
    return r;
}

static double idle_limit(const rm_daemon *d, const rmd_client *c)
{
    return c->reserve && RM_DAEMON_RESERVE_IDLE_S < d->idle_timeout_s ? RM_DAEMON_RESERVE_IDLE_S
                                                                      : d->idle_timeout_s;
}

/* Milliseconds until the next idle client is due to be closed; -1 if none. */
static int idle_wait_ms(const rm_daemon *d)
{
    double now = rmd_mono_now(), next = -1;
    for (int i = 0; i < d->n_clients; i++) {
        const rmd_client *c = d->clients[i];
        if (c->subscribed || c->dead)
            continue;
        double left = c->active + idle_limit(d, c) - now;
        if (next < 0 || left < next)
            next = left > 0 ? left : 0;
    }
    return next < 0 ? -1 : (int)ceil(next * 1000.0);
}

/* Closes clients that hold a connection without using it: they would
 * otherwise take every slot. Subscribers read live lines and stay. */
static void drop_idle(rm_daemon *d)
{
    double now = rmd_mono_now();
    for (int i = 0; i < d->n_clients; i++) {
        rmd_client *c = d->clients[i];
        if (!c->subscribed && !c->dead && now - c->active >= idle_limit(d, c))
            client_drop(d, c, "idle: no command for too long; closed");
    }
}

static void reap_clients(rm_daemon *d)
{
    int j = 0, changed = 0;
    for (int i = 0; i < d->n_clients; i++) {
        rmd_client *c = d->clients[i];
        if (c->dead || (c->eof && c->out_len == 0 && !has_line(c))) {
            close(c->fd);
            free(c);
            changed = 1;
        } else {
            d->clients[j++] = c;
        }
    }
    d->n_clients = j;
    if (changed)
        update_subscribers(d);
}

/* One poll() round: accepts, reads and answers clients, publishes a due
 * metric, notices a recording that ended by itself, writes queued output. */
static rm_status poll_once(rm_daemon *d, int wake_fd, int timeout_ms, int *woken, rm_err *err)
{
    struct pollfd fds[4 + RM_DAEMON_MAX_CLIENTS + RM_DAEMON_RESERVE_CLIENTS];
    int n = 0;
    fds[n++] = (struct pollfd){d->listen_fd, POLLIN, 0};
    fds[n++] = (struct pollfd){d->notify_fd, POLLIN, 0};
    int wake_i = -1;
    if (wake_fd >= 0) {
        wake_i = n;
        fds[n++] = (struct pollfd){wake_fd, POLLIN, 0};
    }
    int http_i = -1;
    if (d->http) {
        http_i = n;
        fds[n++] = (struct pollfd){rmd_http_fd(d->http), POLLIN, 0};
        /* The heartbeat to viewers is due once a second. */
        int beat_ms = (int)((d->last_beat + 1.0 - rmd_mono_now()) * 1e3) + 1;
        int ht = rmd_http_timeout_ms(d->http);
        if (beat_ms < 0)
            beat_ms = 0;
        if (ht < 0 || beat_ms < ht)
            ht = beat_ms;
        if (timeout_ms < 0 || ht < timeout_ms)
            timeout_ms = ht;
    }
    int first_client = n;
    int n_polled = d->n_clients;
    for (int i = 0; i < n_polled; i++) {
        rmd_client *c = d->clients[i];
        short ev = c->eof || c->in_len == sizeof c->in ? 0 : POLLIN;
        if (c->out_len > 0)
            ev |= POLLOUT;
        fds[n++] = (struct pollfd){c->fd, ev, 0};
    }
    int idle_ms = idle_wait_ms(d);
    if (idle_ms >= 0 && (timeout_ms < 0 || idle_ms < timeout_ms))
        timeout_ms = idle_ms;
    int r = poll(fds, (nfds_t)n, timeout_ms);
    if (r < 0) {
        if (errno == EINTR)
            return RM_OK;
        return rm_err_set(err, RM_ERR_IO, "poll: %s", strerror(errno));
    }
    if (wake_i >= 0 && (fds[wake_i].revents & POLLIN) && woken)
        *woken = 1;
    if (fds[1].revents & POLLIN) {
        uint64_t v;
        if (read(d->notify_fd, &v, sizeof v) < 0) {
        }
    }
    /* Clients first, so that a stop asked for now is answered before a
     * finished recording is reaped on its own. */
    for (int i = 0; i < n_polled; i++) {
        rmd_client *c = d->clients[i];
        short re = fds[first_client + i].revents;
        if (!c->eof && (re & (POLLIN | POLLHUP | POLLERR)))
            client_read(d, c);
        else if (c->eof && (re & (POLLHUP | POLLERR)))
            client_drop(d, c, "disconnected");
    }
    if (d->tee) {
        rmd_tee_state ts;
        rmd_tee_state_get(d->tee, &ts);
        if (ts.finished)
            end_recording(d, NULL);
        else
            publish_metric(d);
    }
    if (fds[0].revents & POLLIN)
        accept_clients(d);
    for (int i = 0; i < d->n_clients; i++) {
        rmd_client *c = d->clients[i];
        client_flush(d, c);
        /* Commands held back for output room, now that some was made. */
        while (!c->dead && has_line(c) && reply_fits(c)) {
            size_t before = c->in_len;
            process_lines(d, c);
            client_flush(d, c);
            if (c->in_len == before)
                break;
        }
    }
    drop_idle(d);
    reap_clients(d);
    if (d->http) {
        (void)http_i;
        /* Requests (commands run here, on this thread), then what the
         * metrics above queued for the viewers. */
        rmd_http_run(d->http);
        if (rmd_mono_now() - d->last_beat >= 1.0)
            send_status(d);
        rmd_http_run(d->http);
        update_subscribers(d); /* viewers come and go inside rmd_http_run */
    }
    return RM_OK;
}

rm_status rm_daemon_step(rm_daemon *d, int timeout_ms, rm_err *err)
{
    return poll_once(d, -1, timeout_ms, NULL, err);
}

rm_status rm_daemon_run(rm_daemon *d, int wake_fd, rm_err *err)
{
    int woken = 0;
    while (!woken) {
        rm_status st = poll_once(d, wake_fd, -1, &woken, err);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}

void rm_daemon_free(rm_daemon *d)
{
    if (!d)
        return;
    end_recording(d, NULL);
    for (int i = 0; i < d->n_clients; i++) {
        client_flush(d, d->clients[i]);
        close(d->clients[i]->fd);
        free(d->clients[i]);
    }
    d->n_clients = 0;
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        /* Remove the socket only if it is still ours. */
        struct stat st;
        if (lstat(d->socket_path, &st) == 0 && st.st_ino == d->socket_ino &&
            st.st_dev == d->socket_dev)
            unlink(d->socket_path);
    }
    rmd_http_free(d->http);
    if (d->notify_fd >= 0)
        close(d->notify_fd);
    if (d->source.free)
        d->source.free(d->source.ctx);
    free(d->socket_path);
    free(d->recordings_dir);
    free(d);
}

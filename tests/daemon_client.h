/* daemon_client.h - helpers shared by the rollmatd tests (test_daemon.c,
 * usb_daemon.c): a line-based JSON client of the control socket and a
 * spawner of the rollmatd binary that waits for its "ready" line. Every
 * wait is bounded: a hung daemon fails the test instead of hanging it. */
#ifndef RM_TEST_DAEMON_CLIENT_H
#define RM_TEST_DAEMON_CLIENT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_daemon.h"

/* ---- a line-based client ------------------------------------------------ */

typedef struct client {
    int fd;
    int metrics_skipped; /* live lines passed over while waiting for a reply */
    size_t len;
    char buf[1 << 16];
} client;

static client *client_connect(const char *path)
{
    client *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(c->fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0, "connect %s: %s", path,
                 strerror(errno));
    return c;
}

static void client_close(client *c)
{
    close(c->fd);
    free(c);
}

static void client_send(client *c, const char *line)
{
    size_t n = strlen(line);
    cr_assert_eq(send(c->fd, line, n, MSG_NOSIGNAL), (ssize_t)n);
    cr_assert_eq(send(c->fd, "\n", 1, MSG_NOSIGNAL), 1);
}

/* Next line from the daemon as JSON. With `d` the in-process daemon is
 * stepped while waiting; either way the wait is bounded (a hung daemon
 * fails the test instead of hanging it). */
static json_t *client_recv(client *c, rm_daemon *d)
{
    for (int round = 0; round < 3000; round++) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            json_error_t je;
            json_t *j = json_loadb(c->buf, n, 0, &je);
            cr_assert_not_null(j, "daemon sent a line that is not JSON: %.*s", (int)n, c->buf);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return j;
        }
        if (d) {
            rm_err e = {0};
            cr_assert_eq(rm_daemon_step(d, 10, &e), RM_OK, "%s", e.msg);
        } else {
            struct pollfd p = {c->fd, POLLIN, 0};
            poll(&p, 1, 10);
        }
        ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
        if (got > 0)
            c->len += (size_t)got;
        else if (got == 0)
            cr_assert_fail("the daemon closed the connection");
    }
    cr_assert_fail("no reply from the daemon within 30 s");
    return NULL;
}

/* Next reply (skipping live metric lines). */
static const char *reply_str(json_t *j, const char *key);

static json_t *client_reply(client *c, rm_daemon *d)
{
    for (;;) {
        json_t *j = client_recv(c, d);
        if (!json_object_get(j, "type"))
            return j;
        cr_assert_str_neq(reply_str(j, "type"), "stopped", "unexpected end of the recording");
        c->metrics_skipped += !strcmp(reply_str(j, "type"), "metrics");
        json_decref(j);
    }
}

static json_t *ask(client *c, rm_daemon *d, const char *line)
{
    client_send(c, line);
    return client_reply(c, d);
}

static json_t *ask(client *c, rm_daemon *d, const char *line);

/* Waits (bounded) until the recording holds `frames` frames: the replay
 * runs on its own thread, so the test asks the daemon, never sleeps. */
static void wait_frames(client *c, rm_daemon *d, long long frames)
{
    long long got = -1;
    for (int round = 0; round < 6000 && got < frames; round++) {
        json_t *r = ask(c, d, "{\"cmd\":\"status\"}");
        got = json_integer_value(json_object_get(r, "frames"));
        json_decref(r);
        if (got < frames) {
            if (d) {
                rm_err e = {0};
                rm_daemon_step(d, 5, &e);
            } else {
                poll(NULL, 0, 5);
            }
        }
    }
    cr_assert_eq(got, frames, "the recording holds %lld frames, expected %lld", got, frames);
}

static int reply_ok(json_t *j) { return json_is_true(json_object_get(j, "ok")); }

static const char *reply_str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

/* ---- the rollmatd binary ------------------------------------------------ */

typedef struct proc {
    pid_t pid;
    int out; /* its stdout */
} proc;

static const char *rollmatd_path(void)
{
    const char *p = getenv("ROLLMATD");
    return p ? p : RM_BUILD_DIR "/cli/rollmatd";
}

/* Starts rollmatd and waits for its "ready" line (bounded). */
static proc spawn_daemon(char *const argv[])
{
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    proc p = {fork(), pfd[0]};
    cr_assert_geq(p.pid, 0);
    if (p.pid == 0) {
        /* A failed test must not leave a daemon behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    char line[64];
    size_t n = 0;
    while (n < sizeof line - 1) {
        struct pollfd q = {p.out, POLLIN, 0};
        cr_assert_gt(poll(&q, 1, 60000), 0, "rollmatd did not get ready within 60 s");
        ssize_t got = read(p.out, line + n, 1);
        cr_assert_eq(got, 1, "rollmatd exited before it was ready");
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    cr_assert_str_eq(line, "ready");
    return p;
}

static int wait_exit(proc p)
{
    int status = 0;
    cr_assert_eq(waitpid(p.pid, &status, 0), p.pid);
    close(p.out);
    cr_assert(WIFEXITED(status), "rollmatd died of a signal (%d)",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

/* Opens a recording with the session reader; counts its frames and the
 * label events matching `labels` in order. */
#endif

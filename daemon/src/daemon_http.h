/* daemon_http.h - internal to rm_daemon: the live page's HTTP server
 * (libmicrohttpd) run from the daemon's own poll loop.
 *
 * Everything runs on the poll thread: libmicrohttpd is started without a
 * thread of its own (external event loop, epoll), the daemon polls
 * rmd_http_fd and calls rmd_http_run. So commands from the page run on the
 * same thread as those from the control socket, with no locking.
 *
 * Server-Sent Events: every viewer has a queue of at most RMD_SSE_QUEUE
 * events; a viewer that does not read loses its oldest events (counted),
 * never slowing the daemon or the other viewers. */
#ifndef RM_DAEMON_HTTP_H
#define RM_DAEMON_HTTP_H

#include <jansson.h>
#include <stdint.h>

#include "rm_status.h"

#define RMD_SSE_QUEUE      32    /* events queued per viewer (about 2 s at 15 Hz) */
#define RMD_HTTP_MAX_SSE   32    /* viewers at once */
#define RMD_HTTP_MAX_CONN  64    /* connections at once, viewers included */
#define RMD_HTTP_BODY_MAX  4096  /* bytes of a command's body */
#define RMD_HTTP_MEM_LIMIT 32768 /* bytes of a request's head (line + headers) */
#define RMD_HTTP_TIMEOUT_S 15    /* an idle connection is closed after this */

typedef struct rmd_http rmd_http;

/* Runs a command ("start", "stop", "label", "status") with its request
 * object (borrowed) and returns the reply (owned by the caller), whose
 * "ok" says how it went. */
typedef json_t *(*rmd_http_cmd_fn)(void *user, const char *cmd, json_t *req);

typedef struct rmd_http_params {
    const char *addr;  /* "HOST:PORT", numeric host, [v6] allowed */
    const char *token; /* NULL/"": none, only allowed on loopback */
    rmd_http_cmd_fn cmd;
    void *user;
    rm_logger log;
} rmd_http_params;

rm_status rmd_http_new(const rmd_http_params *p, rmd_http **out, rm_err *err);
void rmd_http_free(rmd_http *h);

/* The fd to poll for POLLIN, the longest the poll may wait (ms, -1 none),
 * and the work to do when it is readable or the wait is over. */
int rmd_http_fd(const rmd_http *h);
int rmd_http_timeout_ms(rmd_http *h);
void rmd_http_run(rmd_http *h);
int rmd_http_port(const rmd_http *h);

/* The event every new viewer gets first (JSON text, copied). */
void rmd_http_set_hello(rmd_http *h, const char *json);
/* Queues `event` (an SSE event name) with `json` as its data to every
 * viewer. */
void rmd_http_publish(rmd_http *h, const char *event, const char *json);
/* Viewers connected now, and the events dropped for slow viewers so far. */
int rmd_http_viewers(const rmd_http *h);
uint64_t rmd_http_dropped(const rmd_http *h);

#endif

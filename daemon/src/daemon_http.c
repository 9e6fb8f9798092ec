/* daemon_http.c - the live page: one embedded page, a Server-Sent Events
 * stream and a small POST API, served by libmicrohttpd from the daemon's
 * poll loop. No URL ever maps to a file: the routes are a fixed table. */
#define _GNU_SOURCE
#include "daemon_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rmd_page.h" /* generated from daemon/www/live.html */

typedef struct rmd_sse rmd_sse;
struct rmd_sse {
    rmd_http *h;
    struct MHD_Connection *conn;
    char *q[RMD_SSE_QUEUE]; /* ring of owned event texts */
    size_t head, n;
    char *cur; /* the event being sent */
    size_t cur_len, cur_off;
    int suspended;
    uint64_t dropped;
    rmd_sse *prev, *next;
};

/* A request in progress (a POST body arrives in pieces). */
typedef struct rmd_req {
    size_t len;
    int too_big;
    char body[RMD_HTTP_BODY_MAX + 1];
} rmd_req;

struct rmd_http {
    struct MHD_Daemon *mhd;
    char token[256];
    rmd_http_cmd_fn cmd;
    void *user;
    rm_logger log;
    rmd_sse *viewers;
    int n_viewers;
    uint64_t dropped;
    uint64_t seq;
    char *hello;
    int port;
    int loopback;
};

/* ---- address ------------------------------------------------------------ */

/* Splits "HOST:PORT" / "[V6]:PORT" and resolves it numerically (no DNS: a
 * name could resolve anywhere). */
static rm_status parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
                            rm_err *err)
{
    char host[128];
    const char *port;
    if (addr[0] == '[') {
        const char *e = strchr(addr, ']');
        if (!e || e[1] != ':' || (size_t)(e - addr - 1) >= sizeof host)
            return rm_err_set(err, RM_ERR_ARG, "http address '%.80s' is not [IPV6]:PORT", addr);
        memcpy(host, addr + 1, (size_t)(e - addr - 1));
        host[e - addr - 1] = '\0';
        port = e + 2;
    } else {
        const char *c = strrchr(addr, ':');
        if (!c || (size_t)(c - addr) >= sizeof host)
            return rm_err_set(err, RM_ERR_ARG, "http address '%.80s' is not HOST:PORT", addr);
        memcpy(host, addr, (size_t)(c - addr));
        host[c - addr] = '\0';
        port = c + 1;
    }
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (!*port || *end || errno || p < 0 || p > 65535)
        return rm_err_set(err, RM_ERR_ARG, "http address '%.80s': port '%s' is not 0..65535", addr,
                          port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return rm_err_set(err, RM_ERR_ARG,
                          "http address '%.80s': '%s' is not a numeric IPv4 or IPv6 address", addr,
                          host);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return RM_OK;
}

static int sockaddr_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return 0;
}

int rm_daemon_addr_loopback(const char *host_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return host_port && parse_addr(host_port, &ss, &len, NULL) == RM_OK && sockaddr_loopback(&ss);
}

/* ---- viewers (SSE) ------------------------------------------------------ */

static void sse_push(rmd_sse *c, const char *text)
{
    char *copy = strdup(text);
    if (!copy) {
        c->dropped++;
        c->h->dropped++;
        return;
    }
    if (c->n == RMD_SSE_QUEUE) { /* the oldest live frame goes */
        free(c->q[c->head]);
        c->head = (c->head + 1) % RMD_SSE_QUEUE;
        c->n--;
        c->dropped++;
        c->h->dropped++;
    }
    c->q[(c->head + c->n) % RMD_SSE_QUEUE] = copy;
    c->n++;
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    rmd_sse *c = cls;
    size_t w = 0;
    while (w < max) {
        if (!c->cur) {
            if (c->n == 0)
                break;
            c->cur = c->q[c->head];
            c->q[c->head] = NULL;
            c->head = (c->head + 1) % RMD_SSE_QUEUE;
            c->n--;
            c->cur_len = strlen(c->cur);
            c->cur_off = 0;
        }
        size_t k = c->cur_len - c->cur_off;
        if (k > max - w)
            k = max - w;
        memcpy(buf + w, c->cur + c->cur_off, k);
        w += k;
        c->cur_off += k;
        if (c->cur_off == c->cur_len) {
            free(c->cur);
            c->cur = NULL;
        }
    }
    if (w == 0) {
        /* Nothing to send: park the connection until the next event
         * (sse_push resumes it) instead of being asked again at once. */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
    }
    return (ssize_t)w;
}

static void sse_free(void *cls)
{
    rmd_sse *c = cls;
    rmd_http *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->viewers = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->n_viewers--;
    rm_log(&h->log, RM_LOG_DEBUG, "live page viewer left (%llu events dropped for it)",
           (unsigned long long)c->dropped);
    free(c->cur);
    for (size_t i = 0; i < c->n; i++)
        free(c->q[(c->head + i) % RMD_SSE_QUEUE]);
    free(c);
}

static char *sse_format(rmd_http *h, const char *event, const char *json)
{
    size_t n = strlen(event) + strlen(json) + 64;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)++h->seq, event,
                 json);
    return s;
}

void rmd_http_publish(rmd_http *h, const char *event, const char *json)
{
    if (!h || !h->viewers)
        return;
    char *s = sse_format(h, event, json);
    if (!s)
        return;
    for (rmd_sse *c = h->viewers; c; c = c->next)
        sse_push(c, s);
    free(s);
}

void rmd_http_set_hello(rmd_http *h, const char *json)
{
    char *s = strdup(json);
    if (!s)
        return;
    free(h->hello);
    h->hello = s;
}

int rmd_http_viewers(const rmd_http *h) { return h ? h->n_viewers : 0; }
uint64_t rmd_http_dropped(const rmd_http *h) { return h ? h->dropped : 0; }

/* ---- requests ----------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned code, const char *type,
                                 const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned code, const char *msg)
{
    json_t *o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    enum MHD_Result r = send_text(conn, code, "application/json", s ? s : "{\"ok\":false}");
    free(s);
    return r;
}

/* Constant time in the token's length: the answer's timing tells nothing
 * about how much of a guess was right. */
static int token_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++)
        d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

/* 0 if the request may go on; else the status to answer with. */
static unsigned check_access(rmd_http *h, struct MHD_Connection *conn)
{
    if (!h->token[0]) {
        /* Loopback without a token: a web page elsewhere must not reach
         * us through a name that resolves to 127.0.0.1 (DNS rebinding). */
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
        if (!host)
            return MHD_HTTP_FORBIDDEN;
        if (strncmp(host, "127.", 4) && strncmp(host, "localhost", 9) && strncmp(host, "[::1]", 5))
            return MHD_HTTP_FORBIDDEN;
        return 0;
    }
    const char *given = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!given && auth && !strncmp(auth, "Bearer ", 7))
        given = auth + 7;
    if (!given)
        return MHD_HTTP_UNAUTHORIZED;
    return token_equal(given, h->token) ? 0 : MHD_HTTP_FORBIDDEN;
}

static enum MHD_Result serve_page(struct MHD_Connection *conn)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof rmd_page_html - 1, (void *)rmd_page_html, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    /* Everything is in the page: it may talk to this server only. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src "
                            "'unsafe-inline'; connect-src 'self'; img-src data:");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_events(rmd_http *h, struct MHD_Connection *conn)
{
    if (h->n_viewers >= RMD_HTTP_MAX_SSE)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many viewers");
    rmd_sse *c = calloc(1, sizeof *c);
    if (!c)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    c->h = h;
    c->conn = conn;
    /* The retry hint keeps a reconnecting page calm; hello carries bands. */
    char *s = sse_format(h, "hello", h->hello ? h->hello : "{}");
    char *retry = s ? malloc(strlen(s) + 16) : NULL;
    if (!retry) {
        free(s);
        free(c);
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    sprintf(retry, "retry: 1000\n%s", s);
    free(s);
    c->q[0] = retry;
    c->n = 1;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, c, sse_free);
    if (!r) {
        free(retry);
        free(c);
        return MHD_NO;
    }
    c->next = h->viewers;
    if (h->viewers)
        h->viewers->prev = c;
    h->viewers = c;
    h->n_viewers++;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    rm_log(&h->log, RM_LOG_DEBUG, "live page viewer joined (%d)", h->n_viewers);
    return ret;
}

static enum MHD_Result run_command(rmd_http *h, struct MHD_Connection *conn, const char *cmd,
                                   const rmd_req *rq)
{
    json_t *req;
    if (rq->len == 0) {
        req = json_object();
    } else {
        json_error_t jerr;
        req = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!req || !json_is_object(req)) {
            json_decref(req);
            char msg[200];
            snprintf(msg, sizeof msg, "body: expected a JSON object (%s)",
                     req ? "not an object" : jerr.text);
            return send_error(conn, MHD_HTTP_BAD_REQUEST, msg);
        }
    }
    if (!req)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    if (json_object_get(req, "cmd")) {
        json_decref(req);
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "body: the command is the URL, not \"cmd\"");
    }
    json_object_set_new(req, "cmd", json_string(cmd));
    json_t *reply = h->cmd(h->user, cmd, req);
    json_decref(req);
    if (!reply)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    int ok = json_is_true(json_object_get(reply, "ok"));
    char *s = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(reply);
    if (!s)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    enum MHD_Result r =
        send_text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_CONFLICT, "application/json", s);
    free(s);
    return r;
}

/* The whole API: a fixed table, so no URL is ever a path. */
static const char *api_command(const char *url)
{
    static const char *const cmds[] = {"start", "stop", "label"};
    if (strncmp(url, "/api/", 5))
        return NULL;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(url + 5, cmds[i]))
            return cmds[i];
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    rmd_http *h = cls;
    int post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!*con_cls) {
        unsigned deny = check_access(h, conn);
        if (deny)
            return send_error(conn, deny,
                              deny == MHD_HTTP_UNAUTHORIZED ? "an access token is needed"
                                                            : "access denied");
        if (!post) {
            *con_cls = h; /* marks the request as checked */
            if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
                return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
            if (!strcmp(url, "/"))
                return serve_page(conn);
            if (!strcmp(url, "/events"))
                return serve_events(h, conn);
            if (!strcmp(url, "/api/status")) {
                rmd_req none = {0};
                return run_command(h, conn, "status", &none);
            }
            return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
        }
        if (!api_command(url))
            return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
        /* A page on another site can post a form here, but not with this
         * type without asking first (CORS preflight, never answered). */
        const char *type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!type || strncmp(type, "application/json", 16))
            return send_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                              "commands take Content-Type: application/json");
        rmd_req *rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (!post)
        return MHD_NO; /* a GET is answered on its first call */
    rmd_req *rq = *con_cls;
    if (*upload_data_size) {
        if (rq->len + *upload_data_size > RMD_HTTP_BODY_MAX)
            rq->too_big = 1;
        else
            memcpy(rq->body + rq->len, upload_data, *upload_data_size);
        if (!rq->too_big)
            rq->len += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body longer than 4096 bytes");
    return run_command(h, conn, api_command(url), rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    rmd_http *h = cls;
    if (*con_cls && *con_cls != h)
        free(*con_cls);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    rmd_http *h = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    rm_log(&h->log, RM_LOG_DEBUG, "http: %s", msg);
}

rm_status rmd_http_new(const rmd_http_params *p, rmd_http **out, rm_err *err)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    rm_status st = parse_addr(p->addr, &ss, &len, err);
    if (st != RM_OK)
        return st;
    int loop = sockaddr_loopback(&ss);
    const char *tok = p->token ? p->token : "";
    if (!loop && !*tok)
        return rm_err_set(err, RM_ERR_PERMISSION,
                          "http address %s is not loopback: an access token is required "
                          "(--http-token or http_token in the config)",
                          p->addr);
    if (strlen(tok) >= 256 || (*tok && strlen(tok) < 8))
        return rm_err_set(err, RM_ERR_ARG, "http token: use 8..255 characters");
    for (const char *c = tok; *c; c++)
        if (*c <= ' ' || *c > '~' || *c == '&' || *c == '#' || *c == '%' || *c == '+')
            return rm_err_set(err, RM_ERR_ARG,
                              "http token: printable ASCII without spaces, '&', '#', '%%', '+'");
    rmd_http *h = calloc(1, sizeof *h);
    if (!h)
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    snprintf(h->token, sizeof h->token, "%s", tok);
    h->cmd = p->cmd;
    h->user = p->user;
    h->log = p->log;
    h->loopback = loop;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned)RMD_HTTP_MAX_CONN, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)RMD_HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                              (size_t)RMD_HTTP_MEM_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                              h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (!h->mhd) {
        int e = errno;
        free(h);
        return rm_err_set(err, RM_ERR_IO, "http: cannot listen on %s: %s", p->addr,
                          e ? strerror(e) : "libmicrohttpd refused");
    }
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = pi ? pi->port : 0;
    *out = h;
    return RM_OK;
}

void rmd_http_free(rmd_http *h)
{
    if (!h)
        return;
    /* Parked viewers must be resumed for MHD_stop_daemon to close them. */
    for (rmd_sse *c = h->viewers; c; c = c->next)
        if (c->suspended) {
            c->suspended = 0;
            MHD_resume_connection(c->conn);
        }
    MHD_stop_daemon(h->mhd);
    free(h->hello);
    free(h);
}

int rmd_http_fd(const rmd_http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

int rmd_http_timeout_ms(rmd_http *h)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(h->mhd, &t) != MHD_YES)
        return -1;
    return t > 60000 ? 60000 : (int)t;
}

void rmd_http_run(rmd_http *h) { MHD_run(h->mhd); }

int rmd_http_port(const rmd_http *h) { return h ? h->port : 0; }

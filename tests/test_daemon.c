/* test_daemon.c - rollmatd: names, config, the control socket protocol
 * in-process (a replayed stream into a memory recording), and the built
 * daemon binary end to end (replayed stream into a real HDF5 recording). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
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
#include <unistd.h>

#include "daemon_client.h"
#include "rm_daemon.h"
#include "rm_proto.h"
#include "rm_session.h"
#include "test_util.h"

#define ROWS 64
#define COLS 48

/* A raw stream of n frames (a bar of load moving along the rows, like a
 * roller) with `skip` frames left out after frame 10 (a seq gap). */
static void write_stream(const char *path, unsigned n, unsigned skip)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    static uint16_t raw[ROWS * COLS];
    static uint8_t buf[ROWS * COLS * 2 + 64];
    uint32_t seq = 0;
    for (unsigned k = 0; k < n; k++, seq++) {
        if (k == 10)
            seq += skip;
        memset(raw, 0, sizeof raw);
        unsigned r = 8 + k % 40;
        for (unsigned c = 6; c < 42; c++) {
            raw[r * COLS + c] = 900;
            raw[(r + 1) * COLS + c] = 700;
        }
        rm_frame_header h = {RM_FRAME_HEADER_LEN,         0,    seq, 0,
                             1000000ull + seq * 10000ull, ROWS, COLS};
        size_t len = 0;
        cr_assert_eq(rm_frame_encode(&h, raw, buf, sizeof buf, &len), RM_OK);
        cr_assert_eq(fwrite(buf, 1, len, f), len);
    }
    cr_assert_eq(fclose(f), 0);
}

/* ---- a memory recording ------------------------------------------------- */

typedef struct memrec {
    pthread_mutex_t mu;
    int opens;
    int headers, devices, frames, ends, finishes;
    char subject[64];
    double body_mass;
    char title[128];
    int n_labels;
    char labels[16][RM_EVENT_TEXT_LEN];
    int gap_frames;
} memrec;

static memrec g_rec = {.mu = PTHREAD_MUTEX_INITIALIZER};

static rm_status mem_receive(void *ctx, const rm_packet *p, rm_err *err)
{
    memrec *m = ctx;
    pthread_mutex_lock(&m->mu);
    switch (p->type) {
    case RM_PKT_HEADER:
        m->headers++;
        snprintf(m->subject, sizeof m->subject, "%s", p->u.header->subject_id);
        snprintf(m->title, sizeof m->title, "%s", p->u.header->title);
        m->body_mass = p->u.header->body_mass_kg;
        break;
    case RM_PKT_DEVICE: m->devices++; break;
    case RM_PKT_FRAME:
        cr_assert_eq(m->headers, 1, "a frame before the header");
        m->frames++;
        break;
    case RM_PKT_EVENT:
        cr_assert_eq(m->headers, 1, "an event before the header");
        if (!strcmp(p->u.event->kind, RM_EVENT_LABEL) && m->n_labels < 16)
            snprintf(m->labels[m->n_labels++], RM_EVENT_TEXT_LEN, "%s", p->u.event->text);
        if (!strcmp(p->u.event->kind, RM_EVENT_GAP))
            m->gap_frames += (int)p->u.event->value;
        break;
    case RM_PKT_END: m->ends++; break;
    default: break;
    }
    pthread_mutex_unlock(&m->mu);
    return RM_OK;
}

static rm_status mem_finish(void *ctx, rm_err *err)
{
    memrec *m = ctx;
    pthread_mutex_lock(&m->mu);
    m->finishes++;
    pthread_mutex_unlock(&m->mu);
    return RM_OK;
}

/* Creates the file the way the session writer does (exclusively), so a
 * test can see what a command created. */
static rm_status mem_open(void *user, const char *path, rm_sink *out, rm_err *err)
{
    memrec *m = user;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (fd < 0)
        return rm_err_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    close(fd);
    pthread_mutex_lock(&m->mu);
    m->opens++;
    pthread_mutex_unlock(&m->mu);
    out->ctx = m;
    out->receive = mem_receive;
    out->finish = mem_finish;
    return RM_OK;
}

typedef struct fixture {
    char *dir, *recdir, *sock, *stream;
    rm_daemon *d;
} fixture;

static fixture fx;

static void daemon_setup(void)
{
    fx.dir = rm_test_tmpdir("daemon");
    cr_assert_not_null(fx.dir);
    fx.recdir = rm_test_path(fx.dir, "rec");
    fx.sock = rm_test_path(fx.dir, "ctl.sock");
    fx.stream = rm_test_path(fx.dir, "stream.bin");
    cr_assert_eq(mkdir(fx.recdir, 0750), 0);
    write_stream(fx.stream, 50, 3);
    rm_daemon_source src;
    rm_err e = {0};
    cr_assert_eq(rm_daemon_replay_source_new(fx.stream, 0, NULL, &src, &e), RM_OK, "%s", e.msg);
    rm_daemon_config cfg = {0};
    cfg.socket_path = fx.sock;
    cfg.recordings_dir = fx.recdir;
    cfg.source = src;
    cfg.open_recording = mem_open;
    cfg.open_user = &g_rec;
    cr_assert_eq(rm_daemon_new(&cfg, &fx.d, &e), RM_OK, "%s", e.msg);
}

static void daemon_teardown(void)
{
    rm_daemon_free(fx.d);
    rm_test_rmtree(fx.dir);
    free(fx.dir);
    free(fx.recdir);
    free(fx.sock);
    free(fx.stream);
}

static int dir_entries(const char *dir)
{
    int n = rm_test_system("test -z \"$(ls -A '%s')\"", dir);
    return n == 0 ? 0 : 1;
}

/* ---- pure parts --------------------------------------------------------- */

Test(daemon_names, valid_and_invalid)
{
    const char *good[] = {"s01-day1", "S01_calves.h5", "a", "x.y", "2026-11-25"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(rm_daemon_name_valid(good[i]), "'%s' should be valid", good[i]);
    const char *bad[] = {"",    "../x", "/etc/x", ".hidden",     "a/b",  "..",    "a..b",
                         "a b", "a\\b", "a\nb",   "caf\xc3\xa9", "x;rm", "~root", "-"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad - 1; i++)
        cr_expect(!rm_daemon_name_valid(bad[i]), "'%s' should be refused", bad[i]);
    char longname[RM_DAEMON_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect(!rm_daemon_name_valid(longname));
    longname[RM_DAEMON_NAME_MAX - 4] = '\0';
    cr_expect(rm_daemon_name_valid(longname));
    cr_expect(!rm_daemon_name_valid(NULL));
}

Test(daemon_names, default_name_is_utc_time)
{
    char buf[32];
    rm_daemon_default_name(1764061200.0, buf, sizeof buf); /* 2025-11-25T09:00:00Z */
    cr_expect_str_eq(buf, "20251125-090000");
    cr_expect(rm_daemon_name_valid(buf));
}

Test(daemon_conf, parse_override_and_errors)
{
    char *dir = rm_test_tmpdir("dconf");
    char *p = rm_test_path(dir, "rollmatd.conf");
    FILE *f = fopen(p, "w");
    fprintf(f, "# rollmatd\n\nsocket = /tmp/x.sock\n  recordings=/srv/rec  \nrate = 200\n");
    fclose(f);
    rm_daemon_conf c = {0};
    rm_err e = {0};
    cr_assert_eq(rm_daemon_conf_load(p, &c, &e), RM_OK, "%s", e.msg);
    cr_expect_str_eq(c.socket, "/tmp/x.sock");
    cr_expect_str_eq(c.recordings, "/srv/rec");
    cr_expect_str_eq(c.rate, "200");
    cr_expect_null(c.serial);
    cr_assert_eq(rm_daemon_conf_set(&c, "rate", "100", &e), RM_OK);
    cr_expect_str_eq(c.rate, "100");
    cr_expect_neq(rm_daemon_conf_set(&c, "nosuch", "1", &e), RM_OK);
    rm_daemon_conf_clear(&c);

    f = fopen(p, "w");
    fprintf(f, "socket = /a\nbogus = 1\n");
    fclose(f);
    cr_expect_eq(rm_daemon_conf_load(p, &c, &e), RM_ERR_ARG);
    cr_expect(strstr(e.msg, ":2:") && strstr(e.msg, "bogus"), "message: %s", e.msg);
    rm_daemon_conf_clear(&c);
    f = fopen(p, "w");
    fprintf(f, "just words\n");
    fclose(f);
    cr_expect_eq(rm_daemon_conf_load(p, &c, &e), RM_ERR_FORMAT);
    cr_expect(strstr(e.msg, ":1:") != NULL, "message: %s", e.msg);
    rm_daemon_conf_clear(&c);
    cr_expect_eq(rm_daemon_conf_load("/nonexistent/x.conf", &c, &e), RM_ERR_IO);
    rm_test_rmtree(dir);
    free(p);
    free(dir);
}

/* ---- the daemon in-process ---------------------------------------------- */

TestSuite(daemon, .init = daemon_setup, .fini = daemon_teardown);

Test(daemon, socket_mode_is_not_world_accessible)
{
    struct stat st;
    cr_assert_eq(lstat(fx.sock, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_expect_eq(st.st_mode & 0007, 0, "socket mode %o", st.st_mode & 0777);
    cr_expect_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);
}

Test(daemon, two_clients_start_label_stop)
{
    client *a = client_connect(fx.sock), *b = client_connect(fx.sock);
    json_t *r = ask(b, fx.d, "{\"cmd\":\"subscribe\"}");
    cr_assert(reply_ok(r));
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"status\"}");
    cr_assert(reply_ok(r));
    cr_expect_str_eq(reply_str(r, "state"), "idle");
    cr_expect_eq(json_integer_value(json_object_get(r, "clients")), 2);
    json_decref(r);
    r = ask(a, fx.d,
            "{\"cmd\":\"start\",\"subject\":\"S01\",\"label\":\"calves\",\"body_mass_kg\":70,"
            "\"name\":\"s01-day1\"}");
    cr_assert(reply_ok(r), "start: %s", reply_str(r, "error"));
    cr_expect_str_eq(reply_str(r, "file"), "s01-day1.h5");
    json_decref(r);
    /* The second client sees the recording and labels it. */
    r = ask(b, fx.d, "{\"cmd\":\"status\"}");
    cr_expect_str_eq(reply_str(r, "state"), "recording");
    cr_expect_str_eq(reply_str(r, "file"), "s01-day1.h5");
    cr_expect_str_eq(reply_str(r, "subject"), "S01");
    json_decref(r);
    r = ask(b, fx.d, "{\"cmd\":\"label\",\"label\":\"quads\"}");
    cr_assert(reply_ok(r), "label: %s", reply_str(r, "error"));
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"start\",\"name\":\"other\"}");
    cr_expect(!reply_ok(r));
    cr_expect(strstr(reply_str(r, "error"), "already recording") != NULL);
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"label\",\"label\":\"IT band\"}");
    cr_assert(reply_ok(r));
    json_decref(r);
    wait_frames(a, fx.d, 50);
    r = ask(a, fx.d, "{\"cmd\":\"stop\"}");
    cr_assert(reply_ok(r), "stop: %s", reply_str(r, "error"));
    cr_expect_eq(json_integer_value(json_object_get(r, "frames")), 50);
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"stop\"}");
    cr_expect(!reply_ok(r));
    json_decref(r);

    /* The subscriber got live lines and the end of the recording. */
    int metrics = b->metrics_skipped, stopped = 0;
    while (!stopped) {
        json_t *j = client_recv(b, fx.d);
        const char *type = reply_str(j, "type");
        if (!strcmp(type, "metrics")) {
            metrics++;
            cr_expect_geq(json_integer_value(json_object_get(j, "frames")), 1);
            cr_expect(json_is_number(json_object_get(j, "total_force_n")));
            cr_expect(json_is_number(json_object_get(j, "delay_ms")));
        } else if (!strcmp(type, "stopped")) {
            stopped = 1;
            cr_expect_str_eq(reply_str(j, "file"), "s01-day1.h5");
            cr_expect_eq(json_integer_value(json_object_get(j, "lost")), 3);
        }
        json_decref(j);
    }
    cr_expect_geq(metrics, 1);

    pthread_mutex_lock(&g_rec.mu);
    cr_expect_eq(g_rec.opens, 1);
    cr_expect_eq(g_rec.headers, 1);
    cr_expect_eq(g_rec.frames, 50);
    cr_expect_eq(g_rec.ends, 1);
    cr_expect_eq(g_rec.finishes, 1);
    cr_expect_eq(g_rec.gap_frames, 3);
    cr_expect_str_eq(g_rec.subject, "S01");
    cr_expect_str_eq(g_rec.title, "s01-day1");
    cr_expect_eq(g_rec.body_mass, 70.0);
    cr_assert_eq(g_rec.n_labels, 3);
    cr_expect_str_eq(g_rec.labels[0], "calves");
    cr_expect_str_eq(g_rec.labels[1], "quads");
    cr_expect_str_eq(g_rec.labels[2], "IT band");
    pthread_mutex_unlock(&g_rec.mu);
    client_close(a);
    client_close(b);
}

Test(daemon, escaping_names_are_refused_and_create_nothing)
{
    client *a = client_connect(fx.sock);
    const char *names[] = {"../x", "/etc/x", ".hidden", "a/b", "..", "x/../../y", "a\\u0000b", ""};
    char line[256];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(line, sizeof line, "{\"cmd\":\"start\",\"name\":\"%s\"}", names[i]);
        json_t *r = ask(a, fx.d, line);
        cr_expect(!reply_ok(r), "name '%s' was accepted", names[i]);
        cr_expect(strlen(reply_str(r, "error")) > 0);
        json_decref(r);
    }
    json_t *r = ask(a, fx.d, "{\"cmd\":\"start\",\"name\":42}");
    cr_expect(!reply_ok(r));
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"status\"}");
    cr_expect_str_eq(reply_str(r, "state"), "idle");
    json_decref(r);
    cr_expect_eq(g_rec.opens, 0);
    cr_expect_eq(dir_entries(fx.recdir), 0, "a refused start created a file");
    char *x = rm_test_path(fx.dir, "x");
    cr_expect_neq(access(x, F_OK), 0, "../x was created");
    free(x);
    client_close(a);
}

Test(daemon, existing_file_is_never_overwritten)
{
    char *p = rm_test_path(fx.recdir, "taken.h5");
    FILE *f = fopen(p, "w");
    fputs("precious", f);
    fclose(f);
    client *a = client_connect(fx.sock);
    json_t *r = ask(a, fx.d, "{\"cmd\":\"start\",\"name\":\"taken\"}");
    cr_expect(!reply_ok(r));
    cr_expect(strstr(reply_str(r, "error"), "exists") != NULL, "%s", reply_str(r, "error"));
    json_decref(r);
    uint8_t *data;
    size_t len;
    cr_assert_eq(rm_test_read_file(p, &data, &len), 0);
    cr_expect_eq(len, 8);
    free(data);
    /* Without a name the daemon picks a fresh one from the UTC time. */
    r = ask(a, fx.d, "{\"cmd\":\"start\"}");
    cr_assert(reply_ok(r), "%s", reply_str(r, "error"));
    const char *file = reply_str(r, "file");
    cr_expect(rm_daemon_name_valid(file) && strlen(file) > 3 &&
                  !strcmp(file + strlen(file) - 3, ".h5"),
              "default name %s", file);
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"stop\"}");
    cr_expect(reply_ok(r));
    json_decref(r);
    free(p);
    client_close(a);
}

Test(daemon, bad_commands_get_one_line_errors)
{
    client *a = client_connect(fx.sock);
    const char *bad[] = {"not json",
                         "[1,2]",
                         "{\"cmd\":7}",
                         "{\"cmd\":\"fly\"}",
                         "{\"cmd\":\"label\"}",
                         "{\"cmd\":\"label\",\"label\":\"x\"}",
                         "{\"cmd\":\"start\",\"body_mass_kg\":-3}",
                         "{\"cmd\":\"start\",\"body_mass_kg\":\"heavy\"}",
                         "{\"cmd\":\"start\",\"colour\":\"red\"}",
                         "{\"cmd\":\"start\",\"subject\":\"a\\nb\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *r = ask(a, fx.d, bad[i]);
        cr_expect(json_is_false(json_object_get(r, "ok")), "'%s' was accepted", bad[i]);
        cr_expect(strlen(reply_str(r, "error")) > 0);
        json_decref(r);
    }
    /* An over-long line is answered once, and the client stays usable. */
    size_t n = RM_DAEMON_LINE_MAX * 2;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    client_send(a, big);
    free(big);
    json_t *r = client_reply(a, fx.d);
    cr_expect(strstr(reply_str(r, "error"), "longer") != NULL);
    json_decref(r);
    r = ask(a, fx.d, "{\"cmd\":\"status\"}");
    cr_expect(reply_ok(r));
    json_decref(r);
    cr_expect_eq(g_rec.opens, 0);
    client_close(a);
}

Test(daemon, a_client_that_does_not_read_is_dropped)
{
    client *slow = calloc(1, sizeof *slow);
    slow->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(slow->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", fx.sock);
    cr_assert_eq(connect(slow->fd, (struct sockaddr *)&a, sizeof a), 0);
    /* Ask for far more replies than the kernel and the daemon's bounded
     * buffer can hold, never reading them. */
    const char req[] = "{\"cmd\":\"status\"}\n";
    int dropped = 0;
    for (int i = 0; i < 20000 && !dropped; i++) {
        if (send(slow->fd, req, sizeof req - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
            dropped = 1;
        rm_err e = {0};
        cr_assert_eq(rm_daemon_step(fx.d, 0, &e), RM_OK);
        if (i % 64 == 0) {
            json_t *r = NULL;
            client *probe = client_connect(fx.sock);
            r = ask(probe, fx.d, "{\"cmd\":\"status\"}");
            dropped = json_integer_value(json_object_get(r, "clients")) == 1;
            json_decref(r);
            client_close(probe);
            rm_daemon_step(fx.d, 0, &e);
        }
    }
    cr_expect(dropped, "the daemon never dropped a client that does not read");
    /* Everyone else is still served. */
    client *b = client_connect(fx.sock);
    json_t *r = ask(b, fx.d, "{\"cmd\":\"status\"}");
    cr_expect(reply_ok(r));
    json_decref(r);
    client_close(b);
    client_close(slow);
}

Test(daemon_socket, refuses_a_path_that_is_not_a_stale_socket)
{
    char *dir = rm_test_tmpdir("dsock");
    char *rec = rm_test_path(dir, "rec");
    char *sock = rm_test_path(dir, "ctl.sock");
    char *stream = rm_test_path(dir, "s.bin");
    mkdir(rec, 0750);
    write_stream(stream, 5, 0);
    rm_daemon_config cfg = {0};
    cfg.socket_path = sock;
    cfg.recordings_dir = rec;
    cfg.open_recording = mem_open;
    cfg.open_user = &g_rec;
    rm_err e = {0};
    rm_daemon *d = NULL;

    /* A regular file at the path is left alone. */
    FILE *f = fopen(sock, "w");
    fputs("keep", f);
    fclose(f);
    cr_assert_eq(rm_daemon_replay_source_new(stream, 0, NULL, &cfg.source, &e), RM_OK);
    cr_expect_neq(rm_daemon_new(&cfg, &d, &e), RM_OK);
    cr_expect(strstr(e.msg, "not a socket") != NULL, "%s", e.msg);
    struct stat st;
    cr_expect(lstat(sock, &st) == 0 && S_ISREG(st.st_mode));
    unlink(sock);

    /* A stale socket (nobody listening) is replaced. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    close(s);
    cr_assert_eq(rm_daemon_replay_source_new(stream, 0, NULL, &cfg.source, &e), RM_OK);
    cr_assert_eq(rm_daemon_new(&cfg, &d, &e), RM_OK, "%s", e.msg);

    /* A live daemon's socket is not taken over. */
    rm_daemon *d2 = NULL;
    cr_assert_eq(rm_daemon_replay_source_new(stream, 0, NULL, &cfg.source, &e), RM_OK);
    cr_expect_eq(rm_daemon_new(&cfg, &d2, &e), RM_ERR_BUSY, "%s", e.msg);
    cr_expect_null(d2);
    client *c = client_connect(sock);
    json_t *r = ask(c, d, "{\"cmd\":\"status\"}");
    cr_expect(reply_ok(r));
    json_decref(r);
    client_close(c);
    rm_daemon_free(d);
    cr_expect_neq(access(sock, F_OK), 0, "the socket outlived the daemon");

    /* A recordings folder that is not a directory is refused. */
    cr_assert_eq(rm_daemon_replay_source_new(stream, 0, NULL, &cfg.source, &e), RM_OK);
    cfg.recordings_dir = stream;
    cr_expect_neq(rm_daemon_new(&cfg, &d, &e), RM_OK);
    rm_test_rmtree(dir);
    free(dir);
    free(rec);
    free(sock);
    free(stream);
}

static void check_recording(const char *file, uint64_t frames, const char *const *labels,
                            size_t n_labels)
{
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(file, &s, &e), RM_OK, "the recording does not open: %s", e.msg);
    cr_expect_eq(rm_session_frames(s), frames, "%s holds %llu frames, expected %llu", file,
                 (unsigned long long)rm_session_frames(s), (unsigned long long)frames);
    cr_expect_eq(rm_session_is_live(s), 0, "%s was not closed cleanly", file);
    size_t found = 0;
    for (size_t i = 0; i < rm_session_event_count(s); i++) {
        rm_event ev;
        cr_assert_eq(rm_session_event(s, i, &ev), RM_OK);
        if (strcmp(ev.kind, RM_EVENT_LABEL))
            continue;
        cr_assert_lt(found, n_labels, "unexpected label '%s'", ev.text);
        cr_expect_str_eq(ev.text, labels[found]);
        found++;
    }
    cr_expect_eq(found, n_labels, "%zu of %zu labels in %s", found, n_labels, file);
    cr_expect_str_eq(rm_session_header(s)->subject_id, "S01");
    rm_session_close(s);
}

Test(rollmatd, sigterm_while_recording_closes_the_file)
{
    char *dir = rm_test_tmpdir("rollmatd");
    char *rec = rm_test_path(dir, "rec");
    char *sock = rm_test_path(dir, "ctl.sock");
    char *stream = rm_test_path(dir, "s.bin");
    char *log = rm_test_path(dir, "d.log");
    mkdir(rec, 0750);
    write_stream(stream, 120, 2);
    /* Paced at 100 Hz, the 120 frames span more than one live-metric period
     * however loaded the machine is, so the subscriber always gets a line. */
    char *argv[] = {(char *)rollmatd_path(),
                    "--foreground",
                    "--socket",
                    sock,
                    "--recordings",
                    rec,
                    "--replay",
                    stream,
                    "--rate",
                    "100",
                    "--log",
                    log,
                    NULL};
    /* Even started with a permissive umask, the socket is not
     * world-accessible. */
    mode_t old_umask = umask(0);
    proc p = spawn_daemon(argv);
    umask(old_umask);
    struct stat st;
    cr_assert_eq(lstat(sock, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);

    client *a = client_connect(sock), *b = client_connect(sock);
    json_t *r = ask(b, NULL, "{\"cmd\":\"subscribe\"}");
    cr_assert(reply_ok(r));
    json_decref(r);
    r = ask(a, NULL,
            "{\"cmd\":\"start\",\"subject\":\"S01\",\"label\":\"calves\","
            "\"body_mass_kg\":70,\"name\":\"s01-day1\"}");
    cr_assert(reply_ok(r), "start: %s", reply_str(r, "error"));
    json_decref(r);
    r = ask(a, NULL, "{\"cmd\":\"start\",\"name\":\"../escape\"}");
    cr_expect(!reply_ok(r));
    json_decref(r);
    /* SIGHUP reopens the log (logrotate moved it away). */
    char *old_log = rm_test_path(dir, "d.log.1");
    cr_assert_eq(rename(log, old_log), 0);
    cr_assert_eq(kill(p.pid, SIGHUP), 0);
    for (int round = 0; round < 3000 && access(log, F_OK) != 0; round++)
        poll(NULL, 0, 10);
    cr_assert_eq(access(log, F_OK), 0, "SIGHUP did not reopen the log");
    r = ask(b, NULL, "{\"cmd\":\"label\",\"label\":\"quads\"}");
    cr_assert(reply_ok(r), "label: %s", reply_str(r, "error"));
    json_decref(r);
    cr_expect_eq(rm_test_system("grep -q 'recording s01-day1.h5 started' '%s'", old_log), 0);
    free(old_log);
    /* A live line proves frames flowed through the analysis. */
    for (;;) {
        json_t *j = client_recv(b, NULL);
        int is_metric = !strcmp(reply_str(j, "type"), "metrics");
        json_decref(j);
        if (is_metric || b->metrics_skipped)
            break;
    }
    r = ask(a, NULL, "{\"cmd\":\"status\"}");
    cr_expect_str_eq(reply_str(r, "state"), "recording");
    json_decref(r);
    wait_frames(a, NULL, 120);
    client_close(a);
    client_close(b);

    cr_assert_eq(kill(p.pid, SIGTERM), 0);
    cr_expect_eq(wait_exit(p), 0, "rollmatd did not exit 0 on SIGTERM");
    cr_expect_neq(access(sock, F_OK), 0, "the socket outlived the daemon");
    char *file = rm_test_path(rec, "s01-day1.h5");
    const char *labels[] = {"calves", "quads"};
    check_recording(file, 120, labels, 2);
    char *escape = rm_test_path(dir, "escape.h5");
    cr_expect_neq(access(escape, F_OK), 0);
    cr_expect_eq(rm_test_system("grep -q 'recording s01-day1.h5 closed' '%s'", log), 0,
                 "the log does not say the recording closed");
    free(escape);
    free(file);
    rm_test_rmtree(dir);
    free(dir);
    free(rec);
    free(sock);
    free(stream);
    free(log);
}

Test(rollmatd, bad_options_and_paths_fail_with_one_line)
{
    char *dir = rm_test_tmpdir("rollmatd");
    char *sock = rm_test_path(dir, "ctl.sock");
    const char *d = rollmatd_path();
    cr_expect_eq(rm_test_system("'%s' --no-such >/dev/null 2>&1", d), 2);
    cr_expect_eq(rm_test_system("'%s' --help | grep -q -- --recordings", d), 0);
    cr_expect_eq(rm_test_system("'%s' --replay /nonexistent.bin --socket '%s' --recordings '%s'"
                                " 2>&1 | grep -q nonexistent.bin",
                                d, sock, dir),
                 0);
    FILE *f = fopen(sock, "w");
    fclose(f);
    char *s = rm_test_path(dir, "s.bin");
    write_stream(s, 3, 0);
    cr_expect_eq(rm_test_system("'%s' --replay '%s' --socket '%s' --recordings '%s' 2>/dev/null", d,
                                s, sock, dir),
                 1);
    char *conf = rm_test_path(dir, "d.conf");
    f = fopen(conf, "w");
    fprintf(f, "socket = %s\nwhat = 1\n", sock);
    fclose(f);
    cr_expect_eq(rm_test_system("'%s' --config '%s' 2>&1 | grep -q ':2:'", d, conf), 0);
    rm_test_rmtree(dir);
    free(conf);
    free(s);
    free(sock);
    free(dir);
}

Test(rollmatd, a_source_that_cannot_start_fails_the_start_and_creates_nothing)
{
    char *dir = rm_test_tmpdir("rollmatd");
    char *rec = rm_test_path(dir, "rec");
    char *sock = rm_test_path(dir, "ctl.sock");
    char *junk = rm_test_path(dir, "junk.bin");
    char *conf = rm_test_path(dir, "d.conf");
    mkdir(rec, 0750);
    FILE *f = fopen(junk, "wb");
    for (int i = 0; i < 5000; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    /* Settings from the config file; the socket option overrides it. */
    f = fopen(conf, "w");
    fprintf(f, "# test\nrecordings = %s\nreplay = %s\nsocket = /nonexistent/dir/x.sock\n", rec,
            junk);
    fclose(f);
    char *argv[] = {(char *)rollmatd_path(), "--config", conf, "--socket", sock, NULL};
    proc p = spawn_daemon(argv);
    client *a = client_connect(sock);
    json_t *r = ask(a, NULL, "{\"cmd\":\"start\",\"name\":\"nothing\"}");
    cr_expect(!reply_ok(r));
    cr_expect(strstr(reply_str(r, "error"), "no frame") != NULL, "error: %s",
              reply_str(r, "error"));
    json_decref(r);
    r = ask(a, NULL, "{\"cmd\":\"status\"}");
    cr_expect_str_eq(reply_str(r, "state"), "idle");
    json_decref(r);
    client_close(a);
    cr_assert_eq(kill(p.pid, SIGINT), 0);
    cr_expect_eq(wait_exit(p), 0);
    cr_expect_eq(dir_entries(rec), 0, "a failed start left a file");
    rm_test_rmtree(dir);
    free(dir);
    free(rec);
    free(sock);
    free(junk);
    free(conf);
}

Test(daemon_socket, a_replay_longer_than_the_ring_loses_nothing)
{
    char *dir = rm_test_tmpdir("dlong");
    char *rec = rm_test_path(dir, "rec");
    char *sock = rm_test_path(dir, "ctl.sock");
    char *stream = rm_test_path(dir, "s.bin");
    mkdir(rec, 0750);
    write_stream(stream, 2500, 0); /* the replay's ring holds 1024 */
    rm_daemon_config cfg = {0};
    cfg.socket_path = sock;
    cfg.recordings_dir = rec;
    cfg.open_recording = mem_open;
    cfg.open_user = &g_rec;
    rm_err e = {0};
    rm_daemon *d = NULL;
    cr_assert_eq(rm_daemon_replay_source_new(stream, 0, NULL, &cfg.source, &e), RM_OK);
    cr_assert_eq(rm_daemon_new(&cfg, &d, &e), RM_OK, "%s", e.msg);
    client *c = client_connect(sock);
    json_t *r = ask(c, d, "{\"cmd\":\"start\",\"name\":\"long\"}");
    cr_assert(reply_ok(r), "%s", reply_str(r, "error"));
    json_decref(r);
    wait_frames(c, d, 2500);
    r = ask(c, d, "{\"cmd\":\"stop\"}");
    cr_expect_eq(json_integer_value(json_object_get(r, "frames")), 2500);
    json_decref(r);
    client_close(c);
    rm_daemon_free(d);
    cr_expect_eq(g_rec.frames, 2500);
    cr_expect_eq(g_rec.gap_frames, 0);
    rm_test_rmtree(dir);
    free(dir);
    free(rec);
    free(sock);
    free(stream);
}

/* ---- connections: bursts, idle clients, the reserve --------------------- */

Test(daemon, a_burst_of_200_commands_is_answered_in_full)
{
    /* Status replies while recording carry the subject and the label: long
     * ones make 200 replies more than the daemon's 64 KiB output buffer. */
    client *c = client_connect(fx.sock);
    char start[512], subject[64], label[RM_EVENT_TEXT_LEN];
    memset(subject, 'S', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    memset(label, 'L', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    snprintf(start, sizeof start,
             "{\"cmd\":\"start\",\"name\":\"burst\",\"subject\":\"%s\",\"label\":\"%s\"}", subject,
             label);
    json_t *r = ask(c, fx.d, start);
    cr_assert(reply_ok(r), "start: %s", reply_str(r, "error"));
    json_decref(r);
    r = ask(c, fx.d, "{\"cmd\":\"status\"}");
    char *one = json_dumps(r, JSON_COMPACT);
    size_t reply_len = strlen(one) + 1;
    free(one);
    json_decref(r);
    enum { N = 200 };
    cr_assert_gt(N * reply_len, (size_t)RM_DAEMON_OUTBUF, "replies of %zu bytes are too short",
                 reply_len);
    /* All 200 commands in one write, before reading anything. */
    const char req[] = "{\"cmd\":\"status\"}\n";
    static char burst[N * sizeof req];
    for (int i = 0; i < N; i++)
        memcpy(burst + i * (sizeof req - 1), req, sizeof req - 1);
    size_t len = N * (sizeof req - 1);
    cr_assert_eq(send(c->fd, burst, len, MSG_NOSIGNAL), (ssize_t)len);
    rm_err e = {0};
    cr_assert_eq(rm_daemon_step(fx.d, 0, &e), RM_OK, "%s", e.msg);
    for (int i = 0; i < N; i++) {
        r = client_reply(c, fx.d); /* fails if the daemon closed the connection */
        cr_assert(reply_ok(r), "reply %d of the burst: %s", i, reply_str(r, "error"));
        json_decref(r);
    }
    r = ask(c, fx.d, "{\"cmd\":\"stop\"}");
    cr_expect(reply_ok(r), "stop after the burst: %s", reply_str(r, "error"));
    json_decref(r);
    client_close(c);
}

/* Connects and lets the daemon accept (the listen backlog is short). */
static client *connect_accepted(rm_daemon *d, const char *sock)
{
    client *c = client_connect(sock);
    rm_err e = {0};
    cr_assert_eq(rm_daemon_step(d, 0, &e), RM_OK, "%s", e.msg);
    return c;
}

Test(daemon, idle_connections_never_lock_out_a_stop)
{
    client *a = connect_accepted(fx.d, fx.sock);
    json_t *r = ask(a, fx.d, "{\"cmd\":\"start\",\"name\":\"locked\"}");
    cr_assert(reply_ok(r), "start: %s", reply_str(r, "error"));
    json_decref(r);
    /* Every regular connection taken by clients that send nothing. */
    client *idle[RM_DAEMON_MAX_CLIENTS - 1];
    for (int i = 0; i < RM_DAEMON_MAX_CLIENTS - 1; i++)
        idle[i] = connect_accepted(fx.d, fx.sock);
    client *ctl = connect_accepted(fx.d, fx.sock);
    r = ask(ctl, fx.d, "{\"cmd\":\"status\"}");
    cr_assert(reply_ok(r), "a control client was locked out: %s", reply_str(r, "error"));
    cr_expect_eq(json_integer_value(json_object_get(r, "clients")), RM_DAEMON_MAX_CLIENTS + 1);
    json_decref(r);
    /* A reserve slot is for control commands, not for live lines. */
    r = ask(ctl, fx.d, "{\"cmd\":\"subscribe\"}");
    cr_expect(!reply_ok(r), "a reserve connection subscribed");
    json_decref(r);
    r = ask(ctl, fx.d, "{\"cmd\":\"stop\"}");
    cr_expect(reply_ok(r), "stop from the reserve: %s", reply_str(r, "error"));
    cr_expect_str_eq(reply_str(r, "file"), "locked.h5");
    json_decref(r);
    client_close(ctl);
    for (int i = 0; i < RM_DAEMON_MAX_CLIENTS - 1; i++)
        client_close(idle[i]);
    client_close(a);
}

Test(daemon_socket, idle_clients_are_closed_subscribers_stay)
{
    char *dir = rm_test_tmpdir("daemon_idle");
    char *sock = rm_test_path(dir, "ctl.sock");
    char *rec = rm_test_path(dir, "rec");
    char *stream = rm_test_path(dir, "s.bin");
    cr_assert_eq(mkdir(rec, 0750), 0);
    write_stream(stream, 20, 0);
    rm_daemon_source src;
    rm_err e = {0};
    cr_assert_eq(rm_daemon_replay_source_new(stream, 0, NULL, &src, &e), RM_OK, "%s", e.msg);
    rm_daemon_config cfg = {0};
    cfg.socket_path = sock;
    cfg.recordings_dir = rec;
    cfg.source = src;
    cfg.open_recording = mem_open;
    cfg.open_user = &g_rec;
    cfg.idle_timeout_s = 0.3;
    rm_daemon *d = NULL;
    cr_assert_eq(rm_daemon_new(&cfg, &d, &e), RM_OK, "%s", e.msg);
    client *sub = connect_accepted(d, sock);
    json_t *r = ask(sub, d, "{\"cmd\":\"subscribe\"}");
    cr_assert(reply_ok(r));
    json_decref(r);
    client *idle = connect_accepted(d, sock);
    /* The daemon closes the silent client on its own (bounded wait: 5 s of
     * steps, each returning as soon as the idle deadline passes). */
    int closed = 0;
    for (int round = 0; round < 500 && !closed; round++) {
        cr_assert_eq(rm_daemon_step(d, 10, &e), RM_OK, "%s", e.msg);
        char b;
        closed = recv(idle->fd, &b, 1, MSG_DONTWAIT) == 0;
    }
    cr_expect(closed, "an idle client was never closed");
    r = ask(sub, d, "{\"cmd\":\"status\"}");
    cr_expect(reply_ok(r), "the subscriber was closed too");
    cr_expect_eq(json_integer_value(json_object_get(r, "clients")), 1);
    json_decref(r);
    client_close(idle);
    client_close(sub);
    rm_daemon_free(d);
    rm_test_rmtree(dir);
    free(dir);
    free(sock);
    free(rec);
    free(stream);
}

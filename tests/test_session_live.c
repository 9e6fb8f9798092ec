/* test_session_live.c - a recording read while it grows (SWMR), and a
 * writer killed with SIGKILL. The writer is a forked child that reports,
 * through a pipe, how many frames it has flushed; the parent checks what it
 * reads against those counts. No sleeps: the pipe orders the two. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_session.h"
#include "test_session_fixture.h"
#include "test_util.h"

#define R  16
#define C  12
#define PX (R * C)

static int write_full(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_full(int fd, void *p, size_t n)
{
    char *b = p;
    while (n) {
        ssize_t k = read(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Child: writes `total` frames (forever if 0), flushing every `every`
 * frames and reporting the flushed count after each flush. With an
 * `ack_fd` (>= 0) it then waits for the parent's one-byte acknowledgement
 * before writing on, so the parent has checked each flush while the file is
 * still open for writing: the two run in lock step, whatever the timing. */
static void child_writer_opt(const char *path, int fd, int ack_fd, uint64_t total, unsigned every,
                             int explicit_flush, double flush_s)
{
    rm_header h;
    rm_device d;
    fx_header(&h);
    fx_device(&d, R, C);
    rm_session_writer_options o = {
        .chunk_frames = 8, .deflate_level = 1, .flush_interval_s = flush_s, .swmr = 1};
    rm_session_writer *w = NULL;
    rm_err e = {0};
    if (rm_session_writer_create(path, &h, &d, NULL, &o, &w, &e) != RM_OK)
        _exit(3);
    uint16_t buf[PX];
    for (uint64_t i = 0; total == 0 || i < total; i++) {
        rm_frame f;
        fx_rm_frame(i, R, C, buf, &f);
        if (rm_session_writer_append(w, &f, &e) != RM_OK)
            _exit(4);
        if ((i + 1) % every == 0) {
            if (explicit_flush && rm_session_writer_flush(w, &e) != RM_OK)
                _exit(5);
            uint64_t n = i + 1;
            if (write_full(fd, &n, sizeof n) < 0)
                _exit(6);
            char ack;
            if (ack_fd >= 0 && read_full(ack_fd, &ack, 1) < 0)
                _exit(8);
        }
        if (total == 0 && i > 200000)
            pause(); /* the parent kills us long before */
    }
    if (rm_session_writer_close(w, &e) != RM_OK)
        _exit(7);
    uint64_t done = UINT64_MAX;
    write_full(fd, &done, sizeof done);
    _exit(0);
}

static void child_writer(const char *path, int fd, int ack_fd, uint64_t total, unsigned every)
{
    child_writer_opt(path, fd, ack_fd, total, every, 1, 1000.0);
}

/* Parent side of the handshake: lets the writer go on. */
static void ack_writer(int ack_fd)
{
    char ack = 1;
    cr_assert_eq(write_full(ack_fd, &ack, 1), 0, "writer gone before its acknowledgement");
}

static void check_frames(rm_session *s, uint64_t n)
{
    uint16_t *raw = malloc((n ? n : 1) * PX * 2), want[PX];
    double *t = malloc((n ? n : 1) * sizeof *t);
    rm_err e = {0};
    cr_assert_eq(rm_session_read(s, 0, (size_t)n, raw, t, NULL, NULL, NULL, &e), RM_OK, "%s",
                 e.msg);
    for (uint64_t i = 0; i < n; i++) {
        fx_frame(i, R, C, want);
        cr_assert(memcmp(raw + i * PX, want, sizeof want) == 0, "frame %llu of %llu differs",
                  (unsigned long long)i, (unsigned long long)n);
        cr_assert_eq(t[i], fx_time(i));
    }
    free(raw);
    free(t);
}

Test(session_live, reader_follows_growing_recording)
{
    char *dir = rm_test_tmpdir("sess_live");
    char *path = rm_test_path(dir, "live.h5");
    int fds[2], acks[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(pipe(acks), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        close(acks[1]);
        child_writer(path, fds[1], acks[0], 203, 5);
    }
    close(fds[1]);
    close(acks[0]);
    rm_session *s = NULL;
    rm_err e = {0};
    uint64_t n, checks = 0, last = 0;
    while (read_full(fds[0], &n, sizeof n) == 0 && n != UINT64_MAX) {
        if (!s) {
            cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
            cr_assert_eq(rm_session_is_live(s), 1);
        } else {
            cr_assert_eq(rm_session_refresh(s, &e), RM_OK, "%s", e.msg);
        }
        cr_assert_geq(rm_session_frames(s), n, "sees %llu frames, %llu flushed",
                      (unsigned long long)rm_session_frames(s), (unsigned long long)n);
        check_frames(s, n);
        checks++;
        last = n;
        ack_writer(acks[1]);
    }
    close(acks[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer exit status %d",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cr_assert_eq(n, UINT64_MAX, "writer did not finish");
    cr_assert_eq(last, 200);
    cr_assert_eq(checks, 40);
    rm_session_close(s);
    /* closed: opens normally, not live, everything there */
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_is_live(s), 0);
    cr_assert_eq(rm_session_frames(s), 203);
    check_frames(s, 203);
    rm_session_close(s);
    close(fds[0]);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(session_live, sigkill_keeps_flushed_frames)
{
    char *dir = rm_test_tmpdir("sess_kill");
    char *path = rm_test_path(dir, "killed.h5");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(path, fds[1], -1, 0, 13); /* 13: flushes fall mid-chunk too */
    }
    close(fds[1]);
    uint64_t n = 0, flushed = 0;
    while (flushed < 500 && read_full(fds[0], &n, sizeof n) == 0)
        flushed = n;
    cr_assert_geq(flushed, 500);
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status));
    /* flushes reported after our last read are in the pipe: count them */
    while (read_full(fds[0], &n, sizeof n) == 0)
        flushed = n;
    close(fds[0]);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_is_live(s), 1, "a crashed writer shows as live");
    cr_assert_geq(rm_session_frames(s), flushed, "holds %llu, flushed %llu",
                  (unsigned long long)rm_session_frames(s), (unsigned long long)flushed);
    check_frames(s, rm_session_frames(s));
    rm_session_close(s);
    /* rollmat info says so too, and exits 0 */
    cr_assert_eq(rm_test_system("'%s/cli/rollmat' info --json '%s' | grep -q '\"live\": true'",
                                RM_BUILD_DIR, path),
                 0, "rollmat info does not report the killed recording as live");
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

/* The disk fills (RLIMIT_FSIZE stands in for a full disk): the writer
 * reports it as a named error, and what was flushed stays readable. */
Test(session_live, disk_full_is_reported_and_flushed_data_kept)
{
    char *dir = rm_test_tmpdir("sess_full");
    char *path = rm_test_path(dir, "full.h5");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {200 * 1024, 200 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        rm_header h;
        rm_device d;
        fx_header(&h);
        fx_device(&d, R, C);
        rm_session_writer_options o = {.chunk_frames = 8, .flush_interval_s = 1000.0, .swmr = 1};
        rm_session_writer *w = NULL;
        rm_err e = {0};
        if (rm_session_writer_create(path, &h, &d, NULL, &o, &w, &e) != RM_OK)
            _exit(3);
        uint16_t buf[PX];
        rm_status st = RM_OK;
        for (uint64_t i = 0; st == RM_OK && i < 100000; i++) {
            rm_frame f;
            fx_rm_frame(i, R, C, buf, &f);
            st = rm_session_writer_append(w, &f, &e);
            if (st == RM_OK && (i + 1) % 8 == 0)
                st = rm_session_writer_flush(w, &e);
            if (st == RM_OK && (i + 1) % 8 == 0) {
                uint64_t n = i + 1;
                write_full(fds[1], &n, sizeof n);
            }
        }
        int32_t code = st;
        uint64_t marker = UINT64_MAX;
        write_full(fds[1], &marker, sizeof marker);
        write_full(fds[1], &code, sizeof code);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", e.msg);
        write_full(fds[1], msg, sizeof msg);
        rm_session_writer_close(w, &e);
        _exit(0);
    }
    close(fds[1]);
    uint64_t n, flushed = 0;
    while (read_full(fds[0], &n, sizeof n) == 0 && n != UINT64_MAX)
        flushed = n;
    cr_assert_eq(n, UINT64_MAX);
    int32_t code;
    char msg[512];
    cr_assert_eq(read_full(fds[0], &code, sizeof code), 0);
    cr_assert_eq(read_full(fds[0], msg, sizeof msg), 0);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    cr_assert_eq(code, RM_ERR_NO_SPACE, "status %d: %s", code, msg);
    cr_assert(strstr(msg, "full.h5"), "%s", msg);
    cr_assert_gt(flushed, 0);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_geq(rm_session_frames(s), flushed);
    check_frames(s, flushed);
    rm_session_close(s);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

/* Without explicit flushes, the writer flushes on its own once the flush
 * interval has passed (here 1 ns, so after every append): the reader sees
 * every frame the child reports as appended. */
Test(session_live, time_based_flush)
{
    char *dir = rm_test_tmpdir("sess_tflush");
    char *path = rm_test_path(dir, "tflush.h5");
    int fds[2], acks[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(pipe(acks), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        close(acks[1]);
        child_writer_opt(path, fds[1], acks[0], 30, 1, 0, 1e-9);
    }
    close(fds[1]);
    close(acks[0]);
    rm_session *s = NULL;
    rm_err e = {0};
    uint64_t n, seen = 0;
    while (read_full(fds[0], &n, sizeof n) == 0 && n != UINT64_MAX) {
        if (!s)
            cr_assert_eq(rm_session_open(path, &s, &e), RM_OK, "%s", e.msg);
        else
            cr_assert_eq(rm_session_refresh(s, &e), RM_OK, "%s", e.msg);
        cr_assert_geq(rm_session_frames(s), n);
        check_frames(s, n);
        seen = n;
        ack_writer(acks[1]);
    }
    close(acks[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(seen, 30);
    rm_session_close(s);
    close(fds[0]);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

/* test_safefile.c - the safe way to write a file (rm_safefile.h): the old
 * file stays until commit, failures leave it and no temporary behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_safefile.h"
#include "test_util.h"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* The whole file as a string (caller frees). */
static char *slurp(const char *path)
{
    uint8_t *d = NULL;
    size_t n = 0;
    cr_assert_eq(rm_test_read_file(path, &d, &n), 0, "%s", path);
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memcpy(s, d, n);
    s[n] = 0;
    free(d);
    return s;
}

static int n_temps(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static void assert_text(const char *path, const char *want)
{
    char *s = slurp(path);
    cr_assert_str_eq(s, want, "%s", path);
    free(s);
}

/* A fresh folder (*dir, caller frees) and the path of `name` in it (caller
 * frees), holding `old` when not NULL. */
static char *fresh(const char *tag, const char *name, const char *old, char **dir)
{
    *dir = rm_test_tmpdir(tag);
    char *path = rm_test_path(*dir, name);
    if (old)
        put(path, old);
    return path;
}

static void cleanup(char *dir, char *path)
{
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

Test(safefile, commit_replaces_atomically)
{
    char *dir, *path = fresh("sf_commit", "out.csv", "old\n", &dir);
    rm_safefile sf;
    rm_err e = {0};
    cr_assert_eq(rm_safefile_open(path, &sf, &e), RM_OK, "%s", e.msg);
    cr_assert_not_null(sf.f);
    cr_assert_eq(n_temps(dir), 1);
    for (int i = 0; i < 20000; i++)
        fprintf(sf.f, "row %d\n", i);
    cr_assert_eq(fflush(sf.f), 0);
    assert_text(path, "old\n"); /* written and flushed, not yet committed */
    cr_assert_eq(rm_safefile_commit(&sf, &e), RM_OK, "%s", e.msg);
    cr_assert_null(sf.f);
    cr_assert_eq(n_temps(dir), 0);
    char *s = slurp(path);
    size_t want = 0;
    for (int i = 0; i < 20000; i++)
        want += (size_t)snprintf(NULL, 0, "row %d\n", i);
    cr_assert_eq(strlen(s), want);
    cr_assert(!strncmp(s, "row 0\nrow 1\n", 12));
    cr_assert_str_eq(s + want - 10, "row 19999\n");
    free(s);
    rm_safefile_abort(&sf); /* after commit: a no-op */
    cr_assert_eq(access(path, F_OK), 0);
    cr_assert_eq(rm_safefile_commit(&sf, &e), RM_ERR_STATE);
    cleanup(dir, path);
}

Test(safefile, abort_keeps_old_file_and_leaves_no_temp)
{
    char *dir, *path = fresh("sf_abort", "keep.json", "{\"old\": 1}\n", &dir);
    rm_safefile sf;
    rm_err e = {0};
    cr_assert_eq(rm_safefile_open(path, &sf, &e), RM_OK, "%s", e.msg);
    fputs("{\"new\": ", sf.f);
    cr_assert_eq(fflush(sf.f), 0);
    rm_safefile_abort(&sf);
    rm_safefile_abort(&sf); /* twice is fine */
    cr_assert_null(sf.f);
    cr_assert_eq(n_temps(dir), 0);
    assert_text(path, "{\"old\": 1}\n");
    /* a zeroed struct counts as closed */
    rm_safefile z = {0};
    rm_safefile_abort(&z);
    cleanup(dir, path);
}

Test(safefile, new_file_and_whole_buffer)
{
    char *dir, *path = fresh("sf_write", "new.bin", NULL, &dir);
    size_t n = 300000;
    char *buf = malloc(n);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(i * 7 + 1);
    rm_err e = {0};
    cr_assert_eq(rm_safefile_write(path, buf, n, &e), RM_OK, "%s", e.msg);
    uint8_t *got = NULL;
    size_t len = 0;
    cr_assert_eq(rm_test_read_file(path, &got, &len), 0);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(got, buf, n), 0);
    cr_assert_eq(n_temps(dir), 0);
    free(got);
    free(buf);
    cleanup(dir, path);
}

Test(safefile, mode_is_0644)
{
    char *dir, *path = fresh("sf_mode", "m.txt", NULL, &dir);
    mode_t old = umask(022);
    rm_err e = {0};
    cr_assert_eq(rm_safefile_write(path, "x", 1, &e), RM_OK, "%s", e.msg);
    umask(old);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0644, "mode %o", (unsigned)(sb.st_mode & 07777));
    cleanup(dir, path);
}

Test(safefile, missing_folder_is_a_named_error)
{
    char *dir, *path = fresh("sf_missing", "no-such-folder/out.csv", NULL, &dir);
    rm_safefile sf;
    rm_err e = {0};
    rm_status st = rm_safefile_open(path, &sf, &e);
    cr_assert_eq(st, RM_ERR_IO, "%s", rm_status_name(st));
    cr_assert_eq(e.status, RM_ERR_IO);
    cr_assert_not_null(strstr(e.msg, path), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, strerror(ENOENT)), "%s", e.msg);
    cr_assert_null(sf.f);
    rm_safefile_abort(&sf);
    rm_err e2 = {0};
    cr_assert_eq(rm_safefile_write(path, "x", 1, &e2), RM_ERR_IO);
    cr_assert_not_null(strstr(e2.msg, path), "%s", e2.msg);
    char tmp[64];
    cr_assert_neq(rm_safefile_temp_name(path, tmp, sizeof tmp, &e2), RM_OK);
    cleanup(dir, path);
}

/* A file another library writes (HDF5): reserve a name, write, publish. */
Test(safefile, temp_name_and_publish)
{
    char *dir, *path = fresh("sf_publish", "r.h5", "old", &dir);
    char tmp[4096];
    rm_err e = {0};
    cr_assert_eq(rm_safefile_temp_name(path, tmp, sizeof tmp, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(strncmp(tmp, path, strlen(path)), 0, "%s", tmp);
    cr_assert_neq(access(tmp, F_OK), 0, "the name is reserved, not created");
    put(tmp, "new");
    assert_text(path, "old");
    cr_assert_eq(rm_safefile_publish(tmp, path, &e), RM_OK, "%s", e.msg);
    assert_text(path, "new");
    cr_assert_eq(n_temps(dir), 0);
    /* publishing a temp that is not there fails and keeps the target */
    char *gone = rm_test_path(dir, "r.h5.tmp-gone00");
    cr_assert_neq(rm_safefile_publish(gone, path, &e), RM_OK);
    cr_assert_not_null(strstr(e.msg, path), "%s", e.msg);
    assert_text(path, "new");
    char small[8];
    cr_assert_eq(rm_safefile_temp_name(path, small, sizeof small, &e), RM_ERR_ARG);
    free(gone);
    cleanup(dir, path);
}

/* The disk fills (RLIMIT_FSIZE with SIGXFSZ ignored stands in for it, in a
 * child so the limit does not leak): RM_ERR_NO_SPACE naming the file, the
 * old file intact, no temporary left. Both the buffer call and the stream
 * (where stdio would otherwise forget the errno) are checked. */
static void disk_full_case(int use_stream)
{
    char *dir, *path = fresh("sf_full", "full.csv", "old content\n", &dir);
    size_t n = 1 << 20;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {64 * 1024, 64 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        char *buf = calloc(1, n);
        if (!buf)
            _exit(11);
        rm_err e = {0};
        rm_status st;
        if (!use_stream)
            st = rm_safefile_write(path, buf, n, &e);
        else {
            rm_safefile sf;
            if (rm_safefile_open(path, &sf, &e) != RM_OK)
                _exit(12);
            for (size_t i = 0; i < n / 100; i++)
                fwrite(buf, 1, 100, sf.f);
            errno = 0; /* stdio's error must not depend on the last errno */
            st = rm_safefile_commit(&sf, &e);
        }
        free(buf);
        if (st == RM_ERR_NO_SPACE && e.status == RM_ERR_NO_SPACE && strstr(e.msg, path))
            _exit(0);
        _exit(20);
    }
    int ws = 0;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws), "child died");
    cr_assert_eq(WEXITSTATUS(ws), 0, "child status %d", WEXITSTATUS(ws));
    assert_text(path, "old content\n");
    cr_assert_eq(n_temps(dir), 0);
    cleanup(dir, path);
}

Test(safefile, disk_full_buffer_keeps_old_file) { disk_full_case(0); }

Test(safefile, disk_full_stream_keeps_old_file) { disk_full_case(1); }

/* commit_new never replaces: a file that appeared meanwhile wins, intact. */
Test(safefile, commit_new_refuses_to_overwrite)
{
    char *dir, *path = fresh("sf_new", "side.dev", NULL, &dir);
    rm_safefile sf;
    rm_err e = {0};
    cr_assert_eq(rm_safefile_open(path, &sf, &e), RM_OK, "%s", e.msg);
    fputs("second", sf.f);
    put(path, "first"); /* another writer got there between open and commit */
    cr_assert_eq(rm_safefile_commit_new(&sf, &e), RM_ERR_IO);
    cr_assert_not_null(strstr(e.msg, "refusing to overwrite"), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, path), "%s", e.msg);
    assert_text(path, "first");
    cr_assert_eq(n_temps(dir), 0);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rm_safefile_open(path, &sf, &e), RM_OK, "%s", e.msg);
    fputs("third", sf.f);
    cr_assert_eq(rm_safefile_commit_new(&sf, &e), RM_OK, "%s", e.msg);
    assert_text(path, "third");
    cr_assert_eq(n_temps(dir), 0);
    cleanup(dir, path);
}

/* A symbolic link to a regular file stays a link: the file it points to
 * gets the new content (written the safe way beside it). */
Test(safefile, symlink_is_written_through)
{
    char *dir = rm_test_tmpdir("sf_link");
    char *real = rm_test_path(dir, "real.csv");
    char *link = rm_test_path(dir, "link.csv");
    put(real, "old\n");
    cr_assert_eq(symlink("real.csv", link), 0);
    rm_err e = {0};
    cr_assert_eq(rm_safefile_write(link, "new\n", 4, &e), RM_OK, "%s", e.msg);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link was replaced by a file");
    char *s = slurp(real);
    cr_assert_str_eq(s, "new\n");
    free(s);
    cr_assert_eq(n_temps(dir), 0);
    /* HDF5-style: temp_name + publish through the link as well */
    char tmp[4096];
    cr_assert_eq(rm_safefile_temp_name(link, tmp, sizeof tmp, &e), RM_OK, "%s", e.msg);
    cr_assert(strncmp(tmp, real, strlen(real)) == 0, "temporary %s is not beside %s", tmp, real);
    put(tmp, "hdf5\n");
    cr_assert_eq(rm_safefile_publish(tmp, link, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "publish replaced the link");
    s = slurp(real);
    cr_assert_str_eq(s, "hdf5\n");
    free(s);
    rm_test_rmtree(dir);
    free(real);
    free(link);
    free(dir);
}

Test(safefile, dangling_link_and_folder_are_refused)
{
    char *dir = rm_test_tmpdir("sf_dangle");
    char *link = rm_test_path(dir, "dangling.csv");
    cr_assert_eq(symlink("nowhere/missing.csv", link), 0);
    rm_err e = {0};
    cr_assert_neq(rm_safefile_write(link, "x", 1, &e), RM_OK);
    cr_assert(strstr(e.msg, "dangling.csv") && strstr(e.msg, "link"), "message: %s", e.msg);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the dangling link was replaced");
    e = (rm_err){0};
    cr_assert_neq(rm_safefile_write(dir, "x", 1, &e), RM_OK);
    cr_assert(strstr(e.msg, "folder"), "message: %s", e.msg);
    cr_assert_eq(n_temps(dir), 0);
    rm_test_rmtree(dir);
    free(link);
    free(dir);
}

/* A FIFO is written in place: a reader at the other end gets the bytes
 * and the FIFO is still a FIFO afterwards (never renamed over). */
Test(safefile, fifo_is_written_in_place)
{
    char *dir = rm_test_tmpdir("sf_fifo");
    char *fifo = rm_test_path(dir, "out.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        FILE *f = fopen(fifo, "r");
        char buf[64] = {0};
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        _exit(f && write(fds[1], buf, n) == (ssize_t)n ? 0 : 3);
    }
    close(fds[1]);
    rm_err e = {0};
    cr_assert_eq(rm_safefile_write(fifo, "through the fifo\n", 17, &e), RM_OK, "%s", e.msg);
    char got[64] = {0};
    ssize_t n = read(fds[0], got, sizeof got - 1);
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(n, 17);
    cr_assert_str_eq(got, "through the fifo\n");
    struct stat st;
    cr_assert_eq(lstat(fifo, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode), "the FIFO was replaced by a regular file");
    cr_assert_eq(n_temps(dir), 0);
    /* an HDF5 output cannot go through a FIFO: refused, named, untouched */
    char tmp[4096];
    e = (rm_err){0};
    cr_assert_neq(rm_safefile_temp_name(fifo, tmp, sizeof tmp, &e), RM_OK);
    cr_assert(strstr(e.msg, "out.fifo") && strstr(e.msg, "regular file"), "message: %s", e.msg);
    rm_test_rmtree(dir);
    free(fifo);
    free(dir);
}

/* A character device (/dev/null) and a link to one stay what they are. */
Test(safefile, device_is_not_replaced)
{
    char *dir = rm_test_tmpdir("sf_dev");
    char *link = rm_test_path(dir, "null-link");
    cr_assert_eq(symlink("/dev/null", link), 0);
    rm_err e = {0};
    cr_assert_eq(rm_safefile_write("/dev/null", "x\n", 2, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_safefile_write(link, "x\n", 2, &e), RM_OK, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_assert(S_ISCHR(st.st_mode), "/dev/null is no longer a device");
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode));
    rm_test_rmtree(dir);
    free(link);
    free(dir);
}

/* "-" is standard output (checked in a child whose stdout is a file). */
Test(safefile, dash_is_stdout)
{
    char *dir = rm_test_tmpdir("sf_dash");
    char *out = rm_test_path(dir, "captured.txt");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(out, "w", stdout);
        rm_err e = {0};
        rm_status st = f ? rm_safefile_write("-", "to stdout\n", 10, &e) : RM_ERR_IO;
        fflush(stdout);
        _exit(st == RM_OK ? 0 : 3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *s = slurp(out);
    cr_assert_str_eq(s, "to stdout\n");
    free(s);
    struct stat st;
    char *dash = rm_test_path(dir, "-");
    cr_assert_neq(stat(dash, &st), 0, "a file named '-' was created");
    free(dash);
    rm_test_rmtree(dir);
    free(out);
    free(dir);
}

/* Same file by identity, whatever the spelling; not the same when only the
 * names look alike. */
Test(safefile, same_file_by_identity)
{
    char *dir = rm_test_tmpdir("sf_same");
    char *a = rm_test_path(dir, "a.h5");
    char *sub = rm_test_path(dir, "sub");
    put(a, "rec");
    cr_assert_eq(mkdir(sub, 0755), 0);
    char buf[4096], cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    cr_assert(rm_safefile_same("a.h5", "./a.h5"));
    cr_assert(rm_safefile_same("a.h5", "sub/../a.h5"));
    snprintf(buf, sizeof buf, "%s/a.h5", dir);
    cr_assert(rm_safefile_same("a.h5", buf));
    cr_assert_eq(link("a.h5", "hard.h5"), 0);
    cr_assert(rm_safefile_same("hard.h5", "a.h5"), "a hard link is the same file");
    cr_assert_eq(symlink("a.h5", "soft.h5"), 0);
    cr_assert(rm_safefile_same("soft.h5", "./a.h5"), "a symbolic link resolves to the file");
    /* not existing yet: the resolved folder + name decide */
    cr_assert(rm_safefile_same("new.h5", "sub/../new.h5"));
    cr_assert(!rm_safefile_same("new.h5", "sub/new.h5"));
    cr_assert(!rm_safefile_same("a.h5", "sub/a.h5"));
    cr_assert(!rm_safefile_same("a.h5", "a.h5.results.h5"));
    cr_assert_eq(chdir(cwd), 0);
    rm_test_rmtree(dir);
    free(a);
    free(sub);
    free(dir);
}

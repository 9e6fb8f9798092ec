/* safefile.c - temp file beside the target, fsync, rename, fsync the folder
 * (rm_safefile.h). */
#define _GNU_SOURCE /* fopencookie */
#include "rm_safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define TMP_SUFFIX ".tmp-XXXXXX"

/* Behind sf->f: stdio's buffer drops the errno of a failed write, so the
 * stream writes through this cookie, which keeps the first one for commit. */
typedef struct sf_cookie {
    int fd;
    int err;
} sf_cookie;

static ssize_t cookie_write(void *c, const char *buf, size_t len)
{
    sf_cookie *k = c;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(k->fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!k->err)
                k->err = w < 0 ? errno : EIO;
            errno = k->err;
            return (ssize_t)done; /* short (maybe 0): stdio marks the error */
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static int cookie_close(void *c)
{
    sf_cookie *k = c;
    int rc = k->fd >= 0 ? close(k->fd) : 0;
    k->fd = -1;
    return rc;
}

static rm_status status_of(int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return RM_ERR_NO_SPACE;
    if (e == EACCES || e == EPERM || e == EROFS)
        return RM_ERR_PERMISSION;
    return RM_ERR_IO;
}

static rm_status fail(rm_err *err, const char *path, const char *step, int e)
{
    return rm_err_set(err, status_of(e), "%s: %s: %s", path, step, strerror(e));
}

/* Best effort: the data is already safe in the file; this makes the new
 * directory entry durable too. */
static void fsync_folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    const char *d = ".";
    if (slash == path)
        d = "/";
    else if (slash && (dir = strndup(path, (size_t)(slash - path))))
        d = dir;
    else if (slash)
        return;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

static char *tmp_pattern(const char *path)
{
    size_t n = strlen(path) + sizeof TMP_SUFFIX;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%s" TMP_SUFFIX, path);
    return t;
}

rm_status rm_safefile_open(const char *path, rm_safefile *sf, rm_err *err)
{
    if (!sf)
        return rm_err_set(err, RM_ERR_ARG, "safefile: NULL argument");
    memset(sf, 0, sizeof *sf);
    if (!path || !*path)
        return rm_err_set(err, RM_ERR_ARG, "safefile: no path");
    sf_cookie *k = calloc(1, sizeof *k);
    sf->path = strdup(path);
    sf->tmp = tmp_pattern(path);
    if (!k || !sf->path || !sf->tmp) {
        free(k);
        rm_safefile_abort(sf);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    k->fd = mkstemp(sf->tmp);
    if (k->fd < 0) {
        int e = errno;
        free(k);
        free(sf->tmp);
        sf->tmp = NULL; /* nothing was created: abort must not unlink */
        rm_safefile_abort(sf);
        return fail(err, path, "cannot create a temporary file beside it", e);
    }
    /* mkstemp makes 0600; these are plain data files meant for sharing */
    fchmod(k->fd, 0644);
    sf->priv = k;
    cookie_io_functions_t io = {.write = cookie_write, .close = cookie_close};
    sf->f = fopencookie(k, "w", io);
    if (!sf->f) {
        rm_safefile_abort(sf);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    setvbuf(sf->f, NULL, _IOFBF, 1 << 16);
    return RM_OK;
}

void rm_safefile_abort(rm_safefile *sf)
{
    if (!sf)
        return;
    sf_cookie *k = sf->priv;
    if (sf->f)
        fclose(sf->f); /* closes k->fd; a flush error does not matter here */
    else if (k && k->fd >= 0)
        close(k->fd);
    if (sf->tmp)
        unlink(sf->tmp);
    free(k);
    free(sf->tmp);
    free(sf->path);
    memset(sf, 0, sizeof *sf);
}

/* Moves tmp to path only if nothing is at path (atomically). */
static int rename_noreplace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* the file system has no RENAME_NOREPLACE: a hard link is just as exclusive */
    if (link(tmp, path) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

static rm_status commit(rm_safefile *sf, int replace, rm_err *err)
{
    if (!sf || !sf->f || !sf->priv)
        return rm_err_set(err, RM_ERR_STATE, "safefile: commit without an open file");
    sf_cookie *k = sf->priv;
    const char *step = NULL;
    int e = 0;
    if (fflush(sf->f) != 0 || ferror(sf->f) || k->err) {
        step = "writing";
        e = k->err ? k->err : errno ? errno : EIO;
    } else if (fsync(k->fd) != 0) {
        step = "fsync";
        e = errno;
    }
    int rc = fclose(sf->f);
    sf->f = NULL;
    if (rc != 0 && !step) {
        step = "close";
        e = k->err ? k->err : errno;
    }
    if (!step && (replace ? rename(sf->tmp, sf->path) : rename_noreplace(sf->tmp, sf->path)) != 0) {
        step = "rename into place";
        e = errno;
    }
    rm_status st = RM_OK;
    if (step && e == EEXIST && !replace)
        st = rm_err_set(err, RM_ERR_IO, "%s already exists; refusing to overwrite it", sf->path);
    else if (step)
        st = fail(err, sf->path, step, e);
    else {
        free(sf->tmp); /* renamed: nothing left to remove */
        sf->tmp = NULL;
        fsync_folder_of(sf->path);
    }
    rm_safefile_abort(sf);
    return st;
}

rm_status rm_safefile_commit(rm_safefile *sf, rm_err *err)
{
    return commit(sf, 1, err);
}

rm_status rm_safefile_commit_new(rm_safefile *sf, rm_err *err)
{
    return commit(sf, 0, err);
}

rm_status rm_safefile_write(const char *path, const void *data, size_t len, rm_err *err)
{
    if (!data && len)
        return rm_err_set(err, RM_ERR_ARG, "%s: no data", path ? path : "(null)");
    rm_safefile sf;
    rm_status st = rm_safefile_open(path, &sf, err);
    if (st != RM_OK)
        return st;
    fwrite(data, 1, len, sf.f); /* a short write is caught by commit */
    return rm_safefile_commit(&sf, err);
}

rm_status rm_safefile_temp_name(const char *path, char *tmp, size_t cap, rm_err *err)
{
    if (!path || !tmp)
        return rm_err_set(err, RM_ERR_ARG, "safefile: NULL argument");
    if ((size_t)snprintf(tmp, cap, "%s" TMP_SUFFIX, path) >= cap)
        return rm_err_set(err, RM_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail(err, path, "cannot create a temporary file beside it", errno);
    close(fd);
    unlink(tmp);
    return RM_OK;
}

rm_status rm_safefile_publish(const char *tmp, const char *path, rm_err *err)
{
    if (!tmp || !path)
        return rm_err_set(err, RM_ERR_ARG, "safefile: NULL argument");
    const char *step = NULL;
    int e = 0;
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        step = "cannot open the finished file";
        e = errno;
    } else {
        if (fsync(fd) != 0) {
            step = "fsync";
            e = errno;
        }
        close(fd);
    }
    if (!step && rename(tmp, path) != 0) {
        step = "cannot move the finished file into place";
        e = errno;
    }
    if (step) {
        unlink(tmp);
        return fail(err, path, step, e);
    }
    fsync_folder_of(path);
    return RM_OK;
}

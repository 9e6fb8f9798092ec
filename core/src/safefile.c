/* safefile.c - temp file beside the target, fsync, rename, fsync the folder
 * (rm_safefile.h). */
#define _GNU_SOURCE /* fopencookie */
#include "rm_safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define TMP_SUFFIX ".tmp-XXXXXX"

/* Temporaries created and not yet renamed or removed, for
 * rm_safefile_remove_pending (called from a signal handler). The one piece
 * of mutable process-wide state in the libraries: a signal handler can be
 * given no context, and the temporaries are named deep inside formats/.
 * A slot is claimed by one thread (free -> busy by compare-exchange), filled,
 * then published (live); only its owner releases it. The handler reads
 * nothing but live slots, whose path no longer changes. */
enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_LIVE = 2 };
#define SF_PENDING 32
static struct {
    atomic_int state;
    char path[PATH_MAX];
} pending[SF_PENDING];

/* Remembers `tmp` until sf_forget; with every slot taken (32 temporaries
 * at once) the temporary is simply not protected. */
static void sf_remember(const char *tmp)
{
    if (strlen(tmp) >= PATH_MAX)
        return;
    for (int i = 0; i < SF_PENDING; i++) {
        int want = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&pending[i].state, &want, SLOT_BUSY))
            continue;
        strcpy(pending[i].path, tmp);
        atomic_store(&pending[i].state, SLOT_LIVE);
        return;
    }
}

/* Called once `tmp` has been renamed or removed. */
static void sf_forget(const char *tmp)
{
    for (int i = 0; i < SF_PENDING; i++) {
        if (atomic_load(&pending[i].state) != SLOT_LIVE || strcmp(pending[i].path, tmp))
            continue;
        atomic_store(&pending[i].state, SLOT_BUSY);
        pending[i].path[0] = 0;
        atomic_store(&pending[i].state, SLOT_FREE);
        return;
    }
}

void rm_safefile_remove_pending(void)
{
    for (int i = 0; i < SF_PENDING; i++)
        if (atomic_load(&pending[i].state) == SLOT_LIVE)
            unlink(pending[i].path);
}

/* Behind sf->f: stdio's buffer drops the errno of a failed write, so the
 * stream writes through this cookie, which keeps the first one for commit. */
typedef struct sf_cookie {
    int fd;
    int err;
    int direct;   /* writing straight into a device, FIFO or stdout: no rename */
    char *target; /* where the temporary is renamed to: the path, or the
                     * regular file a symbolic link at the path points to */
} sf_cookie;

/* What is at an output path, and so how it is written. */
typedef enum sf_kind {
    SF_NEW,     /* nothing yet: temporary + rename */
    SF_REGULAR, /* a regular file (maybe behind links): temporary + rename onto it */
    SF_DIRECT,  /* a device, FIFO or socket (maybe behind links): written in place */
    SF_STDOUT,  /* "-": standard output */
} sf_kind;

/* Looks at `path` without changing anything. *target (caller frees) is the
 * file a rename must replace: the path itself, or for a symbolic link the
 * regular file it resolves to, so the link stays a link. */
static rm_status sf_resolve(const char *path, sf_kind *kind, char **target, rm_err *err)
{
    *target = NULL;
    if (!strcmp(path, "-")) {
        *kind = SF_STDOUT;
        return RM_OK;
    }
    struct stat ls, st;
    if (lstat(path, &ls) != 0) {
        if (errno != ENOENT)
            return rm_err_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
        *kind = SF_NEW;
    } else if (S_ISLNK(ls.st_mode)) {
        if (stat(path, &st) != 0)
            return rm_err_set(err, RM_ERR_IO,
                              "%s is a symbolic link to nothing (or a loop of links); refusing "
                              "to replace the link",
                              path);
        if (S_ISDIR(st.st_mode))
            return rm_err_set(err, RM_ERR_IO, "%s is a folder (through a link), not a file", path);
        if (!S_ISREG(st.st_mode)) {
            /* /dev/stdout -> /proc/self/fd/1 -> a pipe has no path to
             * resolve: open the link itself, which follows it */
            *kind = SF_DIRECT;
        } else {
            char real[PATH_MAX];
            if (!realpath(path, real))
                return rm_err_set(err, RM_ERR_IO, "%s: cannot resolve the link: %s", path,
                                  strerror(errno));
            *kind = SF_REGULAR;
            *target = strdup(real);
            return *target ? RM_OK : rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
        }
    } else if (S_ISDIR(ls.st_mode)) {
        return rm_err_set(err, RM_ERR_IO, "%s is a folder, not a file", path);
    } else {
        *kind = S_ISREG(ls.st_mode) ? SF_REGULAR : SF_DIRECT;
    }
    *target = strdup(path);
    return *target ? RM_OK : rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
}

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

static void cookie_free(sf_cookie *k)
{
    if (k)
        free(k->target);
    free(k);
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

/* The stream over an open descriptor, writing through the cookie. */
static rm_status sf_stream(rm_safefile *sf, sf_cookie *k, const char *path, rm_err *err)
{
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

/* A device, FIFO or standard output: written in place, never renamed over
 * (as root, a rename over /dev/stdout would replace the system's link). */
static rm_status sf_open_direct(rm_safefile *sf, sf_cookie *k, sf_kind kind, const char *path,
                                rm_err *err)
{
    k->direct = 1;
    k->fd =
        kind == SF_STDOUT ? dup(STDOUT_FILENO) : open(k->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (k->fd < 0) {
        int e = errno;
        cookie_free(k);
        rm_safefile_abort(sf);
        return fail(err, path, "cannot open for writing", e);
    }
    return sf_stream(sf, k, path, err);
}

rm_status rm_safefile_open(const char *path, rm_safefile *sf, rm_err *err)
{
    if (!sf)
        return rm_err_set(err, RM_ERR_ARG, "safefile: NULL argument");
    memset(sf, 0, sizeof *sf);
    if (!path || !*path)
        return rm_err_set(err, RM_ERR_ARG, "safefile: no path");
    sf_kind kind;
    char *target = NULL;
    rm_status st = sf_resolve(path, &kind, &target, err);
    if (st != RM_OK)
        return st;
    sf_cookie *k = calloc(1, sizeof *k);
    sf->path = strdup(path);
    if (!k || !sf->path) {
        free(k);
        free(target);
        rm_safefile_abort(sf);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    k->target = target;
    k->fd = -1;
    if (kind == SF_DIRECT || kind == SF_STDOUT)
        return sf_open_direct(sf, k, kind, path, err);
    sf->tmp = tmp_pattern(k->target);
    if (!sf->tmp) {
        cookie_free(k);
        rm_safefile_abort(sf);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    k->fd = mkstemp(sf->tmp);
    if (k->fd < 0) {
        int e = errno;
        cookie_free(k);
        free(sf->tmp);
        sf->tmp = NULL; /* nothing was created: abort must not unlink */
        rm_safefile_abort(sf);
        return fail(err, path, "cannot create a temporary file beside it", e);
    }
    sf_remember(sf->tmp);
    /* mkstemp makes 0600; these are plain data files meant for sharing */
    fchmod(k->fd, 0644);
    return sf_stream(sf, k, path, err);
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
    if (sf->tmp) {
        unlink(sf->tmp);
        sf_forget(sf->tmp);
    }
    cookie_free(k);
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
    } else if (!k->direct && fsync(k->fd) != 0) {
        step = "fsync";
        e = errno;
    }
    int rc = fclose(sf->f);
    sf->f = NULL;
    if (rc != 0 && !step) {
        step = "close";
        e = k->err ? k->err : errno;
    }
    if (k->direct) {
        /* written in place: nothing to rename, nothing to remove */
    } else if (!step &&
               (replace ? rename(sf->tmp, k->target) : rename_noreplace(sf->tmp, k->target)) != 0) {
        step = "rename into place";
        e = errno;
    }
    rm_status st = RM_OK;
    if (step && e == EEXIST && !replace)
        st = rm_err_set(err, RM_ERR_IO, "%s already exists; refusing to overwrite it", sf->path);
    else if (step)
        st = fail(err, sf->path, step, e);
    else if (!k->direct) {
        sf_forget(sf->tmp);
        free(sf->tmp); /* renamed: nothing left to remove */
        sf->tmp = NULL;
        fsync_folder_of(k->target);
    }
    rm_safefile_abort(sf);
    return st;
}

rm_status rm_safefile_commit(rm_safefile *sf, rm_err *err) { return commit(sf, 1, err); }

rm_status rm_safefile_commit_new(rm_safefile *sf, rm_err *err) { return commit(sf, 0, err); }

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

/* The regular file an HDF5 output at `path` ends up as (caller frees), or
 * an error for a target HDF5 cannot write through (a device, FIFO, "-"). */
static rm_status sf_file_target(const char *path, char **target, rm_err *err)
{
    sf_kind kind;
    rm_status st = sf_resolve(path, &kind, target, err);
    if (st == RM_OK && (kind == SF_DIRECT || kind == SF_STDOUT)) {
        free(*target);
        *target = NULL;
        st = rm_err_set(err, RM_ERR_IO,
                        "%s is not a regular file (a device, FIFO or standard output): this "
                        "output is an HDF5 file and needs a regular file",
                        path);
    }
    return st;
}

rm_status rm_safefile_temp_name(const char *path, char *tmp, size_t cap, rm_err *err)
{
    if (!path || !tmp)
        return rm_err_set(err, RM_ERR_ARG, "safefile: NULL argument");
    char *target = NULL;
    rm_status st = sf_file_target(path, &target, err);
    if (st != RM_OK)
        return st;
    int n = snprintf(tmp, cap, "%s" TMP_SUFFIX, target);
    free(target);
    if (n < 0 || (size_t)n >= cap)
        return rm_err_set(err, RM_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail(err, path, "cannot create a temporary file beside it", errno);
    close(fd);
    unlink(tmp);
    sf_remember(tmp);
    return RM_OK;
}

void rm_safefile_temp_discard(const char *tmp)
{
    if (!tmp)
        return;
    unlink(tmp);
    sf_forget(tmp);
}

rm_status rm_safefile_publish(const char *tmp, const char *path, rm_err *err)
{
    if (!tmp || !path)
        return rm_err_set(err, RM_ERR_ARG, "safefile: NULL argument");
    char *target = NULL;
    rm_status st = sf_file_target(path, &target, err);
    if (st != RM_OK) {
        rm_safefile_temp_discard(tmp);
        return st;
    }
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
    if (!step && rename(tmp, target) != 0) {
        step = "cannot move the finished file into place";
        e = errno;
    }
    if (step) {
        rm_safefile_temp_discard(tmp);
        free(target);
        return fail(err, path, step, e);
    }
    sf_forget(tmp);
    fsync_folder_of(target);
    free(target);
    return RM_OK;
}

/* Splits `path` into its folder's real path and its last name, for a file
 * that does not exist yet. Returns 0 on success. */
static int real_parent(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[PATH_MAX], real[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return -1;
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || !realpath(dir, real))
        return -1;
    int n = snprintf(out, cap, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int rm_safefile_same(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    struct stat sa, sb;
    int ha = stat(a, &sa) == 0, hb = stat(b, &sb) == 0;
    if (ha && hb)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    /* One does not exist yet: compare where each would be. */
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!(ha ? realpath(a, ra) != NULL : real_parent(a, ra, sizeof ra) == 0))
        return 0;
    if (!(hb ? realpath(b, rb) != NULL : real_parent(b, rb, sizeof rb) == 0))
        return 0;
    return strcmp(ra, rb) == 0;
}

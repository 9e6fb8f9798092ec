/* rm_safefile.h - writing a file "the safe way": the bytes go to a
 * temporary file beside the target ("<path>.tmp-XXXXXX", same folder so
 * the rename stays on one file system), which is flushed, fsynced and then
 * renamed over the target, and the folder is fsynced so the rename itself
 * survives a power cut. A reader sees either the old file or the whole new
 * one, never half of it; a failure leaves the old file untouched and no
 * temporary behind, and so does an interrupted one when the program calls
 * rm_safefile_remove_pending from its signal handler.
 *
 * Targets that are not plain files are written THROUGH, never renamed over:
 * - "-" is standard output;
 * - an existing device, FIFO or socket (or a link to one) is opened and
 *   written in place (no temporary, no rename, no fsync);
 * - a symbolic link to a regular file: the temporary goes beside the file
 *   the link resolves to and replaces that file, so the link stays a link;
 *   a link to nothing (or a loop) is refused, as is a folder.
 *
 * Errors name the target path. errno ENOSPC, EDQUOT and EFBIG (the file
 * size limit, RLIMIT_FSIZE) map to RM_ERR_NO_SPACE, EACCES/EPERM/EROFS to
 * RM_ERR_PERMISSION, everything else to RM_ERR_IO. */
#ifndef RM_SAFEFILE_H
#define RM_SAFEFILE_H

#include <stddef.h>
#include <stdio.h>

#include "rm_status.h"

/* One file being written. Caller-owned struct (on the stack or inside the
 * caller's own struct; it must not be copied or moved between open and
 * commit/abort); everything it points to is owned by the module. A zeroed
 * struct ({0}) is "closed": abort on it does nothing. */
typedef struct rm_safefile {
    FILE *f;    /* write here between open and commit/abort; owned */
    char *path; /* the target (a copy), owned */
    char *tmp;  /* the temporary beside it, owned */
    void *priv; /* remembers the first write error; owned */
} rm_safefile;

/* Creates the temporary "<path>.tmp-XXXXXX" beside `path` with mode 0644
 * and opens sf->f (fully buffered) for writing into it. The target is not
 * touched until rm_safefile_commit. On failure *sf is left closed and
 * `err` names path ("x.csv: cannot create a temporary file beside it:
 * No such file or directory"). */
rm_status rm_safefile_open(const char *path, rm_safefile *sf, rm_err *err);

/* Flushes, fsyncs and closes the temporary, renames it over the target and
 * fsyncs the folder. Any write error seen since open (the first one, with
 * its errno) fails the commit. On failure the temporary is removed and the
 * file at the target is untouched. Either way *sf ends closed (rm_safefile_
 * abort afterwards is a no-op). */
rm_status rm_safefile_commit(rm_safefile *sf, rm_err *err);

/* Like rm_safefile_commit, but for files that must never be replaced: if
 * something exists at the target by the time of the rename, fails with
 * RM_ERR_IO "PATH already exists; refusing to overwrite it" (checked
 * atomically with the rename, so two writers racing cannot both win). */
rm_status rm_safefile_commit_new(rm_safefile *sf, rm_err *err);

/* Closes and removes the temporary; the target is untouched. No-op on a
 * closed (zeroed, committed or aborted) struct, so it may be called twice. */
void rm_safefile_abort(rm_safefile *sf);

/* Writes the `len` bytes at `data` (borrowed) to `path` (open, write,
 * commit). */
rm_status rm_safefile_write(const char *path, const void *data, size_t len, rm_err *err);

/* For files that another library creates itself (HDF5): writes into `tmp`
 * (caller's buffer of `cap` bytes) a name "<path>.tmp-XXXXXX" beside
 * `path` that did not exist at the time of the call. The file is NOT
 * created: the caller creates it exclusively (e.g. H5F_ACC_EXCL), writes
 * and closes it, then calls rm_safefile_publish, or removes it on failure. */
rm_status rm_safefile_temp_name(const char *path, char *tmp, size_t cap, rm_err *err);

/* Removes a temporary named by rm_safefile_temp_name that will not be
 * published (the writer failed); no-op for NULL. */
void rm_safefile_temp_discard(const char *tmp);

/* Fsyncs the finished, closed file `tmp`, renames it over `path` and fsyncs
 * the folder. On failure `tmp` is removed and the file at `path` untouched.
 * As for rm_safefile_open, a symbolic link at `path` is followed (the file
 * it points to is replaced); temp_name and publish refuse a device, FIFO or
 * "-", which an HDF5 file cannot be written through. */
rm_status rm_safefile_publish(const char *tmp, const char *path, rm_err *err);

/* Interrupted writes leave nothing behind: removes every temporary this
 * process has created (rm_safefile_open, rm_safefile_temp_name) and not yet
 * renamed into place or removed, in any thread. Async-signal-safe (atomic
 * loads and unlink only): meant for a SIGINT/SIGTERM handler, which then
 * ends the process. Up to 32 temporaries at once are tracked; more are
 * still written correctly but not removed by this. The targets are never
 * touched. */
void rm_safefile_remove_pending(void);

/* 1 if `a` and `b` name the same file: by device and inode when both exist
 * (so "./a.h5", "$PWD/a.h5", "sub/../a.h5" and hard links all match), and
 * by the resolved folder plus name when one does not exist yet; else 0.
 * Every command that writes checks its outputs against its inputs with
 * this, never by comparing strings. */
int rm_safefile_same(const char *a, const char *b);

#endif

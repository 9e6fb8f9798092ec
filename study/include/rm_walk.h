/* rm_walk.h - the search for recordings below folders, shared by
 * `rollmat batch` and `rollmat study` so both find the same files.
 *
 * Folders are identified by device and inode: each is read once, so a link
 * back up (sub/up -> ..) or two links to one folder cannot make the search
 * loop or list a recording twice. Links to folders are not followed unless
 * asked (follow_links); then only after the whole tree without them has
 * been searched, in sorted rounds, so a folder is found by its own path
 * when it has one and the paths do not change from run to run. A file
 * reached by several paths (hard links, links to it or to a folder holding
 * it) is listed once: by a path not through a link if there is one, then
 * the first in byte order. Hidden entries, results files (*.results.h5) and
 * temporary files (*.tmp.*) are not recordings. */
#ifndef RM_WALK_H
#define RM_WALK_H

#include <stddef.h>
#include <sys/stat.h>

#include "rm_status.h"

/* A recording found: its path as found and the file it is. */
typedef struct rm_walk_file {
    char *path; /* owned by the list */
    dev_t dev;
    ino_t ino;
    int via_link; /* reached through a symbolic link (the file's or a folder's) */
} rm_walk_file;

/* The result: files sorted by path (byte order). Owned by the caller,
 * released with rm_walk_list_free. */
typedef struct rm_walk_list {
    rm_walk_file *v;
    size_t n, cap;
} rm_walk_list;

/* Called for a problem that does not stop the search (an unreadable folder,
 * one more than 64 deep) with a one-line message naming the folder. */
typedef void (*rm_walk_warn_fn)(void *user, const char *msg);

typedef struct rm_walk_opts {
    const struct stat *skip; /* a folder left out (batch's results folder), or NULL */
    int follow_links;        /* follow links to folders */
    rm_walk_warn_fn warn;    /* may be NULL */
    void *warn_user;
} rm_walk_opts;

/* What the search met besides the files. first_link is owned by the
 * caller (free). */
typedef struct rm_walk_note {
    size_t links_skipped; /* links to folders not followed */
    char *first_link;     /* the first of them, or NULL */
    int failed;           /* a folder could not be read (warned) */
} rm_walk_note;

/* Searches the n inputs (folders searched, even when the name given is a
 * link; a file named is listed whatever its name) and fills *out (which
 * must be zeroed or empty) and *note. A missing or unreadable input is an
 * error naming it (RM_ERR_NOT_FOUND / RM_ERR_IO) and *out is left empty:
 * a mistyped folder must not give a study that silently lacks it. */
rm_status rm_walk(const char *const *inputs, size_t n, const rm_walk_opts *opts, rm_walk_list *out,
                  rm_walk_note *note, rm_err *err);

/* Whether a file name looks like a recording (*.h5, *.hdf5, not results or
 * temporary files). */
int rm_walk_is_recording_name(const char *name);

/* Releases the paths and the array; the list is then empty. */
void rm_walk_list_free(rm_walk_list *l);

#endif

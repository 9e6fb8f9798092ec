/* walk.c - the search for recordings below folders (rm_walk.h). Moved here
 * from `rollmat batch` so `rollmat study` finds exactly the same files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "rm_walk.h"

static int list_add(rm_walk_list *l, const char *s, const struct stat *st, int via_link)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        rm_walk_file *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    rm_walk_file *f = &l->v[l->n];
    if (!(f->path = strdup(s)))
        return -1;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->via_link = via_link;
    l->n++;
    return 0;
}

void rm_walk_list_free(rm_walk_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    *l = (rm_walk_list){0};
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int rm_walk_is_recording_name(const char *name)
{
    return (ends_with(name, ".h5") || ends_with(name, ".hdf5")) &&
           !ends_with(name, ".results.h5") && !strstr(name, ".tmp.");
}

/* One search over the inputs (see rm_walk.h for the rules). */
typedef struct scan_ctx {
    const rm_walk_opts *o;
    rm_walk_list *out;
    rm_walk_list pending; /* links to folders still to follow */
    struct stat *seen;    /* folders read so far */
    size_t n_seen, cap_seen;
    rm_walk_note *note;
} scan_ctx;

static void warn(scan_ctx *c, const char *fmt, const char *a, const char *b)
{
    c->note->failed = 1;
    if (!c->o->warn)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    c->o->warn(c->o->warn_user, msg);
}

static int scan_dir(scan_ctx *c, const char *dir, int via_link, int depth);

/* Visits a folder unless it is the skipped folder or was read already. */
static int visit_dir(scan_ctx *c, const char *dir, const struct stat *st, int via_link, int depth)
{
    const struct stat *skip = c->o->skip;
    if (skip && st->st_dev == skip->st_dev && st->st_ino == skip->st_ino)
        return 0;
    for (size_t i = 0; i < c->n_seen; i++)
        if (c->seen[i].st_dev == st->st_dev && c->seen[i].st_ino == st->st_ino)
            return 0;
    if (c->n_seen == c->cap_seen) {
        size_t cap = c->cap_seen ? c->cap_seen * 2 : 64;
        struct stat *n = realloc(c->seen, cap * sizeof *n);
        if (!n)
            return -1;
        c->seen = n;
        c->cap_seen = cap;
    }
    c->seen[c->n_seen++] = *st;
    if (depth > 64) { /* said, not silently cut */
        warn(c, "%s: more than 64 folders deep; not searched%s", dir, "");
        return 0;
    }
    return scan_dir(c, dir, via_link, depth);
}

/* One entry of a folder: a recording is listed, a folder searched, a link
 * to a folder followed only when asked (else counted for the note).
 * Entries that vanish or dangle are not files to analyse. */
static int scan_entry(scan_ctx *c, const char *p, const char *name, int via_link, int depth)
{
    struct stat ls, st;
    if (lstat(p, &ls) != 0)
        return 0;
    int link = S_ISLNK(ls.st_mode);
    if (link && stat(p, &st) != 0)
        return 0;
    if (!link)
        st = ls;
    if (S_ISDIR(st.st_mode) && link && c->o->follow_links)
        return list_add(&c->pending, p, &st, 1);
    if (S_ISDIR(st.st_mode) && link) {
        if (!c->note->links_skipped++ && !(c->note->first_link = strdup(p)))
            return -1;
        return 0;
    }
    if (S_ISDIR(st.st_mode))
        return visit_dir(c, p, &st, via_link || link, depth + 1);
    if (S_ISREG(st.st_mode) && rm_walk_is_recording_name(name))
        return list_add(c->out, p, &st, via_link || link);
    return 0;
}

/* Recursive search; skips hidden entries. Returns -1 only when out of
 * memory. */
static int scan_dir(scan_ctx *c, const char *dir, int via_link, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        warn(c, "%s: %s", dir, strerror(errno));
        return 0;
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, n, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", e->d_name);
        rc = scan_entry(c, p, e->d_name, via_link, depth);
        free(p);
    }
    closedir(d);
    return rc;
}

static int cmp_file_then_path(const void *a, const void *b)
{
    const rm_walk_file *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    if (x->via_link != y->via_link)
        return x->via_link - y->via_link;
    return strcmp(x->path, y->path);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const rm_walk_file *)a)->path, ((const rm_walk_file *)b)->path);
}

/* Follows the pending links to folders in rounds, each round in byte
 * order. */
static int follow_links(scan_ctx *c)
{
    int rc = 0;
    while (!rc && c->pending.n) {
        rm_walk_list round = c->pending;
        c->pending = (rm_walk_list){0};
        if (round.n > 1)
            qsort(round.v, round.n, sizeof *round.v, cmp_path);
        for (size_t i = 0; i < round.n && !rc; i++) {
            struct stat st = {.st_dev = round.v[i].dev, .st_ino = round.v[i].ino};
            rc = visit_dir(c, round.v[i].path, &st, 1, 0);
        }
        rm_walk_list_free(&round);
    }
    return rc;
}

/* One file once: the path kept is one not through a link if there is one,
 * then the first in byte order, so every run and every shard keep the
 * same one. */
static void dedupe(rm_walk_list *l)
{
    if (l->n < 2) /* qsort wants a non-NULL array even for none */
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_file_then_path);
    size_t u = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (u && l->v[u - 1].dev == l->v[i].dev && l->v[u - 1].ino == l->v[i].ino)
            free(l->v[i].path);
        else
            l->v[u++] = l->v[i];
    }
    l->n = u;
    qsort(l->v, l->n, sizeof *l->v, cmp_path);
}

rm_status rm_walk(const char *const *inputs, size_t n, const rm_walk_opts *opts, rm_walk_list *out,
                  rm_walk_note *note, rm_err *err)
{
    static const rm_walk_opts none = {0};
    *note = (rm_walk_note){0};
    scan_ctx c = {.o = opts ? opts : &none, .out = out, .note = note};
    rm_status st = RM_OK;
    int rc = 0;
    for (size_t i = 0; i < n && !rc && !st; i++) {
        struct stat s;
        if (stat(inputs[i], &s) != 0)
            st = rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s",
                            inputs[i], strerror(errno));
        else if (S_ISDIR(s.st_mode)) /* a folder named is searched, even through a link */
            rc = visit_dir(&c, inputs[i], &s, 0, 0);
        else
            rc = list_add(out, inputs[i], &s, 0);
    }
    if (!rc && !st)
        rc = follow_links(&c);
    free(c.seen);
    rm_walk_list_free(&c.pending);
    if (rc && !st)
        st = rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    if (st) {
        rm_walk_list_free(out);
        free(note->first_link);
        note->first_link = NULL;
        return st;
    }
    dedupe(out);
    return RM_OK;
}

/* import_lines.c - the importers' two line readers, with one set of rules:
 * a line ends at LF, at CRLF, or at a lone CR (exports come from Windows and
 * old Mac tools as well as Unix); CRs right before an LF belong to that
 * terminator (a doubly converted "\r\r\n" is one line end, as it always
 * was: line numbers in messages stay those of an editor); the terminator is
 * not part of the line; a UTF-8 byte-order mark before the first line is
 * dropped.
 *
 * imp_walk walks a buffer (the detectors look at the first
 * RM_IMPORT_DETECT_BYTES of a file); imp_lines reads a stream (the parsers:
 * memory grows with the longest line, never with the file). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "import_impl.h"

static int is_bom(const char *s, size_t n)
{
    return n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
           (unsigned char)s[2] == 0xBF;
}

/* ---- buffer walker ---- */

void imp_walk_init(imp_walk *w, const void *buf, size_t len, size_t limit)
{
    const char *b = buf;
    if (!b)
        len = 0;
    if (limit && len > limit)
        len = limit;
    w->p = b;
    w->end = b + len;
    w->lineno = 0;
    w->unterminated = 0;
    if (is_bom(b, len))
        w->p += 3;
}

int imp_walk_next(imp_walk *w, const char **line, size_t *n)
{
    if (!w->p || w->p >= w->end)
        return 0;
    const char *s = w->p, *e = s;
    while (e < w->end && *e != '\n' && *e != '\r')
        e++;
    *line = s;
    *n = (size_t)(e - s);
    w->unterminated = e == w->end;
    if (e < w->end && *e == '\r') {
        const char *q = e;
        while (q < w->end && *q == '\r')
            q++;
        /* CR...CRLF: one terminator; a lone CR: this one only (the next
         * CR, if any, ends an empty line) */
        e = q < w->end && *q == '\n' ? q + 1 : e + 1;
    } else if (e < w->end) {
        e++;
    }
    w->p = e;
    w->lineno++;
    return 1;
}

/* ---- stream reader ---- */

void imp_lines_init(imp_lines *l, FILE *f, const char *name)
{
    memset(l, 0, sizeof *l);
    l->f = f;
    l->name = name ? name : "input";
}

void imp_lines_free(imp_lines *l)
{
    free(l->buf);
    l->buf = NULL;
    l->cap = 0;
}

/* Room for one more byte and the NUL; the line limit is checked here. */
static int lines_grow(imp_lines *l, size_t n, rm_err *err)
{
    if (n + 2 <= l->cap)
        return 0;
    if (l->cap >= RM_IMPORT_MAX_LINE) {
        rm_err_set(err, RM_ERR_FORMAT, "%s: line %zu: longer than %u bytes", l->name, l->lineno + 1,
                   (unsigned)RM_IMPORT_MAX_LINE);
        return RM_ERR_FORMAT;
    }
    size_t cap = l->cap ? l->cap * 2 : 4096;
    if (cap > RM_IMPORT_MAX_LINE)
        cap = RM_IMPORT_MAX_LINE;
    char *nb = realloc(l->buf, cap);
    if (!nb) {
        rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory reading line %zu", l->name, l->lineno + 1);
        return RM_ERR_NOMEM;
    }
    l->buf = nb;
    l->cap = cap;
    return 0;
}

int imp_lines_next(imp_lines *l, char **line, size_t *len, rm_err *err)
{
    size_t n = 0;
    int c;
    int got = 0;
    if (l->empty_owed) {
        l->empty_owed--;
        got = 1;
        goto done;
    }
    for (;;) {
        c = getc_unlocked(l->f); /* one reader per stream: no locking per byte */
        if (c == EOF)
            break;
        got = 1;
        if (c == '\n')
            break;
        if (c == '\r') {
            size_t crs = 1;
            int c2;
            while ((c2 = getc_unlocked(l->f)) == '\r')
                crs++;
            if (c2 != '\n') { /* lone CRs: the 2nd.. end empty lines */
                if (c2 != EOF)
                    ungetc(c2, l->f);
                l->empty_owed = crs - 1;
            }
            break;
        }
        if (c == '\0') {
            rm_err_set(err, RM_ERR_FORMAT,
                       "%s: line %zu: binary data (NUL byte), not a text export", l->name,
                       l->lineno + 1);
            return RM_ERR_FORMAT;
        }
        int rc = lines_grow(l, n, err);
        if (rc)
            return rc;
        l->buf[n++] = (char)c;
    }
    if (ferror(l->f)) {
        rm_err_set(err, RM_ERR_IO, "%s: read error after line %zu: %s", l->name, l->lineno,
                   strerror(errno));
        return RM_ERR_IO;
    }
    if (!got)
        return 0;
done:
    if (!l->buf) {
        l->buf = malloc(64);
        if (!l->buf)
            return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", l->name);
        l->cap = 64;
    }
    l->buf[n] = '\0';
    l->lineno++;
    char *s = l->buf;
    if (l->lineno == 1 && is_bom(s, n)) {
        s += 3;
        n -= 3;
    }
    *line = s;
    *len = n;
    return 1;
}

int imp_line_starts(const char *line, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && !memcmp(line, prefix, k);
}

int imp_line_has(const char *line, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (line[i] == needle[0] && !memcmp(line + i, needle, k))
            return 1;
    return 0;
}

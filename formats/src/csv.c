/* csv.c - the one CSV writer (rm_csv.h). */
#include "rm_csv.h"

#include <math.h>
#include <string.h>

void rm_csv_open(rm_csv *c, FILE *f)
{
    c->f = f;
    c->field = 0;
    c->failed = 0;
}

/* The separator before every field but the first of a row. */
static int sep(rm_csv *c)
{
    if (c->failed)
        return -1;
    if (c->field++ && fputc(',', c->f) == EOF)
        c->failed = 1;
    return c->failed ? -1 : 0;
}

static int done(rm_csv *c, int bad)
{
    if (bad)
        c->failed = 1;
    return c->failed ? -1 : 0;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

int rm_csv_text(rm_csv *c, const char *s)
{
    if (!s)
        return rm_csv_na(c);
    if (sep(c))
        return -1;
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") || (n && (is_blank(s[0]) || is_blank(s[n - 1])));
    if (!quote)
        return done(c, n && fwrite(s, 1, n, c->f) != n);
    int bad = fputc('"', c->f) == EOF;
    for (const char *p = s; *p && !bad; p++)
        bad = (*p == '"' && fputc('"', c->f) == EOF) || fputc(*p, c->f) == EOF;
    return done(c, bad || fputc('"', c->f) == EOF);
}

int rm_csv_number(rm_csv *c, double v, int digits)
{
    if (!isfinite(v))
        return rm_csv_na(c);
    if (sep(c))
        return -1;
    return done(c, fprintf(c->f, "%.*g", digits, v) < 0);
}

int rm_csv_fixed(rm_csv *c, double v, int decimals)
{
    if (!isfinite(v))
        return rm_csv_na(c);
    if (sep(c))
        return -1;
    return done(c, fprintf(c->f, "%.*f", decimals, v) < 0);
}

int rm_csv_int(rm_csv *c, long long v)
{
    if (sep(c))
        return -1;
    return done(c, fprintf(c->f, "%lld", v) < 0);
}

int rm_csv_na(rm_csv *c)
{
    if (sep(c))
        return -1;
    return done(c, fputs(RM_CSV_NA, c->f) == EOF);
}

int rm_csv_end_row(rm_csv *c)
{
    c->field = 0;
    if (c->failed)
        return -1;
    return done(c, fputc('\n', c->f) == EOF);
}

int rm_csv_header(rm_csv *c, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rm_csv_text(c, names[i]);
    return rm_csv_end_row(c);
}

int rm_csv_failed(const rm_csv *c) { return c->failed || ferror(c->f); }

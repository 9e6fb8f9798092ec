/* coach.c - coaching profiles (text files) and scores in a coach's words.
 * Profile format: docs/metrics.md "Coaching profiles". */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis_internal.h"

#ifndef RM_PROFILE_DIR
#define RM_PROFILE_DIR "profiles"
#endif

#define PROFILE_FORMAT "rollmat-profile-1"

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static int parse_num(const char *s, double *out, const char **end)
{
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || errno || !isfinite(v))
        return -1;
    *out = v;
    *end = e;
    return 0;
}

/* "lo hi [target T]" */
static int parse_band(char *val, rm_band *b)
{
    const char *p = val;
    if (parse_num(p, &b->lo, &p) || parse_num(p, &b->hi, &p))
        return -1;
    if (b->lo < 0 || b->hi < b->lo)
        return -1;
    b->target = NAN;
    while (isspace((unsigned char)*p))
        p++;
    if (!strncmp(p, "target", 6)) {
        p += 6;
        if (parse_num(p, &b->target, &p) || b->target < 0)
            return -1;
        while (isspace((unsigned char)*p))
            p++;
    }
    if (*p)
        return -1;
    b->set = 1;
    return 0;
}

rm_status rm_profile_parse(const char *text, const char *what, rm_profile *out, rm_err *err)
{
    memset(out, 0, sizeof *out);
    rm_band *bands[] = {&out->speed_cm_s,    &out->pass_s,  &out->hold_s, &out->set_s,
                        &out->daily_s,       &out->week_sessions, &out->group_s, &out->spot_s,
                        &out->spot_force_cv};
    for (size_t i = 0; i < sizeof bands / sizeof bands[0]; i++)
        bands[i]->target = NAN;
    char *copy = strdup(text ? text : "");
    if (!copy)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", what);
    rm_status st = RM_OK;
    int line = 0, have_format = 0;
    char *save = NULL;
    for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        line++;
        char *s = trim(ln);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = rm_err_set(err, RM_ERR_FORMAT, "%s line %d: expected \"key = value\"", what, line);
            goto out;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        char *src = strchr(val, '|');
        if (src) {
            *src = 0;
            src = trim(src + 1);
            val = trim(val);
        }
        rm_band *b = NULL;
        if (!strcmp(key, "format")) {
            if (strcmp(val, PROFILE_FORMAT)) {
                st = rm_err_set(err, RM_ERR_VERSION, "%s line %d: format \"%s\", expected \"%s\"",
                                what, line, val, PROFILE_FORMAT);
                goto out;
            }
            have_format = 1;
            continue;
        } else if (!strcmp(key, "name")) {
            snprintf(out->name, sizeof out->name, "%s", val);
            continue;
        } else if (!strcmp(key, "title")) {
            snprintf(out->title, sizeof out->title, "%s", val);
            continue;
        } else if (!strcmp(key, "speed_cm_s"))
            b = &out->speed_cm_s;
        else if (!strcmp(key, "pass_s"))
            b = &out->pass_s;
        else if (!strcmp(key, "hold_s"))
            b = &out->hold_s;
        else if (!strcmp(key, "set_s"))
            b = &out->set_s;
        else if (!strcmp(key, "daily_s"))
            b = &out->daily_s;
        else if (!strcmp(key, "week_sessions"))
            b = &out->week_sessions;
        else if (!strcmp(key, "group_s"))
            b = &out->group_s;
        else if (!strcmp(key, "groups")) {
            if (out->groups[0] || !*val || strlen(val) >= sizeof out->groups || !src || !*src) {
                st = rm_err_set(err, RM_ERR_FORMAT,
                                "%s line %d: groups = \"%s\": expected names separated by spaces "
                                "(given once, under 256 characters) and \"| source\"",
                                what, line, val);
                goto out;
            }
            snprintf(out->groups, sizeof out->groups, "%s", val);
            snprintf(out->groups_source, sizeof out->groups_source, "%s", src);
            continue;
        } else if (!strcmp(key, "spot_s"))
            b = &out->spot_s;
        else if (!strcmp(key, "spot_force_cv"))
            b = &out->spot_force_cv;
        else {
            st = rm_err_set(err, RM_ERR_FORMAT, "%s line %d: unknown key \"%s\"", what, line, key);
            goto out;
        }
        if (b->set) {
            st = rm_err_set(err, RM_ERR_FORMAT, "%s line %d: \"%s\" given twice", what, line, key);
            goto out;
        }
        if (parse_band(val, b)) {
            st = rm_err_set(
                err, RM_ERR_FORMAT,
                "%s line %d: %s = \"%s\": expected \"LOW HIGH [target T]\" with 0 <= LOW <= HIGH",
                what, line, key, val);
            goto out;
        }
        if (!src || !*src) {
            st = rm_err_set(err, RM_ERR_FORMAT,
                            "%s line %d: %s has no source (\"| where the numbers come from\")",
                            what, line, key);
            goto out;
        }
        snprintf(b->source, sizeof b->source, "%s", src);
    }
    if (!have_format)
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: no \"format = %s\" line", what, PROFILE_FORMAT);
    else if (!out->name[0])
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: no \"name = ...\" line", what);
out:
    free(copy);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The profile names in `dir` ("behm2020, guide": the *.profile files,
 * sorted) into buf; "none" when there are none or the folder cannot be
 * read. A mistyped name is then answered with what would have worked. */
static void list_profiles(const char *dir, char *buf, size_t cap)
{
    char names[64][64];
    const char *sorted[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && n < 64 && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l <= 8 || l - 8 >= sizeof names[0] ||
            strcmp(e->d_name + l - 8, ".profile"))
            continue;
        memcpy(names[n], e->d_name, l - 8);
        names[n][l - 8] = 0;
        sorted[n] = names[n];
        n++;
    }
    if (d)
        closedir(d);
    qsort(sorted, n, sizeof sorted[0], cmp_str);
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", sorted[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (n == 0)
        snprintf(buf, cap, "none");
}

rm_status rm_profile_load(const char *name, rm_profile *out, rm_err *err)
{
    if (!name || !*name)
        return rm_err_set(err, RM_ERR_ARG, "profile: empty name");
    char path[4096];
    const char *dir = NULL; /* set when `name` is a profile name, not a path */
    size_t nl = strlen(name);
    if (strchr(name, '/') || (nl > 8 && !strcmp(name + nl - 8, ".profile")))
        snprintf(path, sizeof path, "%s", name);
    else {
        for (const char *c = name; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
                return rm_err_set(err, RM_ERR_ARG, "profile \"%s\": not a profile name", name);
        /* $ROLLMAT_PROFILE_DIR, else the source tree, else the installed copies */
        dir = getenv("ROLLMAT_PROFILE_DIR");
        if (!dir || !*dir)
            dir = RM_PROFILE_DIR;
#ifdef RM_PROFILE_INSTALL_DIR
        if (access(dir, R_OK) != 0 && !getenv("ROLLMAT_PROFILE_DIR"))
            dir = RM_PROFILE_INSTALL_DIR;
#endif
        snprintf(path, sizeof path, "%s/%s.profile", dir, name);
    }
    FILE *f = fopen(path, "rb");
    if (!f && dir && errno == ENOENT) {
        char avail[1024];
        list_profiles(dir, avail, sizeof avail);
        return rm_err_set(err, RM_ERR_NOT_FOUND,
                          "profile \"%s\": no such profile (available: %s; or give a file "
                          "path)",
                          name, avail);
    }
    if (!f)
        return rm_err_set(err, RM_ERR_NOT_FOUND, "profile %s: %s", path, strerror(errno));
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad)
        return rm_err_set(err, RM_ERR_FORMAT, "profile %s: unreadable or larger than %zu bytes",
                          path, sizeof text - 1);
    text[n] = 0;
    if (memchr(text, 0, n))
        return rm_err_set(err, RM_ERR_FORMAT, "profile %s: not a text file", path);
    return rm_profile_parse(text, path, out, err);
}

/* ---- scores ---- */

static rm_verdict judge(const rm_band *b, double v)
{
    if (!b->set || isnan(v))
        return RM_VERDICT_NA;
    if (v < b->lo)
        return RM_VERDICT_BELOW;
    if (v > b->hi)
        return RM_VERDICT_ABOVE;
    return RM_VERDICT_INSIDE;
}

static void cat(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* "60-120" or "2.5" style numbers: as few digits as they need. */
static void fmtnum(char *o, size_t cap, double v)
{
    if (fabs(v - round(v)) < 1e-9)
        snprintf(o, cap, "%.0f", v);
    else
        snprintf(o, cap, "%.1f", v);
}

static void band_text(char *o, size_t cap, const rm_band *b)
{
    char lo[32], hi[32];
    fmtnum(lo, sizeof lo, b->lo);
    fmtnum(hi, sizeof hi, b->hi);
    snprintf(o, cap, "%s-%s", lo, hi);
}

static const rm_profile *default_profile(rm_profile *tmp)
{
    static const char guide[] = "format = rollmat-profile-1\nname = guide\n"
                                "speed_cm_s = 1.5 3.5 target 2.54 | coaching guide\n"
                                "hold_s = 20 30 | coaching guide\nset_s = 60 120 | coaching guide\n"
                                "daily_s = 300 600 | coaching guide\n"
                                "spot_s = 60 120 | coaching guide\n"
                                "spot_force_cv = 0 0.15 | rollmat\n";
    rm_profile_parse(guide, "built-in guide profile", tmp, NULL);
    return tmp;
}

/* How many numbers of a segment (or session) were judged, and how many of
 * them fell inside their band: the score is their ratio. */
typedef struct tally {
    int judged, inside;
} tally;

static void tally_add(tally *t, rm_verdict v)
{
    t->judged++;
    t->inside += v == RM_VERDICT_INSIDE;
}

/* The set's length against set_s. Verdicts judge the numbers as the comment
 * prints them, so "30 s" is never "longer than 20-30 s". */
static void score_set_length(rm_segment_result *s, const rm_profile *P, double dur, tally *t)
{
    char bt[64];
    rm_verdict v = judge(&P->set_s, round(dur));
    s->set_verdict = (int8_t)v;
    if (v == RM_VERDICT_NA)
        return;
    band_text(bt, sizeof bt, &P->set_s);
    cat(s->comment, sizeof s->comment, ", %s %s s",
        v == RM_VERDICT_INSIDE  ? "inside"
        : v == RM_VERDICT_BELOW ? "short of"
                                : "longer than",
        bt);
    tally_add(t, v);
}

/* The mean rolling speed against speed_cm_s (its target if it has one). */
static void score_speed(rm_segment_result *s, const rm_profile *P, tally *t)
{
    char *c = s->comment, bt[64];
    size_t cap = sizeof s->comment;
    if (isnan(s->mean_speed_cm_s))
        return;
    cat(c, cap, "; speed %.1f cm/s", s->mean_speed_cm_s);
    rm_verdict v = judge(&P->speed_cm_s, round(s->mean_speed_cm_s * 10.0) / 10.0);
    s->speed_verdict = (int8_t)v;
    if (v == RM_VERDICT_NA)
        return;
    if (!isnan(P->speed_cm_s.target))
        cat(c, cap, ", target about %.1f", P->speed_cm_s.target);
    else {
        band_text(bt, sizeof bt, &P->speed_cm_s);
        cat(c, cap, ", target %s", bt);
    }
    cat(c, cap, ": %s",
        v == RM_VERDICT_INSIDE  ? "good"
        : v == RM_VERDICT_BELOW ? "too slow"
                                : "too fast");
    tally_add(t, v);
}

/* The passes: how many, their mean duration against pass_s, the cadence. */
static void score_passes(rm_segment_result *s, const rm_profile *P, tally *t)
{
    char *c = s->comment, bt[64];
    size_t cap = sizeof s->comment;
    if (s->strokes <= 0) {
        cat(c, cap, "; no passes");
        return;
    }
    cat(c, cap, "; %d passes", s->strokes);
    if (!isnan(s->mean_pass_s)) {
        cat(c, cap, " of %.1f s", s->mean_pass_s);
        rm_verdict v = judge(&P->pass_s, round(s->mean_pass_s * 10.0) / 10.0);
        s->pass_verdict = (int8_t)v;
        if (v != RM_VERDICT_NA) {
            band_text(bt, sizeof bt, &P->pass_s);
            cat(c, cap, ", target %s s: %s", bt,
                v == RM_VERDICT_INSIDE  ? "good"
                : v == RM_VERDICT_BELOW ? "too quick"
                                        : "too slow");
            tally_add(t, v);
        }
    }
    /* the stroke count, not the spectrum: a few cycles a minute are too few
     * for a spectral peak to be that exact, and holds bend it (metrics.md) */
    if (!isnan(s->stroke_cadence_cpm))
        cat(c, cap, ", cadence %.1f cycles/min", s->stroke_cadence_cpm);
}

/* The holds of segment k against hold_s: inside if every one is, else
 * short or long by the shortest. */
static void score_holds(const rm_results *r, size_t k, rm_segment_result *s, const rm_profile *P,
                        tally *t)
{
    char *c = s->comment, bt[64];
    size_t cap = sizeof s->comment;
    int nh = 0, nin = 0;
    double hmin = 1e300, hmax = 0;
    for (size_t i = 0; i < r->n_holds; i++) {
        const rm_hold *h = &r->holds[i];
        if (h->segment != (int32_t)k)
            continue;
        double d = round(h->end_s - h->start_s);
        nh++;
        if (d < hmin)
            hmin = d;
        if (d > hmax)
            hmax = d;
        nin += judge(&P->hold_s, d) == RM_VERDICT_INSIDE;
    }
    if (nh == 0) {
        cat(c, cap, "; no hold");
        if (P->hold_s.set) {
            /* the profile asks for a hold: none is a miss, not silence */
            band_text(bt, sizeof bt, &P->hold_s);
            cat(c, cap, " (on a tender spot: %s s): missing", bt);
            s->hold_verdict = RM_VERDICT_BELOW;
            tally_add(t, RM_VERDICT_BELOW);
        }
        return;
    }
    if (nh == 1)
        cat(c, cap, "; one hold of %.0f s", hmin);
    else
        cat(c, cap, "; %d holds of %.0f-%.0f s", nh, hmin, hmax);
    if (!P->hold_s.set)
        return;
    band_text(bt, sizeof bt, &P->hold_s);
    rm_verdict v;
    if (nin == nh)
        v = RM_VERDICT_INSIDE;
    else
        v = judge(&P->hold_s, hmin) == RM_VERDICT_BELOW ? RM_VERDICT_BELOW : RM_VERDICT_ABOVE;
    s->hold_verdict = (int8_t)v;
    if (nh == 1)
        cat(c, cap, ", %s %s s",
            v == RM_VERDICT_INSIDE  ? "inside"
            : v == RM_VERDICT_BELOW ? "short of"
                                    : "longer than",
            bt);
    else
        cat(c, cap, ", %d inside %s s", nin, bt);
    tally_add(t, v);
}

/* A massage-ball set: every spot's time against spot_s (inside if every
 * one is, else short or long by the shortest) and the steadiness of its
 * pressure against spot_force_cv; no pacing (a ball is held, not rolled). */
static void score_ball(const rm_results *r, size_t k, rm_segment_result *s, const rm_profile *P,
                       tally *t)
{
    char *c = s->comment, bt[64];
    size_t cap = sizeof s->comment;
    int nsp = 0, nin = 0;
    double dmin = 1e300, dmax = 0, cvmax = 0;
    for (size_t i = 0; i < r->n_spots; i++) {
        const rm_spot *p = &r->spots[i];
        if (p->segment != (int32_t)k)
            continue;
        double d = round(p->end_s - p->start_s);
        nsp++;
        dmin = d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
        cvmax = p->force_cv > cvmax ? p->force_cv : cvmax;
        nin += judge(&P->spot_s, d) == RM_VERDICT_INSIDE;
    }
    s->spot_verdict = RM_VERDICT_NA;
    if (nsp == 0) {
        cat(c, cap, "; massage ball, no spot held long enough to count");
        return;
    }
    if (nsp == 1)
        cat(c, cap, "; massage ball on one spot for %.0f s", dmin);
    else
        cat(c, cap, "; massage ball on %d spots for %.0f-%.0f s", nsp, dmin, dmax);
    if (P->spot_s.set) {
        band_text(bt, sizeof bt, &P->spot_s);
        rm_verdict v = nin == nsp ? RM_VERDICT_INSIDE
                       : judge(&P->spot_s, dmin) == RM_VERDICT_BELOW ? RM_VERDICT_BELOW
                                                                     : RM_VERDICT_ABOVE;
        s->spot_verdict = (int8_t)v;
        cat(c, cap, ", %s %s s a spot",
            v == RM_VERDICT_INSIDE  ? "inside"
            : v == RM_VERDICT_BELOW ? "short of"
                                    : "longer than",
            bt);
        tally_add(t, v);
    }
    rm_verdict v = judge(&P->spot_force_cv, round(cvmax * 100.0) / 100.0);
    if (v != RM_VERDICT_NA) {
        cat(c, cap, "; pressure %s (force varies by %.0f %%)",
            v == RM_VERDICT_ABOVE ? "unsteady" : "steady", 100.0 * cvmax);
        tally_add(t, v);
    }
}

/* Segment k's comment, verdicts and score; its counts go into *tot. */
static void score_segment(rm_results *r, size_t k, const rm_profile *P, int roller, tally *tot)
{
    rm_segment_result *s = &r->segments[k];
    tally t = {0, 0};
    double dur = s->end_s - s->start_s;
    s->comment[0] = 0;
    s->set_verdict = s->speed_verdict = s->pass_verdict = s->hold_verdict = RM_VERDICT_NA;
    s->score = NAN;
    cat(s->comment, sizeof s->comment, "%s: %.0f s", s->label, dur);
    if (!strcmp(s->tool, "ball")) {
        score_set_length(s, P, dur, &t);
        score_ball(r, k, s, P, &t);
        if (t.judged) {
            s->score = (float)t.inside / (float)t.judged;
            tot->judged += t.judged;
            tot->inside += t.inside;
        }
        return;
    }
    if (!roller) {
        cat(s->comment, sizeof s->comment,
            "; no roller was found, so no pacing (strokes, holds, speed, cadence)");
        return;
    }
    score_set_length(s, P, dur, &t);
    score_speed(s, P, &t);
    score_passes(s, P, &t);
    score_holds(r, k, s, P, &t);
    if (t.judged) {
        s->score = (float)t.inside / (float)t.judged;
        tot->judged += t.judged;
        tot->inside += t.inside;
    }
}

/* The session's comment, daily-time verdict and score from every
 * segment's counts. */
static void score_totals(rm_results *r, const rm_profile *P, int roller, tally tot)
{
    rm_session_totals *T = &r->totals;
    char *c = T->comment;
    size_t cap = sizeof T->comment;
    c[0] = 0;
    T->total_verdict = RM_VERDICT_NA;
    T->score = tot.judged ? (float)tot.inside / (float)tot.judged : NAN;
    if (!roller) {
        if (T->loaded_s > 0)
            cat(c, cap,
                "no roller was found for a whole set (a roller shape was seen in only %.1f s "
                "of frames): pacing (strokes, holds, speed, cadence) is not available; "
                "pressure distribution is given",
                T->loaded_s);
        else
            cat(c, cap,
                "no roller was found in this recording: pacing (strokes, holds, speed, "
                "cadence) is not available; pressure distribution is given");
        return;
    }
    double on = T->rolling_s + T->holding_s;
    cat(c, cap, "session: %.1f min on the roller in %d set%s", on / 60.0, T->segments,
        T->segments == 1 ? "" : "s");
    rm_verdict v = judge(&P->daily_s, round(on));
    T->total_verdict = (int8_t)v;
    if (v != RM_VERDICT_NA) {
        /* the daily total is one of the targets the session is judged on */
        tally_add(&tot, v);
        T->score = (float)tot.inside / (float)tot.judged;
        char lo[32], hi[32];
        fmtnum(lo, sizeof lo, P->daily_s.lo / 60.0);
        fmtnum(hi, sizeof hi, P->daily_s.hi / 60.0);
        cat(c, cap, ", %s the daily %s-%s min",
            v == RM_VERDICT_INSIDE  ? "inside"
            : v == RM_VERDICT_BELOW ? "short of"
                                    : "more than",
            lo, hi);
    }
    if (!isnan(T->score))
        cat(c, cap, "; %d of %d targets met", tot.inside, tot.judged);
}

void rm_score_results(rm_results *r, const rm_profile *profile)
{
    rm_profile tmp;
    const rm_profile *P = profile ? profile : default_profile(&tmp);
    const int roller = r->totals.roller_found;
    tally tot = {0, 0};
    for (size_t k = 0; k < r->n_segments; k++)
        score_segment(r, k, P, roller, &tot);
    score_totals(r, P, roller, tot);
}

char *rm_results_coach_text(const rm_results *r)
{
    size_t cap = 4096 + r->n_segments * (RM_RESULTS_COMMENT_LEN + 256);
    char *o = malloc(cap);
    if (!o)
        return NULL;
    o[0] = 0;
    const rm_session_totals *T = &r->totals;
    cat(o, cap, "%s: %.1f min recorded, profile %s\n", r->source[0] ? r->source : "recording",
        T->duration_s / 60.0, r->profile);
    if (!T->roller_found) {
        cat(o, cap, "%s\n", T->comment);
    } else {
        cat(o, cap, "%d set%s, %d passes, %d hold%s\n", T->segments, T->segments == 1 ? "" : "s",
            T->strokes, T->holds, T->holds == 1 ? "" : "s");
    }
    for (size_t k = 0; k < r->n_segments; k++) {
        const rm_segment_result *s = &r->segments[k];
        cat(o, cap, "  %zu. %s\n", k + 1, s->comment);
        if (!isnan(s->mean_force_n)) {
            cat(o, cap, "     roller force %.0f N", s->mean_force_n);
            if (!isnan(s->body_weight_share))
                cat(o, cap, " (%.0f %% of body weight)", 100.0 * s->body_weight_share);
            cat(o, cap, ", %.0f kPa mean, %.0f kPa peak, %.0f %% of the load on the roller",
                s->mean_roller_kpa, s->peak_roller_kpa, 100.0 * s->load_share);
            if (!isnan(s->steadiness))
                cat(o, cap, ", steadiness %.2f", s->steadiness);
            if (!isnan(s->coverage))
                cat(o, cap, ", coverage %.2f over %.0f cm", s->coverage, s->range_cm);
            cat(o, cap, "\n");
        }
    }
    if (T->roller_found)
        cat(o, cap, "%s\n", T->comment);
    /* Distribution, for every recording. */
    double fmax = 0, fsum = 0, asum = 0;
    size_t nl = 0;
    for (size_t i = 0; i < r->n_frames; i++) {
        float f = r->series[RM_SERIES_FORCE_N][i];
        if (f > 0) {
            fsum += f;
            asum += r->series[RM_SERIES_AREA_CM2][i];
            nl++;
            if (f > fmax)
                fmax = f;
        }
    }
    if (nl)
        cat(o, cap,
            "pressure: mean force %.0f N (max %.0f N), mean contact %.0f cm2, peak %.0f kPa\n",
            fsum / (double)nl, fmax, asum / (double)nl, T->peak_kpa);
    else
        cat(o, cap, "pressure: nothing loaded the mat above the noise threshold\n");
    if (T->hot_sensels || T->dead_sensels)
        cat(o, cap, "sensels: %d hot and %d dead found and left out\n", T->hot_sensels,
            T->dead_sensels);
    return o;
}

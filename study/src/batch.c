/* batch.c - the tidy CSV of segments, up-to-date checks and the
 * merge of shards (rm_batch.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_batch.h"
#include "rm_csv.h"
#include "rm_filekind.h"
#include "rm_judge.h"
#include "rm_safefile.h"

/* The CSV's columns, in the published order (docs/guide-lab.md). A name of
 * the segment-column table (rm_results.h) takes its value from there; the
 * others are derived in put_derived. */
static const char *const columns[] = {
    "file",
    "subject",
    "segment",
    "label",
    "start_s",
    "duration_s",
    "rolling_s",
    "holding_s",
    "strokes",
    "cadence_cpm",
    "stroke_cadence_cpm",
    "mean_speed_cm_s",
    "mean_pass_s",
    "holds",
    "mean_force_n",
    "mean_roller_kpa",
    "peak_roller_kpa",
    "roller_area_cm2",
    "load_share",
    "body_weight_share",
    "steadiness",
    "coverage",
    "range_cm",
    /* massage ball and body position (before the verdicts, so the verdicts, score and profile
     * stay the last columns) */
    "tool",
    "spots",
    "mean_spot_s",
    "spot_force_cv",
    "spot_verdict",
    "label_source",
    "posture",
    "posture_confidence",
    "set_verdict",
    "speed_verdict",
    "pass_verdict",
    "hold_verdict",
    "score",
    "verdict",
    "profile",
    /* who and when, and the recording's data quality (appended: the merge
     * and older readers find the first columns where they were) */
    "title",
    "recorded",
    "body_mass_kg",
    "frames_lost",
    "disconnects",
    "sensels_excluded",
    "gaps",
};
#define NCOL (sizeof columns / sizeof columns[0])

size_t rm_batch_columns(void) { return NCOL; }

const char *rm_batch_column(size_t i) { return i < NCOL ? columns[i] : NULL; }

rm_status rm_batch_results_current(const char *results_path, const char *recording_id,
                                   const char *profile, const char *software, int *current,
                                   rm_err *err)
{
    (void)err; /* nothing here is an error: anything amiss is "not current" */
    *current = 0;
    /* one size for all: longer than any profile name, version or identity */
    char conv[256] = "", prof[256] = "", soft[256] = "", id[256] = "";
    static const char *const names[] = {"conventions", "profile", "software", RM_BATCH_ID_ATTR};
    char *const values[] = {conv, prof, soft, id};
    rm_err ignored = {0}; /* unreadable or incomplete: simply not current */
    int ok = rm_file_root_strings(results_path, names, values, 4, sizeof conv, &ignored) == RM_OK;
    rm_file_kind kind = 0;
    ok = ok && rm_conventions_check(results_path, conv, &kind, &ignored) == RM_OK;
    *current = ok && kind == RM_FILE_RESULTS && !strcmp(prof, profile) && !strcmp(soft, software) &&
               recording_id[0] && !strcmp(id, recording_id);
    return RM_OK;
}

rm_status rm_batch_results_write(const char *results_path, const rm_results *r,
                                 const char *recording_id, rm_err *err)
{
    char tmp[4096];
    rm_status st = rm_safefile_temp_name(results_path, tmp, sizeof tmp, err);
    if (st)
        return st;
    /* the identity goes in before the rename, so a results file is never
     * seen without it (a crash leaves only the temporary) */
    st = rm_results_write(tmp, r, err);
    if (!st)
        st = rm_file_set_root_string(tmp, RM_BATCH_ID_ATTR, recording_id, err);
    if (!st)
        return rm_safefile_publish(tmp, results_path, err);
    rm_safefile_temp_discard(tmp);
    return st;
}

/* ---- CSV (the rules: rm_csv.h) ---- */

/* A column of the segment-column table (rm_results.h): written as its kind
 * says, numbers with %.6g, verdicts as words. */
static int put_segment_column(rm_csv *c, const rm_segment_result *s, const rm_segment_column *col)
{
    if (col->kind == RM_SEGCOL_TEXT)
        return rm_csv_text(c, rm_segment_text(s, col));
    double v = rm_segment_value(s, col);
    if (col->kind == RM_SEGCOL_VERDICT)
        return rm_verdict_name((int)v) ? rm_csv_text(c, rm_verdict_name((int)v)) : rm_csv_na(c);
    return rm_csv_number(c, v, 6);
}

/* The recording's columns, the same on every row of it (and in the
 * session table): who, when, and what the stream lost. NA when unknown. */
static int put_recording(rm_csv *c, const char *name, const rm_results *r)
{
    if (!strcmp(name, "title"))
        return rm_csv_text(c, r->title);
    if (!strcmp(name, "recorded"))
        return r->created[0] ? rm_csv_text(c, r->created) : rm_csv_na(c);
    if (!strcmp(name, "body_mass_kg"))
        return rm_csv_number(c, r->body_mass_kg > 0 ? r->body_mass_kg : NAN, 6);
    if (!strcmp(name, "frames_lost"))
        return r->frames_lost >= 0 ? rm_csv_int(c, r->frames_lost) : rm_csv_na(c);
    if (!strcmp(name, "disconnects"))
        return rm_csv_int(c, r->disconnects);
    if (!strcmp(name, "sensels_excluded"))
        return rm_csv_int(c, r->totals.hot_sensels + r->totals.dead_sensels);
    if (!strcmp(name, "gaps"))
        return rm_csv_int(c, r->totals.gaps);
    return rm_csv_na(c);
}

/* The columns that are not segment columns: the row's context and values
 * derived from a segment. */
static int put_derived(rm_csv *c, const char *name, size_t k, const rm_segment_result *s,
                       const char *file, const char *subject, const rm_results *r)
{
    if (!strcmp(name, "file"))
        return rm_csv_text(c, file);
    if (!strcmp(name, "subject"))
        return rm_csv_text(c, r->subject_id[0] ? r->subject_id : subject ? subject : "");
    if (!strcmp(name, "segment")) /* the row's position, as the merge sorts it */
        return rm_csv_number(c, (double)k, 6);
    if (!strcmp(name, "duration_s"))
        return rm_csv_number(c, s->end_s - s->start_s, 6);
    if (!strcmp(name, "verdict")) /* pass: every judged target met; miss: one missed */
        return !isfinite(s->score) ? rm_csv_na(c)
                                   : rm_csv_text(c, s->score >= 1.0f ? "pass" : "miss");
    if (!strcmp(name, "profile"))
        return rm_csv_text(c, r->profile);
    return put_recording(c, name, r);
}

int rm_batch_csv_header(FILE *f)
{
    rm_csv c;
    rm_csv_open(&c, f);
    return rm_csv_header(&c, columns, NCOL);
}

int rm_batch_csv_rows(FILE *f, const char *file, const char *subject, const rm_results *r)
{
    const rm_segment_column *col[NCOL]; /* NULL: a derived column */
    for (size_t i = 0; i < NCOL; i++)
        col[i] = rm_segment_column_find(columns[i]);
    rm_csv c;
    rm_csv_open(&c, f);
    for (size_t k = 0; k < r->n_segments; k++) {
        const rm_segment_result *s = &r->segments[k];
        for (size_t i = 0; i < NCOL; i++)
            if (col[i])
                put_segment_column(&c, s, col[i]);
            else
                put_derived(&c, columns[i], k, s, file, subject, r);
        if (rm_csv_end_row(&c))
            return -1;
    }
    return 0;
}

/* ---- the session table: a row per recording ---- */

/* Its columns, in the published order (docs/guide-lab.md, "One row per
 * recording"). The first is the file, as in the set table, so the merge
 * sorts both alike. */
static const char *const session_columns[] = {
    "file",
    "subject",
    "recorded",
    "title",
    "body_mass_kg",
    "profile",
    "duration_s",
    "sets_s",
    "rolling_s",
    "holding_s",
    "on_roller_min",
    "sets",
    "strokes",
    "holds",
    "spots",
    "mean_speed_cm_s",
    "cadence_cpm",
    "mean_force_n",
    "peak_kpa",
    "daily_verdict",
    "daily_light",
    "pace_target",
    "time_met",
    "time_judged",
    "pace_met",
    "pace_judged",
    "hold_met",
    "hold_judged",
    "targets_met",
    "targets_judged",
    "score",
    "session_light",
    "verdict",
    "frames_lost",
    "gaps",
    "disconnects",
    "sensels_excluded",
    "labels",
};
#define NSCOL (sizeof session_columns / sizeof session_columns[0])

size_t rm_batch_session_columns(void) { return NSCOL; }

const char *rm_batch_session_column(size_t i) { return i < NSCOL ? session_columns[i] : NULL; }

int rm_batch_csv_session_header(FILE *f)
{
    rm_csv c;
    rm_csv_open(&c, f);
    return rm_csv_header(&c, session_columns, NSCOL);
}

/* A text that may be unknown: NA when empty (the one missing-value rule). */
static int put_known(rm_csv *c, const char *s)
{
    return s && s[0] ? rm_csv_text(c, s) : rm_csv_na(c);
}

/* The word of a light, NA for NONE (nothing judged). */
static int put_light(rm_csv *c, rm_light l)
{
    return l == RM_LIGHT_NONE ? rm_csv_na(c) : rm_csv_text(c, rm_light_name(l));
}

/* Green lights and judged lights of target t over the sets. */
static void tally_target(const rm_judgement *J, rm_target t, int *met, int *judged)
{
    *met = *judged = 0;
    for (size_t k = 0; k < J->n_sets; k++) {
        rm_light l = rm_judgement_light(J, k, t)->light;
        *judged += l != RM_LIGHT_NONE;
        *met += l == RM_LIGHT_GREEN;
    }
}

/* The judgement's columns (the summary page's lights and tally): 0 or -1
 * as rm_csv's calls, or 1 when `name` is not one of them. */
static int put_judged(rm_csv *c, const char *name, const rm_judgement *J)
{
    static const char *const per_target[] = {"time_met",    "time_judged", "pace_met",
                                             "pace_judged", "hold_met",    "hold_judged"};
    for (int t = 0; t < RM_TARGET_COUNT; t++)
        for (int w = 0; w < 2; w++)
            if (!strcmp(name, per_target[2 * t + w])) {
                int met, judged;
                tally_target(J, (rm_target)t, &met, &judged);
                /* a target no set was judged on: both NA, not "0 of 0" */
                return judged ? rm_csv_int(c, w ? judged : met) : rm_csv_na(c);
            }
    if (!strcmp(name, "daily_verdict"))
        return rm_verdict_name(J->daily.direction)
                   ? rm_csv_text(c, rm_verdict_name(J->daily.direction))
                   : rm_csv_na(c);
    if (!strcmp(name, "daily_light"))
        return put_light(c, J->daily.light);
    if (!strcmp(name, "pace_target"))
        return rm_csv_text(c, J->pace_by_pass ? "pass_s" : "speed_cm_s");
    if (!strcmp(name, "targets_met"))
        return rm_csv_int(c, J->targets_met);
    if (!strcmp(name, "targets_judged"))
        return rm_csv_int(c, J->targets_judged);
    if (!strcmp(name, "score"))
        return rm_csv_number(
            c, J->targets_judged ? (double)J->targets_met / J->targets_judged : NAN, 6);
    if (!strcmp(name, "session_light"))
        return put_light(c, rm_judgement_session_light(J));
    if (!strcmp(name, "verdict")) /* pass: every judged target met; miss: one missed */
        return !J->targets_judged
                   ? rm_csv_na(c)
                   : rm_csv_text(c, J->targets_met == J->targets_judged ? "pass" : "miss");
    return 1; /* not one of these */
}

/* The sets' names in order, ';' between them; NA without sets. */
static int put_labels(rm_csv *c, const rm_results *r)
{
    if (!r->n_segments)
        return rm_csv_na(c);
    size_t cap = r->n_segments * (RM_RESULTS_LABEL_LEN + 1) + 1, n = 0;
    char *l = malloc(cap);
    if (!l)
        return -1;
    l[0] = 0;
    for (size_t k = 0; k < r->n_segments; k++)
        n += (size_t)snprintf(l + n, cap - n, "%s%.*s", k ? ";" : "", RM_RESULTS_LABEL_LEN - 1,
                              r->segments[k].label);
    int rc = rm_csv_text(c, l);
    free(l);
    return rc;
}

/* A column of the session table from the results' totals and sets. */
static int put_session(rm_csv *c, const char *name, const rm_results *r)
{
    const rm_session_totals *T = &r->totals;
    if (!strcmp(name, "recorded") || !strcmp(name, "title"))
        return put_known(c, !strcmp(name, "title") ? r->title : r->created);
    if (!strcmp(name, "profile"))
        return put_known(c, r->profile);
    if (!strcmp(name, "duration_s"))
        return rm_csv_number(c, T->duration_s, 6);
    if (!strcmp(name, "sets_s")) {
        double sum = 0;
        for (size_t k = 0; k < r->n_segments; k++)
            sum += r->segments[k].end_s - r->segments[k].start_s;
        return rm_csv_number(c, sum, 6);
    }
    if (!strcmp(name, "rolling_s") || !strcmp(name, "holding_s"))
        return rm_csv_number(c, !strcmp(name, "rolling_s") ? T->rolling_s : T->holding_s, 6);
    if (!strcmp(name, "on_roller_min"))
        return rm_csv_number(c, (T->rolling_s + T->holding_s) / 60.0, 6);
    if (!strcmp(name, "sets"))
        return rm_csv_int(c, (long long)r->n_segments);
    if (!strcmp(name, "strokes") || !strcmp(name, "holds"))
        return rm_csv_int(c, !strcmp(name, "strokes") ? T->strokes : T->holds);
    if (!strcmp(name, "spots"))
        return rm_csv_int(c, (long long)r->n_spots);
    if (!strcmp(name, "mean_speed_cm_s") || !strcmp(name, "cadence_cpm"))
        return rm_csv_number(c, !strcmp(name, "cadence_cpm") ? T->cadence_cpm : T->mean_speed_cm_s,
                             6);
    if (!strcmp(name, "mean_force_n") || !strcmp(name, "peak_kpa"))
        return rm_csv_number(c, !strcmp(name, "peak_kpa") ? T->peak_kpa : T->mean_force_n, 6);
    if (!strcmp(name, "labels"))
        return put_labels(c, r);
    return put_recording(c, name, r);
}

int rm_batch_csv_session_row(FILE *f, const char *file, const char *subject, const rm_results *r,
                             const rm_profile *profile)
{
    rm_judgement J;
    if (rm_judge_summary(r, profile, &J, NULL))
        return -1;
    rm_csv c;
    rm_csv_open(&c, f);
    for (size_t i = 0; i < NSCOL; i++) {
        const char *name = session_columns[i];
        if (!strcmp(name, "file"))
            rm_csv_text(&c, file);
        else if (!strcmp(name, "subject"))
            put_known(&c, r->subject_id[0] ? r->subject_id : subject);
        else if (put_judged(&c, name, &J) > 0)
            put_session(&c, name, r);
    }
    rm_judgement_free(&J);
    return rm_csv_end_row(&c);
}

/* ---- merge ---- */

typedef struct row {
    char *file; /* first field, unquoted */
    long segment;
    const char *src; /* input it came from */
    char *text;      /* the raw record with its newline */
    size_t len;
} row;

/* Reads one field starting at p (RFC 4180: bare up to a comma or line end,
 * or quoted with "" for a quote) and copies it, unquoted and truncated to
 * cap - 1 bytes, into out (NULL: not kept). Returns the end of the field
 * (its comma, line end or `end`), or NULL if a quote is left open. */
static const char *field(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    int quoted = p < end && *p == '"';
    for (p += quoted; p < end; p++) {
        char c = *p;
        if (quoted && c == '"') {
            if (p + 1 >= end || p[1] != '"') {
                quoted = 0; /* the closing quote: the field goes on unquoted */
                continue;
            }
            p++; /* "" is one quote */
        } else if (!quoted && (c == ',' || c == '\n' || c == '\r')) {
            break;
        }
        if (out && n + 1 < cap)
            out[n++] = c;
    }
    if (out)
        out[n] = 0;
    return quoted ? NULL : p;
}

/* Splits one record starting at p (RFC 4180); returns the end (after the
 * newline) or NULL if a quote is left open. Fills the first field and the
 * third (segment). */
static const char *record(const char *p, const char *end, char *file, size_t fcap, char *seg,
                          size_t scap)
{
    file[0] = seg[0] = 0;
    for (int k = 0; p < end; k++) {
        p = field(p, end, k == 0 ? file : k == 2 ? seg : NULL, k == 0 ? fcap : scap);
        if (!p)
            return NULL;
        if (p == end || *p != ',')
            break;
        p++;
    }
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n')
        p++;
    return p;
}

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    return (x->segment > y->segment) - (x->segment < y->segment);
}

static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        char *nb = realloc(b, cap + 1);
        if (!nb) {
            free(b);
            b = NULL;
        } else
            b = nb;
    }
    int bad = !b || ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        errno = bad && !b ? ENOMEM : EIO;
        return -1;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

/* The header line a table writer writes, into out (cap bytes). 0 or -1. */
static int header_of(int (*write)(FILE *), char *out, size_t cap)
{
    char *h = NULL;
    size_t hl = 0;
    FILE *m = open_memstream(&h, &hl);
    if (!m || write(m) || fclose(m) || hl >= cap) {
        free(h);
        return -1;
    }
    memcpy(out, h, hl + 1);
    free(h);
    return 0;
}

rm_status rm_batch_merge(const char *const *inputs, size_t n, const char *output, rm_err *err)
{
    /* the set table's header, or the session table's if the first input
     * has that one: every input must then have the same */
    char header[2048], session[2048];
    if (header_of(rm_batch_csv_header, header, sizeof header) ||
        header_of(rm_batch_csv_session_header, session, sizeof session))
        return rm_err_set(err, RM_ERR_NOMEM, "merge: out of memory");
    int per_session = 0;
    if (n > 0) {
        FILE *f = fopen(inputs[0], "rb");
        char first[2048];
        size_t got = f ? fread(first, 1, sizeof first - 1, f) : 0;
        if (f)
            fclose(f);
        first[got] = 0;
        per_session = !strncmp(first, session, strlen(session));
        if (per_session)
            memcpy(header, session, strlen(session) + 1);
    }
    const size_t hlen = strlen(header);
    char **bufs = calloc(n ? n : 1, sizeof *bufs);
    row *rows = NULL;
    size_t nrows = 0, cap = 0;
    rm_status st = RM_OK;
    if (!bufs)
        return rm_err_set(err, RM_ERR_NOMEM, "merge: out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        size_t len;
        if (read_all(inputs[i], &bufs[i], &len)) {
            st = rm_err_set(err, RM_ERR_IO, "%s: %s", inputs[i], strerror(errno));
            break;
        }
        const char *p = bufs[i], *end = p + len;
        if (len < hlen || memcmp(p, header, hlen) != 0) {
            if (i == 0)
                st = rm_err_set(err, RM_ERR_FORMAT,
                                "%s: not a rollmat batch CSV of this version (the header differs)",
                                inputs[i]);
            else /* shards of one batch are all per set or all per session */
                st = rm_err_set(err, RM_ERR_FORMAT,
                                "%s: not a rollmat batch CSV of this version, or not a per-%s "
                                "table as %s is (the header differs)",
                                inputs[i], per_session ? "session" : "set", inputs[0]);
            break;
        }
        p += hlen;
        size_t line = 1;
        while (p < end && !st) {
            line++;
            char file[4096], seg[32];
            const char *q = record(p, end, file, sizeof file, seg, sizeof seg);
            char *e = NULL;
            long sv = q ? strtol(seg, &e, 10) : 0;
            if (q && per_session) { /* one row per recording: the file is the key */
                sv = 0;
                seg[0] = '0';
                seg[1] = 0;
                e = seg + 1;
            }
            if (!q || !e || *e || !seg[0]) {
                st = rm_err_set(err, RM_ERR_FORMAT, "%s: record %zu: %s", inputs[i], line,
                                q ? "no segment index in column 3" : "a quote is left open");
                break;
            }
            if (nrows == cap) {
                cap = cap ? cap * 2 : 256;
                row *nr = realloc(rows, cap * sizeof *nr);
                if (!nr) {
                    st = rm_err_set(err, RM_ERR_NOMEM, "merge: out of memory");
                    break;
                }
                rows = nr;
            }
            row *r = &rows[nrows];
            r->file = strdup(file);
            r->segment = sv;
            r->src = inputs[i];
            r->len = (size_t)(q - p);
            r->text = malloc(r->len + 2);
            if (!r->file || !r->text) {
                free(r->file);
                free(r->text);
                st = rm_err_set(err, RM_ERR_NOMEM, "merge: out of memory");
                break;
            }
            memcpy(r->text, p, r->len);
            if (r->len == 0 || r->text[r->len - 1] != '\n')
                r->text[r->len++] = '\n';
            nrows++;
            p = q;
        }
    }
    if (!st) {
        if (nrows > 1)
            qsort(rows, nrows, sizeof *rows, row_cmp);
        for (size_t i = 1; i < nrows && !st; i++)
            if (!strcmp(rows[i].file, rows[i - 1].file) && rows[i].src != rows[i - 1].src)
                st = rm_err_set(err, RM_ERR_VALUE, "merge: %s has rows in both %s and %s",
                                rows[i].file, rows[i - 1].src, rows[i].src);
            else if (!strcmp(rows[i].file, rows[i - 1].file) &&
                     rows[i].segment == rows[i - 1].segment)
                st = per_session
                         ? rm_err_set(err, RM_ERR_VALUE, "merge: %s: two rows in %s", rows[i].file,
                                      rows[i].src)
                         : rm_err_set(err, RM_ERR_VALUE, "merge: %s: segment %ld twice in %s",
                                      rows[i].file, rows[i].segment, rows[i].src);
    }
    if (!st) {
        size_t total = hlen;
        for (size_t i = 0; i < nrows; i++)
            total += rows[i].len;
        char *out = malloc(total + 1);
        if (!out)
            st = rm_err_set(err, RM_ERR_NOMEM, "merge: out of memory");
        else {
            size_t o = hlen;
            memcpy(out, header, hlen);
            for (size_t i = 0; i < nrows; i++) {
                memcpy(out + o, rows[i].text, rows[i].len);
                o += rows[i].len;
            }
            st = rm_write_file_atomic(output, out, o, err);
            free(out);
        }
    }
    for (size_t i = 0; i < nrows; i++) {
        free(rows[i].file);
        free(rows[i].text);
    }
    free(rows);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    return st;
}

rm_status rm_write_file_atomic(const char *path, const void *data, size_t len, rm_err *err)
{
    return rm_safefile_write(path, data, len, err);
}

/* results_tables.c - a results file's segment tables as tidy CSV: a row
 * per stroke, hold, massage-ball spot or set (rm_results.h,
 * rm_results_table_csv). The columns are documented in docs/guide-lab.md.
 *
 * Every row starts with who and when (recording, subject, recorded), so the
 * tables of many recordings can be stacked as they are; stroke, hold and
 * spot rows name their set (index and label). Times are in seconds from
 * the recording's start with 3 decimals (1 ms: finer than any frame
 * period); other numbers %.6g; anything unknown NA (rm_csv.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rm_csv.h"
#include "rm_results.h"

static const char *const table_names[] = {"strokes", "holds", "spots", "sets"};

const char *rm_results_table_name(rm_results_table t)
{
    return (unsigned)t < sizeof table_names / sizeof table_names[0] ? table_names[t] : NULL;
}

/* A text that may be unknown ("" in the results): NA. */
static void put_known(rm_csv *c, const char *s)
{
    if (s && s[0])
        rm_csv_text(c, s);
    else
        rm_csv_na(c);
}

/* The first columns of every row: who and when. */
static const char *const head[] = {"recording", "subject", "recorded"};
#define NHEAD (sizeof head / sizeof head[0])

static void put_head(rm_csv *c, const rm_results *r)
{
    put_known(c, r->source);
    put_known(c, r->subject_id);
    put_known(c, r->created);
}

/* A time in s: 3 decimals, NA if not finite. */
static void put_time(rm_csv *c, double t) { rm_csv_fixed(c, t, 3); }

/* The item's index, its set's index and label (NA when it is in no set),
 * and its start, end and duration. */
static void put_item(rm_csv *c, const rm_results *r, size_t i, int32_t set, double start,
                     double end)
{
    rm_csv_int(c, (long long)i);
    if (set >= 0 && (size_t)set < r->n_segments) {
        rm_csv_int(c, set);
        put_known(c, r->segments[set].label);
    } else {
        rm_csv_na(c);
        rm_csv_na(c);
    }
    put_time(c, start);
    put_time(c, end);
    put_time(c, end - start);
}

static int header(rm_csv *c, const char *const *names, size_t n)
{
    for (size_t i = 0; i < NHEAD; i++)
        rm_csv_text(c, head[i]);
    for (size_t i = 0; i < n; i++)
        rm_csv_text(c, names[i]);
    return rm_csv_end_row(c);
}

static int strokes_csv(rm_csv *c, const rm_results *r)
{
    static const char *const cols[] = {
        "stroke",    "set",     "set_label", "start_s",         "end_s",           "duration_s",
        "from_x_cm", "to_x_cm", "length_cm", "mean_speed_cm_s", "peak_speed_cm_s", "mean_force_n"};
    header(c, cols, sizeof cols / sizeof cols[0]);
    for (size_t i = 0; i < r->n_strokes && !rm_csv_failed(c); i++) {
        const rm_stroke *s = &r->strokes[i];
        put_head(c, r);
        put_item(c, r, i, s->segment, s->start_s, s->end_s);
        rm_csv_number(c, s->from_x_cm, 6);
        rm_csv_number(c, s->to_x_cm, 6);
        rm_csv_number(c, s->length_cm, 6);
        rm_csv_number(c, s->mean_speed_cm_s, 6);
        rm_csv_number(c, s->peak_speed_cm_s, 6);
        rm_csv_number(c, s->mean_force_n, 6);
        rm_csv_end_row(c);
    }
    return rm_csv_failed(c) ? -1 : 0;
}

static int holds_csv(rm_csv *c, const rm_results *r)
{
    static const char *const cols[] = {"hold",  "set",        "set_label", "start_s",
                                       "end_s", "duration_s", "x_cm",      "mean_force_n"};
    header(c, cols, sizeof cols / sizeof cols[0]);
    for (size_t i = 0; i < r->n_holds && !rm_csv_failed(c); i++) {
        const rm_hold *h = &r->holds[i];
        put_head(c, r);
        put_item(c, r, i, h->segment, h->start_s, h->end_s);
        rm_csv_number(c, h->x_cm, 6);
        rm_csv_number(c, h->mean_force_n, 6);
        rm_csv_end_row(c);
    }
    return rm_csv_failed(c) ? -1 : 0;
}

static int spots_csv(rm_csv *c, const rm_results *r)
{
    static const char *const cols[] = {"spot",         "set",        "set_label", "start_s",
                                       "end_s",        "duration_s", "x_cm",      "y_cm",
                                       "mean_force_n", "force_cv",   "circle_cm"};
    header(c, cols, sizeof cols / sizeof cols[0]);
    for (size_t i = 0; i < r->n_spots && !rm_csv_failed(c); i++) {
        const rm_spot *p = &r->spots[i];
        put_head(c, r);
        put_item(c, r, i, p->segment, p->start_s, p->end_s);
        rm_csv_number(c, p->x_cm, 6);
        rm_csv_number(c, p->y_cm, 6);
        rm_csv_number(c, p->mean_force_n, 6);
        rm_csv_number(c, p->force_cv, 6);
        rm_csv_number(c, p->circle_cm, 6);
        rm_csv_end_row(c);
    }
    return rm_csv_failed(c) ? -1 : 0;
}

/* The set table: the segment-column table of rm_results.h, in its order,
 * with index and label named set and set_label as on the other tables,
 * and duration_s after end_s. */
static int sets_csv(rm_csv *c, const rm_results *r)
{
    size_t n;
    const rm_segment_column *cols = rm_segment_columns(&n);
    for (size_t i = 0; i < NHEAD; i++)
        rm_csv_text(c, head[i]);
    for (size_t i = 0; i < n; i++) {
        const char *name = cols[i].name;
        rm_csv_text(c, !strcmp(name, "index")   ? "set"
                       : !strcmp(name, "label") ? "set_label"
                                                : name);
        if (!strcmp(name, "end_s"))
            rm_csv_text(c, "duration_s");
    }
    rm_csv_end_row(c);
    for (size_t k = 0; k < r->n_segments && !rm_csv_failed(c); k++) {
        const rm_segment_result *s = &r->segments[k];
        put_head(c, r);
        for (size_t i = 0; i < n; i++) {
            const rm_segment_column *col = &cols[i];
            double v = rm_segment_value(s, col);
            if (col->kind == RM_SEGCOL_TEXT)
                put_known(c, rm_segment_text(s, col));
            else if (col->kind == RM_SEGCOL_VERDICT)
                put_known(c, rm_verdict_name((int)v));
            else if (!strcmp(col->unit, "s"))
                put_time(c, v);
            else
                rm_csv_number(c, v, 6);
            if (!strcmp(col->name, "end_s"))
                put_time(c, s->end_s - s->start_s);
        }
        rm_csv_end_row(c);
    }
    return rm_csv_failed(c) ? -1 : 0;
}

int rm_results_table_csv(FILE *f, const rm_results *r, rm_results_table t)
{
    rm_csv c;
    rm_csv_open(&c, f);
    switch (t) {
    case RM_RESULTS_STROKES: return strokes_csv(&c, r);
    case RM_RESULTS_HOLDS: return holds_csv(&c, r);
    case RM_RESULTS_SPOTS: return spots_csv(&c, r);
    case RM_RESULTS_SETS: return sets_csv(&c, r);
    }
    return -1;
}

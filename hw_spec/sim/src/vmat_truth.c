/* vmat_truth.c - the ground truth of a scenario as JSON: per-frame series
 * (column arrays), strokes, holds and segments. Computed from the timeline,
 * so it can be written before, during or after streaming. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_safefile.h"
#include "vmat_internal.h"

static const char *const group_names[VM_NGROUPS] = {"calves", "hamstrings", "quads", "it_band",
                                                    "glutes"};

static void put_json_string(FILE *f, const char *s)
{
    json_t *j = json_string(s);
    char *txt = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(txt ? txt : "\"\"", f);
    free(txt);
    json_decref(j);
}

enum { COL_TIME, COL_X, COL_Y, COL_FORCE, COL_SUPPORT, COL_SPEED, COL_STATE, COL_SEGMENT, NCOL };
static const char *const col_names[NCOL] = {"time_s",         "roller_x_cm",     "roller_y_cm",
                                            "roller_force_n", "support_force_n", "speed_cm_s",
                                            "state",          "segment"};

static void write_series(FILE *f, const vm_scenario *sc, unsigned rate, uint64_t total)
{
    fputs("  \"series\": {\n", f);
    for (int col = 0; col < NCOL; col++) {
        fprintf(f, "    \"%s\": [", col_names[col]);
        int hint = -1;
        for (uint64_t n = 0; n < total; n++) {
            rm_vmat_truth t;
            vm_truth_at(sc, (double)n / rate, &hint, &t, NULL);
            if (n)
                fputc(',', f);
            if (n % 16 == 15)
                fputs("\n      ", f);
            switch (col) {
            case COL_TIME: fprintf(f, "%.4f", t.time_s); break;
            case COL_X: fprintf(f, "%.3f", t.roller_x_cm); break;
            case COL_Y: fprintf(f, "%.3f", t.roller_y_cm); break;
            case COL_FORCE: fprintf(f, "%.2f", t.roller_force_n); break;
            case COL_SUPPORT: fprintf(f, "%.2f", t.support_force_n); break;
            case COL_SPEED: fprintf(f, "%.3f", t.speed_cm_s + 0.0); break;
            case COL_STATE: fprintf(f, "%d", (int)t.state); break;
            default: fprintf(f, "%d", t.segment); break;
            }
        }
        fprintf(f, "]%s\n", col + 1 < NCOL ? "," : "");
    }
    fputs("  },\n", f);
}

static void write_strokes(FILE *f, const vm_scenario *sc)
{
    /* A stroke is a one-way pass between turning points: consecutive
     * rolling legs in the same direction without a pause are one stroke. */
    fputs("  \"strokes\": [", f);
    int first = 1;
    for (int m = 0; m < sc->n_moves;) {
        const vm_move *a = &sc->moves[m];
        if (a->kind != VM_ROLL) {
            m++;
            continue;
        }
        int e = m;
        double dir = a->x1 > a->x0 ? 1 : -1;
        while (e + 1 < sc->n_moves && sc->moves[e + 1].kind == VM_ROLL &&
               sc->moves[e + 1].segment == a->segment &&
               (sc->moves[e + 1].x1 > sc->moves[e + 1].x0 ? 1 : -1) == dir)
            e++;
        const vm_move *z = &sc->moves[e];
        fprintf(f,
                "%s\n    {\"start_s\": %.4f, \"end_s\": %.4f, \"from_x_cm\": %.3f, "
                "\"to_x_cm\": %.3f, \"speed_cm_s\": %.4f, \"segment\": %d}",
                first ? "" : ",", a->t0, z->t1, a->x0, z->x1, fabs(z->x1 - a->x0) / (z->t1 - a->t0),
                a->segment);
        first = 0;
        m = e + 1;
    }
    fputs("\n  ],\n", f);
}

static void write_holds(FILE *f, const vm_scenario *sc)
{
    fputs("  \"holds\": [", f);
    int first = 1;
    for (int m = 0; m < sc->n_moves;) {
        const vm_move *a = &sc->moves[m];
        if (a->kind != VM_HOLD) {
            m++;
            continue;
        }
        int e = m;
        while (e + 1 < sc->n_moves && sc->moves[e + 1].kind == VM_HOLD &&
               sc->moves[e + 1].segment == a->segment)
            e++;
        fprintf(f, "%s\n    {\"start_s\": %.4f, \"end_s\": %.4f, \"x_cm\": %.3f, \"segment\": %d}",
                first ? "" : ",", a->t0, sc->moves[e].t1, a->x0, a->segment);
        first = 0;
        m = e + 1;
    }
    fputs("\n  ],\n", f);
}

/* Ball spots: one per press, its force the mean over the frames it lasts
 * (load ramps included), as the analysis measures it. */
static void write_spots(FILE *f, const vm_scenario *sc, unsigned rate)
{
    fputs("  \"spots\": [", f);
    int first = 1;
    for (int m = 0; m < sc->n_moves; m++) {
        const vm_move *a = &sc->moves[m];
        if (a->kind != VM_PRESS)
            continue;
        double sum = 0;
        long cnt = 0;
        int hint = m;
        for (uint64_t n = (uint64_t)ceil(a->t0 * rate - 1e-9); (double)n / rate < a->t1; n++) {
            rm_vmat_truth t;
            vm_truth_at(sc, (double)n / rate, &hint, &t, NULL);
            sum += t.ball_force_n;
            cnt++;
        }
        fprintf(f,
                "%s\n    {\"start_s\": %.4f, \"end_s\": %.4f, \"x_cm\": %.3f, \"y_cm\": %.3f, "
                "\"force_n\": %.3f, \"circle_cm\": %.3f, \"segment\": %d}",
                first ? "" : ",", a->t0, a->t1, a->x0, a->y0, cnt ? sum / cnt : 0.0, a->circle_cm,
                a->segment);
        first = 0;
    }
    fputs("\n  ],\n", f);
}

static void write_segments(FILE *f, const vm_scenario *sc)
{
    fputs("  \"segments\": [", f);
    for (int i = 0; i < sc->n_segments; i++) {
        const vm_segment *s = &sc->segments[i];
        fprintf(f, "%s\n    {\"index\": %d, \"label\": ", i ? "," : "", i);
        put_json_string(f, s->label);
        fprintf(f,
                ", \"group\": \"%s\", \"tool\": \"%s\", \"start_s\": %.4f, \"end_s\": %.4f, "
                "\"x_min_cm\": %.3f, \"x_max_cm\": %.3f, \"supports\": [",
                group_names[s->group], s->tool == VM_TOOL_BALL ? "ball" : "roller", s->start_s,
                s->end_s, s->x_min, s->x_max);
        for (int k = 0; k < s->n_supports; k++) {
            const vm_support *u = &s->sup[k];
            fprintf(f,
                    "%s{\"kind\": \"%s\", \"side\": \"%s\", \"x_cm\": %.3f, \"y_cm\": %.3f, "
                    "\"share\": %.3f}",
                    k ? ", " : "", u->kind,
                    u->x_cm < 0.5 * (s->x_min + s->x_max) ? "behind" : "ahead", u->x_cm, u->y_cm,
                    u->share);
        }
        fputs("]}", f);
    }
    fputs("\n  ]\n", f);
}

rm_status rm_vmat_write_truth(const rm_vmat *vm, const char *path, rm_err *err)
{
    if (!vm || !path)
        return rm_err_set(err, RM_ERR_ARG, "truth: NULL argument");
    const vm_scenario *sc = vm_scenario_of(vm);
    unsigned rate = vm_rate_of(vm);
    uint64_t total = rm_vmat_total_frames(vm);
    rm_safefile sf;
    rm_status st = rm_safefile_open(path, &sf, err);
    if (st != RM_OK)
        return st;
    FILE *f = sf.f;
    const char *base = strrchr(sc->path, '/');
    fputs("{\n  \"format\": \"rollmat-vmat-truth-1\",\n  \"scenario\": ", f);
    put_json_string(f, base ? base + 1 : sc->path);
    fputs(",\n  \"title\": ", f);
    put_json_string(f, sc->title);
    fputs(",\n  \"subject_id\": ", f);
    put_json_string(f, sc->subject_id);
    fprintf(f,
            ",\n  \"seed\": %llu,\n  \"rate_hz\": %u,\n  \"frames\": %llu,\n"
            "  \"duration_s\": %.4f,\n  \"body_mass_kg\": %.3f,\n  \"body_weight_n\": %.3f,\n"
            "  \"states\": [\"unloaded\", \"rolling\", \"holding\"],\n",
            (unsigned long long)vm_seed_of(vm), rate, (unsigned long long)total, sc->total_s,
            sc->body_mass_kg, sc->body_mass_kg * RM_GRAVITY);
    write_series(f, sc, rate, total);
    write_strokes(f, sc);
    write_holds(f, sc);
    write_spots(f, sc, rate);
    write_segments(f, sc);
    fputs("}\n", f);
    return rm_safefile_commit(&sf, err); /* a write error fails here, naming errno */
}

/* posture.c - the body position of a set from what it puts on the mat
 * besides the tool (hands, forearms, feet: the supports) and from how the
 * load lies along the roller; a set no operator named is named after it.
 * Rules and thresholds: docs/metrics.md, "Muscle groups without an
 * operator". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_internal.h"

#define MAX_BLOBS 8

typedef struct blob {
    double x, y, force, sx, sy;
    int behind;       /* at smaller x than the tool */
    const char *kind; /* "hand", "forearm", "foot" */
} blob;

typedef struct evidence {
    blob b[MAX_BLOBS];
    int n;                   /* supports, heaviest first */
    double tool_lo, tool_hi; /* x range the tool covers */
    double legs_ratio;       /* second load peak along the roller / first; NaN for a ball */
} evidence;

/* Supports: connected patches (4-neighbour) of the set's mean pressure map
 * away from the tool, above 5 % of the map's peak, each carrying at least
 * 5 % of their total. `keep` marks the sensels that may belong to them. */
static void find_supports(const rm_results *r, const float *map, const uint8_t *keep, evidence *ev)
{
    const int R = r->rows, C = r->cols, N = R * C;
    float peak = 0;
    for (int i = 0; i < N; i++)
        if (keep[i] && map[i] > peak)
            peak = map[i];
    ev->n = 0;
    if (!(peak > 0))
        return;
    double thr = fmax(0.3, 0.05 * peak);
    int *lab = calloc((size_t)N, sizeof *lab), *queue = malloc((size_t)N * sizeof *queue);
    if (!lab || !queue) {
        free(lab);
        free(queue);
        return;
    }
    blob all[64];
    int na = 0;
    double total = 0;
    for (int s = 0; s < N; s++) {
        if (lab[s] || !keep[s] || map[s] < thr)
            continue;
        double sp = 0, spx = 0, spy = 0, spxx = 0, spyy = 0;
        int qn = 0;
        queue[qn++] = s;
        lab[s] = 1;
        for (int q = 0; q < qn; q++) {
            int i = queue[q], rr = i / C, cc = i % C;
            double v = map[i];
            sp += v;
            spx += v * rr;
            spy += v * cc;
            spxx += v * rr * rr;
            spyy += v * cc * cc;
            const int nb[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
            for (int d = 0; d < 4; d++) {
                int r2 = rr + nb[d][0], c2 = cc + nb[d][1];
                if (r2 < 0 || r2 >= R || c2 < 0 || c2 >= C)
                    continue;
                int j = r2 * C + c2;
                if (!lab[j] && keep[j] && map[j] >= thr) {
                    lab[j] = 1;
                    queue[qn++] = j;
                }
            }
        }
        if (na == 64 || qn < 3)
            continue;
        blob *b = &all[na++];
        double mx = spx / sp, my = spy / sp;
        b->x = (mx + 0.5) * r->row_pitch_cm;
        b->y = (my + 0.5) * r->col_pitch_cm;
        b->sx = sqrt(fmax(spxx / sp - mx * mx, 1.0 / 12)) * r->row_pitch_cm;
        b->sy = sqrt(fmax(spyy / sp - my * my, 1.0 / 12)) * r->col_pitch_cm;
        b->force = sp * r->row_pitch_cm * r->col_pitch_cm * RM_N_CM2_PER_KPA;
        total += b->force;
    }
    free(lab);
    free(queue);
    /* heaviest first; tiny patches (a knee brushing the mat, noise) out */
    for (int k = 0; k < na && ev->n < MAX_BLOBS; k++) {
        int best = -1;
        for (int j = 0; j < na; j++)
            if (all[j].force > 0 && (best < 0 || all[j].force > all[best].force))
                best = j;
        if (best < 0 || all[best].force < 0.05 * total)
            break;
        blob *b = &ev->b[ev->n++];
        *b = all[best];
        all[best].force = 0;
        double mid = 0.5 * (ev->tool_lo + ev->tool_hi);
        b->behind = b->x < mid;
        /* a forearm lies along the body (long in x); a foot is bigger
         * than a hand */
        b->kind = b->sx / b->sy >= 1.45 ? "forearm" : b->sx * b->sy >= 9.5 ? "foot" : "hand";
    }
}

/* The load along the roller: the column profile of its rows in the mean
 * map; the second highest peak at least 8 cm from the first, over it. */
static double legs_ratio(const rm_results *r, const float *map, const uint8_t *tool_row)
{
    const int R = r->rows, C = r->cols;
    double prof[1024];
    if (C < 1 || C > 1024)
        return NAN;
    for (int c = 0; c < C; c++) {
        prof[c] = 0;
        for (int rr = 0; rr < R; rr++)
            if (tool_row[rr])
                prof[c] += map[rr * C + c];
    }
    int p1 = 0;
    for (int c = 1; c < C; c++)
        if (prof[c] > prof[p1])
            p1 = c;
    if (!(prof[p1] > 0))
        return NAN;
    double p2 = 0;
    int gap = (int)ceil(8.0 / r->col_pitch_cm);
    for (int c = 1; c + 1 < C; c++)
        if (abs(c - p1) >= gap && prof[c] >= prof[c - 1] && prof[c] >= prof[c + 1] && prof[c] > p2)
            p2 = prof[c];
    return p2 / prof[p1];
}

typedef struct verdict {
    const char *posture; /* group, "calves or hamstrings", or "unknown" */
    double confidence;
} verdict;

/* The rules: a hypothesis per body position, each the share of its
 * features the evidence shows; the best wins by its margin. */
static verdict decide(const evidence *ev, int ball)
{
    verdict v = {"unknown", 0};
    int nb = 0, na = 0;
    const blob *beh[2] = {NULL, NULL}, *ahd[2] = {NULL, NULL};
    for (int k = 0; k < ev->n && k < 3; k++) {
        const blob *b = &ev->b[k];
        if (b->force < 0.15 * ev->b[0].force)
            continue;
        if (b->behind && nb < 2)
            beh[nb++] = b;
        else if (!b->behind && na < 2)
            ahd[na++] = b;
    }
    double two_legs = ball || isnan(ev->legs_ratio) ? NAN : ev->legs_ratio >= 0.7;
    double one_load = isnan(two_legs) ? NAN : !two_legs;
    /* feature lists: 1 = shown, 0 = not shown, NaN = cannot tell */
    double f_cal[] = {nb == 2 && na == 0, two_legs};
    double f_quad[] = {na == 2 && nb == 0, na == 2 && !strcmp(ahd[0]->kind, "forearm"), two_legs};
    double f_it[] = {na == 1 && nb == 1, na == 1 && !strcmp(ahd[0]->kind, "forearm"),
                     nb == 1 && strcmp(beh[0]->kind, "hand") != 0,
                     ball || isnan(ev->legs_ratio) ? NAN : ev->legs_ratio < 0.25};
    double f_glu[] = {na == 1 && nb == 1, nb == 1 && !strcmp(beh[0]->kind, "hand"),
                      na == 1 && strcmp(ahd[0]->kind, "forearm") != 0, one_load};
    struct {
        const char *name;
        const double *f;
        int n;
    } hyp[] = {{"calves or hamstrings", f_cal, 2},
               {"quads", f_quad, 3},
               {"it_band", f_it, 4},
               {"glutes", f_glu, 4}};
    double sc[4];
    for (int h = 0; h < 4; h++) {
        double s = 0;
        int n = 0;
        for (int i = 0; i < hyp[h].n; i++)
            if (!isnan(hyp[h].f[i])) {
                s += hyp[h].f[i];
                n++;
            }
        /* the supports' layout (the first feature) is required */
        sc[h] = n && hyp[h].f[0] > 0 ? s / n : 0;
    }
    int best = 0;
    for (int h = 1; h < 4; h++)
        if (sc[h] > sc[best])
            best = h;
    double second = 0;
    for (int h = 0; h < 4; h++)
        if (h != best && sc[h] > second)
            second = sc[h];
    if (!(sc[best] > 0.5))
        return v;
    v.posture = hyp[best].name;
    v.confidence = sc[best] - 0.5 * second;
    if (best == 0) {
        /* calves or hamstrings: how far ahead of the hands the tool works.
         * Under the thighs it starts a hand's breadth from the hands; under
         * the calves beyond the knees. */
        double hx = 0.5 * (beh[0]->x + beh[1]->x), d = ev->tool_lo - hx;
        if (d <= 16.0) {
            v.posture = "hamstrings";
            v.confidence *= fmin(1.0, (16.0 - d) / 4.0 + 0.5);
        } else if (d >= 20.0) {
            v.posture = "calves";
            v.confidence *= fmin(1.0, (d - 20.0) / 4.0 + 0.5);
        }
    }
    if (v.confidence > 1)
        v.confidence = 1;
    return v;
}

static void evidence_text(const evidence *ev, char *o, size_t cap)
{
    size_t used = 0;
    o[0] = 0;
    for (int k = 0; k < ev->n && used < cap; k++) {
        int w = snprintf(o + used, cap - used, "%s%s %s at (%.1f, %.1f) cm, %.0f N", k ? "; " : "",
                         ev->b[k].kind, ev->b[k].behind ? "behind" : "ahead", ev->b[k].x,
                         ev->b[k].y, ev->b[k].force);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < cap && !isnan(ev->legs_ratio))
        snprintf(o + used, cap - used, "%sroller load: %s (second peak %.2f of the first)",
                 used ? "; " : "", ev->legs_ratio >= 0.7 ? "two legs" : "one load", ev->legs_ratio);
    if (!ev->n && used < cap)
        snprintf(o + used, cap - used, "%sno support found", used ? "; " : "");
}

/* Where the tool worked in segment k: the roller's x range, or the ball's
 * spots; `keep` clears the sensels within reach of it. */
static void tool_area(const rm_results *r, size_t k, uint8_t *keep, uint8_t *tool_row, evidence *ev)
{
    const rm_segment_result *sg = &r->segments[k];
    const int R = r->rows, C = r->cols;
    memset(keep, 1, (size_t)R * C);
    memset(tool_row, 0, (size_t)R);
    ev->tool_lo = 1e300;
    ev->tool_hi = -1e300;
    if (!strcmp(sg->tool, "ball")) {
        for (size_t i = 0; i < r->n_spots; i++) {
            const rm_spot *p = &r->spots[i];
            if (p->segment != (int32_t)k)
                continue;
            ev->tool_lo = fmin(ev->tool_lo, p->x_cm);
            ev->tool_hi = fmax(ev->tool_hi, p->x_cm);
            double rad = 6.0 + p->circle_cm * 2;
            for (int rr = 0; rr < R; rr++)
                for (int c = 0; c < C; c++)
                    if (hypot((rr + 0.5) * r->row_pitch_cm - p->x_cm,
                              (c + 0.5) * r->col_pitch_cm - p->y_cm) <= rad)
                        keep[rr * C + c] = 0;
        }
        return;
    }
    const float *t = r->series[RM_SERIES_TIME], *x = r->series[RM_SERIES_ROLLER_X_CM];
    for (size_t i = 0; i < r->n_frames; i++)
        if (t[i] >= sg->start_s && t[i] <= sg->end_s && !isnan(x[i])) {
            ev->tool_lo = fmin(ev->tool_lo, x[i]);
            ev->tool_hi = fmax(ev->tool_hi, x[i]);
        }
    if (ev->tool_lo > ev->tool_hi)
        return;
    for (int rr = 0; rr < R; rr++) {
        double xc = (rr + 0.5) * r->row_pitch_cm;
        if (xc >= ev->tool_lo - 4.0 && xc <= ev->tool_hi + 4.0) {
            tool_row[rr] = 1;
            memset(keep + (size_t)rr * C, 0, (size_t)C);
        }
    }
}

void posture_recognise(const rm_analysis *a, rm_results *r)
{
    (void)a;
    const size_t N = (size_t)r->rows * r->cols;
    uint8_t *keep = malloc(N ? N : 1), *tool_row = malloc(r->rows ? r->rows : 1);
    for (size_t k = 0; k < r->n_segments; k++) {
        rm_segment_result *sg = &r->segments[k];
        snprintf(sg->posture, sizeof sg->posture, "unknown");
        sg->posture_confidence = NAN;
        sg->supports[0] = 0;
        if (!keep || !tool_row || !r->seg_mean_kpa ||
            (!r->totals.roller_found && strcmp(sg->tool, "ball")))
            continue;
        evidence ev;
        memset(&ev, 0, sizeof ev);
        tool_area(r, k, keep, tool_row, &ev);
        if (ev.tool_lo > ev.tool_hi)
            continue;
        int ball = !strcmp(sg->tool, "ball");
        const float *map = r->seg_mean_kpa + k * N;
        ev.legs_ratio = ball ? NAN : legs_ratio(r, map, tool_row);
        find_supports(r, map, keep, &ev);
        verdict v = decide(&ev, ball);
        snprintf(sg->posture, sizeof sg->posture, "%s", v.posture);
        sg->posture_confidence = (float)v.confidence;
        evidence_text(&ev, sg->supports, sizeof sg->supports);
        if (strcmp(sg->label_source, "operator") && strcmp(v.posture, "unknown")) {
            snprintf(sg->label, sizeof sg->label, "%s", v.posture);
            snprintf(sg->label_source, sizeof sg->label_source, "recognised");
        }
    }
    free(keep);
    free(tool_row);
}

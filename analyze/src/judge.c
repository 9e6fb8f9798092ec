/* judge.c - the summary page's lights per set and target, the daily total
 * and the tally (rm_judge.h). Moved here from the report so that batch's
 * session table and the page judge with one piece of code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_judge.h"

/* Outside the band by at most this share of the nearer edge: amber. */
#define AMBER_SHARE 0.25

static const char *const light_names[] = {"none", "green", "amber", "red"};

const char *rm_light_name(rm_light l)
{
    return (unsigned)l < sizeof light_names / sizeof light_names[0] ? light_names[l] : NULL;
}

const rm_judged *rm_judgement_light(const rm_judgement *j, size_t k, rm_target t)
{
    if (!j || !j->lights || k >= j->n_sets || (unsigned)t >= RM_TARGET_COUNT)
        return NULL;
    return &j->lights[k * RM_TARGET_COUNT + t];
}

rm_light rm_judgement_session_light(const rm_judgement *j)
{
    if (!j->targets_judged)
        return RM_LIGHT_NONE;
    if (j->targets_met == j->targets_judged)
        return RM_LIGHT_GREEN;
    return 2 * j->targets_met >= j->targets_judged ? RM_LIGHT_AMBER : RM_LIGHT_RED;
}

/* Judges v (already rounded as shown) against b. */
static void judge(rm_judged *L, const rm_band *b, double v)
{
    L->value = v;
    L->light = RM_LIGHT_NONE;
    L->direction = RM_VERDICT_NA;
    L->miss = 0;
    if (!b->set || !isfinite(v))
        return;
    if (v < b->lo) {
        L->direction = RM_VERDICT_BELOW;
        L->miss = b->lo > 0 ? (b->lo - v) / b->lo : 1;
    } else if (v > b->hi) {
        L->direction = RM_VERDICT_ABOVE;
        L->miss = b->hi > 0 ? (v - b->hi) / b->hi : 1;
    } else {
        L->direction = RM_VERDICT_INSIDE;
        L->light = RM_LIGHT_GREEN;
        return;
    }
    L->light = L->miss <= AMBER_SHARE ? RM_LIGHT_AMBER : RM_LIGHT_RED;
}

/* The longest hold of set k (NaN if none) and how many it had. */
static double longest_hold(const rm_results *r, size_t k, int *n)
{
    double best = NAN;
    *n = 0;
    for (size_t i = 0; i < r->n_holds; i++) {
        if (r->holds[i].segment != (int32_t)k)
            continue;
        double d = r->holds[i].end_s - r->holds[i].start_s;
        (*n)++;
        if (!(d <= best))
            best = d;
    }
    return best;
}

/* A missing hold (or spot) where the profile asks for one: red, not silence. */
static void missing(rm_judged *h)
{
    h->light = RM_LIGHT_RED;
    h->direction = RM_VERDICT_BELOW;
    h->miss = 1;
    h->value = 0;
}

/* A massage-ball set is a steady press on a spot (spot_s), not a roller
 * stopping on one: judged by its time on each spot, never as a missing
 * hold. */
static void ball_light(rm_judged *h, const rm_segment_result *s, const rm_profile *P)
{
    double on_spot = s->spots > 0 && isfinite(s->mean_spot_s) ? round(s->mean_spot_s) : NAN;
    judge(h, &P->spot_s, on_spot);
    if (s->spots == 0 && P->spot_s.set)
        missing(h);
    if (s->spots == 0)
        snprintf(h->text, sizeof h->text, "no spot");
    else if (s->spots == 1)
        snprintf(h->text, sizeof h->text, "spot %.0f s", on_spot);
    else
        snprintf(h->text, sizeof h->text, "%d spots, %.0f s", (int)s->spots, on_spot);
}

static void set_lights(rm_judgement *J, const rm_results *r, size_t k, const rm_profile *P)
{
    const rm_segment_result *s = &r->segments[k];
    rm_judged *L = &J->lights[k * RM_TARGET_COUNT];
    int roller = r->totals.roller_found;

    double dur = s->end_s - s->start_s;
    judge(&L[RM_TARGET_TIME], &P->set_s, round(dur));
    if (dur >= 120)
        snprintf(L[RM_TARGET_TIME].text, sizeof L->text, "%.1f min", dur / 60.0);
    else
        snprintf(L[RM_TARGET_TIME].text, sizeof L->text, "%.0f s", dur);

    rm_judged *pc = &L[RM_TARGET_PACE];
    if (J->pace_by_pass) {
        double v = roller ? round(s->mean_pass_s * 10.0) / 10.0 : NAN;
        judge(pc, &P->pass_s, v);
        snprintf(pc->text, sizeof pc->text, isfinite(v) ? "%.1f s/pass" : "-", v);
    } else {
        double v = roller ? round(s->mean_speed_cm_s * 10.0) / 10.0 : NAN;
        judge(pc, &P->speed_cm_s, v);
        snprintf(pc->text, sizeof pc->text, isfinite(v) ? "%.1f cm/s" : "-", v);
    }

    rm_judged *h = &L[RM_TARGET_HOLD];
    int nh = 0;
    double held = roller ? longest_hold(r, k, &nh) : NAN;
    judge(h, &P->hold_s, isfinite(held) ? round(held) : NAN);
    if (roller && nh == 0 && P->hold_s.set)
        missing(h); /* the profile asks for a hold on a tender spot */
    if (!strcmp(s->tool, "ball")) {
        ball_light(h, s, P);
        return;
    }
    if (!roller)
        snprintf(h->text, sizeof h->text, "-");
    else if (nh == 0)
        snprintf(h->text, sizeof h->text, "none");
    else if (nh == 1)
        snprintf(h->text, sizeof h->text, "%.0f s", round(held));
    else
        snprintf(h->text, sizeof h->text, "%d, max %.0f s", nh, round(held));
}

double rm_judge_daily_s(const rm_results *r, double *ball_s)
{
    double ball = 0;
    for (size_t i = 0; i < r->n_spots; i++) {
        int32_t k = r->spots[i].segment;
        if (k >= 0 && (size_t)k < r->n_segments && !strcmp(r->segments[k].tool, "ball") &&
            r->spots[i].end_s > r->spots[i].start_s)
            ball += r->spots[i].end_s - r->spots[i].start_s;
    }
    if (ball_s)
        *ball_s = ball;
    return r->totals.rolling_s + r->totals.holding_s + ball;
}

rm_status rm_judge_summary(const rm_results *r, const rm_profile *profile, rm_judgement *out,
                           rm_err *err)
{
    memset(out, 0, sizeof *out);
    rm_profile none;
    memset(&none, 0, sizeof none);
    const rm_profile *P = profile ? profile : &none;
    out->lights = calloc(r->n_segments ? r->n_segments * RM_TARGET_COUNT : 1, sizeof *out->lights);
    if (!out->lights)
        return rm_err_set(err, RM_ERR_NOMEM, "judging the sets: out of memory");
    out->n_sets = r->n_segments;
    out->pace_by_pass = !P->speed_cm_s.set && P->pass_s.set;
    for (size_t k = 0; k < r->n_segments; k++) {
        set_lights(out, r, k, P);
        for (int t = 0; t < RM_TARGET_COUNT; t++) {
            rm_light l = out->lights[k * RM_TARGET_COUNT + t].light;
            out->targets_judged += l != RM_LIGHT_NONE;
            out->targets_met += l == RM_LIGHT_GREEN;
        }
    }
    double ball = 0;
    double on = rm_judge_daily_s(r, &ball);
    judge(&out->daily, &P->daily_s, r->totals.roller_found || ball > 0 ? round(on) : NAN);
    snprintf(out->daily.text, sizeof out->daily.text, "%.1f min", on / 60.0);
    out->targets_judged += out->daily.light != RM_LIGHT_NONE;
    out->targets_met += out->daily.light == RM_LIGHT_GREEN;
    return RM_OK;
}

void rm_judgement_free(rm_judgement *j)
{
    if (!j)
        return;
    free(j->lights);
    j->lights = NULL;
    j->n_sets = 0;
}

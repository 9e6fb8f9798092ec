/* summary.c - what page 1 says: who and when, a traffic light per set and
 * target against the profile, the session verdict, and the two or three
 * actions that would close the largest shortfalls, in numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpt_internal.h"

/* Outside the band by at most this share of the nearer edge: amber. */
#define AMBER_SHARE 0.25

static const char *const light_names[] = {"none", "green", "amber", "red"};

const char *rm_light_name(rm_light l)
{
    return (unsigned)l < sizeof light_names / sizeof light_names[0] ? light_names[l] : NULL;
}

const rm_report_light *rm_report_light_at(const rm_report *rep, size_t k, rm_report_target t)
{
    if (!rep->lights || k >= rep->results->n_segments || (unsigned)t >= RM_TARGET_COUNT)
        return NULL;
    return &rep->lights[k * RM_TARGET_COUNT + t];
}

/* "60-120" or "2.5": as few digits as the number needs. */
static void num(char *o, size_t cap, double v)
{
    if (fabs(v - round(v)) < 1e-9)
        snprintf(o, cap, "%.0f", v);
    else
        snprintf(o, cap, "%.1f", v);
}

static void band(char *o, size_t cap, double lo, double hi)
{
    char a[32], b[32];
    num(a, sizeof a, lo);
    num(b, sizeof b, hi);
    if (snprintf(o, cap, "%s-%s", a, b) >= (int)cap && cap > 1)
        o[cap - 2] = '~'; /* cut short: say so rather than show a wrong band */
}

/* Judges v (already rounded as shown) against b. */
static void judge(rm_report_light *L, const rm_band *b, double v)
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

/* Mean one-way pass length of set k in cm: its strokes, else its range. */
static double pass_length(const rm_results *r, size_t k)
{
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < r->n_strokes; i++)
        if (r->strokes[i].segment == (int32_t)k && isfinite(r->strokes[i].length_cm)) {
            sum += fabs(r->strokes[i].length_cm);
            n++;
        }
    if (n)
        return sum / n;
    return isfinite(r->segments[k].range_cm) && r->segments[k].range_cm > 0
               ? r->segments[k].range_cm
               : NAN;
}

static void set_lights(rm_report *rep, size_t k, const rm_profile *P)
{
    const rm_results *r = rep->results;
    const rm_segment_result *s = &r->segments[k];
    rm_report_light *L = &rep->lights[k * RM_TARGET_COUNT];
    int roller = r->totals.roller_found;

    double dur = s->end_s - s->start_s;
    judge(&L[RM_TARGET_TIME], &P->set_s, round(dur));
    if (dur >= 120)
        snprintf(L[RM_TARGET_TIME].text, sizeof L->text, "%.1f min", dur / 60.0);
    else
        snprintf(L[RM_TARGET_TIME].text, sizeof L->text, "%.0f s", dur);

    rm_report_light *pc = &L[RM_TARGET_PACE];
    if (rep->pace_by_pass) {
        double v = roller ? round(s->mean_pass_s * 10.0) / 10.0 : NAN;
        judge(pc, &P->pass_s, v);
        snprintf(pc->text, sizeof pc->text, isfinite(v) ? "%.1f s/pass" : "-", v);
    } else {
        double v = roller ? round(s->mean_speed_cm_s * 10.0) / 10.0 : NAN;
        judge(pc, &P->speed_cm_s, v);
        snprintf(pc->text, sizeof pc->text, isfinite(v) ? "%.1f cm/s" : "-", v);
    }

    rm_report_light *h = &L[RM_TARGET_HOLD];
    int nh = 0;
    double held = roller ? longest_hold(r, k, &nh) : NAN;
    judge(h, &P->hold_s, isfinite(held) ? round(held) : NAN);
    if (roller && nh == 0 && P->hold_s.set) {
        /* the profile asks for a hold on a tender spot: none is a miss */
        h->light = RM_LIGHT_RED;
        h->direction = RM_VERDICT_BELOW;
        h->miss = 1;
        h->value = 0;
    }
    if (!strcmp(s->tool, "ball")) {
        /* A ball set is a steady press on a spot (spot_s), not a roller
         * stopping on one: judged by its time on each spot, never as a
         * missing hold. */
        double on_spot = s->spots > 0 && isfinite(s->mean_spot_s) ? round(s->mean_spot_s) : NAN;
        judge(h, &P->spot_s, on_spot);
        if (s->spots == 0 && P->spot_s.set) {
            h->light = RM_LIGHT_RED;
            h->direction = RM_VERDICT_BELOW;
            h->miss = 1;
            h->value = 0;
        }
        if (s->spots == 0)
            snprintf(h->text, sizeof h->text, "no spot");
        else if (s->spots == 1)
            snprintf(h->text, sizeof h->text, "spot %.0f s", on_spot);
        else
            snprintf(h->text, sizeof h->text, "%d spots, %.0f s", (int)s->spots, on_spot);
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

/* ---- actions ---- */

typedef struct action {
    double miss;
    char text[RM_REPORT_ACTION_LEN];
} action;

static int by_miss(const void *a, const void *b)
{
    double x = ((const action *)a)->miss, y = ((const action *)b)->miss;
    return (x < y) - (x > y);
}

/* "1.5 min" or "40 s": how much time to add or cut. */
static void amount(char *o, size_t cap, double s)
{
    if (s >= 90)
        snprintf(o, cap, "%.1f min", s / 60.0);
    else
        snprintf(o, cap, "%.0f s", ceil(s));
}

static double aim_of(const rm_band *b)
{
    return isfinite(b->target) ? b->target : 0.5 * (b->lo + b->hi);
}

static void pace_action(const rm_report *rep, size_t k, const rm_report_light *L, action *a)
{
    const rm_results *r = rep->results;
    const rm_profile *P = &rep->profile;
    const char *name = r->segments[k].label;
    int slower = L->direction == RM_VERDICT_ABOVE;
    double len = pass_length(r, k);
    char lenbuf[16];
    num(lenbuf, sizeof lenbuf, isfinite(len) ? round(len) : 20);
    if (!isfinite(len))
        len = 20;
    len = round(len);
    if (!rep->pace_by_pass) {
        double aim = aim_of(&P->speed_cm_s);
        /* the speed too high is a pass too short: say both */
        snprintf(a->text, sizeof a->text,
                 "roll %s %s: %.1f cm/s, aim for %.1f (about %.0f s per %s cm pass)", name,
                 slower ? "slower" : "faster", L->value, aim, len / aim, lenbuf);
    } else {
        char bt[32];
        band(bt, sizeof bt, P->pass_s.lo, P->pass_s.hi);
        double aim = aim_of(&P->pass_s);
        /* a pass too long (ABOVE) means rolling too slowly */
        snprintf(a->text, sizeof a->text,
                 "roll %s %s: %.1f s per pass, aim for %s s (about %.0f cm/s over %s cm)", name,
                 slower ? "faster" : "slower", L->value, bt, len / aim, lenbuf);
    }
}

static void hold_action(const rm_report *rep, size_t k, const rm_report_light *L, action *a)
{
    const rm_profile *P = &rep->profile;
    const char *name = rep->results->segments[k].label;
    char bt[32];
    if (!strcmp(rep->results->segments[k].tool, "ball")) {
        band(bt, sizeof bt, P->spot_s.lo, P->spot_s.hi);
        if (L->direction == RM_VERDICT_ABOVE)
            snprintf(a->text, sizeof a->text,
                     "move the ball on the %s to the next spot sooner: %.0f s on a spot, %s s is "
                     "enough",
                     name, L->value, bt);
        else if (L->value > 0)
            snprintf(a->text, sizeof a->text,
                     "keep the ball pressed on each spot of the %s %s s: you stayed %.0f s", name, bt,
                     L->value);
        else
            snprintf(a->text, sizeof a->text,
                     "keep the ball pressed on one spot of the %s %s s: it never stayed on a spot",
                     name, bt);
        return;
    }
    band(bt, sizeof bt, P->hold_s.lo, P->hold_s.hi);
    if (L->direction == RM_VERDICT_ABOVE)
        snprintf(a->text, sizeof a->text,
                 "ease off the tender spot on the %s sooner: you held %.0f s, %s s is enough", name,
                 L->value, bt);
    else if (L->value > 0)
        snprintf(a->text, sizeof a->text, "hold the tender spot on the %s %s s: you held %.0f s",
                 name, bt, L->value);
    else
        snprintf(a->text, sizeof a->text, "hold the tender spot on the %s %s s: there was no hold",
                 name, bt);
}

static void time_action(const rm_report *rep, size_t k, const rm_report_light *L, action *a)
{
    const rm_profile *P = &rep->profile;
    const char *name = rep->results->segments[k].label;
    char bt[32], am[32];
    band(bt, sizeof bt, P->set_s.lo, P->set_s.hi);
    if (L->direction == RM_VERDICT_BELOW) {
        amount(am, sizeof am, P->set_s.lo - L->value);
        snprintf(a->text, sizeof a->text, "stay %s longer on the %s: %.0f s, aim for %s s", am,
                 name, L->value, bt);
    } else {
        amount(am, sizeof am, L->value - P->set_s.hi);
        snprintf(a->text, sizeof a->text, "move on from the %s %s sooner: %.0f s, %s s is enough",
                 name, am, L->value, bt);
    }
}

static void daily_action(const rm_report *rep, action *a)
{
    const rm_band *b = &rep->profile.daily_s;
    const rm_report_light *L = &rep->daily;
    char am[32], lim[32];
    if (L->direction == RM_VERDICT_BELOW) {
        amount(am, sizeof am, b->lo - L->value);
        num(lim, sizeof lim, b->lo / 60.0);
        snprintf(a->text, sizeof a->text, "add %s to reach %s minutes a day (today %.1f min)", am,
                 lim, L->value / 60.0);
    } else {
        amount(am, sizeof am, L->value - b->hi);
        num(lim, sizeof lim, b->hi / 60.0);
        snprintf(a->text, sizeof a->text,
                 "roll %s less: %s minutes a day is enough (today %.1f min)", am, lim,
                 L->value / 60.0);
    }
}

/* Every miss gets an action; the largest shortfalls (relative to their
 * band) come first and the first RM_REPORT_MAX_ACTIONS are kept. */
static int make_actions(rm_report *rep)
{
    const rm_results *r = rep->results;
    size_t cap = r->n_segments * RM_TARGET_COUNT + 1, n = 0;
    action *all = calloc(cap, sizeof *all);
    if (!all)
        return -1;
    for (size_t k = 0; k < r->n_segments; k++)
        for (int t = 0; t < RM_TARGET_COUNT; t++) {
            const rm_report_light *L = &rep->lights[k * RM_TARGET_COUNT + t];
            if (L->light != RM_LIGHT_AMBER && L->light != RM_LIGHT_RED)
                continue;
            action *a = &all[n++];
            a->miss = L->miss;
            if (t == RM_TARGET_PACE)
                pace_action(rep, k, L, a);
            else if (t == RM_TARGET_HOLD)
                hold_action(rep, k, L, a);
            else
                time_action(rep, k, L, a);
        }
    if (rep->daily.light == RM_LIGHT_AMBER || rep->daily.light == RM_LIGHT_RED) {
        all[n].miss = rep->daily.miss;
        daily_action(rep, &all[n++]);
    }
    qsort(all, n, sizeof *all, by_miss);
    rep->n_actions = n < RM_REPORT_MAX_ACTIONS ? n : RM_REPORT_MAX_ACTIONS;
    for (size_t i = 0; i < rep->n_actions; i++)
        snprintf(rep->actions[i], sizeof rep->actions[i], "%s", all[i].text);
    free(all);
    return 0;
}

/* ---- who and when ---- */

/* "2026-11-25T08:00:00Z" -> "2026-11-25 08:00 UTC" (anything else as it is). */
static void when(char *o, size_t cap, const char *iso)
{
    if (strlen(iso) >= 16 && iso[10] == 'T')
        snprintf(o, cap, "%.10s %.5s UTC", iso, iso + 11);
    else
        snprintf(o, cap, "%s", iso);
}

static void who_and_when(rm_report *rep)
{
    const rm_results *r = rep->results;
    char date[48] = "", mass[32] = "";
    when(date, sizeof date, r->created);
    if (r->body_mass_kg > 0)
        snprintf(mass, sizeof mass, "%.0f kg", r->body_mass_kg);
    /* the title tells three athletes of one day apart: who, then when */
    const char *who = r->subject_id[0] ? r->subject_id : r->title[0] ? r->title : NULL;
    if (who && date[0])
        rpt_fitf(rep->title, sizeof rep->title, "Foam rolling: %s, %s", who, date);
    else if (who)
        rpt_fitf(rep->title, sizeof rep->title, "Foam rolling: %s", who);
    else
        rpt_fitf(rep->title, sizeof rep->title, "Foam-rolling report: %s",
                 r->source[0] ? rm_report_basename(r->source) : "recording");
    rpt_fitf(rep->subtitle, sizeof rep->subtitle,
             "subject %s  |  body mass %s  |  %s  |  profile %s  |  %s",
             r->subject_id[0] ? r->subject_id : "not given", mass[0] ? mass : "not given",
             date[0] ? date : "date unknown", r->profile[0] ? r->profile : "-",
             r->source[0] ? rm_report_basename(r->source) : "-");
    int excluded = r->totals.hot_sensels + r->totals.dead_sensels;
    double expect = r->rate_hz > 0 ? r->totals.duration_s * r->rate_hz : 0;
    if (r->frames_lost > 0 || r->disconnects > 0 || excluded > 0) {
        char lost[96] = "";
        if (r->frames_lost > 0 && expect > 0)
            snprintf(lost, sizeof lost, "%lld frames lost (%.1f %%)", (long long)r->frames_lost,
                     100.0 * (double)r->frames_lost / (expect + (double)r->frames_lost));
        else if (r->frames_lost > 0)
            snprintf(lost, sizeof lost, "%lld frames lost", (long long)r->frames_lost);
        rpt_fitf(rep->quality, sizeof rep->quality,
                 "Data quality: %s%s%d unplug%s, %d sensel%s excluded", lost, lost[0] ? ", " : "",
                 r->disconnects, r->disconnects == 1 ? "" : "s", excluded,
                 excluded == 1 ? "" : "s");
    } else if (r->frames_lost == 0) {
        rpt_fitf(rep->quality, sizeof rep->quality,
                 "Data quality: no frames lost, no sensels excluded");
    } else {
        rep->quality[0] = 0; /* unknown (an import): nothing to claim */
    }
}

double rpt_daily_s(const rm_results *r, double *ball_s)
{
    /* a ball set is neither rolling nor holding in the totals: its time on
     * the spots is time on the muscles all the same */
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

int rpt_summary(rm_report *rep)
{
    const rm_results *r = rep->results;
    who_and_when(rep);
    rep->lights = calloc(r->n_segments ? r->n_segments * RM_TARGET_COUNT : 1, sizeof *rep->lights);
    if (!rep->lights)
        return -1;
    rm_profile none;
    memset(&none, 0, sizeof none);
    const rm_profile *P = rep->has_profile ? &rep->profile : &none;
    rep->pace_by_pass = !P->speed_cm_s.set && P->pass_s.set;
    rep->targets_met = rep->targets_judged = 0;
    for (size_t k = 0; k < r->n_segments; k++) {
        set_lights(rep, k, P);
        for (int t = 0; t < RM_TARGET_COUNT; t++) {
            rm_light l = rep->lights[k * RM_TARGET_COUNT + t].light;
            rep->targets_judged += l != RM_LIGHT_NONE;
            rep->targets_met += l == RM_LIGHT_GREEN;
        }
    }
    double ball = 0;
    double on = rpt_daily_s(r, &ball);
    judge(&rep->daily, &P->daily_s, r->totals.roller_found || ball > 0 ? round(on) : NAN);
    snprintf(rep->daily.text, sizeof rep->daily.text, "%.1f min", on / 60.0);
    rep->targets_judged += rep->daily.light != RM_LIGHT_NONE;
    rep->targets_met += rep->daily.light == RM_LIGHT_GREEN;
    return make_actions(rep);
}

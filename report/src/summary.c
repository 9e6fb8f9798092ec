/* summary.c - what page 1 says: who and when, a traffic light per set and
 * target against the profile, the session verdict, and the two or three
 * actions that would close the largest shortfalls, in numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpt_internal.h"

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
    return rm_judge_daily_s(r, ball_s);
}

int rpt_summary(rm_report *rep)
{
    who_and_when(rep);
    /* the lights, the daily total and the tally: the analysis' judgement
     * (rm_judge.h), the one batch's session table writes too */
    rm_judgement J;
    if (rm_judge_summary(rep->results, rep->has_profile ? &rep->profile : NULL, &J, NULL))
        return -1;
    rep->lights = J.lights; /* the report owns them now (rm_report_free) */
    rep->daily = J.daily;
    rep->pace_by_pass = J.pace_by_pass;
    rep->targets_met = J.targets_met;
    rep->targets_judged = J.targets_judged;
    return make_actions(rep);
}

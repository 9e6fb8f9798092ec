/* ball.c - the massage ball: recognised frame by frame among the contacts,
 * its sets (segments with tool "ball") and their spots, merged with the
 * roller's sets when the analysis finishes. Definitions: docs/metrics.md,
 * "Massage ball". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_internal.h"

/* Contacts looked at per frame: more than a body ever puts down. */
#define BALL_MAX_COMP 32

typedef struct ball_comp {
    int root, count;
    double sp, spx, spy, spxx, spyy, peak;
    int rmin, rmax, cmin, cmax;
} ball_comp;

/* A ball set found online: frames [first, last], its pressure maps. */
typedef struct ball_set {
    size_t first, last;
    float *sum_kpa, *peak_kpa;
    uint32_t *contact;
    size_t frames;
} ball_set;

struct ball_state {
    rm_fvec x, y, f; /* per frame: ball centre (cm) and force (N), NaN if none */
    ball_set cur;
    int in_set;
    double start_t, last_t;
    size_t last_i;
    ball_set *sets;
    size_t n_sets, cap_sets;
    const float *t; /* at finish: the results' time series (moved out of the analysis) */
};

static int set_alloc(ball_set *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->sum_kpa = calloc(n, sizeof *s->sum_kpa);
    s->peak_kpa = calloc(n, sizeof *s->peak_kpa);
    s->contact = calloc(n, sizeof *s->contact);
    return (s->sum_kpa && s->peak_kpa && s->contact) ? 0 : -1;
}

static void set_free(ball_set *s)
{
    free(s->sum_kpa);
    free(s->peak_kpa);
    free(s->contact);
    memset(s, 0, sizeof *s);
}

int ball_new(rm_analysis *a)
{
    a->ball = calloc(1, sizeof *a->ball);
    return a->ball ? 0 : -1;
}

void ball_free(rm_analysis *a)
{
    ball_state *b = a->ball;
    if (!b)
        return;
    free(b->x.v);
    free(b->y.v);
    free(b->f.v);
    set_free(&b->cur);
    for (size_t i = 0; i < b->n_sets; i++)
        set_free(&b->sets[i]);
    free(b->sets);
    free(b);
    a->ball = NULL;
}

/* The ball among the frame's contacts: compact (pressure-weighted spread
 * at most ball_max_sigma_cm along and across), round (spreads within
 * ball_max_aspect of each other) and firm (peak at least ball_min_kpa);
 * the one carrying the most force if several are. Hands, feet and
 * forearms spread their load over more than twice that width, and a
 * roller is a line across the mat. Returns 1 and fills x, y, force. */
static int find_ball(const rm_analysis *a, double *bx, double *by, double *bf)
{
    const rm_analysis_config *cfg = &a->cfg;
    const int32_t *loaded = a->loaded, *lab = a->lab;
    const uint16_t *rowof = a->rowof, *colof = a->colof;
    const float *p = a->p;
    const int PW = a->cols + 2;
    ball_comp comp[BALL_MAX_COMP];
    int nc = 0;
    for (int k = 0; k < a->nloaded; k++) {
        int i = loaded[k];
        int root = lab[i + 2 * rowof[i] + PW + 1];
        int j = 0;
        while (j < nc && comp[j].root != root)
            j++;
        if (j == nc) {
            if (nc == BALL_MAX_COMP)
                continue;
            memset(&comp[nc], 0, sizeof comp[nc]);
            comp[nc].root = root;
            comp[nc].rmin = comp[nc].rmax = rowof[i];
            comp[nc].cmin = comp[nc].cmax = colof[i];
            nc++;
        }
        ball_comp *c = &comp[j];
        double v = p[i], r = rowof[i], q = colof[i];
        c->count++;
        c->sp += v;
        c->spx += v * r;
        c->spy += v * q;
        c->spxx += v * r * r;
        c->spyy += v * q * q;
        if (v > c->peak)
            c->peak = v;
        c->rmin = rowof[i] < c->rmin ? rowof[i] : c->rmin;
        c->rmax = rowof[i] > c->rmax ? rowof[i] : c->rmax;
        c->cmin = colof[i] < c->cmin ? colof[i] : c->cmin;
        c->cmax = colof[i] > c->cmax ? colof[i] : c->cmax;
    }
    int best = -1;
    for (int j = 0; j < nc; j++) {
        const ball_comp *c = &comp[j];
        if (c->count < cfg->min_contact_sensels || !(c->sp > 0) || c->peak < cfg->ball_min_kpa)
            continue;
        double mx = c->spx / c->sp, my = c->spy / c->sp;
        double vx = c->spxx / c->sp - mx * mx, vy = c->spyy / c->sp - my * my;
        double sx = sqrt(vx > 1.0 / 12 ? vx : 1.0 / 12) * a->rp_cm;
        double sy = sqrt(vy > 1.0 / 12 ? vy : 1.0 / 12) * a->cp_cm;
        if (sx > cfg->ball_max_sigma_cm || sy > cfg->ball_max_sigma_cm ||
            sx / sy > cfg->ball_max_aspect || sy / sx > cfg->ball_max_aspect)
            continue;
        if (best < 0 || c->sp > comp[best].sp)
            best = j;
    }
    if (best < 0)
        return 0;
    const ball_comp *c = &comp[best];
    *bx = (c->spx / c->sp + 0.5) * a->rp_cm;
    *by = (c->spy / c->sp + 0.5) * a->cp_cm;
    *bf = c->sp * a->sensel_cm2 * RM_N_CM2_PER_KPA;
    return 1;
}

/* Ends the open ball set: kept if long enough (min_segment_s). */
static int close_ball_set(rm_analysis *a)
{
    ball_state *b = a->ball;
    b->in_set = 0;
    if (b->last_t - b->start_t < a->cfg.min_segment_s) {
        set_free(&b->cur);
        return 0;
    }
    if (b->n_sets == b->cap_sets) {
        size_t nc = b->cap_sets ? 2 * b->cap_sets : 4;
        ball_set *nv = realloc(b->sets, nc * sizeof *nv);
        if (!nv)
            return -1;
        b->sets = nv;
        b->cap_sets = nc;
    }
    b->cur.last = b->last_i;
    b->sets[b->n_sets++] = b->cur;
    memset(&b->cur, 0, sizeof b->cur);
    return 0;
}

int ball_push(rm_analysis *a, int roller_present, double time_s)
{
    ball_state *b = a->ball;
    double x = NAN, y = NAN, f = NAN;
    int found = !roller_present && a->nloaded > 0 && find_ball(a, &x, &y, &f);
    if (!a->cfg.live_only && (rm_fvec_push(&b->x, (float)x) || rm_fvec_push(&b->y, (float)y) ||
                              rm_fvec_push(&b->f, (float)f)))
        return -1;
    if (a->cfg.live_only)
        return 0;
    if (b->in_set && (roller_present || (!found && time_s - b->last_t >= a->cfg.segment_gap_s)))
        if (close_ball_set(a))
            return -1;
    if (found && !b->in_set) {
        if (set_alloc(&b->cur, (size_t)a->n))
            return -1;
        b->in_set = 1;
        b->start_t = time_s;
        b->cur.first = a->nf;
    }
    if (!b->in_set)
        return 0;
    if (found) {
        b->last_t = time_s;
        b->last_i = a->nf;
    }
    ball_set *s = &b->cur;
    for (int k = 0; k < a->nloaded; k++) {
        int i = a->loaded[k];
        float v = a->p[i];
        s->sum_kpa[i] += v;
        if (v > s->peak_kpa[i])
            s->peak_kpa[i] = v;
        s->contact[i]++;
    }
    s->frames++;
    return 0;
}

/* ---- finishing: spots, ball segments, the merge with the roller's ---- */

/* The spots of frames [first, last]: runs of ball frames (gaps up to
 * fill_gap_s bridged) lasting spot_min_s, cut where the ball's smoothed
 * position moves more than spot_move_cm from the run's start. */
static int find_spots(const rm_analysis *a, size_t first, size_t last, int32_t seg, rm_spot **spots,
                      size_t *n, size_t *cap)
{
    const ball_state *b = a->ball;
    const float *t = a->ball->t, *bx = b->x.v, *by = b->y.v, *bf = b->f.v;
    size_t i = first;
    while (i <= last) {
        while (i <= last && isnan(bf[i]))
            i++;
        if (i > last)
            break;
        size_t s = i, e = i;
        double ax = bx[i], ay = by[i]; /* slow average of the position */
        for (size_t j = i + 1; j <= last; j++) {
            if (isnan(bf[j])) {
                if (t[j] - t[e] > a->cfg.fill_gap_s)
                    break;
                continue;
            }
            if (hypot(bx[j] - ax, by[j] - ay) > a->cfg.spot_move_cm)
                break;
            double al = 1.0 / (a->rate_hz * 2.0 + 1.0);
            ax += al * (bx[j] - ax);
            ay += al * (by[j] - ay);
            e = j;
        }
        i = e + 1;
        if (t[e] - t[s] < a->cfg.spot_min_s)
            continue;
        double sf = 0, sff = 0, sx = 0, sy = 0;
        size_t cnt = 0;
        for (size_t j = s; j <= e; j++)
            if (!isnan(bf[j])) {
                sf += bf[j];
                sff += (double)bf[j] * bf[j];
                sx += bx[j];
                sy += by[j];
                cnt++;
            }
        double mf = sf / cnt, mx = sx / cnt, my = sy / cnt;
        double var = sff / cnt - mf * mf, rr = 0;
        for (size_t j = s; j <= e; j++)
            if (!isnan(bf[j]))
                rr += (bx[j] - mx) * (bx[j] - mx) + (by[j] - my) * (by[j] - my);
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 8;
            rm_spot *nv = realloc(*spots, nc * sizeof *nv);
            if (!nv)
                return -1;
            *spots = nv;
            *cap = nc;
        }
        rm_spot *sp = &(*spots)[(*n)++];
        sp->start_s = t[s];
        sp->end_s = t[e] + 1.0 / a->rate_hz;
        sp->x_cm = (float)mx;
        sp->y_cm = (float)my;
        sp->mean_force_n = (float)mf;
        sp->force_cv = mf > 0 ? (float)(sqrt(var > 0 ? var : 0) / mf) : NAN;
        sp->circle_cm = (float)sqrt(rr / cnt);
        sp->segment = seg;
    }
    return 0;
}

/* The operator label in force over the largest share of [s, e] (events
 * relative to the first frame); NULL if none covers any of it. */
static const char *covering_label(const rm_analysis *a, double s, double e)
{
    const char *best = NULL;
    double best_cov = 0;
    for (size_t i = 0; i < a->n_lab; i++) {
        double from = a->lab_ev[i].time_s - a->t0;
        double to = i + 1 < a->n_lab ? a->lab_ev[i + 1].time_s - a->t0 : 1e300;
        double cov = fmin(to, e) - fmax(from, s);
        if (cov > best_cov) {
            best_cov = cov;
            best = a->lab_ev[i].text;
        }
    }
    return best;
}

/* Was this label the analysis' own "set N" (no operator label)? */
static int default_label(const char *s)
{
    if (strncmp(s, "set ", 4) || !s[4])
        return 0;
    for (s += 4; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* One ball segment's row: span, label, spots summary, maps. */
static void ball_segment(const rm_analysis *a, const ball_set *bs, const rm_spot *spots, size_t nsp,
                         int32_t k, rm_segment_result *sg)
{
    const float *t = a->ball->t, *bf = a->ball->f.v;
    memset(sg, 0, sizeof *sg);
    snprintf(sg->tool, sizeof sg->tool, "ball");
    sg->start_s = t[bs->first];
    sg->end_s = t[bs->last];
    const char *lb = covering_label(a, sg->start_s, sg->end_s);
    snprintf(sg->label, sizeof sg->label, "%s", lb ? lb : "");
    snprintf(sg->label_source, sizeof sg->label_source, "%s", lb ? "operator" : "none");
    double sf = 0, dur = 0, cv = 0;
    size_t cnt = 0;
    for (size_t j = bs->first; j <= bs->last; j++)
        if (!isnan(bf[j])) {
            sf += bf[j];
            cnt++;
        }
    for (size_t i = 0; i < nsp; i++)
        if (spots[i].segment == k) {
            sg->spots++;
            dur += spots[i].end_s - spots[i].start_s;
            cv += spots[i].force_cv;
        }
    sg->mean_spot_s = sg->spots ? (float)(dur / sg->spots) : NAN;
    sg->spot_force_cv = sg->spots ? (float)(cv / sg->spots) : NAN;
    sg->holding_s = (float)dur;
    sg->mean_force_n = cnt ? (float)(sf / cnt) : NAN;
    sg->body_weight_share = a->cfg.body_mass_kg > 0 && cnt
                                ? (float)(sf / cnt / (a->cfg.body_mass_kg * RM_GRAVITY))
                                : NAN;
    sg->cadence_cpm = sg->stroke_cadence_cpm = sg->mean_speed_cm_s = sg->mean_pass_s = NAN;
    sg->mean_roller_kpa = sg->roller_area_cm2 = sg->peak_roller_kpa = sg->load_share = NAN;
    sg->steadiness = sg->coverage = sg->range_cm = NAN;
    sg->posture_confidence = NAN;
}

typedef struct merged {
    double start;
    int ball; /* 1: ball set index idx, 0: roller segment idx */
    size_t idx;
} merged;

static int cmp_merged(const void *x, const void *y)
{
    const merged *a = x, *b = y;
    return (a->start > b->start) - (a->start < b->start);
}

/* The list --labels, re-applied in time order over every set (the roller
 * sets alone were counted before the ball sets joined them). */
static void relabel_list(const rm_analysis *a, rm_results *r)
{
    const char *s = a->cfg.labels;
    for (size_t k = 0; k < r->n_segments && s && *s; k++) {
        size_t len = strcspn(s, ",");
        rm_segment_result *sg = &r->segments[k];
        if (len) {
            snprintf(sg->label, sizeof sg->label, "%.*s", (int)len, s);
            snprintf(sg->label_source, sizeof sg->label_source, "operator");
        } else {
            snprintf(sg->label, sizeof sg->label, "set %zu", k + 1);
            snprintf(sg->label_source, sizeof sg->label_source, "none");
        }
        s = s[len] ? s + len + 1 : NULL;
    }
    for (size_t k = 0; k < r->n_segments; k++)
        if (!r->segments[k].label[0] || default_label(r->segments[k].label)) {
            snprintf(r->segments[k].label, sizeof r->segments[k].label, "set %zu", k + 1);
            snprintf(r->segments[k].label_source, sizeof r->segments[k].label_source, "none");
        }
}

/* Ball sets join the roller's segments in time order: segment indices of
 * strokes and holds follow, the per-segment maps are rebuilt. */
static rm_status merge_sets(rm_analysis *a, rm_results *r, rm_spot *spots, size_t nsp, rm_err *err)
{
    ball_state *b = a->ball;
    const size_t N = (size_t)a->n;
    /* no roller set: the "whole recording" stand-in gives way to the ball sets */
    size_t n0 = a->n_spans ? r->n_segments : 0, nt = n0 + b->n_sets;
    merged *m = calloc(nt, sizeof *m);
    rm_segment_result *segs = calloc(nt, sizeof *segs);
    float *mk = calloc(nt * N, sizeof *mk), *pk = calloc(nt * N, sizeof *pk);
    float *cs = calloc(nt * N, sizeof *cs);
    int32_t *newidx = calloc(n0 + 1, sizeof *newidx);
    if (!m || !segs || !mk || !pk || !cs || !newidx) {
        free(m);
        free(segs);
        free(mk);
        free(pk);
        free(cs);
        free(newidx);
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory merging ball sets");
    }
    for (size_t k = 0; k < n0; k++)
        m[k] = (merged){r->segments[k].start_s, 0, k};
    for (size_t k = 0; k < b->n_sets; k++)
        m[n0 + k] = (merged){a->ball->t[b->sets[k].first], 1, k};
    qsort(m, nt, sizeof *m, cmp_merged);
    const double dt = 1.0 / a->rate_hz;
    for (size_t k = 0; k < nt; k++) {
        if (!m[k].ball) {
            segs[k] = r->segments[m[k].idx];
            newidx[m[k].idx] = (int32_t)k;
            memcpy(mk + k * N, r->seg_mean_kpa + m[k].idx * N, N * sizeof *mk);
            memcpy(pk + k * N, r->seg_peak_kpa + m[k].idx * N, N * sizeof *pk);
            memcpy(cs + k * N, r->seg_contact_s + m[k].idx * N, N * sizeof *cs);
            continue;
        }
        const ball_set *bs = &b->sets[m[k].idx];
        for (size_t i = 0; i < nsp; i++)
            if (spots[i].segment == -1 - (int32_t)m[k].idx)
                spots[i].segment = (int32_t)k;
        ball_segment(a, bs, spots, nsp, (int32_t)k, &segs[k]);
        for (size_t i = 0; i < N; i++) {
            mk[k * N + i] = bs->frames ? bs->sum_kpa[i] / (float)bs->frames : 0;
            pk[k * N + i] = bs->peak_kpa[i];
            cs[k * N + i] = (float)(bs->contact[i] * dt);
        }
    }
    for (size_t k = 0; k < nt; k++) {
        segs[k].index = (int32_t)k;
        if (!m[k].ball) {
            snprintf(segs[k].tool, sizeof segs[k].tool, "roller");
            snprintf(segs[k].label_source, sizeof segs[k].label_source, "%s",
                     default_label(segs[k].label) ? "none" : "operator");
            segs[k].mean_spot_s = segs[k].spot_force_cv = NAN;
            segs[k].spot_verdict = RM_VERDICT_NA;
        }
    }
    for (size_t i = 0; i < r->n_strokes; i++)
        if (r->strokes[i].segment >= 0 && (size_t)r->strokes[i].segment < n0)
            r->strokes[i].segment = newidx[r->strokes[i].segment];
    for (size_t i = 0; i < r->n_holds; i++)
        if (r->holds[i].segment >= 0 && (size_t)r->holds[i].segment < n0)
            r->holds[i].segment = newidx[r->holds[i].segment];
    free(r->segments);
    free(r->seg_mean_kpa);
    free(r->seg_peak_kpa);
    free(r->seg_contact_s);
    r->segments = segs;
    r->seg_mean_kpa = mk;
    r->seg_peak_kpa = pk;
    r->seg_contact_s = cs;
    r->n_segments = nt;
    r->totals.segments = (int32_t)nt;
    free(m);
    free(newidx);
    return RM_OK;
}

rm_status ball_finish(rm_analysis *a, rm_results *r, rm_err *err)
{
    ball_state *b = a->ball;
    b->t = r->series[RM_SERIES_TIME];
    if (b->in_set && close_ball_set(a))
        return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory");
    rm_spot *spots = NULL;
    size_t nsp = 0, cap = 0;
    /* spots name their ball set as -1 - set until the merge numbers it */
    for (size_t k = 0; k < b->n_sets; k++)
        if (find_spots(a, b->sets[k].first, b->sets[k].last, -1 - (int32_t)k, &spots, &nsp, &cap)) {
            free(spots);
            return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory");
        }
    rm_status st = RM_OK;
    if (b->n_sets)
        st = merge_sets(a, r, spots, nsp, err);
    else
        for (size_t k = 0; k < r->n_segments; k++) {
            rm_segment_result *sg = &r->segments[k];
            snprintf(sg->tool, sizeof sg->tool, "roller");
            snprintf(sg->label_source, sizeof sg->label_source, "%s",
                     default_label(sg->label) || !strcmp(sg->label, "whole recording")
                         ? "none"
                         : "operator");
            sg->mean_spot_s = sg->spot_force_cv = sg->posture_confidence = NAN;
            sg->spot_verdict = RM_VERDICT_NA;
        }
    if (st != RM_OK) {
        free(spots);
        return st;
    }
    if (b->n_sets && a->cfg.labels && a->cfg.labels[0])
        relabel_list(a, r);
    else if (b->n_sets)
        for (size_t k = 0; k < r->n_segments; k++)
            if (!r->segments[k].label[0] || default_label(r->segments[k].label))
                snprintf(r->segments[k].label, sizeof r->segments[k].label, "set %zu", k + 1);
    r->spots = spots;
    r->n_spots = nsp;
    return RM_OK;
}

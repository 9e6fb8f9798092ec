/* pacing.c - what the analysis does once the frames are in: zero-phase
 * filtering of roller x, speed, states, holds, strokes, sets (segments),
 * Welch spectra (FFTW), coverage, and the results object.
 * Definitions: docs/metrics.md. */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_internal.h"

/* FFTW's planner is not thread-safe; batch may run analyses in threads.
 * The only mutable global in this library, for that reason. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

/* 2nd-order Butterworth low-pass by the bilinear transform. */
static void butter2(double fc, double fs, double b[3], double a[3])
{
    double k = tan(M_PI * fc / fs);
    double norm = 1.0 / (1.0 + M_SQRT2 * k + k * k);
    b[0] = k * k * norm;
    b[1] = 2.0 * b[0];
    b[2] = b[0];
    a[0] = 1.0;
    a[1] = 2.0 * (k * k - 1.0) * norm;
    a[2] = (1.0 - M_SQRT2 * k + k * k) * norm;
}

/* One pass of the biquad (transposed direct form II), starting in the
 * steady state of its first input so a constant passes untouched. */
static void biquad_pass(double *y, size_t n, const double b[3], const double a[3], int reverse)
{
    if (n == 0)
        return;
    double u = reverse ? y[n - 1] : y[0];
    double z1 = (1.0 - b[0]) * u, z2 = (b[2] - a[2]) * u;
    for (size_t k = 0; k < n; k++) {
        size_t i = reverse ? n - 1 - k : k;
        double x = y[i];
        double out = b[0] * x + z1;
        z1 = b[1] * x - a[1] * out + z2;
        z2 = b[2] * x - a[2] * out;
        y[i] = out;
    }
}

/* Zero-phase low-pass of x[0..n) into y, with odd reflection at both ends
 * (pad samples) so the ends do not droop. ext has room for n + 2*pad. */
static void filtfilt(const double *x, size_t n, double *y, double *ext, size_t pad,
                     const double b[3], const double a[3])
{
    if (n < 2) {
        if (n == 1)
            y[0] = x[0];
        return;
    }
    if (pad > n - 1)
        pad = n - 1;
    for (size_t i = 0; i < n; i++)
        ext[pad + i] = x[i];
    for (size_t k = 1; k <= pad; k++) {
        ext[pad - k] = 2.0 * x[0] - x[k];
        ext[pad + n - 1 + k] = 2.0 * x[n - 1] - x[n - 1 - k];
    }
    size_t m = n + 2 * pad;
    biquad_pass(ext, m, b, a, 0);
    biquad_pass(ext, m, b, a, 1);
    memcpy(y, ext + pad, n * sizeof *y);
}

/* Welch power spectral density with one reusable FFTW plan. */
typedef struct welch {
    size_t nfft, nbin, maxlen;
    double fs;
    double *in;
    fftw_complex *out;
    fftw_plan plan;
    double *win;
} welch;

static int welch_init(welch *w, double fs, size_t maxlen)
{
    memset(w, 0, sizeof *w);
    size_t nfft = 256;
    while (nfft < 4 * maxlen)
        nfft *= 2;
    w->nfft = nfft;
    w->nbin = nfft / 2 + 1;
    w->fs = fs;
    w->maxlen = maxlen;
    w->in = fftw_malloc(nfft * sizeof *w->in);
    w->out = fftw_malloc(w->nbin * sizeof *w->out);
    w->win = malloc(maxlen * sizeof *w->win);
    if (!w->in || !w->out || !w->win)
        return -1;
    pthread_mutex_lock(&planner_lock);
    w->plan = fftw_plan_dft_r2c_1d((int)nfft, w->in, w->out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    return w->plan ? 0 : -1;
}

static void welch_free(welch *w)
{
    if (w->plan) {
        pthread_mutex_lock(&planner_lock);
        fftw_destroy_plan(w->plan);
        pthread_mutex_unlock(&planner_lock);
    }
    fftw_free(w->in);
    fftw_free(w->out);
    free(w->win);
}

/* Adds the Welch windows of y[0..m) (Hann, length min(m, maxlen), half
 * overlap, mean removed per window) into acc[nbin] as one-sided PSD
 * (units^2/Hz); returns the number of windows added. */
static int welch_add(welch *w, const double *y, size_t m, double *acc)
{
    if (m < 16)
        return 0;
    size_t L = m < w->maxlen ? m : w->maxlen;
    double wss = 0;
    for (size_t i = 0; i < L; i++) {
        w->win[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)L);
        wss += w->win[i] * w->win[i];
    }
    size_t step = L / 2 ? L / 2 : 1;
    int count = 0;
    for (size_t s = 0; s + L <= m; s += step) {
        double mean = 0;
        for (size_t i = 0; i < L; i++)
            mean += y[s + i];
        mean /= (double)L;
        for (size_t i = 0; i < L; i++)
            w->in[i] = (y[s + i] - mean) * w->win[i];
        memset(w->in + L, 0, (w->nfft - L) * sizeof *w->in);
        fftw_execute(w->plan);
        double scale = 1.0 / (w->fs * wss);
        for (size_t k = 0; k < w->nbin; k++) {
            double re = w->out[k][0], im = w->out[k][1];
            double pk = (re * re + im * im) * scale;
            if (k > 0 && k < w->nbin - 1)
                pk *= 2.0;
            acc[k] += pk;
        }
        count++;
        if (L == m)
            break;
    }
    return count;
}

/* Frequency of the largest PSD bin in [flo, fhi], refined by a parabola
 * through the log power of it and its neighbours. NaN if none. */
static double psd_peak(const double *psd, size_t nbin, double df, double flo, double fhi)
{
    size_t k0 = (size_t)ceil(flo / df), k1 = (size_t)floor(fhi / df);
    if (k0 < 1)
        k0 = 1;
    if (k1 > nbin - 2)
        k1 = nbin - 2;
    size_t best = 0;
    double bv = 0;
    for (size_t k = k0; k <= k1; k++)
        if (psd[k] > bv) {
            bv = psd[k];
            best = k;
        }
    if (!best || !(bv > 0))
        return NAN;
    double l = log(psd[best - 1] > 0 ? psd[best - 1] : 1e-300);
    double c = log(psd[best]);
    double r = log(psd[best + 1] > 0 ? psd[best + 1] : 1e-300);
    double den = l - 2 * c + r;
    double off = den < 0 ? 0.5 * (l - r) / den : 0;
    if (off > 0.5)
        off = 0.5;
    if (off < -0.5)
        off = -0.5;
    return ((double)best + off) * df;
}

/* How long frame i stands for: up to the next frame, unless that is a gap
 * longer than fill_gap_s (then one nominal frame). Lost frames thus still
 * count as time rolling or holding. */
static double frame_dur(const float *t, size_t i, size_t nf, double dt, double max_gap)
{
    if (i + 1 < nf) {
        double d = (double)t[i + 1] - (double)t[i];
        if (d > 0 && d <= max_gap)
            return d;
    }
    return dt;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct dyn {
    void *v;
    size_t n, cap, size;
} dyn;

static void *dyn_push(dyn *d)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 32;
        void *nv = realloc(d->v, nc * d->size);
        if (!nv)
            return NULL;
        d->v = nv;
        d->cap = nc;
    }
    void *p = (char *)d->v + d->n * d->size;
    memset(p, 0, d->size);
    d->n++;
    return p;
}

/* The name given by --labels for set k (k-th comma-separated name), or
 * NULL if the list has none for it. */
static const char *label_from_list(const char *list, size_t k, char *buf, size_t cap)
{
    const char *s = list;
    for (size_t i = 0; i < k && s; i++) {
        s = strchr(s, ',');
        if (s)
            s++;
    }
    if (!s || !*s || *s == ',')
        return NULL;
    size_t len = strcspn(s, ",");
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return buf;
}

/* Label events sorted by time; equal times keep the order they were given
 * in (the later one is then in force, the earlier for no time at all). */
static int cmp_label_ev(const void *x, const void *y)
{
    const rm_label_ev *const *a = x, *const *b = y;
    if ((*a)->time_s != (*b)->time_s)
        return (*a)->time_s < (*b)->time_s ? -1 : 1;
    return (*a < *b) ? -1 : (*a > *b);
}
/* Everything rm_analysis_pacing works on, so its stages can be separate
 * functions without a dozen parameters each. Arrays are nf long (at least
 * one element), owned here until they move into the results. */
typedef struct pacing {
    rm_analysis *a;
    const rm_analysis_config *cfg;
    rm_results *r;
    size_t nf, N, alloc_n, pad;
    const float *t, *x, *fr;
    double fs, dt, maxgap;
    double b[3], fa[3]; /* the low-pass */
    double *xf;         /* roller x, short gaps bridged */
    double *xs, *vv;    /* filtered x, speed */
    double *ext, *buf;  /* scratch */
    uint8_t *state;
    dyn strokes, holds;
    size_t nseg;
    int whole; /* one segment: the whole recording */
    welch w;
    double df;
    double *pos_acc, *frc_acc, *seg_acc;
    int pos_windows, frc_windows;
} pacing;

/* The results' description of the mat and the run, before any metric. */
static void pacing_header(pacing *P, const rm_profile *profile)
{
    const rm_analysis *a = P->a;
    rm_results *r = P->r;
    r->rows = (uint16_t)a->rows;
    r->cols = (uint16_t)a->cols;
    r->row_pitch_cm = a->rp_cm;
    r->col_pitch_cm = a->cp_cm;
    r->rate_hz = a->rate_hz / (double)a->stride; /* of the series */
    r->body_mass_kg = P->cfg->body_mass_kg;
    snprintf(r->profile, sizeof r->profile, "%s", profile ? profile->name : "guide");
    snprintf(r->software, sizeof r->software, "%s", RM_SOFTWARE);
}

/* All the per-frame work arrays at once, so no later stage can fail on them. */
static int pacing_alloc(pacing *P)
{
    size_t n = P->alloc_n;
    P->xf = malloc(n * sizeof *P->xf);
    P->xs = malloc(n * sizeof *P->xs);
    P->vv = calloc(n, sizeof *P->vv);
    P->ext = malloc((n + 2 * P->pad) * sizeof *P->ext);
    P->buf = malloc(n * sizeof *P->buf);
    P->state = calloc(n, 1);
    return (P->xf && P->xs && P->vv && P->ext && P->buf && P->state) ? 0 : -1;
}

/* Bridge short roller gaps (a frame or two lost in noise) linearly, so a
 * run of roller frames is not cut into pieces the filter sees apart. */
static void bridge_gaps(pacing *P)
{
    const size_t nf = P->nf;
    const float *t = P->t;
    double *xf = P->xf;
    for (size_t i = 0; i < nf; i++)
        xf[i] = isnan(P->x[i]) ? NAN : P->x[i];
    size_t i = 0;
    while (i < nf) {
        if (!isnan(xf[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < nf && isnan(xf[j]))
            j++;
        if (i > 0 && j < nf && t[j] - t[i - 1] <= P->cfg->fill_gap_s + 1e-6) {
            for (size_t k = i; k < j; k++) {
                double u = (t[k] - t[i - 1]) / (t[j] - t[i - 1]);
                xf[k] = xf[i - 1] + u * (xf[j] - xf[i - 1]);
            }
        }
        i = j;
    }
}

/* Zero-phase filtered x and its central-difference speed over one run of
 * roller frames [s, e); every frame of the run starts as rolling. */
static void run_filter(pacing *P, size_t s, size_t e)
{
    const float *t = P->t;
    double *xs = P->xs, *vv = P->vv;
    filtfilt(P->xf + s, e - s, xs + s, P->ext, P->pad, P->b, P->fa);
    for (size_t i = s; i < e; i++) {
        size_t i0 = i > s ? i - 1 : i, i1 = i + 1 < e ? i + 1 : i;
        double span = (double)t[i1] - (double)t[i0];
        vv[i] = (i1 > i0 && span > 0) ? (xs[i1] - xs[i0]) / span : 0.0;
        P->state[i] = RM_STATE_ROLLING;
    }
}

/* Records the hold [i, j) (already widened to its edges) and marks its frames. */
static int add_hold(pacing *P, size_t i, size_t j)
{
    rm_hold *h = dyn_push(&P->holds);
    if (!h)
        return -1;
    const float *fr = P->fr;
    double sx = 0, sf = 0;
    size_t nfv = 0;
    for (size_t k = i; k < j; k++) {
        P->state[k] = RM_STATE_HOLDING;
        sx += P->xs[k];
        if (!isnan(fr[k])) {
            sf += fr[k];
            nfv++;
        }
    }
    h->start_s = P->t[i];
    h->end_s = P->t[j - 1];
    h->x_cm = (float)(sx / (double)(j - i));
    h->mean_force_n = nfv ? (float)(sf / (double)nfv) : NAN;
    h->segment = -1;
    return 0;
}

/* Holds of one run [s, e): the speed stays below the rolling speed for
 * hold_min_s or longer. */
static int run_holds(pacing *P, size_t s, size_t e)
{
    const rm_analysis_config *cfg = P->cfg;
    const float *t = P->t;
    const double *vv = P->vv, *xf = P->xf;
    for (size_t i = s; i < e;) {
        if (fabs(vv[i]) >= cfg->rolling_speed_cm_s) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < e && fabs(vv[j]) < cfg->rolling_speed_cm_s)
            j++;
        if ((double)t[j - 1] - (double)t[i] >= cfg->hold_min_s - P->dt - 1e-6) {
            /* The filtered speed crosses the threshold a little inside
             * the stay; its edges are where the unfiltered x leaves the
             * spot by more than hold_edge_cm. */
            size_t q0 = i + (j - i) / 4, q1 = j - (j - i) / 4;
            double hx = 0;
            for (size_t k = q0; k < q1; k++)
                hx += xf[k];
            hx /= (double)(q1 - q0);
            while (i > s && P->state[i - 1] != RM_STATE_HOLDING &&
                   fabs(xf[i - 1] - hx) <= cfg->hold_edge_cm)
                i--;
            while (j < e && fabs(xf[j] - hx) <= cfg->hold_edge_cm)
                j++;
            if (add_hold(P, i, j))
                return -1;
        }
        i = j;
    }
    return 0;
}

/* Turning points of the moving piece [ps, pe), found with hysteresis
 * min_excursion_cm: writes ps, the turning points, pe-1 to bd; returns
 * how many. */
static size_t turning_points(const pacing *P, size_t ps, size_t pe, size_t *bd)
{
    const double *xs = P->xs;
    const double exc = P->cfg->min_excursion_cm;
    size_t nb = 0;
    bd[nb++] = ps;
    int dir = 0;
    size_t ext_i = ps;
    for (size_t i = ps + 1; i < pe; i++) {
        if (dir == 0) {
            if (xs[i] - xs[ps] >= exc) {
                dir = 1;
                ext_i = i;
            } else if (xs[ps] - xs[i] >= exc) {
                dir = -1;
                ext_i = i;
            }
        } else if (dir > 0) {
            if (xs[i] > xs[ext_i])
                ext_i = i;
            else if (xs[ext_i] - xs[i] >= exc) {
                bd[nb++] = ext_i;
                dir = -1;
                ext_i = i;
            }
        } else {
            if (xs[i] < xs[ext_i])
                ext_i = i;
            else if (xs[i] - xs[ext_i] >= exc) {
                bd[nb++] = ext_i;
                dir = 1;
                ext_i = i;
            }
        }
    }
    if (bd[nb - 1] != pe - 1)
        bd[nb++] = pe - 1;
    return nb;
}

/* Records the stroke [a0, a1] of length len. */
static int add_stroke(pacing *P, size_t a0, size_t a1, double len)
{
    rm_stroke *sk = dyn_push(&P->strokes);
    if (!sk)
        return -1;
    const double *vv = P->vv;
    const float *fr = P->fr, *t = P->t;
    double pk = 0, sf = 0;
    size_t nfv = 0;
    for (size_t i = a0; i <= a1; i++) {
        if (fabs(vv[i]) > pk)
            pk = fabs(vv[i]);
        if (!isnan(fr[i])) {
            sf += fr[i];
            nfv++;
        }
    }
    sk->start_s = t[a0];
    sk->end_s = t[a1];
    sk->from_x_cm = (float)P->xs[a0];
    sk->to_x_cm = (float)P->xs[a1];
    sk->length_cm = (float)len;
    double dur = (double)t[a1] - (double)t[a0];
    sk->mean_speed_cm_s = dur > 0 ? (float)(len / dur) : NAN;
    sk->peak_speed_cm_s = (float)pk;
    sk->mean_force_n = nfv ? (float)(sf / (double)nfv) : NAN;
    sk->segment = -1;
    return 0;
}

/* Strokes of one moving piece [ps, pe) between holds: cut at its turning
 * points, piece ends trimmed to where the roller actually moves. */
static int piece_strokes(pacing *P, size_t ps, size_t pe)
{
    const double *vv = P->vv;
    const double vmin = P->cfg->rolling_speed_cm_s;
    size_t *bd = (size_t *)(void *)P->buf; /* buf has nf doubles: room enough */
    size_t nb = turning_points(P, ps, pe, bd);
    for (size_t k = 0; k + 1 < nb; k++) {
        size_t a0 = bd[k], a1 = bd[k + 1];
        if (k == 0)
            while (a0 < a1 && fabs(vv[a0]) < vmin)
                a0++;
        if (k + 2 == nb)
            while (a1 > a0 && fabs(vv[a1]) < vmin)
                a1--;
        if (a1 <= a0)
            continue;
        double len = fabs(P->xs[a1] - P->xs[a0]);
        if (len < P->cfg->min_excursion_cm)
            continue;
        if (add_stroke(P, a0, a1, len))
            return -1;
    }
    return 0;
}

/* Strokes of one run [s, e): its moving pieces between holds. */
static int run_strokes(pacing *P, size_t s, size_t e)
{
    for (size_t ps = s; ps < e;) {
        if (P->state[ps] == RM_STATE_HOLDING) {
            ps++;
            continue;
        }
        size_t pe = ps;
        while (pe < e && P->state[pe] != RM_STATE_HOLDING)
            pe++;
        if (piece_strokes(P, ps, pe))
            return -1;
        ps = pe;
    }
    return 0;
}

/* Runs of roller frames, each on its own (the filter must not smear across
 * a missing roller): filter, speed, states, holds, strokes. */
static int roller_runs(pacing *P)
{
    const size_t nf = P->nf;
    for (size_t s = 0; s < nf;) {
        if (isnan(P->xf[s])) {
            P->xs[s] = NAN;
            P->vv[s] = NAN;
            s++;
            continue;
        }
        size_t e = s;
        while (e < nf && !isnan(P->xf[e]))
            e++;
        run_filter(P, s, e);
        if (run_holds(P, s, e) || run_strokes(P, s, e))
            return -1;
        s = e;
    }
    return 0;
}

/* Segments: the online sets, or the whole recording when no roller was
 * ever seen (an import: distribution metrics still apply). */
static int choose_segments(pacing *P)
{
    rm_results *r = P->r;
    P->nseg = P->a->n_spans;
    P->whole = 0;
    if (P->nseg == 0 && P->nf > 0) {
        /* No set: the roller was never recognised, or only in moments too
         * short for a set. Strokes and holds of such moments are no
         * pacing to speak of. */
        P->nseg = 1;
        P->whole = 1;
        P->strokes.n = 0;
        P->holds.n = 0;
        for (size_t i = 0; i < P->nf; i++) {
            P->state[i] = RM_STATE_UNLOADED;
            P->vv[i] = NAN;
        }
    }
    r->n_segments = P->nseg;
    if (!P->nseg)
        return 0;
    r->segments = calloc(P->nseg, sizeof *r->segments);
    r->seg_mean_kpa = calloc(P->nseg * P->N, sizeof(float));
    r->seg_peak_kpa = calloc(P->nseg * P->N, sizeof(float));
    r->seg_contact_s = calloc(P->nseg * P->N, sizeof(float));
    return (r->segments && r->seg_mean_kpa && r->seg_peak_kpa && r->seg_contact_s) ? 0 : -1;
}

/* Working time of every set under every operator label: w[j * nseg + k]
 * is how long label j (in time order, ev[j]) was in force while set k was
 * worked (rolling or holding; every frame of a set that has neither). A
 * label is in force from its time until the next label. wk[k] is set k's
 * working time. */
static void label_coverage(pacing *P, rm_label_ev *const *ev, size_t nl, double *w, double *wk)
{
    const rm_analysis *a = P->a;
    const float *t = P->t;
    size_t j = 0; /* ev[j - 1] is in force; j == 0: none yet */
    for (size_t k = 0; k < P->nseg; k++) {
        size_t first = a->spans[k].first, last = a->spans[k].last;
        int any = 0;
        for (size_t i = first; i <= last; i++)
            if (P->state[i] != RM_STATE_UNLOADED) {
                any = 1;
                break;
            }
        wk[k] = 0;
        for (size_t i = first; i <= last; i++) {
            if (any && P->state[i] == RM_STATE_UNLOADED)
                continue;
            double ti = (double)t[i];
            while (j < nl && ev[j]->time_s - a->t0 <= ti)
                j++;
            double d = frame_dur(t, i, P->nf, P->dt, P->maxgap);
            wk[k] += d;
            if (j > 0)
                w[(j - 1) * P->nseg + k] += d;
        }
    }
}

/* Each set's label. From --labels: by position. From operator events: a
 * label belongs to the set it covers most (the largest share of a set's
 * working time), and a set takes, of the labels that belong to it, the
 * one covering most of it. A label that has covered at least half of a
 * set is spent: it covers no later set, so a set whose label was left out
 * is not given the previous set's (it keeps "set N"). Given early (in the
 * gap), late (seconds into the set) or in the previous set's last
 * seconds, a label thus lands on the set it was meant for. */
static int assign_labels(pacing *P)
{
    const rm_analysis *a = P->a;
    rm_results *r = P->r;
    const size_t ns = P->nseg, nl = a->n_lab;
    char buf[RM_RESULTS_LABEL_LEN];
    for (size_t k = 0; k < ns; k++) {
        const char *l = NULL;
        if (P->whole)
            l = a->n_lab ? a->lab_ev[a->n_lab - 1].text : "whole recording";
        else if (a->cfg.labels && a->cfg.labels[0])
            l = label_from_list(a->cfg.labels, k, buf, sizeof buf);
        if (l)
            snprintf(r->segments[k].label, sizeof r->segments[k].label, "%s", l);
        else
            snprintf(r->segments[k].label, sizeof r->segments[k].label, "set %zu", k + 1);
    }
    if (P->whole || (a->cfg.labels && a->cfg.labels[0]) || !nl || !ns)
        return 0;
    rm_label_ev **ev = malloc(nl * sizeof *ev);
    double *w = calloc(nl * ns, sizeof *w), *wk = calloc(ns, sizeof *wk);
    int *home = malloc(nl * sizeof *home);
    if (!ev || !w || !wk || !home) {
        free(ev);
        free(w);
        free(wk);
        free(home);
        return -1;
    }
    for (size_t j = 0; j < nl; j++)
        ev[j] = &a->lab_ev[j];
    qsort(ev, nl, sizeof *ev, cmp_label_ev);
    label_coverage(P, ev, nl, w, wk);
    for (size_t j = 0; j < nl; j++) {
        double *sj = w + j * ns;
        int spent = 0;
        home[j] = -1;
        for (size_t k = 0; k < ns; k++) {
            sj[k] = (spent || !(wk[k] > 0)) ? 0 : sj[k] / wk[k];
            if (sj[k] >= 0.5)
                spent = 1;
            if (sj[k] > 0 && (home[j] < 0 || sj[k] > sj[home[j]]))
                home[j] = (int)k;
        }
    }
    for (size_t k = 0; k < ns; k++) {
        long best = -1;
        for (size_t j = 0; j < nl; j++)
            if (home[j] == (int)k && (best < 0 || w[j * ns + k] >= w[(size_t)best * ns + k]))
                best = (long)j;
        if (best >= 0)
            snprintf(r->segments[k].label, sizeof r->segments[k].label, "%s", ev[best]->text);
    }
    free(ev);
    free(w);
    free(wk);
    free(home);
    return 0;
}

/* One Welch plan and its accumulators for every segment's spectra. */
static int spectra_init(pacing *P)
{
    size_t maxlen = (size_t)ceil(P->cfg->welch_window_s * P->fs);
    if (maxlen < 16)
        maxlen = 16;
    if (welch_init(&P->w, P->fs, maxlen))
        return -1;
    P->pos_acc = calloc(P->w.nbin, sizeof *P->pos_acc);
    P->frc_acc = calloc(P->w.nbin, sizeof *P->frc_acc);
    P->seg_acc = calloc(P->w.nbin, sizeof *P->seg_acc);
    P->df = P->fs / (double)P->w.nfft;
    return (P->pos_acc && P->frc_acc && P->seg_acc) ? 0 : -1;
}

/* A segment's pressure maps: from its online set, or the session's. */
static void seg_maps(pacing *P, size_t k)
{
    const rm_analysis *a = P->a;
    rm_results *r = P->r;
    const size_t N = P->N, nf = P->nf;
    const double dt = P->dt;
    if (P->whole) {
        for (size_t i = 0; i < N; i++) {
            r->seg_mean_kpa[k * N + i] = nf ? (float)(a->all_sum[i] / (double)nf) : 0;
            r->seg_peak_kpa[k * N + i] = a->all_peak[i];
            r->seg_contact_s[k * N + i] = (float)(a->all_contact[i] * dt);
        }
        return;
    }
    const rm_seg_span *sp = &a->spans[k];
    for (size_t i = 0; i < N; i++) {
        r->seg_mean_kpa[k * N + i] = sp->frames ? sp->sum_kpa[i] / (float)sp->frames : 0;
        r->seg_peak_kpa[k * N + i] = sp->peak_kpa[i];
        r->seg_contact_s[k * N + i] = (float)(sp->contact[i] * dt);
    }
}

/* A segment's time shares, speed and roller force over frames [first, last]. */
static void seg_shares(pacing *P, rm_segment_result *sg, size_t first, size_t last)
{
    const rm_analysis *a = P->a;
    const float *t = P->t, *fr = P->fr;
    size_t nroll = 0, nhold = 0, nload = 0;
    double droll = 0, dhold = 0;
    double sv = 0, sfr = 0, skpa = 0, sarea = 0, sftot = 0, pk = 0;
    size_t nkpa = 0;
    for (size_t i = first; i <= last; i++) {
        if (P->state[i] == RM_STATE_ROLLING) {
            nroll++;
            droll += frame_dur(t, i, P->nf, P->dt, P->maxgap);
            sv += fabs(P->vv[i]);
        } else if (P->state[i] == RM_STATE_HOLDING) {
            nhold++;
            dhold += frame_dur(t, i, P->nf, P->dt, P->maxgap);
        }
        if (isnan(fr[i]))
            continue;
        nload++;
        sfr += fr[i];
        float ar = a->ser[RM_SERIES_ROLLER_AREA_CM2].v[i];
        float pkv = a->ser[RM_SERIES_ROLLER_PEAK_KPA].v[i];
        sarea += ar;
        if (ar > 0) {
            skpa += 10.0 * fr[i] / ar;
            nkpa++;
        }
        if (pkv > pk)
            pk = pkv;
        sftot += a->ser[RM_SERIES_FORCE_N].v[i];
    }
    sg->rolling_s = (float)droll;
    sg->holding_s = (float)dhold;
    sg->mean_speed_cm_s = nroll ? (float)(sv / (double)nroll) : NAN;
    sg->mean_force_n = nload ? (float)(sfr / (double)nload) : NAN;
    sg->roller_area_cm2 = nload ? (float)(sarea / (double)nload) : NAN;
    sg->mean_roller_kpa = nkpa ? (float)(skpa / (double)nkpa) : NAN;
    sg->peak_roller_kpa = nload ? (float)pk : NAN;
    sg->load_share = sftot > 0 ? (float)(sfr / sftot) : NAN;
    sg->body_weight_share = (nload && P->cfg->body_mass_kg > 0)
                                ? (float)(sg->mean_force_n / (P->cfg->body_mass_kg * RM_GRAVITY))
                                : NAN;
}

/* Coverage of the stroke range: entropy of the sorted rolling x (m values
 * in buf) over coverage_bin_cm bins between its 5th and 95th percentiles,
 * as a share of the most even spread. */
static void seg_coverage(pacing *P, rm_segment_result *sg, size_t m)
{
    double *buf = P->buf;
    sg->coverage = NAN;
    sg->range_cm = NAN;
    if (m < 10)
        return;
    qsort(buf, m, sizeof *buf, cmp_double);
    double lo = buf[(size_t)(0.05 * (double)(m - 1))];
    double hi = buf[(size_t)(0.95 * (double)(m - 1))];
    sg->range_cm = (float)(hi - lo);
    size_t nb = (size_t)ceil((hi - lo) / P->cfg->coverage_bin_cm);
    if (nb < 2)
        return;
    double *hist = P->seg_acc; /* reuse: nbin >= 129 */
    if (nb > P->w.nbin)
        nb = P->w.nbin;
    memset(hist, 0, nb * sizeof *hist);
    size_t tot = 0;
    for (size_t i = 0; i < m; i++) {
        if (buf[i] < lo || buf[i] > hi)
            continue;
        size_t bi = (size_t)((buf[i] - lo) / (hi - lo) * (double)nb);
        if (bi >= nb)
            bi = nb - 1;
        hist[bi] += 1;
        tot++;
    }
    double h = 0;
    for (size_t q = 0; q < nb; q++)
        if (hist[q] > 0) {
            double pq = hist[q] / (double)tot;
            h -= pq * log(pq);
        }
    sg->coverage = (float)(h / log((double)nb));
}

/* Cadence: Welch PSD of filtered x over the rolling frames (holds removed:
 * x does not move during them, so the pieces join); then coverage of the
 * same x. Adds the segment's windows to the session's position spectrum. */
static void seg_cadence(pacing *P, rm_segment_result *sg, size_t first, size_t last)
{
    size_t m = 0;
    for (size_t i = first; i <= last; i++)
        if (P->state[i] == RM_STATE_ROLLING)
            P->buf[m++] = P->xs[i];
    memset(P->seg_acc, 0, P->w.nbin * sizeof *P->seg_acc);
    int nwin = welch_add(&P->w, P->buf, m, P->seg_acc);
    sg->cadence_cpm = NAN;
    if (nwin > 0) {
        for (size_t q = 0; q < P->w.nbin; q++)
            P->pos_acc[q] += P->seg_acc[q];
        P->pos_windows += nwin;
        double f0 =
            psd_peak(P->seg_acc, P->w.nbin, P->df, RM_CADENCE_BAND_LO_HZ, RM_CADENCE_BAND_HI_HZ);
        sg->cadence_cpm = (float)(f0 * 60.0);
    }
    seg_coverage(P, sg, m);
}

/* Steadiness: the shaking band's share of roller force power. Adds the
 * segment's windows to the session's force spectrum. */
static void seg_steadiness(pacing *P, rm_segment_result *sg, size_t first, size_t last)
{
    const rm_analysis_config *cfg = P->cfg;
    size_t m = 0;
    for (size_t i = first; i <= last; i++)
        if (!isnan(P->fr[i]))
            P->buf[m++] = P->fr[i];
    double *acc = P->seg_acc;
    memset(acc, 0, P->w.nbin * sizeof *acc);
    int nwin = welch_add(&P->w, P->buf, m, acc);
    sg->steadiness = NAN;
    if (nwin <= 0)
        return;
    double tot = 0, band = 0;
    for (size_t q = 1; q < P->w.nbin; q++) {
        double f = (double)q * P->df;
        tot += acc[q];
        if (f >= cfg->shake_lo_hz && f <= cfg->shake_hi_hz)
            band += acc[q];
        P->frc_acc[q] += acc[q];
    }
    P->frc_acc[0] += acc[0];
    P->frc_windows += nwin;
    if (tot > 0)
        sg->steadiness = (float)(1.0 - band / tot);
}

/* Every segment's span, label, maps and metrics. */
static void segment_metrics(pacing *P)
{
    const rm_analysis *a = P->a;
    for (size_t k = 0; k < P->nseg; k++) {
        rm_segment_result *sg = &P->r->segments[k];
        size_t first = P->whole ? 0 : a->spans[k].first;
        size_t last = P->whole ? P->nf - 1 : a->spans[k].last;
        sg->index = (int32_t)k;
        sg->start_s = P->t[first];
        sg->end_s = P->t[last];
        seg_maps(P, k);
        seg_shares(P, sg, first, last);
        seg_cadence(P, sg, first, last);
        seg_steadiness(P, sg, first, last);
    }
    if (P->whole) {
        /* no set: no roller values to report for it */
        rm_segment_result *sg = &P->r->segments[0];
        sg->mean_force_n = sg->roller_area_cm2 = sg->mean_roller_kpa = NAN;
        sg->peak_roller_kpa = sg->load_share = sg->body_weight_share = NAN;
        sg->steadiness = sg->coverage = sg->range_cm = sg->cadence_cpm = NAN;
        sg->mean_speed_cm_s = NAN;
    }
}

/* Strokes and holds belong to the segment holding their middle; then each
 * segment's pass duration and stroke cadence. */
static void assign_strokes_holds(pacing *P)
{
    rm_results *r = P->r;
    const size_t ns = P->strokes.n;
    for (size_t i = 0; i < ns + P->holds.n; i++) {
        double mid;
        int32_t *segp;
        if (i < ns) {
            rm_stroke *sk = (rm_stroke *)P->strokes.v + i;
            mid = 0.5 * (sk->start_s + sk->end_s);
            segp = &sk->segment;
        } else {
            rm_hold *h = (rm_hold *)P->holds.v + (i - ns);
            mid = 0.5 * (h->start_s + h->end_s);
            segp = &h->segment;
        }
        for (size_t k = 0; k < P->nseg; k++) {
            if (mid < r->segments[k].start_s || mid > r->segments[k].end_s)
                continue;
            *segp = (int32_t)k;
            if (i < ns)
                r->segments[k].strokes++;
            else
                r->segments[k].holds++;
            break;
        }
    }
    for (size_t k = 0; k < P->nseg; k++) {
        rm_segment_result *sg = &r->segments[k];
        double sum = 0;
        int cnt = 0;
        for (size_t i = 0; i < ns; i++) {
            rm_stroke *sk = (rm_stroke *)P->strokes.v + i;
            if (sk->segment == (int32_t)k) {
                sum += sk->end_s - sk->start_s;
                cnt++;
            }
        }
        sg->mean_pass_s = cnt ? (float)(sum / cnt) : NAN;
        sg->stroke_cadence_cpm =
            sg->rolling_s > 0 && cnt ? (float)(cnt / 2.0 / sg->rolling_s * 60.0) : NAN;
    }
}

/* The session's spectra (mean of every segment's windows) and maps. */
static int session_spectra_maps(pacing *P)
{
    const rm_analysis *a = P->a;
    rm_results *r = P->r;
    const size_t nbin = P->w.nbin, N = P->N, nf = P->nf;
    r->n_freq = nbin;
    r->freq_hz = malloc(nbin * sizeof(float));
    r->position_psd = malloc(nbin * sizeof(float));
    r->force_psd = malloc(nbin * sizeof(float));
    if (!r->freq_hz || !r->position_psd || !r->force_psd)
        return -1;
    for (size_t q = 0; q < nbin; q++) {
        r->freq_hz[q] = (float)((double)q * P->df);
        r->position_psd[q] = P->pos_windows ? (float)(P->pos_acc[q] / P->pos_windows) : 0.0f;
        r->force_psd[q] = P->frc_windows ? (float)(P->frc_acc[q] / P->frc_windows) : 0.0f;
    }
    r->map_mean_kpa = malloc(N * sizeof(float));
    r->map_peak_kpa = malloc(N * sizeof(float));
    r->map_contact_s = malloc(N * sizeof(float));
    if (!r->map_mean_kpa || !r->map_peak_kpa || !r->map_contact_s)
        return -1;
    for (size_t i = 0; i < N; i++) {
        r->map_mean_kpa[i] = nf ? (float)(a->all_sum[i] / (double)nf) : 0.0f;
        r->map_peak_kpa[i] = a->all_peak[i];
        r->map_contact_s[i] = (float)(a->all_contact[i] * P->dt);
    }
    return 0;
}

/* The session's totals over every frame. */
static void session_totals(pacing *P)
{
    const rm_analysis *a = P->a;
    const size_t nf = P->nf;
    const float *t = P->t, *fr = P->fr;
    rm_session_totals *T = &P->r->totals;
    T->duration_s = nf ? (double)t[nf - 1] - (double)t[0] + P->dt : 0;
    size_t nroll = 0, nload = 0;
    double sv = 0, sfr = 0, pk = 0, droll = 0, dhold = 0, dload = 0;
    for (size_t i = 0; i < nf; i++) {
        double d = frame_dur(t, i, nf, P->dt, P->maxgap);
        if (P->state[i] == RM_STATE_ROLLING) {
            nroll++;
            droll += d;
            sv += fabs(P->vv[i]);
        } else if (P->state[i] == RM_STATE_HOLDING)
            dhold += d;
        if (!isnan(fr[i])) {
            nload++;
            dload += d;
            sfr += fr[i];
        }
    }
    /* the peak of real sensels only: a hot sensel reads full scale from the
     * first frame, before it is found out (hot_after_s) */
    for (size_t i = 0; i < P->N; i++)
        if (!a->hot[i] && a->all_peak[i] > pk)
            pk = a->all_peak[i];
    T->rolling_s = droll;
    T->holding_s = dhold;
    T->loaded_s = dload;
    T->strokes = (int32_t)P->strokes.n;
    T->holds = (int32_t)P->holds.n;
    T->segments = (int32_t)P->nseg;
    T->mean_speed_cm_s = nroll ? (float)(sv / (double)nroll) : NAN;
    T->cadence_cpm = P->pos_windows
                         ? (float)(60.0 * psd_peak(P->pos_acc, P->w.nbin, P->df,
                                                   RM_CADENCE_BAND_LO_HZ, RM_CADENCE_BAND_HI_HZ))
                         : NAN;
    T->mean_force_n = nload ? (float)(sfr / (double)nload) : NAN;
    T->peak_kpa = (float)pk;
    T->roller_found = a->n_spans > 0;
    T->hot_sensels = a->n_hot;
    T->dead_sensels = a->n_dead;
    T->frames_lost = a->frames_lost;
    T->gaps = a->gaps;
    T->disconnects = a->disconnects;
}

/* The series, states, strokes and holds move into the results (no copy). */
static int move_series(pacing *P)
{
    rm_analysis *a = P->a;
    rm_results *r = P->r;
    r->n_frames = P->nf;
    for (int s = 0; s < RM_SERIES_COUNT; s++) {
        if (s == RM_SERIES_SPEED_CM_S)
            continue;
        r->series[s] = a->ser[s].v;
        a->ser[s].v = NULL;
        a->ser[s].n = a->ser[s].cap = 0;
        if (!r->series[s] && !(r->series[s] = malloc(sizeof(float))))
            return -1;
    }
    r->series[RM_SERIES_SPEED_CM_S] = malloc(P->alloc_n * sizeof(float));
    if (!r->series[RM_SERIES_SPEED_CM_S])
        return -1;
    for (size_t i = 0; i < P->nf; i++)
        r->series[RM_SERIES_SPEED_CM_S][i] = (float)P->vv[i];
    r->state = P->state;
    P->state = NULL;
    r->strokes = P->strokes.v;
    r->n_strokes = P->strokes.n;
    P->strokes.v = NULL;
    r->holds = P->holds.v;
    r->n_holds = P->holds.n;
    P->holds.v = NULL;
    return 0;
}

static void pacing_free(pacing *P)
{
    welch_free(&P->w);
    free(P->xf);
    free(P->xs);
    free(P->vv);
    free(P->ext);
    free(P->buf);
    free(P->state);
    free(P->pos_acc);
    free(P->frc_acc);
    free(P->seg_acc);
    free(P->strokes.v);
    free(P->holds.v);
}

rm_status rm_analysis_pacing(rm_analysis *a, const rm_profile *profile, rm_results *r, rm_err *err)
{
    pacing P;
    memset(&P, 0, sizeof P);
    P.a = a;
    P.cfg = &a->cfg;
    P.r = r;
    P.nf = a->ser[RM_SERIES_TIME].n; /* frames kept (a long recording: 1 in stride) */
    P.N = (size_t)a->n;
    P.alloc_n = P.nf ? P.nf : 1;
    P.strokes.size = sizeof(rm_stroke);
    P.holds.size = sizeof(rm_hold);
    P.t = a->ser[RM_SERIES_TIME].v;
    P.x = a->ser[RM_SERIES_ROLLER_X_CM].v;
    P.fr = a->ser[RM_SERIES_ROLLER_FORCE_N].v;
    P.fs = a->rate_hz / (double)a->stride;
    P.dt = 1.0 / P.fs;
    P.pad = (size_t)ceil(P.fs / P.cfg->lowpass_hz);
    P.maxgap = P.cfg->fill_gap_s > 1.5 * P.dt ? P.cfg->fill_gap_s : 1.5 * P.dt;
    double fc = P.cfg->lowpass_hz < 0.45 * P.fs ? P.cfg->lowpass_hz : 0.45 * P.fs;
    butter2(fc, P.fs, P.b, P.fa);

    pacing_header(&P, profile);
    if (pacing_alloc(&P))
        goto nomem;
    bridge_gaps(&P);
    if (roller_runs(&P) || choose_segments(&P) || assign_labels(&P) || spectra_init(&P))
        goto nomem;
    segment_metrics(&P);
    assign_strokes_holds(&P);
    if (session_spectra_maps(&P))
        goto nomem;
    session_totals(&P);
    if (move_series(&P))
        goto nomem;
    rm_score_results(r, profile);
    pacing_free(&P);
    return RM_OK;
nomem:
    pacing_free(&P);
    return rm_err_set(err, RM_ERR_NOMEM, "analysis: out of memory finishing %zu frames", P.nf);
}

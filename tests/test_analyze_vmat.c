/* test_analyze_vmat.c - accuracy of the analysis against the virtual mat's
 * ground truth, on every shipped scenario (docs/metrics.md, "Accuracy").
 * Each scenario runs at full length: the thresholds are those of the
 * accuracy table, nothing is tuned per scenario except the set gap, which
 * follows the time scale. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_vmat.h"
#include "test_util.h"

typedef struct acc {
    double x_rms_cm, y_rms_cm;
    double force_rel_rms;
    double missed_share; /* loaded truth frames with no roller found */
    int strokes_truth, strokes_found;
    int holds_truth, holds_found;
    double hold_err_max_s;
    int segs_truth, segs_found;
    double seg_err_max_s;
    int labels_ok;
    double cadence_err_max; /* relative, plain-pass segments only */
    double stroke_cadence_err_max;
    int cadence_segments;
    int hot, dead;
} acc;

static void run(const char *scenario, double ts, int drop_permille, acc *o)
{
    memset(o, 0, sizeof *o);
    rm_vmat_config vc;
    memset(&vc, 0, sizeof vc);
    vc.scenario = scenario;
    vc.seed = 7;
    vc.time_scale = ts;
    rm_vmat *vm = NULL;
    rm_err e = {0};
    rm_status st = rm_vmat_new(&vc, &vm, &e);
    cr_assert_eq(st, RM_OK, "vmat %s: %s", scenario, e.msg);

    char *dir = rm_test_tmpdir("analyze_vmat");
    char *truth_path = rm_test_path(dir, "truth.json");
    cr_assert_eq(rm_vmat_write_truth(vm, truth_path, &e), RM_OK, "%s", e.msg);
    json_error_t je;
    json_t *truth = json_load_file(truth_path, 0, &je);
    cr_assert_not_null(truth, "truth json: %s", je.text);
    json_t *jstrokes = json_object_get(truth, "strokes");
    json_t *jholds = json_object_get(truth, "holds");
    json_t *jsegs = json_object_get(truth, "segments");
    cr_assert(json_is_array(jstrokes) && json_is_array(jholds) && json_is_array(jsegs));

    rm_device dev;
    rm_vmat_device(vm, &dev);
    rm_header hdr;
    rm_vmat_header(vm, &hdr);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.segment_gap_s *= ts;
    cfg.body_mass_kg = hdr.body_mass_kg;
    rm_analysis *a = NULL;
    st = rm_analysis_new(&cfg, &dev, rm_vmat_calib(vm), NULL, &a, &e);
    cr_assert_eq(st, RM_OK, "%s", e.msg);

    size_t nsens = (size_t)dev.rows * dev.cols;
    uint16_t *raw = malloc(nsens * sizeof *raw);
    uint64_t total = rm_vmat_total_frames(vm);
    float *tx = malloc(total * sizeof *tx), *tf = malloc(total * sizeof *tf);
    float *ty = malloc(total * sizeof *ty);
    int *tstate = malloc(total * sizeof *tstate);
    double *tt = malloc(total * sizeof *tt);
    cr_assert(raw && tx && tf && tstate && tt);
    rm_frame_header fh;
    rm_vmat_truth tr;
    uint64_t n = 0, produced = 0;
    int prev_seg = -1;
    while (produced < total && rm_vmat_next_frame(vm, &fh, raw, &tr) == RM_OK) {
        produced++;
        /* frames lost on the link (corrupt, truncated, dropped): the
         * recording simply lacks them */
        if (drop_permille && (produced * 2654435761u) % 1000 < (uint64_t)drop_permille)
            continue;
        if (tr.segment >= 0 && tr.segment != prev_seg) {
            /* the operator names the muscle group as the set begins */
            const char *lab = json_string_value(
                json_object_get(json_array_get(jsegs, (size_t)tr.segment), "label"));
            cr_assert_eq(rm_analysis_label(a, tr.time_s, lab ? lab : "?", &e), RM_OK);
            prev_seg = tr.segment;
        }
        rm_live_metrics lm;
        cr_assert_eq(rm_analysis_push(a, tr.time_s, raw, &lm, &e), RM_OK, "%s", e.msg);
        tx[n] = (float)tr.roller_x_cm;
        ty[n] = (float)tr.roller_y_cm;
        tf[n] = (float)tr.roller_force_n;
        tstate[n] = tr.state;
        tt[n] = tr.time_s;
        n++;
    }
    cr_assert_eq(produced, total);
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(r->n_frames, n);

    /* per frame: x and force while the truth is loaded (force away from
     * the 0.3 s load ramps, where the share changes fastest) */
    double sx = 0, sf = 0, sy = 0;
    const float *ey = r->series[RM_SERIES_ROLLER_Y_CM];
    size_t nx = 0, nfr = 0, loaded = 0, missed = 0;
    const float *ex = r->series[RM_SERIES_ROLLER_X_CM], *ef = r->series[RM_SERIES_ROLLER_FORCE_N];
    for (size_t i = 0; i < n; i++) {
        if (tstate[i] == RM_VMAT_UNLOADED)
            continue;
        loaded++;
        if (isnan(ex[i])) {
            missed++;
            continue;
        }
        double d = ex[i] - tx[i];
        sx += d * d;
        sy += (ey[i] - ty[i]) * (ey[i] - ty[i]);
        nx++;
        int ramp = 0;
        for (long k = -40; k <= 40 && !ramp; k += 5) {
            long j = (long)i + k;
            if (j < 0 || j >= (long)n || tstate[j] == RM_VMAT_UNLOADED)
                ramp = 1;
        }
        if (!ramp && tf[i] > 0) {
            double rel = (ef[i] - tf[i]) / tf[i];
            sf += rel * rel;
            nfr++;
        }
    }
    const char *dump = getenv("RM_ACC_DUMP");
    if (dump) {
        char fn[512];
        snprintf(fn, sizeof fn, "%s/%s.csv", dump, scenario);
        FILE *df = fopen(fn, "w");
        if (df) {
            fprintf(df, "t,state,tx,ex,tf,ef,seg,est_state,speed\n");
            for (size_t i = 0; i < n; i++)
                fprintf(df, "%.3f,%d,%.3f,%.3f,%.2f,%.2f,%d,%d,%.3f\n", tt[i], tstate[i], tx[i],
                        ex[i], tf[i], ef[i], 0, r->state[i], r->series[RM_SERIES_SPEED_CM_S][i]);
            fclose(df);
        }
    }
    o->x_rms_cm = nx ? sqrt(sx / (double)nx) : NAN;
    o->y_rms_cm = nx ? sqrt(sy / (double)nx) : NAN;
    o->force_rel_rms = nfr ? sqrt(sf / (double)nfr) : NAN;
    o->missed_share = loaded ? (double)missed / (double)loaded : 1;

    o->hot = r->totals.hot_sensels;
    o->dead = r->totals.dead_sensels;
    o->strokes_truth = (int)json_array_size(jstrokes);
    o->strokes_found = (int)r->n_strokes;
    o->holds_truth = (int)json_array_size(jholds);
    o->holds_found = (int)r->n_holds;
    o->hold_err_max_s = 0;
    if (o->holds_truth == o->holds_found)
        for (size_t k = 0; k < r->n_holds; k++) {
            json_t *h = json_array_get(jholds, k);
            double s0 = json_real_value(json_object_get(h, "start_s"));
            double s1 = json_real_value(json_object_get(h, "end_s"));
            double d0 = fabs(r->holds[k].start_s + tt[0] - s0);
            double d1 = fabs(r->holds[k].end_s + tt[0] - s1);
            if (d0 > o->hold_err_max_s)
                o->hold_err_max_s = d0;
            if (d1 > o->hold_err_max_s)
                o->hold_err_max_s = d1;
        }
    o->segs_truth = (int)json_array_size(jsegs);
    o->segs_found = (int)r->n_segments;
    o->labels_ok = o->segs_truth == o->segs_found;
    o->seg_err_max_s = 0;
    if (o->segs_truth == o->segs_found) {
        for (size_t k = 0; k < r->n_segments; k++) {
            json_t *s = json_array_get(jsegs, k);
            const char *lab = json_string_value(json_object_get(s, "label"));
            if (!lab || strcmp(lab, r->segments[k].label))
                o->labels_ok = 0;
            double s0 = json_real_value(json_object_get(s, "start_s"));
            double s1 = json_real_value(json_object_get(s, "end_s"));
            double d0 = fabs(r->segments[k].start_s + tt[0] - s0);
            double d1 = fabs(r->segments[k].end_s + tt[0] - s1);
            if (d0 > o->seg_err_max_s)
                o->seg_err_max_s = d0;
            if (d1 > o->seg_err_max_s)
                o->seg_err_max_s = d1;
            /* truth cadence: one-way passes / 2 per rolling minute */
            int ns = 0;
            for (size_t q = 0; q < json_array_size(jstrokes); q++)
                if (json_integer_value(json_object_get(json_array_get(jstrokes, q), "segment")) ==
                    (json_int_t)k)
                    ns++;
            size_t nroll = 0;
            for (size_t i = 0; i < n; i++)
                if (tstate[i] == RM_VMAT_ROLLING && tt[i] >= s0 && tt[i] <= s1)
                    nroll++;
            double troll = (double)nroll / dev.rate_hz * (double)total / (double)n;
            double tcad = ns / 2.0 / troll * 60.0;
            double es = fabs(r->segments[k].stroke_cadence_cpm - tcad) / tcad;
            if (es > o->stroke_cadence_err_max)
                o->stroke_cadence_err_max = es;
            /* the spectrum is compared on sets of plain passes (no holds,
             * no short moves), where it measures the same thing */
            size_t holds_here = 0;
            for (size_t q = 0; q < json_array_size(jholds); q++)
                if (json_integer_value(json_object_get(json_array_get(jholds, q), "segment")) ==
                    (json_int_t)k)
                    holds_here++;
            if (holds_here == 0) {
                double ec = fabs(r->segments[k].cadence_cpm - tcad) / tcad;
                if (!(ec <= o->cadence_err_max))
                    o->cadence_err_max = isnan(ec) ? INFINITY : ec;
                o->cadence_segments++;
            }
        }
    }
    fprintf(
        stderr,
        "ACCURACY %-9s x_rms=%.3f cm y_rms=%.3f cm force_rms=%.2f %% missed=%.2f %% strokes=%d/%d "
        "holds=%d/%d hold_err=%.2f s segments=%d/%d seg_err=%.2f s labels=%s "
        "cadence_err=%.2f %% (%d sets) stroke_cadence_err=%.2f %% hot=%d dead=%d\n",
        scenario, o->x_rms_cm, o->y_rms_cm, 100 * o->force_rel_rms, 100 * o->missed_share,
        o->strokes_found, o->strokes_truth, o->holds_found, o->holds_truth, o->hold_err_max_s,
        o->segs_found, o->segs_truth, o->seg_err_max_s, o->labels_ok ? "ok" : "WRONG",
        100 * o->cadence_err_max, o->cadence_segments, 100 * o->stroke_cadence_err_max, o->hot,
        o->dead);

    rm_results_free(r);
    rm_analysis_free(a);
    rm_vmat_free(vm);
    json_decref(truth);
    free(raw);
    free(tx);
    free(ty);
    free(tf);
    free(tstate);
    free(tt);
    rm_test_rmtree(dir);
    free(truth_path);
    free(dir);
}

static void check(const acc *o)
{
    cr_expect_leq(o->x_rms_cm, 0.3, "roller x RMS %.3f cm > 0.3", o->x_rms_cm);
    cr_expect_leq(o->y_rms_cm, 0.3, "roller y (balance) RMS %.3f cm > 0.3", o->y_rms_cm);
    cr_expect_leq(o->force_rel_rms, 0.03, "roller force RMS %.2f %% > 3", 100 * o->force_rel_rms);
    cr_expect_leq(o->missed_share, 0.01, "roller missed in %.2f %% of loaded frames",
                  100 * o->missed_share);
    cr_expect_eq(o->strokes_found, o->strokes_truth, "strokes %d, truth %d", o->strokes_found,
                 o->strokes_truth);
    cr_expect_eq(o->holds_found, o->holds_truth, "holds %d, truth %d", o->holds_found,
                 o->holds_truth);
    cr_expect_leq(o->hold_err_max_s, 1.0, "hold start/end off by %.2f s", o->hold_err_max_s);
    cr_expect_eq(o->segs_found, o->segs_truth, "segments %d, truth %d", o->segs_found,
                 o->segs_truth);
    cr_expect(o->labels_ok, "segment labels differ from the truth");
    cr_expect_leq(o->seg_err_max_s, 1.0, "segment bounds off by %.2f s", o->seg_err_max_s);
    cr_expect_leq(o->cadence_err_max, 0.05, "cadence off by %.2f %%", 100 * o->cadence_err_max);
    cr_expect_leq(o->stroke_cadence_err_max, 0.05, "stroke cadence off by %.2f %%",
                  100 * o->stroke_cadence_err_max);
}

Test(analyze_vmat, guide, .timeout = 600)
{
    acc o;
    run("guide", 1.0, 0, &o);
    check(&o);
    cr_expect_eq(o.hot + o.dead, 0, "a healthy mat has no faulty sensels (%d hot, %d dead)", o.hot,
                 o.dead);
}

Test(analyze_vmat, rushed, .timeout = 600)
{
    acc o;
    run("rushed", 1.0, 0, &o);
    check(&o);
    cr_expect_eq(o.hot + o.dead, 0, "a healthy mat has no faulty sensels (%d hot, %d dead)", o.hot,
                 o.dead);
    cr_expect_gt(o.cadence_segments, 0);
}

Test(analyze_vmat, behm2020, .timeout = 600)
{
    acc o;
    run("behm2020", 1.0, 0, &o);
    check(&o);
    cr_expect_eq(o.hot + o.dead, 0, "a healthy mat has no faulty sensels (%d hot, %d dead)", o.hot,
                 o.dead);
    cr_expect_gt(o.cadence_segments, 0);
}

Test(analyze_vmat, faulty, .timeout = 600)
{
    acc o;
    run("faulty", 1.0, 20, &o);
    check(&o);
    /* two hot sensels; of the two dead ones, one lies where the roller
     * passes (the other is beyond every rolled range) */
    cr_expect_eq(o.hot, 2, "hot sensels %d", o.hot);
    cr_expect_geq(o.dead, 1, "dead sensels %d", o.dead);
}

/* A noisy sensor (20 counts of noise instead of 3): the loaded threshold
 * follows the noise the analysis estimates from the frames. */
Test(analyze_vmat, noisy_sensor, .timeout = 600)
{
    json_error_t je;
    json_t *sc = json_load_file(RM_SOURCE_DIR "/scenarios/rushed.json", 0, &je);
    cr_assert_not_null(sc, "%s", je.text);
    json_t *sensor = json_object();
    json_object_set_new(sensor, "noise_counts", json_real(20));
    json_object_set_new(sc, "sensor", sensor);
    char *dir = rm_test_tmpdir("analyze_noisy");
    char *path = rm_test_path(dir, "noisy.json");
    cr_assert_eq(json_dump_file(sc, path, 0), 0);
    json_decref(sc);
    acc o;
    run(path, 1.0, 0, &o);
    check(&o);
    rm_test_rmtree(dir);
    free(path);
    free(dir);
}

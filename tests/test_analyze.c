/* test_analyze.c - the analysis on frames built by hand: frame metrics,
 * contacts and the roller, hot/dead sensels, masks, options, profiles and
 * scores. (Accuracy against the virtual mat: test_analyze_vmat.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "analysis_internal.h" /* white-box: live_only keeps no series */
#include "test_util.h"

#define R        40
#define C        30
#define PITCH_MM 10.0 /* 1 cm sensels: 1 kPa on one sensel = 0.1 N */

static rm_device mat(double rate)
{
    rm_device d;
    memset(&d, 0, sizeof d);
    d.rows = R;
    d.cols = C;
    d.row_pitch_mm = PITCH_MM;
    d.col_pitch_mm = PITCH_MM;
    d.rate_hz = rate;
    d.adc_bits = 12;
    return d;
}

/* A roller strip across cols [c0, c1] centred at x (cm) with a triangular
 * profile over +-w cm, peak `kpa` (identity calibration: counts = kPa). */
static void strip(uint16_t *raw, double x, double w, int c0, int c1, double kpa)
{
    for (int r = 0; r < R; r++) {
        double xc = r + 0.5;
        double f = 1.0 - fabs(xc - x) / w;
        if (f <= 0)
            continue;
        for (int c = c0; c <= c1; c++) {
            int v = raw[r * C + c] + (int)lround(kpa * f);
            raw[r * C + c] = (uint16_t)(v > 65535 ? 65535 : v);
        }
    }
}

static void blob(uint16_t *raw, int r0, int c0, int h, int w, uint16_t kpa)
{
    for (int r = r0; r < r0 + h && r < R; r++)
        for (int c = c0; c < c0 + w && c < C; c++)
            raw[r * C + c] = (uint16_t)(raw[r * C + c] + kpa);
}

Test(analyze, frame_metrics_exact)
{
    rm_device d = mat(100);
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    uint16_t raw[R * C];
    memset(raw, 0, sizeof raw);
    raw[5 * C + 7] = 100; /* 100 kPa on 1 cm2 = 10 N, at x 5.5, y 7.5 */
    raw[5 * C + 8] = 100;
    raw[6 * C + 7] = 200; /* 20 N at x 6.5, y 7.5 */
    rm_live_metrics m;
    cr_assert_eq(rm_analysis_push(a, 0.0, raw, &m, &e), RM_OK, "%s", e.msg);
    cr_expect_float_eq(m.force_n, 40.0f, 1e-4);
    cr_expect_float_eq(m.area_cm2, 3.0f, 1e-5);
    cr_expect_float_eq(m.peak_kpa, 200.0f, 1e-4);
    cr_expect_float_eq(m.cop_x_cm, (10 * 5.5 + 10 * 5.5 + 20 * 6.5) / 40.0, 1e-4);
    cr_expect_float_eq(m.cop_y_cm, (10 * 7.5 + 10 * 8.5 + 20 * 7.5) / 40.0, 1e-4);
    cr_expect_eq(m.roller, 0, "three sensels are no roller");
    cr_expect_eq(m.contacts, 1);
    rm_analysis_free(a);
}

/* Roller in motion among hands, a foot touching it, a hot and a dead
 * sensel; x must follow the strip's own centre. */
Test(analyze, roller_among_contacts)
{
    rm_device d = mat(50);
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    uint16_t raw[R * C];
    double worst = 0;
    int found = 0, frames = 0;
    for (int k = 0; k < 50 * 20; k++) {
        double t = k / 50.0;
        /* 10 -> 30 cm and back at 4 cm/s */
        double ph = fmod(t * 4.0, 40.0);
        double x = 10.0 + (ph < 20 ? ph : 40 - ph);
        memset(raw, 0, sizeof raw);
        strip(raw, x, 2.0, 3, 26, 40);
        blob(raw, 1, 2, 4, 4, 30);           /* hand */
        blob(raw, 1, 24, 4, 4, 30);          /* hand */
        blob(raw, (int)x + 2, 12, 5, 5, 25); /* a knee touching the roller's edge */
        raw[38 * C + 28] = 900;              /* hot sensel, alone */
        int dr = (int)x, dc = 15;
        raw[dr * C + dc] = 0; /* dead sensel inside the strip */
        rm_live_metrics m;
        cr_assert_eq(rm_analysis_push(a, t, raw, &m, &e), RM_OK, "%s", e.msg);
        frames++;
        if (m.roller) {
            found++;
            double err = fabs(m.roller_x_cm - x);
            /* the knee sits on the strip's edge for part of the way */
            if (err > worst)
                worst = err;
        }
    }
    cr_expect_eq(found, frames, "roller found in %d of %d frames", found, frames);
    cr_expect_lt(worst, 0.6, "roller x off by %.3f cm", worst);
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(r->totals.hot_sensels, 1);
    cr_expect_geq(r->totals.dead_sensels, 1);
    cr_expect_eq(r->totals.roller_found, 1);
    /* 20 s of 20 cm passes at 4 cm/s: 4 strokes */
    cr_expect_eq(r->n_strokes, 4, "strokes %zu", r->n_strokes);
    cr_expect_eq(r->n_segments, 1);
    /* hot sensel excluded from the maps' contact time after detection */
    cr_expect_lt(r->map_contact_s[38 * C + 28], 2.0f);
    /* the hot sensel (900 kPa) never sets the session's peak: the real
     * contacts peak at 40 kPa */
    cr_expect_leq(r->totals.peak_kpa, 40.5f, "session peak %.1f kPa", r->totals.peak_kpa);
    cr_expect_geq(r->totals.peak_kpa, 30.0f, "session peak %.1f kPa", r->totals.peak_kpa);
    cr_expect_eq(r->totals.frames_lost, 0);
    cr_expect_eq(r->totals.gaps, 0);
    rm_results_free(r);
    rm_analysis_free(a);
}

/* Only compact contacts (a standing person): no roller, one whole-recording
 * segment with its maps, and a plain statement about pacing. */
Test(analyze, no_roller)
{
    rm_device d = mat(20);
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    uint16_t raw[R * C];
    for (int k = 0; k < 200; k++) {
        memset(raw, 0, sizeof raw);
        blob(raw, 10, 5, 8, 4, 60);
        blob(raw, 10, 20, 8, 4, 60);
        cr_assert_eq(rm_analysis_push(a, k / 20.0, raw, NULL, &e), RM_OK);
    }
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(r->totals.roller_found, 0);
    cr_expect_eq(r->n_strokes, 0);
    cr_expect_eq(r->n_holds, 0);
    cr_assert_eq(r->n_segments, 1);
    cr_expect_float_eq(r->seg_mean_kpa[10 * C + 5], 60.0f, 1e-3);
    cr_expect_float_eq(r->map_contact_s[10 * C + 5], 10.0f, 1e-3);
    cr_expect_float_eq(r->series[RM_SERIES_FORCE_N][0], 2 * 32 * 60 * 0.1f, 1e-2);
    cr_expect(isnan(r->series[RM_SERIES_ROLLER_X_CM][0]));
    cr_expect_not_null(strstr(r->totals.comment, "no roller"));
    char *txt = rm_results_coach_text(r);
    cr_assert_not_null(txt);
    cr_expect_not_null(strstr(txt, "no roller was found"), "%s", txt);
    cr_expect_not_null(strstr(txt, "pressure: mean force"), "%s", txt);
    free(txt);
    rm_results_free(r);
    rm_analysis_free(a);
}

/* A mask hides sensels that are not real (imports): never loaded. */
Test(analyze, mask_hides_sensels)
{
    rm_device d = mat(10);
    uint8_t mask[R * C];
    memset(mask, 1, sizeof mask);
    mask[3 * C + 3] = 0;
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, mask, &a, &e), RM_OK, "%s", e.msg);
    uint16_t raw[R * C];
    memset(raw, 0, sizeof raw);
    raw[3 * C + 3] = 500;
    raw[4 * C + 4] = 50;
    rm_live_metrics m;
    cr_assert_eq(rm_analysis_push(a, 0, raw, &m, &e), RM_OK);
    cr_expect_float_eq(m.force_n, 5.0f, 1e-4);
    cr_expect_float_eq(m.peak_kpa, 50.0f, 1e-4);
    rm_analysis_free(a);
}

/* Two sets with a pause between them, a hold in the first; labels from
 * the command line replace label events. */
/* Two sets of the roller (strokes, a hold, strokes) at 50 Hz, pushed into
 * a; no Criterion asserts, so a thread other than the test's may run it. */
static rm_status push_two_sets(rm_analysis *a, rm_err *e)
{
    uint16_t raw[R * C];
    for (int k = 0; k < 50 * 100; k++) {
        double t = k / 50.0, x = -1;
        if (t >= 1 && t < 11) { /* 10->30->10 at 4 cm/s: 2 strokes */
            double ph = (t - 1) * 4.0;
            x = 10 + (ph < 20 ? ph : 40 - ph);
        } else if (t >= 11 && t < 36) /* hold 25 s */
            x = 10;
        else if (t >= 50 && t < 80) { /* 3 passes of 20 cm at 2 cm/s */
            double ph = (t - 50) * 2.0;
            x = 10 + (ph <= 20 ? ph : ph <= 40 ? 40 - ph : ph - 40);
        }
        memset(raw, 0, sizeof raw);
        if (x >= 0)
            strip(raw, x, 2.0, 3, 26, 40);
        rm_status st = rm_analysis_push(a, 100.0 + t, raw, NULL, e);
        if (st != RM_OK)
            return st;
    }
    return RM_OK;
}

static rm_analysis *two_sets_new(const char *labels, int with_events)
{
    rm_device d = mat(50);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.labels = labels;
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(&cfg, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    if (with_events) {
        cr_assert_eq(rm_analysis_label(a, 100.5, "calves", &e), RM_OK);
        cr_assert_eq(rm_analysis_label(a, 145.0, "quads", &e), RM_OK);
    }
    return a;
}

static rm_results *two_sets(const char *labels, int with_events, const rm_profile *prof)
{
    rm_analysis *a = two_sets_new(labels, with_events);
    rm_err e = {0};
    cr_assert_eq(push_two_sets(a, &e), RM_OK, "%s", e.msg);
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, prof, &r, &e), RM_OK, "%s", e.msg);
    rm_analysis_free(a);
    return r;
}

/* Long recordings: the per-frame series never exceed max_series_frames
 * (every 2nd, 4th ... frame kept beyond), and the pacing found on what is
 * kept still sees the same sets, strokes and hold. 4000 frames at 50 Hz
 * into at most 1000: 1 frame in 8, 6.25 Hz. */
Test(analyze, series_bounded_on_long_recordings)
{
    rm_device d = mat(50);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cr_assert_eq(cfg.max_series_frames, 1000000);
    rm_err e = {0};
    cr_assert_eq(rm_analysis_config_set(&cfg, "max_series_frames", "1000", &e), RM_OK, "%s", e.msg);
    rm_analysis *a = NULL;
    cr_assert_eq(rm_analysis_new(&cfg, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_analysis_label(a, 100.5, "calves", &e), RM_OK);
    cr_assert_eq(rm_analysis_label(a, 145.0, "quads", &e), RM_OK);
    cr_assert_eq(push_two_sets(a, &e), RM_OK, "%s", e.msg);
    cr_assert_gt(a->nf, 3000, "the test needs more frames than the bound");
    for (int s = 0; s < RM_SERIES_COUNT; s++)
        cr_assert_leq(a->ser[s].n, 1000, "series %d holds %zu frames", s, a->ser[s].n);
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
    rm_analysis_free(a);
    cr_expect_leq(r->n_frames, 1000);
    cr_expect_float_eq(r->rate_hz, 50.0 / 8, 1e-9);
    /* the kept frames are every 8th: their times step by 8 / 50 s */
    cr_expect_float_eq(r->series[RM_SERIES_TIME][1] - r->series[RM_SERIES_TIME][0], 0.16, 1e-4);
    cr_assert_eq(r->n_segments, 2);
    cr_expect_str_eq(r->segments[0].label, "calves");
    cr_expect_eq(r->segments[0].strokes, 2);
    cr_expect_eq(r->segments[1].strokes, 3);
    cr_assert_eq(r->n_holds, 1);
    cr_expect_float_eq(r->holds[0].start_s, 11.0, 1.0);
    cr_expect_float_eq(r->holds[0].end_s, 36.0, 1.0);
    cr_expect_float_eq(r->segments[0].start_s, 1.0, 0.2);
    cr_expect_float_eq(r->segments[1].end_s, 80.0, 0.2);
    cr_expect_float_eq(r->segments[1].mean_speed_cm_s, 2.0, 0.3);
    rm_results_free(r);
}

Test(analyze, sets_holds_labels_scores)
{
    rm_results *r = two_sets(NULL, 1, NULL);
    for (size_t k = 0; k < r->n_segments; k++)
        fprintf(stderr, "segment %zu: %.2f..%.2f %s\n", k, r->segments[k].start_s,
                r->segments[k].end_s, r->segments[k].comment);
    cr_assert_eq(r->n_segments, 2);
    cr_expect_str_eq(r->segments[0].label, "calves");
    cr_expect_str_eq(r->segments[1].label, "quads");
    cr_expect_eq(r->segments[0].strokes, 2);
    cr_expect_eq(r->segments[1].strokes, 3);
    cr_assert_eq(r->n_holds, 1);
    cr_expect_float_eq(r->holds[0].start_s, 11.0, 0.5);
    cr_expect_float_eq(r->holds[0].end_s, 36.0, 0.5);
    cr_expect_float_eq(r->holds[0].x_cm, 10.0, 0.3);
    /* times are relative to the first frame */
    cr_expect_float_eq(r->segments[0].start_s, 1.0, 0.05);
    cr_expect_float_eq(r->segments[1].end_s, 80.0, 0.05);
    /* 4 cm/s against the guide's 2.54: too fast; 2 cm/s inside */
    cr_expect_eq(r->segments[0].speed_verdict, RM_VERDICT_ABOVE);
    cr_expect_eq(r->segments[1].speed_verdict, RM_VERDICT_INSIDE);
    cr_expect_eq(r->segments[0].hold_verdict, RM_VERDICT_INSIDE);
    cr_expect_eq(r->segments[1].set_verdict, RM_VERDICT_BELOW);
    cr_expect_not_null(strstr(r->segments[0].comment, "too fast"), "%s", r->segments[0].comment);
    cr_expect_not_null(strstr(r->segments[0].comment, "one hold of 25 s, inside 20-30 s"), "%s",
                       r->segments[0].comment);
    cr_expect_eq(strncmp(r->segments[1].comment, "quads: 30 s, short of 60-120 s", 30), 0, "%s",
                 r->segments[1].comment);
    /* cadence of the second set: 20 s per cycle = 3 cycles/min */
    cr_expect_float_eq(r->segments[1].cadence_cpm, 3.0, 0.15);
    cr_expect_float_eq(r->segments[1].stroke_cadence_cpm, 3.0, 0.15);
    /* the coach reads the stroke cadence (the spectrum is bent by holds) */
    for (size_t k = 0; k < r->n_segments; k++) {
        char want[64];
        snprintf(want, sizeof want, "cadence %.1f cycles/min", r->segments[k].stroke_cadence_cpm);
        cr_expect_not_null(strstr(r->segments[k].comment, want), "set %zu: no \"%s\" in %s", k,
                           want, r->segments[k].comment);
    }
    cr_expect_float_eq(r->segments[1].mean_speed_cm_s, 2.0, 0.2);
    rm_results_free(r);

    r = two_sets("left calf,right quad", 1, NULL);
    cr_assert_eq(r->n_segments, 2);
    cr_expect_str_eq(r->segments[0].label, "left calf");
    cr_expect_str_eq(r->segments[1].label, "right quad");
    rm_results_free(r);

    r = two_sets(NULL, 0, NULL);
    cr_expect_str_eq(r->segments[0].label, "set 1");
    rm_results_free(r);
}

Test(analyze, profile_behm_scores_passes)
{
    rm_profile p;
    rm_err e = {0};
    cr_assert_eq(rm_profile_load("behm2020", &p, &e), RM_OK, "%s", e.msg);
    cr_expect(p.pass_s.set && !p.speed_cm_s.set && !p.hold_s.set);
    rm_results *r = two_sets(NULL, 1, &p);
    cr_assert_eq(r->n_segments, 2);
    cr_expect_str_eq(r->profile, "behm2020");
    /* 5 s and 10 s passes against 2-4 s */
    cr_expect_eq(r->segments[0].pass_verdict, RM_VERDICT_ABOVE);
    cr_expect_eq(r->segments[1].pass_verdict, RM_VERDICT_ABOVE);
    cr_expect_eq(r->segments[0].speed_verdict, RM_VERDICT_NA);
    cr_expect_eq(r->segments[0].hold_verdict, RM_VERDICT_NA);
    cr_expect_eq(r->segments[0].set_verdict, RM_VERDICT_INSIDE);
    cr_expect_not_null(strstr(r->segments[0].comment, "target 2-4 s: too slow"), "%s",
                       r->segments[0].comment);
    cr_expect_eq(r->totals.total_verdict, RM_VERDICT_NA);
    rm_results_free(r);
}

Test(analyze, bad_input)
{
    rm_device d = mat(10);
    rm_analysis *a = NULL;
    rm_err e = {0};
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.noise_kpa = -1;
    cr_expect_eq(rm_analysis_new(&cfg, &d, NULL, NULL, &a, &e), RM_ERR_RANGE);
    cr_expect_not_null(strstr(e.msg, "noise_kpa"), "%s", e.msg);
    rm_analysis_config_default(&cfg);
    cr_expect_eq(rm_analysis_config_set(&cfg, "lowpass_hz", "abc", &e), RM_ERR_VALUE);
    cr_expect_eq(rm_analysis_config_set(&cfg, "nonsense", "1", &e), RM_ERR_ARG);
    cr_expect_eq(rm_analysis_config_set(&cfg, "lowpass_hz", "2.5", &e), RM_OK);
    cr_expect_float_eq(cfg.lowpass_hz, 2.5, 1e-12);
    cr_expect_eq(rm_analysis_config_set(&cfg, "min_contact_sensels", "2.5", &e), RM_ERR_RANGE);
    rm_device bad = d;
    bad.rate_hz = 0;
    cr_expect_eq(rm_analysis_new(NULL, &bad, NULL, NULL, &a, &e), RM_ERR_RANGE);
    bad = d;
    bad.rows = 0;
    cr_expect_eq(rm_analysis_new(NULL, &bad, NULL, NULL, &a, &e), RM_ERR_RANGE);

    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK);
    uint16_t raw[R * C];
    memset(raw, 0, sizeof raw);
    cr_expect_eq(rm_analysis_push(a, NAN, raw, NULL, &e), RM_ERR_VALUE);
    cr_expect_eq(rm_analysis_push(a, 1.0, raw, NULL, &e), RM_OK);
    cr_expect_eq(rm_analysis_push(a, 0.5, raw, NULL, &e), RM_ERR_VALUE);
    cr_expect_not_null(strstr(e.msg, "goes back"), "%s", e.msg);
    rm_results *r = NULL;
    cr_expect_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK);
    cr_expect_eq(r->n_frames, 1);
    cr_expect_eq(rm_analysis_push(a, 2.0, raw, NULL, &e), RM_ERR_STATE);
    rm_results_free(r);
    rm_analysis_free(a);

    /* an empty analysis finishes too */
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK);
    cr_expect_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK);
    cr_expect_eq(r->n_frames, 0);
    cr_expect_eq(r->n_segments, 0);
    rm_results_free(r);
    rm_analysis_free(a);
}

Test(analyze, profiles)
{
    rm_profile p;
    rm_err e = {0};
    cr_assert_eq(rm_profile_load("guide", &p, &e), RM_OK, "%s", e.msg);
    cr_expect_str_eq(p.name, "guide");
    cr_expect(p.speed_cm_s.set);
    cr_expect_float_eq(p.speed_cm_s.target, 2.54, 1e-9);
    cr_expect_float_eq(p.hold_s.lo, 20, 1e-9);
    cr_expect_float_eq(p.hold_s.hi, 30, 1e-9);
    cr_expect_float_eq(p.set_s.lo, 60, 1e-9);
    cr_expect_float_eq(p.daily_s.hi, 600, 1e-9);
    cr_expect_not_null(strstr(p.hold_s.source, "20-30"));

    cr_expect_eq(rm_profile_load("nosuchprofile", &p, &e), RM_ERR_NOT_FOUND);
    cr_expect_eq(rm_profile_load("../etc/passwd", &p, &e), RM_ERR_NOT_FOUND);
    cr_expect_eq(rm_profile_load("a b", &p, &e), RM_ERR_ARG);

    const char *ok = "format = rollmat-profile-1\nname = x\nset_s = 10 20 | me\n";
    cr_expect_eq(rm_profile_parse(ok, "t", &p, &e), RM_OK, "%s", e.msg);
    cr_expect(!p.hold_s.set && p.set_s.set);
    cr_expect_eq(
        rm_profile_parse("format = rollmat-profile-1\nname = x\nset_s = 10 20\n", "t", &p, &e),
        RM_ERR_FORMAT);
    cr_expect_not_null(strstr(e.msg, "t line 3"), "%s", e.msg);
    cr_expect_eq(
        rm_profile_parse("format = rollmat-profile-1\nname = x\nset_s = 20 10 | me\n", "t", &p, &e),
        RM_ERR_FORMAT);
    cr_expect_eq(
        rm_profile_parse("format = rollmat-profile-1\nname = x\nspeed = 1 2 | me\n", "t", &p, &e),
        RM_ERR_FORMAT);
    cr_expect_not_null(strstr(e.msg, "unknown key"), "%s", e.msg);
    cr_expect_eq(rm_profile_parse("format = rollmat-profile-2\nname = x\n", "t", &p, &e),
                 RM_ERR_VERSION);
    cr_expect_eq(rm_profile_parse("name = x\n", "t", &p, &e), RM_ERR_FORMAT);
    cr_expect_eq(
        rm_profile_parse("format = rollmat-profile-1\nname = x\nset_s = 1 2 | a\nset_s = 1 2 | b\n",
                         "t", &p, &e),
        RM_ERR_FORMAT);
}

/* The daemon's use: live metrics per frame, no series kept. */
Test(analyze, live_only)
{
    rm_device d = mat(50);
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.live_only = 1;
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(&cfg, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    uint16_t raw[R * C];
    rm_live_metrics m;
    int rolling = 0;
    for (int k = 0; k < 500; k++) {
        double x = 10 + 2.0 * k / 50.0; /* 2 cm/s */
        memset(raw, 0, sizeof raw);
        strip(raw, x, 2.0, 3, 26, 40);
        cr_assert_eq(rm_analysis_push(a, k / 50.0, raw, &m, &e), RM_OK, "%s", e.msg);
        cr_assert(m.roller);
        cr_assert_float_eq(m.roller_x_cm, x, 0.15);
        cr_assert_float_eq(m.load_share, 1.0f, 1e-6);
        rolling += m.state == RM_STATE_ROLLING;
    }
    cr_expect_float_eq(m.speed_cm_s, 2.0, 0.2, "live speed %g", m.speed_cm_s);
    cr_expect_eq(rolling, 500);
    cr_expect_eq(a->ser[RM_SERIES_TIME].n, 0, "series kept");
    rm_results *r = NULL;
    cr_expect_eq(rm_analysis_finish(a, NULL, &r, &e), RM_ERR_STATE);
    cr_expect_null(r);
    rm_analysis_free(a);
}

/* Garbage in (random counts, extreme geometries, time gaps): no crash, a
 * finished analysis whose series have one value a frame. */
Test(analyze, random_frames_any_geometry)
{
    const int dims[][2] = {{1, 1}, {1, 40}, {40, 1}, {60, 21}, {32, 64}, {3, 256}};
    uint64_t s = 12345;
    for (size_t g = 0; g < sizeof dims / sizeof dims[0]; g++) {
        rm_device d;
        memset(&d, 0, sizeof d);
        d.rows = (uint16_t)dims[g][0];
        d.cols = (uint16_t)dims[g][1];
        d.row_pitch_mm = 5.0 + (double)g;
        d.col_pitch_mm = 7.5;
        d.rate_hz = 30;
        rm_analysis *a = NULL;
        rm_err e = {0};
        cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
        size_t n = (size_t)d.rows * d.cols;
        uint16_t *raw = malloc(n * sizeof *raw);
        double t = 0;
        for (int k = 0; k < 300; k++) {
            for (size_t i = 0; i < n; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                uint16_t v = (uint16_t)(s >> 48);
                raw[i] = (k % 3 == 0) ? v : (uint16_t)(v & 0x3f); /* mostly quiet frames */
            }
            t += (k % 50 == 49) ? 2.0 : 1.0 / 30; /* some gaps */
            cr_assert_eq(rm_analysis_push(a, t, raw, NULL, &e), RM_OK, "%s", e.msg);
        }
        rm_results *r = NULL;
        cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
        cr_expect_eq(r->n_frames, 300);
        cr_expect_geq(r->n_segments, 1);
        char *txt = rm_results_coach_text(r);
        cr_expect_not_null(txt);
        free(txt);
        char *js = NULL;
        cr_expect_eq(rm_results_json(r, &js, &e), RM_OK);
        free(js);
        rm_results_free(r);
        rm_analysis_free(a);
        free(raw);
    }
}

/* What rm_analysis.h allows across threads: an analysis made on one
 * thread, pushed and finished on another, freed on the first (each
 * hand-over through pthread_create/join), and separate analyses running at
 * once (their FFTW planning under the library's lock). Every one gives the
 * results of the serial run, to the bit. */
typedef struct thread_job {
    rm_analysis *a;
    rm_results *r;
    rm_status st;
    rm_err e;
} thread_job;

static void *thread_run(void *arg)
{
    thread_job *j = arg;
    j->st = push_two_sets(j->a, &j->e);
    if (j->st == RM_OK)
        j->st = rm_analysis_finish(j->a, NULL, &j->r, &j->e);
    return NULL;
}

Test(analyze, separate_analyses_in_threads)
{
    rm_results *ref = two_sets(NULL, 1, NULL);
    enum { NJ = 3 };
    thread_job job[NJ];
    pthread_t th[NJ];
    memset(job, 0, sizeof job);
    for (int i = 0; i < NJ; i++) {
        job[i].a = two_sets_new(NULL, 1);
        cr_assert_eq(pthread_create(&th[i], NULL, thread_run, &job[i]), 0);
    }
    for (int i = 0; i < NJ; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NJ; i++) {
        cr_assert_eq(job[i].st, RM_OK, "%s", job[i].e.msg);
        rm_results *r = job[i].r;
        cr_assert_eq(r->n_frames, ref->n_frames);
        cr_assert_eq(r->n_segments, ref->n_segments);
        cr_expect_eq(r->n_strokes, ref->n_strokes);
        cr_expect_eq(r->n_holds, ref->n_holds);
        for (int s = 0; s < RM_SERIES_COUNT; s++)
            cr_expect_eq(memcmp(r->series[s], ref->series[s], r->n_frames * sizeof(float)), 0,
                         "series %d differs in thread %d", s, i);
        cr_expect_eq(memcmp(r->position_psd, ref->position_psd, r->n_freq * sizeof(float)), 0);
        cr_expect_eq(memcmp(r->force_psd, ref->force_psd, r->n_freq * sizeof(float)), 0);
        for (size_t k = 0; k < r->n_segments; k++)
            cr_expect_str_eq(r->segments[k].comment, ref->segments[k].comment);
        cr_expect_str_eq(r->totals.comment, ref->totals.comment);
        rm_analysis_free(job[i].a);
        rm_results_free(r);
    }
    rm_results_free(ref);
}

/* Data quality: frames missing from the stream (two stretches, 7 and 1
 * frames) and a disconnect event reach the totals and the JSON summary. */
Test(analyze, data_quality)
{
    rm_device d = mat(50);
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    uint16_t raw[R * C];
    for (int k = 0; k < 50 * 20; k++) {
        if ((k >= 300 && k < 307) || k == 600)
            continue;
        double t = k / 50.0;
        double ph = fmod(t * 4.0, 40.0);
        memset(raw, 0, sizeof raw);
        strip(raw, 10.0 + (ph < 20 ? ph : 40 - ph), 2.0, 3, 26, 40);
        cr_assert_eq(rm_analysis_push(a, t, raw, NULL, &e), RM_OK, "%s", e.msg);
    }
    cr_assert_eq(rm_analysis_event(a, 6.5, "disconnect", &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_analysis_event(a, 7.0, "reconnect", &e), RM_OK, "%s", e.msg);
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(r->totals.frames_lost, 8, "frames lost %d", r->totals.frames_lost);
    cr_expect_eq(r->totals.gaps, 2, "gaps %d", r->totals.gaps);
    cr_expect_eq(r->totals.disconnects, 1, "disconnects %d", r->totals.disconnects);
    char *js = NULL;
    cr_assert_eq(rm_results_json(r, &js, &e), RM_OK, "%s", e.msg);
    cr_expect_not_null(strstr(js, "\"frames_lost\": 8"), "%s", js);
    cr_expect_not_null(strstr(js, "\"disconnects\": 1"), "%s", js);
    free(js);
    rm_results_free(r);
    rm_analysis_free(a);
}

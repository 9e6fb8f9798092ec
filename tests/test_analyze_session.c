/* test_analyze_session.c - the offline analysis of a recording file: the
 * virtual mat's frames written as a session with the operator's label
 * events, analysed by rm_analyze_session (chunked reading), compared with
 * the ground truth; and recordings that cannot be analysed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_session.h"
#include "rm_vmat.h"
#include "test_util.h"

Test(analyze_session, rushed_with_labels, .timeout = 600)
{
    char *dir = rm_test_tmpdir("analyze_session");
    char *rec = rm_test_path(dir, "rec.h5");
    char *truth_path = rm_test_path(dir, "truth.json");
    rm_err e = {0};
    rm_vmat_config vc;
    memset(&vc, 0, sizeof vc);
    vc.scenario = "rushed";
    vc.seed = 11;
    rm_vmat *vm = NULL;
    cr_assert_eq(rm_vmat_new(&vc, &vm, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_vmat_write_truth(vm, truth_path, &e), RM_OK, "%s", e.msg);
    json_error_t je;
    json_t *truth = json_load_file(truth_path, 0, &je);
    cr_assert_not_null(truth);
    json_t *jsegs = json_object_get(truth, "segments");

    rm_header hdr;
    rm_device dev;
    rm_vmat_header(vm, &hdr);
    rm_vmat_device(vm, &dev);
    rm_session_writer *w = NULL;
    cr_assert_eq(rm_session_writer_create(rec, &hdr, &dev, rm_vmat_calib(vm), NULL, &w, &e), RM_OK,
                 "%s", e.msg);
    size_t nsens = (size_t)dev.rows * dev.cols;
    uint16_t *raw = malloc(nsens * sizeof *raw);
    rm_frame_header fh;
    rm_vmat_truth tr;
    int prev = -1;
    uint64_t total = rm_vmat_total_frames(vm), n = 0;
    while (n < total && rm_vmat_next_frame(vm, &fh, raw, &tr) == RM_OK) {
        if (tr.segment >= 0 && tr.segment != prev) {
            rm_event ev;
            memset(&ev, 0, sizeof ev);
            ev.time_s = tr.time_s;
            snprintf(ev.kind, sizeof ev.kind, "%s", RM_EVENT_LABEL);
            snprintf(ev.text, sizeof ev.text, "%s",
                     json_string_value(
                         json_object_get(json_array_get(jsegs, (size_t)tr.segment), "label")));
            cr_assert_eq(rm_session_writer_add_event(w, &ev, &e), RM_OK, "%s", e.msg);
            prev = tr.segment;
        }
        rm_frame fr = {fh.seq, fh.flags, fh.t_device_us, tr.time_s, fh.rows, fh.cols, raw};
        cr_assert_eq(rm_session_writer_append(w, &fr, &e), RM_OK, "%s", e.msg);
        n++;
    }
    cr_assert_eq(rm_session_writer_close(w, &e), RM_OK, "%s", e.msg);
    rm_vmat_free(vm);
    free(raw);

    rm_results *r = NULL;
    cr_assert_eq(rm_analyze_session(rec, NULL, NULL, &r, &e), RM_OK, "%s", e.msg);
    cr_expect_str_eq(r->source, "rec.h5");
    cr_expect_eq(r->n_frames, total);
    cr_expect_float_eq(r->body_mass_kg, hdr.body_mass_kg, 1e-9, "body mass from the recording");
    cr_assert_eq(r->n_segments, json_array_size(jsegs));
    for (size_t k = 0; k < r->n_segments; k++) {
        const char *lab = json_string_value(json_object_get(json_array_get(jsegs, k), "label"));
        cr_expect_str_eq(r->segments[k].label, lab);
        cr_expect(!isnan(r->segments[k].body_weight_share));
        cr_expect_eq(r->segments[k].speed_verdict, RM_VERDICT_ABOVE, "rushed: too fast");
    }
    cr_expect_eq(r->n_strokes, json_array_size(json_object_get(truth, "strokes")));
    cr_expect_eq(r->n_holds, 0);
    rm_results_free(r);

    /* the same with the labels given on the command line */
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.labels = "l1,l2";
    cr_assert_eq(rm_analyze_session(rec, &cfg, NULL, &r, &e), RM_OK, "%s", e.msg);
    cr_expect_str_eq(r->segments[0].label, "l1");
    cr_expect_str_eq(r->segments[1].label, "l2");
    /* a set the list leaves unnamed is named after its body position */
    cr_expect_str_eq(r->segments[2].label, "quads");
    cr_expect_str_eq(r->segments[2].label_source, "recognised");
    cr_expect_str_eq(r->segments[1].label_source, "operator");
    rm_results_free(r);

    /* a bad option names itself, with the recording */
    cfg.labels = NULL;
    cfg.lowpass_hz = 0;
    cr_expect_eq(rm_analyze_session(rec, &cfg, NULL, &r, &e), RM_ERR_RANGE);
    cr_expect_not_null(strstr(e.msg, "lowpass_hz"), "%s", e.msg);
    cr_expect_null(r);

    json_decref(truth);
    rm_test_rmtree(dir);
    free(rec);
    free(truth_path);
    free(dir);
}

Test(analyze_session, not_a_recording)
{
    char *dir = rm_test_tmpdir("analyze_session_bad");
    char *p = rm_test_path(dir, "x.h5");
    rm_results *r = NULL;
    rm_err e = {0};
    cr_expect_neq(rm_analyze_session(p, NULL, NULL, &r, &e), RM_OK);
    cr_expect_not_null(strstr(e.msg, "x.h5"), "%s", e.msg);
    FILE *f = fopen(p, "w");
    fputs("nothing", f);
    fclose(f);
    cr_expect_neq(rm_analyze_session(p, NULL, NULL, &r, &e), RM_OK);
    cr_expect_not_null(strstr(e.msg, "x.h5"), "%s", e.msg);
    cr_expect_null(r);
    rm_test_rmtree(dir);
    free(p);
    free(dir);
}

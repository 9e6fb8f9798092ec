/* test_results.c - the results file and its JSON summary: write, read
 * back, the external link to the recording, and files that are not right. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_analysis.h"
#include "rm_results.h"
#include "test_util.h"

#define R 32
#define C 24

/* An analysed routine: one set of 4 passes and a hold, built by hand. */
static rm_results *analysed(void)
{
    rm_device d;
    memset(&d, 0, sizeof d);
    d.rows = R;
    d.cols = C;
    d.row_pitch_mm = d.col_pitch_mm = 12.7;
    d.rate_hz = 40;
    rm_analysis *a = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_analysis_new(NULL, &d, NULL, NULL, &a, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_analysis_label(a, 0, "calves", &e), RM_OK);
    uint16_t raw[R * C];
    for (int k = 0; k < 40 * 60; k++) {
        double t = k / 40.0, x = -1;
        if (t >= 2 && t < 22) {
            double ph = fmod((t - 2) * 4.0, 40.0);
            x = 8 + (ph < 20 ? ph : 40 - ph);
        } else if (t >= 22 && t < 45)
            x = 8;
        memset(raw, 0, sizeof raw);
        if (x >= 0)
            for (int r = 0; r < R; r++) {
                double f = 1 - fabs((r + 0.5) * 1.27 - x) / 2.5;
                if (f > 0)
                    for (int c = 2; c < C - 2; c++)
                        raw[r * C + c] = (uint16_t)lround(30 * f);
            }
        raw[3 * C + 3] = 10; /* a stray loaded sensel */
        cr_assert_eq(rm_analysis_push(a, t, raw, NULL, &e), RM_OK, "%s", e.msg);
    }
    rm_results *r = NULL;
    cr_assert_eq(rm_analysis_finish(a, NULL, &r, &e), RM_OK, "%s", e.msg);
    rm_analysis_free(a);
    snprintf(r->source, sizeof r->source, "rec.h5");
    return r;
}

static void make_h5(const char *path, const char *conventions)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    if (conventions) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(conventions));
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t at = H5Acreate2(f, "conventions", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(at, t, conventions);
        H5Aclose(at);
        H5Sclose(sp);
        H5Tclose(t);
    }
    H5Fclose(f);
}

Test(results, round_trip)
{
    char *dir = rm_test_tmpdir("results");
    char *rec = rm_test_path(dir, "rec.h5");
    char *out = rm_test_path(dir, "rec.results.h5");
    char *js = rm_test_path(dir, "rec.results.json");
    make_h5(rec, "rollmat-session-1");
    rm_results *r = analysed();
    snprintf(r->recording_path, sizeof r->recording_path, "%s", rec);
    cr_assert_geq(r->n_strokes, 4);
    cr_assert_eq(r->n_holds, 1);
    cr_assert_eq(r->n_segments, 1);
    rm_err e = {0};
    cr_assert_eq(rm_results_write(out, r, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_results_write_json(js, r, &e), RM_OK, "%s", e.msg);
    /* written again over the old file: replaced, not refused */
    cr_assert_eq(rm_results_write(out, r, &e), RM_OK, "%s", e.msg);

    rm_results *b = NULL;
    cr_assert_eq(rm_results_open(out, &b, &e), RM_OK, "%s", e.msg);
    cr_expect_str_eq(b->source, "rec.h5");
    cr_expect_str_eq(b->profile, "guide");
    cr_expect_str_eq(b->recording_path, "rec.h5", "link target stored relative to the folder");
    cr_expect_eq(b->rows, R);
    cr_expect_eq(b->cols, C);
    cr_expect_float_eq(b->rate_hz, 40.0, 1e-9);
    cr_assert_eq(b->n_frames, r->n_frames);
    for (int s = 0; s < RM_SERIES_COUNT; s++)
        for (size_t i = 0; i < r->n_frames; i++) {
            float x = r->series[s][i], y = b->series[s][i];
            cr_assert((isnan(x) && isnan(y)) || x == y, "series %s frame %zu: %g vs %g",
                      rm_series_name(s), i, x, y);
        }
    cr_expect_eq(memcmp(r->state, b->state, r->n_frames), 0);
    cr_assert_eq(b->n_strokes, r->n_strokes);
    cr_assert_eq(b->n_holds, r->n_holds);
    cr_assert_eq(b->n_segments, r->n_segments);
    for (size_t k = 0; k < r->n_strokes; k++) {
        cr_expect_eq(b->strokes[k].start_s, r->strokes[k].start_s);
        cr_expect_eq(b->strokes[k].length_cm, r->strokes[k].length_cm);
        cr_expect_eq(b->strokes[k].segment, r->strokes[k].segment);
    }
    cr_expect_eq(b->holds[0].end_s, r->holds[0].end_s);
    cr_expect_str_eq(b->segments[0].label, "calves");
    cr_expect_str_eq(b->segments[0].comment, r->segments[0].comment);
    cr_expect_eq(b->segments[0].strokes, r->segments[0].strokes);
    cr_expect_eq(b->segments[0].hold_verdict, r->segments[0].hold_verdict);
    cr_expect_eq(b->totals.strokes, r->totals.strokes);
    cr_expect_eq(b->totals.roller_found, 1);
    cr_expect_str_eq(b->totals.comment, r->totals.comment);
    cr_expect_eq(memcmp(b->map_mean_kpa, r->map_mean_kpa, R * C * sizeof(float)), 0);
    cr_expect_eq(memcmp(b->seg_contact_s, r->seg_contact_s, R * C * sizeof(float)), 0);
    cr_assert_eq(b->n_freq, r->n_freq);
    cr_expect_eq(memcmp(b->position_psd, r->position_psd, r->n_freq * sizeof(float)), 0);

    /* the external link resolves to the recording */
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t g = H5Gopen2(f, "recording", H5P_DEFAULT);
    cr_expect_geq(g, 0, "/recording does not resolve");
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);

    /* JSON: same names as the file */
    json_error_t je;
    json_t *j = json_load_file(js, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    cr_expect_str_eq(json_string_value(json_object_get(j, "conventions")), RM_RESULTS_CONVENTIONS);
    json_t *seg = json_array_get(json_object_get(j, "segments"), 0);
    cr_assert_not_null(seg);
    cr_expect_str_eq(json_string_value(json_object_get(seg, "label")), "calves");
    cr_expect_eq(json_integer_value(json_object_get(seg, "strokes")), r->segments[0].strokes);
    cr_expect_not_null(json_object_get(seg, "cadence_cpm"));
    cr_expect_not_null(json_object_get(seg, "mean_roller_kpa"));
    json_t *ses = json_object_get(j, "session");
    cr_expect_eq(json_integer_value(json_object_get(ses, "holds")), 1);
    cr_expect(json_is_true(json_object_get(ses, "roller_found")));
    json_decref(j);

    rm_results_close(b);
    rm_results_free(r);
    rm_test_rmtree(dir);
    free(rec);
    free(out);
    free(js);
    free(dir);
}

Test(results, bad_files)
{
    char *dir = rm_test_tmpdir("results_bad");
    char *p = rm_test_path(dir, "x.h5");
    rm_results *b = NULL;
    rm_err e = {0};
    cr_expect_eq(rm_results_open(p, &b, &e), RM_ERR_NOT_FOUND);
    cr_expect_not_null(strstr(e.msg, "x.h5"), "%s", e.msg);

    FILE *f = fopen(p, "w");
    fputs("not hdf5 at all\n", f);
    fclose(f);
    cr_expect_eq(rm_results_open(p, &b, &e), RM_ERR_FORMAT);
    cr_expect_not_null(strstr(e.msg, "not an HDF5 file"), "%s", e.msg);

    make_h5(p, NULL);
    cr_expect_eq(rm_results_open(p, &b, &e), RM_ERR_FORMAT);
    make_h5(p, "rollmat-session-1");
    cr_expect_eq(rm_results_open(p, &b, &e), RM_ERR_FORMAT);
    cr_expect_not_null(strstr(e.msg, "not a rollmat results file"), "%s", e.msg);
    make_h5(p, "rollmat-results-2");
    cr_expect_eq(rm_results_open(p, &b, &e), RM_ERR_VERSION);
    make_h5(p, "rollmat-results-1");
    cr_expect_eq(rm_results_open(p, &b, &e), RM_ERR_FORMAT);
    cr_expect_not_null(strstr(e.msg, "missing"), "%s", e.msg);
    cr_expect_null(b);

    /* a results file with one series cut short */
    rm_results *r = analysed();
    char *out = rm_test_path(dir, "r.h5");
    cr_assert_eq(rm_results_write(out, r, &e), RM_OK, "%s", e.msg);
    hid_t h = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(h, "/series/peak_kpa", H5P_DEFAULT);
    hsize_t dims[1] = {3};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(h, "/series/peak_kpa", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(h);
    cr_expect_eq(rm_results_open(out, &b, &e), RM_ERR_LENGTH);
    cr_expect_not_null(strstr(e.msg, "peak_kpa"), "%s", e.msg);

    /* writing where there is no folder fails with the path named */
    char *nowhere = rm_test_path(dir, "no/such/dir/r.h5");
    cr_expect_eq(rm_results_write(nowhere, r, &e), RM_ERR_IO);
    cr_expect_not_null(strstr(e.msg, "no/such/dir"), "%s", e.msg);
    cr_expect_eq(rm_results_write_json(nowhere, r, &e), RM_ERR_IO);
    /* and leaves no temporary files behind */
    cr_expect_eq(rm_test_system("test -z \"$(ls %s | grep tmp)\"", dir), 0);

    rm_results_free(r);
    rm_test_rmtree(dir);
    free(nowhere);
    free(out);
    free(p);
    free(dir);
}

/* Reads exactly n bytes (a pipe may return less per call); 0 or -1. */
static int read_full(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t k = read(fd, c, n);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The disk fills while the results file is written (RLIMIT_FSIZE stands
 * in for a full disk, in a forked child so the limit stays there): the
 * same named status as the session writer gives, the file named, and no
 * temporary file or half a results file left behind. */
Test(results, disk_full_is_reported_as_no_space)
{
    char *dir = rm_test_tmpdir("results_full");
    char *out = rm_test_path(dir, "r.results.h5");
    rm_results *r = analysed(); /* before the fork: cr_assert belongs to the parent */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
        struct rlimit rl = {32 * 1024, 32 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        rm_err e = {0};
        int32_t code = rm_results_write(out, r, &e);
        char msg[sizeof e.msg];
        snprintf(msg, sizeof msg, "%s", e.msg);
        int bad = write(fds[1], &code, sizeof code) != (ssize_t)sizeof code ||
                  write(fds[1], msg, sizeof msg) != (ssize_t)sizeof msg;
        _exit(bad ? 3 : 0);
    }
    close(fds[1]);
    int32_t code = 0;
    char msg[sizeof((rm_err *)0)->msg] = "";
    cr_assert_eq(read_full(fds[0], &code, sizeof code), 0);
    cr_assert_eq(read_full(fds[0], msg, sizeof msg), 0);
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    cr_assert_eq(code, RM_ERR_NO_SPACE, "status %d (%s): %s", code, rm_status_name(code), msg);
    cr_assert(strstr(msg, "r.results.h5"), "%s", msg);
    cr_expect_neq(access(out, F_OK), 0, "a results file appeared");
    cr_expect_eq(rm_test_system("test -z \"$(ls -A %s)\"", dir), 0, "a temporary file is left");
    rm_results_free(r);
    rm_test_rmtree(dir);
    free(out);
    free(dir);
}

/* The segment-column table drives the /segments compound and the JSON:
 * the same names, in the same order, and values read through it equal the
 * struct's fields. */
Test(results, segment_columns_drive_file_and_json)
{
    char *dir = rm_test_tmpdir("results_cols");
    char *out = rm_test_path(dir, "r.results.h5");
    rm_results *r = analysed();
    rm_err e = {0};
    cr_assert_eq(rm_results_write(out, r, &e), RM_OK, "%s", e.msg);
    size_t n = 0;
    const rm_segment_column *col = rm_segment_columns(&n);
    cr_assert_gt(n, 20);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "segments", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    cr_assert_eq((size_t)H5Tget_nmembers(t), n);
    for (size_t i = 0; i < n; i++) {
        char *name = H5Tget_member_name(t, (unsigned)i);
        cr_expect_str_eq(name, col[i].name);
        H5free_memory(name);
        cr_expect_eq(rm_segment_column_find(col[i].name), &col[i]);
    }
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
    char *js = NULL;
    cr_assert_eq(rm_results_json(r, &js, &e), RM_OK, "%s", e.msg);
    json_t *j = json_loads(js, 0, NULL);
    json_t *seg = json_array_get(json_object_get(j, "segments"), 0);
    cr_assert_eq(json_object_size(seg), n);
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(seg, key, v)
    { /* jansson keeps insertion order */
        cr_expect_str_eq(key, col[i].name);
        i++;
    }
    const rm_segment_result *s = &r->segments[0];
    cr_expect_eq(rm_segment_value(s, rm_segment_column_find("strokes")), s->strokes);
    cr_expect_eq(rm_segment_value(s, rm_segment_column_find("start_s")), s->start_s);
    cr_expect_eq(rm_segment_value(s, rm_segment_column_find("mean_force_n")), s->mean_force_n);
    cr_expect_eq(rm_segment_value(s, rm_segment_column_find("hold_verdict")), s->hold_verdict);
    cr_expect_str_eq(rm_segment_text(s, rm_segment_column_find("label")), "calves");
    cr_expect_null(rm_segment_text(s, rm_segment_column_find("score")));
    cr_expect_null(rm_segment_column_find("no_such_column"));
    json_decref(j);
    free(js);
    rm_results_free(r);
    rm_test_rmtree(dir);
    free(out);
    free(dir);
}

/* rollmat export --strokes/--holds/--sets: who and when on every row, the
 * set's index and label, times in ms, NA for a stroke outside any set and
 * for anything unknown. */
Test(results, segment_tables_as_csv)
{
    rm_results *r = rm_results_new();
    cr_assert_not_null(r);
    snprintf(r->source, sizeof r->source, "a.h5");
    snprintf(r->created, sizeof r->created, "2026-11-25T08:00:00Z");
    r->n_segments = 1;
    r->segments = calloc(1, sizeof *r->segments);
    r->n_strokes = 2;
    r->strokes = calloc(2, sizeof *r->strokes);
    cr_assert(r->segments && r->strokes);
    snprintf(r->segments[0].label, sizeof r->segments[0].label, "calves, left");
    r->segments[0].start_s = 1;
    r->segments[0].end_s = 61.25;
    r->strokes[0] = (rm_stroke){1.5, 4.0, 30, 52, 22, 8.8f, 12, 250, 0};
    r->strokes[1] = (rm_stroke){70, 72.0004, 52, 30, -22, NAN, 12, 250, -1};
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_not_null(m);
    cr_assert_eq(rm_results_table_csv(m, r, RM_RESULTS_STROKES), 0);
    fclose(m);
    cr_assert_str_eq(buf, "recording,subject,recorded,stroke,set,set_label,start_s,end_s,"
                          "duration_s,from_x_cm,to_x_cm,length_cm,mean_speed_cm_s,"
                          "peak_speed_cm_s,mean_force_n\n"
                          "a.h5,NA,2026-11-25T08:00:00Z,0,0,\"calves, left\",1.500,4.000,2.500,"
                          "30,52,22,8.8,12,250\n"
                          "a.h5,NA,2026-11-25T08:00:00Z,1,NA,NA,70.000,72.000,2.000,52,30,-22,"
                          "NA,12,250\n");
    free(buf);
    buf = NULL;
    m = open_memstream(&buf, &len);
    cr_assert_eq(rm_results_table_csv(m, r, RM_RESULTS_HOLDS), 0);
    fclose(m);
    cr_assert_str_eq(buf, "recording,subject,recorded,hold,set,set_label,start_s,end_s,duration_s,"
                          "x_cm,mean_force_n\n"); /* no hold: the header alone */
    free(buf);
    buf = NULL;
    m = open_memstream(&buf, &len);
    cr_assert_eq(rm_results_table_csv(m, r, RM_RESULTS_SETS), 0);
    fclose(m);
    cr_assert(strstr(buf, "set,set_label,start_s,end_s,duration_s,rolling_s,"), "%s", buf);
    cr_assert(strstr(buf, "\na.h5,NA,2026-11-25T08:00:00Z,0,\"calves, left\",1.000,61.250,60.250,"),
              "%s", buf);
    free(buf);
    rm_results_free(r);
}

/* test_import.c - the importers against the real vendor exports in
 * shared/data/external, detection by content, the vendors' own numbers
 * (XSENSOR statistics, emed force, Tekscan raw sums) recomputed from the
 * imported frames, malformed inputs, and the import into a session file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_import.h"
#include "rm_session.h"
#include "test_util.h"

#define EXT RM_SHARED_DIR "/data/external/"

static rm_import_result *load(const char *file, rm_import_format fmt)
{
    rm_err e = {0};
    rm_import_result *r = NULL;
    rm_status st = rm_import_read(file, fmt, NULL, &r, &e);
    cr_assert_eq(st, RM_OK, "%s: %s", file, rm_err_message(&e, st));
    cr_assert_not_null(r);
    return r;
}

static float at(const rm_import_result *r, size_t frame, size_t row, size_t col)
{
    return r->kpa[(frame * r->device.rows + row) * r->device.cols + col];
}

static size_t mask_count(const rm_import_result *r)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)r->device.rows * r->device.cols; i++)
        n += r->mask[i];
    return n;
}

static const rm_import_reference *ref(const rm_import_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_refs; i++)
        if (!strcmp(r->refs[i].name, name))
            return &r->refs[i];
    return NULL;
}

/* ---- the fixtures ---- */

Test(import_fixtures, tekscan_fscan)
{
    rm_import_result *r = load(EXT "fscan_testL.asf", RM_IMPORT_UNKNOWN);
    cr_expect_eq(r->format, RM_IMPORT_TEKSCAN);
    cr_expect_eq(r->device.rows, 60);
    cr_expect_eq(r->device.cols, 21);
    cr_expect_eq(r->n_frames, 205);
    cr_expect_float_eq(r->device.row_pitch_mm, 5.08, 1e-9);
    cr_expect_float_eq(r->device.col_pitch_mm, 5.08, 1e-9);
    cr_expect_float_eq(r->device.rate_hz, 1.0 / 0.032, 1e-9);
    cr_expect_str_eq(r->units, "kPa");
    cr_expect(r->calibrated);
    /* frame 1, row 21 reads "0,0,0,0,0,18,0,18,...": */
    cr_expect_float_eq(at(r, 0, 20, 5), 18.0f, 1e-6);
    cr_expect_float_eq(at(r, 0, 20, 7), 18.0f, 1e-6);
    /* row 1 is "B,...,B,0,..." from column 10 */
    cr_expect_eq(r->mask[0], 0);
    cr_expect_eq(r->mask[9], 1);
    cr_expect_eq(at(r, 0, 0, 0), 0.0f);
    cr_expect_lt(mask_count(r), 60u * 21u);
    cr_expect_eq(r->seq[0], 1);
    cr_expect_eq(r->seq[204], 205);
    cr_expect_float_eq(r->time_s[204], 204 * 0.032, 1e-9);
    cr_expect_str_eq(r->header.created, "2017-02-16T11:26:22Z");
    cr_expect_str_eq(r->header.source, "import:tekscan");
    cr_expect_str_eq(r->header.title, "overground walk p10");
    cr_expect(strstr(r->device.model, "Tekscan") != NULL);
    cr_expect_float_eq(r->threshold, 3.0, 1e-9);
    /* integers in kPa, max 760: stored exactly at 1 kPa per count */
    cr_expect_float_eq(r->scale_kpa, 1.0, 1e-12);
    rm_import_result_free(r);
}

Test(import_fixtures, tekscan_iscan_csv)
{
    rm_import_result *r = load(EXT "iscan_test.csv", RM_IMPORT_UNKNOWN);
    cr_expect_eq(r->format, RM_IMPORT_TEKSCAN_CSV);
    cr_expect_eq(r->device.rows, 28);
    cr_expect_eq(r->device.cols, 28);
    cr_expect_eq(r->n_frames, 309);
    cr_expect_float_eq(r->device.row_pitch_mm, 1.27, 1e-9); /* 0.127 centimeters */
    cr_expect_float_eq(r->device.rate_hz, 10.0, 1e-9);
    cr_expect_not(r->calibrated); /* UNITS raw */
    cr_expect_str_eq(r->units, "raw");
    cr_expect(strstr(r->calib_note, "uncalibrated") != NULL);
    cr_expect_float_eq(at(r, 0, 2, 2), 5.0f, 1e-6); /* "B,B,5,0,..." */
    cr_expect_eq(r->mask[0], 0);
    cr_expect_str_eq(r->header.created, "2019-12-02T18:21:52Z"); /* 6:21:52.34PM */
    /* Tekscan's "Raw Sum=" per frame equals the sum of the frame's values */
    const rm_import_reference *rs = ref(r, "raw_sum");
    cr_assert_not_null(rs);
    size_t per = 28 * 28;
    for (size_t f = 0; f < r->n_frames; f++) {
        double sum = 0;
        for (size_t i = 0; i < per; i++)
            sum += r->kpa[f * per + i];
        cr_expect_float_eq(sum, rs->values[f], 1e-6, "frame %zu: sum %g, Tekscan %g", f, sum,
                           rs->values[f]);
    }
    rm_import_result_free(r);
}

Test(import_fixtures, emed)
{
    rm_import_result *r = load(EXT "emed_test.lst", RM_IMPORT_UNKNOWN);
    cr_expect_eq(r->format, RM_IMPORT_EMED);
    cr_expect_eq(r->device.rows, 95); /* Matrix: 64x95 is columns x rows */
    cr_expect_eq(r->device.cols, 64);
    cr_expect_eq(r->n_frames, 106);
    cr_expect_float_eq(r->device.row_pitch_mm, 5.0, 1e-9);
    cr_expect_float_eq(r->device.col_pitch_mm, 5.0, 1e-9);
    cr_expect_float_eq(r->device.rate_hz, 100.0, 1e-9);
    /* picture 4, row label 73, column label 30 (1-based): 45.00 */
    cr_expect_float_eq(at(r, 3, 72, 29), 45.0f, 1e-6);
    cr_expect_float_eq(at(r, 3, 72, 28), 30.0f, 1e-6);
    /* The export's own Force[N] = sum * sensor_area (0.25 cm²) holds with
     * kPa: N = kPa * cm² / 10. */
    const rm_import_reference *fr = ref(r, "force_n");
    cr_assert_not_null(fr);
    size_t per = 95 * 64;
    double area_cm2 = 0.5 * 0.5, worst = 0;
    for (size_t f = 0; f < r->n_frames; f++) {
        double sum = 0;
        for (size_t i = 0; i < per; i++)
            sum += r->kpa[f * per + i];
        double force = sum * area_cm2 / 10.0;
        double e = fabs(force - fr->values[f]);
        if (e > worst)
            worst = e;
        /* printed with 2 decimals; each value too (0.005 kPa each) */
        cr_expect_leq(e, 0.005 + 0.01 * fr->values[f] / 100.0 + 1e-9,
                      "picture %zu: %g N vs emed %g N", f, force, fr->values[f]);
    }
    cr_log_info("emed force check: worst |error| %.4f N over %zu pictures", worst, r->n_frames);
    rm_import_result_free(r);
}

Test(import_fixtures, pmat)
{
    rm_import_result *r = load(EXT "pmat_S1_1.txt", RM_IMPORT_UNKNOWN);
    cr_expect_eq(r->format, RM_IMPORT_PMAT);
    cr_expect_eq(r->device.rows, 64);
    cr_expect_eq(r->device.cols, 32);
    cr_expect_eq(r->n_frames, 82);
    cr_expect_float_eq(r->device.row_pitch_mm, 25.4, 1e-9);
    cr_expect_float_eq(r->device.rate_hz, 1.0, 1e-9);
    /* line 11, values 1001..: "228 231 428": raw 228 = 22.8 mmHg */
    cr_expect_float_eq(r->kpa[10 * 2048 + 1000], (float)(22.8 * 0.133322), 1e-4);
    cr_expect_float_eq(r->kpa[10 * 2048 + 1002], (float)(42.8 * 0.133322), 1e-4);
    /* raw integers are stored exactly: one count per raw unit */
    cr_expect_float_eq(r->scale_kpa, 0.0133322, 1e-9);
    rm_import_result_free(r);
}

Test(import_fixtures, xsensor_layout)
{
    rm_import_result *r = load(EXT "xsensor_data.csv", RM_IMPORT_UNKNOWN);
    cr_expect_eq(r->format, RM_IMPORT_XSENSOR);
    /* two 31 x 11 insoles side by side with one non-sensel column */
    cr_expect_eq(r->device.rows, 31);
    cr_expect_eq(r->device.cols, 23);
    cr_expect_eq(mask_count(r), 2 * 31 * 11);
    for (size_t row = 0; row < 31; row++)
        cr_expect_eq(r->mask[row * 23 + 11], 0);
    cr_expect_eq(r->n_frames, 101);
    cr_expect_eq(r->seq[0], 1464);
    cr_expect_eq(r->seq[100], 1564);
    cr_expect_str_eq(r->units, "mmHg");
    cr_expect_float_eq(r->threshold, 51.72, 1e-9);
    /* header says 0.86 cm; the group areas give the unrounded sensel */
    cr_expect_float_eq(r->device.row_pitch_mm, 8.6, 0.05);
    /* frame 1464, left sensor, row 2: "0,0,0,0,0,107.87,0,0,174.74,89.9,0" */
    cr_expect_float_eq(at(r, 0, 1, 5), (float)(107.87 * 0.133322), 1e-4);
    cr_expect_float_eq(at(r, 0, 1, 8), (float)(174.74 * 0.133322), 1e-4);
    /* timestamps 08:21:17.982 .. 08:21:19.313 */
    cr_expect_float_eq(r->time_s[0], 0.0, 1e-12);
    cr_expect_float_eq(r->time_s[100], 19.313 - 17.982, 1e-6);
    cr_expect_float_eq(r->device.rate_hz, 100.0 / (19.313 - 17.982), 1e-3);
    cr_expect_str_eq(r->header.created, "2022-08-16T08:21:17Z");
    cr_expect_not_null(ref(r, "sensor1_est_load_n"));
    cr_expect_not_null(ref(r, "sensor2_contact_area_cm2"));
    cr_expect_not_null(ref(r, "sensor2_peak_pressure_mmhg"));
    rm_import_result_free(r);
}

/* ---- XSENSOR's own numbers, recomputed ---- */

typedef struct xs_worst {
    double load_n, area_cm2, peak_mmhg, avg_mmhg;
} xs_worst;

/* Recomputes each sensor's Est. Load, Contact Area, Peak and Average
 * Pressure from frames given in kPa and compares with what XSENSOR
 * printed. quant_mmhg: the storage quantum (0 for the parser's floats).
 * Convention (found from the data): a sensel is loaded when it is at or
 * above the threshold (the export already zeroes the rest); load = sum of
 * p * A over loaded sensels, area = loaded * A, average = mean over the
 * loaded sensels; A = the sensel area (pitch²). */
static xs_worst xsensor_check(const rm_import_result *r, const float *kpa, size_t n_frames,
                              const rm_import_reference *const refs[2][4], double quant_mmhg)
{
    xs_worst w = {0, 0, 0, 0};
    const double mmhg = 0.133322;
    size_t rows = r->device.rows, cols = r->device.cols;
    double a_m2 = r->device.row_pitch_mm * r->device.col_pitch_mm * 1e-6;
    double thr = r->threshold - quant_mmhg / 2;
    for (size_t f = 0; f < n_frames; f++) {
        for (int s = 0; s < 2; s++) {
            size_t c0 = s ? 12 : 0;
            double sum_kpa = 0, peak = 0;
            size_t n = 0;
            for (size_t i = 0; i < rows; i++)
                for (size_t c = c0; c < c0 + 11; c++) {
                    double p = kpa[(f * rows + i) * cols + c];
                    if (p / mmhg > peak)
                        peak = p / mmhg;
                    if (p / mmhg >= thr) {
                        sum_kpa += p;
                        n++;
                    }
                }
            double load = sum_kpa * a_m2 * 1000.0;
            double area = (double)n * a_m2 * 1e4;
            double avg = n ? sum_kpa / mmhg / (double)n : 0;
            double e_load = fabs(load - refs[s][0]->values[f]);
            double e_area = fabs(area - refs[s][1]->values[f]);
            double e_peak = fabs(peak - refs[s][2]->values[f]);
            double e_avg = fabs(avg - refs[s][3]->values[f]);
            /* Tolerances, each a bound on a known rounding: XSENSOR prints
             * its statistics with 2 decimals (0.005) and each sensel with 2
             * decimals (0.005 mmHg, summed over the loaded sensels for the
             * load); the recording adds half a storage count per sensel;
             * the sensel area comes from 8 group areas printed with 2
             * decimals (8 * 0.005 cm2 over 345 cm2: 1.2e-4 relative). */
            double sens_kpa = (0.005 + quant_mmhg / 2) * mmhg;
            double tol_load = 0.005 + (double)n * sens_kpa * a_m2 * 1000.0 + 1.2e-4 * load;
            double tol_area = 0.005 + 1.2e-4 * area;
            double tol_peak = 0.005 + quant_mmhg / 2 + 1e-6;
            double tol_avg = 0.005 + 0.005 + quant_mmhg / 2 + 1e-6;
            cr_expect_leq(e_load, tol_load, "frame %zu sensor %d: load %.4f N, XSENSOR %.2f", f,
                          s + 1, load, refs[s][0]->values[f]);
            cr_expect_leq(e_area, tol_area, "frame %zu sensor %d: area %.4f cm2, XSENSOR %.2f", f,
                          s + 1, area, refs[s][1]->values[f]);
            cr_expect_leq(e_peak, tol_peak, "frame %zu sensor %d: peak %.4f mmHg, XSENSOR %.2f", f,
                          s + 1, peak, refs[s][2]->values[f]);
            cr_expect_leq(e_avg, tol_avg, "frame %zu sensor %d: average %.4f mmHg, XSENSOR %.2f", f,
                          s + 1, avg, refs[s][3]->values[f]);
            w.load_n = fmax(w.load_n, e_load);
            w.area_cm2 = fmax(w.area_cm2, e_area);
            w.peak_mmhg = fmax(w.peak_mmhg, e_peak);
            w.avg_mmhg = fmax(w.avg_mmhg, e_avg);
        }
    }
    return w;
}

static void xsensor_refs(const rm_import_result *r, const rm_import_reference *refs[2][4])
{
    static const char *const names[4] = {"est_load_n", "contact_area_cm2", "peak_pressure_mmhg",
                                         "average_pressure_mmhg"};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 4; k++) {
            char n[64];
            snprintf(n, sizeof n, "sensor%d_%s", s + 1, names[k]);
            refs[s][k] = ref(r, n);
            cr_assert_not_null(refs[s][k], "no reference %s", n);
        }
}

Test(import_vendor, xsensor_statistics_from_parsed_frames)
{
    rm_import_result *r = load(EXT "xsensor_data.csv", RM_IMPORT_XSENSOR);
    const rm_import_reference *refs[2][4];
    xsensor_refs(r, refs);
    xs_worst w =
        xsensor_check(r, r->kpa, r->n_frames, (const rm_import_reference *const(*)[4])refs, 0);
    cr_log_info("XSENSOR vs parsed frames, worst |error|: load %.4f N, area %.4f cm2, "
                "peak %.4f mmHg, average %.4f mmHg",
                w.load_n, w.area_cm2, w.peak_mmhg, w.avg_mmhg);
    rm_import_result_free(r);
}

Test(import_vendor, xsensor_statistics_from_session_file)
{
    char *dir = rm_test_tmpdir("import-xs");
    cr_assert_not_null(dir);
    char *out = rm_test_path(dir, "xs.h5");
    rm_err e = {0};
    rm_import_result *r = NULL;
    rm_status st =
        rm_import_to_session_ex(EXT "xsensor_data.csv", out, RM_IMPORT_UNKNOWN, NULL, &r, &e);
    cr_assert_eq(st, RM_OK, "%s", rm_err_message(&e, st));
    rm_session *s = NULL;
    st = rm_session_open(out, &s, &e);
    cr_assert_eq(st, RM_OK, "%s", rm_err_message(&e, st));
    size_t n = rm_session_frames(s), per = (size_t)r->device.rows * r->device.cols;
    cr_assert_eq(n, r->n_frames);
    uint16_t *raw = malloc(n * per * sizeof *raw);
    float *kpa = malloc(n * per * sizeof *kpa);
    cr_assert(raw && kpa);
    st = rm_session_read(s, 0, n, raw, NULL, NULL, NULL, NULL, &e);
    cr_assert_eq(st, RM_OK, "%s", rm_err_message(&e, st));
    for (size_t f = 0; f < n; f++)
        rm_session_pressure(s, raw + f * per, kpa + f * per);
    /* the vendor's series as stored in the file */
    rm_import_reference stored[2][4];
    const rm_import_reference *refs[2][4];
    xsensor_refs(r, refs);
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < 4; k++) {
            int found = 0;
            for (size_t i = 0; i < rm_session_reference_count(s); i++) {
                const char *name, *units;
                const double *values;
                cr_assert_eq(rm_session_reference(s, i, &name, &units, &values), RM_OK);
                if (!strcmp(name, refs[a][k]->name)) {
                    stored[a][k] = *refs[a][k];
                    stored[a][k].values = (double *)values;
                    refs[a][k] = &stored[a][k];
                    found = 1;
                }
            }
            cr_assert(found, "reference %s not in the file", refs[a][k]->name);
        }
    double quant_mmhg = r->scale_units;
    xs_worst w = xsensor_check(r, kpa, n, (const rm_import_reference *const(*)[4])refs, quant_mmhg);
    cr_log_info("XSENSOR vs the recording (%.4g mmHg per count), worst |error|: load %.4f N, "
                "area %.4f cm2, peak %.4f mmHg, average %.4f mmHg",
                quant_mmhg, w.load_n, w.area_cm2, w.peak_mmhg, w.avg_mmhg);
    free(raw);
    free(kpa);
    rm_session_close(s);
    rm_import_result_free(r);
    rm_test_rmtree(dir);
    free(out);
    free(dir);
}

/* ---- detection ---- */

static const struct fixture {
    const char *file;
    rm_import_format fmt;
} fixtures[] = {
    {EXT "fscan_testL.asf", RM_IMPORT_TEKSCAN},  {EXT "iscan_test.csv", RM_IMPORT_TEKSCAN_CSV},
    {EXT "xsensor_data.csv", RM_IMPORT_XSENSOR}, {EXT "emed_test.lst", RM_IMPORT_EMED},
    {EXT "pmat_S1_1.txt", RM_IMPORT_PMAT},
};
#define N_FIXTURES (sizeof fixtures / sizeof fixtures[0])

Test(import_detect, by_content_with_wrong_extension)
{
    char *dir = rm_test_tmpdir("import-detect");
    cr_assert_not_null(dir);
    static const char *const wrong[] = {"a.csv", "b.asf", "c.lst", "d.txt", "e.dat"};
    for (size_t i = 0; i < N_FIXTURES; i++) {
        uint8_t *data;
        size_t len;
        cr_assert_eq(rm_test_read_file(fixtures[i].file, &data, &len), 0);
        /* every wrong name: content decides */
        for (size_t k = 0; k < 5; k++)
            cr_expect_eq(rm_import_detect_bytes(data, len, wrong[k]), fixtures[i].fmt,
                         "%s named %s", fixtures[i].file, wrong[k]);
        /* and through a file with a misleading extension */
        char *p = rm_test_path(dir, i == 4 ? "x.asf" : "x.txt");
        FILE *f = fopen(p, "wb");
        cr_assert_not_null(f);
        fwrite(data, 1, len, f);
        fclose(f);
        rm_import_format got;
        rm_err e = {0};
        cr_expect_eq(rm_import_detect(p, &got, &e), RM_OK, "%s", e.msg);
        cr_expect_eq(got, fixtures[i].fmt);
        rm_import_result *r = NULL;
        rm_status st = rm_import_read(p, RM_IMPORT_UNKNOWN, NULL, &r, &e);
        cr_expect_eq(st, RM_OK, "%s", rm_err_message(&e, st));
        if (r)
            cr_expect_gt(r->n_frames, 0);
        rm_import_result_free(r);
        unlink(p);
        free(p);
        free(data);
    }
    rm_test_rmtree(dir);
    free(dir);
}

Test(import_detect, names_and_unknown)
{
    rm_import_format f;
    for (int i = RM_IMPORT_TEKSCAN; i <= RM_IMPORT_CSV; i++) {
        cr_expect_eq(rm_import_format_parse(rm_import_format_name((rm_import_format)i), &f), RM_OK);
        cr_expect_eq(f, (rm_import_format)i);
    }
    cr_expect_eq(rm_import_format_parse("excel", &f), RM_ERR_ARG);
    const char garbage[] = "hello world\nthis is not a pressure export\n";
    cr_expect_eq(rm_import_detect_bytes(garbage, sizeof garbage - 1, "x.csv"), RM_IMPORT_UNKNOWN);
    const uint8_t bin[] = {0x89, 'H', 'D', 'F', 0, 1, 2, 3};
    cr_expect_eq(rm_import_detect_bytes(bin, sizeof bin, "x.asf"), RM_IMPORT_UNKNOWN);
    cr_expect_eq(rm_import_detect_bytes("", 0, "x.asf"), RM_IMPORT_UNKNOWN);
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_expect_eq(rm_import_parse_buffer(garbage, sizeof garbage - 1, "g.txt", RM_IMPORT_UNKNOWN,
                                        NULL, &r, &e),
                 RM_ERR_FORMAT);
    cr_expect(strstr(e.msg, "g.txt") != NULL, "%s", e.msg);
    cr_expect_null(r);
}

/* The importer table is the one list: names, descriptions and the list
 * text all come from it, in detection order. */
Test(import_detect, format_table)
{
    size_t n = rm_import_format_count();
    cr_assert_eq(n, 6);
    char list[256];
    size_t len = rm_import_format_list(list, sizeof list);
    cr_expect_eq(len, strlen(list));
    cr_expect_str_eq(list, "tekscan, tekscan-csv, csv, xsensor, emed, pmat");
    for (size_t i = 0; i < n; i++) {
        rm_import_format f = rm_import_format_at(i), g;
        cr_expect_neq(f, RM_IMPORT_UNKNOWN);
        cr_expect_gt(strlen(rm_import_format_description(f)), 0);
        cr_expect_eq(rm_import_format_parse(rm_import_format_name(f), &g), RM_OK);
        cr_expect_eq(g, f);
    }
    cr_expect_eq(rm_import_format_at(n), RM_IMPORT_UNKNOWN);
    cr_expect_str_eq(rm_import_format_description(RM_IMPORT_UNKNOWN), "");
    char small[8];
    cr_expect_eq(rm_import_format_list(small, sizeof small), len);
    cr_expect_str_eq(small, "tekscan");
}

/* Line ends: LF, CRLF and lone CR (old Mac) give the same result and the
 * same detection; a byte-order mark changes nothing. */
Test(import_detect, line_endings_and_bom)
{
    for (size_t i = 0; i < N_FIXTURES; i++) {
        uint8_t *data;
        size_t len;
        cr_assert_eq(rm_test_read_file(fixtures[i].file, &data, &len), 0);
        char *lf = malloc(len + 3), *cr = malloc(len + 3), *bom = malloc(len + 3);
        cr_assert(lf && cr && bom);
        size_t m = 0;
        for (size_t k = 0; k < len; k++) /* normalise to LF first (pmat is CRLF) */
            if (!(data[k] == '\r' && k + 1 < len && data[k + 1] == '\n'))
                lf[m++] = (char)data[k];
        for (size_t k = 0; k < m; k++)
            cr[k] = lf[k] == '\n' ? '\r' : lf[k];
        memcpy(bom, "\xEF\xBB\xBF", 3);
        memcpy(bom + 3, lf, m);
        const char *bufs[3] = {lf, cr, bom};
        size_t lens[3] = {m, m, m + 3};
        rm_import_result *r[3] = {NULL, NULL, NULL};
        for (int v = 0; v < 3; v++) {
            cr_expect_eq(rm_import_detect_bytes(bufs[v], lens[v], "x.txt"), fixtures[i].fmt,
                         "%s variant %d", fixtures[i].file, v);
            rm_err e = {0};
            rm_status st =
                rm_import_parse_buffer(bufs[v], lens[v], "v.txt", fixtures[i].fmt, NULL, &r[v], &e);
            cr_expect_eq(st, RM_OK, "%s variant %d: %s", fixtures[i].file, v, e.msg);
        }
        for (int v = 1; v < 3; v++) {
            if (!r[0] || !r[v])
                continue;
            size_t per = (size_t)r[0]->device.rows * r[0]->device.cols;
            cr_expect_eq(r[v]->n_frames, r[0]->n_frames, "%s variant %d", fixtures[i].file, v);
            if (r[v]->n_frames == r[0]->n_frames)
                cr_expect_eq(memcmp(r[v]->kpa, r[0]->kpa, r[0]->n_frames * per * sizeof(float)), 0,
                             "%s variant %d", fixtures[i].file, v);
        }
        for (int v = 0; v < 3; v++)
            rm_import_result_free(r[v]);
        free(lf);
        free(cr);
        free(bom);
        free(data);
    }
}

/* ---- malformed inputs ---- */

static void expect_error(const char *text, rm_import_format fmt, rm_status want,
                         const char *must_contain)
{
    rm_err e = {0};
    rm_import_result *r = NULL;
    rm_status st = rm_import_parse_buffer(text, strlen(text), "bad.txt", fmt, NULL, &r, &e);
    cr_expect_eq(st, want, "%s: got %s (%s), want %s", rm_import_format_name(fmt),
                 rm_status_name(st), e.msg, rm_status_name(want));
    cr_expect_null(r);
    if (r)
        rm_import_result_free(r);
    cr_expect(strncmp(e.msg, "bad.txt: ", 9) == 0, "message names the input: %s", e.msg);
    if (must_contain)
        cr_expect(strstr(e.msg, must_contain) != NULL, "'%s' lacks '%s'", e.msg, must_contain);
}

#define TK_HEAD                                                                                    \
    "DATA_TYPE MOVIE\nROWS 2\nCOLS 3\nROW_SPACING 5 mm\nCOL_SPACING 0.5 cm\n"                      \
    "SECONDS_PER_FRAME 0.01\nUNITS KPa\nASCII_DATA @@\n\n"

Test(import_malformed, tekscan)
{
    /* a good one first */
    const char *good = TK_HEAD "Frame 1\nB,1,2\n3,4,5\n\nFrame 2\nB,1,2.5\n3,4,6\n@@\n";
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_assert_eq(
        rm_import_parse_buffer(good, strlen(good), "ok.asf", RM_IMPORT_UNKNOWN, NULL, &r, &e),
        RM_OK, "%s", e.msg);
    cr_expect_eq(r->n_frames, 2);
    cr_expect_float_eq(r->device.col_pitch_mm, 5.0, 1e-9);
    cr_expect_eq(r->mask[0], 0);
    cr_expect_float_eq(at(r, 1, 0, 2), 2.5f, 1e-6);
    cr_expect_float_eq(r->scale_kpa, 0.1, 1e-12); /* one decimal seen */
    rm_import_result_free(r);

    expect_error(TK_HEAD "Frame 1\nB,1,2\n3,4\n@@\n", RM_IMPORT_TEKSCAN, RM_ERR_LENGTH,
                 "line 12: expected 3 values, found 2");
    expect_error(TK_HEAD "Frame 1\nB,1,2\n", RM_IMPORT_TEKSCAN, RM_ERR_TRUNCATED, "line 11");
    expect_error(TK_HEAD "Frame 1\nB,1,2\nFrame 2\n", RM_IMPORT_TEKSCAN, RM_ERR_TRUNCATED,
                 "line 12");
    expect_error(TK_HEAD "Frame 1\nB,x,2\n3,4,5\n", RM_IMPORT_TEKSCAN, RM_ERR_FORMAT,
                 "line 11: value 2 'x' is not a number");
    expect_error(TK_HEAD "Frame 1\nB,-1,2\n3,4,5\n", RM_IMPORT_TEKSCAN, RM_ERR_VALUE, "line 11");
    expect_error(TK_HEAD "Frame 1\nB,nan,2\n3,4,5\n", RM_IMPORT_TEKSCAN, RM_ERR_FORMAT, "line 11");
    expect_error("DATA_TYPE MOVIE\nROWS 100000\nCOLS 3\n", RM_IMPORT_TEKSCAN, RM_ERR_FORMAT,
                 "line 2: ROWS");
    expect_error("DATA_TYPE MOVIE\nROWS 2\nCOLS 3\nUNITS furlongs\n", RM_IMPORT_TEKSCAN,
                 RM_ERR_UNSUPPORTED, "line 4: unknown UNITS");
    expect_error("DATA_TYPE MOVIE\nCOLS 3\nFrame 1\n1,2,3\n", RM_IMPORT_TEKSCAN, RM_ERR_FORMAT,
                 "line 3: frame data before ROWS and COLS");
    expect_error(TK_HEAD "@@\n", RM_IMPORT_TEKSCAN, RM_ERR_FORMAT, "no 'Frame N'");
    /* the header's frame range is a cross-check, not an allocation */
    expect_error("DATA_TYPE MOVIE\nROWS 1\nCOLS 1\nROW_SPACING 1 mm\nCOL_SPACING 1 mm\n"
                 "SECONDS_PER_FRAME 1\nUNITS KPa\nSTART_FRAME 1\nEND_FRAME 4000000000\n"
                 "Frame 1\n1\n@@\n",
                 RM_IMPORT_TEKSCAN, RM_ERR_FORMAT, "END_FRAME");
    expect_error("DATA_TYPE MOVIE\nROWS 1\nCOLS 1\nROW_SPACING 1 mm\nCOL_SPACING 1 mm\n"
                 "SECONDS_PER_FRAME 1\nUNITS KPa\nSTART_FRAME 1\nEND_FRAME 3\nFrame 1\n1\n@@\n",
                 RM_IMPORT_TEKSCAN, RM_ERR_TRUNCATED, "found 1 frames");
    /* no frame period anywhere */
    expect_error("DATA_TYPE MOVIE\nROWS 1\nCOLS 1\nROW_SPACING 1 mm\nCOL_SPACING 1 mm\n"
                 "UNITS KPa\nFrame 1\n1\n@@\n",
                 RM_IMPORT_TEKSCAN, RM_ERR_FORMAT, "frame rate unknown");
}

Test(import_malformed, xsensor)
{
    const char *head = "Units:,mmHg,,\nThreshold:,1,,\nFRAME,7,,\nTime, 08:00:00.000,,\n"
                       "SENSOR,X1 S1,,\nRows,2,,\nColumns,2,,\nSensel Width (cm),1,,\n"
                       "Sensel Height (cm),1,,\nEst. Load (N),3,,\nSENSELS,,,\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s1,2,,\n3,4,,\n", head);
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_assert_eq(rm_import_parse_buffer(buf, strlen(buf), "ok.csv", RM_IMPORT_UNKNOWN,
                                        &(rm_import_options){.rate_hz = 10}, &r, &e),
                 RM_OK, "%s", e.msg);
    cr_expect_eq(r->format, RM_IMPORT_XSENSOR);
    cr_expect_eq(r->n_frames, 1);
    cr_expect_float_eq(at(r, 0, 1, 1), (float)(4 * 0.133322), 1e-6);
    cr_expect_float_eq(r->device.row_pitch_mm, 10.0, 1e-9);
    cr_expect_not_null(ref(r, "sensor1_est_load_n"));
    rm_import_result_free(r);

    snprintf(buf, sizeof buf, "%s1,2,,\n3,,\n", head);
    expect_error(buf, RM_IMPORT_XSENSOR, RM_ERR_LENGTH, "line 13: expected 2 values, found 1");
    snprintf(buf, sizeof buf, "%s1,2,,\n", head);
    expect_error(buf, RM_IMPORT_XSENSOR, RM_ERR_TRUNCATED, "1 of 2 rows");
    snprintf(buf, sizeof buf, "%s1,2,,\n3,4,,\nFRAME,8,,\nSENSOR,X2 S1,,\n", head);
    expect_error(buf, RM_IMPORT_XSENSOR, RM_ERR_FORMAT, "line 15: sensor 1 is 'X2 S1'");
    expect_error("Units:,mmHg\nFRAME,1\nSENSOR,a\nRows,999\n", RM_IMPORT_XSENSOR, RM_ERR_FORMAT,
                 "line 4: Rows");
    expect_error("Units:,mmHg\nFRAME,1\nSENSOR,a\nSENSELS\n", RM_IMPORT_XSENSOR, RM_ERR_FORMAT,
                 "line 4: SENSELS before Rows");
    expect_error("Units:,bananas\n", RM_IMPORT_XSENSOR, RM_ERR_UNSUPPORTED, "line 1");
    expect_error("Units:,mmHg\n1,2,3\n", RM_IMPORT_XSENSOR, RM_ERR_FORMAT, "line 2");
}

Test(import_malformed, emed)
{
    const char *head = "\tFile: C:\\x\\1.dat \tMatrix: 4x3 \n\tSensor area: 1 cm\xb2\t"
                       "Time/picture:20.0 ms\n\tSensor size: 1.000x1.000 cm\n"
                       "\tPict-No.: 1  Force[N]=sum*sensor_area in row/column\n\n"
                       "\t2\t3\tForce\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s1\t1.00\t2.00\t0.30\n3\t3.00\t4.00\t0.70\nForce\t0.4\t0.6\t1.00\n",
             head);
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_assert_eq(
        rm_import_parse_buffer(buf, strlen(buf), "ok.lst", RM_IMPORT_UNKNOWN, NULL, &r, &e), RM_OK,
        "%s", e.msg);
    cr_expect_eq(r->format, RM_IMPORT_EMED);
    cr_expect_eq(r->device.rows, 3);
    cr_expect_eq(r->device.cols, 4);
    cr_expect_float_eq(r->device.rate_hz, 50.0, 1e-9);
    cr_expect_float_eq(at(r, 0, 2, 2), 4.0f, 1e-6);
    cr_expect_float_eq(at(r, 0, 0, 1), 1.0f, 1e-6);
    cr_expect_float_eq(at(r, 0, 1, 1), 0.0f, 1e-6);
    cr_expect_not_null(ref(r, "force_n"));
    rm_import_result_free(r);

    snprintf(buf, sizeof buf, "%s1\t1.00\t0.30\n", head);
    expect_error(buf, RM_IMPORT_EMED, RM_ERR_LENGTH, "line 7: expected 3 values, found 2");
    snprintf(buf, sizeof buf, "%s9\t1.00\t2.00\t0.30\n", head);
    expect_error(buf, RM_IMPORT_EMED, RM_ERR_RANGE, "line 7: row label '9'");
    snprintf(buf, sizeof buf, "%s1\t1.00\t2.00\t0.30\n", head);
    expect_error(buf, RM_IMPORT_EMED, RM_ERR_TRUNCATED, "inside picture 1");
    expect_error("\tMatrix: 999x3\n", RM_IMPORT_EMED, RM_ERR_FORMAT, "line 1: Matrix");
    expect_error("\tPict-No.: 1\n", RM_IMPORT_EMED, RM_ERR_FORMAT, "line 1: picture before");
}

Test(import_malformed, pmat)
{
    char *line = malloc(2048 * 4 + 8);
    cr_assert_not_null(line);
    size_t n = 0;
    for (int i = 0; i < 2047; i++)
        n += (size_t)sprintf(line + n, "%d\t", i % 1000);
    sprintf(line + n, "7\n");
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_assert_eq(
        rm_import_parse_buffer(line, strlen(line), "ok.txt", RM_IMPORT_UNKNOWN, NULL, &r, &e),
        RM_OK, "%s", e.msg);
    cr_expect_eq(r->format, RM_IMPORT_PMAT);
    cr_expect_float_eq(r->kpa[2047], (float)(0.7 * 0.133322), 1e-6);
    rm_import_result_free(r);
    line[n] = '\0'; /* 2047 values */
    expect_error(line, RM_IMPORT_PMAT, RM_ERR_LENGTH, "line 1: expected 2048 values, found 2047");
    line[4] = 'z';
    sprintf(line + n, "7\n");
    expect_error(line, RM_IMPORT_PMAT, RM_ERR_FORMAT, "line 1: value");
    expect_error("\n\n", RM_IMPORT_PMAT, RM_ERR_FORMAT, "no frames");
    free(line);
}

Test(import_malformed, empty_binary_garbage)
{
    static const rm_import_format fmts[] = {RM_IMPORT_TEKSCAN, RM_IMPORT_TEKSCAN_CSV,
                                            RM_IMPORT_XSENSOR, RM_IMPORT_EMED,
                                            RM_IMPORT_PMAT,    RM_IMPORT_CSV};
    const char bin[] = "ROWS 2\nCOLS\0\x01\x02\xff\n";
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        rm_err e = {0};
        rm_import_result *r = NULL;
        rm_status st = rm_import_parse_buffer("", 0, "empty.x", fmts[i], NULL, &r, &e);
        cr_expect_neq(st, RM_OK);
        cr_expect(strstr(e.msg, "empty.x") != NULL, "%s", e.msg);
        st = rm_import_parse_buffer(bin, sizeof bin - 1, "bin.x", fmts[i], NULL, &r, &e);
        cr_expect_neq(st, RM_OK, "%s accepted binary", rm_import_format_name(fmts[i]));
        cr_expect(strstr(e.msg, "bin.x") != NULL, "%s", e.msg);
        const char *garbage = "lorem ipsum\n\xc3\x28 dolor\n,,,,\n";
        st = rm_import_parse_buffer(garbage, strlen(garbage), "junk.x", fmts[i], NULL, &r, &e);
        cr_expect_neq(st, RM_OK, "%s accepted garbage", rm_import_format_name(fmts[i]));
        cr_expect(strstr(e.msg, "junk.x") != NULL, "%s", e.msg);
        cr_expect_null(r);
    }
    /* binary through detection: a named error */
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_expect_eq(
        rm_import_parse_buffer(bin, sizeof bin - 1, "bin.h5", RM_IMPORT_UNKNOWN, NULL, &r, &e),
        RM_ERR_FORMAT);
}

/* Every fixture cut at many offsets: a result or a named error, never a
 * crash (ASan/UBSan watch). */
Test(import_malformed, truncated_fixtures)
{
    for (size_t i = 0; i < N_FIXTURES; i++) {
        uint8_t *data;
        size_t len;
        cr_assert_eq(rm_test_read_file(fixtures[i].file, &data, &len), 0);
        int errors = 0;
        for (int k = 1; k < 24; k++) {
            size_t cut = len * (size_t)k / 24 + (size_t)k * 7;
            if (cut >= len)
                cut = len - 1;
            rm_err e = {0};
            rm_import_result *r = NULL;
            rm_status st =
                rm_import_parse_buffer(data, cut, "cut.txt", fixtures[i].fmt, NULL, &r, &e);
            if (st != RM_OK) {
                errors++;
                cr_expect(strncmp(e.msg, "cut.txt: ", 9) == 0, "%s", e.msg);
                cr_expect_null(r);
            } else {
                cr_expect_gt(r->n_frames, 0);
                rm_import_result_free(r);
            }
        }
        /* cuts inside a frame must be noticed (pmat cuts inside a line give
         * a short line; the others' inside a block) */
        cr_expect_gt(errors, 0, "%s: no truncation noticed", fixtures[i].file);
        free(data);
    }
}

/* ---- plain CSV ---- */

Test(import_csv, frame_per_line_and_blocks)
{
    const char *a = "# rollmat-csv 1\nrows=2\ncols=3\nrow_pitch_mm=10\ncol_pitch_mm=12\n"
                    "rate_hz=50\nunits=mmHg\ntitle=bench test\ncreated=2026-01-02T03:04:05Z\n"
                    "B,1,2,3,4,5\nB;1.5;2 3 4 5\n";
    rm_err e = {0};
    rm_import_result *r = NULL;
    cr_assert_eq(rm_import_parse_buffer(a, strlen(a), "lab.txt", RM_IMPORT_UNKNOWN, NULL, &r, &e),
                 RM_OK, "%s", e.msg);
    cr_expect_eq(r->format, RM_IMPORT_CSV);
    cr_expect_eq(r->n_frames, 2);
    cr_expect_eq(r->mask[0], 0);
    cr_expect_float_eq(at(r, 1, 0, 1), (float)(1.5 * 0.133322), 1e-6);
    cr_expect_float_eq(r->time_s[1], 0.02, 1e-12);
    cr_expect_str_eq(r->header.title, "bench test");
    cr_expect_str_eq(r->header.created, "2026-01-02T03:04:05Z");
    cr_expect_float_eq(r->device.col_pitch_mm, 12.0, 1e-12);
    rm_import_result_free(r);

    const char *b = "rows=2\ncols=2\npitch_mm=5\nrate_hz=10\nunits=raw\nraw_kpa=0.5\n"
                    "1 2\n3 4\n\n5 6\n7 8\n";
    cr_assert_eq(rm_import_parse_buffer(b, strlen(b), "lab.dat", RM_IMPORT_UNKNOWN, NULL, &r, &e),
                 RM_OK, "%s", e.msg);
    cr_expect_eq(r->n_frames, 2);
    cr_expect(r->calibrated);
    cr_expect_float_eq(at(r, 1, 1, 1), 4.0f, 1e-6);
    rm_import_result_free(r);

    const char *c = "rows=1\ncols=2\npitch_mm=5\ntime=first\nunits=kPa\n"
                    "0.0,1,2\n0.5,3,4\n1.5,5,6\n";
    cr_assert_eq(rm_import_parse_buffer(c, strlen(c), "t.csv", RM_IMPORT_CSV, NULL, &r, &e), RM_OK,
                 "%s", e.msg);
    cr_expect_float_eq(r->time_s[2], 1.5, 1e-12);
    cr_expect_float_eq(r->device.rate_hz, 2.0 / 1.5, 1e-9);
    rm_import_result_free(r);

    /* A unit name longer than any buffer, blanks inside ("ra ... w" reads as
     * raw): the unit checked at units= is the unit used for the values (the
     * fuzzer found a 32-byte copy naming no unit, and an unset scale). */
    char longunit[400];
    snprintf(longunit, sizeof longunit,
             "rows=2\ncols=2\npitch_mm=5\nrate_hz=10\nunits=ra%*sw\nraw_kpa=0.5\n"
             "1 2\n3 4\n\n5 6\n7 8\n",
             200, "");
    cr_assert_eq(rm_import_parse_buffer(longunit, strlen(longunit), "t.csv", RM_IMPORT_CSV, NULL,
                                        &r, &e),
                 RM_OK, "%s", e.msg);
    cr_expect_float_eq(r->unit_kpa, 0.5, 1e-12);
    cr_expect_float_eq(at(r, 1, 1, 1), 4.0f, 1e-6);
    cr_expect(r->scale_kpa > 1e-9 && r->scale_kpa < 1.0, "scale %g", r->scale_kpa);
    rm_import_result_free(r);

    expect_error("rows=2\ncols=2\npitch_mm=1\nrate_hz=1\nunits=kPa\n1 2\n", RM_IMPORT_CSV,
                 RM_ERR_TRUNCATED, "1 of 2 rows");
    expect_error("rows=2\ncols=2\npitch_mm=1\nrate_hz=1\nunits=kPa\n1 2 3\n", RM_IMPORT_CSV,
                 RM_ERR_LENGTH, "line 6: expected 4 values (a frame) or 2 (a row), found 3");
    expect_error("rows=2\ncols=2\nrate=1\n", RM_IMPORT_CSV, RM_ERR_FORMAT,
                 "line 3: unknown key 'rate'");
    expect_error("rows=2\ncols=2\n1 2 3 4\n", RM_IMPORT_CSV, RM_ERR_FORMAT,
                 "line 3: data before units=");
    expect_error("rows=2\ncols=2\nunits=kPa\n1 2 3 4\n", RM_IMPORT_CSV, RM_ERR_FORMAT, "pitch");
    expect_error("rows=0\n", RM_IMPORT_CSV, RM_ERR_FORMAT, "line 1: rows");
    expect_error("rows=1\ncols=1\npitch_mm=1\ntime=first\nunits=kPa\n2,1\n1,1\n", RM_IMPORT_CSV,
                 RM_ERR_FORMAT, "goes back");
}

/* ---- packet source ---- */

typedef struct count_sink {
    int order_ok;
    rm_packet_type last;
    size_t frames;
    int header, device, calib, end, finished;
    uint16_t rows, cols;
} count_sink;

static rm_status count_receive(void *ctx, const rm_packet *p, rm_err *err)
{
    count_sink *c = ctx;
    if (p->type < c->last)
        c->order_ok = 0;
    c->last = p->type == RM_PKT_EVENT ? RM_PKT_FRAME : p->type;
    switch (p->type) {
    case RM_PKT_HEADER: c->header++; break;
    case RM_PKT_DEVICE:
        c->device++;
        c->rows = p->u.device->rows;
        c->cols = p->u.device->cols;
        break;
    case RM_PKT_CALIB: c->calib++; break;
    case RM_PKT_FRAME:
        if (p->u.frame->rows != c->rows || p->u.frame->cols != c->cols)
            c->order_ok = 0;
        c->frames++;
        break;
    case RM_PKT_END: c->end++; break;
    default: break;
    }
    return RM_OK;
}

static rm_status count_finish(void *ctx, rm_err *err)
{
    ((count_sink *)ctx)->finished++;
    return RM_OK;
}

Test(import_source, emits_packets_in_order)
{
    rm_import_result *r = load(EXT "fscan_testL.asf", RM_IMPORT_TEKSCAN);
    count_sink c = {.order_ok = 1, .last = RM_PKT_HEADER};
    rm_sink sink = {&c, count_receive, count_finish};
    rm_err e = {0};
    cr_assert_eq(rm_import_emit(r, &sink, &e), RM_OK, "%s", e.msg);
    cr_expect(c.order_ok);
    cr_expect_eq(c.header, 1);
    cr_expect_eq(c.device, 1);
    cr_expect_eq(c.calib, 1);
    cr_expect_eq(c.end, 1);
    cr_expect_eq(c.finished, 1);
    cr_expect_eq(c.frames, r->n_frames);
    cr_expect_eq(c.rows, 60);
    rm_import_result_free(r);

    /* from a path; a bad path still finishes the sink */
    count_sink c2 = {.order_ok = 1, .last = RM_PKT_HEADER};
    rm_sink sink2 = {&c2, count_receive, count_finish};
    cr_assert_eq(rm_import_source(EXT "emed_test.lst", RM_IMPORT_UNKNOWN, NULL, &sink2, &e), RM_OK,
                 "%s", e.msg);
    cr_expect_eq(c2.frames, 106);
    cr_expect_eq(c2.finished, 1);
    count_sink c3 = {.order_ok = 1, .last = RM_PKT_HEADER};
    rm_sink sink3 = {&c3, count_receive, count_finish};
    cr_expect_eq(rm_import_source("/nonexistent/x.asf", RM_IMPORT_TEKSCAN, NULL, &sink3, &e),
                 RM_ERR_IO);
    cr_expect_eq(c3.header, 0);
    cr_expect_eq(c3.finished, 1);
}

/* ---- end to end: every fixture into a session file ---- */

Test(import_session, every_fixture_round_trips)
{
    char *dir = rm_test_tmpdir("import-h5");
    cr_assert_not_null(dir);
    for (size_t i = 0; i < N_FIXTURES; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%zu.h5", i);
        char *out = rm_test_path(dir, name);
        rm_err e = {0};
        rm_import_result *r = NULL;
        rm_status st =
            rm_import_to_session_ex(fixtures[i].file, out, RM_IMPORT_UNKNOWN, NULL, &r, &e);
        cr_assert_eq(st, RM_OK, "%s: %s", fixtures[i].file, rm_err_message(&e, st));
        /* never overwritten */
        st = rm_import_to_session(fixtures[i].file, out, RM_IMPORT_UNKNOWN, &e);
        cr_expect_eq(st, RM_ERR_IO);
        cr_expect(strstr(e.msg, "exists") != NULL, "%s", e.msg);

        rm_session *s = NULL;
        st = rm_session_open(out, &s, &e);
        cr_assert_eq(st, RM_OK, "%s", rm_err_message(&e, st));
        const rm_device *d = rm_session_device(s);
        const rm_header *h = rm_session_header(s);
        cr_expect_eq(d->rows, r->device.rows);
        cr_expect_eq(d->cols, r->device.cols);
        cr_expect_float_eq(d->row_pitch_mm, r->device.row_pitch_mm, 1e-9);
        cr_expect_float_eq(d->rate_hz, r->device.rate_hz, 1e-9);
        cr_expect_str_eq(h->source, r->header.source);
        cr_expect_eq(rm_session_frames(s), r->n_frames);
        cr_expect_eq(rm_session_reference_count(s), r->n_refs);
        const uint8_t *m = rm_session_mask(s);
        size_t per = (size_t)d->rows * d->cols;
        if (mask_count(r) < per) {
            cr_assert_not_null(m, "%s: mask not stored", fixtures[i].file);
            cr_expect_eq(memcmp(m, r->mask, per), 0);
        }
        /* every frame's pressure within half a count of the export */
        uint16_t *raw = malloc(per * sizeof *raw);
        float *kpa = malloc(per * sizeof *kpa);
        double worst = 0;
        for (size_t f = 0; f < r->n_frames; f++) {
            double t;
            uint32_t seq;
            cr_assert_eq(rm_session_read(s, f, 1, raw, &t, &seq, NULL, NULL, &e), RM_OK, "%s",
                         e.msg);
            cr_expect_eq(seq, r->seq[f]);
            cr_expect_float_eq(t, r->time_s[f], 1e-9);
            rm_session_pressure(s, raw, kpa);
            for (size_t k = 0; k < per; k++) {
                double err = fabs((double)kpa[k] - (double)r->kpa[f * per + k]);
                if (err > worst)
                    worst = err;
            }
        }
        cr_expect_leq(worst, r->scale_kpa * 0.5 * (1 + 1e-5) + 1e-4,
                      "%s: worst %g kPa with %g kPa per count", fixtures[i].file, worst,
                      r->scale_kpa);
        free(raw);
        free(kpa);
        rm_session_close(s);
        rm_import_result_free(r);
        free(out);
    }
    rm_test_rmtree(dir);
    free(dir);
}

Test(import_session, bad_input_leaves_no_file)
{
    char *dir = rm_test_tmpdir("import-bad");
    cr_assert_not_null(dir);
    char *in = rm_test_path(dir, "bad.asf");
    char *out = rm_test_path(dir, "bad.h5");
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs(TK_HEAD "Frame 1\nB,1,2\n3,4\n@@\n", f);
    fclose(f);
    rm_err e = {0};
    rm_status st = rm_import_to_session(in, out, RM_IMPORT_UNKNOWN, &e);
    cr_expect_eq(st, RM_ERR_LENGTH, "%s", e.msg);
    cr_expect(strstr(e.msg, "bad.asf: line 12: expected 3 values, found 2") != NULL, "%s", e.msg);
    cr_expect_neq(access(out, F_OK), 0);
    rm_test_rmtree(dir);
    free(in);
    free(out);
    free(dir);
}

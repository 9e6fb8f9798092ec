/* test_batch.c - the batch helpers: file kinds, CSV rows (quoting, NA),
 * up-to-date checks and the merge of shards. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_analysis.h"
#include "rm_batch.h"
#include "test_util.h"

static rm_results *two_sets(const char *label0)
{
    rm_results *r = rm_results_new();
    cr_assert_not_null(r);
    r->rows = 4;
    r->cols = 3;
    r->row_pitch_cm = r->col_pitch_cm = 1.27;
    snprintf(r->profile, sizeof r->profile, "guide");
    r->n_segments = 2;
    r->segments = calloc(2, sizeof *r->segments);
    cr_assert_not_null(r->segments);
    for (int k = 0; k < 2; k++) {
        rm_segment_result *s = &r->segments[k];
        s->index = k;
        s->start_s = 10.0 + 100 * k;
        s->end_s = s->start_s + 75.5;
        s->strokes = 6 + k;
        s->mean_speed_cm_s = 2.5f;
        s->body_weight_share = NAN;
        s->score = k ? 1.0f : 0.5f;
        s->set_verdict = 0;
        s->speed_verdict = 1;
        s->pass_verdict = s->hold_verdict = -2;
    }
    snprintf(r->segments[0].label, sizeof r->segments[0].label, "%s", label0);
    snprintf(r->segments[1].label, sizeof r->segments[1].label, "quads");
    return r;
}

static char *csv_of(const char *file, const rm_results *r, int header)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_not_null(m);
    if (header)
        cr_assert_eq(rm_batch_csv_header(m), 0);
    cr_assert_eq(rm_batch_csv_rows(m, file, "s01", r), 0);
    fclose(m);
    return buf;
}

Test(batch, csv_rows_quote_and_mark_missing_values)
{
    rm_results *r = two_sets("calves, \"left\"");
    /* who and when, and what the stream lost, on every row */
    snprintf(r->created, sizeof r->created, "2026-11-25T08:00:00Z");
    r->body_mass_kg = 72;
    r->frames_lost = 3;
    r->disconnects = 1;
    r->totals.gaps = 2;
    char *csv = csv_of("study/a b,c.h5", r, 1);
    /* header: every column once, in order */
    size_t ncol = 1;
    for (const char *p = csv; *p != '\n'; p++)
        ncol += *p == ',';
    cr_assert_eq(ncol, rm_batch_columns());
    cr_assert(strncmp(csv, "file,subject,segment,label,", 27) == 0);
    const char *row0 = strchr(csv, '\n') + 1;
    const char *want = "\"study/a b,c.h5\",s01,0,\"calves, \"\"left\"\"\",10,75.5,";
    cr_assert(strncmp(row0, want, strlen(want)) == 0, "%s", row0);
    cr_assert(strstr(row0, ",NA,"), "NaN written as NA: %s", row0);
    cr_assert(strstr(row0, ",inside,above,NA,NA,0.5,miss,guide,,2026-11-25T08:00:00Z,72,3,1,0,2\n"),
              "%s", row0);
    const char *row1 = strchr(row0, '\n') + 1;
    cr_assert(strstr(row1, ",1,pass,guide,,2026-11-25T08:00:00Z,72,3,1,0,2\n"), "%s", row1);
    free(csv);
    rm_results_free(r);
}

/* --per session: one row of a recording, judged as the summary page
 * judges (rm_judge.h); unknown who/when and data quality are NA. */
static char *session_row(const rm_results *r, const rm_profile *P)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_not_null(m);
    cr_assert_eq(rm_batch_csv_session_header(m), 0);
    cr_assert_eq(rm_batch_csv_session_row(m, "a.h5", "", r, P), 0);
    fclose(m);
    return buf;
}

Test(batch, session_row_totals_tally_and_na)
{
    rm_results *r = two_sets("calves");
    r->frames_lost = -1; /* unknown (an import) */
    r->totals.roller_found = 1;
    r->totals.duration_s = 200;
    r->totals.rolling_s = 100;
    r->totals.strokes = 13;
    r->totals.mean_speed_cm_s = 2.5f;
    r->totals.cadence_cpm = r->totals.mean_force_n = r->totals.peak_kpa = NAN;
    rm_profile P;
    static const char text[] = "format = rollmat-profile-1\nname = t\n"
                               "speed_cm_s = 1.5 3.5 | t\nhold_s = 20 30 | t\n"
                               "set_s = 60 120 | t\ndaily_s = 300 600 | t\n";
    rm_err e = {0};
    cr_assert_eq(rm_profile_parse(text, "test", &P, &e), RM_OK, "%s", e.msg);
    char *csv = session_row(r, &P);
    size_t ncol = 1;
    for (const char *p = csv; *p != '\n'; p++)
        ncol += *p == ',';
    cr_assert_eq(ncol, rm_batch_session_columns());
    cr_assert(strncmp(csv, "file,subject,recorded,title,", 28) == 0, "%s", csv);
    /* two sets of 75.5 s inside 60-120 (2 of 2), 2.5 cm/s inside (2 of 2),
     * no hold where one is asked (0 of 2), 100 s a day short of 300 (red):
     * 4 of 7 targets, amber, a miss */
    const char *want = "a.h5,NA,NA,NA,NA,guide,200,151,100,0,1.66667,2,13,0,0,2.5,NA,NA,NA,"
                       "below,red,speed_cm_s,2,2,2,2,0,2,4,7,0.571429,amber,miss,NA,0,0,0,"
                       "calves;quads\n";
    const char *row = strchr(csv, '\n') + 1;
    cr_assert_str_eq(row, want);
    free(csv);
    /* no profile: nothing judged, the verdicts NA (not "0 of 0", not a miss) */
    csv = session_row(r, NULL);
    row = strchr(csv, '\n') + 1;
    cr_assert(strstr(row, ",NA,NA,speed_cm_s,NA,NA,NA,NA,NA,NA,0,0,NA,NA,NA,NA,"), "%s", row);
    free(csv);
    rm_results_free(r);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(batch, merge_sorts_and_refuses_duplicates_and_foreign_csv)
{
    char *dir = rm_test_tmpdir("batch");
    rm_results *r = two_sets("calves");
    char *a = csv_of("b.h5", r, 1), *b = csv_of("a.h5", r, 1), *whole_rows = NULL;
    char *ra = csv_of("a.h5", r, 0), *rb = csv_of("b.h5", r, 0);
    char *pa = rm_test_path(dir, "a.csv"), *pb = rm_test_path(dir, "b.csv"),
         *out = rm_test_path(dir, "m.csv");
    write_text(pa, a);
    write_text(pb, b);
    const char *in[] = {pa, pb};
    rm_err err = {0};
    cr_assert_eq(rm_batch_merge(in, 2, out, &err), RM_OK, "%s", err.msg);
    uint8_t *got;
    size_t n;
    cr_assert_eq(rm_test_read_file(out, &got, &n), 0);
    /* header once, then a.h5's rows, then b.h5's */
    size_t hl = (size_t)(strchr(a, '\n') - a) + 1;
    size_t want_len = hl + strlen(ra) + strlen(rb);
    whole_rows = malloc(want_len + 1);
    memcpy(whole_rows, a, hl);
    strcpy(whole_rows + hl, ra);
    strcat(whole_rows, rb);
    cr_assert_eq(n, want_len);
    cr_assert(memcmp(got, whole_rows, n) == 0, "merged:\n%.*s", (int)n, (char *)got);
    free(got);

    const char *twice[] = {pa, pa};
    cr_assert_eq(rm_batch_merge(twice, 2, out, &err), RM_ERR_VALUE);
    cr_assert(strstr(err.msg, "b.h5") && strstr(err.msg, "a.csv"), "%s", err.msg);

    char *pc = rm_test_path(dir, "c.csv");
    write_text(pc, "file,subject\nx.h5,s\n");
    const char *bad[] = {pa, pc};
    cr_assert_eq(rm_batch_merge(bad, 2, out, &err), RM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "c.csv"), "%s", err.msg);
    /* a quote left open is named with its record */
    char *open_q = malloc(strlen(a) + 32);
    memcpy(open_q, a, hl);
    strcpy(open_q + hl, "\"x.h5,s01,0\n");
    write_text(pc, open_q);
    cr_assert_eq(rm_batch_merge(bad, 2, out, &err), RM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "c.csv: record 2"), "%s", err.msg);
    free(open_q);
    free(pc);
    free(whole_rows);
    free(a);
    free(b);
    free(ra);
    free(rb);
    free(pa);
    free(pb);
    free(out);
    rm_results_free(r);
    rm_test_rmtree(dir);
    free(dir);
}

Test(batch, file_kinds_and_up_to_date)
{
    char *dir = rm_test_tmpdir("batch");
    char *txt = rm_test_path(dir, "notes.h5"), *foreign = rm_test_path(dir, "foreign.h5"),
         *res = rm_test_path(dir, "x.results.h5"), *rec = rm_test_path(dir, "rec.h5");
    rm_file_kind k;
    rm_err err = {0};
    cr_assert_eq(rm_file_kind_of(txt, &k, &err), RM_ERR_NOT_FOUND);
    write_text(txt, "not hdf5\n");
    cr_assert_eq(rm_file_kind_of(txt, &k, &err), RM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "notes.h5") && strstr(err.msg, "not an HDF5 file"), "%s", err.msg);
    hid_t f = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert(f >= 0);
    H5Fclose(f);
    cr_assert_eq(rm_file_kind_of(foreign, &k, &err), RM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "foreign.h5") && strstr(err.msg, "conventions"), "%s", err.msg);

    cr_assert_eq(
        rm_test_system("'%s/cli/rollmat' simulate -s guide --time-scale 0.05 --rate 20 -q -o '%s'",
                       RM_BUILD_DIR, rec),
        0);
    cr_assert_eq(rm_file_kind_of(rec, &k, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(k, RM_FILE_RECORDING);

    char id[RM_BATCH_ID_LEN], id2[RM_BATCH_ID_LEN];
    cr_assert_eq(rm_batch_recording_id(rec, id, sizeof id, &err), RM_OK, "%s", err.msg);
    int current = -1;
    cr_assert_eq(rm_batch_results_current(res, id, "guide", "rollmat 9", &current, &err), RM_OK);
    cr_assert_eq(current, 0, "no results file yet");
    rm_results *r = NULL;
    cr_assert_eq(rm_analyze_session(rec, NULL, NULL, &r, &err), RM_OK, "%s", err.msg);
    snprintf(r->software, sizeof r->software, "rollmat 9");
    /* written without an identity (rollmat analyze, an older batch): not current */
    cr_assert_eq(rm_results_write(res, r, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_batch_results_current(res, id, "guide", "rollmat 9", &current, &err), RM_OK);
    cr_assert_eq(current, 0, "results without a recording identity");
    cr_assert_eq(rm_batch_results_write(res, r, id, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_file_kind_of(res, &k, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(k, RM_FILE_RESULTS);
    cr_assert_eq(rm_batch_results_current(res, id, "guide", "rollmat 9", &current, &err), RM_OK);
    cr_assert_eq(current, 1);
    cr_assert_eq(rm_batch_results_current(res, id, "behm2020", "rollmat 9", &current, &err), RM_OK);
    cr_assert_eq(current, 0, "another profile");
    cr_assert_eq(rm_batch_results_current(res, id, "guide", "rollmat 10", &current, &err), RM_OK);
    cr_assert_eq(current, 0, "another version");
    /* times say nothing: the recording made newer than its results is
     * still the same recording ... */
    struct stat st;
    cr_assert_eq(stat(res, &st), 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ts[1].tv_sec += 10;
    cr_assert_eq(utimensat(AT_FDCWD, rec, ts, 0), 0);
    cr_assert_eq(rm_batch_recording_id(rec, id2, sizeof id2, &err), RM_OK, "%s", err.msg);
    cr_assert_str_eq(id, id2);
    cr_assert_eq(rm_batch_results_current(res, id2, "guide", "rollmat 9", &current, &err), RM_OK);
    cr_assert_eq(current, 1, "same bytes, newer time");
    /* ... and one byte changed, with an older time, is another one */
    ts[1].tv_sec -= 1000;
    FILE *f2 = fopen(rec, "r+b");
    cr_assert_not_null(f2);
    fseek(f2, -1, SEEK_END);
    int last = fgetc(f2);
    fseek(f2, -1, SEEK_END);
    fputc(last ^ 1, f2);
    fclose(f2);
    cr_assert_eq(utimensat(AT_FDCWD, rec, ts, 0), 0);
    cr_assert_eq(rm_batch_recording_id(rec, id2, sizeof id2, &err), RM_OK, "%s", err.msg);
    cr_assert_str_neq(id, id2);
    cr_assert_eq(rm_batch_results_current(res, id2, "guide", "rollmat 9", &current, &err), RM_OK);
    cr_assert_eq(current, 0, "other bytes, older time");
    cr_assert_eq(rm_batch_recording_id(txt, id2, sizeof id2, &err), RM_OK, "%s", err.msg);
    cr_assert_str_eq(id2, "xxh64:381862d47df4f5ce:9", "%s", id2);
    cr_assert_eq(rm_batch_recording_id(foreign, id2, 8, &err), RM_ERR_ARG);
    char *gone = rm_test_path(dir, "gone.h5");
    cr_assert_eq(rm_batch_recording_id(gone, id2, sizeof id2, &err), RM_ERR_NOT_FOUND);
    cr_assert(strstr(err.msg, "gone.h5"), "%s", err.msg);
    free(gone);
    rm_results_free(r);
    free(txt);
    free(foreign);
    free(res);
    free(rec);
    rm_test_rmtree(dir);
    free(dir);
}

Test(batch, atomic_write_names_the_failing_path)
{
    rm_err err = {0};
    cr_assert_neq(rm_write_file_atomic("/nonexistent-dir/x.csv", "a", 1, &err), RM_OK);
    cr_assert(strstr(err.msg, "/nonexistent-dir/x.csv"), "%s", err.msg);
}

Test(batch, xxh64_matches_the_published_vectors)
{
    /* the reference implementation's values (libxxhash XXH64, seed 0) */
    cr_assert_eq(rm_batch_xxh64("", 0), 0xEF46DB3751D8E999ULL);
    cr_assert_eq(rm_batch_xxh64("a", 1), 0xD24EC4F1A98C6E5BULL);
    cr_assert_eq(rm_batch_xxh64("abc", 3), 0x44BC2CF5AD770999ULL);
    unsigned char b[771];
    for (size_t i = 0; i < 768; i++)
        b[i] = (unsigned char)i;
    memcpy(b + 768, "xyz", 3);
    cr_assert_eq(rm_batch_xxh64(b, sizeof b), 0xE921A1B45BD779F8ULL);

    /* a file longer than the reading buffer (1 MiB), with a tail: the
     * identity is the hash of the whole file in one piece */
    size_t n = 3 * (1u << 20) + 13;
    unsigned char *big = malloc(n);
    cr_assert_not_null(big);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        big[i] = (unsigned char)x;
    }
    char *dir = rm_test_tmpdir("xxh"), *p = rm_test_path(dir, "big.h5");
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(big, 1, n, f), n);
    fclose(f);
    char id[RM_BATCH_ID_LEN], want[RM_BATCH_ID_LEN];
    rm_err err = {0};
    cr_assert_eq(rm_batch_recording_id(p, id, sizeof id, &err), RM_OK, "%s", err.msg);
    snprintf(want, sizeof want, "xxh64:%016llx:%zu", (unsigned long long)rm_batch_xxh64(big, n), n);
    cr_assert_str_eq(id, want);
    free(big);
    free(p);
    rm_test_rmtree(dir);
    free(dir);
}

/* test_import_cli.c - `rollmat import`: exit statuses, one-line errors,
 * never overwriting, the summary it prints, --format overriding detection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_session.h"
#include "test_util.h"

#define EXT RM_SHARED_DIR "/data/external/"

static const char *rollmat(void)
{
    const char *p = getenv("ROLLMAT");
    return p && *p ? p : RM_BUILD_DIR "/cli/rollmat";
}

static char *slurp(const char *path)
{
    uint8_t *d;
    size_t n;
    if (rm_test_read_file(path, &d, &n) != 0)
        return NULL;
    char *s = realloc(d, n + 1);
    if (!s) {
        free(d);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

typedef struct run {
    int status;
    char *out, *err;
} run;

static run run_import(const char *dir, const char *args)
{
    run r;
    r.status = rm_test_system("cd '%s' && '%s' import %s >out.txt 2>err.txt", dir, rollmat(), args);
    char *o = rm_test_path(dir, "out.txt"), *e = rm_test_path(dir, "err.txt");
    r.out = slurp(o);
    r.err = slurp(e);
    free(o);
    free(e);
    cr_assert(r.out && r.err);
    return r;
}

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

Test(import_cli, imports_and_never_overwrites)
{
    char *dir = rm_test_tmpdir("import-cli");
    cr_assert_not_null(dir);
    run r = run_import(dir, "'" EXT "fscan_testL.asf' -o a.h5");
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    cr_expect(strstr(r.out, "205 frames") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "60 x 21") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "31.25 Hz") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "tekscan") != NULL, "%s", r.out);
    run_free(&r);
    char *h5 = rm_test_path(dir, "a.h5");
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(rm_session_frames(s), 205);
    cr_expect_str_eq(rm_session_header(s)->source, "import:tekscan");
    rm_session_close(s);

    /* a second import onto the same file: refused, file untouched */
    long before = -1;
    FILE *f = fopen(h5, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    before = ftell(f);
    fclose(f);
    r = run_import(dir, "'" EXT "pmat_S1_1.txt' -o a.h5");
    cr_expect_eq(r.status, 1);
    cr_expect_eq(lines(r.err), 1, "%s", r.err);
    cr_expect(strstr(r.err, "rollmat import: ") == r.err, "%s", r.err);
    cr_expect(strstr(r.err, "exists") != NULL, "%s", r.err);
    run_free(&r);
    f = fopen(h5, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    cr_expect_eq(ftell(f), before);
    fclose(f);
    free(h5);
    rm_test_rmtree(dir);
    free(dir);
}

Test(import_cli, usage_errors_exit_2)
{
    char *dir = rm_test_tmpdir("import-cli2");
    cr_assert_not_null(dir);
    static const char *const bad[] = {
        "'" EXT "fscan_testL.asf'",                        /* no -o */
        "-o x.h5",                                         /* no input */
        "'" EXT "fscan_testL.asf' -o x.h5 --format excel", /* unknown format */
        "'" EXT "fscan_testL.asf' -o x.h5 --bogus",        /* unknown option */
        "'" EXT "fscan_testL.asf' -o x.h5 --rate fast",    /* not a number */
        "'" EXT "fscan_testL.asf' -o x.h5 --pitch -3",     /* out of range */
        "'" EXT "fscan_testL.asf' b.asf -o x.h5",          /* two inputs */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run r = run_import(dir, bad[i]);
        cr_expect_eq(r.status, 2, "%s: status %d", bad[i], r.status);
        cr_expect(strstr(r.err, "rollmat import: ") == r.err, "%s: %s", bad[i], r.err);
        run_free(&r);
        char *x = rm_test_path(dir, "x.h5");
        cr_expect_neq(access(x, F_OK), 0, "%s left a file", bad[i]);
        free(x);
    }
    run r = run_import(dir, "--help");
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "usage: rollmat import") != NULL);
    run_free(&r);
    rm_test_rmtree(dir);
    free(dir);
}

Test(import_cli, bad_files_exit_1_with_one_line)
{
    char *dir = rm_test_tmpdir("import-cli3");
    cr_assert_not_null(dir);
    char *p = rm_test_path(dir, "bad.asf");
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("DATA_TYPE MOVIE\nROWS 2\nCOLS 3\nROW_SPACING 5 mm\nCOL_SPACING 5 mm\n"
          "SECONDS_PER_FRAME 0.1\nUNITS KPa\nFrame 1\n1,2,3\n4,5\n",
          f);
    fclose(f);
    free(p);
    p = rm_test_path(dir, "junk.bin");
    f = fopen(p, "wb");
    cr_assert_not_null(f);
    fwrite("\x89HDF\r\n\x1a\n\0\0\0", 1, 11, f);
    fclose(f);
    free(p);
    static const struct {
        const char *args;
        const char *says;
    } cases[] = {
        {"bad.asf -o o.h5", "bad.asf: line 10: expected 3 values, found 2"},
        {"junk.bin -o o.h5", "junk.bin"},
        {"missing.asf -o o.h5", "missing.asf"},
        /* --format overrides detection: pmat read as emed finds nothing */
        {"'" EXT "pmat_S1_1.txt' --format emed -o o.h5", "no 'Pict-No.'"},
        {"'" EXT "fscan_testL.asf' --format xsensor -o o.h5", "fscan_testL.asf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run r = run_import(dir, cases[i].args);
        cr_expect_eq(r.status, 1, "%s: status %d", cases[i].args, r.status);
        cr_expect_eq(lines(r.err), 1, "%s: %s", cases[i].args, r.err);
        cr_expect(strstr(r.err, cases[i].says) != NULL, "%s: '%s' lacks '%s'", cases[i].args, r.err,
                  cases[i].says);
        run_free(&r);
        char *o = rm_test_path(dir, "o.h5");
        cr_expect_neq(access(o, F_OK), 0, "%s left o.h5", cases[i].args);
        free(o);
    }
    /* --format with a compatible reader: the I-Scan CSV read as the .asf variant */
    run r = run_import(dir, "'" EXT "iscan_test.csv' --format tekscan -o ok.h5");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "as tekscan:") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "uncalibrated") != NULL, "%s", r.out);
    run_free(&r);
    rm_test_rmtree(dir);
    free(dir);
}

/* test_vmat_cli.c - `rollmat simulate` end to end: the stream it writes is
 * every frame, each checking out against the protocol; same seed, same
 * bytes; the truth file parses; options and scenarios fail clearly. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_proto.h"
#include "test_util.h"

static const char *rollmat(void)
{
    const char *p = getenv("ROLLMAT");
    if (!p || !*p)
        p = RM_BUILD_DIR "/cli/rollmat";
    return p;
}

static int run(const char *dir, const char *args, const char *out_name)
{
    return rm_test_system("cd '%s' && '%s' simulate %s >'%s' 2>&1", dir, rollmat(), args, out_name);
}

static char *slurp_text(const char *dir, const char *name)
{
    char *p = rm_test_path(dir, name);
    uint8_t *d = NULL;
    size_t n = 0;
    cr_assert_eq(rm_test_read_file(p, &d, &n), 0, "cannot read %s", p);
    free(p);
    char *s = malloc(n + 1);
    memcpy(s, d, n);
    s[n] = '\0';
    free(d);
    return s;
}

Test(simulate, stream_truth_and_determinism)
{
    char *dir = rm_test_tmpdir("simulate");
    cr_assert_eq(run(dir,
                     "--scenario rushed --time-scale 0.05 --seed 3 --stream a.bin --truth t.json",
                     "out1.txt"),
                 0);
    cr_assert_eq(
        run(dir, "--scenario rushed --time-scale 0.05 --seed 3 --stream b.bin -q", "out2.txt"), 0);
    cr_assert_eq(run(dir, "-s rushed --time-scale 0.05 --seed 4 --stream c.bin -q", "out3.txt"), 0);
    char *pa = rm_test_path(dir, "a.bin"), *pb = rm_test_path(dir, "b.bin"),
         *pc = rm_test_path(dir, "c.bin");
    uint8_t *a, *b, *c;
    size_t la, lb, lc;
    cr_assert_eq(rm_test_read_file(pa, &a, &la), 0);
    cr_assert_eq(rm_test_read_file(pb, &b, &lb), 0);
    cr_assert_eq(rm_test_read_file(pc, &c, &lc), 0);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(a, b, la) == 0, "same seed, different bytes");
    cr_assert(la != lc || memcmp(a, c, la) != 0, "different seeds, same bytes");

    /* every frame decodes, seq counts up from 0 without gaps */
    size_t pos = 0;
    uint32_t want = 0;
    uint16_t raw[64 * 48];
    while (pos < la) {
        rm_frame_header h;
        size_t flen;
        rm_err e = {0};
        cr_assert_eq(rm_frame_decode(a + pos, la - pos, &h, raw, 64 * 48, &flen, NULL, &e), RM_OK,
                     "at byte %zu: %s", pos, e.msg);
        cr_assert_eq(h.seq, want);
        cr_assert_eq(h.rows, 64);
        cr_assert_eq(h.cols, 48);
        cr_assert_eq(h.flags & RM_FLAG_DROPPED_BEFORE, 0);
        want++;
        pos += flen;
    }
    cr_assert_gt(want, 100);

    char *summary = slurp_text(dir, "out1.txt");
    char expect[64];
    snprintf(expect, sizeof expect, "frames: %u at 100 Hz", want);
    cr_expect(strstr(summary, expect) != NULL, "summary lacks '%s':\n%s", expect, summary);
    cr_expect(strstr(summary, "segments: 5") != NULL, "%s", summary);
    cr_expect(strstr(summary, "corrupt 0, truncated 0, dropped 0") != NULL, "%s", summary);
    free(summary);

    char *tp = rm_test_path(dir, "t.json");
    json_error_t je;
    json_t *root = json_load_file(tp, 0, &je);
    cr_assert_not_null(root, "truth: %s", je.text);
    cr_expect_eq(json_integer_value(json_object_get(root, "frames")), (json_int_t)want);
    cr_expect_eq(json_array_size(json_object_get(json_object_get(root, "series"), "time_s")), want);
    cr_expect_eq(json_array_size(json_object_get(root, "segments")), 5);
    cr_expect_eq(json_array_size(json_object_get(root, "holds")), 0, "rushed has no holds");
    cr_expect_gt(json_array_size(json_object_get(root, "strokes")), 30);
    json_decref(root);

    free(tp);
    free(a);
    free(b);
    free(c);
    free(pa);
    free(pb);
    free(pc);
    rm_test_rmtree(dir);
    free(dir);
}

Test(simulate, faults_option_and_rate)
{
    char *dir = rm_test_tmpdir("simulate-faults");
    cr_assert_eq(run(dir,
                     "--scenario rushed --time-scale 0.05 --rate 200 "
                     "--fault corrupt=0.05,truncate=0.05,garbage=0.05,drop=0.05 --stream f.bin",
                     "out.txt"),
                 0);
    char *summary = slurp_text(dir, "out.txt");
    cr_expect(strstr(summary, "at 200 Hz") != NULL, "%s", summary);
    cr_expect(strstr(summary, "corrupt 0,") == NULL, "no corrupt frames injected:\n%s", summary);
    free(summary);
    rm_test_rmtree(dir);
    free(dir);
}

Test(simulate, session_output)
{
    char *dir = rm_test_tmpdir("simulate-h5");
    int rc = run(dir, "--scenario faulty --time-scale 0.02 -o s.h5 -q", "out.txt");
    char *summary = slurp_text(dir, "out.txt");
    cr_assert_eq(rc, 0, "%s", summary);
    free(summary);
    char *p = rm_test_path(dir, "s.h5");
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_gt(st.st_size, 1000);
    /* an existing recording is never overwritten */
    cr_expect_eq(run(dir, "--scenario faulty --time-scale 0.02 -o s.h5 -q", "out2.txt"), 1);
    free(p);
    rm_test_rmtree(dir);
    free(dir);
}

Test(simulate, usage_and_runtime_errors)
{
    char *dir = rm_test_tmpdir("simulate-err");
    cr_expect_eq(run(dir, "", "e1.txt"), 2, "no --scenario");
    cr_expect_eq(run(dir, "--scenario guide --rate 5", "e2.txt"), 2);
    cr_expect_eq(run(dir, "--scenario guide --fault explode=0.1", "e3.txt"), 2);
    cr_expect_eq(run(dir, "--scenario guide --seed -1", "e4.txt"), 2);
    cr_expect_eq(run(dir, "--scenario guide extra", "e5.txt"), 2);
    cr_expect_eq(run(dir, "--help", "e6.txt"), 0);
    char *help = slurp_text(dir, "e6.txt");
    cr_expect(strstr(help, "--scenario") != NULL);
    free(help);
    cr_expect_eq(run(dir, "--scenario no-such-routine", "e7.txt"), 1);
    char *msg = slurp_text(dir, "e7.txt");
    cr_expect(strstr(msg, "rollmat simulate: ") == msg, "%s", msg);
    cr_expect(strstr(msg, "no-such-routine.json") != NULL, "%s", msg);
    cr_expect(strchr(msg, '\n') == msg + strlen(msg) - 1, "one line: %s", msg);
    free(msg);
    char *bad = rm_test_path(dir, "bad.json");
    FILE *f = fopen(bad, "w");
    free(bad);
    cr_assert_not_null(f);
    fputs("{\"segments\": [{\"label\": \"calves\", \"phases\": [{\"roll\": {\"from_cm\": 10, "
          "\"to_cm\": 30, \"speed_cm_s\": 0}}]}]}",
          f);
    fclose(f);
    cr_expect_eq(run(dir, "--scenario ./bad.json", "e8.txt"), 1);
    msg = slurp_text(dir, "e8.txt");
    cr_expect(strstr(msg, "bad.json: segments[0].phases[0].roll.speed_cm_s") != NULL, "%s", msg);
    free(msg);
    cr_expect_eq(
        run(dir, "--scenario guide --time-scale 0.01 --stream /nonexistent/dir/x.bin", "e9.txt"),
        1);
    rm_test_rmtree(dir);
    free(dir);
}

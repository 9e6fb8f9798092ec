/* bench_analysis - the per-frame cost of rm_analysis_push.
 *
 *   bench_analysis RECORDING.h5 [--runs R] [--frames N] [--finish]
 *
 * Reads the recording's frames into memory first (so neither HDF5 nor
 * inflating is timed), then R times (default 7): a fresh analysis, every
 * frame pushed, the analysis freed. Prints the median and the fastest run
 * in ns per frame of thread CPU time (on a busy machine wall time overstates
 * cost) and of wall time. --frames N pushes only the first N frames (for
 * `valgrind --tool=callgrind`, whose instruction counts repeat exactly
 * where times do not); --finish also times rm_analysis_finish per run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_analysis.h"
#include "rm_session.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int runs = 7, finish = 0;
    size_t limit = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            limit = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--finish"))
            finish = 1;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr,
                    "usage: bench_analysis RECORDING.h5 [--runs R] [--frames N] [--finish]\n");
            return 2;
        }
    }
    if (!path || runs < 1) {
        fprintf(stderr, "usage: bench_analysis RECORDING.h5 [--runs R] [--frames N] [--finish]\n");
        return 2;
    }
    rm_err err = {0};
    rm_session *s = NULL;
    if (rm_session_open(path, &s, &err) != RM_OK) {
        fprintf(stderr, "bench_analysis: %s\n", err.msg);
        return 1;
    }
    const rm_device *dev = rm_session_device(s);
    size_t nf = (size_t)rm_session_frames(s);
    if (limit && limit < nf)
        nf = limit;
    const size_t fsz = (size_t)dev->rows * dev->cols;
    uint16_t *raw = malloc((nf ? nf : 1) * fsz * sizeof *raw);
    double *t = malloc((nf ? nf : 1) * sizeof *t);
    if (!raw || !t || rm_session_read(s, 0, nf, raw, t, NULL, NULL, NULL, &err) != RM_OK) {
        fprintf(stderr, "bench_analysis: reading %s: %s\n", path, raw && t ? err.msg : "no memory");
        return 1;
    }
    double *cpu = malloc((size_t)runs * sizeof *cpu), *wall = malloc((size_t)runs * sizeof *wall);
    for (int r = 0; r < runs; r++) {
        rm_analysis *a = NULL;
        if (rm_analysis_new(NULL, dev, rm_session_calib(s), rm_session_mask(s), &a, &err) !=
            RM_OK) {
            fprintf(stderr, "bench_analysis: %s\n", err.msg);
            return 1;
        }
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
        for (size_t i = 0; i < nf; i++)
            if (rm_analysis_push(a, t[i], raw + i * fsz, NULL, &err) != RM_OK) {
                fprintf(stderr, "bench_analysis: frame %zu: %s\n", i, err.msg);
                return 1;
            }
        if (finish) {
            rm_results *res = NULL;
            if (rm_analysis_finish(a, NULL, &res, &err) != RM_OK) {
                fprintf(stderr, "bench_analysis: finish: %s\n", err.msg);
                return 1;
            }
            rm_results_free(res);
        }
        cpu[r] = (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e9 / (double)(nf ? nf : 1);
        wall[r] = (clock_s(CLOCK_MONOTONIC) - w0) * 1e9 / (double)(nf ? nf : 1);
        rm_analysis_free(a);
    }
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
    qsort(wall, (size_t)runs, sizeof *wall, cmp_double);
    printf("%s: %zu frames of %ux%u, %d runs%s\n", path, nf, dev->rows, dev->cols, runs,
           finish ? " (push + finish)" : " (push)");
    printf("cpu  ns/frame: median %.1f  min %.1f\n", cpu[runs / 2], cpu[0]);
    printf("wall ns/frame: median %.1f  min %.1f\n", wall[runs / 2], wall[0]);
    free(cpu);
    free(wall);
    free(raw);
    free(t);
    rm_session_close(s);
    return 0;
}

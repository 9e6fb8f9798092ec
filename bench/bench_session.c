/* bench_session - speed and size of the session file (the recording).
 *
 *   bench_session [--frames N] [--rows R --cols C] [--noise SD] [--chunk FRAMES]
 *                 [--keep FILE]
 *
 * Writes N frames (default 60000: ten minutes of a 64x48 mat at 100 Hz) of
 * a moving pressure blob plus Gaussian noise (SD counts, default 3), one
 * append per frame as the recorder does, then reads them back:
 * rm_session_read in chunk-sized windows, the iterator with 1 and 2
 * threads, and HDF5's own H5Dread for comparison. Prints throughputs, the
 * stored size as a share of raw, and the noise's entropy limit: no lossless
 * coder can store a sensel in fewer bits than the entropy of its noise.
 * With --vmat SCENARIO the frames are the virtual mat's instead (its
 * geometry, calibration and noise; generated before the timing starts).
 * bench_session.sh runs this and h5py on the same file. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_session.h"
#include "rm_vmat.h"

#define POOL 1024 /* distinct frames, far more than a chunk holds */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the process: on a loaded machine wall time overstates cost. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double gauss(void) { return sqrt(-2.0 * log(uniform())) * cos(2.0 * M_PI * uniform()); }

/* Entropy in bits of round(N(0, sd^2)): the floor for any lossless coder
 * when every sensel carries that noise. */
static double noise_entropy_bits(double sd)
{
    double h = 0;
    for (int k = -(int)(12 * sd) - 2; k <= (int)(12 * sd) + 2; k++) {
        double p = 0.5 * (erf((k + 0.5) / (sd * M_SQRT2)) - erf((k - 0.5) / (sd * M_SQRT2)));
        if (p > 0)
            h -= p * log2(p);
    }
    return h;
}

int main(int argc, char **argv)
{
    long frames = 60000, rows = 64, cols = 48;
    double sd = 3.0;
    const char *keep = NULL;
    long chunk = 0;
    const char *scenario = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            frames = atol(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (!strcmp(argv[i], "--cols") && i + 1 < argc)
            cols = atol(argv[++i]);
        else if (!strcmp(argv[i], "--noise") && i + 1 < argc)
            sd = atof(argv[++i]);
        else if (!strcmp(argv[i], "--vmat") && i + 1 < argc)
            scenario = argv[++i];
        else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            chunk = atol(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else {
            fprintf(stderr, "usage: bench_session [--frames N] [--rows R --cols C] "
                            "[--noise SD] [--chunk FRAMES] [--vmat SCENARIO] [--keep FILE]\n");
            return 2;
        }
    }
    if (frames < 1 || rows < 1 || rows > 256 || cols < 1 || cols > 256 || !(sd >= 0)) {
        fprintf(stderr, "bench_session: bad sizes\n");
        return 2;
    }
    rm_vmat *vm = NULL;
    uint16_t *pool = NULL;
    long npool = POOL;
    rm_device vdev;
    if (scenario) {
        rm_vmat_config vc = {.scenario = scenario, .seed = 1};
        rm_err ve = {0};
        if (rm_vmat_new(&vc, &vm, &ve) != RM_OK) {
            fprintf(stderr, "bench_session: %s\n", ve.msg);
            return 1;
        }
        rm_vmat_device(vm, &vdev);
        rows = vdev.rows;
        cols = vdev.cols;
        if ((uint64_t)frames > rm_vmat_total_frames(vm))
            frames = (long)rm_vmat_total_frames(vm);
        size_t vpx = (size_t)rows * cols;
        pool = malloc((size_t)frames * vpx * 2);
        if (!pool) {
            fprintf(stderr, "bench_session: out of memory\n");
            return 1;
        }
        for (long f = 0; f < frames; f++) {
            rm_frame_header fh;
            if (rm_vmat_next_frame(vm, &fh, pool + (size_t)f * vpx, NULL) != RM_OK) {
                frames = f;
                break;
            }
        }
        npool = frames;
    }
    size_t px = (size_t)rows * cols;
    char tmpl[] = "/tmp/bench_session_XXXXXX";
    char path[4096];
    if (keep) {
        snprintf(path, sizeof path, "%s", keep);
        unlink(path);
    } else {
        if (!mkdtemp(tmpl)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(path, sizeof path, "%s/bench.h5", tmpl);
    }

    /* A pool of frames: a blob rolling along the columns on a floor of 20
     * counts, every sensel with its own fresh noise. */
    if (!pool)
        pool = malloc(POOL * px * 2);
    for (int f = 0; !scenario && f < POOL; f++) {
        double cx = fmod(f * 0.37, (double)cols), cy = rows / 2.0;
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) {
                double d2 = (c - cx) * (c - cx) + (r - cy) * (r - cy) / 4.0;
                double v = 20.0 + 2500.0 * exp(-d2 / 20.0) + sd * gauss();
                v = floor(v + 0.5);
                pool[(size_t)f * px + r * cols + c] = (uint16_t)(v < 0 ? 0 : v > 4095 ? 4095 : v);
            }
    }

    rm_header h = {0};
    snprintf(h.title, sizeof h.title, "bench");
    h.created_unix = 1795593600.0;
    rm_format_iso8601(h.created_unix, h.created, sizeof h.created);
    rm_device d = {.vid = 0x1209,
                   .pid = 1,
                   .rows = (uint16_t)rows,
                   .cols = (uint16_t)cols,
                   .adc_bits = 12,
                   .row_pitch_mm = 10,
                   .col_pitch_mm = 10,
                   .rate_hz = 100};
    snprintf(d.model, sizeof d.model, "RM-1");
    rm_session_writer *w = NULL;
    rm_err e = {0};
    rm_session_writer_options wo = {.chunk_frames = (unsigned)(chunk > 0 ? chunk : 0),
                                    .deflate_level = -1};
    if (vm) {
        rm_vmat_header(vm, &h);
        h.created_unix = 1795593600.0;
        rm_format_iso8601(h.created_unix, h.created, sizeof h.created);
        d = vdev;
    }
    if (rm_session_writer_create(path, &h, &d, vm ? rm_vmat_calib(vm) : NULL, &wo, &w, &e) !=
        RM_OK) {
        fprintf(stderr, "bench_session: %s\n", e.msg);
        return 1;
    }
    double t0 = now(), c0 = cpu_now();
    for (long i = 0; i < frames; i++) {
        rm_frame fr = {.seq = (uint32_t)i,
                       .t_device_us = (uint64_t)i * 10000,
                       .time_s = i * 0.01,
                       .rows = (uint16_t)rows,
                       .cols = (uint16_t)cols,
                       .raw = pool + (size_t)(i % npool) * px};
        if (rm_session_writer_append(w, &fr, &e) != RM_OK) {
            fprintf(stderr, "bench_session: %s\n", e.msg);
            return 1;
        }
    }
    if (rm_session_writer_close(w, &e) != RM_OK) {
        fprintf(stderr, "bench_session: %s\n", e.msg);
        return 1;
    }
    double tw = now() - t0, cw = cpu_now() - c0;
    double raw_mb = frames * px * 2 / 1e6;
    printf("file            %s\n", path);
    printf("frames          %ld of %ldx%ld (%.1f MB raw)%s%s\n", frames, rows, cols, raw_mb,
           scenario ? ", virtual mat scenario " : ", synthetic blob + noise",
           scenario ? scenario : "");
    printf("write           %.3f s = %.0f frames/s (%.0f MB/s raw), one append per frame, "
           "SWMR, whole chunks, at most 10 flushes/s\n",
           tw, frames / tw, raw_mb / tw);
    printf("write CPU       %.3f s = %.0f frames per CPU-second\n", cw, frames / cw);

    rm_session *s = NULL;
    if (rm_session_open(path, &s, &e) != RM_OK) {
        fprintf(stderr, "bench_session: %s\n", e.msg);
        return 1;
    }
    uint64_t stored, rawb;
    rm_session_sizes(s, &stored, &rawb);
    struct stat sb;
    stat(path, &sb);
    double hbits = noise_entropy_bits(sd);
    printf("chunk           %zu frames (%.0f KiB)\n", rm_session_chunk_frames(s),
           rm_session_chunk_frames(s) * px * 2 / 1024.0);
    printf("size            /frames/raw %.1f %% of raw (%.2fx); whole file %.1f %% of raw\n",
           100.0 * stored / rawb, (double)rawb / stored, 100.0 * sb.st_size / rawb);
    printf("entropy limit   %.1f %% of raw (noise SD %.1f counts: %.2f bits of 16 per sensel)%s\n",
           100.0 * hbits / 16.0, sd, hbits,
           scenario ? " [assumed SD; the scenario sets its own noise]" : "");

    size_t C = rm_session_chunk_frames(s);
    uint16_t *buf = malloc(C * px * 2);
    uint64_t check_ref = 0;
    for (int rep = 0; rep < 3; rep++) {
        double best = 1e9;
        uint64_t sum = 0;
        for (int k = 0; k < 3; k++) {
            sum = 0;
            double t1 = now();
            if (rep == 0) {
                for (uint64_t f = 0; f < (uint64_t)frames; f += C) {
                    size_t n = f + C <= (uint64_t)frames ? C : (size_t)(frames - f);
                    if (rm_session_read(s, f, n, buf, NULL, NULL, NULL, NULL, &e) != RM_OK) {
                        fprintf(stderr, "bench_session: %s\n", e.msg);
                        return 1;
                    }
                    for (size_t i = 0; i < n * px; i++)
                        sum += buf[i];
                }
            } else {
                rm_session_iter *it = NULL;
                if (rm_session_iter_new(s, 0, (unsigned)rep, &it, &e) != RM_OK) {
                    fprintf(stderr, "bench_session: %s\n", e.msg);
                    return 1;
                }
                rm_session_batch b;
                while (rm_session_iter_next(it, &b, &e) == RM_OK && b.n)
                    for (size_t i = 0; i < b.n * px; i++)
                        sum += b.raw[i];
                rm_session_iter_free(it);
            }
            double t = now() - t1;
            if (t < best)
                best = t;
        }
        if (rep == 0)
            check_ref = sum;
        else if (sum != check_ref) {
            fprintf(stderr, "bench_session: iterator checksum differs\n");
            return 1;
        }
        static const char *const names[] = {"rm_session_read  ", "iter, 1 thread   ",
                                            "iter, 2 threads  "};
        printf("read %s %.3f s = %.0f frames/s (%.0f MB/s raw), best of 3\n", names[rep], best,
               frames / best, raw_mb / best);
    }

    /* HDF5's own path (what h5py does underneath), chunk-sized hyperslabs. */
    {
        double best = 1e9;
        uint64_t sum = 0;
        for (int k = 0; k < 3; k++) {
            hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
            hid_t ds = H5Dopen2(f, "/frames/raw", H5P_DEFAULT);
            hid_t fs = H5Dget_space(ds);
            sum = 0;
            double t1 = now();
            for (uint64_t f0 = 0; f0 < (uint64_t)frames; f0 += C) {
                hsize_t n = f0 + C <= (uint64_t)frames ? C : (hsize_t)(frames - f0);
                hsize_t st[3] = {f0, 0, 0}, cnt[3] = {n, (hsize_t)rows, (hsize_t)cols};
                hid_t ms = H5Screate_simple(3, cnt, NULL);
                H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cnt, NULL);
                H5Dread(ds, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, buf);
                H5Sclose(ms);
                for (size_t i = 0; i < n * px; i++)
                    sum += buf[i];
            }
            double t = now() - t1;
            if (t < best)
                best = t;
            H5Sclose(fs);
            H5Dclose(ds);
            H5Fclose(f);
        }
        printf("read H5Dread          %.3f s = %.0f frames/s (%.0f MB/s raw), best of 3%s\n", best,
               frames / best, raw_mb / best, sum == check_ref ? "" : " CHECKSUM DIFFERS");
    }
    printf("checksum        %llu\n", (unsigned long long)check_ref);
    rm_session_close(s);
    free(buf);
    free(pool);
    rm_vmat_free(vm);
    if (!keep) {
        unlink(path);
        rmdir(tmpl);
    }
    return 0;
}

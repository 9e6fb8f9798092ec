/* bench_decoder.c - decoder + writer throughput from a capture, 64x48 frames.
 *
 * Builds a raw capture from the virtual mat (scenario "guide", 1 kHz, the
 * fastest RM-1 rate, light faults so resynchronisation is exercised), then
 * measures on the host:
 *   1. the stream decoder alone (CRC, resync, seq) fed 64 KiB slices;
 *   2. the whole record path of `rollmat record --replay`: file -> decoder
 *      -> ring -> writer thread -> HDF5 session file (deflate, SWMR).
 * Prints frames per second for each. Target: >= 20,000 frames/s (20x a
 * 1 kHz mat). For a one-core figure run it under `taskset -c 0`.
 *
 * usage: bench_decoder [SECONDS_OF_SCENARIO_SCALE] [TMPDIR]
 *   (default time scale 0.3 of the guide routine: ~130,000 frames) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_decoder.h"
#include "rm_session.h"
#include "rm_source.h"
#include "rm_vmat.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 0.3;
    const char *tmp = argc > 2 ? argv[2] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    char cap[512], h5[512];
    snprintf(cap, sizeof cap, "%s/bench_decoder_%d.bin", tmp, (int)getpid());
    snprintf(h5, sizeof h5, "%s/bench_decoder_%d.h5", tmp, (int)getpid());

    rm_vmat_config vc;
    memset(&vc, 0, sizeof vc);
    char path[512];
    vc.scenario = rm_vmat_scenario_path("guide", path, sizeof path);
    vc.seed = 1;
    vc.rate_hz = 1000;
    vc.time_scale = scale;
    vc.fault_override = 1;
    vc.faults.corrupt_rate = 0.001;
    vc.faults.truncate_rate = 0.001;
    vc.faults.garbage_rate = 0.001;
    vc.faults.drop_rate = 0.001;
    rm_vmat *vm = NULL;
    rm_err e = {0};
    if (rm_vmat_new(&vc, &vm, &e) != RM_OK) {
        fprintf(stderr, "bench_decoder: %s\n", e.msg);
        return 1;
    }
    size_t cap_bytes = 0, cap_alloc = 64u << 20;
    uint8_t *bytes = malloc(cap_alloc);
    size_t n;
    while (bytes && (n = rm_vmat_read_stream(vm, bytes + cap_bytes, cap_alloc - cap_bytes)) > 0) {
        cap_bytes += n;
        if (cap_alloc - cap_bytes < (1u << 20)) {
            cap_alloc *= 2;
            bytes = realloc(bytes, cap_alloc);
        }
    }
    rm_vmat_free(vm);
    if (!bytes)
        return 1;
    FILE *f = fopen(cap, "wb");
    if (!f || fwrite(bytes, 1, cap_bytes, f) != cap_bytes || fclose(f) != 0) {
        fprintf(stderr, "bench_decoder: cannot write %s\n", cap);
        return 1;
    }

    /* 1. decoder alone */
    rm_decoder_config dc = {.rows = 64, .cols = 48};
    rm_decoder *dec = NULL;
    rm_decoder_new(&dc, &dec, NULL);
    double t0 = now(), c0 = cpu_now();
    for (size_t off = 0; off < cap_bytes; off += 65536) {
        size_t k = cap_bytes - off < 65536 ? cap_bytes - off : 65536;
        rm_decoder_feed(dec, bytes + off, k, NULL);
    }
    rm_decoder_finish(dec, NULL);
    double t1 = now(), c1 = cpu_now();
    rm_decoder_stats ds;
    rm_decoder_get_stats(dec, &ds);
    rm_decoder_free(dec);
    printf("capture: %zu bytes, %llu frames 64x48 (%llu corrupt, %llu truncated, %llu missing)\n",
           cap_bytes, (unsigned long long)ds.frames_ok, (unsigned long long)ds.frames_corrupt,
           (unsigned long long)ds.frames_truncated, (unsigned long long)ds.frames_missing);
    printf("decoder alone:        %9.0f frames/s wall, %9.0f frames/s per CPU-second (%.1f MB/s)\n",
           ds.frames_ok / (t1 - t0), ds.frames_ok / (c1 - c0), cap_bytes / (t1 - t0) / 1e6);

    /* 2. decoder + ring + writer thread + HDF5 session writer */
    rm_sink sink;
    if (rm_session_sink_new(h5, NULL, &sink, &e) != RM_OK) {
        fprintf(stderr, "bench_decoder: %s\n", e.msg);
        return 1;
    }
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.header.title, sizeof cfg.header.title, "bench");
    rm_source_result res;
    t0 = now();
    c0 = cpu_now();
    rm_status st = rm_source_replay_run(cap, &cfg, &sink, 1, &res, &e);
    t1 = now();
    c1 = cpu_now();
    if (st != RM_OK) {
        fprintf(stderr, "bench_decoder: %s\n", e.msg);
        return 1;
    }
    uint64_t fr = res.recorder.frames_out;
    printf("decoder + writer:     %9.0f frames/s wall, %9.0f frames/s per CPU-second "
           "(%llu frames written, %llu overruns)\n",
           fr / (t1 - t0), fr / (c1 - c0), (unsigned long long)fr,
           (unsigned long long)res.recorder.overruns);
    printf("target: >= 20000 frames/s (20x a 1 kHz 64x48 mat)\n");
    unlink(cap);
    unlink(h5);
    free(bytes);
    return 0;
}

/* bench_usb.c - frames per second through the emulated USB path (libusb's
 * real Linux backend -> umockdev preload -> acquire/emu device model) for
 * several transfer sizes and counts, and the CPU used while idle with the
 * usbfs node as a FIFO (the fix) and as umockdev's plain file (busy loop).
 *
 * Usage: bench_usb [--frames N] [--idle-seconds S]
 * Re-executes itself under libumockdev-preload.so.0 if needed. CPU figures
 * are for the whole process: the libusb client and the device model (its
 * umockdev worker thread) together. Build in Release for meaningful numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RM_HAVE_UMOCKDEV
#include <libusb.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rm_proto.h"
#include "rm_usbemu.h"

typedef struct bench_rx {
    uint64_t bytes;
    int active;
    int resubmit;
} bench_rx;

static void LIBUSB_CALL on_xfer(struct libusb_transfer *t)
{
    bench_rx *rx = t->user_data;
    if (t->status == LIBUSB_TRANSFER_COMPLETED) {
        rx->bytes += (uint64_t)t->actual_length;
        if (rx->resubmit && libusb_submit_transfer(t) == 0)
            return;
    }
    rx->active--;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

typedef struct bench_run {
    rm_usbemu_synth *syn;
    rm_usbemu *emu;
    libusb_context *ctx;
    libusb_device_handle *h;
    struct libusb_transfer **xf;
    unsigned n;
} bench_run;

static int run_open(bench_run *r, uint64_t frames, rm_usbemu_pacing pacing, int plain)
{
    rm_err e = {0};
    memset(r, 0, sizeof *r);
    if (rm_usbemu_synth_new(64, 48, 100, frames, &r->syn, &e) != RM_OK)
        goto fail;
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    rm_usbemu_synth_bind(r->syn, &cfg.source);
    cfg.serial = "BENCH-1";
    cfg.pacing = pacing;
    cfg.plain_node = plain;
    if (rm_usbemu_new(&cfg, &r->emu, &e) != RM_OK)
        goto fail;
    if (libusb_init(&r->ctx) != 0) {
        snprintf(e.msg, sizeof e.msg, "libusb_init failed");
        goto fail;
    }
    r->h = libusb_open_device_with_vid_pid(r->ctx, RM_USB_VID, RM_USB_PID);
    if (!r->h || libusb_claim_interface(r->h, 0) != 0) {
        snprintf(e.msg, sizeof e.msg, "cannot open the emulated mat");
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "bench_usb: %s\n", e.msg);
    return -1;
}

static int run_submit(bench_run *r, bench_rx *rx, size_t size, unsigned count)
{
    r->xf = calloc(count, sizeof *r->xf);
    r->n = count;
    for (unsigned i = 0; i < count; i++) {
        r->xf[i] = libusb_alloc_transfer(0);
        uint8_t *b = malloc(size);
        if (!r->xf[i] || !b)
            return -1;
        libusb_fill_bulk_transfer(r->xf[i], r->h, RM_USB_EP_IN, b, (int)size, on_xfer, rx, 0);
        r->xf[i]->flags = LIBUSB_TRANSFER_FREE_BUFFER;
        if (libusb_submit_transfer(r->xf[i]) != 0)
            return -1;
        rx->active++;
    }
    return 0;
}

static void run_close(bench_run *r, bench_rx *rx)
{
    rx->resubmit = 0;
    for (unsigned i = 0; i < r->n; i++)
        if (r->xf[i])
            libusb_cancel_transfer(r->xf[i]);
    for (int i = 0; i < 100 && rx->active > 0; i++) {
        struct timeval tv = {0, 100000};
        libusb_handle_events_timeout_completed(r->ctx, &tv, NULL);
    }
    for (unsigned i = 0; i < r->n; i++)
        libusb_free_transfer(r->xf[i]);
    free(r->xf);
    if (r->h) {
        libusb_release_interface(r->h, 0);
        libusb_close(r->h);
    }
    if (r->ctx)
        libusb_exit(r->ctx);
    rm_usbemu_free(r->emu);
    rm_usbemu_synth_free(r->syn);
}

static void throughput(uint64_t frames, size_t size, unsigned count)
{
    bench_run r;
    bench_rx rx = {.resubmit = 1};
    if (run_open(&r, frames, RM_USBEMU_FAST, 0) != 0 || run_submit(&r, &rx, size, count) != 0)
        exit(1);
    uint64_t want = frames * rm_frame_wire_len(64, 48);
    double t0 = now_s(), c0 = cpu_s();
    libusb_control_transfer(r.h, RM_REQTYPE_OUT, RM_REQ_START, 0, 0, NULL, 0, 1000);
    while (rx.bytes < want) {
        struct timeval tv = {1, 0};
        if (libusb_handle_events_timeout_completed(r.ctx, &tv, NULL) != 0)
            break;
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    rm_usbemu_stats st;
    rm_usbemu_get_stats(r.emu, &st);
    printf("%9zu %6u %10.0f %9.1f %8.0f %9.2f %8.1f\n", size, count, (double)frames / dt,
           (double)rx.bytes / dt / 1e6, (double)st.urbs_reaped / dt, dc, 100.0 * dc / dt);
    fflush(stdout);
    run_close(&r, &rx);
}

static void idle(int plain, double seconds)
{
    bench_run r;
    bench_rx rx = {.resubmit = 0};
    if (run_open(&r, 1000, RM_USBEMU_FAST, plain) != 0 || run_submit(&r, &rx, 128 * 1024, 8) != 0)
        exit(1);
    rm_usbemu_stats a, b;
    rm_usbemu_get_stats(r.emu, &a);
    double t0 = now_s(), c0 = cpu_s();
    while (now_s() - t0 < seconds) {
        struct timeval tv = {0, 500000};
        libusb_handle_events_timeout_completed(r.ctx, &tv, NULL);
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    rm_usbemu_get_stats(r.emu, &b);
    printf("%-28s %8.1f %% of one core, %10.0f empty reaps/s\n",
           plain ? "plain file node (umockdev)" : "FIFO node (rm_usbemu)", 100.0 * dc / dt,
           (double)(b.empty_reaps - a.empty_reaps) / dt);
    fflush(stdout);
    run_close(&r, &rx);
}

static void realtime(double seconds)
{
    bench_run r;
    bench_rx rx = {.resubmit = 1};
    if (run_open(&r, 1000000, RM_USBEMU_REALTIME, 0) != 0 ||
        run_submit(&r, &rx, 128 * 1024, 8) != 0)
        exit(1);
    double t0 = now_s(), c0 = cpu_s();
    libusb_control_transfer(r.h, RM_REQTYPE_OUT, RM_REQ_START, 0, 0, NULL, 0, 1000);
    while (now_s() - t0 < seconds) {
        struct timeval tv = {0, 500000};
        libusb_handle_events_timeout_completed(r.ctx, &tv, NULL);
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    rm_usbemu_stats st;
    rm_usbemu_get_stats(r.emu, &st);
    printf("realtime 100 Hz, 8 x 128 KiB: %.1f frames/s received, %.0f transfers/s, "
           "%.1f %% of one core\n",
           (double)rx.bytes / (double)rm_frame_wire_len(64, 48) / dt, (double)st.urbs_reaped / dt,
           100.0 * dc / dt);
    run_close(&r, &rx);
}

int main(int argc, char **argv)
{
    uint64_t frames = 20000;
    double idle_s = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            frames = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--idle-seconds") && i + 1 < argc)
            idle_s = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_usb [--frames N] [--idle-seconds S]\n");
            return 2;
        }
    }
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "libumockdev-preload")) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s%slibumockdev-preload.so.0", pre ? pre : "",
                 pre && *pre ? ":" : "");
        setenv("LD_PRELOAD", buf, 1);
        const char *ao = getenv("ASAN_OPTIONS");
        char a[1024];
        snprintf(a, sizeof a, "%s%sverify_asan_link_order=0", ao ? ao : "", ao && *ao ? ":" : "");
        setenv("ASAN_OPTIONS", a, 1);
        execv("/proc/self/exe", argv);
        perror("bench_usb: re-exec under the preload");
        return 1;
    }

    printf("# %llu frames of 64x48 (%zu bytes each) per row, fast pacing\n",
           (unsigned long long)frames, rm_frame_wire_len(64, 48));
    printf("%9s %6s %10s %9s %8s %9s %8s\n", "xfer_B", "count", "frames/s", "MB/s", "URB/s",
           "cpu_s", "cpu_%");
    static const size_t sizes[] = {8192, 16384, 65536, 131072, 262144, 1048576};
    static const unsigned counts[] = {1, 4, 8, 16};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t j = 0; j < sizeof counts / sizeof counts[0]; j++) {
            uint64_t f = frames;
            if (sizes[i] < 65536)
                f = frames / 4; /* slow rows: fewer frames, same precision */
            throughput(f, sizes[i], counts[j]);
        }
    printf("\n# idle: 8 x 128 KiB transfers pending, mat not started, %.0f s\n", idle_s);
    idle(0, idle_s);
    idle(1, idle_s);
    printf("\n");
    realtime(idle_s);
    return 0;
}

#else

int main(void)
{
    printf("bench_usb: built without umockdev; nothing to measure\n");
    return 0;
}

#endif

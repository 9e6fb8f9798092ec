/* usb_record.c - the recorder through libusb's real Linux backend on the
 * emulated RM-1 (acquire/emu): 10,000+ frames with no loss and exact
 * content, device fault counts exact, unplug and replug in one recording,
 * the STALL message of an out-of-range rate, and `rollmat record` killed by
 * SIGTERM and SIGKILL, many unplugs in one recording with one libusb
 * context and nothing leaked. Runs under umockdev-wrapper. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libusb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_proto.h"
#include "rm_session.h"
#include "rm_source.h"
#include "rm_usbemu.h"
#include "rm_vmat.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif
#endif

#define RATE 100

/* libusb contexts made in this process. Defined in the test program, this
 * libusb_init is the one the statically linked rm_acquire calls; it hands
 * over to libusb's. The USB source must make one per recording, however
 * often the mat comes and goes: libusb 1.0.26 leaks a device when a
 * "remove" uevent meets a context inside libusb_init (rm_usb_reopen). */
static int n_libusb_init;

int LIBUSB_CALL libusb_init(libusb_context **ctx)
{
    int(LIBUSB_CALL * real)(libusb_context **) = NULL;
    void *sym = dlsym(RTLD_NEXT, "libusb_init");
    if (!sym)
        return LIBUSB_ERROR_OTHER;
    memcpy(&real, &sym, sizeof real);
    __atomic_add_fetch(&n_libusb_init, 1, __ATOMIC_SEQ_CST);
    return real(ctx);
}

static rm_usbemu *emu;
static rm_usbemu_synth *syn;
static rm_usbemu_vmat_source *vsrc;
static rm_usbemu_source source;
static char serial[64];
static char *dir;

static const char *rollmat(void)
{
    const char *p = getenv("ROLLMAT");
    return p ? p : RM_BUILD_DIR "/cli/rollmat";
}

static void start_emu(rm_usbemu_pacing pacing, double unplug_at, double replug_after)
{
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    cfg.pacing = pacing;
    cfg.unplug_at_s = unplug_at;
    cfg.replug_after_s = replug_after;
    cfg.source = source;
    cfg.serial = serial;
    rm_err e = {0};
    cr_assert_eq(rm_usbemu_new(&cfg, &emu, &e), RM_OK, "%s", e.msg);
    dir = rm_test_tmpdir("usbrec");
    cr_assert_not_null(dir);
}

static void setup_synth(uint64_t frames, rm_usbemu_pacing pacing, double unplug_at,
                        double replug_after)
{
    rm_err e = {0};
    cr_assert_eq(rm_usbemu_synth_new(64, 48, RATE, frames, &syn, &e), RM_OK, "%s", e.msg);
    rm_usbemu_synth_bind(syn, &source);
    snprintf(serial, sizeof serial, "SYN-4A");
    start_emu(pacing, unplug_at, replug_after);
}

static void setup_big(void) { setup_synth(10500, RM_USBEMU_FAST, -1, -1); }
static void setup_small(void) { setup_synth(300, RM_USBEMU_FAST, -1, -1); }
static void setup_unplug(void) { setup_synth(3000, RM_USBEMU_FAST, 5.0, 0.0); }
static void setup_realtime(void) { setup_synth(100000, RM_USBEMU_REALTIME, -1, -1); }
/* Frames at the mat's pace, so that every plug-in streams only a few. */
static void setup_replugs(void) { setup_synth(100000, RM_USBEMU_REALTIME, -1, -1); }

static void setup_faulty(void)
{
    rm_err e = {0};
    char buf[512];
    rm_vmat_config vc;
    memset(&vc, 0, sizeof vc);
    vc.scenario = rm_vmat_scenario_path("guide", buf, sizeof buf);
    vc.seed = 11;
    vc.rate_hz = 1000;
    vc.time_scale = 0.05;
    vc.fault_override = 1;
    vc.faults.corrupt_rate = 0.005;
    vc.faults.truncate_rate = 0.005;
    vc.faults.garbage_rate = 0.01;
    vc.faults.drop_rate = 0.003;
    cr_assert_eq(rm_usbemu_vmat_source_new(&vc, &vsrc, &e), RM_OK, "%s", e.msg);
    rm_usbemu_vmat_source_bind(vsrc, &source);
    snprintf(serial, sizeof serial, "%s", rm_usbemu_vmat_serial(vsrc));
    /* Real time at 1 kHz, the fastest mat: a fast-forwarded mat outruns
     * any writer, and frames it drops as overruns would change the counts. */
    start_emu(RM_USBEMU_REALTIME, -1, -1);
}

static void teardown(void)
{
    rm_usbemu_free(emu);
    emu = NULL;
    rm_usbemu_synth_free(syn);
    syn = NULL;
    rm_usbemu_vmat_source_free(vsrc);
    vsrc = NULL;
    if (dir)
        rm_test_rmtree(dir);
    free(dir);
    dir = NULL;
}

/* ---- in-process recording, stopped once the device has sent everything */

static volatile sig_atomic_t stop_flag;
static int watcher_quit;

/* Sets the stop flag once the emulated mat's stream is exhausted and every
 * byte of it was reaped by the host (the recorder then has it all). */
static void *watcher(void *arg)
{
    (void)arg;
    for (;;) {
        rm_usbemu_stats st;
        rm_usbemu_get_stats(emu, &st);
        if (st.stream_done && st.plugged && st.plugs >= 1 && st.started) {
            stop_flag = 1;
            return NULL;
        }
        if (__atomic_load_n(&watcher_quit, __ATOMIC_SEQ_CST))
            return NULL;
        rm_usbemu_wait(emu, 100);
    }
}

static void record_in_process(const char *path, unsigned transfers, size_t xsize,
                              rm_source_result *res)
{
    stop_flag = 0;
    watcher_quit = 0;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, watcher, NULL), 0);
    rm_sink sink;
    rm_err e = {0};
    cr_assert_eq(rm_session_sink_new(path, NULL, &sink, &e), RM_OK, "%s", e.msg);
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.header.title, sizeof cfg.header.title, "usb test");
    cfg.serial = serial;
    cfg.stop = &stop_flag;
    cfg.transfers = transfers;
    cfg.transfer_size = xsize;
    cfg.reconnect_timeout_s = 60;
    /* The fast-forwarded emulated mat sends ~40x faster than a real one:
     * a ring that holds the whole burst keeps these runs loss-free. */
    cfg.ring_slots = 16384;
    rm_status st = rm_source_usb_run(&cfg, &sink, 1, res, &e);
    __atomic_store_n(&watcher_quit, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    cr_assert_eq(st, RM_OK, "%s", e.msg);
}

/* Checks every frame against the synthetic mat's formula: frame i has
 * t_device_us = i * 1e6 / rate and sensel k = (7 i + k) mod 4096. Returns
 * the number of frames. */
static uint64_t check_synth_frames(rm_session *s)
{
    const rm_device *dev = rm_session_device(s);
    cr_assert_eq(dev->rows, 64);
    cr_assert_eq(dev->cols, 48);
    cr_assert_str_eq(dev->serial, serial);
    uint64_t n = rm_session_frames(s);
    size_t ns = 64 * 48;
    uint16_t *raw = malloc(256 * ns * sizeof *raw);
    uint64_t *tdev = malloc(256 * sizeof *tdev);
    double *time_s = malloc(256 * sizeof *time_s);
    cr_assert(raw && tdev && time_s);
    uint64_t prev_i = 0;
    double prev_t = -1e9;
    rm_err e = {0};
    for (uint64_t first = 0; first < n; first += 256) {
        size_t k = n - first < 256 ? (size_t)(n - first) : 256;
        cr_assert_eq(rm_session_read(s, first, k, raw, time_s, NULL, tdev, NULL, &e), RM_OK, "%s",
                     e.msg);
        for (size_t j = 0; j < k; j++) {
            cr_assert_eq(tdev[j] % (1000000 / RATE), 0);
            uint64_t i = tdev[j] / (1000000 / RATE);
            if (first + j > 0)
                cr_assert_gt(i, prev_i, "frame %llu out of order", (unsigned long long)(first + j));
            prev_i = i;
            cr_assert_geq(time_s[j], prev_t);
            prev_t = time_s[j];
            for (size_t q = 0; q < ns; q++)
                if (raw[j * ns + q] != (uint16_t)((7 * i + q) % 4096))
                    cr_assert_fail("frame %llu sensel %zu: %u, mat sent %u",
                                   (unsigned long long)(first + j), q, raw[j * ns + q],
                                   (unsigned)((7 * i + q) % 4096));
        }
    }
    free(raw);
    free(tdev);
    free(time_s);
    return n;
}

static size_t count_kind(rm_session *s, const char *kind, int64_t *sum)
{
    size_t n = 0;
    int64_t total = 0;
    for (size_t i = 0; i < rm_session_event_count(s); i++) {
        rm_event ev;
        cr_assert_eq(rm_session_event(s, i, &ev), RM_OK);
        if (!strcmp(ev.kind, kind)) {
            n++;
            total += ev.value;
        }
    }
    if (sum)
        *sum = total;
    return n;
}

Test(usb_record, ten_thousand_frames_no_loss, .init = setup_big, .fini = teardown, .timeout = 600)
{
    char *h5 = rm_test_path(dir, "big.h5");
    rm_source_result res;
    record_in_process(h5, 0, 0, &res);
    cr_assert_eq(res.decoder.frames_ok, 10500);
    cr_assert_eq(res.decoder.gaps + res.decoder.frames_corrupt + res.decoder.frames_truncated +
                     res.decoder.garbage_bytes + res.recorder.overruns,
                 0);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(check_synth_frames(s), 10500);
    cr_assert_eq(count_kind(s, RM_EVENT_GAP, NULL), 0);
    cr_assert_eq(count_kind(s, RM_EVENT_OVERRUN, NULL), 0);
    cr_assert_not_null(rm_session_calib(s));
    rm_session_close(s);
    free(h5);
}

Test(usb_record, small_transfers_same_frames, .init = setup_small, .fini = teardown, .timeout = 300)
{
    /* One max-packet transfer at a time: frames split across many
     * transfers still arrive whole. */
    char *h5 = rm_test_path(dir, "small.h5");
    rm_source_result res;
    record_in_process(h5, 1, 512, &res);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(check_synth_frames(s), 300);
    rm_session_close(s);
    free(h5);
}

Test(usb_record, device_fault_counts_exact, .init = setup_faulty, .fini = teardown, .timeout = 600)
{
    char *h5 = rm_test_path(dir, "faulty.h5");
    rm_source_result res;
    record_in_process(h5, 0, 0, &res);
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    const rm_vmat_counts *inj = &st.injected;
    cr_assert_eq(res.recorder.overruns + res.recorder.events_lost, 0);
    cr_assert_gt(inj->frames_corrupt, 0);
    cr_assert_gt(inj->frames_truncated, 0);
    cr_assert_gt(inj->frames_dropped, 0);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    int64_t corrupt, truncated, gaps, garbage = 0;
    uint64_t garbage_runs = 0;
    count_kind(s, RM_EVENT_CORRUPT, &corrupt);
    cr_assert_eq(
        (uint64_t)count_kind(s, RM_EVENT_TRUNCATED, NULL), inj->frames_truncated,
        "truncated events %zu, injected %llu (corrupt %llu/%llu, garbage %llu, sent "
        "%llu/%llu, produced %llu)",
        count_kind(s, RM_EVENT_TRUNCATED, NULL), (unsigned long long)inj->frames_truncated,
        (unsigned long long)res.decoder.frames_corrupt, (unsigned long long)inj->frames_corrupt,
        (unsigned long long)res.decoder.garbage_bytes, (unsigned long long)res.decoder.frames_ok,
        (unsigned long long)inj->frames_sent, (unsigned long long)inj->frames_produced);
    count_kind(s, RM_EVENT_TRUNCATED, &truncated);
    count_kind(s, RM_EVENT_GAP, &gaps);
    for (size_t i = 0; i < rm_session_event_count(s); i++) {
        rm_event ev;
        rm_session_event(s, i, &ev);
        if (!strcmp(ev.kind, RM_EVENT_NOTE) && !strncmp(ev.text, "garbage", 7)) {
            garbage += ev.value;
            garbage_runs++;
        }
    }
    cr_assert_eq(garbage_runs, inj->garbage_insertions);
    cr_assert_eq((uint64_t)corrupt, inj->frames_corrupt);
    cr_assert_eq((uint64_t)garbage, inj->garbage_bytes);
    cr_assert_eq((uint64_t)gaps, inj->frames_dropped + inj->frames_corrupt + inj->frames_truncated);
    cr_assert_eq(rm_session_frames(s), inj->frames_sent);
    cr_assert_eq(res.decoder.device_drops > 0, 1);
    rm_session_close(s);
    free(h5);
}

Test(usb_record, unplug_and_replug_one_recording, .init = setup_unplug, .fini = teardown,
     .timeout = 600)
{
    char *h5 = rm_test_path(dir, "replug.h5");
    rm_source_result res;
    record_in_process(h5, 0, 0, &res);
    cr_assert_eq(res.disconnects, 1);
    cr_assert_eq(res.reconnects, 1);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(count_kind(s, RM_EVENT_DISCONNECT, NULL), 1);
    cr_assert_eq(count_kind(s, RM_EVENT_RECONNECT, NULL), 1);
    /* seq restarting at 0 after START is not a gap */
    cr_assert_eq(count_kind(s, RM_EVENT_GAP, NULL), 0);
    uint64_t n = check_synth_frames(s); /* no frame invented, all in order */
    cr_assert_leq(n, 3000);
    cr_assert_geq(n, 3000 - 500, "only %llu frames", (unsigned long long)n);
    rm_session_close(s);
    free(h5);
}

/* ---- many unplugs around one recording --------------------------------- */

#define REPLUG_CYCLES 40 /* rm_usbemu allows 63 replugs */

typedef struct plugger {
    int cycles_done;
    int unplugged_streaming; /* cycles that unplugged a streaming mat */
    char error[200];
} plugger;

/* Waits until `ok` holds for the emulator's stats (no time limit of its
 * own: the test's timeout bounds it). */
static void wait_stats(int (*ok)(const rm_usbemu_stats *, uint64_t), uint64_t mark,
                       rm_usbemu_stats *out)
{
    for (;;) {
        rm_usbemu_get_stats(emu, out);
        if (ok(out, mark))
            return;
        rm_usbemu_wait(emu, 100);
    }
}

/* The host streams from the current plug-in: START came and bytes flowed. */
static int streaming_since(const rm_usbemu_stats *st, uint64_t bytes_at_plug)
{
    return st->plugged && st->started && st->bulk_bytes > bytes_at_plug;
}

/* The host is setting the replugged mat up (a request came after the
 * plug-in) or already streams it. */
static int host_busy_since(const rm_usbemu_stats *st, uint64_t requests_at_plug)
{
    return st->plugged && st->control_requests > requests_at_plug;
}

/* Unplugs and replugs the mat REPLUG_CYCLES times: mostly while the host
 * streams, every third time while the host is still setting the mat up
 * (opening, GET_INFO, calibration), so a reconnect attempt fails half way.
 * Each replug follows its unplug at once: the host's reconnect meets the
 * "remove" and "add" uevents on their way. Then stops the recording once
 * the host streams again. */
static void *plug_cycles(void *arg)
{
    plugger *pl = arg;
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    uint64_t bytes_at_plug = 0, requests_at_plug = 0;
    for (int i = 0; i < REPLUG_CYCLES; i++) {
        if (i % 3 == 2)
            wait_stats(host_busy_since, requests_at_plug, &st);
        else
            wait_stats(streaming_since, bytes_at_plug, &st);
        if (st.started)
            pl->unplugged_streaming++;
        rm_err e = {0};
        if (rm_usbemu_unplug(emu, &e) != RM_OK || rm_usbemu_replug(emu, &e) != RM_OK) {
            snprintf(pl->error, sizeof pl->error, "cycle %d: %.150s", i, e.msg);
            break;
        }
        rm_usbemu_get_stats(emu, &st);
        bytes_at_plug = st.bulk_bytes;
        requests_at_plug = st.control_requests;
        pl->cycles_done++;
    }
    wait_stats(streaming_since, bytes_at_plug, &st);
    stop_flag = 1;
    return NULL;
}

Test(usb_record, many_replugs_one_context_nothing_leaked, .init = setup_replugs, .fini = teardown,
     .timeout = 600)
{
    /* A libusb device lost on the way (404 bytes in 4 allocations each)
     * fails the leak check at the end: Criterion ignores what LeakSanitizer
     * says at a worker's exit, so the test asks it itself. */
    char *h5 = rm_test_path(dir, "replugs.h5");
    stop_flag = 0;
    plugger pl;
    memset(&pl, 0, sizeof pl);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, plug_cycles, &pl), 0);
    rm_sink sink;
    rm_err e = {0};
    cr_assert_eq(rm_session_sink_new(h5, NULL, &sink, &e), RM_OK, "%s", e.msg);
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.serial = serial;
    cfg.stop = &stop_flag;
    cfg.rate_hz = RATE; /* set again at every reconnect */
    cfg.reconnect_timeout_s = 60;
    cfg.ring_slots = 4096;
    int inits_before = __atomic_load_n(&n_libusb_init, __ATOMIC_SEQ_CST);
    rm_source_result res;
    rm_status st = rm_source_usb_run(&cfg, &sink, 1, &res, &e);
    stop_flag = 1;
    pthread_join(th, NULL);
    cr_assert_eq(st, RM_OK, "%s", e.msg);
    cr_assert_str_empty(pl.error, "%s", pl.error);
    cr_assert_eq(pl.cycles_done, REPLUG_CYCLES);
    cr_assert_eq(__atomic_load_n(&n_libusb_init, __ATOMIC_SEQ_CST) - inits_before, 1,
                 "%d libusb contexts for one recording over %d replugs",
                 __atomic_load_n(&n_libusb_init, __ATOMIC_SEQ_CST) - inits_before, REPLUG_CYCLES);
    /* Every unplug of a streaming mat is a disconnect; one during set-up
     * may be one too (the host can have started meanwhile). */
    cr_assert_geq(res.disconnects, (unsigned)pl.unplugged_streaming);
    cr_assert_leq(res.disconnects, REPLUG_CYCLES);
    cr_assert_eq(res.reconnects, res.disconnects);
    rm_session *s = NULL;
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(count_kind(s, RM_EVENT_DISCONNECT, NULL), res.disconnects);
    cr_assert_eq(count_kind(s, RM_EVENT_RECONNECT, NULL), res.reconnects);
    cr_assert_eq(count_kind(s, RM_EVENT_GAP, NULL), 0);
    cr_assert_gt(check_synth_frames(s), 0); /* in order, none invented */
    rm_session_close(s);
    free(h5);
#ifdef HAVE_LSAN
    /* The recording's libusb context is gone: whatever it allocated and no
     * one can reach any more is a leak (0 when ASAN_OPTIONS has
     * detect_leaks=0). */
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                 "LeakSanitizer found leaks after the recording (report above)");
#endif
}

/* ---- the command as a child process ---- */

static pid_t spawn_record(const char *h5, const char *out_path, const char *err_path,
                          const char *extra)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("UMOCKDEV_DIR", rm_usbemu_root_dir(emu), 1);
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0)
            _exit(99);
        dup2(fo, 1);
        dup2(fe, 2);
        if (extra)
            execl(rollmat(), "rollmat", "record", "-o", h5, "-q", extra, (char *)NULL);
        else
            execl(rollmat(), "rollmat", "record", "-o", h5, "-q", (char *)NULL);
        _exit(98);
    }
    return pid;
}

static char *slurp(const char *path)
{
    uint8_t *d = NULL;
    size_t n = 0;
    cr_assert_eq(rm_test_read_file(path, &d, &n), 0);
    char *s = realloc(d, n + 1);
    s[n] = 0;
    return s;
}

Test(usb_record, stall_on_rate_is_a_clear_message, .init = setup_small, .fini = teardown,
     .timeout = 120)
{
    char *h5 = rm_test_path(dir, "stall.h5");
    char *o = rm_test_path(dir, "out.txt"), *er = rm_test_path(dir, "err.txt");
    pid_t pid = spawn_record(h5, o, er, "--rate=5000");
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 1);
    char *msg = slurp(er);
    cr_assert(strstr(msg, "the mat refused rate 5000 Hz (allowed 10..1000)") != NULL, "%s", msg);
    cr_assert(strstr(msg, "rollmat record: ") == msg, "%s", msg);
    cr_assert(access(h5, F_OK) != 0, "no recording is left behind");
    free(msg);
    free(h5);
    free(o);
    free(er);
}

/* Waits until the emulated mat delivered at least `frames` frames. */
static void wait_frames(uint64_t frames)
{
    size_t fl = rm_frame_wire_len(64, 48);
    for (int i = 0; i < 6000; i++) {
        rm_usbemu_stats st;
        rm_usbemu_get_stats(emu, &st);
        if (st.bulk_bytes >= frames * fl)
            return;
        rm_usbemu_wait(emu, 100);
    }
    cr_assert_fail("the recorder never read %llu frames", (unsigned long long)frames);
}

Test(usb_record, sigterm_closes_cleanly_nothing_lost, .init = setup_realtime, .fini = teardown,
     .timeout = 300)
{
    char *h5 = rm_test_path(dir, "term.h5");
    char *o = rm_test_path(dir, "out.txt"), *er = rm_test_path(dir, "err.txt");
    pid_t pid = spawn_record(h5, o, er, NULL);
    wait_frames(150);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char *msg = slurp(er);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, msg);
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    size_t fl = rm_frame_wire_len(64, 48);
    cr_assert_eq(st.bulk_bytes % fl, 0);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_is_live(s), 0);
    /* every frame the mat delivered to the recorder is in the file */
    cr_assert_eq(check_synth_frames(s), st.bulk_bytes / fl);
    rm_session_close(s);
    char *out = slurp(o);
    char expect[64];
    snprintf(expect, sizeof expect, ": %llu frames ok", (unsigned long long)(st.bulk_bytes / fl));
    cr_assert(strstr(out, expect) != NULL, "summary: %s", out);
    free(out);
    free(msg);
    free(h5);
    free(o);
    free(er);
}

Test(usb_record, sigkill_leaves_a_readable_file, .init = setup_realtime, .fini = teardown,
     .timeout = 300)
{
    char *h5 = rm_test_path(dir, "kill.h5");
    char *o = rm_test_path(dir, "out.txt"), *er = rm_test_path(dir, "err.txt");
    pid_t pid = spawn_record(h5, o, er, NULL);
    wait_frames(300); /* 3 s of frames: at least two flushes happened */
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status));
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(h5, &s, &e), RM_OK, "%s", e.msg);
    uint64_t n = check_synth_frames(s);
    cr_assert_gt(n, 0, "a killed recorder kept no frame");
    cr_assert_leq(n, st.bulk_bytes / rm_frame_wire_len(64, 48));
    rm_session_close(s);
    free(h5);
    free(o);
    free(er);
}

Test(usb_record, replay_of_capture_equals_live_run, .init = setup_realtime, .fini = teardown,
     .timeout = 300)
{
    char *live = rm_test_path(dir, "live.h5"), *rep = rm_test_path(dir, "replay.h5");
    char *cap = rm_test_path(dir, "cap.bin");
    char *o = rm_test_path(dir, "out.txt"), *er = rm_test_path(dir, "err.txt");
    char capopt[600];
    snprintf(capopt, sizeof capopt, "--capture=%s", cap);
    pid_t pid = spawn_record(live, o, er, capopt);
    wait_frames(120);
    cr_assert_eq(kill(pid, SIGINT), 0);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int rc =
        rm_test_system("'%s' record --replay '%s' -o '%s' -q > /dev/null", rollmat(), cap, rep);
    cr_assert_eq(rc, 0);
    rm_session *a = NULL, *b = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(live, &a, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_open(rep, &b, &e), RM_OK, "%s", e.msg);
    const rm_device *da = rm_session_device(a), *db = rm_session_device(b);
    cr_assert_str_eq(da->serial, db->serial);
    cr_assert_str_eq(da->model, db->model);
    cr_assert_str_eq(da->firmware, db->firmware);
    cr_assert_eq(da->rows, db->rows);
    cr_assert_eq(da->rate_hz, db->rate_hz);
    const rm_calib *ca = rm_session_calib(a), *cb = rm_session_calib(b);
    cr_assert(ca && cb);
    cr_assert_eq(ca->n_knots, cb->n_knots);
    size_t ns = (size_t)da->rows * da->cols;
    cr_assert_arr_eq(ca->zero, cb->zero, ns * sizeof *ca->zero);
    cr_assert_arr_eq(ca->gain, cb->gain, ns * sizeof *ca->gain);
    uint64_t n = rm_session_frames(a);
    cr_assert_gt(n, 100);
    cr_assert_eq(rm_session_frames(b), n);
    uint16_t *ra = malloc(n * ns * 2), *rb = malloc(n * ns * 2);
    uint64_t *ta = malloc(n * 8), *tb = malloc(n * 8);
    cr_assert_eq(rm_session_read(a, 0, n, ra, NULL, NULL, ta, NULL, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_session_read(b, 0, n, rb, NULL, NULL, tb, NULL, &e), RM_OK, "%s", e.msg);
    cr_assert_arr_eq(ra, rb, n * ns * 2);
    cr_assert_arr_eq(ta, tb, n * 8);
    cr_assert_eq(rm_session_event_count(a), rm_session_event_count(b));
    free(ra);
    free(rb);
    free(ta);
    free(tb);
    rm_session_close(a);
    rm_session_close(b);
    free(live);
    free(rep);
    free(cap);
    free(o);
    free(er);
}

/* Runs `rollmat ARGS...` against the emulated mat; returns its exit status. */
static int run_rollmat(const char *out_path, const char *err_path, char *const args[])
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("UMOCKDEV_DIR", rm_usbemu_root_dir(emu), 1);
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0)
            _exit(99);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(rollmat(), args);
        _exit(98);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "rollmat died: status %d", status);
    return WEXITSTATUS(status);
}

Test(usb_record, devices_lists_the_mat, .init = setup_small, .fini = teardown, .timeout = 120)
{
    char *o = rm_test_path(dir, "out.txt"), *er = rm_test_path(dir, "err.txt");
    char *args[] = {"rollmat", "devices", "--json", NULL};
    cr_assert_eq(run_rollmat(o, er, args), 0);
    char *txt = slurp(o);
    json_error_t je;
    json_t *arr = json_loads(txt, 0, &je);
    cr_assert_not_null(arr, "%s: %s", je.text, txt);
    cr_assert_eq(json_array_size(arr), 1);
    json_t *m = json_array_get(arr, 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "serial")), serial);
    cr_assert_str_eq(json_string_value(json_object_get(m, "id")), "1209:0001");
    cr_assert_eq(json_integer_value(json_object_get(m, "rows")), 64);
    cr_assert_eq(json_integer_value(json_object_get(m, "cols")), 48);
    cr_assert_eq(json_integer_value(json_object_get(m, "rate_hz")), RATE);
    cr_assert_str_eq(json_string_value(json_object_get(m, "firmware")), "synth-1");
    json_decref(arr);
    free(txt);
    /* The plain listing names the serial too; another VID:PID finds none. */
    char *plain[] = {"rollmat", "devices", NULL};
    cr_assert_eq(run_rollmat(o, er, plain), 0);
    txt = slurp(o);
    cr_assert(strstr(txt, serial) && strstr(txt, "64x48"), "%s", txt);
    free(txt);
    char *other[] = {"rollmat", "devices", "--vid-pid", "1209:00ff", NULL};
    cr_assert_eq(run_rollmat(o, er, other), 0);
    txt = slurp(o);
    cr_assert(strstr(txt, "no RM-1 mat (1209:00ff)"), "%s", txt);
    free(txt);
    free(o);
    free(er);
}

Test(usb_record, wrong_serial_names_the_mats_found, .init = setup_small, .fini = teardown,
     .timeout = 120)
{
    char *o = rm_test_path(dir, "out.txt"), *er = rm_test_path(dir, "err.txt");
    char *h5 = rm_test_path(dir, "x.h5");
    char *args[] = {"rollmat", "record", "-q", "--serial", "NOPE-1", "-o", h5, NULL};
    cr_assert_eq(run_rollmat(o, er, args), 1);
    char *msg = slurp(er);
    cr_assert(strstr(msg, "no mat 1209:0001 with serial NOPE-1") && strstr(msg, serial), "%s", msg);
    cr_assert(access(h5, F_OK) != 0);
    free(msg);
    free(h5);
    free(o);
    free(er);
}

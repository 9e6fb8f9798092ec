/* usb_daemon.c - the rollmatd binary on an emulated RM-1 mat through real
 * libusb (umockdev, acquire/emu): start/label/stop from two clients makes a
 * recording holding every frame the mat sent, byte for byte, with the
 * labels as events; SIGTERM mid-recording closes it cleanly. Runs under
 * umockdev-wrapper; the daemon inherits the preload and gets the testbed
 * through UMOCKDEV_DIR. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_client.h"
#include "rm_session.h"
#include "rm_usbemu.h"
#include "test_util.h"

#define ROWS   64
#define COLS   48
#define SERIAL "SYN-0042"

static rm_usbemu *emu;
static rm_usbemu_synth *syn;
static char *dir, *rec, *sock, *log_path;

static void setup(uint64_t frames, rm_usbemu_pacing pacing)
{
    rm_err e = {0};
    cr_assert_eq(rm_usbemu_synth_new(ROWS, COLS, 100, frames, &syn, &e), RM_OK, "%s", e.msg);
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    rm_usbemu_synth_bind(syn, &cfg.source);
    cfg.serial = SERIAL;
    cfg.pacing = pacing;
    cr_assert_eq(rm_usbemu_new(&cfg, &emu, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(setenv("UMOCKDEV_DIR", rm_usbemu_root_dir(emu), 1), 0);
    dir = rm_test_tmpdir("usbd");
    rec = rm_test_path(dir, "rec");
    sock = rm_test_path(dir, "ctl.sock");
    log_path = rm_test_path(dir, "d.log");
    cr_assert_eq(mkdir(rec, 0750), 0);
}

/* Fewer frames than the daemon's ring holds (2048): an emulated mat at
 * full speed outruns any writer, and the ring would count the rest as
 * overruns instead of recording them. */
static void setup_fast(void) { setup(1500, RM_USBEMU_FAST); }
static void setup_realtime(void) { setup(1000000, RM_USBEMU_REALTIME); }

static void teardown(void)
{
    rm_usbemu_free(emu);
    rm_usbemu_synth_free(syn);
    rm_test_rmtree(dir);
    free(dir);
    free(rec);
    free(sock);
    free(log_path);
}

static proc start_rollmatd(void)
{
    char *argv[] = {(char *)rollmatd_path(),
                    "--socket",
                    sock,
                    "--recordings",
                    rec,
                    "--serial",
                    SERIAL,
                    "--log",
                    log_path,
                    NULL};
    return spawn_daemon(argv);
}

/* The synthetic mat's frame i: sensel k = (7 i + k) mod 4096. */
static void check_frames(rm_session *s, uint64_t first, size_t n)
{
    uint16_t *raw = malloc(n * ROWS * COLS * sizeof *raw);
    uint32_t *seq = malloc(n * sizeof *seq);
    rm_err e = {0};
    cr_assert_eq(rm_session_read(s, first, n, raw, NULL, seq, NULL, NULL, &e), RM_OK, "%s", e.msg);
    for (size_t f = 0; f < n; f++) {
        uint64_t i = first + f;
        cr_assert_eq(seq[f], (uint32_t)i, "frame %llu has seq %u", (unsigned long long)i, seq[f]);
        for (size_t k = 0; k < ROWS * COLS; k += 97)
            cr_assert_eq(raw[f * ROWS * COLS + k], (uint16_t)((7 * i + k) % 4096),
                         "frame %llu sensel %zu differs from what the mat sent",
                         (unsigned long long)i, k);
    }
    free(raw);
    free(seq);
}

Test(usb_daemon, two_clients_record_every_frame_with_labels, .init = setup_fast, .fini = teardown)
{
    proc p = start_rollmatd();
    client *a = client_connect(sock), *b = client_connect(sock);
    json_t *r = ask(b, NULL, "{\"cmd\":\"subscribe\"}");
    cr_assert(reply_ok(r));
    json_decref(r);
    r = ask(a, NULL,
            "{\"cmd\":\"start\",\"subject\":\"S01\",\"label\":\"calves\","
            "\"body_mass_kg\":70,\"name\":\"usb-1\"}");
    cr_assert(reply_ok(r), "start: %s", reply_str(r, "error"));
    json_decref(r);
    r = ask(b, NULL, "{\"cmd\":\"label\",\"label\":\"quads\"}");
    cr_assert(reply_ok(r), "label: %s", reply_str(r, "error"));
    json_decref(r);
    r = ask(b, NULL, "{\"cmd\":\"start\",\"name\":\"/etc/x\"}");
    cr_expect(!reply_ok(r));
    json_decref(r);
    wait_frames(a, NULL, 1500);
    r = ask(a, NULL, "{\"cmd\":\"label\",\"label\":\"glutes\"}");
    cr_assert(reply_ok(r));
    json_decref(r);
    r = ask(a, NULL, "{\"cmd\":\"stop\"}");
    cr_assert(reply_ok(r), "stop: %s", reply_str(r, "error"));
    cr_expect_eq(json_integer_value(json_object_get(r, "frames")), 1500);
    json_decref(r);
    int metrics = b->metrics_skipped;
    for (;;) {
        json_t *j = client_recv(b, NULL);
        const char *type = reply_str(j, "type");
        metrics += !strcmp(type, "metrics");
        int stopped = !strcmp(type, "stopped");
        if (stopped)
            cr_expect_eq(json_integer_value(json_object_get(j, "lost")), 0);
        json_decref(j);
        if (stopped)
            break;
    }
    cr_expect_geq(metrics, 1, "no live line reached the subscriber");
    client_close(a);
    client_close(b);
    cr_assert_eq(kill(p.pid, SIGTERM), 0);
    cr_expect_eq(wait_exit(p), 0);

    char *file = rm_test_path(rec, "usb-1.h5");
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(file, &s, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(rm_session_frames(s), 1500);
    cr_expect_eq(rm_session_is_live(s), 0);
    cr_expect_str_eq(rm_session_device(s)->serial, SERIAL);
    cr_expect_str_eq(rm_session_header(s)->subject_id, "S01");
    check_frames(s, 0, 50);
    check_frames(s, 1450, 50);
    const char *want[] = {"calves", "quads", "glutes"};
    size_t found = 0;
    for (size_t i = 0; i < rm_session_event_count(s); i++) {
        rm_event ev;
        cr_assert_eq(rm_session_event(s, i, &ev), RM_OK);
        if (!strcmp(ev.kind, RM_EVENT_LABEL)) {
            cr_assert_lt(found, 3, "extra label '%s'", ev.text);
            cr_expect_str_eq(ev.text, want[found]);
            found++;
        }
    }
    cr_expect_eq(found, 3);
    rm_session_close(s);
    free(file);
}

Test(usb_daemon, sigterm_mid_recording_closes_the_file, .init = setup_realtime, .fini = teardown)
{
    proc p = start_rollmatd();
    client *a = client_connect(sock);
    json_t *r = ask(a, NULL, "{\"cmd\":\"start\",\"subject\":\"S01\",\"name\":\"live\"}");
    cr_assert(reply_ok(r), "start: %s", reply_str(r, "error"));
    json_decref(r);
    /* Let some frames arrive at the mat's pace (100 Hz), then stop it the
     * way systemd does. */
    long long frames = 0;
    for (int round = 0; round < 6000 && frames < 30; round++) {
        r = ask(a, NULL, "{\"cmd\":\"status\"}");
        frames = json_integer_value(json_object_get(r, "frames"));
        json_decref(r);
        poll(NULL, 0, 10);
    }
    cr_assert_geq(frames, 30);
    client_close(a);
    cr_assert_eq(kill(p.pid, SIGTERM), 0);
    cr_expect_eq(wait_exit(p), 0);
    char *file = rm_test_path(rec, "live.h5");
    rm_session *s = NULL;
    rm_err e = {0};
    cr_assert_eq(rm_session_open(file, &s, &e), RM_OK, "%s", e.msg);
    cr_expect_eq(rm_session_is_live(s), 0, "not closed cleanly");
    cr_expect_geq(rm_session_frames(s), (uint64_t)frames);
    check_frames(s, 0, (size_t)frames);
    rm_session_close(s);
    free(file);
}

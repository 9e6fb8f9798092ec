/* usb_emu.c - the emulated RM-1 (acquire/emu) through libusb's real Linux
 * backend: enumeration, descriptors, control requests per the datasheet,
 * a byte-exact bulk stream through async transfers, cancel, idle without
 * spinning, unplug and replug. Runs under umockdev-wrapper. */
#include <criterion/criterion.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_proto.h"
#include "rm_usbemu.h"
#include "rm_vmat.h"

#define N_XFERS   8
#define XFER_SIZE (64 * 1024)

static rm_usbemu *emu;
static rm_usbemu_synth *syn;
static rm_usbemu_vmat_source *vsrc;
static rm_usbemu_source source;
static libusb_context *ctx;
static char serial[64];

static void start_emu(rm_usbemu_config *cfg)
{
    rm_err e = {0};
    cfg->source = source;
    cfg->serial = serial;
    cr_assert_eq(rm_usbemu_new(cfg, &emu, &e), RM_OK, "%s", e.msg);
    /* after the testbed exists: libusb must see the emulated sysfs */
    cr_assert_eq(libusb_init(&ctx), 0);
}

static void setup_synth(uint64_t frames, rm_usbemu_pacing pacing, double unplug_at,
                        double replug_after)
{
    rm_err e = {0};
    cr_assert_eq(rm_usbemu_synth_new(64, 48, 100, frames, &syn, &e), RM_OK, "%s", e.msg);
    rm_usbemu_synth_bind(syn, &source);
    snprintf(serial, sizeof serial, "SYN-0042");
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    cfg.pacing = pacing;
    cfg.unplug_at_s = unplug_at;
    cfg.replug_after_s = replug_after;
    start_emu(&cfg);
}

static void setup_small(void) { setup_synth(500, RM_USBEMU_FAST, -1, -1); }
static void setup_big(void) { setup_synth(10500, RM_USBEMU_FAST, -1, -1); }
static void setup_long(void) { setup_synth(1000000, RM_USBEMU_FAST, -1, -1); }
static void setup_scripted(void) { setup_synth(3000, RM_USBEMU_FAST, 5.0, 0.0); }
static void setup_realtime(void) { setup_synth(100000, RM_USBEMU_REALTIME, -1, -1); }

/* Realtime at 1 kHz with a device buffer of 512 KiB (about 85 frames). */
static void setup_realtime_small_backlog(void)
{
    rm_err e = {0};
    cr_assert_eq(rm_usbemu_synth_new(64, 48, 1000, 2000, &syn, &e), RM_OK, "%s", e.msg);
    rm_usbemu_synth_bind(syn, &source);
    snprintf(serial, sizeof serial, "SYN-0042");
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    cfg.pacing = RM_USBEMU_REALTIME;
    cfg.backlog_max = 512u << 10;
    start_emu(&cfg);
}

static void setup_vmat(void)
{
    rm_err e = {0};
    char buf[512];
    rm_vmat_config vc = {0};
    vc.scenario = rm_vmat_scenario_path("faulty", buf, sizeof buf);
    vc.seed = 7;
    /* shorten the routine to about 12,000 frames: enough, and quick */
    rm_vmat *probe = NULL;
    cr_assert_eq(rm_vmat_new(&vc, &probe, &e), RM_OK, "%s", e.msg);
    uint64_t total = rm_vmat_total_frames(probe);
    rm_vmat_free(probe);
    if (total > 12000)
        vc.time_scale = 12000.0 / (double)total;
    cr_assert_eq(rm_usbemu_vmat_source_new(&vc, &vsrc, &e), RM_OK, "%s", e.msg);
    rm_usbemu_vmat_source_bind(vsrc, &source);
    snprintf(serial, sizeof serial, "%s", rm_usbemu_vmat_serial(vsrc));
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    start_emu(&cfg);
}

static void teardown(void)
{
    if (ctx)
        libusb_exit(ctx);
    ctx = NULL;
    rm_usbemu_free(emu);
    emu = NULL;
    rm_usbemu_synth_free(syn);
    syn = NULL;
    rm_usbemu_vmat_source_free(vsrc);
    vsrc = NULL;
}

static libusb_device_handle *open_mat(const char *want_serial)
{
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    cr_assert_geq(n, 0);
    libusb_device_handle *h = NULL;
    for (ssize_t i = 0; i < n && !h; i++) {
        struct libusb_device_descriptor dd;
        cr_assert_eq(libusb_get_device_descriptor(list[i], &dd), 0);
        if (dd.idVendor != RM_USB_VID || dd.idProduct != RM_USB_PID)
            continue;
        cr_assert_eq(libusb_open(list[i], &h), 0);
        unsigned char s[64];
        int r = libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, s, sizeof s);
        cr_assert_gt(r, 0);
        if (want_serial && strcmp((char *)s, want_serial) != 0) {
            libusb_close(h);
            h = NULL;
        }
    }
    libusb_free_device_list(list, 1);
    cr_assert_not_null(h, "no RM-1 with serial %s", want_serial);
    cr_assert_eq(libusb_kernel_driver_active(h, 0), 0);
    cr_assert_eq(libusb_claim_interface(h, 0), 0);
    return h;
}

static int vendor_in(libusb_device_handle *h, uint8_t req, uint16_t idx, uint8_t *buf, uint16_t len)
{
    return libusb_control_transfer(h, RM_REQTYPE_IN, req, 0, idx, buf, len, 1000);
}

static int vendor_out(libusb_device_handle *h, uint8_t req, uint16_t val)
{
    return libusb_control_transfer(h, RM_REQTYPE_OUT, req, val, 0, NULL, 0, 1000);
}

/* ---------- streaming harness ---------- */

typedef struct stream_rx {
    void *ref; /* reference stream from the same source */
    uint8_t *refbuf;
    uint64_t bytes;
    uint64_t xfers_ok;
    int mismatch;
    int midframe_short; /* short transfers that ended inside a frame */
    int active;
    int resubmit;
    int status[8];
} stream_rx;

static void LIBUSB_CALL on_xfer(struct libusb_transfer *t)
{
    stream_rx *rx = t->user_data;
    if (t->status <= LIBUSB_TRANSFER_OVERFLOW)
        rx->status[t->status]++;
    if (t->status == LIBUSB_TRANSFER_COMPLETED) {
        rx->xfers_ok++;
        if (rx->ref) {
            size_t got = source.read(rx->ref, rx->refbuf, (size_t)t->actual_length);
            if (got != (size_t)t->actual_length ||
                memcmp(rx->refbuf, t->buffer, (size_t)t->actual_length) != 0)
                rx->mismatch++;
        }
        rx->bytes += (uint64_t)t->actual_length;
        if (t->actual_length < t->length && rx->bytes % rm_frame_wire_len(64, 48) != 0)
            rx->midframe_short++;
        if (rx->resubmit && libusb_submit_transfer(t) == 0)
            return;
    }
    rx->active--;
}

static struct libusb_transfer *xfers[N_XFERS];

static void submit_all(libusb_device_handle *h, stream_rx *rx)
{
    for (int i = 0; i < N_XFERS; i++) {
        xfers[i] = libusb_alloc_transfer(0);
        uint8_t *b = malloc(XFER_SIZE);
        cr_assert(xfers[i] && b);
        libusb_fill_bulk_transfer(xfers[i], h, RM_USB_EP_IN, b, XFER_SIZE, on_xfer, rx, 0);
        xfers[i]->flags = LIBUSB_TRANSFER_FREE_BUFFER;
        cr_assert_eq(libusb_submit_transfer(xfers[i]), 0);
        rx->active++;
    }
}

static void free_all(void)
{
    for (int i = 0; i < N_XFERS; i++) {
        libusb_free_transfer(xfers[i]);
        xfers[i] = NULL;
    }
}

/* Handles events until cond() holds; fails after `max_idle` one-second
 * rounds without any progress (a hang, not a timing assertion). */
static void pump_until(stream_rx *rx, int (*cond)(stream_rx *), int max_idle)
{
    int idle = 0;
    while (!cond(rx)) {
        uint64_t before = rx->bytes + rx->xfers_ok + (uint64_t)rx->active;
        struct timeval tv = {1, 0};
        cr_assert_eq(libusb_handle_events_timeout_completed(ctx, &tv, NULL), 0);
        if (rx->bytes + rx->xfers_ok + (uint64_t)rx->active == before && ++idle > max_idle)
            cr_assert_fail("no progress: %llu bytes, %d transfers active",
                           (unsigned long long)rx->bytes, rx->active);
    }
}

static int none_active(stream_rx *rx) { return rx->active == 0; }

static uint64_t want_bytes;
static int got_wanted(stream_rx *rx) { return rx->bytes >= want_bytes; }

/* ---------- tests ---------- */

Test(usb_emu, enumerate_descriptors, .init = setup_small, .fini = teardown)
{
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    cr_assert_eq(n, 1, "expected the one emulated mat, got %zd devices", n);
    libusb_device *dev = list[0];
    struct libusb_device_descriptor dd;
    cr_assert_eq(libusb_get_device_descriptor(dev, &dd), 0);
    cr_assert_eq(dd.idVendor, 0x1209);
    cr_assert_eq(dd.idProduct, 0x0001);
    cr_assert_eq(dd.bcdUSB, 0x0200);
    cr_assert_eq(dd.bNumConfigurations, 1);
    cr_assert_eq(libusb_get_device_speed(dev), LIBUSB_SPEED_HIGH);

    struct libusb_config_descriptor *cd = NULL;
    cr_assert_eq(libusb_get_active_config_descriptor(dev, &cd), 0);
    cr_assert_eq(cd->bNumInterfaces, 1);
    const struct libusb_interface_descriptor *id = &cd->interface[0].altsetting[0];
    cr_assert_eq(id->bInterfaceNumber, 0);
    cr_assert_eq(id->bInterfaceClass, 0xff);
    cr_assert_eq(id->bNumEndpoints, 1);
    cr_assert_eq(id->endpoint[0].bEndpointAddress, 0x81);
    cr_assert_eq(id->endpoint[0].bmAttributes & 3, LIBUSB_TRANSFER_TYPE_BULK);
    cr_assert_eq(id->endpoint[0].wMaxPacketSize, 512);
    libusb_free_config_descriptor(cd);

    libusb_device_handle *h = NULL;
    cr_assert_eq(libusb_open(dev, &h), 0);
    unsigned char s[128];
    cr_assert_gt(libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, s, sizeof s), 0);
    cr_assert_str_eq((char *)s, "SYN-0042");
    cr_assert_gt(libusb_get_string_descriptor_ascii(h, dd.iProduct, s, sizeof s), 0);
    cr_assert_str_eq((char *)s, "RM-1 pressure mat");
    /* the same descriptors over the wire as in sysfs */
    uint8_t wire[64], mine[64];
    size_t dl = rm_usbemu_descriptors(emu, mine, sizeof mine);
    cr_assert_eq(libusb_get_descriptor(h, LIBUSB_DT_DEVICE, 0, wire, 18), 18);
    cr_assert_arr_eq(wire, mine, 18);
    cr_assert_eq(libusb_get_descriptor(h, LIBUSB_DT_CONFIG, 0, wire, sizeof wire), (int)dl - 18);
    cr_assert_arr_eq(wire, mine + 18, dl - 18);
    cr_assert_eq(libusb_claim_interface(h, 1), LIBUSB_ERROR_NOT_FOUND);
    libusb_close(h);
    libusb_free_device_list(list, 1);
}

Test(usb_emu, control_requests_per_datasheet, .init = setup_small, .fini = teardown)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    uint8_t buf[RM_CALIB_BLOCK_LEN];
    rm_err e = {0};

    cr_assert_eq(vendor_in(h, RM_REQ_GET_INFO, 0, buf, RM_INFO_LEN), RM_INFO_LEN);
    rm_info info;
    cr_assert_eq(rm_info_decode(buf, RM_INFO_LEN, &info, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(info.rows, 64);
    cr_assert_eq(info.cols, 48);
    cr_assert_eq(info.rate_hz, 100);
    cr_assert(info.flags & RM_INFO_FLAG_CALIB);

    /* GET_CALIB blocks of 512, the last one short, reassemble the blob */
    uint8_t *blob = malloc(info.calib_len);
    cr_assert_not_null(blob);
    size_t have = 0;
    for (uint16_t blk = 0; have < info.calib_len; blk++) {
        int r = vendor_in(h, RM_REQ_GET_CALIB, blk, buf, RM_CALIB_BLOCK_LEN);
        cr_assert_gt(r, 0, "block %u: %s", blk, libusb_error_name(r));
        size_t expect =
            info.calib_len - have < RM_CALIB_BLOCK_LEN ? info.calib_len - have : RM_CALIB_BLOCK_LEN;
        cr_assert_eq((size_t)r, expect);
        memcpy(blob + have, buf, (size_t)r);
        have += (size_t)r;
    }
    cr_assert_eq(rm_crc32(blob, info.calib_len), info.calib_crc32);
    rm_calib *cal = NULL;
    cr_assert_eq(rm_calib_decode(blob, info.calib_len, 64, 48, &info.calib_crc32, &cal, &e), RM_OK,
                 "%s", e.msg);
    rm_calib_free(cal);
    free(blob);
    /* past the end: STALL */
    uint16_t past = (uint16_t)((info.calib_len + RM_CALIB_BLOCK_LEN - 1) / RM_CALIB_BLOCK_LEN);
    cr_assert_eq(vendor_in(h, RM_REQ_GET_CALIB, past, buf, RM_CALIB_BLOCK_LEN), LIBUSB_ERROR_PIPE);

    /* SET_RATE: in range while stopped; out of range or while started STALLs */
    cr_assert_eq(vendor_out(h, RM_REQ_SET_RATE, 5000), LIBUSB_ERROR_PIPE);
    cr_assert_eq(vendor_out(h, RM_REQ_SET_RATE, 9), LIBUSB_ERROR_PIPE);
    cr_assert_eq(vendor_out(h, RM_REQ_SET_RATE, 250), 0);
    cr_assert_eq(vendor_in(h, RM_REQ_GET_INFO, 0, buf, RM_INFO_LEN), RM_INFO_LEN);
    cr_assert_eq(rm_info_decode(buf, RM_INFO_LEN, &info, &e), RM_OK);
    cr_assert_eq(info.rate_hz, 250);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    cr_assert_eq(vendor_out(h, RM_REQ_SET_RATE, 100), LIBUSB_ERROR_PIPE);

    /* GET_STATUS decodes; unsupported requests STALL */
    cr_assert_eq(vendor_in(h, RM_REQ_GET_STATUS, 0, buf, RM_STATUS_LEN), RM_STATUS_LEN);
    rm_dev_status ds;
    cr_assert_eq(rm_dev_status_decode(buf, RM_STATUS_LEN, &ds, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(ds.temperature_centi_c, RM_TEMPERATURE_UNKNOWN);
    cr_assert_eq(vendor_in(h, 0x77, 0, buf, 8), LIBUSB_ERROR_PIPE);
    cr_assert_eq(vendor_out(h, 0x77, 0), LIBUSB_ERROR_PIPE);
    cr_assert_eq(vendor_out(h, RM_REQ_GET_INFO, 0), LIBUSB_ERROR_PIPE); /* wrong direction */
    cr_assert_eq(vendor_out(h, RM_REQ_STOP, 0), 0);

    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    cr_assert_geq(st.stalls, 7);
    cr_assert_eq(st.unknown_ioctls, 0);
    libusb_release_interface(h, 0);
    libusb_close(h);
}

/* 10,500 frames through 8 async transfers of 64 KiB, compared byte by byte
 * with a second stream of the same source. */
Test(usb_emu, bulk_stream_byte_exact, .init = setup_big, .fini = teardown, .timeout = 600)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    stream_rx rx = {.resubmit = 1};
    rm_err e = {0};
    cr_assert_eq(source.open(source.user, 0, &rx.ref, &e), RM_OK);
    rx.refbuf = malloc(XFER_SIZE);
    submit_all(h, &rx);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    want_bytes = 10500ull * rm_frame_wire_len(64, 48);
    pump_until(&rx, got_wanted, 30);
    cr_assert_eq(rx.bytes, want_bytes);
    cr_assert_eq(rx.mismatch, 0, "%d transfers differ from the source", rx.mismatch);

    /* the stream is over: transfers stay pending; cancelling them reaps
     * them as CANCELLED (DISCARDURB -> -ENOENT) */
    rx.resubmit = 0;
    for (int i = 0; i < N_XFERS; i++)
        cr_assert_eq(libusb_cancel_transfer(xfers[i]), 0);
    pump_until(&rx, none_active, 30);
    cr_assert_eq(rx.status[LIBUSB_TRANSFER_CANCELLED], N_XFERS);
    free_all();
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    cr_assert_eq(st.injected.frames_produced, 10500);
    cr_assert_eq(st.bulk_bytes, want_bytes);
    cr_assert(st.stream_done);
    source.close(source.user, rx.ref);
    free(rx.refbuf);
    cr_assert_eq(vendor_out(h, RM_REQ_STOP, 0), 0);
    libusb_release_interface(h, 0);
    libusb_close(h);
}

/* The virtual mat's faulty byte stream, 10,000+ frames, arrives exactly as
 * the model wrote it. */
Test(usb_emu, vmat_stream_byte_exact, .init = setup_vmat, .fini = teardown, .timeout = 600)
{
    libusb_device_handle *h = open_mat(serial);
    stream_rx rx = {.resubmit = 1};
    rm_err e = {0};
    cr_assert_eq(source.open(source.user, 0, &rx.ref, &e), RM_OK, "%s", e.msg);
    rx.refbuf = malloc(XFER_SIZE);
    submit_all(h, &rx);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    /* read the whole scenario (the device goes quiet at its end) */
    rm_usbemu_stats st;
    int idle = 0;
    for (;;) {
        struct timeval tv = {0, 200000};
        uint64_t before = rx.bytes;
        cr_assert_eq(libusb_handle_events_timeout_completed(ctx, &tv, NULL), 0);
        rm_usbemu_get_stats(emu, &st);
        if (st.stream_done && st.bulk_bytes == rx.bytes)
            break;
        idle = rx.bytes == before ? idle + 1 : 0;
        cr_assert_lt(idle, 150, "stream stalled at %llu bytes", (unsigned long long)rx.bytes);
    }
    cr_assert_eq(rx.mismatch, 0);
    cr_assert_geq(st.injected.frames_produced, 10000);
    cr_assert_gt(st.injected.frames_corrupt + st.injected.frames_truncated +
                     st.injected.frames_dropped + st.injected.garbage_insertions,
                 0, "the faulty scenario injected no fault");
    /* nothing left in the reference either */
    cr_assert_eq(source.read(rx.ref, rx.refbuf, 1), 0);
    rx.resubmit = 0;
    for (int i = 0; i < N_XFERS; i++)
        libusb_cancel_transfer(xfers[i]);
    pump_until(&rx, none_active, 30);
    free_all();
    source.close(source.user, rx.ref);
    free(rx.refbuf);
    libusb_release_interface(h, 0);
    libusb_close(h);
}

/* With transfers pending and nothing to send, the client blocks in poll():
 * no REAPURBNDELAY at all while libusb waits (the busy-loop fix). */
Test(usb_emu, idle_client_does_not_spin, .init = setup_small, .fini = teardown)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    stream_rx rx = {.resubmit = 0};
    submit_all(h, &rx); /* no START: the mat sends nothing */
    rm_usbemu_stats a, b;
    rm_usbemu_get_stats(emu, &a);
    for (int i = 0; i < 3; i++) {
        struct timeval tv = {0, 100000};
        cr_assert_eq(libusb_handle_events_timeout_completed(ctx, &tv, NULL), 0);
    }
    rm_usbemu_get_stats(emu, &b);
    cr_assert_eq(b.empty_reaps, a.empty_reaps, "%llu empty reaps while idle",
                 (unsigned long long)(b.empty_reaps - a.empty_reaps));
    cr_assert_eq(rx.active, N_XFERS);
    /* and data still flows once started */
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    want_bytes = 1;
    pump_until(&rx, got_wanted, 30);
    for (int i = 0; i < N_XFERS; i++)
        libusb_cancel_transfer(xfers[i]);
    pump_until(&rx, none_active, 30);
    free_all();
    libusb_close(h);
}

static int hp_arrived, hp_left;
static int LIBUSB_CALL on_hotplug(libusb_context *c, libusb_device *d, libusb_hotplug_event ev,
                                  void *user)
{
    (void)c, (void)d, (void)user;
    if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED)
        hp_arrived++;
    else
        hp_left++;
    return 0;
}

static void pump_flag(int *flag, int want)
{
    for (int i = 0; i < 60 && *flag < want; i++) {
        struct timeval tv = {0, 500000};
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
    cr_assert_geq(*flag, want, "hotplug event not seen");
}

static uint64_t first_frame_time(libusb_device_handle *h)
{
    uint8_t buf[16384];
    int got = 0;
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, buf, sizeof buf, &got, 5000), 0);
    cr_assert_geq(got, RM_FRAME_HEADER_LEN);
    cr_assert_arr_eq(buf, RM_FRAME_MAGIC, 4);
    return rm_get_u64(buf + 16);
}

Test(usb_emu, unplug_completes_transfers_and_replug_is_seen, .init = setup_long, .fini = teardown,
     .timeout = 300)
{
    cr_assert(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG));
    libusb_hotplug_callback_handle cb;
    cr_assert_eq(libusb_hotplug_register_callback(
                     ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
                     RM_USB_VID, RM_USB_PID, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, NULL, &cb),
                 0);
    libusb_device_handle *h = open_mat("SYN-0042");
    uint8_t old_addr = libusb_get_device_address(libusb_get_device(h));
    stream_rx rx = {.resubmit = 1};
    submit_all(h, &rx);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    want_bytes = 40ull * XFER_SIZE;
    pump_until(&rx, got_wanted, 30);

    rm_err e = {0};
    cr_assert_eq(rm_usbemu_unplug(emu, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(rm_usbemu_unplug(emu, &e), RM_ERR_STATE);
    pump_until(&rx, none_active, 30);
    cr_assert_eq(rx.status[LIBUSB_TRANSFER_NO_DEVICE], N_XFERS,
                 "completed %d, no-device %d, error %d", rx.status[0],
                 rx.status[LIBUSB_TRANSFER_NO_DEVICE], rx.status[LIBUSB_TRANSFER_ERROR]);
    pump_flag(&hp_left, 1);
    uint8_t b[RM_INFO_LEN];
    cr_assert_eq(vendor_in(h, RM_REQ_GET_INFO, 0, b, RM_INFO_LEN), LIBUSB_ERROR_NO_DEVICE);
    free_all();
    libusb_close(h);

    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    uint64_t produced = st.injected.frames_produced;
    cr_assert_eq(rm_usbemu_replug(emu, &e), RM_OK, "%s", e.msg);
    pump_flag(&hp_arrived, 1);
    h = open_mat("SYN-0042"); /* same serial, found by enumeration */
    cr_assert_neq(libusb_get_device_address(libusb_get_device(h)), old_addr);
    /* the fresh stream continues the scenario where the first one stopped */
    cr_assert_eq(first_frame_time(h), produced * 10000u);
    libusb_hotplug_deregister_callback(ctx, cb);
    libusb_close(h);
    rm_usbemu_get_stats(emu, &st);
    cr_assert_eq(st.plugs, 2);
    cr_assert_eq(st.unplugs, 1);
}

/* The scripted unplug (unplug-at=5 s of mat time, replug-after=0). */
Test(usb_emu, scripted_unplug_and_replug, .init = setup_scripted, .fini = teardown, .timeout = 300)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    stream_rx rx = {.resubmit = 1};
    submit_all(h, &rx);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    pump_until(&rx, none_active, 30);
    cr_assert_eq(rx.status[LIBUSB_TRANSFER_NO_DEVICE], N_XFERS,
                 "completed %d, no-device %d, error %d, cancelled %d", rx.status[0],
                 rx.status[LIBUSB_TRANSFER_NO_DEVICE], rx.status[LIBUSB_TRANSFER_ERROR],
                 rx.status[LIBUSB_TRANSFER_CANCELLED]);
    size_t fl = rm_frame_wire_len(64, 48);
    /* it stopped once 5 s (500 frames) were produced: at most one
     * transfer's worth later */
    cr_assert_geq(rx.bytes, 498 * fl, "%llu bytes = %.1f frames", (unsigned long long)rx.bytes,
                  (double)rx.bytes / (double)fl);
    cr_assert_leq(rx.bytes, 500 * fl + XFER_SIZE);
    free_all();
    libusb_close(h);
    rm_usbemu_stats st;
    for (int i = 0; i < 100; i++) {
        rm_usbemu_get_stats(emu, &st);
        if (st.plugs == 2)
            break;
        rm_usbemu_wait(emu, 100);
    }
    cr_assert_eq(st.plugs, 2);
    cr_assert(st.plugged);
    h = open_mat("SYN-0042");
    uint64_t t = first_frame_time(h);
    cr_assert_eq(t, st.injected.frames_produced * 10000u);
    libusb_close(h);
}

/* Realtime pacing delivers whole frames in order (content checked, not
 * timing). */
Test(usb_emu, realtime_delivers_whole_frames, .init = setup_realtime, .fini = teardown,
     .timeout = 120)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    stream_rx rx = {.resubmit = 1};
    rm_err e = {0};
    cr_assert_eq(source.open(source.user, 0, &rx.ref, &e), RM_OK);
    rx.refbuf = malloc(XFER_SIZE);
    submit_all(h, &rx);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    want_bytes = 20ull * rm_frame_wire_len(64, 48);
    pump_until(&rx, got_wanted, 30);
    cr_assert_eq(rx.mismatch, 0);
    cr_assert_eq(rx.midframe_short, 0, "a short transfer ended mid-frame");
    rx.resubmit = 0;
    for (int i = 0; i < N_XFERS; i++)
        libusb_cancel_transfer(xfers[i]);
    pump_until(&rx, none_active, 30);
    free_all();
    source.close(source.user, rx.ref);
    free(rx.refbuf);
    libusb_close(h);
}

/* A host that falls behind a realtime mat by more than the device's buffer
 * (ASan under load does) still gets the whole stream, byte for byte: the
 * emulated device waits for it. It used to take a full buffer for the end
 * of the stream: the stream stopped early, mid-frame, and a recording
 * counted one intact frame as truncated (usb_record's exact fault counts
 * failed about one run in three under load). */
Test(usb_emu, slow_host_gets_the_whole_realtime_stream, .init = setup_realtime_small_backlog,
     .fini = teardown, .timeout = 120)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    stream_rx rx = {.resubmit = 1};
    rm_err e = {0};
    cr_assert_eq(source.open(source.user, 0, &rx.ref, &e), RM_OK);
    rx.refbuf = malloc(XFER_SIZE);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    /* The stimulus, not a synchronisation: the host reads nothing for
     * 0.6 s, while the mat produces 600 frames (3.7 MB, 7x its buffer). */
    struct timespec lag = {0, 600 * 1000 * 1000};
    nanosleep(&lag, NULL);
    submit_all(h, &rx);
    want_bytes = 2000ull * rm_frame_wire_len(64, 48);
    pump_until(&rx, got_wanted, 30);
    cr_assert_eq(rx.bytes, want_bytes, "the host got %llu of %llu bytes",
                 (unsigned long long)rx.bytes, (unsigned long long)want_bytes);
    cr_assert_eq(rx.mismatch, 0, "%d transfers differ from the source", rx.mismatch);
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    cr_assert_gt(st.backlog_waits, 0, "the host never fell behind: the test tests nothing");
    cr_assert_eq(st.injected.frames_produced, 2000);
    cr_assert(st.stream_done);
    rx.resubmit = 0;
    for (int i = 0; i < N_XFERS; i++)
        libusb_cancel_transfer(xfers[i]);
    pump_until(&rx, none_active, 30);
    free_all();
    source.close(source.user, rx.ref);
    free(rx.refbuf);
    libusb_close(h);
}

/* STOP: the frame in progress still goes out, then nothing; START again:
 * a new acquisition (seq from 0) that continues the scenario. */
Test(usb_emu, stop_finishes_the_frame_and_start_restarts_seq, .init = setup_small, .fini = teardown)
{
    libusb_device_handle *h = open_mat("SYN-0042");
    size_t fl = rm_frame_wire_len(64, 48);
    uint8_t *buf = malloc(65536);
    cr_assert_not_null(buf);
    int got = 0;
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, buf, 10000, &got, 5000), 0);
    cr_assert_eq(got, 10000); /* one frame and part of the next */
    cr_assert_eq(vendor_out(h, RM_REQ_STOP, 0), 0);
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, buf, 65536, &got, 5000), 0);
    cr_assert_eq((size_t)got, 2 * fl - 10000, "after STOP: %d bytes", got);
    /* then the mat is quiet: the read times out (and is cancelled) */
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, buf, 65536, &got, 300),
                 LIBUSB_ERROR_TIMEOUT);
    cr_assert_eq(got, 0);
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    cr_assert(!st.started);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, buf, (int)fl, &got, 5000), 0);
    cr_assert_eq((size_t)got, fl);
    cr_assert_arr_eq(buf, RM_FRAME_MAGIC, 4);
    cr_assert_eq(rm_get_u32(buf + 8), 0, "seq restarts at 0 after START");
    cr_assert_eq(rm_get_u64(buf + 16), st.injected.frames_produced * 10000u,
                 "the scenario continues after the frames already produced");
    free(buf);
    libusb_close(h);
}

/* ---------- the virtual mat's seq across acquisitions (datasheet: START
 * restarts seq at 0; the device clock and the scenario go on) ---------- */

static rm_vmat_config seq_vc;

static void setup_vmat_clean(void)
{
    rm_err e = {0};
    static char path[512];
    memset(&seq_vc, 0, sizeof seq_vc);
    seq_vc.scenario = rm_vmat_scenario_path("guide", path, sizeof path);
    seq_vc.seed = 11;
    seq_vc.fault_override = 1; /* no faults: every frame read is whole */
    seq_vc.time_scale = 0.05;
    cr_assert_eq(rm_usbemu_vmat_source_new(&seq_vc, &vsrc, &e), RM_OK, "%s", e.msg);
    rm_usbemu_vmat_source_bind(vsrc, &source);
    snprintf(serial, sizeof serial, "%s", rm_usbemu_vmat_serial(vsrc));
    rm_usbemu_config cfg;
    rm_usbemu_config_init(&cfg);
    cfg.pacing = RM_USBEMU_FAST;
    start_emu(&cfg);
}

#define SEQ_N (64 * 48)

/* The model's frame n (from 0) of the scenario, from a mat of its own. */
static void model_frame(uint64_t n, rm_frame_header *hdr, uint16_t *raw)
{
    rm_err e = {0};
    rm_vmat *vm = NULL;
    cr_assert_eq(rm_vmat_new(&seq_vc, &vm, &e), RM_OK, "%s", e.msg);
    cr_assert_lt(n, rm_vmat_total_frames(vm));
    for (uint64_t i = 0; i <= n; i++)
        cr_assert_eq(rm_vmat_next_frame(vm, hdr, raw, NULL), RM_OK);
    rm_vmat_free(vm);
}

/* Reads exactly one frame from the bulk endpoint and decodes it. */
static void read_frame(libusb_device_handle *h, rm_frame_header *hdr, uint16_t *raw)
{
    size_t fl = rm_frame_wire_len(64, 48);
    uint8_t *buf = malloc(fl);
    cr_assert_not_null(buf);
    int got = 0;
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, buf, (int)fl, &got, 5000), 0);
    cr_assert_eq((size_t)got, fl);
    rm_err e = {0};
    size_t flen = 0;
    cr_assert_eq(rm_frame_decode(buf, fl, hdr, raw, SEQ_N, &flen, NULL, &e), RM_OK, "%s", e.msg);
    cr_assert_eq(flen, fl);
    free(buf);
}

/* The first frame of an acquisition: seq 0, no DROPPED_BEFORE, and the
 * model's frame `n` of the scenario (device clock and content). */
static void expect_first_frame(libusb_device_handle *h, uint64_t n)
{
    static uint16_t raw[SEQ_N], want_raw[SEQ_N];
    rm_frame_header hdr, want;
    read_frame(h, &hdr, raw);
    model_frame(n, &want, want_raw);
    cr_assert_eq(hdr.seq, 0, "first frame after START has seq %u", hdr.seq);
    cr_assert_eq(hdr.flags & RM_FLAG_DROPPED_BEFORE, 0);
    cr_assert_eq(hdr.t_device_us, want.t_device_us, "device clock of frame %llu",
                 (unsigned long long)n);
    cr_assert_eq(want.seq, (uint32_t)n, "the reference numbers from power-up");
    cr_assert_arr_eq(raw, want_raw, sizeof raw, "content of frame %llu", (unsigned long long)n);
}

static void expect_frames_from(libusb_device_handle *h, uint32_t seq0, int count)
{
    static uint16_t raw[SEQ_N];
    rm_frame_header hdr;
    uint64_t last_t = 0;
    for (int i = 0; i < count; i++) {
        read_frame(h, &hdr, raw);
        cr_assert_eq(hdr.seq, seq0 + (uint32_t)i);
        cr_assert_eq(hdr.flags & RM_FLAG_DROPPED_BEFORE, 0);
        cr_assert_gt(hdr.t_device_us, last_t);
        last_t = hdr.t_device_us;
    }
}

static rm_dev_status get_status(libusb_device_handle *h)
{
    uint8_t b[RM_STATUS_LEN];
    cr_assert_eq(vendor_in(h, RM_REQ_GET_STATUS, 0, b, RM_STATUS_LEN), RM_STATUS_LEN);
    rm_dev_status ds;
    rm_err e = {0};
    cr_assert_eq(rm_dev_status_decode(b, sizeof b, &ds, &e), RM_OK, "%s", e.msg);
    return ds;
}

Test(usb_emu, vmat_stop_start_restarts_seq, .init = setup_vmat_clean, .fini = teardown,
     .timeout = 300)
{
    libusb_device_handle *h = open_mat(serial);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    expect_first_frame(h, 0);
    expect_frames_from(h, 1, 6);
    cr_assert_eq(vendor_out(h, RM_REQ_STOP, 0), 0);
    /* whatever STOP still lets out, then quiet */
    uint8_t *buf = malloc(65536);
    cr_assert_not_null(buf);
    int got = 0, r;
    while ((r = libusb_bulk_transfer(h, RM_USB_EP_IN, buf, 65536, &got, 300)) == 0 && got > 0)
        ;
    cr_assert_eq(r, LIBUSB_ERROR_TIMEOUT);
    free(buf);
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    cr_assert(!st.started);
    uint64_t produced = st.injected.frames_produced;
    cr_assert_geq(produced, 7);

    /* second acquisition: seq 0 again, the scenario where the mat left it */
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    expect_first_frame(h, produced);
    expect_frames_from(h, 1, 4);
    /* GET_STATUS counts since this START (5 frames read one at a time) */
    rm_dev_status ds = get_status(h);
    cr_assert_eq(ds.frames_sent, 5, "frames_sent %u since the second START", ds.frames_sent);
    cr_assert_eq(ds.frames_dropped, 0);
    rm_usbemu_get_stats(emu, &st);
    cr_assert_eq(st.injected.frames_produced, produced + 5);
    cr_assert_eq(st.injected.frames_sent, produced + 5, "no faults: every frame sent intact");
    libusb_close(h);
}

Test(usb_emu, vmat_replug_start_restarts_seq, .init = setup_vmat_clean, .fini = teardown,
     .timeout = 300)
{
    cr_assert(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG));
    libusb_hotplug_callback_handle cb;
    cr_assert_eq(libusb_hotplug_register_callback(
                     ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
                     RM_USB_VID, RM_USB_PID, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, NULL, &cb),
                 0);
    libusb_device_handle *h = open_mat(serial);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    expect_first_frame(h, 0);
    expect_frames_from(h, 1, 9);

    rm_err e = {0};
    cr_assert_eq(rm_usbemu_unplug(emu, &e), RM_OK, "%s", e.msg);
    pump_flag(&hp_left, 1);
    libusb_close(h);
    rm_usbemu_stats st;
    rm_usbemu_get_stats(emu, &st);
    uint64_t produced = st.injected.frames_produced;
    cr_assert_eq(produced, 10, "frames were read one at a time");
    cr_assert_eq(rm_usbemu_replug(emu, &e), RM_OK, "%s", e.msg);
    pump_flag(&hp_arrived, 1);

    h = open_mat(serial);
    /* before START the mat sends nothing */
    uint8_t b[64];
    int got = 0;
    cr_assert_eq(libusb_bulk_transfer(h, RM_USB_EP_IN, b, sizeof b, &got, 300),
                 LIBUSB_ERROR_TIMEOUT);
    cr_assert_eq(got, 0);
    cr_assert_eq(vendor_out(h, RM_REQ_START, 0), 0);
    expect_first_frame(h, produced);
    expect_frames_from(h, 1, 3);
    rm_dev_status ds = get_status(h);
    cr_assert_eq(ds.frames_sent, 4, "frames_sent %u since the START after replug", ds.frames_sent);
    libusb_hotplug_deregister_callback(ctx, cb);
    libusb_close(h);
}

/* usb.c - the RM-1 transport over libusb-1.0 (rm_usb.h). */
#include "rm_usb.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_clock.h"

struct rm_usb {
    libusb_context *ctx;
    libusb_device_handle *h;
    rm_usb_options opt;   /* opt.serial points at want_serial */
    char want_serial[64]; /* the serial asked for ("" = the only mat) */
    uint16_t vid, pid;
    char serial[64]; /* the serial of the mat opened */
    rm_info info;
    rm_calib *calib;
    int claimed;

    struct libusb_transfer **xfers;
    unsigned nxfers;
    unsigned in_flight;
    size_t xfer_size;
    rm_usb_data_fn fn;
    void *user;
    int streaming; /* START sent */
    int stopping;  /* do not resubmit */
    int gone;      /* NO_DEVICE seen */
    unsigned consecutive_errors;
    int fatal;
    char fatal_msg[200];
    uint64_t n_transfers, n_bytes;
};

rm_status rm_usb_error(int rc, rm_err *err, const char *what)
{
    rm_status st;
    const char *hint = "";
    switch (rc) {
    case LIBUSB_ERROR_NO_DEVICE: st = RM_ERR_NO_DEVICE; break;
    case LIBUSB_ERROR_PIPE: st = RM_ERR_STALL; break;
    case LIBUSB_ERROR_TIMEOUT: st = RM_ERR_TIMEOUT; break;
    case LIBUSB_ERROR_NOT_FOUND: st = RM_ERR_NOT_FOUND; break;
    case LIBUSB_ERROR_BUSY: st = RM_ERR_BUSY; break;
    case LIBUSB_ERROR_NO_MEM: st = RM_ERR_NOMEM; break;
    case LIBUSB_ERROR_INTERRUPTED: st = RM_ERR_INTERRUPTED; break;
    case LIBUSB_ERROR_ACCESS:
        st = RM_ERR_PERMISSION;
        hint = " (install the udev rule 70-rollmat.rules and join its group)";
        break;
    default: st = RM_ERR_USB; break;
    }
    if (rc == LIBUSB_ERROR_PIPE)
        return rm_err_set(err, st, "%s: the mat refused the request (STALL, %s)", what,
                          libusb_error_name(rc));
    return rm_err_set(err, st, "%s: %s (%s)%s", what, libusb_error_name(rc), libusb_strerror(rc),
                      hint);
}

static unsigned timeout_of(const rm_usb_options *o) { return o->timeout_ms ? o->timeout_ms : 1000; }

static void read_string(libusb_device_handle *h, uint8_t idx, char *out, size_t cap)
{
    out[0] = 0;
    if (!idx)
        return;
    unsigned char buf[128];
    int n = libusb_get_string_descriptor_ascii(h, idx, buf, sizeof buf);
    if (n > 0)
        snprintf(out, cap, "%.*s", n, (const char *)buf);
}

static rm_status get_info(libusb_device_handle *h, unsigned tmo, rm_info *info, rm_err *err)
{
    uint8_t buf[RM_INFO_LEN];
    int n = libusb_control_transfer(h, RM_REQTYPE_IN, RM_REQ_GET_INFO, 0, 0, buf, sizeof buf, tmo);
    if (n < 0)
        return rm_usb_error(n, err, "GET_INFO");
    rm_status st = rm_info_decode(buf, (size_t)n, info, err);
    if (st != RM_OK)
        return rm_err_prefix(err, st, "GET_INFO");
    return RM_OK;
}

static void defaults(uint16_t *vid, uint16_t *pid)
{
    if (!*vid)
        *vid = RM_USB_VID;
    if (!*pid)
        *pid = RM_USB_PID;
}

rm_status rm_usb_list(uint16_t vid, uint16_t pid, rm_usb_found **out, size_t *n, rm_err *err)
{
    if (!out || !n)
        return rm_err_set(err, RM_ERR_ARG, "usb: NULL argument");
    *out = NULL;
    *n = 0;
    defaults(&vid, &pid);
    libusb_context *ctx = NULL;
    int rc = libusb_init(&ctx);
    if (rc < 0)
        return rm_usb_error(rc, err, "libusb_init");
    libusb_device **list = NULL;
    ssize_t cnt = libusb_get_device_list(ctx, &list);
    if (cnt < 0) {
        libusb_exit(ctx);
        return rm_usb_error((int)cnt, err, "listing USB devices");
    }
    rm_usb_found *res = calloc((size_t)cnt + 1, sizeof *res);
    if (!res) {
        libusb_free_device_list(list, 1);
        libusb_exit(ctx);
        return rm_err_set(err, RM_ERR_NOMEM, "usb: out of memory");
    }
    size_t k = 0;
    for (ssize_t i = 0; i < cnt; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd) < 0 || dd.idVendor != vid ||
            dd.idProduct != pid)
            continue;
        rm_usb_found *f = &res[k++];
        f->vid = dd.idVendor;
        f->pid = dd.idProduct;
        f->bus = libusb_get_bus_number(list[i]);
        f->address = libusb_get_device_address(list[i]);
        libusb_device_handle *h = NULL;
        rc = libusb_open(list[i], &h);
        if (rc < 0) {
            rm_err e = {0};
            rm_usb_error(rc, &e, "open");
            snprintf(f->error, sizeof f->error, "%.199s", e.msg);
            continue;
        }
        read_string(h, dd.iSerialNumber, f->serial, sizeof f->serial);
        read_string(h, dd.iManufacturer, f->manufacturer, sizeof f->manufacturer);
        read_string(h, dd.iProduct, f->product, sizeof f->product);
        rm_err e = {0};
        if (get_info(h, 1000, &f->info, &e) == RM_OK)
            f->have_info = 1;
        else
            snprintf(f->error, sizeof f->error, "%.199s", e.msg);
        libusb_close(h);
    }
    libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    if (k == 0) {
        free(res);
        res = NULL;
    }
    *out = res;
    *n = k;
    return RM_OK;
}

/* Finds the device (by serial if given) and opens it into u->h. */
static rm_status find_and_open(rm_usb *u, rm_err *err)
{
    libusb_device **list = NULL;
    ssize_t cnt = libusb_get_device_list(u->ctx, &list);
    if (cnt < 0)
        return rm_usb_error((int)cnt, err, "listing USB devices");
    const char *want = u->opt.serial && u->opt.serial[0] ? u->opt.serial : NULL;
    char seen[256] = "";
    int matches = 0;
    rm_status st = RM_OK;
    rm_err last = {0};
    int last_rc = 0;
    for (ssize_t i = 0; i < cnt && !u->h; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd) < 0 || dd.idVendor != u->vid ||
            dd.idProduct != u->pid)
            continue;
        libusb_device_handle *h = NULL;
        int rc = libusb_open(list[i], &h);
        if (rc < 0) {
            last_rc = rc;
            rm_usb_error(rc, &last, "opening the mat");
            continue;
        }
        char serial[64];
        read_string(h, dd.iSerialNumber, serial, sizeof serial);
        if (want && strcmp(serial, want) != 0) {
            libusb_close(h);
            size_t l = strlen(seen);
            snprintf(seen + l, sizeof seen - l, "%s%s", l ? ", " : "", serial);
            continue;
        }
        matches++;
        if (!want) {
            /* Without a serial the choice must be unambiguous. */
            size_t l = strlen(seen);
            snprintf(seen + l, sizeof seen - l, "%s%s", l ? ", " : "", serial);
            if (matches > 1) {
                libusb_close(h);
                continue;
            }
        }
        u->h = h;
        snprintf(u->serial, sizeof u->serial, "%s", serial);
    }
    if (!want && matches > 1) {
        libusb_close(u->h);
        u->h = NULL;
        st = rm_err_set(err, RM_ERR_NOT_FOUND,
                        "%d mats %04x:%04x attached (serials %s): pick one with --serial", matches,
                        u->vid, u->pid, seen);
    } else if (!u->h) {
        if (last_rc)
            st = rm_err_set(err, last.status, "%s", last.msg);
        else if (want)
            st = rm_err_set(err, RM_ERR_NOT_FOUND, "no mat %04x:%04x with serial %s%s%s%s", u->vid,
                            u->pid, want, seen[0] ? " (found: " : "", seen, seen[0] ? ")" : "");
        else
            st = rm_err_set(err, RM_ERR_NOT_FOUND, "no mat %04x:%04x found on USB", u->vid, u->pid);
    }
    libusb_free_device_list(list, 1);
    return st;
}

static rm_status read_calib(rm_usb *u, rm_err *err)
{
    if (!(u->info.flags & RM_INFO_FLAG_CALIB) || u->info.calib_len == 0)
        return RM_OK;
    size_t len = u->info.calib_len;
    if (len > 64u * 1024u * 1024u)
        return rm_err_set(err, RM_ERR_LENGTH, "GET_INFO: calib_len %zu is implausible", len);
    uint8_t *blob = malloc(len);
    if (!blob)
        return rm_err_set(err, RM_ERR_NOMEM, "calibration: out of memory for %zu bytes", len);
    size_t got = 0;
    rm_status st = RM_OK;
    for (unsigned block = 0; got < len; block++) {
        if (block > 0xFFFF) {
            st = rm_err_set(err, RM_ERR_LENGTH, "GET_CALIB: more than 65536 blocks");
            break;
        }
        size_t want = len - got < RM_CALIB_BLOCK_LEN ? len - got : RM_CALIB_BLOCK_LEN;
        int n = libusb_control_transfer(u->h, RM_REQTYPE_IN, RM_REQ_GET_CALIB, 0, (uint16_t)block,
                                        blob + got, (uint16_t)want, timeout_of(&u->opt));
        if (n < 0) {
            char what[64];
            snprintf(what, sizeof what, "GET_CALIB block %u", block);
            st = rm_usb_error(n, err, what);
            break;
        }
        if ((size_t)n != want) {
            st = rm_err_set(err, RM_ERR_TRUNCATED,
                            "GET_CALIB block %u: %d bytes, expected %zu (calib_len %zu)", block, n,
                            want, len);
            break;
        }
        got += (size_t)n;
    }
    if (st == RM_OK) {
        uint32_t crc = u->info.calib_crc32;
        st = rm_calib_decode(blob, len, u->info.rows, u->info.cols, &crc, &u->calib, err);
        if (st != RM_OK)
            rm_err_prefix(err, st, "calibration from the mat");
    }
    free(blob);
    return st;
}

/* Lets go of the device (interface, handle, calibration); the context
 * stays. Transfers must have been stopped. */
static void detach(rm_usb *u)
{
    if (u->h) {
        if (u->claimed)
            libusb_release_interface(u->h, RM_USB_INTERFACE);
        libusb_close(u->h);
    }
    u->h = NULL;
    u->claimed = 0;
    u->streaming = 0;
    rm_calib_free(u->calib);
    u->calib = NULL;
}

/* Finds, opens and sets up the mat on u->ctx: claim, GET_INFO, calibration.
 * On failure u holds no device handle. */
static rm_status attach(rm_usb *u, rm_err *err)
{
    rm_status st = find_and_open(u, err);
    int rc;
    if (st == RM_OK) {
        /* Detach a kernel driver by hand: auto-detach needs the
         * DISCONNECT_CLAIM ioctl, which not every usbfs offers. */
        if (libusb_kernel_driver_active(u->h, RM_USB_INTERFACE) == 1) {
            rc = libusb_detach_kernel_driver(u->h, RM_USB_INTERFACE);
            if (rc < 0 && rc != LIBUSB_ERROR_NOT_FOUND)
                st = rm_usb_error(rc, err, "detaching the kernel driver from the mat");
        }
    }
    if (st == RM_OK) {
        rc = libusb_claim_interface(u->h, RM_USB_INTERFACE);
        if (rc < 0)
            st = rm_usb_error(rc, err, "claiming interface 0 of the mat");
        else
            u->claimed = 1;
    }
    if (st == RM_OK)
        st = get_info(u->h, timeout_of(&u->opt), &u->info, err);
    if (st == RM_OK)
        st = read_calib(u, err);
    if (st != RM_OK) {
        detach(u);
        return st;
    }
    rm_log(&u->opt.log, RM_LOG_INFO, "opened mat %04x:%04x serial %s: %s %s, %ux%u, %u Hz", u->vid,
           u->pid, u->serial, u->info.model, u->info.firmware, u->info.rows, u->info.cols,
           u->info.rate_hz);
    return RM_OK;
}

rm_status rm_usb_open(const rm_usb_options *opt, rm_usb **out, rm_err *err)
{
    if (!out)
        return rm_err_set(err, RM_ERR_ARG, "usb: NULL argument");
    *out = NULL;
    rm_usb *u = calloc(1, sizeof *u);
    if (!u)
        return rm_err_set(err, RM_ERR_NOMEM, "usb: out of memory");
    if (opt)
        u->opt = *opt;
    u->vid = u->opt.vid;
    u->pid = u->opt.pid;
    defaults(&u->vid, &u->pid);
    /* The serial string is the caller's: keep a copy for rm_usb_reopen. */
    snprintf(u->want_serial, sizeof u->want_serial, "%s", u->opt.serial ? u->opt.serial : "");
    u->opt.serial = u->want_serial;
    int rc = libusb_init(&u->ctx);
    if (rc < 0) {
        free(u);
        return rm_usb_error(rc, err, "libusb_init");
    }
    rm_status st = attach(u, err);
    if (st != RM_OK) {
        rm_usb_close(u);
        return st;
    }
    *out = u;
    return RM_OK;
}

rm_status rm_usb_reopen(rm_usb *u, rm_err *err)
{
    if (!u)
        return rm_err_set(err, RM_ERR_ARG, "usb: NULL argument");
    if (u->xfers)
        rm_usb_stop(u, NULL);
    if (u->xfers) /* never closed under transfers in flight */
        return rm_err_set(err, RM_ERR_STATE, "usb: transfers of mat %s are still in flight",
                          u->serial);
    detach(u);
    /* Hand libusb its pending hotplug notices: the departed mat's device
     * is released here rather than kept until rm_usb_close. */
    struct timeval zero = {0, 0};
    libusb_handle_events_timeout_completed(u->ctx, &zero, NULL);
    /* The same mat: once a serial is known, only that one will do. */
    if (u->serial[0])
        snprintf(u->want_serial, sizeof u->want_serial, "%s", u->serial);
    u->gone = u->fatal = 0;
    u->consecutive_errors = 0;
    return attach(u, err);
}

const rm_info *rm_usb_info(const rm_usb *u) { return &u->info; }
const rm_calib *rm_usb_calib(const rm_usb *u) { return u->calib; }
const char *rm_usb_serial(const rm_usb *u) { return u->serial; }
int rm_usb_gone(const rm_usb *u) { return u->gone; }

void rm_usb_counters(const rm_usb *u, uint64_t *transfers, uint64_t *bytes)
{
    if (transfers)
        *transfers = u->n_transfers;
    if (bytes)
        *bytes = u->n_bytes;
}

void rm_usb_device(const rm_usb *u, rm_device *dev)
{
    memset(dev, 0, sizeof *dev);
    dev->vid = u->vid;
    dev->pid = u->pid;
    snprintf(dev->serial, sizeof dev->serial, "%s", u->serial);
    snprintf(dev->model, sizeof dev->model, "%s", u->info.model);
    snprintf(dev->firmware, sizeof dev->firmware, "%s", u->info.firmware);
    dev->protocol_version = u->info.protocol_version;
    dev->rows = u->info.rows;
    dev->cols = u->info.cols;
    dev->adc_bits = u->info.adc_bits;
    dev->row_pitch_mm = u->info.row_pitch_um / 1000.0;
    dev->col_pitch_mm = u->info.col_pitch_um / 1000.0;
    dev->rate_hz = u->info.rate_hz;
}

rm_status rm_usb_set_rate(rm_usb *u, unsigned rate_hz, rm_err *err)
{
    if (rate_hz > 0xFFFF)
        return rm_err_set(err, RM_ERR_RANGE, "rate %u Hz does not fit the protocol (max 65535)",
                          rate_hz);
    int rc = libusb_control_transfer(u->h, RM_REQTYPE_OUT, RM_REQ_SET_RATE, (uint16_t)rate_hz, 0,
                                     NULL, 0, timeout_of(&u->opt));
    if (rc == LIBUSB_ERROR_PIPE)
        return rm_err_set(err, RM_ERR_STALL,
                          "the mat refused rate %u Hz (allowed %u..%u): SET_RATE stalled "
                          "(LIBUSB_ERROR_PIPE)",
                          rate_hz, u->info.min_rate_hz, u->info.max_rate_hz);
    if (rc < 0)
        return rm_usb_error(rc, err, "SET_RATE");
    rm_info fresh;
    rm_status st = get_info(u->h, timeout_of(&u->opt), &fresh, err);
    if (st != RM_OK)
        return st;
    if (fresh.rate_hz != rate_hz)
        return rm_err_set(err, RM_ERR_RANGE, "the mat accepted rate %u Hz but reports %u Hz",
                          rate_hz, fresh.rate_hz);
    u->info.rate_hz = fresh.rate_hz;
    return RM_OK;
}

rm_status rm_usb_get_status(rm_usb *u, rm_dev_status *out, rm_err *err)
{
    uint8_t buf[RM_STATUS_LEN];
    int n = libusb_control_transfer(u->h, RM_REQTYPE_IN, RM_REQ_GET_STATUS, 0, 0, buf, sizeof buf,
                                    timeout_of(&u->opt));
    if (n < 0)
        return rm_usb_error(n, err, "GET_STATUS");
    return rm_dev_status_decode(buf, (size_t)n, out, err);
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *t)
{
    rm_usb *u = t->user_data;
    u->in_flight--;
    switch (t->status) {
    case LIBUSB_TRANSFER_COMPLETED:
        u->consecutive_errors = 0;
        u->n_transfers++;
        u->n_bytes += (uint64_t)t->actual_length;
        if (t->actual_length > 0 && u->fn)
            u->fn(u->user, t->buffer, (size_t)t->actual_length, rm_clock_monotonic());
        break;
    case LIBUSB_TRANSFER_NO_DEVICE: u->gone = 1; return;
    case LIBUSB_TRANSFER_CANCELLED: return;
    default:
        /* Bytes that made it before an error are still the stream's. */
        if (t->actual_length > 0 && u->fn)
            u->fn(u->user, t->buffer, (size_t)t->actual_length, rm_clock_monotonic());
        if (++u->consecutive_errors > 50 && !u->fatal) {
            u->fatal = 1;
            snprintf(u->fatal_msg, sizeof u->fatal_msg,
                     "bulk IN 0x81: %u transfers in a row failed (last status %d)",
                     u->consecutive_errors, (int)t->status);
        }
        break;
    }
    if (u->stopping || u->gone || u->fatal)
        return;
    int rc = libusb_submit_transfer(t);
    if (rc == 0) {
        u->in_flight++;
    } else if (rc == LIBUSB_ERROR_NO_DEVICE) {
        u->gone = 1;
    } else if (!u->fatal) {
        u->fatal = 1;
        snprintf(u->fatal_msg, sizeof u->fatal_msg, "resubmitting bulk IN 0x81: %s",
                 libusb_error_name(rc));
    }
}

static void free_transfers(rm_usb *u)
{
    for (unsigned i = 0; i < u->nxfers; i++) {
        if (!u->xfers[i])
            continue;
        free(u->xfers[i]->buffer);
        libusb_free_transfer(u->xfers[i]);
    }
    free(u->xfers);
    u->xfers = NULL;
    u->nxfers = 0;
}

rm_status rm_usb_start(rm_usb *u, size_t size, unsigned count, rm_usb_data_fn fn, void *user,
                       rm_err *err)
{
    if (u->xfers)
        return rm_err_set(err, RM_ERR_STATE, "usb: already streaming");
    if (!size)
        size = RM_USB_DEFAULT_TRANSFER_SIZE;
    if (!count)
        count = RM_USB_DEFAULT_TRANSFERS;
    if (count > RM_USB_MAX_TRANSFERS || size > RM_USB_MAX_TRANSFER_SIZE || size < 512)
        return rm_err_set(err, RM_ERR_ARG,
                          "usb: %u transfers of %zu bytes (allowed 1..%u of 512..%u bytes)", count,
                          size, RM_USB_MAX_TRANSFERS, RM_USB_MAX_TRANSFER_SIZE);
    /* Whole max-size packets, so a transfer never ends in a babble. */
    size -= size % 512;
    u->xfers = calloc(count, sizeof *u->xfers);
    if (!u->xfers)
        return rm_err_set(err, RM_ERR_NOMEM, "usb: out of memory");
    u->nxfers = count;
    u->xfer_size = size;
    u->fn = fn;
    u->user = user;
    u->stopping = u->fatal = 0;
    u->consecutive_errors = 0;
    for (unsigned i = 0; i < count; i++) {
        struct libusb_transfer *t = libusb_alloc_transfer(0);
        uint8_t *buf = t ? malloc(size) : NULL;
        if (!buf) {
            if (t)
                libusb_free_transfer(t);
            free_transfers(u);
            return rm_err_set(err, RM_ERR_NOMEM, "usb: out of memory for %u transfers of %zu bytes",
                              count, size);
        }
        libusb_fill_bulk_transfer(t, u->h, RM_USB_EP_IN, buf, (int)size, on_transfer, u, 0);
        u->xfers[i] = t;
    }
    int rc = libusb_control_transfer(u->h, RM_REQTYPE_OUT, RM_REQ_START, 0, 0, NULL, 0,
                                     timeout_of(&u->opt));
    if (rc < 0) {
        free_transfers(u);
        return rm_usb_error(rc, err, "START");
    }
    u->streaming = 1;
    for (unsigned i = 0; i < count; i++) {
        rc = libusb_submit_transfer(u->xfers[i]);
        if (rc < 0) {
            rm_status st = rm_usb_error(rc, err, "submitting bulk IN transfers");
            rm_usb_stop(u, NULL);
            return st;
        }
        u->in_flight++;
    }
    return RM_OK;
}

rm_status rm_usb_handle_events(rm_usb *u, int timeout_ms, rm_err *err)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int rc = libusb_handle_events_timeout_completed(u->ctx, &tv, NULL);
    if (rc < 0 && rc != LIBUSB_ERROR_INTERRUPTED && rc != LIBUSB_ERROR_TIMEOUT)
        return rm_usb_error(rc, err, "handling USB events");
    if (u->fatal)
        return rm_err_set(err, RM_ERR_USB, "%s", u->fatal_msg);
    if (u->gone && u->in_flight == 0)
        return rm_err_set(err, RM_ERR_NO_DEVICE, "mat %s disconnected", u->serial);
    return RM_OK;
}

/* How long rm_usb_stop waits for cancelled transfers. The kernel gives
 * every URB back, also after a disconnect (usbfs reaps them with
 * -ESHUTDOWN, libusb reports NO_DEVICE), so this only bounds a device or
 * driver that never answers. */
#define STOP_WAIT_S 5.0

rm_status rm_usb_stop(rm_usb *u, rm_err *err)
{
    if (!u)
        return RM_OK;
    u->stopping = 1;
    for (unsigned i = 0; i < u->nxfers; i++)
        if (u->xfers[i])
            libusb_cancel_transfer(u->xfers[i]); /* NOT_FOUND if not in flight: fine */
    /* Every transfer must come back before its memory is freed, also when
     * the mat is gone: those come back too, as NO_DEVICE. */
    double deadline = rm_clock_monotonic() + STOP_WAIT_S;
    while (u->in_flight > 0 && rm_clock_monotonic() < deadline) {
        struct timeval tv = {0, 10000};
        libusb_handle_events_timeout_completed(u->ctx, &tv, NULL);
    }
    rm_status st = RM_OK;
    if (u->streaming && !u->gone && u->h) {
        int rc = libusb_control_transfer(u->h, RM_REQTYPE_OUT, RM_REQ_STOP, 0, 0, NULL, 0,
                                         timeout_of(&u->opt));
        if (rc < 0 && rc != LIBUSB_ERROR_NO_DEVICE)
            st = rm_usb_error(rc, err, "STOP");
    }
    u->streaming = 0;
    if (u->in_flight == 0) {
        free_transfers(u);
    } else {
        rm_log(&u->opt.log, RM_LOG_WARN,
               "usb: %u transfers did not come back within %.0f s of their cancel", u->in_flight,
               STOP_WAIT_S);
        if (st == RM_OK)
            st = rm_err_set(err, RM_ERR_TIMEOUT,
                            "usb: %u transfers did not come back within %.0f s of their cancel",
                            u->in_flight, STOP_WAIT_S);
    }
    return st;
}

void rm_usb_close(rm_usb *u)
{
    if (!u)
        return;
    if (u->xfers)
        rm_usb_stop(u, NULL);
    detach(u);
    /* Transfers still in flight (a device that never answered the cancel:
     * rm_usb_stop logged it) are leaked rather than freed under the
     * kernel's feet. */
    if (u->ctx)
        libusb_exit(u->ctx);
    free(u);
}

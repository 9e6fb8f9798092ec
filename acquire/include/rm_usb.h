/* rm_usb.h - the RM-1 transport over libusb-1.0.
 *
 * Finds mats by VID/PID (default 1209:0001) and serial number, opens one,
 * claims interface 0, reads GET_INFO and the calibration blob (GET_CALIB
 * blocks of 512 bytes, the last one short, validated with rm_calib_decode and
 * the CRC from GET_INFO), sets the rate and streams the bulk IN endpoint with
 * the asynchronous API: several large transfers stay in flight and every
 * completed one hands its bytes to a callback (frames do not align with
 * transfers: feed them to an rm_decoder).
 *
 * Threading: one thread drives everything: the caller of
 * rm_usb_handle_events is the event-handling thread and the data callback
 * runs on it. The callback must not block (hand frames to a ring).
 *
 * Errors: libusb codes map onto rm_status (NO_DEVICE -> RM_ERR_NO_DEVICE,
 * PIPE (STALL) -> RM_ERR_STALL, ACCESS -> RM_ERR_PERMISSION, TIMEOUT ->
 * RM_ERR_TIMEOUT, NOT_FOUND -> RM_ERR_NOT_FOUND, BUSY -> RM_ERR_BUSY, others
 * RM_ERR_USB) and the message keeps libusb_error_name.
 *
 * Ownership: rm_usb_open returns an rm_usb (one libusb context, one open
 * mat) the caller ends with rm_usb_close (which stops streaming, sends STOP
 * and releases the interface). Pointers
 * returned by accessors are owned by the rm_usb. rm_usb_list returns an
 * array the caller frees with free(). */
#ifndef RM_USB_H
#define RM_USB_H

#include <stddef.h>
#include <stdint.h>

#include "rm_packet.h"
#include "rm_proto.h"
#include "rm_status.h"

/* Defaults chosen by measurement through the emulated path
 * (docs/recording.md): cost is per transfer, so transfers are large;
 * 8 x 256 KiB gave ~25,000 frames/s of 64x48 (4 KiB: 1,500; 64 KiB:
 * 14,000). A mat ends a transfer with a short packet when its buffer runs
 * empty, so a large transfer adds no latency at real rates. */
#define RM_USB_DEFAULT_TRANSFER_SIZE (256u * 1024u)
#define RM_USB_DEFAULT_TRANSFERS     8u
#define RM_USB_MAX_TRANSFERS         64u
#define RM_USB_MAX_TRANSFER_SIZE     (16u * 1024u * 1024u)

typedef struct rm_usb_found {
    uint16_t vid, pid;
    uint8_t bus, address;
    char serial[64];
    char manufacturer[64];
    char product[64];
    int have_info; /* 1: info below was read with GET_INFO */
    rm_info info;
    char error[200]; /* why the mat could not be opened/read, if not */
} rm_usb_found;

/* Lists the attached devices with this VID/PID (0 = the defaults), opening
 * each briefly for its serial and GET_INFO (a device that cannot be opened
 * is listed with `error` set). *out is NULL when *n is 0. */
rm_status rm_usb_list(uint16_t vid, uint16_t pid, rm_usb_found **out, size_t *n, rm_err *err);

typedef struct rm_usb rm_usb;

typedef struct rm_usb_options {
    uint16_t vid, pid;   /* 0 = RM_USB_VID / RM_USB_PID */
    const char *serial;  /* NULL or "" = the only mat attached */
    unsigned timeout_ms; /* control requests; 0 = 1000 */
    rm_logger log;
} rm_usb_options;

/* Finds and opens the mat (RM_ERR_NOT_FOUND if none matches, or if several
 * do and no serial was given: the message lists their serials), claims
 * interface 0, reads GET_INFO and the calibration. */
rm_status rm_usb_open(const rm_usb_options *opt, rm_usb **out, rm_err *err);
/* Stops streaming (see rm_usb_stop), releases the interface, closes the
 * device and ends the libusb context. NULL is allowed. */
void rm_usb_close(rm_usb *u);

/* Reconnects after an unplug: stops streaming if needed, lets go of the
 * device and finds and opens the same mat again (the serial of the one
 * opened before, else the rm_usb_options'), on the same libusb context,
 * reading GET_INFO and the calibration anew. The rate is the mat's own
 * (call rm_usb_set_rate again), the counters go on. On failure (typically
 * RM_ERR_NOT_FOUND while the mat is away) u holds no device: only another
 * rm_usb_reopen, rm_usb_serial or rm_usb_close may follow.
 * Why not rm_usb_close + rm_usb_open: libusb 1.0.26 (and its master of August
 * 2026) leaks the libusb_device of a mat whose "remove" uevent is handled
 * while a new context sits between its device scan and its hotplug set-up
 * in libusb_init (usbi_disconnect_device unlinks the device, and the
 * LEFT notice that would hold its reference is not made yet): 404 bytes in
 * 4 allocations per time. A context per reconnect attempt opens that
 * window exactly while the mat comes and goes; one context for the whole
 * run opens it once, at rm_usb_open. */
rm_status rm_usb_reopen(rm_usb *u, rm_err *err);

const rm_info *rm_usb_info(const rm_usb *u);
/* NULL when the mat has no calibration blob. */
const rm_calib *rm_usb_calib(const rm_usb *u);
const char *rm_usb_serial(const rm_usb *u);
/* Device description for the packet stream. */
void rm_usb_device(const rm_usb *u, rm_device *dev);

/* SET_RATE (while stopped). A STALL becomes RM_ERR_STALL with
 * "the mat refused rate 5000 Hz (allowed 10..1000)". */
rm_status rm_usb_set_rate(rm_usb *u, unsigned rate_hz, rm_err *err);
rm_status rm_usb_get_status(rm_usb *u, rm_dev_status *st, rm_err *err);

/* Bytes of one completed bulk IN transfer; `arrival_s` is CLOCK_MONOTONIC
 * seconds at completion. `buf` is borrowed for the call. */
typedef void (*rm_usb_data_fn)(void *user, const uint8_t *buf, size_t len, double arrival_s);

/* Allocates `transfers` transfers of `transfer_size` bytes (0 = defaults),
 * sends START and submits them all. */
rm_status rm_usb_start(rm_usb *u, size_t transfer_size, unsigned transfers, rm_usb_data_fn fn,
                       void *user, rm_err *err);

/* Handles libusb events for at most timeout_ms (data callbacks run here).
 * Returns RM_ERR_NO_DEVICE once the mat is gone (unplugged) and no transfer
 * is left in flight, RM_ERR_USB after persistent transfer errors. */
rm_status rm_usb_handle_events(rm_usb *u, int timeout_ms, rm_err *err);

/* 1 if the mat went away (a transfer ended with NO_DEVICE). */
int rm_usb_gone(const rm_usb *u);

/* Cancels the transfers, waits for every one to come back (also when the
 * mat is gone: they return as NO_DEVICE) and frees them, then sends STOP
 * (skipped if the mat is gone). Data still arriving before the cancel is
 * delivered. A transfer still out after 5 s (a device that never answers)
 * is logged, kept (never freed under the kernel) and the result is
 * RM_ERR_TIMEOUT. */
rm_status rm_usb_stop(rm_usb *u, rm_err *err);

/* Transfer counters: completed transfers and bytes. */
void rm_usb_counters(const rm_usb *u, uint64_t *transfers, uint64_t *bytes);

/* Maps a libusb error code into rm_status and writes "what: NAME (text)". */
rm_status rm_usb_error(int libusb_rc, rm_err *err, const char *what);

#endif

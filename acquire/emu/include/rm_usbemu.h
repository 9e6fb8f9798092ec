/* rm_usbemu.h - an RM-1 mat on emulated USB (umockdev), for tests, demos
 * and benchmarks of the real libusb path on machines without USB.
 *
 * rm_usbemu_new builds a umockdev testbed holding one RM-1 device (sysfs
 * entry with full descriptors, a usbfs node) and answers the usbfs ioctls
 * libusb 1.0.26's Linux backend issues: control requests per the RM-1
 * datasheet and bulk IN transfers on 0x81 filled, at reap time, with the
 * byte stream of a mat model (a rm_usbemu_source; rm_usbemu_vmat_source
 * plugs in the virtual mat). Any process started with
 * rm_usbemu_root_dir() as UMOCKDEV_DIR and libumockdev-preload.so.0 in
 * LD_PRELOAD (or the creating process itself, under umockdev-wrapper)
 * sees the device through libusb.
 *
 * Hotplug: uevents ("add", "remove") reach clients only when the process
 * that owns the rm_usbemu runs under the preload itself (umockdev-wrapper;
 * `rollmat vmat` re-executes itself so); otherwise clients still see
 * unplug through their transfers and replug by enumeration.
 *
 * The ioctl handler runs in umockdev's worker thread, the pacing/unplug
 * timer in a thread of this object; all state is behind one mutex, so the
 * API may be called from any thread.
 *
 * Idle CPU: umockdev's usbfs node is a regular file, which poll() always
 * reports ready, so libusb's event loop would spin. The node is a FIFO
 * instead, kept writable (libusb polls usbfs for POLLOUT) only while a URB
 * is reapable, so a client with nothing to reap blocks in poll(). */
#ifndef RM_USBEMU_H
#define RM_USBEMU_H

#include <stddef.h>
#include <stdint.h>

#include "rm_proto.h"
#include "rm_status.h"
#include "rm_vmat.h"

typedef struct rm_usbemu rm_usbemu;

/* The mat behind the USB device. One stream ("power-up") is opened at
 * rm_usbemu_new and another at each replug and at a START that follows a
 * STOP; `skip_frames` is how many frames the earlier streams produced, so a
 * new stream can continue the scenario instead of restarting it. Each
 * stream serves exactly one acquisition (the host's START), so its first
 * frame has seq 0 as the datasheet says; the device clock continues. */
typedef struct rm_usbemu_source {
    void *user; /* passed to open/close, not owned */
    /* Creates a stream object in *stream. */
    rm_status (*open)(void *user, uint64_t skip_frames, void **stream, rm_err *err);
    void (*close)(void *user, void *stream);
    /* Fills up to `cap` bytes of the bulk IN byte stream; 0 = no more. */
    size_t (*read)(void *stream, uint8_t *buf, size_t cap);
    /* SET_RATE while stopped; a non-OK status is answered with a STALL. */
    rm_status (*set_rate)(void *stream, unsigned rate_hz);
    /* The GET_INFO block and GET_CALIB blob of the stream's mat; the
     * pointers stay valid until close. */
    const rm_info *(*info)(void *stream);
    const uint8_t *(*calib_blob)(void *stream, size_t *len);
    /* What the stream injected so far (may be NULL: counts stay 0). */
    void (*counts)(void *stream, rm_vmat_counts *counts);
} rm_usbemu_source;

typedef enum rm_usbemu_pacing {
    RM_USBEMU_FAST = 0,     /* bytes as fast as the host reads them */
    RM_USBEMU_REALTIME = 1, /* frames released at the mat's rate (monotonic clock) */
} rm_usbemu_pacing;

typedef struct rm_usbemu_config {
    uint16_t vid, pid;        /* 0 = RM_USB_VID / RM_USB_PID */
    const char *serial;       /* iSerialNumber; required */
    const char *manufacturer; /* NULL = "rollmat" */
    const char *product;      /* NULL = "RM-1 pressure mat" */
    rm_usbemu_pacing pacing;
    /* Scripted unplug: when the streamed frames cover `unplug_at_s` seconds
     * of mat time (frames produced / rate), the device stops sending and is
     * unplugged; `replug_after_s` wall-clock seconds later (if >= 0) it is
     * plugged back in. Negative = never. */
    double unplug_at_s;
    double replug_after_s;
    int plain_node;          /* 1: keep umockdev's regular-file usbfs node
                                 (clients busy-loop; for benchmarks only) */
    /* Realtime: how many stream bytes the device may hold for a host that
     * does not keep up (released but not yet read). 0 = 64 MiB; at least
     * 512 KiB (two of the largest frames). When it is full the device waits for the host: no byte is
     * lost and the stream never ends early, only its pacing slips (counted
     * in rm_usbemu_stats.backlog_waits). */
    size_t backlog_max;
    rm_usbemu_source source; /* copied; `user` must outlive the rm_usbemu */
    rm_logger log;           /* unknown ioctls, unplug/replug; may be empty */
} rm_usbemu_config;

/* Defaults: vid/pid 0, no unplug (-1), fast pacing. */
void rm_usbemu_config_init(rm_usbemu_config *cfg);

/* Builds the testbed (under $TMPDIR), plugs the device in and opens the
 * first stream. On success *out is owned by the caller (rm_usbemu_free). */
rm_status rm_usbemu_new(const rm_usbemu_config *cfg, rm_usbemu **out, rm_err *err);
/* Stops the timer thread, closes the streams and removes the testbed
 * directory. NULL is allowed. No client may still use the device. */
void rm_usbemu_free(rm_usbemu *emu);

/* The testbed root: the UMOCKDEV_DIR a client process needs. Owned by emu. */
const char *rm_usbemu_root_dir(const rm_usbemu *emu);
/* "/dev/bus/usb/BBB/DDD" and the sysfs path of the current plug-in. */
const char *rm_usbemu_devnode(const rm_usbemu *emu);
const char *rm_usbemu_syspath(const rm_usbemu *emu);

/* Unplugs like the kernel does: every in-flight URB completes with
 * -ESHUTDOWN (libusb: LIBUSB_TRANSFER_NO_DEVICE), later ioctls on the old
 * node fail with ENODEV, a "remove" uevent is sent, and the device leaves
 * sysfs and /dev. RM_ERR_STATE if already unplugged. */
rm_status rm_usbemu_unplug(rm_usbemu *emu, rm_err *err);
/* Plugs the same device (same serial) back in under a new device number,
 * with a fresh stream continuing the scenario, and sends "add".
 * RM_ERR_STATE if plugged in. */
rm_status rm_usbemu_replug(rm_usbemu *emu, rm_err *err);

/* Traffic and fault counts, for tests and the `rollmat vmat` summary. */
typedef struct rm_usbemu_stats {
    uint64_t urbs_submitted;
    uint64_t urbs_reaped;
    uint64_t empty_reaps; /* REAPURBNDELAY answered EAGAIN */
    uint64_t control_requests;
    uint64_t stalls;
    uint64_t bulk_bytes; /* stream bytes delivered to the host */
    uint64_t unknown_ioctls;
    uint64_t backlog_waits; /* times the device waited for a slow host */
    unsigned plugs; /* 1 + number of replugs */
    unsigned unplugs;
    int plugged;             /* 1 while the device is present */
    int started;             /* 1 between START and STOP */
    int stream_done;         /* the current stream is exhausted and every
                                  byte read from it was delivered (0 while
                                  unplugged) */
    rm_vmat_counts injected; /* summed over every stream */
} rm_usbemu_stats;
void rm_usbemu_get_stats(rm_usbemu *emu, rm_usbemu_stats *stats);

/* Blocks until the stats change (a URB reaped, unplug, replug ...) or
 * `timeout_ms` passes; for callers that wait on the device. */
void rm_usbemu_wait(rm_usbemu *emu, int timeout_ms);

/* The standard descriptors the device reports (device, configuration with
 * interface and endpoint), as in sysfs "descriptors". Writes up to `cap`
 * bytes and returns the full length. */
size_t rm_usbemu_descriptors(const rm_usbemu *emu, uint8_t *buf, size_t cap);

/* A source backed by the virtual mat (rm_vmat): each stream is a new
 * rm_vmat built from `cfg` (copied, with the scenario path string duplicated)
 * that skips the frames earlier streams produced and then restarts seq
 * (rm_vmat_restart_seq: seq 0, device clock and scenario go on; the counts
 * reported are those of this stream alone). The mat's serial is
 * available through rm_usbemu_vmat_serial after creation.
 * *out is freed with rm_usbemu_vmat_source_free after the rm_usbemu. */
typedef struct rm_usbemu_vmat_source rm_usbemu_vmat_source;
rm_status rm_usbemu_vmat_source_new(const rm_vmat_config *cfg, rm_usbemu_vmat_source **out,
                                    rm_err *err);
void rm_usbemu_vmat_source_free(rm_usbemu_vmat_source *src);
/* Fills `source` for rm_usbemu_config. */
void rm_usbemu_vmat_source_bind(rm_usbemu_vmat_source *src, rm_usbemu_source *source);
/* The serial of the virtual mat (owned by src). */
const char *rm_usbemu_vmat_serial(const rm_usbemu_vmat_source *src);

/* A synthetic mat: `n_frames` frames of rows x cols at `rate_hz`, no faults,
 * deterministic content (frame i: t_device_us = i * 1e6 / rate, sensel k =
 * (7 i + k) mod 4096, seq counted from each stream's START). For tests and
 * benchmarks that need a stream independent of the virtual mat model. */
typedef struct rm_usbemu_synth rm_usbemu_synth;
rm_status rm_usbemu_synth_new(uint16_t rows, uint16_t cols, unsigned rate_hz, uint64_t n_frames,
                              rm_usbemu_synth **out, rm_err *err);
void rm_usbemu_synth_free(rm_usbemu_synth *syn);
void rm_usbemu_synth_bind(rm_usbemu_synth *syn, rm_usbemu_source *source);

#endif

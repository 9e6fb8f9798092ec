/* usbemu.c - the RM-1 device model on umockdev (see rm_usbemu.h).
 *
 * One mutex guards everything. umockdev's worker thread calls on_ioctl for
 * every usbfs ioctl of every client; the timer thread paces realtime frames
 * and runs scripted unplug/replug; API calls come from the owner's thread.
 * umockdev_ioctl_data_resolve talks to the blocked client, so it is only
 * called from on_ioctl, never from the other threads. */
#include "rm_usbemu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#endif

#define EMU_MAX_PLUGS      64
#define EMU_BUS            1
#define EMU_FIRST_DEVNUM   2
#define EMU_SYSPATH        "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define EMU_PROBE_BYTES    4096
#define EMU_STAGE_CHUNK    65536
#define EMU_STAGE_MAX      (64u << 20)
#define EMU_STAGE_MIN_MAX  (512u << 10) /* two of the largest frames */
#define EMU_USB_SPEED_HIGH 3 /* enum usb_device_speed */

/* Standard requests and descriptor types (USB 2.0 chapter 9). */
#define STD_GET_STATUS        0x00
#define STD_CLEAR_FEATURE     0x01
#define STD_SET_FEATURE       0x03
#define STD_GET_DESCRIPTOR    0x06
#define STD_GET_CONFIGURATION 0x08
#define STD_SET_CONFIGURATION 0x09
#define STD_GET_INTERFACE     0x0a
#define STD_SET_INTERFACE     0x0b
#define DT_DEVICE             1
#define DT_CONFIG             2
#define DT_STRING             3
#define DT_QUALIFIER          6

typedef struct emu_urb {
    struct emu_urb *next;
    UMockdevIoctlClient *client; /* ref */
    UMockdevIoctlData *data;     /* the struct usbdevfs_urb, ref */
    unsigned long client_addr;   /* the urb's address in the client */
    int plug;                    /* index into emu->plugs */
    int type, endpoint, buffer_length;
    int done; /* completed: reapable */
} emu_urb;

typedef struct emu_plug {
    int devnum;
    char devnode[40]; /* /dev/bus/usb/BBB/DDD */
    char fifo_path[PATH_MAX];
    int fifo_fd;
    int fifo_ready; /* 1: pipe empty, POLLOUT for clients */
    int gone;
} emu_plug;

struct rm_usbemu {
    pthread_mutex_t mu;
    pthread_cond_t changed;  /* stats changed (rm_usbemu_wait) */
    pthread_cond_t timer_cv; /* wakes the timer thread */
    pthread_t timer;
    int timer_started;
    int quit;

    rm_usbemu_config cfg;
    char serial[128], manufacturer[128], product[128];
    uint8_t desc[64];
    size_t desc_len;

    UMockdevTestbed *tb;
    UMockdevIoctlBase *handler;
    char *root_dir;

    emu_plug plugs[EMU_MAX_PLUGS];
    int n_plugs;
    int cur; /* current plug index */
    int plugged;
    struct timespec power_up;

    emu_urb *urbs, *urbs_tail; /* submit order */

    /* The stream of the current power-up. */
    void *stream;
    int exhausted;
    int started, ever_started;
    int draining;     /* after STOP: the frame in progress goes out */
    size_t drain_end; /* stage offset where it ends */
    struct timespec t_start;
    uint64_t frames_released;
    uint8_t *stage; /* bytes read from the stream, not yet sent */
    size_t stage_cap, stage_start, stage_end, rel_end;
    size_t stage_max; /* cfg.backlog_max, resolved */
    rm_vmat_counts retired; /* counts of closed streams */
    uint8_t *scratch;       /* one bulk transfer's bytes before copy-out */
    size_t scratch_cap;

    int unplug_pending; /* scripted unplug reached */
    int unplug_done;    /* the script ran (one shot) */
    int replug_armed;
    struct timespec replug_at;

    rm_usbemu_stats st;
};

/* ---------- small helpers ---------- */

static void emu_log(rm_usbemu *emu, rm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emu_log(rm_usbemu *emu, rm_log_level level, const char *fmt, ...)
{
    if (!emu->cfg.log.fn)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emu->cfg.log.fn(emu->cfg.log.user, level, msg);
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
    return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) * 1e-9;
}

static void ts_add(struct timespec *t, double s)
{
    double whole = floor(s);
    t->tv_sec += (time_t)whole;
    t->tv_nsec += (long)((s - whole) * 1e9);
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static void now_mono(struct timespec *t) { clock_gettime(CLOCK_MONOTONIC, t); }

static void counts_add(rm_vmat_counts *sum, const rm_vmat_counts *c)
{
    sum->frames_produced += c->frames_produced;
    sum->frames_sent += c->frames_sent;
    sum->frames_corrupt += c->frames_corrupt;
    sum->frames_truncated += c->frames_truncated;
    sum->frames_dropped += c->frames_dropped;
    sum->garbage_insertions += c->garbage_insertions;
    sum->garbage_bytes += c->garbage_bytes;
}

static void stream_counts(rm_usbemu *emu, rm_vmat_counts *c)
{
    memset(c, 0, sizeof *c);
    if (emu->stream && emu->cfg.source.counts)
        emu->cfg.source.counts(emu->stream, c);
}

static const rm_info *stream_info(rm_usbemu *emu)
{
    return emu->stream ? emu->cfg.source.info(emu->stream) : NULL;
}

/* ---------- the FIFO that stands in for the usbfs node ---------- */

/* libusb polls the usbfs fd for POLLOUT. A one-page pipe holding one byte
 * is full (no POLLOUT); an empty one is writable. */
static void fifo_set(emu_plug *p, int ready)
{
    if (p->fifo_fd < 0 || p->fifo_ready == ready)
        return;
    if (ready) {
        uint8_t junk[64];
        while (read(p->fifo_fd, junk, sizeof junk) > 0) {
        }
    } else {
        uint8_t one = 0;
        if (write(p->fifo_fd, &one, 1) != 1)
            return; /* already full: not writable, which is what we want */
    }
    p->fifo_ready = ready;
}

static int fifo_create(emu_plug *p, const char *root, rm_err *err)
{
    snprintf(p->fifo_path, sizeof p->fifo_path, "%s%s", root, p->devnode);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", p->fifo_path);
    for (char *s = dir + strlen(root) + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return rm_err_set(err, RM_ERR_IO, "usbemu: mkdir %s: %s", dir, strerror(errno));
            *s = '/';
        }
    }
    unlink(p->fifo_path);
    if (mkfifo(p->fifo_path, 0666) < 0)
        return rm_err_set(err, RM_ERR_IO, "usbemu: mkfifo %s: %s", p->fifo_path, strerror(errno));
    /* O_RDWR: never blocks on open, and keeps a reader and a writer alive so
     * clients opening O_RDONLY or O_WRONLY do not block either. */
    p->fifo_fd = open(p->fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (p->fifo_fd < 0)
        return rm_err_set(err, RM_ERR_IO, "usbemu: open %s: %s", p->fifo_path, strerror(errno));
    (void)fcntl(p->fifo_fd, F_SETPIPE_SZ, 4096);
    p->fifo_ready = 1; /* empty pipe */
    fifo_set(p, 0);
    return RM_OK;
}

/* ---------- the stream stage and pacing ---------- */

static int stage_reserve(rm_usbemu *emu, size_t more)
{
    if (emu->stage_start > 0 && emu->stage_start >= emu->stage_cap / 2) {
        size_t n = emu->stage_end - emu->stage_start;
        memmove(emu->stage, emu->stage + emu->stage_start, n);
        emu->rel_end -= emu->stage_start;
        emu->drain_end = emu->drain_end > emu->stage_start ? emu->drain_end - emu->stage_start : 0;
        emu->stage_end = n;
        emu->stage_start = 0;
    }
    if (emu->stage_end + more <= emu->stage_cap)
        return 0;
    size_t need = emu->stage_end + more;
    if (need > emu->stage_max)
        return -1;
    size_t cap = emu->stage_cap ? emu->stage_cap : EMU_STAGE_CHUNK;
    while (cap < need)
        cap *= 2;
    if (cap > emu->stage_max)
        cap = emu->stage_max;
    uint8_t *s = realloc(emu->stage, cap);
    if (!s)
        return -1;
    emu->stage = s;
    emu->stage_cap = cap;
    return 0;
}

/* Reads up to `want` more stream bytes into the stage; returns how many.
 * 0 with `exhausted` unset means the stage is full: the host lags by
 * stage_max bytes, and the device waits for it. Marking the stream
 * exhausted here would end it early and silently cut its last frame. */
static size_t stage_fill(rm_usbemu *emu, size_t want)
{
    if (!emu->stream || emu->exhausted || want == 0)
        return 0;
    if (stage_reserve(emu, want) < 0) {
        /* Read what still fits (reserve compacted what it could). */
        want = emu->stage_end < emu->stage_max ? emu->stage_max - emu->stage_end : 0;
        if (want == 0 || stage_reserve(emu, want) < 0) {
            emu->st.backlog_waits++;
            return 0;
        }
    }
    size_t n = emu->cfg.source.read(emu->stream, emu->stage + emu->stage_end, want);
    if (n == 0)
        emu->exhausted = 1;
    emu->stage_end += n;
    return n;
}

static void stage_reset(rm_usbemu *emu)
{
    emu->stage_start = emu->stage_end = emu->rel_end = 0;
    emu->frames_released = 0;
}

/* Realtime: frame k (from 0) is released (k / rate) seconds after START.
 * Frames are found by their magic, so faults only blur the pacing, never
 * the bytes. */
static void release_update(rm_usbemu *emu)
{
    const rm_info *info = stream_info(emu);
    if (!info || !emu->started)
        return;
    double rate = info->rate_hz > 0 ? info->rate_hz : 100.0;
    struct timespec now;
    now_mono(&now);
    double el = ts_diff(&now, &emu->t_start);
    uint64_t allowed = el < 0 ? 1 : (uint64_t)(el * rate) + 1;
    while (emu->frames_released < allowed) {
        size_t from = emu->rel_end + 1;
        size_t pos = (size_t)-1;
        for (;;) {
            for (size_t i = from; i + 4 <= emu->stage_end; i++) {
                if (emu->stage[i] == 'R' && memcmp(emu->stage + i, RM_FRAME_MAGIC, 4) == 0) {
                    pos = i;
                    break;
                }
            }
            if (pos != (size_t)-1)
                break;
            from = emu->stage_end >= 3 ? emu->stage_end - 3 : 0;
            if (from <= emu->rel_end)
                from = emu->rel_end + 1;
            size_t before = emu->stage_start;
            if (stage_fill(emu, EMU_STAGE_CHUNK) == 0)
                break;
            /* stage_reserve may have moved the data down */
            from -= before - emu->stage_start;
        }
        if (pos == (size_t)-1) {
            if (emu->exhausted) { /* the last frame: release it whole */
                emu->rel_end = emu->stage_end;
                emu->frames_released = allowed;
            }
            break; /* or the stage is full: wait for the host to read */
        }
        emu->rel_end = pos;
        emu->frames_released++;
    }
}

static double stream_rate(rm_usbemu *emu)
{
    const rm_info *info = stream_info(emu);
    return info && info->rate_hz > 0 ? info->rate_hz : 100.0;
}

/* Whether the scripted unplug point has been reached (checked with the
 * lock held; the timer thread carries it out). */
static int unplug_due(rm_usbemu *emu)
{
    if (emu->cfg.unplug_at_s < 0 || emu->unplug_done)
        return 0;
    if (emu->unplug_pending)
        return 1;
    rm_vmat_counts c;
    stream_counts(emu, &c);
    double produced = (double)(c.frames_produced + emu->retired.frames_produced);
    if (produced >= emu->cfg.unplug_at_s * stream_rate(emu)) {
        emu->unplug_pending = 1;
        pthread_cond_signal(&emu->timer_cv);
        return 1;
    }
    return 0;
}

static int can_stream(rm_usbemu *emu)
{
    return emu->plugged && (emu->started || emu->draining) && emu->stream && !unplug_due(emu);
}

/* STOP: "frames stop after the one in progress". The bytes up to the next
 * frame start (magic) still go out, then nothing. */
static void stop_streaming(rm_usbemu *emu)
{
    if (!emu->started)
        return;
    emu->started = 0;
    size_t end;
    if (emu->cfg.pacing == RM_USBEMU_REALTIME) {
        end = emu->rel_end; /* released frames are whole */
    } else {
        size_t from = 0; /* relative to stage_start, which compaction moves */
        for (;;) {
            size_t i, found = 0;
            for (i = emu->stage_start + from; i + 4 <= emu->stage_end; i++)
                if (emu->stage[i] == 'R' && memcmp(emu->stage + i, RM_FRAME_MAGIC, 4) == 0) {
                    found = 1;
                    break;
                }
            if (found) {
                end = i;
                break;
            }
            size_t have = emu->stage_end - emu->stage_start;
            from = have >= 3 ? have - 3 : 0;
            if (stage_fill(emu, EMU_PROBE_BYTES) == 0) {
                end = emu->stage_end;
                break;
            }
        }
    }
    emu->drain_end = end;
    emu->draining = end > emu->stage_start;
}

/* Bytes the device could put into a bulk IN transfer right now. */
static int data_available(rm_usbemu *emu)
{
    if (!can_stream(emu))
        return 0;
    if (emu->draining)
        return emu->drain_end > emu->stage_start;
    if (emu->cfg.pacing == RM_USBEMU_REALTIME) {
        release_update(emu);
        return emu->rel_end > emu->stage_start;
    }
    if (emu->stage_end > emu->stage_start)
        return 1;
    return stage_fill(emu, EMU_PROBE_BYTES) > 0;
}

/* Fills a bulk IN buffer; a short count means the device ran empty. */
static size_t bulk_fill(rm_usbemu *emu, uint8_t *buf, size_t len)
{
    if (!can_stream(emu))
        return 0;
    size_t n = 0;
    if (emu->draining) {
        n = emu->drain_end - emu->stage_start;
        if (n > len)
            n = len;
        memcpy(buf, emu->stage + emu->stage_start, n);
        emu->stage_start += n;
        if (emu->stage_start >= emu->drain_end)
            emu->draining = 0;
    } else if (emu->cfg.pacing == RM_USBEMU_REALTIME) {
        release_update(emu);
        n = emu->rel_end - emu->stage_start;
        if (n > len)
            n = len;
        memcpy(buf, emu->stage + emu->stage_start, n);
        emu->stage_start += n;
    } else {
        n = emu->stage_end - emu->stage_start;
        if (n > len)
            n = len;
        memcpy(buf, emu->stage + emu->stage_start, n);
        emu->stage_start += n;
        emu->rel_end = emu->stage_start;
        while (n < len && !emu->exhausted) {
            size_t r = emu->cfg.source.read(emu->stream, buf + n, len - n);
            if (r == 0)
                emu->exhausted = 1;
            n += r;
        }
    }
    emu->st.bulk_bytes += n;
    (void)unplug_due(emu);
    return n;
}

static rm_status stream_open(rm_usbemu *emu, rm_err *err)
{
    void *s = NULL;
    rm_status st =
        emu->cfg.source.open(emu->cfg.source.user, emu->retired.frames_produced, &s, err);
    if (st != RM_OK)
        return st;
    emu->stream = s;
    emu->exhausted = 0;
    stage_reset(emu);
    return RM_OK;
}

static void stream_close(rm_usbemu *emu)
{
    if (!emu->stream)
        return;
    rm_vmat_counts c;
    stream_counts(emu, &c);
    counts_add(&emu->retired, &c);
    emu->cfg.source.close(emu->cfg.source.user, emu->stream);
    emu->stream = NULL;
    emu->exhausted = 1;
    emu->started = emu->draining = 0;
    stage_reset(emu);
}

static int scratch_reserve(rm_usbemu *emu, size_t n)
{
    if (n <= emu->scratch_cap)
        return 1;
    uint8_t *p = realloc(emu->scratch, n);
    if (!p)
        return 0;
    emu->scratch = p;
    emu->scratch_cap = n;
    return 1;
}

/* ---------- URB bookkeeping ---------- */

static void urb_free(emu_urb *u)
{
    if (u->data)
        g_object_unref(u->data);
    if (u->client)
        g_object_unref(u->client);
    free(u);
}

static void urb_unlink(rm_usbemu *emu, emu_urb *u)
{
    emu_urb **pp = &emu->urbs;
    emu_urb *prev = NULL;
    while (*pp && *pp != u) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = u->next;
    if (emu->urbs_tail == u)
        emu->urbs_tail = prev;
    u->next = NULL;
}

static void urb_set_result(emu_urb *u, int status, int actual)
{
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->data->data;
    urb->status = status;
    urb->actual_length = actual;
    u->done = 1;
}

/* Whether a client of plug `pi` has something to reap. */
static int plug_reapable(rm_usbemu *emu, int pi)
{
    int bulk_pending = 0;
    for (emu_urb *u = emu->urbs; u; u = u->next) {
        if (u->plug != pi)
            continue;
        if (u->done)
            return 1;
        if (u->type == USBDEVFS_URB_TYPE_BULK)
            bulk_pending = 1;
    }
    if (!bulk_pending || pi != emu->cur || emu->plugs[pi].gone)
        return 0;
    return data_available(emu);
}

static void fifo_update(rm_usbemu *emu, int pi)
{
    if (pi >= 0 && pi < emu->n_plugs)
        fifo_set(&emu->plugs[pi], plug_reapable(emu, pi));
}

static int plug_of_client(rm_usbemu *emu, UMockdevIoctlClient *client)
{
    const char *dev = umockdev_ioctl_client_get_devnode(client);
    for (int i = emu->n_plugs - 1; i >= 0; i--)
        if (dev && strcmp(dev, emu->plugs[i].devnode) == 0)
            return i;
    return -1;
}

/* ---------- control requests ---------- */

static size_t put_string_desc(uint8_t *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n > 126)
        n = 126;
    size_t len = 2 + 2 * n;
    if (len > cap)
        len = cap & ~(size_t)1;
    uint8_t tmp[256];
    tmp[0] = (uint8_t)(2 + 2 * n);
    tmp[1] = DT_STRING;
    for (size_t i = 0; i < n; i++) {
        tmp[2 + 2 * i] = (uint8_t)s[i];
        tmp[3 + 2 * i] = 0;
    }
    memcpy(out, tmp, len);
    return len;
}

/* Answers one control request. Returns the data length (IN) or 0 (OUT),
 * or -1 for a STALL. `data` has room for wLength bytes. */
static int control(rm_usbemu *emu, const uint8_t setup[8], uint8_t *data)
{
    uint8_t type = setup[0], req = setup[1];
    uint16_t value = rm_get_u16(setup + 2), index = rm_get_u16(setup + 4);
    uint16_t length = rm_get_u16(setup + 6);
    uint8_t tmp[RM_CALIB_BLOCK_LEN];
    size_t n = 0;
    int in = (type & 0x80) != 0;

    if ((type & 0x60) == 0x00) { /* standard */
        switch (req) {
        case STD_GET_STATUS:
            if (!in)
                return -1;
            memset(tmp, 0, 2);
            n = 2;
            break;
        case STD_GET_DESCRIPTOR:
            if (type != 0x80)
                return -1;
            switch (value >> 8) {
            case DT_DEVICE:
                n = 18;
                memcpy(tmp, emu->desc, n);
                break;
            case DT_CONFIG:
                if ((value & 0xff) != 0)
                    return -1;
                n = emu->desc_len - 18;
                memcpy(tmp, emu->desc + 18, n);
                break;
            case DT_QUALIFIER: {
                /* what the device would be at full speed: same class, one
                 * configuration */
                const uint8_t q[10] = {10, DT_QUALIFIER, 0x00, 0x02, 0, 0, 0, 64, 1, 0};
                n = sizeof q;
                memcpy(tmp, q, n);
                break;
            }
            case DT_STRING:
                switch (value & 0xff) {
                case 0:
                    tmp[0] = 4, tmp[1] = DT_STRING, tmp[2] = 0x09, tmp[3] = 0x04;
                    n = 4;
                    break;
                case 1: n = put_string_desc(tmp, sizeof tmp, emu->manufacturer); break;
                case 2: n = put_string_desc(tmp, sizeof tmp, emu->product); break;
                case 3: n = put_string_desc(tmp, sizeof tmp, emu->serial); break;
                default: return -1;
                }
                break;
            default: return -1; /* BOS, debug, OTG ...: not supported */
            }
            break;
        case STD_GET_CONFIGURATION:
            if (type != 0x80)
                return -1;
            tmp[0] = 1;
            n = 1;
            break;
        case STD_SET_CONFIGURATION: return (type == 0x00 && value <= 1) ? 0 : -1;
        case STD_GET_INTERFACE:
            if (type != 0x81 || index != 0)
                return -1;
            tmp[0] = 0;
            n = 1;
            break;
        case STD_SET_INTERFACE: return (type == 0x01 && index == 0 && value == 0) ? 0 : -1;
        case STD_CLEAR_FEATURE:
        case STD_SET_FEATURE: return in ? -1 : 0;
        default: return -1;
        }
    } else if (type == RM_REQTYPE_IN) {
        const rm_info *info = stream_info(emu);
        if (!info)
            return -1;
        switch (req) {
        case RM_REQ_GET_INFO:
            rm_info_encode(info, tmp);
            n = RM_INFO_LEN;
            break;
        case RM_REQ_GET_CALIB: {
            size_t blen = 0;
            const uint8_t *blob = emu->cfg.source.calib_blob(emu->stream, &blen);
            size_t off = (size_t)index * RM_CALIB_BLOCK_LEN;
            if (!blob || off >= blen)
                return -1;
            n = blen - off < RM_CALIB_BLOCK_LEN ? blen - off : RM_CALIB_BLOCK_LEN;
            memcpy(tmp, blob + off, n);
            break;
        }
        case RM_REQ_GET_STATUS: {
            rm_vmat_counts c;
            stream_counts(emu, &c);
            struct timespec now;
            now_mono(&now);
            rm_dev_status ds = {
                .frames_sent = (uint32_t)(c.frames_produced - c.frames_dropped),
                .frames_dropped = (uint32_t)c.frames_dropped,
                .uptime_s = (uint32_t)ts_diff(&now, &emu->power_up),
                .temperature_centi_c = RM_TEMPERATURE_UNKNOWN,
            };
            rm_dev_status_encode(&ds, tmp);
            n = RM_STATUS_LEN;
            break;
        }
        default: return -1;
        }
    } else if (type == RM_REQTYPE_OUT) {
        if (length != 0)
            return -1;
        switch (req) {
        case RM_REQ_SET_RATE: {
            const rm_info *info = stream_info(emu);
            if (!info || emu->started || value < info->min_rate_hz || value > info->max_rate_hz)
                return -1;
            if (emu->cfg.source.set_rate(emu->stream, value) != RM_OK)
                return -1;
            return 0;
        }
        case RM_REQ_START:
            if (emu->started)
                return 0;
            if (emu->ever_started) {
                /* a new acquisition: seq restarts, the scenario goes on */
                rm_err e = {0};
                stream_close(emu);
                if (stream_open(emu, &e) != RM_OK) {
                    emu_log(emu, RM_LOG_ERROR, "usbemu: START: %s", e.msg);
                    return -1;
                }
            }
            emu->started = emu->ever_started = 1;
            emu->draining = 0;
            now_mono(&emu->t_start);
            stage_reset(emu);
            emu->stage_start = emu->stage_end = 0;
            pthread_cond_signal(&emu->timer_cv);
            return 0;
        case RM_REQ_STOP: stop_streaming(emu); return 0;
        default: return -1;
        }
    } else {
        return -1;
    }
    if (n > length)
        n = length;
    memcpy(data, tmp, n);
    return (int)n;
}

/* ---------- ioctls ---------- */

static void do_submit(rm_usbemu *emu, UMockdevIoctlClient *client, int pi)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *ud = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (!ud) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return;
    }
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)ud->data;
    int err = 0;
    if (urb->buffer_length < 0)
        err = EINVAL;
    else if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
        if ((urb->endpoint & 0x7f) != 0 || urb->buffer_length < 8)
            err = EINVAL;
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK) {
        if (urb->endpoint != RM_USB_EP_IN)
            err = ENOENT; /* no such endpoint */
    } else {
        err = EINVAL;
    }
    if (err) {
        g_object_unref(ud);
        umockdev_ioctl_client_complete(client, -1, err);
        return;
    }
    emu_urb *u = calloc(1, sizeof *u);
    if (!u) {
        g_object_unref(ud);
        umockdev_ioctl_client_complete(client, -1, ENOMEM);
        return;
    }
    u->client = g_object_ref(client);
    u->data = ud;
    u->client_addr = ud->client_addr;
    u->plug = pi;
    u->type = urb->type;
    u->endpoint = urb->endpoint;
    u->buffer_length = urb->buffer_length;

    if (u->type == USBDEVFS_URB_TYPE_CONTROL) {
        UMockdevIoctlData *buf = umockdev_ioctl_data_resolve(
            ud, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer), (gsize)urb->buffer_length, NULL);
        if (!buf) {
            urb_free(u);
            umockdev_ioctl_client_complete(client, -1, EFAULT);
            return;
        }
        uint8_t *b = buf->data;
        size_t room = (size_t)urb->buffer_length - 8;
        uint16_t wlen = rm_get_u16(b + 6);
        emu->st.control_requests++;
        int r = wlen > room ? -1 : control(emu, b, b + 8);
        if (r < 0) {
            emu->st.stalls++;
            urb_set_result(u, -EPIPE, 0);
        } else {
            urb_set_result(u, 0, (b[0] & 0x80) ? r : wlen);
        }
        g_object_unref(buf); /* `ud` keeps it as a child until the reap */
    } else if (u->buffer_length == 0) {
        urb_set_result(u, 0, 0); /* nothing asked, nothing sent: done at once */
    }
    if (emu->urbs_tail)
        emu->urbs_tail->next = u;
    else
        emu->urbs = u;
    emu->urbs_tail = u;
    emu->st.urbs_submitted++;
    umockdev_ioctl_client_complete(client, 0, 0);
}

static void do_reap(rm_usbemu *emu, UMockdevIoctlClient *client, int pi)
{
    emu_urb *pick = NULL;
    for (emu_urb *u = emu->urbs; u; u = u->next) {
        if (u->client != client)
            continue;
        if (u->done) {
            pick = u;
            break;
        }
    }
    if (!pick && pi == emu->cur && !emu->plugs[pi].gone) {
        emu_urb *first = NULL; /* bulk URBs complete in submit order */
        for (emu_urb *u = emu->urbs; u; u = u->next)
            if (u->client == client && !u->done && u->type == USBDEVFS_URB_TYPE_BULK) {
                first = u;
                break;
            }
        if (first && data_available(emu) && scratch_reserve(emu, (size_t)first->buffer_length)) {
            /* Fill first, then map only the bytes sent: resolving copies
             * the client's memory in and (changed) out again, so a 128 KiB
             * transfer carrying one 6 KiB frame costs 6 KiB, not 256. */
            size_t n = bulk_fill(emu, emu->scratch, (size_t)first->buffer_length);
            UMockdevIoctlData *buf = NULL;
            if (n > 0)
                buf = umockdev_ioctl_data_resolve(
                    first->data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer), n, NULL);
            if (buf) {
                memcpy(buf->data, emu->scratch, n);
                g_object_unref(buf);
                urb_set_result(first, 0, (int)n);
                pick = first;
            } else if (n > 0) {
                /* the client's buffer vanished: the bytes are lost, as on a
                 * bus error */
                urb_set_result(first, -EPROTO, 0);
                pick = first;
            }
        }
    }
    if (!pick) {
        emu->st.empty_reaps++;
        umockdev_ioctl_client_complete(client, -1, emu->plugs[pi].gone ? ENODEV : EAGAIN);
        return;
    }
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
    if (!ptr) {
        umockdev_ioctl_client_complete(client, -1, EFAULT);
        return;
    }
    umockdev_ioctl_data_set_ptr(ptr, 0, pick->data);
    g_object_unref(ptr);
    urb_unlink(emu, pick);
    urb_free(pick);
    emu->st.urbs_reaped++;
    pthread_cond_broadcast(&emu->changed);
    umockdev_ioctl_client_complete(client, 0, 0);
}

static void do_discard(rm_usbemu *emu, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    unsigned long addr = 0;
    if (arg->data_len >= (gint)sizeof addr)
        memcpy(&addr, arg->data, sizeof addr);
    for (emu_urb *u = emu->urbs; u; u = u->next) {
        if (u->client == client && u->client_addr == addr && !u->done) {
            urb_set_result(u, -ENOENT, 0);
            umockdev_ioctl_client_complete(client, 0, 0);
            return;
        }
    }
    umockdev_ioctl_client_complete(client, -1, EINVAL);
}

/* An ioctl whose argument is an unsigned int (interface, endpoint ...). */
static int arg_uint(UMockdevIoctlClient *client, unsigned *out)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(unsigned), NULL);
    if (!d)
        return -1;
    memcpy(out, d->data, sizeof *out);
    g_object_unref(d);
    return 0;
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
    (void)handler;
    rm_usbemu *emu = user;
    unsigned long req = umockdev_ioctl_client_get_request(client);
    unsigned v = 0;

    pthread_mutex_lock(&emu->mu);
    int pi = plug_of_client(emu, client);
    int gone = pi < 0 || emu->plugs[pi].gone || emu->quit;
    if (req == USBDEVFS_GET_CAPABILITIES) {
        UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), NULL);
        if (d) {
            uint32_t caps = USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                            USBDEVFS_CAP_BULK_SCATTER_GATHER | USBDEVFS_CAP_REAP_AFTER_DISCONNECT |
                            USBDEVFS_CAP_ZERO_PACKET;
            memcpy(d->data, &caps, sizeof caps);
            g_object_unref(d);
            umockdev_ioctl_client_complete(client, 0, 0);
        } else {
            umockdev_ioctl_client_complete(client, -1, EFAULT);
        }
    } else if (req == USBDEVFS_REAPURBNDELAY || req == USBDEVFS_REAPURB) {
        if (pi < 0)
            umockdev_ioctl_client_complete(client, -1, ENODEV);
        else
            do_reap(emu, client, pi);
    } else if (req == USBDEVFS_DISCARDURB) {
        do_discard(emu, client);
    } else if (gone) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
    } else {
        switch (req) {
        case USBDEVFS_SUBMITURB: do_submit(emu, client, pi); break;
        case USBDEVFS_GETDRIVER: umockdev_ioctl_client_complete(client, -1, ENODATA); break;
        case USBDEVFS_CLAIMINTERFACE:
        case USBDEVFS_RELEASEINTERFACE:
            if (arg_uint(client, &v) < 0)
                umockdev_ioctl_client_complete(client, -1, EFAULT);
            else
                umockdev_ioctl_client_complete(client, v == RM_USB_INTERFACE ? 0 : -1,
                                               v == RM_USB_INTERFACE ? 0 : ENOENT);
            break;
        case USBDEVFS_DISCONNECT_CLAIM: {
            /* claim, detaching a kernel driver first: there is none */
            UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
            UMockdevIoctlData *d =
                umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_disconnect_claim), NULL);
            if (!d) {
                umockdev_ioctl_client_complete(client, -1, EFAULT);
                break;
            }
            const struct usbdevfs_disconnect_claim *dc = (const void *)d->data;
            int ok = dc->interface == RM_USB_INTERFACE;
            g_object_unref(d);
            umockdev_ioctl_client_complete(client, ok ? 0 : -1, ok ? 0 : ENOENT);
            break;
        }
        case USBDEVFS_IOCTL: {
            /* USBDEVFS_DISCONNECT/CONNECT of a kernel driver: none is bound */
            UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
            UMockdevIoctlData *d =
                umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), NULL);
            if (!d) {
                umockdev_ioctl_client_complete(client, -1, EFAULT);
                break;
            }
            const struct usbdevfs_ioctl *io = (const void *)d->data;
            int ifno = io->ifno, code = io->ioctl_code;
            g_object_unref(d);
            if (ifno != RM_USB_INTERFACE)
                umockdev_ioctl_client_complete(client, -1, EINVAL);
            else if (code == (int)USBDEVFS_DISCONNECT || code == (int)USBDEVFS_CONNECT)
                umockdev_ioctl_client_complete(client, -1, ENODATA);
            else
                umockdev_ioctl_client_complete(client, -1, ENOTTY);
            break;
        }
        case USBDEVFS_SETCONFIGURATION:
            if (arg_uint(client, &v) < 0 || v > 1)
                umockdev_ioctl_client_complete(client, -1, EINVAL);
            else
                umockdev_ioctl_client_complete(client, 0, 0);
            break;
        case USBDEVFS_CLEAR_HALT:
        case USBDEVFS_RESETEP:
        case USBDEVFS_RESET: umockdev_ioctl_client_complete(client, 0, 0); break;
        case USBDEVFS_GET_SPEED:
            umockdev_ioctl_client_complete(client, EMU_USB_SPEED_HIGH, 0);
            break;
        default:
            emu->st.unknown_ioctls++;
            emu_log(emu, RM_LOG_WARN, "usbemu: unsupported usbfs ioctl 0x%lx on %s", req,
                    umockdev_ioctl_client_get_devnode(client));
            umockdev_ioctl_client_complete(client, -1, ENOTTY);
            break;
        }
    }
    if (pi >= 0)
        fifo_update(emu, pi);
    pthread_mutex_unlock(&emu->mu);
    return TRUE;
}

static void on_client_vanished(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                               gpointer user)
{
    (void)handler;
    rm_usbemu *emu = user;
    pthread_mutex_lock(&emu->mu);
    emu_urb *u = emu->urbs;
    while (u) {
        emu_urb *next = u->next;
        if (u->client == client) {
            urb_unlink(emu, u);
            urb_free(u);
        }
        u = next;
    }
    for (int i = 0; i < emu->n_plugs; i++)
        fifo_update(emu, i);
    pthread_mutex_unlock(&emu->mu);
}

/* ---------- plugging ---------- */

static void build_descriptors(rm_usbemu *emu)
{
    uint8_t *d = emu->desc;
    const uint8_t dev[18] = {18,
                             DT_DEVICE,
                             0x00,
                             0x02,
                             0x00,
                             0x00,
                             0x00,
                             64,
                             (uint8_t)emu->cfg.vid,
                             (uint8_t)(emu->cfg.vid >> 8),
                             (uint8_t)emu->cfg.pid,
                             (uint8_t)(emu->cfg.pid >> 8),
                             0x00,
                             0x01,
                             1,
                             2,
                             3,
                             1};
    const uint8_t conf[9] = {9, DT_CONFIG, 9 + 9 + 7, 0, 1, 1, 0, 0x80, 50};
    const uint8_t intf[9] = {9, 4, RM_USB_INTERFACE, 0, 1, 0xff, 0, 0, 0};
    const uint8_t ep[7] = {7, 5, RM_USB_EP_IN, 0x02, 0x00, 0x02, 0};
    memcpy(d, dev, 18);
    memcpy(d + 18, conf, 9);
    memcpy(d + 27, intf, 9);
    memcpy(d + 36, ep, 7);
    emu->desc_len = 43;
}

static rm_status plug_in(rm_usbemu *emu, rm_err *err)
{
    if (emu->n_plugs >= EMU_MAX_PLUGS)
        return rm_err_set(err, RM_ERR_RANGE, "usbemu: more than %d plug-ins", EMU_MAX_PLUGS);
    int pi = emu->n_plugs;
    emu_plug *p = &emu->plugs[pi];
    memset(p, 0, sizeof *p);
    p->fifo_fd = -1;
    p->devnum = EMU_FIRST_DEVNUM + pi;
    snprintf(p->devnode, sizeof p->devnode, "/dev/bus/usb/%03d/%03d", EMU_BUS, p->devnum);

    /* The node exists as a FIFO before the device (and its "add" uevent)
     * does, so no client can ever open a regular file there. */
    rm_status st = fifo_create(p, emu->root_dir, err);
    if (st != RM_OK)
        return st;
    if (emu->cfg.plain_node) {
        close(p->fifo_fd);
        p->fifo_fd = -1;
        unlink(p->fifo_path);
        FILE *f = fopen(p->fifo_path, "w");
        if (!f)
            return rm_err_set(err, RM_ERR_IO, "usbemu: create %s: %s", p->fifo_path,
                              strerror(errno));
        fclose(f);
    }
    GError *gerr = NULL;
    if (!umockdev_testbed_attach_ioctl(emu->tb, p->devnode, emu->handler, &gerr)) {
        st = rm_err_set(err, RM_ERR_IO, "usbemu: attach ioctl handler to %s: %s", p->devnode,
                        gerr ? gerr->message : "failed");
        g_clear_error(&gerr);
        if (p->fifo_fd >= 0)
            close(p->fifo_fd);
        return st;
    }
    emu->n_plugs++;

    char hex[2 * sizeof emu->desc + 1];
    for (size_t i = 0; i < emu->desc_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", emu->desc[i]);
    char *text = g_strdup_printf("P: %s\n"
                                 "E: SUBSYSTEM=usb\n"
                                 "E: DEVTYPE=usb_device\n"
                                 "E: DRIVER=usb\n"
                                 "E: BUSNUM=%03d\n"
                                 "E: DEVNUM=%03d\n"
                                 "E: DEVNAME=%s\n"
                                 "E: PRODUCT=%x/%x/100\n"
                                 "E: ID_SERIAL_SHORT=%s\n"
                                 "A: busnum=%d\\n\n"
                                 "A: devnum=%d\\n\n"
                                 "A: devpath=1\\n\n"
                                 "A: speed=480\\n\n"
                                 "A: version= 2.00\\n\n"
                                 "A: bConfigurationValue=1\\n\n"
                                 "A: bNumConfigurations=1\\n\n"
                                 "A: bNumInterfaces= 1\\n\n"
                                 "A: bDeviceClass=00\\n\n"
                                 "A: bDeviceSubClass=00\\n\n"
                                 "A: bDeviceProtocol=00\\n\n"
                                 "A: bMaxPacketSize0=64\\n\n"
                                 "A: bmAttributes=80\\n\n"
                                 "A: bMaxPower=100mA\\n\n"
                                 "A: idVendor=%04x\\n\n"
                                 "A: idProduct=%04x\\n\n"
                                 "A: bcdDevice=0100\\n\n"
                                 "A: manufacturer=%s\\n\n"
                                 "A: product=%s\\n\n"
                                 "A: serial=%s\\n\n"
                                 "H: descriptors=%s\n",
                                 &EMU_SYSPATH[4], EMU_BUS, p->devnum, p->devnode, emu->cfg.vid,
                                 emu->cfg.pid, emu->serial, EMU_BUS, p->devnum, emu->cfg.vid,
                                 emu->cfg.pid, emu->manufacturer, emu->product, emu->serial, hex);
    int ok = umockdev_testbed_add_from_string(emu->tb, text, &gerr);
    g_free(text);
    if (!ok) {
        st = rm_err_set(err, RM_ERR_IO, "usbemu: add device: %s", gerr ? gerr->message : "failed");
        g_clear_error(&gerr);
        return st;
    }
    /* In a preloaded process add_from_string has sent "add" itself; in
     * another one uevents cannot be built (libudev reads the real /sys), so
     * clients only find the device by enumeration. */

    pthread_mutex_lock(&emu->mu);
    emu->cur = pi;
    emu->plugged = 1;
    now_mono(&emu->power_up);
    emu->st.plugs++;
    emu->st.plugged = 1;
    pthread_cond_broadcast(&emu->changed);
    pthread_mutex_unlock(&emu->mu);
    return RM_OK;
}

rm_status rm_usbemu_unplug(rm_usbemu *emu, rm_err *err)
{
    pthread_mutex_lock(&emu->mu);
    if (!emu->plugged) {
        pthread_mutex_unlock(&emu->mu);
        return rm_err_set(err, RM_ERR_STATE, "usbemu: the device is not plugged in");
    }
    int pi = emu->cur;
    emu->plugs[pi].gone = 1;
    emu->plugged = 0;
    emu->st.plugged = 0;
    emu->st.unplugs++;
    for (emu_urb *u = emu->urbs; u; u = u->next)
        if (u->plug == pi && !u->done)
            urb_set_result(u, -ESHUTDOWN, 0);
    stream_close(emu);
    fifo_update(emu, pi);
    pthread_cond_broadcast(&emu->changed);
    pthread_mutex_unlock(&emu->mu);

    emu_log(emu, RM_LOG_INFO, "usbemu: unplugged %s", emu->plugs[pi].devnode);
    /* The uevent reads the device's properties from sysfs: before removal.
     * Checked only now that the testbed exists (the answer is cached). */
    if (umockdev_in_mock_environment())
        umockdev_testbed_uevent(emu->tb, EMU_SYSPATH, "remove");
    umockdev_testbed_remove_device(emu->tb, EMU_SYSPATH);
    unlink(emu->plugs[pi].fifo_path);
    return RM_OK;
}

rm_status rm_usbemu_replug(rm_usbemu *emu, rm_err *err)
{
    pthread_mutex_lock(&emu->mu);
    if (emu->plugged) {
        pthread_mutex_unlock(&emu->mu);
        return rm_err_set(err, RM_ERR_STATE, "usbemu: the device is already plugged in");
    }
    rm_status st = stream_open(emu, err);
    emu->started = emu->ever_started = 0;
    pthread_mutex_unlock(&emu->mu);
    if (st != RM_OK)
        return st;
    st = plug_in(emu, err);
    if (st == RM_OK)
        emu_log(emu, RM_LOG_INFO, "usbemu: plugged in again as %s", rm_usbemu_devnode(emu));
    return st;
}

/* ---------- timer thread: realtime pacing, scripted unplug/replug ---------- */

static void *timer_main(void *arg)
{
    rm_usbemu *emu = arg;
    pthread_mutex_lock(&emu->mu);
    while (!emu->quit) {
        if (emu->unplug_pending && !emu->unplug_done) {
            emu->unplug_done = 1;
            emu->unplug_pending = 0;
            pthread_mutex_unlock(&emu->mu);
            rm_err e = {0};
            if (rm_usbemu_unplug(emu, &e) != RM_OK)
                emu_log(emu, RM_LOG_ERROR, "%s", e.msg);
            pthread_mutex_lock(&emu->mu);
            if (emu->cfg.replug_after_s >= 0) {
                now_mono(&emu->replug_at);
                ts_add(&emu->replug_at, emu->cfg.replug_after_s);
                emu->replug_armed = 1;
            }
            continue;
        }
        struct timespec now;
        now_mono(&now);
        if (emu->replug_armed && ts_diff(&now, &emu->replug_at) >= 0) {
            emu->replug_armed = 0;
            pthread_mutex_unlock(&emu->mu);
            rm_err e = {0};
            if (rm_usbemu_replug(emu, &e) != RM_OK)
                emu_log(emu, RM_LOG_ERROR, "%s", e.msg);
            pthread_mutex_lock(&emu->mu);
            continue;
        }
        struct timespec wake;
        int timed = 0;
        if (emu->cfg.pacing == RM_USBEMU_REALTIME && emu->started && emu->plugged) {
            fifo_update(emu, emu->cur);
            /* next frame's release time */
            wake = emu->t_start;
            ts_add(&wake, (double)emu->frames_released / stream_rate(emu));
            if (ts_diff(&wake, &now) < 0.0005) {
                wake = now;
                ts_add(&wake, 0.0005);
            }
            timed = 1;
        }
        if (emu->replug_armed && (!timed || ts_diff(&emu->replug_at, &wake) < 0)) {
            wake = emu->replug_at;
            timed = 1;
        }
        if (timed)
            pthread_cond_timedwait(&emu->timer_cv, &emu->mu, &wake);
        else
            pthread_cond_wait(&emu->timer_cv, &emu->mu);
    }
    pthread_mutex_unlock(&emu->mu);
    return NULL;
}

/* ---------- lifetime ---------- */

void rm_usbemu_config_init(rm_usbemu_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->unplug_at_s = -1;
    cfg->replug_after_s = -1;
    cfg->pacing = RM_USBEMU_FAST;
}

static int valid_string(const char *s)
{
    if (!s || !*s || strlen(s) > 100)
        return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '\\')
            return 0;
    return 1;
}

rm_status rm_usbemu_new(const rm_usbemu_config *cfg, rm_usbemu **out, rm_err *err)
{
    if (!cfg || !out || !cfg->source.open || !cfg->source.close || !cfg->source.read ||
        !cfg->source.set_rate || !cfg->source.info || !cfg->source.calib_blob)
        return rm_err_set(err, RM_ERR_ARG, "usbemu: incomplete configuration");
    const char *man = cfg->manufacturer ? cfg->manufacturer : "rollmat";
    const char *prod = cfg->product ? cfg->product : "RM-1 pressure mat";
    if (!valid_string(cfg->serial))
        return rm_err_set(err, RM_ERR_VALUE,
                          "usbemu: serial \"%s\" must be 1..100 printable "
                          "ASCII characters",
                          cfg->serial ? cfg->serial : "");
    if (!valid_string(man) || !valid_string(prod))
        return rm_err_set(err, RM_ERR_VALUE,
                          "usbemu: manufacturer and product must be 1..100 "
                          "printable ASCII characters");
    rm_usbemu *emu = calloc(1, sizeof *emu);
    if (!emu)
        return rm_err_set(err, RM_ERR_NOMEM, "usbemu: out of memory");
    emu->cfg = *cfg;
    emu->stage_max = cfg->backlog_max ? cfg->backlog_max : EMU_STAGE_MAX;
    if (emu->stage_max < EMU_STAGE_MIN_MAX)
        emu->stage_max = EMU_STAGE_MIN_MAX;
    if (!emu->cfg.vid)
        emu->cfg.vid = RM_USB_VID;
    if (!emu->cfg.pid && !cfg->vid)
        emu->cfg.pid = RM_USB_PID;
    snprintf(emu->serial, sizeof emu->serial, "%s", cfg->serial);
    snprintf(emu->manufacturer, sizeof emu->manufacturer, "%s", man);
    snprintf(emu->product, sizeof emu->product, "%s", prod);
    emu->cfg.serial = emu->serial;
    emu->cfg.manufacturer = emu->manufacturer;
    emu->cfg.product = emu->product;
    emu->cur = -1;
    build_descriptors(emu);
    pthread_mutex_init(&emu->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&emu->changed, &ca);
    pthread_cond_init(&emu->timer_cv, &ca);
    pthread_condattr_destroy(&ca);

    rm_status st = stream_open(emu, err);
    if (st != RM_OK) {
        rm_usbemu_free(emu);
        return st;
    }
    emu->tb = umockdev_testbed_new();
    if (!emu->tb) {
        rm_usbemu_free(emu);
        return rm_err_set(err, RM_ERR_IO, "usbemu: cannot create the umockdev testbed");
    }
    emu->root_dir = umockdev_testbed_get_root_dir(emu->tb);
    emu->handler = umockdev_ioctl_base_new();
    g_signal_connect(emu->handler, "handle-ioctl", G_CALLBACK(on_ioctl), emu);
    g_signal_connect(emu->handler, "client-vanished", G_CALLBACK(on_client_vanished), emu);

    st = plug_in(emu, err);
    if (st != RM_OK) {
        rm_usbemu_free(emu);
        return st;
    }
    if (pthread_create(&emu->timer, NULL, timer_main, emu) != 0) {
        rm_usbemu_free(emu);
        return rm_err_set(err, RM_ERR_NOMEM, "usbemu: cannot start the timer thread");
    }
    emu->timer_started = 1;
    *out = emu;
    return RM_OK;
}

void rm_usbemu_free(rm_usbemu *emu)
{
    if (!emu)
        return;
    pthread_mutex_lock(&emu->mu);
    emu->quit = 1;
    pthread_cond_broadcast(&emu->timer_cv);
    pthread_mutex_unlock(&emu->mu);
    if (emu->timer_started)
        pthread_join(emu->timer, NULL);
    if (emu->tb) {
        for (int i = 0; i < emu->n_plugs; i++)
            umockdev_testbed_detach_ioctl(emu->tb, emu->plugs[i].devnode, NULL);
    }
    if (emu->handler) {
        g_signal_handlers_disconnect_by_data(emu->handler, emu);
        g_object_unref(emu->handler);
    }
    if (emu->tb)
        g_object_unref(emu->tb);
    pthread_mutex_lock(&emu->mu);
    while (emu->urbs) {
        emu_urb *u = emu->urbs;
        emu->urbs = u->next;
        urb_free(u);
    }
    emu->urbs_tail = NULL;
    stream_close(emu);
    pthread_mutex_unlock(&emu->mu);
    for (int i = 0; i < emu->n_plugs; i++)
        if (emu->plugs[i].fifo_fd >= 0)
            close(emu->plugs[i].fifo_fd);
    g_free(emu->root_dir);
    free(emu->stage);
    free(emu->scratch);
    pthread_cond_destroy(&emu->changed);
    pthread_cond_destroy(&emu->timer_cv);
    pthread_mutex_destroy(&emu->mu);
    free(emu);
}

const char *rm_usbemu_root_dir(const rm_usbemu *emu) { return emu->root_dir; }

const char *rm_usbemu_devnode(const rm_usbemu *emu)
{
    return emu->cur >= 0 ? emu->plugs[emu->cur].devnode : "";
}

const char *rm_usbemu_syspath(const rm_usbemu *emu)
{
    (void)emu;
    return EMU_SYSPATH;
}

void rm_usbemu_get_stats(rm_usbemu *emu, rm_usbemu_stats *stats)
{
    pthread_mutex_lock(&emu->mu);
    *stats = emu->st;
    stats->started = emu->started;
    stats->injected = emu->retired;
    rm_vmat_counts c;
    stream_counts(emu, &c);
    counts_add(&stats->injected, &c);
    /* no stream between an unplug and a replug: not done, just absent */
    stats->stream_done = emu->stream && emu->exhausted && emu->stage_end == emu->stage_start;
    pthread_mutex_unlock(&emu->mu);
}

void rm_usbemu_wait(rm_usbemu *emu, int timeout_ms)
{
    struct timespec t;
    now_mono(&t);
    ts_add(&t, timeout_ms / 1000.0);
    pthread_mutex_lock(&emu->mu);
    pthread_cond_timedwait(&emu->changed, &emu->mu, &t);
    pthread_mutex_unlock(&emu->mu);
}

size_t rm_usbemu_descriptors(const rm_usbemu *emu, uint8_t *buf, size_t cap)
{
    size_t n = emu->desc_len < cap ? emu->desc_len : cap;
    if (buf)
        memcpy(buf, emu->desc, n);
    return emu->desc_len;
}

/* rm_daemon.h - the core of rollmatd, the acquisition daemon.
 *
 * The daemon owns a Unix stream control socket and a recordings folder. It
 * serves any number of clients (up to RM_DAEMON_MAX_CLIENTS) from one
 * poll() loop; each sends JSON commands, one per line, and gets one JSON
 * reply per line (protocol: docs/daemon.md):
 *   {"cmd":"status"}
 *   {"cmd":"start","subject":"S01","label":"calves","body_mass_kg":70,"name":"s01-day1"}
 *   {"cmd":"label","label":"quads"}
 *   {"cmd":"stop"}
 *   {"cmd":"subscribe"}   then live metric lines at publish_hz
 * Errors are {"ok":false,"error":"..."}.
 *
 * Wiring (DESIGN.md: acquire knows nothing of HDF5 or strokes): the caller
 * supplies three pieces as function tables, so this library depends on
 * neither formats/ nor analyze/:
 *   - a source (rm_daemon_source) that, once started, delivers the packets
 *     of one recording to a sink from its own thread;
 *   - a recording opener (rm_daemon_open_fn) that makes the sink writing a
 *     file (rollmatd passes the HDF5 session sink);
 *   - optionally a live analyzer (rm_daemon_live) fed every frame on the
 *     consumer side; without one the live lines carry the frame count and
 *     the total force from the calibration.
 * Between source and recording sits the daemon's own sink: it puts the
 * client's subject, body mass and name into the HEADER, turns labels into
 * RM_EVENT_LABEL events, feeds the live analyzer and wakes the poll loop
 * when a metric is due. It never blocks on clients: a subscriber whose
 * bounded output buffer is full is dropped.
 *
 * Files: a client-supplied name is validated (rm_daemon_name_valid) and
 * never names a path outside the recordings folder; an existing file is
 * never overwritten.
 *
 * Threads: every rm_daemon_* call is made from one thread (the caller's);
 * the source's thread only enters the daemon through its sink. */
#ifndef RM_DAEMON_H
#define RM_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "rm_packet.h"
#include "rm_proto.h"
#include "rm_source.h"
#include "rm_status.h"

#define RM_DAEMON_MAX_CLIENTS     32
/* Connections beyond RM_DAEMON_MAX_CLIENTS kept for control commands
 * (status, start, label, stop; not subscribe), so that idle connections
 * never lock out a client that wants to stop a recording. They are closed
 * after RM_DAEMON_RESERVE_IDLE_S without a command. */
#define RM_DAEMON_RESERVE_CLIENTS 4
#define RM_DAEMON_RESERVE_IDLE_S  5.0
#define RM_DAEMON_IDLE_TIMEOUT_S  60.0  /* default idle_timeout_s */
#define RM_DAEMON_NAME_MAX        64    /* bytes of a recording name, ".h5" included */
#define RM_DAEMON_LINE_MAX        4096  /* longest command line a client may send */
#define RM_DAEMON_OUTBUF          65536 /* bytes queued per client before it is dropped */

/* An acquisition source. `start` begins one recording: from then on the
 * source calls sink->receive from its own thread (HEADER, DEVICE, CALIB?,
 * FRAME/EVENT..., END) and finally sink->finish exactly once, also when it
 * fails or stops by itself. `sink` is borrowed until finish returns.
 * `stop` asks it to end the recording and returns only after finish has
 * returned (it joins); calling stop after the source ended by itself just
 * joins. `free` releases ctx (NULL allowed for none). */
typedef struct rm_daemon_source {
    void *ctx;
    rm_status (*start)(void *ctx, const rm_sink *sink, rm_err *err);
    rm_status (*stop)(void *ctx, rm_err *err);
    void (*free)(void *ctx);
} rm_daemon_source;

/* Makes the sink that writes the recording at `path` (a file that does not
 * exist yet; the sink must create it exclusively, never overwrite). The
 * sink's finish releases it. */
typedef rm_status (*rm_daemon_open_fn)(void *user, const char *path, rm_sink *out, rm_err *err);

/* One live metric sample. NaN = not known (no roller on the mat, no
 * analyzer). */
typedef struct rm_daemon_metrics {
    double time_s; /* frame time, seconds since the recording's start */
    double roller_x_cm;
    double speed_cm_s;
    double roller_force_n;
    double load_share; /* roller force / total force, 0..1 */
    double total_force_n;
    int state; /* RM_DAEMON_STATE_*; preset to RM_DAEMON_STATE_UNKNOWN */
} rm_daemon_metrics;

/* What the roller is doing, for the live views (docs/daemon.md). */
enum {
    RM_DAEMON_STATE_UNKNOWN = -1, /* no analyzer */
    RM_DAEMON_STATE_LIFTED = 0,   /* nothing on the mat */
    RM_DAEMON_STATE_NO_ROLLER = 1, /* loaded (hands, feet...) but no roller contact */
    RM_DAEMON_STATE_ROLLING = 2,
    RM_DAEMON_STATE_HOLDING = 3, /* the roller on the mat, not rolling */
};

/* The coaching profile's bands the live views judge against (rollmatd
 * fills them from rm_profile_load: the daemon links no analysis code).
 * A band whose lo is NaN is not part of the profile. */
typedef struct rm_daemon_bands {
    char profile[64]; /* the profile's name, "" for none */
    double speed_lo, speed_hi, speed_target; /* cm/s; target NaN if none */
    double pass_lo, pass_hi;                 /* s of one one-way pass (stroke) */
    double hold_lo, hold_hi;                 /* s */
    double set_lo, set_hi;                   /* s on one muscle group */
    double daily_lo, daily_hi;               /* s of rolling in the session */
} rm_daemon_bands;

/* Sets every band to NaN and the name to "". */
void rm_daemon_bands_none(rm_daemon_bands *b);

/* A live analyzer. `begin` is called once the DEVICE (and CALIB, if any)
 * packets have arrived, with borrowed pointers (calib may be NULL), and
 * returns a state; `push` gets every frame in order and fills `out` (its
 * fields are preset to NaN and time_s); `end` frees the state. A failing
 * begin or push turns live analysis off for the recording, never the
 * recording itself. All three run on the source's thread. */
typedef struct rm_daemon_live {
    void *user;
    rm_status (*begin)(void *user, const rm_device *dev, const rm_calib *calib, void **state,
                       rm_err *err);
    rm_status (*push)(void *state, const rm_frame *frame, rm_daemon_metrics *out);
    void (*end)(void *state);
} rm_daemon_live;

typedef struct rm_daemon_config {
    const char *socket_path;    /* control socket; created mode 0660 */
    const char *recordings_dir; /* must exist and be a directory */
    rm_daemon_source source;    /* owned by the daemon from rm_daemon_new on
                                     (freed by rm_daemon_free, also on failure) */
    rm_daemon_open_fn open_recording;
    void *open_user;
    rm_daemon_live live; /* all NULL: built-in frame count + force */
    double publish_hz;   /* live lines per second; 0 = 15; 1..100 */
    rm_logger log;
    /* A client that is not subscribed and sends no command for this long is
     * disconnected (subscribers are kept: they are reading); 0 =
     * RM_DAEMON_IDLE_TIMEOUT_S. */
    double idle_timeout_s;
    /* The live page (HTTP + Server-Sent Events, docs/live.md). http_addr
     * NULL: off. "HOST:PORT" with a numeric IPv4 or [IPv6] host; port 0
     * picks a free one (rm_daemon_http_port tells which). A host other
     * than loopback needs http_token (rm_daemon_new refuses without);
     * with a token every request must carry it. */
    const char *http_addr;
    const char *http_token; /* NULL or "": none (loopback only) */
    const rm_daemon_bands *bands; /* NULL: no bands; copied */
} rm_daemon_config;

typedef struct rm_daemon rm_daemon;

/* Checks the configuration, creates the control socket and returns a
 * daemon the caller frees with rm_daemon_free. The socket path must not
 * exist, or be a stale socket (one nobody answers on), which is replaced;
 * anything else there (a file, a live daemon's socket) is refused. The
 * socket is created under umask 0117 (this sets the process umask for the
 * duration of the bind: call it before starting threads that create files).
 * Strings in cfg are copied. */
rm_status rm_daemon_new(const rm_daemon_config *cfg, rm_daemon **out, rm_err *err);

/* Serves clients until `wake_fd` (e.g. a signalfd; -1 for none) becomes
 * readable, then returns RM_OK without reading it. Returns an error only
 * for a failure of the daemon itself (poll fails); client errors are
 * answered and logged. */
rm_status rm_daemon_run(rm_daemon *d, int wake_fd, rm_err *err);

/* Handles whatever is ready now without blocking longer than timeout_ms
 * (-1 = until something happens). For tests and embedding. */
rm_status rm_daemon_step(rm_daemon *d, int timeout_ms, rm_err *err);

/* Ends the current recording cleanly (the source delivers END, the file is
 * closed). RM_OK if nothing was recording. Returns the recording's error,
 * if it had one. */
rm_status rm_daemon_stop_recording(rm_daemon *d, rm_err *err);

/* The TCP port the live page listens on; 0 when it is off. */
int rm_daemon_http_port(const rm_daemon *d);

/* 1 if `host` (numeric) is a loopback address (127.0.0.0/8, ::1). */
int rm_daemon_addr_loopback(const char *host_port);

/* 1 while a recording is running. */
int rm_daemon_recording(const rm_daemon *d);

/* Stops any recording, disconnects clients, removes the socket and frees
 * everything, the source included. NULL is allowed. */
void rm_daemon_free(rm_daemon *d);

/* 1 if `name` is acceptable as a recording name: 1..RM_DAEMON_NAME_MAX-4
 * bytes of [A-Za-z0-9._-], not starting with '.', no "..". Such a name can
 * only ever name a file directly inside the recordings folder. */
int rm_daemon_name_valid(const char *name);

/* The default name of a recording started at `unix_s`: "YYYYmmdd-HHMMSS"
 * (UTC) into buf (at least 32 bytes). */
void rm_daemon_default_name(double unix_s, char *buf, size_t cap);

/* ---- configuration file ------------------------------------------------
 * "key = value" lines; '#' starts a comment line; blank lines are ignored.
 * Keys: socket, recordings, serial, vid_pid, rate, log, replay, publish_hz,
 * http, http_token, profile, catalogue, idle_timeout.
 * Values are stored as strings; the caller parses them. Unknown keys and
 * lines without '=' are errors naming the file and line. */
typedef struct rm_daemon_conf {
    char *socket;
    char *recordings;
    char *serial;
    char *vid_pid;
    char *rate;
    char *log;
    char *replay;
    char *publish_hz;
    char *catalogue; /* study catalogue to register finished recordings in (rollmatd) */
    char *http;
    char *http_token;
    char *profile;
    char *idle_timeout; /* seconds before a silent control client is closed */
} rm_daemon_conf;

/* Reads `path` into `conf`, replacing the fields it sets (conf must be
 * zeroed or filled by an earlier load). Free with rm_daemon_conf_clear. */
rm_status rm_daemon_conf_load(const char *path, rm_daemon_conf *conf, rm_err *err);
/* Sets one key from text (the option parser uses it too). */
rm_status rm_daemon_conf_set(rm_daemon_conf *conf, const char *key, const char *value, rm_err *err);
void rm_daemon_conf_clear(rm_daemon_conf *conf);

/* ---- sources ------------------------------------------------------------
 * Any acquire source (rm_source.h: usb, replay, virtual) as the daemon's
 * source: each start runs rm_source_run once on a thread of its own; stop
 * sets the run's stop flag (cfg->stop is replaced by it) and joins, so a
 * stop returns within the source's polling interval (USB 100 ms, replay
 * 20 ms). An RM_ERR_INTERRUPTED run counts as a clean stop.
 * Ownership: `src` is owned from here on (freed by the daemon source's free,
 * or here on failure). cfg is copied, cfg->serial too; other pointers in it
 * (label, capture, status_user, log.user) are borrowed and must outlive the
 * daemon source. */
rm_status rm_daemon_source_new(rm_source *src, const rm_source_config *cfg, rm_daemon_source *out,
                               rm_err *err);

/* ---- replay source -----------------------------------------------------
 * acquire's replay source (rm_source_replay_new) set up as rollmatd wants
 * it: a saved raw byte stream (what a mat sends on its bulk IN endpoint) as
 * one recording: the mat's identity and calibration from the capture's
 * sidecar RAW.bin.dev (rm_capture.h) if there is one (a damaged sidecar is
 * an error), else the reference RM-1 (serial and firmware "replay") with the
 * geometry of the first good frame; frames paced at rate_hz in real time
 * (rate_hz 0: as fast as possible), corrupt bytes skipped and counted; a
 * ring of 1024 frames that waits rather than drops; "replayed from PATH" in
 * the header's notes. When the bytes run out it keeps the recording open,
 * like a mat that stopped sending, until stopped. A stream with no valid
 * frame in its first 8 MiB fails the start ("no frame in the stream").
 * `calib` (may be NULL) is copied and sent as the CALIB packet; it takes
 * precedence over the sidecar's. */
rm_status rm_daemon_replay_source_new(const char *path, double rate_hz, const rm_calib *calib,
                                      rm_daemon_source *out, rm_err *err);

/* The same replay, but the recording ends (END, then the daemon's
 * "stopped" line to subscribers) when the bytes run out instead of staying
 * open: for a viewer of a capture (`rollmat live --replay`) that should
 * end with it. Same arguments, ownership and errors. */
rm_status rm_daemon_replay_once_source_new(const char *path, double rate_hz, const rm_calib *calib,
                                           rm_daemon_source *out, rm_err *err);

/* ---- USB source ---------------------------------------------------------
 * acquire's USB source (rm_source_usb_new: decoder, recorder ring, writer
 * thread, reconnect on replug) through rm_daemon_source_new.
 * A mat that cannot be opened fails the start with the transport's
 * message. Strings are copied. */
typedef struct rm_daemon_usb_options {
    uint16_t vid, pid;  /* 0 = 1209:0001 */
    const char *serial; /* NULL = the only mat attached */
    unsigned rate_hz;   /* 0 = keep the mat's rate */
    size_t ring_slots;  /* 0 = the recorder's default */
    rm_logger log;
} rm_daemon_usb_options;

rm_status rm_daemon_usb_source_new(const rm_daemon_usb_options *opt, rm_daemon_source *out,
                                   rm_err *err);

#endif

/* cmd_record.c - `rollmat record`: a USB mat (or a saved raw stream) to a
 * session file, with a live status line. Wiring only: acquire's source (one
 * rm_source, whichever kind) and recorder, formats' session sink, and a
 * small live-status sink here. Options are parsed into a record_opts, then
 * run. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_capture.h"
#include "rm_cli.h"
#include "rm_session.h"
#include "rm_source.h"
#include "rm_usb.h"

static volatile sig_atomic_t g_stop; /* set by the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- live status: roller load (total force) of the latest frame ---- */

typedef struct live {
    pthread_mutex_t mu;
    rm_calib *calib;
    double sensel_m2;
    float *kpa;
    size_t n;
    double next_t; /* compute the load at most every 50 ms of frame time */
    double load_n; /* NAN until known */
} live;

static rm_status live_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    live *l = ctx;
    if (pkt->type == RM_PKT_DEVICE) {
        l->sensel_m2 = pkt->u.device->row_pitch_mm * pkt->u.device->col_pitch_mm * 1e-6;
    } else if (pkt->type == RM_PKT_CALIB && !l->calib) {
        if (rm_calib_copy(pkt->u.calib, &l->calib) != RM_OK)
            return rm_err_set(err, RM_ERR_NOMEM, "live status: out of memory");
        l->n = (size_t)l->calib->rows * l->calib->cols;
        l->kpa = malloc(l->n * sizeof *l->kpa);
        if (!l->kpa)
            return rm_err_set(err, RM_ERR_NOMEM, "live status: out of memory");
    } else if (pkt->type == RM_PKT_FRAME && l->kpa) {
        const rm_frame *f = pkt->u.frame;
        if ((size_t)f->rows * f->cols != l->n || f->time_s < l->next_t)
            return RM_OK;
        l->next_t = f->time_s + 0.05;
        rm_calib_pressure(l->calib, f->raw, l->kpa);
        double sum = 0;
        for (size_t i = 0; i < l->n; i++)
            sum += l->kpa[i];
        pthread_mutex_lock(&l->mu);
        l->load_n = sum * 1000.0 * l->sensel_m2; /* kPa -> Pa, times sensel area */
        pthread_mutex_unlock(&l->mu);
    }
    return RM_OK;
}

static rm_status live_finish(void *ctx, rm_err *err)
{
    (void)ctx;
    (void)err;
    return RM_OK; /* freed by the command after the run */
}

/* ---- the capture's device sidecar, written once the device is known ---- */

typedef struct sidecar {
    const char *raw_path;
    rm_device dev;
    rm_calib *calib;
    int have_dev, written;
} sidecar;

static rm_status sidecar_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    sidecar *s = ctx;
    if (pkt->type == RM_PKT_DEVICE) {
        s->dev = *pkt->u.device;
        s->have_dev = 1;
    } else if (pkt->type == RM_PKT_CALIB && !s->calib) {
        if (rm_calib_copy(pkt->u.calib, &s->calib) != RM_OK)
            return rm_err_set(err, RM_ERR_NOMEM, "capture: out of memory");
    } else if (pkt->type != RM_PKT_HEADER && s->have_dev && !s->written) {
        s->written = 1;
        return rm_capture_write_device(s->raw_path, &s->dev, s->calib, err);
    }
    return RM_OK;
}

static rm_status sidecar_finish(void *ctx, rm_err *err)
{
    (void)err;
    sidecar *s = ctx;
    rm_calib_free(s->calib);
    s->calib = NULL;
    return RM_OK;
}

typedef struct status_ctx {
    live *live;
    int tty;
    int printed;
} status_ctx;

static void on_status(void *user, const rm_source_status *s)
{
    status_ctx *c = user;
    if (!c->tty)
        return;
    pthread_mutex_lock(&c->live->mu);
    double load = c->live->load_n;
    pthread_mutex_unlock(&c->live->mu);
    uint64_t total = s->frames_ok + s->frames_missing;
    double loss = total ? 100.0 * (double)s->frames_missing / (double)total : 0.0;
    char loadbuf[32];
    if (isnan(load))
        snprintf(loadbuf, sizeof loadbuf, "-");
    else
        snprintf(loadbuf, sizeof loadbuf, "%.0f N", load);
    fprintf(stderr, "\r\033[K%s %7.1f s  frames %llu  %.0f Hz  loss %.2f%% (%llu)  load %s",
            s->connected ? "rec" : "WAITING FOR MAT", s->time_s, (unsigned long long)s->frames_ok,
            s->rate_hz, loss, (unsigned long long)s->frames_missing, loadbuf);
    fflush(stderr);
    c->printed = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rollmat record -o FILE [OPTIONS]\n"
            "Records a session from an RM-1 mat on USB (or a saved raw stream) into an\n"
            "HDF5 session file. Ctrl-C or SIGTERM stops and closes the file cleanly.\n\n"
            "  -o, --output FILE        session file to create (never overwritten)\n"
            "  -d, --duration S         stop after S seconds of recording\n"
            "  -s, --serial SN          the mat with this serial number\n"
            "      --vid-pid VVVV:PPPP  USB ids of the mat (default 1209:0001)\n"
            "  -r, --rate HZ            frame rate to set on the mat\n"
            "  -l, --label L            muscle group label at the start\n"
            "      --subject ID         subject id\n"
            "      --body-mass KG       subject body mass\n"
            "  -t, --title T            recording title\n"
            "      --capture RAW.bin    also save the raw byte stream (new file)\n"
            "      --replay RAW.bin     record from a saved raw stream instead of a mat\n"
            "      --transfer-size B    bytes per USB bulk transfer (default %u)\n"
            "      --transfers N        bulk transfers in flight (default %u)\n"
            "      --ring N             frames the host ring holds (default 4096)\n"
            "      --reconnect-timeout S  give up waiting for an unplugged mat (default: wait)\n"
            "      --clock host|device  time axis from the host clock (default, drift\n"
            "                           fitted) or the mat's own clock (accelerated\n"
            "                           virtual mats, replays)\n"
            "      --no-drop            when the disk falls behind, hold the mat back\n"
            "                           instead of dropping frames (emulated mats only:\n"
            "                           a real mat would overrun its own buffer)\n"
            "  -q, --quiet              no live status line\n",
            RM_USB_DEFAULT_TRANSFER_SIZE, RM_USB_DEFAULT_TRANSFERS);
}

static int parse_vid_pid(const char *s, uint16_t *vid, uint16_t *pid)
{
    unsigned v, p;
    char tail;
    if (sscanf(s, "%4x:%4x%c", &v, &p, &tail) != 2 || v == 0 || p == 0)
        return -1;
    *vid = (uint16_t)v;
    *pid = (uint16_t)p;
    return 0;
}

/* ---- options ---------------------------------------------------------------- */

static const char *const CMD = "record";

/* What the command line asks for. Strings point into argv. */
typedef struct record_opts {
    rm_source_config cfg; /* header, label, duration and USB settings */
    const char *out, *capture, *replay;
    int quiet;
} record_opts;

enum {
    O_VIDPID = 256,
    O_SUBJECT,
    O_MASS,
    O_CAPTURE,
    O_REPLAY,
    O_XSIZE,
    O_XFERS,
    O_RING,
    O_RECON,
    O_CLOCK,
    O_NODROP
};

/* The options taking a number: 0 = set, else the exit code of a usage
 * error; -1 = not one of them. */
static int parse_number_opt(int c, const char *arg, rm_source_config *cfg)
{
    double v;
    long lv;
    switch (c) {
    case 'd':
        if (rm_cli_parse_double(arg, 0.001, 1e7, &cfg->duration_s))
            return rm_cli_usage_error(CMD, "--duration '%s' is not a number of seconds > 0", arg);
        return 0;
    case 'r':
        if (rm_cli_parse_long(arg, 1, 65535, &lv))
            return rm_cli_usage_error(CMD, "--rate '%s' is not a rate in Hz (1..65535)", arg);
        cfg->rate_hz = (unsigned)lv;
        return 0;
    case O_MASS:
        if (rm_cli_parse_double(arg, 1, 1000, &v))
            return rm_cli_usage_error(CMD, "--body-mass '%s' is not a mass in kg (1..1000)", arg);
        cfg->header.body_mass_kg = v;
        return 0;
    case O_XSIZE:
        if (rm_cli_parse_long(arg, 512, RM_USB_MAX_TRANSFER_SIZE, &lv))
            return rm_cli_usage_error(CMD, "--transfer-size '%s' is not 512..%u bytes", arg,
                                      RM_USB_MAX_TRANSFER_SIZE);
        cfg->transfer_size = (size_t)lv;
        return 0;
    case O_XFERS:
        if (rm_cli_parse_long(arg, 1, RM_USB_MAX_TRANSFERS, &lv))
            return rm_cli_usage_error(CMD, "--transfers '%s' is not 1..%u", arg,
                                      RM_USB_MAX_TRANSFERS);
        cfg->transfers = (unsigned)lv;
        return 0;
    case O_RING:
        if (rm_cli_parse_long(arg, 16, 1000000, &lv))
            return rm_cli_usage_error(CMD, "--ring '%s' is not 16..1000000 frames", arg);
        cfg->ring_slots = (size_t)lv;
        return 0;
    case O_RECON:
        if (rm_cli_parse_double(arg, 0.1, 1e7, &cfg->reconnect_timeout_s))
            return rm_cli_usage_error(CMD, "--reconnect-timeout '%s' is not seconds > 0", arg);
        return 0;
    default: return -1;
    }
}

/* One option (not a number, not --help): 0 = set, else the exit code. */
static int parse_other_opt(int c, const char *arg, record_opts *o, char **argv)
{
    rm_source_config *cfg = &o->cfg;
    switch (c) {
    case 'o': o->out = arg; break;
    case 's': cfg->serial = arg; break;
    case O_VIDPID:
        if (parse_vid_pid(arg, &cfg->vid, &cfg->pid))
            return rm_cli_usage_error(CMD, "--vid-pid '%s' is not VVVV:PPPP in hex", arg);
        break;
    /* text fields have the file format's fixed sizes: too long is an
     * error naming the limit, never a silent cut */
    case 'l':
        if (strlen(arg) >= RM_EVENT_TEXT_LEN)
            return rm_cli_usage_error(CMD, "--label is %zu characters; a label holds at most %d",
                                      strlen(arg), RM_EVENT_TEXT_LEN - 1);
        cfg->label = arg;
        break;
    case O_SUBJECT:
        if (strlen(arg) >= sizeof cfg->header.subject_id)
            return rm_cli_usage_error(CMD,
                                      "--subject is %zu characters; a subject id holds at most %zu",
                                      strlen(arg), sizeof cfg->header.subject_id - 1);
        memcpy(cfg->header.subject_id, arg, strlen(arg) + 1);
        break;
    case 't':
        if (strlen(arg) >= sizeof cfg->header.title)
            return rm_cli_usage_error(CMD, "--title is %zu characters; a title holds at most %zu",
                                      strlen(arg), sizeof cfg->header.title - 1);
        memcpy(cfg->header.title, arg, strlen(arg) + 1);
        break;
    case O_CAPTURE: o->capture = arg; break;
    case O_REPLAY: o->replay = arg; break;
    case O_CLOCK:
        if (!strcmp(arg, "host"))
            cfg->device_time = 0;
        else if (!strcmp(arg, "device"))
            cfg->device_time = 1;
        else
            return rm_cli_usage_error(CMD, "--clock '%s' is not host or device", arg);
        break;
    case O_NODROP: cfg->no_drop = 1; break;
    case 'q': o->quiet = 1; break;
    default: return rm_cli_bad_option(CMD, argv);
    }
    return 0;
}

/* Fills `o` from argv. Returns -1 to go on and record, else the exit code
 * (0 after --help, a usage error's code). */
static int record_parse(int argc, char **argv, record_opts *o)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"duration", required_argument, NULL, 'd'},
        {"serial", required_argument, NULL, 's'},
        {"vid-pid", required_argument, NULL, O_VIDPID},
        {"rate", required_argument, NULL, 'r'},
        {"label", required_argument, NULL, 'l'},
        {"subject", required_argument, NULL, O_SUBJECT},
        {"body-mass", required_argument, NULL, O_MASS},
        {"title", required_argument, NULL, 't'},
        {"capture", required_argument, NULL, O_CAPTURE},
        {"replay", required_argument, NULL, O_REPLAY},
        {"transfer-size", required_argument, NULL, O_XSIZE},
        {"transfers", required_argument, NULL, O_XFERS},
        {"ring", required_argument, NULL, O_RING},
        {"reconnect-timeout", required_argument, NULL, O_RECON},
        {"clock", required_argument, NULL, O_CLOCK},
        {"no-drop", no_argument, NULL, O_NODROP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    while ((c = getopt_long(argc, argv, "o:d:s:r:l:t:qh", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return RM_EXIT_OK;
        }
        int rc = parse_number_opt(c, optarg, &o->cfg);
        if (rc < 0)
            rc = parse_other_opt(c, optarg, o, argv);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return rm_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->out)
        return rm_cli_usage_error(CMD, "-o FILE is required");
    if (o->replay && (o->cfg.serial || o->cfg.rate_hz || o->cfg.vid))
        return rm_cli_usage_error(CMD, "--replay reads a file: --serial, --rate and --vid-pid "
                                       "do not apply");
    return -1;
}

/* ---- running ---------------------------------------------------------------- */

/* Fails before touching the mat when the file exists or cannot be created.
 * 0 = fine, else the exit code. */
static int check_output(const char *out)
{
    struct stat sb;
    if (stat(out, &sb) == 0) {
        rm_cli_error(CMD, "%s already exists; refusing to overwrite it", out);
        return RM_EXIT_FAIL;
    }
    char *dirbuf = strdup(out);
    if (!dirbuf)
        return rm_cli_fail(CMD, NULL, RM_ERR_NOMEM);
    char *slash = strrchr(dirbuf, '/');
    const char *d = slash ? (slash == dirbuf ? "/" : (*slash = 0, dirbuf)) : ".";
    int ok = access(d, W_OK | X_OK) == 0;
    int eno = errno;
    if (!ok)
        rm_cli_error(CMD, "%s: cannot create it in %s: %s", out, d, strerror(eno));
    free(dirbuf);
    return ok ? 0 : RM_EXIT_FAIL;
}

/* The raw-byte tee, a new file. 0 = opened (or none asked), else the exit code. */
static int open_capture(const char *capture, FILE **cap)
{
    *cap = NULL;
    if (!capture)
        return 0;
    int fd = open(capture, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rm_cli_error(CMD, "%s: %s%s", capture, strerror(errno),
                     errno == EEXIST ? " (refusing to overwrite it)" : "");
        return RM_EXIT_FAIL;
    }
    *cap = fdopen(fd, "wb");
    if (!*cap) {
        close(fd);
        rm_cli_error(CMD, "%s: %s", capture, strerror(errno));
        return RM_EXIT_FAIL;
    }
    setvbuf(*cap, NULL, _IOFBF, 1 << 20);
    return 0;
}

/* The mat, or the saved stream (with the device and calibration of the
 * live run from the capture's sidecar, when there is one). */
static rm_status make_source(const record_opts *o, rm_source **src, rm_err *e)
{
    if (!o->replay)
        return rm_source_usb_new(src, e);
    rm_source_replay_options ro = {.path = o->replay}; /* as fast as the writer takes them */
    return rm_source_replay_new(&ro, src, e);
}

/* Frames a reader finds in the file now, or -1 if it does not open. The
 * count the recorder handed on is not enough: after a failed write (disk
 * full) the file holds only what was flushed before. */
static long long frames_readable(const char *out)
{
    rm_session *s = NULL;
    if (rm_session_open(out, &s, NULL) != RM_OK)
        return -1;
    long long n = (long long)rm_session_frames(s);
    rm_session_close(s);
    return n;
}

static void print_summary(const char *out, const rm_source_result *res)
{
    const rm_decoder_stats *d = &res->decoder;
    struct stat sb;
    /* The summary describes a file that exists. */
    if (!(d->bytes || res->recorder.frames_out) || stat(out, &sb) != 0)
        return;
    unsigned long long got = res->recorder.frames_out;
    long long in_file = frames_readable(out);
    if (in_file < 0)
        printf("%s: no frame readable (the file does not open; %llu frames received)", out, got);
    else if ((unsigned long long)in_file != got)
        printf("%s: %lld frames readable (%llu received, %llu not in the file)", out, in_file, got,
               got > (unsigned long long)in_file ? got - (unsigned long long)in_file : 0ULL);
    else
        printf("%s: %llu frames ok", out, got);
    printf(", %llu corrupt, %llu truncated, %llu gaps (%llu frames "
           "missing), %llu garbage bytes, %llu overruns",
           (unsigned long long)d->frames_corrupt, (unsigned long long)d->frames_truncated,
           (unsigned long long)d->gaps, (unsigned long long)d->frames_missing,
           (unsigned long long)d->garbage_bytes, (unsigned long long)res->recorder.overruns);
    if (res->disconnects)
        printf(", %u disconnects, %u reconnects", res->disconnects, res->reconnects);
    printf("\n");
}

/* Runs the source into the session file, the live status and the sidecar
 * writer, with SIGINT/SIGTERM stopping it. */
static rm_status run_source(record_opts *o, rm_source *src, FILE *cap, rm_source_result *res,
                            int *printed, rm_err *e)
{
    live lv_ctx;
    memset(&lv_ctx, 0, sizeof lv_ctx);
    pthread_mutex_init(&lv_ctx.mu, NULL);
    lv_ctx.load_n = NAN;
    status_ctx sc = {.live = &lv_ctx, .tty = !o->quiet && isatty(STDERR_FILENO)};
    rm_sink sinks[3];
    size_t nsinks = 2;
    /* A replay runs faster than real time: flush each chunk, as a live
     * recording does within a second, so a full disk costs one chunk. */
    rm_session_writer_options wo = {
        .deflate_level = -1, .swmr = 1, .flush_every_chunk = o->replay != NULL};
    rm_status st = rm_session_sink_new(o->out, &wo, &sinks[0], e);
    if (st != RM_OK) {
        pthread_mutex_destroy(&lv_ctx.mu);
        return st;
    }
    sinks[1] = (rm_sink){.ctx = &lv_ctx, .receive = live_receive, .finish = live_finish};
    sidecar side = {.raw_path = o->capture};
    if (o->capture)
        sinks[nsinks++] =
            (rm_sink){.ctx = &side, .receive = sidecar_receive, .finish = sidecar_finish};

    g_stop = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    rm_source_config *cfg = &o->cfg;
    cfg->stop = &g_stop;
    cfg->capture = cap;
    cfg->status = on_status;
    cfg->status_user = &sc;
    cfg->status_interval_s = 0.25;
    rm_log_level maxlvl = RM_LOG_WARN;
    cfg->log = rm_cli_stderr_logger(&maxlvl);
    if (!cfg->header.title[0])
        snprintf(cfg->header.title, sizeof cfg->header.title, "rollmat recording");
    st = rm_source_run(src, cfg, sinks, nsinks, res, e);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    *printed = sc.printed;
    rm_calib_free(lv_ctx.calib);
    free(lv_ctx.kpa);
    pthread_mutex_destroy(&lv_ctx.mu);
    return st;
}

static int record_run(record_opts *o)
{
    int rc = check_output(o->out);
    if (rc)
        return rc;
    if (o->capture && o->replay && !strcmp(o->capture, o->replay))
        return rm_cli_usage_error(CMD, "--capture and --replay name the same file");
    FILE *cap = NULL;
    rc = open_capture(o->capture, &cap);
    if (rc)
        return rc;
    rm_err e = {0};
    rm_source *src = NULL;
    rm_status st = make_source(o, &src, &e);
    if (st != RM_OK) {
        if (cap)
            fclose(cap);
        return rm_cli_fail(CMD, &e, st);
    }
    rm_source_result res;
    memset(&res, 0, sizeof res);
    int printed = 0;
    st = run_source(o, src, cap, &res, &printed, &e);
    rm_source_free(src);
    if (printed)
        fputc('\n', stderr);
    if (cap && fclose(cap) != 0 && st == RM_OK)
        st = rm_err_set(&e, RM_ERR_IO, "%s: %s", o->capture, strerror(errno));
    rc = st != RM_OK ? rm_cli_fail(CMD, &e, st) : RM_EXIT_OK;
    print_summary(o->out, &res);
    return rc;
}

int rm_cmd_record(int argc, char **argv)
{
    record_opts o;
    int rc = record_parse(argc, argv, &o);
    return rc >= 0 ? rc : record_run(&o);
}

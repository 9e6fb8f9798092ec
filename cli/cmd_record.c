/* cmd_record.c - `rollmat record`: a USB mat (or a saved raw stream) to a
 * session file, with a live status line. Wiring only: acquire's source and
 * recorder, formats' session sink, and a small live-status sink here. */
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
    double next_t;     /* compute the load at most every 50 ms of frame time */
    double load_n;     /* NAN until known */
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
            s->connected ? "rec" : "WAITING FOR MAT", s->time_s,
            (unsigned long long)s->frames_ok, s->rate_hz, loss,
            (unsigned long long)s->frames_missing, loadbuf);
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

int rm_cmd_record(int argc, char **argv)
{
    const char *cmd = "record";
    enum { O_VIDPID = 256, O_SUBJECT, O_MASS, O_CAPTURE, O_REPLAY, O_XSIZE, O_XFERS, O_RING,
           O_RECON, O_CLOCK, O_NODROP };
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
    rm_source_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *out = NULL, *capture = NULL, *replay = NULL;
    int quiet = 0;
    double v;
    long lv;
    int c;
    while ((c = getopt_long(argc, argv, "o:d:s:r:l:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'd':
            if (rm_cli_parse_double(optarg, 0.001, 1e7, &cfg.duration_s))
                return rm_cli_usage_error(cmd, "--duration '%s' is not a number of seconds > 0",
                                          optarg);
            break;
        case 's': cfg.serial = optarg; break;
        case O_VIDPID:
            if (parse_vid_pid(optarg, &cfg.vid, &cfg.pid))
                return rm_cli_usage_error(cmd, "--vid-pid '%s' is not VVVV:PPPP in hex", optarg);
            break;
        case 'r':
            if (rm_cli_parse_long(optarg, 1, 65535, &lv))
                return rm_cli_usage_error(cmd, "--rate '%s' is not a rate in Hz (1..65535)",
                                          optarg);
            cfg.rate_hz = (unsigned)lv;
            break;
        case 'l': cfg.label = optarg; break;
        case O_SUBJECT:
            snprintf(cfg.header.subject_id, sizeof cfg.header.subject_id, "%s", optarg);
            break;
        case O_MASS:
            if (rm_cli_parse_double(optarg, 1, 1000, &v))
                return rm_cli_usage_error(cmd, "--body-mass '%s' is not a mass in kg (1..1000)",
                                          optarg);
            cfg.header.body_mass_kg = v;
            break;
        case 't': snprintf(cfg.header.title, sizeof cfg.header.title, "%s", optarg); break;
        case O_CAPTURE: capture = optarg; break;
        case O_REPLAY: replay = optarg; break;
        case O_XSIZE:
            if (rm_cli_parse_long(optarg, 512, RM_USB_MAX_TRANSFER_SIZE, &lv))
                return rm_cli_usage_error(cmd, "--transfer-size '%s' is not 512..%u bytes",
                                          optarg, RM_USB_MAX_TRANSFER_SIZE);
            cfg.transfer_size = (size_t)lv;
            break;
        case O_XFERS:
            if (rm_cli_parse_long(optarg, 1, RM_USB_MAX_TRANSFERS, &lv))
                return rm_cli_usage_error(cmd, "--transfers '%s' is not 1..%u", optarg,
                                          RM_USB_MAX_TRANSFERS);
            cfg.transfers = (unsigned)lv;
            break;
        case O_RING:
            if (rm_cli_parse_long(optarg, 16, 1000000, &lv))
                return rm_cli_usage_error(cmd, "--ring '%s' is not 16..1000000 frames", optarg);
            cfg.ring_slots = (size_t)lv;
            break;
        case O_RECON:
            if (rm_cli_parse_double(optarg, 0.1, 1e7, &cfg.reconnect_timeout_s))
                return rm_cli_usage_error(cmd, "--reconnect-timeout '%s' is not seconds > 0",
                                          optarg);
            break;
        case O_CLOCK:
            if (!strcmp(optarg, "host"))
                cfg.device_time = 0;
            else if (!strcmp(optarg, "device"))
                cfg.device_time = 1;
            else
                return rm_cli_usage_error(cmd, "--clock '%s' is not host or device", optarg);
            break;
        case O_NODROP: cfg.no_drop = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default:
            return rm_cli_bad_option(cmd, argv);
        }
    }
    if (optind < argc)
        return rm_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out)
        return rm_cli_usage_error(cmd, "-o FILE is required");
    if (replay && (cfg.serial || cfg.rate_hz || cfg.vid))
        return rm_cli_usage_error(cmd, "--replay reads a file: --serial, --rate and --vid-pid "
                                       "do not apply");
    struct stat sb;
    if (stat(out, &sb) == 0) {
        rm_cli_error(cmd, "%s already exists; refusing to overwrite it", out);
        return RM_EXIT_FAIL;
    }
    {
        /* Fail before touching the mat when the file cannot be created. */
        char *dirbuf = strdup(out);
        if (!dirbuf)
            return rm_cli_fail(cmd, NULL, RM_ERR_NOMEM);
        char *slash = strrchr(dirbuf, '/');
        const char *d = slash ? (slash == dirbuf ? "/" : (*slash = 0, dirbuf)) : ".";
        int ok = access(d, W_OK | X_OK) == 0;
        int eno = errno;
        if (!ok)
            rm_cli_error(cmd, "%s: cannot create it in %s: %s", out, d, strerror(eno));
        free(dirbuf);
        if (!ok)
            return RM_EXIT_FAIL;
    }
    if (capture && replay && !strcmp(capture, replay))
        return rm_cli_usage_error(cmd, "--capture and --replay name the same file");
    FILE *cap = NULL;
    if (capture) {
        int fd = open(capture, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            rm_cli_error(cmd, "%s: %s%s", capture, strerror(errno),
                         errno == EEXIST ? " (refusing to overwrite it)" : "");
            return RM_EXIT_FAIL;
        }
        cap = fdopen(fd, "wb");
        if (!cap) {
            close(fd);
            rm_cli_error(cmd, "%s: %s", capture, strerror(errno));
            return RM_EXIT_FAIL;
        }
        setvbuf(cap, NULL, _IOFBF, 1 << 20);
    }

    live lv_ctx;
    memset(&lv_ctx, 0, sizeof lv_ctx);
    pthread_mutex_init(&lv_ctx.mu, NULL);
    lv_ctx.load_n = NAN;
    status_ctx sc = {.live = &lv_ctx, .tty = !quiet && isatty(STDERR_FILENO)};

    rm_err e = {0};
    /* A replay gets the device and calibration of the live run from the
     * capture's sidecar, when there is one. */
    rm_device replay_dev;
    rm_calib *replay_calib = NULL;
    if (replay) {
        rm_status ds = rm_capture_read_device(replay, &replay_dev, &replay_calib, &e);
        if (ds == RM_OK) {
            cfg.replay_device = &replay_dev;
            cfg.replay_calib = replay_calib;
        } else if (ds != RM_ERR_NOT_FOUND) {
            if (cap)
                fclose(cap);
            return rm_cli_fail(cmd, &e, ds);
        }
    }
    rm_sink sinks[3];
    size_t nsinks = 2;
    rm_status st = rm_session_sink_new(out, NULL, &sinks[0], &e);
    if (st != RM_OK) {
        if (cap)
            fclose(cap);
        rm_calib_free(replay_calib);
        return rm_cli_fail(cmd, &e, st);
    }
    sinks[1] = (rm_sink){.ctx = &lv_ctx, .receive = live_receive, .finish = live_finish};
    sidecar side = {.raw_path = capture};
    if (capture)
        sinks[nsinks++] = (rm_sink){.ctx = &side, .receive = sidecar_receive,
                                    .finish = sidecar_finish};

    g_stop = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    cfg.stop = &g_stop;
    cfg.capture = cap;
    cfg.status = on_status;
    cfg.status_user = &sc;
    cfg.status_interval_s = 0.25;
    rm_log_level maxlvl = RM_LOG_WARN;
    cfg.log = rm_cli_stderr_logger(&maxlvl);
    if (!cfg.header.title[0])
        snprintf(cfg.header.title, sizeof cfg.header.title, "rollmat recording");

    rm_source_result res;
    if (replay)
        st = rm_source_replay_run(replay, &cfg, sinks, nsinks, &res, &e);
    else
        st = rm_source_usb_run(&cfg, sinks, nsinks, &res, &e);
    rm_calib_free(replay_calib);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (sc.printed)
        fputc('\n', stderr);
    int rc = RM_EXIT_OK;
    if (cap && fclose(cap) != 0 && st == RM_OK) {
        st = rm_err_set(&e, RM_ERR_IO, "%s: %s", capture, strerror(errno));
    }
    rm_calib_free(lv_ctx.calib);
    free(lv_ctx.kpa);
    pthread_mutex_destroy(&lv_ctx.mu);
    if (st != RM_OK)
        rc = rm_cli_fail(cmd, &e, st);
    const rm_decoder_stats *d = &res.decoder;
    /* The summary describes a file that exists. */
    if ((d->bytes || res.recorder.frames_out) && stat(out, &sb) == 0) {
        printf("%s: %llu frames ok, %llu corrupt, %llu truncated, %llu gaps (%llu frames "
               "missing), %llu garbage bytes, %llu overruns",
               out, (unsigned long long)res.recorder.frames_out,
               (unsigned long long)d->frames_corrupt, (unsigned long long)d->frames_truncated,
               (unsigned long long)d->gaps, (unsigned long long)d->frames_missing,
               (unsigned long long)d->garbage_bytes, (unsigned long long)res.recorder.overruns);
        if (res.disconnects)
            printf(", %u disconnects, %u reconnects", res.disconnects, res.reconnects);
        printf("\n");
    }
    return rc;
}

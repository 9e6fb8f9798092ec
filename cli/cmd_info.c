/* rollmat info FILE [--json]: what a recording holds. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_cli.h"
#include "rm_session.h"

#define CMD "info"

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat info FILE [--json]\n"
                 "  Shows a recording's device, subject, duration, frames, rate, gaps and\n"
                 "  corrupt-frame events, size on disk and compression, and whether it is\n"
                 "  still being written.\n"
                 "  --json   one JSON object on stdout, for scripts\n");
}

typedef struct kind_count {
    char kind[RM_EVENT_KIND_LEN];
    size_t n;
    int64_t value_sum;
} kind_count;

typedef struct facts {
    uint64_t frames;
    double t_first, t_last, span, measured_hz;
    size_t nkinds;
    kind_count kinds[32];
    size_t other_events;
    uint64_t stored, raw, file_bytes;
    rm_end end;
    int have_end;
} facts;

static rm_status gather(rm_session *s, const char *path, facts *f, rm_err *err)
{
    memset(f, 0, sizeof *f);
    f->frames = rm_session_frames(s);
    if (f->frames) {
        rm_status st = rm_session_read(s, 0, 1, NULL, &f->t_first, NULL, NULL, NULL, err);
        if (st == RM_OK)
            st = rm_session_read(s, f->frames - 1, 1, NULL, &f->t_last, NULL, NULL, NULL, err);
        if (st != RM_OK)
            return st;
        f->span = f->t_last - f->t_first;
        if (f->frames > 1 && f->span > 0)
            f->measured_hz = (double)(f->frames - 1) / f->span;
    }
    for (size_t i = 0; i < rm_session_event_count(s); i++) {
        rm_event ev;
        rm_session_event(s, i, &ev);
        size_t k = 0;
        while (k < f->nkinds && strcmp(f->kinds[k].kind, ev.kind) != 0)
            k++;
        if (k == f->nkinds) {
            if (f->nkinds == sizeof f->kinds / sizeof *f->kinds) {
                f->other_events++;
                continue;
            }
            snprintf(f->kinds[k].kind, sizeof f->kinds[k].kind, "%s", ev.kind);
            f->nkinds++;
        }
        f->kinds[k].n++;
        f->kinds[k].value_sum += ev.value;
    }
    rm_session_sizes(s, &f->stored, &f->raw);
    struct stat sb;
    if (stat(path, &sb) == 0)
        f->file_bytes = (uint64_t)sb.st_size;
    f->have_end = rm_session_end_totals(s, &f->end) == RM_OK;
    return RM_OK;
}

static const kind_count *find_kind(const facts *f, const char *kind)
{
    for (size_t k = 0; k < f->nkinds; k++)
        if (!strcmp(f->kinds[k].kind, kind))
            return &f->kinds[k];
    return NULL;
}

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    if (b >= 10u * 1024 * 1024)
        snprintf(out, cap, "%.1f MiB", b / 1048576.0);
    else if (b >= 10u * 1024)
        snprintf(out, cap, "%.1f KiB", b / 1024.0);
    else
        snprintf(out, cap, "%llu B", (unsigned long long)b);
}

static void print_text(rm_session *s, const char *path, const facts *f)
{
    const rm_header *h = rm_session_header(s);
    const rm_device *d = rm_session_device(s);
    /* text from the file goes to a terminal: no escape sequences through */
    char b1[512], b2[512], b3[512], b4[512];
    printf("file:        %s\n", rm_cli_printable(path, b1, sizeof b1));
    printf("status:      %s\n", rm_session_is_live(s)
                                    ? "live (still being written, or its writer stopped "
                                      "without closing it)"
                                    : "closed");
    if (h->title[0])
        printf("title:       %s\n", rm_cli_printable(h->title, b1, sizeof b1));
    printf("created:     %s\n", h->created);
    if (h->source[0])
        printf("source:      %s\n", rm_cli_printable(h->source, b1, sizeof b1));
    printf("device:      %s, serial %s, firmware %s, USB %04x:%04x, %u x %u sensels, "
           "pitch %g x %g mm, %u-bit\n",
           d->model[0] ? rm_cli_printable(d->model, b2, sizeof b2) : "unknown model",
           d->serial[0] ? rm_cli_printable(d->serial, b3, sizeof b3) : "-",
           d->firmware[0] ? rm_cli_printable(d->firmware, b4, sizeof b4) : "-", d->vid, d->pid,
           d->rows, d->cols, d->row_pitch_mm, d->col_pitch_mm, d->adc_bits);
    if (h->subject_id[0] || h->body_mass_kg > 0 || h->subject_notes[0]) {
        printf("subject:     %s",
               h->subject_id[0] ? rm_cli_printable(h->subject_id, b1, sizeof b1) : "(no id)");
        if (h->body_mass_kg > 0)
            printf(", %g kg", h->body_mass_kg);
        if (h->subject_notes[0])
            printf(", %s", rm_cli_printable(h->subject_notes, b1, sizeof b1));
        printf("\n");
    }
    printf("frames:      %llu\n", (unsigned long long)f->frames);
    printf("duration:    %.3f s\n", f->span);
    if (f->measured_hz > 0)
        printf("rate:        %g Hz nominal, %.3f Hz measured\n", d->rate_hz, f->measured_hz);
    else
        printf("rate:        %g Hz nominal\n", d->rate_hz);
    const kind_count *gap = find_kind(f, RM_EVENT_GAP);
    const kind_count *cor = find_kind(f, RM_EVENT_CORRUPT);
    printf("gaps:        %zu event%s, %lld frame%s missing\n", gap ? gap->n : 0,
           gap && gap->n == 1 ? "" : "s", gap ? (long long)gap->value_sum : 0LL,
           gap && gap->value_sum == 1 ? "" : "s");
    printf("corrupt:     %zu event%s, %lld frame%s\n", cor ? cor->n : 0,
           cor && cor->n == 1 ? "" : "s", cor ? (long long)cor->value_sum : 0LL,
           cor && cor->value_sum == 1 ? "" : "s");
    printf("events:      %zu", rm_session_event_count(s));
    for (size_t k = 0; k < f->nkinds; k++)
        printf("%s%s %zu", k ? ", " : " (", rm_cli_printable(f->kinds[k].kind, b1, sizeof b1),
               f->kinds[k].n);
    printf("%s\n", f->nkinds ? ")" : "");
    char a[32], b[32], c[32];
    human_bytes(f->stored, a, sizeof a);
    human_bytes(f->raw, b, sizeof b);
    human_bytes(f->file_bytes, c, sizeof c);
    if (f->raw)
        printf("size:        %s file; frames %s stored for %s raw (%.1f %% of raw, %.2fx)\n", c, a,
               b, 100.0 * (double)f->stored / (double)f->raw,
               f->stored ? (double)f->raw / (double)f->stored : 0.0);
    else
        printf("size:        %s file; no frames\n", c);
    if (f->have_end)
        printf("source end:  %llu corrupt, %llu truncated, %llu missing frames, %llu garbage "
               "bytes, status %s\n",
               (unsigned long long)f->end.frames_corrupt,
               (unsigned long long)f->end.frames_truncated,
               (unsigned long long)f->end.frames_missing, (unsigned long long)f->end.garbage_bytes,
               rm_status_name(f->end.status));
    const rm_calib *cal = rm_session_calib(s);
    printf("calibration: %u knots, %g..%g kPa%s\n", cal->n_knots, cal->knot_kpa[0],
           cal->knot_kpa[cal->n_knots - 1], rm_session_mask(s) ? ", sensel mask" : "");
    for (size_t i = 0; i < rm_session_reference_count(s); i++) {
        const char *name, *units;
        rm_session_reference(s, i, &name, &units, NULL);
        printf("reference:   %s (%s)\n", rm_cli_printable(name, b1, sizeof b1),
               rm_cli_printable(units, b2, sizeof b2));
    }
}

static int print_json(rm_session *s, const char *path, const facts *f)
{
    const rm_header *h = rm_session_header(s);
    const rm_device *d = rm_session_device(s);
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "live", json_boolean(rm_session_is_live(s)));
    json_object_set_new(o, "title", json_string(h->title));
    json_object_set_new(o, "created", json_string(h->created));
    json_object_set_new(o, "source", json_string(h->source));
    json_t *dev = json_object();
    json_object_set_new(dev, "vid", json_integer(d->vid));
    json_object_set_new(dev, "pid", json_integer(d->pid));
    json_object_set_new(dev, "serial", json_string(d->serial));
    json_object_set_new(dev, "model", json_string(d->model));
    json_object_set_new(dev, "firmware", json_string(d->firmware));
    json_object_set_new(dev, "protocol_version", json_integer(d->protocol_version));
    json_object_set_new(dev, "rows", json_integer(d->rows));
    json_object_set_new(dev, "cols", json_integer(d->cols));
    json_object_set_new(dev, "row_pitch_mm", json_real(d->row_pitch_mm));
    json_object_set_new(dev, "col_pitch_mm", json_real(d->col_pitch_mm));
    json_object_set_new(dev, "adc_bits", json_integer(d->adc_bits));
    json_object_set_new(dev, "rate_hz", json_real(d->rate_hz));
    json_object_set_new(o, "device", dev);
    json_t *sub = json_object();
    json_object_set_new(sub, "id", json_string(h->subject_id));
    json_object_set_new(sub, "body_mass_kg",
                        h->body_mass_kg > 0 ? json_real(h->body_mass_kg) : json_null());
    json_object_set_new(sub, "notes", json_string(h->subject_notes));
    json_object_set_new(o, "subject", sub);
    json_object_set_new(o, "frames", json_integer((json_int_t)f->frames));
    json_object_set_new(o, "duration_s", json_real(f->span));
    json_object_set_new(o, "rate_hz", json_real(d->rate_hz));
    json_object_set_new(o, "measured_rate_hz",
                        f->measured_hz > 0 ? json_real(f->measured_hz) : json_null());
    json_t *ev = json_object();
    for (size_t k = 0; k < f->nkinds; k++)
        json_object_set_new(ev, f->kinds[k].kind, json_integer((json_int_t)f->kinds[k].n));
    json_object_set_new(o, "events", ev);
    json_object_set_new(o, "event_count", json_integer((json_int_t)rm_session_event_count(s)));
    const kind_count *gap = find_kind(f, RM_EVENT_GAP);
    const kind_count *cor = find_kind(f, RM_EVENT_CORRUPT);
    json_object_set_new(o, "gap_events", json_integer(gap ? (json_int_t)gap->n : 0));
    json_object_set_new(o, "frames_missing", json_integer(gap ? gap->value_sum : 0));
    json_object_set_new(o, "corrupt_events", json_integer(cor ? (json_int_t)cor->n : 0));
    json_object_set_new(o, "frames_corrupt", json_integer(cor ? cor->value_sum : 0));
    json_object_set_new(o, "file_bytes", json_integer((json_int_t)f->file_bytes));
    json_object_set_new(o, "frames_stored_bytes", json_integer((json_int_t)f->stored));
    json_object_set_new(o, "frames_raw_bytes", json_integer((json_int_t)f->raw));
    json_object_set_new(o, "compression_ratio",
                        f->stored ? json_real((double)f->raw / (double)f->stored) : json_null());
    json_object_set_new(o, "stored_share_of_raw",
                        f->raw ? json_real((double)f->stored / (double)f->raw) : json_null());
    json_object_set_new(o, "chunk_frames", json_integer((json_int_t)rm_session_chunk_frames(s)));
    json_object_set_new(o, "mask", json_boolean(rm_session_mask(s) != NULL));
    json_t *refs = json_array();
    for (size_t i = 0; i < rm_session_reference_count(s); i++) {
        const char *name, *units;
        rm_session_reference(s, i, &name, &units, NULL);
        json_t *r = json_object();
        json_object_set_new(r, "name", json_string(name));
        json_object_set_new(r, "units", json_string(units));
        json_array_append_new(refs, r);
    }
    json_object_set_new(o, "reference", refs);
    if (f->have_end) {
        json_t *e = json_object();
        json_object_set_new(e, "frames_corrupt", json_integer((json_int_t)f->end.frames_corrupt));
        json_object_set_new(e, "frames_truncated",
                            json_integer((json_int_t)f->end.frames_truncated));
        json_object_set_new(e, "frames_missing", json_integer((json_int_t)f->end.frames_missing));
        json_object_set_new(e, "garbage_bytes", json_integer((json_int_t)f->end.garbage_bytes));
        json_object_set_new(e, "status", json_string(rm_status_name(f->end.status)));
        json_object_set_new(o, "source_end", e);
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) {
        rm_cli_error(CMD, "out of memory");
        return RM_EXIT_FAIL;
    }
    puts(text);
    free(text);
    return RM_EXIT_OK;
}

int rm_cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no recording given");
    if (optind + 1 < argc)
        return rm_cli_usage_error(CMD, "one recording at a time ('%s' is extra)", argv[optind + 1]);
    const char *path = argv[optind];
    if (rm_cli_check_input(CMD, path))
        return RM_EXIT_FAIL;
    rm_session *s = NULL;
    rm_err err = {0};
    rm_status st = rm_session_open(path, &s, &err);
    if (st != RM_OK)
        return rm_cli_fail(CMD, &err, st);
    facts f;
    st = gather(s, path, &f, &err);
    if (st != RM_OK) {
        rm_session_close(s);
        return rm_cli_fail(CMD, &err, st);
    }
    int rc = RM_EXIT_OK;
    if (json)
        rc = print_json(s, path, &f);
    else
        print_text(s, path, &f);
    rm_session_close(s);
    if (fflush(stdout) != 0) {
        rm_cli_error(CMD, "cannot write to standard output");
        return RM_EXIT_FAIL;
    }
    return rc;
}

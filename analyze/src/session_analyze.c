/* session_analyze.c - the offline analysis of a recording: reads the
 * session file chunk by chunk (inflated ahead on a worker thread) and feeds
 * the streaming analysis; the recording is opened read-only. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_session.h"

/* Who rolled and when, the labels given afterwards, and what the stream
 * lost, so every output of the results can say it (rm_results.h). Frames
 * lost: the sequence gaps of the writer's totals at close (a corrupt frame
 * dropped is a gap too), or the gap events of a recording without totals
 * (killed writer), plus frames the host's ring dropped (overrun events). */
static void who_and_quality(const rm_session *s, const char *labels, rm_results *r)
{
    const rm_header *h = rm_session_header(s);
    if (h) {
        snprintf(r->title, sizeof r->title, "%s", h->title);
        snprintf(r->subject_id, sizeof r->subject_id, "%s", h->subject_id);
        snprintf(r->created, sizeof r->created, "%s", h->created);
    }
    snprintf(r->labels, sizeof r->labels, "%s", labels ? labels : "");
    int64_t gaps = 0, overrun = 0; /* overruns are lost on the host: no sequence gap */
    int32_t unplugs = 0;
    size_t nev = rm_session_event_count(s);
    for (size_t i = 0; i < nev; i++) {
        rm_event ev;
        if (rm_session_event(s, i, &ev) != RM_OK)
            continue;
        ev.kind[sizeof ev.kind - 1] = 0;
        if (!strcmp(ev.kind, RM_EVENT_GAP) && ev.value > 0)
            gaps += ev.value;
        else if (!strcmp(ev.kind, RM_EVENT_OVERRUN) && ev.value > 0)
            overrun += ev.value;
        else if (!strcmp(ev.kind, RM_EVENT_DISCONNECT))
            unplugs++;
    }
    rm_end end;
    r->frames_lost =
        (rm_session_end_totals(s, &end) == RM_OK ? (int64_t)end.frames_missing : gaps) + overrun;
    r->disconnects = unplugs;
}

rm_status rm_analyze_session(const char *path, const rm_analysis_config *cfg,
                             const rm_profile *profile, rm_results **out, rm_err *err)
{
    *out = NULL;
    if (!path)
        return rm_err_set(err, RM_ERR_ARG, "analyze: no recording given");
    rm_session *s = NULL;
    rm_status st = rm_session_open(path, &s, err);
    if (st != RM_OK)
        return st;
    rm_analysis_config c;
    if (cfg)
        c = *cfg;
    else
        rm_analysis_config_default(&c);
    const rm_header *hdr = rm_session_header(s);
    if (!(c.body_mass_kg > 0) && hdr && hdr->body_mass_kg > 0 && isfinite(hdr->body_mass_kg))
        c.body_mass_kg = hdr->body_mass_kg;
    const rm_device *dev = rm_session_device(s);
    rm_analysis *a = NULL;
    st = rm_analysis_new(&c, dev, rm_session_calib(s), rm_session_mask(s), &a, err);
    if (st != RM_OK) {
        if (err && !strstr(err->msg, path))
            rm_err_prefix(err, st, "%s", path);
        rm_session_close(s);
        return st;
    }
    size_t nev = rm_session_event_count(s);
    for (size_t i = 0; i < nev && st == RM_OK; i++) {
        rm_event ev;
        if (rm_session_event(s, i, &ev) != RM_OK)
            continue;
        ev.kind[sizeof ev.kind - 1] = 0;
        if (!strcmp(ev.kind, RM_EVENT_LABEL) && isfinite(ev.time_s)) {
            ev.text[sizeof ev.text - 1] = 0;
            st = rm_analysis_label(a, ev.time_s, ev.text, err);
        } else
            st = rm_analysis_event(a, ev.time_s, ev.kind, err);
    }
    rm_session_iter *it = NULL;
    if (st == RM_OK)
        st = rm_session_iter_new(s, 0, c.threads ? c.threads : 2, &it, err);
    const size_t fsz = (size_t)dev->rows * dev->cols;
    while (st == RM_OK) {
        rm_session_batch b;
        st = rm_session_iter_next(it, &b, err);
        if (st != RM_OK || b.n == 0)
            break;
        for (size_t i = 0; i < b.n && st == RM_OK; i++)
            st = rm_analysis_push(a, b.time_s[i], b.raw + i * fsz, NULL, err);
    }
    rm_session_iter_free(it);
    rm_results *r = NULL;
    if (st == RM_OK)
        st = rm_analysis_finish(a, profile, &r, err);
    if (st != RM_OK) {
        if (err && !strstr(err->msg, path))
            rm_err_prefix(err, st, "%s", path);
        rm_analysis_free(a);
        rm_session_close(s);
        return st;
    }
    const char *base = strrchr(path, '/');
    snprintf(r->source, sizeof r->source, "%s", base ? base + 1 : path);
    who_and_quality(s, c.labels, r);
    snprintf(r->recording_path, sizeof r->recording_path, "%s", path);
    rm_analysis_free(a);
    rm_session_close(s);
    *out = r;
    return RM_OK;
}

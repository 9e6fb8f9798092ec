/* session_analyze.c - the offline analysis of a recording: reads the
 * session file chunk by chunk (inflated ahead on a worker thread) and feeds
 * the streaming analysis; the recording is opened read-only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_session.h"

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
    snprintf(r->recording_path, sizeof r->recording_path, "%s", path);
    rm_analysis_free(a);
    rm_session_close(s);
    *out = r;
    return RM_OK;
}

/* import_session.c - an imported export written as a session file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_import.h"
#include "rm_session.h"

#define IMPORT_BATCH 256

static rm_status write_session(const rm_import_result *r, const char *in_path, const char *out_path,
                               int *created, rm_err *err)
{
    rm_calib *calib = NULL;
    rm_session_writer *w = NULL;
    uint16_t *raw = NULL;
    uint32_t *seq = NULL;
    uint16_t *flags = NULL;
    uint64_t *tdev = NULL;
    rm_status st = rm_import_result_calib(r, &calib);
    if (st != RM_OK)
        return rm_err_set(err, st, "%s: cannot build the identity calibration", in_path);
    rm_session_writer_options opt;
    memset(&opt, 0, sizeof opt);
    opt.deflate_level = -1;
    opt.swmr = 0; /* an import is written in one go: no live readers */
    st = rm_session_writer_create(out_path, &r->header, &r->device, calib, &opt, &w, err);
    rm_calib_free(calib);
    if (st != RM_OK)
        return st;
    *created = 1;
    size_t per = (size_t)r->device.rows * r->device.cols;
    int any_masked = 0;
    for (size_t i = 0; i < per; i++)
        if (!r->mask[i])
            any_masked = 1;
    if (any_masked && (st = rm_session_writer_set_mask(w, r->mask, err)) != RM_OK)
        goto out;
    for (size_t i = 0; i < r->n_refs; i++) {
        st = rm_session_writer_add_reference(w, r->refs[i].name, r->refs[i].units,
                                             r->refs[i].long_name, r->n_frames, r->refs[i].values,
                                             err);
        if (st != RM_OK)
            goto out;
    }
    if ((st = rm_session_writer_set_calib_note(w, r->calib_note, err)) != RM_OK)
        goto out;
    rm_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.kind, sizeof ev.kind, "%s", RM_EVENT_NOTE);
    {
        char base[64];
        const char *b = strrchr(in_path, '/');
        snprintf(base, sizeof base, "%s", b ? b + 1 : in_path);
        if (r->threshold > 0)
            snprintf(
                ev.text, sizeof ev.text, "imported %.40s (%s, %.15s, vendor threshold %g %.15s)",
                base, rm_import_format_name(r->format), r->units, r->threshold,
                r->format == RM_IMPORT_TEKSCAN || r->format == RM_IMPORT_TEKSCAN_CSV ? "raw"
                                                                                     : r->units);
        else
            snprintf(ev.text, sizeof ev.text, "imported %.60s (%s, %.15s)", base,
                     rm_import_format_name(r->format), r->units);
    }
    if ((st = rm_session_writer_add_event(w, &ev, err)) != RM_OK)
        goto out;
    raw = malloc(IMPORT_BATCH * per * sizeof *raw);
    seq = malloc(IMPORT_BATCH * sizeof *seq);
    flags = calloc(IMPORT_BATCH, sizeof *flags);
    tdev = malloc(IMPORT_BATCH * sizeof *tdev);
    if (!raw || !seq || !flags || !tdev) {
        st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", out_path);
        goto out;
    }
    for (size_t i = 0; i < r->n_frames; i += IMPORT_BATCH) {
        size_t n = r->n_frames - i < IMPORT_BATCH ? r->n_frames - i : IMPORT_BATCH;
        for (size_t k = 0; k < n; k++) {
            rm_import_result_frame_raw(r, i + k, raw + k * per);
            seq[k] = r->seq[i + k];
            tdev[k] = (uint64_t)llround(r->time_s[i + k] * 1e6);
        }
        st = rm_session_writer_append_batch(w, n, seq, flags, tdev, r->time_s + i, raw, err);
        if (st != RM_OK)
            goto out;
    }
out:
    free(raw);
    free(seq);
    free(flags);
    free(tdev);
    {
        rm_err e2 = {0};
        rm_status st2 = rm_session_writer_close(w, st == RM_OK ? err : &e2);
        if (st == RM_OK)
            st = st2;
    }
    return st;
}

rm_status rm_import_to_session_ex(const char *in_path, const char *out_path, rm_import_format fmt,
                                  const rm_import_options *opt, rm_import_result **info,
                                  rm_err *err)
{
    if (info)
        *info = NULL;
    if (!in_path || !out_path)
        return rm_err_set(err, RM_ERR_ARG, "import: input and output paths are required");
    if (access(out_path, F_OK) == 0)
        return rm_err_set(err, RM_ERR_IO, "%s: already exists (not overwritten)", out_path);
    rm_import_result *r = NULL;
    rm_status st = rm_import_read(in_path, fmt, opt, &r, err);
    if (st != RM_OK)
        return st;
    int created = 0;
    st = write_session(r, in_path, out_path, &created, err);
    if (st != RM_OK && created)
        unlink(out_path); /* a half-written import is no recording */
    if (st == RM_OK && info)
        *info = r;
    else
        rm_import_result_free(r);
    return st;
}

rm_status rm_import_to_session(const char *in_path, const char *out_path, rm_import_format fmt,
                               rm_err *err)
{
    return rm_import_to_session_ex(in_path, out_path, fmt, NULL, NULL, err);
}

/* fuzz_import_check.h - the invariants every importer fuzz target checks
 * (included by tests/fuzz/fuzz_import_*.c; abort() on a violation):
 * a parse either fails with a named error and no result, or yields a
 * bounded, finite, storable result that emits as a packet stream. */
#ifndef RM_FUZZ_IMPORT_CHECK_H
#define RM_FUZZ_IMPORT_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_import.h"

static rm_status fuzz_null_receive(void *ctx, const rm_packet *p, rm_err *err)
{
    (void)ctx;
    (void)err;
    if (p->type == RM_PKT_FRAME && !p->u.frame->raw)
        abort();
    return RM_OK;
}

static void fuzz_import_check(const uint8_t *data, size_t size, rm_import_format fmt)
{
    rm_err e = {0};
    rm_import_result *r = NULL;
    rm_status st = rm_import_parse_buffer(data, size, "fuzz", fmt, NULL, &r, &e);
    if (st != RM_OK) {
        if (r || strncmp(e.msg, "fuzz", 4) != 0)
            abort();
        return;
    }
    if (!r || r->n_frames == 0 || r->device.rows < 1 || r->device.cols < 1 ||
        r->device.rows > RM_IMPORT_MAX_DIM || r->device.cols > RM_IMPORT_MAX_DIM)
        abort();
    if (!(r->scale_kpa > 0) || !(r->device.rate_hz > 0) || !(r->device.row_pitch_mm > 0) ||
        r->max_kpa / r->scale_kpa > 65535.5)
        abort();
    size_t per = (size_t)r->device.rows * r->device.cols;
    for (size_t i = 0; i < r->n_frames * per; i++)
        if (!(r->kpa[i] >= 0 && r->kpa[i] <= r->max_kpa))
            abort();
    for (size_t i = 0; i < per; i++)
        if (r->mask[i] > 1)
            abort();
    for (size_t i = 1; i < r->n_frames; i++)
        if (!(r->time_s[i] >= r->time_s[i - 1]))
            abort();
    for (size_t k = 0; k < r->n_refs; k++)
        for (size_t i = 0; i < r->n_frames; i++)
            if (!isfinite(r->refs[k].values[i]))
                abort();
    rm_sink sink = {NULL, fuzz_null_receive, NULL};
    if (rm_import_emit(r, &sink, &e) != RM_OK)
        abort();
    rm_import_result_free(r);
}

#endif

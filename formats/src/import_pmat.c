/* import_pmat.c - PhysioNet "pmat" in-bed posture data set, experiment I.
 *
 * One frame per line: 2048 whitespace-separated raw values (a 64 x 32 map,
 * row-major, head end first), raw 0..1000 = 0..100 mmHg. The text files
 * carry no header: geometry, pitch and rate are the data set's documented
 * facts (docs/import.md states the source and the assumptions):
 * Vista Medical FSA SoftFlex 2048, 32 x 64 sensels, 1 inch (25.4 mm) pitch,
 * 1 Hz. */
#include <math.h>
#include <string.h>

#include "import_impl.h"

#define PMAT_ROWS        64
#define PMAT_COLS        32
#define PMAT_PITCH_MM    25.4
#define PMAT_RATE_HZ     1.0
#define PMAT_KPA_PER_RAW (0.1 * 0.133322) /* 1 raw unit = 0.1 mmHg */

rm_status imp_parse_pmat(imp_lines *l, rm_import_result *r, const rm_import_options *opt,
                         rm_err *err)
{
    const char *name = l->name;
    imp_fields fl = {0};
    rm_status st;
    char *line;
    size_t len;
    int rc;
    snprintf(r->units, sizeof r->units, "0.1mmHg");
    r->unit_kpa = PMAT_KPA_PER_RAW;
    r->calibrated = 1;
    if ((st = imp_result_geometry(r, name, 0, PMAT_ROWS, PMAT_COLS, err)) != RM_OK)
        return st;
    const size_t per = PMAT_ROWS * PMAT_COLS;
    while ((rc = imp_lines_next(l, &line, &len, err)) > 0) {
        if (imp_is_blank(line))
            continue;
        if ((st = imp_split_ws(&fl, line)) != RM_OK) {
            rm_err_set(err, st, "%s: out of memory", name);
            goto out;
        }
        if (fl.n != per) {
            st = rm_err_set(err, RM_ERR_LENGTH, "%s: line %zu: expected %zu values, found %zu",
                            name, l->lineno, per, fl.n);
            goto out;
        }
        float *values;
        if ((st = imp_result_add_frame(r, name, l->lineno, (uint32_t)r->n_frames, 0, &values,
                                       err)) != RM_OK)
            goto out;
        for (size_t i = 0; i < per; i++)
            if ((st = imp_store_field(r, values, i, fl.v[i], name, l->lineno, i + 1, err)) != RM_OK)
                goto out;
    }
    if (rc < 0) {
        st = (rm_status)rc;
        goto out;
    }
    if (!r->n_frames) {
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: no frames (empty input)", name);
        goto out;
    }
    r->device.row_pitch_mm = PMAT_PITCH_MM;
    r->device.col_pitch_mm = PMAT_PITCH_MM;
    r->device.rate_hz = PMAT_RATE_HZ;
    snprintf(r->device.model, sizeof r->device.model, "Vista FSA 2048");
    st = imp_result_finish(r, name, opt, 0, err);
out:
    imp_fields_free(&fl);
    return st;
}

int imp_detect_pmat(const char *buf, size_t len, const char *name)
{
    /* The first line: exactly 2048 whitespace-separated numbers. */
    (void)name;
    imp_walk w;
    const char *ln;
    size_t n, count = 0;
    int in_tok = 0;
    imp_walk_init(&w, buf, len, RM_IMPORT_DETECT_BYTES);
    if (!imp_walk_next(&w, &ln, &n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = ln[i];
        if (c == ' ' || c == '\t') {
            in_tok = 0;
        } else if ((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' ||
                   c == 'E') {
            count += !in_tok;
            in_tok = 1;
        } else {
            return 0;
        }
    }
    if (w.unterminated && len >= RM_IMPORT_DETECT_BYTES)
        return 0; /* the line did not fit: not pmat */
    return count == PMAT_ROWS * PMAT_COLS;
}

/* calib.c - the calibration model (rm_calib.h). */
#include "rm_calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

rm_status rm_calib_new(uint16_t rows, uint16_t cols, rm_calib **out)
{
    if (!out || rows < 1 || cols < 1 || rows > RM_MAX_DIM || cols > RM_MAX_DIM)
        return RM_ERR_ARG;
    rm_calib *c = calloc(1, sizeof *c);
    if (!c)
        return RM_ERR_NOMEM;
    size_t n = (size_t)rows * cols;
    c->rows = rows;
    c->cols = cols;
    c->zero = calloc(n, sizeof *c->zero);
    c->gain = malloc(n * sizeof *c->gain);
    if (!c->zero || !c->gain) {
        rm_calib_free(c);
        return RM_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        c->gain[i] = 1.0f;
    *out = c;
    return RM_OK;
}

void rm_calib_free(rm_calib *calib)
{
    if (!calib)
        return;
    free(calib->zero);
    free(calib->gain);
    free(calib);
}

rm_status rm_calib_copy(const rm_calib *src, rm_calib **out)
{
    rm_calib *c;
    rm_status st = rm_calib_new(src->rows, src->cols, &c);
    if (st)
        return st;
    size_t n = (size_t)src->rows * src->cols;
    c->n_knots = src->n_knots;
    memcpy(c->knot_raw, src->knot_raw, sizeof c->knot_raw);
    memcpy(c->knot_kpa, src->knot_kpa, sizeof c->knot_kpa);
    memcpy(c->zero, src->zero, n * sizeof *c->zero);
    memcpy(c->gain, src->gain, n * sizeof *c->gain);
    *out = c;
    return RM_OK;
}

rm_status rm_calib_validate(const rm_calib *c, rm_err *err)
{
    if (!c)
        return rm_err_set(err, RM_ERR_ARG, "calibration: NULL");
    if (c->n_knots < RM_CALIB_MIN_KNOTS || c->n_knots > RM_CALIB_MAX_KNOTS)
        return rm_err_set(err, RM_ERR_RANGE, "calibration: %u knots, expected 2..64", c->n_knots);
    for (unsigned k = 0; k < c->n_knots; k++) {
        if (!isfinite(c->knot_raw[k]) || !isfinite(c->knot_kpa[k]))
            return rm_err_set(err, RM_ERR_VALUE, "calibration: knot %u is not finite", k);
        if (k > 0 && !(c->knot_raw[k] > c->knot_raw[k - 1]))
            return rm_err_set(err, RM_ERR_VALUE,
                              "calibration: knot_raw not strictly increasing at knot %u", k);
        if (k > 0 && c->knot_kpa[k] < c->knot_kpa[k - 1])
            return rm_err_set(err, RM_ERR_VALUE, "calibration: knot_kpa decreasing at knot %u", k);
    }
    if (c->knot_kpa[0] != 0.0f)
        return rm_err_set(err, RM_ERR_VALUE, "calibration: knot_kpa[0] is %g, expected 0",
                          (double)c->knot_kpa[0]);
    size_t n = (size_t)c->rows * c->cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(c->gain[i]) || c->gain[i] < 0)
            return rm_err_set(err, RM_ERR_VALUE, "calibration: gain of sensel (%zu, %zu) is %g",
                              i / c->cols, i % c->cols, (double)c->gain[i]);
    return RM_OK;
}

float rm_calib_curve(const rm_calib *c, float x)
{
    const float *kr = c->knot_raw, *kp = c->knot_kpa;
    unsigned n = c->n_knots;
    if (n == 0 || !(x > kr[0]))
        return n ? kp[0] : 0.0f;
    if (x >= kr[n - 1])
        return kp[n - 1];
    /* Few knots: a linear scan beats a binary search in practice. */
    unsigned k = 1;
    while (x > kr[k])
        k++;
    float t = (x - kr[k - 1]) / (kr[k] - kr[k - 1]);
    return kp[k - 1] + t * (kp[k] - kp[k - 1]);
}

void rm_calib_pressure(const rm_calib *c, const uint16_t *raw, float *kpa)
{
    size_t n = (size_t)c->rows * c->cols;
    for (size_t i = 0; i < n; i++) {
        int d = (int)raw[i] - (int)c->zero[i];
        kpa[i] = c->gain[i] * rm_calib_curve(c, d > 0 ? (float)d : 0.0f);
    }
}

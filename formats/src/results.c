/* results.c - the results file (HDF5) and its JSON summary: model, writer,
 * reader. Layout: rm_results.h and docs/metrics.md. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_filekind.h"
#include "rm_results.h"
#include "rm_safefile.h"
#include "session_h5.h"

static const char *const series_names[RM_SERIES_COUNT] = {
    "time",           "force_n",         "area_cm2",        "peak_kpa",
    "cop_x_cm",       "cop_y_cm",        "roller_x_cm",     "roller_y_cm",
    "roller_force_n", "roller_area_cm2", "roller_peak_kpa", "speed_cm_s",
};
static const char *const series_units[RM_SERIES_COUNT] = {
    "s", "N", "cm2", "kPa", "cm", "cm", "cm", "cm", "N", "cm2", "kPa", "cm/s",
};
static const char *const series_long[RM_SERIES_COUNT] = {
    "time since the first frame",
    "total force on the mat",
    "contact area (loaded sensels)",
    "peak pressure",
    "centre of pressure along the mat",
    "centre of pressure across the mat",
    "roller position along the mat",
    "roller load centre across the mat",
    "force through the roller",
    "roller contact area",
    "roller peak pressure",
    "roller speed (zero-phase low-pass, signed)",
};

const char *rm_series_name(rm_series_id id)
{
    return (id >= 0 && id < RM_SERIES_COUNT) ? series_names[id] : NULL;
}

const char *rm_series_units(rm_series_id id)
{
    return (id >= 0 && id < RM_SERIES_COUNT) ? series_units[id] : NULL;
}

int rm_series_lookup(const char *name)
{
    for (int i = 0; name && i < RM_SERIES_COUNT; i++)
        if (!strcmp(name, series_names[i]))
            return i;
    return -1;
}

/* ---- the segment-column table (rm_results.h) ---- */

/* The kind must match the field's C type: checked at compile time below. */
#define RM_SEGCOL_ROW(field, unit, kind)                                                           \
    {#field, unit, offsetof(rm_segment_result, field), sizeof(((rm_segment_result *)0)->field),    \
     RM_SEGCOL_##kind},
static const rm_segment_column segment_columns[] = {RM_SEGMENT_COLUMNS(RM_SEGCOL_ROW)};
#undef RM_SEGCOL_ROW

#define SEGCOL_CHECK(field, unit, kind) SEGCOL_CHECK_##kind(field)
#define SEGCOL_CHECK_INT32(f)           SEGCOL_CHECK_NUM(f, int32_t)
#define SEGCOL_CHECK_FLOAT(f)           SEGCOL_CHECK_NUM(f, float)
#define SEGCOL_CHECK_DOUBLE(f)          SEGCOL_CHECK_NUM(f, double)
#define SEGCOL_CHECK_VERDICT(f)         SEGCOL_CHECK_NUM(f, int8_t)
#define SEGCOL_CHECK_NUM(f, type)                                                                  \
    _Static_assert(_Generic(((rm_segment_result *)0)->f, type : 1, default : 0),                   \
                   "segment column " #f ": kind does not match its C type");
#define SEGCOL_CHECK_TEXT(f)                                                                       \
    _Static_assert(_Generic(&((rm_segment_result *)0)->f[0], char * : 1, default : 0),             \
                   "segment column " #f ": TEXT needs a char array");
RM_SEGMENT_COLUMNS(SEGCOL_CHECK)

const rm_segment_column *rm_segment_columns(size_t *n)
{
    if (n)
        *n = sizeof segment_columns / sizeof segment_columns[0];
    return segment_columns;
}

const rm_segment_column *rm_segment_column_find(const char *name)
{
    size_t n;
    const rm_segment_column *c = rm_segment_columns(&n);
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(c[i].name, name))
            return &c[i];
    return NULL;
}

double rm_segment_value(const rm_segment_result *s, const rm_segment_column *c)
{
    const char *p = (const char *)s + c->offset;
    switch (c->kind) {
    case RM_SEGCOL_INT32: {
        int32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case RM_SEGCOL_FLOAT: {
        float v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case RM_SEGCOL_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case RM_SEGCOL_VERDICT: return (int8_t)*p;
    case RM_SEGCOL_TEXT: break;
    }
    return NAN;
}

const char *rm_segment_text(const rm_segment_result *s, const rm_segment_column *c)
{
    return c->kind == RM_SEGCOL_TEXT ? (const char *)s + c->offset : NULL;
}

const char *rm_verdict_name(int v)
{
    switch (v) {
    case RM_VERDICT_BELOW: return "below";
    case RM_VERDICT_INSIDE: return "inside";
    case RM_VERDICT_ABOVE: return "above";
    default: return NULL;
    }
}

rm_results *rm_results_new(void)
{
    rm_results *r = calloc(1, sizeof(rm_results));
    if (r)
        r->frames_lost = -1; /* unknown until an analysis of a recording says */
    return r;
}

void rm_results_free(rm_results *r)
{
    if (!r)
        return;
    for (int s = 0; s < RM_SERIES_COUNT; s++)
        free(r->series[s]);
    free(r->state);
    free(r->strokes);
    free(r->holds);
    free(r->spots);
    free(r->segments);
    free(r->map_mean_kpa);
    free(r->map_peak_kpa);
    free(r->map_contact_s);
    free(r->seg_mean_kpa);
    free(r->seg_peak_kpa);
    free(r->seg_contact_s);
    free(r->freq_hz);
    free(r->position_psd);
    free(r->force_psd);
    free(r);
}

/* ---- HDF5 helpers (attributes and errors: session_h5.h) ---- */

/* A float32 (or uint8) dataset of rank 1..3, chunked and deflated when it
 * is big enough to matter. */
static int write_ds(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                    const hsize_t *dims, const void *data, const char *units, const char *lname)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    if (total >= 4096) {
        hsize_t chunk[3];
        for (int i = 0; i < rank; i++)
            chunk[i] = dims[i];
        if (rank == 1 && chunk[0] > 65536)
            chunk[0] = 65536;
        if (rank == 3)
            chunk[0] = 1;
        H5Pset_chunk(dcpl, rank, chunk);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        rc = (total == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0 : -1;
        if (rc == 0 && units)
            rc = h5x_attr_str(d, "units", units);
        if (rc == 0 && lname)
            rc = h5x_attr_str(d, "long_name", lname);
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(sp);
    return rc;
}

/* Compound types of the tables: memory layout of the C structs; the file
 * type is the packed copy. */
static hid_t str_type(size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, n);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    return t;
}

static hid_t stroke_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rm_stroke));
    H5Tinsert(t, "start_s", HOFFSET(rm_stroke, start_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "end_s", HOFFSET(rm_stroke, end_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "from_x_cm", HOFFSET(rm_stroke, from_x_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "to_x_cm", HOFFSET(rm_stroke, to_x_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "length_cm", HOFFSET(rm_stroke, length_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "mean_speed_cm_s", HOFFSET(rm_stroke, mean_speed_cm_s), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "peak_speed_cm_s", HOFFSET(rm_stroke, peak_speed_cm_s), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "mean_force_n", HOFFSET(rm_stroke, mean_force_n), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "segment", HOFFSET(rm_stroke, segment), H5T_NATIVE_INT32);
    return t;
}

static hid_t hold_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rm_hold));
    H5Tinsert(t, "start_s", HOFFSET(rm_hold, start_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "end_s", HOFFSET(rm_hold, end_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "x_cm", HOFFSET(rm_hold, x_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "mean_force_n", HOFFSET(rm_hold, mean_force_n), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "segment", HOFFSET(rm_hold, segment), H5T_NATIVE_INT32);
    return t;
}

static hid_t spot_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rm_spot));
    H5Tinsert(t, "start_s", HOFFSET(rm_spot, start_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "end_s", HOFFSET(rm_spot, end_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "x_cm", HOFFSET(rm_spot, x_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "y_cm", HOFFSET(rm_spot, y_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "mean_force_n", HOFFSET(rm_spot, mean_force_n), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "force_cv", HOFFSET(rm_spot, force_cv), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "circle_cm", HOFFSET(rm_spot, circle_cm), H5T_NATIVE_FLOAT);
    H5Tinsert(t, "segment", HOFFSET(rm_spot, segment), H5T_NATIVE_INT32);
    return t;
}

/* The /segments compound, member by member from the segment-column table
 * (rm_results.h). */
static hid_t segment_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rm_segment_result));
    size_t n;
    const rm_segment_column *col = rm_segment_columns(&n);
    for (size_t i = 0; i < n; i++) {
        const rm_segment_column *c = &col[i];
        hid_t mt = -1;
        switch (c->kind) {
        case RM_SEGCOL_INT32: mt = H5T_NATIVE_INT32; break;
        case RM_SEGCOL_FLOAT: mt = H5T_NATIVE_FLOAT; break;
        case RM_SEGCOL_DOUBLE: mt = H5T_NATIVE_DOUBLE; break;
        case RM_SEGCOL_VERDICT: mt = H5T_NATIVE_INT8; break;
        case RM_SEGCOL_TEXT: mt = str_type(c->size); break;
        }
        H5Tinsert(t, c->name, c->offset, mt);
        if (c->kind == RM_SEGCOL_TEXT)
            H5Tclose(mt);
    }
    return t;
}

static int write_table(hid_t f, const char *name, hid_t mtype, size_t n, const void *rows)
{
    hid_t ft = H5Tcopy(mtype);
    H5Tpack(ft);
    hsize_t dims[1] = {n}, maxd[1] = {H5S_UNLIMITED}, chunk[1] = {256};
    hid_t sp = H5Screate_simple(1, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    H5Pset_deflate(dcpl, 1);
    hid_t d = H5Dcreate2(f, name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        rc = (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0) ? 0 : -1;
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Tclose(ft);
    return rc;
}

/* The recording's path as the external link should hold it: relative to
 * the results file's folder when it lives in the same folder, else
 * absolute. */
static void link_target(const char *results_path, const char *rec, char *out, size_t cap)
{
    char a[PATH_MAX], b[PATH_MAX];
    char *rp = realpath(rec, a);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", results_path);
    char *dir = dirname(tmp);
    char *dp = realpath(dir, b);
    if (rp && dp) {
        size_t dl = strlen(dp);
        if (!strncmp(rp, dp, dl) && rp[dl] == '/' && !strchr(rp + dl + 1, '/')) {
            snprintf(out, cap, "%s", rp + dl + 1);
            return;
        }
        snprintf(out, cap, "%s", rp);
        return;
    }
    snprintf(out, cap, "%s", rec);
}

static int write_series_group(hid_t f, const rm_results *r)
{
    hid_t g = H5Gcreate2(f, "series", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    hsize_t dims[1] = {r->n_frames};
    int rc = h5x_attr_double(g, "rate_hz", r->rate_hz);
    for (int s = 0; rc == 0 && s < RM_SERIES_COUNT; s++)
        rc = write_ds(g, series_names[s], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dims, r->series[s],
                      series_units[s], series_long[s]);
    if (rc == 0)
        rc = write_ds(g, "state", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, dims, r->state, "1",
                      "0 unloaded, 1 rolling, 2 holding");
    H5Gclose(g);
    return rc;
}

static int write_maps(hid_t f, const rm_results *r)
{
    hid_t g = H5Gcreate2(f, "maps", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    hsize_t d2[2] = {r->rows, r->cols}, d3[3] = {r->n_segments, r->rows, r->cols};
    int rc = h5x_attr_double(g, "row_pitch_cm", r->row_pitch_cm);
    rc = rc ? rc : h5x_attr_double(g, "col_pitch_cm", r->col_pitch_cm);
    rc = rc ? rc
            : write_ds(g, "mean_kpa", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, r->map_mean_kpa,
                       "kPa", "mean pressure over the recording");
    rc = rc ? rc
            : write_ds(g, "peak_kpa", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, r->map_peak_kpa,
                       "kPa", "peak pressure over the recording");
    rc = rc ? rc
            : write_ds(g, "contact_s", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, r->map_contact_s,
                       "s", "time loaded over the recording");
    rc = rc ? rc
            : write_ds(g, "segment_mean_kpa", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3,
                       r->seg_mean_kpa, "kPa", "mean pressure per segment");
    rc = rc ? rc
            : write_ds(g, "segment_peak_kpa", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3,
                       r->seg_peak_kpa, "kPa", "peak pressure per segment");
    rc = rc ? rc
            : write_ds(g, "segment_contact_s", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3,
                       r->seg_contact_s, "s", "time loaded per segment");
    H5Gclose(g);
    return rc;
}

static int write_spectra(hid_t f, const rm_results *r)
{
    hid_t g = H5Gcreate2(f, "spectra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    hsize_t d[1] = {r->n_freq};
    int rc = write_ds(g, "freq_hz", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, r->freq_hz, "Hz",
                      "frequency");
    rc = rc ? rc
            : write_ds(g, "position_psd", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, r->position_psd,
                       "cm2/Hz", "Welch PSD of roller x while rolling");
    rc = rc ? rc
            : write_ds(g, "force_psd", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, r->force_psd,
                       "N2/Hz", "Welch PSD of roller force while loaded");
    H5Gclose(g);
    return rc;
}

static int write_totals(hid_t f, const rm_results *r)
{
    hid_t d = H5Dopen2(f, "segments", H5P_DEFAULT);
    if (d < 0)
        return -1;
    const rm_session_totals *T = &r->totals;
    int rc = h5x_attr_double(d, "duration_s", T->duration_s);
    rc = rc ? rc : h5x_attr_double(d, "rolling_s", T->rolling_s);
    rc = rc ? rc : h5x_attr_double(d, "holding_s", T->holding_s);
    rc = rc ? rc : h5x_attr_double(d, "loaded_s", T->loaded_s);
    rc = rc ? rc : h5x_attr_int(d, "strokes", T->strokes);
    rc = rc ? rc : h5x_attr_int(d, "holds", T->holds);
    rc = rc ? rc : h5x_attr_int(d, "segments", T->segments);
    rc = rc ? rc : h5x_attr_double(d, "mean_speed_cm_s", T->mean_speed_cm_s);
    rc = rc ? rc : h5x_attr_double(d, "cadence_cpm", T->cadence_cpm);
    rc = rc ? rc : h5x_attr_double(d, "mean_force_n", T->mean_force_n);
    rc = rc ? rc : h5x_attr_double(d, "peak_kpa", T->peak_kpa);
    rc = rc ? rc : h5x_attr_double(d, "score", T->score);
    rc = rc ? rc : h5x_attr_int(d, "total_verdict", T->total_verdict);
    rc = rc ? rc : h5x_attr_int(d, "roller_found", T->roller_found);
    rc = rc ? rc : h5x_attr_int(d, "hot_sensels", T->hot_sensels);
    rc = rc ? rc : h5x_attr_int(d, "dead_sensels", T->dead_sensels);
    rc = rc ? rc : h5x_attr_int(d, "frames_lost", T->frames_lost);
    rc = rc ? rc : h5x_attr_int(d, "gaps", T->gaps);
    rc = rc ? rc : h5x_attr_int(d, "disconnects", T->disconnects);
    rc = rc ? rc : h5x_attr_double(d, "body_mass_kg", r->body_mass_kg);
    rc = rc ? rc : h5x_attr_str(d, "comment", T->comment);
    H5Dclose(d);
    return rc;
}

static rm_status check_model(const rm_results *r, rm_err *err)
{
    if (r->rows < 1 || r->cols < 1)
        return rm_err_set(err, RM_ERR_ARG, "results: no mat geometry");
    for (int s = 0; s < RM_SERIES_COUNT; s++)
        if (r->n_frames && !r->series[s])
            return rm_err_set(err, RM_ERR_ARG, "results: series %s missing", series_names[s]);
    if ((r->n_frames && !r->state) || !r->map_mean_kpa || !r->map_peak_kpa || !r->map_contact_s ||
        (r->n_segments &&
         (!r->segments || !r->seg_mean_kpa || !r->seg_peak_kpa || !r->seg_contact_s)) ||
        (r->n_strokes && !r->strokes) || (r->n_holds && !r->holds) ||
        (r->n_freq && (!r->freq_hz || !r->position_psd || !r->force_psd)))
        return rm_err_set(err, RM_ERR_ARG, "results: incomplete results object");
    return RM_OK;
}

rm_status rm_results_write(const char *path, const rm_results *r, rm_err *err)
{
    if (!path || !r)
        return rm_err_set(err, RM_ERR_ARG, "results: no path or results");
    rm_status st = check_model(r, err);
    if (st != RM_OK)
        return st;
    char tmp[PATH_MAX];
    if ((st = rm_safefile_temp_name(path, tmp, sizeof tmp, err)) != RM_OK)
        return st;
    h5x_quiet();
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t f = H5Fcreate(tmp, H5F_ACC_EXCL, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (f < 0) {
        rm_safefile_temp_discard(tmp); /* forgets the name; nothing was created */
        return h5x_fail(err, RM_ERR_IO, "%s: cannot create the results file", tmp);
    }
    const char *step = "root attributes";
    int rc = h5x_attr_str(f, "conventions", RM_RESULTS_CONVENTIONS);
    rc = rc ? rc : h5x_attr_str(f, "source", r->source);
    rc = rc ? rc : h5x_attr_str(f, "profile", r->profile);
    rc = rc ? rc : h5x_attr_str(f, "software", r->software);
    rc = rc ? rc : h5x_attr_str(f, "title", r->title);
    rc = rc ? rc : h5x_attr_str(f, "subject_id", r->subject_id);
    rc = rc ? rc : h5x_attr_str(f, "created", r->created);
    rc = rc ? rc : h5x_attr_str(f, "labels", r->labels);
    rc = rc ? rc : h5x_attr_num(f, "frames_lost", H5T_NATIVE_INT64, &r->frames_lost);
    rc = rc ? rc : h5x_attr_int(f, "disconnects", r->disconnects);
    if (!rc && r->recording_path[0]) {
        step = "external link /recording";
        char target[PATH_MAX];
        link_target(path, r->recording_path, target, sizeof target);
        rc = H5Lcreate_external(target, "/", f, "recording", H5P_DEFAULT, H5P_DEFAULT) < 0 ? -1 : 0;
    }
    if (!rc) {
        step = "/series";
        rc = write_series_group(f, r);
    }
    if (!rc) {
        step = "/strokes";
        hid_t t = stroke_type();
        rc = write_table(f, "strokes", t, r->n_strokes, r->strokes);
        H5Tclose(t);
    }
    if (!rc) {
        step = "/holds";
        hid_t t = hold_type();
        rc = write_table(f, "holds", t, r->n_holds, r->holds);
        H5Tclose(t);
    }
    if (!rc) {
        step = "/spots";
        hid_t t = spot_type();
        rc = write_table(f, "spots", t, r->n_spots, r->spots);
        H5Tclose(t);
    }
    if (!rc) {
        step = "/segments";
        hid_t t = segment_type();
        rc = write_table(f, "segments", t, r->n_segments, r->segments);
        H5Tclose(t);
        rc = rc ? rc : write_totals(f, r);
    }
    if (!rc) {
        step = "/maps";
        rc = write_maps(f, r);
    }
    if (!rc) {
        step = "/spectra";
        rc = write_spectra(f, r);
    }
    if (rc) {
        st = h5x_fail(err, RM_ERR_HDF5, "%s: %s", tmp, step);
        H5Fclose(f);
        rm_safefile_temp_discard(tmp);
        return st;
    }
    if (H5Fclose(f) < 0) {
        st = h5x_fail(err, RM_ERR_IO, "%s: closing", tmp);
        rm_safefile_temp_discard(tmp);
        return st;
    }
    return rm_safefile_publish(tmp, path, err);
}

/* ---- JSON ---- */

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *jverdict(int v)
{
    const char *s = rm_verdict_name(v);
    return s ? json_string(s) : json_null();
}

/* One "segments" object: the segment-column table's rows, in order. */
static json_t *segment_json(const rm_segment_result *s)
{
    json_t *o = json_object();
    size_t n;
    const rm_segment_column *col = rm_segment_columns(&n);
    for (size_t i = 0; i < n; i++) {
        const rm_segment_column *c = &col[i];
        json_t *v = NULL;
        switch (c->kind) {
        case RM_SEGCOL_INT32: v = json_integer((json_int_t)rm_segment_value(s, c)); break;
        case RM_SEGCOL_FLOAT:
        case RM_SEGCOL_DOUBLE: v = jnum(rm_segment_value(s, c)); break;
        case RM_SEGCOL_VERDICT: v = jverdict((int)rm_segment_value(s, c)); break;
        case RM_SEGCOL_TEXT: v = json_string(rm_segment_text(s, c)); break;
        }
        json_object_set_new(o, c->name, v);
    }
    return o;
}

rm_status rm_results_json(const rm_results *r, char **out, rm_err *err)
{
    *out = NULL;
    json_t *root = json_object();
    json_object_set_new(root, "conventions", json_string(RM_RESULTS_CONVENTIONS));
    json_object_set_new(root, "source", json_string(r->source));
    json_object_set_new(root, "profile", json_string(r->profile));
    json_object_set_new(root, "software", json_string(r->software));
    json_t *rec = json_object(); /* who and when, and the recording's data quality */
    json_object_set_new(rec, "title", json_string(r->title));
    json_object_set_new(rec, "subject_id", json_string(r->subject_id));
    json_object_set_new(rec, "body_mass_kg",
                        r->body_mass_kg > 0 ? json_real(r->body_mass_kg) : json_null());
    json_object_set_new(rec, "created", json_string(r->created));
    json_object_set_new(rec, "labels", json_string(r->labels));
    json_object_set_new(rec, "frames_lost",
                        r->frames_lost >= 0 ? json_integer(r->frames_lost) : json_null());
    json_object_set_new(rec, "disconnects", json_integer(r->disconnects));
    json_object_set_new(rec, "sensels_excluded",
                        json_integer(r->totals.hot_sensels + r->totals.dead_sensels));
    json_object_set_new(root, "recording", rec);
    json_t *ses = json_object();
    const rm_session_totals *T = &r->totals;
    json_object_set_new(ses, "duration_s", jnum(T->duration_s));
    json_object_set_new(ses, "rolling_s", jnum(T->rolling_s));
    json_object_set_new(ses, "holding_s", jnum(T->holding_s));
    json_object_set_new(ses, "loaded_s", jnum(T->loaded_s));
    json_object_set_new(ses, "strokes", json_integer(T->strokes));
    json_object_set_new(ses, "holds", json_integer(T->holds));
    json_object_set_new(ses, "segments", json_integer(T->segments));
    json_object_set_new(ses, "mean_speed_cm_s", jnum(T->mean_speed_cm_s));
    json_object_set_new(ses, "cadence_cpm", jnum(T->cadence_cpm));
    json_object_set_new(ses, "mean_force_n", jnum(T->mean_force_n));
    json_object_set_new(ses, "peak_kpa", jnum(T->peak_kpa));
    json_object_set_new(ses, "score", jnum(T->score));
    json_object_set_new(ses, "total_verdict", jverdict(T->total_verdict));
    json_object_set_new(ses, "roller_found", json_boolean(T->roller_found));
    json_object_set_new(ses, "hot_sensels", json_integer(T->hot_sensels));
    json_object_set_new(ses, "dead_sensels", json_integer(T->dead_sensels));
    json_object_set_new(ses, "frames_lost", json_integer(T->frames_lost));
    json_object_set_new(ses, "gaps", json_integer(T->gaps));
    json_object_set_new(ses, "disconnects", json_integer(T->disconnects));
    json_object_set_new(ses, "body_mass_kg",
                        r->body_mass_kg > 0 ? json_real(r->body_mass_kg) : json_null());
    json_object_set_new(ses, "frames", json_integer((json_int_t)r->n_frames));
    json_object_set_new(ses, "comment", json_string(T->comment));
    json_object_set_new(root, "session", ses);
    json_t *segs = json_array();
    for (size_t k = 0; k < r->n_segments; k++) {
        json_t *so = segment_json(&r->segments[k]);
        json_t *spots = json_array();
        for (size_t i = 0; i < r->n_spots; i++) {
            const rm_spot *p = &r->spots[i];
            if (p->segment != (int32_t)k)
                continue;
            json_t *o = json_object();
            json_object_set_new(o, "x_cm", jnum(p->x_cm));
            json_object_set_new(o, "y_cm", jnum(p->y_cm));
            json_object_set_new(o, "start_s", jnum(p->start_s));
            json_object_set_new(o, "end_s", jnum(p->end_s));
            json_object_set_new(o, "mean_force_n", jnum(p->mean_force_n));
            json_object_set_new(o, "force_cv", jnum(p->force_cv));
            json_object_set_new(o, "circle_cm", jnum(p->circle_cm));
            json_array_append_new(spots, o);
        }
        json_object_set_new(so, "spots", spots);
        json_array_append_new(segs, so);
    }
    json_object_set_new(root, "segments", segs);
    json_t *holds = json_array();
    for (size_t k = 0; k < r->n_holds; k++) {
        json_t *h = json_object();
        json_object_set_new(h, "start_s", jnum(r->holds[k].start_s));
        json_object_set_new(h, "end_s", jnum(r->holds[k].end_s));
        json_object_set_new(h, "x_cm", jnum(r->holds[k].x_cm));
        json_object_set_new(h, "mean_force_n", jnum(r->holds[k].mean_force_n));
        json_object_set_new(h, "segment", json_integer(r->holds[k].segment));
        json_array_append_new(holds, h);
    }
    json_object_set_new(root, "holds", holds);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!s)
        return rm_err_set(err, RM_ERR_NOMEM, "results: cannot format the JSON summary");
    *out = s;
    return RM_OK;
}

rm_status rm_results_write_json(const char *path, const rm_results *r, rm_err *err)
{
    char *s = NULL;
    rm_status st = rm_results_json(r, &s, err);
    if (st != RM_OK)
        return st;
    rm_safefile sf;
    if ((st = rm_safefile_open(path, &sf, err)) == RM_OK) {
        fputs(s, sf.f); /* a write error fails the commit, naming errno */
        fputc('\n', sf.f);
        st = rm_safefile_commit(&sf, err);
    }
    free(s);
    return st;
}

/* ---- reader ---- */

/* Reads a dataset of exactly `rank` dims equal to `dims` as `mtype`. */
static rm_status read_ds(hid_t loc, const char *name, const char *path, int rank,
                         const hsize_t *dims, hid_t mtype, void **out, size_t esize, rm_err *err)
{
    *out = NULL;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: %s is missing", path, name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return h5x_fail(err, RM_ERR_FORMAT, "%s: %s", path, name);
    hid_t sp = H5Dget_space(d);
    hid_t ft = H5Dget_type(d);
    hsize_t got[8];
    int rk = H5Sget_simple_extent_ndims(sp);
    rm_status st = RM_OK;
    if (rk != rank)
        st = rm_err_set(err, RM_ERR_TYPE, "%s: %s has %d dimensions, expected %d", path, name, rk,
                        rank);
    else {
        H5Sget_simple_extent_dims(sp, got, NULL);
        for (int i = 0; i < rank && st == RM_OK; i++)
            if (got[i] != dims[i])
                st = rm_err_set(err, RM_ERR_LENGTH, "%s: %s dimension %d is %llu, expected %llu",
                                path, name, i, (unsigned long long)got[i],
                                (unsigned long long)dims[i]);
    }
    H5T_class_t cl = H5Tget_class(ft);
    if (st == RM_OK && cl != H5T_FLOAT && cl != H5T_INTEGER)
        st = rm_err_set(err, RM_ERR_TYPE, "%s: %s is not numeric", path, name);
    if (st == RM_OK) {
        size_t total = 1;
        for (int i = 0; i < rank; i++)
            total *= (size_t)dims[i];
        void *buf = malloc((total ? total : 1) * esize);
        if (!buf)
            st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory reading %s", path, name);
        else if (total && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            st = h5x_fail(err, RM_ERR_HDF5, "%s: %s", path, name);
        } else
            *out = buf;
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    return st;
}

static rm_status read_table(hid_t f, const char *name, const char *path, hid_t mtype, size_t esize,
                            void **out, size_t *n, rm_err *err)
{
    *out = NULL;
    *n = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: /%s is missing", path, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return h5x_fail(err, RM_ERR_FORMAT, "%s: %s", path, name);
    hid_t sp = H5Dget_space(d);
    hid_t ft = H5Dget_type(d);
    rm_status st = RM_OK;
    hsize_t dims[1] = {0};
    if (H5Sget_simple_extent_ndims(sp) != 1 || H5Tget_class(ft) != H5T_COMPOUND)
        st = rm_err_set(err, RM_ERR_TYPE, "%s: /%s is not a one-dimensional table", path, name);
    else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        void *buf = calloc(dims[0] ? dims[0] : 1, esize);
        if (!buf)
            st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory reading /%s", path, name);
        else if (dims[0] && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            st = h5x_fail(err, RM_ERR_FORMAT, "%s: %s", path, name);
        } else {
            *out = buf;
            *n = (size_t)dims[0];
        }
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    return st;
}

static size_t dim0(hid_t loc, const char *name)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[8] = {0};
    int rk = H5Sget_simple_extent_ndims(sp);
    if (rk >= 1 && rk <= 8)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    return (size_t)dims[0];
}

/* The root: conventions (the one version rule), provenance, the link to
 * the recording. */
static rm_status read_root(hid_t f, const char *path, rm_results *r, rm_err *err)
{
    char conv[64];
    if (h5x_read_attr_str(f, "conventions", conv, sizeof conv) != 0)
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: no conventions attribute: not a rollmat results file", path);
    rm_file_kind kind;
    rm_status st = rm_conventions_check(path, conv, &kind, err);
    if (st != RM_OK)
        return st;
    if (kind != RM_FILE_RESULTS)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: conventions \"%s\": not a rollmat results file",
                          path, conv);
    h5x_read_attr_str(f, "source", r->source, sizeof r->source);
    h5x_read_attr_str(f, "profile", r->profile, sizeof r->profile);
    h5x_read_attr_str(f, "software", r->software, sizeof r->software);
    h5x_read_attr_str(f, "title", r->title, sizeof r->title);
    h5x_read_attr_str(f, "subject_id", r->subject_id, sizeof r->subject_id);
    h5x_read_attr_str(f, "created", r->created, sizeof r->created);
    h5x_read_attr_str(f, "labels", r->labels, sizeof r->labels);
    double v;
    if (h5x_read_attr_double(f, "frames_lost", &v) == 0 && isfinite(v))
        r->frames_lost = (int64_t)v;
    if (h5x_read_attr_double(f, "disconnects", &v) == 0 && isfinite(v))
        r->disconnects = (int32_t)v;
    H5L_info_t li;
    if (H5Lexists(f, "recording", H5P_DEFAULT) <= 0 ||
        H5Lget_info(f, "recording", &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_EXTERNAL)
        return RM_OK;
    char val[PATH_MAX + 64];
    const char *fname = NULL, *oname = NULL;
    unsigned flags = 0;
    if (li.u.val_size <= sizeof val &&
        H5Lget_val(f, "recording", val, sizeof val, H5P_DEFAULT) >= 0 &&
        H5Lunpack_elink_val(val, li.u.val_size, &flags, &fname, &oname) >= 0 && fname)
        snprintf(r->recording_path, sizeof r->recording_path, "%s", fname);
    return RM_OK;
}

static rm_status read_series(hid_t f, const char *path, rm_results *r, rm_err *err)
{
    hid_t g = H5Gopen2(f, "series", H5P_DEFAULT);
    h5x_read_attr_double(g, "rate_hz", &r->rate_hz);
    r->n_frames = dim0(g, "time");
    hsize_t d1[1] = {r->n_frames};
    rm_status st = RM_OK;
    for (int s = 0; s < RM_SERIES_COUNT && st == RM_OK; s++)
        st = read_ds(g, series_names[s], path, 1, d1, H5T_NATIVE_FLOAT, (void **)&r->series[s],
                     sizeof(float), err);
    if (st == RM_OK)
        st = read_ds(g, "state", path, 1, d1, H5T_NATIVE_UINT8, (void **)&r->state, 1, err);
    H5Gclose(g);
    return st;
}

static rm_status read_tables(hid_t f, const char *path, rm_results *r, rm_err *err)
{
    hid_t t = stroke_type();
    rm_status st = read_table(f, "strokes", path, t, sizeof(rm_stroke), (void **)&r->strokes,
                              &r->n_strokes, err);
    H5Tclose(t);
    if (st == RM_OK) {
        t = hold_type();
        st = read_table(f, "holds", path, t, sizeof(rm_hold), (void **)&r->holds, &r->n_holds, err);
        H5Tclose(t);
    }
    if (st == RM_OK) {
        t = segment_type();
        st = read_table(f, "segments", path, t, sizeof(rm_segment_result), (void **)&r->segments,
                        &r->n_segments, err);
        H5Tclose(t);
    }
    /* /spots came with the massage ball: older files have none */
    if (st == RM_OK && H5Lexists(f, "spots", H5P_DEFAULT) > 0) {
        t = spot_type();
        st = read_table(f, "spots", path, t, sizeof(rm_spot), (void **)&r->spots, &r->n_spots,
                        err);
        H5Tclose(t);
        for (size_t i = 0; st == RM_OK && i < r->n_spots; i++)
            if (r->spots[i].segment < 0 || (size_t)r->spots[i].segment >= r->n_segments)
                st = rm_err_set(err, RM_ERR_VALUE, "%s: /spots row %zu: segment %d out of range",
                                path, i, (int)r->spots[i].segment);
    }
    return st;
}

/* The session totals live as attributes of /segments. */
static void read_totals(hid_t f, rm_results *r)
{
    hid_t d = H5Dopen2(f, "segments", H5P_DEFAULT);
    rm_session_totals *T = &r->totals;
    double v;
#define RD(name, field, cast)                                                                      \
    if (h5x_read_attr_double(d, name, &v) == 0)                                                    \
        T->field = (cast)v;
    RD("duration_s", duration_s, double)
    RD("rolling_s", rolling_s, double)
    RD("holding_s", holding_s, double)
    RD("loaded_s", loaded_s, double)
    RD("strokes", strokes, int32_t)
    RD("holds", holds, int32_t)
    RD("segments", segments, int32_t)
    RD("mean_speed_cm_s", mean_speed_cm_s, float)
    RD("cadence_cpm", cadence_cpm, float)
    RD("mean_force_n", mean_force_n, float)
    RD("peak_kpa", peak_kpa, float)
    RD("score", score, float)
    RD("total_verdict", total_verdict, int8_t)
    RD("roller_found", roller_found, int)
    RD("hot_sensels", hot_sensels, int)
    RD("dead_sensels", dead_sensels, int)
    RD("frames_lost", frames_lost, int32_t)
    RD("gaps", gaps, int32_t)
    RD("disconnects", disconnects, int32_t)
#undef RD
    if (h5x_read_attr_double(d, "body_mass_kg", &v) == 0)
        r->body_mass_kg = v;
    h5x_read_attr_str(d, "comment", T->comment, sizeof T->comment);
    H5Dclose(d);
}

/* The maps' geometry comes from /maps/mean_kpa, which must be [row, col]. */
static rm_status read_map_geometry(hid_t g, const char *path, rm_results *r, rm_err *err)
{
    hid_t d = H5Dopen2(g, "mean_kpa", H5P_DEFAULT);
    hsize_t dims[2] = {0, 0};
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        if (H5Sget_simple_extent_ndims(sp) == 2)
            H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
        H5Dclose(d);
    }
    if (dims[0] < 1 || dims[1] < 1 || dims[0] > 65535 || dims[1] > 65535)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: /maps/mean_kpa is missing or not [row, col]",
                          path);
    r->rows = (uint16_t)dims[0];
    r->cols = (uint16_t)dims[1];
    return RM_OK;
}

static rm_status read_maps(hid_t f, const char *path, rm_results *r, rm_err *err)
{
    hid_t g = H5Gopen2(f, "maps", H5P_DEFAULT);
    h5x_read_attr_double(g, "row_pitch_cm", &r->row_pitch_cm);
    h5x_read_attr_double(g, "col_pitch_cm", &r->col_pitch_cm);
    rm_status st = read_map_geometry(g, path, r, err);
    hsize_t d2[2] = {r->rows, r->cols}, d3[3] = {r->n_segments, r->rows, r->cols};
    static const struct {
        const char *name;
        int seg;
        size_t off;
    } maps[] = {
        {"mean_kpa", 0, offsetof(rm_results, map_mean_kpa)},
        {"peak_kpa", 0, offsetof(rm_results, map_peak_kpa)},
        {"contact_s", 0, offsetof(rm_results, map_contact_s)},
        {"segment_mean_kpa", 1, offsetof(rm_results, seg_mean_kpa)},
        {"segment_peak_kpa", 1, offsetof(rm_results, seg_peak_kpa)},
        {"segment_contact_s", 1, offsetof(rm_results, seg_contact_s)},
    };
    for (size_t i = 0; i < sizeof maps / sizeof maps[0] && st == RM_OK; i++)
        st = read_ds(g, maps[i].name, path, maps[i].seg ? 3 : 2, maps[i].seg ? d3 : d2,
                     H5T_NATIVE_FLOAT, (void **)((char *)r + maps[i].off), 4, err);
    H5Gclose(g);
    return st;
}

static rm_status read_spectra(hid_t f, const char *path, rm_results *r, rm_err *err)
{
    hid_t g = H5Gopen2(f, "spectra", H5P_DEFAULT);
    r->n_freq = dim0(g, "freq_hz");
    hsize_t df[1] = {r->n_freq};
    rm_status st =
        read_ds(g, "freq_hz", path, 1, df, H5T_NATIVE_FLOAT, (void **)&r->freq_hz, 4, err);
    if (st == RM_OK)
        st = read_ds(g, "position_psd", path, 1, df, H5T_NATIVE_FLOAT, (void **)&r->position_psd, 4,
                     err);
    if (st == RM_OK)
        st = read_ds(g, "force_psd", path, 1, df, H5T_NATIVE_FLOAT, (void **)&r->force_psd, 4, err);
    H5Gclose(g);
    return st;
}

rm_status rm_results_open(const char *path, rm_results **out, rm_err *err)
{
    *out = NULL;
    h5x_quiet();
    if (access(path, R_OK))
        return rm_err_set(err, RM_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return h5x_fail(err, RM_ERR_IO, "%s: cannot open", path);
    rm_results *r = rm_results_new();
    rm_status st =
        r ? read_root(f, path, r, err) : rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    if (st == RM_OK &&
        (H5Lexists(f, "series", H5P_DEFAULT) <= 0 || H5Lexists(f, "maps", H5P_DEFAULT) <= 0 ||
         H5Lexists(f, "spectra", H5P_DEFAULT) <= 0))
        st = rm_err_set(err, RM_ERR_FORMAT, "%s: /series, /maps or /spectra is missing", path);
    if (st == RM_OK)
        st = read_series(f, path, r, err);
    if (st == RM_OK)
        st = read_tables(f, path, r, err);
    if (st == RM_OK) {
        read_totals(f, r);
        st = read_maps(f, path, r, err);
    }
    if (st == RM_OK)
        st = read_spectra(f, path, r, err);
    H5Fclose(f);
    if (st != RM_OK) {
        rm_results_free(r);
        return st;
    }
    for (size_t k = 0; k < r->n_segments; k++) {
        r->segments[k].label[RM_RESULTS_LABEL_LEN - 1] = 0;
        r->segments[k].comment[RM_RESULTS_COMMENT_LEN - 1] = 0;
        r->segments[k].tool[RM_RESULTS_TOOL_LEN - 1] = 0;
        r->segments[k].label_source[sizeof r->segments[k].label_source - 1] = 0;
        r->segments[k].posture[RM_RESULTS_POSTURE_LEN - 1] = 0;
        r->segments[k].supports[RM_RESULTS_SUPPORTS_LEN - 1] = 0;
        if (!r->segments[k].tool[0]) {
            /* a file from before the massage ball: every set was a roller set */
            rm_segment_result *sg = &r->segments[k];
            snprintf(sg->tool, sizeof sg->tool, "roller");
            sg->mean_spot_s = sg->spot_force_cv = sg->posture_confidence = NAN;
            sg->spot_verdict = RM_VERDICT_NA;
        }
    }
    *out = r;
    return RM_OK;
}

void rm_results_close(rm_results *r) { rm_results_free(r); }

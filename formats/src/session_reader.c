/* session_reader.c - opens, validates and reads a recording.
 *
 * Validation follows notes/hdf5.md "A reader that fails well": H5Fis_hdf5
 * first, HDF5's printing silenced, the deepest HDF5 message reported, the
 * conventions attribute and major version checked, then every required
 * object's type and shape before anything is allocated from it.
 *
 * Fast path: whole chunks of /frames/raw are read as stored bytes
 * (H5Dread_chunk), inflated with libdeflate and unshuffled here; anything
 * else (other filters, other chunk shapes, byte order) goes through H5Dread. */
#include "rm_session.h"

#include <errno.h>
#include <hdf5.h>
#include <libdeflate.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rm_filekind.h"
#include "session_h5.h"

#define MAX_EVENTS (1u << 24)

typedef struct decoder {
    struct libdeflate_decompressor *dec;
    uint8_t *tmp; /* inflated (still shuffled) chunk */
} decoder;

struct rm_session {
    char *path;
    hid_t file;
    hid_t d_raw, d_time, d_seq, d_tdev, d_flags, d_events;
    rm_header hdr;
    rm_device dev;
    rm_calib *calib;
    uint8_t *mask;
    int live;
    uint64_t frames;
    size_t chunk; /* frames per chunk along time */
    size_t px;    /* rows * cols */

    int fast;                     /* chunks can be read and decoded here */
    int shuffle_idx, deflate_idx; /* position in the pipeline, -1 if absent */

    rm_event *events;
    size_t nevents;

    size_t nref;
    char (*ref_name)[64];
    char (*ref_units)[64];
    double **ref_vals;

    int have_end;
    rm_end end;

    /* Read cache: the last decoded chunk. */
    decoder dc;
    uint8_t *zbuf;
    size_t zcap;
    uint16_t *cache;
    int64_t cache_ci;
};

/* ---- small helpers ---- */

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = -1;
}

/* Whether every component of an absolute path exists. */
static int path_exists(hid_t file, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0)
                return 0;
            if (c == '\0')
                return 1;
            *p = c;
        }
    }
}

static void describe_type(hid_t t, char *buf, size_t cap)
{
    size_t sz = H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        snprintf(buf, cap, "%s%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int", sz * 8);
        break;
    case H5T_FLOAT: snprintf(buf, cap, "float%zu", sz * 8); break;
    case H5T_STRING: snprintf(buf, cap, "string"); break;
    case H5T_COMPOUND: snprintf(buf, cap, "compound"); break;
    default: snprintf(buf, cap, "an unsupported type");
    }
}

typedef enum want_type { W_U16, W_U32, W_U64, W_F64, W_FLOAT, W_INT, W_COMPOUND } want_type;

static int type_ok(hid_t t, want_type w)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    int uns = c == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE;
    switch (w) {
    case W_U16: return uns && sz == 2;
    case W_U32: return uns && sz == 4;
    case W_U64: return uns && sz == 8;
    case W_F64: return c == H5T_FLOAT && sz == 8;
    case W_FLOAT: return c == H5T_FLOAT;
    case W_INT: return c == H5T_INTEGER;
    case W_COMPOUND: return c == H5T_COMPOUND;
    }
    return 0;
}

static const char *want_name(want_type w)
{
    static const char *const names[] = {"uint16",       "uint32",          "uint64",  "float64",
                                        "a float type", "an integer type", "compound"};
    return names[w];
}

/* Opens a required dataset and checks its type and rank; dims gets its
 * shape. */
static rm_status open_ds(rm_session *s, const char *path, want_type w, int rank, hid_t *out,
                         hsize_t *dims, rm_err *err)
{
    *out = -1;
    if (!path_exists(s->file, path))
        return rm_err_set(err, RM_ERR_NOT_FOUND, "%s: %s is missing", s->path, path);
    H5O_info_t oi;
    if (H5Oget_info_by_name2(s->file, path, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: %s is not a dataset", s->path, path);
    hid_t d = H5Dopen2(s->file, path, H5P_DEFAULT);
    if (d < 0)
        return h5x_fail(err, RM_ERR_HDF5, "%s: cannot open %s", s->path, path);
    hid_t t = H5Dget_type(d);
    if (t < 0 || !type_ok(t, w)) {
        char tn[32] = "unknown";
        if (t >= 0)
            describe_type(t, tn, sizeof tn);
        close_id(&t, H5Tclose);
        H5Dclose(d);
        return rm_err_set(err, RM_ERR_TYPE, "%s: %s is %s, expected %s", s->path, path, tn,
                          want_name(w));
    }
    H5Tclose(t);
    hid_t sp = H5Dget_space(d);
    int r = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (r != rank) {
        close_id(&sp, H5Sclose);
        H5Dclose(d);
        return rm_err_set(err, RM_ERR_TYPE, "%s: %s has %d dimension%s, expected %d", s->path, path,
                          r, r == 1 ? "" : "s", rank);
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    *out = d;
    return RM_OK;
}

static rm_status expect_2d(rm_session *s, const char *path, const hsize_t *dims, rm_err *err)
{
    if (dims[0] != s->dev.rows || dims[1] != s->dev.cols)
        return rm_err_set(err, RM_ERR_TYPE, "%s: %s is %llux%llu, /device says %ux%u", s->path,
                          path, (unsigned long long)dims[0], (unsigned long long)dims[1],
                          s->dev.rows, s->dev.cols);
    return RM_OK;
}

static double parse_iso(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

/* ---- open ---- */

static rm_status read_header(rm_session *s, rm_err *err)
{
    char conv[64];
    int rc = h5x_read_attr_str(s->file, "conventions", conv, sizeof conv);
    if (rc == -1)
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: / has no 'conventions' attribute: not a rollmat recording", s->path);
    if (rc < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: / attribute 'conventions' is not a string",
                          s->path);
    rm_file_kind kind;
    rm_status st = rm_conventions_check(s->path, conv, &kind, err);
    if (st != RM_OK)
        return st;
    if (kind != RM_FILE_RECORDING)
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: conventions is \"%s\", not a rollmat session (rollmat-session-1)",
                          s->path, conv);
    rm_header *h = &s->hdr;
    if (h5x_read_attr_str(s->file, "created", h->created, sizeof h->created) < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: / has no 'created' attribute", s->path);
    h5x_read_attr_str(s->file, "title", h->title, sizeof h->title);
    h5x_read_attr_str(s->file, "source", h->source, sizeof h->source);
    if (h5x_read_attr_double(s->file, "created_unix", &h->created_unix) < 0) {
        h->created_unix = parse_iso(h->created);
        if (!isfinite(h->created_unix))
            h->created_unix = 0;
    }
    if (path_exists(s->file, "/subject")) {
        hid_t g = H5Gopen2(s->file, "/subject", H5P_DEFAULT);
        if (g >= 0) {
            h5x_read_attr_str(g, "id", h->subject_id, sizeof h->subject_id);
            h5x_read_attr_str(g, "notes", h->subject_notes, sizeof h->subject_notes);
            if (h5x_read_attr_double(g, "body_mass_kg", &h->body_mass_kg) < 0 ||
                !isfinite(h->body_mass_kg))
                h->body_mass_kg = 0;
            H5Gclose(g);
        }
    }
    /* Totals written at close; end_status 1 (or absent) means none. */
    double v;
    if (h5x_read_attr_double(s->file, "end_status", &v) == 0 && v <= 0) {
        s->have_end = 1;
        s->end.status = (rm_status)(int)v;
        if (h5x_read_attr_double(s->file, "frames_corrupt", &v) == 0)
            s->end.frames_corrupt = (uint64_t)v;
        if (h5x_read_attr_double(s->file, "frames_truncated", &v) == 0)
            s->end.frames_truncated = (uint64_t)v;
        if (h5x_read_attr_double(s->file, "frames_missing", &v) == 0)
            s->end.frames_missing = (uint64_t)v;
        if (h5x_read_attr_double(s->file, "garbage_bytes", &v) == 0)
            s->end.garbage_bytes = (uint64_t)v;
    }
    return RM_OK;
}

static rm_status read_device(rm_session *s, rm_err *err)
{
    if (!path_exists(s->file, "/device"))
        return rm_err_set(err, RM_ERR_NOT_FOUND, "%s: /device is missing", s->path);
    hid_t g = H5Gopen2(s->file, "/device", H5P_DEFAULT);
    if (g < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: /device is not a group", s->path);
    rm_device *d = &s->dev;
    static const char *const req[] = {"rows", "cols", "rate_hz"};
    double v[3];
    for (int i = 0; i < 3; i++) {
        int rc = h5x_read_attr_double(g, req[i], &v[i]);
        if (rc < 0) {
            H5Gclose(g);
            return rm_err_set(err, RM_ERR_FORMAT, "%s: /device attribute %s is %s", s->path, req[i],
                              rc == -1 ? "missing" : "not a number");
        }
    }
    if (!(v[0] >= 1 && v[0] <= RM_MAX_DIM && v[1] >= 1 && v[1] <= RM_MAX_DIM) ||
        v[0] != floor(v[0]) || v[1] != floor(v[1])) {
        H5Gclose(g);
        return rm_err_set(err, RM_ERR_RANGE, "%s: /device rows x cols = %g x %g, outside 1..%d",
                          s->path, v[0], v[1], RM_MAX_DIM);
    }
    if (!isfinite(v[2]) || v[2] < 0) {
        H5Gclose(g);
        return rm_err_set(err, RM_ERR_VALUE, "%s: /device rate_hz = %g is invalid", s->path, v[2]);
    }
    d->rows = (uint16_t)v[0];
    d->cols = (uint16_t)v[1];
    d->rate_hz = v[2];
    double x;
    if (h5x_read_attr_double(g, "vid", &x) == 0)
        d->vid = (uint16_t)x;
    if (h5x_read_attr_double(g, "pid", &x) == 0)
        d->pid = (uint16_t)x;
    if (h5x_read_attr_double(g, "protocol_version", &x) == 0)
        d->protocol_version = (uint16_t)x;
    if (h5x_read_attr_double(g, "adc_bits", &x) == 0)
        d->adc_bits = (uint8_t)x;
    if (h5x_read_attr_double(g, "row_pitch_mm", &x) == 0 && isfinite(x))
        d->row_pitch_mm = x;
    if (h5x_read_attr_double(g, "col_pitch_mm", &x) == 0 && isfinite(x))
        d->col_pitch_mm = x;
    h5x_read_attr_str(g, "serial", d->serial, sizeof d->serial);
    h5x_read_attr_str(g, "model", d->model, sizeof d->model);
    h5x_read_attr_str(g, "firmware", d->firmware, sizeof d->firmware);
    H5Gclose(g);
    s->px = (size_t)d->rows * d->cols;
    return RM_OK;
}

static rm_status read_calibration(rm_session *s, rm_err *err)
{
    hid_t kr = -1, kk = -1, z = -1, g = -1, m = -1;
    hsize_t dr[1], dk[1], dz[2], dg[2], dm[2];
    rm_status st;
    if ((st = open_ds(s, "/calibration/knot_raw", W_FLOAT, 1, &kr, dr, err)) != RM_OK ||
        (st = open_ds(s, "/calibration/knot_kpa", W_FLOAT, 1, &kk, dk, err)) != RM_OK ||
        (st = open_ds(s, "/calibration/zero", W_INT, 2, &z, dz, err)) != RM_OK ||
        (st = open_ds(s, "/calibration/gain", W_FLOAT, 2, &g, dg, err)) != RM_OK)
        goto out;
    if (dr[0] != dk[0]) {
        st = rm_err_set(err, RM_ERR_LENGTH,
                        "%s: /calibration/knot_raw has %llu knots, knot_kpa has %llu", s->path,
                        (unsigned long long)dr[0], (unsigned long long)dk[0]);
        goto out;
    }
    if (dr[0] < RM_CALIB_MIN_KNOTS || dr[0] > RM_CALIB_MAX_KNOTS) {
        st = rm_err_set(err, RM_ERR_RANGE,
                        "%s: /calibration/knot_raw has %llu knots, expected %d..%d", s->path,
                        (unsigned long long)dr[0], RM_CALIB_MIN_KNOTS, RM_CALIB_MAX_KNOTS);
        goto out;
    }
    if ((st = expect_2d(s, "/calibration/zero", dz, err)) != RM_OK ||
        (st = expect_2d(s, "/calibration/gain", dg, err)) != RM_OK)
        goto out;
    if (rm_calib_new(s->dev.rows, s->dev.cols, &s->calib) != RM_OK) {
        st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", s->path);
        goto out;
    }
    s->calib->n_knots = (uint16_t)dr[0];
    if (H5Dread(kr, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->calib->knot_raw) < 0 ||
        H5Dread(kk, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->calib->knot_kpa) < 0 ||
        H5Dread(z, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->calib->zero) < 0 ||
        H5Dread(g, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->calib->gain) < 0) {
        st = h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /calibration", s->path);
        goto out;
    }
    rm_err e2 = {0};
    if ((st = rm_calib_validate(s->calib, &e2)) != RM_OK) {
        st = rm_err_set(err, st, "%s: /calibration: %s", s->path, rm_err_message(&e2, st));
        goto out;
    }
    if (path_exists(s->file, "/calibration/mask")) {
        if ((st = open_ds(s, "/calibration/mask", W_INT, 2, &m, dm, err)) != RM_OK ||
            (st = expect_2d(s, "/calibration/mask", dm, err)) != RM_OK)
            goto out;
        s->mask = malloc(s->px);
        if (!s->mask) {
            st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", s->path);
            goto out;
        }
        if (H5Dread(m, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->mask) < 0) {
            st = h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /calibration/mask", s->path);
            goto out;
        }
    }
out:
    close_id(&kr, H5Dclose);
    close_id(&kk, H5Dclose);
    close_id(&z, H5Dclose);
    close_id(&g, H5Dclose);
    close_id(&m, H5Dclose);
    return st;
}

/* Pipeline and chunk shape of /frames/raw: every filter must be available
 * here; the fast path needs [chunk, rows, cols] chunks, little-endian
 * uint16 and only shuffle and deflate. */
static rm_status inspect_raw(rm_session *s, rm_err *err)
{
    hid_t dcpl = H5Dget_create_plist(s->d_raw);
    if (dcpl < 0)
        return h5x_fail(err, RM_ERR_HDF5, "%s: cannot inspect /frames/raw", s->path);
    rm_status st = RM_OK;
    s->fast = 1;
    s->shuffle_idx = s->deflate_idx = -1;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t cd[3];
        H5Pget_chunk(dcpl, 3, cd);
        s->chunk = cd[0] ? (size_t)cd[0] : 1;
        if (cd[1] != s->dev.rows || cd[2] != s->dev.cols)
            s->fast = 0;
    } else {
        s->fast = 0;
        s->chunk = 64;
    }
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd_values[8];
        size_t ncd = 8;
        char name[64] = "";
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd_values, sizeof name, name, NULL);
        if (H5Zfilter_avail(id) <= 0) {
            st = rm_err_set(err, RM_ERR_UNSUPPORTED,
                            "%s: /frames/raw needs HDF5 filter %d (%s), which this HDF5 lacks "
                            "(a plugin? set HDF5_PLUGIN_PATH)",
                            s->path, (int)id, name[0] ? name : "unknown");
            break;
        }
        if (id == H5Z_FILTER_SHUFFLE && s->deflate_idx < 0)
            s->shuffle_idx = i;
        else if (id == H5Z_FILTER_DEFLATE)
            s->deflate_idx = i;
        else
            s->fast = 0;
    }
    H5Pclose(dcpl);
    hid_t t = H5Dget_type(s->d_raw);
    if (t < 0 || H5Tequal(t, H5T_STD_U16LE) <= 0 || H5Tequal(H5T_NATIVE_UINT16, H5T_STD_U16LE) <= 0)
        s->fast = 0;
    close_id(&t, H5Tclose);
    if (s->chunk > ((size_t)64 << 20) / (s->px * 2))
        s->fast = 0; /* absurd chunks: let HDF5 deal with them */
    /* Batches of the slow path need not follow huge chunks: memory stays
     * bounded whatever a file declares. */
    size_t cap = ((size_t)16 << 20) / (s->px * 2);
    if (!s->fast && s->chunk > cap)
        s->chunk = cap ? cap : 1;
    return st;
}

static rm_status read_events(rm_session *s, rm_err *err)
{
    hsize_t n = 0;
    hid_t sp = H5Dget_space(s->d_events);
    if (sp < 0)
        return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /events", s->path);
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    if (n > MAX_EVENTS)
        return rm_err_set(err, RM_ERR_RANGE, "%s: /events has %llu rows, more than %u", s->path,
                          (unsigned long long)n, MAX_EVENTS);
    rm_event *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory for %llu events", s->path,
                          (unsigned long long)n);
    hid_t mt = h5x_event_type();
    if (n && H5Dread(s->d_events, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ev) < 0) {
        H5Tclose(mt);
        free(ev);
        return h5x_fail(err, RM_ERR_TYPE, "%s: cannot read /events", s->path);
    }
    H5Tclose(mt);
    for (hsize_t i = 0; i < n; i++) {
        ev[i].kind[RM_EVENT_KIND_LEN - 1] = '\0';
        ev[i].text[RM_EVENT_TEXT_LEN - 1] = '\0';
    }
    free(s->events);
    s->events = ev;
    s->nevents = (size_t)n;
    return RM_OK;
}

static rm_status check_events_type(rm_session *s, rm_err *err)
{
    hid_t t = H5Dget_type(s->d_events);
    static const char *const names[] = {"time", "kind", "value", "text"};
    static const H5T_class_t cls[] = {H5T_FLOAT, H5T_STRING, H5T_INTEGER, H5T_STRING};
    rm_status st = RM_OK;
    for (int i = 0; i < 4 && st == RM_OK; i++) {
        int idx = H5Tget_member_index(t, names[i]);
        if (idx < 0) {
            st = rm_err_set(err, RM_ERR_TYPE, "%s: /events has no field '%s'", s->path, names[i]);
            break;
        }
        hid_t mt = H5Tget_member_type(t, (unsigned)idx);
        if (H5Tget_class(mt) != cls[i] || (cls[i] == H5T_STRING && H5Tis_variable_str(mt) > 0))
            st = rm_err_set(err, RM_ERR_TYPE, "%s: /events field '%s' has the wrong type%s",
                            s->path, names[i],
                            cls[i] == H5T_STRING ? " (expected a fixed-length string)" : "");
        H5Tclose(mt);
    }
    H5Tclose(t);
    return st;
}

static rm_status read_references(rm_session *s, rm_err *err)
{
    if (!path_exists(s->file, "/reference"))
        return RM_OK;
    hid_t g = H5Gopen2(s->file, "/reference", H5P_DEFAULT);
    if (g < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: /reference is not a group", s->path);
    H5G_info_t gi;
    rm_status st = RM_OK;
    if (H5Gget_info(g, &gi) < 0 || gi.nlinks > 256) {
        H5Gclose(g);
        return rm_err_set(err, RM_ERR_FORMAT, "%s: /reference is unreadable or too large", s->path);
    }
    size_t n = (size_t)gi.nlinks;
    s->ref_name = calloc(n ? n : 1, sizeof *s->ref_name);
    s->ref_units = calloc(n ? n : 1, sizeof *s->ref_units);
    s->ref_vals = calloc(n ? n : 1, sizeof *s->ref_vals);
    if (!s->ref_name || !s->ref_units || !s->ref_vals) {
        H5Gclose(g);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", s->path);
    }
    for (size_t i = 0; i < n && st == RM_OK; i++) {
        char name[64];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0)
            continue;
        char path[96];
        snprintf(path, sizeof path, "/reference/%s", name);
        hid_t d;
        hsize_t dim;
        if ((st = open_ds(s, path, W_FLOAT, 1, &d, &dim, err)) != RM_OK)
            break;
        if (!s->live && dim != s->frames) {
            st = rm_err_set(err, RM_ERR_LENGTH,
                            "%s: %s has %llu values, /frames/raw has %llu frames", s->path, path,
                            (unsigned long long)dim, (unsigned long long)s->frames);
            H5Dclose(d);
            break;
        }
        double *v = calloc(s->frames ? s->frames : 1, sizeof(double));
        if (!v) {
            H5Dclose(d);
            st = rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory for %s", s->path, path);
            break;
        }
        hsize_t take = dim < s->frames ? dim : s->frames, zero = 0;
        if (take) {
            hid_t fs = H5Dget_space(d);
            hid_t ms = H5Screate_simple(1, &take, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &zero, NULL, &take, NULL);
            herr_t rc = H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, v);
            H5Sclose(ms);
            H5Sclose(fs);
            if (rc < 0) {
                free(v);
                H5Dclose(d);
                st = h5x_fail(err, RM_ERR_HDF5, "%s: cannot read %s", s->path, path);
                break;
            }
        }
        snprintf(s->ref_name[s->nref], 64, "%s", name);
        if (h5x_read_attr_str(d, "units", s->ref_units[s->nref], 64) < 0)
            s->ref_units[s->nref][0] = '\0';
        s->ref_vals[s->nref++] = v;
        H5Dclose(d);
    }
    H5Gclose(g);
    return st;
}

/* Frames dataset d really holds: its allocated chunks (or bytes, when
 * contiguous) times what each holds. A dataset's extent alone costs nothing
 * to forge (a 5 MB file can claim 10^8 frames of fill value), so every size
 * derived from the frame count is first checked against this.
 * UINT64_MAX when the layout keeps the data inline (compact: small by
 * construction) or the file cannot tell. */
static uint64_t stored_frames(hid_t d, hsize_t per_frame)
{
    uint64_t out = UINT64_MAX;
    hid_t dcpl = H5Dget_create_plist(d);
    hid_t t = H5Dget_type(d);
    size_t esz = t >= 0 ? H5Tget_size(t) : 0;
    H5D_layout_t lay = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    if (lay == H5D_CHUNKED && per_frame > 0) {
        hsize_t cd[8], nchunks = 0;
        int rk = H5Pget_chunk(dcpl, 8, cd);
        hsize_t per_chunk = 1;
        for (int i = 0; i < rk; i++)
            per_chunk *= cd[i];
        hid_t sp = H5Dget_space(d);
        if (rk > 0 && sp >= 0 && H5Dget_num_chunks(d, sp, &nchunks) >= 0)
            out = (uint64_t)nchunks * per_chunk / per_frame;
        close_id(&sp, H5Sclose);
    } else if (lay == H5D_CONTIGUOUS && esz > 0 && per_frame > 0) {
        out = H5Dget_storage_size(d) / (esz * per_frame);
    }
    H5Eclear2(H5E_DEFAULT);
    close_id(&t, H5Tclose);
    close_id(&dcpl, H5Pclose);
    return out;
}

/* Frame count: the shortest of the five series (a live writer extends them
 * one after the other); a closed file must have them equal, and must store
 * every frame it claims (a live one is read up to what is stored). */
static rm_status count_frames(rm_session *s, rm_err *err)
{
    static const char *const names[] = {H5X_RAW, H5X_TIME, H5X_SEQ, H5X_TDEV, H5X_FLAGS};
    hid_t ds[5] = {s->d_raw, s->d_time, s->d_seq, s->d_tdev, s->d_flags};
    hsize_t len[5];
    for (int i = 0; i < 5; i++) {
        hsize_t dims[3];
        hid_t sp = H5Dget_space(ds[i]);
        if (sp < 0)
            return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read the shape of %s", s->path, names[i]);
        H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
        len[i] = dims[0];
        if (i == 0 && (dims[1] != s->dev.rows || dims[2] != s->dev.cols))
            return rm_err_set(err, RM_ERR_TYPE,
                              "%s: /frames/raw frames are %llux%llu, /device says %ux%u", s->path,
                              (unsigned long long)dims[1], (unsigned long long)dims[2], s->dev.rows,
                              s->dev.cols);
    }
    hsize_t n = len[0];
    for (int i = 1; i < 5; i++) {
        if (len[i] != len[0] && !s->live)
            return rm_err_set(err, RM_ERR_LENGTH,
                              "%s: %s has %llu entries, /frames/raw has %llu frames", s->path,
                              names[i], (unsigned long long)len[i], (unsigned long long)len[0]);
        if (len[i] < n)
            n = len[i];
    }
    for (int i = 0; i < 5; i++) {
        uint64_t have = stored_frames(ds[i], i == 0 ? (hsize_t)s->dev.rows * s->dev.cols : 1);
        if (have >= n)
            continue;
        if (!s->live)
            return rm_err_set(err, RM_ERR_LENGTH,
                              "%s: %s claims %llu frames but the file stores at most %llu "
                              "(damaged, or its length was forged)",
                              s->path, names[i], (unsigned long long)n, (unsigned long long)have);
        n = have;
    }
    s->frames = n;
    return RM_OK;
}

void rm_session_close(rm_session *s)
{
    if (!s)
        return;
    close_id(&s->d_raw, H5Dclose);
    close_id(&s->d_time, H5Dclose);
    close_id(&s->d_seq, H5Dclose);
    close_id(&s->d_tdev, H5Dclose);
    close_id(&s->d_flags, H5Dclose);
    close_id(&s->d_events, H5Dclose);
    close_id(&s->file, H5Fclose);
    rm_calib_free(s->calib);
    free(s->mask);
    free(s->events);
    for (size_t i = 0; i < s->nref; i++)
        free(s->ref_vals[i]);
    free(s->ref_vals);
    free(s->ref_name);
    free(s->ref_units);
    if (s->dc.dec)
        libdeflate_free_decompressor(s->dc.dec);
    free(s->dc.tmp);
    free(s->zbuf);
    free(s->cache);
    free(s->path);
    free(s);
}

/* The file-consistency flags of a version 2/3 superblock at offset 0
 * (bit 0: open for writing, bit 2: SWMR writing); 0 if none or older. */
static int superblock_flags(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char sb[12];
    size_t got = fread(sb, 1, sizeof sb, f);
    fclose(f);
    if (got != sizeof sb || memcmp(sb, "\211HDF\r\n\032\n", 8) != 0 || sb[8] < 2)
        return 0;
    return sb[11] & 0x07;
}

static rm_status open_file(rm_session *s, rm_err *err)
{
    const char *path = s->path;
    if (access(path, F_OK) != 0)
        return rm_err_set(err, RM_ERR_NOT_FOUND, "%s: no such file", path);
    if (access(path, R_OK) != 0)
        return rm_err_set(err, RM_ERR_PERMISSION, "%s: cannot read (%s)", path, strerror(errno));
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return rm_err_set(err, RM_ERR_FORMAT, "%s: not an HDF5 file", path);
    }
    s->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file >= 0)
        return RM_OK;
    char deep[384];
    h5x_deepest(deep, sizeof deep);
    /* A live SWMR writer's file looks truncated (space is allocated before
     * it is written) or "already open for write" to a normal open. */
    int flags = superblock_flags(path);
    if (flags > 0 || strstr(deep, "already open for write")) {
        H5Eclear2(H5E_DEFAULT);
        if (flags & 0x05) {
            s->file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
            if (s->file >= 0) {
                s->live = 1;
                return RM_OK;
            }
            return h5x_fail(err, RM_ERR_BUSY, "%s: being written (SWMR) but unreadable", path);
        }
        return rm_err_set(err, RM_ERR_BUSY,
                          "%s: open for writing without SWMR (a live writer, or one that "
                          "crashed: 'h5clear -s --increment' repairs a crashed one)",
                          path);
    }
    return h5x_fail(err, RM_ERR_FORMAT, "%s: cannot open as HDF5", path);
}

rm_status rm_session_open(const char *path, rm_session **out, rm_err *err)
{
    *out = NULL;
    if (!path)
        return rm_err_set(err, RM_ERR_ARG, "session path is NULL");
    h5x_quiet();
    rm_session *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    s->file = s->d_raw = s->d_time = s->d_seq = s->d_tdev = s->d_flags = s->d_events = -1;
    s->cache_ci = -1;
    hsize_t d3[3], d1[1];
    rm_status st;
    if ((st = open_file(s, err)) != RM_OK || (st = read_header(s, err)) != RM_OK ||
        (st = read_device(s, err)) != RM_OK ||
        (st = open_ds(s, H5X_RAW, W_U16, 3, &s->d_raw, d3, err)) != RM_OK ||
        (st = open_ds(s, H5X_TIME, W_F64, 1, &s->d_time, d1, err)) != RM_OK ||
        (st = open_ds(s, H5X_SEQ, W_U32, 1, &s->d_seq, d1, err)) != RM_OK ||
        (st = open_ds(s, H5X_TDEV, W_U64, 1, &s->d_tdev, d1, err)) != RM_OK ||
        (st = open_ds(s, H5X_FLAGS, W_U16, 1, &s->d_flags, d1, err)) != RM_OK ||
        (st = open_ds(s, H5X_EVENTS, W_COMPOUND, 1, &s->d_events, d1, err)) != RM_OK ||
        (st = check_events_type(s, err)) != RM_OK || (st = count_frames(s, err)) != RM_OK ||
        (st = inspect_raw(s, err)) != RM_OK || (st = read_calibration(s, err)) != RM_OK ||
        (st = read_events(s, err)) != RM_OK || (st = read_references(s, err)) != RM_OK) {
        rm_session_close(s);
        return st;
    }
    if (s->fast) {
        size_t cb = s->chunk * s->px * 2;
        s->dc.dec = libdeflate_alloc_decompressor();
        s->dc.tmp = malloc(cb);
        s->cache = malloc(cb);
        if (!s->dc.dec || !s->dc.tmp || !s->cache) {
            rm_session_close(s);
            return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    *out = s;
    return RM_OK;
}

const rm_header *rm_session_header(const rm_session *s) { return &s->hdr; }
const rm_device *rm_session_device(const rm_session *s) { return &s->dev; }
const rm_calib *rm_session_calib(const rm_session *s) { return s->calib; }
int rm_session_is_live(const rm_session *s) { return s->live; }
uint64_t rm_session_frames(const rm_session *s) { return s->frames; }
size_t rm_session_chunk_frames(const rm_session *s) { return s->chunk; }
const char *rm_session_path(const rm_session *s) { return s->path; }
const uint8_t *rm_session_mask(const rm_session *s) { return s->mask; }
size_t rm_session_reference_count(const rm_session *s) { return s->nref; }
size_t rm_session_event_count(const rm_session *s) { return s->nevents; }

rm_status rm_session_end_totals(const rm_session *s, rm_end *end)
{
    if (!s->have_end)
        return RM_ERR_NOT_FOUND;
    *end = s->end;
    end->frames_ok = s->frames;
    return RM_OK;
}

rm_status rm_session_refresh(rm_session *s, rm_err *err)
{
    h5x_quiet();
    if (!s->live)
        return RM_OK;
    hid_t ds[6] = {s->d_raw, s->d_time, s->d_seq, s->d_tdev, s->d_flags, s->d_events};
    for (int i = 0; i < 6; i++)
        if (H5Drefresh(ds[i]) < 0)
            return h5x_fail(err, RM_ERR_HDF5, "%s: cannot refresh", s->path);
    s->cache_ci = -1; /* the last chunk may have grown */
    rm_status st = count_frames(s, err);
    if (st == RM_OK)
        st = read_events(s, err);
    return st;
}

rm_status rm_session_event(const rm_session *s, size_t i, rm_event *ev)
{
    if (i >= s->nevents)
        return RM_ERR_RANGE;
    *ev = s->events[i];
    return RM_OK;
}

rm_status rm_session_reference(const rm_session *s, size_t i, const char **name, const char **units,
                               const double **values)
{
    if (i >= s->nref)
        return RM_ERR_RANGE;
    if (name)
        *name = s->ref_name[i];
    if (units)
        *units = s->ref_units[i];
    if (values)
        *values = s->ref_vals[i];
    return RM_OK;
}

void rm_session_sizes(const rm_session *s, uint64_t *stored, uint64_t *raw)
{
    if (stored)
        *stored = H5Dget_storage_size(s->d_raw);
    if (raw)
        *raw = s->frames * s->px * 2;
}

void rm_session_pressure(const rm_session *s, const uint16_t *raw, float *kpa)
{
    rm_calib_pressure(s->calib, raw, kpa);
}

/* ---- reading frames ---- */

/* Inflates and unshuffles one stored chunk of nelem uint16 into out.
 * Pure computation: safe on any thread with its own decoder. */
static int decode_chunk(decoder *dc, const uint8_t *z, size_t zlen, uint32_t fmask, int shuf_idx,
                        int defl_idx, size_t nelem, uint16_t *out)
{
    size_t nbytes = nelem * 2;
    const uint8_t *src = z;
    int deflate = defl_idx >= 0 && !(fmask & (1u << defl_idx));
    int shuffle = shuf_idx >= 0 && !(fmask & (1u << shuf_idx));
    if (deflate) {
        size_t got = 0;
        if (libdeflate_zlib_decompress(dc->dec, z, zlen, dc->tmp, nbytes, &got) !=
                LIBDEFLATE_SUCCESS ||
            got != nbytes)
            return -1;
        src = dc->tmp;
    } else if (zlen != nbytes) {
        return -1;
    }
    if (shuffle) {
        const uint8_t *lo = src, *hi = src + nelem;
        for (size_t i = 0; i < nelem; i++)
            out[i] = (uint16_t)(lo[i] | (hi[i] << 8));
    } else {
        memcpy(out, src, nbytes);
    }
    return 0;
}

/* Reads chunk ci's stored bytes into *buf (grown as needed). Returns 1 on
 * success, 0 if the chunk must go through H5Dread (unallocated), -1 on
 * error. */
static int fetch_chunk(rm_session *s, uint64_t ci, uint8_t **buf, size_t *cap, size_t *len,
                       uint32_t *fmask)
{
    hsize_t off[3] = {ci * s->chunk, 0, 0};
    hsize_t sz = 0;
    if (H5Dget_chunk_storage_size(s->d_raw, off, &sz) < 0 || sz == 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    if (sz > (hsize_t)s->chunk * s->px * 4 + 1024)
        return -1; /* a stored chunk far larger than it can be */
    if (sz > *cap) {
        uint8_t *nb = realloc(*buf, (size_t)sz);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = (size_t)sz;
    }
    if (H5Dread_chunk(s->d_raw, H5P_DEFAULT, off, fmask, *buf) < 0)
        return -1;
    *len = (size_t)sz;
    return 1;
}

static int read_1d(hid_t d, hid_t mt, uint64_t first, size_t n, void *buf)
{
    if (!buf || !n)
        return 0;
    hsize_t st = first, cnt = n;
    hid_t fs = H5Dget_space(d);
    if (fs < 0)
        return -1;
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    int rc = (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &cnt, NULL) < 0 ||
              H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) < 0)
                 ? -1
                 : 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

static int read_raw_slow(rm_session *s, uint64_t first, size_t n, uint16_t *out)
{
    hsize_t st[3] = {first, 0, 0}, cnt[3] = {n, s->dev.rows, s->dev.cols};
    hid_t fs = H5Dget_space(s->d_raw);
    if (fs < 0)
        return -1;
    hid_t ms = H5Screate_simple(3, cnt, NULL);
    int rc = (H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, cnt, NULL) < 0 ||
              H5Dread(s->d_raw, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, out) < 0)
                 ? -1
                 : 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

rm_status rm_session_read(rm_session *s, uint64_t first, size_t n, uint16_t *raw, double *time_s,
                          uint32_t *seq, uint64_t *t_device_us, uint16_t *flags, rm_err *err)
{
    h5x_quiet(); /* per thread: the caller may not be the opener */
    if (first > s->frames || n > s->frames - first)
        return rm_err_set(err, RM_ERR_RANGE, "%s: frames %llu..%llu requested, the file has %llu",
                          s->path, (unsigned long long)first, (unsigned long long)(first + n),
                          (unsigned long long)s->frames);
    if (!n)
        return RM_OK;
    if (read_1d(s->d_time, H5T_NATIVE_DOUBLE, first, n, time_s) < 0 ||
        read_1d(s->d_seq, H5T_NATIVE_UINT32, first, n, seq) < 0 ||
        read_1d(s->d_tdev, H5T_NATIVE_UINT64, first, n, t_device_us) < 0 ||
        read_1d(s->d_flags, H5T_NATIVE_UINT16, first, n, flags) < 0)
        return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /frames series at frame %llu", s->path,
                        (unsigned long long)first);
    if (!raw)
        return RM_OK;
    uint64_t f = first, end = first + n;
    while (f < end) {
        uint64_t ci = f / s->chunk, c0 = ci * s->chunk;
        size_t o = (size_t)(f - c0);
        size_t take = s->chunk - o;
        if (take > end - f)
            take = (size_t)(end - f);
        uint16_t *dst = raw + (size_t)(f - first) * s->px;
        int got = 0;
        if (s->fast && (int64_t)ci != s->cache_ci) {
            uint32_t fm = 0;
            size_t zl = 0;
            got = fetch_chunk(s, ci, &s->zbuf, &s->zcap, &zl, &fm);
            if (got < 0)
                return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /frames/raw chunk at frame %llu",
                                s->path, (unsigned long long)c0);
            if (got > 0) {
                if (decode_chunk(&s->dc, s->zbuf, zl, fm, s->shuffle_idx, s->deflate_idx,
                                 s->chunk * s->px, s->cache) < 0) {
                    s->cache_ci = -1;
                    return rm_err_set(
                        err, RM_ERR_FORMAT,
                        "%s: /frames/raw chunk at frame %llu is corrupt (inflate failed)", s->path,
                        (unsigned long long)c0);
                }
                s->cache_ci = (int64_t)ci;
            }
        } else if (s->fast) {
            got = 1;
        }
        if (got > 0) {
            memcpy(dst, s->cache + o * s->px, take * s->px * 2);
        } else if (read_raw_slow(s, f, take, dst) < 0) {
            return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /frames/raw at frame %llu", s->path,
                            (unsigned long long)f);
        }
        f += take;
    }
    return RM_OK;
}

/* ---- iterator ---- */

enum { SLOT_FREE, SLOT_PENDING, SLOT_DECODING, SLOT_READY, SLOT_ERROR };

typedef struct slot {
    int state;
    uint64_t first; /* first frame of the batch */
    size_t n;
    size_t off; /* frame offset of `first` in the decoded chunk */
    uint8_t *z;
    size_t zcap, zlen;
    uint32_t fmask;
    uint16_t *raw; /* one chunk */
    double *time;
    uint32_t *seq;
    uint64_t *tdev;
    uint16_t *flags;
} slot;

struct rm_session_iter {
    rm_session *s;
    uint64_t next, end;
    slot *slots;
    unsigned nslots, head, tail, queued;
    int holding; /* slots[head] was handed to the caller */
    decoder main_dc;
    pthread_t *th;
    decoder *th_dc;
    unsigned nth;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void decode_slot(rm_session_iter *it, decoder *dc, slot *sl)
{
    rm_session *s = it->s;
    int rc = decode_chunk(dc, sl->z, sl->zlen, sl->fmask, s->shuffle_idx, s->deflate_idx,
                          s->chunk * s->px, sl->raw);
    pthread_mutex_lock(&it->mu);
    sl->state = rc < 0 ? SLOT_ERROR : SLOT_READY;
    pthread_cond_broadcast(&it->cv);
    pthread_mutex_unlock(&it->mu);
}

/* Claims a pending slot (the one at head first), or NULL. Locked. */
static slot *claim(rm_session_iter *it)
{
    for (unsigned k = 0; k < it->queued; k++) {
        slot *sl = &it->slots[(it->head + k) % it->nslots];
        if (sl->state == SLOT_PENDING) {
            sl->state = SLOT_DECODING;
            return sl;
        }
    }
    return NULL;
}

typedef struct worker_arg {
    rm_session_iter *it;
    decoder *dc;
} worker_arg;

static void *worker(void *arg)
{
    rm_session_iter *it = ((worker_arg *)arg)->it;
    decoder *dc = ((worker_arg *)arg)->dc;
    free(arg);
    pthread_mutex_lock(&it->mu);
    while (!it->stop) {
        slot *sl = claim(it);
        if (!sl) {
            pthread_cond_wait(&it->cv, &it->mu);
            continue;
        }
        pthread_mutex_unlock(&it->mu);
        decode_slot(it, dc, sl);
        pthread_mutex_lock(&it->mu);
    }
    pthread_mutex_unlock(&it->mu);
    return NULL;
}

static int decoder_init(decoder *dc, size_t bytes)
{
    dc->dec = libdeflate_alloc_decompressor();
    dc->tmp = malloc(bytes);
    return dc->dec && dc->tmp ? 0 : -1;
}

static void decoder_free(decoder *dc)
{
    if (dc->dec)
        libdeflate_free_decompressor(dc->dec);
    free(dc->tmp);
}

void rm_session_iter_free(rm_session_iter *it)
{
    if (!it)
        return;
    if (it->nth) {
        pthread_mutex_lock(&it->mu);
        it->stop = 1;
        pthread_cond_broadcast(&it->cv);
        pthread_mutex_unlock(&it->mu);
        for (unsigned i = 0; i < it->nth; i++)
            pthread_join(it->th[i], NULL);
        for (unsigned i = 0; i < it->nth; i++)
            decoder_free(&it->th_dc[i]);
    }
    pthread_mutex_destroy(&it->mu);
    pthread_cond_destroy(&it->cv);
    for (unsigned i = 0; it->slots && i < it->nslots; i++) {
        slot *sl = &it->slots[i];
        free(sl->z);
        free(sl->raw);
        free(sl->time);
        free(sl->seq);
        free(sl->tdev);
        free(sl->flags);
    }
    free(it->slots);
    decoder_free(&it->main_dc);
    free(it->th);
    free(it->th_dc);
    free(it);
}

rm_status rm_session_iter_new(rm_session *s, uint64_t first, unsigned nthreads,
                              rm_session_iter **out, rm_err *err)
{
    *out = NULL;
    if (first > s->frames)
        return rm_err_set(err, RM_ERR_RANGE, "%s: iteration from frame %llu, the file has %llu",
                          s->path, (unsigned long long)first, (unsigned long long)s->frames);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > 16)
        nthreads = 16;
    rm_session_iter *it = calloc(1, sizeof *it);
    if (!it)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", s->path);
    pthread_mutex_init(&it->mu, NULL);
    pthread_cond_init(&it->cv, NULL);
    it->s = s;
    it->next = first;
    it->end = s->frames;
    it->nslots = s->fast ? 2 + 2 * nthreads : 1;
    it->slots = calloc(it->nslots, sizeof *it->slots);
    size_t C = s->chunk;
    int bad = !it->slots;
    for (unsigned i = 0; !bad && i < it->nslots; i++) {
        slot *sl = &it->slots[i];
        sl->raw = malloc(C * s->px * 2);
        sl->time = malloc(C * sizeof(double));
        sl->seq = malloc(C * sizeof(uint32_t));
        sl->tdev = malloc(C * sizeof(uint64_t));
        sl->flags = malloc(C * sizeof(uint16_t));
        bad = !sl->raw || !sl->time || !sl->seq || !sl->tdev || !sl->flags;
    }
    if (!bad && s->fast)
        bad = decoder_init(&it->main_dc, C * s->px * 2) < 0;
    if (!bad && s->fast && nthreads > 1) {
        unsigned want = nthreads - 1;
        it->th = calloc(want, sizeof *it->th);
        it->th_dc = calloc(want, sizeof *it->th_dc);
        bad = !it->th || !it->th_dc;
        for (unsigned i = 0; !bad && i < want; i++) {
            if (decoder_init(&it->th_dc[i], C * s->px * 2) < 0) {
                decoder_free(&it->th_dc[i]);
                bad = 1;
                break;
            }
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) {
                decoder_free(&it->th_dc[i]);
                bad = 1;
                break;
            }
            wa->it = it;
            wa->dc = &it->th_dc[i];
            if (pthread_create(&it->th[i], NULL, worker, wa) != 0) {
                free(wa);
                decoder_free(&it->th_dc[i]);
                break; /* fewer workers is still correct */
            }
            it->nth++;
        }
    }
    if (bad) {
        rm_session_iter_free(it);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory for the frame iterator", s->path);
    }
    *out = it;
    return RM_OK;
}

/* Loads the next batch into a free slot (HDF5 calls: caller's thread). */
static rm_status load_slot(rm_session_iter *it, slot *sl, rm_err *err)
{
    rm_session *s = it->s;
    uint64_t f = it->next, ci = f / s->chunk, c0 = ci * s->chunk;
    size_t off = (size_t)(f - c0);
    size_t n = s->chunk - off;
    if (n > it->end - f)
        n = (size_t)(it->end - f);
    sl->first = f;
    sl->n = n;
    if (read_1d(s->d_time, H5T_NATIVE_DOUBLE, f, n, sl->time) < 0 ||
        read_1d(s->d_seq, H5T_NATIVE_UINT32, f, n, sl->seq) < 0 ||
        read_1d(s->d_tdev, H5T_NATIVE_UINT64, f, n, sl->tdev) < 0 ||
        read_1d(s->d_flags, H5T_NATIVE_UINT16, f, n, sl->flags) < 0)
        return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /frames series at frame %llu", s->path,
                        (unsigned long long)f);
    int got = 0;
    if (s->fast) {
        got = fetch_chunk(s, ci, &sl->z, &sl->zcap, &sl->zlen, &sl->fmask);
        if (got < 0)
            return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /frames/raw chunk at frame %llu",
                            s->path, (unsigned long long)c0);
    }
    it->next = f + n;
    if (got > 0) {
        sl->off = off;
        sl->state = SLOT_PENDING;
        return RM_OK;
    }
    sl->off = 0;
    if (read_raw_slow(s, f, n, sl->raw) < 0)
        return h5x_fail(err, RM_ERR_HDF5, "%s: cannot read /frames/raw at frame %llu", s->path,
                        (unsigned long long)f);
    sl->state = SLOT_READY;
    return RM_OK;
}

rm_status rm_session_iter_next(rm_session_iter *it, rm_session_batch *b, rm_err *err)
{
    h5x_quiet();
    memset(b, 0, sizeof *b);
    pthread_mutex_lock(&it->mu);
    if (it->holding) {
        it->slots[it->head].state = SLOT_FREE;
        it->head = (it->head + 1) % it->nslots;
        it->queued--;
        it->holding = 0;
    }
    pthread_mutex_unlock(&it->mu);
    rm_status st = RM_OK;
    while (it->queued < it->nslots && it->next < it->end) {
        slot *sl = &it->slots[it->tail];
        /* The slot is FREE: no worker touches it, no lock needed to fill. */
        st = load_slot(it, sl, err);
        if (st != RM_OK)
            break;
        pthread_mutex_lock(&it->mu);
        it->tail = (it->tail + 1) % it->nslots;
        it->queued++;
        pthread_cond_broadcast(&it->cv);
        pthread_mutex_unlock(&it->mu);
    }
    if (it->queued == 0)
        return st; /* the end, or a load error */
    slot *h = &it->slots[it->head];
    pthread_mutex_lock(&it->mu);
    while (h->state != SLOT_READY && h->state != SLOT_ERROR) {
        slot *mine = claim(it);
        if (mine) {
            pthread_mutex_unlock(&it->mu);
            decode_slot(it, &it->main_dc, mine);
            pthread_mutex_lock(&it->mu);
        } else {
            pthread_cond_wait(&it->cv, &it->mu);
        }
    }
    it->holding = 1;
    int failed = h->state == SLOT_ERROR;
    pthread_mutex_unlock(&it->mu);
    if (failed)
        return rm_err_set(err, RM_ERR_FORMAT,
                          "%s: /frames/raw chunk at frame %llu is corrupt (inflate failed)",
                          it->s->path, (unsigned long long)(h->first - h->off));
    b->first = h->first;
    b->n = h->n;
    b->raw = h->raw + h->off * it->s->px;
    b->time_s = h->time;
    b->seq = h->seq;
    b->t_device_us = h->tdev;
    b->flags = h->flags;
    return st;
}

/* ---- replay ---- */

rm_status rm_session_replay(rm_session *s, const rm_sink *sink, rm_err *err)
{
    rm_status st = rm_sink_send(sink, RM_PKT_HEADER, &s->hdr, err);
    if (st == RM_OK)
        st = rm_sink_send(sink, RM_PKT_DEVICE, &s->dev, err);
    if (st == RM_OK)
        st = rm_sink_send(sink, RM_PKT_CALIB, s->calib, err);
    rm_session_iter *it = NULL;
    if (st == RM_OK)
        st = rm_session_iter_new(s, 0, 2, &it, err);
    size_t ev = 0;
    uint64_t sent = 0;
    while (st == RM_OK) {
        rm_session_batch b;
        if ((st = rm_session_iter_next(it, &b, err)) != RM_OK || b.n == 0)
            break;
        for (size_t i = 0; i < b.n && st == RM_OK; i++) {
            while (ev < s->nevents && s->events[ev].time_s <= b.time_s[i] && st == RM_OK)
                st = rm_sink_send(sink, RM_PKT_EVENT, &s->events[ev++], err);
            if (st != RM_OK)
                break;
            rm_frame fr = {.seq = b.seq[i],
                           .flags = b.flags[i],
                           .t_device_us = b.t_device_us[i],
                           .time_s = b.time_s[i],
                           .rows = s->dev.rows,
                           .cols = s->dev.cols,
                           .raw = b.raw + i * s->px};
            st = rm_sink_send(sink, RM_PKT_FRAME, &fr, err);
            sent++;
        }
    }
    rm_session_iter_free(it);
    while (st == RM_OK && ev < s->nevents)
        st = rm_sink_send(sink, RM_PKT_EVENT, &s->events[ev++], err);
    rm_end end = {0};
    if (s->have_end)
        end = s->end;
    end.frames_ok = sent;
    end.status = st;
    rm_err e2 = {0};
    rm_status st2 = rm_sink_send(sink, RM_PKT_END, &end, st == RM_OK ? err : &e2);
    if (st == RM_OK)
        st = st2;
    rm_status st3 = sink->finish(sink->ctx, st == RM_OK ? err : &e2);
    return st != RM_OK ? st : st3;
}

/* session_writer.c - writes a recording (session file, version 1).
 *
 * Layout: DESIGN.md "Session file, version 1" and docs/format.md.
 * Every object is created in rm_session_writer_create (or by the optional
 * extras before the first append); SWMR starts at the first append, event
 * or flush. /frames/raw is written one whole chunk at a time with
 * H5Dwrite_chunk: the writer shuffles and deflates the chunk itself with
 * libdeflate (plain zlib streams, so every HDF5 reads them with its built-in
 * filters), which is several times faster than HDF5's own zlib path and
 * never rewrites a chunk except at a time-based flush of a partial one. */
#include "rm_session.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <libdeflate.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_version.h"
#include "session_h5.h"

/* Measured (docs/format.md): 40 frames of 64x48 = 240 KiB chunks. */
#define DEFAULT_CHUNK_BYTES (256u * 1024u)
#define SMALL_CHUNK         1024u /* elements per chunk of the 1-D datasets */
#define EVENT_CHUNK         64u

struct rm_session_writer {
    char *path;
    hid_t file;
    hid_t d_raw, d_time, d_seq, d_tdev, d_flags, d_events;
    rm_header hdr;
    rm_device dev;
    size_t px;      /* rows * cols */
    unsigned chunk; /* frames per chunk */
    int level;
    double flush_interval;
    int flush_every_chunk;
    int use_swmr;
    int swmr_on; /* SWMR started: no new objects from now on */
    int failed;  /* a write failed: the file is left as last flushed */
    int has_mask;

    /* The current chunk, kept in memory until it is whole. */
    uint64_t buf_start; /* frame index of buf[0]; a multiple of chunk */
    size_t buf_n;
    size_t buf_on_disk; /* frames of this chunk already in the file */
    uint16_t *b_raw;
    double *b_time;
    uint32_t *b_seq;
    uint64_t *b_tdev;
    uint16_t *b_flags;
    uint8_t *shuf; /* shuffled chunk */
    uint8_t *zbuf; /* compressed chunk */
    size_t zcap;
    struct libdeflate_compressor *zc;

    uint64_t frames; /* appended */
    uint64_t events;
    double first_time, last_time;
    double last_flush;   /* monotonic seconds */
    double last_flush_t; /* frame time at the last flush (first frame's before one) */
    int dirty;

    /* Reference series waiting for their length check at close. */
    size_t nref;
    char (*ref_names)[64];
    size_t *ref_len;

    int have_end;
    rm_end end;
};

static int create_totals(hid_t f);

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = -1;
}

static hid_t group_create(hid_t parent, const char *name)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    /* netCDF-4 needs creation order tracked and indexed to modify files. */
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

/* A dataset with CF attributes. rank 1..3; maxdims[0] may be unlimited. */
static hid_t dataset_create(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                            const hsize_t *maxdims, const hsize_t *chunk, int shuffle_deflate,
                            int level, const char *units, const char *long_name)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_attr_creation_order(dcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    if (chunk) {
        H5Pset_chunk(dcpl, rank, chunk);
        if (shuffle_deflate) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, (unsigned)level);
        }
    }
    if (H5Tget_class(type) != H5T_COMPOUND) {
        uint64_t zero[2] = {0, 0};
        H5Pset_fill_value(dcpl, type, zero);
    }
    hid_t sp = H5Screate_simple(rank, dims, maxdims);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Sclose(sp);
    H5Pclose(dcpl);
    if (d < 0)
        return -1;
    if ((units && h5x_attr_str(d, "units", units) < 0) ||
        (long_name && h5x_attr_str(d, "long_name", long_name) < 0)) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

static int write_all(hid_t d, hid_t mtype, const void *data)
{
    return H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
}

/* The recording's geometry scales at the root, where every group that uses
 * them sees them (netCDF resolves dimensions in a group and its parents). */
static int write_axes(rm_session_writer *w, hid_t *row_scale, hid_t *col_scale)
{
    hsize_t nr = w->dev.rows, nc = w->dev.cols;
    double *pos = malloc(sizeof(double) * (nr > nc ? nr : nc));
    if (!pos)
        return -1;
    int rc = -1;
    double rp = w->dev.row_pitch_mm > 0 ? w->dev.row_pitch_mm : 10.0;
    double cp = w->dev.col_pitch_mm > 0 ? w->dev.col_pitch_mm : 10.0;
    /* The one coordinate contract (DESIGN.md, docs/format.md): x along the
     * rows (the rolling direction), y along the columns, a sensel's centre
     * at (index + 0.5) * pitch from the mat's edge, as the analysis uses.
     * Files before this wrote index * pitch and called rows "y"; nothing
     * reads these scales back, so those files stay readable. */
    *row_scale =
        dataset_create(w->file, "row", H5T_IEEE_F64LE, 1, &nr, NULL, NULL, 0, 0, "cm",
                       "x: sensel centre along the mat (rolling direction), (row + 0.5) * row pitch");
    *col_scale =
        dataset_create(w->file, "col", H5T_IEEE_F64LE, 1, &nc, NULL, NULL, 0, 0, "cm",
                       "y: sensel centre across the mat, (col + 0.5) * col pitch");
    if (*row_scale < 0 || *col_scale < 0)
        goto out;
    if (h5x_attr_str(*row_scale, "axis", "X") < 0 || h5x_attr_str(*col_scale, "axis", "Y") < 0)
        goto out;
    for (hsize_t i = 0; i < nr; i++)
        pos[i] = ((double)i + 0.5) * rp / 10.0;
    if (write_all(*row_scale, H5T_NATIVE_DOUBLE, pos) < 0)
        goto out;
    for (hsize_t i = 0; i < nc; i++)
        pos[i] = ((double)i + 0.5) * cp / 10.0;
    if (write_all(*col_scale, H5T_NATIVE_DOUBLE, pos) < 0)
        goto out;
    if (H5DSset_scale(*row_scale, "row") < 0 || H5DSset_scale(*col_scale, "col") < 0)
        goto out;
    rc = 0;
out:
    free(pos);
    return rc;
}

static int attach2(hid_t d, hid_t rs, hid_t cs, unsigned first)
{
    return (H5DSattach_scale(d, rs, first) < 0 || H5DSattach_scale(d, cs, first + 1) < 0) ? -1 : 0;
}

static int write_calibration(rm_session_writer *w, const rm_calib *calib, hid_t rs, hid_t cs)
{
    rm_calib *own = NULL;
    const rm_calib *c = calib;
    int identity = 0;
    if (!c) {
        if (rm_calib_new(w->dev.rows, w->dev.cols, &own) != RM_OK)
            return -1;
        /* 1 kPa per count over the ADC's range. */
        own->n_knots = 2;
        own->knot_raw[0] = 0.0f;
        own->knot_kpa[0] = 0.0f;
        unsigned bits = w->dev.adc_bits >= 8 && w->dev.adc_bits <= 16 ? w->dev.adc_bits : 16;
        own->knot_raw[1] = own->knot_kpa[1] = (float)((1u << bits) - 1u);
        c = own;
        identity = 1;
    }
    int rc = -1;
    hid_t g = group_create(w->file, "calibration");
    hid_t kn = -1, kr = -1, kk = -1, z = -1, gn = -1;
    if (g < 0)
        goto out;
    hsize_t nk = c->n_knots;
    kn = dataset_create(g, "knot", H5T_STD_I32LE, 1, &nk, NULL, NULL, 0, 0, "1",
                        "index of the response-curve knot");
    kr = dataset_create(g, "knot_raw", H5T_IEEE_F32LE, 1, &nk, NULL, NULL, 0, 0, "counts",
                        "response curve: zero-corrected raw value at the knot");
    kk = dataset_create(g, "knot_kpa", H5T_IEEE_F32LE, 1, &nk, NULL, NULL, 0, 0, "kPa",
                        "response curve: pressure at the knot");
    hsize_t dims[2] = {w->dev.rows, w->dev.cols};
    z = dataset_create(g, "zero", H5T_STD_U16LE, 2, dims, NULL, NULL, 0, 0, "counts",
                       "per-sensel zero offset");
    gn = dataset_create(g, "gain", H5T_IEEE_F32LE, 2, dims, NULL, NULL, 0, 0, "1",
                        "per-sensel gain (1.0 nominal)");
    if (kn < 0 || kr < 0 || kk < 0 || z < 0 || gn < 0)
        goto out;
    int32_t idx[RM_CALIB_MAX_KNOTS];
    for (int i = 0; i < c->n_knots; i++)
        idx[i] = i;
    if (write_all(kn, H5T_NATIVE_INT32, idx) < 0 ||
        write_all(kr, H5T_NATIVE_FLOAT, c->knot_raw) < 0 ||
        write_all(kk, H5T_NATIVE_FLOAT, c->knot_kpa) < 0 ||
        write_all(z, H5T_NATIVE_UINT16, c->zero) < 0 ||
        write_all(gn, H5T_NATIVE_FLOAT, c->gain) < 0)
        goto out;
    if (H5DSset_scale(kn, "knot") < 0 || H5DSattach_scale(kr, kn, 0) < 0 ||
        H5DSattach_scale(kk, kn, 0) < 0 || attach2(z, rs, cs, 0) < 0 || attach2(gn, rs, cs, 0) < 0)
        goto out;
    if (identity && h5x_attr_str(g, "note", "identity: 1 kPa per count (no calibration given)") < 0)
        goto out;
    rc = 0;
out:
    close_id(&kn, H5Dclose);
    close_id(&kr, H5Dclose);
    close_id(&kk, H5Dclose);
    close_id(&z, H5Dclose);
    close_id(&gn, H5Dclose);
    close_id(&g, H5Gclose);
    rm_calib_free(own);
    return rc;
}

static int write_header_attrs(rm_session_writer *w)
{
    hid_t f = w->file;
    const rm_header *h = &w->hdr;
    if (h5x_attr_str(f, "conventions", RM_SESSION_CONVENTIONS) < 0 ||
        h5x_attr_str(f, "created", h->created) < 0 ||
        h5x_attr_str(f, "software", RM_SOFTWARE) < 0 || h5x_attr_str(f, "title", h->title) < 0 ||
        h5x_attr_str(f, "source", h->source) < 0 ||
        h5x_attr_double(f, "created_unix", h->created_unix) < 0 || create_totals(f) < 0)
        return -1;
    hid_t g = group_create(f, "device");
    if (g < 0)
        return -1;
    const rm_device *d = &w->dev;
    uint8_t bits = d->adc_bits;
    int bad = h5x_attr_num(g, "vid", H5T_NATIVE_UINT16, &d->vid) < 0 ||
              h5x_attr_num(g, "pid", H5T_NATIVE_UINT16, &d->pid) < 0 ||
              h5x_attr_str(g, "serial", d->serial) < 0 || h5x_attr_str(g, "model", d->model) < 0 ||
              h5x_attr_str(g, "firmware", d->firmware) < 0 ||
              h5x_attr_num(g, "protocol_version", H5T_NATIVE_UINT16, &d->protocol_version) < 0 ||
              h5x_attr_num(g, "rows", H5T_NATIVE_UINT16, &d->rows) < 0 ||
              h5x_attr_num(g, "cols", H5T_NATIVE_UINT16, &d->cols) < 0 ||
              h5x_attr_double(g, "row_pitch_mm", d->row_pitch_mm) < 0 ||
              h5x_attr_double(g, "col_pitch_mm", d->col_pitch_mm) < 0 ||
              h5x_attr_num(g, "adc_bits", H5T_NATIVE_UINT8, &bits) < 0 ||
              h5x_attr_double(g, "rate_hz", d->rate_hz) < 0;
    H5Gclose(g);
    if (bad)
        return -1;
    g = group_create(f, "subject");
    if (g < 0)
        return -1;
    bad = h5x_attr_str(g, "id", h->subject_id) < 0 ||
          h5x_attr_double(g, "body_mass_kg", h->body_mass_kg) < 0 ||
          h5x_attr_str(g, "notes", h->subject_notes) < 0;
    H5Gclose(g);
    return bad ? -1 : 0;
}

static int create_frames(rm_session_writer *w, hid_t rs, hid_t cs)
{
    hid_t g = group_create(w->file, "frames");
    if (g < 0)
        return -1;
    char units[64];
    snprintf(units, sizeof units, "seconds since %s", w->hdr.created);
    hsize_t zero1 = 0, unl = H5S_UNLIMITED, ch1 = SMALL_CHUNK;
    w->d_time = dataset_create(g, "time", H5T_IEEE_F64LE, 1, &zero1, &unl, &ch1, 0, 0, units,
                               "host time of the frame");
    w->d_seq = dataset_create(g, "seq", H5T_STD_U32LE, 1, &zero1, &unl, &ch1, 0, 0, "1",
                              "device frame sequence number");
    w->d_tdev = dataset_create(g, "t_device_us", H5T_STD_U64LE, 1, &zero1, &unl, &ch1, 0, 0,
                               "microseconds", "device clock at the frame");
    w->d_flags = dataset_create(g, "flags", H5T_STD_U16LE, 1, &zero1, &unl, &ch1, 0, 0, "1",
                                "device frame flags (RM_FLAG_*)");
    hsize_t dims[3] = {0, w->dev.rows, w->dev.cols};
    hsize_t maxd[3] = {H5S_UNLIMITED, w->dev.rows, w->dev.cols};
    hsize_t ch3[3] = {w->chunk, w->dev.rows, w->dev.cols};
    w->d_raw = dataset_create(g, "raw", H5T_STD_U16LE, 3, dims, maxd, ch3, 1, w->level, "counts",
                              "raw sensel value");
    H5Gclose(g);
    if (w->d_time < 0 || w->d_seq < 0 || w->d_tdev < 0 || w->d_flags < 0 || w->d_raw < 0)
        return -1;
    if (H5DSset_scale(w->d_time, "time") < 0 || H5DSattach_scale(w->d_raw, w->d_time, 0) < 0 ||
        attach2(w->d_raw, rs, cs, 1) < 0 || H5DSattach_scale(w->d_seq, w->d_time, 0) < 0 ||
        H5DSattach_scale(w->d_tdev, w->d_time, 0) < 0 ||
        H5DSattach_scale(w->d_flags, w->d_time, 0) < 0)
        return -1;
    hid_t et = h5x_event_type();
    hid_t ft = H5Tcopy(et);
    H5Tpack(ft);
    hsize_t ech = EVENT_CHUNK;
    w->d_events = dataset_create(w->file, "events", ft, 1, &zero1, &unl, &ech, 0, 0, NULL, NULL);
    H5Tclose(ft);
    H5Tclose(et);
    if (w->d_events < 0)
        return -1;
    if (h5x_attr_str(w->d_events, "long_name", "recording events (gap, disconnect, label ...)") <
            0 ||
        h5x_attr_str(w->d_events, "units", "time: seconds since created") < 0)
        return -1;
    return 0;
}

static void writer_free(rm_session_writer *w)
{
    if (!w)
        return;
    close_id(&w->d_raw, H5Dclose);
    close_id(&w->d_time, H5Dclose);
    close_id(&w->d_seq, H5Dclose);
    close_id(&w->d_tdev, H5Dclose);
    close_id(&w->d_flags, H5Dclose);
    close_id(&w->d_events, H5Dclose);
    close_id(&w->file, H5Fclose);
    if (w->zc)
        libdeflate_free_compressor(w->zc);
    free(w->b_raw);
    free(w->b_time);
    free(w->b_seq);
    free(w->b_tdev);
    free(w->b_flags);
    free(w->shuf);
    free(w->zbuf);
    free(w->ref_names);
    free(w->ref_len);
    free(w->path);
    free(w);
}

static rm_status check_device(const char *path, const rm_device *dev, rm_err *err)
{
    if (dev->rows < 1 || dev->rows > RM_MAX_DIM || dev->cols < 1 || dev->cols > RM_MAX_DIM)
        return rm_err_set(err, RM_ERR_ARG, "%s: device geometry %ux%u is outside 1..%d", path,
                          dev->rows, dev->cols, RM_MAX_DIM);
    if (!(dev->rate_hz >= 0) || !isfinite(dev->rate_hz))
        return rm_err_set(err, RM_ERR_ARG, "%s: device rate %g Hz is invalid", path, dev->rate_hz);
    return RM_OK;
}

/* A create that failed after its O_EXCL open (a disk too full for the
 * superblock) leaves an empty file behind. The path did not exist a moment
 * before (checked above), so an empty regular file there now is that
 * leftover: remove it, never anything with content. */
static void remove_empty_leftover(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
        unlink(path);
}

rm_status rm_session_writer_create(const char *path, const rm_header *hdr, const rm_device *dev,
                                   const rm_calib *calib, const rm_session_writer_options *opt,
                                   rm_session_writer **out, rm_err *err)
{
    *out = NULL;
    if (!path || !hdr || !dev)
        return rm_err_set(err, RM_ERR_ARG, "session writer: path, header and device are required");
    rm_status st = check_device(path, dev, err);
    if (st != RM_OK)
        return st;
    if (calib) {
        if (calib->rows != dev->rows || calib->cols != dev->cols)
            return rm_err_set(err, RM_ERR_ARG, "%s: calibration is %ux%u, device is %ux%u", path,
                              calib->rows, calib->cols, dev->rows, dev->cols);
        rm_err e2 = {0};
        if ((st = rm_calib_validate(calib, &e2)) != RM_OK)
            return rm_err_set(err, st, "%s: calibration: %s", path, rm_err_message(&e2, st));
    }
    if (access(path, F_OK) == 0)
        return rm_err_set(err, RM_ERR_IO, "%s: already exists (a recording is never overwritten)",
                          path);
    h5x_quiet();
    rm_session_writer *w = calloc(1, sizeof *w);
    if (!w)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    w->file = w->d_raw = w->d_time = w->d_seq = w->d_tdev = w->d_flags = w->d_events = -1;
    w->path = strdup(path);
    w->hdr = *hdr;
    w->hdr.title[sizeof w->hdr.title - 1] = '\0';
    w->hdr.created[sizeof w->hdr.created - 1] = '\0';
    w->hdr.subject_id[sizeof w->hdr.subject_id - 1] = '\0';
    w->hdr.subject_notes[sizeof w->hdr.subject_notes - 1] = '\0';
    w->hdr.source[sizeof w->hdr.source - 1] = '\0';
    if (!w->hdr.created[0])
        rm_format_iso8601(w->hdr.created_unix, w->hdr.created, sizeof w->hdr.created);
    w->dev = *dev;
    w->dev.serial[sizeof w->dev.serial - 1] = '\0';
    w->dev.model[sizeof w->dev.model - 1] = '\0';
    w->dev.firmware[sizeof w->dev.firmware - 1] = '\0';
    w->px = (size_t)dev->rows * dev->cols;
    size_t frame_bytes = w->px * 2;
    w->flush_interval = opt && opt->flush_interval_s > 0 ? opt->flush_interval_s : 1.0;
    w->flush_every_chunk = opt && opt->flush_every_chunk;
    if (opt && opt->chunk_frames) {
        w->chunk = opt->chunk_frames;
    } else {
        /* About 256 KiB (docs/format.md has the measurements), but no more
         * frames than arrive in one flush interval: a chunk still partial
         * at a flush is rewritten, and SWMR never reuses the old space. */
        w->chunk = (unsigned)(DEFAULT_CHUNK_BYTES / frame_bytes);
        double per_flush = dev->rate_hz * w->flush_interval;
        if (per_flush >= 1 && per_flush < w->chunk)
            w->chunk = (unsigned)per_flush;
    }
    if (w->chunk < 1)
        w->chunk = 1;
    if ((uint64_t)w->chunk * frame_bytes > 64u * 1024 * 1024) {
        free(w->path);
        free(w);
        return rm_err_set(err, RM_ERR_ARG, "%s: chunk of %u frames exceeds 64 MiB", path,
                          opt->chunk_frames);
    }
    w->level = opt && opt->deflate_level >= 0 && opt->deflate_level <= 9 ? opt->deflate_level : 1;
    w->use_swmr = opt ? opt->swmr != 0 : 1;
    size_t cpx = (size_t)w->chunk * w->px;
    w->b_raw = malloc(cpx * 2);
    w->b_time = malloc(sizeof(double) * w->chunk);
    w->b_seq = malloc(sizeof(uint32_t) * w->chunk);
    w->b_tdev = malloc(sizeof(uint64_t) * w->chunk);
    w->b_flags = malloc(sizeof(uint16_t) * w->chunk);
    w->shuf = malloc(cpx * 2);
    /* Level 0 is stored blocks; libdeflate's levels start at 1 for that
     * matter, so level 0 maps to libdeflate 0 (uncompressed blocks). */
    w->zc = libdeflate_alloc_compressor(w->level);
    w->zcap = w->zc ? libdeflate_zlib_compress_bound(w->zc, cpx * 2) : 0;
    w->zbuf = malloc(w->zcap ? w->zcap : 1);
    if (!w->path || !w->b_raw || !w->b_time || !w->b_seq || !w->b_tdev || !w->b_flags || !w->shuf ||
        !w->zc || !w->zbuf) {
        writer_free(w);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory for a %u-frame chunk", path,
                          w->chunk);
    }

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    w->file = H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (w->file < 0) {
        st = h5x_fail(err, RM_ERR_IO, "%s: cannot create", path);
        writer_free(w);
        remove_empty_leftover(path);
        return st;
    }
    hid_t rs = -1, cs = -1;
    const char *what = "header attributes";
    int bad = write_header_attrs(w) < 0;
    if (!bad) {
        what = "/row and /col";
        bad = write_axes(w, &rs, &cs) < 0;
    }
    if (!bad) {
        what = "/calibration";
        bad = write_calibration(w, calib, rs, cs) < 0;
    }
    if (!bad) {
        what = "/frames and /events";
        bad = create_frames(w, rs, cs) < 0;
    }
    close_id(&rs, H5Dclose);
    close_id(&cs, H5Dclose);
    if (bad) {
        st = h5x_fail(err, RM_ERR_HDF5, "%s: cannot create %s", path, what);
        writer_free(w);
        unlink(path);
        return st;
    }
    w->last_flush = mono_now();
    *out = w;
    return RM_OK;
}

static rm_status fail(rm_session_writer *w, rm_err *err, const char *what)
{
    w->failed = 1;
    return h5x_fail(err, RM_ERR_IO, "%s: %s", w->path, what);
}

static hid_t open_raw_dapl(const rm_session_writer *w)
{
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    size_t cb = (size_t)w->chunk * w->px * 2;
    size_t bytes = 4 * cb > 1024 * 1024 ? 4 * cb : 1024 * 1024;
    H5Pset_chunk_cache(dapl, 521, bytes, 1.0);
    return dapl;
}

/* Switches to SWMR. Datasets are reopened afterwards because the switch
 * drops the chunk-cache settings of open datasets (notes/hdf5.md). */
static rm_status start_swmr(rm_session_writer *w, rm_err *err)
{
    if (w->swmr_on || !w->use_swmr)
        return RM_OK;
    close_id(&w->d_raw, H5Dclose);
    close_id(&w->d_time, H5Dclose);
    close_id(&w->d_seq, H5Dclose);
    close_id(&w->d_tdev, H5Dclose);
    close_id(&w->d_flags, H5Dclose);
    close_id(&w->d_events, H5Dclose);
    w->swmr_on = 1;
    if (H5Fstart_swmr_write(w->file) < 0)
        return fail(w, err, "cannot start SWMR writing");
    hid_t dapl = open_raw_dapl(w);
    w->d_raw = H5Dopen2(w->file, H5X_RAW, dapl);
    H5Pclose(dapl);
    w->d_time = H5Dopen2(w->file, H5X_TIME, H5P_DEFAULT);
    w->d_seq = H5Dopen2(w->file, H5X_SEQ, H5P_DEFAULT);
    w->d_tdev = H5Dopen2(w->file, H5X_TDEV, H5P_DEFAULT);
    w->d_flags = H5Dopen2(w->file, H5X_FLAGS, H5P_DEFAULT);
    w->d_events = H5Dopen2(w->file, H5X_EVENTS, H5P_DEFAULT);
    if (w->d_raw < 0 || w->d_time < 0 || w->d_seq < 0 || w->d_tdev < 0 || w->d_flags < 0 ||
        w->d_events < 0)
        return fail(w, err, "cannot reopen datasets after starting SWMR");
    return RM_OK;
}

static rm_status usable(rm_session_writer *w, rm_err *err)
{
    /* HDF5's error printing is a per-thread setting in thread-safe builds,
     * and a recorder may append from another thread than it created on. */
    h5x_quiet();
    if (!w)
        return rm_err_set(err, RM_ERR_ARG, "session writer is NULL");
    if (w->failed)
        return rm_err_set(err, RM_ERR_STATE,
                          "%s: an earlier write failed; the file holds what was flushed", w->path);
    if (!w->swmr_on && w->use_swmr)
        return start_swmr(w, err);
    return RM_OK;
}

static int write_1d(hid_t d, hid_t mtype, uint64_t start, size_t n, const void *data)
{
    hsize_t st = start, cnt = n;
    hid_t fs = H5Dget_space(d);
    if (fs < 0)
        return -1;
    hid_t ms = H5Screate_simple(1, &cnt, NULL);
    int rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &st, NULL, &cnt, NULL) < 0 ||
                     H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, data) < 0
                 ? -1
                 : 0;
    H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

/* Writes the buffered frames: the 1-D series from buf_on_disk on, and the
 * raw chunk whole (HDF5 stores edge chunks whole anyway). */
static rm_status write_buffer(rm_session_writer *w, rm_err *err)
{
    if (w->buf_n == w->buf_on_disk)
        return RM_OK;
    uint64_t end = w->buf_start + w->buf_n;
    hsize_t n1 = end;
    hsize_t n3[3] = {end, w->dev.rows, w->dev.cols};
    size_t off = w->buf_on_disk, cnt = w->buf_n - w->buf_on_disk;
    uint64_t at = w->buf_start + off;
    if (H5Dset_extent(w->d_time, &n1) < 0 || H5Dset_extent(w->d_seq, &n1) < 0 ||
        H5Dset_extent(w->d_tdev, &n1) < 0 || H5Dset_extent(w->d_flags, &n1) < 0 ||
        H5Dset_extent(w->d_raw, n3) < 0)
        return fail(w, err, "cannot extend /frames");
    if (write_1d(w->d_time, H5T_NATIVE_DOUBLE, at, cnt, w->b_time + off) < 0 ||
        write_1d(w->d_seq, H5T_NATIVE_UINT32, at, cnt, w->b_seq + off) < 0 ||
        write_1d(w->d_tdev, H5T_NATIVE_UINT64, at, cnt, w->b_tdev + off) < 0 ||
        write_1d(w->d_flags, H5T_NATIVE_UINT16, at, cnt, w->b_flags + off) < 0)
        return fail(w, err, "cannot write /frames series");

    /* Shuffle (byte planes: all low bytes, then all high bytes), the
     * unwritten tail of a partial chunk is the fill value 0. */
    size_t total = (size_t)w->chunk * w->px;
    size_t used = w->buf_n * w->px;
    uint8_t *lo = w->shuf, *hi = w->shuf + total;
    const uint16_t *src = w->b_raw;
    for (size_t i = 0; i < used; i++) {
        uint16_t v = src[i];
        lo[i] = (uint8_t)v;
        hi[i] = (uint8_t)(v >> 8);
    }
    if (used < total) {
        memset(lo + used, 0, total - used);
        memset(hi + used, 0, total - used);
    }
    size_t zlen = libdeflate_zlib_compress(w->zc, w->shuf, total * 2, w->zbuf, w->zcap);
    if (zlen == 0)
        return rm_err_set(err, RM_ERR_HDF5, "%s: deflate of a chunk failed", w->path);
    hsize_t offset[3] = {w->buf_start, 0, 0};
    if (H5Dwrite_chunk(w->d_raw, H5P_DEFAULT, 0, offset, zlen, w->zbuf) < 0)
        return fail(w, err, "cannot write a chunk of /frames/raw");
    w->buf_on_disk = w->buf_n;
    w->dirty = 1;
    return RM_OK;
}

static rm_status do_flush(rm_session_writer *w, rm_err *err)
{
    rm_status st = write_buffer(w, err);
    if (st != RM_OK)
        return st;
    if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0)
        return fail(w, err, "cannot flush");
    w->dirty = 0;
    w->last_flush = mono_now();
    w->last_flush_t = w->last_time;
    return RM_OK;
}

/* The flush interval counts in host time (a reader following a live
 * recording) and in recorded time (what a full disk or a crash may cost,
 * also when frames come faster than real time). */
static int flush_due(const rm_session_writer *w, double now)
{
    return now - w->last_flush >= w->flush_interval ||
           (w->frames > 0 && w->last_time - w->last_flush_t >= w->flush_interval);
}

/* After an append: a whole chunk is written as soon as it is full, and the
 * file is flushed then unless a flush happened less than MIN_FLUSH_GAP_S
 * ago (each H5Fflush costs about a millisecond: at 1 kHz flushing every
 * chunk would cost more than compressing). A partial chunk is written and
 * flushed only when the flush interval has passed, so readers and a crash
 * lose at most one interval. */
#define MIN_FLUSH_GAP_S 0.1

static rm_status after_append(rm_session_writer *w, rm_err *err)
{
    double t = mono_now();
    if (w->buf_n == w->chunk) {
        rm_status st = write_buffer(w, err);
        /* The flush interval is a promise to readers: it wins over the gap
         * that only saves time (when the interval is the shorter one). */
        double gap = w->flush_interval < MIN_FLUSH_GAP_S ? w->flush_interval : MIN_FLUSH_GAP_S;
        if (st == RM_OK && (w->flush_every_chunk || t - w->last_flush >= gap || flush_due(w, t)))
            st = do_flush(w, err);
        if (st != RM_OK)
            return st;
        w->buf_start += w->chunk;
        w->buf_n = 0;
        w->buf_on_disk = 0;
        return RM_OK;
    }
    if (flush_due(w, t))
        return do_flush(w, err);
    return RM_OK;
}

rm_status rm_session_writer_append(rm_session_writer *w, const rm_frame *frame, rm_err *err)
{
    rm_status st = usable(w, err);
    if (st != RM_OK)
        return st;
    if (!frame || !frame->raw)
        return rm_err_set(err, RM_ERR_ARG, "%s: frame without data", w->path);
    if (frame->rows != w->dev.rows || frame->cols != w->dev.cols)
        return rm_err_set(err, RM_ERR_ARG, "%s: frame is %ux%u, recording is %ux%u", w->path,
                          frame->rows, frame->cols, w->dev.rows, w->dev.cols);
    size_t i = w->buf_n;
    memcpy(w->b_raw + i * w->px, frame->raw, w->px * 2);
    w->b_time[i] = frame->time_s;
    w->b_seq[i] = frame->seq;
    w->b_tdev[i] = frame->t_device_us;
    w->b_flags[i] = frame->flags;
    w->buf_n++;
    w->frames++;
    if (w->frames == 1)
        w->first_time = w->last_flush_t = frame->time_s;
    w->last_time = frame->time_s;
    return after_append(w, err);
}

rm_status rm_session_writer_append_batch(rm_session_writer *w, size_t n, const uint32_t *seq,
                                         const uint16_t *flags, const uint64_t *t_device_us,
                                         const double *time_s, const uint16_t *raw, rm_err *err)
{
    rm_status st = usable(w, err);
    if (st != RM_OK)
        return st;
    if (n && (!raw || !time_s))
        return rm_err_set(err, RM_ERR_ARG, "%s: batch without raw data or times", w->path);
    size_t done = 0;
    while (done < n) {
        size_t take = w->chunk - w->buf_n;
        if (take > n - done)
            take = n - done;
        size_t b = w->buf_n;
        memcpy(w->b_raw + b * w->px, raw + done * w->px, take * w->px * 2);
        memcpy(w->b_time + b, time_s + done, take * sizeof(double));
        for (size_t k = 0; k < take; k++) {
            w->b_seq[b + k] = seq ? seq[done + k] : (uint32_t)(w->frames + k);
            w->b_flags[b + k] = flags ? flags[done + k] : 0;
            w->b_tdev[b + k] = t_device_us ? t_device_us[done + k] : 0;
        }
        if (w->frames == 0)
            w->first_time = w->last_flush_t = time_s[done];
        w->buf_n += take;
        w->frames += take;
        done += take;
        w->last_time = time_s[done - 1];
        if ((st = after_append(w, err)) != RM_OK)
            return st;
    }
    return RM_OK;
}

static rm_status extras_allowed(rm_session_writer *w, const char *what, rm_err *err)
{
    h5x_quiet();
    if (!w)
        return rm_err_set(err, RM_ERR_ARG, "session writer is NULL");
    if (w->swmr_on)
        return rm_err_set(err, RM_ERR_STATE,
                          "%s: %s must be added before the first append, event or flush "
                          "(HDF5 cannot create objects once SWMR writing has started)",
                          w->path, what);
    if (w->failed)
        return rm_err_set(err, RM_ERR_STATE, "%s: an earlier write failed", w->path);
    return RM_OK;
}

rm_status rm_session_writer_set_mask(rm_session_writer *w, const uint8_t *mask, rm_err *err)
{
    rm_status st = extras_allowed(w, "/calibration/mask", err);
    if (st != RM_OK)
        return st;
    if (!mask)
        return rm_err_set(err, RM_ERR_ARG, "%s: mask is NULL", w->path);
    if (w->has_mask)
        return rm_err_set(err, RM_ERR_STATE, "%s: /calibration/mask is already set", w->path);
    hsize_t dims[2] = {w->dev.rows, w->dev.cols};
    hid_t g = H5Gopen2(w->file, "calibration", H5P_DEFAULT);
    hid_t d = g < 0 ? -1
                    : dataset_create(g, "mask", H5T_STD_U8LE, 2, dims, NULL, NULL, 0, 0, "1",
                                     "1 = real sensel, 0 = not a sensel");
    hid_t rs = H5Dopen2(w->file, "row", H5P_DEFAULT);
    hid_t cs = H5Dopen2(w->file, "col", H5P_DEFAULT);
    int bad = d < 0 || rs < 0 || cs < 0 || write_all(d, H5T_NATIVE_UINT8, mask) < 0 ||
              attach2(d, rs, cs, 0) < 0;
    if (bad)
        st = fail(w, err, "cannot write /calibration/mask");
    else
        w->has_mask = 1;
    close_id(&rs, H5Dclose);
    close_id(&cs, H5Dclose);
    close_id(&d, H5Dclose);
    close_id(&g, H5Gclose);
    return st;
}

rm_status rm_session_writer_set_calib_note(rm_session_writer *w, const char *note, rm_err *err)
{
    rm_status st = extras_allowed(w, "the calibration note", err);
    if (st != RM_OK)
        return st;
    if (!note)
        return rm_err_set(err, RM_ERR_ARG, "%s: note is NULL", w->path);
    hid_t g = H5Gopen2(w->file, "calibration", H5P_DEFAULT);
    if (g < 0)
        return fail(w, err, "cannot open /calibration");
    if (H5Aexists(g, "note") > 0)
        H5Adelete(g, "note");
    if (h5x_attr_str(g, "note", note) < 0)
        st = fail(w, err, "cannot write /calibration note");
    H5Gclose(g);
    return st;
}

static int valid_name(const char *name)
{
    if (!name[0] || strlen(name) >= 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return !(name[0] >= '0' && name[0] <= '9');
}

rm_status rm_session_writer_add_reference(rm_session_writer *w, const char *name, const char *units,
                                          const char *long_name, size_t n, const double *values,
                                          rm_err *err)
{
    rm_status st = extras_allowed(w, "a reference series", err);
    if (st != RM_OK)
        return st;
    if (!name || !valid_name(name))
        return rm_err_set(err, RM_ERR_ARG,
                          "%s: reference name '%s' must be 1-63 letters, digits, _ or -", w->path,
                          name ? name : "(null)");
    if (n && !values)
        return rm_err_set(err, RM_ERR_ARG, "%s: reference %s has no values", w->path, name);
    for (size_t i = 0; i < w->nref; i++)
        if (!strcmp(w->ref_names[i], name))
            return rm_err_set(err, RM_ERR_ARG, "%s: reference %s added twice", w->path, name);
    hid_t g = -1;
    if (H5Lexists(w->file, "reference", H5P_DEFAULT) > 0)
        g = H5Gopen2(w->file, "reference", H5P_DEFAULT);
    else
        g = group_create(w->file, "reference");
    if (g < 0)
        return fail(w, err, "cannot create /reference");
    hsize_t dims = n, maxd = H5S_UNLIMITED, ch = SMALL_CHUNK;
    /* No dimension scale: /frames/time is not visible from /reference in
     * netCDF's model, which then names the dimension itself (phony_dim). */
    hid_t d = dataset_create(g, name, H5T_IEEE_F64LE, 1, &dims, &maxd, &ch, 0, 0,
                             units ? units : "1", long_name ? long_name : name);
    H5Gclose(g);
    if (d < 0 || (n && write_all(d, H5T_NATIVE_DOUBLE, values) < 0)) {
        if (d >= 0)
            H5Dclose(d);
        return fail(w, err, "cannot write a /reference series");
    }
    H5Dclose(d);
    char(*nn)[64] = realloc(w->ref_names, (w->nref + 1) * sizeof *nn);
    if (!nn)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", w->path);
    w->ref_names = nn;
    size_t *nl = realloc(w->ref_len, (w->nref + 1) * sizeof *nl);
    if (!nl)
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", w->path);
    w->ref_len = nl;
    snprintf(w->ref_names[w->nref], 64, "%s", name);
    w->ref_len[w->nref] = n;
    w->nref++;
    return RM_OK;
}

rm_status rm_session_writer_add_event(rm_session_writer *w, const rm_event *ev, rm_err *err)
{
    rm_status st = usable(w, err);
    if (st != RM_OK)
        return st;
    if (!ev)
        return rm_err_set(err, RM_ERR_ARG, "%s: event is NULL", w->path);
    rm_event row = *ev;
    row.kind[RM_EVENT_KIND_LEN - 1] = '\0';
    row.text[RM_EVENT_TEXT_LEN - 1] = '\0';
    hsize_t n = w->events + 1;
    hid_t mt = h5x_event_type();
    int bad =
        H5Dset_extent(w->d_events, &n) < 0 || write_1d(w->d_events, mt, w->events, 1, &row) < 0;
    H5Tclose(mt);
    if (bad)
        return fail(w, err, "cannot write /events");
    w->events++;
    w->dirty = 1;
    if (flush_due(w, mono_now()))
        return do_flush(w, err);
    return RM_OK;
}

rm_status rm_session_writer_flush(rm_session_writer *w, rm_err *err)
{
    rm_status st = usable(w, err);
    if (st != RM_OK)
        return st;
    return do_flush(w, err);
}

uint64_t rm_session_writer_frames(const rm_session_writer *w) { return w ? w->frames : 0; }

rm_status rm_session_writer_set_end(rm_session_writer *w, const rm_end *end)
{
    if (!w || !end)
        return RM_ERR_ARG;
    w->end = *end;
    w->have_end = 1;
    return RM_OK;
}

/* Totals known only at the end live in root attributes created up front
 * with placeholder values (HDF5 1.10 cannot create attributes during SWMR,
 * and reopening the file at close would fail while a reader holds it);
 * closing overwrites their values in place. end_status 1 means "no totals":
 * rm_status values are 0 or negative. */
#define TOTALS_CLOSED_LEN 20 /* "YYYY-MM-DDTHH:MM:SSZ" */

static int create_totals(hid_t f)
{
    char blank[TOTALS_CLOSED_LEN + 1];
    memset(blank, ' ', TOTALS_CLOSED_LEN);
    blank[TOTALS_CLOSED_LEN] = '\0';
    int64_t unknown = 1;
    return h5x_attr_str(f, "closed", blank) < 0 || h5x_attr_u64(f, "frames", 0) < 0 ||
                   h5x_attr_u64(f, "events", 0) < 0 || h5x_attr_double(f, "duration_s", 0.0) < 0 ||
                   h5x_attr_u64(f, "frames_corrupt", 0) < 0 ||
                   h5x_attr_u64(f, "frames_truncated", 0) < 0 ||
                   h5x_attr_u64(f, "frames_missing", 0) < 0 ||
                   h5x_attr_u64(f, "garbage_bytes", 0) < 0 ||
                   h5x_attr_num(f, "end_status", H5T_NATIVE_INT64, &unknown) < 0
               ? -1
               : 0;
}

static int set_attr(hid_t f, const char *name, hid_t mtype, const void *v)
{
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = H5Awrite(a, mtype, v) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

static rm_status write_totals(rm_session_writer *w, rm_err *err)
{
    char closed[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rm_format_iso8601((double)ts.tv_sec, closed, sizeof closed);
    char fixed[TOTALS_CLOSED_LEN + 1];
    memset(fixed, ' ', TOTALS_CLOSED_LEN);
    fixed[TOTALS_CLOSED_LEN] = '\0';
    memcpy(fixed, closed, strnlen(closed, TOTALS_CLOSED_LEN));
    hid_t st20 = H5Tcopy(H5T_C_S1);
    H5Tset_size(st20, TOTALS_CLOSED_LEN);
    H5Tset_strpad(st20, H5T_STR_NULLPAD);
    double dur = w->frames ? w->last_time - w->first_time : 0.0;
    hid_t f = w->file;
    int bad = set_attr(f, "closed", st20, fixed) < 0 ||
              set_attr(f, "frames", H5T_NATIVE_UINT64, &w->frames) < 0 ||
              set_attr(f, "events", H5T_NATIVE_UINT64, &w->events) < 0 ||
              set_attr(f, "duration_s", H5T_NATIVE_DOUBLE, &dur) < 0;
    H5Tclose(st20);
    if (!bad && w->have_end) {
        int64_t stv = w->end.status;
        bad = set_attr(f, "frames_corrupt", H5T_NATIVE_UINT64, &w->end.frames_corrupt) < 0 ||
              set_attr(f, "frames_truncated", H5T_NATIVE_UINT64, &w->end.frames_truncated) < 0 ||
              set_attr(f, "frames_missing", H5T_NATIVE_UINT64, &w->end.frames_missing) < 0 ||
              set_attr(f, "garbage_bytes", H5T_NATIVE_UINT64, &w->end.garbage_bytes) < 0 ||
              set_attr(f, "end_status", H5T_NATIVE_INT64, &stv) < 0;
    }
    if (bad)
        return h5x_fail(err, RM_ERR_IO, "%s: cannot write the totals", w->path);
    return RM_OK;
}

/* After a failed write (disk full) HDF5 still holds dirty metadata; letting
 * H5Fclose write it would leave a half-updated file marked as cleanly
 * closed. Instead the file's descriptor is pointed at /dev/null (read-only,
 * so every later write fails and nothing reaches the file), which leaves it
 * exactly as the last successful flush left it: an interrupted SWMR file
 * that opens with SWMR-read and holds every flushed frame. */
static void abandon_file(rm_session_writer *w)
{
    void *handle = NULL;
    if (H5Fget_vfd_handle(w->file, H5P_DEFAULT, &handle) < 0 || !handle)
        return;
    int fd = *(int *)handle;
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, fd);
        close(nul);
    }
    H5Eclear2(H5E_DEFAULT);
}

rm_status rm_session_writer_close(rm_session_writer *w, rm_err *err)
{
    if (!w)
        return RM_OK;
    h5x_quiet();
    rm_status st = RM_OK;
    if (!w->failed) {
        if (w->use_swmr && !w->swmr_on)
            st = start_swmr(w, err);
        if (st == RM_OK)
            st = do_flush(w, err);
    }
    for (size_t i = 0; st == RM_OK && i < w->nref; i++)
        if (w->ref_len[i] != w->frames)
            st = rm_err_set(err, RM_ERR_LENGTH,
                            "%s: /reference/%s has %zu values, recording has %llu frames", w->path,
                            w->ref_names[i], w->ref_len[i], (unsigned long long)w->frames);
    int failed = w->failed;
    if (st == RM_OK && !failed)
        st = write_totals(w, err);
    close_id(&w->d_raw, H5Dclose);
    close_id(&w->d_time, H5Dclose);
    close_id(&w->d_seq, H5Dclose);
    close_id(&w->d_tdev, H5Dclose);
    close_id(&w->d_flags, H5Dclose);
    close_id(&w->d_events, H5Dclose);
    if (w->file >= 0) {
        if (failed)
            abandon_file(w);
        herr_t rc = H5Fclose(w->file);
        w->file = -1;
        if (failed) {
            H5Eclear2(H5E_DEFAULT);
            if (st == RM_OK)
                st = rm_err_set(err, RM_ERR_IO,
                                "%s: closed after a failed write; it holds what was flushed",
                                w->path);
        } else if (rc < 0 && st == RM_OK) {
            st = h5x_fail(err, RM_ERR_IO, "%s: cannot close", w->path);
        }
    }
    writer_free(w);
    return st;
}

/* ---- the writer as a packet sink ---- */

typedef struct sink_ctx {
    char *path;
    rm_session_writer_options opt;
    int has_opt;
    rm_header hdr;
    rm_device dev;
    rm_calib *calib;
    int got_header, got_device, ended;
    rm_session_writer *w;
} sink_ctx;

static rm_status sink_open(sink_ctx *c, rm_err *err)
{
    if (c->w)
        return RM_OK;
    if (!c->got_header || !c->got_device)
        return rm_err_set(err, RM_ERR_STATE, "%s: stream has frames before its %s packet", c->path,
                          c->got_header ? "DEVICE" : "HEADER");
    return rm_session_writer_create(c->path, &c->hdr, &c->dev, c->calib,
                                    c->has_opt ? &c->opt : NULL, &c->w, err);
}

static rm_status sink_receive(void *ctx, const rm_packet *pkt, rm_err *err)
{
    sink_ctx *c = ctx;
    rm_status st;
    switch (pkt->type) {
    case RM_PKT_HEADER:
        c->hdr = *pkt->u.header;
        c->got_header = 1;
        return RM_OK;
    case RM_PKT_DEVICE:
        c->dev = *pkt->u.device;
        c->got_device = 1;
        return RM_OK;
    case RM_PKT_CALIB:
        if (c->w)
            return rm_err_set(err, RM_ERR_STATE, "%s: CALIB packet after the first frame", c->path);
        rm_calib_free(c->calib);
        c->calib = NULL;
        return rm_calib_copy(pkt->u.calib, &c->calib) == RM_OK
                   ? RM_OK
                   : rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", c->path);
    case RM_PKT_FRAME:
        if ((st = sink_open(c, err)) != RM_OK)
            return st;
        return rm_session_writer_append(c->w, pkt->u.frame, err);
    case RM_PKT_EVENT:
        if ((st = sink_open(c, err)) != RM_OK)
            return st;
        return rm_session_writer_add_event(c->w, pkt->u.event, err);
    case RM_PKT_END:
        if (c->ended)
            return RM_OK;
        c->ended = 1;
        if (!c->w && c->got_header && c->got_device && (st = sink_open(c, err)) != RM_OK)
            return st;
        if (!c->w)
            return RM_OK;
        rm_session_writer_set_end(c->w, pkt->u.end);
        st = rm_session_writer_close(c->w, err);
        c->w = NULL;
        return st;
    }
    return rm_err_set(err, RM_ERR_ARG, "%s: unknown packet type %d", c->path, (int)pkt->type);
}

static rm_status sink_finish(void *ctx, rm_err *err)
{
    sink_ctx *c = ctx;
    rm_status st = RM_OK;
    if (c->w)
        st = rm_session_writer_close(c->w, err);
    rm_calib_free(c->calib);
    free(c->path);
    free(c);
    return st;
}

rm_status rm_session_sink_new(const char *path, const rm_session_writer_options *opt, rm_sink *sink,
                              rm_err *err)
{
    if (!path || !sink)
        return rm_err_set(err, RM_ERR_ARG, "session sink: path and sink are required");
    sink_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return rm_err_set(err, RM_ERR_NOMEM, "%s: out of memory", path);
    }
    if (opt) {
        c->opt = *opt;
        c->has_opt = 1;
    }
    sink->ctx = c;
    sink->receive = sink_receive;
    sink->finish = sink_finish;
    return RM_OK;
}

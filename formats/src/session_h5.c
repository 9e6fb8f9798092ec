/* session_h5.c - rm_formats' internal HDF5 layer: error translation,
 * attribute helpers, read-only open (session_h5.h). */
#include "session_h5.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_packet.h"

void h5x_quiet(void)
{
    /* No HDF5 clean-up at exit: after a failed write (disk full) the file
     * cannot be closed, and HDF5's exit handler would crash flushing it.
     * Files are closed explicitly; an abandoned one stays as last flushed. */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct walk_ctx {
    char *buf;
    size_t cap;
    int n;
} walk_ctx;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    walk_ctx *w = data;
    /* Walking upward, the first entry is the innermost: the real cause. */
    if (w->n++ == 0 && e->desc)
        snprintf(w->buf, w->cap, "%s", e->desc);
    (void)n;
    return 0;
}

void h5x_deepest(char *buf, size_t cap)
{
    walk_ctx w = {buf, cap, 0};
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
    /* HDF5 messages can be long ("... error message = 'No space left on
     * device', ..."); keep one line. */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

rm_status h5x_fail(rm_err *err, rm_status fallback, const char *fmt, ...)
{
    char deep[384];
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    h5x_deepest(deep, sizeof deep);
    rm_status st = fallback;
    if (strstr(deep, "No space left") || strstr(deep, "errno = 28") ||
        strstr(deep, "File too large") || strstr(deep, "errno = 27") || strstr(deep, "Disk quota"))
        st = RM_ERR_NO_SPACE;
    else if (strstr(deep, "truncated file"))
        st = RM_ERR_TRUNCATED;
    else if (strstr(deep, "already open for write"))
        st = RM_ERR_BUSY;
    H5Eclear2(H5E_DEFAULT);
    if (st == RM_ERR_NO_SPACE)
        return rm_err_set(err, st, "%s: disk full (%s)", prefix, deep);
    if (deep[0])
        return rm_err_set(err, st, "%s: %s", prefix, deep);
    return rm_err_set(err, st, "%s", prefix);
}

int h5x_attr_num(hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0)
        return -1;
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (a >= 0) {
        rc = H5Awrite(a, type, value) < 0 ? -1 : 0;
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}

int h5x_attr_double(hid_t obj, const char *name, double value)
{
    return h5x_attr_num(obj, name, H5T_NATIVE_DOUBLE, &value);
}

int h5x_attr_u64(hid_t obj, const char *name, uint64_t value)
{
    return h5x_attr_num(obj, name, H5T_NATIVE_UINT64, &value);
}

int h5x_attr_int(hid_t obj, const char *name, int value)
{
    return h5x_attr_num(obj, name, H5T_NATIVE_INT, &value);
}

int h5x_attr_str(hid_t obj, const char *name, const char *value)
{
    size_t len = strlen(value);
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    /* Exactly the text, padded with NULs: how netCDF and h5py write text. */
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = sp < 0 ? -1 : H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (a >= 0) {
        rc = H5Awrite(a, t, len ? value : "") < 0 ? -1 : 0;
        H5Aclose(a);
    }
    if (sp >= 0)
        H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int attr_single(hid_t a)
{
    hid_t sp = H5Aget_space(a);
    if (sp < 0)
        return 0;
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    return n == 1;
}

int h5x_read_attr_str(hid_t obj, const char *name, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = -2;
    hid_t ft = H5Aget_type(a);
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING && attr_single(a)) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0) {
                snprintf(buf, cap, "%s", s ? s : "");
                rc = 0;
                if (s)
                    H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ft);
            char *tmp = calloc(1, sz + 1);
            hid_t mt = H5Tcopy(ft);
            H5Tset_strpad(mt, H5T_STR_NULLPAD);
            if (tmp && H5Aread(a, mt, tmp) >= 0) {
                snprintf(buf, cap, "%s", tmp);
                rc = 0;
            }
            H5Tclose(mt);
            free(tmp);
        }
    }
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int h5x_read_attr_double(hid_t obj, const char *name, double *out)
{
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = -2;
    hid_t ft = H5Aget_type(a);
    H5T_class_t c = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if ((c == H5T_INTEGER || c == H5T_FLOAT) && attr_single(a) &&
        H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0)
        rc = 0;
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

hid_t h5x_open_ro(const char *path)
{
    hid_t f;
    H5E_BEGIN_TRY
    {
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) /* a recording still being written (SWMR) */
            f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    }
    H5E_END_TRY;
    return f;
}

hid_t h5x_event_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rm_event));
    hid_t k = H5Tcopy(H5T_C_S1);
    H5Tset_size(k, RM_EVENT_KIND_LEN);
    H5Tset_strpad(k, H5T_STR_NULLTERM);
    hid_t x = H5Tcopy(H5T_C_S1);
    H5Tset_size(x, RM_EVENT_TEXT_LEN);
    H5Tset_strpad(x, H5T_STR_NULLTERM);
    H5Tinsert(t, "time", offsetof(rm_event, time_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "kind", offsetof(rm_event, kind), k);
    H5Tinsert(t, "value", offsetof(rm_event, value), H5T_NATIVE_INT64);
    H5Tinsert(t, "text", offsetof(rm_event, text), x);
    H5Tclose(k);
    H5Tclose(x);
    return t;
}

/* filekind.c - root attributes and file kinds (rm_filekind.h). */
#include "rm_filekind.h"

#include <errno.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_results.h"
#include "rm_session.h"
#include "session_h5.h"

rm_status rm_file_kind_of(const char *path, rm_file_kind *kind, rm_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO, "%s: %s", path,
                          strerror(errno));
    if (!S_ISREG(st.st_mode))
        return rm_err_set(err, RM_ERR_ARG, "%s: not a regular file", path);
    if (access(path, R_OK) != 0)
        return rm_err_set(err, RM_ERR_PERMISSION, "%s: %s", path, strerror(errno));
    h5x_quiet();
    if (H5Fis_hdf5(path) <= 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: not an HDF5 file (%lld bytes)", path,
                          (long long)st.st_size);
    hid_t f = h5x_open_ro(path);
    if (f < 0)
        return rm_err_set(
            err, RM_ERR_FORMAT,
            "%s: HDF5 signature but the file cannot be opened (truncated or damaged?)", path);
    char conv[128];
    int rc = h5x_read_attr_str(f, "conventions", conv, sizeof conv);
    H5Fclose(f);
    if (rc != 0)
        return rm_err_set(
            err, RM_ERR_FORMAT,
            "%s: an HDF5 file without a \"conventions\" attribute: not a rollmat file", path);
    if (!strcmp(conv, RM_RESULTS_CONVENTIONS))
        *kind = RM_FILE_RESULTS;
    else if (!strcmp(conv, RM_SESSION_CONVENTIONS))
        *kind = RM_FILE_RECORDING;
    else if (!strncmp(conv, "rollmat-", 8))
        return rm_err_set(err, RM_ERR_VERSION,
                          "%s: conventions \"%s\" is a version this software does not read", path,
                          conv);
    else
        return rm_err_set(err, RM_ERR_FORMAT, "%s: conventions \"%s\": not a rollmat file", path,
                          conv);
    return RM_OK;
}

rm_status rm_file_root_strings(const char *path, const char *const *names, char *const *values,
                               size_t n, size_t cap, rm_err *err)
{
    h5x_quiet();
    hid_t f = h5x_open_ro(path);
    if (f < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: cannot be opened as HDF5", path);
    rm_status st = RM_OK;
    for (size_t i = 0; i < n; i++)
        if (h5x_read_attr_str(f, names[i], values[i], cap) != 0 && st == RM_OK)
            st = rm_err_set(err, RM_ERR_NOT_FOUND, "%s: / has no string attribute '%s'", path,
                            names[i]);
    H5Fclose(f);
    return st;
}

rm_status rm_file_set_root_string(const char *path, const char *name, const char *value,
                                  rm_err *err)
{
    h5x_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: cannot be opened for writing as HDF5", path);
    int rc = H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0 ? -1 : 0;
    rc = rc ? rc : h5x_attr_str(f, name, value);
    rc = H5Fclose(f) < 0 ? -1 : rc;
    if (rc)
        return rm_err_set(err, RM_ERR_IO, "%s: cannot write the root attribute '%s'", path, name);
    return RM_OK;
}

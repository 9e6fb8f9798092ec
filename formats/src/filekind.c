/* filekind.c - root attributes and file kinds (rm_filekind.h). */
#include "rm_filekind.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_results.h"
#include "rm_session.h"
#include "session_h5.h"

/* The kinds and the major version of each this software reads. */
static const struct {
    const char *prefix; /* "rollmat-KIND-" */
    const char *what;   /* for messages */
    long major;
    rm_file_kind kind;
} kinds[] = {
    {"rollmat-session-", "session", 1, RM_FILE_RECORDING},
    {"rollmat-results-", "results", 1, RM_FILE_RESULTS},
};

rm_status rm_conventions_check(const char *path, const char *conv, rm_file_kind *kind, rm_err *err)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t pl = strlen(kinds[i].prefix);
        if (strncmp(conv, kinds[i].prefix, pl) != 0)
            continue;
        const char *v = conv + pl;
        char *end = NULL;
        long major = isdigit((unsigned char)v[0]) ? strtol(v, &end, 10) : -1;
        /* MAJOR or MAJOR.MINOR, digits only: "1", "1.9", not "1.", "1x" */
        int ok = end && (*end == 0 || (end[0] == '.' && isdigit((unsigned char)end[1])));
        if (ok && *end == '.') {
            const char *m = end + 1;
            while (isdigit((unsigned char)*m))
                m++;
            ok = *m == 0;
        }
        if (!ok)
            return rm_err_set(err, RM_ERR_FORMAT,
                              "%s: conventions \"%s\" has no valid version number (expected "
                              "%s%ld or %s%ld.MINOR)",
                              path, conv, kinds[i].prefix, kinds[i].major, kinds[i].prefix,
                              kinds[i].major);
        if (major != kinds[i].major)
            return rm_err_set(err, RM_ERR_VERSION,
                              "%s: %s is %s format version %ld; this rollmat reads version %ld "
                              "(%ld.x)",
                              path, conv, kinds[i].what, major, kinds[i].major, kinds[i].major);
        if (kind)
            *kind = kinds[i].kind;
        return RM_OK;
    }
    if (!strncmp(conv, "rollmat-", 8))
        return rm_err_set(err, RM_ERR_VERSION,
                          "%s: conventions \"%s\" is a kind of rollmat file this software "
                          "does not read",
                          path, conv);
    return rm_err_set(err, RM_ERR_FORMAT, "%s: conventions \"%s\": not a rollmat file", path, conv);
}

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
    return rm_conventions_check(path, conv, kind, err);
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

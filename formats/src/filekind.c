/* filekind.c - root attributes and file kinds (rm_filekind.h). */
#include "rm_filekind.h"

#include <hdf5.h>

#include "session_h5.h"

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

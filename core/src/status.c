#include "rm_status.h"

#include <stdio.h>
#include <string.h>

/* Kept in step with the enum; a test walks every code. */
static const struct {
    rm_status code;
    const char *name;
    const char *text;
} status_table[] = {
    {RM_OK, "RM_OK", "success"},
    {RM_ERR_NOMEM, "RM_ERR_NOMEM", "out of memory"},
    {RM_ERR_ARG, "RM_ERR_ARG", "invalid argument"},
    {RM_ERR_IO, "RM_ERR_IO", "input/output error"},
    {RM_ERR_TRUNCATED, "RM_ERR_TRUNCATED", "data truncated"},
    {RM_ERR_MAGIC, "RM_ERR_MAGIC", "bad magic number"},
    {RM_ERR_VERSION, "RM_ERR_VERSION", "unsupported version"},
    {RM_ERR_LENGTH, "RM_ERR_LENGTH", "inconsistent length"},
    {RM_ERR_CRC, "RM_ERR_CRC", "CRC mismatch"},
    {RM_ERR_RANGE, "RM_ERR_RANGE", "value out of range"},
    {RM_ERR_FORMAT, "RM_ERR_FORMAT", "malformed input"},
    {RM_ERR_NOT_FOUND, "RM_ERR_NOT_FOUND", "not found"},
    {RM_ERR_USB, "RM_ERR_USB", "USB error"},
    {RM_ERR_STALL, "RM_ERR_STALL", "request refused by the device (STALL)"},
    {RM_ERR_NO_DEVICE, "RM_ERR_NO_DEVICE", "device disconnected"},
    {RM_ERR_TIMEOUT, "RM_ERR_TIMEOUT", "timed out"},
    {RM_ERR_HDF5, "RM_ERR_HDF5", "HDF5 error"},
    {RM_ERR_UNSUPPORTED, "RM_ERR_UNSUPPORTED", "not supported"},
    {RM_ERR_BUSY, "RM_ERR_BUSY", "resource busy"},
    {RM_ERR_STATE, "RM_ERR_STATE", "operation not valid in this state"},
    {RM_ERR_NO_SPACE, "RM_ERR_NO_SPACE", "no space left on device"},
    {RM_ERR_INTERRUPTED, "RM_ERR_INTERRUPTED", "interrupted"},
    {RM_ERR_PERMISSION, "RM_ERR_PERMISSION", "permission denied"},
    {RM_ERR_TYPE, "RM_ERR_TYPE", "wrong type or shape"},
    {RM_ERR_VALUE, "RM_ERR_VALUE", "invalid value"},
};

const char *rm_strerror(rm_status status)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (status_table[i].code == status)
            return status_table[i].text;
    return "unknown error";
}

const char *rm_status_name(rm_status status)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (status_table[i].code == status)
            return status_table[i].name;
    return "RM_ERR_UNKNOWN";
}

rm_status rm_err_set(rm_err *err, rm_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

rm_status rm_err_prefix(rm_err *err, rm_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    if (err->status != RM_OK && err->msg[0])
        snprintf(old, sizeof old, "%s", err->msg);
    else
        snprintf(old, sizeof old, "%s", rm_strerror(status));
    char joined[sizeof prefix + sizeof old + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, old);
    memcpy(err->msg, joined, sizeof err->msg - 1);
    err->msg[sizeof err->msg - 1] = '\0';
    err->status = status;
    return status;
}

const char *rm_err_message(const rm_err *err, rm_status status)
{
    if (err && err->status != RM_OK && err->msg[0])
        return err->msg;
    return rm_strerror(status);
}

void rm_log(const rm_logger *log, rm_log_level level, const char *fmt, ...)
{
    if (!log || !log->fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->user, level, msg);
}

#include "rm_packet.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

void rm_format_iso8601(double unix_s, char *iso, size_t cap)
{
    time_t t = (time_t)floor(unix_s);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(iso, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* source_int.h - acquire-internal (prefix src_): the one byte-stream loop
 * in source.c that the replay and virtual sources of source_ops.c share. */
#ifndef SOURCE_INT_H
#define SOURCE_INT_H

#include "rm_source.h"

/* One run's input. Everything is borrowed for the run. */
typedef struct src_stream {
    const char *name; /* HEADER source: "replay" or "virtual" */
    const char *what; /* in messages: the path, or "virtual mat" */
    rm_source_read_fn read;
    void *user;
    const rm_device *device; /* NULL = RM-1 defaults; rows/cols 0 = first frame's */
    const rm_calib *calib;   /* NULL = none; dropped if its geometry differs */
    double pace_hz;          /* 0 = as fast as the sinks take them */
    int hold_at_end;         /* keep the recording open at the end until stopped */
} src_stream;

/* The replay/virtual run (contract: rm_source_ops.run). */
rm_status src_stream_run(const src_stream *s, const rm_source_config *cfg, const rm_sink *sinks,
                         size_t nsinks, rm_source_result *res, rm_err *err);

#endif

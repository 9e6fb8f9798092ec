/* rm_packet.h - the typed packet stream that joins sources and sinks.
 *
 * A source (USB mat, saved raw stream, virtual mat, importer) emits packets
 * in this order: HEADER, DEVICE, CALIB (optional), then FRAME and EVENT
 * packets in time order, then exactly one END. A sink receives them through
 * `receive` and must not keep any pointer from a packet after it returns:
 * packets and everything they point to are borrowed; copy what you keep. */
#ifndef RM_PACKET_H
#define RM_PACKET_H

#include <stdint.h>

#include "rm_calib.h"
#include "rm_status.h"

typedef enum rm_packet_type {
    RM_PKT_HEADER = 1,
    RM_PKT_DEVICE,
    RM_PKT_CALIB,
    RM_PKT_FRAME,
    RM_PKT_EVENT,
    RM_PKT_END,
} rm_packet_type;

/* Recording-level facts known at the start. */
typedef struct rm_header {
    char title[128];
    char created[32];    /* ISO 8601 UTC, "2026-11-25T08:00:00Z" */
    double created_unix; /* the same instant, seconds since 1970 (host clock) */
    char subject_id[64]; /* "" if unknown */
    double body_mass_kg; /* 0 if unknown */
    char subject_notes[256];
    char source[64]; /* "usb", "replay", "vmat", "import:tekscan" ... */
} rm_header;

/* The mat, as GET_INFO and the USB descriptors describe it. */
typedef struct rm_device {
    uint16_t vid, pid;
    char serial[64];
    char model[17];
    char firmware[17];
    uint16_t protocol_version;
    uint16_t rows, cols;
    uint8_t adc_bits;
    double row_pitch_mm, col_pitch_mm;
    double rate_hz;
} rm_device;

/* One frame. `raw` is rows*cols row-major counts, borrowed. */
typedef struct rm_frame {
    uint32_t seq;
    uint16_t flags; /* RM_FLAG_* */
    uint64_t t_device_us;
    double time_s; /* host clock, seconds since header.created */
    uint16_t rows, cols;
    const uint16_t *raw;
} rm_frame;

/* Event kinds as stored in /events/kind. */
#define RM_EVENT_GAP        "gap" /* value = frames missing */
#define RM_EVENT_DISCONNECT "disconnect"
#define RM_EVENT_RECONNECT  "reconnect"
#define RM_EVENT_LABEL      "label" /* text = muscle group label */
#define RM_EVENT_NOTE       "note"
#define RM_EVENT_CORRUPT    "corrupt"   /* value = count, text = reason */
#define RM_EVENT_TRUNCATED  "truncated" /* value = bytes, text = reason */
#define RM_EVENT_OVERRUN    "overrun"   /* host ring full: value = frames */

#define RM_EVENT_KIND_LEN 16
#define RM_EVENT_TEXT_LEN 128
typedef struct rm_event {
    double time_s;
    char kind[RM_EVENT_KIND_LEN];
    int64_t value;
    char text[RM_EVENT_TEXT_LEN];
} rm_event;

/* Totals a source knows at the end. */
typedef struct rm_end {
    uint64_t frames_ok;
    uint64_t frames_corrupt;
    uint64_t frames_truncated;
    uint64_t frames_missing; /* sum of seq gaps */
    uint64_t garbage_bytes;
    rm_status status; /* why the stream ended: RM_OK or an error */
} rm_end;

typedef struct rm_packet {
    rm_packet_type type;
    union {
        const rm_header *header;
        const rm_device *device;
        const rm_calib *calib;
        const rm_frame *frame;
        const rm_event *event;
        const rm_end *end;
    } u;
} rm_packet;

/* A sink: `receive` is called for every packet; a non-OK return stops the
 * source, which still delivers END. `finish` is called once after END (or
 * after a failure) and releases the sink's state. `ctx` is owned by the sink. */
typedef struct rm_sink {
    void *ctx;
    rm_status (*receive)(void *ctx, const rm_packet *pkt, rm_err *err);
    rm_status (*finish)(void *ctx, rm_err *err);
} rm_sink;

/* Convenience: wraps a pointer in a packet and hands it to a sink. */
static inline rm_status rm_sink_send(const rm_sink *sink, rm_packet_type type, const void *payload,
                                     rm_err *err)
{
    rm_packet pkt;
    pkt.type = type;
    pkt.u.header = (const rm_header *)payload;
    return sink->receive(sink->ctx, &pkt, err);
}

/* Fills `iso` (at least 32 bytes) with the UTC time `unix_s` as
 * "YYYY-MM-DDTHH:MM:SSZ". */
void rm_format_iso8601(double unix_s, char *iso, size_t cap);

#endif

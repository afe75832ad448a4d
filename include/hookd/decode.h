/* Decoding Kafka messages into events. The plain hookd envelope (schemas/event.schema.json):
 *   {"id": "...", "type": "customer.created", "tenant": "...", "time": "RFC 3339", "data": {...}}
 * Anything else is rejected with a machine-readable reason; the dispatcher dead-letters it. */
#ifndef HOOKD_DECODE_H
#define HOOKD_DECODE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hd_event_s {
    const char *id;     /* borrowed from root */
    const char *type;   /* borrowed from root */
    const char *tenant; /* borrowed from root */
    int64_t time_ms;    /* event time; the Kafka timestamp when the envelope has none */
    json_object *root;  /* owned */
    json_object *data;  /* borrowed from root; NULL when the event has no data */
} hd_event_t;

/* Why a message was rejected: a stable slug for the hookd-reason header and metrics. */
typedef enum {
    HD_DECODE_OK = 0,
    HD_DECODE_EMPTY,
    HD_DECODE_TOO_LARGE,
    HD_DECODE_NOT_JSON,
    HD_DECODE_NOT_OBJECT,
    HD_DECODE_MISSING_ID,
    HD_DECODE_MISSING_TYPE,
    HD_DECODE_MISSING_TENANT,
    HD_DECODE_BAD_TIME,
} hd_decode_err_t;

const char *hd_decode_reason(hd_decode_err_t err);

/* Parses value (not NUL-terminated) of len bytes. On success returns an event the caller owns (free with
 * hd_decode_event_destroy) and *err is HD_DECODE_OK; on failure NULL, *err set and errstr holding a sentence for
 * humans. kafka_ts_ms is the message timestamp, used when the envelope has no time. */
hd_event_t *hd_decode_event(const void *value, size_t len, size_t max_bytes, int64_t kafka_ts_ms,
                            hd_decode_err_t *err, char *errstr, size_t errstr_size);

/* Same as hd_decode_event for an already parsed JSON value. Takes ownership of root on every path. */
hd_event_t *hd_decode_envelope(json_object *root, int64_t kafka_ts_ms, hd_decode_err_t *err, char *errstr,
                               size_t errstr_size);

/* The plain envelope of ev (a new object the caller owns; data is shared): decoding it gives the same event. Used
 * to carry events through retry tiers whatever their original encoding. */
json_object *hd_decode_to_envelope(const hd_event_t *ev);

void hd_decode_event_destroy(hd_event_t *ev);

/* Parses an RFC 3339 / ISO 8601 UTC or offset time ("2026-11-22T06:35:57.123Z", "...+02:00") into ms since the
 * epoch. Returns 0, or -1 when s is not such a time. */
int hd_decode_time(const char *s, int64_t *ms);

#endif

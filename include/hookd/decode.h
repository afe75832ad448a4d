/* Decoding Kafka messages into events. Three shapes are accepted (docs/events.md, schemas/):
 *  - the plain hookd envelope (schemas/event.schema.json):
 *      {"id": "...", "type": "customer.created", "tenant": "...", "time": "RFC 3339", "data": {...}}
 *  - a CloudEvents 1.0 event in the Kafka protocol binding's binary mode: attributes in ce_* headers (ce_id,
 *    ce_type, ce_source, ce_specversion, ce_time, extensions), data in the value, its media type in the
 *    content-type header (data that is neither JSON nor UTF-8 text becomes data_base64, as in the JSON format);
 *  - structured mode: the whole CloudEvent as JSON in the value (content-type: application/cloudevents+json, or
 *    any JSON object with a "specversion" member), binary data as base64 in data_base64.
 * Every shape is normalised to one JSON object (ev->root, the CloudEvents JSON view for CloudEvents) that filters
 * and payload templates address by dotted paths. The tenant is the attribute named by event.tenant.attribute,
 * or else the Kafka header named by event.tenant.header. Anything else is rejected with a machine-readable
 * reason; the dispatcher dead-letters it. */
#ifndef HOOKD_DECODE_H
#define HOOKD_DECODE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { HD_DECODE_ENVELOPE = 0, HD_DECODE_CE_BINARY, HD_DECODE_CE_STRUCTURED } hd_decode_mode_t;

typedef struct hd_event_s {
    const char *id;     /* borrowed from root */
    const char *type;   /* borrowed from root */
    const char *tenant; /* borrowed from root or tenant_buf */
    const char *source; /* borrowed from root; NULL when the envelope has none */
    const char *status; /* the status field's value as text (borrowed from root), NULL when absent */
    int64_t time_ms;    /* event time; the Kafka timestamp when the event has none */
    hd_decode_mode_t mode;
    json_object *root;        /* owned */
    json_object *data;        /* borrowed from root; NULL when the event has no data */
    json_object *data_base64; /* borrowed from root: a CloudEvent's binary data, base64 (data is then NULL) */
    char *tenant_buf;         /* owned; set when the tenant came from a Kafka header */
    /* data as JSON text, byte for byte json-c's serialisation of it, when the message held it in that form (render
     * copies it); in the event's own allocation. NULL otherwise. */
    const char *data_json;
    size_t data_json_len;
} hd_event_t;

/* One Kafka header as librdkafka hands it out: value is not NUL-terminated (NULL for a null header). */
typedef struct hd_decode_header_s {
    const char *name;
    const void *value;
    size_t len;
} hd_decode_header_t;

typedef struct hd_decode_opts_s {
    size_t max_bytes;             /* largest value accepted */
    const char *tenant_attribute; /* event attribute holding the tenant ("tenant") */
    const char *tenant_header;    /* Kafka header used when the attribute is absent; NULL or "" for none */
    const char *status_field;     /* dotted path of the order status ("data.status"); NULL or "" for none */
} hd_decode_opts_t;

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
    HD_DECODE_MISSING_SOURCE,
    HD_DECODE_BAD_SPECVERSION,
    HD_DECODE_BAD_HEADER,
    HD_DECODE_BAD_DATA,
} hd_decode_err_t;

const char *hd_decode_reason(hd_decode_err_t err);

/* Decodes value (not NUL-terminated) of len bytes with its hdr_cnt Kafka headers (hdrs may be NULL when
 * hdr_cnt is 0; neither is taken). On success returns an event the caller owns (free with
 * hd_decode_event_destroy) and *err is HD_DECODE_OK; on failure NULL, *err set and errstr holding a sentence for
 * humans. kafka_ts_ms is the message timestamp, used when the event has no time. */
hd_event_t *hd_decode_event(const void *value, size_t len, const hd_decode_header_t *hdrs, size_t hdr_cnt,
                            const hd_decode_opts_t *opts, int64_t kafka_ts_ms, hd_decode_err_t *err, char *errstr,
                            size_t errstr_size);

/* Same as hd_decode_event for an already parsed JSON value (an envelope or a structured CloudEvent), without
 * Kafka headers. Takes ownership of root on every path. */
hd_event_t *hd_decode_envelope(json_object *root, const hd_decode_opts_t *opts, int64_t kafka_ts_ms,
                               hd_decode_err_t *err, char *errstr, size_t errstr_size);

/* The event view of ev as one object (a new object the caller owns; member values are shared), with the tenant
 * under opts->tenant_attribute and the time made explicit: hd_decode_envelope of it with the same opts gives the
 * same event, CloudEvents attributes included. Used to carry events through retry tiers whatever their original
 * encoding. */
json_object *hd_decode_to_envelope(const hd_event_t *ev, const hd_decode_opts_t *opts);

void hd_decode_event_destroy(hd_event_t *ev);

#endif

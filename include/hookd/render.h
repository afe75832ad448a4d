/* Rendering the payload a subscriber receives (docs/events.md, "Payloads").
 *
 * A subscription's payload shape is its payload_template when it has one, else the built-in shape named by its
 * version:
 *   1 (default) the Standard Webhooks envelope {"type", "timestamp": "<event time, RFC 3339>", "data"}, binary
 *               data (ev->data_base64) as its base64 text in data;
 *   2           the CloudEvents 1.0 JSON format {"specversion", "id", "type", "source", "time",
 *               "datacontenttype", the CloudEvent's other attributes, "data" or "data_base64"}, sent as
 *               application/cloudevents+json.
 * A template is any JSON value whose strings may hold {{path}} placeholders (dotted paths into the decoded event:
 * id, type, source, tenant, time, data....). A string that is exactly one placeholder takes the referenced
 * value with its JSON type (null when the path is missing); placeholders inside a longer string interpolate as
 * text (strings as they are, other values as JSON, missing as nothing). Output is always valid JSON.
 *
 * Bodies are reference-counted: one body is rendered per distinct shape of an event and shared by every
 * subscriber with that shape. */
#ifndef HOOKD_RENDER_H
#define HOOKD_RENDER_H

#include <stddef.h>

#include "hookd/decode.h"

#define HD_RENDER_VERSION_MIN 1
#define HD_RENDER_VERSION_MAX 2

typedef struct hd_render_body_s {
    const char *content_type; /* static string */
    size_t len;
    char data[]; /* NUL-terminated */
} hd_render_body_t;

/* A compiled payload template: immutable, shared by worker threads. */
typedef struct hd_render_tmpl_s hd_render_tmpl_t;

/* Compiles tmpl (any JSON value; does not take it). NULL with errstr when a placeholder is unterminated or
 * empty, or the template nests deeper than 64 levels. */
hd_render_tmpl_t *hd_render_tmpl_new(json_object *tmpl, char *errstr, size_t errstr_size);
void hd_render_tmpl_destroy(hd_render_tmpl_t *t); /* NULL is a no-op */

/* Renders ev in the shape of tmpl when not NULL, else of the built-in version. Returns a body (the caller releases
 * it), or NULL with errstr when the payload would exceed max_bytes (the delivery then fails permanently). */
hd_render_body_t *hd_render_payload(const hd_event_t *ev, int version, const hd_render_tmpl_t *tmpl, size_t max_bytes,
                                    char *errstr, size_t errstr_size);

void hd_render_body_release(hd_render_body_t *b); /* NULL is a no-op */

#endif

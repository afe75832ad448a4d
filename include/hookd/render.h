/* Rendering the payload a subscriber receives. The default is the Standard Webhooks envelope
 * {"type": ..., "timestamp": "<event time, ISO 8601>", "data": ...}; it is the same for every subscriber of an
 * event, so it is rendered once per event and shared (hd_render_body_t is reference-counted). */
#ifndef HOOKD_RENDER_H
#define HOOKD_RENDER_H

#include <stddef.h>

#include "hookd/decode.h"

typedef struct hd_render_body_s {
    int refcnt; /* one worker thread owns a body: no atomics needed */
    size_t len;
    char data[]; /* NUL-terminated */
} hd_render_body_t;

/* Renders the default envelope of ev. Returns a body with refcnt 1 (never NULL). */
hd_render_body_t *hd_render_default(const hd_event_t *ev);

hd_render_body_t *hd_render_body_retain(hd_render_body_t *b);
void hd_render_body_release(hd_render_body_t *b); /* NULL is a no-op */

#endif

#include "hookd/render.h"

#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

hd_render_body_t *hd_render_default(const hd_event_t *ev) {
    char ts[40];
    hd_iso8601(ev->time_ms, ts, sizeof(ts));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(ev->type));
    json_object_object_add(o, "timestamp", json_object_new_string(ts));
    json_object_object_add(o, "data", json_object_get(ev->data)); /* shared, not copied */
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    hd_render_body_t *b = hd_xmalloc(sizeof(*b) + len + 1);
    b->refcnt = 1;
    b->len = len;
    memcpy(b->data, s, len + 1);
    json_object_put(o);
    return b;
}

hd_render_body_t *hd_render_body_retain(hd_render_body_t *b) {
    b->refcnt++;
    return b;
}

void hd_render_body_release(hd_render_body_t *b) {
    if (b && --b->refcnt == 0) free(b);
}

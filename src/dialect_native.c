#include "hookd/dialect_native.h"

#include <stdarg.h>
#include <string.h>

#include "hookd/api_deliveries.h"
#include "hookd/api_event_types.h"
#include "hookd/api_keys.h"
#include "hookd/api_subscriptions.h"

#define MAX_CALL_SEGMENTS 8

void hd_dialect_native_route(hd_api_req_t *r) {
    const char *top = r->nseg ? r->seg[0] : "";
    if (!strcmp(top, "subscriptions"))
        hd_api_subscriptions(r);
    else if (!strcmp(top, "events"))
        hd_api_deliveries(r, NULL);
    else if (!strcmp(top, "event-types"))
        hd_api_event_types(r);
    else if (!strcmp(top, "api-keys"))
        hd_api_keys(r);
    if (!r->reply) hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", r->path);
}

unsigned hd_dialect_native_call(hd_api_req_t *r, const char *method, json_object *body, json_object *query,
                                json_object **reply, ...) {
    const char *seg[MAX_CALL_SEGMENTS];
    int nseg = 0;
    va_list ap;
    va_start(ap, reply);
    for (const char *s = va_arg(ap, const char *); s && nseg < MAX_CALL_SEGMENTS; s = va_arg(ap, const char *))
        seg[nseg++] = s;
    va_end(ap);
    json_object *none = query ? NULL : json_object_new_object();
    hd_api_req_t sub = *r;
    sub.method = method;
    sub.seg = seg;
    sub.nseg = nseg;
    sub.raw_body = NULL;
    sub.raw_len = 0;
    sub.query = query ? query : none;
    sub.body = body;
    sub.tenant_owned = NULL;
    sub.status = 0;
    sub.reply = NULL;
    sub.allow = NULL;
    sub.headers = NULL;
    hd_dialect_native_route(&sub);
    json_object_put(none);
    *reply = sub.reply;
    return sub.status;
}

static void serve(hd_api_req_t *r) {
    static const char *const types[] = {"application/json", NULL};
    if (r->nseg == 0) { /* no resource is there: not found, authenticated or not */
        hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", r->path);
        return;
    }
    if (hd_api_req_authenticate_headers(r) != 1 || hd_api_req_parse_body(r, types)) return;
    hd_dialect_native_route(r);
}

const hd_dialect_t hd_dialect_native = {
    .name = "native",
    .prefix = "/v1/webhooks",
    .serve = serve,
};

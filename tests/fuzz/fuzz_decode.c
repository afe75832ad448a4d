/* Event decoding: input is "name:value" header lines, an empty line, then the message value, so both CloudEvents
 * modes (ce_* headers, content-type) and the plain envelope are reachable. data's kept source text must be json-c's
 * serialisation of data, byte for byte, and the value must be refused as JSON exactly when json-c (with its own
 * UTF-8 check) refuses it, and make the same tree. */
#include <json-c/json.h>
#include <stdlib.h>

#include "fuzz.h"
#include "hookd/decode.h"

#define MAX_HEADERS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char lines[MAX_HEADERS][128];
    hd_decode_header_t hdrs[MAX_HEADERS];
    size_t n = 0;
    const uint8_t *p = data, *rest;
    size_t left = size, rest_len;
    while (left && n < MAX_HEADERS) {
        size_t len = fuzz_split_line(p, left, lines[n], sizeof(lines[n]), &rest, &rest_len);
        p = rest;
        left = rest_len;
        if (!len) break;
        char *colon = strchr(lines[n], ':');
        if (!colon) continue;
        *colon = '\0';
        hdrs[n] = (hd_decode_header_t){lines[n], colon + 1, strlen(colon + 1)};
        n++;
    }
    hd_decode_opts_t opts = {
        .max_bytes = 1 << 16, .tenant_attribute = "tenant", .tenant_header = "x-tenant", .status_field = "data.status"};
    hd_decode_err_t err;
    char errstr[256];
    hd_event_t *ev = hd_decode_event(p, left, hdrs, n, &opts, 1, &err, errstr, sizeof(errstr));
    if (!ev && !hd_decode_reason(err)) abort();
    if (ev && (!ev->id || !ev->type || !ev->tenant)) abort();
    if (ev && ev->data_json) {
        const char *want =
            ev->data ? json_object_to_json_string_ext(ev->data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                     : "null";
        if (strlen(want) != ev->data_json_len || memcmp(want, ev->data_json, ev->data_json_len)) abort();
    }
    hd_decode_event_destroy(ev);

    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, (const char *)p, (int)left);
    int json = o && json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == left;
    json_tokener_free(tok);
    ev = hd_decode_event(p, left, NULL, 0, &opts, 1, &err, errstr, sizeof(errstr));
    if (left && json == (err == HD_DECODE_NOT_JSON)) abort();
    if (ev) { /* the same tree as json-c's */
        const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
        if (strcmp(json_object_to_json_string_ext(o, flags), json_object_to_json_string_ext(ev->root, flags))) abort();
    }
    hd_decode_event_destroy(ev);
    json_object_put(o);
    return 0;
}

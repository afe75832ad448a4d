/* Template render: the first line is the template, the rest a hookd envelope event. Whatever renders must be
 * valid JSON within the size limit, and the built-in shapes the same whether data is copied from its source text
 * or serialised again. */
#include <json-c/json.h>
#include <stdlib.h>

#include "fuzz.h"
#include "hookd/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char tmpl_text[4096], errstr[256];
    const uint8_t *rest;
    size_t rest_len;
    fuzz_split_line(data, size, tmpl_text, sizeof(tmpl_text), &rest, &rest_len);
    json_tokener *tok = json_tokener_new();
    json_object *tj = json_tokener_parse_ex(tok, tmpl_text, (int)strlen(tmpl_text));
    json_tokener_free(tok);
    hd_render_tmpl_t *t = tj ? hd_render_tmpl_new(tj, errstr, sizeof(errstr)) : NULL;
    json_object_put(tj);
    hd_decode_opts_t opts = {.max_bytes = 1 << 16, .tenant_attribute = "tenant"};
    hd_decode_err_t err;
    hd_event_t *ev = hd_decode_event(rest, rest_len, NULL, 0, &opts, 1, &err, errstr, sizeof(errstr));
    if (ev) {
        for (int v = HD_RENDER_VERSION_MIN; v <= HD_RENDER_VERSION_MAX + 1; v++) {
            hd_render_body_t *b =
                hd_render_payload(ev, v, v > HD_RENDER_VERSION_MAX ? t : NULL, 8192, errstr, sizeof(errstr));
            if (b) {
                if (b->len > 8192 || strlen(b->data) != b->len) abort();
                /* The terminating NUL is parsed too: a bare number only ends at a delimiter. */
                json_tokener *check = json_tokener_new();
                json_object *parsed = json_tokener_parse_ex(check, b->data, (int)b->len + 1);
                if (json_tokener_get_error(check) != json_tokener_success || json_tokener_get_parse_end(check) < b->len)
                    abort();
                json_object_put(parsed);
                json_tokener_free(check);
            }
            if (v <= HD_RENDER_VERSION_MAX) {
                hd_event_t again = *ev;
                again.data_json = NULL;
                hd_render_body_t *c = hd_render_payload(&again, v, NULL, 8192, errstr, sizeof(errstr));
                if (!b != !c || (b && (b->len != c->len || memcmp(b->data, c->data, b->len)))) abort();
                hd_render_body_release(c);
            }
            hd_render_body_release(b);
        }
    }
    hd_decode_event_destroy(ev);
    hd_render_tmpl_destroy(t);
    return 0;
}

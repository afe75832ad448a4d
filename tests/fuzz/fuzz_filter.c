/* Filter compile and evaluate: the first line is the query, the rest the document. */
#include <json-c/json.h>
#include <stdlib.h>

#include "fuzz.h"
#include "hookd/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char query_text[4096], errstr[256];
    const uint8_t *rest;
    size_t rest_len;
    fuzz_split_line(data, size, query_text, sizeof(query_text), &rest, &rest_len);
    json_object *q = json_tokener_parse(query_text);
    json_tokener *tok = json_tokener_new();
    json_object *doc = json_tokener_parse_ex(tok, (const char *)rest, (int)rest_len);
    hd_filter_t *f = hd_filter_new(q, errstr, sizeof(errstr));
    if (!f && !errstr[0]) abort(); /* every rejection says why */
    if (f) {
        int r = hd_filter_match(f, doc);
        if (r != 0 && r != 1) abort();
        if (hd_filter_validate(q, errstr, sizeof(errstr))) abort();
    }
    hd_filter_destroy(f);
    json_object_put(doc);
    json_tokener_free(tok);
    json_object_put(q);
    return 0;
}

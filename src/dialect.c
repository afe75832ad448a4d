#include "hookd/dialect.h"

#include <ctype.h>
#include <string.h>

json_object *hd_dialect_member(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

json_object *hd_dialect_data(json_object *reply) {
    return hd_dialect_member(reply, "data");
}

const char *hd_dialect_slug(json_object *reply) {
    json_object *v;
    return json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : NULL;
}

const char *hd_dialect_message(json_object *reply) {
    json_object *v;
    return json_object_object_get_ex(reply, "error", &v) && json_object_object_get_ex(reply, "message", &v)
               ? json_object_get_string(v)
               : NULL;
}

int hd_dialect_parse_id(const char *s, int64_t max, int64_t *out) {
    int64_t n = 0;
    if (!*s || strlen(s) > 18 || (*s == '0')) return -1;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        n = n * 10 + (*p - '0');
    }
    if (n < 1 || n > max) return -1;
    *out = n;
    return 0;
}

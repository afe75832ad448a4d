#include "hookd/jpath.h"

#include <stdlib.h>
#include <string.h>

int hd_jpath_index(const char *seg, size_t *idx) {
    char *end;
    if (*seg < '0' || *seg > '9') return 0;
    unsigned long long v = strtoull(seg, &end, 10);
    *idx = (size_t)v;
    return !*end;
}

json_object *hd_jpath_get(json_object *doc, const char *path) {
    json_object *v = doc;
    char seg[256];
    for (const char *p = path; v;) {
        size_t len = strcspn(p, ".");
        if (len >= sizeof(seg)) return NULL;
        memcpy(seg, p, len);
        seg[len] = '\0';
        size_t idx;
        if (json_object_is_type(v, json_type_object)) {
            if (!json_object_object_get_ex(v, seg, &v)) return NULL;
        } else if (json_object_is_type(v, json_type_array) && hd_jpath_index(seg, &idx)) {
            v = json_object_array_get_idx(v, idx);
        } else {
            return NULL;
        }
        if (!p[len]) return v;
        p += len + 1;
    }
    return NULL;
}

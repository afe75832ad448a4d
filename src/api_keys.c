#include "hookd/api_keys.h"

#include <string.h>

#include "hookd/api_json.h"
#include "hookd/api_page.h"
#include "hookd/apikey.h"
#include "hookd/mongo.h"

static json_object *key_json(const bson_t *doc) {
    static const char *const keys[] = {"id", "tenant", "admin", "created_at"};
    json_object *raw = hd_api_json_from_bson(doc), *o = json_object_new_object(), *v;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_object_add(o, keys[i], json_object_object_get_ex(raw, keys[i], &v) ? json_object_get(v) : NULL);
    json_object_put(raw);
    return o;
}

void hd_api_keys(hd_api_req_t *r) {
    if (r->nseg > 2) return;
    if (!r->admin) {
        hd_api_req_error(r, 403, "forbidden", NULL, "API keys are managed with an admin API key");
        return;
    }
    if (r->nseg == 1) {
        if (strcmp(r->method, "GET")) {
            hd_api_req_not_allowed(r, "GET");
            return;
        }
        static const char *const params[] = {HD_API_PAGE_PARAMS, "tenant", NULL};
        if (!hd_api_req_params(r, params)) return;
        const char *tenant = hd_api_req_query(r, "tenant");
        bson_t *filter = tenant ? BCON_NEW("tenant", BCON_UTF8(tenant)) : bson_new();
        hd_api_page_list(r, HD_MONGO_API_KEYS, filter, "_id", 0, key_json);
        bson_destroy(filter);
        return;
    }
    if (strcmp(r->method, "DELETE")) {
        hd_api_req_not_allowed(r, "DELETE");
        return;
    }
    if (!hd_api_req_params(r, NULL)) return;
    char err[256];
    int rc = hd_apikey_revoke(r->client, r->database, r->seg[1], err, sizeof(err));
    if (rc < 0)
        hd_api_req_internal(r, "revoking the API key", err);
    else if (rc == 0)
        hd_api_req_error(r, 404, "not-found", NULL, "no API key %s", r->seg[1]);
    else
        hd_api_req_ok(r, 200, NULL);
}

#include "hookd/api_subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/alias.h"
#include "hookd/api_deliveries.h"
#include "hookd/api_event_types.h"
#include "hookd/api_json.h"
#include "hookd/api_page.h"
#include "hookd/deliverylog.h"
#include "hookd/evtype.h"
#include "hookd/log.h"
#include "hookd/rfc3339.h"
#include "hookd/sign.h"
#include "hookd/store.h"
#include "hookd/subdoc.h"
#include "hookd/util.h"

/* ---- validation: the subscription model's (subdoc.h) ---- */

typedef struct {
    hd_api_req_t *r;
    json_object *details;
} check_ctx_t;

static void add_problem(void *opaque, const char *field, const char *message) {
    hd_api_req_detail(&((check_ctx_t *)opaque)->details, field, "%s", message);
}

static int type_known(void *opaque, const char *type) {
    char err[256];
    return hd_api_event_type_known(((check_ctx_t *)opaque)->r, type, err, sizeof(err));
}

/* Checks every field present in body; with full, the required ones must be there. */
static json_object *validate(hd_api_req_t *r, json_object *body, int full) {
    check_ctx_t ctx = {r, NULL};
    hd_subdoc_check_t check = {add_problem, type_known, hd_api_json_parse, hd_api_json_storable, &ctx};
    hd_subdoc_check(body, full, &check);
    return ctx.details;
}

/* ---- documents ---- */

json_object *hd_api_subscription_json(const bson_t *doc) {
    json_object *raw = hd_api_json_from_bson(doc), *o = json_object_new_object(), *v;
    json_object_object_add(o, "id", json_object_object_get_ex(raw, "id", &v) ? json_object_get(v) : NULL);
    json_object_object_add(o, "alias", json_object_object_get_ex(raw, "alias", &v) ? json_object_get(v) : NULL);
    for (size_t i = 0; i < hd_subdoc_fields_cnt; i++) {
        const hd_subdoc_field_t *f = &hd_subdoc_fields[i];
        if (!(f->flags & HD_SUBDOC_FIELD_SHOWN)) continue;
        if (!json_object_object_get_ex(raw, f->name, &v))
            json_object_object_add(o, f->name, NULL);
        else
            json_object_object_add(o, f->name,
                                   f->flags & HD_SUBDOC_FIELD_TEXT ? hd_api_json_text_value(v) : json_object_get(v));
    }
    json_object_put(raw);
    return o;
}

/* Appends the secret, encrypted and bound to id, with its last 4 characters. */
static void append_secret(hd_api_req_t *r, bson_t *b, const char *id, const char *secret) {
    char *enc = hd_secret_encrypt(r->master, secret, id);
    BSON_APPEND_UTF8(b, "secret", enc);
    BSON_APPEND_UTF8(b, "secret_last_4", secret + strlen(secret) - 4);
    free(enc);
}

/* Appends the ed25519 signing key, encrypted and bound to id like the secret, and its public key ("whpk_..."),
 * which receivers verify v1a signatures with; NULL removes both. key has been validated. */
static void append_signing_key(hd_api_req_t *r, bson_t *b, const char *id, const char *key) {
    if (!key) {
        BSON_APPEND_NULL(b, "signing_key");
        BSON_APPEND_NULL(b, "signing_public_key");
        BSON_APPEND_NULL(b, "previous_signing_key");
        BSON_APPEND_NULL(b, "previous_signing_key_expires_at");
        return;
    }
    hd_sign_ed_key_t ed;
    char err[128], pk[HD_SIGN_ED_PUBLIC_SIZE] = "whpk_";
    hd_sign_ed_key_init(&ed, key, err, sizeof(err));
    /* libsodium's secret key is the seed followed by the public key */
    sodium_bin2base64(pk + 5, sizeof(pk) - 5, ed.sk + crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(&ed, sizeof(ed));
    char *enc = hd_secret_encrypt(r->master, key, id);
    BSON_APPEND_UTF8(b, "signing_key", enc);
    BSON_APPEND_UTF8(b, "signing_public_key", pk);
    free(enc);
}

/* Appends every settable field except the keys: from body, or its default when absent (when defaults is set). */
static void append_fields(bson_t *b, json_object *body, int defaults) {
    for (size_t i = 0; i < hd_subdoc_fields_cnt; i++) {
        const hd_subdoc_field_t *f = &hd_subdoc_fields[i];
        json_object *v;
        if (!(f->flags & HD_SUBDOC_FIELD_SETTABLE) || f->flags & HD_SUBDOC_FIELD_KEY) continue;
        if (json_object_object_get_ex(body, f->name, &v)) {
            if (f->flags & HD_SUBDOC_FIELD_TEXT)
                hd_api_json_append_text(b, f->name, v); /* the dispatcher reads it as text too */
            else
                hd_api_json_append(b, f->name, v);
        } else if (defaults && !(f->flags & HD_SUBDOC_FIELD_DEFAULT)) {
            BSON_APPEND_NULL(b, f->name);
        } else if (defaults) {
            switch (f->type) {
            case HD_SUBDOC_TYPE_TEXT:
                BSON_APPEND_UTF8(b, f->name, "");
                break;
            case HD_SUBDOC_TYPE_INT:
                BSON_APPEND_INT64(b, f->name, f->def);
                break;
            case HD_SUBDOC_TYPE_BOOL:
                BSON_APPEND_BOOL(b, f->name, f->def);
                break;
            case HD_SUBDOC_TYPE_LIST:
                bson_append_array(b, f->name, -1, &(bson_t)BSON_INITIALIZER);
                break;
            case HD_SUBDOC_TYPE_MAP:
                bson_append_document(b, f->name, -1, &(bson_t)BSON_INITIALIZER);
                break;
            case HD_SUBDOC_TYPE_JSON:
                BSON_APPEND_NULL(b, f->name);
                break;
            }
        }
    }
}

static int64_t date_of(const bson_t *doc, const char *k) {
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, k) && BSON_ITER_HOLDS_DATE_TIME(&it) ? bson_iter_date_time(&it) : 0;
}

static const char *str_of(const bson_t *doc, const char *k) {
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, k) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
}

/* Replies with the stored document of id (status), adding the plaintext secret when given (shown this once). */
static void reply_stored(hd_api_req_t *r, unsigned status, const char *id, const char *secret) {
    bson_t *doc;
    if (hd_api_req_find_subscription(r, id, &doc) != 1) return;
    json_object *o = hd_api_subscription_json(doc);
    if (secret) json_object_object_add(o, "secret", json_object_new_string(secret));
    hd_api_req_ok(r, status, o);
    bson_destroy(doc);
}

/* ---- handlers ---- */

/* Appends the written subscription to the change log, so that every dispatcher applies the write within a
 * refresh. The write stands either way: a failure here only delays it to the dispatchers' full reload. */
static void log_change(hd_api_req_t *r, const char *id) {
    char err[512];
    if (hd_store_changed(r->client, r->database, id, err, sizeof(err)))
        HD_LOG(HD_LOG_ERROR, "api", HD_KV("subscription_id", id), "%s; the dispatchers see it at their full reload",
               err);
}

static void list(hd_api_req_t *r) {
    static const char *const params[] = {HD_API_PAGE_PARAMS, "event_type", "is_active", "name", NULL};
    if (!hd_api_req_params(r, params)) return;
    bson_t *filter = BCON_NEW("tenant", BCON_UTF8(r->tenant));
    const char *type = hd_api_req_query(r, "event_type"), *active = hd_api_req_query(r, "is_active"),
               *name = hd_api_req_query(r, "name");
    if (active && strcmp(active, "true") && strcmp(active, "false")) {
        json_object *d = NULL;
        hd_api_req_detail(&d, "is_active", "true or false");
        hd_api_req_error(r, 400, "invalid-param", d, "is_active must be true or false");
        goto out;
    }
    if (type) BSON_APPEND_UTF8(filter, "event_types", type);
    if (active) BSON_APPEND_BOOL(filter, "is_active", !strcmp(active, "true"));
    if (name) BSON_APPEND_UTF8(filter, "name", name);
    hd_api_page_list(r, "subscriptions", filter, "_id", 0, hd_api_subscription_json);
out:
    bson_destroy(filter);
}

static void create(hd_api_req_t *r) {
    if (!hd_api_req_params(r, NULL)) return;
    json_object *details, *v;
    if (!hd_api_req_need_object(r, 0)) return;
    if ((details = validate(r, r->body, 1))) {
        hd_api_req_error(r, 422, "invalid-param", details, "the subscription is not valid");
        return;
    }
    char err[256];
    int64_t alias;
    if (hd_alias_next(r->client, r->database, "subscriptions", 1, &alias, err, sizeof(err))) {
        hd_api_req_internal(r, "numbering the subscription", err);
        return;
    }
    /* Time-ordered ids keep the list in creation order with a single sort key. */
    unsigned char rnd[8];
    char rhex[17], id[48], generated[64];
    int64_t now = hd_now_ms();
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
    snprintf(id, sizeof(id), "sub_%012llx%s", (unsigned long long)now, rhex);
    /* A given secret is used where it is, never copied into a buffer that could cut it. */
    int given = json_object_object_get_ex(r->body, "secret", &v);
    if (!given) hd_sign_secret_generate(generated, sizeof(generated));
    const char *secret = given ? json_object_get_string(v) : generated;

    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "_id", id);
    BSON_APPEND_INT64(&doc, "alias", alias);
    BSON_APPEND_UTF8(&doc, "tenant", r->tenant);
    append_fields(&doc, r->body, 1);
    append_secret(r, &doc, id, secret);
    if (json_object_object_get_ex(r->body, "signing_key", &v))
        append_signing_key(r, &doc, id, json_object_is_type(v, json_type_null) ? NULL : json_object_get_string(v));
    BSON_APPEND_DATE_TIME(&doc, "created_at", now);
    BSON_APPEND_DATE_TIME(&doc, "updated_at", now);
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, "subscriptions");
    bson_error_t berr;
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &berr)) {
        hd_api_req_internal(r, "creating the subscription", berr.message);
    } else {
        log_change(r, id);
        reply_stored(r, 201, id, given ? NULL : secret);
    }
    sodium_memzero(generated, sizeof(generated));
    mongoc_collection_destroy(coll);
    bson_destroy(&doc);
}

/* PUT replaces every setting (absent ones take their defaults; the secret stays unless given); PATCH sets only
 * the fields given. Both move updated_at. */
static void update(hd_api_req_t *r, const char *id, int replace) {
    if (!hd_api_req_params(r, NULL)) return;
    json_object *details, *v;
    bson_t *old;
    if (!hd_api_req_need_object(r, 0)) return;
    if ((details = validate(r, r->body, replace))) {
        hd_api_req_error(r, 422, "invalid-param", details, "the subscription is not valid");
        return;
    }
    if (hd_api_req_find_subscription(r, id, &old) != 1) return;
    bson_t update = BSON_INITIALIZER, set;
    bson_append_document_begin(&update, "$set", -1, &set);
    append_fields(&set, r->body, replace);
    if (json_object_object_get_ex(r->body, "secret", &v)) append_secret(r, &set, id, json_object_get_string(v));
    if (json_object_object_get_ex(r->body, "signing_key", &v))
        append_signing_key(r, &set, id, json_object_is_type(v, json_type_null) ? NULL : json_object_get_string(v));
    if (replace || (json_object_object_get_ex(r->body, "is_active", &v) && json_object_get_boolean(v))) {
        /* Re-enabled by its owner: the dispatcher's reason for disabling it no longer applies, and the endpoint
         * gets a fresh auto-disable clock. */
        BSON_APPEND_NULL(&set, "disabled_reason");
        BSON_APPEND_NULL(&set, "disabled_at");
        BSON_APPEND_NULL(&set, "failing_since");
    }
    BSON_APPEND_DATE_TIME(&set, "updated_at",
                          hd_now_ms() > date_of(old, "updated_at") ? hd_now_ms() : date_of(old, "updated_at") + 1);
    bson_append_document_end(&update, &set);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "tenant", BCON_UTF8(r->tenant));
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, "subscriptions");
    bson_error_t err;
    if (!mongoc_collection_update_one(coll, filter, &update, NULL, NULL, &err))
        hd_api_req_internal(r, "updating the subscription", err.message);
    else {
        log_change(r, id);
        reply_stored(r, 200, id, NULL);
    }
    mongoc_collection_destroy(coll);
    bson_destroy(filter);
    bson_destroy(&update);
    bson_destroy(old);
}

/* The delivery log goes first: should the subscription's own delete then fail, a repeated DELETE still finds it.
 * Rows recorded later, for deliveries in flight, stay removable one by one. */
static void delete (hd_api_req_t *r, const char *id) {
    if (!hd_api_req_params(r, NULL)) return;
    bson_t *doc;
    if (hd_api_req_find_subscription(r, id, &doc) != 1) return;
    bson_destroy(doc);
    hd_api_deliveries_forget(r, id);
    if (r->status == 500) return;
    if (!hd_api_req_delete(r, "subscriptions", BCON_NEW("_id", BCON_UTF8(id), "tenant", BCON_UTF8(r->tenant)), 0,
                           "deleting the subscription"))
        hd_api_req_error(r, 404, "not-found", NULL, "no subscription %s", id);
    else
        log_change(r, id);
}

/* Rotates field, "secret" or "signing_key": the new key (given, else generated) signs at once; the old one keeps
 * signing (a second signature) for the grace period, as previous_<field>. A new secret is shown this once; a
 * signing key never is: receivers need only its public key. */
static void rotate(hd_api_req_t *r, const char *id, const char *field) {
    if (!hd_api_req_params(r, NULL)) return;
    json_object *v, *details = NULL;
    bson_t *old;
    char generated[HD_SIGN_ED_SECRET_SIZE], public_key[HD_SIGN_ED_PUBLIC_SIZE], previous_field[48], expires[64];
    int secret = !strcmp(field, "secret");
    if (!hd_api_req_need_object(r, 1)) return;
    if (r->body) {
        json_object_object_foreach(r->body, key, val) {
            if (strcmp(key, field)) hd_api_req_detail(&details, key, "unknown field");
            (void)val;
        }
        if (!details && json_object_object_get_ex(r->body, field, &v)) {
            if (json_object_is_type(v, json_type_null))
                hd_api_req_detail(&details, field, "a key, not null");
            else
                details = validate(r, r->body, 0);
        }
        if (details) {
            hd_api_req_error(r, 422, "invalid-param", details, "the rotation request is not valid");
            return;
        }
    }
    if (hd_api_req_find_subscription(r, id, &old) != 1) return;
    const char *key = generated;
    if (r->body && json_object_object_get_ex(r->body, field, &v))
        key = json_object_get_string(v);
    else if (secret)
        hd_sign_secret_generate(generated, sizeof(generated));
    else
        hd_sign_ed_generate(generated, public_key);
    snprintf(previous_field, sizeof(previous_field), "previous_%s", field);
    snprintf(expires, sizeof(expires), "previous_%s_expires_at", field);
    int64_t now = hd_now_ms();
    bson_t update = BSON_INITIALIZER, set;
    bson_append_document_begin(&update, "$set", -1, &set);
    if (secret)
        append_secret(r, &set, id, key);
    else
        append_signing_key(r, &set, id, key);
    const char *previous = str_of(old, field);
    if (previous && r->conf->rotation_grace_ms > 0) {
        BSON_APPEND_UTF8(&set, previous_field, previous); /* still bound to this id */
        BSON_APPEND_DATE_TIME(&set, expires, now + r->conf->rotation_grace_ms);
    } else {
        BSON_APPEND_NULL(&set, previous_field);
        BSON_APPEND_NULL(&set, expires);
    }
    BSON_APPEND_DATE_TIME(&set, "updated_at", now > date_of(old, "updated_at") ? now : date_of(old, "updated_at") + 1);
    bson_append_document_end(&update, &set);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "tenant", BCON_UTF8(r->tenant));
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, "subscriptions");
    bson_error_t err;
    if (!mongoc_collection_update_one(coll, filter, &update, NULL, NULL, &err))
        hd_api_req_internal(r, secret ? "rotating the secret" : "rotating the signing key", err.message);
    else {
        log_change(r, id);
        reply_stored(r, 200, id, secret ? key : NULL);
    }
    sodium_memzero(generated, sizeof(generated));
    mongoc_collection_destroy(coll);
    bson_destroy(filter);
    bson_destroy(&update);
    bson_destroy(old);
}

/* The type a test event carries: the one asked for (it must match the subscription), else the subscription's
 * first exact type, else one under its first wildcard. */
static char *test_type(hd_api_req_t *r, const bson_t *doc, json_object **details) {
    json_object *v;
    bson_iter_t it, arr;
    const char *asked =
        r->body && json_object_object_get_ex(r->body, "event_type", &v) ? json_object_get_string(v) : NULL;
    char *wild = NULL, *exact = NULL;
    int matched = 0;
    if (bson_iter_init_find(&it, doc, "event_types") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr)) {
            if (!BSON_ITER_HOLDS_UTF8(&arr)) continue;
            const char *p = bson_iter_utf8(&arr, NULL);
            if (asked && hd_evtype_match(p, asked)) matched = 1;
            if (strchr(p, '*')) {
                if (!wild) wild = hd_xstrdup(p);
            } else if (!exact) {
                exact = hd_xstrdup(p);
            }
        }
    }
    char *type = NULL;
    if (asked) {
        if (matched)
            type = hd_xstrdup(asked);
        else
            hd_api_req_detail(details, "event_type", "\"%s\" is not one of the subscription's event types", asked);
    } else if (exact) {
        type = hd_xstrdup(exact);
    } else if (!wild || !strcmp(wild, "*")) {
        type = hd_xstrdup("webhook.test");
    } else { /* every wildcard segment becomes "test": customer.* -> customer.test */
        size_t cap = strlen(wild) * 4 + 1, len = 0;
        type = hd_xmalloc(cap);
        char *copy = hd_xstrdup(wild), *save = NULL;
        for (char *seg = strtok_r(copy, ".", &save); seg; seg = strtok_r(NULL, ".", &save))
            len += (size_t)snprintf(type + len, cap - len, "%s%s", len ? "." : "", strchr(seg, '*') ? "test" : seg);
        free(copy);
    }
    free(wild);
    free(exact);
    return type;
}

static void test_event(hd_api_req_t *r, const char *id) {
    if (!hd_api_req_params(r, NULL)) return;
    json_object *details = NULL, *v;
    bson_t *doc = NULL;
    bson_iter_t it;
    char *type = NULL, err[512];
    if (!hd_api_req_need_object(r, 1)) return;
    if (r->body) {
        json_object_object_foreach(r->body, key, val) {
            if (strcmp(key, "event_type") && strcmp(key, "data")) hd_api_req_detail(&details, key, "unknown field");
            (void)val;
        }
        if (json_object_object_get_ex(r->body, "event_type", &v) &&
            (!json_object_is_type(v, json_type_string) ||
             strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v) ||
             !hd_evtype_name_valid(json_object_get_string(v))))
            hd_api_req_detail(&details, "event_type", "an event type such as customer.created");
        if (json_object_object_get_ex(r->body, "data", &v) && !json_object_is_type(v, json_type_object))
            hd_api_req_detail(&details, "data", "a JSON object");
    }
    if (details) {
        hd_api_req_error(r, 422, "invalid-param", details, "the test event is not valid");
        return;
    }
    if (hd_api_req_find_subscription(r, id, &doc) != 1) return;
    if (bson_iter_init_find(&it, doc, "is_active") && BSON_ITER_HOLDS_BOOL(&it) && !bson_iter_bool(&it)) {
        hd_api_req_error(r, 409, "conflict", NULL, "subscription %s is not active: activate it to send a test event",
                         id);
        goto out;
    }
    if (!(type = test_type(r, doc, &details))) {
        hd_api_req_error(r, 422, "invalid-param", details, "the test event is not valid");
        goto out;
    }
    unsigned char rnd[12];
    char event_id[40], hex[25], now_iso[40], delivery_id[HD_SIGN_ID_SIZE];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    snprintf(event_id, sizeof(event_id), "evt_test_%s", hex);
    hd_rfc3339_format(hd_now_ms(), now_iso);
    json_object *ev = json_object_new_object(), *data = NULL;
    json_object_object_add(ev, "id", json_object_new_string(event_id));
    json_object_object_add(ev, "type", json_object_new_string(type));
    json_object_object_add(ev, "tenant", json_object_new_string(r->tenant));
    json_object_object_add(ev, "time", json_object_new_string(now_iso));
    if (r->body && json_object_object_get_ex(r->body, "data", &data)) {
        json_object_object_add(ev, "data", json_object_get(data));
    } else {
        data = json_object_new_object();
        json_object_object_add(data, "test", json_object_new_boolean(1));
        json_object_object_add(data, "subscription_id", json_object_new_string(id));
        json_object_object_add(ev, "data", data);
    }
    size_t len;
    const char *value = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &len);
    char topic[256];
    snprintf(topic, sizeof(topic), "%.*s", (int)strcspn(r->conf->topics, ","), r->conf->topics);
    /* Pending first: the recorder's row for the attempt always supersedes it. */
    if (hd_deliverylog_pending(r->client, r->database, r->tenant, id, event_id, type, err, sizeof(err)) ||
        hd_api_req_produce_targeted(r, topic, id, value, len, NULL, id, err, sizeof(err))) {
        hd_api_req_internal(r, "sending the test event", err);
    } else {
        hd_sign_message_id(event_id, id, delivery_id);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "event_id", json_object_new_string(event_id));
        json_object_object_add(o, "delivery_id", json_object_new_string(delivery_id));
        json_object_object_add(o, "event_type", json_object_new_string(type));
        json_object_object_add(o, "subscription_id", json_object_new_string(id));
        hd_api_req_ok(r, 202, o);
    }
    json_object_put(ev);
out:
    free(type);
    bson_destroy(doc);
}

void hd_api_subscriptions(hd_api_req_t *r) {
    const char *m = r->method;
    if (r->nseg == 1) {
        if (!strcmp(m, "GET"))
            list(r);
        else if (!strcmp(m, "POST"))
            create(r);
        else
            hd_api_req_not_allowed(r, "GET, POST");
        return;
    }
    const char *id = r->seg[1];
    if (r->nseg == 2) {
        if (!strcmp(m, "GET")) {
            if (hd_api_req_params(r, NULL)) reply_stored(r, 200, id, NULL);
        } else if (!strcmp(m, "PUT"))
            update(r, id, 1);
        else if (!strcmp(m, "PATCH"))
            update(r, id, 0);
        else if (!strcmp(m, "DELETE"))
            delete (r, id);
        else
            hd_api_req_not_allowed(r, "GET, PUT, PATCH, DELETE");
    } else if (!strcmp(r->seg[2], "events")) {
        hd_api_deliveries(r, id);
    } else if (r->nseg == 3 && (!strcmp(r->seg[2], "rotate-secret") || !strcmp(r->seg[2], "rotate-signing-key") ||
                                !strcmp(r->seg[2], "test"))) {
        if (strcmp(m, "POST"))
            hd_api_req_not_allowed(r, "POST");
        else if (!strcmp(r->seg[2], "test"))
            test_event(r, id);
        else
            rotate(r, id, !strcmp(r->seg[2], "rotate-secret") ? "secret" : "signing_key");
    }
}

#include "hookd/api_subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/alias.h"
#include "hookd/api_deliveries.h"
#include "hookd/api_event_types.h"
#include "hookd/deliverylog.h"
#include "hookd/evtype.h"
#include "hookd/filter.h"
#include "hookd/log.h"
#include "hookd/render.h"
#include "hookd/rfc3339.h"
#include "hookd/sign.h"
#include "hookd/store.h"
#include "hookd/sub.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define MAX_TYPES 50
#define MAX_HEADERS 50
#define MAX_STATUSES 50
#define MAX_EMAILS 20
#define MAX_TEMPLATE 32768 /* characters: below api.max.body.bytes, so that the limit is this one */
#define MAX_METADATA 8192  /* bytes of metadata as JSON text */

/* Everything a client may send, in the order replies list them. */
static const char *const fields[] = {
    "name",         "event_types", "url",      "secret",           "signing_key", "headers", "max_retry_count",
    "success_code", "is_active",   "statuses", "payload_template", "version",     "notify",  "notification_emails",
    "filter",       "metadata"};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* ---- validation ---- */

/* 1 when v is a string of at most max characters (as the contract's maxLength counts them). */
static int chars_at_most(json_object *v, size_t max) {
    return json_object_is_type(v, json_type_string) &&
           hd_utf8_count(json_object_get_string(v), (size_t)json_object_get_string_len(v)) <= max;
}

/* A string of 1..max characters (0..max with empty_ok) without NUL or control characters. */
static int text_ok(json_object *v, size_t max, int empty_ok) {
    if (!chars_at_most(v, max)) return 0;
    size_t len = (size_t)json_object_get_string_len(v);
    const unsigned char *s = (const unsigned char *)json_object_get_string(v);
    if (!len && !empty_ok) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

static int int_in(json_object *v, int64_t lo, int64_t hi) {
    if (!json_object_is_type(v, json_type_int)) return 0;
    int64_t n = json_object_get_int64(v);
    return n >= lo && n <= hi;
}

static void check_event_types(hd_api_req_t *r, json_object *v, json_object **details) {
    char err[256];
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0 ||
        json_object_array_length(v) > MAX_TYPES) {
        hd_api_req_detail(details, "event_types", "an array of 1 to %d event types", MAX_TYPES);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *t = json_object_array_get_idx(v, i);
        char field[48];
        snprintf(field, sizeof(field), "event_types[%zu]", i);
        if (!text_ok(t, 128, 0)) {
            hd_api_req_detail(details, field, "a non-empty string");
            continue;
        }
        const char *name = json_object_get_string(t);
        if (strchr(name, '*')) { /* the dispatcher's own grammar: "*" one segment, a trailing "**" one or more */
            if (!hd_evtype_pattern_valid(name))
                hd_api_req_detail(
                    details, field,
                    "\"%s\" is not a valid pattern (segments of [A-Za-z0-9_-]; \"*\" is one whole segment, "
                    "\"**\" only the last one)",
                    name);
            continue;
        }
        if (!hd_evtype_name_valid(name)) {
            hd_api_req_detail(details, field, "\"%s\" is not a valid event type", name);
            continue;
        }
        int known = hd_api_event_type_known(r, name, err, sizeof(err));
        if (known < 0)
            hd_api_req_detail(details, field, "cannot check the catalogue right now");
        else if (!known)
            hd_api_req_detail(details, field, "unknown event type \"%s\" (see GET /v1/webhooks/event-types)", name);
    }
}

static int email_ok(json_object *v) {
    if (!text_ok(v, 254, 0)) return 0;
    const char *s = json_object_get_string(v), *at = strchr(s, '@');
    return at && at != s && at[1] && !strchr(at + 1, '@') && strchr(at + 1, '.') && !strpbrk(s, " \t,;<>");
}

static void check_strings(json_object *v, const char *field, size_t max_items, json_object **details,
                          int (*ok)(json_object *)) {
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max_items) {
        hd_api_req_detail(details, field, "an array of at most %zu items", max_items);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++)
        if (!ok(json_object_array_get_idx(v, i))) hd_api_req_detail(details, field, "item %zu is not valid", i);
}

static int status_ok(json_object *v) {
    return text_ok(v, 64, 0);
}

/* Checks every field present in body; with full, the required ones must be there. */
static json_object *validate(hd_api_req_t *r, json_object *body, int full) {
    json_object *details = NULL, *v;
    char err[256];
    json_object_object_foreach(body, key, val) {
        size_t i = 0;
        while (i < NFIELDS && strcmp(fields[i], key))
            i++;
        if (i == NFIELDS) hd_api_req_detail(&details, key, "unknown field");
        (void)val;
    }
    if (full) {
        if (!json_object_object_get_ex(body, "url", &v)) hd_api_req_detail(&details, "url", "required");
        if (!json_object_object_get_ex(body, "event_types", &v)) hd_api_req_detail(&details, "event_types", "required");
    }
    if (json_object_object_get_ex(body, "name", &v) && !text_ok(v, 200, 1))
        hd_api_req_detail(&details, "name", "a string of at most 200 characters");
    if (json_object_object_get_ex(body, "event_types", &v)) check_event_types(r, v, &details);
    if (json_object_object_get_ex(body, "url", &v)) {
        if (!text_ok(v, 2048, 0))
            hd_api_req_detail(&details, "url", "an absolute http or https URL");
        else if (!hd_sub_url_ok(json_object_get_string(v), err, sizeof(err)))
            hd_api_req_detail(&details, "url", "%s", err);
    }
    if (json_object_object_get_ex(body, "secret", &v)) {
        hd_sign_key_t skey;
        if (!text_ok(v, 128, 0) || strncmp(json_object_get_string(v), "whsec_", 6) ||
            hd_sign_key_init(&skey, json_object_get_string(v), err, sizeof(err)))
            hd_api_req_detail(&details, "secret", "a whsec_ secret: \"whsec_\" + base64 of 16 to 64 bytes");
        sodium_memzero(&skey, sizeof(skey));
    }
    if (json_object_object_get_ex(body, "signing_key", &v) && !json_object_is_type(v, json_type_null)) {
        hd_sign_ed_key_t ed;
        if (!json_object_is_type(v, json_type_string) ||
            hd_sign_ed_key_init(&ed, json_object_get_string(v), err, sizeof(err)))
            hd_api_req_detail(&details, "signing_key",
                              "null or an ed25519 key: \"whsk_\" + base64 of seed and public key");
        sodium_memzero(&ed, sizeof(ed));
    }
    if (json_object_object_get_ex(body, "headers", &v)) {
        if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) > MAX_HEADERS ||
            !hd_api_req_json_storable(v)) {
            hd_api_req_detail(&details, "headers", "an object of at most %d string values (names without '.')",
                              MAX_HEADERS);
        } else {
            json_object_object_foreach(v, hname, hval) {
                if (!chars_at_most(hval, 4096) ||
                    strlen(json_object_get_string(hval)) != (size_t)json_object_get_string_len(hval) ||
                    strlen(hname) > 256 || !hd_sub_header_allowed(hname, json_object_get_string(hval)))
                    hd_api_req_detail(
                        &details, "headers",
                        "\"%.*s\": a token name that is not reserved (content-type, host, webhook-*, ...) "
                        "and a string value without CR, LF or control characters",
                        (int)hd_utf8_prefix(hname, strlen(hname), 64), hname);
            }
        }
    }
    if (json_object_object_get_ex(body, "max_retry_count", &v) && !int_in(v, 0, 100))
        hd_api_req_detail(&details, "max_retry_count", "an integer from 0 to 100");
    if (json_object_object_get_ex(body, "success_code", &v) && !json_object_is_type(v, json_type_null) &&
        !int_in(v, 200, 299))
        hd_api_req_detail(&details, "success_code", "null (any 2xx) or an integer from 200 to 299");
    if (json_object_object_get_ex(body, "is_active", &v) && !json_object_is_type(v, json_type_boolean))
        hd_api_req_detail(&details, "is_active", "a boolean");
    if (json_object_object_get_ex(body, "notify", &v) && !json_object_is_type(v, json_type_boolean))
        hd_api_req_detail(&details, "notify", "a boolean");
    if (json_object_object_get_ex(body, "statuses", &v))
        check_strings(v, "statuses", MAX_STATUSES, &details, status_ok);
    if (json_object_object_get_ex(body, "notification_emails", &v))
        check_strings(v, "notification_emails", MAX_EMAILS, &details, email_ok);
    /* The dispatcher compiles templates and filters with the same code (render.h, filter.h): what passes here
     * is what it will run, and what fails gets the dispatcher's own reason. */
    char why[300];
    if (json_object_object_get_ex(body, "payload_template", &v) && !json_object_is_type(v, json_type_null)) {
        json_object *tmpl = NULL;
        hd_render_tmpl_t *t = NULL;
        if (!chars_at_most(v, MAX_TEMPLATE) ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
            hd_api_req_detail(&details, "payload_template",
                              "null or a JSON template as a string of at most %d characters", MAX_TEMPLATE);
        else if (hd_api_req_parse_json(json_object_get_string(v), (size_t)json_object_get_string_len(v), &tmpl, why,
                                       sizeof(why)))
            hd_api_req_detail(&details, "payload_template", "not JSON (%s): a template is a JSON document as a string",
                              why);
        else if (!tmpl)
            hd_api_req_detail(&details, "payload_template", "a JSON template as a string, not \"null\"");
        else if (!(t = hd_render_tmpl_new(tmpl, why, sizeof(why))))
            hd_api_req_detail(&details, "payload_template", "%s", why);
        hd_render_tmpl_destroy(t);
        json_object_put(tmpl);
    }
    if (json_object_object_get_ex(body, "version", &v) && !json_object_is_type(v, json_type_null) &&
        !int_in(v, HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX))
        hd_api_req_detail(&details, "version", "null or an integer from %d to %d (the payload shape)",
                          HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX);
    if (json_object_object_get_ex(body, "metadata", &v) &&
        (!json_object_is_type(v, json_type_object) || !hd_api_req_json_storable(v) ||
         strlen(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) > MAX_METADATA))
        hd_api_req_detail(&details, "metadata",
                          "an object of at most %d bytes as JSON (keys not empty, without '.' or a leading '$')",
                          MAX_METADATA);
    if (json_object_object_get_ex(body, "filter", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_object))
            hd_api_req_detail(&details, "filter", "null or a MongoDB-style query object");
        else if (hd_filter_validate(v, why, sizeof(why)))
            hd_api_req_detail(&details, "filter", "%s", why);
    }
    return details;
}

/* ---- documents ---- */

json_object *hd_api_subscription_json(const bson_t *doc) {
    json_object *raw = hd_api_req_from_bson(doc), *o = json_object_new_object(), *v;
    json_object_object_add(o, "id", json_object_object_get_ex(raw, "id", &v) ? json_object_get(v) : NULL);
    json_object_object_add(o, "alias", json_object_object_get_ex(raw, "alias", &v) ? json_object_get(v) : NULL);
    for (size_t i = 0; i < NFIELDS; i++) {
        if (!strcmp(fields[i], "secret") || !strcmp(fields[i], "signing_key")) continue;
        if (!strcmp(fields[i], "filter") && json_object_object_get_ex(raw, "filter", &v)) {
            json_object_object_add(o, "filter", hd_api_req_json_text_value(v));
            continue;
        }
        json_object_object_add(o, fields[i], json_object_object_get_ex(raw, fields[i], &v) ? json_object_get(v) : NULL);
    }
    static const char *const extra[] = {"secret_last_4",      "previous_secret_expires_at",
                                        "signing_public_key", "previous_signing_key_expires_at",
                                        "disabled_reason",    "disabled_at",
                                        "failing_since",      "created_at",
                                        "updated_at"};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        json_object_object_add(o, extra[i], json_object_object_get_ex(raw, extra[i], &v) ? json_object_get(v) : NULL);
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
    for (size_t i = 0; i < NFIELDS; i++) {
        json_object *v;
        const char *k = fields[i];
        if (!strcmp(k, "secret") || !strcmp(k, "signing_key")) continue;
        if (json_object_object_get_ex(body, k, &v)) {
            if (!strcmp(k, "filter"))
                hd_api_req_append_json_text(b, k, v); /* the dispatcher reads it as text too */
            else
                hd_api_req_append_json(b, k, v);
        } else if (defaults) {
            if (!strcmp(k, "name"))
                BSON_APPEND_UTF8(b, k, "");
            else if (!strcmp(k, "headers") || !strcmp(k, "metadata"))
                bson_append_document(b, k, -1, &(bson_t)BSON_INITIALIZER);
            else if (!strcmp(k, "max_retry_count"))
                BSON_APPEND_INT64(b, k, 5);
            else if (!strcmp(k, "is_active"))
                BSON_APPEND_BOOL(b, k, true);
            else if (!strcmp(k, "notify"))
                BSON_APPEND_BOOL(b, k, false);
            else if (!strcmp(k, "statuses") || !strcmp(k, "notification_emails"))
                bson_append_array(b, k, -1, &(bson_t)BSON_INITIALIZER);
            else
                BSON_APPEND_NULL(b, k);
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
    static const char *const params[] = {HD_API_REQ_PAGE_PARAMS, "event_type", "is_active", "name", NULL};
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
    hd_api_req_list(r, "subscriptions", filter, "_id", 0, hd_api_subscription_json);
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
            (!text_ok(v, 128, 0) || !hd_evtype_name_valid(json_object_get_string(v))))
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

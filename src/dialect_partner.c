#include "hookd/dialect_partner.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/api_req.h"
#include "hookd/apikey.h"
#include "hookd/dialect_native.h"
#include "hookd/oauth.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define RAW_KEY_MIN 16
#define RAW_KEY_MAX 64
#define MAX_PARTNER_ID 256

/* ---- shape mappings ---- */

static json_object *get(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get(v) : NULL;
}

/* Copies field from of src into dst as to (null when absent). */
static void copy(json_object *dst, const char *to, json_object *src, const char *from) {
    json_object_object_add(dst, to, get(src, from));
}

json_object *hd_dialect_partner_subscription(json_object *native, const char *tenant) {
    json_object *o = json_object_new_object(), *types, *meta, *partner;
    copy(o, "created_at", native, "created_at");
    copy(o, "endpoint_url", native, "url");
    copy(o, "id", native, "id");
    copy(o, "is_active", native, "is_active");
    if (json_object_object_get_ex(native, "metadata", &meta) &&
        json_object_object_get_ex(meta, "partner_id", &partner) && json_object_is_type(partner, json_type_string))
        json_object_object_add(o, "partner_id", json_object_get(partner));
    else
        json_object_object_add(o, "partner_id", json_object_new_string(tenant));
    copy(o, "secret_last_4_digits", native, "secret_last_4");
    /* The partner's topic is single-valued: a subscription made elsewhere with several types shows its first. */
    json_object_object_add(o, "topic",
                           json_object_object_get_ex(native, "event_types", &types) &&
                                   json_object_is_type(types, json_type_array) && json_object_array_length(types)
                               ? json_object_get(json_object_array_get_idx(types, 0))
                               : NULL);
    copy(o, "updated_at", native, "updated_at");
    return o;
}

/* 1 when every key of body is one of allowed (NULL-terminated); otherwise adds an "unknown field" detail each. */
static int known_fields(json_object *body, const char *const *allowed, json_object **details) {
    int ok = 1;
    json_object_object_foreach(body, key, val) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key))
            a++;
        if (!*a) {
            hd_api_req_detail(details, key, "unknown field");
            ok = 0;
        }
        (void)val;
    }
    return ok;
}

json_object *hd_dialect_partner_create_body(json_object *body, json_object **details) {
    static const char *const allowed[] = {"endpoint_url", "secret_key", "topic", "partner_id", NULL};
    json_object *v;
    if (!known_fields(body, allowed, details)) return NULL;
    json_object *n = json_object_new_object();
    if (json_object_object_get_ex(body, "endpoint_url", &v)) json_object_object_add(n, "url", json_object_get(v));
    if (json_object_object_get_ex(body, "topic", &v)) {
        json_object *types = json_object_new_array();
        json_object_array_add(types, json_object_get(v));
        json_object_object_add(n, "event_types", types);
    }
    /* hookd has no use for a partner_id: the core keeps it among the subscription's metadata */
    if (json_object_object_get_ex(body, "partner_id", &v)) {
        if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v) ||
            json_object_get_string_len(v) > MAX_PARTNER_ID) {
            hd_api_req_detail(details, "partner_id", "a string of 1 to %d bytes", MAX_PARTNER_ID);
        } else {
            json_object *meta = json_object_new_object();
            json_object_object_add(meta, "partner_id", json_object_get(v));
            json_object_object_add(n, "metadata", meta);
        }
    }
    if (json_object_object_get_ex(body, "secret_key", &v)) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        if (!json_object_is_type(v, json_type_string) || !strncmp(s, "whsec_", 6)) {
            json_object_object_add(n, "secret", json_object_get(v));
        } else if (len < RAW_KEY_MIN || len > RAW_KEY_MAX || strlen(s) != len) {
            hd_api_req_detail(details, "secret_key", "a whsec_ secret, or a key of %d to %d bytes used as it is",
                              RAW_KEY_MIN, RAW_KEY_MAX);
        } else {
            char whsec[6 + sodium_base64_ENCODED_LEN(RAW_KEY_MAX, sodium_base64_VARIANT_ORIGINAL)] = "whsec_";
            sodium_bin2base64(whsec + 6, sizeof(whsec) - 6, (const unsigned char *)s, len,
                              sodium_base64_VARIANT_ORIGINAL);
            json_object_object_add(n, "secret", json_object_new_string(whsec));
            sodium_memzero(whsec, sizeof(whsec));
        }
    }
    if (*details) {
        json_object_put(n);
        return NULL;
    }
    return n;
}

json_object *hd_dialect_partner_test_body(json_object *body, json_object **details) {
    static const char *const allowed[] = {"topic", "payload", NULL};
    json_object *v;
    if (!body) return NULL;
    if (!known_fields(body, allowed, details)) return NULL;
    json_object *n = json_object_new_object();
    if (json_object_object_get_ex(body, "topic", &v)) json_object_object_add(n, "event_type", json_object_get(v));
    if (json_object_object_get_ex(body, "payload", &v)) json_object_object_add(n, "data", json_object_get(v));
    return n;
}

json_object *hd_dialect_partner_event(json_object *native) {
    static const char *const same[] = {"status",      "status_code", "response",      "error_message",
                                       "retry_count", "sent_at",     "next_retry_at", "created_at"};
    json_object *o = json_object_new_object();
    copy(o, "id", native, "id");
    copy(o, "subscription_id", native, "subscription_id");
    copy(o, "event_id", native, "event_id");
    copy(o, "topic", native, "event_type");
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        copy(o, same[i], native, same[i]);
    return o;
}

json_object *hd_dialect_partner_test_reply(json_object *native) {
    json_object *o = json_object_new_object();
    copy(o, "event_id", native, "event_id");
    copy(o, "delivery_id", native, "delivery_id");
    copy(o, "topic", native, "event_type");
    copy(o, "subscription_id", native, "subscription_id");
    json_object_object_add(o, "status", json_object_new_string("pending"));
    return o;
}

json_object *hd_dialect_partner_page(json_object *native, json_object *(*conv)(json_object *item, const char *tenant),
                                     const char *tenant) {
    static const char *const cursors[] = {"start_cursor", "end_cursor", "has_next_page", "has_previous_page"};
    json_object *o = json_object_new_object(), *items = json_object_new_array(), *data, *page = NULL;
    if (json_object_object_get_ex(native, "data", &data) && json_object_is_type(data, json_type_array))
        for (size_t i = 0; i < json_object_array_length(data); i++)
            json_object_array_add(items, conv(json_object_array_get_idx(data, i), tenant));
    json_object_object_add(o, "data", items);
    json_object_object_get_ex(native, "pagination", &page);
    for (size_t i = 0; i < sizeof(cursors) / sizeof(cursors[0]); i++)
        copy(o, cursors[i], page, cursors[i]);
    return o;
}

/* The partner's name of a native field or query parameter ("event_types[0]" included). */
static const char *partner_field(const char *native) {
    static const char *const map[][2] = {{"url", "endpoint_url"},
                                         {"event_types", "topic"},
                                         {"event_type", "topic"},
                                         {"secret", "secret_key"},
                                         {"data", "payload"}};
    size_t n = strcspn(native, "[");
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i][0]) == n && !strncmp(native, map[i][0], n)) return map[i][1];
    return native;
}

json_object *hd_dialect_partner_error(unsigned status, json_object *native) {
    static const struct {
        unsigned status;
        const char *code;
    } codes[] = {{400, "invalid_request"},    {401, "invalid_token"},          {403, "forbidden"},
                 {404, "not_found"},          {405, "method_not_allowed"},     {409, "conflict"},
                 {413, "payload_too_large"},  {415, "unsupported_media_type"}, {422, "unprocessable_entity"},
                 {503, "service_unavailable"}};
    const char *code = "internal_error";
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].status == status) code = codes[i].code;
    json_object *o = json_object_new_object(), *details = json_object_new_array(), *d;
    json_object_object_add(o, "error", json_object_new_string(code));
    copy(o, "message", native, "message");
    if (json_object_object_get_ex(native, "details", &d) && json_object_is_type(d, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(d); i++) {
            json_object *item = json_object_array_get_idx(d, i), *f, *e = json_object_new_object();
            const char *field = json_object_object_get_ex(item, "field", &f) ? json_object_get_string(f) : "";
            json_object_object_add(e, "field", json_object_new_string(partner_field(field)));
            copy(e, "message", item, "message");
            json_object_array_add(details, e);
        }
    }
    json_object_object_add(o, "details", details);
    return o;
}

int hd_dialect_partner_date(const char *in, char *out, size_t out_size) {
    int64_t ms;
    size_t len = strlen(in);
    if (len == 10) {
        char full[32];
        snprintf(full, sizeof(full), "%sT00:00:00Z", in);
        if (hd_rfc3339_parse(full, strlen(full), &ms)) return -1;
        snprintf(out, out_size, "%s", full);
        return 0;
    }
    if (hd_rfc3339_parse(in, len, &ms)) return -1;
    snprintf(out, out_size, "%s", in);
    return 0;
}

json_object *hd_dialect_partner_form(const char *body, size_t len) {
    json_object *o = json_object_new_object();
    char *text = hd_xstrndup(body, len), *save = NULL;
    if (strlen(text) != len) goto bad;
    for (char *pair = strtok_r(text, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq || eq == pair) goto bad;
        *eq = '\0';
        for (char *p = pair; *p; p++)
            if (*p == '+') *p = ' ';
        for (char *p = eq + 1; *p; p++)
            if (*p == '+') *p = ' ';
        size_t klen = MHD_http_unescape(pair), vlen = MHD_http_unescape(eq + 1);
        if (strlen(pair) != klen || strlen(eq + 1) != vlen || !hd_utf8_valid(pair, klen) ||
            !hd_utf8_valid(eq + 1, vlen) || json_object_object_get_ex(o, pair, NULL))
            goto bad;
        json_object_object_add(o, pair, json_object_new_string_len(eq + 1, (int)vlen));
    }
    free(text);
    return o;
bad:
    free(text);
    json_object_put(o);
    return NULL;
}

/* ---- serving ---- */

#define TOKEN_TTL_S 3600

static const char *const bearer_missing[] = {"WWW-Authenticate", "Bearer realm=\"hookd\"", NULL};
static const char *const bearer_invalid[] = {"WWW-Authenticate", "Bearer realm=\"hookd\", error=\"invalid_token\"",
                                             NULL};
static const char *const basic_invalid[] = {"WWW-Authenticate", "Basic realm=\"hookd\"", NULL};
static const char *const no_store[] = {"Cache-Control", "no-store", "Pragma", "no-cache", NULL};

/* An RFC 6749 error (section 5.2) of the token endpoint. */
static void oauth_error(hd_api_req_t *r, unsigned status, const char *code, const char *description) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(code));
    json_object_object_add(o, "error_description", json_object_new_string(description));
    hd_api_req_reply(r, status, o);
    r->headers = no_store;
}

/* The client of the request: HTTP Basic or the body's client_id and client_secret, never both. 1 with *id and
 * *secret set (borrowed from form or *basic_*, which the caller frees with MHD_free); 0 with an error reply. */
static int client_of(hd_api_req_t *r, json_object *form, char **basic_id, char **basic_secret, const char **id,
                     const char **secret) {
    json_object *v;
    const char *authz = hd_api_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    int in_body =
        json_object_object_get_ex(form, "client_id", NULL) || json_object_object_get_ex(form, "client_secret", NULL);
    *id = json_object_object_get_ex(form, "client_id", &v) ? json_object_get_string(v) : NULL;
    *secret = json_object_object_get_ex(form, "client_secret", &v) ? json_object_get_string(v) : NULL;
    if (authz && !strncasecmp(authz, "Basic ", 6)) {
        if (in_body) {
            oauth_error(r, 400, "invalid_request", "authenticate the client with HTTP Basic or in the body, not both");
            return 0;
        }
        *basic_id = MHD_basic_auth_get_username_password(r->conn, basic_secret);
        if (!*basic_id || !*basic_secret) {
            oauth_error(r, 401, "invalid_client", "the Basic credentials are malformed");
            r->headers = basic_invalid;
            return 0;
        }
        /* RFC 6749 section 2.3.1: both are form-encoded before Basic encodes them */
        MHD_http_unescape(*basic_id);
        MHD_http_unescape(*basic_secret);
        *id = *basic_id;
        *secret = *basic_secret;
    }
    if (!*id || !*secret || !**id || !**secret) {
        oauth_error(r, 401, "invalid_client", "send client_id and client_secret (in the body or as HTTP Basic)");
        if (*basic_id) r->headers = basic_invalid;
        return 0;
    }
    return 1;
}

/* POST /oauth/token: the client-credentials grant. */
static void token(hd_api_req_t *r) {
    char *basic_id = NULL, *basic_secret = NULL, *tenant = NULL, err[256], tok[HD_OAUTH_TOKEN_SIZE];
    const char *id, *secret, *ct = hd_api_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    json_object *form = NULL, *v;
    int admin;
    if (strcmp(r->method, "POST")) {
        hd_api_req_not_allowed(r, "POST");
        return;
    }
    if (!hd_api_req_params(r, NULL)) {
        oauth_error(r, 400, "invalid_request", "the token endpoint takes no query parameters");
        return;
    }
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) || !strchr("; \t", ct[33])) {
        oauth_error(r, 400, "invalid_request", "send the parameters as application/x-www-form-urlencoded");
        return;
    }
    if (!(form = hd_dialect_partner_form(r->raw_body ? r->raw_body : "", r->raw_body ? r->raw_len : 0))) {
        oauth_error(r, 400, "invalid_request",
                    "the body is not application/x-www-form-urlencoded UTF-8, or repeats a parameter");
        return;
    }
    if (!json_object_object_get_ex(form, "grant_type", &v)) {
        oauth_error(r, 400, "invalid_request", "grant_type is missing");
    } else if (strcmp(json_object_get_string(v), "client_credentials")) {
        oauth_error(r, 400, "unsupported_grant_type", "only grant_type=client_credentials is supported");
    } else if (client_of(r, form, &basic_id, &basic_secret, &id, &secret)) {
        int rc = hd_apikey_check(r->client, r->database, r->master, secret, &tenant, &admin, err, sizeof(err));
        /* the client_id names the key: it is the id part of the secret */
        if (rc == 1 && (strlen(id) != 16 || strncmp(secret + 3, id, 16))) rc = 0;
        if (rc < 0) {
            hd_api_req_internal(r, "checking the client", err);
        } else if (rc == 0 ||
                   hd_oauth_issue(r->master, id, tenant, hd_now_ms() / 1000 + TOKEN_TTL_S, tok, err, sizeof(err))) {
            oauth_error(r, 401, "invalid_client", "the client is unknown, revoked or its secret is wrong");
            if (basic_id) r->headers = basic_invalid;
        } else {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "access_token", json_object_new_string(tok));
            json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
            json_object_object_add(o, "expires_in", json_object_new_int(TOKEN_TTL_S));
            hd_api_req_reply(r, 200, o);
            r->headers = no_store;
        }
        sodium_memzero(tok, sizeof(tok));
    }
    if (basic_secret) sodium_memzero(basic_secret, strlen(basic_secret));
    MHD_free(basic_id);
    MHD_free(basic_secret);
    free(tenant);
    json_object_put(form);
}

/* Sets r->tenant from the bearer access token, checking on every request that its key still exists; otherwise a
 * 401 (or 500) reply. Returns 1 when authenticated. */
static int authenticate(hd_api_req_t *r) {
    const char *authz = hd_api_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    char id[HD_OAUTH_KEY_ID_SIZE], tenant[HD_OAUTH_TENANT_SIZE], err[256], *stored = NULL;
    if (!authz || strncasecmp(authz, "Bearer ", 7)) {
        hd_api_req_error(r, 401, "invalid-token", NULL,
                         "send Authorization: Bearer <access token> (from POST /webhooks/oauth/token)");
        r->headers = bearer_missing;
        return 0;
    }
    if (hd_oauth_verify(r->master, authz + 7 + strspn(authz + 7, " "), hd_now_ms() / 1000, id, tenant, err,
                        sizeof(err))) {
        hd_api_req_error(r, 401, "invalid-token", NULL, "%s", err);
        r->headers = bearer_invalid;
        return 0;
    }
    int rc = hd_apikey_lookup(r->client, r->database, id, &stored, err, sizeof(err));
    if (rc < 0) {
        hd_api_req_internal(r, "checking the access token", err);
    } else if (rc == 0 || strcmp(stored, tenant)) {
        hd_api_req_error(r, 401, "invalid-token", NULL, "the client of this access token has been revoked");
        r->headers = bearer_invalid;
        rc = 0;
    } else {
        r->tenant_owned = stored;
        r->tenant = stored;
        r->admin = 0;
        return 1;
    }
    free(stored);
    return 0;
}

/* The request's query parameters named in names (NULL-terminated) as a native query, renaming topic to
 * event_type and turning dates into RFC 3339. NULL with a 400 reply when a date is not ISO 8601. */
static json_object *native_query(hd_api_req_t *r, const char *const *names) {
    json_object *q = json_object_new_object();
    for (const char *const *n = names; *n; n++) {
        const char *v = hd_api_req_query(r, *n);
        char date[64];
        if (!v) continue;
        if (!strcmp(*n, "from_date") || !strcmp(*n, "to_date")) {
            if (hd_dialect_partner_date(v, date, sizeof(date))) {
                json_object *d = NULL;
                hd_api_req_detail(&d, *n, "an ISO 8601 date (2026-03-01) or date-time (2026-03-01T10:00:00Z)");
                hd_api_req_error(r, 400, "invalid-param", d, "%s is not an ISO 8601 date", *n);
                json_object_put(q);
                return NULL;
            }
            v = date;
        }
        json_object_object_add(q, !strcmp(*n, "topic") ? "event_type" : *n, json_object_new_string(v));
    }
    return q;
}

/* Runs the native list at path with the request's names and answers the partner's page of conv. */
static void list(hd_api_req_t *r, const char *const *names, const char *path,
                 json_object *(*conv)(json_object *item, const char *tenant)) {
    json_object *q, *reply = NULL;
    if (!hd_api_req_params(r, names) || !(q = native_query(r, names))) return;
    unsigned status = hd_dialect_native_call(r, "GET", NULL, q, &reply, path, NULL);
    json_object_put(q);
    if (status != 200) {
        hd_api_req_reply(r, status, reply); /* serve reshapes native errors */
        return;
    }
    hd_api_req_reply(r, 200, hd_dialect_partner_page(reply, conv, r->tenant));
    json_object_put(reply);
}

static json_object *event_of(json_object *item, const char *tenant) {
    (void)tenant;
    return hd_dialect_partner_event(item);
}

/* A 422 of the dialect's own checks: details are already in the partner's names. */
static void invalid(hd_api_req_t *r, json_object *details, const char *what) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string("unprocessable_entity"));
    json_object_object_add(o, "message", json_object_new_string(what));
    json_object_object_add(o, "details", details);
    hd_api_req_reply(r, 422, o);
}

/* Answers a native reply (taken) of status: ok's data mapped by conv; anything else as it is, for serve to
 * reshape. */
static void answer(hd_api_req_t *r, unsigned status, json_object *reply, unsigned ok,
                   json_object *(*conv)(json_object *data, const char *tenant)) {
    if (status != ok) {
        hd_api_req_reply(r, status, reply);
        return;
    }
    hd_api_req_reply(r, status, conv(hd_dialect_data(reply), r->tenant));
    json_object_put(reply);
}

static json_object *test_reply_of(json_object *data, const char *tenant) {
    (void)tenant;
    return hd_dialect_partner_test_reply(data);
}

static void create(hd_api_req_t *r) {
    json_object *details = NULL, *body, *reply = NULL, *secret;
    if (!hd_api_req_params(r, NULL) || !hd_api_req_need_object(r, 0)) return;
    if (!(body = hd_dialect_partner_create_body(r->body, &details))) {
        invalid(r, details, "the subscription is not valid");
        return;
    }
    unsigned status = hd_dialect_native_call(r, "POST", body, NULL, &reply, "subscriptions", NULL);
    if (status == 201) {
        json_object *data = hd_dialect_data(reply), *o = hd_dialect_partner_subscription(data, r->tenant);
        if (json_object_object_get_ex(data, "secret", &secret))
            json_object_object_add(o, "secret_key", json_object_get(secret));
        hd_api_req_reply(r, 201, o);
        json_object_put(reply);
    } else {
        hd_api_req_reply(r, status, reply);
    }
    json_object_put(body);
}

/* The reply is the subscription as it was: read first, then deleted. */
static void delete_sub(hd_api_req_t *r, const char *id) {
    json_object *got = NULL, *gone = NULL;
    if (!hd_api_req_params(r, NULL)) return;
    unsigned status = hd_dialect_native_call(r, "GET", NULL, NULL, &got, "subscriptions", id, NULL);
    if (status != 200) {
        hd_api_req_reply(r, status, got);
        return;
    }
    status = hd_dialect_native_call(r, "DELETE", NULL, NULL, &gone, "subscriptions", id, NULL);
    if (status != 200) {
        hd_api_req_reply(r, status, gone);
        json_object_put(got);
        return;
    }
    answer(r, 200, got, 200, hd_dialect_partner_subscription);
    json_object_put(gone);
}

static void test(hd_api_req_t *r, const char *id) {
    json_object *details = NULL, *body = NULL, *reply = NULL;
    if (!hd_api_req_params(r, NULL) || !hd_api_req_need_object(r, 1)) return;
    if (r->body && !(body = hd_dialect_partner_test_body(r->body, &details))) {
        invalid(r, details, "the test event is not valid");
        return;
    }
    unsigned status = hd_dialect_native_call(r, "POST", body, NULL, &reply, "subscriptions", id, "test", NULL);
    answer(r, status, reply, 202, test_reply_of);
    json_object_put(body);
}

static void route(hd_api_req_t *r) {
    static const char *const sub_params[] = {"limit", "after", "before", "topic", "is_active", NULL};
    static const char *const event_params[] = {"limit",  "after",     "before",  "topic",
                                               "status", "from_date", "to_date", NULL};
    const char *m = r->method;
    json_object *reply = NULL;
    if (r->nseg == 0) {
        if (!strcmp(m, "GET"))
            list(r, sub_params, "subscriptions", hd_dialect_partner_subscription);
        else if (!strcmp(m, "POST"))
            create(r);
        else
            hd_api_req_not_allowed(r, "GET, POST");
    } else if (r->nseg == 1 && !strcmp(r->seg[0], "events")) {
        if (!strcmp(m, "GET"))
            list(r, event_params, "events", event_of);
        else
            hd_api_req_not_allowed(r, "GET");
    } else if (r->nseg == 1) {
        if (!strcmp(m, "GET")) {
            if (hd_api_req_params(r, NULL)) {
                unsigned status =
                    hd_dialect_native_call(r, "GET", NULL, NULL, &reply, "subscriptions", r->seg[0], NULL);
                answer(r, status, reply, 200, hd_dialect_partner_subscription);
            }
        } else if (!strcmp(m, "DELETE")) {
            delete_sub(r, r->seg[0]);
        } else {
            hd_api_req_not_allowed(r, "GET, DELETE");
        }
    } else if (r->nseg == 2 && !strcmp(r->seg[1], "test")) {
        if (!strcmp(m, "POST"))
            test(r, r->seg[0]);
        else
            hd_api_req_not_allowed(r, "POST");
    }
}

static void reshape_error(hd_api_req_t *r) {
    const char *allow = r->allow;
    const char *const *headers = r->headers;
    hd_api_req_reply(r, r->status, hd_dialect_partner_error(r->status, r->reply));
    r->allow = allow;
    r->headers = headers;
}

static void serve(hd_api_req_t *r) {
    static const char *const types[] = {"application/json", NULL};
    if (r->nseg == 2 && !strcmp(r->seg[0], "oauth") && !strcmp(r->seg[1], "token")) {
        token(r);
    } else {
        if (authenticate(r) && !hd_api_req_parse_body(r, types)) route(r);
        if (!r->reply) hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", r->path);
    }
    /* Everything but the token endpoint's own answers is still in the native error shape here. */
    if (r->status >= 400 && json_object_object_get_ex(r->reply, "success", NULL)) reshape_error(r);
}

const hd_dialect_t hd_dialect_partner = {
    .name = "partner",
    .prefix = "/webhooks",
    .serve = serve,
    .reshape_error = reshape_error,
};

#include "hookd/subdoc.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/evtype.h"
#include "hookd/filter.h"
#include "hookd/render.h"
#include "hookd/sign.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define SET HD_SUBDOC_FIELD_SETTABLE
#define SHOWN HD_SUBDOC_FIELD_SHOWN
const hd_subdoc_field_t hd_subdoc_fields[] = {
    [HD_SUBDOC_F_NAME] = {"name", HD_SUBDOC_TYPE_TEXT, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 0},
    [HD_SUBDOC_F_EVENT_TYPES] = {"event_types", HD_SUBDOC_TYPE_LIST, SET | SHOWN, 0},
    [HD_SUBDOC_F_URL] = {"url", HD_SUBDOC_TYPE_TEXT, SET | SHOWN, 0},
    [HD_SUBDOC_F_SECRET] = {"secret", HD_SUBDOC_TYPE_TEXT, SET | HD_SUBDOC_FIELD_KEY, 0},
    [HD_SUBDOC_F_SIGNING_KEY] = {"signing_key", HD_SUBDOC_TYPE_TEXT, SET | HD_SUBDOC_FIELD_KEY, 0},
    [HD_SUBDOC_F_HEADERS] = {"headers", HD_SUBDOC_TYPE_MAP, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 0},
    [HD_SUBDOC_F_MAX_RETRY_COUNT] = {"max_retry_count", HD_SUBDOC_TYPE_INT, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 5},
    [HD_SUBDOC_F_SUCCESS_CODE] = {"success_code", HD_SUBDOC_TYPE_INT, SET | SHOWN, 0}, /* null: any 2xx */
    [HD_SUBDOC_F_IS_ACTIVE] = {"is_active", HD_SUBDOC_TYPE_BOOL, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 1},
    [HD_SUBDOC_F_STATUSES] = {"statuses", HD_SUBDOC_TYPE_LIST, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 0},
    [HD_SUBDOC_F_PAYLOAD_TEMPLATE] = {"payload_template", HD_SUBDOC_TYPE_TEXT, SET | SHOWN, 0},
    [HD_SUBDOC_F_VERSION] = {"version", HD_SUBDOC_TYPE_INT, SET | SHOWN,
                             HD_RENDER_VERSION_MIN}, /* null: the oldest shape */
    [HD_SUBDOC_F_NOTIFY] = {"notify", HD_SUBDOC_TYPE_BOOL, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 0},
    [HD_SUBDOC_F_NOTIFICATION_EMAILS] = {"notification_emails", HD_SUBDOC_TYPE_LIST,
                                         SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT, 0},
    [HD_SUBDOC_F_FILTER] = {"filter", HD_SUBDOC_TYPE_JSON, SET | SHOWN | HD_SUBDOC_FIELD_TEXT, 0},
    [HD_SUBDOC_F_METADATA] = {"metadata", HD_SUBDOC_TYPE_MAP, SET | SHOWN | HD_SUBDOC_FIELD_DEFAULT,
                              0}, /* the client's own */
    {"secret_last_4", HD_SUBDOC_TYPE_TEXT, SHOWN, 0},
    {"previous_secret_expires_at", HD_SUBDOC_TYPE_JSON, SHOWN, 0},
    {"signing_public_key", HD_SUBDOC_TYPE_TEXT, SHOWN, 0},
    {"previous_signing_key_expires_at", HD_SUBDOC_TYPE_JSON, SHOWN, 0},
    {"disabled_reason", HD_SUBDOC_TYPE_TEXT, SHOWN, 0},
    {"disabled_at", HD_SUBDOC_TYPE_JSON, SHOWN, 0},
    {"failing_since", HD_SUBDOC_TYPE_JSON, SHOWN, 0},
    {"created_at", HD_SUBDOC_TYPE_JSON, SHOWN, 0},
    {"updated_at", HD_SUBDOC_TYPE_JSON, SHOWN, 0},
    {"previous_secret", HD_SUBDOC_TYPE_TEXT, HD_SUBDOC_FIELD_KEY, 0},
    {"previous_signing_key", HD_SUBDOC_TYPE_TEXT, HD_SUBDOC_FIELD_KEY, 0},
};
#undef SET
#undef SHOWN
const size_t hd_subdoc_fields_cnt = sizeof(hd_subdoc_fields) / sizeof(hd_subdoc_fields[0]);

const char *hd_subdoc_id(json_object *doc) {
    static const char *const keys[] = {"id", "_id"};
    json_object *v;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_object_get_ex(doc, keys[i], &v) && json_object_is_type(v, json_type_string))
            return json_object_get_string(v);
    return NULL;
}

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

int hd_subdoc_header_allowed(const char *name, const char *value) {
    static const char *const reserved[] = {"content-type",      "content-length", "host",  "user-agent",
                                           "transfer-encoding", "connection",     "expect"};
    if (!*name) return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!is_tchar(*p)) return 0;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (!strcasecmp(name, reserved[i])) return 0;
    if (!strncasecmp(name, "webhook-", 8)) return 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p == '\r' || *p == '\n' || (*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

/* The messages never quote the URL: it may hold a password. */
int hd_subdoc_url_ok(const char *url, char **origin, char *errstr, size_t errstr_size) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL;
    int ok = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(errstr, errstr_size, "url is not a valid absolute URL");
        goto out;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
    if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
        snprintf(errstr, errstr_size, "url must use http or https");
        goto out;
    }
    /* curl reads "http:///path" and "http:/path" as the host "path": the authority must be written out. */
    size_t slen = strlen(scheme);
    if (!host || !*host || strncmp(url + slen, "://", 3) || strchr("/\\?#", url[slen + 3])) {
        snprintf(errstr, errstr_size, "url has no host (expected %s://host/...)", scheme);
        goto out;
    }
    if (user || password) {
        snprintf(errstr, errstr_size, "url must not carry credentials (user:password@): send them in a header");
        goto out;
    }
    ok = 1;
    if (!origin) goto out;
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
    *origin = hd_xmalloc(strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) + 5);
    sprintf(*origin, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return ok;
}

#define MAX_TYPES 50
#define MAX_HEADERS 50
#define MAX_STATUSES 50
#define MAX_EMAILS 20
#define MAX_TEMPLATE 32768 /* characters: below api.max.body.bytes, so that the limit is this one */
#define MAX_METADATA 8192  /* bytes of metadata as JSON text */

static void problem(const hd_subdoc_check_t *c, int *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(const hd_subdoc_check_t *c, int *n, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->problem(c->opaque, field, msg);
    (*n)++;
}

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

static void check_event_types(json_object *v, const hd_subdoc_check_t *c, int *n) {
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0 ||
        json_object_array_length(v) > MAX_TYPES) {
        problem(c, n, "event_types", "an array of 1 to %d event types", MAX_TYPES);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *t = json_object_array_get_idx(v, i);
        char field[48];
        snprintf(field, sizeof(field), "event_types[%zu]", i);
        if (!text_ok(t, 128, 0)) {
            problem(c, n, field, "a non-empty string");
            continue;
        }
        const char *name = json_object_get_string(t);
        if (strchr(name, '*')) { /* the dispatcher's own grammar: "*" one segment, a trailing "**" one or more */
            if (!hd_evtype_pattern_valid(name))
                problem(c, n, field,
                        "\"%s\" is not a valid pattern (segments of [A-Za-z0-9_-]; \"*\" is one whole segment, "
                        "\"**\" only the last one)",
                        name);
            continue;
        }
        if (!hd_evtype_name_valid(name)) {
            problem(c, n, field, "\"%s\" is not a valid event type", name);
            continue;
        }
        int known = c->known(c->opaque, name);
        if (known < 0)
            problem(c, n, field, "cannot check the catalogue right now");
        else if (!known)
            problem(c, n, field, "unknown event type \"%s\" (see GET /v1/webhooks/event-types)", name);
    }
}

static int email_ok(json_object *v) {
    if (!text_ok(v, 254, 0)) return 0;
    const char *s = json_object_get_string(v), *at = strchr(s, '@');
    return at && at != s && at[1] && !strchr(at + 1, '@') && strchr(at + 1, '.') && !strpbrk(s, " \t,;<>");
}

static int status_ok(json_object *v) {
    return text_ok(v, 64, 0);
}

static void check_strings(json_object *v, const char *field, size_t max_items, int (*ok)(json_object *),
                          const hd_subdoc_check_t *c, int *n) {
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max_items) {
        problem(c, n, field, "an array of at most %zu items", max_items);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++)
        if (!ok(json_object_array_get_idx(v, i))) problem(c, n, field, "item %zu is not valid", i);
}

static void check_keys(json_object *body, const hd_subdoc_check_t *c, int *n) {
    json_object *v;
    char err[256];
    if (json_object_object_get_ex(body, "secret", &v)) {
        hd_sign_key_t skey;
        if (!text_ok(v, 128, 0) || strncmp(json_object_get_string(v), "whsec_", 6) ||
            hd_sign_key_init(&skey, json_object_get_string(v), err, sizeof(err)))
            problem(c, n, "secret", "a whsec_ secret: \"whsec_\" + base64 of 16 to 64 bytes");
        sodium_memzero(&skey, sizeof(skey));
    }
    if (json_object_object_get_ex(body, "signing_key", &v) && !json_object_is_type(v, json_type_null)) {
        hd_sign_ed_key_t ed;
        if (!json_object_is_type(v, json_type_string) ||
            hd_sign_ed_key_init(&ed, json_object_get_string(v), err, sizeof(err)))
            problem(c, n, "signing_key", "null or an ed25519 key: \"whsk_\" + base64 of seed and public key");
        sodium_memzero(&ed, sizeof(ed));
    }
}

static void check_headers(json_object *v, const hd_subdoc_check_t *c, int *n) {
    if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) > MAX_HEADERS || !c->storable(v)) {
        problem(c, n, "headers", "an object of at most %d string values (names without '.')", MAX_HEADERS);
        return;
    }
    json_object_object_foreach(v, hname, hval) {
        if (!chars_at_most(hval, 4096) ||
            strlen(json_object_get_string(hval)) != (size_t)json_object_get_string_len(hval) || strlen(hname) > 256 ||
            !hd_subdoc_header_allowed(hname, json_object_get_string(hval)))
            problem(c, n, "headers",
                    "\"%.*s\": a token name that is not reserved (content-type, host, webhook-*, ...) "
                    "and a string value without CR, LF or control characters",
                    (int)hd_utf8_prefix(hname, strlen(hname), 64), hname);
    }
}

/* The dispatcher compiles templates and filters with the same code (render.h, filter.h): what passes here is what
 * it will run, and what fails gets the dispatcher's own reason. */
static void check_shape(json_object *body, const hd_subdoc_check_t *c, int *n) {
    json_object *v;
    char why[300];
    if (json_object_object_get_ex(body, "payload_template", &v) && !json_object_is_type(v, json_type_null)) {
        json_object *tmpl = NULL;
        hd_render_tmpl_t *t = NULL;
        if (!chars_at_most(v, MAX_TEMPLATE) ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
            problem(c, n, "payload_template", "null or a JSON template as a string of at most %d characters",
                    MAX_TEMPLATE);
        else if (c->parse_json(json_object_get_string(v), (size_t)json_object_get_string_len(v), &tmpl, why,
                               sizeof(why)))
            problem(c, n, "payload_template", "not JSON (%s): a template is a JSON document as a string", why);
        else if (!tmpl)
            problem(c, n, "payload_template", "a JSON template as a string, not \"null\"");
        else if (!(t = hd_render_tmpl_new(tmpl, why, sizeof(why))))
            problem(c, n, "payload_template", "%s", why);
        hd_render_tmpl_destroy(t);
        json_object_put(tmpl);
    }
    if (json_object_object_get_ex(body, "version", &v) && !json_object_is_type(v, json_type_null) &&
        !int_in(v, HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX))
        problem(c, n, "version", "null or an integer from %d to %d (the payload shape)", HD_RENDER_VERSION_MIN,
                HD_RENDER_VERSION_MAX);
    if (json_object_object_get_ex(body, "metadata", &v) &&
        (!json_object_is_type(v, json_type_object) || !c->storable(v) ||
         strlen(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) > MAX_METADATA))
        problem(c, n, "metadata",
                "an object of at most %d bytes as JSON (keys not empty, without '.' or a leading '$')", MAX_METADATA);
    if (json_object_object_get_ex(body, "filter", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_object))
            problem(c, n, "filter", "null or a MongoDB-style query object");
        else if (hd_filter_validate(v, why, sizeof(why)))
            problem(c, n, "filter", "%s", why);
    }
}

int hd_subdoc_check(json_object *body, int full, const hd_subdoc_check_t *c) {
    json_object *v;
    char err[256];
    int n = 0;
    json_object_object_foreach(body, key, val) {
        size_t i = 0;
        while (i < HD_SUBDOC_F_SETTABLE_CNT && strcmp(hd_subdoc_fields[i].name, key))
            i++;
        if (i == HD_SUBDOC_F_SETTABLE_CNT) problem(c, &n, key, "unknown field");
        (void)val;
    }
    if (full) {
        if (!json_object_object_get_ex(body, "url", &v)) problem(c, &n, "url", "required");
        if (!json_object_object_get_ex(body, "event_types", &v)) problem(c, &n, "event_types", "required");
    }
    if (json_object_object_get_ex(body, "name", &v) && !text_ok(v, 200, 1))
        problem(c, &n, "name", "a string of at most 200 characters");
    if (json_object_object_get_ex(body, "event_types", &v)) check_event_types(v, c, &n);
    if (json_object_object_get_ex(body, "url", &v)) {
        if (!text_ok(v, 2048, 0))
            problem(c, &n, "url", "an absolute http or https URL");
        else if (!hd_subdoc_url_ok(json_object_get_string(v), NULL, err, sizeof(err)))
            problem(c, &n, "url", "%s", err);
    }
    check_keys(body, c, &n);
    if (json_object_object_get_ex(body, "headers", &v)) check_headers(v, c, &n);
    if (json_object_object_get_ex(body, "max_retry_count", &v) && !int_in(v, 0, HD_SUBDOC_MAX_RETRIES))
        problem(c, &n, "max_retry_count", "an integer from 0 to %d", HD_SUBDOC_MAX_RETRIES);
    if (json_object_object_get_ex(body, "success_code", &v) && !json_object_is_type(v, json_type_null) &&
        !int_in(v, 200, 299))
        problem(c, &n, "success_code", "null (any 2xx) or an integer from 200 to 299");
    if (json_object_object_get_ex(body, "is_active", &v) && !json_object_is_type(v, json_type_boolean))
        problem(c, &n, "is_active", "a boolean");
    if (json_object_object_get_ex(body, "notify", &v) && !json_object_is_type(v, json_type_boolean))
        problem(c, &n, "notify", "a boolean");
    if (json_object_object_get_ex(body, "statuses", &v)) check_strings(v, "statuses", MAX_STATUSES, status_ok, c, &n);
    if (json_object_object_get_ex(body, "notification_emails", &v))
        check_strings(v, "notification_emails", MAX_EMAILS, email_ok, c, &n);
    check_shape(body, c, &n);
    return n;
}

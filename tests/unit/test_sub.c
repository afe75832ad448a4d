/* The in-memory subscription: custom headers never override protocol headers; signing keys; shapes; one
 * allocation; the model's defaults. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/intern.h"
#include "hookd/secret.h"
#include "hookd/sub.h"
#include "hookd/subdoc.h"
#include "unit.h"

#define BASE "\"id\":\"s\",\"tenant\":\"t\",\"url\":\"https://example.com/h\",\"event_types\":[\"a\"]"
#define SECRET "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\""
#define ED_SK "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA=="

static hd_sub_t *parse(const char *text, char *err, size_t err_size) {
    json_object *o = json_tokener_parse(text);
    err[0] = '\0';
    hd_sub_t *s = hd_sub_from_doc(o, NULL, err, err_size);
    json_object_put(o);
    return s;
}

static void test_reserved_header_rejected(void) {
    char err[256];
    CHECK(!parse("{" BASE "," SECRET ",\"headers\":{\"webhook-signature\":\"v1,forged\"}}", err, sizeof(err)));
    CHECK(strstr(err, "webhook-signature") != NULL);
    CHECK(!parse("{" BASE "," SECRET ",\"headers\":{\"content-type\":\"text/plain\"}}", err, sizeof(err)));
    CHECK(!parse("{" BASE "," SECRET ",\"headers\":{\"x-a\":\"1\\r\\nx-b: 2\"}}", err, sizeof(err)));
    hd_sub_t *s = parse("{" BASE "," SECRET ",\"headers\":{\"x-a\":\"1\"}}", err, sizeof(err));
    CHECK(s && s->extra->headers_cnt == 1);
    hd_sub_destroy(s);
}

static void test_signing_keys(void) {
    char err[256];
    hd_sub_t *s = parse("{" BASE ",\"signing_key\":\"" ED_SK "\"}", err, sizeof(err)); /* v1a only */
    CHECK(s && s->keys.hmac_cnt == 0 && s->keys.ed_cnt == 1);
    hd_sub_destroy(s);
    s = parse("{" BASE "," SECRET ",\"signing_key\":\"" ED_SK "\",\"previous_signing_key\":\"" ED_SK
              "\",\"previous_signing_key_expires_at\":1700000000000}",
              err, sizeof(err));
    CHECK(s && s->keys.hmac_cnt == 1 && s->keys.ed_cnt == 2 && s->keys.more->ed_expires_ms[1] == 1700000000000);
    hd_sub_destroy(s);
    CHECK(!parse("{" BASE ",\"signing_key\":\"whsk_bad\"}", err, sizeof(err)));
    CHECK(strstr(err, "whsk_") != NULL);
    CHECK(!parse("{" BASE "}", err, sizeof(err)));
}

static void test_shape_fields(void) {
    char err[256];
    hd_sub_t *s = parse("{" BASE "," SECRET ",\"version\":2,\"statuses\":[\"paid\",3],\"filter\":{\"data.a\":1},"
                        "\"payload_template\":{\"x\":\"{{data.a}}\"}}",
                        err, sizeof(err));
    CHECK(s && s->version == 2 && s->extra->statuses_cnt == 2 && s->extra->filter && s->extra->tmpl);
    if (s) CHECK_STR(s->extra->statuses[1], "3");
    hd_sub_destroy(s);
    s = parse("{" BASE "," SECRET ",\"version\":null,\"statuses\":null,\"filter\":null,\"payload_template\":null}", err,
              sizeof(err));
    CHECK(s && s->version == 1 && !s->extra->statuses_cnt && !s->extra->filter && !s->extra->tmpl);
    hd_sub_destroy(s);
}

/* Every string and array lives in the subscription's own allocation, but for the event type list and what a
 * second subscription repeats, which are shared; keys beyond the current secret out of line. */
static void test_one_allocation(void) {
    char err[256];
    hd_sub_t *s =
        parse("{\"_id\":\"sub_42\",\"tenant\":\"acme-1\",\"name\":\"orders\",\"url\":\"https://example.com:8443/h\","
              "\"event_types\":[\"order.created\",\"order.*\",\"**\"]," SECRET ",\"headers\":{\"x-a\":\"1\","
              "\"x-b\":\"two\"},\"statuses\":[\"paid\",7],\"notification_emails\":[\"ops@example.com\"],"
              "\"notify\":true}",
              err, sizeof(err));
    CHECK(s != NULL);
    if (!s) return;
    const char *lo = (const char *)(s + 1), *hi = (const char *)s + malloc_usable_size(s);
#define INSIDE(p) ((const char *)(p) >= lo && (const char *)(p) < hi)
    CHECK_STR(s->id, "sub_42");
    CHECK_STR(s->tenant, "acme-1");
    CHECK_STR(s->name, "orders");
    CHECK_STR(s->url, "https://example.com:8443/h");
    CHECK(s->origin == s->url && s->origin_len == 24); /* the origin is url's prefix */
    CHECK(s->event_types_cnt == 3 && s->extra->headers_cnt == 2 && s->extra->statuses_cnt == 2 &&
          s->extra->notification_emails_cnt == 1 && s->extra->notify && INSIDE(s->extra));
    CHECK_STR(s->event_types[1], "order.*");
    CHECK_STR(s->event_types[2], "**");
    CHECK_STR(s->extra->headers[1].name, "x-b");
    CHECK_STR(s->extra->headers[1].value, "two");
    CHECK_STR(s->extra->statuses[1], "7");
    CHECK_STR(s->extra->notification_emails[0], "ops@example.com");
    CHECK(INSIDE(s->id) && INSIDE(s->tenant) && INSIDE(s->url) && !INSIDE(s->event_types) &&
          INSIDE(s->extra->headers) && INSIDE(s->extra->headers[1].value) && INSIDE(s->extra->statuses[1]) &&
          INSIDE(s->extra->notification_emails[0]));
    CHECK(s->keys.hmac_cnt == 1 && s->keys.hmac_len == 24 && INSIDE(s->keys.hmac));
    CHECK(s->keys.more == NULL); /* one secret: nothing more */
#undef INSIDE
    /* What repeats is shared: the second subscription of the tenant with the same URL shares it with every later
     * one (the first keeps its copy), and the type list with the first. */
    static const char doc[] = "{\"_id\":\"sub_4x\",\"tenant\":\"acme-1\",\"name\":\"orders\",\"url\":"
                              "\"https://example.com:8443/h\",\"event_types\":[\"order.created\",\"order.*\","
                              "\"**\"]," SECRET "}";
    hd_sub_t *t = parse(doc, err, sizeof(err)), *u = parse(doc, err, sizeof(err));
    size_t shared = hd_intern_count();
    hd_sub_t *v = parse(doc, err, sizeof(err));
    CHECK(t && u && v && t->event_types == s->event_types && t->tenant != s->tenant && t->url != s->url);
    CHECK(t && u && v && u->tenant == t->tenant && u->name == t->name && u->url == t->url && v->url == t->url &&
          v->origin == t->origin && v->tenant == t->tenant && hd_intern_count() == shared);
    CHECK_STR(v->url, "https://example.com:8443/h");
    hd_sub_destroy(t);
    hd_sub_destroy(u);
    hd_sub_destroy(v);
    hd_sub_destroy(s);
    /* no port in url, or the default one: the origin leaves it out, so it is url's prefix and one host either way */
    s = parse("{" BASE "," SECRET "}", err, sizeof(err));
    CHECK(s && s->origin == s->url && s->origin_len == 19 && !memcmp(s->origin, "https://example.com", 19));
    hd_sub_destroy(s);
    s = parse("{\"_id\":\"s\",\"tenant\":\"t\",\"url\":\"https://example.com:443/h\",\"event_types\":[\"a\"]," SECRET
              "}",
              err, sizeof(err));
    CHECK(s && s->origin == s->url && s->origin_len == 19);
    hd_sub_destroy(s);
    /* The management API's defaults set no extra: such subscriptions share the empty one. */
    s = parse("{" BASE "," SECRET ",\"headers\":{},\"statuses\":[],\"notification_emails\":[],\"notify\":false,"
              "\"success_code\":null,\"filter\":null,\"payload_template\":null,\"max_retry_count\":5}",
              err, sizeof(err));
    hd_sub_t *plain = parse("{" BASE "," SECRET "}", err, sizeof(err));
    CHECK(s && plain && s->extra == plain->extra && !s->extra->headers_cnt && !s->extra->success_code);
    hd_sub_destroy(plain);
    hd_sub_destroy(s);
    s = parse("{" BASE "," SECRET ",\"success_code\":204}", err, sizeof(err));
    CHECK(s && s->extra->success_code == 204 && (const char *)s->extra == (const char *)(s + 1));
    hd_sub_destroy(s);
    s = parse("{" BASE "," SECRET ",\"previous_secret\":\"whsec_c2VjcmV0c2VjcmV0c2VjcmV0\","
              "\"previous_secret_expires_at\":{\"$date\":1700000000000}}",
              err, sizeof(err));
    CHECK(s && s->keys.hmac_cnt == 2 && s->keys.more && s->keys.more->hmac_prev_expires_ms == 1700000000000);
    if (s) /* the previous secret is "secretsecretsecret", in the same allocation as everything else */
        CHECK(s->keys.more->hmac_prev_len == 18 && !memcmp(s->keys.more->hmac_prev, "secretsecretsecret", 18) &&
              (const char *)s->keys.more == (const char *)(s + 1));
    hd_sub_destroy(s);
    /* an invalid header after the arrays were filled: nothing leaks */
    CHECK(!parse("{" BASE "," SECRET ",\"statuses\":[\"a\"],\"headers\":{\"x-a\":\"1\",\"host\":\"h\"}}", err,
                 sizeof(err)));
}

/* The management API stores signing keys encrypted, as it does secrets. */
static void test_encrypted_signing_key(void) {
    char err[256], doc[512];
    hd_secret_key_t master;
    CHECK(hd_secret_key_parse(&master, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", err, sizeof(err)) == 0);
    char *enc = hd_secret_encrypt(&master, ED_SK, "s");
    snprintf(doc, sizeof(doc), "{" BASE ",\"signing_key\":\"%s\"}", enc);
    json_object *o = json_tokener_parse(doc);
    hd_sub_t *sub = hd_sub_from_doc(o, &master, err, sizeof(err));
    CHECK(sub && sub->keys.ed_cnt == 1 && sub->keys.hmac_cnt == 0);
    hd_sub_destroy(sub);
    CHECK(!hd_sub_from_doc(o, NULL, err, sizeof(err)) && strstr(err, "master.key"));
    json_object_put(o);
    free(enc);
}

/* A URL the model refuses fails the parse, the message naming the subscription and never the URL. */
static void test_url_refused(void) {
    char err[256];
    CHECK(!parse(
        "{\"id\":\"s\",\"tenant\":\"t\",\"url\":\"http://u:s3cr3t@example.com/\",\"event_types\":[\"a\"]," SECRET "}",
        err, sizeof(err)));
    CHECK(strstr(err, "subscription s: ") == err && !strstr(err, "s3cr3t"));
}

/* The parser reads absent fields with the model's defaults, and the model's limits. */
static void test_defaults(void) {
    char err[256];
    hd_sub_t *s = parse("{" BASE "," SECRET "}", err, sizeof(err));
    int checked = 0;
    for (size_t i = 0; i < hd_subdoc_fields_cnt; i++) {
        const hd_subdoc_field_t *f = &hd_subdoc_fields[i];
        if (!strcmp(f->name, "max_retry_count")) checked += s && (int)s->max_retry_count == f->def;
        if (!strcmp(f->name, "is_active")) checked += s && (int)s->is_active == f->def;
        if (!strcmp(f->name, "notify")) checked += s && s->extra->notify == f->def;
        if (!strcmp(f->name, "version")) checked += s && (int)s->version == f->def;
        if (!strcmp(f->name, "name")) checked += s && !strcmp(s->name, "") && f->flags & HD_SUBDOC_FIELD_DEFAULT;
    }
    CHECK(checked == 5);
    hd_sub_destroy(s);
    CHECK(!parse("{" BASE "," SECRET ",\"max_retry_count\":101}", err, sizeof(err)));
    CHECK(strstr(err, "max_retry_count") != NULL);
}

int main(void) {
    RUN(test_url_refused);
    RUN(test_encrypted_signing_key);
    RUN(test_reserved_header_rejected);
    RUN(test_signing_keys);
    RUN(test_shape_fields);
    RUN(test_one_allocation);
    RUN(test_defaults);
    return UNIT_REPORT();
}

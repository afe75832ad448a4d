/* The subscription document model: custom headers, URLs, and the checks the management API applies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/subdoc.h"
#include "unit.h"

static void test_header_allowed(void) {
    CHECK(hd_subdoc_header_allowed("x-custom", "v"));
    CHECK(hd_subdoc_header_allowed("Authorization", "Bearer abc\tdef"));
    CHECK(!hd_subdoc_header_allowed("webhook-signature", "v1,x"));
    CHECK(!hd_subdoc_header_allowed("Webhook-Id", "x"));
    CHECK(!hd_subdoc_header_allowed("WEBHOOK-TIMESTAMP", "1"));
    CHECK(!hd_subdoc_header_allowed("content-type", "text/plain"));
    CHECK(!hd_subdoc_header_allowed("Content-Length", "1"));
    CHECK(!hd_subdoc_header_allowed("host", "evil"));
    CHECK(!hd_subdoc_header_allowed("x-a", "v\r\nx-injected: 1"));
    CHECK(!hd_subdoc_header_allowed("x-a", "v\n"));
    CHECK(!hd_subdoc_header_allowed("x a", "v"));
    CHECK(!hd_subdoc_header_allowed("x:a", "v"));
    CHECK(!hd_subdoc_header_allowed("", "v"));
}

/* One validator for the API and the stores: a host written out, no credentials, none of it echoed. */
static void test_urls(void) {
    char err[256];
    const char *good[] = {"https://example.com/h", "HTTP://example.com", "http://[::1]:8080/x", "http://h/a@b"};
    const char *bad[] = {"http:///path",     "http:/host/x",      "http://",    "http://user:s3cr3t@h/",
                         "http://s3cr3t@h/", "http://:s3cr3t@h/", "http://@h/", "ftp://h/x",
                         "http:\\\\h/x",     "http://?x",         "http://#x",  "not a url"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(hd_subdoc_url_ok(good[i], NULL, err, sizeof(err)));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(!hd_subdoc_url_ok(bad[i], NULL, err, sizeof(err)) && *err && !strstr(err, "s3cr3t"));
    }
    hd_subdoc_url_ok("http://user:s3cr3t@h/", NULL, err, sizeof(err));
    CHECK(strstr(err, "credentials") != NULL);
    char *origin = NULL;
    CHECK(hd_subdoc_url_ok("https://example.com:443/h?q", &origin, err, sizeof(err)));
    CHECK_STR(origin, "https://example.com");
    free(origin);
    CHECK(hd_subdoc_url_ok("http://[::1]:8080/x", &origin, err, sizeof(err)));
    CHECK_STR(origin, "http://[::1]:8080");
    free(origin);
}

typedef struct {
    char seen[1024];
    int known_asked;
} problems_t;

static void note(void *opaque, const char *field, const char *message) {
    problems_t *p = opaque;
    snprintf(p->seen + strlen(p->seen), sizeof(p->seen) - strlen(p->seen), "%s: %s|", field, message);
}

static int known(void *opaque, const char *type) {
    ((problems_t *)opaque)->known_asked++;
    return !strcmp(type, "order.created") ? 1 : !strcmp(type, "db.down") ? -1 : 0;
}

static int parse_json(const char *text, size_t len, json_object **out, char *why, size_t why_size) {
    *out = json_tokener_parse(text);
    snprintf(why, why_size, "bad");
    return *out ? 0 : -1;
}

static int storable(json_object *v) {
    return 1;
}

static int check(const char *body, int full, problems_t *p) {
    json_object *o = json_tokener_parse(body);
    hd_subdoc_check_t c = {note, known, parse_json, storable, p};
    memset(p, 0, sizeof(*p));
    int n = hd_subdoc_check(o, full, &c);
    json_object_put(o);
    return n;
}

/* The model's checks: one problem per bad field, named; the catalogue asked about exact types only. */
static void test_check(void) {
    problems_t p;
    CHECK(check("{\"url\":\"https://example.com/h\",\"event_types\":[\"order.created\",\"order.*\"]}", 1, &p) == 0);
    CHECK(p.known_asked == 1);
    CHECK(check("{}", 1, &p) == 2);
    CHECK_STR(p.seen, "url: required|event_types: required|");
    CHECK(check("{}", 0, &p) == 0);
    CHECK(check("{\"bogus\":1,\"url\":\"ftp://x/\",\"max_retry_count\":101,\"event_types\":[\"order.created\","
                "\"nope.x\",\"db.down\",\"a..b\"],\"is_active\":\"yes\",\"version\":9,\"filter\":[]}",
                0, &p) == 9);
    CHECK(strstr(p.seen, "bogus: unknown field|") && strstr(p.seen, "url: url must use http or https|") &&
          strstr(p.seen, "max_retry_count: an integer from 0 to 100|") &&
          strstr(p.seen, "event_types[1]: unknown event type \"nope.x\"") &&
          strstr(p.seen, "event_types[2]: cannot check the catalogue right now|") &&
          strstr(p.seen, "event_types[3]: \"a..b\" is not a valid event type|") &&
          strstr(p.seen, "is_active: a boolean|") && strstr(p.seen, "version: null or an integer from 1 to 2") &&
          strstr(p.seen, "filter: null or a MongoDB-style query object|"));
    CHECK(check("{\"secret\":\"whsec_short\",\"headers\":{\"host\":\"x\"},\"notification_emails\":[\"a@b\"]}", 0, &p) ==
          3);
}

int main(void) {
    RUN(test_header_allowed);
    RUN(test_urls);
    RUN(test_check);
    return UNIT_REPORT();
}

/* The index: exact types, one-segment and many-segment wildcards, match-all, statuses, filters, tenant isolation,
 * each subscription once; lookups by id; snapshots derived from a change or a full load. */
#include <stdlib.h>
#include <string.h>

#include "hookd/match.h"
#include "unit.h"

static hd_sub_t *sub(const char *id, const char *tenant, const char *types_and_more) {
    char doc[1024], err[256];
    snprintf(doc, sizeof(doc),
             "{\"id\":\"%s\",\"tenant\":\"%s\",\"url\":\"http://127.0.0.1/\",\"secret\":"
             "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",%s}",
             id, tenant, types_and_more);
    json_object *o = json_tokener_parse(doc);
    hd_sub_t *s = hd_sub_from_doc(o, NULL, err, sizeof(err));
    if (!s) fprintf(stderr, "sub %s: %s\n", id, err);
    json_object_put(o);
    return s;
}

static hd_event_t *event(const char *tenant, const char *type, const char *data) {
    char v[1024], err[256];
    hd_decode_err_t derr;
    hd_decode_opts_t o = {.max_bytes = 4096, .tenant_attribute = "tenant", .status_field = "data.status"};
    snprintf(v, sizeof(v), "{\"id\":\"e\",\"type\":\"%s\",\"tenant\":\"%s\",\"data\":%s}", type, tenant, data);
    return hd_decode_event(v, strlen(v), NULL, 0, &o, 0, &derr, err, sizeof(err));
}

/* The ids matched, sorted and comma-joined. */
static const char *find(const hd_match_t *m, const char *tenant, const char *type, const char *data) {
    static char out[512];
    const hd_sub_t *subs[16];
    hd_event_t *ev = event(tenant, type, data);
    int n = hd_match_find(m, ev, subs, 16);
    hd_decode_event_destroy(ev);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(subs[i]->id, subs[j]->id) > 0) {
                const hd_sub_t *t = subs[i];
                subs[i] = subs[j];
                subs[j] = t;
            }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(out, ",");
        strcat(out, subs[i]->id);
    }
    return out;
}

static hd_match_t *build(hd_sub_t *const *list, int cnt) {
    hd_sub_t **subs = malloc(sizeof(*subs) * (size_t)cnt);
    memcpy(subs, list, sizeof(*subs) * (size_t)cnt);
    return hd_match_new(subs, cnt);
}

static void test_wildcards_and_tenants(void) {
    hd_sub_t *list[] = {
        sub("exact", "t1", "\"event_types\":[\"customer.created\"]"),
        sub("one", "t1", "\"event_types\":[\"customer.*\"]"),
        sub("many", "t1", "\"event_types\":[\"customer.**\"]"),
        sub("all", "t1", "\"event_types\":[\"*\"]"),
        sub("first", "t1", "\"event_types\":[\"*.created\"]"),
        sub("twice", "t1", "\"event_types\":[\"customer.created\",\"customer.*\",\"customer.created\"]"),
        sub("other", "t2", "\"event_types\":[\"customer.created\",\"*\"]"),
        sub("off", "t1", "\"event_types\":[\"*\"],\"is_active\":false"),
    };
    hd_match_t *m = build(list, 8);
    CHECK_STR(find(m, "t1", "customer.created", "{}"), "all,exact,first,many,one,twice");
    CHECK_STR(find(m, "t1", "customer.credits.updated", "{}"), "all,many");
    CHECK_STR(find(m, "t1", "order.created", "{}"), "all,first");
    CHECK_STR(find(m, "t1", "customer", "{}"), "all");
    CHECK_STR(find(m, "t2", "customer.created", "{}"), "other");
    CHECK_STR(find(m, "t3", "customer.created", "{}"), "");
    CHECK(hd_match_count(m) == 8);
    hd_match_release(m);
}

static void test_statuses_and_filters(void) {
    hd_sub_t *list[] = {
        sub("paid", "t1", "\"event_types\":[\"order.updated\"],\"statuses\":[\"paid\",\"shipped\"]"),
        sub("big", "t1", "\"event_types\":[\"order.*\"],\"filter\":{\"data.total\":{\"$gte\":100}}"),
        sub("eu", "t1",
            "\"event_types\":[\"order.updated\"],\"filter\":\"{\\\"data.region\\\":{\\\"$in\\\":[\\\"eu\\\"]}}\""),
        sub("any", "t1", "\"event_types\":[\"order.updated\"]"),
    };
    hd_match_t *m = build(list, 4);
    CHECK_STR(find(m, "t1", "order.updated", "{\"status\":\"paid\",\"total\":50}"), "any,paid");
    CHECK_STR(find(m, "t1", "order.updated", "{\"status\":\"open\",\"total\":150,\"region\":\"eu\"}"), "any,big,eu");
    CHECK_STR(find(m, "t1", "order.updated", "{\"total\":10}"), "any"); /* no status: statuses do not match */
    CHECK_STR(find(m, "t1", "order.updated", "null"), "any");
    hd_match_release(m);
}

static void test_out_size(void) {
    hd_sub_t *list[20];
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof(id), "s%02d", i);
        list[i] = sub(id, "t1", i % 2 ? "\"event_types\":[\"a.b\"]" : "\"event_types\":[\"a.*\"]");
    }
    hd_match_t *m = build(list, 20);
    const hd_sub_t *out[4];
    hd_event_t *ev = event("t1", "a.b", "{}");
    CHECK(hd_match_find(m, ev, out, 4) == 20);
    hd_decode_event_destroy(ev);
    hd_match_release(m);
}

static void test_invalid_subscriptions(void) {
    char err[256];
    const char *bad[] = {
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/"
        "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"a.**.b\"]}",
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/"
        "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"a\"],\"filter\":{\"a\":{\"$bad\":"
        "1}}}",
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/"
        "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"a\"],\"filter\":\"{nope\"}",
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/"
        "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"a\"],\"statuses\":\"paid\"}",
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/"
        "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"a\"],\"version\":3}",
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/"
        "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"a\"],\"payload_template\":{\"a\":"
        "\"{{data\"}}",
        "{\"id\":\"x\",\"tenant\":\"t\",\"url\":\"http://h/\",\"event_types\":[\"a\"]}",
    };
    const char *why[] = {"pattern", "$bad", "not JSON", "statuses", "version", "placeholder", "no secret"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *o = json_tokener_parse(bad[i]);
        err[0] = '\0';
        CHECK(hd_sub_from_doc(o, NULL, err, sizeof(err)) == NULL);
        if (!strstr(err, why[i])) fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK(strstr(err, why[i]) != NULL);
        json_object_put(o);
    }
}

/* Lookups by id search the id-sorted snapshot; of two subscriptions with one id the later one is kept. */
static void test_lookup_by_id(void) {
    hd_sub_t *list[] = {
        sub("m", "t1", "\"event_types\":[\"a\"],\"name\":\"first\""),
        sub("z", "t1", "\"event_types\":[\"a\"],\"is_active\":false"),
        sub("b", "t2", "\"event_types\":[\"a\"]"),
        sub("m", "t1", "\"event_types\":[\"a\"],\"name\":\"second\""),
        sub("a", "t1", "\"event_types\":[\"b\"]"),
    };
    hd_match_t *m = build(list, 5);
    CHECK(hd_match_count(m) == 4);
    CHECK(hd_match_get(m, "a") && hd_match_get(m, "b") && hd_match_get(m, "z"));
    CHECK(!hd_match_get(m, "c") && !hd_match_get(m, "") && !hd_match_get(m, "zz"));
    CHECK(hd_match_get(m, "m") && !strcmp(hd_match_get(m, "m")->name, "second"));
    CHECK_STR(find(m, "t1", "a", "{}"), "m"); /* once, and the inactive z never */
    hd_match_release(m);
    m = hd_match_new(NULL, 0);
    CHECK(hd_match_count(m) == 0 && !hd_match_get(m, "a"));
    CHECK_STR(find(m, "t1", "a", "{}"), "");
    hd_match_release(m);
}

/* Many subscriptions out of order, some ids repeated: each id once, the later one, in a snapshot that finds them
 * all. */
static void test_sort_many(void) {
    enum { N = 300 };
    hd_sub_t *list[N + N / 10];
    char id[16];
    int n = 0;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "s%03d", i * 7 % N);
        list[n++] = sub(id, "t", "\"event_types\":[\"a\"],\"name\":\"early\"");
        if (i % 10 == 3) list[n++] = sub(id, "t", "\"event_types\":[\"a\"],\"name\":\"late\"");
    }
    hd_match_t *m = build(list, n);
    CHECK(hd_match_count(m) == N);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "s%03d", i * 7 % N);
        const hd_sub_t *s = hd_match_get(m, id);
        ok &= s && !strcmp(s->name, i % 10 == 3 ? "late" : "early");
    }
    CHECK(ok);
    hd_match_release(m);
}

/* A change applied to a snapshot: written subscriptions replace or join, gone ids leave, unchanged ones are shared
 * (the same pointer), and a change that changes nothing gives no new snapshot. */
static void test_apply(void) {
    hd_sub_t *list[] = {
        sub("a", "t1", "\"event_types\":[\"x\"]"),
        sub("b", "t1", "\"event_types\":[\"x\"]"),
        sub("c", "t2", "\"event_types\":[\"x\"]"),
        sub("v", "t1", "\"event_types\":[\"x.*\"]"),
        sub("u", "t3", "\"event_types\":[\"*.created\", \"**\"]"),
    };
    hd_match_t *m = build(list, 5);
    const hd_sub_t *a = hd_match_get(m, "a");
    hd_sub_t **subs = malloc(sizeof(*subs) * 3);
    subs[0] = sub("d", "t1", "\"event_types\":[\"x\"]");
    subs[1] = sub("b", "t1", "\"event_types\":[\"y\"]");
    subs[2] = sub("e", "t2", "\"event_types\":[\"*.created\"]");
    char *gone[] = {"c", "nope", "v"};
    hd_match_t *n = hd_match_apply(m, subs, 3, gone, 3);
    CHECK(n != NULL);
    if (!n) goto out;
    CHECK(hd_match_count(n) == 5);
    CHECK(hd_match_get(n, "a") == a);
    CHECK(!hd_match_get(n, "c") && !hd_match_get(n, "v") && hd_match_get(n, "d"));
    CHECK_STR(find(n, "t1", "x", "{}"), "a,d");
    CHECK_STR(find(n, "t1", "y", "{}"), "b");
    CHECK_STR(find(n, "t1", "x.y", "{}"), "");            /* its tenant's last wildcard went */
    CHECK_STR(find(n, "t2", "order.created", "{}"), "e"); /* a tenant's first wildcard came */
    CHECK_STR(find(n, "t3", "order.created", "{}"), "u"); /* untouched: its buckets shared */
    CHECK_STR(find(m, "t1", "x", "{}"), "a,b");           /* the old snapshot is untouched */
    CHECK_STR(find(m, "t1", "x.y", "{}"), "v");
    hd_match_release(m);
    /* documents read again (the same subscriptions) and ids already gone: nothing new */
    subs = malloc(sizeof(*subs));
    subs[0] = hd_sub_retain((hd_sub_t *)hd_match_get(n, "d"));
    m = hd_match_apply(n, subs, 1, gone, 3);
    CHECK(m == NULL);
    hd_match_release(m);
    m = n;
    /* a subscription moved to another tenant leaves the first one's buckets */
    subs = malloc(sizeof(*subs));
    subs[0] = sub("a", "t3", "\"event_types\":[\"x\"]");
    n = hd_match_apply(m, subs, 1, NULL, 0);
    CHECK(n != NULL);
    if (!n) goto out;
    CHECK_STR(find(n, "t1", "x", "{}"), "d");
    CHECK_STR(find(n, "t3", "x", "{}"), "a,u");
    hd_match_release(m);
    m = n;
    /* everything gone */
    char *all[] = {"d", "b", "a", "e", "u"};
    n = hd_match_apply(m, NULL, 0, all, 5);
    CHECK(n && hd_match_count(n) == 0);
    CHECK_STR(find(n, "t1", "x", "{}"), "");
    CHECK_STR(find(n, "t3", "order.created", "{}"), "");
    hd_match_release(n);
out:
    hd_match_release(m);
}

/* A full load's result: the snapshot itself when it holds exactly the same subscriptions (whatever their order),
 * else a new one that shares them; and the subscriptions a load may share. */
static void test_reload_and_shared(void) {
    hd_sub_t *list[] = {
        sub("a", "t1", "\"event_types\":[\"x\"]"),
        sub("b", "t1", "\"event_types\":[\"y\"]"),
    };
    hd_match_t *m = build(list, 2), *n;
    hd_sub_t *a = (hd_sub_t *)hd_match_get(m, "a"), *b = (hd_sub_t *)hd_match_get(m, "b");
    hd_sub_t **subs = malloc(sizeof(*subs) * 3);
    subs[0] = hd_sub_retain(b);
    subs[1] = hd_sub_retain(a);
    CHECK(hd_match_reload(m, subs, 2) == NULL);
    subs = malloc(sizeof(*subs) * 3); /* a repeated id: the later one is kept, so still the same */
    subs[0] = hd_sub_retain(a);
    subs[1] = sub("b", "t1", "\"event_types\":[\"z\"]");
    subs[2] = hd_sub_retain(b);
    CHECK(hd_match_reload(m, subs, 3) == NULL);
    subs = malloc(sizeof(*subs));
    subs[0] = hd_sub_retain(a);
    n = hd_match_reload(m, subs, 1);
    CHECK(n && n != m && hd_match_count(n) == 1 && hd_match_get(n, "a") == a && !hd_match_get(n, "b"));
    CHECK_STR(find(n, "t1", "x", "{}"), "a");
    CHECK_STR(find(n, "t1", "y", "{}"), "");
    hd_match_release(n);
    subs = malloc(sizeof(*subs) * 2); /* a changed document: a new subscription object, a new snapshot */
    subs[0] = hd_sub_retain(a);
    subs[1] = sub("b", "t1", "\"event_types\":[\"z\"]");
    n = hd_match_reload(m, subs, 2);
    CHECK(n && hd_match_count(n) == 2 && hd_match_get(n, "b") != b);
    CHECK_STR(find(n, "t1", "z", "{}"), "b");
    hd_match_release(n);
    subs = malloc(sizeof(*subs)); /* the first load: nothing to compare with */
    subs[0] = sub("c", "t1", "\"event_types\":[\"x\"]");
    n = hd_match_reload(NULL, subs, 1);
    CHECK(n && hd_match_count(n) == 1);
    hd_match_release(n);

    hd_sub_t *shared = hd_match_shared(m, "a", a->digest);
    CHECK(shared == a);
    hd_sub_destroy(shared);
    CHECK(hd_match_shared(m, "a", a->digest + 1) == NULL); /* the document changed */
    CHECK(hd_match_shared(m, "c", 0) == NULL);
    hd_match_release(m);
}

int main(void) {
    RUN(test_wildcards_and_tenants);
    RUN(test_statuses_and_filters);
    RUN(test_out_size);
    RUN(test_invalid_subscriptions);
    RUN(test_lookup_by_id);
    RUN(test_sort_many);
    RUN(test_apply);
    RUN(test_reload_and_shared);
    return UNIT_REPORT();
}

#include <arpa/inet.h>
#include <netinet/in.h>

#include "hookd/guard.h"
#include "unit.h"

static const char *check(const hd_guard_t *g, const char *ip) {
    struct sockaddr_storage ss = {0};
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    return hd_guard_check(g, (struct sockaddr *)&ss);
}

static void test_default_refuses_internal(void) {
    char err[256];
    hd_guard_t *g = hd_guard_new("", err, sizeof(err));
    CHECK(g != NULL);
    static const char *const refused[] = {"127.0.0.1",
                                          "127.9.9.9",
                                          "10.1.2.3",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "100.64.0.1",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "::1",
                                          "::",
                                          "fd00::1",
                                          "fe80::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.0.0.1",
                                          "ff02::1"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *why = check(g, refused[i]);
        if (!why) fprintf(stderr, "  %s was allowed\n", refused[i]);
        CHECK(why != NULL);
    }
    CHECK_STR(check(g, "169.254.169.254"), "a link-local (cloud metadata) address");
    static const char *const allowed[] = {"93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "11.0.0.1"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        CHECK(check(g, allowed[i]) == NULL);
    hd_guard_destroy(g);
}

static void test_allow_list(void) {
    char err[256];
    hd_guard_t *g = hd_guard_new("127.0.0.0/8, 10.20.0.0/16,fd12::/16", err, sizeof(err));
    CHECK(g != NULL);
    CHECK(check(g, "127.0.0.1") == NULL);
    CHECK(check(g, "::ffff:127.0.0.1") == NULL); /* the mapped form of an allowed address */
    CHECK(check(g, "10.20.3.4") == NULL);
    CHECK(check(g, "10.21.3.4") != NULL);
    CHECK(check(g, "fd12::5") == NULL);
    CHECK(check(g, "fd13::5") != NULL);
    CHECK(check(g, "169.254.169.254") != NULL);
    hd_guard_destroy(g);
}

static void test_bad_cidrs(void) {
    char err[256];
    static const char *const bad[] = {"10.0.0.0/33", "nonsense", "10.0.0.0/", "::1/129", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(hd_guard_new(bad[i], err, sizeof(err)) == NULL);
        CHECK(strstr(err, "http.allow.cidrs") != NULL);
    }
    hd_guard_destroy(NULL);
}

int main(void) {
    RUN(test_default_refuses_internal);
    RUN(test_allow_list);
    RUN(test_bad_cidrs);
    return UNIT_REPORT();
}

#include "hookd/guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

typedef struct {
    int family; /* AF_INET or AF_INET6; IPv4 is matched in its IPv4-mapped IPv6 form */
    unsigned char addr[16];
    int prefix; /* bits, of the 128-bit form */
} cidr_t;

struct hd_guard_s {
    cidr_t *allow;
    int allow_cnt;
};

typedef struct {
    const char *cidr;
    const char *why;
} blocked_t;

static const blocked_t blocked[] = {
    {"0.0.0.0/8", "an unspecified address"},
    {"10.0.0.0/8", "a private address"},
    {"100.64.0.0/10", "a carrier-grade NAT address"},
    {"127.0.0.0/8", "a loopback address"},
    {"169.254.0.0/16", "a link-local (cloud metadata) address"},
    {"172.16.0.0/12", "a private address"},
    {"192.0.0.0/24", "an IETF protocol address"},
    {"192.168.0.0/16", "a private address"},
    {"198.18.0.0/15", "a benchmarking address"},
    {"224.0.0.0/3", "a multicast or reserved address"},
    {"::/128", "an unspecified address"},
    {"::1/128", "a loopback address"},
    {"64:ff9b::/96", "a NAT64 address"},
    {"fc00::/7", "a private (unique local) address"},
    {"fe80::/10", "a link-local address"},
    {"ff00::/8", "a multicast address"},
};
#define BLOCKED_CNT (sizeof(blocked) / sizeof(blocked[0]))
static cidr_t blocked_cidrs[BLOCKED_CNT];
static pthread_once_t blocked_once = PTHREAD_ONCE_INIT;

/* 16-byte form: IPv4 becomes ::ffff:a.b.c.d so one comparison serves both families. */
static void to_v6(const struct in_addr *v4, unsigned char out[16]) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &v4->s_addr, 4);
}

static int parse_cidr(const char *text, cidr_t *c) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", text);
    char *slash = strchr(buf, '/');
    int prefix = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        prefix = (int)strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end) return -1;
    }
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        if (prefix < 0) prefix = 32;
        if (prefix > 32) return -1;
        c->family = AF_INET;
        to_v6(&v4, c->addr);
        c->prefix = 96 + prefix;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        if (prefix < 0) prefix = 128;
        if (prefix > 128) return -1;
        c->family = AF_INET6;
        c->prefix = prefix;
        return 0;
    }
    return -1;
}

static void init_blocked(void) {
    for (size_t i = 0; i < BLOCKED_CNT; i++)
        if (parse_cidr(blocked[i].cidr, &blocked_cidrs[i])) abort(); /* a typo in the table above */
}

static int in_cidr(const cidr_t *c, const unsigned char a[16]) {
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, (size_t)full)) return 0;
    if (!rest) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

hd_guard_t *hd_guard_new(const char *allow, char *errstr, size_t errstr_size) {
    pthread_once(&blocked_once, init_blocked);
    hd_guard_t *g = hd_xcalloc(1, sizeof(*g));
    char *list = hd_xstrdup(allow ? allow : ""), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = hd_trim(t);
        if (!*t) continue;
        g->allow = hd_xrealloc(g->allow, sizeof(cidr_t) * (size_t)(g->allow_cnt + 1));
        if (parse_cidr(t, &g->allow[g->allow_cnt])) {
            snprintf(errstr, errstr_size, "http.allow.cidrs: \"%s\" is not an IPv4 or IPv6 CIDR", t);
            free(list);
            hd_guard_destroy(g);
            return NULL;
        }
        g->allow_cnt++;
    }
    free(list);
    return g;
}

void hd_guard_destroy(hd_guard_t *g) {
    if (!g) return;
    free(g->allow);
    free(g);
}

const char *hd_guard_check(const hd_guard_t *g, const struct sockaddr *addr) {
    unsigned char a[16];
    if (addr->sa_family == AF_INET)
        to_v6(&((const struct sockaddr_in *)addr)->sin_addr, a);
    else if (addr->sa_family == AF_INET6)
        memcpy(a, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    else
        return "not an IP address";
    for (int i = 0; i < g->allow_cnt; i++)
        if (in_cidr(&g->allow[i], a)) return NULL;
    for (size_t i = 0; i < BLOCKED_CNT; i++)
        if (in_cidr(&blocked_cidrs[i], a)) return blocked[i].why;
    return NULL;
}

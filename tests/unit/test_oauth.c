/* OAuth2 access tokens: round trip, expiry, tampering, another master key, and inputs a token cannot carry. */
#include <sodium.h>
#include <stdint.h>

#include "hookd/oauth.h"
#include "unit.h"

#define MASTER "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define OTHER "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
#define KEY_ID "0123456789abcdef"

static hd_secret_key_t master(const char *b64) {
    hd_secret_key_t k;
    char err[128];
    hd_secret_key_parse(&k, b64, err, sizeof(err));
    return k;
}

static void test_round_trip(void) {
    hd_secret_key_t k = master(MASTER);
    char tok[HD_OAUTH_TOKEN_SIZE], id[HD_OAUTH_KEY_ID_SIZE], tenant[HD_OAUTH_TENANT_SIZE], err[128];
    CHECK(hd_oauth_issue(&k, KEY_ID, "acme", 1000, tok, err, sizeof(err)) == 0);
    CHECK(!strncmp(tok, "hdat_", 5));
    CHECK(hd_oauth_verify(&k, tok, 999, id, tenant, err, sizeof(err)) == 0);
    CHECK_STR(id, KEY_ID);
    CHECK_STR(tenant, "acme");
}

static void test_expired(void) {
    hd_secret_key_t k = master(MASTER);
    char tok[HD_OAUTH_TOKEN_SIZE], id[HD_OAUTH_KEY_ID_SIZE], tenant[HD_OAUTH_TENANT_SIZE], err[128];
    hd_oauth_issue(&k, KEY_ID, "acme", 1000, tok, err, sizeof(err));
    CHECK(hd_oauth_verify(&k, tok, 1000, id, tenant, err, sizeof(err)) == -1);
    CHECK(strstr(err, "expired") != NULL);
}

static void test_longest_tenant(void) {
    hd_secret_key_t k = master(MASTER);
    char tok[HD_OAUTH_TOKEN_SIZE], id[HD_OAUTH_KEY_ID_SIZE], tenant[HD_OAUTH_TENANT_SIZE], err[128], t[129];
    memset(t, 'x', 128);
    t[128] = '\0';
    CHECK(hd_oauth_issue(&k, KEY_ID, t, INT64_MAX, tok, err, sizeof(err)) == 0);
    CHECK(strlen(tok) < HD_OAUTH_TOKEN_SIZE);
    CHECK(hd_oauth_verify(&k, tok, 0, id, tenant, err, sizeof(err)) == 0);
    CHECK_STR(tenant, t);
    char longer[130];
    memset(longer, 'x', 129);
    longer[129] = '\0';
    CHECK(hd_oauth_issue(&k, KEY_ID, longer, 1, tok, err, sizeof(err)) == -1);
    CHECK(hd_oauth_issue(&k, KEY_ID, "", 1, tok, err, sizeof(err)) == -1);
}

static void test_bad_key_id(void) {
    hd_secret_key_t k = master(MASTER);
    char tok[HD_OAUTH_TOKEN_SIZE], err[128];
    CHECK(hd_oauth_issue(&k, "0123", "acme", 1, tok, err, sizeof(err)) == -1);
    CHECK(hd_oauth_issue(&k, "0123456789abcdeg", "acme", 1, tok, err, sizeof(err)) == -1);
    CHECK(hd_oauth_issue(&k, "0123456789abcdef0", "acme", 1, tok, err, sizeof(err)) == -1);
}

static void test_forged(void) {
    hd_secret_key_t k = master(MASTER), other = master(OTHER);
    char tok[HD_OAUTH_TOKEN_SIZE], id[HD_OAUTH_KEY_ID_SIZE], tenant[HD_OAUTH_TENANT_SIZE], err[128];
    hd_oauth_issue(&k, KEY_ID, "acme", 1000, tok, err, sizeof(err));
    CHECK(hd_oauth_verify(&other, tok, 0, id, tenant, err, sizeof(err)) == -1);
    CHECK(strstr(err, "does not verify") != NULL);
    /* every single changed character is caught: in the payload (tenant, expiry) and in the tag */
    size_t len = strlen(tok);
    int caught = 1;
    for (size_t i = 5; i < len; i++) {
        char t[HD_OAUTH_TOKEN_SIZE];
        memcpy(t, tok, len + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        if (hd_oauth_verify(&k, t, 0, id, tenant, err, sizeof(err)) != -1) caught = 0;
    }
    CHECK(caught);
    CHECK(hd_oauth_verify(&k, "", 0, id, tenant, err, sizeof(err)) == -1);
    CHECK(hd_oauth_verify(&k, "hdat_", 0, id, tenant, err, sizeof(err)) == -1);
    CHECK(hd_oauth_verify(&k, "hdat_!!!", 0, id, tenant, err, sizeof(err)) == -1);
    CHECK(hd_oauth_verify(&k, "hk_0123456789abcdef_x", 0, id, tenant, err, sizeof(err)) == -1);
    CHECK(strstr(err, "not an access token") != NULL);
    tok[len - 2] = '\0'; /* truncated */
    CHECK(hd_oauth_verify(&k, tok, 0, id, tenant, err, sizeof(err)) == -1);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_round_trip);
    RUN(test_expired);
    RUN(test_longest_tenant);
    RUN(test_bad_key_id);
    RUN(test_forged);
    return UNIT_REPORT();
}

/* v1 signatures (OpenSSL's SHA-256 with the HMAC pads kept per key, and base64) against libsodium's HMAC-SHA256 and
 * constant-time base64, byte for byte, over random keys, ids, timestamps and bodies of every length around the
 * 64-byte block, and over keys that come back, share a cache set or push each other out of it. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hookd/sign.h"
#include "unit.h"

static void reference(const unsigned char *key, size_t key_len, const char *id, int64_t ts, const unsigned char *body,
                      size_t body_len, char out[HD_SIGN_V1_SIZE]) {
    char mid[64];
    int n = snprintf(mid, sizeof(mid), ".%" PRId64 ".", ts);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)mid, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, HD_SIGN_V1_SIZE - 3, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
}

static void test_v1_matches_libsodium(void) {
    unsigned char body[300], raw[HD_SIGN_MAX_KEY];
    for (size_t len = 0; len < sizeof(body); len++) {
        size_t key_len = 16 + len % (HD_SIGN_MAX_KEY - 15);
        randombytes_buf(raw, key_len);
        randombytes_buf(body, len);
        char secret[128] = "whsec_", id[HD_SIGN_ID_SIZE], want[HD_SIGN_V1_SIZE], got[HD_SIGN_V1_SIZE], err[256];
        sodium_bin2base64(secret + 6, sizeof(secret) - 6, raw, key_len, sodium_base64_VARIANT_ORIGINAL);
        hd_sign_key_t key;
        CHECK(hd_sign_key_init(&key, secret, err, sizeof(err)) == 0);
        hd_sign_message_id(secret, "sub", id);
        int64_t ts = (int64_t)randombytes_uniform(2000000000) - (len % 7 == 0 ? 3000000000 : 0);
        reference(raw, key_len, id, ts, body, len, want);
        hd_sign_v1(&key, id, ts, body, len, got);
        CHECK_STR(got, want);
    }
}

static void sign_check(const unsigned char *raw, size_t key_len, const unsigned char *body, size_t len) {
    char secret[128] = "whsec_", id[HD_SIGN_ID_SIZE], want[HD_SIGN_V1_SIZE], got[HD_SIGN_V1_SIZE], err[256];
    sodium_bin2base64(secret + 6, sizeof(secret) - 6, raw, key_len, sodium_base64_VARIANT_ORIGINAL);
    hd_sign_key_t key;
    CHECK(hd_sign_key_init(&key, secret, err, sizeof(err)) == 0);
    hd_sign_message_id(secret, "sub", id);
    reference(raw, key_len, id, 1700000000, body, len, want);
    hd_sign_v1(&key, id, 1700000000, body, len, got);
    CHECK_STR(got, want);
}

/* Keys alike in their first 8 bytes (which pick the cache set) or in all but the last, prefixes of each other, and
 * more of them than a set holds, signed in turns: every signature must stay the key's own. */
static void test_v1_cached_keys_match_libsodium(void) {
    enum { KEYS = 40 };
    unsigned char raw[KEYS][HD_SIGN_MAX_KEY], body[200];
    randombytes_buf(body, sizeof(body));
    randombytes_buf(raw, sizeof(raw));
    for (int k = 0; k < KEYS; k++) {
        if (k % 2) memcpy(raw[k], raw[0], 8);                            /* the same set as key 0 */
        if (k % 5 == 1) memcpy(raw[k], raw[k - 1], HD_SIGN_MAX_KEY - 1); /* differs in the last byte only */
    }
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < KEYS; k++) {
            size_t key_len = k % 3 == 0 ? 16 + (size_t)k : HD_SIGN_MAX_KEY;
            sign_check(raw[k], key_len, body, (size_t)(k * 5 + round));
            sign_check(raw[k], 16, body, sizeof(body)); /* the same bytes, a shorter key */
        }
    /* Many keys: every set is filled and evicted, then the first keys come back. */
    unsigned char many[600][24];
    randombytes_buf(many, sizeof(many));
    for (int round = 0; round < 2; round++)
        for (size_t k = 0; k < sizeof(many) / sizeof(many[0]); k += round ? 7 : 1)
            sign_check(many[k], sizeof(many[k]), body, k % sizeof(body));
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_v1_matches_libsodium);
    RUN(test_v1_cached_keys_match_libsodium);
    return UNIT_REPORT();
}

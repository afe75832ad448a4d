#include "hookd/sign.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int hd_sign_key_init(hd_sign_key_t *key, const char *secret, char *errstr, size_t errstr_size) {
    unsigned char raw[HD_SIGN_MAX_KEY];
    size_t raw_len = 0;
    const char *b64 = !strncmp(secret, "whsec_", 6) ? secret + 6 : secret;
    const char *end = NULL;
    if (sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL, &raw_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end) {
        snprintf(errstr, errstr_size, "secret is not a whsec_ secret with a base64 key of at most %d bytes",
                 HD_SIGN_MAX_KEY);
        return -1;
    }
    if (raw_len < 16) {
        snprintf(errstr, errstr_size, "secret key is %zu bytes; at least 16 are required", raw_len);
        sodium_memzero(raw, sizeof(raw));
        return -1;
    }
    memcpy(key->key, raw, raw_len);
    key->len = (unsigned char)raw_len;
    sodium_memzero(raw, sizeof(raw));
    return 0;
}

static void mac(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                unsigned char out[crypto_auth_hmacsha256_BYTES]) {
    char ts[24];
    int ts_len = snprintf(ts, sizeof(ts), ".%" PRId64 ".", timestamp);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key->key, key->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)ts_len);
    crypto_auth_hmacsha256_update(&st, body, body_len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

void hd_sign_v1(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                char out[HD_SIGN_V1_SIZE]) {
    unsigned char sig[crypto_auth_hmacsha256_BYTES];
    mac(key, msg_id, timestamp, body, body_len, sig);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, HD_SIGN_V1_SIZE - 3, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
}

int hd_sign_header(const hd_sign_keyset_t *ks, int64_t now_ms, const char *msg_id, int64_t timestamp,
                   const void *body, size_t body_len, char out[HD_SIGN_HEADER_SIZE]) {
    size_t len = 0;
    int n = 0;
    out[0] = '\0';
    for (int i = 0; i < ks->hmac_cnt; i++) {
        if (ks->hmac_expires_ms[i] && ks->hmac_expires_ms[i] <= now_ms) continue;
        if (n++) out[len++] = ' ';
        hd_sign_v1(&ks->hmac[i], msg_id, timestamp, body, body_len, out + len);
        len += strlen(out + len);
    }
    return n;
}

int hd_sign_verify(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body,
                   size_t body_len, const char *header) {
    unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    mac(key, msg_id, timestamp, body, body_len, want);
    int ok = 0;
    for (const char *p = header; *p;) {
        while (*p == ' ') p++;
        size_t len = strcspn(p, " ");
        size_t got_len = 0;
        if (len > 3 && !strncmp(p, "v1,", 3) &&
            sodium_base642bin(got, sizeof(got), p + 3, len - 3, NULL, &got_len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            got_len == sizeof(got) && sodium_memcmp(got, want, sizeof(want)) == 0)
            ok = 1;
        p += len;
    }
    return ok;
}

void hd_sign_message_id(const char *event_id, const char *subscription_id, char out[HD_SIGN_ID_SIZE]) {
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    /* Length-prefix the parts (fixed little-endian, so every replica on any CPU derives the same id) so that
     * ("ab","c") and ("a","bc") differ. */
    size_t n = strlen(event_id);
    unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 24)};
    crypto_generichash_update(&st, len, sizeof(len));
    crypto_generichash_update(&st, (const unsigned char *)event_id, n);
    crypto_generichash_update(&st, (const unsigned char *)subscription_id, strlen(subscription_id));
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(out, "msg_", 4);
    sodium_bin2hex(out + 4, HD_SIGN_ID_SIZE - 4, h, sizeof(h));
}

void hd_sign_secret_generate(char *out, size_t out_size) {
    unsigned char raw[24];
    randombytes_buf(raw, sizeof(raw));
    snprintf(out, out_size, "whsec_");
    sodium_bin2base64(out + 6, out_size - 6, raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
}

#include "hookd/sign.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

/* The HMAC runs on OpenSSL's SHA-256 (SHA-NI where the CPU has it: a tenth of libsodium's portable code per
 * block). A context per thread, re-keyed per signature: making one per signature (the digest fetched and set
 * again) costs 3,000 instructions more. */
static void *hmac_ctx_new(void) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
    EVP_MAC_free(alg); /* the context holds its own reference */
    if (!ctx || !EVP_MAC_CTX_set_params(ctx, params)) {
        fprintf(stderr, "hookd: OpenSSL cannot make an HMAC-SHA256 context\n");
        abort();
    }
    return ctx;
}

static void hmac_ctx_free(void *ctx) {
    EVP_MAC_CTX_free(ctx);
}

static hd_per_thread_t hmac_ctx = HD_PER_THREAD(hmac_ctx_new, hmac_ctx_free);

int hd_sign_key_init(hd_sign_key_t *key, const char *secret, char *errstr, size_t errstr_size) {
    unsigned char raw[HD_SIGN_MAX_KEY];
    size_t raw_len = 0;
    const char *b64 = !strncmp(secret, "whsec_", 6) ? secret + 6 : secret;
    const char *end = NULL;
    if (sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL, &raw_len, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
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

static void mac(const unsigned char *key, size_t key_len, const char *msg_id, int64_t timestamp, const void *body,
                size_t body_len, unsigned char out[crypto_auth_hmacsha256_BYTES]) {
    char ts[HD_INT64_TEXT + 2] = ".";
    size_t ts_len = hd_int64_text(timestamp, ts + 1) + 1;
    ts[ts_len++] = '.';
    EVP_MAC_CTX *ctx = hd_per_thread_get(&hmac_ctx);
    size_t len;
    /* Re-keying resets the context. Until then it holds the last key's pads, no more secret than the key the
     * subscription itself holds in memory. */
    if (!EVP_MAC_init(ctx, key, key_len, NULL) || !EVP_MAC_update(ctx, (const unsigned char *)msg_id, strlen(msg_id)) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, ts_len) || !EVP_MAC_update(ctx, body, body_len) ||
        !EVP_MAC_final(ctx, out, &len, crypto_auth_hmacsha256_BYTES)) {
        fprintf(stderr, "hookd: HMAC-SHA256 failed\n");
        abort();
    }
}

static void v1(const unsigned char *key, size_t key_len, const char *msg_id, int64_t timestamp, const void *body,
               size_t body_len, char out[HD_SIGN_V1_SIZE]) {
    unsigned char sig[crypto_auth_hmacsha256_BYTES];
    mac(key, key_len, msg_id, timestamp, body, body_len, sig);
    memcpy(out, "v1,", 3);
    /* The signature goes out in a header: nothing to hide from timing, so OpenSSL's table-driven base64 (300
     * instructions) rather than libsodium's constant-time one (2,300). */
    EVP_EncodeBlock((unsigned char *)out + 3, sig, sizeof(sig));
}

void hd_sign_v1(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                char out[HD_SIGN_V1_SIZE]) {
    v1(key->key, key->len, msg_id, timestamp, body, body_len, out);
}

int hd_sign_ed_key_init(hd_sign_ed_key_t *key, const char *secret, char *errstr, size_t errstr_size) {
    unsigned char raw[crypto_sign_SECRETKEYBYTES + 1], pk[crypto_sign_PUBLICKEYBYTES];
    size_t raw_len = 0;
    const char *end = NULL;
    int rc = -1;
    if (strncmp(secret, "whsk_", 5) ||
        sodium_base642bin(raw, sizeof(raw), secret + 5, strlen(secret + 5), NULL, &raw_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end || raw_len != crypto_sign_SECRETKEYBYTES) {
        snprintf(errstr, errstr_size, "signing key is not \"whsk_\" + base64 of 64 bytes (seed, public key)");
        goto out;
    }
    crypto_sign_seed_keypair(pk, key->sk, raw);
    if (sodium_memcmp(pk, raw + crypto_sign_SEEDBYTES, sizeof(pk))) {
        snprintf(errstr, errstr_size, "signing key: the public key half does not belong to the seed");
        sodium_memzero(key->sk, sizeof(key->sk));
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(raw, sizeof(raw));
    return rc;
}

void hd_sign_ed_generate(char sk_out[HD_SIGN_ED_SECRET_SIZE], char pk_out[HD_SIGN_ED_PUBLIC_SIZE]) {
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sk);
    memcpy(sk_out, "whsk_", 5);
    sodium_bin2base64(sk_out + 5, HD_SIGN_ED_SECRET_SIZE - 5, sk, sizeof(sk), sodium_base64_VARIANT_ORIGINAL);
    memcpy(pk_out, "whpk_", 5);
    sodium_bin2base64(pk_out + 5, HD_SIGN_ED_PUBLIC_SIZE - 5, pk, sizeof(pk), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(sk, sizeof(sk));
}

/* ed25519 signs the whole message at once: "{id}.{timestamp}.{body}" is assembled in one buffer. */
static unsigned char *signed_content(const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                                     size_t *len) {
    char ts[24];
    size_t id_len = strlen(msg_id), ts_len = (size_t)snprintf(ts, sizeof(ts), ".%" PRId64 ".", timestamp);
    unsigned char *buf = hd_xmalloc(id_len + ts_len + body_len + 1);
    memcpy(buf, msg_id, id_len);
    memcpy(buf + id_len, ts, ts_len);
    if (body_len) memcpy(buf + id_len + ts_len, body, body_len);
    *len = id_len + ts_len + body_len;
    return buf;
}

/* Walks the space-separated entries of a webhook-signature header: returns the position after the next entry (NULL
 * at the end) and sets *ok when that entry has the prefix and decodes to exactly out_size bytes into out. */
static const char *next_signature(const char *p, const char *prefix, unsigned char *out, size_t out_size, int *ok) {
    while (*p == ' ')
        p++;
    if (!*p) return NULL;
    size_t n = strcspn(p, " "), plen = strlen(prefix), got = 0;
    *ok = n > plen && !strncmp(p, prefix, plen) &&
          sodium_base642bin(out, out_size, p + plen, n - plen, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
          got == out_size;
    return p + n;
}

void hd_sign_v1a(const hd_sign_ed_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                 char out[HD_SIGN_V1A_SIZE]) {
    unsigned char sig[crypto_sign_BYTES];
    size_t len;
    unsigned char *m = signed_content(msg_id, timestamp, body, body_len, &len);
    crypto_sign_detached(sig, NULL, m, len, key->sk);
    free(m);
    memcpy(out, "v1a,", 4);
    sodium_bin2base64(out + 4, HD_SIGN_V1A_SIZE - 4, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
}

int hd_sign_verify_v1a(const char *public_key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                       const char *header) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    size_t pk_len = 0, len;
    int ok_entry;
    const char *end = NULL;
    if (strncmp(public_key, "whpk_", 5) ||
        sodium_base642bin(pk, sizeof(pk), public_key + 5, strlen(public_key + 5), NULL, &pk_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end || pk_len != sizeof(pk))
        return 0;
    unsigned char *m = signed_content(msg_id, timestamp, body, body_len, &len);
    int ok = 0;
    for (const char *p = header; (p = next_signature(p, "v1a,", sig, sizeof(sig), &ok_entry));)
        if (ok_entry && crypto_sign_verify_detached(sig, m, len, pk) == 0) ok = 1;
    free(m);
    return ok;
}

int hd_sign_header(const hd_sign_keyset_t *ks, int64_t now_ms, const char *msg_id, int64_t timestamp, const void *body,
                   size_t body_len, char out[HD_SIGN_HEADER_SIZE]) {
    size_t len = 0;
    int n = 0;
    out[0] = '\0';
    for (int i = 0; i < ks->hmac_cnt; i++) {
        int64_t expires = i ? ks->more->hmac_prev_expires_ms : 0;
        if (expires && expires <= now_ms) continue;
        if (n++) out[len++] = ' ';
        if (i)
            v1(ks->more->hmac_prev, ks->more->hmac_prev_len, msg_id, timestamp, body, body_len, out + len);
        else
            v1(ks->hmac, ks->hmac_len, msg_id, timestamp, body, body_len, out + len);
        len += strlen(out + len);
    }
    for (int i = 0; i < ks->ed_cnt; i++) {
        if (ks->more->ed_expires_ms[i] && ks->more->ed_expires_ms[i] <= now_ms) continue;
        if (n++) out[len++] = ' ';
        hd_sign_v1a(&ks->more->ed[i], msg_id, timestamp, body, body_len, out + len);
        len += strlen(out + len);
    }
    return n;
}

int hd_sign_verify(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                   const char *header) {
    unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    mac(key->key, key->len, msg_id, timestamp, body, body_len, want);
    int ok = 0, ok_entry;
    for (const char *p = header; (p = next_signature(p, "v1,", got, sizeof(got), &ok_entry));)
        if (ok_entry && sodium_memcmp(got, want, sizeof(want)) == 0) ok = 1;
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

#include "hookd/sign.h"

#include <inttypes.h>
/* SHA256_CTX is deprecated API in OpenSSL 3, and the only one that restores a SHA-256 state (see mac). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

/* The HMAC runs on OpenSSL's SHA-256 (SHA-NI where the CPU has it: a tenth of libsodium's portable code per
 * block), through its low-level SHA256_CTX: a key's HMAC state is then two 32-byte SHA-256 states (after the
 * inner and the outer pad block), restored by a copy. Through EVP_MAC, re-keying a context per signature cost
 * 6,600 instructions and the EVP layers 1,200 more (tests/unit/test_sign_libsodium.c checks the result against
 * libsodium's HMAC byte for byte). */
_Static_assert(HD_SIGN_MAX_KEY <= SHA256_CBLOCK, "a key longer than a block would be hashed first");

typedef struct pads_s {
    SHA_LONG inner[8], outer[8];
    unsigned char key[HD_SIGN_MAX_KEY];
    unsigned char len; /* 0: an empty slot */
} pads_t;

/* The pads of the keys a worker signed with last, per thread: 4-way set-associative, most recent first in a set.
 * 1,024 keys in 136 KB; the pads stay out of the subscriptions, which would grow by 64 bytes each. A key that is
 * not here costs two blocks more, as every key did before. */
#define PAD_SETS 256
#define PAD_WAYS 4
typedef struct pad_cache_s {
    pads_t set[PAD_SETS][PAD_WAYS];
} pad_cache_t;

static void *pad_cache_new(void) {
    return hd_xcalloc(1, sizeof(pad_cache_t));
}

static void pad_cache_free(void *c) {
    sodium_memzero(c, sizeof(pad_cache_t));
    free(c);
}

static hd_per_thread_t pad_cache = HD_PER_THREAD(pad_cache_new, pad_cache_free);

/* A SHA-256 context that has hashed one block and is in the state h. */
static void sha256_resume(SHA256_CTX *c, const SHA_LONG h[8]) {
    SHA256_Init(c);
    memcpy(c->h, h, sizeof(c->h));
    c->Nl = SHA256_CBLOCK * 8;
}

static void pads_init(pads_t *p, const unsigned char *key, size_t key_len) {
    unsigned char block[SHA256_CBLOCK];
    SHA256_CTX c;
    for (int outer = 0; outer < 2; outer++) {
        memset(block, outer ? 0x5c : 0x36, sizeof(block));
        for (size_t i = 0; i < key_len; i++)
            block[i] ^= key[i];
        SHA256_Init(&c);
        SHA256_Update(&c, block, sizeof(block));
        memcpy(outer ? p->outer : p->inner, c.h, sizeof(c.h));
    }
    memcpy(p->key, key, key_len);
    p->len = (unsigned char)key_len;
    sodium_memzero(block, sizeof(block));
    sodium_memzero(&c, sizeof(c));
}

/* The key's pads, from the cache or made and put in front of its set (evicting the set's least recent key). */
static const pads_t *pads_of(const unsigned char *key, size_t key_len) {
    pad_cache_t *cache = hd_per_thread_get(&pad_cache);
    uint64_t w;
    memcpy(&w, key, sizeof(w)); /* keys are at least 16 bytes, and random: their first bytes pick the set */
    pads_t *set = cache->set[(w * 0x9e3779b97f4a7c15u) >> 56];
    int i = 0;
    while (i < PAD_WAYS && !(set[i].len == key_len && !memcmp(set[i].key, key, key_len)))
        i++;
    if (i == PAD_WAYS) {
        memmove(set + 1, set, sizeof(*set) * (PAD_WAYS - 1));
        pads_init(&set[0], key, key_len);
    } else if (i) {
        pads_t hit = set[i];
        memmove(set + 1, set, sizeof(*set) * (size_t)i);
        set[0] = hit;
        sodium_memzero(&hit, sizeof(hit));
    }
    return &set[0];
}

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
    const pads_t *p = pads_of(key, key_len);
    unsigned char inner[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    sha256_resume(&c, p->inner);
    SHA256_Update(&c, msg_id, strlen(msg_id));
    SHA256_Update(&c, ts, ts_len);
    SHA256_Update(&c, body, body_len);
    SHA256_Final(inner, &c);
    sha256_resume(&c, p->outer);
    SHA256_Update(&c, inner, sizeof(inner));
    SHA256_Final(out, &c);
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

void hd_sign_message_id_salted(const char *event_id, const char *subscription_id, const char *salt,
                               char out[HD_SIGN_ID_SIZE]) {
    if (!salt) {
        hd_sign_message_id(event_id, subscription_id, out);
        return;
    }
    char salted[512];
    snprintf(salted, sizeof(salted), "%s/%s", subscription_id, salt);
    hd_sign_message_id(event_id, salted, out);
}

void hd_sign_secret_generate(char *out, size_t out_size) {
    unsigned char raw[24];
    randombytes_buf(raw, sizeof(raw));
    snprintf(out, out_size, "whsec_");
    sodium_bin2base64(out + 6, out_size - 6, raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(raw, sizeof(raw));
}

/* Signing: the Standard Webhooks vectors in ../shared/vectors/standard-webhooks.json, read at run time so the
 * test follows the shared file. */
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>

#include "hookd/sign.h"
#include "unit.h"

static json_object *vectors;

static const char *str(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_vectors_sign(void) {
    json_object *sym;
    CHECK(json_object_object_get_ex(vectors, "symmetric", &sym));
    CHECK(json_object_array_length(sym) > 0);
    for (size_t i = 0; i < json_object_array_length(sym); i++) {
        json_object *v = json_object_array_get_idx(sym, i), *ts;
        json_object_object_get_ex(v, "timestamp", &ts);
        hd_sign_key_t key;
        char err[256], sig[HD_SIGN_V1_SIZE];
        CHECK(hd_sign_key_init(&key, str(v, "secret"), err, sizeof(err)) == 0);
        const char *payload = str(v, "payload");
        hd_sign_v1(&key, str(v, "msg_id"), json_object_get_int64(ts), payload, strlen(payload), sig);
        CHECK_STR(sig, str(v, "signature"));
        CHECK(hd_sign_verify(&key, str(v, "msg_id"), json_object_get_int64(ts), payload, strlen(payload), sig));
    }
}

static void test_vectors_must_not_verify(void) {
    json_object *sym, *bad;
    json_object_object_get_ex(vectors, "symmetric", &sym);
    CHECK(json_object_object_get_ex(vectors, "must_not_verify", &bad));
    for (size_t i = 0; i < json_object_array_length(bad); i++) {
        json_object *b = json_object_array_get_idx(bad, i), *against, *ts;
        json_object_object_get_ex(b, "against", &against);
        json_object *v = json_object_array_get_idx(sym, (size_t)json_object_get_int(against));
        json_object_object_get_ex(v, "timestamp", &ts);
        hd_sign_key_t key;
        char err[256];
        CHECK(hd_sign_key_init(&key, str(v, "secret"), err, sizeof(err)) == 0);
        const char *payload = str(v, "payload");
        CHECK(!hd_sign_verify(&key, str(v, "msg_id"), json_object_get_int64(ts), payload, strlen(payload),
                              str(b, "signature")));
    }
}

static void test_verify_any_of_several(void) {
    hd_sign_key_t key;
    char err[256], sig[HD_SIGN_V1_SIZE], header[256];
    CHECK(hd_sign_key_init(&key, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", err, sizeof(err)) == 0);
    hd_sign_v1(&key, "msg_1", 1700000000, "{}", 2, sig);
    snprintf(header, sizeof(header), "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= %s", sig);
    CHECK(hd_sign_verify(&key, "msg_1", 1700000000, "{}", 2, header));
    CHECK(!hd_sign_verify(&key, "msg_1", 1700000001, "{}", 2, header));  /* timestamp is signed */
    CHECK(!hd_sign_verify(&key, "msg_2", 1700000000, "{}", 2, header));  /* id is signed */
    CHECK(!hd_sign_verify(&key, "msg_1", 1700000000, "{ }", 3, header)); /* body is signed */
    CHECK(!hd_sign_verify(&key, "msg_1", 1700000000, "{}", 2, ""));
}

static void test_bad_secrets(void) {
    hd_sign_key_t key;
    char err[256];
    CHECK(hd_sign_key_init(&key, "whsec_!!!notbase64", err, sizeof(err)) == -1);
    CHECK(strstr(err, "base64") != NULL);
    CHECK(hd_sign_key_init(&key, "whsec_c2hvcnQ=", err, sizeof(err)) == -1); /* "short": 5 bytes */
    CHECK(strstr(err, "at least 16") != NULL);
    CHECK(hd_sign_key_init(&key, "", err, sizeof(err)) == -1);
    /* The prefix is optional, as in the reference libraries. */
    CHECK(hd_sign_key_init(&key, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", err, sizeof(err)) == 0);
}

static void test_message_id_stable(void) {
    char a[HD_SIGN_ID_SIZE], b[HD_SIGN_ID_SIZE], c[HD_SIGN_ID_SIZE], d[HD_SIGN_ID_SIZE];
    hd_sign_message_id("evt_1", "sub_1", a);
    hd_sign_message_id("evt_1", "sub_1", b);
    hd_sign_message_id("evt_1", "sub_2", c);
    hd_sign_message_id("evt_", "1sub_1", d); /* same concatenation, different parts */
    CHECK_STR(a, b);
    CHECK(strcmp(a, c) != 0);
    CHECK(strcmp(a, d) != 0);
    CHECK(strncmp(a, "msg_", 4) == 0 && strlen(a) == 36);
    /* Pinned: every replica, on any CPU and any version, must derive the same id. */
    CHECK_STR(a, "msg_aee5016980e904dca7dafb4f4f69a5b1");
    hd_sign_message_id_salted("evt_1", "sub_1", NULL, b);
    CHECK_STR(a, b);
    hd_sign_message_id_salted("evt_1", "sub_1", "r2", b);
    hd_sign_message_id("evt_1", "sub_1/r2", c);
    CHECK(strcmp(a, b) != 0);
    CHECK_STR(b, c);
}

static void test_generated_secret_roundtrip(void) {
    char secret[64], err[256];
    hd_sign_key_t key;
    hd_sign_secret_generate(secret, sizeof(secret));
    CHECK(strncmp(secret, "whsec_", 6) == 0);
    CHECK(hd_sign_key_init(&key, secret, err, sizeof(err)) == 0);
}

/* Pinned with an independent implementation (Python `cryptography`, seed 00 01 .. 1f). */
#define ED_SK "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA=="
#define ED_PK "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
#define ED_MSG_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define ED_PAYLOAD "{\"test\": 2432232314}"
#define ED_SIG "v1a,yoUrgEkc12aGqm0n4Sydmdz55xJfTz4AsAgieHFjmkR7LJtqVCZOQYzvvHjI5kAey+r4iaBGxTFRrl2iBQxtDQ=="

static void test_ed25519_pinned(void) {
    hd_sign_ed_key_t key;
    char err[256], sig[HD_SIGN_V1A_SIZE];
    CHECK(hd_sign_ed_key_init(&key, ED_SK, err, sizeof(err)) == 0);
    hd_sign_v1a(&key, ED_MSG_ID, 1614265330, ED_PAYLOAD, strlen(ED_PAYLOAD), sig);
    CHECK_STR(sig, ED_SIG);
    CHECK(hd_sign_verify_v1a(ED_PK, ED_MSG_ID, 1614265330, ED_PAYLOAD, strlen(ED_PAYLOAD), sig));
    CHECK(!hd_sign_verify_v1a(ED_PK, ED_MSG_ID, 1614265331, ED_PAYLOAD, strlen(ED_PAYLOAD), sig));
    CHECK(!hd_sign_verify_v1a(ED_PK, ED_MSG_ID, 1614265330, "{}", 2, sig));
    CHECK(!hd_sign_verify_v1a("whpk_nope", ED_MSG_ID, 1614265330, ED_PAYLOAD, strlen(ED_PAYLOAD), sig));
}

static void test_ed25519_libsodium_verifies(void) {
    char sk[HD_SIGN_ED_SECRET_SIZE], pk[HD_SIGN_ED_PUBLIC_SIZE], err[256], sig[HD_SIGN_V1A_SIZE];
    hd_sign_ed_generate(sk, pk);
    CHECK(!strncmp(sk, "whsk_", 5) && !strncmp(pk, "whpk_", 5));
    hd_sign_ed_key_t key;
    CHECK(hd_sign_ed_key_init(&key, sk, err, sizeof(err)) == 0);
    hd_sign_v1a(&key, "msg_x", 1700000000, "{\"a\":1}", 7, sig);
    unsigned char raw_sig[crypto_sign_BYTES], raw_pk[crypto_sign_PUBLICKEYBYTES];
    size_t n;
    CHECK(sodium_base642bin(raw_sig, sizeof(raw_sig), sig + 4, strlen(sig + 4), NULL, &n, NULL,
                            sodium_base64_VARIANT_ORIGINAL) == 0 &&
          n == sizeof(raw_sig));
    CHECK(sodium_base642bin(raw_pk, sizeof(raw_pk), pk + 5, strlen(pk + 5), NULL, &n, NULL,
                            sodium_base64_VARIANT_ORIGINAL) == 0 &&
          n == sizeof(raw_pk));
    const char *content = "msg_x.1700000000.{\"a\":1}";
    CHECK(crypto_sign_verify_detached(raw_sig, (const unsigned char *)content, strlen(content), raw_pk) == 0);
}

static void test_ed25519_bad_keys(void) {
    hd_sign_ed_key_t key;
    char err[256];
    CHECK(hd_sign_ed_key_init(&key, ED_PK, err, sizeof(err)) == -1); /* a public key is not a signing key */
    CHECK(hd_sign_ed_key_init(&key, "whsk_AAAA", err, sizeof(err)) == -1);
    /* seed and public key that do not belong together */
    CHECK(hd_sign_ed_key_init(
              &key, "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==",
              err, sizeof(err)) == -1);
    CHECK(strstr(err, "public key") != NULL);
}

static void test_multi_signature_header(void) {
    hd_sign_key_t cur, prev; /* the keyset points at their bytes */
    char err[256], header[HD_SIGN_HEADER_SIZE], sk2[HD_SIGN_ED_SECRET_SIZE], pk2[HD_SIGN_ED_PUBLIC_SIZE];
    CHECK(hd_sign_key_init(&cur, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", err, sizeof(err)) == 0);
    CHECK(hd_sign_key_init(&prev, "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", err, sizeof(err)) == 0);
    hd_sign_more_t more = {.hmac_prev = prev.key, .hmac_prev_len = prev.len};
    hd_sign_keyset_t ks = {.hmac = cur.key, .hmac_len = cur.len, .more = &more};
    ks.hmac_cnt = 2;
    CHECK(hd_sign_ed_key_init(&more.ed[0], ED_SK, err, sizeof(err)) == 0);
    hd_sign_ed_generate(sk2, pk2);
    CHECK(hd_sign_ed_key_init(&more.ed[1], sk2, err, sizeof(err)) == 0);
    ks.ed_cnt = 2;
    CHECK(hd_sign_header(&ks, 1000, "msg_1", 1700000000, "{}", 2, header) == 4);
    CHECK(hd_sign_verify(&cur, "msg_1", 1700000000, "{}", 2, header));
    CHECK(hd_sign_verify(&prev, "msg_1", 1700000000, "{}", 2, header));
    CHECK(hd_sign_verify_v1a(ED_PK, "msg_1", 1700000000, "{}", 2, header));
    CHECK(hd_sign_verify_v1a(pk2, "msg_1", 1700000000, "{}", 2, header));
    CHECK(!strncmp(header, "v1,", 3) && strstr(header, " v1a,"));
    /* expired previous keys drop out */
    more.hmac_prev_expires_ms = 500;
    more.ed_expires_ms[1] = 500;
    CHECK(hd_sign_header(&ks, 1000, "msg_1", 1700000000, "{}", 2, header) == 2);
    CHECK(!hd_sign_verify(&prev, "msg_1", 1700000000, "{}", 2, header));
    CHECK(!hd_sign_verify_v1a(pk2, "msg_1", 1700000000, "{}", 2, header));
    /* v1a only */
    ks.hmac_cnt = 0;
    CHECK(hd_sign_header(&ks, 1000, "msg_1", 1700000000, "{}", 2, header) == 1);
    CHECK(!strncmp(header, "v1a,", 4) && !strchr(header, ' '));
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const char *path = getenv("HOOKD_VECTORS");
    vectors = json_object_from_file(path ? path : "../shared/vectors/standard-webhooks.json");
    if (!vectors) {
        fprintf(stderr, "cannot read the Standard Webhooks vectors (set HOOKD_VECTORS)\n");
        return 1;
    }
    RUN(test_vectors_sign);
    RUN(test_vectors_must_not_verify);
    RUN(test_verify_any_of_several);
    RUN(test_bad_secrets);
    RUN(test_message_id_stable);
    RUN(test_generated_secret_roundtrip);
    RUN(test_ed25519_pinned);
    RUN(test_ed25519_libsodium_verifies);
    RUN(test_ed25519_bad_keys);
    RUN(test_multi_signature_header);
    json_object_put(vectors);
    return UNIT_REPORT();
}

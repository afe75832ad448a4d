/* Secrets at rest: master-key parsing, encryption round trips bound to their subscription id, tampering, and the
 * dispatcher's parser decrypting what the API stores. */
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>

#include "hookd/secret.h"
#include "hookd/sub.h"
#include "unit.h"

#define MASTER "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" /* "0123456789abcdef0123456789abcdef" */
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static void test_key_parse(void) {
    hd_secret_key_t k;
    char err[256];
    CHECK(hd_secret_key_parse(&k, MASTER, err, sizeof(err)) == 0);
    CHECK(hd_secret_key_parse(&k, "", err, sizeof(err)) == -1 && strstr(err, "not set"));
    CHECK(hd_secret_key_parse(&k, NULL, err, sizeof(err)) == -1);
    CHECK(hd_secret_key_parse(&k, "c2hvcnQ=", err, sizeof(err)) == -1 && strstr(err, "32 bytes"));
    CHECK(hd_secret_key_parse(&k, "not base64!!", err, sizeof(err)) == -1);
}

static void test_round_trip(void) {
    hd_secret_key_t k, other;
    char err[256];
    hd_secret_key_parse(&k, MASTER, err, sizeof(err));
    hd_secret_key_parse(&other, "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", err, sizeof(err));
    CHECK(memcmp(k.enc, k.mac, sizeof(k.enc)) != 0); /* independent subkeys */

    char *enc = hd_secret_encrypt(&k, SECRET, "sub_1"), *enc2 = hd_secret_encrypt(&k, SECRET, "sub_1");
    CHECK(hd_secret_is_encrypted(enc));
    CHECK(!hd_secret_is_encrypted(SECRET));
    CHECK(strstr(enc, "MfKQ9r8") == NULL);
    CHECK(strcmp(enc, enc2) != 0); /* random nonces */

    char *plain = hd_secret_decrypt(&k, enc, "sub_1", err, sizeof(err));
    CHECK_STR(plain, SECRET);
    hd_secret_free(plain);
    CHECK(hd_secret_decrypt(&k, enc, "sub_2", err, sizeof(err)) == NULL); /* bound to its subscription */
    CHECK(hd_secret_decrypt(&other, enc, "sub_1", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "master key") != NULL);

    size_t n = strlen(enc);
    enc[n - 3] = enc[n - 3] == 'A' ? 'B' : 'A'; /* tampered ciphertext */
    CHECK(hd_secret_decrypt(&k, enc, "sub_1", err, sizeof(err)) == NULL);
    CHECK(hd_secret_decrypt(&k, "enc:v1:AAAA", "sub_1", err, sizeof(err)) == NULL);
    CHECK(hd_secret_decrypt(&k, "enc:v1:***", "sub_1", err, sizeof(err)) == NULL);
    CHECK(hd_secret_decrypt(&k, SECRET, "sub_1", err, sizeof(err)) == NULL);
    hd_secret_free(NULL);
    free(enc);
    free(enc2);
}

static json_object *doc(const char *id, const char *secret, const char *previous) {
    json_object *o = json_object_new_object(), *types = json_object_new_array();
    json_object_array_add(types, json_object_new_string("customer.created"));
    json_object_object_add(o, "_id", json_object_new_string(id));
    json_object_object_add(o, "tenant", json_object_new_string("t1"));
    json_object_object_add(o, "url", json_object_new_string("https://example.com/h"));
    json_object_object_add(o, "event_types", types);
    json_object_object_add(o, "secret", json_object_new_string(secret));
    if (previous) json_object_object_add(o, "previous_secret", json_object_new_string(previous));
    return o;
}

static void test_sub_decrypts(void) {
    hd_secret_key_t k;
    char err[256];
    hd_secret_key_parse(&k, MASTER, err, sizeof(err));
    char *enc = hd_secret_encrypt(&k, SECRET, "sub_1"), *prev = hd_secret_encrypt(&k, SECRET, "sub_1");

    json_object *d = doc("sub_1", enc, prev);
    hd_sub_t *sub = hd_sub_from_doc(d, &k, err, sizeof(err));
    CHECK(sub != NULL);
    CHECK(sub && sub->keys.hmac_cnt == 2);
    hd_sub_destroy(sub);
    CHECK(hd_sub_from_doc(d, NULL, err, sizeof(err)) == NULL && strstr(err, "master.key is not set"));
    CHECK(hd_sub_from_doc(d, NULL, err, sizeof(err)) == NULL);
    json_object_put(d);

    d = doc("sub_2", enc, NULL); /* a ciphertext moved to another subscription */
    CHECK(hd_sub_from_doc(d, &k, err, sizeof(err)) == NULL && strstr(err, "sub_2"));
    json_object_put(d);

    d = doc("sub_3", SECRET, NULL); /* plaintext secrets keep working (file store, demo) */
    sub = hd_sub_from_doc(d, &k, err, sizeof(err));
    CHECK(sub != NULL);
    hd_sub_destroy(sub);
    sub = hd_sub_from_doc(d, NULL, err, sizeof(err));
    CHECK(sub != NULL);
    hd_sub_destroy(sub);
    json_object_put(d);
    free(enc);
    free(prev);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_key_parse);
    RUN(test_round_trip);
    RUN(test_sub_decrypts);
    return UNIT_REPORT();
}

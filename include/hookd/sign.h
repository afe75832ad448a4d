/* Standard Webhooks signatures (https://www.standardwebhooks.com): the signed content is
 * "{webhook-id}.{webhook-timestamp}.{body}", v1 is base64(HMAC-SHA256) with the key base64-decoded from a
 * whsec_ secret. OpenSSL's SHA-256 does the HMAC (each thread keeps the pads of the last 1,024 keys it signed
 * with, wiped when the thread ends) and OpenSSL the base64 of the v1 signatures; libsodium the ed25519
 * signatures, the secrets' base64 and the constant-time comparison. */
#ifndef HOOKD_SIGN_H
#define HOOKD_SIGN_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define HD_SIGN_MAX_KEY 64

/* A decoded secret. The raw key rather than its HMAC pads (64 bytes more per key, 6 MB across 100,000
 * subscriptions): the signing threads cache the pads of the keys in use. Plain value type: no destructor, copy
 * freely. */
typedef struct hd_sign_key_s {
    unsigned char key[HD_SIGN_MAX_KEY];
    unsigned char len;
} hd_sign_key_t;
/* "v1," + base64 of 32 bytes + NUL */
#define HD_SIGN_V1_SIZE 48
/* "msg_" + 32 hex + NUL */
#define HD_SIGN_ID_SIZE 37

/* An ed25519 signing key from a "whsk_" secret: base64 of the 32-byte seed followed by the 32-byte public key
 * (libsodium's secret key layout). The receiver verifies with the "whpk_" public key. Plain value type. */
typedef struct hd_sign_ed_key_s {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
} hd_sign_ed_key_t;

/* "v1a," + base64 of a 64-byte signature + NUL */
#define HD_SIGN_V1A_SIZE 93

/* The keys a delivery is signed with: the current secret and, during a rotation's grace period, the previous
 * one; likewise for the optional ed25519 keys. The receiver accepts the message when any entry of the
 * webhook-signature header verifies. A keyset with no HMAC key signs with v1a only. */
#define HD_SIGN_MAX_KEYS 2

/* The keys most subscriptions do not have (a previous secret, ed25519 keys: 64 bytes each), out of line so that
 * a keyset with one secret costs 24 bytes. */
typedef struct hd_sign_more_s {
    unsigned char *hmac_prev;                /* hmac_prev_len bytes, when the keyset's hmac_cnt is 2 */
    int64_t hmac_prev_expires_ms;            /* 0: never; after it the key is no longer used */
    hd_sign_ed_key_t ed[HD_SIGN_MAX_KEYS];   /* current, then previous */
    int64_t ed_expires_ms[HD_SIGN_MAX_KEYS]; /* as hmac_prev_expires_ms */
    unsigned char hmac_prev_len;
} hd_sign_more_t;

/* The HMAC keys are the decoded secrets' bytes, as long as each one is (a fixed hd_sign_key_t would take 65
 * bytes for the usual 24). The key bytes and more belong to the keyset's owner, which keeps them in its own
 * allocation and wipes them (hd_sub_destroy). */
typedef struct hd_sign_keyset_s {
    unsigned char *hmac;  /* the current secret's key, hmac_len bytes, when hmac_cnt > 0 */
    hd_sign_more_t *more; /* NULL unless hmac_cnt is 2 or ed_cnt is not 0 */
    unsigned char hmac_len;
    unsigned char hmac_cnt; /* 0, 1, or 2: more->hmac_prev as well */
    unsigned char ed_cnt;   /* keys of more->ed in use */
} hd_sign_keyset_t;

/* Room for the webhook-signature header value of a full keyset. */
#define HD_SIGN_HEADER_SIZE (HD_SIGN_MAX_KEYS * (HD_SIGN_V1_SIZE + HD_SIGN_V1A_SIZE) + 16)

/* Writes the webhook-signature header value ("v1,... v1a,...", space-separated: HMAC entries first) for the
 * keys of ks that are valid at now_ms. Returns the number of signatures written (0 when every key has
 * expired). */
int hd_sign_header(const hd_sign_keyset_t *ks, int64_t now_ms, const char *msg_id, int64_t timestamp, const void *body,
                   size_t body_len, char out[HD_SIGN_HEADER_SIZE]);

/* Parses "whsec_<base64>" (the prefix is optional, as in the reference libraries). Returns 0, or -1 with errstr
 * filled when the secret is not base64 or its key is shorter than 16 or longer than 64 bytes. */
int hd_sign_key_init(hd_sign_key_t *key, const char *secret, char *errstr, size_t errstr_size);

/* Parses "whsk_<base64 of seed || public key>" (64 bytes; the public key must be the seed's). Returns 0, or -1
 * with errstr filled. */
int hd_sign_ed_key_init(hd_sign_ed_key_t *key, const char *secret, char *errstr, size_t errstr_size);

/* Generates a key pair: "whsk_..." into sk_out and "whpk_..." into pk_out (HD_SIGN_ED_SECRET_SIZE and
 * HD_SIGN_ED_PUBLIC_SIZE bytes). */
#define HD_SIGN_ED_SECRET_SIZE 96
#define HD_SIGN_ED_PUBLIC_SIZE 52
void hd_sign_ed_generate(char sk_out[HD_SIGN_ED_SECRET_SIZE], char pk_out[HD_SIGN_ED_PUBLIC_SIZE]);

/* Writes "v1a,<base64 ed25519 signature>" into out (HD_SIGN_V1A_SIZE bytes). */
void hd_sign_v1a(const hd_sign_ed_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                 char out[HD_SIGN_V1A_SIZE]);

/* 1 when any space-separated v1a entry of header verifies with public_key ("whpk_<base64>"), else 0. */
int hd_sign_verify_v1a(const char *public_key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                       const char *header);

/* Writes "v1,<base64 signature>" into out (HD_SIGN_V1_SIZE bytes). */
void hd_sign_v1(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                char out[HD_SIGN_V1_SIZE]);

/* 1 when any space-separated v1 entry of header matches (constant-time comparison), else 0. */
int hd_sign_verify(const hd_sign_key_t *key, const char *msg_id, int64_t timestamp, const void *body, size_t body_len,
                   const char *header);

/* The webhook-id of a delivery: "msg_" + hex of a 16-byte BLAKE2b hash of event id and subscription id, so it
 * stays the same across retries and replays and receivers can de-duplicate on it. */
void hd_sign_message_id(const char *event_id, const char *subscription_id, char out[HD_SIGN_ID_SIZE]);

/* As hd_sign_message_id, with "/" + salt after the subscription id when salt is not NULL: new webhook-ids for a
 * replay asked for them. */
void hd_sign_message_id_salted(const char *event_id, const char *subscription_id, const char *salt,
                               char out[HD_SIGN_ID_SIZE]);

/* Generates a new "whsec_" secret with a 24-byte random key into out (at least 40 bytes). */
void hd_sign_secret_generate(char *out, size_t out_size);

#endif

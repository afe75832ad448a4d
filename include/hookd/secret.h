/* Secrets at rest. A master key (base64 of 32 random bytes, setting master.key / HOOKD_MASTER_KEY) yields two
 * independent subkeys (libsodium KDF): one encrypts subscription secrets with XChaCha20-Poly1305, stored as
 * "enc:v1:<base64(nonce || ciphertext)>" and bound to their subscription id (associated data), so a database dump
 * exposes no secret and a ciphertext cannot be moved to another subscription; the other keys the BLAKE2b hash of
 * API keys (see apikey.h). */
#ifndef HOOKD_SECRET_H
#define HOOKD_SECRET_H

#include <sodium.h>
#include <stddef.h>

#define HD_SECRET_PREFIX "enc:v1:"

/* Plain value type holding key material: wipe it with sodium_memzero when done. */
typedef struct hd_secret_key_s {
    unsigned char enc[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    unsigned char mac[crypto_generichash_KEYBYTES];
} hd_secret_key_t;

/* Parses the base64 master key (standard alphabet, 32 bytes) and derives the subkeys. Returns 0, or -1 with
 * errstr filled (empty, not base64, wrong length). */
int hd_secret_key_parse(hd_secret_key_t *key, const char *b64, char *errstr, size_t errstr_size);

/* 1 when s is an encrypted value (starts with HD_SECRET_PREFIX). */
int hd_secret_is_encrypted(const char *s);

/* Encrypts plain, binding it to ad. Returns a new "enc:v1:..." string the caller frees with free(). */
char *hd_secret_encrypt(const hd_secret_key_t *key, const char *plain, const char *ad);

/* Decrypts an "enc:v1:..." value bound to ad. Returns the plaintext (free with hd_secret_free), or NULL with
 * errstr filled when the value is malformed or does not authenticate (wrong key, wrong ad, tampered). */
char *hd_secret_decrypt(const hd_secret_key_t *key, const char *enc, const char *ad, char *errstr, size_t errstr_size);

/* Wipes and frees a plaintext returned by hd_secret_decrypt. NULL is a no-op. */
void hd_secret_free(char *plain);

#endif

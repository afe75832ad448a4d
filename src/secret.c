#include "hookd/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define B64 sodium_base64_VARIANT_ORIGINAL

int hd_secret_key_parse(hd_secret_key_t *key, const char *b64, char *errstr, size_t errstr_size) {
    unsigned char master[crypto_kdf_KEYBYTES + 1];
    size_t len = 0;
    if (!b64 || !*b64) {
        snprintf(errstr, errstr_size,
                 "master.key is not set (HOOKD_MASTER_KEY: base64 of 32 random bytes, "
                 "e.g. `head -c32 /dev/urandom | base64`)");
        return -1;
    }
    if (sodium_base642bin(master, sizeof(master), b64, strlen(b64), NULL, &len, NULL, B64) ||
        len != crypto_kdf_KEYBYTES) {
        snprintf(errstr, errstr_size, "master.key must be the base64 of exactly %d bytes", crypto_kdf_KEYBYTES);
        sodium_memzero(master, sizeof(master));
        return -1;
    }
    crypto_kdf_derive_from_key(key->enc, sizeof(key->enc), 1, "hookdsec", master);
    crypto_kdf_derive_from_key(key->mac, sizeof(key->mac), 2, "hookdkey", master);
    sodium_memzero(master, sizeof(master));
    return 0;
}

int hd_secret_is_encrypted(const char *s) {
    return s && !strncmp(s, HD_SECRET_PREFIX, strlen(HD_SECRET_PREFIX));
}

char *hd_secret_encrypt(const hd_secret_key_t *key, const char *plain, const char *ad) {
    size_t plen = strlen(plain), blen = NONCE_BYTES + plen + TAG_BYTES;
    unsigned char *buf = hd_xmalloc(blen);
    randombytes_buf(buf, NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + NONCE_BYTES, NULL, (const unsigned char *)plain, plen,
                                               (const unsigned char *)ad, strlen(ad), NULL, buf, key->enc);
    size_t prefix = strlen(HD_SECRET_PREFIX), b64len = sodium_base64_ENCODED_LEN(blen, B64);
    char *out = hd_xmalloc(prefix + b64len);
    memcpy(out, HD_SECRET_PREFIX, prefix);
    sodium_bin2base64(out + prefix, b64len, buf, blen, B64);
    free(buf);
    return out;
}

char *hd_secret_decrypt(const hd_secret_key_t *key, const char *enc, const char *ad, char *errstr, size_t errstr_size) {
    char *plain = NULL;
    if (!hd_secret_is_encrypted(enc)) {
        snprintf(errstr, errstr_size, "not an encrypted value");
        return NULL;
    }
    const char *b64 = enc + strlen(HD_SECRET_PREFIX);
    size_t cap = strlen(b64), blen = 0;
    unsigned char *buf = hd_xmalloc(cap + 1);
    if (sodium_base642bin(buf, cap + 1, b64, cap, NULL, &blen, NULL, B64) || blen < NONCE_BYTES + TAG_BYTES) {
        snprintf(errstr, errstr_size, "encrypted value is malformed");
        goto out;
    }
    unsigned long long plen;
    plain = hd_xmalloc(blen - NONCE_BYTES - TAG_BYTES + 1);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plen, NULL, buf + NONCE_BYTES,
                                                   blen - NONCE_BYTES, (const unsigned char *)ad, strlen(ad), buf,
                                                   key->enc)) {
        snprintf(errstr, errstr_size, "encrypted value does not decrypt with this master key");
        free(plain);
        plain = NULL;
        goto out;
    }
    plain[plen] = '\0';
out:
    free(buf);
    return plain;
}

void hd_secret_free(char *plain) {
    if (!plain) return;
    sodium_memzero(plain, strlen(plain));
    free(plain);
}

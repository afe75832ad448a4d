#include "hookd/oauth.h"

#include <stdio.h>
#include <string.h>

#define PREFIX "hdat_"
#define VERSION 1
#define KEY_ID_BYTES 8
#define HEAD_BYTES (1 + 8 + KEY_ID_BYTES)
#define MAX_TENANT (HD_OAUTH_TENANT_SIZE - 1)
#define MAX_RAW (HEAD_BYTES + MAX_TENANT + crypto_auth_BYTES)
#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* A subkey of its own: the MAC key also keys the API-key hashes (apikey.h), a different use. */
static void token_key(const hd_secret_key_t *master, unsigned char key[crypto_auth_KEYBYTES]) {
    crypto_kdf_derive_from_key(key, crypto_auth_KEYBYTES, 1, "hdoauth1", master->mac);
}

int hd_oauth_issue(const hd_secret_key_t *master, const char *key_id, const char *tenant, int64_t expires_s,
                   char out[HD_OAUTH_TOKEN_SIZE], char *errstr, size_t errstr_size) {
    unsigned char raw[MAX_RAW], key[crypto_auth_KEYBYTES];
    size_t id_len = 0, tlen = strlen(tenant);
    if (strlen(key_id) != KEY_ID_BYTES * 2 ||
        sodium_hex2bin(raw + 9, KEY_ID_BYTES, key_id, KEY_ID_BYTES * 2, NULL, &id_len, NULL) ||
        id_len != KEY_ID_BYTES) {
        snprintf(errstr, errstr_size, "an API key id is %d hex digits", KEY_ID_BYTES * 2);
        return -1;
    }
    if (tlen == 0 || tlen > MAX_TENANT) {
        snprintf(errstr, errstr_size, "a tenant is 1 to %d bytes", MAX_TENANT);
        return -1;
    }
    raw[0] = VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)((uint64_t)expires_s >> (56 - 8 * i));
    memcpy(raw + HEAD_BYTES, tenant, tlen);
    token_key(master, key);
    crypto_auth(raw + HEAD_BYTES + tlen, raw, HEAD_BYTES + tlen, key);
    sodium_memzero(key, sizeof(key));
    memcpy(out, PREFIX, strlen(PREFIX));
    sodium_bin2base64(out + strlen(PREFIX), HD_OAUTH_TOKEN_SIZE - strlen(PREFIX), raw,
                      HEAD_BYTES + tlen + crypto_auth_BYTES, B64);
    return 0;
}

int hd_oauth_verify(const hd_secret_key_t *master, const char *token, int64_t now_s, char key_id[HD_OAUTH_KEY_ID_SIZE],
                    char tenant[HD_OAUTH_TENANT_SIZE], char *errstr, size_t errstr_size) {
    unsigned char raw[MAX_RAW + 1], key[crypto_auth_KEYBYTES];
    size_t len = 0, plen = strlen(PREFIX);
    if (strncmp(token, PREFIX, plen) ||
        sodium_base642bin(raw, sizeof(raw), token + plen, strlen(token + plen), NULL, &len, NULL, B64) ||
        len <= HEAD_BYTES + crypto_auth_BYTES || len > MAX_RAW || raw[0] != VERSION) {
        snprintf(errstr, errstr_size, "not an access token issued by this server");
        return -1;
    }
    size_t signed_len = len - crypto_auth_BYTES;
    token_key(master, key);
    int forged = crypto_auth_verify(raw + signed_len, raw, signed_len, key);
    sodium_memzero(key, sizeof(key));
    if (forged) {
        snprintf(errstr, errstr_size, "the access token does not verify");
        return -1;
    }
    uint64_t expires = 0;
    for (int i = 0; i < 8; i++)
        expires = expires << 8 | raw[1 + i];
    if ((int64_t)expires <= now_s) {
        snprintf(errstr, errstr_size, "the access token has expired");
        return -1;
    }
    sodium_bin2hex(key_id, HD_OAUTH_KEY_ID_SIZE, raw + 9, KEY_ID_BYTES);
    memcpy(tenant, raw + HEAD_BYTES, signed_len - HEAD_BYTES);
    tenant[signed_len - HEAD_BYTES] = '\0';
    return 0;
}

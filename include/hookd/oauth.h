/* OAuth2 access tokens of the client-credentials grant (RFC 6749 section 4.4), as the partner dialect issues them.
 * A token is stateless: "hdat_" + base64url of {version, expiry (Unix seconds), API key id, tenant} followed by an
 * HMAC-SHA-512-256 tag (libsodium crypto_auth) under a subkey of the master key's MAC key. It names the API key it
 * was issued for, so that the caller can check on every use that the key still exists (revoking the key ends its
 * tokens at their next use). */
#ifndef HOOKD_OAUTH_H
#define HOOKD_OAUTH_H

#include <stdint.h>

#include "hookd/secret.h"

/* "hdat_" + base64url (no padding) of at most 1 + 8 + 8 + 128 + 32 bytes, + NUL */
#define HD_OAUTH_TOKEN_SIZE 248
#define HD_OAUTH_KEY_ID_SIZE 17 /* 16 hex digits + NUL */
#define HD_OAUTH_TENANT_SIZE 129

/* Writes the token for the API key key_id (16 lowercase hex digits) of tenant (1 to 128 bytes), valid until
 * expires_s, into out. Returns 0, or -1 with errstr filled when key_id or tenant cannot be carried. */
int hd_oauth_issue(const hd_secret_key_t *master, const char *key_id, const char *tenant, int64_t expires_s,
                   char out[HD_OAUTH_TOKEN_SIZE], char *errstr, size_t errstr_size);

/* Checks token at now_s: 0 with key_id and tenant filled when it is one of ours, untampered and not expired;
 * -1 with errstr filled otherwise (the reason, fit for an error_description). */
int hd_oauth_verify(const hd_secret_key_t *master, const char *token, int64_t now_s, char key_id[HD_OAUTH_KEY_ID_SIZE],
                    char tenant[HD_OAUTH_TENANT_SIZE], char *errstr, size_t errstr_size);

#endif

/* API keys of the management API. A key is "hk_<16 hex id>_<base64url of 32 random bytes>" and belongs to one
 * tenant. The `api_keys` collection holds {_id: id, tenant, admin, hash, created_at} where hash is the hex of a
 * BLAKE2b hash of the whole key keyed with the master key's MAC subkey (secret.h): the key itself is never
 * stored, and a leaked database cannot be used to forge or check keys without the master key. */
#ifndef HOOKD_APIKEY_H
#define HOOKD_APIKEY_H

#include <mongoc/mongoc.h>

#include "hookd/secret.h"

/* "hk_" + 16 + "_" + 43 + NUL */
#define HD_APIKEY_SIZE 64

/* Generates a key for tenant, stores its hash, and writes the key into out (shown once by the caller).
 * Returns 0, or -1 with errstr filled (invalid tenant, database error). */
int hd_apikey_create(mongoc_client_t *client, const char *database, const hd_secret_key_t *master, const char *tenant,
                     int admin, char out[HD_APIKEY_SIZE], char *errstr, size_t errstr_size);

/* Checks key: 1 when valid, with *tenant (caller frees) and *admin set; 0 when unknown or wrong (the hash is
 * compared in constant time); -1 with errstr filled when the database fails. */
int hd_apikey_check(mongoc_client_t *client, const char *database, const hd_secret_key_t *master, const char *key,
                    char **tenant, int *admin, char *errstr, size_t errstr_size);

/* Looks the key with this id up (no key to check: the caller holds proof of it, e.g. an OAuth2 access token issued
 * for it): 1 when it exists, with *tenant (caller frees); 0 when it does not (revoked); -1 with errstr filled when
 * the database fails. */
int hd_apikey_lookup(mongoc_client_t *client, const char *database, const char *id, char **tenant, char *errstr,
                     size_t errstr_size);

/* Calls fn for every key of tenant (NULL: of every tenant), by id; the strings are borrowed for the call. Returns
 * 0, or -1 with errstr filled. */
typedef void (*hd_apikey_fn)(void *arg, const char *id, const char *tenant, int admin, int64_t created_at_ms);
int hd_apikey_list(mongoc_client_t *client, const char *database, const char *tenant, hd_apikey_fn fn, void *arg,
                   char *errstr, size_t errstr_size);

/* Revokes a key, named by its id or given whole ("hk_<id>_..."): its document goes, and since every request reads
 * it, the key stops working at its next request. 1 when revoked, 0 when there is no such key, -1 with errstr
 * filled when the database fails. */
int hd_apikey_revoke(mongoc_client_t *client, const char *database, const char *id_or_key, char *errstr,
                     size_t errstr_size);

#endif

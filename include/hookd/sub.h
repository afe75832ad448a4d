/* The subscription as the dispatcher holds it in memory, parsed from a JSON document (the file store) or a MongoDB
 * document converted to JSON (the MongoDB store) with the document model's defaults and rules (subdoc.h). */
#ifndef HOOKD_SUB_H
#define HOOKD_SUB_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hookd/filter.h"
#include "hookd/render.h"
#include "hookd/sign.h"

typedef struct hd_sub_header_s {
    const char *name;
    const char *value;
} hd_sub_header_t;

/* The fields most subscriptions leave unset. In the subscription's allocation only when one of them is set;
 * otherwise hd_sub_t.extra points to one shared empty instance, so readers need no NULL check. */
typedef struct hd_sub_extra_s {
    hd_sub_header_t *headers;
    const char **statuses; /* NULL when any status triggers */
    const char **notification_emails;
    hd_filter_t *filter;    /* NULL: no filter */
    hd_render_tmpl_t *tmpl; /* payload_template; NULL: the built-in shape of version */
    int headers_cnt;
    int statuses_cnt;
    int notification_emails_cnt;
    int success_code; /* 0: any 2xx */
    int notify;       /* e-mail notification_emails when the subscription gets disabled */
} hd_sub_extra_t;

/* One allocation per subscription holds the struct, its id, the out-of-line structs and arrays, and the keys'
 * bytes. event_types is shared with every subscription holding the same list, and tenant, name and url with those
 * holding the same string once a second one does (intern.h); until then they are in the allocation too: a million
 * subscriptions are held at once (docs/capacity.md, "Subscription memory"). Filters and templates are allocated
 * by their modules; hd_sub_destroy frees them. The integers are as narrow as their ranges allow: 104 bytes of
 * struct, with a 33-character id and a 24-byte key a 176-byte malloc chunk. */
#define HD_SUB_DIGEST_BITS 44
#define HD_SUB_MAX_EVENT_TYPES 255 /* what a document may list (the management API allows fewer) */

typedef struct hd_sub_s {
    const char *id;
    const char *tenant;
    const char *name;
    const char *url;
    /* scheme://host of url (with :port unless it is the scheme's default), origin_len bytes and not
     * NUL-terminated: the unit of per-host limits. Usually a prefix of url, then stored only there. */
    const char *origin;
    const char **event_types;
    const hd_sub_extra_t *extra;
    hd_sign_keyset_t keys; /* secret, then previous_secret while its grace period lasts; likewise signing_key */
    /* Set by the store: a keyed hash of the source document, to reuse the subscription across reloads (a changed
     * document passes for unchanged with odds of one in 2^44). It shares a word with the small read-only fields:
     * a million subscriptions are held at once. */
    uint64_t digest : HD_SUB_DIGEST_BITS;
    uint64_t event_types_cnt : 8;
    uint64_t max_retry_count : 7;
    uint64_t is_active : 1;
    uint64_t version : 4;
    /* The fields that change after load, hence atomic. disabled: set by a worker that saw 410 Gone or continuous
     * failure, before the store catches up. failing_since_ms: start of the current run of failed attempts (0: the
     * last attempt succeeded), shared by every worker and loaded from the store's failing_since, so that
     * auto-disable counts across workers and restarts. */
    _Atomic int64_t failing_since_ms;
    atomic_int refs; /* snapshots holding it: an unchanged subscription is shared by the old and the new one */
    uint16_t origin_len;
    atomic_uchar disabled;
    atomic_uchar failing_stored; /* failing_since_ms is in the store */
} hd_sub_t;

/* Builds a subscription from a JSON object (fields: id or _id, tenant, name, event_types[], url, secret,
 * headers{}, is_active, max_retry_count, success_code, notify, notification_emails[], failing_since, and for
 * rotation previous_secret with previous_secret_expires_at; signing_key "whsk_..." (ed25519, v1a) with
 * previous_signing_key and previous_signing_key_expires_at; statuses[], filter (a query object, or a string
 * holding one, since MongoDB may refuse $-prefixed keys), payload_template, version). At least one of secret and
 * signing_key is required. Returns NULL with errstr filled when a required field is missing or invalid (bad URL
 * scheme, bad secret or key, CR/LF in a header, bad event type pattern, invalid filter or template, unknown
 * version). secret and previous_secret may be encrypted ("enc:v1:...", see secret.h, bound to the subscription
 * id): master decrypts them; master may be NULL, then an encrypted secret is an error. Does not take doc. */
struct hd_secret_key_s;
hd_sub_t *hd_sub_from_doc(json_object *doc, const struct hd_secret_key_s *master, char *errstr, size_t errstr_size);

/* Reference counting: a new subscription has one reference; hd_sub_destroy drops one and the last frees it. NULL
 * is a no-op for hd_sub_destroy. */
hd_sub_t *hd_sub_retain(hd_sub_t *sub);
void hd_sub_destroy(hd_sub_t *sub);

#endif

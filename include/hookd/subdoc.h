/* The subscription document model: the fields of a subscription document, defined once, with what a client may
 * set and their defaults (the management API writes them on create and replace), the rules they must meet
 * (hd_subdoc_check), what replies show, and the defaults and limits the dispatcher's parser reads with (sub.h). */
#ifndef HOOKD_SUBDOC_H
#define HOOKD_SUBDOC_H

#include <json-c/json.h>
#include <stddef.h>

/* What a field holds. Its default, written on create and replace when absent, is with HD_SUBDOC_FIELD_DEFAULT: ""
 * (text), def (int, bool), [] (list), {} (map); without it, null. */
typedef enum {
    HD_SUBDOC_TYPE_TEXT,
    HD_SUBDOC_TYPE_INT,
    HD_SUBDOC_TYPE_BOOL,
    HD_SUBDOC_TYPE_LIST,
    HD_SUBDOC_TYPE_MAP,
    HD_SUBDOC_TYPE_JSON
} hd_subdoc_type_t;

#define HD_SUBDOC_FIELD_SETTABLE 1u /* a client sends it */
#define HD_SUBDOC_FIELD_DEFAULT 2u  /* see hd_subdoc_type_t */
#define HD_SUBDOC_FIELD_KEY 4u      /* a signing key: stored encrypted, never shown */
#define HD_SUBDOC_FIELD_TEXT 8u     /* stored as JSON text (MongoDB may refuse $-prefixed keys), shown as JSON */
#define HD_SUBDOC_FIELD_SHOWN 16u   /* in replies */

typedef struct hd_subdoc_field_s {
    const char *name;
    hd_subdoc_type_t type;
    unsigned flags;
    int def;
} hd_subdoc_field_t;

/* Every field a client may set, in the order replies show them, then those the server sets; besides them a
 * document holds _id and tenant. */
extern const hd_subdoc_field_t hd_subdoc_fields[];
extern const size_t hd_subdoc_fields_cnt;

/* Where each settable field is in hd_subdoc_fields (the parser reads its defaults there). */
enum {
    HD_SUBDOC_F_NAME,
    HD_SUBDOC_F_EVENT_TYPES,
    HD_SUBDOC_F_URL,
    HD_SUBDOC_F_SECRET,
    HD_SUBDOC_F_SIGNING_KEY,
    HD_SUBDOC_F_HEADERS,
    HD_SUBDOC_F_MAX_RETRY_COUNT,
    HD_SUBDOC_F_SUCCESS_CODE,
    HD_SUBDOC_F_IS_ACTIVE,
    HD_SUBDOC_F_STATUSES,
    HD_SUBDOC_F_PAYLOAD_TEMPLATE,
    HD_SUBDOC_F_VERSION,
    HD_SUBDOC_F_NOTIFY,
    HD_SUBDOC_F_NOTIFICATION_EMAILS,
    HD_SUBDOC_F_FILTER,
    HD_SUBDOC_F_METADATA,
    HD_SUBDOC_F_SETTABLE_CNT
};

#define HD_SUBDOC_MAX_RETRIES 100 /* the highest max_retry_count */

/* The id of a subscription document (id, or MongoDB's _id) when it is a string, borrowed from doc; else NULL. */
const char *hd_subdoc_id(json_object *doc);

/* 1 when name: value may be sent as a custom header: a valid token name that is not reserved
 * (content-type, content-length, host, user-agent, webhook-*), and a value free of CR, LF and NUL. */
int hd_subdoc_header_allowed(const char *name, const char *value);

/* 1 when url is an absolute http or https URL with a host and no credentials, as curl parses it; else 0 with
 * errstr filled. When origin is not NULL, *origin gets a new string (the caller frees it): scheme://host, with :port
 * only when the port is not the scheme's default, so that it is a prefix of most URLs. */
int hd_subdoc_url_ok(const char *url, char **origin, char *errstr, size_t errstr_size);

/* How hd_subdoc_check reports and what it asks: problem gets each one (the field and a message of at most 511
 * bytes); known says whether an exact event type is in the catalogue (1, 0, or -1 when it cannot tell now);
 * parse_json parses a template's text strictly (0, or -1 with why); storable says whether a value can be stored as
 * is. */
typedef struct hd_subdoc_check_s {
    void (*problem)(void *opaque, const char *field, const char *message);
    int (*known)(void *opaque, const char *type);
    int (*parse_json)(const char *text, size_t len, json_object **out, char *why, size_t why_size);
    int (*storable)(json_object *v);
    void *opaque;
} hd_subdoc_check_t;

/* Checks every field present in body (a client's create, replace or patch) against the model; with full, the
 * required ones (url, event_types) must be there. A field the model does not know is a problem. Returns the
 * number of problems reported. */
int hd_subdoc_check(json_object *body, int full, const hd_subdoc_check_t *check);

#endif

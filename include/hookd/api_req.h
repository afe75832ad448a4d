/* One management-API request and the helpers the resource modules (api_subscriptions, api_deliveries,
 * api_event_types, api_keys) answer it with: the one error shape {"success": false, "error": slug, "message": ...,
 * "details": [...]}, the one success shape {"success": true, "data": ...}, authentication, the request body and
 * query rules, lookups by alias and targeted produces. Lists page through api_page.h; bodies are parsed and stored
 * through api_json.h. The server and routing (api.h) fill a request in and send its reply; resources include this
 * header, never api.h. */
#ifndef HOOKD_API_REQ_H
#define HOOKD_API_REQ_H

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include "hookd/config.h"
#include "hookd/secret.h"

/* One request as the resource handlers see it. Everything is borrowed for the duration of the request, except
 * tenant_owned and reply (the server frees them: hd_api_req_finish) and body (freed by the server, or by whoever
 * built a sub-request: dialect_native.h). */
typedef struct hd_api_req_s {
    const hd_conf_t *conf;
    const hd_secret_key_t *master;
    mongoc_client_t *client;
    const char *database;
    rd_kafka_t *producer;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;       /* the request path as sent (percent-encoded, no query), for messages */
    const char *const *seg; /* path segments after the dialect's prefix, URL-decoded, valid UTF-8 */
    int nseg;
    const char *raw_body; /* the body as received (NUL-terminated), NULL when there was none */
    size_t raw_len;
    json_object *query; /* a sub-request's query parameters (strings); NULL: the connection's */
    json_object *body;  /* the parsed JSON body (hd_api_req_parse_body), NULL when none */
    const char *tenant; /* set by authentication */
    char *tenant_owned;
    int admin;
    unsigned status; /* the reply, set through the helpers */
    json_object *reply;
    const char *allow;          /* the Allow header of a 405 reply (static) */
    const char *const *headers; /* more headers of the reply: name, value, ..., NULL (static), or NULL */
} hd_api_req_t;

/* Frees what the request owns once its reply is sent: the reply, the parsed body and the tenant. */
void hd_api_req_finish(hd_api_req_t *r);

/* Sets the reply to status and reply (taken), in whatever shape a dialect answers with; the headers of an earlier
 * reply (allow, headers) go with it. */
void hd_api_req_reply(hd_api_req_t *r, unsigned status, json_object *reply);

/* A request header, or NULL. */
const char *hd_api_req_header(hd_api_req_t *r, const char *name);

/* Authenticates the request with key, an API key found wherever the dialect carries it (NULL or empty: none
 * given): 1 with r->tenant and r->admin set; 0 with a 401 reply (slug invalid-token); -1 with a 500 reply. */
int hd_api_req_authenticate(hd_api_req_t *r, const char *key);

/* hd_api_req_authenticate with the key of the x-api-key header, else of "Authorization: Bearer <key>". */
int hd_api_req_authenticate_headers(hd_api_req_t *r);

/* Parses r->raw_body into r->body when there is one: its Content-Type must be one of types (NULL-terminated
 * media types such as "application/json", compared without parameters and case) with no charset but UTF-8, and
 * the body one JSON value other than null (hd_api_json_parse). 0, or -1 with a 415 (invalid-content-type) or 400
 * (invalid-json, invalid-param) reply. */
int hd_api_req_parse_body(hd_api_req_t *r, const char *const *types);

/* 1 when every query parameter is one of allowed (NULL-terminated; NULL: none is), else 0 with a 400 reply
 * (invalid-param) naming the first unknown one. */
int hd_api_req_params(hd_api_req_t *r, const char *const *allowed);

/* Sets an error reply. details (taken; may be NULL) is an array of {"field", "message"} objects. */
void hd_api_req_error(hd_api_req_t *r, unsigned status, const char *slug, json_object *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The 405 reply for a route that exists, with allow (static text, e.g. "GET, POST") as its Allow header. */
void hd_api_req_not_allowed(hd_api_req_t *r, const char *allow);

/* Sets {"success": true, "data": data} (data taken; NULL gives null). */
void hd_api_req_ok(hd_api_req_t *r, unsigned status, json_object *data);

/* A detail entry for hd_api_req_error: appends {"field": field, "message": ...} to *details (created when NULL). */
void hd_api_req_detail(json_object **details, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The 500 reply for a database or Kafka failure; the cause goes to the log, not to the client. */
void hd_api_req_internal(hd_api_req_t *r, const char *what, const char *cause);

/* Deletes the documents of collection matching filter (taken: destroyed on every path): one with many 0, all with
 * many 1. Answers 200 when one or more went, 500 naming what on a database error (-1); when none matched it
 * returns 0 and sets no reply (the caller's 404). Returns the number deleted. */
int64_t hd_api_req_delete(hd_api_req_t *r, const char *collection, bson_t *filter, int many, const char *what);

/* A query parameter, or NULL. */
const char *hd_api_req_query(hd_api_req_t *r, const char *name);

/* 1 when the request carries a JSON body and it is an object; otherwise sets a 4xx reply and returns 0.
 * With optional, a missing body is fine (r->body stays NULL, returns 1). */
int hd_api_req_need_object(hd_api_req_t *r, int optional);

/* The _id of the tenant's document of collection whose numeric alias (alias.h) is alias: 1 with *id set (caller
 * frees); 0 with a 404 reply (not-found) naming what ("subscription", "delivery"); -1 with a 500 reply. */
int hd_api_req_alias_id(hd_api_req_t *r, const char *collection, int64_t alias, const char *what, char **id);

/* The numeric alias of the tenant's document id of collection: 1 with *alias set; 0 with a 404 reply naming what;
 * -1 with a 500 reply. */
int hd_api_req_alias_of(hd_api_req_t *r, const char *collection, const char *id, const char *what, int64_t *alias);

/* Parses an RFC 3339 query parameter into ms; sets a 400 reply and returns -1 when malformed, 0 otherwise
 * (*ms untouched when the parameter is absent). */
int hd_api_req_query_time(hd_api_req_t *r, const char *name, int64_t *ms);

/* Produces value to topic with headers (taken on every path; NULL for none) plus the hookd-subscription header
 * (the dispatcher then delivers the event to that subscription only), and waits for Kafka's acknowledgement.
 * Returns 0, or -1 with errstr filled. */
int hd_api_req_produce_targeted(hd_api_req_t *r, const char *topic, const char *key, const void *value, size_t len,
                                rd_kafka_headers_t *headers, const char *subscription_id, char *errstr,
                                size_t errstr_size);

/* Loads the request tenant's subscription id into *doc (caller destroys it). 1 when found; 0 with a 404 reply set;
 * -1 with a 500 reply set. */
int hd_api_req_find_subscription(hd_api_req_t *r, const char *id, bson_t **doc);

/* The delivery-report callback of the API's producer (rd_kafka_conf_set_dr_msg_cb): wakes the request waiting in
 * hd_api_req_produce_targeted for that message. */
void hd_api_req_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

#endif

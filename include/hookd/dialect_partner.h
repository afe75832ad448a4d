/* The partner dialect (reference API 002, `partner` in api.dialects, at /webhooks by default): /webhooks,
 * /webhooks/{subscription_id}, /webhooks/{subscription_id}/test and /webhooks/events behind OAuth2 client
 * credentials (POST /webhooks/oauth/token; tokens: oauth.h), answered with top-level cursors and the partner's field
 * names. The functions below are its pure shape mappings between the partner's JSON and the native API's
 * (docs/dialects.md, "partner"); every value they return is a new reference the caller owns, every argument is
 * borrowed. */
#ifndef HOOKD_DIALECT_PARTNER_H
#define HOOKD_DIALECT_PARTNER_H

#include <json-c/json.h>
#include <stddef.h>

#include "hookd/dialect.h"

/* The dialect, for the table of dialects (dialects.h). */
extern const hd_dialect_t hd_dialect_partner;

/* The native subscription object as the partner's: created_at, endpoint_url, id, is_active, partner_id (the one
 * kept in its metadata, else tenant), secret_last_4_digits, topic (the first event type), updated_at. */
json_object *hd_dialect_partner_subscription(json_object *native, const char *tenant);

/* The body of POST /webhooks (endpoint_url, secret_key, topic, partner_id) as the native create body. A secret_key
 * without "whsec_" is taken as the raw key bytes (16 to 64) and sent as "whsec_" + base64 of them; a partner_id
 * goes into metadata. NULL with *details (native {field, message} entries, partner field names) when a field is
 * unknown, such a key is out of range or partner_id is not a string of 1 to 256 bytes; everything else is left to
 * the native validation. */
json_object *hd_dialect_partner_create_body(json_object *body, json_object **details);

/* The body of POST /webhooks/{subscription_id}/test ({topic, payload}, both optional; NULL for none) as the native
 * test body ({event_type, data}). NULL with *details when a field is unknown. */
json_object *hd_dialect_partner_test_body(json_object *body, json_object **details);

/* A native delivery-log row as a partner webhook event: id, subscription_id, event_id, topic, status, status_code,
 * response, error_message, retry_count, sent_at, next_retry_at, created_at. */
json_object *hd_dialect_partner_event(json_object *native);

/* A native test-event reply (event_id, delivery_id, event_type, subscription_id) as {event_id, delivery_id, topic,
 * subscription_id, status: "pending"}. */
json_object *hd_dialect_partner_test_reply(json_object *native);

/* A native list reply ({success, data: [...], pagination}) as the partner's page: {data: [conv(item, tenant)...],
 * start_cursor, end_cursor, has_next_page, has_previous_page}. */
json_object *hd_dialect_partner_page(json_object *native, json_object *(*conv)(json_object *item, const char *tenant),
                                     const char *tenant);

/* A native error reply ({success: false, error, message, details}) of status as the partner's {error, message,
 * details}: error is the partner code of status (invalid_request, invalid_token, not_found, ...), the details'
 * field names are the partner's (url -> endpoint_url, event_types -> topic, secret -> secret_key, ...). */
json_object *hd_dialect_partner_error(unsigned status, json_object *native);

/* An ISO 8601 from_date / to_date as RFC 3339 into out: a date-time passes as it is, a calendar date (YYYY-MM-DD)
 * becomes its midnight UTC. 0, or -1 when it is neither. */
int hd_dialect_partner_date(const char *in, char *out, size_t out_size);

/* Parses an application/x-www-form-urlencoded body (len bytes, NUL-terminated) into an object of string values.
 * NULL when it is malformed, not UTF-8 or names a parameter twice (RFC 6749 section 3.2). */
json_object *hd_dialect_partner_form(const char *body, size_t len);

#endif

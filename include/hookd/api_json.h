/* JSON as the management API reads and stores it: the strict parser of request bodies (RFC 8259, stricter than
 * json-c) and the conversions between JSON and the BSON of the store. Pure functions of their arguments. */
#ifndef HOOKD_API_JSON_H
#define HOOKD_API_JSON_H

#include <bson/bson.h>
#include <json-c/json.h>

/* Parses the len bytes of text (NUL-terminated) as one JSON value under RFC 8259's rules, stricter than json-c:
 * no single quotes, NaN, Infinity, numbers out of range, raw control characters or lone surrogates, and nothing
 * after the value but whitespace. 0 with *out set (a new reference; NULL for null), or -1 with why filled. */
int hd_api_json_parse(const char *text, size_t len, json_object **out, char *why, size_t why_size);

/* Converts a MongoDB document to plain JSON: dates become RFC 3339 strings, _id becomes id. Caller owns it. */
json_object *hd_api_json_from_bson(const bson_t *doc);

/* 1 when v can be stored as it is: no object key that is empty, starts with '$' or holds a '.', and no string
 * with an embedded NUL, at any depth (MongoDB's rules for field names). */
int hd_api_json_storable(json_object *v);

/* Values kept as JSON text (filters, event-type schemas): MongoDB field names cannot start with '$' and FerretDB
 * stores no nested arrays, yet both are ordinary in a query or a JSON Schema. Appends v (NULL or JSON null: BSON
 * null) as text under key; text_value turns a stored field back into JSON (a new reference). */
void hd_api_json_append_text(bson_t *b, const char *key, json_object *v);
json_object *hd_api_json_text_value(json_object *stored);

/* Converts a JSON value to BSON appended under key (json-c values: objects, arrays, strings, numbers, ...). */
void hd_api_json_append(bson_t *b, const char *key, json_object *v);

#endif

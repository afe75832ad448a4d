/* The management dialect's query language: the filter, sort and select parameters of its lists, parsed into the
 * store's conditions and sort documents and into the fields a reply keeps (docs/dialects.md). Pure parsers: text
 * in, BSON or JSON out, or why the text is not valid. */
#ifndef HOOKD_DIALECT_MGMT_QUERY_H
#define HOOKD_DIALECT_MGMT_QUERY_H

#include <bson/bson.h>
#include <json-c/json.h>

#include "hookd/dialect_mgmt_shape.h"

/* Parses filter (see docs/dialects.md: "field op value" clauses joined by "and") into conditions appended to out
 * under "$and". 0, or -1 with why filled. */
int hd_dialect_mgmt_query_filter(const char *filter, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size);

/* Parses sort ("field" or "field asc|desc", comma-separated) into a sort document appended to out. 0, or -1 with
 * why filled. */
int hd_dialect_mgmt_query_sort(const char *sort, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size);

/* Parses select (comma-separated fields of the management shape) into *fields (a new array of names). 0, or -1
 * with why filled. */
int hd_dialect_mgmt_query_select(const char *select, hd_mgmt_kind_t kind, json_object **fields, char *why,
                                 size_t why_size);

/* item (taken) reduced to the fields named in fields (borrowed; NULL keeps them all): a new object. */
json_object *hd_dialect_mgmt_query_project(json_object *item, json_object *fields);

#endif

/* The PlanoAuth dialect (`planoauth`, reference API 004): webhook_out_subs with the token and ids in the JSON body,
 * replies {"status": slug, "data": ...} and errors {"status": slug, "message": ..., "errors": [...]}. These are its
 * pure shape mappings between PlanoAuth's fields and the native subscription's; storage and validation stay in the
 * core. Fields, slugs and routes: docs/dialects.md and schemas/dialects/planoauth.yaml. */
#ifndef HOOKD_DIALECT_PLANO_H
#define HOOKD_DIALECT_PLANO_H

#include <json-c/json.h>

#include "hookd/dialect.h"

/* The dialect, for the framework's table (dialect.h). */
extern const hd_dialect_t hd_dialect_plano;

/* The operations of the dialect: which parameters each one takes and requires. */
typedef enum {
    HD_PLANO_CREATE,
    HD_PLANO_UPDATE,
    HD_PLANO_SHOW,
    HD_PLANO_LIST,
    HD_PLANO_DELETE,
    HD_PLANO_TEST,
    HD_PLANO_JOBS
} hd_plano_op_t;

/* The PlanoAuth slug (static) and HTTP status for a native reply's status and error slug (NULL for a success). */
const char *hd_dialect_plano_slug(unsigned status, const char *native_slug, unsigned *http);

/* {"status": "action-successful", "data": data} (data taken; NULL gives null). */
json_object *hd_dialect_plano_ok(json_object *data);

/* {"status": slug, "message": message, "errors": [{"param", "message"}]} from a native error's details (borrowed;
 * may be NULL), their field names given as PlanoAuth's parameter names. */
json_object *hd_dialect_plano_error(const char *slug, const char *message, json_object *details);

/* Checks the parameters of body (borrowed) for op: every one known, the required ones present, id and
 * integration_id positive integers, key a short string (the token is the authentication's). 0, or -1 with *slug
 * (static: missing-param, invalid-param) and *details (a new array of {"field", "message"}) set. */
int hd_dialect_plano_check(json_object *body, hd_plano_op_t op, const char **slug, json_object **details);

/* The native subscription fields of a checked create or update body (borrowed): renamed, and converted where
 * PlanoAuth's types differ (notification_emails, success_code, version, an empty payload_render_view or events).
 * integration_id and key go into a copy of metadata (the subscription's current metadata, borrowed; NULL: none),
 * the native field "metadata", when either is given. A new object, or NULL with *details (a new array) set when a
 * value cannot be converted (invalid-param). */
json_object *hd_dialect_plano_to_native(json_object *body, hd_plano_op_t op, json_object *metadata,
                                        json_object **details);

/* A webhook_out_sub from a native subscription (borrowed; with its secret when the reply shows it): its alias is
 * the id, integration_id and key come from its metadata. A new object. */
json_object *hd_dialect_plano_from_native(json_object *sub);

/* A job from a native delivery-log row (borrowed; its alias is the id) of the subscription with numeric id sub_id.
 * A new object. */
json_object *hd_dialect_plano_job_from_native(json_object *row, int64_t sub_id);

/* The PlanoAuth parameter name of a native field name (a detail's "field", possibly with an "[i]" suffix), as a new
 * string (caller frees). */
char *hd_dialect_plano_param(const char *native_field);

#endif

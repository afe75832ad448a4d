#include "hookd/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/jpath.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

typedef enum { N_AND, N_OR, N_NOT, N_FIELD } kind_t;
typedef enum { OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_NIN, OP_EXISTS } op_t;

/* Paths are split once at compile time; more segments than this is not a real event path. */
#define MAX_SEGS 64

typedef struct node_s {
    kind_t kind;
    struct node_s **kids; /* N_AND, N_OR (any count), N_NOT (one) */
    int cnt;
    char **segs; /* N_FIELD */
    int nsegs;
    op_t op;
    json_object *arg; /* owned deep copy */
} node_t;

struct hd_filter_s {
    node_t *root;
};

static const struct {
    const char *name;
    op_t op;
} ops[] = {{"$eq", OP_EQ},   {"$ne", OP_NE}, {"$gt", OP_GT},   {"$gte", OP_GTE},      {"$lt", OP_LT},
           {"$lte", OP_LTE}, {"$in", OP_IN}, {"$nin", OP_NIN}, {"$exists", OP_EXISTS}};

static void node_free(node_t *n) {
    if (!n) return;
    for (int i = 0; i < n->cnt; i++)
        node_free(n->kids[i]);
    free(n->kids);
    for (int i = 0; i < n->nsegs; i++)
        free(n->segs[i]);
    free(n->segs);
    json_object_put(n->arg);
    free(n);
}

static node_t *node_new(kind_t kind) {
    node_t *n = hd_xcalloc(1, sizeof(*n));
    n->kind = kind;
    return n;
}

static void node_add(node_t *parent, node_t *kid) {
    parent->kids = hd_xrealloc(parent->kids, sizeof(*parent->kids) * (size_t)(parent->cnt + 1));
    parent->kids[parent->cnt++] = kid;
}

static int split_path(node_t *n, const char *path, char *errstr, size_t errstr_size) {
    const char *p = path;
    for (;;) {
        size_t len = strcspn(p, ".");
        if (len == 0) {
            snprintf(errstr, errstr_size, "filter path \"%s\" has an empty segment", path);
            return -1;
        }
        if (n->nsegs == MAX_SEGS) {
            snprintf(errstr, errstr_size, "filter path \"%.*s...\" has more than %d segments",
                     (int)hd_utf8_prefix(path, strlen(path), 64), path, MAX_SEGS);
            return -1;
        }
        n->segs = hd_xrealloc(n->segs, sizeof(*n->segs) * (size_t)(n->nsegs + 1));
        n->segs[n->nsegs++] = hd_xstrndup(p, len);
        if (!p[len]) return 0;
        p += len + 1;
    }
}

static node_t *compile_query(json_object *q, int depth, char *errstr, size_t errstr_size);

/* The operand is copied so the filter does not depend on the document it came from (JSON null stays NULL). */
static int copy_arg(json_object *v, json_object **out) {
    *out = NULL;
    return v ? json_object_deep_copy(v, out, NULL) : 0;
}

static int is_operator_object(json_object *v) {
    if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) == 0) return 0;
    json_object_object_foreach(v, k, val) {
        (void)val;
        return k[0] == '$';
    }
    return 0;
}

/* A comparison of the value at path with arg. NULL with errstr when the path is malformed. */
static node_t *field_node(const char *path, int op, json_object *arg, char *errstr, size_t errstr_size) {
    node_t *kid = node_new(N_FIELD);
    kid->op = op;
    if (split_path(kid, path, errstr, errstr_size)) goto fail;
    if (copy_arg(arg, &kid->arg)) {
        snprintf(errstr, errstr_size, "filter on \"%s\": cannot copy the operand", path);
        goto fail;
    }
    return kid;

fail:
    node_free(kid);
    return NULL;
}

static node_t *compile_ops(const char *path, json_object *obj, int depth, char *errstr, size_t errstr_size) {
    node_t *and = node_new(N_AND), *kid = NULL;
    if (depth > HD_FILTER_MAX_DEPTH) {
        snprintf(errstr, errstr_size, "filter nests deeper than %d levels", HD_FILTER_MAX_DEPTH);
        goto fail;
    }
    json_object_object_foreach(obj, name, arg) {
        if (name[0] != '$') {
            snprintf(errstr, errstr_size, "filter on \"%s\" mixes operators and field \"%s\"", path, name);
            goto fail;
        }
        if (!strcmp(name, "$not")) {
            if (!is_operator_object(arg)) {
                snprintf(errstr, errstr_size, "filter on \"%s\": $not takes an object of operators", path);
                goto fail;
            }
            kid = node_new(N_NOT);
            node_t *inner = compile_ops(path, arg, depth + 1, errstr, errstr_size);
            if (!inner) goto fail;
            node_add(kid, inner);
            node_add(and, kid);
            kid = NULL;
            continue;
        }
        size_t i = 0;
        while (i < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[i].name, name))
            i++;
        if (i == sizeof(ops) / sizeof(ops[0])) {
            snprintf(errstr, errstr_size, "filter on \"%s\": unknown operator \"%s\"", path, name);
            goto fail;
        }
        if ((ops[i].op == OP_IN || ops[i].op == OP_NIN) && !json_object_is_type(arg, json_type_array)) {
            snprintf(errstr, errstr_size, "filter on \"%s\": %s takes an array", path, name);
            goto fail;
        }
        if (ops[i].op == OP_EXISTS && !json_object_is_type(arg, json_type_boolean)) {
            snprintf(errstr, errstr_size, "filter on \"%s\": $exists takes true or false", path);
            goto fail;
        }
        if (!(kid = field_node(path, ops[i].op, arg, errstr, errstr_size))) goto fail;
        node_add(and, kid);
        kid = NULL;
    }
    return and;

fail:
    node_free(kid);
    node_free(and);
    return NULL;
}

static node_t *compile_query(json_object *q, int depth, char *errstr, size_t errstr_size) {
    node_t *and = node_new(N_AND), *kid = NULL;
    if (depth > HD_FILTER_MAX_DEPTH) {
        snprintf(errstr, errstr_size, "filter nests deeper than %d levels", HD_FILTER_MAX_DEPTH);
        goto fail;
    }
    if (!json_object_is_type(q, json_type_object)) {
        snprintf(errstr, errstr_size, "filter must be a JSON object, not %s",
                 json_type_to_name(json_object_get_type(q)));
        goto fail;
    }
    json_object_object_foreach(q, key, val) {
        if (!strcmp(key, "$and") || !strcmp(key, "$or")) {
            if (!json_object_is_type(val, json_type_array) || json_object_array_length(val) == 0) {
                snprintf(errstr, errstr_size, "filter: %s takes a non-empty array of queries", key);
                goto fail;
            }
            kid = node_new(key[1] == 'a' ? N_AND : N_OR);
            for (size_t i = 0; i < json_object_array_length(val); i++) {
                node_t *sub = compile_query(json_object_array_get_idx(val, i), depth + 1, errstr, errstr_size);
                if (!sub) goto fail;
                node_add(kid, sub);
            }
        } else if (key[0] == '$') {
            snprintf(errstr, errstr_size,
                     "filter: unknown top-level operator \"%s\" (only $and and $or; $not "
                     "applies to a field's operators)",
                     key);
            goto fail;
        } else if (is_operator_object(val)) {
            if (!(kid = compile_ops(key, val, depth + 1, errstr, errstr_size))) goto fail;
        } else if (!(kid = field_node(key, OP_EQ, val, errstr, errstr_size))) {
            goto fail;
        }
        node_add(and, kid);
        kid = NULL;
    }
    return and;

fail:
    node_free(kid);
    node_free(and);
    return NULL;
}

hd_filter_t *hd_filter_new(json_object *query, char *errstr, size_t errstr_size) {
    node_t *root = compile_query(query, 0, errstr, errstr_size);
    if (!root) return NULL;
    hd_filter_t *f = hd_xmalloc(sizeof(*f));
    f->root = root;
    return f;
}

void hd_filter_destroy(hd_filter_t *f) {
    if (!f) return;
    node_free(f->root);
    free(f);
}

int hd_filter_validate(json_object *query, char *errstr, size_t errstr_size) {
    hd_filter_t *f = hd_filter_new(query, errstr, errstr_size);
    hd_filter_destroy(f);
    return f ? 0 : -1;
}

/* ---- evaluation ---- */

static int is_number(json_object *v) {
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* -2 when a and b are not comparable, else -1, 0, 1. */
static int compare(json_object *a, json_object *b) {
    if (is_number(a) && is_number(b)) {
        if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
            int64_t x = json_object_get_int64(a), y = json_object_get_int64(b);
            return (x > y) - (x < y);
        }
        double x = json_object_get_double(a), y = json_object_get_double(b);
        return x != x || y != y ? -2 : (x > y) - (x < y);
    }
    if (json_object_is_type(a, json_type_string) && json_object_is_type(b, json_type_string)) {
        size_t la = (size_t)json_object_get_string_len(a), lb = (size_t)json_object_get_string_len(b);
        int c = memcmp(json_object_get_string(a), json_object_get_string(b), la < lb ? la : lb);
        if (!c) c = (la > lb) - (la < lb);
        return (c > 0) - (c < 0);
    }
    return -2;
}

static int equal(json_object *a, json_object *b) {
    json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    if (is_number(a) || is_number(b) || ta == json_type_string) return compare(a, b) == 0;
    if (ta != tb) return 0;
    switch (ta) {
    case json_type_null:
        return 1;
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_array: {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b)) return 0;
        for (size_t i = 0; i < n; i++)
            if (!equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i))) return 0;
        return 1;
    }
    case json_type_object: {
        if (json_object_object_length(a) != json_object_object_length(b)) return 0;
        json_object_object_foreach(a, k, va) {
            json_object *vb;
            if (!json_object_object_get_ex(b, k, &vb) || !equal(va, vb)) return 0;
        }
        return 1;
    }
    default:
        return 0;
    }
}

/* The condition on one value, without the array rule. */
static int test_one(const node_t *n, json_object *v) {
    int c;
    switch (n->op) {
    case OP_EQ:
    case OP_NE:
        return equal(v, n->arg);
    case OP_IN:
    case OP_NIN:
        for (size_t i = 0; i < json_object_array_length(n->arg); i++)
            if (equal(v, json_object_array_get_idx(n->arg, i))) return 1;
        return 0;
    case OP_GT:
        return compare(v, n->arg) == 1;
    case OP_GTE:
        return (c = compare(v, n->arg)) == 0 || c == 1;
    case OP_LT:
        return compare(v, n->arg) == -1;
    case OP_LTE:
        return (c = compare(v, n->arg)) == 0 || c == -1;
    case OP_EXISTS:
        return 1;
    }
    return 0;
}

static int test_value(const node_t *n, json_object *v) {
    if (test_one(n, v)) return 1;
    if (n->op != OP_EXISTS && json_object_is_type(v, json_type_array))
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (test_one(n, json_object_array_get_idx(v, i))) return 1;
    return 0;
}

/* Walks segs from v; every value reached is tested. *reached counts them (for $exists and null equality). */
static int walk(const node_t *n, json_object *v, int seg, int *reached) {
    if (seg == n->nsegs) {
        (*reached)++;
        return test_value(n, v);
    }
    json_object *next;
    if (json_object_is_type(v, json_type_object)) {
        return json_object_object_get_ex(v, n->segs[seg], &next) && walk(n, next, seg + 1, reached);
    }
    if (json_object_is_type(v, json_type_array)) {
        size_t idx;
        if (hd_jpath_index(n->segs[seg], &idx))
            return idx < json_object_array_length(v) && walk(n, json_object_array_get_idx(v, idx), seg + 1, reached);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (json_object_is_type(e, json_type_object) && walk(n, e, seg, reached)) return 1;
        }
    }
    return 0;
}

static int eval(const node_t *n, json_object *doc) {
    switch (n->kind) {
    case N_AND:
        for (int i = 0; i < n->cnt; i++)
            if (!eval(n->kids[i], doc)) return 0;
        return 1;
    case N_OR:
        for (int i = 0; i < n->cnt; i++)
            if (eval(n->kids[i], doc)) return 1;
        return 0;
    case N_NOT:
        return !eval(n->kids[0], doc);
    case N_FIELD: {
        int reached = 0, hit = walk(n, doc, 0, &reached);
        switch (n->op) {
        case OP_EXISTS:
            return (reached > 0) == json_object_get_boolean(n->arg);
        case OP_EQ:
            return hit || (!reached && json_object_is_type(n->arg, json_type_null));
        case OP_NE:
            return !hit && !(!reached && json_object_is_type(n->arg, json_type_null));
        case OP_NIN:
            return !hit;
        default:
            return hit;
        }
    }
    }
    return 0;
}

int hd_filter_match(const hd_filter_t *f, json_object *doc) {
    return eval(f->root, doc);
}

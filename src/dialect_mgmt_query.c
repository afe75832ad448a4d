#include "hookd/dialect_mgmt_query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/rfc3339.h"
#include "hookd/utf8.h"

#define MAX_QUERY_TEXT 1024 /* bytes of a filter, sort or select */
#define MAX_CLAUSES 10
#define MAX_SORT_KEYS 5

typedef enum { Q_STR, Q_STRS, Q_BOOL, Q_INT, Q_DATE } qtype_t;

typedef struct qfield_s {
    const char *name, *stored;
    qtype_t type;
} qfield_t;

static const qfield_t sub_query[] = {
    {"id", "alias", Q_INT},
    {"name", "name", Q_STR},
    {"eventType", "event_types", Q_STRS},
    {"url", "url", Q_STR},
    {"maxRetryCount", "max_retry_count", Q_INT},
    {"isActive", "is_active", Q_BOOL},
    {"createdAt", "created_at", Q_DATE},
    {"updatedAt", "updated_at", Q_DATE},
    {NULL, NULL, Q_STR},
};
static const qfield_t event_query[] = {
    {"id", "alias", Q_INT},
    {"eventType", "event_type", Q_STR},
    {"statusCode", "status_code", Q_INT},
    {"isSuccess", "is_success", Q_BOOL},
    {"retryCount", "retry_count", Q_INT},
    {"sentAt", "sent_at", Q_DATE},
    {"nextRetryAt", "next_retry_at", Q_DATE},
    {"createdAt", "created_at", Q_DATE},
    {NULL, NULL, Q_STR},
};

static const qfield_t *qfield(hd_mgmt_kind_t kind, const char *name, size_t len) {
    for (const qfield_t *f = kind == HD_MGMT_EVENTS ? event_query : sub_query; f->name; f++)
        if (strlen(f->name) == len && !strncmp(f->name, name, len)) return f;
    return NULL;
}

static void list_fields(hd_mgmt_kind_t kind, char *out, size_t size) {
    out[0] = '\0';
    for (const qfield_t *f = kind == HD_MGMT_EVENTS ? event_query : sub_query; f->name; f++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? ", " : "", f->name);
}

/* One token of a filter: a word, or a quoted string ('...' with '' for a quote) decoded into buf. */
typedef struct token_s {
    const char *start;
    size_t len;
    int quoted;
} token_t;

/* The next token after *p, or 0 at the end; -1 with why on an unterminated string. */
static int next_token(const char **p, token_t *t, char *buf, size_t buf_size, char *why, size_t why_size) {
    const char *s = *p + strspn(*p, " \t");
    if (!*s) return 0;
    if (*s == '\'') {
        size_t n = 0;
        for (s++;; s++) {
            if (!*s) {
                snprintf(why, why_size, "filter: a string is not closed (strings are 'text', '' for a quote)");
                return -1;
            }
            if (*s == '\'' && s[1] != '\'') break;
            if (*s == '\'') s++;
            if (n + 1 < buf_size) buf[n++] = *s;
        }
        buf[n] = '\0';
        *t = (token_t){buf, n, 1};
        *p = s + 1;
        return 1;
    }
    size_t n = strcspn(s, " \t'");
    *t = (token_t){s, n, 0};
    *p = s + n;
    return 1;
}

static int word_is(const token_t *t, const char *w) {
    return !t->quoted && t->len == strlen(w) && !strncasecmp(t->start, w, t->len);
}

/* Appends {stored: {op: value}} for one clause to and. */
static int clause(const qfield_t *f, const token_t *op, const token_t *val, bson_t *and, int idx, char *why,
                  size_t why_size) {
    static const char *const ops[][2] = {{"eq", "$eq"},  {"ne", "$ne"}, {"gt", "$gt"},
                                         {"ge", "$gte"}, {"lt", "$lt"}, {"le", "$lte"}};
    const char *mop = NULL;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && !mop; i++)
        if (word_is(op, ops[i][0])) mop = ops[i][1];
    if (!mop) {
        snprintf(why, why_size, "filter: \"%.*s\" is not an operator (eq, ne, gt, ge, lt, le)",
                 (int)hd_utf8_prefix(op->start, op->len, 32), op->start);
        return -1;
    }
    int ordered = strcmp(mop, "$eq") && strcmp(mop, "$ne");
    if (ordered && f->type != Q_INT && f->type != Q_DATE) {
        snprintf(why, why_size, "filter: %s takes eq and ne only", f->name);
        return -1;
    }
    char key[12];
    snprintf(key, sizeof(key), "%d", idx);
    bson_t c, cond;
    BSON_APPEND_DOCUMENT_BEGIN(and, key, &c);
    BSON_APPEND_DOCUMENT_BEGIN(&c, f->stored, &cond);
    int ok = 1;
    if (word_is(val, "null") && !ordered) {
        BSON_APPEND_NULL(&cond, mop);
    } else if (f->type == Q_STR || f->type == Q_STRS) {
        ok = val->quoted && hd_utf8_valid(val->start, val->len);
        if (ok) bson_append_utf8(&cond, mop, -1, val->start, (int)val->len);
    } else if (f->type == Q_BOOL) {
        ok = word_is(val, "true") || word_is(val, "false");
        if (ok) BSON_APPEND_BOOL(&cond, mop, word_is(val, "true"));
    } else if (f->type == Q_INT) {
        char digits[24] = "", *end;
        ok = !val->quoted && val->len > 0 && val->len < 19;
        if (ok) memcpy(digits, val->start, val->len);
        long long n = ok ? strtoll(digits, &end, 10) : 0;
        ok = ok && !*end;
        if (ok) BSON_APPEND_INT64(&cond, mop, n);
    } else {
        int64_t ms;
        ok = val->quoted && !hd_rfc3339_parse(val->start, val->len, &ms);
        if (ok) BSON_APPEND_DATE_TIME(&cond, mop, ms);
    }
    bson_append_document_end(&c, &cond);
    bson_append_document_end(and, &c);
    if (!ok) {
        static const char *const expect[] = {"a quoted string such as 'text'", "a quoted string such as 'text'",
                                             "true or false", "an integer",
                                             "a quoted RFC 3339 time such as '2026-01-01T00:00:00Z'"};
        snprintf(why, why_size, "filter: %s takes %s%s", f->name, expect[f->type], ordered ? "" : " (or null)");
        return -1;
    }
    return 0;
}

int hd_dialect_mgmt_query_filter(const char *filter, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size) {
    char nbuf[MAX_QUERY_TEXT + 1], obuf[MAX_QUERY_TEXT + 1], vbuf[MAX_QUERY_TEXT + 1], fields[256];
    token_t name, op, val, join;
    const char *p = filter;
    int n = 0, rc;
    if (strlen(filter) > MAX_QUERY_TEXT) {
        snprintf(why, why_size, "filter: at most %d bytes", MAX_QUERY_TEXT);
        return -1;
    }
    bson_t and;
    bson_t tmp = BSON_INITIALIZER;
    BSON_APPEND_ARRAY_BEGIN(&tmp, "$and", &and);
    for (;;) {
        if ((rc = next_token(&p, &name, nbuf, sizeof(nbuf), why, why_size)) <= 0) {
            if (rc == 0) snprintf(why, why_size, "filter: expected \"field op value\" (e.g. isActive eq true)");
            goto fail;
        }
        const qfield_t *f = name.quoted ? NULL : qfield(kind, name.start, name.len);
        if (!f) {
            list_fields(kind, fields, sizeof(fields));
            snprintf(why, why_size, "filter: \"%.*s\" is not a field to filter on (%s)",
                     (int)hd_utf8_prefix(name.start, name.len, 64), name.start, fields);
            goto fail;
        }
        if ((rc = next_token(&p, &op, obuf, sizeof(obuf), why, why_size)) <= 0 ||
            (rc = next_token(&p, &val, vbuf, sizeof(vbuf), why, why_size)) <= 0) {
            if (rc == 0) snprintf(why, why_size, "filter: %s needs an operator and a value", f->name);
            goto fail;
        }
        if (n == MAX_CLAUSES) {
            snprintf(why, why_size, "filter: at most %d conditions", MAX_CLAUSES);
            goto fail;
        }
        if (clause(f, &op, &val, &and, n++, why, why_size)) goto fail;
        if ((rc = next_token(&p, &join, obuf, sizeof(obuf), why, why_size)) < 0) goto fail;
        if (rc == 0) break;
        if (!word_is(&join, "and")) {
            snprintf(why, why_size, "filter: conditions are joined by \"and\"");
            goto fail;
        }
    }
    bson_append_array_end(&tmp, &and);
    bson_concat(out, &tmp);
    bson_destroy(&tmp);
    return 0;

fail:
    bson_destroy(&tmp);
    return -1;
}

/* Calls item(arg, text, len) for each comma-separated item of list, trimmed; -1 when one is empty or item fails. */
static int each_item(const char *list, const char *what, int (*item)(void *, const char *, size_t), void *arg,
                     char *why, size_t why_size) {
    if (strlen(list) > MAX_QUERY_TEXT) {
        snprintf(why, why_size, "%s: at most %d bytes", what, MAX_QUERY_TEXT);
        return -1;
    }
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t len = n;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (!len) {
            snprintf(why, why_size, "%s: an empty item (a comma-separated list of fields)", what);
            return -1;
        }
        if (item(arg, s, len)) return -1;
        if (!p[n]) return 0;
        p += n + 1;
    }
}

typedef struct sort_arg_s {
    hd_mgmt_kind_t kind;
    bson_t *doc;
    int n;
    char *why;
    size_t why_size;
} sort_arg_t;

static int sort_item(void *arg, const char *s, size_t len) {
    sort_arg_t *a = arg;
    char fields[256];
    size_t flen = strcspn(s, " \t");
    if (flen > len) flen = len;
    const char *dir = s + flen;
    size_t dlen = len - flen;
    while (dlen && isspace((unsigned char)*dir))
        dir++, dlen--;
    const qfield_t *f = qfield(a->kind, s, flen);
    if (!f || f->type == Q_STRS) {
        list_fields(a->kind, fields, sizeof(fields));
        snprintf(a->why, a->why_size, "sort: \"%.*s\" is not a field to sort by (%s; not eventType of subscriptions)",
                 (int)hd_utf8_prefix(s, flen, 64), s, fields);
        return -1;
    }
    int desc = dlen == 4 && !strncasecmp(dir, "desc", 4);
    if (dlen && !desc && !(dlen == 3 && !strncasecmp(dir, "asc", 3))) {
        snprintf(a->why, a->why_size, "sort: \"%s\" is followed by asc, desc or nothing", f->name);
        return -1;
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, a->doc, f->stored)) {
        snprintf(a->why, a->why_size, "sort: %s is named twice", f->name);
        return -1;
    }
    if (++a->n > MAX_SORT_KEYS) {
        snprintf(a->why, a->why_size, "sort: at most %d fields", MAX_SORT_KEYS);
        return -1;
    }
    BSON_APPEND_INT32(a->doc, f->stored, desc ? -1 : 1);
    return 0;
}

int hd_dialect_mgmt_query_sort(const char *sort, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size) {
    bson_t doc = BSON_INITIALIZER;
    sort_arg_t a = {kind, &doc, 0, why, why_size};
    int rc = each_item(sort, "sort", sort_item, &a, why, why_size);
    if (rc == 0) bson_concat(out, &doc);
    bson_destroy(&doc);
    return rc;
}

typedef struct select_arg_s {
    hd_mgmt_kind_t kind;
    json_object *fields;
    char *why;
    size_t why_size;
} select_arg_t;

static int select_item(void *arg, const char *s, size_t len) {
    select_arg_t *a = arg;
    const char *name = hd_dialect_mgmt_shape_field(a->kind, s, len);
    if (name) {
        json_object_array_add(a->fields, json_object_new_string(name));
        return 0;
    }
    snprintf(a->why, a->why_size, "select: \"%.*s\" is not a field", (int)hd_utf8_prefix(s, len, 64), s);
    return -1;
}

int hd_dialect_mgmt_query_select(const char *select, hd_mgmt_kind_t kind, json_object **fields, char *why,
                                 size_t why_size) {
    select_arg_t a = {kind, json_object_new_array(), why, why_size};
    if (each_item(select, "select", select_item, &a, why, why_size)) {
        json_object_put(a.fields);
        *fields = NULL;
        return -1;
    }
    *fields = a.fields;
    return 0;
}

json_object *hd_dialect_mgmt_query_project(json_object *item, json_object *fields) {
    if (!fields) return item;
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(fields); i++) {
        const char *k = json_object_get_string(json_object_array_get_idx(fields, i));
        json_object *v;
        if (json_object_object_get_ex(item, k, &v)) json_object_object_add(o, k, json_object_get(v));
    }
    json_object_put(item);
    return o;
}

#include "hookd/dialects.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/dialect_inveterate.h"
#include "hookd/dialect_mgmt.h"
#include "hookd/dialect_native.h"
#include "hookd/dialect_partner.h"
#include "hookd/dialect_plano.h"
#include "hookd/util.h"

#define MAX_MOUNTS 16
#define MAX_PREFIX_SEGMENTS 6

/* Every dialect: a new one is added here (docs/dialects.md). */
const hd_dialect_t *const hd_dialects_all[] = {&hd_dialect_native,
                                               &hd_dialect_mgmt,
                                               &hd_dialect_inveterate_subscriptions,
                                               &hd_dialect_inveterate_webhooks,
                                               &hd_dialect_partner,
                                               &hd_dialect_plano,
                                               NULL};

const hd_dialect_t *hd_dialects_lookup(const char *name) {
    for (const hd_dialect_t *const *d = hd_dialects_all; *d; d++)
        if (!strcmp((*d)->name, name)) return *d;
    return NULL;
}

typedef struct mount_s {
    const hd_dialect_t *dialect;
    char *prefix; /* normalised: "/a/b" */
    char *seg[MAX_PREFIX_SEGMENTS];
    int nseg;
} mount_t;

struct hd_dialects_s {
    mount_t mount[MAX_MOUNTS];
    int n;
};

void hd_dialects_destroy(hd_dialects_t *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free(m->mount[i].prefix);
        for (int k = 0; k < m->mount[i].nseg; k++)
            free(m->mount[i].seg[k]);
    }
    free(m);
}

/* Splits prefix (len bytes) into mt's segments. 0, or -1 with errstr. */
static int parse_prefix(mount_t *mt, const char *prefix, size_t len, char *errstr, size_t errstr_size) {
    while (len > 1 && prefix[len - 1] == '/')
        len--;
    if (!len || prefix[0] != '/' || len == 1) {
        snprintf(errstr, errstr_size, "api.dialects: the prefix of %s must be a path such as /v1/webhooks",
                 mt->dialect->name);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)prefix[i];
        if (!isalnum(c) && !strchr("-._~/", c)) {
            snprintf(errstr, errstr_size, "api.dialects: the prefix %.*s holds '%c': use letters, digits and -._~",
                     (int)len, prefix, c);
            return -1;
        }
        if (c == '/' && (i + 1 == len || prefix[i + 1] == '/')) {
            snprintf(errstr, errstr_size, "api.dialects: the prefix %.*s has an empty segment", (int)len, prefix);
            return -1;
        }
    }
    mt->prefix = hd_xstrndup(prefix, len);
    for (const char *p = mt->prefix + 1; *p;) {
        size_t n = strcspn(p, "/");
        if (mt->nseg == MAX_PREFIX_SEGMENTS) {
            snprintf(errstr, errstr_size, "api.dialects: the prefix %s has more than %d segments", mt->prefix,
                     MAX_PREFIX_SEGMENTS);
            return -1;
        }
        mt->seg[mt->nseg++] = hd_xstrndup(p, n);
        p += n + (p[n] == '/');
    }
    return 0;
}

/* 1 when a's segments start b's or b's start a's. */
static int nested(const mount_t *a, const mount_t *b) {
    int n = a->nseg < b->nseg ? a->nseg : b->nseg;
    for (int i = 0; i < n; i++)
        if (strcmp(a->seg[i], b->seg[i])) return 0;
    return 1;
}

hd_dialects_t *hd_dialects_new(const char *spec, char *errstr, size_t errstr_size) {
    hd_dialects_t *m = hd_xcalloc(1, sizeof(*m));
    char *copy = hd_xstrdup(spec), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = hd_trim(item);
        if (!*item) continue;
        if (m->n == MAX_MOUNTS) {
            snprintf(errstr, errstr_size, "api.dialects: more than %d dialects", MAX_MOUNTS);
            goto fail;
        }
        char *eq = strchr(item, '=');
        if (eq) *eq = '\0';
        mount_t *mt = &m->mount[m->n];
        if (!(mt->dialect = hd_dialects_lookup(hd_trim(item)))) {
            char known[256] = "";
            for (const hd_dialect_t *const *d = hd_dialects_all; *d; d++)
                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", d == hd_dialects_all ? "" : ", ",
                         (*d)->name);
            snprintf(errstr, errstr_size, "api.dialects: unknown dialect \"%s\" (known: %s)", hd_trim(item), known);
            goto fail;
        }
        m->n++;
        const char *prefix = eq ? hd_trim(eq + 1) : mt->dialect->prefix;
        if (parse_prefix(mt, prefix, strlen(prefix), errstr, errstr_size)) goto fail;
        for (int i = 0; i < m->n - 1; i++)
            if (nested(&m->mount[i], mt)) {
                snprintf(errstr, errstr_size,
                         "api.dialects: %s at %s and %s at %s: two dialects cannot share a prefix or nest one in the "
                         "other",
                         m->mount[i].dialect->name, m->mount[i].prefix, mt->dialect->name, mt->prefix);
                goto fail;
            }
    }
    if (!m->n) {
        snprintf(errstr, errstr_size, "api.dialects: name at least one dialect (the default is native)");
        goto fail;
    }
    free(copy);
    return m;

fail:
    free(copy);
    hd_dialects_destroy(m);
    return NULL;
}

const hd_dialect_t *hd_dialects_find(const hd_dialects_t *m, const char *const *seg, int nseg, int *prefix_len) {
    for (int i = 0; i < m->n; i++) {
        const mount_t *mt = &m->mount[i];
        int k = 0;
        while (k < mt->nseg && k < nseg && !strcmp(mt->seg[k], seg[k]))
            k++;
        if (k == mt->nseg) {
            *prefix_len = k;
            return mt->dialect;
        }
    }
    return NULL;
}

int hd_dialects_count(const hd_dialects_t *m) {
    return m->n;
}

const hd_dialect_t *hd_dialects_get(const hd_dialects_t *m, int i, const char **prefix) {
    *prefix = m->mount[i].prefix;
    return m->mount[i].dialect;
}

int hd_dialects_seed(const hd_dialects_t *m, mongoc_client_t *client, const char *database, char *errstr,
                     size_t errstr_size) {
    for (int i = 0; i < m->n; i++) {
        const hd_dialect_t *d = m->mount[i].dialect;
        if (d->nevents && hd_api_event_types_seed(client, database, d->events, d->nevents, errstr, errstr_size))
            return -1;
    }
    return 0;
}

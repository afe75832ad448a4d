#include "hookd/health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "hookd/log.h"
#include "hookd/notify.h"
#include "hookd/rfc3339.h"
#include "hookd/util.h"

/* A change the health thread writes to the store: a disable (reason set), or the start of a subscription's run
 * of failures (failing_since_ms; 0: it succeeds again). */
typedef struct change_s {
    char *id, *name, *tenant, *url, *reason;
    char **emails; /* NULL unless the subscription asked for notification */
    int emails_cnt;
    int64_t failing_since_ms;
    int failed; /* attempts the store refused */
    struct change_s *next;
} change_t;

/* A run of failures is written to the store once it has lasted this long: blips cost no write. */
#define FAILING_STORE_AFTER_MS 10000

struct hd_health_s {
    hd_health_sink_t sink;
    char *smtp_url, *smtp_from;
    int64_t retry_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    change_t *changes, **changes_tail; /* oldest first; guarded by lock */
    int stop;                          /* guarded by lock */
    pthread_t thread;
};

static int store_disable(void *store, const char *id, const char *reason, char *errstr, size_t errstr_size) {
    return hd_store_disable(store, id, reason, errstr, errstr_size);
}

static int store_set_failing(void *store, const char *id, int64_t since_ms, char *errstr, size_t errstr_size) {
    return hd_store_set_failing(store, id, since_ms, errstr, errstr_size);
}

hd_health_sink_t hd_health_store_sink(hd_store_t *store) {
    return (hd_health_sink_t){store_disable, store_set_failing, store};
}

static void change_free(change_t *d) {
    free(d->id);
    free(d->name);
    free(d->tenant);
    free(d->url);
    free(d->reason);
    for (int i = 0; i < d->emails_cnt; i++)
        free(d->emails[i]);
    free(d->emails);
    free(d);
}

static void send_email(hd_health_t *h, const change_t *d) {
    char subject[512], body[4096], err[512], at[HD_RFC3339_SIZE], *name = hd_notify_one_line(d->name);
    hd_rfc3339_format(hd_now_ms(), at);
    snprintf(subject, sizeof(subject), "Webhook subscription \"%s\" was disabled", name);
    snprintf(body, sizeof(body),
             "hookd disabled the webhook subscription %s (\"%s\", tenant %s) at %s. It delivered to\n%s\n\n"
             "Reason: %s\n\nNothing is delivered to it until it is re-enabled. Fix the endpoint, then re-enable the "
             "subscription through the management API:\n\n  PATCH /v1/webhooks/subscriptions/%s\n  "
             "{\"is_active\": true}\n\n(or a PUT with \"is_active\": true), which also clears disabled_reason, "
             "disabled_at and failing_since.\n",
             d->id, name, d->tenant, at, d->url, d->reason, d->id);
    free(name);
    int sent = hd_notify_email(h->smtp_url, h->smtp_from, d->emails, d->emails_cnt, subject, body, err, sizeof(err));
    if (sent < 0)
        HD_LOG(HD_LOG_ERROR, "health", HD_KV("subscription_id", d->id), "notification e-mail failed: %s", err);
    else
        HD_LOG(HD_LOG_INFO, "health", HD_KV("subscription_id", d->id),
               "notification e-mail sent to %d of %d address(es)", sent, d->emails_cnt);
}

/* Returns -1 when the store is away (the change is then kept and tried again); a write the server refuses is
 * logged and dropped, since trying it again would only hold up the changes behind it. */
static int apply_change(hd_health_t *h, change_t *d) {
    char err[512];
    int rc = d->reason ? h->sink.disable(h->sink.opaque, d->id, d->reason, err, sizeof(err))
                       : h->sink.set_failing(h->sink.opaque, d->id, d->failing_since_ms, err, sizeof(err));
    if (rc == -1) {
        if (!d->failed++)
            HD_LOG(HD_LOG_ERROR, "health", HD_KV("subscription_id", d->id),
                   "%s; kept, and written once the store answers again", err);
        return -1;
    }
    if (rc < 0) {
        HD_LOG(HD_LOG_ERROR, "health", HD_KV("subscription_id", d->id), "%s", err);
        return 0;
    }
    if (d->failed)
        HD_LOG(HD_LOG_INFO, "health", HD_KV("subscription_id", d->id), "%s written after %d failed attempt(s)",
               d->reason ? "disable" : "failure run", d->failed);
    if (!d->reason) return 0;
    if (rc > 0)
        HD_LOG(HD_LOG_WARN, "health", HD_KV("subscription_id", d->id),
               "the file store is read-only: the subscription stays disabled until restart; edit the file");
    if (d->emails_cnt && h->smtp_url) send_email(h, d);
    return 0;
}

/* Applies the changes in order. On a store error the rest (that change first) is returned, to be tried again in the
 * same order: a disable or a failure run decided while the store is away must not be lost. */
static change_t *apply_changes(hd_health_t *h, change_t *list) {
    for (change_t *d = list, *n; d; d = n) {
        n = d->next;
        if (apply_change(h, d)) return d;
        change_free(d);
    }
    return NULL;
}

static void *writer(void *arg) {
    hd_health_t *h = arg;
    int held = 0; /* changes kept while the store is away wait for the next interval, not a busy loop */
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec until = hd_deadline_in(h->retry_ms);
        if (!h->changes)
            pthread_cond_wait(&h->cond, &h->lock);
        else if (held)
            pthread_cond_timedwait(&h->cond, &h->lock, &until);
        if (h->stop) break;
        change_t *todo = h->changes;
        h->changes = NULL;
        h->changes_tail = &h->changes;
        pthread_mutex_unlock(&h->lock);
        change_t *left = apply_changes(h, todo);
        pthread_mutex_lock(&h->lock);
        if ((held = left != NULL)) { /* back in front of what arrived meanwhile */
            change_t **tail = &left;
            while (*tail)
                tail = &(*tail)->next;
            *tail = h->changes;
            if (!h->changes) h->changes_tail = tail;
            h->changes = left;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

hd_health_t *hd_health_new(hd_health_sink_t sink, int64_t retry_ms, const char *smtp_url, const char *smtp_from,
                           char *errstr, size_t errstr_size) {
    hd_health_t *h = hd_xcalloc(1, sizeof(*h));
    h->sink = sink;
    h->retry_ms = retry_ms;
    h->smtp_url = smtp_url && *smtp_url ? hd_xstrdup(smtp_url) : NULL;
    h->smtp_from = hd_xstrdup(smtp_from ? smtp_from : "");
    h->changes_tail = &h->changes;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if (pthread_create(&h->thread, NULL, writer, h)) {
        snprintf(errstr, errstr_size, "cannot start the endpoint health thread");
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->cond);
        free(h->smtp_url);
        free(h->smtp_from);
        free(h);
        return NULL;
    }
    return h;
}

void hd_health_destroy(hd_health_t *h) {
    if (!h) return;
    hd_thread_stop(h->thread, &h->lock, &h->cond, &h->stop);
    change_t *left = apply_changes(h, h->changes);
    int lost = 0;
    for (change_t *n; left; left = n, lost++) {
        n = left->next;
        change_free(left);
    }
    if (lost)
        HD_LOG(HD_LOG_ERROR, "health", NULL, "%d subscription change(s) not written: the store is away at shutdown",
               lost);
    free(h->smtp_url);
    free(h->smtp_from);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}

static void push_change(hd_health_t *h, change_t *d) {
    pthread_mutex_lock(&h->lock);
    *h->changes_tail = d;
    h->changes_tail = &d->next;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

int hd_health_disable(hd_health_t *h, const hd_sub_t *sub, const char *reason) {
    /* One of the fields of a snapshot that change after load; atomic, so the cast is safe. */
    if (atomic_exchange(&((hd_sub_t *)sub)->disabled, 1)) return 0;
    change_t *d = hd_xcalloc(1, sizeof(*d));
    d->id = hd_xstrdup(sub->id);
    d->name = hd_xstrdup(sub->name);
    d->tenant = hd_xstrdup(sub->tenant);
    d->url = hd_xstrdup(sub->url);
    d->reason = hd_xstrdup(reason);
    const hd_sub_extra_t *x = sub->extra;
    if (x->notify && x->notification_emails_cnt) {
        d->emails = hd_xcalloc((size_t)x->notification_emails_cnt, sizeof(char *));
        for (int i = 0; i < x->notification_emails_cnt; i++)
            d->emails[i] = hd_xstrdup(x->notification_emails[i]);
        d->emails_cnt = x->notification_emails_cnt;
    }
    push_change(h, d);
    return 1;
}

static void push_failing(hd_health_t *h, const hd_sub_t *sub, int64_t since_ms) {
    change_t *d = hd_xcalloc(1, sizeof(*d));
    d->id = hd_xstrdup(sub->id);
    d->failing_since_ms = since_ms;
    push_change(h, d);
}

int64_t hd_health_attempted(hd_health_t *h, const hd_sub_t *sub, int failed, int64_t now_ms) {
    hd_sub_t *s = (hd_sub_t *)sub; /* only its atomic fields are written */
    if (!failed) {
        if (!atomic_load(&s->failing_since_ms)) return 0;
        atomic_store(&s->failing_since_ms, 0);
        if (atomic_exchange(&s->failing_stored, 0)) push_failing(h, sub, 0);
        return 0;
    }
    int64_t since = 0;
    if (atomic_compare_exchange_strong(&s->failing_since_ms, &since, now_ms)) return now_ms;
    if (now_ms - since >= FAILING_STORE_AFTER_MS && !atomic_exchange(&s->failing_stored, 1))
        push_failing(h, sub, since);
    return since;
}

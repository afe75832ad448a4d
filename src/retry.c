#include "hookd/retry.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/map.h"
#include "hookd/util.h"

hd_retry_t *hd_retry_new(const hd_conf_t *conf, char *errstr, size_t errstr_size) {
    hd_retry_t *r = hd_xcalloc(1, sizeof(*r));
    char *list = hd_xstrdup(conf->retry_schedule), *save = NULL;
    r->jitter_pct = (int)conf->retry_jitter_pct;
    r->retry_after_max_ms = conf->retry_after_max_s * 1000;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t = hd_trim(t);
        char *end;
        long long v = strtoll(t, &end, 10);
        int64_t unit = !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000 : 0;
        if (end == t || v <= 0 || !unit) {
            snprintf(errstr, errstr_size, "retry.schedule: \"%s\" is not a delay such as 5s, 10m or 6h", t);
            goto fail;
        }
        if (r->cnt == HD_RETRY_MAX_TIERS) {
            snprintf(errstr, errstr_size, "retry.schedule: at most %d tiers", HD_RETRY_MAX_TIERS);
            goto fail;
        }
        if (r->cnt && v * unit <= r->delay_ms[r->cnt - 1]) {
            snprintf(errstr, errstr_size, "retry.schedule: delays must increase (\"%s\")", t);
            goto fail;
        }
        r->delay_ms[r->cnt] = v * unit;
        r->topic[r->cnt] = hd_xmalloc(strlen(conf->retry_topic_prefix) + strlen(t) + 2);
        sprintf(r->topic[r->cnt], "%s.%s", conf->retry_topic_prefix, t);
        r->cnt++;
    }
    if (!r->cnt) {
        snprintf(errstr, errstr_size, "retry.schedule: at least one delay is needed");
        goto fail;
    }
    free(list);
    return r;

fail:
    free(list);
    hd_retry_destroy(r);
    return NULL;
}

void hd_retry_destroy(hd_retry_t *r) {
    if (!r) return;
    for (int i = 0; i < r->cnt; i++)
        free(r->topic[i]);
    free(r);
}

int hd_retry_tier_of_topic(const hd_retry_t *r, const char *topic) {
    for (int i = 0; i < r->cnt; i++)
        if (!strcmp(r->topic[i], topic)) return i;
    return -1;
}

int hd_retry_tier_for_wait(const hd_retry_t *r, int64_t wait_ms) {
    int tier = 0;
    while (tier + 1 < r->cnt && r->delay_ms[tier + 1] <= wait_ms)
        tier++;
    return tier;
}

int hd_retry_plan(const hd_retry_t *r, int attempt, int64_t retry_after_s, int64_t now_ms, int64_t *due_ms) {
    int tier = attempt - 1 < r->cnt ? attempt - 1 : r->cnt - 1;
    int64_t delay = r->delay_ms[tier];
    if (r->jitter_pct) {
        /* Spread retries so that an endpoint recovering from an outage is not hit by every retry at once. */
        int64_t span = delay * r->jitter_pct / 100;
        delay += (int64_t)randombytes_uniform((uint32_t)(2 * span + 1)) - span;
    }
    if (retry_after_s >= 0) {
        int64_t asked = retry_after_s * 1000;
        if (asked > r->retry_after_max_ms) asked = r->retry_after_max_ms;
        if (asked > delay) {
            delay = asked;
            tier = hd_retry_tier_for_wait(r, delay);
        }
    }
    *due_ms = now_ms + delay;
    return tier;
}

char *hd_retry_job_encode(const hd_retry_job_t *job) {
    json_object *o = json_object_new_object(), *src = json_object_new_object();
    json_object_object_add(o, "delivery_id", json_object_new_string(job->delivery_id));
    json_object_object_add(o, "subscription_id", json_object_new_string(job->subscription_id));
    json_object_object_add(o, "url", json_object_new_string(job->url));
    json_object_object_add(o, "attempt", json_object_new_int(job->attempt));
    json_object_object_add(o, "due_ms", json_object_new_int64(job->due_ms));
    if (job->parked) json_object_object_add(o, "parked", json_object_new_boolean(1));
    json_object_object_add(o, "event", json_object_get(job->event));
    json_object_object_add(src, "topic", json_object_new_string(job->src_topic));
    json_object_object_add(src, "partition", json_object_new_int(job->src_partition));
    json_object_object_add(src, "offset", json_object_new_int64(job->src_offset));
    json_object_object_add(o, "source", src);
    char *s = hd_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static char *dup_field(json_object *o, const char *k) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return hd_xstrdup(json_object_get_string(v));
}

static int int_field(json_object *o, const char *k, int64_t *out) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int)) return -1;
    *out = json_object_get_int64(v);
    return 0;
}

hd_retry_job_t *hd_retry_job_decode(const void *value, size_t len, char *errstr, size_t errstr_size) {
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, value, (int)len), *src = NULL, *ev = NULL;
    hd_retry_job_t *job = hd_xcalloc(1, sizeof(*job));
    int64_t attempt = 0, partition = 0;
    json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object)) goto bad;
    job->delivery_id = dup_field(o, "delivery_id");
    job->subscription_id = dup_field(o, "subscription_id");
    job->url = dup_field(o, "url");
    json_object_object_get_ex(o, "source", &src);
    job->src_topic = src ? dup_field(src, "topic") : NULL;
    if (!job->delivery_id || !job->subscription_id || !job->url || !job->src_topic ||
        int_field(o, "attempt", &attempt) || attempt < 1 || int_field(o, "due_ms", &job->due_ms) ||
        int_field(src, "partition", &partition) || int_field(src, "offset", &job->src_offset) ||
        !json_object_object_get_ex(o, "event", &ev) || !json_object_is_type(ev, json_type_object))
        goto bad;
    job->attempt = (int)attempt;
    job->src_partition = (int32_t)partition;
    job->event = json_object_get(ev);
    json_object *parked;
    job->parked = json_object_object_get_ex(o, "parked", &parked) && json_object_get_boolean(parked);
    json_object_put(o);
    return job;

bad:
    snprintf(errstr, errstr_size,
             "not a hookd retry job (JSON object with delivery_id, subscription_id, url, "
             "attempt, due_ms, event and source)");
    json_object_put(o);
    hd_retry_job_destroy(job);
    return NULL;
}

void hd_retry_job_destroy(hd_retry_job_t *job) {
    if (!job) return;
    free(job->delivery_id);
    free(job->subscription_id);
    free(job->url);
    free(job->src_topic);
    json_object_put(job->event);
    free(job);
}

struct hd_retry_hold_s {
    hd_retry_held_t *head;
    hd_map_t *paused; /* "topic\0partition" -> jobs held of that partition (as a count in the pointer) */
    hd_retry_pause_cb *pause;
    void *opaque;
};

hd_retry_hold_t *hd_retry_hold_new(hd_retry_pause_cb *pause, void *opaque) {
    hd_retry_hold_t *h = hd_xcalloc(1, sizeof(*h));
    h->paused = hd_map_new(16);
    h->pause = pause;
    h->opaque = opaque;
    return h;
}

void hd_retry_hold_destroy(hd_retry_hold_t *h) {
    if (!h) return;
    hd_map_destroy(h->paused, NULL);
    free(h);
}

/* How many jobs of held's partition are held. */
static intptr_t *held_count(hd_retry_hold_t *h, const hd_retry_held_t *held) {
    char key[512];
    size_t len = (size_t)snprintf(key, sizeof(key), "%s%c%d", held->topic, 0, (int)held->partition);
    return (intptr_t *)hd_map_slot(h->paused, key, len < sizeof(key) ? len : sizeof(key) - 1);
}

void hd_retry_hold_add(hd_retry_hold_t *h, hd_retry_held_t *held) {
    hd_retry_held_t **pp = &h->head;
    while (*pp && (*pp)->due_ms <= held->due_ms)
        pp = &(*pp)->next;
    held->next = *pp;
    *pp = held;
    if ((*held_count(h, held))++ == 0) h->pause(h->opaque, held, 1);
}

hd_retry_held_t *hd_retry_hold_due(hd_retry_hold_t *h, int64_t now_ms) {
    hd_retry_held_t *held = h->head;
    if (!held || held->due_ms > now_ms) return NULL;
    h->head = held->next;
    if (--(*held_count(h, held)) == 0) h->pause(h->opaque, held, 0);
    return held;
}

hd_retry_held_t *hd_retry_hold_take(hd_retry_hold_t *h) {
    hd_retry_held_t *held = h->head;
    if (held) h->head = held->next;
    return held;
}

int64_t hd_retry_hold_next_ms(const hd_retry_hold_t *h) {
    return h->head ? h->head->due_ms : INT64_MAX;
}

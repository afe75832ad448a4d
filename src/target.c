#include "hookd/target.h"

#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

struct hd_target_s {
    hd_target_wait_t *head, **tail;
    hd_target_seen_cb *seen;
    void *opaque;
};

const void *hd_target_of(const hd_decode_header_t *hdrs, size_t hdr_cnt, size_t *len) {
    const void *id = NULL;
    for (size_t i = 0; i < hdr_cnt; i++)
        if (!strcmp(hdrs[i].name, "hookd-subscription")) {
            id = hdrs[i].value;
            *len = hdrs[i].len;
        }
    return id;
}

hd_target_t *hd_target_new(hd_target_seen_cb *seen, void *opaque) {
    hd_target_t *t = hd_xcalloc(1, sizeof(*t));
    t->tail = &t->head;
    t->seen = seen;
    t->opaque = opaque;
    return t;
}

void hd_target_destroy(hd_target_t *t) {
    free(t);
}

int hd_target_set_aside(hd_target_t *t, hd_target_wait_t *wait, const char *id, int64_t produced_ms, int64_t now_ms) {
    if (produced_ms <= 0) produced_ms = now_ms;
    if (t->seen(t->opaque, produced_ms)) return 0;
    wait->id = hd_xstrdup(id);
    wait->produced_ms = produced_ms;
    wait->until_ms = now_ms + HD_TARGET_WAIT_MS;
    wait->next = NULL;
    *t->tail = wait;
    t->tail = &wait->next;
    return 1;
}

hd_target_wait_t *hd_target_take(hd_target_t *t) {
    hd_target_wait_t *wait = t->head;
    if (wait && !(t->head = wait->next)) t->tail = &t->head;
    return wait;
}

hd_target_wait_t *hd_target_due(hd_target_t *t, int64_t now_ms) {
    if (!t->head || (!t->seen(t->opaque, t->head->produced_ms) && t->head->until_ms > now_ms)) return NULL;
    return hd_target_take(t);
}

int hd_target_wait_ms(const hd_target_t *t, int max_wait_ms) {
    return t->head && max_wait_ms > HD_TARGET_POLL_MS ? HD_TARGET_POLL_MS : max_wait_ms;
}

#include "hookd/decode.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/util.h"

static const char *const reasons[] = {
    [HD_DECODE_OK] = "ok",
    [HD_DECODE_EMPTY] = "empty",
    [HD_DECODE_TOO_LARGE] = "too-large",
    [HD_DECODE_NOT_JSON] = "not-json",
    [HD_DECODE_NOT_OBJECT] = "not-object",
    [HD_DECODE_MISSING_ID] = "missing-id",
    [HD_DECODE_MISSING_TYPE] = "missing-type",
    [HD_DECODE_MISSING_TENANT] = "missing-tenant",
    [HD_DECODE_BAD_TIME] = "bad-time",
};

const char *hd_decode_reason(hd_decode_err_t err) {
    return reasons[err];
}

int hd_decode_time(const char *s, int64_t *ms) {
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &n) != 6 || n != 19)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    const char *p = s + n;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3) frac_ms = frac_ms * 10 + (*p - '0');
        if (!digits) return -1;
        for (; digits < 3; digits++) frac_ms *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, on = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &on) != 2 || on != 5 || oh > 23 || om > 59) return -1;
        offset_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 1 + on;
    } else {
        return -1;
    }
    if (*p) return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = ((int64_t)timegm(&tm) - offset_s) * 1000 + frac_ms;
    return 0;
}

static const char *req_str(json_object *root, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(root, key, &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

hd_event_t *hd_decode_event(const void *value, size_t len, size_t max_bytes, int64_t kafka_ts_ms,
                            hd_decode_err_t *err, char *errstr, size_t errstr_size) {
    json_tokener *tok = NULL;
    json_object *root = NULL;

    if (!value || len == 0) {
        *err = HD_DECODE_EMPTY;
        snprintf(errstr, errstr_size, "empty message");
        goto fail;
    }
    if (len > max_bytes) {
        *err = HD_DECODE_TOO_LARGE;
        snprintf(errstr, errstr_size, "event of %zu bytes exceeds event.max.bytes (%zu)", len, max_bytes);
        goto fail;
    }
    tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, value, (int)len);
    /* The whole message must be one JSON value: trailing bytes or a truncated document are both errors. */
    if (!root || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
        *err = HD_DECODE_NOT_JSON;
        enum json_tokener_error je = json_tokener_get_error(tok);
        snprintf(errstr, errstr_size, "not JSON: %s at byte %zu",
                 je == json_tokener_success ? "trailing data" : json_tokener_error_desc(je),
                 json_tokener_get_parse_end(tok));
        goto fail;
    }
    json_tokener_free(tok);
    return hd_decode_envelope(root, kafka_ts_ms, err, errstr, errstr_size);

fail:
    json_tokener_free(tok);
    json_object_put(root);
    return NULL;
}

hd_event_t *hd_decode_envelope(json_object *root, int64_t kafka_ts_ms, hd_decode_err_t *err, char *errstr,
                               size_t errstr_size) {
    json_object *v;
    hd_event_t *ev = NULL;
    if (!json_object_is_type(root, json_type_object)) {
        *err = HD_DECODE_NOT_OBJECT;
        snprintf(errstr, errstr_size, "event is a JSON %s, not an object", json_type_to_name(json_object_get_type(root)));
        goto fail;
    }
    ev = hd_xcalloc(1, sizeof(*ev));
    ev->root = root;
    if (!(ev->id = req_str(root, "id"))) {
        *err = HD_DECODE_MISSING_ID;
        snprintf(errstr, errstr_size, "event has no string \"id\"");
        goto fail;
    }
    if (!(ev->type = req_str(root, "type"))) {
        *err = HD_DECODE_MISSING_TYPE;
        snprintf(errstr, errstr_size, "event %s has no string \"type\"", ev->id);
        goto fail;
    }
    if (!(ev->tenant = req_str(root, "tenant"))) {
        *err = HD_DECODE_MISSING_TENANT;
        snprintf(errstr, errstr_size, "event %s has no string \"tenant\"", ev->id);
        goto fail;
    }
    ev->time_ms = kafka_ts_ms > 0 ? kafka_ts_ms : hd_now_ms();
    if (json_object_object_get_ex(root, "time", &v) && !json_object_is_type(v, json_type_null) &&
        (!json_object_is_type(v, json_type_string) || hd_decode_time(json_object_get_string(v), &ev->time_ms))) {
        *err = HD_DECODE_BAD_TIME;
        snprintf(errstr, errstr_size, "event %s: \"time\" is not an RFC 3339 time", ev->id);
        goto fail;
    }
    if (json_object_object_get_ex(root, "data", &v)) ev->data = v;
    *err = HD_DECODE_OK;
    return ev;

fail:
    if (ev) hd_decode_event_destroy(ev);
    else json_object_put(root);
    return NULL;
}

json_object *hd_decode_to_envelope(const hd_event_t *ev) {
    char time[40];
    hd_iso8601(ev->time_ms, time, sizeof(time));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(ev->id));
    json_object_object_add(o, "type", json_object_new_string(ev->type));
    json_object_object_add(o, "tenant", json_object_new_string(ev->tenant));
    json_object_object_add(o, "time", json_object_new_string(time));
    json_object_object_add(o, "data", json_object_get(ev->data));
    return o;
}

void hd_decode_event_destroy(hd_event_t *ev) {
    if (!ev) return;
    json_object_put(ev->root);
    free(ev);
}

/* Classifying a delivery attempt. */
#ifndef HOOKD_OUTCOME_H
#define HOOKD_OUTCOME_H

typedef enum {
    HD_OUTCOME_SUCCESS = 0,
    HD_OUTCOME_RETRYABLE, /* 429, 5xx except 501/505, timeouts, connection and DNS errors */
    HD_OUTCOME_PERMANENT, /* 3xx (redirects are not followed), other 4xx, a wrong success code, bad URL */
    HD_OUTCOME_GONE,      /* 410: the receiver asks us to stop */
} hd_outcome_t;

/* status is the HTTP status (0 when no response arrived); transport_error is 0 or a CURLcode;
 * success_code is the subscription's required status, 0 for any 2xx. */
hd_outcome_t hd_outcome_classify(long status, int transport_error, int success_code);

/* "success", "retryable", "permanent", "gone" */
const char *hd_outcome_name(hd_outcome_t o);

#endif

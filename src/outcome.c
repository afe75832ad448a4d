#include "hookd/outcome.h"

#include <curl/curl.h>

hd_outcome_t hd_outcome_classify(long status, int transport_error, int success_code) {
    if (transport_error) {
        switch (transport_error) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return HD_OUTCOME_PERMANENT;
        default:
            return HD_OUTCOME_RETRYABLE; /* timeouts, resets, DNS and TLS trouble can all heal */
        }
    }
    if (success_code ? status == success_code : (status >= 200 && status < 300)) return HD_OUTCOME_SUCCESS;
    if (status == 410) return HD_OUTCOME_GONE;
    if (status == 408 || status == 425 || status == 429) return HD_OUTCOME_RETRYABLE;
    if (status >= 500 && status != 501 && status != 505) return HD_OUTCOME_RETRYABLE;
    return HD_OUTCOME_PERMANENT;
}

const char *hd_outcome_name(hd_outcome_t o) {
    static const char *const names[] = {"success", "retryable", "permanent", "gone"};
    return names[o];
}

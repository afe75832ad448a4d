/* The webhook header list: the subscription's own headers first, then the webhook ones in a fixed order, and
 * "Expect:" to turn off 100-continue; one allocation freed with free(). */
#include <stdlib.h>

#include "hookd/deliver.h"
#include "unit.h"

static int lines(const struct curl_slist *l, const char *const *want, int cnt) {
    int i = 0, ok = 1;
    for (; l; l = l->next, i++)
        if (i >= cnt || strcmp(l->data, want[i])) {
            fprintf(stderr, "header %d: \"%s\", want \"%s\"\n", i, l->data, i < cnt ? want[i] : "(none)");
            ok = 0;
        }
    return ok && i == cnt;
}

static void test_headers(void) {
    const hd_sub_header_t custom[] = {{"x-demo", "hookd"}, {"Authorization", "Bearer abc def"}, {"x-empty", ""}};
    struct curl_slist *l = hd_deliver_headers(custom, 3, "application/json", "msg_2Kq", "1800000000",
                                              "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=");
    static const char *const want[] = {"x-demo: hookd",
                                       "Authorization: Bearer abc def",
                                       "x-empty: ",
                                       "content-type: application/json",
                                       "webhook-id: msg_2Kq",
                                       "webhook-timestamp: 1800000000",
                                       "webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
                                       "Expect:"};
    CHECK(lines(l, want, 8));
    free(l);
}

static void test_no_custom_headers(void) {
    struct curl_slist *l = hd_deliver_headers(NULL, 0, "text/plain; charset=utf-8", "m", "0", "v1,x v1a,y");
    static const char *const want[] = {"content-type: text/plain; charset=utf-8", "webhook-id: m",
                                       "webhook-timestamp: 0", "webhook-signature: v1,x v1a,y", "Expect:"};
    CHECK(lines(l, want, 5));
    free(l);
}

int main(void) {
    RUN(test_headers);
    RUN(test_no_custom_headers);
    return UNIT_REPORT();
}

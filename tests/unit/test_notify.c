/* Notification e-mails: recipient checks, the subject as one header (controls replaced, RFC 2047 for non-ASCII),
 * CRLF line ends. The e2e tests read the result with Python's email package. */
#include <stdlib.h>
#include <string.h>

#include "hookd/notify.h"
#include "unit.h"

static void test_addresses(void) {
    CHECK(hd_notify_address_ok("ops@example.com"));
    CHECK(hd_notify_address_ok("o.p+s@sub.example.com"));
    static const char *const bad[] = {"nobody",
                                      "@example.com",
                                      "ops@",
                                      "a@b@c",
                                      "ops@example.com\r\nBcc: x@y",
                                      "ops @example.com",
                                      "Ops <ops@example.com>",
                                      "a,b@example.com",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!hd_notify_address_ok(bad[i]));
    char *line = hd_notify_one_line("a\r\nb\tc\x7f\xc3\xa9");
    CHECK_STR(line, "a  b c \xc3\xa9");
    free(line);
}

static void test_message(void) {
    char *to[] = {"ops@example.com", "dev@example.com"};
    char *m = hd_notify_message("hookd@example.org", to, 2, "Webhook \"Orders\r\nBcc: evil@x\" was disabled",
                                "line one\nline two\r\n", 1700000000);
    CHECK(strstr(m, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") == m);
    CHECK(strstr(m, "\r\nTo: ops@example.com, dev@example.com\r\n"));
    CHECK(strstr(m, "\r\nSubject: Webhook \"Orders  Bcc: evil@x\" was disabled\r\n"));
    CHECK(!strstr(m, "\nBcc:"));
    CHECK(strstr(m, "\r\n\r\nline one\r\nline two\r\n\r\n"));
    free(m);
}

/* "Hi " and 50 x "é" (103 bytes): three encoded words of whole characters, folded (Python's email.header
 * decodes them to the subject). */
static void test_rfc2047_subject(void) {
    char *to[] = {"ops@example.com"}, subject[128] = "Hi ";
    for (int i = 0; i < 50; i++)
        strcat(subject, "\xc3\xa9");
    char *m = hd_notify_message("h@example.org", to, 1, subject, "", 0);
    CHECK(strstr(m, "\r\nSubject: =?UTF-8?B?SGkgw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp?=\r\n"
                    " =?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?=\r\n"
                    " =?UTF-8?B?w6nDqcOpw6nDqcOpw6k=?=\r\n"));
    free(m);
}

int main(void) {
    RUN(test_addresses);
    RUN(test_message);
    RUN(test_rfc2047_subject);
    return UNIT_REPORT();
}

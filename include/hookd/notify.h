/* Telling people: e-mail through libcurl's SMTP support, used when a subscription is disabled and it asked for
 * notification (notify + notification_emails). Blocking: call it off the delivery loop. */
#ifndef HOOKD_NOTIFY_H
#define HOOKD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Sends a plain-text UTF-8 message. smtp_url is smtp://host:port or smtps://...; to has cnt addresses. One bad
 * address costs only itself the mail: those that are not addresses (hd_notify_address_ok) are skipped with a
 * warning, and those the server refuses are dropped by the server alone. Returns the number of addresses it was
 * sent to, or -1 with errstr filled (no usable address, the server failed, a sender holding CR or LF). */
int hd_notify_email(const char *smtp_url, const char *from, char *const *to, int cnt, const char *subject,
                    const char *body, char *errstr, size_t errstr_size);

/* A copy of s (caller frees) with every control character, CR and LF included, replaced by a space: text from a
 * subscription (its name) that goes on one line. */
char *hd_notify_one_line(const char *s);

/* 1 when a is one plain address (local@domain, no spaces, controls, line breaks or header punctuation). */
int hd_notify_address_ok(const char *a);

/* The message hd_notify_email sends (caller frees): headers, then body with CRLF line ends. Controls in subject
 * become spaces, and a non-ASCII subject is RFC 2047-encoded (UTF-8, base64). now_s is the Date. */
char *hd_notify_message(const char *from, char *const *to, int cnt, const char *subject, const char *body,
                        int64_t now_s);

#endif

/* Telling people: e-mail through libcurl's SMTP support, used when a subscription is disabled and it asked for
 * notification (notify + notification_emails). Blocking: call it off the delivery loop. */
#ifndef HOOKD_NOTIFY_H
#define HOOKD_NOTIFY_H

#include <stddef.h>

/* Sends a plain-text message. smtp_url is smtp://host:port or smtps://...; to has cnt addresses. Returns 0, or
 * -1 with errstr filled. Addresses or a subject holding CR or LF are refused (header injection). */
int hd_notify_email(const char *smtp_url, const char *from, char *const *to, int cnt, const char *subject,
                    const char *body, char *errstr, size_t errstr_size);

#endif

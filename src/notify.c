#include "hookd/notify.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/util.h"

typedef struct {
    const char *data;
    size_t len, pos;
} source_t;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userdata) {
    source_t *s = userdata;
    size_t n = size * nmemb, left = s->len - s->pos;
    if (n > left) n = left;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return n;
}

static int has_crlf(const char *s) {
    return strpbrk(s, "\r\n") != NULL;
}

int hd_notify_email(const char *smtp_url, const char *from, char *const *to, int cnt, const char *subject,
                    const char *body, char *errstr, size_t errstr_size) {
    if (has_crlf(from) || has_crlf(subject)) {
        snprintf(errstr, errstr_size, "sender or subject holds a line break");
        return -1;
    }
    struct curl_slist *rcpt = NULL;
    char date[64], *msg = NULL;
    int rc = -1;
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(errstr, errstr_size, "curl_easy_init failed");
        return -1;
    }
    size_t to_len = 0;
    for (int i = 0; i < cnt; i++) {
        if (has_crlf(to[i])) {
            snprintf(errstr, errstr_size, "recipient \"%s\" holds a line break", to[i]);
            goto out;
        }
        rcpt = curl_slist_append(rcpt, to[i]);
        to_len += strlen(to[i]) + 2;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    size_t cap = strlen(from) + to_len + strlen(subject) + strlen(body) + 256;
    msg = hd_xmalloc(cap);
    size_t n = (size_t)snprintf(msg, cap, "Date: %s\r\nFrom: %s\r\nTo: ", date, from);
    for (int i = 0; i < cnt; i++) n += (size_t)snprintf(msg + n, cap - n, "%s%s", i ? ", " : "", to[i]);
    snprintf(msg + n, cap - n,
             "\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", subject,
             body);
    source_t src = {msg, strlen(msg), 0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, smtp_url);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &src);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    CURLcode cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        snprintf(errstr, errstr_size, "SMTP %s: %s", smtp_url, err[0] ? err : curl_easy_strerror(cc));
        goto out;
    }
    rc = 0;
out:
    free(msg);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(e);
    return rc;
}

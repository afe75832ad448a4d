#include "hookd/notify.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/log.h"
#include "hookd/utf8.h"
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

int hd_notify_address_ok(const char *a) {
    const char *at = strchr(a, '@');
    if (!at || at == a || !at[1] || strchr(at + 1, '@')) return 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("<>()[],;:\"\\", *p)) return 0;
    return 1;
}

char *hd_notify_one_line(const char *s) {
    char *d = hd_xstrdup(s);
    for (unsigned char *p = (unsigned char *)d; *p; p++)
        if (*p < ' ' || *p == 0x7f) *p = ' ';
    return d;
}

/* The subject as one header field: controls (a CR/LF from a name written straight to the store) become spaces,
 * and a subject that is not ASCII goes as RFC 2047 encoded words of at most 45 bytes each (60 base64 characters,
 * within the 75 the RFC allows), cut between UTF-8 characters and folded onto continuation lines. */
static void put_subject(FILE *out, const char *subject) {
    char *s = hd_notify_one_line(subject);
    size_t len = strlen(s);
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++)
        if ((unsigned char)s[i] >= 0x80) ascii = 0;
    fputs("Subject: ", out);
    if (ascii) fputs(s, out);
    for (size_t i = 0; !ascii && i < len;) {
        size_t n = hd_utf8_prefix(s + i, len - i, 45);
        char b64[sodium_base64_ENCODED_LEN(45, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)s + i, n, sodium_base64_VARIANT_ORIGINAL);
        fprintf(out, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", b64);
        i += n;
    }
    fputs("\r\n", out);
    free(s);
}

char *hd_notify_message(const char *from, char *const *to, int cnt, const char *subject, const char *body,
                        int64_t now_s) {
    char date[64], *msg = NULL;
    size_t len = 0;
    time_t t = (time_t)now_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    FILE *out = open_memstream(&msg, &len);
    if (!out) abort();
    fprintf(out, "Date: %s\r\nFrom: %s\r\nTo: ", date, from);
    for (int i = 0; i < cnt; i++)
        fprintf(out, "%s%s", i ? ", " : "", to[i]);
    fputs("\r\n", out);
    put_subject(out, subject);
    fputs("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
          out);
    /* SMTP lines end in CRLF: servers refuse bare LF (smuggling), so the body's line ends are rewritten. */
    for (const char *p = body; *p; p++)
        if (*p == '\n')
            fputs("\r\n", out);
        else if (*p != '\r')
            fputc(*p, out);
    fputs("\r\n", out);
    fclose(out);
    return msg;
}

int hd_notify_email(const char *smtp_url, const char *from, char *const *to, int cnt, const char *subject,
                    const char *body, char *errstr, size_t errstr_size) {
    if (has_crlf(from)) {
        snprintf(errstr, errstr_size, "the sender address holds a line break");
        return -1;
    }
    struct curl_slist *rcpt = NULL;
    char **good = hd_xcalloc((size_t)cnt + 1, sizeof(*good)), *msg = NULL;
    int good_cnt = 0, rc = -1;
    for (int i = 0; i < cnt; i++) {
        if (hd_notify_address_ok(to[i])) {
            good[good_cnt++] = to[i];
            rcpt = curl_slist_append(rcpt, to[i]);
        } else {
            HD_LOG(HD_LOG_WARN, "notify", HD_KV("address", to[i]),
                   "skipping a recipient that is not an e-mail address");
        }
    }
    CURL *e = good_cnt ? curl_easy_init() : NULL;
    if (!e) {
        snprintf(errstr, errstr_size, good_cnt ? "curl_easy_init failed" : "no usable recipient address");
        goto out;
    }
    msg = hd_notify_message(from, good, good_cnt, subject, body, hd_now_ms() / 1000);
    source_t src = {msg, strlen(msg), 0};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, smtp_url);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    /* A recipient the server refuses costs only that recipient the mail (libcurl 7.69+; the name's typo is
     * libcurl's, renamed CURLOPT_MAIL_RCPT_ALLOWFAILS in 8.2). */
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
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
    rc = good_cnt;
out:
    free(msg);
    free(good);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(e);
    return rc;
}

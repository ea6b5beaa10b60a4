/*
 * ctl_proto.c - the control socket's request line (ctl_proto.h): split a
 * line into words, with double quotes and two escapes; no I/O.
 */
#include "ctl_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t loom_ctl_utf8_seq(const unsigned char *p, size_t n)
{
    /* lowest and highest second byte for each lead byte range */
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (n == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c < 0xc2 || c > 0xf4)
        return 0;
    len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return len;
}

char *loom_ctl_clean(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out = loom_malloc(n + 1);
    size_t i = 0, k;

    while (i < n) {
        k = loom_ctl_utf8_seq(p + i, n - i);
        if (k == 0 ||
            (k == 1 &&
             ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') || p[i] == 0x7f))) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, p + i, k);
        i += k;
    }
    out[n] = '\0';
    return out;
}

static long ctl_fail(loom_ctl_req_t *req, char *err, size_t errlen,
                     const char *fmt, ...) LOOM_PRINTF(4, 5);

static long ctl_fail(loom_ctl_req_t *req, char *err, size_t errlen,
                     const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    loom_ctl_req_free(req);
    return LOOM_ERROR;
}

/* Where a word stands while it is being read. */
enum { W_NONE, W_BARE, W_QUOTED, W_CLOSED };

long loom_ctl_parse(const char *buf, size_t len, loom_ctl_req_t *req, char *err,
                    size_t errlen)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t scan = len < LOOM_CTL_LINE_MAX ? len : LOOM_CTL_LINE_MAX, n, i, k;
    const char *nl = memchr(buf, '\n', scan);
    char *w = NULL;
    int state = W_NONE;

    memset(req, 0, sizeof(*req));
    if (nl == NULL) {
        if (len >= LOOM_CTL_LINE_MAX)
            return ctl_fail(req, err, errlen, "request longer than %d bytes",
                            LOOM_CTL_LINE_MAX);
        return LOOM_AGAIN;
    }
    n = (size_t)(nl - buf);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    /* the words are never longer than the line */
    req->mem = loom_malloc(n + LOOM_CTL_ARGS_MAX + 1);
    w = req->mem;
    for (i = 0; i < n; i += k) {
        unsigned char c = p[i];

        k = loom_ctl_utf8_seq(p + i, n - i);
        if (k == 0)
            return ctl_fail(req, err, errlen, "request is not UTF-8 (byte %zu)",
                            i + 1);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return ctl_fail(req, err, errlen,
                            "control character in request (byte %zu)", i + 1);
        if (state == W_QUOTED) {
            if (c == '"') {
                *w++ = '\0';
                state = W_CLOSED;
            } else if (c == '\\') {
                if (i + 1 >= n || (p[i + 1] != '"' && p[i + 1] != '\\'))
                    return ctl_fail(req, err, errlen,
                                    "bad escape in quoted word (byte %zu): "
                                    "only \\\" and \\\\ are allowed",
                                    i + 1);
                *w++ = (char)p[i + 1];
                k = 2;
            } else {
                memcpy(w, p + i, k);
                w += k;
            }
            continue;
        }
        if (c == ' ' || c == '\t') {
            if (state == W_BARE)
                *w++ = '\0';
            state = W_NONE;
            continue;
        }
        if (state == W_CLOSED)
            return ctl_fail(req, err, errlen,
                            "no space after a closing quote (byte %zu)", i + 1);
        if (state == W_NONE) {
            if (req->argc == LOOM_CTL_ARGS_MAX)
                return ctl_fail(req, err, errlen, "too many words (at most %d)",
                                LOOM_CTL_ARGS_MAX);
            req->argv[req->argc++] = w;
            if (c == '"') {
                state = W_QUOTED;
                continue;
            }
            state = W_BARE;
        } else if (c == '"') {
            return ctl_fail(req, err, errlen, "quote inside a word (byte %zu)",
                            i + 1);
        }
        memcpy(w, p + i, k);
        w += k;
    }
    if (state == W_QUOTED)
        return ctl_fail(req, err, errlen, "unterminated quote");
    if (state == W_BARE)
        *w++ = '\0';
    if (req->argc == 0)
        return ctl_fail(req, err, errlen, "empty request");
    req->argv[req->argc] = NULL;
    return (long)(nl - buf) + 1;
}

void loom_ctl_req_free(loom_ctl_req_t *req)
{
    free(req->mem);
    memset(req, 0, sizeof(*req));
}

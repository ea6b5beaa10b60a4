/*
 * metrics_req.c - the request-head parser of the metrics listener
 * (metrics_req.h).  Each call reads the head again from the start: a head
 * is at most LOOM_MREQ_MAX bytes and arrives in one or two reads, so
 * keeping state between calls would buy nothing.
 */
#include "metrics_req.h"

#include <string.h>

/* RFC 9110 tchar: what a method or a field name is made of. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A byte that may appear in a line: not a control character, except
 * horizontal tab (bytes from 0x80 are obs-text, allowed). */
static int is_line_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The line starting at FROM in BUF[0..LIM): its end (before "\r\n" or
 * "\n") in *END and the start of the next in *NEXT.  Returns OK, AGAIN
 * (no newline yet, what is there is acceptable) or BAD (a byte no line
 * may hold, a CR not before LF). */
static loom_mreq_status_t line_at(const char *buf, size_t from, size_t lim,
                                  size_t *end, size_t *next)
{
    size_t i;

    for (i = from; i < lim; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n') {
            *end = i;
            *next = i + 1;
            return LOOM_MREQ_OK;
        }
        if (c == '\r') {
            if (i + 1 == lim)
                return LOOM_MREQ_AGAIN;
            if (buf[i + 1] != '\n')
                return LOOM_MREQ_BAD;
            *end = i;
            *next = i + 2;
            return LOOM_MREQ_OK;
        }
        if (!is_line_byte(c))
            return LOOM_MREQ_BAD;
    }
    return LOOM_MREQ_AGAIN;
}

static const struct {
    const char *name;
    loom_mreq_method_t method;
} mreq_methods[] = {
    {"GET", LOOM_MREQ_GET},
    {"HEAD", LOOM_MREQ_HEAD},
};

/* "METHOD SP TARGET SP HTTP/1.D" in L (N bytes). */
static int request_line(const char *l, size_t n, loom_mreq_t *req)
{
    size_t i = 0, m, t;

    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i == n || l[i] != ' ')
        return -1;
    m = i;
    req->method = LOOM_MREQ_OTHER;
    for (t = 0; t < sizeof(mreq_methods) / sizeof(mreq_methods[0]); t++) {
        if (strlen(mreq_methods[t].name) == m &&
            memcmp(l, mreq_methods[t].name, m) == 0)
            req->method = mreq_methods[t].method;
    }
    t = ++i;
    if (t == n || l[t] != '/')
        return -1;
    while (i < n && l[i] != ' ') {
        unsigned char c = (unsigned char)l[i];

        if (c <= 0x20 || c >= 0x7f)
            return -1;
        i++;
    }
    req->path = l + t;
    req->path_len = i - t;
    if (memchr(req->path, '?', req->path_len))
        req->path_len =
            (size_t)((const char *)memchr(req->path, '?', req->path_len) -
                     req->path);
    if (n - i != 9 || memcmp(l + i, " HTTP/1.", 8) != 0 || l[i + 8] < '0' ||
        l[i + 8] > '9')
        return -1;
    req->minor = l[i + 8] - '0';
    return 0;
}

/* "NAME: value" in L (N bytes). */
static int header_line(const char *l, size_t n)
{
    size_t i = 0;

    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    return i == 0 || i == n || l[i] != ':' ? -1 : 0;
}

loom_mreq_status_t loom_mreq_parse(const char *buf, size_t len,
                                   loom_mreq_t *req)
{
    size_t lim = len < LOOM_MREQ_MAX ? len : LOOM_MREQ_MAX;
    size_t pos = 0, end, next;
    loom_mreq_status_t st;
    int first = 1;

    memset(req, 0, sizeof(*req));
    /* RFC 9112 2.2: empty lines before the request line are ignored */
    while (pos < lim &&
           (buf[pos] == '\n' ||
            (buf[pos] == '\r' && pos + 1 < lim && buf[pos + 1] == '\n')))
        pos += buf[pos] == '\r' ? 2 : 1;
    for (;;) {
        st = line_at(buf, pos, lim, &end, &next);
        if (st == LOOM_MREQ_AGAIN)
            return len >= LOOM_MREQ_MAX ? LOOM_MREQ_TOO_LONG : LOOM_MREQ_AGAIN;
        if (st != LOOM_MREQ_OK)
            return st;
        if (first) {
            if (request_line(buf + pos, end - pos, req) != 0)
                return LOOM_MREQ_BAD;
            first = 0;
        } else if (end == pos) {
            req->head_len = next;
            return LOOM_MREQ_OK;
        } else if (header_line(buf + pos, end - pos) != 0) {
            return LOOM_MREQ_BAD;
        }
        pos = next;
    }
}

/*
 * finger_parse.c - RFC 1288 query parser and output filter (sans I/O).
 */
#include "finger_parse.h"

#include <string.h>

static int finger_is_space(char c)
{
    return c == ' ' || c == '\t';
}

finger_q_status_t finger_parse_query(const char *line, size_t len,
                                     finger_query_t *q)
{
    const char *p = line, *end = line + len, *at, *last_at = NULL;
    size_t i;

    if (len > FINGER_QUERY_MAX)
        return FINGER_Q_TOO_LONG;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if (c >= 0x7f || (c < 0x20 && c != '\t'))
            return FINGER_Q_BAD_CHAR;
    }
    memset(q, 0, sizeof(*q));

    /* Trailing white space is tolerated (some clients send it). */
    while (end > p && finger_is_space(end[-1]))
        end--;
    while (p < end && finger_is_space(*p))
        p++;
    if (end - p >= 2 && p[0] == '/' && (p[1] == 'W' || p[1] == 'w') &&
        (end - p == 2 || finger_is_space(p[2]))) {
        q->verbose = 1;
        p += 2;
        while (p < end && finger_is_space(*p))
            p++;
    } else if (p < end && *p == '/') {
        return FINGER_Q_SYNTAX;
    }
    for (at = p; at < end; at++) {
        if (finger_is_space(*at))
            return FINGER_Q_SYNTAX;
        if (*at == '@')
            last_at = at;
    }
    at = memchr(p, '@', (size_t)(end - p));
    q->user.p = p;
    q->user.len = (size_t)((at ? at : end) - p);
    if (last_at) {
        const char *h;

        /* Every host in the chain must be non-empty. */
        for (h = at; h < end; h++) {
            if (*h == '@' && (h + 1 == end || h[1] == '@'))
                return FINGER_Q_SYNTAX;
        }
        q->host.p = last_at + 1;
        q->host.len = (size_t)(end - last_at - 1);
        q->forward.p = p;
        q->forward.len = (size_t)(last_at - p);
    }
    return FINGER_Q_OK;
}

const char *finger_q_strerror(finger_q_status_t st)
{
    switch (st) {
    case FINGER_Q_OK:
        return "ok";
    case FINGER_Q_TOO_LONG:
        return "query too long";
    case FINGER_Q_BAD_CHAR:
        return "query contains non-ASCII or control characters";
    case FINGER_Q_SYNTAX:
    default:
        return "malformed query";
    }
}

size_t finger_filter(const char *in, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
        } else if (c == '\r') {
            continue;
        } else if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '?';
        }
    }
    return o;
}

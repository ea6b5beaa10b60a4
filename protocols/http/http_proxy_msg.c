/*
 * http_proxy_msg.c - the proxy's request head and response fields; the
 * contract is in http_proxy_msg.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_proxy_msg.h"

/* ---- buffers
 * ------------------------------------------------------------------ */

void http_px_buf_add(http_px_buf_t *b, const char *p, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;

        while (cap < b->len + len + 1)
            cap *= 2;
        b->p = loom_realloc(b->p, cap);
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void http_px_buf_str(http_px_buf_t *b, const char *s)
{
    http_px_buf_add(b, s, strlen(s));
}

void http_px_buf_free(http_px_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static void buf_slice(http_px_buf_t *b, loom_slice_t s)
{
    http_px_buf_add(b, s.p, s.len);
}

/* ---- fields
 * -------------------------------------------------------------------- */

static int ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen)
        return 0;
    for (i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x | 0x20);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y | 0x20);
        if (x != y)
            return 0;
    }
    return 1;
}

/* Does comma list V hold member M (case-insensitive)? */
static int list_holds(loom_slice_t v, const char *m, size_t mlen)
{
    size_t i = 0;

    while (i < v.len) {
        size_t s, e;

        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        s = i;
        while (i < v.len && v.p[i] != ',')
            i++;
        e = i;
        while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
            e--;
        if (e > s && ieq(v.p + s, e - s, m, mlen))
            return 1;
    }
    return 0;
}

int http_px_hop_by_hop(loom_slice_t name, const h1_field_t *f, size_t n)
{
    static const char *const hop[] = {"connection",
                                      "keep-alive",
                                      "proxy-connection",
                                      "te",
                                      "trailer",
                                      "transfer-encoding",
                                      "upgrade",
                                      "proxy-authenticate",
                                      "proxy-authorization",
                                      "http2-settings"};
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(hop); i++)
        if (ieq(name.p, name.len, hop[i], strlen(hop[i])))
            return 1;
    for (i = 0; i < n; i++)
        if (ieq(f[i].name.p, f[i].name.len, "connection", 10) &&
            list_holds(f[i].value, name.p, name.len))
            return 1;
    return 0;
}

/* Is any field named NAME among F[0..N) holding list member M? */
static int field_holds(const h1_field_t *f, size_t n, const char *name,
                       const char *m)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (ieq(f[i].name.p, f[i].name.len, name, strlen(name)) &&
            list_holds(f[i].value, m, strlen(m)))
            return 1;
    return 0;
}

int http_px_is_websocket(const http_req_t *r)
{
    return r->version == 11 &&
           field_holds(r->fields, r->nfields, "upgrade", "websocket") &&
           field_holds(r->fields, r->nfields, "connection", "upgrade");
}

/* Append every value of fields named NAME, joined by SEP; returns how
 * many there were. */
static size_t join_fields(const http_req_t *r, const char *name,
                          const char *sep, http_px_buf_t *b)
{
    size_t i, n = 0;

    for (i = 0; i < r->nfields; i++) {
        const http_field_t *f = &r->fields[i];

        if (!ieq(f->name.p, f->name.len, name, strlen(name)))
            continue;
        if (n++)
            http_px_buf_str(b, sep);
        buf_slice(b, f->value);
    }
    return n;
}

/* ---- the request head
 * ---------------------------------------------------------- */

/* Bytes that stay as they are in a path; the rest is percent-encoded. */
static int path_byte_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/* The upstream request-target: the path (prefix replaced) and query. */
static void request_target(const http_req_t *r,
                           const struct http_proxy_loc_s *pl, http_px_buf_t *b)
{
    const char *lp = r->loc ? r->loc->prefix : NULL;
    size_t lplen = lp ? strlen(lp) : 0, i;

    if (pl->prefix == NULL || lp == NULL) {
        buf_slice(b, r->path);
    } else if (r->path.len >= lplen && memcmp(r->path.p, lp, lplen) == 0) {
        http_px_buf_str(b, pl->prefix);
        http_px_buf_add(b, r->path.p + lplen, r->path.len - lplen);
    } else {
        /* the raw path spells the prefix differently (escapes, dot
         * segments): rebuild from the normalised path */
        static const char hex[] = "0123456789ABCDEF";

        http_px_buf_str(b, pl->prefix);
        for (i = lplen < r->npath_len ? lplen : r->npath_len; i < r->npath_len;
             i++) {
            unsigned char c = (unsigned char)r->npath[i];
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

            if (path_byte_ok(c))
                http_px_buf_add(b, (const char *)&c, 1);
            else
                http_px_buf_add(b, esc, 3);
        }
    }
    if (r->query.p) {
        http_px_buf_add(b, "?", 1);
        buf_slice(b, r->query);
    }
}

/* A Forwarded parameter value: a token as is, anything else quoted. */
static void forwarded_value(http_px_buf_t *b, const char *p, size_t len)
{
    size_t i;
    int token = len > 0;

    for (i = 0; i < len && token; i++) {
        unsigned char c = (unsigned char)p[i];

        token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
    }
    if (token) {
        http_px_buf_add(b, p, len);
        return;
    }
    http_px_buf_add(b, "\"", 1);
    for (i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\')
            http_px_buf_add(b, "\\", 1);
        http_px_buf_add(b, p + i, 1);
    }
    http_px_buf_add(b, "\"", 1);
}

/* Fields the proxy writes itself or must not forward from the client. */
static int request_field_skipped(const http_req_t *r, const http_field_t *f)
{
    static const char *const own[] = {
        "host",      "content-length",    "expect", "x-forwarded-for",
        "forwarded", "x-forwarded-proto", "cookie"};
    size_t i;

    if (f->name.len && f->name.p[0] == ':') /* HTTP/2 pseudo-fields */
        return 1;
    for (i = 0; i < LOOM_ARRAY_LEN(own); i++)
        if (ieq(f->name.p, f->name.len, own[i], strlen(own[i])))
            return 1;
    return http_px_hop_by_hop(f->name, r->fields, r->nfields);
}

void http_px_request_head(const http_req_t *r, const http_px_head_opts_t *o,
                          http_px_buf_t *out)
{
    const char *proto = (r->flags & HTTP_RF_SECURE) ? "https" : "http";
    const char *ip = o->client ? o->client : "unknown";
    size_t i, mark;

    buf_slice(out, r->method);
    http_px_buf_add(out, " ", 1);
    request_target(r, o->pl, out);
    http_px_buf_str(out, " HTTP/1.1\r\nHost: ");
    if (o->pl->host)
        http_px_buf_str(out, o->pl->host);
    else if (r->authority.len)
        buf_slice(out, r->authority);
    else
        http_px_buf_str(out, o->fallback_host ? o->fallback_host : "localhost");
    http_px_buf_str(out, "\r\n");
    for (i = 0; i < r->nfields; i++) {
        const http_field_t *f = &r->fields[i];

        if (request_field_skipped(r, f))
            continue;
        buf_slice(out, f->name);
        http_px_buf_add(out, ": ", 2);
        buf_slice(out, f->value);
        http_px_buf_str(out, "\r\n");
    }
    mark = out->len;
    http_px_buf_str(out, "Cookie: ");
    if (join_fields(r, "cookie", "; ", out))
        http_px_buf_str(out, "\r\n");
    else
        out->len = mark;

    http_px_buf_str(out, "X-Forwarded-For: ");
    if (join_fields(r, "x-forwarded-for", ", ", out))
        http_px_buf_str(out, ", ");
    http_px_buf_str(out, ip);
    http_px_buf_str(out, "\r\nX-Forwarded-Proto: ");
    http_px_buf_str(out, proto);
    http_px_buf_str(out, "\r\nForwarded: ");
    if (join_fields(r, "forwarded", ", ", out))
        http_px_buf_str(out, ", ");
    http_px_buf_str(out, "for=");
    if (strchr(ip, ':')) {
        http_px_buf_str(out, "\"[");
        http_px_buf_str(out, ip);
        http_px_buf_str(out, "]\"");
    } else if (strchr(ip, '.')) {
        http_px_buf_str(out, ip);
    } else {
        http_px_buf_str(out, "unknown");
    }
    http_px_buf_str(out, ";proto=");
    http_px_buf_str(out, proto);
    if (r->authority.len) {
        http_px_buf_str(out, ";host=");
        forwarded_value(out, r->authority.p, r->authority.len);
    }
    http_px_buf_str(out, "\r\n");
    if (o->websocket)
        http_px_buf_str(out, "Connection: upgrade\r\nUpgrade: websocket\r\n");
    else if (o->conn_close)
        http_px_buf_str(out, "Connection: close\r\n");
    out->p[out->len] = '\0';
}

/* ---- the response fields
 * --------------------------------------------------------- */

void http_px_response_fields(http_req_t *r, const h1_resp_head_t *h)
{
    static const char *const own[] = {"server", "date", "content-length"};
    char small[2048];
    size_t i, k;

    for (i = 0; i < h->nfields; i++) {
        const h1_field_t *f = &h->fields[i];
        size_t need = f->name.len + f->value.len + 2;
        char *name, *value;
        int skip = 0;

        for (k = 0; k < LOOM_ARRAY_LEN(own) && !skip; k++)
            skip = ieq(f->name.p, f->name.len, own[k], strlen(own[k]));
        if (skip || http_px_hop_by_hop(f->name, h->fields, h->nfields))
            continue;
        name = need <= sizeof(small) ? small : loom_malloc(need);
        memcpy(name, f->name.p, f->name.len);
        name[f->name.len] = '\0';
        value = name + f->name.len + 1;
        if (f->value.len)
            memcpy(value, f->value.p, f->value.len);
        value[f->value.len] = '\0';
        http_resp_header(r, name, value);
        if (name != small)
            free(name);
    }
}

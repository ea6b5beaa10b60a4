/*
 * http_handlers.c - the small handlers: return (fixed status, body or
 * redirect), echo (request body back).  status is in http_metrics.c.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* A growable text buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} tbuf_t;

static void tb_add(tbuf_t *b, const char *p, size_t len)
{
    loom_append(&b->p, &b->len, &b->cap, p, len, 0);
}

/* Append a string literal. */
#define TB_LIT(b, lit) tb_add((b), (lit), sizeof(lit) - 1)

/* ---- return ---------------------------------------------------------------
 */

/* The Host without its port, lowercased into OUT. */
static void host_only(const http_req_t *r, tbuf_t *out)
{
    loom_slice_t a = r->authority;
    size_t i, len = http_host_len(a);

    if (len == 0 && r->vhost && r->vhost->nnames &&
        r->vhost->names[0][0] != '*') {
        tb_add(out, r->vhost->names[0], strlen(r->vhost->names[0]));
        return;
    }
    for (i = 0; i < len; i++) {
        char ch = (char)tolower((unsigned char)a.p[i]);

        tb_add(out, &ch, 1);
    }
}

/* Expand $scheme $host $http_host $request_uri $uri $args in TPL. */
static void expand(const http_req_t *r, const char *tpl, tbuf_t *out)
{
    const char *p = tpl;

    while (*p) {
        const char *v = p + 1;
        size_t n = 0;

        if (*p != '$') {
            tb_add(out, p++, 1);
            continue;
        }
        while (v[n] && (islower((unsigned char)v[n]) || v[n] == '_'))
            n++;
#define IS(name) (n == sizeof(name) - 1 && memcmp(v, name, n) == 0)
        if (IS("scheme")) {
            tb_add(out, r->scheme.p, r->scheme.len);
        } else if (IS("host")) {
            host_only(r, out);
        } else if (IS("http_host")) {
            tb_add(out, r->authority.p, r->authority.len);
        } else if (IS("request_uri")) {
            tb_add(out, r->path.p, r->path.len);
            if (r->query.p) {
                tb_add(out, "?", 1);
                tb_add(out, r->query.p, r->query.len);
            }
        } else if (IS("uri")) {
            tb_add(out, r->npath, r->npath_len);
        } else if (IS("args")) {
            tb_add(out, r->query.p, r->query.len);
        } else {
            tb_add(out, p, 1); /* not a variable: a literal '$' */
            p++;
            continue;
        }
#undef IS
        p = v + n;
    }
    if (out->p == NULL)
        tb_add(out, "", 0);
}

static void return_process(http_req_t *r)
{
    const http_location_t *l = r->loc;

    if (l->ret_location) {
        tbuf_t loc = {NULL, 0, 0};

        expand(r, l->ret_location, &loc);
        http_resp_header(r, "Location", loc.p);
        free(loc.p);
        http_resp_error(r, l->ret_status);
        return;
    }
    if (l->ret_body) {
        http_resp_simple(r, l->ret_status, l->ret_type, l->ret_body,
                         strlen(l->ret_body));
        return;
    }
    if (l->ret_status >= 400) {
        http_resp_error(r, l->ret_status);
        return;
    }
    http_resp_simple(r, l->ret_status, NULL, "", 0);
}

const http_handler_t http_handler_return = {"return", return_process};

/* ---- echo
 * ------------------------------------------------------------------------ */

static void echo_writable(http_req_t *r)
{
    r->on_writable = NULL;
    r->proto->pause_body(r, 0);
}

static void echo_body(http_req_t *r, const char *p, size_t len, int last)
{
    if (len && http_resp_write(r, p, len) == LOOM_AGAIN && !last) {
        /* the client is not reading its answer: stop taking its body */
        r->on_writable = echo_writable;
        r->proto->pause_body(r, 1);
    }
    if (last)
        http_resp_end(r);
}

static void echo_process(http_req_t *r)
{
    const http_field_t *ct = http_req_field(r, "content-type");
    char type[256];

    if (ct && ct->value.len < sizeof(type)) {
        memcpy(type, ct->value.p, ct->value.len);
        type[ct->value.len] = '\0';
        http_resp_header(r, "Content-Type", type);
    } else {
        http_resp_header(r, "Content-Type", "application/octet-stream");
    }
    http_resp_length(r, r->content_length);
    r->on_body = echo_body;
}

const http_handler_t http_handler_echo = {"echo", echo_process};

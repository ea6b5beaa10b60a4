/*
 * http_doh.c - the doh handler: DNS over HTTPS (RFC 8484) for the dns
 * instance a location names, through its query service (dns_service.h):
 * the same pipeline as its UDP and TCP clients, the client's address
 * applied to its forwarding allow list.
 *
 * GET carries the query base64url-encoded in `dns=` (at most
 * DOH_GET_MAX characters: 414 beyond), POST as the body with
 * Content-Type: application/dns-message (at most 65535 bytes: 413
 * beyond; another type: 415).  A value that is not base64url or a message
 * that is not a well-formed query: 400.  Other methods: 405.  The dns
 * instance not running (never configured, removed by a reload, stopped
 * while a forwarded query was out): 503.
 *
 * The answer is `application/dns-message` with Cache-Control: max-age=
 * its freshness lifetime (doh_min_ttl; 0 when it has no record).  A
 * forwarded query is answered later: the request keeps the service's
 * handle and cancels it if the client goes away first (on_abort); the
 * service is asked for again in every callback, nothing of it is kept but
 * the static table (for cancel) and the handle, which the dns instance
 * keeps valid until it calls back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doh_param.h"
#include "http.h"

#include "../dns/dns_service.h"

#define DOH_MSG_MAX 65535 /* a DNS message (POST body) */
#define DOH_TYPE "application/dns-message"
#define DOH_ALLOW "GET, POST"

typedef struct {
    http_req_t *r;
    loom_service_ref_t ref;
    const dns_query_service_t *svc; /* static: for cancel */
    dns_query_handle_t *h;          /* a forwarded query in flight */
    char *buf;                      /* POST body */
    size_t len, cap;
} doh_req_t;

static void doh_free(doh_req_t *d)
{
    free(d->buf);
    free(d);
}

/* The client went away (or the request was taken over): forget the
 * query in flight. */
static void doh_abort(http_req_t *r)
{
    doh_req_t *d = r->hdata;

    r->hdata = NULL;
    r->on_abort = NULL;
    r->on_body = NULL;
    if (d == NULL)
        return;
    if (d->h)
        d->svc->cancel(d->h);
    doh_free(d);
}

/* The dns instance's answer (or why there is none). */
static void doh_answer(void *arg, int status, const uint8_t *ans, size_t len)
{
    doh_req_t *d = arg;
    http_req_t *r = d->r;
    uint32_t ttl = 0;

    r->hdata = NULL;
    r->on_abort = NULL;
    doh_free(d);
    if (status != DNS_QUERY_ANSWER) {
        http_resp_error(r, status == DNS_QUERY_MALFORMED ? 400 : 503);
        return;
    }
    if (doh_min_ttl(ans, len, &ttl) != 0)
        ttl = 0;
    http_resp_headerf(r, "Cache-Control", "max-age=%lu", (unsigned long)ttl);
    http_resp_simple(r, 200, DOH_TYPE, (const char *)ans, len);
}

/* Hand MSG to the dns instance for D's request (D is freed by the answer
 * or the abort). */
static void doh_run(doh_req_t *d, const uint8_t *msg, size_t len)
{
    http_req_t *r = d->r;
    const dns_query_service_t *svc;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    dns_query_handle_t *h;
    void *self;

    svc = loom_service_get(&d->ref, &self, NULL);
    if (svc == NULL) {
        r->hdata = NULL;
        r->on_abort = NULL;
        doh_free(d);
        http_resp_error(r, 503);
        return;
    }
    memset(&peer, 0, sizeof(peer));
    if (loom_conn_peer_addr(r->conn, &peer, &plen) != LOOM_OK)
        peer.ss_family = AF_UNSPEC; /* matches no allow list */
    r->hdata = d;
    r->on_abort = doh_abort;
    h = svc->query(self, msg, len, (const struct sockaddr *)&peer, doh_answer,
                   d);
    if (h) { /* D lives until doh_answer or doh_abort */
        d->h = h;
        d->svc = svc;
    }
}

static void doh_body(http_req_t *r, const char *p, size_t len, int last)
{
    doh_req_t *d = r->hdata;

    /* r->max_body (at most DOH_MSG_MAX) bounds what arrives here */
    loom_append(&d->buf, &d->len, &d->cap, p, len, r->max_body);
    if (!last)
        return;
    r->on_body = NULL;
    doh_run(d, (const uint8_t *)d->buf, d->len);
}

/* Whether Content-Type is application/dns-message (parameters after ';'
 * allowed, case-insensitive). */
static int doh_type_ok(const http_req_t *r)
{
    const http_field_t *f = http_req_field(r, "content-type");
    const char *v, *end;

    if (f == NULL)
        return 0;
    v = f->value.p;
    end = v + f->value.len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if ((size_t)(end - v) < sizeof(DOH_TYPE) - 1 ||
        strncasecmp(v, DOH_TYPE, sizeof(DOH_TYPE) - 1) != 0)
        return 0;
    v += sizeof(DOH_TYPE) - 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    return v == end || *v == ';';
}

static doh_req_t *doh_new(http_req_t *r)
{
    doh_req_t *d = loom_calloc(1, sizeof(*d));

    d->r = r;
    loom_service_ref_init(&d->ref, loom_instance_server(r->hi->inst), "dns",
                          r->loc->doh_dns, DNS_QUERY_SERVICE);
    return d;
}

static void doh_get(http_req_t *r)
{
    uint8_t msg[DOH_GET_MAX / 4 * 3 + 2];
    const char *v = NULL;
    size_t vlen = 0;
    long n;

    if (doh_get_param(r->query.p, r->query.len, &v, &vlen) != DOH_P_OK) {
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    if (vlen > DOH_GET_MAX) {
        http_resp_refuse(r, 414, NULL, NULL);
        return;
    }
    n = doh_b64url_decode(v, vlen, msg, sizeof(msg));
    if (n < 0) {
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    doh_run(doh_new(r), msg, (size_t)n);
}

static void doh_post(http_req_t *r)
{
    doh_req_t *d;

    if (!doh_type_ok(r)) {
        http_resp_refuse(r, 415, NULL, NULL);
        return;
    }
    if (r->content_length > DOH_MSG_MAX) {
        http_resp_error(r, 413);
        return;
    }
    if (r->max_body > DOH_MSG_MAX)
        r->max_body = DOH_MSG_MAX;
    d = doh_new(r);
    if (r->content_length > 0) {
        d->cap = (size_t)r->content_length + 1;
        d->buf = loom_malloc(d->cap);
    }
    r->hdata = d;
    r->on_body = doh_body;
    r->on_abort = doh_abort;
}

static void doh_process(http_req_t *r)
{
    if (r->method_id == HTTP_M_GET) {
        doh_get(r);
    } else if (r->method_id == HTTP_M_POST) {
        doh_post(r);
    } else {
        http_resp_header(r, "Allow", DOH_ALLOW);
        http_resp_refuse(r, 405, NULL, NULL);
    }
}

const http_handler_t http_handler_doh = {"doh", doh_process};

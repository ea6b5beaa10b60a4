/*
 * h1.c - the HTTP/1.1 codec: bytes from the connection through the
 * sans-I/O parser (h1_parse.c) into an http_req_t, and the finalizer that
 * puts responses on the wire (status line, framing, chunked coding,
 * sendfile), keep-alive and pipelining with responses in request order,
 * and the header / body timeouts.
 *
 * The connection switches to HTTP/2 (h2.c) on ALPN h2, on the h2c preface
 * as its first bytes, or on Upgrade: h2c; after a 101 answer to another
 * Upgrade it becomes a byte tunnel between the client and the handler.
 *
 * One request is in flight per connection.  While its response is still
 * being produced (a file pumped over TLS, a streamed body) the connection's
 * input is paused; later pipelined requests stay in the core's input
 * buffer and are parsed once the response ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

enum {
    H1_S_HEAD = 0, /* waiting for (more of) a request head */
    H1_S_BODY,     /* reading the request body */
    H1_S_WAIT,     /* body read, response still going */
    H1_S_CLOSING,  /* closing: input is discarded */
    H1_S_TUNNEL    /* after a 101: raw bytes both ways */
};

/* Largest request body left unread that is discarded, rather than the
 * connection closed, when a response ends early. */
#define H1_DISCARD_MAX (64 * 1024)

static int h1_send_head(http_req_t *r);
static int h1_send_body(http_req_t *r, const void *p, size_t len);
static int h1_send_file(http_req_t *r, int fd, off_t off, size_t len);
static void h1_finish(http_req_t *r);
static void h1_pause_body(http_req_t *r, int pause);
static void h1_reset(http_req_t *r);
static int h1_send_buf(http_req_t *r, loom_buf_t *b);
static size_t h1_pending(http_req_t *r);

static const http_proto_t h1_proto = {"HTTP/1.1",   h1_send_head, h1_send_body,
                                      h1_send_file, h1_finish,    h1_pause_body,
                                      h1_reset,     h1_send_buf,  h1_pending};

/* Frames of this file on the stack keep the connection state alive: the
 * close callback may run in the middle of one (a reset, a write error),
 * and the request must outlive the frames that still look at it. */
static void h1_enter(http_h1_conn_t *h)
{
    h->busy++;
}

void http_conn_free(http_h1_conn_t *h)
{
    if (h->h2)
        http_h2_free(h);
    if (h->req) {
        http_req_free(h->req);
        free(h->req);
        h->req = NULL;
    }
    free(h->fields);
    free(h->head);
    h->fields = NULL;
    h->head = NULL;
}

/* Returns 1 when the connection is gone (do not touch it). */
static int h1_leave(http_h1_conn_t *h)
{
    if (--h->busy == 0 && h->closed) {
        http_conn_free(h);
        return 1;
    }
    return h->closed;
}

/* ---- timers ----------------------------------------------------------------
 */

static void h1_timer_stop(http_h1_conn_t *h)
{
    loom_timer_disarm(&h->timer);
}

static void h1_timer_start(http_h1_conn_t *h, unsigned sec)
{
    loom_timer_arm(&h->timer, (uint64_t)sec * 1000);
}

static void h1_start_req(http_h1_conn_t *h);

/* The connection is held around the call (loom_timer_cb). */
static void h1_on_timeout(loom_timer_t *t, void *arg)
{
    http_h1_conn_t *h = arg;
    loom_conn_t *c = h->c;
    int state = h->state;

    (void)t;
    loom_log(LOOM_LOG_DEBUG, loom_instance_who(h->hi->inst), "%s: %s timeout",
             loom_conn_peer(c), state == H1_S_BODY ? "body" : "header");
    h1_enter(h);
    h->state = H1_S_CLOSING;
    if (state == H1_S_HEAD) {
        h1_start_req(h);
        http_resp_codec_error(h->req, 408);
    } else if (state == H1_S_BODY) {
        if (h->req->flags & HTTP_RF_HEAD_SENT) {
            http_req_abort(h->req);
            h1_reset(h->req);
        } else {
            http_req_refuse(h->req, 408);
        }
    }
    if (!h1_leave(h))
        loom_conn_close(c);
}

/* ---- connection ------------------------------------------------------------
 */

int http_h1_open(loom_conn_t *c)
{
    http_h1_conn_t *h = loom_conn_data(c);
    loom_instance_t *inst = loom_conn_instance(c);
    loom_tls_info_t ti;
    http_conf_t *hc;

    h->c = c;
    h->hi = loom_instance_data(inst);
    hc = http_conf(h->hi);
    h->secure = loom_conn_tls_info(c, &ti) == 0;
    loom_timer_init_conn(&h->timer, c, h1_on_timeout, h);
    loom_conn_set_max_input(c,
                            hc->limits.max_line + hc->limits.max_head + 4096);
    h->hi->ctr.conns_total++;
    h->hi->ctr.conns_active++;
    h->next = h->hi->conns;
    if (h->next)
        h->next->prev = h;
    h->hi->conns = h;
    if (h->secure && ti.alpn && strcmp(ti.alpn, "h2") == 0) {
        loom_slice_t none = {NULL, 0};

        return http_h2_start(h, NULL, none);
    }
    return LOOM_OK;
}

static void h1_unlink(http_h1_conn_t *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        h->hi->conns = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->next = h->prev = NULL;
}

void http_conns_quiesce(http_instance_t *hi, int h1_too)
{
    http_h1_conn_t *h, *next;

    for (h = hi->conns; h; h = next) {
        next = h->next;
        if (h->h2) {
            http_h2_goaway(h);
        } else if (h1_too) {
            if (h->state == H1_S_HEAD && h->last_len == 0 && h->busy == 0 &&
                loom_conn_pending(h->c) == 0)
                loom_conn_close(h->c); /* idle keep-alive: go now */
            else if (h->req && h->state != H1_S_HEAD)
                h->req->flags |= HTTP_RF_CLOSE;
        }
    }
}

void http_h1_close(loom_conn_t *c)
{
    http_h1_conn_t *h = loom_conn_data(c);

    if (h->hi == NULL || h->closed) /* never opened, or closed already */
        return;
    h1_unlink(h);
    if (h->h2) {
        h->closed = 1;
        http_h2_close(h);
        h->hi->ctr.conns_active--;
        if (h->busy == 0)
            http_conn_free(h);
        return;
    }
    h1_timer_stop(h);
    if (h->req && !(h->req->flags & HTTP_RF_DONE) && h->state != H1_S_HEAD)
        http_req_abort(h->req);
    h->state = H1_S_CLOSING;
    h->closed = 1;
    if (h->busy == 0)
        http_conn_free(h);
    h->hi->ctr.conns_active--;
}

/* Make (or reset) the request object for a new request. */
static void h1_start_req(http_h1_conn_t *h)
{
    if (h->req == NULL)
        h->req = loom_calloc(1, sizeof(*h->req));
    http_req_init(h->req, h->hi, h->c, &h1_proto, h);
    if (h->secure)
        h->req->flags |= HTTP_RF_SECURE;
}

/* Keep the head bytes for the request's lifetime and point R's slices at
 * the copy. */
static void h1_keep_head(http_h1_conn_t *h, h1_head_t *hd, const char *buf,
                         size_t len)
{
    size_t i;
    const char *old = buf;

#define REBASE(s) ((s).p = (s).p ? h->head + ((s).p - old) : NULL)
    if (h->head_cap < len) {
        free(h->head);
        h->head_cap = len < 1024 ? 1024 : len;
        h->head = loom_malloc(h->head_cap);
    }
    memcpy(h->head, buf, len);
    REBASE(hd->method);
    REBASE(hd->target);
    for (i = 0; i < hd->nfields; i++) {
        REBASE(hd->fields[i].name);
        REBASE(hd->fields[i].value);
    }
#undef REBASE
}

/* Upgrade: h2c on request R (head H, N bytes): the request becomes
 * HTTP/2 stream 1.  Returns the bytes consumed. */
static size_t h1_upgrade_h2c(http_h1_conn_t *h, http_req_t *r, h1_head_t *hd,
                             size_t n)
{
    loom_slice_t settings = {NULL, 0};
    const h1_field_t *f =
        h1_field_lookup(hd->fields, hd->nfields, "http2-settings");

    if (f)
        settings = f->value;
    if (http_h2_start(h, r, settings) != LOOM_OK) {
        h->state = H1_S_CLOSING;
        http_resp_codec_error(r, 400);
    }
    return n;
}

/* Parse one head at BUF; returns bytes consumed (0: need more). */
static size_t h1_head(http_h1_conn_t *h, const char *buf, size_t len)
{
    http_conf_t *hc = http_conf(h->hi);
    h1_head_t hd;
    h1_framing_t fr;
    http_req_t *r;
    int status = 400, rc;
    int n;

    if (h->nfields_cap < hc->limits.max_fields + 1) {
        free(h->fields);
        h->nfields_cap = hc->limits.max_fields + 1;
        h->fields = loom_malloc(h->nfields_cap * sizeof(h1_field_t));
    }
    hd.fields = h->fields;
    hd.max_fields = h->nfields_cap;
    hd.nfields = 0;
    n = h1_parse_head(buf, len, h->last_len, &hc->limits, &hd, &status);
    if (n == H1_PARTIAL) {
        h->last_len = len;
        if (!loom_timer_armed(&h->timer))
            h1_timer_start(h, hc->header_timeout);
        return 0;
    }
    h->last_len = 0;
    h1_timer_stop(h);
    h1_start_req(h);
    r = h->req;
    if (n == H1_ERROR) {
        h->state = H1_S_CLOSING;
        http_resp_codec_error(r, status);
        return len;
    }
    h1_keep_head(h, &hd, buf, (size_t)n);
    r->method = hd.method;
    r->target = hd.target;
    r->version = 10 + hd.minor;
    r->fields = hd.fields;
    r->nfields = hd.nfields;
    r->scheme.p = h->secure ? "https" : "http";
    r->scheme.len = h->secure ? 5 : 4;
    h->nreq++;
    rc = h1_framing(&hd, &fr, &status);
    if (rc != LOOM_OK) {
        h->state = H1_S_CLOSING;
        http_resp_codec_error(r, status);
        return len;
    }
    r->authority = fr.host;
    if (fr.upgrade_h2c && !h->secure && !fr.chunked && fr.content_length <= 0 &&
        !h->hi->quiescing)
        return h1_upgrade_h2c(h, r, &hd, (size_t)n);
    h->keep_alive =
        fr.keep_alive && h->nreq < hc->keepalive_requests && !h->hi->quiescing;
    if (!h->keep_alive)
        r->flags |= HTTP_RF_CLOSE;
    h->body_chunked = fr.chunked;
    h->body_left = fr.content_length > 0 ? (uint64_t)fr.content_length : 0;
    r->content_length =
        fr.chunked ? -1 : (fr.content_length > 0 ? fr.content_length : 0);
    if (fr.chunked)
        h1_chunked_init(&h->ck);
    h->state = (fr.chunked || h->body_left) ? H1_S_BODY : H1_S_WAIT;
    http_process(r);
    if (h->state == H1_S_CLOSING)
        return (size_t)n;
    if (h->state == H1_S_BODY) {
        if (fr.expect_continue && !(r->flags & HTTP_RF_HEAD_SENT))
            loom_conn_write(h->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        h1_timer_start(h, hc->body_timeout);
    } else if (h->state == H1_S_WAIT) {
        http_req_body(r, "", 0, 1);
    }
    return (size_t)n;
}

/* The body is complete: go on to the next request or wait for the
 * response. */
static void h1_body_done(http_h1_conn_t *h)
{
    h1_timer_stop(h);
    if (h->req->flags & HTTP_RF_DONE)
        h->state = H1_S_HEAD;
    else
        h->state = H1_S_WAIT;
}

/* Read body bytes; returns bytes consumed. */
static size_t h1_body(http_h1_conn_t *h, const char *buf, size_t len)
{
    http_req_t *r = h->req;
    size_t used = 0;

    if (!h->body_chunked) {
        size_t take = h->body_left < len ? (size_t)h->body_left : len;

        h->body_left -= take;
        http_req_body(r, buf, take, h->body_left == 0);
        used = take;
    } else {
        while (used < len && !h->ck.done) {
            loom_slice_t d = {NULL, 0};
            long n = h1_chunked_decode(&h->ck, buf + used, len - used, &d);

            if (n == H1_ERROR) {
                h->state = H1_S_CLOSING;
                if (!(r->flags & HTTP_RF_HEAD_SENT) &&
                    !(r->flags & HTTP_RF_DONE)) {
                    http_req_refuse(r, 400);
                } else {
                    loom_conn_close(h->c);
                }
                return len;
            }
            if (n == 0)
                break;
            used += (size_t)n;
            if (d.len || h->ck.done)
                http_req_body(r, d.p, d.len, h->ck.done);
            if (h->state == H1_S_CLOSING)
                return len;
        }
    }
    if (h->state == H1_S_CLOSING)
        return len;
    if ((h->body_chunked && h->ck.done) ||
        (!h->body_chunked && h->body_left == 0))
        h1_body_done(h);
    else
        h1_timer_start(h, http_conf(h->hi)->body_timeout);
    return used;
}

size_t http_h1_data(loom_conn_t *c, const char *buf, size_t len)
{
    http_h1_conn_t *h = loom_conn_data(c);
    size_t used = 0;

    if (h->closed)
        return len;
    if (h->h2)
        return http_h2_data(h, buf, len);
    if (h->nreq == 0 && h->state == H1_S_HEAD && h->last_len == 0 && len > 0 &&
        buf[0] == 'P') {
        size_t m = len < HTTP_H2_PREFACE_LEN ? len : HTTP_H2_PREFACE_LEN;

        /* h2c with prior knowledge; a preface that goes wrong after its
         * request line "PRI * HTTP/2.0\r\n" is an HTTP/2 client's too: the
         * session answers it with GOAWAY PROTOCOL_ERROR, not a 505 */
        int whole = memcmp(buf, HTTP_H2_PREFACE, m) == 0;

        if (whole || (len >= 16 && memcmp(buf, HTTP_H2_PREFACE, 16) == 0)) {
            loom_slice_t none = {NULL, 0};

            if (whole && m < HTTP_H2_PREFACE_LEN)
                return 0;
            if (http_h2_start(h, NULL, none) != LOOM_OK) {
                loom_conn_abort(c);
                return len;
            }
            return http_h2_data(h, buf, len);
        }
    }
    h1_enter(h);
    h->in_data = 1;
    while (used < len && !h->closed) {
        size_t n;

        if (h->h2) { /* switched by Upgrade: h2c */
            used += http_h2_data(h, buf + used, len - used);
            break;
        }
        if (h->state == H1_S_CLOSING) {
            used = len;
            break;
        }
        if (h->state == H1_S_TUNNEL) {
            http_req_t *r = h->req;

            r->bytes_in += len - used;
            if (r->on_body && !(r->flags & HTTP_RF_ABORTED))
                r->on_body(r, buf + used, len - used, 0);
            used = len;
            break;
        }
        if (h->state == H1_S_WAIT) {
            loom_conn_pause(c);
            break;
        }
        if (h->state == H1_S_HEAD)
            n = h1_head(h, buf + used, len - used);
        else
            n = h1_body(h, buf + used, len - used);
        if (n == 0)
            break;
        used += n;
    }
    h->in_data = 0;
    if (h1_leave(h))
        return len;
    return used;
}

void http_h1_drain(loom_conn_t *c)
{
    http_h1_conn_t *h = loom_conn_data(c);

    if (h->h2 && !h->closed) {
        http_h2_drain(h);
        return;
    }
    if (h->closed || h->req == NULL || h->state == H1_S_HEAD ||
        h->state == H1_S_CLOSING)
        return;
    h1_enter(h);
    http_req_writable(h->req);
    h1_leave(h);
}

/* ---- the finalizer
 * ----------------------------------------------------------- */

static int h1_send_head(http_req_t *r)
{
    http_h1_conn_t *h = r->codec;
    http_conf_t *hc = http_conf(h->hi);
    char buf[512];
    int n, bodyless = r->status < 200 || r->status == 204 || r->status == 304;
    int rc;

    if (h->state == H1_S_CLOSING) {
        r->flags |= HTTP_RF_CLOSE;
    } else if (h->state == H1_S_BODY && r->on_body == NULL &&
               !h->body_chunked && h->body_left > H1_DISCARD_MAX) {
        /* an answer before a large body nobody reads: close rather than
         * read it all (a chunked body is read and dropped, within the
         * location's max_body) */
        r->flags |= HTTP_RF_CLOSE;
    }
    h->resp_chunked = 0;
    if (r->status == 101) { /* the handler takes the bytes from here on */
        h1_timer_stop(h);
        h->state = H1_S_TUNNEL;
        if (!h->in_data)
            loom_conn_resume(h->c);
    }
    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n", r->status,
                 http_reason(r->status),
                 hc->server_tokens ? "loom/" LOOM_VERSION_STRING : "loom",
                 http_date_now(h->hi));
    if (r->status == 101) {
        /* no framing: the tunnel ends with the connection */
    } else if (r->resp_length >= 0) {
        if (r->status != 204 && r->status >= 200)
            n +=
                snprintf(buf + n, sizeof(buf) - (size_t)n,
                         "Content-Length: %lld\r\n", (long long)r->resp_length);
    } else if (!bodyless && r->method_id != HTTP_M_HEAD) {
        if (r->version >= 11)
            h->resp_chunked = 1;
        else
            r->flags |= HTTP_RF_CLOSE; /* delimited by the close */
        if (h->resp_chunked)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                          "Transfer-Encoding: chunked\r\n");
    }
    if (r->status == 101)
        ; /* the handler's Connection: upgrade stands */
    else if (r->flags & HTTP_RF_CLOSE)
        n +=
            snprintf(buf + n, sizeof(buf) - (size_t)n, "Connection: close\r\n");
    else if (r->version == 10)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                      "Connection: keep-alive\r\n");
    rc = loom_conn_write(h->c, buf, (size_t)n);
    if (rc == LOOM_ERROR)
        return rc;
    if (r->resp_hlen)
        loom_conn_write(h->c, r->resp_headers, r->resp_hlen);
    return loom_conn_write(h->c, "\r\n", 2);
}

static int h1_send_body(http_req_t *r, const void *p, size_t len)
{
    http_h1_conn_t *h = r->codec;
    char sz[24];
    int n;

    if (!h->resp_chunked)
        return loom_conn_write(h->c, p, len);
    n = snprintf(sz, sizeof(sz), "%zx\r\n", len);
    if (loom_conn_write(h->c, sz, (size_t)n) == LOOM_ERROR)
        return LOOM_ERROR;
    if (loom_conn_write(h->c, p, len) == LOOM_ERROR)
        return LOOM_ERROR;
    return loom_conn_write(h->c, "\r\n", 2);
}

static int h1_send_buf(http_req_t *r, loom_buf_t *b)
{
    http_h1_conn_t *h = r->codec;
    char sz[24];
    int n;

    if (!h->resp_chunked)
        return loom_conn_write_buf(h->c, b);
    n = snprintf(sz, sizeof(sz), "%zx\r\n", loom_buf_len(b));
    if (loom_conn_write(h->c, sz, (size_t)n) == LOOM_ERROR)
        return LOOM_ERROR;
    if (loom_conn_write_buf(h->c, b) == LOOM_ERROR)
        return LOOM_ERROR;
    return loom_conn_write(h->c, "\r\n", 2);
}

static size_t h1_pending(http_req_t *r)
{
    http_h1_conn_t *h = r->codec;

    return loom_conn_pending(h->c);
}

static int h1_send_file(http_req_t *r, int fd, off_t off, size_t len)
{
    http_h1_conn_t *h = r->codec;

    if (h->resp_chunked || h->secure)
        return LOOM_DECLINED;
    return loom_conn_write_file(h->c, fd, off, len);
}

static void h1_finish(http_req_t *r)
{
    http_h1_conn_t *h = r->codec;

    if (h->resp_chunked)
        loom_conn_write(h->c, "0\r\n\r\n", 5);
    http_req_done(r);
    if ((r->flags & HTTP_RF_CLOSE) || h->state == H1_S_CLOSING ||
        h->state == H1_S_TUNNEL) {
        h->state = H1_S_CLOSING;
        h1_timer_stop(h);
        loom_conn_close(h->c);
        return;
    }
    if (h->state == H1_S_BODY)
        return; /* the rest of a small body is discarded, then the next */
    h->state = H1_S_HEAD;
    if (!h->in_data)
        loom_conn_resume(h->c);
}

static void h1_reset(http_req_t *r)
{
    http_h1_conn_t *h = r->codec;

    /* what was sent stays sent; the client sees the body cut short */
    h->state = H1_S_CLOSING;
    h1_timer_stop(h);
    loom_conn_close(h->c);
}

static void h1_pause_body(http_req_t *r, int pause)
{
    http_h1_conn_t *h = r->codec;

    if (pause)
        loom_conn_pause(h->c);
    else
        loom_conn_resume(h->c);
}

/*
 * http_proxy.c - the reverse proxy handler: one http_px_t per proxied
 * request drives it through its attempts (pick a server, take a pooled
 * connection or open one, send the request head and stream the body,
 * read the response head, relay the body, give the connection back), the
 * retries, the timeouts, the error answers and WebSocket tunnels.
 *
 *   CONNECTING --connected--> HEAD --final head--> BODY --complete--> done
 *        ^                      |  \--101--> TUNNEL --either closes--> done
 *        +------ retry ---------+ (failure before any response byte)
 *
 * Re-entrancy: a request is driven from the client connection's callbacks
 * (body, writable, abort), from its upstream connection's (data, drain,
 * close), from the connect callback and from timers.  Each entry holds
 * the other connection it touches (loom_conn_hold) and the px itself
 * (busy); a px that finished or lost its client is only freed when the
 * outermost entry leaves.  After anything that calls into the client's
 * codec (which may close the client and abort us), px->dead is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h1_resp.h"
#include "http_proxy.h"
#include "http_proxy_msg.h"
#include "http_upstream.h"

#define PX_HEAD_MAX (64 * 1024) /* upstream response head */
#define PX_FIELDS_MAX 256       /* its fields */
#define PX_STALE_RETRIES 2      /* fresh connections after stale pooled ones */

enum { PX_CONNECTING = 1, PX_HEAD, PX_BODY, PX_TUNNEL };
enum { PXB_NONE = 0, PXB_LENGTH, PXB_CHUNKED };

typedef struct http_px_s {
    http_req_t *r; /* NULL once detached */
    http_proxy_rt_t *rt;
    http_ups_t *ups;             /* a reference */
    http_ups_server_t *srv;      /* this attempt's server (a reference) */
    http_ups_connect_t *pending; /* connect in progress */
    http_upconn_t *uc;           /* connection in use */
    loom_conn_t *held;           /* upstream conn held by this entry */
    loom_timer_t trd, twr;       /* connect/read and write timeouts */
    int state;
    unsigned busy;
    int dead;
    http_ups_server_t **tried; /* references */
    size_t ntried, tried_cap;
    http_px_buf_t head; /* request head, without body framing */
    int body_mode;      /* PXB_* */
    int body_done;      /* the client's body is all here */
    int body_consumed;  /* a body byte came from the client */
    int body_sent;      /* ... and all of it went upstream */
    int req_written;    /* the head went to this attempt's conn */
    int client_paused;  /* we paused the client's body */
    http_px_buf_t pend; /* body bytes before the head went out */
    h1_field_t *fields; /* response head parsing */
    size_t last_len;
    h1_resp_framing_t fr;
    h1_resp_body_t rb;
    int resp_started; /* the response head went to the client */
    int got_byte;     /* this attempt got a response byte */
    int up_paused;    /* upstream reading paused */
    int reused, force_new, stale_retries;
    int head_req, websocket;
    int last_timeout; /* the last failure was a timeout */
    char client[64];
    char reqline[256];
    struct http_px_s *next, *prev; /* rt->reqs */
} http_px_t;

static void px_attempt(http_px_t *px);
static void px_fail(http_px_t *px, const char *reason, const char *phase,
                    int timeout);
static size_t px_up_data(void *owner, const char *buf, size_t len);
static void px_up_drain(void *owner);
static void px_up_close(void *owner);

static const http_upconn_ops_t px_ops = {px_up_data, px_up_drain, px_up_close};

static const char *px_who(const http_px_t *px)
{
    return loom_instance_who(px->rt->hi->inst);
}

/* ---- life cycle
 * ----------------------------------------------------------------- */

static void px_timer(loom_timer_t *t, unsigned sec)
{
    loom_timer_arm(t, (uint64_t)sec * 1000);
}

static void px_free(http_px_t *px)
{
    size_t i;

    loom_timer_disarm(&px->trd);
    loom_timer_disarm(&px->twr);
    if (px->prev)
        px->prev->next = px->next;
    else
        px->rt->reqs = px->next;
    if (px->next)
        px->next->prev = px->prev;
    for (i = 0; i < px->ntried; i++)
        http_ups_server_unref(px->tried[i]);
    free(px->tried);
    free(px->fields);
    http_px_buf_free(&px->head);
    http_px_buf_free(&px->pend);
    http_ups_unref(px->ups);
    free(px);
}

/* Enter / leave a frame working on PX; the outermost leave frees a dead
 * px and releases the upstream connection it held. */
static void px_enter(http_px_t *px)
{
    px->busy++;
}

static void px_leave(http_px_t *px)
{
    loom_conn_t *held;

    if (--px->busy > 0)
        return;
    held = px->held;
    px->held = NULL;
    if (px->dead)
        px_free(px);
    if (held)
        loom_conn_release(held);
}

/* From outside the client's callbacks: hold its connection too. */
static loom_conn_t *px_begin(http_px_t *px)
{
    loom_conn_t *cc = px->r ? px->r->conn : NULL;

    if (cc)
        loom_conn_hold(cc);
    px_enter(px);
    return cc;
}

static void px_end(http_px_t *px, loom_conn_t *cc)
{
    px_leave(px);
    if (cc)
        loom_conn_release(cc);
}

/* Hold the upstream connection in use until the outermost leave. */
static void px_hold_up(http_px_t *px)
{
    loom_conn_t *c = px->uc ? px->uc->c : NULL;

    if (c == NULL || c == px->held)
        return;
    if (px->held)
        loom_conn_release(px->held);
    loom_conn_hold(c);
    px->held = c;
}

/* Pause / resume the client's request body. */
static void px_client_pause(http_px_t *px, int pause)
{
    if (px->r == NULL || px->client_paused == pause)
        return;
    px->client_paused = pause;
    px->r->proto->pause_body(px->r, pause);
}

/* Done with this attempt's server. */
static void px_drop_server(http_px_t *px)
{
    if (px->srv == NULL)
        return;
    px->srv->active--;
    http_ups_server_unref(px->srv);
    px->srv = NULL;
}

/* Stop everything on the upstream side (the connection is closed). */
static void px_teardown(http_px_t *px, int graceful)
{
    loom_timer_disarm(&px->trd);
    loom_timer_disarm(&px->twr);
    if (px->pending) {
        http_ups_connect_cancel(px->pending);
        px->pending = NULL;
    }
    if (px->uc) {
        http_upconn_t *uc = px->uc;

        px->uc = NULL;
        http_upconn_close(uc, !graceful);
    }
    px_drop_server(px);
}

/* Give the request back to the codec: no more hooks into PX.  Returns
 * the request (NULL when the client is gone). */
static http_req_t *px_detach(http_px_t *px)
{
    http_req_t *r = px->r;

    px->dead = 1;
    if (r == NULL)
        return NULL;
    r->on_body = NULL;
    r->on_writable = NULL;
    r->on_abort = NULL;
    r->hdata = NULL;
    if (px->client_paused) {
        px->client_paused = 0;
        r->proto->pause_body(r, 0);
    }
    px->r = NULL;
    return r;
}

/* Answer STATUS (502, 504) with the vhost's error page. */
static void px_respond_error(http_px_t *px, int status)
{
    http_req_t *r;

    px_teardown(px, 0);
    r = px_detach(px);
    if (r)
        http_resp_error(r, status);
}

/* The response was under way: cut it (HTTP/1.1 closes the connection,
 * HTTP/2 resets the stream). */
static void px_cut(http_px_t *px)
{
    http_req_t *r;

    px_teardown(px, 0);
    r = px_detach(px);
    if (r) {
        r->flags |= HTTP_RF_CLOSE;
        http_req_abort(r);
        r->proto->reset(r);
    }
}

/* ---- attempts
 * ------------------------------------------------------------------- */

static int px_idempotent(const http_req_t *r)
{
    switch (r->method_id) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
    case HTTP_M_PUT:
    case HTTP_M_DELETE:
    case HTTP_M_OPTIONS:
    case HTTP_M_TRACE:
        return 1;
    default:
        return 0;
    }
}

/* Write to the upstream connection in use; LOOM_ERROR when there is none
 * or it is closing (its close op does the rest). */
static int px_up_write(http_px_t *px, const void *p, size_t len)
{
    if (px->uc == NULL)
        return LOOM_ERROR;
    px_hold_up(px);
    return loom_conn_write(px->uc->c, p, len);
}

/* Body bytes to the upstream in the request's framing. */
static int px_write_body(http_px_t *px, const char *p, size_t len, int last)
{
    int rc = LOOM_OK;

    if (px->body_mode == PXB_CHUNKED) {
        if (len) {
            char sz[24];
            int n = snprintf(sz, sizeof(sz), "%zx\r\n", len);

            px_up_write(px, sz, (size_t)n);
            px_up_write(px, p, len);
            rc = px_up_write(px, "\r\n", 2);
        }
        if (last)
            rc = px_up_write(px, "0\r\n\r\n", 5);
    } else if (len) {
        rc = px_up_write(px, p, len);
    } else if (px->uc) {
        rc = loom_conn_write(px->uc->c, "", 0); /* AGAIN when still full */
    }
    if (last) {
        px->body_sent = 1;
        if (px->state == PX_HEAD)
            px_timer(&px->trd, px->ups->set.read_timeout);
    }
    if (rc == LOOM_AGAIN) {
        px_timer(&px->twr, px->ups->set.write_timeout);
        if (!last)
            px_client_pause(px, 1);
    }
    return rc;
}

/* A connection is ours: send the head and whatever body is here. */
static void px_send_request(http_px_t *px)
{
    http_req_t *r = px->r;
    char framing[64];
    int n = 0, rc;

    if (r->content_length > 0) {
        px->body_mode = PXB_LENGTH;
        n = snprintf(framing, sizeof(framing), "Content-Length: %lld\r\n",
                     (long long)r->content_length);
    } else if (r->content_length < 0 && !px->body_done) {
        px->body_mode = PXB_CHUNKED;
        n = snprintf(framing, sizeof(framing),
                     "Transfer-Encoding: chunked\r\n");
    } else { /* no body, or all of it is here already */
        px->body_mode = PXB_LENGTH;
        if (px->pend.len || http_req_field(r, "content-length") ||
            r->method_id == HTTP_M_POST || r->method_id == HTTP_M_PUT ||
            r->method_id == HTTP_M_PATCH)
            n = snprintf(framing, sizeof(framing), "Content-Length: %zu\r\n",
                         px->pend.len);
    }
    px->state = PX_HEAD;
    px->req_written = 1;
    px->body_sent = 0;
    px->uc->nreq++;
    px_up_write(px, px->head.p, px->head.len);
    px_up_write(px, framing, (size_t)n);
    rc = px_up_write(px, "\r\n", 2);
    if (px->pend.len || px->body_done)
        rc = px_write_body(px, px->pend.p, px->pend.len, px->body_done);
    http_px_buf_free(&px->pend);
    if (px->body_done) {
        px->body_sent = 1;
        px_timer(&px->trd, px->ups->set.read_timeout);
    } else if (rc == LOOM_AGAIN) {
        px_client_pause(px, 1);
        px_timer(&px->twr, px->ups->set.write_timeout);
    } else {
        px_client_pause(px, 0);
    }
}

static void px_connected(http_px_t *px, http_upconn_t *uc)
{
    px->uc = uc;
    px->reused = uc->nreq > 0;
    loom_timer_disarm(&px->trd);
    px_send_request(px);
}

static void px_on_connect(http_upconn_t *uc, loom_connect_status_t st,
                          const char *err, void *arg)
{
    http_px_t *px = arg;
    loom_conn_t *cc = px_begin(px);

    px->pending = NULL;
    if (uc)
        px_connected(px, uc);
    else
        px_fail(px, err, "while connecting", st == LOOM_CONNECT_ETIMEOUT);
    px_end(px, cc);
}

/* Give up after the last failure: an error page, or cut the response. */
static void px_give_up(http_px_t *px)
{
    if (px->resp_started)
        px_cut(px);
    else
        px_respond_error(px, px->last_timeout ? 504 : 502);
}

static void px_attempt(http_px_t *px)
{
    http_ups_server_t *s;

    if (px->force_new) { /* a stale pooled connection: same server */
        s = px->srv;
        px->srv = NULL;
    } else {
        s = http_ups_pick(px->ups, px->tried, px->ntried);
        if (s == NULL) {
            px_give_up(px);
            return;
        }
        http_ups_server_ref(s);
        s->active++;
        if (px->ntried == px->tried_cap) {
            px->tried_cap = px->tried_cap ? px->tried_cap * 2 : 4;
            px->tried =
                loom_realloc(px->tried, px->tried_cap * sizeof(*px->tried));
        }
        px->tried[px->ntried++] = s;
        http_ups_server_ref(s);
    }
    px->srv = s;
    px->state = PX_CONNECTING;
    px->got_byte = 0;
    px->last_len = 0;
    px->req_written = 0;
    if (!px->force_new) {
        http_upconn_t *uc = http_upconn_take(s, &px_ops, px);

        if (uc) {
            px_connected(px, uc);
            return;
        }
    }
    px->force_new = 0;
    px_timer(&px->trd, px->ups->set.connect_timeout);
    px->pending = http_ups_connect(s, &px_ops, px_on_connect, px);
}

static void px_fail(http_px_t *px, const char *reason, const char *phase,
                    int timeout)
{
    http_req_t *r = px->r;
    int stale = px->reused && !px->got_byte && !timeout;
    int retry;

    if (r == NULL || px->dead)
        return;
    loom_log(stale ? LOOM_LOG_DEBUG : LOOM_LOG_ERROR, px_who(px),
             "upstream \"%s\" server %s: %s %s%s, client %s, request \"%s\"",
             px->ups->name, px->srv ? px->srv->endpoint : "-", reason, phase,
             stale ? " (idle keep-alive connection)" : "", px->client,
             px->reqline);
    if (px->srv && !stale)
        http_ups_server_failed(px->srv);
    px->last_timeout = timeout;
    retry = !px->resp_started &&
            (!px->req_written || (px_idempotent(r) && !px->body_consumed));
    if (retry && stale && px->stale_retries < PX_STALE_RETRIES && px->srv &&
        !px->srv->gone) {
        http_ups_server_t *s = px->srv;

        px->stale_retries++;
        px->srv = NULL; /* keep its reference and count for the retry */
        px_teardown(px, 0);
        px->srv = s;
        px->force_new = 1;
        px_attempt(px);
        return;
    }
    px_teardown(px, 0);
    if (retry)
        px_attempt(px);
    else
        px_give_up(px);
}

/* ---- the client side
 * ------------------------------------------------------------- */

static void px_on_body(http_req_t *r, const char *p, size_t len, int last)
{
    http_px_t *px = r->hdata;

    px_enter(px);
    if (len)
        px->body_consumed = 1;
    if (last)
        px->body_done = 1;
    if (px->state == PX_TUNNEL) {
        if (len && px_up_write(px, p, len) == LOOM_AGAIN) {
            px_client_pause(px, 1);
            px_timer(&px->twr, px->ups->set.write_timeout);
        }
    } else if (px->uc && px->req_written && !px->body_sent) {
        px_write_body(px, p, len, last);
    } else if (!px->req_written) {
        /* no connection yet: keep what this delivery brought */
        http_px_buf_add(&px->pend, p, len);
        if (!last)
            px_client_pause(px, 1);
    }
    px_leave(px);
}

static void px_on_writable(http_req_t *r)
{
    http_px_t *px = r->hdata;

    px_enter(px);
    if (px->up_paused && px->uc) {
        px->up_paused = 0;
        px_hold_up(px);
        loom_conn_resume(px->uc->c);
        px_timer(&px->trd, px->ups->set.read_timeout);
    }
    px_leave(px);
}

static void px_on_abort(http_req_t *r)
{
    http_px_t *px = r->hdata;

    px_enter(px);
    px->r = NULL; /* gone: never touch it again */
    px->client_paused = 0;
    px_teardown(px, px->state == PX_TUNNEL);
    px->dead = 1;
    px_leave(px);
}

/* ---- the upstream side
 * ----------------------------------------------------------- */

/* The response is complete; CLEAN when nothing followed it. */
static void px_finish(http_px_t *px, int clean)
{
    http_upconn_t *uc = px->uc;
    int reusable = clean && px->fr.keep_alive && px->body_sent &&
                   px->state == PX_BODY && !px->rt->hi->quiescing;
    http_req_t *r;

    loom_timer_disarm(&px->trd);
    loom_timer_disarm(&px->twr);
    px->uc = NULL;
    px_drop_server(px);
    if (uc)
        http_upconn_release(uc, reusable);
    r = px_detach(px);
    if (r)
        http_resp_end(r);
}

/* A final response head H: hand it to the client. */
static void px_start_response(http_px_t *px, const h1_resp_head_t *h)
{
    http_req_t *r = px->r;

    http_ups_server_ok(px->srv);
    http_resp_status(r, h->status);
    http_px_response_fields(r, h);
    if (px->fr.body == H1R_BODY_LENGTH ||
        (px->fr.body == H1R_BODY_NONE && h->status != 204))
        http_resp_length(r, px->fr.content_length);
    else
        http_resp_length(r, -1);
    h1_resp_body_init(&px->rb, &px->fr);
    px->resp_started = 1;
    px->state = PX_BODY;
    free(px->fields);
    px->fields = NULL;
    http_resp_send_head(r);
}

/* A 101 to a WebSocket request: both connections become a tunnel. */
static void px_start_tunnel(http_px_t *px, const h1_resp_head_t *h)
{
    http_req_t *r = px->r;
    const h1_field_t *up = NULL;
    size_t i;
    char v[128];

    for (i = 0; i < h->nfields && up == NULL; i++)
        if (h->fields[i].name.len == 7 &&
            strncasecmp(h->fields[i].name.p, "upgrade", 7) == 0)
            up = &h->fields[i];
    http_ups_server_ok(px->srv);
    http_resp_status(r, 101);
    http_px_response_fields(r, h);
    if (up && up->value.len && up->value.len < sizeof(v)) {
        memcpy(v, up->value.p, up->value.len);
        v[up->value.len] = '\0';
        http_resp_header(r, "Upgrade", v);
    } else {
        http_resp_header(r, "Upgrade", "websocket");
    }
    http_resp_header(r, "Connection", "upgrade");
    px->resp_started = 1;
    px->state = PX_TUNNEL;
    free(px->fields);
    px->fields = NULL;
    px_client_pause(px, 0);
    px_timer(&px->trd, px->ups->set.read_timeout);
    http_resp_send_head(r);
}

/* Response head bytes; returns bytes consumed. */
static size_t px_read_head(http_px_t *px, const char *buf, size_t len)
{
    size_t used = 0;

    if (px->fields == NULL)
        px->fields = loom_malloc(PX_FIELDS_MAX * sizeof(h1_field_t));
    while (px->state == PX_HEAD && used < len) {
        h1_resp_head_t h;
        int n;

        memset(&h, 0, sizeof(h));
        h.fields = px->fields;
        h.max_fields = PX_FIELDS_MAX;
        n = h1_resp_parse_head(buf + used, len - used, px->last_len,
                               PX_HEAD_MAX, &h);
        if (n == H1_PARTIAL) {
            px->last_len = len - used;
            return used;
        }
        px->last_len = 0;
        if (n == H1_ERROR ||
            h1_resp_framing(&h, px->head_req, &px->fr) != LOOM_OK ||
            (px->fr.upgrade && !px->websocket)) {
            px_fail(px, "bad response head", "while reading response head", 0);
            return len;
        }
        used += (size_t)n;
        if (px->fr.interim) /* 100 Continue, 103 Early Hints */
            continue;
        if (px->fr.upgrade)
            px_start_tunnel(px, &h);
        else
            px_start_response(px, &h);
    }
    return used;
}

/* Response body bytes; returns bytes consumed. */
static size_t px_read_body(http_px_t *px, const char *buf, size_t len)
{
    size_t used = 0;

    while (!px->rb.done && used < len && !px->dead) {
        loom_slice_t d;
        long n = h1_resp_body_read(&px->rb, buf + used, len - used, &d);
        int rc = LOOM_OK;

        if (n == H1_ERROR) {
            px_fail(px, "bad response body", "while reading response body", 0);
            return len;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (d.len)
            rc = http_resp_write(px->r, d.p, d.len);
        if (px->dead)
            return len;
        if (rc == LOOM_ERROR) { /* the client is going */
            px_teardown(px, 0);
            px_detach(px);
            return len;
        }
        if (rc == LOOM_AGAIN && !px->rb.done) {
            px->up_paused = 1;
            loom_conn_pause(px->uc->c);
            loom_timer_disarm(&px->trd);
            return used;
        }
    }
    if (px->rb.done)
        px_finish(px, used == len);
    return used;
}

static size_t px_up_input(http_px_t *px, const char *buf, size_t len)
{
    size_t used = 0;

    if (px->r == NULL || px->dead)
        return len;
    px->got_byte = 1;
    if (px->state != PX_BODY || !px->up_paused)
        px_timer(&px->trd, px->ups->set.read_timeout);
    if (px->state == PX_HEAD) {
        used = px_read_head(px, buf, len);
        if (px->dead || px->state == PX_HEAD)
            return px->dead ? len : used;
    }
    if (px->state == PX_BODY)
        return used + px_read_body(px, buf + used, len - used);
    if (px->state == PX_TUNNEL && used < len) {
        int rc = http_resp_write(px->r, buf + used, len - used);

        if (px->dead)
            return len;
        if (rc == LOOM_ERROR) {
            px_teardown(px, 0);
            px_detach(px);
        } else if (rc == LOOM_AGAIN) {
            px->up_paused = 1;
            loom_conn_pause(px->uc->c);
        }
        return len;
    }
    return px->dead ? len : used;
}

static size_t px_up_data(void *owner, const char *buf, size_t len)
{
    http_px_t *px = owner;
    loom_conn_t *cc = px_begin(px);
    size_t used = px_up_input(px, buf, len);

    px_end(px, cc);
    return used;
}

static void px_up_drain(void *owner)
{
    http_px_t *px = owner;
    loom_conn_t *cc = px_begin(px);

    loom_timer_disarm(&px->twr);
    if (px->r && !px->dead && px->req_written &&
        (!px->body_sent || px->state == PX_TUNNEL))
        px_client_pause(px, 0);
    px_end(px, cc);
}

static void px_up_close(void *owner)
{
    http_px_t *px = owner;
    loom_conn_t *cc = px_begin(px);
    http_req_t *r;

    px->uc = NULL; /* freed after we return */
    if (px->r == NULL || px->dead) {
        px_end(px, cc);
        return;
    }
    switch (px->state) {
    case PX_HEAD:
        px_fail(px, "closed prematurely",
                px->body_sent ? "while reading response head"
                              : "while sending request",
                0);
        break;
    case PX_BODY:
        if (h1_resp_body_eof(&px->rb) == LOOM_OK)
            px_finish(px, 0);
        else
            px_fail(px, "closed prematurely", "while reading response body", 0);
        break;
    case PX_TUNNEL:
        px_teardown(px, 1);
        r = px_detach(px);
        if (r)
            http_resp_end(r); /* closes the client after what is queued */
        break;
    default:
        break;
    }
    px_end(px, cc);
}

static void px_on_read_timeout(loom_timer_t *t, void *arg)
{
    http_px_t *px = arg;
    loom_conn_t *cc = px_begin(px);
    int sending;
    http_req_t *r;

    (void)t;
    switch (px->state) {
    case PX_CONNECTING:
        px_fail(px, "timed out", "while connecting", 1);
        break;
    case PX_HEAD:
        sending =
            !px->body_sent || (px->uc && loom_conn_pending(px->uc->c) > 0);
        px_fail(px, "timed out",
                sending ? "while sending request"
                        : "while reading response head",
                1);
        break;
    case PX_BODY:
        px_fail(px, "timed out", "while reading response body", 1);
        break;
    case PX_TUNNEL: /* idle: close both sides */
        px_teardown(px, 0);
        r = px_detach(px);
        if (r)
            http_resp_end(r);
        break;
    }
    px_end(px, cc);
}

static void px_on_write_timeout(loom_timer_t *t, void *arg)
{
    http_px_t *px = arg;
    loom_conn_t *cc = px_begin(px);
    http_req_t *r;

    (void)t;
    if (px->state == PX_TUNNEL) {
        px_teardown(px, 0);
        r = px_detach(px);
        if (r)
            http_resp_end(r);
    } else if (px->state == PX_HEAD || px->state == PX_BODY) {
        px_fail(px, "timed out", "while sending request", 1);
    }
    px_end(px, cc);
}

/* ---- the handler
 * ----------------------------------------------------------------- */

/* "METHOD target" for log lines, bounded, control bytes replaced. */
static void px_reqline(http_px_t *px, const http_req_t *r)
{
    size_t o = 0, i, cap = sizeof(px->reqline) - 1;

    for (i = 0; i < r->method.len && o < cap; i++)
        px->reqline[o++] = r->method.p[i];
    if (o < cap)
        px->reqline[o++] = ' ';
    for (i = 0; i < r->target.len && o < cap; i++) {
        unsigned char c = (unsigned char)r->target.p[i];

        px->reqline[o++] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
    }
    px->reqline[o] = '\0';
}

static void proxy_process(http_req_t *r)
{
    const struct http_proxy_loc_s *pl = r->loc->proxy;
    http_proxy_rt_t *rt = r->hi->proxy_rt;
    http_ups_t *u = pl && pl->ups ? pl->ups->rt : NULL;
    http_px_head_opts_t o;
    http_px_t *px;

    if (rt == NULL || u == NULL) {
        http_resp_error(r, 502);
        return;
    }
    px = loom_calloc(1, sizeof(*px));
    px->rt = rt;
    px->ups = u;
    http_ups_ref(u);
    px->r = r;
    px->next = rt->reqs;
    if (rt->reqs)
        rt->reqs->prev = px;
    rt->reqs = px;
    loom_timer_init(&px->trd, rt->hi->inst, px_on_read_timeout, px);
    loom_timer_init(&px->twr, rt->hi->inst, px_on_write_timeout, px);
    snprintf(px->client, sizeof(px->client), "%s", loom_conn_peer(r->conn));
    px_reqline(px, r);
    px->head_req = r->method_id == HTTP_M_HEAD;
    px->websocket = http_px_is_websocket(r);
    px->body_done =
        r->content_length == 0 || (r->flags & HTTP_RF_BODY_DONE) != 0;
    memset(&o, 0, sizeof(o));
    o.pl = pl;
    o.fallback_host = u->nservers ? u->servers[0]->authority : NULL;
    o.client = px->client;
    o.websocket = px->websocket;
    o.conn_close = u->set.keepalive == 0;
    http_px_request_head(r, &o, &px->head);
    r->hdata = px;
    r->on_body = px_on_body;
    r->on_writable = px_on_writable;
    r->on_abort = px_on_abort;
    px_enter(px);
    px_attempt(px);
    px_leave(px);
}

const http_handler_t http_handler_proxy = {"proxy", proxy_process};

/* ---- the runtime's life cycle
 * ------------------------------------------------------ */

void http_proxy_start(http_instance_t *hi)
{
    http_proxy_rt_t *rt = loom_calloc(1, sizeof(*rt));

    rt->hi = hi;
    hi->proxy_rt = rt;
    http_ups_sync(rt, http_conf(hi));
}

void http_proxy_reload(http_instance_t *hi)
{
    http_proxy_rt_t *rt = hi->proxy_rt;

    if (rt == NULL)
        return;
    /* requests in flight keep their own upstream references; their
     * vhost/location are dropped by http_req_conf */
    http_ups_sync(rt, http_conf(hi));
}

void http_proxy_quiesce(http_instance_t *hi)
{
    http_proxy_rt_t *rt = hi->proxy_rt;
    http_ups_t *u;
    size_t i;

    if (rt == NULL)
        return;
    for (u = rt->ups; u; u = u->next)
        for (i = 0; i < u->nservers; i++)
            while (u->servers[i]->idle)
                http_upconn_close(u->servers[i]->idle, 1);
}

void http_proxy_stop(http_instance_t *hi)
{
    http_proxy_rt_t *rt = hi->proxy_rt;

    if (rt == NULL)
        return;
    while (rt->reqs) { /* none should be left: their clients are gone */
        http_px_t *px = rt->reqs;

        px->busy++;
        px_teardown(px, 0);
        px_detach(px);
        px->busy = 1;
        px_leave(px);
    }
    http_ups_shutdown(rt);
    free(rt);
    hi->proxy_rt = NULL;
}

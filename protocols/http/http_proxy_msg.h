/*
 * http_proxy_msg.h - the messages of the reverse proxy: the HTTP/1.1
 * request head sent upstream (target rewriting, Host, hop-by-hop fields
 * dropped, X-Forwarded-* and Forwarded added) and the end-to-end fields of
 * the upstream's response copied to the client's.  No I/O.
 */
#ifndef HTTP_PROXY_MSG_H
#define HTTP_PROXY_MSG_H

#include "h1_resp.h"
#include "http.h"
#include "http_upstream.h"

/* A growable byte buffer (heap; free with http_px_buf_free). */
typedef struct {
    char *p;
    size_t len, cap;
} http_px_buf_t;

void http_px_buf_add(http_px_buf_t *b, const char *p, size_t len);
void http_px_buf_str(http_px_buf_t *b, const char *s);
void http_px_buf_free(http_px_buf_t *b);

/* 1 when NAME is a hop-by-hop field (RFC 9110 section 7.6.1: Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authenticate, Proxy-Authorization, HTTP2-Settings) or is named by
 * a Connection field among F[0..N). */
int http_px_hop_by_hop(loom_slice_t name, const h1_field_t *f, size_t n);

/* 1 when HTTP/1.1 request R asks for a WebSocket: Upgrade naming
 * "websocket" and Connection naming "upgrade". */
int http_px_is_websocket(const http_req_t *r);

/* What the request head depends on besides the request. */
typedef struct {
    const struct http_proxy_loc_s *pl; /* the location's proxy options */
    const char *fallback_host;         /* Host when the client sent none */
    const char *client;                /* the client's address as text */
    int websocket;                     /* forward the Upgrade */
    int conn_close;                    /* ask the upstream to close after */
} http_px_head_opts_t;

/* Append to OUT the head of R's upstream request up to (not including)
 * its body framing fields and the empty line: request line with the
 * target rewritten as proxy_prefix says, Host, the client's end-to-end
 * fields (Cookie fields joined into one), X-Forwarded-For (appended),
 * X-Forwarded-Proto, Forwarded (appended), and Connection/Upgrade for a
 * WebSocket or Connection: close when O asks. */
void http_px_request_head(const http_req_t *r, const http_px_head_opts_t *o,
                          http_px_buf_t *out);

/* Copy H's end-to-end fields to R's response header lines: hop-by-hop
 * fields, Server, Date and Content-Length are left out (the codec writes
 * its own framing, Server and Date). */
void http_px_response_fields(http_req_t *r, const h1_resp_head_t *h);

#endif

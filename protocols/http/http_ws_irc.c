/*
 * http_ws_irc.c - the irc handler: IRC over WebSocket (the IRCv3
 * WebSocket transport) at a location, for browser clients of an irc
 * instance ("irc = INSTANCE").
 *
 * A valid opening handshake (ws.c) attaches a client to the instance
 * through its "irc.link/1" service (irc_service.h) and answers 101; from
 * then on the connection is a tunnel (http.h) whose bytes go through the
 * frame decoder.  Each text or binary message is one IRC line (trailing
 * CR LF tolerated; a message holding several lines is taken as several);
 * each line the server queues becomes one message without its CR LF:
 * a binary one under "binary.ircv3.net", a text one otherwise
 * ("text.ircv3.net", or no subprotocol), with invalid UTF-8 replaced by
 * U+FFFD as the specification asks.  Pings get pongs; a close gets its
 * echo; a protocol error gets a close with the decoder's code (1002,
 * 1007, 1009) and the client quits with the reason.
 *
 * The link and the irc client know each other only by handle: the link
 * holds the client's 64-bit id and its own service reference (looked up
 * again in every callback), the instance holds (ops, link) until it calls
 * close() or the link calls detach().  Nothing here points into the
 * location's config, so a reload of either module frees nothing a live
 * link uses; a reload that removes the irc instance closes its links
 * (through close()) with the server's last line and a close frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http.h"
#include "ws.h"

#include "../irc/irc_service.h"

/* Largest message a client may send: room for the longest line the IRC
 * parser takes (tags and all) and more, so that an over-long line gets
 * the server's own numeric; past this the link closes with 1009. */
#define WS_IRC_MAX_MESSAGE (16 * 1024)

/* A location's settings. */
struct http_irc_loc_s {
    char *instance; /* the irc instance's name */
};

/* One WebSocket link to an irc client. */
typedef struct {
    http_req_t *r; /* NULL once the HTTP side is gone */
    ws_decoder_t dec;
    loom_service_ref_t ref; /* the link's own: outlives any config */
    uint64_t id;            /* the irc client; 0 once either side ended */
    int binary;             /* binary.ircv3.net */
    int busy;               /* frames of this file on the stack */
    int want_drain;         /* a write returned LOOM_AGAIN */
    int ended;              /* the close frame is out, the response ended */
} ws_link_t;

static const char *const ws_irc_protocols[] = {"binary.ircv3.net",
                                               "text.ircv3.net", NULL};

/* ---- configuration --------------------------------------------------------
 */

int http_irc_location(cfg_t *ls, http_location_t *l)
{
    const char *name = cfg_getstr(ls, "irc");

    if (name == NULL || name[0] == '\0') {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the irc handler needs "
                        "irc = \"INSTANCE\"",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (strlen(name) >= sizeof(((loom_service_ref_t *)0)->instance)) {
        loom_conf_error(ls, "irc", "irc \"%s\": name too long", name);
        return LOOM_ERROR;
    }
    l->irc = loom_calloc(1, sizeof(*l->irc));
    l->irc->instance = loom_strdup(name);
    return LOOM_OK;
}

void http_irc_location_free(http_location_t *l)
{
    if (l->irc == NULL)
        return;
    free(l->irc->instance);
    free(l->irc);
    l->irc = NULL;
}

/* ---- the link's life ------------------------------------------------------
 */

static void link_enter(ws_link_t *k)
{
    k->busy++;
}

/* Free K when no frame is on the stack and both sides are done with it. */
static void link_leave(ws_link_t *k)
{
    if (--k->busy == 0 && k->r == NULL && k->id == 0) {
        ws_decoder_free(&k->dec);
        free(k);
    }
}

/* The service, or NULL when the instance is gone or was replaced (the id
 * means nothing there). */
static const irc_link_service_t *link_svc(ws_link_t *k, void **self)
{
    int replaced = 0;
    const irc_link_service_t *svc = loom_service_get(&k->ref, self, &replaced);

    return replaced ? NULL : svc;
}

/* Put one frame on the wire: LOOM_OK, LOOM_AGAIN or LOOM_ERROR. */
static int link_frame(ws_link_t *k, int opcode, const void *p, size_t len)
{
    uint8_t head[WS_HEAD_MAX];
    size_t h = ws_frame_head(head, 1, opcode, len, NULL);
    int rc;

    if (k->r == NULL || k->ended)
        return LOOM_ERROR;
    rc = http_resp_write(k->r, head, h);
    if (rc != LOOM_ERROR && len)
        rc = http_resp_write(k->r, p, len);
    return rc;
}

/* Send a close frame with CODE and REASON, then end the response (the
 * connection closes once what is queued is out).  The HTTP side is
 * released: K is freed when the irc side is done too. */
static void link_end(ws_link_t *k, unsigned code, const char *reason)
{
    uint8_t pl[WS_CONTROL_MAX];
    http_req_t *r = k->r;

    if (r == NULL)
        return;
    if (!k->ended) {
        link_frame(k, WS_OP_CLOSE, pl, ws_close_payload(pl, code, reason));
        k->ended = 1;
    }
    r->on_body = NULL;
    r->on_writable = NULL;
    r->on_abort = NULL;
    r->hdata = NULL;
    k->r = NULL;
    http_resp_end(r);
}

/* The irc side ends for good: detach the client with REASON if it is
 * still attached. */
static void link_detach(ws_link_t *k, const char *reason)
{
    const irc_link_service_t *svc;
    uint64_t id = k->id;
    void *self;

    if (id == 0)
        return;
    k->id = 0;
    svc = link_svc(k, &self);
    if (svc)
        svc->detach(self, id, reason);
}

/* ---- what the irc instance calls (irc_link_ops_t) -------------------------
 */

static int ops_write(void *io, loom_buf_t *line)
{
    ws_link_t *k = io;
    const uint8_t *p = (const uint8_t *)loom_buf_data(line);
    size_t len = loom_buf_len(line);
    int rc;

    if (k->id == 0 || k->r == NULL || k->ended)
        return LOOM_ERROR;
    if (len && p[len - 1] == '\n')
        len--;
    if (len && p[len - 1] == '\r')
        len--;
    if (k->binary) {
        rc = link_frame(k, WS_OP_BINARY, p, len);
    } else if (ws_utf8_valid(p, len)) {
        rc = link_frame(k, WS_OP_TEXT, p, len);
    } else {
        uint8_t *fixed = loom_malloc(3 * len);

        rc = link_frame(k, WS_OP_TEXT, fixed, ws_utf8_repair(p, len, fixed));
        free(fixed);
    }
    if (rc == LOOM_AGAIN)
        k->want_drain = 1;
    return rc;
}

static size_t ops_pending(void *io)
{
    ws_link_t *k = io;

    return k->r && !k->ended ? http_resp_pending(k->r) : 0;
}

static void ops_close(void *io, const char *reason)
{
    ws_link_t *k = io;

    link_enter(k);
    k->id = 0; /* the instance forgot us: no detach */
    link_end(k, WS_CLOSE_NORMAL, reason ? reason : "");
    link_leave(k);
}

static const irc_link_ops_t ws_irc_ops = {ops_write, ops_pending, ops_close};

/* ---- what the client sends ------------------------------------------------
 */

/* Hand the lines of one message to the instance; LOOM_ERROR when the
 * link ended meanwhile. */
static int link_message(ws_link_t *k, const uint8_t *p, size_t len)
{
    size_t at = 0;

    while (at < len) {
        const irc_link_service_t *svc;
        size_t end = at;
        void *self;

        while (end < len && p[end] != '\r' && p[end] != '\n')
            end++;
        if (end > at) {
            svc = link_svc(k, &self);
            if (svc == NULL) {
                k->id = 0;
                link_end(k, WS_CLOSE_GOING_AWAY, "the IRC server is gone");
                return LOOM_ERROR;
            }
            if (svc->input(self, k->id, (const char *)p + at, end - at) !=
                LOOM_OK) {
                k->id = 0; /* unknown there now: no detach */
                link_end(k, WS_CLOSE_NORMAL, "");
                return LOOM_ERROR;
            }
            if (k->id == 0 || k->r == NULL) /* closed from inside input */
                return LOOM_ERROR;
        }
        at = end + 1;
    }
    return LOOM_OK;
}

static void ws_on_body(http_req_t *r, const char *p, size_t len, int last)
{
    ws_link_t *k = r->hdata;
    char why[160];

    (void)last;
    link_enter(k);
    while (k->r != NULL) {
        ws_event_t ev;
        size_t used = ws_decode(&k->dec, (const uint8_t *)p, len, &ev);

        p += used;
        len -= used;
        if (ev.type == WS_EV_NONE)
            break;
        if (ev.type == WS_EV_TEXT || ev.type == WS_EV_BINARY) {
            if (link_message(k, ev.data, ev.len) != LOOM_OK)
                break;
        } else if (ev.type == WS_EV_PING) {
            link_frame(k, WS_OP_PONG, ev.data, ev.len);
        } else if (ev.type == WS_EV_CLOSE) {
            link_detach(k, "Connection closed");
            link_end(k,
                     ev.code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : ev.code,
                     "");
        } else if (ev.type == WS_EV_ERROR) {
            snprintf(why, sizeof(why), "WebSocket error: %s", ev.why);
            link_detach(k, why);
            link_end(k, ev.code, ev.why);
        }
    }
    link_leave(k);
}

static void ws_on_writable(http_req_t *r)
{
    ws_link_t *k = r->hdata;
    const irc_link_service_t *svc;
    void *self;

    if (!k->want_drain || k->id == 0)
        return;
    k->want_drain = 0;
    link_enter(k);
    svc = link_svc(k, &self);
    if (svc)
        svc->drained(self, k->id);
    link_leave(k);
}

/* The connection went away (peer closed, write error, http stopping). */
static void ws_on_abort(http_req_t *r)
{
    ws_link_t *k = r->hdata;

    link_enter(k);
    k->r = NULL; /* never touch R again */
    link_detach(k, "Connection closed");
    link_leave(k);
}

/* ---- the handler ------------------------------------------------------------
 */

/* A refused handshake: STATUS with the headers it calls for and WHY as a
 * text body. */
static void ws_refuse(http_req_t *r, int status, const char *why)
{
    char body[200];
    int n = snprintf(body, sizeof(body), "%s\n", why);

    if (status == 426) {
        http_resp_header(r, "Upgrade", "websocket");
        http_resp_header(r, "Connection", "Upgrade");
        http_resp_header(r, "Sec-WebSocket-Version", "13");
    } else if (status == 405) {
        http_resp_header(r, "Allow", "GET");
    }
    r->flags |= HTTP_RF_CLOSE;
    http_resp_simple(r, status, "text/plain; charset=utf-8", body, (size_t)n);
}

static void ws_irc_process(http_req_t *r)
{
    const http_irc_loc_t *cf = r->loc->irc;
    const irc_link_service_t *svc;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    loom_tls_info_t tls;
    ws_handshake_t hs;
    ws_link_t *k;
    void *self;

    if (ws_handshake_check(r->method, r->version, r->fields, r->nfields,
                           ws_irc_protocols, &hs) != 101) {
        ws_refuse(r, hs.status, hs.why);
        return;
    }
    if (r->content_length != 0) {
        ws_refuse(r, 400, "a WebSocket handshake has no body");
        return;
    }
    k = loom_calloc(1, sizeof(*k));
    if (loom_service_ref_init(&k->ref, loom_instance_server(r->hi->inst),
                              IRC_LINK_MODULE, cf->instance,
                              IRC_LINK_SERVICE) != LOOM_OK ||
        (svc = link_svc(k, &self)) == NULL) {
        free(k);
        ws_refuse(r, 503, "the IRC server is not running");
        return;
    }
    memset(&peer, 0, sizeof(peer));
    if (loom_conn_peer_addr(r->conn, &peer, &plen) != LOOM_OK)
        peer.ss_family = AF_UNSPEC;
    /* wss on a TLS profile with client_certs = yes: SASL EXTERNAL */
    if (loom_conn_tls_info(r->conn, &tls) != 0)
        tls.peer_sha256 = NULL;
    k->id = svc->attach(self, &ws_irc_ops, k, &peer,
                        (r->flags & HTTP_RF_SECURE) != 0, tls.peer_sha256);
    if (k->id == 0) {
        free(k);
        ws_refuse(r, 503, "the IRC server refused the connection");
        return;
    }
    ws_decoder_init(&k->dec, WS_IRC_MAX_MESSAGE, 1);
    k->binary = hs.protocol == 0;
    k->r = r;
    r->hdata = k;
    r->on_body = ws_on_body;
    r->on_writable = ws_on_writable;
    r->on_abort = ws_on_abort;
    http_resp_status(r, 101);
    http_resp_header(r, "Upgrade", "websocket");
    http_resp_header(r, "Connection", "Upgrade");
    http_resp_header(r, "Sec-WebSocket-Accept", hs.accept);
    if (hs.protocol >= 0)
        http_resp_header(r, "Sec-WebSocket-Protocol",
                         ws_irc_protocols[hs.protocol]);
    link_enter(k);
    if (http_resp_send_head(r) == LOOM_ERROR) {
        /* gone already: on_abort ran or will; make sure the client quits */
        link_detach(k, "Connection closed");
    }
    link_leave(k);
}

const http_handler_t http_handler_irc = {"irc", ws_irc_process};

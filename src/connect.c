/*
 * connect.c - outbound connections from connect endpoint strings:
 * resolve with c-ares, try every address in turn (non-blocking connect),
 * then TLS (verifying the peer by default), all under one timeout.
 */
#include "core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "resolver.h"
#include "tls.h"

struct loom_connect_s {
    loom_server_t *srv;
    loom_endpoint_t ep;
    const loom_handler_t *handler;
    loom_connect_cb cb;
    void *arg;
    struct sockaddr_storage *addrs;
    socklen_t *addrlens;
    size_t n_addrs, next;
    int fd;
    int resolving, cancelled;
    const char *last_err;
    struct event *ev;    /* connect in progress */
    struct event *timer; /* the whole attempt */
    loom_conn_t *conn;   /* during the TLS handshake */
};

static void connect_try_next(loom_connect_t *cr);

static void connect_free(loom_connect_t *cr)
{
    if (cr->ev)
        event_free(cr->ev);
    if (cr->timer)
        event_free(cr->timer);
    if (cr->fd >= 0)
        close(cr->fd);
    free(cr->addrs);
    free(cr->addrlens);
    free(cr);
}

/* Report the outcome once and free the request. */
static void connect_finish(loom_connect_t *cr, loom_conn_t *c, const char *err)
{
    loom_connect_cb cb = cr->cb;
    void *arg = cr->arg;

    cr->conn = NULL;
    connect_free(cr);
    cb(c, err, arg);
}

/* During the TLS handshake the connection's handler is this one: its open
 * runs when the handshake completes, and hands over to the caller's. */
static int connect_tls_open(loom_conn_t *c)
{
    loom_connect_t *cr = c->data;

    c->h = cr->handler;
    c->data = cr->arg;
    connect_finish(cr, c, NULL);
    return LOOM_OK;
}

static size_t connect_tls_data(loom_conn_t *c, const char *buf, size_t len)
{
    (void)c;
    (void)buf;
    return len;
}

static void connect_tls_close(loom_conn_t *c)
{
    loom_connect_t *cr = c->data;

    if (cr && cr->conn == c) {
        cr->conn = NULL;
        connect_finish(cr, NULL, "TLS handshake failed");
    }
}

static const loom_handler_t connect_tls_handler = {
    connect_tls_open, connect_tls_data, NULL, connect_tls_close};

/* The socket is connected: make it a connection. */
static void connect_established(loom_connect_t *cr)
{
    loom_conn_t *c;
    char err[256];
    int fd = cr->fd;

    cr->fd = -1;
    if (cr->ev) {
        event_free(cr->ev);
        cr->ev = NULL;
    }
    if (cr->ep.kind == LOOM_EP_TLS) {
        SSL *ssl = loom_tls_client_ssl(cr->srv, cr->ep.host, cr->ep.verify,
                                       cr->ep.ca, err, sizeof(err));

        if (ssl == NULL) {
            close(fd);
            cr->last_err = "TLS setup failed";
            connect_finish(cr, NULL, cr->last_err);
            return;
        }
        c = loom_conn_new(cr->srv, NULL, &connect_tls_handler, fd,
                          &loom_transport_fd, 0);
        c->flags |= LOOM_CF_OUTBOUND;
        c->data = cr;
        c->ssl = ssl;
        SSL_set_fd(ssl, fd);
        SSL_set_app_data(ssl, c);
        cr->conn = c;
        loom_conn_start(c);
        return;
    }
    c = loom_conn_new(cr->srv, NULL, cr->handler, fd, &loom_transport_fd, 0);
    c->flags |= LOOM_CF_OUTBOUND | LOOM_CF_OPENED;
    c->data = cr->arg;
    loom_conn_enter(c); /* the callback may close it; free only after */
    connect_finish(cr, c, NULL);
    loom_conn_leave(c);
}

static void connect_on_writable(evutil_socket_t fd, short what, void *arg)
{
    loom_connect_t *cr = arg;
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    (void)what;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr == 0) {
        connect_established(cr);
        return;
    }
    cr->last_err = strerror(soerr);
    close(cr->fd);
    cr->fd = -1;
    event_free(cr->ev);
    cr->ev = NULL;
    connect_try_next(cr);
}

static void connect_try_next(loom_connect_t *cr)
{
    while (cr->next < cr->n_addrs) {
        struct sockaddr_storage *ss = &cr->addrs[cr->next];
        socklen_t sl = cr->addrlens[cr->next];
        int fd;

        cr->next++;
        fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0) {
            cr->last_err = strerror(errno);
            continue;
        }
        if (ss->ss_family != AF_UNIX) { /* requests go out in pieces */
            int one = 1;

            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (connect(fd, (struct sockaddr *)ss, sl) == 0 ||
            errno == EINPROGRESS) {
            cr->fd = fd;
            cr->ev =
                event_new(cr->srv->base, fd, EV_WRITE, connect_on_writable, cr);
            event_add(cr->ev, NULL);
            return;
        }
        cr->last_err = strerror(errno);
        close(fd);
    }
    connect_finish(cr, NULL, cr->last_err ? cr->last_err : "no address");
}

static void connect_on_resolved(struct ares_addrinfo_node *nodes,
                                const char *err, void *arg)
{
    loom_connect_t *cr = arg;
    struct ares_addrinfo_node *n;
    size_t count = 0;

    cr->resolving = 0;
    if (cr->cancelled) {
        connect_free(cr);
        return;
    }
    if (nodes == NULL) {
        /* Never call back from inside c-ares with a freed request. */
        cr->last_err = err ? err : "cannot resolve";
        connect_finish(cr, NULL, cr->last_err);
        return;
    }
    for (n = nodes; n; n = n->ai_next)
        count++;
    cr->addrs = loom_calloc(count, sizeof(*cr->addrs));
    cr->addrlens = loom_calloc(count, sizeof(*cr->addrlens));
    for (n = nodes; n; n = n->ai_next) {
        if ((size_t)n->ai_addrlen > sizeof(*cr->addrs))
            continue;
        memcpy(&cr->addrs[cr->n_addrs], n->ai_addr, (size_t)n->ai_addrlen);
        cr->addrlens[cr->n_addrs++] = (socklen_t)n->ai_addrlen;
    }
    connect_try_next(cr);
}

/* Abort the connection under TLS handshake, if any, silently. */
static void connect_drop_conn(loom_connect_t *cr)
{
    loom_conn_t *c = cr->conn;

    if (c) {
        cr->conn = NULL;
        c->data = NULL;
        loom_conn_abort(c);
    }
}

static void connect_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    loom_connect_t *cr = arg;

    (void)fd;
    (void)what;
    if (cr->resolving) {
        /* The resolver still holds CR: let its callback free it. */
        loom_connect_cb cb = cr->cb;
        void *cbarg = cr->arg;

        cr->cancelled = 1;
        cb(NULL, "timed out", cbarg);
        return;
    }
    connect_drop_conn(cr);
    connect_finish(cr, NULL, "timed out");
}

/* A literal address: no lookup (c-ares 1.18 may ask the DNS server
 * about "127.0.0.1" before answering it).  Returns 1 when CR->addrs is
 * set. */
static int connect_literal(loom_connect_t *cr)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, cr->ep.host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)cr->ep.port);
        len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, cr->ep.host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)cr->ep.port);
        len = sizeof(*sin6);
    } else {
        return 0;
    }
    cr->addrs = loom_calloc(1, sizeof(*cr->addrs));
    cr->addrlens = loom_calloc(1, sizeof(*cr->addrlens));
    cr->addrs[0] = ss;
    cr->addrlens[0] = len;
    cr->n_addrs = 1;
    return 1;
}

static void connect_start(evutil_socket_t fd, short what, void *arg)
{
    loom_connect_t *cr = arg;

    (void)fd;
    (void)what;
    event_free(cr->ev);
    cr->ev = NULL;
    if (cr->ep.kind == LOOM_EP_UNIX || connect_literal(cr)) {
        connect_try_next(cr);
        return;
    }
    cr->resolving = 1;
    loom_resolve(cr->srv->resolver, cr->ep.host, cr->ep.port,
                 connect_on_resolved, cr);
}

loom_connect_t *loom_connect(loom_server_t *srv, const char *endpoint,
                             const loom_handler_t *handler, loom_connect_cb cb,
                             void *arg, char *errbuf, size_t errlen)
{
    loom_connect_t *cr = loom_calloc(1, sizeof(*cr));
    struct timeval tv;

    if (loom_endpoint_parse_connect(endpoint, &cr->ep, errbuf, errlen) != 0) {
        free(cr);
        return NULL;
    }
    cr->srv = srv;
    cr->handler = handler;
    cr->cb = cb;
    cr->arg = arg;
    cr->fd = -1;
    cr->timer = evtimer_new(srv->base, connect_on_timeout, cr);
    tv.tv_sec = cr->ep.timeout;
    tv.tv_usec = 0;
    evtimer_add(cr->timer, &tv);
    if (cr->ep.kind == LOOM_EP_UNIX) {
        struct sockaddr_un *sun;

        cr->addrs = loom_calloc(1, sizeof(*cr->addrs));
        cr->addrlens = loom_calloc(1, sizeof(*cr->addrlens));
        sun = (struct sockaddr_un *)&cr->addrs[0];
        sun->sun_family = AF_UNIX;
        if (strlen(cr->ep.path) >= sizeof(sun->sun_path)) {
            snprintf(errbuf, errlen, "endpoint '%s': path too long", endpoint);
            event_free(cr->timer);
            free(cr->addrs);
            free(cr->addrlens);
            free(cr);
            return NULL;
        }
        memcpy(sun->sun_path, cr->ep.path, strlen(cr->ep.path) + 1);
        cr->addrlens[0] = sizeof(*sun);
        cr->n_addrs = 1;
    }
    /* Start from the reactor, so that CB never runs before we return. */
    cr->ev = evtimer_new(srv->base, connect_start, cr);
    tv.tv_sec = 0;
    evtimer_add(cr->ev, &tv);
    return cr;
}

void loom_connect_cancel(loom_connect_t *cr)
{
    if (cr == NULL)
        return;
    if (cr->resolving) {
        cr->cancelled = 1;
        if (cr->timer) {
            event_free(cr->timer);
            cr->timer = NULL;
        }
        return;
    }
    connect_drop_conn(cr);
    connect_free(cr);
}

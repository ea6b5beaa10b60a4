/*
 * resolver.c - c-ares integrated into the libevent reactor.
 */
#include "resolver.h"
#include "loom_module.h"

#include <arpa/inet.h>
#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct resolver_sock_s {
    ares_socket_t fd;
    struct event *ev;
    struct resolver_sock_s *next;
} resolver_sock_t;

struct loom_resolver_s {
    struct event_base *base;
    ares_channel channel;
    struct event *timer;
    resolver_sock_t *socks;
};

typedef struct {
    loom_resolver_t *r;
    loom_resolve_cb cb;
    loom_send_cb send_cb;
    void *arg;
} resolver_req_t;

static void resolver_rearm(loom_resolver_t *r)
{
    struct timeval tv, *tvp;

    tvp = ares_timeout(r->channel, NULL, &tv);
    if (tvp)
        event_add(r->timer, tvp);
    else
        event_del(r->timer);
}

static void resolver_on_sock(evutil_socket_t fd, short what, void *arg)
{
    loom_resolver_t *r = arg;

    ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    resolver_rearm(r);
}

static void resolver_on_timer(evutil_socket_t fd, short what, void *arg)
{
    loom_resolver_t *r = arg;

    (void)fd;
    (void)what;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    resolver_rearm(r);
}

/* c-ares tells which sockets to watch for what. */
static void resolver_sock_state(void *data, ares_socket_t fd, int readable,
                                int writable)
{
    loom_resolver_t *r = data;
    resolver_sock_t **pp, *s;

    for (pp = &r->socks; (s = *pp) != NULL; pp = &s->next) {
        if (s->fd == fd)
            break;
    }
    if (s) {
        event_free(s->ev);
        s->ev = NULL;
    }
    if (!readable && !writable) {
        if (s) {
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (s == NULL) {
        s = loom_calloc(1, sizeof(*s));
        s->fd = fd;
        s->next = r->socks;
        r->socks = s;
    }
    s->ev = event_new(r->base, fd,
                      (short)((readable ? EV_READ : 0) |
                              (writable ? EV_WRITE : 0) | EV_PERSIST),
                      resolver_on_sock, r);
    event_add(s->ev, NULL);
}

static loom_resolver_t *resolver_init(struct event_base *base, int flags,
                                      unsigned timeout_ms, unsigned tries,
                                      char *err, size_t errlen)
{
    loom_resolver_t *r = loom_calloc(1, sizeof(*r));
    struct ares_options opts;
    int rc;

    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(r);
        return NULL;
    }
    memset(&opts, 0, sizeof(opts));
    opts.sock_state_cb = resolver_sock_state;
    opts.sock_state_cb_data = r;
    opts.timeout = (int)timeout_ms;
    opts.tries = (int)tries;
    opts.flags = flags;
    rc = ares_init_options(&r->channel, &opts,
                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
                               ARES_OPT_TRIES | (flags ? ARES_OPT_FLAGS : 0));
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        free(r);
        ares_library_cleanup();
        return NULL;
    }
    r->base = base;
    r->timer = evtimer_new(base, resolver_on_timer, r);
    return r;
}

loom_resolver_t *loom_resolver_new(struct event_base *base, char *err,
                                   size_t errlen)
{
    return resolver_init(base, 0, 3000, 2, err, errlen);
}

loom_resolver_t *loom_resolver_upstream(loom_server_t *srv, const char *servers,
                                        unsigned timeout_ms, unsigned tries,
                                        char *err, size_t errlen)
{
    /* Raw answers whatever their RCODE; no search list, no rotation. */
    loom_resolver_t *r = resolver_init(
        srv->base,
        ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES,
        timeout_ms, tries ? tries : 1, err, errlen);
    int rc;

    if (r == NULL)
        return NULL;
    rc = ares_set_servers_ports_csv(r->channel, servers);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "%s: %s", servers, ares_strerror(rc));
        loom_resolver_free(r);
        return NULL;
    }
    return r;
}

void loom_resolver_free(loom_resolver_t *r)
{
    if (r == NULL)
        return;
    /* Pending requests get ARES_EDESTRUCTION through their callbacks. */
    ares_destroy(r->channel);
    while (r->socks) {
        resolver_sock_t *s = r->socks;

        r->socks = s->next;
        if (s->ev)
            event_free(s->ev);
        free(s);
    }
    event_free(r->timer);
    free(r);
    ares_library_cleanup();
}

static void resolver_done(void *arg, int status, int timeouts,
                          struct ares_addrinfo *res)
{
    resolver_req_t *req = arg;

    (void)timeouts;
    if (status == ARES_SUCCESS && res && res->nodes)
        req->cb(res->nodes, NULL, req->arg);
    else
        req->cb(NULL,
                status == ARES_SUCCESS ? "no address" : ares_strerror(status),
                req->arg);
    if (res)
        ares_freeaddrinfo(res);
    free(req);
}

void loom_resolve(loom_resolver_t *r, const char *host, int port,
                  loom_resolve_cb cb, void *arg)
{
    resolver_req_t *req = loom_calloc(1, sizeof(*req));
    struct ares_addrinfo_hints hints;
    char service[16];

    req->r = r;
    req->cb = cb;
    req->arg = arg;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%d", port);
    ares_getaddrinfo(r->channel, host, service, &hints, resolver_done, req);
    resolver_rearm(r);
}

static void resolver_sent(void *arg, int status, int timeouts,
                          unsigned char *abuf, int alen)
{
    resolver_req_t *req = arg;
    loom_send_cb cb = req->send_cb;

    (void)timeouts;
    if (status == ARES_SUCCESS && abuf && alen > 0)
        cb(abuf, (size_t)alen, NULL, req->arg);
    else
        cb(NULL, 0,
           status == ARES_ETIMEOUT  ? "timeout"
           : status == ARES_SUCCESS ? "empty answer"
                                    : ares_strerror(status),
           req->arg);
    free(req);
}

void loom_resolver_send(loom_resolver_t *r, const unsigned char *query,
                        size_t len, loom_send_cb cb, void *arg)
{
    resolver_req_t *req = loom_calloc(1, sizeof(*req));

    req->r = r;
    req->send_cb = cb;
    req->arg = arg;
    ares_send(r->channel, query, (int)len, resolver_sent, req);
    resolver_rearm(r);
}

/* ---- loom_resolve_name: addresses with their TTLs, for modules ---------- */

typedef struct {
    loom_server_t *srv;
    char *host;
    int port;
    loom_addrs_cb cb;
    void *arg;
    struct event *ev; /* starts the query from the reactor */
} resolver_name_req_t;

static void resolver_name_free(resolver_name_req_t *q)
{
    event_free(q->ev);
    free(q->host);
    free(q);
}

/* A literal address needs no lookup (c-ares may send one to the DNS
 * server all the same); answers it and returns 1, else 0. */
static int resolver_name_literal(resolver_name_req_t *q)
{
    loom_addr_t a;
    struct sockaddr_in *sin = (struct sockaddr_in *)&a.addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.addr;

    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, q->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)q->port);
        a.len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, q->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)q->port);
        a.len = sizeof(*sin6);
    } else {
        return 0;
    }
    q->cb(&a, 1, NULL, q->arg);
    resolver_name_free(q);
    return 1;
}

static void resolver_name_done(void *arg, int status, int timeouts,
                               struct ares_addrinfo *res)
{
    resolver_name_req_t *q = arg;
    struct ares_addrinfo_node *n;
    loom_addr_t *addrs = NULL;
    size_t count = 0, i = 0;

    (void)timeouts;
    if (status == ARES_SUCCESS && res) {
        for (n = res->nodes; n; n = n->ai_next)
            count++;
        addrs = loom_calloc(count ? count : 1, sizeof(*addrs));
        for (n = res->nodes; n; n = n->ai_next) {
            if (n->ai_addr == NULL || n->ai_addrlen <= 0 ||
                (size_t)n->ai_addrlen > sizeof(addrs[i].addr))
                continue;
            memcpy(&addrs[i].addr, n->ai_addr, (size_t)n->ai_addrlen);
            addrs[i].len = (socklen_t)n->ai_addrlen;
            addrs[i].ttl = n->ai_ttl > 0 ? (unsigned)n->ai_ttl : 0;
            i++;
        }
    }
    if (i > 0)
        q->cb(addrs, i, NULL, q->arg);
    else
        q->cb(NULL, 0,
              status == ARES_SUCCESS ? "no address" : ares_strerror(status),
              q->arg);
    free(addrs);
    if (res)
        ares_freeaddrinfo(res);
    resolver_name_free(q);
}

static void resolver_name_start(evutil_socket_t fd, short what, void *arg)
{
    resolver_name_req_t *q = arg;
    loom_resolver_t *r = q->srv->resolver;
    struct ares_addrinfo_hints hints;
    char service[16];

    (void)fd;
    (void)what;
    if (resolver_name_literal(q))
        return;
    if (r == NULL) {
        q->cb(NULL, 0, "resolver unavailable", q->arg);
        resolver_name_free(q);
        return;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%d", q->port);
    /* may answer at once (literals, hosts file): we are in the reactor */
    ares_getaddrinfo(r->channel, q->host, service, &hints, resolver_name_done,
                     q);
    resolver_rearm(r);
}

void loom_resolve_name(loom_server_t *srv, const char *host, int port,
                       loom_addrs_cb cb, void *arg)
{
    resolver_name_req_t *q = loom_calloc(1, sizeof(*q));
    struct timeval tv = {0, 0};

    q->srv = srv;
    q->host = loom_strdup(host);
    q->port = port;
    q->cb = cb;
    q->arg = arg;
    q->ev = evtimer_new(srv->base, resolver_name_start, q);
    evtimer_add(q->ev, &tv);
}

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
#include <sys/un.h>

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
    int flags;
    unsigned timeout_ms, tries;
    /* for record lookups: this channel, or one like it that hands SERVFAIL
     * and REFUSED answers back (made on first use) */
    loom_resolver_t *lookup_twin;
};

typedef struct {
    loom_resolver_t *r;
    loom_send_cb send_cb;
    void *arg;
} resolver_send_t;

void loom_resolver_rearm(loom_resolver_t *r)
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
    loom_resolver_rearm(r);
}

static void resolver_on_timer(evutil_socket_t fd, short what, void *arg)
{
    loom_resolver_t *r = arg;

    (void)fd;
    (void)what;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    loom_resolver_rearm(r);
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
    r->flags = flags;
    r->timeout_ms = timeout_ms;
    r->tries = tries;
    return r;
}

loom_resolver_t *loom_resolver_new(struct event_base *base, char *err,
                                   size_t errlen)
{
    return resolver_init(base, 0, 3000, 2, err, errlen);
}

/* A channel with FLAGS asking SERVERS (NULL: the system configuration). */
static loom_resolver_t *resolver_with_servers(loom_server_t *srv, int flags,
                                              const char *servers,
                                              unsigned timeout_ms,
                                              unsigned tries, char *err,
                                              size_t errlen)
{
    loom_resolver_t *r =
        resolver_init(srv->base, flags, timeout_ms, tries, err, errlen);
    int rc;

    if (r == NULL || servers == NULL)
        return r;
    rc = ares_set_servers_ports_csv(r->channel, servers);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "%s: %s", servers, ares_strerror(rc));
        loom_resolver_free(r);
        return NULL;
    }
    return r;
}

loom_resolver_t *loom_resolver_upstream(loom_server_t *srv, const char *servers,
                                        unsigned timeout_ms, unsigned tries,
                                        char *err, size_t errlen)
{
    /* Raw answers whatever their RCODE; no search list, no rotation. */
    return resolver_with_servers(
        srv, ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES,
        servers, timeout_ms, tries ? tries : 1, err, errlen);
}

loom_resolver_t *loom_resolver_new_lookup(loom_server_t *srv,
                                          const char *servers,
                                          unsigned timeout_ms, unsigned tries,
                                          char *err, size_t errlen)
{
    return resolver_with_servers(srv, ARES_FLAG_NOCHECKRESP, servers,
                                 timeout_ms ? timeout_ms : 3000,
                                 tries ? tries : 2, err, errlen);
}

/* c-ares 1.18 tries the next server on a SERVFAIL or REFUSED answer and,
 * when none is left, reports "connection refused": a record lookup could
 * not tell a server failure from an unreachable server.  With
 * ARES_FLAG_NOCHECKRESP the answer comes back with its RCODE (and is not
 * retried elsewhere; timeouts still are). */
ares_channel loom_resolver_lookup_channel(loom_resolver_t *r)
{
    struct ares_addr_port_node *servers = NULL;
    char err[256];

    if (r->flags & ARES_FLAG_NOCHECKRESP)
        return r->channel;
    if (r->lookup_twin == NULL) {
        r->lookup_twin =
            resolver_init(r->base, r->flags | ARES_FLAG_NOCHECKRESP,
                          r->timeout_ms, r->tries, err, sizeof(err));
        if (r->lookup_twin == NULL)
            return r->channel;
        if (ares_get_servers_ports(r->channel, &servers) == ARES_SUCCESS) {
            ares_set_servers_ports(r->lookup_twin->channel, servers);
            ares_free_data(servers);
        }
    }
    return r->lookup_twin->channel;
}

void loom_resolver_lookup_rearm(loom_resolver_t *r)
{
    loom_resolver_rearm(r->lookup_twin ? r->lookup_twin : r);
}

void loom_resolver_free(loom_resolver_t *r)
{
    if (r == NULL)
        return;
    loom_resolver_free(r->lookup_twin);
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

static void resolver_sent(void *arg, int status, int timeouts,
                          unsigned char *abuf, int alen)
{
    resolver_send_t *req = arg;
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
    resolver_send_t *req = loom_calloc(1, sizeof(*req));

    req->r = r;
    req->send_cb = cb;
    req->arg = arg;
    ares_send(r->channel, query, (int)len, resolver_sent, req);
    loom_resolver_rearm(r);
}

/* ---- addresses of a name (connect, loom_resolve_name) -------------------- */

struct loom_resolve_req_s {
    loom_server_t *srv;
    loom_resolve_cb cb; /* NULL once cancelled */
    void *arg;
    int starting; /* inside ares_getaddrinfo: answers wait for the kick */
    int in_ares;  /* c-ares holds it */
    struct event *kick;
    /* an answer to give from the kick */
    loom_addr_t *addrs;
    size_t n;
    loom_dns_status_t status;
    const char *err;
};

static void resolve_req_free(loom_resolve_req_t *q)
{
    if (q->kick)
        event_free(q->kick);
    free(q->addrs);
    free(q);
}

static void resolve_deliver(loom_resolve_req_t *q)
{
    if (q->cb)
        q->cb(q->addrs, q->n, q->status, q->err, q->arg);
    resolve_req_free(q);
}

static void resolve_on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resolve_deliver(arg);
}

/* Keep the answer and give it from the next reactor turn. */
static void resolve_later(loom_resolve_req_t *q)
{
    struct timeval tv = {0, 0};

    q->kick = evtimer_new(q->srv->base, resolve_on_kick, q);
    evtimer_add(q->kick, &tv);
}

/* c-ares status of a failed lookup as a DNS status and a short text. */
loom_dns_status_t loom_resolver_status(int ares_status, const char **err)
{
    static const struct {
        int ares;
        loom_dns_status_t st;
        const char *text;
    } map[] = {
        {ARES_ENOTFOUND, LOOM_DNS_NXDOMAIN, "no such domain"},
        {ARES_ENODATA, LOOM_DNS_NODATA, "no record of that type"},
        {ARES_EBADNAME, LOOM_DNS_BADNAME, "bad domain name"},
        {ARES_ETIMEOUT, LOOM_DNS_TIMEOUT, "timed out"},
        {ARES_ESERVFAIL, LOOM_DNS_SERVFAIL, "server failure"},
        {ARES_EREFUSED, LOOM_DNS_REFUSED, "refused by the server"},
        {ARES_EBADRESP, LOOM_DNS_BADREPLY, "malformed answer"},
        {ARES_EFORMERR, LOOM_DNS_BADREPLY, "the server calls the query bad"},
        {ARES_ECONNREFUSED, LOOM_DNS_ERROR, "cannot reach a name server"},
        {ARES_EDESTRUCTION, LOOM_DNS_ERROR, "resolver closed"},
        {ARES_ECANCELLED, LOOM_DNS_ERROR, "resolver closed"},
    };
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(map); i++) {
        if (map[i].ares == ares_status) {
            *err = map[i].text;
            return map[i].st;
        }
    }
    *err = ares_strerror(ares_status);
    return LOOM_DNS_ERROR;
}

static void resolve_done(void *arg, int status, int timeouts,
                         struct ares_addrinfo *res)
{
    loom_resolve_req_t *q = arg;
    struct ares_addrinfo_node *n;
    size_t count = 0;

    (void)timeouts;
    q->in_ares = 0;
    if (status == ARES_SUCCESS && res) {
        for (n = res->nodes; n; n = n->ai_next)
            count++;
        q->addrs = loom_calloc(count ? count : 1, sizeof(*q->addrs));
        for (n = res->nodes; n; n = n->ai_next) {
            loom_addr_t *a = &q->addrs[q->n];

            if (n->ai_addr == NULL || n->ai_addrlen <= 0 ||
                (size_t)n->ai_addrlen > sizeof(a->addr))
                continue;
            memcpy(&a->addr, n->ai_addr, (size_t)n->ai_addrlen);
            a->len = (socklen_t)n->ai_addrlen;
            a->ttl = n->ai_ttl > 0 ? (unsigned)n->ai_ttl : 0;
            q->n++;
        }
    }
    if (q->n == 0) {
        if (status == ARES_SUCCESS) {
            q->status = LOOM_DNS_NODATA;
            q->err = "no address";
        } else {
            q->status = loom_resolver_status(status, &q->err);
        }
    }
    if (res)
        ares_freeaddrinfo(res);
    if (q->starting)
        resolve_later(q);
    else
        resolve_deliver(q);
}

/* An IP literal ("::1", "[::1]", "127.0.0.1") into A; 1 if it is one. */
int loom_resolver_literal(const char *host, int port, loom_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    return loom_ip_sockaddr(host, port, &a->addr, &a->len) == 0;
}

int loom_addr_parse(const char *host, int port, loom_addr_t *a)
{
    if (host == NULL || port < 0 || port > 65535)
        return LOOM_ERROR;
    return loom_resolver_literal(host, port, a) ? LOOM_OK : LOOM_ERROR;
}

const char *loom_addr_format(const loom_addr_t *a, char *buf, size_t len)
{
    const struct sockaddr_storage *ss = &a->addr;
    char ip[INET6_ADDRSTRLEN];

    if (len == 0)
        return buf;
    if (ss->ss_family == AF_INET &&
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip,
                  sizeof(ip)))
        snprintf(buf, len, "%s:%u", ip,
                 ntohs(((const struct sockaddr_in *)ss)->sin_port));
    else if (ss->ss_family == AF_INET6 &&
             inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
                       ip, sizeof(ip)))
        snprintf(buf, len, "[%s]:%u", ip,
                 ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
    else if (ss->ss_family == AF_UNIX)
        snprintf(buf, len, "unix:%s",
                 ((const struct sockaddr_un *)ss)->sun_path);
    else
        snprintf(buf, len, "?");
    return buf;
}

/* A host name c-ares may be given: 1-253 printable bytes without spaces
 * or backslashes (escapes are not for names from the network), labels of
 * 1-63. */
int loom_resolver_name_ok(const char *name)
{
    size_t len = strlen(name), label = 0, i;

    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (ch <= 0x20 || ch >= 0x7f || ch == '\\')
            return 0;
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (++label > 63) {
            return 0;
        }
    }
    return 1;
}

loom_resolve_req_t *loom_resolve(loom_server_t *srv, loom_resolver_t *r,
                                 const char *host, int port, int family,
                                 loom_resolve_cb cb, void *arg)
{
    loom_resolve_req_t *q = loom_calloc(1, sizeof(*q));
    struct ares_addrinfo_hints hints;
    char service[16];
    loom_addr_t lit;

    q->srv = srv;
    q->cb = cb;
    q->arg = arg;
    if (loom_resolver_literal(host, port, &lit)) {
        /* no lookup: c-ares 1.18 may ask the DNS server about
         * "127.0.0.1" before answering it */
        if (family == AF_UNSPEC || family == lit.addr.ss_family) {
            q->addrs = loom_malloc(sizeof(lit));
            q->addrs[0] = lit;
            q->n = 1;
        } else {
            q->status = LOOM_DNS_NODATA;
            q->err = "no address of that family";
        }
        resolve_later(q);
        return q;
    }
    if (!loom_resolver_name_ok(host) || port < 0 || port > 65535) {
        q->status = LOOM_DNS_BADNAME;
        q->err = "invalid host name";
        resolve_later(q);
        return q;
    }
    if (r == NULL) {
        q->status = LOOM_DNS_ERROR;
        q->err = "resolver unavailable";
        resolve_later(q);
        return q;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%d", port);
    q->starting = 1;
    q->in_ares = 1;
    ares_getaddrinfo(r->channel, host, service, &hints, resolve_done, q);
    q->starting = 0; /* an answer given inside waits for its kick */
    loom_resolver_rearm(r);
    return q;
}

void loom_resolve_cancel(loom_resolve_req_t *q)
{
    if (q == NULL)
        return;
    if (q->in_ares) {
        q->cb = NULL; /* c-ares frees it when the lookup ends */
        return;
    }
    resolve_req_free(q); /* the answer waited for its kick */
}

/* ---- loom_resolve_name: addresses with their TTLs, for modules ---------- */

typedef struct {
    loom_addrs_cb cb;
    void *arg;
} resolver_name_req_t;

static void resolver_name_done(const loom_addr_t *addrs, size_t n,
                               loom_dns_status_t st, const char *err, void *arg)
{
    resolver_name_req_t *q = arg;

    (void)st;
    q->cb(addrs, n, n ? NULL : err, q->arg);
    free(q);
}

void loom_resolve_name(loom_server_t *srv, const char *host, int port,
                       loom_addrs_cb cb, void *arg)
{
    resolver_name_req_t *q = loom_calloc(1, sizeof(*q));

    q->cb = cb;
    q->arg = arg;
    loom_resolve(srv, srv->resolver, host, port, AF_UNSPEC, resolver_name_done,
                 q);
}

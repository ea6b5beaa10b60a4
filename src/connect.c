/*
 * connect.c - outbound connections (loom_client.h): a list of addresses or
 * a name resolved with c-ares, tried in order with non-blocking connects,
 * a timeout per address and one for everything, then TLS as a client;
 * connect endpoint strings parsed into the same thing; and STARTTLS as a
 * client on an established connection.
 *
 * Every request reports once, from a reactor callback: its work starts
 * from a zero timer (the "kick"), which also reports failures found while
 * the call was still running.
 */
#include "core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "resolver.h"
#include "sockpath.h"
#include "tls.h"

#define CONNECT_DEFAULT_TIMEOUT_MS 10000
#define STARTTLS_DEFAULT_TIMEOUT_MS 30000

struct loom_connect_s {
    loom_server_t *srv;
    const loom_handler_t *handler;
    loom_connect_done_cb cb;
    void *arg;
    /* the options, their strings owned */
    unsigned attempt_ms;
    int tls, family;
    loom_tls_client_t tlso;
    loom_resolver_t *resolver;
    char *host;      /* loom_connect_host: the name to resolve */
    char *unix_path; /* loom_connect_endpoint's unix: path, any length */
    int port;
    /* the addresses and the one in use */
    loom_addr_t *addrs;
    size_t n, next, tried;
    loom_addr_t cur;
    int have_cur;
    int fd;
    struct event *kick;     /* starts the work or reports an early failure */
    struct event *io;       /* a TCP connect in progress */
    struct event *deadline; /* the whole attempt */
    struct event *attempt;  /* the current address */
    loom_resolve_req_t *dns;
    loom_conn_t *conn; /* during the TLS handshake */
    /* the failure so far */
    loom_connect_status_t status;
    int dns_status;
    char err[384];
};

static void connect_try_next(loom_connect_t *cr);

/* ---- the request's life ---------------------------------------------------
 */

static void connect_free(loom_connect_t *cr)
{
    if (cr->kick)
        event_free(cr->kick);
    if (cr->io)
        event_free(cr->io);
    if (cr->deadline)
        event_free(cr->deadline);
    if (cr->attempt)
        event_free(cr->attempt);
    if (cr->fd >= 0)
        close(cr->fd);
    free((char *)cr->tlso.ca_file);
    free((char *)cr->tlso.name);
    free((char *)cr->tlso.alpn);
    free(cr->host);
    free(cr->unix_path);
    free(cr->addrs);
    free(cr);
}

/* Note a failure (the last one is what gets reported). */
static void connect_fail_note(loom_connect_t *cr, loom_connect_status_t st,
                              const char *err)
{
    cr->status = st;
    snprintf(cr->err, sizeof(cr->err), "%s", err);
}

/* Report and free the request.  C is the connection on success. */
static void connect_finish(loom_connect_t *cr, loom_conn_t *c)
{
    loom_connect_done_cb cb = cr->cb;
    void *arg = cr->arg;
    loom_connect_result_t res;
    loom_addr_t cur = cr->cur;
    char err[sizeof(cr->err)];

    memset(&res, 0, sizeof(res));
    res.status = c ? LOOM_CONNECT_OK : cr->status;
    if (c == NULL) {
        memcpy(err, cr->err, sizeof(err));
        res.err = err[0] ? err : "connect failed";
        if (res.status == LOOM_CONNECT_OK)
            res.status = LOOM_CONNECT_ENET;
    }
    res.addr = cr->have_cur ? &cur : NULL;
    res.tried = cr->tried;
    res.dns_status = cr->dns_status;
    cr->conn = NULL;
    connect_free(cr);
    cb(c, &res, arg);
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

static void connect_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    loom_connect_t *cr = arg;

    (void)fd;
    (void)what;
    if (cr->dns) {
        loom_resolve_cancel(cr->dns);
        cr->dns = NULL;
    }
    connect_drop_conn(cr);
    connect_fail_note(cr, LOOM_CONNECT_ETIMEOUT, "timed out");
    connect_finish(cr, NULL);
}

/* ---- TLS ---------------------------------------------------------------- */

/* During the TLS handshake the connection's handler is this one: its open
 * runs when the handshake completes, and hands over to the caller's. */
static int connect_tls_open(loom_conn_t *c)
{
    loom_connect_t *cr = c->data;

    if (cr == NULL) /* dropped (cancel, timeout): its abort is pending */
        return LOOM_ERROR;
    c->h = cr->handler;
    c->data = cr->arg;
    connect_finish(cr, c);
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
    char buf[256];
    const char *why;
    int verify_failed;

    if (cr == NULL || cr->conn != c)
        return;
    cr->conn = NULL;
    why = loom_tls_client_error(c->ssl, &verify_failed, buf, sizeof(buf));
    connect_fail_note(cr,
                      verify_failed ? LOOM_CONNECT_EVERIFY : LOOM_CONNECT_ETLS,
                      why ? why : "TLS handshake failed: connection closed");
    connect_finish(cr, NULL);
}

static const loom_handler_t connect_tls_handler = {
    connect_tls_open, connect_tls_data, NULL, connect_tls_close};

/* The name to verify: the one given, the host asked for, or the address. */
static const char *connect_tls_name(loom_connect_t *cr, char *buf, size_t len)
{
    const struct sockaddr_storage *ss = &cr->cur.addr;

    if (cr->tlso.name)
        return cr->tlso.name;
    if (cr->host)
        return cr->host;
    if (ss->ss_family == AF_INET &&
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf,
                  (socklen_t)len))
        return buf;
    if (ss->ss_family == AF_INET6 &&
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
                  (socklen_t)len))
        return buf;
    return NULL;
}

/* ---- connecting --------------------------------------------------------- */

/* The socket is connected: make it a connection. */
static void connect_established(loom_connect_t *cr)
{
    loom_conn_t *c;
    int fd = cr->fd;

    cr->fd = -1;
    if (cr->attempt)
        evtimer_del(cr->attempt);
    if (cr->tls) {
        char name[INET6_ADDRSTRLEN], err[256];
        int einval;
        SSL *ssl = loom_tls_client_new(cr->srv, &cr->tlso,
                                       connect_tls_name(cr, name, sizeof(name)),
                                       &einval, err, sizeof(err));

        if (ssl == NULL) {
            close(fd);
            connect_fail_note(
                cr, einval ? LOOM_CONNECT_EINVAL : LOOM_CONNECT_ETLS, err);
            connect_finish(cr, NULL);
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
        loom_conn_start(c); /* may finish CR: not to be touched after */
        return;
    }
    c = loom_conn_new(cr->srv, NULL, cr->handler, fd, &loom_transport_fd, 0);
    c->flags |= LOOM_CF_OUTBOUND | LOOM_CF_OPENED;
    c->data = cr->arg;
    loom_conn_enter(c); /* the callback may close it; free only after */
    connect_finish(cr, c);
    loom_conn_leave(c);
}

/* The connect to the current address failed with errno E. */
static void connect_note_errno(loom_connect_t *cr, int e)
{
    connect_fail_note(
        cr, e == ECONNREFUSED ? LOOM_CONNECT_EREFUSED : LOOM_CONNECT_ENET,
        e == ECONNREFUSED ? "connection refused" : strerror(e));
}

/* Give up the current address and go on with the next. */
static void connect_abandon_current(loom_connect_t *cr)
{
    if (cr->io) {
        event_free(cr->io);
        cr->io = NULL;
    }
    if (cr->attempt)
        evtimer_del(cr->attempt);
    if (cr->fd >= 0) {
        close(cr->fd);
        cr->fd = -1;
    }
    connect_try_next(cr);
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
        event_free(cr->io);
        cr->io = NULL;
        connect_established(cr);
        return;
    }
    connect_note_errno(cr, soerr);
    connect_abandon_current(cr);
}

static void connect_on_attempt_timeout(evutil_socket_t fd, short what,
                                       void *arg)
{
    loom_connect_t *cr = arg;

    (void)fd;
    (void)what;
    connect_fail_note(cr, LOOM_CONNECT_ETIMEOUT, "timed out");
    connect_abandon_current(cr);
}

/* connect() FD to A, or for a unix: endpoint to its path, which may be
 * longer than sun_path (sockpath.h).  connect's result and errno. */
static int connect_one(loom_connect_t *cr, int fd, const loom_addr_t *a)
{
    loom_sockaddr_un_t sa;
    int rc;

    if (cr->unix_path == NULL)
        return connect(fd, (const struct sockaddr *)&a->addr, a->len);
    if (loom_sockaddr_un(cr->unix_path, &sa) != 0)
        return -1;
    rc = connect(fd, (const struct sockaddr *)&sa.sun, sa.len);
    loom_sockaddr_un_done(&sa);
    return rc;
}

static void connect_try_next(loom_connect_t *cr)
{
    while (cr->next < cr->n) {
        const loom_addr_t *a = &cr->addrs[cr->next++];
        int fd, family = a->addr.ss_family;

        cr->cur = *a;
        cr->have_cur = 1;
        cr->tried++;
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            connect_note_errno(cr, errno);
            continue;
        }
        if (family != AF_UNIX) { /* requests go out in pieces */
            int one = 1;

            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (connect_one(cr, fd, a) == 0 || errno == EINPROGRESS) {
            cr->fd = fd;
            cr->io =
                event_new(cr->srv->base, fd, EV_WRITE, connect_on_writable, cr);
            event_add(cr->io, NULL);
            if (cr->attempt_ms) {
                struct timeval tv = {(time_t)(cr->attempt_ms / 1000),
                                     (suseconds_t)(cr->attempt_ms % 1000) *
                                         1000};

                if (cr->attempt == NULL)
                    cr->attempt = evtimer_new(cr->srv->base,
                                              connect_on_attempt_timeout, cr);
                evtimer_add(cr->attempt, &tv);
            }
            return;
        }
        connect_note_errno(cr, errno);
        close(fd);
    }
    if (cr->status == LOOM_CONNECT_OK)
        connect_fail_note(cr, LOOM_CONNECT_EINVAL, "no address");
    connect_finish(cr, NULL);
}

static void connect_on_resolved(const loom_addr_t *addrs, size_t n,
                                loom_dns_status_t st, const char *err,
                                void *arg)
{
    loom_connect_t *cr = arg;

    cr->dns = NULL;
    if (n == 0) {
        cr->dns_status = st;
        connect_fail_note(cr,
                          st == LOOM_DNS_NODATA ? LOOM_CONNECT_ENOADDR
                                                : LOOM_CONNECT_ERESOLVE,
                          err);
        connect_finish(cr, NULL);
        return;
    }
    cr->addrs = loom_malloc(n * sizeof(*addrs));
    memcpy(cr->addrs, addrs, n * sizeof(*addrs));
    cr->n = n;
    connect_try_next(cr);
}

static void connect_on_kick(evutil_socket_t fd, short what, void *arg)
{
    loom_connect_t *cr = arg;

    (void)fd;
    (void)what;
    if (cr->status != LOOM_CONNECT_OK) { /* failed during the call */
        connect_finish(cr, NULL);
        return;
    }
    if (cr->host) {
        cr->dns = loom_resolve(
            cr->srv, cr->resolver ? cr->resolver : cr->srv->resolver, cr->host,
            cr->port, cr->family, connect_on_resolved, cr);
        return;
    }
    connect_try_next(cr);
}

static char *connect_strdup(const char *s)
{
    return s ? loom_strdup(s) : NULL;
}

/* A request with OPTS copied, its timers set, its kick armed. */
static loom_connect_t *connect_new(loom_server_t *srv,
                                   const loom_connect_opts_t *opts,
                                   const loom_handler_t *handler,
                                   loom_connect_done_cb cb, void *arg)
{
    static const loom_connect_opts_t defaults;
    loom_connect_t *cr = loom_calloc(1, sizeof(*cr));
    unsigned ms;
    struct timeval tv = {0, 0};

    if (opts == NULL)
        opts = &defaults;
    cr->srv = srv;
    cr->handler = handler;
    cr->cb = cb;
    cr->arg = arg;
    cr->fd = -1;
    cr->attempt_ms = opts->attempt_timeout_ms;
    cr->tls = opts->tls;
    cr->family = opts->family;
    cr->resolver = opts->resolver;
    cr->tlso.no_verify = opts->tls_opts.no_verify;
    cr->tlso.ca_file = connect_strdup(opts->tls_opts.ca_file);
    cr->tlso.name = connect_strdup(opts->tls_opts.name);
    cr->tlso.alpn = connect_strdup(opts->tls_opts.alpn);
    ms = opts->timeout_ms ? opts->timeout_ms : CONNECT_DEFAULT_TIMEOUT_MS;
    cr->deadline = evtimer_new(srv->base, connect_on_deadline, cr);
    cr->kick = evtimer_new(srv->base, connect_on_kick, cr);
    if (handler == NULL || handler->data == NULL)
        connect_fail_note(cr, LOOM_CONNECT_EINVAL, "no handler");
    if (cr->family != AF_UNSPEC && cr->family != AF_INET &&
        cr->family != AF_INET6)
        connect_fail_note(cr, LOOM_CONNECT_EINVAL, "bad address family");
    evtimer_add(cr->kick, &tv);
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_add(cr->deadline, &tv);
    return cr;
}

loom_connect_t *loom_connect_addrs(loom_server_t *srv, const loom_addr_t *addrs,
                                   size_t n, const loom_connect_opts_t *opts,
                                   const loom_handler_t *handler,
                                   loom_connect_done_cb cb, void *arg)
{
    loom_connect_t *cr = connect_new(srv, opts, handler, cb, arg);
    size_t i;

    if (addrs == NULL || n == 0) {
        connect_fail_note(cr, LOOM_CONNECT_EINVAL, "no address");
        return cr;
    }
    for (i = 0; i < n; i++) {
        int f = addrs[i].addr.ss_family;

        if ((f != AF_INET && f != AF_INET6 && f != AF_UNIX) ||
            addrs[i].len == 0 || addrs[i].len > sizeof(addrs[i].addr)) {
            connect_fail_note(cr, LOOM_CONNECT_EINVAL, "bad address");
            return cr;
        }
    }
    cr->addrs = loom_malloc(n * sizeof(*addrs));
    memcpy(cr->addrs, addrs, n * sizeof(*addrs));
    cr->n = n;
    return cr;
}

loom_connect_t *loom_connect_host(loom_server_t *srv, const char *host,
                                  int port, const loom_connect_opts_t *opts,
                                  const loom_handler_t *handler,
                                  loom_connect_done_cb cb, void *arg)
{
    loom_connect_t *cr = connect_new(srv, opts, handler, cb, arg);
    loom_addr_t lit;

    if (port < 1 || port > 65535) {
        connect_fail_note(cr, LOOM_CONNECT_EINVAL, "bad port");
        return cr;
    }
    if (host == NULL || (!loom_resolver_literal(host, port, &lit) &&
                         !loom_resolver_name_ok(host))) {
        connect_fail_note(cr, LOOM_CONNECT_EINVAL, "invalid host name");
        return cr;
    }
    cr->host = loom_strdup(host);
    if (host[0] == '[') { /* "[v6]": the TLS name is the bare address */
        cr->host[strlen(cr->host) - 1] = '\0';
        memmove(cr->host, cr->host + 1, strlen(cr->host));
    }
    cr->port = port;
    return cr;
}

void loom_connect_cancel(loom_connect_t *cr)
{
    if (cr == NULL)
        return;
    if (cr->dns)
        loom_resolve_cancel(cr->dns);
    connect_drop_conn(cr);
    connect_free(cr);
}

/* ---- connect endpoints ----------------------------------------------------
 */

int loom_connect_parse(const char *endpoint, loom_connect_spec_t *spec,
                       char *err, size_t errlen)
{
    loom_endpoint_t ep;
    char why[160];

    memset(spec, 0, sizeof(*spec));
    if (loom_endpoint_parse_connect(endpoint, &ep, err, errlen) != 0)
        return LOOM_ERROR;
    if (ep.kind == LOOM_EP_UNIX &&
        loom_sockpath_check(ep.path, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "endpoint '%s': %s", endpoint, why);
        return LOOM_ERROR;
    }
    spec->kind = ep.kind == LOOM_EP_UNIX  ? LOOM_CONNECT_UNIX
                 : ep.kind == LOOM_EP_TLS ? LOOM_CONNECT_TLS
                                          : LOOM_CONNECT_TCP;
    snprintf(spec->host, sizeof(spec->host), "%s", ep.host);
    snprintf(spec->path, sizeof(spec->path), "%s", ep.path);
    snprintf(spec->ca_file, sizeof(spec->ca_file), "%s", ep.ca);
    spec->port = ep.port;
    spec->timeout_ms = (unsigned)ep.timeout * 1000u;
    spec->no_verify = !ep.verify;
    return LOOM_OK;
}

void loom_connect_spec_opts(const loom_connect_spec_t *spec,
                            loom_connect_opts_t *opts)
{
    if (spec->timeout_ms)
        opts->timeout_ms = spec->timeout_ms;
    if (spec->kind != LOOM_CONNECT_TLS)
        return;
    opts->tls = 1;
    opts->tls_opts.no_verify = spec->no_verify;
    if (spec->ca_file[0])
        opts->tls_opts.ca_file = spec->ca_file;
}

loom_connect_t *loom_connect_endpoint(loom_server_t *srv,
                                      const loom_connect_spec_t *spec,
                                      const loom_connect_opts_t *base,
                                      const loom_handler_t *handler,
                                      loom_connect_done_cb cb, void *arg)
{
    loom_connect_opts_t opts;
    loom_connect_t *cr;
    loom_addr_t a;
    struct sockaddr_un *sun = (struct sockaddr_un *)&a.addr;

    memset(&opts, 0, sizeof(opts));
    if (base)
        opts = *base;
    loom_connect_spec_opts(spec, &opts);
    if (spec->kind != LOOM_CONNECT_UNIX)
        return loom_connect_host(srv, spec->host, spec->port, &opts, handler,
                                 cb, arg);
    memset(&a, 0, sizeof(a));
    sun->sun_family = AF_UNIX;
    a.len = sizeof(*sun);
    if (loom_sockpath_kind(spec->path, NULL) == LOOM_SOCKPATH_BAD)
        return loom_connect_addrs(srv, NULL, 0, &opts, handler, cb, arg);
    /* A: what the result reports (a long path by its tail); the connect
     * itself goes to the whole path (connect_one). */
    if (strlen(spec->path) < sizeof(sun->sun_path))
        memcpy(sun->sun_path, spec->path, strlen(spec->path) + 1);
    else
        snprintf(sun->sun_path, sizeof(sun->sun_path), "...%s",
                 spec->path + strlen(spec->path) - (sizeof(sun->sun_path) - 4));
    cr = loom_connect_addrs(srv, &a, 1, &opts, handler, cb, arg);
    cr->unix_path = loom_strdup(spec->path);
    return cr;
}

loom_connect_t *loom_connect(loom_server_t *srv, const char *endpoint,
                             const loom_handler_t *handler,
                             loom_connect_done_cb cb, void *arg)
{
    loom_connect_spec_t spec;
    loom_connect_t *cr;
    char err[320];

    if (loom_connect_parse(endpoint ? endpoint : "", &spec, err, sizeof(err)) ==
        LOOM_OK)
        return loom_connect_endpoint(srv, &spec, NULL, handler, cb, arg);
    cr = connect_new(srv, NULL, handler, cb, arg);
    connect_fail_note(cr, LOOM_CONNECT_EINVAL, err);
    return cr;
}

/* ---- STARTTLS as a client --------------------------------------------------
 *
 * The connection's handler is swapped for one of ours while the switch is
 * under way; the state starts with that handler, so the callbacks find it
 * from c->h without touching c->data (the owner's, which its own timers
 * may still use).  The TLS part is the server side's: the STARTTLS flag
 * stops reading at once, and once output is flushed conn.c drops the
 * buffered input and runs the handshake; its open callback (ours) means
 * success, its close callback failure. */

typedef struct {
    loom_handler_t self;     /* first: c->h points here */
    const loom_handler_t *h; /* the owner's, back afterwards */
    loom_starttls_cb done;
    void *arg;
    loom_timer_t kick, deadline;
    int timed_out;
    loom_connect_status_t early_st; /* a failure before the handshake */
    char early_err[256];
} starttls_t;

static starttls_t *starttls_of(loom_conn_t *c)
{
    return (starttls_t *)(void *)c->h;
}

/* Put the owner's handler back and free ST (its timers disarmed). */
static void starttls_end(loom_conn_t *c, starttls_t *st)
{
    c->h = st->h;
    loom_timer_disarm(&st->kick);
    loom_timer_disarm(&st->deadline);
    free(st);
}

static int starttls_open(loom_conn_t *c)
{
    starttls_t *st = starttls_of(c);
    loom_starttls_cb done = st->done;
    void *arg = st->arg;

    /* timed out or closed while the handshake finished: the pending
     * abort wins, and starttls_close reports it */
    if (st->timed_out || (c->flags & (LOOM_CF_ABORT | LOOM_CF_CLOSING)))
        return LOOM_ERROR;
    starttls_end(c, st);
    done(c, LOOM_CONNECT_OK, NULL, arg);
    return LOOM_OK;
}

static size_t starttls_data(loom_conn_t *c, const char *buf, size_t len)
{
    (void)c;
    (void)buf;
    return len; /* nothing is read during the switch */
}

static void starttls_drain(loom_conn_t *c)
{
    starttls_t *st = starttls_of(c);

    if (st->h->drain)
        st->h->drain(c);
}

static void starttls_close(loom_conn_t *c)
{
    starttls_t *st = starttls_of(c);
    loom_starttls_cb done = st->done;
    void *arg = st->arg;
    const loom_handler_t *h = st->h;
    loom_connect_status_t code;
    char buf[256];
    const char *why = NULL;
    int verify_failed = 0;

    if (st->early_st != LOOM_CONNECT_OK) {
        code = st->early_st;
        snprintf(buf, sizeof(buf), "%s", st->early_err);
        why = buf;
    } else if (st->timed_out) {
        code = LOOM_CONNECT_ETIMEOUT;
        why = "timed out";
    } else {
        why = loom_tls_client_error(c->ssl, &verify_failed, buf, sizeof(buf));
        code = why == NULL     ? LOOM_CONNECT_ECLOSED
               : verify_failed ? LOOM_CONNECT_EVERIFY
                               : LOOM_CONNECT_ETLS;
        if (why == NULL)
            why = "connection closed before TLS was up";
    }
    starttls_end(c, st);
    done(c, code, why, arg);
    if (h->close)
        h->close(c);
}

static void starttls_on_kick(loom_timer_t *t, void *arg)
{
    loom_conn_t *c = arg;

    (void)t;
    if (starttls_of(c)->early_st != LOOM_CONNECT_OK)
        loom_conn_abort(c);
    /* else: the hold around this call settles C, which starts TLS */
}

static void starttls_on_deadline(loom_timer_t *t, void *arg)
{
    loom_conn_t *c = arg;

    (void)t;
    starttls_of(c)->timed_out = 1;
    loom_conn_abort(c);
}

int loom_conn_starttls_client(loom_conn_t *c, const loom_tls_client_t *tls,
                              unsigned timeout_ms, loom_starttls_cb done,
                              void *arg)
{
    starttls_t *st;
    char peer[INET6_ADDRSTRLEN], err[256];
    const char *name = tls ? tls->name : NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    int einval = 0;
    SSL *ssl;

    if (done == NULL || c->ssl || c->fd < 0 || c->tp != &loom_transport_fd ||
        c->h->open == starttls_open ||
        (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT |
                     LOOM_CF_STARTTLS | LOOM_CF_HANDSHAKE)))
        return LOOM_ERROR;
    if (name == NULL && loom_conn_peer_addr(c, &ss, &sl) == LOOM_OK &&
        ss.ss_family != AF_UNIX)
        name = inet_ntop(ss.ss_family,
                         ss.ss_family == AF_INET6
                             ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                             : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
                         peer, sizeof(peer));
    st = loom_calloc(1, sizeof(*st));
    st->self.open = starttls_open;
    st->self.data = starttls_data;
    st->self.drain = starttls_drain;
    st->self.close = starttls_close;
    st->h = c->h;
    st->done = done;
    st->arg = arg;
    loom_timer_init_conn(&st->kick, c, starttls_on_kick, c);
    loom_timer_init_conn(&st->deadline, c, starttls_on_deadline, c);
    ssl = loom_tls_client_new(c->srv, tls, name, &einval, err, sizeof(err));
    if (ssl == NULL) {
        st->early_st = einval ? LOOM_CONNECT_EINVAL : LOOM_CONNECT_ETLS;
        snprintf(st->early_err, sizeof(st->early_err), "%s", err);
    } else {
        SSL_set_fd(ssl, c->fd);
        SSL_set_app_data(ssl, c);
        c->ssl = ssl;
    }
    c->h = &st->self;
    /* no more reading: what came after the peer's go-ahead is dropped */
    c->flags |= LOOM_CF_STARTTLS;
    loom_timer_arm(&st->kick, 0);
    loom_timer_arm(&st->deadline,
                   timeout_ms ? timeout_ms : STARTTLS_DEFAULT_TIMEOUT_MS);
    return LOOM_OK;
}

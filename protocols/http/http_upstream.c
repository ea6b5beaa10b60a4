/*
 * http_upstream.c - the runtime side of upstreams: servers and their
 * passive health, balancing, name resolution with TTLs, outbound
 * connections and the idle keep-alive pools.  The contract is in
 * http_upstream.h.
 *
 * Every upstream connection carries an http_upconn_t as its data.  While a
 * request uses it, its events go to the owner's ops; while idle in a pool,
 * any byte or a close ends it (an upstream must not talk unasked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_upstream.h"

/* Input kept unconsumed on an upstream connection: a response head up to
 * the proxy's limit, plus the bytes that came with it. */
#define HTTP_UPCONN_MAX_INPUT (96 * 1024)

/* A resolution in progress; outlives its server if need be. */
typedef struct http_ups_dns_s {
    http_ups_server_t *s; /* NULL once the server is gone */
} http_ups_dns_t;

struct http_ups_connect_s {
    http_ups_server_t *s; /* a reference */
    const http_upconn_ops_t *ops;
    http_ups_connect_cb cb;
    void *arg;
    loom_connect_t *lc; /* connect in progress */
    int waiting;        /* on s->waiters */
    http_ups_connect_t *next;
};

static const char *ups_who(const http_proxy_rt_t *rt)
{
    return loom_instance_who(rt->hi->inst);
}

void http_ups_settings_default(http_ups_settings_t *set)
{
    set->balance = HTTP_UPS_ROUND_ROBIN;
    set->keepalive = 32;
    set->keepalive_timeout = 60;
    set->max_fails = 1;
    set->fail_timeout = 10;
    set->connect_timeout = 5;
    set->read_timeout = 60;
    set->write_timeout = 60;
    set->resolve_ttl = 60;
}

/* ---- references -------------------------------------------------------------
 */

void http_ups_ref(http_ups_t *u)
{
    u->refs++;
}

void http_ups_unref(http_ups_t *u)
{
    if (--u->refs > 0)
        return;
    free(u->servers);
    free(u->name);
    free(u);
}

void http_ups_server_ref(http_ups_server_t *s)
{
    s->refs++;
}

void http_ups_server_unref(http_ups_server_t *s)
{
    if (--s->refs > 0)
        return;
    if (s->dns)
        s->dns->s = NULL;
    free(s->addrs);
    free(s->authority);
    free(s->endpoint);
    http_ups_unref(s->ups);
    free(s);
}

/* ---- servers and upstreams
 * ---------------------------------------------------- */

static http_ups_server_t *server_new(http_ups_t *u, const char *endpoint,
                                     const loom_connect_spec_t *spec)
{
    http_ups_server_t *s = loom_calloc(1, sizeof(*s));
    loom_addr_t lit;
    char auth[sizeof(spec->host) + 16];

    s->ups = u;
    http_ups_ref(u);
    s->refs = 1;
    s->endpoint = loom_strdup(endpoint);
    s->spec = *spec;
    if (spec->kind == LOOM_CONNECT_UNIX) {
        s->authority = loom_strdup("localhost");
        return s;
    }
    snprintf(auth, sizeof(auth), strchr(spec->host, ':') ? "[%s]:%d" : "%s:%d",
             spec->host, spec->port);
    s->authority = loom_strdup(auth);
    /* names are resolved here, to keep their addresses for their TTL */
    s->resolve = loom_addr_parse(spec->host, spec->port, &lit) != LOOM_OK;
    return s;
}

/* Close every idle connection of S. */
static void server_drop_idle(http_ups_server_t *s)
{
    while (s->idle)
        http_upconn_close(s->idle, 1);
}

/* S left the configuration: no new requests, no pooling. */
static void server_retire(http_ups_server_t *s)
{
    s->gone = 1;
    server_drop_idle(s);
    http_ups_server_unref(s);
}

static http_ups_t *ups_new(http_proxy_rt_t *rt, const http_ups_conf_t *uc)
{
    http_ups_t *u = loom_calloc(1, sizeof(*u));

    u->rt = rt;
    u->name = loom_strdup(uc->name);
    u->anon = uc->anon;
    u->refs = 1; /* rt->ups */
    u->next = rt->ups;
    rt->ups = u;
    return u;
}

/* Bring U's servers in line with UC's list: servers are matched by their
 * endpoint string and keep their health, addresses and pools. */
static void ups_sync_servers(http_ups_t *u, const http_ups_conf_t *uc)
{
    http_ups_server_t **old = u->servers, **cur;
    size_t nold = u->nservers, i, j;

    cur = loom_calloc(uc->nservers ? uc->nservers : 1, sizeof(*cur));
    for (i = 0; i < uc->nservers; i++) {
        for (j = 0; j < nold; j++) {
            if (old[j] && strcmp(old[j]->endpoint, uc->servers[i]) == 0) {
                cur[i] = old[j];
                old[j] = NULL;
                break;
            }
        }
        if (cur[i] == NULL)
            cur[i] = server_new(u, uc->servers[i], &uc->specs[i]);
    }
    u->servers = cur;
    u->nservers = uc->nservers;
    if (u->nservers)
        u->rr %= u->nservers;
    for (j = 0; j < nold; j++)
        if (old[j])
            server_retire(old[j]);
    free(old);
}

/* U (already unlinked from rt->ups) left the configuration. */
static void ups_retire(http_ups_t *u)
{
    size_t i, n = u->nservers;
    http_ups_server_t **servers = u->servers;

    u->gone = 1;
    u->next = NULL;
    u->servers = NULL;
    u->nservers = 0;
    for (i = 0; i < n; i++)
        server_retire(servers[i]);
    free(servers);
    http_ups_unref(u);
}

void http_ups_sync(http_proxy_rt_t *rt, http_conf_t *hc)
{
    http_ups_conf_t *uc;
    http_ups_t *old = rt->ups, *u, *next, **pp;

    rt->ups = NULL;
    for (uc = hc->upstreams ? hc->upstreams->list : NULL; uc; uc = uc->next) {
        for (pp = &old; *pp; pp = &(*pp)->next)
            if ((*pp)->anon == uc->anon && strcmp((*pp)->name, uc->name) == 0)
                break;
        if (*pp) { /* still configured: keep its state */
            u = *pp;
            *pp = u->next;
            u->next = rt->ups;
            rt->ups = u;
        } else {
            u = ups_new(rt, uc);
        }
        uc->rt = u;
        u->set = uc->set;
        ups_sync_servers(u, uc);
    }
    for (u = old; u; u = next) { /* no longer configured */
        next = u->next;
        ups_retire(u);
    }
}

void http_ups_shutdown(http_proxy_rt_t *rt)
{
    http_upconn_t *uc, *next;
    http_ups_t *u;

    rt->stopping = 1;
    while ((u = rt->ups) != NULL) {
        rt->ups = u->next;
        ups_retire(u);
    }
    for (uc = rt->conns; uc; uc = next) {
        next = uc->next;
        http_upconn_close(uc, 1);
    }
    /* connections whose close is deferred (held) forget RT */
    for (uc = rt->conns; uc; uc = next) {
        next = uc->next;
        uc->rt = NULL;
        uc->next = uc->prev = NULL;
    }
    rt->conns = NULL;
}

/* ---- balancing and health
 * ------------------------------------------------------ */

static int server_tried(const http_ups_server_t *s,
                        http_ups_server_t *const *tried, size_t ntried)
{
    size_t i;

    for (i = 0; i < ntried; i++)
        if (tried[i] == s)
            return 1;
    return 0;
}

http_ups_server_t *http_ups_pick(http_ups_t *u, http_ups_server_t *const *tried,
                                 size_t ntried)
{
    uint64_t now = loom_now_sec();
    http_ups_server_t *best = NULL, *fallback = NULL;
    size_t k, n = u->nservers, best_i = 0;

    for (k = 0; k < n; k++) {
        size_t i = (u->rr + k) % n;
        http_ups_server_t *s = u->servers[i];

        if (server_tried(s, tried, ntried))
            continue;
        if (s->down_until > now) {
            if (fallback == NULL || s->down_until < fallback->down_until)
                fallback = s;
            continue;
        }
        if (u->set.balance == HTTP_UPS_ROUND_ROBIN) {
            best = s;
            best_i = i;
            break;
        }
        if (best == NULL || s->active < best->active) {
            best = s;
            best_i = i;
        }
    }
    if (best) {
        u->rr = (best_i + 1) % n;
        return best;
    }
    return fallback;
}

void http_ups_server_failed(http_ups_server_t *s)
{
    http_ups_t *u = s->ups;

    if (u->set.max_fails == 0)
        return;
    if (++s->fails < u->set.max_fails)
        return;
    s->fails = 0;
    s->down_until = loom_now_sec() + u->set.fail_timeout;
    if (!u->gone)
        loom_log(LOOM_LOG_WARN, ups_who(u->rt),
                 "upstream \"%s\" server %s: marked down for %us", u->name,
                 s->endpoint, u->set.fail_timeout);
}

void http_ups_server_ok(http_ups_server_t *s)
{
    s->fails = 0;
    s->down_until = 0;
}

/* ---- the connections' handler
 * ----------------------------------------------------- */

static void upconn_unlink_idle(http_upconn_t *uc)
{
    http_ups_server_t *s = uc->srv;

    if (!uc->idle)
        return;
    if (uc->iprev)
        uc->iprev->inext = uc->inext;
    else
        s->idle = uc->inext;
    if (uc->inext)
        uc->inext->iprev = uc->iprev;
    uc->inext = uc->iprev = NULL;
    uc->idle = 0;
    s->nidle--;
    loom_timer_disarm(&uc->timer);
}

static size_t upconn_data(loom_conn_t *c, const char *buf, size_t len)
{
    http_upconn_t *uc = loom_conn_data(c);

    if (uc == NULL || uc->closing)
        return len;
    if (uc->owner)
        return uc->ops->data(uc->owner, buf, len); /* UC may be gone */
    /* bytes on an idle connection: the upstream is confused */
    http_upconn_close(uc, 1);
    return len;
}

static void upconn_drain(loom_conn_t *c)
{
    http_upconn_t *uc = loom_conn_data(c);

    if (uc && uc->owner && !uc->closing)
        uc->ops->drain(uc->owner);
}

static void upconn_close(loom_conn_t *c)
{
    http_upconn_t *uc = loom_conn_data(c);
    void *owner;

    if (uc == NULL)
        return;
    loom_conn_set_data(c, NULL);
    upconn_unlink_idle(uc);
    owner = uc->owner;
    uc->owner = NULL;
    if (owner && !uc->closing)
        uc->ops->close(owner);
    loom_timer_disarm(&uc->timer);
    if (uc->rt) {
        if (uc->prev)
            uc->prev->next = uc->next;
        else
            uc->rt->conns = uc->next;
        if (uc->next)
            uc->next->prev = uc->prev;
    }
    http_ups_server_unref(uc->srv);
    free(uc);
}

static const loom_handler_t upconn_handler = {NULL, upconn_data, upconn_drain,
                                              upconn_close};

static void upconn_idle_timeout(loom_timer_t *t, void *arg)
{
    (void)t;
    http_upconn_close(arg, 1);
}

http_upconn_t *http_upconn_take(http_ups_server_t *s,
                                const http_upconn_ops_t *ops, void *owner)
{
    http_upconn_t *uc = s->idle;

    if (uc == NULL)
        return NULL;
    upconn_unlink_idle(uc);
    uc->ops = ops;
    uc->owner = owner;
    return uc;
}

void http_upconn_release(http_upconn_t *uc, int reusable)
{
    http_ups_server_t *s = uc->srv;
    const http_ups_settings_t *set = &s->ups->set;

    uc->owner = NULL;
    uc->ops = NULL;
    if (!reusable || uc->closing || s->gone || uc->rt == NULL ||
        uc->rt->stopping || set->keepalive == 0 || s->nidle >= set->keepalive) {
        http_upconn_close(uc, 1);
        return;
    }
    uc->idle = 1;
    uc->iprev = NULL;
    uc->inext = s->idle;
    if (s->idle)
        s->idle->iprev = uc;
    s->idle = uc;
    s->nidle++;
    loom_timer_arm(&uc->timer, (uint64_t)set->keepalive_timeout * 1000);
}

void http_upconn_close(http_upconn_t *uc, int abort)
{
    if (uc->closing)
        return;
    upconn_unlink_idle(uc);
    uc->closing = 1;
    uc->owner = NULL;
    if (abort)
        loom_conn_abort(uc->c); /* UC goes in its close callback, later */
    else
        loom_conn_close(uc->c);
}

/* ---- connecting
 * ------------------------------------------------------------------ */

static void connect_free(http_ups_connect_t *cr)
{
    if (cr->s)
        http_ups_server_unref(cr->s);
    free(cr);
}

/* Report and free CR. */
static void connect_done(http_ups_connect_t *cr, http_upconn_t *uc,
                         loom_connect_status_t st, const char *err)
{
    http_ups_connect_cb cb = cr->cb;
    void *arg = cr->arg;
    http_ups_server_t *s = cr->s;

    if (uc == NULL && s->naddrs) /* the next attempt starts elsewhere */
        s->next_addr = (s->next_addr + 1) % s->naddrs;
    cr->s = NULL; /* keep its reference over the callback */
    connect_free(cr);
    cb(uc, st, err, arg);
    http_ups_server_unref(s);
}

static void connect_on_result(loom_conn_t *c, const loom_connect_result_t *res,
                              void *arg)
{
    http_ups_connect_t *cr = arg;
    http_upconn_t *uc;
    http_proxy_rt_t *rt = cr->s->ups->rt;

    cr->lc = NULL;
    if (c == NULL) {
        connect_done(cr, NULL, res->status, res->err);
        return;
    }
    if (cr->s->resolve && res->addr && cr->s->naddrs) {
        /* start there next time: an address refused now (::1 for
         * "localhost" when the upstream listens on 127.0.0.1 only) is not
         * tried first on every connection */
        size_t i;

        for (i = 0; i < cr->s->naddrs; i++) {
            if (cr->s->addrs[i].len == res->addr->len &&
                memcmp(&cr->s->addrs[i].addr, &res->addr->addr,
                       res->addr->len) == 0) {
                cr->s->next_addr = i;
                break;
            }
        }
    }
    uc = loom_calloc(1, sizeof(*uc));
    uc->c = c;
    uc->srv = cr->s;
    http_ups_server_ref(uc->srv);
    uc->rt = rt;
    uc->ops = cr->ops;
    uc->owner = cr->arg;
    loom_timer_init_conn(&uc->timer, c, upconn_idle_timeout, uc);
    uc->next = rt->conns;
    if (rt->conns)
        rt->conns->prev = uc;
    rt->conns = uc;
    loom_conn_set_data(c, uc);
    loom_conn_set_max_input(c, HTTP_UPCONN_MAX_INPUT);
    connect_done(cr, uc, LOOM_CONNECT_OK, NULL);
}

/* Connect CR: to the endpoint as configured, or to every address of a
 * resolved name in turn, from the one that worked last, each with the
 * connect timeout (as nginx tries each address of a name as a peer of its
 * own); TLS still verifies that name. */
static void connect_start(http_ups_connect_t *cr)
{
    http_ups_server_t *s = cr->s;
    loom_server_t *srv = loom_instance_server(s->ups->rt->hi->inst);
    loom_connect_opts_t opts;

    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = s->ups->set.connect_timeout * 1000u;
    if (!s->resolve) {
        cr->lc = loom_connect_endpoint(srv, &s->spec, &opts, &upconn_handler,
                                       connect_on_result, cr);
        return;
    }
    loom_connect_spec_opts(&s->spec, &opts);
    opts.tls_opts.name = s->spec.host;
    opts.attempt_timeout_ms = opts.timeout_ms;
    opts.timeout_ms *= (unsigned)s->naddrs;
    {
        loom_addr_t *order = loom_calloc(s->naddrs, sizeof(*order));
        size_t i;

        for (i = 0; i < s->naddrs; i++)
            order[i] = s->addrs[(s->next_addr + i) % s->naddrs];
        cr->lc = loom_connect_addrs(srv, order, s->naddrs, &opts,
                                    &upconn_handler, connect_on_result, cr);
        free(order);
    }
}

static void dns_on_answer(const loom_addr_t *addrs, size_t n, const char *err,
                          void *arg)
{
    http_ups_dns_t *d = arg;
    http_ups_server_t *s = d->s;
    http_ups_connect_t *w, *next;
    size_t i;

    free(d);
    if (s == NULL)
        return;
    s->dns = NULL;
    if (n > 0) {
        unsigned ttl = 0, max = s->ups->set.resolve_ttl;

        free(s->addrs);
        s->addrs = loom_calloc(n, sizeof(*s->addrs));
        for (i = 0; i < n; i++) {
            s->addrs[i] = addrs[i];
            if (addrs[i].ttl && (ttl == 0 || addrs[i].ttl < ttl))
                ttl = addrs[i].ttl;
        }
        s->naddrs = n;
        s->next_addr = 0;
        ttl = ttl && ttl < max ? ttl : max;
        s->addrs_expire = loom_now_sec() + ttl;
        if (!s->ups->gone)
            loom_log(LOOM_LOG_DEBUG, ups_who(s->ups->rt),
                     "upstream \"%s\" server %s: %zu address(es) for %us",
                     s->ups->name, s->endpoint, n, ttl);
    } else if (s->naddrs) { /* keep the old addresses for a while */
        if (!s->ups->gone)
            loom_log(LOOM_LOG_WARN, ups_who(s->ups->rt),
                     "upstream \"%s\" server %s: cannot resolve %s: %s; "
                     "keeping the previous addresses",
                     s->ups->name, s->endpoint, s->spec.host, err);
        s->addrs_expire = loom_now_sec() + s->ups->set.resolve_ttl;
    }
    w = s->waiters;
    s->waiters = NULL;
    for (; w; w = next) {
        next = w->next;
        w->waiting = 0;
        w->next = NULL;
        if (s->naddrs)
            connect_start(w);
        else
            connect_done(w, NULL, LOOM_CONNECT_ERESOLVE,
                         "cannot resolve the name");
    }
}

http_ups_connect_t *http_ups_connect(http_ups_server_t *s,
                                     const http_upconn_ops_t *ops,
                                     http_ups_connect_cb cb, void *arg)
{
    http_ups_connect_t *cr = loom_calloc(1, sizeof(*cr));

    cr->s = s;
    http_ups_server_ref(s);
    cr->ops = ops;
    cr->cb = cb;
    cr->arg = arg;
    if (s->resolve && (s->naddrs == 0 || loom_now_sec() >= s->addrs_expire)) {
        cr->waiting = 1;
        cr->next = s->waiters;
        s->waiters = cr;
        if (s->dns == NULL) {
            s->dns = loom_calloc(1, sizeof(*s->dns));
            s->dns->s = s;
            loom_resolve_name(loom_instance_server(s->ups->rt->hi->inst),
                              s->spec.host, s->spec.port, dns_on_answer,
                              s->dns);
        }
        return cr;
    }
    connect_start(cr);
    return cr;
}

void http_ups_connect_cancel(http_ups_connect_t *cr)
{
    if (cr == NULL)
        return;
    if (cr->waiting) {
        http_ups_connect_t **pp;

        for (pp = &cr->s->waiters; *pp; pp = &(*pp)->next) {
            if (*pp == cr) {
                *pp = cr->next;
                break;
            }
        }
    }
    if (cr->lc)
        loom_connect_cancel(cr->lc);
    connect_free(cr);
}

/*
 * resolver.h - asynchronous name resolution with c-ares on the reactor:
 * c-ares sockets are watched by libevent events, its timeouts are libevent
 * timers; nothing blocks.  The module-facing calls are in loom_module.h
 * (loom_resolve_name, raw messages) and loom_client.h (record lookups,
 * lookup channels); these are the core's own.
 */
#ifndef LOOM_RESOLVER_H
#define LOOM_RESOLVER_H

#include <ares.h>
#include <netdb.h>

#include "core.h"

/* The server's channel on BASE (system configuration), or NULL when c-ares
 * cannot start (ERR set). */
loom_resolver_t *loom_resolver_new(struct event_base *base, char *err,
                                   size_t errlen);

/* ---- addresses of a name ------------------------------------------------ */

typedef struct loom_resolve_req_s loom_resolve_req_t;

/* Result: N > 0 addresses (valid during the call; port set) in c-ares's
 * order, or N == 0 with ST and ERR (a static text). */
typedef void (*loom_resolve_cb)(const loom_addr_t *addrs, size_t n,
                                loom_dns_status_t st, const char *err,
                                void *arg);

/* Resolve HOST (a name, an IP literal or "[v6]") for TCP PORT, FAMILY
 * (AF_UNSPEC, AF_INET, AF_INET6) only, on channel R (NULL: fail with
 * "resolver unavailable").  CB runs exactly once, from the reactor, never
 * inside this call; returns a handle for loom_resolve_cancel. */
loom_resolve_req_t *loom_resolve(loom_server_t *srv, loom_resolver_t *r,
                                 const char *host, int port, int family,
                                 loom_resolve_cb cb, void *arg);

/* CB of a request not yet answered never runs. */
void loom_resolve_cancel(loom_resolve_req_t *q);

/* ---- helpers for lookup.c and connect.c ---------------------------------- */

/* Fill A with HOST when it is an IP literal ("[v6]" too) for PORT; returns
 * 1, else 0. */
int loom_resolver_literal(const char *host, int port, loom_addr_t *a);

/* 1 when NAME may be given to c-ares: 1-253 printable bytes, no spaces or
 * backslashes, labels of 1-63 (a final dot allowed). */
int loom_resolver_name_ok(const char *name);

/* A failed c-ares status as a DNS status, with a short static text. */
loom_dns_status_t loom_resolver_status(int ares_status, const char **err);

/* The c-ares channel of R for record lookups (R's own, or a twin that
 * reports SERVFAIL and REFUSED as such), and re-arming its timer after
 * starting a query on it. */
ares_channel loom_resolver_lookup_channel(loom_resolver_t *r);
void loom_resolver_lookup_rearm(loom_resolver_t *r);

/* Re-arm R's timer after starting a query on its channel. */
void loom_resolver_rearm(loom_resolver_t *r);

#endif

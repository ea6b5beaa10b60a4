/*
 * resolver.h - asynchronous name resolution with c-ares on the reactor:
 * c-ares sockets are watched by libevent events, its timeouts are libevent
 * timers; nothing blocks.
 */
#ifndef LOOM_RESOLVER_H
#define LOOM_RESOLVER_H

#include <netdb.h>

#include "core.h"

struct ares_addrinfo_node;

/* Result: ADDRS (freed by the resolver after the callback) is a list of
 * addresses to try in order (IPv6 and IPv4 interleaved as c-ares sorts
 * them), or NULL with ERR set. */
typedef void (*loom_resolve_cb)(struct ares_addrinfo_node *addrs,
                                const char *err, void *arg);

/* A resolver on BASE, or NULL when c-ares cannot start (ERR set). */
loom_resolver_t *loom_resolver_new(struct event_base *base, char *err,
                                   size_t errlen);
void loom_resolver_free(loom_resolver_t *r);

/* Resolve HOST for PORT (TCP); CB runs exactly once, always from the
 * reactor (never before this returns). */
void loom_resolve(loom_resolver_t *r, const char *host, int port,
                  loom_resolve_cb cb, void *arg);

#endif

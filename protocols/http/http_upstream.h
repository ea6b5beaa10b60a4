/*
 * http_upstream.h - upstreams of the reverse proxy: their validated
 * configuration (built by http_proxy_conf.c) and their runtime state
 * (http_upstream.c): servers with passive health, balancing, names
 * re-resolved as their TTL runs out, and pools of idle keep-alive
 * connections.  The proxy handler (http_proxy.c) asks for a server and a
 * connection to it, and tells how the attempt went.
 *
 * Runtime objects outlive reloads: an upstream (matched by name) keeps its
 * servers (matched by endpoint), their health and their pools; what left
 * the configuration is retired and freed when the last request using it
 * is done.
 */
#ifndef HTTP_UPSTREAM_H
#define HTTP_UPSTREAM_H

#include <stdint.h>
#include <sys/socket.h>

#include "http.h"

/* ---- configuration ----------------------------------------------------------
 */

enum { HTTP_UPS_ROUND_ROBIN = 0, HTTP_UPS_LEAST_CONN };

typedef struct {
    int balance;                /* HTTP_UPS_* */
    unsigned keepalive;         /* idle connections kept per server */
    unsigned keepalive_timeout; /* seconds */
    unsigned max_fails;         /* 0: never mark down */
    unsigned fail_timeout;      /* seconds */
    unsigned connect_timeout, read_timeout, write_timeout; /* seconds */
    unsigned resolve_ttl;                                  /* seconds */
} http_ups_settings_t;

typedef struct http_ups_conf_s {
    char *name;                 /* title, or the endpoint (anonymous) */
    int anon;                   /* made from a proxy_pass endpoint */
    char **servers;             /* connect endpoints as written */
    loom_connect_spec_t *specs; /* the same, parsed */
    size_t nservers;
    http_ups_settings_t set;
    struct http_ups_s *rt; /* runtime twin (http_proxy_start/reload) */
    struct http_ups_conf_s *next;
} http_ups_conf_t;

/* hc->upstreams */
struct http_upstreams_s {
    http_ups_conf_t *list; /* named and anonymous, config order */
};

/* l->proxy */
struct http_proxy_loc_s {
    http_ups_conf_t *ups;
    char *prefix; /* proxy_prefix, or NULL */
    char *host;   /* proxy_host, or NULL */
};

/* Defaults of an `upstream` section (and of an anonymous upstream). */
void http_ups_settings_default(http_ups_settings_t *set);

/* ---- runtime
 * ------------------------------------------------------------------ */

typedef struct http_ups_s http_ups_t;
typedef struct http_ups_server_s http_ups_server_t;
typedef struct http_upconn_s http_upconn_t;
typedef struct http_ups_connect_s http_ups_connect_t;
typedef struct http_proxy_rt_s http_proxy_rt_t;

struct http_ups_s {
    http_proxy_rt_t *rt;
    char *name;
    int anon;
    http_ups_settings_t set;
    http_ups_server_t **servers; /* current configuration */
    size_t nservers;
    size_t rr; /* round-robin position */
    unsigned refs;
    int gone;         /* left the configuration */
    http_ups_t *next; /* rt->ups */
};

struct http_ups_server_s {
    http_ups_t *ups;          /* a reference */
    char *endpoint;           /* as configured: logs, reload matching */
    loom_connect_spec_t spec; /* parsed at configure time */
    int resolve;              /* host=NAME (tcp or tls): we resolve it */
    char *authority;          /* "host:port" (Host when the client
                               * sent none) */
    unsigned refs;
    int gone;
    /* passive health */
    unsigned fails;      /* consecutive failures */
    uint64_t down_until; /* loom_now_sec() value; 0: up */
    unsigned active;     /* requests in progress (least_conn) */
    /* names */
    loom_addr_t *addrs;
    size_t naddrs, next_addr;
    uint64_t addrs_expire;       /* loom_now_sec() value */
    struct http_ups_dns_s *dns;  /* resolution in progress */
    http_ups_connect_t *waiters; /* connects waiting for it */
    /* pool */
    http_upconn_t *idle; /* most recently used first */
    size_t nidle;
};

/* What the owner of a connection in use hears about it. */
typedef struct {
    size_t (*data)(void *owner, const char *buf, size_t len);
    void (*drain)(void *owner);
    /* The connection is gone (peer closed, error, or closed by the owner
     * from elsewhere); it is freed after this returns. */
    void (*close)(void *owner);
} http_upconn_ops_t;

struct http_upconn_s {
    loom_conn_t *c;
    http_ups_server_t *srv; /* a reference */
    http_proxy_rt_t *rt;
    const http_upconn_ops_t *ops;
    void *owner;   /* NULL while idle or closing */
    unsigned nreq; /* requests given to it so far */
    int idle, closing;
    loom_timer_t timer;           /* keepalive_timeout while idle */
    http_upconn_t *inext, *iprev; /* server's idle list */
    http_upconn_t *next, *prev;   /* rt->conns */
};

struct http_proxy_rt_s {
    http_instance_t *hi;
    http_ups_t *ups;        /* upstreams of the current config */
    http_upconn_t *conns;   /* every upstream connection */
    struct http_px_s *reqs; /* requests in flight (http_proxy.c) */
    int stopping;
};

/* Make / bring in line with HC the runtime state RT; set every
 * http_ups_conf_t's rt.  Upstreams and servers no longer configured are
 * retired: idle connections closed, freed with their last reference. */
void http_ups_sync(http_proxy_rt_t *rt, http_conf_t *hc);

/* Retire everything and close every upstream connection (instance
 * stop).  RT itself is the caller's to free afterwards. */
void http_ups_shutdown(http_proxy_rt_t *rt);

void http_ups_ref(http_ups_t *u);
void http_ups_unref(http_ups_t *u);
void http_ups_server_ref(http_ups_server_t *s);
void http_ups_server_unref(http_ups_server_t *s);

/* The server of U to try next, skipping the NTRIED servers in TRIED:
 * round robin or least connections among the live ones; when all those
 * left are down, the one coming back first.  NULL when none is left. */
http_ups_server_t *http_ups_pick(http_ups_t *u, http_ups_server_t *const *tried,
                                 size_t ntried);

/* Health: an attempt on S failed (connect, timeout, reset, bad head), or
 * got a valid response head. */
void http_ups_server_failed(http_ups_server_t *s);
void http_ups_server_ok(http_ups_server_t *s);

/* ---- connections ------------------------------------------------------------
 */

/* An idle pooled connection to S, now owned by OWNER with OPS; NULL when
 * the pool is empty. */
http_upconn_t *http_upconn_take(http_ups_server_t *s,
                                const http_upconn_ops_t *ops, void *owner);

/* Result of http_ups_connect: UC is the new connection (owned by the
 * caller), or NULL with ST (a LOOM_CONNECT_* failure) and ERR. */
typedef void (*http_ups_connect_cb)(http_upconn_t *uc, loom_connect_status_t st,
                                    const char *err, void *arg);

/* Open a new connection to S (resolving its name first when its addresses
 * expired) to one of its addresses, in turn, within the endpoint's timeout
 * or connect_timeout (the caller runs connect_timeout as well).  CB runs
 * exactly once, from the reactor, unless cancelled.  The connection gets
 * OPS and OWNER = ARG. */
http_ups_connect_t *http_ups_connect(http_ups_server_t *s,
                                     const http_upconn_ops_t *ops,
                                     http_ups_connect_cb cb, void *arg);
void http_ups_connect_cancel(http_ups_connect_t *cr);

/* Done with UC after a complete exchange: back to its server's idle pool
 * when REUSABLE and there is room, else closed. */
void http_upconn_release(http_upconn_t *uc, int reusable);

/* Close UC now (ABORT: discard buffered output; else flush it first).
 * Its owner's close op is not called. */
void http_upconn_close(http_upconn_t *uc, int abort);

#endif

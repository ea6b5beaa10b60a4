/*
 * loom_client.h - outbound clients: connecting by address list, by name or
 * by endpoint string, with a TLS client profile; client-side STARTTLS on an
 * established connection; DNS lookups (A, AAAA, MX, TXT, SRV, PTR) with
 * their TTLs and a clear status.
 *
 * One rule for every asynchronous call here: the callback runs exactly
 * once, always from the reactor (never inside the call that started the
 * work), also for invalid arguments and immediate failures; the handle it
 * returns is never NULL and stays valid until the callback starts.  Cancel
 * is allowed at any point before that, after which the callback never
 * runs and nothing refers to the caller's argument any more.  Strings and
 * arrays passed in are copied: the caller may free them once the call
 * returns.  What a callback is given lives only during the callback.
 *
 * Included by loom_module.h; modules include that.
 */
#ifndef LOOM_CLIENT_H
#define LOOM_CLIENT_H

#include <sys/socket.h>

#include "loom.h"
#include "loom_conn.h"

/* One address, with the TTL its record carried (loom_resolve_name, the DNS
 * lookups, connect results).  For loom_connect_addrs the port is in ADDR;
 * AF_UNIX addresses are allowed there too. */
typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
    unsigned ttl; /* seconds; 0 when unknown (files, literals) */
} loom_addr_t;

/* Fill A from HOST when it is an IP literal ("192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]") with PORT; returns LOOM_OK, or LOOM_ERROR when HOST is
 * not one (a name, or garbage). */
int loom_addr_parse(const char *host, int port, loom_addr_t *a);

/* A as text into BUF (LEN bytes, always NUL-terminated): "192.0.2.1:25",
 * "[2001:db8::1]:25", "unix:/path"; returns BUF. */
const char *loom_addr_format(const loom_addr_t *a, char *buf, size_t len);

/* ---- TLS client profile ------------------------------------------------- */

/* How to be a TLS client.  All zero is the safe default: verify the peer's
 * chain against the system store and its name against the host name. */
typedef struct {
    /* 1: do not verify the certificate at all (opportunistic TLS). */
    int no_verify;
    /* A PEM file of trusted CAs instead of the system store; NULL or "". */
    const char *ca_file;
    /* The name sent as SNI and verified against the certificate; NULL: the
     * host given to loom_connect_host / the endpoint, or for bare
     * addresses the IP address connected to (checked against the
     * certificate's IP SANs, and no SNI).  An IP literal here is checked
     * the same way. */
    const char *name;
    /* ALPN ids to offer, comma-separated ("h2,http/1.1"); NULL: none. */
    const char *alpn;
} loom_tls_client_t;

/* Client contexts are built once per (verify, CA file, ALPN) and cached
 * with the server's TLS configuration (freed with it: on reload, so a
 * renewed CA file or system bundle is read again, and at exit). */

/* ---- connecting --------------------------------------------------------- */

typedef enum {
    LOOM_CONNECT_OK = 0,
    LOOM_CONNECT_EINVAL,   /* bad arguments: no address, bad host or port,
                            * bad ALPN list, unreadable CA file */
    LOOM_CONNECT_ERESOLVE, /* the name did not resolve (dns_status says
                            * whether for good) */
    LOOM_CONNECT_ENOADDR,  /* it resolved, to no address of the family */
    LOOM_CONNECT_EREFUSED, /* every address refused (the last did) */
    LOOM_CONNECT_ETIMEOUT, /* the whole timeout ran out */
    LOOM_CONNECT_ENET,     /* other socket errors (unreachable, reset) */
    LOOM_CONNECT_ETLS,     /* the TLS handshake failed */
    LOOM_CONNECT_EVERIFY,  /* the peer's certificate did not verify */
    LOOM_CONNECT_ECLOSED   /* STARTTLS: the connection closed first */
} loom_connect_status_t;

/* Options of a connect; zero-initialize and set what you need. */
typedef struct {
    /* Time for the whole attempt (resolution, every address, the TLS
     * handshake); 0: 10 seconds. */
    unsigned timeout_ms;
    /* Time for the TCP connect to one address before going on to the next
     * (RFC 5321 style: every address in order); 0: no limit of its own.
     * A refused or unreachable address goes on to the next at once.  A
     * TLS failure ends the attempt: it is about the peer, not the path. */
    unsigned attempt_timeout_ms;
    /* 1: TLS right after connecting, with the profile below. */
    int tls;
    loom_tls_client_t tls_opts;
    /* loom_connect_host: AF_UNSPEC (0, every address c-ares gives, in its
     * order), AF_INET or AF_INET6 only. */
    int family;
    /* loom_connect_host: the lookup channel (loom_resolver_new_lookup);
     * NULL: the server's.  It must outlive the connect: cancel the
     * connect (or wait for its callback) before loom_resolver_free. */
    loom_resolver_t *resolver;
} loom_connect_opts_t;

/* What a connect came to. */
typedef struct {
    loom_connect_status_t status;
    /* NULL on success, else a short reason without the address:
     * "connection refused", "timed out", "no such domain",
     * "certificate verification failed: self-signed certificate". */
    const char *err;
    /* The address connected to (success), or the last one tried; NULL
     * when none was (bad arguments, resolution failed). */
    const loom_addr_t *addr;
    size_t tried;   /* addresses tried */
    int dns_status; /* LOOM_CONNECT_ERESOLVE: a loom_dns_status_t */
} loom_connect_result_t;

/* Result callback: C is the new connection (its handler and data are those
 * given to the connect call) or NULL; RES says how it went. */
typedef void (*loom_connect_done_cb)(loom_conn_t *c,
                                     const loom_connect_result_t *res,
                                     void *arg);

typedef struct loom_connect_s loom_connect_t;

/* Connect to the N addresses ADDRS (copied), in order, with OPTS (NULL: all
 * defaults).  On success the connection has HANDLER and data pointer ARG,
 * its open callback is not called (CB is the open), and the caller owns it
 * like any connection.  CB runs exactly once, from the reactor; returns the
 * handle for loom_connect_cancel, never NULL. */
loom_connect_t *loom_connect_addrs(loom_server_t *srv, const loom_addr_t *addrs,
                                   size_t n, const loom_connect_opts_t *opts,
                                   const loom_handler_t *handler,
                                   loom_connect_done_cb cb, void *arg);

/* Resolve HOST (a name, an IP literal, or "[v6]") for PORT and connect to
 * its addresses in order; as loom_connect_addrs otherwise.  HOST is the TLS
 * name unless OPTS->tls_opts.name says otherwise. */
loom_connect_t *loom_connect_host(loom_server_t *srv, const char *host,
                                  int port, const loom_connect_opts_t *opts,
                                  const loom_handler_t *handler,
                                  loom_connect_done_cb cb, void *arg);

/* Abandon a connect whose callback has not started: CB never runs, any
 * half-made connection is dropped.  NULL is ignored. */
void loom_connect_cancel(loom_connect_t *cr);

/* ---- connect endpoints (configuration strings) -------------------------- */

enum { LOOM_CONNECT_TCP = 1, LOOM_CONNECT_TLS, LOOM_CONNECT_UNIX };

/* A parsed connect endpoint string (see endpoint.h for the syntax):
 * tcp:host=NAME:port=N[:timeout=S], tls:...[:verify=yes|no][:ca=FILE],
 * unix:path=PATH[:timeout=S].  A plain value: copy it freely. */
typedef struct {
    int kind;            /* LOOM_CONNECT_* */
    char host[256];      /* tcp, tls: name or literal (no brackets) */
    int port;            /* tcp, tls */
    char path[256];      /* unix: any length, its file name short */
    unsigned timeout_ms; /* timeout=S given; 0: not given */
    int no_verify;       /* tls: verify=no */
    char ca_file[256];   /* tls: ca=FILE, "" when not given */
} loom_connect_spec_t;

/* Parse ENDPOINT into SPEC (at configure time, once).  Returns LOOM_OK, or
 * LOOM_ERROR with "endpoint '...': what is wrong" in ERR. */
int loom_connect_parse(const char *endpoint, loom_connect_spec_t *spec,
                       char *err, size_t errlen);

/* Fill OPTS from SPEC over the defaults already in OPTS: TLS on, its
 * verification and CA for tls:, the timeout when the endpoint gives one.
 * The strings point into SPEC. */
void loom_connect_spec_opts(const loom_connect_spec_t *spec,
                            loom_connect_opts_t *opts);

/* Connect to SPEC: BASE (NULL: defaults) with SPEC's settings applied by
 * loom_connect_spec_opts, then loom_connect_host or, for unix:, its path.
 * Same contract as loom_connect_addrs. */
loom_connect_t *loom_connect_endpoint(loom_server_t *srv,
                                      const loom_connect_spec_t *spec,
                                      const loom_connect_opts_t *base,
                                      const loom_handler_t *handler,
                                      loom_connect_done_cb cb, void *arg);

/* Parse ENDPOINT and connect to it with default options; a bad string is
 * reported through CB (LOOM_CONNECT_EINVAL), like every other failure.
 * Prefer loom_connect_parse at configure time plus loom_connect_endpoint. */
loom_connect_t *loom_connect(loom_server_t *srv, const char *endpoint,
                             const loom_handler_t *handler,
                             loom_connect_done_cb cb, void *arg);

/* ---- client-side STARTTLS ------------------------------------------------ */

/* Outcome of loom_conn_starttls_client: ST is LOOM_CONNECT_OK (C now
 * speaks TLS, with its own handler and data as before), or a failure
 * (ETLS, EVERIFY, ETIMEOUT, EINVAL, ECLOSED) with ERR, after which C is
 * closed: its handler's close callback runs right after this one. */
typedef void (*loom_starttls_cb)(loom_conn_t *c, loom_connect_status_t st,
                                 const char *err, void *arg);

/* Switch the plain connection C to TLS as the client, with TLS (NULL:
 * verify against the system store; without a name the peer's IP address
 * is what the certificate must name) and at most
 * TIMEOUT_MS for the handshake (0: 30 s).  Call it once the peer agreed
 * (SMTP's "220" to STARTTLS), typically from the data callback: reading
 * stops at once, and every byte received but not consumed so far is
 * discarded, never read as TLS or plaintext (STARTTLS injection).  Output
 * already written is flushed first.  Until DONE runs C gets no data or
 * drain callback and its open callback is not called again.  Returns
 * LOOM_OK and DONE runs exactly once, from the reactor; or LOOM_ERROR, with
 * no callback and C untouched, when C is already TLS, closing, or not a
 * socket.  To give up, close C: DONE then reports ECLOSED. */
int loom_conn_starttls_client(loom_conn_t *c, const loom_tls_client_t *tls,
                              unsigned timeout_ms, loom_starttls_cb done,
                              void *arg);

/* ---- DNS lookups ----------------------------------------------------------
 */

typedef enum {
    LOOM_DNS_OK = 0,
    LOOM_DNS_NXDOMAIN, /* the name does not exist (permanent) */
    LOOM_DNS_NODATA,   /* it exists, without records of the type
                        * (permanent) */
    LOOM_DNS_BADNAME,  /* not a valid domain name or address (permanent) */
    LOOM_DNS_TIMEOUT,  /* no server answered in time (temporary) */
    LOOM_DNS_SERVFAIL, /* server failure (temporary) */
    LOOM_DNS_REFUSED,  /* the servers refused (temporary) */
    LOOM_DNS_BADREPLY, /* a malformed or truncated answer (temporary) */
    LOOM_DNS_ERROR     /* anything else: no servers, network, channel
                        * freed (temporary) */
} loom_dns_status_t;

/* 1 when ST is worth retrying later (SMTP's 4xx), 0 when it is final. */
int loom_dns_temporary(loom_dns_status_t st);

/* A short text for ST ("no such domain", "timed out", ...). */
const char *loom_dns_strstatus(loom_dns_status_t st);

typedef enum {
    LOOM_DNS_A = 1,
    LOOM_DNS_AAAA = 28,
    LOOM_DNS_MX = 15,
    LOOM_DNS_TXT = 16,
    LOOM_DNS_SRV = 33,
    LOOM_DNS_PTR = 12
} loom_dns_type_t;

/* One record of the answer.  TTLs are the smallest along the CNAME chain
 * that led to it.  Names are absolute, without the final dot; the root
 * (a null MX, RFC 7505) is ".". */
typedef struct {
    unsigned ttl;
    loom_addr_t addr;      /* A, AAAA: port 0 */
    unsigned pref;         /* MX preference, SRV priority */
    unsigned weight, port; /* SRV */
    const char *name;      /* MX exchange, SRV target, PTR name */
    /* TXT: the character-strings of the record, and all of them joined
     * with nothing in between (RFC 7208 section 3.3), NUL-terminated
     * (TXT data may hold NUL bytes: use the lengths). */
    const loom_slice_t *strings;
    size_t nstrings;
    const char *text;
    size_t text_len;
} loom_dns_rr_t;

/* The outcome of a lookup.  MX come sorted by preference, SRV by priority
 * (both stable: equal ones keep the answer's order; RFC 5321 and 2782
 * shuffling and weighting is the caller's); others in answer order. */
typedef struct {
    loom_dns_status_t status;
    const char *err;  /* NULL when OK: "NAME MX: no such domain" */
    const char *name; /* the name asked (for PTR: the .arpa name) */
    loom_dns_type_t type;
    const char *cname; /* the canonical name when a CNAME led there, or
                        * NULL */
    /* NXDOMAIN and NODATA: how long to believe it (RFC 2308: the SOA's
     * TTL capped by its MINIMUM), 0 when the answer carried no SOA. */
    unsigned neg_ttl;
    const loom_dns_rr_t *rr;
    size_t n; /* > 0 exactly when status is LOOM_DNS_OK */
} loom_dns_result_t;

typedef void (*loom_dns_cb)(const loom_dns_result_t *res, void *arg);

typedef struct loom_dns_query_s loom_dns_query_t;

/* Look up NAME's records of TYPE (for LOOM_DNS_PTR, NAME may also be an IPv4
 * or IPv6 address, turned into its in-addr.arpa / ip6.arpa name) through
 * channel R (NULL: the server's, which follows /etc/resolv.conf).  NAME is
 * absolute: no search list applies.  A SERVFAIL or REFUSED answer is
 * reported as such, not tried on the channel's other servers (a timeout
 * is).  CB runs exactly once, from the reactor; returns the handle for
 * loom_dns_cancel, never NULL.  When R is freed first, pending lookups get
 * LOOM_DNS_ERROR from inside loom_resolver_free (the one exception to
 * "from the reactor": cancel them first if that matters). */
loom_dns_query_t *loom_dns_lookup(loom_server_t *srv, loom_resolver_t *r,
                                  loom_dns_type_t type, const char *name,
                                  loom_dns_cb cb, void *arg);

/* Abandon a lookup whose callback has not started: CB never runs.  The
 * query may stay with c-ares until it ends, but refers to nothing of the
 * caller's.  NULL is ignored. */
void loom_dns_cancel(loom_dns_query_t *q);

/* A lookup channel of its own on SRV's reactor, asking SERVERS (a
 * comma-separated "ADDR", "ADDR:PORT", "[V6]:PORT" list; NULL: the system
 * configuration), TIMEOUT_MS per try (0: 3000) and TRIES times (0: 2).
 * Truncated answers are asked again over TCP.  NULL with ERR set when
 * c-ares cannot start it.  Free it with loom_resolver_free. */
loom_resolver_t *loom_resolver_new_lookup(loom_server_t *srv,
                                          const char *servers,
                                          unsigned timeout_ms, unsigned tries,
                                          char *err, size_t errlen);

#endif

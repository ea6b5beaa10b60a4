/*
 * endpoint.h - Twisted-style endpoint description strings.
 *
 * Listen:  tcp:PORT[:interface=ADDR][:backlog=N]
 *          udp:PORT[:interface=ADDR]
 *          unix:PATH[:mode=0660][:backlog=N]
 *          tls:PORT[:interface=ADDR][:backlog=N]:profile=NAME
 *          tls:PORT[:interface=ADDR][:backlog=N]:cert=FILE:key=FILE
 * Connect: tcp:host=NAME:port=N[:timeout=S]
 *          tls:host=NAME:port=N[:timeout=S][:verify=yes|no][:ca=FILE]
 *          unix:path=PATH[:timeout=S]
 *
 * A colon or backslash inside a value is escaped with a backslash, as in
 * Twisted: `tcp:8080:interface=\:\:1`.  An IPv6 literal may also be
 * written in brackets: `interface=[::1]`.  Without interface= a listener
 * binds every IPv4 address (0.0.0.0), as Twisted does; `interface=\:\:`
 * binds every IPv6 address (dual-stack where the system allows it).
 */
#ifndef LOOM_ENDPOINT_H
#define LOOM_ENDPOINT_H

#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    LOOM_EP_TCP = 1,
    LOOM_EP_UDP,
    LOOM_EP_UNIX,
    LOOM_EP_TLS
} loom_ep_kind_t;

#define LOOM_EP_VALUE_MAX 256

typedef struct {
    loom_ep_kind_t kind;
    int port;                        /* listen / connect port */
    char host[LOOM_EP_VALUE_MAX];    /* interface (listen) or host */
    char path[LOOM_EP_VALUE_MAX];    /* unix socket path */
    char profile[LOOM_EP_VALUE_MAX]; /* tls profile name */
    char cert[LOOM_EP_VALUE_MAX];    /* tls cert file */
    char key[LOOM_EP_VALUE_MAX];     /* tls key file */
    char ca[LOOM_EP_VALUE_MAX];      /* connect: CA file */
    int backlog;                     /* listen backlog (default 511) */
    int mode;                        /* unix socket mode, -1 = default */
    int timeout;                     /* connect timeout s, 0: not given */
    int verify;                      /* connect tls: verify peer (1) */
} loom_endpoint_t;

/* Parse listen endpoint STR (NUL-terminated) into EP.  Returns 0, or -1
 * with ERR (ERRLEN bytes) holding "endpoint 'STR': what is wrong". */
int loom_endpoint_parse_listen(const char *str, loom_endpoint_t *ep, char *err,
                               size_t errlen);

/* Parse connect endpoint STR into EP; same contract. */
int loom_endpoint_parse_connect(const char *str, loom_endpoint_t *ep, char *err,
                                size_t errlen);

/* Canonical text of the socket a listen endpoint binds (tcp and tls share
 * one form), used to match listeners across reloads.  Writes at most LEN bytes
 * to OUT, always NUL-terminated. */
void loom_endpoint_format(const loom_endpoint_t *ep, char *out, size_t len);

/* HOST as an IP literal ("127.0.0.1", "::1" or "[::1]") with PORT into
 * *SS and *LEN.  Returns 0, or -1 when HOST is not one. */
int loom_ip_sockaddr(const char *host, int port, struct sockaddr_storage *ss,
                     socklen_t *len);

/* The socket address a tcp/tls/udp listen endpoint binds: its interface
 * (an IPv4 or IPv6 address; 0.0.0.0 when none is given) and port.
 * Returns 0, or -1 when the interface is not an IP address. */
int loom_endpoint_sockaddr(const loom_endpoint_t *ep,
                           struct sockaddr_storage *ss, socklen_t *len);

#endif

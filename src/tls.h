/*
 * tls.h - OpenSSL contexts for TLS profiles and listeners, the TLS
 * transport, and client contexts for outbound connections.
 */
#ifndef LOOM_TLS_H
#define LOOM_TLS_H

#include <openssl/ssl.h>

#include "core.h"

/* Build every TLS profile of CFG (certificates read, self-signed ones
 * generated).  NULL with "FILE:LINE: message" in ERR on failure. */
loom_tls_t *loom_tls_new(loom_config_t *cfg, char *err, size_t errlen);

/* Free a profile set; contexts live on while connections use them. */
void loom_tls_free(loom_tls_t *t);

/* A server context (new reference) for a tls: listen endpoint: the named
 * profile, or a context of its own for cert=/key=.  NULL and ERR set. */
SSL_CTX *loom_tls_listener_ctx(loom_tls_t *t, const loom_endpoint_t *ep,
                               char *err, size_t errlen);

/* A server-side SSL for connection C: from C's listener, or PROFILE. */
SSL *loom_tls_server_ssl(loom_conn_t *c, const char *profile);

/* ---- the client side (outbound connections, STARTTLS as a client) ---- */

/* A client SSL (connect state, no fd yet) with O's profile (NULL: verify
 * against the system store), sending NAME as SNI and verifying it (an IP
 * literal is checked against IP SANs, without SNI; NULL: chain only).
 * Its context comes from SRV's cache.  NULL with ERR set, and *EINVAL 1
 * when the options are at fault (ALPN list, CA file). */
SSL *loom_tls_client_new(loom_server_t *srv, const loom_tls_client_t *o,
                         const char *name, int *einval, char *err,
                         size_t errlen);

/* Why the client handshake on SSL failed, in BUF: a certificate
 * verification failure (*VERIFY_FAILED set) or the TLS error seen; NULL
 * when the handshake did not fail (SSL NULL, or closed before). */
const char *loom_tls_client_error(SSL *ssl, int *verify_failed, char *buf,
                                  size_t len);

/* How many client contexts SRV's cache built (debug and tests: one per
 * profile however many connections use it). */
size_t loom_tls_client_contexts(loom_server_t *srv);

/* Drive the handshake of C one step; on completion clears
 * LOOM_CF_HANDSHAKE and runs the open callback. */
void loom_tls_handshake(loom_conn_t *c);

#endif

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

/* A client-side SSL for an outbound connection to HOST, verifying the
 * peer (unless VERIFY is 0) against CA (or the system store: OpenSSL's
 * default paths, SSL_CERT_FILE / SSL_CERT_DIR).  The context is shared
 * with every such connection of SRV's configuration.  NULL with ERR set,
 * and logged (a missing CA file or system store is named), on failure. */
SSL *loom_tls_client_ssl(loom_server_t *srv, const char *host, int verify,
                         const char *ca, char *err, size_t errlen);

/* Drive the handshake of C one step; on completion clears
 * LOOM_CF_HANDSHAKE and runs the open callback. */
void loom_tls_handshake(loom_conn_t *c);

#endif

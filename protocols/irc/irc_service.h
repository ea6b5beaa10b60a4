/*
 * irc_service.h - AGREED INTERFACE (issue 17): the service "irc.link/1"
 * that every irc instance exports, so that a client reaches the IRC
 * server over a transport the irc module does not own (the http module's
 * WebSocket handler).  Only additions at the end from now on; a change
 * that is not an addition is "irc.link/2".
 *
 * The two sides never keep a pointer into each other: the irc instance
 * knows the link by (OPS, IO) until it calls ops->close() or the link
 * calls detach(); the link knows the client by its 64-bit id, which is
 * never reused in the process, and looks the service up again with
 * loom_service_get() in every callback (loom_service.h).  When a reload
 * removes the instance, the core withdraws the service first; the
 * instance then calls ops->close() for every link it still has (before
 * its stop callback returns), so IO is never used after that.
 *
 * Everything runs on the reactor thread.  No function of either table
 * calls back into the other side synchronously, except that input() and
 * drained() may call ops->write() and ops->close() for the same link
 * (the link must accept that, as loom_conn_write may be called from a
 * data callback).
 */
#ifndef IRC_SERVICE_H
#define IRC_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loom.h"
#include "loom_conn.h"

/* The service name and the module whose instances export it. */
#define IRC_LINK_SERVICE "irc.link/1"
#define IRC_LINK_MODULE "irc"

/* What the link side gives the irc instance for one client. */
typedef struct {
    /* Queue one IRC line LINE (it ends in CR LF; a text-frame transport
     * strips them).  The link takes its own reference (loom_buf_ref) if
     * it keeps the buffer; the caller keeps its own.  Returns LOOM_OK,
     * LOOM_AGAIN (queued, but the link is above its high-water mark: it
     * calls drained() once below the low-water mark), or LOOM_ERROR (the
     * link is closing; the line is dropped). */
    int (*write)(void *io, loom_buf_t *line);
    /* Bytes queued and not yet sent, for the SendQ bound. */
    size_t (*pending)(void *io);
    /* The server ends the link after what is queued (REASON, for the log
     * or a close frame; may be NULL).  After this call the instance never
     * uses IO again and never calls detach-related code for it: the
     * link must not call input/drained/detach for the id either (they
     * would answer LOOM_ERROR / do nothing). */
    void (*close)(void *io, const char *reason);
} irc_link_ops_t;

/* "irc.link/1": the table an irc instance exports; SELF is the instance
 * as loom_service_get returned it. */
typedef struct {
    /* A new client on a link: OPS (static, outlives the instance) and IO
     * (the link's handle, passed back to OPS).  PEER is the client's
     * address (its host in the prefix, the per-IP limit); SECURE is 1
     * when the link is TLS (wss://), which WHOIS shows (671) and SASL
     * EXTERNAL needs with CERTFP (a SHA-256 hex fingerprint of the
     * client certificate, lower case, or NULL).  Returns the client's id
     * (never 0, never reused), or 0 when refused (per-IP limit, the
     * instance is stopping); on 0 nothing was kept and OPS are never
     * called for IO (the link sends nothing and closes). */
    uint64_t (*attach)(void *self, const irc_link_ops_t *ops, void *io,
                       const struct sockaddr_storage *peer, int secure,
                       const char *certfp);
    /* One line from client ID, without CR LF (LEN bytes, not
     * NUL-terminated; may contain any bytes: the parser judges).  May
     * call ops->write and ops->close for this link before returning.
     * Returns LOOM_OK, or LOOM_ERROR when ID is not a client of this
     * instance any more (closed by the server, or never attached): the
     * link closes then without further calls. */
    int (*input)(void *self, uint64_t id, const char *line, size_t len);
    /* The link went below its low-water mark after a LOOM_AGAIN: paced
     * output (WHO, LIST) resumes.  Nothing happens for an unknown ID. */
    void (*drained)(void *self, uint64_t id);
    /* The link is gone (peer closed, protocol error): the client quits
     * with REASON (NULL: "Connection closed").  No ops call for ID
     * happens after this returns; an unknown ID is ignored. */
    void (*detach)(void *self, uint64_t id, const char *reason);
} irc_link_service_t;

#endif

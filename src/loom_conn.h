/*
 * loom_conn.h - connections: a stream with a handler on one side and a
 * transport (plain TCP, UNIX, TLS, in-memory) on the other.
 *
 * Input: the core reads into a shared scratch buffer and calls the
 * handler's data callback with every byte not yet consumed; the callback
 * returns how many it consumed and the core keeps the rest (bounded by the
 * connection's input limit) for the next call.  Output: writes are buffered
 * and flushed when the callback returns; above the high-water mark reading
 * pauses and loom_conn_write() returns LOOM_AGAIN, and the drain callback
 * runs once the buffer falls below the low-water mark.
 *
 * Callbacks never nest: no function below runs a callback of any
 * connection.  A connection's callbacks run only from the reactor (its
 * events, its timers, the core's deferred list), and a close or abort
 * asked for anywhere -- by the module, by the output cap -- is finished
 * there, after the asking code has returned.  So a module may write to,
 * close or abort any number of connections from any callback and every
 * one of them is still there (flagged as closing) until that callback
 * returns; its close callback runs later.
 */
#ifndef LOOM_CONN_H
#define LOOM_CONN_H

#include <sys/socket.h>

#include "loom.h"

/* Callbacks of whoever owns the protocol side of a connection.  All may be
 * NULL except data. */
typedef struct {
    /* The connection is established (after the TLS handshake on TLS).
     * Return LOOM_ERROR to close it at once. */
    int (*open)(loom_conn_t *c);
    /* Bytes arrived: BUF holds every byte not yet consumed.  Return the
     * number consumed (0..LEN).  The connection may be closed from here. */
    size_t (*data)(loom_conn_t *c, const char *buf, size_t len);
    /* The output buffer fell below the low-water mark. */
    void (*drain)(loom_conn_t *c);
    /* The connection is going away (peer closed, error, timeout, or
     * loom_conn_close); free per-connection resources here.  No write
     * is possible any more. */
    void (*close)(loom_conn_t *c);
} loom_handler_t;

/* TLS facts about a connection, NULL strings when not TLS or unknown. */
typedef struct {
    const char *sni;     /* server name the client asked for */
    const char *alpn;    /* negotiated ALPN id */
    const char *version; /* "TLSv1.3" */
} loom_tls_info_t;

/* Buffer write of LEN bytes (copied).  Returns LOOM_OK, LOOM_AGAIN when
 * the output is now above its high-water mark (keep the data coming only
 * after the drain callback), or LOOM_ERROR when the connection is closing
 * -- also when this write took it past its output cap, in which case it
 * is aborted (its close callback runs later, from the reactor). */
int loom_conn_write(loom_conn_t *c, const void *data, size_t len);

/* ---- shared buffers ------------------------------------------------------
 *
 * One message written to many connections (a chat line to a channel, an
 * event to every subscriber) is queued by reference, not copied: each
 * connection keeps a reference until the bytes are sent.  Reference
 * counts are not atomic: use buffers on the reactor thread only. */
typedef struct loom_buf_s loom_buf_t;

/* A buffer holding a copy of LEN bytes at DATA, with one reference (the
 * caller's). */
loom_buf_t *loom_buf_new(const void *data, size_t len);

/* printf-style loom_buf_new. */
loom_buf_t *loom_buf_printf(const char *fmt, ...) LOOM_PRINTF(1, 2);

/* Take one more reference; returns B. */
loom_buf_t *loom_buf_ref(loom_buf_t *b);

/* Drop one reference; the buffer is freed with the last. */
void loom_buf_unref(loom_buf_t *b);

/* The bytes and their count; valid while a reference is held. */
const char *loom_buf_data(const loom_buf_t *b);
size_t loom_buf_len(const loom_buf_t *b);

/* Queue B's bytes on C without copying them (C holds a reference until
 * they are sent or C goes away; the caller keeps its own).  Returns as
 * loom_conn_write. */
int loom_conn_write_buf(loom_conn_t *c, loom_buf_t *b);

/* printf-style loom_conn_write. */
int loom_conn_printf(loom_conn_t *c, const char *fmt, ...) LOOM_PRINTF(2, 3);

/* Queue LEN bytes of file FD from OFFSET (sendfile on plain TCP).  The
 * connection takes ownership of FD.  Returns as loom_conn_write. */
int loom_conn_write_file(loom_conn_t *c, int fd, off_t offset, size_t len);

/* Stop / start delivering input (back-pressure from the handler side). */
void loom_conn_pause(loom_conn_t *c);
void loom_conn_resume(loom_conn_t *c);

/* Close after flushing what is buffered (bounded by the write timeout).
 * Returns at once; no more input is delivered, writes fail, and the close
 * callback runs later from the reactor (never inside this call). */
void loom_conn_close(loom_conn_t *c);

/* Close discarding buffered output.  As loom_conn_close, the close
 * callback runs later from the reactor, never inside this call; to hear
 * nothing more, clear what the callbacks look at first (e.g.
 * loom_conn_set_data(c, NULL) on an outbound connection). */
void loom_conn_abort(loom_conn_t *c);

/* Abort C when more than MAX bytes of output are buffered (0: the
 * default, 16 MiB).  Set it low for connections that receive fan-out
 * (chat channels, event streams) so a slow reader is dropped early. */
void loom_conn_set_max_output(loom_conn_t *c, size_t max);

/* Start TLS on a live plain connection (server side), with the TLS
 * profile NAME (NULL: the listener's).  Input already buffered is dropped,
 * as STARTTLS requires.  Returns LOOM_OK or LOOM_ERROR. */
int loom_conn_starttls(loom_conn_t *c, const char *profile);

/* Keep C's memory valid across code that may lose track of it (a pointer
 * kept from one reactor turn to a later one): C is freed only after the
 * matching loom_conn_release, even if it was finalized in between (its
 * close callback has then run, and writes fail).  Within one callback no
 * hold is needed: nothing is finalized under a running callback. */
void loom_conn_hold(loom_conn_t *c);
void loom_conn_release(loom_conn_t *c);

/* Per-connection state of SIZE bytes the module asked for (conn_size),
 * or what loom_conn_set_data stored for outbound connections. */
void *loom_conn_data(loom_conn_t *c);
void loom_conn_set_data(loom_conn_t *c, void *data);

/* The module instance a connection was accepted for (NULL if outbound). */
loom_instance_t *loom_conn_instance(loom_conn_t *c);

/* Peer address as text ("127.0.0.1", "::1", "unix", "memory").  The
 * string lives in a buffer shared by every connection of the server:
 * valid until the next loom_conn_peer call; copy it to keep it. */
const char *loom_conn_peer(loom_conn_t *c);

/* Peer and local address as a sockaddr; LOOM_ERROR when there is none
 * (in-memory connections, a socket already closed). */
int loom_conn_peer_addr(loom_conn_t *c, struct sockaddr_storage *ss,
                        socklen_t *len);
int loom_conn_local_addr(loom_conn_t *c, struct sockaddr_storage *ss,
                         socklen_t *len);

/* TLS details; returns 0 and fills INFO when the connection is TLS. */
int loom_conn_tls_info(loom_conn_t *c, loom_tls_info_t *info);

/* Bytes buffered for output. */
size_t loom_conn_pending(loom_conn_t *c);

/* Raise the input limit (bytes kept unconsumed) for this connection. */
void loom_conn_set_max_input(loom_conn_t *c, size_t max);

/* ---- outbound connections: loom_client.h ------------------------------- */

/* ---- in-memory transport, for session tests (conn_mem.c) ----------------- */

/* A connection on an in-memory transport for INST: bytes fed with
 * loom_mem_feed go to the module, bytes it writes are collected. */
loom_conn_t *loom_mem_conn_new(loom_instance_t *inst);

/* Deliver LEN bytes as input; returns LOOM_OK or LOOM_ERROR if closed. */
int loom_mem_feed(loom_conn_t *c, const char *buf, size_t len);

/* Output collected so far (not NUL-terminated), and whether the module
 * closed the connection. */
const char *loom_mem_output(loom_conn_t *c, size_t *len);
int loom_mem_closed(loom_conn_t *c);

/* Free an in-memory connection (closes it first if needed). */
void loom_mem_conn_free(loom_conn_t *c);

#endif

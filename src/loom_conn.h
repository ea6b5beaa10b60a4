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
    const char *cipher;  /* "TLS_AES_256_GCM_SHA384" (OpenSSL's name) */
    /* SHA-256 of the client's certificate (DER) in lowercase hex, when the
     * listener's TLS profile has client_certs = yes and the client sent
     * one.  The certificate is not verified against any authority: the
     * fingerprint is what a module binds to an account (SASL EXTERNAL). */
    const char *peer_sha256;
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
 * event to every subscriber) is formatted once into a loom_buf_t and the
 * same buffer is handed to every connection.  Above 512 bytes it is
 * queued by reference, not copied: each connection keeps a reference
 * until the bytes are sent; a shorter one is copied into the
 * connection's output chain (loom_conn_write_buf).  Reference
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

/* Queue B's bytes on C (the caller keeps its reference).  Above 512
 * bytes they are not copied: C holds a reference until they are sent or
 * C goes away.  Up to 512 bytes they are copied into C's output, which is
 * cheaper than a reference (libevent gives each its own ~1 KiB chain).
 * Returns as loom_conn_write. */
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
 * profile NAME (NULL: the listener's), once the output buffered now is
 * out.  Input already buffered is dropped, as STARTTLS requires.  When the
 * handshake completes the open callback runs again (TLS is up).  Returns
 * LOOM_OK or LOOM_ERROR.  On an in-memory connection the switch is a fake
 * without crypto (loom_mem_tls). */
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

/* ---- in-memory transport, for session tests (conn_mem.c) ----------------- *
 *
 * Connections with no socket that go through the same core code as socket
 * ones (buffering, high/low-water marks, drain, pause, close after the
 * output is out).  The test plays the peer: it feeds input, reads the
 * output, decides how much output the peer accepts, and may finish its
 * side.  Two in-memory connections can be joined back to back instead.
 * Call these from test code, not from inside a connection's callback. */

/* The window of a peer that reads everything at once (the default). */
#define LOOM_MEM_UNLIMITED SIZE_MAX

/* The version loom_conn_tls_info reports after the fake STARTTLS. */
#define LOOM_MEM_TLS_VERSION "TLSv1.3 (in-memory)"

/* A connection on an in-memory transport for INST, as if accepted on one
 * of its listeners (the open callback runs now). */
loom_conn_t *loom_mem_conn_new(loom_instance_t *inst);

/* A connection driven by handler H with data pointer DATA, as loom_connect
 * gives one to its caller (outbound, the open callback is not called): a
 * module's or a test's client side, to join with loom_mem_join. */
loom_conn_t *loom_mem_conn_new_handler(loom_server_t *srv,
                                       const loom_handler_t *h, void *data);

/* The peer sends LEN bytes: they are read (and handed to the handler) at
 * once unless the connection is not reading now (paused, output full,
 * STARTTLS pending), then when it reads again.  Returns LOOM_OK, or
 * LOOM_ERROR when the connection is closing or the peer already finished
 * sending. */
int loom_mem_feed(loom_conn_t *c, const char *buf, size_t len);

/* The peer finishes sending (shutdown(SHUT_WR)): after the bytes fed so
 * far, the connection reads end of file and the core closes it, as on a
 * socket.  Returns LOOM_OK, or LOOM_ERROR when C is already finalized. */
int loom_mem_shutdown(loom_conn_t *c);

/* Back-pressure: from now on the peer accepts BYTES more bytes of C's
 * output and then stops reading (LOOM_MEM_UNLIMITED: reads everything).
 * Output beyond it stays buffered on C: loom_conn_write returns
 * LOOM_AGAIN above the high-water mark and input stops being delivered.
 * In a pair, every byte the other end reads opens the window by one
 * again, as a receive buffer of that size; set it after loom_mem_join. */
void loom_mem_set_window(loom_conn_t *c, size_t bytes);

/* The peer reads N more bytes of C's output (opens a limited window by
 * N): what waits goes out at once, and the drain callback runs when the
 * buffer falls below the low-water mark. */
void loom_mem_consume(loom_conn_t *c, size_t n);

/* Bytes of output the peer accepts now. */
size_t loom_mem_window(loom_conn_t *c);

/* Join A and B back to back: what one writes is the other's input, from
 * the reactor (run the event loop), with each one's window.  What each
 * had written before (a greeting) is passed over first.  When one is
 * finalized the other reads end of file.  Returns LOOM_OK, or LOOM_ERROR
 * when either is finalized, already joined, or not in-memory. */
int loom_mem_join(loom_conn_t *a, loom_conn_t *b);

/* Output the peer accepted so far (not NUL-terminated; valid until the
 * next call on C). */
const char *loom_mem_output(loom_conn_t *c, size_t *len);

/* Whether the connection is closed or closing (a close or abort was asked
 * for; its output may still be waiting for the window). */
int loom_mem_closed(loom_conn_t *c);

/* Whether the connection is finalized: its close callback ran, its
 * output is complete in loom_mem_output and the peer reads end of file. */
int loom_mem_ended(loom_conn_t *c);

/* Whether loom_conn_starttls switched C to its fake TLS (no crypto;
 * loom_conn_tls_info then reports LOOM_MEM_TLS_VERSION). */
int loom_mem_tls(loom_conn_t *c);

/* Free an in-memory connection (finalizes it first if needed; the other
 * end of a pair reads end of file). */
void loom_mem_conn_free(loom_conn_t *c);

#endif

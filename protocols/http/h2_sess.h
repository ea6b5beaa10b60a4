/*
 * h2_sess.h - an HTTP/2 server session (RFC 9113), sans I/O: bytes from
 * the peer go in through h2s_recv, which calls back for request heads,
 * body bytes and stream ends; frames to send accumulate in the session's
 * output buffer, taken with h2s_send.  The session owns the stream state
 * machine (5.1), flow control (5.2, 6.9), SETTINGS, PING, GOAWAY (with a
 * two-step graceful shutdown), RST_STREAM, CONTINUATION, the request
 * field rules (8.2, 8.3) and the abuse limits (control-frame budget,
 * stream reset rate, CONTINUATION count); HPACK is hpack.c's.
 *
 * Callbacks never run from inside an h2s_submit_* call: only from
 * h2s_recv and h2s_send, so a caller may submit from any callback.
 * Stream user data (SUD) is the caller's pointer given at begin_headers.
 */
#ifndef LOOM_H2_SESS_H
#define LOOM_H2_SESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "h2_frame.h"

typedef struct h2s_s h2s_t;

/* h2s_callbacks_t.field's PSEUDO: which pseudo-field it is */
#define H2S_PSEUDO_METHOD 1
#define H2S_PSEUDO_PATH 2
#define H2S_PSEUDO_SCHEME 4
#define H2S_PSEUDO_AUTHORITY 8

/* read_data results besides a byte count */
#define H2S_DEFERRED (-1) /* nothing now: h2s_resume_data later */

typedef struct {
    /* A new request stream SID: return its user data (non-NULL). */
    void *(*begin)(void *ud, int32_t sid);
    /* One valid request field (pseudo-fields included, in block order);
     * PSEUDO is H2S_PSEUDO_* or 0 for a regular field; the bytes are
     * valid during the call only. */
    void (*field)(void *ud, void *sud, unsigned pseudo, const char *name,
                  size_t nl, const char *value, size_t vl);
    /* The request head is complete and valid; END: it had END_STREAM. */
    void (*head)(void *ud, void *sud, int end);
    /* Request body bytes (padding removed); give the window back with
     * h2s_consume once they are taken. */
    void (*data)(void *ud, void *sud, const uint8_t *p, size_t len);
    /* The request ended (END_STREAM on DATA or trailers) and checked. */
    void (*end)(void *ud, void *sud);
    /* Up to LEN response body bytes into BUF: returns how many, or
     * H2S_DEFERRED; sets *EOF when the body ends with them. */
    ssize_t (*read_data)(void *ud, void *sud, uint8_t *buf, size_t len,
                         int *eof);
    /* Our END_STREAM went out on SUD (the answer is complete). */
    void (*answered)(void *ud, void *sud);
    /* Stream SUD is closed (ERR: the reset code, or 0); last call for it. */
    void (*close)(void *ud, void *sud, uint32_t err);
    /* The peer acknowledged the PING whose payload is OPAQUE. */
    void (*ping_ack)(void *ud, const uint8_t *opaque);
} h2s_callbacks_t;

/* Our side's settings and limits. */
typedef struct {
    uint32_t max_streams;     /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t window;          /* SETTINGS_INITIAL_WINDOW_SIZE */
    uint32_t conn_window;     /* the connection's receive window */
    uint32_t max_header_list; /* SETTINGS_MAX_HEADER_LIST_SIZE */
    unsigned max_continuations;
    unsigned reset_burst, reset_rate; /* client RST_STREAM per second */
    double ctrl_burst, ctrl_rate;     /* control frames per second */
} h2s_config_t;

/* A new session calling CB with UD; its SETTINGS (and the connection
 * WINDOW_UPDATE) are queued.  Returns NULL on allocation failure.  Free
 * with h2s_free. */
h2s_t *h2s_new(const h2s_callbacks_t *cb, void *ud, const h2s_config_t *cfg);

/* Free SS and its streams (no callbacks). */
void h2s_free(h2s_t *ss);

/* Upgrade: h2c.  SETTINGS[LEN] is the decoded HTTP2-Settings payload; the
 * request becomes stream 1 (half-closed remote) with user data SUD.
 * Returns 0, or -1 for bad settings. */
int h2s_upgrade(h2s_t *ss, const uint8_t *settings, size_t len, void *sud);

/* Feed LEN bytes from the peer.  Returns 0, or -1 once the session hit a
 * connection error (GOAWAY queued; further input is ignored).  Reasons
 * for logs: h2s_error. */
int h2s_recv(h2s_t *ss, const uint8_t *p, size_t len);

/* Make frames (DATA as windows and read_data allow) and return the
 * bytes waiting to go out, *DATA pointing at them (valid until the next
 * call into SS); 0 when there is nothing.  The caller must take all of
 * them (the session forgets them at the next call). */
size_t h2s_send(h2s_t *ss, const uint8_t **data);

/* Non-zero while the connection should stay: not terminated, and not
 * past a GOAWAY (ours final, or the peer's) with no streams left. */
int h2s_alive(const h2s_t *ss);

/* The response head for stream SID: NV is N (name, value) pairs of
 * lowercase names after ":status" STATUS; BODY non-zero means read_data
 * supplies a body.  Returns 0, or -1 (no such stream, or head sent). */
typedef struct {
    const char *name, *value;
    size_t nl, vl;
    unsigned sidx;  /* the name's HPACK static index, or 0 */
    unsigned flags; /* H2S_NV_* */
} h2s_nv_t;
/* h2s_nv_t.flags: a value that changes from response to response (date,
 * content-length, etag...): a literal without indexing on the static
 * name SIDX, written directly (no table lookups); needs SIDX. */
#define H2S_NV_LITERAL 1
int h2s_submit_response(h2s_t *ss, int32_t sid, unsigned status,
                        const h2s_nv_t *nv, size_t n, int body);

/* read_data answered H2S_DEFERRED for SID: there is more now. */
void h2s_resume_data(h2s_t *ss, int32_t sid);

/* Reset stream SID with CODE (its close callback follows later). */
void h2s_submit_rst(h2s_t *ss, int32_t sid, uint32_t code);

/* The first step of a graceful shutdown: GOAWAY naming 2^31-1, and a
 * PING with OPAQUE; the final GOAWAY is h2s_goaway_final. */
void h2s_shutdown_notice(h2s_t *ss, const uint8_t *opaque);
void h2s_goaway_final(h2s_t *ss);

/* End the session with GOAWAY CODE (a connection error of our own). */
void h2s_terminate(h2s_t *ss, uint32_t code, const char *why);

/* LEN body bytes of SID were taken: reopen the windows. */
void h2s_consume(h2s_t *ss, int32_t sid, size_t len);

/* Why the session ended (a static string), or NULL. */
const char *h2s_error(const h2s_t *ss);

/* The highest stream id a request was accepted on. */
int32_t h2s_last_stream(const h2s_t *ss);

#endif

/*
 * h1_resp.h - a sans-I/O HTTP/1.1 response parser (RFC 9112), for the
 * client side of loom (the reverse proxy talking to its upstreams): the
 * response head (status line and header fields), the framing rules that
 * decide how the body ends (RFC 9112 section 6.3), and a body reader for
 * the three ways a body can be delimited (Content-Length, chunked, close).
 *
 * As h1_parse.h: nothing here allocates, reads a socket or keeps a pointer
 * past the call; slices point into the caller's buffer.  Return convention:
 * a positive byte count when done, H1_PARTIAL when more input is needed,
 * H1_ERROR when the bytes cannot be a valid response.
 */
#ifndef H1_RESP_H
#define H1_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "h1_parse.h"

/* A parsed response head.  The caller sets fields/max_fields (an array
 * the parser fills) before the call. */
typedef struct {
    int minor;           /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    int status;          /* 100-999 */
    loom_slice_t reason; /* reason phrase, possibly empty */
    h1_field_t *fields;  /* caller's array */
    size_t max_fields;   /* its size: more fields than this is an error */
    size_t nfields;      /* fields filled */
} h1_resp_head_t;

/* Parse a response head from BUF[0..LEN): status line, header fields and
 * the empty line.  LAST_LEN is the LEN of the previous call on the same
 * head that returned H1_PARTIAL (0 the first time): only the new bytes are
 * searched for the end of the head.
 *
 * Returns the length of the head (through the empty line) with H filled,
 * H1_PARTIAL when no complete head is in BUF yet and LEN is at most
 * MAX_HEAD, or H1_ERROR: the head (or BUF, while partial) is longer than
 * MAX_HEAD; the status line is not "HTTP/1.0" or "HTTP/1.1", SP, three
 * digits (first 1-9), then end of line or SP and a reason phrase of
 * HTAB/SP/VCHAR/obs-text; a bare CR anywhere; a field line starting with
 * whitespace (obs-fold), with whitespace before its colon, an empty or
 * non-token name, no colon, or CTL / DEL in its value; more than
 * H->max_fields fields.  Lines end in CRLF or a bare LF. */
int h1_resp_parse_head(const char *buf, size_t len, size_t last_len,
                       size_t max_head, h1_resp_head_t *h);

/* How a response body is delimited. */
enum {
    H1R_BODY_NONE = 0, /* no body (HEAD, 1xx, 204, 304) */
    H1R_BODY_LENGTH,   /* exactly content_length bytes */
    H1R_BODY_CHUNKED,  /* chunked transfer coding */
    H1R_BODY_CLOSE     /* everything until the connection closes */
};

typedef struct {
    int body;               /* H1R_BODY_* */
    int64_t content_length; /* the Content-Length value, -1 when absent
                             * (also given with BODY_NONE: a response to
                             * HEAD, a 304) */
    int keep_alive;         /* the connection may carry another request:
                             * HTTP/1.1, no "close" in Connection, and the
                             * body end is known (not BODY_CLOSE) */
    int interim;            /* 1xx other than 101: the final head follows */
    int upgrade;            /* 101 Switching Protocols */
} h1_resp_framing_t;

/* Apply RFC 9112 section 6.3 to head H, the answer to a HEAD request when
 * HEAD_REQUEST is set.  Returns LOOM_OK with F filled, or H1_ERROR when:
 * Transfer-Encoding is anything but one "chunked" coding (case-insensitive)
 * in an HTTP/1.1 response; Transfer-Encoding and Content-Length are both
 * present; Content-Length is not 1*DIGIT, overflows int64, or several
 * Content-Length values differ (identical repeats are allowed).  Fields
 * of a response that has no body are checked all the same. */
int h1_resp_framing(const h1_resp_head_t *h, int head_request,
                    h1_resp_framing_t *f);

/* ---- reading the body ---------------------------------------------------- */

typedef struct {
    int mode;      /* H1R_BODY_* */
    uint64_t left; /* BODY_LENGTH: bytes still to come */
    h1_chunked_t ck;
    int done; /* the body is complete */
} h1_resp_body_t;

/* Start reading the body framed as F says. */
void h1_resp_body_init(h1_resp_body_t *b, const h1_resp_framing_t *f);

/* Read body bytes from BUF[0..LEN).  Returns the number of bytes consumed
 * (0 only when LEN is 0 or B->done), setting *DATA to the body bytes among
 * them (a slice of BUF, possibly empty); call again with the rest until it
 * consumes nothing or B->done.  Bytes after a complete body are never
 * consumed.  Returns H1_ERROR on a malformed chunked coding (see
 * h1_chunked_decode). */
long h1_resp_body_read(h1_resp_body_t *b, const char *buf, size_t len,
                       loom_slice_t *data);

/* The connection closed: LOOM_OK when that completes the body (B->done is
 * then set: a close-delimited body, or one that was complete already),
 * LOOM_ERROR when the body was cut short. */
int h1_resp_body_eof(h1_resp_body_t *b);

#endif

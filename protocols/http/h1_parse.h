/*
 * h1_parse.h - a sans-I/O HTTP/1.1 request parser (RFC 9112): the request
 * head (request line and header fields), the framing rules that decide how
 * long the body is, and a chunked-body decoder.
 *
 * Nothing here allocates, reads a socket or keeps a pointer past the call:
 * the head parser fills slices that point into the caller's buffer, and the
 * chunked decoder reports body data as slices of the buffer it was given.
 * Return convention (as picohttpparser): a positive byte count when done,
 * H1_PARTIAL when more input is needed, H1_ERROR with an HTTP status code
 * describing the problem.
 */
#ifndef H1_PARSE_H
#define H1_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"

#define H1_ERROR (-1)
#define H1_PARTIAL (-2)

/* One header field: name as sent (case kept), value with leading and
 * trailing whitespace (SP / HTAB) removed. */
typedef struct {
    loom_slice_t name, value;
} h1_field_t;

/* Limits of a request head. */
typedef struct {
    size_t max_line;   /* request line, without its CRLF (8192) */
    size_t max_fields; /* header field count (100) */
    size_t max_head;   /* header section after the request line, including
                        * every line's CRLF and the final empty line
                        * (32768) */
} h1_limits_t;

/* A parsed request head.  The caller sets fields/max_fields (an array the
 * parser fills) before the call. */
typedef struct {
    loom_slice_t method; /* token */
    loom_slice_t target; /* request-target as sent */
    int minor;           /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    h1_field_t *fields;  /* caller's array */
    size_t max_fields;   /* its size (at least limits->max_fields + 1) */
    size_t nfields;      /* fields filled */
} h1_head_t;

/* Parse a request head from BUF[0..LEN).  LAST_LEN is the LEN of the
 * previous call on the same head that returned H1_PARTIAL (0 the first
 * time); it lets the parser resume its search for the end of the head
 * instead of rescanning.
 *
 * Returns the length of the head (through the empty line) with H filled,
 * H1_PARTIAL when the head is incomplete and still within the limits, or
 * H1_ERROR with *STATUS set:
 *   414  request line longer than max_line (also while still partial);
 *   431  header section longer than max_head or more than max_fields
 *        fields (also while still partial);
 *   505  an HTTP version other than 1.0 / 1.1 (HTTP/2.0, HTTP/1.2, ...);
 *   400  anything else malformed: method not a token, target empty or
 *        holding SP/CTL/NUL/DEL, more than one SP between parts, bad
 *        version syntax, bare CR anywhere, a field line starting with SP or
 *        HTAB (obs-fold), whitespace between field name and colon, a field
 *        name that is empty or not a token, NUL / CTL other than HTAB in a
 *        value (obs-text 0x80-0xff is allowed), a line without a colon.
 * Lines end in CRLF; a bare LF is accepted as a line end in the head (RFC
 * 9112 section 2.2) but a bare CR never is.  Empty lines before the
 * request line (at most a few CRLFs) are skipped and counted in the
 * returned length. */
int h1_parse_head(const char *buf, size_t len, size_t last_len,
                  const h1_limits_t *lim, h1_head_t *h, int *status);

/* tchar (RFC 9110 section 5.6.2): 1 for the bytes of a token. */
extern const unsigned char h1_tchar[256];

/* Does slice P/N equal lowercase LC (LCN bytes), ignoring ASCII case? */
int h1_ieq(const char *p, size_t n, const char *lc, size_t lcn);
#define H1_IEQ(s, lit) h1_ieq((s).p, (s).len, lit, sizeof(lit) - 1)

/* M as 1*DIGIT within int64 (a Content-Length): 0 with *OUT set, or -1
 * (empty, a non-digit, overflow). */
int h1_digits(loom_slice_t m, int64_t *out);

/* How the request body is delimited, from the parsed head's fields. */
typedef struct {
    int chunked;            /* Transfer-Encoding: chunked */
    int64_t content_length; /* -1 when absent (0 body bytes unless
                             * chunked) */
    int keep_alive;         /* the client allows another request after
                             * this one: 1.1 without "close", or 1.0 with
                             * "keep-alive" */
    int expect_continue;    /* Expect: 100-continue */
    int upgrade_h2c;        /* Upgrade: h2c with an HTTP2-Settings field
                             * and Connection naming both (part 2) */
    loom_slice_t host;      /* the Host field value, or empty */
    int has_host;           /* exactly one Host field was present */
} h1_framing_t;

/* Apply RFC 9112's message-framing rules to head H.  Returns LOOM_OK with
 * F filled, or H1_ERROR with *STATUS (400 unless noted) when:
 *   both Content-Length and Transfer-Encoding are present;
 *   Content-Length is not 1*DIGIT (sign, inner spaces, empty, non-digit),
 *     or overflows int64, or several Content-Length fields / list members
 *     differ (identical repeats are allowed);
 *   Transfer-Encoding is anything but exactly one final "chunked" coding
 *     (case-insensitive; "gzip, chunked" -> 501; "chunked, gzip",
 *     "chunked, chunked", empty, or in an HTTP/1.0 request -> 400);
 *   HTTP/1.1 without Host, or more than one Host field;
 *   Expect with anything but 100-continue -> 417.
 * Connection tokens are matched case-insensitively in a comma list. */
int h1_framing(const h1_head_t *h, h1_framing_t *f, int *status);

/* Case-insensitive field lookup: the first field named NAME (NUL-terminated,
 * lowercase) or NULL. */
const h1_field_t *h1_find_field(const h1_head_t *h, const char *name);

/* The same over any array of NFIELDS fields (a request's, after the head
 * buffer is gone). */
const h1_field_t *h1_field_lookup(const h1_field_t *f, size_t nfields,
                                  const char *name);

/* The same with NAME's length given: NAME[NLEN] need not be terminated. */
const h1_field_t *h1_field_lookupn(const h1_field_t *f, size_t nfields,
                                   const char *name, size_t nlen);

/* ---- chunked transfer coding (RFC 9112 section 7.1) ---------------------- */

typedef struct {
    int state;          /* private */
    uint64_t remain;    /* bytes left in the current chunk's data */
    size_t line_len;    /* bytes of the current size / trailer line */
    size_t trailer_len; /* bytes of trailer section so far */
    int done;           /* set once the last chunk and trailers are read */
} h1_chunked_t;

/* Largest chunk-size line (size, extensions) and trailer section. */
#define H1_CHUNK_LINE_MAX 4096
#define H1_TRAILER_MAX 32768

/* Start decoding a new body: zero D. */
void h1_chunked_init(h1_chunked_t *d);

/* Decode from BUF[0..LEN).  Returns the number of bytes consumed (0 only
 * when LEN is 0 or D->done), setting *DATA to the body bytes among them (a
 * slice of BUF, possibly empty); call again with the rest until it
 * consumes nothing or D->done.  Returns H1_ERROR on malformed input: a
 * chunk size that is empty, not hex (so "0x1a", "+5", "-5" fail), longer
 * than 16 hex digits or overflowing 2^63-1; extensions that are not
 * `;token[=token|quoted-string]` with optional whitespace; a bare LF or a
 * bare CR in a size line or after chunk data (CRLF is required in the
 * chunked coding); a size line over H1_CHUNK_LINE_MAX; trailer fields
 * malformed as in the head or over H1_TRAILER_MAX in total.  Trailers are
 * validated and discarded. */
long h1_chunked_decode(h1_chunked_t *d, const char *buf, size_t len,
                       loom_slice_t *data);

#endif

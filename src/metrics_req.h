/*
 * metrics_req.h - the request parser of the built-in metrics listener
 * (metrics_http.c), sans I/O: bytes in, a verdict out.  It reads an
 * HTTP/1.0 or HTTP/1.1 request head (request line, header lines, blank
 * line); the listener answers GET and HEAD of /metrics and nothing else,
 * so headers are checked for form and otherwise ignored.
 */
#ifndef LOOM_METRICS_REQ_H
#define LOOM_METRICS_REQ_H

#include <stddef.h>

/* Bytes of a request head the parser reads before giving up. */
#define LOOM_MREQ_MAX 8192

typedef enum {
    LOOM_MREQ_AGAIN = 0, /* the head is not complete: call again with more */
    LOOM_MREQ_OK,        /* a well-formed head */
    LOOM_MREQ_BAD,       /* malformed: answer 400 */
    LOOM_MREQ_TOO_LONG   /* no end within LOOM_MREQ_MAX bytes: 400 */
} loom_mreq_status_t;

typedef enum {
    LOOM_MREQ_GET,
    LOOM_MREQ_HEAD,
    LOOM_MREQ_OTHER /* a well-formed method the listener does not serve */
} loom_mreq_method_t;

typedef struct {
    loom_mreq_method_t method;
    const char *path; /* into the caller's buffer, up to '?' or the end */
    size_t path_len;
    int minor;       /* HTTP/1.MINOR */
    size_t head_len; /* bytes of the head, blank line included */
} loom_mreq_t;

/* Parse the request head at the start of BUF (LEN bytes, all that has
 * arrived).  Returns LOOM_MREQ_OK with *REQ filled (its path points into
 * BUF), or AGAIN, BAD, TOO_LONG.  Pure: the same bytes give the same
 * answer however they arrived. */
loom_mreq_status_t loom_mreq_parse(const char *buf, size_t len,
                                   loom_mreq_t *req);

#endif

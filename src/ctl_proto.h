/*
 * ctl_proto.h - the control socket's request line, sans I/O.
 *
 * A client sends one line of at most LOOM_CTL_LINE_MAX bytes ending in
 * "\n" (a "\r" before it is allowed): words separated by spaces or tabs,
 * a word may be double-quoted with \" and \\ as its only escapes.  The
 * line must be UTF-8 without control characters (tab aside).  The server
 * answers one JSON object and closes (see ctl.c and loomctl(8)).
 */
#ifndef LOOM_CTL_PROTO_H
#define LOOM_CTL_PROTO_H

#include <stddef.h>

#include "loom.h"

#define LOOM_CTL_LINE_MAX 4096 /* bytes of a request, its "\n" included */
#define LOOM_CTL_ARGS_MAX 64   /* words of a request */

/* A parsed request: ARGC words in ARGV (NUL-terminated, NULL after the
 * last), all stored in MEM. */
typedef struct {
    int argc;
    char *argv[LOOM_CTL_ARGS_MAX + 1];
    char *mem;
} loom_ctl_req_t;

/* Parse the request at the start of BUF (LEN bytes received so far).
 * Returns the length of the line (its "\n" included, > 0) with REQ
 * filled (release it with loom_ctl_req_free), LOOM_AGAIN when no whole
 * line has arrived and one still may, or LOOM_ERROR with a one-line
 * message in ERR (ERRLEN bytes): too long, bad quoting, a control
 * character, not UTF-8, no word, too many words.  REQ needs no freeing
 * unless the return is positive. */
long loom_ctl_parse(const char *buf, size_t len, loom_ctl_req_t *req, char *err,
                    size_t errlen);

/* Free what loom_ctl_parse stored in REQ (harmless on a zeroed REQ). */
void loom_ctl_req_free(loom_ctl_req_t *req);

/* Length of the valid UTF-8 sequence at P (N bytes available): 1-4, or 0
 * when the bytes there are not one (overlong forms, surrogates and code
 * points above U+10FFFF are not). */
size_t loom_ctl_utf8_seq(const unsigned char *p, size_t n);

/* A heap copy of the N bytes at S (NUL-terminated) in which every byte
 * that does not begin a valid UTF-8 sequence, and every control byte
 * except tab and newline, is replaced by '?': safe to put in JSON. */
char *loom_ctl_clean(const char *s, size_t n);

#endif

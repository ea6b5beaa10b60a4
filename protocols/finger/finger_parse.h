/*
 * finger_parse.h - RFC 1288 query parsing and output filtering, sans I/O.
 *
 *   {Q1} ::= [{W} | {W}{S}{U}]{C}
 *   {Q2} ::= [{W}{S}][{U}]{H}{C}
 *   {H}  ::= @{hostname} | @{hostname}{H}
 *   {W}  ::= /W     {S} ::= one or more SP
 */
#ifndef FINGER_PARSE_H
#define FINGER_PARSE_H

#include <stddef.h>

#include "loom.h"

/* Longest query line accepted, without CRLF (RFC 1288 sets no limit;
 * 512 bytes is more than any real client sends). */
#define FINGER_QUERY_MAX 512

typedef enum {
    FINGER_Q_OK = 0,
    FINGER_Q_TOO_LONG, /* over FINGER_QUERY_MAX bytes */
    FINGER_Q_BAD_CHAR, /* non-ASCII or control character */
    FINGER_Q_SYNTAX    /* e.g. an empty host name, "/X", a space in {U} */
} finger_q_status_t;

typedef struct {
    int verbose;          /* /W was given */
    loom_slice_t user;    /* {U}, possibly empty */
    loom_slice_t host;    /* last @host ({Q2}); empty for {Q1} */
    loom_slice_t forward; /* query to send to host: {U} and all but the
                             last @host, e.g. "bob@a" for "bob@a@b" */
} finger_query_t;

/* Parse one query line (LINE[0..LEN), CRLF already removed).  Returns a
 * finger_q_status_t; Q is filled only on FINGER_Q_OK and its slices point
 * into LINE. */
finger_q_status_t finger_parse_query(const char *line, size_t len,
                                     finger_query_t *q);

/* A one-line English description of a non-OK status. */
const char *finger_q_strerror(finger_q_status_t st);

/* Copy IN[0..LEN) to OUT keeping printable ASCII and TAB, turning LF and
 * CRLF into CRLF, dropping other CRs, and replacing every other byte with
 * '?'.  OUT must hold 2 * LEN bytes; returns the bytes written. */
size_t finger_filter(const char *in, size_t len, char *out);

#endif

/*
 * doh_param.h - the wire-level pieces of DNS over HTTPS (RFC 8484) that
 * need no server: the `dns` parameter of a GET, its base64url decoding,
 * and the freshness lifetime of an answer.  Pure functions (unit tested
 * and fuzzed on their own).
 */
#ifndef DOH_PARAM_H
#define DOH_PARAM_H

#include <stddef.h>
#include <stdint.h>

/* The longest `dns` value a GET may carry: the base64url form of a
 * 4096-byte message (no DNS query needs more; a longer one gets 414). */
#define DOH_GET_MAX 5462

enum {
    DOH_P_OK = 0,
    DOH_P_MISSING, /* no dns= parameter */
    DOH_P_TWICE,   /* dns= given more than once */
};

/* Find the value of the `dns` parameter in QUERY (QLEN bytes, the part of
 * the target after '?'; may be NULL when QLEN is 0), among parameters
 * separated by '&'.  On DOH_P_OK *VAL / *VLEN point into QUERY. */
int doh_get_param(const char *query, size_t qlen, const char **val,
                  size_t *vlen);

/* Decode base64url IN (LEN characters, RFC 4648 section 5, no padding,
 * as RFC 8484 requires) into OUT (CAP bytes).  Returns the number of
 * bytes, or -1: a character outside the alphabet (including '=' and
 * percent escapes), a length that cannot be base64 (LEN % 4 == 1), bits
 * left over that are not zero (a non-canonical encoding), or more than
 * CAP bytes. */
long doh_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* The freshness lifetime of DNS answer MSG (LEN bytes), RFC 8484 5.1: the
 * smallest TTL in the answer section; with no answer records, that of
 * the authority section, an SOA counting as the smaller of its TTL and
 * its MINIMUM (RFC 2308 negative caching).  OPT records are skipped.
 * Returns 0 with *TTL set, 1 when there is no record to take it from,
 * -1 when the message is malformed. */
int doh_min_ttl(const uint8_t *msg, size_t len, uint32_t *ttl);

#endif

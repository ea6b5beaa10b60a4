/*
 * bus_int.h - the bus's insides, shared by its files (bus_msg.c,
 * bus_tmpl.c, bus.c, bus_conf.c) and their unit tests; modules use
 * loom_bus.h only.
 */
#ifndef BUS_INT_H
#define BUS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "loom_bus.h"

struct loom_msg_s {
    unsigned refs;
    int published;
    char *topic;
    const char *module, *instance; /* into origin once published */
    char origin[112];              /* "module\0instance\0" */
    uint64_t id, time_ms;
    char *arena; /* field names and values, each NUL-terminated */
    size_t alen, acap;
    void *offs;           /* field offsets into the arena while building */
    loom_field_t *fields; /* made when published */
    size_t nf, fcap;
    char *body;
    size_t blen;
    uint32_t trail[LOOM_BUS_MAX_HOPS]; /* ids of the routes passed */
    unsigned hops;
    int over;               /* its cause had passed LOOM_BUS_MAX_HOPS routes */
    loom_field_t pseudo[6]; /* @topic @module @instance @id @time @body */
    char idbuf[24], timebuf[24];
};

/* ---- bus_msg.c ---------------------------------------------------------- */

/* Publish-time stamp: fields become readable, the message immutable. */
void loom_msg_freeze(loom_msg_t *m, const char *module, const char *instance,
                     uint64_t id, uint64_t time_ms);

/* M's trail becomes CAUSE's trail plus ROUTE (a route id). */
void loom_msg_inherit(loom_msg_t *m, const loom_msg_t *cause, uint32_t route);

/* Has M passed route ROUTE? */
int loom_msg_passed(const loom_msg_t *m, uint32_t route);

/* Is S (LEN bytes) valid UTF-8? */
int loom_utf8_valid(const char *s, size_t len);

/* Append S (N bytes) as a quoted JSON string to the growable buffer
 * *BUF (*LEN used, *CAP allocated); bytes that are not UTF-8 become
 * U+FFFD. */
void loom_json_string(char **buf, size_t *len, size_t *cap, const char *s,
                      size_t n);

/* ---- bus_tmpl.c: templates, matches, token buckets ---------------------- */

typedef struct bus_tmpl_s bus_tmpl_t;

/* Compile template TEXT: literal text with ${NAME} and
 * ${NAME|FILTER|FILTER:ARG...} substitutions.  NAME is any run of bytes
 * but '}' and '|' (a field, dotted or not, or a pseudo-field such as
 * @topic: whatever loom_msg_get answers).  "$$" is a literal '$', and so
 * is a '$' before anything but '{' or '$'.  Filters run left to right:
 *   json       a quoted JSON string (not UTF-8: U+FFFD)
 *   url        percent-encoding of all but RFC 3986 unreserved bytes
 *   trunc:N    at most N characters (N > 0); a valid UTF-8 sequence is one
 *              character and never cut, any other byte is one character
 *   lower, upper   ASCII letters only
 *   default:X  X when the value is empty (a missing field is empty); X is
 *              the rest up to the next '|' or '}', so it cannot hold those
 *              two (there are no escapes)
 *   line       control bytes removed: CR, LF, NUL, TAB and the others below
 *              0x20, and 0x7f
 * A template runs no code.  Returns NULL with a message in ERR (no file
 * or line: the caller adds them) on an unknown filter, a bad or missing
 * argument, an empty name or filter, or an unclosed "${".  The caller
 * frees the template with bus_tmpl_free. */
bus_tmpl_t *bus_tmpl_compile(const char *text, char *err, size_t errlen);

/* Render T for message M (frozen; may be NULL: every field missing) into
 * a heap NUL-terminated string the caller frees; *LEN (LEN may be NULL)
 * its length.  A missing field renders as "" (or its default:). */
char *bus_tmpl_render(const bus_tmpl_t *t, const loom_msg_t *m, size_t *len);

/* Does T hold no substitution (a constant)? */
int bus_tmpl_constant(const bus_tmpl_t *t);

/* Free T (NULL is fine). */
void bus_tmpl_free(bus_tmpl_t *t);

typedef struct bus_match_s bus_match_t;

/* Compile one match: "NAME = VALUE", "NAME != VALUE", "NAME ~ REGEX"
 * (POSIX extended), "NAME !~ REGEX", "NAME < N", "NAME <= N", "NAME > N",
 * "NAME >= N" (numbers, as strtod reads them), "NAME" (exists), "!NAME"
 * (does not exist).  NAME cannot hold spaces, '=', '!', '~', '<' or '>';
 * the operator is the first of those after it.  Spaces around the
 * operator are optional; VALUE is the rest of the text as written
 * (trailing spaces too; "NAME =" matches an empty value).  NULL with a
 * message in ERR when malformed (no name, no operator, an empty or bad
 * regex, N not a number); free with bus_match_free. */
bus_match_t *bus_match_compile(const char *text, char *err, size_t errlen);

/* Does frozen M satisfy MT?  "=" and "~" are false on a missing field,
 * "!=" and "!~" (their negations) true.  A numeric compare on a missing
 * or non-numeric field (strtod must read the whole value, spaces around
 * it aside) is false.  A regex sees the whole value, NUL bytes too. */
int bus_match_test(const bus_match_t *mt, const loom_msg_t *m);

/* Free MT (NULL is fine). */
void bus_match_free(bus_match_t *mt);

/* A token bucket: COUNT messages per PERIOD_MS on average, BURST at once. */
typedef struct {
    double per_ms; /* tokens added per millisecond */
    double burst;  /* bucket size */
    double tokens;
    uint64_t last; /* loom_now_ms() of the last refill */
} bus_bucket_t;

/* Parse a rate "N/Ts", "N/s", "N/Tm", "N/m", "N/Th", "N/h" (decimal
 * digits only, 0 < N <= 10^9, 0 < T <= 10^6) into *COUNT per *PERIOD_MS.
 * LOOM_OK or LOOM_ERROR. */
int bus_rate_parse(const char *s, uint64_t *count, uint64_t *period_ms);

/* Start B full at NOW.  BURST 0 means COUNT (a whole period's worth). */
void bus_bucket_init(bus_bucket_t *b, uint64_t count, uint64_t period_ms,
                     unsigned burst, uint64_t now);

/* Take a token at NOW: 1 when there was one, else 0.  No clock is read:
 * NOW is the caller's (a NOW before the last one refills nothing). */
int bus_bucket_take(bus_bucket_t *b, uint64_t now);

/* Milliseconds from NOW until a token is there (0: now); take() at
 * NOW + that finds one. */
uint64_t bus_bucket_wait(const bus_bucket_t *b, uint64_t now);

#endif

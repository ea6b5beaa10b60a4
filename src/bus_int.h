/*
 * bus_int.h - the bus's insides, shared by its files (bus_msg.c,
 * bus_tmpl.c, bus.c, bus_conf.c) and their unit tests; modules use
 * loom_bus.h only.
 */
#ifndef BUS_INT_H
#define BUS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <confuse.h>

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

/* ---- routes (bus.c, built by bus_conf.c) --------------------------------- */

/* A source pattern, "MODULE:INSTANCE:TOPIC", each an fnmatch(3) glob. */
typedef struct {
    char *module, *instance, *topic;
} bus_pattern_t;

/* Parse TEXT ("TOPIC" alone is "*:*:TOPIC") into P; LOOM_ERROR when it
 * has more than three parts or an empty one. */
int bus_pattern_parse(const char *text, bus_pattern_t *p);
void bus_pattern_free(bus_pattern_t *p);
/* Does a message from MODULE "INSTANCE" on TOPIC match P? */
int bus_pattern_match(const bus_pattern_t *p, const char *module,
                      const char *instance, const char *topic);

/* One action a route calls, with its parameters' templates. */
typedef struct {
    char *module, *instance, *action; /* "MODULE:INSTANCE:ACTION" */
    const loom_action_t *act;         /* the module's declaration */
    char **pnames;                    /* parameter names, as act->params */
    bus_tmpl_t **ptmpl;
    size_t nparams;
} bus_to_t;

/* Counters of a route, kept across reloads under its name. */
typedef struct {
    unsigned refs;
    uint64_t matched, delivered, failed, retried;
    uint64_t dropped_rate, dropped_queue, dropped_loop;
    uint64_t loop_logged, fail_logged; /* loom_now_ms of the last log line */
    uint64_t fail_quiet;               /* failures not logged since */
} bus_ctr_t;

typedef struct bus_route_s bus_route_t;
typedef struct loom_action_call_s bus_call_t;

struct bus_route_s {
    unsigned refs; /* the table, calls in flight */
    char *name, *where;
    uint32_t id; /* hash of the name: what trails hold */
    bus_pattern_t *from;
    size_t nfrom;
    bus_match_t **match;
    size_t nmatch;
    bus_to_t *to;
    size_t nto;
    int has_rate;
    uint64_t rate_count, rate_period; /* per milliseconds */
    unsigned burst;
    unsigned queue_max;    /* messages waiting */
    unsigned inflight_max; /* calls under way (retries included) */
    uint64_t retry_for;    /* ms after the first attempt */
    int drop_oldest;       /* overflow: drop the oldest waiting message */
    /* run time */
    struct loom_bus_s *bus;
    bus_ctr_t *ctr;
    bus_bucket_t bucket;
    loom_msg_t **q; /* ring of queue_max */
    unsigned qhead, qlen;
    unsigned inflight;
    int detached;       /* replaced by a reload: drains, takes nothing new */
    bus_route_t *dnext; /* the bus's draining list */
};

/* A whole route table, as the config built it. */
typedef struct bus_table_s {
    bus_route_t **routes;
    size_t n;
} bus_table_t;

/* Free a table that was never applied (or drop the table's references). */
void bus_table_free(bus_table_t *t);

/* ---- route configuration (bus_conf.c) ----------------------------------- */

/* The options of a `route "NAME" { ... }` section. */
extern cfg_opt_t bus_route_opts[];

/* Build the table from ROOT's route sections; the instances the routes
 * call must be among INSTS (N of them: MODULE, NAME pairs in
 * loom_instance_conf_t).  Errors go through loom_conf_error (FILE:LINE)
 * and NULL is returned; with no route sections an empty table. */
struct loom_instance_conf_s;
bus_table_t *bus_conf_build(cfg_t *root,
                            const struct loom_instance_conf_s *insts, size_t n);

/* Free a route's configuration (bus.c frees routes when unreferenced). */
void bus_route_free(bus_route_t *r);

/* FNV-1a of NAME: a route's id. */
uint32_t bus_route_id(const char *name);

/* The bus of a server (core.h: srv->bus). */
typedef struct loom_bus_s loom_bus_t;

/* A bus on SRV's event base. */
loom_bus_t *loom_bus_new(loom_server_t *srv);

/* Swap in table T (taken; NULL: no routes): new messages meet T's routes
 * at once; messages queued on and calls under way for the old routes
 * finish there. */
void loom_bus_apply(loom_bus_t *bus, bus_table_t *t);

/* INST has stopped (its stop callback returned): its subscriptions end
 * now, also those made while it stopped. */
void loom_bus_instance_gone(loom_bus_t *bus, loom_instance_t *inst);

/* Free the bus: queued messages and waiting retries are dropped (the
 * instances have stopped, so no call is with a module any more). */
void loom_bus_free(loom_bus_t *bus);

#endif

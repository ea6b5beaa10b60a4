/*
 * loom_bus.h - the message bus: what modules publish, what they can be
 * asked to do, and the routes (config, not code) that join the two.
 *
 *   module A --loom_bus_publish(msg)--> bus --route: match, rate, queue,
 *       render templates--> action "m:i:name" of module B (async, done /
 *       retry / failed)
 *   bus --every message--> subscribers (live streams: SSE)
 *
 * Messages.  A message has a topic, an origin (the publishing instance's
 * module and name), an ordered list of fields (UTF-8 name/value pairs;
 * nested data flattened to dotted names: "head_commit.message",
 * "commits.0.id"), an optional body, a 64-bit id (increasing, unique in
 * the process), a timestamp, and the trail of routes it has passed.  It
 * is built with loom_msg_new/loom_msg_add, then published; from then on
 * it is immutable and reference-counted, so N routes and N subscribers
 * share one copy.
 *
 * Publishing never blocks and never re-enters: loom_bus_publish matches
 * the routes (bus-internal work only: no module code runs), queues the
 * message on each route that takes it, and returns.  Actions and
 * subscribers run from a later reactor turn.
 *
 * Delivery is in memory and at most once.  Everything the bus holds is
 * bounded: per-route queues, calls in flight per route, retries, and
 * subscribers (whose own buffers are theirs to bound).
 *
 * Loops: a message a module publishes while one of its actions runs, or
 * that it builds with loom_msg_caused_by, inherits the trail of the
 * message that caused it.  A route never takes a message whose trail
 * holds it already, and a message whose trail is LOOM_BUS_MAX_HOPS long
 * is dropped; both are counted (dropped_loop) and logged once per route
 * per minute.
 */
#ifndef LOOM_BUS_H
#define LOOM_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"

/* A message passing more routes than this is dropped. */
#define LOOM_BUS_MAX_HOPS 8

typedef struct loom_msg_s loom_msg_t;

/* A field: NAME and VALUE are NUL-terminated as well as counted. */
typedef struct {
    loom_slice_t name, value;
} loom_field_t;

/* ---- building and reading messages ---------------------------------------
 */

/* A new, empty, unpublished message on TOPIC (copied; "" is refused by
 * publish).  The caller holds the one reference. */
loom_msg_t *loom_msg_new(const char *topic);

/* Append field NAME = VALUE (both copied; lengths explicit, VALUE may hold
 * any bytes but should be UTF-8).  Only before publishing. */
void loom_msg_add(loom_msg_t *m, const char *name, size_t nlen,
                  const char *value, size_t vlen);

/* Append a field whose value is printf-formatted. */
void loom_msg_addf(loom_msg_t *m, const char *name, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

/* Set the body (copied; replaces an earlier one).  Only before publishing. */
void loom_msg_set_body(loom_msg_t *m, const void *p, size_t len);

/* M was caused by action call CALL (say, a store the action made is
 * published): M inherits the trail of CALL's message plus CALL's route,
 * so that routes cannot loop through M.  Only before publishing.  (A
 * message published while an action's call function runs inherits it
 * without this.) */
typedef struct loom_action_call_s loom_action_call_t;
void loom_msg_caused_by(loom_msg_t *m, const loom_action_call_t *call);

/* Take / drop a reference (drop frees with the last one). */
loom_msg_t *loom_msg_ref(loom_msg_t *m);
void loom_msg_unref(loom_msg_t *m);

const char *loom_msg_topic(const loom_msg_t *m);
/* The publishing instance's module and name ("" before publishing). */
const char *loom_msg_module(const loom_msg_t *m);
const char *loom_msg_instance(const loom_msg_t *m);
/* Id (1, 2, ... in publishing order; 0 before publishing). */
uint64_t loom_msg_id(const loom_msg_t *m);
/* Wall-clock publishing time, milliseconds since the epoch. */
uint64_t loom_msg_time_ms(const loom_msg_t *m);
/* The body (LEN 0 and a non-NULL pointer when there is none). */
loom_slice_t loom_msg_body(const loom_msg_t *m);
/* Number of fields, and field I (0 <= I < n) in the order added. */
size_t loom_msg_nfields(const loom_msg_t *m);
const loom_field_t *loom_msg_field(const loom_msg_t *m, size_t i);
/* The first field named NAME, or NULL.  Besides the message's own fields,
 * the pseudo-fields "@topic", "@module", "@instance", "@id", "@time" (ms)
 * and "@body" answer (into a buffer of M's, valid while M is). */
const loom_field_t *loom_msg_get(const loom_msg_t *m, const char *name,
                                 size_t nlen);
/* How many routes M has passed (its trail's length). */
size_t loom_msg_hops(const loom_msg_t *m);

/* Write M as one JSON object (id, time, topic, module, instance, fields
 * as an object in order, body as a string when it is UTF-8 text, else
 * base64 under "body_base64") to a heap string; *LEN its length. */
char *loom_msg_json(const loom_msg_t *m, size_t *len);

/* ---- publishing ---------------------------------------------------------
 */

/* What publishing did, for a caller that answers a client (202 / 429). */
typedef struct {
    unsigned matched;      /* routes whose source and matches took it */
    unsigned queued;       /* of those, routes that queued it */
    unsigned dropped;      /* routes whose rate and queue were exhausted */
    unsigned dropped_loop; /* routes it had passed already, or too many hops */
    unsigned subscribers;  /* subscribers it will be given to */
} loom_publish_result_t;

/* Publish M from INST, taking the caller's reference.  M is stamped (id,
 * time, origin), matched against the routes and queued; nothing else
 * runs before this returns.  OUT (may be NULL) says what happened.
 * Returns LOOM_OK, or LOOM_ERROR when M cannot be published (empty topic,
 * already published, the daemon is stopping: a graceful stop has begun,
 * so that what would be lost with the queues is refused instead). */
int loom_bus_publish(loom_instance_t *inst, loom_msg_t *m,
                     loom_publish_result_t *out);

/* Would a message from INST on TOPIC meet a route or a subscriber?  (A
 * module may skip building messages nobody takes: one loop over the route
 * sources.) */
int loom_bus_wanted(loom_instance_t *inst, const char *topic);

/* ---- subscribers (live streams) ------------------------------------------
 */

typedef struct loom_bus_sub_s loom_bus_sub_t;

/* Every published message whose origin and topic match PATTERN is given
 * to CB with a reference the subscriber borrows (take one with
 * loom_msg_ref to keep it), from a later reactor turn, in publishing
 * order. */
typedef void (*loom_bus_sub_cb)(loom_msg_t *m, void *arg);

/* Subscribe on behalf of INST to PATTERN, "MODULE:INSTANCE:TOPIC" (each
 * part an fnmatch(3) glob; "TOPIC" alone means "*:*:TOPIC").  The
 * subscription ends with loom_bus_unsubscribe or when INST stops (right
 * after its stop callback, which may still unsubscribe; no message is
 * delivered while INST stops); CB is never called after either.  NULL
 * when PATTERN is malformed. */
loom_bus_sub_t *loom_bus_subscribe(loom_instance_t *inst, const char *pattern,
                                   loom_bus_sub_cb cb, void *arg);
void loom_bus_unsubscribe(loom_bus_sub_t *s);

/* ---- actions (sinks) ----------------------------------------------------
 */

/* How a call ended. */
typedef enum {
    LOOM_ACT_DONE = 0,  /* done */
    LOOM_ACT_RETRY = 1, /* not now (upstream 5xx, unreachable): try again */
    LOOM_ACT_FAILED = 2 /* never (bad parameter, 4xx): give up */
} loom_act_result_t;

/* A parameter an action takes. */
typedef struct {
    const char *name;
    int required;
} loom_action_param_t;

/* An action a module can take, listed in loom_module_t.actions (an array
 * ended by an entry whose name is NULL).  Routes name it
 * "MODULE:INSTANCE:NAME" and give it parameters by name; unknown names
 * and missing required ones are config errors.
 *
 * call runs from the reactor with the instance running.  It must end the
 * call exactly once with loom_action_done -- inside call or later (after
 * a connect, a worker job) -- also when the instance stops meanwhile
 * (stop must end the calls it still holds, as LOOM_ACT_FAILED).  The
 * call, its parameters and its message stay valid until then. */
typedef struct {
    const char *name;
    const loom_action_param_t *params; /* ended by a NULL name */
    void (*call)(loom_instance_t *inst, loom_action_call_t *call);
} loom_action_t;

/* The rendered value of parameter NAME (NUL-terminated; *LEN its length
 * when LEN is not NULL), or NULL when the route did not set it. */
const char *loom_action_param(const loom_action_call_t *call, const char *name,
                              size_t *len);

/* The message that caused the call. */
loom_msg_t *loom_action_msg(const loom_action_call_t *call);

/* The route's name, for log lines. */
const char *loom_action_route(const loom_action_call_t *call);

/* End CALL with RESULT; WHY (may be NULL) says what went wrong and is
 * logged for failures.  CALL is gone after this returns. */
void loom_action_done(loom_action_call_t *call, loom_act_result_t result,
                      const char *why);

/* ---- statistics ---------------------------------------------------------
 */

typedef struct {
    const char *name; /* valid until the next reload */
    uint64_t matched, delivered, failed, retried;
    uint64_t dropped_rate, dropped_queue, dropped_loop;
    unsigned queued, inflight; /* now */
} loom_route_stat_t;

/* Fill up to MAX entries, one per route of the running configuration, in
 * config order; returns how many routes there are.  Counters carry over a
 * reload for routes that keep their name. */
size_t loom_bus_routes(loom_server_t *srv, loom_route_stat_t *out, size_t max);

typedef struct {
    uint64_t published, delivered_subscribers, dropped_hops;
    uint64_t dropped_subscribers; /* messages the subscribers' backlog
                                   * (65,536) lost, oldest first */
    unsigned subscribers;
} loom_bus_stat_t;

void loom_bus_stats(loom_server_t *srv, loom_bus_stat_t *out);

#endif

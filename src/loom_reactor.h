/*
 * loom_reactor.h - what a module may ask of the reactor: timers, calls on
 * the next turn, and the clock.  Modules never see the event library the
 * core uses; these few calls are the whole of it (Redis's ae.h in spirit).
 *
 * Lifetimes: a timer belongs to a connection or to an instance.  When its
 * owner goes away (the connection is finalized, the instance stopped), the
 * core disarms it first, before the owner's close or stop callback runs, so
 * a timer embedded in per-connection or per-instance state can never fire
 * into freed memory.  A module that frees a struct holding a timer while
 * the owner lives must disarm the timer first.
 */
#ifndef LOOM_REACTOR_H
#define LOOM_REACTOR_H

#include <stdint.h>

#include "loom.h"

typedef struct loom_timer_s loom_timer_t;

/* Runs once per arming, from the reactor.  For a connection's timer the
 * connection is held around the call: writes are flushed and a close is
 * finished when the callback returns. */
typedef void (*loom_timer_cb)(loom_timer_t *t, void *arg);

/* Embed in your state and use the functions below; the fields are the
 * core's (listed here only so that the struct can be embedded). */
struct loom_timer_s {
    loom_server_t *srv;
    loom_timer_cb cb;
    void *arg;
    loom_conn_t *conn;     /* owner: a connection, or */
    loom_instance_t *inst; /* an instance */
    uint64_t when;         /* deadline, loom_now_ms() scale */
    uint64_t seq;          /* arming order: equal deadlines fire in order */
    size_t slot;           /* position in the server's heap + 1; 0: idle */
    loom_timer_t *onext, *oprev; /* the owner's armed timers */
};

/* Prepare T (not armed) to call CB(T, ARG), owned by connection C.
 * Re-initializing an armed timer disarms it first. */
void loom_timer_init_conn(loom_timer_t *t, loom_conn_t *c, loom_timer_cb cb,
                          void *arg);

/* Prepare T (not armed) to call CB(T, ARG), owned by instance INST. */
void loom_timer_init(loom_timer_t *t, loom_instance_t *inst, loom_timer_cb cb,
                     void *arg);

/* Arm T to fire once, MS milliseconds from now (0: on the next reactor
 * turn, after pending I/O; never inside this call).  Re-arming an armed
 * timer moves its deadline.  Does nothing when T's owner is already going
 * away (a closed connection). */
void loom_timer_arm(loom_timer_t *t, uint64_t ms);

/* Disarm T; harmless when it is not armed or was never initialized with
 * loom_timer_init* (a zeroed struct). */
void loom_timer_disarm(loom_timer_t *t);

/* 1 while T is armed, else 0. */
int loom_timer_armed(const loom_timer_t *t);

/* Milliseconds on a monotonic clock (an arbitrary start; never goes back). */
uint64_t loom_now_ms(void);

/* The version of the event library under the reactor ("2.1.12-stable"),
 * for status pages. */
const char *loom_reactor_version(void);

/* A call on a later reactor turn. */
typedef void (*loom_defer_fn)(void *arg);

/* Queue FN(ARG) to run once on the next reactor turn (calls queued in one
 * turn run in order).  FN runs exactly once: if INST is stopped first, its
 * pending calls run just before its stop callback; at exit, before the
 * server is freed.  ARG must stay valid until then; to cancel, use a timer
 * armed with 0 instead. */
void loom_defer(loom_instance_t *inst, loom_defer_fn fn, void *arg);

#endif

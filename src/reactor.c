/*
 * reactor.c - the reactor facade modules see (loom_reactor.h): timers on a
 * binary heap driven by one libevent timer, and calls deferred to the next
 * turn.
 *
 * The heap is ordered by (deadline, arming order), so timers with the same
 * deadline fire in the order they were armed.  One libevent timer is kept
 * at the earliest deadline; arming a timer that does not become the
 * earliest costs no libevent call at all.  A run fires only the timers
 * armed before it started, so a callback that re-arms itself with 0 waits
 * for the next turn instead of spinning.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t loom_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *loom_reactor_version(void)
{
    return event_get_version();
}

/* ---- the heap ----------------------------------------------------------- */

static int timer_before(const loom_timer_t *a, const loom_timer_t *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_put(loom_server_t *srv, size_t i, loom_timer_t *t)
{
    srv->theap[i] = t;
    t->slot = i + 1;
}

static void heap_up(loom_server_t *srv, size_t i)
{
    loom_timer_t *t = srv->theap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!timer_before(t, srv->theap[parent]))
            break;
        heap_put(srv, i, srv->theap[parent]);
        i = parent;
    }
    heap_put(srv, i, t);
}

static void heap_down(loom_server_t *srv, size_t i)
{
    loom_timer_t *t = srv->theap[i];
    size_t n = srv->tn;

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= n)
            break;
        if (child + 1 < n &&
            timer_before(srv->theap[child + 1], srv->theap[child]))
            child++;
        if (!timer_before(srv->theap[child], t))
            break;
        heap_put(srv, i, srv->theap[child]);
        i = child;
    }
    heap_put(srv, i, t);
}

static void heap_remove(loom_server_t *srv, loom_timer_t *t)
{
    size_t i = t->slot - 1;
    loom_timer_t *last = srv->theap[--srv->tn];

    t->slot = 0;
    if (last == t)
        return;
    heap_put(srv, i, last);
    if (i > 0 && timer_before(last, srv->theap[(i - 1) / 2]))
        heap_up(srv, i);
    else
        heap_down(srv, i);
}

/* Keep the libevent timer at the earliest deadline. */
static void timer_schedule(loom_server_t *srv)
{
    uint64_t when, now;
    struct timeval tv;

    if (srv->tn == 0) {
        if (srv->tev_when) {
            evtimer_del(srv->tev);
            srv->tev_when = 0;
        }
        return;
    }
    when = srv->theap[0]->when;
    if (srv->tev_when == when + 1) /* +1: 0 means "not scheduled" */
        return;
    now = loom_now_ms();
    when = when > now ? when - now : 0;
    tv.tv_sec = (time_t)(when / 1000);
    tv.tv_usec = (suseconds_t)(when % 1000) * 1000;
    evtimer_add(srv->tev, &tv);
    srv->tev_when = srv->theap[0]->when + 1;
}

/* ---- owners ------------------------------------------------------------- */

static loom_timer_t **timer_owner_list(loom_timer_t *t)
{
    if (t->conn)
        return &t->conn->timers;
    return &t->inst->timers;
}

static void timer_unlink(loom_timer_t *t)
{
    if (t->oprev)
        t->oprev->onext = t->onext;
    else
        *timer_owner_list(t) = t->onext;
    if (t->onext)
        t->onext->oprev = t->oprev;
    t->onext = t->oprev = NULL;
}

void loom_timer_disarm(loom_timer_t *t)
{
    loom_server_t *srv = t->srv;

    if (t->slot == 0)
        return;
    timer_unlink(t);
    heap_remove(srv, t);
    timer_schedule(srv);
}

/* The owner goes away: disarm every timer on its LIST. */
void loom_timers_owner_gone(loom_timer_t **list)
{
    while (*list)
        loom_timer_disarm(*list);
}

/* Prepare T for CB(T, ARG) on SRV, owned by C or INST (one of them). */
static void timer_setup(loom_timer_t *t, loom_server_t *srv, loom_conn_t *c,
                        loom_instance_t *inst, loom_timer_cb cb, void *arg)
{
    if (t->slot)
        loom_timer_disarm(t);
    memset(t, 0, sizeof(*t));
    t->srv = srv;
    t->conn = c;
    t->inst = inst;
    t->cb = cb;
    t->arg = arg;
}

void loom_timer_init_conn(loom_timer_t *t, loom_conn_t *c, loom_timer_cb cb,
                          void *arg)
{
    timer_setup(t, c->srv, c, NULL, cb, arg);
}

void loom_timer_init(loom_timer_t *t, loom_instance_t *inst, loom_timer_cb cb,
                     void *arg)
{
    timer_setup(t, inst->srv, NULL, inst, cb, arg);
}

int loom_timer_armed(const loom_timer_t *t)
{
    return t->slot != 0;
}

void loom_timer_arm(loom_timer_t *t, uint64_t ms)
{
    loom_server_t *srv = t->srv;
    loom_timer_t **list;

    if (t->conn && (t->conn->flags & LOOM_CF_DEAD))
        return;
    if (t->inst && t->inst->stopped)
        return;
    t->when = loom_now_ms() + ms;
    t->seq = srv->tseq++;
    if (t->slot) {
        heap_remove(srv, t);
    } else {
        list = timer_owner_list(t);
        t->oprev = NULL;
        t->onext = *list;
        if (*list)
            (*list)->oprev = t;
        *list = t;
    }
    if (srv->tn == srv->tcap) {
        srv->tcap = srv->tcap ? 2 * srv->tcap : 64;
        srv->theap = loom_realloc(srv->theap, srv->tcap * sizeof(*srv->theap));
    }
    heap_put(srv, srv->tn++, t);
    heap_up(srv, srv->tn - 1);
    if (t->slot == 1)
        timer_schedule(srv);
}

/* Fire every timer due now that was armed before this run began. */
static void timer_on_event(evutil_socket_t fd, short what, void *arg)
{
    loom_server_t *srv = arg;
    uint64_t now = loom_now_ms(), limit = srv->tseq;

    (void)fd;
    (void)what;
    srv->tev_when = 0;
    while (srv->tn > 0) {
        loom_timer_t *t = srv->theap[0];
        loom_conn_t *c = t->conn;

        if (t->when > now || t->seq >= limit)
            break;
        timer_unlink(t);
        heap_remove(srv, t);
        if (c) {
            loom_conn_enter(c);
            t->cb(t, t->arg);
            loom_conn_leave(c);
        } else {
            t->cb(t, t->arg);
        }
    }
    timer_schedule(srv);
}

/* ---- deferred calls ----------------------------------------------------- */

struct loom_defer_s {
    loom_instance_t *inst;
    loom_defer_fn fn;
    void *arg;
    struct loom_defer_s *next;
};

void loom_defer(loom_instance_t *inst, loom_defer_fn fn, void *arg)
{
    loom_server_t *srv = inst->srv;
    struct loom_defer_s *d = loom_malloc(sizeof(*d));

    d->inst = inst;
    d->fn = fn;
    d->arg = arg;
    d->next = NULL;
    if (srv->calls == NULL) {
        /* A zero timeout, not event_active: libevent runs events made
         * active by a callback in the same pass, so a call that queues
         * another would starve I/O; timeouts wait for the next poll. */
        struct timeval zero = {0, 0};

        evtimer_add(srv->calls_ev, &zero);
    }
    *srv->calls_tail = d;
    srv->calls_tail = &d->next;
}

static void defer_on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    loom_defer_run(arg, NULL);
}

/* Run the calls queued so far (not those they queue) of INST, or of every
 * instance when INST is NULL. */
void loom_defer_run(loom_server_t *srv, loom_instance_t *inst)
{
    struct loom_defer_s *mine = NULL, **mt = &mine, *d, *next;

    /* Take out the calls to run; the others stay queued in order. */
    srv->calls_tail = &srv->calls;
    for (d = srv->calls, srv->calls = NULL; d; d = next) {
        next = d->next;
        d->next = NULL;
        if (inst == NULL || d->inst == inst) {
            *mt = d;
            mt = &d->next;
        } else {
            *srv->calls_tail = d;
            srv->calls_tail = &d->next;
        }
    }
    if (srv->calls == NULL && srv->calls_ev)
        evtimer_del(srv->calls_ev);
    while ((d = mine) != NULL) {
        mine = d->next;
        d->fn(d->arg);
        free(d);
    }
}

int loom_defer_pending(loom_server_t *srv, loom_instance_t *inst)
{
    struct loom_defer_s *d;

    for (d = srv->calls; d; d = d->next) {
        if (d->inst == inst)
            return 1;
    }
    return 0;
}

/* ---- set-up ------------------------------------------------------------- */

void loom_reactor_init(loom_server_t *srv)
{
    srv->tev = evtimer_new(srv->base, timer_on_event, srv);
    srv->calls_ev = evtimer_new(srv->base, defer_on_event, srv);
    srv->calls_tail = &srv->calls;
}

void loom_reactor_free(loom_server_t *srv)
{
    loom_defer_run(srv, NULL);
    while (srv->tn > 0)
        loom_timer_disarm(srv->theap[0]);
    free(srv->theap);
    srv->theap = NULL;
    srv->tcap = 0;
    if (srv->tev)
        event_free(srv->tev);
    srv->tev = NULL;
    if (srv->calls_ev)
        event_free(srv->calls_ev);
    srv->calls_ev = NULL;
}

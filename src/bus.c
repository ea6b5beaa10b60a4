/*
 * bus.c - the route engine behind loom_bus.h.
 *
 * Publishing stamps the message, matches it against the routes of the
 * running table and the subscriptions, queues it where it is taken, and
 * asks for a dispatch on the next reactor turn; nothing else runs inside
 * publish.  A dispatch hands the waiting messages to subscribers, moves
 * messages from route queues to calls (one per `to` action, parameters
 * rendered) while the route's rate and in-flight bound allow, and starts
 * the calls that are due (new ones and retries).  An action ends its call
 * with loom_action_done, which only records the outcome and asks for
 * another dispatch: no module ever finds another running inside it.
 *
 * One libevent timer wakes the bus for the earliest token or retry.
 */
#include "core.h"

#include "bus_int.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Backoff between attempts of a call: first, then doubling up to max. */
#define BUS_RETRY_FIRST_MS 500
#define BUS_RETRY_MAX_MS 30000
/* A log line about a route's loops or failures at most this often. */
#define BUS_LOG_EVERY_MS 60000
/* Messages waiting for subscribers, at most (then the oldest go). */
#define BUS_SUB_BACKLOG 65536

struct loom_action_call_s {
    bus_route_t *route; /* a reference */
    const bus_to_t *to; /* in the route */
    loom_msg_t *msg;    /* a reference */
    char **pval;        /* rendered parameters, as to->pnames */
    size_t *plen;
    uint64_t first, due; /* loom_now_ms of the first attempt, next one */
    unsigned attempts;
    int with_module;                 /* call() ran and done() has not */
    struct loom_action_call_s *next; /* run or retry list */
};

struct loom_bus_sub_s {
    loom_bus_t *bus;
    loom_instance_t *inst;
    bus_pattern_t pat;
    loom_bus_sub_cb cb;
    void *arg;
    int dead; /* unsubscribed while the list was being walked */
    struct loom_bus_sub_s *next;
};

/* A message waiting for the subscribers. */
typedef struct bus_pending_s {
    loom_msg_t *m;
    struct bus_pending_s *next;
} bus_pending_t;

struct loom_bus_s {
    loom_server_t *srv;
    bus_table_t *table;
    bus_route_t *draining; /* detached routes with work left */
    bus_call_t *run, **run_tail;
    bus_call_t *retry; /* waiting calls, unordered */
    loom_bus_sub_t *subs;
    unsigned nsubs, walking;
    bus_pending_t *pend, **pend_tail;
    size_t npend;
    struct event *kick; /* dispatch on the next turn */
    struct event *wake; /* the earliest token or retry */
    int kicked;
    uint64_t wake_at; /* 0: not set */
    /* while an action's call function runs: its call's message and route
     * (not the call, which the action may end before it returns) */
    loom_msg_t *cause;
    uint32_t cause_route;
    uint64_t next_id;
    loom_bus_stat_t st;
    int freeing;
};

static void bus_kick(loom_bus_t *bus);

/* ---- patterns and route ids ------------------------------------------- */

uint32_t bus_route_id(const char *name)
{
    uint32_t h = 2166136261u;

    for (; *name; name++) {
        h ^= (unsigned char)*name;
        h *= 16777619u;
    }
    return h ? h : 1;
}

int bus_pattern_parse(const char *text, bus_pattern_t *p)
{
    const char *a = strchr(text, ':'), *b = a ? strchr(a + 1, ':') : NULL;

    memset(p, 0, sizeof(*p));
    if (a == NULL) {
        if (*text == '\0')
            return LOOM_ERROR;
        p->module = loom_strdup("*");
        p->instance = loom_strdup("*");
        p->topic = loom_strdup(text);
        return LOOM_OK;
    }
    if (b == NULL || strchr(b + 1, ':') || a == text || b == a + 1 ||
        b[1] == '\0')
        return LOOM_ERROR;
    p->module = loom_strndup(text, (size_t)(a - text));
    p->instance = loom_strndup(a + 1, (size_t)(b - a - 1));
    p->topic = loom_strdup(b + 1);
    return LOOM_OK;
}

void bus_pattern_free(bus_pattern_t *p)
{
    free(p->module);
    free(p->instance);
    free(p->topic);
    memset(p, 0, sizeof(*p));
}

static int glob1(const char *pat, const char *s)
{
    if (pat[0] == '*' && pat[1] == '\0')
        return 1;
    return fnmatch(pat, s, 0) == 0;
}

int bus_pattern_match(const bus_pattern_t *p, const char *module,
                      const char *instance, const char *topic)
{
    return glob1(p->topic, topic) && glob1(p->module, module) &&
           glob1(p->instance, instance);
}

/* ---- routes and tables ---------------------------------------------- */

void bus_route_free(bus_route_t *r)
{
    size_t i, j;

    if (r == NULL)
        return;
    for (i = 0; i < r->nfrom; i++)
        bus_pattern_free(&r->from[i]);
    free(r->from);
    for (i = 0; i < r->nmatch; i++)
        bus_match_free(r->match[i]);
    free(r->match);
    for (i = 0; i < r->nto; i++) {
        bus_to_t *t = &r->to[i];

        for (j = 0; j < t->nparams; j++) {
            free(t->pnames[j]);
            bus_tmpl_free(t->ptmpl[j]);
        }
        free(t->pnames);
        free(t->ptmpl);
        free(t->module);
        free(t->instance);
        free(t->action);
    }
    free(r->to);
    while (r->qlen) {
        loom_msg_unref(r->q[r->qhead]);
        r->qhead = (r->qhead + 1) % r->queue_max;
        r->qlen--;
    }
    free(r->q);
    if (r->ctr && --r->ctr->refs == 0)
        free(r->ctr);
    free(r->name);
    free(r->where);
    free(r);
}

static void route_unref(bus_route_t *r)
{
    if (--r->refs == 0)
        bus_route_free(r);
}

void bus_table_free(bus_table_t *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++)
        route_unref(t->routes[i]);
    free(t->routes);
    free(t);
}

/* ---- the bus ----------------------------------------------------------- */

static void bus_dispatch(loom_bus_t *bus);

static void bus_on_kick(evutil_socket_t fd, short what, void *arg)
{
    loom_bus_t *bus = arg;

    (void)fd;
    (void)what;
    bus->kicked = 0;
    bus_dispatch(bus);
}

static void bus_on_wake(evutil_socket_t fd, short what, void *arg)
{
    loom_bus_t *bus = arg;

    (void)fd;
    (void)what;
    bus->wake_at = 0;
    bus_dispatch(bus);
}

loom_bus_t *loom_bus_new(loom_server_t *srv)
{
    loom_bus_t *bus = loom_calloc(1, sizeof(*bus));

    bus->srv = srv;
    bus->run_tail = &bus->run;
    bus->pend_tail = &bus->pend;
    bus->kick = event_new(srv->base, -1, 0, bus_on_kick, bus);
    bus->wake = evtimer_new(srv->base, bus_on_wake, bus);
    return bus;
}

static void bus_kick(loom_bus_t *bus)
{
    struct timeval zero = {0, 0};

    if (bus->kicked || bus->freeing)
        return;
    bus->kicked = 1;
    event_add(bus->kick, &zero);
}

/* Wake at AT (loom_now_ms scale) unless an earlier wake is set. */
static void bus_wake_at(loom_bus_t *bus, uint64_t at)
{
    uint64_t now = loom_now_ms(), d;
    struct timeval tv;

    if (bus->freeing || (bus->wake_at && bus->wake_at <= at))
        return;
    d = at > now ? at - now : 0;
    tv.tv_sec = (time_t)(d / 1000);
    tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
    evtimer_add(bus->wake, &tv);
    bus->wake_at = at;
}

static void route_detach(loom_bus_t *bus, bus_route_t *r)
{
    r->detached = 1;
    if (r->qlen || r->inflight) {
        r->refs++;
        r->dnext = bus->draining;
        bus->draining = r;
    }
}

void loom_bus_apply(loom_bus_t *bus, bus_table_t *t)
{
    bus_table_t *old = bus->table;
    size_t i, j;

    for (i = 0; t && i < t->n; i++) {
        bus_route_t *r = t->routes[i];

        r->bus = bus;
        /* counters carry over under the same name */
        for (j = 0; old && j < old->n; j++) {
            if (strcmp(old->routes[j]->name, r->name) == 0) {
                free(r->ctr);
                r->ctr = old->routes[j]->ctr;
                r->ctr->refs++;
                break;
            }
        }
        if (r->ctr == NULL) {
            r->ctr = loom_calloc(1, sizeof(*r->ctr));
            r->ctr->refs = 1;
        }
        if (r->has_rate)
            bus_bucket_init(&r->bucket, r->rate_count, r->rate_period, r->burst,
                            loom_now_ms());
        /* a route that keeps its name and rate keeps its tokens: a
         * reload is not a fresh burst */
        for (j = 0; r->has_rate && old && j < old->n; j++) {
            const bus_route_t *o = old->routes[j];

            if (strcmp(o->name, r->name) == 0 && o->has_rate &&
                o->rate_count == r->rate_count &&
                o->rate_period == r->rate_period && o->burst == r->burst)
                r->bucket = o->bucket;
        }
    }
    bus->table = t;
    for (i = 0; old && i < old->n; i++)
        route_detach(bus, old->routes[i]);
    bus_table_free(old);
    bus_kick(bus);
}

/* ---- publishing ---------------------------------------------------------
 */

static int route_takes(const bus_route_t *r, const loom_msg_t *m)
{
    size_t i;
    int from = 0;

    for (i = 0; i < r->nfrom && !from; i++)
        from = bus_pattern_match(&r->from[i], m->module, m->instance, m->topic);
    if (!from)
        return 0;
    for (i = 0; i < r->nmatch; i++) {
        if (!bus_match_test(r->match[i], m))
            return 0;
    }
    return 1;
}

static void route_log_loop(bus_route_t *r, const loom_msg_t *m)
{
    uint64_t now = loom_now_ms();

    if (r->ctr->loop_logged && now - r->ctr->loop_logged < BUS_LOG_EVERY_MS)
        return;
    r->ctr->loop_logged = now;
    loom_log(LOOM_LOG_WARN, "bus",
             "route \"%s\": dropped message %llu from %s/%s on \"%s\": %s "
             "(%llu such drops so far; logged once a minute)",
             r->name, (unsigned long long)m->id, m->module, m->instance,
             m->topic,
             m->hops >= LOOM_BUS_MAX_HOPS || m->over
                 ? "it has passed too many routes"
                 : "it has passed this route already (a loop)",
             (unsigned long long)r->ctr->dropped_loop);
}

/* Queue M on R (taking a reference); 0 when it was dropped. */
static int route_queue(bus_route_t *r, loom_msg_t *m)
{
    uint64_t now = loom_now_ms();
    int limited = r->has_rate && bus_bucket_wait(&r->bucket, now) > 0;

    if (r->qlen == r->queue_max) {
        if (!r->drop_oldest || r->queue_max == 0) {
            if (limited)
                r->ctr->dropped_rate++;
            else
                r->ctr->dropped_queue++;
            return 0;
        }
        loom_msg_unref(r->q[r->qhead]);
        r->qhead = (r->qhead + 1) % r->queue_max;
        r->qlen--;
        if (limited)
            r->ctr->dropped_rate++;
        else
            r->ctr->dropped_queue++;
    }
    r->q[(r->qhead + r->qlen) % r->queue_max] = loom_msg_ref(m);
    r->qlen++;
    return 1;
}

static int bus_subs_want(loom_bus_t *bus, const loom_msg_t *m)
{
    loom_bus_sub_t *s;
    int n = 0;

    for (s = bus->subs; s; s = s->next) {
        if (!s->dead &&
            bus_pattern_match(&s->pat, m->module, m->instance, m->topic))
            n++;
    }
    return n;
}

int loom_bus_publish(loom_instance_t *inst, loom_msg_t *m,
                     loom_publish_result_t *out)
{
    loom_bus_t *bus = inst->srv->bus;
    loom_publish_result_t res;
    bus_table_t *t = bus->table;
    struct timeval tv;
    size_t i;

    memset(&res, 0, sizeof(res));
    if (out)
        *out = res;
    if (m->published || m->topic[0] == '\0' || bus->freeing ||
        inst->srv->shutting_down) {
        loom_msg_unref(m);
        return LOOM_ERROR;
    }
    if (bus->cause && m->hops == 0)
        loom_msg_inherit(m, bus->cause, bus->cause_route);
    gettimeofday(&tv, NULL);
    loom_msg_freeze(m, inst->mod->name, inst->name, ++bus->next_id,
                    (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000);
    bus->st.published++;
    if (m->over || m->hops >= LOOM_BUS_MAX_HOPS)
        bus->st.dropped_hops++; /* whether or not a route would take it */
    for (i = 0; t && i < t->n; i++) {
        bus_route_t *r = t->routes[i];

        if (!route_takes(r, m))
            continue;
        res.matched++;
        r->ctr->matched++;
        if (m->over || m->hops >= LOOM_BUS_MAX_HOPS ||
            loom_msg_passed(m, r->id)) {
            res.dropped_loop++;
            r->ctr->dropped_loop++;
            route_log_loop(r, m);
            continue;
        }
        if (route_queue(r, m))
            res.queued++;
        else
            res.dropped++;
    }
    res.subscribers = (unsigned)bus_subs_want(bus, m);
    if (res.subscribers) {
        bus_pending_t *p = loom_malloc(sizeof(*p));

        if (bus->npend >= BUS_SUB_BACKLOG) { /* a publisher outran us */
            bus_pending_t *old = bus->pend;

            bus->pend = old->next;
            if (bus->pend == NULL)
                bus->pend_tail = &bus->pend;
            loom_msg_unref(old->m);
            free(old);
            bus->npend--;
            bus->st.dropped_subscribers++;
        }
        p->m = loom_msg_ref(m);
        p->next = NULL;
        *bus->pend_tail = p;
        bus->pend_tail = &p->next;
        bus->npend++;
    }
    if (res.queued || res.subscribers)
        bus_kick(bus);
    loom_msg_unref(m);
    if (out)
        *out = res;
    return LOOM_OK;
}

int loom_bus_wanted(loom_instance_t *inst, const char *topic)
{
    loom_bus_t *bus = inst->srv->bus;
    bus_table_t *t = bus->table;
    loom_bus_sub_t *s;
    size_t i, j;

    for (i = 0; t && i < t->n; i++) {
        for (j = 0; j < t->routes[i]->nfrom; j++) {
            if (bus_pattern_match(&t->routes[i]->from[j], inst->mod->name,
                                  inst->name, topic))
                return 1;
        }
    }
    for (s = bus->subs; s; s = s->next) {
        if (!s->dead &&
            bus_pattern_match(&s->pat, inst->mod->name, inst->name, topic))
            return 1;
    }
    return 0;
}

/* ---- subscribers ------------------------------------------------------ */

loom_bus_sub_t *loom_bus_subscribe(loom_instance_t *inst, const char *pattern,
                                   loom_bus_sub_cb cb, void *arg)
{
    loom_bus_t *bus = inst->srv->bus;
    loom_bus_sub_t *s = loom_calloc(1, sizeof(*s));

    if (bus_pattern_parse(pattern, &s->pat) != LOOM_OK) {
        free(s);
        return NULL;
    }
    s->bus = bus;
    s->inst = inst;
    s->cb = cb;
    s->arg = arg;
    s->next = bus->subs;
    bus->subs = s;
    bus->nsubs++;
    return s;
}

static void sub_sweep(loom_bus_t *bus)
{
    loom_bus_sub_t **pp = &bus->subs, *s;

    if (bus->walking)
        return;
    while ((s = *pp) != NULL) {
        if (s->dead) {
            *pp = s->next;
            bus_pattern_free(&s->pat);
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

void loom_bus_unsubscribe(loom_bus_sub_t *s)
{
    if (s == NULL || s->dead)
        return;
    s->dead = 1;
    s->bus->nsubs--;
    sub_sweep(s->bus);
}

void loom_bus_instance_gone(loom_bus_t *bus, loom_instance_t *inst)
{
    loom_bus_sub_t *s;

    for (s = bus->subs; s; s = s->next) {
        if (s->inst == inst && !s->dead) {
            s->dead = 1;
            bus->nsubs--;
        }
    }
    sub_sweep(bus);
}

static void bus_deliver_subs(loom_bus_t *bus)
{
    bus_pending_t *p;
    loom_bus_sub_t *s;

    /* only what was pending when the dispatch began: a subscriber that
     * publishes waits for the next turn */
    size_t n = bus->npend;

    while (n-- > 0 && (p = bus->pend) != NULL) {
        bus->pend = p->next;
        if (bus->pend == NULL)
            bus->pend_tail = &bus->pend;
        bus->npend--;
        bus->walking++;
        for (s = bus->subs; s; s = s->next) {
            if (s->dead || !bus_pattern_match(&s->pat, p->m->module,
                                              p->m->instance, p->m->topic))
                continue;
            bus->st.delivered_subscribers++;
            s->cb(p->m, s->arg);
        }
        bus->walking--;
        sub_sweep(bus);
        loom_msg_unref(p->m);
        free(p);
    }
}

/* ---- calls -------------------------------------------------------------- */

static void call_free(bus_call_t *c)
{
    size_t i;

    for (i = 0; i < c->to->nparams; i++)
        free(c->pval[i]);
    free(c->pval);
    free(c->plen);
    loom_msg_unref(c->msg);
    c->route->inflight--;
    route_unref(c->route);
    free(c);
}

static bus_call_t *call_new(bus_route_t *r, const bus_to_t *to, loom_msg_t *m)
{
    bus_call_t *c = loom_calloc(1, sizeof(*c));
    size_t i;

    c->route = r;
    r->refs++;
    r->inflight++;
    c->to = to;
    c->msg = loom_msg_ref(m);
    c->pval = loom_calloc(to->nparams ? to->nparams : 1, sizeof(char *));
    c->plen = loom_calloc(to->nparams ? to->nparams : 1, sizeof(size_t));
    for (i = 0; i < to->nparams; i++)
        c->pval[i] = bus_tmpl_render(to->ptmpl[i], m, &c->plen[i]);
    c->first = loom_now_ms();
    return c;
}

static void run_push(loom_bus_t *bus, bus_call_t *c)
{
    c->next = NULL;
    *bus->run_tail = c;
    bus->run_tail = &c->next;
}

static void route_log_fail(bus_route_t *r, const bus_call_t *c, const char *why)
{
    uint64_t now = loom_now_ms();

    if (r->ctr->fail_logged && now - r->ctr->fail_logged < BUS_LOG_EVERY_MS) {
        r->ctr->fail_quiet++;
        return;
    }
    loom_log(LOOM_LOG_WARN, "bus",
             "route \"%s\": %s:%s:%s failed for message %llu after %u "
             "attempt(s): %s%s",
             r->name, c->to->module, c->to->instance, c->to->action,
             (unsigned long long)c->msg->id, c->attempts,
             why ? why : "no reason given",
             r->ctr->fail_quiet ? " (and earlier failures not logged)" : "");
    r->ctr->fail_logged = now;
    r->ctr->fail_quiet = 0;
}

/* Start C: hand it to its instance's action, or retry later when the
 * instance is not running now. */
static void call_start(loom_bus_t *bus, bus_call_t *c)
{
    loom_instance_t *inst =
        loom_instance_find(bus->srv, c->to->module, c->to->instance);

    c->attempts++;
    if (inst == NULL || inst->removed) {
        c->with_module = 1;
        loom_action_done(c, LOOM_ACT_RETRY, "instance not running");
        return;
    }
    c->with_module = 1;
    bus->cause = loom_msg_ref(c->msg);
    bus->cause_route = c->route->id;
    c->to->act->call(inst, c);
    loom_msg_unref(bus->cause);
    bus->cause = NULL;
}

void loom_action_done(loom_action_call_t *c, loom_act_result_t result,
                      const char *why)
{
    bus_route_t *r = c->route;
    loom_bus_t *bus = r->bus;
    uint64_t now = loom_now_ms(), backoff;
    unsigned k;

    if (!c->with_module)
        return; /* done twice: a module bug, ignored */
    c->with_module = 0;
    if (result == LOOM_ACT_DONE) {
        r->ctr->delivered++;
        call_free(c);
        bus_kick(bus);
        return;
    }
    backoff = BUS_RETRY_FIRST_MS;
    for (k = 1; k < c->attempts && backoff < BUS_RETRY_MAX_MS; k++)
        backoff *= 2;
    if (backoff > BUS_RETRY_MAX_MS)
        backoff = BUS_RETRY_MAX_MS;
    if (result == LOOM_ACT_FAILED || bus->freeing ||
        now + backoff > c->first + r->retry_for) {
        r->ctr->failed++;
        route_log_fail(r, c, why);
        call_free(c);
        bus_kick(bus);
        return;
    }
    r->ctr->retried++;
    c->due = now + backoff;
    c->next = bus->retry;
    bus->retry = c;
    bus_wake_at(bus, c->due);
}

const char *loom_action_param(const loom_action_call_t *c, const char *name,
                              size_t *len)
{
    size_t i;

    for (i = 0; i < c->to->nparams; i++) {
        if (strcmp(c->to->pnames[i], name) == 0) {
            if (len)
                *len = c->plen[i];
            return c->pval[i];
        }
    }
    return NULL;
}

loom_msg_t *loom_action_msg(const loom_action_call_t *c)
{
    return c->msg;
}

const char *loom_action_route(const loom_action_call_t *c)
{
    return c->route->name;
}

void loom_msg_caused_by(loom_msg_t *m, const loom_action_call_t *call)
{
    loom_msg_inherit(m, call->msg, call->route->id);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Move R's waiting messages to calls while its bounds allow. */
static void route_pump(loom_bus_t *bus, bus_route_t *r, uint64_t now)
{
    while (r->qlen) {
        loom_msg_t *m;
        size_t i;

        if (r->inflight && r->inflight + r->nto > r->inflight_max)
            return; /* a done will kick */
        if (r->has_rate && !bus_bucket_take(&r->bucket, now)) {
            bus_wake_at(bus, now + bus_bucket_wait(&r->bucket, now));
            return;
        }
        m = r->q[r->qhead];
        r->qhead = (r->qhead + 1) % r->queue_max;
        r->qlen--;
        for (i = 0; i < r->nto; i++)
            run_push(bus, call_new(r, &r->to[i], m));
        loom_msg_unref(m);
    }
}

static void bus_dispatch(loom_bus_t *bus)
{
    uint64_t now = loom_now_ms();
    bus_call_t *c, **pp, *run;
    bus_route_t **dp, *r;
    size_t i;

    if (bus->freeing)
        return;
    bus_deliver_subs(bus);
    /* retries that are due join the run list; the rest set the wake */
    for (pp = &bus->retry; (c = *pp) != NULL;) {
        if (c->due <= now) {
            *pp = c->next;
            run_push(bus, c);
        } else {
            bus_wake_at(bus, c->due);
            pp = &c->next;
        }
    }
    for (i = 0; bus->table && i < bus->table->n; i++)
        route_pump(bus, bus->table->routes[i], now);
    for (dp = &bus->draining; (r = *dp) != NULL;) {
        route_pump(bus, r, now);
        if (r->qlen == 0 && r->inflight == 0) {
            *dp = r->dnext;
            route_unref(r);
        } else {
            dp = &r->dnext;
        }
    }
    /* start what is due now; calls queued by these start next turn */
    run = bus->run;
    bus->run = NULL;
    bus->run_tail = &bus->run;
    while ((c = run) != NULL) {
        run = c->next;
        call_start(bus, c);
    }
    if (bus->npend)
        bus_kick(bus);
}

/* ---- statistics ----------------------------------------------------------
 */

size_t loom_bus_routes(loom_server_t *srv, loom_route_stat_t *out, size_t max)
{
    bus_table_t *t = srv->bus ? srv->bus->table : NULL;
    size_t i;

    for (i = 0; t && i < t->n && i < max; i++) {
        const bus_route_t *r = t->routes[i];

        out[i].name = r->name;
        out[i].matched = r->ctr->matched;
        out[i].delivered = r->ctr->delivered;
        out[i].failed = r->ctr->failed;
        out[i].retried = r->ctr->retried;
        out[i].dropped_rate = r->ctr->dropped_rate;
        out[i].dropped_queue = r->ctr->dropped_queue;
        out[i].dropped_loop = r->ctr->dropped_loop;
        out[i].queued = r->qlen;
        out[i].inflight = r->inflight;
    }
    return t ? t->n : 0;
}

void loom_bus_stats(loom_server_t *srv, loom_bus_stat_t *out)
{
    *out = srv->bus->st;
    out->subscribers = srv->bus->nsubs;
}

/* ---- teardown ------------------------------------------------------------
 */

void loom_bus_free(loom_bus_t *bus)
{
    bus_call_t *c;
    bus_route_t *r;
    bus_pending_t *p;
    loom_bus_sub_t *s;

    if (bus == NULL)
        return;
    bus->freeing = 1;
    while ((c = bus->run) != NULL) {
        bus->run = c->next;
        call_free(c);
    }
    while ((c = bus->retry) != NULL) {
        bus->retry = c->next;
        call_free(c);
    }
    while ((r = bus->draining) != NULL) {
        bus->draining = r->dnext;
        route_unref(r);
    }
    bus_table_free(bus->table);
    while ((p = bus->pend) != NULL) {
        bus->pend = p->next;
        loom_msg_unref(p->m);
        free(p);
    }
    while ((s = bus->subs) != NULL) {
        bus->subs = s->next;
        bus_pattern_free(&s->pat);
        free(s);
    }
    event_free(bus->kick);
    event_free(bus->wake);
    free(bus);
}

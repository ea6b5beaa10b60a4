/*
 * conn_mem.c - the in-memory transport: connections with no socket, for
 * session tests.
 *
 * It is a transport like the socket ones: the core reads from it and
 * flushes to it through the same conn.c code (input delivery, the output
 * high- and low-water marks, pause and resume, closing once the output is
 * out), so a session test exercises the real back-pressure paths.  What a
 * socket's kernel does is played here by a few buffers:
 *
 *   in      bytes sent to the connection and not read yet (fed by the
 *           test, or written by the other end of a pair);
 *   out     every byte of the connection's output the peer accepted (what
 *           loom_mem_output shows);
 *   window  how many more output bytes the peer accepts; a flush moves at
 *           most that many, the rest stays in the connection's own output
 *           buffer as on a socket whose peer stops reading;
 *   in_eof  the peer finished sending: once `in` is read, read returns 0.
 *
 * Readiness is an event of its own (no descriptor), activated from the
 * core's registration hook when the connection wants to read and `in`
 * has bytes (or the end), or wants to write and the window is open.  It
 * runs from the reactor, so the two ends of a pair never run inside each
 * other's callbacks.  Calls the test makes (feed, shutdown, consume) run
 * the connection's frame at once, as a socket event would, so a test
 * sees the module's answer as soon as the call returns.
 */
#include "core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    struct evbuffer *in;  /* sent to us, not read yet */
    struct evbuffer *out; /* our output the peer accepted */
    struct event *ev;     /* readiness, from the reactor */
    loom_conn_t *peer;    /* the other end of a pair, or NULL */
    size_t window;        /* output bytes the peer still accepts */
    short want;           /* what the core last asked to hear about */
    int in_eof;           /* the peer finished sending */
    int tls;              /* the fake STARTTLS happened */
} mem_t;

static mem_t *mem_of(loom_conn_t *c)
{
    return c->tp_data;
}

/* Tell the core, from the reactor, what C is ready for among what it
 * wants. */
static void mem_update(loom_conn_t *c, short want)
{
    mem_t *m = mem_of(c);
    short ready = 0;

    m->want = want;
    if (c->flags & LOOM_CF_DEAD)
        return;
    if ((want & EV_READ) && (evbuffer_get_length(m->in) > 0 || m->in_eof))
        ready |= EV_READ;
    if ((want & EV_WRITE) && m->window > 0)
        ready |= EV_WRITE;
    if (ready)
        event_active(m->ev, ready, 0);
}

/* Something changed on C's side (bytes arrived, the window opened). */
static void mem_notify(loom_conn_t *c)
{
    mem_update(c, mem_of(c)->want);
}

static void mem_on_ready(evutil_socket_t fd, short what, void *arg)
{
    loom_conn_t *c = arg;

    (void)fd;
    if (!(c->flags & LOOM_CF_DEAD))
        loom_conn_ready(c, what);
}

/* Open a limited window of M by N (never up to "unlimited"); returns
 * whether it changed. */
static int mem_open(mem_t *m, size_t n)
{
    if (m->window == LOOM_MEM_UNLIMITED || n == 0)
        return 0;
    m->window = n >= LOOM_MEM_UNLIMITED - m->window ? LOOM_MEM_UNLIMITED - 1
                                                    : m->window + n;
    return 1;
}

/* C's peer read N of C's bytes: a limited window opens by as many. */
static void mem_credit(loom_conn_t *c, size_t n)
{
    if (mem_open(mem_of(c), n))
        mem_notify(c);
}

static ssize_t mem_read(loom_conn_t *c, char *buf, size_t len)
{
    mem_t *m = mem_of(c);
    size_t n = evbuffer_get_length(m->in);

    if (n == 0)
        return m->in_eof ? 0 : LOOM_AGAIN;
    if (n > len)
        n = len;
    evbuffer_remove(m->in, buf, n);
    if (m->peer)
        mem_credit(m->peer, n);
    return (ssize_t)n;
}

static int mem_flush(loom_conn_t *c)
{
    mem_t *m = mem_of(c);
    size_t n = evbuffer_get_length(c->out), moved = 0;

    if (n > m->window)
        n = m->window;
    while (moved < n) {
        size_t k = n - moved < 16384 ? n - moved : 16384;
        unsigned char *p = evbuffer_pullup(c->out, (ev_ssize_t)k);

        if (p == NULL)
            return LOOM_ERROR;
        evbuffer_add(m->out, p, k);
        if (m->peer)
            evbuffer_add(mem_of(m->peer)->in, p, k);
        evbuffer_drain(c->out, k);
        moved += k;
    }
    if (m->window != LOOM_MEM_UNLIMITED)
        m->window -= moved;
    if (moved && m->peer)
        mem_notify(m->peer);
    return evbuffer_get_length(c->out) ? LOOM_AGAIN : LOOM_OK;
}

/* Finalize: no more readiness; the peer of a pair reads the end. */
static void mem_shutdown(loom_conn_t *c)
{
    mem_t *m = mem_of(c);
    loom_conn_t *peer = m->peer;

    event_del(m->ev);
    if (peer) {
        m->peer = NULL;
        mem_of(peer)->peer = NULL;
        mem_of(peer)->in_eof = 1;
        mem_notify(peer);
    }
}

/* The fake STARTTLS: what was sent before the switch is dropped, as the
 * real one drops it (the core has dropped its own unconsumed input). */
static int mem_starttls(loom_conn_t *c)
{
    mem_t *m = mem_of(c);
    size_t n = evbuffer_get_length(m->in);

    evbuffer_drain(m->in, n);
    if (m->peer)
        mem_credit(m->peer, n);
    m->tls = 1;
    c->tp = &loom_transport_mem_tls;
    return LOOM_OK;
}

static int mem_tls_info(loom_conn_t *c, loom_tls_info_t *info)
{
    if (!mem_of(c)->tls)
        return LOOM_ERROR;
    info->version = LOOM_MEM_TLS_VERSION;
    return LOOM_OK;
}

const loom_transport_t loom_transport_mem = {.name = "memory",
                                             .read = mem_read,
                                             .flush = mem_flush,
                                             .shutdown = mem_shutdown,
                                             .update = mem_update,
                                             .starttls = mem_starttls};

const loom_transport_t loom_transport_mem_tls = {.name = "memory-tls",
                                                 .read = mem_read,
                                                 .flush = mem_flush,
                                                 .shutdown = mem_shutdown,
                                                 .update = mem_update,
                                                 .tls_info = mem_tls_info};

static void mem_attach(loom_conn_t *c)
{
    mem_t *m = loom_calloc(1, sizeof(*m));

    m->in = evbuffer_new();
    m->out = evbuffer_new();
    m->ev = event_new(c->srv->base, -1, 0, mem_on_ready, c);
    m->window = LOOM_MEM_UNLIMITED;
    if (m->in == NULL || m->out == NULL || m->ev == NULL)
        abort();
    c->flags |= LOOM_CF_MEM;
    c->tp_data = m;
}

loom_conn_t *loom_mem_conn_new(loom_instance_t *inst)
{
    loom_conn_t *c = loom_conn_new(inst->srv, inst, &inst->mod->stream, -1,
                                   &loom_transport_mem, inst->mod->conn_size);

    mem_attach(c);
    loom_conn_start(c);
    return c;
}

loom_conn_t *loom_mem_conn_new_handler(loom_server_t *srv,
                                       const loom_handler_t *h, void *data)
{
    loom_conn_t *c = loom_conn_new(srv, NULL, h, -1, &loom_transport_mem, 0);

    mem_attach(c);
    c->flags |= LOOM_CF_OUTBOUND | LOOM_CF_OPENED;
    c->data = data;
    loom_conn_enter(c); /* registers, as loom_connect's connections */
    loom_conn_leave(c);
    return c;
}

/* The transport of C became ready for WHAT because of a test's call: run
 * C's frame now, as a socket event would. */
static void mem_kick(loom_conn_t *c, short what)
{
    if (c->flags & LOOM_CF_DEAD)
        return;
    if (c->frames == 0)
        loom_conn_ready(c, what);
    else
        mem_notify(c);
}

int loom_mem_feed(loom_conn_t *c, const char *buf, size_t len)
{
    mem_t *m = mem_of(c);

    if ((c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT)) ||
        m->in_eof)
        return LOOM_ERROR;
    evbuffer_add(m->in, buf, len);
    mem_kick(c, EV_READ);
    return LOOM_OK;
}

int loom_mem_shutdown(loom_conn_t *c)
{
    mem_t *m = mem_of(c);

    if (c->flags & LOOM_CF_DEAD)
        return LOOM_ERROR;
    m->in_eof = 1;
    mem_kick(c, EV_READ);
    return LOOM_OK;
}

void loom_mem_set_window(loom_conn_t *c, size_t bytes)
{
    mem_of(c)->window = bytes;
    if (bytes)
        mem_kick(c, EV_WRITE);
}

void loom_mem_consume(loom_conn_t *c, size_t n)
{
    if (mem_open(mem_of(c), n))
        mem_kick(c, EV_WRITE);
}

size_t loom_mem_window(loom_conn_t *c)
{
    return mem_of(c)->window;
}

int loom_mem_join(loom_conn_t *a, loom_conn_t *b)
{
    mem_t *ma, *mb;

    if (a == b || !(a->flags & LOOM_CF_MEM) || !(b->flags & LOOM_CF_MEM) ||
        ((a->flags | b->flags) & LOOM_CF_DEAD))
        return LOOM_ERROR;
    ma = mem_of(a);
    mb = mem_of(b);
    if (ma->peer || mb->peer || ma->in_eof || mb->in_eof)
        return LOOM_ERROR;
    ma->peer = b;
    mb->peer = a;
    /* what each said before the join (a greeting) reaches the other */
    evbuffer_add(mb->in, evbuffer_pullup(ma->out, -1),
                 evbuffer_get_length(ma->out));
    evbuffer_add(ma->in, evbuffer_pullup(mb->out, -1),
                 evbuffer_get_length(mb->out));
    mem_notify(a);
    mem_notify(b);
    return LOOM_OK;
}

const char *loom_mem_output(loom_conn_t *c, size_t *len)
{
    struct evbuffer *b = mem_of(c)->out;

    *len = evbuffer_get_length(b);
    return (const char *)evbuffer_pullup(b, -1);
}

int loom_mem_closed(loom_conn_t *c)
{
    return (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT)) != 0;
}

int loom_mem_ended(loom_conn_t *c)
{
    return (c->flags & LOOM_CF_DEAD) != 0;
}

int loom_mem_tls(loom_conn_t *c)
{
    return mem_of(c)->tls;
}

void loom_mem_conn_free(loom_conn_t *c)
{
    mem_t *m = mem_of(c);
    loom_conn_t **pp;

    if (c->flags & LOOM_CF_DEFERRED) { /* the struct goes now */
        for (pp = &c->srv->deferred; *pp; pp = &(*pp)->dnext) {
            if (*pp == c) {
                *pp = c->dnext;
                break;
            }
        }
        c->flags &= ~LOOM_CF_DEFERRED;
    }
    c->holds++;
    loom_conn_finalize(c); /* unlinks a pair's peer */
    event_free(m->ev);
    evbuffer_free(m->in);
    evbuffer_free(m->out);
    free(m);
    free(c);
}

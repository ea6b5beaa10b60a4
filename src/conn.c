/*
 * conn.c - connection life cycle, buffering, back-pressure and timeouts.
 *
 * A connection reads into the server's shared scratch buffer and keeps
 * only what its handler left unconsumed, so an idle connection owns no
 * buffer at all; output goes to an evbuffer created on the first write and
 * freed once flushed.  One struct event per connection, registered for
 * exactly the directions that are wanted right now.
 *
 * Re-entrancy.  `frames` counts the core frames on the stack for a
 * connection (its event callback, its turn on the deferred list, its
 * timers, a session test's feed): only inside one may the connection's own
 * callbacks run, and only when the outermost frame leaves, or from the
 * deferred list, is a connection finalized (its close callback run).  The
 * calls a module makes -- write, close, abort, pause, resume, release --
 * never run a callback of any connection: they record what is wanted and,
 * when no frame of that connection is on the stack, put it on the
 * deferred list (Redis frees clients over their output limit the same
 * way).  So a module writing to another connection, or looping over many,
 * never finds one freed under it.  `holds` counts references (frames,
 * module holds, the deferred list); whoever drops the last one of a
 * finalized connection frees it.
 */
#include "core.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"

static void conn_on_event(evutil_socket_t fd, short what, void *arg);
static void conn_finalize(loom_conn_t *c);

/* ---- activity list (per instance, oldest first) ------------------------- */

static void conn_lru_unlink(loom_conn_t *c)
{
    loom_instance_t *inst = c->inst;

    if (inst == NULL)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else if (inst->lru_head == c)
        inst->lru_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else if (inst->lru_tail == c)
        inst->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void conn_lru_append(loom_conn_t *c)
{
    loom_instance_t *inst = c->inst;

    if (inst == NULL)
        return;
    c->prev = inst->lru_tail;
    c->next = NULL;
    if (inst->lru_tail)
        inst->lru_tail->next = c;
    else
        inst->lru_head = c;
    inst->lru_tail = c;
}

static void conn_touch(loom_conn_t *c)
{
    c->last = loom_now_sec();
    if (c->inst && c->inst->lru_tail != c) {
        conn_lru_unlink(c);
        conn_lru_append(c);
    }
}

/* ---- creation and destruction ------------------------------------------- */

loom_conn_t *loom_conn_new(loom_server_t *srv, loom_instance_t *inst,
                           const loom_handler_t *h, int fd,
                           const loom_transport_t *tp, size_t data_size)
{
    loom_conn_t *c = loom_calloc(1, sizeof(*c) + data_size);

    c->srv = srv;
    c->inst = inst;
    c->h = h;
    c->tp = tp;
    c->fd = fd;
    c->data = data_size ? (void *)(c + 1) : NULL;
    c->max_input = LOOM_IN_MAX_DEFAULT;
    c->max_output = LOOM_OUT_MAX;
    c->last = loom_now_sec();
    srv->nconns++;
    if (inst) {
        inst->nconns++;
        conn_lru_append(c);
    }
    return c;
}

static void conn_free(loom_conn_t *c)
{
    if (c->flags & LOOM_CF_MEM)
        return; /* loom_mem_conn_free owns the struct */
    free(c);
}

/* Drop a hold; free the connection when it was the last one on a dead
 * connection.  Returns 1 if C is gone. */
static int conn_release(loom_conn_t *c)
{
    if (--c->holds == 0 && (c->flags & LOOM_CF_DEAD)) {
        conn_free(c);
        return 1;
    }
    return 0;
}

/* ---- lingering close ----------------------------------------------------
 *
 * Closing a socket with unread input, or receiving input after close(2),
 * makes the kernel send RST, and an RST makes the peer's kernel drop what
 * it received but the application has not read yet: the end of a response
 * the client is still reading (an HTTP/2 client sends WINDOW_UPDATE while
 * it reads).  So a connection we close gracefully sends FIN (shutdown
 * SHUT_WR) and its socket keeps reading and discarding for a while, as
 * nginx's lingering_close does; the connection itself is gone. */

#define LINGER_SECONDS 2
#define LINGER_MAX_BYTES (1024 * 1024)

struct loom_linger_s {
    loom_server_t *srv;
    int fd;
    size_t bytes;
    struct event *ev;
    struct loom_linger_s *next, *prev;
};

/* A graceful stop is complete when no connection is left and no closed
 * socket still lingers. */
static void conn_check_stopped(loom_server_t *srv)
{
    if (srv->shutting_down && srv->nconns == 0 && srv->lingers == NULL &&
        srv->shutdown_done) {
        void (*done)(void *) = srv->shutdown_done;

        srv->shutdown_done = NULL;
        done(srv->shutdown_arg);
    }
}

static void linger_end(struct loom_linger_s *l)
{
    loom_server_t *srv = l->srv;

    if (l->prev)
        l->prev->next = l->next;
    else
        l->srv->lingers = l->next;
    if (l->next)
        l->next->prev = l->prev;
    event_free(l->ev);
    close(l->fd);
    free(l);
    conn_check_stopped(srv);
}

static void linger_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct loom_linger_s *l = arg;
    char *buf = l->srv->scratch;

    if (what & EV_TIMEOUT) {
        linger_end(l);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(l->srv->scratch));

        if (n > 0) {
            l->bytes += (size_t)n;
            if (l->bytes > LINGER_MAX_BYTES)
                break;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        break; /* EOF or error */
    }
    linger_end(l);
}

/* Close FD after draining its input (or at once when that fails). */
static void linger_start(loom_server_t *srv, int fd)
{
    struct loom_linger_s *l;
    struct timeval tv = {LINGER_SECONDS, 0};

    if (shutdown(fd, SHUT_WR) != 0) {
        close(fd);
        return;
    }
    l = loom_calloc(1, sizeof(*l));
    l->srv = srv;
    l->fd = fd;
    l->ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, linger_on_read, l);
    l->next = srv->lingers;
    if (l->next)
        l->next->prev = l;
    srv->lingers = l;
    event_add(l->ev, &tv);
}

void loom_linger_free_all(loom_server_t *srv)
{
    while (srv->lingers)
        linger_end(srv->lingers);
}

void loom_conn_finalize(loom_conn_t *c)
{
    conn_finalize(c);
}

static void conn_finalize(loom_conn_t *c)
{
    loom_server_t *srv = c->srv;
    loom_instance_t *inst = c->inst;

    if (c->flags & LOOM_CF_DEAD)
        return;
    c->flags |= LOOM_CF_DEAD;
    c->holds++;
    loom_timers_owner_gone(&c->timers);
    if (!(c->flags & LOOM_CF_CLOSED_CB) && c->h->close &&
        ((c->flags & LOOM_CF_OPENED) || (c->flags & LOOM_CF_OUTBOUND))) {
        c->flags |= LOOM_CF_CLOSED_CB;
        c->h->close(c);
    }
    conn_lru_unlink(c);
    if (c->flags & LOOM_CF_EVADDED) {
        event_del(&c->ev);
        c->flags &= ~LOOM_CF_EVADDED;
    }
    if (c->tp->shutdown)
        c->tp->shutdown(c);
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        /* TLS too: its close_notify is out, and the peer's last records
         * (HTTP/2 WINDOW_UPDATEs) must not turn into an RST that discards
         * the end of the answer it is still reading. */
        if ((c->flags & LOOM_CF_LINGER) && !(c->flags & LOOM_CF_EOF))
            linger_start(srv, c->fd);
        else
            close(c->fd);
        c->fd = -1;
    }
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    if (c->out) {
        evbuffer_free(c->out);
        c->out = NULL;
    }
    srv->nconns--;
    if (c->ls) {
        loom_listener_t *ls = c->ls;

        c->ls = NULL;
        loom_listener_conn_closed(ls);
    }
    if (srv->accept_paused) /* a descriptor came free */
        loom_listeners_pause(srv, 0);
    if (inst)
        inst->nconns--; /* a removed instance is reaped by the sweep */
    conn_check_stopped(srv);
    conn_release(c);
}

/* ---- events ------------------------------------------------------------- */

static size_t conn_pending_out(loom_conn_t *c)
{
    return c->out ? evbuffer_get_length(c->out) : 0;
}

/* Register for exactly the directions wanted now. */
static void conn_update(loom_conn_t *c)
{
    short want = 0;

    if ((c->fd < 0 && c->tp->update == NULL) || (c->flags & LOOM_CF_DEAD))
        return;
    if (c->flags & LOOM_CF_HANDSHAKE) {
        want = (c->flags & LOOM_CF_TLS_RW) ? EV_WRITE : EV_READ;
    } else {
        if (!(c->flags & (LOOM_CF_PAUSED | LOOM_CF_CLOSING | LOOM_CF_EOF |
                          LOOM_CF_STARTTLS)) &&
            (!(c->flags & LOOM_CF_FULL) || (c->flags & LOOM_CF_OUTBOUND)))
            want |= EV_READ;
        if (conn_pending_out(c) || (c->flags & LOOM_CF_TLS_RW))
            want |= EV_WRITE;
        if (c->flags & LOOM_CF_TLS_WR)
            want |= EV_READ;
    }
    if (c->tp->update) { /* no descriptor: the transport keeps watch */
        c->tp->update(c, want);
        return;
    }
    if (want == c->events && ((c->flags & LOOM_CF_EVADDED) || want == 0))
        return;
    if (c->flags & LOOM_CF_EVADDED) {
        event_del(&c->ev);
        c->flags &= ~LOOM_CF_EVADDED;
    }
    c->events = want;
    if (want) {
        event_assign(&c->ev, c->srv->base, c->fd, want | EV_PERSIST,
                     conn_on_event, c);
        event_add(&c->ev, NULL);
        c->flags |= LOOM_CF_EVADDED;
    }
}

/* Queue C for work in the next reactor turn (flush, redeliver). */
static void conn_defer(loom_conn_t *c)
{
    if (c->flags & (LOOM_CF_DEFERRED | LOOM_CF_DEAD))
        return;
    c->flags |= LOOM_CF_DEFERRED;
    c->holds++;
    c->dnext = c->srv->deferred;
    c->srv->deferred = c;
    event_active(c->srv->defer, EV_TIMEOUT, 0);
}

void loom_conn_defer_read(loom_conn_t *c)
{
    conn_defer(c);
}

/* ---- input -------------------------------------------------------------- */

/* Hand BUF (the scratch buffer or c->in) to the handler and keep what it
 * leaves. */
static void conn_deliver(loom_conn_t *c, const char *buf, size_t len)
{
    size_t used, rest;

    if (len == 0)
        return;
    used = c->h->data(c, buf, len);
    if (used > len)
        used = len;
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_ABORT))
        return; /* what is left no longer matters */
    rest = len - used;
    if (buf == c->in) {
        if (rest == 0) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        } else if (used) {
            memmove(c->in, c->in + used, rest);
        }
        c->in_len = (uint32_t)rest;
    } else if (rest) {
        c->in_cap = (uint32_t)(rest < 4096 ? 4096 : rest);
        c->in = loom_malloc(c->in_cap);
        memcpy(c->in, buf + used, rest);
        c->in_len = (uint32_t)rest;
    }
    if (c->in_len > c->max_input) {
        loom_log(LOOM_LOG_DEBUG, c->inst ? c->inst->who : NULL,
                 "%s: input limit (%u bytes) exceeded, closing",
                 loom_conn_peer(c), c->max_input);
        conn_finalize(c);
    }
}

static int conn_reading(loom_conn_t *c)
{
    /* An outbound connection's owner applies back-pressure itself: full
     * output must not stop it reading (a proxy relaying both ways would
     * deadlock with a peer that does the same). */
    if ((c->flags & LOOM_CF_FULL) && !(c->flags & LOOM_CF_OUTBOUND))
        return 0;
    return !(c->flags &
             (LOOM_CF_DEAD | LOOM_CF_ABORT | LOOM_CF_CLOSING | LOOM_CF_PAUSED |
              LOOM_CF_EOF | LOOM_CF_STARTTLS | LOOM_CF_HANDSHAKE));
}

static void conn_read(loom_conn_t *c)
{
    int round;

    if ((c->flags & LOOM_CF_REDELIVER) && c->in_len && conn_reading(c)) {
        c->flags &= ~LOOM_CF_REDELIVER;
        conn_deliver(c, c->in, c->in_len);
    }
    for (round = 0; round < 16 && conn_reading(c); round++) {
        char *dst;
        size_t room;
        ssize_t n;
        int append = c->in_len > 0;

        if (append) {
            if (c->in_cap - c->in_len < 16384) {
                /* grow geometrically: a large block arriving in many
                 * reads is copied O(n) times in all, not O(n^2) */
                uint32_t cap = c->in_len + 16384;

                if (cap < 2 * c->in_cap &&
                    2 * (uint64_t)c->in_cap <= c->max_input + 16384ULL)
                    cap = 2 * c->in_cap;
                c->in_cap = cap;
                c->in = loom_realloc(c->in, c->in_cap);
            }
            dst = c->in + c->in_len;
            room = c->in_cap - c->in_len;
        } else {
            dst = c->srv->scratch;
            room = sizeof(c->srv->scratch);
        }
        n = c->tp->read(c, dst, room);
        if (n == LOOM_AGAIN)
            return;
        if (n == LOOM_ERROR) {
            conn_finalize(c);
            return;
        }
        if (n == 0) {
            c->flags |= LOOM_CF_EOF;
            loom_conn_close(c);
            return;
        }
        conn_touch(c);
        if (append) {
            c->in_len += (uint32_t)n;
            conn_deliver(c, c->in, c->in_len);
        } else {
            conn_deliver(c, dst, (size_t)n);
        }
        if ((size_t)n < room && !(c->ssl && SSL_has_pending(c->ssl)))
            return;
    }
    /* More may be waiting (TLS keeps decrypted bytes of its own): come
     * back next turn instead of starving the other connections. */
    if (conn_reading(c))
        conn_defer(c);
}

/* ---- output ------------------------------------------------------------- */

static void conn_starttls_begin(loom_conn_t *c);

void loom_conn_flush(loom_conn_t *c)
{
    size_t before = conn_pending_out(c), after;
    int r = LOOM_OK;

    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_ABORT))
        return;
    if (before && !(c->flags & LOOM_CF_HANDSHAKE))
        r = c->tp->flush(c);
    if (r == LOOM_ERROR) {
        conn_finalize(c);
        return;
    }
    after = conn_pending_out(c);
    if (after < before)
        conn_touch(c);
    if (after == 0 && c->out) {
        evbuffer_free(c->out);
        c->out = NULL;
    }
    if ((c->flags & LOOM_CF_FULL) && after < LOOM_OUT_LOW) {
        c->flags &= ~LOOM_CF_FULL;
        if (c->in_len) {
            /* input left waiting: hand it over again from the next
             * reactor turn, as no read event will announce it */
            c->flags |= LOOM_CF_REDELIVER;
            if (c->fd >= 0)
                conn_defer(c);
        }
        if (c->h->drain)
            c->h->drain(c);
        if (c->flags & (LOOM_CF_DEAD | LOOM_CF_ABORT))
            return;
        /* the drain callback may have written more, then closed */
        after = conn_pending_out(c);
    }
    if (after == 0 && (c->flags & LOOM_CF_CLOSING)) {
        conn_finalize(c);
        return;
    }
    if (after == 0 && (c->flags & LOOM_CF_STARTTLS))
        conn_starttls_begin(c);
}

/* After a handler callback or an event: flush what was written, deliver
 * input that waits, and re-register. */
static void conn_settle(loom_conn_t *c)
{
    if (c->flags & LOOM_CF_DEAD)
        return;
    if (c->flags & LOOM_CF_ABORT) {
        conn_finalize(c);
        return;
    }
    loom_conn_flush(c);
    while ((c->flags & LOOM_CF_REDELIVER) && conn_reading(c) && c->in_len) {
        conn_read(c);
        if ((c->flags & LOOM_CF_DEAD) || !conn_pending_out(c))
            break;
        loom_conn_flush(c);
        if (c->fd >= 0)
            break; /* a socket goes on from the deferred list, next turn */
    }
    if (!(c->flags & LOOM_CF_DEAD) && conn_pending_out(c))
        loom_conn_flush(c);
    if (c->flags & LOOM_CF_ABORT) { /* asked for by a drain callback */
        conn_finalize(c);
        return;
    }
    conn_update(c);
}

static inline void conn_enter(loom_conn_t *c)
{
    c->holds++;
    c->frames++;
}

static inline void conn_leave(loom_conn_t *c)
{
    /* Only the outermost frame finishes what was asked for inside. */
    if (c->frames == 1)
        conn_settle(c);
    c->frames--;
    conn_release(c);
}

void loom_conn_enter(loom_conn_t *c)
{
    conn_enter(c);
}

void loom_conn_leave(loom_conn_t *c)
{
    conn_leave(c);
}

/* A module asked for something the core does in a frame of C: if none is
 * on the stack, do it from the deferred list. */
static void conn_poke(loom_conn_t *c)
{
    if (c->frames == 0)
        conn_defer(c);
}

void loom_conn_hold(loom_conn_t *c)
{
    c->holds++;
}

void loom_conn_release(loom_conn_t *c)
{
    if (!(c->flags & LOOM_CF_DEAD) &&
        (conn_pending_out(c) ||
         (c->flags & (LOOM_CF_ABORT | LOOM_CF_CLOSING | LOOM_CF_REDELIVER))))
        conn_poke(c);
    conn_release(c);
}

void loom_conn_set_max_output(loom_conn_t *c, size_t max)
{
    c->max_output = max ? max : LOOM_OUT_MAX;
}

/* Past the connection's output cap: abort it (never inside the caller). */
static int conn_cap_exceeded(loom_conn_t *c)
{
    loom_log(LOOM_LOG_WARN, c->inst ? c->inst->who : NULL,
             "%s: output limit (%zu bytes) exceeded, closing",
             loom_conn_peer(c), c->max_output);
    loom_conn_abort(c);
    return LOOM_ERROR;
}

void loom_conn_out_prepare(loom_conn_t *c)
{
    if (c->out == NULL) {
        c->out = evbuffer_new();
        if (c->fd >= 0 && c->ssl == NULL)
            evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD);
    }
}

/* Bytes were added to c->out (PENDING now): cap, high-water mark, and a
 * flush from the deferred list unless a frame of C will do it.  Inline:
 * every write of every response passes here. */
static inline int conn_queued(loom_conn_t *c, size_t pending)
{
    if (pending > LOOM_OUT_HIGH || pending > c->max_output) {
        if (pending > c->max_output)
            return conn_cap_exceeded(c);
        c->flags |= LOOM_CF_FULL;
    }
    if (c->frames == 0)
        conn_defer(c);
    return (c->flags & LOOM_CF_FULL) ? LOOM_AGAIN : LOOM_OK;
}

int loom_conn_out_queued(loom_conn_t *c)
{
    return conn_queued(c, evbuffer_get_length(c->out));
}

int loom_conn_write(loom_conn_t *c, const void *data, size_t len)
{
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT))
        return LOOM_ERROR;
    if (len == 0)
        return (c->flags & LOOM_CF_FULL) ? LOOM_AGAIN : LOOM_OK;
    if (c->out == NULL)
        loom_conn_out_prepare(c);
    evbuffer_add(c->out, data, len);
    return conn_queued(c, evbuffer_get_length(c->out));
}

int loom_conn_printf(loom_conn_t *c, const char *fmt, ...)
{
    char buf[1024], *p = buf;
    va_list ap;
    int n, r;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return LOOM_ERROR;
    if ((size_t)n >= sizeof(buf)) {
        p = loom_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    r = loom_conn_write(c, p, (size_t)n);
    if (p != buf)
        free(p);
    return r;
}

int loom_conn_write_file(loom_conn_t *c, int fd, off_t offset, size_t len)
{
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT)) {
        close(fd);
        return LOOM_ERROR;
    }
    loom_conn_out_prepare(c);
    if (evbuffer_add_file(c->out, fd, offset, (ev_off_t)len) != 0) {
        close(fd);
        return LOOM_ERROR;
    }
    c->flags |= LOOM_CF_CORK;
    /* a file's bytes are not in memory: they do not count against the
     * output cap */
    if (evbuffer_get_length(c->out) > LOOM_OUT_HIGH)
        c->flags |= LOOM_CF_FULL;
    conn_poke(c);
    return (c->flags & LOOM_CF_FULL) ? LOOM_AGAIN : LOOM_OK;
}

/* ---- the event callback and deferred work ------------------------------- */

static void conn_on_event(evutil_socket_t fd, short what, void *arg)
{
    loom_conn_t *c = arg;

    (void)fd;
    loom_conn_enter(c);
    if (c->flags & LOOM_CF_ABORT) {
        /* going away: no handshake step, no open, no read (the leave
         * finalizes it) */
    } else if (c->flags & LOOM_CF_HANDSHAKE) {
        loom_tls_handshake(c);
    } else {
        if ((what & EV_WRITE) && (c->flags & LOOM_CF_TLS_RW)) {
            c->flags &= ~LOOM_CF_TLS_RW;
            conn_read(c);
        }
        if ((what & EV_READ) && (c->flags & LOOM_CF_TLS_WR)) {
            c->flags &= ~LOOM_CF_TLS_WR;
            loom_conn_flush(c);
        }
        if ((what & EV_WRITE) && !(c->flags & LOOM_CF_DEAD))
            loom_conn_flush(c);
        if ((what & EV_READ) && !(c->flags & LOOM_CF_DEAD))
            conn_read(c);
    }
    loom_conn_leave(c);
}

void loom_conn_ready(loom_conn_t *c, short what)
{
    conn_on_event(c->fd, what, c);
}

/* Run the server's deferred list (one reactor callback for all). */
void loom_conn_run_deferred(loom_server_t *srv)
{
    loom_conn_t *list = srv->deferred, *c;

    srv->deferred = NULL;
    while ((c = list) != NULL) {
        list = c->dnext;
        c->dnext = NULL;
        c->flags &= ~LOOM_CF_DEFERRED;
        if (!(c->flags & LOOM_CF_DEAD)) {
            c->frames++;
            if (c->ssl && SSL_has_pending(c->ssl) && conn_reading(c))
                conn_read(c);
            if (c->frames == 1)
                conn_settle(c);
            c->frames--;
        }
        conn_release(c);
    }
}

/* ---- starting, closing, pausing ----------------------------------------- */

void loom_conn_open_handler(loom_conn_t *c)
{
    c->flags |= LOOM_CF_OPENED;
    if (c->h->open && c->h->open(c) != LOOM_OK)
        conn_finalize(c);
}

void loom_conn_start(loom_conn_t *c)
{
    loom_conn_enter(c);
    if (c->ssl) {
        c->flags |= LOOM_CF_HANDSHAKE;
        loom_tls_handshake(c);
    } else {
        loom_conn_open_handler(c);
    }
    loom_conn_leave(c);
}

void loom_conn_close(loom_conn_t *c)
{
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT))
        return;
    c->flags |= LOOM_CF_CLOSING | LOOM_CF_LINGER;
    conn_poke(c); /* finalized once the output is out (loom_conn_flush) */
}

void loom_conn_abort(loom_conn_t *c)
{
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_ABORT))
        return;
    c->flags &= ~LOOM_CF_LINGER;
    c->flags |= LOOM_CF_ABORT;
    conn_poke(c);
}

void loom_conn_pause(loom_conn_t *c)
{
    c->flags |= LOOM_CF_PAUSED;
    if (c->frames == 0)
        conn_update(c); /* registration only: no callback runs */
}

void loom_conn_resume(loom_conn_t *c)
{
    if (!(c->flags & LOOM_CF_PAUSED))
        return;
    c->flags &= ~LOOM_CF_PAUSED;
    if (c->in_len)
        c->flags |= LOOM_CF_REDELIVER;
    conn_poke(c);
}

/* ---- STARTTLS ----------------------------------------------------------- */

static void conn_starttls_begin(loom_conn_t *c)
{
    c->flags &= ~LOOM_CF_STARTTLS;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    if (c->tp->starttls) { /* a transport with a TLS of its own */
        if (c->tp->starttls(c) != LOOM_OK)
            conn_finalize(c);
        else /* as when a real handshake completes */
            loom_conn_open_handler(c);
        return;
    }
    if (c->ssl == NULL) {
        conn_finalize(c);
        return;
    }
    c->tp = &loom_transport_tls;
    c->flags |= LOOM_CF_HANDSHAKE;
    loom_tls_handshake(c);
}

int loom_conn_starttls(loom_conn_t *c, const char *profile)
{
    if (c->flags &
        (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT | LOOM_CF_STARTTLS))
        return LOOM_ERROR;
    if (c->tp->starttls) {
        c->flags |= LOOM_CF_STARTTLS;
        conn_poke(c);
        return LOOM_OK;
    }
    if (c->ssl || c->fd < 0)
        return LOOM_ERROR;
    c->ssl = loom_tls_server_ssl(c, profile);
    if (c->ssl == NULL)
        return LOOM_ERROR;
    c->flags |= LOOM_CF_STARTTLS;
    conn_poke(c);
    return LOOM_OK;
}

/* ---- accessors ---------------------------------------------------------- */

void *loom_conn_data(loom_conn_t *c)
{
    return c->data;
}

void loom_conn_set_data(loom_conn_t *c, void *data)
{
    c->data = data;
}

loom_instance_t *loom_conn_instance(loom_conn_t *c)
{
    return c->inst;
}

size_t loom_conn_pending(loom_conn_t *c)
{
    return conn_pending_out(c);
}

void loom_conn_set_max_input(loom_conn_t *c, size_t max)
{
    c->max_input = max > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)max;
}

int loom_conn_peer_addr(loom_conn_t *c, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    *len = sizeof(*ss);
    if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)ss, len) != 0)
        return LOOM_ERROR;
    return LOOM_OK;
}

int loom_conn_local_addr(loom_conn_t *c, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    *len = sizeof(*ss);
    if (c->fd < 0 || getsockname(c->fd, (struct sockaddr *)ss, len) != 0)
        return LOOM_ERROR;
    return LOOM_OK;
}

const char *loom_conn_peer(loom_conn_t *c)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char *buf = c->srv->peerbuf;

    if (loom_conn_peer_addr(c, &ss, &len) != LOOM_OK)
        return c->fd < 0 ? "memory" : "unknown";
    if (ss.ss_family == AF_UNIX)
        return "unix";
    if (evutil_inet_ntop(ss.ss_family,
                         ss.ss_family == AF_INET6
                             ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                             : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
                         buf, sizeof(c->srv->peerbuf)) == NULL)
        return "unknown";
    return buf;
}

/* ---- server-wide operations --------------------------------------------- */

/* Call FN on every live connection of INST (all instances when NULL). */
static void conn_foreach(loom_server_t *srv, loom_instance_t *inst,
                         void (*fn)(loom_conn_t *))
{
    loom_instance_t *i;

    for (i = srv->instances; i; i = i->next) {
        if (inst && i != inst)
            continue;
        while (i->lru_head) {
            loom_conn_t *c = i->lru_head;

            fn(c); /* finalize unlinks c */
            if (i->lru_head == c)
                conn_lru_unlink(c);
        }
    }
}

void loom_conn_abort_all(loom_server_t *srv, loom_instance_t *inst)
{
    conn_foreach(srv, inst, conn_finalize);
}

void loom_conn_sweep(loom_server_t *srv, uint64_t now)
{
    loom_instance_t *inst;

    for (inst = srv->instances; inst; inst = inst->next) {
        loom_conn_t *c = inst->lru_head, *next;

        for (; c && now - c->last >= inst->min_timeout; c = next) {
            unsigned limit;
            const char *why;

            next = c->next;
            if (conn_pending_out(c)) {
                limit = inst->write_timeout;
                why = "write timeout";
            } else if (c->in_len || (c->flags & LOOM_CF_HANDSHAKE)) {
                limit = inst->read_timeout;
                why = "read timeout";
            } else {
                limit = inst->idle_timeout;
                why = "idle timeout";
            }
            if (limit == 0 || now - c->last < limit)
                continue;
            loom_log(LOOM_LOG_DEBUG, inst->who, "%s: %s, closing",
                     loom_conn_peer(c), why);
            if ((c->flags & LOOM_CF_HANDSHAKE) && c->ssl &&
                SSL_is_server(c->ssl))
                inst->tls_failures[LOOM_TLS_FAIL_TIMEOUT]++;
            conn_finalize(c);
        }
    }
}

/* ---- the plain file-descriptor transport (TCP, UNIX) --------------------- */

static ssize_t fd_read(loom_conn_t *c, char *buf, size_t len)
{
    ssize_t n;

    do {
        n = read(c->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? LOOM_AGAIN : LOOM_ERROR;
}

/* TCP_CORK on or off (not TCP: nothing to do, the error is ignored). */
static void fd_cork(loom_conn_t *c, int on)
{
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

/* Writes what is queued.  After a file was queued the socket is corked
 * for this flush: the head in memory (one writev) and the file (sendfile)
 * leave in full segments rather than as a short packet of its own, the
 * way nginx's tcp_nopush does it; uncorking pushes out the rest. */
static int fd_flush(loom_conn_t *c)
{
    int cork = (c->flags & LOOM_CF_CORK) != 0, r = LOOM_OK;

    c->flags &= ~LOOM_CF_CORK;
    if (cork)
        fd_cork(c, 1);
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = (errno == EAGAIN || errno == EWOULDBLOCK) ? LOOM_AGAIN
                                                          : LOOM_ERROR;
            break;
        }
        if (n == 0) {
            r = LOOM_AGAIN;
            break;
        }
    }
    if (cork)
        fd_cork(c, 0);
    return r;
}

const loom_transport_t loom_transport_fd = {
    .name = "fd", .read = fd_read, .flush = fd_flush};

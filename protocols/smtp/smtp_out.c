/*
 * smtp_out.c - one outbound delivery attempt on the reactor: the route
 * (a smarthost, an address literal, or the domain's MX hosts by
 * preference, the domain itself when it has no MX), each host's
 * addresses through loom_connect_host (every address in order), and the
 * sans-I/O client of smtp_client.h over the connection, with STARTTLS
 * through loom_conn_starttls_client and the body dot-stuffed in chunks
 * that respect the connection's back-pressure.
 *
 * A host that fails before the transaction made progress (refused,
 * timed out, a bad greeting, TLS trouble, 4xx to MAIL...) sends us to the
 * next host; once some recipient was decided by a server, the others
 * keep that session's outcome (RFC 5321 section 5.1).
 *
 * Lifetimes: the attempt owns its connection, lookup, connect and timer
 * and cancels them all before it is freed; the connection's data pointer
 * is cleared first, so its later close callback finds nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_out.h"

#define OUT_MAX_HOSTS 16
#define OUT_CHUNK 65536 /* body bytes stuffed per write */

struct smtp_out_s {
    loom_instance_t *inst;
    loom_server_t *srv;
    smtp_out_done_fn done;
    void *arg;

    /* the parameters, copied */
    char *helo, *smarthost, *tls_ca, *auth_user, *auth_pass, *domain;
    int port, tls;
    unsigned timeout_ms;
    loom_resolver_t *resolver;

    smtp_client_txn_t *txn;
    const char *body;
    size_t body_len, body_pos;
    smtp_stuff_t stuff;
    int sending; /* the body is going out */

    char *hosts[OUT_MAX_HOSTS];
    size_t nhosts, hi;
    loom_dns_query_t *q;
    loom_connect_t *cr;
    loom_conn_t *c;
    smtp_client_t *cl;
    loom_timer_t timer; /* no reply in time */

    /* the outcome for recipients no server decided */
    int perm;
    smtp_client_reply_t fail;
    char mta[256];
};

static void out_next_host(smtp_out_t *o);
static void out_session_failed(smtp_out_t *o);

/* ---- the end ------------------------------------------------------------ */

static void out_drop_conn(smtp_out_t *o, int gently)
{
    if (o->c != NULL) {
        loom_conn_set_data(o->c, NULL);
        if (gently)
            loom_conn_close(o->c);
        else
            loom_conn_abort(o->c);
        o->c = NULL;
    }
    smtp_client_free(o->cl);
    o->cl = NULL;
    o->sending = 0;
}

/* Everything undecided gets the attempt's failure, then DONE. */
static void out_finish(smtp_out_t *o)
{
    size_t i;

    loom_timer_disarm(&o->timer);
    out_drop_conn(o, 1);
    for (i = 0; i < o->txn->nrcpt; i++) {
        smtp_client_rcpt_t *r = &o->txn->rcpt[i];

        if (r->status == SMTP_CLI_RCPT_PENDING ||
            r->status == SMTP_CLI_RCPT_ACCEPTED) {
            r->status =
                o->perm ? SMTP_CLI_RCPT_PERMFAIL : SMTP_CLI_RCPT_TEMPFAIL;
            r->reply = o->fail;
        }
    }
    o->done(o->arg, o);
}

/* Record a local failure (no reply) for what is undecided. */
static void out_fail_local(smtp_out_t *o, int perm, const char *esc,
                           const char *fmt, ...) LOOM_PRINTF(4, 5);

static void out_fail_local(smtp_out_t *o, int perm, const char *esc,
                           const char *fmt, ...)
{
    va_list ap;

    o->perm = perm;
    o->fail.code = 0;
    snprintf(o->fail.esc, sizeof(o->fail.esc), "%s", esc);
    va_start(ap, fmt);
    vsnprintf(o->fail.text, sizeof(o->fail.text), fmt, ap);
    va_end(ap);
}

static void out_timer_cb(loom_timer_t *t, void *arg)
{
    smtp_out_t *o = arg;

    (void)t;
    /* no reply in time: this host failed */
    if (o->cl == NULL || smtp_client_lost(o->cl, "timed out") == 0) {
        out_finish(o); /* it had finished: only QUIT was pending */
        return;
    }
    out_session_failed(o);
}

/* ---- the session -------------------------------------------------------- */

static int out_progress(const smtp_out_t *o)
{
    size_t i;

    for (i = 0; i < o->txn->nrcpt; i++) {
        int s = o->txn->rcpt[i].status;

        if (s == SMTP_CLI_RCPT_DELIVERED || s == SMTP_CLI_RCPT_PERMFAIL ||
            s == SMTP_CLI_RCPT_TEMPFAIL)
            return 1;
    }
    return 0;
}

/* The session on this host failed (the client says why). */
static void out_session_failed(smtp_out_t *o)
{
    const smtp_client_failure_t *f = smtp_client_failure(o->cl);

    if (f != NULL) {
        o->perm = f->permanent;
        o->fail = f->reply;
        if (f->reply.code == 0) {
            /* a local reason: say which host */
            size_t ml = strlen(o->mta), tl = strlen(f->reply.text);
            size_t cap = sizeof(o->fail.text) - 1;

            if (ml > cap / 2)
                ml = cap / 2;
            if (ml + 2 + tl > cap)
                tl = cap - ml - 2;
            memcpy(o->fail.text, o->mta, ml);
            memcpy(o->fail.text + ml, ": ", 2);
            memcpy(o->fail.text + ml + 2, f->reply.text, tl);
            o->fail.text[ml + 2 + tl] = '\0';
        }
    }
    /* QUIT (if the client queued it) goes out before the close */
    {
        size_t n;
        const char *p = smtp_client_out(o->cl, &n);

        if (n > 0 && o->c != NULL)
            loom_conn_write(o->c, p, n);
    }
    out_drop_conn(o, 1);
    if (out_progress(o)) {
        out_finish(o);
        return;
    }
    o->hi++;
    out_next_host(o);
}

static void out_flush(smtp_out_t *o)
{
    size_t n;
    const char *p = smtp_client_out(o->cl, &n);

    if (n > 0) {
        loom_conn_write(o->c, p, n);
        smtp_client_out_clear(o->cl);
    }
    loom_timer_arm(&o->timer, o->timeout_ms);
}

/* Send what is left of the body, as far as the output takes it. */
static void out_send_body(smtp_out_t *o)
{
    char *buf = loom_malloc(2 * OUT_CHUNK + 4);

    while (o->sending) {
        size_t take = o->body_len - o->body_pos, used, n;
        int rc;

        if (take == 0) {
            n = smtp_stuff_finish(&o->stuff, buf);
            if (n > 0)
                loom_conn_write(o->c, buf, n);
            o->sending = 0;
            smtp_client_body_end(o->cl);
            out_flush(o);
            break;
        }
        if (take > OUT_CHUNK)
            take = OUT_CHUNK;
        n = smtp_stuff(&o->stuff, o->body + o->body_pos, take, buf,
                       2 * OUT_CHUNK + 4, &used);
        o->body_pos += used;
        rc = loom_conn_write(o->c, buf, n);
        loom_timer_arm(&o->timer, o->timeout_ms);
        if (rc != LOOM_OK)
            break; /* AGAIN: the drain callback goes on; ERROR: closing */
    }
    free(buf);
}

static void out_starttls_done(loom_conn_t *c, loom_connect_status_t st,
                              const char *err, void *arg);

/* Act on the client's events until it wants more input. */
static size_t out_feed(smtp_out_t *o, const char *buf, size_t len)
{
    size_t pos = 0;

    for (;;) {
        size_t used;
        int ev = smtp_client_feed(o->cl, buf + pos, len - pos, &used);

        pos += used;
        if (ev == SMTP_CLI_MORE) {
            out_flush(o);
            return pos;
        }
        if (ev == SMTP_CLI_STARTTLS) {
            loom_tls_client_t tls;
            int must = o->tls == SMTP_TLS_MUST;

            memset(&tls, 0, sizeof(tls));
            tls.no_verify = !must;
            tls.ca_file = must ? o->tls_ca : NULL;
            tls.name = o->mta;
            out_flush(o);
            if (loom_conn_starttls_client(o->c, &tls, o->timeout_ms,
                                          out_starttls_done, o) != LOOM_OK) {
                out_fail_local(o, 0, "4.7.5", "%s: cannot start TLS", o->mta);
                out_drop_conn(o, 0);
                o->hi++;
                out_next_host(o);
            }
            return pos; /* the rest is dropped by the core */
        }
        if (ev == SMTP_CLI_BODY) {
            out_flush(o);
            o->sending = 1;
            o->body_pos = 0;
            smtp_stuff_init(&o->stuff);
            out_send_body(o);
            if (o->c == NULL)
                return len;
            continue;
        }
        if (ev == SMTP_CLI_DONE) {
            /* the transaction is over: QUIT, close, report */
            smtp_client_quit(o->cl);
            {
                size_t n;
                const char *p = smtp_client_out(o->cl, &n);

                if (n > 0)
                    loom_conn_write(o->c, p, n);
            }
            out_finish(o);
            return len;
        }
        /* SMTP_CLI_FAIL */
        out_session_failed(o);
        return len;
    }
}

static void out_starttls_done(loom_conn_t *c, loom_connect_status_t st,
                              const char *err, void *arg)
{
    smtp_out_t *o = arg;

    if (loom_conn_data(c) != o)
        return; /* given up meanwhile */
    if (st == LOOM_CONNECT_OK) {
        smtp_client_tls_ready(o->cl);
        out_flush(o);
        return;
    }
    out_fail_local(o, 0, st == LOOM_CONNECT_EVERIFY ? "4.7.5" : "4.7.0",
                   "%s: TLS failed: %s", o->mta, err ? err : "handshake");
    out_drop_conn(o, 0);
    o->hi++;
    out_next_host(o);
}

static size_t out_conn_data(loom_conn_t *c, const char *buf, size_t len)
{
    smtp_out_t *o = loom_conn_data(c);

    if (o == NULL)
        return len;
    if (o->sending)
        return 0; /* replies wait until the body is out */
    return out_feed(o, buf, len);
}

static void out_conn_drain(loom_conn_t *c)
{
    smtp_out_t *o = loom_conn_data(c);

    if (o != NULL && o->sending)
        out_send_body(o);
}

static void out_conn_close(loom_conn_t *c)
{
    smtp_out_t *o = loom_conn_data(c);
    if (o == NULL)
        return;
    /* the peer went away */
    loom_conn_set_data(c, NULL);
    o->c = NULL;
    if (o->cl != NULL &&
        smtp_client_lost(o->cl, "connection closed by the server") == 0) {
        out_finish(o);
        return;
    }
    o->sending = 0;
    out_session_failed(o);
}

static const loom_handler_t out_handler = {
    .data = out_conn_data,
    .drain = out_conn_drain,
    .close = out_conn_close,
};

/* ---- routing and connecting -----------------------------------------------
 */

static void out_connected(loom_conn_t *c, const loom_connect_result_t *res,
                          void *arg)
{
    smtp_out_t *o = arg;
    smtp_client_opts_t co;

    o->cr = NULL;
    if (c == NULL) {
        out_fail_local(o, 0, "4.4.1", "connect to %s: %s", o->mta,
                       res->err ? res->err : "failed");
        o->hi++;
        out_next_host(o);
        return;
    }
    o->c = c;
    memset(&co, 0, sizeof(co));
    co.helo = o->helo;
    co.tls = o->tls;
    co.auth_user = o->auth_user;
    co.auth_pass = o->auth_pass;
    o->cl = smtp_client_new(&co);
    smtp_client_start(o->cl, o->txn);
    loom_timer_arm(&o->timer, o->timeout_ms);
}

/* Try host number HI, or finish when none is left. */
static void out_next_host(smtp_out_t *o)
{
    loom_connect_opts_t opts;

    if (o->hi >= o->nhosts) {
        out_finish(o);
        return;
    }
    snprintf(o->mta, sizeof(o->mta), "%s", o->hosts[o->hi]);
    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = o->timeout_ms;
    opts.attempt_timeout_ms = o->timeout_ms;
    opts.resolver = o->resolver;
    loom_timer_disarm(&o->timer);
    o->cr = loom_connect_host(o->srv, o->hosts[o->hi], o->port, &opts,
                              &out_handler, out_connected, o);
}

static void out_add_host(smtp_out_t *o, const char *h)
{
    if (o->nhosts < OUT_MAX_HOSTS)
        o->hosts[o->nhosts++] = loom_strdup(h);
}

static void out_mx_done(const loom_dns_result_t *res, void *arg)
{
    smtp_out_t *o = arg;
    size_t i;

    o->q = NULL;
    if (res->status == LOOM_DNS_OK) {
        if (res->n == 1 && strcmp(res->rr[0].name, ".") == 0) {
            out_fail_local(o, 1, "5.1.10",
                           "domain %s does not accept mail (null MX)",
                           o->domain);
            out_finish(o);
            return;
        }
        for (i = 0; i < res->n; i++)
            if (strcmp(res->rr[i].name, ".") != 0)
                out_add_host(o, res->rr[i].name);
    } else if (res->status == LOOM_DNS_NODATA) {
        out_add_host(o, o->domain); /* RFC 5321 5.1: the implicit MX */
    } else {
        int perm = !loom_dns_temporary(res->status);

        out_fail_local(o, perm, perm ? "5.1.2" : "4.4.3", "MX lookup of %s: %s",
                       o->domain, loom_dns_strstatus(res->status));
        out_finish(o);
        return;
    }
    o->hi = 0;
    out_next_host(o);
}

smtp_out_t *smtp_out_start(loom_instance_t *inst, const smtp_out_params_t *p,
                           const char *domain, smtp_client_txn_t *txn,
                           const char *body, size_t len, smtp_out_done_fn done,
                           void *arg)
{
    smtp_out_t *o = loom_calloc(1, sizeof(*o));
    size_t dl = strlen(domain);

    o->inst = inst;
    o->srv = loom_instance_server(inst);
    o->done = done;
    o->arg = arg;
    o->helo = loom_strdup(p->helo);
    o->smarthost = p->smarthost ? loom_strdup(p->smarthost) : NULL;
    o->tls_ca = p->tls_ca ? loom_strdup(p->tls_ca) : NULL;
    o->auth_user = p->auth_user ? loom_strdup(p->auth_user) : NULL;
    o->auth_pass = p->auth_pass ? loom_strdup(p->auth_pass) : NULL;
    o->domain = loom_strdup(domain);
    o->port = p->port;
    o->tls = p->tls;
    o->timeout_ms = p->timeout_ms ? p->timeout_ms : 300000;
    o->resolver = p->resolver;
    o->txn = txn;
    o->body = body;
    o->body_len = len;
    loom_timer_init(&o->timer, inst, out_timer_cb, o);
    out_fail_local(o, 0, "4.4.1", "no host was tried");

    if (o->smarthost != NULL) {
        out_add_host(o, o->smarthost);
        out_next_host(o);
    } else if (dl > 2 && domain[0] == '[' && domain[dl - 1] == ']') {
        /* an address literal: that address, no lookup */
        char lit[64];
        size_t n = dl - 2;

        if (n >= sizeof(lit))
            n = sizeof(lit) - 1;
        memcpy(lit, domain + 1, n);
        lit[n] = '\0';
        if (strncmp(lit, "IPv6:", 5) == 0)
            memmove(lit, lit + 5, strlen(lit + 5) + 1);
        out_add_host(o, lit);
        out_next_host(o);
    } else {
        o->q = loom_dns_lookup(o->srv, o->resolver, LOOM_DNS_MX, domain,
                               out_mx_done, o);
    }
    return o;
}

const char *smtp_out_mta(const smtp_out_t *o)
{
    return o->mta;
}

void smtp_out_free(smtp_out_t *o)
{
    size_t i;

    if (o == NULL)
        return;
    loom_timer_disarm(&o->timer);
    if (o->q != NULL)
        loom_dns_cancel(o->q);
    if (o->cr != NULL)
        loom_connect_cancel(o->cr);
    out_drop_conn(o, 0);
    for (i = 0; i < o->nhosts; i++)
        free(o->hosts[i]);
    free(o->helo);
    free(o->smarthost);
    free(o->tls_ca);
    free(o->auth_user);
    free(o->auth_pass);
    free(o->domain);
    free(o);
}

void smtp_out_cancel(smtp_out_t *o)
{
    smtp_out_free(o);
}

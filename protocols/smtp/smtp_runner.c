/*
 * smtp_runner.c - the relay queue runner: it scans the queue directory at
 * start (on the worker pool), keeps one entry per queued message with the
 * time it is due, and when a message is due loads it (worker pool),
 * delivers its undecided recipients grouped by domain (or all to the
 * smarthost) with smtp_out, records every recipient's new status in the
 * queue file (worker pool), bounces the failed ones to the sender with
 * an RFC 3464 report (never to the null sender), and removes the file
 * once every recipient is final.
 *
 * The start-up scan is the one blocking step on the reactor: it runs once,
 * from the instance's start, before anything is served (see
 * smtp_runner_new).
 *
 * Order of durability: the bounce is handed over (durably) before the
 * status records are appended, so a crash in between sends a bounce
 * twice rather than never (at least once, as the queue itself).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp_dsn.h"
#include "smtp_out.h"

typedef struct rentry_s {
    struct rentry_s *next;
    char id[SMTP_QUEUE_ID_MAX];
    int64_t due; /* Unix seconds */
    int busy;    /* a job has it */
    /* what `smtp queue` shows (entry_note): heap strings or NULL */
    char *sender, *rcpts, *error;
    uint64_t size;
    int64_t arrival;
    uint32_t attempts;
} rentry_t;

/* The recipients of one message that go to one place. */
typedef struct {
    char *domain;
    smtp_client_txn_t txn;
    smtp_client_rcpt_t *rc;
    size_t *idx;        /* index of each into the message's rcpt array */
    char (*notify)[40]; /* NOTIFY values */
    smtp_out_t *o;
    struct rjob_s *job;
} rgroup_t;

/* What became of one recipient in this run. */
typedef struct {
    int touched; /* tried or expired now */
    smtp_rcpt_status_t status;
    char status_code[16]; /* "5.1.1" */
    char diag[600];       /* for the DSN: "550 5.1.1 text" or ours */
    char mta[256];
    char error[900]; /* for the queue file and the log */
} rresult_t;

typedef struct rjob_s {
    struct rjob_s *next, *prev;
    smtp_runner_t *r;
    rentry_t *e;
    char qdir[4096];
    char id[SMTP_QUEUE_ID_MAX];
    smtp_qmsg_t m;
    int rc;
    char err[256];
    rgroup_t *g;
    size_t ng, pending;
    rresult_t *res;
    smtp_qupdate_t *upd;
    size_t nupd;
    int all_final;
    int64_t now;
    void *dsn; /* the bounce being handed over */
} rjob_t;

struct smtp_runner_s {
    loom_instance_t *inst;
    char *qdir, *hostname;
    smtp_relay_conf_t rc; /* a copy */
    smtp_runner_ops_t ops;
    loom_resolver_t *resolver;
    loom_timer_t timer;
    rentry_t *entries;
    rjob_t *jobs;
    unsigned active;
    int scanned;
    smtp_runner_stats_t stats; /* counters; the gauges are filled on demand */
    /* the start-up scan: ids and when they are due, filled on a worker */
    struct rscan_s *scan;
};

typedef struct rscan_s {
    smtp_runner_t *r;
    char qdir[4096];
    smtp_retry_conf_t retry;
    rentry_t *found;
    long n;
    char err[256];
} rscan_t;

static void runner_kick(smtp_runner_t *r)
{
    loom_timer_arm(&r->timer, 0);
}

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

/* ---- settings ------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s ? loom_strdup(s) : NULL;
}

static void relay_copy(smtp_relay_conf_t *to, const smtp_relay_conf_t *from)
{
    size_t i;

    *to = *from;
    to->smarthost = dup_or_null(from->smarthost);
    to->auth_user = dup_or_null(from->auth_user);
    to->auth_pass = dup_or_null(from->auth_pass);
    to->tls_ca = dup_or_null(from->tls_ca);
    to->dns = dup_or_null(from->dns);
    to->tls_must = loom_calloc(from->ntls_must + 1, sizeof(char *));
    for (i = 0; i < from->ntls_must; i++)
        to->tls_must[i] = loom_strdup(from->tls_must[i]);
}

static int tls_must_for(const smtp_relay_conf_t *rc, const char *domain)
{
    size_t i;

    for (i = 0; i < rc->ntls_must; i++)
        if (strcasecmp(rc->tls_must[i], domain) == 0)
            return 1;
    return 0;
}

/* ---- entries ------------------------------------------------------------- */

static void entry_clear(rentry_t *e)
{
    free(e->sender);
    free(e->rcpts);
    free(e->error);
    e->sender = e->rcpts = e->error = NULL;
}

static void entry_free(rentry_t *e)
{
    entry_clear(e);
    free(e);
}

/* Take what `smtp queue` shows of E from M: the undecided recipients,
 * the most attempts among them and the last error of the most recently
 * tried one.  Allocation helpers only (runs in the start-up scan). */
static void entry_note(rentry_t *e, const smtp_qmsg_t *m)
{
    int64_t last = -1;
    size_t i, n = 0, len = 0;

    entry_clear(e);
    e->sender = loom_strdup(m->sender ? m->sender : "");
    e->size = m->body_len;
    e->arrival = m->arrival;
    e->attempts = 0;
    for (i = 0; i < m->nrcpt; i++) {
        const smtp_qrcpt_t *q = &m->rcpt[i];

        if (q->status != SMTP_RCPT_PENDING && q->status != SMTP_RCPT_DEFERRED)
            continue;
        len += strlen(q->addr) + 2;
        if (q->attempts > e->attempts)
            e->attempts = q->attempts;
        if (q->last_error != NULL && q->last_attempt > last) {
            last = q->last_attempt;
            free(e->error);
            e->error = loom_strdup(q->last_error);
        }
    }
    e->rcpts = loom_malloc(len + 1);
    e->rcpts[0] = '\0';
    for (i = 0, len = 0; i < m->nrcpt; i++) {
        const smtp_qrcpt_t *q = &m->rcpt[i];

        if (q->status != SMTP_RCPT_PENDING && q->status != SMTP_RCPT_DEFERRED)
            continue;
        len +=
            (size_t)sprintf(e->rcpts + len, "%s%s", n++ ? ", " : "", q->addr);
    }
}

static rentry_t *entry_find(smtp_runner_t *r, const char *id)
{
    rentry_t *e;

    for (e = r->entries; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static rentry_t *entry_add(smtp_runner_t *r, const char *id, int64_t due)
{
    rentry_t *e = entry_find(r, id);

    if (e != NULL) {
        if (!e->busy && due < e->due)
            e->due = due;
        return e;
    }
    e = loom_calloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->due = due;
    e->next = r->entries;
    r->entries = e;
    return e;
}

static void entry_remove(smtp_runner_t *r, rentry_t *gone)
{
    rentry_t **pp;

    for (pp = &r->entries; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == gone) {
            *pp = gone->next;
            entry_free(gone);
            return;
        }
    }
}

/* ---- jobs ---------------------------------------------------------------- */

static void job_free(rjob_t *j)
{
    size_t i;

    for (i = 0; i < j->ng; i++) {
        smtp_out_cancel(j->g[i].o);
        free(j->g[i].domain);
        free(j->g[i].rc);
        free(j->g[i].idx);
        free(j->g[i].notify);
    }
    free(j->g);
    if (j->dsn != NULL && j->r->ops.detach != NULL)
        j->r->ops.detach(j->dsn);
    free(j->res);
    free(j->upd);
    smtp_qmsg_free(&j->m);
    free(j);
}

/* The job is over: unlink it, let its entry be scheduled again. */
static void job_end(rjob_t *j, int drop_entry)
{
    smtp_runner_t *r = j->r;

    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        r->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    r->active--;
    if (j->e != NULL) {
        if (drop_entry)
            entry_remove(r, j->e);
        else
            j->e->busy = 0;
    }
    job_free(j);
    runner_kick(r);
}

static void job_load_work(void *arg)
{
    rjob_t *j = arg;

    j->rc = smtp_queue_load(j->qdir, j->id, &j->m, j->err, sizeof(j->err));
}

static void job_update_work(void *arg)
{
    rjob_t *j = arg;

    j->rc = SMTP_QUEUE_OK;
    if (j->nupd > 0)
        j->rc = smtp_queue_update(j->qdir, &j->m, j->upd, j->nupd, j->err,
                                  sizeof(j->err));
    if (j->rc == SMTP_QUEUE_OK && j->all_final)
        j->rc = smtp_queue_remove(j->qdir, j->id, j->err, sizeof(j->err));
}

/* The status records are durable (or not): schedule the next attempt. */
static void job_updated(void *arg, int status)
{
    rjob_t *j = arg;
    smtp_runner_t *r = j->r;
    const char *who = loom_instance_who(r->inst);
    int64_t next = -1;
    size_t i;

    if (status != LOOM_WORK_COMPLETED) {
        job_end(j, 0);
        return;
    }
    if (j->rc != SMTP_QUEUE_OK) {
        /* the file keeps its old statuses: the recipients are tried
         * again (at least once, never lost) */
        loom_log(LOOM_LOG_ERROR, who, "queue %s: cannot record status: %s",
                 j->id, j->err);
        j->e->due = wall_now() + r->rc.retry.initial;
        job_end(j, 0);
        return;
    }
    if (j->all_final) {
        job_end(j, 1);
        return;
    }
    entry_note(j->e, &j->m);
    for (i = 0; i < j->m.nrcpt; i++) {
        const smtp_qrcpt_t *q = &j->m.rcpt[i];
        int64_t t;

        if (q->status != SMTP_RCPT_PENDING && q->status != SMTP_RCPT_DEFERRED)
            continue;
        t = smtp_retry_next(&r->rc.retry, j->m.arrival, q->attempts,
                            q->last_attempt);
        if (t < 0)
            t = j->now; /* expired: the next run bounces it */
        if (next < 0 || t < next)
            next = t;
    }
    j->e->due = next < 0 ? j->now : next;
    job_end(j, 0);
}

static void job_record(rjob_t *j)
{
    loom_work_submit(j->r->inst, job_update_work, job_updated, j);
}

static void job_dsn_done(void *arg, int ok)
{
    rjob_t *j = arg;

    j->dsn = NULL;
    if (!ok)
        loom_log(LOOM_LOG_WARN, loom_instance_who(j->r->inst),
                 "queue %s: the bounce to <%s> could not be queued; dropped",
                 j->id, j->m.sender);
    job_record(j);
}

/* Bounce what failed now to the sender (never to the null sender), then
 * record the statuses. */
static void job_bounce(rjob_t *j)
{
    smtp_runner_t *r = j->r;
    const char *who = loom_instance_who(r->inst);
    smtp_dsn_rcpt_t *dr = loom_calloc(j->m.nrcpt, sizeof(*dr));
    char **orcpt = loom_calloc(j->m.nrcpt, sizeof(char *));
    smtp_dsn_in_t in;
    smtp_dsn_out_t out;
    char err[256];
    size_t i, n = 0;

    for (i = 0; i < j->m.nrcpt; i++) {
        const rresult_t *x = &j->res[i];
        const smtp_qrcpt_t *q = &j->m.rcpt[i];

        if (!x->touched || x->status != SMTP_RCPT_FAILED ||
            !smtp_dsn_wanted((int)q->notify, SMTP_DSN_FAILED))
            continue;
        if (q->orcpt != NULL)
            orcpt[i] = smtp_dsn_xtext_decode(q->orcpt, strlen(q->orcpt));
        dr[n].final_recipient = q->addr;
        dr[n].orcpt = orcpt[i];
        dr[n].action = SMTP_DSN_FAILED;
        dr[n].status = x->status_code;
        dr[n].diagnostic = x->diag;
        dr[n].remote_mta = x->mta[0] ? x->mta : NULL;
        dr[n].last_attempt = (time_t)j->now;
        n++;
    }
    if (n == 0 || j->m.sender == NULL || j->m.sender[0] == '\0') {
        if (n > 0)
            loom_log(LOOM_LOG_INFO, who,
                     "queue %s: %zu recipient(s) failed; no bounce to the "
                     "null sender",
                     j->id, n);
        goto record;
    }
    memset(&in, 0, sizeof(in));
    in.reporting_mta = r->hostname;
    in.sender = j->m.sender;
    in.envid = j->m.envid
                   ? smtp_dsn_xtext_decode(j->m.envid, strlen(j->m.envid))
                   : NULL;
    in.received_from = j->m.client;
    in.arrival = (time_t)(j->m.arrival > 0 ? j->m.arrival : j->now);
    in.now = (time_t)j->now;
    in.ret = j->m.ret == SMTP_RET_FULL   ? SMTP_DSN_RET_FULL
             : j->m.ret == SMTP_RET_HDRS ? SMTP_DSN_RET_HDRS
                                         : SMTP_DSN_RET_DEFAULT;
    in.msg = j->m.body;
    in.msg_len = j->m.body_len;
    in.rcpts = dr;
    in.nrcpts = n;
    if (smtp_dsn_compose(&in, &out, err, sizeof(err)) != LOOM_OK) {
        loom_log(LOOM_LOG_WARN, who, "queue %s: no bounce: %s", j->id, err);
        free((char *)in.envid);
        goto record;
    }
    free((char *)in.envid);
    loom_log(LOOM_LOG_INFO, who,
             "queue %s: bounce to <%s> for %zu recipient(s)", j->id,
             j->m.sender, n);
    if (r->ops.inject != NULL) {
        char *data = out.data;

        out.data = NULL;
        j->dsn = r->ops.inject(r->inst, out.rcpt, data, out.len, out.eightbit,
                               job_dsn_done, j);
        smtp_dsn_free(&out);
        if (j->dsn != NULL) {
            r->stats.dsns++;
            goto done;
        }
        loom_log(LOOM_LOG_WARN, who,
                 "queue %s: the bounce to <%s> could not be queued; dropped",
                 j->id, j->m.sender);
    } else {
        smtp_dsn_free(&out);
    }
record:
    job_record(j);
done:
    for (i = 0; i < j->m.nrcpt; i++)
        free(orcpt[i]);
    free(orcpt);
    free(dr);
}

/* Every group is done: turn the results into status records. */
static void job_outcome(rjob_t *j)
{
    const char *who = loom_instance_who(j->r->inst);
    size_t i;

    j->upd = loom_calloc(j->m.nrcpt + 1, sizeof(*j->upd));
    j->all_final = 1;
    for (i = 0; i < j->m.nrcpt; i++) {
        const smtp_qrcpt_t *q = &j->m.rcpt[i];
        rresult_t *x = &j->res[i];

        if (x->touched) {
            smtp_qupdate_t *u = &j->upd[j->nupd++];

            u->rcpt = (uint32_t)i;
            u->status = x->status;
            u->attempts = q->attempts + 1;
            u->when = j->now;
            u->error = x->error;
            loom_log(LOOM_LOG_INFO, who, "queue %s: to=<%s> relay=%s %s (%s)",
                     j->id, q->addr, x->mta[0] ? x->mta : "none",
                     x->status == SMTP_RCPT_DELIVERED ? "sent"
                     : x->status == SMTP_RCPT_FAILED  ? "bounced"
                                                      : "deferred",
                     x->error);
            if (x->status == SMTP_RCPT_DELIVERED)
                j->r->stats.delivered++;
            else if (x->status == SMTP_RCPT_FAILED)
                j->r->stats.bounced++;
            else
                j->r->stats.deferred++;
            if (x->status == SMTP_RCPT_DEFERRED)
                j->all_final = 0;
        } else if (q->status == SMTP_RCPT_PENDING ||
                   q->status == SMTP_RCPT_DEFERRED) {
            j->all_final = 0;
        }
    }
    job_bounce(j);
}

/* Text of reply K from MTA for the queue file and the log. */
static void result_from(rresult_t *x, const smtp_client_rcpt_t *c,
                        const char *mta, int expired)
{
    const smtp_client_reply_t *k = &c->reply;
    int cls = k->code / 100;

    x->touched = 1;
    snprintf(x->mta, sizeof(x->mta), "%s", mta);
    if (c->status == SMTP_CLI_RCPT_DELIVERED)
        x->status = SMTP_RCPT_DELIVERED;
    else if (c->status == SMTP_CLI_RCPT_PERMFAIL || expired)
        x->status = SMTP_RCPT_FAILED;
    else
        x->status = SMTP_RCPT_DEFERRED;
    if (k->esc[0])
        snprintf(x->status_code, sizeof(x->status_code), "%s", k->esc);
    else
        snprintf(x->status_code, sizeof(x->status_code), "%d.0.0",
                 cls >= 2 && cls <= 5              ? cls
                 : x->status == SMTP_RCPT_FAILED   ? 5
                 : x->status == SMTP_RCPT_DEFERRED ? 4
                                                   : 2);
    if (expired && x->status_code[0] == '4')
        snprintf(x->status_code, sizeof(x->status_code), "4.4.7");
    if (k->code != 0) {
        snprintf(x->diag, sizeof(x->diag), "%d%s%s %s", k->code,
                 k->esc[0] ? " " : "", k->esc, k->text);
        snprintf(x->error, sizeof(x->error), "%s%shost %s said: %s",
                 expired ? "delivery time expired; " : "",
                 expired ? "last: " : "", mta, x->diag);
    } else {
        snprintf(x->diag, sizeof(x->diag), "%s", k->text);
        snprintf(x->error, sizeof(x->error), "%s%s",
                 expired ? "delivery time expired; last: " : "", k->text);
    }
}

static void group_done(void *arg, smtp_out_t *o)
{
    rgroup_t *g = arg;
    rjob_t *j = g->job;
    smtp_runner_t *r = j->r;
    size_t i;

    for (i = 0; i < g->txn.nrcpt; i++) {
        size_t k = g->idx[i];
        const smtp_qrcpt_t *q = &j->m.rcpt[k];
        /* a deferral past the deadline is the last one */
        int expired = g->rc[i].status == SMTP_CLI_RCPT_TEMPFAIL &&
                      smtp_retry_next(&r->rc.retry, j->m.arrival,
                                      q->attempts + 1, j->now) < 0;

        result_from(&j->res[k], &g->rc[i], smtp_out_mta(o), expired);
    }
    smtp_out_free(o);
    g->o = NULL;
    if (--j->pending == 0)
        job_outcome(j);
}

static char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    char *d = loom_strdup(at ? at + 1 : "");
    char *p;

    for (p = d; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return d;
}

static void notify_text(unsigned bits, char *out, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{SMTP_NOTIFY_SUCCESS, "SUCCESS"},
                 {SMTP_NOTIFY_FAILURE, "FAILURE"},
                 {SMTP_NOTIFY_DELAY, "DELAY"}};
    size_t i, n = 0;

    out[0] = '\0';
    if (bits & SMTP_NOTIFY_NEVER) {
        snprintf(out, len, "NEVER");
        return;
    }
    for (i = 0; i < LOOM_ARRAY_LEN(names); i++)
        if (bits & names[i].bit)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "",
                                  names[i].name);
}

/* Start delivering the loaded message's undecided recipients. */
static void job_deliver(rjob_t *j)
{
    smtp_runner_t *r = j->r;
    const smtp_relay_conf_t *rc = &r->rc;
    size_t i, k;

    j->now = wall_now();
    j->res = loom_calloc(j->m.nrcpt + 1, sizeof(*j->res));
    j->g = loom_calloc(j->m.nrcpt + 1, sizeof(*j->g));
    for (i = 0; i < j->m.nrcpt; i++) {
        const smtp_qrcpt_t *q = &j->m.rcpt[i];
        rgroup_t *g = NULL;
        char *d;

        if (q->status != SMTP_RCPT_PENDING && q->status != SMTP_RCPT_DEFERRED)
            continue;
        if (q->attempts > 0 &&
            smtp_retry_next(&rc->retry, j->m.arrival, q->attempts,
                            q->last_attempt) < 0) {
            /* past the deadline without a last try: bounce now */
            smtp_client_rcpt_t c;

            memset(&c, 0, sizeof(c));
            c.status = SMTP_CLI_RCPT_TEMPFAIL;
            snprintf(c.reply.esc, sizeof(c.reply.esc), "4.4.7");
            snprintf(c.reply.text, sizeof(c.reply.text), "%s",
                     q->last_error ? q->last_error : "no delivery in time");
            result_from(&j->res[i], &c, "", 1);
            continue;
        }
        d = rc->smarthost ? loom_strdup("") : domain_of(q->addr);
        for (k = 0; k < j->ng; k++)
            if (strcmp(j->g[k].domain, d) == 0)
                g = &j->g[k];
        if (g == NULL) {
            g = &j->g[j->ng++];
            g->domain = d;
            g->job = j;
            g->rc = loom_calloc(j->m.nrcpt, sizeof(*g->rc));
            g->idx = loom_calloc(j->m.nrcpt, sizeof(*g->idx));
            g->notify = loom_calloc(j->m.nrcpt, sizeof(*g->notify));
        } else {
            free(d);
        }
        k = g->txn.nrcpt++;
        g->idx[k] = i;
        g->rc[k].addr = q->addr;
        g->rc[k].orcpt = q->orcpt;
        notify_text(q->notify, g->notify[k], sizeof(g->notify[k]));
        g->rc[k].notify = g->notify[k][0] ? g->notify[k] : NULL;
    }
    j->pending = j->ng;
    for (k = 0; k < j->ng; k++) {
        rgroup_t *g = &j->g[k];
        smtp_out_params_t p;

        g->txn.sender = j->m.sender ? j->m.sender : "";
        g->txn.size = j->m.body_len;
        g->txn.body_8bit = j->m.body_type == SMTP_BODY_8BITMIME ||
                           j->m.body_type == SMTP_BODY_BINARYMIME;
        g->txn.smtputf8 = j->m.smtputf8;
        g->txn.ret = j->m.ret == SMTP_RET_FULL   ? "FULL"
                     : j->m.ret == SMTP_RET_HDRS ? "HDRS"
                                                 : NULL;
        g->txn.envid = j->m.envid;
        g->txn.rcpt = g->rc;
        memset(&p, 0, sizeof(p));
        p.helo = r->hostname;
        p.smarthost = rc->smarthost;
        p.port = rc->smarthost ? rc->smarthost_port : rc->port;
        p.tls = tls_must_for(rc, g->domain) ? SMTP_TLS_MUST : rc->tls;
        p.tls_ca = rc->tls_ca;
        p.auth_user = rc->auth_user;
        p.auth_pass = rc->auth_pass;
        p.timeout_ms = rc->timeout_ms;
        p.resolver = r->resolver;
        g->o = smtp_out_start(r->inst, &p,
                              rc->smarthost ? rc->smarthost : g->domain,
                              &g->txn, j->m.body, j->m.body_len, group_done, g);
    }
    if (j->ng == 0)
        job_outcome(j);
}

static void job_loaded(void *arg, int status)
{
    rjob_t *j = arg;
    const char *who = loom_instance_who(j->r->inst);

    if (status != LOOM_WORK_COMPLETED) {
        job_end(j, 0);
        return;
    }
    if (j->rc != SMTP_QUEUE_OK) {
        /* gone (delivered meanwhile) or damaged: the start-up scan moves
         * damaged files aside; here it is only dropped from the list */
        loom_log(j->rc == SMTP_QUEUE_ERROR ? LOOM_LOG_WARN : LOOM_LOG_ERROR,
                 who, "queue %s: cannot load: %s", j->id, j->err);
        job_end(j, 1);
        return;
    }
    entry_note(j->e, &j->m);
    job_deliver(j);
}

static void job_start(smtp_runner_t *r, rentry_t *e)
{
    rjob_t *j = loom_calloc(1, sizeof(*j));

    j->r = r;
    j->e = e;
    e->busy = 1;
    snprintf(j->qdir, sizeof(j->qdir), "%s", r->qdir);
    snprintf(j->id, sizeof(j->id), "%s", e->id);
    j->next = r->jobs;
    if (r->jobs != NULL)
        r->jobs->prev = j;
    r->jobs = j;
    r->active++;
    loom_work_submit(r->inst, job_load_work, job_loaded, j);
}

/* ---- the schedule ----------------------------------------------------------
 */

static void runner_timer_cb(loom_timer_t *t, void *arg)
{
    smtp_runner_t *r = arg;
    int64_t now = wall_now(), next = -1;
    rentry_t *e;

    (void)t;
    if (!r->scanned || r->rc.hold)
        return; /* relay_hold: kept until a reload lifts it */
    for (e = r->entries; e != NULL; e = e->next) {
        if (e->busy)
            continue;
        if (e->due <= now && r->active < r->rc.concurrency) {
            job_start(r, e);
            continue;
        }
        if (next < 0 || e->due < next)
            next = e->due;
    }
    if (next >= 0)
        loom_timer_arm(&r->timer,
                       next > now ? (uint64_t)(next - now) * 1000u : 1000u);
}

/* ---- the start-up scan ------------------------------------------------------
 */

static void scan_found(void *arg, const char *id, smtp_qmsg_t *m,
                       const char *err)
{
    rscan_t *s = arg;
    rentry_t *e;
    int64_t due = -1;
    size_t i;

    (void)err;
    if (m == NULL)
        return; /* damaged: moved to corrupt/ by the scan */
    for (i = 0; i < m->nrcpt; i++) {
        const smtp_qrcpt_t *q = &m->rcpt[i];
        int64_t t;

        if (q->status != SMTP_RCPT_PENDING && q->status != SMTP_RCPT_DEFERRED)
            continue;
        t = smtp_retry_next(&s->retry, m->arrival, q->attempts,
                            q->last_attempt);
        if (t < 0)
            t = 0;
        if (due < 0 || t < due)
            due = t;
    }
    e = loom_calloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->due = due < 0 ? 0 : due; /* all final: the job removes it */
    entry_note(e, m);
    e->next = s->found;
    s->found = e;
    smtp_qmsg_free(m);
    free(m);
}

static void scan_work(void *arg)
{
    rscan_t *s = arg;

    s->n = smtp_queue_scan(s->qdir, scan_found, s, s->err, sizeof(s->err));
}

static void scan_done(void *arg, int status)
{
    rscan_t *s = arg;
    smtp_runner_t *r = s->r;
    rentry_t *e;

    r->scan = NULL;
    if (status == LOOM_WORK_COMPLETED && s->n < 0)
        loom_log(LOOM_LOG_ERROR, loom_instance_who(r->inst), "queue %s: %s",
                 s->qdir, s->err);
    else if (status == LOOM_WORK_COMPLETED && s->n > 0)
        loom_log(LOOM_LOG_INFO, loom_instance_who(r->inst),
                 "queue %s: %ld message(s) at start", s->qdir, s->n);
    while ((e = s->found) != NULL) {
        rentry_t *x;

        s->found = e->next;
        x = entry_add(r, e->id, e->due);
        if (x->sender == NULL) { /* the summary moves over */
            x->sender = e->sender;
            x->rcpts = e->rcpts;
            x->error = e->error;
            x->size = e->size;
            x->arrival = e->arrival;
            x->attempts = e->attempts;
            e->sender = e->rcpts = e->error = NULL;
        }
        entry_free(e);
    }
    free(s);
    r->scanned = 1;
    runner_kick(r);
}

/* ---- the runner ---------------------------------------------------------- */

smtp_runner_t *smtp_runner_new(loom_instance_t *inst, const char *qdir,
                               const char *hostname,
                               const smtp_relay_conf_t *rc,
                               const smtp_runner_ops_t *ops)
{
    smtp_runner_t *r = loom_calloc(1, sizeof(*r));
    char err[256];

    r->inst = inst;
    r->qdir = dup_or_null(qdir);
    r->hostname = loom_strdup(hostname ? hostname : "localhost");
    relay_copy(&r->rc, rc);
    if (ops != NULL)
        r->ops = *ops;
    loom_timer_init(&r->timer, inst, runner_timer_cb, r);
    if (rc->dns != NULL) {
        r->resolver = loom_resolver_new_lookup(loom_instance_server(inst),
                                               rc->dns, 0, 0, err, sizeof(err));
        if (r->resolver == NULL)
            loom_log(LOOM_LOG_ERROR, loom_instance_who(inst),
                     "relay_dns %s: %s; using the system resolver", rc->dns,
                     err);
    }
    if (r->qdir == NULL)
        return r;
    /* The scan runs here, before the instance serves: it empties tmp/,
     * which on the worker pool could race with a session already writing
     * its first message there. */
    r->scan = loom_calloc(1, sizeof(*r->scan));
    r->scan->r = r;
    snprintf(r->scan->qdir, sizeof(r->scan->qdir), "%s", qdir);
    r->scan->retry = rc->retry;
    scan_work(r->scan);
    scan_done(r->scan, LOOM_WORK_COMPLETED);
    return r;
}

void smtp_runner_update(smtp_runner_t *r, const char *hostname,
                        const smtp_relay_conf_t *rc)
{
    if (r == NULL)
        return;
    if ((rc->dns == NULL) != (r->rc.dns == NULL) ||
        (rc->dns != NULL && strcmp(rc->dns, r->rc.dns) != 0))
        loom_log(LOOM_LOG_WARN, loom_instance_who(r->inst),
                 "relay_dns changes at the next start, not on reload");
    free(r->hostname);
    r->hostname = loom_strdup(hostname ? hostname : "localhost");
    {
        char *dns = r->rc.dns;

        r->rc.dns = NULL;
        smtp_relay_conf_clear(&r->rc);
        relay_copy(&r->rc, rc);
        free(r->rc.dns);
        r->rc.dns = dns;
    }
    runner_kick(r);
}

void smtp_runner_add(smtp_runner_t *r, const char *id)
{
    if (r == NULL || r->qdir == NULL)
        return;
    entry_add(r, id, wall_now());
    runner_kick(r);
}

void smtp_runner_add_info(smtp_runner_t *r, const char *id, const char *sender,
                          const char *rcpts, uint64_t size, int64_t arrival)
{
    rentry_t *e;

    if (r == NULL || r->qdir == NULL)
        return;
    e = entry_add(r, id, wall_now());
    if (e->sender == NULL && !e->busy) {
        e->sender = loom_strdup(sender ? sender : "");
        e->rcpts = loom_strdup(rcpts ? rcpts : "");
        e->size = size;
        e->arrival = arrival;
    }
    runner_kick(r);
}

/* ---- what loomctl sees -------------------------------------------------- */

void smtp_runner_stats(const smtp_runner_t *r, smtp_runner_stats_t *out)
{
    const rentry_t *e;

    memset(out, 0, sizeof(*out));
    if (r == NULL)
        return;
    *out = r->stats;
    out->messages = 0;
    for (e = r->entries; e != NULL; e = e->next)
        out->messages++;
    out->active = r->active;
    out->held = r->rc.hold != 0;
}

size_t smtp_runner_list(const smtp_runner_t *r,
                        void (*cb)(void *arg, const smtp_runner_item_t *it),
                        void *arg)
{
    const rentry_t *e;
    size_t n = 0;

    for (e = r ? r->entries : NULL; e != NULL; e = e->next, n++) {
        smtp_runner_item_t it;

        memset(&it, 0, sizeof(it));
        it.id = e->id;
        it.sender = e->sender;
        it.rcpts = e->rcpts;
        it.error = e->error;
        it.size = e->size;
        it.arrival = e->arrival;
        it.due = e->due;
        it.attempts = e->attempts;
        it.busy = e->busy;
        cb(arg, &it);
    }
    return n;
}

long smtp_runner_flush(smtp_runner_t *r)
{
    int64_t now = wall_now();
    rentry_t *e;
    long n = 0;

    if (r == NULL || r->qdir == NULL)
        return 0;
    if (r->rc.hold)
        return -1;
    for (e = r->entries; e != NULL; e = e->next) {
        if (e->busy)
            continue;
        e->due = now;
        n++;
    }
    runner_kick(r);
    return n;
}

/* The removal of a deleted message's file, on the worker pool: a copy
 * of what it needs, no pointer into the runner. */
typedef struct {
    loom_instance_t *inst;
    char qdir[4096];
    char id[SMTP_QUEUE_ID_MAX];
    char err[256];
    int rc;
} rdelete_t;

static void delete_work(void *arg)
{
    rdelete_t *d = arg;

    d->rc = smtp_queue_remove(d->qdir, d->id, d->err, sizeof(d->err));
}

static void delete_done(void *arg, int status)
{
    rdelete_t *d = arg;

    if (status != LOOM_WORK_COMPLETED || d->rc != SMTP_QUEUE_OK)
        loom_log(LOOM_LOG_ERROR, loom_instance_who(d->inst),
                 "queue %s: deleted, but its file stays: %s", d->id,
                 status != LOOM_WORK_COMPLETED ? "cancelled" : d->err);
    free(d);
}

int smtp_runner_delete(smtp_runner_t *r, const char *id, char *err,
                       size_t errlen)
{
    rentry_t *e = r != NULL && r->qdir != NULL ? entry_find(r, id) : NULL;
    rdelete_t *d;

    if (e == NULL) {
        snprintf(err, errlen, "no message %s in the queue", id);
        return LOOM_DECLINED;
    }
    if (e->busy) {
        snprintf(err, errlen,
                 "message %s is being delivered now; try again when the "
                 "attempt is over",
                 id);
        return LOOM_ERROR;
    }
    d = loom_calloc(1, sizeof(*d));
    d->inst = r->inst;
    snprintf(d->qdir, sizeof(d->qdir), "%s", r->qdir);
    snprintf(d->id, sizeof(d->id), "%s", id);
    loom_log(LOOM_LOG_INFO, loom_instance_who(r->inst),
             "queue %s: deleted by the operator (from=<%s> to=%s)", id,
             e->sender ? e->sender : "?", e->rcpts ? e->rcpts : "?");
    entry_remove(r, e);
    loom_work_submit(r->inst, delete_work, delete_done, d);
    return LOOM_OK;
}

void smtp_runner_free(smtp_runner_t *r)
{
    rentry_t *e;

    if (r == NULL)
        return;
    loom_timer_disarm(&r->timer);
    while (r->jobs != NULL) {
        rjob_t *j = r->jobs;

        r->jobs = j->next;
        job_free(j);
    }
    while ((e = r->entries) != NULL) {
        r->entries = e->next;
        entry_free(e);
    }
    if (r->scan != NULL) {
        /* its done has run (stop waits for jobs): nothing refers to it */
        free(r->scan);
    }
    if (r->resolver != NULL)
        loom_resolver_free(r->resolver);
    smtp_relay_conf_clear(&r->rc);
    free(r->qdir);
    free(r->hostname);
    free(r);
}

/*
 * smtp_deliver.c - one accepted message made durable through the group
 * commit of smtp_store.h: a Maildir target per distinct local Maildir
 * (with its own Return-Path and Delivered-To) and, when some recipients
 * are remote, one relay queue file; the queue runner is told of it.
 *
 * This file is the only one of the session's side that includes the
 * storage headers (smtp_store.h, smtp_queue.h); the session speaks to it
 * through the plain envelope of smtp.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp.h"
#include "smtp_store.h"

struct smtp_deliv_s {
    smtp_deliver_done_fn done; /* NULL once detached */
    void *arg;
    smtp_inst_t *si;
    smtp_pub_t pub;
    /* for the queue listing: sender, remote recipients, size, arrival */
    char *q_sender, *q_rcpts;
    uint64_t q_size;
    int64_t q_arrival;
};

void smtp_new_id(char *out)
{
    smtp_queue_new_id(out);
}

void smtp_envelope_clear(smtp_envelope_t *env)
{
    free(env->sender);
    free(env->envid);
    free(env->auth_user);
    free(env->client);
    for (size_t i = 0; i < env->nrcpts; i++) {
        free(env->rcpts[i].addr);
        free(env->rcpts[i].orcpt);
    }
    free(env->rcpts);
    for (size_t i = 0; i < env->nmaildirs; i++) {
        free(env->maildirs[i]);
        free(env->delivered_to[i]);
    }
    free(env->maildirs);
    free(env->delivered_to);
    memset(env, 0, sizeof(*env));
}

void smtp_pub_clear(smtp_pub_t *p)
{
    free(p->topic);
    free(p->sender);
    free(p->rcpts);
    free(p->msg);
    memset(p, 0, sizeof(*p));
}

static void smtp_deliver_done(void *arg, smtp_txn_t *t)
{
    smtp_deliv_t *d = arg;
    const char *qid = smtp_txn_queue_id(t);
    int ok = smtp_txn_ok(t);

    if (ok && qid && d->si->runner) {
        smtp_queued_t q = {d->q_sender, d->q_rcpts, d->q_size, d->q_arrival};

        smtp_runner_queued(d->si->runner, qid, &q);
    }
    if (ok && d->pub.topic)
        smtp_bus_publish(d->si->inst, &d->pub);
    smtp_pub_clear(&d->pub);
    if (d->done)
        d->done(d->arg, ok, qid, ok ? NULL : smtp_txn_error(t));
    free(d->q_sender);
    free(d->q_rcpts);
    free(d);
}

/* The header a Maildir copy starts with. */
static char *smtp_maildir_head(const char *sender, const char *to)
{
    size_t n = strlen(sender) + strlen(to) + 64;
    char *h = loom_malloc(n);

    snprintf(h, n, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", sender, to);
    return h;
}

smtp_deliv_t *smtp_deliver_submit(smtp_inst_t *si, const smtp_envelope_t *env,
                                  const char *qdir, const char *head,
                                  size_t hlen, char *body, size_t blen,
                                  smtp_pub_t *pub, smtp_deliver_done_fn done,
                                  void *arg)
{
    smtp_txn_t *t = smtp_txn_new();
    smtp_deliv_t *d = loom_calloc(1, sizeof(*d));
    size_t nremote = 0;

    d->done = done;
    d->arg = arg;
    d->si = si;
    if (pub) {
        d->pub = *pub;
        memset(pub, 0, sizeof(*pub));
    }
    for (size_t i = 0; i < env->nmaildirs; i++) {
        char *h = smtp_maildir_head(env->sender, env->delivered_to[i]);

        smtp_txn_add_maildir(t, env->maildirs[i], h);
        free(h);
    }
    for (size_t i = 0; i < env->nrcpts; i++)
        nremote += env->rcpts[i].remote != 0;
    if (nremote && qdir) {
        smtp_qmsg_t m;
        smtp_qrcpt_t *r = loom_calloc(nremote, sizeof(*r));
        size_t k = 0, rlen = 1;

        memset(&m, 0, sizeof(m));
        m.sender = env->sender;
        m.envid = env->envid;
        m.ret = (smtp_ret_t)env->ret;
        m.body_type = (smtp_body_t)env->body;
        m.smtputf8 = env->smtputf8;
        m.arrival = (int64_t)time(NULL);
        m.auth_user = env->auth_user;
        m.client = env->client;
        for (size_t i = 0; i < env->nrcpts; i++) {
            if (!env->rcpts[i].remote)
                continue;
            r[k].addr = env->rcpts[i].addr;
            r[k].orcpt = env->rcpts[i].orcpt;
            r[k].notify = env->rcpts[i].notify;
            r[k].status = SMTP_RCPT_PENDING;
            rlen += strlen(r[k].addr) + 2;
            k++;
        }
        d->q_sender = loom_strdup(env->sender ? env->sender : "");
        d->q_rcpts = loom_malloc(rlen);
        d->q_rcpts[0] = '\0';
        for (size_t i = 0, n = 0; i < k; i++)
            n += (size_t)snprintf(d->q_rcpts + n, rlen - n, "%s%s",
                                  i ? ", " : "", r[i].addr);
        d->q_size = hlen + blen;
        d->q_arrival = m.arrival;
        m.nrcpt = k;
        m.rcpt = r;
        smtp_txn_add_queue(t, qdir, &m);
        free(r);
    }
    if (hlen)
        smtp_txn_append(t, head, hlen);
    if (blen)
        smtp_txn_append_owned(t, body, blen);
    else
        free(body);
    /* never cancelled: D lives until the committer's done, which always
     * runs (with a failure when the instance stops first) */
    smtp_commit_submit(si->commit, t, smtp_deliver_done, d);
    return d;
}

void smtp_deliver_detach(smtp_deliv_t *d)
{
    d->done = NULL;
    d->arg = NULL;
}

/*
 * smtp_relay.c - the queue runner inside the smtp module: the hooks smtp.h
 * declares for helper smtp-out (smtp_runner_start/queued/stop, which
 * override the module's weak do-nothing defaults), and bounces handed
 * back to the module's own durable delivery: a local sender's bounce
 * goes into its Maildir, a remote sender's into the relay queue.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "smtp_out.h"

/* A bounce on its way through smtp_deliver_submit. */
typedef struct {
    smtp_deliv_t *d;
    void (*done)(void *arg, int ok);
    void *arg;
} relay_bounce_t;

static void relay_bounce_done(void *arg, int ok, const char *qid,
                              const char *err)
{
    relay_bounce_t *b = arg;

    (void)qid;
    (void)err;
    if (b->done != NULL)
        b->done(b->arg, ok);
    free(b);
}

static void *relay_inject(loom_instance_t *inst, const char *rcpt, char *msg,
                          size_t len, int eightbit,
                          void (*done)(void *arg, int ok), void *arg)
{
    const smtp_conf_t *c = loom_instance_conf(inst);
    smtp_inst_t *si = smtp_inst(inst);
    smtp_dest_t dests[SMTP_ALIAS_DEPTH * 4];
    smtp_envelope_t env;
    smtp_dest_kind_t kind;
    relay_bounce_t *b;
    char *lower;
    size_t n = 0, i;

    if (si == NULL || strlen(rcpt) > SMTP_ADDR_MAX) {
        free(msg);
        return NULL;
    }
    lower = smtp_lower(loom_strdup(rcpt));
    kind = smtp_resolve_rcpt(c, lower, dests, LOOM_ARRAY_LEN(dests), &n);
    if (kind != SMTP_DEST_LOCAL && kind != SMTP_DEST_REMOTE) {
        /* an unknown local sender: nobody to bounce to */
        free(lower);
        free(msg);
        return NULL;
    }
    memset(&env, 0, sizeof(env));
    env.sender = loom_strdup("");
    env.body = eightbit ? 2 : 1;
    env.rcpts = loom_calloc(n + 1, sizeof(*env.rcpts));
    env.maildirs = loom_calloc(n + 1, sizeof(char *));
    env.delivered_to = loom_calloc(n + 1, sizeof(char *));
    if (kind == SMTP_DEST_REMOTE) {
        env.rcpts[env.nrcpts].addr = loom_strdup(rcpt);
        env.rcpts[env.nrcpts++].remote = 1;
    }
    for (i = 0; kind == SMTP_DEST_LOCAL && i < n; i++) {
        if (dests[i].maildir != NULL) {
            env.maildirs[env.nmaildirs] = loom_strdup(dests[i].maildir);
            env.delivered_to[env.nmaildirs++] = loom_strdup(lower);
        } else {
            env.rcpts[env.nrcpts].addr = loom_strdup(dests[i].addr);
            env.rcpts[env.nrcpts++].remote = 1;
        }
    }
    b = loom_calloc(1, sizeof(*b));
    b->done = done;
    b->arg = arg;
    b->d = smtp_deliver_submit(si, &env, c->queue_dir, NULL, 0, msg, len, NULL,
                               relay_bounce_done, b);
    smtp_envelope_clear(&env);
    free(lower);
    return b;
}

static void relay_detach(void *h)
{
    relay_bounce_t *b = h;

    /* the delivery goes on; its done frees B and tells nobody */
    b->done = NULL;
}

static const smtp_runner_ops_t relay_ops = {relay_inject, relay_detach};

void *smtp_runner_start(loom_instance_t *inst, const smtp_conf_t *c,
                        void *runner)
{
    if (runner != NULL) {
        smtp_runner_update(runner, c->hostname, c->relay);
        return runner;
    }
    if (c->queue_dir == NULL)
        return NULL;
    return smtp_runner_new(inst, c->queue_dir, c->hostname, c->relay,
                           &relay_ops);
}

void smtp_runner_queued(void *runner, const char *id, const smtp_queued_t *q)
{
    smtp_runner_add_info(runner, id, q->sender, q->rcpts, q->size, q->arrival);
}

void smtp_runner_stop(void *runner)
{
    smtp_runner_free(runner);
}

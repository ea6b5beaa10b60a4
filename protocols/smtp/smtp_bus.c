/*
 * smtp_bus.c - the smtp module on the bus.
 *
 * Source smtp:INSTANCE:TOPIC (publish_topic, "mail" by default): a message
 * for a recipient or domain in `publish` is summarised with GMime on the
 * worker pool (smtp_mime.h) once it is durable and published with the
 * fields from, to, subject, message_id, date, size, text (the first
 * text/plain part, UTF-8, at most 64 KiB), sender and recipients (the
 * envelope).
 *
 * Action smtp:INSTANCE:send (to, from, subject, body): a message composed
 * by smtp_mime_compose, delivered to local Maildirs and/or put in the
 * relay queue durably; the call ends when it is (DONE), with RETRY when
 * the storage failed, FAILED for what can never work (bad address, an
 * unknown local recipient, relaying without a queue directory).  Mail the
 * action makes is not published again (no loops through the bus).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp.h"
#include "smtp_mime.h"

/* ---- publishing ------------------------------------------------------------
 */

int smtp_bus_wants(loom_instance_t *inst, const smtp_conf_t *c,
                   const smtp_envelope_t *env)
{
    int any = 0;

    if (c->npublish == 0)
        return 0;
    for (size_t i = 0; i < env->nrcpts && !any; i++)
        any = !env->rcpts[i].remote && smtp_publishes(c, env->rcpts[i].addr);
    return any && loom_bus_wanted(inst, c->topic);
}

void smtp_bus_pub_init(const smtp_conf_t *c, const smtp_envelope_t *env,
                       smtp_pub_t *p)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;

    memset(p, 0, sizeof(*p));
    p->topic = loom_strdup(c->topic);
    p->sender = loom_strdup(env->sender ? env->sender : "");
    for (size_t i = 0; i < env->nrcpts; i++) {
        const char *a = env->rcpts[i].addr;

        if (env->rcpts[i].remote || !smtp_publishes(c, a))
            continue;
        if (len)
            loom_append(&buf, &len, &cap, ", ", 2, 0);
        loom_append(&buf, &len, &cap, a, strlen(a), 0);
    }
    p->rcpts = buf ? buf : loom_strdup("");
}

typedef struct {
    loom_instance_t *inst;
    smtp_pub_t pub;
    smtp_mime_summary_t sum;
    int ok;
} smtp_pubjob_t;

static void smtp_pub_work(void *arg)
{
    smtp_pubjob_t *j = arg;

    j->ok = smtp_mime_summarize(j->pub.msg, j->pub.len, &j->sum) == LOOM_OK;
}

static void smtp_field(loom_msg_t *m, const char *name, const char *v)
{
    v = v ? v : "";
    loom_msg_add(m, name, strlen(name), v, strlen(v));
}

static void smtp_pub_done(void *arg, int status)
{
    smtp_pubjob_t *j = arg;

    if (status == LOOM_WORK_COMPLETED && j->ok) {
        loom_msg_t *m = loom_msg_new(j->pub.topic);
        smtp_inst_t *si = smtp_inst(j->inst);

        smtp_mime_summary_fields(&j->sum, m);
        smtp_field(m, "sender", j->pub.sender);
        smtp_field(m, "recipients", j->pub.rcpts);
        if (loom_bus_publish(j->inst, m, NULL) == LOOM_OK && si)
            si->stats.published++;
    }
    smtp_mime_summary_free(&j->sum);
    smtp_pub_clear(&j->pub);
    free(j);
}

void smtp_bus_publish(loom_instance_t *inst, smtp_pub_t *p)
{
    smtp_pubjob_t *j = loom_calloc(1, sizeof(*j));

    j->inst = inst;
    j->pub = *p;
    memset(p, 0, sizeof(*p));
    loom_work_submit(inst, smtp_pub_work, smtp_pub_done, j);
}

/* ---- the send action
 * ----------------------------------------------------------- */

static void smtp_send_done(void *arg, int ok, const char *qid, const char *err)
{
    loom_action_call_t *call = arg;

    (void)qid;
    loom_action_done(call, ok ? LOOM_ACT_DONE : LOOM_ACT_RETRY, err);
}

/* ENV from the composed message: local Maildirs and remote recipients.
 * Returns NULL, or why it cannot be sent. */
static const char *smtp_send_route(const smtp_conf_t *c,
                                   const smtp_compose_out_t *out,
                                   smtp_envelope_t *env, char *why,
                                   size_t whylen)
{
    env->sender = loom_strdup(out->sender);
    for (size_t i = 0; i < out->nrcpts; i++) {
        char *addr = smtp_lower(loom_strdup(out->rcpts[i]));
        smtp_dest_t d[64];
        size_t n = 0;
        smtp_dest_kind_t k = smtp_resolve_rcpt(c, addr, d, 64, &n);
        int dup = 0;

        if (k == SMTP_DEST_UNKNOWN || k == SMTP_DEST_LOOP) {
            snprintf(why, whylen, "%s: no such local recipient", addr);
            free(addr);
            return why;
        }
        if (k == SMTP_DEST_REMOTE && c->queue_dir == NULL) {
            snprintf(why, whylen,
                     "%s: not a local recipient and no queue_dir to relay "
                     "through",
                     addr);
            free(addr);
            return why;
        }
        if (k == SMTP_DEST_REMOTE) {
            n = 1;
            d[0].maildir = NULL;
            snprintf(d[0].addr, sizeof(d[0].addr), "%s", out->rcpts[i]);
        }
        for (size_t j = 0; j < n; j++) {
            if (d[j].maildir) {
                for (size_t m = 0; m < env->nmaildirs; m++)
                    dup |= strcmp(env->maildirs[m], d[j].maildir) == 0;
                if (dup)
                    continue;
                env->maildirs = loom_realloc(
                    env->maildirs, (env->nmaildirs + 1) * sizeof(char *));
                env->delivered_to = loom_realloc(
                    env->delivered_to, (env->nmaildirs + 1) * sizeof(char *));
                env->maildirs[env->nmaildirs] = loom_strdup(d[j].maildir);
                env->delivered_to[env->nmaildirs++] = loom_strdup(addr);
            } else {
                if (d[j].maildir == NULL && c->queue_dir == NULL) {
                    snprintf(why, whylen, "%s: alias to %s needs a queue_dir",
                             addr, d[j].addr);
                    free(addr);
                    return why;
                }
                env->rcpts = loom_realloc(env->rcpts, (env->nrcpts + 1) *
                                                          sizeof(*env->rcpts));
                memset(&env->rcpts[env->nrcpts], 0, sizeof(*env->rcpts));
                env->rcpts[env->nrcpts].addr = loom_strdup(d[j].addr);
                env->rcpts[env->nrcpts++].remote = 1;
            }
        }
        free(addr);
    }
    return NULL;
}

static void smtp_act_send(loom_instance_t *inst, loom_action_call_t *call)
{
    const smtp_conf_t *c = loom_instance_conf(inst);
    smtp_compose_in_t in;
    smtp_compose_out_t out;
    smtp_envelope_t env;
    char err[512], from[300], id[SMTP_ID_MAX], date[64], *head;
    const char *why;
    size_t blen = 0;
    int hlen;

    memset(&in, 0, sizeof(in));
    memset(&env, 0, sizeof(env));
    snprintf(from, sizeof(from), "loom@%s", c->hostname);
    in.from = loom_action_param(call, "from", NULL);
    if (in.from == NULL || in.from[0] == '\0')
        in.from = from;
    in.to = loom_action_param(call, "to", NULL);
    in.subject = loom_action_param(call, "subject", NULL);
    in.body = loom_action_param(call, "body", &blen);
    in.body_len = in.body ? blen : 0;
    in.hostname = c->hostname;
    in.now = time(NULL);
    if (smtp_mime_compose(&in, &out, err, sizeof(err)) != LOOM_OK) {
        loom_action_done(call, LOOM_ACT_FAILED, err);
        return;
    }
    why = smtp_send_route(c, &out, &env, err, sizeof(err));
    if (why) {
        smtp_envelope_clear(&env);
        smtp_mime_compose_free(&out);
        loom_action_done(call, LOOM_ACT_FAILED, why);
        return;
    }
    env.client = loom_strdup("localhost [bus]");
    smtp_new_id(id);
    smtp_mime_rfc5322_date(in.now, date, sizeof(date));
    hlen = asprintf(&head,
                    "Received: by %s (loom) with local (route %s)\r\n\tid "
                    "%s; %s\r\n",
                    c->hostname, loom_action_route(call), id, date);
    if (hlen < 0) {
        smtp_envelope_clear(&env);
        smtp_mime_compose_free(&out);
        loom_action_done(call, LOOM_ACT_RETRY, "out of memory");
        return;
    }
    smtp_deliver_submit(smtp_inst(inst), &env, c->queue_dir, head, (size_t)hlen,
                        out.data, out.len, NULL, smtp_send_done, call);
    out.data = NULL; /* taken */
    out.len = 0;
    free(head);
    smtp_envelope_clear(&env);
    smtp_mime_compose_free(&out);
}

static const loom_action_param_t smtp_send_params[] = {
    {"to", 1}, {"from", 0}, {"subject", 0}, {"body", 0}, {NULL, 0}};

const loom_action_t smtp_actions[] = {
    {"send", smtp_send_params, smtp_act_send},
    {NULL, NULL, NULL},
};

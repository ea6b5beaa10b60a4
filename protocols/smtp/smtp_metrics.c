/*
 * smtp_metrics.c - an smtp instance's samples for the metrics collector
 * (loom_smtp_*): sessions, messages accepted and refused by reason,
 * bytes, replies, AUTH, the relay queue and its delivery outcomes.
 *
 * The counters are plain increments made by the session (smtp_stats_t,
 * smtp.h) and the queue runner (smtp_runner_stats_t, smtp_out.h); this
 * file only reads them.
 */
#include <stddef.h>
#include <stdint.h>

#include "smtp.h"
#include "smtp_ctl.h"
#include "smtp_out.h"

/* ---- metrics ---------------------------------------------------------------
 */

/* Labels of smtp_reject_t, in its order. */
static const struct {
    const char *stage, *reason;
} smtp_reject_labels[SMTP_REJ_COUNT] = {
    [SMTP_REJ_CONN_LIMIT] = {"connect", "connection_limit"},
    [SMTP_REJ_TLS_REQUIRED] = {"mail", "tls_required"},
    [SMTP_REJ_AUTH_REQUIRED] = {"mail", "auth_required"},
    [SMTP_REJ_SENDER] = {"mail", "sender_not_owned"},
    [SMTP_REJ_TOO_MANY_RCPTS] = {"rcpt", "too_many_recipients"},
    [SMTP_REJ_UNKNOWN_RCPT] = {"rcpt", "unknown_recipient"},
    [SMTP_REJ_RELAY] = {"rcpt", "relay_denied"},
    [SMTP_REJ_LOOP] = {"rcpt", "alias_loop"},
    [SMTP_REJ_NO_RCPTS] = {"data", "no_recipients"},
    [SMTP_REJ_SIZE] = {"data", "size"},
    [SMTP_REJ_CONTENT] = {"data", "content"},
    [SMTP_REJ_STORE] = {"data", "store_error"},
};

/* Plain counters of smtp_stats_t, one family each. */
static const struct {
    const char *name, *help;
    size_t off;
} smtp_counters[] = {
    {"loom_smtp_sessions_total", "SMTP sessions (connections) opened.",
     offsetof(smtp_stats_t, sessions)},
    {"loom_smtp_messages_accepted_total",
     "Messages made durable and acknowledged with 250.",
     offsetof(smtp_stats_t, accepted)},
    {"loom_smtp_accepted_bytes_total",
     "Bytes of accepted messages, Received: header included.",
     offsetof(smtp_stats_t, accepted_bytes)},
    {"loom_smtp_received_bytes_total",
     "Message content bytes read in DATA and BDAT, accepted or not.",
     offsetof(smtp_stats_t, data_bytes)},
    {"loom_smtp_published_total", "Received messages published on the bus.",
     offsetof(smtp_stats_t, published)},
};

void smtp_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    static const char *const classes[] = {NULL,  NULL,  "2xx",
                                          "3xx", "4xx", "5xx"};
    smtp_inst_t *si = smtp_inst(inst);
    smtp_runner_stats_t rs;
    size_t i;

    if (si == NULL)
        return;
    for (i = 0; i < LOOM_ARRAY_LEN(smtp_counters); i++)
        loom_metric(m, LOOM_METRIC_COUNTER, smtp_counters[i].name,
                    smtp_counters[i].help,
                    (double)*(const uint64_t *)((const char *)&si->stats +
                                                smtp_counters[i].off),
                    NULL);
    for (i = 0; i < SMTP_REJ_COUNT; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_rejected_total",
                    "Refusals of a session step, by stage and reason.",
                    (double)si->stats.rejected[i], "stage",
                    smtp_reject_labels[i].stage, "reason",
                    smtp_reject_labels[i].reason, NULL);
    for (i = 2; i < LOOM_ARRAY_LEN(classes); i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_replies_total",
                    "Replies sent to commands, by class.",
                    (double)si->stats.replies[i], "class", classes[i], NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_auth_total",
                "AUTH attempts by result.", (double)si->stats.auth_ok, "result",
                "success", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_auth_total",
                "AUTH attempts by result.", (double)si->stats.auth_failed,
                "result", "failure", NULL);
    smtp_runner_stats(si->runner, &rs);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_smtp_queue_messages",
                "Messages in the relay queue.", (double)rs.messages, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_smtp_queue_active",
                "Queued messages being delivered now.", (double)rs.active,
                NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_deliveries_total",
                "Relay delivery outcomes per recipient and attempt.",
                (double)rs.delivered, "result", "delivered", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_deliveries_total",
                "Relay delivery outcomes per recipient and attempt.",
                (double)rs.deferred, "result", "deferred", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_deliveries_total",
                "Relay delivery outcomes per recipient and attempt.",
                (double)rs.bounced, "result", "bounced", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_smtp_bounces_total",
                "Bounce messages (RFC 3464 reports) queued for delivery.",
                (double)rs.dsns, NULL);
}

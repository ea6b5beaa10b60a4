/*
 * irc_metrics.c - an irc instance's samples for the metrics collector
 * (loom_irc_*): clients, unregistered connections, channels and
 * operators (gauges); registrations, refused connections, PRIVMSG /
 * NOTICE / TAGMSG received and delivered, and disconnects by reason
 * (counters).  The counters are plain increments kept in the hub's
 * state (irc_stats_t, irc.h).
 */
#include <string.h>

#include "irc.h"

/* Labels of irc_gone_t, in its order. */
static const char *const irc_gone_labels[IRC_GONE_COUNT] = {
    [IRC_GONE_QUIT] = "quit",
    [IRC_GONE_CLOSED] = "closed",
    [IRC_GONE_PING] = "ping_timeout",
    [IRC_GONE_REGISTER] = "registration_timeout",
    [IRC_GONE_FLOOD] = "excess_flood",
    [IRC_GONE_SENDQ] = "sendq",
    [IRC_GONE_KILLED] = "killed",
    [IRC_GONE_ERROR] = "error",
    [IRC_GONE_AUTH] = "auth",
    [IRC_GONE_SERVER] = "server",
};

/* Quit reasons as the hub words them (irc_client.c, irc_register.c,
 * irc_dispatch.c, irc_server_cmds.c, irc_cap.c, irc.c, the WebSocket
 * link), by prefix; first match wins. */
static const struct {
    const char *prefix;
    irc_gone_t gone;
} irc_gone_prefixes[] = {
    {"Quit: ", IRC_GONE_QUIT},
    {"Client Quit", IRC_GONE_QUIT},
    {"Connection closed", IRC_GONE_CLOSED},
    {"Ping timeout", IRC_GONE_PING},
    {"Registration timed out", IRC_GONE_REGISTER},
    {"Excess Flood", IRC_GONE_FLOOD},
    {"SendQ exceeded", IRC_GONE_SENDQ},
    {"Killed (", IRC_GONE_KILLED},
    {"Bad password", IRC_GONE_AUTH},
    {"Too many SASL failures", IRC_GONE_AUTH},
    {"Server shutting down", IRC_GONE_SERVER},
    {"Server configuration changed", IRC_GONE_SERVER},
    {"Service user leaving", IRC_GONE_SERVER},
};

irc_gone_t irc_gone_class(const char *reason)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(irc_gone_prefixes); i++)
        if (strncmp(reason, irc_gone_prefixes[i].prefix,
                    strlen(irc_gone_prefixes[i].prefix)) == 0)
            return irc_gone_prefixes[i].gone;
    return IRC_GONE_ERROR; /* "Write error", "Client sent ERROR", others */
}

void irc_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    static const char *const kinds[IRC_MSGKINDS] = {"privmsg", "notice",
                                                    "tagmsg"};
    irc_inst_t *irc = irc_inst(inst);
    const irc_stats_t *st;
    unsigned clients;
    size_t i;

    if (irc == NULL)
        return;
    st = &irc_hub(irc)->stats;
    /* the service user is registered but is nobody's connection */
    clients = irc->nclients - (irc->service != NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_irc_clients",
                "Registered clients (the service user not included).",
                (double)clients, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_irc_unregistered",
                "Connections that have not registered yet.",
                (double)irc->nunknown, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_irc_channels", "Channels.",
                (double)irc->chans.count, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_irc_operators",
                "Clients with user mode +o.", (double)irc->nopers, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_irc_registrations_total",
                "Clients that completed registration.",
                (double)st->registrations, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_irc_refused_total",
                "Connections refused at once (max_clients, per-address "
                "limit, shutting down).",
                (double)st->refused, NULL);
    for (i = 0; i < IRC_MSGKINDS; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_irc_messages_received_total",
                    "PRIVMSG, NOTICE and TAGMSG commands received from "
                    "clients.",
                    (double)st->received[i], "command", kinds[i], NULL);
    for (i = 0; i < IRC_MSGKINDS; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_irc_messages_delivered_total",
                    "Message lines queued to recipients (echo-message "
                    "copies included).",
                    (double)st->delivered[i], "command", kinds[i], NULL);
    for (i = 0; i < IRC_GONE_COUNT; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_irc_disconnects_total",
                    "Clients gone, by reason.", (double)st->gone[i], "reason",
                    irc_gone_labels[i], NULL);
}

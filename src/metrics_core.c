/*
 * metrics_core.c - loom_metrics_collect: the core's own samples (per
 * instance: connections, accepts, accept errors, TLS handshakes; for the
 * server: the worker pool, UDP replies dropped, the bus and its routes)
 * and every running instance's module samples, through its metrics hook.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "metrics.h"

/* The route table's counters (loom_bus.h), one sample each by outcome. */
static const struct {
    const char *outcome;
    size_t off; /* of a uint64_t in loom_route_stat_t */
} route_outcomes[] = {
    {"matched", offsetof(loom_route_stat_t, matched)},
    {"delivered", offsetof(loom_route_stat_t, delivered)},
    {"failed", offsetof(loom_route_stat_t, failed)},
    {"retried", offsetof(loom_route_stat_t, retried)},
    {"dropped_rate", offsetof(loom_route_stat_t, dropped_rate)},
    {"dropped_queue", offsetof(loom_route_stat_t, dropped_queue)},
    {"dropped_loop", offsetof(loom_route_stat_t, dropped_loop)},
};

static double route_outcome(const loom_route_stat_t *rs, size_t k)
{
    uint64_t v;

    memcpy(&v, (const char *)rs + route_outcomes[k].off, sizeof(v));
    return (double)v;
}

static void collect_bus(loom_server_t *srv, loom_metrics_t *m)
{
    loom_route_stat_t *rs;
    loom_bus_stat_t bs;
    size_t i, k, got, n = loom_bus_routes(srv, NULL, 0);

    loom_bus_stats(srv, &bs);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_bus_published_total",
                "Messages published on the bus.", (double)bs.published, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_bus_subscribers",
                "Live subscriptions (event streams).", (double)bs.subscribers,
                NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_bus_subscriber_deliveries_total",
                "Messages given to subscribers.",
                (double)bs.delivered_subscribers, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_bus_dropped_hops_total",
                "Messages dropped for passing too many routes.",
                (double)bs.dropped_hops, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_bus_subscriber_drops_total",
                "Messages subscribers lost: their backlog was full.",
                (double)bs.dropped_subscribers, NULL);
    if (n == 0)
        return;
    rs = loom_calloc(n, sizeof(*rs));
    got = loom_bus_routes(srv, rs, n);
    if (got < n)
        n = got;
    for (i = 0; i < n; i++) {
        for (k = 0; k < LOOM_ARRAY_LEN(route_outcomes); k++)
            loom_metric(m, LOOM_METRIC_COUNTER, "loom_route_messages_total",
                        "Messages per route, by outcome.",
                        route_outcome(&rs[i], k), "route", rs[i].name,
                        "outcome", route_outcomes[k].outcome, NULL);
        loom_metric(m, LOOM_METRIC_GAUGE, "loom_route_queued",
                    "Messages waiting in a route's queue.",
                    (double)rs[i].queued, "route", rs[i].name, NULL);
        loom_metric(m, LOOM_METRIC_GAUGE, "loom_route_inflight",
                    "Actions of a route under way.", (double)rs[i].inflight,
                    "route", rs[i].name, NULL);
    }
    free(rs);
}

static const char *const accept_error_names[LOOM_ACCEPT_ERR_COUNT] = {
    [LOOM_ACCEPT_ERR_ABORTED] = "aborted",
    [LOOM_ACCEPT_ERR_RESOURCES] = "resources",
    [LOOM_ACCEPT_ERR_OTHER] = "other",
};

static const char *const tls_fail_names[LOOM_TLS_FAIL_COUNT] = {
    [LOOM_TLS_FAIL_EOF] = "eof",
    [LOOM_TLS_FAIL_TIMEOUT] = "timeout",
    [LOOM_TLS_FAIL_VERSION] = "protocol_version",
    [LOOM_TLS_FAIL_CIPHER] = "no_shared_cipher",
    [LOOM_TLS_FAIL_NOT_TLS] = "not_tls",
    [LOOM_TLS_FAIL_CERT] = "certificate_rejected",
    [LOOM_TLS_FAIL_CLIENT_ALERT] = "client_alert",
    [LOOM_TLS_FAIL_OTHER] = "other",
};

/* Does INST do TLS: a TLS listener, or handshakes counted (STARTTLS)? */
static int instance_tls(loom_instance_t *inst)
{
    const loom_listener_t *ls;
    size_t i;

    for (ls = inst->srv->listeners; ls; ls = ls->next) {
        if (ls->inst == inst && !ls->closed && ls->ssl_ctx)
            return 1;
    }
    if (inst->tls_handshakes)
        return 1;
    for (i = 0; i < LOOM_TLS_FAIL_COUNT; i++) {
        if (inst->tls_failures[i])
            return 1;
    }
    return 0;
}

/* Does INST take connections (a stream listener), so that accept
 * counters mean something for it? */
static int instance_streams(loom_instance_t *inst)
{
    const loom_listener_t *ls;

    for (ls = inst->srv->listeners; ls; ls = ls->next) {
        if (ls->inst == inst && !ls->closed && ls->ep.kind != LOOM_EP_UDP)
            return 1;
    }
    return inst->accepted != 0;
}

/* The core's samples about INST (the instance label is set; the module
 * label tells instances of two modules with one name apart). */
static void collect_instance(loom_instance_t *inst, loom_metrics_t *m)
{
    const char *mod = inst->mod->name;
    size_t i;

    loom_metric(m, LOOM_METRIC_GAUGE, "loom_connections",
                "Open connections per module instance.", (double)inst->nconns,
                "module", mod, NULL);
    if (!instance_streams(inst))
        return;
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_connections_accepted_total",
                "Connections accepted.", (double)inst->accepted, "module", mod,
                NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_connections_refused_total",
                "Connections closed at once: max_connections was reached.",
                (double)inst->refused, "module", mod, NULL);
    for (i = 0; i < LOOM_ACCEPT_ERR_COUNT; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_accept_errors_total",
                    "accept(2) failures, by reason.",
                    (double)inst->accept_errors[i], "module", mod, "reason",
                    accept_error_names[i], NULL);
    if (!instance_tls(inst))
        return;
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_tls_handshakes_total",
                "TLS handshakes completed (server side).",
                (double)inst->tls_handshakes, "module", mod, NULL);
    for (i = 0; i < LOOM_TLS_FAIL_COUNT; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_tls_handshake_failures_total",
                    "TLS handshakes that failed (server side), by reason.",
                    (double)inst->tls_failures[i], "module", mod, "reason",
                    tls_fail_names[i], NULL);
}

static void collect_work(loom_server_t *srv, loom_metrics_t *m)
{
    loom_work_stats_t ws;

    if (srv->work == NULL)
        return;
    loom_work_stats(srv, &ws);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_work_threads",
                "Worker pool threads alive.", (double)ws.threads, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_work_queue_length",
                "Worker pool jobs waiting for a thread.", (double)ws.queued,
                NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_work_running",
                "Worker pool jobs on a thread now.", (double)ws.running, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_work_jobs_total",
                "Worker pool jobs finished, by outcome.", (double)ws.completed,
                "outcome", "completed", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_work_jobs_total",
                "Worker pool jobs finished, by outcome.", (double)ws.cancelled,
                "outcome", "cancelled", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_work_jobs_started_total",
                "Worker pool jobs a thread has taken.", (double)ws.started,
                NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_work_wait_seconds_total",
                "Time the started jobs waited in the queue, in all (divide "
                "by loom_work_jobs_started_total for the mean).",
                ws.wait_seconds, NULL);
}

static void collect_server(loom_server_t *srv, loom_metrics_t *m)
{
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_build_info",
                "Always 1; the version of loomd as a label.", 1, "version",
                LOOM_VERSION_STRING, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_datagrams_received_total",
                "UDP datagrams received.", (double)srv->datagrams, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_dgram_replies_dropped_total",
                "UDP replies dropped: their listener had closed.",
                (double)srv->dgram_dropped, NULL);
    collect_work(srv, m);
    collect_bus(srv, m);
}

loom_metrics_t *loom_metrics_collect(loom_server_t *srv)
{
    loom_metrics_t *m = loom_metrics_new();
    loom_instance_t *inst;

    collect_server(srv, m);
    for (inst = srv->instances; inst; inst = inst->next) {
        if (inst->removed || !inst->started)
            continue;
        loom_metrics_set_instance(m, inst->mod->name, inst->name);
        collect_instance(inst, m);
        if (inst->mod->metrics && !inst->stopped)
            inst->mod->metrics(inst, m);
    }
    loom_metrics_set_instance(m, NULL, NULL);
    return m;
}

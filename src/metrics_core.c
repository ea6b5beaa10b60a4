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

/* The core's samples about INST (the instance label is set). */
static void collect_instance(loom_instance_t *inst, loom_metrics_t *m)
{
    const char *mod = inst->mod->name;

    loom_metric(m, LOOM_METRIC_GAUGE, "loom_connections",
                "Open connections per module instance.", (double)inst->nconns,
                "module", mod, NULL);
}

static void collect_server(loom_server_t *srv, loom_metrics_t *m)
{
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_build_info",
                "Always 1; the version of loomd as a label.", 1, "version",
                LOOM_VERSION_STRING, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_dgram_replies_dropped_total",
                "UDP replies dropped: their listener had closed.",
                (double)srv->dgram_dropped, NULL);
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
        loom_metrics_set_instance(m, inst->name);
        collect_instance(inst, m);
        if (inst->mod->metrics && !inst->stopped)
            inst->mod->metrics(inst, m);
    }
    loom_metrics_set_instance(m, NULL);
    return m;
}

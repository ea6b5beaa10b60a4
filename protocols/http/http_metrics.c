/*
 * http_metrics.c - http's samples for the metrics collector (its metrics
 * hook: connections, requests by status class, body bytes, events
 * locations) and the status handler, which renders a collection as the
 * Prometheus text format, or as JSON for status pages: the keys it has
 * always had (instances, this instance's http counters, its events
 * locations, the bus) and, per instance, its listeners and samples.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define C LOOM_METRIC_COUNTER
#define G LOOM_METRIC_GAUGE

static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* The counters of an events location: JSON name, metric, its help. */
static const struct {
    const char *json, *metric, *help;
    size_t off; /* of a uint64_t in http_events_stat_t */
} events_counters[] = {
    {"delivered", "loom_http_events_delivered_total",
     "Messages written to event streams.",
     offsetof(http_events_stat_t, delivered)},
    {"dropped", "loom_http_events_dropped_total",
     "Event streams dropped: the client fell max_buffer behind.",
     offsetof(http_events_stat_t, dropped)},
    {"refused", "loom_http_events_refused_total",
     "Event stream requests refused (503) past max_streams.",
     offsetof(http_events_stat_t, refused)},
};

static unsigned long long events_counter(const http_events_stat_t *e, size_t k)
{
    uint64_t v;

    memcpy(&v, (const char *)e + events_counters[k].off, sizeof(v));
    return (unsigned long long)v;
}

/* The counters of HI's events locations (malloc'd; *N set). */
static http_events_stat_t *events_stats(http_instance_t *hi, size_t *n)
{
    size_t want = http_events_stats(hi, NULL, 0);
    http_events_stat_t *es = loom_calloc(want ? want : 1, sizeof(*es));

    *n = http_events_stats(hi, es, want);
    if (*n > want)
        *n = want;
    return es;
}

/* ---- the metrics hook ---------------------------------------------------- */

static void metrics_events(http_instance_t *hi, loom_metrics_t *m)
{
    size_t i, k, n;
    http_events_stat_t *es = events_stats(hi, &n);

    for (i = 0; i < n; i++)
        loom_metric(m, G, "loom_http_events_streams",
                    "Open event streams per events location.",
                    (double)es[i].streams, "location", es[i].location, "server",
                    es[i].server, "topic", es[i].topic, NULL);
    for (k = 0; k < LOOM_ARRAY_LEN(events_counters); k++) {
        for (i = 0; i < n; i++)
            loom_metric(
                m, C, events_counters[k].metric, events_counters[k].help,
                (double)events_counter(&es[i], k), "location", es[i].location,
                "server", es[i].server, "topic", es[i].topic, NULL);
    }
    free(es);
}

void http_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    http_instance_t *hi = loom_instance_data(inst);
    const http_counters_t *c;
    size_t i;

    if (hi == NULL)
        return;
    c = &hi->ctr;
    loom_metric(m, G, "loom_http_connections_active", "Open HTTP connections.",
                (double)c->conns_active, NULL);
    loom_metric(m, C, "loom_http_connections_total",
                "HTTP connections accepted.", (double)c->conns_total, NULL);
    for (i = 0; i < LOOM_ARRAY_LEN(classes); i++)
        loom_metric(m, C, "loom_http_requests_total",
                    "HTTP requests answered, by status class.",
                    (double)c->by_class[i + 1], "class", classes[i], NULL);
    loom_metric(m, C, "loom_http_bytes_received_total",
                "Request body bytes received.", (double)c->bytes_in, NULL);
    loom_metric(m, C, "loom_http_bytes_sent_total", "Response body bytes sent.",
                (double)c->bytes_out, NULL);
    metrics_events(hi, m);
}

/* ---- the status handler -------------------------------------------------- */

/* A growable text buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} tbuf_t;

static void tb_add(tbuf_t *b, const char *p, size_t len)
{
    loom_append(&b->p, &b->len, &b->cap, p, len, 0);
}

#define TB_LIT(b, lit) tb_add((b), (lit), sizeof(lit) - 1)

static void tb_printf(tbuf_t *b, const char *fmt, ...) LOOM_PRINTF(2, 3);
static void tb_printf(tbuf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        tb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Append a heap string and free it. */
static void tb_take(tbuf_t *b, char *s, size_t len)
{
    tb_add(b, s, len);
    free(s);
}

static void json_str(tbuf_t *b, const char *s)
{
    TB_LIT(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            tb_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            tb_printf(b, "\\u%04x", (unsigned char)*s);
        else
            tb_add(b, s, 1);
    }
    TB_LIT(b, "\"");
}

/* The route table's counters (loom_bus.h), as the issue names them. */
#define ROUTE_OUTCOMES(X)                                                      \
    X(matched)                                                                 \
    X(delivered)                                                               \
    X(failed) X(retried) X(dropped_rate) X(dropped_queue) X(dropped_loop)

static void status_json_bus(loom_server_t *srv, tbuf_t *b)
{
    loom_route_stat_t *rs;
    loom_bus_stat_t bs;
    size_t i, n = loom_bus_routes(srv, NULL, 0), got;

    loom_bus_stats(srv, &bs);
    tb_printf(b,
              ",\"bus\":{\"published\":%llu,\"subscribers\":%u,"
              "\"delivered_subscribers\":%llu,\"dropped_hops\":%llu,"
              "\"dropped_subscribers\":%llu,"
              "\"routes\":[",
              (unsigned long long)bs.published, bs.subscribers,
              (unsigned long long)bs.delivered_subscribers,
              (unsigned long long)bs.dropped_hops,
              (unsigned long long)bs.dropped_subscribers);
    rs = loom_calloc(n ? n : 1, sizeof(*rs));
    got = loom_bus_routes(srv, rs, n);
    if (got < n)
        n = got;
    for (i = 0; i < n; i++) {
        if (i)
            TB_LIT(b, ",");
        TB_LIT(b, "{\"name\":");
        json_str(b, rs[i].name);
#define X(f) tb_printf(b, ",\"" #f "\":%llu", (unsigned long long)rs[i].f);
        ROUTE_OUTCOMES(X)
#undef X
        tb_printf(b, ",\"queued\":%u,\"inflight\":%u}", rs[i].queued,
                  rs[i].inflight);
    }
    free(rs);
    TB_LIT(b, "]}");
}

static void status_json_events(http_instance_t *hi, tbuf_t *b)
{
    size_t i, k, n;
    http_events_stat_t *es = events_stats(hi, &n);

    TB_LIT(b, ",\"events\":[");
    for (i = 0; i < n; i++) {
        if (i)
            TB_LIT(b, ",");
        TB_LIT(b, "{\"server\":");
        json_str(b, es[i].server);
        TB_LIT(b, ",\"location\":");
        json_str(b, es[i].location);
        TB_LIT(b, ",\"topic\":");
        json_str(b, es[i].topic);
        tb_printf(b, ",\"streams\":%u", es[i].streams);
        for (k = 0; k < LOOM_ARRAY_LEN(events_counters); k++)
            tb_printf(b, ",\"%s\":%llu", events_counters[k].json,
                      events_counter(&es[i], k));
        TB_LIT(b, "}");
    }
    TB_LIT(b, "]");
    free(es);
}

/* The listeners of instance ST among LS (N of them), as a JSON array. */
static void status_json_listeners(tbuf_t *b, const loom_instance_stat_t *st,
                                  const loom_listener_stat_t *ls, size_t n)
{
    size_t i;
    int first = 1;

    TB_LIT(b, ",\"listeners\":[");
    for (i = 0; i < n; i++) {
        if (strcmp(ls[i].module, st->module) != 0 ||
            strcmp(ls[i].instance, st->name) != 0)
            continue;
        if (!first)
            TB_LIT(b, ",");
        TB_LIT(b, "{\"endpoint\":");
        json_str(b, ls[i].endpoint);
        TB_LIT(b, ",\"transport\":");
        json_str(b, ls[i].transport);
        tb_printf(b, ",\"connections\":%u,\"adopted\":%s}", ls[i].connections,
                  ls[i].adopted ? "true" : "false");
        first = 0;
    }
    TB_LIT(b, "]");
}

static void status_json(http_instance_t *hi, tbuf_t *b, const loom_metrics_t *m)
{
    loom_server_t *srv = loom_instance_server(hi->inst);
    const http_counters_t *c = &hi->ctr;
    size_t i, nst = loom_server_instances(srv, NULL, 0);
    size_t nls = loom_server_listeners(srv, NULL, 0), len, got;
    loom_instance_stat_t *st = loom_calloc(nst ? nst : 1, sizeof(*st));
    loom_listener_stat_t *ls = loom_calloc(nls ? nls : 1, sizeof(*ls));
    char *s;

    got = loom_server_instances(srv, st, nst);
    nst = got < nst ? got : nst;
    got = loom_server_listeners(srv, ls, nls);
    nls = got < nls ? got : nls;
    tb_printf(b, "{\"version\":\"%s\",\"uptime\":%lld,\"instances\":[",
              LOOM_VERSION_STRING, (long long)(time(NULL) - hi->started));
    for (i = 0; i < nst; i++) {
        const char *open = i ? ",{\"module\":" : "{\"module\":";

        tb_add(b, open, strlen(open));
        json_str(b, st[i].module);
        TB_LIT(b, ",\"instance\":");
        json_str(b, st[i].name);
        tb_printf(b, ",\"connections\":%u", st[i].connections);
        status_json_listeners(b, &st[i], ls, nls);
        TB_LIT(b, ",\"metrics\":");
        s = loom_metrics_json_instance(m, st[i].module, st[i].name, &len);
        tb_take(b, s, len);
        TB_LIT(b, "}");
    }
    tb_printf(b,
              "],\"http\":{\"connections\":{\"active\":%llu,\"total\":%llu},"
              "\"requests\":{\"total\":%llu",
              (unsigned long long)c->conns_active,
              (unsigned long long)c->conns_total,
              (unsigned long long)c->requests);
    for (i = 0; i < 5; i++)
        tb_printf(b, ",\"%s\":%llu", classes[i],
                  (unsigned long long)c->by_class[i + 1]);
    tb_printf(b, "},\"bytes\":{\"in\":%llu,\"out\":%llu}}",
              (unsigned long long)c->bytes_in,
              (unsigned long long)c->bytes_out);
    status_json_events(hi, b);
    status_json_bus(srv, b);
    TB_LIT(b, ",\"metrics\":");
    s = loom_metrics_json_instance(m, NULL, NULL, &len);
    tb_take(b, s, len);
    TB_LIT(b, "}\n");
    free(st);
    free(ls);
}

static void status_process(http_req_t *r)
{
    loom_server_t *srv = loom_instance_server(r->hi->inst);
    loom_metrics_t *m;
    tbuf_t b = {NULL, 0, 0};
    size_t len;

    if (r->method_id != HTTP_M_GET && r->method_id != HTTP_M_HEAD) {
        http_resp_header(r, "Allow", "GET, HEAD");
        http_resp_error(r, 405);
        return;
    }
    m = loom_metrics_collect(srv);
    http_resp_header(r, "Cache-Control", "no-store");
    if (r->loc->status_format == HTTP_STATUS_JSON) {
        status_json(r->hi, &b, m);
        http_resp_simple(r, 200, "application/json", b.p, b.len);
        free(b.p);
    } else {
        char *text = loom_metrics_prometheus(m, &len);

        http_resp_simple(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                         text, len);
        free(text);
    }
    loom_metrics_free(m);
}

const http_handler_t http_handler_status = {"status", status_process};

/*
 * http_handlers.c - the small handlers: return (fixed status, body or
 * redirect), status (JSON and Prometheus text), echo (request body back).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

/* A growable text buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} tbuf_t;

static void tb_add(tbuf_t *b, const char *p, size_t len)
{
    loom_append(&b->p, &b->len, &b->cap, p, len, 0);
}

/* Append a string literal. */
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

/* ---- return ---------------------------------------------------------------
 */

/* The Host without its port, lowercased into OUT. */
static void host_only(const http_req_t *r, tbuf_t *out)
{
    loom_slice_t a = r->authority;
    size_t i, len = http_host_len(a);

    if (len == 0 && r->vhost && r->vhost->nnames &&
        r->vhost->names[0][0] != '*') {
        tb_add(out, r->vhost->names[0], strlen(r->vhost->names[0]));
        return;
    }
    for (i = 0; i < len; i++) {
        char ch = (char)tolower((unsigned char)a.p[i]);

        tb_add(out, &ch, 1);
    }
}

/* Expand $scheme $host $http_host $request_uri $uri $args in TPL. */
static void expand(const http_req_t *r, const char *tpl, tbuf_t *out)
{
    const char *p = tpl;

    while (*p) {
        const char *v = p + 1;
        size_t n = 0;

        if (*p != '$') {
            tb_add(out, p++, 1);
            continue;
        }
        while (v[n] && (islower((unsigned char)v[n]) || v[n] == '_'))
            n++;
#define IS(name) (n == sizeof(name) - 1 && memcmp(v, name, n) == 0)
        if (IS("scheme")) {
            tb_add(out, r->scheme.p, r->scheme.len);
        } else if (IS("host")) {
            host_only(r, out);
        } else if (IS("http_host")) {
            tb_add(out, r->authority.p, r->authority.len);
        } else if (IS("request_uri")) {
            tb_add(out, r->path.p, r->path.len);
            if (r->query.p) {
                tb_add(out, "?", 1);
                tb_add(out, r->query.p, r->query.len);
            }
        } else if (IS("uri")) {
            tb_add(out, r->npath, r->npath_len);
        } else if (IS("args")) {
            tb_add(out, r->query.p, r->query.len);
        } else {
            tb_add(out, p, 1); /* not a variable: a literal '$' */
            p++;
            continue;
        }
#undef IS
        p = v + n;
    }
    if (out->p == NULL)
        tb_add(out, "", 0);
}

static void return_process(http_req_t *r)
{
    const http_location_t *l = r->loc;

    if (l->ret_location) {
        tbuf_t loc = {NULL, 0, 0};

        expand(r, l->ret_location, &loc);
        http_resp_header(r, "Location", loc.p);
        free(loc.p);
        http_resp_error(r, l->ret_status);
        return;
    }
    if (l->ret_body) {
        http_resp_simple(r, l->ret_status, l->ret_type, l->ret_body,
                         strlen(l->ret_body));
        return;
    }
    if (l->ret_status >= 400) {
        http_resp_error(r, l->ret_status);
        return;
    }
    http_resp_simple(r, l->ret_status, NULL, "", 0);
}

const http_handler_t http_handler_return = {"return", return_process};

/* ---- status
 * ------------------------------------------------------------------ */

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

static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* The route table's counters (loom_bus.h), as the issue names them. */
#define ROUTE_OUTCOMES(X)                                                      \
    X(matched)                                                                 \
    X(delivered)                                                               \
    X(failed) X(retried) X(dropped_rate) X(dropped_queue) X(dropped_loop)

static void status_json_bus(http_req_t *r, tbuf_t *b)
{
    loom_server_t *srv = loom_instance_server(r->hi->inst);
    loom_route_stat_t rs[256];
    loom_bus_stat_t bs;
    size_t i, n = loom_bus_routes(srv, rs, LOOM_ARRAY_LEN(rs));

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
    for (i = 0; i < n && i < LOOM_ARRAY_LEN(rs); i++) {
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
    TB_LIT(b, "]}");
}

/* The counters of the instance's events locations (malloc'd; *N set). */
static http_events_stat_t *events_stats(http_req_t *r, size_t *n)
{
    size_t want = http_events_stats(r->hi, NULL, 0);
    http_events_stat_t *es = loom_calloc(want ? want : 1, sizeof(*es));

    *n = http_events_stats(r->hi, es, want);
    if (*n > want)
        *n = want;
    return es;
}

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

static void status_json_events(http_req_t *r, tbuf_t *b)
{
    size_t i, k, n;
    http_events_stat_t *es = events_stats(r, &n);

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

static void status_json(http_req_t *r, tbuf_t *b,
                        const loom_instance_stat_t *st, size_t n)
{
    const http_counters_t *c = &r->hi->ctr;
    size_t i;

    tb_printf(b, "{\"version\":\"%s\",\"uptime\":%lld,\"instances\":[",
              LOOM_VERSION_STRING, (long long)(time(NULL) - r->hi->started));
    for (i = 0; i < n; i++) {
        const char *open = i ? ",{\"module\":" : "{\"module\":";

        tb_add(b, open, strlen(open));
        json_str(b, st[i].module);
        TB_LIT(b, ",\"instance\":");
        json_str(b, st[i].name);
        tb_printf(b, ",\"connections\":%u}", st[i].connections);
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
    status_json_events(r, b);
    status_json_bus(r, b);
    TB_LIT(b, "}\n");
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void prom_label(tbuf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            tb_printf(b, "\\%c", *s);
        else if (*s == '\n')
            TB_LIT(b, "\\n");
        else
            tb_add(b, s, 1);
    }
}

static void prom_metric(tbuf_t *b, const char *name, const char *type,
                        const char *help)
{
    tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void status_prometheus_bus(http_req_t *r, tbuf_t *b)
{
    loom_server_t *srv = loom_instance_server(r->hi->inst);
    loom_route_stat_t rs[256];
    loom_bus_stat_t bs;
    size_t i, n = loom_bus_routes(srv, rs, LOOM_ARRAY_LEN(rs));

    loom_bus_stats(srv, &bs);
    prom_metric(b, "loom_bus_published_total", "counter",
                "Messages published on the bus.");
    tb_printf(b, "loom_bus_published_total %llu\n",
              (unsigned long long)bs.published);
    prom_metric(b, "loom_bus_subscribers", "gauge",
                "Live subscriptions (event streams).");
    tb_printf(b, "loom_bus_subscribers %u\n", bs.subscribers);
    if (n > LOOM_ARRAY_LEN(rs))
        n = LOOM_ARRAY_LEN(rs);
    if (n == 0)
        return;
    prom_metric(b, "loom_route_messages_total", "counter",
                "Messages per route, by outcome.");
    for (i = 0; i < n; i++) {
#define X(f)                                                                   \
    TB_LIT(b, "loom_route_messages_total{route=\"");                           \
    prom_label(b, rs[i].name);                                                 \
    tb_printf(b, "\",outcome=\"" #f "\"} %llu\n", (unsigned long long)rs[i].f);
        ROUTE_OUTCOMES(X)
#undef X
    }
    prom_metric(b, "loom_route_queued", "gauge",
                "Messages waiting in a route's queue.");
    for (i = 0; i < n; i++) {
        TB_LIT(b, "loom_route_queued{route=\"");
        prom_label(b, rs[i].name);
        tb_printf(b, "\"} %u\n", rs[i].queued);
    }
}

/* The labels of events location E: instance ME, server, location. */
static void prom_events_labels(tbuf_t *b, const char *name, const char *me,
                               const http_events_stat_t *e)
{
    tb_printf(b, "%s{instance=\"", name);
    prom_label(b, me);
    TB_LIT(b, "\",server=\"");
    prom_label(b, e->server);
    TB_LIT(b, "\",location=\"");
    prom_label(b, e->location);
    TB_LIT(b, "\",topic=\"");
    prom_label(b, e->topic);
    TB_LIT(b, "\"}");
}

static void status_prometheus_events(http_req_t *r, tbuf_t *b, const char *me)
{
    size_t i, k, n;
    http_events_stat_t *es = events_stats(r, &n);

    if (n == 0) {
        free(es);
        return;
    }
    prom_metric(b, "loom_http_events_streams", "gauge",
                "Open event streams per events location.");
    for (i = 0; i < n; i++) {
        prom_events_labels(b, "loom_http_events_streams", me, &es[i]);
        tb_printf(b, " %u\n", es[i].streams);
    }
    for (k = 0; k < LOOM_ARRAY_LEN(events_counters); k++) {
        prom_metric(b, events_counters[k].metric, "counter",
                    events_counters[k].help);
        for (i = 0; i < n; i++) {
            prom_events_labels(b, events_counters[k].metric, me, &es[i]);
            tb_printf(b, " %llu\n", events_counter(&es[i], k));
        }
    }
    free(es);
}

static void status_prometheus(http_req_t *r, tbuf_t *b,
                              const loom_instance_stat_t *st, size_t n)
{
    const http_counters_t *c = &r->hi->ctr;
    const char *me = loom_instance_who(r->hi->inst);
    const char *slash = strchr(me, '/');
    size_t i;

    me = slash ? slash + 1 : me;
    prom_metric(b, "loom_connections", "gauge",
                "Open connections per module instance.");
    for (i = 0; i < n; i++) {
        TB_LIT(b, "loom_connections{module=\"");
        prom_label(b, st[i].module);
        TB_LIT(b, "\",instance=\"");
        prom_label(b, st[i].name);
        tb_printf(b, "\"} %u\n", st[i].connections);
    }
#define ONE(name, type, help, val)                                             \
    do {                                                                       \
        prom_metric(b, name, type, help);                                      \
        tb_printf(b, "%s{instance=\"", name);                                  \
        prom_label(b, me);                                                     \
        tb_printf(b, "\"} %llu\n", (unsigned long long)(val));                 \
    } while (0)
    ONE("loom_http_connections_active", "gauge", "Open HTTP connections.",
        c->conns_active);
    ONE("loom_http_connections_total", "counter", "HTTP connections accepted.",
        c->conns_total);
    prom_metric(b, "loom_http_requests_total", "counter",
                "HTTP requests answered, by status class.");
    for (i = 0; i < 5; i++) {
        TB_LIT(b, "loom_http_requests_total{instance=\"");
        prom_label(b, me);
        tb_printf(b, "\",class=\"%s\"} %llu\n", classes[i],
                  (unsigned long long)c->by_class[i + 1]);
    }
    ONE("loom_http_bytes_received_total", "counter",
        "Request body bytes received.", c->bytes_in);
    ONE("loom_http_bytes_sent_total", "counter", "Response body bytes sent.",
        c->bytes_out);
#undef ONE
    status_prometheus_events(r, b, me);
    status_prometheus_bus(r, b);
}

static void status_process(http_req_t *r)
{
    loom_server_t *srv = loom_instance_server(r->hi->inst);
    loom_instance_stat_t st[64];
    size_t n = loom_server_instances(srv, st, LOOM_ARRAY_LEN(st));
    tbuf_t b = {NULL, 0, 0};

    if (r->method_id != HTTP_M_GET && r->method_id != HTTP_M_HEAD) {
        http_resp_header(r, "Allow", "GET, HEAD");
        http_resp_error(r, 405);
        return;
    }
    if (n > LOOM_ARRAY_LEN(st))
        n = LOOM_ARRAY_LEN(st);
    http_resp_header(r, "Cache-Control", "no-store");
    if (r->loc->status_format == HTTP_STATUS_JSON) {
        status_json(r, &b, st, n);
        http_resp_simple(r, 200, "application/json", b.p, b.len);
    } else {
        status_prometheus(r, &b, st, n);
        http_resp_simple(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                         b.p, b.len);
    }
    free(b.p);
}

const http_handler_t http_handler_status = {"status", status_process};

/* ---- echo
 * ------------------------------------------------------------------------ */

static void echo_writable(http_req_t *r)
{
    r->on_writable = NULL;
    r->proto->pause_body(r, 0);
}

static void echo_body(http_req_t *r, const char *p, size_t len, int last)
{
    if (len && http_resp_write(r, p, len) == LOOM_AGAIN && !last) {
        /* the client is not reading its answer: stop taking its body */
        r->on_writable = echo_writable;
        r->proto->pause_body(r, 1);
    }
    if (last)
        http_resp_end(r);
}

static void echo_process(http_req_t *r)
{
    const http_field_t *ct = http_req_field(r, "content-type");
    char type[256];

    if (ct && ct->value.len < sizeof(type)) {
        memcpy(type, ct->value.p, ct->value.len);
        type[ct->value.len] = '\0';
        http_resp_header(r, "Content-Type", type);
    } else {
        http_resp_header(r, "Content-Type", "application/octet-stream");
    }
    http_resp_length(r, r->content_length);
    r->on_body = echo_body;
}

const http_handler_t http_handler_echo = {"echo", echo_process};

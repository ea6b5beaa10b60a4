/*
 * http_events.c - the events handler: a bus topic as a live stream of
 * Server-Sent Events (text/event-stream), over HTTP/1.1 and HTTP/2 alike.
 *
 * Rings.  Every events location has a ring of its topic's last `history`
 * messages, kept by the instance (not by the config) under the location's
 * key -- its server's label, its title and its topic -- so that a reload
 * where the location stays keeps the ring, its streams and its counters,
 * and a reload where it goes (or changes its topic) ends its streams and
 * drops it.  A ring subscribes to its topic once, when it is made (start
 * or reload), and records messages whether or not anyone listens.  The
 * running config's location points at its ring (set at start / reload);
 * a stream points at the ring, never into the config.
 *
 * Frames.  A message is rendered once per ring, as
 *   "id: ID\nevent: TOPIC\ndata: JSON\n\n"
 * into a loom_buf_t that the ring and every stream share: HTTP/1.1 queues
 * it with loom_conn_write_buf (by reference above 512 bytes, else copied
 * into the output chain; its chunk header is always a copy), HTTP/2 copies it
 * once into the stream's buffer, where its DATA frames are cut from.
 *
 * Streams.  A request resumes after the id in Last-Event-ID (the header,
 * else ?last_event_id=N): the ring's later messages are sent first, as
 * the connection takes them (paced by on_writable, so a long history
 * never piles up in a buffer), then live ones.  When the id is older than
 * the ring holds -- messages were evicted past it, or it is one this ring
 * never gave out (another process, another topic) -- a ": missed" comment
 * comes before the ring's messages.  Live messages are written to every
 * stream at once; a stream whose queued bytes would pass `max_buffer` is
 * dropped (HTTP/1.1: the connection is aborted; HTTP/2: RST_STREAM) and
 * counted.  A comment ": keep-alive" every `keepalive` seconds keeps
 * proxies and idle timeouts from cutting a quiet stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define EV_KEEPALIVE ": keep-alive\n\n"
#define EV_MISSED ": missed\n\n"
#define EV_MAX_BUFFER_MIN (256 * 1024) /* HTTP/1.1's high-water mark */

struct http_events_loc_s {
    char *topic;
    size_t history, max_buffer;
    unsigned keepalive, max_streams;
    struct ev_ring_s *ring; /* the running config's: set by start / reload */
};

typedef struct ev_stream_s ev_stream_t;

typedef struct {
    uint64_t id;
    loom_buf_t *frame;
} ev_item_t;

typedef struct ev_ring_s {
    struct ev_ring_s *next;
    http_instance_t *hi;
    char *key;      /* "label\nTITLE\ntopic" */
    char *server;   /* the server's label */
    char *location; /* the location's title: "= /events/demo" */
    char *topic;
    loom_bus_sub_t *sub;
    ev_item_t *items; /* oldest at head */
    size_t cap, head, count;
    uint64_t last_id;    /* newest message seen */
    uint64_t evicted_id; /* newest message no longer held (0: none) */
    size_t max_buffer;
    unsigned keepalive, max_streams;
    ev_stream_t *streams;
    unsigned nstreams;
    uint64_t dropped, refused, delivered;
    loom_buf_t *ka; /* the keep-alive comment */
    int mark;
} ev_ring_t;

struct http_events_rt_s {
    ev_ring_t *rings;
};

struct ev_stream_s {
    ev_stream_t *next, *prev;
    ev_ring_t *ring;
    http_req_t *r;
    loom_timer_t ka; /* owned by the connection */
    uint64_t cursor; /* id of the last message sent (or skipped) */
    int replay;      /* catching up from the ring, paced by on_writable */
};

/* ---- configuration --------------------------------------------------------
 */

/* "TOPIC" or "MODULE:INSTANCE:TOPIC", no part empty, no control bytes. */
static int topic_ok(const char *t)
{
    const char *p, *part = t;
    int parts = 1;

    for (p = t;; p++) {
        if (*p == ':' || *p == '\0') {
            if (p == part)
                return 0;
            if (*p == '\0')
                break;
            parts++;
            part = p + 1;
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return parts == 1 || parts == 3;
}

int http_events_location(cfg_t *ls, http_location_t *l)
{
    struct http_events_loc_s *el = loom_calloc(1, sizeof(*el));
    const char *topic = cfg_getstr(ls, "topic");
    long hist = cfg_getint(ls, "history"), ka = cfg_getint(ls, "keepalive");
    long ms = cfg_getint(ls, "max_streams");

    l->events = el;
    if (topic == NULL || !topic_ok(topic)) {
        loom_conf_error(ls, topic ? "topic" : NULL,
                        "location \"%s\": the events handler needs a topic, "
                        "\"TOPIC\" or \"MODULE:INSTANCE:TOPIC\" (globs, no "
                        "empty part)",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    el->topic = loom_strdup(topic);
    if (hist < 0 || hist > 1000000) {
        loom_conf_error(ls, "history", "history must be 0-1000000, not %ld",
                        hist);
        return LOOM_ERROR;
    }
    if (ka < 1 || ka > 3600) {
        loom_conf_error(ls, "keepalive", "keepalive must be 1-3600, not %ld",
                        ka);
        return LOOM_ERROR;
    }
    if (ms < 1 || ms > 1000000) {
        loom_conf_error(ls, "max_streams",
                        "max_streams must be 1-1000000, not %ld", ms);
        return LOOM_ERROR;
    }
    if (loom_conf_size(ls, "max_buffer", &el->max_buffer) != LOOM_OK)
        return LOOM_ERROR;
    if (el->max_buffer < EV_MAX_BUFFER_MIN ||
        el->max_buffer > 1024u * 1024 * 1024) {
        loom_conf_error(ls, "max_buffer", "max_buffer must be 256K to 1G");
        return LOOM_ERROR;
    }
    el->history = (size_t)hist;
    el->keepalive = (unsigned)ka;
    el->max_streams = (unsigned)ms;
    return LOOM_OK;
}

void http_events_location_free(http_location_t *l)
{
    if (l->events == NULL)
        return;
    free(l->events->topic);
    free(l->events);
    l->events = NULL;
}

/* ---- frames --------------------------------------------------------------
 */

/* Append LEN bytes to the growable *BUF. */
static void put(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = loom_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* M's frame, once.  The topic's line breaks (which would end the field)
 * become spaces; JSON holds none, but a data line per line is safe. */
static loom_buf_t *ev_render(const loom_msg_t *m)
{
    size_t jlen, len = 0, cap, i;
    char *json = loom_msg_json(m, &jlen), *buf, num[32];
    const char *topic = loom_msg_topic(m);
    loom_buf_t *b;
    int n;

    cap = jlen + strlen(topic) + 64;
    buf = loom_malloc(cap);
    n = snprintf(num, sizeof(num),
                 "id: %llu\nevent: ", (unsigned long long)loom_msg_id(m));
    put(&buf, &len, &cap, num, (size_t)n);
    for (i = 0; topic[i]; i++) {
        char ch = topic[i] == '\r' || topic[i] == '\n' ? ' ' : topic[i];

        put(&buf, &len, &cap, &ch, 1);
    }
    put(&buf, &len, &cap, "\ndata: ", 7);
    for (i = 0; i < jlen; i++) {
        if (json[i] == '\n')
            put(&buf, &len, &cap, "\ndata: ", 7);
        else if (json[i] != '\r')
            put(&buf, &len, &cap, &json[i], 1);
    }
    put(&buf, &len, &cap, "\n\n", 2);
    b = loom_buf_new(buf, len);
    free(buf);
    free(json);
    return b;
}

/* ---- the ring --------------------------------------------------------------
 */

static ev_item_t *ring_at(ev_ring_t *g, size_t i)
{
    return &g->items[(g->head + i) % g->cap];
}

/* Drop the oldest message. */
static void ring_evict(ev_ring_t *g)
{
    ev_item_t *it = ring_at(g, 0);

    g->evicted_id = it->id;
    loom_buf_unref(it->frame);
    it->frame = NULL;
    g->head = (g->head + 1) % g->cap;
    g->count--;
}

static void ring_push(ev_ring_t *g, uint64_t id, loom_buf_t *frame)
{
    ev_item_t *it;

    g->last_id = id;
    if (g->cap == 0) { /* history = 0: nothing kept */
        g->evicted_id = id;
        return;
    }
    if (g->count == g->cap)
        ring_evict(g);
    it = ring_at(g, g->count++);
    it->id = id;
    it->frame = loom_buf_ref(frame);
}

/* Hold CAP messages from now on, keeping the newest. */
static void ring_resize(ev_ring_t *g, size_t cap)
{
    ev_item_t *items;
    size_t i;

    if (cap == g->cap)
        return;
    while (g->count > cap)
        ring_evict(g);
    items = cap ? loom_calloc(cap, sizeof(*items)) : NULL;
    for (i = 0; i < g->count; i++)
        items[i] = *ring_at(g, i);
    free(g->items);
    g->items = items;
    g->cap = cap;
    g->head = 0;
}

/* Index of the first message with an id above ID (count: none). */
static size_t ring_after(ev_ring_t *g, uint64_t id)
{
    size_t lo = 0, hi = g->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ring_at(g, mid)->id <= id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- streams -------------------------------------------------------------
 */

/* Unlink ST and free it; R's hooks are cleared (the handler is done). */
static void stream_free(ev_stream_t *st)
{
    ev_ring_t *g = st->ring;
    http_req_t *r = st->r;

    loom_timer_disarm(&st->ka);
    if (st->prev)
        st->prev->next = st->next;
    else
        g->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    g->nstreams--;
    r->hdata = NULL;
    r->on_abort = NULL;
    r->on_writable = NULL;
    free(st);
}

/* The client is gone (codec teardown). */
static void ev_on_abort(http_req_t *r)
{
    if (r->hdata)
        stream_free(r->hdata);
}

/* End ST's response cleanly (reload dropped its location, a stop). */
static void stream_end(ev_stream_t *st)
{
    http_req_t *r = st->r;

    stream_free(st);
    http_resp_end(r);
}

/* ST's client cannot keep up: drop it, never buffer without limit. */
static void stream_drop(ev_stream_t *st, size_t queued)
{
    ev_ring_t *g = st->ring;
    http_req_t *r = st->r;

    g->dropped++;
    loom_log(LOOM_LOG_WARN, loom_instance_who(g->hi->inst),
             "%s: events \"%s\": subscriber too slow (%zu bytes queued, "
             "max_buffer %zu), dropped",
             loom_conn_peer(r->conn), g->topic, queued, g->max_buffer);
    r->flags |= HTTP_RF_CLOSE;
    http_req_abort(r); /* frees ST through on_abort */
    r->proto->reset(r);
    if (r->version < 20) /* what is queued would never be read: discard */
        loom_conn_abort(r->conn);
}

/* Queue B on ST unless that passes max_buffer (then ST is dropped).
 * Returns as http_resp_write; LOOM_ERROR also when ST was dropped. */
static int stream_send(ev_stream_t *st, loom_buf_t *b)
{
    size_t queued = http_resp_pending(st->r);

    if (queued + loom_buf_len(b) > st->ring->max_buffer) {
        stream_drop(st, queued);
        return LOOM_ERROR;
    }
    return http_resp_write_buf(st->r, b);
}

/* Send ring messages after ST's cursor until the connection pushes back
 * (on_writable resumes) or ST has caught up (then it takes live ones). */
static void stream_replay(ev_stream_t *st)
{
    ev_ring_t *g = st->ring;
    http_req_t *r = st->r;
    size_t i;

    if (st->cursor < g->evicted_id || st->cursor > g->last_id) {
        st->cursor = g->evicted_id; /* the ring holds all after this */
        if (http_resp_write(r, EV_MISSED, sizeof(EV_MISSED) - 1) == LOOM_ERROR)
            return;
    }
    for (i = ring_after(g, st->cursor); i < g->count; i++) {
        ev_item_t *it = ring_at(g, i);
        int rc = http_resp_write_buf(r, it->frame);

        if (rc == LOOM_ERROR)
            return;
        st->cursor = it->id;
        g->delivered++;
        if (rc == LOOM_AGAIN)
            return;
    }
    st->replay = 0;
}

static void ev_on_writable(http_req_t *r)
{
    ev_stream_t *st = r->hdata;

    if (st && st->replay)
        stream_replay(st);
}

/* The connection is held around the call (loom_timer_cb). */
static void ev_on_keepalive(loom_timer_t *t, void *arg)
{
    ev_stream_t *st = arg;

    loom_timer_arm(t, (uint64_t)st->ring->keepalive * 1000);
    stream_send(st, st->ring->ka); /* may free ST */
}

/* A message on the ring's topic: keep it, give it to the live streams. */
static void ev_on_msg(loom_msg_t *m, void *arg)
{
    ev_ring_t *g = arg;
    loom_buf_t *frame = ev_render(m);
    uint64_t id = loom_msg_id(m);
    ev_stream_t *st, *next;

    ring_push(g, id, frame);
    for (st = g->streams; st; st = next) {
        next = st->next; /* ST may be dropped */
        if (st->replay)
            continue; /* it reaches this one through the ring */
        if (stream_send(st, frame) != LOOM_ERROR) {
            st->cursor = id;
            g->delivered++;
        }
    }
    loom_buf_unref(frame);
}

/* A decimal id of at most 19 digits (0 when P is not one). */
static int parse_id(const char *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 19)
        return 0;
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return 1;
}

/* The id to resume after: the Last-Event-ID header (what EventSource sends
 * when it reconnects), else ?last_event_id=N (a first connection that
 * wants the history).  0 when there is neither (or no valid one). */
static int resume_id(const http_req_t *r, uint64_t *id)
{
    static const char key[] = "last_event_id=";
    const http_field_t *f = http_req_field(r, "last-event-id");
    const char *p = r->query.p, *end;

    if (f)
        return parse_id(f->value.p, f->value.len, id);
    if (p == NULL)
        return 0;
    for (end = p + r->query.len; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;

        if ((size_t)(stop - p) >= sizeof(key) - 1 &&
            memcmp(p, key, sizeof(key) - 1) == 0)
            return parse_id(p + sizeof(key) - 1,
                            (size_t)(stop - p) - (sizeof(key) - 1), id);
        p = stop + 1;
    }
    return 0;
}

static void events_process(http_req_t *r)
{
    ev_ring_t *g = r->loc->events->ring;
    ev_stream_t *st;
    uint64_t from = 0;
    int resume;

    if (r->method_id != HTTP_M_GET && r->method_id != HTTP_M_HEAD) {
        http_resp_header(r, "Allow", "GET, HEAD");
        http_resp_error(r, 405);
        return;
    }
    if (g == NULL || r->hi->quiescing) {
        http_resp_error(r, 503);
        return;
    }
    if (g->nstreams >= g->max_streams) {
        g->refused++;
        http_resp_header(r, "Retry-After", "5");
        http_resp_error(r, 503);
        return;
    }
    http_resp_header(r, "Content-Type", "text/event-stream");
    http_resp_header(r, "Cache-Control", "no-store");
    http_resp_header(r, "X-Accel-Buffering", "no");
    if (r->method_id == HTTP_M_HEAD) {
        http_resp_end(r);
        return;
    }
    resume = resume_id(r, &from);
    st = loom_calloc(1, sizeof(*st));
    st->ring = g;
    st->r = r;
    st->next = g->streams;
    if (g->streams)
        g->streams->prev = st;
    g->streams = st;
    g->nstreams++;
    r->hdata = st;
    r->on_abort = ev_on_abort;
    r->on_writable = ev_on_writable;
    loom_timer_init_conn(&st->ka, r->conn, ev_on_keepalive, st);
    loom_timer_arm(&st->ka, (uint64_t)g->keepalive * 1000);
    if (http_resp_send_head(r) == LOOM_ERROR)
        return; /* the abort that follows frees ST */
    if (!resume) {
        st->cursor = g->last_id; /* live from here */
        return;
    }
    st->cursor = from;
    st->replay = 1;
    stream_replay(st);
}

const http_handler_t http_handler_events = {"events", events_process};

/* ---- rings of the instance -------------------------------------------------
 */

static void ring_free(ev_ring_t *g)
{
    while (g->count)
        ring_evict(g);
    free(g->items);
    loom_buf_unref(g->ka);
    free(g->key);
    free(g->server);
    free(g->location);
    free(g->topic);
    free(g);
}

/* The ring for location L of server VH, made (and subscribed) if new. */
static ev_ring_t *ring_get(http_instance_t *hi, const http_vhost_t *vh,
                           const http_location_t *l)
{
    struct http_events_rt_s *rt = hi->events_rt;
    const struct http_events_loc_s *el = l->events;
    size_t klen = strlen(vh->label) + l->prefix_len + strlen(el->topic) + 5;
    char *key = loom_malloc(klen);
    ev_ring_t *g;

    snprintf(key, klen, "%s\n%s%s\n%s", vh->label, l->exact ? "= " : "",
             l->prefix, el->topic);
    for (g = rt->rings; g; g = g->next) {
        if (strcmp(g->key, key) == 0) {
            free(key);
            return g;
        }
    }
    g = loom_calloc(1, sizeof(*g));
    g->hi = hi;
    g->key = key;
    g->server = loom_strdup(vh->label);
    g->location = loom_malloc(l->prefix_len + 3);
    snprintf(g->location, l->prefix_len + 3, "%s%s", l->exact ? "= " : "",
             l->prefix);
    g->topic = loom_strdup(el->topic);
    g->ka = loom_buf_new(EV_KEEPALIVE, sizeof(EV_KEEPALIVE) - 1);
    g->sub = loom_bus_subscribe(hi->inst, g->topic, ev_on_msg, g);
    if (g->sub == NULL)
        loom_log(LOOM_LOG_ERROR, loom_instance_who(hi->inst),
                 "events \"%s\": cannot subscribe to topic \"%s\"", l->prefix,
                 g->topic);
    g->next = rt->rings;
    rt->rings = g;
    return g;
}

/* Point every events location of the running config at its ring; end and
 * drop the rings whose location went away. */
static void rings_attach(http_instance_t *hi)
{
    http_conf_t *hc = http_conf(hi);
    ev_ring_t *g, **pp;
    size_t i, j;

    for (g = hi->events_rt->rings; g; g = g->next)
        g->mark = 0;
    for (i = 0; i < hc->nvhosts; i++) {
        http_vhost_t *vh = &hc->vhosts[i];

        for (j = 0; j < vh->nlocs; j++) {
            http_location_t *l = &vh->locs[j];

            if (l->events == NULL)
                continue;
            g = ring_get(hi, vh, l);
            g->mark = 1;
            g->max_buffer = l->events->max_buffer;
            g->keepalive = l->events->keepalive;
            g->max_streams = l->events->max_streams;
            ring_resize(g, l->events->history);
            l->events->ring = g;
        }
    }
    for (pp = &hi->events_rt->rings; (g = *pp) != NULL;) {
        if (g->mark) {
            pp = &g->next;
            continue;
        }
        *pp = g->next;
        if (g->sub)
            loom_bus_unsubscribe(g->sub);
        while (g->streams)
            stream_end(g->streams);
        ring_free(g);
    }
}

size_t http_events_stats(http_instance_t *hi, http_events_stat_t *out,
                         size_t max)
{
    http_conf_t *hc = http_conf(hi);
    size_t i, j, n = 0;

    for (i = 0; i < hc->nvhosts; i++) {
        const http_vhost_t *vh = &hc->vhosts[i];

        for (j = 0; j < vh->nlocs; j++) {
            const ev_ring_t *g =
                vh->locs[j].events ? vh->locs[j].events->ring : NULL;

            if (g == NULL)
                continue;
            if (n < max) {
                out[n].server = g->server;
                out[n].location = g->location;
                out[n].topic = g->topic;
                out[n].streams = g->nstreams;
                out[n].delivered = g->delivered;
                out[n].dropped = g->dropped;
                out[n].refused = g->refused;
            }
            n++;
        }
    }
    return n;
}

void http_events_start(http_instance_t *hi)
{
    hi->events_rt = loom_calloc(1, sizeof(*hi->events_rt));
    rings_attach(hi);
}

void http_events_reload(http_instance_t *hi)
{
    rings_attach(hi);
}

void http_events_quiesce(http_instance_t *hi)
{
    ev_ring_t *g;

    for (g = hi->events_rt ? hi->events_rt->rings : NULL; g; g = g->next)
        while (g->streams)
            stream_end(g->streams);
}

void http_events_stop(http_instance_t *hi)
{
    struct http_events_rt_s *rt = hi->events_rt;
    ev_ring_t *g;

    if (rt == NULL)
        return;
    while ((g = rt->rings) != NULL) {
        rt->rings = g->next;
        /* The bus ended the subscription as the instance stopped.  The
         * connections were finalized before a stop; a stream left over
         * is only let go of. */
        while (g->streams)
            stream_free(g->streams);
        ring_free(g);
    }
    free(rt);
    hi->events_rt = NULL;
}

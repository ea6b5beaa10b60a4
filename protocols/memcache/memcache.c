/*
 * memcache.c - the memcache module's session glue: command lines and data
 * blocks cut out of the input, run by mc_proto.c against the instance's
 * store, replies coalesced into one write per input chunk; UDP with
 * memcached's frame header; the clock and the store's background work on
 * one reactor timer.
 *
 * A storage command is run only once its data block has fully arrived
 * (the core keeps unconsumed input; the limit is raised to fit the largest
 * item), so a connection has no half-built item to track.  A data block
 * too large for the cache is answered at once and swallowed as it comes.
 *
 * A get key list is answered key by key as the input is consumed, pausing
 * whenever the output is full (the drain redelivers what is left): a line
 * whose end is there is checked whole first, so that a bad key makes it
 * one CLIENT_ERROR; a line longer than MC_GET_HOLD is answered before its
 * end arrives, its keys checked as they come.  `lru_crawler metadump`
 * walks the store the same way, resumed from the drain callback.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "loom_module.h"
#include "mc_service.h"
#include "memcache.h"

/* clock and background work, ten times a second */
#define MC_TICK_MS 100
#define MC_TICK_BUDGET 4096 /* buckets / items looked at per tick */
#define MC_UDP_MAX 1400     /* datagram size, header included (memcached's) */
#define MC_UDP_HDR 8

#define E_FORMAT "CLIENT_ERROR bad command line format"

/* One per instance; survives reloads. */
typedef struct {
    mc_ctx_t ctx;
    mc_counters_t ctr;
    mc_out_t out; /* shared output buffer: only used within one callback */
    loom_timer_t tick;
    loom_instance_t *inst;
} mc_server_t;

typedef struct {
    uint64_t swallow; /* data-block bytes still to discard */
    int skip_line;    /* discard the rest of the current line */
    mc_get_t get;     /* the get key list being answered, if any */
    mc_dump_t dump;   /* the metadump being sent, if any */
    size_t limit;     /* the input limit last set */
} mc_conn_t;

static const char bin_refusal[] =
    "binary protocol is not supported; use the text or meta protocol";

/* The binary protocol's reply header (status 0x0083, "not supported")
 * and a text body saying why, for the request header at REQ. */
static void binary_refusal(mc_out_t *o, const unsigned char *req)
{
    unsigned char h[24] = {0};
    uint32_t body = sizeof(bin_refusal) - 1;

    h[0] = 0x81;
    h[1] = req[1];
    h[7] = 0x83;
    h[8] = (unsigned char)(body >> 24);
    h[9] = (unsigned char)(body >> 16);
    h[10] = (unsigned char)(body >> 8);
    h[11] = (unsigned char)body;
    memcpy(h + 12, req + 12, 4); /* opaque */
    mc_out_mem(o, h, sizeof(h));
    mc_out_mem(o, bin_refusal, body);
}

enum { MC_GO_ON, MC_CLOSE_AFTER };

/* A get line longer than MC_GET_HOLD whose end has not arrived (P, N
 * bytes so far): its head (the verb, gat's exptime and the keys complete
 * within the first MC_LINE_MAX bytes) is parsed, every complete key held
 * so far checked, and the rest answered as it comes.  Returns the bytes
 * consumed. */
static size_t long_get(mc_server_t *s, mc_conn_t *mc, mc_out_t *o,
                       const char *p, size_t n, unsigned pflags)
{
    size_t cut = n < MC_LINE_MAX ? n : MC_LINE_MAX, held = n;
    mc_req_t req;

    while (cut > 0 && p[cut - 1] != ' ')
        cut--;
    while (held > 0 && p[held - 1] != ' ')
        held--;
    mc_parse_flags(p, cut, pflags, &req);
    if (req.err == NULL && req.cmd &&
        !mc_keys_ok((loom_slice_t){req.keys.p, (size_t)(p + held - req.keys.p)},
                    pflags))
        req.err = E_FORMAT;
    if (req.err || req.cmd == NULL) {
        /* a bad exptime or key; no complete key in the head at all means
         * a key of over 2 KiB, as bad */
        mc_out_str(o, req.err && req.cmd && strcmp(req.err, "ERROR") != 0
                          ? req.err
                          : E_FORMAT);
        mc_out_mem(o, "\r\n", 2);
        mc->skip_line = 1;
        return 0;
    }
    mc_get_begin(&s->ctx, &req, &mc->get);
    mc->get.check = 1;
    return (size_t)(req.keys.p - p);
}

/* The next step of a get key list at P (N bytes): one key answered, the
 * end of the list, or a bad key.  Returns the bytes consumed; *WAIT is set
 * when the rest of a key has to arrive first. */
static size_t get_step(mc_server_t *s, mc_conn_t *mc, mc_out_t *o,
                       const char *p, size_t n, unsigned pflags, int *wait)
{
    loom_slice_t key;
    size_t k;

    switch (mc_keys_next(p, n, pflags, mc->get.check, &key, &k)) {
    case MC_KEYS_KEY:
        mc_get_key(&s->ctx, &mc->get, key, o);
        break;
    case MC_KEYS_END:
        mc_out_str(o, "END\r\n");
        mc->get.cmd = NULL;
        break;
    case MC_KEYS_BAD:
        /* after the values already sent, when the line was too long to
         * be checked whole first */
        mc_out_str(o, E_FORMAT "\r\n");
        mc->get.cmd = NULL;
        mc->skip_line = 1;
        break;
    default:
        *wait = 1;
        break;
    }
    return k;
}

/* Run every complete command in BUF[0..LEN); returns the bytes consumed
 * and sets *CLOSE when the connection must close after the replies.  A
 * metadump under way goes on first (LEN may be 0 for just that). */
static size_t mc_process(mc_server_t *s, mc_conn_t *mc, mc_out_t *o,
                         const char *buf, size_t len, int *close)
{
    const mc_conf_t *conf = loom_instance_conf(s->inst);
    mc_dump_t *dump = o->conn ? &mc->dump : NULL; /* UDP cannot pace one */
    size_t used = 0;
    int wait = 0;
    mc_req_t req;

    *close = MC_GO_ON;
    while (!o->full && !wait) {
        const char *p = buf + used, *nl;
        size_t n = len - used, linelen, need;

        if (mc->dump.active) {
            if (!mc_dump_step(&s->ctx, &mc->dump, o))
                break; /* the drain callback goes on */
            continue;
        }
        if (n == 0)
            break;
        if (mc->swallow) {
            size_t k = n < mc->swallow ? n : (size_t)mc->swallow;

            mc->swallow -= k;
            used += k;
            continue;
        }
        if (mc->skip_line) {
            nl = memchr(p, '\n', n);
            mc->skip_line = nl == NULL;
            used += nl ? (size_t)(nl - p) + 1 : n;
            continue;
        }
        if (mc->get.cmd) {
            used += get_step(s, mc, o, p, n, conf->parse_flags, &wait);
            continue;
        }
        if ((unsigned char)p[0] == 0x80) {
            if (n < 24)
                break;
            binary_refusal(o, (const unsigned char *)p);
            *close = MC_CLOSE_AFTER;
            return len;
        }
        nl = memchr(p, '\n', n);
        linelen = nl ? (size_t)(nl - p) : n;
        if (linelen > MC_LINE_MAX) {
            const loom_cmd_t *cmd = mc_peek_cmd(p, linelen);

            if (cmd == NULL || !(cmd->flags & MC_CF_GET)) {
                mc_out_str(o, "CLIENT_ERROR line too long\r\n");
                *close = MC_CLOSE_AFTER;
                return len;
            }
            if (nl == NULL && linelen > MC_GET_HOLD) {
                used += long_get(s, mc, o, p, n, conf->parse_flags);
                continue;
            }
        }
        if (nl == NULL)
            break;
        mc_parse_flags(p, linelen, conf->parse_flags, &req);
        if (req.hangup) {
            *close = MC_CLOSE_AFTER; /* no reply, as memcached */
            return len;
        }
        if (req.err) {
            if (req.cmd && (req.cmd->flags & MC_CF_META))
                req.force = 1; /* meta errors ignore q */
            mc_out_line(o, &req, req.err);
            mc->swallow = req.swallow;
            used += linelen + 1;
            continue;
        }
        if (req.cmd->flags & MC_CF_GET) {
            /* answered key by key from the input, the keys checked */
            mc_get_begin(&s->ctx, &req, &mc->get);
            used += (size_t)(req.keys.p - p);
            continue;
        }
        if (req.cmd->flags & MC_CF_STORAGE) {
            if (mc_store_item_size(req.key.len, req.bytes) >
                mc_store_max_item(s->ctx.store)) {
                mc_item_t *old;

                if (req.cmd->flags & MC_CF_META)
                    req.force = 1;
                else
                    mc_detail_set(&s->ctx, req.key);
                mc_out_line(o, &req, "SERVER_ERROR object too large for cache");
                /* as memcached: a failed set leaves no stale value behind */
                if (MC_CF_MODE_OF(req.cmd->flags) == MC_MODE_SET &&
                    !(req.cmd->flags & MC_CF_CAS)) {
                    old = mc_store_find(s->ctx.store, req.key.p, req.key.len);
                    if (old)
                        mc_store_unlink(s->ctx.store, old);
                }
                mc->swallow = req.bytes + 2;
                used += linelen + 1;
                continue;
            }
            need = linelen + 1 + req.bytes + 2;
            if (n < need)
                break; /* wait for the whole data block */
            mc_exec(&s->ctx, &req, nl + 1, o, dump);
            used += need;
            continue;
        }
        used += linelen + 1;
        if (mc_exec(&s->ctx, &req, NULL, o, dump) == MC_EXEC_CLOSE) {
            *close = MC_CLOSE_AFTER;
            return len;
        }
    }
    return used;
}

/* ---- stream side ----------------------------------------------------------
 */

/* The input a connection may keep unconsumed: a storage line and the
 * largest data block, or a get line up to MC_GET_HOLD; more while the
 * unanswered keys of a get line wait for the output to drain (nothing more
 * is read meanwhile). */
static void mc_input_limit(loom_conn_t *c, mc_server_t *s, mc_conn_t *mc,
                           size_t left)
{
    size_t want = mc_store_max_item(s->ctx.store) + MC_GET_HOLD + 64;

    if (mc->get.cmd && left > want)
        want = left;
    if (want != mc->limit) {
        loom_conn_set_max_input(c, want);
        mc->limit = want;
    }
}

static int mc_open(loom_conn_t *c)
{
    mc_server_t *s = loom_instance_data(loom_conn_instance(c));

    s->ctr.curr_conns++;
    s->ctr.total_conns++;
    mc_input_limit(c, s, loom_conn_data(c), 0);
    return LOOM_OK;
}

static void mc_close(loom_conn_t *c)
{
    mc_server_t *s = loom_instance_data(loom_conn_instance(c));

    s->ctr.curr_conns--;
}

static size_t mc_data(loom_conn_t *c, const char *buf, size_t len)
{
    mc_server_t *s = loom_instance_data(loom_conn_instance(c));
    mc_conn_t *mc = loom_conn_data(c);
    mc_out_t *o = &s->out;
    int close;
    size_t used;

    o->conn = c;
    o->full = 0;
    o->written = 0;
    used = mc_process(s, mc, o, buf, len, &close);
    mc_out_flush(o);
    s->ctr.bytes_read += used;
    s->ctr.bytes_written += o->written;
    o->conn = NULL;
    if (close == MC_CLOSE_AFTER)
        loom_conn_close(c);
    else
        mc_input_limit(c, s, mc, len - used);
    return used;
}

/* The output drained: a metadump goes on (input that waits is handed over
 * again by the core). */
static void mc_drain(loom_conn_t *c)
{
    mc_conn_t *mc = loom_conn_data(c);

    if (mc->dump.active)
        mc_data(c, "", 0);
}

/* ---- datagram side --------------------------------------------------------
 */

static void mc_datagram(loom_instance_t *inst, const loom_dgram_t *from,
                        const char *buf, size_t len)
{
    mc_server_t *s = loom_instance_data(inst);
    mc_out_t *o = &s->out; /* no connection: the whole reply stays in it */
    mc_conn_t mc;
    char pkt[MC_UDP_MAX];
    size_t off, total, i;
    int close;

    /* no frame header, or a request in several datagrams (which memcached
     * does not take either): dropped */
    if (len < MC_UDP_HDR || buf[4] != 0 || buf[5] != 1)
        return;
    memset(&mc, 0, sizeof(mc));
    o->len = 0;
    o->full = 0;
    mc_process(s, &mc, o, buf + MC_UDP_HDR, len - MC_UDP_HDR, &close);
    s->ctr.bytes_read += len;
    total =
        (o->len + (MC_UDP_MAX - MC_UDP_HDR) - 1) / (MC_UDP_MAX - MC_UDP_HDR);
    if (total > 65535)
        total = 0; /* too large for the frame header: drop */
    for (i = 0, off = 0; i < total; i++) {
        size_t n = o->len - off;

        if (n > MC_UDP_MAX - MC_UDP_HDR)
            n = MC_UDP_MAX - MC_UDP_HDR;
        pkt[0] = buf[0];
        pkt[1] = buf[1];
        pkt[2] = (char)(i >> 8);
        pkt[3] = (char)(i & 0xff);
        pkt[4] = (char)(total >> 8);
        pkt[5] = (char)(total & 0xff);
        pkt[6] = pkt[7] = 0;
        memcpy(pkt + MC_UDP_HDR, o->buf + off, n);
        loom_dgram_reply(from, pkt, n + MC_UDP_HDR);
        s->ctr.bytes_written += n + MC_UDP_HDR;
        off += n;
    }
    o->len = 0;
}

/* ---- life cycle -----------------------------------------------------------
 */

static void mc_on_tick(loom_timer_t *t, void *arg)
{
    mc_server_t *s = arg;

    loom_timer_arm(t, MC_TICK_MS);
    mc_store_set_time(s->ctx.store, (uint32_t)time(NULL));
    mc_store_tick(s->ctx.store, MC_TICK_BUDGET);
}

/* The store's watch (publish_prefixes): a store or delete of a watched
 * key becomes a bus message "set" or "delete" with fields key, flags and
 * (when the value has no NUL byte and is at most MC_PUBLISH_TEXT bytes)
 * value; the value's bytes are the body. */
#define MC_PUBLISH_TEXT 65536
static void mc_on_watch(void *arg, mc_watch_op_t op, const mc_item_t *it)
{
    mc_server_t *s = arg;
    loom_msg_t *m;
    size_t len = it->nbytes;
    const char *v = mc_item_value(it);

    if (!loom_bus_wanted(s->inst, op == MC_WATCH_STORE ? "set" : "delete"))
        return;
    m = loom_msg_new(op == MC_WATCH_STORE ? "set" : "delete");
    loom_msg_add(m, "key", 3, it->data, it->nkey);
    if (op == MC_WATCH_STORE) {
        loom_msg_addf(m, "flags", "%u", (unsigned)it->flags);
        if (len <= MC_PUBLISH_TEXT && memchr(v, '\0', len) == NULL)
            loom_msg_add(m, "value", 5, v, len);
        loom_msg_set_body(m, v, len);
    }
    loom_bus_publish(s->inst, m, NULL);
}

static void mc_watch_setup(mc_server_t *s, const mc_conf_t *conf)
{
    mc_store_set_watch(s->ctx.store, conf->prefixes, conf->n_prefixes,
                       conf->n_prefixes ? mc_on_watch : NULL, s);
}

static void mc_start(loom_instance_t *inst)
{
    mc_conf_t *conf = loom_instance_conf(inst);
    mc_server_t *s = loom_calloc(1, sizeof(*s));
    uint64_t seed = 0;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
        seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
    s->inst = inst;
    s->ctx.store = mc_store_new(conf->memory, conf->max_item, seed);
    s->ctx.ctr = &s->ctr;
    s->ctx.started = time(NULL);
    mc_store_set_time(s->ctx.store, (uint32_t)time(NULL));
    loom_timer_init(&s->tick, inst, mc_on_tick, s);
    loom_timer_arm(&s->tick, MC_TICK_MS);
    loom_instance_set_data(inst, s);
    mc_watch_setup(s, conf);
    /* one store, reached from other protocols too (mc_service.h) */
    loom_service_export(inst, MC_STORE_SERVICE, &mc_store_service,
                        s->ctx.store);
}

static void mc_reload(loom_instance_t *inst)
{
    mc_server_t *s = loom_instance_data(inst);
    mc_conf_t *conf = loom_instance_conf(inst);

    mc_store_set_limits(s->ctx.store, conf->memory, conf->max_item);
    mc_watch_setup(s, conf); /* the old conf's prefixes go after this */
}

static void mc_stop(loom_instance_t *inst)
{
    mc_server_t *s = loom_instance_data(inst);

    if (s == NULL)
        return;
    loom_timer_disarm(&s->tick);
    mc_detail_free(&s->ctx);
    mc_store_free(s->ctx.store);
    free(s->out.buf);
    free(s);
    loom_instance_set_data(inst, NULL);
}

/* ---- bus actions (loom_bus.h) ---------------------------------------------
 */

/* Parse an optional unsigned decimal parameter; DEF when absent or empty,
 * -1 when it is not a number. */
static int64_t mc_act_num(loom_action_call_t *call, const char *name,
                          int64_t def)
{
    const char *v = loom_action_param(call, name, NULL);
    char *end;
    unsigned long long n;

    if (v == NULL || *v == '\0')
        return def;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end || *v == '-' || n > INT64_MAX)
        return -1;
    return (int64_t)n;
}

/* set: store VALUE under KEY (FLAGS, TTL seconds as exptime). */
static void mc_act_set(loom_instance_t *inst, loom_action_call_t *call)
{
    mc_server_t *s = loom_instance_data(inst);
    size_t nkey, len;
    const char *key = loom_action_param(call, "key", &nkey);
    const char *value = loom_action_param(call, "value", &len);
    int64_t flags = mc_act_num(call, "flags", 0);
    int64_t ttl = mc_act_num(call, "ttl", 0);
    const char *err = NULL;

    if (value == NULL) { /* no value parameter: the message's body */
        loom_slice_t b = loom_msg_body(loom_action_msg(call));

        value = b.p;
        len = b.len;
    }
    if (flags < 0 || flags > UINT32_MAX || ttl < 0) {
        loom_action_done(call, LOOM_ACT_FAILED,
                         "flags or ttl is not a number in range");
        return;
    }
    if (mc_store_service.set(s->ctx.store, key, nkey, value, len,
                             (uint32_t)flags, ttl, &err) != LOOM_OK) {
        loom_action_done(call, LOOM_ACT_FAILED, err);
        return;
    }
    loom_action_done(call, LOOM_ACT_DONE, NULL);
}

/* delete: remove KEY (absent is done too: the key is not there). */
static void mc_act_delete(loom_instance_t *inst, loom_action_call_t *call)
{
    mc_server_t *s = loom_instance_data(inst);
    size_t nkey;
    const char *key = loom_action_param(call, "key", &nkey);

    if (mc_store_service.del(s->ctx.store, key, nkey) == LOOM_ERROR) {
        loom_action_done(call, LOOM_ACT_FAILED, "invalid key");
        return;
    }
    loom_action_done(call, LOOM_ACT_DONE, NULL);
}

static const loom_action_param_t mc_set_params[] = {
    {"key", 1}, {"value", 0}, {"flags", 0}, {"ttl", 0}, {NULL, 0}};
static const loom_action_param_t mc_delete_params[] = {{"key", 1}, {NULL, 0}};
static const loom_action_t mc_actions[] = {
    {"set", mc_set_params, mc_act_set},
    {"delete", mc_delete_params, mc_act_delete},
    {NULL, NULL, NULL}};

/* ---- metrics and loomctl commands -----------------------------------------
 * Names follow memcached_exporter's, under loom_memcache_. */

/* A store counter by its offset in mc_store_stats_t. */
#define SS(f) offsetof(mc_store_stats_t, f)

/* memcached_exporter's commands_total: command and outcome, each
 * command counted once (the store's cmd_set counts cas too; "set" here
 * does not). */
static const struct {
    const char *command, *status;
    size_t off;
} mc_cmd_counts[] = {
    {"get", "hit", SS(get_hits)},          {"get", "miss", SS(get_misses)},
    {"set", "hit", SS(cmd_set)},           {"delete", "hit", SS(delete_hits)},
    {"delete", "miss", SS(delete_misses)}, {"incr", "hit", SS(incr_hits)},
    {"incr", "miss", SS(incr_misses)},     {"decr", "hit", SS(decr_hits)},
    {"decr", "miss", SS(decr_misses)},     {"cas", "hit", SS(cas_hits)},
    {"cas", "miss", SS(cas_misses)},       {"cas", "badval", SS(cas_badval)},
    {"touch", "hit", SS(touch_hits)},      {"touch", "miss", SS(touch_misses)},
    {"flush", "hit", SS(cmd_flush)},
};

/* Counters without labels, from the store. */
static const struct {
    const char *name, *help;
    size_t off;
} mc_store_counts[] = {
    {"loom_memcache_items_total", "Items stored since start.", SS(total_items)},
    {"loom_memcache_get_expired_total",
     "Get misses because the item had expired.", SS(get_expired)},
    {"loom_memcache_get_flushed_total",
     "Get misses because the item had been flushed.", SS(get_flushed)},
    {"loom_memcache_evictions_total",
     "Items evicted to make room before they expired.", SS(evictions)},
    {"loom_memcache_evicted_unfetched_total",
     "Items evicted without ever being read.", SS(evicted_unfetched)},
    {"loom_memcache_expired_unfetched_total",
     "Items that expired without ever being read.", SS(expired_unfetched)},
    {"loom_memcache_reclaimed_total",
     "Expired or flushed items whose memory was reused for a new item.",
     SS(reclaimed)},
    {"loom_memcache_crawler_reclaimed_total",
     "Expired or flushed items freed by the background sweep.",
     SS(crawler_reclaimed)},
    {"loom_memcache_out_of_memory_total",
     "Items refused because they did not fit in memory.", SS(outofmemory)},
};

static uint64_t mc_stat_at(const mc_store_stats_t *st, size_t off)
{
    return *(const uint64_t *)(const void *)((const char *)st + off);
}

static void mc_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    mc_server_t *s = loom_instance_data(inst);
    const mc_store_stats_t *st;
    size_t i;

    if (s == NULL)
        return;
    st = mc_store_stats(s->ctx.store);
    for (i = 0; i < sizeof(mc_cmd_counts) / sizeof(mc_cmd_counts[0]); i++) {
        uint64_t v = mc_stat_at(st, mc_cmd_counts[i].off);

        if (mc_cmd_counts[i].off == SS(cmd_set))
            v -= st->cas_hits + st->cas_misses + st->cas_badval;
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_memcache_commands_total",
                    "Commands by command and outcome.", (double)v, "command",
                    mc_cmd_counts[i].command, "status", mc_cmd_counts[i].status,
                    NULL);
    }
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_memcache_meta_commands_total",
                "Meta protocol commands (mg, ms, md, ma, mn, me).",
                (double)s->ctr.cmd_meta, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_memcache_items",
                "Items currently stored.", (double)st->curr_items, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_memcache_bytes",
                "Bytes accounted to the items stored.", (double)st->bytes,
                NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_memcache_limit_bytes",
                "The memory limit for items (memory).",
                (double)mc_store_memory(s->ctx.store), NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_memcache_item_max_bytes",
                "The largest item accepted (max_item_size).",
                (double)mc_store_max_item(s->ctx.store), NULL);
    for (i = 0; i < sizeof(mc_store_counts) / sizeof(mc_store_counts[0]); i++)
        loom_metric(m, LOOM_METRIC_COUNTER, mc_store_counts[i].name,
                    mc_store_counts[i].help,
                    (double)mc_stat_at(st, mc_store_counts[i].off), NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_memcache_connections",
                "Open TCP connections.", (double)s->ctr.curr_conns, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_memcache_connections_total",
                "TCP connections accepted.", (double)s->ctr.total_conns, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_memcache_read_bytes_total",
                "Bytes read from clients (TCP and UDP).",
                (double)s->ctr.bytes_read, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_memcache_written_bytes_total",
                "Bytes written to clients (TCP and UDP).",
                (double)s->ctr.bytes_written, NULL);
}

/* flush: invalidate every item now, as flush_all does. */
static int mc_cmd_flush(loom_instance_t *inst, int argc, char **argv,
                        loom_ctl_t *out)
{
    mc_server_t *s = loom_instance_data(inst);
    uint64_t items;

    (void)argc;
    (void)argv;
    if (s == NULL)
        return loom_ctl_error(out, "%s is not running",
                              loom_instance_who(inst));
    items = mc_store_stats(s->ctx.store)->curr_items;
    mc_store_flush(s->ctx.store, 0);
    loom_ctl_message(out, "flushed %llu item%s", (unsigned long long)items,
                     items == 1 ? "" : "s");
    return LOOM_OK;
}

/* stats: memcached's general `stats` as a name/value table. */
static int mc_cmd_stats(loom_instance_t *inst, int argc, char **argv,
                        loom_ctl_t *out)
{
    mc_server_t *s = loom_instance_data(inst);
    mc_out_t o = {0};
    char *line, *save = NULL;

    (void)argc;
    (void)argv;
    if (s == NULL)
        return loom_ctl_error(out, "%s is not running",
                              loom_instance_who(inst));
    mc_stats_general(&s->ctx, &o);
    mc_out_mem(&o, "", 1); /* NUL-terminate */
    loom_ctl_columns(out, "name", "value", NULL);
    for (line = strtok_r(o.buf, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        char *name = line + 5, *sp; /* after "STAT " */

        if (strncmp(line, "STAT ", 5) != 0 || (sp = strchr(name, ' ')) == NULL)
            continue;
        *sp = '\0';
        loom_ctl_row(out, name, sp + 1, NULL);
    }
    free(o.buf);
    return LOOM_OK;
}

static const loom_ctl_cmd_t mc_ctl_commands[] = {
    {"flush", "", "invalidate every item now (flush_all)", 0, 0, mc_cmd_flush},
    {"stats", "", "memcached's general statistics", 0, 0, mc_cmd_stats},
    {NULL, NULL, NULL, 0, 0, NULL},
};

const loom_module_t loom_memcache_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "memcache",
    .options = mc_conf_opts,
    .conn_size = sizeof(mc_conn_t),
    .idle_timeout = LOOM_TIMEOUT_NONE,
    .configure = mc_configure,
    .conf_free = mc_conf_free,
    .start = mc_start,
    .reload = mc_reload,
    .stop = mc_stop,
    .stream = {.open = mc_open,
               .data = mc_data,
               .drain = mc_drain,
               .close = mc_close},
    .datagram = mc_datagram,
    .actions = mc_actions,
    .metrics = mc_metrics,
    .commands = mc_ctl_commands,
};

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
 */
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
    uint32_t resume;  /* keys of the current get line already answered */
} mc_conn_t;

static const char bin_refusal[] =
    "binary protocol is not supported; use the text or meta protocol";

static int is_storage(mc_cmd_t cmd)
{
    return (cmd >= MC_CMD_SET && cmd <= MC_CMD_CAS) || cmd == MC_CMD_MS;
}

/* A line that may be longer than MC_LINE_MAX: a get-like key list. */
static int is_get_line(const char *p, size_t n)
{
    while (n && *p == ' ') {
        p++;
        n--;
    }
    return (n >= 4 &&
            (memcmp(p, "get ", 4) == 0 || memcmp(p, "gat ", 4) == 0)) ||
           (n >= 5 &&
            (memcmp(p, "gets ", 5) == 0 || memcmp(p, "gats ", 5) == 0));
}

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

/* Run every complete command in BUF[0..LEN); returns the bytes consumed
 * and sets *CLOSE when the connection must close after the replies. */
static size_t mc_process(mc_server_t *s, mc_conn_t *mc, mc_out_t *o,
                         const char *buf, size_t len, int *close)
{
    const mc_conf_t *conf = loom_instance_conf(s->inst);
    size_t used = 0;
    mc_req_t req;

    *close = MC_GO_ON;
    while (used < len && !o->full) {
        const char *p = buf + used, *nl;
        size_t n = len - used, linelen, need;
        int r;

        if (mc->swallow) {
            size_t k = n < mc->swallow ? n : (size_t)mc->swallow;

            mc->swallow -= k;
            used += k;
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
        if (linelen > MC_LINE_MAX &&
            (linelen > MC_GET_LINE_MAX || !is_get_line(p, linelen))) {
            mc_out_str(o, "CLIENT_ERROR line too long\r\n");
            *close = MC_CLOSE_AFTER;
            return len;
        }
        if (nl == NULL)
            break;
        mc_parse_flags(p, linelen, conf->parse_flags, &req);
        if (req.err) {
            if (req.cmd >= MC_CMD_MG)
                req.force = 1; /* meta errors ignore q */
            mc_out_line(o, &req, req.err);
            mc->swallow = req.swallow;
            used += linelen + 1;
            continue;
        }
        if (is_storage(req.cmd)) {
            if (mc_store_item_size(req.key.len, req.bytes) >
                mc_store_max_item(s->ctx.store)) {
                mc_item_t *old;

                if (req.cmd == MC_CMD_MS)
                    req.force = 1;
                mc_out_line(o, &req, "SERVER_ERROR object too large for cache");
                /* as memcached: a failed set leaves no stale value behind */
                if (req.cmd == MC_CMD_SET || req.cmd == MC_CMD_MS) {
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
            r = mc_exec(&s->ctx, &req, nl + 1, o, &mc->resume);
            used += need;
            continue;
        }
        r = mc_exec(&s->ctx, &req, NULL, o, &mc->resume);
        if (r == MC_EXEC_SUSPEND)
            break; /* the line runs again, from mc->resume, after a drain */
        used += linelen + 1;
        if (r == MC_EXEC_CLOSE) {
            *close = MC_CLOSE_AFTER;
            return len;
        }
    }
    return used;
}

/* ---- stream side ----------------------------------------------------------
 */

static int mc_open(loom_conn_t *c)
{
    mc_server_t *s = loom_instance_data(loom_conn_instance(c));

    s->ctr.curr_conns++;
    s->ctr.total_conns++;
    loom_conn_set_max_input(c, mc_store_max_item(s->ctx.store) +
                                   MC_GET_LINE_MAX + 64);
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
    mc_out_t *o = &s->out;
    int close;
    size_t used;

    o->conn = c;
    o->full = 0;
    o->written = 0;
    used = mc_process(s, loom_conn_data(c), o, buf, len, &close);
    mc_out_flush(o);
    s->ctr.bytes_read += used;
    s->ctr.bytes_written += o->written;
    o->conn = NULL;
    if (close == MC_CLOSE_AFTER)
        loom_conn_close(c);
    return used;
}

/* ---- datagram side --------------------------------------------------------
 */

static void mc_datagram(loom_instance_t *inst, const loom_dgram_t *from,
                        const char *buf, size_t len)
{
    mc_server_t *s = loom_instance_data(inst);
    mc_out_t *o = &s->out; /* no connection: the whole reply stays in it */
    mc_conn_t mc = {0, 0};
    char pkt[MC_UDP_MAX];
    size_t off, total, i;
    int close;

    /* no frame header, or a request in several datagrams (which memcached
     * does not take either): dropped */
    if (len < MC_UDP_HDR || buf[4] != 0 || buf[5] != 1)
        return;
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
    /* one store, reached from other protocols too (mc_service.h) */
    loom_service_export(inst, MC_STORE_SERVICE, &mc_store_service,
                        s->ctx.store);
}

static void mc_reload(loom_instance_t *inst)
{
    mc_server_t *s = loom_instance_data(inst);
    mc_conf_t *conf = loom_instance_conf(inst);

    mc_store_set_limits(s->ctx.store, conf->memory, conf->max_item);
}

static void mc_stop(loom_instance_t *inst)
{
    mc_server_t *s = loom_instance_data(inst);

    if (s == NULL)
        return;
    loom_timer_disarm(&s->tick);
    mc_store_free(s->ctx.store);
    free(s->out.buf);
    free(s);
    loom_instance_set_data(inst, NULL);
}

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
    .stream = {.open = mc_open, .data = mc_data, .close = mc_close},
    .datagram = mc_datagram,
};

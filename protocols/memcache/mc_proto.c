/*
 * mc_proto.c - memcache command execution: a parsed request (mc_parse.c)
 * run against the store (mc_store.c), replies appended to an mc_out_t.
 * Reply texts, flag order and quiet-mode rules follow memcached 1.6.18.
 */
#include "memcache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#define MC_OUT_DIRECT 4096 /* writes this large skip the buffer */
#define MC_OUT_FLUSH 16384 /* buffer size that triggers a flush */

/* ---- output ------------------------------------------------------------- */

void mc_out_flush(mc_out_t *o)
{
    if (o->conn == NULL || o->len == 0)
        return;
    if (loom_conn_write(o->conn, o->buf, o->len) != LOOM_OK)
        o->full = 1;
    o->written += o->len;
    o->len = 0;
}

static void out_reserve(mc_out_t *o, size_t len)
{
    if (o->len + len <= o->cap)
        return;
    while (o->cap < o->len + len)
        o->cap = o->cap ? o->cap * 2 : MC_OUT_FLUSH * 2;
    o->buf = realloc(o->buf, o->cap);
    if (o->buf == NULL)
        abort();
}

void mc_out_mem(mc_out_t *o, const void *p, size_t len)
{
    if (o->conn && len >= MC_OUT_DIRECT) {
        mc_out_flush(o);
        if (loom_conn_write(o->conn, p, len) != LOOM_OK)
            o->full = 1;
        o->written += len;
        return;
    }
    out_reserve(o, len);
    memcpy(o->buf + o->len, p, len);
    o->len += len;
    if (o->conn && o->len >= MC_OUT_FLUSH)
        mc_out_flush(o);
}

void mc_out_str(mc_out_t *o, const char *s)
{
    mc_out_mem(o, s, strlen(s));
}

static void out_u64(mc_out_t *o, uint64_t v)
{
    char buf[24];

    mc_out_mem(o, buf, mc_u64toa(buf, v));
}

static void out_i64(mc_out_t *o, int64_t v)
{
    if (v < 0) {
        mc_out_mem(o, "-", 1);
        out_u64(o, (uint64_t)(-(v + 1)) + 1);
    } else {
        out_u64(o, (uint64_t)v);
    }
}

void mc_out_line(mc_out_t *o, const mc_req_t *req, const char *line)
{
    if (req && req->noreply && !req->force)
        return;
    mc_out_str(o, line);
    mc_out_mem(o, "\r\n", 2);
}

/* ---- text protocol ------------------------------------------------------ */

static void out_value(mc_out_t *o, const mc_item_t *it, int with_cas)
{
    char head[24 + MC_KEY_MAX + 3 * 24], *p = head;

    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, mc_item_key(it), it->nkey);
    p += it->nkey;
    *p++ = ' ';
    p += mc_u64toa(p, it->flags);
    *p++ = ' ';
    p += mc_u64toa(p, it->nbytes);
    if (with_cas) {
        *p++ = ' ';
        p += mc_u64toa(p, it->cas);
    }
    *p++ = '\r';
    *p++ = '\n';
    mc_out_mem(o, head, (size_t)(p - head));
    mc_out_mem(o, mc_item_value(it), (size_t)it->nbytes + 2);
}

static int exec_get(mc_ctx_t *x, mc_req_t *r, mc_out_t *o, uint32_t *resume)
{
    int cas = r->cmd == MC_CMD_GETS || r->cmd == MC_CMD_GATS;
    int touch = r->cmd == MC_CMD_GAT || r->cmd == MC_CMD_GATS;
    uint32_t exptime = touch ? mc_store_exptime(x->store, r->exptime) : 0;
    loom_slice_t cur = r->keys, key;
    uint32_t i = 0;

    while (mc_next_key(&cur, &key)) {
        mc_item_t *it;

        if (i++ < *resume)
            continue;
        if (!mc_key_ok(key.p, key.len, r->pflags)) {
            mc_out_str(o, "CLIENT_ERROR bad command line format\r\n");
            *resume = 0;
            return MC_EXEC_DONE;
        }
        if (touch) {
            if (mc_store_touch(x->store, key.p, key.len, exptime, &it) !=
                MC_TOUCHED)
                it = NULL;
        } else {
            it = mc_store_find(x->store, key.p, key.len);
        }
        mc_store_count_get(x->store, it != NULL);
        if (it) {
            mc_store_hit(x->store, it, 0);
            out_value(o, it, cas);
        }
        if (o->full && cur.len) {
            *resume = i;
            return MC_EXEC_SUSPEND;
        }
    }
    *resume = 0;
    mc_out_str(o, "END\r\n");
    return MC_EXEC_DONE;
}

static void exec_store(mc_ctx_t *x, mc_req_t *r, const char *data, mc_out_t *o)
{
    static const char *const replies[] = {
        [MC_STORED] = "STORED",
        [MC_NOT_STORED] = "NOT_STORED",
        [MC_EXISTS] = "EXISTS",
        [MC_NOT_FOUND] = "NOT_FOUND",
        [MC_NO_MEMORY] = "SERVER_ERROR out of memory storing object",
    };
    mc_mode_t mode = MC_MODE_SET;
    mc_opts_t opts = {0};
    mc_item_t *it;
    mc_result_t res;

    if (memcmp(data + r->bytes, "\r\n", 2) != 0) {
        mc_out_line(o, r, "CLIENT_ERROR bad data chunk");
        return;
    }
    switch (r->cmd) {
    case MC_CMD_ADD:
        mode = MC_MODE_ADD;
        break;
    case MC_CMD_REPLACE:
        mode = MC_MODE_REPLACE;
        break;
    case MC_CMD_APPEND:
        mode = MC_MODE_APPEND;
        break;
    case MC_CMD_PREPEND:
        mode = MC_MODE_PREPEND;
        break;
    case MC_CMD_CAS:
        opts.has_cas = 1;
        opts.cas = r->cas;
        break;
    default:
        break;
    }
    it = mc_store_alloc(x->store, r->key.p, r->key.len, r->flags,
                        mc_store_exptime(x->store, r->exptime), r->bytes);
    if (it == NULL) {
        mc_out_line(o, r, "SERVER_ERROR out of memory storing object");
        return;
    }
    memcpy(mc_item_value(it), data, r->bytes + 2);
    res = mc_store_store(x->store, it, mode, &opts, NULL);
    mc_out_line(o, r, replies[res]);
}

static void exec_arith(mc_ctx_t *x, mc_req_t *r, mc_out_t *o)
{
    uint64_t v;
    char buf[24];

    switch (mc_store_arith(x->store, r->key.p, r->key.len,
                           r->cmd == MC_CMD_INCR, r->delta, NULL, &v, NULL)) {
    case MC_STORED:
        buf[mc_u64toa(buf, v)] = '\0';
        mc_out_line(o, r, buf);
        break;
    case MC_NOT_FOUND:
        mc_out_line(o, r, "NOT_FOUND");
        break;
    case MC_NON_NUMERIC:
        mc_out_line(
            o, r,
            "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    default:
        mc_out_line(o, r, "SERVER_ERROR out of memory");
        break;
    }
}

/* ---- stats -------------------------------------------------------------- */

static void stat_u64(mc_out_t *o, const char *name, uint64_t v)
{
    mc_out_str(o, "STAT ");
    mc_out_str(o, name);
    mc_out_mem(o, " ", 1);
    out_u64(o, v);
    mc_out_mem(o, "\r\n", 2);
}

static void stat_str(mc_out_t *o, const char *name, const char *v)
{
    mc_out_str(o, "STAT ");
    mc_out_str(o, name);
    mc_out_mem(o, " ", 1);
    mc_out_str(o, v);
    mc_out_mem(o, "\r\n", 2);
}

static void stat_tv(mc_out_t *o, const char *name, const struct timeval *tv)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%ld.%06ld", (long)tv->tv_sec,
             (long)tv->tv_usec);
    stat_str(o, name, buf);
}

static unsigned hash_power(uint64_t buckets)
{
    unsigned p = 0;

    while (((uint64_t)1 << p) < buckets)
        p++;
    return p;
}

static void stats_general(mc_ctx_t *x, mc_out_t *o)
{
    const mc_store_stats_t *s = mc_store_stats(x->store);
    mc_counters_t *c = x->ctr;
    uint32_t now = mc_store_now(x->store);
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    stat_u64(o, "pid", (uint64_t)getpid());
    stat_u64(o, "uptime", now - (uint32_t)x->started);
    stat_u64(o, "time", now);
    stat_str(o, "version", MC_VERSION);
    stat_str(o, "libevent", event_get_version());
    stat_u64(o, "pointer_size", 8 * sizeof(void *));
    stat_tv(o, "rusage_user", &ru.ru_utime);
    stat_tv(o, "rusage_system", &ru.ru_stime);
    stat_u64(o, "curr_connections", c->curr_conns);
    stat_u64(o, "total_connections", c->total_conns);
    stat_u64(o, "rejected_connections", 0);
    stat_u64(o, "connection_structures", c->curr_conns);
    stat_u64(o, "cmd_get", s->get_hits + s->get_misses);
    stat_u64(o, "cmd_set", s->cmd_set);
    stat_u64(o, "cmd_flush", s->cmd_flush);
    stat_u64(o, "cmd_touch", s->cmd_touch);
    stat_u64(o, "cmd_meta", c->cmd_meta);
    stat_u64(o, "get_hits", s->get_hits);
    stat_u64(o, "get_misses", s->get_misses);
    stat_u64(o, "get_expired", s->get_expired);
    stat_u64(o, "get_flushed", s->get_flushed);
    stat_u64(o, "delete_misses", s->delete_misses);
    stat_u64(o, "delete_hits", s->delete_hits);
    stat_u64(o, "incr_misses", s->incr_misses);
    stat_u64(o, "incr_hits", s->incr_hits);
    stat_u64(o, "decr_misses", s->decr_misses);
    stat_u64(o, "decr_hits", s->decr_hits);
    stat_u64(o, "cas_misses", s->cas_misses);
    stat_u64(o, "cas_hits", s->cas_hits);
    stat_u64(o, "cas_badval", s->cas_badval);
    stat_u64(o, "touch_hits", s->touch_hits);
    stat_u64(o, "touch_misses", s->touch_misses);
    stat_u64(o, "auth_cmds", 0);
    stat_u64(o, "auth_errors", 0);
    stat_u64(o, "bytes_read", c->bytes_read);
    stat_u64(o, "bytes_written", c->bytes_written);
    stat_u64(o, "limit_maxbytes", mc_store_memory(x->store));
    stat_u64(o, "accepting_conns", 1);
    stat_u64(o, "threads", 1);
    stat_u64(o, "conn_yields", 0);
    stat_u64(o, "hash_power_level", hash_power(s->hash_buckets));
    stat_u64(o, "hash_bytes", s->hash_buckets * sizeof(void *));
    stat_u64(o, "hash_is_expanding", (uint64_t)s->hash_expanding);
    stat_u64(o, "expired_unfetched", s->expired_unfetched);
    stat_u64(o, "evicted_unfetched", s->evicted_unfetched);
    stat_u64(o, "evictions", s->evictions);
    stat_u64(o, "reclaimed", s->reclaimed);
    stat_u64(o, "curr_items", s->curr_items);
    stat_u64(o, "total_items", s->total_items);
    stat_u64(o, "bytes", s->bytes);
}

static void stats_settings(mc_ctx_t *x, mc_out_t *o)
{
    stat_u64(o, "maxbytes", mc_store_memory(x->store));
    stat_u64(o, "verbosity", x->verbosity);
    stat_str(o, "evictions", "on");
    stat_u64(o, "num_threads", 1);
    stat_str(o, "cas_enabled", "yes");
    stat_str(o, "binding_protocol", "ascii");
    stat_u64(o, "item_size_max", mc_store_max_item(x->store));
    stat_str(o, "flush_enabled", "yes");
    stat_u64(o, "hashpower_init", 16);
    stat_str(o, "slab_allocator", "malloc");
}

struct item_agg {
    uint64_t n;
    uint32_t oldest;
};

static int agg_item(mc_item_t *it, void *arg)
{
    struct item_agg *a = arg;

    a->n++;
    if (a->oldest == 0 || it->atime < a->oldest)
        a->oldest = it->atime;
    return 0;
}

/* loom has no slab classes: every item is one allocation, so `stats items`
 * and `stats slabs` describe a single class 1 holding everything. */
static void stats_items(mc_ctx_t *x, mc_out_t *o, int slabs)
{
    const mc_store_stats_t *s = mc_store_stats(x->store);
    struct item_agg a = {0, 0};

    if (s->curr_items == 0) {
        if (slabs) {
            stat_u64(o, "active_slabs", 0);
            stat_u64(o, "total_malloced", 0);
        }
        return;
    }
    if (slabs) {
        stat_u64(o, "1:chunk_size", s->bytes / s->curr_items);
        stat_u64(o, "1:used_chunks", s->curr_items);
        stat_u64(o, "1:get_hits", s->get_hits);
        stat_u64(o, "1:cmd_set", s->cmd_set);
        stat_u64(o, "1:delete_hits", s->delete_hits);
        stat_u64(o, "active_slabs", 1);
        stat_u64(o, "total_malloced", s->bytes);
        return;
    }
    mc_store_foreach(x->store, agg_item, &a);
    stat_u64(o, "items:1:number", s->curr_items);
    stat_u64(o, "items:1:age",
             a.oldest ? mc_store_now(x->store) - a.oldest : 0);
    stat_u64(o, "items:1:evicted", s->evictions);
    stat_u64(o, "items:1:evicted_unfetched", s->evicted_unfetched);
    stat_u64(o, "items:1:expired_unfetched", s->expired_unfetched);
    stat_u64(o, "items:1:reclaimed", s->reclaimed);
}

static void exec_stats(mc_ctx_t *x, mc_req_t *r, mc_out_t *o)
{
    if (r->nargs == 0) {
        stats_general(x, o);
    } else if (r->nargs == 1 && r->args[0].len == 5 &&
               memcmp(r->args[0].p, "reset", 5) == 0) {
        mc_store_stats_reset(x->store);
        x->ctr->total_conns = x->ctr->bytes_read = x->ctr->bytes_written = 0;
        x->ctr->cmd_meta = 0;
        mc_out_str(o, "RESET\r\n");
        return;
    } else if (r->nargs == 1 && r->args[0].len == 8 &&
               memcmp(r->args[0].p, "settings", 8) == 0) {
        stats_settings(x, o);
    } else if (r->nargs == 1 && r->args[0].len == 5 &&
               memcmp(r->args[0].p, "items", 5) == 0) {
        stats_items(x, o, 0);
    } else if (r->nargs == 1 && r->args[0].len == 5 &&
               memcmp(r->args[0].p, "slabs", 5) == 0) {
        stats_items(x, o, 1);
    } else {
        mc_out_str(o, "ERROR\r\n");
        return;
    }
    mc_out_str(o, "END\r\n");
}

/* ---- meta protocol ------------------------------------------------------ */

static void out_flag_u64(mc_out_t *o, char ch, uint64_t v)
{
    char buf[26];

    buf[0] = ' ';
    buf[1] = ch;
    mc_out_mem(o, buf, 2 + mc_u64toa(buf + 2, v));
}

static void out_ttl(mc_out_t *o, mc_ctx_t *x, const mc_item_t *it)
{
    if (it->exptime == 0) {
        mc_out_mem(o, " t-1", 4);
    } else {
        mc_out_mem(o, " t", 2);
        out_i64(o, (int64_t)it->exptime - mc_store_now(x->store));
    }
}

/* The k flag: the key, base64 with a b flag when it is binary. */
static void out_key(mc_out_t *o, const char *key, size_t nkey, int binary)
{
    char enc[4 * ((MC_KEY_MAX + 2) / 3)];

    mc_out_mem(o, " k", 2);
    if (binary) {
        mc_out_mem(o, enc, mc_base64_encode(key, nkey, enc));
        mc_out_mem(o, " b", 2);
    } else {
        mc_out_mem(o, key, nkey);
    }
}

static void out_opaque(mc_out_t *o, const mc_req_t *r)
{
    mc_out_mem(o, " O", 2);
    mc_out_mem(o, r->opaque.p, r->opaque.len);
}

/* Only the O and k return flags (replies without an item). */
static void out_ok_flags(mc_out_t *o, const mc_req_t *r)
{
    int i;

    for (i = 0; i < r->norder; i++) {
        if (r->order[i] == 'O')
            out_opaque(o, r);
        else if (r->order[i] == 'k')
            out_key(o, r->key.p, r->key.len, (r->mflags & MC_F('b')) != 0);
    }
}

static void meta_opts(const mc_req_t *r, mc_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    if (r->mflags & MC_F('C')) {
        opts->has_cas = 1;
        opts->cas = r->cas;
    }
    opts->new_cas = r->new_cas;
    opts->stale_ok = (r->mflags & MC_F('I')) != 0;
}

static void exec_mg(mc_ctx_t *x, mc_req_t *r, mc_out_t *o)
{
    mc_store_t *st = x->store;
    mc_item_t *it = mc_store_find(st, r->key.p, r->key.len);
    int created = 0, won = 0, i;
    uint32_t now = mc_store_now(st);

    if (it == NULL && (r->mflags & MC_F('N'))) {
        it = mc_store_alloc(st, r->key.p, r->key.len, 0, 0, 0);
        if (it) {
            mc_opts_t opts;

            memcpy(mc_item_value(it), "\r\n", 2);
            if (r->mflags & MC_F('b'))
                it->iflags |= MC_IT_BINKEY;
            meta_opts(r, &opts);
            opts.has_cas = 0;
            mc_store_store(st, it, MC_MODE_SET, &opts, NULL);
            created = 1;
        }
    }
    mc_store_count_get(st, it != NULL && !created);
    if (it == NULL) {
        if (r->noreply)
            return;
        mc_out_mem(o, "EN", 2);
        out_ok_flags(o, r);
        mc_out_mem(o, "\r\n", 2);
        return;
    }
    if (r->mflags & MC_F('v')) {
        mc_out_mem(o, "VA ", 3);
        out_u64(o, it->nbytes);
    } else {
        mc_out_mem(o, "HD", 2);
    }
    for (i = 0; i < r->norder; i++) {
        switch (r->order[i]) {
        case 'T':
            it->exptime = mc_store_exptime(st, r->exptime);
            break;
        case 'N':
            if (created) {
                it->exptime = mc_store_exptime(st, r->ttl_N);
                won = 1;
            }
            break;
        case 'R':
            if (!(it->iflags & MC_IT_WON) && !created && it->exptime != 0 &&
                it->exptime < mc_store_exptime(st, r->ttl_R))
                won = 1;
            break;
        case 's':
            out_flag_u64(o, 's', it->nbytes);
            break;
        case 't':
            out_ttl(o, x, it);
            break;
        case 'c':
            out_flag_u64(o, 'c', it->cas);
            break;
        case 'f':
            out_flag_u64(o, 'f', it->flags);
            break;
        case 'l':
            out_flag_u64(o, 'l', now - it->atime);
            break;
        case 'h':
            mc_out_mem(o, (it->iflags & MC_IT_FETCHED) ? " h1" : " h0", 3);
            break;
        case 'O':
            out_opaque(o, r);
            break;
        case 'k':
            out_key(o, mc_item_key(it), it->nkey,
                    (it->iflags & MC_IT_BINKEY) != 0);
            break;
        default:
            break;
        }
    }
    if (it->iflags & MC_IT_WON)
        mc_out_mem(o, " Z", 2);
    if (it->iflags & MC_IT_STALE) {
        mc_out_mem(o, " X", 2);
        if (!(it->iflags & MC_IT_WON))
            won = 1;
    }
    if (won) {
        mc_out_mem(o, " W", 2);
        it->iflags |= MC_IT_WON;
    }
    mc_out_mem(o, "\r\n", 2);
    if (r->mflags & MC_F('v'))
        mc_out_mem(o, mc_item_value(it), (size_t)it->nbytes + 2);
    if (!(r->mflags & MC_F('u')))
        mc_store_hit(st, it, 0);
}

static void exec_ms(mc_ctx_t *x, mc_req_t *r, const char *data, mc_out_t *o)
{
    mc_store_t *st = x->store;
    mc_mode_t mode = MC_MODE_SET;
    uint32_t exptime = mc_store_exptime(st, r->exptime);
    const char *code;
    uint64_t cas = 0;
    mc_opts_t opts;
    mc_item_t *it;
    int i;

    if (memcmp(data + r->bytes, "\r\n", 2) != 0) {
        mc_out_str(o, "CLIENT_ERROR bad data chunk\r\n");
        return;
    }
    switch (r->mode) {
    case 'E':
        mode = MC_MODE_ADD;
        break;
    case 'A':
        mode = MC_MODE_APPEND;
        break;
    case 'P':
        mode = MC_MODE_PREPEND;
        break;
    case 'R':
        mode = MC_MODE_REPLACE;
        break;
    default:
        break;
    }
    /* memcached 1.6.18 parses N on ms but its append-vivify stores
     * nothing (NS); so does loom */
    it = mc_store_alloc(st, r->key.p, r->key.len, r->flags, exptime, r->bytes);
    if (it == NULL) {
        mc_out_str(o, "SERVER_ERROR out of memory storing object\r\n");
        return;
    }
    memcpy(mc_item_value(it), data, r->bytes + 2);
    if (r->mflags & MC_F('b'))
        it->iflags |= MC_IT_BINKEY;
    meta_opts(r, &opts);
    switch (mc_store_store(st, it, mode, &opts, &cas)) {
    case MC_STORED:
        code = "HD";
        break;
    case MC_EXISTS:
        code = "EX";
        break;
    case MC_NOT_FOUND:
        code = "NF";
        break;
    case MC_NO_MEMORY:
        mc_out_str(o, "SERVER_ERROR out of memory storing object\r\n");
        return;
    default:
        code = "NS";
        break;
    }
    if (r->noreply && code[0] == 'H')
        return;
    mc_out_str(o, code);
    for (i = 0; i < r->norder; i++) {
        if (r->order[i] == 'O')
            out_opaque(o, r);
        else if (r->order[i] == 'k')
            out_key(o, r->key.p, r->key.len, (r->mflags & MC_F('b')) != 0);
        else if (r->order[i] == 'c' && cas)
            out_flag_u64(o, 'c', cas);
    }
    mc_out_mem(o, "\r\n", 2);
}

static void exec_md(mc_ctx_t *x, mc_req_t *r, mc_out_t *o)
{
    static const char *const codes[] = {
        [MC_DELETED] = "HD",
        [MC_NOT_FOUND] = "NF",
        [MC_EXISTS] = "EX",
    };
    mc_store_t *st = x->store;
    mc_result_t res = MC_DELETED;
    mc_opts_t opts;
    mc_item_t *it;

    meta_opts(r, &opts);
    if (!(r->mflags & MC_F('I'))) {
        res = mc_store_delete(st, r->key.p, r->key.len, &opts);
    } else if ((it = mc_store_find(st, r->key.p, r->key.len)) == NULL) {
        res = mc_store_delete(st, r->key.p, r->key.len, NULL); /* a miss */
    } else if (opts.has_cas && opts.cas != it->cas) {
        res = MC_EXISTS;
    } else {
        /* invalidate: keep the item, stale, with a fresh CAS */
        if (r->mflags & MC_F('T'))
            it->exptime = mc_store_exptime(st, r->exptime);
        it->iflags |= MC_IT_STALE;
        it->iflags &= (uint8_t)~MC_IT_WON;
        mc_store_new_cas(st, it, &opts);
    }
    if (r->noreply && res == MC_DELETED)
        return;
    mc_out_str(o, codes[res]);
    out_ok_flags(o, r);
    mc_out_mem(o, "\r\n", 2);
}

static void exec_ma(mc_ctx_t *x, mc_req_t *r, mc_out_t *o)
{
    mc_store_t *st = x->store;
    int incr = !(r->mode == 'D' || r->mode == 'd' || r->mode == '-');
    mc_item_t *it = NULL;
    char num[24];
    size_t nlen = 0;
    uint64_t v = 0;
    mc_opts_t opts;
    int created = 0, i;

    meta_opts(r, &opts);
    switch (mc_store_arith(st, r->key.p, r->key.len, incr, r->delta, &opts, &v,
                           &it)) {
    case MC_STORED:
        if (r->noreply) {
            /* HD is quiet, but T still applies */
            if (r->mflags & MC_F('T'))
                it->exptime = mc_store_exptime(st, r->exptime);
            return;
        }
        break;
    case MC_NON_NUMERIC:
        mc_out_str(o, "CLIENT_ERROR cannot increment or decrement "
                      "non-numeric value\r\n");
        return;
    case MC_NO_MEMORY:
        mc_out_str(o, "SERVER_ERROR out of memory\r\n");
        return;
    case MC_EXISTS:
        mc_out_str(o, "EX");
        out_ok_flags(o, r);
        mc_out_mem(o, "\r\n", 2);
        return;
    default: /* not found */
        if (!(r->mflags & MC_F('N'))) {
            mc_out_str(o, "NF");
            out_ok_flags(o, r);
            mc_out_mem(o, "\r\n", 2);
            return;
        }
        nlen = mc_u64toa(num, r->initial);
        it = mc_store_alloc(st, r->key.p, r->key.len, 0, 0, nlen);
        if (it == NULL) {
            mc_out_str(o, "SERVER_ERROR Out of memory allocating new item\r\n");
            return;
        }
        memcpy(mc_item_value(it), num, nlen);
        memcpy(mc_item_value(it) + nlen, "\r\n", 2);
        opts.has_cas = 0;
        if (mc_store_store(st, it, MC_MODE_ADD, &opts, NULL) != MC_STORED) {
            mc_out_str(o, "NS\r\n");
            return;
        }
        v = r->initial;
        created = 1;
        break;
    }
    nlen = mc_u64toa(num, v);
    if (r->mflags & MC_F('v')) {
        mc_out_mem(o, "VA ", 3);
        out_u64(o, nlen);
    } else {
        mc_out_mem(o, "HD", 2);
    }
    for (i = 0; i < r->norder; i++) {
        switch (r->order[i]) {
        case 'c':
            out_flag_u64(o, 'c', it->cas);
            break;
        case 't':
            out_ttl(o, x, it);
            break;
        case 'T':
            it->exptime = mc_store_exptime(st, r->exptime);
            break;
        case 'N':
            if (created)
                it->exptime = mc_store_exptime(st, r->ttl_N);
            break;
        case 'O':
            out_opaque(o, r);
            break;
        case 'k':
            out_key(o, r->key.p, r->key.len, (r->mflags & MC_F('b')) != 0);
            break;
        default:
            break;
        }
    }
    mc_out_mem(o, "\r\n", 2);
    if (r->mflags & MC_F('v')) {
        mc_out_mem(o, num, nlen);
        mc_out_mem(o, "\r\n", 2);
    }
}

static void exec_me(mc_ctx_t *x, mc_req_t *r, mc_out_t *o)
{
    mc_item_t *it = mc_store_find(x->store, r->key.p, r->key.len);
    uint32_t now = mc_store_now(x->store);
    char buf[128];

    if (it == NULL) {
        mc_out_str(o, "EN\r\n");
        return;
    }
    mc_out_str(o, "ME ");
    if (it->iflags & MC_IT_BINKEY) {
        char enc[4 * ((MC_KEY_MAX + 2) / 3)];

        mc_out_mem(o, enc, mc_base64_encode(mc_item_key(it), it->nkey, enc));
    } else {
        mc_out_mem(o, mc_item_key(it), it->nkey);
    }
    snprintf(buf, sizeof(buf),
             " exp=%ld la=%lu cas=%llu fetch=%s cls=1 "
             "size=%zu\r\n",
             it->exptime ? (long)it->exptime - (long)now : -1L,
             (unsigned long)(now - it->atime), (unsigned long long)it->cas,
             (it->iflags & MC_IT_FETCHED) ? "yes" : "no",
             mc_store_item_size(it->nkey, it->nbytes));
    mc_out_str(o, buf);
}

/* ---- dispatch -------------------------------------------------------------
 */

int mc_exec(mc_ctx_t *x, mc_req_t *r, const char *data, mc_out_t *o,
            uint32_t *resume)
{
    mc_store_t *st = x->store;

    if (r->cmd >= MC_CMD_MG)
        x->ctr->cmd_meta++;
    switch (r->cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
    case MC_CMD_GAT:
    case MC_CMD_GATS:
        return exec_get(x, r, o, resume);
    case MC_CMD_SET:
    case MC_CMD_ADD:
    case MC_CMD_REPLACE:
    case MC_CMD_APPEND:
    case MC_CMD_PREPEND:
    case MC_CMD_CAS:
        exec_store(x, r, data, o);
        break;
    case MC_CMD_DELETE:
        mc_out_line(o, r,
                    mc_store_delete(st, r->key.p, r->key.len, NULL) ==
                            MC_DELETED
                        ? "DELETED"
                        : "NOT_FOUND");
        break;
    case MC_CMD_INCR:
    case MC_CMD_DECR:
        exec_arith(x, r, o);
        break;
    case MC_CMD_TOUCH:
        mc_out_line(o, r,
                    mc_store_touch(st, r->key.p, r->key.len,
                                   mc_store_exptime(st, r->exptime),
                                   NULL) == MC_TOUCHED
                        ? "TOUCHED"
                        : "NOT_FOUND");
        break;
    case MC_CMD_FLUSH_ALL: {
        uint32_t when = 0;

        if (r->has_exptime && r->exptime > 0)
            when = mc_store_exptime(st, r->exptime);
        mc_store_flush(st, when);
        mc_out_line(o, r, "OK");
        break;
    }
    case MC_CMD_STATS:
        exec_stats(x, r, o);
        break;
    case MC_CMD_VERSION:
        mc_out_str(o, "VERSION " MC_VERSION "\r\n");
        break;
    case MC_CMD_VERBOSITY:
        x->verbosity = r->number > 2 ? 2 : (unsigned)r->number;
        mc_out_line(o, r, "OK");
        break;
    case MC_CMD_CACHE_MEMLIMIT:
        if (r->number < 8) {
            mc_out_line(o, r,
                        "MEMLIMIT_TOO_SMALL cannot set maxbytes to "
                        "less than 8m");
        } else if (r->number > 1000000000) {
            mc_out_line(o, r,
                        "MEMLIMIT_ADJUST_FAILED input value is "
                        "megabytes not bytes");
        } else {
            mc_store_set_limits(st, (size_t)r->number << 20,
                                mc_store_max_item(st));
            mc_out_line(o, r, "OK");
        }
        break;
    case MC_CMD_QUIT:
        return MC_EXEC_CLOSE;
    case MC_CMD_MG:
        exec_mg(x, r, o);
        break;
    case MC_CMD_MS:
        exec_ms(x, r, data, o);
        break;
    case MC_CMD_MD:
        exec_md(x, r, o);
        break;
    case MC_CMD_MA:
        exec_ma(x, r, o);
        break;
    case MC_CMD_MN:
        mc_out_str(o, "MN\r\n");
        break;
    case MC_CMD_ME:
        exec_me(x, r, o);
        break;
    case MC_CMD_UNKNOWN:
        mc_out_str(o, "ERROR\r\n");
        break;
    }
    return MC_EXEC_DONE;
}

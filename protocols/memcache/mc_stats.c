/*
 * mc_stats.c - the memcache commands that describe the cache rather than
 * change it: `stats` and its subcommands (settings, items, slabs, reset,
 * detail, cachedump), `slabs automove` and `lru_crawler` (metadump,
 * crawl), with memcached 1.6.18's field names and replies.  Each command
 * with subcommands has its own small command table.
 *
 * loom has no slab classes: every item is one allocation, so the per-class
 * figures describe a single class 1 holding everything, and the class ids
 * memcached would take (1..63) are accepted, the others empty.
 */
#include "memcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MC_CLASSES 64            /* memcached's MAX_NUMBER_OF_SLAB_CLASSES */
#define MC_CACHEDUMP_MAX 2097152 /* memcached's 2 MB cachedump buffer */
#define MC_DETAIL_MAX 4096       /* prefixes counted; later ones are not */
#define MC_DETAIL_BUCKETS 1024

#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_DETAIL "CLIENT_ERROR usage: stats detail on|off|dump"

/* ---- STAT lines --------------------------------------------------------- */

static void stat_u64(mc_out_t *o, const char *name, uint64_t v)
{
    mc_out_str(o, "STAT ");
    mc_out_str(o, name);
    mc_out_mem(o, " ", 1);
    mc_out_u64(o, v);
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

/* A subcommand table's lookup: ARGS[0] names the subcommand, its entry's
 * data is the reply to a wrong argument count, UNKNOWN the reply to an
 * unknown one. */
static int sub_dispatch(const loom_cmd_table_t *t, mc_ctx_t *x, mc_call_t *k,
                        const char *unknown)
{
    const loom_cmd_t *c;

    switch (loom_cmd_match(t, k->req->args, (size_t)k->req->nargs, &c)) {
    case LOOM_OK:
        return loom_cmd_call(c, x, k);
    case LOOM_DECLINED:
        mc_out_str(k->out, c->data);
        break;
    default:
        mc_out_str(k->out, unknown);
        break;
    }
    mc_out_mem(k->out, "\r\n", 2);
    return MC_EXEC_DONE;
}

/* An unsigned number as memcached's safe_strtoul reads it into 32 bits: a
 * 64-bit value, truncated. */
static int arg_u32(loom_slice_t t, uint32_t *out)
{
    uint64_t v;

    if (mc_tok_u64(t, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ---- stats ----------------------------------------------------------------
 */

void mc_stats_general(mc_ctx_t *x, mc_out_t *o)
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
    stat_str(o, "libevent", loom_reactor_version());
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

static int st_settings(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_out_t *o = ((mc_call_t *)arg)->out;

    (void)cmd;
    stat_u64(o, "maxbytes", mc_store_memory(x->store));
    stat_u64(o, "verbosity", x->verbosity);
    stat_str(o, "evictions", "on");
    stat_u64(o, "num_threads", 1);
    stat_str(o, "stat_key_prefix", ":");
    stat_str(o, "detail_enabled", x->detail_on ? "yes" : "no");
    stat_str(o, "cas_enabled", "yes");
    stat_str(o, "binding_protocol", "ascii");
    stat_u64(o, "item_size_max", mc_store_max_item(x->store));
    stat_u64(o, "hashpower_init", 16);
    stat_u64(o, "slab_automove", x->slab_automove);
    stat_str(o, "lru_crawler", "yes");
    stat_str(o, "flush_enabled", "yes");
    stat_str(o, "dump_enabled", "yes");
    stat_str(o, "slab_allocator", "malloc");
    mc_out_str(o, "END\r\n");
    return MC_EXEC_DONE;
}

/* memcached's per-class item counters, in its order, for class 1; loom's
 * single LRU counts as the cold one, and the figures of LRU segments,
 * tail repairs and reference locks it does not have are 0. */
static int st_items(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_out_t *o = ((mc_call_t *)arg)->out;
    const mc_store_stats_t *s = mc_store_stats(x->store);
    uint32_t now = mc_store_now(x->store);
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"number", s->curr_items},
        {"number_hot", 0},
        {"number_warm", 0},
        {"number_cold", s->curr_items},
        {"age_hot", 0},
        {"age_warm", 0},
        {"age", s->lru_tail_atime && now > s->lru_tail_atime
                    ? now - s->lru_tail_atime
                    : 0},
        {"mem_requested", s->bytes},
        {"evicted", s->evictions},
        {"evicted_nonzero", s->evicted_nonzero},
        {"evicted_time", s->evicted_time},
        {"outofmemory", s->outofmemory},
        {"tailrepairs", 0},
        {"reclaimed", s->reclaimed},
        {"expired_unfetched", s->expired_unfetched},
        {"evicted_unfetched", s->evicted_unfetched},
        {"evicted_active", 0},
        {"crawler_reclaimed", s->crawler_reclaimed},
        {"crawler_items_checked", s->crawler_items_checked},
        {"lrutail_reflocked", 0},
        {"moves_to_cold", 0},
        {"moves_to_warm", 0},
        {"moves_within_lru", 0},
        {"direct_reclaims", s->evictions},
        {"hits_to_hot", 0},
        {"hits_to_warm", 0},
        {"hits_to_cold", s->get_hits},
        {"hits_to_temp", 0},
    };
    char name[64];
    size_t i;

    (void)cmd;
    for (i = 0; s->curr_items && i < LOOM_ARRAY_LEN(f); i++) {
        snprintf(name, sizeof(name), "items:1:%s", f[i].name);
        stat_u64(o, name, f[i].v);
    }
    mc_out_str(o, "END\r\n");
    return MC_EXEC_DONE;
}

static int st_slabs(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_out_t *o = ((mc_call_t *)arg)->out;
    const mc_store_stats_t *s = mc_store_stats(x->store);

    (void)cmd;
    if (s->curr_items) {
        stat_u64(o, "1:chunk_size", s->bytes / s->curr_items);
        stat_u64(o, "1:used_chunks", s->curr_items);
        stat_u64(o, "1:get_hits", s->get_hits);
        stat_u64(o, "1:cmd_set", s->cmd_set);
        stat_u64(o, "1:delete_hits", s->delete_hits);
    }
    stat_u64(o, "active_slabs", s->curr_items ? 1 : 0);
    stat_u64(o, "total_malloced", s->bytes);
    mc_out_str(o, "END\r\n");
    return MC_EXEC_DONE;
}

static int st_reset(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;

    (void)cmd;
    mc_store_stats_reset(x->store);
    x->ctr->total_conns = x->ctr->bytes_read = x->ctr->bytes_written = 0;
    x->ctr->cmd_meta = 0;
    mc_detail_free(x);
    mc_out_str(((mc_call_t *)arg)->out, "RESET\r\n");
    return MC_EXEC_DONE;
}

/* ---- stats detail: counters per key prefix --------------------------------
 */

typedef struct mc_prefix_s mc_prefix_t;
struct mc_prefix_s {
    mc_prefix_t *hnext; /* hash chain */
    mc_prefix_t *next;  /* all prefixes, in the order they were first seen */
    uint64_t get, hit, set, del;
    size_t len;
    char name[];
};

struct mc_detail_s {
    mc_prefix_t *bucket[MC_DETAIL_BUCKETS];
    mc_prefix_t *first, **last;
    size_t n;
};

/* The counters of KEY's prefix (created on first use), or NULL: no ':' in
 * the key, or MC_DETAIL_MAX prefixes already counted. */
static mc_prefix_t *prefix_of(mc_ctx_t *x, loom_slice_t key)
{
    const char *colon = memchr(key.p, ':', key.len);
    mc_detail_t *d = x->detail;
    uint32_t h = 2166136261u;
    mc_prefix_t *p, **b;
    size_t len, i;

    if (colon == NULL)
        return NULL;
    len = (size_t)(colon - key.p);
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)key.p[i]) * 16777619u;
    if (d == NULL) {
        d = x->detail = loom_calloc(1, sizeof(*d));
        d->last = &d->first;
    }
    b = &d->bucket[h % MC_DETAIL_BUCKETS];
    for (p = *b; p; p = p->hnext)
        if (p->len == len && memcmp(p->name, key.p, len) == 0)
            return p;
    if (d->n >= MC_DETAIL_MAX)
        return NULL;
    p = loom_calloc(1, sizeof(*p) + len + 1);
    memcpy(p->name, key.p, len);
    p->len = len;
    p->hnext = *b;
    *b = p;
    *d->last = p;
    d->last = &p->next;
    d->n++;
    return p;
}

void mc_detail_get(mc_ctx_t *x, loom_slice_t key, int hit)
{
    mc_prefix_t *p = x->detail_on ? prefix_of(x, key) : NULL;

    if (p) {
        p->get++;
        p->hit += hit != 0;
    }
}

void mc_detail_set(mc_ctx_t *x, loom_slice_t key)
{
    mc_prefix_t *p = x->detail_on ? prefix_of(x, key) : NULL;

    if (p)
        p->set++;
}

void mc_detail_del(mc_ctx_t *x, loom_slice_t key)
{
    mc_prefix_t *p = x->detail_on ? prefix_of(x, key) : NULL;

    if (p)
        p->del++;
}

void mc_detail_free(mc_ctx_t *x)
{
    mc_prefix_t *p, *next;

    if (x->detail == NULL)
        return;
    for (p = x->detail->first; p; p = next) {
        next = p->next;
        free(p);
    }
    free(x->detail);
    x->detail = NULL;
}

static int st_detail(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    loom_slice_t how = k->req->args[1];
    mc_prefix_t *p;

    (void)cmd;
    if (how.len == 2 && memcmp(how.p, "on", 2) == 0) {
        x->detail_on = 1;
    } else if (how.len == 3 && memcmp(how.p, "off", 3) == 0) {
        x->detail_on = 0;
    } else if (how.len == 4 && memcmp(how.p, "dump", 4) == 0) {
        for (p = x->detail ? x->detail->first : NULL; p; p = p->next) {
            mc_out_str(k->out, "PREFIX ");
            mc_out_mem(k->out, p->name, p->len);
            mc_out_str(k->out, " get ");
            mc_out_u64(k->out, p->get);
            mc_out_str(k->out, " hit ");
            mc_out_u64(k->out, p->hit);
            mc_out_str(k->out, " set ");
            mc_out_u64(k->out, p->set);
            mc_out_str(k->out, " del ");
            mc_out_u64(k->out, p->del);
            mc_out_mem(k->out, "\r\n", 2);
        }
        mc_out_str(k->out, "END\r\n");
        return MC_EXEC_DONE;
    } else {
        mc_out_str(k->out, E_DETAIL "\r\n");
        return MC_EXEC_DONE;
    }
    mc_out_str(k->out, "OK\r\n");
    return MC_EXEC_DONE;
}

/* ---- stats cachedump: the keys of a class, most recently used first ------ */

typedef struct {
    mc_out_t *o;
    uint32_t limit, shown;
    size_t bytes;
} cachedump_t;

static int cachedump_item(mc_item_t *it, void *arg)
{
    cachedump_t *cd = arg;
    const char *nul = memchr(mc_item_key(it), '\0', it->nkey);
    size_t nkey = nul ? (size_t)(nul - mc_item_key(it)) : it->nkey;
    char tail[64];
    int n;

    if (it->iflags & MC_IT_BINKEY)
        return 0; /* memcached leaves binary keys out */
    n = snprintf(tail, sizeof(tail), " [%u b; %lu s]\r\n", (unsigned)it->nbytes,
                 (unsigned long)it->exptime);
    /* memcached stops before the line that would not fit its 2 MB buffer
     * with "END\r\n" and a NUL after it */
    if (cd->bytes + 5 + nkey + (size_t)n + 6 > MC_CACHEDUMP_MAX)
        return 1;
    mc_out_mem(cd->o, "ITEM ", 5);
    mc_out_mem(cd->o, mc_item_key(it), nkey);
    mc_out_mem(cd->o, tail, (size_t)n);
    cd->bytes += 5 + nkey + (size_t)n;
    return cd->limit && ++cd->shown >= cd->limit;
}

/* stats cachedump CLASS LIMIT: at most 2 MB of "ITEM key [N b; T s]"
 * lines (T the absolute expiry, 0 for none), written at once as memcached
 * does: the size is bounded. */
static int st_cachedump(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    cachedump_t cd = {k->out, 0, 0, 0};
    uint32_t id;

    (void)cmd;
    if (arg_u32(k->req->args[1], &id) != 0 ||
        arg_u32(k->req->args[2], &cd.limit) != 0) {
        mc_out_str(k->out, E_FORMAT "\r\n");
        return MC_EXEC_DONE;
    }
    if (id >= MC_CLASSES) {
        mc_out_str(k->out, "CLIENT_ERROR Illegal slab id\r\n");
        return MC_EXEC_DONE;
    }
    if (id == 1)
        mc_store_foreach_lru(x->store, cachedump_item, &cd);
    mc_out_str(k->out, "END\r\n");
    return MC_EXEC_DONE;
}

/* The subcommands after `stats SUB`: arguments after SUB, and the reply
 * to a wrong count.  Extra arguments are ignored, as memcached does. */
static const loom_cmd_t stats_subs[] = {
    {"settings", 0, LOOM_CMD_ANY, 0, st_settings, NULL},
    {"items", 0, LOOM_CMD_ANY, 0, st_items, NULL},
    {"slabs", 0, LOOM_CMD_ANY, 0, st_slabs, NULL},
    {"reset", 0, LOOM_CMD_ANY, 0, st_reset, NULL},
    {"detail", 1, LOOM_CMD_ANY, 0, st_detail, E_DETAIL},
    {"cachedump", 2, LOOM_CMD_ANY, 0, st_cachedump,
     "CLIENT_ERROR bad command line"},
};
static const loom_cmd_table_t stats_table = LOOM_CMD_TABLE(stats_subs, 0);

int mc_do_stats(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_call_t *k = arg;

    (void)cmd;
    if (k->req->nargs == 0) {
        mc_stats_general(ctx, k->out);
        mc_out_str(k->out, "END\r\n");
        return MC_EXEC_DONE;
    }
    return sub_dispatch(&stats_table, ctx, k, "ERROR");
}

/* ---- slabs ----------------------------------------------------------------
 */

/* slabs automove 0|1|2: taken and reported; loom has no slabs to move */
static int sl_automove(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    uint32_t level;

    (void)cmd;
    if (arg_u32(k->req->args[1], &level) != 0) {
        mc_out_str(k->out, E_FORMAT "\r\n");
    } else if (level > 2) {
        mc_out_str(k->out, "ERROR\r\n");
    } else {
        x->slab_automove = level;
        mc_out_str(k->out, "OK\r\n");
    }
    return MC_EXEC_DONE;
}

static const loom_cmd_t slabs_subs[] = {
    {"automove", 1, LOOM_CMD_ANY, 0, sl_automove, "ERROR"},
};
static const loom_cmd_table_t slabs_table = LOOM_CMD_TABLE(slabs_subs, 0);

int mc_do_slabs(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    (void)cmd;
    return sub_dispatch(&slabs_table, ctx, arg, "ERROR");
}

/* ---- lru_crawler ----------------------------------------------------------
 */

/* The classes argument of metadump and crawl: "all", "hash" or a comma
 * separated list of ids 1..63.  Returns the reply line when it is not
 * valid or names no class, else NULL with *MINE set when it takes in
 * loom's class 1. */
static const char *crawl_classes(loom_slice_t arg, int *mine)
{
    const char *p = arg.p, *end = arg.p + arg.len;
    int any = 0;

    *mine = 0;
    if ((arg.len == 3 && memcmp(arg.p, "all", 3) == 0) ||
        (arg.len == 4 && memcmp(arg.p, "hash", 4) == 0)) {
        *mine = 1;
        return NULL;
    }
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        loom_slice_t id = {p, (size_t)((comma ? comma : end) - p)};
        uint32_t v;

        if (id.len) {
            if (arg_u32(id, &v) != 0 || v < 1 || v >= MC_CLASSES)
                return "BADCLASS invalid class id";
            *mine |= v == 1;
            any = 1;
        }
        p = comma ? comma + 1 : end;
    }
    return any ? NULL : "NOTSTARTED no items to crawl";
}

/* lru_crawler metadump CLASSES: every key, streamed under back-pressure
 * by the caller through mc_dump_step. */
static int lc_metadump(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_call_t *k = arg;
    const char *err;
    int mine = 0;

    (void)cmd;
    (void)ctx;
    if (k->dump == NULL)
        err = "ERROR metadump not allowed"; /* no stream to pace it */
    else
        err = crawl_classes(k->req->args[1], &mine);
    if (err) {
        mc_out_str(k->out, err);
        mc_out_mem(k->out, "\r\n", 2);
        return MC_EXEC_DONE;
    }
    if (!mine) {
        mc_out_str(k->out, "END\r\n");
        return MC_EXEC_DONE;
    }
    k->dump->cursor = 0;
    k->dump->active = 1;
    return MC_EXEC_DUMP;
}

/* lru_crawler crawl CLASSES: loom's sweep already reclaims expired items
 * all the time; the command is checked and acknowledged. */
static int lc_crawl(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_call_t *k = arg;
    int mine;
    const char *err = crawl_classes(k->req->args[1], &mine);

    (void)cmd;
    (void)ctx;
    mc_out_str(k->out, err ? err : "OK");
    mc_out_mem(k->out, "\r\n", 2);
    return MC_EXEC_DONE;
}

static const loom_cmd_t crawler_subs[] = {
    {"metadump", 1, 1, 0, lc_metadump, "ERROR"},
    {"crawl", 1, 1, 0, lc_crawl, "ERROR"},
};
static const loom_cmd_table_t crawler_table = LOOM_CMD_TABLE(crawler_subs, 0);

int mc_do_lru_crawler(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    (void)cmd;
    return sub_dispatch(&crawler_table, ctx, arg, "ERROR");
}

/* A key as memcached's metadump writes it: letters, digits and "-._~"
 * as they are, every other byte as %XX.  DST needs 3 * LEN bytes. */
static size_t uri_encode(const char *src, size_t len, char *dst)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
            dst[n++] = (char)ch;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[ch >> 4];
            dst[n++] = hex[ch & 15];
        }
    }
    return n;
}

static void dump_item(mc_item_t *it, void *arg)
{
    mc_out_t *o = arg;
    char key[3 * MC_KEY_MAX], tail[160];
    int n;

    mc_out_mem(o, "key=", 4);
    mc_out_mem(o, key, uri_encode(mc_item_key(it), it->nkey, key));
    n = snprintf(tail, sizeof(tail),
                 " exp=%ld la=%lu cas=%llu fetch=%s cls=1 size=%zu\n",
                 it->exptime ? (long)it->exptime : -1L,
                 (unsigned long)it->atime, (unsigned long long)it->cas,
                 (it->iflags & MC_IT_FETCHED) ? "yes" : "no",
                 mc_store_item_size(it->nkey, it->nbytes));
    mc_out_mem(o, tail, (size_t)n);
}

int mc_dump_step(mc_ctx_t *x, mc_dump_t *d, mc_out_t *o)
{
    while (!o->full) {
        if (!mc_store_scan(x->store, &d->cursor, dump_item, o)) {
            mc_out_str(o, "END\r\n");
            d->active = 0;
            return 1;
        }
    }
    return 0;
}

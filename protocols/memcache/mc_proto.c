/*
 * mc_proto.c - memcache command execution: the command table (every
 * command once: name, argument counts, flags, handler, syntax) and the
 * handlers that run a parsed request (mc_parse.c) against the store
 * (mc_store.c), replies appended to an mc_out_t.  Reply texts, flag order
 * and quiet-mode rules follow memcached 1.6.18.  `stats`, `slabs` and
 * `lru_crawler` are in mc_stats.c.
 */
#include "memcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void mc_out_u64(mc_out_t *o, uint64_t v)
{
    char buf[24];

    mc_out_mem(o, buf, mc_u64toa(buf, v));
}

static void out_i64(mc_out_t *o, int64_t v)
{
    if (v < 0) {
        mc_out_mem(o, "-", 1);
        mc_out_u64(o, (uint64_t)(-(v + 1)) + 1);
    } else {
        mc_out_u64(o, (uint64_t)v);
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

void mc_get_begin(mc_ctx_t *x, const mc_req_t *req, mc_get_t *g)
{
    g->cmd = req->cmd;
    g->exptime = (req->cmd->flags & MC_CF_TOUCH)
                     ? mc_store_exptime(x->store, req->exptime)
                     : 0;
    g->check = 0;
}

void mc_get_key(mc_ctx_t *x, const mc_get_t *g, loom_slice_t key, mc_out_t *o)
{
    mc_item_t *it;

    if (g->cmd->flags & MC_CF_TOUCH) {
        if (mc_store_touch(x->store, key.p, key.len, g->exptime, &it) !=
            MC_TOUCHED)
            it = NULL;
    } else {
        it = mc_store_find(x->store, key.p, key.len);
    }
    mc_store_count_get(x->store, it != NULL);
    mc_detail_get(x, key, it != NULL);
    if (it) {
        mc_store_hit(x->store, it, 0);
        out_value(o, it, (g->cmd->flags & MC_CF_CAS) != 0);
    }
}

/* get, gets, gat, gats, bget with the whole key list at hand (its keys
 * were checked by the parser) */
static int exec_get(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_call_t *k = arg;
    loom_slice_t cur = k->req->keys, key;
    mc_get_t g;

    (void)cmd;
    mc_get_begin(ctx, k->req, &g);
    while (mc_next_key(&cur, &key))
        mc_get_key(ctx, &g, key, k->out);
    mc_out_str(k->out, "END\r\n");
    return MC_EXEC_DONE;
}

/* set, add, replace, append, prepend (the mode is in the flags), cas */
static int exec_store(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    static const char *const replies[] = {
        [MC_STORED] = "STORED",
        [MC_NOT_STORED] = "NOT_STORED",
        [MC_EXISTS] = "EXISTS",
        [MC_NOT_FOUND] = "NOT_FOUND",
        [MC_NO_MEMORY] = "SERVER_ERROR out of memory storing object",
    };
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    mc_opts_t opts = {0};
    mc_item_t *it;
    mc_result_t res;

    mc_detail_set(x, r->key);
    if (memcmp(k->data + r->bytes, "\r\n", 2) != 0) {
        mc_out_line(k->out, r, "CLIENT_ERROR bad data chunk");
        return MC_EXEC_DONE;
    }
    if (cmd->flags & MC_CF_CAS) {
        opts.has_cas = 1;
        opts.cas = r->cas;
    }
    it = mc_store_alloc(x->store, r->key.p, r->key.len, r->flags,
                        mc_store_exptime(x->store, r->exptime), r->bytes);
    if (it == NULL) {
        mc_out_line(k->out, r, "SERVER_ERROR out of memory storing object");
        return MC_EXEC_DONE;
    }
    memcpy(mc_item_value(it), k->data, r->bytes + 2);
    res = mc_store_store(x->store, it, MC_CF_MODE_OF(cmd->flags), &opts, NULL);
    mc_out_line(k->out, r, replies[res]);
    return MC_EXEC_DONE;
}

static int exec_delete(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;

    (void)cmd;
    mc_detail_del(x, r->key);
    mc_out_line(k->out, r,
                mc_store_delete(x->store, r->key.p, r->key.len, NULL) ==
                        MC_DELETED
                    ? "DELETED"
                    : "NOT_FOUND");
    return MC_EXEC_DONE;
}

/* incr, decr */
static int exec_arith(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    static const char *const replies[] = {
        [MC_NOT_FOUND] = "NOT_FOUND",
        [MC_NON_NUMERIC] =
            "CLIENT_ERROR cannot increment or decrement non-numeric value",
        [MC_NO_MEMORY] = "SERVER_ERROR out of memory",
    };
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    mc_result_t res;
    uint64_t v;
    char buf[24];

    res = mc_store_arith(x->store, r->key.p, r->key.len,
                         !(cmd->flags & MC_CF_DECR), r->delta, NULL, &v, NULL);
    if (res == MC_STORED) {
        buf[mc_u64toa(buf, v)] = '\0';
        mc_out_line(k->out, r, buf);
    } else {
        mc_out_line(k->out, r,
                    replies[res] ? replies[res] : "SERVER_ERROR out of memory");
    }
    return MC_EXEC_DONE;
}

static int exec_touch(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;

    (void)cmd;
    mc_out_line(k->out, r,
                mc_store_touch(x->store, r->key.p, r->key.len,
                               mc_store_exptime(x->store, r->exptime),
                               NULL) == MC_TOUCHED
                    ? "TOUCHED"
                    : "NOT_FOUND");
    return MC_EXEC_DONE;
}

static int exec_flush_all(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    uint32_t when = 0;

    (void)cmd;
    if (k->req->has_exptime && k->req->exptime > 0)
        when = mc_store_exptime(x->store, k->req->exptime);
    mc_store_flush(x->store, when);
    mc_out_line(k->out, k->req, "OK");
    return MC_EXEC_DONE;
}

static int exec_version(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    (void)cmd;
    (void)ctx;
    mc_out_str(((mc_call_t *)arg)->out, "VERSION " MC_VERSION "\r\n");
    return MC_EXEC_DONE;
}

static int exec_verbosity(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;

    (void)cmd;
    x->verbosity = k->req->number > 2 ? 2 : (unsigned)k->req->number;
    mc_out_line(k->out, k->req, "OK");
    return MC_EXEC_DONE;
}

static int exec_cache_memlimit(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    uint64_t mb = k->req->number;

    (void)cmd;
    if (mb < 8) {
        mc_out_line(k->out, k->req,
                    "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
    } else if (mb > 1000000000) {
        mc_out_line(k->out, k->req,
                    "MEMLIMIT_ADJUST_FAILED input value is megabytes not "
                    "bytes");
    } else {
        mc_store_set_limits(x->store, (size_t)mb << 20,
                            mc_store_max_item(x->store));
        mc_out_line(k->out, k->req, "OK");
    }
    return MC_EXEC_DONE;
}

static int exec_quit(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    (void)cmd;
    (void)ctx;
    (void)arg;
    return MC_EXEC_CLOSE;
}

/* memcached without -A: the command exists, the answer is no */
static int exec_shutdown(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    (void)cmd;
    (void)ctx;
    mc_out_str(((mc_call_t *)arg)->out, "ERROR: shutdown not enabled\r\n");
    return MC_EXEC_DONE;
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

static int exec_mg(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    mc_out_t *o = k->out;
    mc_store_t *st = x->store;
    mc_item_t *it = mc_store_find(st, r->key.p, r->key.len);
    int created = 0, won = 0, i;
    uint32_t now = mc_store_now(st);

    (void)cmd;
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
            return MC_EXEC_DONE;
        mc_out_mem(o, "EN", 2);
        out_ok_flags(o, r);
        mc_out_mem(o, "\r\n", 2);
        return MC_EXEC_DONE;
    }
    if (r->mflags & MC_F('v')) {
        mc_out_mem(o, "VA ", 3);
        mc_out_u64(o, it->nbytes);
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
    return MC_EXEC_DONE;
}

static int exec_ms(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    const char *data = k->data;
    mc_out_t *o = k->out;
    mc_store_t *st = x->store;
    mc_mode_t mode = MC_MODE_SET;
    uint32_t exptime = mc_store_exptime(st, r->exptime);
    const char *code;
    uint64_t cas = 0;
    mc_opts_t opts;
    mc_item_t *it;
    int i;

    (void)cmd;
    if (memcmp(data + r->bytes, "\r\n", 2) != 0) {
        mc_out_str(o, "CLIENT_ERROR bad data chunk\r\n");
        return MC_EXEC_DONE;
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
        return MC_EXEC_DONE;
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
        return MC_EXEC_DONE;
    default:
        code = "NS";
        break;
    }
    if (r->noreply && code[0] == 'H')
        return MC_EXEC_DONE;
    mc_out_str(o, code);
    for (i = 0; i < r->norder; i++) {
        if (r->order[i] == 'O')
            out_opaque(o, r);
        else if (r->order[i] == 'k')
            out_key(o, r->key.p, r->key.len, (r->mflags & MC_F('b')) != 0);
        else if (r->order[i] == 'c') /* 0 when nothing was stored, as
                                      * memcached 1.6.18 answers */
            out_flag_u64(o, 'c', cas);
    }
    mc_out_mem(o, "\r\n", 2);
    return MC_EXEC_DONE;
}

static int exec_md(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    mc_out_t *o = k->out;
    static const char *const codes[] = {
        [MC_DELETED] = "HD",
        [MC_NOT_FOUND] = "NF",
        [MC_EXISTS] = "EX",
    };
    mc_store_t *st = x->store;
    mc_result_t res = MC_DELETED;
    mc_opts_t opts;
    mc_item_t *it;

    (void)cmd;
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
        return MC_EXEC_DONE;
    mc_out_str(o, codes[res]);
    out_ok_flags(o, r);
    mc_out_mem(o, "\r\n", 2);
    return MC_EXEC_DONE;
}

static int exec_ma(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    mc_out_t *o = k->out;
    mc_store_t *st = x->store;
    int incr = !(r->mode == 'D' || r->mode == 'd' || r->mode == '-');
    mc_item_t *it = NULL;
    char num[24];
    size_t nlen = 0;
    uint64_t v = 0;
    mc_opts_t opts;
    int created = 0, i;

    (void)cmd;
    meta_opts(r, &opts);
    switch (mc_store_arith(st, r->key.p, r->key.len, incr, r->delta, &opts, &v,
                           &it)) {
    case MC_STORED:
        if (r->noreply) {
            /* HD is quiet, but T still applies */
            if (r->mflags & MC_F('T'))
                it->exptime = mc_store_exptime(st, r->exptime);
            return MC_EXEC_DONE;
        }
        break;
    case MC_NON_NUMERIC:
        mc_out_str(o, "CLIENT_ERROR cannot increment or decrement "
                      "non-numeric value\r\n");
        return MC_EXEC_DONE;
    case MC_NO_MEMORY:
        mc_out_str(o, "SERVER_ERROR out of memory\r\n");
        return MC_EXEC_DONE;
    case MC_EXISTS:
        mc_out_str(o, "EX");
        out_ok_flags(o, r);
        mc_out_mem(o, "\r\n", 2);
        return MC_EXEC_DONE;
    default: /* not found */
        if (!(r->mflags & MC_F('N'))) {
            mc_out_str(o, "NF");
            out_ok_flags(o, r);
            mc_out_mem(o, "\r\n", 2);
            return MC_EXEC_DONE;
        }
        nlen = mc_u64toa(num, r->initial);
        it = mc_store_alloc(st, r->key.p, r->key.len, 0, 0, nlen);
        if (it == NULL) {
            mc_out_str(o, "SERVER_ERROR Out of memory allocating new item\r\n");
            return MC_EXEC_DONE;
        }
        memcpy(mc_item_value(it), num, nlen);
        memcpy(mc_item_value(it) + nlen, "\r\n", 2);
        opts.has_cas = 0;
        if (mc_store_store(st, it, MC_MODE_ADD, &opts, NULL) != MC_STORED) {
            mc_out_str(o, "NS\r\n");
            return MC_EXEC_DONE;
        }
        v = r->initial;
        created = 1;
        break;
    }
    nlen = mc_u64toa(num, v);
    if (r->mflags & MC_F('v')) {
        mc_out_mem(o, "VA ", 3);
        mc_out_u64(o, nlen);
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
    return MC_EXEC_DONE;
}

static int exec_me(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    mc_ctx_t *x = ctx;
    mc_call_t *k = arg;
    mc_req_t *r = k->req;
    mc_out_t *o = k->out;
    mc_item_t *it = mc_store_find(x->store, r->key.p, r->key.len);
    uint32_t now = mc_store_now(x->store);
    char buf[128];

    (void)cmd;
    if (it == NULL) {
        mc_out_str(o, "EN\r\n");
        return MC_EXEC_DONE;
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
    return MC_EXEC_DONE;
}

static int exec_mn(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    (void)cmd;
    (void)ctx;
    mc_out_str(((mc_call_t *)arg)->out, "MN\r\n");
    return MC_EXEC_DONE;
}

/* ---- the command table ----------------------------------------------------
 */

#define ANY LOOM_CMD_ANY
#define GET (MC_CF_GET | MC_CF_LETTER | MC_CF_DETAIL)
#define STORE(mode)                                                            \
    (MC_CF_STORAGE | MC_CF_KEY | MC_CF_DETAIL | MC_CF_MODE(mode))
#define META (MC_CF_META | MC_CF_KEY | MC_CF_LETTER)

/* Every command once: name, arguments (min, max), flags, handler, syntax.
 * Argument counts are memcached 1.6.18's; so is MC_CF_LETTER, which marks
 * the verbs memcached dispatches by their first letter.  The hot verbs
 * come first (the lookup is a linear scan). */
static const loom_cmd_t commands[] = {
    {"get", 1, ANY, GET, exec_get, &mc_syn_get},
    {"set", 4, 5, STORE(MC_MODE_SET) | MC_CF_LETTER, exec_store,
     &mc_syn_storage},
    {"mg", 1, ANY, META, exec_mg, &mc_syn_mg},
    {"ms", 1, ANY, META | MC_CF_STORAGE, exec_ms, &mc_syn_ms},
    {"gets", 1, ANY, GET | MC_CF_CAS, exec_get, &mc_syn_get},
    {"delete", 1, 3, MC_CF_KEY | MC_CF_LETTER | MC_CF_DETAIL, exec_delete,
     &mc_syn_delete},
    {"md", 1, ANY, META, exec_md, &mc_syn_md},
    {"ma", 1, ANY, META, exec_ma, &mc_syn_ma},
    {"mn", 0, ANY, MC_CF_META | MC_CF_LETTER, exec_mn, &mc_syn_none},
    {"me", 1, ANY, META | MC_CF_ARITY_FMT, exec_me, &mc_syn_me},
    {"gat", 1, ANY, GET | MC_CF_TOUCH, exec_get, &mc_syn_get},
    {"gats", 1, ANY, GET | MC_CF_TOUCH | MC_CF_CAS, exec_get, &mc_syn_get},
    {"add", 4, 5, STORE(MC_MODE_ADD) | MC_CF_LETTER, exec_store,
     &mc_syn_storage},
    {"replace", 4, 5, STORE(MC_MODE_REPLACE), exec_store, &mc_syn_storage},
    {"append", 4, 5, STORE(MC_MODE_APPEND) | MC_CF_LETTER, exec_store,
     &mc_syn_storage},
    {"prepend", 4, 5, STORE(MC_MODE_PREPEND), exec_store, &mc_syn_storage},
    {"cas", 5, 6, STORE(MC_MODE_SET) | MC_CF_CAS | MC_CF_LETTER, exec_store,
     &mc_syn_storage},
    {"incr", 2, 3, MC_CF_KEY | MC_CF_LETTER, exec_arith, &mc_syn_keynum},
    {"decr", 2, 3, MC_CF_KEY | MC_CF_DECR | MC_CF_LETTER, exec_arith,
     &mc_syn_keynum},
    {"touch", 2, 3, MC_CF_KEY | MC_CF_TOUCH | MC_CF_LETTER, exec_touch,
     &mc_syn_keynum},
    {"bget", 1, ANY, MC_CF_GET | MC_CF_DETAIL, exec_get, &mc_syn_get},
    {"flush_all", 0, 2, 0, exec_flush_all, &mc_syn_flush},
    {"version", 0, ANY, 0, exec_version, &mc_syn_none},
    {"verbosity", 1, 2, 0, exec_verbosity, &mc_syn_verbosity},
    {"quit", 0, ANY, 0, exec_quit, &mc_syn_none},
    {"stats", 0, ANY, MC_CF_LETTER, mc_do_stats, &mc_syn_args},
    {"cache_memlimit", 1, 2, MC_CF_LETTER, exec_cache_memlimit,
     &mc_syn_memlimit},
    {"slabs", 0, ANY, MC_CF_LETTER, mc_do_slabs, &mc_syn_args},
    {"lru_crawler", 0, ANY, 0, mc_do_lru_crawler, &mc_syn_args},
    {"shutdown", 0, ANY, MC_CF_LETTER, exec_shutdown, &mc_syn_none},
};

const loom_cmd_table_t mc_commands = LOOM_CMD_TABLE(commands, 0);

int mc_exec(mc_ctx_t *x, mc_req_t *r, const char *data, mc_out_t *o,
            mc_dump_t *dump)
{
    mc_call_t call = {r, data, o, dump};

    if (r->cmd->flags & MC_CF_META)
        x->ctr->cmd_meta++;
    return loom_cmd_call(r->cmd, x, &call);
}

/*
 * mc_store.c - hash table with incremental resize, LRU, memory limit,
 * expiry and CAS for the memcache module (see mc_store.h).
 */
#include "mc_store.h"

#include <stdlib.h>
#include <string.h>

#include "mc_parse.h"

#define MC_HASH_INIT_POWER 16          /* 65,536 buckets, as memcached starts */
#define MC_REL_MAX (60 * 60 * 24 * 30) /* relative exptime limit: 30 days */
#define MC_REHASH_STEP 1 /* buckets moved per operation while resizing */

struct mc_store_s {
    mc_item_t **tab[2];
    size_t size[2]; /* buckets, a power of two */
    size_t rehash;  /* next bucket of tab[0] to move */
    int resizing;
    size_t sweep; /* sweep cursor into tab[0] */

    mc_item_t *head, *tail; /* LRU */

    size_t memory, max_item;
    size_t used; /* accounted bytes of all allocated items */
    uint64_t seed;
    uint64_t next_cas;
    uint64_t flush_cas; /* items with a smaller CAS are flushed */
    uint32_t flush_at;  /* pending delayed flush (0: none) */
    uint32_t now;

    mc_store_stats_t stats;

    mc_watch_fn watch; /* mc_store_set_watch */
    void *watch_arg;
    char *const *watch_pre;
    size_t watch_n;
};

void mc_store_set_watch(mc_store_t *st, char *const *prefixes, size_t n,
                        mc_watch_fn fn, void *arg)
{
    st->watch = fn;
    st->watch_arg = arg;
    st->watch_pre = prefixes;
    st->watch_n = fn ? n : 0;
}

/* Tell the watch about IT when its key is under a watched prefix. */
static void watch_tell(mc_store_t *st, mc_watch_op_t op, const mc_item_t *it)
{
    size_t i, n;

    for (i = 0; i < st->watch_n; i++) {
        n = strlen(st->watch_pre[i]);
        if (n <= it->nkey && memcmp(it->data, st->watch_pre[i], n) == 0) {
            st->watch(st->watch_arg, op, it);
            return;
        }
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL)
        abort();
    return p;
}

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* A seeded 64-bit hash: eight bytes at a time, multiply-rotate, final
 * avalanche.  The seed keeps chosen-key collisions from being planned. */
static uint32_t mc_hash(const char *key, size_t n, uint64_t seed)
{
    const uint64_t m = 0x9e3779b97f4a7c15ULL;
    uint64_t h = seed ^ (n * m);
    uint64_t v;

    while (n >= 8) {
        memcpy(&v, key, 8);
        v *= m;
        v ^= v >> 31;
        h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
        h = (h << 27) | (h >> 37);
        key += 8;
        n -= 8;
    }
    v = 0;
    memcpy(&v, key, n);
    h ^= v * m;
    return (uint32_t)mix64(h);
}

/* ---- sizes and time ----------------------------------------------------- */

size_t mc_store_item_size(size_t nkey, size_t nbytes)
{
    /* What glibc malloc really takes: the request plus its 8-byte header,
     * rounded up to 16, at least 32. */
    size_t n = sizeof(mc_item_t) + nkey + nbytes + 2 + 8;

    n = (n + 15) & ~(size_t)15;
    return n < 32 ? 32 : n;
}

static size_t item_size(const mc_item_t *it)
{
    return mc_store_item_size(it->nkey, it->nbytes);
}

uint32_t mc_store_exptime(const mc_store_t *st, int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; /* in the past: expired at once */
    if (exptime > MC_REL_MAX)
        return exptime <= st->now     ? 1
               : exptime > UINT32_MAX ? UINT32_MAX
                                      : (uint32_t)exptime;
    return st->now + (uint32_t)exptime;
}

void mc_store_set_time(mc_store_t *st, uint32_t now)
{
    st->now = now;
    if (st->flush_at && st->flush_at <= now) {
        st->flush_at = 0;
        st->flush_cas = st->next_cas;
    }
}

uint32_t mc_store_now(const mc_store_t *st)
{
    return st->now;
}

static int item_expired(const mc_store_t *st, const mc_item_t *it)
{
    return it->exptime != 0 && it->exptime <= st->now;
}

static int item_flushed(const mc_store_t *st, const mc_item_t *it)
{
    return it->cas < st->flush_cas;
}

/* ---- the table ---------------------------------------------------------- */

static mc_item_t **bucket_of(mc_store_t *st, uint32_t hv)
{
    size_t i = hv & (st->size[0] - 1);

    if (st->resizing && i < st->rehash)
        return &st->tab[1][hv & (st->size[1] - 1)];
    return &st->tab[0][i];
}

/* Move one bucket of the old table into the new one. */
static void rehash_step(mc_store_t *st)
{
    mc_item_t *it, *next;

    if (!st->resizing)
        return;
    for (it = st->tab[0][st->rehash]; it; it = next) {
        mc_item_t **b = &st->tab[1][it->hv & (st->size[1] - 1)];

        next = it->hnext;
        it->hnext = *b;
        *b = it;
    }
    st->tab[0][st->rehash] = NULL;
    if (++st->rehash == st->size[0]) {
        free(st->tab[0]);
        st->tab[0] = st->tab[1];
        st->size[0] = st->size[1];
        st->tab[1] = NULL;
        st->size[1] = 0;
        st->resizing = 0;
        st->rehash = 0;
        st->sweep = 0;
    }
}

static void maybe_grow(mc_store_t *st)
{
    if (st->resizing || st->stats.curr_items <= st->size[0] + st->size[0] / 2)
        return;
    st->size[1] = st->size[0] * 2;
    st->tab[1] = xcalloc(st->size[1], sizeof(mc_item_t *));
    st->rehash = 0;
    st->resizing = 1;
}

static void lru_unlink(mc_store_t *st, mc_item_t *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        st->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        st->tail = it->prev;
    it->prev = it->next = NULL;
}

static void lru_push(mc_store_t *st, mc_item_t *it)
{
    it->prev = NULL;
    it->next = st->head;
    if (st->head)
        st->head->prev = it;
    else
        st->tail = it;
    st->head = it;
}

static void item_link(mc_store_t *st, mc_item_t *it)
{
    mc_item_t **b = bucket_of(st, it->hv);

    it->hnext = *b;
    *b = it;
    lru_push(st, it);
    it->iflags |= MC_IT_LINKED;
    st->stats.curr_items++;
    st->stats.total_items++;
    st->stats.bytes += item_size(it);
    maybe_grow(st);
}

static void item_free(mc_store_t *st, mc_item_t *it)
{
    st->used -= item_size(it);
    free(it);
}

/* Take IT out of the table and the LRU, without freeing it. */
static void item_unlink_only(mc_store_t *st, mc_item_t *it)
{
    mc_item_t **pp = bucket_of(st, it->hv);

    while (*pp != it)
        pp = &(*pp)->hnext;
    *pp = it->hnext;
    it->hnext = NULL;
    lru_unlink(st, it);
    it->iflags &= (uint8_t)~MC_IT_LINKED;
    st->stats.curr_items--;
    st->stats.bytes -= item_size(it);
}

void mc_store_unlink(mc_store_t *st, mc_item_t *it)
{
    item_unlink_only(st, it);
    item_free(st, it);
}

/* Drop an expired or flushed item, counting it. */
static void reclaim(mc_store_t *st, mc_item_t *it)
{
    if (!(it->iflags & MC_IT_FETCHED) && item_expired(st, it))
        st->stats.expired_unfetched++;
    st->stats.reclaimed++;
    mc_store_unlink(st, it);
}

static mc_item_t *lookup(mc_store_t *st, const char *key, size_t nkey,
                         uint32_t hv)
{
    mc_item_t *it;

    for (it = *bucket_of(st, hv); it; it = it->hnext)
        if (it->hv == hv && it->nkey == nkey &&
            memcmp(it->data, key, nkey) == 0)
            return it;
    return NULL;
}

static mc_item_t *find(mc_store_t *st, const char *key, size_t nkey,
                       uint32_t hv)
{
    mc_item_t *it;

    rehash_step(st);
    it = lookup(st, key, nkey, hv);
    if (it && (item_expired(st, it) || item_flushed(st, it))) {
        if (item_flushed(st, it))
            st->stats.get_flushed++;
        else
            st->stats.get_expired++;
        reclaim(st, it);
        it = NULL;
    }
    return it;
}

mc_item_t *mc_store_find(mc_store_t *st, const char *key, size_t nkey)
{
    if (nkey > MC_KEY_MAX)
        return NULL;
    return find(st, key, nkey, mc_hash(key, nkey, st->seed));
}

void mc_store_hit(mc_store_t *st, mc_item_t *it, int nobump)
{
    it->iflags |= MC_IT_FETCHED;
    it->atime = st->now;
    if (!nobump && st->head != it) {
        lru_unlink(st, it);
        lru_push(st, it);
    }
}

void mc_store_count_get(mc_store_t *st, int hit)
{
    if (hit)
        st->stats.get_hits++;
    else
        st->stats.get_misses++;
}

/* ---- allocation and eviction -------------------------------------------- */

/* Make room for NEED more accounted bytes; 0 on success. */
static int make_room(mc_store_t *st, size_t need)
{
    if (need > st->memory)
        return -1;
    while (st->used + need > st->memory) {
        mc_item_t *it = st->tail;

        if (it == NULL)
            return -1; /* the rest is in items being received */
        if (item_expired(st, it) || item_flushed(st, it)) {
            reclaim(st, it);
            continue;
        }
        st->stats.evictions++;
        if (!(it->iflags & MC_IT_FETCHED))
            st->stats.evicted_unfetched++;
        if (it->exptime)
            st->stats.evicted_nonzero++;
        st->stats.evicted_time = st->now > it->atime ? st->now - it->atime : 0;
        mc_store_unlink(st, it);
    }
    return 0;
}

mc_item_t *mc_store_alloc(mc_store_t *st, const char *key, size_t nkey,
                          uint32_t flags, uint32_t exptime, size_t nbytes)
{
    size_t size;
    mc_item_t *it;

    if (nkey > MC_KEY_MAX || nbytes > UINT32_MAX - 2)
        return NULL;
    size = mc_store_item_size(nkey, nbytes);
    if (size > st->max_item)
        return NULL;
    if (make_room(st, size) != 0) {
        st->stats.outofmemory++;
        return NULL;
    }
    it = malloc(sizeof(*it) + nkey + nbytes + 2);
    if (it == NULL)
        return NULL;
    memset(it, 0, sizeof(*it));
    it->nkey = (uint8_t)nkey;
    it->nbytes = (uint32_t)nbytes;
    it->flags = flags;
    it->exptime = exptime;
    it->atime = st->now;
    it->hv = mc_hash(key, nkey, st->seed);
    memcpy(it->data, key, nkey);
    st->used += size;
    return it;
}

void mc_store_discard(mc_store_t *st, mc_item_t *it)
{
    if (it)
        item_free(st, it);
}

void mc_store_new_cas(mc_store_t *st, mc_item_t *it, const mc_opts_t *opts)
{
    if (opts && opts->new_cas)
        it->cas = opts->new_cas;
    else
        it->cas = st->next_cas++;
}

/* Put NEW in OLD's place (OLD may be NULL). */
static void replace(mc_store_t *st, mc_item_t *old, mc_item_t *it)
{
    if (old)
        mc_store_unlink(st, old);
    item_link(st, it);
}

/* A copy of OLD with ADD appended (or prepended). */
static mc_item_t *concat(mc_store_t *st, mc_item_t *old, mc_item_t *add,
                         int append)
{
    size_t n = (size_t)old->nbytes + add->nbytes;
    mc_item_t *it;
    char *v;

    /* Both old and add stay allocated while the result is made, so room is
     * made for it on top of them; where there is none, the append fails. */
    if (n > UINT32_MAX - 2 || mc_store_item_size(old->nkey, n) > st->max_item)
        return NULL;
    /* out of the LRU while room is made, so that eviction cannot free it;
     * the key is taken from ADD, which is not in the store at all */
    lru_unlink(st, old);
    it = mc_store_alloc(st, add->data, add->nkey, old->flags, old->exptime, n);
    lru_push(st, old);
    if (it == NULL)
        return NULL;
    v = mc_item_value(it);
    if (append) {
        memcpy(v, mc_item_value(old), old->nbytes);
        memcpy(v + old->nbytes, mc_item_value(add), add->nbytes);
    } else {
        memcpy(v, mc_item_value(add), add->nbytes);
        memcpy(v + add->nbytes, mc_item_value(old), old->nbytes);
    }
    memcpy(v + n, "\r\n", 2);
    it->iflags =
        old->iflags & (MC_IT_STALE | MC_IT_WON | MC_IT_FETCHED | MC_IT_BINKEY);
    return it;
}

mc_result_t mc_store_store(mc_store_t *st, mc_item_t *it, mc_mode_t mode,
                           const mc_opts_t *opts, uint64_t *cas_out)
{
    static const mc_opts_t none;
    mc_item_t *old, *res;
    int stale = 0;

    if (opts == NULL)
        opts = &none;
    st->stats.cmd_set++;
    old = find(st, it->data, it->nkey, it->hv);
    if (opts->has_cas) {
        if (old == NULL) {
            st->stats.cas_misses++;
            mc_store_discard(st, it);
            return MC_NOT_FOUND;
        }
        if (old->cas != opts->cas) {
            if (!(opts->stale_ok && opts->cas < old->cas)) {
                st->stats.cas_badval++;
                mc_store_discard(st, it);
                return MC_EXISTS;
            }
            stale = 1;
        }
        st->stats.cas_hits++;
    }
    switch (mode) {
    case MC_MODE_ADD:
        if (old) {
            /* memcached bumps the existing item on a failed add */
            lru_unlink(st, old);
            lru_push(st, old);
            mc_store_discard(st, it);
            return MC_NOT_STORED;
        }
        break;
    case MC_MODE_REPLACE:
    case MC_MODE_APPEND:
    case MC_MODE_PREPEND:
        if (old == NULL) {
            mc_store_discard(st, it);
            return MC_NOT_STORED;
        }
        break;
    case MC_MODE_SET:
        break;
    }
    res = it;
    if (mode == MC_MODE_APPEND || mode == MC_MODE_PREPEND) {
        res = concat(st, old, it, mode == MC_MODE_APPEND);
        mc_store_discard(st, it);
        if (res == NULL)
            return MC_NO_MEMORY;
    }
    if (stale && old) {
        /* a stale write keeps the TTL and the win state of what it
         * replaces */
        res->exptime = old->exptime;
        res->iflags |= MC_IT_STALE | (old->iflags & MC_IT_WON);
    }
    mc_store_new_cas(st, res, opts);
    replace(st, old, res);
    if (cas_out)
        *cas_out = res->cas;
    if (st->watch)
        watch_tell(st, MC_WATCH_STORE, res);
    return MC_STORED;
}

mc_result_t mc_store_delete(mc_store_t *st, const char *key, size_t nkey,
                            const mc_opts_t *opts)
{
    mc_item_t *it = mc_store_find(st, key, nkey);

    if (it == NULL) {
        st->stats.delete_misses++;
        return MC_NOT_FOUND;
    }
    if (opts && opts->has_cas && opts->cas != it->cas)
        return MC_EXISTS;
    st->stats.delete_hits++;
    if (st->watch)
        watch_tell(st, MC_WATCH_DELETE, it);
    mc_store_unlink(st, it);
    return MC_DELETED;
}

/* ---- arithmetic -----------------------------------------------------------
 */

mc_result_t mc_store_arith(mc_store_t *st, const char *key, size_t nkey,
                           int incr, uint64_t delta, const mc_opts_t *opts,
                           uint64_t *value, mc_item_t **itp)
{
    mc_item_t *it = mc_store_find(st, key, nkey), *nit;
    char buf[24];
    uint64_t v;
    size_t n;

    if (it == NULL) {
        if (incr)
            st->stats.incr_misses++;
        else
            st->stats.decr_misses++;
        return MC_NOT_FOUND;
    }
    if (opts && opts->has_cas && opts->cas != it->cas)
        return MC_EXISTS;
    if (it->nbytes == 0 ||
        mc_strtoull_item(mc_item_value(it), it->nbytes + 2, &v) != 0)
        return MC_NON_NUMERIC;
    if (incr) {
        v += delta;
        st->stats.incr_hits++;
    } else {
        v = delta > v ? 0 : v - delta;
        st->stats.decr_hits++;
    }
    n = mc_u64toa(buf, v);
    if (n <= it->nbytes) {
        /* in place, padded with spaces: what memcached clients see */
        memcpy(mc_item_value(it), buf, n);
        memset(mc_item_value(it) + n, ' ', it->nbytes - n);
        mc_store_new_cas(st, it, opts);
        nit = it;
    } else {
        /* it stays out of the LRU, safe from eviction, while room is
         * made for the longer number */
        lru_unlink(st, it);
        nit = mc_store_alloc(st, key, nkey, it->flags, it->exptime, n);
        lru_push(st, it);
        if (nit == NULL)
            return MC_NO_MEMORY;
        memcpy(mc_item_value(nit), buf, n);
        memcpy(mc_item_value(nit) + n, "\r\n", 2);
        nit->iflags = it->iflags &
                      (MC_IT_FETCHED | MC_IT_STALE | MC_IT_WON | MC_IT_BINKEY);
        mc_store_new_cas(st, nit, opts);
        replace(st, it, nit);
    }
    if (value)
        *value = v;
    if (itp)
        *itp = nit;
    return MC_STORED;
}

mc_result_t mc_store_touch(mc_store_t *st, const char *key, size_t nkey,
                           uint32_t exptime, mc_item_t **itp)
{
    mc_item_t *it = mc_store_find(st, key, nkey);

    st->stats.cmd_touch++;
    if (it == NULL) {
        st->stats.touch_misses++;
        return MC_NOT_FOUND;
    }
    st->stats.touch_hits++;
    it->exptime = exptime;
    if (itp)
        *itp = it;
    return MC_TOUCHED;
}

void mc_store_flush(mc_store_t *st, uint32_t when)
{
    st->stats.cmd_flush++;
    if (when == 0 || when <= st->now) {
        st->flush_at = 0;
        st->flush_cas = st->next_cas++; /* memcached spends one too */
    } else {
        st->flush_at = when;
    }
}

/* ---- background work ------------------------------------------------------
 */

size_t mc_store_tick(mc_store_t *st, size_t budget)
{
    size_t done = 0;

    while (st->resizing && done < budget / 2 + 1) {
        rehash_step(st);
        done++;
    }
    if (st->resizing)
        return budget; /* sweep again once the table is whole */
    while (done < budget && st->stats.curr_items) {
        mc_item_t *it = st->tab[0][st->sweep], *next;

        for (; it; it = next) {
            next = it->hnext;
            st->stats.crawler_items_checked++;
            if (item_expired(st, it) || item_flushed(st, it)) {
                st->stats.crawler_reclaimed++;
                reclaim(st, it);
            }
            done++;
        }
        done++;
        st->sweep = (st->sweep + 1) & (st->size[0] - 1);
        if (st->sweep == 0)
            break; /* one full pass per call at most */
    }
    return done;
}

void mc_store_foreach(mc_store_t *st, int (*fn)(mc_item_t *it, void *arg),
                      void *arg)
{
    int t;
    size_t i;

    for (t = 0; t < 2; t++) {
        if (st->tab[t] == NULL)
            continue;
        for (i = 0; i < st->size[t]; i++) {
            mc_item_t *it, *next;

            for (it = st->tab[t][i]; it; it = next) {
                next = it->hnext;
                if (item_expired(st, it) || item_flushed(st, it))
                    continue;
                if (fn(it, arg))
                    return;
            }
        }
    }
}

/* Bits of V in reverse order: the scan cursor runs through hash values
 * low bits first, so that one bucket of a table of any size is one
 * contiguous range of cursor positions. */
static uint32_t rev32(uint32_t v)
{
    v = (v >> 1 & 0x55555555u) | (v & 0x55555555u) << 1;
    v = (v >> 2 & 0x33333333u) | (v & 0x33333333u) << 2;
    v = (v >> 4 & 0x0f0f0f0fu) | (v & 0x0f0f0f0fu) << 4;
    v = (v >> 8 & 0x00ff00ffu) | (v & 0x00ff00ffu) << 8;
    return v >> 16 | v << 16;
}

/* The cursor sits on a bucket boundary of the table it was advanced in,
 * which is one of every larger table too: while the table only grows, a
 * bucket holds nothing below FROM.  The check keeps that so if it ever
 * shrinks. */
static void scan_chain(mc_store_t *st, mc_item_t *it, uint64_t from,
                       void (*fn)(mc_item_t *it, void *arg), void *arg)
{
    for (; it; it = it->hnext)
        if (rev32(it->hv) >= from && !item_expired(st, it) &&
            !item_flushed(st, it))
            fn(it, arg);
}

int mc_store_scan(mc_store_t *st, uint64_t *cursor,
                  void (*fn)(mc_item_t *it, void *arg), void *arg)
{
    unsigned bits = 0, shift;
    uint64_t at = *cursor;
    size_t b;

    if (at >= ((uint64_t)1 << 32))
        return 0;
    while (((size_t)1 << bits) < st->size[0])
        bits++;
    /* the bucket of the main table that holds position AT: its number
     * is the top BITS of the position, reversed */
    shift = 32 - bits;
    b = bits ? rev32((uint32_t)(at >> shift)) >> shift : 0;
    if (st->resizing && b < st->rehash) {
        /* moved: its items are in the two buckets of the larger table
         * that split its range */
        scan_chain(st, st->tab[1][b], at, fn, arg);
        scan_chain(st, st->tab[1][b + st->size[0]], at, fn, arg);
    } else {
        scan_chain(st, st->tab[0][b], at, fn, arg);
    }
    *cursor = ((at >> shift) + 1) << shift;
    return *cursor < ((uint64_t)1 << 32);
}

void mc_store_foreach_lru(mc_store_t *st, int (*fn)(mc_item_t *it, void *arg),
                          void *arg)
{
    mc_item_t *it;

    for (it = st->head; it; it = it->next)
        if (!item_expired(st, it) && !item_flushed(st, it) && fn(it, arg))
            return;
}

/* ---- life cycle and stats -------------------------------------------------
 */

mc_store_t *mc_store_new(size_t memory, size_t max_item, uint64_t seed)
{
    mc_store_t *st = xcalloc(1, sizeof(*st));

    st->size[0] = (size_t)1 << MC_HASH_INIT_POWER;
    st->tab[0] = xcalloc(st->size[0], sizeof(mc_item_t *));
    st->memory = memory;
    st->max_item = max_item;
    st->seed = mix64(seed ^ 0x6c6f6f6d6d63ULL);
    st->next_cas = 1;
    return st;
}

void mc_store_free(mc_store_t *st)
{
    mc_item_t *it, *next;

    if (st == NULL)
        return;
    for (it = st->head; it; it = next) {
        next = it->next;
        free(it);
    }
    free(st->tab[0]);
    free(st->tab[1]);
    free(st);
}

void mc_store_set_limits(mc_store_t *st, size_t memory, size_t max_item)
{
    st->memory = memory;
    st->max_item = max_item;
    make_room(st, 0);
}

size_t mc_store_memory(const mc_store_t *st)
{
    return st->memory;
}

size_t mc_store_max_item(const mc_store_t *st)
{
    return st->max_item;
}

const mc_store_stats_t *mc_store_stats(mc_store_t *st)
{
    st->stats.hash_buckets = st->size[0];
    st->stats.hash_expanding = st->resizing;
    st->stats.lru_tail_atime = st->tail ? st->tail->atime : 0;
    return &st->stats;
}

void mc_store_stats_reset(mc_store_t *st)
{
    mc_store_stats_t keep = st->stats;

    memset(&st->stats, 0, sizeof(st->stats));
    st->stats.curr_items = keep.curr_items;
    st->stats.bytes = keep.bytes;
    st->stats.total_items = keep.total_items;
}

uint64_t mc_store_peek_cas(const mc_store_t *st)
{
    return st->next_cas;
}

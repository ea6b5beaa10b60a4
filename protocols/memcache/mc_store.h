/*
 * mc_store.h - the memcache item store, a component of its own so that
 * other modules (HTTP over keys, DNS answers from keys) can use it too.
 *
 * One hash table that grows incrementally (a few buckets moved per
 * operation and per tick, never a stop-the-world rehash), one LRU list,
 * and a memory limit: the bytes accounted for items (header, key, value,
 * allocator rounding) never exceed `memory`; storing evicts from the cold
 * end of the LRU first.  Expiry is lazy on access plus a bounded sweep in
 * mc_store_tick().  CAS uniques come from one 64-bit counter.
 *
 * The store does no I/O and reads no clock: the owner sets the time with
 * mc_store_set_time() (tests inject any clock they like).  Single-threaded:
 * an item pointer returned by a lookup stays valid until the next call
 * that may allocate, store, delete or tick.
 */
#ifndef MC_STORE_H
#define MC_STORE_H

#include <stddef.h>
#include <stdint.h>

#define MC_KEY_MAX 250

/* Item flags (mc_item_t.iflags) used by the meta protocol. */
#define MC_IT_FETCHED 0x01 /* read at least once since stored */
#define MC_IT_STALE 0x02   /* invalidated (md I / ms I): serve, but stale */
#define MC_IT_WON 0x04     /* a win token (W) has been handed out */
#define MC_IT_LINKED 0x08  /* in the hash table and LRU */
#define MC_IT_BINKEY 0x10  /* stored with a base64 (binary) meta key */

typedef struct mc_item_s mc_item_t;
struct mc_item_s {
    mc_item_t *hnext;       /* hash chain */
    mc_item_t *prev, *next; /* LRU: head is the most recently used */
    uint64_t cas;
    uint32_t exptime; /* absolute Unix time; 0 = never */
    uint32_t atime;   /* last access, Unix time */
    uint32_t flags;   /* client flags */
    uint32_t nbytes;  /* value length (CRLF stored after it) */
    uint32_t hv;      /* hash of the key */
    uint8_t nkey;
    uint8_t iflags; /* MC_IT_* */
    char data[];    /* key, value, "\r\n" */
};

/* The key and the value (followed by "\r\n") of an item. */
#define mc_item_key(it) ((it)->data)
#define mc_item_value(it) ((it)->data + (it)->nkey)

typedef struct mc_store_s mc_store_t;

/* How a stored item meets the one already there. */
typedef enum {
    MC_MODE_SET,
    MC_MODE_ADD,     /* only if absent */
    MC_MODE_REPLACE, /* only if present */
    MC_MODE_APPEND,  /* value after the old one; old flags and TTL kept */
    MC_MODE_PREPEND
} mc_mode_t;

typedef enum {
    MC_STORED,
    MC_NOT_STORED,
    MC_EXISTS, /* CAS mismatch */
    MC_NOT_FOUND,
    MC_DELETED,
    MC_TOUCHED,
    MC_NON_NUMERIC, /* arith on a value that is not a decimal number */
    MC_NO_MEMORY    /* an item larger than the whole memory limit */
} mc_result_t;

/* Options of one store operation; zero-initialise and set what applies. */
typedef struct {
    int has_cas; /* compare: act only if the item's CAS is `cas` */
    uint64_t cas;
    uint64_t new_cas; /* explicit CAS for the result (0: next from counter) */
    int stale_ok;     /* (meta I) a CAS older than the item's stores anyway,
                       * marking the result stale */
} mc_opts_t;

typedef struct {
    uint64_t curr_items, total_items, bytes;
    uint64_t evictions, evicted_unfetched, expired_unfetched, reclaimed;
    uint64_t get_hits, get_misses, get_expired, get_flushed;
    uint64_t cmd_set, cmd_touch, cmd_flush;
    uint64_t touch_hits, touch_misses, delete_hits, delete_misses;
    uint64_t incr_hits, incr_misses, decr_hits, decr_misses;
    uint64_t cas_hits, cas_misses, cas_badval;
    uint64_t evicted_nonzero; /* evicted items that had an expiry time */
    uint64_t evicted_time;    /* seconds the last evicted item sat unused */
    uint64_t outofmemory;     /* allocations refused for want of room */
    uint64_t crawler_reclaimed, crawler_items_checked; /* by the sweep */
    uint32_t lru_tail_atime; /* last access of the least recent item (0) */
    uint64_t hash_buckets;   /* buckets in the main table */
    int hash_expanding;      /* a resize is in progress */
} mc_store_stats_t;

/* A store with MEMORY bytes for items and MAX_ITEM as the largest item
 * (accounted size); SEED perturbs the key hash.  Never NULL. */
mc_store_t *mc_store_new(size_t memory, size_t max_item, uint64_t seed);

/* Free the store and every item. */
void mc_store_free(mc_store_t *st);

/* Change the limits (on reload); evicts at once if now over MEMORY. */
void mc_store_set_limits(mc_store_t *st, size_t memory, size_t max_item);

size_t mc_store_memory(const mc_store_t *st);
size_t mc_store_max_item(const mc_store_t *st);

/* Set the current Unix time (and run a flush whose time has come). */
void mc_store_set_time(mc_store_t *st, uint32_t now);
uint32_t mc_store_now(const mc_store_t *st);

/* Turn a protocol exptime into an absolute time as memcached does: 0 is
 * never, negative is already expired, up to 30 days is relative, beyond
 * is absolute Unix time (in the past: already expired). */
uint32_t mc_store_exptime(const mc_store_t *st, int64_t exptime);

/* Bytes an item with NKEY and NBYTES accounts for. */
size_t mc_store_item_size(size_t nkey, size_t nbytes);

/* The live item for KEY, or NULL (an expired or flushed item found on the
 * way is reclaimed).  Counts nothing and does not touch the LRU. */
mc_item_t *mc_store_find(mc_store_t *st, const char *key, size_t nkey);

/* Record a read hit: mark fetched, set the access time, move to the hot
 * end of the LRU unless NOBUMP. */
void mc_store_hit(mc_store_t *st, mc_item_t *it, int nobump);

/* Count a lookup as a hit or a miss in the stats (mc_store_find does not). */
void mc_store_count_get(mc_store_t *st, int hit);

/* A new, unlinked item with room for NBYTES of value (the caller fills
 * mc_item_value(it) with NBYTES and then "\r\n"), evicting as needed.
 * NULL when the item would exceed max_item or the whole memory limit. */
mc_item_t *mc_store_alloc(mc_store_t *st, const char *key, size_t nkey,
                          uint32_t flags, uint32_t exptime, size_t nbytes);

/* Free an item that was allocated but never stored. */
void mc_store_discard(mc_store_t *st, mc_item_t *it);

/* Store IT (from mc_store_alloc) under MODE with OPTS (may be NULL).  The
 * store owns IT afterwards whatever the result.  Returns MC_STORED,
 * MC_NOT_STORED, MC_EXISTS (CAS mismatch), MC_NOT_FOUND (CAS given, no
 * item) or MC_NO_MEMORY (append/prepend result too large).  *CAS_OUT
 * (may be NULL) gets the new item's CAS when stored. */
mc_result_t mc_store_store(mc_store_t *st, mc_item_t *it, mc_mode_t mode,
                           const mc_opts_t *opts, uint64_t *cas_out);

/* What a watch is told: an item was stored (IT is the new item) or a key
 * deleted (IT is the item going away, still readable). */
typedef enum { MC_WATCH_STORE, MC_WATCH_DELETE } mc_watch_op_t;
typedef void (*mc_watch_fn)(void *arg, mc_watch_op_t op, const mc_item_t *it);

/* Call FN(ARG, ...) after every store (set, add, replace, append,
 * prepend, cas) and before every delete of a key that begins with one of
 * the N strings PREFIXES (borrowed: they must outlive the watch).  FN NULL
 * removes the watch.  Without a watch a store costs one test more. */
void mc_store_set_watch(mc_store_t *st, char *const *prefixes, size_t n,
                        mc_watch_fn fn, void *arg);

/* Delete KEY (if OPTS->cas is set, only on a CAS match).  Returns
 * MC_DELETED, MC_NOT_FOUND or MC_EXISTS. */
mc_result_t mc_store_delete(mc_store_t *st, const char *key, size_t nkey,
                            const mc_opts_t *opts);

/* Unlink and free a live item. */
void mc_store_unlink(mc_store_t *st, mc_item_t *it);

/* Add (INCR) or subtract DELTA to the decimal value of KEY: 64-bit
 * unsigned, incr wraps, decr floors at 0.  A shorter result is padded
 * with spaces in place, as memcached does.  Returns MC_STORED with
 * *VALUE and *ITP (may be NULL) set, MC_NOT_FOUND, MC_NON_NUMERIC or
 * MC_EXISTS (CAS mismatch). */
mc_result_t mc_store_arith(mc_store_t *st, const char *key, size_t nkey,
                           int incr, uint64_t delta, const mc_opts_t *opts,
                           uint64_t *value, mc_item_t **itp);

/* Set the expiry of KEY.  Returns MC_TOUCHED or MC_NOT_FOUND; *ITP (may be
 * NULL) gets the item. */
mc_result_t mc_store_touch(mc_store_t *st, const char *key, size_t nkey,
                           uint32_t exptime, mc_item_t **itp);

/* Give IT a fresh CAS (or OPTS->new_cas). */
void mc_store_new_cas(mc_store_t *st, mc_item_t *it, const mc_opts_t *opts);

/* Invalidate every item now (WHEN == 0) or at absolute time WHEN.  The
 * items are reclaimed lazily and by the sweep. */
void mc_store_flush(mc_store_t *st, uint32_t when);

/* Background work, bounded by BUDGET units (a bucket moved or an item
 * looked at): incremental rehash and reclaiming expired items.  Returns
 * the work done; call again later if it equals BUDGET. */
size_t mc_store_tick(mc_store_t *st, size_t budget);

/* Call FN for every live item (for stats and diagnostics); stops when FN
 * returns non-zero. */
void mc_store_foreach(mc_store_t *st, int (*fn)(mc_item_t *it, void *arg),
                      void *arg);

/* Visit (FN) the live items of the next slice of the key space and move
 * *CURSOR (0 to begin) past it; returns 1 while there is more to visit, 0
 * once the whole space has been.  Keeping only *CURSOR between calls is
 * safe whatever happens in between: an item present from the first call
 * to the last is visited exactly once, even across a table resize; items
 * stored or removed meanwhile may or may not be.  FN must not change the
 * store. */
int mc_store_scan(mc_store_t *st, uint64_t *cursor,
                  void (*fn)(mc_item_t *it, void *arg), void *arg);

/* The live items from the most recently used on, for FN until it returns
 * non-zero.  FN must not change the store. */
void mc_store_foreach_lru(mc_store_t *st, int (*fn)(mc_item_t *it, void *arg),
                          void *arg);

/* Counters (read-only view) and their reset (`stats reset`). */
const mc_store_stats_t *mc_store_stats(mc_store_t *st);
void mc_store_stats_reset(mc_store_t *st);

/* The next CAS unique without using it (diagnostics). */
uint64_t mc_store_peek_cas(const mc_store_t *st);

#endif

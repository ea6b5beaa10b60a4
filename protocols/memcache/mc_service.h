/*
 * mc_service.h - the memcache store as a service to other instances
 * (loom_service.h): an HTTP handler over keys, a DNS answer from a key, a
 * bridge that sets a key.  Obtain it with
 *
 *     loom_service_ref_init(&ref, srv, "memcache", "cache", MC_STORE_SERVICE);
 *     const mc_store_service_t *st = loom_service_get(&ref, &self, NULL);
 *
 * and call st->get(self, ...) within the same callback (keep neither ST
 * nor SELF past it).  Every operation is the one memcache's own commands
 * do (same statistics, same LRU, same expiry and eviction); nothing is
 * copied out except through the value callback.
 */
#ifndef MC_SERVICE_H
#define MC_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#define MC_STORE_SERVICE "memcache.store/1"

/* Called once with a value found: VALUE (LEN bytes, not NUL-terminated)
 * is valid only during the call. */
typedef void (*mc_svc_value_fn)(const char *value, size_t len, uint32_t flags,
                                uint64_t cas, void *arg);

typedef struct {
    /* KEY's value: FN runs once with it and LOOM_OK is returned;
     * LOOM_DECLINED when absent (or expired); LOOM_ERROR for a key
     * memcache refuses (empty, over 250 bytes, spaces or control
     * characters).  Counted as a get and bumps the item, as `get` does. */
    int (*get)(void *self, const char *key, size_t nkey, mc_svc_value_fn fn,
               void *arg);
    /* Store VALUE under KEY as `set` does, with client FLAGS and EXPTIME
     * (memcached's rule: 0 never, up to 30 days relative seconds, else
     * Unix time).  LOOM_OK, or LOOM_ERROR with *ERR a static reason
     * ("invalid key", "value too large", "out of memory"). */
    int (*set)(void *self, const char *key, size_t nkey, const void *value,
               size_t len, uint32_t flags, int64_t exptime, const char **err);
    /* Delete KEY: LOOM_OK when it was there, LOOM_DECLINED when not,
     * LOOM_ERROR for an invalid key. */
    int (*del)(void *self, const char *key, size_t nkey);
    /* Add DELTA to KEY's decimal value (subtract when negative, stopping
     * at 0; adding wraps at 2^64, as incr/decr do): LOOM_OK with *VALUE,
     * LOOM_DECLINED when absent, LOOM_ERROR when the value is not a
     * number or the key invalid. */
    int (*incr)(void *self, const char *key, size_t nkey, int64_t delta,
                uint64_t *value);

    /* ---- added later (additions at the end keep the version) ---- */

    /* The storing commands with the new item's CAS unique in *CAS_OUT
     * (may be NULL); FLAGS, EXPTIME and *ERR as for set, whose counters
     * they bump (cmd_set, and the cas_* ones for cas).  LOOM_ERROR with
     * *ERR "invalid key", "value too large" (past the item limit) or "out
     * of memory" (no room even after evicting).
     *
     * put: set, also telling whether a live item was replaced (*REPLACED,
     * may be NULL).  LOOM_OK or LOOM_ERROR. */
    int (*put)(void *self, const char *key, size_t nkey, const void *value,
               size_t len, uint32_t flags, int64_t exptime, uint64_t *cas_out,
               int *replaced, const char **err);
    /* add: only when KEY is absent; LOOM_AGAIN when it is there (bumped in
     * the LRU as memcached does). */
    int (*add)(void *self, const char *key, size_t nkey, const void *value,
               size_t len, uint32_t flags, int64_t exptime, uint64_t *cas_out,
               const char **err);
    /* replace: only when KEY is there; LOOM_DECLINED when absent. */
    int (*replace)(void *self, const char *key, size_t nkey, const void *value,
                   size_t len, uint32_t flags, int64_t exptime,
                   uint64_t *cas_out, const char **err);
    /* cas: only when KEY's CAS unique is CAS_IN; LOOM_DECLINED when absent,
     * LOOM_AGAIN when its CAS differs. */
    int (*cas)(void *self, const char *key, size_t nkey, const void *value,
               size_t len, uint32_t flags, int64_t exptime, uint64_t cas_in,
               uint64_t *cas_out, const char **err);
    /* Delete KEY only when its CAS unique is CAS_IN (meta `md C`):
     * LOOM_OK, LOOM_DECLINED when absent, LOOM_AGAIN when the CAS
     * differs, LOOM_ERROR for an invalid key. */
    int (*del_cas)(void *self, const char *key, size_t nkey, uint64_t cas_in);
    /* The largest value KEY can hold under the store's item limit now
     * (max_item_size less the item's overhead), or 0 when memcache refuses
     * KEY.  Lets a caller refuse a value before it has all of it. */
    size_t (*max_value)(void *self, const char *key, size_t nkey);
} mc_store_service_t;

/* The table memcache instances export (SELF is their mc_store_t). */
extern const mc_store_service_t mc_store_service;

#endif

/*
 * mc_service.c - the memcache store's service table (mc_service.h): the
 * operations of memcache's get, set, delete and incr/decr for callers in
 * other modules.
 */
#include <string.h>

#include "loom.h"
#include "mc_parse.h"
#include "mc_service.h"
#include "mc_store.h"

static int svc_get(void *self, const char *key, size_t nkey, mc_svc_value_fn fn,
                   void *arg)
{
    mc_store_t *st = self;
    mc_item_t *it;

    if (!mc_key_valid(key, nkey))
        return LOOM_ERROR;
    it = mc_store_find(st, key, nkey);
    mc_store_count_get(st, it != NULL);
    if (it == NULL)
        return LOOM_DECLINED;
    mc_store_hit(st, it, 0);
    fn(mc_item_value(it), it->nbytes, it->flags, it->cas, arg);
    return LOOM_OK;
}

static int svc_set(void *self, const char *key, size_t nkey, const void *value,
                   size_t len, uint32_t flags, int64_t exptime,
                   const char **err)
{
    mc_store_t *st = self;
    mc_item_t *it;

    if (!mc_key_valid(key, nkey)) {
        *err = "invalid key";
        return LOOM_ERROR;
    }
    if (len > UINT32_MAX - 2 ||
        (it = mc_store_alloc(st, key, nkey, flags,
                             mc_store_exptime(st, exptime), len)) == NULL) {
        *err = "value too large";
        return LOOM_ERROR;
    }
    if (len)
        memcpy(mc_item_value(it), value, len);
    memcpy(mc_item_value(it) + len, "\r\n", 2);
    if (mc_store_store(st, it, MC_MODE_SET, NULL, NULL) != MC_STORED) {
        *err = "value too large";
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

static int svc_del(void *self, const char *key, size_t nkey)
{
    if (!mc_key_valid(key, nkey))
        return LOOM_ERROR;
    return mc_store_delete(self, key, nkey, NULL) == MC_DELETED ? LOOM_OK
                                                                : LOOM_DECLINED;
}

static int svc_incr(void *self, const char *key, size_t nkey, int64_t delta,
                    uint64_t *value)
{
    uint64_t mag;

    if (!mc_key_valid(key, nkey))
        return LOOM_ERROR;
    mag = delta < 0 ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
    switch (
        mc_store_arith(self, key, nkey, delta >= 0, mag, NULL, value, NULL)) {
    case MC_STORED:
        return LOOM_OK;
    case MC_NOT_FOUND:
        return LOOM_DECLINED;
    default:
        return LOOM_ERROR;
    }
}

const mc_store_service_t mc_store_service = {svc_get, svc_set, svc_del,
                                             svc_incr};

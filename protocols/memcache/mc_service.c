/*
 * mc_service.c - the memcache store's service table (mc_service.h): the
 * operations of memcache's get, set, add, replace, cas, delete and
 * incr/decr for callers in other modules.
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

/* A new item for KEY holding VALUE, or NULL with *ERR set. */
static mc_item_t *svc_item(mc_store_t *st, const char *key, size_t nkey,
                           const void *value, size_t len, uint32_t flags,
                           int64_t exptime, const char **err)
{
    mc_item_t *it;

    if (!mc_key_valid(key, nkey)) {
        *err = "invalid key";
        return NULL;
    }
    if (len > UINT32_MAX - 2 ||
        mc_store_item_size(nkey, len) > mc_store_max_item(st)) {
        *err = "value too large";
        return NULL;
    }
    it = mc_store_alloc(st, key, nkey, flags, mc_store_exptime(st, exptime),
                        len);
    if (it == NULL) {
        *err = "out of memory";
        return NULL;
    }
    if (len)
        memcpy(mc_item_value(it), value, len);
    memcpy(mc_item_value(it) + len, "\r\n", 2);
    return it;
}

/* Store a new item for KEY under MODE (compared with CAS_IN when HAS_CAS)
 * as the storing commands do; the service's return codes. */
static int svc_store(void *self, const char *key, size_t nkey,
                     const void *value, size_t len, uint32_t flags,
                     int64_t exptime, mc_mode_t mode, int has_cas,
                     uint64_t cas_in, uint64_t *cas_out, int *replaced,
                     const char **err)
{
    mc_store_t *st = self;
    mc_opts_t opts;
    mc_item_t *it = svc_item(st, key, nkey, value, len, flags, exptime, err);

    if (it == NULL)
        return LOOM_ERROR;
    if (replaced) /* mc_store_find counts nothing and reclaims the expired */
        *replaced = mc_store_find(st, key, nkey) != NULL;
    memset(&opts, 0, sizeof(opts));
    opts.has_cas = has_cas;
    opts.cas = cas_in;
    switch (mc_store_store(st, it, mode, &opts, cas_out)) {
    case MC_STORED:
        return LOOM_OK;
    case MC_NOT_FOUND: /* cas on an absent key */
        return LOOM_DECLINED;
    case MC_EXISTS: /* cas mismatch */
        return LOOM_AGAIN;
    case MC_NOT_STORED: /* add on a present key, replace on an absent one */
        return mode == MC_MODE_ADD ? LOOM_AGAIN : LOOM_DECLINED;
    default:
        *err = "out of memory";
        return LOOM_ERROR;
    }
}

static int svc_set(void *self, const char *key, size_t nkey, const void *value,
                   size_t len, uint32_t flags, int64_t exptime,
                   const char **err)
{
    return svc_store(self, key, nkey, value, len, flags, exptime, MC_MODE_SET,
                     0, 0, NULL, NULL, err);
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

static int svc_put(void *self, const char *key, size_t nkey, const void *value,
                   size_t len, uint32_t flags, int64_t exptime,
                   uint64_t *cas_out, int *replaced, const char **err)
{
    return svc_store(self, key, nkey, value, len, flags, exptime, MC_MODE_SET,
                     0, 0, cas_out, replaced, err);
}

static int svc_add(void *self, const char *key, size_t nkey, const void *value,
                   size_t len, uint32_t flags, int64_t exptime,
                   uint64_t *cas_out, const char **err)
{
    return svc_store(self, key, nkey, value, len, flags, exptime, MC_MODE_ADD,
                     0, 0, cas_out, NULL, err);
}

static int svc_replace(void *self, const char *key, size_t nkey,
                       const void *value, size_t len, uint32_t flags,
                       int64_t exptime, uint64_t *cas_out, const char **err)
{
    return svc_store(self, key, nkey, value, len, flags, exptime,
                     MC_MODE_REPLACE, 0, 0, cas_out, NULL, err);
}

static int svc_cas(void *self, const char *key, size_t nkey, const void *value,
                   size_t len, uint32_t flags, int64_t exptime, uint64_t cas_in,
                   uint64_t *cas_out, const char **err)
{
    return svc_store(self, key, nkey, value, len, flags, exptime, MC_MODE_SET,
                     1, cas_in, cas_out, NULL, err);
}

static int svc_del_cas(void *self, const char *key, size_t nkey,
                       uint64_t cas_in)
{
    mc_opts_t opts;

    if (!mc_key_valid(key, nkey))
        return LOOM_ERROR;
    memset(&opts, 0, sizeof(opts));
    opts.has_cas = 1;
    opts.cas = cas_in;
    switch (mc_store_delete(self, key, nkey, &opts)) {
    case MC_DELETED:
        return LOOM_OK;
    case MC_EXISTS:
        return LOOM_AGAIN;
    default:
        return LOOM_DECLINED;
    }
}

static size_t svc_max_value(void *self, const char *key, size_t nkey)
{
    size_t max = mc_store_max_item(self), base, n;

    if (!mc_key_valid(key, nkey))
        return 0;
    /* the item's overhead, rounded up: a value of MAX - BASE always fits,
     * and the rounding leaves less than 48 bytes more to find */
    base = mc_store_item_size(nkey, 0);
    n = base < max ? max - base : 0;
    while (n < UINT32_MAX - 2 && mc_store_item_size(nkey, n + 1) <= max)
        n++;
    return n;
}

const mc_store_service_t mc_store_service = {
    svc_get, svc_set,     svc_del, svc_incr,    svc_put,
    svc_add, svc_replace, svc_cas, svc_del_cas, svc_max_value};

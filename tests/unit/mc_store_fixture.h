/*
 * mc_store_fixture.h - helpers of the memcache store's unit tests
 * (test_mc_store.c, test_mc_walk.c): a store on an injected clock, storing
 * and checking items, and running again with freed memory scribbled over.
 */
#ifndef MC_STORE_FIXTURE_H
#define MC_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mc_parse.h"
#include "mc_store.h"

#define T0 1700000000u /* the injected "now" of every test */
#define DAY (24 * 60 * 60)
#define MB (1024 * 1024)

/* ---- helpers --------------------------------------------------------------
 */

static inline mc_store_t *store_new(size_t memory, size_t max_item)
{
    mc_store_t *st = mc_store_new(memory, max_item, 42);

    assert_non_null(st);
    mc_store_set_time(st, T0);
    return st;
}

/* Store KEY = VAL (LEN bytes) with MODE; the protocol EXPTIME is turned into
 * an absolute time as the executor does.  MC_NO_MEMORY if the allocation
 * fails. */
static inline mc_result_t put_len(mc_store_t *st, const char *key,
                                  const char *val, size_t len, uint32_t flags,
                                  int64_t exptime, mc_mode_t mode,
                                  const mc_opts_t *opts, uint64_t *cas)
{
    mc_item_t *it = mc_store_alloc(st, key, strlen(key), flags,
                                   mc_store_exptime(st, exptime), len);

    if (it == NULL)
        return MC_NO_MEMORY;
    memcpy(mc_item_value(it), val, len);
    memcpy(mc_item_value(it) + len, "\r\n", 2);
    return mc_store_store(st, it, mode, opts, cas);
}

static inline mc_result_t put(mc_store_t *st, const char *key, const char *val,
                              uint32_t flags, int64_t exptime, mc_mode_t mode)
{
    return put_len(st, key, val, strlen(val), flags, exptime, mode, NULL, NULL);
}

static inline mc_result_t set(mc_store_t *st, const char *key, const char *val)
{
    return put(st, key, val, 0, 0, MC_MODE_SET);
}

static inline mc_item_t *find(mc_store_t *st, const char *key)
{
    return mc_store_find(st, key, strlen(key));
}

/* KEY is live with exactly value WANT (and the stored CRLF after it). */
static inline int value_is(mc_store_t *st, const char *key, const char *want)
{
    mc_item_t *it = find(st, key);
    size_t n = strlen(want);

    if (it == NULL) {
        print_message("# '%s': not found, want '%s'\n", key, want);
        return 0;
    }
    if (it->nkey != strlen(key) || memcmp(mc_item_key(it), key, it->nkey)) {
        print_message("# '%s': item has key '%.*s'\n", key, (int)it->nkey,
                      mc_item_key(it));
        return 0;
    }
    if (it->nbytes != n || memcmp(mc_item_value(it), want, n) != 0 ||
        memcmp(mc_item_value(it) + n, "\r\n", 2) != 0) {
        print_message("# '%s': value '%.*s' (%u bytes), want '%s'\n", key,
                      (int)it->nbytes, mc_item_value(it), (unsigned)it->nbytes,
                      want);
        return 0;
    }
    return 1;
}

static inline const mc_store_stats_t *stats(mc_store_t *st)
{
    return mc_store_stats(st);
}

/* Sum of the accounted sizes of the live items, and their number. */
typedef struct {
    uint64_t n, bytes;
} sum_t;

static inline int sum_item(mc_item_t *it, void *arg)
{
    sum_t *s = arg;

    s->n++;
    s->bytes += mc_store_item_size(it->nkey, it->nbytes);
    return 0;
}

static inline sum_t sum_items(mc_store_t *st)
{
    sum_t s = {0, 0};

    mc_store_foreach(st, sum_item, &s);
    return s;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static inline uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Run again with freed memory overwritten (glibc's malloc
 * perturbation, its per-thread cache off): a use after free in the store
 * then shows up as a wrong key or value even in a build without ASan. */
static inline void reexec_perturbed(char **argv)
{
#ifdef __GLIBC__
    if (getenv("LOOM_MC_STORE_REEXEC") != NULL ||
        getenv("GLIBC_TUNABLES") != NULL)
        return;
    setenv("LOOM_MC_STORE_REEXEC", "1", 1);
    setenv("GLIBC_TUNABLES",
           "glibc.malloc.perturb=165:glibc.malloc.tcache_count=0", 1);
    execv("/proc/self/exe", argv);
    /* not possible here: run as we are */
    unsetenv("GLIBC_TUNABLES");
#else
    (void)argv;
#endif
}

#endif

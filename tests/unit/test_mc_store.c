/*
 * test_mc_store.c - the memcache item store (protocols/memcache/mc_store.h):
 * LRU order and eviction under the memory limit, expiry with an injected
 * clock, CAS, arithmetic, append/prepend, add/replace/delete/touch, flush
 * and the counters (the walks over the store are in test_mc_walk.c).
 *
 * The program re-executes itself once with glibc's malloc perturbation on
 * and its per-thread cache off, so that freed memory is scribbled over at
 * once: a use after free in the store then shows up as a wrong key or value
 * even in a build without ASan.
 */
#include "mc_store_fixture.h"

/* ---- basics ---------------------------------------------------------------
 */

static void test_set_find(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    mc_item_t *it;
    char key[MC_KEY_MAX + 2];

    (void)state;
    assert_null(find(st, "k"));
    assert_int_equal(put(st, "k", "value", 123, 0, MC_MODE_SET), MC_STORED);
    assert_true(value_is(st, "k", "value"));
    it = find(st, "k");
    assert_int_equal(it->flags, 123);
    assert_int_equal(it->exptime, 0);
    assert_true(it->iflags & MC_IT_LINKED);
    assert_false(it->iflags & MC_IT_FETCHED);
    assert_int_equal(stats(st)->curr_items, 1);
    assert_int_equal(stats(st)->total_items, 1);
    assert_int_equal(stats(st)->bytes, mc_store_item_size(1, 5));
    /* a prefix or an extension of the key is another key */
    assert_null(find(st, "kk"));
    assert_null(mc_store_find(st, "k", 0));
    /* overwrite: still one item, the new value and flags */
    assert_int_equal(put(st, "k", "v2", 7, 0, MC_MODE_SET), MC_STORED);
    assert_true(value_is(st, "k", "v2"));
    assert_int_equal(find(st, "k")->flags, 7);
    assert_int_equal(stats(st)->curr_items, 1);
    assert_int_equal(stats(st)->bytes, mc_store_item_size(1, 2));
    /* an empty value */
    assert_int_equal(set(st, "empty", ""), MC_STORED);
    assert_true(value_is(st, "empty", ""));
    /* keys of 250 bytes are fine, longer ones are never found */
    memset(key, 'a', sizeof(key));
    key[MC_KEY_MAX] = '\0';
    assert_int_equal(set(st, key, "x"), MC_STORED);
    assert_true(value_is(st, key, "x"));
    assert_null(mc_store_find(st, key, MC_KEY_MAX + 1));
    assert_null(mc_store_alloc(st, key, MC_KEY_MAX + 1, 0, 0, 1));
    /* binary keys */
    assert_non_null(it = mc_store_alloc(st, "a\0b", 3, 0, 0, 1));
    memcpy(mc_item_value(it), "z\r\n", 3);
    assert_int_equal(mc_store_store(st, it, MC_MODE_SET, NULL, NULL),
                     MC_STORED);
    assert_non_null(mc_store_find(st, "a\0b", 3));
    assert_null(mc_store_find(st, "a\0c", 3));
    assert_null(find(st, "a"));
    mc_store_free(st);
}

static void test_item_size(void **state)
{
    (void)state;
    /* header + key + value + CRLF, rounded up, monotonic */
    assert_true(mc_store_item_size(1, 1) >= sizeof(mc_item_t) + 1 + 1 + 2);
    assert_true(mc_store_item_size(10, 1000) >=
                sizeof(mc_item_t) + 10 + 1000 + 2);
    assert_true(mc_store_item_size(10, 1001) >= mc_store_item_size(10, 1000));
    assert_int_equal(mc_store_item_size(3, 100) % 8, 0);
}

static void test_alloc_limits(void **state)
{
    size_t max_item = mc_store_item_size(1, 1000);
    mc_store_t *st = store_new(4 * max_item, max_item);
    mc_item_t *it;

    (void)state;
    assert_int_equal(mc_store_memory(st), 4 * max_item);
    assert_int_equal(mc_store_max_item(st), max_item);
    /* exactly max_item is fine, one size class more is not */
    it = mc_store_alloc(st, "k", 1, 0, 0, 1000);
    assert_non_null(it);
    mc_store_discard(st, it);
    assert_null(mc_store_alloc(st, "k", 1, 0, 0, 1100));
    /* a discarded item gives its bytes back */
    it = mc_store_alloc(st, "k", 1, 0, 0, 1000);
    assert_non_null(it);
    mc_store_discard(st, it);
    mc_store_discard(st, NULL);
    /* an item larger than the whole memory limit */
    mc_store_set_limits(st, 4 * max_item, 8 * max_item);
    assert_null(mc_store_alloc(st, "k", 1, 0, 0, 5 * 1000));
    assert_int_equal(stats(st)->bytes, 0);
    mc_store_free(st);
}

/* ---- LRU and eviction -----------------------------------------------------
 */

#define LRU_N 10

static void fill_keys(mc_store_t *st, int from, int to)
{
    char key[16], val[101];
    int i;

    memset(val, 'v', 100);
    val[100] = '\0';
    for (i = from; i < to; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_int_equal(set(st, key, val), MC_STORED);
    }
}

static int live(mc_store_t *st, int i)
{
    char key[16];

    snprintf(key, sizeof(key), "k%03d", i);
    return mc_store_find(st, key, strlen(key)) != NULL;
}

static void test_lru_order(void **state)
{
    size_t isz = mc_store_item_size(4, 100);
    mc_store_t *st = store_new(LRU_N * isz, LRU_N * isz);
    int i;

    (void)state;
    fill_keys(st, 0, LRU_N);
    for (i = 0; i < LRU_N; i++)
        assert_true(live(st, i));
    assert_int_equal(stats(st)->evictions, 0);
    assert_int_equal(stats(st)->bytes, LRU_N * isz);

    /* k000 is read: it moves to the hot end */
    mc_store_hit(st, find(st, "k000"), 0);
    assert_true(find(st, "k000")->iflags & MC_IT_FETCHED);
    /* a read without bump (meta u / nobump) leaves k001 where it was */
    mc_store_hit(st, find(st, "k001"), 1);

    /* each new item evicts the oldest one not read since */
    fill_keys(st, LRU_N, LRU_N + 1);
    assert_true(live(st, 0));
    assert_false(live(st, 1)); /* fetched but not bumped */
    assert_true(live(st, 2));
    assert_int_equal(stats(st)->evictions, 1);
    assert_int_equal(stats(st)->evicted_unfetched, 0);
    fill_keys(st, LRU_N + 1, LRU_N + 2);
    assert_false(live(st, 2));
    assert_true(live(st, 3));
    assert_int_equal(stats(st)->evictions, 2);
    assert_int_equal(stats(st)->evicted_unfetched, 1);

    /* a find alone does not bump */
    assert_true(live(st, 3));
    fill_keys(st, LRU_N + 2, LRU_N + 3);
    assert_false(live(st, 3));

    /* overwriting a key makes it the newest */
    fill_keys(st, 4, 5);
    fill_keys(st, LRU_N + 3, LRU_N + 4);
    assert_true(live(st, 4));
    assert_false(live(st, 5));

    /* read k006 and k000 again, then push many: they go last, k006 first */
    mc_store_hit(st, find(st, "k006"), 0);
    mc_store_hit(st, find(st, "k000"), 0);
    fill_keys(st, 100, 100 + LRU_N - 2);
    assert_true(live(st, 6));
    assert_true(live(st, 0));
    for (i = 7; i < LRU_N + 4; i++)
        assert_false(live(st, i));
    fill_keys(st, 200, 201);
    assert_false(live(st, 6));
    assert_true(live(st, 0));
    fill_keys(st, 201, 202);
    assert_false(live(st, 0));
    assert_int_equal(stats(st)->curr_items, LRU_N);
    assert_true(stats(st)->bytes <= LRU_N * isz);
    mc_store_free(st);
}

/* Random sizes into a small store: the accounted bytes never exceed the
 * limit, agree with the live items, and evictions are counted. */
static void test_memory_limit(void **state)
{
    const size_t memory = 64 * 1024;
    mc_store_t *st = store_new(memory, memory / 2);
    static char val[4000];
    uint64_t stored = 0;
    char key[32];
    sum_t s;
    int i;

    (void)state;
    memset(val, 'x', sizeof(val));
    for (i = 0; i < 5000; i++) {
        size_t len = (size_t)(rnd() % sizeof(val));

        snprintf(key, sizeof(key), "key:%d", (int)(rnd() % 2000));
        assert_int_equal(
            put_len(st, key, val, len, 0, 0, MC_MODE_SET, NULL, NULL),
            MC_STORED);
        stored++;
        assert_true(stats(st)->bytes <= memory);
        if (i % 97 == 0) {
            s = sum_items(st);
            assert_int_equal(s.n, stats(st)->curr_items);
            assert_int_equal(s.bytes, stats(st)->bytes);
        }
    }
    assert_true(stats(st)->evictions > 0);
    assert_int_equal(stats(st)->total_items, stored);
    /* the store is nearly full: eviction stops as soon as an item fits */
    assert_true(stats(st)->bytes + 2 * mc_store_item_size(16, sizeof(val)) >
                memory);

    /* lowering the limit evicts at once */
    mc_store_set_limits(st, memory / 4, memory / 8);
    assert_true(stats(st)->bytes <= memory / 4);
    s = sum_items(st);
    assert_int_equal(s.bytes, stats(st)->bytes);
    assert_int_equal(s.n, stats(st)->curr_items);
    assert_int_equal(mc_store_memory(st), memory / 4);
    assert_int_equal(mc_store_max_item(st), memory / 8);
    mc_store_free(st);
}

/* Items being received (allocated, not stored) count against the limit
 * too, and are never evicted. */
static void test_memory_unlinked(void **state)
{
    size_t isz = mc_store_item_size(1, 100);
    mc_store_t *st = store_new(3 * isz, 3 * isz);
    mc_item_t *a, *b, *c;
    char v[100];

    (void)state;
    memset(v, 'v', sizeof(v));
    a = mc_store_alloc(st, "a", 1, 0, 0, 100);
    b = mc_store_alloc(st, "b", 1, 0, 0, 100);
    c = mc_store_alloc(st, "c", 1, 0, 0, 100);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(mc_store_alloc(st, "d", 1, 0, 0, 100));
    mc_store_discard(st, c);
    memcpy(mc_item_value(a), v, 100);
    memcpy(mc_item_value(a) + 100, "\r\n", 2);
    assert_int_equal(mc_store_store(st, a, MC_MODE_SET, NULL, NULL), MC_STORED);
    memcpy(mc_item_value(b), v, 100);
    memcpy(mc_item_value(b) + 100, "\r\n", 2);
    assert_int_equal(mc_store_store(st, b, MC_MODE_SET, NULL, NULL), MC_STORED);
    assert_true(stats(st)->bytes <= 3 * isz);
    /* now a can be evicted for d */
    c = mc_store_alloc(st, "c", 1, 0, 0, 100);
    assert_non_null(c);
    mc_store_discard(st, c);
    assert_int_equal(put_len(st, "c", v, 100, 0, 0, MC_MODE_SET, NULL, NULL),
                     MC_STORED);
    assert_int_equal(put_len(st, "d", v, 100, 0, 0, MC_MODE_SET, NULL, NULL),
                     MC_STORED);
    assert_null(find(st, "a"));
    assert_non_null(find(st, "b"));
    assert_non_null(find(st, "d"));
    assert_true(stats(st)->bytes <= 3 * isz);
    mc_store_free(st);
}

/* ---- expiry ---------------------------------------------------------------
 */

static void test_exptime_conversion(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    uint32_t e;

    (void)state;
    assert_int_equal(mc_store_now(st), T0);
    assert_int_equal(mc_store_exptime(st, 0), 0);
    assert_int_equal(mc_store_exptime(st, 1), T0 + 1);
    assert_int_equal(mc_store_exptime(st, 100), T0 + 100);
    /* 30 days is still relative */
    assert_int_equal(mc_store_exptime(st, 30 * DAY), T0 + 30 * DAY);
    /* one second more is an absolute Unix time: 1970, long past */
    e = mc_store_exptime(st, 30 * DAY + 1);
    assert_true(e != 0 && e <= T0);
    /* absolute times */
    assert_int_equal(mc_store_exptime(st, (int64_t)T0 + 500), T0 + 500);
    e = mc_store_exptime(st, (int64_t)T0 - 500);
    assert_true(e != 0 && e <= T0);
    e = mc_store_exptime(st, T0);
    assert_true(e != 0 && e <= T0);
    /* negative: already expired */
    e = mc_store_exptime(st, -1);
    assert_true(e != 0 && e <= T0);
    e = mc_store_exptime(st, INT32_MIN);
    assert_true(e != 0 && e <= T0);
    mc_store_free(st);
}

static void test_expiry_relative(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);

    (void)state;
    assert_int_equal(put(st, "ttl", "v", 0, 10, MC_MODE_SET), MC_STORED);
    assert_int_equal(put(st, "forever", "v", 0, 0, MC_MODE_SET), MC_STORED);
    assert_int_equal(put(st, "month", "v", 0, 30 * DAY, MC_MODE_SET),
                     MC_STORED);
    assert_int_equal(find(st, "ttl")->exptime, T0 + 10);
    mc_store_set_time(st, T0 + 9);
    assert_non_null(find(st, "ttl"));
    mc_store_set_time(st, T0 + 10);
    /* lazy: still accounted until looked at */
    assert_int_equal(stats(st)->curr_items, 3);
    assert_null(find(st, "ttl"));
    assert_int_equal(stats(st)->curr_items, 2);
    assert_int_equal(stats(st)->reclaimed, 1);
    assert_int_equal(stats(st)->get_expired, 1);
    assert_int_equal(stats(st)->expired_unfetched, 1);
    assert_int_equal(stats(st)->bytes,
                     mc_store_item_size(7, 1) + mc_store_item_size(5, 1));
    mc_store_set_time(st, T0 + 30 * DAY - 1);
    assert_non_null(find(st, "month"));
    mc_store_set_time(st, T0 + 30 * DAY);
    assert_null(find(st, "month"));
    mc_store_set_time(st, T0 + 3650 * DAY);
    assert_non_null(find(st, "forever"));
    mc_store_free(st);
}

static void test_expiry_absolute_and_negative(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);

    (void)state;
    /* 30 days + 1 is absolute time in 1970: expired at once */
    assert_int_equal(put(st, "old", "v", 0, 30 * DAY + 1, MC_MODE_SET),
                     MC_STORED);
    assert_null(find(st, "old"));
    assert_int_equal(put(st, "past", "v", 0, (int64_t)T0 - 1, MC_MODE_SET),
                     MC_STORED);
    assert_null(find(st, "past"));
    assert_int_equal(put(st, "neg", "v", 0, -1, MC_MODE_SET), MC_STORED);
    assert_null(find(st, "neg"));
    /* a negative TTL on an existing key removes it */
    assert_int_equal(set(st, "k", "v"), MC_STORED);
    assert_int_equal(put(st, "k", "w", 0, -1, MC_MODE_SET), MC_STORED);
    assert_null(find(st, "k"));
    /* absolute in the future */
    assert_int_equal(put(st, "abs", "v", 0, (int64_t)T0 + 100, MC_MODE_SET),
                     MC_STORED);
    assert_int_equal(find(st, "abs")->exptime, T0 + 100);
    mc_store_set_time(st, T0 + 99);
    assert_non_null(find(st, "abs"));
    mc_store_set_time(st, T0 + 100);
    assert_null(find(st, "abs"));
    assert_int_equal(stats(st)->curr_items, 0);
    assert_int_equal(stats(st)->bytes, 0);
    mc_store_free(st);
}

/* Expired items are reclaimed by the sweep without any lookup. */
static void test_expiry_tick(void **state)
{
    mc_store_t *st = store_new(16 * MB, MB);
    char key[32];
    int i, calls;

    (void)state;
    for (i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(
            put(st, key, "v", 0, i % 3 == 0 ? 0 : 5 + i % 3, MC_MODE_SET),
            MC_STORED);
    }
    /* one item was read before expiring */
    mc_store_hit(st, find(st, "key1"), 0);
    mc_store_set_time(st, T0 + 4);
    for (calls = 0; calls < 10000; calls++)
        if (mc_store_tick(st, 4096) < 4096)
            break;
    assert_int_equal(stats(st)->curr_items, 300);
    assert_int_equal(stats(st)->reclaimed, 0);

    mc_store_set_time(st, T0 + 7);
    for (calls = 0; calls < 10000 && stats(st)->curr_items > 100; calls++)
        mc_store_tick(st, 4096);
    assert_int_equal(stats(st)->curr_items, 100);
    assert_int_equal(stats(st)->reclaimed, 200);
    assert_int_equal(stats(st)->expired_unfetched, 199);
    assert_int_equal(stats(st)->get_expired, 0); /* no lookup did it */
    assert_int_equal(stats(st)->bytes, sum_items(st).bytes);
    for (i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_true((find(st, key) != NULL) == (i % 3 == 0));
    }
    /* a tick on an empty store does no harm */
    mc_store_flush(st, 0);
    for (calls = 0; calls < 10000 && stats(st)->curr_items > 0; calls++)
        mc_store_tick(st, 4096);
    assert_int_equal(stats(st)->curr_items, 0);
    assert_int_equal(stats(st)->bytes, 0);
    mc_store_tick(st, 4096);
    mc_store_tick(st, 0);
    mc_store_free(st);
}

/* Eviction reclaims an expired item at the cold end instead of counting an
 * eviction. */
static void test_expired_before_evicted(void **state)
{
    size_t isz = mc_store_item_size(4, 100);
    mc_store_t *st = store_new(LRU_N * isz, LRU_N * isz);
    char val[101];

    (void)state;
    memset(val, 'v', 100);
    val[100] = '\0';
    assert_int_equal(put(st, "k000", val, 0, 5, MC_MODE_SET), MC_STORED);
    fill_keys(st, 1, LRU_N);
    mc_store_set_time(st, T0 + 5);
    fill_keys(st, LRU_N, LRU_N + 1);
    assert_int_equal(stats(st)->evictions, 0);
    assert_int_equal(stats(st)->reclaimed, 1);
    assert_true(live(st, 1));
    mc_store_free(st);
}

/* ---- CAS ------------------------------------------------------------------
 */

static void test_cas_unique(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    uint64_t c1 = 0, c2 = 0, c3 = 0, c4 = 0;
    mc_opts_t o = {0};

    (void)state;
    assert_int_equal(put_len(st, "a", "1", 1, 0, 0, MC_MODE_SET, NULL, &c1),
                     MC_STORED);
    assert_int_equal(put_len(st, "b", "1", 1, 0, 0, MC_MODE_SET, NULL, &c2),
                     MC_STORED);
    assert_int_equal(put_len(st, "a", "2", 1, 0, 0, MC_MODE_SET, NULL, &c3),
                     MC_STORED);
    assert_true(c1 != 0);
    assert_true(c1 < c2 && c2 < c3);
    assert_int_equal(find(st, "a")->cas, c3);
    assert_int_equal(find(st, "b")->cas, c2);
    assert_true(mc_store_peek_cas(st) > c3);
    /* every change gives a new, larger CAS */
    assert_int_equal(put_len(st, "a", "x", 1, 0, 0, MC_MODE_APPEND, NULL, &c4),
                     MC_STORED);
    assert_true(c4 > c3);
    assert_int_equal(find(st, "a")->cas, c4);
    assert_int_equal(mc_store_arith(st, "a", 1, 1, 1, NULL, NULL, NULL),
                     MC_NON_NUMERIC);
    assert_int_equal(set(st, "n", "5"), MC_STORED);
    c1 = find(st, "n")->cas;
    assert_int_equal(mc_store_arith(st, "n", 1, 1, 1, NULL, NULL, NULL),
                     MC_STORED);
    assert_true(find(st, "n")->cas > c1);
    c1 = find(st, "n")->cas;
    mc_store_new_cas(st, find(st, "n"), NULL);
    assert_true(find(st, "n")->cas > c1);
    /* an explicit CAS (meta E) */
    o.new_cas = 777777;
    assert_int_equal(put_len(st, "e", "1", 1, 0, 0, MC_MODE_SET, &o, &c1),
                     MC_STORED);
    assert_int_equal(c1, 777777);
    assert_int_equal(find(st, "e")->cas, 777777);
    mc_store_new_cas(st, find(st, "e"), &o);
    assert_int_equal(find(st, "e")->cas, 777777);
    mc_store_free(st);
}

static void test_cas_compare(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    mc_opts_t o = {0};
    uint64_t c = 0, c2 = 0;

    (void)state;
    assert_int_equal(put_len(st, "k", "v1", 2, 0, 0, MC_MODE_SET, NULL, &c),
                     MC_STORED);
    /* mismatch */
    o.has_cas = 1;
    o.cas = c + 1;
    assert_int_equal(put_len(st, "k", "v2", 2, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_EXISTS);
    assert_true(value_is(st, "k", "v1"));
    assert_int_equal(stats(st)->cas_badval, 1);
    /* match */
    o.cas = c;
    assert_int_equal(put_len(st, "k", "v3", 2, 0, 0, MC_MODE_SET, &o, &c2),
                     MC_STORED);
    assert_true(value_is(st, "k", "v3"));
    assert_true(c2 > c);
    assert_int_equal(stats(st)->cas_hits, 1);
    /* the old CAS no longer matches */
    assert_int_equal(put_len(st, "k", "v4", 2, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_EXISTS);
    assert_true(value_is(st, "k", "v3"));
    /* not found */
    assert_int_equal(put_len(st, "nope", "v", 1, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_NOT_FOUND);
    assert_null(find(st, "nope"));
    assert_int_equal(stats(st)->cas_misses, 1);
    /* an expired item is not found either */
    assert_int_equal(put_len(st, "exp", "v", 1, 0, 1, MC_MODE_SET, NULL, &c),
                     MC_STORED);
    mc_store_set_time(st, T0 + 1);
    o.cas = c;
    assert_int_equal(put_len(st, "exp", "v", 1, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_NOT_FOUND);
    /* delete with CAS */
    o.cas = c2 + 100;
    assert_int_equal(mc_store_delete(st, "k", 1, &o), MC_EXISTS);
    assert_non_null(find(st, "k"));
    o.cas = c2;
    assert_int_equal(mc_store_delete(st, "k", 1, &o), MC_DELETED);
    assert_null(find(st, "k"));
    /* arith with CAS */
    assert_int_equal(put_len(st, "n", "10", 2, 0, 0, MC_MODE_SET, NULL, &c),
                     MC_STORED);
    o.cas = c + 1;
    assert_int_equal(mc_store_arith(st, "n", 1, 1, 1, &o, NULL, NULL),
                     MC_EXISTS);
    assert_true(value_is(st, "n", "10"));
    o.cas = c;
    assert_int_equal(mc_store_arith(st, "n", 1, 1, 1, &o, NULL, NULL),
                     MC_STORED);
    assert_true(value_is(st, "n", "11"));
    mc_store_free(st);
}

/* meta I: a CAS older than the item's stores anyway, marked stale, keeping
 * the TTL of what it replaces; a newer (or unknown) one still fails. */
static void test_cas_stale_ok(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    mc_opts_t o = {0};
    uint64_t c_old = 0, c_new = 0, c = 0;
    mc_item_t *it;

    (void)state;
    assert_int_equal(
        put_len(st, "k", "v1", 2, 0, 100, MC_MODE_SET, NULL, &c_old),
        MC_STORED);
    assert_int_equal(
        put_len(st, "k", "v2", 2, 0, 100, MC_MODE_SET, NULL, &c_new),
        MC_STORED);
    o.has_cas = 1;
    o.stale_ok = 1;
    o.cas = c_new + 5; /* newer than the item: refused */
    assert_int_equal(put_len(st, "k", "v3", 2, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_EXISTS);
    assert_true(value_is(st, "k", "v2"));
    o.cas = c_old; /* older: stored, stale */
    assert_int_equal(put_len(st, "k", "v4", 2, 0, 0, MC_MODE_SET, &o, &c),
                     MC_STORED);
    assert_true(value_is(st, "k", "v4"));
    it = find(st, "k");
    assert_true(it->iflags & MC_IT_STALE);
    assert_int_equal(it->exptime, T0 + 100);
    assert_int_equal(it->cas, c);
    /* an exact match is a normal store, not stale */
    assert_int_equal(put_len(st, "k2", "v", 1, 0, 0, MC_MODE_SET, NULL, &c),
                     MC_STORED);
    o.cas = c;
    assert_int_equal(put_len(st, "k2", "w", 1, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_STORED);
    assert_false(find(st, "k2")->iflags & MC_IT_STALE);
    /* without stale_ok an older CAS fails */
    o.stale_ok = 0;
    o.cas = c_old;
    assert_int_equal(put_len(st, "k", "v5", 2, 0, 0, MC_MODE_SET, &o, NULL),
                     MC_EXISTS);
    mc_store_free(st);
}

/* ---- arithmetic -----------------------------------------------------------
 */

typedef struct {
    const char *before;
    int incr;
    uint64_t delta;
    mc_result_t res;
    uint64_t value;
    const char *after; /* the stored value, padding included */
} arith_case_t;

static const arith_case_t arith_cases[] = {
    {"10", 1, 5, MC_STORED, 15, "15"},
    {"0", 1, 0, MC_STORED, 0, "0"},
    {"9", 1, 1, MC_STORED, 10, "10"}, /* longer: grows */
    {"99", 1, 1, MC_STORED, 100, "100"},
    {"9999999999999", 1, 1, MC_STORED, 10000000000000ULL, "10000000000000"},
    {"100", 0, 95, MC_STORED, 5, "5  "}, /* shorter: padded in place */
    {"100", 0, 1, MC_STORED, 99, "99 "},
    {"1000", 0, 1000, MC_STORED, 0, "0   "},
    {"5", 0, 10, MC_STORED, 0, "0"}, /* decr floors at 0 */
    {"0", 0, 1, MC_STORED, 0, "0"},
    {"7", 0, UINT64_MAX, MC_STORED, 0, "0"},
    {"18446744073709551615", 1, 1, MC_STORED, 0,
     "0                   "}, /* incr wraps at 2^64 */
    {"18446744073709551615", 1, 2, MC_STORED, 1, "1                   "},
    {"1", 1, UINT64_MAX, MC_STORED, 0, "0"},
    {"18446744073709551614", 1, 1, MC_STORED, UINT64_MAX,
     "18446744073709551615"},
    {"18446744073709551615", 0, 1, MC_STORED, 18446744073709551614ULL,
     "18446744073709551614"},
    {" 12", 1, 1, MC_STORED, 13, "13 "}, /* leading spaces are fine */
    {"12 ", 1, 1, MC_STORED, 13, "13 "}, /* as after padding */
    {"5  ", 1, 1000, MC_STORED, 1005, "1005"},
    {"+5", 1, 1, MC_STORED, 6, "6 "},
    {"-0", 1, 1, MC_STORED, 1, "1 "},
    {"007", 1, 1, MC_STORED, 8, "8  "},
    {"-5", 1, 1, MC_NON_NUMERIC, 0, "-5"},
    {"-1", 0, 1, MC_NON_NUMERIC, 0, "-1"},
    {"abc", 1, 1, MC_NON_NUMERIC, 0, "abc"},
    {"", 1, 1, MC_NON_NUMERIC, 0, ""},
    {" ", 1, 1, MC_NON_NUMERIC, 0, " "},
    {"12a", 1, 1, MC_NON_NUMERIC, 0, "12a"},
    {"1.5", 1, 1, MC_NON_NUMERIC, 0, "1.5"},
    {"0x10", 1, 1, MC_NON_NUMERIC, 0, "0x10"},
    {"18446744073709551616", 1, 1, MC_NON_NUMERIC, 0,
     "18446744073709551616"}, /* 2^64: out of range */
    {"99999999999999999999", 1, 1, MC_NON_NUMERIC, 0, "99999999999999999999"},
};

static void test_arith(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(arith_cases); i++) {
        const arith_case_t *t = &arith_cases[i];
        mc_store_t *st = store_new(MB, MB / 2);
        uint64_t v = 12345, cas0;
        mc_item_t *it = NULL;
        mc_result_t res;

        assert_int_equal(put(st, "n", t->before, 42, 1000, MC_MODE_SET),
                         MC_STORED);
        cas0 = find(st, "n")->cas;
        res = mc_store_arith(st, "n", 1, t->incr, t->delta, NULL, &v, &it);
        if (res != t->res) {
            print_message("# FAIL '%s' %s %llu: result %d, want %d\n",
                          t->before, t->incr ? "incr" : "decr",
                          (unsigned long long)t->delta, (int)res, (int)t->res);
            failed++;
        } else if (res == MC_STORED &&
                   (v != t->value || it == NULL || it != find(st, "n") ||
                    it->cas <= cas0)) {
            print_message("# FAIL '%s' %s %llu: value %llu, want %llu\n",
                          t->before, t->incr ? "incr" : "decr",
                          (unsigned long long)t->delta, (unsigned long long)v,
                          (unsigned long long)t->value);
            failed++;
        }
        if (!value_is(st, "n", t->after)) {
            print_message("# FAIL '%s' %s %llu: stored value wrong\n",
                          t->before, t->incr ? "incr" : "decr",
                          (unsigned long long)t->delta);
            failed++;
        } else {
            /* flags and TTL survive, the accounting follows the size */
            it = find(st, "n");
            if (it->flags != 42 || it->exptime != T0 + 1000 ||
                stats(st)->bytes != mc_store_item_size(1, strlen(t->after)) ||
                stats(st)->curr_items != 1) {
                print_message("# FAIL '%s': flags %u exptime %u bytes %llu\n",
                              t->before, (unsigned)it->flags,
                              (unsigned)it->exptime,
                              (unsigned long long)stats(st)->bytes);
                failed++;
            }
        }
        mc_store_free(st);
    }
    assert_int_equal(failed, 0);
}

static void test_arith_misc(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    uint64_t v = 0;
    int i;

    (void)state;
    assert_int_equal(mc_store_arith(st, "none", 4, 1, 1, NULL, &v, NULL),
                     MC_NOT_FOUND);
    assert_int_equal(mc_store_arith(st, "none", 4, 0, 1, NULL, &v, NULL),
                     MC_NOT_FOUND);
    assert_int_equal(stats(st)->incr_misses, 1);
    assert_int_equal(stats(st)->decr_misses, 1);
    /* a counter climbing through every length */
    assert_int_equal(set(st, "c", "0"), MC_STORED);
    for (i = 0; i < 19; i++)
        assert_int_equal(mc_store_arith(st, "c", 1, 1, 9, NULL, &v, NULL),
                         MC_STORED);
    assert_int_equal(v, 171);
    assert_true(value_is(st, "c", "171"));
    assert_int_equal(stats(st)->incr_hits, 19);
    /* decr then incr within the padded length keeps the length */
    assert_int_equal(mc_store_arith(st, "c", 1, 0, 170, NULL, &v, NULL),
                     MC_STORED);
    assert_true(value_is(st, "c", "1  "));
    assert_int_equal(mc_store_arith(st, "c", 1, 1, 10, NULL, &v, NULL),
                     MC_STORED);
    assert_true(value_is(st, "c", "11 "));
    assert_int_equal(stats(st)->decr_hits, 1);
    /* an expired counter is not found */
    assert_int_equal(put(st, "e", "1", 0, 1, MC_MODE_SET), MC_STORED);
    mc_store_set_time(st, T0 + 1);
    assert_int_equal(mc_store_arith(st, "e", 1, 1, 1, NULL, &v, NULL),
                     MC_NOT_FOUND);
    mc_store_free(st);
}

/* A counter that grows a digit while the store is full and the counter is
 * the coldest item: making room for the new item evicts the old one.  The
 * result must be the right value under the right key (or a clean failure),
 * never a value copied out of the freed item. */
static void test_arith_grow_when_full(void **state)
{
    size_t isz = mc_store_item_size(1, 2);
    mc_store_t *st = store_new(2 * isz, 2 * isz);
    mc_result_t res;
    uint64_t v = 0;
    sum_t s;

    (void)state;
    assert_int_equal(mc_store_item_size(1, 3), isz); /* same size class */
    assert_int_equal(set(st, "n", "99"), MC_STORED);
    assert_int_equal(set(st, "x", "ab"), MC_STORED); /* n is now coldest */
    res = mc_store_arith(st, "n", 1, 1, 1, NULL, &v, NULL);
    assert_true(res == MC_STORED || res == MC_NO_MEMORY);
    if (res == MC_STORED) {
        assert_int_equal(v, 100);
        assert_true(value_is(st, "n", "100"));
    }
    s = sum_items(st);
    assert_int_equal(s.n, stats(st)->curr_items);
    assert_int_equal(s.bytes, stats(st)->bytes);
    assert_true(stats(st)->bytes <= 2 * isz);
    mc_store_free(st);
}

/* ---- append / prepend -----------------------------------------------------
 */

static void test_append_prepend(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    mc_item_t *it;
    uint64_t c0;

    (void)state;
    assert_int_equal(put(st, "k", "mid", 7, 100, MC_MODE_SET), MC_STORED);
    c0 = find(st, "k")->cas;
    /* the flags and TTL of the append itself are ignored */
    assert_int_equal(put(st, "k", "-end", 99, 5, MC_MODE_APPEND), MC_STORED);
    assert_true(value_is(st, "k", "mid-end"));
    it = find(st, "k");
    assert_false(it->iflags & MC_IT_FETCHED); /* an append is not a read */
    assert_int_equal(it->flags, 7);
    assert_int_equal(it->exptime, T0 + 100);
    assert_true(it->cas > c0);
    assert_int_equal(put(st, "k", "pre-", 98, -1, MC_MODE_PREPEND), MC_STORED);
    assert_true(value_is(st, "k", "pre-mid-end"));
    it = find(st, "k");
    assert_int_equal(it->flags, 7);
    assert_int_equal(it->exptime, T0 + 100);
    assert_int_equal(put(st, "k", "", 0, 0, MC_MODE_APPEND), MC_STORED);
    assert_true(value_is(st, "k", "pre-mid-end"));
    assert_int_equal(stats(st)->curr_items, 1);
    assert_int_equal(stats(st)->bytes, mc_store_item_size(1, 11));
    /* still expires when the original would have */
    mc_store_set_time(st, T0 + 99);
    assert_non_null(find(st, "k"));
    mc_store_set_time(st, T0 + 100);
    assert_null(find(st, "k"));
    /* nothing to append to */
    assert_int_equal(put(st, "none", "x", 0, 0, MC_MODE_APPEND), MC_NOT_STORED);
    assert_int_equal(put(st, "none", "x", 0, 0, MC_MODE_PREPEND),
                     MC_NOT_STORED);
    assert_null(find(st, "none"));
    assert_int_equal(stats(st)->curr_items, 0);
    assert_int_equal(stats(st)->bytes, 0);
    mc_store_free(st);
}

static void test_append_cas_and_limits(void **state)
{
    size_t max_item = mc_store_item_size(1, 100), nmax = 100;
    mc_store_t *st = store_new(MB, max_item);
    static char big[200];
    mc_opts_t o = {0};
    uint64_t c = 0;

    (void)state;
    /* the largest value of a one-byte key that max_item allows */
    while (mc_store_item_size(1, nmax + 1) <= max_item)
        nmax++;
    memset(big, 'b', sizeof(big));
    assert_int_equal(put_len(st, "k", "ab", 2, 0, 0, MC_MODE_SET, NULL, &c),
                     MC_STORED);
    o.has_cas = 1;
    o.cas = c + 1;
    assert_int_equal(put_len(st, "k", "c", 1, 0, 0, MC_MODE_APPEND, &o, NULL),
                     MC_EXISTS);
    assert_true(value_is(st, "k", "ab"));
    assert_int_equal(put_len(st, "k", "c", 1, 0, 0, MC_MODE_PREPEND, &o, NULL),
                     MC_EXISTS);
    o.cas = c;
    assert_int_equal(put_len(st, "k", "c", 1, 0, 0, MC_MODE_APPEND, &o, NULL),
                     MC_STORED);
    assert_true(value_is(st, "k", "abc"));
    /* the result would be larger than max_item: refused, old value kept */
    assert_int_equal(
        put_len(st, "k", big, nmax - 3 + 1, 0, 0, MC_MODE_APPEND, NULL, NULL),
        MC_NO_MEMORY);
    assert_true(value_is(st, "k", "abc"));
    assert_int_equal(
        put_len(st, "k", big, nmax - 3 + 1, 0, 0, MC_MODE_PREPEND, NULL, NULL),
        MC_NO_MEMORY);
    assert_true(value_is(st, "k", "abc"));
    assert_int_equal(stats(st)->bytes, mc_store_item_size(1, 3));
    assert_int_equal(stats(st)->curr_items, 1);
    /* exactly max_item is fine */
    assert_int_equal(
        put_len(st, "k", big, nmax - 3, 0, 0, MC_MODE_APPEND, NULL, NULL),
        MC_STORED);
    assert_int_equal(find(st, "k")->nbytes, nmax);
    assert_memory_equal(mc_item_value(find(st, "k")), "abcbbb", 6);
    mc_store_free(st);
}

/* Appending to an item that takes most of the memory: the old item has to
 * go to make room for the result.  The append may fail, but must not store
 * bytes read from the freed item (nor under a garbage key). */
static void test_append_when_full(void **state)
{
    size_t isz = mc_store_item_size(1, 600);
    mc_store_t *st = store_new(2 * isz, 2 * isz);
    static char val[700];
    mc_result_t res;
    sum_t s;

    (void)state;
    memset(val, 'a', sizeof(val));
    assert_int_equal(put_len(st, "k", val, 600, 5, 0, MC_MODE_SET, NULL, NULL),
                     MC_STORED);
    res = put_len(st, "k", "z", 1, 0, 0, MC_MODE_APPEND, NULL, NULL);
    assert_true(res == MC_STORED || res == MC_NO_MEMORY);
    if (res == MC_STORED) {
        mc_item_t *it = find(st, "k");

        assert_non_null(it);
        assert_int_equal(it->nbytes, 601);
        assert_memory_equal(mc_item_value(it), val, 600);
        assert_memory_equal(mc_item_value(it) + 600, "z\r\n", 3);
        assert_int_equal(it->flags, 5);
    }
    s = sum_items(st);
    assert_int_equal(s.n, stats(st)->curr_items);
    assert_int_equal(s.bytes, stats(st)->bytes);
    assert_true(s.n == 0 || find(st, "k") != NULL);
    assert_true(stats(st)->bytes <= 2 * isz);
    mc_store_free(st);
}

/* ---- add / replace / delete / touch ----------------------------------------
 */

static void test_add_replace(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);

    (void)state;
    assert_int_equal(put(st, "k", "1", 0, 0, MC_MODE_REPLACE), MC_NOT_STORED);
    assert_null(find(st, "k"));
    assert_int_equal(put(st, "k", "1", 0, 0, MC_MODE_ADD), MC_STORED);
    assert_true(value_is(st, "k", "1"));
    assert_int_equal(put(st, "k", "2", 0, 0, MC_MODE_ADD), MC_NOT_STORED);
    assert_true(value_is(st, "k", "1"));
    assert_int_equal(put(st, "k", "3", 9, 0, MC_MODE_REPLACE), MC_STORED);
    assert_true(value_is(st, "k", "3"));
    assert_int_equal(find(st, "k")->flags, 9);
    assert_int_equal(stats(st)->curr_items, 1);
    assert_int_equal(stats(st)->bytes, mc_store_item_size(1, 1));
    /* an expired item counts as absent */
    assert_int_equal(put(st, "e", "1", 0, 2, MC_MODE_SET), MC_STORED);
    mc_store_set_time(st, T0 + 2);
    assert_int_equal(put(st, "e", "2", 0, 0, MC_MODE_REPLACE), MC_NOT_STORED);
    assert_int_equal(put(st, "e", "3", 0, 0, MC_MODE_ADD), MC_STORED);
    assert_true(value_is(st, "e", "3"));
    /* a flushed one too */
    mc_store_flush(st, 0);
    assert_int_equal(put(st, "k", "4", 0, 0, MC_MODE_ADD), MC_STORED);
    assert_true(value_is(st, "k", "4"));
    mc_store_free(st);
}

/* A failed add bumps the existing item in the LRU (as memcached) but does
 * not change what is known about it: an item that was read stays "fetched"
 * (meta h, evicted_unfetched). */
static void test_add_fail_bumps(void **state)
{
    size_t isz = mc_store_item_size(4, 100);
    /* room for one more: the add's own allocation evicts nothing */
    mc_store_t *st = store_new((LRU_N + 1) * isz, isz);
    char val[101];

    (void)state;
    memset(val, 'v', 100);
    val[100] = '\0';
    fill_keys(st, 0, LRU_N);
    assert_int_equal(put(st, "k000", val, 0, 0, MC_MODE_ADD), MC_NOT_STORED);
    assert_int_equal(stats(st)->evictions, 0);
    fill_keys(st, LRU_N, LRU_N + 2);
    assert_int_equal(stats(st)->evictions, 1);
    assert_true(live(st, 0)); /* bumped */
    assert_false(live(st, 1));
    assert_false(find(st, "k000")->iflags & MC_IT_FETCHED);

    mc_store_hit(st, find(st, "k002"), 0);
    assert_true(find(st, "k002")->iflags & MC_IT_FETCHED);
    assert_int_equal(put(st, "k002", val, 0, 0, MC_MODE_ADD), MC_NOT_STORED);
    assert_true(find(st, "k002")->iflags & MC_IT_FETCHED);
    mc_store_free(st);
}

static void test_delete(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    mc_item_t *it;

    (void)state;
    assert_int_equal(mc_store_delete(st, "k", 1, NULL), MC_NOT_FOUND);
    assert_int_equal(set(st, "k", "v"), MC_STORED);
    assert_int_equal(set(st, "k2", "v"), MC_STORED);
    assert_int_equal(mc_store_delete(st, "k", 1, NULL), MC_DELETED);
    assert_null(find(st, "k"));
    assert_non_null(find(st, "k2"));
    assert_int_equal(mc_store_delete(st, "k", 1, NULL), MC_NOT_FOUND);
    assert_int_equal(stats(st)->delete_hits, 1);
    assert_int_equal(stats(st)->delete_misses, 2);
    assert_int_equal(stats(st)->curr_items, 1);
    assert_int_equal(stats(st)->bytes, mc_store_item_size(2, 1));
    /* an expired item cannot be deleted */
    assert_int_equal(put(st, "e", "v", 0, 1, MC_MODE_SET), MC_STORED);
    mc_store_set_time(st, T0 + 1);
    assert_int_equal(mc_store_delete(st, "e", 1, NULL), MC_NOT_FOUND);
    /* unlink */
    it = find(st, "k2");
    mc_store_unlink(st, it);
    assert_null(find(st, "k2"));
    assert_int_equal(stats(st)->curr_items, 0);
    assert_int_equal(stats(st)->bytes, 0);
    /* a deleted key can be added again */
    assert_int_equal(put(st, "k", "new", 0, 0, MC_MODE_ADD), MC_STORED);
    assert_true(value_is(st, "k", "new"));
    mc_store_free(st);
}

static void test_touch(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    mc_item_t *it = NULL;

    (void)state;
    assert_int_equal(mc_store_touch(st, "k", 1, 0, &it), MC_NOT_FOUND);
    assert_int_equal(put(st, "k", "v", 0, 10, MC_MODE_SET), MC_STORED);
    assert_int_equal(mc_store_touch(st, "k", 1, mc_store_exptime(st, 100), &it),
                     MC_TOUCHED);
    assert_non_null(it);
    assert_ptr_equal(it, find(st, "k"));
    assert_int_equal(it->exptime, T0 + 100);
    mc_store_set_time(st, T0 + 50);
    assert_non_null(find(st, "k"));
    /* touch to "never" */
    assert_int_equal(mc_store_touch(st, "k", 1, 0, NULL), MC_TOUCHED);
    mc_store_set_time(st, T0 + 1000);
    assert_non_null(find(st, "k"));
    /* touch to the past: gone */
    assert_int_equal(mc_store_touch(st, "k", 1, mc_store_exptime(st, -1), NULL),
                     MC_TOUCHED);
    assert_null(find(st, "k"));
    assert_int_equal(mc_store_touch(st, "k", 1, 0, NULL), MC_NOT_FOUND);
    assert_int_equal(stats(st)->touch_hits, 3);
    assert_int_equal(stats(st)->touch_misses, 2);
    assert_int_equal(stats(st)->cmd_touch, 5);
    /* an expired item cannot be touched back to life */
    assert_int_equal(put(st, "e", "v", 0, 1, MC_MODE_SET), MC_STORED);
    mc_store_set_time(st, T0 + 1001);
    assert_int_equal(mc_store_touch(st, "e", 1, 0, NULL), MC_NOT_FOUND);
    assert_null(find(st, "e"));
    mc_store_free(st);
}

/* ---- flush ----------------------------------------------------------------
 */

static void test_flush_now(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);

    (void)state;
    assert_int_equal(set(st, "a", "1"), MC_STORED);
    assert_int_equal(set(st, "b", "2"), MC_STORED);
    mc_store_flush(st, 0);
    assert_null(find(st, "a"));
    assert_int_equal(stats(st)->get_flushed, 1);
    /* stored after the flush: visible */
    assert_int_equal(set(st, "c", "3"), MC_STORED);
    assert_true(value_is(st, "c", "3"));
    assert_null(find(st, "b"));
    assert_int_equal(stats(st)->cmd_flush, 1);
    assert_int_equal(sum_items(st).n, 1);
    /* a flush "at" a time already past is immediate */
    mc_store_flush(st, T0 - 10);
    assert_null(find(st, "c"));
    assert_int_equal(set(st, "d", "4"), MC_STORED);
    assert_non_null(find(st, "d"));
    mc_store_free(st);
}

static void test_flush_delayed(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);

    (void)state;
    assert_int_equal(set(st, "a", "1"), MC_STORED);
    mc_store_flush(st, T0 + 10);
    assert_non_null(find(st, "a"));
    mc_store_set_time(st, T0 + 5);
    assert_non_null(find(st, "a"));
    /* stored before the flush time: flushed too */
    assert_int_equal(set(st, "b", "2"), MC_STORED);
    mc_store_set_time(st, T0 + 9);
    assert_non_null(find(st, "a"));
    assert_non_null(find(st, "b"));
    mc_store_set_time(st, T0 + 10);
    assert_null(find(st, "a"));
    assert_null(find(st, "b"));
    assert_int_equal(set(st, "c", "3"), MC_STORED);
    assert_non_null(find(st, "c"));
    /* the flush happens once */
    mc_store_set_time(st, T0 + 20);
    assert_non_null(find(st, "c"));
    /* a later immediate flush replaces a pending delayed one */
    mc_store_flush(st, T0 + 100);
    mc_store_flush(st, 0);
    assert_null(find(st, "c"));
    assert_int_equal(set(st, "d", "4"), MC_STORED);
    mc_store_set_time(st, T0 + 200);
    assert_non_null(find(st, "d"));
    mc_store_free(st);
}

static void test_stats_reset(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);

    (void)state;
    assert_int_equal(set(st, "a", "1"), MC_STORED);
    mc_store_count_get(st, 1);
    mc_store_count_get(st, 0);
    mc_store_count_get(st, 0);
    assert_int_equal(stats(st)->get_hits, 1);
    assert_int_equal(stats(st)->get_misses, 2);
    assert_int_equal(stats(st)->cmd_set, 1);
    mc_store_stats_reset(st);
    assert_int_equal(stats(st)->get_hits, 0);
    assert_int_equal(stats(st)->get_misses, 0);
    assert_int_equal(stats(st)->cmd_set, 0);
    assert_int_equal(stats(st)->curr_items, 1);
    assert_int_equal(stats(st)->bytes, mc_store_item_size(1, 1));
    mc_store_free(st);
    mc_store_free(NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_find),
        cmocka_unit_test(test_item_size),
        cmocka_unit_test(test_alloc_limits),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_memory_unlinked),
        cmocka_unit_test(test_exptime_conversion),
        cmocka_unit_test(test_expiry_relative),
        cmocka_unit_test(test_expiry_absolute_and_negative),
        cmocka_unit_test(test_expiry_tick),
        cmocka_unit_test(test_expired_before_evicted),
        cmocka_unit_test(test_cas_unique),
        cmocka_unit_test(test_cas_compare),
        cmocka_unit_test(test_cas_stale_ok),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_arith_misc),
        cmocka_unit_test(test_append_prepend),
        cmocka_unit_test(test_append_cas_and_limits),
        cmocka_unit_test(test_add_replace),
        cmocka_unit_test(test_add_fail_bumps),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_touch),
        cmocka_unit_test(test_flush_now),
        cmocka_unit_test(test_flush_delayed),
        cmocka_unit_test(test_stats_reset),
        /* last: under ASan a use after free ends the program */
        cmocka_unit_test(test_arith_grow_when_full),
        cmocka_unit_test(test_append_when_full),
    };

    (void)argc;
    reexec_perturbed(argv);
    return cmocka_run_group_tests_name("mc_store", tests, NULL, NULL);
}

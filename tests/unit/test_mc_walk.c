/*
 * test_mc_walk.c - walks over the memcache store (protocols/memcache/
 * mc_store.h): lookups and mc_store_foreach through an incremental resize,
 * mc_store_foreach, the cursor scan that the metadump keeps between writes
 * (each key present throughout seen exactly once while the store changes
 * and resizes between steps) and the walk from the most recent item.  Run
 * again with freed memory scribbled over, as test_mc_store.c.
 */
#include "mc_store_fixture.h"

/* ---- resize ---------------------------------------------------------------
 */

#define RS_N 200000
#define RS_BATCH 5000

static size_t rs_key(char *buf, int i)
{
    return (size_t)snprintf(buf, 32, "rs:%d:%x", i,
                            (unsigned)(i * 2654435761u));
}

static void rs_insert(mc_store_t *st, int i)
{
    char key[32], val[16];
    size_t n = rs_key(key, i), vn = (size_t)snprintf(val, sizeof(val), "%d", i);
    mc_item_t *it = mc_store_alloc(st, key, n, (uint32_t)i, 0, vn);

    assert_non_null(it);
    memcpy(mc_item_value(it), val, vn);
    memcpy(mc_item_value(it) + vn, "\r\n", 2);
    assert_int_equal(mc_store_store(st, it, MC_MODE_SET, NULL, NULL),
                     MC_STORED);
}

/* Every key below N is found with its own value; returns the number not
 * found. */
static int rs_check(mc_store_t *st, int n, int start)
{
    int k, missing = 0;

    for (k = 0; k < n; k++) {
        int i = (start + k) % n;
        char key[32];
        size_t len = rs_key(key, i);
        mc_item_t *it = mc_store_find(st, key, len);

        if (it == NULL || it->flags != (uint32_t)i) {
            if (missing++ < 5)
                print_message("# key %d not found (of %d)\n", i, n);
        }
    }
    return missing;
}

typedef struct {
    unsigned char *seen;
    int n, dup, bad;
} rs_seen_t;

static int rs_visit(mc_item_t *it, void *arg)
{
    rs_seen_t *s = arg;
    uint32_t i = it->flags;

    if (i >= (uint32_t)s->n) {
        s->bad++;
        return 0;
    }
    if (s->seen[i]++)
        s->dup++;
    return 0;
}

/* mc_store_foreach sees every key exactly once. */
static void rs_check_foreach(mc_store_t *st, int n)
{
    rs_seen_t s;
    int i;

    s.seen = calloc((size_t)n, 1);
    assert_non_null(s.seen);
    s.n = n;
    s.dup = s.bad = 0;
    mc_store_foreach(st, rs_visit, &s);
    assert_int_equal(s.dup, 0);
    assert_int_equal(s.bad, 0);
    for (i = 0; i < n; i++)
        if (s.seen[i] != 1)
            fail_msg("key %d seen %d times", i, s.seen[i]);
    free(s.seen);
}

static void test_resize_lookups(void **state)
{
    mc_store_t *st = store_new((size_t)512 * MB, MB);
    uint64_t buckets0 = stats(st)->hash_buckets;
    int i = 0, batches_expanding = 0, checks_expanding = 0;

    (void)state;
    assert_int_equal(stats(st)->hash_expanding, 0);
    while (i < RS_N) {
        int end = i + RS_BATCH;

        for (; i < end; i++) {
            rs_insert(st, i);
            if (stats(st)->hash_expanding && i % 7 == 0) {
                /* overwrite during the resize: never a second copy */
                rs_insert(st, i / 2);
            }
        }
        if (stats(st)->hash_expanding)
            batches_expanding++;
        /* first without moving anything, then with lookups (each moves a
         * bucket: the first ones run against a half-moved table) */
        rs_check_foreach(st, i);
        if (stats(st)->hash_expanding)
            checks_expanding++;
        assert_int_equal(rs_check(st, i, i / 3), 0);
        assert_int_equal(stats(st)->curr_items, (uint64_t)i);
    }
    assert_true(batches_expanding > 0);
    assert_true(checks_expanding > 0);
    assert_true(stats(st)->hash_buckets > buckets0);
    /* finish whatever resize is left with the background work */
    for (i = 0; i < 1000000 && stats(st)->hash_expanding; i++)
        mc_store_tick(st, 64);
    assert_int_equal(stats(st)->hash_expanding, 0);
    assert_int_equal(rs_check(st, RS_N, 0), 0);
    rs_check_foreach(st, RS_N);
    assert_int_equal(stats(st)->curr_items, RS_N);
    assert_int_equal(stats(st)->evictions, 0);
    mc_store_free(st);
}

/* Stop as soon as a resize starts, check the half-moved table, finish it
 * with mc_store_tick only, check again. */
static void test_resize_tick(void **state)
{
    mc_store_t *st = store_new((size_t)256 * MB, MB);
    uint64_t buckets0 = stats(st)->hash_buckets;
    int n = 0, ticks = 0;

    (void)state;
    while (!stats(st)->hash_expanding) {
        rs_insert(st, n++);
        assert_true(n < 4 * (int)buckets0);
    }
    print_message("# resize started at %d items, %llu buckets\n", n,
                  (unsigned long long)buckets0);
    rs_check_foreach(st, n);
    /* a few ticks: still expanding, everything still there */
    assert_int_equal(mc_store_tick(st, 16), 16);
    assert_int_equal(stats(st)->hash_expanding, 1);
    rs_check_foreach(st, n);
    while (stats(st)->hash_expanding) {
        size_t done = mc_store_tick(st, 256);

        assert_true(done <= 256 || !stats(st)->hash_expanding);
        if (++ticks % 50 == 0) {
            rs_check_foreach(st, n);
            /* insert while half-moved */
            rs_insert(st, n++);
        }
        assert_true(ticks < 100000);
    }
    assert_int_equal(stats(st)->hash_buckets, 2 * buckets0);
    assert_int_equal(rs_check(st, n, 0), 0);
    rs_check_foreach(st, n);
    assert_int_equal(stats(st)->curr_items, (uint64_t)n);
    mc_store_free(st);
}

/* ---- foreach and stats ----------------------------------------------------
 */

typedef struct {
    int count[16];
    int calls, stop_after;
} fe_t;

static int fe_visit(mc_item_t *it, void *arg)
{
    fe_t *f = arg;
    int i = atoi(mc_item_key(it) + 1); /* "k<i>" followed by the value */

    if (i >= 0 && i < 16)
        f->count[i]++;
    f->calls++;
    return f->stop_after && f->calls >= f->stop_after;
}

static void test_foreach(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    fe_t f;
    char key[8];
    int i;

    (void)state;
    memset(&f, 0, sizeof(f));
    mc_store_foreach(st, fe_visit, &f);
    assert_int_equal(f.calls, 0);
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(put(st, key, "v", 0, i == 3 ? 5 : 0, MC_MODE_SET),
                         MC_STORED);
    }
    assert_int_equal(mc_store_delete(st, "k5", 2, NULL), MC_DELETED);
    mc_store_set_time(st, T0 + 5); /* k3 expired, not yet reclaimed */
    mc_store_foreach(st, fe_visit, &f);
    assert_int_equal(f.calls, 8);
    for (i = 0; i < 10; i++)
        assert_int_equal(f.count[i], (i == 3 || i == 5) ? 0 : 1);
    /* stops when asked */
    memset(&f, 0, sizeof(f));
    f.stop_after = 3;
    mc_store_foreach(st, fe_visit, &f);
    assert_int_equal(f.calls, 3);
    /* flushed items are not visited */
    mc_store_flush(st, 0);
    memset(&f, 0, sizeof(f));
    mc_store_foreach(st, fe_visit, &f);
    assert_int_equal(f.calls, 0);
    mc_store_free(st);
}

/* ---- scan: a walk that keeps only a cursor --------------------------------
 */

typedef struct {
    unsigned char *seen;
    int n;
} sc_t;

static void sc_visit(mc_item_t *it, void *arg)
{
    sc_t *s = arg;

    if (it->flags < (uint32_t)s->n && s->seen[it->flags] < 255)
        s->seen[it->flags]++;
}

/* Between every step of the scan the store changes: new keys (enough to
 * start and finish table resizes), keys deleted, keys stored again.  Keys
 * that stay from start to end are seen exactly once; no key is ever seen
 * twice. */
static void test_scan(void **state)
{
    enum { N0 = 90000, ADD = 60000 };
    mc_store_t *st = store_new((size_t)512 * MB, MB);
    sc_t s = {calloc(N0 + ADD, 1), N0 + ADD};
    uint64_t cursor = 0, buckets0 = stats(st)->hash_buckets;
    int i, steps = 0, next = N0, resized_during = 0;

    (void)state;
    assert_non_null(s.seen);
    for (i = 0; i < N0; i++)
        rs_insert(st, i);
    while (mc_store_scan(st, &cursor, sc_visit, &s)) {
        steps++;
        if (next < N0 + ADD && steps % 2 == 0)
            rs_insert(st, next++);
        if (steps % 97 == 0) {
            char key[32];
            int d = (steps / 97) * 7 % N0;

            if (d % 2 == 0) { /* deleted: the odd keys are kept */
                size_t len = rs_key(key, d);

                mc_store_delete(st, key, len, NULL);
            }
        }
        if (steps % 89 == 0)
            rs_insert(st, (steps * 13) % N0 | 1); /* stored again */
        resized_during |= stats(st)->hash_expanding;
        mc_store_tick(st, 8);
        assert_true(steps < 10000000);
    }
    assert_true(cursor >= ((uint64_t)1 << 32));
    assert_false(mc_store_scan(st, &cursor, sc_visit, &s));
    assert_true(resized_during);
    assert_true(stats(st)->hash_buckets > buckets0);
    for (i = 0; i < N0 + ADD; i++) {
        if (s.seen[i] > 1)
            fail_msg("key %d seen %d times", i, s.seen[i]);
        /* the odd keys of the first batch were never deleted */
        if (i < N0 && (i & 1) && s.seen[i] != 1)
            fail_msg("key %d, there throughout, not seen", i);
    }
    free(s.seen);
    mc_store_free(st);
}

/* The LRU walk goes from the most recently used item on, skips what has
 * expired, and stops when asked. */
static void test_foreach_lru(void **state)
{
    mc_store_t *st = store_new(MB, MB / 2);
    fe_t f;
    char key[8];
    int i;

    (void)state;
    for (i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(put(st, key, "v", 0, i == 2 ? 5 : 0, MC_MODE_SET),
                         MC_STORED);
    }
    mc_store_hit(st, mc_store_find(st, "k0", 2), 0); /* k0 most recent */
    mc_store_set_time(st, T0 + 5);                   /* k2 expired */
    memset(&f, 0, sizeof(f));
    f.stop_after = 2;
    mc_store_foreach_lru(st, fe_visit, &f);
    assert_int_equal(f.calls, 2);
    assert_int_equal(f.count[0], 1);
    assert_int_equal(f.count[5], 1);
    memset(&f, 0, sizeof(f));
    mc_store_foreach_lru(st, fe_visit, &f);
    assert_int_equal(f.calls, 5);
    assert_int_equal(f.count[2], 0);
    assert_int_equal(stats(st)->lru_tail_atime, T0);
    mc_store_free(st);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_lookups),
        cmocka_unit_test(test_resize_tick),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_foreach_lru),
    };

    (void)argc;
    reexec_perturbed(argv);
    return cmocka_run_group_tests_name("mc_walk", tests, NULL, NULL);
}

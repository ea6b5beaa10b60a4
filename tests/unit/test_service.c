/*
 * test_service.c - services between instances (loom_service.h): the
 * memcache store reached through its service and through the memcache
 * protocol is one store; finger's user table follows reloads; a holder
 * sees a service vanish when its instance is removed and learns that it
 * was replaced when the instance comes back; bad names are refused.
 *
 * A real server on a real event base; configurations are applied with
 * loom_server_start_text (the second and later calls are reloads, through
 * the same code path as SIGHUP, without binding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "finger_service.h"
#include "loom_module.h"
#include "mc_service.h"
#include "server.h"

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
} env_t;

static const char conf_both[] = "memcache \"cache\" { memory = 4M }\n"
                                "finger \"users\" {\n"
                                "    list_users = yes\n"
                                "    user \"alice\" { name = \"Alice\" }\n"
                                "}\n";
static const char conf_renamed[] = "memcache \"cache\" { memory = 8M }\n"
                                   "finger \"users\" {\n"
                                   "    list_users = no\n"
                                   "    user \"alice\" { name = \"Alice L\" }\n"
                                   "    user \"bob\" { name = \"Bob\" }\n"
                                   "}\n";
static const char conf_no_cache[] = "finger \"users\" {\n"
                                    "    user \"bob\" { name = \"Bob\" }\n"
                                    "}\n";

static void apply(env_t *e, const char *text)
{
    char err[512] = "";

    if (loom_server_start_text(e->srv, text, err, sizeof(err)) != LOOM_OK)
        fail_msg("config refused: %s", err);
}

static int env_setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return -1;
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    apply(e, conf_both);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env_t *e = *state;

    loom_server_free(e->srv);
    event_base_free(e->base);
    free(e);
    return 0;
}

typedef struct {
    char buf[64];
    size_t len;
    uint32_t flags;
    uint64_t cas;
    int calls;
} got_t;

static void got_value(const char *v, size_t len, uint32_t flags, uint64_t cas,
                      void *arg)
{
    got_t *g = arg;

    g->cas = cas;
    assert_true(len < sizeof(g->buf));
    memcpy(g->buf, v, len);
    g->len = len;
    g->flags = flags;
    g->calls++;
}

static const mc_store_service_t *store(loom_service_ref_t *ref, void **self,
                                       int *replaced)
{
    return loom_service_get(ref, self, replaced);
}

/* The memcache protocol over an in-memory connection: the reply to CMD. */
static void mc_roundtrip(env_t *e, const char *cmd, const char *want)
{
    loom_instance_t *inst = loom_instance_find(e->srv, "memcache", "cache");
    loom_conn_t *c;
    const char *out;
    size_t n;
    int i;

    assert_non_null(inst);
    c = loom_mem_conn_new(inst);
    assert_int_equal(loom_mem_feed(c, cmd, strlen(cmd)), LOOM_OK);
    for (i = 0; i < 4; i++)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
    out = loom_mem_output(c, &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    loom_mem_conn_free(c);
}

static void test_one_store_two_protocols(void **state)
{
    env_t *e = *state;
    loom_service_ref_t ref;
    const mc_store_service_t *st;
    const char *err = NULL;
    void *self;
    got_t g = {{0}, 0, 0, 0, 0};
    uint64_t v;

    assert_int_equal(loom_service_ref_init(&ref, e->srv, "memcache", "cache",
                                           MC_STORE_SERVICE),
                     LOOM_OK);
    st = store(&ref, &self, NULL);
    assert_non_null(st);
    /* set through the service, read through the protocol ... */
    assert_int_equal(st->set(self, "greeting", 8, "hello", 5, 42, 0, &err),
                     LOOM_OK);
    mc_roundtrip(e, "get greeting\r\n",
                 "VALUE greeting 42 5\r\nhello\r\nEND\r\n");
    /* ... and the other way round */
    mc_roundtrip(e, "set n 0 0 2\r\n41\r\n", "STORED\r\n");
    st = store(&ref, &self, NULL);
    assert_int_equal(st->get(self, "n", 1, got_value, &g), LOOM_OK);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.len, 2);
    assert_memory_equal(g.buf, "41", 2);
    assert_int_equal(st->incr(self, "n", 1, 1, &v), LOOM_OK);
    assert_int_equal(v, 42);
    assert_int_equal(st->incr(self, "n", 1, -50, &v), LOOM_OK);
    assert_int_equal(v, 0);
    assert_int_equal(st->incr(self, "greeting", 8, 1, &v), LOOM_ERROR);
    assert_int_equal(st->incr(self, "none", 4, 1, &v), LOOM_DECLINED);
    assert_int_equal(st->del(self, "greeting", 8), LOOM_OK);
    assert_int_equal(st->del(self, "greeting", 8), LOOM_DECLINED);
    mc_roundtrip(e, "get greeting\r\n", "END\r\n");
    assert_int_equal(st->get(self, "greeting", 8, got_value, &g),
                     LOOM_DECLINED);
    assert_int_equal(g.calls, 1);
    /* keys memcache would refuse */
    assert_int_equal(st->get(self, "a b", 3, got_value, &g), LOOM_ERROR);
    assert_int_equal(st->set(self, "", 0, "x", 1, 0, 0, &err), LOOM_ERROR);
    assert_string_equal(err, "invalid key");
    assert_int_equal(st->del(self, "tab\there", 8), LOOM_ERROR);
}

static void test_reload_keeps_removes_and_replaces(void **state)
{
    env_t *e = *state;
    loom_service_ref_t ref;
    const mc_store_service_t *st;
    const char *err = NULL;
    void *self;
    int replaced = -1;
    got_t g = {{0}, 0, 0, 0, 0};

    loom_service_ref_init(&ref, e->srv, "memcache", "cache", MC_STORE_SERVICE);
    st = store(&ref, &self, &replaced);
    assert_non_null(st);
    assert_int_equal(replaced, 0);
    assert_int_equal(st->set(self, "k", 1, "v1", 2, 0, 0, &err), LOOM_OK);

    /* a reload that keeps the instance keeps the offer and the data */
    apply(e, conf_renamed);
    st = store(&ref, &self, &replaced);
    assert_non_null(st);
    assert_int_equal(replaced, 0);
    assert_int_equal(st->get(self, "k", 1, got_value, &g), LOOM_OK);

    /* removed: no offer any more */
    apply(e, conf_no_cache);
    assert_null(store(&ref, &self, &replaced));
    assert_null(loom_instance_find(e->srv, "memcache", "cache"));

    /* back: a new instance, a new store, and the holder is told */
    apply(e, conf_both);
    st = store(&ref, &self, &replaced);
    assert_non_null(st);
    assert_int_equal(replaced, 1);
    assert_int_equal(st->get(self, "k", 1, got_value, &g), LOOM_DECLINED);
    st = store(&ref, &self, &replaced);
    assert_int_equal(replaced, 0); /* told once */
}

static int count_user(const finger_user_t *u, void *arg)
{
    (void)u;
    (*(int *)arg)++;
    return 0;
}

static void test_finger_users_follow_reload(void **state)
{
    env_t *e = *state;
    loom_service_ref_t ref;
    const finger_users_service_t *fs;
    const finger_user_t *u;
    void *self;
    int n = 0;

    loom_service_ref_init(&ref, e->srv, "finger", "users",
                          FINGER_USERS_SERVICE);
    fs = loom_service_get(&ref, &self, NULL);
    assert_non_null(fs);
    u = fs->lookup(self, "alice", 5);
    assert_non_null(u);
    assert_string_equal(u->name, "Alice");
    assert_null(fs->lookup(self, "bob", 3));
    assert_int_equal(fs->listing(self), 1);
    apply(e, conf_renamed);
    fs = loom_service_get(&ref, &self, NULL);
    assert_non_null(fs);
    assert_string_equal(fs->lookup(self, "alice", 5)->name, "Alice L");
    assert_string_equal(fs->lookup(self, "bob", 3)->name, "Bob");
    assert_int_equal(fs->listing(self), 0);
    assert_int_equal(fs->each(self, count_user, &n), 2);
    assert_int_equal(n, 2);
}

static void test_names_and_lookups(void **state)
{
    env_t *e = *state;
    loom_instance_t *inst = loom_instance_find(e->srv, "finger", "users");
    loom_service_ref_t ref;
    static const int table = 1;
    void *self;

    assert_non_null(inst);
    assert_string_equal(loom_instance_module(inst), "finger");
    assert_string_equal(loom_instance_name(inst), "users");
    assert_null(loom_instance_find(e->srv, "finger", "nobody"));
    assert_int_equal(loom_service_export(inst, "noversion", &table, NULL),
                     LOOM_ERROR);
    assert_int_equal(loom_service_export(inst, "x/1a", &table, NULL),
                     LOOM_ERROR);
    assert_int_equal(loom_service_export(inst, "/1", &table, NULL), LOOM_ERROR);
    assert_int_equal(loom_service_export(inst, "test.thing/2", &table, inst),
                     LOOM_OK);
    loom_service_ref_init(&ref, e->srv, "finger", "users", "test.thing/2");
    assert_ptr_equal(loom_service_get(&ref, &self, NULL), &table);
    assert_ptr_equal(self, inst);
    /* another version is another service */
    loom_service_ref_init(&ref, e->srv, "finger", "users", "test.thing/1");
    assert_null(loom_service_get(&ref, &self, NULL));
    loom_service_withdraw(inst, "test.thing/2");
    loom_service_ref_init(&ref, e->srv, "finger", "users", "test.thing/2");
    assert_null(loom_service_get(&ref, &self, NULL));
    assert_int_equal(
        loom_service_ref_init(&ref, e->srv,
                              "a-module-name-longer-than-thirty-two-bytes",
                              "users", "test.thing/2"),
        LOOM_ERROR);
}

/* The value of memcache's `stats` line NAME. */
static unsigned long long mc_stat(env_t *e, const char *name)
{
    loom_instance_t *inst = loom_instance_find(e->srv, "memcache", "cache");
    char pat[64], text[8192];
    const char *out, *p;
    loom_conn_t *c;
    size_t n;
    int i;

    assert_non_null(inst);
    c = loom_mem_conn_new(inst);
    assert_int_equal(loom_mem_feed(c, "stats\r\n", 7), LOOM_OK);
    for (i = 0; i < 4; i++)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
    out = loom_mem_output(c, &n);
    assert_true(n < sizeof(text));
    memcpy(text, out, n);
    text[n] = '\0';
    loom_mem_conn_free(c);
    snprintf(pat, sizeof(pat), "STAT %s ", name);
    p = strstr(text, pat);
    assert_non_null(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* The conditional storing functions: their CAS uniques are the ones `gets`
 * shows, a mismatch or an absent key is told apart, and memcache's own
 * counters move as for its commands. */
static void test_conditional_store(void **state)
{
    env_t *e = *state;
    loom_service_ref_t ref;
    const mc_store_service_t *st;
    const char *err = NULL;
    void *self;
    got_t g = {{0}, 0, 0, 0, 0};
    uint64_t c1 = 0, c2 = 0, c3 = 0;
    int replaced = -1;
    char want[128], *big;
    size_t max;

    loom_service_ref_init(&ref, e->srv, "memcache", "cache", MC_STORE_SERVICE);
    st = store(&ref, &self, NULL);
    assert_non_null(st);
    assert_int_equal(
        st->put(self, "c", 1, "one", 3, 0, 0, &c1, &replaced, &err), LOOM_OK);
    assert_int_equal(replaced, 0);
    snprintf(want, sizeof(want), "VALUE c 0 3 %llu\r\none\r\nEND\r\n",
             (unsigned long long)c1);
    mc_roundtrip(e, "gets c\r\n", want);
    st = store(&ref, &self, NULL);
    assert_int_equal(
        st->put(self, "c", 1, "two", 3, 5, 0, &c2, &replaced, &err), LOOM_OK);
    assert_int_equal(replaced, 1);
    assert_true(c2 > c1);
    /* add: refused while there */
    assert_int_equal(st->add(self, "c", 1, "x", 1, 0, 0, &c3, &err),
                     LOOM_AGAIN);
    /* cas: a stale unique, then the right one */
    assert_int_equal(st->cas(self, "c", 1, "three", 5, 0, 0, c1, &c3, &err),
                     LOOM_AGAIN);
    assert_int_equal(st->cas(self, "c", 1, "three", 5, 0, 0, c2, &c3, &err),
                     LOOM_OK);
    assert_true(c3 > c2);
    assert_int_equal(st->get(self, "c", 1, got_value, &g), LOOM_OK);
    assert_memory_equal(g.buf, "three", 5);
    assert_int_equal(g.cas, c3);
    assert_int_equal(st->cas(self, "gone", 4, "v", 1, 0, 0, 1, &c1, &err),
                     LOOM_DECLINED);
    /* replace and add on an absent key */
    assert_int_equal(st->replace(self, "new", 3, "v", 1, 0, 0, &c1, &err),
                     LOOM_DECLINED);
    assert_int_equal(st->add(self, "new", 3, "v", 1, 0, 0, &c1, &err), LOOM_OK);
    assert_int_equal(st->replace(self, "new", 3, "w", 1, 0, 0, &c2, &err),
                     LOOM_OK);
    /* delete only on a matching unique */
    assert_int_equal(st->del_cas(self, "new", 3, c1), LOOM_AGAIN);
    assert_int_equal(st->del_cas(self, "new", 3, c2), LOOM_OK);
    assert_int_equal(st->del_cas(self, "new", 3, c2), LOOM_DECLINED);
    assert_int_equal(st->del_cas(self, "a b", 3, c2), LOOM_ERROR);
    /* counters as for the commands */
    assert_true(mc_stat(e, "cas_badval") == 1);
    assert_true(mc_stat(e, "cas_hits") == 1);
    assert_true(mc_stat(e, "cas_misses") == 1);
    /* the item limit: max_value bytes fit, one more does not */
    st = store(&ref, &self, NULL);
    assert_int_equal(st->max_value(self, "bad key", 7), 0);
    max = st->max_value(self, "k", 1);
    assert_true(max > 1000 * 1000 && max < 1024 * 1024);
    big = calloc(1, max + 1);
    assert_non_null(big);
    assert_int_equal(st->put(self, "k", 1, big, max, 0, 0, NULL, NULL, &err),
                     LOOM_OK);
    assert_int_equal(
        st->put(self, "k", 1, big, max + 1, 0, 0, NULL, NULL, &err),
        LOOM_ERROR);
    assert_string_equal(err, "value too large");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_store_two_protocols, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_conditional_store, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_removes_and_replaces,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_finger_users_follow_reload,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_names_and_lookups, env_setup,
                                        env_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

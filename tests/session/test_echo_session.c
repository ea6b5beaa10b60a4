/*
 * test_echo_session.c - the echo module over the in-memory transport:
 * every byte fed comes back, in order, however the input is split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "loom_conn.h"
#include "server.h"

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_instance_t *inst;
} env_t;

static const char conf_text[] =
    "echo \"main\" {\n"
    "    listen = {\"tcp:7007:interface=127.0.0.1\", \"udp:7007\"}\n"
    "}\n";

static int env_setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));
    char err[512] = "";

    if (e == NULL)
        return -1;
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    if (loom_server_start_text(e->srv, conf_text, err, sizeof(err)) !=
        LOOM_OK) {
        print_message("# start failed: %s\n", err);
        return -1;
    }
    e->inst = loom_server_instance(e->srv, "echo", "main");
    if (e->inst == NULL)
        return -1;
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

/* Feed a piece and let any deferred work run. */
static void feed(env_t *e, loom_conn_t *c, const char *p, size_t n)
{
    assert_int_equal(loom_mem_feed(c, p, n), LOOM_OK);
    event_base_loop(e->base, EVLOOP_NONBLOCK);
}

static void expect_output(loom_conn_t *c, const char *want, size_t n)
{
    size_t len = 0;
    const char *out = loom_mem_output(c, &len);

    assert_int_equal(len, n);
    if (n)
        assert_memory_equal(out, want, n);
}

static void test_lookup(void **state)
{
    env_t *e = *state;

    assert_null(loom_server_instance(e->srv, "echo", "nope"));
    assert_null(loom_server_instance(e->srv, "finger", "main"));
}

static void test_echo_pieces(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = loom_mem_conn_new(e->inst);

    assert_non_null(c);
    expect_output(c, "", 0);
    feed(e, c, "hello", 5);
    expect_output(c, "hello", 5);
    feed(e, c, " wor", 4);
    feed(e, c, "ld\r\n", 4);
    expect_output(c, "hello world\r\n", 13);
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);
}

/* Binary data, NUL bytes included, and an empty feed. */
static void test_echo_binary(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = loom_mem_conn_new(e->inst);
    char all[256];
    int i;

    for (i = 0; i < 256; i++)
        all[i] = (char)i;
    feed(e, c, all, 100);
    feed(e, c, all + 100, 0);
    feed(e, c, all + 100, 156);
    expect_output(c, all, 256);
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);
}

/* Two connections do not mix their bytes. */
static void test_two_conns(void **state)
{
    env_t *e = *state;
    loom_conn_t *a = loom_mem_conn_new(e->inst);
    loom_conn_t *b = loom_mem_conn_new(e->inst);

    feed(e, a, "aaa", 3);
    feed(e, b, "b", 1);
    feed(e, a, "A", 1);
    expect_output(a, "aaaA", 4);
    expect_output(b, "b", 1);
    loom_mem_conn_free(a);
    loom_mem_conn_free(b);
}

/* 1 MiB in odd-sized pieces comes back whole and in order. */
static void test_echo_bulk(void **state)
{
    enum { N = 1024 * 1024 };
    env_t *e = *state;
    loom_conn_t *c = loom_mem_conn_new(e->inst);
    char *data = malloc(N);
    size_t off = 0, piece = 1, len = 0;
    const char *out;

    assert_non_null(data);
    for (off = 0; off < N; off++)
        data[off] = (char)(off * 7 + off / 251);
    for (off = 0; off < N; off += piece) {
        piece = (piece * 3 + 1) % 9000 + 1;
        if (piece > N - off)
            piece = N - off;
        feed(e, c, data + off, piece);
    }
    out = loom_mem_output(c, &len);
    assert_int_equal(len, N);
    assert_memory_equal(out, data, N);
    loom_mem_conn_free(c);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),      cmocka_unit_test(test_echo_pieces),
        cmocka_unit_test(test_echo_binary), cmocka_unit_test(test_two_conns),
        cmocka_unit_test(test_echo_bulk),
    };

    return cmocka_run_group_tests_name("echo_session", tests, env_setup,
                                       env_teardown);
}

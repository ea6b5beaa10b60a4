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

#include "session.h"

static const ses_spec_t spec = {
    .conf = "echo \"main\" {\n"
            "    listen = {\"tcp:7007:interface=127.0.0.1\", \"udp:7007\"}\n"
            "}\n",
    .module = "echo",
    .name = "main",
};

static int env_setup(void **state)
{
    return ses_setup(state, &spec);
}

static void test_lookup(void **state)
{
    ses_env_t *e = *state;

    assert_null(loom_server_instance(e->srv, "echo", "nope"));
    assert_null(loom_server_instance(e->srv, "finger", "main"));
}

static void test_echo_pieces(void **state)
{
    ses_env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);

    assert_non_null(c);
    ses_expect_output(c, "", 0);
    ses_feed(e, c, "hello", 5);
    ses_expect_output(c, "hello", 5);
    ses_feed(e, c, " wor", 4);
    ses_feed(e, c, "ld\r\n", 4);
    ses_expect_output(c, "hello world\r\n", 13);
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);
}

/* Binary data, NUL bytes included, and an empty feed. */
static void test_echo_binary(void **state)
{
    ses_env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);
    char all[256];
    int i;

    for (i = 0; i < 256; i++)
        all[i] = (char)i;
    ses_feed(e, c, all, 100);
    ses_feed(e, c, all + 100, 0);
    ses_feed(e, c, all + 100, 156);
    ses_expect_output(c, all, 256);
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);
}

/* Two connections do not mix their bytes. */
static void test_two_conns(void **state)
{
    ses_env_t *e = *state;
    loom_conn_t *a = ses_conn(e, NULL);
    loom_conn_t *b = ses_conn(e, NULL);

    ses_feed(e, a, "aaa", 3);
    ses_feed(e, b, "b", 1);
    ses_feed(e, a, "A", 1);
    ses_expect_output(a, "aaaA", 4);
    ses_expect_output(b, "b", 1);
    loom_mem_conn_free(a);
    loom_mem_conn_free(b);
}

/* 1 MiB in odd-sized pieces comes back whole and in order. */
static void test_echo_bulk(void **state)
{
    enum { N = 1024 * 1024 };
    ses_env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);
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
        ses_feed(e, c, data + off, piece);
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
                                       ses_teardown);
}

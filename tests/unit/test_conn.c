/*
 * test_conn.c - connection lifetimes (src/conn.c): no function a module
 * calls runs a callback of any connection; a close or abort asked for
 * from another connection's callback, or caused by the output cap, is
 * finished from the reactor after that callback returned; a connection
 * stays valid (flagged) until then; shared buffers fan out without copies
 * and keep their bytes alive until every connection sent them.
 *
 * Connections here are in-memory ones with a test handler, on a real
 * server and event base.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

#define NCONN 6

typedef struct env_s env_t;

/* What one test connection saw. */
typedef struct {
    env_t *e;
    int idx;
    int closes;       /* close callbacks */
    int closed_while; /* a close callback ran inside another callback */
} probe_t;

struct env_s {
    struct event_base *base;
    loom_server_t *srv;
    loom_conn_t *c[NCONN];
    probe_t p[NCONN];
    int depth; /* test callbacks on the stack */
    /* what the driver's data callback does */
    void (*action)(env_t *e);
    int results[NCONN];
};

static void probe_enter(env_t *e)
{
    e->depth++;
}

static void probe_leave(env_t *e)
{
    e->depth--;
}

static size_t t_data(loom_conn_t *c, const char *buf, size_t len)
{
    probe_t *p = loom_conn_data(c);

    (void)buf;
    probe_enter(p->e);
    if (p->e->action)
        p->e->action(p->e);
    probe_leave(p->e);
    return len;
}

static void t_close(loom_conn_t *c)
{
    probe_t *p = loom_conn_data(c);

    if (p == NULL)
        return;
    p->closes++;
    if (p->e->depth > 0)
        p->closed_while++;
}

static const loom_handler_t t_handler = {NULL, t_data, NULL, t_close};

static int env_setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));
    int i;

    if (e == NULL)
        return -1;
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    for (i = 0; i < NCONN; i++) {
        e->p[i].e = e;
        e->p[i].idx = i;
        e->c[i] = loom_mem_conn_new_handler(e->srv, &t_handler, &e->p[i]);
    }
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env_t *e = *state;
    int i;

    for (i = 0; i < NCONN; i++)
        loom_mem_conn_free(e->c[i]);
    loom_server_free(e->srv);
    event_base_free(e->base);
    free(e);
    return 0;
}

static void run(env_t *e)
{
    int i;

    for (i = 0; i < 4; i++)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
}

static size_t out_len(loom_conn_t *c)
{
    size_t n = 0;

    loom_mem_output(c, &n);
    return n;
}

/* ---- a write past another connection's cap, inside a loop ------------- */

static char big[2000];

static void write_all_others(env_t *e)
{
    int i;

    for (i = 1; i < NCONN; i++) {
        e->results[i] = loom_conn_write(e->c[i], big, sizeof(big));
        /* still valid and still ours: a second write is refused, no more */
        if (e->results[i] == LOOM_ERROR)
            assert_int_equal(loom_conn_write(e->c[i], "x", 1), LOOM_ERROR);
        assert_int_equal(e->p[i].closes, 0);
    }
}

static void test_overflow_in_loop_closes_later(void **state)
{
    env_t *e = *state;
    int i;

    memset(big, 'b', sizeof(big));
    loom_conn_set_max_output(e->c[2], 1000);
    loom_conn_set_max_output(e->c[4], 1000);
    e->action = write_all_others;
    assert_int_equal(loom_mem_feed(e->c[0], "go", 2), LOOM_OK);
    for (i = 1; i < NCONN; i++)
        assert_int_equal(e->results[i],
                         (i == 2 || i == 4) ? LOOM_ERROR : LOOM_OK);
    run(e);
    for (i = 1; i < NCONN; i++) {
        assert_int_equal(e->p[i].closed_while, 0);
        if (i == 2 || i == 4) {
            assert_int_equal(e->p[i].closes, 1);
            assert_true(loom_mem_closed(e->c[i]));
            assert_int_equal(out_len(e->c[i]), 0); /* discarded */
        } else {
            assert_int_equal(e->p[i].closes, 0);
            assert_int_equal(out_len(e->c[i]), sizeof(big));
        }
    }
}

/* ---- abort and close of other connections ------------------------------ */

static void abort_and_close(env_t *e)
{
    loom_conn_write(e->c[1], "bye", 3);
    loom_conn_close(e->c[1]); /* graceful: "bye" goes out first */
    loom_conn_write(e->c[2], "lost", 4);
    loom_conn_abort(e->c[2]); /* output discarded */
    loom_conn_hold(e->c[3]);
    loom_conn_abort(e->c[3]);
    loom_conn_release(e->c[3]); /* a release runs no callback either */
    assert_int_equal(e->p[1].closes + e->p[2].closes + e->p[3].closes, 0);
    assert_int_equal(loom_conn_write(e->c[2], "x", 1), LOOM_ERROR);
}

static void test_abort_close_from_other_callback(void **state)
{
    env_t *e = *state;
    const char *out;
    size_t n;
    int i;

    e->action = abort_and_close;
    assert_int_equal(loom_mem_feed(e->c[0], "go", 2), LOOM_OK);
    run(e);
    for (i = 1; i <= 3; i++) {
        assert_int_equal(e->p[i].closes, 1);
        assert_int_equal(e->p[i].closed_while, 0);
    }
    out = loom_mem_output(e->c[1], &n);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "bye", 3);
    assert_int_equal(out_len(e->c[2]), 0);
    assert_int_equal(e->p[0].closes, 0);
}

/* ---- closing oneself ----------------------------------------------------- */

static void close_self(env_t *e)
{
    loom_conn_write(e->c[0], "last", 4);
    loom_conn_close(e->c[0]);
    assert_int_equal(e->p[0].closes, 0);
}

static void test_close_self_after_callback(void **state)
{
    env_t *e = *state;
    const char *out;
    size_t n;

    e->action = close_self;
    assert_int_equal(loom_mem_feed(e->c[0], "go", 2), LOOM_OK);
    /* the feed's own frame finished the close when the callback returned */
    assert_int_equal(e->p[0].closes, 1);
    assert_int_equal(e->p[0].closed_while, 0);
    out = loom_mem_output(e->c[0], &n);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "last", 4);
    assert_int_equal(loom_mem_feed(e->c[0], "more", 4), LOOM_ERROR);
}

/* ---- shared buffers ------------------------------------------------------ */

/* B written three times to every connection arrives whole, in order,
 * three times on each (a short buffer is copied into the output, a long
 * one queued by reference: both paths). */
static void shared_buffer_fanout(env_t *e, loom_buf_t *b)
{
    size_t want = loom_buf_len(b);
    char *copy = malloc(want);
    int i, round;

    assert_non_null(copy);
    memcpy(copy, loom_buf_data(b), want);
    for (round = 0; round < 3; round++)
        for (i = 0; i < NCONN; i++)
            assert_int_equal(loom_conn_write_buf(e->c[i], b), LOOM_OK);
    loom_buf_unref(b); /* the connections keep theirs, or a copy */
    run(e);
    for (i = 0; i < NCONN; i++) {
        size_t n;
        const char *out = loom_mem_output(e->c[i], &n);

        assert_int_equal(n, 3 * want);
        for (round = 0; round < 3; round++)
            assert_memory_equal(out + round * want, copy, want);
    }
    free(copy);
}

static void test_shared_buffer_fanout(void **state)
{
    loom_buf_t *b = loom_buf_printf("PRIVMSG #loom :%s\r\n", "hello, all");

    assert_int_equal(loom_buf_len(b), strlen("PRIVMSG #loom :hello, all\r\n"));
    shared_buffer_fanout(*state, b);
}

static void test_shared_buffer_fanout_long(void **state)
{
    char text[2000];

    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    shared_buffer_fanout(*state, loom_buf_printf("EVENT %s\r\n", text));
}

/* A buffer queued on a connection that is then aborted: its reference
 * goes with the discarded output (ASan reports a leak or a use after
 * free). */
static void shared_buffer_on_closing_conn(env_t *e, loom_buf_t *b)
{
    loom_conn_abort(e->c[1]);
    assert_int_equal(loom_conn_write_buf(e->c[1], b), LOOM_ERROR);
    assert_int_equal(loom_conn_write_buf(e->c[2], b), LOOM_OK);
    loom_conn_abort(e->c[2]);
    loom_buf_unref(b);
    run(e);
    assert_int_equal(e->p[1].closes, 1);
    assert_int_equal(e->p[2].closes, 1);
}

static void test_shared_buffer_on_closing_conn(void **state)
{
    loom_buf_t *b = loom_buf_new("abc", 3);

    assert_string_equal(loom_buf_data(b), "abc");
    shared_buffer_on_closing_conn(*state, b);
}

static void test_shared_buffer_on_closing_conn_long(void **state)
{
    char text[1000];

    memset(text, 'y', sizeof(text));
    shared_buffer_on_closing_conn(*state, loom_buf_new(text, sizeof(text)));
}

static void test_max_output_cap_over_turns(void **state)
{
    env_t *e = *state;
    char chunk[100];
    int i, r = LOOM_OK;

    memset(chunk, 'z', sizeof(chunk));
    loom_conn_set_max_output(e->c[1], 550);
    /* the mem transport flushes on every turn: 100 bytes a turn never
     * reach the cap ... */
    for (i = 0; i < 20; i++) {
        assert_int_equal(loom_conn_write(e->c[1], chunk, sizeof(chunk)),
                         LOOM_OK);
        run(e);
    }
    assert_int_equal(e->p[1].closes, 0);
    /* ... but six within one turn do */
    for (i = 0; i < 6 && r == LOOM_OK; i++)
        r = loom_conn_write(e->c[1], chunk, sizeof(chunk));
    assert_int_equal(r, LOOM_ERROR);
    assert_int_equal(i, 6);
    run(e);
    assert_int_equal(e->p[1].closes, 1);
    assert_int_equal(out_len(e->c[1]), 20 * sizeof(chunk));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overflow_in_loop_closes_later,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_abort_close_from_other_callback,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_close_self_after_callback,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_shared_buffer_fanout, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_shared_buffer_fanout_long,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_shared_buffer_on_closing_conn_long,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_shared_buffer_on_closing_conn,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_max_output_cap_over_turns,
                                        env_setup, env_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

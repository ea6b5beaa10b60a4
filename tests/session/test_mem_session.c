/*
 * test_mem_session.c - the in-memory transport itself (src/conn_mem.c):
 * a peer that stops reading (loom_conn_write returns LOOM_AGAIN above the
 * high-water mark, input stops being delivered, the drain callback runs
 * below the low-water mark once the peer reads again), end of input from
 * the peer and the module's close as the peer sees it, two connections
 * joined back to back (with back-pressure across them), the fake
 * STARTTLS, and freeing connections in every state (ASan).
 *
 * The module side is the echo module or a test handler ("probe") that
 * records what the core told it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "session.h"

static const ses_spec_t spec = {
    .conf = "echo \"main\" {\n"
            "    listen = {\"tcp:7007:interface=127.0.0.1\"}\n"
            "}\n",
    .module = "echo",
    .name = "main",
};

static int env_setup(void **state)
{
    return ses_setup(state, &spec);
}

/* ---- the probe: a handler that records ----------------------------------- */

typedef struct {
    char in[4096]; /* input seen (the first 4 KiB) */
    size_t in_len, in_total;
    int opens, drains, closes;
    int writes_again; /* writes that returned LOOM_AGAIN */
    int starttls_rc;
    /* what its data callback does with a line "go\n": write WRITE_N
     * bytes in WRITE_PIECE pieces */
    size_t write_n, write_piece;
    const char *pattern;
} probe_t;

static void probe_write_all(loom_conn_t *c, probe_t *p)
{
    size_t off;

    for (off = 0; off < p->write_n; off += p->write_piece) {
        size_t n = p->write_n - off < p->write_piece ? p->write_n - off
                                                     : p->write_piece;
        char *buf = malloc(n);
        size_t i;
        int r;

        assert_non_null(buf);
        for (i = 0; i < n; i++)
            buf[i] = (char)('a' + (off + i) % 26);
        r = loom_conn_write(c, buf, n);
        free(buf);
        assert_int_not_equal(r, LOOM_ERROR);
        if (r == LOOM_AGAIN)
            p->writes_again++;
    }
}

static int probe_open(loom_conn_t *c)
{
    probe_t *p = loom_conn_data(c);

    p->opens++;
    return LOOM_OK;
}

static void probe_record(probe_t *p, const char *buf, size_t n)
{
    if (p->in_len + n <= sizeof(p->in)) {
        memcpy(p->in + p->in_len, buf, n);
        p->in_len += n;
    }
    p->in_total += n;
}

/* Lines: "go" writes, "starttls" answers and switches, "quit" answers
 * and closes (nothing after these two is consumed); anything else is
 * recorded, a partial line at the end too. */
static size_t probe_data(loom_conn_t *c, const char *buf, size_t len)
{
    probe_t *p = loom_conn_data(c);
    size_t off = 0;

    while (off < len) {
        const char *line = buf + off;
        const char *eol = memchr(line, '\n', len - off);
        size_t n = eol ? (size_t)(eol - line) + 1 : len - off;

        probe_record(p, line, n);
        off += n;
        if (n == 3 && memcmp(line, "go\n", 3) == 0) {
            probe_write_all(c, p);
        } else if (n == 9 && memcmp(line, "starttls\n", 9) == 0) {
            loom_conn_write(c, "220 go ahead\r\n", 14);
            p->starttls_rc = loom_conn_starttls(c, NULL);
            break;
        } else if (n == 5 && memcmp(line, "quit\n", 5) == 0) {
            loom_conn_write(c, "bye\r\n", 5);
            loom_conn_close(c);
            break;
        }
    }
    return off;
}

static void probe_drain(loom_conn_t *c)
{
    probe_t *p = loom_conn_data(c);

    p->drains++;
}

static void probe_close(loom_conn_t *c)
{
    probe_t *p = loom_conn_data(c);

    p->closes++;
}

static const loom_handler_t probe_handler = {probe_open, probe_data,
                                             probe_drain, probe_close};

static int pattern_ok(const char *p, size_t len, size_t from)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (p[i] != (char)('a' + (from + i) % 26))
            return 0;
    return 1;
}

/* ---- back-pressure ------------------------------------------------------- */

/* Writes past the high-water mark return LOOM_AGAIN while the peer reads
 * nothing; the drain callback runs once, when the peer has read enough
 * for the buffer to fall below the low-water mark. */
static void test_window_write_again_drain(void **state)
{
    ses_env_t *e = *state;
    probe_t p = {.write_n = LOOM_OUT_HIGH + 100000, .write_piece = 50000};
    loom_conn_t *c = loom_mem_conn_new_handler(e->srv, &probe_handler, &p);
    size_t len, total = p.write_n;
    const char *out;

    ses_window(e, c, 0);
    assert_int_equal(loom_mem_window(c), 0);
    ses_feed(e, c, "go\n", 3);
    assert_true(p.writes_again > 0);
    assert_int_equal(p.drains, 0);
    assert_int_equal(loom_conn_pending(c), total);
    ses_expect_output(c, "", 0);

    /* reading down to the low-water mark: no drain yet */
    ses_consume(e, c, total - LOOM_OUT_LOW);
    assert_int_equal(loom_conn_pending(c), LOOM_OUT_LOW);
    assert_int_equal(p.drains, 0);
    assert_int_equal(loom_mem_window(c), 0);
    /* one more byte and the drain callback runs, once */
    ses_consume(e, c, 1);
    assert_int_equal(p.drains, 1);
    assert_int_equal(loom_conn_write(c, "x", 0), LOOM_OK);
    ses_consume(e, c, LOOM_OUT_LOW);
    assert_int_equal(p.drains, 1);
    assert_int_equal(loom_conn_pending(c), 0);
    out = loom_mem_output(c, &len);
    assert_int_equal(len, total);
    assert_true(pattern_ok(out, len, 0));
    /* an unlimited window takes everything again */
    p.write_n = 1000;
    ses_window(e, c, LOOM_MEM_UNLIMITED);
    ses_feed(e, c, "go\n", 3);
    loom_mem_output(c, &len);
    assert_int_equal(len, total + 1000);
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);
    assert_int_equal(p.closes, 1);
}

/* The echo module under a peer that reads slowly: its output stops at the
 * window, input stops being delivered above the high-water mark (the
 * rest stays unread), and everything comes back in order as the peer
 * reads. */
static void test_window_echo(void **state)
{
    enum { N = 1024 * 1024, PIECE = 60000 };
    ses_env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);
    char *data = malloc(N);
    size_t off, len, rounds = 0;
    const char *out;

    assert_non_null(data);
    for (off = 0; off < N; off++)
        data[off] = (char)(off * 13 + off / 997);
    ses_window(e, c, 1000);
    for (off = 0; off < N; off += PIECE)
        ses_feed(e, c, data + off, N - off < PIECE ? N - off : PIECE);
    out = loom_mem_output(c, &len);
    assert_int_equal(len, 1000);
    assert_memory_equal(out, data, 1000);
    /* echo read no more than it could buffer: reading paused */
    assert_true(loom_conn_pending(c) > LOOM_OUT_HIGH);
    assert_true(loom_conn_pending(c) + 1000 < N);
    while (len < N) {
        ses_consume(e, c, 50000);
        loom_mem_output(c, &len);
        assert_true(++rounds < 100);
    }
    out = loom_mem_output(c, &len);
    assert_int_equal(len, N);
    assert_memory_equal(out, data, N);
    assert_int_equal(loom_conn_pending(c), 0);
    loom_mem_conn_free(c);
    free(data);
}

/* ---- end of input, both ways --------------------------------------------- */

/* The peer finishes sending: the module has seen every byte before, and
 * the core closes the connection after its output is out, as on a
 * socket. */
static void test_eof_from_peer(void **state)
{
    ses_env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);

    ses_window(e, c, 2);
    ses_feed(e, c, "abc", 3);
    ses_feed(e, c, "def", 3);
    ses_shutdown(e, c);
    /* closing, but "cdef" waits for the peer to read */
    ses_expect_closed(c, 1);
    ses_expect_ended(c, 0);
    ses_expect_output(c, "ab", 2);
    assert_int_equal(loom_mem_feed(c, "more", 4), LOOM_ERROR);
    ses_consume(e, c, 10);
    ses_expect_ended(c, 1);
    ses_expect_output(c, "abcdef", 6);
    loom_mem_conn_free(c);

    /* end of input while nothing at all was sent */
    c = ses_conn(e, NULL);
    ses_shutdown(e, c);
    ses_expect_ended(c, 1);
    ses_expect_output(c, "", 0);
    loom_mem_conn_free(c);
}

/* The module closes: closed at once, ended (the peer reads end of file)
 * once its last bytes are out. */
static void test_module_close_seen(void **state)
{
    ses_env_t *e = *state;
    probe_t p = {0};
    loom_conn_t *c = loom_mem_conn_new_handler(e->srv, &probe_handler, &p);

    ses_window(e, c, 3);
    ses_feed(e, c, "quit\n", 5);
    ses_expect_closed(c, 1);
    ses_expect_ended(c, 0);
    assert_int_equal(p.closes, 0);
    ses_consume(e, c, 2);
    ses_expect_output(c, "bye\r\n", 5);
    ses_expect_ended(c, 1);
    assert_int_equal(p.closes, 1);
    assert_int_equal(p.opens, 0); /* an outbound connection is not opened */
    loom_mem_conn_free(c);
}

/* ---- pairs --------------------------------------------------------------- */

/* A client (probe) joined to an echo server connection: what it writes
 * comes back to it through the server. */
static void test_pair_echo(void **state)
{
    ses_env_t *e = *state;
    probe_t p = {0};
    loom_conn_t *s, *c = ses_pair(e, NULL, &probe_handler, &p, &s);

    assert_int_equal(loom_conn_write(c, "hello\nwor", 9), LOOM_OK);
    assert_int_equal(loom_conn_write(c, "ld\n", 3), LOOM_OK);
    ses_settle(e);
    assert_int_equal(p.in_len, 12);
    assert_memory_equal(p.in, "hello\nworld\n", 12);
    ses_expect_output(c, "hello\nworld\n", 12);
    ses_expect_output(s, "hello\nworld\n", 12);
    /* the client closes: the server reads end of file and closes too */
    loom_conn_close(c);
    ses_settle(e);
    ses_expect_ended(c, 1);
    ses_expect_ended(s, 1);
    assert_int_equal(p.closes, 1);
    loom_mem_conn_free(s);
    loom_mem_conn_free(c);
}

/* Back-pressure across a pair: the client stops reading, the server's
 * window fills, echo stops reading, and the client's own output piles up
 * past its high-water mark (LOOM_AGAIN); once the client reads again
 * everything arrives, in order. */
static void test_pair_backpressure(void **state)
{
    ses_env_t *e = *state;
    probe_t p = {.write_n = 2 * 1024 * 1024, .write_piece = 65536};
    loom_conn_t *s, *c = ses_pair(e, NULL, &probe_handler, &p, &s);
    size_t len;

    ses_window(e, s, 65536);
    ses_window(e, c, 65536);
    loom_conn_pause(c);
    /* the client writes 2 MiB; its own data callback is not reading, so
     * the writes start from here */
    probe_write_all(c, &p);
    ses_settle(e);
    assert_true(p.writes_again > 0);
    assert_int_equal(p.in_total, 0);
    loom_mem_output(s, &len);
    assert_int_equal(len, 65536); /* the server's window */
    assert_true(loom_conn_pending(s) > LOOM_OUT_HIGH);
    assert_true(loom_conn_pending(c) > 0);
    loom_conn_resume(c);
    ses_settle(e);
    assert_int_equal(p.in_total, p.write_n);
    assert_int_equal(loom_conn_pending(c), 0);
    assert_int_equal(loom_conn_pending(s), 0);
    assert_true(p.drains >= 1);
    loom_mem_output(s, &len);
    assert_int_equal(len, p.write_n);
    loom_mem_conn_free(c);
    /* the server reads end of file when its peer goes */
    ses_settle(e);
    ses_expect_ended(s, 1);
    loom_mem_conn_free(s);
}

/* What a side wrote before the join (a greeting) reaches the other; two
 * test handlers talk. */
static void test_pair_greeting(void **state)
{
    ses_env_t *e = *state;
    probe_t pa = {0}, pb = {0};
    loom_conn_t *a = loom_mem_conn_new_handler(e->srv, &probe_handler, &pa);
    loom_conn_t *b = loom_mem_conn_new_handler(e->srv, &probe_handler, &pb);

    assert_int_equal(loom_conn_write(a, "220 ready\n", 10), LOOM_OK);
    ses_settle(e);
    assert_int_equal(loom_mem_join(a, b), LOOM_OK);
    assert_int_equal(loom_mem_join(a, b), LOOM_ERROR);
    assert_int_equal(loom_mem_join(a, a), LOOM_ERROR);
    ses_settle(e);
    assert_int_equal(pb.in_len, 10);
    assert_memory_equal(pb.in, "220 ready\n", 10);
    /* the peer's bytes arrive from the reactor, never inside the
     * writer's call */
    assert_int_equal(loom_conn_write(b, "quit\n", 5), LOOM_OK);
    assert_int_equal(pa.in_len, 0);
    ses_settle(e);
    assert_int_equal(pa.in_len, 5);
    ses_expect_ended(a, 1);
    ses_expect_ended(b, 1);
    assert_int_equal(pb.in_len, 15);
    assert_memory_equal(pb.in + 10, "bye\r\n", 5);
    loom_mem_conn_free(a);
    loom_mem_conn_free(b);
}

/* ---- the fake STARTTLS --------------------------------------------------- */

static void test_starttls(void **state)
{
    ses_env_t *e = *state;
    probe_t p = {0};
    loom_conn_t *c = loom_mem_conn_new_handler(e->srv, &probe_handler, &p);
    loom_tls_info_t ti;

    assert_int_equal(loom_conn_tls_info(c, &ti), LOOM_ERROR);
    /* the answer waits for the window; bytes sent meanwhile, and those
     * pipelined after the command, are dropped by the switch */
    ses_window(e, c, 5);
    ses_feed(e, c, "starttls\ninjected\n", 18);
    assert_int_equal(p.starttls_rc, LOOM_OK);
    assert_false(loom_mem_tls(c));
    ses_feed(e, c, "early\n", 6);
    ses_consume(e, c, 100);
    ses_expect_output(c, "220 go ahead\r\n", 14);
    assert_true(loom_mem_tls(c));
    assert_int_equal(p.opens, 1); /* as after a real handshake */
    assert_int_equal(p.in_len, 9);
    assert_memory_equal(p.in, "starttls\n", 9);
    assert_int_equal(loom_conn_tls_info(c, &ti), LOOM_OK);
    assert_string_equal(ti.version, LOOM_MEM_TLS_VERSION);
    assert_null(ti.sni);
    /* after the switch input flows again; a second STARTTLS is refused */
    ses_feed(e, c, "after\n", 6);
    assert_int_equal(p.in_len, 15);
    assert_memory_equal(p.in + 9, "after\n", 6);
    ses_feed(e, c, "starttls\n", 9);
    assert_int_equal(p.starttls_rc, LOOM_ERROR);
    loom_mem_conn_free(c);
}

/* STARTTLS on the server end of a pair: the client's pipelined bytes are
 * dropped, its later ones arrive. */
static void test_starttls_pair(void **state)
{
    ses_env_t *e = *state;
    probe_t ps = {0}, pc = {0};
    loom_conn_t *s = loom_mem_conn_new_handler(e->srv, &probe_handler, &ps);
    loom_conn_t *c = loom_mem_conn_new_handler(e->srv, &probe_handler, &pc);

    assert_int_equal(loom_mem_join(c, s), LOOM_OK);
    loom_conn_write(c, "starttls\nEHLO pipelined\n", 24);
    ses_settle(e);
    assert_true(loom_mem_tls(s));
    assert_false(loom_mem_tls(c));
    assert_int_equal(pc.in_len, 14);
    loom_conn_write(c, "EHLO x\n", 7);
    ses_settle(e);
    assert_int_equal(ps.in_len, 16);
    assert_memory_equal(ps.in, "starttls\nEHLO x\n", 16);
    loom_mem_conn_free(s);
    loom_mem_conn_free(c);
}

/* ---- freeing in every state (ASan / LSan) -------------------------------- */

static void test_free_states(void **state)
{
    ses_env_t *e = *state;
    probe_t p = {.write_n = 500000, .write_piece = 100000};
    loom_conn_t *a, *b, *s;

    /* output waiting on a closed window */
    a = loom_mem_conn_new_handler(e->srv, &probe_handler, &p);
    loom_mem_set_window(a, 0);
    assert_int_equal(loom_mem_feed(a, "go\n", 3), LOOM_OK);
    loom_mem_consume(a, 10);
    loom_mem_conn_free(a);
    ses_settle(e);

    /* readiness queued by a join, freed before the loop runs it */
    a = loom_mem_conn_new_handler(e->srv, &probe_handler, &p);
    b = loom_mem_conn_new_handler(e->srv, &probe_handler, &p);
    loom_conn_write(a, "hi\n", 3);
    ses_settle(e);
    assert_int_equal(loom_mem_join(a, b), LOOM_OK);
    loom_mem_conn_free(b);
    loom_mem_conn_free(a);
    ses_settle(e);

    /* one end of a pair freed with bytes in flight both ways; the other
     * later, after reading end of file */
    b = ses_pair(e, NULL, &probe_handler, &p, &s);
    loom_conn_write(b, "x\n", 2);
    loom_mem_feed(s, "unread", 6);
    loom_mem_conn_free(s);
    ses_settle(e);
    ses_expect_ended(b, 1);
    loom_mem_conn_free(b);

    /* closing, with input still unread and a shared buffer queued */
    a = ses_conn(e, NULL);
    {
        loom_buf_t *buf = loom_buf_new("shared", 6);

        loom_mem_set_window(a, 1);
        assert_int_equal(loom_conn_write_buf(a, buf), LOOM_OK);
        loom_buf_unref(buf);
    }
    loom_mem_feed(a, "pending", 7);
    loom_conn_close(a);
    loom_mem_conn_free(a);
    ses_settle(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_write_again_drain),
        cmocka_unit_test(test_window_echo),
        cmocka_unit_test(test_eof_from_peer),
        cmocka_unit_test(test_module_close_seen),
        cmocka_unit_test(test_pair_echo),
        cmocka_unit_test(test_pair_backpressure),
        cmocka_unit_test(test_pair_greeting),
        cmocka_unit_test(test_starttls),
        cmocka_unit_test(test_starttls_pair),
        cmocka_unit_test(test_free_states),
    };

    return cmocka_run_group_tests_name("mem_session", tests, env_setup,
                                       ses_teardown);
}

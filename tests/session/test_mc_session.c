/*
 * test_mc_session.c - the memcache module over the in-memory transport:
 * pipelined text and meta commands with exact replies, every script also
 * fed split in two at every byte and one byte at a time (same output),
 * noreply and quiet mode, data blocks in pieces, values over
 * max_item_size swallowed, the binary-protocol refusal, quit, long lines,
 * a multi-get larger than the output high-water mark, cache_memlimit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mc_store.h"
#include "session.h"

#define SMALL_MAX 2048 /* max_item_size of the "small" instance */

typedef struct {
    ses_env_t ses; /* first: ses_setup_size */
    loom_instance_t *main, *small, *limit, *lax;
} env_t;

static const char conf_text[] =
    "memcache \"main\" {\n"
    "    listen = {\"tcp:11311:interface=127.0.0.1\"}\n"
    "    memory = \"8M\"\n"
    "    max_item_size = \"1M\"\n"
    "}\n"
    "memcache \"small\" {\n"
    "    listen = {\"tcp:11312:interface=127.0.0.1\"}\n"
    "    memory = \"1M\"\n"
    "    max_item_size = \"2K\"\n"
    "}\n"
    "memcache \"limit\" {\n"
    "    listen = {\"tcp:11313:interface=127.0.0.1\"}\n"
    "    memory = \"16m\"\n"
    "    max_item_size = \"1024k\"\n"
    "}\n"
    "memcache \"lax\" {\n"
    "    listen = {\"tcp:11314:interface=127.0.0.1\"}\n"
    "    strict_keys = no\n"
    "}\n";

static const ses_spec_t spec = {.conf = conf_text};

static int env_setup(void **state)
{
    env_t *e;

    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0)
        return -1;
    e = *state;
    e->main = ses_instance(&e->ses, "memcache", "main");
    e->small = ses_instance(&e->ses, "memcache", "small");
    e->limit = ses_instance(&e->ses, "memcache", "limit");
    e->lax = ses_instance(&e->ses, "memcache", "lax");
    return 0;
}

typedef ses_reply_t reply_t;

/* Feed IN over a fresh connection: cut at SPLIT (if non-zero), else in
 * pieces of PIECE bytes (0: all at once).  Returns the whole output. */
static reply_t talk(env_t *e, loom_instance_t *inst, const char *in, size_t len,
                    size_t piece, size_t split)
{
    return ses_talk(&e->ses, inst, in, len, piece, split);
}

static int same(const reply_t *r, const char *want, size_t wlen)
{
    return r->len == wlen && memcmp(r->p, want, wlen) == 0;
}

/* IN (LEN bytes) must produce exactly WANT and leave the connection open
 * (or closed, CLOSED), fed at once, split in two at every byte, seven and
 * one byte at a time. */
static void expect_all_splits(env_t *e, loom_instance_t *inst, const char *in,
                              size_t len, const char *want, size_t wlen,
                              int closed)
{
    ses_expect_splits(&e->ses, inst, in, len, want, wlen, closed);
}

#define EXPECT_SPLITS(inst, in, want)                                          \
    expect_all_splits(e, (inst), (in), sizeof(in) - 1, (want),                 \
                      sizeof(want) - 1, 0)

/* One feed, exact reply. */
static void expect_reply(env_t *e, loom_instance_t *inst, const char *in,
                         size_t len, const char *want, size_t wlen, int closed)
{
    reply_t r = talk(e, inst, in, len, 0, 0);

    if (!same(&r, want, wlen) || r.closed != closed) {
        ses_show("input", in, len);
        ses_show("got", r.p, r.len);
        ses_show("want", want, wlen);
        free(r.p);
        fail_msg("wrong reply (closed %d, want %d)", r.closed, closed);
    }
    free(r.p);
}

#define EXPECT(inst, in, want)                                                 \
    expect_reply(e, (inst), (in), sizeof(in) - 1, (want), sizeof(want) - 1, 0)

/* ---- scripts, each starting from an empty cache ---------------------------
 */

static void test_text_storage(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "set a 5 0 3\r\nabc\r\n"
                  "get a\r\n"
                  "append a 0 0 2\r\nde\r\n"
                  "prepend a 9 0 1\r\nz\r\n"
                  "get a b\r\n"
                  "add a 0 0 1\r\nx\r\n"
                  "replace b 0 0 1\r\nx\r\n"
                  "add b 0 0 2\r\nbb\r\n"
                  "delete a\r\n"
                  "get a b\r\n"
                  "touch b 1000\r\n"
                  "touch nope 1000\r\n"
                  "delete a noreply\r\n"
                  "delete a\r\n"
                  "set e 0 0 0\r\n\r\n"
                  "get e\r\n"
                  "version\r\n",
                  "OK\r\n"
                  "STORED\r\n"
                  "VALUE a 5 3\r\nabc\r\nEND\r\n"
                  "STORED\r\n"
                  "STORED\r\n"
                  "VALUE a 5 6\r\nzabcde\r\nEND\r\n"
                  "NOT_STORED\r\n"
                  "NOT_STORED\r\n"
                  "STORED\r\n"
                  "DELETED\r\n"
                  "VALUE b 0 2\r\nbb\r\nEND\r\n"
                  "TOUCHED\r\n"
                  "NOT_FOUND\r\n"
                  "NOT_FOUND\r\n"
                  "STORED\r\n"
                  "VALUE e 0 0\r\n\r\nEND\r\n"
                  "VERSION 1.6.18\r\n");
}

/* Values that hold CR, LF, NUL and command-like text are data. */
static void test_binary_values(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "set v 0 0 17\r\nget v\r\nquit\r\n\0\377\n\r\r\n"
                  "get v\r\n",
                  "OK\r\n"
                  "STORED\r\n"
                  "VALUE v 0 17\r\nget v\r\nquit\r\n\0\377\n\r\r\nEND\r\n");
}

/* LF alone ends a command line (the data block still needs CRLF). */
static void test_lf_lines(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\n"
                  "set a 0 0 1\nx\r\n"
                  "get a\n"
                  "mg a v\n"
                  "mn\n",
                  "OK\r\n"
                  "STORED\r\n"
                  "VALUE a 0 1\r\nx\r\nEND\r\n"
                  "VA 1\r\nx\r\n"
                  "MN\r\n");
}

static void test_arith_session(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "set n 3 0 3\r\n100\r\n"
                  "decr n 95\r\n"
                  "get n\r\n"
                  "incr n 18446744073709551615\r\n"
                  "incr n 1000\r\n"
                  "get n\r\n"
                  "decr n 5000\r\n"
                  "incr nope 1\r\n"
                  "set s 0 0 3\r\nabc\r\n"
                  "incr s 1\r\n"
                  "incr n -1\r\n"
                  "incr n 1 noreply\r\n"
                  "get n\r\n"
                  "set m 0 0 20\r\n18446744073709551615\r\n"
                  "incr m 1\r\n"
                  "get m\r\n",
                  "OK\r\n"
                  "STORED\r\n"
                  "5\r\n"
                  "VALUE n 3 3\r\n5  \r\nEND\r\n"
                  "4\r\n"
                  "1004\r\n"
                  "VALUE n 3 4\r\n1004\r\nEND\r\n"
                  "0\r\n"
                  "NOT_FOUND\r\n"
                  "STORED\r\n"
                  "CLIENT_ERROR cannot increment or decrement non-numeric "
                  "value\r\n"
                  "CLIENT_ERROR invalid numeric delta argument\r\n"
                  "VALUE n 3 4\r\n1   \r\nEND\r\n"
                  "STORED\r\n"
                  "0\r\n"
                  "VALUE m 0 20\r\n0                   \r\nEND\r\n");
}

static void test_meta_session(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "ms m 2 F7 T0\r\nhi\r\n"
                  "mg m v f k s O42\r\n"
                  "mg missing v q\r\n"
                  "mg missing v k O1\r\n"
                  "mg m q k\r\n"
                  "mn\r\n"
                  "md m q\r\n"
                  "mg m v\r\n"
                  "md m\r\n"
                  "ma cnt N0 J10 v\r\n"
                  "ma cnt MD D3 v\r\n"
                  "ma cnt q\r\n"
                  "ma cnt v t\r\n"
                  "ma nope\r\n"
                  "ms m 2 MR\r\nxx\r\n"
                  "ms m 2 ME q\r\nyy\r\n"
                  "ms m 2 ME q\r\nzz\r\n"
                  "mg m v k O1\r\n"
                  "ms m 1 MA\r\nz\r\n"
                  "ms m 1 MP k\r\na\r\n"
                  "mg m v t\r\n"
                  "mg Zm9v b k v\r\n"
                  "ms Zm9v 3 b\r\nbar\r\n"
                  "mg Zm9v b k v\r\n"
                  "get foo\r\n"
                  "mg m v v\r\n"
                  "mg m q v v\r\n"
                  "ms k 3 MX\r\nabc\r\n"
                  "ms k 3 q MX\r\nabc\r\n"
                  "md k q C1 v v\r\n"
                  "mn\r\n",
                  "OK\r\n"
                  "HD\r\n"
                  "VA 2 f7 km s2 O42\r\nhi\r\n"
                  "EN kmissing O1\r\n"
                  "HD km\r\n"
                  "MN\r\n"
                  "EN\r\n"
                  "NF\r\n"
                  "VA 2\r\n10\r\n"
                  "VA 1\r\n7\r\n"
                  "VA 1 t-1\r\n9\r\n"
                  "NF\r\n"
                  "NS\r\n"
                  "NS\r\n"
                  "VA 2 km O1\r\nyy\r\n"
                  "HD\r\n"
                  "HD km\r\n"
                  "VA 4 t-1\r\nayyz\r\n"
                  "EN kZm9v b\r\n"
                  "HD\r\n"
                  "VA 3 kZm9v b\r\nbar\r\n"
                  "VALUE foo 0 3\r\nbar\r\nEND\r\n"
                  "CLIENT_ERROR duplicate flag\r\n"
                  "CLIENT_ERROR duplicate flag\r\n"
                  "CLIENT_ERROR invalid mode for ms M token\r\n"
                  "CLIENT_ERROR invalid mode for ms M token\r\n"
                  "CLIENT_ERROR invalid or duplicate flag\r\n"
                  "MN\r\n");
}

/* Stale-while-revalidate: N vivifies and hands out a win token (W) once,
 * later readers see Z; md I marks stale (X) and re-arms the token; R wins
 * when the TTL is below the threshold. */
static void test_meta_tokens(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "mg sw N30 s t v\r\n"
                  "mg sw N30 v\r\n"
                  "ms sw 3 T0\r\nnew\r\n"
                  "mg sw v\r\n"
                  "md sw I\r\n"
                  "mg sw v\r\n"
                  "mg sw v\r\n"
                  "ms r 1 T100\r\nx\r\n"
                  "mg r R200 v\r\n"
                  "mg r R200 v\r\n"
                  "ms r2 1 T1000\r\nx\r\n"
                  "mg r2 R50 v\r\n",
                  "OK\r\n"
                  "VA 0 s0 t30 W\r\n\r\n"
                  "VA 0 Z\r\n\r\n"
                  "HD\r\n"
                  "VA 3\r\nnew\r\n"
                  "HD\r\n"
                  "VA 3 X W\r\nnew\r\n"
                  "VA 3 Z X\r\nnew\r\n"
                  "HD\r\n"
                  "VA 1 W\r\nx\r\n"
                  "VA 1 Z\r\nx\r\n"
                  "HD\r\n"
                  "VA 1\r\nx\r\n");
}

/* q: misses of mg, HD of ms/md/ma are silent; mn is always answered and
 * marks the end of a quiet batch. */
static void test_quiet_mode(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "ms a 1 q\r\nA\r\n"
                  "ms c 1 q\r\nC\r\n"
                  "mg a v q\r\n"
                  "mg b v q\r\n"
                  "mg c v q k\r\n"
                  "mg d v q k O9\r\n"
                  "md b q\r\n"
                  "md a q\r\n"
                  "ma n q N0 J5\r\n"
                  "mn\r\n"
                  "mg a v q\r\n"
                  "mg n v q\r\n"
                  "mn\r\n",
                  "OK\r\n"
                  "VA 1\r\nA\r\n"
                  "VA 1 kc\r\nC\r\n"
                  "NF\r\n"
                  "HD\r\n" /* a vivified ma is answered even under q */
                  "MN\r\n"
                  "VA 1\r\n5\r\n"
                  "MN\r\n");
}

/* noreply: nothing at all is sent back, errors included. */
static void test_noreply(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all noreply\r\n"
                  "set a 0 0 1 noreply\r\nx\r\n"
                  "add a 0 0 1 noreply\r\ny\r\n"
                  "replace zz 0 0 1 noreply\r\ny\r\n"
                  "append a 0 0 1 noreply\r\nz\r\n"
                  "prepend a 0 0 1 noreply\r\nw\r\n"
                  "cas a 0 0 1 1 noreply\r\nv\r\n"
                  "cas nope 0 0 1 1 noreply\r\nv\r\n"
                  "incr a 1 noreply\r\n"
                  "decr nope 1 noreply\r\n"
                  "touch a 1000 noreply\r\n"
                  "touch nope 1000 noreply\r\n"
                  "delete nope noreply\r\n"
                  "set k 0 0 -1 noreply\r\n"
                  "set k\001 0 0 1 noreply\r\nx\r\n"
                  "incr k x noreply\r\n"
                  "verbosity 1 noreply\r\n"
                  "cache_memlimit 8 noreply\r\n"
                  "get a\r\n"
                  "flush_all 0 noreply\r\n"
                  "get a\r\n"
                  "mn\r\n",
                  "VALUE a 0 3\r\nwxz\r\nEND\r\n"
                  "END\r\n"
                  "MN\r\n");
}

static void test_errors(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->main,
                  "flush_all\r\n"
                  "bogus\r\n"
                  "get\r\n"
                  "\r\n"
                  "set k 0 0 -1\r\n"
                  "set k\001 0 0 3\r\nabc\r\n"
                  "get k\r\n"
                  "set k 0 0 3\r\nabcde\r\n"
                  "set k 0 0 1\r\nx\r\n"
                  "get k k\001\r\n"
                  "incr\r\n"
                  "delete k 5\r\n"
                  "touch k x\r\n"
                  "gat x k\r\n"
                  "flush_all x\r\n"
                  "cache_memlimit 7\r\n"
                  "verbosity 1\r\n"
                  "stats nonsense\r\n"
                  "version\r\n",
                  "OK\r\n"
                  "ERROR\r\n"
                  "ERROR\r\n"
                  "ERROR\r\n"
                  "CLIENT_ERROR bad command line format\r\n"
                  "CLIENT_ERROR bad command line format\r\n"
                  "END\r\n"
                  "CLIENT_ERROR bad data chunk\r\n"
                  "ERROR\r\n"
                  "STORED\r\n"
                  "VALUE k 0 1\r\nx\r\n"
                  "CLIENT_ERROR bad command line format\r\n"
                  "ERROR\r\n"
                  "CLIENT_ERROR bad command line format.  Usage: delete "
                  "<key> [noreply]\r\n"
                  "CLIENT_ERROR invalid exptime argument\r\n"
                  "CLIENT_ERROR invalid exptime argument\r\n"
                  "CLIENT_ERROR invalid exptime argument\r\n"
                  "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
                  "OK\r\n"
                  "ERROR\r\n"
                  "VERSION 1.6.18\r\n");
}

/* strict_keys = no: control characters are fine in keys (as memcached),
 * spaces still separate them; the default refuses them. */
static void test_lax_keys(void **state)
{
    env_t *e = *state;

    EXPECT_SPLITS(e->lax,
                  "flush_all\r\n"
                  "set k\001x 0 0 1\r\nv\r\n"
                  "get k\001x a\tb\r\n"
                  "mg k\001x v k\r\n"
                  "incr \033 1\r\n"
                  "delete k\001x\r\n"
                  "get k\001x\r\n",
                  "OK\r\n"
                  "STORED\r\n"
                  "VALUE k\001x 0 1\r\nv\r\nEND\r\n"
                  "VA 1 kk\001x\r\nv\r\n"
                  "NOT_FOUND\r\n"
                  "DELETED\r\n"
                  "END\r\n");
    EXPECT_SPLITS(e->main,
                  "set k\001x 0 0 1\r\nv\r\n"
                  "get k\001x\r\n"
                  "mg k\001x v\r\n",
                  "CLIENT_ERROR bad command line format\r\n"
                  "CLIENT_ERROR bad command line format\r\n"
                  "CLIENT_ERROR bad command line format\r\n");
}

/* gets/cas: the CAS unique is read back and used. */
static void test_gets_cas(void **state)
{
    env_t *e = *state;
    char in[256], want[256];
    unsigned long long cas = 0;
    reply_t r;
    int n;

    r = talk(e, e->main, "flush_all\r\nset c 1 0 2\r\nv1\r\ngets c\r\n",
             strlen("flush_all\r\nset c 1 0 2\r\nv1\r\ngets c\r\n"), 0, 0);
    n = sscanf(r.p, "OK\r\nSTORED\r\nVALUE c 1 2 %llu\r\nv1\r\nEND\r\n", &cas);
    if (n != 1 || cas == 0)
        ses_show("got", r.p, r.len);
    assert_int_equal(n, 1);
    assert_true(cas != 0);
    free(r.p);
    snprintf(in, sizeof(in),
             "cas c 0 0 2 %llu\r\nv2\r\n"
             "cas c 0 0 2 %llu\r\nv3\r\n"
             "cas nope 0 0 2 %llu\r\nv3\r\n"
             "get c\r\n"
             "mg c c\r\n",
             cas + 1, cas, cas);
    r = talk(e, e->main, in, strlen(in), 0, 0);
    /* cas+1 is the next unique: no item has it */
    snprintf(want, sizeof(want),
             "EXISTS\r\nSTORED\r\nNOT_FOUND\r\nVALUE c 0 2\r\nv3\r\nEND\r\n"
             "HD c");
    if (strncmp(r.p, want, strlen(want)) != 0) {
        ses_show("got", r.p, r.len);
        fail_msg("cas replies");
    }
    free(r.p);
}

/* A data block arriving in many small pieces: nothing is answered before
 * its last byte, then STORED, and the value reads back whole. */
static void test_data_in_pieces(void **state)
{
    env_t *e = *state;
    enum { N = 100000, PIECE = 13 };
    loom_conn_t *c = ses_conn(&e->ses, e->main);
    const char *line = "set big 7 0 100000\r\n";
    char *val = malloc(N + 2), *want;
    const char *out;
    size_t off, len = 0, i, wlen;

    assert_non_null(val);
    for (i = 0; i < N; i++)
        val[i] = (char)("0123456789\r\nabc"[i % 15]);
    memcpy(val + N, "\r\n", 2);
    assert_int_equal(loom_mem_feed(c, line, strlen(line)), LOOM_OK);
    ses_settle(&e->ses);
    for (off = 0; off < N + 2; off += PIECE) {
        size_t n = N + 2 - off < PIECE ? N + 2 - off : PIECE;

        loom_mem_output(c, &len);
        assert_int_equal(len, 0);
        assert_false(loom_mem_closed(c));
        assert_int_equal(loom_mem_feed(c, val + off, n), LOOM_OK);
        ses_settle(&e->ses);
    }
    out = loom_mem_output(c, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(out, "STORED\r\n", 8);
    assert_int_equal(loom_mem_feed(c, "get big\r\n", 9), LOOM_OK);
    ses_settle(&e->ses);
    out = loom_mem_output(c, &len);
    wlen = 8 + strlen("VALUE big 7 100000\r\n") + N + 2 + 5;
    want = malloc(wlen);
    assert_non_null(want);
    memcpy(want, "STORED\r\nVALUE big 7 100000\r\n", 28);
    memcpy(want + 28, val, N + 2);
    memcpy(want + 28 + N + 2, "END\r\n", 5);
    assert_int_equal(len, wlen);
    assert_memory_equal(out, want, wlen);
    loom_mem_conn_free(c);
    free(want);
    free(val);
}

/* A value over max_item_size: refused at once, its data block swallowed
 * however it arrives (even if it looks like commands), the next command
 * runs; a set that fails this way leaves no stale value behind. */
static void test_too_large(void **state)
{
    env_t *e = *state;
    static const char cmdlike[] = "set x 0 0 1\r\ny\r\nget big\r\nquit\r\n";
    char *in, *want = malloc(512);
    size_t n, off, vlen = 3000, fit, per;

    assert_non_null(want);
    /* the largest value of key "fit" that still fits */
    for (fit = 1; mc_store_item_size(3, fit + 1) <= SMALL_MAX; fit++)
        ;
    per = strlen(cmdlike);
    in = malloc(2 * vlen + 1024);
    assert_non_null(in);

    /* text set: old value dropped, block swallowed, next command runs */
    off = (size_t)sprintf(in,
                          "flush_all\r\nset big 0 0 1\r\nx\r\n"
                          "set big 0 0 %zu\r\n",
                          vlen);
    for (n = 0; n < vlen; n++)
        in[off + n] = cmdlike[n % per];
    off += vlen;
    off += (size_t)sprintf(in + off, "\r\nget big x\r\nversion\r\n");
    snprintf(want, 512,
             "OK\r\nSTORED\r\n"
             "SERVER_ERROR object too large for cache\r\n"
             "END\r\nVERSION 1.6.18\r\n");
    expect_all_splits(e, e->small, in, off, want, strlen(want), 0);

    /* noreply: silent; meta q: the error is sent anyway */
    off = (size_t)sprintf(in, "set big 0 0 %zu noreply\r\n", vlen);
    for (n = 0; n < vlen; n++)
        in[off + n] = cmdlike[n % per];
    off += vlen;
    off += (size_t)sprintf(in + off, "\r\nms big %zu q T0\r\n", vlen);
    for (n = 0; n < vlen; n++)
        in[off + n] = cmdlike[n % per];
    off += vlen;
    off += (size_t)sprintf(in + off, "\r\nmn\r\n");
    snprintf(want, 512, "SERVER_ERROR object too large for cache\r\nMN\r\n");
    expect_reply(e, e->small, in, off, want, strlen(want), 0);
    {
        reply_t r = talk(e, e->small, in, off, 5, 0);

        assert_int_equal(r.len, strlen(want));
        assert_memory_equal(r.p, want, r.len);
        free(r.p);
    }

    /* exactly max_item_size is stored, one byte more is not */
    off = (size_t)sprintf(in, "set fit 0 0 %zu\r\n", fit);
    memset(in + off, 'f', fit);
    off += fit;
    off += (size_t)sprintf(in + off, "\r\nset fit 0 0 %zu\r\n", fit + 1);
    memset(in + off, 'g', fit + 1);
    off += fit + 1;
    off += (size_t)sprintf(in + off, "\r\nmg fit s\r\n");
    snprintf(want, 512,
             "STORED\r\n"
             "SERVER_ERROR object too large for cache\r\n"
             "EN\r\n");
    expect_reply(e, e->small, in, off, want, strlen(want), 0);
    free(in);
    free(want);
}

/* The binary protocol's magic byte: a binary error reply (status 0x83,
 * the request's opcode and opaque), then the connection closes. */
static void test_binary_refused(void **state)
{
    env_t *e = *state;
    static const char msg[] =
        "binary protocol is not supported; use the text or meta protocol";
    static const unsigned char req[25] = {
        0x80, 0x0c, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,  0xde,
        0xad, 0xbe, 0xef, 0,    0, 0, 0, 0, 0, 0, 0, 'k'};
    unsigned char want[24 + sizeof(msg) + 16];
    char in[64];
    size_t wlen = 0;

    memset(want, 0, 24);
    want[0] = 0x81;
    want[1] = 0x0c;
    want[7] = 0x83;
    want[11] = (unsigned char)(sizeof(msg) - 1);
    memcpy(want + 12, "\xde\xad\xbe\xef", 4);
    memcpy(want + 24, msg, sizeof(msg) - 1);
    wlen = 24 + sizeof(msg) - 1;
    expect_all_splits(e, e->main, (const char *)req, sizeof(req),
                      (const char *)want, wlen, 1);
    /* after a text command on the same connection */
    memcpy(in, "version\r\n", 9);
    memcpy(in + 9, req, sizeof(req));
    memmove(want + 16, want, wlen);
    memcpy(want, "VERSION 1.6.18\r\n", 16);
    expect_all_splits(e, e->main, in, 9 + sizeof(req), (const char *)want,
                      16 + wlen, 1);
    /* 0x80 inside a line or a data block is just a byte */
    EXPECT_SPLITS(e->main, "flush_all\r\nset b 0 0 1\r\n\200\r\nget b\r\n",
                  "OK\r\nSTORED\r\nVALUE b 0 1\r\n\200\r\nEND\r\n");
}

static void test_quit(void **state)
{
    env_t *e = *state;

    expect_all_splits(e, e->main, "get qa\r\nquit\r\nget qb\r\n", 22, "END\r\n",
                      5, 1);
    expect_all_splits(e, e->main, "quit\r\n", 6, "", 0, 1);
    expect_all_splits(e, e->main, "quit now\r\nversion\r\n", 19, "", 0, 1);
}

/* Lines: a non-get line over 2048 bytes is refused (and the connection
 * closed) even before its end arrives; a get key list may be longer. */
static void test_long_lines(void **state)
{
    env_t *e = *state;
    char *in = malloc(80000);
    size_t off = 0;
    reply_t r;
    int i;

    assert_non_null(in);
    off = (size_t)sprintf(in, "get");
    for (i = 0; i < 400; i++)
        off += (size_t)sprintf(in + off, " key%05d", i);
    off += (size_t)sprintf(in + off, "\r\nversion\r\n");
    assert_true(off > 2048);
    r = talk(e, e->main, in, off, 0, 0);
    assert_string_equal(r.p, "END\r\nVERSION 1.6.18\r\n");
    free(r.p);
    r = talk(e, e->main, in, off, 100, 0);
    assert_string_equal(r.p, "END\r\nVERSION 1.6.18\r\n");
    free(r.p);

    memset(in, 'x', 3000);
    r = talk(e, e->main, in, 3000, 0, 0);
    assert_string_equal(r.p, "CLIENT_ERROR line too long\r\n");
    assert_true(r.closed);
    free(r.p);
    r = talk(e, e->main, in, 3000, 256, 0);
    assert_string_equal(r.p, "CLIENT_ERROR line too long\r\n");
    assert_true(r.closed);
    free(r.p);

    /* a get line over 64 KiB is too long as well */
    off = (size_t)sprintf(in, "get");
    while (off < 70000)
        off += (size_t)sprintf(in + off, " key%05d", (int)off);
    r = talk(e, e->main, in, off, 0, 0);
    assert_string_equal(r.p, "CLIENT_ERROR line too long\r\n");
    assert_true(r.closed);
    free(r.p);
    free(in);
}

/* A multi-get whose answer is far above the output high-water mark is
 * answered whole and in order, and the commands after it run. */
static void test_big_multiget(void **state)
{
    env_t *e = *state;
    enum { N = 100000, K = 40 };
    char *in = malloc(N + 1024), *want;
    const char *hdr = "VALUE big 0 100000\r\n";
    size_t off, wlen, i;
    reply_t r;

    assert_non_null(in);
    off = (size_t)sprintf(in, "flush_all\r\nset big 0 0 %d\r\n", N);
    for (i = 0; i < N; i++)
        in[off + i] = (char)('a' + i % 26);
    off += N;
    off += (size_t)sprintf(in + off, "\r\nget");
    for (i = 0; i < K; i++)
        off += (size_t)sprintf(in + off, " big");
    off += (size_t)sprintf(in + off, " nope\r\nversion\r\n");

    wlen = 4 + 8 + K * (strlen(hdr) + N + 2) + 5 + 16;
    want = malloc(wlen + 1);
    assert_non_null(want);
    memcpy(want, "OK\r\nSTORED\r\n", 12);
    for (i = 0; i < K; i++) {
        char *p = want + 12 + i * (strlen(hdr) + N + 2);
        size_t j;

        memcpy(p, hdr, strlen(hdr));
        for (j = 0; j < N; j++)
            p[strlen(hdr) + j] = (char)('a' + j % 26);
        memcpy(p + strlen(hdr) + N, "\r\n", 2);
    }
    memcpy(want + wlen - 21, "END\r\nVERSION 1.6.18\r\n", 21);
    r = talk(e, e->main, in, off, 0, 0);
    if (r.len != wlen || memcmp(r.p, want, wlen) != 0) {
        size_t k = 0;

        while (k < r.len && k < wlen && r.p[k] == want[k])
            k++;
        free(r.p);
        free(want);
        free(in);
        fail_msg("multi-get: %zu bytes, want %zu; first difference at %zu",
                 r.len, wlen, k);
    }
    free(r.p);
    free(want);
    free(in);
}

/* stats: STAT lines, END. */
static void test_stats(void **state)
{
    env_t *e = *state;
    reply_t r;

    r = talk(e, e->main, "stats\r\n", 7, 0, 0);
    assert_non_null(strstr(r.p, "STAT curr_items "));
    assert_non_null(strstr(r.p, "STAT version 1.6.18\r\n"));
    assert_non_null(strstr(r.p, "STAT limit_maxbytes 8388608\r\n"));
    assert_int_equal(strncmp(r.p, "STAT ", 5), 0);
    assert_int_equal(strcmp(r.p + r.len - 5, "END\r\n"), 0);
    free(r.p);
    r = talk(e, e->main, "stats settings\r\n", 16, 0, 0);
    assert_non_null(strstr(r.p, "STAT item_size_max 1048576\r\n"));
    assert_int_equal(strcmp(r.p + r.len - 5, "END\r\n"), 0);
    free(r.p);
    r = talk(e, e->main, "stats reset\r\n", 13, 0, 0);
    assert_string_equal(r.p, "RESET\r\n");
    free(r.p);
}

/* cache_memlimit takes megabytes.  A value whose byte count does not fit
 * in 64 bits must be refused, not wrapped around: memcached answers
 * "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes" for anything
 * above 1000000000.  Whatever the reply, the cache must stay usable. */
static void test_cache_memlimit(void **state)
{
    env_t *e = *state;
    reply_t r;

    EXPECT(e->limit, "cache_memlimit 8\r\nset k 0 0 1\r\nx\r\nget k\r\n",
           "OK\r\nSTORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
    r = talk(e, e->limit,
             "cache_memlimit 17592186044416\r\n"
             "set k2 0 0 1\r\ny\r\nget k2\r\n",
             strlen("cache_memlimit 17592186044416\r\n"
                    "set k2 0 0 1\r\ny\r\nget k2\r\n"),
             0, 0);
    /* refused (any reply but OK), and the cache still stores */
    if (strncmp(r.p, "OK\r\n", 4) == 0 ||
        strstr(r.p, "\r\nSTORED\r\nVALUE k2 0 1\r\ny\r\nEND\r\n") == NULL) {
        ses_show("got", r.p, r.len);
        free(r.p);
        fail_msg("cache_memlimit 17592186044416 (2^64 bytes) wrapped the "
                 "memory limit instead of being refused");
    }
    free(r.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_storage),
        cmocka_unit_test(test_binary_values),
        cmocka_unit_test(test_lf_lines),
        cmocka_unit_test(test_arith_session),
        cmocka_unit_test(test_meta_session),
        cmocka_unit_test(test_meta_tokens),
        cmocka_unit_test(test_quiet_mode),
        cmocka_unit_test(test_noreply),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_lax_keys),
        cmocka_unit_test(test_gets_cas),
        cmocka_unit_test(test_data_in_pieces),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_binary_refused),
        cmocka_unit_test(test_quit),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_big_multiget),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_cache_memlimit),
    };

    return cmocka_run_group_tests_name("mc_session", tests, env_setup,
                                       ses_teardown);
}

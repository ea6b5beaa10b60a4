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
#define E_FORMAT_NL "CLIENT_ERROR bad command line format\r\n"

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

/* One feed of a string literal, the reply returned. */
#define TALK(inst, in) talk(e, (inst), (in), sizeof(in) - 1, 0, 0)

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
                  "CLIENT_ERROR bad command line format\r\n" /* no VALUE */
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

    /* a get line over 64 KiB is answered, whole or before its end */
    off = (size_t)sprintf(in, "get");
    while (off < 70000)
        off += (size_t)sprintf(in + off, " key%05d", (int)off);
    r = talk(e, e->main, in, off, 0, 0);
    assert_string_equal(r.p, "");
    assert_false(r.closed);
    free(r.p);
    off += (size_t)sprintf(in + off, "\r\nversion\r\n");
    r = talk(e, e->main, in, off, 0, 0);
    assert_string_equal(r.p, "END\r\nVERSION 1.6.18\r\n");
    free(r.p);
    r = talk(e, e->main, in, off, 999, 0);
    assert_string_equal(r.p, "END\r\nVERSION 1.6.18\r\n");
    free(r.p);
    /* any other line that long is not */
    in[0] = 'x';
    r = talk(e, e->main, in, off, 999, 0);
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

/* ---- long key lists, listings, memcached 1.6.18's other replies ---------- */

/* A growing byte buffer for building inputs and expected outputs. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void bput(buf_t *b, const char *fmt, ...) LOOM_PRINTF(2, 3);
static void bput(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (b->len + (size_t)n < b->cap)
            break;
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    b->len += (size_t)n;
}

/* Feed IN in pieces of PIECE bytes (0: at once) and compare with WANT. */
static void expect_pieces(env_t *e, loom_instance_t *inst, const buf_t *in,
                          const buf_t *want, size_t piece, const char *what)
{
    reply_t r = talk(e, inst, in->p, in->len, piece, 0);

    if (r.len != want->len || memcmp(r.p, want->p, want->len) != 0) {
        size_t k = 0;

        while (k < r.len && k < want->len && r.p[k] == want->p[k])
            k++;
        ses_show("got from the first difference", r.p + k, r.len - k);
        ses_show("want from there", want->p + k, want->len - k);
        free(r.p);
        fail_msg("%s (pieces of %zu): %zu bytes, want %zu; first difference "
                 "at %zu",
                 what, piece, r.len, want->len, k);
    }
    assert_false(r.closed);
    free(r.p);
}

/* An 18,000-key get (about 200 KB of line, far above both the get hold and
 * the output high-water mark), as memcached answers it: every value in
 * order, END, and the next command after it; fed whole and in pieces.
 * gets: the same values, each with a CAS. */
static void test_long_multiget(void **state)
{
    env_t *e = *state;
    enum { N = 18000 };
    static const char *const verbs[] = {"get", "gat 0", "gets"};
    buf_t in = {0}, want = {0};
    reply_t r;
    const char *p;
    size_t v;
    int i;

    for (v = 0; v < LOOM_ARRAY_LEN(verbs); v++) {
        in.len = want.len = 0;
        bput(&in, "flush_all\r\n");
        for (i = 0; i < N; i++)
            bput(&in, "set lk:%05d %d 0 %d noreply\r\nvalue-%d\r\n", i, i % 7,
                 7 + (i > 9) + (i > 99) + (i > 999) + (i > 9999), i);
        bput(&in, "%s", verbs[v]);
        for (i = 0; i < N; i++)
            bput(&in, " lk:%05d", i);
        bput(&in, " lk:nope\r\nversion\r\n");
        bput(&want, "OK\r\n");
        for (i = 0; i < N; i++)
            bput(&want, "VALUE lk:%05d %d %d\r\nvalue-%d\r\n", i, i % 7,
                 7 + (i > 9) + (i > 99) + (i > 999) + (i > 9999), i);
        bput(&want, "END\r\nVERSION 1.6.18\r\n");
        if (strcmp(verbs[v], "gets") != 0) {
            expect_pieces(e, e->main, &in, &want, 0, verbs[v]);
            expect_pieces(e, e->main, &in, &want, 4093, verbs[v]);
            expect_pieces(e, e->main, &in, &want, 65536, verbs[v]);
            continue;
        }
        r = talk(e, e->main, in.p, in.len, 5000, 0);
        assert_int_equal(strncmp(r.p, "OK\r\n", 4), 0);
        for (p = r.p + 4, i = 0; i < N; i++) {
            char val[16];
            int k, f, n;
            unsigned long long cas;

            if (sscanf(p, "VALUE lk:%05d %d %d %llu\r\n%15s", &k, &f, &n, &cas,
                       val) != 5 ||
                k != i || f != i % 7 || cas == 0 || atoi(val + 6) != i)
                fail_msg("gets value %d: %.60s", i, p);
            p = strstr(strstr(p, "\r\n") + 2, "\r\n") + 2;
        }
        assert_string_equal(p, "END\r\nVERSION 1.6.18\r\n");
        free(r.p);
    }
    free(in.p);
    free(want.p);
}

/* A bad key anywhere in a get line held whole (up to MC_GET_HOLD bytes
 * before its end arrives) makes the answer one CLIENT_ERROR, as memcached:
 * no value found before it is sent.  Further on in a longer line, the
 * values already sent stay sent, then CLIENT_ERROR; either way the rest of
 * the line is skipped and the next command runs. */
static void test_long_multiget_bad_key(void **state)
{
    env_t *e = *state;
    buf_t in = {0}, want = {0};
    reply_t r;
    size_t piece, at;
    int i;

    for (piece = 0; piece <= 1000; piece += 1000) {
        in.len = want.len = 0;
        bput(&in, "set a 0 0 1\r\nx\r\nget");
        for (i = 0; i < 5000; i++) /* 30 KB, then the bad key */
            bput(&in, " a");
        bput(&in, " k\001 a");
        for (i = 0; i < 20000; i++) /* well beyond MC_GET_HOLD */
            bput(&in, " a");
        bput(&in, "\r\nversion\r\n");
        bput(&want, "STORED\r\n" E_FORMAT_NL "VERSION 1.6.18\r\n");
        expect_pieces(e, e->main, &in, &want, piece, "bad key at 30 KB");
    }
    /* a key longer than 250 bytes counts as bad as well */
    in.len = want.len = 0;
    bput(&in, "get a %0300d b\r\nversion\r\n", 7);
    bput(&want, E_FORMAT_NL "VERSION 1.6.18\r\n");
    expect_pieces(e, e->main, &in, &want, 0, "long key");
    expect_pieces(e, e->main, &in, &want, 3, "long key");

    /* the bad key 120 KB into the line, fed in pieces: values first */
    in.len = 0;
    bput(&in, "set a 0 0 1\r\nx\r\nget");
    for (i = 0; i < 60000; i++)
        bput(&in, " a");
    bput(&in, " k\001");
    for (i = 0; i < 10; i++)
        bput(&in, " a");
    bput(&in, "\r\nversion\r\n");
    r = talk(e, e->main, in.p, in.len, 4096, 0);
    assert_int_equal(strncmp(r.p, "STORED\r\n", 8), 0);
    for (at = 8, i = 0; strncmp(r.p + at, "VALUE a 0 1\r\nx\r\n", 16) == 0;
         at += 16)
        i++;
    print_message("# %d values before the bad key's CLIENT_ERROR\n", i);
    assert_true(i > 0 && i <= 60000);
    assert_string_equal(r.p + at, E_FORMAT_NL "VERSION 1.6.18\r\n");
    assert_false(r.closed);
    free(r.p);
    free(in.p);
    free(want.p);
}

/* An unknown verb whose last token starts with HTTP/ closes the connection
 * without a reply (earlier commands keep theirs); a known verb, or a verb
 * memcached picks by its first letter, is answered as usual. */
static void test_http_hangup(void **state)
{
    env_t *e = *state;

    expect_all_splits(e, e->main, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, "",
                      0, 1);
    expect_all_splits(e, e->main, "version\r\nPOST /x HTTP/1.0\r\nversion\r\n",
                      35, "VERSION 1.6.18\r\n", 16, 1);
    EXPECT_SPLITS(e->main, "gxx / HTTP/1.1\r\nget HTTP/1.1\r\nmx HTTP/1.0\r\n",
                  "ERROR\r\nEND\r\nERROR\r\n");
}

/* ms with the c flag returns the CAS of what it stored, and c0 when it
 * stored nothing (a CAS mismatch, no item, add of an existing one). */
static void test_ms_cas_flag(void **state)
{
    env_t *e = *state;
    reply_t r;
    unsigned long long cas = 0;

    r = TALK(e->main, "flush_all\r\nms c 1 c\r\nq\r\n");
    assert_int_equal(sscanf(r.p, "OK\r\nHD c%llu\r\n", &cas), 1);
    assert_true(cas > 0);
    free(r.p);
    EXPECT_SPLITS(e->main,
                  "ms c 1 C1 c\r\nq\r\n"
                  "ms c 1 C1\r\nq\r\n"
                  "ms nx 1 C1 c\r\nq\r\n"
                  "ms c 1 C1 c O123 k\r\nq\r\n"
                  "ms c 1 ME c\r\nq\r\n",
                  "EX c0\r\n"
                  "EX\r\n"
                  "NF c0\r\n"
                  "EX c0 O123 kc\r\n"
                  "NS c0\r\n");
}

/* stats detail: per-prefix counters (the prefix ends at the first ':'),
 * for get keys, storage commands and deletes, while on; reset by stats
 * reset.  slabs automove: 0, 1, 2. */
static void test_stats_detail_and_slabs(void **state)
{
    env_t *e = *state;
    reply_t r;

    EXPECT(e->main,
           "stats reset\r\n"
           "stats detail dump\r\n"
           "stats detail on\r\n"
           "set p1:a 0 0 1\r\nx\r\n"
           "set p1:b 0 0 1 noreply\r\nx\r\n"
           "get p1:a p1:zz nodelim\r\n"
           "gats 0 p1:nx\r\n"
           "delete p1:a\r\n"
           "add :e 0 0 1\r\nx\r\n"
           "mg p1:b v\r\n"
           "incr p1:b 1\r\n"
           "set p2:c:d 0 0 1\r\nx\r\n"
           "stats detail dump\r\n"
           "stats detail off\r\n"
           "get p1:b\r\n"
           "stats detail dump\r\n",
           "RESET\r\n"
           "END\r\n"
           "OK\r\n"
           "STORED\r\n"
           "VALUE p1:a 0 1\r\nx\r\nEND\r\n"
           "END\r\n"
           "DELETED\r\n"
           "STORED\r\n"
           "VA 1\r\nx\r\n"
           "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
           "STORED\r\n"
           "PREFIX p1 get 3 hit 1 set 2 del 1\r\n"
           "PREFIX  get 0 hit 0 set 1 del 0\r\n"
           "PREFIX p2 get 0 hit 0 set 1 del 0\r\n"
           "END\r\n"
           "OK\r\n"
           "VALUE p1:b 0 1\r\nx\r\nEND\r\n"
           "PREFIX p1 get 3 hit 1 set 2 del 1\r\n"
           "PREFIX  get 0 hit 0 set 1 del 0\r\n"
           "PREFIX p2 get 0 hit 0 set 1 del 0\r\n"
           "END\r\n");
    EXPECT_SPLITS(e->main,
                  "stats detail\r\n"
                  "stats detail bogus\r\n"
                  "stats reset\r\n"
                  "stats detail dump\r\n"
                  "slabs automove 0\r\n"
                  "slabs automove 2 noreply\r\n"
                  "slabs automove 3\r\n"
                  "slabs automove x\r\n"
                  "slabs automove -1\r\n"
                  "slabs automove 4294967298\r\n"
                  "slabs automove\r\n"
                  "slabs\r\n"
                  "slabs reassign 1 2\r\n",
                  "CLIENT_ERROR usage: stats detail on|off|dump\r\n"
                  "CLIENT_ERROR usage: stats detail on|off|dump\r\n"
                  "RESET\r\n"
                  "END\r\n"
                  "OK\r\n"
                  "OK\r\n"
                  "ERROR\r\n" E_FORMAT_NL E_FORMAT_NL "OK\r\n"
                  "ERROR\r\n"
                  "ERROR\r\n"
                  "ERROR\r\n");
    /* both show in stats settings */
    r = TALK(e->main, "stats detail on\r\nstats settings\r\n");
    assert_non_null(strstr(r.p, "\r\nSTAT detail_enabled yes\r\n"));
    assert_non_null(strstr(r.p, "\r\nSTAT slab_automove 2\r\n"));
    assert_non_null(strstr(r.p, "\r\nSTAT stat_key_prefix :\r\n"));
    free(r.p);
    r = TALK(e->main,
             "stats detail off\r\nslabs automove 1\r\nstats settings\r\n");
    assert_non_null(strstr(r.p, "\r\nSTAT detail_enabled no\r\n"));
    assert_non_null(strstr(r.p, "\r\nSTAT slab_automove 1\r\n"));
    free(r.p);
}

/* stats items: memcached's per-class field names, in its order. */
static void test_stats_items(void **state)
{
    env_t *e = *state;
    static const char *const names[] = {
        "number",
        "number_hot",
        "number_warm",
        "number_cold",
        "age_hot",
        "age_warm",
        "age",
        "mem_requested",
        "evicted",
        "evicted_nonzero",
        "evicted_time",
        "outofmemory",
        "tailrepairs",
        "reclaimed",
        "expired_unfetched",
        "evicted_unfetched",
        "evicted_active",
        "crawler_reclaimed",
        "crawler_items_checked",
        "lrutail_reflocked",
        "moves_to_cold",
        "moves_to_warm",
        "moves_within_lru",
        "direct_reclaims",
        "hits_to_hot",
        "hits_to_warm",
        "hits_to_cold",
        "hits_to_temp",
    };
    reply_t r;
    const char *p;
    size_t i;

    /* no items (test_lax_keys deleted its one): no fields */
    EXPECT(e->lax, "stats items\r\n", "END\r\n");
    r = TALK(e->lax, "set it:a 0 0 2\r\nab\r\nstats items\r\n");
    p = r.p;
    assert_int_equal(strncmp(p, "STORED\r\n", 8), 0);
    p += 8;
    for (i = 0; i < LOOM_ARRAY_LEN(names); i++) {
        char want[64];

        snprintf(want, sizeof(want), "STAT items:1:%s ", names[i]);
        if (strncmp(p, want, strlen(want)) != 0) {
            ses_show("got", p, strlen(p));
            fail_msg("field %zu: want %s", i, want);
        }
        p = strstr(p, "\r\n") + 2;
    }
    assert_string_equal(p, "END\r\n");
    assert_non_null(strstr(r.p, "STAT items:1:number 1\r\n"));
    free(r.p);
}

/* lru_crawler metadump all: a line per key, streamed under back-pressure
 * (far more than the high-water mark), each key once, then END and the
 * commands after it; class ids as memcached takes them. */
static void test_metadump(void **state)
{
    env_t *e = *state;
    enum { N = 6000 };
    buf_t in = {0};
    reply_t r;
    unsigned char *seen = calloc(N, 1);
    const char *p;
    int i, lines = 0;

    assert_non_null(seen);
    bput(&in, "flush_all\r\n");
    for (i = 0; i < N; i++)
        bput(&in, "set md:%05d 0 %d 1 noreply\r\nv\r\n", i, i % 3 ? 0 : 1000);
    bput(&in, "ms Zm9vYmFy 1 b\r\nq\r\n"
              "lru_crawler metadump all\r\nversion\r\n");
    r = talk(e, e->main, in.p, in.len, 0, 0);
    assert_int_equal(strncmp(r.p, "OK\r\nHD\r\n", 8), 0);
    for (p = r.p + 8; strncmp(p, "key=", 4) == 0; p = strchr(p, '\n') + 1) {
        unsigned v;
        long exp;
        char fetch[4];

        lines++;
        if (strncmp(p, "key=foobar exp=-1 la=", 21) == 0)
            continue; /* the binary key, decoded */
        assert_int_equal(sscanf(p,
                                "key=md%%3A%05u exp=%ld la=%*u cas=%*u "
                                "fetch=%3s cls=1 size=%*u\n",
                                &v, &exp, fetch),
                         3);
        assert_true(v < N);
        assert_int_equal(seen[v]++, 0);
        assert_true(v % 3 ? exp == -1 : exp > 1000);
        assert_string_equal(fetch, "no");
    }
    assert_int_equal(lines, N + 1);
    assert_string_equal(p, "END\r\nVERSION 1.6.18\r\n");
    free(r.p);
    free(seen);
    EXPECT_SPLITS(e->main,
                  "lru_crawler metadump 2\r\n"
                  "lru_crawler metadump 0\r\n"
                  "lru_crawler metadump 64\r\n"
                  "lru_crawler metadump x\r\n"
                  "lru_crawler metadump 1,x\r\n"
                  "lru_crawler metadump ,\r\n"
                  "lru_crawler metadump\r\n"
                  "lru_crawler metadump all x\r\n"
                  "lru_crawler crawl all\r\n"
                  "lru_crawler crawl 99\r\n"
                  "lru_crawler\r\n",
                  "END\r\n"
                  "BADCLASS invalid class id\r\n"
                  "BADCLASS invalid class id\r\n"
                  "BADCLASS invalid class id\r\n"
                  "BADCLASS invalid class id\r\n"
                  "NOTSTARTED no items to crawl\r\n"
                  "ERROR\r\n"
                  "ERROR\r\n"
                  "OK\r\n"
                  "BADCLASS invalid class id\r\n"
                  "ERROR\r\n");
    free(in.p);
}

/* stats cachedump CLASS LIMIT (what memcdump sends): ITEM lines, most
 * recently used first, at most LIMIT (0: all) and at most 2 MB, as
 * memcached; binary keys are left out. */
static void test_cachedump(void **state)
{
    env_t *e = *state;
    enum { N = 80000 };
    buf_t in = {0}, want = {0};
    unsigned long t = 0;
    size_t lines = 0;
    const char *p;
    reply_t r;
    int i;

    bput(&in, "flush_all\r\n"
              "set a 0 0 1\r\nx\r\n"
              "set b 5 1000 2\r\nxy\r\n"
              "ms Zm9v 1 b\r\nq\r\n"
              "stats cachedump 1 0\r\n");
    r = talk(e, e->main, in.p, in.len, 0, 0);
    assert_int_equal(
        sscanf(r.p, "OK\r\nSTORED\r\nSTORED\r\nHD\r\nITEM b [2 b; %lu s]", &t),
        1);
    assert_true(t > 1000000000ul); /* the expiry as a Unix time */
    bput(&want,
         "OK\r\nSTORED\r\nSTORED\r\nHD\r\nITEM b [2 b; %lu s]\r\n"
         "ITEM a [1 b; 0 s]\r\nEND\r\n",
         t);
    assert_int_equal(r.len, want.len);
    assert_memory_equal(r.p, want.p, want.len);
    free(r.p);
    want.len = 0;
    bput(&want, "ITEM b [2 b; %lu s]\r\nEND\r\n", t);
    bput(&want, "END\r\nEND\r\n"
                "CLIENT_ERROR Illegal slab id\r\n" E_FORMAT_NL E_FORMAT_NL
                "CLIENT_ERROR bad command line\r\n");
    in.len = 0;
    bput(&in, "stats cachedump 1 1\r\n"
              "stats cachedump 2 0\r\n"
              "stats cachedump 63 0\r\n"
              "stats cachedump 64 0\r\n"
              "stats cachedump x 0\r\n"
              "stats cachedump -1 0\r\n"
              "stats cachedump 1\r\n");
    expect_all_splits(e, e->main, in.p, in.len, want.p, want.len, 0);

    /* a large cache: 2 MB of lines at most */
    in.len = 0;
    bput(&in, "flush_all\r\n");
    for (i = 0; i < N; i++)
        bput(&in, "set key%07d 0 0 5 noreply\r\nvalue\r\n", i);
    bput(&in, "stats cachedump 1 0\r\n");
    r = talk(e, e->main, in.p, in.len, 0, 0);
    for (p = r.p + 4; strncmp(p, "ITEM key", 8) == 0; p = strchr(p, '\n') + 1)
        lines++;
    assert_string_equal(p, "END\r\n");
    /* 28-byte lines: as many as fit 2 MB with END and a NUL */
    assert_int_equal(lines, (2097152 - 6) / 28);
    assert_int_equal(r.len - 4, lines * 28 + 5);
    assert_int_equal(strncmp(r.p + 4, "ITEM key0079999 [5 b; 0 s]\r\n", 28), 0);
    free(r.p);
    free(in.p);
    free(want.p);
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
        cmocka_unit_test(test_long_multiget),
        cmocka_unit_test(test_long_multiget_bad_key),
        cmocka_unit_test(test_http_hangup),
        cmocka_unit_test(test_ms_cas_flag),
        cmocka_unit_test(test_stats_detail_and_slabs),
        cmocka_unit_test(test_stats_items),
        cmocka_unit_test(test_metadump),
        cmocka_unit_test(test_cachedump),
    };

    return cmocka_run_group_tests_name("mc_session", tests, env_setup,
                                       ses_teardown);
}

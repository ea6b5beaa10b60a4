/*
 * test_h2_session.c - the http module's HTTP/2 codec over the in-memory
 * transport, with an nghttp2 client session in the same process as the
 * peer; the instance and the client are session_h2.h's.  The RFC 9113
 * stream-state cases are test_h2_states.c's.
 *
 * Cases: the server's first frames (SETTINGS with the configured values,
 * then the connection WINDOW_UPDATE); GET of files (small, and the large
 * one under the client's default windows); HEAD (the GET's fields, no
 * DATA); 404; echo of bodies larger than the stream window, with and
 * without content-length, on two concurrent streams; the same requests
 * fed whole, split in two at every byte, seven bytes and one byte at a
 * time give the same responses; 100 concurrent streams; flow control (a
 * client that sends no WINDOW_UPDATE gets exactly its stream / connection
 * window of DATA and then nothing, and the rest after WINDOW_UPDATE);
 * RST_STREAM of a response in flight and of a request whose body is still
 * coming stops those streams only; PING is answered with the same
 * payload; a header block in HEADERS + CONTINUATION; a bad preface (ALPN
 * h2 with HTTP/1.1 bytes, or h2c magic followed by something other than
 * SETTINGS) is GOAWAY(PROTOCOL_ERROR) and a close; preface detection on
 * the cleartext side (nothing answered before the 24th byte, only at the
 * start of a connection, a request line that merely starts like it is
 * HTTP/1.1, the preface's request line with a wrong rest is GOAWAY).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "http.h"
#include "session.h"
#include "session_h2.h"

/* DATA payload bytes (padding included) the server sent on stream SID
 * (all streams: -1) in OUT[FROM..LEN). */
static size_t data_bytes(const char *out, size_t len, size_t from, int32_t sid,
                         int *nframes)
{
    static frame_t fs[20000];
    size_t n = scan_frames(out, len, from, fs, 20000), i, total = 0;

    if (nframes)
        *nframes = 0;
    for (i = 0; i < n; i++)
        if (fs[i].type == F_DATA && (sid < 0 || fs[i].sid == sid)) {
            total += fs[i].len;
            if (nframes)
                (*nframes)++;
        }
    return total;
}

/* ---- tests -------------------------------------------------------------- */

static void test_server_settings(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    frame_t fs[16];
    const char *out;
    size_t len, n, i;
    int seen = 0, acked = 0;

    pump(k);
    out = loom_mem_output(k->c, &len);
    n = scan_frames(out, len, 0, fs, 16);
    assert_true(n >= 2);
    /* SETTINGS first, with the configured values */
    assert_int_equal(fs[0].type, F_SETTINGS);
    assert_int_equal(fs[0].flags, 0);
    assert_int_equal(fs[0].sid, 0);
    assert_int_equal(fs[0].len % 6, 0);
    for (i = 0; i < fs[0].len; i += 6) {
        unsigned id = (unsigned)fs[0].pl[i] << 8 | fs[0].pl[i + 1];
        uint32_t v = be32(fs[0].pl + i + 2);

        switch (id) {
        case NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS:
            assert_int_equal(v, H2_MAX_STREAMS);
            seen |= 1;
            break;
        case NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE:
            assert_int_equal(v, H2_WINDOW);
            seen |= 2;
            break;
        case NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE:
            assert_int_equal(v, 32 * 1024);
            seen |= 4;
            break;
        case NGHTTP2_SETTINGS_ENABLE_PUSH:
            assert_int_equal(v, 0);
            seen |= 8;
            break;
        default:
            break;
        }
    }
    if (seen != 15) {
        ses_show("SETTINGS", fs[0].pl, fs[0].len);
        fail_msg("settings seen: %#x, want all of 0xf", seen);
    }
    /* then the connection window, on stream 0 */
    assert_int_equal(fs[1].type, F_WINDOW_UPDATE);
    assert_int_equal(fs[1].sid, 0);
    assert_int_equal(fs[1].len, 4);
    assert_int_equal(be32(fs[1].pl) & 0x7fffffff, H2_CONN_WINDOW - 65535);
    /* the client's SETTINGS acknowledged */
    for (i = 0; i < n; i++)
        if (fs[i].type == F_SETTINGS && (fs[i].flags & 1))
            acked++;
    assert_int_equal(acked, 1);
    assert_int_equal(k->settings, 1);
    assert_false(loom_mem_closed(k->c));
    cli_free(k);
}

static void test_get(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    const unsigned char *big = big_file;
    strm_t *h, *r, *b, *idx;

    h = request(k, "GET", "/hello.txt");
    r = request(k, "GET", "/ret");
    b = request(k, "GET", "/big.bin");
    idx = request(k, "GET", "/sub/");
    pump(k);
    expect_str(h, 200, "Hello, world\n");
    assert_non_null(hval(h, "content-length"));
    assert_string_equal(hval(h, "content-length"), "13");
    assert_non_null(hval(h, "content-type"));
    assert_int_equal(strncmp(hval(h, "content-type"), "text/plain", 10), 0);
    assert_non_null(hval(h, "last-modified"));
    assert_non_null(hval(h, "etag"));
    expect_str(r, 200, "returned\n");
    /* larger than both client windows: the client's WINDOW_UPDATEs go
     * as it consumes */
    expect_resp(b, 200, big, BIG_LEN);
    assert_string_equal(hval(b, "content-length"), "200000");
    expect_str(idx, 200, "<p>sub</p>\n");
    assert_int_equal(k->goaway, 0);
    assert_false(loom_mem_closed(k->c));
    cli_free(k);
}

static void test_head(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    strm_t *g, *h, *g404, *h404;
    const char *out;
    size_t len;
    int i, nd;

    g = request(k, "GET", "/hello.txt");
    h = request(k, "HEAD", "/hello.txt");
    g404 = request(k, "GET", "/nope.txt");
    h404 = request(k, "HEAD", "/nope.txt");
    pump(k);
    expect_str(g, 200, "Hello, world\n");
    expect_str(h, 200, "");
    expect_resp(g404, 404, NULL, 0);
    assert_true(g404->blen > 0);
    expect_str(h404, 404, "");
    /* headers only: END_STREAM on HEADERS, no DATA frame at all */
    out = loom_mem_output(k->c, &len);
    assert_int_equal(data_bytes(out, len, 0, h->id, &nd), 0);
    assert_int_equal(nd, 0);
    assert_int_equal(data_bytes(out, len, 0, h404->id, &nd), 0);
    assert_int_equal(nd, 0);
    assert_true(h->headers_es);
    assert_true(h404->headers_es);
    /* the GET's fields, the same values (Date aside) */
    assert_int_equal(g->nh, h->nh);
    for (i = 0; i < g->nh; i++) {
        const char *v = hval(h, g->hn[i]);

        assert_non_null(v);
        if (strcmp(g->hn[i], "date") != 0)
            assert_string_equal(v, g->hv[i]);
    }
    assert_string_equal(hval(h, "content-length"), "13");
    assert_non_null(hval(g404, "content-length"));
    assert_int_equal(strncmp(hval(g404, "content-type"), "text/html", 9), 0);
    cli_free(k);
}

/* Echo bodies larger than the server's stream window (65535) and than the
 * client's: both sides' WINDOW_UPDATEs keep them going. */
static void test_echo_large(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    unsigned char *body = malloc(300000);
    static const nghttp2_nv ct[] = {NV("content-type", "application/x-test")};
    strm_t *a, *b, *g;
    const char *out;
    size_t len, i;
    frame_t *fs = malloc(sizeof(*fs) * 20000);
    size_t n;
    int wu_a = 0;

    assert_non_null(body);
    assert_non_null(fs);
    for (i = 0; i < 300000; i++)
        body[i] = (unsigned char)(i * 13 + i / 997);
    a = request_x(k, "POST", "/echo", ct, 1, body, 300000, 0, 1);
    b = request_x(k, "POST", "/echo?x=1", NULL, 0, body + 1, 150001, 5000, 0);
    g = request(k, "GET", "/a.txt");
    pump(k);
    expect_resp(a, 200, body, 300000);
    assert_non_null(hval(a, "content-length"));
    assert_string_equal(hval(a, "content-length"), "300000");
    assert_string_equal(hval(a, "content-type"), "application/x-test");
    /* no content-length from the client: none in the answer either */
    expect_resp(b, 200, body + 1, 150001);
    assert_null(hval(b, "content-length"));
    expect_str(g, 200, "alpha\n");
    /* the server opened A's window as it read the body */
    out = loom_mem_output(k->c, &len);
    n = scan_frames(out, len, 0, fs, 20000);
    for (i = 0; i < n; i++)
        if (fs[i].type == F_WINDOW_UPDATE && fs[i].sid == a->id)
            wu_a++;
    assert_true(wu_a > 0);
    assert_int_equal(k->refused, 0);
    assert_false(loom_mem_closed(k->c));
    free(fs);
    free(body);
    cli_free(k);
}

/* ---- the same requests however the bytes are cut ------------------------- */

typedef struct {
    int n;
    strm_t st[8];
    char hdrs[8][1024]; /* "name: value\n" lines, Date left out */
    int closed, goaway;
} outcome_t;

/* Run the fixed exchange on a fresh connection: the client's first flight
 * is fed cut at SPLIT (if non-zero), else in PIECE-byte pieces (0: at
 * once); the rest of the exchange as it comes. */
static void run_split(env_t *e, size_t split, size_t piece, outcome_t *o,
                      size_t *first_len)
{
    static const nghttp2_nv ct[] = {NV("content-type", "text/x-a")};
    cli_t *k = cli_new(e, 0, 1);
    unsigned char *buf = NULL;
    size_t len = 0;
    const uint8_t *data;
    ssize_t n;
    int i, j;

    request(k, "GET", "/a.txt");
    request_x(k, "POST", "/echo", ct, 1, "hello world", 11, 4, 1);
    request_x(k, "POST", "/echo", NULL, 0, "0123456789", 10, 3, 0);
    request(k, "HEAD", "/hello.txt");
    request(k, "GET", "/nope");
    request(k, "GET", "/ret");
    /* the first flight: preface, SETTINGS, every request */
    while ((n = nghttp2_session_mem_send(k->s, &data)) > 0) {
        buf = realloc(buf, len + (size_t)n);
        assert_non_null(buf);
        memcpy(buf + len, data, (size_t)n);
        len += (size_t)n;
    }
    assert_int_equal(n, 0);
    *first_len = len;
    keep_sent(k, buf, len);
    k->refused += ses_feed_pieces(e, k->c, buf, len, piece, split);
    free(buf);
    pump(k);
    memset(o, 0, sizeof(*o));
    o->n = k->nst;
    for (i = 0; i < k->nst; i++) {
        strm_t *st = &k->st[i];

        o->st[i] = *st;
        o->st[i].body = NULL;
        if (st->blen) {
            o->st[i].body = malloc(st->blen);
            memcpy(o->st[i].body, st->body, st->blen);
        }
        for (j = 0; j < st->nh; j++) {
            size_t l = strlen(o->hdrs[i]);

            o->st[i].hn[j] = strdup(st->hn[j]);
            o->st[i].hv[j] = strdup(st->hv[j]);
            if (strcmp(st->hn[j], "date") == 0)
                continue;
            snprintf(o->hdrs[i] + l, sizeof(o->hdrs[i]) - l, "%s: %s\n",
                     st->hn[j], st->hv[j]);
        }
    }
    o->closed = loom_mem_closed(k->c);
    o->goaway = k->goaway;
    cli_free(k);
}

static void outcome_free(outcome_t *o)
{
    int i, j;

    for (i = 0; i < o->n; i++) {
        free(o->st[i].body);
        for (j = 0; j < o->st[i].nh; j++) {
            free(o->st[i].hn[j]);
            free(o->st[i].hv[j]);
        }
    }
}

static void same_outcome(const outcome_t *a, const outcome_t *b,
                         const char *how)
{
    int i;

    if (a->n != b->n || a->closed != b->closed || a->goaway != b->goaway)
        fail_msg("%s: %d/%d streams, closed %d/%d, goaway %d/%d", how, a->n,
                 b->n, a->closed, b->closed, a->goaway, b->goaway);
    for (i = 0; i < a->n; i++) {
        const strm_t *x = &a->st[i], *y = &b->st[i];

        if (x->status != y->status || x->blen != y->blen ||
            (x->blen && memcmp(x->body, y->body, x->blen) != 0) ||
            x->closed != y->closed || x->end_stream != y->end_stream ||
            x->rst != y->rst || strcmp(a->hdrs[i], b->hdrs[i]) != 0) {
            print_message("# whole: %d %.*s\n%s", x->status, (int)x->blen,
                          x->body ? (const char *)x->body : "", a->hdrs[i]);
            print_message("# %s: %d %.*s\n%s", how, y->status, (int)y->blen,
                          y->body ? (const char *)y->body : "", b->hdrs[i]);
            fail_msg("%s: stream %d differs", how, x->id);
        }
    }
}

static void test_splits(void **state)
{
    env_t *e = *state;
    outcome_t whole, other;
    size_t len, l2, k;
    char how[64];

    run_split(e, 0, 0, &whole, &len);
    assert_int_equal(whole.n, 6);
    expect_str(&whole.st[0], 200, "alpha\n");
    expect_str(&whole.st[1], 200, "hello world");
    assert_string_equal(hval(&whole.st[1], "content-type"), "text/x-a");
    assert_string_equal(hval(&whole.st[1], "content-length"), "11");
    expect_str(&whole.st[2], 200, "0123456789");
    assert_null(hval(&whole.st[2], "content-length"));
    expect_str(&whole.st[3], 200, "");
    assert_string_equal(hval(&whole.st[3], "content-length"), "13");
    expect_resp(&whole.st[4], 404, NULL, 0);
    expect_str(&whole.st[5], 200, "returned\n");
    assert_int_equal(whole.closed, 0);
    for (k = 1; k < len; k++) {
        snprintf(how, sizeof(how), "split at byte %zu", k);
        run_split(e, k, 0, &other, &l2);
        assert_int_equal(l2, len);
        same_outcome(&whole, &other, how);
        outcome_free(&other);
    }
    run_split(e, 0, 7, &other, &l2);
    same_outcome(&whole, &other, "seven bytes at a time");
    outcome_free(&other);
    run_split(e, 0, 1, &other, &l2);
    same_outcome(&whole, &other, "one byte at a time");
    outcome_free(&other);
    outcome_free(&whole);
}

/* Back-pressure below HTTP/2: a client that reads the connection slowly
 * (a small transport window) still gets the large file whole, the server
 * going on from its drain callback each time the client reads. */
static void test_slow_reader(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    strm_t *g;
    size_t rounds = 0, held = 0;

    loom_mem_set_window(k->c, 2000);
    g = request(k, "GET", "/big.bin");
    pump(k);
    assert_false(g->closed);
    while (!g->closed) {
        if (loom_conn_pending(k->c) > held)
            held = loom_conn_pending(k->c);
        ses_consume(e, k->c, 30000);
        pump(k);
        assert_true(++rounds < 200);
    }
    assert_true(held > 0);
    expect_resp(g, 200, big_file, BIG_LEN);
    assert_false(loom_mem_closed(k->c));
    cli_free(k);
}

static void test_many_streams(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    static const char *const paths[] = {"/hello.txt", "/a.txt", "/b.txt",
                                        "/ret", "/nope"};
    static const char *const bodies[] = {"Hello, world\n", "alpha\n",
                                         "bravo bravo\n", "returned\n", NULL};
    char payload[H2_MAX_STREAMS][16];
    int i;

    for (i = 0; i < H2_MAX_STREAMS; i++) {
        if (i % 6 == 5) {
            snprintf(payload[i], sizeof(payload[i]), "body %d", i);
            request_x(k, "POST", "/echo", NULL, 0, payload[i],
                      strlen(payload[i]), 0, i % 4 == 0);
        } else {
            request(k, "GET", paths[i % 6 % 5]);
        }
    }
    pump(k);
    for (i = 0; i < H2_MAX_STREAMS; i++) {
        strm_t *st = &k->st[i];

        if (i % 6 == 5)
            expect_str(st, 200, payload[i]);
        else if (bodies[i % 6 % 5])
            expect_str(st, 200, bodies[i % 6 % 5]);
        else
            expect_resp(st, 404, NULL, 0);
    }
    assert_int_equal(k->goaway, 0);
    assert_false(loom_mem_closed(k->c));
    cli_free(k);
}

/* A client with a 1000-byte stream window that sends no WINDOW_UPDATE
 * gets 1000 bytes of each body and then nothing, whatever happens on the
 * connection meanwhile; the rest after WINDOW_UPDATE. */
static void test_flow_control_stream(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 1000, 0);
    const unsigned char *big = big_file;
    strm_t *s[3], *p;
    const char *out;
    size_t len, mark;
    int i;

    for (i = 0; i < 3; i++)
        s[i] = request(k, "GET", "/big.bin");
    pump(k);
    out = loom_mem_output(k->c, &len);
    for (i = 0; i < 3; i++) {
        assert_int_equal(s[i]->status, 200);
        assert_false(s[i]->closed);
        assert_int_equal(data_bytes(out, len, 0, s[i]->id, NULL), 1000);
        assert_int_equal(s[i]->blen, 1000);
        assert_memory_equal(s[i]->body, big, 1000);
    }
    /* other traffic on the connection does not move them */
    mark = len;
    p = request(k, "GET", "/hello.txt");
    assert_int_equal(nghttp2_submit_ping(k->s, NGHTTP2_FLAG_NONE, NULL), 0);
    pump(k);
    expect_str(p, 200, "Hello, world\n");
    out = loom_mem_output(k->c, &len);
    for (i = 0; i < 3; i++)
        assert_int_equal(data_bytes(out, len, mark, s[i]->id, NULL), 0);
    /* open the windows: the rest comes */
    assert_int_equal(
        nghttp2_submit_window_update(k->s, NGHTTP2_FLAG_NONE, 0, 4 * BIG_LEN),
        0);
    for (i = 0; i < 3; i++)
        assert_int_equal(nghttp2_submit_window_update(k->s, NGHTTP2_FLAG_NONE,
                                                      s[i]->id, BIG_LEN),
                         0);
    pump(k);
    for (i = 0; i < 3; i++)
        expect_resp(s[i], 200, big, BIG_LEN);
    assert_false(loom_mem_closed(k->c));
    cli_free(k);
}

/* The connection window (65535) holds as well: two large streams with
 * room on each get 65535 bytes between them, then the rest after a
 * connection WINDOW_UPDATE. */
static void test_flow_control_connection(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 1 << 20, 0);
    const unsigned char *big = big_file;
    strm_t *a, *b;
    const char *out;
    size_t len;

    a = request(k, "GET", "/big.bin");
    b = request(k, "GET", "/big.bin");
    pump(k);
    out = loom_mem_output(k->c, &len);
    assert_int_equal(data_bytes(out, len, 0, -1, NULL), 65535);
    assert_int_equal(a->blen + b->blen, 65535);
    assert_false(a->closed || b->closed);
    pump(k);
    out = loom_mem_output(k->c, &len);
    assert_int_equal(data_bytes(out, len, 0, -1, NULL), 65535);
    assert_int_equal(
        nghttp2_submit_window_update(k->s, NGHTTP2_FLAG_NONE, 0, 2 * BIG_LEN),
        0);
    pump(k);
    if (a->blen + b->blen != 2 * BIG_LEN)
        fail_msg("after the connection WINDOW_UPDATE: stream %d has %zu "
                 "bytes, stream %d %zu, with %d bytes of connection window "
                 "left: a stream stalled",
                 a->id, a->blen, b->id, b->blen,
                 nghttp2_session_get_local_window_size(k->s));
    expect_resp(a, 200, big, BIG_LEN);
    expect_resp(b, 200, big, BIG_LEN);
    cli_free(k);
}

/* RST_STREAM of a response held by flow control, and of a request whose
 * body is still coming: those streams stop, the others and the connection
 * go on. */
static void test_rst_stream(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 1000, 0);
    const unsigned char *big = big_file;
    static const nghttp2_nv post[] = {
        NV(":method", "POST"), NV(":scheme", "http"),
        NV(":authority", "localhost"), NV(":path", "/echo")};
    strm_t *a, *b, *c, *d;
    const char *out;
    size_t len, mark;
    nghttp2_data_provider prd;
    int32_t did;
    int nd;

    a = request(k, "GET", "/big.bin");
    b = request(k, "GET", "/big.bin");
    /* D: an echo whose body has begun (no END_STREAM yet) */
    d = &k->st[k->nst];
    memset(d, 0, sizeof(*d));
    did = nghttp2_submit_headers(k->s, NGHTTP2_FLAG_NONE, -1, NULL, post, 4,
                                 NULL);
    assert_true(did > 0);
    d->id = did;
    k->nst++;
    pump(k); /* the stream exists once its HEADERS went out */
    d->req = (const unsigned char *)"first part";
    d->req_len = 10;
    prd.source.ptr = d;
    prd.read_callback = body_read;
    assert_int_equal(nghttp2_submit_data(k->s, NGHTTP2_FLAG_NONE, d->id, &prd),
                     0);
    pump(k);
    assert_int_equal(a->blen, 1000);
    assert_int_equal(b->blen, 1000);
    assert_false(d->closed);

    out = loom_mem_output(k->c, &len);
    mark = len;
    assert_int_equal(nghttp2_submit_rst_stream(k->s, NGHTTP2_FLAG_NONE, a->id,
                                               NGHTTP2_CANCEL),
                     0);
    assert_int_equal(nghttp2_submit_rst_stream(k->s, NGHTTP2_FLAG_NONE, d->id,
                                               NGHTTP2_CANCEL),
                     0);
    pump(k);
    assert_true(a->closed);
    assert_true(d->closed);
    /* room on the connection and on A (a raw WINDOW_UPDATE: the client
     * library sends none for a stream it has closed) and on B */
    {
        uint8_t wu[13] = {0, 0, 4, F_WINDOW_UPDATE, 0};

        wu[5] = (uint8_t)(a->id >> 24);
        wu[6] = (uint8_t)(a->id >> 16);
        wu[7] = (uint8_t)(a->id >> 8);
        wu[8] = (uint8_t)a->id;
        wu[10] = (uint8_t)(BIG_LEN >> 16);
        wu[11] = (uint8_t)(BIG_LEN >> 8);
        wu[12] = (uint8_t)BIG_LEN;
        feed(k, wu, sizeof(wu));
    }
    assert_int_equal(
        nghttp2_submit_window_update(k->s, NGHTTP2_FLAG_NONE, 0, 4 * BIG_LEN),
        0);
    assert_int_equal(
        nghttp2_submit_window_update(k->s, NGHTTP2_FLAG_NONE, b->id, BIG_LEN),
        0);
    pump(k);
    expect_resp(b, 200, big, BIG_LEN);
    out = loom_mem_output(k->c, &len);
    /* nothing more on the reset streams */
    assert_int_equal(data_bytes(out, len, mark, a->id, &nd), 0);
    assert_int_equal(nd, 0);
    assert_int_equal(data_bytes(out, len, mark, d->id, &nd), 0);
    assert_int_equal(nd, 0);
    assert_int_equal(k->goaway, 0);
    assert_false(loom_mem_closed(k->c));
    /* and the connection takes new streams */
    c = request(k, "GET", "/b.txt");
    assert_int_equal(
        nghttp2_submit_window_update(k->s, NGHTTP2_FLAG_NONE, 0, 1000), 0);
    pump(k);
    expect_str(c, 200, "bravo bravo\n");
    cli_free(k);
}

static void test_ping(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    static const uint8_t payload[8] = {'l', 'o', 'o', 'm', 0, 0xff, 7, 8};
    frame_t fs[32];
    const char *out;
    size_t len, n, i, mark;
    int acks = 0;
    strm_t *g;

    pump(k);
    out = loom_mem_output(k->c, &len);
    mark = len;
    assert_int_equal(nghttp2_submit_ping(k->s, NGHTTP2_FLAG_NONE, payload), 0);
    pump(k);
    assert_int_equal(k->ping_acks, 1);
    assert_memory_equal(k->ping_data, payload, 8);
    out = loom_mem_output(k->c, &len);
    n = scan_frames(out, len, mark, fs, 32);
    for (i = 0; i < n; i++)
        if (fs[i].type == F_PING) {
            assert_int_equal(fs[i].flags, 1);
            assert_int_equal(fs[i].sid, 0);
            assert_int_equal(fs[i].len, 8);
            assert_memory_equal(fs[i].pl, payload, 8);
            acks++;
        }
    assert_int_equal(acks, 1);
    /* still serving */
    g = request(k, "GET", "/a.txt");
    pump(k);
    expect_str(g, 200, "alpha\n");
    cli_free(k);
}

/* A header block too large for one frame: HEADERS + CONTINUATION, fed
 * whole and in 1000-byte pieces. */
static void test_continuation(void **state)
{
    env_t *e = *state;
    char *v = malloc(20001);
    size_t piece;

    assert_non_null(v);
    memset(v, 'v', 20000);
    v[20000] = '\0';
    for (piece = 0; piece <= 1000; piece += 1000) {
        cli_t *k = cli_new(e, 0, 1);
        nghttp2_nv x[1] = {{(uint8_t *)"x-big", (uint8_t *)v, 5, 20000,
                            NGHTTP2_NV_FLAG_NO_INDEX}};
        frame_t fs[64];
        size_t n, i;
        int cont = 0;
        strm_t *g;

        k->piece = piece;
        g = request_x(k, "GET", "/hello.txt", x, 1, NULL, 0, 0, 0);
        pump(k);
        n = scan_frames(k->sent, k->sent_len, 24, fs, 64);
        for (i = 0; i < n; i++)
            cont += fs[i].type == F_CONTINUATION;
        assert_true(cont > 0);
        expect_str(g, 200, "Hello, world\n");
        cli_free(k);
    }
    free(v);
}

/* Start HTTP/2 on a fresh connection as ALPN h2 does. */
static loom_conn_t *alpn_h2_conn(env_t *e)
{
    loom_conn_t *c = ses_conn(e, NULL);
    loom_slice_t none = {NULL, 0};

    assert_non_null(c);
    loom_conn_hold(c);
    assert_int_equal(http_h2_start(loom_conn_data(c), NULL, none), LOOM_OK);
    loom_conn_release(c);
    ses_settle(e);
    return c;
}

/* The server's output ends in GOAWAY(ERR) and the connection is closed. */
static void expect_goaway(env_t *e, loom_conn_t *c, uint32_t err)
{
    frame_t fs[16];
    const char *out;
    size_t len, n, i;
    int found = 0;

    ses_settle(e);
    out = loom_mem_output(c, &len);
    n = scan_frames(out, len, 0, fs, 16);
    for (i = 0; i < n; i++)
        if (fs[i].type == F_GOAWAY) {
            assert_int_equal(fs[i].sid, 0);
            assert_true(fs[i].len >= 8);
            if (be32(fs[i].pl + 4) != err) {
                ses_show("output", out, len);
                fail_msg("GOAWAY error %u, want %u", be32(fs[i].pl + 4), err);
            }
            found++;
        }
    if (found != 1) {
        ses_show("output", out, len);
        fail_msg("%d GOAWAY frames, want 1", found);
    }
    assert_true(loom_mem_closed(c));
}

static void test_bad_preface(void **state)
{
    env_t *e = *state;
    loom_conn_t *c;
    /* magic, then PING where SETTINGS must be */
    static const char ping_first[] =
        HTTP_H2_PREFACE "\x00\x00\x08\x06\x00\x00\x00\x00\x00"
                        "12345678";

    /* ALPN h2, and the client speaks HTTP/1.1 */
    c = alpn_h2_conn(e);
    assert_false(loom_mem_closed(c));
    ses_feed(e, c, SES_S("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    expect_goaway(e, c, NGHTTP2_PROTOCOL_ERROR);
    loom_mem_conn_free(c);

    /* the same, one byte at a time: the first wrong byte is enough */
    c = alpn_h2_conn(e);
    {
        static const char bad[] = "PRI * HTTP/1.1\r\n\r\nSM\r\n\r\nmore";
        size_t i;

        for (i = 0; i < sizeof(bad) - 1 && !loom_mem_closed(c); i++) {
            ses_feed(e, c, bad + i, 1);
        }
        assert_true(i <= 24);
    }
    expect_goaway(e, c, NGHTTP2_PROTOCOL_ERROR);
    loom_mem_conn_free(c);

    /* h2c: the magic, then not SETTINGS */
    c = ses_conn(e, NULL);
    ses_feed(e, c, ping_first, sizeof(ping_first) - 1);
    expect_goaway(e, c, NGHTTP2_PROTOCOL_ERROR);
    loom_mem_conn_free(c);

    /* a valid ALPN h2 connection still works after all that */
    {
        cli_t *k = cli_on(e, alpn_h2_conn(e), 0, 1);
        strm_t *g = request(k, "GET", "/a.txt");

        pump(k);
        expect_str(g, 200, "alpha\n");
        cli_free(k);
    }
}

static void test_preface_detection(void **state)
{
    env_t *e = *state;
    static const char settings[] = "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    static const char preface[] = HTTP_H2_PREFACE;
    loom_conn_t *c;
    const char *out;
    size_t len, i;
    frame_t fs[8];

    /* nothing is answered until the preface is complete, then HTTP/2 */
    c = ses_conn(e, NULL);
    for (i = 0; i < HTTP_H2_PREFACE_LEN - 1; i++) {
        ses_feed(e, c, preface + i, 1);
        loom_mem_output(c, &len);
        assert_int_equal(len, 0);
        assert_false(loom_mem_closed(c));
    }
    ses_feed(e, c, preface + HTTP_H2_PREFACE_LEN - 1, 1);
    ses_feed(e, c, settings, 9);
    out = loom_mem_output(c, &len);
    assert_true(scan_frames(out, len, 0, fs, 8) >= 1);
    assert_int_equal(fs[0].type, F_SETTINGS);
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);

    /* after an HTTP/1.1 request the preface is just a bad HTTP/1.1
     * request */
    c = ses_conn(e, NULL);
    ses_feed(e, c, SES_S("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    if (!loom_mem_closed(c)) {
        loom_mem_feed(c, HTTP_H2_PREFACE, HTTP_H2_PREFACE_LEN);
        loom_mem_feed(c, settings, 9);
        ses_settle(e);
    }
    out = loom_mem_output(c, &len);
    {
        char *copy = strndup(out, len);
        const char *second;

        assert_int_equal(strncmp(copy, "HTTP/1.1 200 ", 13), 0);
        assert_non_null(strstr(copy, "\r\n\r\nalpha\n"));
        second = strstr(copy + 1, "HTTP/1.1 ");
        if (second == NULL || atoi(second + 9) < 400) {
            ses_show("output", out, len);
            fail_msg("want an HTTP/1.1 error for the late preface");
        }
        free(copy);
    }
    assert_true(loom_mem_closed(c));
    loom_mem_conn_free(c);

    /* request lines that only start like the preface are HTTP/1.1 */
    {
        static const char *const reqs[] = {
            "PRI /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "PRI * HTTP/1.1\r\nHost: localhost\r\n\r\n",
        };

        for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
            c = ses_conn(e, NULL);
            ses_feed(e, c, reqs[i], strlen(reqs[i]));
            out = loom_mem_output(c, &len);
            if (len < 9 || strncmp(out, "HTTP/1.1 ", 9) != 0) {
                ses_show("input", reqs[i], strlen(reqs[i]));
                ses_show("output", out, len);
                fail_msg("want an HTTP/1.1 answer");
            }
            loom_mem_conn_free(c);
        }
    }

    /* the preface's request line, then something else: an HTTP/2
     * client's broken preface, GOAWAY(PROTOCOL_ERROR), also when the
     * wrong byte comes before the 24th */
    {
        static const char *const bad[] = {"PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n",
                                          "PRI * HTTP/2.0\r\n\r\nSX"};

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            c = ses_conn(e, NULL);
            ses_feed(e, c, bad[i], strlen(bad[i]));
            out = loom_mem_output(c, &len);
            assert_true(scan_frames(out, len, 0, fs, 8) >= 1);
            assert_int_equal(fs[0].type, F_SETTINGS);
            expect_goaway(e, c, NGHTTP2_PROTOCOL_ERROR);
            loom_mem_conn_free(c);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_settings),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_echo_large),
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_flow_control_stream),
        cmocka_unit_test(test_flow_control_connection),
        cmocka_unit_test(test_rst_stream),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_bad_preface),
        cmocka_unit_test(test_preface_detection),
    };

    return cmocka_run_group_tests_name("h2_session", tests, env_setup,
                                       ses_teardown);
}

/*
 * test_h2_states.c - RFC 9113 stream states (5.1, 5.1.1, 6.1, 6.8, 6.9.1,
 * 8.1.1) of the http module's HTTP/2 codec over the in-memory transport,
 * against the instance of session_h2.h.
 *
 * Cases: a table of raw-frame cases, each a state and then an offence,
 * fed whole, as state then offence, and one byte at a time (HEADERS on a
 * lower unopened id, DATA / HEADERS after the client's RST_STREAM or on
 * a closed stream, and after an early answer: bad padding,
 * content-length mismatches, a pseudo-field in trailers, a stream window
 * overflow), each answered with the GOAWAY or RST_STREAM and error code
 * the RFC asks for; an early-answered body that ends cleanly, one that
 * runs past a window (RST_STREAM NO_ERROR); the two-step graceful GOAWAY
 * (nghttp2 client) with a stream crossing the notice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "http.h"
#include "session.h"
#include "session_h2.h"

/* ---- stream states (RFC 9113 5.1, 5.1.1, 8.1) from raw frames -------- */

typedef struct {
    uint8_t b[2048];
    size_t n;
} rawbuf_t;

static void raw_frame(rawbuf_t *r, uint8_t type, uint8_t flags, int32_t sid,
                      const void *pl, size_t len)
{
    uint8_t *h = r->b + r->n;

    assert_true(r->n + 9 + len <= sizeof(r->b));
    h[0] = (uint8_t)(len >> 16);
    h[1] = (uint8_t)(len >> 8);
    h[2] = (uint8_t)len;
    h[3] = type;
    h[4] = flags;
    h[5] = (uint8_t)(sid >> 24);
    h[6] = (uint8_t)(sid >> 16);
    h[7] = (uint8_t)(sid >> 8);
    h[8] = (uint8_t)sid;
    if (len)
        memcpy(h + 9, pl, len);
    r->n += 9 + len;
}

/* A header block of literal fields "name", "value", ..., NULL. */
static size_t raw_block(uint8_t *blk, size_t cap, const char *const *fv)
{
    size_t n = 0;

    for (; fv[0]; fv += 2) {
        size_t nl = strlen(fv[0]), vl = strlen(fv[1]);

        assert_true(nl < 127 && vl < 127 && n + 3 + nl + vl <= cap);
        blk[n++] = 0;
        blk[n++] = (uint8_t)nl;
        memcpy(blk + n, fv[0], nl);
        n += nl;
        blk[n++] = (uint8_t)vl;
        memcpy(blk + n, fv[1], vl);
        n += vl;
    }
    return n;
}

static void raw_headers(rawbuf_t *r, int32_t sid, uint8_t flags,
                        const char *const *fv)
{
    uint8_t blk[512];

    raw_frame(r, F_HEADERS, (uint8_t)(flags | 4), sid, blk,
              raw_block(blk, sizeof(blk), fv));
}

#define REQ(m, p)                                                              \
    ":method", m, ":scheme", "http", ":authority", "localhost", ":path", p
static const char *const get_a[] = {REQ("GET", "/a.txt"), NULL};
static const char *const post_echo[] = {REQ("POST", "/echo"), NULL};
static const char *const post_static[] = {REQ("POST", "/a.txt"), NULL};
static const char *const post_ret_cl5[] = {REQ("POST", "/ret"),
                                           "content-length", "5", NULL};
static const char *const post_ret[] = {REQ("POST", "/ret"), NULL};
static const char *const pseudo_trailer[] = {":path", "/x", NULL};

/* The state a case sets up (fed first), then what offends. */
typedef void (*raw_step_fn)(rawbuf_t *r);

static void st_higher(rawbuf_t *r)
{
    raw_headers(r, 5, 1, get_a);
}
static void off_lower(rawbuf_t *r)
{
    raw_headers(r, 3, 1, get_a);
}
static void st_client_reset(rawbuf_t *r)
{
    raw_headers(r, 1, 0, post_echo);
    raw_frame(r, F_DATA, 0, 1, "some", 4);
    raw_frame(r, F_RST, 0, 1, "\0\0\0\x08", 4);
}
static void off_data(rawbuf_t *r)
{
    raw_frame(r, F_DATA, 0, 1, "late", 4);
}
static void off_trailers(rawbuf_t *r)
{
    static const char *const t[] = {"x-late", "1", NULL};

    raw_headers(r, 1, 1, t);
}
static void st_closed(rawbuf_t *r)
{
    raw_headers(r, 1, 1, get_a);
}
static void st_early_static(rawbuf_t *r)
{
    raw_headers(r, 1, 0, post_static);
}
static void st_early_ret_cl5(rawbuf_t *r)
{
    raw_headers(r, 1, 0, post_ret_cl5);
}
static void st_early_ret(rawbuf_t *r)
{
    raw_headers(r, 1, 0, post_ret);
}
static void off_bad_padding(rawbuf_t *r)
{
    raw_frame(r, F_DATA, 0x8, 1,
              "\x05"
              "abcd",
              5); /* pad 5 of 4 bytes */
}
static void off_too_long(rawbuf_t *r)
{
    raw_frame(r, F_DATA, 1, 1, "0123456789", 10);
}
static void off_too_short(rawbuf_t *r)
{
    raw_frame(r, F_DATA, 1, 1, "012", 3);
}
static void off_pseudo_trailer(rawbuf_t *r)
{
    raw_frame(r, F_DATA, 0, 1, "abc", 3);
    raw_headers(r, 1, 1, pseudo_trailer);
}
static void off_window_overflow(rawbuf_t *r)
{
    raw_frame(r, F_WINDOW_UPDATE, 0, 1, "\x7f\xff\xff\xff", 4);
}

static const struct {
    const char *name;
    raw_step_fn state, offend;
    int32_t rst_sid;  /* 0: a connection error */
    uint32_t err;     /* of the GOAWAY or RST_STREAM */
    int32_t last_sid; /* -1: any; of the GOAWAY */
} raw_cases[] = {
    {"HEADERS on a lower, unopened id", st_higher, off_lower, 0,
     NGHTTP2_PROTOCOL_ERROR, 5},
    {"DATA after the client's RST_STREAM", st_client_reset, off_data, 0,
     NGHTTP2_STREAM_CLOSED, -1},
    {"HEADERS after the client's RST_STREAM", st_client_reset, off_trailers, 0,
     NGHTTP2_STREAM_CLOSED, -1},
    {"DATA on a closed stream", st_closed, off_data, 0, NGHTTP2_STREAM_CLOSED,
     -1},
    {"HEADERS on a closed stream", st_closed, off_trailers, 0,
     NGHTTP2_STREAM_CLOSED, -1},
    {"405, then bad padding", st_early_static, off_bad_padding, 0,
     NGHTTP2_PROTOCOL_ERROR, -1},
    {"200, then bad padding", st_early_ret, off_bad_padding, 0,
     NGHTTP2_PROTOCOL_ERROR, -1},
    {"200, then more than content-length", st_early_ret_cl5, off_too_long, 1,
     NGHTTP2_PROTOCOL_ERROR, 0},
    {"200, then less than content-length", st_early_ret_cl5, off_too_short, 1,
     NGHTTP2_PROTOCOL_ERROR, 0},
    {"405, then a pseudo-field in trailers", st_early_static,
     off_pseudo_trailer, 1, NGHTTP2_PROTOCOL_ERROR, 0},
    {"200, then a stream window overflow", st_early_ret, off_window_overflow, 1,
     NGHTTP2_FLOW_CONTROL_ERROR, 0},
};

/* MODE 0: everything at once; 1: the state, settled, then the offending
 * frames; 2: one byte at a time. */
static void raw_case_run(env_t *e, size_t ci, int mode)
{
    static const char settings[] = "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    rawbuf_t r;
    loom_conn_t *c = ses_conn(e, NULL);
    size_t cut, len, n, i;
    frame_t fs[64];
    const char *out;
    int goaways = 0, rsts = 0;

    r.n = 0;
    memcpy(r.b, HTTP_H2_PREFACE, HTTP_H2_PREFACE_LEN);
    memcpy(r.b + HTTP_H2_PREFACE_LEN, settings, 9);
    r.n = HTTP_H2_PREFACE_LEN + 9;
    raw_cases[ci].state(&r);
    cut = r.n;
    raw_cases[ci].offend(&r);
    if (mode == 1) {
        ses_feed(e, c, r.b, cut);
        ses_settle(e);
        ses_feed_pieces(e, c, r.b + cut, r.n - cut, 0, 0);
    } else {
        ses_feed_pieces(e, c, r.b, r.n, mode == 2 ? 1 : 0, 0);
    }
    ses_settle(e);
    out = loom_mem_output(c, &len);
    n = scan_frames(out, len, 0, fs, 64);
    for (i = 0; i < n; i++) {
        if (fs[i].type == F_GOAWAY) {
            goaways++;
            if (be32(fs[i].pl + 4) != raw_cases[ci].err ||
                (raw_cases[ci].last_sid >= 0 &&
                 (int32_t)be32(fs[i].pl) != raw_cases[ci].last_sid) ||
                raw_cases[ci].rst_sid)
                goto bad;
        } else if (fs[i].type == F_RST && fs[i].sid == raw_cases[ci].rst_sid) {
            rsts++;
            if (be32(fs[i].pl) != raw_cases[ci].err)
                goto bad;
        }
    }
    if (raw_cases[ci].rst_sid ? rsts != 1 || goaways
                              : goaways != 1 || !loom_mem_closed(c))
        goto bad;
    loom_mem_conn_free(c);
    return;
bad:
    ses_show("output", out, len);
    fail_msg("%s (mode %d): want %s %u", raw_cases[ci].name, mode,
             raw_cases[ci].rst_sid ? "RST_STREAM" : "GOAWAY",
             raw_cases[ci].err);
}

static void test_stream_states(void **state)
{
    env_t *e = *state;
    size_t i;
    int mode;

    for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++)
        for (mode = 0; mode < 3; mode++)
            raw_case_run(e, i, mode);
}

/* An answered request whose body then arrives whole: no reset, no error;
 * one that keeps sending past a stream window is asked to stop with
 * RST_STREAM(NO_ERROR) after its complete answer. */
static void test_early_answer_body(void **state)
{
    env_t *e = *state;
    static const char settings[] = "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    static uint8_t chunk[16384];
    rawbuf_t r;
    loom_conn_t *c = ses_conn(e, NULL);
    size_t len, n, i, sent;
    frame_t fs[64];
    const char *out;

    r.n = 0;
    memcpy(r.b, HTTP_H2_PREFACE, HTTP_H2_PREFACE_LEN);
    memcpy(r.b + HTTP_H2_PREFACE_LEN, settings, 9);
    r.n = HTTP_H2_PREFACE_LEN + 9;
    raw_headers(&r, 1, 0, post_ret_cl5);
    raw_frame(&r, F_DATA, 1, 1, "01234", 5);
    raw_headers(&r, 3, 0, post_ret);
    ses_feed(e, c, r.b, r.n);
    ses_settle(e);
    /* stream 3: 16K pieces past its window (65535): the server reopens
     * the windows as it drops them, then says stop */
    for (sent = 0; sent < 5 * 16384; sent += sizeof(chunk)) {
        uint8_t h[9] = {0x00, 0x40, 0x00, F_DATA, 0, 0, 0, 0, 3};

        ses_feed(e, c, h, 9);
        ses_feed(e, c, chunk, sizeof(chunk));
        ses_settle(e);
    }
    out = loom_mem_output(c, &len);
    n = scan_frames(out, len, 0, fs, 64);
    {
        int rst1 = 0, rst3 = 0, goaway = 0;

        for (i = 0; i < n; i++) {
            if (fs[i].type == F_RST && fs[i].sid == 1)
                rst1++;
            if (fs[i].type == F_RST && fs[i].sid == 3 && be32(fs[i].pl) == 0)
                rst3++;
            if (fs[i].type == F_GOAWAY)
                goaway++;
        }
        if (rst1 || rst3 != 1 || goaway) {
            ses_show("output", out, len);
            fail_msg("want stream 1 ended without RST_STREAM, stream 3 "
                     "with RST_STREAM(NO_ERROR), no GOAWAY");
        }
    }
    assert_false(loom_mem_closed(c));
    loom_mem_conn_free(c);
}

/* http_h2_goaway (reload, stop): the shutdown notice (2^31-1) and a PING
 * first; a stream the client sent before it saw them is served, and the
 * final GOAWAY names it once the PING is acked; then the close. */
static void test_goaway_two_steps(void **state)
{
    env_t *e = *state;
    cli_t *k = cli_new(e, 0, 1);
    strm_t *a, *b;
    const char *out;
    size_t len, n, i, mark;
    frame_t fs[64];
    int notice = -1, ping = -1, final = -1;

    a = request(k, "GET", "/a.txt");
    pump(k);
    expect_str(a, 200, "alpha\n");
    out = loom_mem_output(k->c, &len);
    mark = len;
    loom_conn_hold(k->c);
    http_h2_goaway(loom_conn_data(k->c));
    loom_conn_release(k->c);
    ses_settle(e);
    /* the client's next request crosses the notice on the wire */
    b = request(k, "GET", "/b.txt");
    pump(k);
    expect_str(b, 200, "bravo bravo\n");
    out = loom_mem_output(k->c, &len);
    n = scan_frames(out, len, mark, fs, 64);
    for (i = 0; i < n; i++) {
        if (fs[i].type == F_GOAWAY && be32(fs[i].pl) == 0x7fffffff)
            notice = (int)i;
        else if (fs[i].type == F_GOAWAY && be32(fs[i].pl) == (uint32_t)b->id)
            final = (int)i;
        else if (fs[i].type == F_PING && !(fs[i].flags & 1))
            ping = (int)i;
        if (fs[i].type == F_GOAWAY)
            assert_int_equal(be32(fs[i].pl + 4), NGHTTP2_NO_ERROR);
    }
    if (!(notice >= 0 && ping > notice && final > ping)) {
        ses_show("output", out + mark, len - mark);
        fail_msg("want GOAWAY(2^31-1), PING, GOAWAY(%d)", b->id);
    }
    assert_true(loom_mem_closed(k->c));
    cli_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_states),
        cmocka_unit_test(test_early_answer_body),
        cmocka_unit_test(test_goaway_two_steps),
    };

    return cmocka_run_group_tests_name("h2_states", tests, env_setup,
                                       ses_teardown);
}

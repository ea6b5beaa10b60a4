/*
 * test_h2_sess.c - the HTTP/2 server session (h2_sess.c) in memory, with
 * libnghttp2's client session as the independent peer: the handshake and
 * the settings the client sees, requests with large bodies both ways
 * under flow control, many concurrent streams, and the graceful GOAWAY;
 * then raw frames built here for the connection errors (a table: bytes
 * after the handshake, the GOAWAY code expected) and stream errors.
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

#include "h2_sess.h"
#include "hpack.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the server side: a tiny application ------------------------------- */

typedef struct srv_stream_s {
    int32_t sid;
    char path[64];
    size_t body_in;  /* request body bytes */
    size_t body_out; /* response body still to send */
    int ended, closed, answered;
    uint32_t err;
    struct srv_stream_s *next;
} srv_stream_t;

typedef struct {
    h2s_t *ss;
    srv_stream_t *streams;
    int answer_at_end; /* answer when the request ends (echo the size) */
    uint8_t ping_acked[8];
} srv_t;

static void *srv_begin(void *ud, int32_t sid)
{
    srv_t *a = ud;
    srv_stream_t *s = calloc(1, sizeof(*s));

    s->sid = sid;
    s->next = a->streams;
    a->streams = s;
    return s;
}

static void srv_field(void *ud, void *sud, unsigned pseudo, const char *name,
                      size_t nl, const char *value, size_t vl)
{
    srv_stream_t *s = sud;

    (void)ud;
    (void)name;
    (void)nl;
    if (pseudo == H2S_PSEUDO_PATH && vl < sizeof(s->path))
        memcpy(s->path, value, vl);
}

static void srv_answer(srv_t *a, srv_stream_t *s)
{
    static const h2s_nv_t nv[] = {
        {"content-type", "application/octet-stream", 12, 24, 31, 0}};

    s->answered = 1;
    /* "/N" asks for N body bytes; POSTs get their body size back */
    s->body_out = a->answer_at_end ? s->body_in : strtoul(s->path + 1, 0, 10);
    assert_int_equal(h2s_submit_response(a->ss, s->sid, 200, nv, 1, 1), 0);
}

static void srv_head(void *ud, void *sud, int end)
{
    srv_t *a = ud;

    if (!a->answer_at_end || end)
        srv_answer(a, sud);
}

static void srv_data(void *ud, void *sud, const uint8_t *p, size_t len)
{
    srv_t *a = ud;
    srv_stream_t *s = sud;

    (void)p;
    s->body_in += len;
    h2s_consume(a->ss, s->sid, len);
}

static void srv_end(void *ud, void *sud)
{
    srv_t *a = ud;
    srv_stream_t *s = sud;

    s->ended = 1;
    if (a->answer_at_end && !s->answered)
        srv_answer(a, s);
}

static ssize_t srv_read(void *ud, void *sud, uint8_t *buf, size_t len, int *eof)
{
    srv_stream_t *s = sud;

    (void)ud;
    if (len > s->body_out)
        len = s->body_out;
    memset(buf, 'b', len);
    s->body_out -= len;
    if (s->body_out == 0)
        *eof = 1;
    return (ssize_t)len;
}

static void srv_close(void *ud, void *sud, uint32_t err)
{
    srv_stream_t *s = sud;

    (void)ud;
    s->closed = 1;
    s->err = err;
}

static void srv_ping_ack(void *ud, const uint8_t *opaque)
{
    srv_t *a = ud;

    memcpy(a->ping_acked, opaque, 8);
}

static const h2s_callbacks_t srv_cb = {srv_begin, srv_field, srv_head,
                                       srv_data,  srv_end,   srv_read,
                                       NULL,      srv_close, srv_ping_ack};

static h2s_config_t srv_config(void)
{
    h2s_config_t c;

    memset(&c, 0, sizeof(c));
    c.max_streams = 128;
    c.window = 65535;
    c.conn_window = 1 << 20;
    c.max_header_list = 32768;
    c.max_continuations = 8;
    c.reset_burst = 1000;
    c.reset_rate = 33;
    c.ctrl_burst = 1000;
    c.ctrl_rate = 100;
    return c;
}

static void srv_init(srv_t *a)
{
    h2s_config_t c = srv_config();

    memset(a, 0, sizeof(*a));
    a->ss = h2s_new(&srv_cb, a, &c);
    assert_non_null(a->ss);
}

static void srv_free(srv_t *a)
{
    srv_stream_t *s;

    h2s_free(a->ss);
    while ((s = a->streams) != NULL) {
        a->streams = s->next;
        free(s);
    }
}

static srv_stream_t *srv_stream(srv_t *a, int32_t sid)
{
    srv_stream_t *s;

    for (s = a->streams; s; s = s->next)
        if (s->sid == sid)
            return s;
    return NULL;
}

/* ---- the client side: nghttp2 ------------------------------------------ */

typedef struct {
    nghttp2_session *ss;
    size_t body[64]; /* DATA bytes per stream id / 2 */
    int status[64];
    int closed[64];
    uint32_t goaway_code;
    int32_t goaway_last;
    int goaways;
    const uint8_t *upload; /* request body source */
    size_t upload_len;
} cli_t;

static int cli_on_data(nghttp2_session *ss, uint8_t flags, int32_t sid,
                       const uint8_t *data, size_t len, void *ud)
{
    cli_t *c = ud;

    (void)ss;
    (void)flags;
    (void)data;
    c->body[sid / 2] += len;
    return 0;
}

static int cli_on_header(nghttp2_session *ss, const nghttp2_frame *f,
                         const uint8_t *name, size_t nl, const uint8_t *value,
                         size_t vl, uint8_t flags, void *ud)
{
    cli_t *c = ud;

    (void)ss;
    (void)flags;
    (void)vl;
    if (nl == 7 && memcmp(name, ":status", 7) == 0)
        c->status[f->hd.stream_id / 2] = atoi((const char *)value);
    return 0;
}

static int cli_on_frame(nghttp2_session *ss, const nghttp2_frame *f, void *ud)
{
    cli_t *c = ud;

    (void)ss;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        c->goaways++;
        c->goaway_code = f->goaway.error_code;
        c->goaway_last = f->goaway.last_stream_id;
    }
    return 0;
}

static int cli_on_close(nghttp2_session *ss, int32_t sid, uint32_t err,
                        void *ud)
{
    cli_t *c = ud;

    (void)ss;
    (void)err;
    c->closed[sid / 2] = 1;
    return 0;
}

static ssize_t cli_read(nghttp2_session *ss, int32_t sid, uint8_t *buf,
                        size_t len, uint32_t *flags, nghttp2_data_source *src,
                        void *ud)
{
    cli_t *c = ud;

    (void)ss;
    (void)sid;
    (void)src;
    if (len > c->upload_len)
        len = c->upload_len;
    memcpy(buf, c->upload, len);
    c->upload += len;
    c->upload_len -= len;
    if (c->upload_len == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)len;
}

static void cli_init(cli_t *c)
{
    nghttp2_session_callbacks *cb;

    memset(c, 0, sizeof(*c));
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_on_data);
    nghttp2_session_callbacks_set_on_header_callback(cb, cli_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cli_on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_on_close);
    assert_int_equal(nghttp2_session_client_new(&c->ss, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    assert_int_equal(nghttp2_submit_settings(c->ss, NGHTTP2_FLAG_NONE, NULL, 0),
                     0);
}

static int32_t cli_request(cli_t *c, const char *method, const char *path,
                           const uint8_t *body, size_t len)
{
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0}};
    nghttp2_data_provider dp;

    c->upload = body;
    c->upload_len = len;
    dp.read_callback = cli_read;
    dp.source.ptr = NULL;
    return nghttp2_submit_request(c->ss, NULL, nv, 4, body ? &dp : NULL, NULL);
}

/* Move bytes both ways until neither side has anything to say. */
static void pump(cli_t *c, srv_t *a)
{
    int moved = 1, rounds = 0;

    while (moved && rounds++ < 100000) {
        const uint8_t *p;
        ssize_t n;
        size_t m;

        moved = 0;
        while ((n = nghttp2_session_mem_send(c->ss, &p)) > 0) {
            h2s_recv(a->ss, p, (size_t)n);
            moved = 1;
        }
        assert_true(n >= 0);
        if ((m = h2s_send(a->ss, &p)) > 0) {
            assert_int_equal(nghttp2_session_mem_recv(c->ss, p, m), (ssize_t)m);
            moved = 1;
        }
    }
}

static void start(cli_t *c, srv_t *a)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    srv_init(a);
    cli_init(c);
    /* nghttp2's client sends the preface itself with its first bytes */
    (void)preface;
    pump(c, a);
}

static long goaway_code(const uint8_t *out, size_t len, int32_t *last);

/* ---- tests with nghttp2 as the peer ----------------------------------- */

static void test_handshake(void **state)
{
    cli_t c;
    srv_t a;

    (void)state;
    start(&c, &a);
    assert_int_equal(nghttp2_session_get_remote_settings(
                         c.ss, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
                     128);
    assert_int_equal(nghttp2_session_get_remote_settings(
                         c.ss, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
                     65535);
    assert_int_equal(
        nghttp2_session_get_remote_settings(c.ss, NGHTTP2_SETTINGS_ENABLE_PUSH),
        0);
    assert_int_equal(nghttp2_session_get_remote_window_size(c.ss), 1 << 20);
    assert_true(h2s_alive(a.ss));
    nghttp2_session_del(c.ss);
    srv_free(&a);
}

static void test_get_large_body(void **state)
{
    cli_t c;
    srv_t a;
    int32_t sid;

    (void)state;
    start(&c, &a);
    sid = cli_request(&c, "GET", "/300000", NULL, 0);
    pump(&c, &a);
    assert_int_equal(c.status[sid / 2], 200);
    assert_int_equal(c.body[sid / 2], 300000);
    assert_true(c.closed[sid / 2]);
    assert_true(srv_stream(&a, sid)->closed);
    assert_int_equal(srv_stream(&a, sid)->err, 0);
    nghttp2_session_del(c.ss);
    srv_free(&a);
}

static void test_post_large_body(void **state)
{
    static uint8_t body[500000];
    cli_t c;
    srv_t a;
    int32_t sid;

    (void)state;
    start(&c, &a);
    a.answer_at_end = 1;
    sid = cli_request(&c, "POST", "/up", body, sizeof(body));
    pump(&c, &a);
    assert_int_equal(srv_stream(&a, sid)->body_in, sizeof(body));
    assert_int_equal(c.status[sid / 2], 200);
    assert_int_equal(c.body[sid / 2], sizeof(body));
    nghttp2_session_del(c.ss);
    srv_free(&a);
}

static void test_many_streams(void **state)
{
    cli_t c;
    srv_t a;
    int32_t sids[30];
    size_t i;

    (void)state;
    start(&c, &a);
    for (i = 0; i < ARRAY_LEN(sids); i++) {
        char path[16];

        snprintf(path, sizeof(path), "/%zu", i * 5000);
        sids[i] = cli_request(&c, "GET", path, NULL, 0);
    }
    pump(&c, &a);
    for (i = 0; i < ARRAY_LEN(sids); i++) {
        assert_int_equal(c.status[sids[i] / 2], 200);
        assert_int_equal(c.body[sids[i] / 2], i * 5000);
    }
    nghttp2_session_del(c.ss);
    srv_free(&a);
}

static void test_graceful_goaway(void **state)
{
    cli_t c;
    srv_t a;
    int32_t s1, s2;

    (void)state;
    start(&c, &a);
    s1 = cli_request(&c, "GET", "/10", NULL, 0);
    pump(&c, &a);
    h2s_shutdown_notice(a.ss, (const uint8_t *)"loombye!");
    s2 = cli_request(&c, "GET", "/20", NULL, 0); /* crosses the notice */
    pump(&c, &a);
    assert_int_equal(c.goaways, 1);
    assert_int_equal(c.goaway_last, 0x7fffffff);
    assert_memory_equal(a.ping_acked, "loombye!", 8);
    assert_int_equal(c.body[s1 / 2], 10);
    assert_int_equal(c.body[s2 / 2], 20); /* still served */
    h2s_goaway_final(a.ss);
    {
        /* read it raw: nghttp2's client ignores frames after a GOAWAY
         * once it has no streams */
        const uint8_t *o;
        size_t m = h2s_send(a.ss, &o);
        int32_t last = -1;

        assert_int_equal(goaway_code(o, m, &last), 0);
        assert_int_equal(last, s2);
    }
    assert_false(h2s_alive(a.ss)); /* no streams left */
    nghttp2_session_del(c.ss);
    srv_free(&a);
}

/* ---- raw frames: connection errors -------------------------------------- */

static size_t fr(uint8_t *o, uint8_t type, uint8_t flags, int32_t sid,
                 const void *p, size_t len)
{
    h2_fhdr_put(o, (uint32_t)len, type, flags, sid);
    if (len)
        memcpy(o + H2_FRAME_HDR, p, len);
    return H2_FRAME_HDR + len;
}

/* A request block for PATH (static-table literals, no Huffman). */
static size_t req_block(uint8_t *o, const char *path)
{
    size_t n = 0, pl = strlen(path);

    o[n++] = 0x82; /* :method GET */
    o[n++] = 0x86; /* :scheme http */
    o[n++] = 0x01; /* :authority, literal */
    o[n++] = 9;
    memcpy(o + n, "localhost", 9);
    n += 9;
    o[n++] = 0x04; /* :path, literal */
    o[n++] = (uint8_t)pl;
    memcpy(o + n, path, pl);
    return n + pl;
}

typedef size_t (*raw_fn)(uint8_t *o);

static size_t raw_data_idle(uint8_t *o)
{
    return fr(o, H2_DATA, H2_F_END_STREAM, 1, "x", 1);
}
static size_t raw_ping_short(uint8_t *o)
{
    return fr(o, H2_PING, 0, 0, "1234567", 7);
}
static size_t raw_settings_ack_payload(uint8_t *o)
{
    return fr(o, H2_SETTINGS, H2_F_ACK, 0, "\0\3\0\0\0\1", 6);
}
static size_t raw_window_overflow(uint8_t *o)
{
    return fr(o, H2_WINDOW_UPDATE, 0, 0, "\x7f\xff\xff\xff", 4);
}
static size_t raw_bad_hpack(uint8_t *o)
{
    return fr(o, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 1, "\x80", 1);
}
static size_t raw_too_large(uint8_t *o)
{
    static uint8_t big[16385];

    return fr(o, H2_DATA, 0, 1, big, sizeof(big));
}
static size_t raw_continuations(uint8_t *o)
{
    uint8_t b[64];
    size_t n = fr(o, H2_HEADERS, 0, 1, b, req_block(b, "/a")), i;

    for (i = 0; i < 9; i++)
        n += fr(o + n, H2_CONTINUATION, 0, 1, NULL, 0);
    return n;
}
static size_t raw_lower_id(uint8_t *o)
{
    uint8_t b[64];
    size_t l = req_block(b, "/1"), n;

    n = fr(o, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 5, b, l);
    return n +
           fr(o + n, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 3, b, l);
}
static size_t raw_frame_in_block(uint8_t *o)
{
    uint8_t b[64];
    size_t n = fr(o, H2_HEADERS, 0, 1, b, req_block(b, "/a"));

    return n + fr(o + n, H2_PING, 0, 0, "12345678", 8);
}
static size_t raw_ping_flood(uint8_t *o)
{
    size_t n = 0, i;

    for (i = 0; i < 1100; i++)
        n += fr(o + n, H2_PING, 0, 0, "floodfld", 8);
    return n;
}
static size_t raw_rapid_reset(uint8_t *o)
{
    uint8_t b[64];
    size_t l = req_block(b, "/0"), n = 0;
    int32_t sid;

    for (sid = 1; sid < 2400; sid += 2) {
        n += fr(o + n, H2_HEADERS, H2_F_END_HEADERS, sid, b, l);
        n += fr(o + n, H2_RST_STREAM, 0, sid, "\0\0\0\x08", 4);
    }
    return n;
}

static const struct {
    const char *name;
    raw_fn bytes;
    uint32_t code;
} raw_cases[] = {
    {"DATA on an idle stream", raw_data_idle, H2_PROTOCOL_ERROR},
    {"PING of 7 bytes", raw_ping_short, H2_FRAME_SIZE_ERROR},
    {"SETTINGS ACK with a payload", raw_settings_ack_payload,
     H2_FRAME_SIZE_ERROR},
    {"connection window overflow", raw_window_overflow, H2_FLOW_CONTROL_ERROR},
    {"HPACK index 0", raw_bad_hpack, H2_COMPRESSION_ERROR},
    {"frame over 16384 bytes", raw_too_large, H2_FRAME_SIZE_ERROR},
    {"9 CONTINUATION frames", raw_continuations, H2_ENHANCE_YOUR_CALM},
    {"HEADERS on a lower, unopened id", raw_lower_id, H2_PROTOCOL_ERROR},
    {"PING inside a header block", raw_frame_in_block, H2_PROTOCOL_ERROR},
    {"PING flood", raw_ping_flood, H2_ENHANCE_YOUR_CALM},
    {"rapid reset", raw_rapid_reset, H2_ENHANCE_YOUR_CALM},
};

/* The GOAWAY in OUT[LEN] (whole frames), or -1. */
static long goaway_code(const uint8_t *out, size_t len, int32_t *last)
{
    size_t pos = 0;
    long code = -1;

    while (pos + H2_FRAME_HDR <= len) {
        h2_fhdr_t fh;

        h2_fhdr_get(out + pos, &fh);
        assert_true(pos + H2_FRAME_HDR + fh.len <= len);
        if (fh.type == H2_GOAWAY) {
            *last = (int32_t)h2_get32(out + pos + 9);
            code = (long)h2_get32(out + pos + 13);
        }
        pos += H2_FRAME_HDR + fh.len;
    }
    assert_int_equal(pos, len);
    return code;
}

static void test_connection_errors(void **state)
{
    static const uint8_t hello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                   "\0\0\0\4\0\0\0\0\0";
    static uint8_t buf[64 * 1024];
    size_t i, split;

    (void)state;
    for (i = 0; i < ARRAY_LEN(raw_cases); i++) {
        for (split = 0; split < 2; split++) {
            srv_t a;
            const uint8_t *out;
            size_t n = raw_cases[i].bytes(buf), m, k;
            int32_t last = -1;
            long code;
            int rc = 0;

            srv_init(&a);
            h2s_recv(a.ss, hello, sizeof(hello) - 1);
            if (split) /* byte by byte */
                for (k = 0; k < n && rc == 0; k++)
                    rc = h2s_recv(a.ss, buf + k, 1);
            else
                rc = h2s_recv(a.ss, buf, n);
            m = h2s_send(a.ss, &out);
            code = goaway_code(out, m, &last);
            if (code != (long)raw_cases[i].code)
                fail_msg("%s (split %zu): GOAWAY %ld, want %u",
                         raw_cases[i].name, split, code, raw_cases[i].code);
            assert_int_equal(rc, -1);
            assert_false(h2s_alive(a.ss));
            if (raw_cases[i].bytes == raw_lower_id)
                assert_int_equal(last, 5);
            srv_free(&a);
        }
    }
}

/* A malformed request only resets its stream; the next one is served. */
static void test_stream_error(void **state)
{
    static const uint8_t hello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                   "\0\0\0\4\0\0\0\0\0";
    uint8_t buf[256], b[64];
    const uint8_t *out;
    size_t n, l, m, pos = 0;
    srv_t a;
    int rst1 = 0, head3 = 0;

    (void)state;
    srv_init(&a);
    l = req_block(b, "/5");
    memcpy(b + l,
           "\x00\x05X-Up1\x01"
           "1",
           9); /* an uppercase field name */
    n = fr(buf, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 1, b, l + 9);
    n += fr(buf + n, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 3, b, l);
    h2s_recv(a.ss, hello, sizeof(hello) - 1);
    assert_int_equal(h2s_recv(a.ss, buf, n), 0);
    m = h2s_send(a.ss, &out);
    while (pos < m) {
        h2_fhdr_t fh;

        h2_fhdr_get(out + pos, &fh);
        if (fh.type == H2_RST_STREAM && fh.sid == 1 &&
            h2_get32(out + pos + 9) == H2_PROTOCOL_ERROR)
            rst1 = 1;
        if (fh.type == H2_HEADERS && fh.sid == 3)
            head3 = 1;
        assert_int_not_equal(fh.type, H2_GOAWAY);
        pos += H2_FRAME_HDR + fh.len;
    }
    assert_true(rst1);
    assert_true(head3);
    assert_true(srv_stream(&a, 1)->closed);
    srv_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_get_large_body),
        cmocka_unit_test(test_post_large_body),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_graceful_goaway),
        cmocka_unit_test(test_connection_errors),
        cmocka_unit_test(test_stream_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

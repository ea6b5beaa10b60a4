/*
 * test_h2_session.c - the http module's HTTP/2 codec over the in-memory
 * transport, with an nghttp2 client session in the same process as the
 * peer (nghttp2_session_mem_send / mem_recv; nothing touches a socket).
 *
 * The instance: a static root made in a temporary directory (small files
 * and a 200000-byte binary one), an echo location and a return location;
 * h2_max_streams 100, h2_window 65535 (so a larger request body needs the
 * server's WINDOW_UPDATEs), h2_connection_window 1M.  Every connection is
 * h2c with prior knowledge: the mem connection speaks HTTP/1.1 until the
 * preface arrives.
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
 * HTTP/1.1, the preface's request line with a wrong rest is GOAWAY);
 * RFC 9113 stream states from raw frames, each fed whole, as state then
 * offence, and one byte at a time (HEADERS on a lower unopened id, DATA /
 * HEADERS after the client's RST_STREAM or on a closed stream, and after
 * an early answer: bad padding, content-length mismatches, a pseudo-field
 * in trailers, a stream window overflow); an early-answered body that ends
 * cleanly, one that runs past a window (RST_STREAM NO_ERROR); the two-step
 * graceful GOAWAY with a stream crossing the notice.
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

typedef ses_env_t env_t;

/* big.bin: BIG_LEN bytes of big_byte(i) */
#define BIG_LEN 200000
static unsigned char big_byte(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static unsigned char big_file[BIG_LEN]; /* filled by env_setup */

static const ses_file_t files[] = {
    SES_TEXT("www/hello.txt", "Hello, world\n"),
    SES_TEXT("www/a.txt", "alpha\n"),
    SES_TEXT("www/b.txt", "bravo bravo\n"),
    SES_TEXT("www/sub/index.html", "<p>sub</p>\n"),
    {"www/big.bin", big_file, BIG_LEN},
};

#define H2_MAX_STREAMS 100
#define H2_WINDOW 65535
#define H2_CONN_WINDOW (1024 * 1024)

static const ses_spec_t spec = {
    .conf = "http \"web\" {\n"
            "    listen = {\"tcp:18080:interface=127.0.0.1\"}\n"
            "    h2_max_streams = 100\n"
            "    h2_window = \"65535\"\n"
            "    h2_connection_window = \"1M\"\n"
            "    server \"main\" {\n"
            "        names = {\"localhost\"}\n"
            "        location \"/\" {\n"
            "            handler = \"static\"\n"
            "            root = \"@DIR@/www\"\n"
            "        }\n"
            "        location \"/echo\" {\n"
            "            handler = \"echo\"\n"
            "        }\n"
            "        location \"= /ret\" {\n"
            "            handler = \"return\"\n"
            "            status = 200\n"
            "            body = \"returned\\n\"\n"
            "            content_type = \"text/plain\"\n"
            "        }\n"
            "    }\n"
            "}\n",
    .module = "http",
    .name = "web",
    .tmpl = "/tmp/loom-h2sess.XXXXXX",
    .files = files,
    .nfiles = sizeof(files) / sizeof(files[0]),
};

static int env_setup(void **state)
{
    size_t i;

    for (i = 0; i < BIG_LEN; i++)
        big_file[i] = big_byte(i);
    return ses_setup(state, &spec);
}

/* ---- raw frames -----------------------------------------------------------
 */

enum {
    F_DATA = 0,
    F_HEADERS = 1,
    F_RST = 3,
    F_SETTINGS = 4,
    F_PING = 6,
    F_GOAWAY = 7,
    F_WINDOW_UPDATE = 8,
    F_CONTINUATION = 9
};

typedef struct {
    uint32_t len;
    uint8_t type, flags;
    int32_t sid;
    const uint8_t *pl; /* payload */
} frame_t;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Split BUF[FROM..LEN) into frames; fails the test if it does not end on a
 * frame boundary.  Returns the number (at most MAX). */
static size_t scan_frames(const void *vbuf, size_t len, size_t from,
                          frame_t *fs, size_t max)
{
    const uint8_t *b = vbuf;
    size_t pos = from, n = 0;

    while (pos < len) {
        frame_t f;

        if (len - pos < 9) {
            ses_show("output", b + from, len - from);
            fail_msg("a partial frame header at offset %zu", pos);
        }
        f.len = (uint32_t)b[pos] << 16 | (uint32_t)b[pos + 1] << 8 | b[pos + 2];
        f.type = b[pos + 3];
        f.flags = b[pos + 4];
        f.sid = (int32_t)(be32(b + pos + 5) & 0x7fffffff);
        f.pl = b + pos + 9;
        if (len - pos - 9 < f.len) {
            ses_show("output", b + from, len - from);
            fail_msg("a partial frame (type %u, %u bytes) at offset %zu",
                     f.type, f.len, pos);
        }
        if (n < max)
            fs[n] = f;
        n++;
        pos += 9 + f.len;
    }
    return n < max ? n : max;
}

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

/* ---- the nghttp2 client
 * ------------------------------------------------------- */

#define MAXS 160
#define MAXH 32

typedef struct {
    int32_t id;
    int status;
    char *hn[MAXH], *hv[MAXH]; /* response fields */
    int nh;
    unsigned char *body;
    size_t blen, bcap;
    int closed;
    uint32_t close_err;
    int rst; /* RST_STREAM received */
    uint32_t rst_err;
    int end_stream; /* END_STREAM received */
    int headers_es; /* ... on the response HEADERS */
    int ndata;      /* DATA frames received */
    /* the request body */
    const unsigned char *req;
    size_t req_len, req_off, req_piece;
} strm_t;

typedef struct {
    env_t *e;
    loom_conn_t *c;
    nghttp2_session *s;
    size_t off;   /* server output handed to the client so far */
    size_t piece; /* feed the server this many bytes at a time (0: all) */
    unsigned char *sent; /* everything the client sent */
    size_t sent_len, sent_cap;
    strm_t st[MAXS];
    int nst;
    int goaway;
    uint32_t goaway_err;
    int32_t goaway_last;
    int ping_acks;
    uint8_t ping_data[8];
    int settings; /* non-ACK SETTINGS received */
    int refused;  /* bytes left unfed because the server had closed */
} cli_t;

static strm_t *find_stream(cli_t *k, int32_t id)
{
    int i;

    for (i = 0; i < k->nst; i++)
        if (k->st[i].id == id)
            return &k->st[i];
    return NULL;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud)
{
    cli_t *k = ud;
    strm_t *st = find_stream(k, f->hd.stream_id);

    (void)s;
    (void)flags;
    if (st == NULL || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        char tmp[8] = "";

        memcpy(tmp, value, vlen < 7 ? vlen : 7);
        st->status = atoi(tmp);
        return 0;
    }
    if (st->nh < MAXH) {
        st->hn[st->nh] = strndup((const char *)name, nlen);
        st->hv[st->nh] = strndup((const char *)value, vlen);
        st->nh++;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid,
                         const uint8_t *data, size_t len, void *ud)
{
    cli_t *k = ud;
    strm_t *st = find_stream(k, sid);

    (void)s;
    (void)flags;
    if (st == NULL || len == 0)
        return 0;
    if (st->blen + len > st->bcap) {
        st->bcap = (st->blen + len) * 2;
        st->body = realloc(st->body, st->bcap);
        assert_non_null(st->body);
    }
    memcpy(st->body + st->blen, data, len);
    st->blen += len;
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    cli_t *k = ud;
    strm_t *st = find_stream(k, f->hd.stream_id);

    (void)s;
    switch (f->hd.type) {
    case NGHTTP2_DATA:
        if (st) {
            st->ndata++;
            if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
                st->end_stream = 1;
        }
        break;
    case NGHTTP2_HEADERS:
        if (st && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
            st->end_stream = st->headers_es = 1;
        break;
    case NGHTTP2_RST_STREAM:
        if (st) {
            st->rst = 1;
            st->rst_err = f->rst_stream.error_code;
        }
        break;
    case NGHTTP2_GOAWAY:
        k->goaway++;
        k->goaway_err = f->goaway.error_code;
        k->goaway_last = f->goaway.last_stream_id;
        break;
    case NGHTTP2_PING:
        if (f->hd.flags & NGHTTP2_FLAG_ACK) {
            k->ping_acks++;
            memcpy(k->ping_data, f->ping.opaque_data, 8);
        }
        break;
    case NGHTTP2_SETTINGS:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
            k->settings++;
        break;
    default:
        break;
    }
    return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t err, void *ud)
{
    cli_t *k = ud;
    strm_t *st = find_stream(k, sid);

    (void)s;
    if (st) {
        st->closed = 1;
        st->close_err = err;
    }
    return 0;
}

static loom_conn_t *alpn_h2_conn(env_t *e);

/* A client on connection C (NULL: a fresh one, h2c with prior knowledge);
 * WINDOW (0: the default 65535) is its SETTINGS_INITIAL_WINDOW_SIZE;
 * AUTO_WU 0 turns off its WINDOW_UPDATEs.  Nothing is sent until the
 * first pump. */
static cli_t *cli_on(env_t *e, loom_conn_t *c, uint32_t window, int auto_wu)
{
    cli_t *k = calloc(1, sizeof(*k));
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    nghttp2_settings_entry iv[2];
    size_t niv = 0;

    assert_non_null(k);
    k->e = e;
    k->c = c ? c : ses_conn(e, NULL);
    assert_non_null(k->c);
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    assert_int_equal(nghttp2_option_new(&opt), 0);
    if (!auto_wu)
        nghttp2_option_set_no_auto_window_update(opt, 1);
    assert_int_equal(nghttp2_session_client_new2(&k->s, cb, k, opt), 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    iv[niv].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[niv++].value = 0;
    if (window) {
        iv[niv].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
        iv[niv++].value = window;
    }
    assert_int_equal(nghttp2_submit_settings(k->s, NGHTTP2_FLAG_NONE, iv, niv),
                     0);
    return k;
}

static cli_t *cli_new(env_t *e, uint32_t window, int auto_wu)
{
    return cli_on(e, NULL, window, auto_wu);
}

static void cli_free(cli_t *k)
{
    int i, j;

    for (i = 0; i < k->nst; i++) {
        for (j = 0; j < k->st[i].nh; j++) {
            free(k->st[i].hn[j]);
            free(k->st[i].hv[j]);
        }
        free(k->st[i].body);
    }
    nghttp2_session_del(k->s);
    loom_mem_conn_free(k->c);
    free(k->sent);
    free(k);
}

static void keep_sent(cli_t *k, const void *p, size_t len)
{
    if (k->sent_len + len > k->sent_cap) {
        k->sent_cap = (k->sent_len + len) * 2;
        k->sent = realloc(k->sent, k->sent_cap);
        assert_non_null(k->sent);
    }
    memcpy(k->sent + k->sent_len, p, len);
    k->sent_len += len;
}

/* Feed LEN bytes to the server in K->piece pieces (settling after each);
 * once the server has closed, the rest is counted in K->refused. */
static void feed(cli_t *k, const void *vp, size_t len)
{
    keep_sent(k, vp, len);
    k->refused += ses_feed_pieces(k->e, k->c, vp, len, k->piece, 0);
}

/* Hand the server's new output to the client; returns 1 if there was. */
static int deliver(cli_t *k)
{
    size_t len;
    const char *out = loom_mem_output(k->c, &len);
    ssize_t r;

    if (len == k->off)
        return 0;
    r = nghttp2_session_mem_recv(k->s, (const uint8_t *)out + k->off,
                                 len - k->off);
    if (r < 0) {
        ses_show("server output", out + k->off, len - k->off);
        fail_msg("the client rejects the server's output: %s",
                 nghttp2_strerror((int)r));
    }
    k->off = len;
    return 1;
}

/* Exchange bytes until neither side has anything more to say. */
static void pump(cli_t *k)
{
    int i;

    for (i = 0; i < 100000; i++) {
        int progress = 0;
        const uint8_t *data;
        ssize_t n;

        while ((n = nghttp2_session_mem_send(k->s, &data)) > 0) {
            progress = 1;
            feed(k, data, (size_t)n);
        }
        assert_true(n == 0);
        ses_settle(k->e);
        progress |= deliver(k);
        if (!progress)
            return;
    }
    fail_msg("the exchange does not stop");
}

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf,
                         size_t len, uint32_t *dflags, nghttp2_data_source *src,
                         void *ud)
{
    strm_t *st = src->ptr;
    size_t n = st->req_len - st->req_off;

    (void)s;
    (void)sid;
    (void)ud;
    if (n > len)
        n = len;
    if (st->req_piece && n > st->req_piece)
        n = st->req_piece;
    memcpy(buf, st->req + st->req_off, n);
    st->req_off += n;
    if (st->req_off == st->req_len)
        *dflags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(n, v)                                                               \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),              \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

/* Submit METHOD PATH (with EXTRA fields); BODY (LEN bytes, DATA frames of
 * at most PIECE bytes) when non-NULL; CL adds its content-length. */
static strm_t *request_x(cli_t *k, const char *method, const char *path,
                         const nghttp2_nv *extra, size_t nextra,
                         const void *body, size_t len, size_t piece, int cl)
{
    nghttp2_nv nva[40];
    size_t n = 0, i;
    char clen[32];
    strm_t *st;
    nghttp2_data_provider prd;
    int32_t id;

    assert_true(k->nst < MAXS && nextra < 30);
    st = &k->st[k->nst];
    memset(st, 0, sizeof(*st));
    nva[n++] = (nghttp2_nv)NV(":method", method);
    nva[n++] = (nghttp2_nv)NV(":scheme", "http");
    nva[n++] = (nghttp2_nv)NV(":authority", "localhost");
    nva[n++] = (nghttp2_nv)NV(":path", path);
    for (i = 0; i < nextra; i++)
        nva[n++] = extra[i];
    if (body && cl) {
        snprintf(clen, sizeof(clen), "%zu", len);
        nva[n++] = (nghttp2_nv)NV("content-length", clen);
    }
    st->req = body;
    st->req_len = len;
    st->req_piece = piece;
    prd.source.ptr = st;
    prd.read_callback = body_read;
    id = nghttp2_submit_request(k->s, NULL, nva, n, body ? &prd : NULL, NULL);
    assert_true(id > 0);
    st->id = id;
    k->nst++;
    return st;
}

static strm_t *request(cli_t *k, const char *method, const char *path)
{
    return request_x(k, method, path, NULL, 0, NULL, 0, 0, 0);
}

/* A response field's value, or NULL. */
static const char *hval(const strm_t *st, const char *name)
{
    int i;

    for (i = 0; i < st->nh; i++)
        if (strcmp(st->hn[i], name) == 0)
            return st->hv[i];
    return NULL;
}

/* Fields every response must (not) have. */
static void check_fields(const strm_t *st)
{
    static const char *const banned[] = {"connection", "keep-alive",
                                         "transfer-encoding", "upgrade",
                                         "proxy-connection"};
    const char *v;
    size_t i;
    int j;

    for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
        if (hval(st, banned[i]) != NULL)
            fail_msg("stream %d: connection-specific field %s", st->id,
                     banned[i]);
    for (j = 0; j < st->nh; j++) {
        const char *p;

        for (p = st->hn[j]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                fail_msg("stream %d: field name %s is not lowercase", st->id,
                         st->hn[j]);
    }
    assert_non_null(hval(st, "date"));
    v = hval(st, "server");
    assert_non_null(v);
    assert_int_equal(strncmp(v, "loom", 4), 0);
}

/* ST completed normally with STATUS and body WANT (LEN bytes). */
static void expect_resp(const strm_t *st, int status, const void *want,
                        size_t len)
{
    if (!st->closed || !st->end_stream || st->rst || st->close_err != 0)
        fail_msg("stream %d: closed %d end_stream %d rst %d (%u) close %u",
                 st->id, st->closed, st->end_stream, st->rst, st->rst_err,
                 st->close_err);
    assert_int_equal(st->status, status);
    check_fields(st);
    if (want != NULL &&
        (st->blen != len || (len && memcmp(st->body, want, len) != 0))) {
        ses_show("body", st->body, st->blen);
        fail_msg("stream %d: body differs (%zu bytes, want %zu)", st->id,
                 st->blen, len);
    }
}

static void expect_str(const strm_t *st, int status, const char *want)
{
    expect_resp(st, status, want, strlen(want));
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

/* ---- stream states (RFC 9113 5.1, 5.1.1, 8.1) from raw frames ------------
 */

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
        cmocka_unit_test(test_stream_states),
        cmocka_unit_test(test_early_answer_body),
        cmocka_unit_test(test_goaway_two_steps),
    };

    return cmocka_run_group_tests_name("h2_session", tests, env_setup,
                                       ses_teardown);
}

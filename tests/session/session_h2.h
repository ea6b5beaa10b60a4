/*
 * session_h2.h - what the HTTP/2 session tests (test_h2_session.c,
 * test_h2_states.c) share on top of session.h: the http instance they
 * talk to, reading the server's raw frames, and an nghttp2 client
 * session in the same process as the peer (nghttp2_session_mem_send /
 * mem_recv over the in-memory transport; nothing touches a socket) with
 * the checks every response must pass.
 *
 *   the instance  env_setup (a cmocka group fixture; ses_teardown undoes
 *                 it): a static root made in a temporary directory (small
 *                 files and the BIG_LEN-byte big.bin), an echo location
 *                 and a return location; h2_max_streams 100, h2_window
 *                 65535 (so a larger request body needs the server's
 *                 WINDOW_UPDATEs), h2_connection_window 1M.  Every
 *                 connection is h2c with prior knowledge: the mem
 *                 connection speaks HTTP/1.1 until the preface arrives.
 *   raw frames    frame_t, F_* types, be32, scan_frames
 *   the client    cli_new / cli_on, request / request_x, pump, cli_free
 *   responses     hval, check_fields, expect_resp, expect_str
 *
 * Header-only (static inline functions: each program uses what it needs).
 */
#ifndef LOOM_TEST_SESSION_H2_H
#define LOOM_TEST_SESSION_H2_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "http.h"
#include "session.h"

typedef ses_env_t env_t;

/* big.bin: BIG_LEN bytes of big_byte(i) */
#define BIG_LEN 200000
static inline unsigned char big_byte(size_t i)
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

/* The group fixture: fills big.bin and starts SPEC into *STATE (a
 * ses_env_t; ses_teardown stops and frees it). */
static inline int env_setup(void **state)
{
    size_t i;

    for (i = 0; i < BIG_LEN; i++)
        big_file[i] = big_byte(i);
    return ses_setup(state, &spec);
}

/* ---- raw frames ------------------------------------------------------ */

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

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Split BUF[FROM..LEN) into frames; fails the test if it does not end on a
 * frame boundary.  Returns the number (at most MAX). */
static inline size_t scan_frames(const void *vbuf, size_t len, size_t from,
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

/* ---- the nghttp2 client ------------------------------------------------ */

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

/* Append N bytes of P to the buffer *BUF (*LEN used of *CAP, grown as
 * needed; the caller frees *BUF). */
static inline void grow_append(unsigned char **buf, size_t *len, size_t *cap,
                               const void *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static inline strm_t *find_stream(cli_t *k, int32_t id)
{
    int i;

    for (i = 0; i < k->nst; i++)
        if (k->st[i].id == id)
            return &k->st[i];
    return NULL;
}

static inline int on_header(nghttp2_session *s, const nghttp2_frame *f,
                            const uint8_t *name, size_t nlen,
                            const uint8_t *value, size_t vlen, uint8_t flags,
                            void *ud)
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

static inline int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid,
                                const uint8_t *data, size_t len, void *ud)
{
    cli_t *k = ud;
    strm_t *st = find_stream(k, sid);

    (void)s;
    (void)flags;
    if (st == NULL || len == 0)
        return 0;
    grow_append(&st->body, &st->blen, &st->bcap, data, len);
    return 0;
}

static inline int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
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

static inline int on_close(nghttp2_session *s, int32_t sid, uint32_t err,
                           void *ud)
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

/* A client on connection C (NULL: a fresh one, h2c with prior knowledge);
 * WINDOW (0: the default 65535) is its SETTINGS_INITIAL_WINDOW_SIZE;
 * AUTO_WU 0 turns off its WINDOW_UPDATEs.  Nothing is sent until the
 * first pump. */
static inline cli_t *cli_on(env_t *e, loom_conn_t *c, uint32_t window,
                            int auto_wu)
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

static inline cli_t *cli_new(env_t *e, uint32_t window, int auto_wu)
{
    return cli_on(e, NULL, window, auto_wu);
}

static inline void cli_free(cli_t *k)
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

/* Record LEN bytes of P as sent by the client (K->sent). */
static inline void keep_sent(cli_t *k, const void *p, size_t len)
{
    grow_append(&k->sent, &k->sent_len, &k->sent_cap, p, len);
}

/* Feed LEN bytes to the server in K->piece pieces (settling after each);
 * once the server has closed, the rest is counted in K->refused. */
static inline void feed(cli_t *k, const void *vp, size_t len)
{
    keep_sent(k, vp, len);
    k->refused += ses_feed_pieces(k->e, k->c, vp, len, k->piece, 0);
}

/* Hand the server's new output to the client; returns 1 if there was. */
static inline int deliver(cli_t *k)
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
static inline void pump(cli_t *k)
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

static inline ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf,
                                size_t len, uint32_t *dflags,
                                nghttp2_data_source *src, void *ud)
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
static inline strm_t *request_x(cli_t *k, const char *method, const char *path,
                                const nghttp2_nv *extra, size_t nextra,
                                const void *body, size_t len, size_t piece,
                                int cl)
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

static inline strm_t *request(cli_t *k, const char *method, const char *path)
{
    return request_x(k, method, path, NULL, 0, NULL, 0, 0, 0);
}

/* A response field's value, or NULL. */
static inline const char *hval(const strm_t *st, const char *name)
{
    int i;

    for (i = 0; i < st->nh; i++)
        if (strcmp(st->hn[i], name) == 0)
            return st->hv[i];
    return NULL;
}

/* Fields every response must (not) have. */
static inline void check_fields(const strm_t *st)
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
static inline void expect_resp(const strm_t *st, int status, const void *want,
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

static inline void expect_str(const strm_t *st, int status, const char *want)
{
    expect_resp(st, status, want, strlen(want));
}

#endif

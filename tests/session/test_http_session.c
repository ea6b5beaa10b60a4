/*
 * test_http_session.c - the http module's HTTP/1.1 codec over the
 * in-memory transport: a static root made in a temporary directory, an
 * echo location and a return location.  Pipelined requests in one feed
 * give the same bytes (Date values aside) as the same requests fed split
 * in two at every byte, seven bytes at a time and one byte at a time;
 * chunked request bodies are echoed; a request refused with 400 closes the
 * connection; HEAD has the GET's head and no body; keep-alive by default,
 * then Connection: close (or HTTP/1.0 without keep-alive) closes.
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

#include "session.h"

typedef ses_env_t env_t;
typedef ses_reply_t reply_t;

/* big.bin: BIG_LEN bytes of big_byte(i), more than the output high-water
 * mark */
#define BIG_LEN 300000
static char big_byte(size_t i)
{
    return (char)(i * 7 + i / 251);
}

static char big_file[BIG_LEN]; /* filled by env_setup */

static const ses_file_t files[] = {
    {"www/big.bin", big_file, BIG_LEN},
    SES_TEXT("www/hello.txt", "Hello, world\n"),
    SES_TEXT("www/a.txt", "alpha\n"),
    SES_TEXT("www/b.txt", "bravo bravo\n"),
    SES_TEXT("www/sub/index.html", "<p>sub</p>\n"),
};

static const ses_spec_t spec = {
    .conf = "http \"web\" {\n"
            "    listen = {\"tcp:18080:interface=127.0.0.1\"}\n"
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
    .tmpl = "/tmp/loom-httpsess.XXXXXX",
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

/* Every Date value becomes "<date>" (they may change between feeds). */
static void blank_dates(reply_t *r)
{
    ses_blank(r, "\r\nDate: ", "<date>", 0);
}

/* Feed IN over a fresh connection: cut at SPLIT (if non-zero), else in
 * pieces of PIECE bytes (0: all at once).  Returns the whole output with
 * every Date value replaced by "<date>". */
static reply_t talk(env_t *e, const char *in, size_t len, size_t piece,
                    size_t split)
{
    return ses_talk_f(e, NULL, in, len, piece, split, blank_dates);
}

/* ---- splitting the output into responses ------------------------------ */

#define MAX_RESP 8

typedef struct {
    int status;
    const char *head; /* status line and fields, without the empty line */
    size_t head_len;
    char body[4096]; /* decoded */
    size_t body_len;
} resp_t;

/* The value of field NAME in R's head (case-insensitive name), copied
 * into VAL; 1 if present. */
static int field(const resp_t *r, const char *name, char *val, size_t cap)
{
    const char *p = r->head, *end = r->head + r->head_len;
    size_t nl = strlen(name);

    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));

        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && p[nl] == ':' &&
            strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            size_t n;

            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            n = (size_t)(eol - v);
            if (n >= cap)
                n = cap - 1;
            memcpy(val, v, n);
            val[n] = '\0';
            return 1;
        }
        p = eol + 2;
    }
    return 0;
}

/* How many fields named NAME R's head holds. */
static int count_fields(const resp_t *r, const char *name)
{
    const char *p = r->head, *end = r->head + r->head_len;
    size_t nl = strlen(name);
    int n = 0;

    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));

        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && p[nl] == ':' &&
            strncasecmp(p, name, nl) == 0)
            n++;
        p = eol + 2;
    }
    return n;
}

static int has_field(const resp_t *r, const char *name)
{
    char v[256];

    return field(r, name, v, sizeof(v));
}

/* Split OUT into responses; HEADS is a string of '0'/'1' per response
 * ('1': answers HEAD, no body).  Fails the test when the bytes are not a
 * sequence of complete responses. */
static size_t split_responses(const reply_t *out, const char *heads, resp_t *rs,
                              size_t max)
{
    size_t pos = 0, n = 0;

    while (pos < out->len) {
        resp_t *r = &rs[n];
        const char *p = out->p + pos, *end = out->p + out->len;
        const char *hend = strstr(p, "\r\n\r\n");
        char v[64];
        int head = heads != NULL && n < strlen(heads) && heads[n] == '1';

        if (n == max)
            fail_msg("more than %zu responses", max);
        if (hend == NULL || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') {
            ses_show("output", out->p, out->len);
            fail_msg("response %zu: no complete head", n + 1);
        }
        memset(r, 0, sizeof(*r));
        r->status = atoi(p + 9);
        r->head = p;
        r->head_len = (size_t)(hend - p);
        p = hend + 4;
        if (head || r->status == 204 || r->status == 304 || r->status < 200) {
            /* no body */
        } else if (field(r, "Transfer-Encoding", v, sizeof(v))) {
            assert_string_equal(v, "chunked");
            for (;;) {
                char *e2;
                unsigned long size = strtoul(p, &e2, 16);
                const char *eol = strstr(p, "\r\n");

                if (eol == NULL || e2 == p)
                    fail_msg("response %zu: bad chunk", n + 1);
                p = eol + 2;
                if (size == 0) {
                    /* trailers, then the empty line */
                    while (strncmp(p, "\r\n", 2) != 0) {
                        eol = strstr(p, "\r\n");
                        if (eol == NULL)
                            fail_msg("response %zu: bad trailer", n + 1);
                        p = eol + 2;
                    }
                    p += 2;
                    break;
                }
                if ((size_t)(end - p) < size + 2 ||
                    r->body_len + size > sizeof(r->body))
                    fail_msg("response %zu: short chunk", n + 1);
                memcpy(r->body + r->body_len, p, size);
                r->body_len += size;
                p += size;
                if (strncmp(p, "\r\n", 2) != 0)
                    fail_msg("response %zu: chunk without CRLF", n + 1);
                p += 2;
            }
        } else if (field(r, "Content-Length", v, sizeof(v))) {
            size_t cl = strtoul(v, NULL, 10);

            if ((size_t)(end - p) < cl || cl > sizeof(r->body)) {
                ses_show("output", out->p, out->len);
                fail_msg("response %zu: body shorter than %zu", n + 1, cl);
            }
            memcpy(r->body, p, cl);
            r->body_len = cl;
            p += cl;
        } else {
            /* close-delimited: the rest */
            r->body_len = (size_t)(end - p);
            if (r->body_len > sizeof(r->body))
                fail_msg("response %zu: body too long", n + 1);
            memcpy(r->body, p, r->body_len);
            p = end;
        }
        pos = (size_t)(p - out->p);
        n++;
    }
    return n;
}

static void expect_body(const resp_t *r, const char *want)
{
    if (r->body_len != strlen(want) ||
        memcmp(r->body, want, r->body_len) != 0) {
        ses_show("body", r->body, r->body_len);
        fail_msg("body differs from \"%s\"", want);
    }
}

/* IN must produce the same output (and closed state) however it is fed;
 * returns the output of the single feed (caller frees). */
static reply_t same_all_splits(env_t *e, const char *in, size_t len)
{
    return ses_same_splits(e, NULL, in, len, blank_dates);
}

/* ---- tests ------------------------------------------------------------ */

static void test_pipelined_same_as_bytewise(void **state)
{
    env_t *e = *state;
    static const char in[] =
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        "HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        "GET /missing.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
        "Content-Type: text/plain\r\n\r\nhello"
        "GET /ret HTTP/1.1\r\nHost: localhost\r\n\r\n"
        "GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    reply_t out = same_all_splits(e, SES_S(in));
    resp_t rs[MAX_RESP];
    char v[128];
    size_t n = split_responses(&out, "010000", rs, MAX_RESP);

    assert_int_equal(out.closed, 0);
    assert_int_equal(n, 6);
    assert_int_equal(rs[0].status, 200);
    expect_body(&rs[0], "alpha\n");
    assert_int_equal(rs[1].status, 200);
    assert_true(field(&rs[1], "Content-Length", v, sizeof(v)));
    assert_string_equal(v, "13");
    assert_int_equal(rs[2].status, 404);
    assert_int_equal(rs[3].status, 200);
    expect_body(&rs[3], "hello");
    assert_int_equal(rs[4].status, 200);
    expect_body(&rs[4], "returned\n");
    assert_int_equal(rs[5].status, 200);
    expect_body(&rs[5], "bravo bravo\n");
    for (n = 0; n < 6; n++) {
        assert_true(has_field(&rs[n], "Date"));
        assert_true(field(&rs[n], "Server", v, sizeof(v)));
        assert_string_equal(v, "loom/0.1.0");
    }
    free(out.p);
}

/* The echo's chunk boundaries follow the input's pieces, so each way of
 * feeding is checked on the decoded responses, not on the bytes. */
static void check_chunked_echo(reply_t *out, const char *how)
{
    resp_t rs[MAX_RESP];
    char v[128];
    size_t n = split_responses(out, NULL, rs, MAX_RESP);

    if (n != 2 || out->closed) {
        ses_show(how, out->p, out->len);
        fail_msg("%s: %zu responses, closed %d", how, n, out->closed);
    }
    assert_int_equal(rs[0].status, 200);
    expect_body(&rs[0], "hello world");
    assert_true(field(&rs[0], "Transfer-Encoding", v, sizeof(v)));
    assert_false(has_field(&rs[0], "Content-Length"));
    assert_true(field(&rs[0], "Content-Type", v, sizeof(v)));
    assert_true(strncmp(v, "text/x-a", 8) == 0);
    assert_int_equal(rs[1].status, 200);
    expect_body(&rs[1], "alpha\n");
}

static void test_chunked_echo(void **state)
{
    env_t *e = *state;
    static const char in[] =
        "POST /echo HTTP/1.1\r\nHost: localhost\r\n"
        "Transfer-Encoding: chunked\r\nContent-Type: text/x-a\r\n\r\n"
        "5;ext=1\r\nhello\r\n"
        "6;a=\"b c\"\r\n world\r\n"
        "0\r\nX-Trailer: t\r\n\r\n"
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    reply_t out;
    size_t k;
    char how[64];

    out = talk(e, SES_S(in), 0, 0);
    check_chunked_echo(&out, "whole");
    free(out.p);
    for (k = 1; k < sizeof(in) - 1; k++) {
        snprintf(how, sizeof(how), "split at byte %zu", k);
        out = talk(e, SES_S(in), 0, k);
        check_chunked_echo(&out, how);
        free(out.p);
    }
    out = talk(e, SES_S(in), 7, 0);
    check_chunked_echo(&out, "seven bytes at a time");
    free(out.p);
    out = talk(e, SES_S(in), 1, 0);
    check_chunked_echo(&out, "one byte at a time");
    free(out.p);
}

/* One request that must be refused with STATUS and the connection closed,
 * followed by one that must not be answered. */
static void expect_refused(env_t *e, const char *in, size_t len, int status)
{
    reply_t out = same_all_splits(e, in, len);
    resp_t rs[MAX_RESP];
    char v[128];
    size_t n = split_responses(&out, NULL, rs, MAX_RESP);

    if (n != 1 || rs[0].status != status || !out.closed) {
        ses_show("input", in, len);
        ses_show("output", out.p, out.len);
        fail_msg("want one %d and a close; got %zu responses, closed %d",
                 status, n, out.closed);
    }
    assert_true(field(&rs[0], "Connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    assert_null(strstr(out.p, "alpha"));
    /* the built-in error page alone, nothing left from the handler */
    if (count_fields(&rs[0], "Content-Type") != 1 ||
        count_fields(&rs[0], "Content-Length") != 1) {
        ses_show("output", out.p, out.len);
        fail_msg("%d: want one Content-Type and one Content-Length", status);
    }
    assert_true(field(&rs[0], "Content-Type", v, sizeof(v)));
    assert_int_equal(strncmp(v, "text/html", 9), 0);
    free(out.p);
}

static void test_bad_requests_close(void **state)
{
    env_t *e = *state;

    expect_refused(e,
                   SES_S("GET /a.txt HTTP/1.1\r\nHost : localhost\r\n\r\n"
                         "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                   400);
    expect_refused(
        e,
        SES_S("POST /echo HTTP/1.1\r\nHost: localhost\r\n"
              "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0\r\n\r\n"
              "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        400);
    expect_refused(e,
                   SES_S("POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"
                         "0x5\r\nhello\r\n0\r\n\r\n"
                         "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                   400);
    expect_refused(e,
                   SES_S("GET /a.txt HTTP/1.1\r\n\r\n"
                         "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                   400);
    expect_refused(e,
                   SES_S("GET /a.txt HTTP/2.0\r\nHost: localhost\r\n\r\n"
                         "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                   505);
}

/* A valid request before the bad one is answered first. */
static void test_good_then_bad(void **state)
{
    env_t *e = *state;
    static const char in[] =
        "GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nX: a\r\n b\r\n\r\n"
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    reply_t out = same_all_splits(e, SES_S(in));
    resp_t rs[MAX_RESP];
    size_t n = split_responses(&out, NULL, rs, MAX_RESP);

    assert_int_equal(n, 2);
    assert_int_equal(rs[0].status, 200);
    expect_body(&rs[0], "bravo bravo\n");
    assert_int_equal(rs[1].status, 400);
    assert_int_equal(out.closed, 1);
    assert_null(strstr(out.p, "alpha"));
    free(out.p);
}

static void test_head_has_no_body(void **state)
{
    env_t *e = *state;
    reply_t g = talk(
        e, SES_S("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0, 0);
    reply_t h = talk(
        e, SES_S("HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0, 0);
    const char *gb = strstr(g.p, "\r\n\r\n");
    const char *hb = strstr(h.p, "\r\n\r\n");

    assert_non_null(gb);
    assert_non_null(hb);
    /* nothing after the head */
    assert_int_equal((size_t)(hb + 4 - h.p), h.len);
    assert_string_equal(gb + 4, "Hello, world\n");
    /* the same head as the GET */
    if ((size_t)(gb - g.p) != (size_t)(hb - h.p) ||
        memcmp(g.p, h.p, (size_t)(gb - g.p)) != 0) {
        ses_show("GET", g.p, g.len);
        ses_show("HEAD", h.p, h.len);
        fail_msg("HEAD's head differs from GET's");
    }
    assert_int_equal(h.closed, 0);
    free(g.p);
    free(h.p);

    /* HEAD for a missing file: the 404's head, no body */
    g = talk(e, SES_S("GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0, 0);
    h = talk(e, SES_S("HEAD /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0, 0);
    gb = strstr(g.p, "\r\n\r\n");
    hb = strstr(h.p, "\r\n\r\n");
    assert_non_null(gb);
    assert_non_null(hb);
    assert_int_equal((size_t)(hb + 4 - h.p), h.len);
    assert_true(g.len > (size_t)(gb + 4 - g.p));
    assert_memory_equal(g.p, h.p, (size_t)(gb - g.p));
    free(g.p);
    free(h.p);
}

static void test_keepalive_then_close(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);
    static const char r1[] = "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    static const char r2[] = "GET /b.txt HTTP/1.1\r\nHost: localhost\r\n"
                             "Connection: close\r\n\r\n";
    const char *out;
    size_t len;

    ses_feed(e, c, SES_S(r1));
    out = loom_mem_output(c, &len);
    assert_true(len > 0);
    ses_expect_closed(c, 0);
    assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
    assert_true(len >= 6 && memcmp(out + len - 6, "alpha\n", 6) == 0);

    ses_feed(e, c, SES_S(r2));
    out = loom_mem_output(c, &len);
    ses_expect_closed(c, 1);
    ses_expect_ended(c, 1);
    assert_true(len >= 12 && memcmp(out + len - 12, "bravo bravo\n", 12) == 0);
    {
        const char *second = strstr(out + 1, "HTTP/1.1 200 ");

        assert_non_null(second);
        assert_non_null(strstr(second, "\r\nConnection: close\r\n"));
    }
    loom_mem_conn_free(c);
}

/* A client that reads slowly: a large file stops at what it accepts, the
 * request pipelined behind waits, and both arrive whole as it reads. */
static void test_slow_reader_file(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);
    static const char in[] = "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
                             "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    reply_t rest = {NULL, 0, 0};
    resp_t rs[MAX_RESP];
    const char *out;
    size_t len, rounds = 0, i, head;

    ses_window(e, c, 1000);
    ses_feed(e, c, SES_S(in));
    loom_mem_output(c, &len);
    assert_int_equal(len, 1000);
    assert_true(loom_conn_pending(c) > 0);
    do {
        ses_consume(e, c, 40000);
        assert_true(++rounds < 50);
    } while (loom_conn_pending(c) > 0);
    ses_expect_closed(c, 0);
    out = loom_mem_output(c, &len);
    /* the first body is bigger than resp_t keeps: check it here */
    head = (size_t)(strstr(out, "\r\n\r\n") + 4 - out);
    assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
    assert_non_null(strstr(out, "\r\nContent-Length: 300000\r\n"));
    assert_true(len > head + BIG_LEN);
    for (i = 0; i < BIG_LEN; i++)
        if (out[head + i] != big_byte(i))
            fail_msg("big.bin differs at byte %zu", i);
    rest.p = (char *)out + head + BIG_LEN;
    rest.len = len - head - BIG_LEN;
    assert_int_equal(split_responses(&rest, NULL, rs, MAX_RESP), 1);
    assert_int_equal(rs[0].status, 200);
    expect_body(&rs[0], "alpha\n");
    loom_mem_conn_free(c);
}

/* A request body echoed to a client that does not read: the body stops
 * being read (the connection does not buffer it all), and everything
 * arrives once the client reads. */
static void test_slow_reader_echo(void **state)
{
    enum { N = 1024 * 1024, PIECE = 50000 };
    env_t *e = *state;
    loom_conn_t *c = ses_conn(e, NULL);
    char head[128], *body = malloc(N);
    const char *out;
    size_t len, off, rounds = 0;

    assert_non_null(body);
    for (off = 0; off < N; off++)
        body[off] = (char)('a' + off % 26);
    ses_window(e, c, 0);
    len = (size_t)snprintf(head, sizeof(head),
                           "POST /echo HTTP/1.1\r\nHost: localhost\r\n"
                           "Content-Length: %d\r\n\r\n",
                           N);
    ses_feed(e, c, head, len);
    for (off = 0; off < N; off += PIECE)
        ses_feed(e, c, body + off, N - off < PIECE ? N - off : PIECE);
    /* nothing read by the client: the echo is held at the high-water
     * mark, not the whole body */
    ses_expect_output(c, "", 0);
    assert_true(loom_conn_pending(c) < N);
    do {
        ses_consume(e, c, 100000);
        assert_true(++rounds < 100);
    } while (loom_conn_pending(c) > 0);
    out = loom_mem_output(c, &len);
    off = (size_t)(strstr(out, "\r\n\r\n") + 4 - out);
    assert_int_equal(len, off + N);
    assert_memory_equal(out + off, body, N);
    ses_expect_closed(c, 0);
    loom_mem_conn_free(c);
    free(body);
}

static void test_http10(void **state)
{
    env_t *e = *state;
    reply_t r;
    resp_t rs[MAX_RESP];
    char v[64];
    size_t n;

    /* without keep-alive: one answer, then close */
    r = talk(e, SES_S("GET /a.txt HTTP/1.0\r\n\r\nGET /b.txt HTTP/1.0\r\n\r\n"),
             0, 0);
    n = split_responses(&r, NULL, rs, MAX_RESP);
    assert_int_equal(n, 1);
    expect_body(&rs[0], "alpha\n");
    assert_int_equal(r.closed, 1);
    free(r.p);

    /* with keep-alive: answered with keep-alive, stays open */
    r = talk(e,
             SES_S("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                   "GET /b.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
             0, 0);
    n = split_responses(&r, NULL, rs, MAX_RESP);
    assert_int_equal(n, 2);
    expect_body(&rs[0], "alpha\n");
    expect_body(&rs[1], "bravo bravo\n");
    assert_true(field(&rs[0], "Connection", v, sizeof(v)));
    assert_int_equal(strcasecmp(v, "keep-alive"), 0);
    assert_int_equal(r.closed, 0);
    free(r.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_same_as_bytewise),
        cmocka_unit_test(test_chunked_echo),
        cmocka_unit_test(test_bad_requests_close),
        cmocka_unit_test(test_good_then_bad),
        cmocka_unit_test(test_head_has_no_body),
        cmocka_unit_test(test_keepalive_then_close),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_slow_reader_file),
        cmocka_unit_test(test_slow_reader_echo),
    };

    return cmocka_run_group_tests_name("http_session", tests, env_setup,
                                       ses_teardown);
}

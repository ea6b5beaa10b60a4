/*
 * test_h1_resp.c - the HTTP/1.1 response parser (protocols/http/h1_resp.h):
 * tables of valid response heads (version, status, reason, fields, and
 * the framing they imply) and of invalid ones, each also fed cut at every
 * byte the way the proxy resumes with LAST_LEN; the size and field limits;
 * framing errors (Content-Length / Transfer-Encoding shapes that smuggle);
 * and the body reader for Content-Length, chunked and close-delimited
 * bodies, whole and cut at every point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1_resp.h"

#define MAX_HEAD 4096
#define MAX_FIELDS 8
#define S_RAW(lit) .raw = lit, .len = sizeof(lit) - 1

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    h1_resp_head_t h;
    h1_field_t fields[MAX_FIELDS];
} parsed_t;

/* Parse a copy of RAW[0..LEN) of exactly LEN bytes (ASan sees reads past
 * the end), resuming from LAST_LEN.  Slices are rebased onto RAW. */
static int parse_copy(const char *raw, size_t len, size_t last_len,
                      size_t max_head, parsed_t *p)
{
    char *copy = malloc(len ? len : 1);
    size_t i;
    int r;

    assert_non_null(copy);
    memcpy(copy, raw, len);
    memset(p, 0, sizeof(*p));
    p->h.fields = p->fields;
    p->h.max_fields = MAX_FIELDS;
    r = h1_resp_parse_head(copy, len, last_len, max_head, &p->h);
    if (r > 0) {
#define REBASE(s)                                                              \
    do {                                                                       \
        assert_true((s).len == 0 ||                                            \
                    ((s).p >= copy && (s).p + (s).len <= copy + r));           \
        (s).p = raw + ((s).p - copy);                                          \
    } while (0)
        REBASE(p->h.reason);
        for (i = 0; i < p->h.nfields; i++) {
            REBASE(p->h.fields[i].name);
            REBASE(p->h.fields[i].value);
        }
#undef REBASE
    }
    free(copy);
    return r;
}

static int slice_is(loom_slice_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- valid heads -------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *raw;
    size_t len; /* 0: strlen(raw) */
    int head_request;
    int minor, status;
    const char *reason;
    size_t nfields;
    const char *f0name, *f0value; /* first field, when there is one */
    int body;                     /* H1R_BODY_* */
    int64_t cl;
    int keep_alive, interim, upgrade;
} head_ok_t;

static const head_ok_t heads_ok[] = {
    {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 0, 1,
     200, "OK", 1, "Content-Length", "5", H1R_BODY_LENGTH, 5, 1, 0, 0},
    {"1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\n", 0, 0, 0, 200, "OK", 0,
     NULL, NULL, H1R_BODY_CLOSE, -1, 0, 0, 0},
    {"1.0 with length", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0, 0,
     200, "OK", 1, "Content-Length", "0", H1R_BODY_LENGTH, 0, 0, 0, 0},
    {"1.1 close-delimited", "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", 0, 0, 1, 200,
     "OK", 1, "X", "y", H1R_BODY_CLOSE, -1, 0, 0, 0},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
     1, 200, "OK", 1, "Transfer-Encoding", "chunked", H1R_BODY_CHUNKED, -1, 1,
     0, 0},
    {"chunked, any case, close",
     "HTTP/1.1 200 OK\r\ntransfer-encoding:  ChUnKeD \r\nConnection: "
     "Keep-Alive, CLOSE\r\n\r\n",
     0, 0, 1, 200, "OK", 2, "transfer-encoding", "ChUnKeD", H1R_BODY_CHUNKED,
     -1, 0, 0, 0},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 1, 204, "No Content", 0,
     NULL, NULL, H1R_BODY_NONE, -1, 1, 0, 0},
    {"304 with length",
     "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 0, 0, 1, 304,
     "Not Modified", 1, "Content-Length", "10", H1R_BODY_NONE, 10, 1, 0, 0},
    {"HEAD answer", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 0, 1, 1,
     200, "OK", 1, "Content-Length", "99", H1R_BODY_NONE, 99, 1, 0, 0},
    {"HEAD answer, chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 1, 1, 200,
     "OK", 1, "Transfer-Encoding", "chunked", H1R_BODY_NONE, -1, 1, 0, 0},
    {"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 0, 1, 200, "",
     1, "Content-Length", "0", H1R_BODY_LENGTH, 0, 1, 0, 0},
    {"empty reason", "HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\n", 0, 0, 1, 404,
     "", 1, "Content-Length", "1", H1R_BODY_LENGTH, 1, 1, 0, 0},
    {"reason with spaces, tabs, obs-text",
     "HTTP/1.1 500 Oh \tno \xe9\xff\r\nContent-Length: 2\r\n\r\n", 0, 0, 1, 500,
     "Oh \tno \xe9\xff", 1, "Content-Length", "2", H1R_BODY_LENGTH, 2, 1, 0, 0},
    {"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", 0, 0, 1, 100, "Continue",
     0, NULL, NULL, H1R_BODY_NONE, -1, 1, 1, 0},
    {"103 early hints",
     "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 0, 0, 1,
     103, "Early Hints", 1, "Link", "</a.css>; rel=preload", H1R_BODY_NONE, -1,
     1, 1, 0},
    {"101 upgrade",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
     "Upgrade\r\n\r\n",
     0, 0, 1, 101, "Switching Protocols", 2, "Upgrade", "websocket",
     H1R_BODY_NONE, -1, 0, 0, 1},
    {"bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 3\n\n", 0, 0, 1,
     200, "OK", 1, "Content-Length", "3", H1R_BODY_LENGTH, 3, 1, 0, 0},
    {"mixed line ends", "HTTP/1.1 200 OK\r\nContent-Length: 3\n\r\n", 0, 0, 1,
     200, "OK", 1, "Content-Length", "3", H1R_BODY_LENGTH, 3, 1, 0, 0},
    {"value whitespace trimmed", "HTTP/1.1 200 OK\r\nX:  \ta b\t \r\n\r\n", 0,
     0, 1, 200, "OK", 1, "X", "a b", H1R_BODY_CLOSE, -1, 0, 0, 0},
    {"empty value", "HTTP/1.1 200 OK\r\nX:\r\nContent-Length: 0\r\n\r\n", 0, 0,
     1, 200, "OK", 2, "X", "", H1R_BODY_LENGTH, 0, 1, 0, 0},
    {"obs-text value", "HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\n\r\n", 0, 0, 1,
     200, "OK", 1, "X", "caf\xc3\xa9", H1R_BODY_CLOSE, -1, 0, 0, 0},
    {"repeated equal lengths",
     "HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\nContent-Length: 4\r\n\r\n", 0,
     0, 1, 200, "OK", 2, "Content-Length", "4, 4", H1R_BODY_LENGTH, 4, 1, 0, 0},
    {"leading zeros", "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n", 0, 0, 1,
     200, "OK", 1, "Content-Length", "007", H1R_BODY_LENGTH, 7, 1, 0, 0},
    {"largest length",
     "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", 0, 0, 1,
     200, "OK", 1, "Content-Length", "9223372036854775807", H1R_BODY_LENGTH,
     INT64_MAX, 1, 0, 0},
    {"status 999", "HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", 0, 0, 1,
     999, "Odd", 1, "Content-Length", "0", H1R_BODY_LENGTH, 0, 1, 0, 0},
    {"max fields",
     "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n"
     "G: 7\r\nContent-Length: 0\r\n\r\n",
     0, 0, 1, 200, "OK", 8, "A", "1", H1R_BODY_LENGTH, 0, 1, 0, 0},
    {"body bytes follow", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0,
     0, 1, 200, "OK", 1, "Content-Length", "2", H1R_BODY_LENGTH, 2, 1, 0, 0},
};

/* The head length of a table entry: through its first empty line. */
static size_t head_len(const char *raw, size_t len)
{
    size_t i;

    for (i = 1; i < len; i++) {
        if (raw[i] == '\n' &&
            (raw[i - 1] == '\n' ||
             (i >= 2 && raw[i - 1] == '\r' && raw[i - 2] == '\n')))
            return i + 1;
    }
    return 0;
}

static void check_ok(const head_ok_t *t, const parsed_t *p)
{
    h1_resp_framing_t f;

    assert_int_equal(p->h.minor, t->minor);
    assert_int_equal(p->h.status, t->status);
    assert_true(slice_is(p->h.reason, t->reason));
    assert_int_equal(p->h.nfields, t->nfields);
    if (t->nfields) {
        assert_true(slice_is(p->h.fields[0].name, t->f0name));
        assert_true(slice_is(p->h.fields[0].value, t->f0value));
    }
    assert_int_equal(h1_resp_framing(&p->h, t->head_request, &f), LOOM_OK);
    assert_int_equal(f.body, t->body);
    assert_int_equal(f.content_length, t->cl);
    assert_int_equal(f.keep_alive, t->keep_alive);
    assert_int_equal(f.interim, t->interim);
    assert_int_equal(f.upgrade, t->upgrade);
}

static void test_heads_valid(void **state)
{
    size_t i, k;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(heads_ok); i++) {
        const head_ok_t *t = &heads_ok[i];
        size_t len = t->len ? t->len : strlen(t->raw);
        size_t hl = head_len(t->raw, len);
        parsed_t p;
        int r;

        print_message("valid: %s\n", t->name);
        r = parse_copy(t->raw, len, 0, MAX_HEAD, &p);
        assert_int_equal(r, (int)hl);
        check_ok(t, &p);
        /* every prefix is partial; resuming from it gives the same head */
        for (k = 0; k < hl; k++) {
            assert_int_equal(parse_copy(t->raw, k, 0, MAX_HEAD, &p),
                             H1_PARTIAL);
            r = parse_copy(t->raw, len, k, MAX_HEAD, &p);
            assert_int_equal(r, (int)hl);
            check_ok(t, &p);
        }
        /* byte by byte, resuming each time */
        for (k = 1; k <= len; k++) {
            r = parse_copy(t->raw, k, k - 1, MAX_HEAD, &p);
            if (k < hl) {
                assert_int_equal(r, H1_PARTIAL);
            } else {
                assert_int_equal(r, (int)hl);
                check_ok(t, &p);
                break;
            }
        }
    }
}

/* ---- invalid heads ------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *raw;
    size_t len;
    int framing; /* the head parses; h1_resp_framing refuses it */
    int head_request;
} head_bad_t;

static const head_bad_t heads_bad[] = {
    {"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", 0, 0, 0},
    {"HTTP/2", "HTTP/2 200\r\n\r\n", 0, 0, 0},
    {"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 0, 0, 0},
    {"lowercase version", "http/1.1 200 OK\r\n\r\n", 0, 0, 0},
    {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 0, 0, 0},
    {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 0, 0, 0},
    {"status 099", "HTTP/1.1 099 Hm\r\n\r\n", 0, 0, 0},
    {"status with letter", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, 0},
    {"two spaces", "HTTP/1.1  200 OK\r\n\r\n", 0, 0, 0},
    {"tab separator", "HTTP/1.1\t200 OK\r\n\r\n", 0, 0, 0},
    {"no status", "HTTP/1.1\r\n\r\n", 0, 0, 0},
    {"empty head", "\r\n\r\n", 0, 0, 0},
    {"empty lines first", "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, 0, 0},
    {"bare CR in status line", "HTTP/1.1 200 O\rK\r\n\r\n", 0, 0, 0},
    {"bare CR ends status line", "HTTP/1.1 200 OK\r\rX: y\r\n\r\n", 0, 0, 0},
    {"bare CR in value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 0, 0, 0},
    {"CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, 0, 0},
    {"NUL in reason", S_RAW("HTTP/1.1 200 O\0K\r\n\r\n"), 0, 0},
    {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 0, 0, 0},
    {"space before colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", 0, 0, 0},
    {"empty name", "HTTP/1.1 200 OK\r\n: a\r\n\r\n", 0, 0, 0},
    {"space in name", "HTTP/1.1 200 OK\r\nX Y: a\r\n\r\n", 0, 0, 0},
    {"no colon", "HTTP/1.1 200 OK\r\nXY\r\n\r\n", 0, 0, 0},
    {"CTL in value", "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", 0, 0, 0},
    {"DEL in value", "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", 0, 0, 0},
    {"NUL in value", S_RAW("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"), 0, 0},
    {"too many fields",
     "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n"
     "G: 7\r\nH: 8\r\nI: 9\r\n\r\n",
     0, 0, 0},
    {"length not digits", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", 0,
     1, 0},
    {"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 1,
     0},
    {"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", 0, 1, 0},
    {"empty length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", 0, 1, 0},
    {"length with inner space",
     "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", 0, 1, 0},
    {"length overflow",
     "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", 0, 1, 0},
    {"differing lengths in a list",
     "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 0, 1, 0},
    {"differing length fields",
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, 1,
     0},
    {"chunked and length",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: "
     "5\r\n\r\n",
     0, 1, 0},
    {"chunked and length, HEAD",
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     0, 1, 1},
    {"gzip, chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 1, 0},
    {"chunked, chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     0, 1, 0},
    {"identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", 0, 1,
     0},
    {"empty coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", 0, 1, 0},
    {"chunked in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     0, 1, 0},
    {"chunked with params",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 0, 1, 0},
    {"bad length on 204", "HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n", 0, 1,
     0},
};

static void test_heads_invalid(void **state)
{
    size_t i, k;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(heads_bad); i++) {
        const head_bad_t *t = &heads_bad[i];
        size_t len = t->len ? t->len : strlen(t->raw);
        parsed_t p;
        int r;

        print_message("invalid: %s\n", t->name);
        r = parse_copy(t->raw, len, 0, MAX_HEAD, &p);
        if (t->framing) {
            h1_resp_framing_t f;

            assert_int_equal(r, (int)len);
            assert_int_equal(h1_resp_framing(&p.h, t->head_request, &f),
                             H1_ERROR);
            continue;
        }
        assert_int_equal(r, H1_ERROR);
        for (k = 0; k < len; k++) {
            /* a prefix waits or fails; resuming from it fails */
            r = parse_copy(t->raw, k, 0, MAX_HEAD, &p);
            assert_true(r == H1_PARTIAL || r == H1_ERROR);
            if (r == H1_PARTIAL)
                assert_int_equal(parse_copy(t->raw, len, k, MAX_HEAD, &p),
                                 H1_ERROR);
        }
    }
}

static void test_head_limits(void **state)
{
    char buf[600];
    parsed_t p;
    size_t n;

    (void)state;
    /* a head of exactly MAX bytes passes, one more fails */
    n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nX: ");
    while (n < 100 - 4)
        buf[n++] = 'a';
    memcpy(buf + n, "\r\n\r\n", 4);
    n += 4;
    assert_int_equal(n, 100);
    assert_int_equal(parse_copy(buf, n, 0, 100, &p), 100);
    assert_int_equal(parse_copy(buf, n, 0, 99, &p), H1_ERROR);
    /* while partial: fails only once more than MAX bytes are waiting */
    assert_int_equal(parse_copy(buf, 99, 0, 99, &p), H1_PARTIAL);
    assert_int_equal(parse_copy(buf, 99, 50, 98, &p), H1_ERROR);
    /* resuming from a LAST_LEN beyond LEN is harmless */
    assert_int_equal(parse_copy(buf, n, n + 10, 100, &p), 100);
}

/* ---- bodies ---------------------------------------------------------------
 */

typedef struct {
    const char *name;
    const char *head; /* the response head giving the framing */
    const char *raw;  /* bytes after it */
    size_t len;       /* 0: strlen(raw) */
    const char *body; /* the body they carry */
    size_t used;      /* bytes of RAW consumed once done (0: all) */
    int done;         /* complete without the connection closing */
    int eof_ok;       /* a close after RAW completes / is fine */
} body_t;

static const body_t bodies[] = {
    {"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "hello", 0,
     "hello", 0, 1, 1},
    {"length, bytes after", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
     "helloHTTP/1.1", 0, "hello", 5, 1, 1},
    {"length, short", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "hello",
     0, "hello", 0, 0, 0},
    {"zero length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", 0, "",
     0, 1, 1},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n", 0, "hello world", 0,
     1, 1},
    {"chunked, bytes after",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     "2\r\nhi\r\n0\r\n\r\nXYZ", 0, "hi", 12, 1, 1},
    {"chunked, cut", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     "5\r\nhel", 0, "hel", 0, 0, 0},
    {"close-delimited", "HTTP/1.0 200 OK\r\n\r\n", "all of it\r\n\r\n", 0,
     "all of it\r\n\r\n", 0, 0, 1},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", "", 0, "", 0, 1, 1},
};

/* Read RAW in pieces of STEP; collect the body into OUT. */
static size_t read_body(const body_t *t, size_t len, size_t step, char *out,
                        size_t *olen, h1_resp_body_t *b)
{
    h1_resp_framing_t f;
    parsed_t p;
    size_t pos = 0;

    assert_true(parse_copy(t->head, strlen(t->head), 0, MAX_HEAD, &p) > 0);
    assert_int_equal(h1_resp_framing(&p.h, 0, &f), LOOM_OK);
    h1_resp_body_init(b, &f);
    *olen = 0;
    while (pos < len && !b->done) {
        size_t end = pos + step < len ? pos + step : len;

        while (pos < end && !b->done) {
            loom_slice_t d;
            long n = h1_resp_body_read(b, t->raw + pos, end - pos, &d);

            assert_true(n > 0 && (size_t)n <= end - pos);
            assert_true(d.len <= (size_t)n);
            if (d.len)
                assert_true(d.p >= t->raw + pos &&
                            d.p + d.len <= t->raw + pos + n);
            memcpy(out + *olen, d.p, d.len);
            *olen += d.len;
            pos += (size_t)n;
        }
    }
    return pos;
}

static void test_bodies(void **state)
{
    size_t i, step;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(bodies); i++) {
        const body_t *t = &bodies[i];
        size_t len = t->len ? t->len : strlen(t->raw);

        print_message("body: %s\n", t->name);
        for (step = 1; step <= (len ? len : 1); step++) {
            h1_resp_body_t b;
            char out[256];
            size_t olen, used = read_body(t, len, step, out, &olen, &b);

            assert_int_equal(used, t->used ? t->used : len);
            assert_int_equal(olen, strlen(t->body));
            assert_memory_equal(out, t->body, olen);
            assert_int_equal(b.done, t->done);
            assert_int_equal(h1_resp_body_eof(&b) == LOOM_OK, t->eof_ok);
            if (t->eof_ok)
                assert_true(b.done);
        }
    }
}

static void test_body_errors(void **state)
{
    static const char *const bad[] = {"x\r\n", "5\r\nhelloXX", "5\nhello\r\n",
                                      "0\r\nbad trailer\r\n\r\n"};
    h1_resp_framing_t f;
    h1_resp_body_t b;
    parsed_t p;
    size_t i;

    (void)state;
    assert_true(parse_copy("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n",
                           47, 0, MAX_HEAD, &p) == 47);
    assert_int_equal(h1_resp_framing(&p.h, 0, &f), LOOM_OK);
    for (i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        size_t pos = 0, len = strlen(bad[i]);
        long n = 0;

        h1_resp_body_init(&b, &f);
        while (pos < len) {
            loom_slice_t d;

            n = h1_resp_body_read(&b, bad[i] + pos, len - pos, &d);
            if (n <= 0)
                break;
            pos += (size_t)n;
        }
        assert_int_equal(n, H1_ERROR);
    }
    /* nothing is read once done, nor from an empty buffer */
    h1_resp_body_init(&b, &f);
    {
        loom_slice_t d;

        assert_int_equal(h1_resp_body_read(&b, "", 0, &d), 0);
        assert_int_equal(h1_resp_body_read(&b, "0\r\n\r\nX", 6, &d), 5);
        assert_true(b.done);
        assert_int_equal(h1_resp_body_read(&b, "X", 1, &d), 0);
        assert_int_equal(d.len, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads_valid),
        cmocka_unit_test(test_heads_invalid),
        cmocka_unit_test(test_head_limits),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_body_errors),
    };

    return cmocka_run_group_tests_name("h1_resp", tests, NULL, NULL);
}

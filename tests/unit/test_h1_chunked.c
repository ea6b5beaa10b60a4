/*
 * test_h1_chunked.c - the chunked-body decoder of the HTTP/1.1 parser
 * (protocols/http/h1_parse.h): tables of valid and invalid bodies, each
 * decoded whole, byte by byte and cut in two at every point; the size-line
 * and trailer limits; one data slice per call.  The request-head and
 * framing tests are in test_h1_parse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1_parse.h"

#define S_RAW(lit) .raw = lit, .len = sizeof(lit) - 1

/* ---- chunked ------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *raw;
    size_t len; /* 0: strlen(raw) */
    const char *data;
    size_t used; /* bytes of RAW that belong to the body (0: all) */
    size_t dlen; /* 0: strlen(data) */
} chunked_ok_t;

static const chunked_ok_t chunked_ok[] = {
    {.name = "one chunk", .raw = "5\r\nhello\r\n0\r\n\r\n", .data = "hello"},
    {.name = "two chunks",
     .raw = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     .data = "hello world"},
    {.name = "empty body", .raw = "0\r\n\r\n", .data = ""},
    {.name = "leading zeros",
     .raw = "0005\r\nhello\r\n000\r\n\r\n",
     .data = "hello"},
    {.name = "16 digits",
     .raw = "0000000000000005\r\nhello\r\n0000000000000000\r\n\r\n",
     .data = "hello"},
    {.name = "hex upper",
     .raw = "A\r\n0123456789\r\n0\r\n\r\n",
     .data = "0123456789"},
    {.name = "hex lower",
     .raw = "a\r\n0123456789\r\n0\r\n\r\n",
     .data = "0123456789"},
    {.name = "hex 1f",
     .raw = "1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n",
     .data = "0123456789012345678901234567890"},
    {.name = "data holding CRLFs",
     .raw = "4\r\n\r\n\r\n\r\n0\r\n\r\n",
     .data = "\r\n\r\n"},
    {.name = "data holding size lines",
     .raw = "7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n",
     .data = "0\r\n\r\n\r\n"},
    {.name = "binary data",
     S_RAW("3\r\n\0\xff\n\r\n0\r\n\r\n"),
     .data = "\0\xff\n",
     .dlen = 3},
    {.name = "ext name", .raw = "5;a\r\nhello\r\n0\r\n\r\n", .data = "hello"},
    {.name = "ext name=token",
     .raw = "5;a=b\r\nhello\r\n0;x=y\r\n\r\n",
     .data = "hello"},
    {.name = "ext BWS before ;",
     .raw = "5 ;a=b\r\nhello\r\n0\t;z\r\n\r\n",
     .data = "hello"},
    {.name = "ext BWS everywhere",
     .raw = "5 \t; a = b ;c ;\td\t=\te\r\nhello\r\n0\r\n\r\n",
     .data = "hello"},
    {.name = "ext quoted",
     .raw = "5;a=\"q \\\"x;y\\\\ \"\r\nhello\r\n0\r\n\r\n",
     .data = "hello"},
    {.name = "ext quoted empty",
     .raw = "5;a=\"\";b=\"\xe9\"\r\nhello\r\n0\r\n\r\n",
     .data = "hello"},
    {.name = "ext quoted then BWS",
     .raw = "5;a=\"x\" ;b\r\nhello\r\n0\r\n\r\n",
     .data = "hello"},
    {.name = "ext tchars",
     .raw = "5;!#$%&'*+-.^_`|~09=!#$%&'*+-.^_`|~09\r\nhello\r\n"
            "0\r\n\r\n",
     .data = "hello"},
    {.name = "trailers",
     .raw = "5\r\nhello\r\n0\r\nX-T: v\r\nY:\r\nZ: a\tb \x80\r\n\r\n",
     .data = "hello"},
    {.name = "next request after",
     .raw = "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
     .data = "hello",
     .used = 15},
    {.name = "next body after",
     .raw = "0\r\n\r\n0\r\n\r\n",
     .data = "",
     .used = 5},
    {.name = "one byte chunks",
     .raw = "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n",
     .data = "abc"},
};

typedef struct {
    const char *name;
    const char *raw;
    size_t len;
} chunked_bad_t;

static const chunked_bad_t chunked_bad[] = {
    {.name = "size 0x1a",
     .raw = "0x1a\r\n0123456789abcdef0123456789\r\n0\r\n\r\n"},
    {.name = "size +5", .raw = "+5\r\nhello\r\n0\r\n\r\n"},
    {.name = "size -5", .raw = "-5\r\nhello\r\n0\r\n\r\n"},
    {.name = "size empty", .raw = "\r\nhello\r\n0\r\n\r\n"},
    {.name = "size space", .raw = " 5\r\nhello\r\n0\r\n\r\n"},
    {.name = "size g", .raw = "g\r\nhello\r\n0\r\n\r\n"},
    {.name = "size 5 5", .raw = "5 5\r\nhello\r\n0\r\n\r\n"},
    {.name = "size 17 digits",
     .raw = "00000000000000005\r\nhello\r\n0\r\n\r\n"},
    {.name = "size 2^63", .raw = "8000000000000000\r\n"},
    {.name = "size 2^64 - 1", .raw = "FFFFFFFFFFFFFFFF\r\n"},
    {.name = "size overflow",
     .raw = "1000000000000000000000005\r\nhello\r\n0\r\n\r\n"},
    {.name = "size then SP", .raw = "5 \r\nhello\r\n0\r\n\r\n"},
    {.name = "size bare LF", .raw = "5\nhello\r\n0\r\n\r\n"},
    {.name = "size bare CR", .raw = "5\rhello\r\n0\r\n\r\n"},
    {.name = "size CR CR LF", .raw = "5\r\r\nhello\r\n0\r\n\r\n"},
    {.name = "last size bare LF", .raw = "5\r\nhello\r\n0\n\r\n"},
    {.name = "ext bare LF", .raw = "5;a\nhello\r\n0\r\n\r\n"},
    {.name = "ext value bare LF", .raw = "5;a=b\nhello\r\n0\r\n\r\n"},
    {.name = "ext bare CR", .raw = "5;a\rhello\r\n0\r\n\r\n"},
    {.name = "ext without name", .raw = "5;=x\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext empty", .raw = "5;\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext empty value", .raw = "5;a=\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext value not a token", .raw = "5;a=b/c\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext name not a token", .raw = "5;a/b\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext two values", .raw = "5;a=b=c\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext quote unterminated", .raw = "5;a=\"x\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext quote then token", .raw = "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext quote with CTL",
     .raw = "5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext quote escaping CTL",
     .raw = "5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n"},
    {.name = "ext trailing BWS", .raw = "5;a \r\nhello\r\n0\r\n\r\n"},
    {.name = "ext value trailing BWS", .raw = "5;a=b \r\nhello\r\n0\r\n\r\n"},
    {.name = "ext NUL", S_RAW("5;a\0\r\nhello\r\n0\r\n\r\n")},
    {.name = "data without CRLF", .raw = "5\r\nhelloXX\r\n0\r\n\r\n"},
    {.name = "data then XX", .raw = "5\r\nhelloXX"},
    {.name = "data then bare LF", .raw = "5\r\nhello\n0\r\n\r\n"},
    {.name = "data then bare CR", .raw = "5\r\nhello\r0\r\n\r\n"},
    {.name = "data too short", .raw = "5\r\nhell\r\n0\r\n\r\n"},
    {.name = "data too long", .raw = "5\r\nhello!\r\n0\r\n\r\n"},
    {.name = "trailer obs-fold", .raw = "0\r\nX: a\r\n b\r\n\r\n"},
    {.name = "trailer indented", .raw = "0\r\n X: a\r\n\r\n"},
    {.name = "trailer space before colon", .raw = "0\r\nX : a\r\n\r\n"},
    {.name = "trailer without colon", .raw = "0\r\nX\r\n\r\n"},
    {.name = "trailer empty name", .raw = "0\r\n: a\r\n\r\n"},
    {.name = "trailer name not a token", .raw = "0\r\nX(: a\r\n\r\n"},
    {.name = "trailer CTL in value", .raw = "0\r\nX: a\x01\r\n\r\n"},
    {.name = "trailer DEL in value", .raw = "0\r\nX: a\x7f\r\n\r\n"},
    {.name = "trailer NUL in value", S_RAW("0\r\nX: a\0\r\n\r\n")},
    {.name = "trailer bare CR", .raw = "0\r\nX: a\rb\r\n\r\n"},
    {.name = "trailer bare LF", .raw = "0\r\nX: a\n\r\n"},
    {.name = "final bare LF", .raw = "0\r\n\n"},
    {.name = "final bare CR", .raw = "0\r\n\rX"},
    {.name = "final CR CR", .raw = "0\r\n\r\r\n"},
};

/* Decode RAW[0..LEN) handed over in the pieces that end at CUTS[0..N) (the
 * last must be LEN), each copied to an exact-size buffer.  Within a piece
 * the decoder is called until it consumes all of it, stops consuming or is
 * done.  Appends the data to OUT (*OUTLEN).  Returns the bytes consumed when
 * the body ended, -1 on H1_ERROR, -2 when it never ended.  Fails the test
 * when a call breaks the contract. */
static long decode_pieces(const char *raw, size_t len, const size_t *cuts,
                          size_t n, char *out, size_t *outlen)
{
    h1_chunked_t d;
    size_t pos = 0, i;

    h1_chunked_init(&d);
    assert_int_equal(d.done, 0);
    *outlen = 0;
    for (i = 0; i < n && !d.done; i++) {
        size_t plen = cuts[i] - pos;
        char *piece = malloc(plen ? plen : 1);
        size_t off = 0;

        assert_non_null(piece);
        memcpy(piece, raw + pos, plen);
        while (off < plen && !d.done) {
            loom_slice_t data = {NULL, 0};
            long r = h1_chunked_decode(&d, piece + off, plen - off, &data);

            if (r == H1_ERROR) {
                /* and it stays failed */
                assert_int_equal(h1_chunked_decode(&d, "0\r\n\r\n", 5, &data),
                                 H1_ERROR);
                free(piece);
                return -1;
            }
            assert_true(r > 0 && (size_t)r <= plen - off);
            assert_true(data.len <= (size_t)r);
            if (data.len) {
                assert_true(data.p >= piece + off &&
                            data.p + data.len <= piece + off + r);
                memcpy(out + *outlen, data.p, data.len);
                *outlen += data.len;
            }
            off += (size_t)r;
        }
        pos += off;
        free(piece);
        if (d.done) {
            loom_slice_t data;

            assert_int_equal(h1_chunked_decode(&d, "x", 1, &data), 0);
            assert_int_equal(data.len, 0);
            return (long)pos;
        }
    }
    return -2;
}

static void test_chunked_valid(void **state)
{
    size_t i, k;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(chunked_ok); i++) {
        const chunked_ok_t *t = &chunked_ok[i];
        size_t len = t->len ? t->len : strlen(t->raw);
        size_t used = t->used ? t->used : len, dlen = 0, want_dlen;
        char *out = malloc(len + 1);
        size_t *cuts = malloc((len + 1) * sizeof(*cuts));
        long r;

        assert_non_null(out);
        assert_non_null(cuts);
        want_dlen = t->dlen ? t->dlen : strlen(t->data);
        /* whole, byte by byte, then cut in two at every point */
        cuts[0] = len;
        r = decode_pieces(t->raw, len, cuts, 1, out, &dlen);
        if (r != (long)used || dlen != want_dlen ||
            memcmp(out, t->data, dlen) != 0) {
            print_message("# FAIL %s: whole: %ld bytes, %zu data\n", t->name, r,
                          dlen);
            failed++;
        }
        for (k = 0; k < len; k++)
            cuts[k] = k + 1;
        r = decode_pieces(t->raw, len, cuts, len, out, &dlen);
        if (r != (long)used || dlen != want_dlen ||
            memcmp(out, t->data, dlen) != 0) {
            print_message("# FAIL %s: bytewise: %ld bytes, %zu data\n", t->name,
                          r, dlen);
            failed++;
        }
        for (k = 1; k < len; k++) {
            cuts[0] = k;
            cuts[1] = len;
            r = decode_pieces(t->raw, len, cuts, 2, out, &dlen);
            if (r != (long)used || dlen != want_dlen ||
                memcmp(out, t->data, dlen) != 0) {
                print_message("# FAIL %s: cut at %zu: %ld bytes, %zu data\n",
                              t->name, k, r, dlen);
                failed++;
                break;
            }
        }
        free(out);
        free(cuts);
    }
    print_message("# %zu valid bodies, %d failed\n", LOOM_ARRAY_LEN(chunked_ok),
                  failed);
    assert_int_equal(failed, 0);
}

static void test_chunked_invalid(void **state)
{
    size_t i, k;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(chunked_bad); i++) {
        const chunked_bad_t *t = &chunked_bad[i];
        size_t len = t->len ? t->len : strlen(t->raw), dlen;
        char *out = malloc(len + 1);
        size_t *cuts = malloc((len + 1) * sizeof(*cuts));
        long r;

        assert_non_null(out);
        assert_non_null(cuts);
        cuts[0] = len;
        r = decode_pieces(t->raw, len, cuts, 1, out, &dlen);
        if (r != -1) {
            print_message("# FAIL %s: whole: %ld\n", t->name, r);
            failed++;
        }
        for (k = 0; k < len; k++)
            cuts[k] = k + 1;
        r = decode_pieces(t->raw, len, cuts, len, out, &dlen);
        if (r != -1) {
            print_message("# FAIL %s: bytewise: %ld\n", t->name, r);
            failed++;
        }
        for (k = 1; k < len; k++) {
            cuts[0] = k;
            cuts[1] = len;
            r = decode_pieces(t->raw, len, cuts, 2, out, &dlen);
            if (r != -1) {
                print_message("# FAIL %s: cut at %zu: %ld\n", t->name, k, r);
                failed++;
                break;
            }
        }
        free(out);
        free(cuts);
    }
    print_message("# %zu invalid bodies, %d failed\n",
                  LOOM_ARRAY_LEN(chunked_bad), failed);
    assert_int_equal(failed, 0);
}

/* The size and length limits of the chunked coding, at their boundaries. */
static void test_chunked_limits(void **state)
{
    h1_chunked_t d;
    loom_slice_t data;
    char *buf = malloc(H1_TRAILER_MAX + 64);
    size_t n;

    (void)state;
    assert_non_null(buf);
    /* the largest size: 2^63 - 1 */
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, "7fffffffffffffff\r\nab", 20, &data),
                     20);
    assert_int_equal(d.remain, (uint64_t)INT64_MAX - 2);
    assert_true(data.len == 2 && memcmp(data.p, "ab", 2) == 0);
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, "7FFFFFFFFFFFFFFF;a=b", 20, &data),
                     20);
    assert_int_equal(d.remain, (uint64_t)INT64_MAX);

    /* a size line of exactly H1_CHUNK_LINE_MAX bytes, then one more */
    buf[0] = '5';
    buf[1] = ';';
    memset(buf + 2, 'x', H1_CHUNK_LINE_MAX - 2);
    memcpy(buf + H1_CHUNK_LINE_MAX, "\r\nhello\r\n0\r\n\r\n", 14);
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, buf, H1_CHUNK_LINE_MAX + 14, &data),
                     H1_CHUNK_LINE_MAX + 7);
    assert_true(data.len == 5 && memcmp(data.p, "hello", 5) == 0);
    assert_int_equal(
        h1_chunked_decode(&d, buf + H1_CHUNK_LINE_MAX + 7, 7, &data), 7);
    assert_int_equal(d.done, 1);
    memset(buf + 2, 'x', H1_CHUNK_LINE_MAX - 1);
    memcpy(buf + H1_CHUNK_LINE_MAX + 1, "\r\nhello\r\n0\r\n\r\n", 14);
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, buf, H1_CHUNK_LINE_MAX + 15, &data),
                     H1_ERROR);
    /* ... and the limit holds across calls too */
    h1_chunked_init(&d);
    for (n = 0; n < H1_CHUNK_LINE_MAX; n++)
        assert_int_equal(h1_chunked_decode(&d, buf + n, 1, &data), 1);
    assert_int_equal(h1_chunked_decode(&d, buf + n, 1, &data), H1_ERROR);

    /* a trailer section of exactly H1_TRAILER_MAX bytes, then one more:
     * "X: aaa...\r\n" + "\r\n" */
    memcpy(buf, "0\r\nX: ", 6);
    memset(buf + 6, 'a', H1_TRAILER_MAX - 7);
    memcpy(buf + 3 + H1_TRAILER_MAX - 4, "\r\n\r\n", 4);
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, buf, 3 + H1_TRAILER_MAX, &data),
                     3 + H1_TRAILER_MAX);
    assert_int_equal(d.done, 1);
    memset(buf + 6, 'a', H1_TRAILER_MAX - 6);
    memcpy(buf + 3 + H1_TRAILER_MAX - 3, "\r\n\r\n", 4);
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, buf, 4 + H1_TRAILER_MAX, &data),
                     H1_ERROR);

    /* nothing consumed for nothing */
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, "", 0, &data), 0);
    assert_int_equal(data.len, 0);
    free(buf);
}

/* Large chunk data is handed over in one slice per call, as far as the
 * buffer goes. */
static void test_chunked_data_slices(void **state)
{
    static const char body[] = "10\r\n0123456789abcdef\r\n0\r\n\r\n";
    h1_chunked_t d;
    loom_slice_t data;

    (void)state;
    h1_chunked_init(&d);
    assert_int_equal(h1_chunked_decode(&d, body, 10, &data), 10);
    assert_true(data.p == body + 4 && data.len == 6);
    assert_int_equal(d.remain, 10);
    assert_int_equal(h1_chunked_decode(&d, body + 10, sizeof(body) - 11, &data),
                     10);
    assert_true(data.p == body + 10 && data.len == 10);
    assert_int_equal(h1_chunked_decode(&d, body + 20, sizeof(body) - 21, &data),
                     sizeof(body) - 21);
    assert_int_equal(data.len, 0);
    assert_int_equal(d.done, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_valid),
        cmocka_unit_test(test_chunked_invalid),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_chunked_data_slices),
    };

    return cmocka_run_group_tests_name("h1_chunked", tests, NULL, NULL);
}

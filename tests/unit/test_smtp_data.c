/*
 * test_smtp_data.c - the DATA decoder (smtp_data.h): dot-stuffing, the
 * only end CRLF "." CRLF, every smuggling variant of issue 16 (bare LF,
 * bare CR, NUL around the dot) fed whole, split at every byte and byte by
 * byte with the same result, line and size limits, pipelined bytes after
 * the end, the refusal replies; and the BDAT chunk counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_data.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What decoding one input gives. */
typedef struct {
    char out[8192];
    size_t out_len;
    unsigned flags;
    int done;
    uint64_t size, consumed;
} result_t;

static void sink(void *ctx, const char *p, size_t n)
{
    result_t *r = ctx;

    assert_true(n > 0);
    assert_true(r->out_len + n <= sizeof(r->out));
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

/* Decode IN[0..LEN) in pieces: cut after each offset in CUTS (ascending,
 * NCUTS of them); STEP > 0 feeds STEP bytes at a time instead.  Stops
 * feeding once done, as a session would. */
static void decode(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                   size_t step, size_t max_line, uint64_t max_size, result_t *r)
{
    smtp_data_t d;
    size_t pos = 0, c = 0;

    memset(r, 0, sizeof(*r));
    smtp_data_init(&d, max_line, max_size);
    while (pos < len && !d.done) {
        size_t end = len, used;

        if (step > 0)
            end = pos + step < len ? pos + step : len;
        else if (c < ncuts)
            end = cuts[c++];
        used = smtp_data_feed(&d, in + pos, end - pos, sink, r);
        assert_true(used <= end - pos);
        if (!d.done)
            assert_int_equal(used, end - pos);
        pos += used;
    }
    /* after the end nothing more is taken */
    if (d.done && pos < len)
        assert_int_equal(smtp_data_feed(&d, in + pos, len - pos, sink, r), 0);
    r->flags = d.flags;
    r->done = d.done;
    r->size = d.size;
    r->consumed = d.consumed;
    assert_int_equal(r->consumed, pos);
}

static void assert_same(const result_t *a, const result_t *b)
{
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->consumed, b->consumed);
    /* message bytes are defined for an accepted message only */
    if (a->flags == 0) {
        assert_int_equal(a->out_len, b->out_len);
        assert_memory_equal(a->out, b->out, a->out_len);
    }
}

/* Fed whole, split in two at every offset, in three around every pair of
 * near offsets, and byte by byte: the same result every time. */
static void check_splits(const char *in, size_t len, size_t max_line,
                         uint64_t max_size, result_t *whole)
{
    result_t r;
    size_t i, j;

    decode(in, len, NULL, 0, 0, max_line, max_size, whole);
    for (i = 0; i <= len; i++) {
        size_t cut[1] = {i};

        decode(in, len, cut, 1, 0, max_line, max_size, &r);
        assert_same(whole, &r);
        for (j = i; j <= len && j < i + 4; j++) {
            size_t cuts[2] = {i, j};

            decode(in, len, cuts, 2, 0, max_line, max_size, &r);
            assert_same(whole, &r);
        }
    }
    decode(in, len, NULL, 0, 1, max_line, max_size, &r);
    assert_same(whole, &r);
}

typedef struct {
    const char *name;
    const char *in;
    size_t len;      /* 0: strlen(in) */
    const char *out; /* expected message when accepted (flags == 0) */
    size_t out_len;
    unsigned flags; /* expected SMTP_DATA_* */
    int done;       /* expected end reached */
    size_t left;    /* expected bytes left after the end */
} data_case_t;

#define S(x) x, sizeof(x) - 1

static const data_case_t cases[] = {
    {"empty message", S(".\r\n"), "", 0, 0, 1, 0},
    {"one empty line", S("\r\n.\r\n"), S("\r\n"), 0, 1, 0},
    {"simple", S("Subject: x\r\n\r\nhi\r\n.\r\n"),
     S("Subject: x\r\n\r\nhi\r\n"), 0, 1, 0},
    {"dot-stuffed", S("..a\r\n..\r\n...\r\n.\r\n"), S(".a\r\n.\r\n..\r\n"), 0,
     1, 0},
    {"dot then text", S(".a\r\n.\r\n"), S("a\r\n"), 0, 1, 0},
    {"dot inside a line", S("a.\r\na.b\r\n.\r\n"), S("a.\r\na.b\r\n"), 0, 1, 0},
    {"pipelined after the end", S("a\r\n.\r\nQUIT\r\n"), S("a\r\n"), 0, 1, 6},
    {"not ended", S("a\r\nb\r\n"), S("a\r\nb\r\n"), 0, 0, 0},
    {"not ended: dot CR", S("a\r\n.\r"), S("a\r\n"), 0, 0, 0},
    {"NUL is data", S("a\0b\r\n\0\r\n.\r\n"), S("a\0b\r\n\0\r\n"), 0, 1, 0},
    {"NUL before the dot", S("a\r\n\0.\r\nb\r\n.\r\n"), S("a\r\n\0.\r\nb\r\n"),
     0, 1, 0},
    {"NUL after the dot", S("a\r\n.\0\r\nb\r\n.\r\n"), S("a\r\n\0\r\nb\r\n"), 0,
     1, 0},
    {"bare LF", S("a\nb\r\n.\r\n"), NULL, 0, SMTP_DATA_BARE_LF, 1, 0},
    {"bare CR", S("a\rb\r\n.\r\n"), NULL, 0, SMTP_DATA_BARE_CR, 1, 0},
    {"CR CR LF", S("a\r\r\n.\r\n"), NULL, 0, SMTP_DATA_BARE_CR, 1, 0},
    {"LF first", S("\n.\r\n"), NULL, 0, SMTP_DATA_BARE_LF, 0, 0},
    {"dot LF at start", S(".\n"), NULL, 0, SMTP_DATA_BARE_LF, 0, 0},
    {"dot CR x at start", S(".\rx\r\n.\r\n"), NULL, 0, SMTP_DATA_BARE_CR, 1, 0},
};

static void test_cases(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const data_case_t *c = &cases[i];
        result_t r;

        print_message("# %s\n", c->name);
        check_splits(c->in, c->len, 0, 0, &r);
        assert_int_equal(r.flags, c->flags);
        assert_int_equal(r.done, c->done);
        assert_int_equal(r.consumed, c->len - c->left);
        if (c->flags == 0) {
            assert_int_equal(r.out_len, c->out_len);
            assert_memory_equal(r.out, c->out, c->out_len);
            assert_int_equal(r.size, c->out_len);
        }
    }
}

/* Issue 16's variants: none may end the first transaction.  Each sits
 * between a first message and a smuggled second transaction; the decoder
 * must run on to the one real CRLF "." CRLF at the very end. */
static const struct {
    const char *name;
    const char *seq;
    size_t len;
    unsigned flags;
} smuggle[] = {
    {"\\n.\\n", S("\n.\n"), SMTP_DATA_BARE_LF},
    {"\\n.\\r\\n", S("\n.\r\n"), SMTP_DATA_BARE_LF},
    {"\\r.\\r", S("\r.\r"), SMTP_DATA_BARE_CR},
    {"\\r.\\r\\n", S("\r.\r\n"), SMTP_DATA_BARE_CR},
    {"\\r\\n.\\r", S("\r\n.\r"), SMTP_DATA_BARE_CR},
    {"\\r\\n.\\n", S("\r\n.\n"), SMTP_DATA_BARE_LF},
    {"\\r.\\n", S("\r.\n"), SMTP_DATA_BARE_CR | SMTP_DATA_BARE_LF},
    {"\\n.\\r", S("\n.\r"), SMTP_DATA_BARE_LF | SMTP_DATA_BARE_CR},
    {"\\n\\n.\\n\\n", S("\n\n.\n\n"), SMTP_DATA_BARE_LF},
    {"\\r\\r.\\r\\r", S("\r\r.\r\r"), SMTP_DATA_BARE_CR},
    {"\\r\\n\\0.\\r\\n", S("\r\n\0.\r\n"), 0},
    {"\\r\\n.\\0\\r\\n", S("\r\n.\0\r\n"), 0},
    {"\\0\\r\\n.\\r\\n\\0 (NUL outside)", S("\r\n\0.\0\r\n"), 0},
    {"\\n\\0.\\0\\n", S("\n\0.\0\n"), SMTP_DATA_BARE_LF},
    {"\\r\\0.\\0\\r", S("\r\0.\0\r"), SMTP_DATA_BARE_CR},
    {"\\r\\n.\\r\\r\\n", S("\r\n.\r\r\n"), SMTP_DATA_BARE_CR},
    {"\\r\\n.\\n\\r\\n", S("\r\n.\n\r\n"), SMTP_DATA_BARE_LF},
    {"\\r\\n\\r.\\r\\n", S("\r\n\r.\r\n"), SMTP_DATA_BARE_CR},
    {"\\r\\n\\n.\\r\\n", S("\r\n\n.\r\n"), SMTP_DATA_BARE_LF},
    {"\\r\\n..\\r\\n (stuffed dot)", S("\r\n..\r\n"), 0},
};

static void test_smuggling(void **state)
{
    static const char head[] = "From: a@example.test\r\n\r\nfirst";
    static const char tail[] = "MAIL FROM:<evil@example.test>\r\n"
                               "RCPT TO:<victim@example.test>\r\n"
                               "DATA\r\n"
                               "From: ceo@example.test\r\n\r\nsmuggled\r\n";
    static const char end[] = ".\r\nQUIT\r\n";
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(smuggle); i++) {
        char in[512];
        size_t n = 0, total;
        result_t r;

        print_message("# smuggling %s\n", smuggle[i].name);
        memcpy(in + n, head, sizeof(head) - 1);
        n += sizeof(head) - 1;
        memcpy(in + n, smuggle[i].seq, smuggle[i].len);
        n += smuggle[i].len;
        memcpy(in + n, tail, sizeof(tail) - 1);
        n += sizeof(tail) - 1;
        memcpy(in + n, end, sizeof(end) - 1);
        total = n + sizeof(end) - 1;
        check_splits(in, total, 0, 0, &r);
        assert_true(r.done);
        /* consumed through the final ".\r\n", "QUIT\r\n" left over */
        assert_int_equal(r.consumed, n + 3);
        assert_int_equal(r.flags, smuggle[i].flags);
        if (r.flags == 0) {
            /* an accepted message holds the would-be second transaction */
            assert_non_null(memmem(r.out, r.out_len, "RCPT TO:<victim", 15));
        }
    }
}

static void test_line_limit(void **state)
{
    char in[1200];
    result_t r;
    size_t n;

    (void)state;
    /* 998 octets + CRLF = 1000: accepted */
    memset(in, 'x', 998);
    memcpy(in + 998, "\r\n.\r\n", 5);
    check_splits(in, 1003, 0, 0, &r);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.out_len, 1000);
    /* a stuffed dot does not count: "." + 998 octets */
    in[0] = '.';
    memset(in + 1, 'x', 998);
    memcpy(in + 999, "\r\n.\r\n", 5);
    check_splits(in, 1004, 0, 0, &r);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.out_len, 1000);
    /* 999 octets: refused, and still ends at the real end */
    memset(in, 'x', 999);
    memcpy(in + 999, "\r\n.\r\n", 5);
    check_splits(in, 1004, 0, 0, &r);
    assert_int_equal(r.flags, SMTP_DATA_LONG_LINE);
    assert_true(r.done);
    assert_int_equal(r.consumed, 1004);
    /* a smaller configured limit: 10 with CRLF */
    n = (size_t)snprintf(in, sizeof(in), "12345678\r\n123456789\r\n.\r\n");
    check_splits(in, n, 10, 0, &r);
    assert_int_equal(r.flags, SMTP_DATA_LONG_LINE);
    check_splits(in, 10 + 3, 10, 0, &r); /* "12345678\r\n123": fine */
    assert_false(r.done);
    assert_int_equal(r.flags, 0);
}

static void test_size_limit(void **state)
{
    static const char msg[] = "0123456789\r\n.\r\nNOOP\r\n";
    result_t r;

    (void)state;
    check_splits(msg, sizeof(msg) - 1, 0, 12, &r);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.size, 12);
    check_splits(msg, sizeof(msg) - 1, 0, 11, &r);
    assert_int_equal(r.flags, SMTP_DATA_TOO_BIG);
    assert_true(r.done);
    assert_int_equal(r.size, 12); /* counted on past the limit */
    assert_int_equal(r.consumed, 15);
}

static void test_stops_output_when_refused(void **state)
{
    static const char msg[] = "ok\r\nbad\nmore text\r\n.\r\n";
    result_t r;

    (void)state;
    decode(msg, sizeof(msg) - 1, NULL, 0, 0, 0, 0, &r);
    assert_int_equal(r.flags, SMTP_DATA_BARE_LF);
    assert_true(r.out_len < r.size);
    assert_null(memmem(r.out, r.out_len, "more", 4));
}

static void test_feed_buf(void **state)
{
    static const char msg[] = "..x\r\n.\r";
    smtp_data_t d;
    char out[64];
    size_t n, used;

    (void)state;
    smtp_data_init(&d, 0, 0);
    used = smtp_data_feed_buf(&d, msg, sizeof(msg) - 1, out, &n);
    assert_int_equal(used, sizeof(msg) - 1);
    assert_int_equal(n, 4);
    assert_memory_equal(out, ".x\r\n", 4);
    /* ".\r" then "y": the held CR comes out, one more byte than fed */
    used = smtp_data_feed_buf(&d, "y", 1, out, &n);
    assert_int_equal(used, 1);
    assert_int_equal(n, 0); /* bare CR: refused, nothing output */
    assert_int_equal(d.flags, SMTP_DATA_BARE_CR);

    smtp_data_init(&d, 0, 0);
    used = smtp_data_feed_buf(&d, "a\r", 2, out, &n);
    assert_int_equal(n, 1);
    used = smtp_data_feed_buf(&d, "\n", 1, out, &n);
    assert_int_equal(used, 1);
    assert_int_equal(n, 2); /* LEN + 1 */
    assert_memory_equal(out, "\r\n", 2);
    /* a NULL sink discards but still decodes */
    smtp_data_init(&d, 0, 0);
    assert_int_equal(smtp_data_feed(&d, "a\r\n.\r\nX", 7, NULL, NULL), 6);
    assert_true(d.done);
    assert_int_equal(d.size, 3);
}

static void test_result(void **state)
{
    static const struct {
        unsigned flags;
        int code;
        const char *enh;
        const char *needle;
    } exp[] = {
        {0, 0, "", ""},
        {SMTP_DATA_BARE_LF, 550, "5.5.2", "bare <LF>"},
        {SMTP_DATA_BARE_CR, 550, "5.5.2", "bare <CR>"},
        {SMTP_DATA_BARE_CR | SMTP_DATA_TOO_BIG, 550, "5.5.2", "bare <CR>"},
        {SMTP_DATA_TOO_BIG, 552, "5.3.4", "size exceeds"},
        {SMTP_DATA_TOO_BIG | SMTP_DATA_LONG_LINE, 552, "5.3.4", "size"},
        {SMTP_DATA_LONG_LINE, 554, "5.6.0", "line too long"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(exp); i++) {
        smtp_data_t d;
        smtp_reply_t r;

        smtp_data_init(&d, 0, 0);
        d.flags = exp[i].flags;
        memset(&r, 0, sizeof(r));
        if (exp[i].flags == 0) {
            assert_int_equal(smtp_data_result(&d, &r), 0);
            continue;
        }
        assert_int_equal(smtp_data_result(&d, &r), -1);
        assert_int_equal(r.code, exp[i].code);
        assert_string_equal(r.enh, exp[i].enh);
        assert_non_null(strstr(r.text, exp[i].needle));
    }
}

static void bdat_sink(void *ctx, const char *p, size_t n)
{
    result_t *r = ctx;

    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

static void test_bdat(void **state)
{
    static const char wire[] = "ab\n.\r\n\0cdBDAT 0 LAST\r\n";
    smtp_bdat_t b;
    result_t r;
    size_t i, used;

    (void)state;
    /* an exact 9-octet chunk, fed whole then byte by byte */
    memset(&r, 0, sizeof(r));
    smtp_bdat_init(&b, 0);
    smtp_bdat_chunk(&b, 9, 0);
    used = smtp_bdat_feed(&b, wire, sizeof(wire) - 1, bdat_sink, &r);
    assert_int_equal(used, 9);
    assert_int_equal(b.remaining, 0);
    assert_int_equal(r.out_len, 9);
    assert_memory_equal(r.out, "ab\n.\r\n\0cd", 9);
    assert_int_equal(smtp_bdat_feed(&b, wire + 9, 4, bdat_sink, &r), 0);

    memset(&r, 0, sizeof(r));
    smtp_bdat_init(&b, 0);
    smtp_bdat_chunk(&b, 9, 1);
    for (i = 0; i < sizeof(wire) - 1; i++)
        smtp_bdat_feed(&b, wire + i, 1, bdat_sink, &r);
    assert_int_equal(r.out_len, 9);
    assert_true(b.last);
    assert_int_equal(b.total, 9);

    /* several chunks against a limit: 5 + 5 fits 10, the next does not */
    memset(&r, 0, sizeof(r));
    smtp_bdat_init(&b, 10);
    smtp_bdat_chunk(&b, 5, 0);
    assert_int_equal(smtp_bdat_feed(&b, "12345xx", 7, bdat_sink, &r), 5);
    smtp_bdat_chunk(&b, 5, 0);
    assert_int_equal(smtp_bdat_feed(&b, "67890", 5, bdat_sink, &r), 5);
    assert_false(b.too_big);
    smtp_bdat_chunk(&b, 1, 1);
    assert_true(b.too_big);
    assert_int_equal(smtp_bdat_feed(&b, "!", 1, bdat_sink, &r), 1);
    assert_int_equal(r.out_len, 10); /* nothing output past the limit */
    assert_int_equal(b.total, 11);
    /* a zero chunk */
    smtp_bdat_init(&b, 0);
    smtp_bdat_chunk(&b, 0, 1);
    assert_int_equal(smtp_bdat_feed(&b, "QUIT", 4, NULL, NULL), 0);
    /* a huge declared size saturates instead of wrapping */
    smtp_bdat_init(&b, 100);
    smtp_bdat_chunk(&b, UINT64_MAX, 0);
    smtp_bdat_chunk(&b, 5, 0);
    assert_true(b.total == UINT64_MAX);
    assert_true(b.too_big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_stops_output_when_refused),
        cmocka_unit_test(test_feed_buf),
        cmocka_unit_test(test_result),
        cmocka_unit_test(test_bdat),
    };

    return cmocka_run_group_tests_name("smtp_data", tests, NULL, NULL);
}

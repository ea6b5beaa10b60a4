/*
 * test_dns_wire.c - DNS wire format (protocols/dns/dns_wire.h): name
 * length checks, presentation <-> wire round trips with escapes, name
 * comparison, a table of request byte strings and what dns_query_parse()
 * must make of each (EDNS fields included), and the packet writer: exact
 * bytes of compressed names, overflow, mark/rollback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns_wire.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names: dns_name_len ------------------------------------------------ */

/* A name of N bytes of wire form (2 <= N <= 300) made of labels of at most
 * 63 bytes, into BUF; returns N. */
static size_t long_name(uint8_t *buf, size_t n)
{
    size_t off = 0;

    while (off < n - 1) {
        size_t room = n - 1 - off - 1, l = room > 63 ? 63 : room;

        if (room - l == 1) /* never leave room for an empty label */
            l--;
        buf[off] = (uint8_t)l;
        memset(buf + off + 1, 'a', l);
        off += l + 1;
    }
    buf[off] = 0;
    return off + 1;
}

static void test_name_len(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;    /* bytes offered */
        size_t expect; /* 0: malformed */
    } cases[] = {
        {"\0", 1, 1},
        {"\3www\7example\4test\0", 18, 18},
        {"\3www\7example\4test\0trailing", 26, 18},
        {"\1a\0", 3, 3},
        {"\3www\7example\4test", 17, 0},   /* no root label */
        {"\3www\7example\4test\0", 17, 0}, /* root beyond LEN */
        {"\3ww", 3, 0},                    /* label runs past LEN */
        {"", 0, 0},                        /* nothing at all */
        {"\x40"
         "a\0",
         3, 0}, /* label type 01 (EDNS0 ext.) */
        {"\x80"
         "a\0",
         3, 0},                  /* label type 10 (reserved) */
        {"\xc0\x0c", 2, 0},      /* compression pointer */
        {"\3www\xc0\x0c", 6, 0}, /* pointer after a label */
    };
    uint8_t buf[320];
    size_t n;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        memset(buf, 0, sizeof(buf));
        memcpy(buf, cases[i].bytes, cases[i].len);
        if (dns_name_len(buf, cases[i].len) != cases[i].expect)
            fail_msg("case %zu: got %zu, expected %zu", i,
                     dns_name_len(buf, cases[i].len), cases[i].expect);
    }
    /* label of 63 is fine, 64 is not */
    buf[0] = 63;
    memset(buf + 1, 'x', 63);
    buf[64] = 0;
    assert_int_equal(dns_name_len(buf, 65), 65);
    buf[0] = 64;
    memset(buf + 1, 'x', 64);
    buf[65] = 0;
    assert_int_equal(dns_name_len(buf, 66), 0);
    /* 255 bytes is the limit, 256 is over */
    n = long_name(buf, 255);
    assert_int_equal(n, 255);
    assert_int_equal(dns_name_len(buf, sizeof(buf)), 255);
    n = long_name(buf, 256);
    assert_int_equal(n, 256);
    assert_int_equal(dns_name_len(buf, sizeof(buf)), 0);
    n = long_name(buf, 300);
    assert_int_equal(dns_name_len(buf, sizeof(buf)), 0);
}

/* ---- names: text form --------------------------------------------------- */

static void test_name_from_text(void **state)
{
    static const uint8_t origin[] = "\7example\4test";
    static const struct {
        const char *text;
        int with_origin;
        const char *wire; /* NULL: malformed */
        size_t wlen;
    } cases[] = {
        {".", 0, "\0", 1},
        {"example.test.", 0, "\7example\4test\0", 14},
        {"example.test", 0, "\7example\4test\0", 14},
        {"www", 1, "\3www\7example\4test\0", 18},
        {"www.", 1, "\3www\0", 5},
        {"@", 1, "\7example\4test\0", 14},
        {"a.b", 1, "\1a\1b\7example\4test\0", 18},
        {"WwW.Example.TEST.", 0, "\3WwW\7Example\4TEST\0", 18},
        {"a\\.b.test.", 0, "\3a.b\4test\0", 10},
        {"\\065b.test.", 0, "\2Ab\4test\0", 9},
        {"\\000.", 0, "\1\0\0", 3},
        {"\\255x.", 0, "\2\377x\0", 4},
        {"a\\\\b.", 0, "\3a\\b\0", 5},
        {"a\\ b.", 0, "\3a b\0", 5},
        {"*.wild", 1, "\1*\4wild\7example\4test\0", 21},
        {"", 0, NULL, 0},
        {"..", 0, NULL, 0},
        {"a..b.", 0, NULL, 0},
        {".a.", 0, NULL, 0},
        {"\\256.", 0, NULL, 0},
        {"\\25.", 0, NULL, 0},
        {"\\2x5.", 0, NULL, 0},
        {"abc\\", 0, NULL, 0},
    };
    uint8_t dst[DNS_NAME_MAX];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = dns_name_from_text(dst, cases[i].text,
                                      cases[i].with_origin ? origin : NULL);

        if (cases[i].wire == NULL) {
            if (n != 0)
                fail_msg("case %zu \"%s\": accepted (%zu bytes)", i,
                         cases[i].text, n);
            continue;
        }
        if (n != cases[i].wlen)
            fail_msg("case %zu \"%s\": length %zu, expected %zu", i,
                     cases[i].text, n, cases[i].wlen);
        assert_memory_equal(dst, cases[i].wire, n);
    }
}

static void test_name_from_text_limits(void **state)
{
    static const uint8_t origin[] = "\7example\4test"; /* 14 bytes */
    char text[600];
    uint8_t dst[DNS_NAME_MAX];
    size_t o = 0;

    (void)state;
    /* a label of 63 characters is fine, 64 is not */
    memset(text, 'l', 63);
    strcpy(text + 63, ".");
    assert_int_equal(dns_name_from_text(dst, text, NULL), 65);
    memset(text, 'l', 64);
    strcpy(text + 64, ".");
    assert_int_equal(dns_name_from_text(dst, text, NULL), 0);
    /* 63.63.63.61 absolute = 255 bytes; 63.63.63.62 = 256 */
    for (int k = 0; k < 3; k++) {
        memset(text + o, 'a', 63);
        o += 63;
        text[o++] = '.';
    }
    memset(text + o, 'b', 61);
    strcpy(text + o + 61, ".");
    assert_int_equal(dns_name_from_text(dst, text, NULL), 255);
    memset(text + o, 'b', 62);
    strcpy(text + o + 62, ".");
    assert_int_equal(dns_name_from_text(dst, text, NULL), 0);
    /* relative: 240 bytes of labels + 14 of origin = 254; + 2 more = 256 */
    o = 0;
    for (int k = 0; k < 3; k++) {
        memset(text + o, 'c', 63);
        o += 63;
        text[o++] = '.';
    }
    memset(text + o, 'd', 47); /* 3*64 + 48 = 240 */
    text[o + 47] = '\0';
    assert_int_equal(dns_name_from_text(dst, text, origin), 254);
    memset(text + o, 'd', 49);
    text[o + 49] = '\0';
    assert_int_equal(dns_name_from_text(dst, text, origin), 0);
    /* escaped characters count once against the label limit */
    o = 0;
    for (int k = 0; k < 63; k++) {
        memcpy(text + o, "\\046", 4);
        o += 4;
    }
    strcpy(text + o, ".");
    assert_int_equal(dns_name_from_text(dst, text, NULL), 65);
    assert_int_equal(dst[0], 63);
    assert_int_equal(dst[1], '.');
}

static void test_name_text(void **state)
{
    static const struct {
        const char *wire;
        const char *text;
    } cases[] = {
        {"\0", "."},
        {"\3www\7example\4test\0", "www.example.test."},
        {"\3WwW\4TEST\0", "WwW.TEST."},
        {"\3a.b\4test\0", "a\\.b.test."},
        {"\3a\\b\0", "a\\\\b."},
        {"\3a b\0", "a\\032b."},
        {"\2\0\377\0", "\\000\\255."},
        {"\1@\1$\1;\1(\1)\1\"\0", "\\@.\\$.\\;.\\(.\\).\\\"."},
        {"\1*\3_ab\1-\0", "*._ab.-."},
        {"\1\177\0", "\\127."},
    };
    char out[4 * DNS_NAME_MAX + 1];
    uint8_t back[DNS_NAME_MAX];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const uint8_t *w = (const uint8_t *)cases[i].wire;
        size_t wlen = dns_name_len(w, DNS_NAME_MAX);

        assert_true(wlen > 0);
        assert_string_equal(dns_name_text(w, out, sizeof(out)), cases[i].text);
        /* and back */
        assert_int_equal(dns_name_from_text(back, out, NULL), wlen);
        assert_memory_equal(back, w, wlen);
    }
}

/* Every byte value survives text and back, in every position. */
static void test_name_text_round_trip_all_bytes(void **state)
{
    uint8_t name[DNS_NAME_MAX], back[DNS_NAME_MAX];
    char out[4 * DNS_NAME_MAX + 1];

    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        name[0] = 3;
        name[1] = (uint8_t)c;
        name[2] = 'x';
        name[3] = (uint8_t)(255 - c);
        memcpy(name + 4, "\4test", 6);
        dns_name_text(name, out, sizeof(out));
        assert_int_equal(dns_name_from_text(back, out, NULL), 10);
        assert_memory_equal(back, name, 10);
    }
    /* the longest name in its longest text form */
    {
        size_t o = 0;

        while (o + 64 < 254) {
            name[o] = 63;
            memset(name + o + 1, '.', 63);
            o += 64;
        }
        name[o] = (uint8_t)(254 - o - 1);
        memset(name + o + 1, 0x01, 254 - o - 1);
        name[254] = 0;
        assert_int_equal(dns_name_len(name, DNS_NAME_MAX), 255);
        dns_name_text(name, out, sizeof(out));
        assert_true(strlen(out) < sizeof(out));
        assert_int_equal(dns_name_from_text(back, out, NULL), 255);
        assert_memory_equal(back, name, 255);
    }
}

/* A short output buffer is never overrun and stays a string. */
static void test_name_text_short_buffer(void **state)
{
    static const uint8_t name[] = "\3www\7example\4test";
    char out[32];

    (void)state;
    for (size_t n = 1; n < sizeof(out); n++) {
        memset(out, 'Z', sizeof(out));
        dns_name_text(name, out, n);
        assert_non_null(memchr(out, '\0', n));
        for (size_t k = n; k < sizeof(out); k++)
            assert_int_equal(out[k], 'Z');
    }
}

/* ---- names: comparisons ------------------------------------------------- */

static void test_name_equal_under(void **state)
{
    static const uint8_t a[] = "\3www\7example\4test";
    static const uint8_t b[] = "\3WWW\7ExAmPlE\4TesT";
    static const uint8_t c[] = "\3wwx\7example\4test";
    static const uint8_t d[] = "\7example\4test";
    static const uint8_t e[] = "\2ww\1w\7example\4test";
    static const uint8_t f[] = "\3www\7example\4test\3com";
    static const uint8_t g[] = "\4test";
    static const uint8_t h[] = "\6xample\4test"; /* shorter label */
    static const uint8_t root[] = "";
    /* bytes that differ by 0x20 but are not letters */
    static const uint8_t at[] = "\1@";
    static const uint8_t bq[] = "\1`";

    (void)state;
    assert_true(dns_name_equal(a, a));
    assert_true(dns_name_equal(a, b));
    assert_true(dns_name_equal(b, a));
    assert_false(dns_name_equal(a, c));
    assert_false(dns_name_equal(a, d));
    assert_false(dns_name_equal(d, a));
    assert_false(dns_name_equal(a, e));
    assert_false(dns_name_equal(a, f));
    assert_false(dns_name_equal(at, bq));
    assert_true(dns_name_equal(root, root));
    assert_false(dns_name_equal(root, g));

    assert_true(dns_name_under(a, d));
    assert_true(dns_name_under(b, d));
    assert_true(dns_name_under(a, b));
    assert_true(dns_name_under(d, d));
    assert_true(dns_name_under(a, g));
    assert_true(dns_name_under(a, root));
    assert_true(dns_name_under(root, root));
    assert_false(dns_name_under(d, a));
    assert_false(dns_name_under(g, d));
    assert_false(dns_name_under(f, d));
    assert_false(dns_name_under(d, h));
    assert_false(dns_name_under(h, d));
    assert_false(dns_name_under(root, g));

    assert_int_equal(dns_name_labels(root), 0);
    assert_int_equal(dns_name_labels(a), 3);
    assert_ptr_equal(dns_name_skip(a, 1), a + 4);
    assert_ptr_equal(dns_name_skip(a, 3), a + 17);
}

static void test_name_lower(void **state)
{
    static const uint8_t mixed[] = "\4WwW@\7ExAmPlE\1Z";
    uint8_t out[DNS_NAME_MAX];

    (void)state;
    assert_int_equal(dns_name_lower(out, mixed), 16);
    assert_memory_equal(out, "\4www@\7example\1z", 16);
}

/* ---- queries ------------------------------------------------------------ */

/* Expected outcome for a request. */
typedef struct {
    const char *what;
    const char *msg;
    size_t len;
    int rc;
    /* checked when rc is OK: */
    uint16_t id, qtype, qclass;
    size_t qname_len;
    int edns;
    uint16_t udp_size;
    uint8_t version;
    int do_bit;
} qcase_t;

/* FLAGS is the first byte of the flags word (QR, opcode, AA, TC, RD). */
#define HDR(id, flags, qd, an, ns, ar) id flags "\0" qd an ns ar
#define Q_WWW "\3www\7example\4test\0"

static const qcase_t qcases[] = {
    {"plain A",
     HDR("\x12\x34", "\x01", "\0\1", "\0\0", "\0\0", "\0\0") Q_WWW "\0\1\0\1",
     34, DNS_PARSE_OK, 0x1234, 1, 1, 18, 0, 512, 0, 0},
    {"root NS", HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\0") "\0\0\2\0\1",
     17, DNS_PARSE_OK, 1, 2, 1, 1, 0, 512, 0, 0},
    {"trailing garbage tolerated",
     HDR("\0\2", "\0", "\0\1", "\0\0", "\0\0", "\0\0") Q_WWW "\0\34\0\1xyz", 37,
     DNS_PARSE_OK, 2, 28, 1, 18, 0, 512, 0, 0},
    {"EDNS 4096 DO",
     HDR("\0\3", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\x10\0\0\0\x80\0\0\0",
     45, DNS_PARSE_OK, 3, 1, 1, 18, 1, 4096, 0, 1},
    {"EDNS 100 raised to 512, version 1, no DO",
     HDR("\0\4", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\0\x64\0\1\x7f\0\0\0",
     45, DNS_PARSE_OK, 4, 1, 1, 18, 1, 512, 1, 0},
    {"EDNS with an option",
     HDR("\0\5", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\x04\xd0\0\0\0\0\0\6\0\x0a\0\2ab",
     51, DNS_PARSE_OK, 5, 1, 1, 18, 1, 1232, 0, 0},
    {"answer record with a compressed name, then OPT",
     HDR("\0\6", "\0", "\0\1", "\0\1", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4\1\2\3\4"
     "\0\0\x29\x02\0\0\0\0\0\0\0",
     61, DNS_PARSE_OK, 6, 1, 1, 18, 1, 512, 0, 0},
    {"pointer into the question suffix",
     HDR("\0\7", "\0", "\0\1", "\0\0", "\0\1", "\0\0") Q_WWW
     "\0\1\0\1"
     "\3abc\xc0\x10\0\1\0\1\0\0\0\0\0\0",
     50, DNS_PARSE_OK, 7, 1, 1, 18, 0, 512, 0, 0},
    {"11 bytes", "\0\1\0\0\0\1\0\0\0\0\0", 11, DNS_PARSE_DROP, 0, 0, 0, 0, 0, 0,
     0, 0},
    {"empty", "", 0, DNS_PARSE_DROP, 0, 0, 0, 0, 0, 0, 0, 0},
    {"QR set",
     HDR("\0\1", "\x80", "\0\1", "\0\0", "\0\0", "\0\0") Q_WWW "\0\1\0\1", 34,
     DNS_PARSE_DROP, 0, 0, 0, 0, 0, 0, 0, 0},
    {"QDCOUNT 0", HDR("\0\1", "\0", "\0\0", "\0\0", "\0\0", "\0\0"), 12,
     DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"QDCOUNT 2",
     HDR("\0\1", "\0", "\0\2", "\0\0", "\0\0", "\0\0") Q_WWW "\0\1\0\1" Q_WWW
                                                             "\0\1\0\1",
     56, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"label of 64",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0",
         "\0\0") "\x40"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaa\0\0\1\0\1",
     82, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"pointer in the question",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\0") "\3www\xc0\x0c\0\1\0\1",
     22, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"question name without root",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\0") "\3www\7exampl", 23,
     DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"question type/class cut",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\0") Q_WWW "\0\1\0", 33,
     DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"counted record missing",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW "\0\1\0\1", 34,
     DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"two OPT",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\2") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\x10\0\0\0\0\0\0\0"
     "\0\0\x29\x10\0\0\0\0\0\0\0",
     56, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"OPT not owned by the root",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\1x\0\0\x29\x10\0\0\0\0\0\0\0",
     47, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"OPT owned by a pointer to a name",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\xc0\x0c\0\x29\x10\0\0\0\0\0\0\0",
     46, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"OPT in the answer section",
     HDR("\0\1", "\0", "\0\1", "\0\1", "\0\0", "\0\0") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\x10\0\0\0\0\0\0\0",
     45, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"rdata past the end",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\x10\0\0\0\0\0\0\5ab",
     47, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"record fixed part cut",
     HDR("\0\1", "\0", "\0\1", "\0\0", "\0\0", "\0\1") Q_WWW
     "\0\1\0\1"
     "\0\0\x29\x10\0\0\0\0\0",
     43, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"forward pointer in a record",
     HDR("\0\1", "\0", "\0\1", "\0\1", "\0\0", "\0\0") Q_WWW
     "\0\1\0\1"
     "\xc0\x30\0\1\0\1\0\0\0\0\0\0",
     46, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"self pointer in a record",
     HDR("\0\1", "\0", "\0\1", "\0\1", "\0\0", "\0\0") Q_WWW
     "\0\1\0\1"
     "\xc0\x22\0\1\0\1\0\0\0\0\0\0",
     46, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"pointer cut in a record",
     HDR("\0\1", "\0", "\0\1", "\0\1", "\0\0", "\0\0") Q_WWW "\0\1\0\1"
                                                             "\xc0",
     35, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
    {"reserved label type in a record",
     HDR("\0\1", "\0", "\0\1", "\0\1", "\0\0", "\0\0") Q_WWW
     "\0\1\0\1"
     "\x41"
     "a\0\0\1\0\1\0\0\0\0\0\0",
     47, DNS_PARSE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0},
};

static void test_query_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(qcases); i++) {
        const qcase_t *c = &qcases[i];
        /* an exact-size heap copy, so that ASan sees reads past the end */
        uint8_t *msg = malloc(c->len ? c->len : 1);
        dns_query_t q;
        int rc;

        assert_non_null(msg);
        memcpy(msg, c->msg, c->len);
        rc = dns_query_parse(msg, c->len, &q);
        if (rc != c->rc)
            fail_msg("%s: outcome %d, expected %d", c->what, rc, c->rc);
        if (rc == DNS_PARSE_FORMERR && c->len >= 12) {
            /* id and flags are valid for the FORMERR answer */
            assert_int_equal(q.id, dns_get16(msg));
            assert_int_equal(q.flags, dns_get16(msg + 2));
        }
        if (rc == DNS_PARSE_OK) {
            if (q.id != c->id || q.qtype != c->qtype || q.qclass != c->qclass ||
                q.qname_len != c->qname_len || q.edns != c->edns ||
                q.udp_size != c->udp_size || q.edns_version != c->version ||
                q.do_bit != c->do_bit)
                fail_msg("%s: id %u qtype %u qclass %u qname_len %zu edns %d "
                         "udp %u version %u do %d",
                         c->what, q.id, q.qtype, q.qclass, q.qname_len, q.edns,
                         q.udp_size, q.edns_version, q.do_bit);
            assert_ptr_equal(q.qname, msg + DNS_HDR_LEN);
            assert_int_equal(q.question_end, DNS_HDR_LEN + c->qname_len + 4);
        }
        free(msg);
    }
}

static void test_query_parse_fields(void **state)
{
    static const uint8_t msg[] =
        "\xab\xcd\x29\x10\0\1\0\0\0\0\0\1" /* NOTIFY-ish opcode 5, RD, CD */
        "\3WwW\7ExAmPlE\4TeSt\0\0\x1c\0\3"
        "\0\0\x29\x05\xdc\x07\x02\x80\x00\0\0";
    dns_query_t q;

    (void)state;
    assert_int_equal(dns_query_parse(msg, sizeof(msg) - 1, &q), DNS_PARSE_OK);
    assert_int_equal(q.id, 0xabcd);
    assert_int_equal(q.flags, 0x2910);
    assert_int_equal(DNS_OPCODE(q.flags), 5);
    assert_int_equal(q.qtype, DNS_T_AAAA);
    assert_int_equal(q.qclass, DNS_C_CH);
    assert_memory_equal(q.qname, "\3WwW\7ExAmPlE\4TeSt", 18); /* case kept */
    assert_int_equal(q.arcount, 1);
    assert_int_equal(q.ancount, 0);
    assert_int_equal(q.nscount, 0);
    assert_true(q.edns);
    assert_int_equal(q.udp_size, 1500);
    assert_int_equal(q.edns_version, 2);
    assert_true(q.do_bit);
    /* udp_size exactly 512 and 511 */
    {
        uint8_t m2[sizeof(msg)];

        memcpy(m2, msg, sizeof(msg));
        m2[34 + 3] = 0x01;
        m2[34 + 4] = 0xff;
        assert_int_equal(dns_query_parse(m2, sizeof(m2) - 1, &q), DNS_PARSE_OK);
        assert_int_equal(q.udp_size, 512);
        m2[34 + 3] = 0x02;
        m2[34 + 4] = 0x01;
        assert_int_equal(dns_query_parse(m2, sizeof(m2) - 1, &q), DNS_PARSE_OK);
        assert_int_equal(q.udp_size, 513);
        m2[34 + 3] = 0xff;
        m2[34 + 4] = 0xff;
        assert_int_equal(dns_query_parse(m2, sizeof(m2) - 1, &q), DNS_PARSE_OK);
        assert_int_equal(q.udp_size, 65535);
    }
}

/* Every prefix of a valid query with an EDNS record is DROP (< 12) or
 * FORMERR, never OK and never a read past the end. */
static void test_query_parse_prefixes(void **state)
{
    static const uint8_t msg[] = "\0\1\1\0\0\1\0\1\0\0\0\1" Q_WWW "\0\1\0\1"
                                 "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4\1\2\3\4"
                                 "\0\0\x29\x02\0\0\0\0\0\0\4\0\1\0\0";
    dns_query_t q;

    (void)state;
    assert_int_equal(dns_query_parse(msg, sizeof(msg) - 1, &q), DNS_PARSE_OK);
    for (size_t n = 0; n < sizeof(msg) - 1; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        int rc;

        memcpy(cut, msg, n);
        rc = dns_query_parse(cut, n, &q);
        if (n < DNS_HDR_LEN)
            assert_int_equal(rc, DNS_PARSE_DROP);
        else
            assert_int_equal(rc, DNS_PARSE_FORMERR);
        free(cut);
    }
}

/* ---- packet writer ------------------------------------------------------ */

static void test_pkt_basic(void **state)
{
    uint8_t buf[16];
    dns_pkt_t p;

    (void)state;
    dns_pkt_init(&p, buf, sizeof(buf));
    assert_int_equal(p.len, 0);
    assert_int_equal(p.cap, 16);
    assert_int_equal(p.overflow, 0);
    assert_int_equal(dns_pkt_u16(&p, 0x1234), 0);
    assert_int_equal(dns_pkt_u32(&p, 0xdeadbeef), 0);
    assert_int_equal(dns_pkt_bytes(&p, "xyz", 3), 0);
    assert_int_equal(dns_pkt_ptr(&p, 0x0123), 0);
    assert_int_equal(p.len, 11);
    assert_memory_equal(buf,
                        "\x12\x34\xde\xad\xbe\xef"
                        "xyz\xc1\x23",
                        11);
    /* overflow: nothing written, len unchanged, overflow set */
    assert_int_equal(dns_pkt_u32(&p, 1), 0);
    assert_int_equal(p.len, 15);
    assert_int_equal(dns_pkt_u16(&p, 0xffff), -1);
    assert_int_equal(p.len, 15);
    assert_int_equal(p.overflow, 1);
    assert_int_equal(dns_pkt_bytes(&p, "a", 1), 0);
    assert_int_equal(p.len, 16);
    assert_int_equal(dns_pkt_bytes(&p, "b", 1), -1);
    assert_int_equal(dns_pkt_u32(&p, 1), -1);
    assert_int_equal(p.len, 16);
    /* a cap over 64 KiB is clamped */
    {
        static uint8_t big[70000];

        dns_pkt_init(&p, big, sizeof(big));
        assert_int_equal(p.cap, DNS_MSG_MAX);
    }
}

static void test_pkt_compression(void **state)
{
    uint8_t buf[512];
    dns_pkt_t p;

    (void)state;
    dns_pkt_init(&p, buf, sizeof(buf));
    dns_pkt_bytes(&p, "HEADERHEADER", 12);
    /* 12: www.example.test. literal */
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1), 0);
    assert_int_equal(p.len, 30);
    assert_memory_equal(buf + 12, "\3www\7example\4test\0", 18);
    /* the same name again: one pointer to 12 */
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1), 0);
    assert_int_equal(p.len, 32);
    assert_memory_equal(buf + 30, "\xc0\x0c", 2);
    /* a suffix, different case: pointer to 16 (example.test) */
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\4mail\7EXAMPLE\4Test", 1), 0);
    assert_int_equal(p.len, 39);
    assert_memory_equal(buf + 32, "\4mail\xc0\x10", 7);
    /* test. alone: pointer to 24 */
    assert_int_equal(dns_pkt_name(&p, (const uint8_t *)"\4TEST", 1), 0);
    assert_memory_equal(buf + 39, "\xc0\x18", 2);
    assert_int_equal(p.len, 41);
    /* a name below mail.example.test: the literal label, then a pointer to
     * 32, which was remembered when mail. was written */
    assert_int_equal(dns_pkt_name(&p,
                                  (const uint8_t *)"\1a\4mail\7example"
                                                   "\4test",
                                  1),
                     0);
    assert_memory_equal(buf + 41, "\1a\xc0\x20", 4);
    assert_int_equal(p.len, 45);
    /* the root is one zero byte, compressed or not */
    assert_int_equal(dns_pkt_name(&p, (const uint8_t *)"", 1), 0);
    assert_int_equal(buf[45], 0);
    assert_int_equal(p.len, 46);
    /* uncompressed: the full name, even though it is known */
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 0), 0);
    assert_memory_equal(buf + 46, "\3www\7example\4test\0", 18);
    assert_int_equal(p.len, 64);
    /* a name sharing no suffix but a label text: no pointer */
    assert_int_equal(dns_pkt_name(&p, (const uint8_t *)"\3www\3org", 1), 0);
    assert_memory_equal(buf + 64, "\3www\3org\0", 9);
    assert_int_equal(p.len, 73);
    /* "example.org": org. is known at 68 */
    assert_int_equal(dns_pkt_name(&p, (const uint8_t *)"\7example\3org", 1), 0);
    assert_memory_equal(buf + 73, "\7example\xc0\x44", 10);
    assert_int_equal(p.len, 83);
    /* a longer label sharing a prefix must not match */
    assert_int_equal(dns_pkt_name(&p, (const uint8_t *)"\5tests", 1), 0);
    assert_memory_equal(buf + 83, "\5tests\0", 7);
}

static void test_pkt_remember(void **state)
{
    uint8_t buf[128];
    dns_pkt_t p;

    (void)state;
    dns_pkt_init(&p, buf, sizeof(buf));
    dns_pkt_bytes(&p, "\0\1\0\0\0\1\0\0\0\0\0\0", 12);
    dns_pkt_bytes(&p, "\3WWW\7Example\4test\0\0\1\0\1", 22);
    assert_int_equal(p.ncomp, 0);
    dns_pkt_remember(&p, 12);
    assert_int_equal(p.ncomp, 3);
    /* owner = the question name: a pointer to 12 */
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1), 0);
    assert_memory_equal(buf + 34, "\xc0\x0c", 2);
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\2ns\7example\4test", 1), 0);
    assert_memory_equal(buf + 36, "\2ns\xc0\x10", 5);
    assert_int_equal(dns_pkt_name(&p, (const uint8_t *)"\4test", 1), 0);
    assert_memory_equal(buf + 41, "\xc0\x18", 2);
}

static void test_pkt_name_overflow(void **state)
{
    uint8_t buf[64];
    dns_pkt_t p;

    (void)state;
    /* literal name that does not fit */
    dns_pkt_init(&p, buf, 20);
    dns_pkt_bytes(&p, "0123456789", 10);
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1), -1);
    assert_int_equal(p.len, 10);
    assert_int_equal(p.overflow, 1);
    assert_int_equal(p.ncomp, 0);
    /* exactly fitting */
    dns_pkt_init(&p, buf, 28);
    dns_pkt_bytes(&p, "0123456789", 10);
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1), 0);
    assert_int_equal(p.len, 28);
    assert_int_equal(p.overflow, 0);
    /* a compressed form that does not fit: one byte short */
    assert_int_equal(
        dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1), -1);
    assert_int_equal(p.len, 28);
    assert_int_equal(p.overflow, 1);
    p.cap = 33;
    p.overflow = 0;
    {
        unsigned nc = p.ncomp;

        /* label + pointer = 6 > 5 left */
        assert_int_equal(dns_pkt_name(&p,
                                      (const uint8_t *)"\4mail\7example"
                                                       "\4test",
                                      1),
                         -1);
        assert_int_equal(p.len, 28);
        assert_int_equal(p.ncomp, nc);
        assert_int_equal(p.overflow, 1);
        /* a bare pointer = 2 fits */
        assert_int_equal(
            dns_pkt_name(&p, (const uint8_t *)"\7example\4test", 1), 0);
        assert_int_equal(p.len, 30);
        assert_memory_equal(buf + 28, "\xc0\x0e", 2);
    }
}

static void test_pkt_mark_rollback(void **state)
{
    uint8_t buf[256];
    dns_pkt_t p;
    dns_pkt_mark_t m;

    (void)state;
    dns_pkt_init(&p, buf, sizeof(buf));
    dns_pkt_bytes(&p, "HEADERHEADER", 12);
    dns_pkt_name(&p, (const uint8_t *)"\7example\4test", 1);
    assert_int_equal(p.len, 26);
    m = dns_pkt_mark(&p);
    assert_int_equal(m.len, 26);
    assert_int_equal(m.ncomp, p.ncomp);
    dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1);
    assert_memory_equal(buf + 26, "\3www\xc0\x0c", 6);
    dns_pkt_u32(&p, 7);
    dns_pkt_rollback(&p, m);
    assert_int_equal(p.len, 26);
    assert_int_equal(p.ncomp, m.ncomp);
    /* overwrite what was rolled back with other bytes */
    dns_pkt_bytes(&p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    /* www.example.test must not point at the rolled-back 26 */
    dns_pkt_name(&p, (const uint8_t *)"\3www\7example\4test", 1);
    assert_memory_equal(buf + 34, "\3www\xc0\x0c", 6);
    assert_int_equal(p.len, 40);
    /* and now it is remembered at 34 */
    dns_pkt_name(&p, (const uint8_t *)"\3WWW\7example\4test", 1);
    assert_memory_equal(buf + 40, "\xc0\x22", 2);
}

/* Names are remembered only where a pointer can reach them (< 16 KiB). */
static void test_pkt_far_names(void **state)
{
    static uint8_t buf[0x4100];
    dns_pkt_t p;

    (void)state;
    dns_pkt_init(&p, buf, sizeof(buf));
    memset(buf, 0xee, sizeof(buf));
    p.len = 0x3ffc;
    /* 0x3ffc: \3abc at 0x3ffc, \4test at 0x4000 */
    dns_pkt_name(&p, (const uint8_t *)"\3abc\4test", 1);
    assert_int_equal(p.len, 0x3ffc + 10);
    /* abc.test. was remembered, test. was not */
    dns_pkt_name(&p, (const uint8_t *)"\3abc\4test", 1);
    assert_memory_equal(buf + 0x4006, "\xff\xfc", 2);
    dns_pkt_name(&p, (const uint8_t *)"\4test", 1);
    assert_memory_equal(buf + 0x4008, "\4test\0", 6);
}

/* The compression table is bounded; names past it are written in full. */
static void test_pkt_comp_table_full(void **state)
{
    static uint8_t buf[4096];
    uint8_t name[9] = "\2xx\4test";
    dns_pkt_t p;

    (void)state;
    dns_pkt_init(&p, buf, sizeof(buf));
    for (unsigned i = 0; i < 200; i++) {
        name[1] = (uint8_t)('a' + i % 26);
        name[2] = (uint8_t)('a' + i / 26);
        assert_int_equal(dns_pkt_name(&p, name, 1), 0);
        assert_true(p.ncomp <= DNS_COMP_MAX);
    }
    assert_int_equal(p.ncomp, DNS_COMP_MAX);
    /* every pointer written points backwards at a label byte */
    for (size_t off = 0; off < p.len;) {
        if ((buf[off] & 0xc0) == 0xc0) {
            size_t t = (size_t)(buf[off] & 0x3f) << 8 | buf[off + 1];

            assert_true(t < off);
            assert_true(buf[t] > 0 && buf[t] <= 63);
            off += 2;
        } else if (buf[off] == 0) {
            off++;
        } else {
            off += (size_t)buf[off] + 1;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_len),
        cmocka_unit_test(test_name_from_text),
        cmocka_unit_test(test_name_from_text_limits),
        cmocka_unit_test(test_name_text),
        cmocka_unit_test(test_name_text_round_trip_all_bytes),
        cmocka_unit_test(test_name_text_short_buffer),
        cmocka_unit_test(test_name_equal_under),
        cmocka_unit_test(test_name_lower),
        cmocka_unit_test(test_query_parse_table),
        cmocka_unit_test(test_query_parse_fields),
        cmocka_unit_test(test_query_parse_prefixes),
        cmocka_unit_test(test_pkt_basic),
        cmocka_unit_test(test_pkt_compression),
        cmocka_unit_test(test_pkt_remember),
        cmocka_unit_test(test_pkt_name_overflow),
        cmocka_unit_test(test_pkt_mark_rollback),
        cmocka_unit_test(test_pkt_far_names),
        cmocka_unit_test(test_pkt_comp_table_full),
    };

    return cmocka_run_group_tests_name("dns_wire", tests, NULL, NULL);
}

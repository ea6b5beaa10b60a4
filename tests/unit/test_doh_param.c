/*
 * test_doh_param.c - DNS over HTTPS's pure pieces (doh_param.h): finding
 * the dns= parameter, base64url decoding (RFC 4648 test vectors in the
 * url alphabet, every refusal), a round trip over every byte value and
 * length against an encoder written here, and the freshness lifetime of
 * answers (positive, negative with the SOA minimum, OPT skipped,
 * compressed names, truncated messages).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doh_param.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the parameter ------------------------------------------------------ */

static void test_get_param(void **state)
{
    static const struct {
        const char *query;
        int rc;
        const char *val;
    } cases[] = {
        {"dns=AAAB", DOH_P_OK, "AAAB"},
        {"ct=x&dns=AAAB", DOH_P_OK, "AAAB"},
        {"dns=AAAB&ct=application/dns-message", DOH_P_OK, "AAAB"},
        {"dns=", DOH_P_OK, ""},
        {"&&dns=Zg&", DOH_P_OK, "Zg"},
        {"xdns=AAAB", DOH_P_MISSING, NULL},
        {"DNS=AAAB", DOH_P_MISSING, NULL},
        {"dns", DOH_P_MISSING, NULL},
        {"", DOH_P_MISSING, NULL},
        {"dns=a&dns=b", DOH_P_TWICE, NULL},
        {"dns=a&x=1&dns=a", DOH_P_TWICE, NULL},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const char *v = NULL;
        size_t vlen = 99;
        int rc =
            doh_get_param(cases[i].query, strlen(cases[i].query), &v, &vlen);

        assert_int_equal(rc, cases[i].rc);
        if (rc == DOH_P_OK) {
            assert_int_equal(vlen, strlen(cases[i].val));
            assert_memory_equal(v, cases[i].val, vlen);
        }
    }
    assert_int_equal(doh_get_param(NULL, 0, NULL, NULL), DOH_P_MISSING);
}

/* ---- base64url ---------------------------------------------------------- */

static void test_b64_vectors(void **state)
{
    /* RFC 4648 section 10, padding removed, and the url alphabet */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"Zg", "f"},
        {"Zm8", "fo"},
        {"Zm9v", "foo"},
        {"Zm9vYg", "foob"},
        {"Zm9vYmE", "fooba"},
        {"Zm9vYmFy", "foobar"},
        {"-_-_", "\xfb\xff\xbf"},
        {"AA", "\0"},
    };
    uint8_t out[16];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = i == ARRAY_LEN(cases) - 1 ? 1 : strlen(cases[i].out);
        long got = doh_b64url_decode(cases[i].in, strlen(cases[i].in), out,
                                     sizeof(out));

        assert_int_equal(got, (long)n);
        assert_memory_equal(out, cases[i].out, n);
    }
}

static void test_b64_refused(void **state)
{
    static const char *const bad[] = {
        "Zg==",  /* padding */
        "Zm8=",  /* padding */
        "Z",     /* one character cannot be base64 */
        "Zm9vY", /* 4n+1 */
        "+/+/",  /* the standard alphabet */
        "Zm9v Yg", "Zm9v%59g", "Zm\n9v",
        "Zh",      "Zm9", /* non-zero leftover bits (non-canonical) */
    };
    uint8_t out[16];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(
            doh_b64url_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -1);
    assert_int_equal(doh_b64url_decode("Zm8", 3, out, sizeof(out)), 2);
    /* capacity: exactly enough, one short */
    assert_int_equal(doh_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
    assert_int_equal(doh_b64url_decode("Zm9vYmFy", 8, out, 5), -1);
    assert_int_equal(doh_b64url_decode("Zm9vYg", 6, out, 4), 4);
    assert_int_equal(doh_b64url_decode("Zm9vYg", 6, out, 3), -1);
}

static size_t enc(const uint8_t *in, size_t n, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789-_";
    size_t o = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        out[o++] = a[in[i] >> 2];
        out[o++] = a[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

        out[o++] = a[v >> 10];
        out[o++] = a[(v >> 4) & 63];
        out[o++] = a[(v & 15) << 2];
    }
    return o;
}

static void test_b64_round_trip(void **state)
{
    uint8_t in[300], out[300];
    char text[400];
    size_t n, k;

    (void)state;
    for (k = 0; k < sizeof(in); k++)
        in[k] = (uint8_t)(k * 7 + 3);
    for (n = 0; n <= sizeof(in); n++) {
        size_t tl = enc(in, n, text);

        assert_int_equal(doh_b64url_decode(text, tl, out, sizeof(out)),
                         (long)n);
        assert_memory_equal(out, in, n);
    }
}

/* ---- the freshness lifetime --------------------------------------------- */

/* A message: header with QD 1, question www.t. A, then RRS. */
static size_t msg(uint8_t *buf, unsigned an, unsigned ns, unsigned ar,
                  const uint8_t *rrs, size_t rrlen)
{
    static const uint8_t head[] = {0, 0, 0x84, 0, 0, 1};
    static const uint8_t q[] = {3, 'w', 'w', 'w', 1, 't', 0, 0, 1, 0, 1};
    size_t n = 0;

    memcpy(buf, head, sizeof(head));
    n = sizeof(head);
    buf[n++] = 0;
    buf[n++] = (uint8_t)an;
    buf[n++] = 0;
    buf[n++] = (uint8_t)ns;
    buf[n++] = 0;
    buf[n++] = (uint8_t)ar;
    memcpy(buf + n, q, sizeof(q));
    n += sizeof(q);
    if (rrlen)
        memcpy(buf + n, rrs, rrlen);
    return n + rrlen;
}

/* owner (pointer to the question), TYPE, class IN, TTL, RDLEN 4 */
#define RR_A(ttl)                                                              \
    0xc0, 12, 0, 1, 0, 1, (uint8_t)((ttl) >> 24), (uint8_t)((ttl) >> 16),      \
        (uint8_t)((ttl) >> 8), (uint8_t)(ttl), 0, 4, 192, 0, 2, 1
/* an SOA at the root with TTL and MINIMUM */
#define RR_SOA(ttl, min)                                                       \
    0, 0, 6, 0, 1, 0, 0, (uint8_t)((ttl) >> 8), (uint8_t)(ttl), 0, 22, 0, 0,   \
        0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0,                  \
        (uint8_t)((min) >> 8), (uint8_t)(min)
#define RR_OPT 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0

static void test_min_ttl(void **state)
{
    uint8_t buf[512];
    uint32_t ttl = 12345;
    size_t n;

    (void)state;
    {
        static const uint8_t rrs[] = {RR_A(600), RR_A(60), RR_A(3600), RR_OPT};

        n = msg(buf, 3, 0, 1, rrs, sizeof(rrs));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 0);
        assert_int_equal(ttl, 60);
        /* cut anywhere before the end of the answer section: malformed
         * (the additional section is not read) */
        for (size_t k = 0; k < n - 11; k++)
            assert_int_equal(doh_min_ttl(buf, k, &ttl), -1);
    }
    {
        /* the answer section wins over a smaller authority TTL */
        static const uint8_t rrs[] = {RR_A(600), RR_SOA(5, 1)};

        n = msg(buf, 1, 1, 0, rrs, sizeof(rrs));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 0);
        assert_int_equal(ttl, 600);
    }
    {
        /* negative: min(SOA TTL, MINIMUM), either way round */
        static const uint8_t a[] = {RR_SOA(300, 120), RR_OPT};
        static const uint8_t b[] = {RR_SOA(100, 900)};

        n = msg(buf, 0, 1, 1, a, sizeof(a));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 0);
        assert_int_equal(ttl, 120);
        n = msg(buf, 0, 1, 0, b, sizeof(b));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 0);
        assert_int_equal(ttl, 100);
    }
    {
        /* nothing to take a lifetime from (REFUSED; only OPT) */
        static const uint8_t rrs[] = {RR_OPT};

        n = msg(buf, 0, 0, 1, rrs, sizeof(rrs));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 1);
        n = msg(buf, 0, 0, 0, NULL, 0);
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 1);
    }
    {
        /* a TTL with the top bit set counts as 0 (RFC 2181 8) */
        static const uint8_t rrs[] = {RR_A(0x80000000u), RR_A(60)};

        n = msg(buf, 2, 0, 0, rrs, sizeof(rrs));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), 0);
        assert_int_equal(ttl, 0);
    }
    {
        /* a label type 0x40 / 0x80, an SOA whose rdata does not add up */
        static const uint8_t bad[] = {0x40, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0};
        static const uint8_t soa[] = {0, 0, 6, 0, 1, 0, 0, 0, 9, 0, 3, 0, 0, 0};

        n = msg(buf, 1, 0, 0, bad, sizeof(bad));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), -1);
        n = msg(buf, 0, 1, 0, soa, sizeof(soa));
        assert_int_equal(doh_min_ttl(buf, n, &ttl), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_param),
        cmocka_unit_test(test_b64_vectors),
        cmocka_unit_test(test_b64_refused),
        cmocka_unit_test(test_b64_round_trip),
        cmocka_unit_test(test_min_ttl),
    };

    return cmocka_run_group_tests_name("doh_param", tests, NULL, NULL);
}

/*
 * test_dns_tsig.c - TSIG (protocols/dns/dns_tsig.h): keys from text,
 * finding the record (and refusing misplaced or malformed ones), signing
 * and verifying a request (the MAC cross-checked against an HMAC computed
 * here over bytes laid out by hand from RFC 8945 4.3), BADSIG on any
 * changed byte or wrong secret, BADTIME outside the fudge, truncated MACs,
 * the reply chain of a transfer (5.3.1) and unsigned error records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dns_tsig.h"

#define NOW 1700000000ull
/* base64 of the 32 bytes 0x01..0x20 */
#define SECRET "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

static const uint8_t question[] = "\3www\7example\4test\0\0\1\0\1";

/* A query ID 0x1234 for www.example.test A into P. */
static void make_query(dns_pkt_t *p, uint8_t *buf, size_t cap)
{
    static const uint8_t hdr[12] = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};

    dns_pkt_init(p, buf, cap);
    assert_int_equal(dns_pkt_bytes(p, hdr, 12), 0);
    assert_int_equal(dns_pkt_bytes(p, question, sizeof(question) - 1), 0);
}

static void key(dns_tsig_key_t *k, const char *name, const char *alg,
                const char *secret)
{
    const char *err = NULL;

    assert_int_equal(dns_tsig_key_init(k, name, alg, secret, &err), 0);
}

static void test_key_init(void **state)
{
    static const struct {
        const char *name, *alg, *secret;
        int ok;
    } cases[] = {
        {"k.example.", "hmac-sha256", SECRET, 1},
        {"K.Example", "HMAC-SHA512.", SECRET, 1},
        {"k", "hmac-sha1", "YQ==", 1},
        {"k", "hmac-sha1", "YWI=", 1},
        {"k", "hmac-md5", SECRET, 0},
        {"k", "hmac-sha256", "", 0},
        {"k", "hmac-sha256", "abc", 0},  /* not a multiple of 4 */
        {"k", "hmac-sha256", "ab!d", 0}, /* outside the alphabet */
        {"k", "hmac-sha256", "YQ=a", 0}, /* data after padding */
        {"k", "hmac-sha256", "YR==", 0}, /* non-zero leftover bits */
        {"k", "hmac-sha256", "====", 0},
        {"a..b", "hmac-sha256", SECRET, 0},
    };
    dns_tsig_key_t k;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *err = NULL;
        int rc = dns_tsig_key_init(&k, cases[i].name, cases[i].alg,
                                   cases[i].secret, &err);

        if (cases[i].ok) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(err);
        }
    }
    key(&k, "K.Example", "hmac-sha256", SECRET);
    assert_int_equal(k.name_len, 11);
    assert_memory_equal(k.name, "\1k\7example\0", 11); /* lower case */
    assert_int_equal(k.secret_len, 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k.secret[i], i + 1);
}

/* HMAC-SHA256 under the test secret of the PARTS laid end to end. */
static void hmac_parts(const EVP_MD *md, const uint8_t *secret, size_t slen,
                       const uint8_t *const *parts, const size_t *lens,
                       size_t n, uint8_t *out, unsigned *outlen)
{
    uint8_t all[4096];
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        memcpy(all + len, parts[i], lens[i]);
        len += lens[i];
    }
    assert_non_null(HMAC(md, secret, (int)slen, all, len, out, outlen));
}

static void test_sign_verify_request(void **state)
{
    uint8_t buf[512], unsigned_copy[512], mac[DNS_TSIG_MAC_MAX], want[64];
    unsigned wantlen;
    dns_tsig_key_t k, other, wrong;
    dns_tsig_rr_t t;
    dns_pkt_t p;
    size_t before;
    int n;

    (void)state;
    key(&k, "k.example", "hmac-sha256", SECRET);
    make_query(&p, buf, sizeof(buf));
    before = p.len;
    memcpy(unsigned_copy, buf, before); /* ARCOUNT 0: what is signed */
    n = dns_tsig_sign(&p, &k, NULL, 0, 0, NOW, 0, NULL, 0, mac);
    assert_int_equal(n, 32);
    assert_int_equal(dns_get16(buf + 10), 1);
    assert_int_equal(p.len, before + dns_tsig_space(&k) - 6);

    /* the MAC over message + variables, laid out by hand */
    {
        static const uint8_t vars[] =
            "\1k\7example\0"             /* key name */
            "\0\xff\0\0\0\0"             /* class ANY, TTL 0 */
            "\13hmac-sha256\0"           /* algorithm */
            "\0\0\x65\x53\xf1\x00\1\x2c" /* time 1700000000, fudge 300 */
            "\0\0\0\0";                  /* error, other len */
        const uint8_t *parts[] = {unsigned_copy, vars};
        size_t lens[] = {before, sizeof(vars) - 1};

        hmac_parts(EVP_sha256(), k.secret, k.secret_len, parts, lens, 2, want,
                   &wantlen);
        assert_int_equal(wantlen, 32);
        assert_memory_equal(mac, want, 32);
    }

    assert_int_equal(dns_tsig_find(buf, p.len, &t), 1);
    assert_int_equal(t.start, before);
    assert_int_equal(t.time_signed, NOW);
    assert_int_equal(t.fudge, 300);
    assert_int_equal(t.mac_len, 32);
    assert_int_equal(t.orig_id, 0x1234);
    assert_ptr_equal(dns_tsig_key_find(&k, 1, &t), &k);
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW), DNS_TSIG_OK);
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW + 300),
                     DNS_TSIG_OK);
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW - 300),
                     DNS_TSIG_OK);
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW + 301),
                     DNS_TSIG_BADTIME);
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW - 301),
                     DNS_TSIG_BADTIME);

    /* the ID may change on the way (the original ID is signed) */
    buf[0] ^= 0xff;
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW), DNS_TSIG_OK);
    buf[0] ^= 0xff;

    /* any other changed byte before the MAC: BADSIG */
    for (size_t i = 2; i < before; i++) {
        buf[i] ^= 0x20;
        if (dns_tsig_find(buf, p.len, &t) == 1)
            assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW),
                             DNS_TSIG_BADSIG);
        buf[i] ^= 0x20;
    }
    assert_int_equal(dns_tsig_find(buf, p.len, &t), 1);
    /* a wrong secret */
    key(&wrong, "k.example", "hmac-sha256", "YWJj");
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &wrong, NOW),
                     DNS_TSIG_BADSIG);
    /* the same name with another algorithm is another key */
    key(&other, "k.example", "hmac-sha512", SECRET);
    assert_null(dns_tsig_key_find(&other, 1, &t));
    key(&other, "k2.example", "hmac-sha256", SECRET);
    assert_null(dns_tsig_key_find(&other, 1, &t));
    /* the MAC changed */
    buf[t.mac - buf + 5] ^= 1;
    assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW), DNS_TSIG_BADSIG);
}

static void test_algorithms(void **state)
{
    static const char *const algs[] = {"hmac-sha1", "hmac-sha256",
                                       "hmac-sha512"};
    static const size_t sizes[] = {20, 32, 64};

    (void)state;
    for (int i = 0; i < 3; i++) {
        uint8_t buf[512], mac[DNS_TSIG_MAC_MAX];
        dns_tsig_key_t k;
        dns_tsig_rr_t t;
        dns_pkt_t p;

        key(&k, "key", algs[i], SECRET);
        assert_int_equal(dns_tsig_mac_size(k.alg), sizes[i]);
        make_query(&p, buf, sizeof(buf));
        assert_int_equal(
            dns_tsig_sign(&p, &k, NULL, 0, 0, NOW, 0, NULL, 0, mac),
            (int)sizes[i]);
        assert_int_equal(dns_tsig_find(buf, p.len, &t), 1);
        assert_int_equal(dns_tsig_verify(buf, p.len, &t, &k, NOW), DNS_TSIG_OK);
    }
}

/* A TSIG record with MAC length MACLEN (its bytes zero) after the query
 * in BUF; returns the message length. */
static size_t raw_tsig(uint8_t *buf, uint16_t maclen, uint16_t rclass,
                       size_t extra_rdata)
{
    dns_pkt_t p;

    make_query(&p, buf, 1024);
    dns_pkt_bytes(&p, "\1k\0", 3);
    dns_pkt_u16(&p, DNS_T_TSIG);
    dns_pkt_u16(&p, rclass);
    dns_pkt_u32(&p, 0);
    dns_pkt_u16(&p, (uint16_t)(13 + 10 + maclen + 6 + extra_rdata));
    dns_pkt_bytes(&p, "\13hmac-sha256\0", 13);
    dns_pkt_u16(&p, 0);
    dns_pkt_u32(&p, (uint32_t)NOW);
    dns_pkt_u16(&p, 300);
    dns_pkt_u16(&p, maclen);
    for (unsigned i = 0; i < maclen; i++)
        dns_pkt_bytes(&p, "\0", 1);
    dns_pkt_u16(&p, 0x1234);
    dns_pkt_u16(&p, 0);
    dns_pkt_u16(&p, 0);
    for (size_t i = 0; i < extra_rdata; i++)
        dns_pkt_bytes(&p, "\0", 1);
    dns_put16(buf + 10, 1);
    return p.len;
}

static void test_find_malformed(void **state)
{
    uint8_t buf[1024], mac[DNS_TSIG_MAC_MAX];
    dns_tsig_key_t k;
    dns_tsig_rr_t t;
    dns_pkt_t p;
    size_t len;

    (void)state;
    key(&k, "k", "hmac-sha256", SECRET);
    make_query(&p, buf, sizeof(buf));
    assert_int_equal(dns_tsig_find(buf, p.len, &t), 0); /* none */

    len = raw_tsig(buf, 32, DNS_C_ANY, 0);
    assert_int_equal(dns_tsig_find(buf, len, &t), 1);
    assert_int_equal(dns_tsig_verify(buf, len, &t, &k, NOW), DNS_TSIG_BADSIG);
    /* MAC lengths: over the hash, under half of it, zero */
    len = raw_tsig(buf, 33, DNS_C_ANY, 0);
    assert_int_equal(dns_tsig_find(buf, len, &t), 1);
    assert_int_equal(dns_tsig_verify(buf, len, &t, &k, NOW), -1);
    len = raw_tsig(buf, 15, DNS_C_ANY, 0);
    assert_int_equal(dns_tsig_find(buf, len, &t), 1);
    assert_int_equal(dns_tsig_verify(buf, len, &t, &k, NOW), -1);
    len = raw_tsig(buf, 0, DNS_C_ANY, 0);
    assert_int_equal(dns_tsig_find(buf, len, &t), 1);
    assert_int_equal(dns_tsig_verify(buf, len, &t, &k, NOW), -1);
    /* class not ANY; rdata longer than its fields; cut short */
    len = raw_tsig(buf, 32, DNS_C_IN, 0);
    assert_int_equal(dns_tsig_find(buf, len, &t), -1);
    len = raw_tsig(buf, 32, DNS_C_ANY, 3);
    assert_int_equal(dns_tsig_find(buf, len, &t), -1);
    len = raw_tsig(buf, 32, DNS_C_ANY, 0);
    assert_int_equal(dns_tsig_find(buf, len - 1, &t), -1);
    /* not the last record */
    len = raw_tsig(buf, 32, DNS_C_ANY, 0);
    memcpy(buf + len, "\0\0\1\0\1\0\0\0\0\0\0", 11);
    dns_put16(buf + 10, 2);
    assert_int_equal(dns_tsig_find(buf, len + 11, &t), -1);
    /* in the answer section */
    len = raw_tsig(buf, 32, DNS_C_ANY, 0);
    dns_put16(buf + 10, 0);
    dns_put16(buf + 6, 1);
    assert_int_equal(dns_tsig_find(buf, len, &t), -1);
    /* a compressed owner name */
    make_query(&p, buf, sizeof(buf));
    dns_pkt_ptr(&p, 12);
    assert_int_equal(p.len, 12 + sizeof(question) - 1 + 2);
    {
        dns_pkt_t q;
        uint8_t b2[1024];

        make_query(&q, b2, sizeof(b2));
        assert_int_equal(
            dns_tsig_sign(&q, &k, NULL, 0, 0, NOW, 0, NULL, 0, mac), 32);
        /* replace the owner "\1k\0" by a pointer to the question */
        memcpy(buf + p.len, b2 + 12 + sizeof(question) - 1 + 3,
               q.len - (12 + sizeof(question) - 1 + 3));
        dns_put16(buf + 10, 1);
        assert_int_equal(
            dns_tsig_find(buf, p.len + q.len - (12 + sizeof(question) - 1 + 3),
                          &t),
            -1);
    }
}

static void test_reply_chain(void **state)
{
    uint8_t req[512], r1[512], r2[512], r1copy[512], r2copy[512],
        reqmac[DNS_TSIG_MAC_MAX], mac1[DNS_TSIG_MAC_MAX],
        mac2[DNS_TSIG_MAC_MAX], want[64];
    unsigned wantlen;
    dns_tsig_key_t k;
    dns_pkt_t p, a, b;
    size_t alen, blen;
    uint8_t l[2];

    (void)state;
    key(&k, "k", "hmac-sha256", SECRET);
    make_query(&p, req, sizeof(req));
    assert_int_equal(dns_tsig_sign(&p, &k, NULL, 0, 0, NOW, 0, NULL, 0, reqmac),
                     32);
    /* first reply: request MAC, message, all variables */
    make_query(&a, r1, sizeof(r1));
    r1[2] = 0x84;
    alen = a.len;
    memcpy(r1copy, r1, alen);
    assert_int_equal(
        dns_tsig_sign(&a, &k, reqmac, 32, 0, NOW + 1, 0, NULL, 0, mac1), 32);
    {
        static const uint8_t vars[] = "\1k\0\0\xff\0\0\0\0"
                                      "\13hmac-sha256\0"
                                      "\0\0\x65\x53\xf1\x01\1\x2c\0\0\0\0";
        const uint8_t *parts[] = {l, reqmac, r1copy, vars};
        size_t lens[] = {2, 32, alen, sizeof(vars) - 1};

        dns_put16(l, 32);
        hmac_parts(EVP_sha256(), k.secret, k.secret_len, parts, lens, 4, want,
                   &wantlen);
        assert_memory_equal(mac1, want, 32);
    }
    /* second: previous MAC, message, timers only */
    make_query(&b, r2, sizeof(r2));
    blen = b.len;
    memcpy(r2copy, r2, blen);
    assert_int_equal(
        dns_tsig_sign(&b, &k, mac1, 32, 1, NOW + 2, 0, NULL, 0, mac2), 32);
    {
        static const uint8_t timers[] = "\0\0\x65\x53\xf1\x02\1\x2c";
        const uint8_t *parts[] = {l, mac1, r2copy, timers};
        size_t lens[] = {2, 32, blen, 8};

        hmac_parts(EVP_sha256(), k.secret, k.secret_len, parts, lens, 4, want,
                   &wantlen);
        assert_memory_equal(mac2, want, 32);
    }
}

static void test_unsigned_and_badtime(void **state)
{
    uint8_t req[512], out[512], mac[DNS_TSIG_MAC_MAX];
    static const uint8_t other[6] = {0, 0, 0x65, 0x53, 0xf2, 0};
    dns_tsig_key_t k;
    dns_tsig_rr_t t, r;
    dns_pkt_t p, a;

    (void)state;
    key(&k, "k", "hmac-sha512", SECRET);
    make_query(&p, req, sizeof(req));
    assert_int_equal(dns_tsig_sign(&p, &k, NULL, 0, 0, NOW, 0, NULL, 0, mac),
                     64);
    assert_int_equal(dns_tsig_find(req, p.len, &t), 1);

    make_query(&a, out, sizeof(out));
    assert_int_equal(dns_tsig_append_unsigned(&a, &t, NOW + 5, 17), 0);
    assert_int_equal(dns_tsig_find(out, a.len, &r), 1);
    assert_int_equal(r.mac_len, 0);
    assert_int_equal(r.error, DNS_TSIG_BADKEY);
    assert_true(dns_name_equal(r.name, t.name));
    assert_true(dns_name_equal(r.alg, t.alg));

    /* BADTIME: signed, the request's time, our time in Other Data; it
     * must fit the space reserved for it */
    make_query(&a, out, sizeof(out));
    a.cap = a.len + dns_tsig_space(&k);
    assert_int_equal(dns_tsig_sign(&a, &k, t.mac, t.mac_len, 0, NOW,
                                   DNS_TSIG_BADTIME, other, 6, mac),
                     64);
    assert_int_equal(a.len, a.cap);
    assert_int_equal(dns_tsig_find(out, a.len, &r), 1);
    assert_int_equal(r.error, DNS_TSIG_BADTIME);
    assert_int_equal(r.other_len, 6);
    assert_memory_equal(r.other, other, 6);
    /* one byte less room: nothing written */
    make_query(&a, out, sizeof(out));
    a.cap = a.len + dns_tsig_space(&k) - 1;
    assert_int_equal(dns_tsig_sign(&a, &k, t.mac, t.mac_len, 0, NOW,
                                   DNS_TSIG_BADTIME, other, 6, mac),
                     -1);
    assert_int_equal(dns_get16(out + 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_init),
        cmocka_unit_test(test_sign_verify_request),
        cmocka_unit_test(test_algorithms),
        cmocka_unit_test(test_find_malformed),
        cmocka_unit_test(test_reply_chain),
        cmocka_unit_test(test_unsigned_and_badtime),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

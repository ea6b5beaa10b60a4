/*
 * test_dns_lookup.c - zones and answers (protocols/dns/dns_zone.h): a test
 * zone is loaded from a master file held in memory, queries are built here
 * in wire form, run through dns_query_parse(), dns_reply_start() and
 * dns_answer(), and the response bytes are decoded by this file's own
 * decoder (names decompressed, records collected per section) to check
 * flags, RCODE and every section: positive answers, NXDOMAIN and NODATA,
 * CNAME chains and loops, wildcards and closest enclosers, empty
 * non-terminals, referrals and glue, DS at a cut, additional addresses,
 * ANY, DNSSEC records with DO, truncation, case echo; then zone load
 * errors and the zone transfer stream.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "dns_zone.h"
#include "loom.h"
#include "../dns_decode.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the test zone ------------------------------------------------------ */

#define DS_HEX                                                                 \
    "2BB183AF5F22588179A53B0A98631FAD1A292118D3B7DE1B2D6F71C8A4C3A7F0"

static const char zone_text[] =
    "$TTL 3600\n"
    "@        IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300\n"
    "@        IN NS  ns1\n"
    "@        IN NS  ns2.example.test.\n"
    "@        IN MX  10 mail\n"
    "@        IN A   192.0.2.1\n"
    "ns1      IN A   192.0.2.53\n"
    "ns1      IN AAAA 2001:db8::53\n"
    "ns2      IN A   192.0.2.54\n"
    "mail     IN A   192.0.2.25\n"
    "mail     IN AAAA 2001:db8::25\n"
    "www      IN CNAME web\n"
    "alias    IN CNAME www\n"
    "web      IN A   192.0.2.80\n"
    "web      IN AAAA 2001:db8::80\n"
    "web      IN RRSIG A 13 3 3600 20300101000000 20200101000000 12345 "
    "example.test. c2lnbmF0dXJlLW9mLWE=\n"
    "web      IN NSEC www.example.test. A AAAA RRSIG NSEC\n"
    "web      IN RRSIG NSEC 13 3 300 20300101000000 20200101000000 12345 "
    "example.test. c2lnbmF0dXJlLW9mLW5zZWM=\n"
    "loop1    IN CNAME loop2\n"
    "loop2    IN CNAME loop1\n"
    "self     IN CNAME self\n"
    "out      IN CNAME www.elsewhere.test.\n"
    "tonx     IN CNAME nothere\n"
    "toent    IN CNAME b.ent\n"
    "towild   IN CNAME x.wild\n"
    "*.wild   IN A   192.0.2.99\n"
    "*.wild   IN TXT \"wild\"\n"
    "host.wild IN A  192.0.2.100\n"
    "*.wc     IN CNAME web\n"
    "a.b.ent  IN A   192.0.2.7\n"
    "*.w2     IN A   192.0.2.98\n"
    "x.y.w2   IN A   192.0.2.97\n"
    "_sip._tcp IN SRV 0 5 5060 sip\n"
    "sip      IN A   192.0.2.60\n"
    "sub      IN NS  ns.sub\n"
    "sub      IN NS  ns.other.test.\n"
    "sub      IN DS  12345 13 2 " DS_HEX "\n"
    "ns.sub   IN A   192.0.2.200\n"
    "MiXeD    IN A   192.0.2.5\n"
    "mx2      IN MX  10 mail\n"
    "mx2      IN MX  20 mail\n"
    "other.test. IN A 198.51.100.1\n"
    "x.other.test. IN A 198.51.100.2\n";

#define BIG_N 24

static dns_zone_t *zone;

/* The zone text plus BIG_N TXT records at big.example.test, 60 bytes of
 * text each. */
static int setup_zone(void **state)
{
    size_t cap = sizeof(zone_text) + BIG_N * 100, len;
    char *text = malloc(cap), err[256] = "";

    (void)state;
    if (text == NULL)
        return -1;
    len = (size_t)snprintf(text, cap, "%s", zone_text);
    for (int i = 0; i < BIG_N; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "big IN TXT \"%02d-%057d\"\n", i, i);
    zone =
        dns_zone_load_mem("example.test", text, len, "test", err, sizeof(err));
    free(text);
    if (zone == NULL) {
        fprintf(stderr, "zone: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown_zone(void **state)
{
    (void)state;
    dns_zone_unref(zone);
    zone = NULL;
    return 0;
}

/* ---- queries ------------------------------------------------------------ */

/* Wire form of a plain dotted name (no escapes), absolute. */
static size_t wire_name(uint8_t *out, const char *text)
{
    size_t o = 0;

    while (*text) {
        const char *dot = strchr(text, '.');
        size_t l = dot ? (size_t)(dot - text) : strlen(text);

        assert_true(l > 0 && l <= 63);
        out[o++] = (uint8_t)l;
        memcpy(out + o, text, l);
        o += l;
        text += l;
        if (*text == '.')
            text++;
    }
    out[o++] = 0;
    assert_true(o <= DNS_NAME_MAX);
    return o;
}

#define Q_EDNS 0x1
#define Q_DO 0x2

/* A query for NAME/TYPE (class IN, ID 0x4242, RD) into BUF; with EDNS
 * (payload 1232, DO per FLAGS) when asked.  Returns its length. */
static size_t make_query(uint8_t *buf, const char *name, uint16_t type,
                         unsigned flags)
{
    size_t o = DNS_HDR_LEN;

    memset(buf, 0, DNS_HDR_LEN);
    dns_put16(buf, 0x4242);
    dns_put16(buf + 2, DNS_F_RD);
    dns_put16(buf + 4, 1);
    o += wire_name(buf + o, name);
    dns_put16(buf + o, type);
    dns_put16(buf + o + 2, DNS_C_IN);
    o += 4;
    if (flags & (Q_EDNS | Q_DO)) {
        dns_put16(buf + 10, 1);
        buf[o++] = 0;
        dns_put16(buf + o, DNS_T_OPT);
        dns_put16(buf + o + 2, 1232);
        buf[o + 4] = 0;
        buf[o + 5] = 0;
        buf[o + 6] = (flags & Q_DO) ? 0x80 : 0;
        buf[o + 7] = 0;
        dns_put16(buf + o + 8, 0);
        o += 10;
    }
    return o;
}

/* ---- decoding responses ------------------------------------------------- */

#define MAX_RR 256
#define RD_MAX 1024

typedef struct {
    uint8_t owner[DNS_NAME_MAX];
    char otext[4 * DNS_NAME_MAX + 1]; /* plain dotted, case kept */
    uint16_t type, rclass;
    uint32_t ttl;
    uint8_t rdata[RD_MAX]; /* names inside decompressed */
    size_t rdlen;
} rr_t;

typedef struct {
    uint16_t id, flags, qd, an, ns, ar;
    uint8_t qname[DNS_NAME_MAX];
    size_t qname_len;
    uint16_t qtype, qclass;
    unsigned n[3];
    rr_t rr[3][MAX_RR];
} resp_t;

static void name_str(const uint8_t *n, char *out)
{
    size_t o = 0;

    if (*n == 0) {
        strcpy(out, ".");
        return;
    }
    while (*n) {
        memcpy(out + o, n + 1, *n);
        o += *n;
        out[o++] = '.';
        n += *n + 1;
    }
    out[o] = '\0';
}

/* Rdata of TYPE at OFF (RDLEN bytes), with the names in it decompressed. */
static int get_rdata(const uint8_t *m, size_t len, size_t off, size_t rdlen,
                     uint16_t type, rr_t *rr)
{
    size_t end = off + rdlen, fixed = 0, n, w = 0;
    int names = 0;

    if (end > len)
        return -1;
    switch (type) {
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
    case DNS_T_DNAME:
        names = 1;
        break;
    case DNS_T_MX:
        fixed = 2;
        names = 1;
        break;
    case DNS_T_SRV:
        fixed = 6;
        names = 1;
        break;
    case DNS_T_SOA:
        names = 2;
        break;
    }
    if (names == 0) {
        if (rdlen > RD_MAX)
            return -1;
        memcpy(rr->rdata, m + off, rdlen);
        rr->rdlen = rdlen;
        return 0;
    }
    if (fixed > rdlen)
        return -1;
    memcpy(rr->rdata, m + off, fixed);
    w = fixed;
    off += fixed;
    for (int i = 0; i < names; i++) {
        if ((n = get_name(m, end, &off, rr->rdata + w)) == 0)
            return -1;
        w += n;
    }
    if (type == DNS_T_SOA) {
        if (off + 20 != end)
            return -1;
        memcpy(rr->rdata + w, m + off, 20);
        w += 20;
        off += 20;
    }
    if (off != end)
        return -1;
    rr->rdlen = w;
    return 0;
}

/* Decode a whole response; every byte must be accounted for. */
static int decode(const uint8_t *m, size_t len, resp_t *r)
{
    size_t off = DNS_HDR_LEN;

    memset(r, 0, sizeof(*r));
    if (len < DNS_HDR_LEN)
        return -1;
    r->id = dns_get16(m);
    r->flags = dns_get16(m + 2);
    r->qd = dns_get16(m + 4);
    r->an = dns_get16(m + 6);
    r->ns = dns_get16(m + 8);
    r->ar = dns_get16(m + 10);
    if (r->qd > 1)
        return -1;
    if (r->qd == 1) {
        if ((r->qname_len = get_name(m, len, &off, r->qname)) == 0 ||
            off + 4 > len)
            return -1;
        r->qtype = dns_get16(m + off);
        r->qclass = dns_get16(m + off + 2);
        off += 4;
    }
    for (int s = 0; s < 3; s++) {
        unsigned cnt = s == 0 ? r->an : s == 1 ? r->ns : r->ar;

        if (cnt > MAX_RR)
            return -1;
        for (unsigned i = 0; i < cnt; i++) {
            rr_t *rr = &r->rr[s][i];
            size_t rdlen;

            if (get_name(m, len, &off, rr->owner) == 0 || off + 10 > len)
                return -1;
            name_str(rr->owner, rr->otext);
            rr->type = dns_get16(m + off);
            rr->rclass = dns_get16(m + off + 2);
            rr->ttl = dns_get32(m + off + 4);
            rdlen = dns_get16(m + off + 8);
            off += 10;
            if (off + rdlen > len ||
                get_rdata(m, len, off, rdlen, rr->type, rr) != 0)
                return -1;
            off += rdlen;
        }
        r->n[s] = cnt;
    }
    return off == len ? 0 : -1;
}

/* ---- running queries ---------------------------------------------------- */

static uint8_t qbuf[512], rbuf[DNS_MSG_MAX];
static resp_t resp;
static dns_answer_info_t info;
static size_t resp_len, question_end;

/* Ask NAME/TYPE of ZONE with an answer cap of CAP; decode into resp.
 * Returns the RCODE dns_answer() gave. */
static unsigned ask_zone(const dns_zone_t *z, const char *name, uint16_t type,
                         unsigned flags, size_t cap)
{
    size_t qlen = make_query(qbuf, name, type, flags);
    dns_query_t q;
    dns_pkt_t p;
    unsigned rc;

    assert_int_equal(dns_query_parse(qbuf, qlen, &q), DNS_PARSE_OK);
    dns_pkt_init(&p, rbuf, cap);
    assert_int_equal(dns_reply_start(&p, qbuf, &q, DNS_R_NOERROR), 0);
    question_end = p.len;
    rc = dns_answer(z, &q, &p, &info);
    assert_true(p.len <= cap);
    resp_len = p.len;
    if (decode(rbuf, p.len, &resp) != 0)
        fail_msg("%s/%u: the response does not decode", name, type);
    assert_int_equal(resp.id, 0x4242);
    assert_true(resp.flags & DNS_F_QR);
    assert_true(resp.flags & DNS_F_RD);
    assert_int_equal(resp.flags & 0xf, rc);
    assert_int_equal(resp.qd, 1);
    assert_int_equal(resp.qtype, type);
    assert_int_equal(resp.qclass, DNS_C_IN);
    return rc;
}

static unsigned ask(const char *name, uint16_t type, unsigned flags)
{
    return ask_zone(zone, name, type, flags, 4096);
}

#define AA(r) (((r)->flags & DNS_F_AA) != 0)
#define TC(r) (((r)->flags & DNS_F_TC) != 0)

enum { AN = 0, NS = 1, AR = 2 };

/* Number of records of section SEC owned by OWNER (case-insensitive, with
 * the trailing dot) of TYPE (0: any type). */
static unsigned count(int sec, const char *owner, uint16_t type)
{
    unsigned n = 0;

    for (unsigned i = 0; i < resp.n[sec]; i++) {
        const rr_t *rr = &resp.rr[sec][i];

        if ((owner == NULL || strcasecmp(rr->otext, owner) == 0) &&
            (type == 0 || rr->type == type))
            n++;
    }
    return n;
}

static const rr_t *find(int sec, const char *owner, uint16_t type)
{
    for (unsigned i = 0; i < resp.n[sec]; i++) {
        const rr_t *rr = &resp.rr[sec][i];

        if (strcasecmp(rr->otext, owner) == 0 && rr->type == type)
            return rr;
    }
    return NULL;
}

/* Whether section SEC holds OWNER A (or AAAA) ADDR. */
static int has_addr(int sec, const char *owner, const char *addr)
{
    uint8_t bin[16];
    int v6 = strchr(addr, ':') != NULL;

    assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin), 1);
    for (unsigned i = 0; i < resp.n[sec]; i++) {
        const rr_t *rr = &resp.rr[sec][i];

        if (strcasecmp(rr->otext, owner) == 0 &&
            rr->type == (v6 ? DNS_T_AAAA : DNS_T_A) &&
            rr->rdlen == (v6 ? 16u : 4u) &&
            memcmp(rr->rdata, bin, rr->rdlen) == 0)
            return 1;
    }
    return 0;
}

/* Whether section SEC holds OWNER TYPE with the name TARGET as rdata
 * (after SKIP fixed bytes). */
static int has_name_rr(int sec, const char *owner, uint16_t type, size_t skip,
                       const char *target)
{
    uint8_t w[DNS_NAME_MAX];
    size_t n = wire_name(w, target);

    for (unsigned i = 0; i < resp.n[sec]; i++) {
        const rr_t *rr = &resp.rr[sec][i];

        if (strcasecmp(rr->otext, owner) == 0 && rr->type == type &&
            rr->rdlen == skip + n && dns_name_equal(rr->rdata + skip, w))
            return 1;
    }
    return 0;
}

/* NXDOMAIN/NODATA shape: no answer (unless CNAMEs led there), the SOA in
 * the authority section with the negative TTL. */
static void check_negative(uint32_t ttl)
{
    const rr_t *soa = find(NS, "example.test.", DNS_T_SOA);

    assert_non_null(soa);
    assert_int_equal(count(NS, NULL, DNS_T_SOA), 1);
    assert_int_equal(soa->ttl, ttl);
    assert_true(AA(&resp));
}

/* No record appears twice in any section. */
static void check_no_duplicates(void)
{
    for (int s = 0; s < 3; s++)
        for (unsigned i = 0; i < resp.n[s]; i++)
            for (unsigned j = i + 1; j < resp.n[s]; j++) {
                const rr_t *a = &resp.rr[s][i], *b = &resp.rr[s][j];

                if (a->type == b->type && strcasecmp(a->otext, b->otext) == 0 &&
                    a->rdlen == b->rdlen &&
                    memcmp(a->rdata, b->rdata, a->rdlen) == 0)
                    fail_msg("section %d (%u records): %s type %u appears "
                             "twice",
                             s, resp.n[s], a->otext, a->type);
            }
}

/* ---- positive answers --------------------------------------------------- */

static void test_positive(void **state)
{
    (void)state;
    assert_int_equal(ask("web.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(AA(&resp));
    assert_false(TC(&resp));
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_addr(AN, "web.example.test.", "192.0.2.80"));
    assert_int_equal(resp.rr[AN][0].ttl, 3600);
    assert_int_equal(resp.rr[AN][0].rclass, DNS_C_IN);
    assert_int_equal(resp.n[NS], 0);
    assert_int_equal(resp.n[AR], 0);
    assert_false(info.referral);
    assert_false(info.wildcard);

    assert_int_equal(ask("web.example.test", DNS_T_AAAA, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_addr(AN, "web.example.test.", "2001:db8::80"));

    /* the apex SOA, decoded in full */
    assert_int_equal(ask("example.test", DNS_T_SOA, 0), DNS_R_NOERROR);
    assert_true(AA(&resp));
    assert_int_equal(resp.n[AN], 1);
    {
        const rr_t *soa = find(AN, "example.test.", DNS_T_SOA);
        static const uint8_t rd[] = "\3ns1\7example\4test\0"
                                    "\12hostmaster\7example\4test\0"
                                    "\x78\xa3\xf1\x75" /* 2024010101 */
                                    "\0\0\x1c\x20\0\0\x03\x84"
                                    "\0\x12\x75\0\0\0\x01\x2c";

        assert_non_null(soa);
        assert_int_equal(soa->rdlen, sizeof(rd) - 1);
        assert_memory_equal(soa->rdata, rd, sizeof(rd) - 1);
        assert_int_equal(zone->serial, 2024010101u);
    }
    /* an owner written in mixed case in the zone file */
    assert_int_equal(ask("mixed.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(has_addr(AN, "mixed.example.test.", "192.0.2.5"));
}

static void test_case_echoed(void **state)
{
    static const uint8_t qn[] = "\3WeB\7ExAmPlE\4tEsT";

    (void)state;
    assert_int_equal(ask("WeB.ExAmPlE.tEsT", DNS_T_A, 0), DNS_R_NOERROR);
    /* the question as sent, byte for byte */
    assert_memory_equal(rbuf + DNS_HDR_LEN, qn, sizeof(qn));
    assert_memory_equal(resp.qname, qn, sizeof(qn));
    /* and the owner of the answer is the query name as sent */
    assert_int_equal(resp.n[AN], 1);
    assert_string_equal(resp.rr[AN][0].otext, "WeB.ExAmPlE.tEsT.");
    /* the same for a name synthesised from a wildcard */
    assert_int_equal(ask("FoO.WiLd.example.TEST", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_string_equal(resp.rr[AN][0].otext, "FoO.WiLd.example.TEST.");
}

/* ---- negative answers --------------------------------------------------- */

static void test_nxdomain(void **state)
{
    (void)state;
    assert_int_equal(ask("nothere.example.test", DNS_T_A, 0), DNS_R_NXDOMAIN);
    assert_int_equal(resp.n[AN], 0);
    assert_int_equal(resp.n[NS], 1);
    check_negative(300); /* min(3600, minimum 300) */
    assert_int_equal(ask("deep.below.nothere.example.test", DNS_T_MX, 0),
                     DNS_R_NXDOMAIN);
    check_negative(300);
    /* below a leaf */
    assert_int_equal(ask("x.web.example.test", DNS_T_A, 0), DNS_R_NXDOMAIN);
    check_negative(300);
}

static void test_nodata(void **state)
{
    (void)state;
    assert_int_equal(ask("web.example.test", DNS_T_MX, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    assert_int_equal(resp.n[NS], 1);
    assert_int_equal(resp.n[AR], 0);
    check_negative(300);
    assert_int_equal(ask("example.test", DNS_T_AAAA, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);
}

/* The negative TTL is the SOA's own TTL when that is lower than the
 * minimum field. */
static void test_negative_ttl_soa_lower(void **state)
{
    static const char text[] =
        "@ 60 IN SOA ns1 hostmaster 1 7200 900 1209600 600\n"
        "@ 3600 IN NS ns1\n"
        "ns1 3600 IN A 192.0.2.53\n";
    char err[256] = "";
    dns_zone_t *z = dns_zone_load_mem("example.test", text, strlen(text),
                                      "test", err, sizeof(err));

    (void)state;
    if (z == NULL)
        fail_msg("load: %s", err);
    assert_int_equal(ask_zone(z, "nx.example.test", DNS_T_A, 0, 512),
                     DNS_R_NXDOMAIN);
    check_negative(60);
    assert_int_equal(ask_zone(z, "ns1.example.test", DNS_T_TXT, 0, 512),
                     DNS_R_NOERROR);
    check_negative(60);
    dns_zone_unref(z);
}

/* ---- CNAME -------------------------------------------------------------- */

static void test_cname_chain(void **state)
{
    (void)state;
    /* alias -> www -> web, in order */
    assert_int_equal(ask("alias.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(AA(&resp));
    assert_int_equal(resp.n[AN], 3);
    assert_string_equal(resp.rr[AN][0].otext, "alias.example.test.");
    assert_true(has_name_rr(AN, "alias.example.test.", DNS_T_CNAME, 0,
                            "www.example.test"));
    assert_int_equal(resp.rr[AN][1].type, DNS_T_CNAME);
    assert_true(has_name_rr(AN, "www.example.test.", DNS_T_CNAME, 0,
                            "web.example.test"));
    assert_int_equal(resp.rr[AN][2].type, DNS_T_A);
    assert_true(has_addr(AN, "web.example.test.", "192.0.2.80"));
    assert_int_equal(resp.n[NS], 0);

    /* asking for the CNAME itself does not follow it */
    assert_int_equal(ask("www.example.test", DNS_T_CNAME, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_name_rr(AN, "www.example.test.", DNS_T_CNAME, 0,
                            "web.example.test"));

    /* a target outside the zone: the CNAME alone */
    assert_int_equal(ask("out.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_name_rr(AN, "out.example.test.", DNS_T_CNAME, 0,
                            "www.elsewhere.test"));
    assert_int_equal(resp.n[NS], 0);

    /* a target that does not exist: CNAME, then NXDOMAIN with the SOA */
    assert_int_equal(ask("tonx.example.test", DNS_T_A, 0), DNS_R_NXDOMAIN);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_name_rr(AN, "tonx.example.test.", DNS_T_CNAME, 0,
                            "nothere.example.test"));
    check_negative(300);

    /* a target that is an empty non-terminal: CNAME, then NODATA */
    assert_int_equal(ask("toent.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    check_negative(300);

    /* a target matched by a wildcard: synthesised with the target's name */
    assert_int_equal(ask("towild.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 2);
    assert_true(has_name_rr(AN, "towild.example.test.", DNS_T_CNAME, 0,
                            "x.wild.example.test"));
    assert_true(has_addr(AN, "x.wild.example.test.", "192.0.2.99"));
}

static void test_cname_loop(void **state)
{
    (void)state;
    /* loop1 -> loop2 -> loop1: ends, each CNAME given once */
    assert_int_equal(ask("loop1.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(resp.n[AN] >= 2);
    assert_true(has_name_rr(AN, "loop1.example.test.", DNS_T_CNAME, 0,
                            "loop2.example.test"));
    assert_true(has_name_rr(AN, "loop2.example.test.", DNS_T_CNAME, 0,
                            "loop1.example.test"));
    check_no_duplicates();
    assert_int_equal(resp.n[AN], 2);
}

static void test_cname_self(void **state)
{
    (void)state;
    /* self -> self */
    assert_int_equal(ask("self.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_name_rr(AN, "self.example.test.", DNS_T_CNAME, 0,
                            "self.example.test"));
}

/* ---- wildcards and empty non-terminals ---------------------------------- */

static void test_wildcard(void **state)
{
    (void)state;
    assert_int_equal(ask("foo.wild.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(AA(&resp));
    assert_true(info.wildcard);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_addr(AN, "foo.wild.example.test.", "192.0.2.99"));
    assert_int_equal(count(AN, "*.wild.example.test.", 0), 0);

    /* more than one label below the wildcard's parent */
    assert_int_equal(ask("a.b.c.wild.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(has_addr(AN, "a.b.c.wild.example.test.", "192.0.2.99"));

    /* another type of the wildcard */
    assert_int_equal(ask("foo.wild.example.test", DNS_T_TXT, 0), DNS_R_NOERROR);
    assert_int_equal(count(AN, "foo.wild.example.test.", DNS_T_TXT), 1);
    assert_memory_equal(resp.rr[AN][0].rdata, "\4wild", 5);

    /* a type the wildcard does not have: NODATA */
    assert_int_equal(ask("foo.wild.example.test", DNS_T_MX, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);

    /* a name that exists is answered from its own data */
    assert_int_equal(ask("host.wild.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_false(info.wildcard);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_addr(AN, "host.wild.example.test.", "192.0.2.100"));
    /* ... and its missing types are NODATA, not the wildcard's */
    assert_int_equal(ask("host.wild.example.test", DNS_T_TXT, 0),
                     DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);

    /* the wildcard does not match below an existing name */
    assert_int_equal(ask("x.host.wild.example.test", DNS_T_A, 0),
                     DNS_R_NXDOMAIN);
    assert_false(info.wildcard);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);

    /* *.wild does not answer wild itself (an empty non-terminal) */
    assert_int_equal(ask("wild.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_false(info.wildcard);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);

    /* a CNAME wildcard: owner = qname, then the target followed */
    assert_int_equal(ask("any.wc.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 2);
    assert_true(has_name_rr(AN, "any.wc.example.test.", DNS_T_CNAME, 0,
                            "web.example.test"));
    assert_true(has_addr(AN, "web.example.test.", "192.0.2.80"));
}

static void test_wildcard_ent(void **state)
{
    (void)state;
    /* y.w2 is an empty non-terminal (x.y.w2 exists): NODATA, even though
     * *.w2 would cover it */
    assert_int_equal(ask("y.w2.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_false(info.wildcard);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);
    /* z.w2 does not exist: *.w2 */
    assert_int_equal(ask("z.w2.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(info.wildcard);
    assert_true(has_addr(AN, "z.w2.example.test.", "192.0.2.98"));
    /* below the empty non-terminal: the closest encloser is y.w2, which
     * has no wildcard: NXDOMAIN */
    assert_int_equal(ask("q.y.w2.example.test", DNS_T_A, 0), DNS_R_NXDOMAIN);
    assert_false(info.wildcard);
    check_negative(300);
    assert_int_equal(ask("x.y.w2.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(has_addr(AN, "x.y.w2.example.test.", "192.0.2.97"));
}

static void test_empty_non_terminal(void **state)
{
    (void)state;
    assert_int_equal(ask("b.ent.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);
    assert_int_equal(ask("ent.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);
    assert_int_equal(ask("ent.example.test", DNS_T_ANY, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);
    assert_int_equal(ask("c.ent.example.test", DNS_T_A, 0), DNS_R_NXDOMAIN);
    check_negative(300);
    assert_int_equal(ask("_tcp.example.test", DNS_T_SRV, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    assert_int_equal(ask("a.b.ent.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_true(has_addr(AN, "a.b.ent.example.test.", "192.0.2.7"));
}

/* ---- delegations -------------------------------------------------------- */

static void check_referral(void)
{
    assert_false(AA(&resp));
    assert_true(info.referral);
    assert_int_equal(resp.n[AN], 0);
    assert_int_equal(count(NS, NULL, 0), count(NS, "sub.example.test.", 0));
    assert_int_equal(count(NS, "sub.example.test.", DNS_T_NS), 2);
    assert_true(has_name_rr(NS, "sub.example.test.", DNS_T_NS, 0,
                            "ns.sub.example.test"));
    assert_true(
        has_name_rr(NS, "sub.example.test.", DNS_T_NS, 0, "ns.other.test"));
    assert_int_equal(count(NS, NULL, DNS_T_SOA), 0);
    /* glue for the name server below the cut, nothing for the other */
    assert_true(has_addr(AR, "ns.sub.example.test.", "192.0.2.200"));
    assert_int_equal(count(AR, "ns.other.test.", 0), 0);
}

static void test_referral(void **state)
{
    (void)state;
    assert_int_equal(ask("www.sub.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    check_referral();
    assert_int_equal(resp.n[AR], 1);
    /* the cut itself */
    assert_int_equal(ask("sub.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    check_referral();
    /* NS at the cut are the child's: a referral too */
    assert_int_equal(ask("sub.example.test", DNS_T_NS, 0), DNS_R_NOERROR);
    check_referral();
    /* glue names are below the cut: not answered authoritatively */
    assert_int_equal(ask("ns.sub.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    check_referral();
    /* DS below the cut belongs to the child's zone: a referral */
    assert_int_equal(ask("a.sub.example.test", DNS_T_DS, 0), DNS_R_NOERROR);
    check_referral();
}

static void test_ds_at_cut(void **state)
{
    static const char hex[] = DS_HEX;
    uint8_t rd[4 + 32];

    (void)state;
    rd[0] = 0x30;
    rd[1] = 0x39; /* 12345 */
    rd[2] = 13;
    rd[3] = 2;
    for (int i = 0; i < 32; i++) {
        unsigned v;

        sscanf(hex + 2 * i, "%2x", &v);
        rd[4 + i] = (uint8_t)v;
    }
    assert_int_equal(ask("sub.example.test", DNS_T_DS, 0), DNS_R_NOERROR);
    assert_true(AA(&resp));
    assert_false(info.referral);
    assert_int_equal(resp.n[AN], 1);
    assert_int_equal(resp.rr[AN][0].type, DNS_T_DS);
    assert_string_equal(resp.rr[AN][0].otext, "sub.example.test.");
    assert_int_equal(resp.rr[AN][0].rdlen, sizeof(rd));
    assert_memory_equal(resp.rr[AN][0].rdata, rd, sizeof(rd));
    assert_int_equal(count(NS, NULL, DNS_T_NS), 0);
}

/* ---- additional section ------------------------------------------------- */

static void test_additional(void **state)
{
    (void)state;
    /* MX: the exchange's A and AAAA */
    assert_int_equal(ask("example.test", DNS_T_MX, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_true(
        has_name_rr(AN, "example.test.", DNS_T_MX, 2, "mail.example.test"));
    assert_int_equal(resp.rr[AN][0].rdata[1], 10);
    assert_true(has_addr(AR, "mail.example.test.", "192.0.2.25"));
    assert_true(has_addr(AR, "mail.example.test.", "2001:db8::25"));
    assert_int_equal(resp.n[AR], 2);

    /* NS: each server's addresses */
    assert_int_equal(ask("example.test", DNS_T_NS, 0), DNS_R_NOERROR);
    assert_true(AA(&resp));
    assert_int_equal(resp.n[AN], 2);
    assert_true(has_addr(AR, "ns1.example.test.", "192.0.2.53"));
    assert_true(has_addr(AR, "ns1.example.test.", "2001:db8::53"));
    assert_true(has_addr(AR, "ns2.example.test.", "192.0.2.54"));
    assert_int_equal(resp.n[AR], 3);

    /* SRV: the target's address */
    assert_int_equal(ask("_sip._tcp.example.test", DNS_T_SRV, 0),
                     DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_true(has_name_rr(AN, "_sip._tcp.example.test.", DNS_T_SRV, 6,
                            "sip.example.test"));
    assert_true(has_addr(AR, "sip.example.test.", "192.0.2.60"));
    assert_int_equal(resp.n[AR], 1);
    /* the SRV target goes uncompressed (RFC 2782, RFC 3597 4) */
    assert_non_null(memmem(rbuf, resp_len,
                           "\0\0\0\5\x13\xc4"
                           "\3sip\7example\4test",
                           24));

    /* two exchanges with the same name: its addresses once */
    assert_int_equal(ask("mx2.example.test", DNS_T_MX, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 2);
    assert_int_equal(resp.n[AR], 2);
    check_no_duplicates();

    /* A answers get nothing additional */
    assert_int_equal(ask("ns1.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AR], 0);
}

/* ---- ANY ---------------------------------------------------------------- */

static void test_any(void **state)
{
    const char *names[] = {"example.test", "web.example.test",
                           "ns1.example.test", "foo.wild.example.test",
                           "big.example.test"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        assert_int_equal(ask(names[i], DNS_T_ANY, 0), DNS_R_NOERROR);
        assert_true(AA(&resp));
        assert_true(resp.n[AN] >= 1);
        /* exactly one RRset: one owner, one type */
        for (unsigned k = 1; k < resp.n[AN]; k++) {
            assert_int_equal(resp.rr[AN][k].type, resp.rr[AN][0].type);
            assert_string_equal(resp.rr[AN][k].otext, resp.rr[AN][0].otext);
        }
        assert_true(resp.rr[AN][0].type != DNS_T_RRSIG);
        /* and the whole set */
        {
            uint8_t w[DNS_NAME_MAX];
            const dns_node_t *n;
            const dns_rrset_t *set;

            wire_name(w, names[i]);
            n = dns_zone_find(zone, w);
            if (n == NULL) /* the wildcard */
                n = dns_zone_find(zone,
                                  (const uint8_t *)"\1*\4wild\7example\4test");
            assert_non_null(n);
            set = dns_node_rrset(n, resp.rr[AN][0].type);
            assert_non_null(set);
            assert_int_equal(resp.n[AN], set->count);
        }
    }
}

/* ---- DNSSEC records ----------------------------------------------------- */

static void test_dnssec(void **state)
{
    const rr_t *sig;

    (void)state;
    /* DO: the answer's RRSIG follows it */
    assert_int_equal(ask("web.example.test", DNS_T_A, Q_DO), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 2);
    assert_true(has_addr(AN, "web.example.test.", "192.0.2.80"));
    sig = find(AN, "web.example.test.", DNS_T_RRSIG);
    assert_non_null(sig);
    assert_int_equal(dns_get16(sig->rdata), DNS_T_A); /* type covered */
    /* the NSEC's RRSIG is not for this answer */
    assert_int_equal(count(AN, NULL, DNS_T_RRSIG), 1);

    /* no DO, no RRSIG (EDNS present) */
    assert_int_equal(ask("web.example.test", DNS_T_A, Q_EDNS), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);
    assert_int_equal(count(AN, NULL, DNS_T_RRSIG), 0);
    /* nor without EDNS at all */
    assert_int_equal(ask("web.example.test", DNS_T_A, 0), DNS_R_NOERROR);
    assert_int_equal(count(AN, NULL, DNS_T_RRSIG), 0);

    /* an unsigned set with DO: no RRSIG */
    assert_int_equal(ask("web.example.test", DNS_T_AAAA, Q_DO), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 1);

    /* a CNAME chain to a signed set */
    assert_int_equal(ask("www.example.test", DNS_T_A, Q_DO), DNS_R_NOERROR);
    assert_int_equal(count(AN, "web.example.test.", DNS_T_RRSIG), 1);

    /* NODATA with DO: the NSEC and its RRSIG in the authority section */
    assert_int_equal(ask("web.example.test", DNS_T_MX, Q_DO), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 0);
    check_negative(300);
    assert_int_equal(count(NS, "web.example.test.", DNS_T_NSEC), 1);
    sig = find(NS, "web.example.test.", DNS_T_RRSIG);
    assert_non_null(sig);
    assert_int_equal(dns_get16(sig->rdata), DNS_T_NSEC);
    /* and without DO, just the SOA */
    assert_int_equal(ask("web.example.test", DNS_T_MX, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[NS], 1);

    /* asking for RRSIG: every RRSIG of the name */
    assert_int_equal(ask("web.example.test", DNS_T_RRSIG, 0), DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 2);
    assert_int_equal(count(AN, "web.example.test.", DNS_T_RRSIG), 2);
}

/* ---- truncation --------------------------------------------------------- */

static void test_truncation(void **state)
{
    (void)state;
    /* all BIG_N records fit in 4096 */
    assert_int_equal(ask("big.example.test", DNS_T_TXT, 0), DNS_R_NOERROR);
    assert_false(TC(&resp));
    assert_int_equal(resp.n[AN], BIG_N);
    assert_true(resp_len > 512);
    /* not in 512: TC, the question alone */
    assert_int_equal(ask_zone(zone, "big.example.test", DNS_T_TXT, 0, 512),
                     DNS_R_NOERROR);
    assert_true(TC(&resp));
    assert_int_equal(resp.an, 0);
    assert_int_equal(resp.ns, 0);
    assert_int_equal(resp.ar, 0);
    assert_int_equal(resp_len, question_end);
    /* every cap between: either everything, or TC with nothing */
    for (size_t cap = 60; cap < 1600; cap += 7) {
        ask_zone(zone, "big.example.test", DNS_T_TXT, 0, cap);
        if (TC(&resp)) {
            assert_int_equal(resp.an + resp.ns + resp.ar, 0);
            assert_int_equal(resp_len, question_end);
        } else {
            assert_int_equal(resp.n[AN], BIG_N);
        }
    }
    /* the additional section is cut, not the answer: MX with no room
     * for the addresses */
    ask_zone(zone, "example.test", DNS_T_MX, 0, 4096);
    {
        size_t full = resp_len, mx_only = question_end + 2 + 10 + 2 + 7;

        assert_int_equal(resp.n[AR], 2);
        assert_int_equal(ask_zone(zone, "example.test", DNS_T_MX, 0, mx_only),
                         DNS_R_NOERROR);
        assert_false(TC(&resp));
        assert_int_equal(resp.n[AN], 1);
        assert_int_equal(resp.n[AR], 0);
        assert_int_equal(resp_len, mx_only);
        ask_zone(zone, "example.test", DNS_T_MX, 0, full - 1);
        assert_false(TC(&resp));
        assert_int_equal(resp.n[AN], 1);
        assert_int_equal(resp.n[AR], 1);
    }
    /* a CNAME chain, the records after a CNAME, a referral with its glue:
     * all or nothing at every cap */
    {
        static const struct {
            const char *name;
            uint16_t type;
            unsigned an, ns;
        } whole[] = {
            {"alias.example.test", DNS_T_A, 3, 0},
            {"tonx.example.test", DNS_T_A, 1, 1},
            {"www.sub.example.test", DNS_T_A, 0, 2},
        };

        for (size_t i = 0; i < ARRAY_LEN(whole); i++)
            for (size_t cap = DNS_HDR_LEN + strlen(whole[i].name) + 2 + 4;
                 cap < 300; cap++) {
                ask_zone(zone, whole[i].name, whole[i].type, 0, cap);
                if (TC(&resp)) {
                    assert_int_equal(resp.an + resp.ns + resp.ar, 0);
                    assert_int_equal(resp_len, question_end);
                } else {
                    assert_int_equal(resp.n[AN], whole[i].an);
                    assert_int_equal(resp.n[NS], whole[i].ns);
                }
            }
    }
    /* NXDOMAIN whose SOA does not fit: TC */
    assert_int_equal(ask_zone(zone, "nothere.example.test", DNS_T_A, 0, 50),
                     DNS_R_NXDOMAIN);
    assert_true(TC(&resp));
    assert_int_equal(resp.ns, 0);
}

/* ---- reply helpers ------------------------------------------------------ */

static void test_reply_start_opt(void **state)
{
    uint8_t q[64], out[128];
    size_t qlen;
    dns_query_t pq;
    dns_pkt_t p;

    (void)state;
    qlen = make_query(q, "WWW.example.test", DNS_T_A, Q_DO);
    /* opcode 2, AA, TC, RD, CD, AD and Z bits in the query */
    dns_put16(q + 2, 0x1000 | DNS_F_AA | DNS_F_TC | DNS_F_RD | DNS_F_CD |
                         DNS_F_AD | 0x40);
    assert_int_equal(dns_query_parse(q, qlen, &pq), DNS_PARSE_OK);
    dns_pkt_init(&p, out, sizeof(out));
    assert_int_equal(dns_reply_start(&p, q, &pq, DNS_R_REFUSED), 0);
    assert_int_equal(p.len, pq.question_end);
    assert_int_equal(dns_get16(out), 0x4242);
    /* QR, opcode and RCODE; RD and CD are copied for QUERY only */
    assert_int_equal(dns_get16(out + 2), DNS_F_QR | 0x1000 | DNS_R_REFUSED);
    dns_put16(q + 2, DNS_F_AA | DNS_F_TC | DNS_F_RD | DNS_F_CD | DNS_F_AD);
    assert_int_equal(dns_query_parse(q, qlen, &pq), DNS_PARSE_OK);
    assert_int_equal(dns_reply_start(&p, q, &pq, DNS_R_REFUSED), 0);
    assert_int_equal(dns_get16(out + 2),
                     DNS_F_QR | DNS_F_RD | DNS_F_CD | DNS_R_REFUSED);
    assert_int_equal(dns_get16(out + 4), 1);
    assert_int_equal(dns_get16(out + 6), 0);
    assert_int_equal(dns_get16(out + 8), 0);
    assert_int_equal(dns_get16(out + 10),
                     0); /* the query's OPT is not copied */
    assert_memory_equal(out + DNS_HDR_LEN, q + DNS_HDR_LEN,
                        pq.question_end - DNS_HDR_LEN);
    /* OPT: root, type 41, our size, extended RCODE, version 0, DO */
    assert_int_equal(dns_reply_opt(&p, 1400, DNS_R_BADVERS, 1), 0);
    assert_int_equal(p.len, pq.question_end + 11);
    assert_memory_equal(out + pq.question_end,
                        "\0\0\x29\x05\x78\x01\0\x80\0\0\0", 11);
    assert_int_equal(dns_get16(out + 10), 1);
    assert_int_equal(dns_reply_opt(&p, 512, 0, 0), 0);
    assert_memory_equal(out + pq.question_end + 11,
                        "\0\0\x29\x02\0\0\0\0\0\0\0", 11);
    assert_int_equal(dns_get16(out + 10), 2);
    /* a record of any class, its owner compressed against the question */
    assert_int_equal(dns_reply_rr(&p, 0,
                                  (const uint8_t *)"\3www\7example"
                                                   "\4test",
                                  DNS_T_TXT, DNS_C_CH, 7,
                                  (const uint8_t *)"\2hi", 3),
                     0);
    assert_memory_equal(out + pq.question_end + 22,
                        "\xc0\x0c\0\x10\0\3\0\0\0\7\0\3\2hi", 15);
    assert_int_equal(dns_get16(out + 6), 1);
    assert_int_equal(dns_reply_rr(&p, 2,
                                  (const uint8_t *)"\2ns\7example"
                                                   "\4test",
                                  DNS_T_A, DNS_C_IN, 7,
                                  (const uint8_t *)"\1\2\3\4", 4),
                     0);
    assert_memory_equal(out + pq.question_end + 37, "\2ns\xc0\x10", 5);
    assert_int_equal(dns_get16(out + 10), 3);
    /* OPT that does not fit: -1, nothing counted */
    p.cap = p.len + 10;
    assert_int_equal(dns_reply_opt(&p, 512, 0, 0), -1);
    assert_int_equal(dns_get16(out + 10), 3);
    /* nor a record */
    {
        size_t before = p.len;

        assert_int_equal(dns_reply_rr(&p, 0, (const uint8_t *)"", DNS_T_A,
                                      DNS_C_IN, 1, (const uint8_t *)"\1\2\3\4",
                                      4),
                         -1);
        assert_int_equal(p.len, before);
        assert_int_equal(dns_get16(out + 6), 1);
    }
    /* a reply without a question */
    pq.qname = NULL;
    dns_pkt_init(&p, out, sizeof(out));
    assert_int_equal(dns_reply_start(&p, q, &pq, DNS_R_FORMERR), 0);
    assert_int_equal(p.len, DNS_HDR_LEN);
    assert_int_equal(dns_get16(out + 4), 0);
    assert_int_equal(dns_get16(out + 2) & 0xf, DNS_R_FORMERR);
    /* a question that does not fit */
    assert_int_equal(make_query(q, "www.example.test", DNS_T_A, 0), 34);
    assert_int_equal(dns_query_parse(q, 34, &pq), DNS_PARSE_OK);
    dns_pkt_init(&p, out, 33);
    assert_int_equal(dns_reply_start(&p, q, &pq, 0), -1);
}

/* An answer after dns_reply_start with the room for OPT taken off, then the
 * OPT added as the server does: a complete, decodable message. */
static void test_answer_then_opt(void **state)
{
    uint8_t q[64];
    size_t qlen;
    dns_query_t pq;
    dns_pkt_t p;

    (void)state;
    qlen = make_query(q, "web.example.test", DNS_T_A, Q_DO);
    assert_int_equal(dns_query_parse(q, qlen, &pq), DNS_PARSE_OK);
    dns_pkt_init(&p, rbuf, 512);
    p.cap = 512 - 11;
    assert_int_equal(dns_reply_start(&p, q, &pq, 0), 0);
    assert_int_equal(dns_answer(zone, &pq, &p, &info), DNS_R_NOERROR);
    p.cap += 11;
    assert_int_equal(dns_reply_opt(&p, 1232, 0, pq.do_bit), 0);
    assert_int_equal(decode(rbuf, p.len, &resp), 0);
    assert_int_equal(resp.n[AN], 2);
    assert_int_equal(resp.n[AR], 1);
    assert_int_equal(resp.rr[AR][0].type, DNS_T_OPT);
    assert_int_equal(resp.rr[AR][0].rclass, 1232);
    assert_int_equal(resp.rr[AR][0].ttl, 0x8000);
}

/* ---- zone loading ------------------------------------------------------- */

#define SOA_LINE "@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
#define NS_LINE "@ IN NS ns1\n"
#define NS1_LINE "ns1 IN A 192.0.2.53\n"

static void test_load_errors(void **state)
{
    static const struct {
        const char *text;
        const char *err; /* NULL: loads */
    } cases[] = {
        /* a missing SOA is reported at the first record, where it
         * belongs; missing NS records at the SOA; no record at all names
         * the zone (the caller places it at its file option) */
        {NS_LINE NS1_LINE,
         "(memory):1: zone example.test has no SOA record at its apex (the "
         "zone's first record should be its SOA)"},
        {"\n; only a comment\n",
         "zone \"example.test\": (memory) holds no records (a zone needs at "
         "least an SOA and an NS record)"},
        {"elsewhere.test. IN A 192.0.2.1\n",
         "(memory):1: zone example.test has no records: this one and every "
         "other is outside the zone (check $ORIGIN and the names)"},
        {SOA_LINE NS_LINE
         "@ IN SOA ns2 hostmaster 2 7200 900 1209600 300\n" NS1_LINE,
         "(memory):3: a second SOA record for zone example.test"},
        {SOA_LINE NS1_LINE "x IN A 192.0.2.9\n",
         "(memory):1: zone example.test has no NS records at its apex (they "
         "belong beside the SOA record)"},
        {NS1_LINE SOA_LINE "sub IN NS ns1\n",
         "(memory):2: zone example.test has no NS records at its apex (they "
         "belong beside the SOA record)"},
        {SOA_LINE NS_LINE NS1_LINE "sub IN SOA ns1 h 1 2 3 4 5\n",
         "(memory):4: SOA record not at the zone apex example.test"},
        {SOA_LINE NS_LINE NS1_LINE "x IN A 192.0.2.9\nx IN CNAME web\n",
         "(memory):5: CNAME and other data for the same name"},
        {SOA_LINE NS_LINE NS1_LINE "x IN CNAME web\nx IN TXT \"t\"\n",
         "(memory):5: CNAME and other data for the same name"},
        /* the first record to conflict is named, whatever the types */
        {SOA_LINE NS_LINE NS1_LINE "x IN CNAME web\nx IN MX 1 a\n"
                                   "x IN A 192.0.2.9\n",
         "(memory):5: CNAME and other data for the same name"},
        {SOA_LINE NS_LINE NS1_LINE "x IN CNAME a\ny IN A 192.0.2.1\n"
                                   "x IN CNAME b\n",
         "(memory):6: a second CNAME record for the same name"},
        /* RRSIG and NSEC may sit beside a CNAME */
        {SOA_LINE NS_LINE NS1_LINE
         "x IN CNAME web\n"
         "x IN NSEC z.example.test. CNAME RRSIG NSEC\n"
         "x IN RRSIG CNAME 13 3 300 20300101000000 "
         "20200101000000 1 example.test. AAAA\n",
         NULL},
        /* records outside the zone are skipped */
        {SOA_LINE NS_LINE NS1_LINE "elsewhere.test. IN A 192.0.2.1\n"
                                   "test. IN SOA a b 1 2 3 4 5\n",
         NULL},
        /* a syntax error is reported by the reader with its line */
        {SOA_LINE NS_LINE "ns1 IN A 300.0.0.1\n", "(memory):3:"},
    };
    char err[512];
    int failures = 0;

    (void)state;
    /* every case is tried; the failures are listed, then fail the test */
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        dns_zone_t *z;
        size_t elen = cases[i].err ? strlen(cases[i].err) : 0;

        memset(err, 0, sizeof(err));
        z = dns_zone_load_mem("example.test", cases[i].text,
                              strlen(cases[i].text), "test", err, sizeof(err));
        if (cases[i].err == NULL) {
            if (z == NULL) {
                print_error("case %zu: did not load: %s\n", i, err);
                failures++;
            }
            dns_zone_unref(z);
            continue;
        }
        if (z != NULL) {
            dns_zone_unref(z);
            print_error("case %zu: loaded, expected \"%s\"\n", i, cases[i].err);
            failures++;
            continue;
        }
        /* "(memory):3:" checks the prefix only (the reader's message) */
        if (cases[i].err[elen - 1] == ':' ? strncmp(err, cases[i].err, elen)
                                          : strcmp(err, cases[i].err)) {
            print_error("case %zu: error \"%s\", expected \"%s\"\n", i, err,
                        cases[i].err);
            failures++;
        }
        assert_null(strchr(err, '\n'));
    }
    assert_int_equal(failures, 0);
    /* a zone name that is not a name */
    assert_null(dns_zone_load_mem("a..b", SOA_LINE, strlen(SOA_LINE), "test",
                                  err, sizeof(err)));
    assert_true(err[0] != '\0');
}

static void test_out_of_zone_skipped(void **state)
{
    uint8_t w[DNS_NAME_MAX];

    (void)state;
    wire_name(w, "other.test");
    assert_null(dns_zone_find(zone, w));
    wire_name(w, "x.other.test");
    assert_null(dns_zone_find(zone, w));
    for (size_t i = 0; i < zone->nnodes; i++)
        assert_true(dns_name_under(zone->nodes[i]->name, zone->apex));
    /* the apex first, and the zone's facts */
    assert_ptr_equal(zone->nodes[0], zone->apex_node);
    assert_true(zone->apex_node->flags & DNS_NODE_APEX);
    assert_memory_equal(zone->apex, "\7example\4test", 14);
    assert_string_equal(zone->name, "example.test");
    /* lookups are case-insensitive; cuts are marked */
    wire_name(w, "SUB.Example.TEST");
    assert_non_null(dns_zone_find(zone, w));
    assert_true(dns_zone_find(zone, w)->flags & DNS_NODE_CUT);
    wire_name(w, "web.example.test");
    assert_false(dns_zone_find(zone, w)->flags & DNS_NODE_CUT);
}

/* Duplicate records are merged; an RRset gets the lowest TTL. */
static void test_load_sets(void **state)
{
    static const char text[] =
        SOA_LINE NS_LINE NS1_LINE "x 100 IN A 192.0.2.1\n"
                                  "x 50 IN A 192.0.2.2\n"
                                  "X 200 IN A 192.0.2.1\n"
                                  "x 10 IN TXT \"a\"\n";
    char err[256] = "";
    dns_zone_t *z = dns_zone_load_mem("example.test", text, strlen(text),
                                      "test", err, sizeof(err));

    (void)state;
    if (z == NULL)
        fail_msg("load: %s", err);
    assert_int_equal(ask_zone(z, "x.example.test", DNS_T_A, 0, 512),
                     DNS_R_NOERROR);
    assert_int_equal(resp.n[AN], 2);
    assert_int_equal(resp.rr[AN][0].ttl, 50);
    assert_int_equal(resp.rr[AN][1].ttl, 50);
    assert_int_equal(z->nrecords, 6);
    dns_zone_unref(z);
}

/* ---- zone transfer ------------------------------------------------------ */

typedef struct {
    uint8_t owner[DNS_NAME_MAX];
    uint16_t type;
    uint32_t ttl;
    uint8_t rdata[RD_MAX];
    size_t rdlen;
    int seen;
} xrec_t;

static void run_axfr(size_t cap, unsigned *messages)
{
    static xrec_t want[512];
    static rr_t got[1024];
    static uint8_t out[DNS_MSG_MAX];
    size_t nwant = 0, ngot = 0;
    uint8_t q[64];
    size_t qlen = make_query(q, "example.test", DNS_T_AXFR, 0);
    dns_query_t pq;
    dns_axfr_t x;
    int more = 1;

    /* what the zone holds */
    for (size_t i = 0; i < zone->nnodes; i++) {
        const dns_node_t *n = zone->nodes[i];

        for (unsigned s = 0; s < n->nrrsets; s++) {
            const dns_rrset_t *set = &n->rrsets[s];
            const uint8_t *d = set->data;

            for (uint32_t k = 0; k < set->count; k++) {
                xrec_t *w = &want[nwant++];

                assert_true(nwant < ARRAY_LEN(want));
                memcpy(w->owner, n->name, dns_name_len(n->name, 255));
                w->type = set->type;
                w->ttl = set->ttl;
                w->rdlen = dns_get16(d);
                assert_true(w->rdlen <= RD_MAX);
                memcpy(w->rdata, d + 2, w->rdlen);
                w->seen = 0;
                d += 2 + w->rdlen;
            }
            assert_ptr_equal(d, set->data + set->size);
        }
    }
    assert_int_equal(nwant, zone->nrecords);

    assert_int_equal(dns_query_parse(q, qlen, &pq), DNS_PARSE_OK);
    dns_axfr_init(&x, zone);
    *messages = 0;
    while (more) {
        dns_pkt_t p;

        dns_pkt_init(&p, out, cap);
        assert_int_equal(dns_reply_start(&p, q, &pq, DNS_R_NOERROR), 0);
        more = dns_axfr_fill(&x, &p);
        assert_true(p.len <= cap);
        assert_int_equal(decode(out, p.len, &resp), 0);
        assert_int_equal(resp.n[NS], 0);
        assert_int_equal(resp.n[AR], 0);
        assert_true(resp.n[AN] > 0); /* progress in every message */
        for (unsigned i = 0; i < resp.n[AN]; i++) {
            assert_true(ngot < ARRAY_LEN(got));
            got[ngot++] = resp.rr[AN][i];
        }
        ++*messages;
        assert_true(*messages < 1000);
    }
    /* SOA first and last, and nowhere else */
    assert_true(ngot >= 2);
    assert_int_equal(got[0].type, DNS_T_SOA);
    assert_int_equal(got[ngot - 1].type, DNS_T_SOA);
    assert_memory_equal(got[0].rdata, got[ngot - 1].rdata, got[0].rdlen);
    for (size_t i = 1; i + 1 < ngot; i++)
        assert_int_not_equal(got[i].type, DNS_T_SOA);
    /* every record exactly once (the SOA counted once) */
    assert_int_equal(ngot, nwant + 1);
    for (size_t i = 0; i + 1 < ngot; i++) {
        const rr_t *g = &got[i];
        size_t k;

        for (k = 0; k < nwant; k++) {
            xrec_t *w = &want[k];

            if (!w->seen && w->type == g->type && w->ttl == g->ttl &&
                dns_name_equal(w->owner, g->owner) && w->rdlen == g->rdlen &&
                memcmp(w->rdata, g->rdata, g->rdlen) == 0) {
                w->seen = 1;
                break;
            }
        }
        if (k == nwant)
            fail_msg("record %zu (%s type %u) not in the zone, or twice", i,
                     g->otext, g->type);
    }
}

static void test_axfr(void **state)
{
    unsigned messages;

    (void)state;
    run_axfr(DNS_MSG_MAX, &messages);
    assert_int_equal(messages, 1);
    run_axfr(1000, &messages);
    assert_true(messages > 1);
    run_axfr(250, &messages);
    assert_true(messages > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive),
        cmocka_unit_test(test_case_echoed),
        cmocka_unit_test(test_nxdomain),
        cmocka_unit_test(test_nodata),
        cmocka_unit_test(test_negative_ttl_soa_lower),
        cmocka_unit_test(test_cname_chain),
        cmocka_unit_test(test_cname_loop),
        cmocka_unit_test(test_cname_self),
        cmocka_unit_test(test_wildcard),
        cmocka_unit_test(test_wildcard_ent),
        cmocka_unit_test(test_empty_non_terminal),
        cmocka_unit_test(test_referral),
        cmocka_unit_test(test_ds_at_cut),
        cmocka_unit_test(test_additional),
        cmocka_unit_test(test_any),
        cmocka_unit_test(test_dnssec),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_reply_start_opt),
        cmocka_unit_test(test_answer_then_opt),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_out_of_zone_skipped),
        cmocka_unit_test(test_load_sets),
        cmocka_unit_test(test_axfr),
    };

    loom_log_setup(LOOM_LOG_ERROR, 0);
    return cmocka_run_group_tests_name("dns_lookup", tests, setup_zone,
                                       teardown_zone);
}

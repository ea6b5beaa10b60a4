/*
 * fuzz_dns_query.c - libFuzzer target: DNS query parsing and answering.
 *
 * A zone is built once from the master file below.  Each input is one
 * byte that sets the size limit of the answer, then a DNS request.  The
 * request goes through dns_query_parse(); a FORMERR gets its reply header;
 * a query the server would answer from the zone (QUERY opcode, class IN,
 * a name in the zone, a type dns.c passes on) goes through
 * dns_reply_start() and dns_answer() - with the room for OPT taken off and
 * the OPT appended after, as dns.c does, when the query has EDNS.
 * Invariants: the response fits its limit; it decodes completely with
 * this file's own decoder (counts as in the header, names decompressed
 * through backward pointers only, no byte left over); ID, QR, RD and the
 * question are echoed byte for byte; the header RCODE is the one returned;
 * TC means no records; a referral has AA clear and no answers; NXDOMAIN
 * carries the SOA unless truncated; the first answer is owned by the query
 * name; no truncation when the limit exceeds the whole zone; and the same
 * query answered again gives the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns_zone.h"
#include "loom.h"
#include "../dns_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char zone_text[] =
    "$TTL 3600\n"
    "@        IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300\n"
    "@        IN NS  ns1\n"
    "@        IN NS  ns2.example.test.\n"
    "@        IN MX  10 mail\n"
    "@        IN MX  20 mail.other.test.\n"
    "@        IN A   192.0.2.1\n"
    "@        IN TXT \"v=spf1 -all\"\n"
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
    "loop2    IN CNAME loop3\n"
    "loop3    IN CNAME loop1\n"
    "self     IN CNAME self\n"
    "out      IN CNAME www.elsewhere.test.\n"
    "tonx     IN CNAME nothere\n"
    "todeleg  IN CNAME www.sub\n"
    "towild   IN CNAME x.wild\n"
    "*.wild   IN A   192.0.2.99\n"
    "*.wild   IN TXT \"wild\"\n"
    "*.wild   IN MX  5 mail\n"
    "host.wild IN A  192.0.2.100\n"
    "*.wc     IN CNAME web\n"
    "*.wl     IN CNAME a.wl\n"
    "a.b.ent  IN A   192.0.2.7\n"
    "_sip._tcp IN SRV 0 5 5060 sip\n"
    "_sip._tcp IN SRV 1 5 5060 mail\n"
    "sip      IN A   192.0.2.60\n"
    "ptr      IN PTR web\n"
    "sub      IN NS  ns.sub\n"
    "sub      IN NS  ns.other.test.\n"
    "sub      IN NS  ns1\n"
    "sub      IN DS  12345 13 2 "
    "2BB183AF5F22588179A53B0A98631FAD1A292118D3B7DE1B2D6F71C8A4C3A7F0\n"
    "sub      IN RRSIG DS 13 3 3600 20300101000000 20200101000000 12345 "
    "example.test. c2lnbmF0dXJlLW9mLWRz\n"
    "ns.sub   IN A   192.0.2.200\n"
    "ns.sub   IN AAAA 2001:db8::200\n"
    "nods     IN NS  ns.nods\n"
    "nods     IN NSEC ptr.example.test. NS NSEC RRSIG\n"
    "ns.nods  IN A   192.0.2.201\n"
    "MiXeD    IN A   192.0.2.5\n"
    "a\\.b     IN A   192.0.2.6\n"
    "\\000\\255 IN A  192.0.2.8\n"
    "caa      IN CAA 0 issue \"ca.example\"\n"
    "unk      IN TYPE65000 \\# 3 010203\n"
    "big      IN TXT "
    "\"00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"01-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"02-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"03-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"04-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"05-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"06-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"07-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"08-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"09-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"10-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big      IN TXT "
    "\"11-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
    "ddddddddddddddddddddddddddddddddddddddd IN CNAME long2\n"
    "long2    IN MX 1 "
    "long.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
    "ddddddddddddddddddddddddddddddddddddddd\n"
    "other.test. IN A 198.51.100.1\n";

/* Bigger than the whole zone on the wire, with room to spare. */
#define ZONE_FITS 8192

static dns_zone_t *zone;

static void zone_init(void)
{
    char err[256];

    if (zone)
        return;
    loom_log_setup(LOOM_LOG_ERROR, 0);
    zone = dns_zone_load_mem("example.test", zone_text, sizeof(zone_text) - 1,
                             "fuzz", err, sizeof(err));
    if (zone == NULL) {
        /* the harness is broken, not the input */
        (void)!write(2, err, strlen(err));
        abort();
    }
}

/* ---- decoding the response ---------------------------------------------- */

typedef struct {
    uint16_t id, flags, qd, count[3];
    size_t question_end;
    uint8_t first_owner[DNS_NAME_MAX]; /* of the first answer */
    int soa_in_authority;
} resp_t;

/* The rdata of TYPE, LEN bytes at OFF: names inside must decompress and
 * fill it exactly. */
static int check_rdata(const uint8_t *m, size_t off, size_t end, uint16_t type)
{
    size_t fixed = 0;
    int names = 0;

    switch (type) {
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
        names = 1;
        break;
    case DNS_T_MX:
        fixed = 2;
        names = 1;
        break;
    case DNS_T_SOA:
        names = 2;
        break;
    default:
        return 0;
    }
    if (off + fixed > end)
        return -1;
    off += fixed;
    for (int i = 0; i < names; i++)
        if (get_name(m, end, &off, NULL) == 0)
            return -1;
    if (type == DNS_T_SOA)
        off += 20;
    return off == end ? 0 : -1;
}

static int decode(const uint8_t *m, size_t len, resp_t *r)
{
    size_t off = DNS_HDR_LEN;

    memset(r, 0, sizeof(*r));
    if (len < DNS_HDR_LEN)
        return -1;
    r->id = dns_get16(m);
    r->flags = dns_get16(m + 2);
    r->qd = dns_get16(m + 4);
    for (int s = 0; s < 3; s++)
        r->count[s] = dns_get16(m + 6 + 2 * s);
    if (r->qd > 1)
        return -1;
    if (r->qd == 1) {
        if (get_name(m, len, &off, NULL) == 0 || off + 4 > len)
            return -1;
        off += 4;
    }
    r->question_end = off;
    for (int s = 0; s < 3; s++) {
        for (unsigned i = 0; i < r->count[s]; i++) {
            uint8_t owner[DNS_NAME_MAX];
            uint16_t type, rdlen;

            if (get_name(m, len, &off, owner) == 0 || off + 10 > len)
                return -1;
            type = dns_get16(m + off);
            rdlen = dns_get16(m + off + 8);
            off += 10;
            if (off + rdlen > len ||
                check_rdata(m, off, off + rdlen, type) != 0)
                return -1;
            off += rdlen;
            if (s == 0 && i == 0)
                memcpy(r->first_owner, owner, sizeof(owner));
            if (s == 1 && type == DNS_T_SOA)
                r->soa_in_authority = 1;
        }
    }
    return off == len ? 0 : -1;
}

/* ---- one query ---------------------------------------------------------- */

static uint8_t out1[DNS_MSG_MAX], out2[DNS_MSG_MAX];

/* The header and question every reply to MSG must carry. */
static void check_echo(const uint8_t *msg, const dns_query_t *q,
                       const uint8_t *out, const resp_t *r)
{
    assert(r->id == q->id);
    assert(r->flags & DNS_F_QR);
    assert((r->flags & DNS_F_RD) == (q->flags & DNS_F_RD));
    assert(DNS_OPCODE(r->flags) == DNS_OPCODE(q->flags));
    if (q->qname) {
        assert(r->qd == 1);
        assert(r->question_end == q->question_end);
        assert(memcmp(out + DNS_HDR_LEN, msg + DNS_HDR_LEN,
                      q->question_end - DNS_HDR_LEN) == 0);
    } else {
        assert(r->qd == 0);
    }
}

/* Answer Q as dns.c does into OUT with limit CAP; returns the length. */
static size_t answer(const uint8_t *msg, const dns_query_t *q, size_t cap,
                     uint8_t *out, unsigned *rcode, dns_answer_info_t *info)
{
    dns_query_t qq = *q;
    size_t optlen = q->edns ? 11 : 0;
    dns_pkt_t p;

    dns_pkt_init(&p, out, cap);
    p.cap = cap - optlen;
    if (dns_reply_start(&p, msg, q, DNS_R_NOERROR) != 0)
        return 0;
    if (qq.qtype == DNS_T_IXFR)
        qq.qtype = DNS_T_SOA;
    *rcode = dns_answer(zone, &qq, &p, info);
    assert(p.len <= cap - optlen);
    if (q->edns) {
        p.cap += optlen;
        assert(dns_reply_opt(&p, 1232, *rcode, q->do_bit) == 0);
    }
    assert(p.len <= cap);
    return p.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dns_query_t q;
    dns_answer_info_t info;
    resp_t r;
    size_t cap, len, len2;
    unsigned rcode = 0, rcode2 = 0;
    const uint8_t *msg;
    uint8_t *copy;
    int prc;

    zone_init();
    if (size < 1)
        return 0;
    /* small limits (24..528) half the time, up to 64 KiB otherwise */
    cap = data[0] < 0x80 ? 24 + (size_t)data[0] * 4
                         : 512 + (size_t)(data[0] - 0x80) * 512;
    if (cap > DNS_MSG_MAX)
        cap = DNS_MSG_MAX;
    /* the request in a buffer of its own size, for ASan */
    copy = malloc(size - 1 ? size - 1 : 1);
    assert(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    msg = copy;

    prc = dns_query_parse(msg, size - 1, &q);
    if (prc == DNS_PARSE_DROP) {
        assert(size - 1 < DNS_HDR_LEN || (msg[2] & 0x80));
        goto done;
    }
    assert(q.id == dns_get16(msg) && q.flags == dns_get16(msg + 2));
    if (q.qname) {
        assert(q.qname == msg + DNS_HDR_LEN);
        assert(q.qname_len == dns_name_len(q.qname, size - 1 - DNS_HDR_LEN));
        assert(q.question_end == DNS_HDR_LEN + q.qname_len + 4);
        assert(q.question_end <= size - 1);
    }
    if (prc == DNS_PARSE_FORMERR) {
        dns_pkt_t p;

        dns_pkt_init(&p, out1, cap);
        if (dns_reply_start(&p, msg, &q, DNS_R_FORMERR) != 0) {
            q.qname = NULL;
            assert(dns_reply_start(&p, msg, &q, DNS_R_FORMERR) == 0 ||
                   cap < DNS_HDR_LEN);
        }
        if (p.len >= DNS_HDR_LEN) {
            assert(decode(out1, p.len, &r) == 0);
            assert((r.flags & 0xf) == DNS_R_FORMERR);
            check_echo(msg, &q, out1, &r);
        }
        goto done;
    }
    assert(prc == DNS_PARSE_OK);
    assert(q.udp_size >= DNS_UDP_MIN);
    assert(q.question_end <= size - 1);
    /* only what dns.c would hand to dns_answer() */
    if (DNS_OPCODE(q.flags) != DNS_OP_QUERY || q.qclass != DNS_C_IN ||
        (q.edns && q.edns_version > 0) || q.qtype == DNS_T_MAILA ||
        q.qtype == DNS_T_MAILB || q.qtype == DNS_T_OPT ||
        q.qtype == DNS_T_TSIG || q.qtype == DNS_T_AXFR ||
        !dns_name_under(q.qname, zone->apex))
        goto done;

    len = answer(msg, &q, cap, out1, &rcode, &info);
    if (len == 0) /* the question itself does not fit */
        goto done;
    assert(decode(out1, len, &r) == 0);
    check_echo(msg, &q, out1, &r);
    assert((r.flags & 0xf) == rcode);
    assert(rcode == DNS_R_NOERROR || rcode == DNS_R_NXDOMAIN);
    assert(r.count[2] >= (q.edns ? 1u : 0u));
    if (r.flags & DNS_F_TC) {
        assert(r.count[0] == 0 && r.count[1] == 0);
        assert(r.count[2] == (q.edns ? 1u : 0u));
        assert(cap < ZONE_FITS);
    } else {
        if (info.referral) {
            assert(!(r.flags & DNS_F_AA));
            assert(r.count[0] == 0 && r.count[1] > 0);
        } else {
            assert(r.flags & DNS_F_AA);
        }
        if (rcode == DNS_R_NXDOMAIN || (r.count[0] == 0 && !info.referral))
            assert(r.soa_in_authority);
        if (r.count[0] > 0)
            assert(dns_name_equal(r.first_owner, q.qname));
    }
    /* the same again: the same bytes */
    len2 = answer(msg, &q, cap, out2, &rcode2, &info);
    assert(len2 == len && rcode2 == rcode);
    assert(memcmp(out1, out2, len) == 0);
done:
    free(copy);
    return 0;
}

/*
 * test_dns_upd.c - RFC 2136 UPDATE messages (protocols/dns/dns_upd.h):
 * the sections read with compressed owner names and compressed names in
 * rdata expanded; malformed zone sections and records -> FORMERR; the
 * prescan's NOTZONE and FORMERR cases (3.2 and 3.4.1.3); the
 * prerequisites (YXDOMAIN, NXDOMAIN, YXRRSET value-independent and
 * value-dependent compared as whole sets, NXRRSET) against a zone read
 * with dns_zone_load_mem; the update section turned into changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns_upd.h"

static const char zone_text[] = "$ORIGIN dyn.test.\n"
                                "$TTL 300\n"
                                "@ IN SOA ns1 host 100 3600 900 86400 60\n"
                                "@ IN NS ns1\n"
                                "ns1 IN A 192.0.2.53\n"
                                "www IN A 192.0.2.1\n"
                                "www IN A 192.0.2.2\n"
                                "mail IN MX 10 www\n"
                                "a.deep IN TXT \"x\"\n";

static dns_zone_t *load(void)
{
    char err[256];
    dns_zone_t *z = dns_zone_load_mem("dyn.test", zone_text, strlen(zone_text),
                                      "test", err, sizeof(err));

    if (z == NULL)
        fail_msg("%s", err);
    return z;
}

/* A message being built: header, zone section, then records. */
typedef struct {
    uint8_t buf[4096];
    dns_pkt_t p;
} msg_t;

static void m_start(msg_t *m, const char *zone, uint16_t type, uint16_t cls)
{
    uint8_t n[DNS_NAME_MAX];
    uint8_t hdr[DNS_HDR_LEN] = {0x12, 0x34, DNS_OP_UPDATE << 3, 0, 0, 1};

    dns_pkt_init(&m->p, m->buf, sizeof(m->buf));
    dns_pkt_bytes(&m->p, hdr, sizeof(hdr));
    assert_true(dns_name_from_text(n, zone, NULL) > 0);
    dns_pkt_name(&m->p, n, 0);
    dns_pkt_u16(&m->p, type);
    dns_pkt_u16(&m->p, cls);
}

/* One record in SECTION (0 prerequisites, 1 updates), its owner
 * compressed against the names before it. */
static void m_rr(msg_t *m, int section, const char *name, uint16_t type,
                 uint16_t cls, uint32_t ttl, const void *rd, uint16_t rdlen)
{
    uint8_t n[DNS_NAME_MAX];
    uint8_t *cnt = m->buf + 6 + 2 * section;

    assert_true(dns_name_from_text(n, name, NULL) > 0);
    dns_pkt_name(&m->p, n, 1);
    dns_pkt_u16(&m->p, type);
    dns_pkt_u16(&m->p, cls);
    dns_pkt_u32(&m->p, ttl);
    dns_pkt_u16(&m->p, rdlen);
    dns_pkt_bytes(&m->p, rd, rdlen);
    dns_put16(cnt, (uint16_t)(dns_get16(cnt) + 1));
}

static const uint8_t ip1[4] = {192, 0, 2, 1}, ip2[4] = {192, 0, 2, 2},
                     ip9[4] = {192, 0, 2, 9};

static unsigned parse(msg_t *m, dns_upd_t *u)
{
    char why[256];

    return dns_upd_parse(m->buf, m->p.len, u, why, sizeof(why));
}

static void test_parse(void **state)
{
    msg_t m;
    dns_upd_t u;
    uint8_t mx[4] = {0, 10, 0xc0, 12}; /* 10, pointer to the zone name */
    uint8_t want[DNS_NAME_MAX];
    char why[256];

    (void)state;
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0);
    m_rr(&m, 1, "Mail.dyn.test.", DNS_T_MX, DNS_C_IN, 60, mx, sizeof(mx));
    assert_int_equal(parse(&m, &u), 0);
    assert_int_equal(u.npre, 1);
    assert_int_equal(u.nupd, 1);
    dns_name_from_text(want, "dyn.test.", NULL);
    assert_true(dns_name_equal(u.zone, want));
    dns_name_from_text(want, "www.dyn.test.", NULL);
    assert_true(dns_name_equal(u.pre[0].name, want));
    assert_int_equal(u.pre[0].rclass, DNS_C_ANY);
    /* the owner kept its case; the MX target expanded */
    assert_memory_equal(u.upd[0].name, "\x04Mail", 5);
    assert_int_equal(u.upd[0].ttl, 60);
    assert_int_equal(u.upd[0].rdlen, 2 + 10);
    assert_memory_equal(u.upd[0].rdata,
                        "\x00\x0a\x03"
                        "dyn\x04test\x00",
                        12);
    assert_int_equal(dns_upd_prescan(&u, why, sizeof(why)), 0);
    dns_upd_free(&u);
}

static void test_parse_formerr(void **state)
{
    msg_t m;
    dns_upd_t u;
    uint8_t fwd[4] = {0, 10, 3, 119}; /* MX rdata cut short */

    (void)state;
    m_start(&m, "dyn.test.", DNS_T_A, DNS_C_IN);
    assert_int_equal(parse(&m, &u), DNS_R_FORMERR);
    dns_upd_free(&u);
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_CH);
    assert_int_equal(parse(&m, &u), DNS_R_FORMERR);
    dns_upd_free(&u);
    /* two zones */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m.buf[5] = 2;
    assert_int_equal(parse(&m, &u), DNS_R_FORMERR);
    dns_upd_free(&u);
    /* a record promised by the count but missing */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m.buf[9] = 1;
    assert_int_equal(parse(&m, &u), DNS_R_FORMERR);
    dns_upd_free(&u);
    /* rdata whose name does not fit its length */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 1, "mail.dyn.test.", DNS_T_MX, DNS_C_IN, 60, fwd, sizeof(fwd));
    assert_int_equal(parse(&m, &u), DNS_R_FORMERR);
    dns_upd_free(&u);
    /* a pointer forwards */
    {
        uint8_t cname[2] = {0xc0, 0xff};

        m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
        m_rr(&m, 1, "c.dyn.test.", DNS_T_CNAME, DNS_C_IN, 60, cname, 2);
        assert_int_equal(parse(&m, &u), DNS_R_FORMERR);
        dns_upd_free(&u);
    }
}

/* The prescan's answer for one record. */
static unsigned prescan_one(int section, const char *name, uint16_t type,
                            uint16_t cls, uint32_t ttl, const void *rd,
                            uint16_t rdlen)
{
    msg_t m;
    dns_upd_t u;
    char why[256];
    unsigned rc;

    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, section, name, type, cls, ttl, rd, rdlen);
    assert_int_equal(parse(&m, &u), 0);
    rc = dns_upd_prescan(&u, why, sizeof(why));
    dns_upd_free(&u);
    return rc;
}

static void test_prescan(void **state)
{
    (void)state;
    /* names outside the zone */
    assert_int_equal(
        prescan_one(0, "www.other.test.", DNS_T_A, DNS_C_ANY, 0, NULL, 0),
        DNS_R_NOTZONE);
    assert_int_equal(
        prescan_one(1, "dyn.test.other.", DNS_T_A, DNS_C_IN, 60, ip1, 4),
        DNS_R_NOTZONE);
    assert_int_equal(prescan_one(1, "test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0),
                     DNS_R_NOTZONE);
    /* prerequisites: TTL 0, no rdata with ANY/NONE, known classes */
    assert_int_equal(
        prescan_one(0, "www.dyn.test.", DNS_T_A, DNS_C_ANY, 5, NULL, 0),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(0, "www.dyn.test.", DNS_T_A, DNS_C_NONE, 0, ip1, 4),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(0, "www.dyn.test.", DNS_T_A, DNS_C_CH, 0, NULL, 0),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(0, "www.dyn.test.", DNS_T_AXFR, DNS_C_ANY, 0, NULL, 0),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip1, 4), 0);
    /* updates (3.4.1.3) */
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_ANY, DNS_C_IN, 60, ip1, 4),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_AXFR, DNS_C_IN, 60, ip1, 4),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_A, DNS_C_ANY, 60, NULL, 0),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_A, DNS_C_ANY, 0, ip1, 4),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_MAILA, DNS_C_ANY, 0, NULL, 0),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_A, DNS_C_NONE, 60, ip1, 4),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_ANY, DNS_C_NONE, 0, NULL, 0),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_A, DNS_C_CH, 60, ip1, 4),
        DNS_R_FORMERR);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_A, DNS_C_IN, 60, ip1, 4), 0);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0), 0);
    assert_int_equal(
        prescan_one(1, "www.dyn.test.", DNS_T_A, DNS_C_NONE, 0, ip1, 4), 0);
}

/* The prerequisites of message M against Z. */
static unsigned prereq(msg_t *m, const dns_zone_t *z)
{
    dns_upd_t u;
    char why[256];
    unsigned rc;

    assert_int_equal(parse(m, &u), 0);
    assert_int_equal(dns_upd_prescan(&u, why, sizeof(why)), 0);
    rc = dns_upd_prereq(&u, z, why, sizeof(why));
    if (rc)
        assert_non_null(strstr(why, "prerequisite record"));
    dns_upd_free(&u);
    return rc;
}

static void test_prereq(void **state)
{
    dns_zone_t *z = load();
    msg_t m;

    (void)state;
    /* name in use (class ANY, type ANY) */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), 0);
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "nothere.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), DNS_R_NXDOMAIN);
    /* an empty non-terminal is no name in use */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "deep.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), DNS_R_NXDOMAIN);
    /* name not in use (class NONE, type ANY) */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_ANY, DNS_C_NONE, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), DNS_R_YXDOMAIN);
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "deep.dyn.test.", DNS_T_ANY, DNS_C_NONE, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), 0);
    /* RRset exists, value-independent */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_ANY, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), 0);
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_AAAA, DNS_C_ANY, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), DNS_R_NXRRSET);
    /* RRset does not exist */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_NONE, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), DNS_R_YXRRSET);
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_TXT, DNS_C_NONE, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), 0);
    /* value-dependent: the whole set, in any order, duplicates allowed,
     * other groups between */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip2, 4);
    m_rr(&m, 0, "ns1.dyn.test.", DNS_T_A, DNS_C_IN, 0, "\xc0\x00\x02\x35", 4);
    m_rr(&m, 0, "WWW.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip1, 4);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip2, 4);
    assert_int_equal(prereq(&m, z), 0);
    /* a subset is not the set */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip1, 4);
    assert_int_equal(prereq(&m, z), DNS_R_NXRRSET);
    /* nor a superset */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip1, 4);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip2, 4);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip9, 4);
    assert_int_equal(prereq(&m, z), DNS_R_NXRRSET);
    /* a set that does not exist at all */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "new.dyn.test.", DNS_T_A, DNS_C_IN, 0, ip1, 4);
    assert_int_equal(prereq(&m, z), DNS_R_NXRRSET);
    /* an MX whose target was compressed matches the zone's */
    {
        uint8_t mx[6] = {0, 10, 3, 'w', 'w', 'w'};
        msg_t m2;

        m_start(&m2, "dyn.test.", DNS_T_SOA, DNS_C_IN);
        {
            uint8_t n[DNS_NAME_MAX], rd[8];

            dns_name_from_text(n, "mail.dyn.test.", NULL);
            dns_pkt_name(&m2.p, n, 1);
            dns_pkt_u16(&m2.p, DNS_T_MX);
            dns_pkt_u16(&m2.p, DNS_C_IN);
            dns_pkt_u32(&m2.p, 0);
            dns_pkt_u16(&m2.p, 8);
            memcpy(rd, mx, 6);
            rd[6] = 0xc0; /* then "dyn.test." by pointer */
            rd[7] = 12;
            dns_pkt_bytes(&m2.p, rd, 8);
            m2.buf[7] = 1;
        }
        assert_int_equal(prereq(&m2, z), 0);
    }
    /* the first failing prerequisite decides */
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 0, "nothere.dyn.test.", DNS_T_ANY, DNS_C_NONE, 0, NULL, 0);
    m_rr(&m, 0, "www.dyn.test.", DNS_T_A, DNS_C_NONE, 0, NULL, 0);
    m_rr(&m, 0, "nothere.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0);
    assert_int_equal(prereq(&m, z), DNS_R_YXRRSET);
    dns_zone_unref(z);
}

static void test_changes(void **state)
{
    msg_t m;
    dns_upd_t u;
    dns_change_t c;

    (void)state;
    m_start(&m, "dyn.test.", DNS_T_SOA, DNS_C_IN);
    m_rr(&m, 1, "h.dyn.test.", DNS_T_A, DNS_C_IN, 60, ip1, 4);
    m_rr(&m, 1, "h.dyn.test.", DNS_T_A, DNS_C_ANY, 0, NULL, 0);
    m_rr(&m, 1, "h.dyn.test.", DNS_T_ANY, DNS_C_ANY, 0, NULL, 0);
    m_rr(&m, 1, "h.dyn.test.", DNS_T_A, DNS_C_NONE, 0, ip2, 4);
    assert_int_equal(parse(&m, &u), 0);
    assert_int_equal(u.nupd, 4);
    dns_upd_change(&u.upd[0], &c);
    assert_int_equal(c.op, DNS_CH_ADD);
    assert_int_equal(c.ttl, 60);
    assert_int_equal(c.rdlen, 4);
    assert_memory_equal(c.rdata, ip1, 4);
    dns_upd_change(&u.upd[1], &c);
    assert_int_equal(c.op, DNS_CH_DEL_RRSET);
    assert_int_equal(c.type, DNS_T_A);
    dns_upd_change(&u.upd[2], &c);
    assert_int_equal(c.op, DNS_CH_DEL_NAME);
    dns_upd_change(&u.upd[3], &c);
    assert_int_equal(c.op, DNS_CH_DEL_RR);
    assert_memory_equal(c.rdata, ip2, 4);
    assert_ptr_equal(c.name, u.upd[3].name);
    dns_upd_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),   cmocka_unit_test(test_parse_formerr),
        cmocka_unit_test(test_prescan), cmocka_unit_test(test_prereq),
        cmocka_unit_test(test_changes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

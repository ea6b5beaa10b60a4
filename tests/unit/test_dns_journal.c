/*
 * test_dns_journal.c - dynamic zones' pieces (protocols/dns/dns_journal.h):
 * CRC-32 against its check value, applying batches (SET, ADD, deletes,
 * serial bumps, apex SOA/NS kept, CNAME and NOTZONE refusals, a no-op),
 * journal records written and read back, every torn tail and a flipped
 * byte cut at the last whole record, replay skipping records the zone
 * file already holds, and compaction: the zone written to a file and read
 * back gives the same records; RFC 2136 3.4.2.2 additions (an older SOA,
 * CNAME beside data and data beside a CNAME skipped, a CNAME replaced).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns_journal.h"

static const char zone_text[] = "$ORIGIN dyn.test.\n"
                                "$TTL 300\n"
                                "@ IN SOA ns1 host 100 3600 900 86400 60\n"
                                "@ IN NS ns1\n"
                                "@ IN NS ns2\n"
                                "www IN A 192.0.2.1\n"
                                "alias IN CNAME www\n";

static dns_zone_t *load(void)
{
    char err[256];
    dns_zone_t *z = dns_zone_load_mem("dyn.test", zone_text, strlen(zone_text),
                                      "test", err, sizeof(err));

    if (z == NULL)
        fail_msg("%s", err);
    return z;
}

static void wire(uint8_t *out, const char *text)
{
    assert_true(dns_name_from_text(out, text, NULL) > 0);
}

static void add(dns_batch_t *b, dns_change_op_t op, const char *name,
                uint16_t type, uint32_t ttl, const void *rd, uint16_t len)
{
    uint8_t n[DNS_NAME_MAX];
    dns_change_t c = {op, n, type, ttl, rd, len};

    wire(n, name);
    dns_batch_add(b, &c);
}

static const uint8_t ip1[4] = {192, 0, 2, 7}, ip2[4] = {192, 0, 2, 8};

/* The rdata of NAME TYPE in Z as a count and the first record. */
static uint32_t count(const dns_zone_t *z, const char *name, uint16_t type,
                      uint32_t *ttl)
{
    uint8_t n[DNS_NAME_MAX];
    const dns_node_t *node;
    const dns_rrset_t *s;

    wire(n, name);
    if ((node = dns_zone_find(z, n)) == NULL ||
        (s = dns_node_rrset(node, type)) == NULL)
        return 0;
    if (ttl)
        *ttl = s->ttl;
    return s->count;
}

/* Apex SOA rdata with SERIAL into RD; its length. */
static uint16_t soa_rdata(uint8_t *rd, uint32_t serial)
{
    size_t n = dns_name_from_text(rd, "ns1.dyn.test.", NULL);

    n += dns_name_from_text(rd + n, "admin.dyn.test.", NULL);
    dns_put32(rd + n, serial);
    for (int i = 1; i < 5; i++)
        dns_put32(rd + n + 4 * i, 600);
    return (uint16_t)(n + 20);
}

/* RFC 2136 3.4.2.2: the additions that are skipped, and CNAME replaced. */
static void test_add_rules(void **state)
{
    dns_zone_t *z = load(), *nz;
    dns_batch_t b = {0};
    uint8_t rd[DNS_NAME_MAX * 2 + 20], target[DNS_NAME_MAX];
    uint16_t len;
    int changed;
    char why[256];

    (void)state;
    /* an SOA whose serial is not newer: skipped */
    len = soa_rdata(rd, 100);
    add(&b, DNS_CH_ADD, "dyn.test.", DNS_T_SOA, 300, rd, len);
    add(&b, DNS_CH_ADD, "www.dyn.test.", DNS_T_CNAME, 300,
        (const uint8_t *)"\x05"
                         "alias"
                         "\x03"
                         "dyn"
                         "\x04"
                         "test",
        16);
    add(&b, DNS_CH_ADD, "alias.dyn.test.", DNS_T_A, 300, ip1, 4);
    assert_int_equal(dns_zone_apply(z, &b, 0, &nz, &changed, why, sizeof(why)),
                     0);
    assert_false(changed);
    assert_ptr_equal(nz, z);
    dns_zone_unref(nz);
    /* a newer one replaces the SOA and sets the serial */
    dns_batch_clear(&b);
    len = soa_rdata(rd, 5000);
    add(&b, DNS_CH_ADD, "dyn.test.", DNS_T_SOA, 300, rd, len);
    assert_int_equal(dns_zone_apply(z, &b, 0, &nz, &changed, why, sizeof(why)),
                     0);
    assert_true(changed);
    assert_int_equal(nz->serial, 5000);
    assert_int_equal(count(nz, "dyn.test.", DNS_T_SOA, NULL), 1);
    dns_zone_unref(nz);
    /* an added CNAME replaces the name's CNAME */
    dns_batch_clear(&b);
    len = (uint16_t)dns_name_from_text(target, "other.dyn.test.", NULL);
    add(&b, DNS_CH_ADD, "alias.dyn.test.", DNS_T_CNAME, 300, target, len);
    assert_int_equal(dns_zone_apply(z, &b, 0, &nz, &changed, why, sizeof(why)),
                     0);
    assert_true(changed);
    assert_int_equal(count(nz, "alias.dyn.test.", DNS_T_CNAME, NULL), 1);
    {
        const dns_node_t *n;
        uint8_t w[DNS_NAME_MAX];

        wire(w, "alias.dyn.test.");
        n = dns_zone_find(nz, w);
        assert_non_null(n);
        assert_memory_equal(dns_node_rrset(n, DNS_T_CNAME)->data + 2, target,
                            len);
    }
    dns_zone_unref(nz);
    dns_batch_clear(&b);
    dns_zone_unref(z);
}

static void test_crc(void **state)
{
    (void)state;
    assert_int_equal(dns_crc32(0, (const uint8_t *)"123456789", 9),
                     0xcbf43926u);
    assert_int_equal(dns_crc32(0, NULL, 0), 0);
}

static void test_apply(void **state)
{
    dns_zone_t *z = load(), *nz, *nz2;
    dns_batch_t b = {0};
    int changed;
    char why[256];
    uint32_t ttl = 0;

    (void)state;
    add(&b, DNS_CH_SET, "h1.dyn.test.", DNS_T_A, 120, ip1, 4);
    add(&b, DNS_CH_SET, "h1.dyn.test.", DNS_T_A, 120, ip2, 4);
    add(&b, DNS_CH_SET, "www.dyn.test.", DNS_T_A, 60, ip2, 4);
    assert_int_equal(dns_zone_apply(z, &b, 0, &nz, &changed, why, sizeof(why)),
                     0);
    assert_true(changed);
    assert_int_equal(nz->serial, 101);
    assert_int_equal(count(nz, "h1.dyn.test.", DNS_T_A, &ttl), 2);
    assert_int_equal(ttl, 120);
    assert_int_equal(count(nz, "www.dyn.test.", DNS_T_A, &ttl), 1);
    assert_int_equal(ttl, 60);
    assert_int_equal(z->serial, 100); /* the old zone is untouched */
    assert_int_equal(count(z, "h1.dyn.test.", DNS_T_A, NULL), 0);

    /* the same again changes nothing: no serial bump */
    dns_batch_clear(&b);
    add(&b, DNS_CH_SET, "h1.dyn.test.", DNS_T_A, 120, ip1, 4);
    add(&b, DNS_CH_SET, "h1.dyn.test.", DNS_T_A, 120, ip2, 4);
    assert_int_equal(
        dns_zone_apply(nz, &b, 0, &nz2, &changed, why, sizeof(why)), 0);
    assert_false(changed);
    assert_ptr_equal(nz2, nz);
    dns_zone_unref(nz2);

    /* ADD of a record already there with a longer TTL: the set's TTL */
    dns_batch_clear(&b);
    add(&b, DNS_CH_ADD, "h1.dyn.test.", DNS_T_A, 900, ip1, 4);
    assert_int_equal(
        dns_zone_apply(nz, &b, 0, &nz2, &changed, why, sizeof(why)), 0);
    assert_true(changed);
    assert_int_equal(count(nz2, "h1.dyn.test.", DNS_T_A, &ttl), 2);
    assert_int_equal(ttl, 900);
    dns_zone_unref(nz2);

    /* deletes: the apex keeps SOA and NS, the rest goes */
    dns_batch_clear(&b);
    add(&b, DNS_CH_DEL_NAME, "dyn.test.", 0, 0, NULL, 0);
    add(&b, DNS_CH_DEL_RRSET, "h1.dyn.test.", DNS_T_ANY, 0, NULL, 0);
    add(&b, DNS_CH_DEL_RR, "www.dyn.test.", DNS_T_A, 0, ip2, 4);
    assert_int_equal(
        dns_zone_apply(nz, &b, 0, &nz2, &changed, why, sizeof(why)), 0);
    assert_true(changed);
    assert_int_equal(nz2->serial, 102);
    assert_int_equal(count(nz2, "dyn.test.", DNS_T_SOA, NULL), 1);
    assert_int_equal(count(nz2, "dyn.test.", DNS_T_NS, NULL), 2);
    assert_int_equal(count(nz2, "h1.dyn.test.", DNS_T_A, NULL), 0);
    assert_int_equal(count(nz2, "www.dyn.test.", DNS_T_A, NULL), 0);
    dns_zone_unref(nz2);

    /* refusals: CNAME beside data, a name outside the zone */
    dns_batch_clear(&b);
    add(&b, DNS_CH_SET, "alias.dyn.test.", DNS_T_A, 60, ip1, 4);
    assert_int_equal(
        dns_zone_apply(nz, &b, 0, &nz2, &changed, why, sizeof(why)),
        DNS_R_REFUSED);
    assert_non_null(strstr(why, "CNAME and other data"));
    assert_null(nz2);
    dns_batch_clear(&b);
    add(&b, DNS_CH_SET, "h1.other.test.", DNS_T_A, 60, ip1, 4);
    assert_int_equal(
        dns_zone_apply(nz, &b, 0, &nz2, &changed, why, sizeof(why)),
        DNS_R_NOTZONE);
    assert_non_null(strstr(why, "outside zone"));

    /* the serial wraps (RFC 1982) */
    dns_batch_clear(&b);
    add(&b, DNS_CH_SET, "h9.dyn.test.", DNS_T_A, 60, ip1, 4);
    assert_int_equal(
        dns_zone_apply(nz, &b, 0xffffffffu, &nz2, &changed, why, sizeof(why)),
        0);
    assert_int_equal(nz2->serial, 0xffffffffu);
    {
        dns_zone_t *nz3;

        dns_batch_clear(&b);
        add(&b, DNS_CH_SET, "h10.dyn.test.", DNS_T_A, 60, ip1, 4);
        assert_int_equal(
            dns_zone_apply(nz2, &b, 0, &nz3, &changed, why, sizeof(why)), 0);
        assert_int_equal(nz3->serial, 0);
        assert_true(dns_serial_newer(nz3->serial, nz2->serial));
        dns_zone_unref(nz3);
    }
    dns_zone_unref(nz2);
    dns_batch_clear(&b);
    dns_zone_unref(nz);
    dns_zone_unref(z);
}

/* A journal of three records, each its own batch, applied to Z. */
static uint8_t *three(dns_zone_t *z, size_t *len, size_t ends[4])
{
    uint8_t *buf = malloc(DNS_JOURNAL_MAGIC_LEN);
    dns_zone_t *cur = z, *nz;
    char why[256];
    int changed;

    memcpy(buf, DNS_JOURNAL_MAGIC, DNS_JOURNAL_MAGIC_LEN);
    *len = DNS_JOURNAL_MAGIC_LEN;
    ends[0] = *len;
    dns_zone_ref(cur);
    for (int i = 0; i < 3; i++) {
        dns_batch_t b = {0};
        char name[64];

        snprintf(name, sizeof(name), "h%d.dyn.test.", i);
        add(&b, DNS_CH_SET, name, DNS_T_A, 60, ip1, 4);
        assert_int_equal(
            dns_zone_apply(cur, &b, 0, &nz, &changed, why, sizeof(why)), 0);
        dns_journal_encode(&b, nz->serial, &buf, len);
        ends[i + 1] = *len;
        dns_zone_unref(cur);
        cur = nz;
        dns_batch_clear(&b);
    }
    dns_zone_unref(cur);
    return buf;
}

static void test_replay(void **state)
{
    dns_zone_t *z = load(), *r;
    size_t len, ends[4], good;
    uint8_t *buf = three(z, &len, ends);
    unsigned applied;
    char err[256];

    (void)state;
    r = z;
    dns_zone_ref(r);
    assert_int_equal(
        dns_journal_replay(&r, buf, len, &good, &applied, err, sizeof(err)), 0);
    assert_int_equal(good, len);
    assert_int_equal(applied, 3);
    assert_int_equal(r->serial, 103);
    assert_int_equal(count(r, "h2.dyn.test.", DNS_T_A, NULL), 1);

    /* replayed onto a zone that already holds it (a compaction cut short
     * after its rename): every record is skipped */
    assert_int_equal(
        dns_journal_replay(&r, buf, len, &good, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(r->serial, 103);
    dns_zone_unref(r);

    /* no magic */
    r = z;
    dns_zone_ref(r);
    assert_int_equal(dns_journal_replay(&r, (const uint8_t *)"garbage!!", 9,
                                        &good, &applied, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "not a loom journal"));
    /* empty: an empty journal */
    assert_int_equal(
        dns_journal_replay(&r, buf, 0, &good, &applied, err, sizeof(err)), 0);
    assert_int_equal(applied, 0);
    dns_zone_unref(r);
    free(buf);
    dns_zone_unref(z);
}

static void test_torn(void **state)
{
    dns_zone_t *z = load();
    size_t len, ends[4];
    uint8_t *buf = three(z, &len, ends);

    (void)state;
    /* every cut gives the records wholly before it */
    for (size_t cut = DNS_JOURNAL_MAGIC_LEN; cut <= len; cut++) {
        size_t want = ends[0];

        for (int i = 1; i < 4; i++)
            if (ends[i] <= cut)
                want = ends[i];
        assert_int_equal(dns_journal_read(buf, cut, NULL, NULL), (long)want);
    }
    /* a flipped byte in the second record: only the first is read */
    for (size_t at = ends[1]; at < ends[2]; at++) {
        buf[at] ^= 0x40;
        assert_int_equal(dns_journal_read(buf, len, NULL, NULL), (long)ends[1]);
        buf[at] ^= 0x40;
    }
    free(buf);
    dns_zone_unref(z);
}

static void test_compaction(void **state)
{
    dns_zone_t *z = load(), *r, *back;
    size_t len, ends[4], good;
    uint8_t *buf = three(z, &len, ends);
    unsigned applied;
    char err[256], dir[] = "/tmp/test_dns_journal.XXXXXX", path[128];
    dns_rec_t *a, *b;
    size_t na, nb;

    (void)state;
    r = z;
    dns_zone_ref(r);
    assert_int_equal(
        dns_journal_replay(&r, buf, len, &good, &applied, err, sizeof(err)), 0);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/dyn.test.zone", dir);
    assert_int_equal(dns_zone_write_file(r, path, err, sizeof(err)), 0);
    back = dns_zone_load("dyn.test", path, "test", err, sizeof(err));
    if (back == NULL)
        fail_msg("%s", err);
    assert_int_equal(back->serial, r->serial);
    na = dns_zone_records(r, &a);
    nb = dns_zone_records(back, &b);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        int found = 0;

        for (size_t k = 0; k < nb && !found; k++)
            found = dns_name_equal(a[i].owner, b[k].owner) &&
                    a[i].type == b[k].type && a[i].ttl == b[k].ttl &&
                    a[i].rdlen == b[k].rdlen &&
                    memcmp(a[i].rdata, b[k].rdata, a[i].rdlen) == 0;
        assert_true(found);
    }
    /* after compaction the old journal replays as a no-op */
    assert_int_equal(
        dns_journal_replay(&back, buf, len, &good, &applied, err, sizeof(err)),
        0);
    assert_int_equal(applied, 0);
    /* a directory that cannot hold the temp file: an error, no file */
    assert_int_equal(
        dns_zone_write_file(r, "/nonexistent-dir/x.zone", err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.zone.tmp"));
    free(a);
    free(b);
    unlink(path);
    rmdir(dir);
    dns_zone_unref(back);
    dns_zone_unref(r);
    free(buf);
    dns_zone_unref(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc),        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_replay),     cmocka_unit_test(test_torn),
        cmocka_unit_test(test_compaction), cmocka_unit_test(test_add_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

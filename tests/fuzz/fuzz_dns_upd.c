/*
 * fuzz_dns_upd.c - libFuzzer target: the RFC 2136 UPDATE reader
 * (protocols/dns/dns_upd.h).
 *
 * Each input is a DNS message.  dns_upd_parse() must not read outside it
 * and gives 0 or FORMERR; a parsed message's records have well-formed
 * names and rdata of the length they claim; the prescan gives only 0,
 * FORMERR or NOTZONE; after it every record's name lies in the zone, and
 * the prerequisites evaluated against a small zone give only the RCODEs
 * RFC 2136 3.2 names; every update record converts to a change.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_upd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dns_zone_t *zone;

static const char zone_text[] = "$ORIGIN dyn.test.\n"
                                "$TTL 300\n"
                                "@ IN SOA ns1 host 100 3600 900 86400 60\n"
                                "@ IN NS ns1\n"
                                "ns1 IN A 192.0.2.53\n"
                                "www IN A 192.0.2.1\n"
                                "www IN A 192.0.2.2\n"
                                "mail IN MX 10 www\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    dns_upd_t u;
    uint8_t *msg;
    unsigned rc;

    if (zone == NULL) {
        zone = dns_zone_load_mem("dyn.test", zone_text, strlen(zone_text),
                                 "fuzz", why, sizeof(why));
        assert(zone != NULL);
    }
    if (size > DNS_MSG_MAX)
        return 0;
    msg = malloc(size ? size : 1);
    assert(msg != NULL);
    memcpy(msg, data, size);
    rc = dns_upd_parse(msg, size, &u, why, sizeof(why));
    assert(rc == 0 || rc == DNS_R_FORMERR);
    if (rc == 0) {
        assert(dns_name_len(u.zone, DNS_NAME_MAX) > 0);
        for (size_t i = 0; i < u.npre + u.nupd; i++) {
            const dns_upd_rr_t *r = i < u.npre ? &u.pre[i] : &u.upd[i - u.npre];

            assert(dns_name_len(r->name, DNS_NAME_MAX) > 0);
            assert(r->rdata != NULL || r->rdlen == 0);
        }
        rc = dns_upd_prescan(&u, why, sizeof(why));
        assert(rc == 0 || rc == DNS_R_FORMERR || rc == DNS_R_NOTZONE);
        if (rc == 0) {
            /* the fuzzer's zone stands in whatever the message names */
            rc = dns_upd_prereq(&u, zone, why, sizeof(why));
            assert(rc == 0 || rc == DNS_R_NXDOMAIN || rc == DNS_R_YXDOMAIN ||
                   rc == DNS_R_NXRRSET || rc == DNS_R_YXRRSET);
            for (size_t i = 0; i < u.nupd; i++) {
                dns_change_t c;

                dns_upd_change(&u.upd[i], &c);
                assert(c.op <= DNS_CH_DEL_RR);
                assert(dns_name_under(c.name, u.zone));
            }
        }
    }
    dns_upd_free(&u);
    free(msg);
    return 0;
}

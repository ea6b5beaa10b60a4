/*
 * fuzz_dns_tsig.c - libFuzzer target: the TSIG record parser and check
 * (protocols/dns/dns_tsig.h).
 *
 * Each input is a DNS message.  dns_tsig_find() must not read outside it;
 * a found record lies inside the message with its MAC and Other Data;
 * dns_tsig_verify() under the matching key (or any of three keys) gives
 * only OK, BADSIG, BADTIME or -1.  Round trip: the message without its
 * TSIG (or the whole message when it has none and no record is
 * malformed and nothing follows the records), signed with each algorithm, must
 * be found again and verify as OK at the signing time, and BADTIME a fudge and
 * a second later.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_tsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1700000000ull

static dns_tsig_key_t keys[3];
static int ready;

static void keys_init(void)
{
    static const char *const algs[] = {"hmac-sha1", "hmac-sha256",
                                       "hmac-sha512"};
    const char *err;

    if (ready)
        return;
    for (int i = 0; i < 3; i++)
        if (dns_tsig_key_init(&keys[i], "k.example", algs[i],
                              "c2VjcmV0LWtleS1mb3ItdGhlLWZ1enplcg==", &err) !=
            0)
            abort();
    ready = 1;
}

/* Where the counted sections of M (LEN bytes) end, or 0 if malformed. */
static size_t records_end(const uint8_t *m, size_t len)
{
    size_t off = DNS_HDR_LEN;
    unsigned n =
        (unsigned)dns_get16(m + 6) + dns_get16(m + 8) + dns_get16(m + 10);

    for (unsigned i = 0; i < dns_get16(m + 4); i++) {
        if ((off = dns_wire_skip_name(m, len, off)) == 0 || off + 4 > len)
            return 0;
        off += 4;
    }
    for (unsigned i = 0; i < n; i++) {
        if ((off = dns_wire_skip_name(m, len, off)) == 0 || off + 10 > len ||
            off + 10 + dns_get16(m + off + 8) > len)
            return 0;
        off += 10 + (size_t)dns_get16(m + off + 8);
    }
    return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg, buf[DNS_MSG_MAX];
    size_t plain;
    dns_tsig_rr_t t;
    int rc;

    keys_init();
    if (size > DNS_MSG_MAX)
        return 0;
    msg = malloc(size ? size : 1);
    assert(msg != NULL);
    memcpy(msg, data, size);
    rc = dns_tsig_find(msg, size, &t);
    assert(rc >= -1 && rc <= 1);
    if (rc == 1) {
        const dns_tsig_key_t *k = dns_tsig_key_find(keys, 3, &t);
        int v;

        assert(t.start >= DNS_HDR_LEN && t.start < size);
        assert(t.mac >= msg && t.mac + t.mac_len <= msg + size);
        assert(t.other >= msg && t.other + t.other_len <= msg + size);
        for (int i = 0; i < 3; i++) {
            v = dns_tsig_verify(msg, size, &t, &keys[i], T0);
            assert(v == -1 || v == DNS_TSIG_OK || v == DNS_TSIG_BADSIG ||
                   v == DNS_TSIG_BADTIME);
        }
        if (k)
            assert(dns_name_equal(k->name, t.name));
    }
    plain = rc == 1 ? t.start : rc == 0 ? size : 0;
    if (plain >= DNS_HDR_LEN) {
        memcpy(buf, msg, plain);
        if (rc == 1)
            dns_put16(buf + 10, (uint16_t)(dns_get16(buf + 10) - 1));
        for (int i = 0; i < 3; i++) {
            uint8_t mac[DNS_TSIG_MAC_MAX];
            dns_tsig_rr_t r;
            dns_pkt_t p;

            if (dns_get16(buf + 10) == 0xffff)
                break;
            if (dns_tsig_find(buf, plain, &r) != 0 ||
                records_end(buf, plain) != plain)
                break; /* malformed, or bytes after the records */
            dns_pkt_init(&p, buf, sizeof(buf));
            p.len = plain;
            if (dns_tsig_sign(&p, &keys[i], NULL, 0, 0, T0, 0, NULL, 0, mac) <
                0)
                break; /* no room */
            assert(dns_tsig_find(buf, p.len, &r) == 1);
            assert(r.start == plain);
            assert(dns_tsig_key_find(keys, 3, &r) == &keys[i]);
            assert(dns_tsig_verify(buf, p.len, &r, &keys[i], T0) ==
                   DNS_TSIG_OK);
            assert(dns_tsig_verify(buf, p.len, &r, &keys[i],
                                   T0 + DNS_TSIG_FUDGE + 1) ==
                   DNS_TSIG_BADTIME);
            dns_put16(buf + 10, (uint16_t)(dns_get16(buf + 10) - 1));
        }
    }
    free(msg);
    return 0;
}

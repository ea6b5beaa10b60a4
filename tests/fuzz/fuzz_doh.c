/*
 * fuzz_doh.c - libFuzzer target: the DNS over HTTPS decoder
 * (protocols/http/doh_param.h).
 *
 * The input is a GET query string: doh_get_param() finds `dns=`, whose
 * value goes through doh_b64url_decode() (checked against a reference
 * decoder here: same length or both refusing, same bytes, every accepted
 * value re-encodes to itself), with a capacity from the input's length
 * so that the "too large" edge is reached; the decoded bytes then go
 * through doh_min_ttl() as an answer (any outcome, no crash, the TTL
 * below 2^31 when one is found).  The raw input is also given to
 * doh_min_ttl() whole.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doh_param.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The reference: position in ALPHA per character, bits accumulated. */
static long ref_decode(const char *in, size_t len, uint8_t *out)
{
    size_t n = 0, i;
    unsigned long acc = 0;
    unsigned bits = 0;

    for (i = 0; i < len; i++) {
        const char *p = in[i] ? memchr(alpha, in[i], 64) : NULL;

        if (p == NULL)
            return -1;
        acc = acc << 6 | (unsigned long)(p - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    if (bits >= 6 || acc) /* 4n+1 characters, or non-zero leftover bits */
        return -1;
    return (long)n;
}

static size_t encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    unsigned long acc = 0;
    unsigned bits = 0;

    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alpha[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = alpha[(acc << (6 - bits)) & 63];
    return o;
}

static void check_ttl(const uint8_t *m, size_t len)
{
    uint32_t ttl = 0;
    int rc = doh_min_ttl(m, len, &ttl);

    assert(rc >= -1 && rc <= 1);
    if (rc == 0)
        assert(ttl <= 0x7fffffffu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = NULL;
    size_t vlen = 0, cap;
    uint8_t *out, *ref;
    char *again;
    long n, r;
    int rc;

    check_ttl(data, size);
    rc = doh_get_param((const char *)data, size, &v, &vlen);
    assert(rc == DOH_P_OK || rc == DOH_P_MISSING || rc == DOH_P_TWICE);
    if (rc != DOH_P_OK)
        return 0;
    assert(v >= (const char *)data && v + vlen <= (const char *)data + size);
    out = malloc(vlen + 1);
    ref = malloc(vlen + 1);
    again = malloc(vlen * 2 + 4);
    r = ref_decode(v, vlen, ref);
    /* the capacity: plenty, or (by the input's length) maybe one short */
    cap = size % 2 ? vlen : (r > 0 ? (size_t)r - 1 : 0);
    n = doh_b64url_decode(v, vlen, out, cap);
    if (r >= 0 && (size_t)r <= cap) {
        assert(n == r);
        assert(memcmp(out, ref, (size_t)n) == 0);
        assert(encode(out, (size_t)n, again) == vlen);
        assert(memcmp(again, v, vlen) == 0);
        check_ttl(out, (size_t)n);
    } else {
        assert(n == -1);
    }
    free(out);
    free(ref);
    free(again);
    return 0;
}

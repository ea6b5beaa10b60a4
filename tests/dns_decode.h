/*
 * dns_decode.h - a response decoder of the tests' own, independent of
 * protocols/dns: the DNS unit tests and the query fuzz target read loom's
 * answers with it.
 */
#ifndef LOOM_TEST_DNS_DECODE_H
#define LOOM_TEST_DNS_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TD_NAME_MAX 255

/* Decompress the name at *OFF of the message M (LEN bytes) into OUT (may be
 * NULL): pointers must point backwards.  Returns its length (root label
 * included) and moves *OFF past it, or returns 0. */
static inline size_t get_name(const uint8_t *m, size_t len, size_t *off,
                              uint8_t *out)
{
    size_t o = *off, w = 0, end = 0;
    unsigned hops = 0;

    for (;;) {
        uint8_t l;

        if (o >= len)
            return 0;
        l = m[o];
        if ((l & 0xc0) == 0xc0) {
            size_t t;

            if (o + 1 >= len || ++hops > 128)
                return 0;
            t = (size_t)(l & 0x3f) << 8 | m[o + 1];
            if (t >= o)
                return 0;
            if (end == 0)
                end = o + 2;
            o = t;
            continue;
        }
        if (l > 63 || o + 1 + l > len || w + 1 + l > TD_NAME_MAX)
            return 0;
        if (out)
            memcpy(out + w, m + o, (size_t)l + 1);
        w += (size_t)l + 1;
        o += (size_t)l + 1;
        if (l == 0)
            break;
    }
    *off = end ? end : o;
    return w;
}

#endif

/*
 * doh_param.c - the GET parameter, base64url and answer TTL of DNS over
 * HTTPS (doh_param.h).
 */
#include <string.h>

#include "doh_param.h"

int doh_get_param(const char *query, size_t qlen, const char **val,
                  size_t *vlen)
{
    const char *p = query, *end = query ? query + qlen : NULL;
    int found = 0;

    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;

        if (stop - p >= 4 && memcmp(p, "dns=", 4) == 0) {
            if (found)
                return DOH_P_TWICE;
            found = 1;
            *val = p + 4;
            *vlen = (size_t)(stop - p - 4);
        }
        p = amp ? amp + 1 : end;
    }
    return found ? DOH_P_OK : DOH_P_MISSING;
}

/* The value of base64url character C, or -1. */
static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long doh_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0, i;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        return -1;
    for (i = 0; i < len; i++) {
        int v = b64url_val((unsigned char)in[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* leftover bits must be zero */
        return -1;
    return (long)n;
}

/* Skip the (maybe compressed) name at *OFF.  0 or -1. */
static int skip_name(const uint8_t *msg, size_t len, size_t *off)
{
    size_t o = *off;

    for (;;) {
        uint8_t l;

        if (o >= len)
            return -1;
        l = msg[o];
        if (l == 0) {
            *off = o + 1;
            return 0;
        }
        if ((l & 0xc0) == 0xc0) {
            if (o + 2 > len)
                return -1;
            *off = o + 2;
            return 0;
        }
        if (l & 0xc0)
            return -1;
        o += 1u + l;
    }
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

#define T_SOA 6
#define T_OPT 41

int doh_min_ttl(const uint8_t *msg, size_t len, uint32_t *ttl)
{
    size_t off = 12, i;
    unsigned qd, an, ns;
    int have = 0;

    if (len < 12)
        return -1;
    qd = get16(msg + 4);
    an = get16(msg + 6);
    ns = get16(msg + 8);
    for (i = 0; i < qd; i++) {
        if (skip_name(msg, len, &off) != 0 || off + 4 > len)
            return -1;
        off += 4;
    }
    /* the answer section, else the authority section */
    for (i = 0; i < (size_t)an + (an ? 0 : ns); i++) {
        uint16_t type, rdlen;
        uint32_t t;

        if (skip_name(msg, len, &off) != 0 || off + 10 > len)
            return -1;
        type = get16(msg + off);
        t = get32(msg + off + 4);
        rdlen = get16(msg + off + 8);
        off += 10;
        if (off + rdlen > len)
            return -1;
        if (type == T_SOA && an == 0) {
            size_t r = off;

            /* MNAME, RNAME, then five 32-bit fields, MINIMUM last */
            if (skip_name(msg, off + rdlen, &r) != 0 ||
                skip_name(msg, off + rdlen, &r) != 0 || r + 20 != off + rdlen)
                return -1;
            if (get32(msg + r + 16) < t)
                t = get32(msg + r + 16);
        }
        off += rdlen;
        if (type == T_OPT)
            continue;
        if (t > 0x7fffffffu) /* RFC 2181 8: treated as zero */
            t = 0;
        if (!have || t < *ttl)
            *ttl = t;
        have = 1;
    }
    return have ? 0 : 1;
}

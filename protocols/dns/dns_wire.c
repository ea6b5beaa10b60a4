/*
 * dns_wire.c - DNS wire format: names, query parsing, packet writer.
 */
#include "dns_wire.h"

#include <stdio.h>
#include <string.h>

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t dns_name_len(const uint8_t *p, size_t len)
{
    size_t off = 0;

    while (off < len) {
        uint8_t l = p[off];

        if (l == 0)
            return off + 1 <= DNS_NAME_MAX ? off + 1 : 0;
        if (l > DNS_LABEL_MAX)
            return 0;
        off += (size_t)l + 1;
        if (off >= DNS_NAME_MAX)
            return 0;
    }
    return 0;
}

unsigned dns_name_labels(const uint8_t *name)
{
    unsigned n = 0;

    while (*name) {
        name += *name + 1;
        n++;
    }
    return n;
}

int dns_name_equal(const uint8_t *a, const uint8_t *b)
{
    for (;;) {
        uint8_t l = *a;

        if (l != *b)
            return 0;
        if (l == 0)
            return 1;
        a++;
        b++;
        for (uint8_t i = 0; i < l; i++)
            if (lower(a[i]) != lower(b[i]))
                return 0;
        a += l;
        b += l;
    }
}

size_t dns_name_lower(uint8_t *dst, const uint8_t *src)
{
    size_t i = 0;

    for (;;) {
        uint8_t l = src[i];

        dst[i++] = l;
        if (l == 0)
            return i;
        for (uint8_t k = 0; k < l; k++, i++)
            dst[i] = lower(src[i]);
    }
}

const uint8_t *dns_name_skip(const uint8_t *name, unsigned n)
{
    while (n-- > 0 && *name)
        name += *name + 1;
    return name;
}

int dns_name_under(const uint8_t *name, const uint8_t *ancestor)
{
    unsigned a = dns_name_labels(name), b = dns_name_labels(ancestor);

    return a >= b && dns_name_equal(dns_name_skip(name, a - b), ancestor);
}

char *dns_name_text(const uint8_t *name, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return out;
    if (*name == 0) {
        snprintf(out, outlen, ".");
        return out;
    }
    while (*name) {
        uint8_t l = *name++;

        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = name[i];
            char tmp[5];
            int n;

            if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' ||
                c == ')' || c == '@' || c == '$')
                n = snprintf(tmp, sizeof(tmp), "\\%c", c);
            else if (c <= 0x20 || c >= 0x7f)
                n = snprintf(tmp, sizeof(tmp), "\\%03u", c);
            else
                n = snprintf(tmp, sizeof(tmp), "%c", c);
            if (o + (size_t)n + 2 > outlen)
                goto done;
            memcpy(out + o, tmp, (size_t)n);
            o += (size_t)n;
        }
        name += l;
        out[o++] = '.';
    }
done:
    out[o] = '\0';
    return out;
}

size_t dns_name_parse(uint8_t *dst, const char *text, size_t n,
                      const uint8_t *origin, const char **err)
{
    const char *p = text, *end = text + n;
    size_t len = 1, lab = 0; /* lab: offset of the current length byte */
    size_t olen = origin ? dns_name_len(origin, DNS_NAME_MAX) : 1;

    *err = "bad name";
    if (n == 0)
        return 0;
    if (n == 1 && p[0] == '@' && origin) {
        memcpy(dst, origin, olen);
        return olen;
    }
    dst[0] = 0;
    if (n == 1 && p[0] == '.')
        return 1;
    while (p < end) {
        int c = (unsigned char)*p++;

        if (c == '.') {
            if (len == lab + 1) {
                *err = "empty label in name";
                return 0;
            }
            if (p == end) {
                origin = NULL; /* absolute: the root label follows */
                olen = 1;
                break;
            }
            lab = len++;
            if (len > DNS_NAME_MAX) {
                *err = "name too long";
                return 0;
            }
            dst[lab] = 0;
            continue;
        }
        if (c == '\\') {
            if (p == end) {
                *err = "bad escape in name";
                return 0;
            }
            if (*p >= '0' && *p <= '9') {
                if (end - p < 3 || p[1] < '0' || p[1] > '9' || p[2] < '0' ||
                    p[2] > '9' ||
                    (c = (p[0] - '0') * 100 + (p[1] - '0') * 10 +
                         (p[2] - '0')) > 255) {
                    *err = "bad \\DDD escape in name";
                    return 0;
                }
                p += 3;
            } else {
                c = (unsigned char)*p++;
            }
        }
        if (len - lab - 1 >= DNS_LABEL_MAX) {
            *err = "label longer than 63";
            return 0;
        }
        if (len + 1 > DNS_NAME_MAX) {
            *err = "name too long";
            return 0;
        }
        dst[len++] = (uint8_t)c;
        dst[lab]++;
    }
    if (olen == 0 || len + olen > DNS_NAME_MAX) {
        *err = "name too long";
        return 0;
    }
    if (origin)
        memcpy(dst + len, origin, olen);
    else
        dst[len] = 0;
    return len + olen;
}

size_t dns_name_from_text(uint8_t *dst, const char *text, const uint8_t *origin)
{
    const char *err;

    return dns_name_parse(dst, text, strlen(text), origin, &err);
}

/* ---- queries ------------------------------------------------------------ */

/* Skip a possibly compressed name in a record; returns the offset past it
 * or 0.  Pointers must point backwards; the expanded name must be legal. */
size_t dns_wire_skip_name(const uint8_t *msg, size_t len, size_t off)
{
    size_t end = 0, total = 0;
    unsigned hops = 0;

    for (;;) {
        uint8_t l;

        if (off >= len)
            return 0;
        l = msg[off];
        if (l == 0) {
            total++;
            return total > DNS_NAME_MAX ? 0 : (end ? end : off + 1);
        }
        if ((l & 0xc0) == 0xc0) {
            size_t target;

            if (off + 1 >= len || ++hops > 64)
                return 0;
            target = (size_t)((l & 0x3f) << 8 | msg[off + 1]);
            if (target >= off || target < DNS_HDR_LEN) /* not the header */
                return 0;
            if (!end)
                end = off + 2;
            off = target;
            continue;
        }
        if (l > DNS_LABEL_MAX)
            return 0;
        total += (size_t)l + 1;
        if (total >= DNS_NAME_MAX)
            return 0;
        off += (size_t)l + 1;
    }
}

int dns_query_parse(const uint8_t *msg, size_t len, dns_query_t *q)
{
    size_t off, n;
    unsigned rr, nrr;

    memset(q, 0, sizeof(*q));
    if (len < DNS_HDR_LEN)
        return DNS_PARSE_DROP;
    q->id = dns_get16(msg);
    q->flags = dns_get16(msg + 2);
    if (q->flags & DNS_F_QR)
        return DNS_PARSE_DROP;
    q->ancount = dns_get16(msg + 6);
    q->nscount = dns_get16(msg + 8);
    q->arcount = dns_get16(msg + 10);
    if (dns_get16(msg + 4) != 1)
        return DNS_PARSE_FORMERR;
    n = dns_name_len(msg + DNS_HDR_LEN, len - DNS_HDR_LEN);
    if (n == 0 || DNS_HDR_LEN + n + 4 > len)
        return DNS_PARSE_FORMERR;
    q->qname = msg + DNS_HDR_LEN;
    q->qname_len = n;
    off = DNS_HDR_LEN + n;
    q->qtype = dns_get16(msg + off);
    q->qclass = dns_get16(msg + off + 2);
    off += 4;
    q->question_end = off;
    q->udp_size = DNS_UDP_MIN;
    nrr = (unsigned)q->ancount + q->nscount + q->arcount;
    for (rr = 0; rr < nrr; rr++) {
        size_t name_off = off;
        uint16_t type, rdlen;

        off = dns_wire_skip_name(msg, len, off);
        if (off == 0 || off + 10 > len)
            return DNS_PARSE_FORMERR;
        type = dns_get16(msg + off);
        rdlen = dns_get16(msg + off + 8);
        if (off + 10 + rdlen > len)
            return DNS_PARSE_FORMERR;
        if (type == DNS_T_OPT) {
            uint16_t size = dns_get16(msg + off + 2);

            if (q->edns || msg[name_off] != 0 ||
                rr < (unsigned)q->ancount + q->nscount)
                return DNS_PARSE_FORMERR;
            q->edns = 1;
            q->udp_size = size < DNS_UDP_MIN ? DNS_UDP_MIN : size;
            q->edns_version = msg[off + 5];
            q->do_bit = (msg[off + 6] & 0x80) != 0;
        }
        off += 10 + (size_t)rdlen;
    }
    /* Trailing garbage after the counted records is tolerated, as BIND
     * and NSD do. */
    return DNS_PARSE_OK;
}

/* ---- packet writer ------------------------------------------------------ */

void dns_pkt_init(dns_pkt_t *p, uint8_t *buf, size_t cap)
{
    p->buf = buf;
    p->cap = cap > DNS_MSG_MAX ? DNS_MSG_MAX : cap;
    p->len = 0;
    p->ncomp = 0;
    p->overflow = 0;
}

dns_pkt_mark_t dns_pkt_mark(const dns_pkt_t *p)
{
    dns_pkt_mark_t m = {p->len, p->ncomp};

    return m;
}

void dns_pkt_rollback(dns_pkt_t *p, dns_pkt_mark_t m)
{
    p->len = m.len;
    p->ncomp = m.ncomp;
}

int dns_pkt_bytes(dns_pkt_t *p, const void *data, size_t len)
{
    if (p->len + len > p->cap) {
        p->overflow = 1;
        return -1;
    }
    if (len) /* DATA may be NULL for an empty rdata */
        memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

int dns_pkt_u16(dns_pkt_t *p, uint16_t v)
{
    uint8_t b[2];

    dns_put16(b, v);
    return dns_pkt_bytes(p, b, 2);
}

int dns_pkt_u32(dns_pkt_t *p, uint32_t v)
{
    uint8_t b[4];

    dns_put32(b, v);
    return dns_pkt_bytes(p, b, 4);
}

int dns_pkt_ptr(dns_pkt_t *p, uint16_t off)
{
    return dns_pkt_u16(p, (uint16_t)(0xc000u | off));
}

/* Whether the (possibly compressed) name at packet offset OFF equals the
 * uncompressed NAME, case-insensitively. */
static int pkt_name_equal(const dns_pkt_t *p, size_t off, const uint8_t *name)
{
    unsigned hops = 0;

    for (;;) {
        uint8_t l = p->buf[off];

        if ((l & 0xc0) == 0xc0) {
            if (++hops > 64)
                return 0;
            off = (size_t)((l & 0x3f) << 8 | p->buf[off + 1]);
            continue;
        }
        if (l != *name)
            return 0;
        if (l == 0)
            return 1;
        for (uint8_t i = 1; i <= l; i++)
            if (lower(p->buf[off + i]) != lower(name[i]))
                return 0;
        off += (size_t)l + 1;
        name += l + 1;
    }
}

int dns_pkt_name(dns_pkt_t *p, const uint8_t *name, int compress)
{
    size_t start = p->len, lit;
    const uint8_t *s = name;
    int ptr = -1;

    for (; *s && compress && ptr < 0; s += *s + 1) {
        for (unsigned i = 0; i < p->ncomp; i++) {
            if (pkt_name_equal(p, p->comp[i], s)) {
                ptr = p->comp[i];
                break;
            }
        }
        if (ptr >= 0)
            break;
    }
    if (ptr >= 0) {
        lit = (size_t)(s - name);
        if (p->len + lit + 2 > p->cap) {
            p->overflow = 1;
            return -1;
        }
        memcpy(p->buf + p->len, name, lit);
        dns_put16(p->buf + p->len + lit, (uint16_t)(0xc000u | (unsigned)ptr));
        p->len += lit + 2;
    } else {
        size_t n = dns_name_len(name, DNS_NAME_MAX);

        if (dns_pkt_bytes(p, name, n) != 0)
            return -1;
        lit = n - 1;
    }
    /* Remember where each literally written suffix starts. */
    for (s = name; (size_t)(s - name) < lit; s += *s + 1) {
        size_t off = start + (size_t)(s - name);

        if (off >= 0x4000 || p->ncomp >= DNS_COMP_MAX)
            break;
        p->comp[p->ncomp++] = (uint16_t)off;
    }
    return 0;
}

void dns_pkt_remember(dns_pkt_t *p, size_t off)
{
    while (off < p->len && p->buf[off] != 0 && p->buf[off] <= DNS_LABEL_MAX &&
           off < 0x4000 && p->ncomp < DNS_COMP_MAX) {
        p->comp[p->ncomp++] = (uint16_t)off;
        off += (size_t)p->buf[off] + 1;
    }
}

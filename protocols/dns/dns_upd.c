/*
 * dns_upd.c - RFC 2136 UPDATE: reading the sections, the prescan, the
 * prerequisites, and the changes (dns_upd.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_upd.h"
#include "loom.h"

/* Expand the possibly compressed name at OFF of MSG (LEN bytes) into OUT
 * (DNS_NAME_MAX bytes).  *NEXT: the offset just past it in the message.
 * Returns the expanded length, or 0 when malformed (a pointer that does
 * not point backwards, into the header, or an expansion over 255). */
static size_t name_expand(const uint8_t *msg, size_t len, size_t off,
                          uint8_t *out, size_t *next)
{
    size_t o = 0, end = 0;

    for (;;) {
        uint8_t l;

        if (off >= len)
            return 0;
        l = msg[off];
        if ((l & 0xc0) == 0xc0) {
            size_t target;

            if (off + 1 >= len)
                return 0;
            target = (size_t)((l & 0x3f) << 8 | msg[off + 1]);
            if (target >= off || target < DNS_HDR_LEN)
                return 0;
            if (end == 0)
                end = off + 2;
            off = target;
            continue;
        }
        if (l & 0xc0)
            return 0;
        if (off + 1 + l > len || o + 1 + l > DNS_NAME_MAX)
            return 0;
        memcpy(out + o, msg + off, (size_t)l + 1);
        o += (size_t)l + 1;
        off += (size_t)l + 1;
        if (l == 0) {
            *next = end ? end : off;
            return o;
        }
    }
}

/* Layouts of rdata that holds names a sender may compress (RFC 3597 4
 * and the types whose receivers decompress them): 'N' a name, '2' and
 * '4' fixed fields; nothing may follow. */
static const struct {
    uint16_t type;
    const char *layout;
} rd_layouts[] = {
    {2, "N"},     {3, "N"},   {4, "N"},   {5, "N"},   {6, "NN44444"},
    {7, "N"},     {8, "N"},   {9, "N"},   {12, "N"},  {14, "NN"},
    {15, "2N"},   {17, "NN"}, {18, "2N"}, {21, "2N"}, {26, "2NN"},
    {33, "222N"}, {39, "N"},
};

static const char *rd_layout(uint16_t type)
{
    for (size_t i = 0; i < sizeof(rd_layouts) / sizeof(rd_layouts[0]); i++)
        if (rd_layouts[i].type == type)
            return rd_layouts[i].layout;
    return NULL;
}

/* Copy the RDLEN bytes of rdata at OFF into R, expanding names.  0 or
 * -1 (a name that does not expand or leaves the rdata, a wrong length). */
static int rdata_take(const uint8_t *msg, size_t len, size_t off,
                      uint16_t rdlen, dns_upd_rr_t *r)
{
    const char *lay = rd_layout(r->type);
    uint8_t buf[DNS_MSG_MAX];
    size_t o = 0, p = off, end = off + rdlen;

    r->rdata = NULL;
    r->rdlen = 0;
    if (rdlen == 0 || lay == NULL) { /* opaque (or empty: a deletion) */
        r->rdata = loom_malloc(rdlen ? rdlen : 1);
        memcpy(r->rdata, msg + off, rdlen);
        r->rdlen = rdlen;
        return 0;
    }
    for (; *lay; lay++) {
        if (*lay == 'N') {
            size_t next, n = name_expand(msg, end, p, buf + o, &next);

            if (n == 0)
                return -1;
            o += n;
            p = next;
        } else {
            size_t k = (size_t)(*lay - '0');

            if (p + k > end)
                return -1;
            memcpy(buf + o, msg + p, k);
            o += k;
            p += k;
        }
        if (o > DNS_MSG_MAX - 2 * DNS_NAME_MAX)
            return -1;
    }
    if (p != end || o > 0xffff)
        return -1;
    r->rdata = loom_malloc(o);
    memcpy(r->rdata, buf, o);
    r->rdlen = (uint16_t)o;
    return 0;
}

/* Read N records at *OFF into a new array *OUT. */
static int section_take(const uint8_t *msg, size_t len, size_t *off, unsigned n,
                        dns_upd_rr_t **out, char *why, size_t whylen,
                        const char *what)
{
    dns_upd_rr_t *v = n ? loom_calloc(n, sizeof(*v)) : NULL;

    *out = v;
    for (unsigned i = 0; i < n; i++) {
        size_t next;
        uint16_t rdlen;

        if (name_expand(msg, len, *off, v[i].name, &next) == 0 ||
            next + 10 > len) {
            snprintf(why, whylen, "%s record %u: malformed", what, i + 1);
            return -1;
        }
        v[i].type = dns_get16(msg + next);
        v[i].rclass = dns_get16(msg + next + 2);
        v[i].ttl = dns_get32(msg + next + 4);
        rdlen = dns_get16(msg + next + 8);
        if (next + 10 + rdlen > len ||
            rdata_take(msg, len, next + 10, rdlen, &v[i]) != 0) {
            snprintf(why, whylen, "%s record %u: malformed rdata", what, i + 1);
            return -1;
        }
        *off = next + 10 + rdlen;
    }
    return 0;
}

void dns_upd_free(dns_upd_t *u)
{
    for (size_t i = 0; u->pre && i < u->npre; i++)
        free(u->pre[i].rdata);
    for (size_t i = 0; u->upd && i < u->nupd; i++)
        free(u->upd[i].rdata);
    free(u->pre);
    free(u->upd);
    u->pre = u->upd = NULL;
    u->npre = u->nupd = 0;
}

unsigned dns_upd_parse(const uint8_t *msg, size_t len, dns_upd_t *u, char *why,
                       size_t whylen)
{
    size_t off = DNS_HDR_LEN, next, n;

    memset(u, 0, sizeof(*u));
    if (len < DNS_HDR_LEN || dns_get16(msg + 4) != 1) {
        snprintf(why, whylen, "the zone section must hold one zone");
        return DNS_R_FORMERR;
    }
    n = name_expand(msg, len, off, u->zone, &next);
    if (n == 0 || next + 4 > len) {
        snprintf(why, whylen, "malformed zone section");
        return DNS_R_FORMERR;
    }
    if (dns_get16(msg + next) != DNS_T_SOA ||
        dns_get16(msg + next + 2) != DNS_C_IN) {
        snprintf(why, whylen, "the zone section must be type SOA, class IN");
        return DNS_R_FORMERR;
    }
    off = next + 4;
    u->npre = dns_get16(msg + 6);
    u->nupd = dns_get16(msg + 8);
    if (section_take(msg, len, &off, (unsigned)u->npre, &u->pre, why, whylen,
                     "prerequisite") != 0 ||
        section_take(msg, len, &off, (unsigned)u->nupd, &u->upd, why, whylen,
                     "update") != 0) {
        dns_upd_free(u);
        return DNS_R_FORMERR;
    }
    return 0;
}

/* A meta type (RFC 6895 3.1: 128-255, OPT, TSIG ...) or type 0. */
static int meta_type(uint16_t t)
{
    return t == 0 || t == DNS_T_OPT || (t >= 128 && t <= 255);
}

static unsigned fail(char *why, size_t whylen, unsigned rc, const char *what,
                     size_t i, const dns_upd_rr_t *r, const char *msg)
{
    char txt[4 * DNS_NAME_MAX + 1];

    snprintf(why, whylen, "%s record %zu (%s type %u class %u): %s", what,
             i + 1, dns_name_text(r->name, txt, sizeof(txt)), r->type,
             r->rclass, msg);
    return rc;
}

unsigned dns_upd_prescan(const dns_upd_t *u, char *why, size_t whylen)
{
    for (size_t i = 0; i < u->npre; i++) {
        const dns_upd_rr_t *r = &u->pre[i];
        const char *p = "prerequisite";

        if (!dns_name_under(r->name, u->zone))
            return fail(why, whylen, DNS_R_NOTZONE, p, i, r,
                        "outside the zone");
        if (r->ttl != 0)
            return fail(why, whylen, DNS_R_FORMERR, p, i, r, "TTL not 0");
        if (r->rclass == DNS_C_ANY || r->rclass == DNS_C_NONE) {
            if (r->rdlen != 0)
                return fail(why, whylen, DNS_R_FORMERR, p, i, r,
                            "rdata with class ANY or NONE");
            if (r->type != DNS_T_ANY && meta_type(r->type))
                return fail(why, whylen, DNS_R_FORMERR, p, i, r, "meta type");
        } else if (r->rclass == DNS_C_IN) {
            if (meta_type(r->type))
                return fail(why, whylen, DNS_R_FORMERR, p, i, r, "meta type");
        } else {
            return fail(why, whylen, DNS_R_FORMERR, p, i, r, "bad class");
        }
    }
    for (size_t i = 0; i < u->nupd; i++) {
        const dns_upd_rr_t *r = &u->upd[i];
        const char *p = "update";

        if (!dns_name_under(r->name, u->zone))
            return fail(why, whylen, DNS_R_NOTZONE, p, i, r,
                        "outside the zone");
        if (r->rclass == DNS_C_IN) {
            if (meta_type(r->type))
                return fail(why, whylen, DNS_R_FORMERR, p, i, r,
                            "meta type in an addition");
        } else if (r->rclass == DNS_C_ANY) {
            if (r->ttl != 0 || r->rdlen != 0)
                return fail(why, whylen, DNS_R_FORMERR, p, i, r,
                            "TTL or rdata in an RRset deletion");
            if (r->type != DNS_T_ANY && meta_type(r->type))
                return fail(why, whylen, DNS_R_FORMERR, p, i, r, "meta type");
        } else if (r->rclass == DNS_C_NONE) {
            if (r->ttl != 0)
                return fail(why, whylen, DNS_R_FORMERR, p, i, r,
                            "TTL in a record deletion");
            if (meta_type(r->type))
                return fail(why, whylen, DNS_R_FORMERR, p, i, r, "meta type");
        } else {
            return fail(why, whylen, DNS_R_FORMERR, p, i, r, "bad class");
        }
    }
    return 0;
}

/* Whether the set S holds a record with rdata RD (RDLEN bytes). */
static int set_has(const dns_rrset_t *s, const uint8_t *rd, uint16_t rdlen)
{
    const uint8_t *p = s->data;

    for (uint32_t k = 0; k < s->count; k++) {
        uint16_t l = dns_get16(p);

        if (l == rdlen && memcmp(p + 2, rd, l) == 0)
            return 1;
        p += 2 + l;
    }
    return 0;
}

/* The value-dependent prerequisites on NAME TYPE (those among PRE from
 * index FIRST on) against set S (or NULL): equal as sets. */
static int set_matches(const dns_upd_rr_t *pre, size_t npre, size_t first,
                       const dns_rrset_t *s)
{
    const uint8_t *p;

    if (s == NULL)
        return 0;
    for (size_t j = first; j < npre; j++)
        if (pre[j].rclass == DNS_C_IN && pre[j].type == pre[first].type &&
            dns_name_equal(pre[j].name, pre[first].name) &&
            !set_has(s, pre[j].rdata, pre[j].rdlen))
            return 0;
    p = s->data;
    for (uint32_t k = 0; k < s->count; k++) {
        uint16_t l = dns_get16(p);
        int found = 0;

        for (size_t j = first; j < npre && !found; j++)
            found = pre[j].rclass == DNS_C_IN &&
                    pre[j].type == pre[first].type &&
                    dns_name_equal(pre[j].name, pre[first].name) &&
                    pre[j].rdlen == l && memcmp(pre[j].rdata, p + 2, l) == 0;
        if (!found)
            return 0;
        p += 2 + l;
    }
    return 1;
}

unsigned dns_upd_prereq(const dns_upd_t *u, const dns_zone_t *z, char *why,
                        size_t whylen)
{
    const char *p = "prerequisite";

    for (size_t i = 0; i < u->npre; i++) {
        const dns_upd_rr_t *r = &u->pre[i];
        const dns_node_t *n = dns_zone_find(z, r->name);
        int used = n && n->nrrsets > 0;
        const dns_rrset_t *s = n ? dns_node_rrset(n, r->type) : NULL;

        if (r->rclass == DNS_C_ANY && r->type == DNS_T_ANY) {
            if (!used)
                return fail(why, whylen, DNS_R_NXDOMAIN, p, i, r,
                            "name not in use");
        } else if (r->rclass == DNS_C_ANY) {
            if (s == NULL)
                return fail(why, whylen, DNS_R_NXRRSET, p, i, r,
                            "no such RRset");
        } else if (r->rclass == DNS_C_NONE && r->type == DNS_T_ANY) {
            if (used)
                return fail(why, whylen, DNS_R_YXDOMAIN, p, i, r,
                            "name in use");
        } else if (r->rclass == DNS_C_NONE) {
            if (s)
                return fail(why, whylen, DNS_R_YXRRSET, p, i, r,
                            "RRset exists");
        } else {
            int seen = 0;

            /* each NAME TYPE group is compared once, at its first record */
            for (size_t j = 0; j < i && !seen; j++)
                seen = u->pre[j].rclass == DNS_C_IN &&
                       u->pre[j].type == r->type &&
                       dns_name_equal(u->pre[j].name, r->name);
            if (!seen && !set_matches(u->pre, u->npre, i, s))
                return fail(why, whylen, DNS_R_NXRRSET, p, i, r,
                            "RRset differs");
        }
    }
    return 0;
}

void dns_upd_change(const dns_upd_rr_t *r, dns_change_t *c)
{
    memset(c, 0, sizeof(*c));
    c->name = r->name;
    c->type = r->type;
    if (r->rclass == DNS_C_IN) {
        c->op = DNS_CH_ADD;
        c->ttl = r->ttl;
        c->rdata = r->rdata;
        c->rdlen = r->rdlen;
    } else if (r->rclass == DNS_C_ANY) {
        c->op = r->type == DNS_T_ANY ? DNS_CH_DEL_NAME : DNS_CH_DEL_RRSET;
    } else {
        c->op = DNS_CH_DEL_RR;
        c->rdata = r->rdata;
        c->rdlen = r->rdlen;
    }
}

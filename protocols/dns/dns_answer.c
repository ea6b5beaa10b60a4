/*
 * dns_answer.c - building responses from a zone: positive answers, CNAME
 * chains, wildcards (RFC 4592), negative answers (RFC 2308), referrals,
 * additional-section addresses, and the zone transfer stream.
 */
#include <string.h>

#include "dns_zone.h"

#define CNAME_CHAIN_MAX 8
#define ADDL_MAX 16

typedef struct {
    dns_pkt_t *p;
    const dns_zone_t *z;
    const dns_query_t *q;
    unsigned count[3]; /* answer, authority, additional */
    size_t question_end;
    unsigned question_ncomp;
    const uint8_t *addl[ADDL_MAX]; /* names already given addresses */
    unsigned naddl;
    int truncated;
} answer_t;

int dns_reply_start(dns_pkt_t *p, const uint8_t *msg, const dns_query_t *q,
                    unsigned rcode)
{
    uint8_t hdr[DNS_HDR_LEN];
    /* RD and CD mean something in a QUERY only */
    uint16_t copy = DNS_OPCODE(q->flags) == DNS_OP_QUERY
                        ? (uint16_t)(0x7800u | DNS_F_RD | DNS_F_CD)
                        : (uint16_t)0x7800u;
    uint16_t flags = (uint16_t)(DNS_F_QR | (q->flags & copy) | (rcode & 0xf));

    memset(hdr, 0, sizeof(hdr));
    dns_put16(hdr, q->id);
    dns_put16(hdr + 2, flags);
    p->len = 0;
    p->ncomp = 0;
    p->overflow = 0;
    if (dns_pkt_bytes(p, hdr, sizeof(hdr)) != 0)
        return -1;
    if (q->qname) {
        if (dns_pkt_bytes(p, msg + DNS_HDR_LEN,
                          q->question_end - DNS_HDR_LEN) != 0)
            return -1;
        p->buf[5] = 1;
        dns_pkt_remember(p, DNS_HDR_LEN);
    }
    return 0;
}

void dns_reply_set_rcode(dns_pkt_t *p, unsigned rcode)
{
    p->buf[3] = (uint8_t)((p->buf[3] & 0xf0) | (rcode & 0xf));
}

void dns_reply_set_flags(dns_pkt_t *p, uint16_t set)
{
    dns_put16(p->buf + 2, (uint16_t)(dns_get16(p->buf + 2) | set));
}

static void count_add(dns_pkt_t *p, int section, unsigned n)
{
    uint8_t *c = p->buf + 6 + 2 * section;

    dns_put16(c, (uint16_t)(dns_get16(c) + n));
}

int dns_reply_opt(dns_pkt_t *p, uint16_t udp_size, unsigned rcode, int do_bit)
{
    uint8_t opt[11] = {0, 0, DNS_T_OPT, 0, 0, 0, 0, 0, 0, 0, 0};

    dns_put16(opt + 3, udp_size);
    opt[5] = (uint8_t)(rcode >> 4);
    opt[7] = do_bit ? 0x80 : 0;
    if (dns_pkt_bytes(p, opt, sizeof(opt)) != 0)
        return -1;
    count_add(p, 2, 1);
    return 0;
}

/* One record; OWNER NULL means a pointer to the question's name.  Names
 * inside NS, CNAME, PTR, MX and SOA rdata are compressed (RFC 3597 4). */
static int put_rr(dns_pkt_t *p, const uint8_t *owner, uint16_t type,
                  uint16_t rclass, uint32_t ttl, const uint8_t *rd,
                  uint16_t rdlen)
{
    dns_pkt_mark_t m = dns_pkt_mark(p);
    size_t lenpos, n1, n2, fixed = 0;
    int rc;

    rc = owner ? dns_pkt_name(p, owner, 1) : dns_pkt_ptr(p, DNS_HDR_LEN);
    rc |= dns_pkt_u16(p, type);
    rc |= dns_pkt_u16(p, rclass);
    rc |= dns_pkt_u32(p, ttl);
    lenpos = p->len;
    rc |= dns_pkt_u16(p, 0);
    if (rc != 0)
        goto fail;
    switch (type) {
    case DNS_T_MX:
        fixed = 2;
        /* fall through */
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
        if (rdlen <= fixed ||
            dns_name_len(rd + fixed, rdlen - fixed) != (size_t)rdlen - fixed)
            goto raw;
        if (dns_pkt_bytes(p, rd, fixed) != 0 ||
            dns_pkt_name(p, rd + fixed, 1) != 0)
            goto fail;
        break;
    case DNS_T_SOA:
        n1 = dns_name_len(rd, rdlen);
        n2 = n1 ? dns_name_len(rd + n1, rdlen - n1) : 0;
        if (n2 == 0 || n1 + n2 + 20 != rdlen)
            goto raw;
        if (dns_pkt_name(p, rd, 1) != 0 || dns_pkt_name(p, rd + n1, 1) != 0 ||
            dns_pkt_bytes(p, rd + n1 + n2, 20) != 0)
            goto fail;
        break;
    default:
    raw:
        if (dns_pkt_bytes(p, rd, rdlen) != 0)
            goto fail;
    }
    dns_put16(p->buf + lenpos, (uint16_t)(p->len - lenpos - 2));
    return 0;
fail:
    dns_pkt_rollback(p, m);
    p->overflow = 1;
    return -1;
}

int dns_reply_rr(dns_pkt_t *p, int section, const uint8_t *name, uint16_t type,
                 uint16_t rclass, uint32_t ttl, const uint8_t *rdata,
                 uint16_t rdlen)
{
    if (put_rr(p, name, type, rclass, ttl, rdata, rdlen) != 0)
        return -1;
    count_add(p, section, 1);
    return 0;
}

/* Every record of SET (and its RRSIGs when the query has DO) with OWNER,
 * all or nothing.  TTL overrides the set's when not ~0. */
static int add_set(answer_t *a, int section, const uint8_t *owner,
                   const dns_rrset_t *set, uint32_t ttl, int sigs)
{
    dns_pkt_mark_t m = dns_pkt_mark(a->p);
    unsigned n = 0;

    for (int pass = 0; pass < 2 && set; pass++) {
        const uint8_t *d = set->data, *end = set->data + set->size;

        for (; d < end; d += 2 + dns_get16(d), n++) {
            if (put_rr(a->p, owner, set->type, DNS_C_IN,
                       ttl != ~0u ? ttl : set->ttl, d + 2, dns_get16(d)) != 0) {
                dns_pkt_rollback(a->p, m);
                return -1;
            }
        }
        if (!sigs || !a->q->do_bit)
            break;
        set = set->sigs;
    }
    a->count[section] += n;
    return 0;
}

static uint32_t neg_ttl(const dns_zone_t *z)
{
    const uint8_t *d = z->soa->data;
    uint32_t min = dns_get32(d + 2 + dns_get16(d) - 4);

    return min < z->soa->ttl ? min : z->soa->ttl;
}

/* Addresses for TARGET when it lies in the zone, once per name. */
static int add_addresses(answer_t *a, const uint8_t *target)
{
    const dns_node_t *n;

    if (!dns_name_under(target, a->z->apex))
        return 0;
    for (unsigned i = 0; i < a->naddl; i++)
        if (dns_name_equal(a->addl[i], target))
            return 0;
    if (a->naddl < ADDL_MAX)
        a->addl[a->naddl++] = target;
    if ((n = dns_zone_find(a->z, target)) == NULL)
        return 0;
    if (add_set(a, 2, n->name, dns_node_rrset(n, DNS_T_A), ~0u, 0) != 0 ||
        add_set(a, 2, n->name, dns_node_rrset(n, DNS_T_AAAA), ~0u, 0) != 0)
        return -1;
    return 0;
}

/* Additional-section processing for the targets of NS, MX and SRV. */
static void add_additional(answer_t *a, const dns_rrset_t *set)
{
    size_t off;
    const uint8_t *d, *end;

    switch (set->type) {
    case DNS_T_NS:
        off = 0;
        break;
    case DNS_T_MX:
        off = 2;
        break;
    case DNS_T_SRV:
        off = 6;
        break;
    default:
        return;
    }
    for (d = set->data, end = d + set->size; d < end; d += 2 + dns_get16(d)) {
        uint16_t len = dns_get16(d);

        if (len > off && dns_name_len(d + 2 + off, len - off) == len - off)
            (void)add_addresses(a, d + 2 + off);
    }
}

static int add_negative(answer_t *a, const dns_node_t *node)
{
    if (add_set(a, 1, a->z->apex_node->name, a->z->soa, neg_ttl(a->z), 1) != 0)
        return -1;
    if (node && a->q->do_bit)
        (void)add_set(a, 1, node->name, dns_node_rrset(node, DNS_T_NSEC), ~0u,
                      1);
    return 0;
}

static int add_referral(answer_t *a, const dns_node_t *cut)
{
    const dns_rrset_t *ns = dns_node_rrset(cut, DNS_T_NS), *ds;
    const uint8_t *d, *end;

    if (add_set(a, 1, cut->name, ns, ~0u, 0) != 0)
        return -1;
    if (a->q->do_bit) {
        if ((ds = dns_node_rrset(cut, DNS_T_DS)) != NULL)
            (void)add_set(a, 1, cut->name, ds, ~0u, 1);
        else
            (void)add_set(a, 1, cut->name, dns_node_rrset(cut, DNS_T_NSEC), ~0u,
                          1);
    }
    /* Glue: addresses of name servers at or below the cut must fit. */
    for (d = ns->data, end = d + ns->size; d < end; d += 2 + dns_get16(d)) {
        if (add_addresses(a, d + 2) != 0 && dns_name_under(d + 2, cut->name))
            return -1;
    }
    return 0;
}

unsigned dns_answer(const dns_zone_t *z, const dns_query_t *q, dns_pkt_t *p,
                    dns_answer_info_t *info)
{
    answer_t a;
    const uint8_t *name = q->qname;
    const uint8_t *visited[CNAME_CHAIN_MAX];
    unsigned rcode = DNS_R_NOERROR, chain = 0;
    uint16_t aa = DNS_F_AA;
    dns_answer_info_t dummy;
    int rc = 0;

    if (info == NULL)
        info = &dummy;
    memset(info, 0, sizeof(*info));
    memset(&a, 0, sizeof(a));
    a.p = p;
    a.z = z;
    a.q = q;
    a.question_end = p->len;
    a.question_ncomp = p->ncomp;
    for (;;) {
        unsigned qlabels = dns_name_labels(name), i;
        const dns_node_t *ce = z->apex_node, *node = NULL;
        const uint8_t *owner = name == q->qname ? NULL : name;
        const dns_rrset_t *set;
        int cut = 0;

        for (i = z->apex_labels + 1; i <= qlabels; i++) {
            const dns_node_t *n =
                dns_zone_find(z, dns_name_skip(name, qlabels - i));

            if (n == NULL)
                break;
            ce = n;
            if ((n->flags & DNS_NODE_CUT) &&
                !(i == qlabels && q->qtype == DNS_T_DS)) {
                cut = 1;
                break;
            }
        }
        if (cut) {
            if (chain == 0) {
                aa = 0;
                info->referral = 1;
                rc = add_referral(&a, ce);
            }
            break;
        }
        if (ce->labels == qlabels) {
            node = ce;
        } else {
            uint8_t wild[DNS_NAME_MAX + 2];
            size_t len = dns_name_len(ce->name, DNS_NAME_MAX);

            if (len + 2 <= DNS_NAME_MAX) {
                wild[0] = 1;
                wild[1] = '*';
                memcpy(wild + 2, ce->name, len);
                node = dns_zone_find(z, wild);
            }
            if (node == NULL) {
                rcode = DNS_R_NXDOMAIN;
                rc = add_negative(&a, NULL);
                break;
            }
            info->wildcard = 1;
        }
        if (q->qtype == DNS_T_ANY) {
            /* RFC 8482 4.1: one RRset is enough. */
            set = node->nrrsets && node->rrsets[0].type != DNS_T_RRSIG
                      ? &node->rrsets[0]
                      : NULL;
        } else if (q->qtype == DNS_T_RRSIG) {
            set = NULL;
            for (unsigned k = 0; k < node->nrrsets && rc == 0; k++)
                if (node->rrsets[k].type == DNS_T_RRSIG) {
                    set = &node->rrsets[k];
                    rc = add_set(&a, 0, owner, set, ~0u, 0);
                }
            if (set)
                break;
        } else {
            set = dns_node_rrset(node, q->qtype);
        }
        if (set) {
            rc = add_set(&a, 0, owner, set, ~0u, 1);
            if (rc == 0)
                add_additional(&a, set);
            break;
        }
        set = dns_node_rrset(node, DNS_T_CNAME);
        if (set && q->qtype != DNS_T_CNAME) {
            const uint8_t *target = set->data + 2;

            rc = add_set(&a, 0, owner, set, ~0u, 1);
            if (rc != 0 || chain + 1 >= CNAME_CHAIN_MAX ||
                !dns_name_under(target, z->apex))
                break;
            /* Stop at a loop: each name answers once (RFC 2181 5). */
            visited[chain++] = name;
            for (i = 0; i < chain; i++)
                if (dns_name_equal(visited[i], target))
                    break;
            if (i < chain)
                break;
            name = target;
            continue;
        }
        rc = add_negative(&a, node);
        break;
    }
    if (rc != 0) {
        /* The answer or authority section does not fit: TC, no records. */
        p->len = a.question_end;
        p->ncomp = a.question_ncomp;
        p->overflow = 0;
        memset(a.count, 0, sizeof(a.count));
        dns_reply_set_flags(p, DNS_F_TC);
    }
    for (int s = 0; s < 3; s++)
        count_add(p, s, a.count[s]);
    dns_reply_set_flags(p, aa);
    dns_reply_set_rcode(p, rcode);
    return rcode;
}

/* ---- zone transfer --------------------------------------------------------
 */

void dns_axfr_init(dns_axfr_t *x, const dns_zone_t *z)
{
    memset(x, 0, sizeof(*x));
    x->z = z;
}

int dns_axfr_fill(dns_axfr_t *x, dns_pkt_t *p)
{
    const dns_zone_t *z = x->z;
    unsigned n = 0;

    if (x->state == 0) {
        if (put_rr(p, z->apex_node->name, DNS_T_SOA, DNS_C_IN, z->soa->ttl,
                   z->soa->data + 2, dns_get16(z->soa->data)) != 0)
            return 1;
        n++;
        x->state = 1;
    }
    while (x->state == 1 && x->node < z->nnodes) {
        const dns_node_t *node = z->nodes[x->node];

        while (x->set < node->nrrsets) {
            const dns_rrset_t *set = &node->rrsets[x->set];

            while (x->rec < set->size && set->type != DNS_T_SOA) {
                const uint8_t *d = set->data + x->rec;

                if (put_rr(p, node->name, set->type, DNS_C_IN, set->ttl, d + 2,
                           dns_get16(d)) != 0)
                    goto full;
                n++;
                x->rec += 2 + (uint32_t)dns_get16(d);
            }
            x->set++;
            x->rec = 0;
        }
        x->node++;
        x->set = 0;
    }
    x->state = 2;
    if (put_rr(p, z->apex_node->name, DNS_T_SOA, DNS_C_IN, z->soa->ttl,
               z->soa->data + 2, dns_get16(z->soa->data)) != 0)
        goto full;
    n++;
    x->state = 3;
    count_add(p, 0, n);
    return 0;
full:
    count_add(p, 0, n);
    return n ? 1 : -1;
}

/*
 * lookup.c - typed DNS lookups (A, AAAA, MX, TXT, SRV, PTR) for modules:
 * one ares_query per lookup, the answer read here (c-ares's own
 * ares_parse_*_reply give no TTLs), CNAME chains followed, negative
 * answers given the SOA's TTL (RFC 2308) and every failure a status that
 * tells a permanent one from a temporary one.  The contract is in
 * loom_client.h.
 */
#include "resolver.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOOKUP_CLASS_IN 1
#define LOOKUP_TYPE_CNAME 5
#define LOOKUP_TYPE_SOA 6
#define LOOKUP_MAX_CHAIN 16

struct loom_dns_query_s {
    loom_server_t *srv;
    loom_dns_type_t type;
    char *name;     /* the name asked, without a final dot */
    loom_dns_cb cb; /* NULL once cancelled */
    void *arg;
    int starting; /* inside ares_query: an answer waits for the kick */
    int in_ares;  /* c-ares holds it */
    struct event *kick;
    /* what to report from the kick */
    int ares_status;
    unsigned char *abuf;
    int alen;
    int early; /* a failure found before asking: st / err below */
    loom_dns_status_t st;
    const char *err;
};

/* ---- status ------------------------------------------------------------- */

static const struct {
    loom_dns_status_t st;
    int temporary;
    const char *text;
} lookup_statuses[] = {
    {LOOM_DNS_OK, 0, "ok"},
    {LOOM_DNS_NXDOMAIN, 0, "no such domain"},
    {LOOM_DNS_NODATA, 0, "no record of that type"},
    {LOOM_DNS_BADNAME, 0, "bad domain name"},
    {LOOM_DNS_TIMEOUT, 1, "timed out"},
    {LOOM_DNS_SERVFAIL, 1, "server failure"},
    {LOOM_DNS_REFUSED, 1, "refused by the server"},
    {LOOM_DNS_BADREPLY, 1, "malformed answer"},
    {LOOM_DNS_ERROR, 1, "lookup failed"},
};

int loom_dns_temporary(loom_dns_status_t st)
{
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(lookup_statuses); i++)
        if (lookup_statuses[i].st == st)
            return lookup_statuses[i].temporary;
    return 1;
}

const char *loom_dns_strstatus(loom_dns_status_t st)
{
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(lookup_statuses); i++)
        if (lookup_statuses[i].st == st)
            return lookup_statuses[i].text;
    return "lookup failed";
}

static const char *lookup_type_name(loom_dns_type_t t)
{
    static const struct {
        loom_dns_type_t t;
        const char *name;
    } names[] = {{LOOM_DNS_A, "A"},     {LOOM_DNS_AAAA, "AAAA"},
                 {LOOM_DNS_MX, "MX"},   {LOOM_DNS_TXT, "TXT"},
                 {LOOM_DNS_SRV, "SRV"}, {LOOM_DNS_PTR, "PTR"}};
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(names); i++)
        if (names[i].t == t)
            return names[i].name;
    return NULL;
}

/* ---- reading the answer ---------------------------------------------------
 */

typedef struct {
    char *owner;
    unsigned type, rclass, ttl;
    const unsigned char *rdata;
    unsigned rdlen;
} lookup_wrr_t;

typedef struct {
    const unsigned char *msg;
    int len;
    lookup_wrr_t *an;
    size_t nan;
    unsigned soa_neg; /* from the authority section's SOA; 0: none */
    int have_soa;
} lookup_msg_t;

static unsigned rd16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned rd32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 |
           p[3];
}

/* The name at P (inside MSG) as a heap string without a final dot ("."
 * for the root); returns its encoded length or -1. */
static long lookup_name(const unsigned char *msg, int len,
                        const unsigned char *p, char **out)
{
    char *s;
    long enclen;

    if (p < msg || p >= msg + len ||
        ares_expand_name(p, msg, len, &s, &enclen) != ARES_SUCCESS)
        return -1;
    *out = loom_strdup(s[0] ? s : ".");
    ares_free_string(s);
    return enclen;
}

static void lookup_msg_free(lookup_msg_t *m)
{
    size_t i;

    for (i = 0; i < m->nan; i++)
        free(m->an[i].owner);
    free(m->an);
}

/* Read RR headers from *P (COUNT of them); answers are kept in M, an SOA
 * among the others sets M's negative TTL.  Returns 0 or -1. */
static int lookup_read_section(lookup_msg_t *m, const unsigned char **pp,
                               unsigned count, int keep)
{
    const unsigned char *end = m->msg + m->len, *p = *pp;
    unsigned i;

    for (i = 0; i < count; i++) {
        lookup_wrr_t rr;
        long enclen = lookup_name(m->msg, m->len, p, &rr.owner);

        if (enclen < 0)
            return -1;
        p += enclen;
        if (end - p < 10) {
            free(rr.owner);
            return -1;
        }
        rr.type = rd16(p);
        rr.rclass = rd16(p + 2);
        rr.ttl = rd32(p + 4);
        if (rr.ttl > INT32_MAX) /* RFC 2181 section 8 */
            rr.ttl = 0;
        rr.rdlen = rd16(p + 8);
        rr.rdata = p + 10;
        p += 10;
        if ((size_t)(end - p) < rr.rdlen) {
            free(rr.owner);
            return -1;
        }
        p += rr.rdlen;
        if (keep) {
            m->an = loom_realloc(m->an, (m->nan + 1) * sizeof(*m->an));
            m->an[m->nan++] = rr;
            continue;
        }
        if (rr.type == LOOKUP_TYPE_SOA && !m->have_soa) {
            char *mname = NULL, *rname = NULL;
            long l1 = lookup_name(m->msg, m->len, rr.rdata, &mname);
            long l2 = l1 < 0
                          ? -1
                          : lookup_name(m->msg, m->len, rr.rdata + l1, &rname);

            if (l2 >= 0 && (unsigned long)(l1 + l2 + 20) <= rr.rdlen) {
                unsigned min = rd32(rr.rdata + l1 + l2 + 16);

                m->have_soa = 1;
                m->soa_neg = rr.ttl < min ? rr.ttl : min;
            }
            free(mname);
            free(rname);
        }
        free(rr.owner);
    }
    *pp = p;
    return 0;
}

/* Split MSG into its answers and the authority's SOA.  Returns 0 or -1. */
static int lookup_msg_read(lookup_msg_t *m, const unsigned char *msg, int len)
{
    const unsigned char *p = msg + 12;
    unsigned qd, an, ns, i;

    memset(m, 0, sizeof(*m));
    m->msg = msg;
    m->len = len;
    if (len < 12)
        return -1;
    qd = rd16(msg + 4);
    an = rd16(msg + 6);
    ns = rd16(msg + 8);
    for (i = 0; i < qd; i++) {
        char *q;
        long enclen = lookup_name(msg, len, p, &q);

        if (enclen < 0)
            return -1;
        free(q);
        p += enclen;
        if (msg + len - p < 4)
            return -1;
        p += 4;
    }
    if (lookup_read_section(m, &p, an, 1) != 0 ||
        lookup_read_section(m, &p, ns, 0) != 0)
        return -1;
    return 0;
}

/* ---- building the result --------------------------------------------------
 */

typedef struct {
    loom_dns_rr_t *rr;
    size_t n;
    char *cname;
} lookup_out_t;

static void lookup_out_free(lookup_out_t *o)
{
    size_t i;

    for (i = 0; i < o->n; i++) {
        free((char *)o->rr[i].name);
        free((char *)o->rr[i].text);
        free((loom_slice_t *)o->rr[i].strings);
    }
    free(o->rr);
    free(o->cname);
}

/* Read the rdata of one record of the type asked into OUT.  0 or -1. */
static int lookup_rdata(const lookup_msg_t *m, const lookup_wrr_t *w,
                        loom_dns_type_t type, loom_dns_rr_t *out)
{
    const unsigned char *d = w->rdata;
    size_t off, total = 0, k = 0;
    char *text;
    loom_slice_t *sl;

    switch (type) {
    case LOOM_DNS_A: {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr.addr;

        if (w->rdlen != 4)
            return -1;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, d, 4);
        out->addr.len = sizeof(*sin);
        out->addr.ttl = out->ttl;
        return 0;
    }
    case LOOM_DNS_AAAA: {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr.addr;

        if (w->rdlen != 16)
            return -1;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, d, 16);
        out->addr.len = sizeof(*sin6);
        out->addr.ttl = out->ttl;
        return 0;
    }
    case LOOM_DNS_MX:
        if (w->rdlen < 3)
            return -1;
        out->pref = rd16(d);
        return lookup_name(m->msg, m->len, d + 2, (char **)&out->name) < 0 ? -1
                                                                           : 0;
    case LOOM_DNS_SRV:
        if (w->rdlen < 7)
            return -1;
        out->pref = rd16(d);
        out->weight = rd16(d + 2);
        out->port = rd16(d + 4);
        return lookup_name(m->msg, m->len, d + 6, (char **)&out->name) < 0 ? -1
                                                                           : 0;
    case LOOM_DNS_PTR:
        return lookup_name(m->msg, m->len, d, (char **)&out->name) < 0 ? -1 : 0;
    case LOOM_DNS_TXT:
        for (off = 0; off < w->rdlen; off += 1u + d[off], k++) {
            if (off + 1u + d[off] > w->rdlen)
                return -1;
            total += d[off];
        }
        text = loom_malloc(total + 1);
        sl = loom_calloc(k ? k : 1, sizeof(*sl));
        total = 0;
        for (off = 0, k = 0; off < w->rdlen; off += 1u + d[off], k++) {
            memcpy(text + total, d + off + 1, d[off]);
            sl[k].p = text + total;
            sl[k].len = d[off];
            total += d[off];
        }
        text[total] = '\0';
        out->text = text;
        out->text_len = total;
        out->strings = sl;
        out->nstrings = k;
        return 0;
    default:
        return -1;
    }
}

/* Follow the CNAME chain from QNAME and read the records of TYPE at its
 * end.  Returns 0, or -1 for a malformed record. */
static int lookup_collect(const lookup_msg_t *m, const char *qname,
                          loom_dns_type_t type, lookup_out_t *o)
{
    const char *cur = qname;
    unsigned chain_ttl = UINT_MAX;
    size_t i, hops;

    memset(o, 0, sizeof(*o));
    for (hops = 0; hops < LOOKUP_MAX_CHAIN; hops++) {
        const lookup_wrr_t *c = NULL;
        char *target;

        for (i = 0; i < m->nan && c == NULL; i++)
            if (m->an[i].type == LOOKUP_TYPE_CNAME &&
                m->an[i].rclass == LOOKUP_CLASS_IN &&
                strcasecmp(m->an[i].owner, cur) == 0)
                c = &m->an[i];
        if (c == NULL || (unsigned)type == LOOKUP_TYPE_CNAME)
            break;
        if (lookup_name(m->msg, m->len, c->rdata, &target) < 0)
            return -1;
        free(o->cname);
        o->cname = target;
        cur = target;
        if (c->ttl < chain_ttl)
            chain_ttl = c->ttl;
    }
    o->rr = loom_calloc(m->nan ? m->nan : 1, sizeof(*o->rr));
    for (i = 0; i < m->nan; i++) {
        const lookup_wrr_t *w = &m->an[i];
        loom_dns_rr_t *r = &o->rr[o->n];

        if (w->type != (unsigned)type || w->rclass != LOOKUP_CLASS_IN ||
            strcasecmp(w->owner, cur) != 0)
            continue;
        r->ttl = w->ttl < chain_ttl ? w->ttl : chain_ttl;
        o->n++; /* counted first: freed with the others on failure */
        if (lookup_rdata(m, w, type, r) != 0)
            return -1;
    }
    return 0;
}

/* MX by preference, SRV by priority; stable (insertion sort: few). */
static void lookup_sort(loom_dns_rr_t *rr, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        loom_dns_rr_t x = rr[i];

        for (j = i; j > 0 && rr[j - 1].pref > x.pref; j--)
            rr[j] = rr[j - 1];
        rr[j] = x;
    }
}

/* ---- the query's life ------------------------------------------------------
 */

static void lookup_free(loom_dns_query_t *q)
{
    if (q->kick)
        event_free(q->kick);
    free(q->abuf);
    free(q->name);
    free(q);
}

static void lookup_report(loom_dns_query_t *q, loom_dns_result_t *res)
{
    char err[600];

    res->name = q->name;
    res->type = q->type;
    if (res->status != LOOM_DNS_OK) {
        snprintf(err, sizeof(err), "%s %s: %s", q->name,
                 lookup_type_name(q->type) ? lookup_type_name(q->type) : "?",
                 res->err ? res->err : loom_dns_strstatus(res->status));
        res->err = err;
        res->rr = NULL;
        res->n = 0;
    }
    if (q->cb)
        q->cb(res, q->arg);
}

/* Turn c-ares's outcome into a result for the caller, then free Q. */
static void lookup_deliver(loom_dns_query_t *q)
{
    loom_dns_result_t res;
    lookup_msg_t m;
    lookup_out_t o;
    int have_msg = 0;

    memset(&res, 0, sizeof(res));
    memset(&o, 0, sizeof(o));
    if (q->early) {
        res.status = q->st;
        res.err = q->err;
        lookup_report(q, &res);
        lookup_free(q);
        return;
    }
    if (q->abuf) {
        have_msg = lookup_msg_read(&m, q->abuf, q->alen) == 0;
        if (!have_msg)
            lookup_msg_free(&m);
    }
    if (q->ares_status == ARES_SUCCESS || q->ares_status == ARES_ENODATA ||
        q->ares_status == ARES_ENOTFOUND) {
        if (!have_msg && q->ares_status == ARES_SUCCESS) {
            res.status = LOOM_DNS_BADREPLY;
        } else if (q->ares_status == ARES_ENOTFOUND) {
            res.status = LOOM_DNS_NXDOMAIN;
        } else if (have_msg && lookup_collect(&m, q->name, q->type, &o) != 0) {
            res.status = LOOM_DNS_BADREPLY;
        } else if (o.n == 0) {
            res.status = LOOM_DNS_NODATA;
        } else {
            if (q->type == LOOM_DNS_MX || q->type == LOOM_DNS_SRV)
                lookup_sort(o.rr, o.n);
            res.rr = o.rr;
            res.n = o.n;
        }
        if (have_msg && m.have_soa &&
            (res.status == LOOM_DNS_NXDOMAIN || res.status == LOOM_DNS_NODATA))
            res.neg_ttl = m.soa_neg;
        res.cname = o.cname;
    } else {
        res.status = loom_resolver_status(q->ares_status, &res.err);
    }
    lookup_report(q, &res);
    lookup_out_free(&o);
    if (have_msg)
        lookup_msg_free(&m);
    lookup_free(q);
}

static void lookup_on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lookup_deliver(arg);
}

static void lookup_later(loom_dns_query_t *q)
{
    struct timeval tv = {0, 0};

    q->kick = evtimer_new(q->srv->base, lookup_on_kick, q);
    evtimer_add(q->kick, &tv);
}

static void lookup_on_answer(void *arg, int status, int timeouts,
                             unsigned char *abuf, int alen)
{
    loom_dns_query_t *q = arg;

    (void)timeouts;
    q->in_ares = 0;
    if (q->cb == NULL) { /* cancelled */
        lookup_free(q);
        return;
    }
    q->ares_status = status;
    if (abuf && alen > 0) {
        q->abuf = loom_malloc((size_t)alen);
        memcpy(q->abuf, abuf, (size_t)alen);
        q->alen = alen;
    }
    if (q->starting)
        lookup_later(q);
    else
        lookup_deliver(q);
}

/* The in-addr.arpa / ip6.arpa name of address S, or NULL when S is not
 * an address. */
static char *lookup_arpa(const char *s)
{
    unsigned char a[16];
    char *out, *p;
    int i;

    if (inet_pton(AF_INET, s, a) == 1) {
        out = loom_malloc(32);
        snprintf(out, 32, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
        return out;
    }
    if (inet_pton(AF_INET6, s, a) != 1)
        return NULL;
    out = p = loom_malloc(64 + 9);
    for (i = 15; i >= 0; i--) {
        static const char hex[] = "0123456789abcdef";

        *p++ = hex[a[i] & 15];
        *p++ = '.';
        *p++ = hex[a[i] >> 4];
        *p++ = '.';
    }
    memcpy(p, "ip6.arpa", 9);
    return out;
}

loom_dns_query_t *loom_dns_lookup(loom_server_t *srv, loom_resolver_t *r,
                                  loom_dns_type_t type, const char *name,
                                  loom_dns_cb cb, void *arg)
{
    loom_dns_query_t *q = loom_calloc(1, sizeof(*q));
    size_t len;

    q->srv = srv;
    q->type = type;
    q->cb = cb;
    q->arg = arg;
    if (name && type == LOOM_DNS_PTR)
        q->name = lookup_arpa(name);
    if (q->name == NULL)
        q->name = loom_strdup(name ? name : "");
    len = strlen(q->name);
    if (len > 1 && q->name[len - 1] == '.')
        q->name[len - 1] = '\0';
    if (r == NULL)
        r = srv->resolver;
    q->early = 1;
    if (lookup_type_name(type) == NULL) {
        q->st = LOOM_DNS_ERROR;
        q->err = "unsupported record type";
    } else if (!loom_resolver_name_ok(q->name)) {
        q->st = LOOM_DNS_BADNAME;
    } else if (r == NULL) {
        q->st = LOOM_DNS_ERROR;
        q->err = "resolver unavailable";
    } else {
        q->early = 0;
    }
    if (q->early) {
        lookup_later(q);
        return q;
    }
    q->starting = 1;
    q->in_ares = 1;
    ares_query(loom_resolver_lookup_channel(r), q->name, LOOKUP_CLASS_IN,
               (int)type, lookup_on_answer, q);
    q->starting = 0; /* an answer given inside waits for its kick */
    loom_resolver_lookup_rearm(r);
    return q;
}

void loom_dns_cancel(loom_dns_query_t *q)
{
    if (q == NULL)
        return;
    if (q->in_ares) {
        q->cb = NULL; /* lookup_on_answer frees it */
        return;
    }
    lookup_free(q); /* its answer waited for the kick */
}

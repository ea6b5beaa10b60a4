/*
 * dns_rrl.c - response rate limiting: a fixed table of per-prefix
 * counters (a newer prefix takes over a slot whose second has passed),
 * one-second windows, and slip.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"

typedef struct {
    uint8_t key[17];  /* family byte + masked address */
    uint64_t second;  /* window the count belongs to */
    uint32_t count;   /* responses in that window */
    uint32_t limited; /* limited responses so far (for slip) */
} rrl_bucket_t;

struct dns_rrl_s {
    size_t mask;
    rrl_bucket_t b[];
};

dns_rrl_t *dns_rrl_new(size_t buckets)
{
    dns_rrl_t *r = loom_calloc(1, sizeof(*r) + buckets * sizeof(r->b[0]));

    r->mask = buckets - 1;
    return r;
}

void dns_rrl_free(dns_rrl_t *r)
{
    free(r);
}

static uint32_t key_hash(const uint8_t *k, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h ^ (h >> 13);
}

int dns_rrl_check(dns_rrl_t *r, const dns_conf_t *c, const struct sockaddr *sa,
                  uint64_t now)
{
    uint8_t key[17];
    const uint8_t *addr;
    unsigned bits, len;
    int family;
    rrl_bucket_t *b;

    if (c->rrl_rate == 0 || dns_acl_match(&c->rrl_exempt, sa))
        return DNS_RRL_PASS;
    if ((addr = dns_addr_bytes(sa, &family)) == NULL)
        return DNS_RRL_PASS;
    memset(key, 0, sizeof(key));
    key[0] = family == AF_INET ? 4 : 6;
    bits = family == AF_INET ? c->rrl_v4 : c->rrl_v6;
    len = family == AF_INET ? 4 : 16;
    memcpy(key + 1, addr, len);
    for (unsigned i = 0; i < len; i++) {
        unsigned keep = bits > i * 8 ? bits - i * 8 : 0;

        if (keep < 8)
            key[1 + i] &= (uint8_t)(0xff00u >> keep);
    }
    b = &r->b[key_hash(key, sizeof(key)) & r->mask];
    if (memcmp(b->key, key, sizeof(key)) != 0) {
        if (b->second == now && b->count > c->rrl_rate)
            return DNS_RRL_PASS; /* slot busy with another flood: no state */
        memcpy(b->key, key, sizeof(key));
        b->second = now;
        b->count = 0;
        b->limited = 0;
    }
    if (b->second != now) {
        b->second = now;
        b->count = 0;
    }
    if (++b->count <= c->rrl_rate)
        return DNS_RRL_PASS;
    b->limited++;
    if (c->rrl_slip && b->limited % c->rrl_slip == 0)
        return DNS_RRL_SLIP;
    return DNS_RRL_DROP;
}

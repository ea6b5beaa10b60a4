/*
 * dns_notify.c - NOTIFY (RFC 1996) to a zone's secondaries: one upstream
 * channel per target, signed with the target's TSIG key when it names one,
 * retried by c-ares, the outcome logged and counted.  Channels are freed
 * on the reactor turn after their answer (c-ares may not be torn down from
 * its own callback).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "dns_tsig.h"

#define DNS_NOTIFY_TRIES 5
#define DNS_NOTIFY_TIMEOUT_MS 2000

typedef struct notify_s notify_t;

struct notify_s {
    notify_t *next;
    dns_notifier_t *nf;
    loom_resolver_t *r;
    char *zone;
    char *target;
    int done;
};

struct dns_notifier_s {
    loom_instance_t *inst;
    dns_stats_t *st;
    notify_t *list;
    loom_timer_t reap; /* frees finished channels, next turn */
    int stopping;
};

static void notify_free(notify_t *n)
{
    loom_resolver_free(n->r);
    free(n->zone);
    free(n->target);
    free(n);
}

static void notify_reap(loom_timer_t *t, void *arg)
{
    dns_notifier_t *nf = arg;
    notify_t **pp = &nf->list, *n;

    (void)t;
    while ((n = *pp) != NULL) {
        if (n->done) {
            *pp = n->next;
            notify_free(n);
        } else {
            pp = &n->next;
        }
    }
}

static void notify_done(const unsigned char *answer, size_t len,
                        const char *err, void *arg)
{
    notify_t *n = arg;
    dns_notifier_t *nf = n->nf;
    const char *who = loom_instance_who(nf->inst);

    n->done = 1;
    if (nf->stopping)
        return;
    if (answer && len >= DNS_HDR_LEN && (answer[3] & 0xf) == DNS_R_NOERROR) {
        nf->st->notify_acked++;
        loom_log(LOOM_LOG_INFO, who, "zone %s: NOTIFY to %s acknowledged",
                 n->zone, n->target);
    } else {
        nf->st->notify_failed++;
        if (answer && len >= DNS_HDR_LEN)
            loom_log(LOOM_LOG_WARN, who,
                     "zone %s: NOTIFY to %s answered "
                     "with RCODE %u",
                     n->zone, n->target, answer[3] & 0xfu);
        else
            loom_log(LOOM_LOG_WARN, who, "zone %s: NOTIFY to %s failed: %s",
                     n->zone, n->target, err ? err : "no answer");
    }
    loom_timer_arm(&nf->reap, 0);
}

dns_notifier_t *dns_notifier_new(loom_instance_t *inst, dns_stats_t *st)
{
    dns_notifier_t *nf = loom_calloc(1, sizeof(*nf));

    nf->inst = inst;
    nf->st = st;
    loom_timer_init(&nf->reap, inst, notify_reap, nf);
    return nf;
}

void dns_notifier_free(dns_notifier_t *nf)
{
    if (nf == NULL)
        return;
    nf->stopping = 1;
    loom_timer_disarm(&nf->reap);
    while (nf->list) {
        notify_t *n = nf->list;

        nf->list = n->next;
        notify_free(n);
    }
    free(nf);
}

size_t dns_notify_send(dns_notifier_t *nf, const dns_conf_t *c,
                       const dns_zconf_t *zc)
{
    const dns_zone_t *z = zc->zone;
    uint8_t msg[DNS_HDR_LEN + 2 * DNS_NAME_MAX + 64 + 512];
    uint8_t signed_msg[sizeof(msg) + 2 * DNS_NAME_MAX + 128];
    dns_pkt_t p;
    dns_query_t q;
    char *list, *save = NULL, *t;
    size_t idx = 0, sent = 0;

    if (zc->notify == NULL)
        return 0;
    list = loom_strdup(zc->notify);
    /* The NOTIFY: opcode 4, AA, the zone's SOA as question and answer. */
    memset(&q, 0, sizeof(q));
    q.flags = (uint16_t)(DNS_OP_NOTIFY << 11);
    dns_pkt_init(&p, msg, sizeof(msg));
    dns_reply_start(&p, msg, &q, 0);
    dns_put16(p.buf + 2, (uint16_t)(DNS_OP_NOTIFY << 11 | DNS_F_AA));
    dns_pkt_name(&p, z->apex_node->name, 0);
    dns_pkt_u16(&p, DNS_T_SOA);
    dns_pkt_u16(&p, DNS_C_IN);
    dns_put16(p.buf + 4, 1);
    if (dns_reply_rr(&p, 0, z->apex_node->name, DNS_T_SOA, DNS_C_IN,
                     z->soa->ttl, z->soa->data + 2,
                     dns_get16(z->soa->data)) != 0)
        dns_put16(p.buf + 6, 0);
    for (t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save), idx++) {
        char err[256];
        notify_t *n;
        const uint8_t *out = msg;
        size_t outlen = p.len;
        int ki = zc->notify_keys ? zc->notify_keys[idx] : -1;

        if (ki >= 0) { /* RFC 8945: signed like a request */
            uint8_t mac[DNS_TSIG_MAC_MAX];
            dns_pkt_t sp;

            dns_pkt_init(&sp, signed_msg, sizeof(signed_msg));
            dns_pkt_bytes(&sp, msg, p.len);
            if (dns_tsig_sign(&sp, &c->keys[ki], NULL, 0, 0,
                              (uint64_t)time(NULL), 0, NULL, 0, mac) > 0) {
                out = signed_msg;
                outlen = sp.len;
            }
        }
        n = loom_calloc(1, sizeof(*n));

        n->nf = nf;
        n->zone = loom_strdup(z->name);
        n->target = loom_strdup(t);
        n->r = loom_resolver_upstream(loom_instance_server(nf->inst), t,
                                      DNS_NOTIFY_TIMEOUT_MS, DNS_NOTIFY_TRIES,
                                      err, sizeof(err));
        if (n->r == NULL) {
            loom_log(LOOM_LOG_WARN, loom_instance_who(nf->inst),
                     "zone %s: NOTIFY to %s: %s", z->name, t, err);
            free(n->zone);
            free(n->target);
            free(n);
            continue;
        }
        n->next = nf->list;
        nf->list = n;
        nf->st->notify_sent++;
        sent++;
        loom_log(LOOM_LOG_INFO, loom_instance_who(nf->inst),
                 "zone %s: serial %u, sending NOTIFY to %s", z->name,
                 (unsigned)z->serial, t);
        loom_resolver_send(n->r, out, outlen, notify_done, n);
    }
    free(list);
    return sent;
}

/*
 * dns.c - the dns module's glue: UDP and TCP/TLS sessions, the query
 * pipeline (parse, classify, answer, EDNS, rate limit), zone transfers,
 * NOTIFY on a new serial, forwarding through c-ares, CHAOS answers and
 * statistics; the pipeline is also a service (dns_service.h) that DNS
 * over HTTPS uses.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "dns.h"
#include "dns_service.h"
#include "dns_tsig.h"
#include "dns_upd.h"
#include "dns_update.h"
#include "loom_service.h"

#define DNS_IDLE_TIMEOUT 10 /* seconds, TCP and TLS */
#define DNS_RRL_BUCKETS 65536
#define DNS_CLIENT_SLOTS 256
#define DNS_AXFR_MSG 16384      /* bytes per transfer message */
#define DNS_NOTIFY_LOG_EVERY 60 /* seconds between NOTIFY refusal lines */

typedef struct client_s {
    struct client_s *next;
    uint8_t key[17];
    unsigned n;
} client_t;

typedef struct fwd_s fwd_t;
typedef struct upd_s upd_t;

typedef struct {
    char *zone;
    uint32_t serial;
} serial_t;

typedef struct {
    loom_instance_t *inst;
    dns_stats_t st;
    dns_rrl_t *rrl;
    client_t *clients[DNS_CLIENT_SLOTS];
    loom_resolver_t *fwd;
    char *fwd_servers;
    unsigned fwd_timeout;
    serial_t *serials;
    size_t nserials;
    dns_notifier_t *notifier;
    int stopping;
    uint64_t notify_logged; /* when a NOTIFY refusal was last logged */
    uint64_t notify_quiet;  /* refusals not logged since */
    uint64_t upd_logged;    /* the same for UPDATEs refused before */
    uint64_t upd_quiet;     /* their client was let in */
    dns_dyn_t *dyn;         /* dynamic zones (dns_dynz.c) */
    uint8_t out[2 + DNS_MSG_MAX];
} dns_state_t;

typedef struct {
    loom_conn_t *conn;
    dns_state_t *ds;
    struct sockaddr_storage peer;
    int counted;
    int tls;
    dns_zone_t *axfr_zone; /* a transfer in progress holds its zone */
    dns_axfr_t axfr;
    uint8_t axq[DNS_HDR_LEN + DNS_NAME_MAX + 4];
    dns_query_t axqq;
    int ax_signed;                    /* the transfer is signed with ax_key */
    int ax_first;                     /* its first message is still to come */
    dns_tsig_key_t ax_key;            /* a copy: a reload may free the conf's */
    uint8_t ax_mac[DNS_TSIG_MAC_MAX]; /* the previous MAC in the chain */
    size_t ax_mac_len;
    fwd_t *fwd; /* a forwarded query waiting for its answer */
    upd_t *upd; /* an UPDATE waiting for its commit */
} dns_conn_t;

/* An RFC 2136 UPDATE between its request and its commit: everything the
 * reply needs is copied here (a reload may free the conf and its keys).
 * Over UDP the client is a loom_dgram_t (a listener id, checked when the
 * reply goes); over TCP the connection, which cancels the handle and
 * frees this when it closes first. */
struct upd_s {
    dns_state_t *ds;
    dns_conn_t *dc; /* TCP, or NULL */
    int udp;
    loom_dgram_t from;
    dns_update_t *batch;    /* built, not yet submitted */
    dns_update_handle_t *h; /* submitted */
    dns_upd_t parsed;       /* the prerequisites, checked at commit */
    char zone[4 * DNS_NAME_MAX + 1];
    char who[INET6_ADDRSTRLEN + 8 * DNS_NAME_MAX + 40]; /* for the log */
    int edns;
    int is_signed;
    dns_tsig_key_t key;
    uint8_t mac[DNS_TSIG_MAC_MAX]; /* the request's MAC */
    size_t mac_len;
    uint8_t msg[DNS_HDR_LEN + DNS_NAME_MAX + 4]; /* header + zone section */
    dns_query_t q;
};

struct fwd_s {
    dns_state_t *ds;
    dns_conn_t *dc; /* TCP: the connection, NULL once it closed */
    int udp;
    int svc;         /* for the query service: CB, unless cancelled */
    dns_query_cb cb; /* NULL once cancelled */
    void *cb_arg;
    int *sync_done; /* set while the service's query is on the stack */
    loom_dgram_t from;
    unsigned limit; /* UDP: the most the client can take */
    uint8_t msg[DNS_HDR_LEN + DNS_NAME_MAX + 4]; /* header + question */
    dns_query_t q;
};

enum { R_NONE, R_REPLY, R_AXFR, R_FORWARD, R_UPDATE };

/* How a query came (process()'s HOW): the size limit and whether zone
 * transfers are possible follow from it. */
enum { T_UDP, T_TCP, T_SVC };

/* ---- helpers ----------------------------------------------------------------
 */

static uint64_t now_seconds(dns_state_t *ds)
{
    (void)ds;
    return loom_now_ms() / 1000;
}

static void client_key(const struct sockaddr *sa, uint8_t key[17])
{
    int family;
    const uint8_t *addr = dns_addr_bytes(sa, &family);

    memset(key, 0, 17);
    key[0] = (uint8_t)family;
    if (addr)
        memcpy(key + 1, addr, family == AF_INET ? 4 : 16);
}

static client_t **client_slot(dns_state_t *ds, const uint8_t key[17])
{
    unsigned h = 0;
    client_t **pp;

    for (int i = 0; i < 17; i++)
        h = h * 31 + key[i];
    for (pp = &ds->clients[h % DNS_CLIENT_SLOTS]; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->key, key, 17) == 0)
            break;
    return pp;
}

static const dns_zconf_t *zone_for(const dns_conf_t *c, const uint8_t *name)
{
    const dns_zconf_t *best = NULL;

    for (size_t i = 0; i < c->nzones; i++)
        if (dns_name_under(name, c->zones[i].zone->apex) &&
            (best == NULL ||
             c->zones[i].zone->apex_labels > best->zone->apex_labels))
            best = &c->zones[i];
    return best;
}

static void count_rcode(dns_state_t *ds, const dns_pkt_t *p, unsigned rcode)
{
    switch (rcode) {
    case DNS_R_NOERROR:
        ds->st.noerror++;
        break;
    case DNS_R_NXDOMAIN:
        ds->st.nxdomain++;
        break;
    case DNS_R_REFUSED:
        ds->st.refused++;
        break;
    case DNS_R_FORMERR:
        ds->st.formerr++;
        break;
    case DNS_R_NOTIMP:
        ds->st.notimp++;
        break;
    case DNS_R_SERVFAIL:
        ds->st.servfail++;
        break;
    case DNS_R_NOTAUTH:
        ds->st.notauth++;
        break;
    case DNS_R_BADVERS:
        ds->st.badvers++;
        break;
    case DNS_R_NOTZONE:
        ds->st.notzone++;
        break;
    }
    if (p->len >= DNS_HDR_LEN && (p->buf[2] & 0x02))
        ds->st.truncated++;
}

/* ---- CHAOS ----------------------------------------------------------------
 */

static int chaos_txt(dns_pkt_t *p, const char *const *strs, size_t n)
{
    uint8_t rd[1024];
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(strs[i]);

        if (l > 255 || len + 1 + l > sizeof(rd))
            return -1;
        rd[len++] = (uint8_t)l;
        memcpy(rd + len, strs[i], l);
        len += l;
    }
    return dns_reply_rr(p, 0, NULL, DNS_T_TXT, DNS_C_CH, 0, rd, (uint16_t)len);
}

static unsigned answer_chaos(dns_state_t *ds, const dns_conf_t *c,
                             const dns_query_t *q, const struct sockaddr *peer,
                             dns_pkt_t *p)
{
    uint8_t lname[DNS_NAME_MAX];
    char text[4 * DNS_NAME_MAX + 1];
    const char *value = NULL;

    dns_name_lower(lname, q->qname);
    dns_name_text(lname, text, sizeof(text));
    if (strcmp(text, "version.bind.") == 0 ||
        strcmp(text, "version.server.") == 0)
        value = c->version;
    else if (strcmp(text, "id.server.") == 0 ||
             strcmp(text, "hostname.bind.") == 0)
        value = c->identity;
    else if (strcmp(text, "stats.loom.") == 0 &&
             dns_acl_match(&c->stats_allow, peer)) {
        char bufs[40][48];
        const char *strs[40];
        size_t n = 0;

#define X(name)                                                                \
    snprintf(bufs[n], sizeof(bufs[n]), #name "=%llu",                          \
             (unsigned long long)ds->st.name);                                 \
    strs[n] = bufs[n];                                                         \
    n++;
        DNS_STATS(X)
#undef X
        if (q->qtype == DNS_T_TXT || q->qtype == DNS_T_ANY)
            chaos_txt(p, strs, n);
        dns_reply_set_flags(p, DNS_F_AA);
        return DNS_R_NOERROR;
    }
    if (value == NULL)
        return DNS_R_REFUSED;
    if (q->qtype == DNS_T_TXT || q->qtype == DNS_T_ANY)
        chaos_txt(p, &value, 1);
    dns_reply_set_flags(p, DNS_F_AA);
    return DNS_R_NOERROR;
}

/* ---- the query pipeline
 * ------------------------------------------------------ */

/* A request's TSIG as process() found it. */
typedef struct {
    int present;                   /* the request carried a TSIG record */
    const dns_tsig_key_t *key;     /* the verified key (in the conf), or NULL */
    uint8_t mac[DNS_TSIG_MAC_MAX]; /* the reply's MAC, when signed */
    size_t mac_len;
} tsig_state_t;

/* Log a refused NOTIFY at most once per DNS_NOTIFY_LOG_EVERY seconds,
 * with the number of those not logged since. */
static void notify_refusal_log(dns_state_t *ds, const dns_query_t *q)
{
    char zname[4 * DNS_NAME_MAX + 1];
    uint64_t now = now_seconds(ds);

    if (ds->notify_logged && now < ds->notify_logged + DNS_NOTIFY_LOG_EVERY) {
        ds->notify_quiet++;
        return;
    }
    loom_log(LOOM_LOG_INFO, loom_instance_who(ds->inst),
             "NOTIFY for %s refused: loom serves its zones as a primary "
             "only (%llu more refused since the last such line)",
             dns_name_text(q->qname, zname, sizeof(zname)),
             (unsigned long long)ds->notify_quiet);
    ds->notify_logged = now;
    ds->notify_quiet = 0;
}

/* Check the TSIG of MSG, if any (RFC 8945 5.2).  Returns 0 to go on
 * (TS->key set when it was signed and is good), or the RCODE to answer
 * with, *TERR being the TSIG error for the reply's record. */
static unsigned tsig_check(const dns_conf_t *c, const uint8_t *msg, size_t len,
                           dns_tsig_rr_t *rr, tsig_state_t *ts, unsigned *terr)
{
    int found = dns_tsig_find(msg, len, rr), v;
    const dns_tsig_key_t *key;

    if (found < 0) {
        memset(rr, 0, sizeof(*rr));
        return DNS_R_FORMERR;
    }
    if (found == 0)
        return DNS_R_NOERROR;
    ts->present = 1;
    if ((key = dns_tsig_key_find(c->keys, c->nkeys, rr)) == NULL) {
        *terr = DNS_TSIG_BADKEY;
        return DNS_R_NOTAUTH;
    }
    v = dns_tsig_verify(msg, len, rr, key, (uint64_t)time(NULL));
    if (v < 0) {
        memset(rr, 0, sizeof(*rr));
        return DNS_R_FORMERR;
    }
    if (v == DNS_TSIG_BADSIG) {
        *terr = (unsigned)v;
        return DNS_R_NOTAUTH;
    }
    ts->key = key; /* good, or BADTIME: the answer is signed */
    memcpy(ts->mac, rr->mac, rr->mac_len);
    ts->mac_len = rr->mac_len;
    if (v == DNS_TSIG_BADTIME) {
        *terr = (unsigned)v;
        return DNS_R_NOTAUTH;
    }
    return DNS_R_NOERROR;
}

/* Room the reply's TSIG record needs: signed with the key, or unsigned
 * naming the request's key and algorithm. */
static size_t tsig_reserve(const tsig_state_t *ts, const dns_tsig_rr_t *rr)
{
    if (!ts->present || rr->name == NULL) /* none, or malformed */
        return 0;
    if (ts->key)
        return dns_tsig_space(ts->key);
    return dns_name_len(rr->name, DNS_NAME_MAX) +
           dns_name_len(rr->alg, DNS_NAME_MAX) + 10 + 16;
}

/* Append the reply's TSIG: signed (BADTIME: with our time as Other Data
 * and the request's Time Signed) or unsigned (BADKEY, BADSIG). */
static void tsig_finish(dns_pkt_t *p, tsig_state_t *ts, const dns_tsig_rr_t *rr,
                        unsigned terr)
{
    uint64_t now = (uint64_t)time(NULL);
    uint8_t other[6];
    int n;

    if (!ts->present || rr->name == NULL)
        return;
    if (ts->key == NULL) {
        dns_tsig_append_unsigned(p, rr, now, (uint16_t)terr);
        return;
    }
    if (terr == DNS_TSIG_BADTIME) {
        dns_put16(other, (uint16_t)(now >> 32));
        dns_put32(other + 2, (uint32_t)now);
        n = dns_tsig_sign(p, ts->key, ts->mac, ts->mac_len, 0, rr->time_signed,
                          (uint16_t)terr, other, 6, ts->mac);
        ts->key = NULL; /* a refusal: no transfer follows */
    } else {
        n = dns_tsig_sign(p, ts->key, ts->mac, ts->mac_len, 0, now, 0, NULL, 0,
                          ts->mac);
    }
    ts->mac_len = n > 0 ? (size_t)n : 0;
}

static unsigned update_prepare(dns_state_t *ds, const dns_conf_t *c,
                               const uint8_t *msg, size_t len,
                               const struct sockaddr *peer, int how,
                               const dns_query_t *q, const tsig_state_t *ts,
                               upd_t **out);

/* Handle one request MSG from PEER.  Builds the reply in P (whose buffer
 * has room for DNS_MSG_MAX bytes) and returns what to do with it; for
 * R_AXFR *ZC is the zone and TS the transfer's TSIG, for R_FORWARD
 * nothing is built, for R_UPDATE *UPD is the UPDATE to submit (the
 * caller's) and nothing is built. */
static int process(dns_state_t *ds, const dns_conf_t *c, const uint8_t *msg,
                   size_t len, const struct sockaddr *peer, int how,
                   dns_query_t *q, dns_pkt_t *p, const dns_zconf_t **zc,
                   tsig_state_t *ts, upd_t **upd)
{
    int prc = dns_query_parse(msg, len, q), tcp = how == T_TCP;
    unsigned limit, rcode = DNS_R_NOERROR, opcode, terr = 0;
    size_t optlen, reserve = 0;
    dns_tsig_rr_t rr;

    memset(ts, 0, sizeof(*ts));
    memset(&rr, 0, sizeof(rr));
    if (prc == DNS_PARSE_DROP)
        return R_NONE;
    ds->st.queries++;
    if (how != T_UDP)
        limit = DNS_MSG_MAX;
    else if (q->edns)
        limit = q->udp_size < c->edns_size ? q->udp_size : c->edns_size;
    else
        limit = DNS_UDP_MIN;
    optlen = q->edns ? 11 : 0;
    p->cap = limit - optlen;
    p->overflow = 0;
    opcode = DNS_OPCODE(q->flags);
    if (prc == DNS_PARSE_FORMERR) {
        /* an opcode we do not implement is judged before the sections */
        rcode = opcode == DNS_OP_QUERY || opcode == DNS_OP_NOTIFY ||
                        opcode == DNS_OP_UPDATE
                    ? DNS_R_FORMERR
                    : DNS_R_NOTIMP;
        if (dns_reply_start(p, msg, q, rcode) != 0) {
            q->qname = NULL; /* a question too long to echo */
            dns_reply_start(p, msg, q, rcode);
        }
        goto done;
    }
    if (opcode == DNS_OP_QUERY)
        ds->st.qtype[q->qtype < DNS_QTYPE_OTHER ? q->qtype : DNS_QTYPE_OTHER]++;
    if (dns_reply_start(p, msg, q, DNS_R_NOERROR) != 0) {
        q->qname = NULL;
        rcode = DNS_R_FORMERR;
        dns_reply_start(p, msg, q, rcode);
        goto done;
    }
    rcode = tsig_check(c, msg, len, &rr, ts, &terr);
    reserve = tsig_reserve(ts, &rr);
    if (p->cap >= p->len + reserve)
        p->cap -= reserve;
    else
        reserve = 0;
    if (rcode != DNS_R_NOERROR)
        goto done;
    if (opcode == DNS_OP_NOTIFY) {
        ds->st.notify_in++;
        notify_refusal_log(ds, q);
        rcode = DNS_R_REFUSED;
        goto done;
    }
    if (q->edns && q->edns_version > 0 &&
        (opcode == DNS_OP_QUERY || opcode == DNS_OP_UPDATE)) {
        rcode = DNS_R_BADVERS;
        goto done;
    }
    if (opcode == DNS_OP_UPDATE) {
        rcode = update_prepare(ds, c, msg, len, peer, how, q, ts, upd);
        if (rcode == DNS_R_NOERROR)
            return R_UPDATE;
        goto done;
    }
    if (opcode != DNS_OP_QUERY) {
        rcode = DNS_R_NOTIMP;
        goto done;
    }
    if (q->qclass == DNS_C_CH) {
        rcode = answer_chaos(ds, c, q, peer, p);
        goto done;
    }
    if (q->qclass != DNS_C_IN) {
        rcode = DNS_R_REFUSED;
        goto done;
    }
    if (q->qtype == DNS_T_MAILA || q->qtype == DNS_T_MAILB) {
        rcode = DNS_R_NOTIMP;
        goto done;
    }
    if (q->qtype == DNS_T_OPT || q->qtype == DNS_T_TSIG) {
        rcode = DNS_R_FORMERR;
        goto done;
    }
    *zc = zone_for(c, q->qname);
    if (q->qtype == DNS_T_AXFR || (q->qtype == DNS_T_IXFR && tcp)) {
        if (!tcp) {
            rcode = DNS_R_FORMERR;
        } else if (*zc == NULL ||
                   !dns_name_equal(q->qname, (*zc)->zone->apex)) {
            rcode = DNS_R_NOTAUTH;
        } else if (!dns_allow_match(c, &(*zc)->allow_transfer, peer, ts->key)) {
            char text[INET6_ADDRSTRLEN] = "?";
            int family;
            const uint8_t *addr = dns_addr_bytes(peer, &family);

            if (addr)
                inet_ntop(family, addr, text, sizeof(text));
            loom_log(LOOM_LOG_INFO, loom_instance_who(ds->inst),
                     "zone transfer of %s refused to %s%s", (*zc)->zone->name,
                     text, ts->key ? " (signed with a key not allowed)" : "");
            ds->st.axfr_refused++;
            rcode = DNS_R_REFUSED;
        } else {
            return R_AXFR;
        }
        goto done;
    }
    if (*zc == NULL) {
        /* a signed query is not passed on: its MAC is for us */
        if (c->forward && ds->fwd && !ts->present &&
            dns_acl_match(&c->forward_allow, peer))
            return R_FORWARD;
        rcode = DNS_R_REFUSED;
        goto done;
    }
    {
        dns_query_t qq = *q;
        dns_answer_info_t info;

        if (qq.qtype == DNS_T_IXFR) /* over UDP: the current SOA */
            qq.qtype = DNS_T_SOA;
        rcode = dns_answer((*zc)->zone, &qq, p, &info);
        if (info.referral)
            ds->st.referrals++;
    }
done:
    if (q->edns) {
        p->cap += optlen;
        dns_reply_set_rcode(p, rcode & 0xf);
        dns_reply_opt(p, (uint16_t)c->edns_size, rcode, q->do_bit);
    } else {
        dns_reply_set_rcode(p, rcode == DNS_R_BADVERS ? DNS_R_FORMERR
                                                      : rcode & 0xf);
    }
    p->cap += reserve;
    tsig_finish(p, ts, &rr, terr);
    count_rcode(ds, p, rcode);
    return R_REPLY;
}

/* Cut a built reply down to header and question with TC set. */
static void truncate_reply(dns_pkt_t *p, const dns_query_t *q)
{
    p->len = q->qname ? q->question_end : DNS_HDR_LEN;
    memset(p->buf + 6, 0, 6);
    dns_reply_set_flags(p, DNS_F_TC);
}

/* ---- forwarding -------------------------------------------------------------
 */

static int conn_write_msg(dns_conn_t *dc, uint8_t *msg, size_t len);

static void fwd_done(const unsigned char *answer, size_t len, const char *err,
                     void *arg)
{
    fwd_t *f = arg;
    dns_state_t *ds = f->ds;
    dns_pkt_t p;
    size_t qlen = f->q.question_end;

    if (f->svc && f->cb == NULL) { /* cancelled */
        free(f);
        return;
    }
    if (f->svc && ds->stopping) {
        if (f->sync_done)
            *f->sync_done = 1;
        f->cb(f->cb_arg, DNS_QUERY_UNAVAILABLE, NULL, 0);
        free(f);
        return;
    }
    if (ds->stopping || (!f->svc && !f->udp && f->dc == NULL)) {
        free(f);
        return;
    }
    dns_pkt_init(&p, ds->out + 2, DNS_MSG_MAX);
    if (answer && len >= qlen && len <= DNS_MSG_MAX) {
        memcpy(p.buf, answer, len);
        p.len = len;
        dns_put16(p.buf, f->q.id);
        if (f->udp && len > f->limit) {
            truncate_reply(&p, &f->q);
            ds->st.truncated++;
        }
    } else {
        loom_log(LOOM_LOG_INFO, loom_instance_who(ds->inst),
                 "forwarding failed: %s", err ? err : "bad answer");
        ds->st.forward_fail++;
        ds->st.servfail++;
        dns_reply_start(&p, f->msg, &f->q, DNS_R_SERVFAIL);
        dns_reply_set_flags(&p, DNS_F_RA);
    }
    if (f->svc) {
        if (f->sync_done)
            *f->sync_done = 1;
        f->cb(f->cb_arg, DNS_QUERY_ANSWER, p.buf, p.len);
    } else if (f->udp) {
        /* the listener may have gone with a reload meanwhile */
        if (loom_dgram_reply(&f->from, (const char *)p.buf, p.len) ==
            LOOM_DECLINED)
            ds->st.reply_dropped++;
    } else {
        dns_conn_t *dc = f->dc;

        dc->fwd = NULL;
        (void)conn_write_msg(dc, p.buf, p.len);
        loom_conn_resume(dc->conn);
    }
    free(f);
}

/* Forward MSG for a UDP client (FROM set), a TCP one (DC set) or the
 * query service (neither: SVC, made by the caller); the answer comes back
 * through fwd_done(), maybe before this returns. */
static void fwd_start(dns_state_t *ds, const uint8_t *msg, size_t len,
                      const dns_query_t *q, unsigned limit,
                      const loom_dgram_t *from, dns_conn_t *dc, fwd_t *svc)
{
    fwd_t *f = svc ? svc : loom_calloc(1, sizeof(*f));

    f->ds = ds;
    f->limit = limit;
    memcpy(f->msg, msg, q->question_end);
    f->q = *q;
    f->q.qname = f->msg + DNS_HDR_LEN;
    if (from) {
        f->udp = 1;
        f->from = *from;
    } else if (dc) {
        f->dc = dc;
        dc->fwd = f;
        loom_conn_pause(dc->conn);
    }
    ds->st.forwarded++;
    loom_resolver_send(ds->fwd, msg, len, fwd_done, f);
}

/* ---- RFC 2136 UPDATE --------------------------------------------------------
 */

static void peer_text(const struct sockaddr *sa, char *out, size_t outlen)
{
    int family;
    const uint8_t *addr = dns_addr_bytes(sa, &family);

    snprintf(out, outlen, "?");
    if (addr)
        inet_ntop(family, addr, out, (socklen_t)outlen);
}

static void upd_free(upd_t *u)
{
    if (u->batch)
        dns_update_service.abort(u->batch);
    dns_upd_free(&u->parsed);
    OPENSSL_cleanse(&u->key, sizeof(u->key));
    free(u);
}

/* The prerequisites, run by the update service at commit time against
 * the zone as every earlier batch left it. */
static unsigned update_check(void *arg, const dns_zone_t *z, char *why,
                             size_t whylen)
{
    upd_t *u = arg;

    return dns_upd_prereq(&u->parsed, z, why, whylen);
}

/* Log an UPDATE refused before its client was let in (anyone can send
 * those, spoofed over UDP) at most once per DNS_NOTIFY_LOG_EVERY seconds,
 * with the number not logged since. */
static void update_refusal_log(dns_state_t *ds, const char *what,
                               const char *why)
{
    uint64_t now = now_seconds(ds);

    if (ds->upd_logged && now < ds->upd_logged + DNS_NOTIFY_LOG_EVERY) {
        ds->upd_quiet++;
        return;
    }
    loom_log(LOOM_LOG_INFO, loom_instance_who(ds->inst),
             "%s: %s (%llu more UPDATEs refused since the last such line)",
             what, why, (unsigned long long)ds->upd_quiet);
    ds->upd_logged = now;
    ds->upd_quiet = 0;
}

/* Read, authorise and build the UPDATE MSG; 0 with *OUT (a batch ready
 * to submit), or the RCODE to answer with at once. */
static unsigned update_prepare(dns_state_t *ds, const dns_conf_t *c,
                               const uint8_t *msg, size_t len,
                               const struct sockaddr *peer, int how,
                               const dns_query_t *q, const tsig_state_t *ts,
                               upd_t **out)
{
    const char *who = loom_instance_who(ds->inst);
    const dns_zconf_t *zc = NULL;
    char why[600], addr[INET6_ADDRSTRLEN], zname[4 * DNS_NAME_MAX + 1];
    unsigned rc;
    upd_t *u;

    ds->st.updates++;
    if (how == T_SVC) /* DNS over HTTPS takes queries only */
        return DNS_R_NOTIMP;
    u = loom_calloc(1, sizeof(*u));
    peer_text(peer, addr, sizeof(addr));
    if ((rc = dns_upd_parse(msg, len, &u->parsed, why, sizeof(why))) != 0) {
        snprintf(u->who, sizeof(u->who), "UPDATE from %s", addr);
        update_refusal_log(ds, u->who, why);
        upd_free(u);
        return rc;
    }
    for (size_t i = 0; i < c->nzones; i++)
        if (dns_name_equal(u->parsed.zone, c->zones[i].zone->apex))
            zc = &c->zones[i];
    dns_name_text(u->parsed.zone, zname, sizeof(zname));
    {
        char kname[4 * DNS_NAME_MAX + 1] = "";

        if (ts->key)
            dns_name_text(ts->key->name, kname, sizeof(kname));
        snprintf(u->who, sizeof(u->who), "UPDATE of %s from %s%s%s", zname,
                 addr, ts->key ? " key " : "", kname);
    }
    if (zc == NULL) { /* RFC 2136 3.1.1 */
        update_refusal_log(ds, u->who, "not a zone served here");
        upd_free(u);
        return DNS_R_NOTAUTH;
    }
    if (!zc->dynamic || !dns_allow_match(c, &zc->allow_update, peer, ts->key)) {
        update_refusal_log(ds, u->who,
                           !zc->dynamic ? "refused (not a dynamic zone)"
                           : ts->key    ? "refused (key not in allow_update)"
                                     : "refused (address not in allow_update)");
        upd_free(u);
        return DNS_R_REFUSED;
    }
    if ((rc = dns_upd_prescan(&u->parsed, why, sizeof(why))) != 0) {
        loom_log(LOOM_LOG_INFO, who, "%s: %s", u->who, why);
        upd_free(u);
        return rc;
    }
    u->batch =
        dns_update_service.begin(ds->inst, zc->zone->name, why, sizeof(why));
    if (u->batch == NULL) {
        loom_log(LOOM_LOG_WARN, who, "%s: %s", u->who, why);
        upd_free(u);
        return DNS_R_SERVFAIL;
    }
    for (size_t i = 0; i < u->parsed.nupd; i++) {
        dns_change_t ch;

        dns_upd_change(&u->parsed.upd[i], &ch);
        if (dns_update_service.add(u->batch, &ch, why, sizeof(why)) != 0) {
            loom_log(LOOM_LOG_INFO, who, "%s: update record %zu: %s", u->who,
                     i + 1, why);
            upd_free(u);
            return DNS_R_FORMERR;
        }
    }
    dns_update_service.set_check(u->batch, update_check, u);
    u->ds = ds;
    snprintf(u->zone, sizeof(u->zone), "%s", zc->zone->name);
    memcpy(u->msg, msg, q->question_end);
    u->q = *q;
    u->q.qname = u->msg + DNS_HDR_LEN;
    u->edns = q->edns;
    if (ts->key) {
        u->is_signed = 1;
        u->key = *ts->key;
        memcpy(u->mac, ts->mac, ts->mac_len);
        u->mac_len = ts->mac_len;
    }
    *out = u;
    return DNS_R_NOERROR;
}

/* The commit's outcome: answer the client (unless the instance stops)
 * and free U. */
static void update_done(void *arg, dns_update_status_t st, unsigned rcode,
                        const char *why, uint32_t serial)
{
    upd_t *u = arg;
    dns_state_t *ds = u->ds;
    unsigned rc = st == DNS_UPDATE_DONE      ? DNS_R_NOERROR
                  : st == DNS_UPDATE_REFUSED ? rcode
                                             : DNS_R_SERVFAIL;
    dns_pkt_t p;

    u->h = NULL;
    if (st == DNS_UPDATE_DONE)
        ds->st.updates_done++;
    if (st == DNS_UPDATE_DONE)
        loom_log(LOOM_LOG_INFO, loom_instance_who(ds->inst),
                 "%s: done, serial %u", u->who, (unsigned)serial);
    else
        loom_log(LOOM_LOG_INFO, loom_instance_who(ds->inst), "%s: RCODE %u: %s",
                 u->who, rc, why);
    if (u->dc)
        u->dc->upd = NULL;
    if (ds->stopping) {
        upd_free(u);
        return;
    }
    dns_pkt_init(&p, ds->out + 2, DNS_MSG_MAX);
    dns_reply_start(&p, u->msg, &u->q, rc & 0xf);
    if (u->edns) {
        const dns_conf_t *c = loom_instance_conf(ds->inst);

        dns_reply_opt(&p, (uint16_t)c->edns_size, rc, 0);
    }
    if (u->is_signed) {
        uint8_t mac[DNS_TSIG_MAC_MAX];

        dns_tsig_sign(&p, &u->key, u->mac, u->mac_len, 0, (uint64_t)time(NULL),
                      0, NULL, 0, mac);
    }
    count_rcode(ds, &p, rc);
    if (u->udp) {
        if (loom_dgram_reply(&u->from, (const char *)p.buf, p.len) ==
            LOOM_DECLINED)
            ds->st.reply_dropped++;
    } else if (u->dc) {
        (void)conn_write_msg(u->dc, p.buf, p.len);
        loom_conn_resume(u->dc->conn);
    }
    upd_free(u);
}

/* Submit the prepared U for a UDP client (FROM) or a TCP one (DC, which
 * reads no further request until the answer). */
static void update_submit(upd_t *u, const loom_dgram_t *from, dns_conn_t *dc)
{
    dns_update_t *b = u->batch;
    dns_update_handle_t *h;

    u->batch = NULL;
    if (from) {
        u->udp = 1;
        u->from = *from;
    } else {
        u->dc = dc;
        dc->upd = u;
        loom_conn_pause(dc->conn);
    }
    h = dns_update_service.submit(b, update_done, u);
    if (h) /* NULL: update_done has run (and freed U) already */
        u->h = h;
}

/* ---- UDP -------------------------------------------------------------------
 */

static void dns_datagram(loom_instance_t *inst, const loom_dgram_t *from,
                         const char *buf, size_t len)
{
    dns_state_t *ds = loom_instance_data(inst);
    const dns_conf_t *c = loom_instance_conf(inst);
    const struct sockaddr *peer = (const struct sockaddr *)&from->peer;
    const dns_zconf_t *zc = NULL;
    dns_query_t q;
    dns_pkt_t p;
    tsig_state_t ts;
    upd_t *upd = NULL;
    int what;

    dns_pkt_init(&p, ds->out + 2, DNS_MSG_MAX);
    what = process(ds, c, (const uint8_t *)buf, len, peer, T_UDP, &q, &p, &zc,
                   &ts, &upd);
    if (what == R_NONE)
        return;
    ds->st.udp++;
    if (what == R_UPDATE) { /* not rate limited: it needs a key or an ACL */
        update_submit(upd, from, NULL);
        return;
    }
    switch (dns_rrl_check(ds->rrl, c, peer, now_seconds(ds))) {
    case DNS_RRL_DROP:
        ds->st.rrl_dropped++;
        return;
    case DNS_RRL_SLIP:
        ds->st.rrl_slipped++;
        if (what == R_FORWARD) {
            dns_reply_start(&p, (const uint8_t *)buf, &q, DNS_R_NOERROR);
            what = R_REPLY;
        }
        truncate_reply(&p, &q);
        break;
    }
    if (what == R_FORWARD) {
        fwd_start(ds, (const uint8_t *)buf, len, &q,
                  q.edns
                      ? (q.udp_size < c->edns_size ? q.udp_size : c->edns_size)
                      : DNS_UDP_MIN,
                  from, NULL, NULL);
        return;
    }
    loom_dgram_reply(from, (const char *)p.buf, p.len);
}

/* ---- TCP and TLS
 * ------------------------------------------------------------- */

/* Write one message with its length prefix (P's buffer has 2 bytes of room
 * before it).  Returns the write's result. */
static int conn_write_msg(dns_conn_t *dc, uint8_t *msg, size_t len)
{
    dns_put16(msg - 2, (uint16_t)len);
    return loom_conn_write(dc->conn, msg - 2, len + 2);
}

/* Send transfer messages until the transfer ends or the output fills. */
static void axfr_pump(dns_conn_t *dc)
{
    dns_state_t *ds = dc->ds;

    while (dc->axfr_zone) {
        dns_pkt_t p;
        int more, rc;

        size_t reserve = dc->ax_signed ? dns_tsig_space(&dc->ax_key) : 0;

        dns_pkt_init(&p, ds->out + 2, DNS_AXFR_MSG - reserve);
        dns_reply_start(&p, dc->axq, &dc->axqq, DNS_R_NOERROR);
        dns_reply_set_flags(&p, DNS_F_AA);
        more = dns_axfr_fill(&dc->axfr, &p);
        if (more >= 0 && dc->ax_signed) {
            /* every message signed, the first over the request's MAC and
             * all variables, the others over the previous MAC and the
             * timers (RFC 8945 5.3.1) */
            int n;

            p.cap += reserve;
            n = dns_tsig_sign(&p, &dc->ax_key, dc->ax_mac, dc->ax_mac_len,
                              !dc->ax_first, (uint64_t)time(NULL), 0, NULL, 0,
                              dc->ax_mac);
            dc->ax_mac_len = n > 0 ? (size_t)n : 0;
            dc->ax_first = 0;
        }
        if (more < 0) {
            loom_log(LOOM_LOG_ERROR, loom_instance_who(ds->inst),
                     "zone %s: a record too large for a transfer message",
                     dc->axfr_zone->name);
            loom_conn_close(dc->conn);
            return;
        }
        rc = conn_write_msg(dc, p.buf, p.len);
        if (!more) {
            dns_zone_unref(dc->axfr_zone);
            dc->axfr_zone = NULL;
            loom_conn_resume(dc->conn);
            return;
        }
        if (rc != LOOM_OK)
            return; /* LOOM_AGAIN: go on from drain; error: closing */
    }
}

static int dns_open(loom_conn_t *c)
{
    dns_conn_t *dc = loom_conn_data(c);
    loom_instance_t *inst = loom_conn_instance(c);
    dns_state_t *ds = loom_instance_data(inst);
    const dns_conf_t *conf = loom_instance_conf(inst);
    socklen_t len = sizeof(dc->peer);
    loom_tls_info_t ti;

    dc->conn = c;
    dc->ds = ds;
    dc->tls = loom_conn_tls_info(c, &ti) == LOOM_OK;
    if (loom_conn_peer_addr(c, &dc->peer, &len) == LOOM_OK &&
        (dc->peer.ss_family == AF_INET || dc->peer.ss_family == AF_INET6)) {
        uint8_t key[17];
        client_t **pp, *cl;

        client_key((struct sockaddr *)&dc->peer, key);
        pp = client_slot(ds, key);
        if ((cl = *pp) == NULL) {
            cl = *pp = loom_calloc(1, sizeof(*cl));
            memcpy(cl->key, key, sizeof(key));
        }
        if (conf->tcp_per_client && cl->n >= conf->tcp_per_client) {
            ds->st.tcp_refused++;
            if (cl->n == 0) {
                *pp = cl->next;
                free(cl);
            }
            return LOOM_ERROR;
        }
        cl->n++;
        dc->counted = 1;
    }
    /* Room for one whole message and the start of the next. */
    loom_conn_set_max_input(c, 2 * (2 + DNS_MSG_MAX));
    return LOOM_OK;
}

static size_t dns_data(loom_conn_t *c, const char *buf, size_t len)
{
    dns_conn_t *dc = loom_conn_data(c);
    dns_state_t *ds = dc->ds;
    const dns_conf_t *conf = loom_instance_conf(loom_conn_instance(c));
    const uint8_t *in = (const uint8_t *)buf;
    size_t used = 0;

    while (dc->axfr_zone == NULL && dc->fwd == NULL && dc->upd == NULL &&
           len - used >= 2) {
        size_t mlen = dns_get16(in + used);
        const dns_zconf_t *zc = NULL;
        dns_query_t q;
        dns_pkt_t p;
        tsig_state_t ts;
        upd_t *upd = NULL;
        int what, rc = LOOM_OK;

        if (mlen == 0) {
            loom_conn_close(c);
            return len;
        }
        if (len - used < 2 + mlen)
            break;
        dns_pkt_init(&p, ds->out + 2, DNS_MSG_MAX);
        what =
            process(ds, conf, in + used + 2, mlen, (struct sockaddr *)&dc->peer,
                    T_TCP, &q, &p, &zc, &ts, &upd);
        if (what != R_NONE) {
            if (dc->tls)
                ds->st.tls++;
            else
                ds->st.tcp++;
        }
        switch (what) {
        case R_NONE:
            break;
        case R_REPLY:
            rc = conn_write_msg(dc, p.buf, p.len);
            break;
        case R_UPDATE:
            used += 2 + mlen;
            update_submit(upd, NULL, dc);
            return used;
        case R_FORWARD:
            used += 2 + mlen;
            fwd_start(ds, in + used - mlen, mlen, &q, DNS_MSG_MAX, NULL, dc,
                      NULL);
            return used;
        case R_AXFR:
            ds->st.axfr++;
            memcpy(dc->axq, in + used + 2, q.question_end);
            dc->axqq = q;
            dc->axqq.qname = dc->axq + DNS_HDR_LEN;
            dc->axqq.edns = 0;
            dc->axfr_zone = zc->zone;
            dns_zone_ref(zc->zone);
            dns_axfr_init(&dc->axfr, zc->zone);
            dc->ax_signed = ts.key != NULL;
            dc->ax_first = 1;
            if (ts.key) {
                dc->ax_key = *ts.key;
                memcpy(dc->ax_mac, ts.mac, ts.mac_len);
                dc->ax_mac_len = ts.mac_len;
            }
            loom_conn_pause(c);
            used += 2 + mlen;
            axfr_pump(dc);
            return used;
        }
        used += 2 + mlen;
        if (rc != LOOM_OK)
            break; /* output full: the rest waits for the drain */
    }
    return used;
}

static void dns_drain(loom_conn_t *c)
{
    dns_conn_t *dc = loom_conn_data(c);

    if (dc->axfr_zone)
        axfr_pump(dc);
}

static void dns_close(loom_conn_t *c)
{
    dns_conn_t *dc = loom_conn_data(c);

    if (dc->ds == NULL)
        return;
    if (dc->counted) {
        uint8_t key[17];
        client_t **pp, *cl;

        client_key((struct sockaddr *)&dc->peer, key);
        pp = client_slot(dc->ds, key);
        if ((cl = *pp) != NULL && --cl->n == 0) {
            *pp = cl->next;
            free(cl);
        }
    }
    if (dc->axfr_zone)
        dns_zone_unref(dc->axfr_zone);
    if (dc->fwd)
        dc->fwd->dc = NULL;
    if (dc->upd) { /* its commit may still happen; no answer goes */
        dns_update_service.cancel(dc->upd->h);
        upd_free(dc->upd);
        dc->upd = NULL;
    }
}

/* RFC 1982 serial arithmetic: A is newer than B. */
static int serial_newer(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < 0x80000000u;
}

/* Remember the zones' serials; NOTIFY (when asked) where one grew. */
static void serials_update(dns_state_t *ds, const dns_conf_t *c, int notify)
{
    serial_t *nv = c->nzones ? loom_calloc(c->nzones, sizeof(*nv)) : NULL;

    for (size_t i = 0; i < c->nzones; i++) {
        const dns_zone_t *z = c->zones[i].zone;

        nv[i].zone = loom_strdup(z->name);
        nv[i].serial = z->serial;
        for (size_t k = 0; notify && k < ds->nserials; k++)
            if (strcasecmp(ds->serials[k].zone, z->name) == 0 &&
                serial_newer(z->serial, ds->serials[k].serial) &&
                c->zones[i].notify)
                dns_notify_send(ds->notifier, c, &c->zones[i]);
    }
    for (size_t k = 0; k < ds->nserials; k++)
        free(ds->serials[k].zone);
    free(ds->serials);
    ds->serials = nv;
    ds->nserials = c->nzones;
}

/* ---- the query service (dns_service.h) -----------------------------------
 * SELF is the instance.  A forwarded query's handle is its fwd_t: it
 * lives until c-ares calls back (at the latest when the channel is freed
 * by a reload or at stop), cancelling only forgets the callback. */

static dns_query_handle_t *svc_query(void *self, const uint8_t *msg, size_t len,
                                     const struct sockaddr *client,
                                     dns_query_cb cb, void *arg)
{
    loom_instance_t *inst = self;
    dns_state_t *ds = loom_instance_data(inst);
    const dns_conf_t *c = loom_instance_conf(inst);
    const dns_zconf_t *zc = NULL;
    dns_query_t q;
    dns_pkt_t p;
    tsig_state_t ts;
    fwd_t *f;
    int what, done = 0;

    if (ds == NULL || ds->stopping) {
        cb(arg, DNS_QUERY_UNAVAILABLE, NULL, 0);
        return NULL;
    }
    /* a message that is no well-formed query gets no DNS answer: DoH
     * refuses it with 400 (RFC 8484 4.2.1) */
    switch (dns_query_parse(msg, len, &q)) {
    case DNS_PARSE_DROP:
        cb(arg, DNS_QUERY_MALFORMED, NULL, 0);
        return NULL;
    case DNS_PARSE_FORMERR:
        ds->st.queries++;
        ds->st.doh++;
        ds->st.formerr++;
        cb(arg, DNS_QUERY_MALFORMED, NULL, 0);
        return NULL;
    }
    dns_pkt_init(&p, ds->out + 2, DNS_MSG_MAX);
    what = process(ds, c, msg, len, client, T_SVC, &q, &p, &zc, &ts, NULL);
    if (what == R_NONE) {
        cb(arg, DNS_QUERY_MALFORMED, NULL, 0);
        return NULL;
    }
    ds->st.doh++;
    if (what != R_FORWARD) { /* (R_AXFR is never returned for T_SVC) */
        cb(arg, DNS_QUERY_ANSWER, p.buf, p.len);
        return NULL;
    }
    f = loom_calloc(1, sizeof(*f));
    f->svc = 1;
    f->cb = cb;
    f->cb_arg = arg;
    f->sync_done = &done;
    fwd_start(ds, msg, len, &q, DNS_MSG_MAX, NULL, NULL, f);
    if (done) /* answered (and F freed) before loom_resolver_send returned */
        return NULL;
    f->sync_done = NULL;
    return (dns_query_handle_t *)f;
}

static void svc_cancel(dns_query_handle_t *h)
{
    fwd_t *f = (fwd_t *)h;

    f->cb = NULL;
}

const dns_query_service_t dns_query_service = {svc_query, svc_cancel};

/* ---- lifecycle
 * --------------------------------------------------------------- */

/* The forward settings of C are those DS runs with. */
static int forwarder_same(const dns_state_t *ds, const dns_conf_t *c)
{
    return ds && ds->fwd && c->forward &&
           strcmp(ds->fwd_servers, c->forward) == 0 &&
           ds->fwd_timeout == c->forward_timeout;
}

/* Phase one: a new or changed forward gets its upstream channel now, so
 * that a server list c-ares refuses fails the configuration, not the
 * running daemon. */
static int dns_prepare(loom_instance_t *inst, void *conf, char *err,
                       size_t errlen)
{
    dns_conf_t *c = conf;
    dns_state_t *ds = loom_instance_data(inst);

    if (dns_dyn_prepare(inst, ds ? ds->dyn : NULL, c, err, errlen) != 0)
        return LOOM_ERROR;
    if (c->forward == NULL || forwarder_same(loom_instance_data(inst), c))
        return LOOM_OK;
    c->fwd = loom_resolver_upstream(loom_instance_server(inst), c->forward,
                                    c->forward_timeout * 1000, 1, err, errlen);
    return c->fwd ? LOOM_OK : LOOM_ERROR;
}

static void forwarder_update(dns_state_t *ds, dns_conf_t *c)
{
    if (forwarder_same(ds, c))
        return;
    if (ds->fwd) {
        loom_resolver_free(ds->fwd); /* pending queries get SERVFAIL */
        ds->fwd = NULL;
        free(ds->fwd_servers);
        ds->fwd_servers = NULL;
    }
    if (c->fwd == NULL)
        return;
    ds->fwd = c->fwd;
    c->fwd = NULL;
    ds->fwd_servers = loom_strdup(c->forward);
    ds->fwd_timeout = c->forward_timeout;
}

static void dns_start(loom_instance_t *inst)
{
    dns_state_t *ds = loom_calloc(1, sizeof(*ds));
    dns_conf_t *c = loom_instance_conf(inst);

    ds->inst = inst;
    ds->notifier = dns_notifier_new(inst, &ds->st);
    ds->rrl = dns_rrl_new(DNS_RRL_BUCKETS);
    loom_instance_set_data(inst, ds);
    forwarder_update(ds, c);
    ds->dyn = dns_dyn_apply(inst, NULL, c, 0);
    serials_update(ds, c, 0);
    loom_service_export(inst, DNS_QUERY_SERVICE, &dns_query_service, inst);
    loom_service_export(inst, DNS_UPDATE_SERVICE, &dns_update_service, inst);
    for (size_t i = 0; i < c->nzones; i++)
        loom_log(LOOM_LOG_DEBUG, loom_instance_who(inst),
                 "zone %s: serial %u, %zu records", c->zones[i].zone->name,
                 (unsigned)c->zones[i].zone->serial,
                 c->zones[i].zone->nrecords);
}

static void dns_reload(loom_instance_t *inst)
{
    dns_state_t *ds = loom_instance_data(inst);
    dns_conf_t *c = loom_instance_conf(inst);

    forwarder_update(ds, c);
    ds->dyn = dns_dyn_apply(inst, ds->dyn, c, 1);
    serials_update(ds, c, 1);
}

dns_dyn_t *dns_instance_dyn(loom_instance_t *inst)
{
    dns_state_t *ds = loom_instance_data(inst);

    return ds && !ds->stopping ? ds->dyn : NULL;
}

const dns_stats_t *dns_instance_stats(loom_instance_t *inst)
{
    dns_state_t *ds = loom_instance_data(inst);

    return ds ? &ds->st : NULL;
}

int dns_notify_zone(loom_instance_t *inst, const char *zone, uint32_t *serial,
                    int *targets)
{
    dns_state_t *ds = loom_instance_data(inst);
    const dns_conf_t *c = loom_instance_conf(inst);
    size_t n = strlen(zone);

    if (n > 1 && zone[n - 1] == '.')
        n--;
    for (size_t i = 0; ds && !ds->stopping && i < c->nzones; i++) {
        const dns_zone_t *z = c->zones[i].zone;
        size_t zn = strlen(z->name);

        if (zn > 1 && z->name[zn - 1] == '.')
            zn--;
        if (zn != n || strncasecmp(z->name, zone, n) != 0)
            continue;
        *serial = z->serial;
        *targets = c->zones[i].notify != NULL;
        return (int)dns_notify_send(ds->notifier, c, &c->zones[i]);
    }
    return -1;
}

void dns_zone_installed(loom_instance_t *inst, dns_zone_t *z)
{
    dns_state_t *ds = loom_instance_data(inst);
    dns_conf_t *c = loom_instance_conf(inst);

    for (size_t i = 0; i < c->nzones; i++)
        if (dns_name_equal(c->zones[i].zone->apex, z->apex)) {
            dns_zone_ref(z);
            dns_zone_unref(c->zones[i].zone);
            c->zones[i].zone = z;
        }
    if (ds)
        serials_update(ds, c, 1);
}

static void dns_stop(loom_instance_t *inst)
{
    dns_state_t *ds = loom_instance_data(inst);

    if (ds == NULL)
        return;
    ds->stopping = 1;
    dns_dyn_stop(ds->dyn);
    ds->dyn = NULL;
    if (ds->fwd)
        loom_resolver_free(ds->fwd);
    free(ds->fwd_servers);
    dns_notifier_free(ds->notifier);
    for (size_t k = 0; k < ds->nserials; k++)
        free(ds->serials[k].zone);
    free(ds->serials);
    for (int i = 0; i < DNS_CLIENT_SLOTS; i++)
        while (ds->clients[i]) {
            client_t *cl = ds->clients[i];

            ds->clients[i] = cl->next;
            free(cl);
        }
    dns_rrl_free(ds->rrl);
    free(ds);
    loom_instance_set_data(inst, NULL);
}

static const char *const dns_alpn[] = {"dot", NULL};

const loom_module_t loom_dns_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "dns",
    .options = dns_conf_opts,
    .conn_size = sizeof(dns_conn_t),
    .idle_timeout = DNS_IDLE_TIMEOUT,
    .alpn = dns_alpn,
    .configure = dns_configure,
    .conf_free = dns_conf_free,
    .prepare = dns_prepare,
    .start = dns_start,
    .reload = dns_reload,
    .stop = dns_stop,
    .stream = {.open = dns_open,
               .data = dns_data,
               .drain = dns_drain,
               .close = dns_close},
    .datagram = dns_datagram,
    .actions = dns_actions,
    .metrics = dns_metrics,
    .commands = dns_commands,
};

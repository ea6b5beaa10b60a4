/*
 * dns.h - the dns module: an authoritative server for zones read from
 * master files, over UDP, TCP and TLS, with zone transfers, NOTIFY,
 * optional forwarding and response rate limiting.
 */
#ifndef LOOM_DNS_H
#define LOOM_DNS_H

#include <netinet/in.h>
#include <stdint.h>

#include "dns_tsig.h"
#include "dns_zone.h"
#include "loom_module.h"

/* An address prefix from an allow list. */
typedef struct {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix; /* bits */
} dns_net_t;

typedef struct {
    dns_net_t *v;
    size_t n;
} dns_acl_t;

/* An allow list that names TSIG keys besides addresses ("key:NAME"). */
typedef struct {
    dns_acl_t addrs;
    unsigned *keys; /* indices into dns_conf_t.keys */
    size_t nkeys;
} dns_allow_t;

typedef struct {
    dns_zone_t *zone;
    dns_allow_t allow_transfer;
    dns_allow_t allow_update; /* RFC 2136 UPDATE (dynamic zones only) */
    char *notify;             /* c-ares server list "A:P,[B]:P", or NULL */
    int *notify_keys;         /* per notify target: index into keys, or -1 */
    int dynamic;              /* takes changes (dns_update.h) */
    char *path;               /* the zone file, resolved */
    char *journal;            /* dynamic: the journal's path */
    size_t journal_max;       /* compact past this many bytes */
    int jfd;                  /* prepare: the opened journal (or -1) */
    size_t jgood, jsize;      /* its whole records' length, its size */
} dns_zconf_t;

typedef struct {
    dns_zconf_t *zones;
    size_t nzones;
    unsigned edns_size;
    unsigned tcp_per_client;
    char *version;  /* CH TXT version.bind, or NULL */
    char *identity; /* CH TXT id.server, or NULL */
    dns_acl_t stats_allow;
    char *forward; /* c-ares server list, or NULL: no forwarding */
    dns_acl_t forward_allow;
    unsigned forward_timeout; /* seconds */
    /* the upstream channel prepare made (a new or changed forward), taken
     * by start/reload; freed with the conf when it was not applied */
    loom_resolver_t *fwd;
    unsigned rrl_rate, rrl_slip, rrl_v4, rrl_v6;
    dns_acl_t rrl_exempt;
    dns_tsig_key_t *keys; /* key "NAME" { algorithm secret } sections */
    size_t nkeys;
} dns_conf_t;

extern cfg_opt_t dns_conf_opts[];

/* ---- counters (dns.c counts, dns_ops.c reports) ---------------------------
 * Plain integers bumped on the reactor thread.  STATS lists those CH TXT
 * stats.loom reports by name. */

/* clang-format off */
#define DNS_STATS(X)                                                           \
    X(queries) X(udp) X(tcp) X(tls) X(doh) X(noerror) X(nxdomain) X(refused)   \
    X(formerr) X(notimp) X(servfail) X(notauth) X(badvers) X(truncated)        \
    X(referrals) X(axfr) X(notify_in) X(notify_sent) X(notify_failed)          \
    X(forwarded) X(forward_fail) X(rrl_dropped) X(rrl_slipped)                \
    X(tcp_refused) X(reply_dropped) X(updates) X(notzone) X(axfr_refused)     \
    X(updates_done) X(notify_acked)
/* clang-format on */

/* Queries of QTYPE < DNS_QTYPE_OTHER are counted each; the rest together
 * in slot DNS_QTYPE_OTHER. */
#define DNS_QTYPE_OTHER 260

typedef struct {
#define X(n) uint64_t n;
    DNS_STATS(X)
#undef X
    uint64_t qtype[DNS_QTYPE_OTHER + 1]; /* QUERY opcode, IN and CH */
} dns_stats_t;

/* The counters of a running instance, or NULL before start / after stop. */
const dns_stats_t *dns_instance_stats(loom_instance_t *inst);

/* Send NOTIFY for the zone named ZONE (presentation form, the final dot
 * optional, any case) of INST to the secondaries its `notify` lists.
 * Returns the number of NOTIFYs started (answers are logged as they come),
 * or -1 when INST serves no such zone.  *SERIAL is set to the zone's
 * serial, *TARGETS to whether it names any secondaries. */
int dns_notify_zone(loom_instance_t *inst, const char *zone, uint32_t *serial,
                    int *targets);

/* The module's metrics hook and loomctl commands (dns_ops.c). */
void dns_metrics(loom_instance_t *inst, loom_metrics_t *m);
extern const loom_ctl_cmd_t dns_commands[];

/* ---- NOTIFY (dns_notify.c) ------------------------------------------------
 */

typedef struct dns_notifier_s dns_notifier_t;

/* A notifier for INST that counts into ST (which outlives it). */
dns_notifier_t *dns_notifier_new(loom_instance_t *inst, dns_stats_t *st);

/* Stop: pending NOTIFYs are abandoned (not logged) and NF is freed.  NULL
 * is accepted. */
void dns_notifier_free(dns_notifier_t *nf);

/* NOTIFY zone ZC's secondaries (its notify list), signed for those that
 * name a key of C.  Returns how many were sent (0 without a list). */
size_t dns_notify_send(dns_notifier_t *nf, const dns_conf_t *c,
                       const dns_zconf_t *zc);

/* loom_module_t.configure / conf_free. */
int dns_configure(cfg_t *sec, void **conf);
void dns_conf_free(void *conf);

/* The address bytes of SA (4 or 16, by *FAMILY; a v4-mapped IPv6 address
 * counts as IPv4), or NULL for other families. */
const uint8_t *dns_addr_bytes(const struct sockaddr *sa, int *family);

/* Whether SA (AF_INET or AF_INET6; v4-mapped v6 counts as v4) is in ACL. */
int dns_acl_match(const dns_acl_t *acl, const struct sockaddr *sa);

/* Whether SA is among ALLOW's addresses, or KEY (the request's verified
 * TSIG key within C's keys, or NULL) is one ALLOW names. */
int dns_allow_match(const dns_conf_t *c, const dns_allow_t *allow,
                    const struct sockaddr *sa, const dns_tsig_key_t *key);

/* Parse "ADDR" or "ADDR/BITS" into N.  0 or -1. */
int dns_net_parse(const char *s, dns_net_t *n);

/* Turn "ADDR", "ADDR:PORT", "V6" or "[V6]:PORT" into c-ares's
 * "ADDR:PORT" / "[V6]:PORT" form in OUT (port 53 by default).  0 or -1. */
int dns_server_parse(const char *s, char *out, size_t outlen);

/* ---- dynamic zones (dns_dynz.c) -------------------------------------------
 */

typedef struct dns_dyn_s dns_dyn_t;

/* Open and replay the journal of every dynamic zone of C that RUNNING
 * (the instance's dynamic state, or NULL) does not hold already; the
 * zone in C becomes the replayed one.  LOOM_OK, or LOOM_ERROR with ERR. */
int dns_dyn_prepare(loom_instance_t *inst, dns_dyn_t *running, dns_conf_t *c,
                    char *err, size_t errlen);

/* Make D (NULL at start: a new one is returned) follow C: zones kept
 * serve their committed zone (C's zone pointer is replaced), new ones
 * take C's journal, dropped ones fail their queued batches.  RELOAD: a
 * SIGHUP, which compacts every kept zone. */
dns_dyn_t *dns_dyn_apply(loom_instance_t *inst, dns_dyn_t *d, dns_conf_t *c,
                         int reload);

/* Free D and its zones at stop (running jobs are done by then). */
void dns_dyn_stop(dns_dyn_t *d);

/* The instance's dynamic state, or NULL (dns.c). */
dns_dyn_t *dns_instance_dyn(loom_instance_t *inst);

/* Z (a dynamic zone's new version) is committed: serve it (the conf's
 * reference is replaced) and NOTIFY its secondaries (dns.c). */
void dns_zone_installed(loom_instance_t *inst, dns_zone_t *z);

/* The bus actions set and delete. */
extern const loom_action_t dns_actions[];

/* ---- response rate limiting (dns_rrl.c) -----------------------------------
 */

typedef struct dns_rrl_s dns_rrl_t;

enum { DNS_RRL_PASS, DNS_RRL_DROP, DNS_RRL_SLIP };

/* A table of BUCKETS (a power of two) per-prefix counters. */
dns_rrl_t *dns_rrl_new(size_t buckets);
void dns_rrl_free(dns_rrl_t *r);

/* Account one UDP response to SA at time NOW (seconds) under conf C's
 * rate, slip and prefix lengths: pass, drop, or send truncated. */
int dns_rrl_check(dns_rrl_t *r, const dns_conf_t *c, const struct sockaddr *sa,
                  uint64_t now);

#endif

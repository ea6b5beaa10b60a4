/*
 * dns_ops.c - what the dns module tells operators: its metrics (the
 * counters dns.c keeps, zones and serials as gauges) and its loomctl
 * commands (`zones`, `notify ZONE`).
 */
#include <stddef.h>
#include <stdio.h>

#include "dns.h"

/* ---- metrics ---------------------------------------------------------------
 */

/* A counter of dns_stats_t by its offset, with one label pair. */
typedef struct {
    const char *value; /* the label's value */
    size_t off;
} dns_labelled_t;

#define ST(field) offsetof(dns_stats_t, field)

static const dns_labelled_t transports[] = {
    {"udp", ST(udp)}, {"tcp", ST(tcp)}, {"tls", ST(tls)}, {"https", ST(doh)}};

static const dns_labelled_t rcodes[] = {
    {"NOERROR", ST(noerror)},   {"FORMERR", ST(formerr)},
    {"SERVFAIL", ST(servfail)}, {"NXDOMAIN", ST(nxdomain)},
    {"NOTIMP", ST(notimp)},     {"REFUSED", ST(refused)},
    {"NOTAUTH", ST(notauth)},   {"NOTZONE", ST(notzone)},
    {"BADVERS", ST(badvers)}};

static const dns_labelled_t rrl_actions[] = {{"drop", ST(rrl_dropped)},
                                             {"slip", ST(rrl_slipped)}};

static const dns_labelled_t axfr_results[] = {{"started", ST(axfr)},
                                              {"refused", ST(axfr_refused)}};

/* Counters without labels. */
static const struct {
    const char *name, *help;
    size_t off;
} plain[] = {
    {"loom_dns_truncated_total", "Responses sent with the TC bit.",
     ST(truncated)},
    {"loom_dns_referrals_total", "Referrals to a delegated child zone.",
     ST(referrals)},
    {"loom_dns_notify_received_total", "NOTIFY messages received (refused).",
     ST(notify_in)},
    {"loom_dns_notify_sent_total", "NOTIFY messages sent to secondaries.",
     ST(notify_sent)},
    {"loom_dns_notify_acked_total",
     "NOTIFY messages secondaries acknowledged (NOERROR).", ST(notify_acked)},
    {"loom_dns_notify_failed_total",
     "NOTIFY messages not acknowledged with NOERROR.", ST(notify_failed)},
    {"loom_dns_updates_total", "RFC 2136 UPDATE messages received.",
     ST(updates)},
    {"loom_dns_updates_committed_total", "UPDATEs committed to their zone.",
     ST(updates_done)},
    {"loom_dns_forwarded_total", "Queries forwarded upstream.", ST(forwarded)},
    {"loom_dns_forward_failures_total",
     "Forwarded queries answered SERVFAIL for want of an upstream answer.",
     ST(forward_fail)},
    {"loom_dns_tcp_refused_total",
     "TCP/TLS connections refused over tcp_per_client.", ST(tcp_refused)},
    {"loom_dns_replies_dropped_total",
     "Late replies dropped because their listener had closed.",
     ST(reply_dropped)},
};

static uint64_t stat_at(const dns_stats_t *st, size_t off)
{
    return *(const uint64_t *)(const void *)((const char *)st + off);
}

static void labelled(loom_metrics_t *m, const char *name, const char *help,
                     const char *key, const dns_labelled_t *t, size_t n,
                     const dns_stats_t *st)
{
    for (size_t i = 0; i < n; i++)
        loom_metric(m, LOOM_METRIC_COUNTER, name, help,
                    (double)stat_at(st, t[i].off), key, t[i].value, NULL);
}

/* Mnemonics for the QTYPE label; other types are TYPEnnn (RFC 3597). */
static const struct {
    uint16_t type;
    const char *name;
} qtype_names[] = {
    {1, "A"},       {2, "NS"},        {5, "CNAME"},       {6, "SOA"},
    {10, "NULL"},   {12, "PTR"},      {13, "HINFO"},      {15, "MX"},
    {16, "TXT"},    {17, "RP"},       {18, "AFSDB"},      {28, "AAAA"},
    {29, "LOC"},    {33, "SRV"},      {35, "NAPTR"},      {36, "KX"},
    {37, "CERT"},   {39, "DNAME"},    {41, "OPT"},        {43, "DS"},
    {44, "SSHFP"},  {45, "IPSECKEY"}, {46, "RRSIG"},      {47, "NSEC"},
    {48, "DNSKEY"}, {50, "NSEC3"},    {51, "NSEC3PARAM"}, {52, "TLSA"},
    {53, "SMIMEA"}, {59, "CDS"},      {60, "CDNSKEY"},    {61, "OPENPGPKEY"},
    {62, "CSYNC"},  {63, "ZONEMD"},   {64, "SVCB"},       {65, "HTTPS"},
    {99, "SPF"},    {249, "TKEY"},    {250, "TSIG"},      {251, "IXFR"},
    {252, "AXFR"},  {253, "MAILB"},   {254, "MAILA"},     {255, "ANY"},
    {256, "URI"},   {257, "CAA"},
};

static const char *qtype_label(unsigned type, char *buf, size_t len)
{
    if (type == DNS_QTYPE_OTHER)
        return "other";
    for (size_t i = 0; i < sizeof(qtype_names) / sizeof(qtype_names[0]); i++)
        if (qtype_names[i].type == type)
            return qtype_names[i].name;
    snprintf(buf, len, "TYPE%u", type);
    return buf;
}

void dns_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    const dns_stats_t *st = dns_instance_stats(inst);
    const dns_conf_t *c = loom_instance_conf(inst);

    if (st == NULL || c == NULL)
        return;
    labelled(m, "loom_dns_queries_total",
             "DNS messages received (queries, NOTIFY, UPDATE) by transport.",
             "transport", transports,
             sizeof(transports) / sizeof(transports[0]), st);
    for (unsigned t = 0; t <= DNS_QTYPE_OTHER; t++) {
        char buf[16];

        if (st->qtype[t] == 0)
            continue;
        loom_metric(m, LOOM_METRIC_COUNTER, "loom_dns_query_types_total",
                    "Standard queries by QTYPE.", (double)st->qtype[t], "qtype",
                    qtype_label(t, buf, sizeof(buf)), NULL);
    }
    labelled(m, "loom_dns_responses_total", "Responses by RCODE.", "rcode",
             rcodes, sizeof(rcodes) / sizeof(rcodes[0]), st);
    labelled(m, "loom_dns_rrl_actions_total",
             "UDP responses rate limiting dropped or sent truncated (slip).",
             "action", rrl_actions,
             sizeof(rrl_actions) / sizeof(rrl_actions[0]), st);
    labelled(m, "loom_dns_axfr_total",
             "Zone transfers (AXFR, IXFR over TCP) started or refused.",
             "result", axfr_results,
             sizeof(axfr_results) / sizeof(axfr_results[0]), st);
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        loom_metric(m, LOOM_METRIC_COUNTER, plain[i].name, plain[i].help,
                    (double)stat_at(st, plain[i].off), NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_dns_zones", "Zones served.",
                (double)c->nzones, NULL);
    for (size_t i = 0; i < c->nzones; i++)
        loom_metric(m, LOOM_METRIC_GAUGE, "loom_dns_zone_serial",
                    "The SOA serial of each zone served.",
                    (double)c->zones[i].zone->serial, "zone",
                    c->zones[i].zone->name, NULL);
    for (size_t i = 0; i < c->nzones; i++)
        loom_metric(m, LOOM_METRIC_GAUGE, "loom_dns_zone_records",
                    "Records in each zone served.",
                    (double)c->zones[i].zone->nrecords, "zone",
                    c->zones[i].zone->name, NULL);
}

/* ---- loomctl commands ------------------------------------------------------
 */

/* zones: one row per zone: name, serial, records, zone file, dynamic. */
static int cmd_zones(loom_instance_t *inst, int argc, char **argv,
                     loom_ctl_t *out)
{
    const dns_conf_t *c = loom_instance_conf(inst);

    (void)argc;
    (void)argv;
    loom_ctl_columns(out, "name", "serial", "records", "source", "dynamic",
                     NULL);
    for (size_t i = 0; i < c->nzones; i++) {
        const dns_zone_t *z = c->zones[i].zone;
        char serial[16], records[24];

        snprintf(serial, sizeof(serial), "%u", (unsigned)z->serial);
        snprintf(records, sizeof(records), "%zu", z->nrecords);
        loom_ctl_row(out, z->name, serial, records,
                     c->zones[i].path ? c->zones[i].path : "",
                     c->zones[i].dynamic ? "yes" : "no", NULL);
    }
    return LOOM_OK;
}

/* notify ZONE: NOTIFY the zone's secondaries now, whatever its serial. */
static int cmd_notify(loom_instance_t *inst, int argc, char **argv,
                      loom_ctl_t *out)
{
    uint32_t serial = 0;
    int targets = 0, n;

    (void)argc;
    n = dns_notify_zone(inst, argv[0], &serial, &targets);
    if (n < 0)
        return loom_ctl_error(out, "no zone %s is served here", argv[0]);
    if (!targets)
        return loom_ctl_error(out, "zone %s has no notify targets", argv[0]);
    if (n == 0)
        return loom_ctl_error(out,
                              "zone %s: no NOTIFY could be started (see the "
                              "log)",
                              argv[0]);
    loom_ctl_message(out,
                     "zone %s serial %u: NOTIFY sent to %d secondar%s; "
                     "answers are logged",
                     argv[0], (unsigned)serial, n, n == 1 ? "y" : "ies");
    return LOOM_OK;
}

const loom_ctl_cmd_t dns_commands[] = {
    {"zones", "", "list the zones served: serial, records, file, dynamic", 0, 0,
     cmd_zones},
    {"notify", "ZONE", "send NOTIFY for ZONE to its secondaries now", 1, 1,
     cmd_notify},
    {NULL, NULL, NULL, 0, 0, NULL},
};

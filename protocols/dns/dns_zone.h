/*
 * dns_zone.h - an authoritative zone in memory, and the answers built from
 * it.
 *
 * A zone is built once from its master file and never changes; a reload
 * builds a new one.  Names are nodes in a hash table (empty non-terminals
 * included); each node holds its RRsets, pre-encoded as they go on the
 * wire (rdlength + rdata, names uncompressed), in one arena.  Answering
 * copies those bytes into the response, compressing the names that RFC
 * 3597 allows to be compressed; nothing is allocated per query.
 */
#ifndef LOOM_DNS_ZONE_H
#define LOOM_DNS_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

typedef struct dns_rrset_s dns_rrset_t;
typedef struct dns_node_s dns_node_t;
typedef struct dns_zone_s dns_zone_t;

struct dns_rrset_s {
    uint16_t type;
    uint16_t covered; /* for RRSIG sets: the type they cover */
    uint32_t ttl;
    uint32_t count;          /* records */
    uint32_t size;           /* bytes of data */
    const uint8_t *data;     /* COUNT x (u16 rdlength, rdata) */
    const dns_rrset_t *sigs; /* RRSIGs covering this set, or NULL */
};

#define DNS_NODE_APEX 0x1
#define DNS_NODE_CUT 0x2 /* NS below the apex: a delegation point */

struct dns_node_s {
    const uint8_t *name; /* wire, case as in the zone file */
    dns_node_t *hnext;   /* hash chain */
    dns_rrset_t *rrsets; /* sorted by type, RRSIG sets by covered type */
    uint16_t nrrsets;
    uint8_t labels;
    uint8_t flags;
};

struct dns_zone_s {
    unsigned refs;
    uint8_t apex[DNS_NAME_MAX]; /* lower case */
    size_t apex_len;
    unsigned apex_labels;
    char *name; /* "example.test" */
    char *file;
    uint32_t serial;
    dns_node_t *apex_node;
    const dns_rrset_t *soa;
    dns_node_t **table;
    size_t mask;
    dns_node_t **nodes; /* every node, apex first, in file order */
    size_t nnodes;
    size_t nrecords;
    struct dns_arena_s *arena;
};

/* Read zone NAME (presentation form, "example.test") from master file
 * FILE.  Returns the zone with one reference, or NULL with ERR set to one
 * line "FILE:LINE: message" (or, for a fault no line of FILE shows, such
 * as a file without records, "zone \"NAME\": message", which the caller
 * places).  Checks: one SOA, at the apex; NS at the
 * apex; no CNAME beside other data (RRSIG/NSEC aside), at most one
 * CNAME.  Records outside the zone are skipped with a warning logged as
 * WHO. */
dns_zone_t *dns_zone_load(const char *name, const char *file, const char *who,
                          char *err, size_t errlen);

/* The same from a master file held in memory (tests, fuzzing). */
dns_zone_t *dns_zone_load_mem(const char *name, const char *text, size_t len,
                              const char *who, char *err, size_t errlen);

/* One record of a zone being built from memory (dynamic zones). */
typedef struct {
    const uint8_t *owner; /* wire name */
    uint16_t type;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
} dns_rec_t;

/* Build zone NAME (its file FILE, kept for messages and rewriting) from
 * the N records V (copied), with the checks dns_zone_load makes.  Returns
 * the zone with one reference, or NULL with ERR set ("record K: ..."
 * where K counts from 1). */
dns_zone_t *dns_zone_from_records(const char *name, const char *file,
                                  const dns_rec_t *v, size_t n, const char *who,
                                  char *err, size_t errlen);

/* Every record of Z in zone order (apex first) into a new array *OUT
 * (malloc'd; the caller frees it; the pointers inside point into Z).
 * Returns the count. */
size_t dns_zone_records(const dns_zone_t *z, dns_rec_t **out);

void dns_zone_ref(dns_zone_t *z);
/* Drop a reference; the last one frees the zone. */
void dns_zone_unref(dns_zone_t *z);

/* The node named NAME (any case), or NULL. */
const dns_node_t *dns_zone_find(const dns_zone_t *z, const uint8_t *name);

/* The set of TYPE at NODE (for RRSIG: the first RRSIG set), or NULL. */
const dns_rrset_t *dns_node_rrset(const dns_node_t *n, uint16_t type);

/* ---- answers --------------------------------------------------------------
 */

/* Counters an answer reports back (all optional). */
typedef struct {
    int referral; /* the answer was a delegation */
    int wildcard; /* synthesised from a wildcard */
} dns_answer_info_t;

/* Start the response to query Q (parsed from MSG) in P: the header (ID,
 * opcode, RD copied; QR set; RCODE) and the question copied as received,
 * so the name's case is echoed.  The question is left out when Q has no
 * parsed question.  Returns 0, or -1 if it does not fit P. */
int dns_reply_start(dns_pkt_t *p, const uint8_t *msg, const dns_query_t *q,
                    unsigned rcode);

/* Append an OPT record (EDNS0) with our payload size UDP_SIZE, the upper
 * 8 bits of RCODE and the DO bit, and count it in ARCOUNT. */
int dns_reply_opt(dns_pkt_t *p, uint16_t udp_size, unsigned rcode, int do_bit);

/* Answer the IN-class query Q for a name inside zone Z into P (started
 * with dns_reply_start(); P->cap is the size the answer may take, room for
 * OPT already taken off).  Sets RCODE, AA and the section counts; sets TC
 * and keeps only the question when the answer or authority section does
 * not fit, drops what does not fit in the additional section.  DO adds
 * RRSIGs (and NSEC for NODATA).  Returns the RCODE. */
unsigned dns_answer(const dns_zone_t *z, const dns_query_t *q, dns_pkt_t *p,
                    dns_answer_info_t *info);

/* Set header RCODE bits / flags of a started reply. */
void dns_reply_set_rcode(dns_pkt_t *p, unsigned rcode);
void dns_reply_set_flags(dns_pkt_t *p, uint16_t set);

/* Append one record NAME (wire, compressed) TYPE CLASS TTL with RDATA to
 * section SECTION (0 answer, 1 authority, 2 additional) of P.  For CH
 * TXT answers and the like. */
int dns_reply_rr(dns_pkt_t *p, int section, const uint8_t *name, uint16_t type,
                 uint16_t rclass, uint32_t ttl, const uint8_t *rdata,
                 uint16_t rdlen);

/* ---- zone transfer --------------------------------------------------------
 */

typedef struct {
    const dns_zone_t *z;
    size_t node; /* position: node index, set index, record index */
    unsigned set;
    uint32_t rec;
    int state; /* 0 first SOA, 1 records, 2 last SOA, 3 done */
} dns_axfr_t;

void dns_axfr_init(dns_axfr_t *x, const dns_zone_t *z);

/* Fill the started reply P with as many of the zone's records as fit
 * (SOA first, every other record, SOA again).  Returns 1 if more messages
 * are needed, 0 when the transfer is complete, -1 if the next record does
 * not fit even an empty message. */
int dns_axfr_fill(dns_axfr_t *x, dns_pkt_t *p);

#endif

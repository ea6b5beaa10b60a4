/*
 * dns_upd.h - RFC 2136 UPDATE messages: the zone, prerequisite and update
 * sections read into owned records, the prescan of section 3.4.1, the
 * prerequisites of section 3.2 evaluated against a zone, and the update
 * section turned into dns_change_t entries for the update service
 * (dns_update.h).  Sans-I/O: bytes in, records out.
 */
#ifndef LOOM_DNS_UPD_H
#define LOOM_DNS_UPD_H

#include <stddef.h>
#include <stdint.h>

#include "dns_update.h"
#include "dns_zone.h"

/* RCODEs of RFC 2136 besides those of dns_wire.h. */
enum { DNS_R_YXDOMAIN = 6, DNS_R_YXRRSET = 7, DNS_R_NXRRSET = 8 };

/* One record of the prerequisite or update section, names expanded. */
typedef struct {
    uint8_t name[DNS_NAME_MAX]; /* uncompressed, case as received */
    uint16_t type, rclass;
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t *rdata; /* owned; names inside expanded (RFC 3597 types) */
} dns_upd_rr_t;

/* A parsed UPDATE (owns everything it points to). */
typedef struct {
    uint8_t zone[DNS_NAME_MAX]; /* the zone section's name */
    dns_upd_rr_t *pre;          /* prerequisites */
    size_t npre;
    dns_upd_rr_t *upd; /* updates */
    size_t nupd;
} dns_upd_t;

/* Read UPDATE message MSG (LEN bytes, already judged well formed by
 * dns_query_parse(), so QDCOUNT is 1) into U.  Returns 0, or
 * DNS_R_FORMERR with WHY set (a zone section that is not one SOA
 * question of class IN, a record that does not expand, rdata whose
 * names do not).  U is empty on failure; free it with dns_upd_free()
 * either way. */
unsigned dns_upd_parse(const uint8_t *msg, size_t len, dns_upd_t *u, char *why,
                       size_t whylen);

/* Free what U holds (U itself is the caller's). */
void dns_upd_free(dns_upd_t *u);

/* The checks of RFC 2136 3.2 and 3.4.1 that need no zone data: every
 * name inside the zone (else DNS_R_NOTZONE), class, type, TTL and
 * rdlength combinations as the RFC allows them (else DNS_R_FORMERR).
 * Returns 0 or that RCODE, with WHY set. */
unsigned dns_upd_prescan(const dns_upd_t *u, char *why, size_t whylen);

/* Evaluate U's prerequisites (prescanned) against zone Z: 0 when all
 * hold, else DNS_R_NXDOMAIN, DNS_R_YXDOMAIN, DNS_R_NXRRSET or
 * DNS_R_YXRRSET with WHY naming the first that failed. */
unsigned dns_upd_prereq(const dns_upd_t *u, const dns_zone_t *z, char *why,
                        size_t whylen);

/* The change that update record R (prescanned) asks for, in C (pointing
 * into R). */
void dns_upd_change(const dns_upd_rr_t *r, dns_change_t *c);

#endif

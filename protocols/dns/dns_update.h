/*
 * dns_update.h - changes to a dns instance's dynamic zones, as a service
 * to other instances and to the dns module's own paths (loom_service.h).
 *
 * One mechanism carries every change to a dynamic zone: the bus actions
 * dns:INSTANCE:set and dns:INSTANCE:delete, RFC 2136 UPDATE messages, and
 * the http module's dyndns2 handler all build a batch of changes and
 * submit it here.  A batch is all-or-nothing: it is checked (names inside
 * the zone, no CNAME beside other data, the caller's own prerequisites),
 * appended to the zone's journal and made durable (fsync on the worker
 * pool, several batches per fsync when they queue up), then applied -- a
 * new zone replaces the old one, the SOA serial goes up once per batch
 * that changed something (RFC 1982), NOTIFY goes to the secondaries --
 * and only then is the submitter's callback told DNS_UPDATE_DONE.
 *
 * Batches for one zone are committed in the order they were submitted;
 * each one's check runs against the zone as every earlier batch left it.
 */
#ifndef DNS_UPDATE_H
#define DNS_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "dns_zone.h"

#define DNS_UPDATE_SERVICE "dns.update/1"

/* What one change does (RFC 2136 section 2.5's four kinds, plus SET). */
typedef enum {
    DNS_CH_ADD,       /* add one record to its RRset (a duplicate is a
                       * no-op; a new TTL applies to the whole set) */
    DNS_CH_DEL_RRSET, /* delete the RRset NAME TYPE (TYPE 255: every
                       * RRset at NAME but the apex's SOA and NS) */
    DNS_CH_DEL_NAME,  /* delete every RRset at NAME (at the apex: all
                       * but SOA and NS) */
    DNS_CH_DEL_RR,    /* delete the one record NAME TYPE RDATA */
    DNS_CH_SET,       /* replace the RRset NAME TYPE by this one record
                       * (several SETs of one NAME TYPE in one batch
                       * build a set of several records) */
} dns_change_op_t;

/* One change in wire form.  NAME: uncompressed wire name (any case);
 * RDATA: the record's wire rdata with names uncompressed.  TTL and RDATA
 * are used by ADD, SET and DEL_RR only. */
typedef struct {
    dns_change_op_t op;
    const uint8_t *name;
    uint16_t type;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
} dns_change_t;

/* How a batch ended (the callback's STATUS). */
typedef enum {
    DNS_UPDATE_DONE = 0,    /* durable and applied (or changed nothing) */
    DNS_UPDATE_REFUSED,     /* refused as a whole: RCODE and WHY say why;
                             * nothing applied */
    DNS_UPDATE_FAILED,      /* the journal could not be written (disk full,
                             * I/O error): nothing applied; may be retried */
    DNS_UPDATE_UNAVAILABLE, /* the instance stopped or the zone went away
                             * (reload) before the batch was committed */
} dns_update_status_t;

/* A batch being built (owned by the caller until submit or abort). */
typedef struct dns_update_s dns_update_t;
/* A submitted batch, owned by the dns instance. */
typedef struct dns_update_handle_s dns_update_handle_t;

/* The end of a batch: STATUS; RCODE (a DNS RCODE, 0 when DONE: NOTZONE,
 * NOTAUTH, REFUSED, YXDOMAIN, NXRRSET, FORMERR, SERVFAIL ...) and WHY
 * (one line, valid only during the call; "" when DONE) for a refusal or
 * failure; SERIAL: the zone's serial after the batch.  Called exactly once
 * per submitted batch that was not cancelled, always from a later reactor
 * turn than submit. */
typedef void (*dns_update_cb)(void *arg, dns_update_status_t status,
                              unsigned rcode, const char *why, uint32_t serial);

/* A caller's own test (RFC 2136 prerequisites), run at commit time
 * against the zone Z as every earlier batch left it.  Returns 0 to go on,
 * or the RCODE to refuse the batch with (WHY: a line to report). */
typedef unsigned (*dns_update_check_cb)(void *arg, const dns_zone_t *z,
                                        char *why, size_t whylen);

typedef struct {
    /* A new, empty batch for the dynamic zone ZONE (presentation form,
     * "dyn.example.test", any case), or NULL with WHY set (no such zone,
     * the zone is not dynamic, out of memory). */
    dns_update_t *(*begin)(void *self, const char *zone, char *why,
                           size_t whylen);
    /* Add change C (copied) to U.  0, or -1 with WHY set (a name outside
     * the zone, a malformed name or rdata, a type that cannot be changed
     * such as SOA at a name other than the apex). */
    int (*add)(dns_update_t *u, const dns_change_t *c, char *why,
               size_t whylen);
    /* The same from presentation form: NAME ("h1.dyn.example.test", or
     * relative to the zone without a final dot: "h1"), TYPE ("A"), RDATA
     * ("192.0.2.7", read with the zone-file reader; ignored by DEL_RRSET
     * and DEL_NAME; TYPE NULL or "" with DEL_RRSET means every type). */
    int (*add_text)(dns_update_t *u, dns_change_op_t op, const char *name,
                    const char *type, uint32_t ttl, const char *rdata,
                    char *why, size_t whylen);
    /* Run CHECK (with ARG) when U is committed. */
    void (*set_check)(dns_update_t *u, dns_update_check_cb check, void *arg);
    /* Submit U (taken whatever happens).  Returns the handle, valid until
     * CB runs or the handle is cancelled. */
    dns_update_handle_t *(*submit)(dns_update_t *u, dns_update_cb cb,
                                   void *arg);
    /* Drop a batch that was never submitted. */
    void (*abort)(dns_update_t *u);
    /* Forget H: neither its check nor CB will be called.  A batch whose
     * check has not run yet is dropped; one already checked (being
     * written to the journal) still goes through.  Needs no SELF: callable
     * after the service was withdrawn (the table is static). */
    void (*cancel)(dns_update_handle_t *h);
} dns_update_service_t;

/* The table dns instances export (SELF is their loom_instance_t). */
extern const dns_update_service_t dns_update_service;

#endif

/*
 * dns_service.h - a dns instance's query pipeline as a service to other
 * instances (loom_service.h): DNS over HTTPS (http_doh.c) hands it whole
 * DNS messages and gets whole answers back -- the same zones, CHAOS
 * answers, forwarding (with its allow list applied to the address given)
 * and statistics as UDP and TCP clients, with no rate limiting and no
 * truncation (a DoH answer may be up to 65535 bytes); zone transfers are
 * refused as over UDP.  The answer's ID is the query's (RFC 8484's ID 0
 * stays 0); EDNS padding in a query is ignored and answers are not padded.
 */
#ifndef DNS_SERVICE_H
#define DNS_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_QUERY_SERVICE "dns.query/1"

/* What a query came to (the callback's STATUS). */
enum {
    DNS_QUERY_ANSWER = 0,  /* ANSWER holds the reply */
    DNS_QUERY_MALFORMED,   /* not a well-formed query (too short, QR set, a
                            * bad question or record): no DNS answer */
    DNS_QUERY_UNAVAILABLE, /* the instance stopped before it answered */
};

/* A query waiting for a forwarder; owned by the dns instance. */
typedef struct dns_query_handle_s dns_query_handle_t;

/* The answer to one query: ANSWER (LEN bytes, valid only during the
 * call; NULL unless STATUS is DNS_QUERY_ANSWER).  Called exactly once
 * per query that was not cancelled. */
typedef void (*dns_query_cb)(void *arg, int status, const uint8_t *answer,
                             size_t len);

typedef struct {
    /* Answer MSG (LEN bytes, any size up to 65535) from CLIENT (AF_INET
     * or AF_INET6: the forwarding allow list is matched against it).
     * Returns NULL when CB has already been called (answered from the
     * zones, or refused) before query returned, or the handle of a query
     * in flight: CB comes later, from the reactor, unless the handle is
     * given to cancel first.  The handle is valid until CB runs. */
    dns_query_handle_t *(*query)(void *self, const uint8_t *msg, size_t len,
                                 const struct sockaddr *client, dns_query_cb cb,
                                 void *arg);
    /* Forget query H in flight: CB will not be called (the instance frees
     * H when the forwarder is done with it).  Needs no SELF: callable
     * after the service was withdrawn (the table is static). */
    void (*cancel)(dns_query_handle_t *h);
} dns_query_service_t;

/* The table dns instances export (SELF is their loom_instance_t). */
extern const dns_query_service_t dns_query_service;

#endif

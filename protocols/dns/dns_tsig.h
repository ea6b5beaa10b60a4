/*
 * dns_tsig.h - TSIG (RFC 8945): shared-secret keys, finding and checking
 * the TSIG record of a request, and signing replies (one message, or each
 * message of a zone transfer).  Sans-I/O: bytes in, bytes out; the time
 * is passed in.  HMAC-SHA1, -SHA256 and -SHA512 through OpenSSL.
 */
#ifndef LOOM_DNS_TSIG_H
#define LOOM_DNS_TSIG_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

/* TSIG error codes (the record's Error field, RFC 8945 section 3). */
enum {
    DNS_TSIG_OK = 0,
    DNS_TSIG_BADSIG = 16,
    DNS_TSIG_BADKEY = 17,
    DNS_TSIG_BADTIME = 18,
    DNS_TSIG_BADTRUNC = 22
};

enum { DNS_TSIG_SHA1, DNS_TSIG_SHA256, DNS_TSIG_SHA512 };

#define DNS_TSIG_MAC_MAX 64     /* bytes, HMAC-SHA512 */
#define DNS_TSIG_SECRET_MAX 128 /* bytes of decoded secret */
#define DNS_TSIG_FUDGE 300      /* seconds, in what we sign */

/* One key: its name (lower-case wire form), algorithm and secret. */
typedef struct {
    uint8_t name[DNS_NAME_MAX];
    size_t name_len;
    int alg;
    uint8_t secret[DNS_TSIG_SECRET_MAX];
    size_t secret_len;
} dns_tsig_key_t;

/* The TSIG record of a message, pointing into the message. */
typedef struct {
    size_t start;        /* offset of the record (its owner name) */
    const uint8_t *name; /* the key name, uncompressed */
    const uint8_t *alg;  /* the algorithm name, uncompressed */
    uint64_t time_signed;
    uint16_t fudge;
    const uint8_t *mac;
    uint16_t mac_len;
    uint16_t orig_id, error;
    const uint8_t *other;
    uint16_t other_len;
} dns_tsig_rr_t;

/* The algorithm called TEXT ("hmac-sha256", any case, a final dot
 * allowed), or -1. */
int dns_tsig_alg_parse(const char *text);

/* The presentation name of algorithm ALG ("hmac-sha256"). */
const char *dns_tsig_alg_text(int alg);

/* The full MAC length of algorithm ALG in bytes. */
size_t dns_tsig_mac_size(int alg);

/* Fill K from presentation-form NAME, algorithm text ALG and base64
 * (RFC 4648 section 4, padded) SECRET.  0, or -1 with *ERR set to a
 * short static reason. */
int dns_tsig_key_init(dns_tsig_key_t *k, const char *name, const char *alg,
                      const char *secret, const char **err);

/* Look for a TSIG record in request MSG (LEN bytes, its header and records
 * already judged well formed by dns_query_parse()).  Returns 0 when there
 * is none, 1 with T filled when the last record of the additional section
 * is one, -1 when a TSIG record is malformed or misplaced (FORMERR). */
int dns_tsig_find(const uint8_t *msg, size_t len, dns_tsig_rr_t *t);

/* The key of KEYS (N of them) named by T's key and algorithm names, or
 * NULL (BADKEY). */
const dns_tsig_key_t *dns_tsig_key_find(const dns_tsig_key_t *keys, size_t n,
                                        const dns_tsig_rr_t *t);

/* Check request MSG's TSIG T under KEY at time NOW (seconds since the
 * epoch): the MAC first (DNS_TSIG_BADSIG when wrong; -1 when its length
 * is not allowed, FORMERR), then the time (DNS_TSIG_BADTIME outside
 * Time Signed +- Fudge).  DNS_TSIG_OK when both hold. */
int dns_tsig_verify(const uint8_t *msg, size_t len, const dns_tsig_rr_t *t,
                    const dns_tsig_key_t *key, uint64_t now);

/* Room a TSIG record signed with KEY takes in a reply (with 6 bytes of
 * Other Data, as a BADTIME answer has). */
size_t dns_tsig_space(const dns_tsig_key_t *key);

/* Sign the message in P (complete but for the TSIG) with KEY and append
 * the TSIG record, counting it in ARCOUNT.  PRIOR (PRIOR_LEN bytes) is
 * the request's MAC for a first reply, or the MAC of the previous message
 * when TIMERS_ONLY is set (the second and later messages of a transfer,
 * RFC 8945 5.3.1).  ERROR / OTHER are the record's Error and Other Data.
 * The new MAC is written to MAC_OUT (DNS_TSIG_MAC_MAX bytes), its length
 * returned; -1 when the record does not fit (P unchanged). */
int dns_tsig_sign(dns_pkt_t *p, const dns_tsig_key_t *key, const uint8_t *prior,
                  size_t prior_len, int timers_only, uint64_t time_signed,
                  uint16_t error, const uint8_t *other, uint16_t other_len,
                  uint8_t *mac_out);

/* Append an unsigned TSIG record (MAC size 0) naming request T's key and
 * algorithm with ERROR, as a BADKEY or BADSIG answer carries.  0, or -1
 * when it does not fit. */
int dns_tsig_append_unsigned(dns_pkt_t *p, const dns_tsig_rr_t *t, uint64_t now,
                             uint16_t error);

#endif

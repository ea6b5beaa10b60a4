/*
 * dns_wire.h - DNS wire format (RFC 1035, 6891): names, query parsing and
 * a bounded packet writer with name compression.  Sans-I/O: bytes in,
 * bytes out, no allocation.
 */
#ifndef LOOM_DNS_WIRE_H
#define LOOM_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 255 /* wire length of a name, root label included */
#define DNS_LABEL_MAX 63
#define DNS_UDP_MIN 512 /* payload size without EDNS */
#define DNS_MSG_MAX 65535

enum {
    DNS_T_A = 1,
    DNS_T_NS = 2,
    DNS_T_CNAME = 5,
    DNS_T_SOA = 6,
    DNS_T_PTR = 12,
    DNS_T_HINFO = 13,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
    DNS_T_SRV = 33,
    DNS_T_NAPTR = 35,
    DNS_T_DNAME = 39,
    DNS_T_OPT = 41,
    DNS_T_DS = 43,
    DNS_T_SSHFP = 44,
    DNS_T_RRSIG = 46,
    DNS_T_NSEC = 47,
    DNS_T_DNSKEY = 48,
    DNS_T_NSEC3 = 50,
    DNS_T_NSEC3PARAM = 51,
    DNS_T_TLSA = 52,
    DNS_T_TSIG = 250,
    DNS_T_IXFR = 251,
    DNS_T_AXFR = 252,
    DNS_T_MAILB = 253,
    DNS_T_MAILA = 254,
    DNS_T_ANY = 255,
    DNS_T_CAA = 257
};

enum { DNS_C_IN = 1, DNS_C_CH = 3, DNS_C_NONE = 254, DNS_C_ANY = 255 };

enum { DNS_OP_QUERY = 0, DNS_OP_NOTIFY = 4, DNS_OP_UPDATE = 5 };

enum {
    DNS_R_NOERROR = 0,
    DNS_R_FORMERR = 1,
    DNS_R_SERVFAIL = 2,
    DNS_R_NXDOMAIN = 3,
    DNS_R_NOTIMP = 4,
    DNS_R_REFUSED = 5,
    DNS_R_NOTAUTH = 9,
    DNS_R_NOTZONE = 10,
    DNS_R_BADVERS = 16 /* extended: needs OPT */
};

/* Header flag bits (second 16-bit word). */
#define DNS_F_QR 0x8000u
#define DNS_F_AA 0x0400u
#define DNS_F_TC 0x0200u
#define DNS_F_RD 0x0100u
#define DNS_F_RA 0x0080u
#define DNS_F_AD 0x0020u
#define DNS_F_CD 0x0010u
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xfu)

static inline uint16_t dns_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- names (uncompressed wire form, ending in the root label) ----------- */

/* Length of the well-formed uncompressed name at P within LEN bytes (root
 * label included), or 0 if it is malformed: a label over 63, a pointer or
 * reserved label type, no root label within LEN, or over 255 bytes. */
size_t dns_name_len(const uint8_t *p, size_t len);

/* Number of labels of a well-formed name, root not counted ("." is 0). */
unsigned dns_name_labels(const uint8_t *name);

/* Case-insensitive equality of two well-formed names. */
int dns_name_equal(const uint8_t *a, const uint8_t *b);

/* Copy well-formed name SRC to DST (DNS_NAME_MAX bytes) in lower case;
 * returns its length. */
size_t dns_name_lower(uint8_t *dst, const uint8_t *src);

/* The suffix of NAME that drops its first N labels (N <= its labels). */
const uint8_t *dns_name_skip(const uint8_t *name, unsigned n);

/* Whether NAME equals or is below ANCESTOR (both well-formed). */
int dns_name_under(const uint8_t *name, const uint8_t *ancestor);

/* Presentation form of NAME ("www.example.test.", "." for the root, with
 * \. and \DDD escapes) into OUT (at least 4 * DNS_NAME_MAX + 1 bytes).
 * Returns OUT. */
char *dns_name_text(const uint8_t *name, char *out, size_t outlen);

/* Parse presentation-form TEXT (absolute, or relative to ORIGIN when it
 * does not end in a dot; ORIGIN may be NULL) into DST (DNS_NAME_MAX bytes).
 * Handles \. and \DDD.  Returns the wire length, or 0 if malformed. */
size_t dns_name_from_text(uint8_t *dst, const char *text,
                          const uint8_t *origin);

/* The same for the N bytes at TEXT (not NUL-terminated); "@" stands for
 * ORIGIN when it is given.  On failure returns 0 with ERR set to a short
 * reason ("label longer than 63", ...). */
size_t dns_name_parse(uint8_t *dst, const char *text, size_t n,
                      const uint8_t *origin, const char **err);

/* Skip the possibly compressed name at offset OFF of MSG (LEN bytes);
 * the offset just past it, or 0 if it is malformed (a forward pointer, one
 * into the header, a loop, an expanded length over 255). */
size_t dns_wire_skip_name(const uint8_t *msg, size_t len, size_t off);

/* ---- queries ------------------------------------------------------------ */

typedef struct {
    uint16_t id;
    uint16_t flags; /* header word 2, as received */
    uint16_t qtype, qclass;
    const uint8_t *qname; /* into the message (uncompressed, case kept) */
    size_t qname_len;
    size_t question_end; /* offset just past the question */
    /* EDNS (RFC 6891): */
    int edns;          /* an OPT record was present */
    uint16_t udp_size; /* the client's advertised payload size */
    uint8_t edns_version;
    int do_bit;
    /* For NOTIFY and IXFR: the counts of the other sections. */
    uint16_t ancount, nscount, arcount;
} dns_query_t;

/* Outcome of dns_query_parse(). */
enum {
    DNS_PARSE_OK = 0,
    DNS_PARSE_DROP,    /* not worth an answer: shorter than a header, or
                        * a response (QR set) */
    DNS_PARSE_FORMERR, /* answer FORMERR; Q->id/flags are valid and
                        * Q->qname is set if the question parsed */
};

/* Parse a request MSG of LEN bytes into Q.  Checks: QDCOUNT == 1, a
 * well-formed question (no compression), every record after it well
 * formed (compression allowed there), at most one OPT, owned by the root,
 * in the additional section.  Opcodes are not judged here. */
int dns_query_parse(const uint8_t *msg, size_t len, dns_query_t *q);

/* ---- packet writer ------------------------------------------------------ */

#define DNS_COMP_MAX 96 /* remembered name positions per message */

typedef struct {
    uint8_t *buf;
    size_t cap; /* hard limit on the message size */
    size_t len;
    /* Offsets of names already written (for compression pointers). */
    uint16_t comp[DNS_COMP_MAX];
    unsigned ncomp;
    int overflow; /* a write did not fit; len is unchanged */
} dns_pkt_t;

/* Start an empty message in BUF (CAP bytes, at most DNS_MSG_MAX). */
void dns_pkt_init(dns_pkt_t *p, uint8_t *buf, size_t cap);

/* A position to roll back to with dns_pkt_rollback() (length and
 * compression table). */
typedef struct {
    size_t len;
    unsigned ncomp;
} dns_pkt_mark_t;

dns_pkt_mark_t dns_pkt_mark(const dns_pkt_t *p);
void dns_pkt_rollback(dns_pkt_t *p, dns_pkt_mark_t m);

/* Append raw bytes / integers.  On overflow nothing is written, overflow
 * is set and LOOM-style -1 is returned; 0 on success. */
int dns_pkt_bytes(dns_pkt_t *p, const void *data, size_t len);
int dns_pkt_u16(dns_pkt_t *p, uint16_t v);
int dns_pkt_u32(dns_pkt_t *p, uint32_t v);

/* Append well-formed NAME, compressed against names written before when
 * COMPRESS is set (and remembered for later names either way when it
 * lies within the first 16 KiB).  0 or -1 on overflow. */
int dns_pkt_name(dns_pkt_t *p, const uint8_t *name, int compress);

/* Remember the suffixes of the uncompressed name already in the packet at
 * offset OFF (e.g. the question) as compression targets. */
void dns_pkt_remember(dns_pkt_t *p, size_t off);

/* Append a pointer to the name at offset OFF (e.g. 12, the question). */
int dns_pkt_ptr(dns_pkt_t *p, uint16_t off);

#endif

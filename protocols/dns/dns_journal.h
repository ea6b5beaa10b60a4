/*
 * dns_journal.h - the journal of a dynamic zone, and applying changes to a
 * zone.
 *
 * Journal format (all integers big-endian):
 *
 *   file   := magic record*
 *   magic  := "LOOMJNL1"                        (8 bytes)
 *   record := length:u32 crc:u32 payload        (crc: CRC-32, the IEEE
 *                                                polynomial zlib uses, of
 *                                                the LENGTH payload bytes)
 *   payload:= serial:u32 count:u16 change*count
 *   change := op:u8 type:u16 ttl:u32 namelen:u8 name rdlen:u16 rdata
 *
 * One record is one batch that changed the zone; SERIAL is the zone's
 * serial after it.  NAME is an uncompressed wire name, RDATA wire rdata
 * with names uncompressed, OP a dns_change_op_t.  A reader stops at the
 * first record that is not whole (short, a length over
 * DNS_JOURNAL_REC_MAX, a bad CRC, a payload that does not parse): what
 * comes before it is the journal, the rest is a torn tail.  A record
 * whose serial is not newer than the zone's (RFC 1982) is already in the
 * zone file (a compaction was cut short between its rename and the
 * journal's truncation) and is skipped.
 */
#ifndef LOOM_DNS_JOURNAL_H
#define LOOM_DNS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dns_update.h"
#include "dns_zone.h"

#define DNS_JOURNAL_MAGIC "LOOMJNL1"
#define DNS_JOURNAL_MAGIC_LEN 8
#define DNS_JOURNAL_REC_MAX (16u * 1024 * 1024)
#define DNS_JOURNAL_CHANGES_MAX 65535

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of LEN bytes at P,
 * continuing from CRC (0 to start). */
uint32_t dns_crc32(uint32_t crc, const uint8_t *p, size_t len);

/* RFC 1982: serial A is newer than B. */
int dns_serial_newer(uint32_t a, uint32_t b);

/* A batch of changes, as applied and as journaled (owns its bytes). */
typedef struct {
    dns_change_t *v;
    size_t n, cap;
} dns_batch_t;

/* Append a copy of C to B (its name and rdata copied). */
void dns_batch_add(dns_batch_t *b, const dns_change_t *c);
/* Free what B holds and empty it. */
void dns_batch_clear(dns_batch_t *b);

/* Apply batch B to zone Z: a new zone (one reference) in *OUT, or Z
 * itself with one more reference when B changes nothing (*CHANGED 0).  A
 * change bumps the serial by one (RFC 1982), or sets it to SERIAL when
 * SERIAL is not 0 (replay).  Apex SOA and NS are kept (deleting them is
 * ignored, as RFC 2136 3.4.2.4 says); a SET of the apex SOA replaces it.
 * An ADD follows RFC 2136 3.4.2.2: it is skipped when it is an apex SOA
 * whose serial is not newer, a CNAME at a name with other data, or other
 * data at a name with a CNAME; an added CNAME replaces the name's
 * CNAME.  Returns 0, or a DNS RCODE with WHY set (a CNAME beside
 * other data, a name outside the zone, ...): nothing changes. */
unsigned dns_zone_apply(dns_zone_t *z, const dns_batch_t *b, uint32_t serial,
                        dns_zone_t **out, int *changed, char *why,
                        size_t whylen);

/* The journal record for batch B with SERIAL, appended to *BUF (grown
 * with loom_realloc; *LEN bytes used). */
void dns_journal_encode(const dns_batch_t *b, uint32_t serial, uint8_t **buf,
                        size_t *len);

/* Called per whole record with its batch (valid during the call) and
 * serial; non-zero stops the read. */
typedef int (*dns_journal_cb)(void *arg, const dns_batch_t *b, uint32_t serial);

/* Read the journal held in BUF (LEN bytes, magic included; an empty
 * buffer is an empty journal).  Returns the length of the whole records
 * read (what a torn tail is truncated to), or -1 when BUF does not start
 * with the magic. */
long dns_journal_read(const uint8_t *buf, size_t len, dns_journal_cb cb,
                      void *arg);

/* Replay the journal BUF (LEN bytes) onto *Z (replaced by the result;
 * records not newer than the zone skipped).  *GOOD: the length of the
 * whole records; *APPLIED: records applied.  Returns 0, or -1 with ERR
 * set (no magic, a record that does not apply to the zone). */
int dns_journal_replay(dns_zone_t **z, const uint8_t *buf, size_t len,
                       size_t *good, unsigned *applied, char *err,
                       size_t errlen);

/* The zone Z in master-file form ($ORIGIN, then one record a line;
 * rdata in presentation form), NUL-terminated, *LEN bytes (malloc'd;
 * the caller frees).  Safe on a worker thread (Z is not written). */
char *dns_zone_text(const dns_zone_t *z, size_t *len);

/* Write zone Z to PATH as TMP + fsync + rename, and fsync PATH's
 * directory.  0, or -1 with ERR set.  Blocking (worker pool). */
int dns_zone_write_file(const dns_zone_t *z, const char *path, char *err,
                        size_t errlen);

#endif

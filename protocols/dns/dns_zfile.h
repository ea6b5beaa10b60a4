/*
 * dns_zfile.h - RFC 1035 master-file reader.
 *
 * Reads a zone file and hands each resource record, in wire form, to a
 * callback.  Knows $ORIGIN, $TTL, $INCLUDE (path relative to the including
 * file's directory, an optional origin, nesting bounded), parentheses
 * across lines, comments, quoted strings, @, relative and absolute names,
 * escapes (\. \DDD), owner and TTL inheritance, class IN, and the record
 * types loom serves (SOA NS A AAAA CNAME DNAME MX TXT PTR SRV CAA NAPTR
 * SSHFP TLSA DS DNSKEY RRSIG NSEC NSEC3 NSEC3PARAM HINFO and RFC 3597
 * generic form for any type).  Record syntax (rdata) is checked by
 * libldns; the file structure is read here so every error names FILE:LINE.
 *
 * TTL when a record gives none: $TTL if set, else the previous record's,
 * else 3600 (NSD's default).
 */
#ifndef LOOM_DNS_ZFILE_H
#define LOOM_DNS_ZFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *owner; /* uncompressed wire name, case as written */
    size_t owner_len;
    uint16_t type, rclass;
    uint32_t ttl;
    const uint8_t *rdata; /* wire rdata, names uncompressed */
    uint16_t rdlen;
    const char *file; /* the file the record came from */
    unsigned line;    /* the line the record starts on */
} dns_zrr_t;

/* Called once per record in file order.  Return 0 to go on; -1 to stop
 * the read (the callback then writes its own "FILE:LINE: message" into
 * ERR, using rr->file and rr->line). */
typedef int (*dns_zfile_cb)(void *arg, const dns_zrr_t *rr, char *err,
                            size_t errlen);

/* Read the master file PATH with the initial origin ORIGIN (a well-formed
 * wire name).  Returns 0, or -1 with ERR set to one line,
 * "FILE:LINE: message" (FILE as given or as named by $INCLUDE; a PATH that
 * cannot be read gives "PATH: strerror").  ERR may be NULL when ERRLEN is
 * 0.  Only regular files are read (no FIFOs or devices).  An $INCLUDEd
 * file starts with the includer's owner and origin (or the origin given),
 * and both are the includer's again after it; $TTL and the previous TTL
 * carry across.  Types other than those listed above are read only in
 * RFC 3597 form; TTLs above 2^31-1 are an error. */
int dns_zfile_read(const char *path, const uint8_t *origin, dns_zfile_cb cb,
                   void *arg, char *err, size_t errlen);

/* The same for a master file held in memory (TEXT, LEN bytes; NUL bytes
 * are an error); NAME stands for the file in messages.  $INCLUDE paths
 * are taken relative to the current directory. */
int dns_zfile_read_mem(const char *name, const char *text, size_t len,
                       const uint8_t *origin, dns_zfile_cb cb, void *arg,
                       char *err, size_t errlen);

#endif

/*
 * dyndns_parse.h - the pure pieces of the dyndns2 handler (http_dyndns.c):
 * the users file, the query string of /nic/update, host names and the
 * answer codes.  No I/O, no allocation but the users table: unit-tested
 * and fuzzed on their own.
 *
 * The users file: one user per line,
 *
 *     NAME:HASH PATTERN [PATTERN ...]
 *
 * NAME a login (1-64 bytes of [A-Za-z0-9._@-]), HASH a crypt(3) hash as
 * written by mkpasswd (yescrypt "$y$", bcrypt "$2b$", SHA-512 "$6$"; any
 * "$id$" form libcrypt knows, never a DES or empty one), then the names
 * the user may update: a host name ("h1.dyn.example.test") or "*." and a
 * suffix ("*.home.dyn.example.test": any name strictly below it).  Blank
 * lines and lines starting with '#' are skipped; fields are separated by
 * spaces or tabs.
 */
#ifndef DYNDNS_PARSE_H
#define DYNDNS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define DYNDNS_USER_MAX 64
#define DYNDNS_HASH_MAX 512
#define DYNDNS_NAME_MAX 253 /* a host name in text, without a final dot */
#define DYNDNS_MAX_HOSTS 20 /* hostname=a,b,... beyond this: numhost */

typedef struct {
    char *name;
    char *hash;
    char **patterns; /* lowercase, as written ("*.x.y" or "h.x.y") */
    size_t npatterns;
} dyndns_user_t;

typedef struct {
    dyndns_user_t *users;
    size_t nusers;
} dyndns_users_t;

/* Parse the users file TEXT[0..LEN).  Returns the table (free with
 * dyndns_users_free), or NULL with *LINE the 1-based line at fault and
 * ERR one message without a place. */
dyndns_users_t *dyndns_users_parse(const char *text, size_t len, unsigned *line,
                                   char *err, size_t errlen);

/* Free U (NULL is fine); the hashes are wiped first. */
void dyndns_users_free(dyndns_users_t *u);

/* The user NAME[0..LEN) of U (exact, case-sensitive), or NULL. */
const dyndns_user_t *dyndns_user_find(const dyndns_users_t *u, const char *name,
                                      size_t len);

/* Whether U may update HOST (lowercase, no final dot): one of its
 * patterns is HOST, or is "*.S" with HOST ending in ".S". */
int dyndns_user_may(const dyndns_user_t *u, const char *host);

/* Whether HOST is a fully qualified host name: two labels or more, each
 * 1-63 letters, digits or '-' (not first or last; '_' allowed for
 * service labels), 253 bytes at most, no final dot.  Lowercases HOST. */
int dyndns_fqdn(char *host);

/* Whether HOST (lowercase) is ZONE (lowercase) or below it. */
int dyndns_in_zone(const char *host, const char *zone);

/* The parsed query string of one update. */
typedef struct {
    char hosts[DYNDNS_MAX_HOSTS][DYNDNS_NAME_MAX + 2]; /* decoded, as sent */
    size_t nhosts;
    int too_many; /* more than DYNDNS_MAX_HOSTS names */
    int has_v4, has_v6;
    uint8_t v4[4], v6[16];
    int bad_ip; /* a myip / myipv6 value that is no address (ignored) */
} dyndns_query_t;

/* Parse query string Q[0..LEN) (without '?'): hostname= (comma-separated
 * names; a name too long to keep is kept cut, so that it fails as not a
 * FQDN), myip= (one address or a comma-separated IPv4 and IPv6 pair) and
 * myipv6=; other parameters (wildcard, mx, backmx, offline, system) are
 * ignored.  A value that is not an address sets bad_ip and is ignored.
 * Returns 0, or -1 when a %-escape is malformed. */
int dyndns_query_parse(const char *q, size_t len, dyndns_query_t *out);

/* The answer codes, as the protocol spells them. */
typedef enum {
    DYNDNS_GOOD = 0, /* "good IP": the record now holds IP */
    DYNDNS_NOCHG,    /* "nochg IP": it held IP already */
    DYNDNS_BADAUTH,  /* no or wrong credentials */
    DYNDNS_NOTFQDN,  /* a name is not a host name, or none given */
    DYNDNS_NOHOST,   /* outside the zone, or not the user's */
    DYNDNS_NUMHOST,  /* too many names in one request */
    DYNDNS_ABUSE,    /* too many failures from the client's address */
    DYNDNS_911,      /* the server could not do it now */
} dyndns_code_t;

/* "good", "nochg", ... for C. */
const char *dyndns_code_name(dyndns_code_t c);

/* The code for one host name HOST (as sent; lowercased in place) of user
 * U with zone ZONE, before any update: NOTFQDN, NOHOST, or GOOD (go on
 * with the update). */
dyndns_code_t dyndns_host_code(const dyndns_user_t *u, const char *zone,
                               char *host);

/* Decode "Authorization: Basic B64" value V[0..LEN) into USER and PASS
 * (NUL-terminated, at most the given capacities - 1).  Returns 0, or -1
 * when it is not Basic, not base64, has no ':' or does not fit. */
int dyndns_basic_auth(const char *v, size_t len, char *user, size_t ucap,
                      char *pass, size_t pcap);

#endif

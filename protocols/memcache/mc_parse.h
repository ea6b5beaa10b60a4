/*
 * mc_parse.h - memcache command lines (text and meta protocol) parsed into
 * a request, sans I/O, with memcached 1.6.18's validation and its error
 * lines; plus the number helpers the store shares.
 *
 * The caller cuts the input into lines (without LF / CRLF) and hands each
 * one to mc_parse(); a storage command is followed by a data block of
 * req.bytes + 2 bytes that the caller reads itself.
 */
#ifndef MC_PARSE_H
#define MC_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"
#include "mc_store.h"

#define MC_MAX_TOKENS 24      /* as memcached: longer meta lines are cut */
#define MC_LINE_MAX 2048      /* a command line without newline */
#define MC_GET_LINE_MAX 65536 /* get/gets/gat/gats key lists */
#define MC_OPAQUE_MAX 32      /* meta O token */

typedef enum {
    MC_CMD_UNKNOWN = 0,
    MC_CMD_GET,
    MC_CMD_GETS,
    MC_CMD_GAT,
    MC_CMD_GATS,
    MC_CMD_SET,
    MC_CMD_ADD,
    MC_CMD_REPLACE,
    MC_CMD_APPEND,
    MC_CMD_PREPEND,
    MC_CMD_CAS,
    MC_CMD_DELETE,
    MC_CMD_INCR,
    MC_CMD_DECR,
    MC_CMD_TOUCH,
    MC_CMD_FLUSH_ALL,
    MC_CMD_STATS,
    MC_CMD_VERSION,
    MC_CMD_VERBOSITY,
    MC_CMD_QUIT,
    MC_CMD_CACHE_MEMLIMIT,
    MC_CMD_MG,
    MC_CMD_MS,
    MC_CMD_MD,
    MC_CMD_MA,
    MC_CMD_MN,
    MC_CMD_ME
} mc_cmd_t;

/* Meta flag letters as bits: MC_F('v') etc. */
#define MC_F(ch) ((uint64_t)1 << ((ch) - 'A'))

typedef struct {
    mc_cmd_t cmd;
    /* Set when the line is invalid: the reply line (without CRLF).  If
     * swallow is non-zero, that many bytes of data block follow and must be
     * skipped.  force tells that the error is sent even under noreply. */
    const char *err;
    uint64_t swallow;
    int force;

    int noreply;       /* text `noreply`, meta `q` */
    loom_slice_t key;  /* single-key commands (decoded for meta `b`) */
    loom_slice_t keys; /* get/gets/gat/gats: the space-separated key list */
    uint32_t flags;    /* client flags (set..cas, meta F) */
    int64_t exptime;   /* set..cas, touch, gat, flush_all delay, meta T */
    uint64_t bytes;    /* data block length without CRLF (set..cas, ms) */
    uint64_t cas;      /* cas, meta C */
    uint64_t delta;    /* incr/decr, meta D (default 1) */
    uint64_t number;   /* verbosity level, cache_memlimit megabytes */
    int has_exptime;   /* flush_all: a delay was given */
    loom_slice_t args[MC_MAX_TOKENS]; /* stats arguments */
    int nargs;

    /* meta */
    uint64_t mflags;           /* MC_F(letter) for every flag given */
    char order[MC_MAX_TOKENS]; /* flag letters in request order */
    int norder;
    loom_slice_t opaque; /* O token, without the O */
    int64_t ttl_N, ttl_R;
    uint64_t new_cas; /* E */
    uint64_t initial; /* J */
    char mode;        /* M (ms: E A P R S; ma: I + D -) */
    unsigned pflags;  /* the MC_PARSE_* flags the line was parsed with */
    char keybuf[MC_KEY_MAX + 1]; /* base64-decoded key */
} mc_req_t;

/* mc_parse_flags() flags. */
#define MC_PARSE_LAX_KEYS                                                      \
    1 /* keys as memcached takes them: any byte but                            \
       * space (control characters included) */

/* Parse one command LINE of LEN bytes (no LF; a trailing CR is ignored)
 * into REQ.  Returns the command; REQ->err is set for an invalid line
 * (MC_CMD_UNKNOWN with err "ERROR" for an unknown command).  For get-like
 * commands REQ->keys is the raw key list: walk it with mc_next_key(). */
mc_cmd_t mc_parse(const char *line, size_t len, mc_req_t *req);

/* mc_parse with MC_PARSE_* FLAGS. */
mc_cmd_t mc_parse_flags(const char *line, size_t len, unsigned flags,
                        mc_req_t *req);

/* Next key of a get key list: *CUR advances past it.  Returns 1 with *KEY
 * set, 0 at the end. */
int mc_next_key(loom_slice_t *cur, loom_slice_t *key);

/* A key memcached and loom accept: 1..250 bytes, no space or control
 * character.  Returns 1 if valid. */
int mc_key_valid(const char *key, size_t len);

/* mc_key_valid, or with MC_PARSE_LAX_KEYS in FLAGS: 1..250 bytes, no
 * space. */
int mc_key_ok(const char *key, size_t len, unsigned flags);

/* Parse the decimal value of an item (LEN bytes, followed by "\r\n") as
 * memcached's incr does: leading spaces allowed, then digits, then a space
 * or the CR.  Returns 0 and sets *OUT, or -1 if it is not a number. */
int mc_strtoull_item(const char *s, size_t len, uint64_t *out);

/* Decimal digits of V into BUF (at least 21 bytes); returns the length
 * (no NUL is written). */
size_t mc_u64toa(char *buf, uint64_t v);

/* Base64 (RFC 4648, with padding) decode of SRC into DST (room for
 * DSTLEN).  Returns the decoded length, or -1 if invalid or too long. */
int mc_base64_decode(const char *src, size_t len, char *dst, size_t dstlen);

/* Base64 encode; DST needs 4 * ((LEN + 2) / 3) bytes.  Returns the length. */
size_t mc_base64_encode(const char *src, size_t len, char *dst);

#endif

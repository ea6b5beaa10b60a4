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
#include "loom_cmd.h"
#include "mc_store.h"

#define MC_MAX_TOKENS 24 /* as memcached: longer meta lines are cut */
#define MC_LINE_MAX 2048 /* a command line without newline */
/* A get line longer than this is answered as it arrives instead of once
 * it is whole (its keys checked first). */
#define MC_GET_HOLD 65536
#define MC_OPAQUE_MAX 32 /* meta O token */

/* The flags (loom_cmd_t.flags) of memcache's commands in mc_commands. */
#define MC_CF_GET 0x0001u     /* a key list follows: get, gets, gat, gats */
#define MC_CF_CAS 0x0002u     /* gets/gats return CAS uniques; cas takes one */
#define MC_CF_TOUCH 0x0004u   /* gat/gats: an exptime comes first; touch */
#define MC_CF_STORAGE 0x0008u /* a data block follows the line */
#define MC_CF_KEY 0x0010u     /* one key (decoded for meta `b`) in req.key */
#define MC_CF_META 0x0020u    /* meta protocol: errors ignore q, cmd_meta */
#define MC_CF_DECR 0x0040u    /* decr rather than incr */
/* memcached picks this command by its first letter: an unknown verb with
 * the same first letter (meta: and the same length) is answered ERROR,
 * never checked for HTTP */
#define MC_CF_LETTER 0x0080u
/* a wrong argument count is answered "CLIENT_ERROR bad command line
 * format" (me), not ERROR */
#define MC_CF_ARITY_FMT 0x0100u
/* counted by `stats detail`: a get's keys, a storage command, a delete */
#define MC_CF_DETAIL 0x0200u
/* storage mode (mc_mode_t) of set..prepend */
#define MC_CF_MODE(m) ((unsigned)(m) << 16)
#define MC_CF_MODE_OF(f) ((mc_mode_t)(((f) >> 16) & 0xfu))

/* Meta flag letters as bits: MC_F('v') etc. */
#define MC_F(ch) ((uint64_t)1 << ((ch) - 'A'))

typedef struct {
    /* The command's entry in mc_commands; NULL for an unknown verb. */
    const loom_cmd_t *cmd;
    /* Set when the line is invalid: the reply line (without CRLF).  If
     * swallow is non-zero, that many bytes of data block follow and must be
     * skipped.  force tells that the error is sent even under noreply. */
    const char *err;
    uint64_t swallow;
    int force;
    /* An unknown verb whose last token starts with "HTTP/": close the
     * connection without a reply (memcached's guard against requests that
     * browsers are made to send across protocols); err is NULL. */
    int hangup;

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
    loom_slice_t args[MC_MAX_TOKENS]; /* stats, slabs, lru_crawler */
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

/* How the arguments of a group of commands read: fill REQ from the NTOK
 * tokens of LINE (LEN bytes; TOK[0] is the verb, the argument count is
 * already checked); return the error line or NULL. */
typedef struct {
    const char *(*parse)(mc_req_t *req, const loom_slice_t *tok, int ntok,
                         const char *line, size_t len);
    uint64_t known;       /* meta: the flags the command reads (MC_F) */
    const char *modes;    /* meta: the M modes it takes (NULL: any) */
    const char *mode_err; /* meta: the reply to another mode */
    const char *flag_err; /* meta: the reply to any bad flag (NULL: each
                           * flag's own) */
} mc_syntax_t;

/* The syntaxes, for the entries of mc_commands (their data pointer). */
extern const mc_syntax_t mc_syn_get, mc_syn_storage, mc_syn_delete,
    mc_syn_keynum, mc_syn_flush, mc_syn_verbosity, mc_syn_memlimit, mc_syn_args,
    mc_syn_none, mc_syn_mg, mc_syn_ms, mc_syn_md, mc_syn_ma, mc_syn_me;

/* The command table: every command once, with its name, argument count,
 * MC_CF_* flags, handler (mc_proto.c) and syntax.  Defined in
 * mc_proto.c. */
extern const loom_cmd_table_t mc_commands;

/* Parse one command LINE of LEN bytes (no LF; a trailing CR is ignored)
 * into REQ.  Returns REQ->cmd, the command's entry (NULL for an unknown
 * verb); REQ->err is set for an invalid line ("ERROR" for an unknown verb
 * or a wrong argument count) and REQ->hangup for a cross-protocol line.
 * For get-like commands REQ->keys is the raw key list: walk it with
 * mc_next_key(). */
const loom_cmd_t *mc_parse(const char *line, size_t len, mc_req_t *req);

/* mc_parse with MC_PARSE_* FLAGS. */
const loom_cmd_t *mc_parse_flags(const char *line, size_t len, unsigned flags,
                                 mc_req_t *req);

/* The command a line starting at LINE (LEN bytes, maybe incomplete) is,
 * if its verb is known and complete (a space follows it); NULL otherwise.
 * For deciding what to do with a long line before its end. */
const loom_cmd_t *mc_peek_cmd(const char *line, size_t len);

/* Check every key of a get key list KEYS: 1 if all are acceptable under
 * FLAGS (see mc_key_ok), 0 if one is not. */
int mc_keys_ok(loom_slice_t keys, unsigned flags);

/* What mc_keys_next found. */
typedef enum {
    MC_KEYS_KEY,  /* *KEY is the next key */
    MC_KEYS_END,  /* the line ended (its LF consumed) */
    MC_KEYS_MORE, /* the next key or the line end is not complete yet */
    MC_KEYS_BAD   /* the next key is not acceptable (CHECK set) */
} mc_keys_result_t;

/* The next item of a key list that continues in BUF[0..LEN) (a get line
 * answered as it arrives): spaces are skipped, a key ends at a space or at
 * the line end (LF, or CR LF), which ends the list.  *USED is the number
 * of bytes consumed (0 on MORE and BAD).  With CHECK, a key that is not
 * acceptable under FLAGS, or a partial key already too long, is BAD. */
mc_keys_result_t mc_keys_next(const char *buf, size_t len, unsigned flags,
                              int check, loom_slice_t *key, size_t *used);

/* Next key of a get key list: *CUR advances past it.  Returns 1 with *KEY
 * set, 0 at the end. */
int mc_next_key(loom_slice_t *cur, loom_slice_t *key);

/* A key memcached and loom accept: 1..250 bytes, no space or control
 * character.  Returns 1 if valid. */
int mc_key_valid(const char *key, size_t len);

/* mc_key_valid, or with MC_PARSE_LAX_KEYS in FLAGS: 1..250 bytes, no
 * space. */
int mc_key_ok(const char *key, size_t len, unsigned flags);

/* A whole token as an unsigned decimal, as memcached's safe_strtoull
 * reads it (an optional '+', digits; "-0" is 0, other negatives are
 * refused).  Returns 0 and sets *OUT, or -1. */
int mc_tok_u64(loom_slice_t t, uint64_t *out);

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

/*
 * smtp_parse.h - SMTP command lines and RFC 5321 paths, sans I/O.
 *
 * THIS IS THE AGREED INTERFACE (issue 16, SMTP_PLAN.md "smtp-parse"):
 * helpers build on it; it only grows (new fields, functions, flags).
 *
 * One command line (CRLF removed) in, a smtp_cmd_t out whose slices point
 * into the line, or a ready-made Postfix-style error reply.  The parser
 * keeps no state: what depends on the session (extensions advertised,
 * the transaction's SMTPUTF8, SIZE limit) comes in smtp_parse_opts_t.
 * Verbs are recognised whatever the session state; which verb is allowed
 * when (503 5.5.1, STARTTLS/AUTH/BDAT availability) is the session's call.
 */
#ifndef SMTP_PARSE_H
#define SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"

/* RFC 5321 4.5.3.1: command line 512 octets with CRLF, local part 64,
 * domain 255, path 256 octets (with the angle brackets). */
#define SMTP_CMD_LINE_MAX 512
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256
/* RFC 3461 4.4/4.2: ENVID at most 100 octets, ORCPT at most 500. */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500
/* Longest error text in a smtp_reply_t, with its NUL. */
#define SMTP_REPLY_TEXT_MAX 128

typedef enum {
    SMTP_VERB_UNKNOWN = 0,
    SMTP_VERB_EHLO,
    SMTP_VERB_HELO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT,
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_VRFY,
    SMTP_VERB_HELP,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_AUTH,
    SMTP_VERB_COUNT
} smtp_verb_t;

/* A reply to send: "<code> <enh> <text>\r\n".  Both strings are
 * NUL-terminated, printable ASCII, inside the struct (no ownership). */
typedef struct {
    int code;     /* 500, 501, 552, 553, 555 ... */
    char enh[12]; /* enhanced status code, e.g. "5.5.4" (RFC 3463) */
    char text[SMTP_REPLY_TEXT_MAX];
} smtp_reply_t;

/* Extensions the session advertised (smtp_parse_opts_t.ext).  A MAIL or
 * RCPT parameter of an extension not listed is refused with 555 5.5.4. */
enum {
    SMTP_EXT_SIZE = 1u << 0,       /* SIZE= */
    SMTP_EXT_8BITMIME = 1u << 1,   /* BODY=7BIT|8BITMIME */
    SMTP_EXT_BINARYMIME = 1u << 2, /* BODY=BINARYMIME (needs CHUNKING) */
    SMTP_EXT_SMTPUTF8 = 1u << 3,   /* SMTPUTF8, UTF-8 in paths */
    SMTP_EXT_DSN = 1u << 4,        /* RET ENVID NOTIFY ORCPT */
    SMTP_EXT_AUTH = 1u << 5        /* AUTH= on MAIL */
};

typedef struct {
    unsigned ext;      /* SMTP_EXT_* advertised to this client */
    uint64_t max_size; /* SIZE= above this: 552 5.3.4; 0 = no limit */
    size_t max_line;   /* command line limit with CRLF; 0 = 512; see
                          smtp_cmd_line_limit() for what the DSN adds */
    int utf8_txn;      /* RCPT: the transaction's MAIL had SMTPUTF8, so
                          UTF-8 is allowed in the path */
} smtp_parse_opts_t;

/* BODY= values. */
typedef enum {
    SMTP_BODY_NONE = 0, /* not given */
    SMTP_BODY_7BIT,
    SMTP_BODY_8BITMIME,
    SMTP_BODY_BINARYMIME
} smtp_body_t;

/* RET= values. */
typedef enum { SMTP_RET_NONE = 0, SMTP_RET_FULL, SMTP_RET_HDRS } smtp_ret_t;

/* NOTIFY= bits; 0 = not given.  NEVER is never combined with the others. */
enum {
    SMTP_NOTIFY_NEVER = 1u << 0,
    SMTP_NOTIFY_SUCCESS = 1u << 1,
    SMTP_NOTIFY_FAILURE = 1u << 2,
    SMTP_NOTIFY_DELAY = 1u << 3
};

/*
 * A parsed RFC 5321 Mailbox (reverse-path or forward-path).  Slices point
 * into the parsed line.  Decisions (issue 16 was silent on these):
 *  - "<>" is the null path (null = 1, local/domain empty); accepted for MAIL
 *    only.  A source route "<@a,@b:u@d>" is checked and dropped.
 *  - Missing angle brackets are tolerated as Postfix does with
 *    strict_rfc821_envelopes = no: "MAIL FROM:u@d" and "MAIL FROM: <u@d>"
 *    (spaces after the colon) are accepted; an unbracketed path ends at the
 *    first space.  An unbracketed path is never the null path.
 *  - A path without "@domain" is accepted only as RCPT TO:<postmaster>
 *    (any case; RFC 5321 4.1.1.3), domain then empty.
 *  - local: dot-string or quoted-string as written (quotes and backslashes
 *    kept, quoted = 1); smtp_addr_local_unquote() gives the plain form.
 *  - domain: a dotted name of letters, digits, '-' (no leading/trailing
 *    hyphen in a label), or an address literal "[1.2.3.4]",
 *    "[IPv6:...]" (validated with inet_pton), brackets kept in the slice.
 *  - UTF-8 (any byte >= 0x80, well-formed UTF-8 only) in the local part or
 *    domain sets utf8 = 1 and is accepted only with SMTPUTF8: for MAIL when
 *    the same line carries the SMTPUTF8 parameter, for RCPT when
 *    opts->utf8_txn; otherwise 553 5.6.7.  The caller needs no own check.
 */
typedef struct {
    int null;             /* "<>" */
    int quoted;           /* local part is a quoted-string */
    int utf8;             /* a byte >= 0x80 in local or domain */
    int literal;          /* domain is an address literal "[...]" */
    loom_slice_t local;   /* as written; <= SMTP_LOCAL_MAX octets */
    loom_slice_t domain;  /* as written; <= SMTP_DOMAIN_MAX octets */
    loom_slice_t mailbox; /* "local@domain" as written, no route/brackets */
} smtp_addr_t;

/* ESMTP parameters of MAIL and RCPT (RFC 1870, 6152, 3030, 6531, 3461,
 * 4954).  Slices point into the parsed line; xtext values are kept
 * encoded (validated): decode with smtp_xtext_decode(). */
typedef struct {
    int has_size;
    uint64_t size;           /* SIZE=, digits only, <= opts->max_size */
    smtp_body_t body;        /* BODY= */
    int smtputf8;            /* SMTPUTF8 (MAIL) */
    smtp_ret_t ret;          /* RET= (MAIL) */
    loom_slice_t envid;      /* ENVID= xtext (MAIL), empty if absent */
    int has_auth;            /* AUTH= (MAIL), value kept but not trusted */
    loom_slice_t auth;       /* its value: xtext or "<>" */
    unsigned notify;         /* SMTP_NOTIFY_* (RCPT) */
    loom_slice_t orcpt_type; /* ORCPT= addr-type, e.g. "rfc822" (RCPT) */
    loom_slice_t orcpt;      /* ORCPT= xtext after ';' (RCPT) */
} smtp_params_t;

typedef struct {
    smtp_verb_t verb;
    /* Everything after the verb and its spaces, trailing spaces removed
     * (may be empty); for SMTP_VERB_UNKNOWN the whole line. */
    loom_slice_t arg;
    smtp_addr_t path;          /* MAIL, RCPT */
    smtp_params_t params;      /* MAIL, RCPT */
    uint64_t bdat_size;        /* BDAT chunk size in octets */
    int bdat_last;             /* BDAT ... LAST */
    loom_slice_t auth_mech;    /* AUTH: mechanism (upper-case not forced) */
    loom_slice_t auth_initial; /* AUTH: initial response, empty if none */
} smtp_cmd_t;

/* Parse one command line LINE[0..LEN) without its CRLF.  Control
 * characters anywhere: 500 5.5.2 Error: bad syntax; with SMTPUTF8 offered,
 * a line that is not well-formed UTF-8: 500 5.5.2 Error: bad UTF-8
 * syntax (as Postfix).  Otherwise as the command table says.  Returns 0 and
 * fills OUT (slices into LINE) or returns -1 and fills ERR with the reply
 * to send.  An unknown verb returns -1 with 500 5.5.2 and OUT->verb =
 * SMTP_VERB_UNKNOWN (OUT is always initialised).  OPTS may be NULL
 * (no extensions, 512-octet lines, no size limit). */
int smtp_cmd_parse(const char *line, size_t len, const smtp_parse_opts_t *opts,
                   smtp_cmd_t *out, smtp_reply_t *err);

/* The longest command line (with CRLF) the session should buffer under
 * OPTS: max_line (default 512), plus 100 for MAIL and 500 for RCPT when
 * DSN is advertised (RFC 3461 4.1); this returns the largest of those. */
size_t smtp_cmd_line_limit(const smtp_parse_opts_t *opts);

/* Parse a path ("<...>" or, tolerated, bare) alone from S[0..LEN), e.g. a
 * configured address.  IS_RCPT selects the RCPT rules (postmaster, no
 * null path); ALLOW_UTF8 allows UTF-8.  Returns 0 and fills A, or -1 with
 * ERR set (501 5.1.7 / 501 5.1.3 / 553 5.6.7). */
int smtp_addr_parse(const char *s, size_t len, int is_rcpt, int allow_utf8,
                    smtp_addr_t *a, smtp_reply_t *err);

/* Write A's local part without quoting to OUT (capacity CAP, NUL added):
 * "\"a\\\"b\"" -> a"b.  Returns the length or -1 if CAP is too small. */
int smtp_addr_local_unquote(const smtp_addr_t *a, char *out, size_t cap);

/* Decode RFC 3461 xtext IN[0..LEN) ("+HH" escapes) into OUT (CAP bytes,
 * NUL added).  Returns the decoded length, or -1 on bad xtext or if CAP
 * is too small.  Never writes more than LEN + 1 bytes. */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t cap);

/* The verb's name ("EHLO"...; "UNKNOWN"), for logs. */
const char *smtp_verb_name(smtp_verb_t verb);

/* Fill R with CODE, ENH and TEXT (truncated to fit). */
void smtp_reply_set(smtp_reply_t *r, int code, const char *enh,
                    const char *text);

/* Write R as one reply line "CODE ENH TEXT\r\n" to OUT (capacity CAP,
 * NUL added; SMTP_REPLY_TEXT_MAX + 24 is always enough).  Returns the
 * length without the NUL, or -1 if CAP is too small. */
int smtp_reply_format(const smtp_reply_t *r, char *out, size_t cap);

/* The reply smtp_cmd_parse() gives for a line over the limit (500 5.5.2
 * Error: line too long), for a session that stops buffering a line at
 * smtp_cmd_line_limit() and skips to its end. */
void smtp_reply_line_too_long(smtp_reply_t *r);

/* The address A as a lookup key in OUT (capacity CAP, NUL added): the
 * local part unquoted (smtp_addr_local_unquote), case kept, then "@" and
 * the domain with ASCII letters lowered; "" for the null path and the
 * bare local part for RCPT TO:<postmaster>.  Returns the length, or -1 if
 * CAP is too small (SMTP_PATH_MAX + 1 is always enough). */
int smtp_addr_canon(const smtp_addr_t *a, char *out, size_t cap);

#endif

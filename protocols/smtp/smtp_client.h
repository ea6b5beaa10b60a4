/*
 * smtp_client.h - the SMTP client protocol, sans I/O (RFC 5321, with
 * ESMTP: EHLO capabilities, PIPELINING (RFC 2920), SIZE (RFC 1870),
 * 8BITMIME (RFC 6152), STARTTLS (RFC 3207), AUTH PLAIN (RFC 4954/4616),
 * DSN parameters (RFC 3461), SMTPUTF8 (RFC 6531), enhanced status codes
 * (RFC 2034/3463)).
 *
 * Three pieces:
 *   - smtp_reply_parse: one (possibly multi-line) reply from a server;
 *   - smtp_client_t: the client's state machine for one connection.  The
 *     caller feeds it the server's bytes and writes out what it queues;
 *     it says when to start TLS and when the message body is wanted, and
 *     leaves per-recipient results in the caller's recipient array;
 *   - smtp_stuff_t: dot-stuffing of the body, with line ends made CRLF.
 * Nothing here touches a socket, the reactor or a clock.
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"

/* ---- replies ------------------------------------------------------------- */

#define SMTP_REPLY_PARTIAL (-2) /* no complete reply in the buffer yet */
#define SMTP_REPLY_ERROR (-1)   /* the bytes cannot be an SMTP reply */

#define SMTP_REPLY_MAX_LINES 64    /* lines of one reply */
#define SMTP_REPLY_MAX_LINE 2048   /* bytes of one line, CRLF included */
#define SMTP_REPLY_MAX_BYTES 32768 /* bytes of one reply */

/* One reply.  Slices point into the parsed buffer. */
typedef struct {
    int code;      /* 200..599 (first digit 2-5, then 0-5, then 0-9) */
    char esc[16];  /* the enhanced status code of the first line
                    * ("5.1.1"), "" when the line has none */
    size_t nlines; /* 1..SMTP_REPLY_MAX_LINES */
    /* The text of each line after "NNN-" / "NNN " (empty for a bare
     * "NNN"), the enhanced code removed from the first line only. */
    loom_slice_t line[SMTP_REPLY_MAX_LINES];
} smtp_reply_t;

/* Parse one reply from BUF[0..LEN): lines "NNN-text" ending with a line
 * "NNN text" or "NNN", all with the same code, each ended by CRLF (a bare
 * LF is accepted as a line end too).  Returns the bytes of the reply with
 * R filled, SMTP_REPLY_PARTIAL when BUF holds only the start of a reply
 * within the limits above, or SMTP_REPLY_ERROR: a line that does not
 * start with three digits and SP, "-" or its end; codes that differ
 * between lines; a NUL or bare CR; a line, the line count or the reply
 * over its limit. */
int smtp_reply_parse(const char *buf, size_t len, smtp_reply_t *r);

/* ---- the client ---------------------------------------------------------- */

/* TLS policy of one connection. */
enum {
    SMTP_TLS_NONE = 0, /* never send STARTTLS */
    SMTP_TLS_MAY,      /* STARTTLS when the server offers it */
    SMTP_TLS_MUST      /* STARTTLS or fail (the caller verifies the peer) */
};

/* What became of one recipient. */
enum {
    SMTP_CLI_RCPT_PENDING = 0, /* not tried (yet) on this connection */
    SMTP_CLI_RCPT_ACCEPTED,    /* RCPT got 2xx, waiting for the data reply */
    SMTP_CLI_RCPT_DELIVERED,   /* the server took responsibility (2xx after
                                * the data) */
    SMTP_CLI_RCPT_TEMPFAIL,    /* 4xx: try again later */
    SMTP_CLI_RCPT_PERMFAIL     /* 5xx: bounce */
};

/* Where a session failed. */
enum {
    SMTP_STAGE_GREETING = 1,
    SMTP_STAGE_EHLO,
    SMTP_STAGE_STARTTLS,
    SMTP_STAGE_AUTH,
    SMTP_STAGE_MAIL,
    SMTP_STAGE_RCPT,
    SMTP_STAGE_DATA,    /* the reply to DATA */
    SMTP_STAGE_DOT,     /* the reply to the end of data */
    SMTP_STAGE_PROTOCOL /* a reply that breaks the protocol */
};

#define SMTP_CLIENT_TEXT 256 /* bytes kept of a reply's text, NUL incl. */

/* A reply as kept for a recipient or a failure: code, enhanced code and
 * the text (lines joined by "; ", cut to fit, NUL-terminated). */
typedef struct {
    int code; /* 0: no reply (a local decision or nothing yet) */
    char esc[16];
    char text[SMTP_CLIENT_TEXT];
} smtp_client_reply_t;

/* One recipient of a transaction: the caller fills the first three
 * fields (strings owned by the caller, valid until the transaction is
 * done), the client the rest. */
typedef struct {
    const char *addr;          /* mailbox without angle brackets */
    const char *notify;        /* NOTIFY value ("FAILURE,DELAY"), or NULL */
    const char *orcpt;         /* ORCPT value, already "type;xtext", or NULL */
    int status;                /* SMTP_RCPT_* */
    smtp_client_reply_t reply; /* what the server said about it */
} smtp_client_rcpt_t;

/* A transaction (one message).  Strings and the array belong to the
 * caller and must stay valid until the transaction is done. */
typedef struct {
    const char *sender; /* reverse path without brackets; "" for <> */
    uint64_t size;      /* message size in bytes (SIZE=), 0: unknown */
    int body_8bit;      /* the body is 8BITMIME */
    int smtputf8;       /* the envelope or headers need SMTPUTF8 */
    const char *ret;    /* DSN RET value ("FULL", "HDRS") or NULL */
    const char *envid;  /* DSN ENVID value (xtext) or NULL */
    smtp_client_rcpt_t *rcpt;
    size_t nrcpt;
} smtp_client_txn_t;

/* How to behave on one connection.  Strings belong to the caller and must
 * outlive the client. */
typedef struct {
    const char *helo; /* our host name for EHLO/HELO */
    int tls;          /* SMTP_TLS_* */
    int tls_active;   /* the connection is TLS already (implicit TLS) */
    /* AUTH PLAIN with these credentials, NULL: no AUTH.  Sent only over
     * TLS unless auth_plaintext is set. */
    const char *auth_user, *auth_pass;
    int auth_plaintext;
} smtp_client_opts_t;

/* What the server offered in its last EHLO reply. */
typedef struct {
    int esmtp; /* EHLO worked (else HELO) */
    int pipelining, starttls, eightbit, smtputf8, dsn, enhanced, chunking;
    int auth_plain, auth_login;
    int size_ext;  /* SIZE offered */
    uint64_t size; /* its limit, 0: none given */
} smtp_caps_t;

/* What smtp_client_feed asks of the caller. */
enum {
    SMTP_CLI_MORE = 0, /* feed more input (write out what is queued) */
    SMTP_CLI_STARTTLS, /* the server agreed to STARTTLS: drop any input
                        * after the bytes consumed, make the connection
                        * TLS, then call smtp_client_tls_ready */
    SMTP_CLI_BODY,     /* send the body (smtp_stuff_* into the output or
                        * the connection), then call smtp_client_body_end */
    SMTP_CLI_DONE,     /* the transaction is over: every recipient has its
                        * status; call smtp_client_start for the next one
                        * or smtp_client_quit */
    SMTP_CLI_FAIL      /* the session failed before the transaction could
                        * end (smtp_client_failure says why); recipients
                        * not decided (PENDING, ACCEPTED) were not
                        * delivered; QUIT is queued
                        * unless the protocol broke; close afterwards */
};

typedef struct smtp_client_s smtp_client_t;

/* A client for one new connection with OPTS (copied; its strings are
 * not), waiting for the greeting.  Free with smtp_client_free. */
smtp_client_t *smtp_client_new(const smtp_client_opts_t *opts);

/* Free CL (NULL is ignored); the transaction's memory stays the caller's. */
void smtp_client_free(smtp_client_t *cl);

/* Give CL the transaction TXN (its recipients' statuses are reset to
 * PENDING).  Before the greeting it waits for the session to be ready;
 * after SMTP_CLI_DONE it starts at once.  Returns LOOM_OK, or LOOM_ERROR
 * when a transaction is running or the session failed or quit, or TXN
 * has no recipient. */
int smtp_client_start(smtp_client_t *cl, smtp_client_txn_t *txn);

/* Feed the server's bytes BUF[0..LEN) (LEN may be 0: after
 * smtp_client_start, to collect an event it had at once).  Replies are
 * handled until one needs the caller or no complete reply is left; sets
 * *USED to the bytes consumed (whole replies only: keep the rest for the
 * next call, except after SMTP_CLI_STARTTLS, where it must be dropped)
 * and returns one of SMTP_CLI_*.  After FAIL, or DONE for the reply to
 * QUIT, every call returns the same without consuming anything. */
int smtp_client_feed(smtp_client_t *cl, const char *buf, size_t len,
                     size_t *used);

/* The bytes CL wants written (commands), valid until the next call on
 * CL; *LEN is set.  Call smtp_client_out_clear once they are handed to
 * the transport. */
const char *smtp_client_out(smtp_client_t *cl, size_t *len);
void smtp_client_out_clear(smtp_client_t *cl);

/* After SMTP_CLI_STARTTLS: the TLS handshake worked; CL sends EHLO
 * again and forgets what it learned before TLS. */
void smtp_client_tls_ready(smtp_client_t *cl);

/* After SMTP_CLI_BODY: the whole body has been sent (dot-stuffed, ending
 * in CRLF); CL queues the final ".". */
void smtp_client_body_end(smtp_client_t *cl);

/* Queue QUIT; what comes after is read as its reply (any reply ends the
 * session: smtp_client_feed returns DONE). */
void smtp_client_quit(smtp_client_t *cl);

/* The connection went away (EOF, error, timeout) before the session was
 * over: marks the session failed with TEXT (a local reason, no code) at
 * the current stage, if it was not already.  Returns 1 when that was a
 * failure (the transaction was not finished), 0 when the session had
 * ended already (after QUIT, or nothing was running). */
int smtp_client_lost(smtp_client_t *cl, const char *text);

/* Why the session failed: the stage, the reply (code 0 for a local
 * reason such as "TLS is required, but was not offered"), and whether
 * it is for good (5xx, or a local decision that a retry cannot change)
 * or temporary. */
typedef struct {
    int stage; /* SMTP_STAGE_* */
    int permanent;
    smtp_client_reply_t reply;
} smtp_client_failure_t;

/* The failure after SMTP_CLI_FAIL (NULL when the session has not failed). */
const smtp_client_failure_t *smtp_client_failure(const smtp_client_t *cl);

/* What the server offered (after the EHLO/HELO reply). */
const smtp_caps_t *smtp_client_caps(const smtp_client_t *cl);

/* 1 when the session is TLS (after smtp_client_tls_ready, or
 * tls_active). */
int smtp_client_is_tls(const smtp_client_t *cl);

/* ---- the body ------------------------------------------------------------ */

/* Dot-stuffing state: a line-start flag and a pending CR. */
typedef struct {
    int at_bol; /* the next byte starts a line */
    int cr;     /* the last byte was a CR not yet written */
} smtp_stuff_t;

/* Start stuffing a body. */
void smtp_stuff_init(smtp_stuff_t *st);

/* Stuff IN[0..LEN) into OUT (OUTCAP bytes, at least 4): a "." at the
 * start of a line is doubled, and a bare CR or bare LF becomes CRLF (so
 * the body can never carry a line end other than CRLF, nor end the data
 * early).  Returns the bytes written; *USED is set to the input bytes
 * consumed (all of them when OUTCAP is at least 2 * LEN + 4). */
size_t smtp_stuff(smtp_stuff_t *st, const char *in, size_t len, char *out,
                  size_t outcap, size_t *used);

/* End the body: writes into OUT (at least 3 bytes) what the body still
 * needs to end in CRLF (a pending CR's LF, or CRLF when the last line is
 * unterminated, or nothing) and returns its length.  The final ".CRLF"
 * is smtp_client_body_end's. */
size_t smtp_stuff_finish(smtp_stuff_t *st, char *out);

/* ---- helpers ------------------------------------------------------------- */

/* Append the base64 encoding of IN[0..LEN) to OUT (OUTCAP bytes, NUL
 * added); returns its length, or 0 when it does not fit. */
size_t smtp_base64(const unsigned char *in, size_t len, char *out,
                   size_t outcap);

/* 1 when BUF[0..LEN) has a byte over 0x7f. */
int smtp_has_8bit(const char *buf, size_t len);

#endif

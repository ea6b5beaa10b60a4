/*
 * smtp_dsn.h - delivery status notifications (RFC 3464 / RFC 3462 / RFC
 * 3461): the bounce or delay report the queue runner sends back to a
 * message's envelope sender.
 *
 * THIS IS THE AGREED INTERFACE (helper smtp-mime, issue 16): helper
 * smtp-out builds on it.  It only grows; nothing here changes meaning.
 *
 * The report is a multipart/report; report-type=delivery-status with three
 * parts: a human-readable text/plain explanation, the
 * message/delivery-status fields (per message: Reporting-MTA,
 * Original-Envelope-Id, Received-From-MTA, Arrival-Date; per recipient:
 * Original-Recipient, Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until), and the original
 * message (message/rfc822) or only its header (text/rfc822-headers).
 * It is From: MAILER-DAEMON@<reporting MTA> and must be queued with the
 * null reverse-path (MAIL FROM:<>) to the original envelope sender: the
 * composer refuses to bounce a message whose sender was the null path.
 *
 * Plain text composition (no GMime, no global state): any thread.  All
 * input pointers are borrowed for the call; the output is the caller's.
 */
#ifndef SMTP_DSN_H
#define SMTP_DSN_H

#include <stddef.h>
#include <time.h>

#include "loom.h"

/* The Action field (RFC 3464 section 2.3.3). */
typedef enum {
    SMTP_DSN_FAILED = 0, /* bounce: 5xx, or gave up retrying */
    SMTP_DSN_DELAYED,    /* 4xx, still retrying */
    SMTP_DSN_DELIVERED,  /* NOTIFY=SUCCESS, delivered locally */
    SMTP_DSN_RELAYED,    /* NOTIFY=SUCCESS, handed to a non-DSN MTA */
    SMTP_DSN_EXPANDED    /* NOTIFY=SUCCESS, an alias expanded */
} smtp_dsn_action_t;

/* RET (RFC 3461 section 4.3): what of the original message comes back. */
typedef enum {
    SMTP_DSN_RET_DEFAULT = 0, /* not given: the full message if it is at
                                 most full_max bytes, else the header */
    SMTP_DSN_RET_HDRS,        /* the header only */
    SMTP_DSN_RET_FULL         /* the full message (still only the header
                                 past full_max, said in the human part) */
} smtp_dsn_ret_t;

/* NOTIFY (RFC 3461 section 4.1) as bits, for smtp_dsn_wanted(). */
#define SMTP_DSN_NOTIFY_DEFAULT 0 /* no NOTIFY parameter */
#define SMTP_DSN_NOTIFY_NEVER 1
#define SMTP_DSN_NOTIFY_SUCCESS 2
#define SMTP_DSN_NOTIFY_FAILURE 4
#define SMTP_DSN_NOTIFY_DELAY 8

/* One recipient's line of the report.  Strings are plain (already
 * xtext-decoded: see smtp_dsn_xtext_decode), UTF-8 allowed only where the
 * original transaction used SMTPUTF8; CR, LF and control characters in
 * them are replaced by spaces. */
typedef struct {
    /* The recipient as finally tried, an addr-spec ("bob@example.net").
     * Required.  Written "Final-Recipient: rfc822; bob@example.net". */
    const char *final_recipient;
    /* The ORCPT value, decoded: "rfc822;Bob@Example.NET" (type ; address)
     * or NULL when RCPT had no ORCPT.  Written as Original-Recipient. */
    const char *orcpt;
    smtp_dsn_action_t action;
    /* RFC 3463 status code "5.1.1" / "4.4.1" (three numbers).  Required. */
    const char *status;
    /* The remote reply, "550 5.1.1 <bob@example.net>: user unknown" (a
     * multi-line reply with its lines joined by spaces), or our own text
     * for failures without a reply ("connect to mx.example.net: refused").
     * Written "Diagnostic-Code: smtp; ..." (folded under 998 octets,
     * bounded to 2,000 bytes).  NULL: omitted. */
    const char *diagnostic;
    /* The host that gave the reply ("mx.example.net"), NULL: omitted.
     * Written "Remote-MTA: dns; mx.example.net". */
    const char *remote_mta;
    /* Last attempt time (0: omitted); for SMTP_DSN_DELAYED, until when the
     * queue will keep trying (0: omitted). */
    time_t last_attempt;
    time_t will_retry_until;
} smtp_dsn_rcpt_t;

typedef struct {
    /* Our hostname: Reporting-MTA, the From: MAILER-DAEMON@ domain and the
     * Message-ID's right side.  Required. */
    const char *reporting_mta;
    /* The original envelope sender, an addr-spec: the report's To: and its
     * only envelope recipient.  "" or NULL (the null path): refused. */
    const char *sender;
    /* The ENVID, decoded; NULL: omitted. */
    const char *envid;
    /* Who gave us the message (the client's EHLO name or address), NULL:
     * omitted.  Written "Received-From-MTA: dns; NAME". */
    const char *received_from;
    time_t arrival; /* Arrival-Date (required, > 0) */
    time_t now;     /* the report's Date */
    smtp_dsn_ret_t ret;
    /* The full-message bound for RET (0: 50,000 bytes, as Postfix's
     * bounce_size_limit). */
    size_t full_max;
    /* The original message as queued (header, empty line, body; CRLF line
     * ends), MSG_LEN bytes.  May be NULL/0 (nothing is returned then). */
    const char *msg;
    size_t msg_len;
    /* The recipients to report on (all the same kind of report: failed
     * ones in a bounce, delayed ones in a delay notice; mixed is allowed,
     * the subject then says failure if any failed).  At least one. */
    const smtp_dsn_rcpt_t *rcpts;
    size_t nrcpts;
} smtp_dsn_in_t;

typedef struct {
    /* The report: every line CRLF-terminated and at most 998 octets. */
    char *data;
    size_t len;
    /* 1 when DATA holds 8-bit bytes (the returned message had them): queue
     * it with BODY=8BITMIME. */
    int eightbit;
    /* The envelope: MAIL FROM:<> (always) and RCPT TO this (a copy of the
     * sender). */
    char *rcpt;
    /* The Message-ID written, without angle brackets. */
    char *message_id;
} smtp_dsn_out_t;

/* Compose the report IN describes into *OUT (free with smtp_dsn_free).
 * Returns LOOM_OK, or LOOM_ERROR with a one-line reason in ERR (ERRLEN
 * bytes; *OUT zeroed): the null sender (never bounce a bounce), no
 * recipients, a missing required field, a status that is not x.y.z. */
int smtp_dsn_compose(const smtp_dsn_in_t *in, smtp_dsn_out_t *out, char *err,
                     size_t errlen);

/* Free what OUT holds (not OUT itself) and zero it.  NULL-safe. */
void smtp_dsn_free(smtp_dsn_out_t *out);

/* Whether a report of kind ACTION is due to a recipient whose RCPT said
 * NOTIFY (SMTP_DSN_NOTIFY_* bits): NEVER: none; no NOTIFY: failures and
 * delays (RFC 3461 section 4.1 leaves delays to the MTA; we send them);
 * else only the kinds listed.  The caller still never reports to the null
 * sender.  Returns 1 or 0. */
int smtp_dsn_wanted(int notify, smtp_dsn_action_t action);

/* Decode xtext (RFC 3461 section 4: "+XX" hex escapes) from IN (LEN
 * bytes) into a heap string.  Returns NULL when IN is not valid xtext (a
 * bad escape, a character outside 33..126, '=' ). */
char *smtp_dsn_xtext_decode(const char *in, size_t len);

#endif

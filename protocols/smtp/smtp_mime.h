/*
 * smtp_mime.h - what the SMTP module reads out of a received message (the
 * bus fields of `smtp:I:mail`) and the messages the `smtp:I:send` action
 * composes.  Built on GMime 3 (libgmime-3.0-dev).
 *
 * THIS IS THE AGREED INTERFACE (helper smtp-mime, issue 16): helpers smtp
 * and smtp-out build on it.  It only grows; nothing here changes meaning.
 *
 * Threads.  smtp_mime_init() runs once, on the reactor thread, before any
 * other smtp_mime_* / smtp_dsn_* call (the module's start hook).  After
 * that, smtp_mime_summarize() and smtp_mime_compose() may run on any
 * thread, worker-pool threads included, concurrently: each call builds and
 * frees its own GMime objects and shares none (GMime's own shared state --
 * the charset and iconv caches, the type registry -- is set up by the init
 * and locked inside GMime).  They use no loom_* call but the allocation
 * helpers, so they follow the worker-pool rules of loom_work.h.
 * smtp_dsn.h needs no GMime (it is plain text) but the same init is
 * harmless to rely on.
 *
 * Memory: every char * in the structures below that the library fills is
 * a heap string (NUL-terminated, freed by the matching *_free); the input
 * pointers are borrowed for the call only.
 */
#ifndef SMTP_MIME_H
#define SMTP_MIME_H

#include <stddef.h>
#include <sys/uio.h>
#include <time.h>

#include "loom.h"

/* ---- init -------------------------------------------------------------- */

/* Initialise GMime once per process (later calls do nothing).  GMime is
 * not shut down at exit: its globals stay reachable (LeakSanitizer does
 * not report them) and a worker could still be inside GMime when exit()
 * runs.  Reactor thread only.  Returns LOOM_OK. */
int smtp_mime_init(void);

/* ---- the summary of a received message (bus fields) -------------------- */

/* The text field is at most this many bytes (whole UTF-8 sequences only). */
#define SMTP_MIME_TEXT_MAX (64 * 1024)
/* Only the first this many bytes of a message are given to GMime: the
 * header and the first text part are found in them in any ordinary
 * message, and GMime's memory and time grow with the number of parts
 * (measured: a 10 MB message of nested empty multiparts took 440 MB and
 * 5 s), so a 64 MiB message must not reach it whole.  `size` is still the
 * whole message's. */
#define SMTP_MIME_PARSE_MAX (512 * 1024)
/* from, to, subject, message_id and date are at most this many bytes. */
#define SMTP_MIME_FIELD_MAX (16 * 1024)

typedef struct {
    /* From: and To: headers as a reader sees them: RFC 2047 words decoded,
     * UTF-8, addresses as "Name <a@b>" or "a@b", several joined by ", ".
     * "" when the header is absent.  (The envelope sender and recipients
     * are the session's to add as fields of their own.) */
    char *from;
    char *to;
    /* Subject: RFC 2047 decoded to UTF-8, unfolded; "" when absent. */
    char *subject;
    /* Message-ID: without the angle brackets; "" when absent. */
    char *message_id;
    /* Date: as RFC 3339 in the sender's own offset
     * ("2026-12-07T15:04:05+01:00") when it parses, else the header's text
     * (unfolded, decoded); "" when absent. */
    char *date;
    /* The size of the message as given (bytes, all iovecs together). */
    size_t size;
    /* The first text/plain part not marked as an attachment (a message
     * with no Content-Type is text/plain, RFC 2045), its transfer encoding
     * (quoted-printable, base64) undone and its charset converted to UTF-8
     * (unknown charsets: UTF-8 if it is valid, else windows-1252); invalid
     * UTF-8 becomes U+FFFD, NULs are dropped, CRLF becomes LF.  At most
     * SMTP_MIME_TEXT_MAX bytes, cut before a UTF-8 sequence never inside
     * one.  "" when there is no such part.  Parts inside an attached
     * message/rfc822 are not looked at, nor parts that start past the
     * first SMTP_MIME_PARSE_MAX bytes. */
    char *text;
    size_t text_len;
    /* 1: the part had more than text_len bytes (or went on past the first
     * SMTP_MIME_PARSE_MAX bytes of the message). */
    int text_truncated;
} smtp_mime_summary_t;

/* Summarise the message held in IOV[0..IOVCNT) (the RFC 5322 message as
 * received: header, empty line, body; CRLF or LF line ends; the data is
 * read, never kept or written; only the first SMTP_MIME_PARSE_MAX bytes
 * are parsed).  Fills *OUT (free with smtp_mime_summary_free).  Any bytes
 * give a summary: GMime is lenient, and bytes it cannot read as a message
 * at all (no header) give empty header fields and the bytes as text.
 * Returns LOOM_OK (LOOM_ERROR is reserved: callers should still check it
 * and then find *OUT zeroed).  Any thread, after smtp_mime_init(). */
int smtp_mime_summarize_iov(const struct iovec *iov, int iovcnt,
                            smtp_mime_summary_t *out);

/* smtp_mime_summarize_iov for one contiguous buffer MSG of LEN bytes. */
int smtp_mime_summarize(const char *msg, size_t len, smtp_mime_summary_t *out);

/* Free what a summary holds (not S itself) and zero it.  NULL-safe. */
void smtp_mime_summary_free(smtp_mime_summary_t *s);

/* Append the summary to bus message M as the issue names the fields, in
 * this order: from, to, subject, message_id, date, size (decimal), text
 * (values copied; S stays the caller's).  M must not be published yet.
 * Reactor thread (the bus is not for workers). */
typedef struct loom_msg_s loom_msg_t;
void smtp_mime_summary_fields(const smtp_mime_summary_t *s, loom_msg_t *m);

/* ---- composing a message (the send action) ----------------------------- */

typedef struct {
    /* From: one address, "a@b" or "Name <a@b>"; the name may be UTF-8 (it
     * is RFC 2047 encoded).  Required. */
    const char *from;
    /* To: one or more addresses separated by commas, same forms.
     * Required (at least one address). */
    const char *to;
    /* Subject, UTF-8; NULL or "" for none.  CR, LF and other control
     * characters become spaces (a template cannot inject a header). */
    const char *subject;
    /* Body, UTF-8 text of BODY_LEN bytes (NULL/0: empty); LF or CRLF line
     * ends (both become CRLF). */
    const char *body;
    size_t body_len;
    /* Our hostname: the right side of the Message-ID.  Required. */
    const char *hostname;
    /* Date: of the message (seconds since the epoch; written in UTC). */
    time_t now;
} smtp_compose_in_t;

typedef struct {
    /* The message: header and body, every line CRLF-terminated and at
     * most 998 octets before it; 7-bit only (8-bit content is RFC 2047 /
     * quoted-printable encoded).  Date, Message-ID, MIME-Version 1.0,
     * Content-Type text/plain; charset=utf-8 and Content-Transfer-Encoding
     * are always present. */
    char *data;
    size_t len;
    /* The envelope: the From: address's addr-spec and the To: addr-specs
     * (nrcpt of them, in order, duplicates kept), for the queue. */
    char *sender;
    char **rcpts;
    size_t nrcpts;
    /* The Message-ID written, without angle brackets. */
    char *message_id;
} smtp_compose_out_t;

/* Compose the message IN describes into *OUT (free with
 * smtp_mime_compose_free).  Returns LOOM_OK, or LOOM_ERROR with a
 * one-line reason in ERR (ERRLEN bytes, NUL-terminated; *OUT zeroed):
 * missing or unparsable from/to, a From: of other than one address, a
 * hostname that is empty or holds characters a Message-ID cannot, body or
 * subject not valid UTF-8.  Any thread, after smtp_mime_init(). */
int smtp_mime_compose(const smtp_compose_in_t *in, smtp_compose_out_t *out,
                      char *err, size_t errlen);

/* Free what OUT holds (not OUT itself) and zero it.  NULL-safe. */
void smtp_mime_compose_free(smtp_compose_out_t *out);

/* ---- small helpers shared with smtp_dsn.c ------------------------------ */

/* Write T as an RFC 5322 date in UTC ("Mon, 07 Dec 2026 14:23:53 +0000")
 * into BUF (at least 32 bytes).  Returns BUF. */
char *smtp_mime_rfc5322_date(time_t t, char *buf, size_t size);

#endif

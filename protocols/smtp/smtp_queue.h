/*
 * smtp_queue.h - the relay queue: one file per message, its reader, the
 * per-recipient status records, the start-up scan and the retry schedule.
 *
 * THIS IS THE AGREED INTERFACE between helpers smtp-store (owner), smtp
 * and smtp-out (issue 16).  It only grows: nothing here changes meaning.
 *
 * Layout of a queue directory QDIR:
 *   QDIR/<id>          a committed message (written in full, fsync'd,
 *                      renamed into place, QDIR fsync'd: it exists whole
 *                      or not at all);
 *   QDIR/tmp/          temporary files being written (removed by the scan
 *                      at start: none of them ever got a 250);
 *   QDIR/corrupt/      files the scan found damaged, moved aside (never
 *                      deleted: an admin looks at them).
 * Queue ids are [0-9A-Za-z.] only, never start with '.', at most
 * SMTP_QUEUE_ID_MAX - 1 bytes.
 *
 * A queue file (all integers little-endian):
 *   "LOOMQ" 0x01 "\r\n"   magic with the format version (8 bytes)
 *   u32 envelope length E, u64 body length B
 *   E bytes of envelope records: u8 type, u32 length, value
 *   B bytes of body (the message as received, Received: header included,
 *   CRLF line ends, no dot-stuffing)
 *   u32 CRC-32C of everything before it
 *   then zero or more status records appended later, each:
 *   'S', u32 recipient index, u8 status, u32 attempts, i64 time,
 *   u16 error length, error bytes, u32 CRC-32C of the record before it.
 * A file whose main part is short or fails its CRC is torn
 * (SMTP_QUEUE_TORN): the reader never returns its body.  Status records
 * are applied in order; the first short or bad one ends them (a crash
 * during an append loses at most that update: the recipient is tried
 * again, delivery is at least once, never lost).  Why appended records
 * and not a rewrite: one small write + one fdatasync per attempt, and a
 * 35 MiB body is never copied again.
 *
 * Blocking functions (marked [blocking]) run on a worker thread or at
 * start-up, never on the reactor while it serves.  They call no loom_*
 * except the allocation helpers.
 */
#ifndef SMTP_QUEUE_H
#define SMTP_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SMTP_QUEUE_ID_MAX 64
#define SMTP_QUEUE_MAGIC "LOOMQ\001\r\n"
#define SMTP_QUEUE_MAGIC_LEN 8
#define SMTP_QUEUE_MAX_ERROR 1024 /* last_error is cut to this many bytes */

/* Reader and I/O results. */
#define SMTP_QUEUE_OK 0
#define SMTP_QUEUE_ERROR (-1) /* I/O error (errno text in err) */
#define SMTP_QUEUE_TORN (-2)  /* short, bad magic/version or bad CRC */
#define SMTP_QUEUE_BAD (-3)   /* CRC good but the envelope is malformed */

/* A recipient's state. */
typedef enum {
    SMTP_RCPT_PENDING = 0,   /* not tried yet */
    SMTP_RCPT_DELIVERED = 1, /* final: accepted by the next hop */
    SMTP_RCPT_FAILED = 2,    /* final: 5xx or given up (bounced) */
    SMTP_RCPT_DEFERRED = 3   /* tried, 4xx, will be tried again */
} smtp_rcpt_status_t;

/* RFC 3461 NOTIFY, a bit set; 0 means the parameter was not given (the
 * DSN default then is FAILURE,DELAY). */
#define SMTP_NOTIFY_NEVER 0x01u
#define SMTP_NOTIFY_SUCCESS 0x02u
#define SMTP_NOTIFY_FAILURE 0x04u
#define SMTP_NOTIFY_DELAY 0x08u

/* RFC 3461 RET; RFC 6152 / 3030 BODY. */
typedef enum {
    SMTP_RET_UNSET = 0,
    SMTP_RET_FULL = 1,
    SMTP_RET_HDRS = 2
} smtp_ret_t;
typedef enum {
    SMTP_BODY_UNSET = 0,
    SMTP_BODY_7BIT = 1,
    SMTP_BODY_8BITMIME = 2,
    SMTP_BODY_BINARYMIME = 3
} smtp_body_t;

/* One recipient.  Strings are NUL-terminated and owned by the message
 * (smtp_qmsg_free frees them); NULL when absent. */
typedef struct {
    char *addr;      /* forward-path without <>, as received (UTF-8 allowed) */
    char *orcpt;     /* ORCPT value as received ("rfc822;a@b", xtext), NULL */
    unsigned notify; /* SMTP_NOTIFY_* bits, 0: not given */
    smtp_rcpt_status_t status; /* from the last status record */
    uint32_t attempts;         /* delivery attempts made so far */
    int64_t last_attempt;      /* Unix seconds, 0: never tried */
    char *last_error;          /* last reply or reason, NULL: none */
} smtp_qrcpt_t;

/* One queued message.  Fill it with plain assignments (strings are only
 * read by the writer: it does not take them); the reader allocates every
 * string and the body (smtp_qmsg_free). */
typedef struct {
    char id[SMTP_QUEUE_ID_MAX]; /* file name in QDIR ("" before written) */
    char *sender; /* reverse-path without <>; "" is the null sender */
    char *envid;  /* ENVID as received (xtext), NULL: none */
    smtp_ret_t ret;
    smtp_body_t body_type;
    int smtputf8;    /* 1: SMTPUTF8 was given */
    int64_t arrival; /* Unix seconds when the 250 was given */
    char *auth_user; /* authenticated submitter, NULL: none */
    char *client;    /* "helo-name [addr]" of the sender's client, NULL */
    size_t nrcpt;
    smtp_qrcpt_t *rcpt;
    /* Reader only: the body, CRLF line ends (an owned copy), and the size
     * of the file's good part (where the next status record goes). */
    char *body;
    size_t body_len;
    uint64_t good_len;
} smtp_qmsg_t;

/* Free everything the reader allocated in M (strings, rcpt array, body)
 * and zero M.  Do not call it on a message filled by hand with borrowed
 * strings. */
void smtp_qmsg_free(smtp_qmsg_t *m);

/* A fresh queue id in OUT (SMTP_QUEUE_ID_MAX bytes): time, microseconds,
 * pid and a process-wide counter, unique across threads.  Thread-safe. */
void smtp_queue_new_id(char *out);

/* Serialize M's header and envelope (everything before the body) for a
 * body of BODY_LEN bytes.  Returns a malloc'd buffer (*LEN bytes) the
 * caller frees.  Pure: no I/O; the CRC is computed by the writer over
 * this and the body. */
uint8_t *smtp_queue_encode_head(const smtp_qmsg_t *m, uint64_t body_len,
                                size_t *len);

/* CRC-32C (Castagnoli) of N bytes at P continuing from CRC (start: 0).
 * Thread-safe. */
uint32_t smtp_crc32c(uint32_t crc, const void *p, size_t n);

/* Parse a whole queue file (LEN bytes at BUF) into *OUT (zeroed first;
 * id left ""): header, envelope, body (copied), status records.  Returns
 * SMTP_QUEUE_OK, SMTP_QUEUE_TORN or SMTP_QUEUE_BAD with a reason in ERR.
 * On failure *OUT holds nothing to free.  Pure (the fuzz target). */
int smtp_queue_parse(const uint8_t *buf, size_t len, smtp_qmsg_t *out,
                     char *err, size_t errlen);

/* Whether M can be written as a file the reader accepts: at least one
 * recipient, none empty.  Returns SMTP_QUEUE_OK, or SMTP_QUEUE_BAD with
 * the reason in ERR.  (Out-of-range RET, BODY or NOTIFY values are not an
 * error: the encoder leaves them out, NOTIFY=NEVER wins over the rest.)
 * Pure. */
int smtp_queue_check(const smtp_qmsg_t *m, char *err, size_t errlen);

/* [blocking] Write M with the body given as IOV/IOVCNT into QDIR durably:
 * QDIR/tmp/<id> written, fsync'd, renamed to QDIR/<id>, QDIR fsync'd.
 * Creates QDIR and QDIR/tmp if missing.  Sets M->id (a new id if it was
 * "").  Returns SMTP_QUEUE_OK or SMTP_QUEUE_ERROR (nothing left behind;
 * also when smtp_queue_check refuses M).
 * (The group commit in smtp_store.h does the same in batches.) */
int smtp_queue_write(const char *qdir, smtp_qmsg_t *m, const struct iovec *iov,
                     int iovcnt, char *err, size_t errlen);

/* [blocking] Read QDIR/ID into *OUT (id set).  Returns as
 * smtp_queue_parse, or SMTP_QUEUE_ERROR when it cannot be read. */
int smtp_queue_load(const char *qdir, const char *id, smtp_qmsg_t *out,
                    char *err, size_t errlen);

/* One status update: recipient RCPT (index into the message's rcpt
 * array) now has STATUS after ATTEMPTS attempts, the last at time WHEN,
 * with ERROR (NULL: none; cut to SMTP_QUEUE_MAX_ERROR). */
typedef struct {
    uint32_t rcpt;
    smtp_rcpt_status_t status;
    uint32_t attempts;
    int64_t when;
    const char *error;
} smtp_qupdate_t;

/* [blocking] Append N status records to QDIR/ID durably (one write at
 * M->good_len, truncating any torn tail there first, then fdatasync) and
 * apply them to M (status, attempts, last_attempt, last_error,
 * good_len).  M must have been read by smtp_queue_load (good_len).
 * Returns SMTP_QUEUE_OK or SMTP_QUEUE_ERROR (M unchanged then). */
int smtp_queue_update(const char *qdir, smtp_qmsg_t *m, const smtp_qupdate_t *u,
                      size_t n, char *err, size_t errlen);

/* [blocking] Remove QDIR/ID (every recipient is final).  Returns
 * SMTP_QUEUE_OK (also when it is already gone) or SMTP_QUEUE_ERROR. */
int smtp_queue_remove(const char *qdir, const char *id, char *err,
                      size_t errlen);

/* Called by the scan for every queue file: ID, and the message (owned by
 * the callee, who frees it with smtp_qmsg_free, or keeps it) or NULL
 * when the file was damaged (then ERR says why and it has been moved to
 * QDIR/corrupt/) or could not be read (ERR says why; left in place).
 * Files are loaded one at a time: a callee that keeps only the envelope
 * (free(m->body), m->body = NULL, and smtp_queue_load again before a
 * delivery) keeps the scan's memory to one message. */
typedef void (*smtp_queue_scan_cb)(void *arg, const char *id, smtp_qmsg_t *m,
                                   const char *err);

/* [blocking] Start-up scan of QDIR: create QDIR, QDIR/tmp if missing,
 * delete what QDIR/tmp holds, then load every queue file (in id order,
 * which is arrival order) and call CB for each.  Returns the number of
 * files reported, or -1 with ERR when QDIR cannot be read. */
long smtp_queue_scan(const char *qdir, smtp_queue_scan_cb cb, void *arg,
                     char *err, size_t errlen);

/* ---- the retry schedule ------------------------------------------------ */

typedef struct {
    uint32_t initial; /* seconds before the 2nd attempt (default 300) */
    uint32_t max;     /* the delay doubles up to this (default 14400) */
    uint32_t give_up; /* a message older than this bounces (default
                         432000 = 5 days) */
} smtp_retry_conf_t;

#define SMTP_RETRY_DEFAULT_INITIAL 300u
#define SMTP_RETRY_DEFAULT_MAX 14400u
#define SMTP_RETRY_DEFAULT_GIVE_UP 432000u

/* Fill C with the defaults above. */
void smtp_retry_defaults(smtp_retry_conf_t *c);

/* When to try next a recipient of a message that arrived at ARRIVAL,
 * after ATTEMPTS failed attempts, the last at LAST (Unix seconds).
 * ATTEMPTS 0: ARRIVAL (try at once).  Else LAST + min(initial *
 * 2^(attempts-1), max), but never later than ARRIVAL + give_up (one last
 * try at the deadline).  Returns -1 when it is time to give up: LAST is
 * at or past ARRIVAL + give_up (bounce with the last error). */
int64_t smtp_retry_next(const smtp_retry_conf_t *c, int64_t arrival,
                        uint32_t attempts, int64_t last);

#endif

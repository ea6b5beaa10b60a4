/*
 * smtp_data.h - the DATA decoder and the BDAT chunk counter, sans I/O.
 *
 * THIS IS THE AGREED INTERFACE (issue 16, SMTP_PLAN.md "smtp-parse"):
 * helpers build on it; it only grows (new fields, functions, flags).
 *
 * DATA: feed the bytes that follow the 354 reply as they arrive, split
 * anywhere; the decoder removes dot-stuffing, keeps CRLF line ends, and
 * stops right after the terminating CRLF "." CRLF.  The only end is
 * CRLF "." CRLF, where the first CRLF may also be the (virtual) one before
 * the first line, so ".\r\n" at once is an empty message.  A bare LF or
 * bare CR anywhere (also around a dot: "\n.\n", "\r.\r\n", "\r\n.\n" ...)
 * marks the message refused and never ends it; NUL is ordinary data.
 * Results do not depend on how the input was split.
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_parse.h"

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF. */
#define SMTP_TEXT_LINE_MAX 1000

/* Why a message is refused (smtp_data_t.flags, any combination).  Once
 * any flag is set no more message bytes are output; the decoder still
 * consumes input up to the real end. */
enum {
    SMTP_DATA_BARE_LF = 1u << 0,   /* LF without CR before it */
    SMTP_DATA_BARE_CR = 1u << 1,   /* CR without LF after it */
    SMTP_DATA_LONG_LINE = 1u << 2, /* a line over max_line with CRLF */
    SMTP_DATA_TOO_BIG = 1u << 3    /* more than max_size octets */
};

/* Receives a run of decoded message bytes P[0..N) (N > 0).  P points into
 * the fed input or at a static constant; valid only during the call. */
typedef void (*smtp_data_sink_fn)(void *ctx, const char *p, size_t n);

/* The decoder.  Plain data, no allocation; fields below "read-only" may
 * be read by the caller, the rest is private. */
typedef struct {
    /* settings (smtp_data_init) */
    size_t max_line;   /* octets per line with CRLF (unstuffed) */
    uint64_t max_size; /* message octets (unstuffed, CRLFs counted); 0 = none */
    /* read-only results */
    unsigned flags;    /* SMTP_DATA_* */
    int done;          /* the terminating CRLF "." CRLF was consumed */
    uint64_t size;     /* decoded message octets so far (counted also past
                          max_size, but not output) */
    uint64_t consumed; /* input octets consumed so far, terminator included */
    /* private */
    int state;
    size_t line_len;
} smtp_data_t;

/* Start a message: MAX_LINE octets per line with CRLF (0 = 1000),
 * MAX_SIZE octets at most (0 = no limit). */
void smtp_data_init(smtp_data_t *d, size_t max_line, uint64_t max_size);

/* Decode IN[0..LEN), handing message bytes to SINK(CTX, ...) (SINK may be
 * NULL to discard).  Returns the number of input bytes consumed: LEN, or
 * fewer when the end was reached (d->done set; IN[ret..LEN) is the next
 * pipelined command).  After done it consumes nothing and returns 0. */
size_t smtp_data_feed(smtp_data_t *d, const char *in, size_t len,
                      smtp_data_sink_fn sink, void *ctx);

/* The same, copying message bytes to OUT (room for LEN + 1 bytes is always
 * enough: one CR may be held back from an earlier call) and storing how
 * many in *OUT_LEN. */
size_t smtp_data_feed_buf(smtp_data_t *d, const char *in, size_t len, char *out,
                          size_t *out_len);

/* After done: 0 if the message may be accepted (flags == 0), else -1 with
 * R set to the refusal reply (first applicable, in this order):
 *   bare LF    550 5.5.2 Error: bare <LF> received
 *   bare CR    550 5.5.2 Error: bare <CR> received
 *   too big    552 5.3.4 Message size exceeds fixed limit
 *   long line  554 5.6.0 Message refused: text line too long */
int smtp_data_result(const smtp_data_t *d, smtp_reply_t *r);

/*
 * BDAT (RFC 3030): the octets after a BDAT command are the chunk, exactly
 * its size, taken as they are (no unstuffing, no line rules).  One
 * smtp_bdat_t lives for a transaction; smtp_bdat_chunk() arms it for each
 * parsed BDAT command.
 */
typedef struct {
    uint64_t max_size;  /* 0 = no limit */
    uint64_t total;     /* octets of all chunks so far (also past limit) */
    uint64_t remaining; /* octets of the current chunk still to come */
    int last;           /* the current chunk is the LAST one */
    int too_big;        /* total went past max_size: refuse (552 5.3.4)
                           when the chunk ends, output stops */
} smtp_bdat_t;

/* Start a transaction's BDAT message of at most MAX_SIZE octets (0 = no
 * limit). */
void smtp_bdat_init(smtp_bdat_t *b, uint64_t max_size);

/* Arm B for a chunk of SIZE octets (LAST if it is the last); SIZE may be
 * 0.  Sets too_big at once if the total would pass max_size.  A chunk of
 * 0 octets is complete at once (b->remaining == 0): answer it without
 * waiting for more input ("BDAT 0 LAST" may be the last bytes read). */
void smtp_bdat_chunk(smtp_bdat_t *b, uint64_t size, int last);

/* Take at most b->remaining octets from IN[0..LEN), handing them to SINK
 * (NULL discards; nothing is handed once too_big).  Returns the number
 * consumed; the chunk is complete when b->remaining is 0, and the rest of
 * IN is the next command. */
size_t smtp_bdat_feed(smtp_bdat_t *b, const char *in, size_t len,
                      smtp_data_sink_fn sink, void *ctx);

#endif

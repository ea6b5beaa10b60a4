/*
 * lines.h - LineReceiver done right: LF or CRLF delimited lines handed out
 * as zero-copy slices of the caller's buffer, with a maximum length and a
 * switch to counted raw bytes and back.
 *
 * The caller owns the bytes; the helper owns only a little state.  Feed it
 * the unconsumed input each time (the core's data callback contract does
 * exactly that): it remembers how far it has already searched, so every
 * byte is scanned for a delimiter once, however the input is split.
 */
#ifndef LOOM_LINES_H
#define LOOM_LINES_H

#include <stddef.h>

#include "loom.h"

typedef struct {
    size_t max_line; /* longest line without delimiter; 0 = no limit */
    size_t scanned;  /* bytes at the start of the input already searched */
    size_t raw_left; /* raw mode: bytes still to hand out raw */
} loom_lines_t;

typedef enum {
    LOOM_LINES_MORE = 0, /* need more input; nothing consumed */
    LOOM_LINES_LINE,     /* *out is a line without its LF / CRLF */
    LOOM_LINES_RAW,      /* *out is a chunk of raw bytes */
    LOOM_LINES_TOO_LONG  /* max_line bytes buffered and no delimiter */
} loom_lines_result_t;

/* Start in line mode with MAX_LINE as the limit (0 = unlimited). */
void loom_lines_init(loom_lines_t *lr, size_t max_line);

/* Take the next item from BUF[0..LEN), the unconsumed input.  On LINE and
 * RAW, *OUT points into BUF and *USED is the number of bytes consumed
 * (delimiter included); the caller passes BUF + *USED next time.  On MORE
 * and TOO_LONG, *USED is 0.  A line is TOO_LONG once more than
 * max_line + 1 bytes (room for CR LF) are buffered without a delimiter,
 * or when a complete line exceeds max_line. */
loom_lines_result_t loom_lines_next(loom_lines_t *lr, const char *buf,
                                    size_t len, loom_slice_t *out,
                                    size_t *used);

/* Switch to raw mode for the next N bytes (delivered as they arrive, in
 * one or more RAW chunks); line mode resumes after them. */
void loom_lines_raw(loom_lines_t *lr, size_t n);

/* Leave raw mode at once (for example on error). */
void loom_lines_line_mode(loom_lines_t *lr);

#endif

/*
 * smtp_data.c - the DATA decoder and the BDAT chunk counter, sans I/O.
 *
 * The decoder is a five-state machine over the input.  "Beginning of a
 * line" is only ever reached through CR LF (or at the start), so a bare LF
 * or CR can never make a following "." look like the start of a line: this
 * is what keeps "\n.\n", "\r.\r\n", "\r\n.\n" and friends from ending the
 * message.  Ordinary bytes are passed on in runs pointing into the input;
 * only the CR (and CRLF) whose meaning depends on the next byte comes from
 * a constant, so the decoder never needs a buffer of its own.
 */
#include <string.h>

#include "smtp_data.h"

enum {
    ST_BOL = 0, /* after CR LF (or at the start) */
    ST_TEXT,    /* inside a line */
    ST_CR,      /* a CR seen (held back), LF expected */
    ST_DOT,     /* a "." at the beginning of a line (dropped either way) */
    ST_DOTCR,   /* "." CR at the beginning of a line, LF would end it */
    ST_DONE     /* CR LF "." CR LF consumed */
};

void smtp_data_init(smtp_data_t *d, size_t max_line, uint64_t max_size)
{
    memset(d, 0, sizeof(*d));
    d->max_line = max_line ? max_line : SMTP_TEXT_LINE_MAX;
    d->max_size = max_size;
    d->state = ST_BOL;
}

/* Account for N message octets and pass them on while nothing is wrong. */
static void emit(smtp_data_t *d, const char *p, size_t n,
                 smtp_data_sink_fn sink, void *ctx)
{
    d->size += n;
    if (d->max_size != 0 && d->size > d->max_size)
        d->flags |= SMTP_DATA_TOO_BIG;
    if (d->flags == 0 && sink != NULL)
        sink(ctx, p, n);
}

/* N octets of line content (everything but a line-ending CR LF). */
static void text(smtp_data_t *d, const char *p, size_t n,
                 smtp_data_sink_fn sink, void *ctx)
{
    d->line_len += n;
    if (d->line_len + 2 > d->max_line)
        d->flags |= SMTP_DATA_LONG_LINE;
    emit(d, p, n, sink, ctx);
}

size_t smtp_data_feed(smtp_data_t *d, const char *in, size_t len,
                      smtp_data_sink_fn sink, void *ctx)
{
    size_t i = 0;

    while (i < len && d->state != ST_DONE) {
        char c = in[i];

        switch (d->state) {
        case ST_BOL:
            if (c == '.') {
                d->state = ST_DOT;
                i++;
            } else {
                d->state = ST_TEXT;
            }
            break;
        case ST_DOT:
            /* Not the end: RFC 5321 4.5.2 drops the leading dot. */
            if (c == '\r') {
                d->state = ST_DOTCR;
                i++;
            } else {
                d->state = ST_TEXT;
            }
            break;
        case ST_DOTCR:
            if (c == '\n') {
                d->state = ST_DONE;
                i++;
            } else {
                d->flags |= SMTP_DATA_BARE_CR;
                text(d, "\r", 1, sink, ctx);
                d->state = ST_TEXT;
            }
            break;
        case ST_CR:
            if (c == '\n') {
                emit(d, "\r\n", 2, sink, ctx);
                d->line_len = 0;
                d->state = ST_BOL;
                i++;
            } else {
                d->flags |= SMTP_DATA_BARE_CR;
                text(d, "\r", 1, sink, ctx);
                d->state = ST_TEXT;
            }
            break;
        default: { /* ST_TEXT */
            size_t j = i;

            while (j < len && in[j] != '\r' && in[j] != '\n')
                j++;
            if (j > i) {
                text(d, in + i, j - i, sink, ctx);
                i = j;
            } else if (c == '\r') {
                d->state = ST_CR;
                i++;
            } else {
                /* A bare LF is content of the same line: the next "." is
                 * not at the beginning of a line. */
                d->flags |= SMTP_DATA_BARE_LF;
                text(d, in + i, 1, sink, ctx);
                i++;
            }
            break;
        }
        }
    }
    d->done = d->state == ST_DONE;
    d->consumed += i;
    return i;
}

typedef struct {
    char *out;
    size_t n;
} buf_sink_t;

static void buf_sink(void *ctx, const char *p, size_t n)
{
    buf_sink_t *b = ctx;

    memcpy(b->out + b->n, p, n);
    b->n += n;
}

size_t smtp_data_feed_buf(smtp_data_t *d, const char *in, size_t len, char *out,
                          size_t *out_len)
{
    buf_sink_t b = {out, 0};
    size_t used = smtp_data_feed(d, in, len, buf_sink, &b);

    *out_len = b.n;
    return used;
}

/* Refusal replies, first match wins. */
static const struct {
    unsigned flag;
    int code;
    const char *enh, *text;
} data_refusals[] = {
    {SMTP_DATA_BARE_LF, 550, "5.5.2", "Error: bare <LF> received"},
    {SMTP_DATA_BARE_CR, 550, "5.5.2", "Error: bare <CR> received"},
    {SMTP_DATA_TOO_BIG, 552, "5.3.4", "Message size exceeds fixed limit"},
    {SMTP_DATA_LONG_LINE, 554, "5.6.0", "Message refused: text line too long"},
};

int smtp_data_result(const smtp_data_t *d, smtp_reply_t *r)
{
    size_t i;

    for (i = 0; i < sizeof(data_refusals) / sizeof(data_refusals[0]); i++) {
        if (d->flags & data_refusals[i].flag) {
            smtp_reply_set(r, data_refusals[i].code, data_refusals[i].enh,
                           data_refusals[i].text);
            return -1;
        }
    }
    return 0;
}

void smtp_bdat_init(smtp_bdat_t *b, uint64_t max_size)
{
    memset(b, 0, sizeof(*b));
    b->max_size = max_size;
}

void smtp_bdat_chunk(smtp_bdat_t *b, uint64_t size, int last)
{
    b->remaining = size;
    b->last = last != 0;
    b->total = size > UINT64_MAX - b->total ? UINT64_MAX : b->total + size;
    if (b->max_size != 0 && b->total > b->max_size)
        b->too_big = 1;
}

size_t smtp_bdat_feed(smtp_bdat_t *b, const char *in, size_t len,
                      smtp_data_sink_fn sink, void *ctx)
{
    size_t n = len;

    if ((uint64_t)n > b->remaining)
        n = (size_t)b->remaining;
    if (n > 0 && !b->too_big && sink != NULL)
        sink(ctx, in, n);
    b->remaining -= n;
    return n;
}

/*
 * buf.c - reference-counted byte buffers (loom_conn.h), queued on many
 * connections at once with evbuffer references instead of copies (short
 * ones, up to LOOM_BUF_COPY_MAX bytes, are copied into the connection's
 * output: cheaper than a reference's chain).
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Buffers up to this many bytes are copied, not referenced. */
#define LOOM_BUF_COPY_MAX 512

struct loom_buf_s {
    unsigned refs;
    size_t len;
    char data[]; /* len bytes and a NUL (for printf-made text) */
};

loom_buf_t *loom_buf_new(const void *data, size_t len)
{
    loom_buf_t *b = loom_malloc(sizeof(*b) + len + 1);

    b->refs = 1;
    b->len = len;
    if (len)
        memcpy(b->data, data, len);
    b->data[len] = '\0';
    return b;
}

loom_buf_t *loom_buf_printf(const char *fmt, ...)
{
    va_list ap;
    loom_buf_t *b;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    b = loom_malloc(sizeof(*b) + (size_t)n + 1);
    b->refs = 1;
    b->len = (size_t)n;
    va_start(ap, fmt);
    vsnprintf(b->data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return b;
}

loom_buf_t *loom_buf_ref(loom_buf_t *b)
{
    b->refs++;
    return b;
}

void loom_buf_unref(loom_buf_t *b)
{
    if (b && --b->refs == 0)
        free(b);
}

const char *loom_buf_data(const loom_buf_t *b)
{
    return b->data;
}

size_t loom_buf_len(const loom_buf_t *b)
{
    return b->len;
}

/* evbuffer's cleanup of a reference: the bytes were sent or dropped. */
static void buf_ref_done(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    loom_buf_unref(arg);
}

int loom_conn_write_buf(loom_conn_t *c, loom_buf_t *b)
{
    /* A reference costs libevent a chain of its own, a malloc of about
     * 1 KiB per buffer per connection, freed once sent; bytes up to
     * LOOM_BUF_COPY_MAX are cheaper copied into the tail chain, which
     * holds a turn's worth of short lines (chat lines, events) in one
     * allocation. */
    if (b->len <= LOOM_BUF_COPY_MAX)
        return loom_conn_write(c, b->data, b->len);
    if (c->flags & (LOOM_CF_DEAD | LOOM_CF_CLOSING | LOOM_CF_ABORT))
        return LOOM_ERROR;
    loom_conn_out_prepare(c);
    loom_buf_ref(b);
    if (evbuffer_add_reference(c->out, b->data, b->len, buf_ref_done, b) != 0) {
        loom_buf_unref(b);
        return LOOM_ERROR;
    }
    return loom_conn_out_queued(c);
}

/*
 * fuzz_smtp_data.c - libFuzzer target: the DATA decoder and BDAT counter.
 * The first two bytes pick the line and size limits and where the input
 * is cut; the rest is what follows the 354 reply.  Invariants: fed whole,
 * cut in two and byte by byte gives the same result; the end is only
 * ever after CR LF "." CR LF (or ".\r\n" at the start); an accepted
 * message has only CR LF line ends, no line over the limit, and its size
 * counts exactly the bytes output; output never exceeds the input.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char *out;
    size_t n, cap;
} out_t;

static void sink(void *ctx, const char *p, size_t n)
{
    out_t *o = ctx;

    assert(n > 0);
    assert(o->n + n <= o->cap);
    memcpy(o->out + o->n, p, n);
    o->n += n;
}

/* Decode IN in pieces of at most STEP bytes (0: whole), plus a first cut
 * at CUT; returns the decoder and the output in *O. */
static smtp_data_t run(const char *in, size_t len, size_t cut, size_t step,
                       size_t max_line, uint64_t max_size, out_t *o)
{
    smtp_data_t d;
    size_t pos = 0;

    smtp_data_init(&d, max_line, max_size);
    o->n = 0;
    while (pos < len && !d.done) {
        size_t end = len, used;

        if (pos < cut)
            end = cut;
        else if (step > 0 && pos + step < len)
            end = pos + step;
        used = smtp_data_feed(&d, in + pos, end - pos, sink, o);
        assert(used <= end - pos);
        assert(d.done || used == end - pos);
        pos += used;
    }
    assert(d.consumed == pos);
    if (d.done && pos < len)
        assert(smtp_data_feed(&d, in + pos, len - pos, sink, o) == 0);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in;
    size_t len, cut, i, line;
    size_t max_line;
    uint64_t max_size;
    out_t a, b, c;
    smtp_data_t da, db, dc;
    smtp_reply_t r;

    if (size < 2)
        return 0;
    max_line = (data[0] & 0x0f) ? (size_t)(data[0] & 0x0f) + 2 : 0;
    max_size = (data[0] & 0xf0) ? (uint64_t)(data[0] >> 4) * 16 : 0;
    in = (const char *)data + 2;
    len = size - 2;
    cut = len ? data[1] % (len + 1) : 0;

    a.cap = b.cap = c.cap = len + 1;
    a.out = malloc(a.cap);
    b.out = malloc(b.cap);
    c.out = malloc(c.cap);
    if (a.out == NULL || b.out == NULL || c.out == NULL)
        goto out;
    da = run(in, len, 0, 0, max_line, max_size, &a);
    db = run(in, len, cut, 0, max_line, max_size, &b);
    dc = run(in, len, 0, 1, max_line, max_size, &c);
    assert(da.flags == db.flags && da.flags == dc.flags);
    assert(da.done == db.done && da.done == dc.done);
    assert(da.size == db.size && da.size == dc.size);
    assert(da.consumed == db.consumed && da.consumed == dc.consumed);
    assert(a.n <= da.consumed);
    if (da.done) {
        size_t n = (size_t)da.consumed;

        assert(n >= 3 && memcmp(in + n - 3, ".\r\n", 3) == 0);
        assert(n == 3 || (n >= 5 && memcmp(in + n - 5, "\r\n", 2) == 0));
    }
    if (da.flags == 0) {
        assert(a.n == b.n && a.n == c.n);
        assert(memcmp(a.out, b.out, a.n) == 0);
        assert(memcmp(a.out, c.out, a.n) == 0);
        assert(da.size == a.n);
        assert(max_size == 0 || da.size <= max_size);
        line = 0;
        for (i = 0; i < a.n; i++) {
            if (a.out[i] == '\r')
                assert(i + 1 < a.n ? a.out[i + 1] == '\n' : !da.done);
            if (a.out[i] == '\n') {
                assert(i > 0 && a.out[i - 1] == '\r');
                line = 0;
            } else if (a.out[i] != '\r') {
                line++;
                assert(line + 2 <= (max_line ? max_line : 1000));
            }
        }
        assert(smtp_data_result(&da, &r) == 0);
    } else {
        assert(smtp_data_result(&da, &r) == -1);
        assert(r.code >= 550 && r.code <= 554);
    }

    /* BDAT: the first byte of the input as a chunk size takes exactly
     * that much (or all there is). */
    {
        smtp_bdat_t bd;
        uint64_t want = len ? (unsigned char)in[0] : 0;
        size_t used;

        smtp_bdat_init(&bd, max_size);
        smtp_bdat_chunk(&bd, want, data[1] & 1);
        a.n = 0;
        used = smtp_bdat_feed(&bd, in, len, sink, &a);
        assert(used == (want < len ? want : len));
        assert(bd.remaining == want - used);
        assert(bd.too_big == (max_size != 0 && want > max_size));
        assert(a.n == (bd.too_big ? 0 : used));
        assert(memcmp(a.out, in, a.n) == 0);
    }
out:
    free(a.out);
    free(b.out);
    free(c.out);
    return 0;
}

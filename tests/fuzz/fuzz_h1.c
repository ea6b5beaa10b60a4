/*
 * fuzz_h1.c - libFuzzer target: the HTTP/1.1 request parser (h1_parse.h).
 *
 * The first input byte picks the mode and the limits (bit 7: the defaults,
 * else small ones derived from the byte, so that every limit is hit; bit 6:
 * the rest is a chunked body rather than a request).  The rest is parsed
 * as a request head, one shot.  Invariants: the answer is a length within
 * the input, H1_PARTIAL, or H1_ERROR with a status the contract names; a
 * parsed head has every slice inside it, a token method, a target without
 * SP/CTL, no more than max_fields fields, names that are tokens, trimmed
 * values without CR/LF/NUL, and a request line and header section within
 * the limits.  The same input fed in pieces (resuming with LAST_LEN) and
 * some prefixes parsed one shot must agree with it: a complete head comes
 * out identical, a prefix of a valid head is never an error, and an error
 * never changes its status.  h1_framing()'s result is checked for
 * consistency, and a chunked body after the head (or the whole input in
 * body mode) is decoded whole, byte by byte and in two pieces split at a
 * point taken from the data: the outcome, the bytes consumed and the body
 * bytes must agree, every data slice inside the piece it came from.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_FIELDS 128

static int fz_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void fz_inside(loom_slice_t s, const char *buf, size_t len)
{
    assert(s.len <= len);
    if (s.len)
        assert(s.p >= buf && s.p + s.len <= buf + len);
}

static void fz_check_head(const char *buf, int n, const h1_limits_t *lim,
                          const h1_head_t *h)
{
    size_t i, j, len = (size_t)n;
    const char *rl_end;

    fz_inside(h->method, buf, len);
    fz_inside(h->target, buf, len);
    assert(h->method.len > 0 && h->target.len > 0);
    for (i = 0; i < h->method.len; i++)
        assert(fz_tchar((unsigned char)h->method.p[i]));
    for (i = 0; i < h->target.len; i++) {
        unsigned char c = (unsigned char)h->target.p[i];

        assert(c > 0x20 && c != 0x7f);
    }
    assert(h->target.p == h->method.p + h->method.len + 1);
    assert(h->minor == 0 || h->minor == 1);
    /* "SP HTTP/1.x", then the line end */
    rl_end = h->target.p + h->target.len + 9;
    assert((size_t)(rl_end - h->method.p) <= lim->max_line);
    assert(*rl_end == '\r' || *rl_end == '\n');
    rl_end += *rl_end == '\r' ? 2 : 1;
    assert((size_t)(buf + len - rl_end) <= lim->max_head);
    assert(buf[len - 1] == '\n');
    assert(h->nfields <= lim->max_fields && h->nfields <= h->max_fields);
    for (i = 0; i < h->nfields; i++) {
        const h1_field_t *f = &h->fields[i];

        fz_inside(f->name, buf, len);
        fz_inside(f->value, buf, len);
        assert(f->name.len > 0);
        assert(f->name.p >= rl_end);
        for (j = 0; j < f->name.len; j++)
            assert(fz_tchar((unsigned char)f->name.p[j]));
        assert(f->name.p[f->name.len] == ':');
        if (f->value.len) {
            assert(f->value.p[0] != ' ' && f->value.p[0] != '\t');
            assert(f->value.p[f->value.len - 1] != ' ' &&
                   f->value.p[f->value.len - 1] != '\t');
        }
        for (j = 0; j < f->value.len; j++) {
            unsigned char c = (unsigned char)f->value.p[j];

            assert(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
    }
}

static int fz_same_head(const h1_head_t *a, const h1_head_t *b)
{
    size_t i;

    if (a->method.p != b->method.p || a->method.len != b->method.len ||
        a->target.p != b->target.p || a->target.len != b->target.len ||
        a->minor != b->minor || a->nfields != b->nfields)
        return 0;
    for (i = 0; i < a->nfields; i++)
        if (a->fields[i].name.p != b->fields[i].name.p ||
            a->fields[i].name.len != b->fields[i].name.len ||
            a->fields[i].value.p != b->fields[i].value.p ||
            a->fields[i].value.len != b->fields[i].value.len)
            return 0;
    return 1;
}

static void fz_framing(const h1_head_t *h)
{
    h1_framing_t f;
    int status = 0, r;

    r = h1_framing(h, &f, &status);
    if (r != LOOM_OK) {
        assert(r == H1_ERROR);
        assert(status == 400 || status == 417 || status == 501);
        return;
    }
    assert(f.chunked == 0 || f.chunked == 1);
    assert(f.content_length >= -1);
    if (f.chunked) {
        assert(f.content_length == -1);
        assert(h->minor == 1);
        assert(h1_find_field(h, "transfer-encoding") != NULL);
        assert(h1_find_field(h, "content-length") == NULL);
    } else {
        assert(h1_find_field(h, "transfer-encoding") == NULL);
    }
    if (f.content_length >= 0)
        assert(h1_find_field(h, "content-length") != NULL);
    assert(f.keep_alive == 0 || f.keep_alive == 1);
    assert(f.has_host == (h1_find_field(h, "host") != NULL));
    if (h->minor == 1)
        assert(f.has_host);
    if (f.has_host) {
        const h1_field_t *hf = h1_find_field(h, "host");

        assert(f.host.p == hf->value.p && f.host.len == hf->value.len);
    } else {
        assert(f.host.len == 0);
    }
    if (f.expect_continue)
        assert(h->minor == 1 && h1_find_field(h, "expect") != NULL);
    if (f.upgrade_h2c)
        assert(h->minor == 1 && h1_find_field(h, "upgrade") != NULL &&
               h1_find_field(h, "http2-settings") != NULL);
}

/* ---- chunked ---------------------------------------------------------- */

enum { FZ_MORE, FZ_DONE, FZ_ERROR };

typedef struct {
    int outcome;
    size_t used;  /* bytes consumed */
    size_t dlen;  /* body bytes delivered */
    uint64_t sum; /* a checksum of them, in order */
} fz_body_t;

/* Decode BUF[0..LEN) handed over in pieces of STEP bytes (the last may be
 * shorter); a piece is offered until it is consumed or the decoder stops. */
static void fz_decode(const char *buf, size_t len, size_t step, fz_body_t *o)
{
    h1_chunked_t d;
    size_t pos = 0;

    h1_chunked_init(&d);
    memset(o, 0, sizeof(*o));
    o->outcome = FZ_MORE;
    while (pos < len && o->outcome == FZ_MORE) {
        size_t plen = len - pos < step ? len - pos : step, off = 0;

        while (off < plen) {
            loom_slice_t dt = {NULL, 0};
            long r = h1_chunked_decode(&d, buf + pos + off, plen - off, &dt);
            size_t i;

            if (r == H1_ERROR) {
                o->outcome = FZ_ERROR;
                break;
            }
            assert(r >= 0 && (size_t)r <= plen - off);
            assert(dt.len <= (size_t)r);
            if (dt.len)
                assert(dt.p >= buf + pos + off &&
                       dt.p + dt.len <= buf + pos + off + r);
            for (i = 0; i < dt.len; i++)
                o->sum = o->sum * 31 + (unsigned char)dt.p[i];
            o->dlen += dt.len;
            off += (size_t)r;
            if (d.done) {
                o->outcome = FZ_DONE;
                break;
            }
            assert(r > 0);
        }
        pos += off;
    }
    o->used = pos;
    if (o->outcome == FZ_DONE)
        assert(d.done && d.remain == 0);
}

/* Decode BUF[0..LEN) whole, bytewise (short inputs) and cut at SPLIT. */
static void fz_chunked(const char *buf, size_t len, size_t split)
{
    fz_body_t whole, other;

    fz_decode(buf, len, len ? len : 1, &whole);
    if (whole.outcome != FZ_ERROR)
        assert(whole.used == len || whole.outcome == FZ_DONE);
    if (len <= 512) {
        fz_decode(buf, len, 1, &other);
        assert(other.outcome == whole.outcome && other.dlen == whole.dlen &&
               other.sum == whole.sum);
        if (whole.outcome != FZ_ERROR)
            assert(other.used == whole.used);
    }
    if (len > 1) {
        /* two pieces: first SPLIT bytes, then the rest */
        h1_chunked_t d2;
        fz_body_t two;
        size_t k = 1 + split % (len - 1), pos = 0, i;
        int err = 0;

        memset(&two, 0, sizeof(two));
        h1_chunked_init(&d2);
        while (pos < len && !d2.done && !err) {
            size_t end = pos < k ? k : len;

            while (pos < end && !d2.done) {
                loom_slice_t dt;
                long r = h1_chunked_decode(&d2, buf + pos, end - pos, &dt);

                if (r == H1_ERROR) {
                    err = 1;
                    break;
                }
                assert(r > 0 && (size_t)r <= end - pos);
                if (dt.len)
                    assert(dt.p >= buf + pos && dt.p + dt.len <= buf + end);
                for (i = 0; i < dt.len; i++)
                    two.sum = two.sum * 31 + (unsigned char)dt.p[i];
                two.dlen += dt.len;
                pos += (size_t)r;
            }
        }
        two.outcome = err ? FZ_ERROR : d2.done ? FZ_DONE : FZ_MORE;
        assert(two.outcome == whole.outcome && two.dlen == whole.dlen &&
               two.sum == whole.sum);
        if (!err)
            assert(pos == whole.used);
    }
}

/* ---- the target ------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static h1_field_t fields[FZ_FIELDS], fields2[FZ_FIELDS];
    const char *buf;
    size_t len, k, step, last;
    unsigned sel;
    h1_limits_t lim;
    h1_head_t h, h2;
    int r, r2, status = 0, status2 = 0;

    if (size < 1)
        return 0;
    sel = data[0];
    buf = (const char *)data + 1;
    len = size - 1;
    if (sel & 0x40) {
        fz_chunked(buf, len, len ? (unsigned char)buf[len / 2] * 7u + sel : 0);
        return 0;
    }
    if (sel & 0x80) {
        lim.max_line = 8192;
        lim.max_fields = 100;
        lim.max_head = 32768;
    } else {
        lim.max_line = 1 + (sel & 0x0f) * 3;
        lim.max_head = 1 + ((sel >> 2) & 0x0f) * 7;
        lim.max_fields = sel & 0x07;
    }

    memset(&h, 0, sizeof(h));
    h.fields = fields;
    h.max_fields = lim.max_fields + 1;
    r = h1_parse_head(buf, len, 0, &lim, &h, &status);
    if (r > 0) {
        assert((size_t)r <= len);
        fz_check_head(buf, r, &lim, &h);
        fz_framing(&h);
    } else if (r == H1_ERROR) {
        assert(status == 400 || status == 414 || status == 431 ||
               status == 505);
    } else {
        assert(r == H1_PARTIAL);
    }

    /* the same bytes in pieces, resuming */
    memset(&h2, 0, sizeof(h2));
    h2.fields = fields2;
    h2.max_fields = lim.max_fields + 1;
    step = 1 + (len ? (unsigned char)buf[len - 1] % 13 : 0);
    last = 0;
    for (k = step < len ? step : len; k <= len && len; k += step) {
        r2 = h1_parse_head(buf, k, last, &lim, &h2, &status2);
        if (r > 0 && k >= (size_t)r) {
            assert(r2 == r && fz_same_head(&h, &h2));
            break;
        }
        if (r > 0 || r == H1_PARTIAL) {
            assert(r2 == H1_PARTIAL);
        } else {
            assert(r2 == H1_PARTIAL || (r2 == H1_ERROR && status2 == status));
            if (r2 == H1_ERROR)
                break;
        }
        last = k;
        if (k < len && k + step > len)
            k = len - step; /* the last step ends at LEN */
    }

    /* two calls: a prefix, then everything, resuming from it */
    if (len > 1) {
        k = 1 + (size_t)(buf[0] & 0xff) * 17 % (len - 1);
        if (h1_parse_head(buf, k, 0, &lim, &h2, &status2) == H1_PARTIAL) {
            r2 = h1_parse_head(buf, len, k, &lim, &h2, &status2);
            if (r > 0)
                assert(r2 == r && fz_same_head(&h, &h2));
            else if (r == H1_PARTIAL)
                assert(r2 == H1_PARTIAL);
            else
                assert(r2 == H1_PARTIAL ||
                       (r2 == H1_ERROR && status2 == status));
        }
    }

    /* some prefixes, one shot: a valid head's prefix is never an error */
    for (k = 1; k < len && k < 64; k++) {
        size_t cut = k * 131 % len;

        r2 = h1_parse_head(buf, cut, 0, &lim, &h2, &status2);
        if (r > 0 && cut >= (size_t)r)
            assert(r2 == r && fz_same_head(&h, &h2));
        else if (r > 0 || r == H1_PARTIAL)
            assert(r2 == H1_PARTIAL);
        else
            assert(r2 == H1_PARTIAL || (r2 == H1_ERROR && status2 == status));
    }

    /* a chunked body after the head */
    if (r > 0) {
        h1_framing_t f;
        int st;

        if (h1_framing(&h, &f, &st) == LOOM_OK && f.chunked)
            fz_chunked(buf + r, len - (size_t)r, sel * 5u + len);
    }
    return 0;
}

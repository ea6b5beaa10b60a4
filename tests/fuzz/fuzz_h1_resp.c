/*
 * fuzz_h1_resp.c - libFuzzer target: the HTTP/1.1 response parser
 * (h1_resp.h), what the reverse proxy reads from its upstreams.
 *
 * The first input byte picks the limits (bit 7: the proxy's, else small
 * ones derived from the byte so that every limit is hit) and whether the
 * head answers a HEAD request (bit 6).  The rest is parsed as a response
 * head, one shot.  Invariants: the answer is a length within the input,
 * H1_PARTIAL (only while within max_head), or H1_ERROR; a parsed head has
 * every slice inside it, a status of 100-999, tokens for names, trimmed
 * values without CTL; the same bytes fed in pieces (resuming with
 * LAST_LEN) and prefixes agree with the one-shot verdict; the framing is
 * consistent with the fields; and the body after the head is read whole,
 * byte by byte and in two pieces with the same outcome, bytes consumed
 * and body bytes, every data slice inside the piece it came from.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_FIELDS 256

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

static int fz_ieq(loom_slice_t s, const char *lc)
{
    size_t i;

    if (s.len != strlen(lc))
        return 0;
    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];

        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        if (c != (unsigned char)lc[i])
            return 0;
    }
    return 1;
}

static int fz_has(const h1_resp_head_t *h, const char *lc)
{
    size_t i;

    for (i = 0; i < h->nfields; i++)
        if (fz_ieq(h->fields[i].name, lc))
            return 1;
    return 0;
}

static void fz_check_head(const char *buf, int n, size_t max_head,
                          const h1_resp_head_t *h)
{
    size_t i, j, len = (size_t)n;

    assert(len <= max_head);
    assert(len >= 14 && memcmp(buf, "HTTP/1.", 7) == 0);
    assert(buf[len - 1] == '\n');
    assert(h->minor == 0 || h->minor == 1);
    assert(h->status >= 100 && h->status <= 999);
    fz_inside(h->reason, buf, len);
    for (i = 0; i < h->reason.len; i++) {
        unsigned char c = (unsigned char)h->reason.p[i];

        assert(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    assert(h->nfields <= h->max_fields);
    for (i = 0; i < h->nfields; i++) {
        const h1_field_t *f = &h->fields[i];

        fz_inside(f->name, buf, len);
        fz_inside(f->value, buf, len);
        assert(f->name.len > 0);
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

static int fz_same(const h1_resp_head_t *a, const h1_resp_head_t *b)
{
    size_t i;

    if (a->minor != b->minor || a->status != b->status ||
        a->reason.len != b->reason.len || a->nfields != b->nfields ||
        (a->reason.len && a->reason.p != b->reason.p))
        return 0;
    for (i = 0; i < a->nfields; i++)
        if (a->fields[i].name.p != b->fields[i].name.p ||
            a->fields[i].name.len != b->fields[i].name.len ||
            a->fields[i].value.len != b->fields[i].value.len ||
            (a->fields[i].value.len &&
             a->fields[i].value.p != b->fields[i].value.p))
            return 0;
    return 1;
}

static void fz_framing(const h1_resp_head_t *h, int head_request,
                       h1_resp_framing_t *f, int *ok)
{
    *ok = h1_resp_framing(h, head_request, f) == LOOM_OK;
    if (!*ok)
        return;
    assert(f->content_length >= -1);
    if (f->content_length >= 0)
        assert(fz_has(h, "content-length"));
    if (h->status < 200 || h->status == 204 || h->status == 304 || head_request)
        assert(f->body == H1R_BODY_NONE);
    if (f->body == H1R_BODY_CHUNKED)
        assert(h->minor == 1 && fz_has(h, "transfer-encoding") &&
               !fz_has(h, "content-length"));
    if (f->body == H1R_BODY_LENGTH)
        assert(f->content_length >= 0 && !fz_has(h, "transfer-encoding"));
    if (f->body == H1R_BODY_CLOSE)
        assert(!fz_has(h, "content-length") && !fz_has(h, "transfer-encoding"));
    if (f->keep_alive)
        assert(h->minor == 1 && f->body != H1R_BODY_CLOSE && !f->upgrade);
    assert(f->upgrade == (h->status == 101));
    assert(f->interim == (h->status < 200 && h->status != 101));
}

/* ---- bodies ----------------------------------------------------------- */

typedef struct {
    int err, done;
    size_t used, dlen;
    uint64_t sum;
} fz_body_t;

/* Read BUF[0..LEN) cut at the points in CUTS (ascending, NCUTS of them). */
static void fz_read(const h1_resp_framing_t *f, const char *buf, size_t len,
                    const size_t *cuts, size_t ncuts, fz_body_t *o)
{
    h1_resp_body_t b;
    size_t pos = 0, c = 0;

    memset(o, 0, sizeof(*o));
    h1_resp_body_init(&b, f);
    while (pos < len && !b.done && !o->err) {
        size_t end = c < ncuts ? cuts[c++] : len;

        if (end > len)
            end = len;
        while (pos < end && !b.done) {
            loom_slice_t d;
            long n = h1_resp_body_read(&b, buf + pos, end - pos, &d);
            size_t i;

            if (n == H1_ERROR) {
                o->err = 1;
                break;
            }
            assert(n > 0 && (size_t)n <= end - pos);
            assert(d.len <= (size_t)n);
            if (d.len)
                assert(d.p >= buf + pos && d.p + d.len <= buf + pos + n);
            for (i = 0; i < d.len; i++)
                o->sum = o->sum * 31 + (unsigned char)d.p[i];
            o->dlen += d.len;
            pos += (size_t)n;
        }
    }
    o->used = pos;
    o->done = b.done;
    if (b.mode == H1R_BODY_LENGTH && !o->err)
        assert(o->done == (b.left == 0));
}

static void fz_bodies(const h1_resp_framing_t *f, const char *buf, size_t len,
                      size_t split)
{
    fz_body_t whole, other;
    size_t cuts[1024], i, n;

    fz_read(f, buf, len, NULL, 0, &whole);
    if (!whole.err && !whole.done)
        assert(whole.used == len);
    if (f->body == H1R_BODY_CLOSE)
        assert(whole.dlen == len && !whole.done);
    if (len <= 1024) {
        n = len;
        for (i = 0; i < n; i++)
            cuts[i] = i + 1;
        fz_read(f, buf, len, cuts, n, &other);
        assert(other.err == whole.err && other.done == whole.done &&
               other.dlen == whole.dlen && other.sum == whole.sum);
        if (!whole.err)
            assert(other.used == whole.used);
    }
    if (len > 1) {
        cuts[0] = 1 + split % (len - 1);
        fz_read(f, buf, len, cuts, 1, &other);
        assert(other.err == whole.err && other.done == whole.done &&
               other.dlen == whole.dlen && other.sum == whole.sum);
        if (!whole.err)
            assert(other.used == whole.used);
    }
}

/* ---- the target ------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static h1_field_t fields[FZ_FIELDS], fields2[FZ_FIELDS];
    h1_resp_head_t h, h2;
    h1_resp_framing_t f;
    const char *buf;
    size_t len, max_head, k, step, last;
    unsigned sel;
    int r, r2, ok;

    if (size < 1)
        return 0;
    sel = data[0];
    buf = (const char *)data + 1;
    len = size - 1;
    memset(&h, 0, sizeof(h));
    memset(&h2, 0, sizeof(h2));
    h.fields = fields;
    h2.fields = fields2;
    if (sel & 0x80) {
        max_head = 64 * 1024;
        h.max_fields = h2.max_fields = FZ_FIELDS;
    } else {
        max_head = 16 + (sel & 0x0f) * 9;
        h.max_fields = h2.max_fields = (sel >> 4) & 0x03;
    }

    r = h1_resp_parse_head(buf, len, 0, max_head, &h);
    if (r > 0) {
        assert((size_t)r <= len);
        fz_check_head(buf, r, max_head, &h);
    } else if (r == H1_PARTIAL) {
        assert(len <= max_head);
    } else {
        assert(r == H1_ERROR);
    }

    /* in pieces, resuming */
    step = 1 + (len ? (unsigned char)buf[len - 1] % 17 : 0);
    last = 0;
    for (k = step < len ? step : len; k <= len && len; k += step) {
        r2 = h1_resp_parse_head(buf, k, last, max_head, &h2);
        if (r > 0 && k >= (size_t)r) {
            assert(r2 == r && fz_same(&h, &h2));
            break;
        }
        if (r > 0 || r == H1_PARTIAL)
            assert(r2 == H1_PARTIAL);
        else if (r2 == H1_ERROR)
            break;
        else
            assert(r2 == H1_PARTIAL);
        last = k;
        if (k < len && k + step > len)
            k = len - step;
    }

    /* prefixes, one shot */
    for (k = 1; k < len && k < 48; k++) {
        size_t cut = k * 97 % len;

        r2 = h1_resp_parse_head(buf, cut, 0, max_head, &h2);
        if (r > 0 && cut >= (size_t)r)
            assert(r2 == r && fz_same(&h, &h2));
        else if (r > 0 || r == H1_PARTIAL)
            assert(r2 == H1_PARTIAL);
        else
            assert(r2 == H1_PARTIAL || r2 == H1_ERROR);
    }

    if (r > 0) {
        fz_framing(&h, (sel & 0x40) != 0, &f, &ok);
        if (ok)
            fz_bodies(&f, buf + r, len - (size_t)r, sel * 7u + len);
    }
    return 0;
}

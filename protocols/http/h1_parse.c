/*
 * h1_parse.c - HTTP/1.1 request heads, message framing and the chunked
 * transfer coding (RFC 9112) without I/O; the contract is in h1_parse.h.
 *
 * The head parser reads strictly left to right and its verdict is decided
 * by the first byte that settles it: a byte that breaks the grammar gives
 * 400, the first byte beyond max_line (request line) or max_head (header
 * section) that is not where the line or head could end gives 414 / 431.
 * So a prefix of a request that already fails fails the same way however
 * much more arrives, and the caller may stop reading at the first error.
 *
 * Speed: one pass over the bytes with 256-entry tables, no copy, no
 * allocation; the limits are applied by shortening the window a loop may
 * scan, so they cost no extra test per byte.  When the caller passes
 * LAST_LEN, only the new bytes are looked at unless they may complete the
 * head, break a limit or hold a byte that is never valid in a head.
 */
#include <limits.h>
#include <string.h>

#include "h1_parse.h"

/* Empty lines skipped before the request line (RFC 9112 section 2.2). */
#define H1_LEADING_EMPTY_MAX 4

/* Limits are clamped so that offsets never overflow and a head length
 * always fits the int return value. */
#define H1_LIMIT_CAP ((size_t)1 << 28)

/* The longest chunk size: 16 hex digits, at most 2^63-1. */
#define H1_CHUNK_DIGITS_MAX 16

typedef unsigned char h1_uchar;

/* clang-format off */
/* tchar (RFC 9110 section 5.6.2): method, field names, codings. */
const unsigned char h1_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1,
    ['a' ... 'z'] = 1,
};

/* Bytes of a request-target: anything but SP, CTL (NUL included) and
 * DEL; obs-text is left for the path layer to judge. */
static const unsigned char h1_target[256] = {
    [0x21 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* Bytes of a field value, whitespace included (RFC 9110 section 5.5:
 * VCHAR, obs-text, SP, HTAB). */
static const unsigned char h1_fvalue[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

/* qdtext of a quoted-string (RFC 9110 section 5.6.4), and what may follow
 * a backslash. */
static const unsigned char h1_qdtext[256] = {
    ['\t'] = 1, [' '] = 1, ['!'] = 1, [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

/* Byte classes for the quick look at new bytes of a partial head. */
enum { HC_OK = 0, HC_LF, HC_CR, HC_BAD };
static const unsigned char h1_hclass[256] = {
    [0x00 ... 0x08] = HC_BAD, ['\n'] = HC_LF, [0x0b ... 0x0c] = HC_BAD,
    ['\r'] = HC_CR, [0x0e ... 0x1f] = HC_BAD, [0x7f] = HC_BAD,
};

/* Hex digit values, 0xff for anything else. */
static const unsigned char h1_hex[256] = {
    [0x00 ... 0x2f] = 0xff, ['0'] = 0, ['1'] = 1, ['2'] = 2, ['3'] = 3,
    ['4'] = 4, ['5'] = 5, ['6'] = 6, ['7'] = 7, ['8'] = 8, ['9'] = 9,
    [0x3a ... 0x40] = 0xff, ['A'] = 10, ['B'] = 11, ['C'] = 12, ['D'] = 13,
    ['E'] = 14, ['F'] = 15, [0x47 ... 0x60] = 0xff, ['a'] = 10, ['b'] = 11,
    ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15, [0x67 ... 0xff] = 0xff,
};

/* clang-format on */

static inline int h1_ows(h1_uchar c)
{
    return c == ' ' || c == '\t';
}

/* ASCII lowercase (locale-free). */
static inline h1_uchar h1_lower(h1_uchar c)
{
    return (c >= 'A' && c <= 'Z') ? (h1_uchar)(c | 0x20) : c;
}

/* ---- the request head ---------------------------------------------------- */

#define H1_ONES 0x0101010101010101ULL
#define H1_HIGHS 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes at P is below LOW (at most 0x80) or is
 * DEL: the word-at-a-time test for "maybe not a target / value byte" (bit
 * tricks "hasless" and "haszero", exact as to whether such a byte exists).
 * A hit only sends the caller back to its table loop. */
static inline uint64_t h1_word_stops(const h1_uchar *p, uint64_t low)
{
    uint64_t x, y;

    memcpy(&x, p, 8);
    y = x ^ (H1_ONES * 0x7f);
    return ((x - H1_ONES * low) & ~x & H1_HIGHS) |
           ((y - H1_ONES) & ~y & H1_HIGHS);
}

/* Check a partial HTTP-version of N (< 8) bytes against "HTTP/" DIGIT "."
 * DIGIT; 0 when it can still become one, -1 when it cannot. */
static int h1_version_prefix(const h1_uchar *v, size_t n)
{
    static const char pat[] = "HTTP/0.0";
    size_t i;

    for (i = 0; i < n; i++) {
        if (pat[i] == '0') {
            if (v[i] < '0' || v[i] > '9')
                return -1;
        } else if (v[i] != (h1_uchar)pat[i]) {
            return -1;
        }
    }
    return 0;
}

/* The request line at RL (after any empty lines): method SP target SP
 * version, then its line end.  Returns 0 with *NEXT at the header section
 * and H's method, target and minor set; H1_PARTIAL; or an HTTP status. */
static int h1_request_line(const h1_uchar *rl, const h1_uchar *end,
                           size_t max_line, h1_head_t *h, const h1_uchar **next)
{
    size_t avail = (size_t)(end - rl);
    /* Content bytes a loop may read: the line's CR or LF must come at
     * offset max_line at the latest. */
    const h1_uchar *win = avail > max_line ? rl + max_line : end;
    const h1_uchar *p = rl, *t;
    int major, minor;

    while (p < win && h1_tchar[*p])
        p++;
    if (p == win)
        goto short_line;
    if (*p != ' ' || p == rl)
        return 400;
    h->method.p = (const char *)rl;
    h->method.len = (size_t)(p - rl);

    t = ++p;
    while (win - p >= 8 && !h1_word_stops(p, 0x21))
        p += 8;
    while (p < win && h1_target[*p])
        p++;
    if (p == win)
        goto short_line;
    if (*p != ' ' || p == t)
        return 400;
    h->target.p = (const char *)t;
    h->target.len = (size_t)(p - t);
    p++;

    if (win - p < 8) {
        if (h1_version_prefix(p, (size_t)(win - p)) < 0)
            return 400;
        p = win;
        goto short_line;
    }
    if (memcmp(p, "HTTP/1.", 7) == 0 && (p[7] == '1' || p[7] == '0')) {
        major = 1;
        minor = p[7] - '0';
    } else {
        if (h1_version_prefix(p, 7) < 0 || p[7] < '0' || p[7] > '9')
            return 400;
        major = p[5] - '0';
        minor = p[7] - '0';
    }
    p += 8;

    if (p == end)
        return H1_PARTIAL;
    if (*p == '\n') {
        p++;
    } else if (*p == '\r') {
        if (p + 1 == end)
            return H1_PARTIAL;
        if (p[1] != '\n')
            return 400;
        p += 2;
    } else {
        return (size_t)(p - rl) == max_line ? 414 : 400;
    }
    if (major != 1 || minor > 1)
        return 505;
    h->minor = minor;
    *next = p;
    return 0;

short_line:
    /* The grammar wants more line at WIN. */
    if (win == end)
        return H1_PARTIAL;
    return (*win == '\r' || *win == '\n') ? 400 : 414;
}

/* The header section at HS, through its empty line.  Returns 0 with *NEXT
 * after the empty line and H's fields set; H1_PARTIAL; or a status. */
static int h1_header_fields(const h1_uchar *hs, const h1_uchar *end,
                            size_t max_head, size_t max_fields, h1_head_t *h,
                            const h1_uchar **next)
{
    size_t avail = (size_t)(end - hs), n = 0;
    const h1_uchar *win = avail > max_head ? hs + max_head : end;
    const h1_uchar *p = hs, *name, *v, *ve;
    h1_field_t *f = h->fields;

    for (;;) {
        if (p == win)
            goto short_head;
        if (*p == '\r') {
            if (p + 1 == win)
                goto short_head;
            if (p[1] != '\n')
                return 400;
            p += 2;
            break;
        }
        if (*p == '\n') {
            p++;
            break;
        }
        if (n == max_fields)
            return 431;

        /* An empty name is what a line starting with whitespace (obs-fold)
         * or ':' has; whitespace before the colon stops the name too. */
        name = p;
        while (p < win && h1_tchar[*p])
            p++;
        if (p == win)
            goto short_head;
        if (*p != ':' || p == name)
            return 400;
        f[n].name.p = (const char *)name;
        f[n].name.len = (size_t)(p - name);
        p++;

        while (p < win && h1_ows(*p))
            p++;
        v = p;
        while (win - p >= 8 && !h1_word_stops(p, 0x20))
            p += 8;
        while (p < win && h1_fvalue[*p])
            p++;
        if (p == win)
            goto short_head;
        ve = p;
        if (*p == '\r') {
            if (p + 1 == win)
                goto short_head;
            if (p[1] != '\n')
                return 400;
            p += 2;
        } else if (*p == '\n') {
            p++;
        } else {
            return 400;
        }
        while (ve > v && h1_ows(ve[-1]))
            ve--;
        f[n].value.p = (const char *)v;
        f[n].value.len = (size_t)(ve - v);
        n++;
    }
    h->nfields = n;
    *next = p;
    return 0;

short_head:
    return avail > max_head ? 431 : H1_PARTIAL;
}

/* Skip up to H1_LEADING_EMPTY_MAX empty lines at the start of BUF.
 * Returns 0 with *RL at the request line, H1_PARTIAL, or 400 (bare CR). */
static int h1_leading(const h1_uchar *p, const h1_uchar *end,
                      const h1_uchar **rl)
{
    int i;

    for (i = 0; i < H1_LEADING_EMPTY_MAX; i++) {
        if (p == end)
            return H1_PARTIAL;
        if (*p == '\n') {
            p++;
        } else if (*p == '\r') {
            if (p + 1 == end)
                return H1_PARTIAL;
            if (p[1] != '\n')
                return 400;
            p += 2;
        } else {
            break;
        }
    }
    *rl = p;
    return 0;
}

/* Called again on a longer buffer: can the answer still be H1_PARTIAL
 * without a full parse?  Returns 1 when it surely is: no head end ("\n\n"
 * or "\n\r\n") finishes in the new bytes, none of them is a byte that is
 * never valid in a head, and no limit is crossed yet.  Returns 0 when a
 * full parse must decide (it also finds the first error, left to right). */
static int h1_still_partial(const h1_uchar *b, size_t len, size_t last_len,
                            size_t max_line, size_t max_head, size_t max_fields)
{
    const h1_uchar *end = b + len, *p, *lf, *hs;
    size_t i, n, k;
    int new_line = 0;

    /* From the byte before the new ones: a CR there is bare if a new byte
     * other than LF follows it. */
    for (i = last_len - 1; i < len; i++) {
        if (len - i >= 8 && !h1_word_stops(b + i, 0x20)) {
            i += 7;
            continue;
        }
        switch (h1_hclass[b[i]]) {
        case HC_OK:
            break;
        case HC_LF:
            if (i >= last_len &&
                (b[i - 1] == '\n' ||
                 (b[i - 1] == '\r' && i >= 2 && b[i - 2] == '\n')))
                return 0;
            if (i + 1 < len)
                new_line = 1;
            break;
        case HC_CR:
            if (i + 1 < len && b[i + 1] != '\n')
                return 0;
            break;
        default:
            return 0;
        }
    }

    /* The limits: find the request line's end (a short memchr: the request
     * line is at the start and at most max_line + 2 bytes long). */
    p = b;
    for (k = 0; k < H1_LEADING_EMPTY_MAX; k++) {
        if (p < end && *p == '\n')
            p++;
        else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            p += 2;
        else
            break;
    }
    n = (size_t)(end - p);
    lf = n ? memchr(p, '\n', n < max_line + 2 ? n : max_line + 2) : NULL;
    if (lf == NULL)
        return n <= max_line;
    if ((size_t)(lf - p) - (lf > p && lf[-1] == '\r') > max_line)
        return 0;
    hs = lf + 1;
    if ((size_t)(end - hs) > max_head)
        return 0;
    /* Every complete line after the request line is a field line; a byte
     * after the max_fields-th one starts one too many.  Only counted when
     * a new byte starts a line (else an earlier call saw that line start)
     * and there is room for that many lines (3 bytes: "a:\n"). */
    if (new_line && (size_t)(end - hs) > 3 * max_fields) {
        const h1_uchar *q = hs;

        for (k = 0; k < max_fields; k++) {
            q = memchr(q, '\n', (size_t)(end - q));
            if (q == NULL)
                return 1;
            q++;
        }
        if (q < end)
            return 0;
    }
    return 1;
}

int h1_parse_head(const char *buf, size_t len, size_t last_len,
                  const h1_limits_t *lim, h1_head_t *h, int *status)
{
    const h1_uchar *b = (const h1_uchar *)buf, *end = b + len, *rl, *hs, *done;
    size_t max_line =
        lim->max_line < H1_LIMIT_CAP ? lim->max_line : H1_LIMIT_CAP;
    size_t max_head =
        lim->max_head < H1_LIMIT_CAP ? lim->max_head : H1_LIMIT_CAP;
    size_t max_fields =
        lim->max_fields < h->max_fields ? lim->max_fields : h->max_fields;
    int r;

    if (max_fields > H1_LIMIT_CAP)
        max_fields = H1_LIMIT_CAP;
    if (last_len != 0 && last_len < len &&
        h1_still_partial(b, len, last_len, max_line, max_head, max_fields))
        return H1_PARTIAL;

    r = h1_leading(b, end, &rl);
    if (r == 0)
        r = h1_request_line(rl, end, max_line, h, &hs);
    if (r == 0)
        r = h1_header_fields(hs, end, max_head, max_fields, h, &done);
    if (r == 0)
        return (int)(done - b);
    if (r == H1_PARTIAL)
        return H1_PARTIAL;
    *status = r;
    return H1_ERROR;
}

/* ---- message framing ----------------------------------------------------- */

int h1_ieq(const char *p, size_t n, const char *lc, size_t lcn)
{
    size_t i;

    if (n != lcn)
        return 0;
    for (i = 0; i < n; i++)
        if (h1_lower((h1_uchar)p[i]) != (h1_uchar)lc[i])
            return 0;
    return 1;
}

/* A comma-separated list (RFC 9110 section 5.6.1) being walked. */
typedef struct {
    const char *p, *end;
    int done;
} h1_list_t;

static void h1_list_init(h1_list_t *l, loom_slice_t v)
{
    l->p = v.p;
    l->end = v.p + v.len;
    l->done = 0;
}

/* The next member, OWS trimmed (possibly empty: "a,,b" has three and an
 * empty value one).  Returns 0 when the list is exhausted. */
static int h1_list_next(h1_list_t *l, loom_slice_t *m)
{
    const char *s = l->p, *e, *comma;

    if (l->done)
        return 0;
    comma = s < l->end ? memchr(s, ',', (size_t)(l->end - s)) : NULL;
    e = comma ? comma : l->end;
    l->done = comma == NULL;
    l->p = comma ? comma + 1 : l->end;
    while (s < e && h1_ows((h1_uchar)*s))
        s++;
    while (e > s && h1_ows((h1_uchar)e[-1]))
        e--;
    m->p = s;
    m->len = (size_t)(e - s);
    return 1;
}

int h1_digits(loom_slice_t m, int64_t *out)
{
    int64_t n = 0;
    size_t i;

    if (m.len == 0)
        return -1;
    for (i = 0; i < m.len; i++) {
        unsigned d = (unsigned)(h1_uchar)m.p[i] - '0';

        if (d > 9 || n > (INT64_MAX - (int64_t)d) / 10)
            return -1;
        n = n * 10 + (int64_t)d;
    }
    *out = n;
    return 0;
}

/* Content-Length members: each 1*DIGIT within int64, all equal.  Updates
 * *CL (-1: none seen yet); returns 0 or -1 when the value is refused. */
static int h1_content_length(loom_slice_t v, int64_t *cl)
{
    h1_list_t l;
    loom_slice_t m;

    h1_list_init(&l, v);
    while (h1_list_next(&l, &m)) {
        int64_t n;

        if (h1_digits(m, &n) != 0)
            return -1;
        if (*cl >= 0 && *cl != n)
            return -1;
        *cl = n;
    }
    return 0;
}

/* Transfer-Encoding, over every field in order. */
typedef struct {
    int seen, bad, nchunked, nother, last_chunked;
} h1_te_t;

static void h1_transfer_encoding(loom_slice_t v, h1_te_t *te)
{
    h1_list_t l;
    loom_slice_t m;

    te->seen = 1;
    h1_list_init(&l, v);
    while (h1_list_next(&l, &m)) {
        size_t i;

        /* Only bare codings: an empty member or one with parameters is
         * refused rather than guessed at. */
        if (m.len == 0) {
            te->bad = 1;
            continue;
        }
        for (i = 0; i < m.len; i++)
            if (!h1_tchar[(h1_uchar)m.p[i]])
                te->bad = 1;
        if (H1_IEQ(m, "chunked")) {
            te->nchunked++;
            te->last_chunked = 1;
        } else {
            te->nother++;
            te->last_chunked = 0;
        }
    }
}

/* Connection tokens we act on. */
#define H1_CONN_CLOSE 0x01
#define H1_CONN_KEEP_ALIVE 0x02
#define H1_CONN_UPGRADE 0x04
#define H1_CONN_H2_SETTINGS 0x08

static unsigned h1_connection(loom_slice_t v)
{
    h1_list_t l;
    loom_slice_t m;
    unsigned bits = 0;

    h1_list_init(&l, v);
    while (h1_list_next(&l, &m)) {
        if (H1_IEQ(m, "close"))
            bits |= H1_CONN_CLOSE;
        else if (H1_IEQ(m, "keep-alive"))
            bits |= H1_CONN_KEEP_ALIVE;
        else if (H1_IEQ(m, "upgrade"))
            bits |= H1_CONN_UPGRADE;
        else if (H1_IEQ(m, "http2-settings"))
            bits |= H1_CONN_H2_SETTINGS;
    }
    return bits;
}

static int h1_list_has(loom_slice_t v, const char *lc, size_t lcn)
{
    h1_list_t l;
    loom_slice_t m;

    h1_list_init(&l, v);
    while (h1_list_next(&l, &m))
        if (h1_ieq(m.p, m.len, lc, lcn))
            return 1;
    return 0;
}

int h1_framing(const h1_head_t *h, h1_framing_t *f, int *status)
{
    h1_te_t te = {0, 0, 0, 0, 0};
    int64_t cl = -1;
    int cl_seen = 0, cl_bad = 0, expect_100 = 0, expect_bad = 0, h2c = 0;
    size_t i, nhost = 0, nsettings = 0;
    unsigned conn = 0;
    int st = 0;

    f->host.p = NULL;
    f->host.len = 0;
    for (i = 0; i < h->nfields; i++) {
        const h1_field_t *fl = &h->fields[i];

        /* Dispatch on the name's length, then compare. */
        switch (fl->name.len) {
        case 4:
            if (H1_IEQ(fl->name, "host") && nhost++ == 0)
                f->host = fl->value;
            break;
        case 6:
            if (H1_IEQ(fl->name, "expect")) {
                if (H1_IEQ(fl->value, "100-continue"))
                    expect_100 = 1;
                else
                    expect_bad = 1;
            }
            break;
        case 7:
            if (H1_IEQ(fl->name, "upgrade") && h1_list_has(fl->value, "h2c", 3))
                h2c = 1;
            break;
        case 10:
            if (H1_IEQ(fl->name, "connection"))
                conn |= h1_connection(fl->value);
            break;
        case 14:
            if (H1_IEQ(fl->name, "content-length")) {
                cl_seen = 1;
                if (h1_content_length(fl->value, &cl) < 0)
                    cl_bad = 1;
            } else if (H1_IEQ(fl->name, "http2-settings")) {
                nsettings++;
            }
            break;
        case 17:
            if (H1_IEQ(fl->name, "transfer-encoding"))
                h1_transfer_encoding(fl->value, &te);
            break;
        default:
            break;
        }
    }

    /* Everything that makes the message unreadable first (400), then a
     * coding we lack (501), then an expectation we cannot meet (417). */
    if (te.seen && (h->minor == 0 || cl_seen || te.bad || te.nchunked != 1 ||
                    !te.last_chunked))
        st = 400;
    else if (cl_bad)
        st = 400;
    else if (nhost > 1 || (nhost == 0 && h->minor == 1))
        st = 400;
    else if (te.seen && te.nother)
        st = 501;
    else if (expect_bad)
        st = 417;
    if (st) {
        *status = st;
        return H1_ERROR;
    }

    f->chunked = te.seen;
    f->content_length = te.seen ? -1 : cl;
    if (h->minor == 1)
        f->keep_alive = !(conn & H1_CONN_CLOSE);
    else
        f->keep_alive = (conn & H1_CONN_KEEP_ALIVE) && !(conn & H1_CONN_CLOSE);
    /* An HTTP/1.0 client cannot know 100 Continue (RFC 9110 10.1.1), and
     * Upgrade is ignored in 1.0 requests (section 7.8). */
    f->expect_continue = expect_100 && h->minor == 1;
    f->upgrade_h2c = h->minor == 1 && h2c && nsettings == 1 &&
                     (conn & H1_CONN_UPGRADE) && (conn & H1_CONN_H2_SETTINGS);
    f->has_host = nhost == 1;
    return LOOM_OK;
}

const h1_field_t *h1_field_lookupn(const h1_field_t *f, size_t nfields,
                                   const char *name, size_t nlen)
{
    size_t i;

    for (i = 0; i < nfields; i++)
        if (f[i].name.len == nlen && h1_ieq(f[i].name.p, nlen, name, nlen))
            return &f[i];
    return NULL;
}

const h1_field_t *h1_field_lookup(const h1_field_t *f, size_t nfields,
                                  const char *name)
{
    return h1_field_lookupn(f, nfields, name, strlen(name));
}

const h1_field_t *h1_find_field(const h1_head_t *h, const char *name)
{
    return h1_field_lookup(h->fields, h->nfields, name);
}

/* ---- chunked transfer coding --------------------------------------------- */

enum {
    CK_SIZE0 = 0,   /* first hex digit of a chunk-size line */
    CK_SIZE,        /* more hex digits */
    CK_BWS,         /* whitespace after the size or a value: ';' must come */
    CK_EXT_NAME0,   /* after ';' (BWS), a name must start */
    CK_EXT_NAME,    /* in the name */
    CK_EXT_NAME_WS, /* whitespace after the name: '=' or ';' must come */
    CK_EXT_VAL0,    /* after '=' (BWS): token or quoted-string */
    CK_EXT_VAL,     /* in a token value */
    CK_EXT_QS,      /* in a quoted-string */
    CK_EXT_QS_ESC,  /* after a backslash in it */
    CK_EXT_QS_END,  /* after the closing quote */
    CK_SIZE_LF,     /* the size line's CR was read */
    CK_DATA,        /* chunk data, D->remain bytes left */
    CK_DATA_CR,     /* CRLF after the data */
    CK_DATA_LF,
    CK_TR_LINE, /* start of a trailer line or of the final CRLF */
    CK_TR_NAME,
    CK_TR_VALUE,
    CK_TR_LF,     /* a trailer line's CR was read */
    CK_TR_END_LF, /* the final CR was read */
    CK_DONE,
    CK_ERROR
};

void h1_chunked_init(h1_chunked_t *d)
{
    memset(d, 0, sizeof(*d));
    d->state = CK_SIZE0;
}

/* One framing byte C (not data) in state D->state; returns 0 or -1. */
static int h1_chunked_byte(h1_chunked_t *d, h1_uchar c)
{
    int s = d->state;

    if (s < CK_SIZE_LF && c != '\r' && ++d->line_len > H1_CHUNK_LINE_MAX)
        return -1;
    if (s >= CK_TR_LINE && ++d->trailer_len > H1_TRAILER_MAX)
        return -1;

    switch (s) {
    case CK_SIZE0:
    case CK_SIZE: {
        unsigned x = h1_hex[c];

        if (x != 0xff) {
            if (d->line_len > H1_CHUNK_DIGITS_MAX ||
                d->remain > ((uint64_t)INT64_MAX - x) >> 4)
                return -1;
            d->remain = (d->remain << 4) | x;
            d->state = CK_SIZE;
            return 0;
        }
        if (s == CK_SIZE0)
            return -1;
        if (c == ';')
            d->state = CK_EXT_NAME0;
        else if (h1_ows(c))
            d->state = CK_BWS;
        else if (c == '\r')
            d->state = CK_SIZE_LF;
        else
            return -1;
        return 0;
    }
    case CK_BWS:
        if (c == ';')
            d->state = CK_EXT_NAME0;
        else if (!h1_ows(c))
            return -1;
        return 0;
    case CK_EXT_NAME0:
        if (h1_tchar[c])
            d->state = CK_EXT_NAME;
        else if (!h1_ows(c))
            return -1;
        return 0;
    case CK_EXT_NAME:
    case CK_EXT_NAME_WS:
        if (s == CK_EXT_NAME && h1_tchar[c])
            return 0;
        if (h1_ows(c))
            d->state = CK_EXT_NAME_WS;
        else if (c == '=')
            d->state = CK_EXT_VAL0;
        else if (c == ';')
            d->state = CK_EXT_NAME0;
        else if (c == '\r' && s == CK_EXT_NAME)
            d->state = CK_SIZE_LF;
        else
            return -1;
        return 0;
    case CK_EXT_VAL0:
        if (h1_tchar[c])
            d->state = CK_EXT_VAL;
        else if (c == '"')
            d->state = CK_EXT_QS;
        else if (!h1_ows(c))
            return -1;
        return 0;
    case CK_EXT_VAL:
    case CK_EXT_QS_END:
        if (s == CK_EXT_VAL && h1_tchar[c])
            return 0;
        if (h1_ows(c))
            d->state = CK_BWS;
        else if (c == ';')
            d->state = CK_EXT_NAME0;
        else if (c == '\r')
            d->state = CK_SIZE_LF;
        else
            return -1;
        return 0;
    case CK_EXT_QS:
        if (c == '"')
            d->state = CK_EXT_QS_END;
        else if (c == '\\')
            d->state = CK_EXT_QS_ESC;
        else if (!h1_qdtext[c])
            return -1;
        return 0;
    case CK_EXT_QS_ESC:
        if (c != '\t' && (c < 0x20 || c == 0x7f))
            return -1;
        d->state = CK_EXT_QS;
        return 0;
    case CK_SIZE_LF:
        if (c != '\n')
            return -1;
        d->line_len = 0;
        d->state = d->remain ? CK_DATA : CK_TR_LINE;
        return 0;
    case CK_DATA_CR:
        if (c != '\r')
            return -1;
        d->state = CK_DATA_LF;
        return 0;
    case CK_DATA_LF:
        if (c != '\n')
            return -1;
        d->state = CK_SIZE0;
        return 0;
    case CK_TR_LINE:
        if (c == '\r')
            d->state = CK_TR_END_LF;
        else if (h1_tchar[c])
            d->state = CK_TR_NAME;
        else
            return -1; /* obs-fold, ':' or junk */
        return 0;
    case CK_TR_NAME:
        if (c == ':')
            d->state = CK_TR_VALUE;
        else if (!h1_tchar[c])
            return -1;
        return 0;
    case CK_TR_VALUE:
        if (c == '\r')
            d->state = CK_TR_LF;
        else if (!h1_fvalue[c])
            return -1;
        return 0;
    case CK_TR_LF:
        if (c != '\n')
            return -1;
        d->state = CK_TR_LINE;
        return 0;
    case CK_TR_END_LF:
        if (c != '\n')
            return -1;
        d->state = CK_DONE;
        d->done = 1;
        return 0;
    default:
        return -1;
    }
}

long h1_chunked_decode(h1_chunked_t *d, const char *buf, size_t len,
                       loom_slice_t *data)
{
    const h1_uchar *b = (const h1_uchar *)buf, *p = b, *end = b + len;

    data->p = buf;
    data->len = 0;
    if (d->state == CK_ERROR)
        return H1_ERROR;
    if (d->done)
        return 0;
    while (p < end) {
        if (d->state == CK_DATA) {
            size_t n = (size_t)(end - p);

            if (n > d->remain)
                n = (size_t)d->remain;
            data->p = (const char *)p;
            data->len = n;
            p += n;
            d->remain -= n;
            if (d->remain == 0)
                d->state = CK_DATA_CR;
            /* One data slice per call: stop after it. */
            return (long)(p - b);
        }
        if (h1_chunked_byte(d, *p++) < 0) {
            d->state = CK_ERROR;
            return H1_ERROR;
        }
        if (d->done)
            break;
    }
    data->p = (const char *)p;
    return (long)(p - b);
}

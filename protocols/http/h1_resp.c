/*
 * h1_resp.c - HTTP/1.1 response heads, response framing and body reading
 * (RFC 9112) without I/O; the contract is in h1_resp.h.
 *
 * The head is found first (the first LF followed by LF or CRLF), then
 * parsed strictly in one pass.  Finding the end first keeps a resumed call
 * cheap (only the new bytes are searched) and makes the verdict depend on
 * the complete head only: a prefix of a valid head is never an error.
 */
#include <string.h>

#include "h1_resp.h"

typedef unsigned char h1r_uchar;

/* Most body bytes one read returns, so that the count fits a long. */
#define H1R_READ_MAX ((size_t)1 << 30)

/* clang-format off */
/* Field values and reason phrases: HTAB, SP, VCHAR, obs-text. */
static const unsigned char h1r_text[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};
/* clang-format on */

static int h1r_ows(h1r_uchar c)
{
    return c == ' ' || c == '\t';
}

/* Length of the head in B[0..LEN) (through its empty line), searching
 * only line ends at FROM or later; 0 when there is none yet. */
static size_t h1r_head_end(const h1r_uchar *b, size_t len, size_t from)
{
    const h1r_uchar *p = b + from, *end = b + len;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - b);

        if (i >= 1 && b[i - 1] == '\n')
            return i + 1;
        if (i >= 2 && b[i - 1] == '\r' && b[i - 2] == '\n')
            return i + 1;
        p++;
    }
    return 0;
}

/* A line end at *P (before END): CRLF or LF.  Advances *P past it and
 * returns 0, or -1 when *P is not a line end. */
static int h1r_eol(const h1r_uchar **p, const h1r_uchar *end)
{
    const h1r_uchar *q = *p;

    if (q < end && *q == '\n') {
        *p = q + 1;
        return 0;
    }
    if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
        *p = q + 2;
        return 0;
    }
    return -1;
}

/* The status line at P: version SP status [SP reason] line-end. */
static int h1r_status_line(const h1r_uchar **pp, const h1r_uchar *end,
                           h1_resp_head_t *h)
{
    const h1r_uchar *p = *pp, *r;

    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    h->minor = p[7] - '0';
    p += 9;
    if (p[0] < '1' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] < '0' ||
        p[2] > '9')
        return -1;
    h->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    p += 3;
    h->reason.p = (const char *)p;
    h->reason.len = 0;
    if (p < end && *p == ' ') {
        r = ++p;
        while (p < end && h1r_text[*p])
            p++;
        h->reason.p = (const char *)r;
        h->reason.len = (size_t)(p - r);
    }
    if (h1r_eol(&p, end) != 0)
        return -1;
    *pp = p;
    return 0;
}

/* The header fields at P through the empty line. */
static int h1r_fields(const h1r_uchar **pp, const h1r_uchar *end,
                      h1_resp_head_t *h)
{
    const h1r_uchar *p = *pp, *name, *v, *ve;

    h->nfields = 0;
    while (h1r_eol(&p, end) != 0) {
        h1_field_t *f;

        if (h->nfields == h->max_fields)
            return -1;
        name = p;
        while (p < end && h1_tchar[*p])
            p++;
        if (p == name || p == end || *p != ':')
            return -1;
        f = &h->fields[h->nfields];
        f->name.p = (const char *)name;
        f->name.len = (size_t)(p - name);
        p++;
        while (p < end && h1r_ows(*p))
            p++;
        v = p;
        while (p < end && h1r_text[*p])
            p++;
        ve = p;
        if (h1r_eol(&p, end) != 0)
            return -1;
        while (ve > v && h1r_ows(ve[-1]))
            ve--;
        f->value.p = (const char *)v;
        f->value.len = (size_t)(ve - v);
        h->nfields++;
    }
    *pp = p;
    return 0;
}

int h1_resp_parse_head(const char *buf, size_t len, size_t last_len,
                       size_t max_head, h1_resp_head_t *h)
{
    const h1r_uchar *b = (const h1r_uchar *)buf, *p, *end;
    size_t from = last_len > 2 && last_len <= len ? last_len - 2 : 0;
    size_t n = h1r_head_end(b, len, from);

    if (n == 0)
        return len > max_head ? H1_ERROR : H1_PARTIAL;
    if (n > max_head || n > (size_t)1 << 30)
        return H1_ERROR;
    p = b;
    end = b + n;
    if (h1r_status_line(&p, end, h) != 0 || h1r_fields(&p, end, h) != 0 ||
        p != end)
        return H1_ERROR;
    return (int)n;
}

/* ---- framing ---------------------------------------------------------------
 */

/* The next member of comma list V from *POS (whitespace trimmed, empty
 * members skipped); 0 when there is none left. */
static int h1r_member(loom_slice_t v, size_t *pos, loom_slice_t *m)
{
    size_t i = *pos, s, e;

    for (;;) {
        while (i < v.len && (h1r_ows((h1r_uchar)v.p[i]) || v.p[i] == ','))
            i++;
        if (i >= v.len) {
            *pos = i;
            return 0;
        }
        s = i;
        while (i < v.len && v.p[i] != ',')
            i++;
        e = i;
        while (e > s && h1r_ows((h1r_uchar)v.p[e - 1]))
            e--;
        m->p = v.p + s;
        m->len = e - s;
        *pos = i;
        return 1;
    }
}

/* Fold one Content-Length field value into *CL (-1: none yet). */
static int h1r_content_length(loom_slice_t v, int64_t *cl)
{
    size_t pos = 0;
    loom_slice_t m;
    int any = 0;

    while (h1r_member(v, &pos, &m)) {
        int64_t x;

        any = 1;
        if (h1_digits(m, &x) != 0)
            return -1;
        if (*cl >= 0 && *cl != x)
            return -1;
        *cl = x;
    }
    return any ? 0 : -1;
}

int h1_resp_framing(const h1_resp_head_t *h, int head_request,
                    h1_resp_framing_t *f)
{
    int te = 0, te_chunked = 0, te_members = 0, close = 0;
    size_t i, pos;
    loom_slice_t m;

    memset(f, 0, sizeof(*f));
    f->content_length = -1;
    for (i = 0; i < h->nfields; i++) {
        const h1_field_t *fl = &h->fields[i];

        if (H1_IEQ(fl->name, "content-length")) {
            if (h1r_content_length(fl->value, &f->content_length) != 0)
                return H1_ERROR;
        } else if (H1_IEQ(fl->name, "transfer-encoding")) {
            te = 1;
            pos = 0;
            while (h1r_member(fl->value, &pos, &m)) {
                te_members++;
                te_chunked = H1_IEQ(m, "chunked");
            }
        } else if (H1_IEQ(fl->name, "connection")) {
            pos = 0;
            while (h1r_member(fl->value, &pos, &m))
                if (H1_IEQ(m, "close"))
                    close = 1;
        }
    }
    if (te && (f->content_length >= 0 || h->minor == 0 || te_members != 1 ||
               !te_chunked))
        return H1_ERROR;
    if (h->status < 200) {
        f->body = H1R_BODY_NONE;
        f->upgrade = h->status == 101;
        f->interim = !f->upgrade;
        f->keep_alive = !f->upgrade && h->minor == 1 && !close;
        return LOOM_OK;
    }
    if (head_request || h->status == 204 || h->status == 304)
        f->body = H1R_BODY_NONE;
    else if (te)
        f->body = H1R_BODY_CHUNKED;
    else if (f->content_length >= 0)
        f->body = H1R_BODY_LENGTH;
    else
        f->body = H1R_BODY_CLOSE;
    f->keep_alive = h->minor == 1 && !close && f->body != H1R_BODY_CLOSE;
    return LOOM_OK;
}

/* ---- the body --------------------------------------------------------------
 */

void h1_resp_body_init(h1_resp_body_t *b, const h1_resp_framing_t *f)
{
    memset(b, 0, sizeof(*b));
    b->mode = f->body;
    switch (f->body) {
    case H1R_BODY_LENGTH:
        b->left = f->content_length > 0 ? (uint64_t)f->content_length : 0;
        b->done = b->left == 0;
        break;
    case H1R_BODY_CHUNKED:
        h1_chunked_init(&b->ck);
        break;
    case H1R_BODY_CLOSE:
        break;
    default:
        b->mode = H1R_BODY_NONE;
        b->done = 1;
        break;
    }
}

long h1_resp_body_read(h1_resp_body_t *b, const char *buf, size_t len,
                       loom_slice_t *data)
{
    long n;

    data->p = buf;
    data->len = 0;
    if (b->done || len == 0)
        return 0;
    switch (b->mode) {
    case H1R_BODY_LENGTH:
        if ((uint64_t)len > b->left)
            len = (size_t)b->left;
        if (len > H1R_READ_MAX)
            len = H1R_READ_MAX;
        b->left -= len;
        b->done = b->left == 0;
        data->len = len;
        return (long)len;
    case H1R_BODY_CHUNKED:
        n = h1_chunked_decode(&b->ck, buf, len, data);
        if (n == H1_ERROR)
            return H1_ERROR;
        b->done = b->ck.done;
        return n;
    default: /* H1R_BODY_CLOSE */
        if (len > H1R_READ_MAX)
            len = H1R_READ_MAX;
        data->len = len;
        return (long)len;
    }
}

int h1_resp_body_eof(h1_resp_body_t *b)
{
    if (b->mode == H1R_BODY_CLOSE)
        b->done = 1;
    return b->done ? LOOM_OK : LOOM_ERROR;
}

/*
 * fuzz_http_util.c - libFuzzer target: the HTTP module's pure helpers
 * (protocols/http/http_util.h).
 *
 * The first byte picks the helper, the rest is its input:
 *   0 path:  http_path_normalize() against a plain reference (split on
 *            '/', decode, resolve dot segments on a stack); the output
 *            starts with '/', holds no "//", "/./", "/../", NUL or control
 *            byte, normalises to itself when it has no '%'; a small CAP
 *            (from the second byte) gives the same answer or -1 exactly
 *            when the result does not fit.
 *   1 range: the second byte picks a size (0..255, or huge); the result is
 *            checked against a reference that marks the bytes each spec
 *            covers in a bitmap; the same value with "BYTES" agrees.
 *   2 date:  a parsed date formats to 29 bytes that parse back to it; the
 *            first 8 bytes as a time format and parse back (clamped).
 *   3 cond:  lines "etag\nif-match\nif-none-match\nims\nius\nif-range":
 *            results are 0/304/412 and 0/1, 304 only for safe methods.
 *   4 text:  http_list_has (token = first line), http_slice_ieq, the
 *            built-in MIME table and http_etag_make.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- path ---------------------------------------------------------------- */

static int ref_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The reference: -1 or the length of the result in OUT (CAP large). */
static long ref_normalize(const char *p, size_t len, char *out, size_t cap)
{
    size_t *stack = malloc((len + 1) * sizeof(size_t)); /* segment starts */
    size_t depth = 0, i = 1, o = 1;
    int trailing = 1;

    if (len == 0 || p[0] != '/') {
        free(stack);
        return -1;
    }
    out[0] = '/';
    while (i <= len) {
        /* one raw segment [i, j) */
        size_t j = i, start;
        char seg[4096];
        size_t n = 0, k;

        while (j < len && p[j] != '/')
            j++;
        for (k = i; k < j; k++) {
            unsigned c = (unsigned char)p[k];

            if (c == '%') {
                if (k + 2 >= j || ref_hex(p[k + 1]) < 0 ||
                    ref_hex(p[k + 2]) < 0)
                    goto bad;
                c = (unsigned)(ref_hex(p[k + 1]) * 16 + ref_hex(p[k + 2]));
                k += 2;
                if (c == '/')
                    goto bad;
            }
            if (c < 0x20 || c == 0x7f)
                goto bad;
            seg[n++] = (char)c;
        }
        if (n == 0 || (n == 1 && seg[0] == '.')) {
            trailing = 1;
        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (depth == 0)
                goto bad;
            o = stack[--depth];
            trailing = 1;
        } else {
            /* a kept segment: "/" before it unless at the root */
            start = o;
            stack[depth++] = start;
            memcpy(out + o, seg, n);
            o += n;
            out[o++] = '/';
            trailing = 0;
        }
        i = j + 1;
    }
    /* every kept segment was written with a '/' after it */
    if (!trailing && o > 1)
        o--;
    out[o] = '\0';
    (void)cap;
    free(stack);
    return (long)o;
bad:
    free(stack);
    return -1;
}

static void fuzz_path(const uint8_t *d, size_t n)
{
    char *a, *b, *r, *small;
    size_t cap = 2 * n + 8, scap;
    long la, lb, lr, ls;

    if (n > 4000)
        return; /* the reference decodes a segment into 4096 bytes */
    a = malloc(cap);
    b = malloc(cap);
    r = malloc(cap);
    small = malloc(64);
    la = http_path_normalize((const char *)d, n, a, cap);
    lr = ref_normalize((const char *)d, n, r, cap);
    assert(la == lr);
    if (la >= 0) {
        size_t k;

        assert(memcmp(a, r, (size_t)la + 1) == 0);
        assert(a[0] == '/' && a[la] == '\0');
        assert(strlen(a) == (size_t)la);
        for (k = 0; k < (size_t)la; k++)
            assert((unsigned char)a[k] >= 0x20 && a[k] != 0x7f);
        assert(strstr(a, "//") == NULL);
        assert(strstr(a, "/./") == NULL);
        assert(strstr(a, "/../") == NULL);
        assert(!(la >= 2 && strcmp(a + la - 2, "/.") == 0));
        assert(!(la >= 3 && strcmp(a + la - 3, "/..") == 0));
        if (memchr(a, '%', (size_t)la) == NULL) {
            lb = http_path_normalize(a, (size_t)la, b, cap);
            assert(lb == la && memcmp(a, b, (size_t)la + 1) == 0);
        }
    }
    /* a smaller room: the same result, or -1 exactly when it is too big */
    scap = n ? d[0] % 64 : 0;
    ls = http_path_normalize((const char *)d, n, small, scap);
    if (la < 0 || (size_t)la + 1 > scap)
        assert(ls == -1);
    else
        assert(ls == la && memcmp(small, a, (size_t)la + 1) == 0);
    free(a);
    free(b);
    free(r);
    free(small);
}

/* ---- range --------------------------------------------------------------- */

#define REF_MAX 256

static int ref_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;

    if (s == end || *s < '0' || *s > '9')
        return 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    *v = x;
    return 1;
}

/* A reference for sizes up to REF_MAX: marks the bytes covered. */
static int ref_range(const char *v, size_t len, uint64_t size,
                     http_range_t *out)
{
    unsigned char cover[REF_MAX];
    const char *p = v, *end = v + len, *m, *e;
    int nspec = 0, any = 0;
    uint64_t i, first = 0, last = 0;

    memset(cover, 0, sizeof(cover));
    if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
        return HTTP_RANGE_NONE;
    p += 6;
    for (int more = 1; more;) {
        uint64_t f = 0, l = 0;
        int hf, hl;

        /* one member [m, e), trimmed */
        m = p;
        e = memchr(p, ',', (size_t)(end - p));
        if (e == NULL)
            e = end;
        more = e < end;
        p = more ? e + 1 : end;
        while (m < e && (*m == ' ' || *m == '\t'))
            m++;
        while (e > m && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (m == e)
            continue;
        hf = ref_u64(&m, e, &f);
        if (hf < 0 || m == e || *m != '-')
            return HTTP_RANGE_NONE;
        m++;
        hl = ref_u64(&m, e, &l);
        if (hl < 0 || m != e || (!hf && !hl) || (hf && hl && l < f))
            return HTTP_RANGE_NONE;
        if (++nspec > 16)
            return HTTP_RANGE_NONE;
        if (!hf) {
            if (l == 0 || size == 0)
                continue;
            f = l >= size ? 0 : size - l;
            l = size - 1;
        } else {
            if (f >= size)
                continue;
            if (!hl || l >= size)
                l = size - 1;
        }
        for (i = f; i <= l; i++)
            cover[i] = 1;
        any = 1;
    }
    if (nspec == 0)
        return HTTP_RANGE_NONE;
    if (!any)
        return HTTP_RANGE_UNSATISFIABLE;
    for (i = 0; i < size && !cover[i]; i++)
        ;
    first = i;
    for (; i < size && cover[i]; i++)
        ;
    last = i - 1;
    for (; i < size; i++)
        if (cover[i])
            return HTTP_RANGE_NONE; /* a second run */
    out->first = first;
    out->last = last;
    return HTTP_RANGE_OK;
}

static void fuzz_range(const uint8_t *d, size_t n)
{
    http_range_t r = {0, 0}, q = {0, 0};
    uint64_t size;
    int got, ref;
    char *up;

    if (n < 1)
        return;
    size = d[0] == 255 ? UINT64_MAX - d[0] : d[0];
    d++;
    n--;
    got = http_range_parse((const char *)d, n, size, &r);
    assert(got == HTTP_RANGE_NONE || got == HTTP_RANGE_OK ||
           got == HTTP_RANGE_UNSATISFIABLE);
    if (got == HTTP_RANGE_OK)
        assert(r.first <= r.last && r.last < size);
    if (size < REF_MAX) {
        ref = ref_range((const char *)d, n, size, &q);
        assert(got == ref);
        if (got == HTTP_RANGE_OK)
            assert(r.first == q.first && r.last == q.last);
    }
    /* the unit is case-insensitive */
    if (n >= 5) {
        http_range_t u = {0, 0};

        up = malloc(n);
        memcpy(up, d, n);
        for (size_t k = 0; k < 5; k++)
            if (up[k] >= 'a' && up[k] <= 'z')
                up[k] = (char)(up[k] - 32);
        assert(http_range_parse(up, n, size, &u) == got);
        if (got == HTTP_RANGE_OK)
            assert(u.first == r.first && u.last == r.last);
        free(up);
    }
}

/* ---- date ---------------------------------------------------------------- */

static void fuzz_date(const uint8_t *d, size_t n)
{
    char buf[HTTP_DATE_LEN + 1];
    time_t t = http_date_parse((const char *)d, n);

    if (t != -1) {
        assert(t >= 0);
        http_date_format(t, buf);
        assert(strlen(buf) == HTTP_DATE_LEN);
        assert(http_date_parse(buf, HTTP_DATE_LEN) == t);
    }
    if (n >= 8) {
        int64_t v;
        time_t back;

        memcpy(&v, d, 8);
        http_date_format((time_t)v, buf);
        assert(strlen(buf) == HTTP_DATE_LEN);
        back = http_date_parse(buf, HTTP_DATE_LEN);
        if (v < 0)
            assert(back == 0);
        else if (v > 253402300799LL)
            assert(back == (time_t)253402300799LL);
        else
            assert(back == (time_t)v);
    }
}

/* ---- cond ---------------------------------------------------------------- */

static void fuzz_cond(const uint8_t *d, size_t n)
{
    loom_slice_t f[6];
    const char *p = (const char *)d, *end = p + n;
    char etag[64];
    http_cond_t c;
    int k, r0, r1, ir;

    for (k = 0; k < 6; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        f[k].p = p;
        f[k].len = (size_t)((nl ? nl : end) - p);
        p = nl ? nl + 1 : end;
    }
    memset(&c, 0, sizeof(c));
    if (f[0].len < sizeof(etag)) {
        memcpy(etag, f[0].p, f[0].len);
        etag[f[0].len] = '\0';
        c.etag = etag;
    } else {
        c.etag = NULL;
    }
    c.mtime = 784111777;
    c.if_match = f[1];
    c.if_none_match = f[2];
    c.if_modified_since = f[3];
    c.if_unmodified_since = f[4];
    c.if_range = f[5];
    r0 = http_cond_eval(&c, 0);
    r1 = http_cond_eval(&c, 1);
    ir = http_cond_if_range(&c);
    assert(r0 == 0 || r0 == 412);
    assert(r1 == 0 || r1 == 304 || r1 == 412);
    assert(ir == 0 || ir == 1);
    if (f[5].len == 0)
        assert(ir == 1);
    /* the 412 of the first pair does not depend on the method */
    if (r1 == 412 || r0 == 412)
        assert(r0 == 412);
    if (f[1].len == 0 && f[2].len == 0 && f[3].len == 0 && f[4].len == 0)
        assert(r0 == 0 && r1 == 0);
}

/* ---- text ---------------------------------------------------------------- */

static http_mime_t *mime;

static void fuzz_text(const uint8_t *d, size_t n)
{
    const char *p = (const char *)d, *nl = memchr(p, '\n', n);
    size_t tlen = nl ? (size_t)(nl - p) : n;
    char *token = malloc(tlen + 1), *name = malloc(n + 1);
    char tag[HTTP_ETAG_MAX];
    const char *type;
    loom_slice_t s;
    int has;

    memcpy(token, p, tlen);
    token[tlen] = '\0';
    if (nl) {
        has = http_list_has(nl + 1, n - tlen - 1, token);
        assert(has == 0 || has == 1);
    }
    s.p = p;
    s.len = n;
    /* a slice equals its own lowercase form when it has no NUL */
    {
        char *low = malloc(n + 1);
        size_t k;

        for (k = 0; k < n; k++)
            low[k] = (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] + 32 : p[k]);
        low[n] = '\0';
        if (memchr(p, '\0', n) == NULL)
            assert(http_slice_ieq(s, low) == 1);
        free(low);
    }
    if (mime == NULL)
        mime = http_mime_load(NULL);
    memcpy(name, p, n);
    name[n] = '\0';
    type = http_mime_type(mime, name, NULL);
    assert(type == NULL || strchr(type, '/') != NULL);
    if (n >= 16) {
        int64_t t;
        uint64_t sz;

        memcpy(&t, d, 8);
        memcpy(&sz, d + 8, 8);
        assert(http_etag_make((time_t)t, sz, tag) == strlen(tag));
        assert(strlen(tag) < HTTP_ETAG_MAX && tag[0] == '"');
    }
    free(token);
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 5) {
    case 0:
        fuzz_path(data + 1, size - 1);
        break;
    case 1:
        fuzz_range(data + 1, size - 1);
        break;
    case 2:
        fuzz_date(data + 1, size - 1);
        break;
    case 3:
        fuzz_cond(data + 1, size - 1);
        break;
    default:
        fuzz_text(data + 1, size - 1);
        break;
    }
    return 0;
}

/*
 * test_h1_parse.c - the HTTP/1.1 request parser (protocols/http/h1_parse.h):
 * tables of valid request heads (method, target, version, fields, length)
 * and of invalid ones (status), each also fed cut at every byte the way a
 * server resumes with LAST_LEN; the exact limit boundaries; the framing
 * rules (Content-Length, Transfer-Encoding, Host, Connection, Expect, h2c
 * upgrade) with every request-smuggling shape we know of.  The chunked
 * decoder's tests are in test_h1_chunked.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1_parse.h"

#define NFIELDS_MAX 16
#define S_RAW(lit) .raw = lit, .len = sizeof(lit) - 1

static const h1_limits_t default_limits = {8192, 100, 32768};

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    h1_head_t h;
    h1_field_t fields[128];
    int status;
} parsed_t;

/* Parse RAW[0..LEN) copied into a buffer of exactly LEN bytes (so ASan sees
 * any read past the end); fills P, whose slices are rebased onto RAW. */
static int parse_copy(const char *raw, size_t len, size_t last_len,
                      const h1_limits_t *lim, parsed_t *p)
{
    char *copy = malloc(len ? len : 1);
    size_t i;
    int r;

    assert_non_null(copy);
    memcpy(copy, raw, len);
    memset(&p->h, 0, sizeof(p->h));
    p->h.fields = p->fields;
    p->h.max_fields = lim->max_fields + 1 < LOOM_ARRAY_LEN(p->fields)
                          ? lim->max_fields + 1
                          : LOOM_ARRAY_LEN(p->fields);
    p->status = 0;
    r = h1_parse_head(copy, len, last_len, lim, &p->h, &p->status);
    if (r > 0) {
#define REBASE(s)                                                              \
    do {                                                                       \
        assert_true((s).p >= copy && (s).p + (s).len <= copy + r);             \
        (s).p = raw + ((s).p - copy);                                          \
    } while (0)
        REBASE(p->h.method);
        REBASE(p->h.target);
        assert_true(p->h.nfields <= lim->max_fields);
        for (i = 0; i < p->h.nfields; i++) {
            REBASE(p->fields[i].name);
            REBASE(p->fields[i].value);
        }
#undef REBASE
    }
    free(copy);
    return r;
}

static int slice_is(loom_slice_t s, const char *want)
{
    return s.len == strlen(want) &&
           (s.len == 0 || memcmp(s.p, want, s.len) == 0);
}

static int same_head(const parsed_t *a, const parsed_t *b)
{
    size_t i;

    if (a->h.method.p != b->h.method.p || a->h.method.len != b->h.method.len ||
        a->h.target.p != b->h.target.p || a->h.target.len != b->h.target.len ||
        a->h.minor != b->h.minor || a->h.nfields != b->h.nfields)
        return 0;
    for (i = 0; i < a->h.nfields; i++)
        if (a->fields[i].name.p != b->fields[i].name.p ||
            a->fields[i].name.len != b->fields[i].name.len ||
            a->fields[i].value.p != b->fields[i].value.p ||
            a->fields[i].value.len != b->fields[i].value.len)
            return 0;
    return 1;
}

/* Feed RAW[0..k) for k = 1..LEN, passing the length of the last call that
 * answered H1_PARTIAL as LAST_LEN.  WANT is the one-shot answer (a length
 * or H1_ERROR with WANT_STATUS) for the whole input.  Every prefix must
 * answer H1_PARTIAL, or the same error once that is certain (from
 * FIRST_ERR on when nonzero: H1_PARTIAL before it, the error from it on),
 * or WANT once the head is complete; the full input must give WANT, also
 * when resumed from any prefix that answered H1_PARTIAL.
 * Returns 0, or 1 after printing what went wrong. */
static int check_splits(const char *name, const char *raw, size_t len,
                        const h1_limits_t *lim, int want, int want_status,
                        size_t first_err, const parsed_t *one)
{
    size_t k, last = 0;
    parsed_t *p = malloc(sizeof(*p));

    assert_non_null(p);
    for (k = 1; k <= len; k++) {
        int r = parse_copy(raw, k, last, lim, p);
        int ok;

        if (want > 0) {
            if ((size_t)want > k)
                ok = r == H1_PARTIAL;
            else
                ok = r == want && same_head(p, one);
        } else if (first_err) {
            ok = k < first_err ? r == H1_PARTIAL
                               : r == H1_ERROR && p->status == want_status;
        } else {
            ok = r == H1_PARTIAL || (r == H1_ERROR && p->status == want_status);
            if (k == len)
                ok = r == H1_ERROR && p->status == want_status;
        }
        if (!ok) {
            print_message("# FAIL %s: prefix %zu/%zu (last_len %zu) gave %d "
                          "status %d, want %d status %d\n",
                          name, k, len, last, r, p->status, want, want_status);
            free(p);
            return 1;
        }
        if (r == H1_PARTIAL)
            last = k;
    }
    /* two calls: a prefix, then everything with LAST_LEN at that prefix */
    for (k = 1; k < len; k++) {
        int r;

        if (parse_copy(raw, k, 0, lim, p) != H1_PARTIAL)
            continue;
        r = parse_copy(raw, len, k, lim, p);
        if (want > 0 ? r != want || !same_head(p, one)
                     : r != H1_ERROR || p->status != want_status) {
            print_message("# FAIL %s: %zu bytes after %zu gave %d status %d, "
                          "want %d status %d\n",
                          name, len, k, r, p->status, want, want_status);
            free(p);
            return 1;
        }
    }
    free(p);
    return 0;
}

/* ---- valid heads -------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *raw;
    size_t len;      /* 0: strlen(raw) */
    size_t head_len; /* 0: the whole input */
    const char *method, *target;
    int minor;
    const char *fields[2 * NFIELDS_MAX + 1]; /* name, value, ..., NULL */
    h1_limits_t lim;                         /* all 0: the defaults */
} valid_t;

#define WRK                                                                    \
    "GET /x HTTP/1.1\r\nHost: a\r\nUser-Agent: wrk/4.2.0\r\nAccept: "          \
    "*/*\r\n\r\n"

static const valid_t valid[] = {
    {.name = "simple",
     .raw = "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "wrk",
     .raw = WRK,
     .method = "GET",
     .target = "/x",
     .minor = 1,
     .fields = {"Host", "a", "User-Agent", "wrk/4.2.0", "Accept", "*/*"}},
    {.name = "curl",
     .raw = "GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
     .method = "GET",
     .target = "/index.html?a=1&b=%20",
     .minor = 1,
     .fields = {"Host", "127.0.0.1:8080", "User-Agent", "curl/7.88.1", "Accept",
                "*/*"}},
    {.name = "http10 no fields",
     .raw = "GET / HTTP/1.0\r\n\r\n",
     .method = "GET",
     .target = "/"},
    {.name = "http11 no fields",
     .raw = "GET / HTTP/1.1\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1},
    {.name = "bare LF",
     .raw = "GET / HTTP/1.1\nHost: a\n\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "LF then CRLF",
     .raw = "GET / HTTP/1.1\nHost: a\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "CRLF then LF",
     .raw = "GET / HTTP/1.1\r\nHost: a\r\n\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "bare LF no fields",
     .raw = "GET / HTTP/1.0\n\n",
     .method = "GET",
     .target = "/"},
    {.name = "one leading CRLF",
     .raw = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "four leading empty lines",
     .raw = "\r\n\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "trimmed values",
     .raw = "GET / HTTP/1.1\r\nA:   x y  \t\r\nB:\r\nC: \t \r\nD:z\r\n"
            "E:\tq\t\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"A", "x y", "B", "", "C", "", "D", "z", "E", "q"}},
    {.name = "htab and obs-text in value",
     .raw = "GET / HTTP/1.1\r\nX: a\tb \x80\xff\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"X", "a\tb \x80\xff"}},
    {.name = "value with colons and quotes",
     .raw = "GET / HTTP/1.1\r\nHost: a:80\r\nX: \"q:\\\"\" ;=,\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a:80", "X", "\"q:\\\"\" ;=,"}},
    {.name = "every tchar in a name",
     .raw = "GET / HTTP/1.1\r\nX-a!#$%&'*+-.^_`|~09: v\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"X-a!#$%&'*+-.^_`|~09", "v"}},
    {.name = "case kept",
     .raw = "GET / HTTP/1.1\r\nhOsT: A\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"hOsT", "A"}},
    {.name = "duplicate fields kept",
     .raw = "GET / HTTP/1.1\r\nA: 1\r\nA: 2\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"A", "1", "A", "2"}},
    {.name = "empty Host",
     .raw = "GET / HTTP/1.1\r\nHost:\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", ""}},
    {.name = "M-SEARCH asterisk",
     .raw = "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "M-SEARCH",
     .target = "*",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "OPTIONS asterisk",
     .raw = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "OPTIONS",
     .target = "*",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "CONNECT authority",
     .raw = "CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "CONNECT",
     .target = "a.example:443",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "absolute form",
     .raw = "GET http://a/b?c#d HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "GET",
     .target = "http://a/b?c#d",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "obs-text in target",
     .raw = "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "GET",
     .target = "/\xc3\xa9",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "odd token method",
     .raw = "~!#$%&'*+-.^_`|09 / HTTP/1.1\r\n\r\n",
     .method = "~!#$%&'*+-.^_`|09",
     .target = "/",
     .minor = 1},
    {.name = "body after head",
     .raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
     .head_len = 47,
     .method = "POST",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "a", "Content-Length", "5"}},
    {.name = "pipelined",
     .raw = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n",
     .head_len = 28,
     .method = "GET",
     .target = "/1",
     .minor = 1,
     .fields = {"Host", "a"}},
    {.name = "body starting with CRLF",
     .raw = "GET / HTTP/1.1\r\n\r\n\r\n\r\n",
     .head_len = 18,
     .method = "GET",
     .target = "/",
     .minor = 1},
    /* limits: exactly at each one is fine */
    {.name = "line exactly max_line",
     .raw = "GET /ab HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "GET",
     .target = "/ab",
     .minor = 1,
     .fields = {"Host", "a"},
     .lim = {16, 100, 32768}},
    {.name = "line exactly max_line, bare LF",
     .raw = "GET /ab HTTP/1.1\nHost: a\n\n",
     .method = "GET",
     .target = "/ab",
     .minor = 1,
     .fields = {"Host", "a"},
     .lim = {16, 100, 32768}},
    {.name = "head exactly max_head",
     .raw = "GET / HTTP/1.1\r\nHost: abc\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "abc"},
     .lim = {8192, 100, 13}},
    {.name = "head exactly max_head, bare LF",
     .raw = "GET / HTTP/1.1\r\nHost: abc\n\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"Host", "abc"},
     .lim = {8192, 100, 11}},
    {.name = "empty head, max_head 2",
     .raw = "GET / HTTP/1.1\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .lim = {8192, 100, 2}},
    {.name = "exactly max_fields",
     .raw = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
     .method = "GET",
     .target = "/",
     .minor = 1,
     .fields = {"A", "1", "B", "2", "C", "3"},
     .lim = {8192, 3, 32768}},
    {.name = "max_fields 0, no fields",
     .raw = "GET / HTTP/1.0\r\n\r\n",
     .method = "GET",
     .target = "/",
     .lim = {8192, 0, 32768}},
};

static int check_valid(const valid_t *t)
{
    h1_limits_t lim = t->lim.max_line ? t->lim : default_limits;
    size_t len = t->len ? t->len : strlen(t->raw);
    size_t want = t->head_len ? t->head_len : len, i, nf = 0;
    parsed_t *p = malloc(sizeof(*p));
    int r, rc = 0;

    assert_non_null(p);
    while (t->fields[2 * nf] != NULL)
        nf++;
    r = parse_copy(t->raw, len, 0, &lim, p);
    if (r != (int)want) {
        print_message("# FAIL %s: returned %d (status %d), want %zu\n", t->name,
                      r, p->status, want);
        rc = 1;
    } else if (!slice_is(p->h.method, t->method) ||
               !slice_is(p->h.target, t->target) || p->h.minor != t->minor ||
               p->h.nfields != nf) {
        print_message("# FAIL %s: '%.*s' '%.*s' 1.%d %zu fields\n", t->name,
                      (int)p->h.method.len, p->h.method.p, (int)p->h.target.len,
                      p->h.target.p, p->h.minor, p->h.nfields);
        rc = 1;
    } else {
        for (i = 0; i < nf; i++) {
            if (!slice_is(p->fields[i].name, t->fields[2 * i]) ||
                !slice_is(p->fields[i].value, t->fields[2 * i + 1])) {
                print_message("# FAIL %s: field %zu is '%.*s' = '%.*s'\n",
                              t->name, i, (int)p->fields[i].name.len,
                              p->fields[i].name.p, (int)p->fields[i].value.len,
                              p->fields[i].value.p);
                rc = 1;
                break;
            }
        }
    }
    if (rc == 0)
        rc = check_splits(t->name, t->raw, len, &lim, r, 0, 0, p);
    free(p);
    return rc;
}

static void test_valid_heads(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(valid); i++)
        failed += check_valid(&valid[i]);
    print_message("# %zu valid heads, %d failed\n", LOOM_ARRAY_LEN(valid),
                  failed);
    assert_int_equal(failed, 0);
}

/* ---- invalid heads ------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *raw;
    size_t len; /* 0: strlen(raw) */
    int status;
    size_t first_err; /* nonzero: the prefix length the error shows from */
    h1_limits_t lim;  /* all 0: the defaults */
} invalid_t;

#define RL "GET / HTTP/1.1\r\n"
#define HOST "Host: a\r\n"

static const invalid_t invalid[] = {
    /* request line */
    {.name = "two spaces after method",
     .raw = "GET  / HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "two spaces before version",
     .raw = "GET /  HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "SP in target",
     .raw = "GET /a b HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "trailing SP",
     .raw = "GET / HTTP/1.1 \r\n" HOST "\r\n",
     .status = 400},
    {.name = "leading SP",
     .raw = " GET / HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "HTAB separator",
     .raw = "GET\t/ HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "HTAB in target",
     .raw = "GET /a\tb HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "method not a token",
     .raw = "GE(T / HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "method with slash",
     .raw = "G/ET / HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "method obs-text",
     .raw = "G\xc3\xa9T / HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "no method", .raw = "/ HTTP/1.1\r\n" HOST "\r\n", .status = 400},
    {.name = "empty method", .raw = " / HTTP/1.1\r\n\r\n", .status = 400},
    {.name = "no target", .raw = "GET HTTP/1.1\r\n" HOST "\r\n", .status = 400},
    {.name = "HTTP/0.9 line", .raw = "GET /\r\n\r\n", .status = 400},
    {.name = "method only", .raw = "GET\r\n\r\n", .status = 400},
    {.name = "lowercase version",
     .raw = "GET / http/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "Http version",
     .raw = "GET / Http/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version no dot",
     .raw = "GET / HTTP/11\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version no minor",
     .raw = "GET / HTTP/1.\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version no major",
     .raw = "GET / HTTP/.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version two-digit minor",
     .raw = "GET / HTTP/1.10\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version two-digit major",
     .raw = "GET / HTTP/10.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version letters",
     .raw = "GET / HTTP/a.b\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version junk after",
     .raw = "GET / HTTP/1.1x\r\n" HOST "\r\n",
     .status = 400},
    {.name = "version missing", .raw = "GET / \r\n" HOST "\r\n", .status = 400},
    {.name = "version HTTP only",
     .raw = "GET / HTTP\r\n" HOST "\r\n",
     .status = 400},
    {.name = "NUL in target",
     S_RAW("GET /a\0b HTTP/1.1\r\n" HOST "\r\n"),
     .status = 400},
    {.name = "CTL in target",
     .raw = "GET /a\x01"
            "b HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "ESC in target",
     .raw = "GET /a\x1b HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "DEL in target",
     .raw = "GET /a\x7f HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "LF in target",
     .raw = "GET /a\nb HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "bare CR in target",
     .raw = "GET /a\rb HTTP/1.1\r\n" HOST "\r\n",
     .status = 400},
    {.name = "bare CR ending the line",
     .raw = "GET / HTTP/1.1\rHost: a\r\n\r\n",
     .status = 400},
    {.name = "CR CR LF",
     .raw = "GET / HTTP/1.1\r\r\n" HOST "\r\n",
     .status = 400},
    {.name = "NUL in method",
     S_RAW("G\0T / HTTP/1.1\r\n" HOST "\r\n"),
     .status = 400},
    {.name = "five leading empty lines",
     .raw = "\r\n\r\n\r\n\r\n\r\n" RL HOST "\r\n",
     .status = 400},
    {.name = "leading bare CR", .raw = "\r\r\n" RL HOST "\r\n", .status = 400},
    {.name = "leading SP line", .raw = " \r\n" RL HOST "\r\n", .status = 400},
    {.name = "leading NUL", S_RAW("\0" RL HOST "\r\n"), .status = 400},
    /* versions we do not speak */
    {.name = "HTTP/1.2",
     .raw = "GET / HTTP/1.2\r\n" HOST "\r\n",
     .status = 505},
    {.name = "HTTP/1.9",
     .raw = "GET / HTTP/1.9\r\n" HOST "\r\n",
     .status = 505},
    {.name = "HTTP/2.0",
     .raw = "GET / HTTP/2.0\r\n" HOST "\r\n",
     .status = 505},
    {.name = "HTTP/0.9",
     .raw = "GET / HTTP/0.9\r\n" HOST "\r\n",
     .status = 505},
    {.name = "HTTP/3.0", .raw = "GET / HTTP/3.0\r\n\r\n", .status = 505},
    {.name = "HTTP/9.9 bare LF", .raw = "GET / HTTP/9.9\n\n", .status = 505},
    {.name = "HTTP/2.0 before bad field",
     .raw = "GET / HTTP/2.0\r\nHost : a\r\n\r\n",
     .status = 505},
    /* field lines */
    {.name = "space before colon", .raw = RL "Host : x\r\n\r\n", .status = 400},
    {.name = "HTAB before colon", .raw = RL "Host\t: x\r\n\r\n", .status = 400},
    {.name = "obs-fold", .raw = RL "Host: a\r\n b\r\n\r\n", .status = 400},
    {.name = "obs-fold HTAB",
     .raw = RL "Host: a\r\n\tb\r\n\r\n",
     .status = 400},
    {.name = "first field indented",
     .raw = RL " Host: a\r\n\r\n",
     .status = 400},
    {.name = "empty name", .raw = RL ": x\r\n\r\n", .status = 400},
    {.name = "name not a token", .raw = RL "Ho(st: x\r\n\r\n", .status = 400},
    {.name = "name with obs-text",
     .raw = RL "H\xc3\xa9: x\r\n\r\n",
     .status = 400},
    {.name = "no colon", .raw = RL "Host x\r\n\r\n", .status = 400},
    {.name = "no colon, one token", .raw = RL "Host\r\n\r\n", .status = 400},
    {.name = "bare CR in value", .raw = RL "Host: a\rb\r\n\r\n", .status = 400},
    {.name = "bare CR after value",
     .raw = RL "Host: a\r\r\n\r\n",
     .status = 400},
    {.name = "bare CR as last line", .raw = RL HOST "\rX\r\n", .status = 400},
    {.name = "CR CR LF as last line", .raw = RL HOST "\r\r\n", .status = 400},
    {.name = "NUL in value", S_RAW(RL "X: a\0b\r\n\r\n"), .status = 400},
    {.name = "SOH in value",
     .raw = RL "X: a\x01"
               "b\r\n\r\n",
     .status = 400},
    {.name = "VT in value", .raw = RL "X: a\x0b\r\n\r\n", .status = 400},
    {.name = "ESC in value", .raw = RL "X: \x1b[1m\r\n\r\n", .status = 400},
    {.name = "DEL in value", .raw = RL "X: a\x7f\r\n\r\n", .status = 400},
    {.name = "NUL in name", S_RAW(RL "X\0Y: a\r\n\r\n"), .status = 400},
    /* limits */
    {.name = "line max_line + 1",
     .raw = "GET /abc HTTP/1.1\r\nHost: a\r\n\r\n",
     .status = 414,
     .first_err = 17,
     .lim = {16, 100, 32768}},
    {.name = "line max_line + 1, bare LF",
     .raw = "GET /abc HTTP/1.1\nHost: a\n\n",
     .status = 414,
     .first_err = 17,
     .lim = {16, 100, 32768}},
    {.name = "line max_line + 1 after leading CRLF",
     .raw = "\r\nGET /abc HTTP/1.1\r\nHost: a\r\n\r\n",
     .status = 414,
     .first_err = 19,
     .lim = {16, 100, 32768}},
    {.name = "long method",
     .raw = "GETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n",
     .status = 414,
     .first_err = 17,
     .lim = {16, 100, 32768}},
    {.name = "long target, no version yet",
     .raw = "GET /aaaaaaaaaaaaaaaaaaaaaaaa",
     .status = 414,
     .first_err = 17,
     .lim = {16, 100, 32768}},
    {.name = "long line: bad byte first wins",
     .raw = "G(T /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
     .status = 400,
     .first_err = 17, /* resumed: found once the limit makes it look */
     .lim = {16, 100, 32768}},
    {.name = "long line: bad byte after the limit",
     .raw = "GET /aaaaaaaaaaaaa\x01\r\n\r\n",
     .status = 414,
     .first_err = 17,
     .lim = {16, 100, 32768}},
    {.name = "line ends early at the limit",
     .raw = "GET /aaaaaaaaaaa\r\n\r\n",
     .status = 400,
     .lim = {16, 100, 32768}},
    {.name = "junk after version at the limit",
     .raw = "GET /ab HTTP/1.1x\r\n\r\n",
     .status = 414,
     .first_err = 17,
     .lim = {16, 100, 32768}},
    {.name = "junk after version",
     .raw = "GET /a HTTP/1.1x\r\n\r\n",
     .status = 400,
     .lim = {16, 100, 32768}},
    {.name = "head max_head + 1",
     .raw = "GET / HTTP/1.1\r\nHost: abcd\r\n\r\n",
     .status = 431,
     .first_err = 30,
     .lim = {8192, 100, 13}},
    {.name = "head max_head + 1, bare LF",
     .raw = "GET / HTTP/1.1\r\nHost: abcd\n\n",
     .status = 431,
     .first_err = 28,
     .lim = {8192, 100, 11}},
    {.name = "head max_head + 1, LF at the limit",
     .raw = "GET / HTTP/1.1\r\nHost: abc\r\n\r\n",
     .status = 431,
     .first_err = 29,
     .lim = {8192, 100, 12}},
    {.name = "empty head, max_head 1",
     .raw = "GET / HTTP/1.1\r\n\r\n",
     .status = 431,
     .first_err = 18,
     .lim = {8192, 100, 1}},
    {.name = "big head, never ending",
     .raw = RL "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     .status = 431,
     .first_err = 37,
     .lim = {8192, 100, 20}},
    {.name = "bad field before max_head",
     .raw = RL "X : aaaaaaaaaaaaaaaaaaaaaaaaaaa",
     .status = 400,
     .lim = {8192, 100, 20}},
    {.name = "max_fields + 1",
     .raw = RL "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
     .status = 431,
     .first_err = 35,
     .lim = {8192, 3, 32768}},
    {.name = "max_fields + 1, bare LF",
     .raw = RL "A: 1\nB: 2\nC: 3\nD: 4\n\n",
     .status = 431,
     .first_err = 32,
     .lim = {8192, 3, 32768}},
    {.name = "max_fields 0",
     .raw = RL "A: 1\r\n\r\n",
     .status = 431,
     .first_err = 17,
     .lim = {8192, 0, 32768}},
    {.name = "many tiny fields",
     .raw = RL "a:\nb:\nc:\nd:\ne:\nf:\n\n",
     .status = 431,
     .first_err = 26,
     .lim = {8192, 3, 32768}},
};

static int check_invalid(const invalid_t *t)
{
    h1_limits_t lim = t->lim.max_line ? t->lim : default_limits;
    size_t len = t->len ? t->len : strlen(t->raw);
    parsed_t *p = malloc(sizeof(*p));
    int r, rc = 0;

    assert_non_null(p);
    r = parse_copy(t->raw, len, 0, &lim, p);
    if (r != H1_ERROR || p->status != t->status) {
        print_message("# FAIL %s: returned %d status %d, want status %d\n",
                      t->name, r, p->status, t->status);
        rc = 1;
    }
    if (rc == 0)
        rc = check_splits(t->name, t->raw, len, &lim, H1_ERROR, t->status,
                          t->first_err, p);
    free(p);
    return rc;
}

static void test_invalid_heads(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(invalid); i++)
        failed += check_invalid(&invalid[i]);
    print_message("# %zu invalid heads, %d failed\n", LOOM_ARRAY_LEN(invalid),
                  failed);
    assert_int_equal(failed, 0);
}

/* Every lone byte value in the target, a field name and a field value:
 * accepted exactly where RFC 9110/9112 allow it. */
static void test_byte_classes(void **state)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    h1_limits_t lim = default_limits;
    parsed_t *p = malloc(sizeof(*p));
    char buf[64];
    int c;

    (void)state;
    assert_non_null(p);
    for (c = 0; c < 256; c++) {
        int target_ok = c > 0x20 && c != 0x7f;
        int name_ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                      (c >= 'a' && c <= 'z') ||
                      (c != 0 && strchr(tchars, c) != NULL);
        int value_ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        int n, r;

        /* target "/<c>" */
        n = snprintf(buf, sizeof(buf), "GET /%c HTTP/1.1\r\n\r\n", 'x');
        buf[5] = (char)c;
        r = parse_copy(buf, (size_t)n, 0, &lim, p);
        if (target_ok)
            assert_int_equal(r, n);
        else
            assert_true(r == H1_ERROR && p->status == 400);

        /* name "a<c>b" */
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\naxb: v\r\n\r\n");
        buf[17] = (char)c;
        r = parse_copy(buf, (size_t)n, 0, &lim, p);
        if (name_ok) {
            assert_int_equal(r, n);
            assert_int_equal(p->fields[0].name.len, 3);
        } else if (c == ':') {
            assert_int_equal(r, n); /* name "a", value "b: v" */
            assert_true(slice_is(p->fields[0].value, "b: v"));
        } else {
            assert_true(r == H1_ERROR && p->status == 400);
        }

        /* value "a<c>b" */
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nX: axb\r\n\r\n");
        buf[20] = (char)c;
        r = parse_copy(buf, (size_t)n, 0, &lim, p);
        if (value_ok) {
            assert_int_equal(r, n);
            assert_int_equal(p->fields[0].value.len, 3);
        } else {
            /* LF: "X: a" LF "b\r\n" has a line without a colon */
            assert_true(r == H1_ERROR && p->status == 400);
        }
    }
    free(p);
}

/* Every byte value at every position of a long target and a long field
 * value (so that it lands in every lane of the word-at-a-time scans), one
 * shot and, for a head still missing its end, resumed from before it. */
static void test_long_runs(void **state)
{
    h1_limits_t lim = default_limits;
    parsed_t *p = malloc(sizeof(*p));
    char buf[128];
    int c;
    size_t pos, n;

    (void)state;
    assert_non_null(p);
    for (c = 0; c < 256; c++) {
        int target_ok = c > 0x20 && c != 0x7f;
        int value_ok = c == '\t' || (c >= 0x20 && c != 0x7f);
        /* refused wherever they are in a head (a CR unless an LF follows) */
        int never_ok = (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;

        for (pos = 0; pos < 24; pos++) {
            /* "GET /" 24 bytes " HTTP/1.1\r\n\r\n" */
            memcpy(buf, "GET /", 5);
            memset(buf + 5, 'a', 24);
            memcpy(buf + 29, " HTTP/1.1\r\n\r\n", 13);
            buf[5 + pos] = (char)c;
            n = 42;
            if (target_ok)
                assert_int_equal(parse_copy(buf, n, 0, &lim, p), (int)n);
            else
                assert_true(parse_copy(buf, n, 0, &lim, p) == H1_ERROR &&
                            p->status == 400);

            /* RL "X: " 24 bytes "\r\n\r\n" */
            memcpy(buf, RL "X: ", 19);
            memset(buf + 19, 'a', 24);
            memcpy(buf + 43, "\r\n\r\n", 4);
            buf[19 + pos] = (char)c;
            n = 47;
            if (value_ok)
                assert_int_equal(parse_copy(buf, n, 0, &lim, p), (int)n);
            else if (c != '\n') /* LF: a head ending early or a bad line */
                assert_true(parse_copy(buf, n, 0, &lim, p) == H1_ERROR &&
                            p->status == 400);
            /* the same without the line end, resumed after the name */
            n = 43;
            if (never_ok && !(c == '\r' && pos == 23)) {
                assert_true(parse_copy(buf, n, 17, &lim, p) == H1_ERROR &&
                            p->status == 400);
            } else if (value_ok) {
                assert_int_equal(parse_copy(buf, n, 17, &lim, p), H1_PARTIAL);
            }
        }
    }
    free(p);
}

/* The limits at their exact boundaries, for several sizes, through both the
 * one-shot path and the resumed one. */
static void test_limit_boundaries(void **state)
{
    parsed_t *p = malloc(sizeof(*p));
    char buf[512];
    size_t ml;

    (void)state;
    assert_non_null(p);
    for (ml = 14; ml < 200; ml += 7) {
        h1_limits_t lim = {ml, 100, 32768};
        size_t t = ml - 13, n; /* "GET /" + t-1 + " HTTP/1.1" = ml */

        /* exactly max_line */
        memcpy(buf, "GET /", 5);
        memset(buf + 5, 'a', t - 1);
        memcpy(buf + 4 + t, " HTTP/1.1\r\n\r\n", 13);
        n = 4 + t + 13;
        assert_int_equal(parse_copy(buf, n, 0, &lim, p), (int)n);
        /* ... without its line end yet: partial, also resumed */
        assert_int_equal(parse_copy(buf, ml, 0, &lim, p), H1_PARTIAL);
        assert_int_equal(parse_copy(buf, ml + 1, ml, &lim, p), H1_PARTIAL);
        assert_int_equal(parse_copy(buf, ml + 1, 0, &lim, p), H1_PARTIAL);
        /* one more byte of line: 414 as soon as that byte is there */
        memset(buf + 5, 'a', t);
        memcpy(buf + 5 + t, " HTTP/1.1\r\n\r\n", 13);
        n = 5 + t + 13;
        assert_int_equal(parse_copy(buf, n, 0, &lim, p), H1_ERROR);
        assert_int_equal(p->status, 414);
        assert_int_equal(parse_copy(buf, ml, 0, &lim, p), H1_PARTIAL);
        assert_int_equal(parse_copy(buf, ml + 1, ml, &lim, p), H1_ERROR);
        assert_int_equal(p->status, 414);
        assert_int_equal(parse_copy(buf, ml + 1, 0, &lim, p), H1_ERROR);
        assert_int_equal(p->status, 414);
    }
    for (ml = 2; ml < 300; ml += 5) {
        /* header section of exactly ML bytes: "X: aaa\r\n" ... "\r\n" */
        h1_limits_t lim = {8192, 100, ml};
        size_t n;

        memcpy(buf, RL, 16);
        n = 16;
        if (ml >= 8) {
            memcpy(buf + n, "X: ", 3);
            memset(buf + n + 3, 'a', ml - 7);
            memcpy(buf + n + 3 + ml - 7, "\r\n", 2);
            n += ml - 2;
        } else if (ml != 2) {
            continue;
        }
        memcpy(buf + n, "\r\n", 2);
        n += 2;
        assert_int_equal(parse_copy(buf, n, 0, &lim, p), (int)n);
        assert_int_equal(parse_copy(buf, n, n - 1, &lim, p), (int)n);
        lim.max_head = ml - 1;
        assert_int_equal(parse_copy(buf, n, 0, &lim, p), H1_ERROR);
        assert_int_equal(p->status, 431);
        /* partial and resumed: 431 once max_head + 1 bytes are there */
        assert_int_equal(parse_copy(buf, 16 + ml - 1, 0, &lim, p), H1_PARTIAL);
        assert_int_equal(parse_copy(buf, 16 + ml - 1, 16 + ml - 2, &lim, p),
                         H1_PARTIAL);
        assert_int_equal(parse_copy(buf, 16 + ml, 16 + ml - 1, &lim, p),
                         H1_ERROR);
        assert_int_equal(p->status, 431);
    }
    free(p);
}

/* More fields than the caller's array holds: the array wins. */
static void test_fields_array_size(void **state)
{
    static const char req[] = RL "A: 1\r\nB: 2\r\n\r\n";
    h1_limits_t lim = default_limits;
    h1_field_t fields[2];
    h1_head_t h;
    int status = 0;

    (void)state;
    memset(&h, 0, sizeof(h));
    h.fields = fields;
    h.max_fields = 2;
    assert_int_equal(h1_parse_head(req, sizeof(req) - 1, 0, &lim, &h, &status),
                     (int)sizeof(req) - 1);
    assert_int_equal(h.nfields, 2);
    h.max_fields = 1;
    assert_int_equal(h1_parse_head(req, sizeof(req) - 1, 0, &lim, &h, &status),
                     H1_ERROR);
    assert_int_equal(status, 431);
}

/* Resuming: a head fed in pieces of every size gives the one-shot answer,
 * and bytes that are never valid in a head are refused before the end. */
static void test_resume(void **state)
{
    static const char req[] = WRK;
    h1_limits_t lim = default_limits;
    parsed_t *one = malloc(sizeof(*one)), *p = malloc(sizeof(*p));
    size_t step, n = sizeof(req) - 1;

    (void)state;
    assert_non_null(one);
    assert_non_null(p);
    assert_int_equal(parse_copy(req, n, 0, &lim, one), (int)n);
    for (step = 1; step < n; step++) {
        size_t k = 0, last = 0;
        int r = H1_PARTIAL;

        while (r == H1_PARTIAL) {
            k = k + step < n ? k + step : n;
            r = parse_copy(req, k, last, &lim, p);
            last = k;
        }
        assert_int_equal(r, (int)n);
        assert_int_equal(k, n);
        assert_true(same_head(p, one));
    }
    /* a control byte, a bare CR, DEL: refused while still partial */
    assert_int_equal(parse_copy(RL "X: a\x01", 21, 20, &lim, p), H1_ERROR);
    assert_int_equal(p->status, 400);
    assert_int_equal(parse_copy(RL "X: a\rb", 22, 21, &lim, p), H1_ERROR);
    assert_int_equal(p->status, 400);
    assert_int_equal(parse_copy(RL "X: a\x7f", 21, 18, &lim, p), H1_ERROR);
    assert_int_equal(p->status, 400);
    /* the head called again with no new bytes */
    assert_int_equal(parse_copy(req, 20, 20, &lim, p), H1_PARTIAL);
    assert_int_equal(parse_copy(req, n, n, &lim, p), (int)n);
    free(one);
    free(p);
}

/* ---- framing ------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *raw; /* the whole head */
    int status;      /* 0: h1_framing succeeds */
    int chunked;
    int64_t cl;
    int keep_alive, expect_continue, upgrade_h2c, has_host;
    const char *host; /* NULL: not checked */
} framing_t;

#define R11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define P11 "POST / HTTP/1.1\r\nHost: a\r\n"
#define R10 "GET / HTTP/1.0\r\n"

static const framing_t framings[] = {
    /* defaults */
    {.name = "1.1 plain",
     .raw = R11 "\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1,
     .host = "a"},
    {.name = "1.0 plain", .raw = R10 "\r\n", .cl = -1, .host = ""},
    /* Content-Length */
    {.name = "CL 5",
     .raw = P11 "Content-Length: 5\r\n\r\n",
     .cl = 5,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL 0",
     .raw = P11 "Content-Length: 0\r\n\r\n",
     .cl = 0,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL leading zeros",
     .raw = P11 "Content-Length: 007\r\n\r\n",
     .cl = 7,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL max",
     .raw = P11 "Content-Length: 9223372036854775807\r\n\r\n",
     .cl = INT64_MAX,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL list 5, 5",
     .raw = P11 "Content-Length: 5, 5\r\n\r\n",
     .cl = 5,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL list 5,5",
     .raw = P11 "Content-Length: 5,5\r\n\r\n",
     .cl = 5,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL list 5 ,\t5",
     .raw = P11 "Content-Length: 5 ,\t5\r\n\r\n",
     .cl = 5,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL twice, same",
     .raw = P11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
     .cl = 5,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL case",
     .raw = P11 "content-LENGTH: 5\r\n\r\n",
     .cl = 5,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "CL 1.0",
     .raw = "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
     .cl = 3},
    {.name = "CL 5, 6",
     .raw = P11 "Content-Length: 5, 6\r\n\r\n",
     .status = 400},
    {.name = "CL twice, different",
     .raw = P11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
     .status = 400},
    {.name = "CL twice, second bad",
     .raw = P11 "Content-Length: 5\r\nContent-Length: x\r\n\r\n",
     .status = 400},
    {.name = "CL +5", .raw = P11 "Content-Length: +5\r\n\r\n", .status = 400},
    {.name = "CL -5", .raw = P11 "Content-Length: -5\r\n\r\n", .status = 400},
    {.name = "CL -0", .raw = P11 "Content-Length: -0\r\n\r\n", .status = 400},
    {.name = "CL 5 5", .raw = P11 "Content-Length: 5 5\r\n\r\n", .status = 400},
    {.name = "CL 0x5", .raw = P11 "Content-Length: 0x5\r\n\r\n", .status = 400},
    {.name = "CL 5.0", .raw = P11 "Content-Length: 5.0\r\n\r\n", .status = 400},
    {.name = "CL 5e1", .raw = P11 "Content-Length: 5e1\r\n\r\n", .status = 400},
    {.name = "CL empty", .raw = P11 "Content-Length:\r\n\r\n", .status = 400},
    {.name = "CL space", .raw = P11 "Content-Length: \r\n\r\n", .status = 400},
    {.name = "CL empty member",
     .raw = P11 "Content-Length: 5,,5\r\n\r\n",
     .status = 400},
    {.name = "CL trailing comma",
     .raw = P11 "Content-Length: 5,\r\n\r\n",
     .status = 400},
    {.name = "CL comma", .raw = P11 "Content-Length: ,\r\n\r\n", .status = 400},
    {.name = "CL overflow",
     .raw = P11 "Content-Length: 99999999999999999999\r\n\r\n",
     .status = 400},
    {.name = "CL INT64_MAX + 1",
     .raw = P11 "Content-Length: 9223372036854775808\r\n\r\n",
     .status = 400},
    {.name = "CL obs-text",
     .raw = P11 "Content-Length: 5\xb9\r\n\r\n",
     .status = 400},
    /* Transfer-Encoding */
    {.name = "TE chunked",
     .raw = P11 "Transfer-Encoding: chunked\r\n\r\n",
     .chunked = 1,
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "TE Chunked",
     .raw = P11 "transfer-encoding: ChUnKeD\r\n\r\n",
     .chunked = 1,
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "TE gzip, chunked",
     .raw = P11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
     .status = 501},
    {.name = "TE gzip then chunked",
     .raw = P11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     .status = 501},
    {.name = "TE chunked, gzip",
     .raw = P11 "Transfer-Encoding: chunked, gzip\r\n\r\n",
     .status = 400},
    {.name = "TE chunked then gzip",
     .raw = P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
     .status = 400},
    {.name = "TE gzip",
     .raw = P11 "Transfer-Encoding: gzip\r\n\r\n",
     .status = 400},
    {.name = "TE identity",
     .raw = P11 "Transfer-Encoding: identity\r\n\r\n",
     .status = 400},
    {.name = "TE chunked, chunked",
     .raw = P11 "Transfer-Encoding: chunked, chunked\r\n\r\n",
     .status = 400},
    {.name = "TE chunked twice",
     .raw =
         P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     .status = 400},
    {.name = "TE gzip, chunked, chunked",
     .raw = P11 "Transfer-Encoding: gzip, chunked, chunked\r\n\r\n",
     .status = 400},
    {.name = "TE space",
     .raw = P11 "Transfer-Encoding: \r\n\r\n",
     .status = 400},
    {.name = "TE empty",
     .raw = P11 "Transfer-Encoding:\r\n\r\n",
     .status = 400},
    {.name = "TE comma",
     .raw = P11 "Transfer-Encoding: ,\r\n\r\n",
     .status = 400},
    {.name = "TE chunked,",
     .raw = P11 "Transfer-Encoding: chunked,\r\n\r\n",
     .status = 400},
    {.name = "TE ,chunked",
     .raw = P11 "Transfer-Encoding: ,chunked\r\n\r\n",
     .status = 400},
    {.name = "TE chunked with a parameter",
     .raw = P11 "Transfer-Encoding: chunked;q=1\r\n\r\n",
     .status = 400},
    {.name = "TE xchunked",
     .raw = P11 "Transfer-Encoding: xchunked\r\n\r\n",
     .status = 400},
    {.name = "TE chunk",
     .raw = P11 "Transfer-Encoding: chunk\r\n\r\n",
     .status = 400},
    {.name = "TE chunked-false",
     .raw = P11 "Transfer-Encoding: chunked-false\r\n\r\n",
     .status = 400},
    {.name = "TE quoted",
     .raw = P11 "Transfer-Encoding: \"chunked\"\r\n\r\n",
     .status = 400},
    {.name = "TE in 1.0",
     .raw = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     .status = 400},
    {.name = "CL and TE",
     .raw = P11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
     .status = 400},
    {.name = "TE and CL",
     .raw = P11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
     .status = 400},
    {.name = "TE and CL 0",
     .raw = P11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
     .status = 400},
    {.name = "TE and bad CL",
     .raw = P11 "Transfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n",
     .status = 400},
    /* Host */
    {.name = "no Host in 1.1", .raw = "GET / HTTP/1.1\r\n\r\n", .status = 400},
    {.name = "two Hosts", .raw = R11 "Host: b\r\n\r\n", .status = 400},
    {.name = "two Hosts, same", .raw = R11 "Host: a\r\n\r\n", .status = 400},
    {.name = "two Hosts in 1.0",
     .raw = R10 "Host: a\r\nhost: a\r\n\r\n",
     .status = 400},
    {.name = "empty Host",
     .raw = "GET / HTTP/1.1\r\nHost:\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1,
     .host = ""},
    {.name = "Host in 1.0",
     .raw = R10 "HOST: b.example:80\r\n\r\n",
     .cl = -1,
     .has_host = 1,
     .host = "b.example:80"},
    /* Connection */
    {.name = "1.1 close",
     .raw = R11 "Connection: close\r\n\r\n",
     .cl = -1,
     .has_host = 1},
    {.name = "1.1 CLOSE",
     .raw = R11 "Connection: CLOSE\r\n\r\n",
     .cl = -1,
     .has_host = 1},
    {.name = "1.1 Keep-Alive, close",
     .raw = R11 "Connection: Keep-Alive, close\r\n\r\n",
     .cl = -1,
     .has_host = 1},
    {.name = "1.1 close in a list",
     .raw = R11 "Connection: x ,close\t, y\r\n\r\n",
     .cl = -1,
     .has_host = 1},
    {.name = "1.1 close in a second field",
     .raw = R11 "Connection: keep-alive\r\nConnection: close\r\n\r\n",
     .cl = -1,
     .has_host = 1},
    {.name = "1.1 closed is no close",
     .raw = R11 "Connection: closed\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "1.1 keep-alive",
     .raw = R11 "Connection: keep-alive\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "1.0 keep-alive",
     .raw = R10 "Connection: keep-alive\r\n\r\n",
     .cl = -1,
     .keep_alive = 1},
    {.name = "1.0 Keep-Alive",
     .raw = R10 "Connection: Keep-Alive\r\n\r\n",
     .cl = -1,
     .keep_alive = 1},
    {.name = "1.0 keep-alive, close",
     .raw = R10 "Connection: keep-alive, close\r\n\r\n",
     .cl = -1},
    {.name = "1.0 close then keep-alive",
     .raw = R10 "Connection: close\r\nConnection: keep-alive\r\n\r\n",
     .cl = -1},
    {.name = "1.0 keep-alives",
     .raw = R10 "Connection: keep-alives\r\n\r\n",
     .cl = -1},
    /* Expect */
    {.name = "Expect 100-continue",
     .raw = P11 "Expect: 100-continue\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .expect_continue = 1,
     .has_host = 1},
    {.name = "Expect 100-Continue",
     .raw = P11 "expect: 100-Continue\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .expect_continue = 1,
     .has_host = 1},
    {.name = "Expect foo", .raw = P11 "Expect: foo\r\n\r\n", .status = 417},
    {.name = "Expect empty", .raw = P11 "Expect:\r\n\r\n", .status = 417},
    {.name = "Expect 100-continue, foo",
     .raw = P11 "Expect: 100-continue, foo\r\n\r\n",
     .status = 417},
    {.name = "Expect twice, one bad",
     .raw = P11 "Expect: 100-continue\r\nExpect: x\r\n\r\n",
     .status = 417},
    {.name = "Expect 1.0 ignored",
     .raw = "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
     .cl = -1},
    {.name = "Expect foo in 1.0",
     .raw = "POST / HTTP/1.0\r\nExpect: foo\r\n\r\n",
     .status = 417},
    /* h2c */
    {.name = "h2c",
     .raw = R11 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .upgrade_h2c = 1,
     .has_host = 1},
    {.name = "h2c, two Connection fields",
     .raw = R11 "connection: upgrade\r\nCONNECTION: http2-settings\r\n"
                "upgrade: websocket, H2C\r\nhttp2-settings: \r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .upgrade_h2c = 1,
     .has_host = 1},
    {.name = "h2c without HTTP2-Settings",
     .raw = R11 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "h2c with two HTTP2-Settings",
     .raw = R11 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: A\r\nHTTP2-Settings: B\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "h2c, Connection lacks HTTP2-Settings",
     .raw =
         R11 "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: A\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "h2c, Connection lacks Upgrade",
     .raw = R11 "Connection: HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: A\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "h2 is not h2c",
     .raw = R11 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2\r\n"
                "HTTP2-Settings: A\r\n\r\n",
     .cl = -1,
     .keep_alive = 1,
     .has_host = 1},
    {.name = "h2c in 1.0",
     .raw = R10 "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: A\r\n\r\n",
     .cl = -1},
    {.name = "h2c with close",
     .raw = R11 "Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: A\r\n\r\n",
     .cl = -1,
     .upgrade_h2c = 1,
     .has_host = 1},
    /* which problem is reported first */
    {.name = "gzip, chunked without Host",
     .raw = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     .status = 400},
    {.name = "Expect foo without Host",
     .raw = "POST / HTTP/1.1\r\nExpect: foo\r\n\r\n",
     .status = 400},
    {.name = "gzip, chunked and Expect foo",
     .raw = P11 "Transfer-Encoding: gzip, chunked\r\nExpect: foo\r\n\r\n",
     .status = 501},
    {.name = "bad CL and Expect foo",
     .raw = P11 "Content-Length: x\r\nExpect: foo\r\n\r\n",
     .status = 400},
};

static int check_framing(const framing_t *t)
{
    h1_limits_t lim = default_limits;
    parsed_t *p = malloc(sizeof(*p));
    h1_framing_t f;
    size_t len = strlen(t->raw);
    int r, status = 0, rc = 0;

    assert_non_null(p);
    memset(&f, 0x55, sizeof(f));
    r = parse_copy(t->raw, len, 0, &lim, p);
    if (r != (int)len) {
        print_message("# FAIL %s: head parse gave %d status %d\n", t->name, r,
                      p->status);
        free(p);
        return 1;
    }
    r = h1_framing(&p->h, &f, &status);
    if (t->status) {
        if (r != H1_ERROR || status != t->status) {
            print_message("# FAIL %s: framing gave %d status %d, want %d\n",
                          t->name, r, status, t->status);
            rc = 1;
        }
    } else if (r != LOOM_OK || f.chunked != t->chunked ||
               f.content_length != t->cl || f.keep_alive != t->keep_alive ||
               f.expect_continue != t->expect_continue ||
               f.upgrade_h2c != t->upgrade_h2c || f.has_host != t->has_host ||
               (t->host && !slice_is(f.host, t->host)) ||
               (!f.has_host && f.host.len != 0)) {
        print_message("# FAIL %s: framing gave %d status %d: chunked %d cl "
                      "%lld keep_alive %d expect %d h2c %d host %d '%.*s'\n",
                      t->name, r, status, f.chunked,
                      (long long)f.content_length, f.keep_alive,
                      f.expect_continue, f.upgrade_h2c, f.has_host,
                      (int)f.host.len, f.host.p ? f.host.p : "");
        rc = 1;
    }
    free(p);
    return rc;
}

static void test_framing(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(framings); i++)
        failed += check_framing(&framings[i]);
    print_message("# %zu framing cases, %d failed\n", LOOM_ARRAY_LEN(framings),
                  failed);
    assert_int_equal(failed, 0);
}

static void test_find_field(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Thing: 1\r\n"
                              "x-thing: 2\r\nCONTENT-TYPE: text/plain\r\n\r\n";
    h1_limits_t lim = default_limits;
    parsed_t *p = malloc(sizeof(*p));
    const h1_field_t *f;

    (void)state;
    assert_non_null(p);
    assert_int_equal(parse_copy(req, sizeof(req) - 1, 0, &lim, p),
                     (int)sizeof(req) - 1);
    f = h1_find_field(&p->h, "x-thing");
    assert_non_null(f);
    assert_true(slice_is(f->value, "1")); /* the first one */
    f = h1_find_field(&p->h, "content-type");
    assert_non_null(f);
    assert_true(slice_is(f->name, "CONTENT-TYPE"));
    assert_true(slice_is(f->value, "text/plain"));
    assert_non_null(h1_find_field(&p->h, "host"));
    assert_null(h1_find_field(&p->h, "x-thin"));
    assert_null(h1_find_field(&p->h, "x-things"));
    assert_null(h1_find_field(&p->h, "content_type"));
    assert_null(h1_find_field(&p->h, ""));
    p->h.nfields = 0;
    assert_null(h1_find_field(&p->h, "host"));
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_heads),
        cmocka_unit_test(test_invalid_heads),
        cmocka_unit_test(test_byte_classes),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_limit_boundaries),
        cmocka_unit_test(test_fields_array_size),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_find_field),
    };

    return cmocka_run_group_tests_name("h1_parse", tests, NULL, NULL);
}

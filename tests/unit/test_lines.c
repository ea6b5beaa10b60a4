/*
 * test_lines.c - the line helper (src/lines.h).
 *
 * Every input is run three ways: in one piece, split in two at every byte
 * boundary, and one byte at a time.  A small driver plays the core: it keeps
 * the unconsumed bytes, appends each piece, calls loom_lines_next on them
 * until it needs more, and drops what was consumed.  A line "R<n>" switches
 * the helper to raw mode for n bytes.  All three runs must record the same
 * items (adjacent raw chunks are merged, since raw data arrives in pieces).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lines.h"

/* What a run produced, as text: L[line] R[raw] T (too long), then
 * "|rest=N" with the number of bytes left unconsumed (not after T: the
 * core stops reading there, so that count depends on the split). */
typedef struct {
    char *s;
    size_t len, cap;
    int last_raw;
} rec_t;

static void rec_add(rec_t *r, const char *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->s = realloc(r->s, r->cap);
        assert_non_null(r->s);
    }
    memcpy(r->s + r->len, p, n);
    r->len += n;
    r->s[r->len] = '\0';
}

static void rec_str(rec_t *r, const char *s)
{
    rec_add(r, s, strlen(s));
}

/* The core's side of the contract. */
typedef struct {
    loom_lines_t lr;
    char *buf; /* unconsumed input */
    size_t len, cap;
    int dead; /* TOO_LONG seen: the core closes the connection */
    rec_t rec;
} driver_t;

static void drv_init(driver_t *d, size_t max_line)
{
    memset(d, 0, sizeof(*d));
    d->cap = 16;
    d->buf = malloc(d->cap);
    assert_non_null(d->buf);
    loom_lines_init(&d->lr, max_line);
}

/* A line "R<digits>" asks for that many raw bytes. */
static void drv_line(driver_t *d, loom_slice_t line)
{
    d->rec.last_raw = 0;
    rec_str(&d->rec, "L[");
    rec_add(&d->rec, line.p, line.len);
    rec_str(&d->rec, "]");
    if (line.len >= 2 && line.len < 12 && line.p[0] == 'R') {
        char num[16];
        size_t i;

        for (i = 1; i < line.len; i++)
            if (line.p[i] < '0' || line.p[i] > '9')
                return;
        memcpy(num, line.p + 1, line.len - 1);
        num[line.len - 1] = '\0';
        loom_lines_raw(&d->lr, strtoul(num, NULL, 10));
    }
}

static void drv_raw(driver_t *d, loom_slice_t chunk)
{
    if (d->rec.last_raw) {
        d->rec.len--; /* reopen "R[...]" */
    } else {
        rec_str(&d->rec, "R[");
    }
    rec_add(&d->rec, chunk.p, chunk.len);
    rec_str(&d->rec, "]");
    d->rec.last_raw = 1;
}

/* Append one piece and take every item it completes. */
static void drv_feed(driver_t *d, const char *p, size_t n)
{
    size_t off = 0;

    if (d->dead)
        return;
    if (d->len + n > d->cap) {
        d->cap = (d->len + n) * 2 + 16;
        d->buf = realloc(d->buf, d->cap);
        assert_non_null(d->buf);
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
    for (;;) {
        loom_slice_t out = {NULL, 0};
        size_t used = 12345;
        loom_lines_result_t r =
            loom_lines_next(&d->lr, d->buf + off, d->len - off, &out, &used);

        if (r == LOOM_LINES_MORE || r == LOOM_LINES_TOO_LONG) {
            assert_int_equal(used, 0);
            if (r == LOOM_LINES_TOO_LONG) {
                d->rec.last_raw = 0;
                rec_str(&d->rec, "T");
                d->dead = 1;
            }
            break;
        }
        assert_true(r == LOOM_LINES_LINE || r == LOOM_LINES_RAW);
        /* The item is a slice of the bytes handed in. */
        assert_true(used > 0 && used <= d->len - off);
        assert_true(out.p >= d->buf + off);
        assert_true(out.p + out.len <= d->buf + off + used);
        if (r == LOOM_LINES_LINE)
            drv_line(d, out);
        else
            drv_raw(d, out);
        off += used;
    }
    memmove(d->buf, d->buf + off, d->len - off);
    d->len -= off;
}

/* The record of a finished run; the caller frees it. */
static char *drv_finish(driver_t *d)
{
    char tail[48];

    if (!d->dead) {
        snprintf(tail, sizeof(tail), "|rest=%zu", d->len);
        rec_str(&d->rec, tail);
    }
    rec_str(&d->rec, ""); /* an empty record is "" */
    free(d->buf);
    return d->rec.s;
}

/* Run IN split at the offsets in CUTS (sorted, NCUTS of them). */
static char *run_cuts(const char *in, size_t len, size_t max_line,
                      const size_t *cuts, size_t ncuts)
{
    driver_t d;
    size_t prev = 0, i;

    drv_init(&d, max_line);
    for (i = 0; i < ncuts; i++) {
        drv_feed(&d, in + prev, cuts[i] - prev);
        prev = cuts[i];
    }
    drv_feed(&d, in + prev, len - prev);
    return drv_finish(&d);
}

static char *run_bytewise(const char *in, size_t len, size_t max_line)
{
    driver_t d;
    size_t i;

    drv_init(&d, max_line);
    for (i = 0; i < len; i++)
        drv_feed(&d, in + i, 1);
    return drv_finish(&d);
}

typedef struct {
    const char *in;
    size_t max_line;
    const char *want;
} lines_case_t;

static const lines_case_t cases[] = {
    /* delimiters */
    {"abc\n", 0, "L[abc]|rest=0"},
    {"abc\r\n", 0, "L[abc]|rest=0"},
    {"a\nb\r\nc\n", 0, "L[a]L[b]L[c]|rest=0"},
    {"one\r\ntwo\r\nthree\r\n", 0, "L[one]L[two]L[three]|rest=0"},
    {"\n\r\n\n", 0, "L[]L[]L[]|rest=0"},
    {"abc", 0, "|rest=3"},
    {"abc\r", 0, "|rest=4"},
    {"a\nbc", 0, "L[a]|rest=2"},
    {"a\rb\n", 0, "L[a\rb]|rest=0"},
    {"abc\r\r\n", 0, "L[abc\r]|rest=0"},
    {"\r", 0, "|rest=1"},
    {"", 0, "|rest=0"},
    /* max_line = 4 */
    {"abcd\n", 4, "L[abcd]|rest=0"},
    {"abcd\r\n", 4, "L[abcd]|rest=0"},
    {"abcde\n", 4, "T"},
    {"abcde\r\n", 4, "T"},
    {"abcd", 4, "|rest=4"},
    {"abcd\r", 4, "|rest=5"},
    {"abcde", 4, "|rest=5"},
    {"abcdef", 4, "T"},
    {"abcd\r\r", 4, "T"},
    {"ab\nabcdefgh\n", 4, "L[ab]T"},
    {"abcd\nabcd\r\nxy", 4, "L[abcd]L[abcd]|rest=2"},
    {"\n\n", 4, "L[]L[]|rest=0"},
    {"a\nb\nc\nd\ne\nf\n", 1, "L[a]L[b]L[c]L[d]L[e]L[f]|rest=0"},
    {"ab\n", 1, "T"},
    /* raw mode and back */
    {"R5\nhelloafter\n", 0, "L[R5]R[hello]L[after]|rest=0"},
    {"R7\na\nb\r\ncd\nx\n", 0, "L[R7]R[a\nb\r\ncd]L[]L[x]|rest=0"},
    {"R0\nx\n", 0, "L[R0]L[x]|rest=0"},
    {"R5\nabc", 0, "L[R5]R[abc]|rest=0"},
    {"R2\nxyR1\nz\n", 0, "L[R2]R[xy]L[R1]R[z]L[]|rest=0"},
    {"R10\n0123456789ab\n", 4, "L[R10]R[0123456789]L[ab]|rest=0"},
    {"R3\nabcdefghi", 4, "L[R3]R[abc]T"},
    {"R3\nabcdefgh", 4, "L[R3]R[abc]|rest=5"},
    {"R3\r\n\r\n\r\n", 0, "L[R3]R[\r\n\r]L[]|rest=0"},
    {"pre\nR4\nraw!post\r\nR1\n\n\n", 0,
     "L[pre]L[R4]R[raw!]L[post]L[R1]R[\n]L[]|rest=0"},
};

/* Runs one case every way; returns the number of mismatches. */
static int check_case(const lines_case_t *t)
{
    size_t len = strlen(t->in), k;
    int bad = 0;
    char *got;

    got = run_cuts(t->in, len, t->max_line, NULL, 0);
    if (strcmp(got, t->want) != 0) {
        print_message("# FAIL max=%zu whole: got '%s' want '%s'\n", t->max_line,
                      got, t->want);
        bad++;
    }
    free(got);
    for (k = 0; k <= len; k++) {
        got = run_cuts(t->in, len, t->max_line, &k, 1);
        if (strcmp(got, t->want) != 0) {
            print_message("# FAIL max=%zu split at %zu: got '%s' want '%s'\n",
                          t->max_line, k, got, t->want);
            bad++;
        }
        free(got);
    }
    got = run_bytewise(t->in, len, t->max_line);
    if (strcmp(got, t->want) != 0) {
        print_message("# FAIL max=%zu bytewise: got '%s' want '%s'\n",
                      t->max_line, got, t->want);
        bad++;
    }
    free(got);
    return bad;
}

static void test_table(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++)
        failed += check_case(&cases[i]);
    assert_int_equal(failed, 0);
}

/* Every pair of split points for a mixed input (lines, CRLF, raw). */
static void test_two_cuts(void **state)
{
    static const char in[] = "ab\r\nR6\nx\r\ny\nzcd\n\r\nend";
    const char *want = "L[ab]L[R6]R[x\r\ny\nz]L[cd]L[]|rest=3";
    size_t len = sizeof(in) - 1, c[2];
    int failed = 0;

    (void)state;
    for (c[0] = 0; c[0] <= len; c[0]++) {
        for (c[1] = c[0]; c[1] <= len; c[1]++) {
            char *got = run_cuts(in, len, 8, c, 2);

            if (strcmp(got, want) != 0) {
                print_message("# FAIL cuts %zu,%zu: got '%s'\n", c[0], c[1],
                              got);
                failed++;
            }
            free(got);
        }
    }
    assert_int_equal(failed, 0);
}

/* A max_line-long line then max_line + 1: OK, then TOO_LONG, for a range
 * of limits. */
static void test_limit_edges(void **state)
{
    size_t max;
    int failed = 0;

    (void)state;
    for (max = 1; max <= 40; max++) {
        char in[128], want[128];
        lines_case_t t;

        memset(in, 'x', max);
        in[max] = '\n';
        memset(in + max + 1, 'y', max + 1);
        strcpy(in + 2 * max + 2, "\r\n");
        memset(want, 0, sizeof(want));
        strcpy(want, "L[");
        memset(want + 2, 'x', max);
        strcpy(want + 2 + max, "]T");
        t.in = in;
        t.max_line = max;
        t.want = want;
        failed += check_case(&t);
    }
    assert_int_equal(failed, 0);
}

/* loom_lines_line_mode leaves raw mode at once. */
static void test_line_mode(void **state)
{
    loom_lines_t lr;
    loom_slice_t out;
    size_t used;

    (void)state;
    loom_lines_init(&lr, 0);
    loom_lines_raw(&lr, 100);
    assert_int_equal(loom_lines_next(&lr, "abc", 3, &out, &used),
                     LOOM_LINES_RAW);
    assert_int_equal(used, 3);
    assert_int_equal(loom_lines_next(&lr, "", 0, &out, &used), LOOM_LINES_MORE);
    assert_int_equal(used, 0);
    loom_lines_line_mode(&lr);
    assert_int_equal(loom_lines_next(&lr, "de\nf", 4, &out, &used),
                     LOOM_LINES_LINE);
    assert_int_equal(used, 3);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.p, "de", 2);
    assert_int_equal(loom_lines_next(&lr, "f", 1, &out, &used),
                     LOOM_LINES_MORE);
}

/* A 100000-byte line fed one byte at a time, no limit: each call searches
 * only the byte that is new, so the helper's total work is linear.  The
 * driver here never copies, so the test itself stays linear too. */
static void test_scanned_once(void **state)
{
    enum { N = 100000 };
    loom_lines_t lr;
    loom_slice_t out;
    size_t used, i, work = 0;
    char *buf = malloc(N + 1);

    (void)state;
    assert_non_null(buf);
    memset(buf, 'a', N);
    buf[N] = '\n';
    loom_lines_init(&lr, 0);
    for (i = 1; i <= N; i++) {
        size_t before = lr.scanned;

        assert_int_equal(loom_lines_next(&lr, buf, i, &out, &used),
                         LOOM_LINES_MORE);
        assert_int_equal(used, 0);
        /* everything buffered is now searched, and only the new byte was */
        assert_int_equal(lr.scanned, i);
        assert_true(before == i - 1);
        work += lr.scanned - before;
    }
    assert_int_equal(work, N);
    assert_int_equal(loom_lines_next(&lr, buf, N + 1, &out, &used),
                     LOOM_LINES_LINE);
    assert_int_equal(used, N + 1);
    assert_int_equal(out.len, N);
    assert_ptr_equal(out.p, buf);
    free(buf);
}

/* With a limit, the search never goes past max_line + 2 bytes however
 * much is buffered. */
static void test_scan_bounded(void **state)
{
    enum { N = 5000, MAX = 64 };
    loom_lines_t lr;
    loom_slice_t out;
    size_t used, i;
    char *buf = malloc(N);
    loom_lines_result_t r = LOOM_LINES_MORE;

    (void)state;
    assert_non_null(buf);
    memset(buf, 'b', N);
    loom_lines_init(&lr, MAX);
    for (i = 1; i <= N && r == LOOM_LINES_MORE; i++) {
        r = loom_lines_next(&lr, buf, i, &out, &used);
        assert_true(lr.scanned <= MAX + 2);
    }
    assert_int_equal(r, LOOM_LINES_TOO_LONG);
    assert_int_equal(i - 1, MAX + 2);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_two_cuts),
        cmocka_unit_test(test_limit_edges),
        cmocka_unit_test(test_line_mode),
        cmocka_unit_test(test_scanned_once),
        cmocka_unit_test(test_scan_bounded),
    };

    return cmocka_run_group_tests_name("lines", tests, NULL, NULL);
}

/*
 * test_http_util.c - the HTTP module's pure helpers
 * (protocols/http/http_util.h): tables of request paths and what they
 * normalise to, Range values against sizes, HTTP dates in their three
 * formats (with a round trip over many times), entity tags, conditional
 * requests branch by branch, If-Range, the MIME table (built-in and loaded
 * from a mime.types file), http_list_has and http_slice_ieq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static loom_slice_t sl(const char *s)
{
    loom_slice_t r = {s, s ? strlen(s) : 0};

    return r;
}

/* ---- paths -------------------------------------------------------------- */

static void test_path_table(void **state)
{
    static const struct {
        const char *in;
        size_t len;         /* 0: strlen(in) */
        const char *expect; /* NULL: refused (-1) */
    } cases[] = {
        {"/", 0, "/"},
        {"/index.html", 0, "/index.html"},
        {"/a/b/c", 0, "/a/b/c"},
        {"/a/b/", 0, "/a/b/"},
        {"/a/./b/../c", 0, "/a/c"},
        {"/a/b/..", 0, "/a/"},
        {"/a/b/../", 0, "/a/"},
        {"/a/.", 0, "/a/"},
        {"/a/./", 0, "/a/"},
        {"/.", 0, "/"},
        {"/./", 0, "/"},
        {"/a/..", 0, "/"},
        {"/a/../", 0, "/"},
        {"/a/../..", 0, NULL},
        {"/..", 0, NULL},
        {"/../", 0, NULL},
        {"/../a", 0, NULL},
        {"/a/../../b", 0, NULL},
        {"/a/%2e%2e/%2e%2e/x", 0, NULL},
        {"/a/%2E%2E", 0, "/"},
        {"/a/.%2E/b", 0, "/b"},
        {"/a/%2e./b", 0, "/b"},
        {"/x/.%2e/y", 0, "/y"},
        {"/%2e", 0, "/"},
        {"/%2e%2e", 0, NULL},
        {"/a/%2e/b", 0, "/a/b"},
        {"/a//b", 0, "/a/b"},
        {"//a///b//", 0, "/a/b/"},
        {"//", 0, "/"},
        {"/a/b//..", 0, "/a/"},
        {"/.../a", 0, "/.../a"}, /* "..." is an ordinary name */
        {"/..a/.b/a..", 0, "/..a/.b/a.."},
        {"/%41", 0, "/A"},
        {"/%4a%4A", 0, "/JJ"},
        {"/%7e", 0, "/~"},
        {"/a%20b", 0, "/a b"},
        {"/100%25", 0, "/100%"},
        {"/%252e%252e", 0, "/%2e%2e"}, /* decoded once, not twice */
        {"/%25/..", 0, "/"},
        {"/a+b", 0, "/a+b"},
        {"/caf\xc3\xa9", 0, "/caf\xc3\xa9"},
        {"/%c3%a9", 0, "/\xc3\xa9"},
        {"/\xff\x80", 0, "/\xff\x80"},
        {"/a?b", 0, "/a?b"}, /* the caller cut the query; '?' is a byte */
        {"/a%2fb", 0, NULL},
        {"/a%2Fb", 0, NULL},
        {"/%2f", 0, NULL},
        {"/%00", 0, NULL},
        {"/a\0b", 4, NULL},
        {"/a%", 0, NULL},
        {"/a%4", 0, NULL},
        {"/a%zz", 0, NULL},
        {"/a%4g", 0, NULL},
        {"/a%g4", 0, NULL},
        {"/%%41", 0, NULL},
        {"/a\tb", 0, NULL},
        {"/a\rb", 0, NULL},
        {"/a\nb", 0, NULL},
        {"/a\x7f", 0, NULL},
        {"/a%7f", 0, NULL},
        {"/a%0d%0a", 0, NULL},
        {"/a%1f", 0, NULL},
        {"a/b", 0, NULL},
        {"", 0, NULL},
        {"*", 0, NULL},
        {"%2fa", 0, NULL},
    };
    char out[256];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        long n;

        memset(out, 'X', sizeof(out));
        n = http_path_normalize(cases[i].in, len, out, sizeof(out));
        if (cases[i].expect == NULL) {
            if (n != -1)
                fail_msg("case %zu \"%s\": got \"%s\", want refusal", i,
                         cases[i].in, out);
        } else {
            if (n < 0)
                fail_msg("case %zu \"%s\": refused, want \"%s\"", i,
                         cases[i].in, cases[i].expect);
            assert_int_equal(n, strlen(cases[i].expect));
            assert_string_equal(out, cases[i].expect);
        }
    }
}

/* The output capacity: exactly enough, one short, and long intermediate
 * segments that ".." removes again. */
static void test_path_capacity(void **state)
{
    char out[64], big[300];
    long n;

    (void)state;
    /* "/abc" needs 5 bytes with the NUL */
    assert_int_equal(http_path_normalize("/abc", 4, out, 5), 4);
    assert_string_equal(out, "/abc");
    assert_int_equal(http_path_normalize("/abc", 4, out, 4), -1);
    assert_int_equal(http_path_normalize("/abc/", 5, out, 6), 5);
    assert_int_equal(http_path_normalize("/abc/", 5, out, 5), -1);
    assert_int_equal(http_path_normalize("/", 1, out, 2), 1);
    assert_int_equal(http_path_normalize("/", 1, out, 1), -1);
    assert_int_equal(http_path_normalize("/", 1, out, 0), -1);
    /* an escape counts as its one decoded byte */
    assert_int_equal(http_path_normalize("/%41%42", 7, out, 4), 3);
    assert_string_equal(out, "/AB");
    /* the final path fits although the way there does not */
    memset(big, 0, sizeof(big));
    strcpy(big, "/");
    memset(big + 1, 'a', 100);
    strcat(big, "/bbbbbbbbbbbbbbbbbbbbbbbbbb/../../c");
    n = http_path_normalize(big, strlen(big), out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out, "/c");
    memset(big, 0, sizeof(big));
    strcpy(big, "/d/");
    memset(big + 3, 'a', 100);
    strcat(big, "/b/..");
    n = http_path_normalize(big, strlen(big), out, 8);
    assert_int_equal(n, -1); /* "/d/aaa...a/" still does not fit */
    strcat(big, "/..");
    n = http_path_normalize(big, strlen(big), out, 8);
    assert_int_equal(n, 3);
    assert_string_equal(out, "/d/");
    /* "." and ".." segments that land exactly at the end of the room */
    assert_int_equal(http_path_normalize("/ab/..", 6, out, 3), 1);
    assert_string_equal(out, "/");
    assert_int_equal(http_path_normalize("/a/.", 4, out, 4), 3);
    assert_string_equal(out, "/a/");
    /* still refused for what it says even when it also does not fit */
    memset(big, 0, sizeof(big));
    strcpy(big, "/");
    memset(big + 1, 'a', 100);
    strcat(big, "/%00");
    assert_int_equal(http_path_normalize(big, strlen(big), out, 8), -1);
    memset(big, 0, sizeof(big));
    strcpy(big, "/");
    memset(big + 1, 'a', 100);
    strcat(big, "/../..");
    assert_int_equal(http_path_normalize(big, strlen(big), out, 8), -1);
}

/* Normalising a normalised path changes nothing. */
static void test_path_idempotent(void **state)
{
    static const char *const in[] = {
        "/a/./b/../c",           "/a/b/..",         "//x//y//",
        "/%2e%2e%2e/%41/",       "/a/%252e%252e/b", "/q/./",
        "/\xc3\xa9/../\xc3\xa8",
    };
    char a[128], b[128];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(in); i++) {
        long n = http_path_normalize(in[i], strlen(in[i]), a, sizeof(a));
        long m;

        assert_true(n > 0);
        /* a '%' in the output would be decoded again: skip those */
        if (memchr(a, '%', (size_t)n) != NULL)
            continue;
        m = http_path_normalize(a, (size_t)n, b, sizeof(b));
        assert_int_equal(m, n);
        assert_string_equal(a, b);
    }
}

/* ---- ranges ------------------------------------------------------------- */

#define RG_NONE HTTP_RANGE_NONE
#define RG_OK HTTP_RANGE_OK
#define RG_416 HTTP_RANGE_UNSATISFIABLE

static void test_range_table(void **state)
{
    static const struct {
        const char *v;
        uint64_t size;
        int expect;
        uint64_t first, last;
    } cases[] = {
        {"bytes=0-0", 10, RG_OK, 0, 0},
        {"bytes=0-9", 10, RG_OK, 0, 9},
        {"bytes=2-5", 10, RG_OK, 2, 5},
        {"bytes=9-9", 10, RG_OK, 9, 9},
        {"bytes=-1", 10, RG_OK, 9, 9},
        {"bytes=-3", 10, RG_OK, 7, 9},
        {"bytes=-10", 10, RG_OK, 0, 9},
        {"bytes=-11", 10, RG_OK, 0, 9},
        {"bytes=-18446744073709551615", 10, RG_OK, 0, 9},
        {"bytes=5-", 10, RG_OK, 5, 9},
        {"bytes=0-", 10, RG_OK, 0, 9},
        {"bytes=9-", 10, RG_OK, 9, 9},
        {"bytes=0-999999", 10, RG_OK, 0, 9},
        {"bytes=3-18446744073709551615", 10, RG_OK, 3, 9},
        {"bytes=10-", 10, RG_416, 0, 0},
        {"bytes=10-20", 10, RG_416, 0, 0},
        {"bytes=18446744073709551615-", 10, RG_416, 0, 0},
        {"bytes=-0", 10, RG_416, 0, 0},
        {"bytes=-0,10-", 10, RG_416, 0, 0},
        {"bytes=0-", 0, RG_416, 0, 0},
        {"bytes=-5", 0, RG_416, 0, 0},
        {"bytes=0-0", 0, RG_416, 0, 0},
        {"bytes=1-0", 10, RG_NONE, 0, 0},
        {"bytes=5-4", 10, RG_NONE, 0, 0},
        {"bytes=0-1,9-4", 10, RG_NONE, 0, 0}, /* one bad spec spoils all */
        /* several specs: merged when they overlap or touch */
        {"bytes=0-1,2-3", 10, RG_OK, 0, 3},
        {"bytes=2-3,0-1", 10, RG_OK, 0, 3},
        {"bytes=0-5,3-7", 10, RG_OK, 0, 7},
        {"bytes=0-9,2-3", 10, RG_OK, 0, 9},
        {"bytes=0-1,5-6", 10, RG_NONE, 0, 0},
        {"bytes=0-1,5-6,2-4", 10, RG_OK, 0, 6},
        {"bytes=0-1,-2", 10, RG_NONE, 0, 0},
        {"bytes=0-1,-9", 10, RG_OK, 0, 9},
        {"bytes=0-1,20-30", 10, RG_OK, 0, 1}, /* unsatisfiable one dropped */
        {"bytes=0-1,0-1", 10, RG_OK, 0, 1},
        {"bytes=5-,-5", 10, RG_OK, 5, 9},
        /* whitespace and empty members */
        {"bytes=0-1, 2-3", 10, RG_OK, 0, 3},
        {"bytes=0-1 ,\t2-3", 10, RG_OK, 0, 3},
        {"bytes=0-1, 3-4", 10, RG_NONE, 0, 0},
        {"bytes=0-1, 3-4", 2, RG_OK, 0, 1},
        {"bytes= 0-1", 10, RG_OK, 0, 1},
        {"bytes=0-1 ", 10, RG_OK, 0, 1},
        {"bytes=,0-1", 10, RG_OK, 0, 1},
        {"bytes=0-1,", 10, RG_OK, 0, 1},
        {"bytes=0-1,,,2-2", 10, RG_OK, 0, 2},
        {"bytes=0 -1", 10, RG_NONE, 0, 0},
        {"bytes=0- 1", 10, RG_NONE, 0, 0},
        {"bytes=- 1", 10, RG_NONE, 0, 0},
        {" bytes=0-1", 10, RG_NONE, 0, 0},
        {"bytes =0-1", 10, RG_NONE, 0, 0},
        {"bytes= ", 10, RG_NONE, 0, 0},
        {"bytes=", 10, RG_NONE, 0, 0},
        {"bytes=,", 10, RG_NONE, 0, 0},
        {"bytes", 10, RG_NONE, 0, 0},
        {"", 10, RG_NONE, 0, 0},
        /* the unit */
        {"BYTES=0-1", 10, RG_OK, 0, 1},
        {"Bytes=0-1", 10, RG_OK, 0, 1},
        {"items=0-1", 10, RG_NONE, 0, 0},
        {"byte=0-1", 10, RG_NONE, 0, 0},
        {"bytesx=0-1", 10, RG_NONE, 0, 0},
        /* bad specs */
        {"bytes=-", 10, RG_NONE, 0, 0},
        {"bytes=a-1", 10, RG_NONE, 0, 0},
        {"bytes=0-1a", 10, RG_NONE, 0, 0},
        {"bytes=0", 10, RG_NONE, 0, 0},
        {"bytes=--1", 10, RG_NONE, 0, 0},
        {"bytes=+1-2", 10, RG_NONE, 0, 0},
        {"bytes=0-1;2-3", 10, RG_NONE, 0, 0},
        {"bytes=0x1-2", 10, RG_NONE, 0, 0},
        /* numbers beyond uint64_t */
        {"bytes=18446744073709551616-", 10, RG_NONE, 0, 0},
        {"bytes=0-18446744073709551616", 10, RG_NONE, 0, 0},
        {"bytes=-18446744073709551616", 10, RG_NONE, 0, 0},
        {"bytes=99999999999999999999999-", 10, RG_NONE, 0, 0},
        /* leading zeros are digits like any other */
        {"bytes=0000000000000000000000000001-0002", 10, RG_OK, 1, 2},
        /* a file as big as uint64_t allows */
        {"bytes=-1", UINT64_MAX, RG_OK, UINT64_MAX - 1, UINT64_MAX - 1},
        {"bytes=18446744073709551614-", UINT64_MAX, RG_OK, UINT64_MAX - 1,
         UINT64_MAX - 1},
        {"bytes=0-5,6-18446744073709551615", UINT64_MAX, RG_OK, 0,
         UINT64_MAX - 1},
        /* 16 specs are fine, 17 are not (even when all would merge) */
        {"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,"
         "13-13,14-14,15-15",
         100, RG_OK, 0, 15},
        {"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,"
         "13-13,14-14,15-15,16-16",
         100, RG_NONE, 0, 0},
        {"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,"
         "13-13,14-14,15-15,16-16",
         5, RG_NONE, 0, 0},
        {",,,,,,,,,,,,,,,,,,,,", 10, RG_NONE, 0, 0},
        {"bytes=,,,,,,,,,,,,,,,,,,,,0-1", 10, RG_OK, 0, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        http_range_t r = {77, 77};
        int got =
            http_range_parse(cases[i].v, strlen(cases[i].v), cases[i].size, &r);

        if (got != cases[i].expect)
            fail_msg("case %zu \"%s\" size %llu: got %d, want %d", i,
                     cases[i].v, (unsigned long long)cases[i].size, got,
                     cases[i].expect);
        if (got == RG_OK &&
            (r.first != cases[i].first || r.last != cases[i].last))
            fail_msg("case %zu \"%s\": got %llu-%llu, want %llu-%llu", i,
                     cases[i].v, (unsigned long long)r.first,
                     (unsigned long long)r.last,
                     (unsigned long long)cases[i].first,
                     (unsigned long long)cases[i].last);
    }
}

/* Only LEN bytes are looked at: a value in a larger buffer. */
static void test_range_len(void **state)
{
    http_range_t r;

    (void)state;
    assert_int_equal(http_range_parse("bytes=0-1999", 9, 100, &r), RG_OK);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, 1);
    assert_int_equal(http_range_parse("bytes=0-1,junk", 9, 100, &r), RG_OK);
}

/* ---- dates -------------------------------------------------------------- */

static void test_date_format(void **state)
{
    static const struct {
        int64_t t;
        const char *s;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {978307199, "Sun, 31 Dec 2000 23:59:59 GMT"},
        {1709210096, "Thu, 29 Feb 2024 12:34:56 GMT"},
        {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},
        {4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
        /* clamped: before 1970 and after 9999 */
        {-1, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {253402300800, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };
    char out[HTTP_DATE_LEN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        if (sizeof(time_t) < 8 && (cases[i].t > INT32_MAX))
            continue;
        memset(out, 'X', sizeof(out));
        http_date_format((time_t)cases[i].t, out);
        assert_string_equal(out, cases[i].s);
        assert_int_equal(strlen(out), HTTP_DATE_LEN);
    }
}

/* The year a two-digit RFC 850 year stands for today, for the tests. */
static int current_year(void)
{
    char buf[HTTP_DATE_LEN + 1];

    http_date_format(time(NULL), buf);
    return atoi(buf + 12);
}

static void test_date_parse_table(void **state)
{
    static const struct {
        const char *s;
        int64_t t; /* -1: invalid */
    } cases[] = {
        /* the three formats of RFC 9110's example */
        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},
        {"Sun Nov  6 08:49:37 1994", 784111777},
        {"Sun Nov 06 08:49:37 1994", 784111777},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Thu Jan  1 00:00:00 1970", 0},
        {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
        {"Mon Dec 31 23:59:59 1979", 315532799},
        /* two-digit years 92 and 94 stay in the 1900s until 2042 */
        {"Wednesday, 09-Nov-94 08:49:37 GMT", 784370977},
        {"Saturday, 29-Feb-92 00:00:00 GMT", 699321600},
        /* a leap second counts into the next minute */
        {"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800},
        /* a weekday that does not fit the date is tolerated */
        {"Mon, 06 Nov 1994 08:49:37 GMT", 784111777},
        {"Monday, 06-Nov-94 08:49:37 GMT", 784111777},
        {"Fri Nov  6 08:49:37 1994", 784111777},
        /* bad names */
        {"Sux, 06 Nov 1994 08:49:37 GMT", -1},
        {"sun, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nox 1994 08:49:37 GMT", -1},
        {"Sun, 06 November 1994 08:49:37 GMT", -1},
        {"Sunday, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06-Nov-94 08:49:37 GMT", -1},
        {"Sundax, 06-Nov-94 08:49:37 GMT", -1},
        {"Sunda, 06-Nov-94 08:49:37 GMT", -1},
        {"Mon, 06 Nov 1994 08:49:37 gmt", -1},
        /* out of range fields */
        {"Sun, 32 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 31 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 00 Nov 1994 08:49:37 GMT", -1},
        {"Tue, 29 Feb 1900 00:00:00 GMT", -1}, /* not a leap year */
        {"Tue, 29 Feb 2100 00:00:00 GMT", -1},
        {"Sun, 29 Feb 1994 00:00:00 GMT", -1},
        {"Sun, 06 Nov 1994 24:00:00 GMT", -1},
        {"Sun, 06 Nov 1994 23:60:00 GMT", -1},
        {"Sun, 06 Nov 1994 23:59:61 GMT", -1},
        {"Wed, 31 Dec 1969 23:59:59 GMT", -1}, /* before the epoch */
        {"Mon, 01 Jan 0001 00:00:00 GMT", -1},
        /* missing or extra pieces */
        {"Sun, 06 Nov 1994 08:49:37", -1},
        {"Sun, 06 Nov 1994 08:49:37 UTC", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMT ", -1},
        {" Sun, 06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:37 GMTx", -1},
        {"Sunday, 06-Nov-94 08:49:37", -1},
        {"Sunday, 06-Nov-94 08:49:37 GMT;", -1},
        {"Sun Nov  6 08:49:37 1994 GMT", -1},
        {"Sun Nov  6 08:49:37 94", -1},
        {"Sun Nov 6 08:49:37 1994", -1},
        {"Sun Nov   6 08:49:37 1994", -1},
        {"Sun, 6 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 94 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 8:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49 GMT", -1},
        {"Sun, 06 Nov 1994 08-49-37 GMT", -1},
        {"Sun,  06 Nov 1994 08:49:37 GMT", -1},
        {"Sun,06 Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 1994 08:49:3x GMT", -1},
        {"Sun, 0x Nov 1994 08:49:37 GMT", -1},
        {"Sun, 06 Nov 19x4 08:49:37 GMT", -1},
        {"Sunday, 06-Nov-1994 08:49:37 GMT", -1},
        {"Sunday, 06-Nov-9 08:49:37 GMT", -1},
        {"1994-11-06T08:49:37Z", -1},
        {"784111777", -1},
        {"", -1},
        {"Sun", -1},
        {"Sun,", -1},
        {"Sun ", -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        time_t got = http_date_parse(cases[i].s, strlen(cases[i].s));

        if ((int64_t)got != cases[i].t)
            fail_msg("case %zu \"%s\": got %lld, want %lld", i, cases[i].s,
                     (long long)got, (long long)cases[i].t);
    }
}

/* RFC 850's two-digit years: more than 50 years ahead means the past. */
static void test_date_two_digit_year(void **state)
{
    int now = current_year(), off;

    (void)state;
    for (off = -49; off <= 50; off++) {
        int y = now + off;
        char want[HTTP_DATE_LEN + 1], rfc850[64];
        time_t t;

        /* 01 Jan of Y, written both ways */
        snprintf(want, sizeof(want), "Mon, 01 Jan %04d 00:00:00 GMT", y);
        snprintf(rfc850, sizeof(rfc850), "Monday, 01-Jan-%02d 00:00:00 GMT",
                 y % 100);
        t = http_date_parse(rfc850, strlen(rfc850));
        if (y < 1970) {
            assert_int_equal(t, -1);
            continue;
        }
        if (t != http_date_parse(want, strlen(want)))
            fail_msg("\"%s\" is not %d", rfc850, y);
    }
    /* 1994 is a year of the past for a long time yet */
    if (now < 2044)
        assert_int_equal(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30),
                         784111777);
}

static void test_date_round_trip(void **state)
{
    char buf[HTTP_DATE_LEN + 1], asc[32], rfc850[48];
    static const char *const wday[7] = {"Sunday",    "Monday",   "Tuesday",
                                        "Wednesday", "Thursday", "Friday",
                                        "Saturday"};
    int64_t t, step;
    int now = current_year(), k;

    (void)state;
    /* every day from 1970 to 2200 (a prime step moves the time of day),
     * then big steps to the end of 9999 */
    for (t = 0, step = 86399 + 7; t <= 253402300799LL; t += step) {
        time_t got;

        if (sizeof(time_t) < 8 && t > INT32_MAX)
            break;
        if (t > 7258118400LL) /* 2200 */
            step = 86400 * 97 + 4001;
        http_date_format((time_t)t, buf);
        got = http_date_parse(buf, HTTP_DATE_LEN);
        if ((int64_t)got != t)
            fail_msg("%lld -> \"%s\" -> %lld", (long long)t, buf,
                     (long long)got);
        /* the same time as asctime: "Sun Nov  6 08:49:37 1994" */
        memcpy(asc, buf, 3);
        asc[3] = ' ';
        memcpy(asc + 4, buf + 8, 3);
        asc[7] = ' ';
        asc[8] = buf[5] == '0' ? ' ' : buf[5];
        asc[9] = buf[6];
        asc[10] = ' ';
        memcpy(asc + 11, buf + 17, 8);
        asc[19] = ' ';
        memcpy(asc + 20, buf + 12, 4);
        assert_int_equal(http_date_parse(asc, 24), got);
        /* and as RFC 850 when the two-digit year means the same year */
        k = atoi(buf + 12);
        if (k > now - 50 && k <= now + 50) {
            static const char wd[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
            int w;
            int n;

            for (w = 0; w < 7; w++)
                if (memcmp(buf, wd[w], 3) == 0)
                    break;
            assert_true(w < 7);
            n = snprintf(rfc850, sizeof(rfc850), "%s, %.2s-%.3s-%.2s %.8s GMT",
                         wday[w], buf + 5, buf + 8, buf + 14, buf + 17);
            assert_int_equal(http_date_parse(rfc850, (size_t)n), got);
        }
    }
}

/* Only LEN bytes are read: no NUL needed, and garbage after is outside. */
static void test_date_len(void **state)
{
    static const char s[] = "Sun, 06 Nov 1994 08:49:37 GMTxyz";

    (void)state;
    assert_int_equal(http_date_parse(s, HTTP_DATE_LEN), 784111777);
    assert_int_equal(http_date_parse(s, HTTP_DATE_LEN - 1), -1);
    assert_int_equal(http_date_parse(s, HTTP_DATE_LEN + 1), -1);
    assert_int_equal(http_date_parse(s, 0), -1);
}

/* ---- entity tags -------------------------------------------------------- */

static void test_etag(void **state)
{
    char out[HTTP_ETAG_MAX];

    (void)state;
    assert_int_equal(http_etag_make(0x65f1a2b3, 13, out), 12);
    assert_string_equal(out, "\"65f1a2b3-d\"");
    assert_int_equal(http_etag_make(0, 0, out), 5);
    assert_string_equal(out, "\"0-0\"");
    http_etag_make(1, UINT64_MAX, out);
    assert_string_equal(out, "\"1-ffffffffffffffff\"");
    assert_true(strlen(out) < HTTP_ETAG_MAX);
    http_etag_make((time_t)-1, UINT64_MAX, out);
    assert_true(strlen(out) < HTTP_ETAG_MAX);
    assert_int_equal(out[0], '"');
    /* a different size or time gives a different tag */
    {
        char a[HTTP_ETAG_MAX], b[HTTP_ETAG_MAX];

        http_etag_make(1000, 10, a);
        http_etag_make(1000, 11, b);
        assert_string_not_equal(a, b);
        http_etag_make(1001, 10, b);
        assert_string_not_equal(a, b);
    }
}

/* ---- conditional requests ----------------------------------------------- */

#define MT 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define D_EQ "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_OLDER "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_NEWER "Sun, 06 Nov 1994 08:49:38 GMT"
#define D_BAD "Sun, 06 Nov 1994 08:49:37 XYZ"
#define ET "\"abc-1\""

static void test_cond_table(void **state)
{
    static const struct {
        const char *im, *inm, *ims, *ius; /* NULL: absent */
        int safe, expect;
    } cases[] = {
        /* nothing: proceed */
        {NULL, NULL, NULL, NULL, 1, 0},
        {NULL, NULL, NULL, NULL, 0, 0},
        /* If-Match: strong comparison, lists, "*" */
        {ET, NULL, NULL, NULL, 1, 0},
        {ET, NULL, NULL, NULL, 0, 0},
        {"\"other\"", NULL, NULL, NULL, 1, 412},
        {"\"other\"", NULL, NULL, NULL, 0, 412},
        {"W/" ET, NULL, NULL, NULL, 1, 412},
        {"\"a\", " ET, NULL, NULL, NULL, 0, 0},
        {"\"a\", \"b\"", NULL, NULL, NULL, 0, 412},
        {"\"a\",W/\"b\"," ET, NULL, NULL, NULL, 0, 0},
        {"\"a\",W/" ET, NULL, NULL, NULL, 0, 412},
        {"*", NULL, NULL, NULL, 0, 0},
        {" * ", NULL, NULL, NULL, 0, 0},
        {"\"abc-1", NULL, NULL, NULL, 0, 412},    /* unterminated */
        {"abc-1", NULL, NULL, NULL, 0, 412},      /* unquoted */
        {"\"abc-1\"x", NULL, NULL, NULL, 0, 412}, /* junk after */
        {"\"a,b\", " ET, NULL, NULL, NULL, 0, 0}, /* comma in a tag */
        {"\"x\" junk, " ET, NULL, NULL, NULL, 0, 0},
        {"*x", NULL, NULL, NULL, 0, 412},
        /* If-Match takes precedence over If-Unmodified-Since */
        {ET, NULL, NULL, D_OLDER, 0, 0},
        {"\"other\"", NULL, NULL, D_NEWER, 0, 412},
        /* If-Unmodified-Since alone */
        {NULL, NULL, NULL, D_OLDER, 0, 412},
        {NULL, NULL, NULL, D_OLDER, 1, 412},
        {NULL, NULL, NULL, D_EQ, 0, 0},
        {NULL, NULL, NULL, D_NEWER, 0, 0},
        {NULL, NULL, NULL, D_BAD, 0, 0},
        {NULL, NULL, NULL, "yesterday", 0, 0},
        {NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:36 GMT", 0, 412},
        {NULL, NULL, NULL, "Sun Nov  6 08:49:36 1994", 0, 412},
        /* If-None-Match: weak comparison; 304 for GET/HEAD, 412 else */
        {NULL, ET, NULL, NULL, 1, 304},
        {NULL, ET, NULL, NULL, 0, 412},
        {NULL, "W/" ET, NULL, NULL, 1, 304},
        {NULL, "W/" ET, NULL, NULL, 0, 412},
        {NULL, "\"other\"", NULL, NULL, 1, 0},
        {NULL, "\"other\"", NULL, NULL, 0, 0},
        {NULL, "\"a\", \"b\"", NULL, NULL, 1, 0},
        {NULL, "\"a\", " ET, NULL, NULL, 1, 304},
        {NULL, "\"a\",W/" ET ",\"c\"", NULL, NULL, 1, 304},
        {NULL, "*", NULL, NULL, 1, 304},
        {NULL, "*", NULL, NULL, 0, 412},
        {NULL, "abc-1", NULL, NULL, 1, 0},
        {NULL, "w/" ET, NULL, NULL, 1, 0}, /* "W/" is case-sensitive */
        /* If-None-Match takes precedence over If-Modified-Since */
        {NULL, "\"other\"", D_NEWER, NULL, 1, 0},
        {NULL, ET, D_OLDER, NULL, 1, 304},
        /* If-Modified-Since: GET/HEAD only */
        {NULL, NULL, D_EQ, NULL, 1, 304},
        {NULL, NULL, D_NEWER, NULL, 1, 304},
        {NULL, NULL, D_OLDER, NULL, 1, 0},
        {NULL, NULL, D_EQ, NULL, 0, 0},
        {NULL, NULL, D_BAD, NULL, 1, 0},
        {NULL, NULL, "", NULL, 1, 0},
        {NULL, NULL, " " D_EQ " ", NULL, 1, 304},
        {NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", NULL, 1, 304},
        {NULL, NULL, "Sun Nov  6 08:49:37 1994", NULL, 1, 304},
        {NULL, NULL, "Sun Nov  6 08:49:36 1994", NULL, 1, 0},
        /* both kinds: 412 from the first pair wins over the second */
        {"\"other\"", ET, NULL, NULL, 1, 412},
        {NULL, ET, NULL, D_OLDER, 1, 412},
        {ET, ET, NULL, NULL, 1, 304},
        {ET, ET, NULL, NULL, 0, 412},
        {ET, "\"other\"", D_NEWER, NULL, 1, 0},
        {NULL, NULL, D_NEWER, D_NEWER, 1, 304},
        {NULL, NULL, D_NEWER, D_OLDER, 1, 412},
        {"*", "*", NULL, NULL, 1, 304},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        http_cond_t c;
        int got;

        memset(&c, 0, sizeof(c));
        c.etag = ET;
        c.mtime = MT;
        c.if_match = sl(cases[i].im);
        c.if_none_match = sl(cases[i].inm);
        c.if_modified_since = sl(cases[i].ims);
        c.if_unmodified_since = sl(cases[i].ius);
        got = http_cond_eval(&c, cases[i].safe);
        if (got != cases[i].expect)
            fail_msg("case %zu (im=%s inm=%s ims=%s ius=%s safe=%d): got %d,"
                     " want %d",
                     i, cases[i].im ? cases[i].im : "-",
                     cases[i].inm ? cases[i].inm : "-",
                     cases[i].ims ? cases[i].ims : "-",
                     cases[i].ius ? cases[i].ius : "-", cases[i].safe, got,
                     cases[i].expect);
    }
}

/* A representation without an entity tag: only "*" matches. */
static void test_cond_no_etag(void **state)
{
    http_cond_t c;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.mtime = MT;
    c.if_match = sl("*");
    assert_int_equal(http_cond_eval(&c, 1), 0);
    c.if_match = sl(ET);
    assert_int_equal(http_cond_eval(&c, 1), 412);
    c.if_match = sl(NULL);
    c.if_none_match = sl(ET);
    assert_int_equal(http_cond_eval(&c, 1), 0);
    c.if_range = sl(ET);
    assert_int_equal(http_cond_if_range(&c), 0);
}

/* A weak tag on the representation (the contract promises a strong one;
 * checked anyway): never a strong match, still a weak one. */
static void test_cond_weak_etag(void **state)
{
    http_cond_t c;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.etag = "W/" ET;
    c.mtime = MT;
    c.if_match = sl("W/" ET);
    assert_int_equal(http_cond_eval(&c, 1), 412);
    c.if_match = sl(ET);
    assert_int_equal(http_cond_eval(&c, 1), 412);
    c.if_match = sl("*");
    assert_int_equal(http_cond_eval(&c, 1), 0);
    c.if_match = sl(NULL);
    c.if_none_match = sl(ET);
    assert_int_equal(http_cond_eval(&c, 1), 304);
    c.if_none_match = sl("W/" ET);
    assert_int_equal(http_cond_eval(&c, 0), 412);
    c.if_range = sl("W/" ET);
    assert_int_equal(http_cond_if_range(&c), 0);
    c.if_range = sl(ET);
    assert_int_equal(http_cond_if_range(&c), 0);
}

static void test_if_range(void **state)
{
    static const struct {
        const char *v; /* NULL: absent */
        int expect;
    } cases[] = {
        {NULL, 1},
        {ET, 1},
        {" " ET " ", 1},
        {"W/" ET, 0}, /* weak tags never match strongly */
        {"\"other\"", 0},
        {ET ", \"other\"", 0}, /* one tag, not a list */
        {"\"abc-1", 0},
        {D_EQ, 1},
        {D_OLDER, 0},
        {D_NEWER, 0},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 1},
        {"Sun Nov  6 08:49:37 1994", 1},
        {D_BAD, 0},
        {"garbage", 0},
        {" ", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        http_cond_t c;

        memset(&c, 0, sizeof(c));
        c.etag = ET;
        c.mtime = MT;
        c.if_range = sl(cases[i].v);
        if (http_cond_if_range(&c) != cases[i].expect)
            fail_msg("case %zu \"%s\": want %d", i,
                     cases[i].v ? cases[i].v : "-", cases[i].expect);
    }
    /* If-Range plays no part in http_cond_eval */
    {
        http_cond_t c;

        memset(&c, 0, sizeof(c));
        c.etag = ET;
        c.mtime = MT;
        c.if_range = sl("\"other\"");
        assert_int_equal(http_cond_eval(&c, 1), 0);
    }
}

/* ---- MIME types ---------------------------------------------------------- */

static void test_mime_builtin(void **state)
{
    static const struct {
        const char *name, *type; /* type NULL: the default */
    } cases[] = {
        {"index.html", "text/html"},
        {"INDEX.HTML", "text/html"},
        {"a.HtM", "text/html"},
        {"style.css", "text/css"},
        {"app.js", "text/javascript"},
        {"mod.mjs", "text/javascript"},
        {"data.json", "application/json"},
        {"readme.txt", "text/plain"},
        {"feed.xml", "application/xml"},
        {"logo.svg", "image/svg+xml"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.JPEG", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"favicon.ico", "image/vnd.microsoft.icon"},
        {"doc.pdf", "application/pdf"},
        {"m.wasm", "application/wasm"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"x.tar.gz", "application/gzip"},
        {"x.zip", "application/zip"},
        {"x.tar", "application/x-tar"},
        {"v.mp4", "video/mp4"},
        {"v.webm", "video/webm"},
        {"s.mp3", "audio/mpeg"},
        {"s.ogg", "audio/ogg"},
        {"t.csv", "text/csv"},
        {"README.md", "text/markdown"},
        {"/dir/sub/page.html", "text/html"},
        {"/dir.html/file", NULL}, /* the dot is in a directory */
        {"/dir.d/file.css", "text/css"},
        {"Makefile", NULL},
        {"file.", NULL},
        {"file.unknown", NULL},
        {"file.htmlx", NULL},
        {"file.htm l", NULL},
        {".html", "text/html"}, /* the extension after the last '.' */
        {"", NULL},
        {"x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL},
    };
    http_mime_t *m = http_mime_load(NULL);
    size_t i;

    (void)state;
    assert_non_null(m);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const char *got = http_mime_type(m, cases[i].name, "DEF");
        const char *want = cases[i].type ? cases[i].type : "DEF";

        if (strcmp(got, want) != 0)
            fail_msg("case %zu \"%s\": got %s, want %s", i, cases[i].name, got,
                     want);
    }
    assert_null(http_mime_type(m, "x.bin", NULL));
    assert_string_equal(http_mime_type(NULL, "x.html", "D"), "D");
    http_mime_free(m);
    http_mime_free(NULL);

    /* an unreadable file: the built-in table */
    m = http_mime_load("/nonexistent/mime.types");
    assert_non_null(m);
    assert_string_equal(http_mime_type(m, "a.css", "D"), "text/css");
    assert_string_equal(http_mime_type(m, "a.foo", "D"), "D");
    http_mime_free(m);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/test_http_util.XXXXXX");
    int fd = mkstemp(path);
    size_t len = strlen(text);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_mime_load(void **state)
{
    static const char file[] =
        "# mime.types for the test\n"
        "\n"
        "application/x-foo\tfoo FOO2 bar\n"
        "text/x-override   html   # html no longer text/html\n"
        "image/x-later png\n"
        "image/x-last  png\n"          /* the last line wins */
        "   text/x-indented   ind\r\n" /* CRLF, leading blanks */
        "text/x-noexts\n"
        "notatype ext1\n"        /* no '/': ignored line */
        "a/b/c ext2\n"           /* two '/': ignored line */
        "text/x-dots a.b good\n" /* "a.b" cannot be an extension */
        "#text/x-commented cmt\n"
        "text/x-hash x#y\n" /* comment starts inside the token */
        "text/x-tail tail"  /* no final newline */
        ;
    static const struct {
        const char *name, *type;
    } cases[] = {
        {"a.foo", "application/x-foo"},
        {"a.Foo", "application/x-foo"},
        {"a.foo2", "application/x-foo"}, /* stored lowercase */
        {"a.FOO2", "application/x-foo"},
        {"a.bar", "application/x-foo"},
        {"a.html", "text/x-override"},
        {"a.htm", "text/html"}, /* the rest of the built-ins stay */
        {"a.css", "text/css"},
        {"a.png", "image/x-last"},
        {"a.ind", "text/x-indented"},
        {"a.ext1", "D"},
        {"a.ext2", "D"},
        {"a.b", "D"},
        {"a.good", "text/x-dots"},
        {"a.cmt", "D"},
        {"a.x", "text/x-hash"},
        {"a.y", "D"},
        {"a.tail", "text/x-tail"},
        {"a.noexts", "D"},
    };
    char *path = write_temp(file);
    http_mime_t *m = http_mime_load(path);
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const char *got = http_mime_type(m, cases[i].name, "D");

        if (strcmp(got, cases[i].type) != 0)
            fail_msg("case %zu \"%s\": got %s, want %s", i, cases[i].name, got,
                     cases[i].type);
    }
    http_mime_free(m);
    unlink(path);
    free(path);
}

/* Many extensions: the table grows and every one is still found. */
static void test_mime_many(void **state)
{
    size_t cap = 64 * 5000, len = 0, i;
    char *text = malloc(cap), *path;
    http_mime_t *m;

    (void)state;
    for (i = 0; i < 5000; i++)
        len += (size_t)snprintf(text + len, cap - len, "type/t%zu e%zu x%zu\n",
                                i, i, i);
    path = write_temp(text);
    m = http_mime_load(path);
    for (i = 0; i < 5000; i++) {
        char name[32], want[32];

        snprintf(name, sizeof(name), "f.E%zu", i);
        snprintf(want, sizeof(want), "type/t%zu", i);
        assert_string_equal(http_mime_type(m, name, "D"), want);
        snprintf(name, sizeof(name), "f.x%zu", i);
        assert_string_equal(http_mime_type(m, name, "D"), want);
    }
    assert_string_equal(http_mime_type(m, "f.e5000", "D"), "D");
    assert_string_equal(http_mime_type(m, "f.json", "D"), "application/json");
    http_mime_free(m);
    unlink(path);
    free(path);
    free(text);
}

/* The system's own file, when there is one: it loads and knows html. */
static void test_mime_system(void **state)
{
    http_mime_t *m;

    (void)state;
    if (access("/etc/mime.types", R_OK) != 0)
        skip();
    m = http_mime_load("/etc/mime.types");
    assert_non_null(strstr(http_mime_type(m, "a.html", "D"), "html"));
    http_mime_free(m);
}

/* ---- small text helpers -------------------------------------------------- */

static void test_list_has(void **state)
{
    static const struct {
        const char *v, *token;
        int expect;
    } cases[] = {
        {"gzip", "gzip", 1},
        {"GZIP", "gzip", 1},
        {"gzip", "GZip", 1},
        {"deflate, gzip", "gzip", 1},
        {"deflate,gzip", "gzip", 1},
        {"  deflate ,\tgzip\t ", "gzip", 1},
        {"deflate, br", "gzip", 0},
        {"gzipx", "gzip", 0},
        {"xgzip", "gzip", 0},
        {"gzi", "gzip", 0},
        {"", "gzip", 0},
        {",,,", "gzip", 0},
        {",gzip,", "gzip", 1},
        {"gzip;q=0.5", "gzip", 1},
        {"gzip ; q=0.5", "gzip", 1},
        {"gzip;q=1", "gzip", 1},
        {"gzip;q=0", "gzip", 0},
        {"gzip; q=0", "gzip", 0},
        {"gzip;Q=0", "gzip", 0},
        {"gzip;q=0.", "gzip", 0},
        {"gzip;q=0.0", "gzip", 0},
        {"gzip;q=0.000", "gzip", 0},
        {"gzip;q=0.001", "gzip", 1},
        {"gzip;q=0.0000", "gzip", 1}, /* not a qvalue: not a zero */
        {"gzip;q = 0", "gzip", 0},
        {"gzip;level=1;q=0", "gzip", 0},
        {"gzip;q=0, gzip", "gzip", 1},
        {"br;q=0, gzip;q=0.8", "gzip", 1},
        {"br;q=0, gzip;q=0.8", "br", 0},
        {"gzip;x=\"a,b;q=0\"", "gzip", 1},
        {"x;y=\"gzip, q\", deflate", "gzip", 0},
        {"x;y=\"gzip, q\", gzip", "gzip", 1},
        {"x;y=\"a\\\"b, gzip\", br", "gzip", 0},
        {"x;qq=0, gzip;qq=0", "gzip", 1},
        {"gzip x", "gzip", 0},
        {"keep-alive, Upgrade", "upgrade", 1},
        {"close", "close", 1},
        {"*", "*", 1},
        {"gzip;q=0", "*", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++)
        if (http_list_has(cases[i].v, strlen(cases[i].v), cases[i].token) !=
            cases[i].expect)
            fail_msg("case %zu \"%s\" has \"%s\": want %d", i, cases[i].v,
                     cases[i].token, cases[i].expect);
    /* LEN bounds the value */
    assert_int_equal(http_list_has("br, gzip", 2, "gzip"), 0);
    assert_int_equal(http_list_has("gzip;q=0", 4, "gzip"), 1);
}

static void test_slice_ieq(void **state)
{
    loom_slice_t s;

    (void)state;
    assert_true(http_slice_ieq(sl("Content-Length"), "content-length"));
    assert_true(http_slice_ieq(sl("content-length"), "content-length"));
    assert_true(http_slice_ieq(sl("CONTENT-LENGTH"), "content-length"));
    assert_false(http_slice_ieq(sl("Content-Lengt"), "content-length"));
    assert_false(http_slice_ieq(sl("Content-Lengthx"), "content-length"));
    assert_false(http_slice_ieq(sl("Content_Length"), "content-length"));
    assert_true(http_slice_ieq(sl(""), ""));
    assert_false(http_slice_ieq(sl("a"), ""));
    assert_false(http_slice_ieq(sl(""), "a"));
    /* only ASCII letters fold: '@' is not '`', 0xc9 is not 0xe9 */
    assert_false(http_slice_ieq(sl("@"), "`"));
    assert_false(http_slice_ieq(sl("\xc9"), "\xe9"));
    assert_false(http_slice_ieq(sl("["), "{"));
    assert_true(http_slice_ieq(sl("\xe9T"), "\xe9t"));
    /* a slice is not NUL-terminated */
    s.p = "hostname";
    s.len = 4;
    assert_true(http_slice_ieq(s, "host"));
    s.p = "ho\0t";
    s.len = 4;
    assert_false(http_slice_ieq(s, "ho"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_table),
        cmocka_unit_test(test_path_capacity),
        cmocka_unit_test(test_path_idempotent),
        cmocka_unit_test(test_range_table),
        cmocka_unit_test(test_range_len),
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_date_parse_table),
        cmocka_unit_test(test_date_two_digit_year),
        cmocka_unit_test(test_date_round_trip),
        cmocka_unit_test(test_date_len),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_cond_table),
        cmocka_unit_test(test_cond_no_etag),
        cmocka_unit_test(test_cond_weak_etag),
        cmocka_unit_test(test_if_range),
        cmocka_unit_test(test_mime_builtin),
        cmocka_unit_test(test_mime_load),
        cmocka_unit_test(test_mime_many),
        cmocka_unit_test(test_mime_system),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_slice_ieq),
    };

    return cmocka_run_group_tests_name("http_util", tests, NULL, NULL);
}

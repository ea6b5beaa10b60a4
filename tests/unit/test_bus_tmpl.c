/*
 * test_bus_tmpl.c - the bus's templates, matches and token buckets
 * (src/bus_tmpl.c): tables of templates rendered against one frozen
 * message (every filter, chains, missing fields, control bytes, UTF-8
 * cut by trunc, "$$"), every compile error; every match operator on
 * present, missing and non-numeric fields, and the malformed ones; rate
 * strings good and bad; buckets emptied, refilled, capped, and their wait
 * checked against take.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus_int.h"

/* A frozen message on "push" from "http:hooks" with the fields below
 * (one with a NUL inside, one with bytes that are not UTF-8). */
static loom_msg_t *test_msg(void)
{
    static const struct {
        const char *name, *value;
        size_t vlen; /* 0: strlen */
    } fields[] = {
        {"after", "0123456789abcdef", 0},
        {"ref", "refs/heads/main", 0},
        {"head_commit.message", "Fix it\r\nSecond line\tTabbed", 0},
        {"commits.0.id", "c0ffee", 0},
        {"empty", "", 0},
        {"mixed", "MiXeD Case 123", 0},
        {"quote", "say \"hi\"\\ now", 0},
        {"url", "a b&c=d/e?f~g-h_i.j%", 0},
        {"utf2", "\xc3\xa9\xc3\xa9\xc3\xa9", 0},         /* e-acute x3 */
        {"utf3", "\xe2\x82\xac\xe2\x82\xac", 0},         /* euro x2 */
        {"utf4", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 0}, /* emoji x2 */
        {"bad", "\xff\xc3\x28\xe2\x82", 0}, /* invalid, bad 2-byte, cut */
        {"ctl",
         "a\x01"
         "b\x1f"
         "c\x7f"
         "d\x00"
         "e",
         9},
        {"count", "42", 0},
        {"spaced", "  7.5 ", 0},
        {"word", "seven", 0},
        {"numnul",
         "5\0"
         "0",
         3},
        {"dup", "first", 0},
        {"dup", "second", 0},
        {"we|ird}", "x", 0},
    };
    loom_msg_t *m = loom_msg_new("push");
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(fields); i++)
        loom_msg_add(m, fields[i].name, strlen(fields[i].name), fields[i].value,
                     fields[i].vlen ? fields[i].vlen : strlen(fields[i].value));
    loom_msg_set_body(m, "the body", 8);
    loom_msg_freeze(m, "http", "hooks", 17, 1700000000123ULL);
    return m;
}

/* ---- templates ---------------------------------------------------------- */

static void check_render(const loom_msg_t *m, const char *tmpl,
                         const char *expect, size_t elen)
{
    char err[256] = "";
    bus_tmpl_t *t = bus_tmpl_compile(tmpl, err, sizeof(err));
    size_t len = 12345;
    char *out;

    if (t == NULL)
        fail_msg("template \"%s\" did not compile: %s", tmpl, err);
    out = bus_tmpl_render(t, m, &len);
    if (elen == 0)
        elen = strlen(expect);
    if (len != elen || memcmp(out, expect, elen) != 0 || out[len] != '\0')
        fail_msg("template \"%s\": got \"%s\" (%zu bytes), want \"%s\"", tmpl,
                 out, len, expect);
    free(out);
    bus_tmpl_free(t);
}

static void test_tmpl_table(void **state)
{
    static const struct {
        const char *tmpl, *expect;
        size_t elen; /* 0: strlen */
    } cases[] = {
        /* literals and substitutions */
        {"", "", 0},
        {"plain text", "plain text", 0},
        {"${after}", "0123456789abcdef", 0},
        {"push to ${ref} at ${after}!",
         "push to refs/heads/main at "
         "0123456789abcdef!",
         0},
        {"${commits.0.id}", "c0ffee", 0},
        {"${dup}", "first", 0}, /* the first of two */
        {"${we}", "", 0},
        {"${ ref }", "", 0}, /* names are taken as written */
        /* pseudo-fields */
        {"${@topic}/${@module}/${@instance}/${@id}", "push/http/hooks/17", 0},
        {"${@time} ${@body}", "1700000000123 the body", 0},
        /* dollars */
        {"$$", "$", 0},
        {"$$$$", "$$", 0},
        {"$${after}", "${after}", 0},
        {"$$${ref}", "$refs/heads/main", 0},
        {"cost $5", "cost $5", 0},
        {"end$", "end$", 0},
        {"a}b|c", "a}b|c", 0},
        {"${a${b}", "", 0}, /* the name "a${b" */
        /* missing and empty fields */
        {"[${nope}]", "[]", 0},
        {"[${empty}]", "[]", 0},
        {"${nope|default:none}", "none", 0},
        {"${empty|default:none}", "none", 0},
        {"${ref|default:none}", "refs/heads/main", 0},
        {"${nope|default:}", "", 0},
        {"${nope|default:a:b c}", "a:b c", 0},
        {"${nope|upper|default:x}", "x", 0},
        {"${nope|default:x|upper}", "X", 0},
        {"${nope|json}", "\"\"", 0},
        {"${nope|trunc:3}", "", 0},
        /* json */
        {"${quote|json}", "\"say \\\"hi\\\"\\\\ now\"", 0},
        {"${head_commit.message|json}", "\"Fix it\\r\\nSecond line\\tTabbed\"",
         0},
        {"${ctl|json}", "\"a\\u0001b\\u001fc\\u007fd\\u0000e\"", 0},
        {"${utf2|json}", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", 0},
        {"${bad|json}", "\"\\ufffd\\ufffd(\\ufffd\\ufffd\"", 0},
        /* url */
        {"${url|url}", "a%20b%26c%3Dd%2Fe%3Ff~g-h_i.j%25", 0},
        {"${utf2|url}", "%C3%A9%C3%A9%C3%A9", 0},
        {"${ctl|url}", "a%01b%1Fc%7Fd%00e", 0},
        {"q=${mixed|url}", "q=MiXeD%20Case%20123", 0},
        /* trunc counts characters */
        {"${after|trunc:8}", "01234567", 0},
        {"${after|trunc:1}", "0", 0},
        {"${after|trunc:16}", "0123456789abcdef", 0},
        {"${after|trunc:100}", "0123456789abcdef", 0},
        {"${after|trunc:99999999999}", "0123456789abcdef", 0},
        {"${utf2|trunc:2}", "\xc3\xa9\xc3\xa9", 0},
        {"${utf3|trunc:1}", "\xe2\x82\xac", 0},
        {"${utf4|trunc:1}", "\xf0\x9f\x98\x80", 0},
        {"${utf4|trunc:2}", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 0},
        {"${bad|trunc:1}", "\xff", 0},
        {"${bad|trunc:2}", "\xff\xc3", 0}, /* \xc3( is no sequence */
        {"${bad|trunc:3}", "\xff\xc3(", 0},
        {"${bad|trunc:4}", "\xff\xc3(\xe2", 0}, /* a cut sequence: bytes */
        {"${bad|trunc:5}", "\xff\xc3(\xe2\x82", 0},
        /* case */
        {"${mixed|lower}", "mixed case 123", 0},
        {"${mixed|upper}", "MIXED CASE 123", 0},
        {"${utf2|upper}", "\xc3\xa9\xc3\xa9\xc3\xa9", 0}, /* ASCII only */
        /* line */
        {"${head_commit.message|line}", "Fix itSecond lineTabbed", 0},
        {"${ctl|line}", "abcde", 0},
        {"${ref|line}", "refs/heads/main", 0},
        /* chains, left to right */
        {"${after|trunc:8|upper}", "01234567", 0},
        {"${ref|upper|trunc:4}", "REFS", 0},
        {"${mixed|trunc:5|lower|url}", "mixed", 0},
        {"${mixed|url|trunc:7}", "MiXeD%2", 0},
        {"${head_commit.message|line|trunc:6|json}", "\"Fix it\"", 0},
        {"${head_commit.message|json|line}",
         "\"Fix it\\r\\nSecond line\\tTabbed\"", 0},
        {"${nope|default:a b|url|upper}", "A%20B", 0},
        {"${mixed|lower|upper|lower}", "mixed case 123", 0},
    };
    loom_msg_t *m = test_msg();
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++)
        check_render(m, cases[i].tmpl, cases[i].expect, cases[i].elen);
    /* a value with a NUL inside keeps its length */
    check_render(m, "<${ctl}>",
                 "<a\x01"
                 "b\x1f"
                 "c\x7f"
                 "d\x00"
                 "e>",
                 11);
    loom_msg_unref(m);
}

static void test_tmpl_constant(void **state)
{
    static const struct {
        const char *tmpl;
        int constant;
    } cases[] = {
        {"", 1},     {"text", 1},         {"$$ and $5", 1},
        {"${a}", 0}, {"x ${a|upper}", 0}, {"$${a}", 1},
    };
    size_t i, len;
    char *out;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        bus_tmpl_t *t = bus_tmpl_compile(cases[i].tmpl, NULL, 0);

        assert_non_null(t);
        assert_int_equal(bus_tmpl_constant(t), cases[i].constant);
        bus_tmpl_free(t);
    }
    /* rendered without a message: every field is missing */
    {
        bus_tmpl_t *t = bus_tmpl_compile("a${x|default:b}$$", NULL, 0);

        out = bus_tmpl_render(t, NULL, &len);
        assert_string_equal(out, "ab$");
        assert_int_equal(len, 3);
        free(out);
        out = bus_tmpl_render(t, NULL, NULL);
        assert_string_equal(out, "ab$");
        free(out);
        bus_tmpl_free(t);
    }
    bus_tmpl_free(NULL);
}

/* The same message rendered many times from one compiled template gives
 * the same bytes (rendering keeps no state). */
static void test_tmpl_reuse(void **state)
{
    loom_msg_t *m = test_msg();
    bus_tmpl_t *t =
        bus_tmpl_compile("${ref|upper|trunc:4}-${nope|default:z}", NULL, 0);
    int i;

    (void)state;
    assert_non_null(t);
    for (i = 0; i < 3; i++) {
        char *out = bus_tmpl_render(t, m, NULL);

        assert_string_equal(out, "REFS-z");
        free(out);
    }
    bus_tmpl_free(t);
    loom_msg_unref(m);
}

static void test_tmpl_errors(void **state)
{
    static const struct {
        const char *tmpl, *in_err; /* a part of the message */
    } cases[] = {
        {"${after", "unclosed \"${\""},
        {"x ${", "unclosed \"${\""},
        {"${after|upper", "unclosed \"${\""},
        {"${after|default:x", "unclosed \"${\""},
        {"ok ${a} then ${b", "unclosed \"${\""},
        {"${}", "empty field name"},
        {"${|upper}", "empty field name"},
        {"${after|uper}", "unknown filter \"uper\""},
        {"${after|JSON}", "unknown filter \"JSON\""},
        {"${after|json }", "unknown filter \"json \""},
        {"${after|}", "empty filter name"},
        {"${after||upper}", "empty filter name"},
        {"${after|:x}", "empty filter name"},
        {"${after|trunc}", "positive number"},
        {"${after|trunc:}", "positive number"},
        {"${after|trunc:0}", "positive number"},
        {"${after|trunc:-3}", "positive number"},
        {"${after|trunc:3x}", "positive number"},
        {"${after|trunc: 3}", "positive number"},
        {"${after|trunc:99999999999999999999999}", "positive number"},
        {"${after|default}", "needs a value"},
        {"${after|upper:1}", "takes no argument"},
        {"${after|json:}", "takes no argument"},
        {"${after|line:x}", "takes no argument"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        char err[256] = "";
        bus_tmpl_t *t = bus_tmpl_compile(cases[i].tmpl, err, sizeof(err));

        if (t != NULL)
            fail_msg("template \"%s\" compiled", cases[i].tmpl);
        if (strstr(err, cases[i].in_err) == NULL)
            fail_msg("template \"%s\": error \"%s\" lacks \"%s\"",
                     cases[i].tmpl, err, cases[i].in_err);
    }
    /* a small or missing error buffer is fine */
    {
        char small[8];

        assert_null(bus_tmpl_compile("${", small, sizeof(small)));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_null(bus_tmpl_compile("${", NULL, 0));
    }
}

/* ---- matches ------------------------------------------------------------ */

static void test_match_table(void **state)
{
    static const struct {
        const char *match;
        int expect;
    } cases[] = {
        /* exists / does not */
        {"ref", 1},
        {"  ref  ", 1},
        {"empty", 1},
        {"nope", 0},
        {"!nope", 1},
        {"!ref", 0},
        {"!empty", 0},
        {"@topic", 1},
        {"!@body", 0},
        /* equals / not */
        {"ref = refs/heads/main", 1},
        {"ref=refs/heads/main", 1},
        {"ref =refs/heads/main", 1},
        {"ref = refs/heads/mai", 0},
        {"ref = refs/heads/main ", 0}, /* the value as written */
        {"ref = REFS/heads/main", 0},
        {"ref != refs/heads/main", 0},
        {"ref!=refs/heads/dev", 1},
        {"empty =", 1},
        {"empty = x", 0},
        {"empty !=", 0},
        {"nope = x", 0},
        {"nope =", 0}, /* missing is not empty */
        {"nope != x", 1},
        {"@topic = push", 1},
        {"@id = 17", 1},
        {"@module = http", 1},
        {"dup = first", 1},
        {"dup = second", 0},
        {"word = a = b", 0},
        /* regex / not */
        {"ref ~ ^refs/heads/", 1},
        {"ref~main$", 1},
        {"ref ~ ^main", 0},
        {"ref ~ (main|dev)$", 1},
        {"ref !~ ^refs/tags/", 1},
        {"ref !~ heads", 0},
        {"nope ~ .*", 0},
        {"nope !~ x", 1},
        {"empty ~ ^$", 1},
        {"ctl ~ e$", 1},        /* sees past the NUL */
        {"ctl ~ ^a.b.c.d$", 0}, /* ... so the end is not after d */
        {"mixed ~ [0-9]{3}", 1},
        {"mixed ~ ^[a-z ]+$", 0},
        {"ref ~ ^[\\1r]", 1},          /* no back-reference */
        {"ref ~ ^[]x[:alpha:]]+/", 1}, /* brackets skipped */
        {"ref ~ ^(r(e(f)))s\\/", 1},
        {"ref ~ ^(.{1,100}){1,100}$", 1}, /* big but bounded */
        {"ref ~ ^r{1}e{1,}f{0,1}s?/+h*", 1},
        {"ref ~ ^(r|x)+(e[a-z]*)+(f(s)?)*/h+?", 1}, /* loops over non-empty */
        {"ref ~ ^(x*y|refs/)+", 1},
        {"ref ~ (x*)?r", 1}, /* an optional loop is no loop */
        /* numbers */
        {"count > 41", 1},
        {"count > 42", 0},
        {"count >= 42", 1},
        {"count >= 42.5", 0},
        {"count < 43", 1},
        {"count < 42", 0},
        {"count <= 42", 1},
        {"count <= 41.99", 0},
        {"count<=42", 1},
        {"count >= -1e3", 1},
        {"count < 0x30", 1}, /* strtod's hex: 48 */
        {"spaced > 7", 1},   /* the value is trimmed */
        {"spaced < 7.5", 0},
        {"spaced <= 7.5", 1},
        {"word > 0", 0}, /* non-numeric */
        {"word < 0", 0},
        {"word <= 1e308", 0},
        {"empty >= 0", 0},
        {"empty < 1", 0},
        {"nope > 0", 0}, /* missing */
        {"nope <= 0", 0},
        {"numnul < 10", 0}, /* "5\0" "0" is no number */
        {"@id > 16", 1},
        {"@id >= 18", 0},
        {"ref > 0", 0},
    };
    loom_msg_t *m = test_msg();
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        char err[256] = "";
        bus_match_t *mt = bus_match_compile(cases[i].match, err, sizeof(err));

        if (mt == NULL)
            fail_msg("match \"%s\" did not compile: %s", cases[i].match, err);
        if (bus_match_test(mt, m) != cases[i].expect)
            fail_msg("match \"%s\": got %d, want %d", cases[i].match,
                     !cases[i].expect, cases[i].expect);
        bus_match_free(mt);
    }
    loom_msg_unref(m);
    bus_match_free(NULL);
}

/* A name holding '|' and '}' (not special in matches) and a field added
 * with such a name. */
static void test_match_odd_name(void **state)
{
    loom_msg_t *m = test_msg();
    bus_match_t *mt = bus_match_compile("we|ird} = x", NULL, 0);

    (void)state;
    assert_non_null(mt);
    assert_int_equal(bus_match_test(mt, m), 1);
    bus_match_free(mt);
    loom_msg_unref(m);
}

static void test_match_errors(void **state)
{
    static const struct {
        const char *match, *in_err;
    } cases[] = {
        {"", "empty match"},
        {"   ", "no field name"},
        {"= x", "no field name"},
        {"!", "no field name"},
        {"!= x", "no field name"},
        {"!~x", "no field name"},
        {"~ x", "no field name"},
        {"a b", "expected =, !=, ~, !~"},
        {"a ! b", "expected =, !=, ~, !~"},
        {"a!b", "expected =, !=, ~, !~"},
        {"!a = b", "takes no operator"},
        {"!a b", "takes no operator"},
        {"a ~", "empty regular expression"},
        {"a !~  ", "empty regular expression"},
        {"a ~ (", "bad regular expression"},
        {"a ~ [z-a]", "bad regular expression"},
        {"a ~ x{", "bad regular expression"},
        {"a ~ x{2", "bad regular expression"},
        {"a !~ x{2,1}", "bad regular expression"},
        {"a ~ (x)\\1", "back-reference"},
        {"a !~ (x)(y)\\2", "back-reference"},
        {"a ~ x++++++++++++++++++++++++++++++", "too big"},
        {"a ~ ((((((((((((((((x+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", "too big"},
        {"a ~ (x{1,200}){1,200}", "too big"},
        {"a ~ ((x{30}){30}){30}", "too big"},
        {"a ~ x{20001}", "too big"},
        {"a ~ x{1000}{1000}", "too big"},
        {"a ~ x**", "empty string"},
        {"a ~ $x*+", "empty string"},
        {"a ~ x?*", "empty string"},
        {"a ~ (x*)+", "empty string"},
        {"a ~ (x|y*){2}", "empty string"},
        {"a ~ (x|)*", "empty string"},
        {"a ~ ()+", "empty string"},
        {"a ~ (^)*", "empty string"},
        {"a ~ (x{0,3})*", "empty string"},
        {"a ~ ((x)?(y)*)+", "empty string"},
        {"a ~ (\\b)+", "empty string"},
        {"a ~ ((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))"
         "))))",
         "deeper than"},
        {"a <", "not a number"},
        {"a < x", "not a number"},
        {"a > 1 2", "not a number"},
        {"a >= 5k", "not a number"},
        {"a <= nan", "not a number"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        char err[256] = "";
        bus_match_t *mt = bus_match_compile(cases[i].match, err, sizeof(err));

        if (mt != NULL)
            fail_msg("match \"%s\" compiled", cases[i].match);
        if (strstr(err, cases[i].in_err) == NULL)
            fail_msg("match \"%s\": error \"%s\" lacks \"%s\"", cases[i].match,
                     err, cases[i].in_err);
    }
}

/* ---- rates and buckets -------------------------------------------------- */

static void test_rate_parse(void **state)
{
    static const struct {
        const char *s;
        uint64_t count, period_ms;
    } good[] = {
        {"20/60s", 20, 60000},
        {"5/s", 5, 1000},
        {"100/m", 100, 60000},
        {"3/2m", 3, 120000},
        {"1000/h", 1000, 3600000},
        {"1/12h", 1, 43200000},
        {"1/1s", 1, 1000},
        {"007/010s", 7, 10000},
        {"1000000000/1000000h", 1000000000, 3600000000000ULL},
    };
    static const char *const bad[] = {
        "",           "5",
        "5/",         "/s",
        "0/s",        "5/0s",
        "5/x",        "5/ms",
        "5/sec",      "5/s ",
        " 5/s",       "5 /s",
        "-5/s",       "+5/s",
        "5/-2s",      "5.5/s",
        "5/1.5s",     "5/s/s",
        "5//s",       "5/S",
        "5/d",        "1000000001/s",
        "5/1000001s", "99999999999999999999999/s",
    };
    size_t i;
    uint64_t c, p;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(good); i++) {
        c = p = 0;
        if (bus_rate_parse(good[i].s, &c, &p) != LOOM_OK)
            fail_msg("rate \"%s\" refused", good[i].s);
        assert_int_equal(c, good[i].count);
        assert_int_equal(p, good[i].period_ms);
    }
    for (i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        if (bus_rate_parse(bad[i], &c, &p) != LOOM_ERROR)
            fail_msg("rate \"%s\" taken", bad[i]);
    }
}

static void test_bucket_take_until_empty(void **state)
{
    bus_bucket_t b;
    int i;

    (void)state;
    bus_bucket_init(&b, 5, 1000, 3, 1000); /* 5/s, 3 at once */
    for (i = 0; i < 3; i++)
        assert_int_equal(bus_bucket_take(&b, 1000), 1);
    assert_int_equal(bus_bucket_take(&b, 1000), 0);
    assert_int_equal(bus_bucket_take(&b, 1000), 0);
    /* a token every 200 ms */
    assert_int_equal(bus_bucket_wait(&b, 1000), 200);
    assert_int_equal(bus_bucket_wait(&b, 1150), 50);
    assert_int_equal(bus_bucket_take(&b, 1199), 0);
    assert_int_equal(bus_bucket_take(&b, 1200), 1);
    assert_int_equal(bus_bucket_take(&b, 1200), 0);
    assert_int_equal(bus_bucket_wait(&b, 1200), 200);
}

static void test_bucket_refill_and_cap(void **state)
{
    bus_bucket_t b;
    int i, got;

    (void)state;
    bus_bucket_init(&b, 20, 60000, 0, 0); /* 20/60s; burst = 20 */
    assert_int_equal(b.burst, 20);
    for (i = 0; i < 20; i++)
        assert_int_equal(bus_bucket_take(&b, 10), 1);
    assert_int_equal(bus_bucket_take(&b, 10), 0);
    /* one token per 3 s: after 30 s, ten */
    for (got = 0; bus_bucket_take(&b, 30010); got++)
        ;
    assert_int_equal(got, 10);
    /* a long quiet time fills it to the burst, no further */
    assert_int_equal(bus_bucket_wait(&b, 10000000), 0);
    for (got = 0; bus_bucket_take(&b, 10000000); got++)
        ;
    assert_int_equal(got, 20);
    /* a clock that goes back refills nothing (and no wait is 0) */
    assert_int_equal(bus_bucket_take(&b, 5000), 0);
    assert_true(bus_bucket_wait(&b, 5000) > 0);
    assert_int_equal(bus_bucket_take(&b, 10003000), 1);
    assert_int_equal(bus_bucket_take(&b, 10003000), 0);
}

/* For rates whose token interval is not a whole number of milliseconds,
 * take at now + wait succeeds and one millisecond before fails. */
static void test_bucket_wait_matches_take(void **state)
{
    static const char *const rates[] = {"20/60s", "3/2m", "7/s",   "1000/h",
                                        "1/s",    "3/s",  "999/s", "11/7s"};
    size_t i;
    int k;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(rates); i++) {
        uint64_t c, p, now = 123456, w;
        bus_bucket_t b;

        assert_int_equal(bus_rate_parse(rates[i], &c, &p), LOOM_OK);
        bus_bucket_init(&b, c, p, 2, now);
        for (k = 0; k < 50; k++) {
            while (bus_bucket_take(&b, now))
                ;
            w = bus_bucket_wait(&b, now);
            assert_true(w >= 1);
            assert_true(w <= (p + c - 1) / c);
            if (w > 1) {
                bus_bucket_t copy = b;

                assert_int_equal(bus_bucket_take(&copy, now + w - 1), 0);
            }
            now += w;
            assert_int_equal(bus_bucket_take(&b, now), 1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmpl_table),
        cmocka_unit_test(test_tmpl_constant),
        cmocka_unit_test(test_tmpl_reuse),
        cmocka_unit_test(test_tmpl_errors),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_match_odd_name),
        cmocka_unit_test(test_match_errors),
        cmocka_unit_test(test_rate_parse),
        cmocka_unit_test(test_bucket_take_until_empty),
        cmocka_unit_test(test_bucket_refill_and_cap),
        cmocka_unit_test(test_bucket_wait_matches_take),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

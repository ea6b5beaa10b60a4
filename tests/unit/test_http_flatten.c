/*
 * test_http_flatten.c - request bodies to bus fields
 * (protocols/http/http_flatten.h): JSON documents and the fields they
 * flatten to (nesting, arrays, every scalar type, unicode escapes, empty
 * containers), what is refused (not JSON, not an object, too deep, too
 * many fields, names too long, NUL escapes, duplicate keys, big integers),
 * forms, media types, signature headers and HMAC checks against known
 * vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_flatten.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The fields a flattening gave, as "name=value\n" lines. */
typedef struct {
    char text[8192];
    size_t len, n;
} out_t;

static void collect(void *arg, const char *name, size_t nlen, const char *value,
                    size_t vlen)
{
    out_t *o = arg;

    assert_int_equal(strlen(name), nlen); /* NUL-terminated too */
    assert_int_equal(value[vlen], '\0');
    o->n++;
    if (o->len + nlen + vlen + 3 < sizeof(o->text)) {
        memcpy(o->text + o->len, name, nlen);
        o->len += nlen;
        o->text[o->len++] = '=';
        memcpy(o->text + o->len, value, vlen);
        o->len += vlen;
        o->text[o->len++] = '\n';
        o->text[o->len] = '\0';
    }
}

static int json(const char *in, out_t *o, const http_flat_limits_t *lim)
{
    char err[128];

    memset(o, 0, sizeof(*o));
    return http_flatten_json(in, strlen(in), lim, collect, o, err, sizeof(err));
}

static void test_json_table(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"{}", ""},
        {"{\"a\":\"x\"}", "a=x\n"},
        {" {\"a\" : 1 } \n", "a=1\n"},
        {"{\"b\":2,\"a\":1}", "b=2\na=1\n"}, /* document order */
        {"{\"a\":{\"b\":{\"c\":\"deep\"}}}", "a.b.c=deep\n"},
        {"{\"commits\":[{\"id\":\"x1\"},{\"id\":\"x2\",\"n\":[7,8]}]}",
         "commits.0.id=x1\ncommits.1.id=x2\ncommits.1.n.0=7\n"
         "commits.1.n.1=8\n"},
        {"{\"t\":true,\"f\":false,\"n\":null}", "t=true\nf=false\nn=\n"},
        {"{\"i\":-12,\"z\":0,\"big\":9223372036854775807}",
         "i=-12\nz=0\nbig=9223372036854775807\n"},
        {"{\"r\":0.1,\"s\":1.5,\"e\":1e300,\"one\":1.0,\"neg\":-2.5e-3}",
         "r=0.1\ns=1.5\ne=1e+300\none=1\nneg=-0.0025\n"},
        {"{\"o\":{},\"a\":[]}", "o=\na=\n"},
        {"{\"a.b\":{\"c\":1}}", "a.b.c=1\n"}, /* keys used as written */
        {"{\"\":\"empty key\"}", "=empty key\n"},
        {"{\"u\":\"caf\\u00e9 \\ud83d\\ude00\"}",
         "u=caf\xc3\xa9 \xf0\x9f\x98\x80\n"},
        {"{\"q\":\"a\\\"b\\\\c\\nd\\t\"}", "q=a\"b\\c\nd\t\n"},
        {"{\"k\\u00e9y\":\"v\"}", "k\xc3\xa9y=v\n"},
        {"{\"head_commit\":{\"message\":\"fix\",\"author\":{\"name\":\"A\"}},"
         "\"ref\":\"refs/heads/main\"}",
         "head_commit.message=fix\nhead_commit.author.name=A\n"
         "ref=refs/heads/main\n"},
    };
    size_t i;
    out_t o;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        int rc = json(cases[i].in, &o, NULL);

        if (rc != HTTP_FLAT_OK || strcmp(o.text, cases[i].want) != 0)
            fail_msg("case %zu %s: rc %d, got\n%s\nwant\n%s", i, cases[i].in,
                     rc, o.text, cases[i].want);
    }
}

static void test_json_refused(void **state)
{
    static const struct {
        const char *in;
        int want;
    } cases[] = {
        {"", HTTP_FLAT_BADJSON},
        {"{", HTTP_FLAT_BADJSON},
        {"{\"a\":1}x", HTTP_FLAT_BADJSON},
        {"{\"a\":1}{}", HTTP_FLAT_BADJSON},
        {"{'a':1}", HTTP_FLAT_BADJSON},
        {"{\"a\":01}", HTTP_FLAT_BADJSON},
        {"{\"a\":\"\\u0000\"}", HTTP_FLAT_BADJSON},
        {"{\"a\\u0000\":1}", HTTP_FLAT_BADJSON},
        {"{\"a\":\"\xff\"}", HTTP_FLAT_BADJSON}, /* not UTF-8 */
        {"{\"a\":1,\"a\":2}", HTTP_FLAT_BADJSON},
        {"{\"a\":99999999999999999999}", HTTP_FLAT_BADJSON},
        {"{\"a\":1e999}", HTTP_FLAT_BADJSON},
        {"{\"a\":\"\\ud800\"}", HTTP_FLAT_BADJSON}, /* lone surrogate */
        {"[]", HTTP_FLAT_NOTOBJECT},
        {"[{\"a\":1}]", HTTP_FLAT_NOTOBJECT},
        {"\"text\"", HTTP_FLAT_NOTOBJECT},
        {"42", HTTP_FLAT_NOTOBJECT},
        {"null", HTTP_FLAT_NOTOBJECT},
        {"true", HTTP_FLAT_NOTOBJECT},
    };
    size_t i;
    out_t o;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        int rc = json(cases[i].in, &o, NULL);

        if (rc != cases[i].want)
            fail_msg("case %zu %s: rc %d, want %d", i, cases[i].in, rc,
                     cases[i].want);
    }
}

/* A document nested DEPTH levels deep: {"a":{"a":...{"a":1}...}}, arrays
 * instead when ARRAYS. */
static char *nested(unsigned depth, int arrays)
{
    char *s = malloc(depth * 10 + 16), *p = s;
    unsigned i;

    p += sprintf(p, "{");
    for (i = 1; i < depth; i++)
        p += sprintf(p, arrays ? "\"a\":[{" : "\"a\":{");
    p += sprintf(p, "\"a\":1");
    for (i = 1; i < depth; i++)
        p += sprintf(p, arrays ? "}]" : "}");
    sprintf(p, "}");
    return s;
}

static void test_json_depth(void **state)
{
    char *ok = nested(HTTP_FLAT_MAX_DEPTH, 0);
    char *deep = nested(HTTP_FLAT_MAX_DEPTH + 1, 0);
    http_flat_limits_t lim = {0, 3};
    out_t o;

    assert_int_equal(json(ok, &o, NULL), HTTP_FLAT_OK);
    assert_int_equal(o.n, 1);
    assert_int_equal(json(deep, &o, NULL), HTTP_FLAT_TOODEEP);
    free(ok);
    free(deep);
    /* arrays count as levels as well: {"a":[{"a":1}]} is depth 3 */
    ok = nested(2, 1);
    assert_int_equal(json(ok, &o, &lim), HTTP_FLAT_OK);
    assert_string_equal(o.text, "a.0.a=1\n");
    free(ok);
    deep = nested(3, 1);
    assert_int_equal(json(deep, &o, &lim), HTTP_FLAT_TOODEEP);
    free(deep);
    /* an empty container is a level too */
    assert_int_equal(json("{\"a\":{\"b\":[]}}", &o, &lim), HTTP_FLAT_OK);
    assert_int_equal(json("{\"a\":{\"b\":{\"c\":[]}}}", &o, &lim),
                     HTTP_FLAT_TOODEEP);
    /* far deeper than jansson takes: refused, not a crash */
    deep = nested(5000, 0);
    assert_int_not_equal(json(deep, &o, NULL), HTTP_FLAT_OK);
    free(deep);
}

static void test_json_fields_limit(void **state)
{
    http_flat_limits_t lim = {3, 0};
    size_t n = HTTP_FLAT_MAX_FIELDS, i;
    char *s = malloc(n * 16 + 32), *p = s;
    out_t o;

    assert_int_equal(json("{\"a\":1,\"b\":2,\"c\":3}", &o, &lim), HTTP_FLAT_OK);
    assert_int_equal(json("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", &o, &lim),
                     HTTP_FLAT_TOOMANY);
    assert_int_equal(json("{\"a\":[1,2],\"b\":{\"c\":[]}}", &o, &lim),
                     HTTP_FLAT_OK);
    assert_int_equal(
        json("{\"a\":[1,2],\"b\":{\"c\":[], \"d\":null}}", &o, &lim),
        HTTP_FLAT_TOOMANY);
    /* the default: HTTP_FLAT_MAX_FIELDS fields pass, one more does not */
    p += sprintf(p, "{\"x\":[");
    for (i = 0; i < n; i++)
        p += sprintf(p, "%s%zu", i ? "," : "", i);
    sprintf(p, "]}");
    assert_int_equal(json(s, &o, NULL), HTTP_FLAT_OK);
    assert_int_equal(o.n, n);
    sprintf(p, ",0]}");
    assert_int_equal(json(s, &o, NULL), HTTP_FLAT_TOOMANY);
    free(s);
}

static void test_json_long_name(void **state)
{
    size_t klen = HTTP_FLAT_MAX_NAME - 2;
    char *s = malloc(klen + 64), *key = malloc(klen + 1);
    out_t o;

    memset(key, 'k', klen);
    key[klen] = '\0';
    sprintf(s, "{\"%s\":{\"b\":1}}", key); /* name: key + ".b" = max */
    assert_int_equal(json(s, &o, NULL), HTTP_FLAT_OK);
    sprintf(s, "{\"%s\":{\"bc\":1}}", key);
    assert_int_equal(json(s, &o, NULL), HTTP_FLAT_LONGNAME);
    free(s);
    free(key);
}

/* Input not NUL-terminated and with bytes after LEN: only LEN counts. */
static void test_json_counted(void **state)
{
    const char buf[] = {'{', '"', 'a', '"', ':', '1', '}', '{', '{'};
    out_t o;

    memset(&o, 0, sizeof(o));
    assert_int_equal(http_flatten_json(buf, 7, NULL, collect, &o, NULL, 0),
                     HTTP_FLAT_OK);
    assert_string_equal(o.text, "a=1\n");
}

static int form(const char *in, out_t *o, const http_flat_limits_t *lim)
{
    memset(o, 0, sizeof(*o));
    return http_flatten_form(in, strlen(in), lim, collect, o, NULL, 0);
}

static void test_form(void **state)
{
    static const struct {
        const char *in, *want;
        int rc;
    } cases[] = {
        {"", "", HTTP_FLAT_OK},
        {"a=1", "a=1\n", HTTP_FLAT_OK},
        {"a=1&b=two+words&c=%41%62%e2%82%ac",
         "a=1\nb=two words\nc=Ab\xe2\x82\xac\n", HTTP_FLAT_OK},
        {"flag&x=&=v", "flag=\nx=\n=v\n", HTTP_FLAT_OK},
        {"&&a=1&&", "a=1\n", HTTP_FLAT_OK},
        {"a=b=c", "a=b=c\n", HTTP_FLAT_OK},
        {"na%6De=v%3D%26", "name=v=&\n", HTTP_FLAT_OK},
        {"a=%", "", HTTP_FLAT_BADFORM},
        {"a=%4", "", HTTP_FLAT_BADFORM},
        {"a=%zz", "", HTTP_FLAT_BADFORM},
        {"a=%00", "", HTTP_FLAT_BADFORM},
        {"ok=1&%=x", "ok=1\n", HTTP_FLAT_BADFORM},
    };
    size_t i;
    out_t o;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        int rc = form(cases[i].in, &o, NULL);

        if (rc != cases[i].rc || strcmp(o.text, cases[i].want) != 0)
            fail_msg("case %zu %s: rc %d, got\n%s", i, cases[i].in, rc, o.text);
    }
}

static void test_form_limits(void **state)
{
    http_flat_limits_t lim = {2, 0};
    char *s = malloc(HTTP_FLAT_MAX_NAME + 16);
    out_t o;

    assert_int_equal(form("a=1&b=2", &o, &lim), HTTP_FLAT_OK);
    assert_int_equal(form("a=1&b=2&c=3", &o, &lim), HTTP_FLAT_TOOMANY);
    memset(s, 'n', HTTP_FLAT_MAX_NAME);
    strcpy(s + HTTP_FLAT_MAX_NAME, "=v");
    assert_int_equal(form(s, &o, NULL), HTTP_FLAT_OK);
    memset(s, 'n', HTTP_FLAT_MAX_NAME + 1);
    strcpy(s + HTTP_FLAT_MAX_NAME + 1, "=v");
    assert_int_equal(form(s, &o, NULL), HTTP_FLAT_LONGNAME);
    free(s);
    /* a raw NUL byte is refused as "%00" is */
    memset(&o, 0, sizeof(o));
    assert_int_equal(
        http_flatten_form("a=1&b\0=2", 9, NULL, collect, &o, NULL, 0),
        HTTP_FLAT_BADFORM);
}

/* Every prefix of a form: refused exactly when the cut falls inside a
 * percent-escape, and never a byte read past the cut (ASan: each prefix
 * is a heap copy with nothing after it). */
static void test_form_every_prefix(void **state)
{
    const char *in = "a=%41b&c+d=%2B&e";
    size_t len = strlen(in), k;

    for (k = 0; k <= len; k++) {
        char *copy = malloc(k ? k : 1);
        int inside = k == 3 || k == 4 || k == 12 || k == 13, rc;
        out_t o;

        memcpy(copy, in, k);
        memset(&o, 0, sizeof(o));
        rc = http_flatten_form(copy, k, NULL, collect, &o, NULL, 0);
        free(copy);
        if (rc != (inside ? HTTP_FLAT_BADFORM : HTTP_FLAT_OK))
            fail_msg("prefix %zu: rc %d", k, rc);
    }
}

static void test_body_kind(void **state)
{
    static const struct {
        const char *in;
        int kind;
    } cases[] = {
        {"application/json", HTTP_BODY_JSON},
        {"Application/JSON; charset=utf-8", HTTP_BODY_JSON},
        {"  application/json ;charset=utf-8", HTTP_BODY_JSON},
        {"application/vnd.github+json", HTTP_BODY_JSON},
        {"application/+json", HTTP_BODY_UNKNOWN},
        {"application/x-www-form-urlencoded", HTTP_BODY_FORM},
        {"application/x-www-form-urlencoded;charset=UTF-8", HTTP_BODY_FORM},
        {"text/plain", HTTP_BODY_TEXT},
        {"TEXT/PLAIN; charset=us-ascii", HTTP_BODY_TEXT},
        {"text/html", HTTP_BODY_UNKNOWN},
        {"application/jsonx", HTTP_BODY_UNKNOWN},
        {"multipart/form-data; boundary=x", HTTP_BODY_UNKNOWN},
        {"", HTTP_BODY_UNKNOWN},
        {"json", HTTP_BODY_UNKNOWN},
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        if (http_body_kind(cases[i].in, strlen(cases[i].in)) != cases[i].kind)
            fail_msg("case %zu \"%s\"", i, cases[i].in);
    }
}

/* RFC 4231 test case 2: key "Jefe", "what do ya want for nothing?". */
#define RFC4231_HEX                                                            \
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

static void test_sig(void **state)
{
    const char *data = "what do ya want for nothing?";
    unsigned char sig[32];

    assert_int_equal(http_sig_parse(RFC4231_HEX, 64, sig), 0);
    assert_true(http_sig_check("Jefe", 4, data, strlen(data), sig));
    assert_false(http_sig_check("Jeff", 4, data, strlen(data), sig));
    assert_false(http_sig_check("Jefe", 4, data, strlen(data) - 1, sig));
    assert_int_equal(http_sig_parse("sha256=" RFC4231_HEX, 71, sig), 0);
    assert_true(http_sig_check("Jefe", 4, data, strlen(data), sig));
    assert_int_equal(http_sig_parse(" SHA256=" RFC4231_HEX "  ", 74, sig), 0);
    assert_true(http_sig_check("Jefe", 4, data, strlen(data), sig));
    /* upper-case hex is the same signature */
    {
        char up[65];
        size_t i;

        for (i = 0; i < 64; i++)
            up[i] = (char)(RFC4231_HEX[i] >= 'a' ? RFC4231_HEX[i] - 32
                                                 : RFC4231_HEX[i]);
        up[64] = '\0';
        assert_int_equal(http_sig_parse(up, 64, sig), 0);
        assert_true(http_sig_check("Jefe", 4, data, strlen(data), sig));
    }
    assert_int_equal(http_sig_parse(RFC4231_HEX, 63, sig), -1);
    assert_int_equal(http_sig_parse("sha1=" RFC4231_HEX, 69, sig), -1);
    assert_int_equal(http_sig_parse("sha256=" RFC4231_HEX "00", 73, sig), -1);
    assert_int_equal(http_sig_parse("", 0, sig), -1);
    assert_int_equal(http_sig_parse("sha256=zz" RFC4231_HEX, 71, sig), -1);
}

static void test_secret_eq(void **state)
{
    assert_true(http_secret_eq("token", 5, "token", 5));
    assert_false(http_secret_eq("token", 5, "tokem", 5));
    assert_false(http_secret_eq("token", 5, "token2", 6));
    assert_false(http_secret_eq("", 0, "x", 1));
    assert_true(http_secret_eq("", 0, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_table),
        cmocka_unit_test(test_json_refused),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_json_fields_limit),
        cmocka_unit_test(test_json_long_name),
        cmocka_unit_test(test_json_counted),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_form_limits),
        cmocka_unit_test(test_form_every_prefix),
        cmocka_unit_test(test_body_kind),
        cmocka_unit_test(test_sig),
        cmocka_unit_test(test_secret_eq),
    };

    return cmocka_run_group_tests_name("http_flatten", tests, NULL, NULL);
}

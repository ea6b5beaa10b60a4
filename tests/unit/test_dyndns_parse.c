/*
 * test_dyndns_parse.c - the dyndns2 handler's pure pieces
 * (dyndns_parse.h): the users file (good lines, every refusal with its
 * line), patterns, host names, the query string and its addresses, the
 * answer rules per host, and Basic credentials.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dyndns_parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static dyndns_users_t *parse(const char *text, unsigned *line, char *err)
{
    return dyndns_users_parse(text, strlen(text), line, err, 256);
}

static void test_users_good(void **state)
{
    const char *text =
        "# demo users\n"
        "\n"
        "demo:$y$j9T$abc$def *.dyn.example.test\n"
        "  alice:$6$salt$hash\th1.dyn.example.test  *.Home.Dyn.Example.Test "
        "\r\n"
        "bob:$2b$05$abcdefghijklmnopqrstuv1234567890123456789012345678 "
        "x.example.test";
    unsigned line = 0;
    char err[256];
    dyndns_users_t *u = parse(text, &line, err);
    const dyndns_user_t *a;

    (void)state;
    assert_non_null(u);
    assert_int_equal(u->nusers, 3);
    assert_null(dyndns_user_find(u, "Demo", 4));
    assert_null(dyndns_user_find(u, "dem", 3));
    a = dyndns_user_find(u, "alice", 5);
    assert_non_null(a);
    assert_string_equal(a->hash, "$6$salt$hash");
    assert_int_equal(a->npatterns, 2);
    assert_string_equal(a->patterns[1], "*.home.dyn.example.test");
    assert_true(dyndns_user_may(a, "h1.dyn.example.test"));
    assert_false(dyndns_user_may(a, "h2.dyn.example.test"));
    assert_true(dyndns_user_may(a, "pc.home.dyn.example.test"));
    assert_true(dyndns_user_may(a, "a.b.home.dyn.example.test"));
    /* "*.S" is strictly below S */
    assert_false(dyndns_user_may(a, "home.dyn.example.test"));
    assert_false(dyndns_user_may(a, "xhome.dyn.example.test"));
    a = dyndns_user_find(u, "demo", 4);
    assert_true(dyndns_user_may(a, "h1.dyn.example.test"));
    assert_false(dyndns_user_may(a, "dyn.example.test"));
    assert_false(dyndns_user_may(a, "h1.dyn.example.test.evil"));
    dyndns_users_free(u);

    u = parse("", &line, err); /* an empty file: no users */
    assert_non_null(u);
    assert_int_equal(u->nusers, 0);
    dyndns_users_free(u);
}

static void test_users_refused(void **state)
{
    static const struct {
        const char *text;
        unsigned line;
        const char *msg; /* a piece of the message */
    } cases[] = {
        {"demo $y$a$b x.example.test\n", 1, "NAME:HASH"},
        {"# c\n:$y$a$b x.example.test\n", 2, "empty"},
        {"de mo:$y$a$b x.example.test\n", 1, "NAME:HASH"},
        {"d/e:$y$a$b x.example.test\n", 1, "letters"},
        {"demo:plain x.example.test\n", 1, "crypt"},
        {"demo: x.example.test\n", 1, "crypt"},
        {"demo:$$ x.example.test\n", 1, "crypt"},
        {"demo:abcdefghijklm x.example.test\n", 1, "crypt"}, /* DES */
        {"demo:$y$a$b\n", 1, "no name"},
        {"demo:$y$a$b x\n", 1, "not a host name"},
        {"demo:$y$a$b *\n", 1, "not a host name"},
        {"demo:$y$a$b **.x.test\n", 1, "not a host name"},
        {"demo:$y$a$b a..test\n", 1, "not a host name"},
        {"demo:$y$a$b -a.test\n", 1, "not a host name"},
        {"\n\ndemo:$y$a$b a.test\ndemo:$y$c$d b.test\n", 4, "twice"},
        {"x:$y$a$b a.test\n\0", 2, "NUL"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        unsigned line = 0;
        char err[256] = "";
        size_t len = strlen(cases[i].text);
        dyndns_users_t *u;

        if (i == ARRAY_LEN(cases) - 1)
            len += 1; /* the NUL */
        u = dyndns_users_parse(cases[i].text, len, &line, err, sizeof(err));
        if (u != NULL || line != cases[i].line ||
            strstr(err, cases[i].msg) == NULL)
            fail_msg("case %zu: line %u, \"%s\"", i, line, err);
    }
}

static void test_fqdn(void **state)
{
    static const struct {
        const char *in;
        int ok;
        const char *out;
    } cases[] = {
        {"h1.dyn.example.test", 1, "h1.dyn.example.test"},
        {"H1.DYN.Example.TEST", 1, "h1.dyn.example.test"},
        {"a-b.c", 1, "a-b.c"},
        {"_svc.x.test", 1, "_svc.x.test"},
        {"localhost", 0, NULL},
        {"", 0, NULL},
        {"a.", 0, NULL},
        {".a.b", 0, NULL},
        {"a..b", 0, NULL},
        {"-a.b", 0, NULL},
        {"a-.b", 0, NULL},
        {"a b.c", 0, NULL},
        {"a/b.c", 0, NULL},
        {"*.a.b", 0, NULL},
        {"1.2.3.4", 1, "1.2.3.4"},
    };
    char buf[300];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        assert_int_equal(dyndns_fqdn(buf), cases[i].ok);
        if (cases[i].out)
            assert_string_equal(buf, cases[i].out);
    }
    /* 63-byte labels are fine, 64 are not; 253 bytes in all at most */
    memset(buf, 'a', 63);
    strcpy(buf + 63, ".test");
    assert_true(dyndns_fqdn(buf));
    memset(buf, 'a', 64);
    strcpy(buf + 64, ".test");
    assert_false(dyndns_fqdn(buf));
    for (i = 0; i < 4; i++) {
        memset(buf + i * 64, 'a', 63);
        buf[i * 64 + 63] = '.';
    }
    buf[253] = '\0'; /* 4 x 63 + 3 dots = 255, cut to 253 */
    buf[252] = 'b';
    assert_true(dyndns_fqdn(buf));
    buf[253] = 'c';
    buf[254] = '\0';
    assert_false(dyndns_fqdn(buf));

    assert_true(dyndns_in_zone("h.dyn.example.test", "dyn.example.test"));
    assert_true(dyndns_in_zone("dyn.example.test", "dyn.example.test"));
    assert_false(dyndns_in_zone("hdyn.example.test", "dyn.example.test"));
    assert_false(dyndns_in_zone("example.test", "dyn.example.test"));
}

static void test_query(void **state)
{
    dyndns_query_t q;
    const char *s;

    (void)state;
    s = "hostname=h1.dyn.example.test&myip=192.0.2.7";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, 1);
    assert_string_equal(q.hosts[0], "h1.dyn.example.test");
    assert_true(q.has_v4);
    assert_false(q.has_v6);
    assert_memory_equal(q.v4, "\xc0\x00\x02\x07", 4);

    s = "system=dyndns&hostname=a.x.test%2Cb.x.test,c.x.test&myip="
        "2001:db8::1&wildcard=NOCHG&mx=&backmx=NO";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, 3);
    assert_string_equal(q.hosts[1], "b.x.test");
    assert_false(q.has_v4);
    assert_true(q.has_v6);
    assert_int_equal(q.v6[0], 0x20);
    assert_int_equal(q.v6[15], 1);

    s = "hostname=a.x.test&myip=192.0.2.1,2001:db8::2&myipv6=2001:db8::3";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_true(q.has_v4 && q.has_v6);
    assert_int_equal(q.v6[15], 3); /* the later value wins */
    assert_false(q.bad_ip);

    /* an IPv4 address in myipv6, or garbage: ignored, noted */
    s = "hostname=a.x.test&myipv6=192.0.2.1&myip=300.1.1.1";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_false(q.has_v4 || q.has_v6);
    assert_true(q.bad_ip);

    /* a bad myipv6 leaves the IPv4 address of myip alone */
    s = "hostname=a.x.test&myip=192.0.2.1&myipv6=10.0.0.1";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_true(q.has_v4 && q.bad_ip);
    assert_false(q.has_v6);
    assert_memory_equal(q.v4, "\xc0\x00\x02\x01", 4);

    s = "myip=192.0.2.1";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, 0);
    s = "hostname=";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, 1);
    assert_string_equal(q.hosts[0], "");
    s = "hostname=a.x.test,";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, 2);
    s = "hostname=a%zz";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), -1);
    s = "hostname=a%4";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), -1);
    s = "hostname=a%41";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_string_equal(q.hosts[0], "aA");
    /* a second hostname= is ignored */
    s = "hostname=a.x.test&hostname=b.x.test";
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, 1);
    assert_string_equal(q.hosts[0], "a.x.test");
}

static void test_numhost(void **state)
{
    char s[2048] = "hostname=";
    dyndns_query_t q;
    int i;

    (void)state;
    for (i = 0; i < DYNDNS_MAX_HOSTS; i++)
        snprintf(s + strlen(s), sizeof(s) - strlen(s), "%sh%d.x.test",
                 i ? "," : "", i);
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_int_equal(q.nhosts, DYNDNS_MAX_HOSTS);
    assert_false(q.too_many);
    strcat(s, ",one.more.test");
    assert_int_equal(dyndns_query_parse(s, strlen(s), &q), 0);
    assert_true(q.too_many);
}

static void test_host_codes(void **state)
{
    const char *text = "demo:$y$a$b *.dyn.example.test other.example.test\n";
    unsigned line;
    char err[256], h[300];
    dyndns_users_t *t = parse(text, &line, err);
    const dyndns_user_t *u = dyndns_user_find(t, "demo", 4);
    static const struct {
        const char *host;
        dyndns_code_t code;
    } cases[] = {
        {"h1.dyn.example.test", DYNDNS_GOOD},
        {"H1.Dyn.Example.Test", DYNDNS_GOOD},
        {"dyn.example.test", DYNDNS_NOHOST},   /* the apex: not "*." */
        {"other.example.test", DYNDNS_NOHOST}, /* allowed, other zone */
        {"h1.example.test", DYNDNS_NOHOST},
        {"h1", DYNDNS_NOTFQDN},
        {"", DYNDNS_NOTFQDN},
        {"h 1.dyn.example.test", DYNDNS_NOTFQDN},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(h, sizeof(h), "%s", cases[i].host);
        assert_int_equal(dyndns_host_code(u, "dyn.example.test", h),
                         cases[i].code);
    }
    assert_string_equal(dyndns_code_name(DYNDNS_GOOD), "good");
    assert_string_equal(dyndns_code_name(DYNDNS_NOCHG), "nochg");
    assert_string_equal(dyndns_code_name(DYNDNS_BADAUTH), "badauth");
    assert_string_equal(dyndns_code_name(DYNDNS_NOTFQDN), "notfqdn");
    assert_string_equal(dyndns_code_name(DYNDNS_NOHOST), "nohost");
    assert_string_equal(dyndns_code_name(DYNDNS_NUMHOST), "numhost");
    assert_string_equal(dyndns_code_name(DYNDNS_ABUSE), "abuse");
    assert_string_equal(dyndns_code_name(DYNDNS_911), "911");
    assert_string_equal(dyndns_code_name((dyndns_code_t)99), "911");
    dyndns_users_free(t);
}

static void test_basic(void **state)
{
    char u[65], p[256];
    const char *v;

    (void)state;
    v = "Basic ZGVtbzpkZW1v"; /* demo:demo */
    assert_int_equal(
        dyndns_basic_auth(v, strlen(v), u, sizeof(u), p, sizeof(p)), 0);
    assert_string_equal(u, "demo");
    assert_string_equal(p, "demo");
    v = "basic   YTpiOmM=  "; /* a:b:c: the password keeps its ':' */
    assert_int_equal(
        dyndns_basic_auth(v, strlen(v), u, sizeof(u), p, sizeof(p)), 0);
    assert_string_equal(u, "a");
    assert_string_equal(p, "b:c");
    v = "Basic Og=="; /* ":" */
    assert_int_equal(
        dyndns_basic_auth(v, strlen(v), u, sizeof(u), p, sizeof(p)), 0);
    assert_string_equal(u, "");
    static const char *const bad[] = {
        "Bearer ZGVtbzpkZW1v",
        "Basic",
        "Basic ",
        "Basic ZGVtbw==", /* no : */
        "Basic ZG*tbzpkZW1v",
        "BasicZGVtbzpkZW1v",
        "Basic YQBiOmM=", /* NUL */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(dyndns_basic_auth(bad[i], strlen(bad[i]), u, sizeof(u),
                                           p, sizeof(p)),
                         -1);
    /* a user name that does not fit */
    v = "Basic YWFhYWFhYWFhYTpi"; /* aaaaaaaaaa:b */
    assert_int_equal(dyndns_basic_auth(v, strlen(v), u, 5, p, sizeof(p)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_good), cmocka_unit_test(test_users_refused),
        cmocka_unit_test(test_fqdn),       cmocka_unit_test(test_query),
        cmocka_unit_test(test_numhost),    cmocka_unit_test(test_host_codes),
        cmocka_unit_test(test_basic),
    };

    return cmocka_run_group_tests_name("dyndns_parse", tests, NULL, NULL);
}

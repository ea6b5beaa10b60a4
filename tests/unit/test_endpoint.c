/*
 * test_endpoint.c - endpoint string parsing and canonical formatting.
 *
 * Table-driven: every valid string is checked field by field; every invalid
 * one must fail with an error that starts "endpoint 'STR':" and says what
 * is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "endpoint.h"
#include "loom.h"

#define LISTEN 0
#define CONNECT 1

/* A valid string and what it must parse to. */
typedef struct {
    int which; /* LISTEN or CONNECT */
    const char *str;
    loom_ep_kind_t kind;
    int port;
    const char *host, *path, *profile, *cert, *key, *ca;
    int backlog, mode, timeout, verify;
} ep_ok_t;

static const ep_ok_t ok_cases[] = {
    /* which, str, kind, port, host, path, profile, cert, key, ca,
     * backlog, mode, timeout, verify */
    {LISTEN, "tcp:7007", LOOM_EP_TCP, 7007, "", "", "", "", "", "", 511, -1, 0,
     1},
    {LISTEN, "tcp:0", LOOM_EP_TCP, 0, "", "", "", "", "", "", 511, -1, 0, 1},
    {LISTEN, "tcp:65535", LOOM_EP_TCP, 65535, "", "", "", "", "", "", 511, -1,
     0, 1},
    {LISTEN, "tcp:7007:interface=127.0.0.1", LOOM_EP_TCP, 7007, "127.0.0.1", "",
     "", "", "", "", 511, -1, 0, 1},
    {LISTEN, "tcp:7007:interface=127.0.0.1:backlog=50", LOOM_EP_TCP, 7007,
     "127.0.0.1", "", "", "", "", "", 50, -1, 0, 1},
    {LISTEN, "tcp:7007:backlog=1:interface=10.0.0.1", LOOM_EP_TCP, 7007,
     "10.0.0.1", "", "", "", "", "", 1, -1, 0, 1},
    {LISTEN, "tcp:8080:interface=\\:\\:1", LOOM_EP_TCP, 8080, "::1", "", "", "",
     "", "", 511, -1, 0, 1},
    {LISTEN, "tcp:8080:interface=\\:\\:", LOOM_EP_TCP, 8080, "::", "", "", "",
     "", "", 511, -1, 0, 1},
    {LISTEN, "tcp:8080:interface=[::1]", LOOM_EP_TCP, 8080, "::1", "", "", "",
     "", "", 511, -1, 0, 1},
    {LISTEN, "tcp:8080:interface=[fe80::1]:backlog=9", LOOM_EP_TCP, 8080,
     "fe80::1", "", "", "", "", "", 9, -1, 0, 1},
    {LISTEN, "tcp:80:interface=[::ffff:127.0.0.1]", LOOM_EP_TCP, 80,
     "::ffff:127.0.0.1", "", "", "", "", "", 511, -1, 0, 1},
    {LISTEN, "udp:7007", LOOM_EP_UDP, 7007, "", "", "", "", "", "", 511, -1, 0,
     1},
    {LISTEN, "udp:7007:interface=127.0.0.1", LOOM_EP_UDP, 7007, "127.0.0.1", "",
     "", "", "", "", 511, -1, 0, 1},
    {LISTEN, "unix:/run/loom.sock", LOOM_EP_UNIX, 0, "", "/run/loom.sock", "",
     "", "", "", 511, -1, 0, 1},
    {LISTEN, "unix:/run/loom.sock:mode=0660", LOOM_EP_UNIX, 0, "",
     "/run/loom.sock", "", "", "", "", 511, 0660, 0, 1},
    {LISTEN, "unix:rel.sock:mode=600:backlog=5", LOOM_EP_UNIX, 0, "",
     "rel.sock", "", "", "", "", 5, 0600, 0, 1},
    {LISTEN, "unix:/tmp/a\\:b\\\\c.sock", LOOM_EP_UNIX, 0, "",
     "/tmp/a:b\\c.sock", "", "", "", "", 511, -1, 0, 1},
    {LISTEN, "tls:7443:profile=local", LOOM_EP_TLS, 7443, "", "", "local", "",
     "", "", 511, -1, 0, 1},
    {LISTEN, "tls:7443:interface=127.0.0.1:profile=local", LOOM_EP_TLS, 7443,
     "127.0.0.1", "", "local", "", "", "", 511, -1, 0, 1},
    {LISTEN, "tls:7443:cert=server.pem:key=server.key", LOOM_EP_TLS, 7443, "",
     "", "", "server.pem", "server.key", "", 511, -1, 0, 1},
    {LISTEN, "tls:7443:key=/k\\:1.pem:interface=127.0.0.1:cert=/c.pem",
     LOOM_EP_TLS, 7443, "127.0.0.1", "", "", "/c.pem", "/k:1.pem", "", 511, -1,
     0, 1},
    {CONNECT, "tcp:host=example.org:port=79", LOOM_EP_TCP, 79, "example.org",
     "", "", "", "", "", 511, -1, 0, 1},
    {CONNECT, "tcp:port=79:host=example.org:timeout=5", LOOM_EP_TCP, 79,
     "example.org", "", "", "", "", "", 511, -1, 5, 1},
    {CONNECT, "tcp:host=\\:\\:1:port=7979", LOOM_EP_TCP, 7979, "::1", "", "",
     "", "", "", 511, -1, 0, 1},
    {CONNECT, "tcp:host=[::1]:port=7979", LOOM_EP_TCP, 7979, "::1", "", "", "",
     "", "", 511, -1, 0, 1},
    {CONNECT, "tls:host=a.test:port=443", LOOM_EP_TLS, 443, "a.test", "", "",
     "", "", "", 511, -1, 0, 1},
    {CONNECT, "tls:host=a.test:port=443:verify=no:ca=ca.pem", LOOM_EP_TLS, 443,
     "a.test", "", "", "", "", "ca.pem", 511, -1, 0, 0},
    {CONNECT, "tls:host=a.test:port=443:verify=yes:timeout=3600", LOOM_EP_TLS,
     443, "a.test", "", "", "", "", "", 511, -1, 3600, 1},
    {CONNECT, "unix:path=/run/x.sock", LOOM_EP_UNIX, 0, "", "/run/x.sock", "",
     "", "", "", 511, -1, 0, 1},
    {CONNECT, "unix:path=/run/x.sock:timeout=2", LOOM_EP_UNIX, 0, "",
     "/run/x.sock", "", "", "", "", 511, -1, 2, 1},
};

/* An invalid string and a word its error must contain. */
typedef struct {
    int which;
    const char *str;
    const char *what;
} ep_bad_t;

static const ep_bad_t bad_cases[] = {
    {LISTEN, "", "unknown kind"},
    {LISTEN, "sctp:7007", "unknown kind"},
    {LISTEN, "TCP:7007", "unknown kind"},
    {LISTEN, "tcp", "missing port"},
    {LISTEN, "tcp:", "missing port"},
    {LISTEN, "unix", "missing socket path"},
    {LISTEN, "unix:", "missing socket path"},
    {LISTEN, "tcp:http", "bad port"},
    {LISTEN, "tcp:65536", "bad port"},
    {LISTEN, "tcp:-1", "bad port"},
    {LISTEN, "tcp:+80", "bad port"},
    {LISTEN, "tcp: 80", "bad port"},
    {LISTEN, "tcp:80x", "bad port"},
    {LISTEN, "tcp:99999999999999999999", "bad port"},
    {LISTEN, "tcp:7007:bogus=1", "unknown option 'bogus'"},
    {LISTEN, "tcp:7007:mode=0660", "unknown option 'mode'"},
    {LISTEN, "tcp:7007:profile=x", "unknown option 'profile'"},
    {LISTEN, "udp:7007:backlog=5", "unknown option 'backlog'"},
    {LISTEN, "unix:/x:interface=127.0.0.1", "unknown option 'interface'"},
    {LISTEN, "tcp:7007:127.0.0.1", "not key=value"},
    {LISTEN, "tcp:7007:interface=a:interface=b", "given twice"},
    {LISTEN, "tcp:7007:backlog=1:backlog=2", "given twice"},
    {LISTEN, "unix:/x:mode=0600:mode=0660", "given twice"},
    {LISTEN, "tls:7443:profile=a:profile=b", "given twice"},
    {LISTEN, "tls:7443:cert=a:key=b:cert=c", "given twice"},
    {LISTEN, "tls:7443", "profile"},
    {LISTEN, "tls:7443:interface=127.0.0.1", "profile"},
    {LISTEN, "tls:7443:cert=a.pem", "key"},
    {LISTEN, "tls:7443:key=a.key", "cert"},
    {LISTEN, "tls:7443:profile=p:cert=a:key=b", "either"},
    {LISTEN, "tls:7443:profile=", "empty"},
    {LISTEN, "tls:7443:cert=:key=b", "empty"},
    {LISTEN, "tcp:7007:interface=", "bad interface"},
    {LISTEN, "tcp:7007:interface=[::1", "bad interface"},
    {LISTEN, "tcp:7007:interface=[]", "bad interface"},
    {LISTEN, "tcp:7007:interface=a b", "bad interface"},
    {LISTEN, "tcp:7007:interface=[::1]x", "bad interface"},
    {LISTEN, "tcp:7007:interface=[::1]]", "bad interface"},
    {LISTEN, "tcp:7007:interface=[[::1]", "bad interface"},
    {LISTEN, "tcp:7007:interface=[::1:backlog=5", "bad interface"},
    {LISTEN, "tcp:7007:backlog=0", "bad backlog"},
    {LISTEN, "tcp:7007:backlog=", "bad backlog"},
    {LISTEN, "tcp:7007:backlog=x", "bad backlog"},
    {LISTEN, "unix:/x:mode=999", "bad mode"},
    {LISTEN, "unix:/x:mode=01000", "bad mode"},
    {LISTEN, "unix:/x:mode=rw", "bad mode"},
    {LISTEN, "unix:/x:mode=", "bad mode"},
    {LISTEN, "tcp:7007\\", "trailing backslash"},
    {LISTEN, "tcp:7007:interface=\\", "trailing backslash"},
    {LISTEN, "tcp:70\00107", "control character"},
    {LISTEN, "tcp:7007:interface=a\tb", "control character"},
    {LISTEN, "unix:/x\177", "control character"},
    {LISTEN,
     "tcp:1:a=1:b=2:c=3:d=4:e=5:f=6:g=7:h=8:i=9:j=10:k=11:l=12:m=13:"
     "n=14:o=15",
     "too many fields"},
    {CONNECT, "", "unknown kind"},
    {CONNECT, "udp:host=a:port=1", "unknown kind"},
    {CONNECT, "http:host=a:port=1", "unknown kind"},
    {CONNECT, "tcp", "missing host"},
    {CONNECT, "tcp:host=a", "missing port"},
    {CONNECT, "tcp:port=79", "missing host"},
    {CONNECT, "tcp:a:79", "not key=value"},
    {CONNECT, "tcp:host=a:port=0", "bad port"},
    {CONNECT, "tcp:host=a:port=65536", "bad port"},
    {CONNECT, "tcp:host=a:port=", "bad port"},
    {CONNECT, "tcp:host=:port=1", "bad host"},
    {CONNECT, "tcp:host=a:host=b:port=1", "given twice"},
    {CONNECT, "tcp:host=a:port=1:port=2", "given twice"},
    {CONNECT, "tcp:host=a:port=1:timeout=1:timeout=2", "given twice"},
    {CONNECT, "tcp:host=a:port=1:timeout=0", "bad timeout"},
    {CONNECT, "tcp:host=a:port=1:timeout=3601", "bad timeout"},
    {CONNECT, "tcp:host=a:port=1:verify=no", "unknown option 'verify'"},
    {CONNECT, "tcp:host=a:port=1:path=/x", "unknown option 'path'"},
    {CONNECT, "tcp:host=a:port=1:interface=b", "unknown option"},
    {CONNECT, "tls:host=a:port=1:verify=maybe", "bad verify"},
    {CONNECT, "tls:host=a:port=1:ca=", "empty"},
    {CONNECT, "tls:host=a:port=1:ca=x:ca=y", "given twice"},
    {CONNECT, "unix", "path"},
    {CONNECT, "unix:path=", "empty"},
    {CONNECT, "unix:/run/x.sock", "not key=value"},
    {CONNECT, "unix:path=/x:host=a", "unknown option 'host'"},
    {CONNECT, "tcp:host=a:port=1\\", "trailing backslash"},
    {CONNECT, "tcp:host=a\nb:port=1", "control character"},
};

static int parse(int which, const char *str, loom_endpoint_t *ep, char *err,
                 size_t errlen)
{
    if (which == LISTEN)
        return loom_endpoint_parse_listen(str, ep, err, errlen);
    return loom_endpoint_parse_connect(str, ep, err, errlen);
}

#define CHECK_STR(field)                                                       \
    do {                                                                       \
        if (strcmp(ep.field, t->field) != 0) {                                 \
            print_message("# FAIL '%s': " #field " is '%s', want '%s'\n",      \
                          t->str, ep.field, t->field);                         \
            bad = 1;                                                           \
        }                                                                      \
    } while (0)
#define CHECK_INT(field)                                                       \
    do {                                                                       \
        if ((int)ep.field != (int)t->field) {                                  \
            print_message("# FAIL '%s': " #field " is %d, want %d\n", t->str,  \
                          (int)ep.field, (int)t->field);                       \
            bad = 1;                                                           \
        }                                                                      \
    } while (0)

/* Returns 0 when T parses to exactly what the table says. */
static int check_ok(const ep_ok_t *t)
{
    loom_endpoint_t ep;
    char err[512] = "";
    int bad = 0;

    if (parse(t->which, t->str, &ep, err, sizeof(err)) != 0) {
        print_message("# FAIL %s '%s': unexpected error: %s\n",
                      t->which == LISTEN ? "listen" : "connect", t->str, err);
        return 1;
    }
    CHECK_INT(kind);
    CHECK_INT(port);
    CHECK_STR(host);
    CHECK_STR(path);
    CHECK_STR(profile);
    CHECK_STR(cert);
    CHECK_STR(key);
    CHECK_STR(ca);
    CHECK_INT(backlog);
    CHECK_INT(mode);
    CHECK_INT(timeout);
    CHECK_INT(verify);
    return bad;
}

static void test_valid(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(ok_cases); i++)
        failed += check_ok(&ok_cases[i]);
    assert_int_equal(failed, 0);
}

/* Returns 0 when STR is refused with "endpoint 'STR': ...WHAT...". */
static int check_bad(int which, const char *str, const char *what)
{
    loom_endpoint_t ep;
    char err[1024] = "";
    char prefix[600];
    const char *how = which == LISTEN ? "listen" : "connect";

    if (parse(which, str, &ep, err, sizeof(err)) != -1) {
        print_message("# FAIL %s '%s' was accepted\n", how, str);
        return 1;
    }
    snprintf(prefix, sizeof(prefix), "endpoint '%s': ", str);
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        print_message("# FAIL %s '%s': error '%s' lacks the prefix\n", how, str,
                      err);
        return 1;
    }
    if (strstr(err + strlen(prefix), what) == NULL) {
        print_message("# FAIL %s '%s': error '%s' does not say '%s'\n", how,
                      str, err, what);
        return 1;
    }
    return 0;
}

static void test_invalid(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(bad_cases); i++)
        failed +=
            check_bad(bad_cases[i].which, bad_cases[i].str, bad_cases[i].what);
    assert_int_equal(failed, 0);
}

/* A value longer than LOOM_EP_VALUE_MAX is refused, not truncated. */
static void test_too_long(void **state)
{
    char str[LOOM_EP_VALUE_MAX + 64];

    (void)state;
    memset(str, 0, sizeof(str));
    strcpy(str, "unix:/");
    memset(str + 6, 'x', LOOM_EP_VALUE_MAX + 10);
    assert_int_equal(check_bad(LISTEN, str, "too long"), 0);

    memset(str, 0, sizeof(str));
    strcpy(str, "tcp:port=1:host=");
    memset(str + 16, 'h', LOOM_EP_VALUE_MAX);
    assert_int_equal(check_bad(CONNECT, str, "too long"), 0);
}

/* The longest value that fits is accepted whole. */
static void test_longest_value(void **state)
{
    char str[LOOM_EP_VALUE_MAX + 16];
    loom_endpoint_t ep;
    char err[1024];

    (void)state;
    memset(str, 0, sizeof(str));
    strcpy(str, "unix:");
    memset(str + 5, 'p', LOOM_EP_VALUE_MAX - 1);
    assert_int_equal(loom_endpoint_parse_listen(str, &ep, err, sizeof(err)), 0);
    assert_int_equal(strlen(ep.path), LOOM_EP_VALUE_MAX - 1);
}

/* ERR may be NULL or tiny: still no overflow, still NUL-terminated. */
static void test_small_err(void **state)
{
    loom_endpoint_t ep;
    char err[8];

    (void)state;
    assert_int_equal(loom_endpoint_parse_listen("nope:1", &ep, NULL, 0), -1);
    memset(err, 'z', sizeof(err));
    assert_int_equal(loom_endpoint_parse_listen("nope:1", &ep, err, 8), -1);
    assert_string_equal(err, "endpoin");
}

typedef struct {
    const char *str;
    const char *canon;
} ep_fmt_t;

static const ep_fmt_t fmt_cases[] = {
    {"tcp:7007", "stream:[0.0.0.0]:7007"},
    {"tcp:7007:interface=0.0.0.0", "stream:[0.0.0.0]:7007"},
    {"tcp:7007:interface=127.0.0.1:backlog=5", "stream:[127.0.0.1]:7007"},
    {"tls:7007:interface=127.0.0.1:profile=local", "stream:[127.0.0.1]:7007"},
    {"tls:7443:cert=a:key=b", "stream:[0.0.0.0]:7443"},
    {"tcp:8080:interface=\\:\\:1", "stream:[::1]:8080"},
    {"tcp:8080:interface=[::1]", "stream:[::1]:8080"},
    {"udp:7007", "udp:[0.0.0.0]:7007"},
    {"udp:7007:interface=127.0.0.1", "udp:[127.0.0.1]:7007"},
    {"unix:/run/x.sock", "unix:/run/x.sock"},
    {"unix:/run/x.sock:mode=0600:backlog=3", "unix:/run/x.sock"},
};

static void test_format(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(fmt_cases); i++) {
        loom_endpoint_t ep;
        char err[512] = "", out[600];

        if (loom_endpoint_parse_listen(fmt_cases[i].str, &ep, err,
                                       sizeof(err)) != 0) {
            print_message("# FAIL format '%s': %s\n", fmt_cases[i].str, err);
            failed++;
            continue;
        }
        loom_endpoint_format(&ep, out, sizeof(out));
        if (strcmp(out, fmt_cases[i].canon) != 0) {
            print_message("# FAIL format '%s' gave '%s', want '%s'\n",
                          fmt_cases[i].str, out, fmt_cases[i].canon);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* tcp and udp on the same port are different sockets. */
static void test_format_distinct(void **state)
{
    loom_endpoint_t a, b;
    char err[512], fa[600], fb[600];

    (void)state;
    assert_int_equal(loom_endpoint_parse_listen("tcp:7", &a, err, 512), 0);
    assert_int_equal(loom_endpoint_parse_listen("udp:7", &b, err, 512), 0);
    loom_endpoint_format(&a, fa, sizeof(fa));
    loom_endpoint_format(&b, fb, sizeof(fb));
    assert_string_not_equal(fa, fb);
}

static void test_format_truncates(void **state)
{
    loom_endpoint_t ep;
    char err[512], out[8];

    (void)state;
    assert_int_equal(loom_endpoint_parse_listen("tcp:7007:interface=127.0.0.1",
                                                &ep, err, sizeof(err)),
                     0);
    memset(out, 'z', sizeof(out));
    loom_endpoint_format(&ep, out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_memory_equal(out, "stream:", 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_longest_value),
        cmocka_unit_test(test_small_err),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_distinct),
        cmocka_unit_test(test_format_truncates),
    };

    return cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
}

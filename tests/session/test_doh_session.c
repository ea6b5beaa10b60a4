/*
 * test_doh_session.c - the http doh handler over the in-memory transport,
 * in front of a dns instance of the same server: GET and POST fed whole,
 * split at every byte, seven and one byte at a time, must give the same
 * bytes (Date blanked); the answer is the dns instance's own (the same
 * bytes a direct call of its query service gives, ID kept), with
 * Cache-Control from its TTLs; 400, 405, 413, 414, 415 and 503 on the
 * error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "dns_service.h"
#include "doh_param.h"
#include "http.h"
#include "session.h"

/* www.doh.test A, ID 0, RD */
static const uint8_t q_www[] = {0, 0,   1,   0,   0,   1,   0, 0,   0,   0,
                                0, 0,   3,   'w', 'w', 'w', 3, 'd', 'o', 'h',
                                4, 't', 'e', 's', 't', 0,   0, 1,   0,   1};
#define Q_WWW_B64 "AAABAAABAAAAAAAAA3d3dwNkb2gEdGVzdAAAAQAB"
/* nope.doh.test A, ID 0x1234 */
static const uint8_t q_nope[] = {
    0x12, 0x34, 1,   0,   0,   1, 0,   0,   0,   0,   0, 0, 4, 'n', 'o', 'p',
    'e',  3,    'd', 'o', 'h', 4, 't', 'e', 's', 't', 0, 0, 1, 0,   1};

static const ses_file_t files[] = {
    SES_TEXT("zones/doh.test.zone",
             "$ORIGIN doh.test.\n$TTL 600\n"
             "@ 300 IN SOA ns hostmaster 1 3600 600 86400 120\n"
             "  IN NS ns\nns IN A 192.0.2.31\nwww 60 IN A 127.0.0.1\n"),
};

static const ses_spec_t spec = {
    .conf = "dns \"auth\" {\n"
            "    listen = {\"udp:18153:interface=127.0.0.1\"}\n"
            "    zone \"doh.test\" { file = \"@DIR@/zones/doh.test.zone\" }\n"
            "}\n"
            "http \"web\" {\n"
            "    listen = {\"tcp:18154:interface=127.0.0.1\"}\n"
            "    server \"main\" {\n"
            "        location \"= /dns-query\" {\n"
            "            handler = \"doh\"\n"
            "            dns = \"auth\"\n"
            "        }\n"
            "        location \"= /none\" {\n"
            "            handler = \"doh\"\n"
            "            dns = \"nosuch\"\n"
            "        }\n"
            "    }\n"
            "}\n",
    .module = "http",
    .name = "web",
    .tmpl = "/tmp/loom-dohsess.XXXXXX",
    .files = files,
    .nfiles = sizeof(files) / sizeof(files[0]),
};

static int setup(void **state)
{
    return ses_setup(state, &spec);
}

static int teardown(void **state)
{
    return ses_teardown(state);
}

/* Every Date value becomes "-". */
static void blank(ses_reply_t *r)
{
    ses_blank(r, "\r\nDate: ", "-", 0);
}

/* What the dns instance's service answers to MSG (synchronously). */
typedef struct {
    int status;
    uint8_t buf[512];
    size_t len;
} direct_t;

static void direct_cb(void *arg, int status, const uint8_t *ans, size_t len)
{
    direct_t *d = arg;

    d->status = status;
    assert_true(len <= sizeof(d->buf));
    if (ans)
        memcpy(d->buf, ans, len);
    d->len = len;
}

static void direct(ses_env_t *e, const uint8_t *msg, size_t len, direct_t *d)
{
    loom_service_ref_t ref;
    const dns_query_service_t *svc;
    struct sockaddr_storage ss;
    void *self;

    memset(&ss, 0, sizeof(ss));
    assert_int_equal(
        loom_service_ref_init(&ref, e->srv, "dns", "auth", DNS_QUERY_SERVICE),
        LOOM_OK);
    svc = loom_service_get(&ref, &self, NULL);
    assert_non_null(svc);
    d->status = -1;
    assert_null(
        svc->query(self, msg, len, (struct sockaddr *)&ss, direct_cb, d));
    assert_int_equal(d->status, DNS_QUERY_ANSWER);
}

/* The head of a 200 DoH answer of LEN bytes with max-age AGE, then the
 * body, into OUT.  Returns the length. */
static size_t answer(char *out, size_t cap, const direct_t *d, unsigned age)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 200 OK\r\nServer: loom/%s\r\nDate: -\r\n"
                     "Content-Length: %zu\r\nCache-Control: max-age=%u\r\n"
                     "Content-Type: application/dns-message\r\n\r\n",
                     LOOM_VERSION_STRING, d->len, age);

    assert_true(n > 0 && (size_t)n + d->len < cap);
    memcpy(out + n, d->buf, d->len);
    return (size_t)n + d->len;
}

static void expect_reply(ses_env_t *e, const char *in, size_t len,
                         const char *want, size_t wlen)
{
    ses_reply_t r = ses_same_splits(e, NULL, in, len, blank);

    if (r.len != wlen || memcmp(r.p, want, wlen) != 0) {
        ses_show("got", r.p, r.len);
        ses_show("want", want, wlen);
        free(r.p);
        fail_msg("wrong reply");
    }
    free(r.p);
}

static void test_get(void **state)
{
    ses_env_t *e = *state;
    static const char in[] =
        "GET /dns-query?dns=" Q_WWW_B64 " HTTP/1.1\r\nHost: x\r\n\r\n";
    char want[1024];
    direct_t d;

    direct(e, q_www, sizeof(q_www), &d);
    assert_int_equal(d.buf[0] | d.buf[1], 0); /* ID 0 kept */
    expect_reply(e, SES_S(in), want, answer(want, sizeof(want), &d, 60));
}

static void test_post(void **state)
{
    ses_env_t *e = *state;
    char in[512], want[1024];
    int n = snprintf(in, sizeof(in),
                     "POST /dns-query HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/dns-message\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     sizeof(q_nope));
    direct_t d;

    memcpy(in + n, q_nope, sizeof(q_nope));
    direct(e, q_nope, sizeof(q_nope), &d);
    assert_int_equal(d.buf[0] << 8 | d.buf[1], 0x1234);
    assert_int_equal(d.buf[3] & 0xf, 3); /* NXDOMAIN: SOA min(300, 120) */
    expect_reply(e, in, (size_t)n + sizeof(q_nope), want,
                 answer(want, sizeof(want), &d, 120));
}

/* The status line of the one reply to IN. */
static int status_of(ses_env_t *e, const char *in, size_t len)
{
    ses_reply_t r = ses_same_splits(e, NULL, in, len, blank);
    int st = 0;

    if (r.len > 12 && memcmp(r.p, "HTTP/1.1 ", 9) == 0)
        st = atoi(r.p + 9);
    free(r.p);
    return st;
}

static void test_errors(void **state)
{
    ses_env_t *e = *state;
    static const struct {
        const char *in;
        int status;
    } cases[] = {
        {"GET /dns-query?dns=AAAB=== HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /dns-query?dns=AAABAAAB HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /dns-query HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET /none?dns=" Q_WWW_B64 " HTTP/1.1\r\nHost: x\r\n\r\n", 503},
        {"DELETE /dns-query HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"POST /dns-query HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
         "Content-Length: 3\r\n\r\nabc",
         415},
        {"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
         "Content-Type: application/dns-message\r\n"
         "Content-Length: 3\r\n\r\nabc",
         400},
        {"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
         "Content-Type: application/dns-message\r\n"
         "Content-Length: 65536\r\n\r\n",
         413},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (status_of(e, cases[i].in, strlen(cases[i].in)) != cases[i].status)
            fail_msg("case %zu: want %d", i, cases[i].status);
}

static void test_overlong_get(void **state)
{
    ses_env_t *e = *state;
    size_t n = DOH_GET_MAX + 1, len;
    char *in = malloc(n + 64);
    ses_reply_t r;

    assert_non_null(in);
    len = (size_t)sprintf(in, "GET /dns-query?dns=");
    memset(in + len, 'A', n);
    len += n;
    len += (size_t)sprintf(in + len, " HTTP/1.1\r\nHost: x\r\n\r\n");
    r = ses_talk(e, NULL, in, len, 0, 0);
    assert_memory_equal(r.p, "HTTP/1.1 414 ", 13);
    free(r.p);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_overlong_get),
    };

    return cmocka_run_group_tests_name("doh_session", tests, setup, teardown);
}

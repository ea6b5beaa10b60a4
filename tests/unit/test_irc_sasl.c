/*
 * test_irc_sasl.c - the AUTHENTICATE exchange (irc_sasl.h): 400-byte
 * chunking with "+" after an exact multiple, "+" for an empty response,
 * "*" to abort, over-long lines and responses, bad base64; the PLAIN
 * split and its refusals; EXTERNAL with and without an authzid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom.h"
#include "irc_sasl.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Send RAW (LEN bytes) as a client would: base64, cut in 400-byte
 * AUTHENTICATE lines, "+" after an exact multiple (and for empty). The
 * result of the last feed; ACC holds the response. */
static irc_sasl_res_t send_response(irc_sasl_acc_t *acc, const char *raw,
                                    size_t len, int *lines)
{
    static char b64[8192];
    size_t n, off = 0;
    irc_sasl_res_t r = IRC_SASL_MORE;

    assert_int_equal(irc_sasl_encode(raw, len, b64, sizeof(b64)), LOOM_OK);
    n = strlen(b64);
    *lines = 0;
    while (off < n) {
        size_t take = n - off > 400 ? 400 : n - off;

        r = irc_sasl_feed(acc, b64 + off, take);
        (*lines)++;
        off += take;
        if (r != IRC_SASL_MORE)
            return r;
    }
    if (n % 400 == 0) {
        r = irc_sasl_feed(acc, "+", 1);
        (*lines)++;
    }
    return r;
}

static void test_chunks(void **state)
{
    /* raw sizes around the 400-byte (300 raw bytes) boundaries */
    static const size_t sizes[] = {0,   1,   2,   3,   299, 300,
                                   301, 599, 600, 601, 900, 1200};
    static const int want_lines[] = {1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 5};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        char raw[1300], out[1300];
        irc_sasl_acc_t acc;
        size_t outlen;
        int lines;

        for (size_t k = 0; k < sizes[i]; k++)
            raw[k] = (char)(k * 7 + i);
        irc_sasl_reset(&acc);
        assert_int_equal(send_response(&acc, raw, sizes[i], &lines),
                         IRC_SASL_DONE);
        assert_int_equal(lines, want_lines[i]);
        assert_int_equal(irc_sasl_decode(&acc, out, sizeof(out), &outlen),
                         LOOM_OK);
        assert_int_equal(outlen, sizes[i]);
        assert_memory_equal(out, raw, sizes[i]);
    }
}

static void test_feed_errors(void **state)
{
    static char line[402];
    irc_sasl_acc_t acc;

    (void)state;
    irc_sasl_reset(&acc);
    assert_int_equal(irc_sasl_feed(&acc, "*", 1), IRC_SASL_ABORT);
    assert_int_equal(irc_sasl_numeric(IRC_SASL_ABORT), 906);
    memset(line, 'A', 401);
    assert_int_equal(irc_sasl_feed(&acc, line, 401), IRC_SASL_CHUNK);
    assert_int_equal(irc_sasl_numeric(IRC_SASL_CHUNK), 905);
    assert_int_equal(irc_sasl_feed(&acc, "", 0), IRC_SASL_BAD);
    assert_int_equal(irc_sasl_feed(&acc, "AB$=", 4), IRC_SASL_BAD);
    assert_int_equal(irc_sasl_feed(&acc, "AB C", 4), IRC_SASL_BAD);
    assert_int_equal(irc_sasl_numeric(IRC_SASL_BAD), 904);
    assert_int_equal(irc_sasl_numeric(IRC_SASL_MORE), 0);
    assert_int_equal(irc_sasl_numeric(IRC_SASL_DONE), 0);
    /* a response over IRC_SASL_B64_MAX: 904 */
    irc_sasl_reset(&acc);
    for (int i = 0; i < IRC_SASL_B64_MAX / 400; i++)
        assert_int_equal(irc_sasl_feed(&acc, line, 400), IRC_SASL_MORE);
    assert_int_equal(irc_sasl_feed(&acc, "AAAA", 4), IRC_SASL_LONG);
    assert_int_equal(irc_sasl_numeric(IRC_SASL_LONG), 904);
    /* base64 characters in a bad arrangement: decode fails */
    irc_sasl_reset(&acc);
    assert_int_equal(irc_sasl_feed(&acc, "QUJD=", 5), IRC_SASL_DONE);
    {
        char out[16];
        size_t n;

        assert_int_equal(irc_sasl_decode(&acc, out, sizeof(out), &n),
                         LOOM_ERROR);
        irc_sasl_reset(&acc);
        assert_int_equal(irc_sasl_feed(&acc, "Q=JD", 4), IRC_SASL_DONE);
        assert_int_equal(irc_sasl_decode(&acc, out, sizeof(out), &n),
                         LOOM_ERROR);
        /* decoded bytes over CAP */
        irc_sasl_reset(&acc);
        assert_int_equal(irc_sasl_feed(&acc, "QUJDREVG", 8), IRC_SASL_DONE);
        assert_int_equal(irc_sasl_decode(&acc, out, 5, &n), LOOM_ERROR);
        assert_int_equal(irc_sasl_decode(&acc, out, 6, &n), LOOM_OK);
        assert_memory_equal(out, "ABCDEF", 6);
        irc_sasl_reset(&acc);
        assert_int_equal(acc.len, 0);
    }
}

/* ---- PLAIN / EXTERNAL ---------------------------------------------------- */

typedef struct {
    const char *raw;
    size_t len;
    int ok;
    const char *authzid, *authcid, *passwd;
} plain_case_t;

#define P(s) s, sizeof(s) - 1

static const plain_case_t plains[] = {
    {P("\0alice\0secret"), 1, "", "alice", "secret"},
    {P("alice\0alice\0secret"), 1, "alice", "alice", "secret"},
    {P("\0alice\0pass with spaces"), 1, "", "alice", "pass with spaces"},
    {P("bob\0alice\0secret"), 0, NULL, NULL, NULL}, /* proxy: refused */
    {P("\0\0secret"), 0, NULL, NULL, NULL},
    {P("\0alice\0"), 0, NULL, NULL, NULL},
    {P("alice\0secret"), 0, NULL, NULL, NULL},
    {P("\0alice\0sec\0ret"), 0, NULL, NULL, NULL},
    {P(""), 0, NULL, NULL, NULL},
    {P("noseparator"), 0, NULL, NULL, NULL},
};

static void test_plain(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(plains); i++) {
        const plain_case_t *c = &plains[i];
        irc_sasl_plain_t p;

        assert_int_equal(irc_sasl_plain(c->raw, c->len, &p),
                         c->ok ? LOOM_OK : LOOM_ERROR);
        if (!c->ok)
            continue;
        assert_string_equal(p.authzid, c->authzid);
        assert_string_equal(p.authcid, c->authcid);
        assert_string_equal(p.passwd, c->passwd);
        irc_sasl_wipe(&p, sizeof(p));
        assert_int_equal(p.passwd[0], 0);
    }
}

static void test_plain_lengths(void **state)
{
    char raw[1000];
    irc_sasl_plain_t p;
    size_t n;

    (void)state;
    /* a password of exactly IRC_SASL_FIELD_MAX bytes, then one more */
    raw[0] = '\0';
    memcpy(raw + 1, "u", 1);
    raw[2] = '\0';
    memset(raw + 3, 'p', IRC_SASL_FIELD_MAX);
    n = 3 + IRC_SASL_FIELD_MAX;
    assert_int_equal(irc_sasl_plain(raw, n, &p), LOOM_OK);
    assert_int_equal(strlen(p.passwd), IRC_SASL_FIELD_MAX);
    raw[n] = 'p';
    assert_int_equal(irc_sasl_plain(raw, n + 1, &p), LOOM_ERROR);
}

/* Through the whole path: what a client's base64 becomes. */
static void test_plain_from_wire(void **state)
{
    irc_sasl_acc_t acc;
    irc_sasl_plain_t p;
    char out[512];
    size_t n;

    (void)state;
    irc_sasl_reset(&acc);
    /* base64("\0alice\0s3cret") as a client sends it */
    assert_int_equal(irc_sasl_feed(&acc, "AGFsaWNlAHMzY3JldA==", 20),
                     IRC_SASL_DONE);
    assert_int_equal(irc_sasl_decode(&acc, out, sizeof(out), &n), LOOM_OK);
    assert_int_equal(irc_sasl_plain(out, n, &p), LOOM_OK);
    assert_string_equal(p.authcid, "alice");
    assert_string_equal(p.passwd, "s3cret");
}

static void test_external(void **state)
{
    char authz[16];
    irc_sasl_acc_t acc;
    char out[64];
    size_t n;

    (void)state;
    irc_sasl_reset(&acc);
    assert_int_equal(irc_sasl_feed(&acc, "+", 1), IRC_SASL_DONE);
    assert_int_equal(irc_sasl_decode(&acc, out, sizeof(out), &n), LOOM_OK);
    assert_int_equal(n, 0);
    assert_int_equal(irc_sasl_external(out, n, authz, sizeof(authz)), LOOM_OK);
    assert_string_equal(authz, "");
    assert_int_equal(irc_sasl_external("alice", 5, authz, sizeof(authz)),
                     LOOM_OK);
    assert_string_equal(authz, "alice");
    assert_int_equal(irc_sasl_external("al\0ce", 5, authz, sizeof(authz)),
                     LOOM_ERROR);
    assert_int_equal(
        irc_sasl_external("0123456789abcdef", 16, authz, sizeof(authz)),
        LOOM_ERROR);
}

static void test_encode(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(irc_sasl_encode("ab", 2, out, sizeof(out)), LOOM_OK);
    assert_string_equal(out, "YWI=");
    assert_int_equal(irc_sasl_encode("abcdef", 6, out, sizeof(out)),
                     LOOM_ERROR);
    assert_int_equal(irc_sasl_encode("", 0, out, sizeof(out)), LOOM_OK);
    assert_string_equal(out, "");
    assert_string_equal(IRC_SASL_MECHS, "PLAIN,EXTERNAL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_feed_errors),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_plain_lengths),
        cmocka_unit_test(test_plain_from_wire),
        cmocka_unit_test(test_external),
        cmocka_unit_test(test_encode),
    };

    return cmocka_run_group_tests_name("irc_sasl", tests, NULL, NULL);
}

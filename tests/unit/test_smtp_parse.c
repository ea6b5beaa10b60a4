/*
 * test_smtp_parse.c - the SMTP command parser (smtp_parse.h): a table of
 * valid and invalid lines with the reply each gets, then every argument
 * of MAIL/RCPT (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH, NOTIFY, ORCPT),
 * address parsing (null path, quoted local parts, UTF-8, source routes,
 * address literals, length limits), BDAT and AUTH arguments, xtext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What a Postfix-like server advertises, without BINARYMIME. */
#define ALL                                                                    \
    (SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN |    \
     SMTP_EXT_AUTH)

typedef struct {
    const char *line;
    unsigned ext;
    int utf8_txn;
    int code; /* 0: parses */
    const char *enh;
    smtp_verb_t verb;
} cmd_case_t;

#define OK(l, v)                                                               \
    {                                                                          \
        l, ALL, 0, 0, "", SMTP_VERB_##v                                        \
    }
#define BAD(l, c, e)                                                           \
    {                                                                          \
        l, ALL, 0, c, e, SMTP_VERB_UNKNOWN                                     \
    }

static const cmd_case_t cases[] = {
    OK("EHLO client.example", EHLO),
    OK("ehlo client.example", EHLO),
    OK("EhLo [192.0.2.1]", EHLO),
    OK("HELO client", HELO),
    BAD("EHLO", 501, "5.5.4"),
    BAD("EHLO   ", 501, "5.5.4"),
    BAD("HELO", 501, "5.5.4"),
    OK("MAIL FROM:<alice@example.test>", MAIL),
    OK("mail from:<alice@example.test>", MAIL),
    OK("MAIL FROM: <alice@example.test>", MAIL),
    OK("MAIL  FROM:<alice@example.test>  ", MAIL),
    OK("MAIL FROM:alice@example.test", MAIL),
    OK("MAIL FROM:alice@example.test SIZE=100", MAIL),
    OK("MAIL FROM:<>", MAIL),
    OK("MAIL FROM:<> SIZE=0 BODY=8BITMIME", MAIL),
    OK("MAIL FROM: <>", MAIL),
    BAD("MAIL FROM:<> <>", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test><b@example.test>", 501, "5.1.7"),
    OK("MAIL FROM:<\"john doe\"@example.test>", MAIL),
    OK("MAIL FROM:<\"a\\\"b>c\"@example.test>", MAIL),
    OK("MAIL FROM:<@r1.example,@r2.example:bob@example.test>", MAIL),
    OK("MAIL FROM:<@r1.example:bob@example.test>", MAIL),
    OK("MAIL FROM:<a@[192.0.2.1]>", MAIL),
    OK("MAIL FROM:<a@[IPv6:2001:db8::1]>", MAIL),
    OK("MAIL FROM:<a+tag/x=y!#$%&'*?^_`{|}~-@mx-1.example.test>", MAIL),
    OK("MAIL FROM:<a@3com.example>", MAIL),
    BAD("MAIL FROM:<a@[999.0.0.1]>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@[IPv6:zz]>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@[foo:bar]>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@[192.0.2.1]x>", 501, "5.1.7"),
    BAD("MAIL FROM:<a..b@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<.a@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a.@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@example..test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@-example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@example-.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@example.test.>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@exa_mple.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@>", 501, "5.1.7"),
    BAD("MAIL FROM:<@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<@r1.example bob@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<@r1.example,bob@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<alice>", 501, "5.1.7"),
    BAD("MAIL FROM:<postmaster>", 501, "5.1.7"),
    BAD("MAIL FROM:<alice@example.test", 501, "5.1.7"),
    BAD("MAIL FROM:<alice@example.test>x", 501, "5.1.7"),
    BAD("MAIL FROM:<alice@example.test>>", 501, "5.1.7"),
    BAD("MAIL FROM:<a b@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<\"a b@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:<a@b@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:a<b@example.test", 501, "5.1.7"),
    BAD("MAIL FROM:<a(b)@example.test>", 501, "5.1.7"),
    BAD("MAIL FROM:", 501, "5.5.4"),
    BAD("MAIL FROM:   ", 501, "5.5.4"),
    BAD("MAIL TO:<a@example.test>", 501, "5.5.4"),
    BAD("MAIL FROM<a@example.test>", 501, "5.5.4"),
    BAD("MAIL", 501, "5.5.4"),
    /* SMTPUTF8 */
    BAD("MAIL FROM:<j\xc3\xb6rg@example.test>", 553, "5.6.7"),
    BAD("MAIL FROM:<jorg@b\xc3\xbc"
        "cher.example>",
        553, "5.6.7"),
    OK("MAIL FROM:<j\xc3\xb6rg@example.test> SMTPUTF8", MAIL),
    OK("MAIL FROM:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90."
       "example> SMTPUTF8",
       MAIL),
    OK("MAIL FROM:<\"j\xc3\xb6 rg\"@example.test> SMTPUTF8", MAIL),
    {"MAIL FROM:<j\xc3\xb6rg@example.test> SMTPUTF8", ALL & ~SMTP_EXT_SMTPUTF8,
     0, 555, "5.5.4", SMTP_VERB_UNKNOWN},
    BAD("MAIL FROM:<j\xc3(rg@example.test> SMTPUTF8", 500, "5.5.2"),
    BAD("MAIL FROM:<j\xc0\xafrg@example.test> SMTPUTF8", 500, "5.5.2"),
    BAD("MAIL FROM:<j\xed\xa0\x80rg@example.test> SMTPUTF8", 500, "5.5.2"),
    BAD("MAIL FROM:<j\xf4\x90\x80\x80rg@example.test> SMTPUTF8", 500, "5.5.2"),
    BAD("MAIL FROM:<j\xe2\x82rg@example.test> SMTPUTF8", 500, "5.5.2"),
    BAD("MAIL FROM:<j\xc3\xb6rg@example.test> SMTPUTF8=yes", 501, "5.5.4"),
    /* SIZE (max_size is set by the test loop) */
    BAD("MAIL FROM:<a@example.test> SIZE=abc", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> SIZE=-1", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> SIZE=", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> SIZE", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> SIZE=1000001", 552, "5.3.4"),
    OK("MAIL FROM:<a@example.test> SIZE=1000000", MAIL),
    BAD("MAIL FROM:<a@example.test> SIZE=99999999999999999999999", 501,
        "5.5.4"),
    BAD("MAIL FROM:<a@example.test> SIZE=1 SIZE=2", 501, "5.5.4"),
    {"MAIL FROM:<a@example.test> SIZE=1", 0, 0, 555, "5.5.4",
     SMTP_VERB_UNKNOWN},
    /* BODY */
    OK("MAIL FROM:<a@example.test> BODY=7BIT", MAIL),
    OK("MAIL FROM:<a@example.test> body=8bitmime", MAIL),
    BAD("MAIL FROM:<a@example.test> BODY=BINARYMIME", 555, "5.5.4"),
    {"MAIL FROM:<a@example.test> BODY=BINARYMIME", ALL | SMTP_EXT_BINARYMIME, 0,
     0, "", SMTP_VERB_MAIL},
    BAD("MAIL FROM:<a@example.test> BODY=9BIT", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> BODY", 501, "5.5.4"),
    /* DSN on MAIL */
    OK("MAIL FROM:<a@example.test> RET=FULL ENVID=QQ314159", MAIL),
    OK("MAIL FROM:<a@example.test> RET=hdrs", MAIL),
    BAD("MAIL FROM:<a@example.test> RET=ALL", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> RET=FULL RET=HDRS", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> ENVID=a+zz", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> ENVID=a+2b", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> ENVID=a+2", 501, "5.5.4"),
    OK("MAIL FROM:<a@example.test> ENVID=a+2Bb+3D", MAIL),
    {"MAIL FROM:<a@example.test> RET=FULL", ALL & ~SMTP_EXT_DSN, 0, 555,
     "5.5.4", SMTP_VERB_UNKNOWN},
    BAD("MAIL FROM:<a@example.test> NOTIFY=NEVER", 555, "5.5.4"),
    /* AUTH= */
    OK("MAIL FROM:<a@example.test> AUTH=<>", MAIL),
    OK("MAIL FROM:<a@example.test> AUTH=alice+40example.test", MAIL),
    BAD("MAIL FROM:<a@example.test> AUTH=", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> AUTH=a+4", 501, "5.5.4"),
    /* unknown and malformed parameters */
    BAD("MAIL FROM:<a@example.test> FOO=bar", 555, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> XYZ", 555, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> =bar", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> SIZE==1", 501, "5.5.4"),
    BAD("MAIL FROM:<a@example.test> -X=1", 501, "5.5.4"),
    /* RCPT */
    OK("RCPT TO:<bob@example.test>", RCPT),
    OK("rcpt to: <bob@example.test>", RCPT),
    OK("RCPT TO:bob@example.test", RCPT),
    OK("RCPT TO:<postmaster>", RCPT),
    OK("RCPT TO:<PostMaster>", RCPT),
    OK("RCPT TO:<postmaster@example.test>", RCPT),
    OK("RCPT TO:<@r1.example:bob@example.test>", RCPT),
    BAD("RCPT TO:<bob>", 501, "5.1.3"),
    BAD("RCPT TO:<\"postmaster\">", 501, "5.1.3"),
    BAD("RCPT TO:<>", 501, "5.1.3"),
    BAD("RCPT TO:<bob@example.test", 501, "5.1.3"),
    BAD("RCPT FROM:<bob@example.test>", 501, "5.5.4"),
    BAD("RCPT TO:", 501, "5.5.4"),
    BAD("RCPT", 501, "5.5.4"),
    BAD("RCPT TO:<b\xc3\xb6@example.test>", 553, "5.6.7"),
    {"RCPT TO:<b\xc3\xb6@example.test>", ALL, 1, 0, "", SMTP_VERB_RCPT},
    BAD("RCPT TO:<bob@example.test> SIZE=10", 555, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> SMTPUTF8", 555, "5.5.4"),
    OK("RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE", RCPT),
    OK("RCPT TO:<bob@example.test> NOTIFY=never", RCPT),
    OK("RCPT TO:<bob@example.test> NOTIFY=DELAY ORCPT=rfc822;bob@example.test",
       RCPT),
    BAD("RCPT TO:<bob@example.test> NOTIFY=NEVER,DELAY", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> NOTIFY=SUCCESS,,DELAY", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> NOTIFY=SUCCESS,", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> NOTIFY=SOMETIMES", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> NOTIFY", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> NOTIFY=DELAY NOTIFY=DELAY", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> ORCPT=rfc822", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> ORCPT=;bob@example.test", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> ORCPT=rfc822;", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> ORCPT=rfc 822;x", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> ORCPT=rfc822;a+zz", 501, "5.5.4"),
    BAD("RCPT TO:<bob@example.test> RET=FULL", 555, "5.5.4"),
    /* the others */
    OK("DATA", DATA),
    OK("data  ", DATA),
    BAD("DATA x", 501, "5.5.4"),
    OK("BDAT 100", BDAT),
    OK("BDAT 0 LAST", BDAT),
    OK("bdat 100 last", BDAT),
    OK("BDAT 100   LAST  ", BDAT),
    OK("BDAT 18446744073709551615", BDAT),
    BAD("BDAT 18446744073709551616", 501, "5.5.4"),
    BAD("BDAT 000000000000000000001", 501, "5.5.4"),
    BAD("BDAT", 501, "5.5.4"),
    BAD("BDAT -1", 501, "5.5.4"),
    BAD("BDAT +5", 501, "5.5.4"),
    BAD("BDAT 1x", 501, "5.5.4"),
    BAD("BDAT 0x10", 501, "5.5.4"),
    BAD("BDAT 100LAST", 501, "5.5.4"),
    BAD("BDAT 100 LAST x", 501, "5.5.4"),
    BAD("BDAT 100 FIRST", 501, "5.5.4"),
    BAD("BDAT LAST", 501, "5.5.4"),
    OK("RSET", RSET),
    BAD("RSET now", 501, "5.5.4"),
    OK("NOOP", NOOP),
    OK("NOOP anything at all", NOOP),
    OK("QUIT", QUIT),
    OK("VRFY bob", VRFY),
    BAD("VRFY", 501, "5.5.4"),
    OK("HELP", HELP),
    OK("HELP MAIL", HELP),
    OK("STARTTLS", STARTTLS),
    BAD("STARTTLS now", 501, "5.5.4"),
    OK("AUTH PLAIN", AUTH),
    OK("AUTH PLAIN AGFsaWNlAHNlY3JldA==", AUTH),
    OK("AUTH LOGIN", AUTH),
    OK("AUTH PLAIN =", AUTH),
    BAD("AUTH", 501, "5.5.4"),
    BAD("AUTH PLAIN a b", 501, "5.5.4"),
    BAD("AUTH PL@IN", 501, "5.5.4"),
    BAD("AUTH PLAIN a*b", 501, "5.5.4"),
    BAD("AUTH ABCDEFGHIJKLMNOPQRSTU", 501, "5.5.4"),
    /* unknown, empty, control characters */
    BAD("FOO", 500, "5.5.2"),
    BAD("MAILX FROM:<a@example.test>", 500, "5.5.2"),
    BAD(" MAIL FROM:<a@example.test>", 500, "5.5.2"),
    BAD("EXPN list", 500, "5.5.2"),
    BAD("", 500, "5.5.2"),
    BAD("EHLO a\tb", 500, "5.5.2"),
    BAD("NOOP \x7f", 500, "5.5.2"),
    BAD("RSET\r", 500, "5.5.2"),
    BAD("DATA\n", 500, "5.5.2"),
    BAD("MAI\xc3\x9f", 500, "5.5.2"),
    BAD("NOOP \xff", 500, "5.5.2"),
    {"NOOP \xff", 0, 0, 0, "", SMTP_VERB_NOOP},
    /* without SMTPUTF8 the line is not checked, the path still is */
    {"MAIL FROM:<j\xc3(rg@example.test>", ALL & ~SMTP_EXT_SMTPUTF8, 0, 501,
     "5.1.7", SMTP_VERB_UNKNOWN},
};

static void test_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const cmd_case_t *c = &cases[i];
        smtp_parse_opts_t o = {c->ext, 1000000, 0, c->utf8_txn};
        smtp_cmd_t cmd;
        smtp_reply_t err;
        int rc;

        print_message("# %s\n", c->line);
        rc = smtp_cmd_parse(c->line, strlen(c->line), &o, &cmd, &err);
        if (c->code == 0) {
            if (rc != 0)
                print_message("#   got %d %s %s\n", err.code, err.enh,
                              err.text);
            assert_int_equal(rc, 0);
            assert_int_equal(cmd.verb, c->verb);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, c->code);
            assert_string_equal(err.enh, c->enh);
            assert_true(strlen(err.text) > 0);
        }
    }
}

static smtp_cmd_t parse_ok(const char *line, const smtp_parse_opts_t *o)
{
    smtp_cmd_t cmd;
    smtp_reply_t err;

    if (smtp_cmd_parse(line, strlen(line), o, &cmd, &err) != 0)
        fail_msg("%s: %d %s %s", line, err.code, err.enh, err.text);
    return cmd;
}

static void assert_slice(loom_slice_t s, const char *want)
{
    if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
        fail_msg("slice \"%.*s\" != \"%s\"", (int)s.len, s.p, want);
}

static void test_paths(void **state)
{
    smtp_parse_opts_t o = {ALL, 0, 0, 0};
    smtp_cmd_t c;
    char buf[128];

    (void)state;
    c = parse_ok("MAIL FROM:<Alice@Example.TEST>", &o);
    assert_slice(c.path.local, "Alice");
    assert_slice(c.path.domain, "Example.TEST");
    assert_slice(c.path.mailbox, "Alice@Example.TEST");
    assert_false(c.path.null || c.path.quoted || c.path.utf8 || c.path.literal);
    c = parse_ok("MAIL FROM:<>", &o);
    assert_true(c.path.null);
    assert_int_equal(c.path.local.len, 0);
    assert_int_equal(c.path.domain.len, 0);
    c = parse_ok("MAIL FROM: alice@example.test SIZE=5", &o);
    assert_slice(c.path.mailbox, "alice@example.test");
    assert_int_equal(c.params.size, 5);
    c = parse_ok("MAIL FROM:<@r1.example,@[192.0.2.9]:bob@example.test>", &o);
    assert_slice(c.path.mailbox, "bob@example.test");
    assert_slice(c.path.local, "bob");
    c = parse_ok("MAIL FROM:<\"john \\\"jd\\\" doe\"@example.test>", &o);
    assert_true(c.path.quoted);
    assert_slice(c.path.local, "\"john \\\"jd\\\" doe\"");
    assert_int_equal(smtp_addr_local_unquote(&c.path, buf, sizeof(buf)), 13);
    assert_string_equal(buf, "john \"jd\" doe");
    assert_int_equal(smtp_addr_local_unquote(&c.path, buf, 13), -1);
    c = parse_ok("MAIL FROM:<\"a>b\"@example.test> BODY=8BITMIME", &o);
    assert_slice(c.path.local, "\"a>b\"");
    assert_int_equal(c.params.body, SMTP_BODY_8BITMIME);
    c = parse_ok("RCPT TO:<x@[IPv6:2001:db8::1]>", &o);
    assert_true(c.path.literal);
    assert_slice(c.path.domain, "[IPv6:2001:db8::1]");
    c = parse_ok("RCPT TO:<postmaster>", &o);
    assert_slice(c.path.local, "postmaster");
    assert_int_equal(c.path.domain.len, 0);
    c = parse_ok("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc"
                 "cher.example> SMTPUTF8",
                 &o);
    assert_true(c.path.utf8);
    assert_true(c.params.smtputf8);
    assert_slice(c.path.domain, "b\xc3\xbc"
                                "cher.example");
    assert_int_equal(smtp_addr_local_unquote(&c.path, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "j\xc3\xb6rg");
    /* UTF-8 only in the (dropped) route: needs SMTPUTF8, flags nothing */
    c = parse_ok("MAIL FROM:<@r\xc3\xa4.example:a@example.test> SMTPUTF8", &o);
    assert_false(c.path.utf8);
    assert_slice(c.path.mailbox, "a@example.test");
    {
        smtp_reply_t err;
        const char *l = "MAIL FROM:<@r\xc3\xa4.example:a@example.test>";

        assert_int_equal(smtp_cmd_parse(l, strlen(l), &o, &c, &err), -1);
        assert_int_equal(err.code, 553);
    }
    /* an ASCII path under SMTPUTF8 is not flagged */
    c = parse_ok("MAIL FROM:<a@example.test> SMTPUTF8", &o);
    assert_false(c.path.utf8);
}

/* Fill BUF with "<" LOCAL-octets "@" DOMAIN-octets ">" (labels of 60). */
static void make_path(char *buf, size_t local, size_t domain)
{
    size_t n = 0, i;

    buf[n++] = '<';
    memset(buf + n, 'l', local);
    n += local;
    buf[n++] = '@';
    for (i = 0; i < domain; i++)
        buf[n++] = i % 61 == 60 && i + 1 != domain ? '.' : 'd';
    buf[n++] = '>';
    buf[n] = '\0';
}

static void test_lengths(void **state)
{
    smtp_parse_opts_t o = {ALL, 0, 0, 0};
    char path[600], line[1100];
    smtp_addr_t a;
    smtp_reply_t err;

    (void)state;
    make_path(path, 64, 20);
    assert_int_equal(smtp_addr_parse(path, strlen(path), 0, 0, &a, &err), 0);
    assert_int_equal(a.local.len, 64);
    make_path(path, 65, 20);
    assert_int_equal(smtp_addr_parse(path, strlen(path), 0, 0, &a, &err), -1);
    assert_int_equal(err.code, 501);
    assert_string_equal(err.enh, "5.1.7");
    assert_int_equal(smtp_addr_parse(path, strlen(path), 1, 0, &a, &err), -1);
    assert_string_equal(err.enh, "5.1.3");
    /* the whole path: 256 octets with its brackets, not one more */
    make_path(path, 1, 252);
    assert_int_equal(strlen(path), 256);
    assert_int_equal(smtp_addr_parse(path, strlen(path), 0, 0, &a, &err), 0);
    assert_int_equal(a.domain.len, 252);
    make_path(path, 2, 252);
    assert_int_equal(smtp_addr_parse(path, strlen(path), 0, 0, &a, &err), -1);
    /* a NUL inside an address literal (inet_pton would stop there) */
    assert_int_equal(smtp_addr_parse("<a@[IPv6:::\0]>", 14, 0, 0, &a, &err),
                     -1);
    assert_int_equal(smtp_addr_parse("<a@[1.2.3.4\0]>", 15, 0, 0, &a, &err),
                     -1);
    assert_int_equal(smtp_addr_parse("<a@[IPv6:::]>", 13, 0, 0, &a, &err), 0);
    /* unbracketed: the same limit counting virtual brackets */
    make_path(path, 1, 252);
    assert_int_equal(
        smtp_addr_parse(path + 1, strlen(path) - 2, 0, 0, &a, &err), 0);
    make_path(path, 2, 252);
    assert_int_equal(
        smtp_addr_parse(path + 1, strlen(path) - 2, 0, 0, &a, &err), -1);
    /* command line: 510 octets + CRLF is the limit without extensions */
    memset(line, 'x', sizeof(line));
    memcpy(line, "NOOP ", 5);
    assert_int_equal(smtp_cmd_parse(line, 510, NULL, &(smtp_cmd_t){0}, &err),
                     0);
    assert_int_equal(smtp_cmd_parse(line, 511, NULL, &(smtp_cmd_t){0}, &err),
                     -1);
    assert_int_equal(err.code, 500);
    assert_string_equal(err.enh, "5.5.2");
    assert_non_null(strstr(err.text, "too long"));
    /* a configured limit */
    o.max_line = 20;
    assert_int_equal(smtp_cmd_parse(line, 18, &o, &(smtp_cmd_t){0}, &err), 0);
    assert_int_equal(smtp_cmd_parse(line, 19, &o, &(smtp_cmd_t){0}, &err), -1);
    /* DSN lets RCPT run 500 octets longer, MAIL 100 + 26 (SIZE) + 500
     * (AUTH) */
    o.max_line = 0;
    assert_int_equal(smtp_cmd_line_limit(&o), 512 + 626);
    assert_int_equal(smtp_cmd_line_limit(NULL), 512);
    o.ext = SMTP_EXT_DSN;
    assert_int_equal(smtp_cmd_line_limit(&o), 1012);
    memcpy(line, "RCPT TO:<a@example.test> ORCPT=rfc822;", 38);
    assert_int_equal(smtp_cmd_parse(line, 500, &o, &(smtp_cmd_t){0}, &err), 0);
    assert_int_equal(smtp_cmd_parse(line, 1010, &o, &(smtp_cmd_t){0}, &err),
                     -1);
    assert_int_equal(err.code, 501); /* ORCPT over 500 octets */
    assert_int_equal(smtp_cmd_parse(line, 1011, &o, &(smtp_cmd_t){0}, &err),
                     -1);
    assert_int_equal(err.code, 500);
    memcpy(line, "NOOP ", 5);
    assert_int_equal(smtp_cmd_parse(line, 600, &o, &(smtp_cmd_t){0}, &err), -1);
    assert_int_equal(err.code, 500);
}

static void test_params(void **state)
{
    smtp_parse_opts_t o = {ALL | SMTP_EXT_BINARYMIME, 0, 0, 0};
    smtp_cmd_t c;
    char buf[128];

    (void)state;
    c = parse_ok("MAIL FROM:<a@example.test> size=35651584 BODY=binarymime "
                 "SMTPUTF8 RET=HDRS ENVID=QQ+2B314 AUTH=<>",
                 &o);
    assert_true(c.params.has_size);
    assert_int_equal(c.params.size, 35651584);
    assert_int_equal(c.params.body, SMTP_BODY_BINARYMIME);
    assert_true(c.params.smtputf8);
    assert_int_equal(c.params.ret, SMTP_RET_HDRS);
    assert_slice(c.params.envid, "QQ+2B314");
    assert_int_equal(smtp_xtext_decode(c.params.envid.p, c.params.envid.len,
                                       buf, sizeof(buf)),
                     6);
    assert_string_equal(buf, "QQ+314");
    assert_true(c.params.has_auth);
    assert_slice(c.params.auth, "<>");
    c = parse_ok("MAIL FROM:<a@example.test>", &o);
    assert_false(c.params.has_size);
    assert_int_equal(c.params.body, SMTP_BODY_NONE);
    assert_int_equal(c.params.ret, SMTP_RET_NONE);
    assert_int_equal(c.params.envid.len, 0);
    assert_false(c.params.has_auth);
    assert_int_equal(c.params.notify, 0);
    c = parse_ok("RCPT TO:<b@example.test> NOTIFY=FAILURE,delay,Success "
                 "ORCPT=rfc822;b+2Bx@example.test",
                 &o);
    assert_int_equal(c.params.notify, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY |
                                          SMTP_NOTIFY_SUCCESS);
    assert_slice(c.params.orcpt_type, "rfc822");
    assert_slice(c.params.orcpt, "b+2Bx@example.test");
    assert_int_equal(smtp_xtext_decode(c.params.orcpt.p, c.params.orcpt.len,
                                       buf, sizeof(buf)),
                     16);
    assert_string_equal(buf, "b+x@example.test");
    c = parse_ok("RCPT TO:<b@example.test> NOTIFY=NEVER", &o);
    assert_int_equal(c.params.notify, SMTP_NOTIFY_NEVER);
    /* ENVID: 100 octets fit, 101 do not */
    {
        char line[200];
        smtp_reply_t err;
        int n = snprintf(line, sizeof(line), "MAIL FROM:<> ENVID=");

        memset(line + n, 'e', 101);
        assert_int_equal(smtp_cmd_parse(line, (size_t)n + 100, &o, &c, &err),
                         0);
        assert_int_equal(c.params.envid.len, 100);
        assert_int_equal(smtp_cmd_parse(line, (size_t)n + 101, &o, &c, &err),
                         -1);
        assert_int_equal(err.code, 501);
    }
}

static void test_reply_texts(void **state)
{
    static const struct {
        const char *line;
        const char *text;
    } exp[] = {
        {"FOO", "Error: command not recognized"},
        {"MAIL FROM:<a b>", "Bad sender address syntax"},
        {"RCPT TO:<a b>", "Bad recipient address syntax"},
        {"MAIL FROM:<a@example.test> FOO=bar", "Unsupported option: FOO=bar"},
        {"MAIL FROM:<a@example.test> X=\xc3\xa4", "Unsupported option: X=??"},
        {"MAIL FROM:<a@example.test> X=\xff", "Error: bad UTF-8 syntax"},
        {"RCPT TO:<a@example.test> NOTIFY=X",
         "Error: Bad NOTIFY parameter syntax"},
        {"RCPT TO:<a@example.test> ORCPT=X",
         "Error: Bad ORCPT parameter syntax"},
        {"MAIL FROM:<a@example.test> SIZE=999999999",
         "Message size exceeds fixed limit"},
        {"MAIL FROM:<a@example.test> SIZE=1 size=1",
         "Duplicate SIZE parameter"},
        {"MAIL FROM:<a@example.test> BODY=X", "Bad BODY keyword: X"},
        {"MAIL FROM:<\xc3\xa4@example.test>",
         "Must declare SMTPUTF8 to send unicode address"},
        {"MAIL FROM:", "Syntax: MAIL FROM:<address>"},
        {"RCPT TO:", "Syntax: RCPT TO:<address>"},
        {"BDAT x", "Syntax: BDAT count [LAST]"},
        {"EHLO", "Syntax: EHLO hostname"},
    };
    smtp_parse_opts_t o = {ALL, 1000, 0, 0};
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(exp); i++) {
        smtp_cmd_t c;
        smtp_reply_t err;

        assert_int_equal(
            smtp_cmd_parse(exp[i].line, strlen(exp[i].line), &o, &c, &err), -1);
        assert_string_equal(err.text, exp[i].text);
    }
}

static void test_args(void **state)
{
    smtp_cmd_t c;
    smtp_reply_t err;

    (void)state;
    c = parse_ok("BDAT 4096 LAST", NULL);
    assert_int_equal(c.bdat_size, 4096);
    assert_true(c.bdat_last);
    c = parse_ok("BDAT 18446744073709551615", NULL);
    assert_true(c.bdat_size == UINT64_MAX);
    assert_false(c.bdat_last);
    c = parse_ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==", NULL);
    assert_slice(c.auth_mech, "PLAIN");
    assert_slice(c.auth_initial, "AGFsaWNlAHNlY3JldA==");
    c = parse_ok("AUTH login", NULL);
    assert_slice(c.auth_mech, "login");
    assert_int_equal(c.auth_initial.len, 0);
    c = parse_ok("EHLO  mx.example.test  ", NULL);
    assert_slice(c.arg, "mx.example.test");
    c = parse_ok("NOOP", NULL);
    assert_int_equal(c.arg.len, 0);
    /* unknown: the whole line is the argument */
    assert_int_equal(smtp_cmd_parse("XFOO bar", 8, NULL, &c, &err), -1);
    assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
    assert_slice(c.arg, "XFOO bar");
    /* opts NULL: no extensions, so parameters are refused */
    assert_int_equal(smtp_cmd_parse("MAIL FROM:<> SIZE=1", 19, NULL, &c, &err),
                     -1);
    assert_int_equal(err.code, 555);
    /* NUL in a line */
    assert_int_equal(smtp_cmd_parse("NOOP\0x", 6, NULL, &c, &err), -1);
    assert_int_equal(err.code, 500);
}

static void test_xtext(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(smtp_xtext_decode("abc", 3, out, sizeof(out)), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(smtp_xtext_decode("a+20b+2B", 8, out, sizeof(out)), 4);
    assert_string_equal(out, "a b+");
    assert_int_equal(smtp_xtext_decode("", 0, out, sizeof(out)), 0);
    assert_int_equal(smtp_xtext_decode("a+2", 3, out, sizeof(out)), -1);
    assert_int_equal(smtp_xtext_decode("a+", 2, out, sizeof(out)), -1);
    assert_int_equal(smtp_xtext_decode("a+2g", 4, out, sizeof(out)), -1);
    assert_int_equal(smtp_xtext_decode("a=b", 3, out, sizeof(out)), -1);
    assert_int_equal(smtp_xtext_decode("a b", 3, out, sizeof(out)), -1);
    assert_int_equal(smtp_xtext_decode("\xc3\xa4", 2, out, sizeof(out)), -1);
    assert_int_equal(smtp_xtext_decode("abcd", 4, out, 4), -1);
    assert_int_equal(smtp_xtext_decode("abc", 3, out, 4), 3);
    assert_int_equal(smtp_xtext_decode("abc", 3, NULL, 0), 3);
}

static void test_names(void **state)
{
    int v;

    (void)state;
    assert_string_equal(smtp_verb_name(SMTP_VERB_EHLO), "EHLO");
    assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
    assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "UNKNOWN");
    /* every verb has a name and parses back to itself */
    for (v = SMTP_VERB_UNKNOWN + 1; v < SMTP_VERB_COUNT; v++) {
        const char *name = smtp_verb_name((smtp_verb_t)v);
        smtp_cmd_t c;
        smtp_reply_t err;

        assert_string_not_equal(name, "UNKNOWN");
        smtp_cmd_parse(name, strlen(name), NULL, &c, &err);
        assert_int_equal(c.verb, v);
    }
}

static void test_format_and_canon(void **state)
{
    smtp_parse_opts_t o = {ALL, 0, 0, 1};
    smtp_reply_t r;
    smtp_cmd_t c;
    char buf[SMTP_PATH_MAX + 1], line[SMTP_REPLY_TEXT_MAX + 24];

    (void)state;
    smtp_reply_set(&r, 501, "5.1.7", "Bad sender address syntax");
    assert_int_equal(smtp_reply_format(&r, line, sizeof(line)), 37);
    assert_string_equal(line, "501 5.1.7 Bad sender address syntax\r\n");
    assert_int_equal(smtp_reply_format(&r, line, 37), -1);
    /* the longest text still fits the documented size */
    memset(line, 'x', sizeof(line));
    line[sizeof(line) - 1] = '\0';
    smtp_reply_set(&r, 555, "5.5.4", line);
    assert_int_equal(strlen(r.text), SMTP_REPLY_TEXT_MAX - 1);
    assert_true(smtp_reply_format(&r, line, sizeof(line)) > 0);
    smtp_reply_line_too_long(&r);
    assert_int_equal(r.code, 500);
    assert_string_equal(r.enh, "5.5.2");

    c = parse_ok("RCPT TO:<\"Al\\ice\"@Example.TEST>", &o);
    assert_int_equal(smtp_addr_canon(&c.path, buf, sizeof(buf)), 18);
    assert_string_equal(buf, "Alice@example.test");
    assert_int_equal(smtp_addr_canon(&c.path, buf, 18), -1);
    c = parse_ok("RCPT TO:<@r.example:Bob@[192.0.2.1]>", &o);
    assert_int_equal(smtp_addr_canon(&c.path, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "Bob@[192.0.2.1]");
    c = parse_ok("RCPT TO:<B\xc3\x96"
                 "B@\xc3\x96.Example>",
                 &o);
    smtp_addr_canon(&c.path, buf, sizeof(buf));
    assert_string_equal(buf, "B\xc3\x96"
                             "B@\xc3\x96.example");
    c = parse_ok("RCPT TO:<PostMaster>", &o);
    assert_int_equal(smtp_addr_canon(&c.path, buf, sizeof(buf)), 10);
    assert_string_equal(buf, "PostMaster");
    c = parse_ok("MAIL FROM:<>", &o);
    assert_int_equal(smtp_addr_canon(&c.path, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_reply_texts),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_xtext),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_format_and_canon),
    };

    return cmocka_run_group_tests_name("smtp_parse", tests, NULL, NULL);
}

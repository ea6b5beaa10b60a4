/*
 * test_smtp_dsn.c - RFC 3464 delivery status notifications
 * (protocols/smtp/smtp_dsn.h): reports checked on the wire (CRLF, 998
 * octets) and read back with GMime (multipart/report, the
 * delivery-status fields, the returned message or header), RET and the
 * size bound, folding and injection in diagnostics, every refusal, the
 * NOTIFY rules and xtext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gmime/gmime.h>

#include "smtp_dsn.h"
#include "smtp_mime.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char orig_msg[] = "From: Alice <alice@example.test>\r\n"
                               "To: bob@example.net\r\n"
                               "Subject: quarterly numbers\r\n"
                               "Message-ID: <q1@example.test>\r\n"
                               "\r\n"
                               "BODY-MARKER the numbers are up\r\n";

static smtp_dsn_rcpt_t bob_failed(void)
{
    smtp_dsn_rcpt_t r = {
        .final_recipient = "bob@example.net",
        .orcpt = "rfc822;Bob@Example.NET",
        .action = SMTP_DSN_FAILED,
        .status = "5.1.1",
        .diagnostic = "550 5.1.1 <bob@example.net>: Recipient address "
                      "rejected: User unknown",
        .remote_mta = "mx.example.net",
        .last_attempt = 1796653000,
    };
    return r;
}

static smtp_dsn_in_t dsn_in(const smtp_dsn_rcpt_t *r, size_t n)
{
    smtp_dsn_in_t in = {
        .reporting_mta = "mail.example.test",
        .sender = "alice@example.test",
        .envid = "QQ314159",
        .received_from = "client.example.test",
        .arrival = 1796650000,
        .now = 1796653433,
        .msg = orig_msg,
        .msg_len = sizeof(orig_msg) - 1,
        .rcpts = r,
        .nrcpts = n,
    };
    return in;
}

/* Every line CRLF-terminated and at most 998 octets. */
static void assert_wire(const char *p, size_t len)
{
    size_t line = 0;

    assert_true(len >= 2);
    assert_memory_equal(p + len - 2, "\r\n", 2);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r') {
            assert_true(i + 1 < len && p[i + 1] == '\n');
            i++;
            line = 0;
            continue;
        }
        assert_true(p[i] != '\n');
        line++;
        assert_true(line <= 998);
    }
}

static void compose_ok(const smtp_dsn_in_t *in, smtp_dsn_out_t *out)
{
    char err[200] = "";

    assert_int_equal(smtp_dsn_compose(in, out, err, sizeof(err)), LOOM_OK);
    assert_string_equal(err, "");
    assert_non_null(out->data);
    assert_wire(out->data, out->len);
    assert_string_equal(out->rcpt, in->sender);
    assert_non_null(out->message_id);
}

/* The report parsed by GMime: its three parts (the third may be absent:
 * *THIRD NULL). */
typedef struct {
    GMimeMessage *msg;
    GMimeMultipart *mp;
    char *human, *status; /* decoded text of parts 1 and 2 (g_free) */
    GMimeObject *third;
} parsed_t;

static char *part_text(GMimeObject *o)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeFormatOptions *fo = g_mime_format_options_new();
    GByteArray *ba;
    char *s;

    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    g_mime_object_write_content_to_stream(o, fo, mem);
    g_mime_format_options_free(fo);
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    s = g_strndup((const char *)ba->data, ba->len);
    g_object_unref(mem);
    return s;
}

static void parse(const smtp_dsn_out_t *out, parsed_t *p)
{
    GMimeStream *st = g_mime_stream_mem_new_with_buffer(out->data, out->len);
    GMimeParser *parser = g_mime_parser_new_with_stream(st);
    GMimeContentType *ct;
    GMimeObject *body;

    memset(p, 0, sizeof(*p));
    p->msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(st);
    assert_non_null(p->msg);
    body = g_mime_message_get_mime_part(p->msg);
    assert_true(GMIME_IS_MULTIPART(body));
    ct = g_mime_object_get_content_type(body);
    assert_true(g_mime_content_type_is_type(ct, "multipart", "report"));
    assert_string_equal(g_mime_content_type_get_parameter(ct, "report-type"),
                        "delivery-status");
    p->mp = GMIME_MULTIPART(body);
    assert_true(g_mime_multipart_get_count(p->mp) >= 2);
    assert_true(g_mime_content_type_is_type(
        g_mime_object_get_content_type(g_mime_multipart_get_part(p->mp, 0)),
        "text", "plain"));
    assert_true(g_mime_content_type_is_type(
        g_mime_object_get_content_type(g_mime_multipart_get_part(p->mp, 1)),
        "message", "delivery-status"));
    p->human = part_text(g_mime_multipart_get_part(p->mp, 0));
    p->status = part_text(g_mime_multipart_get_part(p->mp, 1));
    if (g_mime_multipart_get_count(p->mp) > 2)
        p->third = g_mime_multipart_get_part(p->mp, 2);
    assert_true(g_mime_multipart_get_count(p->mp) <= 3);
}

static void parsed_free(parsed_t *p)
{
    g_free(p->human);
    g_free(p->status);
    g_object_unref(p->msg);
}

static void assert_has_line(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\r' || p[n] == '\n'))
            return;
        p += n;
    }
    fail_msg("line \"%s\" not in:\n%s", line, text);
}

/* ---- reports ------------------------------------------------------------ */

static void test_bounce(void **state)
{
    smtp_dsn_rcpt_t r = bob_failed();
    smtp_dsn_in_t in = dsn_in(&r, 1);
    smtp_dsn_out_t out;
    parsed_t p;
    InternetAddressList *from;
    char *h;

    (void)state;
    compose_ok(&in, &out);
    assert_int_equal(out.eightbit, 0);
    parse(&out, &p);
    assert_string_equal(g_mime_message_get_subject(p.msg),
                        "Undelivered Mail Returned to Sender");
    from = g_mime_message_get_from(p.msg);
    assert_int_equal(internet_address_list_length(from), 1);
    assert_string_equal(
        internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
            internet_address_list_get_address(from, 0))),
        "MAILER-DAEMON@mail.example.test");
    h = internet_address_list_to_string(
        g_mime_message_get_addresses(p.msg, GMIME_ADDRESS_TYPE_TO), NULL,
        FALSE);
    assert_string_equal(h, "alice@example.test");
    g_free(h);
    assert_string_equal(
        g_mime_object_get_header(GMIME_OBJECT(p.msg), "Auto-Submitted"),
        "auto-replied");
    assert_string_equal(g_mime_message_get_message_id(p.msg), out.message_id);
    assert_non_null(g_mime_message_get_date(p.msg));

    assert_has_line(p.status, "Reporting-MTA: dns; mail.example.test");
    assert_has_line(p.status, "Original-Envelope-Id: QQ314159");
    assert_has_line(p.status, "Received-From-MTA: dns; client.example.test");
    assert_has_line(p.status, "Arrival-Date: Mon, 07 Dec 2026 13:26:40 +0000");
    assert_has_line(p.status, "Original-Recipient: rfc822;Bob@Example.NET");
    assert_has_line(p.status, "Final-Recipient: rfc822; bob@example.net");
    assert_has_line(p.status, "Action: failed");
    assert_has_line(p.status, "Status: 5.1.1");
    assert_has_line(p.status, "Remote-MTA: dns; mx.example.net");
    assert_has_line(p.status,
                    "Last-Attempt-Date: Mon, 07 Dec 2026 14:16:40 +0000");
    assert_null(strstr(p.status, "Will-Retry-Until"));
    /* per-message fields, an empty line, then the recipient's */
    assert_non_null(strstr(p.status, "+0000\r\n\r\nOriginal-Recipient"));
    assert_non_null(strstr(p.human, "<bob@example.net> (failed): host "
                                    "mx.example.net said: 550 5.1.1"));
    assert_non_null(strstr(p.human, "attached below"));

    /* RET not given, small message: it comes back whole */
    assert_non_null(p.third);
    assert_true(GMIME_IS_MESSAGE_PART(p.third));
    assert_string_equal(
        g_mime_message_get_subject(
            g_mime_message_part_get_message(GMIME_MESSAGE_PART(p.third))),
        "quarterly numbers");
    assert_non_null(strstr(out.data, "BODY-MARKER"));
    parsed_free(&p);
    smtp_dsn_free(&out);
    assert_null(out.data);
    smtp_dsn_free(&out);
    smtp_dsn_free(NULL);
}

/* RET and the full-message bound decide what comes back. */
static void test_ret(void **state)
{
    static const struct {
        smtp_dsn_ret_t ret;
        size_t full_max;
        int whole, header;
        const char *note;
    } cases[] = {
        {SMTP_DSN_RET_DEFAULT, 0, 1, 0, "attached below"},
        {SMTP_DSN_RET_FULL, 0, 1, 0, "attached below"},
        {SMTP_DSN_RET_HDRS, 0, 0, 1, "header of the message is attached"},
        {SMTP_DSN_RET_DEFAULT, 50, 0, 1, "too large to return whole"},
        {SMTP_DSN_RET_FULL, 50, 0, 1, "too large to return whole"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        smtp_dsn_rcpt_t r = bob_failed();
        smtp_dsn_in_t in = dsn_in(&r, 1);
        smtp_dsn_out_t out;
        parsed_t p;

        print_message("case %zu\n", i);
        in.ret = cases[i].ret;
        in.full_max = cases[i].full_max;
        compose_ok(&in, &out);
        parse(&out, &p);
        assert_non_null(p.third);
        assert_non_null(strstr(p.human, cases[i].note));
        if (cases[i].whole) {
            assert_true(GMIME_IS_MESSAGE_PART(p.third));
            assert_non_null(strstr(out.data, "BODY-MARKER"));
        } else {
            char *t = part_text(p.third);

            assert_true(g_mime_content_type_is_type(
                g_mime_object_get_content_type(p.third), "text",
                "rfc822-headers"));
            assert_null(strstr(out.data, "BODY-MARKER"));
            assert_non_null(strstr(t, "Subject: quarterly numbers\r\n"));
            assert_non_null(strstr(t, "Message-ID: <q1@example.test>"));
            g_free(t);
        }
        parsed_free(&p);
        smtp_dsn_free(&out);
    }
}

/* No message: no third part.  A line too long to return: the header. */
static void test_returned_edge_cases(void **state)
{
    smtp_dsn_rcpt_t r = bob_failed();
    smtp_dsn_in_t in = dsn_in(&r, 1);
    smtp_dsn_out_t out;
    parsed_t p;
    char *msg;

    (void)state;
    in.msg = NULL;
    in.msg_len = 0;
    compose_ok(&in, &out);
    parse(&out, &p);
    assert_null(p.third);
    parsed_free(&p);
    smtp_dsn_free(&out);

    msg = malloc(2000);
    strcpy(msg, "Subject: long\r\n\r\n");
    memset(msg + strlen(msg), 'L', 1200);
    strcpy(msg + 17 + 1200, "\r\n");
    in = dsn_in(&r, 1);
    in.msg = msg;
    in.msg_len = strlen(msg);
    compose_ok(&in, &out);
    parse(&out, &p);
    assert_non_null(p.third);
    assert_true(g_mime_content_type_is_type(
        g_mime_object_get_content_type(p.third), "text", "rfc822-headers"));
    parsed_free(&p);
    smtp_dsn_free(&out);
    free(msg);
}

/* 8-bit originals, LF line ends in the original. */
static void test_eightbit_and_line_ends(void **state)
{
    static const char msg8[] = "Subject: caf\xC3\xA9\r\n\r\nna\xC3\xAFve\r\n";
    static const char msglf[] = "Subject: lf\n\nline one\nline two\n";
    smtp_dsn_rcpt_t r = bob_failed();
    smtp_dsn_in_t in = dsn_in(&r, 1);
    smtp_dsn_out_t out;
    parsed_t p;

    (void)state;
    in.msg = msg8;
    in.msg_len = sizeof(msg8) - 1;
    compose_ok(&in, &out);
    assert_int_equal(out.eightbit, 1);
    assert_non_null(strstr(out.data, "Content-Type: message/rfc822\r\n"
                                     "Content-Transfer-Encoding: 8bit\r\n"));
    smtp_dsn_free(&out);

    in.msg = msglf;
    in.msg_len = sizeof(msglf) - 1;
    compose_ok(&in, &out); /* CRLF everywhere: checked by compose_ok */
    assert_int_equal(out.eightbit, 0);
    assert_non_null(strstr(out.data, "\r\nline one\r\nline two\r\n"));
    parse(&out, &p);
    assert_true(GMIME_IS_MESSAGE_PART(p.third));
    parsed_free(&p);
    smtp_dsn_free(&out);
}

/* A delay notice, and a mixed report. */
static void test_delayed(void **state)
{
    smtp_dsn_rcpt_t r[2] = {bob_failed(), bob_failed()};
    smtp_dsn_in_t in;
    smtp_dsn_out_t out;
    parsed_t p;

    (void)state;
    r[0].action = SMTP_DSN_DELAYED;
    r[0].status = "4.4.1";
    r[0].diagnostic = "connect to mx.example.net: Connection refused";
    r[0].remote_mta = NULL;
    r[0].orcpt = NULL;
    r[0].will_retry_until = 1797085433;
    in = dsn_in(r, 1);
    compose_ok(&in, &out);
    parse(&out, &p);
    assert_string_equal(g_mime_message_get_subject(p.msg),
                        "Delayed Mail (still being retried)");
    assert_has_line(p.status, "Action: delayed");
    assert_has_line(p.status, "Status: 4.4.1");
    assert_has_line(p.status,
                    "Will-Retry-Until: Sat, 12 Dec 2026 14:23:53 +0000");
    assert_has_line(p.status, "Diagnostic-Code: smtp; connect to "
                              "mx.example.net: Connection refused");
    assert_null(strstr(p.status, "Original-Recipient"));
    assert_null(strstr(p.status, "Remote-MTA"));
    assert_non_null(strstr(p.human, "still trying"));
    parsed_free(&p);
    smtp_dsn_free(&out);

    r[1].final_recipient = "carol@example.org";
    in = dsn_in(r, 2);
    compose_ok(&in, &out);
    parse(&out, &p);
    assert_string_equal(g_mime_message_get_subject(p.msg),
                        "Undelivered Mail Returned to Sender");
    assert_has_line(p.status, "Final-Recipient: rfc822; carol@example.org");
    assert_has_line(p.status, "Action: failed");
    assert_has_line(p.status, "Action: delayed");
    parsed_free(&p);
    smtp_dsn_free(&out);
}

/* Long diagnostics fold under 998 octets and are bounded; CR/LF in them
 * cannot start a field of their own. */
static void test_diagnostic_folding(void **state)
{
    smtp_dsn_rcpt_t r = bob_failed();
    smtp_dsn_in_t in = dsn_in(&r, 1);
    smtp_dsn_out_t out;
    parsed_t p;
    char *diag = malloc(5000), *unfolded;
    size_t n = 0;

    (void)state;
    n += (size_t)sprintf(diag, "550 5.7.1 ");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(diag + n, "word%03d ", i);
    memset(diag + n, 'W', 1500); /* one long word */
    n += 1500;
    strcpy(diag + n, " end\r\nX-Injected: yes");
    r.diagnostic = diag;
    compose_ok(&in, &out);
    parse(&out, &p);
    assert_null(strstr(out.data, "\nX-Injected"));
    /* unfolded, the text comes back cut at 2,000 bytes (spaces aside: a
     * fold replaces one, a split word gains one) */
    unfolded = malloc(strlen(p.status) + 1);
    {
        const char *s = strstr(p.status, "Diagnostic-Code: smtp; ");
        size_t o = 0, k = 0;
        char *want = malloc(2001);

        assert_non_null(s);
        s += strlen("Diagnostic-Code: smtp; ");
        while (*s && !(s[0] == '\r' && s[1] == '\n' && s[2] != ' ')) {
            if (*s != '\r' && *s != '\n' && *s != ' ')
                unfolded[o++] = *s;
            s++;
        }
        unfolded[o] = '\0';
        for (size_t i = 0; i < 2000; i++)
            if (diag[i] != ' ')
                want[k++] = diag[i];
        want[k] = '\0';
        assert_string_equal(unfolded, want);
        free(want);
    }
    free(unfolded);
    parsed_free(&p);
    smtp_dsn_free(&out);
    free(diag);
}

static void test_refused(void **state)
{
    static const struct {
        const char *what;
        const char *sender, *mta, *status, *rcpt;
        time_t arrival;
        size_t nrcpts;
    } cases[] = {
        {"null sender", "", "m.test", "5.1.1", "b@x", 1, 1},
        {"no sender", NULL, "m.test", "5.1.1", "b@x", 1, 1},
        {"CRLF in sender", "a@x\r\nBcc: v@y", "m.test", "5.1.1", "b@x", 1, 1},
        {"no mta", "a@x", NULL, "5.1.1", "b@x", 1, 1},
        {"mta with a space", "a@x", "m test", "5.1.1", "b@x", 1, 1},
        {"status 2 parts", "a@x", "m.test", "5.1", "b@x", 1, 1},
        {"status class 6", "a@x", "m.test", "6.1.1", "b@x", 1, 1},
        {"status trailing", "a@x", "m.test", "5.1.1x", "b@x", 1, 1},
        {"status 4 digits", "a@x", "m.test", "5.1000.1", "b@x", 1, 1},
        {"status sign", "a@x", "m.test", "5.-1.1", "b@x", 1, 1},
        {"status NULL", "a@x", "m.test", NULL, "b@x", 1, 1},
        {"no final recipient", "a@x", "m.test", "5.1.1", NULL, 1, 1},
        {"empty final recipient", "a@x", "m.test", "5.1.1", "", 1, 1},
        {"no arrival", "a@x", "m.test", "5.1.1", "b@x", 0, 1},
        {"no recipients", "a@x", "m.test", "5.1.1", "b@x", 1, 0},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        smtp_dsn_rcpt_t r = bob_failed();
        smtp_dsn_in_t in = dsn_in(&r, cases[i].nrcpts);
        smtp_dsn_out_t out;
        char err[200] = "";

        print_message("case: %s\n", cases[i].what);
        in.sender = cases[i].sender;
        in.reporting_mta = cases[i].mta;
        in.arrival = cases[i].arrival;
        r.status = cases[i].status;
        r.final_recipient = cases[i].rcpt;
        assert_int_equal(smtp_dsn_compose(&in, &out, err, sizeof(err)),
                         LOOM_ERROR);
        assert_true(err[0] != '\0');
        assert_null(out.data);
        assert_null(out.rcpt);
    }

    /* a sender or an MTA name longer than any can be */
    {
        smtp_dsn_rcpt_t r = bob_failed();
        smtp_dsn_in_t in = dsn_in(&r, 1);
        smtp_dsn_out_t out;
        char err[200] = "", *long_name = malloc(700);

        memset(long_name, 'x', 699);
        long_name[699] = '\0';
        long_name[3] = '@';
        in.sender = long_name;
        assert_int_equal(smtp_dsn_compose(&in, &out, err, sizeof(err)),
                         LOOM_ERROR);
        in = dsn_in(&r, 1);
        in.reporting_mta = long_name + 4;
        assert_int_equal(smtp_dsn_compose(&in, &out, err, sizeof(err)),
                         LOOM_ERROR);
        free(long_name);
    }
}

/* ---- NOTIFY, xtext ------------------------------------------------------ */

static void test_wanted(void **state)
{
    const smtp_dsn_action_t F = SMTP_DSN_FAILED, D = SMTP_DSN_DELAYED,
                            S = SMTP_DSN_DELIVERED;
    static const struct {
        int notify;
        int f, d, s;
    } cases[] = {
        {SMTP_DSN_NOTIFY_DEFAULT, 1, 1, 0},
        {SMTP_DSN_NOTIFY_NEVER, 0, 0, 0},
        {SMTP_DSN_NOTIFY_FAILURE, 1, 0, 0},
        {SMTP_DSN_NOTIFY_DELAY, 0, 1, 0},
        {SMTP_DSN_NOTIFY_SUCCESS, 0, 0, 1},
        {SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE, 1, 0, 1},
        {SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE |
             SMTP_DSN_NOTIFY_DELAY,
         1, 1, 1},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(smtp_dsn_wanted(cases[i].notify, F), cases[i].f);
        assert_int_equal(smtp_dsn_wanted(cases[i].notify, D), cases[i].d);
        assert_int_equal(smtp_dsn_wanted(cases[i].notify, S), cases[i].s);
        assert_int_equal(smtp_dsn_wanted(cases[i].notify, SMTP_DSN_RELAYED),
                         cases[i].s);
    }
}

static void test_xtext(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"rfc822;bob+2Bfilter@example.net", "rfc822;bob+filter@example.net"},
        {"QQ314159", "QQ314159"},
        {"a+20b+3Dc", "a b=c"},
        {"lower+2bcase", "lower+case"},
        {"", ""},
        {"+", NULL},
        {"a+2", NULL},
        {"a+GG", NULL},
        {"a+00", NULL},
        {"a=b", NULL},
        {"a b", NULL},
        {"a\x7F", NULL},
        {"caf\xC3\xA9", NULL},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *got = smtp_dsn_xtext_decode(cases[i].in, strlen(cases[i].in));

        print_message("case %s\n", cases[i].in);
        if (cases[i].out == NULL) {
            assert_null(got);
        } else {
            assert_non_null(got);
            assert_string_equal(got, cases[i].out);
        }
        free(got);
    }
}

/* ---- random inputs ------------------------------------------------------ */

static uint64_t rng_state = 0xD1B54A32D192ED03ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static char *random_text(size_t max)
{
    static const char alphabet[] =
        "ab @.<>;:=+-\r\n\t\"\xC3\xA9\xFF\x01--=_loom-dsn_";
    size_t n = rng() % (max + 1);
    char *s = malloc(n + 1);

    for (size_t i = 0; i < n; i++)
        s[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
    s[n] = '\0';
    return s;
}

/* Random strings in every field and random original messages: each
 * report is refused with a reason or is well formed on the wire and as
 * MIME. */
static void test_random_inputs(void **state)
{
    int ok = 0, refused = 0;

    (void)state;
    for (int iter = 0; iter < 1500; iter++) {
        char *strs[9];
        smtp_dsn_rcpt_t r[2];
        smtp_dsn_in_t in;
        smtp_dsn_out_t out;
        char err[200] = "";
        int rc;

        for (size_t k = 0; k < ARRAY_LEN(strs); k++)
            strs[k] = random_text(k == 8 ? 3000 : k == 3 ? 2500 : 40);
        r[0] = bob_failed();
        r[1] = bob_failed();
        r[0].final_recipient = strs[0];
        r[0].orcpt = strs[1];
        r[0].remote_mta = strs[2];
        r[0].diagnostic = strs[3];
        r[1].action = (smtp_dsn_action_t)(rng() % 5);
        r[1].will_retry_until = rng();
        in = dsn_in(r, 1 + rng() % 2);
        in.envid = strs[4];
        in.received_from = strs[5];
        in.sender = rng() % 4 ? "alice@example.test" : strs[6];
        in.ret = (smtp_dsn_ret_t)(rng() % 3);
        in.full_max = rng() % 4000;
        in.msg = strs[8];
        in.msg_len = strlen(strs[8]);
        (void)strs[7];
        rc = smtp_dsn_compose(&in, &out, err, sizeof(err));
        if (rc == LOOM_OK) {
            parsed_t p;

            assert_wire(out.data, out.len);
            parse(&out, &p);
            parsed_free(&p);
            smtp_dsn_free(&out);
            ok++;
        } else {
            assert_int_equal(rc, LOOM_ERROR);
            assert_true(err[0] != '\0');
            assert_null(out.data);
            refused++;
        }
        for (size_t k = 0; k < ARRAY_LEN(strs); k++)
            free(strs[k]);
    }
    print_message("composed %d, refused %d\n", ok, refused);
    assert_true(ok > 100 && refused > 10); /* both paths were taken */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounce),
        cmocka_unit_test(test_ret),
        cmocka_unit_test(test_returned_edge_cases),
        cmocka_unit_test(test_eightbit_and_line_ends),
        cmocka_unit_test(test_delayed),
        cmocka_unit_test(test_diagnostic_folding),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_xtext),
        cmocka_unit_test(test_random_inputs),
    };

    smtp_mime_init(); /* GMime reads the reports back */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

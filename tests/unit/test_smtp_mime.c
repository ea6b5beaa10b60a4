/*
 * test_smtp_mime.c - the GMime summary of received messages and the send
 * action's composer (protocols/smtp/smtp_mime.h): RFC 2047 headers,
 * text parts in quoted-printable and base64 in several charsets, the
 * 64 KiB bound on a UTF-8 boundary, the parse window, every split of the
 * message into two iovecs, concurrent calls from threads, and composed
 * messages checked on the wire and read back by the summary.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus_int.h" /* loom_msg_freeze: fields readable as published */
#include "loom_bus.h"
#include "smtp_mime.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static void summarize(const char *msg, smtp_mime_summary_t *s)
{
    assert_int_equal(smtp_mime_summarize(msg, strlen(msg), s), LOOM_OK);
    assert_non_null(s->from);
    assert_non_null(s->text);
    assert_int_equal(strlen(s->text), s->text_len);
}

/* UTF-8 validity, written here rather than borrowed from GLib so that the
 * check does not share code with what it checks. */
static int utf8_valid(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)p[i];
        size_t n = c < 0x80         ? 1
                   : (c >> 5) == 6  ? 2
                   : (c >> 4) == 14 ? 3
                   : (c >> 3) == 30 ? 4
                                    : 0;

        if (n == 0 || i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++)
            if (((unsigned char)p[i + k] & 0xC0) != 0x80)
                return 0;
        i += n;
    }
    return 1;
}

/* Every line CRLF-terminated, at most 998 octets, 7-bit. */
static void assert_wire(const char *p, size_t len)
{
    size_t line = 0;

    assert_true(len >= 2);
    assert_memory_equal(p + len - 2, "\r\n", 2);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        assert_true(c != 0 && c < 0x80);
        if (c == '\r') {
            assert_true(i + 1 < len && p[i + 1] == '\n');
            i++;
            line = 0;
            continue;
        }
        assert_true(c != '\n');
        line++;
        assert_true(line <= 998);
    }
}

/* The value of header NAME in the message's header (first occurrence,
 * unfolded raw), or NULL. */
static char *header_of(const char *msg, const char *name)
{
    size_t nl = strlen(name);
    const char *p = msg;

    while (*p && !(p[0] == '\r' && p[1] == '\n')) {
        const char *eol = strstr(p, "\r\n");

        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            char *out = calloc(1, strlen(v) + 1);
            size_t o = 0;

            while (*v == ' ')
                v++;
            for (;;) {
                eol = strstr(v, "\r\n");
                memcpy(out + o, v, (size_t)(eol - v));
                o += (size_t)(eol - v);
                if (eol[2] != ' ' && eol[2] != '\t')
                    break;
                v = eol + 2;
            }
            out[o] = '\0';
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

/* ---- the summary -------------------------------------------------------- */

static void test_rfc5322_date(void **state)
{
    char buf[64];

    (void)state;
    assert_string_equal(smtp_mime_rfc5322_date(0, buf, sizeof(buf)),
                        "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_string_equal(smtp_mime_rfc5322_date(1796653433, buf, sizeof(buf)),
                        "Mon, 07 Dec 2026 14:23:53 +0000");
}

static const char plain_msg[] =
    "Received: from x by y; Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.net>\r\n"
    "To: alice@example.test, \"Bob\" <bob@example.test>\r\n"
    "Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus\r\n"
    " =?utf-8?b?S8O2bG4=?=\r\n"
    "Message-ID: <abc.123@example.net>\r\n"
    "Date: Mon, 7 Dec 2026 15:04:05 +0100\r\n"
    "\r\n"
    "Hello Alice,\r\n"
    "two lines.\r\n";

static void test_summary_headers(void **state)
{
    smtp_mime_summary_t s;

    (void)state;
    summarize(plain_msg, &s);
    assert_string_equal(s.from,
                        "J\xC3\xB6rg M\xC3\xBCller <joerg@example.net>");
    assert_string_equal(s.to, "alice@example.test, Bob <bob@example.test>");
    assert_string_equal(s.subject, "Gr\xC3\xBC\xC3\x9F"
                                   "e aus K\xC3\xB6ln");
    assert_string_equal(s.message_id, "abc.123@example.net");
    assert_string_equal(s.date, "2026-12-07T15:04:05+01:00");
    assert_int_equal(s.size, strlen(plain_msg));
    /* no Content-Type: text/plain (RFC 2045); CRLF became LF */
    assert_string_equal(s.text, "Hello Alice,\ntwo lines.\n");
    assert_int_equal(s.text_truncated, 0);
    smtp_mime_summary_free(&s);
    assert_null(s.from);
    smtp_mime_summary_free(&s); /* freeing twice is harmless */
    smtp_mime_summary_free(NULL);
}

/* A message written by an independent producer (Python 3.11's email
 * package: EmailMessage, policy SMTP, a quoted-printable text part, an
 * HTML alternative and a PDF attachment, RFC 2231 file name). */
static const char python_msg[] =
    "From: =?utf-8?q?=C3=87a?= Va <cava@example.net>\r\n"
    "To: =?utf-8?q?=C3=85lice?= <alice@example.test>\r\n"
    "Subject: =?utf-8?b?UsOpc3Vtw6k6IOaXpeacrOiqng==?= report\r\n"
    "Message-ID: <py.1@example.net>\r\n"
    "Date: Tue, 08 Dec 2026 09:30:00 -0500\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; "
    "boundary=\"===============4117162070638048740==\"\r\n"
    "\r\n"
    "--===============4117162070638048740==\r\n"
    "Content-Type: multipart/alternative;\r\n"
    " boundary=\"===============3329323269461451385==\"\r\n"
    "\r\n"
    "--===============3329323269461451385==\r\n"
    "Content-Type: text/plain; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=C3=BC=C3=9Fe,\r\n"
    "the r=C3=A9sum=C3=A9 is attached.\r\n"
    "=E2=80=94 =C3=87a\r\n"
    "\r\n"
    "--===============3329323269461451385==\r\n"
    "Content-Type: text/html; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "<p>Gr\xC3\xBC\xC3\x9F"
    "e</p>\r\n"
    "\r\n"
    "--===============3329323269461451385==--\r\n"
    "\r\n"
    "--===============4117162070638048740==\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; "
    "filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "JVBERi0xLjQgZmFrZQolUERGLTEuNCBmYWtlCiVQREYtMS40IGZha2UKJVBERi0xLjQgZmFr"
    "ZQo=\r\n"
    "\r\n"
    "--===============4117162070638048740==--\r\n";

static void test_summary_python_message(void **state)
{
    smtp_mime_summary_t s;

    (void)state;
    summarize(python_msg, &s);
    assert_string_equal(s.from, "\xC3\x87"
                                "a Va <cava@example.net>");
    assert_string_equal(s.to, "\xC3\x85lice <alice@example.test>");
    assert_string_equal(s.subject, "R\xC3\xA9sum\xC3\xA9: "
                                   "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"
                                   " report");
    assert_string_equal(s.message_id, "py.1@example.net");
    assert_string_equal(s.date, "2026-12-08T09:30:00-05:00");
    assert_string_equal(s.text, "Gr\xC3\xBC\xC3\x9F"
                                "e,\nthe r\xC3\xA9sum\xC3\xA9 is attached.\n"
                                "\xE2\x80\x94 \xC3\x87"
                                "a\n");
    assert_int_equal(s.size, sizeof(python_msg) - 1);
    smtp_mime_summary_free(&s);
}

static void test_summary_absent_and_odd(void **state)
{
    smtp_mime_summary_t s;

    (void)state;
    summarize("X-Only: one\r\n\r\nbody\r\n", &s);
    assert_string_equal(s.from, "");
    assert_string_equal(s.to, "");
    assert_string_equal(s.subject, "");
    assert_string_equal(s.message_id, "");
    assert_string_equal(s.date, "");
    assert_string_equal(s.text, "body\n");
    smtp_mime_summary_free(&s);

    /* a Date nobody can read stays as written; an unreadable From too;
     * LF-only line ends are read as well */
    summarize("From: <<<\nDate: sometime soon\nSubject: a\tb\n\nx\n", &s);
    assert_string_equal(s.date, "sometime soon");
    assert_string_equal(s.subject, "a b");
    assert_non_null(strstr(s.from, "<<<"));
    assert_string_equal(s.text, "x\n");
    smtp_mime_summary_free(&s);
}

static void test_summary_not_a_message(void **state)
{
    static const char bytes[] = "\x01\x02 no header here\xff\r\nline\r\n";
    smtp_mime_summary_t s;

    (void)state;
    assert_int_equal(smtp_mime_summarize("", 0, &s), LOOM_OK);
    assert_string_equal(s.subject, "");
    assert_int_equal(s.size, 0);
    assert_int_equal(s.text_len, 0);
    smtp_mime_summary_free(&s);

    assert_int_equal(smtp_mime_summarize(bytes, sizeof(bytes) - 1, &s),
                     LOOM_OK);
    assert_int_equal(s.size, sizeof(bytes) - 1);
    assert_true(utf8_valid(s.text, s.text_len));
    assert_non_null(strstr(s.text, "line\n"));
    smtp_mime_summary_free(&s);
}

/* Which part is the text, and how it is decoded. */
static void test_summary_text_parts(void **state)
{
    static const struct {
        const char *name, *msg, *text;
    } cases[] = {
        {"html first, then plain in qp latin-1",
         "Content-Type: multipart/alternative; boundary=XX\r\n\r\n"
         "--XX\r\nContent-Type: text/html\r\n\r\n<p>no</p>\r\n"
         "--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         "Caf=E9 =3D cr=E8me, a soft=\r\n break\r\n"
         "--XX--\r\n",
         /* the CRLF before a boundary is the boundary's (RFC 2046) */
         "Caf\xC3\xA9 = cr\xC3\xA8me, a soft break"},
        {"base64 utf-8 inside mixed/alternative, attachment before",
         "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
         "--o\r\nContent-Type: text/plain\r\n"
         "Content-Disposition: attachment; filename=a.txt\r\n\r\n"
         "attached\r\n"
         "--o\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\n"
         "--i\r\nContent-Type: text/plain; charset=UTF-8\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n"
         "w4Frb3MgzrHPgc6xzrnPjM+C\r\n"
         "--i--\r\n--o--\r\n",
         "\xC3\x81kos \xCE\xB1\xCF\x81\xCE\xB1\xCE\xB9\xCF\x8C\xCF\x82"},
        {"koi8-r",
         "Content-Type: text/plain; charset=koi8-r\r\n"
         "Content-Transfer-Encoding: 8bit\r\n\r\n"
         "\xF0\xD2\xC9\xD7\xC5\xD4\r\n",
         "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82\n"},
        {"unknown charset, valid UTF-8: kept",
         "Content-Type: text/plain; charset=x-nonsense\r\n\r\n"
         "na\xC3\xAFve\r\n",
         "na\xC3\xAFve\n"},
        {"unknown charset, not UTF-8: windows-1252",
         "Content-Type: text/plain; charset=x-nonsense\r\n\r\n"
         "caf\xE9 \x80\r\n",
         "caf\xC3\xA9 \xE2\x82\xAC\n"},
        {"us-ascii declared, 8-bit sent: U+FFFD",
         "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
         "a\xE9z\r\n",
         "a\xEF\xBF\xBDz\n"},
        {"NULs dropped, lone LF kept",
         "Content-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n"
         "YQBiCmMNCg==\r\n",
         "ab\nc\n"},
        {"no text/plain at all",
         "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n",
         ""},
        {"attached message's text is not ours",
         "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: message/rfc822\r\n\r\n"
         "Subject: inner\r\n\r\ninner text\r\n--b--\r\n",
         ""},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        smtp_mime_summary_t s;

        print_message("case: %s\n", cases[i].name);
        summarize(cases[i].msg, &s);
        assert_string_equal(s.text, cases[i].text);
        assert_int_equal(s.text_truncated, 0);
        smtp_mime_summary_free(&s);
    }
}

/* The 64 KiB bound cuts between UTF-8 sequences, never inside one. */
static void test_summary_text_bound(void **state)
{
    static const char head[] = "Subject: big\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "\r\n";
    size_t n = 40000, len;
    char *msg = malloc(sizeof(head) + 2 * n + 8);
    smtp_mime_summary_t s;

    (void)state;
    for (int lead = 0; lead < 3; lead++) {
        memcpy(msg, head, sizeof(head) - 1);
        len = sizeof(head) - 1;
        for (int k = 0; k < lead; k++)
            msg[len++] = 'a';
        for (size_t k = 0; k < n; k++) {
            msg[len++] = '\xC3';
            msg[len++] = '\xA9';
        }
        assert_int_equal(smtp_mime_summarize(msg, len, &s), LOOM_OK);
        assert_true(s.text_len <= SMTP_MIME_TEXT_MAX);
        assert_true(s.text_len >= SMTP_MIME_TEXT_MAX - 1);
        assert_int_equal((s.text_len - (size_t)lead) % 2, 0);
        assert_true(utf8_valid(s.text, s.text_len));
        assert_int_equal(s.text_truncated, 1);
        smtp_mime_summary_free(&s);
    }
    free(msg);
}

/* Only the first SMTP_MIME_PARSE_MAX bytes are parsed; size is the
 * whole. */
static void test_summary_window(void **state)
{
    static const char head[] = "Subject: w\r\n"
                               "Content-Type: multipart/mixed; boundary=b\r\n"
                               "\r\n--b\r\nContent-Type: application/x-big\r\n"
                               "\r\n";
    static const char tail[] = "\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
                               "late text\r\n--b--\r\n";
    size_t fill = SMTP_MIME_PARSE_MAX, len;
    char *msg = malloc(sizeof(head) + fill + sizeof(tail));
    smtp_mime_summary_t s;

    (void)state;
    memcpy(msg, head, sizeof(head) - 1);
    len = sizeof(head) - 1;
    for (size_t i = 0; i < fill; i++)
        msg[len++] = (i % 77 == 76) ? '\n' : 'A';
    memcpy(msg + len, tail, sizeof(tail) - 1);
    len += sizeof(tail) - 1;
    assert_int_equal(smtp_mime_summarize(msg, len, &s), LOOM_OK);
    assert_string_equal(s.subject, "w");
    assert_int_equal(s.size, len);
    assert_string_equal(s.text, ""); /* past the window */
    smtp_mime_summary_free(&s);

    /* a text part that runs past the window is marked truncated */
    memcpy(msg, "Subject: t\r\n\r\n", 14);
    assert_int_equal(smtp_mime_summarize(msg, len, &s), LOOM_OK);
    assert_int_equal(s.text_len, SMTP_MIME_TEXT_MAX);
    assert_int_equal(s.text_truncated, 1);
    smtp_mime_summary_free(&s);
    free(msg);
}

static void assert_same_summary(const smtp_mime_summary_t *a,
                                const smtp_mime_summary_t *b)
{
    assert_string_equal(a->from, b->from);
    assert_string_equal(a->to, b->to);
    assert_string_equal(a->subject, b->subject);
    assert_string_equal(a->message_id, b->message_id);
    assert_string_equal(a->date, b->date);
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->text_len, b->text_len);
    assert_memory_equal(a->text, b->text, a->text_len);
    assert_int_equal(a->text_truncated, b->text_truncated);
}

/* The message in two iovecs, split at every byte, reads the same. */
static void test_summary_iov_splits(void **state)
{
    static const char msg[] =
        "From: a@example.net\r\nSubject: =?utf-8?q?split_=C3=A9?=\r\n"
        "Content-Type: multipart/alternative; boundary=q\r\n\r\n"
        "--q\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "d=E9j=E0 vu\r\n--q--\r\n";
    size_t len = sizeof(msg) - 1;
    smtp_mime_summary_t whole, part;

    (void)state;
    summarize(msg, &whole);
    assert_string_equal(whole.text, "d\xC3\xA9j\xC3\xA0 vu");
    for (size_t cut = 0; cut <= len; cut++) {
        struct iovec iov[3] = {{(void *)msg, cut},
                               {(void *)(msg + cut), len - cut},
                               {(void *)msg, 0}};

        assert_int_equal(smtp_mime_summarize_iov(iov, 3, &part), LOOM_OK);
        assert_same_summary(&whole, &part);
        smtp_mime_summary_free(&part);
    }
    smtp_mime_summary_free(&whole);
}

/* Many nested multiparts: parsed within the window, no crash. */
static void test_summary_deep_nesting(void **state)
{
    size_t cap = 4u << 20, len = 0;
    char *msg = malloc(cap);
    smtp_mime_summary_t s;

    (void)state;
    len += (size_t)sprintf(msg, "Subject: deep\r\nContent-Type: multipart/"
                                "mixed; boundary=b\r\n\r\n");
    while (len + 64 < cap)
        len += (size_t)sprintf(msg + len, "--b\r\nContent-Type: multipart/"
                                          "mixed; boundary=b\r\n\r\n");
    assert_int_equal(smtp_mime_summarize(msg, len, &s), LOOM_OK);
    assert_string_equal(s.subject, "deep");
    assert_string_equal(s.text, "");
    smtp_mime_summary_free(&s);
    free(msg);
}

/* The summary as bus fields, named as the issue names them. */
static void test_summary_fields(void **state)
{
    static const char *const names[] = {"from", "to",   "subject", "message_id",
                                        "date", "size", "text"};
    smtp_mime_summary_t s;
    loom_msg_t *m = loom_msg_new("mail");
    const loom_field_t *f;
    char size[32];

    (void)state;
    summarize(plain_msg, &s);
    smtp_mime_summary_fields(&s, m);
    loom_msg_freeze(m, "smtp", "mail", 1, 1000);
    assert_int_equal(loom_msg_nfields(m), ARRAY_LEN(names));
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        assert_string_equal(loom_msg_field(m, i)->name.p, names[i]);
    f = loom_msg_get(m, "subject", 7);
    assert_string_equal(f->value.p, s.subject);
    f = loom_msg_get(m, "size", 4);
    snprintf(size, sizeof(size), "%zu", strlen(plain_msg));
    assert_string_equal(f->value.p, size);
    f = loom_msg_get(m, "text", 4);
    assert_int_equal(f->value.len, s.text_len);
    assert_string_equal(f->value.p, "Hello Alice,\ntwo lines.\n");
    loom_msg_unref(m);
    smtp_mime_summary_free(&s);
}

/* Summaries on several threads at once give what one thread gives. */
struct thread_job {
    const char *msg;
    const smtp_mime_summary_t *expect;
    int bad;
};

static void *thread_run(void *arg)
{
    struct thread_job *j = arg;

    for (int i = 0; i < 200; i++) {
        smtp_mime_summary_t s;

        if (smtp_mime_summarize(j->msg, strlen(j->msg), &s) != LOOM_OK ||
            strcmp(s.subject, j->expect->subject) != 0 ||
            strcmp(s.text, j->expect->text) != 0 ||
            strcmp(s.from, j->expect->from) != 0)
            j->bad++;
        smtp_mime_summary_free(&s);
    }
    return NULL;
}

static void test_summary_threads(void **state)
{
    static const char *msgs[] = {
        plain_msg,
        "Subject: =?koi8-r?b?8NLJ18XU?=\r\nContent-Type: text/plain; "
        "charset=koi8-r\r\n\r\n\xF0\xD2\xC9\xD7\xC5\xD4\r\n",
        "Subject: b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nd=E9j=E0\r\n",
        "Subject: c\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n"
        "\x82\xa0\r\n",
    };
    smtp_mime_summary_t expect[ARRAY_LEN(msgs)];
    struct thread_job jobs[ARRAY_LEN(msgs)];
    pthread_t t[ARRAY_LEN(msgs)];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
        summarize(msgs[i], &expect[i]);
        jobs[i] = (struct thread_job){msgs[i], &expect[i], 0};
    }
    assert_string_equal(expect[1].subject, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2"
                                           "\xD0\xB5\xD1\x82");
    assert_string_equal(expect[3].text, "\xE3\x81\x82\n");
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_run, &jobs[i]), 0);
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
        smtp_mime_summary_free(&expect[i]);
    }
}

/* ---- composing ---------------------------------------------------------- */

static smtp_compose_in_t compose_in(const char *from, const char *to,
                                    const char *subject, const char *body)
{
    smtp_compose_in_t in = {.from = from,
                            .to = to,
                            .subject = subject,
                            .body = body,
                            .body_len = body ? strlen(body) : 0,
                            .hostname = "mx.example.test",
                            .now = 1796653433};
    return in;
}

static void compose_ok(const smtp_compose_in_t *in, smtp_compose_out_t *out)
{
    char err[200] = "";

    assert_int_equal(smtp_mime_compose(in, out, err, sizeof(err)), LOOM_OK);
    assert_string_equal(err, "");
    assert_wire(out->data, out->len);
    assert_int_equal(strlen(out->data), out->len);
}

static void test_compose_ascii(void **state)
{
    smtp_compose_in_t in = compose_in("bot@example.test", "alice@example.test",
                                      "Deploy done", "All green.\nBye\n");
    smtp_compose_out_t out;
    smtp_mime_summary_t s;
    char *h;

    (void)state;
    compose_ok(&in, &out);
    h = header_of(out.data, "Date");
    assert_string_equal(h, "Mon, 07 Dec 2026 14:23:53 +0000");
    free(h);
    h = header_of(out.data, "MIME-Version");
    assert_string_equal(h, "1.0");
    free(h);
    h = header_of(out.data, "Content-Type");
    assert_string_equal(h, "text/plain; charset=utf-8");
    free(h);
    h = header_of(out.data, "Content-Transfer-Encoding");
    assert_string_equal(h, "7bit");
    free(h);
    h = header_of(out.data, "Message-ID");
    assert_non_null(h);
    assert_int_equal(h[0], '<');
    assert_memory_equal(h + 1, out.message_id, strlen(out.message_id));
    assert_non_null(strstr(h, "@mx.example.test>"));
    free(h);
    assert_non_null(strstr(out.data, "\r\n\r\nAll green.\r\nBye\r\n"));
    assert_string_equal(out.sender, "bot@example.test");
    assert_int_equal(out.nrcpts, 1);
    assert_string_equal(out.rcpts[0], "alice@example.test");

    assert_int_equal(smtp_mime_summarize(out.data, out.len, &s), LOOM_OK);
    assert_string_equal(s.subject, "Deploy done");
    assert_string_equal(s.text, "All green.\nBye\n");
    assert_string_equal(s.message_id, out.message_id);
    assert_string_equal(s.date, "2026-12-07T14:23:53+00:00");
    smtp_mime_summary_free(&s);
    smtp_mime_compose_free(&out);
    assert_null(out.data);
    smtp_mime_compose_free(&out);
    smtp_mime_compose_free(NULL);
}

/* Non-ASCII everywhere: RFC 2047 words, quoted-printable, all 7-bit on
 * the wire, and the summary reads back what went in. */
static void test_compose_utf8_round_trip(void **state)
{
    static const char body[] = "Gr\xC3\xBC\xC3\x9F"
                               "e,\n\xE2\x82\xAC 5 = five\n"
                               ".leading dot\nFrom the start\n";
    smtp_compose_in_t in = compose_in("Zo\xC3\xAB \xC3\x9Cnic\xC3\xB6"
                                      "de <zoe@example.test>",
                                      "alice@example.test, \"B\xC3\xB6"
                                      "b\" <bob@b\xC3\xBC"
                                      "cher.example>",
                                      "Caf\xC3\xA9 \xE2\x98\x95 at noon", body);
    smtp_compose_out_t out;
    smtp_mime_summary_t s;
    char *h;

    (void)state;
    compose_ok(&in, &out);
    h = header_of(out.data, "Subject");
    assert_non_null(strstr(h, "=?UTF-8?") ? h : strstr(h, "=?utf-8?"));
    free(h);
    h = header_of(out.data, "Content-Transfer-Encoding");
    assert_string_equal(h, "quoted-printable");
    free(h);
    assert_string_equal(out.sender, "zoe@example.test");
    assert_int_equal(out.nrcpts, 2);
    assert_string_equal(out.rcpts[0], "alice@example.test");
    assert_string_equal(out.rcpts[1], "bob@xn--bcher-kva.example");

    assert_int_equal(smtp_mime_summarize(out.data, out.len, &s), LOOM_OK);
    assert_string_equal(s.subject, in.subject);
    assert_string_equal(s.text, body);
    assert_string_equal(s.from, in.from);
    assert_non_null(strstr(s.to, "B\xC3\xB6"
                                 "b"));
    smtp_mime_summary_free(&s);
    smtp_mime_compose_free(&out);
}

/* Long lines, a lone CR, CRLF, and a subject that tries to add a header. */
static void test_compose_lines_and_injection(void **state)
{
    size_t n = 2500;
    char *body = malloc(n + 32);
    smtp_compose_in_t in;
    smtp_compose_out_t out;
    smtp_mime_summary_t s;
    char *h;

    (void)state;
    memset(body, 'x', n);
    strcpy(body + n, "\r\nnext\rthird\r\n");
    in = compose_in("a@example.test", "b@example.test",
                    "hi\r\nBcc: victim@example.net", body);
    compose_ok(&in, &out);
    assert_null(header_of(out.data, "Bcc"));
    h = header_of(out.data, "Content-Transfer-Encoding");
    assert_string_equal(h, "quoted-printable");
    free(h);
    assert_int_equal(smtp_mime_summarize(out.data, out.len, &s), LOOM_OK);
    assert_string_equal(s.subject, "hi Bcc: victim@example.net");
    assert_int_equal(s.text_len, n + strlen("\nnext\nthird\n"));
    assert_string_equal(s.text + n, "\nnext\nthird\n");
    smtp_mime_summary_free(&s);
    smtp_mime_compose_free(&out);

    /* a subject of one 1,500-character word still fits in 998 */
    memset(body, 'y', 1500);
    body[1500] = '\0';
    in = compose_in("a@example.test", "b@example.test", body, "");
    compose_ok(&in, &out);
    assert_int_equal(smtp_mime_summarize(out.data, out.len, &s), LOOM_OK);
    assert_string_equal(s.subject, body);
    assert_string_equal(s.text, "");
    smtp_mime_summary_free(&s);
    smtp_mime_compose_free(&out);
    free(body);
}

static void test_compose_groups(void **state)
{
    smtp_compose_in_t in = compose_in(
        "a@example.test", "team: x@example.test, y@example.test;, z@ex.test",
        NULL, "b");
    smtp_compose_out_t out;

    (void)state;
    compose_ok(&in, &out);
    assert_int_equal(out.nrcpts, 3);
    assert_string_equal(out.rcpts[0], "x@example.test");
    assert_string_equal(out.rcpts[1], "y@example.test");
    assert_string_equal(out.rcpts[2], "z@ex.test");
    assert_null(header_of(out.data, "Subject"));
    smtp_mime_compose_free(&out);
}

static void test_compose_refused(void **state)
{
    static const struct {
        const char *from, *to, *subject, *body, *host;
    } cases[] = {
        {NULL, "b@example.test", "s", "b", "h"},
        {"a@example.test", NULL, "s", "b", "h"},
        {"", "b@example.test", "s", "b", "h"},
        {"a@example.test", "", "s", "b", "h"},
        {"a@example.test, c@example.test", "b@example.test", "s", "b", "h"},
        {"not an address", "b@example.test", "s", "b", "h"},
        {"a@example.test", "nobody", "s", "b", "h"},
        {"a@example.test", "b@example.test, broken", "s", "b", "h"},
        {"a@example.test", "j\xC3\xB6rg@example.test", "s", "b", "h"},
        {"a@example.test", "b@example.test", "s\xC3", "b", "h"},
        {"a@example.test", "b@example.test", "s", "b\xFF", "h"},
        {"a@example.test", "b@example.test", "s", "b", ""},
        {"a@example.test", "b@example.test", "s", "b", NULL},
        {"a@example.test", "b@example.test", "s", "b", "bad host>"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        smtp_compose_in_t in = compose_in(cases[i].from, cases[i].to,
                                          cases[i].subject, cases[i].body);
        smtp_compose_out_t out;
        char err[200] = "";

        print_message("case %zu\n", i);
        in.hostname = cases[i].host;
        assert_int_equal(smtp_mime_compose(&in, &out, err, sizeof(err)),
                         LOOM_ERROR);
        assert_true(err[0] != '\0');
        assert_null(out.data);
        assert_null(out.rcpts);
        assert_null(out.message_id);
    }
}

/* ---- mutated messages --------------------------------------------------- */

/* A small deterministic generator (the test must replay the same way). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void assert_clean_field(const char *f)
{
    assert_non_null(f);
    assert_true(utf8_valid(f, strlen(f)));
    assert_true(strlen(f) <= SMTP_MIME_FIELD_MAX);
    for (const char *p = f; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7F);
}

/* Thousands of mutations of MIME-heavy messages (bytes flipped, tokens
 * that matter to a MIME parser spliced in, tails cut): every summary is
 * LOOM_OK with clean, bounded UTF-8 fields. */
static void test_summary_mutations(void **state)
{
    static const char *seeds[] = {
        plain_msg,
        "Subject: =?utf-8?b?w6k=?=\r\nContent-Type: multipart/mixed; "
        "boundary=o\r\n\r\n--o\r\nContent-Type: text/plain; "
        "charset=iso-8859-1\r\nContent-Transfer-Encoding: "
        "quoted-printable\r\n\r\nd=E9j=E0\r\n--o\r\nContent-Type: "
        "message/rfc822\r\n\r\nSubject: in\r\n\r\nx\r\n--o--\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nw4Frb3MgzrHPgc6xzrnPjM+C\r\n",
    };
    static const char *tokens[] = {
        "\r\n",
        "\r\n\r\n",
        "--o",
        "--o--",
        "=?utf-8?b?",
        "=?koi8-r?q?=F0",
        "?=",
        "boundary=",
        "charset=",
        "\xC3",
        "\xFF\xFE",
        "=\r\n",
        "Content-Type: multipart/alternative; boundary=o\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "Content-Disposition: attachment\r\n",
        "\0",
        "+",
        ";",
    };
    char buf[2048];

    (void)state;
    for (int iter = 0; iter < 4000; iter++) {
        const char *seed = seeds[rng() % ARRAY_LEN(seeds)];
        size_t len = strlen(seed);
        int edits = 1 + (int)(rng() % 6);
        smtp_mime_summary_t s;

        memcpy(buf, seed, len);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? rng() % len : 0;

            switch (rng() % 3) {
            case 0:
                if (len > 0)
                    buf[at] = (char)rng();
                break;
            case 1: {
                const char *t = tokens[rng() % ARRAY_LEN(tokens)];
                size_t tl = t[0] ? strlen(t) : 1;

                if (len + tl < sizeof(buf)) {
                    memmove(buf + at + tl, buf + at, len - at);
                    memcpy(buf + at, t, tl);
                    len += tl;
                }
                break;
            }
            default:
                len = at;
            }
        }
        assert_int_equal(smtp_mime_summarize(buf, len, &s), LOOM_OK);
        assert_int_equal(s.size, len);
        assert_clean_field(s.from);
        assert_clean_field(s.to);
        assert_clean_field(s.subject);
        assert_clean_field(s.message_id);
        assert_clean_field(s.date);
        assert_true(s.text_len <= SMTP_MIME_TEXT_MAX);
        assert_int_equal(strlen(s.text), s.text_len);
        assert_true(utf8_valid(s.text, s.text_len));
        smtp_mime_summary_free(&s);
    }
}

/* Random bytes in every composer input: LOOM_OK with a clean wire, or
 * LOOM_ERROR with a reason. */
static void test_compose_mutations(void **state)
{
    static const char alphabet[] = "ab@.<>\", \r\n\t:;=?\xC3\xA9\xFF()[]\\";
    char f[40], t[80], sub[120], body[300];
    int ok = 0, refused = 0;

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        char *fields[] = {f, t, sub, body};
        size_t sizes[] = {sizeof(f), sizeof(t), sizeof(sub), sizeof(body)};
        smtp_compose_in_t in;
        smtp_compose_out_t out;
        char err[200] = "";
        int rc;

        strcpy(f, "a@example.test");
        strcpy(t, "Bob <b@example.test>, c@example.test");
        strcpy(sub, "subject line");
        strcpy(body, "body text\nline two\n");
        for (int k = 0; k < 4; k++) {
            int edits = (int)(rng() % 4);

            for (int e = 0; e < edits; e++) {
                size_t len = strlen(fields[k]);
                size_t at = len ? rng() % len : 0;

                if (len + 2 < sizes[k]) {
                    memmove(fields[k] + at + 1, fields[k] + at, len - at + 1);
                    fields[k][at] = alphabet[rng() % (sizeof(alphabet) - 1)];
                }
            }
        }
        in = compose_in(f, t, sub, body);
        rc = smtp_mime_compose(&in, &out, err, sizeof(err));
        if (rc == LOOM_OK) {
            assert_wire(out.data, out.len);
            assert_true(out.nrcpts >= 1);
            assert_non_null(out.sender);
            smtp_mime_compose_free(&out);
            ok++;
        } else {
            assert_int_equal(rc, LOOM_ERROR);
            assert_true(err[0] != '\0');
            assert_null(out.data);
            refused++;
        }
    }
    print_message("composed %d, refused %d\n", ok, refused);
    assert_true(ok > 100 && refused > 100); /* both paths were taken */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5322_date),
        cmocka_unit_test(test_summary_headers),
        cmocka_unit_test(test_summary_python_message),
        cmocka_unit_test(test_summary_absent_and_odd),
        cmocka_unit_test(test_summary_not_a_message),
        cmocka_unit_test(test_summary_text_parts),
        cmocka_unit_test(test_summary_text_bound),
        cmocka_unit_test(test_summary_window),
        cmocka_unit_test(test_summary_iov_splits),
        cmocka_unit_test(test_summary_deep_nesting),
        cmocka_unit_test(test_summary_threads),
        cmocka_unit_test(test_summary_fields),
        cmocka_unit_test(test_compose_ascii),
        cmocka_unit_test(test_compose_utf8_round_trip),
        cmocka_unit_test(test_compose_lines_and_injection),
        cmocka_unit_test(test_compose_groups),
        cmocka_unit_test(test_compose_refused),
        cmocka_unit_test(test_summary_mutations),
        cmocka_unit_test(test_compose_mutations),
    };

    smtp_mime_init();
    smtp_mime_init(); /* a second call is harmless */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

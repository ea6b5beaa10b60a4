/*
 * test_smtp_client.c - the sans-I/O SMTP client (protocols/smtp/
 * smtp_client.h): the reply parser (valid and invalid replies, every
 * prefix of a valid one partial, limits), scripted dialogues (server
 * bytes in, client commands out) each run with the server's bytes fed
 * whole and byte by byte with the same commands and events, per-recipient
 * results, PIPELINING, STARTTLS (may/must, input after the 220 never
 * consumed), AUTH PLAIN/LOGIN, SIZE/8BITMIME/SMTPUTF8/DSN, HELO fallback,
 * failures, a second transaction on one connection, dot-stuffing and
 * base64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_client.h"

/* ---- replies ------------------------------------------------------------- */

static int parse_copy(const char *raw, size_t len, smtp_reply_t *r)
{
    char *copy = malloc(len ? len : 1);
    int n;

    assert_non_null(copy);
    memcpy(copy, raw, len);
    n = smtp_reply_parse(copy, len, r);
    if (n > 0) {
        size_t i;

        /* the slices lie inside the reply: rebase them onto RAW */
        for (i = 0; i < r->nlines; i++) {
            assert_true(r->line[i].p >= copy &&
                        r->line[i].p + r->line[i].len <= copy + n);
            r->line[i].p = raw + (r->line[i].p - copy);
        }
    }
    free(copy);
    return n;
}

typedef struct {
    const char *raw;
    int code;
    const char *esc;
    size_t nlines;
    const char *first, *last; /* texts of the first and last line */
    size_t used;              /* 0: strlen(raw) */
} good_reply_t;

static const good_reply_t good_replies[] = {
    {"220 mx.example ESMTP\r\n", 220, "", 1, "mx.example ESMTP",
     "mx.example ESMTP", 0},
    {"250 2.1.0 Ok\r\n", 250, "2.1.0", 1, "Ok", "Ok", 0},
    {"550 5.1.1 <u@x>: Recipient address rejected\r\n", 550, "5.1.1", 1,
     "<u@x>: Recipient address rejected", "", 0},
    {"250\r\n", 250, "", 1, "", "", 0},
    {"250 \r\n", 250, "", 1, "", "", 0},
    {"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 250, "", 3, "mx",
     "SIZE 1000", 0},
    {"250-mx\n250 8BITMIME\n", 250, "", 2, "mx", "8BITMIME", 0},
    {"451 4.3.0 try later\r\n250 next\r\n", 451, "4.3.0", 1, "try later",
     "try later", 21},
    /* an enhanced code of the wrong class is text */
    {"250 5.1.1 odd\r\n", 250, "", 1, "5.1.1 odd", "", 0},
    {"550 5.1.1234 x\r\n", 550, "", 1, "5.1.1234 x", "", 0},
    {"550 5.1.1\r\n", 550, "5.1.1", 1, "", "", 0},
    {"354 End data with <CR><LF>.<CR><LF>\r\n", 354, "", 1,
     "End data with <CR><LF>.<CR><LF>", "", 0},
    {"250-\r\n250 \xc3\xa9t\xc3\xa9\r\n", 250, "", 2, "", "\xc3\xa9t\xc3\xa9",
     0},
};

static void test_reply_good(void **state)
{
    size_t i, k;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(good_replies); i++) {
        const good_reply_t *g = &good_replies[i];
        size_t len = strlen(g->raw), want = g->used ? g->used : len;
        smtp_reply_t r;
        int n = parse_copy(g->raw, len, &r);

        if (n != (int)want)
            fail_msg("reply %zu: %d, want %zu", i, n, want);
        assert_int_equal(r.code, g->code);
        assert_string_equal(r.esc, g->esc);
        assert_int_equal(r.nlines, g->nlines);
        assert_int_equal(r.line[0].len, strlen(g->first));
        assert_memory_equal(r.line[0].p, g->first, r.line[0].len);
        if (g->nlines > 1) {
            loom_slice_t l = r.line[r.nlines - 1];

            assert_int_equal(l.len, strlen(g->last));
            assert_memory_equal(l.p, g->last, l.len);
        }
        /* every shorter prefix is partial */
        for (k = 0; k < want; k++)
            if (parse_copy(g->raw, k, &r) != SMTP_REPLY_PARTIAL)
                fail_msg("reply %zu: prefix %zu not partial", i, k);
    }
}

static const struct {
    const char *raw;
    size_t len; /* 0: strlen */
} bad_replies[] = {
    {"25O ok\r\n", 0},
    {"2500 ok\r\n", 0},
    {"250x\r\n", 0},
    {"25\r\n", 0},
    {"\r\n", 0},
    {"650 no\r\n", 0},
    {"160 no\r\n", 0},
    {"270 no\r\n", 0},
    {"250-a\r\n251 b\r\n", 0},
    {"250-a\r\nxyz\r\n", 0},
    {"250 a\rb\r\n", 0},
    {"250 a\0b\r\n", 9},
    {"HTTP/1.1 400 Bad\r\n", 0},
    {"abc", 0},
    {"2", 0} /* fine as a prefix: see below */,
};

static void test_reply_bad(void **state)
{
    size_t i;
    smtp_reply_t r;

    (void)state;
    for (i = 0; i + 1 < LOOM_ARRAY_LEN(bad_replies); i++) {
        size_t len = bad_replies[i].len ? bad_replies[i].len
                                        : strlen(bad_replies[i].raw);

        if (parse_copy(bad_replies[i].raw, len, &r) != SMTP_REPLY_ERROR)
            fail_msg("bad reply %zu accepted", i);
    }
    assert_int_equal(parse_copy("2", 1, &r), SMTP_REPLY_PARTIAL);
    /* a bare CR at the end of what arrived may be a CRLF's half */
    assert_int_equal(parse_copy("250 ok\r", 7, &r), SMTP_REPLY_PARTIAL);
}

static void test_reply_limits(void **state)
{
    char *buf = malloc(SMTP_REPLY_MAX_BYTES + 4096);
    size_t n = 0, i;
    smtp_reply_t r;

    (void)state;
    assert_non_null(buf);
    /* a line of exactly the limit (CRLF included) is fine, one more not */
    memcpy(buf, "250 ", 4);
    memset(buf + 4, 'a', SMTP_REPLY_MAX_LINE - 6);
    memcpy(buf + SMTP_REPLY_MAX_LINE - 2, "\r\n", 2);
    assert_int_equal(parse_copy(buf, SMTP_REPLY_MAX_LINE, &r),
                     SMTP_REPLY_MAX_LINE);
    memset(buf + 4, 'a', SMTP_REPLY_MAX_LINE - 5);
    memcpy(buf + SMTP_REPLY_MAX_LINE - 1, "\r\n", 2);
    assert_int_equal(parse_copy(buf, SMTP_REPLY_MAX_LINE + 1, &r),
                     SMTP_REPLY_ERROR);
    /* unfinished and over the limit already */
    assert_int_equal(parse_copy(buf, SMTP_REPLY_MAX_LINE, &r),
                     SMTP_REPLY_ERROR);
    /* the line count */
    for (i = 0; i < SMTP_REPLY_MAX_LINES; i++)
        n += (size_t)sprintf(buf + n, "250%cx\r\n",
                             i + 1 < SMTP_REPLY_MAX_LINES ? '-' : ' ');
    assert_int_equal(parse_copy(buf, n, &r), (int)n);
    assert_int_equal(r.nlines, SMTP_REPLY_MAX_LINES);
    n = 0;
    for (i = 0; i <= SMTP_REPLY_MAX_LINES; i++)
        n += (size_t)sprintf(buf + n, "250%cx\r\n",
                             i < SMTP_REPLY_MAX_LINES ? '-' : ' ');
    assert_int_equal(parse_copy(buf, n, &r), SMTP_REPLY_ERROR);
    free(buf);
}

/* ---- dialogues ----------------------------------------------------------- */

enum { ACT_NONE = 0, ACT_QUIT, ACT_START2 };

/* One step: the server sends IN; the client must then have written OUT
 * and reported the events EV ('T' starttls, 'B' body, 'D' done, 'F'
 * fail, in order); then the driver does ACT. */
typedef struct {
    const char *in, *out, *ev;
    int act;
} step_t;

typedef struct {
    smtp_client_opts_t opts;
    smtp_client_txn_t txn, txn2;
    smtp_client_rcpt_t rcpt[3], rcpt2[1];
} dlg_t;

static void dlg_init(dlg_t *d, size_t nrcpt)
{
    static const char *const addrs[] = {"a@x.test", "b@x.test", "c@x.test"};
    size_t i;

    memset(d, 0, sizeof(*d));
    d->opts.helo = "me.test";
    d->opts.tls = SMTP_TLS_NONE;
    d->txn.sender = "s@me.test";
    d->txn.rcpt = d->rcpt;
    d->txn.nrcpt = nrcpt;
    for (i = 0; i < nrcpt; i++)
        d->rcpt[i].addr = addrs[i];
    d->txn2.sender = "t@me.test";
    d->txn2.rcpt = d->rcpt2;
    d->txn2.nrcpt = 1;
    d->rcpt2[0].addr = "z@y.test";
}

/* Take what the client wrote, appending it to OUT. */
static void take_out(smtp_client_t *cl, char *out, size_t cap)
{
    size_t len, have = strlen(out);
    const char *p = smtp_client_out(cl, &len);

    assert_true(have + len < cap);
    if (len)
        memcpy(out + have, p, len);
    out[have + len] = '\0';
    smtp_client_out_clear(cl);
}

/* Run STEPS against a new client for D, feeding each step's input in
 * pieces of CHUNK bytes (0: whole).  Once the session is over (a failure,
 * the reply to QUIT) nothing more is fed.  Returns the client. */
static smtp_client_t *run(dlg_t *d, const step_t *steps, size_t nsteps,
                          size_t chunk)
{
    smtp_client_t *cl = smtp_client_new(&d->opts);
    static char pend[8192];
    size_t plen = 0, s;
    int quitting = 0, ended = 0;

    assert_int_equal(smtp_client_start(cl, &d->txn), LOOM_OK);
    for (s = 0; s < nsteps; s++) {
        const char *in = steps[s].in;
        size_t inlen = strlen(in), pos = 0;
        char out[8192] = "", ev[16] = "";

        do {
            size_t take = chunk && inlen - pos > chunk ? chunk : inlen - pos;

            memcpy(pend + plen, in + pos, take);
            plen += take;
            pos += take;
            while (!ended) {
                size_t used;
                int e = smtp_client_feed(cl, pend, plen, &used);

                memmove(pend, pend + used, plen - used);
                plen -= used;
                take_out(cl, out, sizeof(out));
                if (e == SMTP_CLI_MORE)
                    break;
                if (strlen(ev) + 1 < sizeof(ev))
                    strcat(ev, e == SMTP_CLI_STARTTLS ? "T"
                               : e == SMTP_CLI_BODY   ? "B"
                               : e == SMTP_CLI_DONE   ? "D"
                                                      : "F");
                if (e == SMTP_CLI_STARTTLS) {
                    /* what came after the 220 is dropped, never read */
                    plen = 0;
                    pos = inlen;
                    smtp_client_tls_ready(cl);
                } else if (e == SMTP_CLI_BODY) {
                    smtp_client_body_end(cl);
                } else if (e == SMTP_CLI_FAIL ||
                           (e == SMTP_CLI_DONE && quitting)) {
                    ended = 1;
                }
            }
        } while (pos < inlen);
        if (steps[s].act == ACT_QUIT) {
            smtp_client_quit(cl);
            quitting = 1;
        } else if (steps[s].act == ACT_START2) {
            int e;
            size_t used;

            assert_int_equal(smtp_client_start(cl, &d->txn2), LOOM_OK);
            e = smtp_client_feed(cl, NULL, 0, &used);
            assert_true(e == SMTP_CLI_MORE || e == SMTP_CLI_DONE);
        }
        take_out(cl, out, sizeof(out));
        if (strcmp(out, steps[s].out) != 0)
            fail_msg("step %zu (chunk %zu): out\n[%s]\nwant\n[%s]", s, chunk,
                     out, steps[s].out);
        if (strcmp(ev, steps[s].ev) != 0)
            fail_msg("step %zu (chunk %zu): events [%s], want [%s]", s, chunk,
                     ev, steps[s].ev);
    }
    return cl;
}

/* Run STEPS whole and byte by byte; CHECK inspects each finished run. */
static void run_both(size_t nrcpt, void (*setup)(dlg_t *), const step_t *steps,
                     size_t nsteps, void (*check)(dlg_t *, smtp_client_t *))
{
    size_t chunk;

    for (chunk = 0; chunk <= 1; chunk++) {
        dlg_t d;
        smtp_client_t *cl;

        dlg_init(&d, nrcpt);
        if (setup)
            setup(&d);
        cl = run(&d, steps, nsteps, chunk);
        if (check)
            check(&d, cl);
        smtp_client_free(cl);
    }
}

#define EHLO_PIPE                                                              \
    "250-mx.x.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"                 \
    "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n"
#define EHLO_PLAIN "250-mx.x.test\r\n250 SIZE\r\n"

static void check_pipelined(dlg_t *d, smtp_client_t *cl)
{
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
    assert_int_equal(d->rcpt[1].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[1].reply.code, 550);
    assert_string_equal(d->rcpt[1].reply.esc, "5.1.1");
    assert_string_equal(d->rcpt[1].reply.text, "<b@x.test>: no such user");
    assert_int_equal(d->rcpt[2].status, SMTP_CLI_RCPT_TEMPFAIL);
    assert_int_equal(d->rcpt[2].reply.code, 452);
    assert_string_equal(d->rcpt[0].reply.text, "queued as 1234");
    assert_true(smtp_client_caps(cl)->pipelining);
    assert_int_equal(smtp_client_caps(cl)->size, 10240000);
    assert_null(smtp_client_failure(cl));
}

static void setup_dsn(dlg_t *d)
{
    d->txn.size = 1234;
    d->txn.ret = "HDRS";
    d->txn.envid = "QQ+2B1";
    d->rcpt[0].notify = "FAILURE,DELAY";
    d->rcpt[0].orcpt = "rfc822;a@x.test";
}

static void test_pipelined(void **state)
{
    static const step_t steps[] = {
        {"220 mx.x.test ESMTP\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PIPE,
         "MAIL FROM:<s@me.test> SIZE=1234 RET=HDRS ENVID=QQ+2B1\r\n"
         "RCPT TO:<a@x.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@x.test\r\n"
         "RCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n",
         "", 0},
        {"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
         "550 5.1.1 <b@x.test>: no such user\r\n"
         "452 4.5.3 too many\r\n354 go ahead\r\n",
         ".\r\n", "B", 0},
        {"250 2.0.0 queued as 1234\r\n", "QUIT\r\n", "D", ACT_QUIT},
        {"221 2.0.0 Bye\r\n", "", "D", 0},
    };

    (void)state;
    run_both(3, setup_dsn, steps, LOOM_ARRAY_LEN(steps), check_pipelined);
}

static void check_one_at_a_time(dlg_t *d, smtp_client_t *cl)
{
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[1].status, SMTP_CLI_RCPT_DELIVERED);
    assert_false(smtp_client_caps(cl)->pipelining);
}

static void setup_size(dlg_t *d)
{
    d->txn.size = 99;
    d->rcpt[0].notify = "NEVER"; /* no DSN offered: not sent */
}

static void test_one_at_a_time(void **state)
{
    static const step_t steps[] = {
        {"220-mx.x.test ESMTP\r\n220 hello\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PLAIN, "MAIL FROM:<s@me.test> SIZE=99\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"550 no\r\n", "RCPT TO:<b@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(2, setup_size, steps, LOOM_ARRAY_LEN(steps), check_one_at_a_time);
}

static void check_all_refused(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[1].status, SMTP_CLI_RCPT_TEMPFAIL);
    assert_string_equal(d->rcpt[1].reply.text, "greylisted");
}

static void test_all_refused(void **state)
{
    /* no DATA when nobody was accepted; RSET before the next MAIL */
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PLAIN, "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"550 no\r\n", "RCPT TO:<b@x.test>\r\n", "", 0},
        {"450 4.7.1 greylisted\r\n", "RSET\r\n", "D", ACT_START2},
        {"250 ok\r\n", "MAIL FROM:<t@me.test>\r\n", "", 0},
    };

    (void)state;
    run_both(2, NULL, steps, LOOM_ARRAY_LEN(steps), check_all_refused);
}

static void check_mail_refused(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[1].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[1].reply.code, 553);
    assert_string_equal(d->rcpt[1].reply.text, "sender refused");
}

static void test_mail_refused_pipelined(void **state)
{
    /* the RCPTs' and DATA's 503 are not what the recipients get */
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PIPE,
         "MAIL FROM:<s@me.test>\r\nRCPT TO:<a@x.test>\r\n"
         "RCPT TO:<b@x.test>\r\nDATA\r\n",
         "", 0},
        {"553 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n"
         "503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n",
         "QUIT\r\n", "D", ACT_QUIT},
        {"221 bye\r\n", "", "D", 0},
    };

    (void)state;
    run_both(2, NULL, steps, LOOM_ARRAY_LEN(steps), check_mail_refused);
}

static void check_empty_data(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[0].reply.code, 550);
}

static void test_pipelined_354_without_rcpt(void **state)
{
    /* RFC 2920 3.1: a server that says 354 with no recipient gets an
     * empty message, whose reply changes nothing */
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PIPE, "MAIL FROM:<s@me.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n",
         "", 0},
        {"250 ok\r\n550 no\r\n354 go\r\n", ".\r\n", "", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, NULL, steps, LOOM_ARRAY_LEN(steps), check_empty_data);
}

static void setup_may(dlg_t *d)
{
    d->opts.tls = SMTP_TLS_MAY;
}

static void check_tls(dlg_t *d, smtp_client_t *cl)
{
    assert_true(smtp_client_is_tls(cl));
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
}

static void test_starttls_may(void **state)
{
    /* the "250 injected" after the 220 must never be read as a reply */
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n", "STARTTLS\r\n", "", 0},
        {"220 2.0.0 ready\r\n250 injected\r\n", "EHLO me.test\r\n", "T", 0},
        {"250-mx\r\n250 PIPELINING\r\n",
         "MAIL FROM:<s@me.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n", "", 0},
        {"250 ok\r\n250 ok\r\n354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_may, steps, LOOM_ARRAY_LEN(steps), check_tls);
}

static void check_plain(dlg_t *d, smtp_client_t *cl)
{
    assert_false(smtp_client_is_tls(cl));
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
}

static void test_starttls_may_absent_or_refused(void **state)
{
    static const step_t absent[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250 mx\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };
    static const step_t refused[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", "", 0},
        {"454 4.7.0 TLS not available\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_may, absent, LOOM_ARRAY_LEN(absent), check_plain);
    run_both(1, setup_may, refused, LOOM_ARRAY_LEN(refused), check_plain);
}

static void setup_must(dlg_t *d)
{
    d->opts.tls = SMTP_TLS_MUST;
}

static void check_must_failed(dlg_t *d, smtp_client_t *cl)
{
    const smtp_client_failure_t *f = smtp_client_failure(cl);

    assert_non_null(f);
    assert_int_equal(f->stage, SMTP_STAGE_STARTTLS);
    assert_false(f->permanent);
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PENDING);
}

static void test_starttls_must(void **state)
{
    static const step_t absent[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 PIPELINING\r\n", "QUIT\r\n", "F", 0},
        {"221 bye\r\n", "", "", 0},
    };
    static const step_t refused[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", "", 0},
        {"454 4.7.0 not now\r\n", "QUIT\r\n", "F", 0},
    };

    (void)state;
    run_both(1, setup_must, absent, LOOM_ARRAY_LEN(absent), check_must_failed);
    run_both(1, setup_must, refused, LOOM_ARRAY_LEN(refused),
             check_must_failed);
}

static void setup_auth(dlg_t *d)
{
    d->opts.tls = SMTP_TLS_MUST;
    d->opts.auth_user = "user";
    d->opts.auth_pass = "pass";
}

static void check_auth_ok(dlg_t *d, smtp_client_t *cl)
{
    assert_true(smtp_client_is_tls(cl));
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
}

static void test_auth_plain(void **state)
{
    /* base64("\0user\0pass") = AHVzZXIAcGFzcw== */
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", "", 0},
        {"220 go\r\n", "EHLO me.test\r\n", "T", 0},
        {"250-mx\r\n250 AUTH LOGIN PLAIN\r\n",
         "AUTH PLAIN AHVzZXIAcGFzcw==\r\n", "", 0},
        {"235 2.7.0 ok\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_auth, steps, LOOM_ARRAY_LEN(steps), check_auth_ok);
}

static void test_auth_login(void **state)
{
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", "", 0},
        {"220 go\r\n", "EHLO me.test\r\n", "T", 0},
        {"250-mx\r\n250 AUTH=LOGIN\r\n", "AUTH LOGIN\r\n", "", 0},
        {"334 VXNlcm5hbWU6\r\n", "dXNlcg==\r\n", "", 0},
        {"334 UGFzc3dvcmQ6\r\n", "cGFzcw==\r\n", "", 0},
        {"235 ok\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_auth, steps, LOOM_ARRAY_LEN(steps), check_auth_ok);
}

static void check_auth_failed(dlg_t *d, smtp_client_t *cl)
{
    const smtp_client_failure_t *f = smtp_client_failure(cl);

    (void)d;
    assert_non_null(f);
    assert_int_equal(f->stage, SMTP_STAGE_AUTH);
    assert_false(f->permanent); /* deferred: the config is ours to fix */
}

static void test_auth_refused(void **state)
{
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", "", 0},
        {"220 go\r\n", "EHLO me.test\r\n", "T", 0},
        {"250-mx\r\n250 AUTH PLAIN\r\n", "AUTH PLAIN AHVzZXIAcGFzcw==\r\n", "",
         0},
        {"535 5.7.8 bad credentials\r\n", "QUIT\r\n", "F", 0},
    };
    static const step_t no_mech[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 STARTTLS\r\n", "STARTTLS\r\n", "", 0},
        {"220 go\r\n", "EHLO me.test\r\n", "T", 0},
        {"250-mx\r\n250 AUTH CRAM-MD5\r\n", "QUIT\r\n", "F", 0},
    };

    (void)state;
    run_both(1, setup_auth, steps, LOOM_ARRAY_LEN(steps), check_auth_failed);
    run_both(1, setup_auth, no_mech, LOOM_ARRAY_LEN(no_mech),
             check_auth_failed);
}

static void setup_auth_notls(dlg_t *d)
{
    d->opts.auth_user = "user";
    d->opts.auth_pass = "pass";
}

static void test_auth_never_in_plaintext(void **state)
{
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 AUTH PLAIN\r\n", "QUIT\r\n", "F", 0},
    };

    (void)state;
    run_both(1, setup_auth_notls, steps, LOOM_ARRAY_LEN(steps),
             check_auth_failed);
}

static void setup_big(dlg_t *d)
{
    d->txn.size = 20000000;
    d->txn.body_8bit = 1;
}

static void check_refused_locally(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_int_equal(d->rcpt[0].reply.code, 0);
    assert_string_equal(d->rcpt[0].reply.esc, "5.3.4");
}

static void test_size_refused_before_mail(void **state)
{
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PIPE, "QUIT\r\n", "D", ACT_QUIT},
        {"221 bye\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_big, steps, LOOM_ARRAY_LEN(steps), check_refused_locally);
}

static void setup_8bit(dlg_t *d)
{
    d->txn.body_8bit = 1;
}

static void check_8bit_refused(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_string_equal(d->rcpt[0].reply.esc, "5.6.3");
}

static void check_delivered(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
}

static void test_8bitmime(void **state)
{
    static const step_t offered[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PIPE,
         "MAIL FROM:<s@me.test> BODY=8BITMIME\r\nRCPT TO:<a@x.test>\r\n"
         "DATA\r\n",
         "", 0},
        {"250 ok\r\n250 ok\r\n354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };
    static const step_t absent[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 PIPELINING\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_8bit, offered, LOOM_ARRAY_LEN(offered), check_delivered);
    run_both(1, setup_8bit, absent, LOOM_ARRAY_LEN(absent), check_8bit_refused);
}

static void setup_utf8(dlg_t *d)
{
    d->txn.smtputf8 = 1;
}

static void check_utf8_refused(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_PERMFAIL);
    assert_string_equal(d->rcpt[0].reply.esc, "5.6.7");
}

static void test_smtputf8(void **state)
{
    static const step_t offered[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250-mx\r\n250 SMTPUTF8\r\n", "MAIL FROM:<s@me.test> SMTPUTF8\r\n", "",
         0},
    };
    static const step_t absent[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250 mx\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_utf8, offered, LOOM_ARRAY_LEN(offered), NULL);
    run_both(1, setup_utf8, absent, LOOM_ARRAY_LEN(absent), check_utf8_refused);
}

static void check_helo(dlg_t *d, smtp_client_t *cl)
{
    assert_false(smtp_client_caps(cl)->esmtp);
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
}

static void test_helo_fallback(void **state)
{
    /* no ESMTP parameters to a HELO server, even with a size known */
    static const step_t steps[] = {
        {"220 old\r\n", "EHLO me.test\r\n", "", 0},
        {"502 what?\r\n", "HELO me.test\r\n", "", 0},
        {"250 old\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, setup_dsn, steps, LOOM_ARRAY_LEN(steps), check_helo);
}

static int fail_stage, fail_perm;

static void check_failed(dlg_t *d, smtp_client_t *cl)
{
    const smtp_client_failure_t *f = smtp_client_failure(cl);

    (void)d;
    assert_non_null(f);
    assert_int_equal(f->stage, fail_stage);
    assert_int_equal(f->permanent, fail_perm);
}

static void test_failures(void **state)
{
    static const step_t greet421[] = {
        {"421 4.3.2 busy\r\n", "", "F", 0},
    };
    static const step_t greet554[] = {
        {"554 5.7.1 go away\r\n", "QUIT\r\n", "F", 0},
    };
    static const step_t garbage[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"HTTP/1.1 200 OK\r\n", "", "F", 0},
    };
    static const step_t rcpt421[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250 mx\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"421 4.4.2 timeout\r\n", "", "F", 0},
    };

    (void)state;
    fail_stage = SMTP_STAGE_GREETING;
    fail_perm = 0;
    run_both(1, NULL, greet421, 1, check_failed);
    fail_perm = 1;
    run_both(1, NULL, greet554, 1, check_failed);
    fail_stage = SMTP_STAGE_PROTOCOL;
    fail_perm = 0;
    run_both(1, NULL, garbage, 2, check_failed);
    fail_stage = SMTP_STAGE_RCPT;
    run_both(1, NULL, rcpt421, LOOM_ARRAY_LEN(rcpt421), check_failed);
}

static void test_idle_reply_is_protocol_error(void **state)
{
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {"250 mx\r\n", "MAIL FROM:<s@me.test>\r\n", "", 0},
        {"250 ok\r\n", "RCPT TO:<a@x.test>\r\n", "", 0},
        {"250 ok\r\n", "DATA\r\n", "", 0},
        {"354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n250 what\r\n", "", "DF", 0},
    };

    (void)state;
    fail_stage = SMTP_STAGE_PROTOCOL;
    fail_perm = 0;
    run_both(1, NULL, steps, LOOM_ARRAY_LEN(steps), check_failed);
}

static void check_second(dlg_t *d, smtp_client_t *cl)
{
    (void)cl;
    assert_int_equal(d->rcpt[0].status, SMTP_CLI_RCPT_DELIVERED);
    assert_int_equal(d->rcpt2[0].status, SMTP_CLI_RCPT_DELIVERED);
}

static void test_second_transaction(void **state)
{
    /* a clean end needs no RSET */
    static const step_t steps[] = {
        {"220 mx\r\n", "EHLO me.test\r\n", "", 0},
        {EHLO_PIPE, "MAIL FROM:<s@me.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n",
         "", 0},
        {"250 ok\r\n250 ok\r\n354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n",
         "MAIL FROM:<t@me.test>\r\nRCPT TO:<z@y.test>\r\nDATA\r\n", "D",
         ACT_START2},
        {"250 ok\r\n250 ok\r\n354 go\r\n", ".\r\n", "B", 0},
        {"250 ok\r\n", "QUIT\r\n", "D", ACT_QUIT},
        {"221 bye\r\n", "", "D", 0},
    };

    (void)state;
    run_both(1, NULL, steps, LOOM_ARRAY_LEN(steps), check_second);
}

static void test_lost(void **state)
{
    dlg_t d;
    smtp_client_t *cl;
    const smtp_client_failure_t *f;
    size_t used;

    (void)state;
    dlg_init(&d, 1);
    cl = smtp_client_new(&d.opts);
    assert_int_equal(smtp_client_start(cl, &d.txn), LOOM_OK);
    assert_int_equal(smtp_client_start(cl, &d.txn2), LOOM_ERROR);
    assert_int_equal(smtp_client_feed(cl, "220 x\r\n", 7, &used),
                     SMTP_CLI_MORE);
    assert_int_equal(used, 7);
    assert_int_equal(smtp_client_lost(cl, "connection reset"), 1);
    f = smtp_client_failure(cl);
    assert_non_null(f);
    assert_int_equal(f->stage, SMTP_STAGE_EHLO);
    assert_string_equal(f->reply.text, "connection reset");
    assert_int_equal(smtp_client_feed(cl, "250 x\r\n", 7, &used),
                     SMTP_CLI_FAIL);
    assert_int_equal(used, 0);
    smtp_client_free(cl);

    /* after QUIT, going away is no failure */
    cl = smtp_client_new(&d.opts);
    smtp_client_quit(cl);
    assert_int_equal(smtp_client_lost(cl, "eof"), 0);
    assert_null(smtp_client_failure(cl));
    smtp_client_free(cl);
}

/* ---- the body ------------------------------------------------------------ */

static const struct {
    const char *in, *out;
} stuff_cases[] = {
    {"", ""},
    {"a\r\n", "a\r\n"},
    {"a", "a\r\n"},
    {".", "..\r\n"},
    {".\r\n", "..\r\n"},
    {"a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n"},
    {"a\r\n..b\r\n", "a\r\n...b\r\n"},
    {"a.b\r\n", "a.b\r\n"},
    {"a\n.\nb", "a\r\n..\r\nb\r\n"},
    {"a\r.\rb\r", "a\r\n..\r\nb\r\n"},
    {"a\r\r\n.", "a\r\n\r\n..\r\n"},
    {"\r\n.\r\n", "\r\n..\r\n"},
    {"a\0.\r\n", "a\0.\r\n"},
};

static size_t stuff_all(const char *in, size_t len, size_t piece, char *out)
{
    smtp_stuff_t st;
    size_t pos = 0, o = 0;

    smtp_stuff_init(&st);
    while (pos < len) {
        size_t n = piece && len - pos > piece ? piece : len - pos, used;

        /* a small output buffer, to cut the output too */
        while (n > 0) {
            o += smtp_stuff(&st, in + pos, n, out + o, piece ? 5 : 4096, &used);
            pos += used;
            n -= used;
        }
    }
    o += smtp_stuff_finish(&st, out + o);
    return o;
}

static void test_stuff(void **state)
{
    size_t i, piece;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(stuff_cases); i++) {
        /* "a\0.\r\n" has a NUL: measure by the other table entries */
        size_t len = i + 1 == LOOM_ARRAY_LEN(stuff_cases)
                         ? 5
                         : strlen(stuff_cases[i].in);
        size_t wlen = i + 1 == LOOM_ARRAY_LEN(stuff_cases)
                          ? 5
                          : strlen(stuff_cases[i].out);

        for (piece = 0; piece <= 3; piece++) {
            char out[64];
            size_t o = stuff_all(stuff_cases[i].in, len, piece, out);

            if (o != wlen || memcmp(out, stuff_cases[i].out, wlen) != 0)
                fail_msg("stuff %zu piece %zu: got %zu bytes", i, piece, o);
        }
    }
}

static void test_base64(void **state)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    char out[32];
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(v); i++) {
        size_t n = smtp_base64((const unsigned char *)v[i].in, strlen(v[i].in),
                               out, sizeof(out));

        assert_int_equal(n, strlen(v[i].out));
        assert_string_equal(out, v[i].out);
    }
    assert_int_equal(smtp_base64((const unsigned char *)"foobar", 6, out, 8),
                     0);
    assert_true(smtp_has_8bit("a\xc3\xa9", 3));
    assert_false(smtp_has_8bit("abc\r\n", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_good),
        cmocka_unit_test(test_reply_bad),
        cmocka_unit_test(test_reply_limits),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_one_at_a_time),
        cmocka_unit_test(test_all_refused),
        cmocka_unit_test(test_mail_refused_pipelined),
        cmocka_unit_test(test_pipelined_354_without_rcpt),
        cmocka_unit_test(test_starttls_may),
        cmocka_unit_test(test_starttls_may_absent_or_refused),
        cmocka_unit_test(test_starttls_must),
        cmocka_unit_test(test_auth_plain),
        cmocka_unit_test(test_auth_login),
        cmocka_unit_test(test_auth_refused),
        cmocka_unit_test(test_auth_never_in_plaintext),
        cmocka_unit_test(test_size_refused_before_mail),
        cmocka_unit_test(test_8bitmime),
        cmocka_unit_test(test_smtputf8),
        cmocka_unit_test(test_helo_fallback),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_idle_reply_is_protocol_error),
        cmocka_unit_test(test_second_transaction),
        cmocka_unit_test(test_lost),
        cmocka_unit_test(test_stuff),
        cmocka_unit_test(test_base64),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

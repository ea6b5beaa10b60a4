/*
 * test_smtp_session.c - the smtp module over the in-memory transport, in
 * the style of OpenSMTPD's regress scripts: a dialogue in, the exact
 * replies out, the same bytes whether the input comes whole, split in two
 * at every byte, seven bytes or one byte at a time; deliveries (the
 * worker pool's group commit) land in the Maildir; STARTTLS drops what
 * was pipelined behind it; AUTH PLAIN on the worker pool.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "loom_module.h"
#include "session.h"

typedef struct {
    ses_env_t ses; /* first: ses_setup_size */
} env_t;

static const ses_file_t files[] = {
    SES_TEXT("users", "demo:$6$sessalt$U9KxsudiGuz1WVSBFSeYrKi8JTBxw8K37JmLf"
                      "iMaef7Okg9aJtgph/4oKOBqe79GO2sq76cfzQ1CVXvBXX1V2. "
                      "@example.test\n"),
};

static const ses_spec_t spec = {
    .conf = "tls \"t\" {\n"
            "    self_signed = yes\n"
            "}\n"
            "smtp \"m\" {\n"
            "    listen = {\"tcp:2525:interface=127.0.0.1\"}\n"
            "    hostname = \"mx.example.test\"\n"
            "    starttls = \"t\"\n"
            "    local_domains = {\"example.test\"}\n"
            "    recipients = {\"alice@example.test @DIR@/alice/\"}\n"
            "    users_file = \"@DIR@/users\"\n"
            "    max_connections_per_ip = 0\n"
            "    auth_failure_delay = 0\n"
            "    max_message_size = 4K\n"
            "}\n",
    .module = "smtp",
    .name = "m",
    .tmpl = "/tmp/loom-test-smtp.XXXXXX",
    .files = files,
    .nfiles = 1,
};

static int env_setup(void **state)
{
    return ses_setup_size(state, &spec, sizeof(env_t));
}

/* Run the reactor until the worker pool has nothing left and the loop is
 * quiet (bounded). */
static void pump(env_t *e)
{
    for (int i = 0; i < 20000; i++) {
        loom_work_stats_t st;

        ses_settle(&e->ses);
        loom_work_stats(e->ses.srv, &st);
        if (st.queued == 0 && st.running == 0 &&
            st.submitted == st.completed + st.cancelled) {
            ses_settle(&e->ses);
            loom_work_stats(e->ses.srv, &st);
            if (st.queued == 0 && st.running == 0 &&
                st.submitted == st.completed + st.cancelled)
                return;
        }
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    fail_msg("the worker pool never finished");
}

/* Talk over a fresh connection, feeding IN in pieces of PIECE bytes (0:
 * at once) and waiting for the worker pool after each; returns the output
 * with queue ids blanked (caller frees .p). */
static ses_reply_t talk(env_t *e, const char *in, size_t len, size_t piece)
{
    loom_conn_t *c = ses_conn(&e->ses, NULL);
    ses_reply_t r = {NULL, 0, 0};
    size_t off = 0;
    const char *out;

    while (off < len && !loom_mem_closed(c)) {
        size_t n = piece && len - off > piece ? piece : len - off;

        ses_feed(&e->ses, c, in + off, n);
        pump(e);
        off += n;
    }
    pump(e);
    out = loom_mem_output(c, &r.len);
    r.p = malloc(r.len + 1);
    assert_non_null(r.p);
    memcpy(r.p, out, r.len);
    r.p[r.len] = '\0';
    r.closed = loom_mem_closed(c);
    loom_mem_conn_free(c);
    ses_blank(&r, "queued as ", "ID", 0);
    return r;
}

static size_t count_new(env_t *e)
{
    char path[256];
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/alice/new", e->ses.dir);
    d = opendir(path);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

#define GREET "220 mx.example.test ESMTP loom\r\n"
#define EHLO_REPLY                                                             \
    "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 4096\r\n"               \
    "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"              \
    "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"

/* Errors and refusals: nothing reaches the worker pool, so the harness's
 * every-split feeding applies as it is. */
static void test_dialogue_splits(void **state)
{
    env_t *e = *state;
    static const char in[] = "EHLO client.test\r\n"
                             "MAIL FROM:<a@x.test> SIZE=100000\r\n"
                             "MAIL FROM:<a@x.test>\r\n"
                             "RCPT TO:<nobody@example.test>\r\n"
                             "RCPT TO:<b@elsewhere.test>\r\n"
                             "RCPT TO:<alice@example.test>\r\n"
                             "RSET\r\n"
                             "BDAT 5\r\nabcdeNOOP\r\n"
                             "VRFY alice\r\n"
                             "FOO\r\n"
                             "MAIL FROM:<a@x.test>\r\n"
                             "RCPT TO:<Alice@Example.Test>\r\n"
                             "DATA\r\n"
                             "a\n.\nb\r\n.\r\n"
                             "QUIT\r\n";
    static const char want[] = GREET EHLO_REPLY
        "552 5.3.4 Message size exceeds fixed limit\r\n"
        "250 2.1.0 Ok\r\n"
        "550 5.1.1 <nobody@example.test>: Recipient address rejected: User "
        "unknown in local recipient table\r\n"
        "554 5.7.1 <b@elsewhere.test>: Relay access denied\r\n"
        "250 2.1.5 Ok\r\n"
        "250 2.0.0 Ok\r\n"
        "503 5.5.1 Error: need MAIL command\r\n"
        "250 2.0.0 Ok\r\n"
        "252 2.0.0 Cannot VRFY user, but will accept message and attempt "
        "delivery\r\n"
        "500 5.5.2 Error: command not recognized\r\n"
        "250 2.1.0 Ok\r\n"
        "250 2.1.5 Ok\r\n"
        "354 End data with <CR><LF>.<CR><LF>\r\n"
        "550 5.5.2 Error: bare <LF> received\r\n"
        "221 2.0.0 Bye\r\n";

    ses_expect_splits(&e->ses, NULL, in, sizeof(in) - 1, want, sizeof(want) - 1,
                      1);
    assert_int_equal(count_new(e), 0);
}

/* A delivery: the same replies however the input comes, one message in
 * new/ per talk, whole and unstuffed. */
static void test_delivery_pieces(void **state)
{
    env_t *e = *state;
    static const char in[] = "EHLO c\r\nMAIL FROM:<s@x.test>\r\n"
                             "RCPT TO:<alice@example.test>\r\nDATA\r\n"
                             "Subject: t\r\n\r\n..one\r\ntwo\r\n.\r\n"
                             "NOOP\r\nQUIT\r\n";
    static const char want[] =
        "220 mx.example.test ESMTP loom\r\n250-mx.example.test\r\n"
        "250-PIPELINING\r\n250-SIZE 4096\r\n250-STARTTLS\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
        "250-SMTPUTF8\r\n250 CHUNKING\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
        "354 End data with <CR><LF>.<CR><LF>\r\n"
        "250 2.0.0 Ok: queued as ID\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n";
    static const size_t pieces[] = {0, 7, 3, 1};
    size_t before = count_new(e);

    for (size_t i = 0; i < LOOM_ARRAY_LEN(pieces); i++) {
        ses_reply_t r = talk(e, in, sizeof(in) - 1, pieces[i]);

        if (r.len != sizeof(want) - 1 || memcmp(r.p, want, r.len) != 0) {
            ses_show("got", r.p, r.len);
            fail_msg("pieces of %zu: wrong replies", pieces[i]);
        }
        assert_true(r.closed);
        free(r.p);
        assert_int_equal(count_new(e), before + i + 1);
    }
}

/* STARTTLS: what was pipelined behind it is dropped; after the handshake
 * the session starts over and offers AUTH instead of STARTTLS. */
static void test_starttls_and_auth(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(&e->ses, NULL);
    size_t len;
    const char *out;
    static const char want1[] = GREET "220 2.0.0 Ready to start TLS\r\n";
    static const char want2[] =
        GREET "220 2.0.0 Ready to start TLS\r\n"
              "503 5.5.1 Error: send HELO/EHLO first\r\n"
              "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 4096\r\n"
              "250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
              "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
              "535 5.7.8 Error: authentication failed: authentication "
              "failure\r\n"
              "235 2.7.0 Authentication successful\r\n"
              "503 5.5.1 Error: already authenticated\r\n";

    ses_feed(&e->ses, c, SES_S("STARTTLS\r\nEHLO injected\r\n"));
    pump(e);
    out = ses_output(c, &len);
    assert_true(loom_mem_tls(c));
    if (len != sizeof(want1) - 1 || memcmp(out, want1, len) != 0) {
        ses_show("got", out, len);
        fail_msg("STARTTLS: wrong replies");
    }
    ses_feed(&e->ses, c, SES_S("MAIL FROM:<a@x.test>\r\nEHLO c\r\n"));
    ses_feed(&e->ses, c, SES_S("AUTH PLAIN AGRlbW8AYmFk\r\n"));
    pump(e);
    ses_feed(&e->ses, c, SES_S("AUTH PLAIN AGRlbW8AcHc=\r\n"));
    pump(e);
    ses_feed(&e->ses, c, SES_S("AUTH LOGIN\r\n"));
    pump(e);
    out = ses_output(c, &len);
    if (len != sizeof(want2) - 1 || memcmp(out, want2, len) != 0) {
        ses_show("got", out, len);
        fail_msg("after TLS: wrong replies");
    }
    loom_mem_conn_free(c);
    pump(e);
}

/* A session closed while its message is being committed: the delivery
 * still completes (no 250 was sent), nothing touches the freed session. */
static void test_close_during_commit(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(&e->ses, NULL);
    size_t before = count_new(e);

    ses_feed(&e->ses, c,
             SES_S("EHLO c\r\nMAIL FROM:<s@x.test>\r\n"
                   "RCPT TO:<alice@example.test>\r\nDATA\r\nx\r\n.\r\n"));
    loom_mem_conn_free(c);
    pump(e);
    assert_int_equal(count_new(e), before + 1);
}

static double metric(env_t *e, const char *key)
{
    return ses_metric(e->ses.srv, key);
}

#define SMTP_REJ(stage, reason)                                                \
    "loom_smtp_rejected_total{instance=\"m\",stage=\"" stage                   \
    "\",reason=\"" reason "\"}"

/* The counters move by what a dialogue did: a session, the refusals by
 * stage and reason, one accepted message and its bytes, AUTH results. */
static void test_metrics_count(void **state)
{
    env_t *e = *state;
    static const char in[] = "EHLO c\r\n"
                             "MAIL FROM:<s@x.test> SIZE=100000\r\n"
                             "MAIL FROM:<s@x.test>\r\n"
                             "RCPT TO:<nobody@example.test>\r\n"
                             "RCPT TO:<b@elsewhere.test>\r\n"
                             "DATA\r\n"
                             "RCPT TO:<alice@example.test>\r\n"
                             "DATA\r\nbare\nlf\r\n.\r\n"
                             "MAIL FROM:<s@x.test>\r\n"
                             "RCPT TO:<alice@example.test>\r\n"
                             "DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\n"
                             "QUIT\r\n";
    const char *keys[] = {
        "loom_smtp_sessions_total{instance=\"m\"}",
        "loom_smtp_messages_accepted_total{instance=\"m\"}",
        SMTP_REJ("rcpt", "unknown_recipient"),
        SMTP_REJ("rcpt", "relay_denied"),
        SMTP_REJ("data", "no_recipients"),
        SMTP_REJ("data", "content"),
        SMTP_REJ("data", "size"),
        SMTP_REJ("mail", "auth_required"),
        "loom_smtp_replies_total{instance=\"m\",class=\"5xx\"}",
        "loom_smtp_received_bytes_total{instance=\"m\"}",
        "loom_smtp_accepted_bytes_total{instance=\"m\"}",
        "loom_smtp_auth_total{instance=\"m\",result=\"failure\"}",
        "loom_smtp_auth_total{instance=\"m\",result=\"success\"}",
        "loom_smtp_queue_messages{instance=\"m\"}",
    };
    /* 552 SIZE at MAIL, 550, 554, 554 no recipients, 550 bare LF */
    const double delta[] = {1, 1, 1, 1, 1, 1, 1, 0, 5, 0, 0, 0, 0, 0};
    double before[LOOM_ARRAY_LEN(keys)];
    ses_reply_t r;

    for (size_t i = 0; i < LOOM_ARRAY_LEN(keys); i++) {
        before[i] = metric(e, keys[i]);
        if (before[i] < 0)
            fail_msg("no sample %s", keys[i]);
    }
    r = talk(e, in, sizeof(in) - 1, 0);
    assert_non_null(strstr(r.p, "250 2.0.0 Ok: queued as ID"));
    free(r.p);
    for (size_t i = 0; i < LOOM_ARRAY_LEN(keys); i++) {
        double now = metric(e, keys[i]);

        if (i == 9) { /* bare LF message and the accepted one */
            if (now - before[i] < 20)
                fail_msg("%s moved by %g", keys[i], now - before[i]);
        } else if (i == 10) { /* Received: + the message */
            if (now - before[i] < 30)
                fail_msg("%s moved by %g", keys[i], now - before[i]);
        } else if (now - before[i] != delta[i]) {
            fail_msg("%s moved by %g, not %g", keys[i], now - before[i],
                     delta[i]);
        }
    }
}

/* AUTH results are counted once each, the failure before the success. */
static void test_metrics_auth(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(&e->ses, NULL);
    double fail0 =
        metric(e, "loom_smtp_auth_total{instance=\"m\",result=\"failure\"}");
    double ok0 =
        metric(e, "loom_smtp_auth_total{instance=\"m\",result=\"success\"}");

    ses_feed(&e->ses, c, SES_S("STARTTLS\r\n"));
    pump(e);
    ses_feed(&e->ses, c, SES_S("EHLO c\r\nAUTH PLAIN AGRlbW8AYmFk\r\n"));
    pump(e);
    assert_true(
        metric(e, "loom_smtp_auth_total{instance=\"m\",result=\"failure\"}") ==
        fail0 + 1);
    ses_feed(&e->ses, c, SES_S("AUTH PLAIN AGRlbW8AcHc=\r\n"));
    pump(e);
    assert_true(
        metric(e, "loom_smtp_auth_total{instance=\"m\",result=\"success\"}") ==
        ok0 + 1);
    loom_mem_conn_free(c);
    pump(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dialogue_splits),
        cmocka_unit_test(test_delivery_pieces),
        cmocka_unit_test(test_starttls_and_auth),
        cmocka_unit_test(test_close_during_commit),
        cmocka_unit_test(test_metrics_count),
        cmocka_unit_test(test_metrics_auth),
    };

    return cmocka_run_group_tests(tests, env_setup, ses_teardown);
}

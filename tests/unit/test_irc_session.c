/*
 * test_irc_session.c - the irc module over the in-memory transport:
 * scripted dialogues of one client fed whole, split at every byte, seven
 * and one byte at a time (the same bytes out), and several clients of one
 * instance talking to each other: registration and its errors, CAP,
 * PRIVMSG/NOTICE/TAGMSG with tags and echo, labeled-response, OPER and
 * SASL on the worker pool, flood control, the SendQ cut, QUIT and KILL,
 * and the "irc.link/1" service.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "ctl.h"
#include "loom_module.h"
#include "session.h"
#include "irc_service.h"

/* "pw" (openssl passwd -6 -salt ircsess pw) for the oper and account. */
#define PW_HASH                                                                \
    "$6$ircsess$nTRKBYcZJMIa/"                                                 \
    "FeVamIMmhA5v0IsPhGlNJ6Hh5Gtbs46bQPE17d3xlQZkTmY25I"                       \
    "OSrHiYlep5arinNBgi1xBB1"

/* A client certificate's SHA-256 fingerprint bound to account "certy". */
#define FP "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const ses_file_t files[] = {
    SES_TEXT("motd", "line one\nline two\n"),
    SES_TEXT("accounts", "acct " PW_HASH "\n"
                         "certy * fp=" FP "\n"),
};

static const ses_spec_t spec = {
    .conf = "irc \"t\" {\n"
            "    listen = {\"tcp:6667:interface=127.0.0.1\"}\n"
            "    server_name = \"irc.test\"\n"
            "    network = \"testnet\"\n"
            "    motd = \"@DIR@/motd\"\n"
            "    accounts_file = \"@DIR@/accounts\"\n"
            "    flood_burst = 1000\n"
            "    flood_queue = 1000\n"
            "    service_nick = \"svc\"\n"
            "    oper \"boss\" {\n"
            "        password = \"" PW_HASH "\"\n"
            "    }\n"
            "}\n"
            "irc \"f\" {\n"
            "    listen = {\"tcp:6668:interface=127.0.0.1\"}\n"
            "    flood_burst = 5\n"
            "    flood_rate = 1\n"
            "    flood_queue = 3\n"
            "    sendq = 4096\n"
            "}\n"
            "irc \"p\" {\n"
            "    listen = {\"tcp:6669:interface=127.0.0.1\"}\n"
            "    password = \"letmein\"\n"
            "}\n",
    .module = "irc",
    .name = "t",
    .tmpl = "/tmp/loom-test-irc.XXXXXX",
    .files = files,
    .nfiles = 2,
};

static int env_setup(void **state)
{
    return ses_setup(state, &spec);
}

/* Run the reactor until the worker pool is idle and the loop is quiet. */
static void pump(ses_env_t *e)
{
    for (int i = 0; i < 20000; i++) {
        loom_work_stats_t st;

        ses_settle(e);
        loom_work_stats(e->srv, &st);
        if (st.queued == 0 && st.running == 0 &&
            st.submitted == st.completed + st.cancelled) {
            ses_settle(e);
            return;
        }
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    fail_msg("the worker pool never finished");
}

/* Blank what changes between talks: the creation date, time tags. */
static void filter(ses_reply_t *r)
{
    ses_blank(r, "This server was created ", "<date>", 0);
}

/* C's output since the last call (a NUL-terminated copy in BUF). */
typedef struct {
    loom_conn_t *c;
    size_t seen;
    char buf[65536];
} peer_t;

static const char *news(peer_t *p)
{
    size_t len;
    const char *out = loom_mem_output(p->c, &len);
    size_t n = len - p->seen;

    if (n >= sizeof(p->buf))
        n = sizeof(p->buf) - 1;
    memcpy(p->buf, out + p->seen, n);
    p->buf[n] = '\0';
    p->seen = len;
    return p->buf;
}

static void say(ses_env_t *e, peer_t *p, const char *line)
{
    ses_feed(e, p->c, line, strlen(line));
    pump(e);
}

#define assert_has(hay, needle)                                                \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL)                                   \
            fail_msg("missing \"%s\" in:\n%s", (needle), (hay));               \
    } while (0)
#define assert_lacks(hay, needle)                                              \
    do {                                                                       \
        if (strstr((hay), (needle)) != NULL)                                   \
            fail_msg("unexpected \"%s\" in:\n%s", (needle), (hay));            \
    } while (0)

/* A registered client NICK on INST (E's own when NULL), with CAPS (a CAP
 * REQ list, or NULL), its welcome read. */
static void join_as(ses_env_t *e, peer_t *p, loom_instance_t *inst,
                    const char *nick, const char *caps)
{
    char line[512];

    memset(p, 0, sizeof(*p));
    p->c = ses_conn(e, inst);
    if (caps) {
        snprintf(line, sizeof(line), "CAP LS 302\r\nCAP REQ :%s\r\n", caps);
        say(e, p, line);
    }
    snprintf(line, sizeof(line), "NICK %s\r\nUSER %s 0 * :Real %s\r\n%s", nick,
             nick, nick, caps ? "CAP END\r\n" : "");
    say(e, p, line);
    assert_has(news(p), " 001 ");
}

static void test_registration_splits(void **state)
{
    ses_env_t *e = *state;
    static const char in[] = "CAP LS 302\r\nNICK alice\r\n"
                             "USER al 0 * :Alice Liddell\r\n"
                             "CAP REQ :multi-prefix sasl\r\nCAP END\r\n"
                             "PING :tok\r\nQUIT :bye\r\n";
    ses_reply_t r = ses_same_splits(e, NULL, SES_S(in), filter);

    assert_has(r.p, ":irc.test CAP * LS :");
    assert_has(r.p, "sasl=PLAIN,EXTERNAL");
    assert_has(r.p, ":irc.test CAP alice ACK :multi-prefix sasl\r\n");
    assert_has(r.p, ":irc.test 001 alice :Welcome to the testnet IRC Network "
                    "alice!~al@memory\r\n");
    assert_has(r.p, ":irc.test 005 alice ");
    assert_has(r.p, "CASEMAPPING=rfc1459");
    assert_has(r.p, "NETWORK=testnet");
    assert_has(r.p, ":irc.test 375 alice :- irc.test Message of the day");
    assert_has(r.p, ":irc.test 372 alice :- line two\r\n");
    assert_has(r.p, ":irc.test PONG irc.test :tok\r\n");
    assert_has(r.p, "ERROR :Closing Link: memory (Quit: bye)\r\n");
    /* CAP holds registration open: no 001 before CAP END */
    assert_true(strstr(r.p, " 001 ") > strstr(r.p, " ACK "));
    assert_true(r.closed);
    free(r.p);
}

static void test_registration_errors(void **state)
{
    ses_env_t *e = *state;
    static const char in[] = "PRIVMSG x :hi\r\nNICK\r\nNICK 1abc\r\n"
                             "NICK svc\r\nUSER a\r\nFOO bar\r\n"
                             "NICK ok\r\nUSER u 0 * :r\r\nUSER u 0 * :r\r\n"
                             "PASS x\r\nPRIVMSG nobody :hi\r\nPRIVMSG\r\n"
                             "PRIVMSG ok\r\nNOTICE nobody :quiet\r\nPING\r\n"
                             "KILL ok :x\r\nOPER nope pw\r\n";
    ses_reply_t r = ses_same_splits(e, NULL, SES_S(in), filter);

    assert_has(r.p, ":irc.test 451 * :You have not registered\r\n");
    assert_has(r.p, ":irc.test 431 * :No nickname given\r\n");
    assert_has(r.p, ":irc.test 432 * 1abc :Erroneous nickname\r\n");
    assert_has(r.p, ":irc.test 433 * svc :Nickname is already in use\r\n");
    assert_has(r.p, ":irc.test 461 * USER :Not enough parameters\r\n");
    assert_has(r.p, ":irc.test 421 * FOO :Unknown command\r\n");
    assert_has(r.p, ":irc.test 462 ok :You may not reregister\r\n");
    assert_has(r.p, ":irc.test 401 ok nobody :No such nick/channel\r\n");
    assert_has(r.p, ":irc.test 411 ok :No recipient given (PRIVMSG)\r\n");
    assert_has(r.p, ":irc.test 412 ok :No text to send\r\n");
    assert_has(r.p, ":irc.test 409 ok :No origin specified\r\n");
    assert_has(r.p, ":irc.test 481 ok :Permission Denied- You're not an IRC "
                    "operator\r\n");
    assert_has(r.p, ":irc.test 491 ok :No O-lines for your host\r\n");
    assert_lacks(r.p, "quiet");
    assert_false(r.closed);
    free(r.p);
}

static void test_long_line(void **state)
{
    ses_env_t *e = *state;
    char in[12000];
    size_t n;
    ses_reply_t r;

    /* a line without end longer than any allowed: 417, then the line is
     * dropped up to its LF and the next one works */
    memset(in, 'a', 10000);
    n = 10000;
    n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nNICK x\r\n");
    r = ses_talk(e, NULL, in, n, 0, 0);
    assert_has(r.p, ":irc.test 417 * :Input line was too long\r\n");
    assert_false(r.closed);
    free(r.p);
    /* a parsed line over 510 bytes: 417 */
    memcpy(in, "PING :", 6);
    memset(in + 6, 'b', 600);
    memcpy(in + 606, "\r\n", 2);
    r = ses_talk(e, NULL, in, 608, 0, 0);
    assert_has(r.p, " 417 ");
    free(r.p);
}

static void test_privmsg_between_clients(void **state)
{
    ses_env_t *e = *state;
    peer_t a, b;
    const char *out;

    join_as(e, &a, NULL, "amy", "server-time echo-message message-tags");
    join_as(e, &b, NULL, "ben", NULL);
    say(e, &b, "PRIVMSG amy,nobody :hello amy\r\n");
    out = news(&a);
    assert_has(out, ":ben!~ben@memory PRIVMSG amy :hello amy\r\n");
    assert_has(out, "@time=");
    assert_has(out, "msgid=");
    assert_has(news(&b), " 401 ben nobody ");
    /* echo-message: amy sees her own message, ben gets no tags */
    say(e, &a, "@+draft/react=x PRIVMSG ben :hi ben\r\n");
    out = news(&a);
    assert_has(out, ":amy!~amy@memory PRIVMSG ben :hi ben\r\n");
    assert_has(out, "+draft/react=x");
    assert_string_equal(news(&b), ":amy!~amy@memory PRIVMSG ben :hi ben\r\n");
    /* TAGMSG only reaches message-tags clients */
    say(e, &b, "@+typing=active TAGMSG amy\r\n");
    assert_string_equal(news(&b), "");
    assert_string_equal(news(&a), "");
    say(e, &a, "@+typing=active TAGMSG ben\r\n");
    assert_string_equal(news(&b), "");
    /* AWAY: 301 to the sender */
    say(e, &b, "AWAY :lunch\r\n");
    assert_has(news(&b), " 306 ben ");
    say(e, &a, "PRIVMSG ben :there?\r\nNOTICE ben :psst\r\n");
    out = news(&a);
    assert_has(out, ":irc.test 301 amy ben :lunch\r\n");
    /* once: NOTICE gets no automatic reply */
    assert_null(strstr(strstr(out, " 301 ") + 1, " 301 "));
    say(e, &a, "ISON ben carl amy\r\nUSERHOST ben\r\n");
    out = news(&a);
    assert_has(out, ":irc.test 303 amy :ben amy\r\n");
    assert_has(out, ":irc.test 302 amy :ben=-~ben@memory\r\n");
    /* NICK change is seen by the client itself */
    say(e, &b, "NICK Benny\r\n");
    assert_has(news(&b), ":ben!~ben@memory NICK :Benny\r\n");
    say(e, &a, "PRIVMSG BENNY :case folded\r\n");
    assert_has(news(&b), "PRIVMSG BENNY :case folded");
    /* QUIT closes with ERROR */
    say(e, &b, "QUIT\r\n");
    assert_has(news(&b), "ERROR :Closing Link: memory (Client Quit)\r\n");
    assert_true(loom_mem_closed(b.c));
    loom_mem_conn_free(a.c);
    loom_mem_conn_free(b.c);
    ses_settle(e);
}

static void test_labeled_response(void **state)
{
    ses_env_t *e = *state;
    peer_t a;
    const char *out;

    join_as(e, &a, NULL, "lab", "labeled-response batch");
    say(e, &a, "@label=one PING :x\r\n");
    assert_string_equal(news(&a), "@label=one :irc.test PONG irc.test :x\r\n");
    say(e, &a, "@label=two PONG :x\r\n");
    assert_string_equal(news(&a), "@label=two :irc.test ACK\r\n");
    say(e, &a, "@label=three MOTD\r\n");
    out = news(&a);
    assert_has(out, "@label=three :irc.test BATCH +");
    assert_has(out, " labeled-response\r\n");
    assert_has(out, "@batch=");
    assert_has(out, " 376 lab :End of /MOTD command.\r\n");
    assert_has(out, ":irc.test BATCH -");
    loom_mem_conn_free(a.c);
    ses_settle(e);
}

static void test_cap_negotiation(void **state)
{
    ses_env_t *e = *state;
    static const char in[] = "CAP LS\r\nCAP REQ :echo-message bogus\r\n"
                             "CAP REQ :echo-message -batch\r\nCAP LIST\r\n"
                             "CAP FOO\r\nCAP END\r\n";
    ses_reply_t r = ses_same_splits(e, NULL, SES_S(in), filter);

    assert_has(r.p, ":irc.test CAP * NAK :echo-message bogus\r\n");
    assert_has(r.p, ":irc.test CAP * ACK :echo-message -batch\r\n");
    assert_has(r.p, ":irc.test CAP * LIST :echo-message\r\n");
    assert_has(r.p, ":irc.test 410 * FOO :Invalid CAP command\r\n");
    /* without 302 the sasl value is not shown */
    assert_lacks(r.p, "sasl=");
    free(r.p);
}

static void test_oper_and_kill(void **state)
{
    ses_env_t *e = *state;
    peer_t op, v;

    join_as(e, &op, NULL, "op", NULL);
    join_as(e, &v, NULL, "victim", NULL);
    say(e, &op, "OPER boss wrong\r\n");
    assert_has(news(&op), ":irc.test 464 op :Password incorrect\r\n");
    say(e, &op, "OPER boss pw\r\n");
    assert_has(news(&op), ":irc.test 381 op :You are now an IRC operator\r\n");
    say(e, &op, "KILL svc :no\r\n");
    assert_has(news(&op), " 483 op ");
    say(e, &op, "KILL victim :spam\r\n");
    assert_has(news(&v), ":op!~op@memory KILL victim :spam\r\n");
    assert_true(loom_mem_closed(v.c));
    say(e, &op, "PRIVMSG victim :gone?\r\n");
    assert_has(news(&op), " 401 op victim ");
    loom_mem_conn_free(op.c);
    loom_mem_conn_free(v.c);
    ses_settle(e);
}

static void test_sasl_plain(void **state)
{
    ses_env_t *e = *state;
    peer_t p;
    const char *out;

    memset(&p, 0, sizeof(p));
    p.c = ses_conn(e, NULL);
    /* base64("acct\0acct\0pw") and a wrong one */
    say(e, &p,
        "CAP REQ :sasl\r\nNICK acct\r\nUSER a 0 * :A\r\n"
        "AUTHENTICATE PLAIN\r\nAUTHENTICATE YWNjdABhY2N0AHd4\r\n");
    out = news(&p);
    assert_has(out, "AUTHENTICATE +\r\n");
    assert_has(out, ":irc.test 904 acct :SASL authentication failed\r\n");
    say(e, &p, "AUTHENTICATE PLAIN\r\nAUTHENTICATE YWNjdABhY2N0AHB3\r\n");
    out = news(&p);
    assert_has(out, ":irc.test 900 acct acct!~a@memory acct :You are now "
                    "logged in as acct\r\n");
    assert_has(out, ":irc.test 903 acct :SASL authentication successful\r\n");
    say(e, &p, "AUTHENTICATE PLAIN\r\n");
    assert_has(news(&p), " 907 ");
    say(e, &p, "CAP END\r\n");
    assert_has(news(&p), " 001 acct ");
    loom_mem_conn_free(p.c);
    ses_settle(e);
}

static void test_reserved_nick(void **state)
{
    ses_env_t *e = *state;
    peer_t p;

    memset(&p, 0, sizeof(p));
    p.c = ses_conn(e, NULL);
    say(e, &p, "NICK acct\r\nUSER a 0 * :A\r\n");
    assert_has(news(&p), " 433 acct acct :Nickname is reserved");
    say(e, &p, "NICK other\r\n");
    assert_has(news(&p), " 001 other ");
    say(e, &p, "NICK ACCT\r\n");
    assert_has(news(&p), " 433 other ACCT :Nickname is reserved");
    loom_mem_conn_free(p.c);
    ses_settle(e);
}

static void test_password_and_flood(void **state)
{
    ses_env_t *e = *state;
    loom_instance_t *f = ses_instance(e, "irc", "f");
    loom_instance_t *pw = ses_instance(e, "irc", "p");
    ses_reply_t r;
    static const char bad[] = "PASS nope\r\nNICK a\r\nUSER a 0 * :a\r\n";
    static const char good[] = "PASS letmein\r\nNICK a\r\nUSER a 0 * :a\r\n";
    peer_t p;
    const char *out;

    r = ses_talk(e, pw, SES_S(good), 0, 0);
    assert_has(r.p, " 001 a ");
    free(r.p);
    r = ses_talk(e, pw, SES_S(bad), 0, 0);
    assert_has(r.p, ":irc.example.test 464 a :Password incorrect\r\n");
    assert_has(r.p, "ERROR :Closing Link: memory (Bad password)\r\n");
    assert_true(r.closed);
    free(r.p);
    /* burst 5 at one command per 10 s: NICK (costing 2) and USER leave
     * room for two PINGs; three more wait in the queue, the next is one
     * too many */
    memset(&p, 0, sizeof(p));
    p.c = ses_conn(e, f);
    say(e, &p, "NICK a\r\nUSER a 0 * :a\r\n");
    out = news(&p);
    assert_has(out, " 001 a ");
    assert_false(loom_mem_closed(p.c));
    say(e, &p,
        "PING :1\r\nPING :2\r\nPING :3\r\nPING :4\r\n"
        "PING :5\r\n");
    out = news(&p);
    assert_has(out, "PONG irc.example.test :2\r\n");
    assert_lacks(out, "PONG irc.example.test :3");
    assert_false(loom_mem_closed(p.c));
    say(e, &p, "PING :6\r\n");
    out = news(&p);
    assert_has(out, "ERROR :Closing Link: memory (Excess Flood)\r\n");
    assert_lacks(out, "PONG irc.example.test :3");
    assert_true(loom_mem_closed(p.c));
    loom_mem_conn_free(p.c);
    ses_settle(e);
}

static void test_sendq(void **state)
{
    ses_env_t *e = *state;
    loom_instance_t *f = ses_instance(e, "irc", "f");
    peer_t a, b;
    char line[512];

    join_as(e, &a, f, "slow", NULL);
    /* the peer stops reading: what the server queues grows to the SendQ
     * (4096 here) and the client is cut, not the server */
    memset(&b, 0, sizeof(b));
    b.c = ses_conn(e, f);
    say(e, &b, "NICK fast\r\nUSER f 0 * :f\r\n");
    ses_window(e, a.c, 0);
    for (int i = 0; i < 40 && !loom_mem_closed(a.c); i++) {
        snprintf(line, sizeof(line), "PRIVMSG slow :%0300d\r\n", i);
        ses_feed(e, b.c, line, strlen(line));
        pump(e);
        if (loom_mem_closed(a.c))
            break;
        /* b's flood clock allows two messages after registering: b is
         * not the subject, a fresh b goes on */
        if (i % 2 == 1) {
            loom_mem_conn_free(b.c);
            ses_settle(e);
            memset(&b, 0, sizeof(b));
            b.c = ses_conn(e, f);
            snprintf(line, sizeof(line), "NICK f%d\r\nUSER f 0 * :f\r\n", i);
            say(e, &b, line);
        }
    }
    assert_true(loom_mem_closed(a.c));
    loom_mem_conn_free(a.c);
    loom_mem_conn_free(b.c);
    ses_settle(e);
}

/* ---- the link service ------------------------------------------------------
 */

typedef struct {
    char out[8192];
    size_t len;
    int closed;
} fake_link_t;

static int fl_write(void *io, loom_buf_t *line)
{
    fake_link_t *l = io;
    size_t n = loom_buf_len(line);

    if (l->len + n < sizeof(l->out)) {
        memcpy(l->out + l->len, loom_buf_data(line), n);
        l->len += n;
        l->out[l->len] = '\0';
    }
    return LOOM_OK;
}

static size_t fl_pending(void *io)
{
    (void)io;
    return 0;
}

static void fl_close(void *io, const char *reason)
{
    (void)reason;
    ((fake_link_t *)io)->closed = 1;
}

static const irc_link_ops_t fl_ops = {fl_write, fl_pending, fl_close};

static void test_link_service(void **state)
{
    ses_env_t *e = *state;
    loom_service_ref_t ref;
    const irc_link_service_t *svc;
    void *self;
    fake_link_t l;
    uint64_t id;
    peer_t t;
    static const char *const lines[] = {"NICK webby", "USER w 0 * :Web",
                                        "PRIVMSG tcp :from the web"};

    memset(&l, 0, sizeof(l));
    join_as(e, &t, NULL, "tcp", NULL);
    assert_int_equal(loom_service_ref_init(&ref, e->srv, IRC_LINK_MODULE, "t",
                                           IRC_LINK_SERVICE),
                     LOOM_OK);
    svc = loom_service_get(&ref, &self, NULL);
    assert_non_null(svc);
    id = svc->attach(self, &fl_ops, &l, NULL, 1, NULL);
    assert_true(id != 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(svc->input(self, id, lines[i], strlen(lines[i])),
                         LOOM_OK);
    pump(e);
    assert_has(l.out, ":irc.test 001 webby ");
    assert_has(news(&t), ":webby!~w@unknown PRIVMSG tcp :from the web\r\n");
    say(e, &t, "PRIVMSG webby :back\r\n");
    assert_has(l.out, ":tcp!~tcp@memory PRIVMSG webby :back\r\n");
    /* the link goes: the client quits and the id is dead */
    svc->detach(self, id, "gone");
    pump(e);
    assert_int_equal(svc->input(self, id, "PING :x", 7), LOOM_ERROR);
    say(e, &t, "PRIVMSG webby :there?\r\n");
    assert_has(news(&t), " 401 tcp webby ");
    /* the server ends a link: QUIT from it closes it through ops */
    memset(&l, 0, sizeof(l));
    id = svc->attach(self, &fl_ops, &l, NULL, 0, NULL);
    assert_int_equal(svc->input(self, id, "QUIT", 4), LOOM_OK);
    pump(e);
    assert_true(l.closed);
    assert_has(l.out, "ERROR :Closing Link: unknown (Client Quit)\r\n");
    assert_int_equal(svc->input(self, id, "PING :x", 7), LOOM_ERROR);
    loom_mem_conn_free(t.c);
    ses_settle(e);
}

static void test_sasl_external_over_link(void **state)
{
    ses_env_t *e = *state;
    loom_service_ref_t ref;
    const irc_link_service_t *svc;
    void *self;
    fake_link_t l, n;
    uint64_t id;
    static const char *const lines[] = {
        "CAP REQ :sasl",         "NICK certy",     "USER c 0 * :C",
        "AUTHENTICATE EXTERNAL", "AUTHENTICATE +", "CAP END"};

    memset(&l, 0, sizeof(l));
    memset(&n, 0, sizeof(n));
    loom_service_ref_init(&ref, e->srv, IRC_LINK_MODULE, "t", IRC_LINK_SERVICE);
    svc = loom_service_get(&ref, &self, NULL);
    assert_non_null(svc);
    /* with the certificate: logged in, and the reserved nick is its own */
    id = svc->attach(self, &fl_ops, &l, NULL, 1, FP);
    for (size_t i = 0; i < 6; i++)
        svc->input(self, id, lines[i], strlen(lines[i]));
    pump(e);
    assert_has(l.out, "AUTHENTICATE +\r\n");
    assert_has(l.out, ":irc.test 900 certy certy!~c@unknown certy :You are "
                      "now logged in as certy\r\n");
    assert_has(l.out, " 001 certy ");
    svc->detach(self, id, NULL);
    /* without one: 904, and the nick stays reserved */
    id = svc->attach(self, &fl_ops, &n, NULL, 1, NULL);
    for (size_t i = 0; i < 6; i++)
        svc->input(self, id, lines[i], strlen(lines[i]));
    pump(e);
    assert_has(n.out, " 904 certy :SASL authentication failed\r\n");
    assert_has(n.out, " 433 certy certy :Nickname is reserved");
    assert_lacks(n.out, " 001 ");
    svc->detach(self, id, NULL);
    pump(e);
}

/* ---- metrics ---------------------------------------------------------------
 */

static double metric(ses_env_t *e, const char *key)
{
    return ses_metric(e->srv, key);
}

#define GONE(inst, why)                                                        \
    "loom_irc_disconnects_total{instance=\"" inst "\",reason=\"" why "\"}"
#define MSGS(dir, cmd)                                                         \
    "loom_irc_messages_" dir "_total{instance=\"t\",command=\"" cmd "\"}"

/* Gauges follow clients and channels; messages are counted received
 * once per command and delivered once per recipient line; each way of
 * leaving lands in its own reason. */
static void test_metrics_count(void **state)
{
    ses_env_t *e = *state;
    const char *keys[] = {
        "loom_irc_clients{instance=\"t\"}",
        "loom_irc_channels{instance=\"t\"}",
        "loom_irc_registrations_total{instance=\"t\"}",
        MSGS("received", "privmsg"),
        MSGS("delivered", "privmsg"),
        MSGS("received", "notice"),
        MSGS("delivered", "notice"),
        GONE("t", "quit"),
        GONE("t", "closed"),
        GONE("t", "killed"),
    };
    double v0[LOOM_ARRAY_LEN(keys)];
    peer_t a, b, c;

    for (size_t i = 0; i < LOOM_ARRAY_LEN(keys); i++)
        if ((v0[i] = metric(e, keys[i])) < 0)
            fail_msg("no sample %s", keys[i]);
    join_as(e, &a, NULL, "mamy", "echo-message");
    join_as(e, &b, NULL, "mben", NULL);
    join_as(e, &c, NULL, "mcat", NULL);
    assert_true(metric(e, keys[0]) == v0[0] + 3);
    assert_true(metric(e, keys[2]) == v0[2] + 3);
    say(e, &a, "JOIN #metrics\r\n");
    say(e, &b, "JOIN #metrics\r\n");
    assert_true(metric(e, keys[1]) == v0[1] + 1);
    /* to the channel: ben, and amy's echo */
    say(e, &a, "PRIVMSG #metrics :hello\r\n");
    assert_has(news(&b), "PRIVMSG #metrics :hello");
    assert_true(metric(e, keys[3]) == v0[3] + 1);
    assert_true(metric(e, keys[4]) == v0[4] + 2);
    /* two targets, one unknown: one command, one line delivered */
    say(e, &b, "NOTICE mamy,nobody :psst\r\n");
    assert_true(metric(e, keys[5]) == v0[5] + 1);
    assert_true(metric(e, keys[6]) == v0[6] + 1);
    say(e, &b, "QUIT :bye\r\n");
    assert_true(metric(e, keys[7]) == v0[7] + 1);
    assert_true(metric(e, keys[0]) == v0[0] + 2);
    say(e, &a, "OPER boss pw\r\n");
    assert_has(news(&a), " 381 ");
    say(e, &a, "KILL mcat :enough\r\n");
    assert_true(metric(e, keys[9]) == v0[9] + 1);
    loom_mem_conn_free(a.c);
    ses_settle(e);
    assert_true(metric(e, keys[8]) == v0[8] + 1);
    assert_true(metric(e, keys[0]) == v0[0]);
    assert_true(metric(e, keys[1]) == v0[1]); /* the channel went empty */
    loom_mem_conn_free(b.c);
    loom_mem_conn_free(c.c);
    ses_settle(e);
    /* what the earlier tests did to the other instances */
    assert_true(metric(e, GONE("f", "excess_flood")) >= 1);
    assert_true(metric(e, GONE("f", "sendq")) >= 1);
    assert_true(metric(e, GONE("p", "auth")) >= 1);
    assert_true(metric(e, GONE("p", "sendq")) == 0);
}

/* ---- loomctl commands
 * --------------------------------------------------------
 */

/* The reply to control request LINE, parsed (the caller json_decref's). */
static json_t *ctl(ses_env_t *e, const char *line)
{
    char *raw = loom_ctl_run_line(e->srv, line);
    json_error_t err;
    json_t *j = json_loads(raw, 0, &err);

    if (j == NULL)
        fail_msg("not JSON: %s", raw);
    free(raw);
    ses_settle(e);
    return j;
}

/* The error text of a reply that must be an error. */
static const char *ctl_error(json_t *j)
{
    if (json_is_true(json_object_get(j, "ok")))
        fail_msg("%s", "an error was expected");
    return json_string_value(json_object_get(j, "error"));
}

/* The row of table reply J whose first cell is KEY, or NULL. */
static json_t *ctl_row(json_t *j, const char *key)
{
    json_t *rows = json_object_get(json_object_get(j, "result"), "rows");
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_array_get(row, 0)), key) == 0)
            return row;
    }
    return NULL;
}

static const char *cell(json_t *row, size_t i)
{
    return json_string_value(json_array_get(row, i));
}

/* `irc clients` lists every client with its channels and transport;
 * `irc kill` sends KILL, closes with ERROR, tells the channel, counts a
 * kill; errors for unknown nicks, the service user, bad arity. */
static void test_ctl_clients_and_kill(void **state)
{
    ses_env_t *e = *state;
    peer_t a, b;
    json_t *j, *row, *cols;
    const char *out;
    double killed = metric(e, GONE("t", "killed"));

    join_as(e, &a, NULL, "camy", NULL);
    join_as(e, &b, NULL, "cben", NULL);
    say(e, &a, "JOIN #ctl\r\nJOIN #two\r\n");
    say(e, &b, "JOIN #ctl\r\n");
    news(&a);
    j = ctl(e, "irc/t clients");
    assert_true(json_is_true(json_object_get(j, "ok")));
    cols = json_object_get(json_object_get(j, "result"), "columns");
    assert_int_equal(json_array_size(cols), 6);
    assert_string_equal(json_string_value(json_array_get(cols, 1)), "userhost");
    row = ctl_row(j, "camy");
    assert_non_null(row);
    assert_string_equal(cell(row, 1), "~camy@memory");
    assert_string_equal(cell(row, 2), "");
    /* channels in the order the client joined them, newest first or not */
    assert_true(strcmp(cell(row, 3), "#ctl,#two") == 0 ||
                strcmp(cell(row, 3), "#two,#ctl") == 0);
    assert_true(strtol(cell(row, 4), NULL, 10) >= 0);
    assert_string_equal(cell(row, 5), "tcp");
    row = ctl_row(j, "svc");
    assert_non_null(row);
    assert_string_equal(cell(row, 5), "service");
    assert_non_null(ctl_row(j, "cben"));
    json_decref(j);
    /* the module's only instance is not "t": the name is required */
    j = ctl(e, "irc clients");
    assert_non_null(ctl_error(j));
    json_decref(j);

    j = ctl(e, "irc/t kill cben \"too loud\"");
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    out = news(&b);
    assert_has(out, ":irc.test KILL cben :too loud\r\n");
    assert_has(out, "ERROR :Closing Link: memory (Killed (irc.test (too "
                    "loud)))\r\n");
    assert_true(loom_mem_closed(b.c));
    assert_has(news(&a), ":cben!~cben@memory QUIT :Killed (irc.test (too "
                         "loud))\r\n");
    assert_true(metric(e, GONE("t", "killed")) == killed + 1);
    j = ctl(e, "irc/t clients");
    assert_null(ctl_row(j, "cben"));
    json_decref(j);

    j = ctl(e, "irc/t kill cben");
    assert_non_null(strstr(ctl_error(j), "no client with nick cben"));
    json_decref(j);
    j = ctl(e, "irc/t kill SVC");
    assert_non_null(strstr(ctl_error(j), "service user"));
    json_decref(j);
    j = ctl(e, "irc/t kill");
    assert_non_null(strstr(ctl_error(j), "usage"));
    json_decref(j);
    j = ctl(e, "irc/t kill a b c");
    assert_non_null(strstr(ctl_error(j), "usage"));
    json_decref(j);
    /* a default reason */
    j = ctl(e, "irc/t kill CAMY");
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    assert_has(news(&a), ":irc.test KILL camy :Killed by the operator\r\n");
    loom_mem_conn_free(a.c);
    loom_mem_conn_free(b.c);
    ses_settle(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration_splits),
        cmocka_unit_test(test_registration_errors),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_privmsg_between_clients),
        cmocka_unit_test(test_labeled_response),
        cmocka_unit_test(test_cap_negotiation),
        cmocka_unit_test(test_oper_and_kill),
        cmocka_unit_test(test_sasl_plain),
        cmocka_unit_test(test_reserved_nick),
        cmocka_unit_test(test_password_and_flood),
        cmocka_unit_test(test_sendq),
        cmocka_unit_test(test_link_service),
        cmocka_unit_test(test_sasl_external_over_link),
        cmocka_unit_test(test_metrics_count),
        cmocka_unit_test(test_ctl_clients_and_kill),
    };

    return cmocka_run_group_tests(tests, env_setup, ses_teardown);
}

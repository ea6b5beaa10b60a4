/*
 * test_ws_irc_session.c - the http irc handler (http_ws_irc.c) over the
 * in-memory transport, against a scripted stand-in for the irc instance's
 * "irc.link/1" service (exported over the real instance's, which it
 * replaces): the bytes of whole WebSocket sessions under text.ircv3.net
 * and binary.ircv3.net, fed whole, split at every byte, 7 and 1 bytes at
 * a time, must be the same and exactly the frames expected; the lines
 * the service receives; who detaches whom (the client's close, a protocol
 * error, the peer leaving mid-frame, the server closing the link from
 * inside input() and from outside any callback); a refused attach and a
 * missing service answering 503; and back-pressure reaching drained().
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

#include "http.h"
#include "session.h"
#include "ws.h"

#include "../../protocols/irc/irc_service.h"

/* ---- the stand-in for the irc instance ---------------------------------- */

typedef struct {
    const irc_link_ops_t *ops; /* the live link, NULL when none */
    void *io;
    uint64_t id, next_id;
    int refuse; /* attach returns 0 */
    int secure; /* what attach was told */
    unsigned attaches, detaches, drained;
    char detach_reason[128];
    char lines[8192]; /* the lines of the last link, each with '\n' */
    size_t lines_len;
    int last_rc; /* of the last ops->write */
} fake_t;

static fake_t fake;

static void fake_write(const char *line, size_t len)
{
    loom_buf_t *b = loom_buf_new(line, len);

    fake.last_rc = fake.ops->write(fake.io, b);
    loom_buf_unref(b);
}

static uint64_t fake_attach(void *self, const irc_link_ops_t *ops, void *io,
                            const struct sockaddr_storage *peer, int secure,
                            const char *certfp)
{
    (void)self;
    (void)peer;
    (void)certfp;
    if (fake.refuse)
        return 0;
    fake.attaches++;
    fake.ops = ops;
    fake.io = io;
    fake.secure = secure;
    fake.id = ++fake.next_id;
    fake.lines_len = 0;
    fake.lines[0] = '\0';
    return fake.id;
}

static int fake_input(void *self, uint64_t id, const char *line, size_t len)
{
    (void)self;
    if (fake.ops == NULL || id != fake.id)
        return LOOM_ERROR;
    assert_true(fake.lines_len + len + 1 < sizeof(fake.lines));
    memcpy(fake.lines + fake.lines_len, line, len);
    fake.lines_len += len;
    fake.lines[fake.lines_len++] = '\n';
    fake.lines[fake.lines_len] = '\0';
    if (len > 5 && memcmp(line, "ECHO ", 5) == 0) {
        char out[600];
        int n =
            snprintf(out, sizeof(out), ":srv %.*s\r\n", (int)len - 5, line + 5);

        fake_write(out, (size_t)n);
    } else if (len == 5 && memcmp(line, "LATIN", 5) == 0) {
        fake_write("caf\xe9\r\n", 6);
    } else if (len == 3 && memcmp(line, "BIG", 3) == 0) {
        char out[302];

        memset(out, 'x', 300);
        memcpy(out + 300, "\r\n", 2);
        fake_write(out, sizeof(out));
    } else if (len == 5 && memcmp(line, "FLOOD", 5) == 0) {
        char out[1002];
        int i;

        memset(out, 'f', 1000);
        memcpy(out + 1000, "\r\n", 2);
        for (i = 0; i < 300 && fake.last_rc != LOOM_AGAIN; i++)
            fake_write(out, sizeof(out));
    } else if (len == 3 && memcmp(line, "BYE", 3) == 0) {
        const irc_link_ops_t *ops = fake.ops;

        fake_write("ERROR :Closing link (bye)\r\n", 27);
        fake.ops = NULL;
        ops->close(fake.io, "bye");
    }
    return LOOM_OK;
}

static void fake_drained(void *self, uint64_t id)
{
    (void)self;
    if (fake.ops && id == fake.id)
        fake.drained++;
}

static void fake_detach(void *self, uint64_t id, const char *reason)
{
    (void)self;
    if (fake.ops == NULL || id != fake.id)
        return;
    fake.detaches++;
    snprintf(fake.detach_reason, sizeof(fake.detach_reason), "%s",
             reason ? reason : "(null)");
    fake.ops = NULL;
}

static const irc_link_service_t fake_service = {fake_attach, fake_input,
                                                fake_drained, fake_detach};

static void fake_reset(void)
{
    uint64_t next = fake.next_id;

    memset(&fake, 0, sizeof(fake));
    fake.next_id = next;
}

/* ---- the environment ------------------------------------------------------
 */

typedef struct {
    ses_env_t e; /* first: the harness's */
    loom_instance_t *irc;
} env_t;

static const ses_spec_t spec = {
    .conf = "irc \"chat\" {\n"
            "    listen = {\"unix:@DIR@/irc.sock\"}\n"
            "}\n"
            "http \"web\" {\n"
            "    listen = {\"unix:@DIR@/http.sock\"}\n"
            "    server \"main\" {\n"
            "        location \"/irc\" {\n"
            "            handler = \"irc\"\n"
            "            irc = \"chat\"\n"
            "        }\n"
            "        location \"/none\" {\n"
            "            handler = \"irc\"\n"
            "            irc = \"nosuch\"\n"
            "        }\n"
            "    }\n"
            "}\n",
    .module = "http",
    .name = "web",
    .tmpl = "/tmp/loom-wsirc.XXXXXX",
};

static int env_setup(void **state)
{
    env_t *t;

    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0)
        return -1;
    t = *state;
    t->irc = ses_instance(&t->e, "irc", "chat");
    return loom_service_export(t->irc, IRC_LINK_SERVICE, &fake_service,
                               &fake) == LOOM_OK
               ? 0
               : -1;
}

/* ---- building input and expected output ------------------------------------
 */

typedef struct {
    char p[16384];
    size_t len;
} bytes_t;

static void add(bytes_t *b, const void *p, size_t len)
{
    assert_true(b->len + len <= sizeof(b->p));
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

static void adds(bytes_t *b, const char *s)
{
    add(b, s, strlen(s));
}

/* A client frame (masked). */
static void cframe(bytes_t *b, int fin, int op, const void *p, size_t len)
{
    static const uint8_t mask[4] = {0x5a, 0x01, 0xf0, 0x3c};
    uint8_t head[WS_HEAD_MAX], body[1024];

    assert_true(len <= sizeof(body));
    add(b, head, ws_frame_head(head, fin, op, len, mask));
    if (len)
        memcpy(body, p, len);
    ws_mask(body, len, mask, 0);
    add(b, body, len);
}

/* A server frame (unmasked). */
static void sframe(bytes_t *b, int op, const void *p, size_t len)
{
    uint8_t head[WS_HEAD_MAX];

    add(b, head, ws_frame_head(head, 1, op, len, NULL));
    add(b, p, len);
}

static void sclose(bytes_t *b, unsigned code, const char *reason)
{
    uint8_t pl[WS_CONTROL_MAX];

    sframe(b, WS_OP_CLOSE, pl, ws_close_payload(pl, code, reason));
}

static void handshake(bytes_t *b, const char *path, const char *protocol)
{
    adds(b, "GET ");
    adds(b, path);
    adds(b, " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n");
    if (protocol) {
        adds(b, "Sec-WebSocket-Protocol: ");
        adds(b, protocol);
        adds(b, "\r\n");
    }
    adds(b, "\r\n");
}

static void switching(bytes_t *b, const char *protocol)
{
    char head[512];

    snprintf(head, sizeof(head),
             "HTTP/1.1 101 Switching Protocols\r\nServer: loom/%s\r\n"
             "Date: \r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
             LOOM_VERSION_STRING);
    adds(b, head);
    if (protocol) {
        adds(b, "Sec-WebSocket-Protocol: ");
        adds(b, protocol);
        adds(b, "\r\n");
    }
    adds(b, "\r\n");
}

static void blank(ses_reply_t *r)
{
    ses_blank(r, "\r\nDate: ", "", 0);
}

static void expect_reply(const ses_reply_t *r, const bytes_t *want)
{
    if (r->len != want->len || memcmp(r->p, want->p, r->len) != 0) {
        ses_show("got", r->p, r->len);
        ses_show("want", want->p, want->len);
        fail_msg("wrong bytes (%zu, want %zu)", r->len, want->len);
    }
}

/* ---- the tests
 * ---------------------------------------------------------------- */

/* A whole session: lines both ways, a ping between the fragments of a
 * message, several lines in one message, the server's latin-1 and a
 * 300-byte line, the client's close. */
static void session(env_t *t, const char *offered, const char *chosen)
{
    static bytes_t in, want;
    static const char *const lines =
        "ECHO hi\nECHO frag\nLATIN\nBIG\nECHO one\nECHO two\n";
    char xs[300];
    ses_reply_t r;
    int binary = chosen && strcmp(chosen, "binary.ircv3.net") == 0;
    int op = binary ? WS_OP_BINARY : WS_OP_TEXT;

    in.len = want.len = 0;
    handshake(&in, "/irc", offered);
    cframe(&in, 1, WS_OP_TEXT, "ECHO hi\r\n", 9);
    cframe(&in, 0, WS_OP_TEXT, "ECHO ", 5);
    cframe(&in, 1, WS_OP_PING, "p?", 2);
    cframe(&in, 1, WS_OP_CONT, "frag", 4);
    cframe(&in, 1, WS_OP_BINARY, "LATIN", 5);
    cframe(&in, 1, WS_OP_TEXT, "BIG", 3);
    cframe(&in, 1, WS_OP_TEXT, "ECHO one\r\n\r\nECHO two", 20);
    cframe(&in, 1, WS_OP_CLOSE, "\x03\xe8", 2);
    cframe(&in, 1, WS_OP_TEXT, "ECHO never", 10);

    switching(&want, chosen);
    sframe(&want, op, ":srv hi", 7);
    sframe(&want, WS_OP_PONG, "p?", 2);
    sframe(&want, op, ":srv frag", 9);
    if (binary)
        sframe(&want, op, "caf\xe9", 4);
    else
        sframe(&want, op, "caf\xef\xbf\xbd", 6);
    memset(xs, 'x', sizeof(xs));
    sframe(&want, op, xs, sizeof(xs));
    sframe(&want, op, ":srv one", 8);
    sframe(&want, op, ":srv two", 8);
    sclose(&want, 1000, "");

    fake_reset();
    r = ses_same_splits(&t->e, NULL, in.p, in.len, blank);
    expect_reply(&r, &want);
    assert_true(r.closed);
    free(r.p);
    /* the last run's service side (every run is the same) */
    assert_int_equal(fake.detaches, fake.attaches);
    assert_string_equal(fake.detach_reason, "Connection closed");
    assert_string_equal(fake.lines, lines);
    assert_int_equal(fake.secure, 0);
}

static void test_text(void **state)
{
    session(*state, "text.ircv3.net", "text.ircv3.net");
}

static void test_binary(void **state)
{
    session(*state, "chat, binary.ircv3.net, text.ircv3.net",
            "binary.ircv3.net");
}

static void test_no_subprotocol(void **state)
{
    session(*state, NULL, NULL);
}

static void test_unknown_subprotocol(void **state)
{
    session(*state, "chat", NULL);
}

/* The server ends the link from inside input(): its last line, then a
 * close frame; no detach. */
static void test_server_closes(void **state)
{
    env_t *t = *state;
    static bytes_t in, want;
    ses_reply_t r;

    in.len = want.len = 0;
    handshake(&in, "/irc", "text.ircv3.net");
    cframe(&in, 1, WS_OP_TEXT, "BYE", 3);
    cframe(&in, 1, WS_OP_TEXT, "ECHO late", 9);
    switching(&want, "text.ircv3.net");
    sframe(&want, WS_OP_TEXT, "ERROR :Closing link (bye)", 25);
    sclose(&want, 1000, "bye");
    fake_reset();
    r = ses_same_splits(&t->e, NULL, in.p, in.len, blank);
    expect_reply(&r, &want);
    assert_true(r.closed);
    free(r.p);
    assert_int_equal(fake.detaches, 0);
    assert_string_equal(fake.lines, "BYE\n");
}

/* The server ends the link outside any callback of the link (a timer, a
 * reload): the same close frame. */
static void test_server_closes_later(void **state)
{
    env_t *t = *state;
    static bytes_t in, want;
    loom_conn_t *c = ses_conn(&t->e, NULL);
    size_t len;
    const char *out;

    in.len = want.len = 0;
    handshake(&in, "/irc", NULL);
    fake_reset();
    ses_feed(&t->e, c, in.p, in.len);
    assert_non_null(fake.ops);
    fake_write(":srv NOTICE x :going\r\n", 22);
    fake.ops->close(fake.io, "Server shutting down");
    fake.ops = NULL;
    ses_settle(&t->e);
    ses_expect_closed(c, 1);
    switching(&want, NULL);
    sframe(&want, WS_OP_TEXT, ":srv NOTICE x :going", 20);
    sclose(&want, 1000, "Server shutting down");
    out = ses_output(c, &len);
    assert_true(len > want.len - 60);
    /* skip the Date line's value */
    {
        ses_reply_t r = {malloc(len + 1), len, 1};

        memcpy(r.p, out, len);
        r.p[len] = '\0';
        blank(&r);
        expect_reply(&r, &want);
        free(r.p);
    }
    assert_int_equal(fake.detaches, 0);
    loom_mem_conn_free(c);
    ses_settle(&t->e);
}

/* Protocol errors: the close code, and the client detached with the
 * reason. */
static void test_protocol_errors(void **state)
{
    env_t *t = *state;
    static const struct {
        const char *name;
        const uint8_t *frame;
        size_t len;
        unsigned code;
        const char *why;
    } cases[] = {
        {"unmasked", (const uint8_t *)"\x81\x02hi", 4, 1002, "unmasked frame"},
        {"bad utf-8", (const uint8_t *)"\x81\x81\0\0\0\0\xff", 7, 1007,
         "text message not UTF-8"},
        {"too big", (const uint8_t *)"\x82\xff\0\0\0\0\0\x01\0\0\0\0\0\0", 14,
         1009, "message too big"},
        {"rsv", (const uint8_t *)"\xc1\x80\0\0\0\0", 6, 1002,
         "reserved bits set"},
    };
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        static bytes_t in, want;
        char reason[128];
        ses_reply_t r;

        in.len = want.len = 0;
        handshake(&in, "/irc", "text.ircv3.net");
        cframe(&in, 1, WS_OP_TEXT, "ECHO ok", 7);
        add(&in, cases[i].frame, cases[i].len);
        switching(&want, "text.ircv3.net");
        sframe(&want, WS_OP_TEXT, ":srv ok", 7);
        sclose(&want, cases[i].code, cases[i].why);
        fake_reset();
        r = ses_same_splits(&t->e, NULL, in.p, in.len, blank);
        expect_reply(&r, &want);
        assert_true(r.closed);
        free(r.p);
        snprintf(reason, sizeof(reason), "WebSocket error: %s", cases[i].why);
        assert_string_equal(fake.detach_reason, reason);
        assert_int_equal(fake.detaches, fake.attaches);
    }
}

/* The peer goes away in the middle of a frame: the client quits. */
static void test_peer_leaves_mid_frame(void **state)
{
    env_t *t = *state;
    static bytes_t in;
    loom_conn_t *c = ses_conn(&t->e, NULL);

    in.len = 0;
    handshake(&in, "/irc", "binary.ircv3.net");
    cframe(&in, 1, WS_OP_BINARY, "ECHO never whole", 16);
    fake_reset();
    ses_feed(&t->e, c, in.p, in.len - 5);
    assert_int_equal(fake.attaches, 1);
    assert_int_equal(fake.lines_len, 0);
    ses_shutdown(&t->e, c);
    assert_int_equal(fake.detaches, 1);
    assert_string_equal(fake.detach_reason, "Connection closed");
    loom_mem_conn_free(c);
    ses_settle(&t->e);
}

/* Refused by the instance, or no instance: 503, nothing upgraded. */
static void test_refused(void **state)
{
    env_t *t = *state;
    static bytes_t in;
    ses_reply_t r;

    in.len = 0;
    handshake(&in, "/irc", NULL);
    fake_reset();
    fake.refuse = 1;
    r = ses_talk_f(&t->e, NULL, in.p, in.len, 0, 0, blank);
    assert_true(strncmp(r.p, "HTTP/1.1 503 ", 13) == 0);
    assert_non_null(strstr(r.p, "refused"));
    free(r.p);
    fake.refuse = 0;

    in.len = 0;
    handshake(&in, "/none", NULL);
    r = ses_talk_f(&t->e, NULL, in.p, in.len, 0, 0, blank);
    assert_true(strncmp(r.p, "HTTP/1.1 503 ", 13) == 0);
    assert_null(strstr(r.p, "Sec-WebSocket-Accept"));
    free(r.p);

    /* the service withdrawn (as a reload that removes the instance
     * does): 503, then back */
    loom_service_withdraw(t->irc, IRC_LINK_SERVICE);
    in.len = 0;
    handshake(&in, "/irc", NULL);
    r = ses_talk_f(&t->e, NULL, in.p, in.len, 0, 0, blank);
    assert_true(strncmp(r.p, "HTTP/1.1 503 ", 13) == 0);
    free(r.p);
    assert_int_equal(
        loom_service_export(t->irc, IRC_LINK_SERVICE, &fake_service, &fake),
        LOOM_OK);
    r = ses_talk_f(&t->e, NULL, in.p, in.len, 0, 0, blank);
    assert_true(strncmp(r.p, "HTTP/1.1 101 ", 13) == 0);
    free(r.p);
    assert_int_equal(fake.attaches, 1);
}

/* A handshake refused by ws.c: the status, and the service never asked. */
static void test_bad_handshake(void **state)
{
    env_t *t = *state;
    static const char in[] = "GET /irc HTTP/1.1\r\nHost: x\r\n\r\n";
    ses_reply_t r;

    fake_reset();
    r = ses_talk_f(&t->e, NULL, in, sizeof(in) - 1, 0, 0, blank);
    assert_true(strncmp(r.p, "HTTP/1.1 426 ", 13) == 0);
    assert_non_null(strstr(r.p, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(r.p, "\r\nSec-WebSocket-Version: 13\r\n"));
    free(r.p);
    assert_int_equal(fake.attaches, 0);
}

/* A client that stops reading: a write returns LOOM_AGAIN, and once the
 * peer reads, drained() comes. */
static void test_back_pressure(void **state)
{
    env_t *t = *state;
    static bytes_t in;
    loom_conn_t *c = ses_conn(&t->e, NULL);
    size_t len;

    in.len = 0;
    handshake(&in, "/irc", "binary.ircv3.net");
    fake_reset();
    ses_window(&t->e, c, 0);
    ses_feed(&t->e, c, in.p, in.len);
    in.len = 0;
    cframe(&in, 1, WS_OP_TEXT, "FLOOD", 5);
    ses_feed(&t->e, c, in.p, in.len);
    assert_int_equal(fake.last_rc, LOOM_AGAIN);
    assert_int_equal(fake.drained, 0);
    assert_true(fake.ops->pending(fake.io) > 0);
    ses_output(c, &len);
    ses_window(&t->e, c, (size_t)-1);
    assert_int_equal(fake.drained, 1);
    ses_shutdown(&t->e, c);
    assert_int_equal(fake.detaches, 1);
    loom_mem_conn_free(c);
    ses_settle(&t->e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_no_subprotocol),
        cmocka_unit_test(test_unknown_subprotocol),
        cmocka_unit_test(test_server_closes),
        cmocka_unit_test(test_server_closes_later),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_peer_leaves_mid_frame),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bad_handshake),
        cmocka_unit_test(test_back_pressure),
    };

    return cmocka_run_group_tests(tests, env_setup, ses_teardown);
}

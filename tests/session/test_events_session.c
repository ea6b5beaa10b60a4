/*
 * test_events_session.c - the http module's events handler (Server-Sent
 * Events from the bus) over HTTP/1.1 on the in-memory transport, with
 * messages published straight into the bus from the test.
 *
 * Cases: the response head (200, text/event-stream, no-store, no proxy
 * buffering, chunked) and nothing else before a message; each message as
 * one frame "id: ID\nevent: TOPIC\ndata: JSON\n\n" whose JSON is
 * loom_msg_json's, only for the location's topic; the keep-alive comment
 * from the connection's timer; resuming after Last-Event-ID (the header
 * wins over ?last_event_id=, a malformed one means live only) with the
 * ring's later messages then live ones; ring eviction (": missed" before
 * what the ring holds when the id is older than it, or unknown); a
 * subscriber that reads nothing is dropped once max_buffer would be
 * passed while a reading one gets every frame; max_streams (503, and room
 * again once a stream ends); 405 for other methods; HEAD; a graceful stop
 * ends open streams with the chunked terminator and closes; the server
 * freed with streams open (ASan: nothing leaks or dangles).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "loom_bus.h"
#include "session.h"

typedef ses_env_t env_t;

static const ses_spec_t spec = {
    .conf = "http \"web\" {\n"
            "    listen = {\"tcp:18093:interface=127.0.0.1\"}\n"
            "    server \"main\" {\n"
            "        location \"= /ev\" {\n"
            "            handler = \"events\"\n"
            "            topic = \"demo\"\n"
            "            history = 4\n"
            "            keepalive = 1\n"
            "            max_buffer = \"256K\"\n"
            "        }\n"
            "        location \"= /few\" {\n"
            "            handler = \"events\"\n"
            "            topic = \"*:*:demo\"\n"
            "            max_streams = 2\n"
            "        }\n"
            "    }\n"
            "}\n",
    .module = "http",
    .name = "web",
};

static int setup(void **state)
{
    return ses_setup(state, &spec);
}

/* ---- helpers ------------------------------------------------------------ */

/* A published message: its id and frame as the handler must send it. */
typedef struct {
    uint64_t id;
    char frame[8192];
    size_t len;
} pub_t;

/* Publish TEXT on TOPIC from the http instance and settle. */
static pub_t publish(env_t *e, const char *topic, const char *text)
{
    loom_msg_t *m = loom_msg_new(topic);
    pub_t p;
    size_t jlen;
    char *json;

    loom_msg_add(m, "text", 4, text, strlen(text));
    loom_msg_ref(m); /* publish takes one */
    assert_int_equal(loom_bus_publish(e->inst, m, NULL), LOOM_OK);
    p.id = loom_msg_id(m);
    json = loom_msg_json(m, &jlen);
    assert_null(memchr(json, '\n', jlen));
    p.len = (size_t)snprintf(p.frame, sizeof(p.frame),
                             "id: %llu\nevent: %s\ndata: %s\n\n",
                             (unsigned long long)p.id, topic, json);
    assert_true(p.len < sizeof(p.frame));
    free(json);
    loom_msg_unref(m);
    ses_settle(e);
    return p;
}

/* A connection that sent REQ (settled). */
static loom_conn_t *open_req(env_t *e, const char *req)
{
    loom_conn_t *c = ses_conn(e, NULL);

    ses_feed(e, c, req, strlen(req));
    return c;
}

/* The head of C's output (through the empty line) into HEAD, and the
 * chunked body decoded so far into BODY (NUL-terminated); 1 when the
 * terminating chunk was seen. */
static int split_output(loom_conn_t *c, char *head, size_t hcap, char *body,
                        size_t bcap)
{
    size_t len, hl, bl = 0;
    const char *out = ses_output(c, &len), *p, *end = out + len;
    const char *eoh = memmem(out, len, "\r\n\r\n", 4);

    assert_non_null(eoh);
    hl = (size_t)(eoh + 4 - out);
    assert_true(hl < hcap);
    memcpy(head, out, hl);
    head[hl] = '\0';
    for (p = eoh + 4; p < end;) {
        char *stop;
        unsigned long n = strtoul(p, &stop, 16);

        if (stop == p || end - stop < 2 || memcmp(stop, "\r\n", 2) != 0)
            break;
        if (n == 0) {
            body[bl] = '\0';
            return 1;
        }
        if ((size_t)(end - stop - 2) < n + 2)
            break;
        assert_true(bl + n < bcap);
        memcpy(body + bl, stop + 2, n);
        bl += n;
        p = stop + 2 + n + 2;
    }
    body[bl] = '\0';
    return 0;
}

static char body_buf[1 << 20];

/* C's decoded body so far. */
static const char *body_of(loom_conn_t *c)
{
    char head[4096];

    split_output(c, head, sizeof(head), body_buf, sizeof(body_buf));
    return body_buf;
}

/* C's decoded body is exactly the concatenation of the N frames given
 * (after PREFIX). */
static void expect_body(loom_conn_t *c, const char *prefix,
                        const pub_t *const *f, size_t n)
{
    static char want[1 << 16];
    size_t wl = (size_t)snprintf(want, sizeof(want), "%s", prefix), i;
    const char *got = body_of(c);

    for (i = 0; i < n; i++) {
        memcpy(want + wl, f[i]->frame, f[i]->len);
        wl += f[i]->len;
    }
    want[wl] = '\0';
    if (strcmp(got, want) != 0) {
        ses_show("got", got, strlen(got));
        ses_show("want", want, wl);
        fail_msg("body differs");
    }
}

/* ---- cases --------------------------------------------------------------- */

static void test_head_and_frames(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    char head[4096], body[4096];
    pub_t a, b, other;
    const pub_t *both[2] = {&a, &b};

    assert_int_equal(split_output(c, head, sizeof(head), body, sizeof(body)),
                     0);
    assert_true(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(head, "\r\nContent-Type: text/event-stream\r\n"));
    assert_non_null(strstr(head, "\r\nCache-Control: no-store\r\n"));
    assert_non_null(strstr(head, "\r\nX-Accel-Buffering: no\r\n"));
    assert_non_null(strstr(head, "\r\nTransfer-Encoding: chunked\r\n"));
    assert_string_equal(body, "");
    a = publish(e, "demo", "first");
    other = publish(e, "elsewhere", "not for /ev");
    b = publish(e, "demo", "second \"quoted\"\nline");
    assert_true(a.id < other.id && other.id < b.id);
    expect_body(c, "", both, 2);
    ses_expect_closed(c, 0);
    loom_mem_conn_free(c);
}

static void test_keepalive(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    int i;

    /* keepalive = 1: the timer fires about a second from now (the loop
     * blocks for it; the bound only stops a broken build from hanging) */
    for (i = 0; i < 100 && strstr(body_of(c), ": keep-alive\n\n") == NULL;
         i++) {
        event_base_loop(e->base, EVLOOP_ONCE);
        ses_settle(e);
    }
    assert_string_equal(body_of(c), ": keep-alive\n\n");
    ses_expect_closed(c, 0);
    loom_mem_conn_free(c);
}

static void test_resume(void **state)
{
    env_t *e = *state;
    pub_t a = publish(e, "demo", "a"), b = publish(e, "demo", "b");
    pub_t c3 = publish(e, "demo", "c"), d;
    const pub_t *bc[] = {&b, &c3}, *bcd[] = {&b, &c3, &d},
                *abc[] = {&a, &b, &c3}, *cd[] = {&c3, &d}, *dd[] = {&d};
    char req[256];
    loom_conn_t *k1, *k2, *k3, *k4;

    /* the header: what came after a */
    snprintf(req, sizeof(req),
             "GET /ev HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %llu\r\n\r\n",
             (unsigned long long)a.id);
    k1 = open_req(e, req);
    expect_body(k1, "", bc, 2);
    /* the query, from the start of the ring */
    k2 = open_req(e, "GET /ev?x=1&last_event_id=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_body(k2, "", abc, 3);
    /* the header wins over the query */
    snprintf(req, sizeof(req),
             "GET /ev?last_event_id=0 HTTP/1.1\r\nHost: x\r\n"
             "Last-Event-ID: %llu\r\n\r\n",
             (unsigned long long)b.id);
    k3 = open_req(e, req);
    /* a malformed id: live only */
    k4 =
        open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7x\r\n\r\n");
    expect_body(k4, "", NULL, 0);
    d = publish(e, "demo", "d"); /* live, after the replay */
    expect_body(k1, "", bcd, 3);
    expect_body(k3, "", cd, 2);
    expect_body(k4, "", dd, 1);
    loom_mem_conn_free(k1);
    loom_mem_conn_free(k2);
    loom_mem_conn_free(k3);
    loom_mem_conn_free(k4);
}

static void test_eviction(void **state)
{
    env_t *e = *state;
    pub_t p[6];
    const pub_t *held[4];
    char req[256];
    loom_conn_t *c;
    size_t i;

    for (i = 0; i < 6; i++) {
        char t[8];

        snprintf(t, sizeof(t), "m%zu", i);
        p[i] = publish(e, "demo", t);
    }
    for (i = 0; i < 4; i++) /* history = 4 */
        held[i] = &p[i + 2];
    /* from the start: the first two are gone */
    c = open_req(e, "GET /ev?last_event_id=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_body(c, ": missed\n\n", held, 4);
    loom_mem_conn_free(c);
    /* after p[0]: p[1] is gone */
    snprintf(req, sizeof(req),
             "GET /ev HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %llu\r\n\r\n",
             (unsigned long long)p[0].id);
    c = open_req(e, req);
    expect_body(c, ": missed\n\n", held, 4);
    loom_mem_conn_free(c);
    /* after p[1], the newest evicted: nothing missed */
    snprintf(req, sizeof(req),
             "GET /ev HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %llu\r\n\r\n",
             (unsigned long long)p[1].id);
    c = open_req(e, req);
    expect_body(c, "", held, 4);
    loom_mem_conn_free(c);
    /* an id this ring never gave out (another run of the daemon) */
    c = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n"
                    "Last-Event-ID: 99999999\r\n\r\n");
    expect_body(c, ": missed\n\n", held, 4);
    loom_mem_conn_free(c);
}

static void test_slow_subscriber(void **state)
{
    env_t *e = *state;
    loom_conn_t *slow = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    loom_conn_t *fast = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    static char text[4000];
    size_t i, sent = 0, expect = 0;

    memset(text, 'x', sizeof(text) - 1);
    ses_window(e, slow, 0); /* reads nothing more */
    /* 100 frames of about 4 KB: past the 256K bound */
    for (i = 0; i < 100; i++) {
        pub_t p = publish(e, "demo", text);

        sent += p.len;
        if (!loom_mem_closed(slow))
            expect = sent;
    }
    ses_expect_closed(slow, 1);
    assert_true(expect > 200 * 1024 && expect <= 256 * 1024 + 8192);
    /* the reader got every frame */
    assert_int_equal(strlen(body_of(fast)), sent);
    ses_expect_closed(fast, 0);
    loom_mem_conn_free(slow);
    loom_mem_conn_free(fast);
}

static void test_max_streams(void **state)
{
    env_t *e = *state;
    const char *req = "GET /few HTTP/1.1\r\nHost: x\r\n\r\n";
    loom_conn_t *a = open_req(e, req), *b = open_req(e, req), *c, *d;
    size_t len;
    const char *out;

    c = open_req(e, req);
    out = ses_output(c, &len);
    assert_true(len > 12 && memcmp(out, "HTTP/1.1 503", 12) == 0);
    assert_non_null(memmem(out, len, "Retry-After: 5\r\n", 16));
    loom_mem_conn_free(c);
    loom_mem_conn_free(a);
    ses_settle(e);
    d = open_req(e, req);
    out = ses_output(d, &len);
    assert_true(len > 12 && memcmp(out, "HTTP/1.1 200", 12) == 0);
    loom_mem_conn_free(b);
    loom_mem_conn_free(d);
}

static void test_methods(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = open_req(e, "POST /ev HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Length: 2\r\n\r\nhi");
    size_t len;
    const char *out = ses_output(c, &len);

    assert_true(len > 12 && memcmp(out, "HTTP/1.1 405", 12) == 0);
    assert_non_null(memmem(out, len, "\r\nAllow: GET, HEAD\r\n", 20));
    loom_mem_conn_free(c);
    c = open_req(e, "HEAD /ev HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    out = ses_output(c, &len);
    assert_true(memcmp(out, "HTTP/1.1 200", 12) == 0);
    assert_non_null(memmem(out, len, "text/event-stream", 17));
    /* the HEAD ended (no body), and the GET after it streams */
    assert_non_null(memmem(out + 12, len - 12, "HTTP/1.1 200", 12));
    ses_expect_closed(c, 0);
    loom_mem_conn_free(c);
}

static int stopped;
static void on_stopped(void *arg)
{
    (void)arg;
    stopped = 1;
}

static void test_graceful_stop(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    pub_t a = publish(e, "demo", "before the stop");
    const pub_t *one[] = {&a};
    char head[4096];

    stopped = 0;
    loom_server_shutdown(e->srv, 10, on_stopped, NULL);
    ses_settle(e);
    assert_int_equal(
        split_output(c, head, sizeof(head), body_buf, sizeof(body_buf)), 1);
    expect_body(c, "", one, 1);
    ses_expect_ended(c, 1);
    assert_int_equal(stopped, 1);
    loom_mem_conn_free(c);
}

static loom_conn_t *left_open[2];

static void test_free_with_streams_open(void **state)
{
    env_t *e = *state;

    /* left open: the teardown frees the server under them */
    left_open[0] = open_req(e, "GET /ev HTTP/1.1\r\nHost: x\r\n\r\n");
    publish(e, "demo", "x");
    left_open[1] =
        open_req(e, "GET /ev?last_event_id=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    publish(e, "demo", "y");
}

/* Free the server first, the clients' ends after it. */
static int teardown_server_first(void **state)
{
    env_t *e = *state;

    loom_server_free(e->srv);
    e->srv = NULL;
    loom_mem_conn_free(left_open[0]);
    loom_mem_conn_free(left_open[1]);
    return ses_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_head_and_frames, setup,
                                        ses_teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, setup, ses_teardown),
        cmocka_unit_test_setup_teardown(test_resume, setup, ses_teardown),
        cmocka_unit_test_setup_teardown(test_eviction, setup, ses_teardown),
        cmocka_unit_test_setup_teardown(test_slow_subscriber, setup,
                                        ses_teardown),
        cmocka_unit_test_setup_teardown(test_max_streams, setup, ses_teardown),
        cmocka_unit_test_setup_teardown(test_methods, setup, ses_teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop, setup,
                                        ses_teardown),
        cmocka_unit_test_setup_teardown(test_free_with_streams_open, setup,
                                        teardown_server_first),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

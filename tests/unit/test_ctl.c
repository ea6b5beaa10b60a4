/*
 * test_ctl.c - the control socket without a socket: the request parser
 * (every case also fed split at every byte), UTF-8 checks, the answer and
 * its JSON, the access rule, and the commands run against a server over
 * the in-memory transport (core commands, MODULE[/NAME] COMMAND dispatch
 * through a command table, a reload deferred out of the callback).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core.h"
#include "ctl.h"
#include "session.h"

/* ---- the parser --------------------------------------------------------- */

typedef struct {
    const char *in;
    size_t len;       /* 0: strlen(in) */
    long rc;          /* > 0: the line's length; LOOM_AGAIN, LOOM_ERROR */
    const char *want; /* words joined by '|', or a piece of the error */
} parse_case_t;

static const parse_case_t parse_cases[] = {
    {"status\n", 0, 7, "status"},
    {"status\r\n", 0, 8, "status"},
    {"stop 5\nrest", 0, 7, "stop|5"},
    {"  a\t\tb  \n", 0, 9, "a|b"},
    {"irc kill bob \"a reason\"\n", 0, 24, "irc|kill|bob|a reason"},
    {"x \"q\\\"uote\\\\d\"\n", 0, 15, "x|q\"uote\\d"},
    {"x \"\"\n", 0, 5, "x|"},
    {"x \"tab\there\"\n", 0, 13, "x|tab\there"},
    {"caf\xc3\xa9 \xe2\x82\xac\n", 0, 10, "caf\xc3\xa9|\xe2\x82\xac"},
    {"status", 0, LOOM_AGAIN, NULL},
    {"", 0, LOOM_AGAIN, NULL},
    {"\n", 0, LOOM_ERROR, "empty request"},
    {"  \t \r\n", 0, LOOM_ERROR, "empty request"},
    {"x \"open\n", 0, LOOM_ERROR, "unterminated quote"},
    {"x \"a\\nb\"\n", 0, LOOM_ERROR, "bad escape"},
    {"x \"a\\\n", 0, LOOM_ERROR, "bad escape"},
    {"x \"a\"b\n", 0, LOOM_ERROR, "no space after a closing quote"},
    {"x a\"b\"\n", 0, LOOM_ERROR, "quote inside a word"},
    {"x\x01y\n", 0, LOOM_ERROR, "control character"},
    {"x\ry\n", 0, LOOM_ERROR, "control character"},
    {"x\x7f\n", 0, LOOM_ERROR, "control character"},
    {"x\0y\n", 4, LOOM_ERROR, "control character"},
    {"x \xff\n", 0, LOOM_ERROR, "not UTF-8"},
    {"x \xc0\xaf\n", 0, LOOM_ERROR, "not UTF-8"},
    {"x \xed\xa0\x80\n", 0, LOOM_ERROR, "not UTF-8"},
    {"x \xf4\x90\x80\x80\n", 0, LOOM_ERROR, "not UTF-8"},
    {"x \xe2\x82\n", 0, LOOM_ERROR, "not UTF-8"},
};

static void join_words(const loom_ctl_req_t *req, char *out, size_t len)
{
    size_t used = 0;
    int i;

    out[0] = '\0';
    for (i = 0; i < req->argc; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "|" : "",
                                 req->argv[i]);
    assert_null(req->argv[req->argc]);
}

static void check_case(const parse_case_t *pc, const char *buf, size_t len,
                       size_t total)
{
    loom_ctl_req_t req;
    char err[256], got[512];
    long rc = loom_ctl_parse(buf, len, &req, err, sizeof(err));

    if (len < total) {
        /* a prefix: more may come, unless the error is already visible */
        if (rc == LOOM_AGAIN)
            return;
    }
    if (pc->rc > 0) {
        if (rc != pc->rc)
            fail_msg("'%s' (%zu bytes): got %ld, want %ld (%s)", pc->in, len,
                     rc, pc->rc, rc == LOOM_ERROR ? err : "");
        join_words(&req, got, sizeof(got));
        assert_string_equal(got, pc->want);
        loom_ctl_req_free(&req);
    } else if (pc->rc == LOOM_AGAIN) {
        assert_int_equal(rc, LOOM_AGAIN);
    } else {
        if (rc != LOOM_ERROR)
            fail_msg("'%s': got %ld, want an error", pc->in, rc);
        if (strstr(err, pc->want) == NULL)
            fail_msg("'%s': error '%s' lacks '%s'", pc->in, err, pc->want);
    }
}

static void test_parse_table(void **state)
{
    size_t i, cut;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(parse_cases); i++) {
        const parse_case_t *pc = &parse_cases[i];
        size_t n = pc->len ? pc->len : strlen(pc->in);
        char *copy = malloc(n + 1);

        memcpy(copy, pc->in, n);
        /* whole, and every prefix a split delivery would show first */
        for (cut = 0; cut <= n; cut++)
            check_case(pc, copy, cut, n);
        free(copy);
    }
}

static void test_parse_limits(void **state)
{
    char *buf = malloc(LOOM_CTL_LINE_MAX + 10), err[256], words[300];
    loom_ctl_req_t req;
    size_t i;

    (void)state;
    /* exactly 4096 bytes with its newline: taken */
    memset(buf, 'a', LOOM_CTL_LINE_MAX - 1);
    buf[LOOM_CTL_LINE_MAX - 1] = '\n';
    assert_int_equal(
        loom_ctl_parse(buf, LOOM_CTL_LINE_MAX, &req, err, sizeof(err)),
        LOOM_CTL_LINE_MAX);
    assert_int_equal(strlen(req.argv[0]), LOOM_CTL_LINE_MAX - 1);
    loom_ctl_req_free(&req);
    /* one more byte before the newline: refused, also before it arrives */
    memset(buf, 'a', LOOM_CTL_LINE_MAX);
    buf[LOOM_CTL_LINE_MAX] = '\n';
    assert_int_equal(
        loom_ctl_parse(buf, LOOM_CTL_LINE_MAX + 1, &req, err, sizeof(err)),
        LOOM_ERROR);
    assert_non_null(strstr(err, "longer than 4096"));
    assert_int_equal(
        loom_ctl_parse(buf, LOOM_CTL_LINE_MAX, &req, err, sizeof(err)),
        LOOM_ERROR);
    assert_int_equal(
        loom_ctl_parse(buf, LOOM_CTL_LINE_MAX - 1, &req, err, sizeof(err)),
        LOOM_AGAIN);
    /* 64 words are taken, 65 are not */
    words[0] = '\0';
    for (i = 0; i < LOOM_CTL_ARGS_MAX; i++)
        strcat(words, "w ");
    strcat(words, "\n");
    assert_true(loom_ctl_parse(words, strlen(words), &req, err, sizeof(err)) >
                0);
    assert_int_equal(req.argc, LOOM_CTL_ARGS_MAX);
    loom_ctl_req_free(&req);
    words[strlen(words) - 1] = '\0';
    strcat(words, "w\n");
    assert_int_equal(
        loom_ctl_parse(words, strlen(words), &req, err, sizeof(err)),
        LOOM_ERROR);
    assert_non_null(strstr(err, "too many words"));
    free(buf);
}

static void test_utf8_clean(void **state)
{
    char *s;

    (void)state;
    assert_int_equal(loom_ctl_utf8_seq((const unsigned char *)"a", 1), 1);
    assert_int_equal(loom_ctl_utf8_seq((const unsigned char *)"\xc3\xa9", 2),
                     2);
    assert_int_equal(loom_ctl_utf8_seq((const unsigned char *)"\xc3\xa9", 1),
                     0);
    assert_int_equal(
        loom_ctl_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(
        loom_ctl_utf8_seq((const unsigned char *)"\xf0\x8f\xbf\xbf", 4), 0);
    assert_int_equal(loom_ctl_utf8_seq((const unsigned char *)"\x80", 1), 0);
    s = loom_ctl_clean("ok\xff\x01\tz\n\xc3\xa9", 9);
    assert_string_equal(s, "ok??\tz\n\xc3\xa9");
    free(s);
}

/* ---- the answer --------------------------------------------------------- */

static json_t *reply_json(char *reply)
{
    size_t n = strlen(reply);
    json_error_t je;
    json_t *j;

    assert_true(n > 0 && reply[n - 1] == '\n');
    j = json_loads(reply, 0, &je);
    if (j == NULL)
        fail_msg("not JSON: %s (%s)", reply, je.text);
    free(reply);
    return j;
}

static void test_render(void **state)
{
    loom_ctl_t *out = loom_ctl_new();
    json_t *j, *r;

    (void)state;
    /* nothing: an empty message */
    j = reply_json(loom_ctl_render(out, NULL));
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "result"), "message")),
                        "");
    json_decref(j);
    /* lines are joined */
    loom_ctl_message(out, "flushed %d items", 12);
    loom_ctl_message(out, "bad \xff byte");
    j = reply_json(loom_ctl_render(out, NULL));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "result"), "message")),
                        "flushed 12 items\nbad ? byte");
    json_decref(j);
    /* a table with the messages beside it; short rows are padded */
    loom_ctl_columns(out, "a", "b", NULL);
    loom_ctl_row(out, "1", "2", NULL);
    loom_ctl_row(out, "only", NULL);
    j = reply_json(loom_ctl_render(out, NULL));
    r = json_object_get(j, "result");
    assert_int_equal(json_array_size(json_object_get(r, "columns")), 2);
    assert_string_equal(json_string_value(json_array_get(
                            json_array_get(json_object_get(r, "rows"), 1), 1)),
                        "");
    assert_int_equal(json_array_size(json_object_get(r, "messages")), 2);
    assert_null(json_object_get(r, "message"));
    json_decref(j);
    /* an error replaces everything */
    assert_int_equal(loom_ctl_error(out, "no such zone '%s'", "x."),
                     LOOM_ERROR);
    assert_string_equal(loom_ctl_error_text(out), "no such zone 'x.'");
    j = reply_json(loom_ctl_render(out, NULL));
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "no such zone 'x.'");
    assert_null(json_object_get(j, "result"));
    json_decref(j);
    loom_ctl_free(out);
}

static void test_peer_rule(void **state)
{
    gid_t groups[] = {5, 100};
    char *members[] = {"alice", NULL};

    (void)state;
    /* root and loomd's own user always */
    assert_true(loom_ctl_peer_allowed(0, 0, NULL, 0, 1000, 0, 0, NULL, NULL));
    assert_true(
        loom_ctl_peer_allowed(1000, 1000, NULL, 0, 1000, 0, 0, NULL, NULL));
    /* anyone else only through the group */
    assert_false(
        loom_ctl_peer_allowed(1001, 100, groups, 2, 1000, 0, 0, NULL, NULL));
    assert_true(
        loom_ctl_peer_allowed(1001, 100, NULL, 0, 1000, 1, 100, NULL, NULL));
    assert_true(
        loom_ctl_peer_allowed(1001, 7, groups, 2, 1000, 1, 100, NULL, NULL));
    assert_false(
        loom_ctl_peer_allowed(1001, 7, groups, 1, 1000, 1, 100, NULL, "bob"));
    assert_true(loom_ctl_peer_allowed(1001, 7, groups, 1, 1000, 1, 100, members,
                                      "alice"));
    assert_false(loom_ctl_peer_allowed(1001, 7, groups, 1, 1000, 1, 100,
                                       members, "alicia"));
}

/* ---- commands against a server ------------------------------------------ */

static const ses_spec_t spec = {
    .conf = "control {\n"
            "    listen = \"unix:@DIR@/ctl.sock\"\n"
            "}\n"
            "echo \"one\" {\n"
            "    listen = {\"tcp:17007:interface=127.0.0.1\"}\n"
            "}\n",
    .module = "control",
    .name = "control",
    .tmpl = "/tmp/test_ctl.XXXXXX",
};

static int ses_setup_server(void **state)
{
    return ses_setup(state, &spec);
}

static json_t *run(ses_env_t *e, const char *line)
{
    return reply_json(loom_ctl_run_line(e->srv, line));
}

static const char *error_of(json_t *j)
{
    assert_true(json_is_false(json_object_get(j, "ok")));
    return json_string_value(json_object_get(j, "error"));
}

static void expect_error(ses_env_t *e, const char *line, const char *piece)
{
    json_t *j = run(e, line);
    const char *err = error_of(j);

    if (err == NULL || strstr(err, piece) == NULL)
        fail_msg("%s: error '%s' lacks '%s'", line, err ? err : "(none)",
                 piece);
    json_decref(j);
}

static void test_status(void **state)
{
    ses_env_t *e = *state;
    json_t *j = run(e, "status"), *r, *insts, *one;

    assert_true(json_is_true(json_object_get(j, "ok")));
    r = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(r, "version")),
                        LOOM_VERSION_STRING);
    assert_int_equal(json_integer_value(json_object_get(r, "pid")), getpid());
    insts = json_object_get(r, "instances");
    assert_int_equal(json_array_size(insts), 2);
    /* in the configuration's order (modules in registry order) */
    one = json_array_get(insts, 0);
    assert_string_equal(json_string_value(json_object_get(one, "name")), "one");
    assert_int_equal(json_array_size(json_object_get(one, "listeners")), 0);
    one = json_array_get(insts, 1);
    assert_string_equal(json_string_value(json_object_get(one, "module")),
                        "control");
    json_decref(j);
}

static void test_core_errors(void **state)
{
    ses_env_t *e = *state;

    expect_error(e, "nosuch", "unknown command 'nosuch'");
    expect_error(e, "status now", "usage: status");
    expect_error(e, "log-level", "usage: log-level LEVEL");
    expect_error(e, "log-level loud", "not 'loud'");
    expect_error(e, "stop soon", "GRACE must be a number");
    expect_error(e, "stop 1 2", "usage: stop [--grace] [SECONDS]");
    /* no daemon behind a session server: refused, nothing stops */
    expect_error(e, "stop", "no daemon to stop");
    assert_false(e->srv->shutting_down);
    expect_error(e, "connections nope", "no instance 'nope'");
    expect_error(e, "echo", "module echo has no commands");
    expect_error(e, "memcache stats", "no instance of module memcache");
    expect_error(e, "help nosuch", "no running module 'nosuch'");
    expect_error(e, "\"x", "unterminated quote");
    /* a reload without a file to re-read keeps what runs */
    expect_error(e, "reload", "old configuration kept");
}

static void test_log_level(void **state)
{
    ses_env_t *e = *state;
    json_t *j = run(e, "log-level warn");

    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    j = run(e, "log-level info");
    json_decref(j);
}

/* connections: one row per connection, with its byte counters. */
static void test_connections(void **state)
{
    ses_env_t *e = *state;
    loom_instance_t *echo = ses_instance(e, "echo", "one");
    loom_conn_t *c = ses_conn(e, echo);
    json_t *j, *rows, *row;

    ses_feed(e, c, "hello", 5);
    ses_expect_output(c, "hello", 5);
    j = run(e, "connections echo/one");
    rows = json_object_get(json_object_get(j, "result"), "rows");
    assert_int_equal(json_array_size(rows), 1);
    row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_array_get(row, 0)), "echo/one");
    assert_string_equal(json_string_value(json_array_get(row, 3)), "5");
    assert_string_equal(json_string_value(json_array_get(row, 4)), "5");
    assert_string_equal(json_string_value(json_array_get(row, 5)), "open");
    json_decref(j);
    j = run(e, "connections control");
    rows = json_object_get(json_object_get(j, "result"), "rows");
    assert_int_equal(json_array_size(rows), 0);
    json_decref(j);
    loom_mem_conn_free(c);
}

/* ---- module commands, through a table of this test's own ---------------- */

static int seen_argc;
static char seen_arg[64];

static int cmd_greet(loom_instance_t *inst, int argc, char **argv,
                     loom_ctl_t *out)
{
    seen_argc = argc;
    snprintf(seen_arg, sizeof(seen_arg), "%s", argc ? argv[0] : "");
    loom_ctl_columns(out, "instance", "greeting", NULL);
    loom_ctl_row(out, loom_instance_who(inst), argc ? argv[0] : "hi", NULL);
    loom_ctl_message(out, "greeted");
    return LOOM_OK;
}

static int cmd_fail(loom_instance_t *inst, int argc, char **argv,
                    loom_ctl_t *out)
{
    (void)inst;
    (void)argc;
    (void)argv;
    (void)out;
    return LOOM_ERROR; /* without a message of its own */
}

static const loom_ctl_cmd_t fake_cmds[] = {
    {"greet", "[WHO]", "say hello", 0, 1, cmd_greet},
    {"fail", "", "fail", 0, 0, cmd_fail},
    {NULL, NULL, NULL, 0, 0, NULL}};

static const loom_module_t fake_mod = {
    .abi = LOOM_MODULE_ABI, .name = "fake", .commands = fake_cmds};

/* Two instances of "fake" linked into the server for the test. */
static loom_instance_t fake_a, fake_b;

static void fake_link(ses_env_t *e)
{
    loom_instance_t *insts[] = {&fake_a, &fake_b};
    const char *names[] = {"a", "b"};
    size_t i;

    for (i = 0; i < 2; i++) {
        memset(insts[i], 0, sizeof(*insts[i]));
        insts[i]->srv = e->srv;
        insts[i]->mod = &fake_mod;
        insts[i]->name = (char *)names[i];
        snprintf(insts[i]->who, sizeof(insts[i]->who), "fake/%s", names[i]);
        insts[i]->next = e->srv->instances;
        e->srv->instances = insts[i];
    }
}

static void fake_unlink(ses_env_t *e)
{
    loom_instance_t **pp = &e->srv->instances;

    while (*pp) {
        if (*pp == &fake_a || *pp == &fake_b)
            *pp = (*pp)->next;
        else
            pp = &(*pp)->next;
    }
}

static void test_module_commands(void **state)
{
    ses_env_t *e = *state;
    json_t *j, *r;

    fake_link(e);
    expect_error(e, "fake greet", "fake has 2 instances (b, a)");
    expect_error(e, "fake/c greet", "no instance fake/c");
    expect_error(e, "fake/a", "usage: fake/a COMMAND");
    expect_error(e, "fake/a wave", "no command 'wave' (commands: greet, fail)");
    expect_error(e, "fake/a greet x y", "usage: fake/a greet [WHO]");
    expect_error(e, "fake/b fail", "fake/b fail failed");
    j = run(e, "fake/b greet \"you there\"");
    assert_int_equal(seen_argc, 1);
    assert_string_equal(seen_arg, "you there");
    r = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_array_get(
                            json_array_get(json_object_get(r, "rows"), 0), 0)),
                        "fake/b");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r, "messages"), 0)),
        "greeted");
    json_decref(j);
    /* help lists the module's commands */
    j = run(e, "help fake");
    r = json_object_get(j, "result");
    assert_int_equal(json_array_size(json_object_get(r, "rows")), 2);
    json_decref(j);
    fake_unlink(e);
}

/* The control connection itself: one request, one reply, closed. */
static void test_over_connection(void **state)
{
    ses_env_t *e = *state;
    loom_conn_t *c = ses_conn(e, e->inst);
    const char *out;
    size_t len;
    json_t *j;

    ses_feed(e, c, "sta", 3);
    ses_expect_output(c, "", 0);
    ses_feed(e, c, "tus\nignored\n", 12);
    ses_settle(e);
    out = ses_output(c, &len);
    j = json_loadb(out, len, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    ses_expect_ended(c, 1);
    loom_mem_conn_free(c);

    /* malformed: an error reply, then closed */
    c = ses_conn(e, e->inst);
    ses_feed(e, c, "a \"b\n", 5);
    ses_settle(e);
    out = ses_output(c, &len);
    assert_non_null(strstr(out, "\"ok\":false"));
    ses_expect_ended(c, 1);
    loom_mem_conn_free(c);

    /* a reload is deferred: no reply inside the callback; the reply
     * comes from a later turn (an error here: no file to re-read) */
    c = ses_conn(e, e->inst);
    assert_int_equal(loom_mem_feed(c, "reload\n", 7), LOOM_OK);
    ses_expect_output(c, "", 0);
    ses_settle(e);
    out = ses_output(c, &len);
    assert_non_null(strstr(out, "old configuration kept"));
    ses_expect_ended(c, 1);
    loom_mem_conn_free(c);

    /* the client goes before the deferred reload runs: the connection
     * is finalized, the held struct stays, the reply goes nowhere */
    c = ses_conn(e, e->inst);
    assert_int_equal(loom_mem_feed(c, "reload\n", 7), LOOM_OK);
    assert_int_equal(loom_mem_shutdown(c), LOOM_OK);
    ses_settle(e);
    ses_expect_ended(c, 1);
    out = ses_output(c, &len);
    assert_int_equal(len, 0);
    loom_mem_conn_free(c);
}

int main(void)
{
    /* one group (one TAP plan); the first five need no server */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_utf8_clean),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_peer_rule),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_core_errors),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test(test_connections),
        cmocka_unit_test(test_module_commands),
        cmocka_unit_test(test_over_connection),
    };

    return cmocka_run_group_tests_name("ctl", tests, ses_setup_server,
                                       ses_teardown);
}

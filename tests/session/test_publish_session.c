/*
 * test_publish_session.c - the http module's publish handler (webhooks
 * in) over the in-memory transport, with a bus subscriber in the test
 * watching what is published.  A JSON, a form and a text POST each give
 * the same answer (message ids and dates aside) and the same message fed
 * whole, split in two at every byte, seven bytes and one byte at a time;
 * the message carries the configured headers first, the flattened body
 * and the raw body.  Refusals: 405, 415, 400 (bad JSON, not an object,
 * too many fields, too deep, bad form), 413 (Content-Length and chunked),
 * 401/403 for bearer tokens and HMAC signatures, 429 with Retry-After
 * when the only route is full; nothing is published for any of them.
 * Last, a post action call left in flight (its upstream, a socket of
 * the test, takes the connection and never answers) is ended by the
 * instance stop when the server is freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>

#include "loom_module.h"
#include "session.h"

/* HMAC-SHA256 of BODY_SIGNED under "It's a Secret to Everybody"
 * (openssl dgst -sha256 -hmac "It's a Secret to Everybody"). */
#define BODY_SIGNED "Hello, World!"
#define SIG_SIGNED                                                             \
    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

/* SIG_SIGNED with its first digit changed */
#define SIG_WRONG                                                              \
    "857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static const ses_file_t files[] = {
    SES_TEXT("secret.txt", "It's a Secret to Everybody\n"),
};

static const ses_spec_t spec = {
    .conf = "http \"web\" {\n"
            "    listen = {\"tcp:18191:interface=127.0.0.1\"}\n"
            "    server \"main\" {\n"
            "        location \"/hook\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"deploy\"\n"
            "            publish_headers = {\"X-GitHub-Event\", \"X-Two\"}\n"
            "            max_body = \"64K\"\n"
            "        }\n"
            "        location \"/signed\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"signed\"\n"
            "            hmac_secret_file = \"@DIR@/secret.txt\"\n"
            "        }\n"
            "        location \"/generic\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"signed\"\n"
            "            hmac_secret = \"It's a Secret to Everybody\"\n"
            "            hmac_header = \"X-Signature\"\n"
            "        }\n"
            "        location \"/tok\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"tok\"\n"
            "            bearer_token = \"s3cret\"\n"
            "        }\n"
            "        location \"/small\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"small\"\n"
            "            max_body = \"16\"\n"
            "        }\n"
            "        location \"/out\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"out\"\n"
            "        }\n"
            "        location \"/full\" {\n"
            "            handler = \"publish\"\n"
            "            topic = \"full\"\n"
            "        }\n"
            "    }\n"
            "}\n"
            "memcache \"m\" {\n"
            "    listen = {\"tcp:18192:interface=127.0.0.1\"}\n"
            "}\n"
            "route \"slow\" {\n"
            "    from = \"http:web:full\"\n"
            "    to = \"memcache:m:set\"\n"
            "    set = {'key = k', 'value = v'}\n"
            "    rate = \"1/3600s\"\n"
            "    queue = 1\n"
            "}\n"
            "route \"out\" {\n"
            "    from = \"http:web:out\"\n"
            "    to = \"http:web:post\"\n"
            "    set = {'url = http://127.0.0.1:18193/in', 'body = ${x}'}\n"
            "}\n",
    .module = "http",
    .name = "web",
    .tmpl = "/tmp/loom-pubsess.XXXXXX",
    .files = files,
    .nfiles = sizeof(files) / sizeof(files[0]),
};

typedef struct {
    ses_env_t e;
    int lfd; /* 127.0.0.1:18193, listening, never accepting */
    loom_bus_sub_t *sub;
    unsigned seen;
    loom_msg_t *last;
} env_t;

static void on_msg(loom_msg_t *m, void *arg)
{
    env_t *env = arg;

    env->seen++;
    if (env->last)
        loom_msg_unref(env->last);
    env->last = loom_msg_ref(m);
}

static int env_setup(void **state)
{
    env_t *env;

    struct sockaddr_in sin;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(18193);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(lfd, 8) != 0) {
        print_message("# cannot listen on 127.0.0.1:18193\n");
        return -1;
    }
    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0) {
        close(lfd);
        return -1;
    }
    env = *state;
    env->lfd = lfd;
    env->sub = loom_bus_subscribe(env->e.inst, "http:web:*", on_msg, env);
    return env->sub ? 0 : -1;
}

static int env_teardown(void **state)
{
    env_t *env = *state;

    if (env->last)
        loom_msg_unref(env->last);
    loom_bus_unsubscribe(env->sub);
    /* a post may still be in flight (test_stop_with_post_in_flight): the
     * instance's stop ends it, under ASan with nothing leaked or used
     * after free */
    {
        int lfd = env->lfd;

        ses_teardown(state); /* frees ENV */
        close(lfd);
    }
    return 0;
}

/* Date values, message ids and so the lengths vary between talks: blank
 * them. */
static void blank(ses_reply_t *r)
{
    ses_blank(r, "\r\nDate: ", "<date>", 0);
    ses_blank(r, "\r\nContent-Length: ", "N", 1);
    ses_blank(r, "\"id\":", "N", 1);
}

/* The value of field NAME of M ("" when absent: checked by the caller). */
static const char *fv(loom_msg_t *m, const char *name)
{
    const loom_field_t *f = loom_msg_get(m, name, strlen(name));

    return f ? f->value.p : "<absent>";
}

/* Talk IN over one connection (fed whole), blanked. */
static ses_reply_t talk(env_t *env, const char *in)
{
    return ses_talk_f(&env->e, NULL, in, strlen(in), 0, 0, blank);
}

/* IN answers with status line STATUS and publishes nothing. */
static void expect_refused(env_t *env, const char *in, const char *status)
{
    unsigned before = env->seen;
    ses_reply_t r = talk(env, in);

    ses_settle(&env->e);
    if (strncmp(r.p, status, strlen(status)) != 0) {
        ses_show("input", in, strlen(in));
        ses_show("got", r.p, r.len);
        fail_msg("want %s", status);
    }
    assert_int_equal(env->seen, before);
    free(r.p);
}

#define JSON_BODY                                                              \
    "{\"ref\":\"refs/heads/main\",\"head_commit\":{\"message\":\"fix\"},"      \
    "\"commits\":[{\"id\":\"c1\"},{\"id\":\"c2\"}],\"n\":3,\"ok\":true,"       \
    "\"header\":{\"x-two\":\"from the body\"}}"

static void test_json_every_split(void **state)
{
    env_t *env = *state;
    char in[1024];
    unsigned before = env->seen;
    ses_reply_t r;
    size_t n;
    loom_slice_t b;

    n = (size_t)snprintf(in, sizeof(in),
                         "POST /hook HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json; charset=utf-8\r\n"
                         "X-GitHub-Event: push\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         strlen(JSON_BODY), JSON_BODY);
    r = ses_same_splits(&env->e, NULL, in, n, blank);
    ses_settle(&env->e);
    if (strncmp(r.p, "HTTP/1.1 202 Accepted\r\n", 23) != 0 ||
        strstr(r.p, "\r\n\r\n{\"id\":N,\"matched\":0,\"queued\":0}\n") == NULL)
        fail_msg("got %s", r.p);
    free(r.p);
    /* one message per talk: whole, n - 1 splits, by 7, by 1 */
    assert_int_equal(env->seen - before, n + 2);
    assert_string_equal(loom_msg_topic(env->last), "deploy");
    assert_string_equal(loom_msg_module(env->last), "http");
    assert_string_equal(loom_msg_instance(env->last), "web");
    /* configured headers first, in order; an absent one is empty */
    assert_string_equal(loom_msg_field(env->last, 0)->name.p,
                        "header.x-github-event");
    assert_string_equal(loom_msg_field(env->last, 0)->value.p, "push");
    assert_string_equal(loom_msg_field(env->last, 1)->name.p, "header.x-two");
    assert_string_equal(fv(env->last, "header.x-two"), "");
    assert_string_equal(fv(env->last, "ref"), "refs/heads/main");
    assert_string_equal(fv(env->last, "head_commit.message"), "fix");
    assert_string_equal(fv(env->last, "commits.1.id"), "c2");
    assert_string_equal(fv(env->last, "n"), "3");
    assert_string_equal(fv(env->last, "ok"), "true");
    assert_int_equal(loom_msg_nfields(env->last), 9);
    b = loom_msg_body(env->last);
    assert_int_equal(b.len, strlen(JSON_BODY));
    assert_memory_equal(b.p, JSON_BODY, b.len);
}

static void test_form_and_text(void **state)
{
    env_t *env = *state;
    const char *form = "POST /hook HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: 18\r\n\r\na=1&b=two+words%21";
    const char *text = "POST /hook HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: text/plain\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"
                       "6\r\nhello \r\n5\r\nthere\r\n0\r\n\r\n";
    unsigned before = env->seen;
    ses_reply_t r;

    r = ses_same_splits(&env->e, NULL, form, strlen(form), blank);
    assert_true(strncmp(r.p, "HTTP/1.1 202 ", 13) == 0);
    free(r.p);
    ses_settle(&env->e);
    assert_int_equal(env->seen - before, strlen(form) + 2);
    assert_string_equal(fv(env->last, "a"), "1");
    assert_string_equal(fv(env->last, "b"), "two words!");
    r = ses_same_splits(&env->e, NULL, text, strlen(text), blank);
    assert_true(strncmp(r.p, "HTTP/1.1 202 ", 13) == 0);
    free(r.p);
    ses_settle(&env->e);
    assert_string_equal(fv(env->last, "text"), "hello there");
    assert_int_equal(loom_msg_body(env->last).len, 11);
}

/* The 202's id is the id of the message the subscriber got. */
static void test_answer_names_the_message(void **state)
{
    env_t *env = *state;
    const char *in = "POST /hook HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 2\r\n\r\n{}";
    ses_reply_t r = ses_talk(&env->e, NULL, in, strlen(in), 0, 0);
    const char *id;
    char want[64];

    ses_settle(&env->e);
    id = strstr(r.p, "{\"id\":");
    assert_non_null(id);
    snprintf(want, sizeof(want), "{\"id\":%llu,",
             (unsigned long long)loom_msg_id(env->last));
    assert_true(strncmp(id, want, strlen(want)) == 0);
    assert_int_equal(loom_msg_nfields(env->last), 2); /* the headers */
    free(r.p);
}

static void test_refusals(void **state)
{
    env_t *env = *state;
    char *many, *deep, *p;
    size_t i;

    expect_refused(env, "GET /hook HTTP/1.1\r\nHost: x\r\n\r\n",
                   "HTTP/1.1 405 ");
    expect_refused(env,
                   "PUT /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: 2\r\n\r\n{}",
                   "HTTP/1.1 405 ");
    expect_refused(env,
                   "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                   "\r\n{}",
                   "HTTP/1.1 415 ");
    expect_refused(env,
                   "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "text/html\r\nContent-Length: 2\r\n\r\n{}",
                   "HTTP/1.1 415 ");
    expect_refused(env,
                   "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: 5\r\n\r\n{\"a\":",
                   "HTTP/1.1 400 ");
    expect_refused(env,
                   "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: 3\r\n\r\n[1]",
                   "HTTP/1.1 400 ");
    expect_refused(env,
                   "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: 0\r\n\r\n",
                   "HTTP/1.1 400 ");
    expect_refused(env,
                   "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/x-www-form-urlencoded\r\nContent-Length: "
                   "4\r\n\r\na=%z",
                   "HTTP/1.1 400 ");
    expect_refused(env,
                   "POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "text/plain\r\nContent-Length: 17\r\n\r\n"
                   "0123456789abcdefg",
                   "HTTP/1.1 413 ");
    expect_refused(env,
                   "POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "a\r\n0123456789\r\n7\r\nabcdefg\r\n0\r\n\r\n",
                   "HTTP/1.1 413 ");
    /* 1,001 fields; 33 levels */
    many = malloc(16 * 1024);
    p = many + sprintf(many, "{\"a\":[");
    for (i = 0; i < 1001; i++)
        p += sprintf(p, "%s1", i ? "," : "");
    strcpy(p, "]}");
    deep = malloc(16 * 1024);
    p = deep;
    for (i = 0; i < 33; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "1");
    for (i = 0; i < 33; i++)
        p += sprintf(p, "}");
    {
        char *in = malloc(32 * 1024);

        sprintf(in,
                "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                strlen(many), many);
        expect_refused(env, in, "HTTP/1.1 400 ");
        sprintf(in,
                "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                strlen(deep), deep);
        expect_refused(env, in, "HTTP/1.1 400 ");
        free(in);
    }
    free(many);
    free(deep);
}

static void test_signatures(void **state)
{
    env_t *env = *state;
    const char *good = "POST /signed HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: text/plain\r\n"
                       "X-Hub-Signature-256: sha256=" SIG_SIGNED "\r\n"
                       "Content-Length: 13\r\n\r\n" BODY_SIGNED;
    const char *generic = "POST /generic HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: text/plain\r\n"
                          "X-Signature: " SIG_SIGNED "\r\n"
                          "Content-Length: 13\r\n\r\n" BODY_SIGNED;
    unsigned before = env->seen;
    ses_reply_t r;

    r = ses_same_splits(&env->e, NULL, good, strlen(good), blank);
    assert_true(strncmp(r.p, "HTTP/1.1 202 ", 13) == 0);
    free(r.p);
    r = talk(env, generic);
    assert_true(strncmp(r.p, "HTTP/1.1 202 ", 13) == 0);
    free(r.p);
    ses_settle(&env->e);
    assert_int_equal(env->seen - before, strlen(good) + 3);
    assert_string_equal(loom_msg_topic(env->last), "signed");
    /* a body changed by one byte, a signature changed by one digit, a
     * malformed one, the other algorithm, none at all */
    expect_refused(env,
                   "POST /signed HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-Hub-Signature-256: sha256=" SIG_SIGNED "\r\n"
                   "Content-Length: 13\r\n\r\nHello, World?",
                   "HTTP/1.1 403 ");
    expect_refused(env,
                   "POST /signed HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-Hub-Signature-256: sha256=" SIG_WRONG "\r\n"
                   "Content-Length: 13\r\n\r\n" BODY_SIGNED,
                   "HTTP/1.1 403 ");
    expect_refused(env,
                   "POST /signed HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-Hub-Signature-256: sha256=xyz\r\n"
                   "Content-Length: 13\r\n\r\n" BODY_SIGNED,
                   "HTTP/1.1 403 ");
    expect_refused(env,
                   "POST /signed HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-Hub-Signature-256: sha1=" SIG_SIGNED "\r\n"
                   "Content-Length: 13\r\n\r\n" BODY_SIGNED,
                   "HTTP/1.1 403 ");
    expect_refused(env,
                   "POST /signed HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: text/plain\r\n"
                   "Content-Length: 13\r\n\r\n" BODY_SIGNED,
                   "HTTP/1.1 401 ");
    /* the generic location reads its own header only */
    expect_refused(env,
                   "POST /generic HTTP/1.1\r\nHost: x\r\n"
                   "Content-Type: text/plain\r\n"
                   "X-Hub-Signature-256: sha256=" SIG_SIGNED "\r\n"
                   "Content-Length: 13\r\n\r\n" BODY_SIGNED,
                   "HTTP/1.1 401 ");
}

static void test_bearer(void **state)
{
    env_t *env = *state;
    const char *good = "POST /tok HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer s3cret\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 2\r\n\r\n{}";
    unsigned before = env->seen;
    ses_reply_t r = talk(env, good);

    assert_true(strncmp(r.p, "HTTP/1.1 202 ", 13) == 0);
    free(r.p);
    ses_settle(&env->e);
    assert_int_equal(env->seen, before + 1);
    r = talk(env, "POST /tok HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 2\r\n\r\n{}");
    assert_true(strncmp(r.p, "HTTP/1.1 401 ", 13) == 0);
    assert_non_null(
        strstr(r.p, "\r\nWWW-Authenticate: Bearer realm=\"loom\"\r\n"));
    free(r.p);
    expect_refused(env,
                   "POST /tok HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer s3cre\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: 2\r\n\r\n{}",
                   "HTTP/1.1 401 ");
    expect_refused(env,
                   "POST /tok HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer s3cret2\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: 2\r\n\r\n{}",
                   "HTTP/1.1 401 ");
    expect_refused(env,
                   "POST /tok HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Basic czNjcmV0\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: 2\r\n\r\n{}",
                   "HTTP/1.1 401 ");
}

/* The route to /full takes one message a hour and queues one: the first
 * goes, the second waits, the third finds the queue full -- 429. */
static void test_full_route_429(void **state)
{
    env_t *env = *state;
    const char *in = "POST /full HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 2\r\n\r\n{}";
    ses_reply_t r;
    int i;

    for (i = 0; i < 2; i++) {
        r = talk(env, in);
        if (strncmp(r.p, "HTTP/1.1 202 ", 13) != 0 ||
            strstr(r.p, "\"matched\":1,\"queued\":1") == NULL)
            fail_msg("message %d: %s", i, r.p);
        free(r.p);
    }
    r = talk(env, in);
    if (strncmp(r.p, "HTTP/1.1 429 ", 13) != 0 ||
        strstr(r.p, "\r\nRetry-After: 1\r\n") == NULL)
        fail_msg("got %s", r.p);
    free(r.p);
}

/* The route's calls in flight now. */
static unsigned route_inflight(env_t *env, const char *name)
{
    loom_route_stat_t st[8];
    size_t i, n = loom_bus_routes(env->e.srv, st, 8);

    for (i = 0; i < n && i < 8; i++) {
        if (strcmp(st[i].name, name) == 0)
            return st[i].inflight;
    }
    fail_msg("no route %s", name);
    return 0;
}

/* A post whose upstream takes the connection and never answers is still
 * in flight when the server is freed (last test: the teardown stops the
 * instance with it held). */
static void test_stop_with_post_in_flight(void **state)
{
    env_t *env = *state;
    const char *in = "POST /out HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 9\r\n\r\n{\"x\":\"y\"}";
    ses_reply_t r = talk(env, in);
    struct pollfd pfd = {env->lfd, POLLIN, 0};
    int i;

    assert_true(strncmp(r.p, "HTTP/1.1 202 ", 13) == 0);
    free(r.p);
    /* the connect completes in the kernel: the listener sees it */
    for (i = 0; i < 200 && poll(&pfd, 1, 0) == 0; i++) {
        ses_settle(&env->e);
        poll(NULL, 0, 10);
    }
    assert_true(pfd.revents & POLLIN);
    ses_settle(&env->e);
    assert_int_equal(route_inflight(env, "out"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_every_split),
        cmocka_unit_test(test_form_and_text),
        cmocka_unit_test(test_answer_names_the_message),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_full_route_429),
        cmocka_unit_test(test_stop_with_post_in_flight),
    };

    return cmocka_run_group_tests_name("publish_session", tests, env_setup,
                                       env_teardown);
}

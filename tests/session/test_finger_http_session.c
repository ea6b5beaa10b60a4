/*
 * test_finger_http_session.c - the http finger handler over the in-memory
 * transport: one HTTP/1.1 connection with a script of requests on
 * /finger/ and /quiet/ (a finger instance that refuses listing) and
 * /none/ (no such instance), fed whole, split at every byte, seven bytes
 * and one byte at a time, must give the same bytes; each text body is
 * what the finger protocol answers the same query on an in-memory
 * connection to the finger instance itself.
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

typedef struct {
    ses_env_t e; /* first: the harness's */
    loom_instance_t *users, *quiet;
} env_t;

static const ses_spec_t spec = {
    .conf = "finger \"users\" {\n"
            "    listen = {\"tcp:17971:interface=127.0.0.1\"}\n"
            "    forwarding = yes\n"
            "    user \"alice\" {\n"
            "        name = \"Alice Liddell\"\n"
            "        office = \"Rabbit Hole 1\"\n"
            "        email = \"alice@example.org\"\n"
            "        plan = \"Curiouser.\\nTea at six.\"\n"
            "    }\n"
            "    user \"bob\" {\n"
            "        name = \"Bob\"\n"
            "    }\n"
            "}\n"
            "finger \"quiet\" {\n"
            "    listen = {\"tcp:17972:interface=127.0.0.1\"}\n"
            "    list_users = no\n"
            "    user \"carol\" { }\n"
            "}\n"
            "http \"web\" {\n"
            "    listen = {\"tcp:18092:interface=127.0.0.1\"}\n"
            "    server \"main\" {\n"
            "        location \"/finger/\" {\n"
            "            handler = \"finger\"\n"
            "            finger = \"users\"\n"
            "        }\n"
            "        location \"/quiet/\" {\n"
            "            handler = \"finger\"\n"
            "            finger = \"quiet\"\n"
            "        }\n"
            "        location \"/none/\" {\n"
            "            handler = \"finger\"\n"
            "            finger = \"nosuch\"\n"
            "        }\n"
            "    }\n"
            "}\n",
    .module = "http",
    .name = "web",
};

static int env_setup(void **state)
{
    env_t *t;

    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0)
        return -1;
    t = *state;
    t->users = ses_instance(&t->e, "finger", "users");
    t->quiet = ses_instance(&t->e, "finger", "quiet");
    return 0;
}

/* Every Date value becomes empty. */
static void blank(ses_reply_t *r)
{
    ses_blank(r, "\r\nDate: ", "", 0);
}

static void head(ses_want_t *w, int status)
{
    ses_want_add(w, "HTTP/1.1 %d %s\r\nServer: loom/%s\r\nDate: \r\n", status,
                 http_reason(status), LOOM_VERSION_STRING);
}

/* A text answer: STATUS with the finger protocol's reply to QUERY from
 * INST as body (none for HEAD). */
static void text(env_t *t, ses_want_t *w, int status, loom_instance_t *inst,
                 const char *query, int is_head)
{
    char line[128];
    ses_reply_t r;

    snprintf(line, sizeof(line), "%s\r\n", query);
    r = ses_talk(&t->e, inst, line, strlen(line), 0, 0);
    assert_true(r.len > 0);
    head(w, status);
    ses_want_add(w,
                 "Content-Length: %zu\r\nVary: Accept\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n\r\n%s",
                 r.len, is_head ? "" : r.p);
    free(r.p);
}

static void error_page(ses_want_t *w, int status, const char *extra)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "<html><head><title>%d %s</title></head><body><h1>%d "
                     "%s</h1></body></html>\n",
                     status, http_reason(status), status, http_reason(status));

    head(w, status);
    ses_want_add(w, "Content-Length: %d\r\n%sContent-Type: text/html\r\n\r\n%s",
                 n, extra, body);
}

static void json(ses_want_t *w, const char *body)
{
    head(w, 200);
    ses_want_add(w,
                 "Content-Length: %zu\r\nVary: Accept\r\n"
                 "Content-Type: application/json\r\n\r\n%s",
                 strlen(body), body);
}

static void test_script_same_splits(void **state)
{
    env_t *t = *state;
    static const char in[] =
        "GET /finger/alice HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/alice?long HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /finger/bob HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/ HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/mallory HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/bob@127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /quiet/ HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /quiet/carol HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/bob HTTP/1.1\r\nHost: x\r\n"
        "Accept: text/plain;q=0.9, application/json\r\n\r\n"
        "GET /finger/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"
        "POST /finger/bob HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "GET /none/bob HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/a%20b HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /finger/alice HTTP/1.1\r\nHost: x\r\n\r\n";
    static ses_want_t w;
    ses_reply_t r;

    w.len = 0;
    text(t, &w, 200, t->users, "alice", 0);
    text(t, &w, 200, t->users, "/W alice", 0);
    text(t, &w, 200, t->users, "bob", 1);
    text(t, &w, 200, t->users, "", 0);
    text(t, &w, 404, t->users, "mallory", 0);
    /* "users" forwards over its own protocol, never over HTTP: the text
     * is the refusal a non-forwarding instance gives */
    text(t, &w, 403, t->quiet, "bob@127.0.0.1", 0);
    text(t, &w, 403, t->quiet, "", 0);
    text(t, &w, 200, t->quiet, "carol", 0);
    json(&w, "{\"login\":\"bob\",\"name\":\"Bob\",\"office\":null,"
             "\"phone\":null,\"plan\":null}\n");
    json(&w, "[{\"login\":\"alice\",\"name\":\"Alice Liddell\","
             "\"office\":\"Rabbit Hole 1\",\"phone\":null},"
             "{\"login\":\"bob\",\"name\":\"Bob\",\"office\":null,"
             "\"phone\":null}]\n");
    error_page(&w, 405, "Allow: GET, HEAD\r\n");
    error_page(&w, 503, "");
    /* a malformed name is the protocol's 400 text; the connection goes on */
    text(t, &w, 400, t->users, "a b", 0);
    text(t, &w, 200, t->users, "alice", 0);
    r = ses_same_splits(&t->e, NULL, in, sizeof(in) - 1, blank);
    if (r.len != w.len || memcmp(r.p, w.p, r.len) != 0) {
        ses_show("got", r.p, r.len);
        ses_show("want", w.p, w.len);
        free(r.p);
        fail_msg("finger script: wrong reply");
    }
    free(r.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_same_splits),
    };

    return cmocka_run_group_tests(tests, env_setup, ses_teardown);
}

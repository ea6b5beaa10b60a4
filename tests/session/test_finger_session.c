/*
 * test_finger_session.c - the finger module over the in-memory transport:
 * exact answers for each kind of query (see the behaviour contract), the
 * connection closed after every answer, queries split across feeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session.h"

typedef struct {
    ses_env_t ses; /* first: ses_setup_size */
    loom_instance_t *users, *quiet;
} env_t;

/* carol's plan: control characters, a lone CR, a CRLF and non-ASCII. */
static const char carol_plan[] =
    "bell\007 esc\033[1m hi\200\r\nnext\rline\n\tindented\n";
static const char carol_plan_filtered[] =
    "bell? esc?[1m hi?\r\nnextline\r\n\tindented\r\n";

static const ses_file_t files[] = {
    {"carol.plan", carol_plan, sizeof(carol_plan) - 1},
};

static const ses_spec_t spec = {
    .conf = "finger \"users\" {\n"
            "    listen = {\"tcp:7979:interface=127.0.0.1\"}\n"
            "    list_users = yes\n"
            "    forwarding = no\n"
            "    user \"alice\" {\n"
            "        name = \"Alice Liddell\"\n"
            "        office = \"Rabbit Hole 1\"\n"
            "        phone = \"+1 555 0100\"\n"
            "        email = \"alice@example.org\"\n"
            "        project = \"Tea party\"\n"
            "        plan = \"Drink me.\\nEat me.\"\n"
            "    }\n"
            "    user \"bob\" {\n"
            "        name = \"Bob\"\n"
            "    }\n"
            "    user \"carol\" {\n"
            "        name = \"Carol\"\n"
            "        plan_file = \"@DIR@/carol.plan\"\n"
            "    }\n"
            "}\n"
            "finger \"quiet\" {\n"
            "    listen = {\"tcp:7980\"}\n"
            "    list_users = no\n"
            "    user \"dave\" {\n"
            "        name = \"Dave\"\n"
            "    }\n"
            "}\n",
    .tmpl = "/tmp/loom-test-finger.XXXXXX",
    .files = files,
    .nfiles = 1,
};

static int env_setup(void **state)
{
    env_t *e;

    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0)
        return -1;
    e = *state;
    e->users = ses_instance(&e->ses, "finger", "users");
    e->quiet = ses_instance(&e->ses, "finger", "quiet");
    return 0;
}

/* Feed QUERY in pieces of at most PIECE bytes (0: in one go), then return
 * a NUL-terminated copy of the whole output (caller frees). */
static char *ask_split(env_t *e, loom_instance_t *inst, const char *query,
                       size_t qlen, size_t piece, int *closed)
{
    ses_reply_t r = ses_talk(&e->ses, inst, query, qlen, piece, 0);

    assert_int_equal(strlen(r.p), r.len); /* no NUL in finger output */
    *closed = r.closed;
    return r.p;
}

/* Ask QUERY (CRLF included) and check the exact answer and the close. */
static void expect_answer(env_t *e, loom_instance_t *inst, const char *query,
                          const char *want)
{
    int closed = 0;
    char *got = ask_split(e, inst, query, strlen(query), 0, &closed);

    if (strcmp(got, want) != 0)
        fail_msg("query '%s':\n# got:  '%s'\n# want: '%s'", query, got, want);
    assert_true(closed);
    free(got);
}

#define ALICE_HEAD                                                             \
    "Login: alice                            Name: Alice Liddell\r\n"          \
    "Office: Rabbit Hole 1                   Phone: +1 555 0100\r\n"
#define ALICE_PLAN "Plan:\r\nDrink me.\r\nEat me.\r\n"
#define ALICE ALICE_HEAD ALICE_PLAN
#define ALICE_W                                                                \
    ALICE_HEAD "Email: alice@example.org\r\nProject: Tea party\r\n" ALICE_PLAN

static void test_user(void **state)
{
    env_t *e = *state;

    expect_answer(e, e->users, "alice\r\n", ALICE);
    expect_answer(e, e->users, "alice\n", ALICE);
    expect_answer(e, e->users, "  alice \r\n", ALICE);
}

static void test_user_verbose(void **state)
{
    env_t *e = *state;

    expect_answer(e, e->users, "/W alice\r\n", ALICE_W);
    expect_answer(e, e->users, "/w alice\r\n", ALICE_W);
}

/* No office or phone: no such line.  No plan: "No Plan." (the contract
 * allows it with or without the "Plan:" line before it). */
static void expect_no_plan(env_t *e, loom_instance_t *inst, const char *query,
                           const char *head)
{
    int closed = 0;
    char *got = ask_split(e, inst, query, strlen(query), 0, &closed);
    size_t n = strlen(head);

    if (strncmp(got, head, n) != 0 ||
        (strcmp(got + n, "No Plan.\r\n") != 0 &&
         strcmp(got + n, "Plan:\r\nNo Plan.\r\n") != 0))
        fail_msg("query '%s':\n# got:  '%s'\n# want: '%sNo Plan.\\r\\n'", query,
                 got, head);
    assert_true(closed);
    free(got);
}

static void test_user_minimal(void **state)
{
    env_t *e = *state;

    expect_no_plan(e, e->users, "bob\r\n",
                   "Login: bob                              Name: Bob\r\n");
}

/* The plan file's bytes are filtered to printable ASCII, TAB and CRLF. */
static void test_plan_filtered(void **state)
{
    env_t *e = *state;
    char want[512];

    snprintf(want, sizeof(want),
             "Login: carol                            Name: Carol\r\n"
             "Plan:\r\n%s",
             carol_plan_filtered);
    expect_answer(e, e->users, "carol\r\n", want);
}

static void check_list(env_t *e, const char *query)
{
    static const char *const logins[] = {"alice", "bob", "carol"};
    static const char *const names[] = {"Alice Liddell", "Bob", "Carol"};
    int closed = 0, i;
    char *got = ask_split(e, e->users, query, strlen(query), 0, &closed);
    char *line = got, *eol;

    eol = strstr(line, "\r\n");
    assert_non_null(eol);
    *eol = '\0';
    assert_string_equal(line, "Login      Name                 "
                              "Office          Phone");
    for (i = 0; i < 3; i++) {
        line = eol + 2;
        eol = strstr(line, "\r\n");
        assert_non_null(eol);
        *eol = '\0';
        print_message("# row: '%s'\n", line);
        /* columns follow the header: login, then name at column 11 */
        assert_memory_equal(line, logins[i], strlen(logins[i]));
        assert_true(strlen(line) > 11);
        assert_memory_equal(line + 11, names[i], strlen(names[i]));
    }
    assert_string_equal(eol + 2, "");
    assert_true(closed);
    free(got);
}

static void test_list(void **state)
{
    env_t *e = *state;

    check_list(e, "\r\n");
    check_list(e, "\n");
    check_list(e, "/W\r\n");
}

static void test_list_row_columns(void **state)
{
    env_t *e = *state;
    int closed = 0;
    char *got = ask_split(e, e->users, "\r\n", 2, 0, &closed);

    /* alice has every column set */
    assert_non_null(strstr(got, "\r\nalice      Alice Liddell        "
                                "Rabbit Hole 1   +1 555 0100\r\n"));
    free(got);
}

static void test_list_refused(void **state)
{
    env_t *e = *state;

    expect_answer(e, e->quiet, "\r\n",
                  "finger: listing of users is not available on this "
                  "server.\r\n");
    expect_answer(e, e->quiet, "/W\r\n",
                  "finger: listing of users is not available on this "
                  "server.\r\n");
    /* named users still answer */
    expect_no_plan(e, e->quiet, "dave\r\n",
                   "Login: dave                             Name: Dave\r\n");
}

static void test_unknown_user(void **state)
{
    env_t *e = *state;

    expect_answer(e, e->users, "nosuch\r\n",
                  "finger: nosuch: no such user.\r\n");
    expect_answer(e, e->users, "/W nosuch\r\n",
                  "finger: nosuch: no such user.\r\n");
    expect_answer(e, e->quiet, "alice\r\n", "finger: alice: no such user.\r\n");
}

static void test_forwarding_refused(void **state)
{
    env_t *e = *state;
    const char *no = "finger: forwarding is not allowed on this server.\r\n";

    expect_answer(e, e->users, "alice@example.org\r\n", no);
    expect_answer(e, e->users, "alice@h1@h2\r\n", no);
    expect_answer(e, e->users, "@example.org\r\n", no);
    expect_answer(e, e->users, "/W alice@example.org\r\n", no);
}

static void test_bad_queries(void **state)
{
    env_t *e = *state;
    const char *bad = "finger: error: query contains non-ASCII or control "
                      "characters\r\n";

    expect_answer(e, e->users, "al\001ice\r\n", bad);
    expect_answer(e, e->users, "al\303\251\r\n", bad);
    expect_answer(e, e->users, "alice\033\r\n", bad);
    expect_answer(e, e->users, "/X\r\n", "finger: error: malformed query\r\n");
    expect_answer(e, e->users, "alice bob\r\n",
                  "finger: error: malformed query\r\n");
    expect_answer(e, e->users, "alice@\r\n",
                  "finger: error: malformed query\r\n");
}

static void test_too_long(void **state)
{
    env_t *e = *state;
    char q[700];
    int closed = 0;
    char *got;

    /* 512 bytes is still a query (an unknown user) */
    memset(q, 'a', 512);
    strcpy(q + 512, "\r\n");
    got = ask_split(e, e->users, q, 514, 0, &closed);
    assert_memory_equal(got, "finger: ", 8);
    assert_null(strstr(got, "too long"));
    free(got);

    /* 513 bytes and CRLF */
    memset(q, 'a', 513);
    strcpy(q + 513, "\r\n");
    expect_answer(e, e->users, q, "finger: error: query too long\r\n");

    /* 600 bytes and no line end yet: refused without waiting for one */
    memset(q, 'b', 600);
    got = ask_split(e, e->users, q, 600, 0, &closed);
    assert_string_equal(got, "finger: error: query too long\r\n");
    assert_true(closed);
    free(got);
    got = ask_split(e, e->users, q, 600, 7, &closed);
    assert_string_equal(got, "finger: error: query too long\r\n");
    assert_true(closed);
    free(got);
}

/* Once the module has closed, more input is refused. */
static void test_feed_after_close(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(&e->ses, e->users);

    ses_feed(&e->ses, c, SES_S("nosuch\r\n"));
    ses_expect_closed(c, 1);
    ses_expect_ended(c, 1);
    assert_int_equal(loom_mem_feed(c, "alice\r\n", 7), LOOM_ERROR);
    ses_settle(&e->ses);
    ses_expect_output(c, SES_S("finger: nosuch: no such user.\r\n"));
    loom_mem_conn_free(c);
}

/* Nothing is answered before the line is complete. */
static void test_split_query(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(&e->ses, e->users);

    ses_feed(&e->ses, c, "/W al", 5);
    ses_expect_output(c, "", 0);
    ses_expect_closed(c, 0);
    ses_feed(&e->ses, c, "ice\r", 4);
    ses_expect_output(c, "", 0);
    ses_expect_closed(c, 0);
    ses_feed(&e->ses, c, "\n", 1);
    ses_expect_output(c, SES_S(ALICE_W));
    ses_expect_closed(c, 1);
    loom_mem_conn_free(c);
}

/* A client that half-closes right after its query (echo alice | nc -N)
 * gets the whole answer; one that half-closes before the line end gets
 * none, and the connection ends either way. */
static void test_half_close(void **state)
{
    env_t *e = *state;
    loom_conn_t *c = ses_conn(&e->ses, e->users);

    ses_window(&e->ses, c, 10);
    ses_feed(&e->ses, c, SES_S("alice\r\n"));
    ses_shutdown(&e->ses, c);
    ses_expect_ended(c, 0); /* the answer is still going out */
    ses_consume(&e->ses, c, sizeof(ALICE));
    ses_expect_output(c, SES_S(ALICE));
    ses_expect_ended(c, 1);
    loom_mem_conn_free(c);

    c = ses_conn(&e->ses, e->users);
    ses_feed(&e->ses, c, SES_S("alice"));
    ses_shutdown(&e->ses, c);
    ses_expect_output(c, "", 0);
    ses_expect_ended(c, 1);
    loom_mem_conn_free(c);
}

static void test_byte_by_byte(void **state)
{
    env_t *e = *state;
    static const struct {
        const char *q, *want;
    } qs[] = {
        {"alice\r\n", ALICE},
        {"/W alice\r\n", ALICE_W},
        {"nosuch\r\n", "finger: nosuch: no such user.\r\n"},
        {"a@b\r\n", "finger: forwarding is not allowed on this server.\r\n"},
        {"/X\r\n", "finger: error: malformed query\r\n"},
    };
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(qs); i++) {
        int closed = 0;
        char *got =
            ask_split(e, e->users, qs[i].q, strlen(qs[i].q), 1, &closed);

        assert_string_equal(got, qs[i].want);
        assert_true(closed);
        free(got);
    }
}

/* Bytes after the query line are not a second query. */
static void test_one_query_per_conn(void **state)
{
    env_t *e = *state;
    int closed = 0;
    const char *q = "alice\r\nbob\r\n";
    char *got = ask_split(e, e->users, q, strlen(q), 0, &closed);

    assert_string_equal(got, ALICE);
    assert_true(closed);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_user_verbose),
        cmocka_unit_test(test_user_minimal),
        cmocka_unit_test(test_plan_filtered),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_row_columns),
        cmocka_unit_test(test_list_refused),
        cmocka_unit_test(test_unknown_user),
        cmocka_unit_test(test_forwarding_refused),
        cmocka_unit_test(test_bad_queries),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_feed_after_close),
        cmocka_unit_test(test_split_query),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_one_query_per_conn),
    };

    return cmocka_run_group_tests_name("finger_session", tests, env_setup,
                                       ses_teardown);
}

/*
 * test_finger_parse.c - RFC 1288 query parsing and output filtering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "finger_parse.h"

/* A query line and what it must parse to; NULL host/forward = absent. */
typedef struct {
    const char *line;
    finger_q_status_t st;
    int verbose;
    const char *user, *host, *forward;
} fq_case_t;

static const fq_case_t cases[] = {
    {"", FINGER_Q_OK, 0, "", NULL, NULL},
    {"alice", FINGER_Q_OK, 0, "alice", NULL, NULL},
    {"/W", FINGER_Q_OK, 1, "", NULL, NULL},
    {"/w", FINGER_Q_OK, 1, "", NULL, NULL},
    {"/W alice", FINGER_Q_OK, 1, "alice", NULL, NULL},
    {"/w alice", FINGER_Q_OK, 1, "alice", NULL, NULL},
    {"/W   alice", FINGER_Q_OK, 1, "alice", NULL, NULL},
    {"/W\talice", FINGER_Q_OK, 1, "alice", NULL, NULL},
    {"alice ", FINGER_Q_OK, 0, "alice", NULL, NULL},
    {" alice", FINGER_Q_OK, 0, "alice", NULL, NULL},
    {"/W ", FINGER_Q_OK, 1, "", NULL, NULL},
    {"alice@host", FINGER_Q_OK, 0, "alice", "host", "alice"},
    {"alice@h1@h2", FINGER_Q_OK, 0, "alice", "h2", "alice@h1"},
    {"a@h1@h2@h3", FINGER_Q_OK, 0, "a", "h3", "a@h1@h2"},
    {"@host", FINGER_Q_OK, 0, "", "host", ""},
    {"@h1@h2", FINGER_Q_OK, 0, "", "h2", "@h1"},
    {"/W alice@host", FINGER_Q_OK, 1, "alice", "host", "alice"},
    {"/W @host", FINGER_Q_OK, 1, "", "host", ""},
    {"/X", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"/", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"/Walice", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"alice bob", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"/W alice bob", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"alice@", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"alice@@h", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"alice@h@", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"@", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"alice@ho st", FINGER_Q_SYNTAX, 0, NULL, NULL, NULL},
    {"al\001ice", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
    {"alice\r", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
    {"alice\n", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
    {"alice\177", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
    {"al\303\251", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
    {"\200", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
    {"/X\001", FINGER_Q_BAD_CHAR, 0, NULL, NULL, NULL},
};

static int slice_is(loom_slice_t s, const char *want, const char *line,
                    size_t len)
{
    if (want == NULL)
        return s.len == 0;
    if (s.len != strlen(want))
        return 0;
    /* a non-empty slice lies inside the line */
    if (s.len > 0 && (s.p < line || s.p + s.len > line + len))
        return 0;
    return s.len == 0 || memcmp(s.p, want, s.len) == 0;
}

static int check_query(const char *line, size_t len, const fq_case_t *t)
{
    finger_query_t q;
    finger_q_status_t st = finger_parse_query(line, len, &q);

    if (st != t->st) {
        print_message("# FAIL '%s': status %d, want %d\n", t->line, (int)st,
                      (int)t->st);
        return 1;
    }
    if (st != FINGER_Q_OK)
        return 0;
    if (q.verbose != t->verbose || !slice_is(q.user, t->user, line, len) ||
        !slice_is(q.host, t->host, line, len) ||
        !slice_is(q.forward, t->forward, line, len)) {
        print_message("# FAIL '%s': verbose=%d user='%.*s' host='%.*s' "
                      "forward='%.*s'\n",
                      t->line, q.verbose, (int)q.user.len, q.user.p,
                      (int)q.host.len, q.host.p, (int)q.forward.len,
                      q.forward.p);
        return 1;
    }
    return 0;
}

static void test_queries(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        /* parse from an exact-size heap copy so ASan sees overreads */
        size_t len = strlen(cases[i].line);
        char *copy = malloc(len ? len : 1);

        assert_non_null(copy);
        memcpy(copy, cases[i].line, len);
        failed += check_query(copy, len, &cases[i]);
        free(copy);
    }
    assert_int_equal(failed, 0);
}

/* A NUL byte is a control character, not the end of the query. */
static void test_nul_byte(void **state)
{
    finger_query_t q;

    (void)state;
    assert_int_equal(finger_parse_query("ali\0ce", 6, &q), FINGER_Q_BAD_CHAR);
}

static void test_length_limit(void **state)
{
    char *line = malloc(FINGER_QUERY_MAX + 1);
    finger_query_t q;

    (void)state;
    assert_non_null(line);
    memset(line, 'a', FINGER_QUERY_MAX + 1);
    assert_int_equal(FINGER_QUERY_MAX, 512);
    assert_int_equal(finger_parse_query(line, FINGER_QUERY_MAX, &q),
                     FINGER_Q_OK);
    assert_int_equal(q.user.len, FINGER_QUERY_MAX);
    assert_int_equal(finger_parse_query(line, FINGER_QUERY_MAX + 1, &q),
                     FINGER_Q_TOO_LONG);
    /* too long wins over bad characters */
    line[0] = '\001';
    assert_int_equal(finger_parse_query(line, FINGER_QUERY_MAX + 1, &q),
                     FINGER_Q_TOO_LONG);
    free(line);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(finger_q_strerror(FINGER_Q_TOO_LONG), "query too long");
    assert_string_equal(finger_q_strerror(FINGER_Q_BAD_CHAR),
                        "query contains non-ASCII or control characters");
    assert_string_equal(finger_q_strerror(FINGER_Q_SYNTAX), "malformed query");
}

typedef struct {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *out;
} ff_case_t;

static const ff_case_t fcases[] = {
    {"", 0, ""},
    {"plain text", 0, "plain text"},
    {"a\nb\n", 0, "a\r\nb\r\n"},
    {"a\r\nb\r\n", 0, "a\r\nb\r\n"},
    {"a\rb", 0, "ab"},
    {"\r\r\n", 0, "\r\n"},
    {"\n\n", 0, "\r\n\r\n"},
    {"x\ty", 0, "x\ty"},
    {"\200\001z", 0, "??z"},
    {"\177\033[31m", 0, "??[31m"},
    {"caf\303\251", 0, "caf??"},
    {"a\0b", 3, "a?b"},
    {"~ !", 0, "~ !"},
};

static void test_filter(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(fcases); i++) {
        const ff_case_t *t = &fcases[i];
        size_t len = t->len ? t->len : strlen(t->in);
        char *out = malloc(2 * len + 1);
        size_t n;

        assert_non_null(out);
        n = finger_filter(t->in, len, out);
        if (n != strlen(t->out) || memcmp(out, t->out, n) != 0) {
            print_message("# FAIL filter case %zu: got '%.*s'\n", i, (int)n,
                          out);
            failed++;
        }
        free(out);
    }
    assert_int_equal(failed, 0);
}

/* Worst case: all LF doubles the size, and OUT of exactly 2*LEN suffices. */
static void test_filter_worst_case(void **state)
{
    enum { N = 1000 };
    char in[N], *out = malloc(2 * N);
    size_t i;

    (void)state;
    assert_non_null(out);
    memset(in, '\n', N);
    assert_int_equal(finger_filter(in, N, out), 2 * N);
    for (i = 0; i < 2 * N; i += 2)
        assert_memory_equal(out + i, "\r\n", 2);
    free(out);
}

/* Every byte value: the output holds only printable ASCII, TAB, CR, LF. */
static void test_filter_all_bytes(void **state)
{
    char in[256], out[512];
    size_t i, n;

    (void)state;
    for (i = 0; i < 256; i++)
        in[i] = (char)i;
    n = finger_filter(in, sizeof(in), out);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        assert_true(c == '\t' || c == '\r' || c == '\n' ||
                    (c >= 0x20 && c < 0x7f));
        if (c == '\r')
            assert_true(i + 1 < n && out[i + 1] == '\n');
    }
    /* 95 printable + TAB + CRLF for LF + 158 '?' (CR dropped) */
    assert_int_equal(n, 95 + 1 + 2 + 158);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_filter_worst_case),
        cmocka_unit_test(test_filter_all_bytes),
    };

    return cmocka_run_group_tests_name("finger_parse", tests, NULL, NULL);
}

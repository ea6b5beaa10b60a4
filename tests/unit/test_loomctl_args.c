/*
 * test_loomctl_args.c - loomctl's command line: options before the command,
 * the socket from -s / LOOMCTL_SOCKET / the default, usage errors, and the
 * request line with its quoting and length limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loomctl.h"

#define ARGV(...) ((char *[]){"loomctl", __VA_ARGS__, NULL})
#define ARGC(...)                                                              \
    ((int)(sizeof((char *[]){"loomctl", __VA_ARGS__}) / sizeof(char *)))

/* Parse the words given; return what parse_args returned. */
#define PARSE(env, o, err, ...)                                                \
    loomctl_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), env, o, err,      \
                       sizeof(err))

static void test_options(void **state)
{
    loomctl_opts_t o;
    char err[256];

    (void)state;
    /* defaults: the default socket, text output, the words as given */
    assert_int_equal(PARSE(NULL, &o, err, "status"), 0);
    assert_int_equal(o.action, LOOMCTL_RUN);
    assert_string_equal(o.socket, LOOMCTL_DEFAULT_SOCKET);
    assert_int_equal(o.json, 0);
    assert_int_equal(o.nwords, 1);
    assert_string_equal(o.words[0], "status");

    /* LOOMCTL_SOCKET, overridden by -s in each of its spellings */
    assert_int_equal(PARSE("/env.sock", &o, err, "status"), 0);
    assert_string_equal(o.socket, "/env.sock");
    assert_int_equal(PARSE("", &o, err, "status"), 0);
    assert_string_equal(o.socket, LOOMCTL_DEFAULT_SOCKET);
    assert_int_equal(PARSE("/env.sock", &o, err, "-s", "/a.sock", "status"), 0);
    assert_string_equal(o.socket, "/a.sock");
    assert_int_equal(PARSE(NULL, &o, err, "-s/b.sock", "status"), 0);
    assert_string_equal(o.socket, "/b.sock");
    assert_int_equal(PARSE(NULL, &o, err, "--socket", "/c.sock", "status"), 0);
    assert_string_equal(o.socket, "/c.sock");
    assert_int_equal(PARSE(NULL, &o, err, "--socket=/d.sock", "status"), 0);
    assert_string_equal(o.socket, "/d.sock");
    /* the form loom.conf's listen takes, options and escapes too */
    assert_int_equal(PARSE("unix:/e.sock", &o, err, "status"), 0);
    assert_string_equal(o.socket, "/e.sock");
    assert_int_equal(
        PARSE(NULL, &o, err, "-s", "unix:/run/c.sock:mode=0660", "status"), 0);
    assert_string_equal(o.socket, "/run/c.sock");
    assert_int_equal(
        PARSE(NULL, &o, err, "-s", "unix:/odd\\:name\\\\x:mode=1", "status"),
        0);
    assert_string_equal(o.socket, "/odd:name\\x");
    /* a plain path keeps its colons */
    assert_int_equal(PARSE(NULL, &o, err, "-s", "/a:b.sock", "status"), 0);
    assert_string_equal(o.socket, "/a:b.sock");

    /* --json anywhere before the command, and the last -s wins */
    assert_int_equal(PARSE(NULL, &o, err, "--json", "-s", "/x", "-s", "/y",
                           "connections", "web"),
                     0);
    assert_int_equal(o.json, 1);
    assert_string_equal(o.socket, "/y");
    assert_int_equal(o.nwords, 2);
    assert_string_equal(o.words[0], "connections");
    assert_string_equal(o.words[1], "web");
}

static void test_command_words_are_not_options(void **state)
{
    loomctl_opts_t o;
    char err[256];

    (void)state;
    /* after the command, words that look like options are arguments */
    assert_int_equal(PARSE(NULL, &o, err, "irc", "kill", "bob", "--json", "-h"),
                     0);
    assert_int_equal(o.json, 0);
    assert_int_equal(o.action, LOOMCTL_RUN);
    assert_int_equal(o.nwords, 5);
    assert_string_equal(o.words[3], "--json");
    assert_string_equal(o.words[4], "-h");
    /* "--" ends the options: a command that starts with a dash */
    assert_int_equal(PARSE(NULL, &o, err, "--json", "--", "-odd", "x"), 0);
    assert_int_equal(o.json, 1);
    assert_int_equal(o.nwords, 2);
    assert_string_equal(o.words[0], "-odd");
    /* "-" alone is a word */
    assert_int_equal(PARSE(NULL, &o, err, "-"), 0);
    assert_string_equal(o.words[0], "-");
}

static void test_help_and_version(void **state)
{
    loomctl_opts_t o;
    char err[256];

    (void)state;
    assert_int_equal(PARSE(NULL, &o, err, "-h"), 0);
    assert_int_equal(o.action, LOOMCTL_HELP);
    assert_int_equal(PARSE(NULL, &o, err, "--help", "--bogus"), 0);
    assert_int_equal(o.action, LOOMCTL_HELP);
    assert_int_equal(PARSE(NULL, &o, err, "-V"), 0);
    assert_int_equal(o.action, LOOMCTL_VERSION);
    assert_int_equal(PARSE(NULL, &o, err, "--json", "--version"), 0);
    assert_int_equal(o.action, LOOMCTL_VERSION);
}

static void test_usage_errors(void **state)
{
    static const struct {
        char *argv[4];
        const char *msg;
    } cases[] = {
        {{NULL}, "no command"},
        {{"--json", NULL}, "no command"},
        {{"-s", "/x", NULL}, "no command"},
        {{"-s", NULL}, "option '-s' needs a value"},
        {{"--socket", NULL}, "option '--socket' needs a value"},
        {{"--socket=", "status", NULL}, "empty socket path"},
        {{"-x", "status", NULL}, "unknown option '-x'"},
        {{"--jsonx", "status", NULL}, "unknown option '--jsonx'"},
        {{"--json=1", "status", NULL}, "option '--json=1' takes no value"},
        {{"-hV", NULL}, "option '-hV' takes no value"},
        {{"--", NULL}, "no command"},
        {{"-s", "unix:", "status", NULL}, "bad socket endpoint 'unix:'"},
        {{"-s", "unix::mode=1", "status", NULL}, "bad socket endpoint"},
    };
    loomctl_opts_t o;
    char err[256], *argv[6];
    size_t i;
    int argc;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        argv[0] = "loomctl";
        for (argc = 1; cases[i].argv[argc - 1]; argc++)
            argv[argc] = cases[i].argv[argc - 1];
        argv[argc] = NULL;
        err[0] = '\0';
        assert_int_equal(
            loomctl_parse_args(argc, argv, NULL, &o, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
    }
}

/* The request line for the words given, or NULL (message in ERR). */
static const char *line_of(char *buf, size_t size, char *err, int n,
                           char *const *words)
{
    return loomctl_request_line(n, words, buf, size, err, 256) < 0 ? NULL : buf;
}

static void test_request_line(void **state)
{
    char buf[LOOMCTL_LINE_MAX + 1], err[256];

    (void)state;
    assert_string_equal(line_of(buf, sizeof(buf), err, 1, (char *[]){"status"}),
                        "status\n");
    assert_string_equal(
        line_of(buf, sizeof(buf), err, 2, (char *[]){"stop", "30"}),
        "stop 30\n");
    /* quoting: spaces, tabs, quotes, backslashes, the empty word */
    assert_string_equal(
        line_of(buf, sizeof(buf), err, 4,
                (char *[]){"irc", "kill", "bob", "go away now"}),
        "irc kill bob \"go away now\"\n");
    assert_string_equal(line_of(buf, sizeof(buf), err, 3,
                                (char *[]){"a\tb", "say \"hi\"", "c:\\d"}),
                        "\"a\tb\" \"say \\\"hi\\\"\" \"c:\\\\d\"\n");
    assert_string_equal(
        line_of(buf, sizeof(buf), err, 3, (char *[]){"smtp", "delete", ""}),
        "smtp delete \"\"\n");
    /* a quote inside an otherwise plain word still gets it quoted */
    assert_string_equal(line_of(buf, sizeof(buf), err, 1, (char *[]){"x\""}),
                        "\"x\\\"\"\n");
    /* UTF-8 passes through unquoted */
    assert_string_equal(
        line_of(buf, sizeof(buf), err, 1, (char *[]){"caf\xc3\xa9"}),
        "caf\xc3\xa9\n");
    /* no line breaks inside a word: the protocol cannot carry them */
    assert_null(line_of(buf, sizeof(buf), err, 2, (char *[]){"a", "b\nc"}));
    assert_non_null(strstr(err, "argument 2 holds a line break"));
    assert_null(line_of(buf, sizeof(buf), err, 1, (char *[]){"b\rc"}));
}

static void test_request_line_limit(void **state)
{
    char buf[2 * LOOMCTL_LINE_MAX], err[256], *word;
    int n;

    (void)state;
    word = malloc(LOOMCTL_LINE_MAX + 1);
    assert_non_null(word);
    /* exactly LOOMCTL_LINE_MAX bytes with the "\n": accepted */
    memset(word, 'a', LOOMCTL_LINE_MAX - 1);
    word[LOOMCTL_LINE_MAX - 1] = '\0';
    n = loomctl_request_line(1, &word, buf, sizeof(buf), err, sizeof(err));
    assert_int_equal(n, LOOMCTL_LINE_MAX);
    assert_int_equal(buf[n - 1], '\n');
    assert_int_equal(buf[n], '\0');
    /* one byte more: refused */
    memset(word, 'a', LOOMCTL_LINE_MAX);
    word[LOOMCTL_LINE_MAX] = '\0';
    n = loomctl_request_line(1, &word, buf, sizeof(buf), err, sizeof(err));
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, "longer than"));
    /* quoting counts: 4094 bytes with a space become 4096 + "\n" */
    memset(word, 'a', LOOMCTL_LINE_MAX - 2);
    word[0] = ' ';
    word[LOOMCTL_LINE_MAX - 2] = '\0';
    n = loomctl_request_line(1, &word, buf, sizeof(buf), err, sizeof(err));
    assert_int_equal(n, -1);
    /* a small buffer bounds the line too, and is never overrun */
    memset(buf, 'Z', sizeof(buf));
    n = loomctl_request_line(1, (char *[]){"status"}, buf, 7, err, sizeof(err));
    assert_int_equal(n, -1);
    assert_int_equal(buf[7], 'Z');
    n = loomctl_request_line(1, (char *[]){"status"}, buf, 8, err, sizeof(err));
    assert_int_equal(n, 7);
    assert_string_equal(buf, "status\n");
    free(word);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_command_words_are_not_options),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_request_line_limit),
    };

    return cmocka_run_group_tests_name("loomctl_args", tests, NULL, NULL);
}

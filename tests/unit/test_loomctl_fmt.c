/*
 * test_loomctl_fmt.c - loomctl's rendering of control socket replies:
 * tables (alignment, numbers right-aligned, missing cells, durations),
 * messages, the status object, --json, daemon errors (exit 1) and replies
 * that are not the protocol's (exit 3), and escaping of control characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "loomctl.h"

typedef struct {
    int rc;
    char *out, *err;
} rendered_t;

/* Render REPLY; the caller frees r.out and r.err. */
static rendered_t render(const char *reply, int json)
{
    rendered_t r;
    size_t olen, elen;
    FILE *out = open_memstream(&r.out, &olen);
    FILE *err = open_memstream(&r.err, &elen);

    assert_non_null(out);
    assert_non_null(err);
    r.rc = loomctl_render_reply(reply, strlen(reply), json, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void done(rendered_t *r)
{
    free(r->out);
    free(r->err);
}

/* REPLY renders as OUT on stdout, nothing on stderr, exit 0. */
static void expect_text(const char *reply, const char *out)
{
    rendered_t r = render(reply, 0);

    assert_string_equal(r.err, "");
    assert_string_equal(r.out, out);
    assert_int_equal(r.rc, LOOMCTL_EXIT_OK);
    done(&r);
}

static void test_table(void **state)
{
    (void)state;
    /* header upper-cased, columns two spaces apart, last one not padded,
     * numeric columns right-aligned, booleans yes/no */
    expect_text(
        "{\"ok\":true,\"result\":{\"columns\":[\"instance\",\"endpoint\","
        "\"transport\",\"connections\",\"adopted\"],\"rows\":["
        "[\"web\",\"tcp:127.0.0.1:8080\",\"tcp\",12,false],"
        "[\"dns\",\"udp:127.0.0.1:53\",\"udp\",0,true]]}}",
        "INSTANCE  ENDPOINT            TRANSPORT  CONNECTIONS  ADOPTED\n"
        "web       tcp:127.0.0.1:8080  tcp                 12  no\n"
        "dns       udp:127.0.0.1:53    udp                  0  yes\n");
    /* no rows: the header alone */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"instance\",\"peer\"],"
                "\"rows\":[]}}",
                "INSTANCE  PEER\n");
    /* a short row: missing cells are empty; null is "-"; a column of
     * numbers with a null stays numeric; reals with %g */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"a\",\"n\",\"c\"],"
                "\"rows\":[[\"x\",1.5,\"z\"],[\"yy\",null],[\"w\",100]]}}",
                "A     N  C\n"
                "x   1.5  z\n"
                "yy    -\n"
                "w   100\n");
}

static void test_table_as_ctl_sends_it(void **state)
{
    (void)state;
    /* loom_ctl_row cells are strings: decimal strings count as numbers
     * (right-aligned), "age" strings of digits are durations, "" is an
     * empty cell that does not make a column textual */
    expect_text(
        "{\"ok\":true,\"result\":{\"columns\":[\"instance\",\"peer\","
        "\"age\",\"bytes_in\",\"bytes_out\",\"state\"],\"rows\":["
        "[\"echo\",\"127.0.0.1:40000\",\"3\",\"5\",\"12345\",\"open\"],"
        "[\"web\",\"[::1]:5\",\"4000\",\"-7\",\"\",\"closing\"]]}}",
        "INSTANCE  PEER             AGE    BYTES_IN  BYTES_OUT  STATE\n"
        "echo      127.0.0.1:40000  3s            5      12345  open\n"
        "web       [::1]:5          1h06m        -7             closing\n");
    /* strings that only look a bit like numbers are text */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"v\",\"w\"],"
                "\"rows\":[[\"1.\",\"10\"],[\"-\",\"2\"],[\"1e3\",\"0.5\"]]}}",
                "V      W\n"
                "1.    10\n"
                "-      2\n"
                "1e3  0.5\n");
}

static void test_table_strings_numbers_mixed(void **state)
{
    (void)state;
    /* a column with a string among numbers is left-aligned; integers are
     * printed in full (no float rounding) */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"route\",\"moved\"],"
                "\"rows\":[[\"r1\",9007199254740993],[\"r2\",\"n/a\"]]}}",
                "ROUTE  MOVED\n"
                "r1     9007199254740993\n"
                "r2     n/a\n");
}

static void test_durations(void **state)
{
    (void)state;
    /* "age" and "uptime" are seconds: shown as d/h/m/s, left-aligned */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"peer\",\"age\","
                "\"bytes_in\"],\"rows\":[[\"p\",5,10],[\"q\",187,2],"
                "[\"r\",7500.9,0],[\"s\",356400,1]]}}",
                "PEER  AGE    BYTES_IN\n"
                "p     5s           10\n"
                "q     3m07s         2\n"
                "r     2h05m         0\n"
                "s     4d03h         1\n");
}

static void test_utf8_width(void **state)
{
    (void)state;
    /* alignment counts characters, not bytes */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"nick\",\"host\"],"
                "\"rows\":[[\"j\\u00fcrgen\",\"a\"],[\"bob\",\"b\"]]}}",
                "NICK    HOST\n"
                "j\xc3\xbcrgen  a\n"
                "bob     b\n");
}

static void test_control_characters_escaped(void **state)
{
    (void)state;
    /* network-supplied text never reaches the terminal raw */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"nick\",\"reason\"],"
                "\"rows\":[[\"e\\u001b[31m\",\"a\\tb\\nc\\u007f\\u0085\"]]}}",
                "NICK       REASON\n"
                "e\\x1b[31m  a\\tb\\nc\\x7f\\u0085\n");
    /* messages keep their line breaks, escape the rest */
    expect_text("{\"ok\":true,\"result\":{\"message\":\"one\\ntwo\\u0007\"}}",
                "one\ntwo\\x07\n");
}

static void test_messages(void **state)
{
    (void)state;
    expect_text("{\"ok\":true,\"result\":{\"message\":\"configuration "
                "reloaded\"}}",
                "configuration reloaded\n");
    /* a table with messages after it */
    expect_text("{\"ok\":true,\"result\":{\"columns\":[\"id\"],\"rows\":[[\"1"
                "\"]],\"messages\":[\"flushed 1 item\",\"done\"]}}",
                "ID\n 1\nflushed 1 item\ndone\n");
    /* an ok reply with nothing to say prints nothing */
    expect_text("{\"ok\":true}", "");
    expect_text("{\"ok\":true,\"result\":null}", "");
    expect_text("{\"ok\":true,\"result\":{\"messages\":[]}}", "");
    /* a bare string result */
    expect_text("{\"ok\":true,\"result\":\"fine\"}", "fine\n");
}

static void test_status_object(void **state)
{
    (void)state;
    /* plain members as aligned key: value lines (arrays of scalars joined
     * with commas, objects as k=v), then arrays of objects as tables (a
     * key an object lacks is an empty cell) */
    expect_text(
        "{\"ok\":true,\"result\":{\"version\":\"0.1.0\",\"pid\":42,"
        "\"uptime\":3725,\"config\":\"/etc/loom/loom.conf\","
        "\"instances\":[{\"module\":\"echo\",\"name\":\"e\","
        "\"listeners\":[\"tcp:127.0.0.1:7\",\"udp:127.0.0.1:7\"],"
        "\"connections\":3},{\"module\":\"http\",\"name\":\"web\","
        "\"listeners\":[],\"connections\":0,"
        "\"counters\":{\"requests\":10,\"errors\":1}}]}}",
        "version: 0.1.0\n"
        "pid:     42\n"
        "uptime:  1h02m\n"
        "config:  /etc/loom/loom.conf\n"
        "\n"
        "instances:\n"
        "MODULE  NAME  LISTENERS                        CONNECTIONS  COUNTERS\n"
        "echo    e     tcp:127.0.0.1:7,udp:127.0.0.1:7            3\n"
        "http    web                                              0  "
        "requests=10 errors=1\n");
}

static void test_status_with_samples(void **state)
{
    (void)state;
    /* metrics samples (loom_metrics_json's format), at the top and in each
     * instance, are gathered into one table after the others: the type is
     * left out, labels are k=v, a missing instance is "-" */
    expect_text(
        "{\"ok\":true,\"result\":{\"pid\":7,\"instances\":["
        "{\"module\":\"echo\",\"name\":\"e\",\"metrics\":[{\"name\":"
        "\"loom_connections\",\"type\":\"gauge\",\"instance\":\"e\","
        "\"labels\":{\"module\":\"echo\"},\"value\":2}]},"
        "{\"module\":\"dns\",\"name\":\"d\",\"metrics\":[]}],"
        "\"metrics\":[{\"name\":\"loom_build_info\",\"type\":\"gauge\","
        "\"instance\":null,\"labels\":{\"version\":\"0.1.0\"},\"value\":1},"
        "{\"name\":\"loom_x_seconds\",\"instance\":null,\"labels\":{},"
        "\"value\":0.25}]}}",
        "pid: 7\n"
        "\n"
        "instances:\n"
        "MODULE  NAME\n"
        "echo    e\n"
        "dns     d\n"
        "\n"
        "metrics:\n"
        "INSTANCE  NAME              LABELS         VALUE\n"
        "-         loom_build_info   version=0.1.0      1\n"
        "-         loom_x_seconds                    0.25\n"
        "e         loom_connections  module=echo        2\n");
    /* an object array whose column is not all samples keeps it */
    expect_text("{\"ok\":true,\"result\":{\"l\":[{\"a\":1,\"m\":[{\"name\":"
                "\"n\",\"value\":1}]},{\"a\":2,\"m\":[{\"x\":1}]}]}}",
                "l:\n"
                "A  M\n"
                "1  [{\"name\":\"n\",\"value\":1}]\n"
                "2  [{\"x\":1}]\n");
}

static void test_status_without_arrays(void **state)
{
    (void)state;
    expect_text("{\"ok\":true,\"result\":{\"a\":true,\"long_key\":{\"x\":1},"
                "\"deep\":{\"y\":[1,2]},\"empty\":[]}}",
                "a:        yes\n"
                "long_key: x=1\n"
                "deep:     {\"y\":[1,2]}\n"
                "empty:\n");
}

static void test_daemon_error(void **state)
{
    rendered_t r;

    (void)state;
    /* the message alone on stderr, exit 1 */
    r = render("{\"ok\":false,\"error\":\"/etc/loom/loom.conf:12: unknown "
               "option 'x'; old configuration kept\"}",
               0);
    assert_int_equal(r.rc, LOOMCTL_EXIT_ERROR);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "/etc/loom/loom.conf:12: unknown option 'x'; "
                               "old configuration kept\n");
    done(&r);
}

static void test_json_output(void **state)
{
    rendered_t r;
    json_t *a, *b;

    (void)state;
    /* --json: the reply object itself, whatever the result's shape; exit
     * code from "ok" */
    r = render("{\"ok\":true,\"result\":{\"columns\":[\"a\"],\"rows\":[[1]]}}",
               1);
    assert_int_equal(r.rc, LOOMCTL_EXIT_OK);
    assert_string_equal(r.err, "");
    a = json_loads(r.out, 0, NULL);
    b = json_loads("{\"ok\":true,\"result\":{\"columns\":[\"a\"],"
                   "\"rows\":[[1]]}}",
                   0, NULL);
    assert_non_null(a);
    assert_true(json_equal(a, b));
    assert_int_equal(r.out[strlen(r.out) - 1], '\n');
    json_decref(a);
    json_decref(b);
    done(&r);
    /* keys keep the daemon's order */
    r = render("{\"ok\":true,\"result\":{\"z\":1,\"a\":2}}", 1);
    assert_true(strstr(r.out, "\"z\"") < strstr(r.out, "\"a\""));
    done(&r);
    /* an error: the JSON on stdout, exit 1 */
    r = render("{\"ok\":false,\"error\":\"unknown instance 'x'\"}", 1);
    assert_int_equal(r.rc, LOOMCTL_EXIT_ERROR);
    assert_non_null(strstr(r.out, "\"unknown instance 'x'\""));
    assert_string_equal(r.err, "");
    done(&r);
}

/* REPLY is not the protocol's: "loomctl: ..." on stderr, exit 3. */
static void expect_bad(const char *reply, int json)
{
    rendered_t r = render(reply, json);

    if (r.rc != LOOMCTL_EXIT_CONNECT)
        fail_msg("json=%d %s: exit %d", json, reply, r.rc);
    if (strncmp(r.err, "loomctl: ", 9) != 0)
        fail_msg("json=%d %s: stderr '%s'", json, reply, r.err);
    done(&r);
}

static void test_not_the_protocol(void **state)
{
    /* bad in any output mode: the envelope */
    static const char *const envelope[] = {
        "",
        "not json",
        "{\"ok\":true",
        "[1,2]",
        "{\"result\":{}}",
        "{\"ok\":\"yes\"}",
        "{\"ok\":false}",
        "{\"ok\":false,\"error\":3}",
        "{\"ok\":true,\"ok\":false,\"error\":\"dup\"}",
        "{\"ok\":true} trailing",
    };
    /* bad when rendered as text (--json passes the result through) */
    static const char *const result[] = {
        "{\"ok\":true,\"result\":{\"columns\":\"a\",\"rows\":[]}}",
        "{\"ok\":true,\"result\":{\"columns\":[],\"rows\":[]}}",
        "{\"ok\":true,\"result\":{\"columns\":[1],\"rows\":[]}}",
        "{\"ok\":true,\"result\":{\"columns\":[\"a\"]}}",
        "{\"ok\":true,\"result\":{\"rows\":[]}}",
        "{\"ok\":true,\"result\":{\"columns\":[\"a\"],\"rows\":[1]}}",
        "{\"ok\":true,\"result\":{\"columns\":[\"a\"],\"rows\":[[1,2]]}}",
        "{\"ok\":true,\"result\":{\"message\":1}}",
        "{\"ok\":true,\"result\":{\"messages\":\"x\"}}",
        "{\"ok\":true,\"result\":{\"messages\":[\"x\",2]}}",
    };
    size_t i;
    rendered_t r;

    (void)state;
    for (i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++) {
        expect_bad(envelope[i], 0);
        expect_bad(envelope[i], 1);
    }
    for (i = 0; i < sizeof(result) / sizeof(result[0]); i++) {
        expect_bad(result[i], 0);
        r = render(result[i], 1);
        assert_int_equal(r.rc, LOOMCTL_EXIT_OK);
        done(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_as_ctl_sends_it),
        cmocka_unit_test(test_table_strings_numbers_mixed),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_utf8_width),
        cmocka_unit_test(test_control_characters_escaped),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_status_object),
        cmocka_unit_test(test_status_with_samples),
        cmocka_unit_test(test_status_without_arrays),
        cmocka_unit_test(test_daemon_error),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_not_the_protocol),
    };

    return cmocka_run_group_tests_name("loomctl_fmt", tests, NULL, NULL);
}

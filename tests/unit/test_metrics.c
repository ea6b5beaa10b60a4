/*
 * test_metrics.c - the metrics collection (src/metrics.c): samples grouped
 * by family in first-seen order, the instance label first, label and HELP
 * escaping, integer and non-integer values, samples with bad names or keys
 * left out, and the JSON rendering read back with jansson (an independent
 * parser).  Then the metrics listener's request parser (src/metrics_req.c):
 * a table of heads, each also fed one byte at a time.
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

#include "metrics.h"
#include "metrics_req.h"

#define C LOOM_METRIC_COUNTER
#define G LOOM_METRIC_GAUGE

static char *prom(loom_metrics_t *m)
{
    size_t len = 12345;
    char *s = loom_metrics_prometheus(m, &len);

    assert_non_null(s);
    assert_int_equal(len, strlen(s));
    return s;
}

static void test_empty(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    char *s = prom(m);
    size_t len;

    (void)state;
    assert_string_equal(s, "");
    free(s);
    s = loom_metrics_json(m, &len);
    assert_string_equal(s, "[]");
    assert_int_equal(len, 2);
    free(s);
    loom_metrics_free(m);
    loom_metrics_free(NULL);
}

/* Samples of one family added apart come out together, families in the
 * order they were first seen; TYPE and HELP come from the first sample. */
static void test_grouping(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    size_t fams;
    char *s;

    (void)state;
    loom_metric(m, C, "loom_a_total", "A things.", 1, "k", "x", NULL);
    loom_metric(m, G, "loom_b", "B now.", 2, NULL);
    loom_metrics_set_instance(m, "mod", "one");
    loom_metric(m, G, "loom_a_total", "ignored help", 3, "k", "y", NULL);
    loom_metrics_set_instance(m, "mod", "two");
    loom_metric(m, G, "loom_c", "C.", 4, NULL);
    loom_metric(m, C, "loom_a_total", "A things.", 5, NULL);
    loom_metrics_set_instance(m, NULL, NULL);
    loom_metric(m, G, "loom_b", "B now.", 6, "k", "z", NULL);
    assert_int_equal(loom_metrics_count(m, &fams), 6);
    assert_int_equal(fams, 3);
    s = prom(m);
    assert_string_equal(s, "# HELP loom_a_total A things.\n"
                           "# TYPE loom_a_total counter\n"
                           "loom_a_total{k=\"x\"} 1\n"
                           "loom_a_total{instance=\"one\",k=\"y\"} 3\n"
                           "loom_a_total{instance=\"two\"} 5\n"
                           "# HELP loom_b B now.\n"
                           "# TYPE loom_b gauge\n"
                           "loom_b 2\n"
                           "loom_b{k=\"z\"} 6\n"
                           "# HELP loom_c C.\n"
                           "# TYPE loom_c gauge\n"
                           "loom_c{instance=\"two\"} 4\n");
    free(s);
    loom_metrics_free(m);
}

static void test_escaping(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    char *s;

    (void)state;
    loom_metrics_set_instance(m, "mod", "a\"b\\c\nd");
    loom_metric(m, G, "loom_x", "back\\slash\nnew \"line\"", 1, "path",
                "C:\\dir \"q\"\n", "empty", "", "nul", NULL, NULL);
    s = prom(m);
    assert_string_equal(s,
                        "# HELP loom_x back\\\\slash\\nnew \"line\"\n"
                        "# TYPE loom_x gauge\n"
                        "loom_x{instance=\"a\\\"b\\\\c\\nd\",path=\"C:\\\\dir "
                        "\\\"q\\\"\\n\",empty=\"\",nul=\"\"} 1\n");
    free(s);
    loom_metrics_free(m);
}

static const struct {
    double v;
    const char *prom, *json;
} values[] = {
    {0, "0", "0"},
    {3, "3", "3"},
    {-7, "-7", "-7"},
    {18446744073709551615.0, "1.84467440737096e+19", "1.84467440737096e+19"},
    {9007199254740992.0, "9007199254740992", "9007199254740992"},
    {0.5, "0.5", "0.5"},
    {1.25e-3, "0.00125", "0.00125"},
};

static void test_values(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(values); i++) {
        loom_metrics_t *m = loom_metrics_new();
        char want[128], *s;

        loom_metric(m, G, "v", "h", values[i].v, NULL);
        s = prom(m);
        snprintf(want, sizeof(want), "# HELP v h\n# TYPE v gauge\nv %s\n",
                 values[i].prom);
        assert_string_equal(s, want);
        free(s);
        s = loom_metrics_json(m, NULL);
        snprintf(want, sizeof(want),
                 "[{\"name\":\"v\",\"type\":\"gauge\",\"instance\":null,"
                 "\"labels\":{},\"value\":%s}]",
                 values[i].json);
        assert_string_equal(s, want);
        free(s);
        loom_metrics_free(m);
    }
}

static void test_nan_inf(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    json_t *j;
    char *s;

    (void)state;
    loom_metric(m, G, "n", "h", 0.0 / 0.0, NULL);
    loom_metric(m, G, "n", "h", 1.0 / 0.0, NULL);
    loom_metric(m, G, "n", "h", -1.0 / 0.0, NULL);
    s = prom(m);
    assert_string_equal(s, "# HELP n h\n# TYPE n gauge\nn NaN\nn +Inf\n"
                           "n -Inf\n");
    free(s);
    s = loom_metrics_json(m, NULL);
    j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 3);
    assert_true(json_is_null(json_object_get(json_array_get(j, 0), "value")));
    assert_true(json_is_null(json_object_get(json_array_get(j, 2), "value")));
    json_decref(j);
    free(s);
    loom_metrics_free(m);
}

/* A bad metric name, a bad label key (or "instance", which is the
 * core's) leaves the sample out and changes nothing else. */
static void test_refused(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    size_t fams;

    (void)state;
    loom_metric(m, G, "9lives", "h", 1, NULL);
    loom_metric(m, G, "has-dash", "h", 1, NULL);
    loom_metric(m, G, "", "h", 1, NULL);
    loom_metric(m, G, "ok", "h", 1, "Upper", "v", NULL);
    loom_metric(m, G, "ok", "h", 1, "a-b", "v", NULL);
    loom_metric(m, G, "ok", "h", 1, "", "v", NULL);
    loom_metric(m, G, "ok", "h", 1, "instance", "v", NULL);
    loom_metric(NULL, G, "ok", "h", 1, NULL);
    assert_int_equal(loom_metrics_count(m, &fams), 0);
    assert_int_equal(fams, 0);
    loom_metric(m, G, "ns:ok_1", "h", 1, "_k9", "v", NULL);
    assert_int_equal(loom_metrics_count(m, &fams), 1);
    loom_metrics_free(m);
}

/* The JSON array read back: every sample, in family order, with its
 * instance (or null), labels and value; and one instance's share. */
static void test_json(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    json_t *j, *e;
    char *s;
    size_t len;

    (void)state;
    loom_metric(m, C, "loom_a_total", "A.", 1, "route", "r\"1", NULL);
    loom_metrics_set_instance(m, "mod", "web\x01");
    loom_metric(m, G, "loom_b", "B.", 2.5, "k", "v", "k2", "\\", NULL);
    loom_metric(m, C, "loom_a_total", "A.", 7, NULL);
    loom_metrics_set_instance(m, "mod", "other");
    loom_metric(m, C, "loom_a_total", "A.", 8, NULL);
    s = loom_metrics_json(m, &len);
    assert_int_equal(len, strlen(s));
    j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 4);
    e = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(e, "name")),
                        "loom_a_total");
    assert_string_equal(json_string_value(json_object_get(e, "type")),
                        "counter");
    assert_true(json_is_null(json_object_get(e, "instance")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(e, "labels"), "route")),
                        "r\"1");
    e = json_array_get(j, 1);
    assert_string_equal(json_string_value(json_object_get(e, "instance")),
                        "web\x01");
    assert_int_equal(json_integer_value(json_object_get(e, "value")), 7);
    e = json_array_get(j, 2);
    assert_string_equal(json_string_value(json_object_get(e, "instance")),
                        "other");
    e = json_array_get(j, 3);
    assert_string_equal(json_string_value(json_object_get(e, "name")),
                        "loom_b");
    assert_true(json_real_value(json_object_get(e, "value")) == 2.5);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e, "labels"), "k2")),
        "\\");
    json_decref(j);
    free(s);

    s = loom_metrics_json_instance(m, "mod", "other", &len);
    assert_string_equal(s, "[{\"name\":\"loom_a_total\",\"type\":\"counter\","
                           "\"instance\":\"other\",\"labels\":{},"
                           "\"value\":8}]");
    free(s);
    s = loom_metrics_json_instance(m, NULL, NULL, &len);
    j = json_loads(s, 0, NULL);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    free(s);
    s = loom_metrics_json_instance(m, "mod", "nobody", &len);
    assert_string_equal(s, "[]");
    free(s);
    s = loom_metrics_json_instance(m, "other_mod", "other", &len);
    assert_string_equal(s, "[]");
    free(s);
    s = loom_metrics_json_instance(m, NULL, "other", &len);
    assert_int_equal(strlen(s), len);
    assert_non_null(strstr(s, "\"value\":8"));
    free(s);
    loom_metrics_free(m);
}

/* Many families and samples: still grouped, nothing lost. */
static void test_many(void **state)
{
    loom_metrics_t *m = loom_metrics_new();
    char name[32], lv[32], *s, *p;
    size_t fams, i, seen = 0;

    (void)state;
    for (i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "f%zu", i % 97);
        snprintf(lv, sizeof(lv), "%zu", i);
        loom_metric(m, C, name, "h", (double)i, "i", lv, NULL);
    }
    assert_int_equal(loom_metrics_count(m, &fams), 5000);
    assert_int_equal(fams, 97);
    s = prom(m);
    /* each family's TYPE line appears once, and its samples follow it */
    for (p = s; (p = strstr(p, "# TYPE ")) != NULL; p++)
        seen++;
    assert_int_equal(seen, 97);
    p = strstr(s, "# TYPE f3 counter\n");
    assert_non_null(p);
    assert_true(strncmp(strchr(p, '\n') + 1,
                        "f3{i=\"3\"} 3\nf3{i=\"100\"} 100\n", 28) == 0);
    free(s);
    loom_metrics_free(m);
}

/* ---- the request parser -------------------------------------------------- */

static const struct {
    const char *in;
    loom_mreq_status_t want;
    loom_mreq_method_t method;
    const char *path; /* when OK */
} heads[] = {
    {"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", LOOM_MREQ_OK, LOOM_MREQ_GET,
     "/metrics"},
    {"HEAD /metrics?name[]=x HTTP/1.0\r\n\r\n", LOOM_MREQ_OK, LOOM_MREQ_HEAD,
     "/metrics"},
    {"\r\n\nGET / HTTP/1.1\nA:\n\n", LOOM_MREQ_OK, LOOM_MREQ_GET, "/"},
    {"DELETE /metrics HTTP/1.1\r\n\r\n", LOOM_MREQ_OK, LOOM_MREQ_OTHER,
     "/metrics"},
    {"get /metrics HTTP/1.1\r\n\r\n", LOOM_MREQ_OK, LOOM_MREQ_OTHER,
     "/metrics"},
    {"GET /x HTTP/1.1\r\nUser-Agent: caf\xc3\xa9\t1\r\n\r\n", LOOM_MREQ_OK,
     LOOM_MREQ_GET, "/x"},
    {"GET /metrics HTTP/1.1\r\nHost: a\r\n", LOOM_MREQ_AGAIN, 0, NULL},
    {"GET /metrics HTTP/1.1\r", LOOM_MREQ_AGAIN, 0, NULL},
    {"", LOOM_MREQ_AGAIN, 0, NULL},
    {"GET /metrics HTTP/2.0\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics HTTP/1.1 \r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET  /metrics HTTP/1.1\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET metrics HTTP/1.1\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /m\x7fx HTTP/1.1\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /m\xc3\xa9 HTTP/1.1\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics HTTP/1.1\r\n: empty\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics HTTP/1.1\rX: y\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"GET /metrics HTTP/1.1\r\nX: \x01\r\n\r\n", LOOM_MREQ_BAD, 0, NULL},
    {"\x16\x03\x01\x02", LOOM_MREQ_BAD, 0, NULL},
};

static loom_mreq_status_t parse_bytewise(const char *in, size_t len,
                                         loom_mreq_t *req)
{
    loom_mreq_status_t st = LOOM_MREQ_AGAIN;
    size_t i;

    for (i = 0; i <= len && st == LOOM_MREQ_AGAIN; i++)
        st = loom_mreq_parse(in, i, req);
    return st;
}

static void test_req_table(void **state)
{
    loom_mreq_t req;
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(heads); i++) {
        const char *in = heads[i].in;
        size_t len = strlen(in);
        loom_mreq_status_t st = loom_mreq_parse(in, len, &req);

        assert_int_equal(st, heads[i].want);
        assert_int_equal(parse_bytewise(in, len, &req), heads[i].want);
        if (st != LOOM_MREQ_OK)
            continue;
        assert_int_equal(req.method, heads[i].method);
        assert_int_equal(req.path_len, strlen(heads[i].path));
        assert_memory_equal(req.path, heads[i].path, req.path_len);
        assert_int_equal(req.head_len, len);
    }
    assert_int_equal(loom_mreq_parse("G\0T / HTTP/1.1\r\n\r\n", 18, &req),
                     LOOM_MREQ_BAD);
}

/* A head that does not end within LOOM_MREQ_MAX bytes is refused as soon
 * as that many have arrived; one that ends just within is taken, and the
 * bytes after it (a body) are not the parser's business. */
static void test_req_limits(void **state)
{
    size_t n = LOOM_MREQ_MAX + 100;
    char *buf = malloc(n);
    const char *start = "GET /metrics HTTP/1.1\r\nX: ";
    loom_mreq_t req;

    (void)state;
    assert_non_null(buf);
    memset(buf, 'a', n);
    memcpy(buf, start, strlen(start));
    assert_int_equal(loom_mreq_parse(buf, LOOM_MREQ_MAX - 1, &req),
                     LOOM_MREQ_AGAIN);
    assert_int_equal(loom_mreq_parse(buf, LOOM_MREQ_MAX, &req),
                     LOOM_MREQ_TOO_LONG);
    assert_int_equal(loom_mreq_parse(buf, n, &req), LOOM_MREQ_TOO_LONG);
    memcpy(buf + LOOM_MREQ_MAX - 4, "\r\n\r\n", 4);
    assert_int_equal(loom_mreq_parse(buf, n, &req), LOOM_MREQ_OK);
    assert_int_equal(req.head_len, LOOM_MREQ_MAX);
    memcpy(buf + LOOM_MREQ_MAX - 4, "a\r\n\r", 4);
    assert_int_equal(loom_mreq_parse(buf, n, &req), LOOM_MREQ_TOO_LONG);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),     cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_escaping),  cmocka_unit_test(test_values),
        cmocka_unit_test(test_nan_inf),   cmocka_unit_test(test_refused),
        cmocka_unit_test(test_json),      cmocka_unit_test(test_many),
        cmocka_unit_test(test_req_table), cmocka_unit_test(test_req_limits),
    };

    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}

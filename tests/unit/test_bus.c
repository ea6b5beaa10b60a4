/*
 * test_bus.c - the route engine (src/bus.c, src/bus_conf.c, src/bus_msg.c)
 * on a real in-process server and reactor.  The actions that routes call
 * are this file's own (busunit_actions below), reached through the
 * loadable shim tests/modules/busunit.so, which the config loads with
 * load_module() as a user's config would.
 *
 * Covered: messages (fields in order, pseudo-fields, body, JSON,
 * immutability, ids); publish's result counts and its refusals; loop tags
 * (implicit inheritance inside an action, loom_msg_caused_by, a route
 * never taking a message twice, too many hops); the route table as built
 * from the config; a reload with messages queued and calls held; freeing
 * the server with messages queued, calls in retry wait and calls held;
 * subscribers (order, unsubscribing inside a delivery, an instance that
 * stops).
 *
 * The reactor is driven with bounded loops of event_base_loop; no
 * assertion is about how long anything took.  Leaks and use-after-free
 * are the sanitizer build's to catch (see PREAMBLE: ASan run).
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

#include "bus_int.h"
#include "config.h"
#include "core.h"
#include "server.h"

/* Bound on reactor turns in any wait: only ever hit by a hang. */
#define MAX_TURNS 400

/* ---- the test module's state (one process, one server at a time) ------- */

typedef struct {
    char route[32], text[128], inst[8];
    uint64_t id;
    size_t hops;
} rec_t;

typedef struct {
    loom_action_call_t *call;
    loom_instance_t *inst;
    int ended;
} held_t;

#define MAX_REC 256
#define MAX_HELD 64

static struct {
    rec_t rec[MAX_REC];
    int nrec;
    held_t held[MAX_HELD];
    int nheld;
    int ends;                   /* calls this module ended (held or not) */
    int stops;                  /* stop callbacks */
    loom_bus_sub_t *stop_unsub; /* stop unsubscribes it when set */
    int stop_subscribes;        /* stop subscribes its instance to "t" */
    int after_stop;             /* messages given to that subscription */
} T;

static void t_reset(void)
{
    memset(&T, 0, sizeof(T));
}

static void end_call(loom_action_call_t *call, loom_act_result_t r)
{
    T.ends++;
    loom_action_done(call, r, r == LOOM_ACT_DONE ? NULL : "test says so");
}

static void publish_text(loom_instance_t *inst, const char *topic,
                         const char *text)
{
    loom_msg_t *m = loom_msg_new(topic);

    loom_msg_add(m, "text", 4, text, strlen(text));
    loom_bus_publish(inst, m, NULL);
}

/* Action "rec": records the call (route, rendered text, message), then
 * acts on outcome: done (default), fail, retry, hold (until the test or
 * stop ends it), republish (publish TOPIC while the call runs, then
 * done), done-publish (done first, then publish TOPIC, still inside the
 * call). */
static void rec_call(loom_instance_t *inst, loom_action_call_t *call)
{
    const char *text = loom_action_param(call, "text", NULL);
    const char *outcome = loom_action_param(call, "outcome", NULL);
    const char *topic = loom_action_param(call, "topic", NULL);
    loom_msg_t *m = loom_action_msg(call);

    if (T.nrec < MAX_REC) {
        rec_t *r = &T.rec[T.nrec++];

        snprintf(r->route, sizeof(r->route), "%s", loom_action_route(call));
        snprintf(r->text, sizeof(r->text), "%s", text);
        snprintf(r->inst, sizeof(r->inst), "%s", loom_instance_name(inst));
        r->id = loom_msg_id(m);
        r->hops = loom_msg_hops(m);
    }
    if (outcome == NULL || strcmp(outcome, "done") == 0) {
        end_call(call, LOOM_ACT_DONE);
    } else if (strcmp(outcome, "fail") == 0) {
        end_call(call, LOOM_ACT_FAILED);
    } else if (strcmp(outcome, "retry") == 0) {
        end_call(call, LOOM_ACT_RETRY);
    } else if (strcmp(outcome, "hold") == 0 && T.nheld < MAX_HELD) {
        T.held[T.nheld].call = call;
        T.held[T.nheld].inst = inst;
        T.held[T.nheld].ended = 0;
        T.nheld++;
    } else if (strcmp(outcome, "republish") == 0) {
        publish_text(inst, topic ? topic : "again", text);
        end_call(call, LOOM_ACT_DONE);
    } else if (strcmp(outcome, "done-publish") == 0) {
        char t[64], x[64]; /* the parameters go with the call */

        snprintf(t, sizeof(t), "%s", topic ? topic : "again");
        snprintf(x, sizeof(x), "%s", text);
        end_call(call, LOOM_ACT_DONE);
        publish_text(inst, t, x);
    } else {
        end_call(call, LOOM_ACT_FAILED);
    }
}

static const loom_action_param_t rec_params[] = {
    {"text", 1}, {"outcome", 0}, {"topic", 0}, {NULL, 0}};

/* Exported: tests/modules/busunit.so points its module at these. */
extern const loom_action_t busunit_actions[];
void busunit_start(loom_instance_t *inst);
void busunit_stop(loom_instance_t *inst);

const loom_action_t busunit_actions[] = {{"rec", rec_params, rec_call},
                                         {NULL, NULL, NULL}};

void busunit_start(loom_instance_t *inst)
{
    (void)inst;
}

static void sub_count(loom_msg_t *m, void *arg)
{
    (void)m;
    ++*(int *)arg;
}

/* Stop ends the calls the instance still holds, as the contract says;
 * tests also have it unsubscribe or subscribe. */
void busunit_stop(loom_instance_t *inst)
{
    int i;

    T.stops++;
    if (T.stop_unsub) {
        loom_bus_unsubscribe(T.stop_unsub);
        T.stop_unsub = NULL;
    }
    if (T.stop_subscribes)
        loom_bus_subscribe(inst, "t", sub_count, &T.after_stop);
    for (i = 0; i < T.nheld; i++) {
        if (T.held[i].inst == inst && !T.held[i].ended) {
            T.held[i].ended = 1;
            end_call(T.held[i].call, LOOM_ACT_FAILED);
        }
    }
}

/* End every held call that is still open with R; how many. */
static int release_held(loom_act_result_t r)
{
    int i, n = 0;

    for (i = 0; i < T.nheld; i++) {
        if (!T.held[i].ended) {
            T.held[i].ended = 1;
            end_call(T.held[i].call, r);
            n++;
        }
    }
    return n;
}

static int held_open(void)
{
    int i, n = 0;

    for (i = 0; i < T.nheld; i++)
        n += !T.held[i].ended;
    return n;
}

/* The record whose text is TEXT, or NULL. */
static const rec_t *rec_find(const char *text)
{
    int i;

    for (i = 0; i < T.nrec; i++) {
        if (strcmp(T.rec[i].text, text) == 0)
            return &T.rec[i];
    }
    return NULL;
}

static int rec_count(const char *text)
{
    int i, n = 0;

    for (i = 0; i < T.nrec; i++)
        n += strcmp(T.rec[i].text, text) == 0;
    return n;
}

/* ---- environment: a server from a config file (so that it can reload) -- */

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    char path[64];
    loom_instance_t *a, *b;
} env_t;

static void env_write(env_t *e, const char *insts, const char *routes)
{
    const char *builddir = getenv("LOOM_BUILDDIR");
    FILE *f = fopen(e->path, "w");

    assert_non_null(f);
    fprintf(f,
            "load_module(\"%s/tests/modules/.libs/busunit.so\")\n"
            "log { level = \"error\" }\n%s%s",
            builddir ? builddir : ".", insts, routes);
    fclose(f);
}

static void env_find(env_t *e)
{
    e->a = loom_server_instance(e->srv, "busunit", "a");
    e->b = loom_server_instance(e->srv, "busunit", "b");
}

static const char two_insts[] = "busunit \"a\" {}\nbusunit \"b\" {}\n";

static env_t *env_new(const char *routes)
{
    env_t *e = calloc(1, sizeof(*e));
    loom_config_t *cfg;
    char err[512] = "";
    int fd;

    assert_non_null(e);
    t_reset();
    snprintf(e->path, sizeof(e->path), "/tmp/loom-test-bus.XXXXXX");
    fd = mkstemp(e->path);
    assert_true(fd >= 0);
    close(fd);
    env_write(e, two_insts, routes);
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    cfg = loom_config_load(e->path, NULL, err, sizeof(err));
    if (cfg == NULL)
        print_message("# config: %s\n", err);
    assert_non_null(cfg);
    if (loom_server_start(e->srv, cfg, err, sizeof(err)) != LOOM_OK)
        print_message("# start: %s\n", err);
    env_find(e);
    assert_non_null(e->a);
    assert_non_null(e->b);
    return e;
}

static int env_reload(env_t *e, const char *insts, const char *routes)
{
    char err[512] = "";
    int r;

    env_write(e, insts, routes);
    r = loom_server_reload(e->srv, err, sizeof(err));
    if (r != LOOM_OK)
        print_message("# reload: %s\n", err);
    env_find(e);
    return r;
}

static void env_free(env_t *e)
{
    loom_server_free(e->srv);
    event_base_free(e->base);
    unlink(e->path);
    free(e);
}

/* A few non-blocking turns: whatever is due runs. */
static void turns(env_t *e, int n)
{
    while (n-- > 0)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
}

/* Turn the reactor until *V >= WANT (bounded; blocking turns, so that
 * retry and rate timers fire). */
static void run_until(env_t *e, const int *v, int want)
{
    int n = 0;

    while (*v < want && n++ < MAX_TURNS)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_true(*v >= want);
}

/* The stats of route NAME now; 0 when the table has no such route. */
static int route_stat(env_t *e, const char *name, loom_route_stat_t *out)
{
    loom_route_stat_t st[16];
    size_t i, n = loom_bus_routes(e->srv, st, 16);

    for (i = 0; i < n && i < 16; i++) {
        if (strcmp(st[i].name, name) == 0) {
            *out = st[i];
            return 1;
        }
    }
    return 0;
}

static loom_bus_stat_t bus_stat(env_t *e)
{
    loom_bus_stat_t st;

    loom_bus_stats(e->srv, &st);
    return st;
}

/* ---- messages ----------------------------------------------------------- */

static void test_msg_fields_and_pseudo_fields(void **state)
{
    env_t *e = env_new("");
    loom_msg_t *m = loom_msg_new("deploy"), *m2;
    const loom_field_t *f;
    loom_publish_result_t res;
    char idtxt[32];
    loom_slice_t body;

    (void)state;
    loom_msg_add(m, "a", 1, "1", 1);
    loom_msg_add(m, "b.c", 3, "two", 3);
    loom_msg_add(m, "a", 1, "3", 1); /* a second "a": get finds the first */
    loom_msg_add(m, "nul", 3, "x\0y", 3);
    loom_msg_addf(m, "n", "%d-%s", 42, "z");
    loom_msg_set_body(m, "old", 3);
    loom_msg_set_body(m, "hello", 5);
    /* before publishing: no origin, no id, no reading by name */
    assert_string_equal(loom_msg_module(m), "");
    assert_int_equal(loom_msg_id(m), 0);
    assert_null(loom_msg_get(m, "a", 1));
    assert_null(loom_msg_field(m, 0));

    loom_msg_ref(m); /* ours, past publish's */
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.matched, 0);
    assert_int_equal(res.subscribers, 0);

    assert_int_equal(loom_msg_nfields(m), 5);
    f = loom_msg_field(m, 0);
    assert_string_equal(f->name.p, "a");
    assert_string_equal(f->value.p, "1");
    f = loom_msg_field(m, 1);
    assert_string_equal(f->name.p, "b.c");
    assert_int_equal(f->value.len, 3);
    f = loom_msg_field(m, 2);
    assert_string_equal(f->value.p, "3");
    f = loom_msg_field(m, 3);
    assert_int_equal(f->value.len, 3);
    assert_memory_equal(f->value.p, "x\0y", 4); /* NUL-terminated too */
    f = loom_msg_field(m, 4);
    assert_string_equal(f->name.p, "n");
    assert_string_equal(f->value.p, "42-z");
    assert_null(loom_msg_field(m, 5));

    assert_string_equal(loom_msg_get(m, "a", 1)->value.p, "1");
    assert_string_equal(loom_msg_get(m, "b.c", 3)->value.p, "two");
    assert_null(loom_msg_get(m, "b", 1));
    assert_null(loom_msg_get(m, "@nope", 5));
    assert_string_equal(loom_msg_get(m, "@topic", 6)->value.p, "deploy");
    assert_string_equal(loom_msg_get(m, "@module", 7)->value.p, "busunit");
    assert_string_equal(loom_msg_get(m, "@instance", 9)->value.p, "a");
    assert_string_equal(loom_msg_module(m), "busunit");
    assert_string_equal(loom_msg_instance(m), "a");
    assert_true(loom_msg_id(m) > 0);
    snprintf(idtxt, sizeof(idtxt), "%llu", (unsigned long long)loom_msg_id(m));
    assert_string_equal(loom_msg_get(m, "@id", 3)->value.p, idtxt);
    snprintf(idtxt, sizeof(idtxt), "%llu",
             (unsigned long long)loom_msg_time_ms(m));
    assert_string_equal(loom_msg_get(m, "@time", 5)->value.p, idtxt);
    assert_true(loom_msg_time_ms(m) > 1600000000000ull); /* a wall clock */
    f = loom_msg_get(m, "@body", 5);
    assert_int_equal(f->value.len, 5);
    assert_memory_equal(f->value.p, "hello", 5);
    assert_int_equal(loom_msg_hops(m), 0);

    /* immutable once published */
    loom_msg_add(m, "late", 4, "x", 1);
    loom_msg_addf(m, "late2", "%d", 1);
    loom_msg_set_body(m, "changed", 7);
    assert_int_equal(loom_msg_nfields(m), 5);
    assert_null(loom_msg_get(m, "late", 4));
    body = loom_msg_body(m);
    assert_int_equal(body.len, 5);
    assert_memory_equal(body.p, "hello", 5);

    /* ids increase in publishing order */
    m2 = loom_msg_new("other");
    loom_msg_ref(m2);
    assert_int_equal(loom_bus_publish(e->b, m2, NULL), LOOM_OK);
    assert_true(loom_msg_id(m2) > loom_msg_id(m));
    assert_string_equal(loom_msg_instance(m2), "b");
    /* no body: an empty, non-NULL one */
    body = loom_msg_body(m2);
    assert_non_null(body.p);
    assert_int_equal(body.len, 0);
    assert_int_equal(loom_msg_get(m2, "@body", 5)->value.len, 0);
    assert_int_equal(loom_msg_nfields(m2), 0);
    loom_msg_unref(m2);
    loom_msg_unref(m);
    assert_int_equal(bus_stat(e).published, 2);
    env_free(e);
}

/* A long addf value goes through the heap path. */
static void test_msg_addf_long(void **state)
{
    loom_msg_t *m = loom_msg_new("t");
    char big[600];
    const loom_field_t *f;

    (void)state;
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    loom_msg_addf(m, "big", "<%s>", big);
    loom_msg_freeze(m, "mod", "inst", 7, 1000);
    f = loom_msg_get(m, "big", 3);
    assert_non_null(f);
    assert_int_equal(f->value.len, sizeof(big) + 1);
    assert_int_equal(f->value.p[0], '<');
    assert_int_equal(f->value.p[f->value.len - 1], '>');
    loom_msg_unref(m);
}

static void json_check(loom_msg_t *m, const char *tail)
{
    char want[1024], *got;
    size_t len;

    snprintf(want, sizeof(want),
             "{\"id\":%llu,\"time\":%llu,\"topic\":\"t\\\"q\",\"module\":"
             "\"busunit\",\"instance\":\"a\",%s",
             (unsigned long long)loom_msg_id(m),
             (unsigned long long)loom_msg_time_ms(m), tail);
    got = loom_msg_json(m, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

static void test_msg_json(void **state)
{
    env_t *e = env_new("");
    loom_msg_t *m;

    (void)state;
    /* fields in order, control bytes escaped, a non-UTF-8 byte replaced,
     * UTF-8 kept; a UTF-8 body as a string */
    m = loom_msg_new("t\"q");
    loom_msg_add(m, "z", 1, "last?", 5);
    loom_msg_add(m, "a\\b", 3, "l1\nl2\r\t\x01\x7f", 9);
    loom_msg_add(m, "u", 1, "caf\xc3\xa9 \xff!", 8);
    loom_msg_add(m, "empty", 5, "", 0);
    loom_msg_set_body(m, "h\xc3\xa9llo \"x\"\n", 11);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, NULL), LOOM_OK);
    json_check(m, "\"fields\":{\"z\":\"last?\",\"a\\\\b\":"
                  "\"l1\\nl2\\r\\t\\u0001\\u007f\",\"u\":\"caf\xc3\xa9 "
                  "\\ufffd!\",\"empty\":\"\"},\"body\":\"h\xc3\xa9llo "
                  "\\\"x\\\"\\n\"}");
    loom_msg_unref(m);

    /* a body that is not UTF-8 goes as base64 (1, 2 and 3-byte tails) */
    m = loom_msg_new("t\"q");
    loom_msg_set_body(m,
                      "\xff\x00"
                      "ab",
                      4);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, NULL), LOOM_OK);
    json_check(m, "\"fields\":{},\"body_base64\":\"/wBhYg==\"}");
    loom_msg_unref(m);
    m = loom_msg_new("t\"q");
    loom_msg_set_body(m,
                      "\xc3\x28"
                      "abc",
                      5);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, NULL), LOOM_OK);
    json_check(m, "\"fields\":{},\"body_base64\":\"wyhhYmM=\"}");
    loom_msg_unref(m);
    m = loom_msg_new("t\"q");
    loom_msg_set_body(m, "\x80\x81\x82", 3);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, NULL), LOOM_OK);
    json_check(m, "\"fields\":{},\"body_base64\":\"gIGC\"}");
    loom_msg_unref(m);

    /* no body: no body key */
    m = loom_msg_new("t\"q");
    loom_msg_add(m, "k", 1, "v", 1);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, NULL), LOOM_OK);
    json_check(m, "\"fields\":{\"k\":\"v\"}}");
    loom_msg_unref(m);
    env_free(e);
}

/* ---- publishing --------------------------------------------------------- */

static void test_publish_refusals(void **state)
{
    env_t *e = env_new("route \"r\" {\n  from = \"*\"\n"
                       "  to = \"busunit:a:rec\"\n  set = {'text = x'}\n}\n");
    loom_publish_result_t res;
    loom_msg_t *m;

    (void)state;
    memset(&res, 0xff, sizeof(res));
    /* an empty topic: refused, the reference taken (ASan: no leak) */
    assert_int_equal(loom_bus_publish(e->a, loom_msg_new(""), &res),
                     LOOM_ERROR);
    assert_int_equal(res.matched, 0);
    assert_int_equal(res.queued, 0);
    assert_int_equal(loom_bus_publish(e->a, loom_msg_new(NULL), NULL),
                     LOOM_ERROR);
    /* published twice: the second is refused and takes its reference */
    m = loom_msg_new("t");
    loom_msg_ref(m);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.queued, 1);
    memset(&res, 0xff, sizeof(res));
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_ERROR);
    assert_int_equal(res.queued, 0);
    assert_int_equal(res.matched, 0);
    assert_int_equal(loom_msg_id(m), 1); /* stamped once */
    loom_msg_unref(m);
    assert_int_equal(bus_stat(e).published, 1);
    run_until(e, &T.nrec, 1);
    turns(e, 3);
    assert_int_equal(T.nrec, 1); /* one call, not two */
    env_free(e);
}

static void test_publish_counts_and_wanted(void **state)
{
    env_t *e = env_new(
        "route \"r1\" {\n  from = \"busunit:a:t\"\n"
        "  to = \"busunit:b:rec\"\n  set = {'text = r1 ${k}'}\n}\n"
        "route \"r2\" {\n  from = {\"nope\", \"t\"}\n  match = \"k = v\"\n"
        "  to = \"busunit:b:rec\"\n  set = {'text = r2 ${k}'}\n"
        "  queue = 1\n}\n"
        "route \"r3\" {\n  from = \"*:b:*\"\n"
        "  to = \"busunit:a:rec\"\n  set = {'text = r3'}\n}\n");
    loom_publish_result_t res;
    loom_route_stat_t rs;
    loom_bus_sub_t *s1, *s2, *s3;
    int n1 = 0, n2 = 0, n3 = 0;
    loom_msg_t *m;

    (void)state;
    s1 = loom_bus_subscribe(e->a, "t", sub_count, &n1);
    s2 = loom_bus_subscribe(e->a, "busunit:a:*", sub_count, &n2);
    s3 = loom_bus_subscribe(e->a, "x*", sub_count, &n3);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_non_null(s3);
    assert_null(loom_bus_subscribe(e->a, "a:b:c:d", sub_count, &n3));
    assert_null(loom_bus_subscribe(e->a, "", sub_count, &n3));
    assert_null(loom_bus_subscribe(e->a, "a::c", sub_count, &n3));
    assert_int_equal(bus_stat(e).subscribers, 3);

    m = loom_msg_new("t");
    loom_msg_add(m, "k", 1, "v", 1);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.matched, 2);
    assert_int_equal(res.queued, 2);
    assert_int_equal(res.dropped, 0);
    assert_int_equal(res.dropped_loop, 0);
    assert_int_equal(res.subscribers, 2);
    /* r2's queue (1) is full until a dispatch: the second is dropped */
    m = loom_msg_new("t");
    loom_msg_add(m, "k", 1, "v", 1);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.matched, 2);
    assert_int_equal(res.queued, 1);
    assert_int_equal(res.dropped, 1);
    /* a match that fails: r2 does not take it */
    m = loom_msg_new("t");
    loom_msg_add(m, "k", 1, "w", 1);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.matched, 1);
    assert_int_equal(res.queued, 1);
    /* no route takes it; s2 does */
    assert_int_equal(loom_bus_publish(e->a, loom_msg_new("none"), &res),
                     LOOM_OK);
    assert_int_equal(res.matched + res.queued, 0);
    assert_int_equal(res.subscribers, 1);
    assert_int_equal(loom_bus_publish(e->b, loom_msg_new("xy"), &res), LOOM_OK);
    assert_int_equal(res.matched, 1); /* r3 */
    assert_int_equal(res.subscribers, 1);

    assert_true(route_stat(e, "r2", &rs));
    assert_int_equal(rs.matched, 2);
    assert_int_equal(rs.dropped_queue, 1);
    assert_int_equal(rs.dropped_rate, 0);
    assert_int_equal(rs.queued, 1);
    assert_true(route_stat(e, "r1", &rs));
    assert_int_equal(rs.queued, 3);

    assert_true(loom_bus_wanted(e->a, "t"));
    assert_true(loom_bus_wanted(e->a, "none")); /* s2 takes a's anything */
    assert_true(loom_bus_wanted(e->b, "none")); /* r3 takes b's anything */
    assert_true(loom_bus_wanted(e->b, "t"));    /* r2: any instance's t */
    assert_true(loom_bus_wanted(e->b, "xz"));   /* s3 and r3 */
    loom_bus_unsubscribe(s2);
    assert_false(loom_bus_wanted(e->a, "none"));
    /* nothing takes it now */
    assert_int_equal(loom_bus_publish(e->a, loom_msg_new("none"), &res),
                     LOOM_OK);
    assert_int_equal(res.matched + res.queued + res.subscribers, 0);
    assert_int_equal(bus_stat(e).subscribers, 2);

    run_until(e, &T.nrec, 5);
    assert_int_equal(rec_count("r1 v"), 2);
    assert_int_equal(rec_count("r1 w"), 1);
    assert_int_equal(rec_count("r2 v"), 1);
    assert_int_equal(rec_count("r3"), 1);
    assert_int_equal(n1, 3);
    assert_int_equal(n2, 0); /* unsubscribed before the delivery */
    assert_int_equal(n3, 1);
    assert_int_equal(bus_stat(e).delivered_subscribers, 4);
    assert_true(route_stat(e, "r1", &rs));
    assert_int_equal(rs.delivered, 3);
    assert_int_equal(rs.queued, 0);
    assert_int_equal(rs.inflight, 0);
    loom_bus_unsubscribe(s1);
    loom_bus_unsubscribe(s3);
    assert_int_equal(bus_stat(e).subscribers, 0);
    env_free(e);
}

/* ---- loops -------------------------------------------------------------- */

/* A subscriber that records each message's topic and hops. */
typedef struct {
    char topic[16][16];
    size_t hops[16];
    int n;
} seen_t;

static void sub_seen(loom_msg_t *m, void *arg)
{
    seen_t *s = arg;

    if (s->n < 16) {
        snprintf(s->topic[s->n], sizeof(s->topic[0]), "%s", loom_msg_topic(m));
        s->hops[s->n] = loom_msg_hops(m);
        s->n++;
    }
}

static void test_loop_two_routes_feeding_each_other(void **state)
{
    /* ping -> pong -> ping: the second ping has passed "ping" already */
    env_t *e = env_new("route \"ping\" {\n  from = \"ping\"\n"
                       "  to = \"busunit:b:rec\"\n"
                       "  set = {'text = ping ${text}', 'outcome = republish', "
                       "'topic = pong'}\n}\n"
                       "route \"pong\" {\n  from = \"pong\"\n"
                       "  to = \"busunit:a:rec\"\n"
                       "  set = {'text = pong ${text}', 'outcome = republish', "
                       "'topic = ping'}\n}\n");
    loom_route_stat_t rs;
    seen_t seen = {0};
    loom_bus_sub_t *s = loom_bus_subscribe(e->a, "*", sub_seen, &seen);

    (void)state;
    publish_text(e->a, "ping", "0");
    run_until(e, &seen.n, 3);
    turns(e, 5);
    assert_int_equal(T.nrec, 2);
    assert_string_equal(T.rec[0].text, "ping 0");
    assert_int_equal(T.rec[0].hops, 0);
    assert_string_equal(T.rec[1].text, "pong ping 0");
    assert_int_equal(T.rec[1].hops, 1);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.topic[0], "ping");
    assert_int_equal(seen.hops[0], 0);
    assert_string_equal(seen.topic[1], "pong");
    assert_int_equal(seen.hops[1], 1);
    assert_string_equal(seen.topic[2], "ping");
    assert_int_equal(seen.hops[2], 2);
    assert_true(route_stat(e, "ping", &rs));
    assert_int_equal(rs.matched, 2);
    assert_int_equal(rs.dropped_loop, 1);
    assert_int_equal(rs.delivered, 1);
    assert_true(route_stat(e, "pong", &rs));
    assert_int_equal(rs.dropped_loop, 0);
    assert_int_equal(bus_stat(e).dropped_hops, 0);
    loom_bus_unsubscribe(s);
    env_free(e);
}

static void test_loop_too_many_hops(void **state)
{
    char routes[4096];
    size_t n = 0;
    int i;
    loom_route_stat_t rs;
    env_t *e;

    (void)state;
    /* h0 takes t0 and publishes t1 ... h8 takes t8 */
    for (i = 0; i <= LOOM_BUS_MAX_HOPS; i++)
        n += (size_t)snprintf(routes + n, sizeof(routes) - n,
                              "route \"h%d\" {\n  from = \"t%d\"\n"
                              "  to = \"busunit:a:rec\"\n"
                              "  set = {'text = h%d', 'outcome = republish', "
                              "'topic = t%d'}\n}\n",
                              i, i, i, i + 1);
    e = env_new(routes);
    publish_text(e->a, "t0", "x");
    run_until(e, &T.nrec, LOOM_BUS_MAX_HOPS);
    turns(e, 5);
    assert_int_equal(T.nrec, LOOM_BUS_MAX_HOPS);
    for (i = 0; i < LOOM_BUS_MAX_HOPS; i++)
        assert_int_equal(T.rec[i].hops, (size_t)i);
    assert_true(route_stat(e, "h8", &rs));
    assert_int_equal(rs.matched, 1);
    assert_int_equal(rs.dropped_loop, 1);
    assert_int_equal(rs.delivered, 0);
    assert_true(route_stat(e, "h7", &rs));
    assert_int_equal(rs.delivered, 1);
    assert_int_equal(rs.dropped_loop, 0);
    assert_int_equal(bus_stat(e).dropped_hops, 1);
    env_free(e);
}

/* loom_msg_caused_by from outside the action (later, with the call held),
 * and trails that are already full. */
static void test_loop_caused_by(void **state)
{
    env_t *e = env_new("route \"hold\" {\n  from = \"c\"\n"
                       "  to = \"busunit:a:rec\"\n"
                       "  set = {'text = held ${text}', 'outcome = hold'}\n}\n"
                       "route \"d\" {\n  from = \"d\"\n"
                       "  to = \"busunit:b:rec\"\n  set = {'text = d'}\n}\n");
    loom_publish_result_t res;
    loom_action_call_t *call;
    loom_route_stat_t rs;
    loom_msg_t *m;

    (void)state;
    publish_text(e->a, "c", "1");
    run_until(e, &T.nheld, 1);
    call = T.held[0].call;
    assert_string_equal(loom_action_route(call), "hold");
    assert_int_equal(loom_msg_hops(loom_action_msg(call)), 0);

    /* caused by the call: "hold" does not take it again */
    m = loom_msg_new("c");
    loom_msg_caused_by(m, call);
    assert_int_equal(loom_msg_hops(m), 1);
    loom_msg_ref(m);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.matched, 1);
    assert_int_equal(res.dropped_loop, 1);
    assert_int_equal(res.queued, 0);
    assert_int_equal(loom_msg_hops(m), 1);
    loom_msg_unref(m);
    /* another route takes it */
    m = loom_msg_new("d");
    loom_msg_caused_by(m, call);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.queued, 1);
    assert_int_equal(res.dropped_loop, 0);
    run_until(e, &T.nrec, 2);
    assert_int_equal(rec_find("d")->hops, 1);

    /* a message built with a full trail is dropped by any route */
    m = loom_msg_new("d");
    {
        loom_msg_t *cause = loom_msg_new("x");
        int i;

        for (i = 0; i < LOOM_BUS_MAX_HOPS; i++)
            cause->trail[cause->hops++] = (uint32_t)(1000 + i);
        loom_msg_inherit(m, cause, 77);
        loom_msg_unref(cause);
    }
    assert_int_equal(loom_msg_hops(m), LOOM_BUS_MAX_HOPS);
    assert_int_equal(loom_bus_publish(e->a, m, &res), LOOM_OK);
    assert_int_equal(res.dropped_loop, 1);
    assert_int_equal(res.queued, 0);
    assert_true(route_stat(e, "d", &rs));
    assert_int_equal(rs.dropped_loop, 1);
    assert_true(route_stat(e, "hold", &rs));
    assert_int_equal(rs.dropped_loop, 1);
    assert_int_equal(bus_stat(e).dropped_hops, 1);

    assert_int_equal(release_held(LOOM_ACT_DONE), 1);
    turns(e, 3);
    assert_true(route_stat(e, "hold", &rs));
    assert_int_equal(rs.delivered, 1);
    assert_int_equal(rs.inflight, 0);
    env_free(e);
}

/* An action that ends its call and then publishes, still inside the call:
 * the message it publishes still inherits the call's trail (and nothing
 * reads the ended call: ASan). */
static void test_loop_publish_after_done_inside_call(void **state)
{
    env_t *e = env_new("route \"ping\" {\n  from = \"ping\"\n"
                       "  to = \"busunit:b:rec\"\n"
                       "  set = {'text = ping', 'outcome = done-publish', "
                       "'topic = ping'}\n}\n");
    loom_route_stat_t rs;
    seen_t seen = {0};
    loom_bus_sub_t *s = loom_bus_subscribe(e->a, "ping", sub_seen, &seen);

    (void)state;
    publish_text(e->a, "ping", "0");
    run_until(e, &seen.n, 2);
    turns(e, 5);
    assert_int_equal(T.nrec, 1);
    assert_int_equal(seen.hops[1], 1);
    assert_true(route_stat(e, "ping", &rs));
    assert_int_equal(rs.dropped_loop, 1);
    assert_int_equal(rs.delivered, 1);
    loom_bus_unsubscribe(s);
    env_free(e);
}

/* ---- the route table from the config ------------------------------------ */

static void test_table_resolved(void **state)
{
    env_t *e = env_new(
        "route \"one\" {\n  from = {\"busunit:b:t\", \"busunit:a:u*\"}\n"
        "  match = {\"n >= 2\", \"s ~ ^a\", \"!skip\"}\n"
        "  to = {\"busunit:a:rec\", \"busunit:b:rec\"}\n"
        "  set = {'text = to ${@instance}:${s|upper}:${n}'}\n"
        "  action \"busunit:b:rec\" {\n"
        "    set = {'text = act ${missing|default:none}', 'outcome = done'}\n"
        "  }\n}\n"
        "route \"two\" {\n  from = \"t\"\n  to = \"busunit:a:rec\"\n"
        "  set = {'text=  two $${s}'}\n}\n");
    loom_route_stat_t st[4];
    loom_msg_t *m;

    (void)state;
    assert_int_equal(loom_bus_routes(e->srv, st, 4), 2);
    assert_string_equal(st[0].name, "one");
    assert_string_equal(st[1].name, "two");
    assert_int_equal(loom_bus_routes(e->srv, st, 1), 2); /* fills 1 */

    m = loom_msg_new("t");
    loom_msg_add(m, "n", 1, "3", 1);
    loom_msg_add(m, "s", 1, "abc", 3);
    loom_bus_publish(e->b, m, NULL);
    m = loom_msg_new("t"); /* n too small */
    loom_msg_add(m, "n", 1, "1", 1);
    loom_msg_add(m, "s", 1, "abc", 3);
    loom_bus_publish(e->b, m, NULL);
    m = loom_msg_new("u1"); /* from a */
    loom_msg_add(m, "n", 1, "2", 1);
    loom_msg_add(m, "s", 1, "ax", 2);
    loom_bus_publish(e->a, m, NULL);
    m = loom_msg_new("u2"); /* skip is there */
    loom_msg_add(m, "n", 1, "2", 1);
    loom_msg_add(m, "s", 1, "ax", 2);
    loom_msg_add(m, "skip", 4, "", 0);
    loom_bus_publish(e->a, m, NULL);
    m = loom_msg_new("t"); /* not from b: only "two" */
    loom_msg_add(m, "s", 1, "zz", 2);
    loom_bus_publish(e->a, m, NULL);
    run_until(e, &T.nrec, 2 * 3 + 3);
    turns(e, 3);
    assert_int_equal(T.nrec, 9);
    /* three calls per message "one" takes, in `to` then `action` order,
     * and each action of `to` on its own instance */
    assert_int_equal(rec_count("to b:ABC:3"), 2);
    assert_int_equal(rec_count("to a:AX:2"), 2);
    assert_int_equal(rec_count("act none"), 2);
    assert_int_equal(rec_count("two $${s}"), 0);
    assert_int_equal(rec_count("two ${s}"), 3);
    assert_string_equal(T.rec[0].text, "to b:ABC:3");
    assert_string_equal(T.rec[0].inst, "a");
    assert_string_equal(T.rec[1].text, "to b:ABC:3");
    assert_string_equal(T.rec[1].inst, "b");
    assert_string_equal(T.rec[2].text, "act none");
    assert_string_equal(T.rec[2].inst, "b");
    env_free(e);
}

/* Route names whose ids collide are refused at FILE:LINE (found here by
 * search: among "r0" ... "r1099999" FNV-1a has collisions). */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_table_id_collision(void **state)
{
    enum { N = 1100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    char name[2][16], text[512], err[512] = "";
    loom_config_t *cfg;
    size_t i;
    int found = 0;

    (void)state;
    assert_non_null(v);
    for (i = 0; i < N; i++) {
        snprintf(name[0], sizeof(name[0]), "r%zu", i);
        v[i] = (uint64_t)bus_route_id(name[0]) << 32 | i;
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    for (i = 1; i < N && !found; i++) {
        if (v[i] >> 32 == v[i - 1] >> 32) {
            snprintf(name[0], sizeof(name[0]), "r%u",
                     (unsigned)(v[i - 1] & 0xffffffffu));
            snprintf(name[1], sizeof(name[1]), "r%u",
                     (unsigned)(v[i] & 0xffffffffu));
            found = 1;
        }
    }
    free(v);
    assert_true(found);
    assert_int_equal(bus_route_id(name[0]), bus_route_id(name[1]));
    snprintf(text, sizeof(text),
             "load_module(\"%s/tests/modules/.libs/busunit.so\")\n"
             "busunit \"a\" {}\n"
             "route \"%s\" {\n  from = \"t\"\n  to = \"busunit:a:rec\"\n"
             "  set = {'text = x'}\n}\n"
             "route \"%s\" {\n  from = \"t\"\n  to = \"busunit:a:rec\"\n"
             "  set = {'text = x'}\n}\n",
             getenv("LOOM_BUILDDIR") ? getenv("LOOM_BUILDDIR") : ".", name[0],
             name[1]);
    cfg = loom_config_load("[text]", text, err, sizeof(err));
    assert_null(cfg);
    assert_non_null(strstr(err, "[text]:8:"));
    assert_non_null(strstr(err, "collides with route"));
}

/* ---- reload -------------------------------------------------------------- */

static const char reload_v1[] =
    "route \"keep\" {\n  from = \"t\"\n  to = \"busunit:a:rec\"\n"
    "  set = {'text = v1 ${x}', 'outcome = hold'}\n  inflight = 1\n}\n"
    "route \"gone\" {\n  from = \"g\"\n  to = \"busunit:a:rec\"\n"
    "  set = {'text = gone ${x}', 'outcome = hold'}\n}\n";
static const char reload_v2[] =
    "route \"new\" {\n  from = \"t\"\n  to = \"busunit:b:rec\"\n"
    "  set = {'text = new ${x}'}\n}\n"
    "route \"keep\" {\n  from = \"t\"\n  to = \"busunit:a:rec\"\n"
    "  set = {'text = v2 ${x}'}\n}\n";

static void pub_x(loom_instance_t *inst, const char *topic, const char *x)
{
    loom_msg_t *m = loom_msg_new(topic);

    loom_msg_add(m, "x", 1, x, strlen(x));
    assert_int_equal(loom_bus_publish(inst, m, NULL), LOOM_OK);
}

static void test_reload_swaps_table(void **state)
{
    env_t *e = env_new(reload_v1);
    loom_route_stat_t st[4], rs;
    int before;

    (void)state;
    pub_x(e->a, "t", "1");
    pub_x(e->a, "t", "2");
    pub_x(e->a, "t", "3");
    pub_x(e->a, "g", "1");
    run_until(e, &T.nheld, 2);
    turns(e, 3);
    /* keep holds one call (inflight 1), two wait; gone holds one */
    assert_int_equal(T.nheld, 2);
    assert_true(route_stat(e, "keep", &rs));
    assert_int_equal(rs.inflight, 1);
    assert_int_equal(rs.queued, 2);
    assert_int_equal(rs.matched, 3);

    assert_int_equal(env_reload(e, two_insts, reload_v2), LOOM_OK);
    assert_int_equal(loom_bus_routes(e->srv, st, 4), 2);
    assert_string_equal(st[0].name, "new");
    assert_string_equal(st[1].name, "keep");
    /* counters carry over by name; the new route's queue is its own */
    assert_int_equal(st[1].matched, 3);
    assert_int_equal(st[1].queued, 0);
    assert_int_equal(st[1].inflight, 0);
    assert_int_equal(st[0].matched, 0);
    assert_false(route_stat(e, "gone", &rs));

    /* new messages meet the new table */
    pub_x(e->a, "t", "4");
    run_until(e, &T.nrec, 4);
    turns(e, 3);
    assert_int_equal(rec_count("v2 4"), 1);
    assert_int_equal(rec_count("new 4"), 1);
    assert_int_equal(rec_count("v1 2"), 0); /* still behind the held one */

    /* the old routes finish what they had, as they were (template v1,
     * outcome hold, inflight 1) */
    before = T.nheld;
    assert_int_equal(release_held(LOOM_ACT_DONE), 2);
    run_until(e, &T.nheld, before + 1);
    assert_string_equal(T.rec[T.nrec - 1].text, "v1 2");
    assert_int_equal(release_held(LOOM_ACT_DONE), 1);
    run_until(e, &T.nheld, before + 2);
    assert_string_equal(T.rec[T.nrec - 1].text, "v1 3");
    assert_int_equal(release_held(LOOM_ACT_RETRY), 1); /* retried: old too */
    run_until(e, &T.nheld, before + 3);
    assert_string_equal(T.rec[T.nrec - 1].text, "v1 3");
    assert_int_equal(release_held(LOOM_ACT_DONE), 1);
    turns(e, 5);
    assert_int_equal(held_open(), 0);
    assert_int_equal(rec_count("gone 1"), 1);

    /* the old "keep" counted into the same counters; "gone" is gone */
    assert_true(route_stat(e, "keep", &rs));
    assert_int_equal(rs.matched, 4);
    assert_int_equal(rs.delivered, 4); /* 1 2 3 old, 4 new */
    assert_int_equal(rs.retried, 1);
    assert_int_equal(rs.inflight, 0);
    assert_false(route_stat(e, "gone", &rs));

    /* a reload back brings "gone" back with fresh counters */
    assert_int_equal(env_reload(e, two_insts, reload_v1), LOOM_OK);
    assert_true(route_stat(e, "gone", &rs));
    assert_int_equal(rs.matched, 0);
    assert_int_equal(rs.delivered, 0);
    assert_true(route_stat(e, "keep", &rs));
    assert_int_equal(rs.delivered, 4);
    assert_false(route_stat(e, "new", &rs));
    env_free(e);
}

/* A broken table on reload: the running one stays, counters and all. */
static void test_reload_broken_keeps_table(void **state)
{
    env_t *e = env_new(reload_v2);
    loom_route_stat_t rs;

    (void)state;
    pub_x(e->a, "t", "1");
    run_until(e, &T.nrec, 2);
    assert_int_equal(env_reload(e, two_insts,
                                "route \"keep\" {\n  from = \"t\"\n"
                                "  to = \"busunit:a:rec\"\n"
                                "  set = {'text = ${x|nosuch}'}\n}\n"),
                     LOOM_ERROR);
    assert_true(route_stat(e, "new", &rs));
    assert_int_equal(rs.delivered, 1);
    pub_x(e->a, "t", "2");
    run_until(e, &T.nrec, 4);
    assert_int_equal(rec_count("v2 2"), 1);
    assert_int_equal(rec_count("new 2"), 1);
    env_free(e);
}

/* A reload that removes the instance holding calls: its stop ends them
 * (failed), its subscriptions end before its stop runs, and calls of the
 * routes to it wait for retries. */
static void test_reload_removes_instance(void **state)
{
    env_t *e = env_new("route \"tob\" {\n  from = \"t\"\n"
                       "  to = \"busunit:b:rec\"\n"
                       "  set = {'text = b ${x}', 'outcome = hold'}\n}\n");
    loom_route_stat_t rs;
    int nb = 0, na = 0;

    (void)state;
    assert_non_null(loom_bus_subscribe(e->b, "t", sub_count, &nb));
    assert_non_null(loom_bus_subscribe(e->a, "t", sub_count, &na));
    pub_x(e->a, "t", "1");
    run_until(e, &T.nheld, 1);
    assert_int_equal(nb, 1);
    assert_int_equal(bus_stat(e).subscribers, 2);
    assert_int_equal(env_reload(e, "busunit \"a\" {}\n", ""), LOOM_OK);
    turns(e, 3);
    assert_null(e->b);
    assert_int_equal(T.stops, 1);
    assert_int_equal(held_open(), 0);
    assert_int_equal(T.ends, 1);
    pub_x(e->a, "t", "2");
    run_until(e, &na, 2);
    assert_int_equal(nb, 1);
    assert_false(route_stat(e, "tob", &rs));
    env_free(e);
}

/* A stopping instance's stop may still unsubscribe what it holds (the
 * handle is valid until then), and a subscription made while it stops
 * ends with it too: its callback never sees a message after the stop. */
static void test_stop_and_subscriptions(void **state)
{
    env_t *e = env_new("");
    int nb = 0, na = 0;

    (void)state;
    T.stop_unsub = loom_bus_subscribe(e->b, "t", sub_count, &nb);
    assert_non_null(T.stop_unsub);
    assert_non_null(loom_bus_subscribe(e->b, "*", sub_count, &nb));
    assert_non_null(loom_bus_subscribe(e->a, "t", sub_count, &na));
    T.stop_subscribes = 1;
    assert_int_equal(bus_stat(e).subscribers, 3);
    assert_int_equal(env_reload(e, "busunit \"a\" {}\n", ""), LOOM_OK);
    turns(e, 3);
    assert_null(e->b);
    assert_int_equal(T.stops, 1);
    assert_null(T.stop_unsub);
    assert_int_equal(bus_stat(e).subscribers, 1);
    T.stop_subscribes = 0;
    pub_x(e->a, "t", "1");
    run_until(e, &na, 1);
    turns(e, 3);
    assert_int_equal(nb, 0);
    assert_int_equal(T.after_stop, 0);
    env_free(e);
}

/* ---- stop ---------------------------------------------------------------- */

static void test_free_with_work_everywhere(void **state)
{
    env_t *e = env_new("route \"q\" {\n  from = \"q\"\n"
                       "  to = \"busunit:a:rec\"\n"
                       "  set = {'text = q ${x}', 'outcome = hold'}\n"
                       "  inflight = 2\n  queue = 50\n}\n"
                       "route \"r\" {\n  from = \"r\"\n"
                       "  to = {\"busunit:b:rec\", \"busunit:a:rec\"}\n"
                       "  set = {'text = r ${x}', 'outcome = retry'}\n}\n"
                       "route \"h\" {\n  from = \"h\"\n"
                       "  to = \"busunit:b:rec\"\n"
                       "  set = {'text = h ${x}', 'outcome = hold'}\n}\n");
    int n = 0, i;
    char x[8];

    (void)state;
    assert_non_null(loom_bus_subscribe(e->a, "*", sub_count, &n));
    for (i = 0; i < 10; i++) {
        snprintf(x, sizeof(x), "%d", i);
        pub_x(e->a, "q", x);
    }
    pub_x(e->a, "r", "1");
    pub_x(e->b, "h", "1");
    run_until(e, &T.nheld, 3);
    assert_int_equal(rec_count("r 1"), 2); /* both in retry wait now */
    /* more work that nobody will see: queued messages, pending
     * subscriber deliveries, calls due to start on the next turn */
    pub_x(e->a, "q", "late");
    pub_x(e->a, "r", "late");
    pub_x(e->a, "h", "late");
    assert_int_equal(T.nheld, 3);
    env_free(e);
    /* every held call ended once, by its instance's stop */
    assert_int_equal(T.stops, 2);
    assert_int_equal(held_open(), 0);
    assert_int_equal(T.ends, 2 + 3);
}

/* The server freed while a held call's message is in a draining route. */
static void test_free_while_draining(void **state)
{
    env_t *e = env_new(reload_v1);

    (void)state;
    pub_x(e->a, "t", "1");
    pub_x(e->a, "t", "2");
    pub_x(e->a, "g", "1");
    run_until(e, &T.nheld, 2);
    assert_int_equal(env_reload(e, two_insts, ""), LOOM_OK);
    pub_x(e->a, "t", "3"); /* no route now */
    turns(e, 3);
    assert_int_equal(T.nrec, 2);
    env_free(e);
    assert_int_equal(held_open(), 0);
    assert_int_equal(T.ends, 2);
}

/* ---- subscribers ----------------------------------------------------------
 */

typedef struct sub_s {
    loom_bus_sub_t *sub;
    struct sub_s *victim; /* unsubscribed by this one's callback */
    int self;             /* unsubscribe self after this many */
    int gone;             /* unsubscribed: a call after it is the bug */
    int late;             /* calls after gone */
    uint64_t ids[16];
    int n;
} sub_t;

static void sub_cb(loom_msg_t *m, void *arg)
{
    sub_t *s = arg;

    if (s->gone)
        s->late++;
    if (s->n < 16)
        s->ids[s->n] = loom_msg_id(m);
    s->n++;
    if (s->self && s->n == s->self && !s->gone) {
        s->gone = 1;
        loom_bus_unsubscribe(s->sub);
    }
    if (s->victim && !s->victim->gone) {
        s->victim->gone = 1;
        loom_bus_unsubscribe(s->victim->sub);
    }
}

static void test_subscribers(void **state)
{
    env_t *e = env_new("");
    sub_t s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0};
    uint64_t ids[4];
    int i;

    (void)state;
    s1.self = 1;     /* gone after its first message */
    s3.victim = &s4; /* s3 ends s4 during the first delivery */
    s4.victim = &s3; /* ... or the other way round, whichever runs first */
    s1.sub = loom_bus_subscribe(e->a, "t", sub_cb, &s1);
    s2.sub = loom_bus_subscribe(e->a, "busunit:*:t", sub_cb, &s2);
    s3.sub = loom_bus_subscribe(e->a, "t", sub_cb, &s3);
    s4.sub = loom_bus_subscribe(e->a, "t", sub_cb, &s4);
    s5.sub = loom_bus_subscribe(e->b, "*:a:*", sub_cb, &s5);
    assert_int_equal(bus_stat(e).subscribers, 5);
    for (i = 0; i < 4; i++) {
        loom_msg_t *m = loom_msg_new("t");

        loom_msg_ref(m);
        loom_bus_publish(e->a, m, NULL);
        ids[i] = loom_msg_id(m);
        loom_msg_unref(m);
    }
    run_until(e, &s2.n, 4);
    turns(e, 3);
    /* in publishing order, each once */
    assert_int_equal(s2.n, 4);
    assert_int_equal(s5.n, 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(s2.ids[i], ids[i]);
        assert_int_equal(s5.ids[i], ids[i]);
    }
    assert_int_equal(s1.n, 1);
    assert_int_equal(s1.ids[0], ids[0]);
    /* of s3 and s4 one ended the other during the first delivery: the
     * survivor has all four, the other at most the first, never later */
    assert_int_equal(s3.late + s4.late + s1.late, 0);
    assert_int_equal(s3.gone + s4.gone, 1);
    assert_int_equal((s3.gone ? s4.n : s3.n), 4);
    assert_true((s3.gone ? s3.n : s4.n) <= 1);
    assert_int_equal(bus_stat(e).subscribers, 3);
    assert_int_equal(bus_stat(e).delivered_subscribers,
                     (uint64_t)(s1.n + s2.n + s3.n + s4.n + s5.n));
    loom_bus_unsubscribe(s2.sub);
    loom_bus_unsubscribe(s3.gone ? s4.sub : s3.sub);
    loom_bus_unsubscribe(s5.sub);
    assert_int_equal(bus_stat(e).subscribers, 0);
    env_free(e);
}

/* A subscriber that publishes from its callback: the new message comes
 * on a later dispatch, after the ones before it. */
static void sub_republish(loom_msg_t *m, void *arg)
{
    sub_t *s = arg;

    if (s->n < 16)
        s->ids[s->n] = loom_msg_id(m);
    s->n++;
}

static loom_instance_t *republish_inst;

static void sub_chain(loom_msg_t *m, void *arg)
{
    int *n = arg;

    (*n)++;
    if (strcmp(loom_msg_topic(m), "t") == 0)
        publish_text(republish_inst, "u", "x");
}

static void test_subscriber_publishes(void **state)
{
    env_t *e = env_new("");
    sub_t all = {0};
    int n = 0, i;

    (void)state;
    republish_inst = e->b;
    all.sub = loom_bus_subscribe(e->a, "*", sub_republish, &all);
    assert_non_null(loom_bus_subscribe(e->a, "t", sub_chain, &n));
    publish_text(e->a, "t", "1");
    publish_text(e->a, "t", "2");
    run_until(e, &all.n, 4);
    turns(e, 3);
    assert_int_equal(all.n, 4);
    assert_int_equal(n, 2);
    for (i = 1; i < 4; i++)
        assert_true(all.ids[i] > all.ids[i - 1]);
    env_free(e);
}

/* Messages waiting for subscribers are bounded: a publisher that outruns
 * the reactor loses the oldest. */
static void test_subscriber_backlog_bounded(void **state)
{
    env_t *e = env_new("");
    int n = 0, i;
    enum { EXTRA = 10, BACKLOG = 65536 };

    (void)state;
    assert_non_null(loom_bus_subscribe(e->a, "t", sub_count, &n));
    for (i = 0; i < BACKLOG + EXTRA; i++)
        loom_bus_publish(e->a, loom_msg_new("t"), NULL);
    run_until(e, &n, BACKLOG);
    turns(e, 3);
    assert_int_equal(n, BACKLOG);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_fields_and_pseudo_fields),
        cmocka_unit_test(test_msg_addf_long),
        cmocka_unit_test(test_msg_json),
        cmocka_unit_test(test_publish_refusals),
        cmocka_unit_test(test_publish_counts_and_wanted),
        cmocka_unit_test(test_loop_two_routes_feeding_each_other),
        cmocka_unit_test(test_loop_too_many_hops),
        cmocka_unit_test(test_loop_caused_by),
        cmocka_unit_test(test_loop_publish_after_done_inside_call),
        cmocka_unit_test(test_table_resolved),
        cmocka_unit_test(test_table_id_collision),
        cmocka_unit_test(test_reload_swaps_table),
        cmocka_unit_test(test_reload_broken_keeps_table),
        cmocka_unit_test(test_reload_removes_instance),
        cmocka_unit_test(test_stop_and_subscriptions),
        cmocka_unit_test(test_free_with_work_everywhere),
        cmocka_unit_test(test_free_while_draining),
        cmocka_unit_test(test_subscribers),
        cmocka_unit_test(test_subscriber_publishes),
        cmocka_unit_test(test_subscriber_backlog_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

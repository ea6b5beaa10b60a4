/*
 * test_reactor.c - the reactor facade (loom_reactor.h): timers fire once,
 * in deadline order and in arming order for equal deadlines, never after
 * being disarmed or after their owner went away; a timer re-armed with 0
 * from its callback waits for the next turn; deferred calls run in order,
 * on a later turn, exactly once (also when their instance stops first).
 *
 * Each test runs a real server on a real libevent base; the event loop is
 * driven one turn at a time (EVLOOP_ONCE / EVLOOP_NONBLOCK).  Nothing here
 * measures time: only orders and counts are checked.
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

#include "core.h"
#include "loom_module.h"
#include "server.h"

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_instance_t *inst;
} env_t;

static const char conf_text[] = "echo \"main\" {\n"
                                "    listen = {\"tcp:7007\"}\n"
                                "}\n";

static int env_setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));
    char err[512] = "";

    if (e == NULL)
        return -1;
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    if (loom_server_start_text(e->srv, conf_text, err, sizeof(err)) !=
        LOOM_OK) {
        print_message("# start failed: %s\n", err);
        return -1;
    }
    e->inst = loom_server_instance(e->srv, "echo", "main");
    if (e->inst == NULL)
        return -1;
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env_t *e = *state;

    if (e->srv)
        loom_server_free(e->srv);
    event_base_free(e->base);
    free(e);
    return 0;
}

/* ---- a log of what fired ------------------------------------------------ */

#define LOG_MAX 4096

typedef struct {
    int ids[LOG_MAX];
    size_t n;
} fire_log_t;

typedef struct {
    loom_timer_t t;
    fire_log_t *log;
    int id;
    int rearm; /* re-arm with 0 this many more times */
} tt_t;

static void tt_fire(loom_timer_t *t, void *arg)
{
    tt_t *x = arg;

    assert_ptr_equal(t, &x->t);
    assert_int_equal(loom_timer_armed(t), 0);
    assert_true(x->log->n < LOG_MAX);
    x->log->ids[x->log->n++] = x->id;
    if (x->rearm > 0) {
        x->rearm--;
        loom_timer_arm(t, 0);
    }
}

/* Run turns until nothing is armed any more (bounded). */
static void run_until_idle(env_t *e, tt_t *tt, size_t n)
{
    int turns;

    for (turns = 0; turns < 100000; turns++) {
        size_t i, armed = 0;

        for (i = 0; i < n; i++)
            armed += (size_t)loom_timer_armed(&tt[i].t);
        if (armed == 0)
            return;
        event_base_loop(e->base, EVLOOP_ONCE);
    }
    fail_msg("timers still armed after 100000 turns");
}

/* ---- timers ------------------------------------------------------------- */

static void test_equal_deadlines_fire_in_arming_order(void **state)
{
    env_t *e = *state;
    fire_log_t log = {{0}, 0};
    tt_t tt[8];
    int order[8] = {3, 1, 7, 0, 5, 2, 6, 4};
    size_t i;

    memset(tt, 0, sizeof(tt));
    for (i = 0; i < 8; i++) {
        tt[i].log = &log;
        tt[i].id = (int)i;
        loom_timer_init(&tt[i].t, e->inst, tt_fire, &tt[i]);
    }
    for (i = 0; i < 8; i++)
        loom_timer_arm(&tt[order[i]].t, 0);
    run_until_idle(e, tt, 8);
    assert_int_equal(log.n, 8);
    for (i = 0; i < 8; i++)
        assert_int_equal(log.ids[i], order[i]);
}

static void test_deadline_order_and_disarm(void **state)
{
    env_t *e = *state;
    fire_log_t log = {{0}, 0};
    enum { N = 600 };
    static tt_t tt[N];
    int gone[N];
    size_t i;

    memset(tt, 0, sizeof(tt));
    srandom(42);
    for (i = 0; i < N; i++) {
        tt[i].log = &log;
        tt[i].id = (int)i;
        gone[i] = 0;
        loom_timer_init(&tt[i].t, e->inst, tt_fire, &tt[i]);
        loom_timer_arm(&tt[i].t, (uint64_t)(random() % 40));
    }
    /* move some deadlines, disarm others */
    for (i = 0; i < N; i += 7)
        loom_timer_arm(&tt[i].t, (uint64_t)(random() % 40));
    for (i = 3; i < N; i += 5) {
        loom_timer_disarm(&tt[i].t);
        gone[i] = 1;
    }
    loom_timer_disarm(&tt[3].t); /* twice is harmless */
    run_until_idle(e, tt, N);
    for (i = 0; i < log.n; i++)
        assert_int_equal(gone[log.ids[i]], 0);
    for (i = 0; i < N; i++) {
        size_t k, seen = 0;

        for (k = 0; k < log.n; k++)
            seen += log.ids[k] == (int)i;
        assert_int_equal(seen, gone[i] ? 0 : 1);
    }
    /* fired in (deadline, arming order) order, the deadlines being those
     * the timers had when the loop started */
    for (i = 1; i < log.n; i++) {
        const loom_timer_t *a = &tt[log.ids[i - 1]].t, *b = &tt[log.ids[i]].t;

        assert_true(a->when < b->when ||
                    (a->when == b->when && a->seq < b->seq));
    }
}

static void test_rearm_zero_waits_for_next_turn(void **state)
{
    env_t *e = *state;
    fire_log_t log = {{0}, 0};
    tt_t tt[1];

    memset(tt, 0, sizeof(tt));
    tt[0].log = &log;
    tt[0].rearm = 3;
    loom_timer_init(&tt[0].t, e->inst, tt_fire, &tt[0]);
    loom_timer_arm(&tt[0].t, 0);
    assert_int_equal(log.n, 0); /* never inside arm */
    event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(log.n, 1);
    event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(log.n, 2);
    run_until_idle(e, tt, 1);
    assert_int_equal(log.n, 4);
}

static void test_conn_timer_disarmed_on_close(void **state)
{
    env_t *e = *state;
    fire_log_t log = {{0}, 0};
    tt_t *x = calloc(1, sizeof(*x));
    loom_conn_t *c = loom_mem_conn_new(e->inst);
    int turns;

    x->log = &log;
    loom_timer_init_conn(&x->t, c, tt_fire, x);
    loom_timer_arm(&x->t, 0);
    loom_conn_abort(c);
    for (turns = 0; turns < 5; turns++)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
    assert_int_equal(loom_timer_armed(&x->t), 0);
    assert_int_equal(log.n, 0);
    /* arming after the owner went away does nothing */
    loom_timer_arm(&x->t, 0);
    assert_int_equal(loom_timer_armed(&x->t), 0);
    free(x); /* safe: nothing refers to it any more */
    loom_mem_conn_free(c);
    event_base_loop(e->base, EVLOOP_NONBLOCK);
    assert_int_equal(log.n, 0);
}

static void fail_fire(loom_timer_t *t, void *arg)
{
    (void)t;
    (void)arg;
    fail_msg("a timer fired after its instance stopped");
}

static void test_instance_timer_disarmed_at_stop(void **state)
{
    env_t *e = *state;
    tt_t *x = calloc(1, sizeof(*x));

    loom_timer_init(&x->t, e->inst, fail_fire, x);
    loom_timer_arm(&x->t, 0);
    loom_server_free(e->srv); /* stops the instance */
    e->srv = NULL;
    assert_int_equal(loom_timer_armed(&x->t), 0);
    free(x);
    event_base_loop(e->base, EVLOOP_NONBLOCK);
}

/* ---- deferred calls ----------------------------------------------------- */

typedef struct {
    env_t *e;
    fire_log_t *log;
    int id;
    int again; /* queue another call from inside this one */
} dd_t;

static void dd_run(void *arg)
{
    dd_t *d = arg;

    d->log->ids[d->log->n++] = d->id;
    if (d->again) {
        d->again = 0;
        d->id += 100;
        loom_defer(d->e->inst, dd_run, d);
    }
}

static void test_defer_order_and_turns(void **state)
{
    env_t *e = *state;
    fire_log_t log = {{0}, 0};
    dd_t d[4];
    size_t i;

    memset(d, 0, sizeof(d));
    for (i = 0; i < 4; i++) {
        d[i].e = e;
        d[i].log = &log;
        d[i].id = (int)i;
        d[i].again = i == 1;
        loom_defer(e->inst, dd_run, &d[i]);
    }
    assert_int_equal(log.n, 0); /* never inside loom_defer */
    /* one pass of the loop (a poll for I/O, then what is due) */
    event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(log.n, 4);
    for (i = 0; i < 4; i++)
        assert_int_equal(log.ids[i], (int)i);
    event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(log.n, 5);
    assert_int_equal(log.ids[4], 101);
}

static void test_defer_runs_once_when_stopped_first(void **state)
{
    env_t *e = *state;
    fire_log_t log = {{0}, 0};
    dd_t d = {e, &log, 7, 0};

    loom_defer(e->inst, dd_run, &d);
    loom_server_free(e->srv);
    e->srv = NULL;
    assert_int_equal(log.n, 1);
    assert_int_equal(log.ids[0], 7);
    event_base_loop(e->base, EVLOOP_NONBLOCK);
    assert_int_equal(log.n, 1);
}

static void test_now_ms_monotonic(void **state)
{
    uint64_t a = loom_now_ms(), b = loom_now_ms();

    (void)state;
    assert_true(b >= a);
}

/* ---- what an instance asks for while it stops ---------------------------
 * A forged instance of a module with a stop callback (core internals: this
 * is a core test) is removed by a reload; whatever it submits or defers
 * while stopping is delivered while it still exists (ASan catches a late
 * delivery as a use after free of its state), each exactly once. */

typedef struct {
    char log[16][16];
    int n;
    int mode;
    loom_instance_t *inst;
} stopper_t;

static stopper_t *stopper; /* the module's stop has no other way to it */

static void st_note(const char *what)
{
    assert_true(stopper->n < 16);
    snprintf(stopper->log[stopper->n++], sizeof(stopper->log[0]), "%s", what);
}

static void st_work(void *arg)
{
    (void)arg;
}

static void st_done(void *arg, int status)
{
    (void)arg;
    st_note(status == LOOM_WORK_CANCELLED ? "done:cancelled" : "done:ran");
}

static void st_second(void *arg)
{
    (void)arg;
    st_note("second");
}

static void st_first(void *arg)
{
    st_note("first");
    if (stopper->mode == 3)
        loom_work_submit(stopper->inst, st_work, st_done, arg);
    else
        loom_defer(stopper->inst, st_second, arg);
}

static void st_stop(loom_instance_t *inst)
{
    st_note("stop");
    if (stopper->mode == 1)
        loom_work_submit(inst, st_work, st_done, NULL);
    if (stopper->mode == 4)
        loom_defer(inst, st_second, NULL);
}

static const loom_module_t st_module = {
    .abi = LOOM_MODULE_ABI, .name = "stopper", .stop = st_stop};

static void stop_with(env_t *e, int mode, const char *const *want)
{
    stopper_t st;
    loom_instance_t *inst = calloc(1, sizeof(*inst));
    int i;

    memset(&st, 0, sizeof(st));
    st.mode = mode;
    st.inst = inst;
    stopper = &st;
    inst->srv = e->srv;
    inst->mod = &st_module;
    inst->name = strdup("s");
    snprintf(inst->who, sizeof(inst->who), "stopper/s");
    inst->started = 1;
    inst->next = e->srv->instances;
    e->srv->instances = inst;
    if (mode == 2 || mode == 3)
        loom_defer(inst, st_first, &st);
    /* the same text again: a reload without the forged instance, which
     * has no connection and is freed at once */
    {
        char err[512];

        assert_int_equal(
            loom_server_start_text(e->srv, conf_text, err, sizeof(err)),
            LOOM_OK);
    }
    for (i = 0; i < 10; i++)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
    for (i = 0; want[i]; i++) {
        assert_true(i < st.n);
        assert_string_equal(st.log[i], want[i]);
    }
    assert_int_equal(st.n, i);
    stopper = NULL;
}

static void test_stop_submits_work(void **state)
{
    static const char *const want[] = {"stop", "done:cancelled", NULL};

    stop_with(*state, 1, want);
}

static void test_deferred_call_defers_while_stopping(void **state)
{
    static const char *const want[] = {"first", "second", "stop", NULL};

    stop_with(*state, 2, want);
}

static void test_deferred_call_submits_while_stopping(void **state)
{
    static const char *const want[] = {"first", "done:cancelled", "stop", NULL};

    stop_with(*state, 3, want);
}

static void test_stop_defers(void **state)
{
    static const char *const want[] = {"stop", "second", NULL};

    stop_with(*state, 4, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_equal_deadlines_fire_in_arming_order, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_deadline_order_and_disarm,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_rearm_zero_waits_for_next_turn,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_conn_timer_disarmed_on_close,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_instance_timer_disarmed_at_stop,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_defer_order_and_turns, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_defer_runs_once_when_stopped_first,
                                        env_setup, env_teardown),
        cmocka_unit_test(test_now_ms_monotonic),
        cmocka_unit_test_setup_teardown(test_stop_submits_work, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(
            test_deferred_call_defers_while_stopping, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(
            test_deferred_call_submits_while_stopping, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_stop_defers, env_setup,
                                        env_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

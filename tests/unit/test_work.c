/*
 * test_work.c - the worker pool (src/work.c) on a real server and
 * reactor: dones run exactly once, on the reactor, in order with one
 * thread; cancel before and during work; many submissions from many
 * callbacks; an instance that stops with queued and running work sees
 * every done before its stop callback and none after; freeing the server
 * with work in flight leaves no thread behind; a long job does not stop
 * the reactor.
 *
 * Jobs that must stay running until the test says so wait on a gate.
 * Every wait is bounded (a hang becomes a failure, not a stuck test), and
 * no assertion is about how long anything took.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core.h"
#include "server.h"

#define WAIT_SEC 30 /* bound on any wait: only ever hit by a hang */

/* ---- gates: a job blocks until the test opens its gate ------------------- */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int open;
    int started; /* jobs that reached the gate */
} gate_t;

static void gate_init(gate_t *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(gate_t *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->m);
}

static struct timespec deadline(int sec)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += sec;
    return ts;
}

/* From a pool thread: say we started, wait for the gate; 0 when it opened,
 * -1 when the bound ran out. */
static int gate_pass(gate_t *g)
{
    struct timespec ts = deadline(WAIT_SEC);
    int r = 0;

    pthread_mutex_lock(&g->m);
    g->started++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open && r == 0)
        r = pthread_cond_timedwait(&g->cv, &g->m, &ts);
    pthread_mutex_unlock(&g->m);
    return g->open || r == 0 ? 0 : -1;
}

/* From the test thread: wait until N jobs reached the gate. */
static int gate_wait_started(gate_t *g, int n)
{
    struct timespec ts = deadline(WAIT_SEC);
    int r = 0;

    pthread_mutex_lock(&g->m);
    while (g->started < n && r == 0)
        r = pthread_cond_timedwait(&g->cv, &g->m, &ts);
    r = g->started >= n ? 0 : -1;
    pthread_mutex_unlock(&g->m);
    return r;
}

static void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->m);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->m);
}

/* ---- a test module, so that instances have a stop to observe ------------- */

typedef struct {
    int dones;           /* dones delivered for this instance */
    int stopped;         /* stop ran */
    int dones_at_stop;   /* dones when stop ran */
    int done_after_stop; /* a done ran after stop: the bug */
} track_t;

static void tmod_stop(loom_instance_t *inst)
{
    track_t *t = loom_instance_data(inst);

    t->stopped = 1;
    t->dones_at_stop = t->dones;
}

static const loom_module_t tmod = {
    .abi = LOOM_MODULE_ABI,
    .name = "worktest",
    .stop = tmod_stop,
};

/* An instance of tmod added to SRV as a reload would add it (the config
 * does not name it, so the next apply removes it). */
static loom_instance_t *tinst_new(loom_server_t *srv, const char *name,
                                  track_t *t)
{
    loom_instance_t *inst = calloc(1, sizeof(*inst));

    assert_non_null(inst);
    inst->srv = srv;
    inst->mod = &tmod;
    inst->name = strdup(name);
    snprintf(inst->who, sizeof(inst->who), "worktest/%s", name);
    inst->data = t;
    inst->started = 1;
    inst->mark = 1;
    inst->next = srv->instances;
    srv->instances = inst;
    return inst;
}

/* ---- jobs ---------------------------------------------------------------- */

typedef struct job_s job_t;
struct job_s {
    int id;
    gate_t *gate;           /* wait on it when set */
    int ran;                /* work ran (set by the pool thread) */
    int gate_failed;        /* the gate's bound ran out */
    int dones, status;      /* done calls and the last status */
    int *order, *n_order;   /* done appends id here when set */
    track_t *track;         /* the instance's tracking, when set */
    void (*then)(job_t *j); /* called from done */
    loom_work_t *w;
    void *ctx;
};

static void job_work(void *arg)
{
    job_t *j = arg;

    if (j->gate && gate_pass(j->gate) != 0)
        j->gate_failed = 1;
    j->ran++;
}

static void job_done(void *arg, int status)
{
    job_t *j = arg;

    j->dones++;
    j->status = status;
    if (j->order)
        j->order[(*j->n_order)++] = j->id;
    if (j->track) {
        if (j->track->stopped)
            j->track->done_after_stop = 1;
        j->track->dones++;
    }
    if (j->then)
        j->then(j);
}

static loom_work_t *job_submit(loom_instance_t *inst, job_t *j)
{
    j->w = loom_work_submit(inst, job_work, job_done, j);
    return j->w;
}

/* ---- environment ----------------------------------------------------------
 */

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_instance_t *echo;
    char conf[256];
} env_t;

static const char conf_fmt[] =
    "workers = %d\n"
    "log { level = \"warn\" }\n"
    "echo \"e\" {\n"
    "    listen = {\"tcp:7007:interface=127.0.0.1\"}\n"
    "}\n";

static int env_apply(env_t *e, int workers)
{
    char err[512] = "";

    snprintf(e->conf, sizeof(e->conf), conf_fmt, workers);
    if (loom_server_start_text(e->srv, e->conf, err, sizeof(err)) != LOOM_OK) {
        print_message("# start failed: %s\n", err);
        return -1;
    }
    e->echo = loom_server_instance(e->srv, "echo", "e");
    return e->echo ? 0 : -1;
}

static env_t *env_new(int workers)
{
    env_t *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    assert_int_equal(env_apply(e, workers), 0);
    return e;
}

/* Pool threads of this process: /proc/self/task entries named
 * "loom-work" (a sanitizer runtime has threads of its own). */
static int pool_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[300], comm[64] = "";
        FILE *f;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue; /* a thread that just exited */
        if (fgets(comm, sizeof(comm), f) && strcmp(comm, "loom-work\n") == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Free the server, and THREAD too when given (a helper of the test). */
static void env_free_join(env_t *e, pthread_t *thread)
{
    loom_server_free(e->srv);
    if (thread)
        pthread_join(*thread, NULL);
    event_base_free(e->base);
    free(e);
    /* The pool joined its threads: none is left. */
    assert_int_equal(pool_threads(), 0);
}

static void env_free(env_t *e)
{
    env_free_join(e, NULL);
}

/* Run the reactor until *FLAG >= WANT (bounded). */
static void run_until(env_t *e, const int *flag, int want)
{
    time_t end = time(NULL) + WAIT_SEC;

    while (*flag < want && time(NULL) < end)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_true(*flag >= want);
}

/* A few non-blocking turns of the reactor: whatever is ready runs. */
static void run_turns(env_t *e, int n)
{
    while (n-- > 0)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
}

/* ---- tests ----------------------------------------------------------------
 */

/* One thread: jobs run and complete in submission order; each done runs
 * once, from the reactor, after work. */
static void test_order_exactly_once(void **state)
{
    enum { N = 64 };
    env_t *e = env_new(1);
    job_t jobs[N];
    int order[N], n_order = 0, i;
    loom_work_stats_t st;

    (void)state;
    memset(jobs, 0, sizeof(jobs));
    for (i = 0; i < N; i++) {
        jobs[i].id = i;
        jobs[i].order = order;
        jobs[i].n_order = &n_order;
        job_submit(e->echo, &jobs[i]);
    }
    /* Nothing is delivered inside submit. */
    assert_int_equal(n_order, 0);
    run_until(e, &n_order, N);
    run_turns(e, 5);
    assert_int_equal(n_order, N);
    for (i = 0; i < N; i++) {
        assert_int_equal(order[i], i);
        assert_int_equal(jobs[i].dones, 1);
        assert_int_equal(jobs[i].ran, 1);
        assert_int_equal(jobs[i].status, LOOM_WORK_COMPLETED);
    }
    loom_work_stats(e->srv, &st);
    assert_int_equal(st.submitted, N);
    assert_int_equal(st.completed, N);
    assert_int_equal(st.cancelled, 0);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.threads, 1);
    assert_int_equal(st.workers, 1);
    env_free(e);
}

/* Cancel before start: the job never runs; its done runs once, later,
 * from the reactor, with LOOM_WORK_CANCELLED. */
static void test_cancel_before_start(void **state)
{
    env_t *e = env_new(1);
    gate_t g;
    job_t a, b, c, d;
    loom_work_stats_t st;
    int total = 0;

    (void)state;
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    /* D is cancelled before any thread exists. */
    job_submit(e->echo, &d);
    assert_int_equal(loom_work_cancel(d.w), LOOM_OK);
    assert_int_equal(d.dones, 0);

    a.gate = &g;
    job_submit(e->echo, &a);
    job_submit(e->echo, &b);
    job_submit(e->echo, &c);
    run_turns(e, 3); /* threads start from the reactor */
    assert_int_equal(gate_wait_started(&g, 1), 0);
    loom_work_stats(e->srv, &st);
    assert_int_equal(st.running, 1);
    assert_int_equal(st.queued, 2);

    assert_int_equal(loom_work_cancel(b.w), LOOM_OK);
    assert_int_equal(b.dones, 0); /* never inside the cancel call */
    assert_int_equal(loom_work_cancel(b.w), LOOM_OK); /* idempotent */
    gate_open(&g);
    while (total < 4) {
        event_base_loop(e->base, EVLOOP_ONCE);
        total = a.dones + b.dones + c.dones + d.dones;
    }
    run_turns(e, 5);
    assert_int_equal(b.dones, 1);
    assert_int_equal(b.ran, 0);
    assert_int_equal(b.status, LOOM_WORK_CANCELLED);
    assert_int_equal(d.dones, 1);
    assert_int_equal(d.ran, 0);
    assert_int_equal(d.status, LOOM_WORK_CANCELLED);
    assert_int_equal(a.dones, 1);
    assert_int_equal(a.status, LOOM_WORK_COMPLETED);
    assert_int_equal(c.dones, 1);
    assert_int_equal(c.ran, 1);
    assert_int_equal(c.status, LOOM_WORK_COMPLETED);
    loom_work_stats(e->srv, &st);
    assert_int_equal(st.submitted, 4);
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.cancelled, 2);
    env_free(e);
    gate_destroy(&g);
}

/* Cancel of running work: declined; the work completes, done once. */
static void test_cancel_running(void **state)
{
    env_t *e = env_new(2);
    gate_t g;
    job_t a;

    (void)state;
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    a.gate = &g;
    job_submit(e->echo, &a);
    run_turns(e, 3);
    assert_int_equal(gate_wait_started(&g, 1), 0);
    assert_int_equal(loom_work_cancel(a.w), LOOM_DECLINED);
    gate_open(&g);
    run_until(e, &a.dones, 1);
    run_turns(e, 5);
    assert_int_equal(a.dones, 1);
    assert_int_equal(a.ran, 1);
    assert_int_equal(a.gate_failed, 0);
    assert_int_equal(a.status, LOOM_WORK_COMPLETED);
    env_free(e);
    gate_destroy(&g);
}

/* ---- many submissions from many callbacks ----------------------------------
 */

enum { MANY_EVENTS = 20, MANY_PER_EVENT = 25 };

typedef struct {
    env_t *e;
    job_t *jobs; /* 2 * MANY_EVENTS * MANY_PER_EVENT */
    int next, dones;
} many_t;

static void many_count(job_t *j)
{
    many_t *m = j->ctx;

    m->dones++;
}

/* A first-generation done submits one more job. */
static void many_chain(job_t *j)
{
    many_t *m = j->ctx;
    job_t *k = &m->jobs[m->next++];

    m->dones++;
    k->ctx = m;
    k->then = many_count;
    job_submit(m->e->echo, k);
}

static void many_on_event(evutil_socket_t fd, short what, void *arg)
{
    many_t *m = arg;
    int i;

    (void)fd;
    (void)what;
    for (i = 0; i < MANY_PER_EVENT; i++) {
        job_t *j = &m->jobs[m->next++];

        j->ctx = m;
        j->then = many_chain;
        job_submit(m->e->echo, j);
    }
}

static void test_many_submissions(void **state)
{
    const int total = 2 * MANY_EVENTS * MANY_PER_EVENT;
    many_t m;
    struct event *evs[MANY_EVENTS];
    loom_work_stats_t st;
    int i;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.e = env_new(2);
    m.jobs = calloc((size_t)total, sizeof(job_t));
    assert_non_null(m.jobs);
    for (i = 0; i < MANY_EVENTS; i++) {
        evs[i] = event_new(m.e->base, -1, 0, many_on_event, &m);
        event_active(evs[i], EV_TIMEOUT, 0);
    }
    run_until(m.e, &m.dones, total);
    run_turns(m.e, 5);
    assert_int_equal(m.next, total);
    assert_int_equal(m.dones, total);
    for (i = 0; i < total; i++) {
        assert_int_equal(m.jobs[i].dones, 1);
        assert_int_equal(m.jobs[i].ran, 1);
        assert_int_equal(m.jobs[i].status, LOOM_WORK_COMPLETED);
    }
    loom_work_stats(m.e->srv, &st);
    assert_int_equal(st.submitted, total);
    assert_int_equal(st.completed, total);
    assert_int_equal(st.queued + st.running, 0);
    for (i = 0; i < MANY_EVENTS; i++)
        event_free(evs[i]);
    env_free(m.e);
    free(m.jobs);
}

/* ---- an instance stops with queued and running work ------------------------
 */

static void test_instance_stop(void **state)
{
    env_t *e = env_new(1);
    track_t t;
    gate_t g;
    job_t a, b, c, d, x;
    loom_instance_t *inst;

    (void)state;
    memset(&t, 0, sizeof(t));
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    memset(&x, 0, sizeof(x));
    inst = tinst_new(e->srv, "gone", &t);
    a.gate = &g;
    a.track = b.track = c.track = x.track = &t;
    job_submit(inst, &a);
    job_submit(inst, &b);
    job_submit(inst, &c);
    job_submit(e->echo, &d); /* another instance's job, behind them */
    run_turns(e, 3);
    assert_int_equal(gate_wait_started(&g, 1), 0);

    /* A reload without the instance: it has no connection, so it stops
     * now; its queued jobs are cancelled, A is still running. */
    assert_int_equal(env_apply(e, 1), 0);
    assert_int_equal(t.stopped, 0);
    gate_open(&g);
    run_until(e, &t.stopped, 1);
    assert_int_equal(t.dones_at_stop, 3);
    assert_int_equal(a.status, LOOM_WORK_COMPLETED);
    assert_int_equal(b.status, LOOM_WORK_CANCELLED);
    assert_int_equal(b.ran, 0);
    assert_int_equal(c.status, LOOM_WORK_CANCELLED);
    assert_int_equal(c.ran, 0);
    /* The kept instance's job was not touched. */
    run_until(e, &d.dones, 1);
    assert_int_equal(d.status, LOOM_WORK_COMPLETED);
    run_turns(e, 5);
    assert_int_equal(t.done_after_stop, 0);
    assert_int_equal(a.dones + b.dones + c.dones, 3);
    env_free(e);
    gate_destroy(&g);
}

/* A done that submits again while its instance is being stopped gets a
 * cancelled job, still delivered before stop. */
static loom_instance_t *again_inst;
static job_t again_job;

static void submit_again(job_t *j)
{
    (void)j;
    if (again_job.w == NULL)
        job_submit(again_inst, &again_job);
}

static void test_instance_stop_resubmit(void **state)
{
    env_t *e = env_new(1);
    track_t t;
    gate_t g;
    job_t a, b;

    (void)state;
    memset(&t, 0, sizeof(t));
    memset(&again_job, 0, sizeof(again_job));
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    again_inst = tinst_new(e->srv, "again", &t);
    a.gate = &g;
    a.track = b.track = again_job.track = &t;
    b.then = submit_again;
    job_submit(again_inst, &a);
    job_submit(again_inst, &b);
    run_turns(e, 3);
    assert_int_equal(gate_wait_started(&g, 1), 0);
    assert_int_equal(env_apply(e, 1), 0); /* removes "again" */
    gate_open(&g);
    run_until(e, &t.stopped, 1);
    assert_int_equal(t.dones_at_stop, 3);
    assert_int_equal(again_job.dones, 1);
    assert_int_equal(again_job.ran, 0);
    assert_int_equal(again_job.status, LOOM_WORK_CANCELLED);
    run_turns(e, 5);
    assert_int_equal(t.done_after_stop, 0);
    env_free(e);
    gate_destroy(&g);
}

/* A reload that keeps the instance keeps its work; a larger `workers`
 * takes effect at once: the queued job runs beside the blocked one. */
static void test_reload_keeps_work_and_resizes(void **state)
{
    env_t *e = env_new(1);
    gate_t g;
    job_t a, b;
    loom_work_stats_t st;

    (void)state;
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.gate = &g;
    job_submit(e->echo, &a);
    job_submit(e->echo, &b);
    run_turns(e, 3);
    assert_int_equal(gate_wait_started(&g, 1), 0);
    loom_work_stats(e->srv, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(env_apply(e, 2), 0);
    run_until(e, &b.dones, 1); /* while A still waits on its gate */
    assert_int_equal(a.dones, 0);
    assert_int_equal(b.status, LOOM_WORK_COMPLETED);
    loom_work_stats(e->srv, &st);
    assert_int_equal(st.workers, 2);
    assert_int_equal(st.threads, 2);
    assert_int_equal(pool_threads(), 2);
    gate_open(&g);
    run_until(e, &a.dones, 1);
    assert_int_equal(a.status, LOOM_WORK_COMPLETED);
    assert_int_equal(a.gate_failed, 0);
    /* Back to one thread: the other leaves once idle and is joined. */
    assert_int_equal(env_apply(e, 1), 0);
    {
        time_t end = time(NULL) + WAIT_SEC;

        do {
            event_base_loop(e->base, EVLOOP_ONCE);
            loom_work_stats(e->srv, &st);
        } while (st.threads != 1 && time(NULL) < end);
    }
    assert_int_equal(st.threads, 1);
    assert_int_equal(st.workers, 1);
    assert_int_equal(pool_threads(), 1); /* the other was joined */
    env_free(e);
    gate_destroy(&g);
}

/* ---- freeing the server with work in flight --------------------------------
 */

typedef struct {
    gate_t *g;
} opener_t;

/* Opens the gate a little after the job started, so that (most likely)
 * loom_server_free is already waiting for it; the checks hold either way. */
static void *open_later(void *arg)
{
    opener_t *o = arg;
    struct timespec ts = {0, 200 * 1000 * 1000};

    gate_wait_started(o->g, 1);
    nanosleep(&ts, NULL);
    gate_open(o->g);
    return NULL;
}

static void test_server_free_in_flight(void **state)
{
    env_t *e = env_new(1);
    track_t t;
    gate_t g;
    job_t a, b, c, d;
    opener_t o;
    pthread_t th;
    loom_instance_t *inst;

    (void)state;
    memset(&t, 0, sizeof(t));
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    inst = tinst_new(e->srv, "x", &t);
    a.gate = &g;
    a.track = b.track = c.track = &t;
    job_submit(inst, &a);
    job_submit(inst, &b);
    job_submit(inst, &c);
    job_submit(e->echo, &d);
    run_turns(e, 3);
    assert_int_equal(gate_wait_started(&g, 1), 0);
    o.g = &g;
    assert_int_equal(pthread_create(&th, NULL, open_later, &o), 0);
    env_free_join(e, &th); /* checks that no pool thread is left */
    assert_int_equal(t.stopped, 1);
    assert_int_equal(t.dones_at_stop, 3);
    assert_int_equal(t.done_after_stop, 0);
    assert_int_equal(a.dones, 1);
    assert_int_equal(a.status, LOOM_WORK_COMPLETED);
    assert_int_equal(a.gate_failed, 0);
    assert_int_equal(b.status, LOOM_WORK_CANCELLED);
    assert_int_equal(c.status, LOOM_WORK_CANCELLED);
    assert_int_equal(d.dones, 1);
    assert_int_equal(d.status, LOOM_WORK_CANCELLED);
    gate_destroy(&g);
}

/* Freed before the reactor ever ran: no thread was started; every job is
 * cancelled and delivered. */
static void test_server_free_never_ran(void **state)
{
    env_t *e = env_new(2);
    job_t a, b;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    job_submit(e->echo, &a);
    job_submit(e->echo, &b);
    env_free(e);
    assert_int_equal(a.dones, 1);
    assert_int_equal(a.status, LOOM_WORK_CANCELLED);
    assert_int_equal(b.dones, 1);
    assert_int_equal(b.status, LOOM_WORK_CANCELLED);
}

/* ---- a long job while the reactor keeps serving -----------------------------
 */

typedef struct {
    gate_t *g;
    int ticks;
    struct event *ev;
} ticker_t;

/* The job waits until the reactor's timer has fired five times: if the
 * job ran on the reactor, the timer could not fire and its gate's bound
 * would run out. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    ticker_t *tk = arg;

    (void)fd;
    (void)what;
    if (++tk->ticks == 5)
        gate_open(tk->g);
}

static void test_long_work_reactor_serves(void **state)
{
    env_t *e = env_new(2);
    gate_t g;
    job_t a;
    ticker_t tk;
    struct timeval ten_ms = {0, 10 * 1000};

    (void)state;
    gate_init(&g);
    memset(&a, 0, sizeof(a));
    memset(&tk, 0, sizeof(tk));
    tk.g = &g;
    tk.ev = event_new(e->base, -1, EV_PERSIST, on_tick, &tk);
    event_add(tk.ev, &ten_ms);
    a.gate = &g;
    job_submit(e->echo, &a);
    run_until(e, &a.dones, 1);
    assert_int_equal(a.gate_failed, 0);
    assert_true(tk.ticks >= 5);
    assert_int_equal(a.status, LOOM_WORK_COMPLETED);
    event_free(tk.ev);
    env_free(e);
    gate_destroy(&g);
}

/* done may be NULL. */
static void test_no_done(void **state)
{
    env_t *e = env_new(1);
    job_t a;
    loom_work_stats_t st;

    (void)state;
    memset(&a, 0, sizeof(a));
    loom_work_submit(e->echo, job_work, NULL, &a);
    {
        time_t end = time(NULL) + WAIT_SEC;

        do {
            event_base_loop(e->base, EVLOOP_ONCE);
            loom_work_stats(e->srv, &st);
        } while (st.completed < 1 && time(NULL) < end);
    }
    assert_int_equal(st.completed, 1);
    assert_int_equal(a.ran, 1);
    env_free(e);
}

/* ---- configuration ----------------------------------------------------------
 */

static void expect_conf_error(const char *text, const char *want)
{
    char err[512] = "";
    loom_config_t *cfg = loom_config_load("work.conf", text, err, sizeof(err));

    if (cfg)
        loom_config_free(cfg);
    assert_null(cfg);
    assert_string_equal(err, want);
}

static void test_config(void **state)
{
    char err[512] = "";
    loom_config_t *cfg;

    (void)state;
    cfg = loom_config_load("work.conf", "log { level = \"warn\" }\n", err,
                           sizeof(err));
    assert_non_null(cfg);
    assert_int_equal(cfg->workers, LOOM_WORK_DEFAULT_THREADS);
    loom_config_free(cfg);
    cfg = loom_config_load("work.conf", "workers = 64\n", err, sizeof(err));
    assert_non_null(cfg);
    assert_int_equal(cfg->workers, 64);
    loom_config_free(cfg);
    expect_conf_error("\nworkers = 0\n",
                      "work.conf:2: workers must be 1 to 64, not 0");
    expect_conf_error("# pool\n\nworkers = 65\n",
                      "work.conf:3: workers must be 1 to 64, not 65");
    expect_conf_error("workers = -2\n",
                      "work.conf:1: workers must be 1 to 64, not -2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_exactly_once),
        cmocka_unit_test(test_cancel_before_start),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_many_submissions),
        cmocka_unit_test(test_instance_stop),
        cmocka_unit_test(test_instance_stop_resubmit),
        cmocka_unit_test(test_reload_keeps_work_and_resizes),
        cmocka_unit_test(test_server_free_in_flight),
        cmocka_unit_test(test_server_free_never_ran),
        cmocka_unit_test(test_long_work_reactor_serves),
        cmocka_unit_test(test_no_done),
        cmocka_unit_test(test_config),
    };

    loom_log_setup(LOOM_LOG_WARN, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

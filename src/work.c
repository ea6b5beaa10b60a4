/*
 * work.c - the worker pool (loom_work.h): a FIFO of jobs, a few pthreads
 * that run them, and a list of finished jobs whose done the reactor runs
 * when the pool's eventfd becomes readable.
 *
 * Locking: one mutex guards the queue, the finished list, every job's
 * state and the thread slots.  Threads sleep on `wake` until a job is
 * queued or they must exit; the reactor sleeps on `finished` only while
 * stopping an instance whose jobs are still running.  The done counters
 * and each instance's count of jobs owed a done (inst->nwork) belong to
 * the reactor thread and are not locked.
 *
 * Threads are started from the reactor, by a one-shot event the first
 * submission activates, not when the server is made: loomd forks into the
 * background after applying its configuration (module start callbacks
 * included), and threads do not survive a fork.
 */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct loom_work_s {
    loom_work_pool_t *pool;
    loom_instance_t *inst;
    loom_work_fn work;
    loom_work_done_fn done;
    void *arg;
    int state;                /* JOB_*, under the lock */
    int status;               /* LOOM_WORK_*, once finished */
    uint64_t queued_ns;       /* when it was queued (monotonic) */
    loom_work_t *prev, *next; /* on the queue or the finished list */
};

typedef struct {
    loom_work_t *head, *tail;
    unsigned n;
} job_list_t;

enum { SLOT_EMPTY, SLOT_LIVE, SLOT_EXITED };

typedef struct {
    loom_work_pool_t *pool;
    pthread_t tid;
    unsigned idx;
    int state; /* SLOT_*, under the lock */
} slot_t;

struct loom_work_pool_s {
    loom_server_t *srv;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* a job was queued, or threads must exit */
    pthread_cond_t finished; /* a job finished */
    job_list_t queue;        /* JOB_QUEUED, oldest first */
    job_list_t ready;        /* JOB_FINISHED, done not yet run */
    unsigned target;         /* threads wanted (`workers`) */
    unsigned live;           /* threads started and not yet exited */
    unsigned running;        /* jobs on a thread now */
    unsigned exited;         /* slots in SLOT_EXITED, to join */
    int stop;                /* the pool is being freed */
    int closing;             /* the server is going: no job starts */
    int configured;          /* resize ran once (the start) */
    int efd;                 /* eventfd: the ready list grew */
    struct event *ev_ready, *ev_spawn;
    uint64_t submitted, completed, cancelled; /* reactor only */
    uint64_t started, wait_ns; /* jobs taken by a thread, and how long
                                * they had waited in all (the lock) */
    slot_t slots[LOOM_WORK_MAX_THREADS];
};

static uint64_t work_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- lists (the lock held) ---------------------------------------------- */

static void list_append(job_list_t *l, loom_work_t *w)
{
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->n++;
}

static void list_unlink(job_list_t *l, loom_work_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->prev = w->next = NULL;
    l->n--;
}

/* Tell the reactor the ready list grew (or a thread exited). */
static void pool_poke(loom_work_pool_t *p)
{
    uint64_t one = 1;
    ssize_t r;

    /* Only EAGAIN can fail here (the counter is near 2^64), and then the
     * reactor has a wake-up pending anyway. */
    r = write(p->efd, &one, sizeof(one));
    (void)r;
}

/* Move W (off every list) to the ready list with STATUS. */
static void job_finish(loom_work_pool_t *p, loom_work_t *w, int status)
{
    w->state = JOB_FINISHED;
    w->status = status;
    list_append(&p->ready, w);
    pool_poke(p);
}

/* Cancel every queued job of INST (of every instance when NULL). */
static void pool_cancel_queued(loom_work_pool_t *p, loom_instance_t *inst)
{
    loom_work_t *w, *next;

    for (w = p->queue.head; w; w = next) {
        next = w->next;
        if (w->inst == inst || inst == NULL) {
            list_unlink(&p->queue, w);
            job_finish(p, w, LOOM_WORK_CANCELLED);
        }
    }
}

/* ---- pool threads ------------------------------------------------------- */

static void *work_thread(void *arg)
{
    slot_t *s = arg;
    loom_work_pool_t *p = s->pool;
    loom_work_t *w;

    pthread_setname_np(pthread_self(), "loom-work"); /* for top -H, tests */
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && s->idx < p->target && p->queue.head == NULL)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop || s->idx >= p->target)
            break;
        w = p->queue.head;
        list_unlink(&p->queue, w);
        w->state = JOB_RUNNING;
        p->running++;
        p->started++;
        p->wait_ns += work_now_ns() - w->queued_ns;
        pthread_mutex_unlock(&p->lock);

        w->work(w->arg);

        pthread_mutex_lock(&p->lock);
        p->running--;
        job_finish(p, w, LOOM_WORK_COMPLETED);
        pthread_cond_broadcast(&p->finished);
    }
    s->state = SLOT_EXITED;
    p->live--;
    p->exited++;
    if (!p->stop)
        pool_poke(p); /* so the reactor joins this thread */
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Join threads that have exited (the lock held; they no longer need it). */
static void pool_join_exited(loom_work_pool_t *p)
{
    unsigned i;

    for (i = 0; p->exited && i < LOOM_WORK_MAX_THREADS; i++) {
        if (p->slots[i].state == SLOT_EXITED) {
            pthread_join(p->slots[i].tid, NULL);
            p->slots[i].state = SLOT_EMPTY;
            p->exited--;
        }
    }
}

/* Start threads up to the target.  Pool threads block every signal: the
 * reactor handles them. */
static void pool_spawn(loom_work_pool_t *p)
{
    sigset_t all, old;
    unsigned i;
    int err = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&p->lock);
    pool_join_exited(p);
    for (i = 0; i < p->target && !p->stop; i++) {
        slot_t *s = &p->slots[i];

        if (s->state != SLOT_EMPTY)
            continue;
        s->pool = p;
        s->idx = i;
        err = pthread_create(&s->tid, NULL, work_thread, s);
        if (err != 0)
            break;
        s->state = SLOT_LIVE;
        p->live++;
    }
    pthread_mutex_unlock(&p->lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0)
        loom_log(LOOM_LOG_ERROR, NULL,
                 "worker pool: cannot start a thread: %s (retried on the "
                 "next submission)",
                 strerror(err));
}

/* ---- the reactor side --------------------------------------------------- */

/* Run W's done and free W. */
static void job_deliver(loom_work_t *w)
{
    loom_work_pool_t *p = w->pool;

    if (w->status == LOOM_WORK_COMPLETED)
        p->completed++;
    else
        p->cancelled++;
    /* Before done: a done that makes the instance stop (it should not)
     * must not wait for its own job. */
    w->inst->nwork--;
    if (w->done)
        w->done(w->arg, w->status);
    free(w);
}

static void pool_on_ready(evutil_socket_t fd, short what, void *arg)
{
    loom_work_pool_t *p = arg;
    loom_work_t *w;
    uint64_t v;
    unsigned n;
    ssize_t r;

    (void)fd;
    (void)what;
    /* Read first: a job finishing after this read pokes again. */
    r = read(p->efd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&p->lock);
    pool_join_exited(p);
    n = p->ready.n;
    pthread_mutex_unlock(&p->lock);
    /* One at a time, so that every job owed a done is always on a list an
     * instance drain can see, whatever a done does. */
    while (n-- > 0) {
        pthread_mutex_lock(&p->lock);
        w = p->ready.head;
        if (w)
            list_unlink(&p->ready, w);
        pthread_mutex_unlock(&p->lock);
        if (w == NULL)
            break;
        job_deliver(w);
    }
}

static void pool_on_spawn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pool_spawn(arg);
}

loom_work_pool_t *loom_work_pool_new(loom_server_t *srv)
{
    loom_work_pool_t *p = loom_calloc(1, sizeof(*p));

    p->srv = srv;
    p->target = LOOM_WORK_DEFAULT_THREADS;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        /* As for memory: a daemon without one spare descriptor at start
         * is not one loom tries to run. */
        loom_log(LOOM_LOG_ERROR, NULL, "worker pool: eventfd: %s",
                 strerror(errno));
        abort();
    }
    p->ev_ready =
        event_new(srv->base, p->efd, EV_READ | EV_PERSIST, pool_on_ready, p);
    event_add(p->ev_ready, NULL);
    p->ev_spawn = event_new(srv->base, -1, 0, pool_on_spawn, p);
    return p;
}

void loom_work_pool_resize(loom_work_pool_t *p, unsigned threads)
{
    unsigned old;
    int started;

    if (threads < 1)
        threads = 1;
    if (threads > LOOM_WORK_MAX_THREADS)
        threads = LOOM_WORK_MAX_THREADS;
    pthread_mutex_lock(&p->lock);
    old = p->target;
    p->target = threads;
    started = p->live > 0;
    pthread_cond_broadcast(&p->wake); /* threads past the target exit */
    pthread_mutex_unlock(&p->lock);
    if (started && threads > old)
        event_active(p->ev_spawn, EV_TIMEOUT, 0);
    if (p->configured && threads != old)
        loom_log(LOOM_LOG_INFO, NULL, "worker pool: %u -> %u threads", old,
                 threads);
    p->configured = 1;
}

unsigned loom_work_quiesce(loom_instance_t *inst)
{
    loom_work_pool_t *p = inst->srv->work;

    inst->work_stopping = 1;
    if (inst->nwork == 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    pool_cancel_queued(p, inst);
    pthread_mutex_unlock(&p->lock);
    return inst->nwork;
}

void loom_work_drain(loom_instance_t *inst)
{
    loom_work_pool_t *p = inst->srv->work;
    job_list_t mine;
    loom_work_t *w, *next;

    inst->work_stopping = 1;
    while (inst->nwork > 0) {
        memset(&mine, 0, sizeof(mine));
        pthread_mutex_lock(&p->lock);
        pool_cancel_queued(p, inst);
        for (w = p->ready.head; w; w = next) {
            next = w->next;
            if (w->inst == inst) {
                list_unlink(&p->ready, w);
                list_append(&mine, w);
            }
        }
        /* Nothing of INST queued or ready, yet dones are owed: its jobs
         * are running.  Wait for one to finish. */
        if (mine.head == NULL)
            pthread_cond_wait(&p->finished, &p->lock);
        pthread_mutex_unlock(&p->lock);
        while ((w = mine.head) != NULL) {
            list_unlink(&mine, w);
            job_deliver(w);
        }
    }
}

void loom_work_pool_close(loom_work_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->closing = 1;
    pool_cancel_queued(p, NULL);
    pthread_mutex_unlock(&p->lock);
}

void loom_work_pool_free(loom_work_pool_t *p)
{
    loom_work_t *w;
    unsigned i;
    int join[LOOM_WORK_MAX_THREADS];

    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    for (i = 0; i < LOOM_WORK_MAX_THREADS; i++)
        join[i] = p->slots[i].state != SLOT_EMPTY;
    pthread_mutex_unlock(&p->lock);
    /* No thread starts once stop is set (only the reactor starts them). */
    for (i = 0; i < LOOM_WORK_MAX_THREADS; i++) {
        if (join[i])
            pthread_join(p->slots[i].tid, NULL);
    }
    /* Every instance drained its jobs before it was freed; anything left
     * has no instance to report to. */
    while ((w = p->queue.head) != NULL || (w = p->ready.head) != NULL) {
        list_unlink(w->state == JOB_QUEUED ? &p->queue : &p->ready, w);
        free(w);
    }
    event_free(p->ev_ready);
    event_free(p->ev_spawn);
    close(p->efd);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- the module API ----------------------------------------------------- */

loom_work_t *loom_work_submit(loom_instance_t *inst, loom_work_fn work,
                              loom_work_done_fn done, void *arg)
{
    loom_work_pool_t *p = inst->srv->work;
    loom_work_t *w = loom_calloc(1, sizeof(*w));
    int spawn;

    w->pool = p;
    w->inst = inst;
    w->work = work;
    w->done = done;
    w->arg = arg;
    inst->nwork++;
    p->submitted++;
    pthread_mutex_lock(&p->lock);
    if (inst->work_stopping || p->closing) {
        /* A done running while its instance stops asked for more. */
        job_finish(p, w, LOOM_WORK_CANCELLED);
    } else {
        w->state = JOB_QUEUED;
        w->queued_ns = work_now_ns();
        list_append(&p->queue, w);
        /* All, not one: a thread past a lowered target leaves without
         * taking the job. */
        pthread_cond_broadcast(&p->wake);
    }
    spawn = p->live < p->target && !p->stop;
    pthread_mutex_unlock(&p->lock);
    if (spawn)
        event_active(p->ev_spawn, EV_TIMEOUT, 0);
    return w;
}

int loom_work_cancel(loom_work_t *w)
{
    loom_work_pool_t *p = w->pool;
    int r = LOOM_DECLINED;

    pthread_mutex_lock(&p->lock);
    if (w->state == JOB_QUEUED) {
        list_unlink(&p->queue, w);
        job_finish(p, w, LOOM_WORK_CANCELLED);
        r = LOOM_OK;
    } else if (w->state == JOB_FINISHED && w->status == LOOM_WORK_CANCELLED) {
        r = LOOM_OK;
    }
    pthread_mutex_unlock(&p->lock);
    return r;
}

void loom_work_stats(loom_server_t *srv, loom_work_stats_t *out)
{
    loom_work_pool_t *p = srv->work;

    memset(out, 0, sizeof(*out));
    out->submitted = p->submitted;
    out->completed = p->completed;
    out->cancelled = p->cancelled;
    pthread_mutex_lock(&p->lock);
    out->queued = p->queue.n;
    out->running = p->running;
    out->threads = p->live;
    out->workers = p->target;
    out->started = p->started;
    out->wait_seconds = (double)p->wait_ns / 1e9;
    pthread_mutex_unlock(&p->lock);
}
